/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The KUnit module's own copy of the memory table and the ring engine,
 * built with KVH_ACCESS_ARENA (tests/engine.c): "user" addresses are
 * kernel pointers that must fall inside the arena the running test set up.
 */
#ifndef _KVHOST_TESTS_ENGINE_H
#define _KVHOST_TESTS_ENGINE_H

#ifndef KVH_ACCESS_ARENA
#define KVH_ACCESS_ARENA
#endif

#include <kvhost/access.h>
#include <kvhost/mem.h>
#include <kvhost/vring.h>
#include <kvhost/blk_req.h>

void *kvh_test_arena_alloc(size_t size);
void kvh_test_arena_free(void);

/* A kernel pointer into the arena as the engine's "user" address. */
static inline void __user *kvh_test_uptr(const void *p)
{
	return (__force void __user *)p;
}

static inline u64 kvh_test_uaddr(const void *p)
{
	return (u64)(unsigned long)p;
}

#endif /* _KVHOST_TESTS_ENGINE_H */
