// SPDX-License-Identifier: GPL-2.0
/*
 * Core device state and the ioctls every kvhost device shares.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include <kvhost/kvhost.h>

void kvh_dev_init(struct kvh_dev *dev, const struct kvh_dev_ops *ops)
{
	mutex_init(&dev->mutex);
	dev->ops = ops;
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_dev_init);

void kvh_dev_cleanup(struct kvh_dev *dev)
{
	mutex_destroy(&dev->mutex);
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_dev_cleanup);

/**
 * kvh_dev_ioctl - the core ioctls, after the device had its turn
 * @dev: the device
 * @cmd: the ioctl number
 * @argp: the user argument
 *
 * Return: the command's result, or -ENOTTY for a command no layer knows.
 * The argument is not touched for an unknown command.
 */
long kvh_dev_ioctl(struct kvh_dev *dev, unsigned int cmd, void __user *argp)
{
	u64 features;

	switch (cmd) {
	case VHOST_GET_FEATURES:
		features = dev->ops->features;
		if (copy_to_user(argp, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	default:
		return -ENOTTY;
	}
}
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_dev_ioctl);

static int kvh_open(struct inode *inode, struct file *f)
{
	struct miscdevice *misc = f->private_data;
	struct kvh_misc *km = container_of(misc, struct kvh_misc, misc);
	struct kvh_dev *dev;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT);
	if (!dev)
		return -ENOMEM;
	kvh_dev_init(dev, km->ops);
	f->private_data = dev;
	return 0;
}

static int kvh_release(struct inode *inode, struct file *f)
{
	struct kvh_dev *dev = f->private_data;

	kvh_dev_cleanup(dev);
	kfree(dev);
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
};
