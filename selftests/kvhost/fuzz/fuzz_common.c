// SPDX-License-Identifier: GPL-2.0
/*
 * The arena and dirty log the ring engine reaches in arena builds, and
 * helpers shared by the fuzz targets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

struct kvh_arena kvh_arena;
struct fuzz_log fuzz_log;
struct fuzz_acc_log fuzz_acc;

void fuzz_acc_reset(void)
{
	fuzz_acc.n = 0;
	fuzz_acc.lost = false;
}

static void fuzz_acc_add(u8 kind, size_t off, size_t len)
{
	struct fuzz_acc *a;

	if (fuzz_acc.n == FUZZ_MAX_ACC) {
		fuzz_acc.lost = true;
		return;
	}
	a = &fuzz_acc.acc[fuzz_acc.n++];
	a->kind = kind;
	a->off = off;
	a->len = len;
}

bool fuzz_acc_is(const struct fuzz_acc *a, u8 kind, size_t off, size_t len)
{
	return a->kind == kind && a->off == off && a->len == len;
}

/* kvh_read() and kvh_write() copy with this: one side is in the arena. */
void *fuzz_copy(void *dst, const void *src, size_t n)
{
	unsigned long s = (unsigned long)src, d = (unsigned long)dst;

	if (fuzz_user_ok(s, n))
		fuzz_acc_add(FUZZ_READ, s - kvh_arena.base, n);
	else if (fuzz_user_ok(d, n))
		fuzz_acc_add(FUZZ_WRITE, d - kvh_arena.base, n);
	return memcpy(dst, src, n);
}

void fuzz_mb(void)
{
	fuzz_acc_add(FUZZ_MB, 0, 0);
	/* The engine's smp_mb(), recorded. */
	smp_mb();
}

void fuzz_rmb(void)
{
	fuzz_acc_add(FUZZ_RMB, 0, 0);
	/* The engine's smp_rmb(), recorded. */
	smp_rmb();
}

void fuzz_wmb(void)
{
	fuzz_acc_add(FUZZ_WMB, 0, 0);
	/* The engine's smp_wmb(), recorded. */
	smp_wmb();
}

bool fuzz_tracing(void)
{
	static int on = -1;

	if (on < 0)
		on = !!getenv("KVH_FUZZ_TRACE");
	return on;
}

u8 fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

u16 fuzz_u16(struct fuzz_in *in)
{
	u16 lo = fuzz_u8(in);

	return lo | (u16)fuzz_u8(in) << 8;
}

u32 fuzz_u32(struct fuzz_in *in)
{
	u32 lo = fuzz_u16(in);

	return lo | (u32)fuzz_u16(in) << 16;
}

u64 fuzz_u64(struct fuzz_in *in)
{
	u64 lo = fuzz_u32(in);

	return lo | (u64)fuzz_u32(in) << 32;
}

u16 fuzz_get16(const u8 *p, bool le)
{
	return le ? p[0] | p[1] << 8 : p[1] | p[0] << 8;
}

u32 fuzz_get32(const u8 *p, bool le)
{
	u32 a = fuzz_get16(p, le), b = fuzz_get16(p + 2, le);

	return le ? a | b << 16 : b | a << 16;
}

u64 fuzz_get64(const u8 *p, bool le)
{
	u64 a = fuzz_get32(p, le), b = fuzz_get32(p + 4, le);

	return le ? a | b << 32 : b | a << 32;
}

void fuzz_put16(u8 *p, bool le, u16 v)
{
	p[le ? 0 : 1] = v & 0xff;
	p[le ? 1 : 0] = v >> 8;
}

void fuzz_put32(u8 *p, bool le, u32 v)
{
	fuzz_put16(p + (le ? 0 : 2), le, v & 0xffff);
	fuzz_put16(p + (le ? 2 : 0), le, v >> 16);
}

/**
 * fuzz_arena_alloc - a zeroed arena of exactly @size bytes, made current
 * @size: bytes
 *
 * Allocated on the heap, so the address sanitizer sees any access past
 * either end even if the engine's bounds checks were wrong.
 */
u8 *fuzz_arena_alloc(size_t size)
{
	u8 *arena = calloc(1, size);

	if (!arena)
		abort();
	kvh_arena.base = (unsigned long)arena;
	kvh_arena.size = size;
	fuzz_log.base = 0;
	fuzz_log.size = 0;
	fuzz_log.calls = 0;
	return arena;
}

void fuzz_arena_free(u8 *arena)
{
	kvh_arena.base = 0;
	kvh_arena.size = 0;
	free(arena);
}

/* Would [uaddr, uaddr + len) be readable and writable in the arena? */
bool fuzz_user_ok(unsigned long uaddr, u64 len)
{
	unsigned long end = kvh_arena.base + kvh_arena.size;

	return uaddr >= kvh_arena.base && uaddr <= end && len <= end - uaddr;
}

/* Does the bitmap have bits for guest pages first_page..last_page? */
bool fuzz_log_covers(u64 first_page, u64 last_page)
{
	return first_page <= last_page && last_page / 8 < fuzz_log.size;
}

void fuzz_log_set(u8 *map, u64 first_page, u64 last_page)
{
	u64 p;

	for (p = first_page; p <= last_page; p++)
		map[p / 8] |= 1U << (p % 8);
}

/*
 * The engine's dirty-log hook: set the bits on the bitmap at
 * vr->log_base, refusing (as an unwritable user bitmap would) any bit
 * outside the window fuzz_log describes.
 */
int kvh_log_pages(struct kvh_vring *vr, u64 first, u64 count)
{
	unsigned long base = (unsigned long)vr->log_base;
	u64 last;

	fuzz_log.calls++;
	if (!count)
		return 0;
	last = first + count - 1;
	if (last < first || base != fuzz_log.base ||
	    !fuzz_log_covers(first, last) ||
	    !fuzz_user_ok(base + last / 8, 1))
		return -EFAULT;
	fuzz_log_set((u8 *)base, first, last);
	return 0;
}
