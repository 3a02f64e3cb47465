// SPDX-License-Identifier: GPL-2.0
/*
 * The split-ring engine (virtio 1.x split virtqueue).
 *
 * Every guest-written value (avail->idx, an avail entry, a descriptor, an
 * indirect entry, avail->flags, used_event) is copied once into a local
 * and only that copy is validated and used: the guest can change memory
 * under us at any moment, so a second read would be a second, unvalidated
 * value.  Any violation is counted per reason in vr->errors and returned
 * as an error; the caller stops the queue and signals the err eventfd.
 *
 * Memory ordering, paired with the guest driver:
 *  - avail->idx is read, then smp_rmb(), then the ring entries it covers;
 *  - used entries are written, then smp_wmb(), then used->idx;
 *  - after used->idx and before reading avail->flags / used_event to decide
 *    on a signal, smp_mb();
 *  - after re-enabling notifications and before re-reading avail->idx,
 *    smp_mb().
 *
 * The vq core reaches this engine through kvh_split_ring_ops (at the end),
 * the split format's struct kvh_ring_ops.
 *
 * This file builds in kvhost.ko, in the KUnit module and in the userspace
 * fuzzers: guest memory only through <kvhost/access.h>.
 */
#include <linux/errno.h>
#include <linux/kernel.h>

#include <kvhost/access.h>
#include <kvhost/vring.h>

const char *const kvh_vring_err_names[KVH_E_NR] = {
	[KVH_E_RING_ACCESS] = "ring_access",
	[KVH_E_AVAIL_IDX] = "avail_idx",
	[KVH_E_HEAD] = "head",
	[KVH_E_NEXT] = "next",
	[KVH_E_LOOP] = "loop",
	[KVH_E_INDIRECT_LEN] = "indirect_len",
	[KVH_E_INDIRECT_NESTED] = "indirect_nested",
	[KVH_E_INDIRECT_FLAGS] = "indirect_flags",
	[KVH_E_INDIRECT_MAP] = "indirect_map",
	[KVH_E_DESC_WRAP] = "desc_wrap",
	[KVH_E_CHAIN_LEN] = "chain_len",
	[KVH_E_IOV_LIMIT] = "iov_limit",
	[KVH_E_UNMAPPED] = "unmapped",
	[KVH_E_ORDER] = "order",
	[KVH_E_ZERO_LEN_LOG] = "zero_len_log",
	[KVH_E_USED_ACCESS] = "used_access",
	[KVH_E_LOG_ACCESS] = "log_access",
	[KVH_E_DEVICE] = "device",
};

static inline u16 kvh16(const struct kvh_vring *vr, __virtio16 v)
{
	return __virtio16_to_cpu(vr->little_endian, v);
}

static inline u32 kvh32(const struct kvh_vring *vr, __virtio32 v)
{
	return __virtio32_to_cpu(vr->little_endian, v);
}

static inline u64 kvh64(const struct kvh_vring *vr, __virtio64 v)
{
	return __virtio64_to_cpu(vr->little_endian, v);
}

static inline __virtio16 cpu_to_kvh16(const struct kvh_vring *vr, u16 v)
{
	return __cpu_to_virtio16(vr->little_endian, v);
}

/**
 * kvh_vring_fail - record why the guest's input was refused
 * @vr: the ring
 * @why: the reason
 * @r: the error to return
 *
 * Return: @r, so callers can "return kvh_vring_fail(...)".
 */
int kvh_vring_fail(struct kvh_vring *vr, enum kvh_vring_err why, int r)
{
	vr->last_err = why;
	vr->errors[why]++;
	return r;
}

/**
 * kvh_vring_resync - forget the cached avail index
 * @vr: the ring
 *
 * For a ring being restarted or reconfigured: the next fetch reads
 * avail->idx afresh and validates it against last_avail_idx.
 */
void kvh_vring_resync(struct kvh_vring *vr)
{
	vr->avail_idx = vr->last_avail_idx;
}

/**
 * kvh_vring_reset - forget all per-run state (not the configuration)
 * @vr: the ring
 */
void kvh_vring_reset(struct kvh_vring *vr)
{
	vr->last_avail_idx = 0;
	vr->avail_idx = 0;
	vr->last_used_idx = 0;
	vr->signalled_used = 0;
	vr->signalled_used_valid = false;
	vr->used_flags = 0;
	vr->mem_hint = 0;
}

/* Mark the guest pages under [gpa, gpa + len) dirty. */
static int kvh_log_gpa(struct kvh_vring *vr, u64 gpa, u64 len)
{
	u64 first, last;

	if (!len)
		return 0;
	first = gpa >> KVH_LOG_PAGE_SHIFT;
	last = (gpa + len - 1) >> KVH_LOG_PAGE_SHIFT;
	if (kvh_log_pages(vr, first, last - first + 1))
		return kvh_vring_fail(vr, KVH_E_LOG_ACCESS, -EFAULT);
	return 0;
}

static int kvh_log_used(struct kvh_vring *vr, size_t off, size_t len)
{
	if (!vr->log_used)
		return 0;
	return kvh_log_gpa(vr, vr->log_used_gpa + off, len);
}

static int kvh_write_used_flags(struct kvh_vring *vr)
{
	if (kvh_write16(&vr->used->flags, cpu_to_kvh16(vr, vr->used_flags)))
		return kvh_vring_fail(vr, KVH_E_USED_ACCESS, -EFAULT);
	return kvh_log_used(vr, offsetof(struct vring_used, flags),
			    sizeof(__virtio16));
}

static int kvh_write_avail_event(struct kvh_vring *vr)
{
	size_t off = offsetof(struct vring_used, ring[vr->num]);

	if (kvh_write16((void __user *)vr->used + off,
			cpu_to_kvh16(vr, vr->avail_idx)))
		return kvh_vring_fail(vr, KVH_E_USED_ACCESS, -EFAULT);
	return kvh_log_used(vr, off, sizeof(__virtio16));
}

/**
 * kvh_vring_start - take over a configured ring
 * @vr: the ring, with @num, addresses and features set
 *
 * Publishes the current notification flags and picks up used->idx, as
 * upstream vhost does, so a ring can be handed over mid-life.
 *
 * Return: 0, or -EFAULT when the used ring is not accessible.
 */
int kvh_vring_start(struct kvh_vring *vr)
{
	__virtio16 idx;
	int r;

	r = kvh_write_used_flags(vr);
	if (r)
		return r;
	if (kvh_read16(&idx, &vr->used->idx))
		return kvh_vring_fail(vr, KVH_E_USED_ACCESS, -EFAULT);
	vr->last_used_idx = kvh16(vr, idx);
	vr->signalled_used_valid = false;
	return 0;
}

/* Read avail->idx; *idx is only written with a value that passed. */
static int kvh_fetch_avail_idx(struct kvh_vring *vr, u16 *idx)
{
	__virtio16 v;
	u16 val;

	if (kvh_read16(&v, &vr->avail->idx))
		return kvh_vring_fail(vr, KVH_E_RING_ACCESS, -EFAULT);
	val = kvh16(vr, v);
	if ((u16)(val - vr->last_avail_idx) > vr->num)
		return kvh_vring_fail(vr, KVH_E_AVAIL_IDX, -EINVAL);
	*idx = val;
	return 0;
}

/* Copy guest-physical memory that may span regions (indirect tables). */
static int kvh_read_gpa(struct kvh_vring *vr, u64 gpa, void *dst, u32 len)
{
	const struct kvh_mem_region *r;
	u64 off, chunk;

	while (len) {
		r = kvh_mem_find(vr->mem, &vr->mem_hint, gpa);
		if (!r)
			return -EFAULT;
		off = gpa - r->gpa;
		chunk = min_t(u64, len, r->size - off);
		if (kvh_read(dst, (void __user *)(unsigned long)(r->uaddr + off),
			     chunk))
			return -EFAULT;
		dst += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/* Append one (already copied) buffer descriptor to the chain. */
static int kvh_chain_add(struct kvh_vring *vr, struct kvh_chain *c,
			 u64 addr, u32 len, u16 flags)
{
	bool write = flags & VRING_DESC_F_WRITE;
	unsigned int used = c->out + c->in;
	int n;

	if (len && addr > U64_MAX - (len - 1))
		return kvh_vring_fail(vr, KVH_E_DESC_WRAP, -EINVAL);
	if (write) {
		if (!len && vr->log)
			return kvh_vring_fail(vr, KVH_E_ZERO_LEN_LOG, -EINVAL);
		if (len > U32_MAX - c->in_len)
			return kvh_vring_fail(vr, KVH_E_CHAIN_LEN, -EINVAL);
	} else {
		if (c->writable)
			return kvh_vring_fail(vr, KVH_E_ORDER, -EINVAL);
		if (len > U32_MAX - c->out_len)
			return kvh_vring_fail(vr, KVH_E_CHAIN_LEN, -EINVAL);
	}
	n = kvh_mem_translate(vr->mem, &vr->mem_hint, addr, len,
			      c->iov + used, vr->iov_max - used);
	if (n == -ENOBUFS)
		return kvh_vring_fail(vr, KVH_E_IOV_LIMIT, n);
	if (n < 0)
		return kvh_vring_fail(vr, KVH_E_UNMAPPED, n);
	if (write) {
		c->writable = true;
		c->in += n;
		c->in_len += len;
		if (vr->log) {
			c->log[c->nlog].gpa = addr;
			c->log[c->nlog].len = len;
			c->nlog++;
		}
	} else {
		c->out += n;
		c->out_len += len;
	}
	return 0;
}

/* Walk the indirect table that the (copied) descriptor @ind points at. */
static int kvh_walk_indirect(struct kvh_vring *vr, struct kvh_chain *c,
			     const struct vring_desc *ind)
{
	u64 base = kvh64(vr, ind->addr);
	u32 len = kvh32(vr, ind->len);
	u32 count = len / sizeof(struct vring_desc);
	u32 i = 0, steps = 0;
	struct vring_desc d;
	u16 flags;
	int r;

	if (!len || len % sizeof(struct vring_desc) || count > vr->iov_max)
		return kvh_vring_fail(vr, KVH_E_INDIRECT_LEN, -EINVAL);
	if (base > U64_MAX - (len - 1))
		return kvh_vring_fail(vr, KVH_E_DESC_WRAP, -EINVAL);
	/* The whole table must be guest memory, not just the entries used. */
	if (!kvh_mem_mapped(vr->mem, &vr->mem_hint, base, len))
		return kvh_vring_fail(vr, KVH_E_INDIRECT_MAP, -EFAULT);
	for (;;) {
		if (++steps > count)
			return kvh_vring_fail(vr, KVH_E_LOOP, -EINVAL);
		if (kvh_read_gpa(vr, base + (u64)i * sizeof(d), &d, sizeof(d)))
			return kvh_vring_fail(vr, KVH_E_INDIRECT_MAP, -EFAULT);
		flags = kvh16(vr, d.flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return kvh_vring_fail(vr, KVH_E_INDIRECT_NESTED,
					      -EINVAL);
		r = kvh_chain_add(vr, c, kvh64(vr, d.addr), kvh32(vr, d.len),
				  flags);
		if (r)
			return r;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = kvh16(vr, d.next);
		if (i >= count)
			return kvh_vring_fail(vr, KVH_E_NEXT, -EINVAL);
	}
}

/**
 * kvh_vring_get_chain - fetch and walk the next available chain
 * @vr: the ring
 * @c: the result; @c->iov and @c->log must have room for @vr->iov_max
 *
 * Return: 0 with @c filled and the entry consumed; -EAGAIN when the ring
 * is empty; another negative errno when the guest's input is invalid (the
 * reason is in @vr->last_err and counted).
 */
int kvh_vring_get_chain(struct kvh_vring *vr, struct kvh_chain *c)
{
	unsigned int steps = 0;
	struct vring_desc d;
	__virtio16 h;
	u16 head, i, flags;
	int r;

	if (vr->avail_idx == vr->last_avail_idx) {
		r = kvh_fetch_avail_idx(vr, &vr->avail_idx);
		if (r)
			return r;
		if (vr->avail_idx == vr->last_avail_idx)
			return -EAGAIN;
		/* Read the entries only after the index that covers them. */
		smp_rmb();
	}
	if (kvh_read16(&h, &vr->avail->ring[vr->last_avail_idx & (vr->num - 1)]))
		return kvh_vring_fail(vr, KVH_E_RING_ACCESS, -EFAULT);
	head = kvh16(vr, h);
	if (head >= vr->num)
		return kvh_vring_fail(vr, KVH_E_HEAD, -EINVAL);

	c->head = head;
	c->writable = false;
	c->out = 0;
	c->in = 0;
	c->out_len = 0;
	c->in_len = 0;
	c->nlog = 0;
	i = head;
	for (;;) {
		if (++steps > vr->num)
			return kvh_vring_fail(vr, KVH_E_LOOP, -EINVAL);
		if (kvh_read(&d, vr->desc + i, sizeof(d)))
			return kvh_vring_fail(vr, KVH_E_RING_ACCESS, -EFAULT);
		flags = kvh16(vr, d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (flags & VRING_DESC_F_NEXT)
				return kvh_vring_fail(vr, KVH_E_INDIRECT_FLAGS,
						      -EINVAL);
			r = kvh_walk_indirect(vr, c, &d);
			if (r)
				return r;
			break;
		}
		r = kvh_chain_add(vr, c, kvh64(vr, d.addr), kvh32(vr, d.len),
				  flags);
		if (r)
			return r;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = kvh16(vr, d.next);
		if (i >= vr->num)
			return kvh_vring_fail(vr, KVH_E_NEXT, -EINVAL);
	}
	vr->last_avail_idx++;
	return 0;
}

/**
 * kvh_vring_avail_pending - has the guest made entries available?
 * @vr: the ring
 *
 * Return: 1 when unconsumed entries exist, 0 when not, or a negative
 * errno (counted) when avail->idx is unreadable or invalid.
 */
int kvh_vring_avail_pending(struct kvh_vring *vr)
{
	u16 idx;
	int r;

	if (vr->avail_idx != vr->last_avail_idx)
		return 1;
	r = kvh_fetch_avail_idx(vr, &idx);
	if (r)
		return r;
	return idx != vr->last_avail_idx;
}

/**
 * kvh_vring_unget - give back the last @n chains, unprocessed
 * @vr: the ring
 * @n: how many
 */
void kvh_vring_unget(struct kvh_vring *vr, unsigned int n)
{
	vr->last_avail_idx -= n;
}

/**
 * kvh_vring_add_used - publish used entries
 * @vr: the ring
 * @elems: entries in ring byte order (kvh_used_elem())
 * @n: how many, at most @vr->num
 *
 * Return: 0, or a negative errno when the used ring or log is not
 * writable (counted).
 */
int kvh_vring_add_used(struct kvh_vring *vr,
		       const struct vring_used_elem *elems, unsigned int n)
{
	unsigned int start = vr->last_used_idx & (vr->num - 1);
	unsigned int first = min(n, vr->num - start);
	__virtio16 idx;
	u16 new;
	int r;

	if (!n || n > vr->num)
		return n ? -EINVAL : 0;
	if (kvh_write(&vr->used->ring[start], elems, first * sizeof(*elems)))
		return kvh_vring_fail(vr, KVH_E_USED_ACCESS, -EFAULT);
	if (n > first &&
	    kvh_write(&vr->used->ring[0], elems + first,
		      (n - first) * sizeof(*elems)))
		return kvh_vring_fail(vr, KVH_E_USED_ACCESS, -EFAULT);
	r = kvh_log_used(vr, offsetof(struct vring_used, ring[start]),
			 first * sizeof(*elems));
	if (!r && n > first)
		r = kvh_log_used(vr, offsetof(struct vring_used, ring[0]),
				 (n - first) * sizeof(*elems));
	if (r)
		return r;

	/* The entries must be visible before the index that covers them. */
	smp_wmb();
	new = vr->last_used_idx + n;
	idx = cpu_to_kvh16(vr, new);
	if (kvh_write16(&vr->used->idx, idx))
		return kvh_vring_fail(vr, KVH_E_USED_ACCESS, -EFAULT);
	r = kvh_log_used(vr, offsetof(struct vring_used, idx), sizeof(idx));
	if (r)
		return r;
	vr->last_used_idx = new;
	/*
	 * If the guest went 2^16 entries without a signal, signalled_used
	 * may look recent again: stop trusting it.
	 */
	if (unlikely((u16)(new - vr->signalled_used) < n))
		vr->signalled_used_valid = false;
	return 0;
}

/**
 * kvh_vring_should_signal - does the guest want an interrupt now?
 * @vr: the ring, after kvh_vring_add_used()
 *
 * Return: true when the call eventfd should be signalled.  An unreadable
 * avail ring answers true: a spurious interrupt is harmless.
 */
bool kvh_vring_should_signal(struct kvh_vring *vr)
{
	__virtio16 v;
	u16 old, new;
	bool valid;

	/* Publish used->idx before reading the guest's suppression state. */
	smp_mb();
	if (vr->notify_on_empty && unlikely(vr->avail_idx == vr->last_avail_idx))
		return true;
	if (!vr->event_idx) {
		if (kvh_read16(&v, &vr->avail->flags))
			return true;
		return !(kvh16(vr, v) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	old = vr->signalled_used;
	valid = vr->signalled_used_valid;
	new = vr->last_used_idx;
	vr->signalled_used = new;
	vr->signalled_used_valid = true;
	if (unlikely(!valid))
		return true;
	if (kvh_read16(&v, &vr->avail->ring[vr->num]))
		return true;
	return vring_need_event(kvh16(vr, v), new, old);
}

/**
 * kvh_vring_disable_notify - ask the guest not to kick
 * @vr: the ring
 *
 * With EVENT_IDX the guest's next kick is governed by avail_event, which
 * is only moved forward by kvh_vring_enable_notify(); nothing to write.
 *
 * Return: 0 or a negative errno (counted).
 */
int kvh_vring_disable_notify(struct kvh_vring *vr)
{
	if (vr->used_flags & VRING_USED_F_NO_NOTIFY)
		return 0;
	vr->used_flags |= VRING_USED_F_NO_NOTIFY;
	if (vr->event_idx)
		return 0;
	return kvh_write_used_flags(vr);
}

/**
 * kvh_vring_enable_notify - ask the guest to kick again
 * @vr: the ring
 *
 * Return: 1 when entries arrived while notifications were off (the caller
 * should disable them again and keep going), 0 when the ring is empty, or
 * a negative errno (counted).
 */
int kvh_vring_enable_notify(struct kvh_vring *vr)
{
	u16 idx;
	int r;

	if (!(vr->used_flags & VRING_USED_F_NO_NOTIFY))
		return 0;
	vr->used_flags &= ~VRING_USED_F_NO_NOTIFY;
	r = vr->event_idx ? kvh_write_avail_event(vr) :
			    kvh_write_used_flags(vr);
	if (r)
		return r;
	/* The guest may have added entries meanwhile: look again. */
	smp_mb();
	r = kvh_fetch_avail_idx(vr, &idx);
	if (r)
		return r;
	return idx != vr->avail_idx;
}

/**
 * kvh_vring_log_write - log the guest pages a chain's first bytes landed in
 * @vr: the ring
 * @c: the chain, walked while @vr->log was set
 * @written: bytes the device wrote into the chain's writable part
 *
 * Return: 0 or a negative errno (counted).
 */
int kvh_vring_log_write(struct kvh_vring *vr, const struct kvh_chain *c,
			u32 written)
{
	unsigned int i;
	u32 l;
	int r;

	for (i = 0; i < c->nlog && written; i++) {
		l = min(written, c->log[i].len);
		r = kvh_log_gpa(vr, c->log[i].gpa, l);
		if (r)
			return r;
		written -= l;
	}
	return 0;
}

/*
 * The split format behind struct kvh_ring_ops.  Most operations are the
 * functions above as they are; these wrap the rest.
 */

static int kvh_split_start(struct kvh_vring *vr)
{
	vr->used_flags = 0;
	kvh_vring_resync(vr);
	return kvh_vring_start(vr);
}

/*
 * Encode the batch in ring byte order, then publish it as one.  @elems
 * is not zeroed on entry (CONFIG_INIT_STACK_ALL_ZERO would, every batch):
 * only the @n entries written here are ever copied out.
 */
static int kvh_split_add_used(struct kvh_vring *vr,
			      const struct kvh_used *used, unsigned int n)
{
	struct vring_used_elem elems[KVH_USED_BATCH] __uninitialized;
	unsigned int i;

	if (n > KVH_USED_BATCH)
		return -EINVAL;
	for (i = 0; i < n; i++)
		elems[i] = kvh_used_elem(vr, used[i].id, used[i].len);
	return kvh_vring_add_used(vr, elems, n);
}

static size_t kvh_split_area_size(const struct kvh_vring *vr,
				  enum kvh_ring_area area, bool event)
{
	size_t ev = event ? sizeof(__virtio16) : 0;

	switch (area) {
	case KVH_RING_DESC:
		return sizeof(struct vring_desc) * vr->num;
	case KVH_RING_DRIVER:
		return sizeof(struct vring_avail) +
		       sizeof(__virtio16) * vr->num + ev;
	case KVH_RING_DEVICE:
		return sizeof(struct vring_used) +
		       sizeof(struct vring_used_elem) * vr->num + ev;
	}
	return 0;
}

const struct kvh_ring_ops kvh_split_ring_ops = {
	.reset = kvh_vring_reset,
	.resync = kvh_vring_resync,
	.start = kvh_split_start,
	.get_chain = kvh_vring_get_chain,
	.unget = kvh_vring_unget,
	.avail_pending = kvh_vring_avail_pending,
	.add_used = kvh_split_add_used,
	.should_signal = kvh_vring_should_signal,
	.disable_notify = kvh_vring_disable_notify,
	.enable_notify = kvh_vring_enable_notify,
	.log_write = kvh_vring_log_write,
	.area_size = kvh_split_area_size,
};
