// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: kvhost-blk request parsing (blk_req.c) over chains in the arena.
 * Each case builds a chain's iovecs by hand, as the ring engine would hand
 * them over, and checks kvh_blk_parse()'s verdict and what it read.
 */
#include <kunit/test.h>
#include <linux/virtio_blk.h>

#include "engine.h"

#define KVT_BLK_ARENA	(256 * 1024)
#define KVT_BLK_MAXIOV	(KVH_BLK_IOV_MAX + 4)

struct kvt_blk {
	u8 *arena;
	size_t used;		/* arena bytes handed out */
	struct iovec iov[KVT_BLK_MAXIOV];
	struct kvh_chain c;
	struct kvh_blk_geom g;
	struct kvh_blk_parsed p;
};

static int kvt_blk_init(struct kunit *test)
{
	struct kvt_blk *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	if (!t)
		return -ENOMEM;
	t->arena = kvh_test_arena_alloc(KVT_BLK_ARENA);
	if (!t->arena)
		return -ENOMEM;
	t->c.iov = t->iov;
	/* 1 MiB of 512-byte sectors, little-endian, everything supported. */
	t->g = (struct kvh_blk_geom) {
		.capacity = 2048, .blk_size = 512, .discard = true,
		.write_zeroes = true, .little_endian = true,
	};
	test->priv = t;
	return 0;
}

static void kvt_blk_exit(struct kunit *test)
{
	kvh_test_arena_free();
}

/* Append an iovec of @len arena bytes (readable before any writable). */
static u8 *kvt_seg(struct kvt_blk *t, size_t len, bool writable)
{
	u8 *p = t->arena + t->used;

	t->used += len;
	t->iov[t->c.out + t->c.in] = (struct iovec) {
		.iov_base = kvh_test_uptr(p), .iov_len = len,
	};
	if (writable) {
		t->c.in++;
		t->c.in_len += len;
	} else {
		t->c.out++;
		t->c.out_len += len;
	}
	return p;
}

/* A header (little-endian) in one readable iovec. */
static void kvt_hdr(struct kvt_blk *t, u32 type, u64 sector)
{
	struct virtio_blk_outhdr h = {
		.type = (__force __virtio32)cpu_to_le32(type),
		.sector = (__force __virtio64)cpu_to_le64(sector),
	};

	memcpy(kvt_seg(t, sizeof(h), false), &h, sizeof(h));
}

static int kvt_parse(struct kvt_blk *t)
{
	return kvh_blk_parse(&t->g, &t->c, &t->p);
}

static void kvt_blk_read_ok(struct kunit *test)
{
	struct kvt_blk *t = test->priv;
	u8 *st;

	kvt_hdr(t, VIRTIO_BLK_T_IN, 8);
	kvt_seg(t, 4096, true);
	st = kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, t->p.type, (u32)VIRTIO_BLK_T_IN);
	KUNIT_EXPECT_EQ(test, t->p.sector, 8ULL);
	KUNIT_EXPECT_EQ(test, t->p.len, 4096U);
	KUNIT_EXPECT_PTR_EQ(test, (__force void *)t->p.status, (void *)st);
}

/* Status: the last non-empty writable byte, inside a data+status iovec. */
static void kvt_blk_status_last_byte(struct kunit *test)
{
	struct kvt_blk *t = test->priv;
	u8 *d;

	kvt_hdr(t, VIRTIO_BLK_T_IN, 0);
	d = kvt_seg(t, 513, true);
	kvt_seg(t, 0, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_PTR_EQ(test, (__force void *)t->p.status, (void *)(d + 512));
	KUNIT_EXPECT_EQ(test, t->p.len, 512U);
}

static void kvt_blk_no_status_byte(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	kvt_hdr(t, VIRTIO_BLK_T_OUT, 0);
	kvt_seg(t, 512, false);
	kvt_seg(t, 0, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), -EINVAL);
	KUNIT_EXPECT_NULL(test, (__force void *)t->p.status);
}

/* The header split 5 + 1 + 10 bytes over three descriptors. */
static void kvt_blk_header_split(struct kunit *test)
{
	struct virtio_blk_outhdr h = {
		.type = (__force __virtio32)cpu_to_le32(VIRTIO_BLK_T_OUT),
		.sector = (__force __virtio64)cpu_to_le64(16),
	};
	struct kvt_blk *t = test->priv;
	const u8 *src = (const u8 *)&h;

	memcpy(kvt_seg(t, 5, false), src, 5);
	memcpy(kvt_seg(t, 1, false), src + 5, 1);
	memcpy(kvt_seg(t, 10 + 1024, false), src + 6, 10);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, t->p.type, (u32)VIRTIO_BLK_T_OUT);
	KUNIT_EXPECT_EQ(test, t->p.sector, 16ULL);
	KUNIT_EXPECT_EQ(test, t->p.len, 1024U);
}

static void kvt_blk_header_short(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	kvt_seg(t, 15, false);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, t->p.type, U32_MAX);
}

/* A header outside guest memory: bad guest input, not an I/O error. */
static void kvt_blk_header_unreadable(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	kvt_seg(t, 16, false);
	t->iov[0].iov_base = kvh_test_uptr(t->arena + KVT_BLK_ARENA - 8);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), -EFAULT);
}

struct kvt_range_case {
	const char *name;
	u32 type;
	u64 sector;
	u32 len;
	u32 blk_size;
	int want;
};

static const struct kvt_range_case kvt_range_cases[] = {
	{ "read last sector", VIRTIO_BLK_T_IN, 2047, 512, 512, VIRTIO_BLK_S_OK },
	{ "read past end", VIRTIO_BLK_T_IN, 2047, 1024, 512, VIRTIO_BLK_S_IOERR },
	{ "read at capacity", VIRTIO_BLK_T_IN, 2048, 512, 512, VIRTIO_BLK_S_IOERR },
	{ "empty read at capacity", VIRTIO_BLK_T_IN, 2048, 0, 512, VIRTIO_BLK_S_OK },
	{ "sector wraps", VIRTIO_BLK_T_IN, U64_MAX, 512, 512, VIRTIO_BLK_S_IOERR },
	{ "sector + len wraps", VIRTIO_BLK_T_OUT, U64_MAX - 1, 1024, 512,
	  VIRTIO_BLK_S_IOERR },
	{ "len not sectors", VIRTIO_BLK_T_OUT, 0, 100, 512, VIRTIO_BLK_S_IOERR },
	{ "4k aligned", VIRTIO_BLK_T_IN, 8, 4096, 4096, VIRTIO_BLK_S_OK },
	{ "4k sector misaligned", VIRTIO_BLK_T_IN, 4, 4096, 4096,
	  VIRTIO_BLK_S_IOERR },
	{ "4k len misaligned", VIRTIO_BLK_T_OUT, 8, 512, 4096,
	  VIRTIO_BLK_S_IOERR },
};

static void kvt_range_desc(const struct kvt_range_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvt_range, kvt_range_cases, kvt_range_desc);

static void kvt_blk_range(struct kunit *test)
{
	const struct kvt_range_case *rc = test->param_value;
	struct kvt_blk *t = test->priv;
	bool in = rc->type == VIRTIO_BLK_T_IN;

	t->g.blk_size = rc->blk_size;
	kvt_hdr(t, rc->type, rc->sector);
	if (rc->len)
		kvt_seg(t, rc->len, in);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), rc->want);
}

static void kvt_blk_direction(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	/* IN with data in the readable part. */
	kvt_hdr(t, VIRTIO_BLK_T_IN, 0);
	kvt_seg(t, 512, false);
	kvt_seg(t, 513, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);

	/* OUT with more writable than the status byte. */
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	kvt_hdr(t, VIRTIO_BLK_T_OUT, 0);
	kvt_seg(t, 512, false);
	kvt_seg(t, 2, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);

	/* FLUSH with data. */
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	kvt_hdr(t, VIRTIO_BLK_T_FLUSH, 0);
	kvt_seg(t, 512, false);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);
}

static void kvt_blk_read_only(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	t->g.ro = true;
	kvt_hdr(t, VIRTIO_BLK_T_OUT, 0);
	kvt_seg(t, 512, false);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);
}

/* 128 data segments pass; 129 do not (in both directions). */
static void kvt_blk_seg_max(struct kunit *test)
{
	struct kvt_blk *t = test->priv;
	unsigned int i;

	kvt_hdr(t, VIRTIO_BLK_T_IN, 0);
	for (i = 0; i < KVH_BLK_SEG_MAX; i++)
		kvt_seg(t, 512, true);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, t->p.len, KVH_BLK_SEG_MAX * 512U);

	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	t->used = 0;
	kvt_hdr(t, VIRTIO_BLK_T_OUT, 0);
	for (i = 0; i <= KVH_BLK_SEG_MAX; i++)
		kvt_seg(t, 256, false);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);
}

static void kvt_blk_unknown_type(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	kvt_hdr(t, 99, 0);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_UNSUPP);
	KUNIT_EXPECT_EQ(test, t->p.type, 99U);
}

static void kvt_blk_get_id(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	kvt_hdr(t, VIRTIO_BLK_T_GET_ID, 0);
	kvt_seg(t, 64, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, t->p.len, (u32)VIRTIO_BLK_ID_BYTES);

	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	kvt_hdr(t, VIRTIO_BLK_T_GET_ID, 0);
	kvt_seg(t, 8, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, t->p.len, 7U);
}

/* @n DISCARD / WRITE_ZEROES segments of 8 sectors each, flags @flags. */
static void kvt_dwz(struct kvt_blk *t, u32 type, unsigned int n, u32 flags)
{
	struct virtio_blk_discard_write_zeroes *s;
	unsigned int i;

	kvt_hdr(t, type, 0);
	s = (void *)kvt_seg(t, n * sizeof(*s), false);
	for (i = 0; i < n; i++) {
		s[i].sector = cpu_to_le64(i * 16);
		s[i].num_sectors = cpu_to_le32(8);
		s[i].flags = cpu_to_le32(flags);
	}
	kvt_seg(t, 1, true);
}

static void kvt_blk_discard(struct kunit *test)
{
	struct kvt_blk *t = test->priv;

	kvt_dwz(t, VIRTIO_BLK_T_DISCARD, KVH_BLK_DWZ_SEG_MAX, 0);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, t->p.nseg, (unsigned int)KVH_BLK_DWZ_SEG_MAX);
	KUNIT_EXPECT_EQ(test, t->p.seg[3].sector, 48ULL);
	KUNIT_EXPECT_EQ(test, t->p.seg[3].num, 8U);

	/* Too many segments; the unmap flag on a DISCARD. */
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	kvt_dwz(t, VIRTIO_BLK_T_DISCARD, KVH_BLK_DWZ_SEG_MAX + 1, 0);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	kvt_dwz(t, VIRTIO_BLK_T_DISCARD, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_UNSUPP);

	/* Not supported by the backend. */
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	t->g.discard = false;
	kvt_dwz(t, VIRTIO_BLK_T_DISCARD, 1, 0);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_UNSUPP);
}

static void kvt_blk_write_zeroes(struct kunit *test)
{
	struct kvt_blk *t = test->priv;
	struct virtio_blk_discard_write_zeroes *s;

	kvt_dwz(t, VIRTIO_BLK_T_WRITE_ZEROES, 2,
		VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_TRUE(test, t->p.seg[1].unmap);

	/* A payload that is not whole segments; a range past the end. */
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	kvt_hdr(t, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	kvt_seg(t, sizeof(*s) + 1, false);
	kvt_seg(t, 1, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	kvt_dwz(t, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0);
	s = (void *)(t->arena + t->used - 1 - sizeof(*s));
	s->sector = cpu_to_le64(2044);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);

	/* Read-only: an I/O error, not "unsupported". */
	memset(&t->c, 0, sizeof(t->c));
	t->c.iov = t->iov;
	t->g.ro = true;
	kvt_dwz(t, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_IOERR);
}

/* A legacy big-endian driver: the header follows the ring's byte order. */
static void kvt_blk_big_endian(struct kunit *test)
{
	struct virtio_blk_outhdr h = {
		.type = (__force __virtio32)cpu_to_be32(VIRTIO_BLK_T_IN),
		.sector = (__force __virtio64)cpu_to_be64(3),
	};
	struct kvt_blk *t = test->priv;

	t->g.little_endian = false;
	memcpy(kvt_seg(t, sizeof(h), false), &h, sizeof(h));
	kvt_seg(t, 513, true);
	KUNIT_EXPECT_EQ(test, kvt_parse(t), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, t->p.sector, 3ULL);
}

static struct kunit_case kvt_blk_cases[] = {
	KUNIT_CASE(kvt_blk_read_ok),
	KUNIT_CASE(kvt_blk_status_last_byte),
	KUNIT_CASE(kvt_blk_no_status_byte),
	KUNIT_CASE(kvt_blk_header_split),
	KUNIT_CASE(kvt_blk_header_short),
	KUNIT_CASE(kvt_blk_header_unreadable),
	KUNIT_CASE_PARAM(kvt_blk_range, kvt_range_gen_params),
	KUNIT_CASE(kvt_blk_direction),
	KUNIT_CASE(kvt_blk_read_only),
	KUNIT_CASE(kvt_blk_seg_max),
	KUNIT_CASE(kvt_blk_unknown_type),
	KUNIT_CASE(kvt_blk_get_id),
	KUNIT_CASE(kvt_blk_discard),
	KUNIT_CASE(kvt_blk_write_zeroes),
	KUNIT_CASE(kvt_blk_big_endian),
	{}
};

static struct kunit_suite kvt_blk_suite = {
	.name = "kvhost_blk_req",
	.init = kvt_blk_init,
	.exit = kvt_blk_exit,
	.test_cases = kvt_blk_cases,
};

kunit_test_suite(kvt_blk_suite);
