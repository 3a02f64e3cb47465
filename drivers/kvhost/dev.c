// SPDX-License-Identifier: GPL-2.0
/*
 * The device core: open and release, ownership, and the vhost ioctls every
 * kvhost device shares (same numbers, structures and errnos as upstream
 * vhost; see Documentation/abi.rst for the few deliberate differences).
 *
 * Dispatch, as upstream: the device's own ioctl first, then the
 * device-level commands here, then the per-vring ones.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include <kvhost/kvhost.h>

static atomic_t kvh_next_id = ATOMIC_INIT(0);

/**
 * kvh_dev_init - initialise the core part of a device
 * @dev: the device, zeroed
 * @ops: its type
 * @vqs: its virtqueues
 * @nvqs: how many
 * @handle: the handler every vq runs on a kick
 *
 * Return: 0.
 */
int kvh_dev_init(struct kvh_dev *dev, const struct kvh_dev_ops *ops,
		 struct kvh_vq *vqs, unsigned int nvqs,
		 void (*handle)(struct kvh_vq *vq))
{
	unsigned int i;

	mutex_init(&dev->mutex);
	dev->ops = ops;
	dev->vqs = vqs;
	dev->nvqs = nvqs;
	dev->nvqs_used = nvqs;
	dev->id = atomic_inc_return(&kvh_next_id);
	for (i = 0; i < nvqs; i++)
		kvh_vq_init(&vqs[i], dev, i, handle);
	return 0;
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_dev_init);

int kvh_dev_check_owner(struct kvh_dev *dev)
{
	return dev->mm && dev->mm == current->mm ? 0 : -EPERM;
}

/* Stop every worker and forget the owner.  dev->mutex held. */
static void kvh_dev_drop_owner(struct kvh_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nvqs; i++)
		kvh_vq_stop(&dev->vqs[i]);
	for (i = 0; i < dev->nworkers; i++)
		kvh_worker_destroy(dev->workers[i]);
	kfree(dev->workers);
	dev->workers = NULL;
	dev->nworkers = 0;
	for (i = 0; i < dev->nvqs; i++) {
		dev->vqs[i].worker = NULL;
		dev->vqs[i].poll.worker = NULL;
		kvfree(dev->vqs[i].iov);
		kvfree(dev->vqs[i].log);
		dev->vqs[i].iov = NULL;
		dev->vqs[i].log = NULL;
	}
	if (dev->mm)
		mmput(dev->mm);
	dev->mm = NULL;
}

/*
 * Everything back to the state of a fresh open.  dev->mutex held.  The
 * workers first give up any fault they wait on (kvh_worker_kill()), so
 * that a guest page nobody will ever supply cannot block close() or
 * RESET_OWNER.
 */
static void kvh_dev_reset(struct kvh_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nworkers; i++)
		kvh_worker_kill(dev->workers[i]);
	if (dev->ops->stop)
		dev->ops->stop(dev);
	kvh_dev_drop_owner(dev);
	for (i = 0; i < dev->nvqs; i++)
		kvh_vq_reset(&dev->vqs[i]);
	kvfree(dev->mem);
	dev->mem = NULL;
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;
	dev->features = 0;
	dev->backend_features = 0;
}

void kvh_dev_cleanup(struct kvh_dev *dev)
{
	mutex_lock(&dev->mutex);
	kvh_dev_reset(dev);
	mutex_unlock(&dev->mutex);
	mutex_destroy(&dev->mutex);
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_dev_cleanup);

static long kvh_set_owner(struct kvh_dev *dev)
{
	struct mm_struct *mm;
	unsigned int i, n;
	char name[TASK_COMM_LEN];
	bool per_vq;
	long r;

	if (dev->mm)
		return -EBUSY;
	mm = get_task_mm(current);
	if (!mm)
		return -EINVAL;
	/* Read once: the parameter may change under a running module. */
	per_vq = READ_ONCE(kvh_worker_per_vq);
	n = per_vq ? dev->nvqs : 1;
	dev->workers = kcalloc(n, sizeof(*dev->workers), GFP_KERNEL_ACCOUNT);
	if (!dev->workers) {
		r = -ENOMEM;
		goto err_mm;
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "kvh-%d-%u", current->tgid, i);
		dev->workers[i] = kvh_worker_create(mm, name);
		if (IS_ERR(dev->workers[i])) {
			r = PTR_ERR(dev->workers[i]);
			goto err_workers;
		}
		dev->nworkers++;
	}
	for (i = 0; i < dev->nvqs; i++) {
		struct kvh_vq *vq = &dev->vqs[i];

		vq->iov = kvmalloc_array(KVH_IOV_MAX, sizeof(*vq->iov),
					 GFP_KERNEL_ACCOUNT);
		vq->log = kvmalloc_array(KVH_IOV_MAX, sizeof(*vq->log),
					 GFP_KERNEL_ACCOUNT);
		if (!vq->iov || !vq->log) {
			r = -ENOMEM;
			goto err_workers;
		}
		vq->worker = dev->workers[per_vq ? i : 0];
		vq->poll.worker = vq->worker;
	}
	dev->mm = mm;
	return 0;

err_workers:
	dev->mm = mm;
	kvh_dev_drop_owner(dev);
	return r;
err_mm:
	mmput(mm);
	return r;
}

/*
 * As upstream, the device keeps an empty memory table, not none: a VMM
 * may set a backend again without a new SET_MEM_TABLE (nothing it maps
 * is reachable until it sends one).
 */
static long kvh_reset_owner(struct kvh_dev *dev)
{
	struct kvh_mem *empty;
	unsigned int i;
	long r;

	r = kvh_dev_check_owner(dev);
	if (r)
		return r;
	empty = kvzalloc(sizeof(*empty), GFP_KERNEL_ACCOUNT);
	if (!empty)
		return -ENOMEM;
	kvh_dev_reset(dev);
	for (i = 0; i < dev->nvqs; i++)
		dev->vqs[i].vr.mem = empty;
	dev->mem = empty;
	return 0;
}

/*
 * Apply the acked features to one vq.  vq->mutex held.  The ring format
 * is the split one, set at reset (kvh_vq_reset()); a packed format would
 * be chosen here, from VIRTIO_F_RING_PACKED.
 */
static void kvh_vq_set_features(struct kvh_vq *vq, u64 features)
{
	struct kvh_vring *vr = &vq->vr;

	vq->features = features;
	vr->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vr->notify_on_empty = features & (1ULL << VIRTIO_F_NOTIFY_ON_EMPTY);
	vr->little_endian = (features & (1ULL << VIRTIO_F_VERSION_1)) ||
			    virtio_legacy_is_little_endian();
	vr->log = features & (1ULL << VHOST_F_LOG_ALL);
}

/*
 * As upstream's memory_access_ok(): the log of every running vq that logs
 * (or would, with @log_all) covers @mem, or the vq's own table when @mem
 * is NULL.  An idle vq is checked when it starts.  dev->mutex held.
 */
static bool kvh_dev_log_covers(struct kvh_dev *dev, const struct kvh_mem *mem,
			       bool log_all)
{
	unsigned int i;
	bool ok = true;

	for (i = 0; i < dev->nvqs && ok; i++) {
		struct kvh_vq *vq = &dev->vqs[i];

		kvh_vq_lock_ctl(vq);
		if (vq->backend)
			ok = kvh_vq_log_mem_ok(vq, vq->vr.log_base,
					       mem ?: vq->vr.mem, log_all);
		mutex_unlock(&vq->mutex);
	}
	return ok;
}

static long kvh_set_features(struct kvh_dev *dev, u64 __user *argp)
{
	unsigned int i;
	u64 features;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~dev->ops->features)
		return -EOPNOTSUPP;
	mutex_lock(&dev->mutex);
	if ((features & (1ULL << VHOST_F_LOG_ALL)) &&
	    !kvh_dev_log_covers(dev, NULL, true)) {
		mutex_unlock(&dev->mutex);
		return -EFAULT;
	}
	dev->features = features;
	for (i = 0; i < dev->nvqs; i++) {
		kvh_vq_lock_ctl(&dev->vqs[i]);
		kvh_vq_set_features(&dev->vqs[i], features);
		mutex_unlock(&dev->vqs[i].mutex);
	}
	mutex_unlock(&dev->mutex);
	return 0;
}

static struct kvh_mem *kvh_mem_from_user(struct vhost_memory __user *argp,
					 long *err)
{
	struct vhost_memory_region *raw;
	struct vhost_memory hdr;
	struct kvh_mem *mem;
	u32 i;

	*err = -EFAULT;
	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return NULL;
	*err = -EOPNOTSUPP;
	if (hdr.padding)
		return NULL;
	*err = -E2BIG;
	if (hdr.nregions > kvh_max_mem_regions)
		return NULL;
	*err = -ENOMEM;
	mem = kvzalloc(struct_size(mem, regions, hdr.nregions),
		       GFP_KERNEL_ACCOUNT);
	if (!mem)
		return NULL;
	raw = vmemdup_user(argp->regions, array_size(hdr.nregions,
						     sizeof(*raw)));
	if (IS_ERR(raw)) {
		*err = PTR_ERR(raw);
		goto err_mem;
	}
	mem->nregions = hdr.nregions;
	*err = -EOPNOTSUPP;
	for (i = 0; i < hdr.nregions; i++) {
		if (raw[i].flags_padding)
			goto err_raw;
		mem->regions[i].gpa = raw[i].guest_phys_addr;
		mem->regions[i].size = raw[i].memory_size;
		mem->regions[i].uaddr = raw[i].userspace_addr;
	}
	kvfree(raw);
	*err = kvh_mem_finalize(mem);
	if (*err)
		goto err_mem;
	*err = -EFAULT;
	for (i = 0; i < mem->nregions; i++) {
		if ((u64)(unsigned long)mem->regions[i].uaddr !=
		    mem->regions[i].uaddr ||
		    !access_ok((void __user *)(unsigned long)mem->regions[i].uaddr,
			       mem->regions[i].size))
			goto err_mem;
	}
	*err = 0;
	return mem;

err_raw:
	kvfree(raw);
err_mem:
	kvfree(mem);
	return NULL;
}

/* dev->mutex held. */
static long kvh_set_mem_table(struct kvh_dev *dev,
			      struct vhost_memory __user *argp)
{
	struct kvh_mem *mem, *old;
	unsigned int i;
	long r;

	mem = kvh_mem_from_user(argp, &r);
	if (!mem)
		return r;
	if (!kvh_dev_log_covers(dev, mem, false)) {
		kvfree(mem);
		return -EFAULT;
	}
	/* No handler runs while its vq's mutex is held: swap under it. */
	for (i = 0; i < dev->nvqs; i++) {
		kvh_vq_lock_ctl(&dev->vqs[i]);
		dev->vqs[i].vr.mem = mem;
		dev->vqs[i].vr.mem_hint = 0;
		mutex_unlock(&dev->vqs[i].mutex);
	}
	old = dev->mem;
	dev->mem = mem;
	kvfree(old);
	return 0;
}

/* dev->mutex held. */
static long kvh_set_log_base(struct kvh_dev *dev, u64 __user *argp)
{
	void __user *base;
	unsigned int i;
	long r = 0;
	u64 p;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if ((u64)(unsigned long)p != p)
		return -EFAULT;
	base = (void __user *)(unsigned long)p;
	for (i = 0; i < dev->nvqs; i++) {
		struct kvh_vq *vq = &dev->vqs[i];

		kvh_vq_lock_ctl(vq);
		/* An inactive ring is checked when it starts, as upstream. */
		if (vq->backend && !kvh_vq_log_ok(vq, base))
			r = -EFAULT;
		else
			vq->vr.log_base = base;
		mutex_unlock(&vq->mutex);
	}
	return r;
}

/* dev->mutex held. */
static long kvh_set_log_fd(struct kvh_dev *dev, int __user *argp)
{
	struct eventfd_ctx *ctx, *old;
	unsigned int i;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	ctx = fd == VHOST_FILE_UNBIND ? NULL : eventfd_ctx_fdget(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	old = dev->log_ctx;
	dev->log_ctx = ctx;
	for (i = 0; i < dev->nvqs; i++) {
		kvh_vq_lock_ctl(&dev->vqs[i]);
		dev->vqs[i].log_ctx = ctx;
		mutex_unlock(&dev->vqs[i].mutex);
	}
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

/* Replace an eventfd context slot; fd -1 empties it. */
static long kvh_swap_eventfd(struct eventfd_ctx **slot, int fd)
{
	struct eventfd_ctx *ctx;

	ctx = fd == VHOST_FILE_UNBIND ? NULL : eventfd_ctx_fdget(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = ctx;
	return 0;
}

/* vq->mutex held. */
static long kvh_set_vring_kick(struct kvh_vq *vq, int fd)
{
	struct file *file;
	long r = 0;

	file = fd == VHOST_FILE_UNBIND ? NULL : eventfd_fget(fd);
	if (IS_ERR(file))
		return PTR_ERR(file);
	if (file == vq->kick) {
		if (file)
			fput(file);
		return 0;
	}
	kvh_poll_stop(&vq->poll);
	if (vq->kick)
		fput(vq->kick);
	vq->kick = file;
	if (file && vq->backend)
		r = kvh_poll_start(&vq->poll, file);
	return r;
}

/* vq->mutex held. */
static long kvh_set_vring_addr(struct kvh_vq *vq,
			       struct vhost_vring_addr __user *argp)
{
	struct kvh_vring *vr = &vq->vr, saved;
	struct vhost_vring_addr a;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~(1U << VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	if ((u64)(unsigned long)a.desc_user_addr != a.desc_user_addr ||
	    (u64)(unsigned long)a.used_user_addr != a.used_user_addr ||
	    (u64)(unsigned long)a.avail_user_addr != a.avail_user_addr)
		return -EFAULT;
	if ((a.avail_user_addr & (VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    (a.used_user_addr & (VRING_USED_ALIGN_SIZE - 1)) ||
	    (a.log_guest_addr & (VRING_USED_ALIGN_SIZE - 1)))
		return -EINVAL;
	saved = *vr;
	vr->desc = (void __user *)(unsigned long)a.desc_user_addr;
	vr->avail = (void __user *)(unsigned long)a.avail_user_addr;
	vr->used = (void __user *)(unsigned long)a.used_user_addr;
	vr->log_used = a.flags & (1U << VHOST_VRING_F_LOG);
	vr->log_used_gpa = a.log_guest_addr;
	/* A running ring must stay valid; an idle one is checked on start. */
	if (vq->backend && !kvh_vq_access_ok(vq)) {
		*vr = saved;
		return -EINVAL;
	}
	vq->log_flag = vr->log_used;
	vq->log_addr = a.log_guest_addr;
	kvh_vq_resync(vq);
	vq->broken = false;
	return 0;
}

/*
 * SET_VRING_NUM and SET_VRING_BASE: the vq must not run (EBUSY, checked
 * first, as upstream), then the argument is copied in.  vq->mutex held.
 */
static long kvh_vring_state_idle(struct kvh_vq *vq, void __user *argp,
				 struct vhost_vring_state *s)
{
	if (vq->backend)
		return -EBUSY;
	if (copy_from_user(s, argp, sizeof(*s)))
		return -EFAULT;
	return 0;
}

static long kvh_vring_ioctl(struct kvh_dev *dev, unsigned int cmd,
			    void __user *argp)
{
	struct vhost_vring_state s;
	struct vhost_vring_file f;
	struct kvh_vq *vq;
	u32 idx;
	long r;

	if (get_user(idx, (u32 __user *)argp))
		return -EFAULT;
	if (idx >= dev->nvqs_used)
		return -ENOBUFS;
	idx = array_index_nospec(idx, dev->nvqs_used);
	vq = &dev->vqs[idx];

	kvh_vq_lock_ctl(vq);
	switch (cmd) {
	case VHOST_SET_VRING_NUM:
		r = kvh_vring_state_idle(vq, argp, &s);
		if (r)
			break;
		r = -EINVAL;
		if (!s.num || s.num > 0xffff || (s.num & (s.num - 1)))
			break;
		vq->vr.num = s.num;
		kvh_vq_resync(vq);
		vq->broken = false;
		r = 0;
		break;
	case VHOST_SET_VRING_ADDR:
		r = kvh_set_vring_addr(vq, argp);
		break;
	case VHOST_SET_VRING_BASE:
		r = kvh_vring_state_idle(vq, argp, &s);
		if (r)
			break;
		r = -EINVAL;
		if (s.num > 0xffff)
			break;
		vq->vr.last_avail_idx = s.num;
		vq->vr.avail_idx = s.num;
		vq->broken = false;
		r = 0;
		break;
	case VHOST_GET_VRING_BASE:
		s.index = idx;
		s.num = vq->vr.last_avail_idx;
		r = copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		r = -EFAULT;
		if (copy_from_user(&f, argp, sizeof(f)))
			break;
		if (cmd == VHOST_SET_VRING_KICK)
			r = kvh_set_vring_kick(vq, f.fd);
		else
			r = kvh_swap_eventfd(cmd == VHOST_SET_VRING_CALL ?
					     &vq->call : &vq->err, f.fd);
		break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		r = -EFAULT;
		if (copy_from_user(&s, argp, sizeof(s)))
			break;
		vq->busyloop_timeout = s.num;
		r = 0;
		break;
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		s.index = idx;
		s.num = vq->busyloop_timeout;
		r = copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
		break;
	default:
		r = -ENOTTY;
		break;
	}
	mutex_unlock(&vq->mutex);
	return r;
}

/**
 * kvh_dev_ioctl - the core ioctls, after the device had its turn
 * @dev: the device
 * @cmd: the ioctl number
 * @argp: the user argument
 *
 * Return: the command's result.  As upstream vhost: everything but the
 * feature queries and SET_OWNER needs the caller to be the owner (-EPERM);
 * an unknown command then reads a vring index from @argp (-EFAULT,
 * -ENOBUFS) before it is refused with -ENOTTY.
 */
long kvh_dev_ioctl(struct kvh_dev *dev, unsigned int cmd, void __user *argp)
{
	u64 features;
	long r;

	switch (cmd) {
	case VHOST_GET_FEATURES:
		features = dev->ops->features;
		return copy_to_user(argp, &features, sizeof(features)) ?
		       -EFAULT : 0;
	case VHOST_SET_FEATURES:
		return kvh_set_features(dev, argp);
	case VHOST_GET_BACKEND_FEATURES:
		features = 0;
		return copy_to_user(argp, &features, sizeof(features)) ?
		       -EFAULT : 0;
	case VHOST_SET_BACKEND_FEATURES:
		if (copy_from_user(&features, argp, sizeof(features)))
			return -EFAULT;
		return features ? -EOPNOTSUPP : 0;
	}

	mutex_lock(&dev->mutex);
	switch (cmd) {
	case VHOST_SET_OWNER:
		r = kvh_set_owner(dev);
		goto out;
	case VHOST_RESET_OWNER:
		r = kvh_reset_owner(dev);
		goto out;
	}
	r = kvh_dev_check_owner(dev);
	if (r)
		goto out;
	switch (cmd) {
	case VHOST_SET_MEM_TABLE:
		r = kvh_set_mem_table(dev, argp);
		break;
	case VHOST_SET_LOG_BASE:
		r = kvh_set_log_base(dev, argp);
		break;
	case VHOST_SET_LOG_FD:
		r = kvh_set_log_fd(dev, argp);
		break;
	default:
		r = kvh_vring_ioctl(dev, cmd, argp);
		break;
	}
out:
	mutex_unlock(&dev->mutex);
	return r;
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_dev_ioctl);

static int kvh_open(struct inode *inode, struct file *f)
{
	struct miscdevice *misc = f->private_data;
	struct kvh_misc *km = container_of(misc, struct kvh_misc, misc);
	struct kvh_dev *dev;

	dev = km->ops->alloc();
	if (!dev)
		return -ENOMEM;
	kvh_debugfs_dev_add(dev);
	f->private_data = dev;
	return 0;
}

static int kvh_release(struct inode *inode, struct file *f)
{
	struct kvh_dev *dev = f->private_data;

	kvh_debugfs_dev_remove(dev);
	kvh_dev_cleanup(dev);
	dev->ops->free(dev);
	return 0;
}

static long kvh_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct kvh_dev *dev = f->private_data;
	void __user *argp = (void __user *)arg;
	long r = -ENOIOCTLCMD;

	if (dev->ops->ioctl)
		r = dev->ops->ioctl(dev, cmd, argp);
	if (r == -ENOIOCTLCMD)
		r = kvh_dev_ioctl(dev, cmd, argp);
	return r;
}

const struct file_operations kvh_fops = {
	.owner = THIS_MODULE,
	.open = kvh_open,
	.release = kvh_release,
	.unlocked_ioctl = kvh_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
	.show_fdinfo = kvh_show_fdinfo,
};

struct kvh_plain {
	struct kvh_dev dev;
	struct kvh_vq vqs[];
};

/**
 * kvh_dev_alloc_plain - a device with @nvqs vqs and no data path yet
 * @ops: the device type
 * @nvqs: how many vqs
 *
 * For device types whose backend is not implemented: the whole control
 * plane works, and no vq can be started.
 */
struct kvh_dev *kvh_dev_alloc_plain(const struct kvh_dev_ops *ops,
				    unsigned int nvqs)
{
	struct kvh_plain *p;

	p = kvzalloc(struct_size(p, vqs, nvqs), GFP_KERNEL_ACCOUNT);
	if (!p)
		return NULL;
	kvh_dev_init(&p->dev, ops, p->vqs, nvqs, NULL);
	return &p->dev;
}

void kvh_dev_free_plain(struct kvh_dev *dev)
{
	kvfree(container_of(dev, struct kvh_plain, dev));
}
