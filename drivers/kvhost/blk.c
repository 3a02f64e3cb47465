// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-blk: virtio-blk over a block device or a regular file.
 *
 * One backend file serves every request queue.  A queue's worker walks a
 * chain, validates the request and submits it without waiting for it:
 *
 *  - IN and OUT as an async kiocb (->read_iter / ->write_iter with
 *    ki_complete), which on an O_DIRECT fd goes straight to bios; on a
 *    buffered fd the page-cache copy happens right there, in the worker;
 *  - FLUSH, DISCARD and WRITE_ZEROES on the device's workqueue, since
 *    vfs_fsync() and vfs_fallocate() sleep;
 *  - GET_ID and anything invalid are completed at once.
 *
 * Completions, from any context, go on the queue's done list; the worker
 * writes the status bytes and publishes the used entries in the owner's
 * mm.  A queue has at most ring-size requests in flight; teardown stops
 * the queues, then waits until every request has completed.
 */
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ioprio.h>
#include <linux/kvhost.h>
#include <linux/llist.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <kvhost/blk_req.h>
#include <kvhost/kvhost.h>

#define KVH_BLK_MAX_QUEUES	16
/* Bios of one request on the bio fast path (each up to BIO_MAX_VECS). */
#define KVH_BLK_BIOS		4

static unsigned int kvh_blk_max_queues = 4;
module_param_named(max_queues, kvh_blk_max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues,
		 "Request queues a kvhost-blk device may have (default 4, at most 16)");

struct kvh_blk;

/**
 * struct kvh_blk_q - one request queue's completion state
 * @vq: the vq
 * @blk: the device
 * @done: completed requests, for @done_work
 * @done_work: publishes @done on the vq's worker
 * @inflight: requests submitted and not yet published
 * @idle: woken when @inflight drops to zero
 * @throttled: the handler stopped at the in-flight limit; @done_work
 *	requeues it (vq mutex)
 * @pool: freed requests kept for reuse, linked through their @node (vq
 *	mutex; see kvh_blk_req_alloc())
 * @npool: requests in @pool
 */
struct kvh_blk_q {
	struct kvh_vq *vq;
	struct kvh_blk *blk;
	struct llist_head done;
	struct kvh_work done_work;
	atomic_t inflight;
	wait_queue_head_t idle;
	bool throttled;
	struct llist_node *pool;
	unsigned int npool;
};

/**
 * struct kvh_blk - a kvhost-blk device
 * @dev: the core device
 * @file: the backend, or NULL (dev mutex; the vqs see it as their backend)
 * @bdev: the block device when @file is one
 * @wq: runs flush, discard and write-zeroes while a backend is attached
 * @geom: what requests are checked against (capacity, block size, ...)
 * @dio_align: O_DIRECT: the memory alignment the backend needs (its
 *	logical block size), else 0; less aligned requests are bounced
 * @config: what KVHOST_BLK_GET_CONFIG returns
 * @serial: the GET_ID answer
 * @q: per-queue state
 * @vqs: the vqs
 */
struct kvh_blk {
	struct kvh_dev dev;
	struct file *file;
	struct block_device *bdev;
	struct workqueue_struct *wq;
	struct kvh_blk_geom geom;
	u32 dio_align;
	struct kvhost_blk_config config;
	u8 serial[VIRTIO_BLK_ID_BYTES];
	struct kvh_blk_q q[KVH_BLK_MAX_QUEUES];
	struct kvh_vq vqs[];
};

/**
 * struct kvh_blk_req - a request in flight
 * @iocb: for IN and OUT
 * @work: for FLUSH, DISCARD and WRITE_ZEROES
 * @node: on the queue's done list
 * @q: the queue
 * @c: the chain; @c.iov and @c.log point into @iov
 * @iter: the data, over @iov
 * @status_ptr: the status byte, in the owner's mm
 * @type: VIRTIO_BLK_T_*
 * @status: VIRTIO_BLK_S_*
 * @len: data bytes
 * @written: data bytes written into guest memory
 * @nseg: entries in @seg
 * @seg: DISCARD / WRITE_ZEROES ranges, validated, in CPU order
 * @bio: the bio fast path: the request's bios, released on completion
 * @nbios: entries in @bio
 * @bios_left: bios in flight, plus one while submitting
 * @bio_error: one of them failed
 * @fault: the backend could not reach the guest's buffers (-EFAULT): the
 *	guest's memory went away under the request
 * @pooled: allocated at the pool's size, so it may go back to the pool
 * @bounce: O_DIRECT with guest buffers the backend cannot take: the data
 *	goes through these pages instead (NULL otherwise)
 * @nbounce: pages in @bounce
 * @iov: the chain's iovecs, then (when logging) its log entries
 */
struct kvh_blk_req {
	struct kiocb iocb;
	struct work_struct work;
	struct llist_node node;
	struct kvh_blk_q *q;
	struct kvh_chain c;
	struct iov_iter iter;
	u8 __user *status_ptr;
	u32 type;
	u8 status;
	u32 len;
	u32 written;
	unsigned int nseg;
	struct kvh_blk_seg seg[KVH_BLK_DWZ_SEG_MAX];
	struct bio *bio[KVH_BLK_BIOS];
	unsigned int nbios;
	atomic_t bios_left;
	bool fault;
	bool pooled;
	bool bio_error;
	struct bio_vec *bounce;
	unsigned int nbounce;
	struct iovec iov[];
};

static struct kvh_blk_q *kvh_blk_q(struct kvh_vq *vq)
{
	struct kvh_blk *b = container_of(vq->dev, struct kvh_blk, dev);

	return &b->q[vq->index];
}

/*
 * Write the status and complete the chain: used length @len, and (when
 * logging) the whole writable part marked dirty, since the status byte
 * is its last byte.  vq mutex held.
 */
static void kvh_blk_complete(struct kvh_vq *vq, struct kvh_chain *c,
			     u8 __user *status_ptr, u8 status, u32 len)
{
	if (vq->broken)
		return;
	if (status != VIRTIO_BLK_S_OK)
		vq->drops++;
	if (put_user(status, status_ptr)) {
		kvh_vq_fail_reason(vq, KVH_E_UNMAPPED, -EFAULT);
		return;
	}
	kvh_vq_add_used_len(vq, c, len, c->in_len);
}

/* From any context: hand a finished request to the queue's worker. */
static void kvh_blk_req_done(struct kvh_blk_req *req)
{
	struct kvh_blk_q *q = req->q;

	llist_add(&req->node, &q->done);
	kvh_work_queue(q->vq->worker, &q->done_work);
}

static void kvh_blk_bounce_free(struct kvh_blk_req *req)
{
	unsigned int i;

	for (i = 0; i < req->nbounce; i++)
		__free_page(req->bounce[i].bv_page);
	kvfree(req->bounce);
	req->bounce = NULL;
	req->nbounce = 0;
}

/*
 * An O_DIRECT request whose guest buffers are not aligned for the
 * backend: move its data through kernel pages.  OUT copies the data in
 * now (the worker is in the owner's mm); IN copies it out on completion.
 * Returns 0 with req->iter over the pages, or -ENOMEM / -EFAULT.
 */
static int kvh_blk_bounce(struct kvh_blk_req *req)
{
	unsigned int i, n = DIV_ROUND_UP(req->len, PAGE_SIZE);
	size_t left = req->len, chunk;
	struct bio_vec *bv;

	bv = kvmalloc_array(n, sizeof(*bv), GFP_KERNEL_ACCOUNT);
	if (!bv)
		return -ENOMEM;
	req->bounce = bv;
	for (i = 0; i < n; i++, left -= chunk) {
		chunk = min_t(size_t, left, PAGE_SIZE);
		bv[i].bv_page = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!bv[i].bv_page)
			goto nomem;
		bv[i].bv_offset = 0;
		bv[i].bv_len = chunk;
		req->nbounce++;
		if (req->type == VIRTIO_BLK_T_OUT &&
		    copy_page_from_iter(bv[i].bv_page, 0, chunk, &req->iter) !=
		    chunk) {
			kvh_blk_bounce_free(req);
			return -EFAULT;
		}
	}
	iov_iter_bvec(&req->iter, req->type == VIRTIO_BLK_T_OUT ? WRITE : READ,
		      bv, n, req->len);
	return 0;

nomem:
	kvh_blk_bounce_free(req);
	return -ENOMEM;
}

/* IN through a bounce: copy what was read into guest memory. */
static int kvh_blk_bounce_out(struct kvh_blk_req *req)
{
	struct iov_iter to;
	unsigned int i;

	iov_iter_init(&to, READ, req->iov + req->c.out, req->c.in, req->len);
	for (i = 0; i < req->nbounce; i++)
		if (copy_page_to_iter(req->bounce[i].bv_page, 0,
				      req->bounce[i].bv_len, &to) !=
		    req->bounce[i].bv_len)
			return -EFAULT;
	return 0;
}

/* Unpin the guest pages of the bio path (IN dirtied them); sleeps. */
static void kvh_blk_bios_release(struct kvh_blk_req *req)
{
	unsigned int i;

	for (i = 0; i < req->nbios; i++) {
		bio_release_pages(req->bio[i], req->type == VIRTIO_BLK_T_IN &&
				  !req->bio_error);
		bio_put(req->bio[i]);
	}
	req->nbios = 0;
}

/*
 * Requests of up to KVH_BLK_POOL_IOV iovecs without log entries (nearly
 * all of them) are recycled through a per-queue pool of at most
 * KVH_BLK_POOL_MAX: a request is a few KiB, and a kernel that zeroes every
 * allocation (init_on_alloc, Debian's default) spent 14% of the worker's
 * time at 4 KiB QD32 clearing them (Documentation/benchmarks.rst).
 */
#define KVH_BLK_POOL_IOV	8
#define KVH_BLK_POOL_MAX	128

/* Back to the pool, or freed.  vq mutex held. */
static void kvh_blk_req_free(struct kvh_blk_q *q, struct kvh_blk_req *req)
{
	if (!req->pooled || q->npool >= KVH_BLK_POOL_MAX) {
		kfree(req);
		return;
	}
	req->node.next = q->pool;
	q->pool = &req->node;
	q->npool++;
}

/* Free the pool.  The queue is stopped and idle. */
static void kvh_blk_pool_drain(struct kvh_blk_q *q)
{
	struct kvh_blk_req *req;

	while (q->pool) {
		req = container_of(q->pool, struct kvh_blk_req, node);
		q->pool = q->pool->next;
		kfree(req);
	}
	q->npool = 0;
}

static void kvh_blk_done_work(struct kvh_work *work)
{
	struct kvh_blk_q *q = container_of(work, struct kvh_blk_q, done_work);
	struct kvh_blk_req *req, *next;
	struct kvh_vq *vq = q->vq;
	struct llist_node *node;
	int n = 0;

	mutex_lock(&vq->mutex);
	node = llist_reverse_order(llist_del_all(&q->done));
	llist_for_each_entry_safe(req, next, node, node) {
		if (!vq->broken &&
		    (req->fault ||
		     (req->bounce && req->type == VIRTIO_BLK_T_IN &&
		      req->status == VIRTIO_BLK_S_OK &&
		      kvh_blk_bounce_out(req))))
			kvh_vq_fail_reason(vq, KVH_E_UNMAPPED, -EFAULT);
		kvh_blk_complete(vq, &req->c, req->status_ptr, req->status,
				 req->written + 1);
		kvh_blk_bounce_free(req);
		kvh_blk_bios_release(req);
		kvh_blk_req_free(q, req);
		n++;
	}
	kvh_vq_flush_used(vq);
	if (q->throttled) {
		q->throttled = false;
		if (vq->backend)
			kvh_poll_queue(&vq->poll);
	}
	mutex_unlock(&vq->mutex);
	if (n && atomic_sub_and_test(n, &q->inflight))
		wake_up(&q->idle);
}

/* An IN or OUT ended, from any context: all of it, or an I/O error. */
static void kvh_blk_rw_finish(struct kvh_blk_req *req, bool ok)
{
	req->status = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	if (ok && req->type == VIRTIO_BLK_T_IN)
		req->written = req->len;
	kvh_blk_req_done(req);
}

static void kvh_blk_rw_done(struct kiocb *iocb, long ret)
{
	struct kvh_blk_req *req = container_of(iocb, struct kvh_blk_req, iocb);

	if ((iocb->ki_flags & IOCB_WRITE) &&
	    S_ISREG(file_inode(iocb->ki_filp)->i_mode))
		kiocb_end_write(iocb);
	req->fault = ret == -EFAULT;
	kvh_blk_rw_finish(req, ret == req->len);
}

/* Drop a count of the bio path; the last one completes the request. */
static void kvh_blk_bio_put_ref(struct kvh_blk_req *req)
{
	if (!atomic_dec_and_test(&req->bios_left))
		return;
	/* The pages are released by the worker: dirtying them sleeps. */
	kvh_blk_rw_finish(req, !READ_ONCE(req->bio_error));
}

static void kvh_blk_bio_done(struct bio *bio)
{
	struct kvh_blk_req *req = bio->bi_private;

	if (bio->bi_status)
		WRITE_ONCE(req->bio_error, true);
	kvh_blk_bio_put_ref(req);
}

/*
 * The bio fast path, for an O_DIRECT block device and aligned guest
 * buffers: bios built on the guest's pages, pinned here in the owner's
 * mm, submitted without the file and kiocb layers.  Returns -E2BIG, with
 * nothing pinned and req->iter as it was, when the request needs more
 * than KVH_BLK_BIOS bios.
 */
static int kvh_blk_submit_bio(struct kvh_blk *b, struct kvh_blk_req *req,
			      u64 sector)
{
	blk_opf_t opf = req->type == VIRTIO_BLK_T_OUT ? REQ_OP_WRITE :
							REQ_OP_READ;
	size_t done = 0;
	struct bio *bio;
	unsigned int i;
	int r = 0;

	req->nbios = 0;
	req->bio_error = false;
	while (iov_iter_count(&req->iter)) {
		if (req->nbios == KVH_BLK_BIOS) {
			r = -E2BIG;
			break;
		}
		bio = bio_alloc(b->bdev,
				bio_iov_vecs_to_alloc(&req->iter, BIO_MAX_VECS),
				opf, GFP_KERNEL);
		bio->bi_iter.bi_sector = sector;
		bio->bi_private = req;
		bio->bi_end_io = kvh_blk_bio_done;
		bio->bi_ioprio = get_current_ioprio();
		r = bio_iov_iter_get_pages(bio, &req->iter);
		if (r || !bio->bi_iter.bi_size) {
			bio_put(bio);
			r = r ?: -EIO;
			break;
		}
		done += bio->bi_iter.bi_size;
		sector += bio->bi_iter.bi_size >> SECTOR_SHIFT;
		req->bio[req->nbios++] = bio;
	}
	if (r) {
		kvh_blk_bios_release(req);
		iov_iter_revert(&req->iter, done);
		if (r == -E2BIG)
			return r;
		/*
		 * Nothing submitted: an I/O error for the whole request, or,
		 * when the guest's pages could not be pinned, a guest fault,
		 * as on the kiocb path.
		 */
		req->bio_error = true;
		req->fault = r == -EFAULT;
	}
	/* Our own count keeps the request alive until all are submitted. */
	atomic_set(&req->bios_left, req->nbios + 1);
	for (i = 0; i < req->nbios; i++)
		submit_bio(req->bio[i]);
	kvh_blk_bio_put_ref(req);
	return 0;
}

static void kvh_blk_submit_rw(struct kvh_blk *b, struct kvh_blk_req *req,
			      u64 sector)
{
	struct file *file = b->file;
	struct kiocb *iocb = &req->iocb;
	ssize_t r;

	*iocb = (struct kiocb) {
		.ki_filp = file,
		.ki_flags = file->f_iocb_flags,
		.ki_ioprio = get_current_ioprio(),
		.ki_pos = sector << SECTOR_SHIFT,
		.ki_complete = kvh_blk_rw_done,
	};
	if (req->type == VIRTIO_BLK_T_OUT) {
		iocb->ki_flags |= IOCB_WRITE;
		if (S_ISREG(file_inode(file)->i_mode))
			kiocb_start_write(iocb);
		r = call_write_iter(file, iocb, &req->iter);
	} else {
		r = call_read_iter(file, iocb, &req->iter);
	}
	if (r != -EIOCBQUEUED)
		kvh_blk_rw_done(iocb, r);
}

/* Write zeroes the slow way, for backends without a fallocate mode. */
static int kvh_blk_write_zeroes(struct file *file, loff_t pos, u64 len)
{
	struct bio_vec bv[16];
	struct iov_iter it;
	unsigned int i;
	ssize_t r = 0;
	u64 n;

	for (i = 0; i < ARRAY_SIZE(bv); i++) {
		bv[i].bv_page = ZERO_PAGE(0);
		bv[i].bv_len = PAGE_SIZE;
		bv[i].bv_offset = 0;
	}
	if (S_ISREG(file_inode(file)->i_mode))
		file_start_write(file);
	while (len) {
		n = min_t(u64, len, ARRAY_SIZE(bv) * PAGE_SIZE);
		iov_iter_bvec(&it, WRITE, bv, DIV_ROUND_UP(n, PAGE_SIZE), n);
		r = vfs_iter_write(file, &it, &pos, 0);
		if (r <= 0)
			break;
		len -= r;
	}
	if (S_ISREG(file_inode(file)->i_mode))
		file_end_write(file);
	return r < 0 ? r : len ? -EIO : 0;
}

/* One DISCARD or WRITE_ZEROES range. */
static int kvh_blk_dwz_one(struct kvh_blk *b, u32 type, u64 sector, u32 num,
			   bool unmap)
{
	loff_t pos = sector << SECTOR_SHIFT, len = (loff_t)num << SECTOR_SHIFT;
	int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int zero = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	int r;

	if (type == VIRTIO_BLK_T_DISCARD && b->bdev) {
		/*
		 * A plain discard, no zeroes promised: vfs_fallocate() does
		 * not pass FALLOC_FL_NO_HIDE_STALE on, so ask the block layer,
		 * and drop the range from the page cache as blkdev_fallocate()
		 * would.
		 */
		truncate_inode_pages_range(b->file->f_mapping, pos,
					   pos + len - 1);
		return blkdev_issue_discard(b->bdev, sector, num, GFP_KERNEL);
	}
	if (type == VIRTIO_BLK_T_DISCARD)
		return vfs_fallocate(b->file, punch, pos, len);
	/* WRITE_ZEROES: the range reads as zeroes afterwards, always. */
	r = vfs_fallocate(b->file, unmap ? punch : zero, pos, len);
	if (r == -EOPNOTSUPP)
		r = vfs_fallocate(b->file, unmap ? zero : punch, pos, len);
	if (r == -EOPNOTSUPP)
		r = kvh_blk_write_zeroes(b->file, pos, len);
	return r;
}

static void kvh_blk_slow_work(struct work_struct *work)
{
	struct kvh_blk_req *req = container_of(work, struct kvh_blk_req, work);
	struct kvh_blk *b = req->q->blk;
	unsigned int i;
	int r = 0;

	if (req->type == VIRTIO_BLK_T_FLUSH)
		r = vfs_fsync(b->file, 0);
	for (i = 0; i < req->nseg && !r; i++)
		r = kvh_blk_dwz_one(b, req->type, req->seg[i].sector,
				    req->seg[i].num, req->seg[i].unmap);
	req->status = r ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	kvh_blk_req_done(req);
}

/* A copy of the chain that outlives the vq's scratch arrays.  vq mutex. */
static struct kvh_blk_req *kvh_blk_req_alloc(struct kvh_vq *vq,
					     const struct kvh_chain *c)
{
	unsigned int niov = c->out + c->in;
	struct kvh_blk_q *q = kvh_blk_q(vq);
	struct kvh_blk_req *req;
	bool pooled = false;
	size_t size;

	if (!c->nlog && niov <= KVH_BLK_POOL_IOV) {
		pooled = true;
		niov = KVH_BLK_POOL_IOV;
	}
	if (pooled && q->pool) {
		req = container_of(q->pool, struct kvh_blk_req, node);
		q->pool = q->pool->next;
		q->npool--;
	} else {
		size = struct_size(req, iov, niov);
		if (c->nlog)
			size += c->nlog * sizeof(*c->log);
		req = kmalloc(size, GFP_KERNEL_ACCOUNT);
		if (!req)
			return NULL;
	}
	niov = c->out + c->in;
	req->c = *c;
	req->c.iov = req->iov;
	memcpy(req->iov, c->iov, niov * sizeof(*c->iov));
	if (c->nlog) {
		req->c.log = (struct kvh_log_ent *)&req->iov[niov];
		memcpy(req->c.log, c->log, c->nlog * sizeof(*c->log));
	}
	req->q = q;
	req->written = 0;
	req->nseg = 0;
	req->status = VIRTIO_BLK_S_OK;
	req->fault = false;
	req->pooled = pooled;
	return req;
}

/* A request that could not be submitted: IOERR, or a guest fault. */
static void kvh_blk_req_fail(struct kvh_vq *vq, struct kvh_blk_req *req,
			     int r)
{
	if (r == -EFAULT)
		kvh_vq_fail_reason(vq, KVH_E_UNMAPPED, -EFAULT);
	else
		kvh_blk_complete(vq, &req->c, req->status_ptr,
				 VIRTIO_BLK_S_IOERR, 1);
	kvh_blk_req_free(req->q, req);
}

/*
 * Validate one request and submit it.  Errors found here complete the
 * chain at once; a chain with nowhere to put the status, or whose header
 * cannot be read, is bad guest input and stops the queue.  vq mutex held.
 */
static void kvh_blk_submit(struct kvh_blk *b, struct kvh_vq *vq,
			   struct kvh_chain *c)
{
	struct kvh_blk_q *q = kvh_blk_q(vq);
	struct kvh_blk_parsed p;
	struct kvh_blk_req *req;
	struct iov_iter in;
	u32 n;
	int r;

	r = kvh_blk_parse(&b->geom, c, &p);
	if (r < 0) {
		enum kvh_vring_err why = r == -EFAULT ? KVH_E_UNMAPPED :
							KVH_E_DEVICE;

		kvh_vq_fail_reason(vq, why, r);
		return;
	}
	if (r != VIRTIO_BLK_S_OK) {
		kvh_blk_complete(vq, c, p.status, r, 1);
		return;
	}
	if (p.type == VIRTIO_BLK_T_GET_ID) {
		iov_iter_init(&in, READ, c->iov + c->out, c->in, p.len);
		n = copy_to_iter(b->serial, p.len, &in);
		kvh_blk_complete(vq, c, p.status,
				 n == p.len ? VIRTIO_BLK_S_OK :
					      VIRTIO_BLK_S_IOERR, n + 1);
		return;
	}
	req = kvh_blk_req_alloc(vq, c);
	if (!req) {
		kvh_blk_complete(vq, c, p.status, VIRTIO_BLK_S_IOERR, 1);
		return;
	}
	req->status_ptr = p.status;
	req->type = p.type;
	req->len = p.len;
	req->nseg = p.nseg;
	memcpy(req->seg, p.seg, p.nseg * sizeof(p.seg[0]));
	req->bounce = NULL;
	req->nbounce = 0;
	req->nbios = 0;
	atomic_inc(&q->inflight);
	switch (p.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		/* The iterators are over the request's own copy of the iovecs. */
		if (p.type == VIRTIO_BLK_T_IN) {
			iov_iter_init(&req->iter, READ, req->iov + c->out, c->in,
				      p.len);
		} else {
			iov_iter_init(&req->iter, WRITE, req->iov, c->out,
				      c->out_len);
			iov_iter_advance(&req->iter,
					 sizeof(struct virtio_blk_outhdr));
		}
		if (b->dio_align &&
		    (iov_iter_alignment(&req->iter) & (b->dio_align - 1))) {
			r = kvh_blk_bounce(req);
			if (r) {
				atomic_dec(&q->inflight);
				kvh_blk_req_fail(vq, req, r);
				break;
			}
		}
		/* Raw device, O_DIRECT, aligned: the bio fast path. */
		if (b->bdev && b->dio_align && !req->bounce &&
		    !kvh_blk_submit_bio(b, req, p.sector))
			break;
		kvh_blk_submit_rw(b, req, p.sector);
		break;
	default:
		/* FLUSH, DISCARD, WRITE_ZEROES: they sleep. */
		INIT_WORK(&req->work, kvh_blk_slow_work);
		queue_work(b->wq, &req->work);
		break;
	}
}

static void kvh_blk_handle(struct kvh_vq *vq)
{
	struct kvh_blk *b = container_of(vq->dev, struct kvh_blk, dev);
	struct kvh_blk_q *q = kvh_blk_q(vq);
	unsigned int reqs = 0;
	struct kvh_chain c;
	int r;

	mutex_lock(&vq->mutex);
	if (!vq->backend || vq->broken)
		goto out;
	kvh_vq_disable_notify(vq);
	while (!vq->broken) {
		if (atomic_read(&q->inflight) >= kvh_vq_num(vq)) {
			/* Full: the next completion requeues us. */
			q->throttled = true;
			break;
		}
		r = kvh_vq_next_chain(vq, &c);
		if (r)
			break;
		kvh_blk_submit(b, vq, &c);
		if (kvh_vq_exceeds_weight(vq, ++reqs, 0))
			break;
	}
	kvh_vq_flush_used(vq);
out:
	mutex_unlock(&vq->mutex);
}

/* Stop every queue, then wait for what is in flight.  dev mutex held. */
static void kvh_blk_stop_queues(struct kvh_blk *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		kvh_vq_stop(&b->vqs[i]);
	for (i = 0; i < n; i++) {
		wait_event(b->q[i].idle, !atomic_read(&b->q[i].inflight));
		/* The last done_work may still be returning. */
		if (b->vqs[i].worker)
			kvh_worker_flush(b->vqs[i].worker);
		kvh_vq_lock_ctl(&b->vqs[i]);
		kvh_blk_pool_drain(&b->q[i]);
		mutex_unlock(&b->vqs[i].mutex);
	}
}

static void kvh_blk_detach(struct kvh_blk *b)
{
	if (!b->file)
		return;
	kvh_blk_stop_queues(b, b->dev.nvqs);
	destroy_workqueue(b->wq);
	b->wq = NULL;
	fput(b->file);
	b->file = NULL;
	b->bdev = NULL;
	memset(&b->config, 0, sizeof(b->config));
	memset(&b->geom, 0, sizeof(b->geom));
	b->dio_align = 0;
}

/* Fill the geometry and config for @file.  dev mutex held. */
static int kvh_blk_probe(struct kvh_blk *b, struct file *file)
{
	struct inode *inode = file_inode(file);
	struct kvhost_blk_config *cfg = &b->config;
	u32 bs, phys, align = 0, io_min, io_opt = 0, max_discard;
	struct kvh_blk_geom *g = &b->geom;
	u64 size, features = KVH_BLK_FEATURES;
	bool discard, ro;

	if (!(file->f_mode & FMODE_READ) || !file->f_op->read_iter)
		return -EINVAL;
	ro = !(file->f_mode & FMODE_WRITE) || !file->f_op->write_iter;
	if (S_ISBLK(inode->i_mode)) {
		b->bdev = I_BDEV(file->f_mapping->host);
		size = bdev_nr_bytes(b->bdev);
		bs = bdev_logical_block_size(b->bdev);
		phys = bdev_physical_block_size(b->bdev);
		align = bdev_alignment_offset(b->bdev);
		io_min = bdev_io_min(b->bdev);
		io_opt = bdev_io_opt(b->bdev);
		max_discard = min_t(u64, bdev_max_discard_sectors(b->bdev),
				    KVH_BLK_DWZ_SECTORS);
		discard = max_discard;
		ro |= bdev_read_only(b->bdev);
	} else if (S_ISREG(inode->i_mode)) {
		b->bdev = NULL;
		size = i_size_read(inode);
		bs = SECTOR_SIZE;
		phys = SECTOR_SIZE;
		io_min = SECTOR_SIZE;
		max_discard = KVH_BLK_DWZ_SECTORS;
		discard = !!file->f_op->fallocate;
	} else {
		return -EINVAL;
	}
	if (size < bs)
		return -EINVAL;
	g->capacity = (size & ~(u64)(bs - 1)) >> SECTOR_SHIFT;
	b->dio_align = 0;
	if (file->f_flags & O_DIRECT) {
		struct block_device *under = b->bdev ?: inode->i_sb->s_bdev;

		b->dio_align = under ? bdev_logical_block_size(under) :
				       SECTOR_SIZE;
	}
	g->blk_size = bs;
	g->ro = ro;
	g->discard = discard && !ro;
	g->write_zeroes = !ro;
	g->little_endian = kvh_vq_little_endian(&b->vqs[0]);

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = cpu_to_le64(g->capacity);
	cfg->seg_max = cpu_to_le32(KVH_BLK_SEG_MAX);
	cfg->blk_size = cpu_to_le32(bs);
	cfg->physical_block_exp = ilog2(max(phys, bs) / bs);
	cfg->alignment_offset = align / bs;
	cfg->min_io_size = cpu_to_le16(max(io_min / bs, 1U));
	cfg->opt_io_size = cpu_to_le32(io_opt / bs);
	cfg->wce = 1;
	cfg->num_queues = cpu_to_le16(b->dev.nvqs_used);
	cfg->max_discard_sectors = cpu_to_le32(max_discard);
	cfg->max_discard_seg = cpu_to_le32(KVH_BLK_DWZ_SEG_MAX);
	cfg->discard_sector_alignment = cpu_to_le32(bs >> SECTOR_SHIFT);
	cfg->max_write_zeroes_sectors = cpu_to_le32(KVH_BLK_DWZ_SECTORS);
	cfg->max_write_zeroes_seg = cpu_to_le32(KVH_BLK_DWZ_SEG_MAX);
	cfg->write_zeroes_may_unmap = 1;
	if (!ro)
		features &= ~(1ULL << VIRTIO_BLK_F_RO);
	if (!g->discard)
		features &= ~(1ULL << VIRTIO_BLK_F_DISCARD);
	if (!g->write_zeroes)
		features &= ~(1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	cfg->features = features;
	return 0;
}

static long kvh_blk_set_backend(struct kvh_blk *b,
				struct kvhost_blk_backend __user *argp)
{
	struct kvh_dev *dev = &b->dev;
	struct kvhost_blk_backend a;
	struct file *file;
	unsigned int i;
	long r;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (memchr_inv(a.reserved, 0, sizeof(a.reserved)))
		return -EINVAL;
	mutex_lock(&dev->mutex);
	r = kvh_dev_check_owner(dev);
	if (r)
		goto out;
	if (a.fd == -1) {
		kvh_blk_detach(b);
		goto out;
	}
	r = -EBUSY;
	if (b->file)
		goto out;
	file = fget(a.fd);
	r = -EBADF;
	if (!file)
		goto out;
	r = kvh_blk_probe(b, file);
	if (r)
		goto err_fput;
	r = -ENOMEM;
	b->wq = alloc_workqueue("kvh-blk-%u", WQ_UNBOUND, 0, dev->id);
	if (!b->wq)
		goto err_fput;
	b->file = file;
	for (i = 0; i < dev->nvqs_used; i++) {
		struct kvh_vq *vq = &b->vqs[i];

		kvh_vq_lock_ctl(vq);
		b->q[i].throttled = false;
		r = kvh_vq_ring_set(vq) ? kvh_vq_start(vq, file) : -EFAULT;
		mutex_unlock(&vq->mutex);
		if (r)
			goto err_stop;
	}
	goto out;

err_stop:
	kvh_blk_stop_queues(b, i);
	destroy_workqueue(b->wq);
	b->wq = NULL;
	b->file = NULL;
err_fput:
	b->bdev = NULL;
	memset(&b->config, 0, sizeof(b->config));
	fput(file);
out:
	mutex_unlock(&dev->mutex);
	return r;
}

/* Has any vring of the device been configured? */
static bool kvh_blk_vrings_touched(struct kvh_blk *b)
{
	unsigned int i;

	for (i = 0; i < b->dev.nvqs; i++)
		if (kvh_vq_ring_touched(&b->vqs[i]))
			return true;
	return false;
}

static long kvh_blk_set_num_queues(struct kvh_blk *b,
				   struct kvhost_blk_queues __user *argp)
{
	struct kvh_dev *dev = &b->dev;
	struct kvhost_blk_queues a;
	long r;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	mutex_lock(&dev->mutex);
	r = kvh_dev_check_owner(dev);
	if (r)
		goto out;
	r = -EINVAL;
	if (a.reserved || !a.num || a.num > dev->nvqs)
		goto out;
	r = -EBUSY;
	if (b->file || kvh_blk_vrings_touched(b))
		goto out;
	dev->nvqs_used = a.num;
	r = 0;
out:
	mutex_unlock(&dev->mutex);
	return r;
}

static long kvh_blk_get_config(struct kvh_blk *b,
			       struct kvhost_blk_config __user *argp)
{
	struct kvh_dev *dev = &b->dev;
	struct kvhost_blk_config cfg;
	long r;

	mutex_lock(&dev->mutex);
	r = kvh_dev_check_owner(dev);
	if (!r && !b->file)
		r = -ENXIO;
	cfg = b->config;
	mutex_unlock(&dev->mutex);
	if (r)
		return r;
	return copy_to_user(argp, &cfg, sizeof(cfg)) ? -EFAULT : 0;
}

static long kvh_blk_set_serial(struct kvh_blk *b,
			       struct kvhost_blk_serial __user *argp)
{
	struct kvh_dev *dev = &b->dev;
	struct kvhost_blk_serial a;
	long r;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.reserved)
		return -EINVAL;
	mutex_lock(&dev->mutex);
	r = kvh_dev_check_owner(dev);
	if (!r)
		memcpy(b->serial, a.id, sizeof(b->serial));
	mutex_unlock(&dev->mutex);
	return r;
}

static long kvh_blk_ioctl(struct kvh_dev *dev, unsigned int cmd,
			  void __user *argp)
{
	struct kvh_blk *b = container_of(dev, struct kvh_blk, dev);

	switch (cmd) {
	case KVHOST_BLK_SET_BACKEND:
		return kvh_blk_set_backend(b, argp);
	case KVHOST_BLK_SET_NUM_QUEUES:
		return kvh_blk_set_num_queues(b, argp);
	case KVHOST_BLK_GET_CONFIG:
		return kvh_blk_get_config(b, argp);
	case KVHOST_BLK_SET_SERIAL:
		return kvh_blk_set_serial(b, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

/*
 * Owner gone, RESET_OWNER or close: drain and detach, and back to one
 * queue.  dev mutex held.
 */
static void kvh_blk_stop(struct kvh_dev *dev)
{
	kvh_blk_detach(container_of(dev, struct kvh_blk, dev));
	dev->nvqs_used = 1;
}

static void kvh_blk_free(struct kvh_dev *dev)
{
	kvfree(container_of(dev, struct kvh_blk, dev));
}

static struct kvh_dev *kvh_blk_alloc(void)
{
	unsigned int i, n;
	struct kvh_blk *b;

	n = clamp(kvh_blk_max_queues, 1U, (unsigned int)KVH_BLK_MAX_QUEUES);
	b = kvzalloc(struct_size(b, vqs, n), GFP_KERNEL_ACCOUNT);
	if (!b)
		return NULL;
	kvh_dev_init(&b->dev, &kvh_blk_ops, b->vqs, n, kvh_blk_handle);
	/* One queue until KVHOST_BLK_SET_NUM_QUEUES says otherwise. */
	b->dev.nvqs_used = 1;
	for (i = 0; i < n; i++) {
		b->q[i].vq = &b->vqs[i];
		b->q[i].blk = b;
		init_llist_head(&b->q[i].done);
		kvh_work_init(&b->q[i].done_work, kvh_blk_done_work);
		atomic_set(&b->q[i].inflight, 0);
		init_waitqueue_head(&b->q[i].idle);
	}
	return &b->dev;
}

const struct kvh_dev_ops kvh_blk_ops = {
	.name = KVHOST_BLK_NODE,
	.features = KVH_BLK_FEATURES,
	.alloc = kvh_blk_alloc,
	.free = kvh_blk_free,
	.stop = kvh_blk_stop,
	.ioctl = kvh_blk_ioctl,
};
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_blk_ops);
