// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-net: virtio-net over tap, a drop-in for /dev/vhost-net.
 *
 * The control plane (the core vhost ioctls) is complete; the tap backend
 * (VHOST_NET_SET_BACKEND) is not implemented yet, so no vq can start.
 */
#include <linux/kvhost.h>

#include <kvhost/kvhost.h>

#define KVH_NET_VQ_MAX 2	/* RX, TX */

static struct kvh_dev *kvh_net_alloc(void)
{
	return kvh_dev_alloc_plain(&kvh_net_ops, KVH_NET_VQ_MAX);
}

const struct kvh_dev_ops kvh_net_ops = {
	.name = KVHOST_NET_NODE,
	.features = KVH_NET_FEATURES,
	.alloc = kvh_net_alloc,
	.free = kvh_dev_free_plain,
};
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_net_ops);
