// SPDX-License-Identifier: GPL-2.0
/*
 * One virtqueue: start and stop, and the helpers device handlers use to
 * serve it (fetch chains, publish used entries in batches, coalesce
 * signals, suppress notifications, yield after a budget, fail on bad
 * guest input).
 *
 * A device handler has the shape:
 *
 *	mutex_lock(&vq->mutex);
 *	if (!vq->backend || vq->broken)
 *		goto out;
 *	kvh_vq_disable_notify(vq);
 *	while (!vq->broken) {
 *		r = kvh_vq_get_chain(vq, &c);
 *		if (r == -EAGAIN) {
 *			if (kvh_vq_enable_notify(vq)) {
 *				kvh_vq_disable_notify(vq);
 *				continue;
 *			}
 *			break;
 *		}
 *		if (r)
 *			break;
 *		... do the I/O ...
 *		kvh_vq_add_used(vq, &c, written);
 *		if (kvh_vq_exceeds_weight(vq, ++reqs, bytes))
 *			break;
 *	}
 *	kvh_vq_flush_used(vq);
 * out:
 *	mutex_unlock(&vq->mutex);
 *
 * The ring itself is served by a ring format through vq->ring (struct
 * kvh_ring_ops; the split format, kvh_split_ring_ops, is the only one so
 * far).  Devices reach the ring only through the kvh_vq_*() helpers, so
 * they never see which format it is.
 */
#include <linux/file.h>
#include <linux/indirect_call_wrapper.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <kvhost/kvhost.h>

static const struct kvh_mem kvh_mem_empty;

static void kvh_vq_work(struct kvh_work *work)
{
	struct kvh_vq *vq = container_of(work, struct kvh_vq, poll.work);

	vq->handle(vq);
}

void kvh_vq_init(struct kvh_vq *vq, struct kvh_dev *dev, unsigned int index,
		 void (*handle)(struct kvh_vq *vq))
{
	memset(vq, 0, sizeof(*vq));
	vq->dev = dev;
	vq->index = index;
	vq->handle = handle;
	mutex_init(&vq->mutex);
	atomic_set(&vq->ctl_waiting, 0);
	kvh_poll_init(&vq->poll, kvh_vq_work, EPOLLIN);
	kvh_vq_reset(vq);
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_vq_init);

/**
 * kvh_vq_reset - back to the state of a freshly opened device
 * @vq: the vq; stopped, its worker idle
 *
 * Drops the eventfds; keeps the worker and the iovec arrays, which belong
 * to the owner's lifetime.
 */
void kvh_vq_reset(struct kvh_vq *vq)
{
	struct kvh_vring *vr = &vq->vr;

	kvh_poll_stop(&vq->poll);
	if (vq->kick)
		fput(vq->kick);
	if (vq->call)
		eventfd_ctx_put(vq->call);
	if (vq->err)
		eventfd_ctx_put(vq->err);
	vq->kick = NULL;
	vq->call = NULL;
	vq->err = NULL;
	vq->log_ctx = NULL;
	vq->backend = NULL;
	vq->broken = false;
	vq->features = 0;
	vq->log_addr = 0;
	vq->log_flag = false;
	vq->busyloop_timeout = 0;
	vq->nused = 0;
	vq->drops = 0;
	memset(vr, 0, sizeof(*vr));
	vr->iov_max = KVH_IOV_MAX;
	vr->little_endian = virtio_legacy_is_little_endian();
	vr->mem = &kvh_mem_empty;
	vq->ring = &kvh_split_ring_ops;
	vq->ring->reset(vr);
}

/* Bytes an area of the vq's ring spans, as its format lays it out. */
static size_t kvh_vq_area_size(struct kvh_vq *vq, enum kvh_ring_area area,
			       bool event)
{
	return vq->ring->area_size(&vq->vr, area, event);
}

/*
 * Each ring area passes access_ok() for its size (with the event word
 * when @event) and, when @set, is set at all (non-NULL).
 */
static bool kvh_vq_areas_ok(struct kvh_vq *vq, bool set, bool event)
{
	struct kvh_vring *vr = &vq->vr;
	const void __user *const addr[] = {
		[KVH_RING_DESC] = vr->desc,
		[KVH_RING_DRIVER] = vr->avail,
		[KVH_RING_DEVICE] = vr->used,
	};
	unsigned int a;

	for (a = 0; a < ARRAY_SIZE(addr); a++)
		if ((set && !addr[a]) ||
		    !access_ok(addr[a], kvh_vq_area_size(vq, a, event)))
			return false;
	return true;
}

/**
 * kvh_vq_log_mem_ok - does a log cover the memory table, if it must?
 * @vq: the vq, mutex held
 * @base: the log base to check
 * @mem: the memory table to check
 * @log_all: check as if VHOST_F_LOG_ALL were acked
 *
 * Upstream's vq_memory_access_ok() for the log: the bitmap at @base covers
 * every region of @mem when the vq logs (or would, with @log_all).
 */
bool kvh_vq_log_mem_ok(struct kvh_vq *vq, void __user *base,
		       const struct kvh_mem *mem, bool log_all)
{
	if (!log_all && !(vq->features & (1ULL << VHOST_F_LOG_ALL)))
		return true;
	return kvh_log_access_ok(base, mem);
}

/**
 * kvh_vq_log_ok - can a log base take every write the vq would log?
 * @vq: the vq, mutex held
 * @base: the log base to check
 *
 * Upstream's vq_log_access_ok(): the memory table with VHOST_F_LOG_ALL
 * acked, and the used ring with VHOST_VRING_F_LOG set.
 */
bool kvh_vq_log_ok(struct kvh_vq *vq, void __user *base)
{
	struct kvh_vring *vr = &vq->vr;

	if (!kvh_vq_log_mem_ok(vq, base, vr->mem, false))
		return false;
	return !vr->log_used ||
	       kvh_log_used_access_ok(base, vr->log_used_gpa,
				      kvh_vq_area_size(vq, KVH_RING_DEVICE,
						       true));
}

/**
 * kvh_vq_access_ok - are the rings accessible, and the log in order?
 * @vq: the vq, mutex held
 *
 * What starting a vq checks, as upstream's vhost_vq_access_ok(); kvhost
 * also needs the rings themselves to be set (non-NULL).
 */
bool kvh_vq_access_ok(struct kvh_vq *vq)
{
	struct kvh_vring *vr = &vq->vr;
	bool event = vq->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);

	if (!vr->num || !kvh_vq_areas_ok(vq, true, event))
		return false;
	return kvh_vq_log_ok(vq, vr->log_base);
}

/**
 * kvh_vq_rings_access_ok - the addresses set so far pass access_ok()
 * @vq: the vq, mutex held
 *
 * Upstream's check before attaching a backend: unset (NULL) addresses
 * pass; addresses outside user space do not.
 */
bool kvh_vq_rings_access_ok(struct kvh_vq *vq)
{
	return kvh_vq_areas_ok(vq, false, false);
}

/**
 * kvh_vq_start - attach a backend and start serving the ring
 * @vq: the vq; dev->mutex and vq->mutex held
 * @backend: the device's backend, non-NULL
 *
 * Return: 0; -EFAULT when the ring is not set up or not accessible.
 */
int kvh_vq_start(struct kvh_vq *vq, void *backend)
{
	int r;

	if (WARN_ON_ONCE(!vq->handle || !vq->worker))
		return -EINVAL;
	if (!kvh_vq_access_ok(vq))
		return -EFAULT;
	r = vq->ring->start(&vq->vr);
	if (r)
		return -EFAULT;
	vq->broken = false;
	vq->backend = backend;
	if (vq->kick) {
		r = kvh_poll_start(&vq->poll, vq->kick);
		if (r) {
			vq->backend = NULL;
			return r;
		}
	}
	/* Serve whatever the guest queued while we were not looking. */
	kvh_poll_queue(&vq->poll);
	return 0;
}

/**
 * kvh_vq_stop - detach the backend and wait until the handler is idle
 * @vq: the vq; dev->mutex held, vq->mutex not held
 *
 * Return: the backend that was attached, or NULL.
 */
void *kvh_vq_stop(struct kvh_vq *vq)
{
	void *backend;

	kvh_vq_lock_ctl(vq);
	backend = vq->backend;
	vq->backend = NULL;
	kvh_poll_stop(&vq->poll);
	if (vq->backend_poll)
		kvh_poll_stop(vq->backend_poll);
	mutex_unlock(&vq->mutex);
	if (vq->worker)
		kvh_worker_flush(vq->worker);
	return backend;
}

/**
 * kvh_vq_fail - stop the vq after bad guest input and tell the VMM
 * @vq: the vq, mutex held
 * @why: the reason, already counted (by the ring format, or by
 *	kvh_vq_fail_reason())
 */
static void kvh_vq_fail(struct kvh_vq *vq, enum kvh_vring_err why)
{
	vq->broken = true;
	vq->errors_total++;
	if (vq->err)
		eventfd_signal(vq->err, 1);
	pr_warn_ratelimited("%s %u vq %u: bad guest input (%s), queue stopped\n",
			    vq->dev->ops->name, vq->dev->id, vq->index,
			    kvh_vring_err_names[why]);
}

/**
 * kvh_vq_fail_reason - stop the vq for bad guest input a device found
 * @vq: the vq, mutex held
 * @why: the reason, counted here as the engine counts its own
 * @err: the error to return
 *
 * Return: @err, so callers can "return kvh_vq_fail_reason(...)".
 */
int kvh_vq_fail_reason(struct kvh_vq *vq, enum kvh_vring_err why, int err)
{
	kvh_vring_fail(&vq->vr, why, err);
	kvh_vq_fail(vq, why);
	return err;
}

/**
 * kvh_vq_get_chain - the next chain, or -EAGAIN; failures stop the vq
 * @vq: the vq, mutex held
 * @c: the result
 */
int kvh_vq_get_chain(struct kvh_vq *vq, struct kvh_chain *c)
{
	return kvh_vq_get_chain_at(vq, c, 0);
}

/**
 * kvh_vq_get_chain_at - the next chain, its iovecs from vq->iov[@seg] on
 * @vq: the vq, mutex held
 * @c: the result
 * @seg: iovecs already used by earlier chains of the same request
 *
 * For devices that gather several chains into one request (net RX with
 * mergeable buffers).  The chain gets the room left after @seg.
 */
int kvh_vq_get_chain_at(struct kvh_vq *vq, struct kvh_chain *c,
			unsigned int seg)
{
	int r;

	if (seg >= KVH_IOV_MAX)
		return -ENOBUFS;
	vq->vr.iov_max = KVH_IOV_MAX - seg;
	c->iov = vq->iov + seg;
	c->log = vq->log + seg;
	/* The hot call: direct when it is the split format's. */
	r = INDIRECT_CALL_1(vq->ring->get_chain, kvh_vring_get_chain,
			    &vq->vr, c);
	vq->vr.iov_max = KVH_IOV_MAX;
	if (r && r != -EAGAIN)
		kvh_vq_fail(vq, vq->vr.last_err);
	return r;
}

/**
 * kvh_vq_flush_used - publish the gathered used entries, signal if wanted
 * @vq: the vq, mutex held
 */
void kvh_vq_flush_used(struct kvh_vq *vq)
{
	unsigned int n = vq->nused;

	if (!n)
		return;
	vq->nused = 0;
	if (vq->ring->add_used(&vq->vr, vq->used, n)) {
		kvh_vq_fail(vq, vq->vr.last_err);
		return;
	}
	if (vq->vr.log_used && vq->log_ctx)
		eventfd_signal(vq->log_ctx, 1);
	if (vq->call && vq->ring->should_signal(&vq->vr))
		eventfd_signal(vq->call, 1);
}

/**
 * kvh_vq_add_used_len - complete a chain, logging more than its used length
 * @vq: the vq, mutex held
 * @c: the chain
 * @len: the used length reported to the driver
 * @logged: bytes from the start of the writable part to mark dirty, for a
 *	device that wrote somewhere other than a prefix (kvhost-blk's status
 *	byte is the last writable byte)
 *
 * Return: 0, or a negative errno when the dirty log could not be written
 * (the vq is then stopped).
 */
int kvh_vq_add_used_len(struct kvh_vq *vq, struct kvh_chain *c, u32 len,
			u32 logged)
{
	int r;

	if (vq->vr.log && logged) {
		r = vq->ring->log_write(&vq->vr, c, logged);
		if (r) {
			kvh_vq_fail(vq, vq->vr.last_err);
			return r;
		}
		if (vq->log_ctx)
			eventfd_signal(vq->log_ctx, 1);
	}
	vq->used[vq->nused].id = c->head;
	vq->used[vq->nused].len = len;
	vq->nused++;
	if (vq->nused >= kvh_vq_used_batch(vq))
		kvh_vq_flush_used(vq);
	return 0;
}

/**
 * kvh_vq_add_used - complete a chain; published in batches
 * @vq: the vq, mutex held
 * @c: the chain
 * @written: bytes written into its writable part, from its start
 *
 * Return: 0, or a negative errno when the dirty log could not be written
 * (the vq is then stopped).
 */
int kvh_vq_add_used(struct kvh_vq *vq, struct kvh_chain *c, u32 written)
{
	return kvh_vq_add_used_len(vq, c, written, written);
}

void kvh_vq_disable_notify(struct kvh_vq *vq)
{
	if (vq->ring->disable_notify(&vq->vr))
		kvh_vq_fail(vq, vq->vr.last_err);
}

/**
 * kvh_vq_enable_notify - re-enable kicks
 * @vq: the vq, mutex held
 *
 * Return: true when work arrived meanwhile (disable again and go on).
 */
bool kvh_vq_enable_notify(struct kvh_vq *vq)
{
	int r;

	kvh_vq_flush_used(vq);
	r = vq->ring->enable_notify(&vq->vr);
	if (r < 0) {
		kvh_vq_fail(vq, vq->vr.last_err);
		return false;
	}
	return r > 0;
}

/**
 * kvh_vq_next_chain - the next chain of this run, or its end
 * @vq: the vq, mutex held, notifications disabled
 * @c: filled in
 *
 * When the ring is empty: publish what was gathered, busy-poll if the VMM
 * asked for it, then turn kicks back on, checking for a last-moment
 * entry.  At most KVH_EMPTY_RETRIES such checks find an entry that the
 * next fetch does not; then the work is requeued and the run ends.
 *
 * Return: 0 with @c walked; -EAGAIN when the ring stayed empty and kicks
 * are on again (end the run); another negative errno after a guest error
 * (the vq is stopped).
 */
int kvh_vq_next_chain(struct kvh_vq *vq, struct kvh_chain *c)
{
	unsigned int empty = 0;
	int r;

	for (;;) {
		r = kvh_vq_get_chain(vq, c);
		if (r != -EAGAIN)
			return r;
		kvh_vq_flush_used(vq);
		/*
		 * An honest driver never moves avail->idx back, so the
		 * entry that re-enabling (or polling) saw is there on the
		 * next fetch.  A guest flipping the index between two
		 * values could keep us here, the vq mutex held, for ever:
		 * after a few such false alarms, requeue the work behind
		 * everyone else's and end the run (CVE-2019-3900 class).
		 */
		if (++empty > KVH_EMPTY_RETRIES) {
			kvh_poll_queue(&vq->poll);
			return -EAGAIN;
		}
		if (kvh_vq_busy_poll(vq, kvh_vq_avail_pending))
			continue;
		if (!kvh_vq_enable_notify(vq))
			return -EAGAIN;
		kvh_vq_disable_notify(vq);
	}
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_vq_next_chain);

/**
 * kvh_vq_busy_poll - spin for up to the vq's busyloop timeout
 * @vq: the vq, mutex held
 * @ready: the condition to wait for
 *
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT semantics, as upstream: instead of
 * sleeping until the next notification, poll for up to the timeout (in
 * microseconds), giving up early when the scheduler or a signal wants the
 * CPU, or other work waits on the worker.  Unlike upstream it also gives
 * up for an ioctl waiting on the vq's mutex, so a long timeout delays
 * neither reconfiguration nor close.  Off (0) by default.
 *
 * Return: true when @ready became true.
 */
bool kvh_vq_busy_poll(struct kvh_vq *vq, bool (*ready)(struct kvh_vq *vq))
{
	u64 end;

	if (!vq->busyloop_timeout)
		return false;
	end = local_clock() + (u64)vq->busyloop_timeout * NSEC_PER_USEC;
	while (!need_resched() && !signal_pending(current) &&
	       !atomic_read(&vq->ctl_waiting) &&
	       !kvh_worker_has_work(vq->worker) && local_clock() < end) {
		if (ready(vq))
			return true;
		cpu_relax();
	}
	return ready(vq);
}

/* A busy-poll condition: the guest added entries. */
bool kvh_vq_avail_pending(struct kvh_vq *vq)
{
	return vq->ring->avail_pending(&vq->vr) != 0;
}

/**
 * kvh_vq_exceeds_weight - has this run had its share?
 * @vq: the vq, mutex held
 * @reqs: requests served in this run
 * @bytes: bytes moved in this run
 *
 * When it has, the vq's work is requeued behind everyone else's, so one
 * busy queue cannot starve other queues or other tasks (CVE-2019-3900).
 */
bool kvh_vq_exceeds_weight(struct kvh_vq *vq, unsigned int reqs, u64 bytes)
{
	if (reqs < READ_ONCE(kvh_weight_reqs) &&
	    bytes < READ_ONCE(kvh_weight_bytes))
		return false;
	kvh_poll_queue(&vq->poll);
	return true;
}
