// SPDX-License-Identifier: GPL-2.0
/*
 * The memory table and the ring engine, built into kvhost_test.ko in arena
 * mode: KUnit runs in a kthread without a user mm, so the suites hand the
 * engine plain kernel pointers inside one vmalloc'd arena instead, and
 * anything outside it faults as an unmapped user address would.
 *
 * Nothing here is exported: kvhost.ko keeps its own, user-access copy.
 */
#include <linux/bits.h>
#include <linux/vmalloc.h>

#include "engine.h"

#include "../mem.c"
#include "../vring.c"
#include "../blk_req.c"
#include "../net_hdr.c"

struct kvh_arena kvh_arena;

/**
 * kvh_log_pages - arena-mode dirty log: set bits [first, first + count)
 * @vr: the ring; its bitmap is at @vr->log_base, bit n of byte n / 8
 *	standing for guest page n (the layout of vhost's log)
 * @first: first guest page
 * @count: number of pages
 *
 * Return: 0, or -EFAULT when any byte of the bitmap to touch is outside
 * the arena.
 */
int kvh_log_pages(struct kvh_vring *vr, u64 first, u64 count)
{
	u8 *map = (__force u8 *)vr->log_base;
	u64 last, n;

	if (!count)
		return 0;
	if (first > U64_MAX - (count - 1))
		return -EFAULT;
	last = first + count - 1;
	/* Keep the pointer arithmetic below from wrapping. */
	if (last / BITS_PER_BYTE >= kvh_arena.size)
		return -EFAULT;
	if (!kvh_arena_ok(vr->log_base + first / BITS_PER_BYTE,
			  last / BITS_PER_BYTE - first / BITS_PER_BYTE + 1))
		return -EFAULT;
	for (n = first; n <= last; n++)
		map[n / BITS_PER_BYTE] |= BIT(n % BITS_PER_BYTE);
	return 0;
}

/**
 * kvh_test_arena_alloc - set up a zeroed arena for the engine to reach
 * @size: its size in bytes
 *
 * Return: the arena, or NULL.
 */
void *kvh_test_arena_alloc(size_t size)
{
	void *p = vzalloc(size);

	if (!p)
		return NULL;
	kvh_arena.base = (unsigned long)p;
	kvh_arena.size = size;
	return p;
}

/**
 * kvh_test_arena_free - free the arena; the engine can reach nothing after
 */
void kvh_test_arena_free(void)
{
	void *p = (void *)kvh_arena.base;

	kvh_arena.base = 0;
	kvh_arena.size = 0;
	vfree(p);
}
