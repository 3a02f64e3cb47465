/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvhost internal interfaces shared by the module's parts and its KUnit
 * suites.
 *
 * Locking, outermost first:
 *   kvh_dev.mutex   configuration of the device as a whole (owner, memory
 *                   table, features, log); held by every ioctl that changes
 *                   more than one vq
 *   kvh_vq.mutex    one vq's configuration and ring state; held by the
 *                   vq's work while it serves the ring, and by ioctls
 *                   touching that vq.  Taken inside kvh_dev.mutex.  No
 *                   path holds two vq mutexes at once, so no nesting
 *                   annotation is needed however many vqs a device has.
 *                   Ioctls take it with kvh_vq_lock_ctl(), so that a
 *                   handler busy-polling under it (busyloop_timeout) stops
 *                   early for them.
 * A worker never takes kvh_dev.mutex.
 */
#ifndef _KVHOST_KVHOST_H
#define _KVHOST_KVHOST_H

#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/kconfig.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_types.h>

#include <kvhost/mem.h>
#include <kvhost/ring.h>
#include <kvhost/vring.h>
#include <kvhost/worker.h>

/*
 * Symbols the KUnit module needs but nothing else should link against:
 * exported into a namespace only in kernels built with KUnit.
 */
#if IS_ENABLED(CONFIG_KUNIT)
#define EXPORT_SYMBOL_IF_KVH_KUNIT(sym) EXPORT_SYMBOL_NS_GPL(sym, KVHOST_KUNIT)
#else
#define EXPORT_SYMBOL_IF_KVH_KUNIT(sym)
#endif

/*
 * Feature bits the core (shared by every device) implements.  A device
 * advertises the core set plus its own; never a bit whose behaviour is not
 * implemented.
 */
#define KVH_CORE_FEATURES	((1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) | \
				 (1ULL << VIRTIO_F_ANY_LAYOUT) | \
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
				 (1ULL << VHOST_F_LOG_ALL) | \
				 (1ULL << VIRTIO_F_VERSION_1))
#define KVH_NET_FEATURES	(KVH_CORE_FEATURES | \
				 (1ULL << VHOST_NET_F_VIRTIO_NET_HDR) | \
				 (1ULL << VIRTIO_NET_F_MRG_RXBUF))
#define KVH_BLK_FEATURES	(KVH_CORE_FEATURES | \
				 (1ULL << VIRTIO_BLK_F_SEG_MAX) | \
				 (1ULL << VIRTIO_BLK_F_BLK_SIZE) | \
				 (1ULL << VIRTIO_BLK_F_TOPOLOGY) | \
				 (1ULL << VIRTIO_BLK_F_FLUSH) | \
				 (1ULL << VIRTIO_BLK_F_DISCARD) | \
				 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) | \
				 (1ULL << VIRTIO_BLK_F_MQ) | \
				 (1ULL << VIRTIO_BLK_F_RO))
#define KVH_TEST_FEATURES	(KVH_CORE_FEATURES)

/* Run budgets: after this much work a vq yields and requeues itself. */
#define KVH_WEIGHT_REQS		256
#define KVH_WEIGHT_BYTES	0x80000
/*
 * Times one run may find the ring empty after a re-enable or a poll saw an
 * entry (only a guest moving avail->idx back does that) before it yields.
 */
#define KVH_EMPTY_RETRIES	8

struct kvh_dev;
struct kvh_vq;

/**
 * struct kvh_dev_ops - what makes one kvhost device type different
 * @name: device node name, without /dev/
 * @features: the features VHOST_GET_FEATURES reports for this type
 * @alloc: allocate the device (embedding struct kvh_dev) and call
 *	kvh_dev_init() on it
 * @free: free what @alloc allocated, after kvh_dev_cleanup()
 * @stop: detach every backend (kvh_vq_stop() on each running vq); called
 *	with dev->mutex held before the core tears the vqs down.  May be
 *	NULL.
 * @ioctl: device-specific commands, tried before the core ones; a return
 *	of -ENOIOCTLCMD hands the command on to the core.  May be NULL.
 */
struct kvh_dev_ops {
	const char *name;
	u64 features;
	struct kvh_dev *(*alloc)(void);
	void (*free)(struct kvh_dev *dev);
	void (*stop)(struct kvh_dev *dev);
	long (*ioctl)(struct kvh_dev *dev, unsigned int cmd, void __user *argp);
};

/**
 * struct kvh_misc - a registered device node and its type
 * @misc: the misc device; misc_open() points file->private_data at it
 * @ops: the device type behind the node
 */
struct kvh_misc {
	struct miscdevice misc;
	const struct kvh_dev_ops *ops;
};

/**
 * struct kvh_vq - one virtqueue
 * @dev: the device
 * @index: position in the device's vq array
 * @mutex: see the locking rules at the top of this file
 * @ring: the ring format serving the vq (kvh_split_ring_ops)
 * @vr: the ring engine's state, reached through @ring; devices use the
 *	kvh_vq_*() helpers, never @ring or @vr
 * @handle: the device's handler, run by @poll.work on the worker
 * @backend: the device's backend; non-NULL means the vq is running
 * @broken: stopped after bad guest input, until reconfigured
 * @kick: kick eventfd file, or NULL
 * @call: call eventfd, or NULL
 * @err: error eventfd, or NULL
 * @log_ctx: the device's log eventfd (VHOST_SET_LOG_FD), or NULL
 * @poll: hooks @kick to @handle
 * @backend_poll: the device's poll on its backend, stopped with the vq;
 *	NULL if none
 * @worker: the worker @handle runs on
 * @features: features acked for this vq
 * @log_addr: guest-physical address of the used ring (VHOST_VRING_F_LOG)
 * @log_flag: VHOST_VRING_F_LOG was set
 * @busyloop_timeout: VHOST_SET_VRING_BUSYLOOP_TIMEOUT, in microseconds
 * @ctl_waiting: control-path tasks waiting for @mutex (kvh_vq_lock_ctl());
 *	a busy-polling handler gives the mutex up to them
 * @iov: room for one chain
 * @log: room for one chain's writable ranges
 * @used: completed chains not yet published, encoded by @ring->add_used
 * @nused: entries in @used
 * @errors_total: bad-input events, for fdinfo
 * @drops: requests the device refused or could not deliver without
 *	stopping the vq (e.g. a malformed net header)
 */
struct kvh_vq {
	struct kvh_dev *dev;
	unsigned int index;
	struct mutex mutex;	/* see the locking rules above */
	const struct kvh_ring_ops *ring;
	struct kvh_vring vr;
	void (*handle)(struct kvh_vq *vq);
	void *backend;
	bool broken;
	struct file *kick;
	struct eventfd_ctx *call;
	struct eventfd_ctx *err;
	struct eventfd_ctx *log_ctx;
	struct kvh_poll poll;
	struct kvh_poll *backend_poll;
	struct kvh_worker *worker;
	u64 features;
	u64 log_addr;
	bool log_flag;
	u32 busyloop_timeout;
	atomic_t ctl_waiting;
	struct iovec *iov;
	struct kvh_log_ent *log;
	struct kvh_used used[KVH_USED_BATCH];
	unsigned int nused;
	u64 errors_total;
	u64 drops;
};

/**
 * struct kvh_dev - state common to every open kvhost device
 * @mutex: see the locking rules at the top of this file
 * @ops: the device type
 * @mm: the owner's mm (a reference), or NULL before VHOST_SET_OWNER
 * @mem: the memory table in force (each vq points at it too)
 * @features: features acked by VHOST_SET_FEATURES
 * @backend_features: VHOST_SET_BACKEND_FEATURES
 * @log_ctx: VHOST_SET_LOG_FD, or NULL
 * @vqs: the virtqueues
 * @nvqs: how many
 * @nvqs_used: how many the vring ioctls may address (@nvqs unless the
 *	device type lowers it, as kvhost-blk's SET_NUM_QUEUES does); every
 *	vq is configured and torn down all the same
 * @workers: one per vq, or one for the device (module parameter)
 * @nworkers: how many
 * @id: unique id, shown in fdinfo and naming the debugfs directory
 * @debugfs: the debugfs directory
 */
struct kvh_dev {
	struct mutex mutex;	/* see the locking rules above */
	const struct kvh_dev_ops *ops;
	struct mm_struct *mm;
	struct kvh_mem *mem;
	u64 features;
	u64 backend_features;
	struct eventfd_ctx *log_ctx;
	struct kvh_vq *vqs;
	unsigned int nvqs;
	unsigned int nvqs_used;
	struct kvh_worker **workers;
	unsigned int nworkers;
	u32 id;
	struct dentry *debugfs;
};

/* Module parameters (main.c). */
extern unsigned short kvh_max_mem_regions;
extern bool kvh_worker_per_vq;
extern unsigned int kvh_weight_reqs;
extern unsigned int kvh_weight_bytes;
extern struct dentry *kvh_debugfs_root;

int kvh_dev_init(struct kvh_dev *dev, const struct kvh_dev_ops *ops,
		 struct kvh_vq *vqs, unsigned int nvqs,
		 void (*handle)(struct kvh_vq *vq));
void kvh_dev_cleanup(struct kvh_dev *dev);
struct kvh_dev *kvh_dev_alloc_plain(const struct kvh_dev_ops *ops,
				    unsigned int nvqs);
void kvh_dev_free_plain(struct kvh_dev *dev);
long kvh_dev_ioctl(struct kvh_dev *dev, unsigned int cmd, void __user *argp);
int kvh_dev_check_owner(struct kvh_dev *dev);

/**
 * kvh_vq_lock_ctl - take a vq's mutex for the control path
 * @vq: the vq
 *
 * As mutex_lock(), but a handler busy-polling the ring under the mutex
 * sees the waiter and returns it early (kvh_vq_busy_poll()).  A thread
 * of the owner that is being killed first makes the vq's worker give up a
 * fault it may be stuck on (kvh_worker_kill()): the owner's exit never
 * waits on its own guest memory.  Anyone else holding the fd (a forked
 * child may call VHOST_SET_FEATURES, as upstream) just waits: its death
 * must not make the owner's guest memory fail.  The caller holds
 * dev->mutex, so vq->worker and dev->mm are stable.
 */
static inline void kvh_vq_lock_ctl(struct kvh_vq *vq)
{
	atomic_inc(&vq->ctl_waiting);
	if (mutex_lock_killable(&vq->mutex)) {
		if (!kvh_dev_check_owner(vq->dev))
			kvh_worker_kill(vq->worker);
		mutex_lock(&vq->mutex);
	}
	atomic_dec(&vq->ctl_waiting);
}

/* Per-vq helpers for device handlers (vq.c). */
int kvh_vq_start(struct kvh_vq *vq, void *backend);
void *kvh_vq_stop(struct kvh_vq *vq);
int kvh_vq_get_chain(struct kvh_vq *vq, struct kvh_chain *c);
int kvh_vq_next_chain(struct kvh_vq *vq, struct kvh_chain *c);
int kvh_vq_get_chain_at(struct kvh_vq *vq, struct kvh_chain *c,
			unsigned int seg);
int kvh_vq_add_used(struct kvh_vq *vq, struct kvh_chain *c, u32 written);
int kvh_vq_add_used_len(struct kvh_vq *vq, struct kvh_chain *c, u32 len,
			u32 logged);
void kvh_vq_flush_used(struct kvh_vq *vq);
void kvh_vq_disable_notify(struct kvh_vq *vq);
bool kvh_vq_enable_notify(struct kvh_vq *vq);
bool kvh_vq_busy_poll(struct kvh_vq *vq, bool (*ready)(struct kvh_vq *vq));
bool kvh_vq_avail_pending(struct kvh_vq *vq);
bool kvh_vq_exceeds_weight(struct kvh_vq *vq, unsigned int reqs, u64 bytes);
int kvh_vq_fail_reason(struct kvh_vq *vq, enum kvh_vring_err why, int err);
void kvh_vq_init(struct kvh_vq *vq, struct kvh_dev *dev, unsigned int index,
		 void (*handle)(struct kvh_vq *vq));
void kvh_vq_reset(struct kvh_vq *vq);
bool kvh_vq_log_mem_ok(struct kvh_vq *vq, void __user *base,
		       const struct kvh_mem *mem, bool log_all);
bool kvh_vq_log_ok(struct kvh_vq *vq, void __user *base);
bool kvh_vq_access_ok(struct kvh_vq *vq);
bool kvh_vq_rings_access_ok(struct kvh_vq *vq);

/*
 * The ring, whatever its format, for device handlers and ioctls: they
 * never touch vq->ring or vq->vr themselves.  The configuration changes
 * under both dev->mutex and vq->mutex: reading it needs either; the rest
 * needs vq->mutex.
 */

/* The ring size (VHOST_SET_VRING_NUM), 0 until set. */
static inline unsigned int kvh_vq_num(const struct kvh_vq *vq)
{
	return vq->vr.num;
}

/* Are the ring's fields, and the device's headers, little-endian? */
static inline bool kvh_vq_little_endian(const struct kvh_vq *vq)
{
	return vq->vr.little_endian;
}

/* Both the size and the descriptor address are set: the vq may start. */
static inline bool kvh_vq_ring_set(const struct kvh_vq *vq)
{
	return vq->vr.num && vq->vr.desc;
}

/* The size or the descriptor address is set: the VMM began configuring. */
static inline bool kvh_vq_ring_touched(const struct kvh_vq *vq)
{
	return vq->vr.num || vq->vr.desc;
}

/* The dirty log base in force (VHOST_SET_LOG_BASE), for kvh_vq_log_ok(). */
static inline void __user *kvh_vq_log_base(const struct kvh_vq *vq)
{
	return vq->vr.log_base;
}

/* Give back the last @n chains fetched, unprocessed: they come again. */
static inline void kvh_vq_unget(struct kvh_vq *vq, unsigned int n)
{
	vq->ring->unget(&vq->vr, n);
}

/* Forget what was read from the guest: the ring was reconfigured. */
static inline void kvh_vq_resync(struct kvh_vq *vq)
{
	vq->ring->resync(&vq->vr);
}

/* Completions gathered before they are published: a batch, or the ring. */
static inline unsigned int kvh_vq_used_batch(const struct kvh_vq *vq)
{
	return min_t(unsigned int, ARRAY_SIZE(vq->used), kvh_vq_num(vq));
}

/*
 * Make room for @n completions that must share one used-index update
 * (the buffers of one mergeable RX packet): publish what was gathered
 * first if they would not fit in the batch.
 */
static inline void kvh_vq_reserve_used(struct kvh_vq *vq, unsigned int n)
{
	if (vq->nused + n > kvh_vq_used_batch(vq))
		kvh_vq_flush_used(vq);
}

/* Dirty log (log.c). */
bool kvh_log_access_ok(void __user *log_base, const struct kvh_mem *mem);
bool kvh_log_used_access_ok(void __user *log_base, u64 log_addr, u64 size);

/* debugfs and fdinfo (debugfs.c). */
void kvh_debugfs_dev_add(struct kvh_dev *dev);
void kvh_debugfs_dev_remove(struct kvh_dev *dev);
void kvh_show_fdinfo(struct seq_file *m, struct file *f);

extern const struct file_operations kvh_fops;
extern const struct kvh_dev_ops kvh_net_ops;
extern const struct kvh_dev_ops kvh_blk_ops;
extern const struct kvh_dev_ops kvh_test_ops;

#endif /* _KVHOST_KVHOST_H */
