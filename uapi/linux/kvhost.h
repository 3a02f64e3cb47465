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

/*
 * kvhost-blk commands share the vhost ioctl type (VHOST_VIRTIO, 0xAF) and
 * start well above every number upstream vhost and vhost-vdpa use.
 */
#define KVHOST_BLK_IOCTL_BASE	0xC0

#endif /* _UAPI_LINUX_KVHOST_H */
