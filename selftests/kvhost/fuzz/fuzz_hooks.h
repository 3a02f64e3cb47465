/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included (-include) into mem.c, vring.c and blk_req.c in the fuzz
 * builds, and only there: the arena accessors' copies and the SMP barriers
 * go through the harness, which records them in order (struct
 * fuzz_acc_log).  The targets check from that record that each guest value
 * is read once and that reads and writes are ordered by the barriers
 * vring.c promises.
 */
#ifndef _KVH_FUZZ_HOOKS_H
#define _KVH_FUZZ_HOOKS_H

#include <string.h>

#include <linux/compiler.h>
#include <linux/types.h>

/* As declared in fuzz_common.h, which the engine does not include. */
void *fuzz_copy(void *dst, const void *src, size_t n);
void fuzz_mb(void);
void fuzz_rmb(void);
void fuzz_wmb(void);

#define memcpy(dst, src, n)	fuzz_copy(dst, src, n)

#undef smp_mb
#undef smp_rmb
#undef smp_wmb
/* Each barrier is recorded, then issued as the shim's. */
#define smp_mb()	fuzz_mb()
/* Recorded read barrier. */
#define smp_rmb()	fuzz_rmb()
/* Recorded write barrier. */
#define smp_wmb()	fuzz_wmb()

#endif /* _KVH_FUZZ_HOOKS_H */
