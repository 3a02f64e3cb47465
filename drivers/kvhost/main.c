// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost: in-kernel virtio backends in the style of vhost.
 *
 * Module init and exit, and the misc device nodes.
 */
#include <linux/init.h>
#include <linux/kvhost.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <kvhost/kvhost.h>

#define KVH_VERSION "0.1.0"

static struct kvh_misc kvh_nodes[] = {
	{
		.misc = {
			.minor = MISC_DYNAMIC_MINOR,
			.name = KVHOST_NET_NODE,
			.fops = &kvh_fops,
			.mode = 0600,
		},
		.ops = &kvh_net_ops,
	},
	{
		.misc = {
			.minor = MISC_DYNAMIC_MINOR,
			.name = KVHOST_BLK_NODE,
			.fops = &kvh_fops,
			.mode = 0600,
		},
		.ops = &kvh_blk_ops,
	},
};

static int __init kvh_init(void)
{
	int i, r;

	for (i = 0; i < ARRAY_SIZE(kvh_nodes); i++) {
		r = misc_register(&kvh_nodes[i].misc);
		if (r) {
			pr_err("cannot register /dev/%s: %d\n",
			       kvh_nodes[i].misc.name, r);
			goto err_unregister;
		}
	}
	pr_info("kvhost " KVH_VERSION " loaded\n");
	return 0;

err_unregister:
	while (--i >= 0)
		misc_deregister(&kvh_nodes[i].misc);
	return r;
}

static void __exit kvh_exit(void)
{
	int i;

	for (i = ARRAY_SIZE(kvh_nodes) - 1; i >= 0; i--)
		misc_deregister(&kvh_nodes[i].misc);
}

module_init(kvh_init);
module_exit(kvh_exit);

MODULE_VERSION(KVH_VERSION);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("The kvhost authors");
MODULE_DESCRIPTION("In-kernel virtio-net and virtio-blk backends in the style of vhost");
