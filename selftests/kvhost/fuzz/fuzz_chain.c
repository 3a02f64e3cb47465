// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the memory table (drivers/kvhost/mem.c) and the
 * split-ring chain walker (kvh_vring_get_chain() in drivers/kvhost/vring.c),
 * both built unmodified against the shim headers.
 *
 * Every result is checked twice: against invariants that any correct walk
 * satisfies, and against a deliberately simple reference walker written
 * here (linear region search, byte-by-byte guest reads, 64-bit sums).
 * The engine's recorded guest accesses (fuzz_hooks.h) must be the
 * reference's, each guest byte read once, avail->idx before an smp_rmb()
 * before the ring; the walk must write nothing and the dirty log exactly
 * the expected pages.  Any difference aborts.
 *
 * Input layout (little-endian, missing bytes read as 0):
 *   0   u8  ring size: 1 << (v % 9), so 1..256
 *   1   u8  flags: FC_F_*
 *   2   u8  iov_max when not FC_F_IOV_LARGE: 1 + v % 16
 *   3   u8  regions: 1 + v % 4
 *   4   u16 last_avail_idx (as VHOST_SET_VRING_BASE)
 *   6   u16 descriptor table offset in the guest area
 *   8   u16 avail ring offset in the guest area (rounded down to even)
 *   10  u32 initial kvh_mem_find() hint
 *   14  u32 bytes "written" into each chain, modulo its in_len + 1, for
 *       kvh_vring_log_write() when logging
 *   18  4 x { u64 gpa, u64 size, u64 uaddr offset from the guest area }
 *   114 4 x { u8 region, u8 iov room, s16 gpa delta, u32 len }
 *       kvh_mem_translate() probes around a region's start
 *   146 guest area contents (rings, indirect tables, buffers)
 *
 * The arena is the guest area (FC_GUEST_SIZE) followed by the dirty
 * bitmap (FC_LOG_SIZE bytes, guest pages 0..FC_LOG_SIZE * 8 - 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define FC_GUEST_SIZE	0x4000
#define FC_LOG_SIZE	64
#define FC_ARENA_SIZE	(FC_GUEST_SIZE + FC_LOG_SIZE)
#define FC_MAX_REGIONS	4
#define FC_NPROBES	4
#define FC_DESC_SIZE	16
#define FC_LEN_MAX	0xffffffffULL	/* most bytes each way per chain */

#define FC_F_LOG	0x01	/* vr->log: dirty-log every writable buffer */
#define FC_F_IOV_LARGE	0x02	/* iov_max = KVH_IOV_MAX */
#define FC_F_BIG_ENDIAN	0x04	/* legacy big-endian ring */
#define FC_F_UNGET	0x08	/* give every other chain back, refetch it */

struct fc_probe {
	u8 region;
	u8 room;
	s16 delta;
	u32 len;
};

struct fc_cfg {
	unsigned int num;
	u8 flags;
	unsigned int iov_max;
	u32 nregions;
	u16 last_avail;
	u16 desc_off;
	u16 avail_off;
	u32 hint;
	u32 written;
	struct kvh_mem_region reg[FC_MAX_REGIONS];	/* uaddr: offset */
	struct fc_probe probe[FC_NPROBES];
};

/* The reference walker's view of the ring. */
struct fc_ref {
	const struct kvh_mem *mem;
	unsigned int num;
	unsigned int iov_max;
	bool log;
	bool le;
	unsigned long desc;
	unsigned long avail;
	u16 last_avail;
	u16 avail_idx;
};

/* What the reference walker expects of one kvh_vring_get_chain(). */
struct fc_want {
	int ret;
	enum kvh_vring_err why;
	bool fetched;
	u16 head;
	bool writable;
	unsigned int out;
	unsigned int in;
	unsigned int nlog;
	u64 out_len;
	u64 in_len;
	struct iovec *iov;
	struct kvh_log_ent *log;
};

static const char *fc_why(int ret, enum kvh_vring_err why)
{
	if (ret >= 0 || ret == -EAGAIN)
		return "-";
	return why < KVH_E_NR ? kvh_vring_err_names[why] : "?";
}

static void fc_parse(struct fuzz_in *in, struct fc_cfg *cfg)
{
	unsigned int i;
	u8 iov;

	memset(cfg, 0, sizeof(*cfg));
	cfg->num = 1U << (fuzz_u8(in) % 9);
	cfg->flags = fuzz_u8(in);
	iov = fuzz_u8(in);
	cfg->iov_max = cfg->flags & FC_F_IOV_LARGE ? KVH_IOV_MAX :
						    1 + iov % 16;
	cfg->nregions = 1 + fuzz_u8(in) % FC_MAX_REGIONS;
	cfg->last_avail = fuzz_u16(in);
	cfg->desc_off = fuzz_u16(in);
	cfg->avail_off = fuzz_u16(in) & ~1U;
	cfg->hint = fuzz_u32(in);
	cfg->written = fuzz_u32(in);
	for (i = 0; i < FC_MAX_REGIONS; i++) {
		cfg->reg[i].gpa = fuzz_u64(in);
		cfg->reg[i].size = fuzz_u64(in);
		cfg->reg[i].uaddr = fuzz_u64(in);
	}
	for (i = 0; i < FC_NPROBES; i++) {
		cfg->probe[i].region = fuzz_u8(in);
		cfg->probe[i].room = fuzz_u8(in);
		cfg->probe[i].delta = (s16)fuzz_u16(in);
		cfg->probe[i].len = fuzz_u32(in);
	}
}

/* --- the reference: memory table --------------------------------------- */

static bool ref_region_has(const struct kvh_mem_region *r, u64 gpa)
{
	return gpa >= r->gpa && gpa - r->gpa <= r->size - 1;
}

static const struct kvh_mem_region *ref_find(const struct kvh_mem *mem,
					     u64 gpa)
{
	u32 i;

	for (i = 0; i < mem->nregions; i++)
		if (ref_region_has(&mem->regions[i], gpa))
			return &mem->regions[i];
	return NULL;
}

/* kvh_mem_finalize() on the table as given: -EFAULT, -EINVAL or 0. */
static int ref_finalize(const struct kvh_mem_region *reg, u32 n)
{
	u64 end_a, end_b;
	u32 i, j;

	for (i = 0; i < n; i++)
		if (!reg[i].size ||
		    __builtin_add_overflow(reg[i].gpa, reg[i].size - 1, &end_a) ||
		    __builtin_add_overflow(reg[i].uaddr, reg[i].size - 1,
					   &end_a))
			return -EFAULT;
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			end_a = reg[i].gpa + (reg[i].size - 1);
			end_b = reg[j].gpa + (reg[j].size - 1);
			if (reg[i].gpa <= end_b && reg[j].gpa <= end_a)
				return -EINVAL;
		}
	}
	return 0;
}

/*
 * kvh_mem_translate() by the book: split [gpa, gpa + len) at region ends,
 * one iovec per piece.
 */
static int ref_translate(const struct kvh_mem *mem, u64 gpa, u64 len,
			 struct iovec *iov, unsigned int room)
{
	const struct kvh_mem_region *r;
	unsigned int n = 0;
	u64 left_in_region, chunk;

	while (len) {
		r = ref_find(mem, gpa);
		if (!r)
			return -EFAULT;
		if (n == room)
			return -ENOBUFS;
		left_in_region = r->size - 1 - (gpa - r->gpa);	/* minus one */
		chunk = len - 1 <= left_in_region ? len : left_in_region + 1;
		iov[n].iov_base = (void *)(unsigned long)(r->uaddr +
							  (gpa - r->gpa));
		iov[n].iov_len = chunk;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return n;
}

/* --- guest reads of one kvh_vring_get_chain() ----------------------------- */

/* How often the engine and the reference read each arena byte. */
static u8 fc_eng_reads[FC_ARENA_SIZE];
static u8 fc_ref_reads[FC_ARENA_SIZE];
static u32 fc_touched[FC_ARENA_SIZE];
static unsigned int fc_ntouched;

static void fc_count_reads(u8 *map, size_t off, size_t len)
{
	size_t k;

	for (k = off; k < off + len; k++) {
		if (!fc_eng_reads[k] && !fc_ref_reads[k])
			fc_touched[fc_ntouched++] = k;
		if (map[k] < 0xff)
			map[k]++;
	}
}

/*
 * The engine must read exactly the bytes the reference read, each as
 * often: a second read of a guest value is a second, unvalidated value.
 * Where the reference itself read a byte more than once (a loop revisits
 * a descriptor, tables alias each other), the engine may read it at most
 * as often; every other byte is still held to once.  (After a fault, the
 * engine may have skipped the readable head of a copy that the byte-wise
 * reference did read.)  And
 * when it fetched avail->idx, the first access must be that read and the
 * next an smp_rmb(), before any ring entry.
 */
static void fc_check_reads(const struct fc_want *w, size_t avail_off)
{
	bool faulted = w->ret == -EFAULT;
	unsigned int i, bad = FC_ARENA_SIZE;
	bool under;
	u32 k;

	if (fuzz_acc.lost)
		return;
	for (i = 0; i < fuzz_acc.n; i++) {
		fuzz_check(fuzz_acc.acc[i].kind != FUZZ_WRITE,
			   "get_chain wrote guest memory at %#zx",
			   fuzz_acc.acc[i].off);
		if (fuzz_acc.acc[i].kind == FUZZ_READ)
			fc_count_reads(fc_eng_reads, fuzz_acc.acc[i].off,
				       fuzz_acc.acc[i].len);
	}
	for (i = 0; i < fc_ntouched; i++) {
		k = fc_touched[i];
		under = fc_eng_reads[k] < fc_ref_reads[k] && !faulted &&
			fc_ref_reads[k] == 1;
		if ((fc_eng_reads[k] > fc_ref_reads[k] || under) &&
		    bad == FC_ARENA_SIZE)
			bad = k;
	}
	fuzz_check(bad == FC_ARENA_SIZE,
		   "guest byte %#x read %u times, by the reference %u times",
		   bad, fc_eng_reads[bad], fc_ref_reads[bad]);
	for (i = 0; i < fc_ntouched; i++) {
		fc_eng_reads[fc_touched[i]] = 0;
		fc_ref_reads[fc_touched[i]] = 0;
	}
	fc_ntouched = 0;
	if (!w->fetched)
		return;
	fuzz_check(fuzz_acc.n >= 2 &&
		   fuzz_acc_is(&fuzz_acc.acc[0], FUZZ_READ, avail_off + 2, 2) &&
		   (fuzz_acc.acc[1].kind == FUZZ_RMB ||
		    fuzz_acc.acc[1].kind == FUZZ_MB),
		   "avail->idx not read first, or not followed by smp_rmb()");
}

/* --- the reference: chain walk ----------------------------------------- */

static bool ref_user_read(unsigned long uaddr, u8 *dst, size_t n)
{
	if (!fuzz_user_ok(uaddr, n))
		return false;
	memcpy(dst, (const void *)uaddr, n);
	fc_count_reads(fc_ref_reads, uaddr - kvh_arena.base, n);
	return true;
}

/* Guest-physical read, one byte (and one region lookup) at a time. */
static bool ref_gpa_read(const struct fc_ref *ref, u64 gpa, u8 *dst, size_t n)
{
	const struct kvh_mem_region *r;
	size_t k;

	for (k = 0; k < n; k++) {
		r = ref_find(ref->mem, gpa + k);
		if (!r || !ref_user_read(r->uaddr + (gpa + k - r->gpa),
					 dst + k, 1))
			return false;
	}
	return true;
}

static int ref_fail(struct fc_want *w, enum kvh_vring_err why, int err)
{
	w->ret = err;
	w->why = why;
	return err;
}

static int ref_add(const struct fc_ref *ref, struct fc_want *w,
		   u64 addr, u32 len, u16 flags)
{
	bool write = flags & VRING_DESC_F_WRITE;
	unsigned int used = w->out + w->in;
	u64 end;
	int n;

	if (len && __builtin_add_overflow(addr, (u64)len - 1, &end))
		return ref_fail(w, KVH_E_DESC_WRAP, -EINVAL);
	if (write) {
		if (!len && ref->log)
			return ref_fail(w, KVH_E_ZERO_LEN_LOG, -EINVAL);
		if (w->in_len + len > FC_LEN_MAX)
			return ref_fail(w, KVH_E_CHAIN_LEN, -EINVAL);
	} else {
		if (w->writable)
			return ref_fail(w, KVH_E_ORDER, -EINVAL);
		if (w->out_len + len > FC_LEN_MAX)
			return ref_fail(w, KVH_E_CHAIN_LEN, -EINVAL);
	}
	n = ref_translate(ref->mem, addr, len, w->iov + used,
			  ref->iov_max - used);
	if (n == -ENOBUFS)
		return ref_fail(w, KVH_E_IOV_LIMIT, -ENOBUFS);
	if (n < 0)
		return ref_fail(w, KVH_E_UNMAPPED, -EFAULT);
	if (write) {
		w->writable = true;
		w->in += n;
		w->in_len += len;
		if (ref->log) {
			w->log[w->nlog].gpa = addr;
			w->log[w->nlog].len = len;
			w->nlog++;
		}
	} else {
		w->out += n;
		w->out_len += len;
	}
	return 0;
}

/* A table can span at most every region once. */
#define FC_PIECES_MAX 8

static int ref_indirect(const struct fc_ref *ref, struct fc_want *w,
			u64 addr, u32 len)
{
	u32 count = len / FC_DESC_SIZE, j = 0, steps = 0;
	struct iovec pieces[FC_PIECES_MAX];
	u8 d[FC_DESC_SIZE];
	u16 flags;
	u64 end;
	int r;

	if (!len || len % FC_DESC_SIZE || count > ref->iov_max)
		return ref_fail(w, KVH_E_INDIRECT_LEN, -EINVAL);
	if (__builtin_add_overflow(addr, (u64)len - 1, &end))
		return ref_fail(w, KVH_E_DESC_WRAP, -EINVAL);
	if (ref_translate(ref->mem, addr, len, pieces, FC_PIECES_MAX) < 0)
		return ref_fail(w, KVH_E_INDIRECT_MAP, -EFAULT);
	for (;;) {
		if (++steps > count)
			return ref_fail(w, KVH_E_LOOP, -EINVAL);
		if (!ref_gpa_read(ref, addr + (u64)j * FC_DESC_SIZE, d,
				  sizeof(d)))
			return ref_fail(w, KVH_E_INDIRECT_MAP, -EFAULT);
		flags = fuzz_get16(d + 12, ref->le);
		if (flags & VRING_DESC_F_INDIRECT)
			return ref_fail(w, KVH_E_INDIRECT_NESTED, -EINVAL);
		r = ref_add(ref, w, fuzz_get64(d, ref->le),
			    fuzz_get32(d + 8, ref->le), flags);
		if (r)
			return r;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		j = fuzz_get16(d + 14, ref->le);
		if (j >= count)
			return ref_fail(w, KVH_E_NEXT, -EINVAL);
	}
}

static void ref_get_chain(struct fc_ref *ref, struct fc_want *w)
{
	unsigned int steps = 0;
	u8 d[FC_DESC_SIZE];
	u16 i, flags;

	w->ret = 0;
	w->why = KVH_E_NR;
	w->fetched = false;
	if (ref->avail_idx == ref->last_avail) {
		if (!ref_user_read(ref->avail + 2, d, 2)) {
			ref_fail(w, KVH_E_RING_ACCESS, -EFAULT);
			return;
		}
		if ((u16)(fuzz_get16(d, ref->le) - ref->last_avail) >
		    ref->num) {
			ref_fail(w, KVH_E_AVAIL_IDX, -EINVAL);
			return;
		}
		ref->avail_idx = fuzz_get16(d, ref->le);
		if (ref->avail_idx == ref->last_avail) {
			w->ret = -EAGAIN;
			return;
		}
		w->fetched = true;
	}
	if (!ref_user_read(ref->avail + 4 + 2 * (ref->last_avail % ref->num),
			   d, 2)) {
		ref_fail(w, KVH_E_RING_ACCESS, -EFAULT);
		return;
	}
	w->head = fuzz_get16(d, ref->le);
	if (w->head >= ref->num) {
		ref_fail(w, KVH_E_HEAD, -EINVAL);
		return;
	}
	w->writable = false;
	w->out = 0;
	w->in = 0;
	w->nlog = 0;
	w->out_len = 0;
	w->in_len = 0;
	for (i = w->head;; i = fuzz_get16(d + 14, ref->le)) {
		if (++steps > ref->num) {
			ref_fail(w, KVH_E_LOOP, -EINVAL);
			return;
		}
		if (!ref_user_read(ref->desc + (unsigned long)i * FC_DESC_SIZE,
				   d, sizeof(d))) {
			ref_fail(w, KVH_E_RING_ACCESS, -EFAULT);
			return;
		}
		flags = fuzz_get16(d + 12, ref->le);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (flags & VRING_DESC_F_NEXT) {
				ref_fail(w, KVH_E_INDIRECT_FLAGS, -EINVAL);
				return;
			}
			if (ref_indirect(ref, w, fuzz_get64(d, ref->le),
					 fuzz_get32(d + 8, ref->le)))
				return;
			break;
		}
		if (ref_add(ref, w, fuzz_get64(d, ref->le),
			    fuzz_get32(d + 8, ref->le), flags))
			return;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (fuzz_get16(d + 14, ref->le) >= ref->num) {
			ref_fail(w, KVH_E_NEXT, -EINVAL);
			return;
		}
	}
	ref->last_avail++;
}

/* --- checks ------------------------------------------------------------ */

/* Does the iovec lie wholly in one region's user range? */
static bool fc_iov_in_mem(const struct kvh_mem *mem, const struct iovec *iov)
{
	unsigned long base = (unsigned long)iov->iov_base;
	const struct kvh_mem_region *r;
	u32 i;

	if (!iov->iov_len)
		return false;
	for (i = 0; i < mem->nregions; i++) {
		r = &mem->regions[i];
		if (base >= r->uaddr && base - r->uaddr <= r->size - 1 &&
		    iov->iov_len <= r->size - (base - r->uaddr))
			return true;
	}
	return false;
}

/* What any successful walk satisfies, whatever the reference says. */
static void fc_check_invariants(const struct kvh_vring *vr,
				const struct kvh_chain *c)
{
	u64 out_len = 0, in_len = 0, log_len = 0;
	unsigned int i;

	fuzz_check(c->head < vr->num, "head %u num %u", c->head, vr->num);
	fuzz_check(c->out + c->in <= vr->iov_max, "out %u in %u iov_max %u",
		   c->out, c->in, vr->iov_max);
	for (i = 0; i < c->out + c->in; i++) {
		fuzz_check(fc_iov_in_mem(vr->mem, &c->iov[i]),
			   "iov[%u] %p+%zu outside every region", i,
			   c->iov[i].iov_base, c->iov[i].iov_len);
		if (i < c->out)
			out_len += c->iov[i].iov_len;
		else
			in_len += c->iov[i].iov_len;
	}
	fuzz_check(out_len == c->out_len, "out_len %u, iovecs sum %llu",
		   c->out_len, (unsigned long long)out_len);
	fuzz_check(in_len == c->in_len, "in_len %u, iovecs sum %llu",
		   c->in_len, (unsigned long long)in_len);
	fuzz_check(c->nlog <= c->in, "nlog %u in %u", c->nlog, c->in);
	fuzz_check(vr->log || !c->nlog, "nlog %u without logging", c->nlog);
	fuzz_check(!c->in || c->writable, "in %u but not writable", c->in);
	for (i = 0; i < c->nlog; i++) {
		fuzz_check(c->log[i].len, "log[%u] empty", i);
		log_len += c->log[i].len;
	}
	fuzz_check(!vr->log || log_len == c->in_len,
		   "log covers %llu bytes, in_len %u",
		   (unsigned long long)log_len, c->in_len);
}

static void fc_check_errors(const struct kvh_vring *vr, int r,
			    const u64 *before)
{
	unsigned int i;
	bool err = r && r != -EAGAIN;

	if (err)
		fuzz_check(vr->last_err < KVH_E_NR, "last_err %d",
			   vr->last_err);
	for (i = 0; i < KVH_E_NR; i++) {
		u64 want = before[i] + (err && i == vr->last_err);

		fuzz_check(vr->errors[i] == want,
			   "errors[%s] %llu, want %llu (ret %d)",
			   kvh_vring_err_names[i],
			   (unsigned long long)vr->errors[i],
			   (unsigned long long)want, r);
	}
}

static void fc_compare(const struct kvh_vring *vr, const struct kvh_chain *c,
		       int r, const struct fc_want *w)
{
	unsigned int i;

	fuzz_check(r == w->ret, "get_chain %d (%s), reference %d (%s)",
		   r, fc_why(r, vr->last_err), w->ret, fc_why(w->ret, w->why));
	if (r && r != -EAGAIN)
		fuzz_check(vr->last_err == w->why, "reason %s, reference %s",
			   fc_why(r, vr->last_err), fc_why(w->ret, w->why));
	if (r)
		return;
	fuzz_check(c->head == w->head, "head %u, reference %u",
		   c->head, w->head);
	fuzz_check(c->writable == w->writable, "writable %d, reference %d",
		   c->writable, w->writable);
	fuzz_check(c->out == w->out && c->in == w->in,
		   "out %u in %u, reference %u %u", c->out, c->in,
		   w->out, w->in);
	fuzz_check(c->out_len == w->out_len && c->in_len == w->in_len,
		   "out_len %u in_len %u, reference %llu %llu",
		   c->out_len, c->in_len, (unsigned long long)w->out_len,
		   (unsigned long long)w->in_len);
	for (i = 0; i < c->out + c->in; i++)
		fuzz_check(c->iov[i].iov_base == w->iov[i].iov_base &&
			   c->iov[i].iov_len == w->iov[i].iov_len,
			   "iov[%u] %p+%zu, reference %p+%zu", i,
			   c->iov[i].iov_base, c->iov[i].iov_len,
			   w->iov[i].iov_base, w->iov[i].iov_len);
	fuzz_check(c->nlog == w->nlog, "nlog %u, reference %u",
		   c->nlog, w->nlog);
	for (i = 0; i < c->nlog; i++)
		fuzz_check(c->log[i].gpa == w->log[i].gpa &&
			   c->log[i].len == w->log[i].len,
			   "log[%u] %#llx+%u, reference %#llx+%u", i,
			   (unsigned long long)c->log[i].gpa, c->log[i].len,
			   (unsigned long long)w->log[i].gpa, w->log[i].len);
}

/* --- the memory table -------------------------------------------------- */

static struct kvh_mem *fc_build_mem(const struct fc_cfg *cfg,
				    unsigned long guest)
{
	struct kvh_mem *mem;
	u32 i;

	mem = malloc(sizeof(*mem) + cfg->nregions * sizeof(mem->regions[0]));
	if (!mem)
		abort();
	mem->nregions = cfg->nregions;
	for (i = 0; i < cfg->nregions; i++) {
		mem->regions[i] = cfg->reg[i];
		mem->regions[i].uaddr = guest + cfg->reg[i].uaddr;
	}
	return mem;
}

static bool fc_same_region(const struct kvh_mem_region *a,
			   const struct kvh_mem_region *b)
{
	return a->gpa == b->gpa && a->size == b->size && a->uaddr == b->uaddr;
}

/* kvh_mem_finalize() against the reference; true when it accepted. */
static bool fc_finalize(struct kvh_mem *mem)
{
	struct kvh_mem_region orig[FC_MAX_REGIONS];
	const struct kvh_mem_region *r, *prev;
	u32 n = mem->nregions, i, j, hits;
	int want, got;

	memcpy(orig, mem->regions, n * sizeof(orig[0]));
	want = ref_finalize(orig, n);
	got = kvh_mem_finalize(mem);
	fuzz_trace("finalize: %d, %u regions\n", got, n);
	fuzz_check(got == want, "kvh_mem_finalize %d, reference %d", got, want);
	if (got)
		return false;
	fuzz_check(mem->nregions == n, "nregions %u -> %u", n, mem->nregions);
	for (i = 0; i < n; i++) {
		r = &mem->regions[i];
		for (hits = 0, j = 0; j < n; j++)
			hits += fc_same_region(r, &orig[j]);
		fuzz_check(hits == 1, "region %u not from the input", i);
		if (!i)
			continue;
		prev = &mem->regions[i - 1];
		fuzz_check(prev->gpa + (prev->size - 1) < r->gpa,
			   "regions %u and %u unsorted or overlapping",
			   i - 1, i);
	}
	return true;
}

static void fc_find_probe(const struct kvh_mem *mem, u32 hint, u64 gpa)
{
	const struct kvh_mem_region *got, *want = ref_find(mem, gpa);

	got = kvh_mem_find(mem, &hint, gpa);
	fuzz_check(got == want, "kvh_mem_find(%#llx) region %td, reference %td",
		   (unsigned long long)gpa, got ? got - mem->regions : -1,
		   want ? want - mem->regions : -1);
	fuzz_check(!got || hint < mem->nregions, "hint %u", hint);
}

static void fc_probes(const struct kvh_mem *mem, const struct fc_cfg *cfg)
{
	struct iovec *got_iov, *want_iov;
	const struct kvh_mem_region *r;
	const struct fc_probe *p;
	unsigned int i, k, room;
	int got, want;
	u32 hint;
	u64 gpa, end;

	for (i = 0; i < FC_NPROBES; i++) {
		p = &cfg->probe[i];
		r = &mem->regions[p->region % mem->nregions];
		gpa = r->gpa + (u64)(s64)p->delta;
		fc_find_probe(mem, cfg->hint, gpa);
		fc_find_probe(mem, cfg->hint, gpa + p->len);
		fc_find_probe(mem, cfg->hint, r->gpa + (r->size - 1));
		fc_find_probe(mem, cfg->hint, r->gpa + r->size);
		/* The caller guarantees that the range does not wrap. */
		if (p->len && __builtin_add_overflow(gpa, p->len - 1ULL, &end))
			continue;
		room = p->room % 9;
		got_iov = malloc(room * sizeof(*got_iov));
		want_iov = malloc(room * sizeof(*want_iov));
		if (!got_iov || !want_iov)
			abort();
		hint = cfg->hint;
		got = kvh_mem_translate(mem, &hint, gpa, p->len, got_iov, room);
		want = ref_translate(mem, gpa, p->len, want_iov, room);
		fuzz_trace("translate(%#llx, %u, room %u): %d\n",
			   (unsigned long long)gpa, p->len, room, got);
		fuzz_check(got == want,
			   "kvh_mem_translate(%#llx, %u, room %u) %d, reference %d",
			   (unsigned long long)gpa, p->len, room, got, want);
		for (k = 0; got > 0 && k < (unsigned int)got; k++)
			fuzz_check(got_iov[k].iov_base == want_iov[k].iov_base &&
				   got_iov[k].iov_len == want_iov[k].iov_len,
				   "translate iov[%u] %p+%zu, reference %p+%zu",
				   k, got_iov[k].iov_base, got_iov[k].iov_len,
				   want_iov[k].iov_base, want_iov[k].iov_len);
		fuzz_check(hint == cfg->hint || hint < mem->nregions,
			   "hint %u", hint);
		free(got_iov);
		free(want_iov);
	}
}

/* --- the ring ---------------------------------------------------------- */

/*
 * kvh_vring_log_write() for the chain just fetched: the bitmap must end up
 * with exactly the pages under the first @written bytes of its writable
 * buffers, in order; the rest of the arena (in @expect) must not change.
 * Returns false when the engine (rightly) failed.
 */
static bool fc_log_write(struct kvh_vring *vr, const struct kvh_chain *c,
			 const struct fc_want *w, u32 written, u8 *arena,
			 u8 *expect)
{
	u64 before[KVH_E_NR], left = written, l, first, last;
	bool want_err = false;
	unsigned int i;
	int r;

	memset(arena + FC_GUEST_SIZE, 0, FC_LOG_SIZE);
	memset(expect + FC_GUEST_SIZE, 0, FC_LOG_SIZE);
	for (i = 0; i < w->nlog && left; i++) {
		l = left < w->log[i].len ? left : w->log[i].len;
		first = w->log[i].gpa >> FUZZ_PAGE_SHIFT;
		last = (w->log[i].gpa + l - 1) >> FUZZ_PAGE_SHIFT;
		if (!fuzz_log_covers(first, last)) {
			want_err = true;
			break;
		}
		fuzz_log_set(expect + FC_GUEST_SIZE, first, last);
		left -= l;
	}
	memcpy(before, vr->errors, sizeof(before));
	r = kvh_vring_log_write(vr, c, written);
	fuzz_trace("log_write(%u): %d\n", written, r);
	fuzz_check(r == (want_err ? -EFAULT : 0),
		   "log_write(%u) %d, want %s", written, r,
		   want_err ? "log_access" : "0");
	fc_check_errors(vr, r, before);
	if (r)
		fuzz_check(vr->last_err == KVH_E_LOG_ACCESS, "reason %s",
			   kvh_vring_err_names[vr->last_err]);
	fuzz_check(!memcmp(arena, expect, FC_ARENA_SIZE),
		   "log_write(%u): arena differs from the expected bitmap",
		   written);
	return !r;
}

static void fc_rings(const struct kvh_mem *mem, const struct fc_cfg *cfg,
		     u8 *arena)
{
	unsigned long guest = (unsigned long)arena;
	u64 before[KVH_E_NR];
	struct kvh_vring vr;
	struct kvh_chain c;
	struct fc_ref ref;
	struct fc_want w;
	bool ungot = false;
	unsigned int k;
	u32 written;
	u8 *expect;
	int r;

	memset(&vr, 0, sizeof(vr));
	vr.num = cfg->num;
	vr.desc = (struct vring_desc *)(guest + cfg->desc_off);
	vr.avail = (struct vring_avail *)(guest + cfg->avail_off);
	vr.mem = mem;
	vr.log_base = (void *)fuzz_log.base;
	vr.log = cfg->flags & FC_F_LOG;
	vr.little_endian = !(cfg->flags & FC_F_BIG_ENDIAN);
	vr.iov_max = cfg->iov_max;
	kvh_vring_reset(&vr);
	vr.last_avail_idx = cfg->last_avail;
	vr.avail_idx = cfg->last_avail;
	vr.mem_hint = cfg->hint;

	memset(&ref, 0, sizeof(ref));
	ref.mem = mem;
	ref.num = vr.num;
	ref.iov_max = vr.iov_max;
	ref.log = vr.log;
	ref.le = vr.little_endian;
	ref.desc = (unsigned long)vr.desc;
	ref.avail = (unsigned long)vr.avail;
	ref.last_avail = cfg->last_avail;
	ref.avail_idx = cfg->last_avail;

	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	c.iov = calloc(cfg->iov_max, sizeof(*c.iov));
	c.log = calloc(cfg->iov_max, sizeof(*c.log));
	w.iov = calloc(cfg->iov_max, sizeof(*w.iov));
	w.log = calloc(cfg->iov_max, sizeof(*w.log));
	expect = malloc(FC_ARENA_SIZE);
	if (!c.iov || !c.log || !w.iov || !w.log || !expect)
		abort();
	memcpy(expect, arena, FC_ARENA_SIZE);

	for (k = 0; k < 2 * cfg->num + 4; k++) {
		memcpy(before, vr.errors, sizeof(before));
		fuzz_log.calls = 0;
		fuzz_acc_reset();
		r = kvh_vring_get_chain(&vr, &c);
		ref_get_chain(&ref, &w);
		fc_check_reads(&w, cfg->avail_off);
		fuzz_trace("get_chain: %d (%s) head %u out %u/%u in %u/%u nlog %u\n",
			   r, fc_why(r, vr.last_err), c.head, c.out,
			   c.out_len, c.in, c.in_len, c.nlog);
		fc_compare(&vr, &c, r, &w);
		fc_check_errors(&vr, r, before);
		fuzz_check(!fuzz_log.calls, "get_chain wrote the dirty log");
		fuzz_check(vr.last_avail_idx == ref.last_avail,
			   "last_avail_idx %u, reference %u",
			   vr.last_avail_idx, ref.last_avail);
		if (r)
			break;
		fuzz_check(vr.avail_idx == ref.avail_idx,
			   "avail_idx %u, reference %u", vr.avail_idx,
			   ref.avail_idx);
		fc_check_invariants(&vr, &c);
		written = c.in_len ? cfg->written % ((u64)c.in_len + 1) : 0;
		if (vr.log && !fc_log_write(&vr, &c, &w, written, arena, expect))
			break;
		if ((cfg->flags & FC_F_UNGET) && !ungot) {
			kvh_vring_unget(&vr, 1);
			ref.last_avail--;
			ungot = true;
		} else {
			ungot = false;
		}
	}
	fuzz_check(!memcmp(arena, expect, FC_ARENA_SIZE),
		   "the chain walk wrote to guest memory");
	free(expect);
	free(w.log);
	free(w.iov);
	free(c.log);
	free(c.iov);
}

int fuzz_one_input(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct kvh_mem *mem;
	struct fc_cfg cfg;
	u8 *arena;

	fc_parse(&in, &cfg);
	arena = fuzz_arena_alloc(FC_ARENA_SIZE);
	memcpy(arena, in.p, in.left < FC_GUEST_SIZE ? in.left : FC_GUEST_SIZE);
	fuzz_log.base = (unsigned long)arena + FC_GUEST_SIZE;
	fuzz_log.size = FC_LOG_SIZE;
	mem = fc_build_mem(&cfg, (unsigned long)arena);
	if (fc_finalize(mem)) {
		fc_probes(mem, &cfg);
		fc_rings(mem, &cfg, arena);
	}
	free(mem);
	fuzz_arena_free(arena);
	return 0;
}
