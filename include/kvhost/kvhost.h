/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvhost internal interfaces shared by the module's parts and its KUnit
 * suites.
 */
#ifndef _KVHOST_KVHOST_H
#define _KVHOST_KVHOST_H

#include <linux/fs.h>
#include <linux/kconfig.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/types.h>

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
#define KVH_CORE_FEATURES	0ULL
#define KVH_NET_FEATURES	(KVH_CORE_FEATURES)
#define KVH_BLK_FEATURES	(KVH_CORE_FEATURES)

struct kvh_dev;

/**
 * struct kvh_dev_ops - what makes one kvhost device type different
 * @name: device node name, without /dev/
 * @features: the features VHOST_GET_FEATURES reports for this type
 * @ioctl: device-specific commands, tried before the core ones; a return
 *	of -ENOIOCTLCMD hands the command on to the core.  May be NULL.
 */
struct kvh_dev_ops {
	const char *name;
	u64 features;
	long (*ioctl)(struct kvh_dev *dev, unsigned int cmd, void __user *argp);
};

/**
 * struct kvh_dev - state common to every open kvhost device
 * @mutex: serialises configuration ioctls on this device
 * @ops: the device type
 */
struct kvh_dev {
	struct mutex mutex;	/* serialises configuration ioctls */
	const struct kvh_dev_ops *ops;
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

void kvh_dev_init(struct kvh_dev *dev, const struct kvh_dev_ops *ops);
void kvh_dev_cleanup(struct kvh_dev *dev);
long kvh_dev_ioctl(struct kvh_dev *dev, unsigned int cmd, void __user *argp);

extern const struct file_operations kvh_fops;
extern const struct kvh_dev_ops kvh_net_ops;
extern const struct kvh_dev_ops kvh_blk_ops;

#endif /* _KVHOST_KVHOST_H */
