// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost: in-kernel virtio backends in the style of vhost.
 *
 * Module init and exit, and the misc device nodes.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/kvhost.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <kvhost/kvhost.h>

#define KVH_VERSION "0.2.0"

unsigned short kvh_max_mem_regions = 64;
module_param_named(max_mem_regions, kvh_max_mem_regions, ushort, 0444);
MODULE_PARM_DESC(max_mem_regions,
		 "Most regions in a guest memory table (default 64, as vhost)");

bool kvh_worker_per_vq = true;
module_param_named(worker_per_vq, kvh_worker_per_vq, bool, 0644);
MODULE_PARM_DESC(worker_per_vq,
		 "One worker thread per virtqueue (default), else one per device; read at SET_OWNER");

/*
 * The per-run budgets are bounded: set out of reach, a guest that keeps
 * a vring fed would hold its worker's CPU until the soft-lockup detector
 * fires.
 */
#define KVH_WEIGHT_REQS_MAX	4096
#define KVH_WEIGHT_BYTES_MAX	(16 << 20)

static int kvh_param_set_weight_reqs(const char *val,
				     const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, KVH_WEIGHT_REQS_MAX);
}

static int kvh_param_set_weight_bytes(const char *val,
				      const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, KVH_WEIGHT_BYTES_MAX);
}

static const struct kernel_param_ops kvh_weight_reqs_ops = {
	.set = kvh_param_set_weight_reqs,
	.get = param_get_uint,
};

static const struct kernel_param_ops kvh_weight_bytes_ops = {
	.set = kvh_param_set_weight_bytes,
	.get = param_get_uint,
};

unsigned int kvh_weight_reqs = KVH_WEIGHT_REQS;
module_param_cb(weight_reqs, &kvh_weight_reqs_ops, &kvh_weight_reqs, 0644);
MODULE_PARM_DESC(weight_reqs,
		 "Requests a virtqueue serves per run before yielding (default 256, 1 to 4096)");

unsigned int kvh_weight_bytes = KVH_WEIGHT_BYTES;
module_param_cb(weight_bytes, &kvh_weight_bytes_ops, &kvh_weight_bytes, 0644);
MODULE_PARM_DESC(weight_bytes,
		 "Bytes a virtqueue moves per run before yielding (default 512 KiB, at most 16 MiB)");

static bool kvh_test_dev;
module_param_named(test_dev, kvh_test_dev, bool, 0444);
MODULE_PARM_DESC(test_dev,
		 "Register /dev/kvhost-test, a loopback device for testing");

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
	{
		.misc = {
			.minor = MISC_DYNAMIC_MINOR,
			.name = KVHOST_TEST_NODE,
			.fops = &kvh_fops,
			.mode = 0600,
		},
		.ops = &kvh_test_ops,
	},
};

static bool kvh_node_wanted(const struct kvh_misc *km)
{
	return km->ops != &kvh_test_ops || kvh_test_dev;
}

static int __init kvh_init(void)
{
	int i, r;

	kvh_debugfs_root = debugfs_create_dir("kvhost", NULL);
	if (IS_ERR(kvh_debugfs_root))
		kvh_debugfs_root = NULL;
	for (i = 0; i < ARRAY_SIZE(kvh_nodes); i++) {
		if (!kvh_node_wanted(&kvh_nodes[i]))
			continue;
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
		if (kvh_node_wanted(&kvh_nodes[i]))
			misc_deregister(&kvh_nodes[i].misc);
	debugfs_remove_recursive(kvh_debugfs_root);
	return r;
}

static void __exit kvh_exit(void)
{
	int i;

	for (i = ARRAY_SIZE(kvh_nodes) - 1; i >= 0; i--)
		if (kvh_node_wanted(&kvh_nodes[i]))
			misc_deregister(&kvh_nodes[i].misc);
	debugfs_remove_recursive(kvh_debugfs_root);
}

module_init(kvh_init);
module_exit(kvh_exit);

MODULE_VERSION(KVH_VERSION);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("The kvhost authors");
MODULE_DESCRIPTION("In-kernel virtio-net and virtio-blk backends in the style of vhost");
