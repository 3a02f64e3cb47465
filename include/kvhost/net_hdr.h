/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvhost-net's virtio-net header rules: pure logic over a header already
 * copied out of guest memory, so that the KUnit module and the userspace
 * fuzzer run it unmodified.
 */
#ifndef _KVHOST_NET_HDR_H
#define _KVHOST_NET_HDR_H

#include <linux/types.h>
#include <linux/virtio_net.h>

void kvh_net_hlens(u64 features, size_t *vhost_hlen, size_t *sock_hlen);
bool kvh_net_tx_hdr_ok(bool little_endian, const struct virtio_net_hdr *h,
		       size_t len);

#endif /* _KVHOST_NET_HDR_H */
