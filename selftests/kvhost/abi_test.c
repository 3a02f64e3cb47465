// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost ABI tests: device nodes, open/close, feature reporting and the
 * answer to commands no device implements.  Every vhost-net variant runs the
 * same checks against the kernel's own /dev/vhost-net for parity.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/kvhost.h>
#include <linux/vhost.h>

#include "kselftest_harness.h"
#include "kvhost_features.h"

FIXTURE(dev) {
	int fd;
};

FIXTURE_VARIANT(dev) {
	const char *path;
	__u64 features;	/* what the node must advertise */
	int upstream;		/* the kernel's own vhost, for parity */
};

FIXTURE_VARIANT_ADD(dev, kvhost_net) {
	.path = "/dev/" KVHOST_NET_NODE,
	.features = KVH_TEST_NET_FEATURES,
};

FIXTURE_VARIANT_ADD(dev, kvhost_blk) {
	.path = "/dev/" KVHOST_BLK_NODE,
	.features = KVH_TEST_BLK_FEATURES,
};

FIXTURE_VARIANT_ADD(dev, vhost_net) {
	.path = "/dev/vhost-net",
	.upstream = 1,
};

FIXTURE_SETUP(dev)
{
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	/*
	 * The 6.1 harness runs the test body after a SKIP() in the setup:
	 * end the test process instead (exit status 255 reports SKIP).
	 */
	if (self->fd < 0 && errno == ENOENT && variant->upstream)
		SKIP(_exit(255), "%s absent (load vhost_net)", variant->path);
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s", variant->path, strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
}

/* The node is a misc character device. */
TEST_F(dev, node_is_misc_chardev)
{
	struct stat st;

	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, major(st.st_rdev));
}

/* Many opens at once are independent devices, and all close cleanly. */
TEST_F(dev, open_close_many)
{
	int fds[64], i;

	for (i = 0; i < 64; i++) {
		fds[i] = open(variant->path, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]) TH_LOG("open #%d: %s", i,
					    strerror(errno));
	}
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, close(fds[i]));
}

TEST_F(dev, get_features_advertised_set)
{
	__u64 f = ~0ULL, g = 0;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
	/* Stable across calls and opens. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &g));
	EXPECT_EQ(f, g);
	if (variant->upstream) {
		/* vhost-net always offers these; kvhost will match them. */
		EXPECT_TRUE(f & (1ULL << VHOST_NET_F_VIRTIO_NET_HDR));
		return;
	}
	EXPECT_EQ(variant->features, f)
		TH_LOG("%s advertises 0x%llx, expected 0x%llx", variant->path,
		       (unsigned long long)f,
		       (unsigned long long)variant->features);
}

TEST_F(dev, get_features_bad_pointer_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_GET_FEATURES, (void *)16));
	EXPECT_EQ(EFAULT, errno);
}

/*
 * For the owner, commands no layer implements are ENOTTY and leave the
 * argument alone.  As upstream vhost, a command no layer knows first has a
 * vring index read from its argument (ENOBUFS when out of range), so the
 * argument holds index 0.
 */
TEST_F(dev, unknown_ioctl_enotty)
{
	static const unsigned long cmds[] = {
		0,
		_IO(VHOST_VIRTIO, 0x7f),
		_IOR(VHOST_VIRTIO, 0x00, __u32),	/* GET_FEATURES, wrong size */
		VHOST_VDPA_GET_DEVICE_ID,
		VHOST_VSOCK_SET_GUEST_CID,
		VHOST_SCSI_SET_ENDPOINT,
		_IO('T', 0xca),				/* TUNSETIFF */
		_IO(0xAE, 0x01),			/* KVM_CREATE_VM */
	};
	struct vhost_vring_state arg = { .index = 0, .num = 0x5a5a5a5a };
	unsigned int i;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &arg))
			TH_LOG("cmd 0x%lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd 0x%lx: %s", cmds[i],
						strerror(errno));
	}
	EXPECT_EQ(0, arg.index);
	EXPECT_EQ(0x5a5a5a5a, arg.num);
}

/* Before an owner is set, everything but the feature queries is EPERM. */
TEST_F(dev, unknown_ioctl_before_owner_eperm)
{
	struct vhost_vring_state arg = { .index = 0, .num = 0x5a5a5a5a };

	EXPECT_EQ(-1, ioctl(self->fd, _IO(VHOST_VIRTIO, 0x7f), &arg));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_NUM, &arg));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0x5a5a5a5a, arg.num);
}

TEST_HARNESS_MAIN
