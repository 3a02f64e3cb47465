/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's sort(): qsort() when the caller
 * wants plain element swaps (swap_func NULL), the only use here.
 */
#ifndef _KVH_SHIM_LINUX_SORT_H
#define _KVH_SHIM_LINUX_SORT_H

#include <stdlib.h>

#include <linux/types.h>

typedef int (*cmp_func_t)(const void *a, const void *b);
typedef void (*swap_func_t)(void *a, void *b, int size);

static inline void sort(void *base, size_t num, size_t size,
			cmp_func_t cmp_func, swap_func_t swap_func)
{
	if (swap_func)
		abort();
	qsort(base, num, size, cmp_func);
}

#endif /* _KVH_SHIM_LINUX_SORT_H */
