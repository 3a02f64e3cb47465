// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-blk: virtio-blk over a block device or a regular file.
 */
#include <linux/kvhost.h>

#include <kvhost/kvhost.h>

const struct kvh_dev_ops kvh_blk_ops = {
	.name = KVHOST_BLK_NODE,
	.features = KVH_BLK_FEATURES,
};
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_blk_ops);
