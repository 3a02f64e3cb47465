/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the vq core (vq.c) and a ring format share: the walked chain it
 * hands to devices, the completed-chain batch it hands back, the refusal
 * reasons, and struct kvh_ring_ops, the operations a ring format provides.
 *
 * The split format (vring.c, kvh_split_ring_ops) is the only one so far.
 * A packed one would add its ops and its index state next to it; devices
 * never see which format serves a vq.
 *
 * Builds in kvhost.ko, the KUnit module and the userspace fuzzers.
 */
#ifndef _KVHOST_RING_H
#define _KVHOST_RING_H

#include <linux/types.h>
#include <linux/uio.h>

/* Guest page size for the dirty log, as VHOST_PAGE_SIZE. */
#define KVH_LOG_PAGE_SHIFT	12
/* Most iovecs one chain may produce (UIO_MAXIOV, as upstream). */
#define KVH_IOV_MAX		1024
/* Used entries gathered before they are published (kvh_ring_ops.add_used). */
#define KVH_USED_BATCH		64

/**
 * enum kvh_vring_err - why the engine refused what the guest wrote
 * @KVH_E_RING_ACCESS: the avail ring or descriptor table is not readable
 * @KVH_E_AVAIL_IDX: avail->idx moved by more than the ring size
 * @KVH_E_HEAD: an avail entry names a head >= num
 * @KVH_E_NEXT: a descriptor's next >= num (or >= the indirect count)
 * @KVH_E_LOOP: the chain is longer than the ring (or indirect table)
 * @KVH_E_INDIRECT_LEN: indirect table length 0, not a multiple of 16, or
 *	more entries than allowed
 * @KVH_E_INDIRECT_NESTED: an indirect descriptor inside an indirect table
 * @KVH_E_INDIRECT_FLAGS: indirect combined with NEXT (WRITE on an indirect
 *	descriptor is ignored, as the virtio spec requires)
 * @KVH_E_INDIRECT_MAP: the indirect table is not entirely in guest memory,
 *	or an entry cannot be read
 * @KVH_E_DESC_WRAP: a descriptor's addr + len wraps
 * @KVH_E_CHAIN_LEN: readable or writable total over 4 GiB - 1
 * @KVH_E_IOV_LIMIT: the chain needs more iovecs than allowed
 * @KVH_E_UNMAPPED: a buffer is not (fully) in the memory table
 * @KVH_E_ORDER: a readable descriptor after a writable one
 * @KVH_E_ZERO_LEN_LOG: zero-length writable descriptor while logging
 * @KVH_E_USED_ACCESS: the used ring is not writable
 * @KVH_E_LOG_ACCESS: the dirty log is not writable
 * @KVH_E_DEVICE: the device rejected the request's contents
 * @KVH_E_NR: number of reasons
 */
enum kvh_vring_err {
	KVH_E_RING_ACCESS,
	KVH_E_AVAIL_IDX,
	KVH_E_HEAD,
	KVH_E_NEXT,
	KVH_E_LOOP,
	KVH_E_INDIRECT_LEN,
	KVH_E_INDIRECT_NESTED,
	KVH_E_INDIRECT_FLAGS,
	KVH_E_INDIRECT_MAP,
	KVH_E_DESC_WRAP,
	KVH_E_CHAIN_LEN,
	KVH_E_IOV_LIMIT,
	KVH_E_UNMAPPED,
	KVH_E_ORDER,
	KVH_E_ZERO_LEN_LOG,
	KVH_E_USED_ACCESS,
	KVH_E_LOG_ACCESS,
	KVH_E_DEVICE,
	KVH_E_NR
};

extern const char *const kvh_vring_err_names[KVH_E_NR];

/**
 * struct kvh_log_ent - a writable guest-physical range of a chain
 * @gpa: start
 * @len: length
 */
struct kvh_log_ent {
	u64 gpa;
	u32 len;
};

/**
 * struct kvh_chain - one descriptor chain, walked
 * @head: the head index (the buffer id), for the used entry
 * @out: readable iovecs, first in @iov
 * @in: writable iovecs, after the readable ones
 * @out_len: readable bytes
 * @in_len: writable bytes
 * @iov: caller-provided, room for the vring's @iov_max
 * @log: caller-provided, room for @iov_max; filled only when logging
 * @nlog: entries in @log
 * @writable: a writable descriptor was seen (even an empty one)
 */
struct kvh_chain {
	u16 head;
	bool writable;
	unsigned int out;
	unsigned int in;
	u32 out_len;
	u32 in_len;
	struct iovec *iov;
	struct kvh_log_ent *log;
	unsigned int nlog;
};

/**
 * struct kvh_used - a completed chain, not yet published
 * @id: the chain's head (struct kvh_chain.head), host byte order
 * @len: the used length reported to the driver, host byte order
 *
 * Format-independent: the ring format encodes it when it publishes
 * (kvh_ring_ops.add_used).  A packed format would also need the number
 * of descriptors the chain took, to advance its used index.
 */
struct kvh_used {
	u32 id;
	u32 len;
};

/**
 * enum kvh_ring_area - the guest areas of a virtqueue, as the virtio spec
 *	names them; VHOST_SET_VRING_ADDR's desc, avail and used addresses
 * @KVH_RING_DESC: the descriptor area (split: descriptor table)
 * @KVH_RING_DRIVER: the driver area (split: avail ring)
 * @KVH_RING_DEVICE: the device area (split: used ring)
 */
enum kvh_ring_area {
	KVH_RING_DESC,
	KVH_RING_DRIVER,
	KVH_RING_DEVICE,
};

struct kvh_vring;

/**
 * struct kvh_ring_ops - what a ring format provides to the vq core
 * @reset: forget all run state (not the configuration)
 * @resync: forget what was cached from the guest (the ring was
 *	reconfigured); the next fetch reads and validates afresh
 * @start: take over a configured ring (first start or restart): resync,
 *	publish the notification state, pick up the device's position.
 *	0 or -EFAULT (counted).
 * @get_chain: fetch and walk the next available chain: 0, -EAGAIN when
 *	the ring is empty, or another errno for bad input (counted)
 * @unget: give back the last n chains fetched, unprocessed
 * @avail_pending: 1 when the driver made chains available that were not
 *	fetched yet, 0 when not, or a negative errno (counted)
 * @add_used: publish n completed chains (at most KVH_USED_BATCH and at
 *	most the ring size) with one index update, in the format's encoding;
 *	0 or a negative errno (counted)
 * @should_signal: after @add_used, does the driver want an interrupt?
 * @disable_notify: ask the driver not to kick; 0 or errno (counted)
 * @enable_notify: ask the driver to kick again: 1 when chains arrived
 *	meanwhile, 0 when not, or a negative errno (counted)
 * @log_write: mark dirty the guest pages of the first bytes written into
 *	a chain walked while logging; 0 or errno (counted)
 * @area_size: bytes an area of the configured ring spans, with the event
 *	suppression word when @event (VIRTIO_RING_F_EVENT_IDX)
 *
 * Every operation takes the vq's engine state (struct kvh_vring) and runs
 * under the vq mutex.  "Counted" failures record their reason in its
 * last_err and errors[] (kvh_vring_fail()); the caller stops the vq.
 */
struct kvh_ring_ops {
	void (*reset)(struct kvh_vring *vr);
	void (*resync)(struct kvh_vring *vr);
	int (*start)(struct kvh_vring *vr);
	int (*get_chain)(struct kvh_vring *vr, struct kvh_chain *c);
	void (*unget)(struct kvh_vring *vr, unsigned int n);
	int (*avail_pending)(struct kvh_vring *vr);
	int (*add_used)(struct kvh_vring *vr, const struct kvh_used *used,
			unsigned int n);
	bool (*should_signal)(struct kvh_vring *vr);
	int (*disable_notify)(struct kvh_vring *vr);
	int (*enable_notify)(struct kvh_vring *vr);
	int (*log_write)(struct kvh_vring *vr, const struct kvh_chain *c,
			 u32 written);
	size_t (*area_size)(const struct kvh_vring *vr,
			    enum kvh_ring_area area, bool event);
};

#endif /* _KVHOST_RING_H */
