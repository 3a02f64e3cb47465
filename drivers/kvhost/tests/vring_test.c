// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kvhost_vring: the split-ring engine (drivers/kvhost/vring.c),
 * built into this module in arena mode by tests/engine.c.
 *
 * Each case gets a fresh 1 MiB arena holding the rings, the buffers, the
 * indirect tables and the dirty bitmap, and this guest memory table:
 *
 *   guest-physical                     backing
 *   [0x100000, 0x140000)  "lo"         arena 0x80000
 *   [0x140000, 0x180000)  "hi"         arena 0x20000   (not after "lo")
 *   [0x180000, 0x200000)  hole
 *   [0x200000, 0x210000)  "out"        just past the end of the arena
 *   [4 GiB, 4 GiB + 1 TiB) "huge"      an address nothing dereferences
 *   [2^64 - 64 KiB, 2^64) "top"        an address nothing dereferences
 *
 * The ring (16 entries) sits in "lo": descriptors at 0x100000, avail at
 * 0x101000, used at 0x102000.  Buffers start at 0x110000, indirect tables
 * at 0x108000.  The dirty bitmap is at arena offset 0xf0000, outside every
 * region.  Ring fields are little-endian.
 */
#include <kunit/test.h>
#include <linux/bits.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/virtio_ring.h>

#include "engine.h"

#define KVT_ARENA_SIZE	0x100000
#define KVT_NUM		16
#define KVT_IOV_MAX	32
#define KVT_IOV_ROOM	64

#define KVT_LO_GPA	0x100000ULL
#define KVT_HI_GPA	0x140000ULL
#define KVT_REG_SIZE	0x40000ULL
#define KVT_HI_END	(KVT_HI_GPA + KVT_REG_SIZE)
#define KVT_LO_OFF	0x80000
#define KVT_HI_OFF	0x20000
#define KVT_HOLE_GPA	0x180000ULL
#define KVT_OUT_GPA	0x200000ULL
#define KVT_HUGE_GPA	BIT_ULL(32)
#define KVT_HUGE_SIZE	BIT_ULL(40)
#define KVT_TOP_GPA	(U64_MAX - 0xffff)
#define KVT_FAKE_UADDR	BIT_ULL(44)

#define KVT_DESC_GPA	0x100000ULL
#define KVT_AVAIL_GPA	0x101000ULL
#define KVT_USED_GPA	0x102000ULL
#define KVT_IND_GPA	0x108000ULL
#define KVT_BUF_GPA	0x110000ULL
#define KVT_LOG_OFF	0xf0000
#define KVT_LOG_SIZE	0x1000

#define KVT_NEXT	VRING_DESC_F_NEXT
#define KVT_WRITE	VRING_DESC_F_WRITE
#define KVT_INDIRECT	VRING_DESC_F_INDIRECT

enum kvt_backing {
	KVT_IN_ARENA,		/* at arena offset @off */
	KVT_RAW,		/* at address @off, never dereferenced */
	KVT_PAST_ARENA,		/* right after the arena */
};

struct kvt_region {
	u64 gpa;
	u64 size;
	enum kvt_backing where;
	u64 off;
};

/* Given to kvh_mem_finalize() out of order on purpose. */
static const struct kvt_region kvt_map[] = {
	{ KVT_HI_GPA, KVT_REG_SIZE, KVT_IN_ARENA, KVT_HI_OFF },
	{ KVT_HUGE_GPA, KVT_HUGE_SIZE, KVT_RAW, KVT_FAKE_UADDR },
	{ KVT_OUT_GPA, 0x10000, KVT_PAST_ARENA, 0 },
	{ KVT_LO_GPA, KVT_REG_SIZE, KVT_IN_ARENA, KVT_LO_OFF },
	{ KVT_TOP_GPA, 0x10000, KVT_RAW, KVT_FAKE_UADDR + KVT_HUGE_SIZE },
};

struct kvt {
	struct kunit *test;
	u8 *arena;
	struct kvh_mem *mem;
	struct kvh_vring vr;
	struct kvh_chain c;
	struct iovec iov[KVT_IOV_ROOM];
	struct kvh_log_ent log[KVT_IOV_ROOM];
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	u8 *logmap;
};

static __virtio16 kvt_v16(u16 v)
{
	return (__force __virtio16)cpu_to_le16(v);
}

static __virtio32 kvt_v32(u32 v)
{
	return (__force __virtio32)cpu_to_le32(v);
}

static __virtio64 kvt_v64(u64 v)
{
	return (__force __virtio64)cpu_to_le64(v);
}

static u16 kvt_u16(__virtio16 v)
{
	return le16_to_cpu((__force __le16)v);
}

static u32 kvt_u32(__virtio32 v)
{
	return le32_to_cpu((__force __le32)v);
}

static const char *kvt_err_name(enum kvh_vring_err e)
{
	return e < KVH_E_NR ? kvh_vring_err_names[e] : "none";
}

/* The address the test's own map (not the table under test) gives @gpa. */
static u64 kvt_uaddr(struct kvt *t, u64 gpa)
{
	const struct kvt_region *r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvt_map); i++) {
		r = &kvt_map[i];
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		switch (r->where) {
		case KVT_IN_ARENA:
			return kvh_test_uaddr(t->arena + r->off) + gpa - r->gpa;
		case KVT_RAW:
			return r->off + gpa - r->gpa;
		case KVT_PAST_ARENA:
			return kvh_test_uaddr(t->arena + KVT_ARENA_SIZE) +
			       gpa - r->gpa;
		}
	}
	KUNIT_ASSERT_FAILURE(t->test, "bad test: gpa %#llx is not mapped", gpa);
	return 0;
}

/* A kernel pointer to guest-physical @gpa, which must be in the arena. */
static void *kvt_ptr(struct kvt *t, u64 gpa)
{
	const struct kvt_region *r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvt_map); i++) {
		r = &kvt_map[i];
		if (r->where == KVT_IN_ARENA && gpa >= r->gpa &&
		    gpa - r->gpa < r->size)
			return t->arena + r->off + (gpa - r->gpa);
	}
	KUNIT_ASSERT_FAILURE(t->test, "bad test: gpa %#llx not in the arena",
			     gpa);
	return NULL;
}

/* Copy into guest memory byte by byte, across regions if need be. */
static void kvt_write_gpa(struct kvt *t, u64 gpa, const void *src, size_t n)
{
	const u8 *s = src;
	size_t k;

	for (k = 0; k < n; k++)
		*(u8 *)kvt_ptr(t, gpa + k) = s[k];
}

static struct vring_desc kvt_mkdesc(u64 addr, u32 len, u16 flags, u16 next)
{
	struct vring_desc d = {
		.addr = kvt_v64(addr),
		.len = kvt_v32(len),
		.flags = kvt_v16(flags),
		.next = kvt_v16(next),
	};

	return d;
}

static void kvt_desc(struct kvt *t, u16 i, u64 addr, u32 len, u16 flags,
		     u16 next)
{
	t->desc[i] = kvt_mkdesc(addr, len, flags, next);
}

/* Entry @i of the indirect table at guest-physical @table. */
static void kvt_ind(struct kvt *t, u64 table, u16 i, u64 addr, u32 len,
		    u16 flags, u16 next)
{
	struct vring_desc d = kvt_mkdesc(addr, len, flags, next);

	kvt_write_gpa(t, table + i * sizeof(d), &d, sizeof(d));
}

/* The guest makes @head available. */
static void kvt_publish(struct kvt *t, u16 head)
{
	u16 idx = kvt_u16(t->avail->idx);

	t->avail->ring[idx % KVT_NUM] = kvt_v16(head);
	t->avail->idx = kvt_v16(idx + 1);
}

static void kvt_set_used_event(struct kvt *t, u16 v)
{
	t->avail->ring[KVT_NUM] = kvt_v16(v);
}

static u16 kvt_avail_event(struct kvt *t)
{
	return kvt_u16(*(__virtio16 *)&t->used->ring[KVT_NUM]);
}

static void kvt_set_avail_event(struct kvt *t, u16 v)
{
	*(__virtio16 *)&t->used->ring[KVT_NUM] = kvt_v16(v);
}

static u64 kvt_errors_total(struct kvt *t)
{
	u64 n = 0;
	int i;

	for (i = 0; i < KVH_E_NR; i++)
		n += t->vr.errors[i];
	return n;
}

/* @r must be @err, with @why recorded and counted exactly once. */
static void kvt_expect_fail(struct kvt *t, int r, int err,
			    enum kvh_vring_err why)
{
	struct kunit *test = t->test;

	KUNIT_EXPECT_EQ(test, r, err);
	KUNIT_EXPECT_EQ_MSG(test, t->vr.last_err, why, "last_err %s, want %s",
			    kvt_err_name(t->vr.last_err), kvt_err_name(why));
	KUNIT_EXPECT_EQ_MSG(test, t->vr.errors[why], 1ULL, "errors[%s]",
			    kvt_err_name(why));
	KUNIT_EXPECT_EQ(test, kvt_errors_total(t), 1ULL);
}

static void kvt_expect_no_error(struct kvt *t)
{
	KUNIT_EXPECT_EQ(t->test, kvt_errors_total(t), 0ULL);
	KUNIT_EXPECT_EQ_MSG(t->test, t->vr.last_err, KVH_E_NR, "last_err %s",
			    kvt_err_name(t->vr.last_err));
}

/* Every bit of the dirty bitmap: set for the @n pages listed, else clear. */
static void kvt_expect_log(struct kvt *t, const u64 *pages, unsigned int n)
{
	struct kunit *test = t->test;
	unsigned int i, bad = 0;
	u64 page;
	bool want;

	for (page = 0; page < KVT_LOG_SIZE * BITS_PER_BYTE; page++) {
		want = false;
		for (i = 0; i < n; i++)
			want |= pages[i] == page;
		if (!!(t->logmap[page / 8] & BIT(page % 8)) != want) {
			KUNIT_FAIL(test, "page %#llx: dirty bit %s", page,
				   want ? "clear" : "set");
			if (++bad > 8)
				return;
		}
	}
}

static int kvt_init(struct kunit *test)
{
	const struct kvt_region *m;
	struct kvh_vring *vr;
	struct kvt *t;
	unsigned int i;
	int r;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	test->priv = t;
	t->test = test;
	t->arena = kvh_test_arena_alloc(KVT_ARENA_SIZE);
	if (!t->arena)
		return -ENOMEM;

	t->mem = kunit_kzalloc(test, struct_size(t->mem, regions,
						 ARRAY_SIZE(kvt_map)),
			       GFP_KERNEL);
	if (!t->mem)
		return -ENOMEM;
	t->mem->nregions = ARRAY_SIZE(kvt_map);
	for (i = 0; i < ARRAY_SIZE(kvt_map); i++) {
		m = &kvt_map[i];
		t->mem->regions[i].gpa = m->gpa;
		t->mem->regions[i].size = m->size;
		t->mem->regions[i].uaddr = kvt_uaddr(t, m->gpa);
	}
	r = kvh_mem_finalize(t->mem);
	if (r)
		return r;

	t->desc = kvt_ptr(t, KVT_DESC_GPA);
	t->avail = kvt_ptr(t, KVT_AVAIL_GPA);
	t->used = kvt_ptr(t, KVT_USED_GPA);
	t->logmap = t->arena + KVT_LOG_OFF;

	vr = &t->vr;
	vr->num = KVT_NUM;
	vr->desc = kvh_test_uptr(t->desc);
	vr->avail = kvh_test_uptr(t->avail);
	vr->used = kvh_test_uptr(t->used);
	vr->mem = t->mem;
	vr->log_base = kvh_test_uptr(t->logmap);
	vr->log_used_gpa = KVT_USED_GPA;
	vr->little_endian = true;
	vr->iov_max = KVT_IOV_MAX;
	/* Not a reason the engine ever records: proves it recorded one. */
	vr->last_err = KVH_E_NR;
	kvh_vring_reset(vr);

	t->c.iov = t->iov;
	t->c.log = t->log;
	return 0;
}

static void kvt_exit(struct kunit *test)
{
	struct kvt *t = test->priv;

	if (t && t->arena)
		kvh_test_arena_free();
}

/* Valid chains. */

struct kvt_seg {
	u64 gpa;
	u64 len;
};

struct kvt_chain_case {
	const char *name;
	void (*setup)(struct kvt *t);
	u16 head;
	unsigned int out;
	unsigned int in;
	u32 out_len;
	u32 in_len;
	bool writable;
	const struct kvt_seg *seg;	/* out + in of them */
};

static void kvt_single(struct kvt *t)
{
	kvt_desc(t, 5, KVT_BUF_GPA, 0x200, 0, 0);
	kvt_publish(t, 5);
}

static const struct kvt_seg kvt_single_seg[] = {
	{ KVT_BUF_GPA, 0x200 },
};

static void kvt_mixed(struct kvt *t)
{
	kvt_desc(t, 3, KVT_BUF_GPA, 0x10, KVT_NEXT, 7);
	kvt_desc(t, 7, KVT_BUF_GPA + 0x1000, 0x20, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x2000, 0x30, KVT_WRITE | KVT_NEXT, 12);
	kvt_desc(t, 12, KVT_BUF_GPA + 0x3000, 0x40, KVT_WRITE, 3);
	kvt_publish(t, 3);
}

static const struct kvt_seg kvt_mixed_seg[] = {
	{ KVT_BUF_GPA, 0x10 },
	{ KVT_BUF_GPA + 0x1000, 0x20 },
	{ KVT_BUF_GPA + 0x2000, 0x30 },
	{ KVT_BUF_GPA + 0x3000, 0x40 },
};

/* 15 -> 14 -> ... -> 0: all 16 descriptors, 15..8 readable, 7..0 not. */
static void kvt_max_len(struct kvt *t)
{
	u16 i;

	for (i = 0; i < KVT_NUM; i++)
		kvt_desc(t, i, KVT_BUF_GPA + 0x100 * i, 0x10 + i,
			 (i < 8 ? KVT_WRITE : 0) | (i ? KVT_NEXT : 0),
			 i ? i - 1 : 0);
	kvt_publish(t, 15);
}

static const struct kvt_seg kvt_max_len_seg[] = {
	{ KVT_BUF_GPA + 0xf00, 0x1f }, { KVT_BUF_GPA + 0xe00, 0x1e },
	{ KVT_BUF_GPA + 0xd00, 0x1d }, { KVT_BUF_GPA + 0xc00, 0x1c },
	{ KVT_BUF_GPA + 0xb00, 0x1b }, { KVT_BUF_GPA + 0xa00, 0x1a },
	{ KVT_BUF_GPA + 0x900, 0x19 }, { KVT_BUF_GPA + 0x800, 0x18 },
	{ KVT_BUF_GPA + 0x700, 0x17 }, { KVT_BUF_GPA + 0x600, 0x16 },
	{ KVT_BUF_GPA + 0x500, 0x15 }, { KVT_BUF_GPA + 0x400, 0x14 },
	{ KVT_BUF_GPA + 0x300, 0x13 }, { KVT_BUF_GPA + 0x200, 0x12 },
	{ KVT_BUF_GPA + 0x100, 0x11 }, { KVT_BUF_GPA + 0x000, 0x10 },
};

static void kvt_indirect(struct kvt *t)
{
	kvt_desc(t, 2, KVT_IND_GPA, 3 * sizeof(struct vring_desc),
		 KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x40, KVT_NEXT, 2);
	kvt_ind(t, KVT_IND_GPA, 2, KVT_BUF_GPA + 0x1000, 0x80,
		KVT_WRITE | KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_BUF_GPA + 0x2000, 0x100, KVT_WRITE, 0);
	kvt_publish(t, 2);
}

static const struct kvt_seg kvt_indirect_seg[] = {
	{ KVT_BUF_GPA, 0x40 },
	{ KVT_BUF_GPA + 0x1000, 0x80 },
	{ KVT_BUF_GPA + 0x2000, 0x100 },
};

/* WRITE on the indirect descriptor itself means nothing: the entries say. */
static void kvt_indirect_write_flag(struct kvt *t)
{
	kvt_desc(t, 7, KVT_IND_GPA, 2 * sizeof(struct vring_desc),
		 KVT_INDIRECT | KVT_WRITE, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x40, KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_BUF_GPA + 0x1000, 0x80, KVT_WRITE, 0);
	kvt_publish(t, 7);
}

static const struct kvt_seg kvt_indirect_write_flag_seg[] = {
	{ KVT_BUF_GPA, 0x40 },
	{ KVT_BUF_GPA + 0x1000, 0x80 },
};

/* The table starts in "lo"; its entry 1 straddles into "hi". */
static void kvt_indirect_split(struct kvt *t)
{
	u64 table = KVT_HI_GPA - 24;

	kvt_desc(t, 0, table, 3 * sizeof(struct vring_desc), KVT_INDIRECT, 0);
	kvt_ind(t, table, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_ind(t, table, 1, KVT_BUF_GPA + 0x1000, 0x20, KVT_WRITE | KVT_NEXT,
		2);
	kvt_ind(t, table, 2, KVT_HI_GPA + 0x10000, 0x30, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static const struct kvt_seg kvt_indirect_split_seg[] = {
	{ KVT_BUF_GPA, 0x10 },
	{ KVT_BUF_GPA + 0x1000, 0x20 },
	{ KVT_HI_GPA + 0x10000, 0x30 },
};

/* As many entries as iovecs allowed: the most INDIRECT_LEN lets through. */
static void kvt_indirect_full(struct kvt *t)
{
	t->vr.iov_max = 4;
	kvt_desc(t, 9, KVT_IND_GPA, 4 * sizeof(struct vring_desc),
		 KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_BUF_GPA + 0x10, 0x10, KVT_NEXT, 2);
	kvt_ind(t, KVT_IND_GPA, 2, KVT_BUF_GPA + 0x20, 0x10, KVT_NEXT, 3);
	kvt_ind(t, KVT_IND_GPA, 3, KVT_BUF_GPA + 0x30, 0x10, KVT_WRITE, 0);
	kvt_publish(t, 9);
}

static const struct kvt_seg kvt_indirect_full_seg[] = {
	{ KVT_BUF_GPA, 0x10 },
	{ KVT_BUF_GPA + 0x10, 0x10 },
	{ KVT_BUF_GPA + 0x20, 0x10 },
	{ KVT_BUF_GPA + 0x30, 0x10 },
};

static void kvt_cross(struct kvt *t)
{
	kvt_desc(t, 4, KVT_HI_GPA - 0x100, 0x200, 0, 0);
	kvt_publish(t, 4);
}

static const struct kvt_seg kvt_cross_seg[] = {
	{ KVT_HI_GPA - 0x100, 0x100 },
	{ KVT_HI_GPA, 0x100 },
};

/* Two crossing buffers: exactly the 4 iovecs allowed. */
static void kvt_cross_writable(struct kvt *t)
{
	t->vr.iov_max = 4;
	kvt_desc(t, 4, KVT_HI_GPA - 8, 0x18, KVT_NEXT, 9);
	kvt_desc(t, 9, KVT_HI_GPA - 0x10, 0x20, KVT_WRITE, 0);
	kvt_publish(t, 4);
}

static const struct kvt_seg kvt_cross_writable_seg[] = {
	{ KVT_HI_GPA - 8, 8 },
	{ KVT_HI_GPA, 0x10 },
	{ KVT_HI_GPA - 0x10, 0x10 },
	{ KVT_HI_GPA, 0x10 },
};

static void kvt_zero_len(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x1000, 0x10, KVT_NEXT, 2);
	kvt_desc(t, 2, KVT_BUF_GPA + 0x2000, 0, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static const struct kvt_seg kvt_zero_len_seg[] = {
	{ KVT_BUF_GPA + 0x1000, 0x10 },
};

/* Only zero-length writable: accepted without the dirty log. */
static void kvt_zero_len_writable(struct kvt *t)
{
	kvt_desc(t, 6, KVT_BUF_GPA, 0, KVT_WRITE, 0);
	kvt_publish(t, 6);
}

/* Up to the very last guest-physical byte, which does not wrap. */
static void kvt_ends_at_top(struct kvt *t)
{
	kvt_desc(t, 0, U64_MAX - 0xfff, 0x1000, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static const struct kvt_seg kvt_ends_at_top_seg[] = {
	{ U64_MAX - 0xfff, 0x1000 },
};

/* Readable and writable totals each exactly U32_MAX. */
static void kvt_len_limit(struct kvt *t)
{
	kvt_desc(t, 0, KVT_HUGE_GPA, 0x80000000, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_HUGE_GPA + 0x80000000, 0x7fffffff, KVT_NEXT, 2);
	kvt_desc(t, 2, KVT_HUGE_GPA + (1ULL << 33), U32_MAX, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static const struct kvt_seg kvt_len_limit_seg[] = {
	{ KVT_HUGE_GPA, 0x80000000 },
	{ KVT_HUGE_GPA + 0x80000000, 0x7fffffff },
	{ KVT_HUGE_GPA + (1ULL << 33), U32_MAX },
};

static const struct kvt_chain_case kvt_chain_cases[] = {
	{ "single", kvt_single, 5, 1, 0, 0x200, 0, false, kvt_single_seg },
	{ "mixed_out_in", kvt_mixed, 3, 2, 2, 0x30, 0x70, true,
	  kvt_mixed_seg },
	{ "max_length_num", kvt_max_len, 15, 8, 8, 0xdc, 0x9c, true,
	  kvt_max_len_seg },
	{ "indirect", kvt_indirect, 2, 1, 2, 0x40, 0x180, true,
	  kvt_indirect_seg },
	{ "indirect_write_flag_ignored", kvt_indirect_write_flag, 7, 1, 1,
	  0x40, 0x80, true, kvt_indirect_write_flag_seg },
	{ "indirect_across_regions", kvt_indirect_split, 0, 1, 2, 0x10, 0x50,
	  true, kvt_indirect_split_seg },
	{ "indirect_count_eq_iov_max", kvt_indirect_full, 9, 3, 1, 0x30, 0x10,
	  true, kvt_indirect_full_seg },
	{ "buffer_across_regions", kvt_cross, 4, 2, 0, 0x200, 0, false,
	  kvt_cross_seg },
	{ "iovecs_eq_iov_max", kvt_cross_writable, 4, 2, 2, 0x18, 0x20, true,
	  kvt_cross_writable_seg },
	{ "zero_length_buffers", kvt_zero_len, 0, 1, 0, 0x10, 0, true,
	  kvt_zero_len_seg },
	{ "zero_length_writable_no_log", kvt_zero_len_writable, 6, 0, 0, 0, 0,
	  true, NULL },
	{ "ends_at_last_gpa", kvt_ends_at_top, 0, 0, 1, 0, 0x1000, true,
	  kvt_ends_at_top_seg },
	{ "totals_eq_u32_max", kvt_len_limit, 0, 2, 1, U32_MAX, U32_MAX, true,
	  kvt_len_limit_seg },
};

static void kvt_chain_desc(const struct kvt_chain_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_chain, kvt_chain_cases, kvt_chain_desc);

static void kvh_vring_chain_valid(struct kunit *test)
{
	const struct kvt_chain_case *c = test->param_value;
	struct kvt *t = test->priv;
	unsigned int i;

	c->setup(t);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, c->head);
	KUNIT_EXPECT_EQ(test, t->c.out_len, c->out_len);
	KUNIT_EXPECT_EQ(test, t->c.in_len, c->in_len);
	KUNIT_EXPECT_EQ(test, t->c.writable, c->writable);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 1);
	kvt_expect_no_error(t);
	KUNIT_ASSERT_EQ(test, t->c.out, c->out);
	KUNIT_ASSERT_EQ(test, t->c.in, c->in);
	for (i = 0; i < c->out + c->in; i++) {
		KUNIT_EXPECT_EQ_MSG(test,
				    (u64)(__force unsigned long)t->iov[i].iov_base,
				    kvt_uaddr(t, c->seg[i].gpa), "iov %u", i);
		KUNIT_EXPECT_EQ_MSG(test, (u64)t->iov[i].iov_len, c->seg[i].len,
				    "iov %u", i);
	}
	/* Consumed: nothing more until the guest adds something. */
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);
}

/* Hostile chains: each refused with its exact reason. */

struct kvt_bad_case {
	const char *name;
	void (*setup)(struct kvt *t);
	int err;
	enum kvh_vring_err why;
};

static void kvt_self_loop(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 0);
	kvt_publish(t, 0);
}

static void kvt_two_cycle(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x100, 0x10, KVT_NEXT, 0);
	kvt_publish(t, 0);
}

/* 4 -> 5 -> ... -> 15 -> 0 -> ... -> 4: the 17th descriptor is one too many. */
static void kvt_num_plus_1(struct kvt *t)
{
	u16 i;

	for (i = 0; i < KVT_NUM; i++)
		kvt_desc(t, i, KVT_BUF_GPA + 0x10 * i, 0x10, KVT_NEXT,
			 (i + 1) % KVT_NUM);
	kvt_publish(t, 4);
}

static void kvt_head_num(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, KVT_NUM);
}

static void kvt_head_ffff(struct kvt *t)
{
	kvt_publish(t, 0xffff);
}

static void kvt_next_num(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, KVT_NUM);
	kvt_publish(t, 0);
}

static void kvt_next_ffff(struct kvt *t)
{
	kvt_desc(t, 3, KVT_BUF_GPA, 0x10, KVT_NEXT, 4);
	kvt_desc(t, 4, KVT_BUF_GPA, 0x10, KVT_WRITE | KVT_NEXT, 0xffff);
	kvt_publish(t, 3);
}

static void kvt_avail_num_plus_1(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	t->avail->idx = kvt_v16(KVT_NUM + 1);
}

static void kvt_avail_backwards(struct kvt *t)
{
	t->vr.last_avail_idx = 5;
	t->vr.avail_idx = 5;
	t->avail->idx = kvt_v16(4);
}

/* From 0xfff8 to 0x0009 is 17 entries. */
static void kvt_avail_wrap(struct kvt *t)
{
	t->vr.last_avail_idx = 0xfff8;
	t->vr.avail_idx = 0xfff8;
	t->avail->idx = kvt_v16(0x0009);
}

static void kvt_ind_len(struct kvt *t, u32 len)
{
	kvt_desc(t, 0, KVT_IND_GPA, len, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_ind_len_0(struct kvt *t)
{
	kvt_ind_len(t, 0);
}

static void kvt_ind_len_8(struct kvt *t)
{
	kvt_ind_len(t, 8);
}

static void kvt_ind_len_24(struct kvt *t)
{
	kvt_ind_len(t, 24);
}

static void kvt_ind_len_over_iov_max(struct kvt *t)
{
	kvt_ind_len(t, (KVT_IOV_MAX + 1) * sizeof(struct vring_desc));
}

static void kvt_ind_len_over_small_iov_max(struct kvt *t)
{
	t->vr.iov_max = 4;
	kvt_ind_len(t, 5 * sizeof(struct vring_desc));
}

static void kvt_ind_nested(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_IND_GPA + 0x100, 16, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA + 0x100, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_ind_nested_second(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_IND_GPA + 0x100, 16, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA + 0x100, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_ind_next(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 16, KVT_INDIRECT | KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_desc(t, 1, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_ind_unmapped(struct kvt *t)
{
	kvt_desc(t, 0, KVT_HOLE_GPA, 32, KVT_INDIRECT, 0);
	kvt_publish(t, 0);
}

/* Entry 0 is the last 16 bytes of "hi", entry 1 is in the hole. */
static void kvt_ind_half_mapped(struct kvt *t)
{
	kvt_desc(t, 0, KVT_HI_END - 16, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_HI_END - 16, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_publish(t, 0);
}

/* Entry 0 ends the chain, but entry 1, never walked, is in the hole. */
static void kvt_ind_tail_unmapped(struct kvt *t)
{
	kvt_desc(t, 0, KVT_HI_END - 16, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_HI_END - 16, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
}

/* The only entry: 8 bytes mapped, 8 in the hole. */
static void kvt_ind_entry_half_mapped(struct kvt *t)
{
	kvt_desc(t, 0, KVT_HI_END - 8, 16, KVT_INDIRECT, 0);
	kvt_publish(t, 0);
}

/* In the table, but the backing memory is not there. */
static void kvt_ind_past_arena(struct kvt *t)
{
	kvt_desc(t, 0, KVT_OUT_GPA, 16, KVT_INDIRECT, 0);
	kvt_publish(t, 0);
}

static void kvt_ind_next_count(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 2);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_ind(t, KVT_IND_GPA, 2, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_ind_loop(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_BUF_GPA, 0x10, KVT_NEXT, 0);
	kvt_publish(t, 0);
}

static void kvt_ind_wrap(struct kvt *t)
{
	kvt_desc(t, 0, U64_MAX - 15, 32, KVT_INDIRECT, 0);
	kvt_publish(t, 0);
}

static void kvt_desc_wrap(struct kvt *t)
{
	kvt_desc(t, 0, U64_MAX - 0xfff, 0x1001, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_desc_wrap_max(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_desc(t, 1, U64_MAX, U32_MAX, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static void kvt_desc_wrap_indirect(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 16, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, U64_MAX - 0xfff, 0x1001, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_chain_len_out(struct kvt *t)
{
	kvt_desc(t, 0, KVT_HUGE_GPA, 0x80000000, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_HUGE_GPA, 0x80000000, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_chain_len_in(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_HUGE_GPA, U32_MAX, KVT_WRITE | KVT_NEXT, 2);
	kvt_desc(t, 2, KVT_HUGE_GPA, 1, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static void kvt_chain_len_indirect(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_HUGE_GPA, U32_MAX, KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_HUGE_GPA, 1, 0, 0);
	kvt_publish(t, 0);
}

/* Five descriptors, four iovecs allowed. */
static void kvt_iov_descs(struct kvt *t)
{
	u16 i;

	t->vr.iov_max = 4;
	for (i = 0; i < 5; i++)
		kvt_desc(t, i, KVT_BUF_GPA + 0x10 * i, 0x10,
			 i < 4 ? KVT_NEXT : 0, i + 1);
	kvt_publish(t, 0);
}

/* Three descriptors, but each needs two iovecs: 6 > 5. */
static void kvt_iov_crossings(struct kvt *t)
{
	u16 i;

	t->vr.iov_max = 5;
	for (i = 0; i < 3; i++)
		kvt_desc(t, i, KVT_HI_GPA - 0x10, 0x20, i < 2 ? KVT_NEXT : 0,
			 i + 1);
	kvt_publish(t, 0);
}

/* Three entries (within INDIRECT_LEN's limit), six iovecs: 6 > 4. */
static void kvt_iov_indirect(struct kvt *t)
{
	u16 i;

	t->vr.iov_max = 4;
	kvt_desc(t, 0, KVT_IND_GPA, 3 * sizeof(struct vring_desc),
		 KVT_INDIRECT, 0);
	for (i = 0; i < 3; i++)
		kvt_ind(t, KVT_IND_GPA, i, KVT_HI_GPA - 0x10, 0x20,
			KVT_WRITE | (i < 2 ? KVT_NEXT : 0), i + 1);
	kvt_publish(t, 0);
}

static void kvt_unmapped(struct kvt *t)
{
	kvt_desc(t, 0, KVT_HOLE_GPA + 0x100, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_unmapped_tail(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_HI_END - 0x10, 0x11, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static void kvt_unmapped_head(struct kvt *t)
{
	kvt_desc(t, 0, KVT_LO_GPA - 1, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_unmapped_indirect(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 16, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_HOLE_GPA, 1, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static void kvt_order(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_WRITE | KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x100, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_order_empty_writable(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x100, 0, KVT_WRITE | KVT_NEXT, 2);
	kvt_desc(t, 2, KVT_BUF_GPA + 0x200, 0, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_order_indirect(struct kvt *t)
{
	kvt_desc(t, 0, KVT_IND_GPA, 32, KVT_INDIRECT, 0);
	kvt_ind(t, KVT_IND_GPA, 0, KVT_BUF_GPA, 0x10, KVT_WRITE | KVT_NEXT, 1);
	kvt_ind(t, KVT_IND_GPA, 1, KVT_BUF_GPA + 0x100, 0x10, 0, 0);
	kvt_publish(t, 0);
}

static void kvt_zero_len_log(struct kvt *t)
{
	t->vr.log = true;
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x100, 0, KVT_WRITE, 0);
	kvt_publish(t, 0);
}

static void *kvt_arena_end(struct kvt *t)
{
	return t->arena + KVT_ARENA_SIZE;
}

static void kvt_avail_outside(struct kvt *t)
{
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
	t->vr.avail = kvh_test_uptr(kvt_arena_end(t));
}

/* avail->idx is the arena's last two bytes; avail->ring[0] is past it. */
static void kvt_avail_ring_outside(struct kvt *t)
{
	struct vring_avail *avail = kvt_arena_end(t) - 4;

	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	avail->idx = kvt_v16(1);
	t->vr.avail = kvh_test_uptr(avail);
}

static void kvt_desc_outside(struct kvt *t)
{
	kvt_publish(t, 0);
	t->vr.desc = kvh_test_uptr(kvt_arena_end(t));
}

static void kvt_desc_null(struct kvt *t)
{
	kvt_publish(t, 0);
	t->vr.desc = NULL;
}

/* Descriptor 0 is the arena's last 16 bytes; it chains to 1, past it. */
static void kvt_desc_next_outside(struct kvt *t)
{
	struct vring_desc *desc = kvt_arena_end(t) - sizeof(*desc);

	*desc = kvt_mkdesc(KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	t->vr.desc = kvh_test_uptr(desc);
	kvt_publish(t, 0);
}

static const struct kvt_bad_case kvt_bad_cases[] = {
	{ "self_loop", kvt_self_loop, -EINVAL, KVH_E_LOOP },
	{ "two_cycle", kvt_two_cycle, -EINVAL, KVH_E_LOOP },
	{ "num_plus_1_via_cycle", kvt_num_plus_1, -EINVAL, KVH_E_LOOP },
	{ "head_eq_num", kvt_head_num, -EINVAL, KVH_E_HEAD },
	{ "head_ffff", kvt_head_ffff, -EINVAL, KVH_E_HEAD },
	{ "next_eq_num", kvt_next_num, -EINVAL, KVH_E_NEXT },
	{ "next_ffff", kvt_next_ffff, -EINVAL, KVH_E_NEXT },
	{ "avail_idx_num_plus_1", kvt_avail_num_plus_1, -EINVAL,
	  KVH_E_AVAIL_IDX },
	{ "avail_idx_backwards", kvt_avail_backwards, -EINVAL,
	  KVH_E_AVAIL_IDX },
	{ "avail_idx_wrap_num_plus_1", kvt_avail_wrap, -EINVAL,
	  KVH_E_AVAIL_IDX },
	{ "indirect_len_0", kvt_ind_len_0, -EINVAL, KVH_E_INDIRECT_LEN },
	{ "indirect_len_8", kvt_ind_len_8, -EINVAL, KVH_E_INDIRECT_LEN },
	{ "indirect_len_24", kvt_ind_len_24, -EINVAL, KVH_E_INDIRECT_LEN },
	{ "indirect_over_iov_max", kvt_ind_len_over_iov_max, -EINVAL,
	  KVH_E_INDIRECT_LEN },
	{ "indirect_over_small_iov_max", kvt_ind_len_over_small_iov_max,
	  -EINVAL, KVH_E_INDIRECT_LEN },
	{ "indirect_nested", kvt_ind_nested, -EINVAL, KVH_E_INDIRECT_NESTED },
	{ "indirect_nested_second", kvt_ind_nested_second, -EINVAL,
	  KVH_E_INDIRECT_NESTED },
	{ "indirect_and_next", kvt_ind_next, -EINVAL, KVH_E_INDIRECT_FLAGS },
	{ "indirect_unmapped", kvt_ind_unmapped, -EFAULT, KVH_E_INDIRECT_MAP },
	{ "indirect_half_mapped", kvt_ind_half_mapped, -EFAULT,
	  KVH_E_INDIRECT_MAP },
	{ "indirect_tail_unmapped", kvt_ind_tail_unmapped, -EFAULT,
	  KVH_E_INDIRECT_MAP },
	{ "indirect_entry_half_mapped", kvt_ind_entry_half_mapped, -EFAULT,
	  KVH_E_INDIRECT_MAP },
	{ "indirect_not_in_arena", kvt_ind_past_arena, -EFAULT,
	  KVH_E_INDIRECT_MAP },
	{ "indirect_next_ge_count", kvt_ind_next_count, -EINVAL, KVH_E_NEXT },
	{ "indirect_loop", kvt_ind_loop, -EINVAL, KVH_E_LOOP },
	{ "indirect_table_wraps", kvt_ind_wrap, -EINVAL, KVH_E_DESC_WRAP },
	{ "desc_wrap", kvt_desc_wrap, -EINVAL, KVH_E_DESC_WRAP },
	{ "desc_wrap_max", kvt_desc_wrap_max, -EINVAL, KVH_E_DESC_WRAP },
	{ "desc_wrap_in_indirect", kvt_desc_wrap_indirect, -EINVAL,
	  KVH_E_DESC_WRAP },
	{ "readable_over_u32_max", kvt_chain_len_out, -EINVAL,
	  KVH_E_CHAIN_LEN },
	{ "writable_over_u32_max", kvt_chain_len_in, -EINVAL,
	  KVH_E_CHAIN_LEN },
	{ "indirect_over_u32_max", kvt_chain_len_indirect, -EINVAL,
	  KVH_E_CHAIN_LEN },
	{ "iov_limit_descs", kvt_iov_descs, -ENOBUFS, KVH_E_IOV_LIMIT },
	{ "iov_limit_crossings", kvt_iov_crossings, -ENOBUFS,
	  KVH_E_IOV_LIMIT },
	{ "iov_limit_indirect", kvt_iov_indirect, -ENOBUFS, KVH_E_IOV_LIMIT },
	{ "unmapped", kvt_unmapped, -EFAULT, KVH_E_UNMAPPED },
	{ "unmapped_tail", kvt_unmapped_tail, -EFAULT, KVH_E_UNMAPPED },
	{ "unmapped_head", kvt_unmapped_head, -EFAULT, KVH_E_UNMAPPED },
	{ "unmapped_in_indirect", kvt_unmapped_indirect, -EFAULT,
	  KVH_E_UNMAPPED },
	{ "readable_after_writable", kvt_order, -EINVAL, KVH_E_ORDER },
	{ "readable_after_empty_writable", kvt_order_empty_writable, -EINVAL,
	  KVH_E_ORDER },
	{ "readable_after_writable_indirect", kvt_order_indirect, -EINVAL,
	  KVH_E_ORDER },
	{ "zero_len_writable_logged", kvt_zero_len_log, -EINVAL,
	  KVH_E_ZERO_LEN_LOG },
	{ "avail_outside_arena", kvt_avail_outside, -EFAULT,
	  KVH_E_RING_ACCESS },
	{ "avail_ring_outside_arena", kvt_avail_ring_outside, -EFAULT,
	  KVH_E_RING_ACCESS },
	{ "desc_outside_arena", kvt_desc_outside, -EFAULT, KVH_E_RING_ACCESS },
	{ "desc_null", kvt_desc_null, -EFAULT, KVH_E_RING_ACCESS },
	{ "desc_next_outside_arena", kvt_desc_next_outside, -EFAULT,
	  KVH_E_RING_ACCESS },
};

static void kvt_bad_desc(const struct kvt_bad_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_bad, kvt_bad_cases, kvt_bad_desc);

static void kvh_vring_chain_hostile(struct kunit *test)
{
	const struct kvt_bad_case *c = test->param_value;
	struct kvt *t = test->priv;
	u16 last_avail;
	int r;

	c->setup(t);
	last_avail = t->vr.last_avail_idx;
	r = kvh_vring_get_chain(&t->vr, &t->c);
	kvt_expect_fail(t, r, c->err, c->why);
	/* Refused, not consumed. */
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, last_avail);
}

/* Other operations that must fail, with their reason. */

struct kvt_op_case {
	const char *name;
	int (*op)(struct kvt *t);
	int err;
	enum kvh_vring_err why;
};

static int kvt_op_start_used_outside(struct kvt *t)
{
	t->vr.used = kvh_test_uptr(kvt_arena_end(t));
	return kvh_vring_start(&t->vr);
}

static int kvt_add_one(struct kvt *t)
{
	struct vring_used_elem e = { kvt_v32(3), kvt_v32(0x10) };

	return kvh_vring_add_used(&t->vr, &e, 1);
}

static int kvt_op_add_used_outside(struct kvt *t)
{
	t->vr.used = kvh_test_uptr(kvt_arena_end(t));
	return kvt_add_one(t);
}

/* used->ring[0..7] are the arena's last 64 bytes; entries 6..9 cross. */
static int kvt_op_add_used_tail_outside(struct kvt *t)
{
	struct vring_used_elem e[4] = {};
	struct vring_used *used;
	int r;

	used = kvt_arena_end(t) - 4 - 8 * sizeof(used->ring[0]);

	t->vr.used = kvh_test_uptr(used);
	t->vr.last_used_idx = 6;
	r = kvh_vring_add_used(&t->vr, e, ARRAY_SIZE(e));
	/* Nothing published. */
	KUNIT_EXPECT_EQ(t->test, kvt_u16(used->idx), 0);
	KUNIT_EXPECT_EQ(t->test, t->vr.last_used_idx, 6);
	return r;
}

static int kvt_op_disable_used_outside(struct kvt *t)
{
	t->vr.used = kvh_test_uptr(kvt_arena_end(t));
	return kvh_vring_disable_notify(&t->vr);
}

static int kvt_op_enable_used_outside(struct kvt *t)
{
	t->vr.used_flags = VRING_USED_F_NO_NOTIFY;
	t->vr.used = kvh_test_uptr(kvt_arena_end(t));
	return kvh_vring_enable_notify(&t->vr);
}

/* With event idx only avail_event, the used ring's last field, is past. */
static int kvt_op_enable_event_outside(struct kvt *t)
{
	t->vr.event_idx = true;
	t->vr.used = kvh_test_uptr(kvt_arena_end(t) - 4 -
				   KVT_NUM * sizeof(t->used->ring[0]));
	KUNIT_EXPECT_EQ(t->test, kvh_vring_disable_notify(&t->vr), 0);
	return kvh_vring_enable_notify(&t->vr);
}

static int kvt_op_enable_avail_idx(struct kvt *t)
{
	t->vr.used_flags = VRING_USED_F_NO_NOTIFY;
	t->avail->idx = kvt_v16(KVT_NUM + 1);
	return kvh_vring_enable_notify(&t->vr);
}

static int kvt_op_enable_avail_outside(struct kvt *t)
{
	t->vr.used_flags = VRING_USED_F_NO_NOTIFY;
	t->vr.avail = kvh_test_uptr(kvt_arena_end(t));
	return kvh_vring_enable_notify(&t->vr);
}

static int kvt_op_log_write_outside(struct kvt *t)
{
	t->vr.log = true;
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_WRITE, 0);
	kvt_publish(t, 0);
	KUNIT_EXPECT_EQ(t->test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	t->vr.log_base = kvh_test_uptr(kvt_arena_end(t));
	return kvh_vring_log_write(&t->vr, &t->c, 0x10);
}

/* The bitmap's first byte is in the arena, the page's bit is not. */
static int kvt_op_log_write_tail_outside(struct kvt *t)
{
	t->vr.log = true;
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_WRITE, 0);
	kvt_publish(t, 0);
	KUNIT_EXPECT_EQ(t->test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	t->vr.log_base = kvh_test_uptr(kvt_arena_end(t) -
				       (KVT_BUF_GPA >> 12) / 8);
	return kvh_vring_log_write(&t->vr, &t->c, 0x10);
}

static int kvt_op_log_used_null(struct kvt *t)
{
	t->vr.log_used = true;
	t->vr.log_base = NULL;
	return kvt_add_one(t);
}

static const struct kvt_op_case kvt_op_cases[] = {
	{ "start_used_outside", kvt_op_start_used_outside, -EFAULT,
	  KVH_E_USED_ACCESS },
	{ "add_used_outside", kvt_op_add_used_outside, -EFAULT,
	  KVH_E_USED_ACCESS },
	{ "add_used_tail_outside", kvt_op_add_used_tail_outside, -EFAULT,
	  KVH_E_USED_ACCESS },
	{ "disable_notify_used_outside", kvt_op_disable_used_outside, -EFAULT,
	  KVH_E_USED_ACCESS },
	{ "enable_notify_used_outside", kvt_op_enable_used_outside, -EFAULT,
	  KVH_E_USED_ACCESS },
	{ "enable_notify_avail_event_outside", kvt_op_enable_event_outside,
	  -EFAULT, KVH_E_USED_ACCESS },
	{ "enable_notify_avail_idx_jump", kvt_op_enable_avail_idx, -EINVAL,
	  KVH_E_AVAIL_IDX },
	{ "enable_notify_avail_outside", kvt_op_enable_avail_outside, -EFAULT,
	  KVH_E_RING_ACCESS },
	{ "log_write_bitmap_outside", kvt_op_log_write_outside, -EFAULT,
	  KVH_E_LOG_ACCESS },
	{ "log_write_bitmap_tail_outside", kvt_op_log_write_tail_outside,
	  -EFAULT, KVH_E_LOG_ACCESS },
	{ "add_used_log_null", kvt_op_log_used_null, -EFAULT,
	  KVH_E_LOG_ACCESS },
};

static void kvt_op_desc(const struct kvt_op_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_op, kvt_op_cases, kvt_op_desc);

static void kvh_vring_op_hostile(struct kunit *test)
{
	const struct kvt_op_case *c = test->param_value;
	struct kvt *t = test->priv;

	kvt_expect_fail(t, c->op(t), c->err, c->why);
}

/* The avail ring. */

static void kvh_vring_empty(struct kunit *test)
{
	struct kvt *t = test->priv;

	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 0);
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 1);
	kvt_expect_no_error(t);
}

/*
 * A bad avail->idx is not kept: the next call reads it again and refuses
 * it again, and once the guest puts it right the ring goes on.
 */
static void kvh_vring_avail_idx_not_cached(struct kunit *test)
{
	struct kvt *t = test->priv;

	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
	t->avail->idx = kvt_v16(KVT_NUM + 1);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EINVAL);
	KUNIT_EXPECT_EQ(test, t->vr.avail_idx, 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EINVAL);
	KUNIT_EXPECT_EQ(test, t->vr.avail_idx, 0);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 0);
	KUNIT_EXPECT_EQ(test, t->vr.errors[KVH_E_AVAIL_IDX], 2ULL);
	KUNIT_EXPECT_EQ(test, kvt_errors_total(t), 2ULL);

	t->avail->idx = kvt_v16(1);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->vr.avail_idx, 1);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);
}

/* kvh_vring_resync() drops the cached index: the next call re-checks. */
static void kvh_vring_resync_rereads(struct kunit *test)
{
	struct kvt *t = test->priv;

	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x100, 0x10, 0, 0);
	kvt_publish(t, 0);
	kvt_publish(t, 1);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_ASSERT_EQ(test, t->vr.avail_idx, 2);

	/* Entry 1 is covered by the cached index: avail->idx is not read. */
	t->avail->idx = kvt_v16(1 + KVT_NUM + 1);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, 1);
	kvh_vring_unget(&t->vr, 1);
	kvh_vring_resync(&t->vr);
	KUNIT_EXPECT_EQ(test, t->vr.avail_idx, 1);
	kvt_expect_fail(t, kvh_vring_get_chain(&t->vr, &t->c), -EINVAL,
			KVH_E_AVAIL_IDX);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 1);

	t->avail->idx = kvt_v16(2);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, 1);
}

/* A full ring's worth (num entries) across the 2^16 wrap of the index. */
static void kvh_vring_avail_full_wrap(struct kunit *test)
{
	struct kvt *t = test->priv;
	u16 i;

	t->vr.last_avail_idx = 0xfff8;
	t->vr.avail_idx = 0xfff8;
	t->avail->idx = kvt_v16(0xfff8);
	for (i = 0; i < KVT_NUM; i++) {
		kvt_desc(t, i, KVT_BUF_GPA + 0x10 * i, 0x10, 0, 0);
		kvt_publish(t, (i * 7) % KVT_NUM);
	}
	KUNIT_ASSERT_EQ(test, kvt_u16(t->avail->idx), 0x0008);
	for (i = 0; i < KVT_NUM; i++) {
		KUNIT_ASSERT_EQ_MSG(test, kvh_vring_get_chain(&t->vr, &t->c), 0,
				    "chain %u", i);
		KUNIT_EXPECT_EQ(test, t->c.head, (i * 7) % KVT_NUM);
		KUNIT_EXPECT_EQ(test,
				(u64)(__force unsigned long)t->iov[0].iov_base,
				kvt_uaddr(t, KVT_BUF_GPA + 0x10 * t->c.head));
	}
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 0x0008);
	kvt_expect_no_error(t);
}

static void kvh_vring_unget_gives_back(struct kunit *test)
{
	struct kvt *t = test->priv;

	kvt_desc(t, 4, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_desc(t, 5, KVT_BUF_GPA + 0x100, 0x10, 0, 0);
	kvt_desc(t, 6, KVT_BUF_GPA + 0x200, 0x10, 0, 0);
	kvt_publish(t, 4);
	kvt_publish(t, 5);
	kvt_publish(t, 6);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, 6);

	kvh_vring_unget(&t->vr, 2);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 1);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, 5);
	KUNIT_EXPECT_EQ(test, (u64)(__force unsigned long)t->iov[0].iov_base,
			kvt_uaddr(t, KVT_BUF_GPA + 0x100));
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, 6);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);

	/* Across the 2^16 wrap of the index, too. */
	kvh_vring_unget(&t->vr, 3);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 0);
	t->vr.last_avail_idx = 0;
	t->vr.avail_idx = 0;
	t->avail->idx = kvt_v16(0);
	kvt_publish(t, 6);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	kvh_vring_unget(&t->vr, 2);
	KUNIT_EXPECT_EQ(test, t->vr.last_avail_idx, 0xffff);
	kvt_expect_no_error(t);
}

/* The used ring. */

struct kvt_used_case {
	const char *name;
	u16 start;		/* last_used_idx before */
	unsigned int n;		/* entries added */
	unsigned int slot;	/* ring slot of the first */
	u16 idx;		/* used->idx after */
};

static const struct kvt_used_case kvt_used_cases[] = {
	{ "from_0", 0, 3, 0, 3 },
	{ "to_ring_end", 13, 3, 13, 16 },
	{ "ring_wrap", 14, 4, 14, 18 },
	{ "idx_wrap", 0xfffe, 4, 14, 0x0002 },
	{ "idx_to_0", 0xfffc, 4, 12, 0x0000 },
	{ "full_ring", 5, 16, 5, 21 },
	{ "full_ring_idx_wrap", 0xfff5, 16, 5, 0x0005 },
};

static void kvt_used_desc(const struct kvt_used_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_used, kvt_used_cases, kvt_used_desc);

static void kvh_vring_add_used_wrap(struct kunit *test)
{
	const struct kvt_used_case *c = test->param_value;
	struct vring_used_elem e[KVT_NUM];
	struct kvt *t = test->priv;
	unsigned int i, k;

	for (i = 0; i < KVT_NUM; i++) {
		t->used->ring[i].id = kvt_v32(0xdead);
		t->used->ring[i].len = kvt_v32(0xbeef);
	}
	for (k = 0; k < c->n; k++) {
		e[k].id = kvt_v32(100 + k);
		e[k].len = kvt_v32(1000 + k);
	}
	t->used->idx = kvt_v16(c->start);
	t->vr.last_used_idx = c->start;
	KUNIT_ASSERT_EQ(test, kvh_vring_add_used(&t->vr, e, c->n), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->idx), c->idx);
	KUNIT_EXPECT_EQ(test, t->vr.last_used_idx, c->idx);
	for (i = 0; i < KVT_NUM; i++) {
		/* Entry k of the batch is in slot (c->slot + k) % num. */
		k = (i + KVT_NUM - c->slot) % KVT_NUM;
		if (k < c->n) {
			KUNIT_EXPECT_EQ_MSG(test, kvt_u32(t->used->ring[i].id),
					    100 + k, "slot %u", i);
			KUNIT_EXPECT_EQ_MSG(test, kvt_u32(t->used->ring[i].len),
					    1000 + k, "slot %u", i);
		} else {
			KUNIT_EXPECT_EQ_MSG(test, kvt_u32(t->used->ring[i].id),
					    0xdead, "slot %u", i);
		}
	}
	kvt_expect_no_error(t);
}

/* No entries is a no-op; more than the ring holds is refused. */
static void kvh_vring_add_used_count(struct kunit *test)
{
	struct vring_used_elem e[KVT_NUM + 1] = {};
	struct kvt *t = test->priv;

	t->used->idx = kvt_v16(7);
	t->vr.last_used_idx = 7;
	KUNIT_EXPECT_EQ(test, kvh_vring_add_used(&t->vr, e, 0), 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_add_used(&t->vr, e, KVT_NUM + 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->idx), 7);
	KUNIT_EXPECT_EQ(test, t->vr.last_used_idx, 7);
	KUNIT_EXPECT_EQ(test, kvh_vring_add_used(&t->vr, e, KVT_NUM), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->idx), 7 + KVT_NUM);
}

/* Taking over a ring mid-life: used->idx is where the last owner left. */
static void kvh_vring_start_used_idx(struct kunit *test)
{
	struct kvt *t = test->priv;

	t->used->idx = kvt_v16(0x1234);
	t->used->flags = kvt_v16(0);
	t->vr.used_flags = VRING_USED_F_NO_NOTIFY;
	t->vr.signalled_used_valid = true;
	KUNIT_ASSERT_EQ(test, kvh_vring_start(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, t->vr.last_used_idx, 0x1234);
	KUNIT_EXPECT_FALSE(test, t->vr.signalled_used_valid);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), VRING_USED_F_NO_NOTIFY);

	/* 0x1234 % 16 == 4 */
	KUNIT_ASSERT_EQ(test, kvt_add_one(t), 0);
	KUNIT_EXPECT_EQ(test, kvt_u32(t->used->ring[4].id), 3);
	KUNIT_EXPECT_EQ(test, kvt_u32(t->used->ring[4].len), 0x10);
	KUNIT_EXPECT_EQ(test, kvt_u32(t->used->ring[0].len), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->idx), 0x1235);
	kvt_expect_no_error(t);
}

/* Signalling. */

struct kvt_event_case {
	const char *name;
	u16 old;		/* signalled_used: used->idx at the last signal */
	u16 new;		/* used->idx now */
	u16 used_event;
	bool signal;
};

/* Signal iff used_event is in [old, new), mod 2^16: worked out by hand. */
static const struct kvt_event_case kvt_event_cases[] = {
	{ "event_at_old", 0, 1, 0, true },
	{ "event_at_new", 0, 1, 1, false },
	{ "event_inside", 10, 20, 15, true },
	{ "event_at_old_10", 10, 20, 10, true },
	{ "event_at_new_minus_1", 10, 20, 19, true },
	{ "event_at_new_20", 10, 20, 20, false },
	{ "event_before_old", 10, 20, 9, false },
	{ "event_far_ahead", 10, 20, 0x8000, false },
	{ "nothing_new", 5, 5, 5, false },
	{ "nothing_new_event_behind", 5, 5, 4, false },
	{ "wrap_event_at_old", 0xfff8, 0x0004, 0xfff8, true },
	{ "wrap_event_before_wrap", 0xfff8, 0x0004, 0xfffe, true },
	{ "wrap_event_ffff", 0xfff8, 0x0004, 0xffff, true },
	{ "wrap_event_0", 0xfff8, 0x0004, 0x0000, true },
	{ "wrap_event_after_wrap", 0xfff8, 0x0004, 0x0003, true },
	{ "wrap_event_at_new", 0xfff8, 0x0004, 0x0004, false },
	{ "wrap_event_before_old", 0xfff8, 0x0004, 0xfff7, false },
	{ "wrap_event_far", 0xfff8, 0x0004, 0x7ffc, false },
	{ "new_is_0_event_ffff", 0xfff0, 0x0000, 0xffff, true },
	{ "new_is_0_event_0", 0xfff0, 0x0000, 0x0000, false },
	{ "old_is_0_event_ffff", 0x0000, 0x0010, 0xffff, false },
};

static void kvt_event_desc(const struct kvt_event_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_event, kvt_event_cases, kvt_event_desc);

static void kvh_vring_event_idx(struct kunit *test)
{
	const struct kvt_event_case *c = test->param_value;
	struct vring_used_elem e[KVT_NUM] = {};
	struct kvt *t = test->priv;
	u16 n = c->new - c->old;

	KUNIT_ASSERT_LE(test, n, KVT_NUM);
	t->vr.event_idx = true;
	t->vr.last_used_idx = c->old;
	t->vr.signalled_used = c->old;
	t->vr.signalled_used_valid = true;
	/* Ignored with event idx. */
	t->avail->flags = kvt_v16(c->signal ? VRING_AVAIL_F_NO_INTERRUPT : 0);
	kvt_set_used_event(t, c->used_event);
	KUNIT_ASSERT_EQ(test, kvh_vring_add_used(&t->vr, e, n), 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_should_signal(&t->vr), c->signal);
	KUNIT_EXPECT_EQ(test, t->vr.signalled_used, c->new);
	KUNIT_EXPECT_TRUE(test, t->vr.signalled_used_valid);
	/* Nothing new since: never again. */
	KUNIT_EXPECT_FALSE(test, kvh_vring_should_signal(&t->vr));
	kvt_expect_no_error(t);
}

/* Without a valid signalled_used, signal whatever used_event says. */
static void kvh_vring_event_not_valid(struct kunit *test)
{
	struct kvt *t = test->priv;

	t->vr.event_idx = true;
	t->vr.last_used_idx = 10;
	t->vr.signalled_used = 10;
	t->vr.signalled_used_valid = false;
	kvt_set_used_event(t, 0x8000);
	KUNIT_ASSERT_EQ(test, kvt_add_one(t), 0);
	KUNIT_EXPECT_TRUE(test, kvh_vring_should_signal(&t->vr));
	KUNIT_EXPECT_TRUE(test, t->vr.signalled_used_valid);
	KUNIT_EXPECT_EQ(test, t->vr.signalled_used, 11);
	KUNIT_ASSERT_EQ(test, kvt_add_one(t), 0);
	KUNIT_EXPECT_FALSE(test, kvh_vring_should_signal(&t->vr));
	/* kvh_vring_start() forgets it too. */
	KUNIT_ASSERT_EQ(test, kvh_vring_start(&t->vr), 0);
	KUNIT_ASSERT_EQ(test, kvt_add_one(t), 0);
	KUNIT_EXPECT_TRUE(test, kvh_vring_should_signal(&t->vr));
}

/*
 * 2^16 - 3 entries since the last signal at 5: used->idx is at 2.  Adding
 * 4 takes it to 6, past signalled_used again, which must no longer be
 * trusted: [5, 6) would say "no" to used_event 0x1000.
 */
static void kvh_vring_event_stale(struct kunit *test)
{
	struct vring_used_elem e[4] = {};
	struct kvt *t = test->priv;

	t->vr.event_idx = true;
	t->vr.last_used_idx = 2;
	t->vr.signalled_used = 5;
	t->vr.signalled_used_valid = true;
	kvt_set_used_event(t, 0x1000);
	KUNIT_ASSERT_EQ(test, kvh_vring_add_used(&t->vr, e, 4), 0);
	KUNIT_EXPECT_FALSE(test, t->vr.signalled_used_valid);
	KUNIT_EXPECT_TRUE(test, kvh_vring_should_signal(&t->vr));
	KUNIT_EXPECT_EQ(test, t->vr.signalled_used, 6);
}

struct kvt_flags_case {
	const char *name;
	bool event_idx;
	u16 avail_flags;
	u16 used_event;		/* with event idx, old 0, new 1 */
	bool avail_outside;
	bool signal;
};

static const struct kvt_flags_case kvt_flags_cases[] = {
	{ "flags_0", false, 0, 1, false, true },
	{ "no_interrupt", false, VRING_AVAIL_F_NO_INTERRUPT, 0, false, false },
	{ "other_flag_bits", false, 0xfffe, 0, false, true },
	{ "all_flag_bits", false, 0xffff, 0, false, false },
	{ "avail_unreadable", false, VRING_AVAIL_F_NO_INTERRUPT, 1, true,
	  true },
	{ "event_idx_ignores_no_interrupt", true, VRING_AVAIL_F_NO_INTERRUPT,
	  0, false, true },
	{ "event_idx_ignores_flags_0", true, 0, 1, false, false },
	{ "event_idx_avail_unreadable", true, 0, 1, true, true },
};

static void kvt_flags_desc(const struct kvt_flags_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_flags, kvt_flags_cases, kvt_flags_desc);

static void kvh_vring_no_interrupt(struct kunit *test)
{
	const struct kvt_flags_case *c = test->param_value;
	struct kvt *t = test->priv;

	t->vr.event_idx = c->event_idx;
	t->vr.signalled_used_valid = true;
	t->avail->flags = kvt_v16(c->avail_flags);
	kvt_set_used_event(t, c->used_event);
	KUNIT_ASSERT_EQ(test, kvt_add_one(t), 0);
	if (c->avail_outside)
		t->vr.avail = kvh_test_uptr(kvt_arena_end(t));
	KUNIT_EXPECT_EQ(test, kvh_vring_should_signal(&t->vr), c->signal);
	kvt_expect_no_error(t);
}

struct kvt_empty_case {
	const char *name;
	bool notify_on_empty;
	bool event_idx;
	bool empty;
	bool signal;
};

/* The guest asks for no interrupt either way: NO_INTERRUPT, used_event. */
static const struct kvt_empty_case kvt_empty_cases[] = {
	{ "on_empty", true, false, true, true },
	{ "on_pending", true, false, false, false },
	{ "off_empty", false, false, true, false },
	{ "on_empty_event_idx", true, true, true, true },
	{ "on_pending_event_idx", true, true, false, false },
	{ "off_empty_event_idx", false, true, true, false },
};

static void kvt_empty_desc(const struct kvt_empty_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_empty, kvt_empty_cases, kvt_empty_desc);

static void kvh_vring_notify_on_empty(struct kunit *test)
{
	const struct kvt_empty_case *c = test->param_value;
	struct kvt *t = test->priv;

	t->vr.notify_on_empty = c->notify_on_empty;
	t->vr.event_idx = c->event_idx;
	t->vr.signalled_used_valid = true;
	t->avail->flags = kvt_v16(VRING_AVAIL_F_NO_INTERRUPT);
	kvt_set_used_event(t, 0x8000);
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_desc(t, 1, KVT_BUF_GPA + 0x100, 0x10, 0, 0);
	kvt_publish(t, 0);
	kvt_publish(t, 1);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	if (c->empty)
		KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_ASSERT_EQ(test, kvt_add_one(t), 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_should_signal(&t->vr), c->signal);
	kvt_expect_no_error(t);
}

/* Kick suppression. */

static void kvh_vring_notify_flags(struct kunit *test)
{
	struct kvt *t = test->priv;

	kvt_set_avail_event(t, 0x5555);
	KUNIT_EXPECT_EQ(test, kvh_vring_disable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), VRING_USED_F_NO_NOTIFY);
	KUNIT_EXPECT_EQ(test, kvh_vring_enable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), 0);

	/* The guest adds a chain while kicks are off. */
	KUNIT_EXPECT_EQ(test, kvh_vring_disable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), VRING_USED_F_NO_NOTIFY);
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, 0, 0);
	kvt_publish(t, 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_enable_notify(&t->vr), 1);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), 0);

	KUNIT_EXPECT_EQ(test, kvh_vring_disable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kvh_vring_enable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), 0);
	/* No event idx: avail_event is never written. */
	KUNIT_EXPECT_EQ(test, kvt_avail_event(t), 0x5555);
	kvt_expect_no_error(t);
}

static void kvh_vring_notify_event_idx(struct kunit *test)
{
	struct kvt *t = test->priv;
	u16 i;

	t->vr.event_idx = true;
	kvt_set_avail_event(t, 0x5555);
	for (i = 0; i < 4; i++)
		kvt_desc(t, i, KVT_BUF_GPA + 0x10 * i, 0x10, 0, 0);
	for (i = 0; i < 3; i++)
		kvt_publish(t, i);
	/* One of three taken: the engine has seen avail->idx 3. */
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_ASSERT_EQ(test, t->vr.avail_idx, 3);
	KUNIT_ASSERT_EQ(test, t->vr.last_avail_idx, 1);

	/* Disabling writes nothing: avail_event only moves on enable. */
	KUNIT_EXPECT_EQ(test, kvh_vring_disable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), 0);
	KUNIT_EXPECT_EQ(test, kvt_avail_event(t), 0x5555);
	/* avail->idx has not moved since it was read: 0, not 1. */
	KUNIT_EXPECT_EQ(test, kvh_vring_enable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvt_avail_event(t), 3);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), 0);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, 2);

	/* The guest adds a chain while kicks are off. */
	KUNIT_EXPECT_EQ(test, kvh_vring_disable_notify(&t->vr), 0);
	kvt_publish(t, 3);
	KUNIT_EXPECT_EQ(test, kvh_vring_enable_notify(&t->vr), 1);
	KUNIT_EXPECT_EQ(test, kvt_avail_event(t), 3);

	KUNIT_EXPECT_EQ(test, kvh_vring_disable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_EXPECT_EQ(test, t->c.head, 3);
	KUNIT_EXPECT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), -EAGAIN);
	KUNIT_EXPECT_EQ(test, kvh_vring_enable_notify(&t->vr), 0);
	KUNIT_EXPECT_EQ(test, kvt_avail_event(t), 4);
	KUNIT_EXPECT_EQ(test, kvt_u16(t->used->flags), 0);
	kvt_expect_no_error(t);
}

/* The dirty log. */

#define KVT_PAGES_MAX	6

struct kvt_logw_case {
	const char *name;
	u32 written;
	unsigned int npages;
	u64 pages[KVT_PAGES_MAX];
};

/*
 * The chain's writable part: [0x105800, 0x106800), pages 0x105-0x106, then
 * [0x13f800, 0x141800), pages 0x13f-0x141 and across the "lo"/"hi" split.
 */
static const struct kvt_logw_case kvt_logw_cases[] = {
	{ "nothing", 0, 0 },
	{ "one_byte", 1, 1, { 0x105 } },
	{ "to_page_end", 0x800, 1, { 0x105 } },
	{ "into_2nd_page", 0x801, 2, { 0x105, 0x106 } },
	{ "first_entry", 0x1000, 2, { 0x105, 0x106 } },
	{ "into_2nd_entry", 0x1001, 3, { 0x105, 0x106, 0x13f } },
	{ "2nd_entry_1st_page", 0x1800, 3, { 0x105, 0x106, 0x13f } },
	{ "2nd_entry_into_hi", 0x1801, 4, { 0x105, 0x106, 0x13f, 0x140 } },
	{ "2nd_entry_2nd_page", 0x2800, 4, { 0x105, 0x106, 0x13f, 0x140 } },
	{ "2nd_entry_3rd_page", 0x2801, 5,
	  { 0x105, 0x106, 0x13f, 0x140, 0x141 } },
	{ "all", 0x3000, 5, { 0x105, 0x106, 0x13f, 0x140, 0x141 } },
	{ "more_than_all", U32_MAX, 5, { 0x105, 0x106, 0x13f, 0x140, 0x141 } },
};

static void kvt_logw_desc(const struct kvt_logw_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_logw, kvt_logw_cases, kvt_logw_desc);

static void kvh_vring_log_write_pages(struct kunit *test)
{
	const struct kvt_logw_case *c = test->param_value;
	struct kvt *t = test->priv;

	t->vr.log = true;
	kvt_desc(t, 0, KVT_BUF_GPA, 0x10, KVT_NEXT, 1);
	kvt_desc(t, 1, 0x105800, 0x1000, KVT_WRITE | KVT_NEXT, 2);
	kvt_desc(t, 2, 0x13f800, 0x2000, KVT_WRITE, 0);
	kvt_publish(t, 0);
	KUNIT_ASSERT_EQ(test, kvh_vring_get_chain(&t->vr, &t->c), 0);
	KUNIT_ASSERT_EQ(test, t->c.nlog, 2);
	KUNIT_EXPECT_EQ(test, t->log[0].gpa, 0x105800ULL);
	KUNIT_EXPECT_EQ(test, t->log[0].len, 0x1000);
	KUNIT_EXPECT_EQ(test, t->log[1].gpa, 0x13f800ULL);
	KUNIT_EXPECT_EQ(test, t->log[1].len, 0x2000);
	/* Walking a chain dirties nothing. */
	kvt_expect_log(t, NULL, 0);
	KUNIT_ASSERT_EQ(test, kvh_vring_log_write(&t->vr, &t->c, c->written),
			0);
	kvt_expect_log(t, c->pages, c->npages);
	kvt_expect_no_error(t);
}

/*
 * Used-ring writes, on a 1024-entry used ring at guest-physical 0x120ffc:
 * flags and idx on page 0x120, ring[0..511] on 0x121, ring[512..1023] on
 * 0x122, avail_event on 0x123.
 */
#define KVT_ULOG_NUM	1024
#define KVT_ULOG_GPA	0x120ffcULL

enum kvt_ulog_op {
	KVT_ULOG_ADD,
	KVT_ULOG_START,
	KVT_ULOG_DISABLE,
	KVT_ULOG_ENABLE_EVENT,
};

struct kvt_ulog_case {
	const char *name;
	enum kvt_ulog_op op;
	bool log_used;
	u16 start;
	unsigned int n;
	unsigned int npages;
	u64 pages[KVT_PAGES_MAX];
};

static const struct kvt_ulog_case kvt_ulog_cases[] = {
	{ "add_first", KVT_ULOG_ADD, true, 0, 1, 2, { 0x120, 0x121 } },
	{ "add_upper_half", KVT_ULOG_ADD, true, 600, 1, 2, { 0x120, 0x122 } },
	{ "add_across_page", KVT_ULOG_ADD, true, 511, 2, 3,
	  { 0x120, 0x121, 0x122 } },
	{ "add_last", KVT_ULOG_ADD, true, 1023, 1, 2, { 0x120, 0x122 } },
	{ "add_across_ring_wrap", KVT_ULOG_ADD, true, 1023, 2, 3,
	  { 0x120, 0x121, 0x122 } },
	{ "add_not_logged", KVT_ULOG_ADD, false, 511, 2, 0 },
	{ "start", KVT_ULOG_START, true, 0, 0, 1, { 0x120 } },
	{ "disable_notify", KVT_ULOG_DISABLE, true, 0, 0, 1, { 0x120 } },
	{ "enable_notify_event_idx", KVT_ULOG_ENABLE_EVENT, true, 0, 0, 1,
	  { 0x123 } },
};

static void kvt_ulog_desc(const struct kvt_ulog_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_ulog, kvt_ulog_cases, kvt_ulog_desc);

static void kvh_vring_log_used_pages(struct kunit *test)
{
	const struct kvt_ulog_case *c = test->param_value;
	struct vring_used_elem e[2] = {};
	struct kvt *t = test->priv;
	int r = -1;

	t->vr.num = KVT_ULOG_NUM;
	t->vr.used = kvh_test_uptr(kvt_ptr(t, KVT_ULOG_GPA));
	t->vr.log_used_gpa = KVT_ULOG_GPA;
	t->vr.log_used = c->log_used;
	t->vr.last_used_idx = c->start;
	switch (c->op) {
	case KVT_ULOG_ADD:
		r = kvh_vring_add_used(&t->vr, e, c->n);
		KUNIT_EXPECT_EQ(test, t->vr.last_used_idx,
				(u16)(c->start + c->n));
		break;
	case KVT_ULOG_START:
		r = kvh_vring_start(&t->vr);
		break;
	case KVT_ULOG_DISABLE:
		r = kvh_vring_disable_notify(&t->vr);
		break;
	case KVT_ULOG_ENABLE_EVENT:
		t->vr.event_idx = true;
		t->vr.used_flags = VRING_USED_F_NO_NOTIFY;
		r = kvh_vring_enable_notify(&t->vr);
		break;
	}
	KUNIT_ASSERT_EQ(test, r, 0);
	kvt_expect_log(t, c->pages, c->npages);
	kvt_expect_no_error(t);
}

static struct kunit_case kvt_vring_cases[] = {
	KUNIT_CASE_PARAM(kvh_vring_chain_valid, kvt_chain_gen_params),
	KUNIT_CASE_PARAM(kvh_vring_chain_hostile, kvt_bad_gen_params),
	KUNIT_CASE_PARAM(kvh_vring_op_hostile, kvt_op_gen_params),
	KUNIT_CASE(kvh_vring_empty),
	KUNIT_CASE(kvh_vring_avail_full_wrap),
	KUNIT_CASE(kvh_vring_avail_idx_not_cached),
	KUNIT_CASE(kvh_vring_resync_rereads),
	KUNIT_CASE(kvh_vring_unget_gives_back),
	KUNIT_CASE_PARAM(kvh_vring_add_used_wrap, kvt_used_gen_params),
	KUNIT_CASE(kvh_vring_add_used_count),
	KUNIT_CASE(kvh_vring_start_used_idx),
	KUNIT_CASE_PARAM(kvh_vring_event_idx, kvt_event_gen_params),
	KUNIT_CASE(kvh_vring_event_not_valid),
	KUNIT_CASE(kvh_vring_event_stale),
	KUNIT_CASE_PARAM(kvh_vring_no_interrupt, kvt_flags_gen_params),
	KUNIT_CASE_PARAM(kvh_vring_notify_on_empty, kvt_empty_gen_params),
	KUNIT_CASE(kvh_vring_notify_flags),
	KUNIT_CASE(kvh_vring_notify_event_idx),
	KUNIT_CASE_PARAM(kvh_vring_log_write_pages, kvt_logw_gen_params),
	KUNIT_CASE_PARAM(kvh_vring_log_used_pages, kvt_ulog_gen_params),
	{}
};

static struct kunit_suite kvt_vring_suite = {
	.name = "kvhost_vring",
	.init = kvt_init,
	.exit = kvt_exit,
	.test_cases = kvt_vring_cases,
};

kunit_test_suite(kvt_vring_suite);
