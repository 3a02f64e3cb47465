/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/string.h>: the C library's. */
#ifndef _KVH_SHIM_LINUX_STRING_H
#define _KVH_SHIM_LINUX_STRING_H

#include <string.h>

#endif /* _KVH_SHIM_LINUX_STRING_H */
