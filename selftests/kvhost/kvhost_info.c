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
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

struct bit_name {
	unsigned int bit;
	const char *name;
};

/* Transport and vhost bits (24 and up), the same for every device. */
static const struct bit_name common_bits[] = {
	{ VIRTIO_F_NOTIFY_ON_EMPTY, "NOTIFY_ON_EMPTY" },
	{ VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT" },
	{ VIRTIO_RING_F_INDIRECT_DESC, "RING_INDIRECT_DESC" },
	{ VIRTIO_RING_F_EVENT_IDX, "RING_EVENT_IDX" },
	{ VHOST_F_LOG_ALL, "LOG_ALL" },
	{ VIRTIO_F_VERSION_1, "VERSION_1" },
	{ VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
	{ VIRTIO_F_RING_PACKED, "RING_PACKED" },
	{ VIRTIO_F_IN_ORDER, "IN_ORDER" },
	{ 0, NULL }
};

/* Device bits (below 24) mean different things per device type. */
static const struct bit_name net_bits[] = {
	{ VIRTIO_NET_F_MRG_RXBUF, "NET_MRG_RXBUF" },
	{ 0, NULL }
};

static const struct bit_name blk_bits[] = {
	{ VIRTIO_BLK_F_SIZE_MAX, "BLK_SIZE_MAX" },
	{ VIRTIO_BLK_F_SEG_MAX, "BLK_SEG_MAX" },
	{ VIRTIO_BLK_F_RO, "BLK_RO" },
	{ VIRTIO_BLK_F_BLK_SIZE, "BLK_BLK_SIZE" },
	{ VIRTIO_BLK_F_FLUSH, "BLK_FLUSH" },
	{ VIRTIO_BLK_F_TOPOLOGY, "BLK_TOPOLOGY" },
	{ VIRTIO_BLK_F_MQ, "BLK_MQ" },
	{ VIRTIO_BLK_F_DISCARD, "BLK_DISCARD" },
	{ VIRTIO_BLK_F_WRITE_ZEROES, "BLK_WRITE_ZEROES" },
	{ 0, NULL }
};

/* Print the names of @f's bits found in @names; return the rest. */
static __u64 show_bits(__u64 f, const struct bit_name *names)
{
	for (; names->name; names++) {
		if (f & (1ULL << names->bit)) {
			printf(" %s", names->name);
			f &= ~(1ULL << names->bit);
		}
	}
	return f;
}

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
	f = show_bits(f, strstr(path, "blk") ? blk_bits : net_bits);
	f = show_bits(f, common_bits);
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
