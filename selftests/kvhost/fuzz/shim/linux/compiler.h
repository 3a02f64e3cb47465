/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's compiler and barrier helpers.
 * Sparse annotations are empty; the SMP barriers map to C11 fences,
 * which are at least as strong as the kernel's.
 */
#ifndef _KVH_SHIM_LINUX_COMPILER_H
#define _KVH_SHIM_LINUX_COMPILER_H

#define __user
#define __force

/* A stack buffer the kernel's auto-initialisation need not clear. */
#if __has_attribute(__uninitialized__)
#define __uninitialized	__attribute__((__uninitialized__))
#else
#define __uninitialized
#endif

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* Full barrier: orders everything before against everything after. */
#define smp_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
/* Acquire fence: earlier loads before later loads (and stores). */
#define smp_rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
/* Release fence: earlier stores (and loads) before later stores. */
#define smp_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)

#endif /* _KVH_SHIM_LINUX_COMPILER_H */
