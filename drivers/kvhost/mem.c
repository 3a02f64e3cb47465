// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory table: validation and guest-physical to user translation.
 *
 * Built three ways from this one file: into kvhost.ko, into the KUnit
 * module, and into the userspace fuzzers against shim headers.  It must
 * therefore touch no user memory and no kernel-only interface.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/sort.h>

#include <kvhost/mem.h>

static int kvh_region_cmp(const void *a, const void *b)
{
	const struct kvh_mem_region *ra = a, *rb = b;

	if (ra->gpa < rb->gpa)
		return -1;
	return ra->gpa > rb->gpa;
}

/**
 * kvh_mem_finalize - validate a freshly filled table and sort it
 * @mem: the table, regions in the order the VMM gave them
 *
 * Return: 0; -EFAULT for an empty region or one whose guest-physical or
 * userspace range wraps (as upstream vhost); -EINVAL for overlapping
 * guest-physical ranges.
 */
int kvh_mem_finalize(struct kvh_mem *mem)
{
	const struct kvh_mem_region *r, *prev;
	u32 i;

	for (i = 0; i < mem->nregions; i++) {
		r = &mem->regions[i];
		if (!r->size || r->gpa + r->size - 1 < r->gpa ||
		    r->uaddr + r->size - 1 < r->uaddr)
			return -EFAULT;
	}
	sort(mem->regions, mem->nregions, sizeof(mem->regions[0]),
	     kvh_region_cmp, NULL);
	for (i = 1; i < mem->nregions; i++) {
		prev = &mem->regions[i - 1];
		r = &mem->regions[i];
		if (r->gpa <= prev->gpa + prev->size - 1)
			return -EINVAL;
	}
	return 0;
}

static bool kvh_region_has(const struct kvh_mem_region *r, u64 gpa)
{
	return gpa >= r->gpa && gpa - r->gpa < r->size;
}

/**
 * kvh_mem_find - the region holding a guest-physical address
 * @mem: the table
 * @hint: in/out: index of the last hit, tried first (per-vq cache)
 * @gpa: the address
 *
 * Return: the region, or NULL when @gpa is not mapped.
 */
const struct kvh_mem_region *kvh_mem_find(const struct kvh_mem *mem,
					  u32 *hint, u64 gpa)
{
	u32 lo = 0, hi = mem->nregions, mid;
	const struct kvh_mem_region *r;

	if (*hint < mem->nregions && kvh_region_has(&mem->regions[*hint], gpa))
		return &mem->regions[*hint];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = &mem->regions[mid];
		if (gpa < r->gpa) {
			hi = mid;
		} else if (gpa - r->gpa >= r->size) {
			lo = mid + 1;
		} else {
			*hint = mid;
			return r;
		}
	}
	return NULL;
}

/**
 * kvh_mem_mapped - is every byte of a guest-physical range mapped?
 * @mem: the table
 * @hint: per-vq last-hit cache for kvh_mem_find()
 * @gpa: start of the range
 * @len: its length; the caller has checked that @gpa + @len does not wrap
 */
bool kvh_mem_mapped(const struct kvh_mem *mem, u32 *hint, u64 gpa, u64 len)
{
	const struct kvh_mem_region *r;
	u64 chunk;

	while (len) {
		r = kvh_mem_find(mem, hint, gpa);
		if (!r)
			return false;
		chunk = min(len, r->size - (gpa - r->gpa));
		gpa += chunk;
		len -= chunk;
	}
	return true;
}

/**
 * kvh_mem_translate - map a guest-physical range to user iovecs
 * @mem: the table
 * @hint: per-vq last-hit cache for kvh_mem_find()
 * @gpa: start of the range
 * @len: its length; 0 yields no iovec
 * @iov: where to put the iovecs
 * @iov_max: room in @iov
 *
 * A range that crosses regions is split, one iovec per region.  The caller
 * has already checked that @gpa + @len does not wrap.
 *
 * Return: the number of iovecs used; -EFAULT when any byte is unmapped;
 * -ENOBUFS when @iov is too small.
 */
int kvh_mem_translate(const struct kvh_mem *mem, u32 *hint, u64 gpa,
		      u64 len, struct iovec *iov, unsigned int iov_max)
{
	const struct kvh_mem_region *r;
	unsigned int n = 0;
	u64 off, chunk;

	while (len) {
		r = kvh_mem_find(mem, hint, gpa);
		if (!r)
			return -EFAULT;
		if (n == iov_max)
			return -ENOBUFS;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		/* One iovec holds at most SIZE_MAX; u64 == size_t here. */
		iov[n].iov_base = (void __user *)(unsigned long)(r->uaddr + off);
		iov[n].iov_len = chunk;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return n;
}
