/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest memory table: guest-physical ranges mapped to the VMM's
 * userspace addresses.  Pure logic, no user access: it builds in the
 * kernel, in the KUnit module and in the userspace fuzzers alike.
 */
#ifndef _KVHOST_MEM_H
#define _KVHOST_MEM_H

#include <linux/types.h>
#include <linux/uio.h>

/**
 * struct kvh_mem_region - one guest-physical range
 * @gpa: first guest-physical address
 * @size: length in bytes, never 0
 * @uaddr: userspace address of @gpa in the owner's mm
 */
struct kvh_mem_region {
	u64 gpa;
	u64 size;
	u64 uaddr;
};

/**
 * struct kvh_mem - an immutable memory table
 * @nregions: number of regions
 * @regions: sorted by @gpa, never overlapping, never wrapping
 *
 * A table is built once, validated by kvh_mem_finalize(), and only read
 * afterwards.  Replacing it swaps a pointer under every vq's mutex, so no
 * reader ever sees it change.
 */
struct kvh_mem {
	u32 nregions;
	struct kvh_mem_region regions[];
};

int kvh_mem_finalize(struct kvh_mem *mem);
const struct kvh_mem_region *kvh_mem_find(const struct kvh_mem *mem,
					  u32 *hint, u64 gpa);
bool kvh_mem_mapped(const struct kvh_mem *mem, u32 *hint, u64 gpa, u64 len);
int kvh_mem_translate(const struct kvh_mem *mem, u32 *hint, u64 gpa,
		      u64 len, struct iovec *iov, unsigned int iov_max);

#endif /* _KVHOST_MEM_H */
