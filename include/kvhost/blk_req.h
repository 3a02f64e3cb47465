/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvhost-blk request parsing: pure logic over a walked chain, reaching
 * guest memory only through <kvhost/access.h>, so that the KUnit module
 * and the userspace fuzzer run it unmodified (arena mode).
 */
#ifndef _KVHOST_BLK_REQ_H
#define _KVHOST_BLK_REQ_H

#include <linux/types.h>
#include <linux/virtio_blk.h>

#include <kvhost/vring.h>

/* Data segments per request (VIRTIO_BLK_F_SEG_MAX). */
#define KVH_BLK_SEG_MAX		128
/* More descriptors than this in one chain: IOERR. */
#define KVH_BLK_IOV_MAX		(KVH_BLK_SEG_MAX + 8)
/* DISCARD / WRITE_ZEROES segments per request, sectors per segment (2 GiB). */
#define KVH_BLK_DWZ_SEG_MAX	16
#define KVH_BLK_DWZ_SECTORS	0x400000U
#define KVH_BLK_SECTOR_SHIFT	9

/**
 * struct kvh_blk_geom - what a request is checked against
 * @capacity: in 512-byte sectors, a multiple of @blk_size
 * @blk_size: logical block size, a power of 2, at least 512
 * @ro: writes are refused
 * @discard: DISCARD is supported
 * @write_zeroes: WRITE_ZEROES is supported
 * @little_endian: the request header is little-endian (VERSION_1)
 */
struct kvh_blk_geom {
	u64 capacity;
	u32 blk_size;
	bool ro;
	bool discard;
	bool write_zeroes;
	bool little_endian;
};

/**
 * struct kvh_blk_seg - one DISCARD / WRITE_ZEROES range, validated
 * @sector: first sector
 * @num: sectors
 * @unmap: WRITE_ZEROES may deallocate
 */
struct kvh_blk_seg {
	u64 sector;
	u32 num;
	bool unmap;
};

/**
 * struct kvh_blk_parsed - a request as kvh_blk_parse() read it
 * @status: the status byte (the chain's last writable byte)
 * @type: VIRTIO_BLK_T_*, or U32_MAX when the header was not read
 * @sector: the header's sector
 * @len: IN / OUT: data bytes; GET_ID: bytes of the ID to write
 * @nseg: entries in @seg
 * @seg: DISCARD / WRITE_ZEROES ranges
 */
struct kvh_blk_parsed {
	u8 __user *status;
	u32 type;
	u64 sector;
	u32 len;
	unsigned int nseg;
	struct kvh_blk_seg seg[KVH_BLK_DWZ_SEG_MAX];
};

u8 __user *kvh_blk_status_ptr(const struct kvh_chain *c);
unsigned int kvh_blk_nsegs(const struct iovec *iov, unsigned int n,
			   size_t skip, size_t bytes);
bool kvh_blk_range_ok(const struct kvh_blk_geom *g, u64 sector, u64 bytes);
int kvh_blk_parse(const struct kvh_blk_geom *g, const struct kvh_chain *c,
		  struct kvh_blk_parsed *p);

#endif /* _KVHOST_BLK_REQ_H */
