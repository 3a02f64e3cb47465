// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging for live migration (VHOST_F_LOG_ALL).
 *
 * The VMM hands a bitmap (VHOST_SET_LOG_BASE) with one bit per 4 KiB guest
 * page; every guest page kvhost writes, data or used ring, gets its bit set.
 * The VMM clears bits concurrently, so bits are set atomically, on the
 * pinned bitmap page, as upstream vhost does.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

#include <kvhost/access.h>
#include <kvhost/kvhost.h>

static int kvh_log_set_bits(void __user *base, u64 first, u64 count)
{
	unsigned long addr, page_addr;
	unsigned int bit;
	struct page *page;
	void *kaddr;
	u64 n, i;

	/* The data (or used entry) is seen before its page's dirty bit. */
	smp_wmb();
	while (count) {
		addr = (unsigned long)base + first / 8;
		page_addr = addr & PAGE_MASK;
		bit = (addr - page_addr) * 8 + first % 8;
		n = min_t(u64, count, PAGE_SIZE * 8 - bit);
		if (pin_user_pages_fast(page_addr, 1, FOLL_WRITE, &page) != 1)
			return -EFAULT;
		kaddr = kmap_local_page(page);
		for (i = 0; i < n; i++)
			set_bit(bit + i, kaddr);
		kunmap_local(kaddr);
		set_page_dirty_lock(page);
		unpin_user_page(page);
		first += n;
		count -= n;
	}
	return 0;
}

int kvh_log_pages(struct kvh_vring *vr, u64 first, u64 count)
{
	return kvh_log_set_bits(vr->log_base, first, count);
}

/* Can the bitmap cover guest-physical [gpa, gpa + size)? */
static bool kvh_log_range_ok(void __user *log_base, u64 gpa, u64 size)
{
	u64 a = gpa >> KVH_LOG_PAGE_SHIFT >> 3;
	u64 bytes;

	if (!size)
		return true;
	bytes = (((gpa + size - 1) >> KVH_LOG_PAGE_SHIFT) >> 3) - a + 1;
	if (a > ULONG_MAX - (unsigned long)log_base)
		return false;
	return access_ok(log_base + a, bytes);
}

/**
 * kvh_log_access_ok - does the bitmap cover every region of the table?
 * @log_base: the bitmap
 * @mem: the memory table
 */
bool kvh_log_access_ok(void __user *log_base, const struct kvh_mem *mem)
{
	u32 i;

	for (i = 0; i < mem->nregions; i++)
		if (!kvh_log_range_ok(log_base, mem->regions[i].gpa,
				      mem->regions[i].size))
			return false;
	return true;
}

/**
 * kvh_log_used_access_ok - does the bitmap cover a used ring?
 * @log_base: the bitmap
 * @log_addr: guest-physical address of the used ring (the device area)
 * @size: its size in bytes, event word included (kvh_ring_ops.area_size)
 */
bool kvh_log_used_access_ok(void __user *log_base, u64 log_addr, u64 size)
{
	if (log_addr > U64_MAX - size)
		return false;
	return kvh_log_range_ok(log_base, log_addr, size);
}
