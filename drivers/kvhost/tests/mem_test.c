// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kvhost_mem: the guest memory table (drivers/kvhost/mem.c),
 * built into this module in arena mode by tests/engine.c.
 *
 * The table only computes addresses; it never dereferences them.  The
 * regular regions still point into a vmalloc'd arena, so the bases the
 * tests expect are real pointers; the huge regions use addresses that
 * nothing ever touches.
 */
#include <kunit/test.h>
#include <linux/bits.h>
#include <linux/overflow.h>
#include <linux/slab.h>

#include "engine.h"

#define KVT_MEM_ARENA_SIZE	(256 * 1024)

/* An address no test ever dereferences: only translation sees it. */
#define KVT_FAKE_UADDR		BIT_ULL(44)

/* Marks an iovec the code under test must not have written. */
#define KVT_POISON		0x5a5a5a5a5a5a5a5aUL

struct kvt_mem_ctx {
	u8 *arena;
};

static int kvt_mem_init(struct kunit *test)
{
	struct kvt_mem_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->arena = kvh_test_arena_alloc(KVT_MEM_ARENA_SIZE);
	if (!ctx->arena)
		return -ENOMEM;
	test->priv = ctx;
	return 0;
}

static void kvt_mem_exit(struct kunit *test)
{
	struct kvt_mem_ctx *ctx = test->priv;

	if (ctx && ctx->arena)
		kvh_test_arena_free();
}

/*
 * A region as a test describes it: @uoff is an offset into the arena, or,
 * with @raw, the userspace address itself.
 */
struct kvt_region {
	u64 gpa;
	u64 size;
	u64 uoff;
	bool raw;
};

static u64 kvt_uaddr(struct kunit *test, const struct kvt_region *r)
{
	struct kvt_mem_ctx *ctx = test->priv;

	return r->raw ? r->uoff : kvh_test_uaddr(ctx->arena + r->uoff);
}

static struct kvh_mem *kvt_mem_build(struct kunit *test,
				     const struct kvt_region *regions,
				     unsigned int n)
{
	struct kvh_mem *mem;
	unsigned int i;

	mem = kunit_kzalloc(test, struct_size(mem, regions, n), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	mem->nregions = n;
	for (i = 0; i < n; i++) {
		mem->regions[i].gpa = regions[i].gpa;
		mem->regions[i].size = regions[i].size;
		mem->regions[i].uaddr = kvt_uaddr(test, &regions[i]);
	}
	return mem;
}

/* kvh_mem_finalize(): validation. */

#define KVT_FIN_MAX	3

struct kvt_fin_case {
	const char *name;
	unsigned int n;
	struct kvt_region r[KVT_FIN_MAX];
	int ret;
};

static const struct kvt_fin_case kvt_fin_cases[] = {
	{ "empty", 0, {}, 0 },
	{ "single", 1, { { 0x1000, 0x1000, 0 } }, 0 },
	{ "adjacent", 2,
	  { { 0x1000, 0x1000, 0x8000 }, { 0x2000, 0x1000, 0 } }, 0 },
	{ "adjacent_unsorted", 3,
	  { { 0x3000, 0x10, 0 }, { 0x1000, 0x1000, 0x1000 },
	    { 0x2000, 0x1000, 0x4000 } }, 0 },
	{ "overlap_last_byte", 2,
	  { { 0x1000, 0x1000, 0 }, { 0x1fff, 0x10, 0x2000 } }, -EINVAL },
	{ "overlap_contained", 2,
	  { { 0x1000, 0x10000, 0 }, { 0x2000, 0x10, 0x20000 } }, -EINVAL },
	{ "overlap_same_gpa", 2,
	  { { 0x1000, 0x10, 0 }, { 0x1000, 0x10, 0x100 } }, -EINVAL },
	{ "overlap_after_sort", 3,
	  { { 0x5000, 0x1000, 0 }, { 0x1000, 0x1000, 0x1000 },
	    { 0x1800, 0x10, 0x2000 } }, -EINVAL },
	{ "zero_size", 1, { { 0x1000, 0, 0 } }, -EFAULT },
	/* Here only the size check catches it: nothing wraps. */
	{ "zero_size_at_0", 1, { { 0, 0, 0, true } }, -EFAULT },
	{ "zero_size_among_valid", 3,
	  { { 0x1000, 0x1000, 0 }, { 0x3000, 0, 0x1000 },
	    { 0x5000, 0x1000, 0x2000 } }, -EFAULT },
	{ "gpa_wrap", 1, { { U64_MAX - 0xfff, 0x1001, 0 } }, -EFAULT },
	{ "gpa_wrap_whole_space", 1, { { 1, U64_MAX, 0 } }, -EFAULT },
	{ "gpa_ends_at_top", 1, { { U64_MAX - 0xfff, 0x1000, 0 } }, 0 },
	{ "uaddr_wrap", 1,
	  { { 0x1000, 0x1001, U64_MAX - 0xfff, true } }, -EFAULT },
	{ "uaddr_ends_at_top", 1,
	  { { 0x1000, 0x1000, U64_MAX - 0xfff, true } }, 0 },
};

static void kvt_fin_desc(const struct kvt_fin_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_fin, kvt_fin_cases, kvt_fin_desc);

static void kvh_mem_finalize_checks(struct kunit *test)
{
	const struct kvt_fin_case *c = test->param_value;
	struct kvh_mem *mem = kvt_mem_build(test, c->r, c->n);

	KUNIT_EXPECT_EQ(test, kvh_mem_finalize(mem), c->ret);
	KUNIT_EXPECT_EQ(test, mem->nregions, c->n);
}

/*
 * 64 regions with holes between them, given in a scrambled order: region
 * k (in guest-physical order) starts at 0x10000 * (k + 1) + 0x4000, is
 * 0x800 + 0x10 * k bytes long and lives at arena offset 0x1000 * k.
 */
#define KVT_NREG	64

static u64 kvt_reg_gpa(unsigned int k)
{
	return 0x10000ULL * (k + 1) + 0x4000;
}

static u64 kvt_reg_size(unsigned int k)
{
	return 0x800 + 0x10 * k;
}

static struct kvh_mem *kvt_mem_64(struct kunit *test)
{
	struct kvt_region *r;
	unsigned int i, k;

	r = kunit_kcalloc(test, KVT_NREG, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	for (i = 0; i < KVT_NREG; i++) {
		/* 37 is odd, so i -> 37 * i mod 64 is a permutation. */
		k = (37 * i) % KVT_NREG;
		r[i].gpa = kvt_reg_gpa(k);
		r[i].size = kvt_reg_size(k);
		r[i].uoff = 0x1000 * k;
		r[i].raw = false;
	}
	return kvt_mem_build(test, r, KVT_NREG);
}

static void kvh_mem_finalize_sorts(struct kunit *test)
{
	struct kvt_mem_ctx *ctx = test->priv;
	struct kvh_mem *mem = kvt_mem_64(test);
	unsigned int k;

	/* Not sorted to begin with, or this would prove nothing. */
	KUNIT_ASSERT_NE(test, mem->regions[1].gpa, kvt_reg_gpa(1));
	KUNIT_ASSERT_EQ(test, kvh_mem_finalize(mem), 0);
	KUNIT_ASSERT_EQ(test, mem->nregions, KVT_NREG);
	for (k = 0; k < KVT_NREG; k++) {
		/* Each region moved as a whole. */
		KUNIT_EXPECT_EQ_MSG(test, mem->regions[k].gpa, kvt_reg_gpa(k),
				    "region %u", k);
		KUNIT_EXPECT_EQ_MSG(test, mem->regions[k].size,
				    kvt_reg_size(k), "region %u", k);
		KUNIT_EXPECT_EQ_MSG(test, mem->regions[k].uaddr,
				    kvh_test_uaddr(ctx->arena + 0x1000 * k),
				    "region %u", k);
	}
}

/* kvh_mem_find() on the 64 regions, with each kind of hint. */

enum kvt_hint {
	KVT_HINT_RIGHT,		/* the region that holds the address */
	KVT_HINT_STALE,		/* another region */
	KVT_HINT_OUT,		/* past the end of the table */
};

struct kvt_find_case {
	const char *name;
	enum kvt_hint hint;
};

static const struct kvt_find_case kvt_find_cases[] = {
	{ "right_hint", KVT_HINT_RIGHT },
	{ "stale_hint", KVT_HINT_STALE },
	{ "hint_past_table", KVT_HINT_OUT },
};

static void kvt_find_desc(const struct kvt_find_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_find, kvt_find_cases, kvt_find_desc);

static u32 kvt_hint_for(enum kvt_hint h, unsigned int k)
{
	switch (h) {
	case KVT_HINT_RIGHT:
		return k;
	case KVT_HINT_STALE:
		return (k + KVT_NREG / 2 + 1) % KVT_NREG;
	default:
		return KVT_NREG + k;
	}
}

static void kvh_mem_find_64(struct kunit *test)
{
	const struct kvt_find_case *c = test->param_value;
	struct kvh_mem *mem = kvt_mem_64(test);
	const struct kvh_mem_region *r;
	u64 probe[2];
	unsigned int k, p;
	u32 hint;

	KUNIT_ASSERT_EQ(test, kvh_mem_finalize(mem), 0);
	for (k = 0; k < KVT_NREG; k++) {
		probe[0] = kvt_reg_gpa(k);
		probe[1] = kvt_reg_gpa(k) + kvt_reg_size(k) - 1;
		for (p = 0; p < ARRAY_SIZE(probe); p++) {
			hint = kvt_hint_for(c->hint, k);
			r = kvh_mem_find(mem, &hint, probe[p]);
			KUNIT_EXPECT_PTR_EQ_MSG(test, r, &mem->regions[k],
						"gpa %#llx", probe[p]);
			KUNIT_EXPECT_EQ_MSG(test, hint, k, "gpa %#llx",
					    probe[p]);
		}
	}
}

/* Addresses in the holes: before, between and after the regions. */
static void kvh_mem_find_misses(struct kunit *test)
{
	const struct kvt_find_case *c = test->param_value;
	struct kvh_mem *mem = kvt_mem_64(test);
	const struct kvh_mem_region *r;
	u64 probe[4];
	unsigned int k, p;
	u32 hint, before;

	KUNIT_ASSERT_EQ(test, kvh_mem_finalize(mem), 0);
	for (k = 0; k < KVT_NREG; k++) {
		probe[0] = kvt_reg_gpa(k) - 1;
		probe[1] = kvt_reg_gpa(k) + kvt_reg_size(k);
		probe[2] = k ? 0 : kvt_reg_gpa(k) - 0x100;
		probe[3] = k ? U64_MAX : kvt_reg_gpa(KVT_NREG - 1) + 0x10000;
		for (p = 0; p < ARRAY_SIZE(probe); p++) {
			before = kvt_hint_for(c->hint, k);
			hint = before;
			r = kvh_mem_find(mem, &hint, probe[p]);
			KUNIT_EXPECT_NULL_MSG(test, r, "gpa %#llx", probe[p]);
			KUNIT_EXPECT_EQ_MSG(test, hint, before, "gpa %#llx",
					    probe[p]);
		}
	}
}

static void kvh_mem_find_empty(struct kunit *test)
{
	struct kvh_mem *mem = kvt_mem_build(test, NULL, 0);
	u32 hint = 0;

	KUNIT_ASSERT_EQ(test, kvh_mem_finalize(mem), 0);
	KUNIT_EXPECT_NULL(test, kvh_mem_find(mem, &hint, 0));
	KUNIT_EXPECT_NULL(test, kvh_mem_find(mem, &hint, 0x1000));
}

/*
 * kvh_mem_translate().  The table, in guest-physical order:
 *
 *   [0x10000, 0x20000)  arena 0x30000   \
 *   [0x20000, 0x28000)  arena 0x08000    } contiguous in the guest,
 *   [0x28000, 0x2c000)  arena 0x20000   /  scattered in the arena
 *   [0x2c000, 0x40000)  hole
 *   [0x40000, 0x41000)  arena 0x10000
 *   [1 << 40, 2 << 40)  1 TiB at KVT_FAKE_UADDR, never dereferenced
 *   [2 << 40, 3 << 40)  1 TiB at KVT_FAKE_UADDR + (8 << 40)
 */
static const struct kvt_region kvt_xlate_map[] = {
	{ 2ULL << 40, 1ULL << 40, KVT_FAKE_UADDR + (8ULL << 40), true },
	{ 0x28000, 0x4000, 0x20000 },
	{ 0x40000, 0x1000, 0x10000 },
	{ 0x10000, 0x10000, 0x30000 },
	{ 1ULL << 40, 1ULL << 40, KVT_FAKE_UADDR, true },
	{ 0x20000, 0x8000, 0x08000 },
};

#define KVT_XLATE_SEGS	4

struct kvt_seg {
	u64 gpa;
	u64 len;
};

struct kvt_xlate_case {
	const char *name;
	u64 gpa;
	u64 len;
	unsigned int iov_max;
	int ret;
	struct kvt_seg seg[KVT_XLATE_SEGS];
};

static const struct kvt_xlate_case kvt_xlate_cases[] = {
	{ "inside_one", 0x10100, 0x100, 4, 1, { { 0x10100, 0x100 } } },
	{ "whole_region", 0x20000, 0x8000, 4, 1, { { 0x20000, 0x8000 } } },
	{ "to_last_byte", 0x2bfff, 1, 4, 1, { { 0x2bfff, 1 } } },
	{ "cross_two", 0x1f000, 0x2000, 4, 2,
	  { { 0x1f000, 0x1000 }, { 0x20000, 0x1000 } } },
	{ "cross_two_one_byte_each", 0x1ffff, 2, 2, 2,
	  { { 0x1ffff, 1 }, { 0x20000, 1 } } },
	{ "cross_three", 0x1ffff, 0x8002, 4, 3,
	  { { 0x1ffff, 1 }, { 0x20000, 0x8000 }, { 0x28000, 1 } } },
	{ "cross_three_exact_room", 0x1ffff, 0x8002, 3, 3,
	  { { 0x1ffff, 1 }, { 0x20000, 0x8000 }, { 0x28000, 1 } } },
	{ "huge_whole", 1ULL << 40, 1ULL << 40, 4, 1,
	  { { 1ULL << 40, 1ULL << 40 } } },
	{ "huge_cross", (2ULL << 40) - 0x1000, 0x1000 + (1ULL << 40), 4, 2,
	  { { (2ULL << 40) - 0x1000, 0x1000 }, { 2ULL << 40, 1ULL << 40 } } },
	{ "len_0", 0x10000, 0, 4, 0 },
	{ "len_0_unmapped", 0x2c000, 0, 4, 0 },
	{ "len_0_no_room", 0x10000, 0, 0, 0 },
	{ "hole_after", 0x2b000, 0x1001, 4, -EFAULT },
	{ "hole_start", 0x2c000, 1, 4, -EFAULT },
	{ "hole_end", 0x3ffff, 2, 4, -EFAULT },
	{ "below_all", 0, 0x10, 4, -EFAULT },
	{ "into_first", 0xffff, 2, 4, -EFAULT },
	{ "past_last", 0x40fff, 2, 4, -EFAULT },
	{ "huge_past_end", 2ULL << 40, (1ULL << 40) + 1, 4, -EFAULT },
	{ "above_all", 3ULL << 40, 1, 4, -EFAULT },
	{ "no_room_split", 0x1f000, 0x2000, 1, -ENOBUFS },
	{ "no_room_three", 0x1ffff, 0x8002, 2, -ENOBUFS },
	{ "no_room_at_all", 0x10000, 1, 0, -ENOBUFS },
};

static void kvt_xlate_desc(const struct kvt_xlate_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_xlate, kvt_xlate_cases, kvt_xlate_desc);

/* Where the test's own map, not the table under test, puts @gpa. */
static u64 kvt_xlate_expect(struct kunit *test, u64 gpa)
{
	const struct kvt_region *r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvt_xlate_map); i++) {
		r = &kvt_xlate_map[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return kvt_uaddr(test, r) + (gpa - r->gpa);
	}
	KUNIT_FAIL(test, "bad expectation: gpa %#llx not in the map", gpa);
	return 0;
}

static void kvh_mem_translate_split(struct kunit *test)
{
	const struct kvt_xlate_case *c = test->param_value;
	struct iovec iov[KVT_XLATE_SEGS + 1];
	struct kvh_mem *mem;
	unsigned int i, n;
	u32 hint = 0;
	int r;

	mem = kvt_mem_build(test, kvt_xlate_map, ARRAY_SIZE(kvt_xlate_map));
	KUNIT_ASSERT_EQ(test, kvh_mem_finalize(mem), 0);
	for (i = 0; i < ARRAY_SIZE(iov); i++) {
		iov[i].iov_base = (void __user *)KVT_POISON;
		iov[i].iov_len = 0x5a5a;
	}
	r = kvh_mem_translate(mem, &hint, c->gpa, c->len, iov, c->iov_max);
	KUNIT_ASSERT_EQ(test, r, c->ret);
	n = r > 0 ? r : 0;
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ_MSG(test,
				    (u64)(__force unsigned long)iov[i].iov_base,
				    kvt_xlate_expect(test, c->seg[i].gpa),
				    "iov %u", i);
		KUNIT_EXPECT_EQ_MSG(test, (u64)iov[i].iov_len, c->seg[i].len,
				    "iov %u", i);
	}
	/*
	 * Nothing written past the iovecs returned, and on failure nothing
	 * past the room given.
	 */
	for (i = r >= 0 ? n : c->iov_max; i < ARRAY_SIZE(iov); i++) {
		KUNIT_EXPECT_EQ_MSG(test,
				    (__force unsigned long)iov[i].iov_base,
				    KVT_POISON, "iov %u", i);
		KUNIT_EXPECT_EQ_MSG(test, iov[i].iov_len, (size_t)0x5a5a,
				    "iov %u", i);
	}
}

/* kvh_mem_mapped(), on the same table. */

struct kvt_mapped_case {
	const char *name;
	u64 gpa;
	u64 len;
	bool mapped;
};

static const struct kvt_mapped_case kvt_mapped_cases[] = {
	{ "inside_one", 0x10100, 0x100, true },
	{ "across_three", 0x1ffff, 0x8002, true },
	{ "up_to_hole", 0x10000, 0x1c000, true },
	{ "one_byte_into_hole", 0x10000, 0x1c001, false },
	{ "hole_first_byte", 0x2c000, 1, false },
	{ "hole_last_byte", 0x3ffff, 1, false },
	{ "across_hole", 0x2bfff, 0x14002, false },
	{ "after_hole", 0x40000, 0x1000, true },
	{ "past_last", 0x40000, 0x1001, false },
	{ "below_all", 0, 1, false },
	{ "len_0_in_hole", 0x2c000, 0, true },
	{ "huge_both", 1ULL << 40, 2ULL << 40, true },
	{ "huge_one_past", 1ULL << 40, (2ULL << 40) + 1, false },
};

static void kvt_mapped_desc(const struct kvt_mapped_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_mapped, kvt_mapped_cases, kvt_mapped_desc);

static void kvh_mem_mapped_ranges(struct kunit *test)
{
	const struct kvt_mapped_case *c = test->param_value;
	struct kvh_mem *mem;
	u32 hint = 0;

	mem = kvt_mem_build(test, kvt_xlate_map, ARRAY_SIZE(kvt_xlate_map));
	KUNIT_ASSERT_EQ(test, kvh_mem_finalize(mem), 0);
	KUNIT_EXPECT_EQ(test, kvh_mem_mapped(mem, &hint, c->gpa, c->len),
			c->mapped);
}

static struct kunit_case kvt_mem_cases[] = {
	KUNIT_CASE_PARAM(kvh_mem_finalize_checks, kvt_fin_gen_params),
	KUNIT_CASE(kvh_mem_finalize_sorts),
	KUNIT_CASE_PARAM(kvh_mem_find_64, kvt_find_gen_params),
	KUNIT_CASE_PARAM(kvh_mem_find_misses, kvt_find_gen_params),
	KUNIT_CASE(kvh_mem_find_empty),
	KUNIT_CASE_PARAM(kvh_mem_translate_split, kvt_xlate_gen_params),
	KUNIT_CASE_PARAM(kvh_mem_mapped_ranges, kvt_mapped_gen_params),
	{}
};

static struct kunit_suite kvt_mem_suite = {
	.name = "kvhost_mem",
	.init = kvt_mem_init,
	.exit = kvt_mem_exit,
	.test_cases = kvt_mem_cases,
};

kunit_test_suite(kvt_mem_suite);
