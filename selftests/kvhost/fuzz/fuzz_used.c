// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the used ring and notification logic of
 * drivers/kvhost/vring.c (kvh_vring_start, kvh_vring_add_used,
 * kvh_vring_should_signal, kvh_vring_enable_notify,
 * kvh_vring_disable_notify, and the avail-index bookkeeping of
 * kvh_vring_get_chain; batches are published directly or, half the time,
 * through kvh_split_ring_ops.add_used from host-order entries, as the vq
 * core does), built unmodified against the shim headers.
 *
 * A fuzzed sequence of engine calls and guest writes runs against the
 * engine and against a reference model written here from the virtio
 * rules: used entries land at used->ring[idx % num] before used->idx moves;
 * with EVENT_IDX the guest is signalled iff used_event lies in
 * [old, new) (mod 2^16), where old is used->idx at the previous signal,
 * and always when there was no previous signal or 2^16 or more entries
 * were added since; without it, iff VRING_AVAIL_F_NO_INTERRUPT is clear.
 * After every step the rings and the dirty bitmap, the return value, the
 * engine's indices and its error counters must match, and the engine's
 * recorded accesses (fuzz_hooks.h) must respect the barriers vring.c
 * documents (fu_check_order()).
 *
 * Input layout (little-endian, missing bytes read as 0):
 *   0   u8  ring size: 1 << (v % 9), so 1..256
 *   1   u8  flags: FU_F_*
 *   2   u16 used ring offset in the guest area (rounded down to 4)
 *   4   u16 avail ring offset in the guest area (rounded down to 2)
 *   6   u16 used->idx as the VMM leaves it before the ring starts
 *   8   u16 last_avail_idx (as VHOST_SET_VRING_BASE)
 *   10  u32 guest-physical address of the used ring, for its dirty log
 *       (rounded down to 4)
 *   14  steps: u8 opcode (% FU_OP_NR), then the opcode's argument
 *
 * The arena is the dirty bitmap (FU_LOG_SIZE bytes), an all-zero
 * descriptor table (every chain is one empty readable buffer), then the
 * guest area; rings placed past its end fault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define FU_LOG_SIZE	64
#define FU_DESC_OFF	FU_LOG_SIZE
#define FU_DESC_SIZE	(16 * 256)
#define FU_GUEST_OFF	(FU_DESC_OFF + FU_DESC_SIZE)
#define FU_GUEST_SIZE	0x1000
#define FU_ARENA_SIZE	(FU_GUEST_OFF + FU_GUEST_SIZE)
#define FU_MAX_STEPS	2048

#define FU_F_EVENT_IDX		0x01
#define FU_F_NOTIFY_ON_EMPTY	0x02
#define FU_F_LOG_USED		0x04
#define FU_F_BIG_ENDIAN		0x08

enum fu_op {
	FU_ADD_USED,		/* u16 n: add_used of n % (num + 2) entries */
	FU_SIGNAL,		/* should_signal */
	FU_USED_EVENT,		/* u16 d: guest sets used_event = used + d */
	FU_AVAIL_FLAGS,		/* u16 v: guest sets avail->flags = v */
	FU_AVAIL_IDX,		/* u16 d: guest sets avail->idx = last + d */
	FU_AVAIL_RING,		/* u8 slot, u8 head: guest fills a slot */
	FU_GET_CHAIN,		/* get_chain */
	FU_DISABLE,		/* disable_notify */
	FU_ENABLE,		/* enable_notify */
	FU_START,		/* u16 v: VMM sets used->idx = v, restarts */
	FU_LOG_TOGGLE,		/* flip log_used (VHOST_VRING_F_LOG) */
	FU_OP_NR
};

/* The model: what the arena and the engine's state should be. */
struct fu_model {
	u8 *img;
	unsigned int num;
	bool event_idx;
	bool notify_on_empty;
	bool log_used;
	bool le;
	size_t used;
	size_t avail;
	u64 log_gpa;
	u16 last_used;
	u16 last_avail;
	u16 avail_idx;
	u16 used_flags;
	u16 sig;
	bool sig_valid;
	u64 since_sig;
	u32 seq;
	enum kvh_vring_err why;
};

static bool m_ok(size_t off, size_t n)
{
	return off <= FU_ARENA_SIZE && n <= FU_ARENA_SIZE - off;
}

static bool m_put16(struct fu_model *m, size_t off, u16 v)
{
	if (!m_ok(off, 2))
		return false;
	fuzz_put16(m->img + off, m->le, v);
	return true;
}

static bool m_get16(const struct fu_model *m, size_t off, u16 *v)
{
	if (!m_ok(off, 2))
		return false;
	*v = fuzz_get16(m->img + off, m->le);
	return true;
}

/* Dirty-log [off, off + len) of the used ring. */
static bool m_log(struct fu_model *m, size_t off, size_t len)
{
	u64 gpa = m->log_gpa + off;
	u64 first = gpa >> FUZZ_PAGE_SHIFT;
	u64 last = (gpa + len - 1) >> FUZZ_PAGE_SHIFT;

	if (!m->log_used)
		return true;
	if (!fuzz_log_covers(first, last))
		return false;
	fuzz_log_set(m->img, first, last);
	return true;
}

static int m_fail(struct fu_model *m, enum kvh_vring_err why, int err)
{
	m->why = why;
	return err;
}

/* Write (and log) one field of the used ring. */
static int m_used16(struct fu_model *m, size_t off, u16 v)
{
	if (!m_put16(m, m->used + off, v))
		return m_fail(m, KVH_E_USED_ACCESS, -EFAULT);
	if (!m_log(m, off, 2))
		return m_fail(m, KVH_E_LOG_ACCESS, -EFAULT);
	return 0;
}

static int m_start(struct fu_model *m)
{
	u16 idx;
	int r;

	r = m_used16(m, 0, m->used_flags);
	if (r)
		return r;
	if (!m_get16(m, m->used + 2, &idx))
		return m_fail(m, KVH_E_USED_ACCESS, -EFAULT);
	m->last_used = idx;
	m->sig_valid = false;
	return 0;
}

static void m_elem(const struct fu_model *m, u8 *p, u32 seq)
{
	fuzz_put32(p, m->le, seq * 0x9e3779b1U);
	fuzz_put32(p + 4, m->le, ~seq);
}

/* Entries seq..seq + n - 1 at slots from @slot on, no wrap. */
static int m_entries(struct fu_model *m, unsigned int slot, unsigned int n,
		     u32 seq)
{
	size_t off = m->used + 4 + 8 * slot;
	unsigned int k;

	if (!m_ok(off, 8 * n))
		return m_fail(m, KVH_E_USED_ACCESS, -EFAULT);
	for (k = 0; k < n; k++)
		m_elem(m, m->img + off + 8 * k, seq + k);
	return 0;
}

static int m_add_used(struct fu_model *m, unsigned int n)
{
	unsigned int start, first;
	int r;

	if (!n)
		return 0;
	if (n > m->num)
		return -EINVAL;
	start = m->last_used % m->num;
	first = n < m->num - start ? n : m->num - start;
	r = m_entries(m, start, first, m->seq);
	if (!r && n > first)
		r = m_entries(m, 0, n - first, m->seq + first);
	if (r)
		return r;
	if (!m_log(m, 4 + 8 * start, 8 * first) ||
	    (n > first && !m_log(m, 4, 8 * (n - first))))
		return m_fail(m, KVH_E_LOG_ACCESS, -EFAULT);
	r = m_used16(m, 2, m->last_used + n);
	if (r)
		return r;
	m->last_used += n;
	m->since_sig += n;
	return 0;
}

static bool m_should_signal(struct fu_model *m)
{
	u16 v, old = m->sig, new = m->last_used;
	bool valid = m->sig_valid && m->since_sig < 0x10000;

	if (m->notify_on_empty && m->avail_idx == m->last_avail)
		return true;
	if (!m->event_idx)
		return !m_get16(m, m->avail, &v) ||
		       !(v & VRING_AVAIL_F_NO_INTERRUPT);
	m->sig = new;
	m->sig_valid = true;
	m->since_sig = 0;
	if (!valid || !m_get16(m, m->avail + 4 + 2 * m->num, &v))
		return true;
	return (u16)(v - old) < (u16)(new - old);
}

static int m_disable(struct fu_model *m)
{
	if (m->used_flags & VRING_USED_F_NO_NOTIFY)
		return 0;
	m->used_flags |= VRING_USED_F_NO_NOTIFY;
	return m->event_idx ? 0 : m_used16(m, 0, m->used_flags);
}

static int m_enable(struct fu_model *m)
{
	u16 idx;
	int r;

	if (!(m->used_flags & VRING_USED_F_NO_NOTIFY))
		return 0;
	m->used_flags &= ~VRING_USED_F_NO_NOTIFY;
	if (m->event_idx)
		r = m_used16(m, 4 + 8 * m->num, m->avail_idx);
	else
		r = m_used16(m, 0, m->used_flags);
	if (r)
		return r;
	if (!m_get16(m, m->avail + 2, &idx))
		return m_fail(m, KVH_E_RING_ACCESS, -EFAULT);
	if ((u16)(idx - m->last_avail) > m->num)
		return m_fail(m, KVH_E_AVAIL_IDX, -EINVAL);
	return idx != m->avail_idx;
}

static int m_get_chain(struct fu_model *m)
{
	u16 head;

	if (m->avail_idx == m->last_avail) {
		if (!m_get16(m, m->avail + 2, &m->avail_idx))
			return m_fail(m, KVH_E_RING_ACCESS, -EFAULT);
		if ((u16)(m->avail_idx - m->last_avail) > m->num)
			return m_fail(m, KVH_E_AVAIL_IDX, -EINVAL);
		if (m->avail_idx == m->last_avail)
			return -EAGAIN;
	}
	if (!m_get16(m, m->avail + 4 + 2 * (m->last_avail % m->num), &head))
		return m_fail(m, KVH_E_RING_ACCESS, -EFAULT);
	if (head >= m->num)
		return m_fail(m, KVH_E_HEAD, -EINVAL);
	m->last_avail++;
	return 0;
}

/* The guest (or the VMM) stores to its own memory: engine and model. */
static void fu_guest16(struct fu_model *m, u8 *arena, size_t off, u16 v)
{
	if (m_put16(m, off, v))
		fuzz_put16(arena + off, m->le, v);
}

/* Batches the vq core could publish go through the ring ops on odd seq. */
static int fu_add_used(struct kvh_vring *vr, struct fu_model *m,
		       unsigned int n)
{
	struct vring_used_elem *e;
	struct kvh_used *u;
	unsigned int k;
	int r;

	if (n <= KVH_USED_BATCH && (m->seq & 1)) {
		u = malloc(n * sizeof(*u));
		if (!u)
			abort();
		for (k = 0; k < n; k++) {
			u[k].id = (m->seq + k) * 0x9e3779b1U;
			u[k].len = ~(m->seq + k);
		}
		r = kvh_split_ring_ops.add_used(vr, u, n);
		free(u);
		return r;
	}
	e = malloc(n * sizeof(*e));
	if (!e)
		abort();
	for (k = 0; k < n; k++)
		e[k] = kvh_used_elem(vr, (m->seq + k) * 0x9e3779b1U,
				     ~(m->seq + k));
	r = kvh_vring_add_used(vr, e, n);
	free(e);
	return r;
}

static bool fu_is_barrier(const struct fuzz_acc *a, u8 kind)
{
	return a->kind == FUZZ_MB || a->kind == kind;
}

/*
 * The ordering vring.c promises, from the engine's accesses during one
 * step: entries, smp_wmb(), used->idx; smp_mb() before should_signal reads
 * the guest's suppression state; after re-enabling notifications,
 * smp_mb() before avail->idx is read again; avail->idx, smp_rmb(), then
 * the ring entries.  And no guest byte read twice in one call.
 */
static void fu_check_order(const struct fu_model *m, int step, int op)
{
	const struct fuzz_acc *a = fuzz_acc.acc, *b;
	int last_write = -1, last_wmb = -1, last_mb = -1, idx_read = -1;
	int last_rmb = -1, first_read = -1;
	unsigned int i, j;

	if (fuzz_acc.lost)
		return;
	for (i = 0; i < fuzz_acc.n; i++, a++) {
		if (a->kind != FUZZ_READ && a->kind != FUZZ_WRITE) {
			if (fu_is_barrier(a, FUZZ_WMB))
				last_wmb = i;
			if (fu_is_barrier(a, FUZZ_RMB))
				last_rmb = i;
			if (a->kind == FUZZ_MB)
				last_mb = i;
			continue;
		}
		if (a->kind == FUZZ_WRITE) {
			fuzz_check(!fuzz_acc_is(a, FUZZ_WRITE, m->used + 2, 2) ||
				   last_write < last_wmb,
				   "step %d op %d: used->idx written before the entries are ordered by smp_wmb()",
				   step, op);
			last_write = i;
			continue;
		}
		if (first_read < 0)
			first_read = i;
		fuzz_check(op != FU_SIGNAL || last_mb >= 0,
			   "step %d op %d: should_signal read %#zx before smp_mb()",
			   step, op, a->off);
		fuzz_check(op != FU_ENABLE || last_mb > last_write,
			   "step %d op %d: enable_notify re-read %#zx before smp_mb()",
			   step, op, a->off);
		fuzz_check(idx_read < 0 || last_rmb > idx_read,
			   "step %d op %d: read %#zx after avail->idx without smp_rmb()",
			   step, op, a->off);
		if (fuzz_acc_is(a, FUZZ_READ, m->avail + 2, 2))
			idx_read = i;
		for (j = first_read, b = &fuzz_acc.acc[j]; j < i; j++, b++)
			fuzz_check(b->kind != FUZZ_READ ||
				   b->off + b->len <= a->off ||
				   a->off + a->len <= b->off,
				   "step %d op %d: guest bytes at %#zx read twice",
				   step, op, a->off);
	}
}

static void fu_check_range(const struct fu_model *m, const u8 *arena,
			   int step, int op, size_t off, size_t len)
{
	size_t i;

	if (off >= FU_ARENA_SIZE)
		return;
	if (len > FU_ARENA_SIZE - off)
		len = FU_ARENA_SIZE - off;
	if (!memcmp(arena + off, m->img + off, len))
		return;
	for (i = off; arena[i] == m->img[i]; i++)
		;
	fuzz_fail("step %d op %d: arena[%#zx] = %#x, model %#x (used %#zx, avail %#zx)",
		  step, op, i, arena[i], m->img[i], m->used, m->avail);
}

static void fu_check(const struct kvh_vring *vr, const struct fu_model *m,
		     const u8 *arena, int step, int op, int got, int want,
		     const u64 *before)
{
	bool counted = m->why != KVH_E_NR;
	unsigned int i;

	fuzz_check(got == want, "step %d op %d: engine %d, model %d (%s)",
		   step, op, got, want,
		   counted ? kvh_vring_err_names[m->why] : "-");
	if (counted)
		fuzz_check(vr->last_err == m->why,
			   "step %d op %d: reason %s, model %s", step, op,
			   vr->last_err < KVH_E_NR ?
			   kvh_vring_err_names[vr->last_err] : "?",
			   kvh_vring_err_names[m->why]);
	for (i = 0; i < KVH_E_NR; i++)
		fuzz_check(vr->errors[i] ==
			   before[i] + (counted && i == m->why),
			   "step %d op %d: errors[%s] %llu, before %llu",
			   step, op, kvh_vring_err_names[i],
			   (unsigned long long)vr->errors[i],
			   (unsigned long long)before[i]);
	fuzz_check(vr->last_used_idx == m->last_used,
		   "step %d op %d: last_used_idx %u, model %u", step, op,
		   vr->last_used_idx, m->last_used);
	fuzz_check(vr->used_flags == m->used_flags,
		   "step %d op %d: used_flags %#x, model %#x", step, op,
		   vr->used_flags, m->used_flags);
	fuzz_check(vr->last_avail_idx == m->last_avail,
		   "step %d op %d: last_avail_idx %u, model %u", step, op,
		   vr->last_avail_idx, m->last_avail);
	fuzz_check(counted || vr->avail_idx == m->avail_idx,
		   "step %d op %d: avail_idx %u, model %u", step, op,
		   vr->avail_idx, m->avail_idx);
	/* Where a step may write; fu_check_all() covers the rest at the end. */
	fu_check_range(m, arena, step, op, 0, FU_LOG_SIZE);
	fu_check_range(m, arena, step, op, m->used, 4 + 8 * m->num + 2);
	fu_check_range(m, arena, step, op, m->avail, 4 + 2 * m->num + 2);
}

int fuzz_one_input(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u64 before[KVH_E_NR];
	struct kvh_mem empty = { 0 };
	struct kvh_vring vr;
	struct kvh_chain c;
	struct iovec iov;
	struct kvh_log_ent log;
	struct fu_model m;
	int step, op, got, want;
	unsigned int n;
	u16 v;
	u8 *arena, flags;

	memset(&m, 0, sizeof(m));
	m.num = 1U << (fuzz_u8(&in) % 9);
	flags = fuzz_u8(&in);
	m.event_idx = flags & FU_F_EVENT_IDX;
	m.notify_on_empty = flags & FU_F_NOTIFY_ON_EMPTY;
	m.log_used = flags & FU_F_LOG_USED;
	m.le = !(flags & FU_F_BIG_ENDIAN);
	m.used = FU_GUEST_OFF + (fuzz_u16(&in) & ~3U);
	m.avail = FU_GUEST_OFF + (fuzz_u16(&in) & ~1U);
	v = fuzz_u16(&in);
	m.last_avail = fuzz_u16(&in);
	m.avail_idx = m.last_avail;
	m.log_gpa = fuzz_u32(&in) & ~3U;

	arena = fuzz_arena_alloc(FU_ARENA_SIZE);
	fuzz_log.base = (unsigned long)arena;
	fuzz_log.size = FU_LOG_SIZE;
	m.img = calloc(1, FU_ARENA_SIZE);
	if (!m.img)
		abort();

	memset(&vr, 0, sizeof(vr));
	vr.num = m.num;
	vr.desc = (struct vring_desc *)(arena + FU_DESC_OFF);
	vr.avail = (struct vring_avail *)((unsigned long)arena + m.avail);
	vr.used = (struct vring_used *)((unsigned long)arena + m.used);
	vr.mem = &empty;
	vr.log_base = arena;
	vr.log_used_gpa = m.log_gpa;
	vr.log_used = m.log_used;
	vr.event_idx = m.event_idx;
	vr.notify_on_empty = m.notify_on_empty;
	vr.little_endian = m.le;
	vr.iov_max = 1;
	kvh_vring_reset(&vr);
	vr.last_avail_idx = m.last_avail;
	vr.avail_idx = m.last_avail;
	memset(&c, 0, sizeof(c));
	c.iov = &iov;
	c.log = &log;

	/* The VMM leaves used->idx, then starts the ring. */
	op = FU_START;
	fu_guest16(&m, arena, m.used + 2, v);
	for (step = -1; step < FU_MAX_STEPS; step++) {
		m.why = KVH_E_NR;
		memcpy(before, vr.errors, sizeof(before));
		memset(arena, 0, FU_LOG_SIZE);
		memset(m.img, 0, FU_LOG_SIZE);
		got = 0;
		want = 0;
		fuzz_acc_reset();
		switch (op) {
		case FU_ADD_USED:
			n = fuzz_u16(&in) % (m.num + 2);
			got = fu_add_used(&vr, &m, n);
			want = m_add_used(&m, n);
			if (!want)
				m.seq += n;
			break;
		case FU_SIGNAL:
			got = kvh_vring_should_signal(&vr);
			want = m_should_signal(&m);
			break;
		case FU_USED_EVENT:
			fu_guest16(&m, arena, m.avail + 4 + 2 * m.num,
				   m.last_used + fuzz_u16(&in));
			break;
		case FU_AVAIL_FLAGS:
			fu_guest16(&m, arena, m.avail, fuzz_u16(&in));
			break;
		case FU_AVAIL_IDX:
			fu_guest16(&m, arena, m.avail + 2,
				   m.last_avail + fuzz_u16(&in));
			break;
		case FU_AVAIL_RING:
			n = fuzz_u8(&in) % m.num;
			fu_guest16(&m, arena, m.avail + 4 + 2 * n,
				   fuzz_u8(&in));
			break;
		case FU_GET_CHAIN:
			got = kvh_vring_get_chain(&vr, &c);
			want = m_get_chain(&m);
			fuzz_check(got || (!c.out && !c.in && !c.nlog),
				   "step %d: empty chain has %u+%u iovecs",
				   step, c.out, c.in);
			break;
		case FU_DISABLE:
			got = kvh_vring_disable_notify(&vr);
			want = m_disable(&m);
			break;
		case FU_ENABLE:
			got = kvh_vring_enable_notify(&vr);
			want = m_enable(&m);
			break;
		case FU_START:
			if (step >= 0)
				fu_guest16(&m, arena, m.used + 2,
					   fuzz_u16(&in));
			vr.used_flags = 0;
			m.used_flags = 0;
			got = kvh_vring_start(&vr);
			want = m_start(&m);
			break;
		case FU_LOG_TOGGLE:
			m.log_used = !m.log_used;
			vr.log_used = m.log_used;
			break;
		}
		fuzz_trace("step %d op %d: %d (%s) used %u avail %u/%u flags %#x\n",
			   step, op, got, m.why < KVH_E_NR ?
			   kvh_vring_err_names[m.why] : "-", vr.last_used_idx,
			   vr.last_avail_idx, vr.avail_idx, vr.used_flags);
		fu_check(&vr, &m, arena, step, op, got, want, before);
		fu_check_order(&m, step, op);
		/* A counted failure stops the queue, as kvh_vq_fail() does. */
		if (m.why != KVH_E_NR || !in.left)
			break;
		op = fuzz_u8(&in) % FU_OP_NR;
	}
	fu_check_range(&m, arena, step, op, 0, FU_ARENA_SIZE);
	free(m.img);
	fuzz_arena_free(arena);
	return 0;
}
