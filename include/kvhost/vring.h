/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The split-ring engine: fetch avail heads, walk descriptor chains into
 * iovecs, publish used entries, suppress notifications.  Every value the
 * guest wrote is read once into a local and validated there.
 *
 * Builds in kvhost.ko, the KUnit module and the userspace fuzzers; it
 * reaches guest memory only through <kvhost/access.h>.
 */
#ifndef _KVHOST_VRING_H
#define _KVHOST_VRING_H

#include <linux/types.h>
#include <linux/uio.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_ring.h>

#include <kvhost/mem.h>

/* Guest page size for the dirty log, as VHOST_PAGE_SIZE. */
#define KVH_LOG_PAGE_SHIFT	12
/* Most iovecs one chain may produce (UIO_MAXIOV, as upstream). */
#define KVH_IOV_MAX		1024

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
 * @head: the head index, for the used entry
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
 * struct kvh_vring - the engine's state for one split virtqueue
 * @num: ring size, a power of 2
 * @desc: descriptor table (owner's user address)
 * @avail: avail ring
 * @used: used ring
 * @mem: guest memory table in force
 * @log_base: dirty bitmap, or NULL
 * @log_used_gpa: guest-physical address of @used, for the dirty log
 * @log: log every guest write (VHOST_F_LOG_ALL acked, log base set)
 * @log_used: log used-ring writes (VHOST_VRING_F_LOG)
 * @event_idx: VIRTIO_RING_F_EVENT_IDX negotiated
 * @notify_on_empty: VIRTIO_F_NOTIFY_ON_EMPTY negotiated
 * @little_endian: ring fields are little-endian
 * @iov_max: most iovecs per chain
 * @last_avail_idx: next avail entry to consume
 * @avail_idx: last avail->idx read
 * @last_used_idx: next used entry to fill
 * @signalled_used: last_used_idx at the last signal
 * @signalled_used_valid: @signalled_used is meaningful
 * @used_flags: last value written to used->flags
 * @mem_hint: kvh_mem_find() cache
 * @last_err: the last error recorded
 * @errors: per-reason error counts
 */
struct kvh_vring {
	unsigned int num;
	struct vring_desc __user *desc;
	struct vring_avail __user *avail;
	struct vring_used __user *used;
	const struct kvh_mem *mem;
	void __user *log_base;
	u64 log_used_gpa;
	bool log;
	bool log_used;
	bool event_idx;
	bool notify_on_empty;
	bool little_endian;
	unsigned int iov_max;

	u16 last_avail_idx;
	u16 avail_idx;
	u16 last_used_idx;
	u16 signalled_used;
	bool signalled_used_valid;
	u16 used_flags;
	u32 mem_hint;

	enum kvh_vring_err last_err;
	u64 errors[KVH_E_NR];
};

void kvh_vring_reset(struct kvh_vring *vr);
void kvh_vring_resync(struct kvh_vring *vr);
int kvh_vring_start(struct kvh_vring *vr);
int kvh_vring_get_chain(struct kvh_vring *vr, struct kvh_chain *c);
void kvh_vring_unget(struct kvh_vring *vr, unsigned int n);
int kvh_vring_avail_pending(struct kvh_vring *vr);
int kvh_vring_add_used(struct kvh_vring *vr,
		       const struct vring_used_elem *elems, unsigned int n);
bool kvh_vring_should_signal(struct kvh_vring *vr);
int kvh_vring_disable_notify(struct kvh_vring *vr);
int kvh_vring_enable_notify(struct kvh_vring *vr);
int kvh_vring_log_write(struct kvh_vring *vr, const struct kvh_chain *c,
			u32 written);
int kvh_vring_fail(struct kvh_vring *vr, enum kvh_vring_err why, int r);

/* A used entry in ring byte order. */
static inline struct vring_used_elem kvh_used_elem(const struct kvh_vring *vr,
						   u32 id, u32 len)
{
	struct vring_used_elem e = {
		.id = __cpu_to_virtio32(vr->little_endian, id),
		.len = __cpu_to_virtio32(vr->little_endian, len),
	};

	return e;
}

#endif /* _KVHOST_VRING_H */
