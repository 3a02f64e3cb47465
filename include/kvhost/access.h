/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only way the ring engine touches guest memory.
 *
 * In kvhost.ko these are the user-access primitives, run in the owner's
 * mm.  Built with KVH_ACCESS_ARENA (the KUnit module and the userspace
 * fuzzers), "user" addresses are plain pointers that must fall inside one
 * registered arena; anything else faults exactly as an unmapped user
 * address would.
 */
#ifndef _KVHOST_ACCESS_H
#define _KVHOST_ACCESS_H

#include <linux/types.h>
#include <linux/virtio_types.h>

struct kvh_vring;

#ifdef KVH_ACCESS_ARENA

#include <linux/string.h>

/**
 * struct kvh_arena - the memory arena-mode accessors may reach
 * @base: first byte
 * @size: length in bytes
 */
struct kvh_arena {
	unsigned long base;
	size_t size;
};

extern struct kvh_arena kvh_arena;

static inline bool kvh_arena_ok(const void __user *p, size_t n)
{
	unsigned long a = (__force unsigned long)p;

	return a >= kvh_arena.base && n <= kvh_arena.size &&
	       a - kvh_arena.base <= kvh_arena.size - n;
}

static inline int kvh_read(void *dst, const void __user *src, size_t n)
{
	if (!kvh_arena_ok(src, n))
		return -EFAULT;
	memcpy(dst, (__force const void *)src, n);
	return 0;
}

static inline int kvh_write(void __user *dst, const void *src, size_t n)
{
	if (!kvh_arena_ok(dst, n))
		return -EFAULT;
	memcpy((__force void *)dst, src, n);
	return 0;
}

static inline int kvh_read16(__virtio16 *dst, const __virtio16 __user *src)
{
	return kvh_read(dst, src, sizeof(*dst));
}

static inline int kvh_write16(__virtio16 __user *dst, __virtio16 v)
{
	return kvh_write(dst, &v, sizeof(v));
}

#else /* !KVH_ACCESS_ARENA */

#include <linux/uaccess.h>

static inline int kvh_read(void *dst, const void __user *src, size_t n)
{
	return copy_from_user(dst, src, n) ? -EFAULT : 0;
}

static inline int kvh_write(void __user *dst, const void *src, size_t n)
{
	return copy_to_user(dst, src, n) ? -EFAULT : 0;
}

/*
 * The ring's index, flags and event words are read and written while the
 * guest runs on another CPU: they need single 16-bit accesses.  The copy
 * routines give no such promise (a "rep movsb" may move one byte at a
 * time), and a torn used->idx looks to the driver like the index jumped
 * back, a torn avail->idx like a guest error.
 */
static inline int kvh_read16(__virtio16 *dst, const __virtio16 __user *src)
{
	return get_user(*dst, src);
}

static inline int kvh_write16(__virtio16 __user *dst, __virtio16 v)
{
	return put_user(v, dst);
}

#endif /* KVH_ACCESS_ARENA */

/*
 * Mark guest pages [first, first + count) dirty in the vring's log bitmap.
 * kvhost.ko: log.c (atomic bit sets on pinned bitmap pages); arena builds
 * provide their own.
 */
int kvh_log_pages(struct kvh_vring *vr, u64 first, u64 count);

#endif /* _KVHOST_ACCESS_H */
