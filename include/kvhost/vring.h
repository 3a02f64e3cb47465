/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The split-ring engine: fetch avail heads, walk descriptor chains into
 * iovecs, publish used entries, suppress notifications.  Every value the
 * guest wrote is read once into a local and validated there.
 *
 * The vq core reaches it through kvh_split_ring_ops (<kvhost/ring.h>);
 * the KUnit suites and the fuzzers call the kvh_vring_*() functions
 * directly.
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
#include <kvhost/ring.h>

/**
 * struct kvh_vring - the engine's state for one virtqueue
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
 *
 * The configuration (@num to @iov_max, set by the vq core), @mem_hint and
 * the error record mean the same for every ring format; a packed format
 * would read @desc, @avail and @used as its descriptor ring and driver
 * and device event areas.  The indices (@last_avail_idx to @used_flags)
 * are the split format's: a packed one would add its own beside them
 * (an anonymous union keeps the split names).
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

/* The split format's operations, for the vq core. */
extern const struct kvh_ring_ops kvh_split_ring_ops;

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
