// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-blk request parsing (virtio 1.2, 5.2.6): the header and any
 * DISCARD / WRITE_ZEROES segments are read once from guest memory into
 * locals and every field is checked there; the data is only described
 * (length, segments), never read.
 *
 * Layout: a 16-byte header (type, ioprio, sector) at the start of the
 * readable part, split across descriptors as the driver likes; for OUT the
 * data follows it, for DISCARD / WRITE_ZEROES the segments do.  The
 * writable part holds IN data or the GET_ID string, and its last byte is
 * the status.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/virtio_byteorder.h>

#include <kvhost/access.h>
#include <kvhost/blk_req.h>

#define KVH_BLK_HDR_LEN		sizeof(struct virtio_blk_outhdr)

/**
 * kvh_blk_status_ptr - where the status goes
 * @c: the chain
 *
 * Return: the chain's last writable byte, or NULL when it has none (zero-
 * length writable descriptors do not count).
 */
u8 __user *kvh_blk_status_ptr(const struct kvh_chain *c)
{
	unsigned int i;

	for (i = c->out + c->in; i > c->out; i--)
		if (c->iov[i - 1].iov_len)
			return (u8 __user *)c->iov[i - 1].iov_base +
			       c->iov[i - 1].iov_len - 1;
	return NULL;
}

/**
 * kvh_blk_nsegs - how many iovecs hold some of a byte range
 * @iov: the iovecs
 * @n: how many
 * @skip: bytes before the range
 * @bytes: the range's length
 *
 * Return: the non-empty iovecs that hold bytes of the range.
 */
unsigned int kvh_blk_nsegs(const struct iovec *iov, unsigned int n,
			   size_t skip, size_t bytes)
{
	unsigned int i, segs = 0;
	size_t len;

	for (i = 0; i < n && bytes; i++) {
		len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		len -= skip;
		skip = 0;
		segs++;
		bytes -= min(len, bytes);
	}
	return segs;
}

/**
 * kvh_blk_range_ok - can @bytes at @sector be read or written?
 * @g: the geometry
 * @sector: first sector
 * @bytes: length
 *
 * Return: true when both are multiples of the logical block size and the
 * range lies within the capacity (no overflow).
 */
bool kvh_blk_range_ok(const struct kvh_blk_geom *g, u64 sector, u64 bytes)
{
	u32 spb = g->blk_size >> KVH_BLK_SECTOR_SHIFT;

	return !(bytes & (g->blk_size - 1)) && !(sector & (spb - 1)) &&
	       sector <= g->capacity &&
	       bytes >> KVH_BLK_SECTOR_SHIFT <= g->capacity - sector;
}

/* Copy @len readable bytes from offset @off of the chain. */
static int kvh_blk_read_out(const struct kvh_chain *c, size_t off, void *dst,
			    size_t len)
{
	unsigned int i;
	u8 *d = dst;
	size_t n;

	for (i = 0; i < c->out && len; i++) {
		n = c->iov[i].iov_len;
		if (off >= n) {
			off -= n;
			continue;
		}
		n = min(n - off, len);
		if (kvh_read(d, (u8 __user *)c->iov[i].iov_base + off, n))
			return -EFAULT;
		d += n;
		len -= n;
		off = 0;
	}
	return len ? -EFAULT : 0;
}

/* DISCARD / WRITE_ZEROES: @bytes of segments after the header. */
static int kvh_blk_parse_dwz(const struct kvh_blk_geom *g,
			     const struct kvh_chain *c,
			     struct kvh_blk_parsed *p, u32 bytes)
{
	struct virtio_blk_discard_write_zeroes s;
	u32 num, flags, allowed;
	unsigned int i;
	u64 sector;

	allowed = p->type == VIRTIO_BLK_T_WRITE_ZEROES ?
		  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	if (!bytes || bytes % sizeof(s) ||
	    bytes / sizeof(s) > KVH_BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	for (i = 0; i < bytes / sizeof(s); i++) {
		if (kvh_blk_read_out(c, KVH_BLK_HDR_LEN + i * sizeof(s), &s,
				     sizeof(s)))
			return -EFAULT;
		/* Little-endian whatever the ring's byte order (5.2.6). */
		sector = le64_to_cpu(s.sector);
		num = le32_to_cpu(s.num_sectors);
		flags = le32_to_cpu(s.flags);
		if (flags & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (!num || num > KVH_BLK_DWZ_SECTORS ||
		    !kvh_blk_range_ok(g, sector,
				      (u64)num << KVH_BLK_SECTOR_SHIFT))
			return VIRTIO_BLK_S_IOERR;
		p->seg[i].sector = sector;
		p->seg[i].num = num;
		p->seg[i].unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		p->nseg = i + 1;
	}
	return VIRTIO_BLK_S_OK;
}

/**
 * kvh_blk_parse - read and check one request
 * @g: the geometry
 * @c: the walked chain (readable iovecs, then writable ones)
 * @p: filled in
 *
 * Return: VIRTIO_BLK_S_OK (submit it), VIRTIO_BLK_S_IOERR or
 * VIRTIO_BLK_S_UNSUPP (complete it with that status at @p->status);
 * -EINVAL when the chain has no status byte, -EFAULT when the header or
 * segments cannot be read: both bad guest input, the request cannot be
 * completed.
 */
int kvh_blk_parse(const struct kvh_blk_geom *g, const struct kvh_chain *c,
		  struct kvh_blk_parsed *p)
{
	struct virtio_blk_outhdr h;
	bool supported;
	u32 data;

	p->type = U32_MAX;
	p->sector = 0;
	p->len = 0;
	p->nseg = 0;
	p->status = kvh_blk_status_ptr(c);
	if (!p->status)
		return -EINVAL;
	if (c->out + c->in > KVH_BLK_IOV_MAX || c->out_len < KVH_BLK_HDR_LEN)
		return VIRTIO_BLK_S_IOERR;
	if (kvh_blk_read_out(c, 0, &h, sizeof(h)))
		return -EFAULT;
	p->type = __virtio32_to_cpu(g->little_endian, h.type);
	p->sector = __virtio64_to_cpu(g->little_endian, h.sector);
	data = c->out_len - KVH_BLK_HDR_LEN;

	switch (p->type) {
	case VIRTIO_BLK_T_IN:
		p->len = c->in_len - 1;
		if (data || !kvh_blk_range_ok(g, p->sector, p->len) ||
		    kvh_blk_nsegs(c->iov + c->out, c->in, 0, p->len) >
		    KVH_BLK_SEG_MAX)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		p->len = data;
		if (g->ro || c->in_len != 1 ||
		    !kvh_blk_range_ok(g, p->sector, p->len) ||
		    kvh_blk_nsegs(c->iov, c->out, KVH_BLK_HDR_LEN, p->len) >
		    KVH_BLK_SEG_MAX)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		return data || c->in_len != 1 ? VIRTIO_BLK_S_IOERR :
						VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (data)
			return VIRTIO_BLK_S_IOERR;
		p->len = min_t(u32, c->in_len - 1, VIRTIO_BLK_ID_BYTES);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		supported = p->type == VIRTIO_BLK_T_DISCARD ? g->discard :
							      g->write_zeroes;
		if (g->ro)
			return VIRTIO_BLK_S_IOERR;
		if (!supported)
			return VIRTIO_BLK_S_UNSUPP;
		if (c->in_len != 1)
			return VIRTIO_BLK_S_IOERR;
		return kvh_blk_parse_dwz(g, c, p, data);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}
