/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvhost userspace ABI.
 *
 * /dev/kvhost-net speaks <linux/vhost.h> unchanged: the same ioctl
 * numbers, the same structures, the same errnos.  /dev/kvhost-blk speaks
 * the same core vhost ioctls plus the kvhost-blk commands defined here.
 *
 * Rules for everything in this file: fixed-width types only, explicit
 * padding that must be zero (reserved fields are rejected with -EINVAL
 * when non-zero), _IOR for reads and _IOW for writes, and command
 * numbers assigned in order from KVHOST_BLK_IOCTL_BASE.
 */
#ifndef _UAPI_LINUX_KVHOST_H
#define _UAPI_LINUX_KVHOST_H

#include <linux/types.h>
#include <linux/vhost.h>

/* Device node names, under /dev. */
#define KVHOST_NET_NODE		"kvhost-net"
#define KVHOST_BLK_NODE		"kvhost-blk"
#define KVHOST_TEST_NODE	"kvhost-test"

/*
 * kvhost-blk commands share the vhost ioctl type (VHOST_VIRTIO, 0xAF) and
 * start well above every number upstream vhost and vhost-vdpa use.
 */
#define KVHOST_BLK_IOCTL_BASE	0xC0

/*
 * kvhost-blk
 * ==========
 *
 * A VMM sets a device up as for vhost-net (SET_OWNER, SET_FEATURES,
 * SET_MEM_TABLE, SET_VRING_*), with these differences:
 *
 * - KVHOST_BLK_SET_NUM_QUEUES, before any vring is configured, says how
 *   many request queues (vrings 0..num-1) the device has: 1 by default,
 *   at most the module parameter max_queues.  Vring ioctls on an index
 *   >= num fail with ENOBUFS.
 * - KVHOST_BLK_SET_BACKEND attaches a block device or regular file, opened
 *   by the VMM, to every queue at once, and starts the queues.  An fd
 *   opened without write access makes the device read-only
 *   (VIRTIO_BLK_F_RO; writes complete with VIRTIO_BLK_S_IOERR).  O_DIRECT
 *   on the fd is honoured.  fd -1 stops the queues and detaches, after
 *   in-flight requests have completed.
 * - KVHOST_BLK_GET_CONFIG returns what the VMM should expose to the guest.
 * - KVHOST_BLK_SET_SERIAL sets the GET_ID string.
 *
 * Errnos common to all four: EFAULT (argument not readable/writable),
 * EPERM (not the owner), EINVAL (a reserved field is not zero).
 */

/**
 * struct kvhost_blk_backend - KVHOST_BLK_SET_BACKEND argument
 * @fd: a block device or regular file, or -1 to detach
 * @reserved: must be zero
 *
 * Errnos: EBADF (not an open fd), EINVAL (neither a block device nor a
 * regular file, or a capacity under one logical block), EFAULT (a
 * configured vring is not accessible), EBUSY (a backend is attached: detach
 * it first).
 */
struct kvhost_blk_backend {
	__s32 fd;
	__u32 reserved[3];
};

/**
 * struct kvhost_blk_queues - KVHOST_BLK_SET_NUM_QUEUES argument
 * @num: request queues, 1 to max_queues
 * @reserved: must be zero
 *
 * Errnos: EINVAL (num out of range), EBUSY (a vring is configured or a
 * backend attached).
 */
struct kvhost_blk_queues {
	__u32 num;
	__u32 reserved;
};

/**
 * struct kvhost_blk_config - KVHOST_BLK_GET_CONFIG result
 *
 * The first 60 bytes are struct virtio_blk_config of the virtio 1.2
 * specification up to and including unused1[3], little-endian, ready to
 * be exposed as the device's configuration space.  @features is the
 * subset of VHOST_GET_FEATURES that the attached backend supports (RO for
 * a read-only fd; no DISCARD / WRITE_ZEROES where it cannot do them).
 * Without a backend: ENXIO.
 */
struct kvhost_blk_config {
	__le64 capacity;		/* in 512-byte sectors */
	__le32 size_max;		/* largest segment, bytes */
	__le32 seg_max;			/* data segments per request */
	__le16 cylinders;		/* geometry: zero */
	__u8 heads;
	__u8 sectors;
	__le32 blk_size;		/* logical block size */
	__u8 physical_block_exp;	/* physical = logical << exp */
	__u8 alignment_offset;
	__le16 min_io_size;		/* in logical blocks */
	__le32 opt_io_size;		/* in logical blocks */
	__u8 wce;			/* writeback cache: 1 */
	__u8 unused;
	__le16 num_queues;
	__le32 max_discard_sectors;
	__le32 max_discard_seg;
	__le32 discard_sector_alignment;
	__le32 max_write_zeroes_sectors;
	__le32 max_write_zeroes_seg;
	__u8 write_zeroes_may_unmap;
	__u8 unused1[3];
	__u32 reserved;			/* zero */
	__u64 features;
};

/**
 * struct kvhost_blk_serial - KVHOST_BLK_SET_SERIAL argument
 * @id: the GET_ID answer (VIRTIO_BLK_ID_BYTES), NUL-padded
 * @reserved: must be zero
 */
struct kvhost_blk_serial {
	__u8 id[20];
	__u32 reserved;
};

#define KVHOST_BLK_SET_BACKEND	_IOW(VHOST_VIRTIO, KVHOST_BLK_IOCTL_BASE, \
				     struct kvhost_blk_backend)
#define KVHOST_BLK_SET_NUM_QUEUES _IOW(VHOST_VIRTIO, \
				       KVHOST_BLK_IOCTL_BASE + 1, \
				       struct kvhost_blk_queues)
#define KVHOST_BLK_GET_CONFIG	_IOR(VHOST_VIRTIO, KVHOST_BLK_IOCTL_BASE + 2, \
				     struct kvhost_blk_config)
#define KVHOST_BLK_SET_SERIAL	_IOW(VHOST_VIRTIO, KVHOST_BLK_IOCTL_BASE + 3, \
				     struct kvhost_blk_serial)

/*
 * /dev/kvhost-test exists only when kvhost is loaded with test_dev=1.  It
 * is a loopback device for testing the core ring engine without a
 * backend: KVHOST_TEST_NVQS virtqueues, each of which copies the readable
 * bytes of every chain into the chain's writable bytes and reports the
 * number of bytes written as the used length.
 *
 * KVHOST_TEST_SET_RUNNING starts (num = 1) or stops (num = 0) serving the
 * vring with the given index, like VHOST_NET_SET_BACKEND attaching or
 * detaching a backend: a running vring is "active" for every rule of the
 * vhost ABI (EBUSY for SET_VRING_NUM/BASE, access checks on start).
 * Errors: EFAULT, ENOBUFS (index), EINVAL (num > 1), EPERM (not owner),
 * EFAULT (ring not accessible on start).
 */
#define KVHOST_TEST_NVQS	2
#define KVHOST_TEST_IOCTL_BASE	0xE0
#define KVHOST_TEST_SET_RUNNING	_IOW(VHOST_VIRTIO, KVHOST_TEST_IOCTL_BASE, \
				     struct vhost_vring_state)

#endif /* _UAPI_LINUX_KVHOST_H */
