// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-test: a loopback device for testing the core without a backend
 * (module parameter test_dev).  Each vq copies the readable bytes of a
 * chain into its writable bytes and reports how many it wrote.
 */
#include <linux/kvhost.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include <kvhost/kvhost.h>

#define KVH_TEST_BOUNCE 4096

struct kvh_test {
	struct kvh_dev dev;
	struct kvh_vq vqs[KVHOST_TEST_NVQS];
	u8 bounce[KVHOST_TEST_NVQS][KVH_TEST_BOUNCE];
};

/* Copy the chain's readable part into its writable part. */
static u32 kvh_test_copy(struct kvh_test *t, struct kvh_vq *vq,
			 struct kvh_chain *c)
{
	u8 *buf = t->bounce[vq->index];
	struct iov_iter from, to;
	size_t n, done = 0;

	iov_iter_init(&from, WRITE, c->iov, c->out, c->out_len);
	iov_iter_init(&to, READ, c->iov + c->out, c->in, c->in_len);
	while (iov_iter_count(&from) && iov_iter_count(&to)) {
		n = min3(iov_iter_count(&from), iov_iter_count(&to),
			 (size_t)KVH_TEST_BOUNCE);
		if (copy_from_iter(buf, n, &from) != n ||
		    copy_to_iter(buf, n, &to) != n)
			break;
		done += n;
	}
	return done;
}

static void kvh_test_handle(struct kvh_vq *vq)
{
	struct kvh_test *t = container_of(vq->dev, struct kvh_test, dev);
	unsigned int reqs = 0;
	struct kvh_chain c;
	u64 bytes = 0;
	u32 written;
	int r;

	mutex_lock(&vq->mutex);
	if (!vq->backend || vq->broken)
		goto out;
	kvh_vq_disable_notify(vq);
	while (!vq->broken) {
		r = kvh_vq_next_chain(vq, &c);
		if (r)
			break;
		written = kvh_test_copy(t, vq, &c);
		if (kvh_vq_add_used(vq, &c, written))
			break;
		bytes += c.out_len + written;
		if (kvh_vq_exceeds_weight(vq, ++reqs, bytes))
			break;
	}
	kvh_vq_flush_used(vq);
out:
	mutex_unlock(&vq->mutex);
}

static long kvh_test_set_running(struct kvh_dev *dev,
				 struct vhost_vring_state __user *argp)
{
	struct vhost_vring_state s;
	struct kvh_vq *vq;
	long r;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	mutex_lock(&dev->mutex);
	r = kvh_dev_check_owner(dev);
	if (r)
		goto out;
	r = -ENOBUFS;
	if (s.index >= dev->nvqs)
		goto out;
	r = -EINVAL;
	if (s.num > 1)
		goto out;
	vq = &dev->vqs[array_index_nospec(s.index, dev->nvqs)];
	if (!s.num) {
		kvh_vq_stop(vq);
		r = 0;
		goto out;
	}
	kvh_vq_lock_ctl(vq);
	r = vq->backend ? 0 : kvh_vq_start(vq, dev);
	mutex_unlock(&vq->mutex);
out:
	mutex_unlock(&dev->mutex);
	return r;
}

static long kvh_test_ioctl(struct kvh_dev *dev, unsigned int cmd,
			   void __user *argp)
{
	if (cmd == KVHOST_TEST_SET_RUNNING)
		return kvh_test_set_running(dev, argp);
	return -ENOIOCTLCMD;
}

static void kvh_test_stop(struct kvh_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nvqs; i++)
		kvh_vq_stop(&dev->vqs[i]);
}

static struct kvh_dev *kvh_test_alloc(void)
{
	struct kvh_test *t = kvzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);

	if (!t)
		return NULL;
	kvh_dev_init(&t->dev, &kvh_test_ops, t->vqs, KVHOST_TEST_NVQS,
		     kvh_test_handle);
	return &t->dev;
}

static void kvh_test_free(struct kvh_dev *dev)
{
	kvfree(container_of(dev, struct kvh_test, dev));
}

const struct kvh_dev_ops kvh_test_ops = {
	.name = KVHOST_TEST_NODE,
	.features = KVH_TEST_FEATURES,
	.alloc = kvh_test_alloc,
	.free = kvh_test_free,
	.stop = kvh_test_stop,
	.ioctl = kvh_test_ioctl,
};
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_test_ops);
