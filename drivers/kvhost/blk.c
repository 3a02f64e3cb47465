// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-blk: virtio-blk over a block device or a regular file.
 *
 * The control plane (the core vhost ioctls) is complete; the block
 * backend is not implemented yet, so no vq can start.
 */
#include <linux/kvhost.h>

#include <kvhost/kvhost.h>

static struct kvh_dev *kvh_blk_alloc(void)
{
	return kvh_dev_alloc_plain(&kvh_blk_ops, 1);
}

const struct kvh_dev_ops kvh_blk_ops = {
	.name = KVHOST_BLK_NODE,
	.features = KVH_BLK_FEATURES,
	.alloc = kvh_blk_alloc,
	.free = kvh_dev_free_plain,
};
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_blk_ops);
