// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device statistics: /sys/kernel/debug/kvhost/<id>/vq<N> and fdinfo.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include <kvhost/kvhost.h>

struct dentry *kvh_debugfs_root;

static int kvh_vq_stats_show(struct seq_file *m, void *unused)
{
	struct kvh_vq *vq = m->private;
	int i;

	/* Lockless snapshot: counters only grow, a torn read is harmless. */
	seq_printf(m, "running %d\n", !!READ_ONCE(vq->backend));
	seq_printf(m, "broken %d\n", READ_ONCE(vq->broken));
	seq_printf(m, "num %u\n", READ_ONCE(vq->vr.num));
	seq_printf(m, "last_avail_idx %u\n", READ_ONCE(vq->vr.last_avail_idx));
	seq_printf(m, "last_used_idx %u\n", READ_ONCE(vq->vr.last_used_idx));
	seq_printf(m, "avail_idx %u\n", READ_ONCE(vq->vr.avail_idx));
	seq_printf(m, "used_flags %#x\n", READ_ONCE(vq->vr.used_flags));
	/* Where a stalled queue waits: a kick, its backend, or queued work. */
	seq_printf(m, "kick_hooked %d\n", !!READ_ONCE(vq->poll.wqh));
	seq_printf(m, "kick_work_queued %d\n", kvh_work_pending(&vq->poll.work));
	if (vq->backend_poll) {
		seq_printf(m, "backend_hooked %d\n",
			   !!READ_ONCE(vq->backend_poll->wqh));
		seq_printf(m, "backend_work_queued %d\n",
			   kvh_work_pending(&vq->backend_poll->work));
	}
	seq_printf(m, "errors %llu\n", READ_ONCE(vq->errors_total));
	seq_printf(m, "drops %llu\n", READ_ONCE(vq->drops));
	for (i = 0; i < KVH_E_NR; i++)
		seq_printf(m, "err_%s %llu\n", kvh_vring_err_names[i],
			   READ_ONCE(vq->vr.errors[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kvh_vq_stats);

static int kvh_name_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "%s\n", (const char *)m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kvh_name);

void kvh_debugfs_dev_add(struct kvh_dev *dev)
{
	char name[16];
	unsigned int i;

	if (!kvh_debugfs_root)
		return;
	snprintf(name, sizeof(name), "%u", dev->id);
	dev->debugfs = debugfs_create_dir(name, kvh_debugfs_root);
	debugfs_create_file("type", 0444, dev->debugfs, (void *)dev->ops->name,
			    &kvh_name_fops);
	for (i = 0; i < dev->nvqs; i++) {
		snprintf(name, sizeof(name), "vq%u", i);
		debugfs_create_file(name, 0444, dev->debugfs, &dev->vqs[i],
				    &kvh_vq_stats_fops);
	}
}

void kvh_debugfs_dev_remove(struct kvh_dev *dev)
{
	debugfs_remove_recursive(dev->debugfs);
	dev->debugfs = NULL;
}

void kvh_show_fdinfo(struct seq_file *m, struct file *f)
{
	struct kvh_dev *dev = f->private_data;
	unsigned int i;

	seq_printf(m, "kvhost-id:\t%u\n", dev->id);
	for (i = 0; i < dev->nvqs; i++) {
		seq_printf(m, "vq%u-errors:\t%llu\n", i,
			   READ_ONCE(dev->vqs[i].errors_total));
		seq_printf(m, "vq%u-broken:\t%d\n", i,
			   READ_ONCE(dev->vqs[i].broken));
		seq_printf(m, "vq%u-drops:\t%llu\n", i,
			   READ_ONCE(dev->vqs[i].drops));
	}
}
