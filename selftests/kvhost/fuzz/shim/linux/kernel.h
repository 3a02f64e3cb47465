/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the parts of the kernel's <linux/kernel.h> the
 * ring engine and the blk request parser use.  min() refuses operands of
 * different types, as the kernel's does (a pointer-comparison warning, an
 * error under -Werror).
 */
#ifndef _KVH_SHIM_LINUX_KERNEL_H
#define _KVH_SHIM_LINUX_KERNEL_H

#include <endian.h>

#include <linux/compiler.h>
#include <linux/types.h>

#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)

#define min(x, y) ({				\
	typeof(x) _min_x = (x);			\
	typeof(y) _min_y = (y);			\
	(void)(&_min_x == &_min_y);		\
	_min_x < _min_y ? _min_x : _min_y; })

#define min_t(type, x, y)	min((type)(x), (type)(y))

/* The kernel's <linux/kernel.h> has these from <asm/byteorder.h>. */
#define le32_to_cpu(x)	((u32)le32toh(x))
#define le64_to_cpu(x)	((u64)le64toh(x))

#endif /* _KVH_SHIM_LINUX_KERNEL_H */
