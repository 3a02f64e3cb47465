/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/types.h>: the system's uapi
 * header (__u8 ... __u64, __le16 ..., __bitwise) plus the kernel's short
 * names, bool and size_t.
 */
#ifndef _KVH_SHIM_LINUX_TYPES_H
#define _KVH_SHIM_LINUX_TYPES_H

#include_next <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include <linux/compiler.h>

typedef __u8 u8;
typedef __s8 s8;
typedef __u16 u16;
typedef __s16 s16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;

#endif /* _KVH_SHIM_LINUX_TYPES_H */
