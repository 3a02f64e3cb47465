/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The feature sets each kvhost node must advertise, as the tests expect
 * them.  Kept apart from the module's own definitions on purpose: a change
 * to what the module advertises must be matched by a change here.
 */
#ifndef KVHOST_SELFTEST_FEATURES_H
#define KVHOST_SELFTEST_FEATURES_H

#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#define KVH_TEST_CORE_FEATURES	((1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) | \
				 (1ULL << VIRTIO_F_ANY_LAYOUT) | \
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
				 (1ULL << VHOST_F_LOG_ALL) | \
				 (1ULL << VIRTIO_F_VERSION_1))
#define KVH_TEST_NET_FEATURES	(KVH_TEST_CORE_FEATURES | \
				 (1ULL << VHOST_NET_F_VIRTIO_NET_HDR) | \
				 (1ULL << VIRTIO_NET_F_MRG_RXBUF))
#define KVH_TEST_BLK_FEATURES	(KVH_TEST_CORE_FEATURES | \
				 (1ULL << VIRTIO_BLK_F_SEG_MAX) | \
				 (1ULL << VIRTIO_BLK_F_BLK_SIZE) | \
				 (1ULL << VIRTIO_BLK_F_TOPOLOGY) | \
				 (1ULL << VIRTIO_BLK_F_FLUSH) | \
				 (1ULL << VIRTIO_BLK_F_DISCARD) | \
				 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) | \
				 (1ULL << VIRTIO_BLK_F_MQ) | \
				 (1ULL << VIRTIO_BLK_F_RO))

#endif
