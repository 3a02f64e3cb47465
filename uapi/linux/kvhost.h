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
