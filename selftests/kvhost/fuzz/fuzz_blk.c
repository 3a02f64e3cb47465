// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the kvhost-blk request parser (kvh_blk_parse() in
 * drivers/kvhost/blk_req.c), built unmodified against the shim headers.
 *
 * The input describes a geometry and a walked chain (readable iovecs, then
 * writable ones) laid out in the arena, some of them partly or wholly
 * outside it.  The verdict and every parsed field are checked against a
 * reference parser written here from the rules (byte-by-byte guest reads,
 * no helper of blk_req.c), and the recorded guest accesses (fuzz_hooks.h)
 * against the reference's: reads only, each inside one readable iovec,
 * each guest byte read as often as the reference read it (once, unless
 * iovecs alias), nothing the reference did not need.  Any difference
 * aborts.
 *
 * Input layout (little-endian, missing bytes read as 0):
 *   0   u8  geometry: FB_G_* flags; blk_size 512 << ((v >> 4) & 3)
 *   1   u64 capacity in sectors, rounded down to a multiple of blk_size
 *   9   u8  readable iovecs: v % (FB_IOV_MAX + 1)
 *   10  u8  writable iovecs: v % (FB_IOV_MAX + 1 - readable)
 *   11  each iovec, readable ones first: u8 mode, then
 *       its length, by mode & 3: 0 u8, 1 u16, 2 u16 sectors, 3 u32
 *       (cut so that neither side exceeds U32_MAX bytes in all; with
 *       FB_G_PAD_OUT the last readable iovec is lengthened to make the
 *       readable bytes a multiple of 16, with FB_G_PAD_IN the last
 *       writable one to make in_len - 1 a multiple of blk_size, so that
 *       mutating one length keeps a DISCARD or an IN request well formed);
 *       where it lies, by (mode >> 2) & 3:
 *         0, 1  in the arena, packed after the previous such iovec
 *               (past the end once the arena is full)
 *         2     at the arena offset in the next u16 (overlapping others,
 *               or running off or lying past the end: FB_ARENA_SIZE is
 *               less than 64 KiB)
 *         3     the next u8 + 1 bytes before the arena's start
 *   ..  the arena's contents, from offset 0 (so packed readable iovecs
 *       hold the rest of the input, in order)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kernel.h>

#include <kvhost/blk_req.h>

#include "fuzz_common.h"

#define FB_ARENA_SIZE	0x4000
#define FB_IOV_MAX	(KVH_BLK_IOV_MAX + 4)
#define FB_HDR_LEN	16	/* type, ioprio, sector */
#define FB_SEG_LEN	16	/* sector, num_sectors, flags */
#define FB_SECTOR	512
#define FB_ID_LEN	20
#define FB_LEN_MAX	0xffffffffULL	/* most bytes each way per chain */

#define FB_G_RO		0x01
#define FB_G_DISCARD	0x02
#define FB_G_WZ		0x04
#define FB_G_BIG_ENDIAN	0x08
#define FB_G_PAD_OUT	0x40
#define FB_G_PAD_IN	0x80

enum { FB_L_U8, FB_L_U16, FB_L_SECTORS, FB_L_U32 };
enum { FB_P_NEXT, FB_P_NEXT2, FB_P_AT, FB_P_BEFORE };

/**
 * struct fb_case - one call of kvh_blk_parse()
 * @g: the geometry
 * @c: the chain, over @iov
 * @iov: readable iovecs, then writable ones
 * @arena: the arena, FB_ARENA_SIZE bytes
 */
struct fb_case {
	struct kvh_blk_geom g;
	struct kvh_chain c;
	struct iovec iov[FB_IOV_MAX];
	u8 *arena;
};

/**
 * struct fb_want - what the reference expects of kvh_blk_parse()
 * @ret: the verdict
 * @status: the status byte, or NULL
 * @type: the header's type, U32_MAX while unread
 * @sector: the header's sector, 0 while unread
 * @len: IN / OUT data bytes, GET_ID bytes (checked when @ret is OK)
 * @nseg: DISCARD / WRITE_ZEROES ranges (checked when @ret is OK)
 * @seg: the ranges
 */
struct fb_want {
	int ret;
	u8 __user *status;
	u32 type;
	u64 sector;
	u32 len;
	unsigned int nseg;
	struct kvh_blk_seg seg[KVH_BLK_DWZ_SEG_MAX];
};

/* How often the parser and the reference read each arena byte. */
static u8 fb_eng_reads[FB_ARENA_SIZE];
static u8 fb_ref_reads[FB_ARENA_SIZE];
static u32 fb_touched[FB_ARENA_SIZE];
static unsigned int fb_ntouched;

static void fb_count_reads(u8 *map, size_t off, size_t len)
{
	size_t k;

	for (k = off; k < off + len; k++) {
		if (!fb_eng_reads[k] && !fb_ref_reads[k])
			fb_touched[fb_ntouched++] = k;
		if (map[k] < 0xff)
			map[k]++;
	}
}

/* --- the input --------------------------------------------------------- */

static u64 fb_iov_len(struct fuzz_in *in, u8 mode, u64 room)
{
	u64 len;

	switch (mode & 3) {
	case FB_L_U8:
		len = fuzz_u8(in);
		break;
	case FB_L_U16:
		len = fuzz_u16(in);
		break;
	case FB_L_SECTORS:
		len = (u64)fuzz_u16(in) * FB_SECTOR;
		break;
	default:
		len = fuzz_u32(in);
		break;
	}
	return len < room ? len : room;
}

/* @len, lengthened so that @sum + @len - @extra is a multiple of @to. */
static u64 fb_pad(u64 len, u64 sum, u64 to, u64 extra)
{
	u64 pad = (to - (sum + len + to - extra) % to) % to;

	return sum + len + pad <= FB_LEN_MAX ? len + pad : len;
}

/* Decode the geometry and the chain, and fill the arena. */
static void fb_build(struct fuzz_in *in, struct fb_case *fc)
{
	unsigned long base = (unsigned long)fc->arena, addr;
	unsigned int i, n;
	u64 len, next = 0, sum = 0;
	u32 spb;
	u8 v, mode;
	bool pad_out, pad_in;

	memset(&fc->g, 0, sizeof(fc->g));
	memset(&fc->c, 0, sizeof(fc->c));
	v = fuzz_u8(in);
	fc->g.ro = v & FB_G_RO;
	fc->g.discard = v & FB_G_DISCARD;
	fc->g.write_zeroes = v & FB_G_WZ;
	fc->g.little_endian = !(v & FB_G_BIG_ENDIAN);
	fc->g.blk_size = FB_SECTOR << ((v >> 4) & 3);
	spb = fc->g.blk_size / FB_SECTOR;
	fc->g.capacity = fuzz_u64(in) / spb * spb;
	pad_out = v & FB_G_PAD_OUT;
	pad_in = v & FB_G_PAD_IN;

	fc->c.iov = fc->iov;
	fc->c.out = fuzz_u8(in) % (FB_IOV_MAX + 1);
	fc->c.in = fuzz_u8(in) % (FB_IOV_MAX + 1 - fc->c.out);
	fc->c.writable = fc->c.in;
	n = fc->c.out + fc->c.in;
	for (i = 0; i < n; i++) {
		if (i == fc->c.out)
			sum = 0;
		mode = fuzz_u8(in);
		len = fb_iov_len(in, mode, FB_LEN_MAX - sum);
		if (pad_out && i + 1 == fc->c.out)
			len = fb_pad(len, sum, FB_SEG_LEN, 0);
		if (pad_in && i + 1 == n && i >= fc->c.out)
			len = fb_pad(len, sum, fc->g.blk_size, 1);
		switch ((mode >> 2) & 3) {
		case FB_P_AT:
			addr = base + fuzz_u16(in);
			break;
		case FB_P_BEFORE:
			addr = base - fuzz_u8(in) - 1;
			break;
		default:
			addr = base + next;
			next += len;
			break;
		}
		fc->iov[i].iov_base = (void __user *)addr;
		fc->iov[i].iov_len = len;
		sum += len;
		if (i < fc->c.out)
			fc->c.out_len = sum;
		else
			fc->c.in_len = sum;
	}
	memcpy(fc->arena, in->p,
	       in->left < FB_ARENA_SIZE ? in->left : FB_ARENA_SIZE);
}

/* --- the reference ----------------------------------------------------- */

/* The request's readable bytes [off, off + n), one byte at a time. */
static bool ref_read(const struct fb_case *fc, u64 off, u8 *dst, u64 n)
{
	unsigned long addr;
	unsigned int i;
	u64 start = 0;

	for (i = 0; i < fc->c.out && n; i++) {
		for (; n && off >= start && off - start < fc->iov[i].iov_len;
		     off++, n--) {
			addr = (unsigned long)fc->iov[i].iov_base + (off - start);
			if (!fuzz_user_ok(addr, 1))
				return false;
			*dst++ = *(u8 *)addr;
			fb_count_reads(fb_ref_reads, addr - kvh_arena.base, 1);
		}
		start += fc->iov[i].iov_len;
	}
	return !n;
}

/* Non-empty iovecs among @first..@first + @n - 1 with bytes in [lo, hi). */
static unsigned int ref_segs(const struct fb_case *fc, unsigned int first,
			     unsigned int n, u64 lo, u64 hi)
{
	unsigned int i, segs = 0;
	u64 start = 0, len;

	for (i = first; i < first + n; i++) {
		len = fc->iov[i].iov_len;
		if (len && start < hi && start + len > lo)
			segs++;
		start += len;
	}
	return segs;
}

static bool ref_range_ok(const struct kvh_blk_geom *g, u64 sector, u64 bytes)
{
	u64 end;

	if (bytes % g->blk_size || sector % (g->blk_size / FB_SECTOR))
		return false;
	if (__builtin_add_overflow(sector, bytes / FB_SECTOR, &end))
		return false;
	return end <= g->capacity;
}

static u8 __user *ref_status(const struct fb_case *fc)
{
	unsigned int i;

	for (i = fc->c.out + fc->c.in; i-- > fc->c.out;)
		if (fc->iov[i].iov_len)
			return (u8 __user *)fc->iov[i].iov_base +
			       (fc->iov[i].iov_len - 1);
	return NULL;
}

/*
 * DISCARD / WRITE_ZEROES ranges, each read only once the ones before it
 * passed; within a range, bad flags win over a bad range.
 */
static int ref_dwz(const struct fb_case *fc, struct fb_want *w, u32 data)
{
	u32 allowed = 0, num, flags, i;
	u8 s[FB_SEG_LEN];
	u64 sector;

	if (w->type == VIRTIO_BLK_T_WRITE_ZEROES)
		allowed = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	if (!data || data % FB_SEG_LEN ||
	    data / FB_SEG_LEN > KVH_BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	for (i = 0; i < data / FB_SEG_LEN; i++) {
		if (!ref_read(fc, FB_HDR_LEN + (u64)i * FB_SEG_LEN, s,
			      sizeof(s)))
			return -EFAULT;
		/* Little-endian, whatever the header's byte order. */
		sector = fuzz_get64(s, true);
		num = fuzz_get32(s + 8, true);
		flags = fuzz_get32(s + 12, true);
		if (flags & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (!num || num > KVH_BLK_DWZ_SECTORS ||
		    !ref_range_ok(&fc->g, sector, (u64)num * FB_SECTOR))
			return VIRTIO_BLK_S_IOERR;
		w->seg[i].sector = sector;
		w->seg[i].num = num;
		w->seg[i].unmap = flags;
		w->nseg = i + 1;
	}
	return VIRTIO_BLK_S_OK;
}

static int ref_type(const struct fb_case *fc, struct fb_want *w)
{
	const struct kvh_blk_geom *g = &fc->g;
	u64 data = fc->c.out_len - FB_HDR_LEN;
	u64 in_len = fc->c.in_len;
	bool ok;

	switch (w->type) {
	case VIRTIO_BLK_T_IN:
		w->len = in_len - 1;
		ok = !data && ref_range_ok(g, w->sector, w->len) &&
		     ref_segs(fc, fc->c.out, fc->c.in, 0, w->len) <=
		     KVH_BLK_SEG_MAX;
		return ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_OUT:
		w->len = data;
		ok = !g->ro && in_len == 1 &&
		     ref_range_ok(g, w->sector, data) &&
		     ref_segs(fc, 0, fc->c.out, FB_HDR_LEN,
			      FB_HDR_LEN + data) <= KVH_BLK_SEG_MAX;
		return ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_FLUSH:
		ok = !data && in_len == 1;
		return ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID:
		w->len = in_len - 1 < FB_ID_LEN ? in_len - 1 : FB_ID_LEN;
		return data ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* Read-only, then unsupported, then the status size. */
		if (g->ro)
			return VIRTIO_BLK_S_IOERR;
		if (w->type == VIRTIO_BLK_T_DISCARD ? !g->discard :
						      !g->write_zeroes)
			return VIRTIO_BLK_S_UNSUPP;
		if (in_len != 1)
			return VIRTIO_BLK_S_IOERR;
		return ref_dwz(fc, w, data);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void ref_parse(const struct fb_case *fc, struct fb_want *w)
{
	u8 h[FB_HDR_LEN];

	memset(w, 0, sizeof(*w));
	w->type = U32_MAX;
	w->status = ref_status(fc);
	if (!w->status) {
		w->ret = -EINVAL;
		return;
	}
	if (fc->c.out + fc->c.in > KVH_BLK_IOV_MAX ||
	    fc->c.out_len < FB_HDR_LEN) {
		w->ret = VIRTIO_BLK_S_IOERR;
		return;
	}
	if (!ref_read(fc, 0, h, sizeof(h))) {
		w->ret = -EFAULT;
		return;
	}
	w->type = fuzz_get32(h, fc->g.little_endian);
	w->sector = fuzz_get64(h + 8, fc->g.little_endian);
	w->ret = ref_type(fc, w);
}

/* --- checks ------------------------------------------------------------ */

/* Does [off, off + len) of the arena lie inside one readable iovec? */
static bool fb_in_readable(const struct fb_case *fc, size_t off, size_t len)
{
	unsigned long a = kvh_arena.base + off;
	unsigned long b;
	unsigned int i;

	for (i = 0; i < fc->c.out; i++) {
		b = (unsigned long)fc->iov[i].iov_base;
		if (a >= b && a - b <= fc->iov[i].iov_len &&
		    len <= fc->iov[i].iov_len - (a - b))
			return true;
	}
	return false;
}

/*
 * The parser reads, never writes; each read lies in one readable iovec,
 * and each arena byte is read as often as the reference read it.  After a
 * fault the parser may have skipped the readable head of the copy that
 * faulted, which the byte-wise reference did read.
 */
static void fb_check_accesses(const struct fb_case *fc,
			      const struct fb_want *w)
{
	const struct fuzz_acc *a;
	unsigned int i;
	u32 k;

	fuzz_check(!fuzz_acc.lost, "%u accesses", fuzz_acc.n);
	for (i = 0; i < fuzz_acc.n; i++) {
		a = &fuzz_acc.acc[i];
		fuzz_check(a->kind == FUZZ_READ, "access %u of kind %u at %#zx",
			   i, a->kind, a->off);
		fuzz_check(a->len && fb_in_readable(fc, a->off, a->len),
			   "read %u at %#zx+%zu outside the readable iovecs",
			   i, a->off, a->len);
		fb_count_reads(fb_eng_reads, a->off, a->len);
	}
	for (i = 0; i < fb_ntouched; i++) {
		k = fb_touched[i];
		fuzz_check(fb_eng_reads[k] == fb_ref_reads[k] ||
			   (w->ret == -EFAULT &&
			    fb_eng_reads[k] < fb_ref_reads[k]),
			   "arena byte %#x read %u times, by the reference %u times",
			   k, fb_eng_reads[k], fb_ref_reads[k]);
		fb_eng_reads[k] = 0;
		fb_ref_reads[k] = 0;
	}
	fb_ntouched = 0;
}

static void fb_compare(const struct kvh_blk_parsed *p, int r,
		       const struct fb_want *w)
{
	unsigned int i;

	fuzz_check(r == w->ret, "kvh_blk_parse %d, reference %d (type %#x)",
		   r, w->ret, w->type);
	fuzz_check(p->status == w->status, "status %p, reference %p",
		   p->status, w->status);
	fuzz_check(p->type == w->type, "type %#x, reference %#x",
		   p->type, w->type);
	fuzz_check(p->sector == w->sector, "sector %#llx, reference %#llx",
		   (unsigned long long)p->sector,
		   (unsigned long long)w->sector);
	fuzz_check(p->nseg <= KVH_BLK_DWZ_SEG_MAX, "nseg %u", p->nseg);
	if (r != VIRTIO_BLK_S_OK)
		return;
	fuzz_check(p->len == w->len, "len %u, reference %u", p->len, w->len);
	fuzz_check(p->nseg == w->nseg, "nseg %u, reference %u",
		   p->nseg, w->nseg);
	for (i = 0; i < p->nseg; i++)
		fuzz_check(p->seg[i].sector == w->seg[i].sector &&
			   p->seg[i].num == w->seg[i].num &&
			   p->seg[i].unmap == w->seg[i].unmap,
			   "seg[%u] %#llx+%u unmap %d, reference %#llx+%u unmap %d",
			   i, (unsigned long long)p->seg[i].sector,
			   p->seg[i].num, p->seg[i].unmap,
			   (unsigned long long)w->seg[i].sector,
			   w->seg[i].num, w->seg[i].unmap);
}

static void fb_trace_case(const struct fb_case *fc)
{
	unsigned int i;

	if (!fuzz_tracing())
		return;
	fprintf(stderr, "geom: capacity %#llx blk_size %u%s%s%s%s\n",
		(unsigned long long)fc->g.capacity, fc->g.blk_size,
		fc->g.ro ? " ro" : "", fc->g.discard ? " discard" : "",
		fc->g.write_zeroes ? " write_zeroes" : "",
		fc->g.little_endian ? "" : " big-endian");
	fprintf(stderr, "chain: out %u/%u in %u/%u\n", fc->c.out,
		fc->c.out_len, fc->c.in, fc->c.in_len);
	for (i = 0; i < fc->c.out + fc->c.in; i++)
		fprintf(stderr, "  %s[%u] arena%+ld len %zu\n",
			i < fc->c.out ? "out" : "in", i,
			(long)((unsigned long)fc->iov[i].iov_base -
			       kvh_arena.base), fc->iov[i].iov_len);
}

int fuzz_one_input(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct kvh_blk_parsed p;
	struct fb_case fc;
	struct fb_want w;
	u8 *expect;
	int r;

	fc.arena = fuzz_arena_alloc(FB_ARENA_SIZE);
	fb_build(&in, &fc);
	fb_trace_case(&fc);
	expect = malloc(FB_ARENA_SIZE);
	if (!expect)
		abort();
	memcpy(expect, fc.arena, FB_ARENA_SIZE);

	/* Poison what the parser must fill in. */
	memset(&p, 0xa5, sizeof(p));
	fuzz_acc_reset();
	r = kvh_blk_parse(&fc.g, &fc.c, &p);
	ref_parse(&fc, &w);
	fuzz_trace("parse: %d type %#x sector %#llx len %u nseg %u; reference %d\n",
		   r, p.type, (unsigned long long)p.sector, p.len, p.nseg,
		   w.ret);
	fb_check_accesses(&fc, &w);
	fb_compare(&p, r, &w);
	fuzz_check(!memcmp(fc.arena, expect, FB_ARENA_SIZE),
		   "the parser wrote to guest memory");
	free(expect);
	fuzz_arena_free(fc.arena);
	return 0;
}
