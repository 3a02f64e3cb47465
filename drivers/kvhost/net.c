// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-net: virtio-net over tap, a drop-in for /dev/vhost-net.
 */
#include <linux/kvhost.h>

#include <kvhost/kvhost.h>

const struct kvh_dev_ops kvh_net_ops = {
	.name = KVHOST_NET_NODE,
	.features = KVH_NET_FEATURES,
};
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_net_ops);
