// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost_info: print the features each vhost-style node advertises.
 *
 *   kvhost_info [NODE...]   (default: /dev/kvhost-net /dev/kvhost-blk)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvhost.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	unsigned int bit;
	const char *name;
} bits[] = {
	{ VIRTIO_F_NOTIFY_ON_EMPTY, "NOTIFY_ON_EMPTY" },
	{ VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT" },
	{ VIRTIO_RING_F_INDIRECT_DESC, "RING_INDIRECT_DESC" },
	{ VIRTIO_RING_F_EVENT_IDX, "RING_EVENT_IDX" },
	{ VIRTIO_NET_F_MRG_RXBUF, "NET_MRG_RXBUF" },
	{ VHOST_F_LOG_ALL, "LOG_ALL" },
	{ VHOST_NET_F_VIRTIO_NET_HDR, "NET_VIRTIO_NET_HDR" },
	{ VIRTIO_F_VERSION_1, "VERSION_1" },
	{ VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
	{ VIRTIO_F_RING_PACKED, "RING_PACKED" },
	{ VIRTIO_F_IN_ORDER, "IN_ORDER" },
};

static int show(const char *path)
{
	__u64 f;
	unsigned int i;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("%-18s unavailable: %s\n", path, strerror(errno));
		return 1;
	}
	if (ioctl(fd, VHOST_GET_FEATURES, &f)) {
		printf("%-18s VHOST_GET_FEATURES: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("%-18s features 0x%016llx:", path, (unsigned long long)f);
	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		if (f & (1ULL << bits[i].bit)) {
			printf(" %s", bits[i].name);
			f &= ~(1ULL << bits[i].bit);
		}
	}
	for (i = 0; i < 64; i++)
		if (f & (1ULL << i))
			printf(" bit%u", i);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	int i, r = 0;

	if (argc < 2) {
		r |= show("/dev/" KVHOST_NET_NODE);
		r |= show("/dev/" KVHOST_BLK_NODE);
		return r;
	}
	for (i = 1; i < argc; i++)
		r |= show(argv[i]);
	return r;
}
