// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-net header rules (virtio 1.2, 5.1.6): which header each side of
 * the device has for the features acked, and whether a guest's TX header
 * is one the backend may see.  Pure logic: the header is the device's own
 * copy, read once out of guest memory by net.c.
 */
#include <linux/types.h>
#include <linux/vhost_types.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>

#include <kvhost/net_hdr.h>

/**
 * kvh_net_hlens - header sizes for the features acked
 * @features: the acked feature bits
 * @vhost_hlen: set to the header kvhost adds (RX) and strips (TX), or 0
 * @sock_hlen: set to the header the backend socket has, or 0
 *
 * The header is 12 bytes (with num_buffers) under VIRTIO_NET_F_MRG_RXBUF
 * or VIRTIO_F_VERSION_1, else 10; VHOST_NET_F_VIRTIO_NET_HDR says kvhost
 * handles it, otherwise it passes through to the backend.
 */
void kvh_net_hlens(u64 features, size_t *vhost_hlen, size_t *sock_hlen)
{
	size_t hlen = features & ((1ULL << VIRTIO_NET_F_MRG_RXBUF) |
				  (1ULL << VIRTIO_F_VERSION_1)) ?
		      sizeof(struct virtio_net_hdr_mrg_rxbuf) :
		      sizeof(struct virtio_net_hdr);

	if (features & (1ULL << VHOST_NET_F_VIRTIO_NET_HDR)) {
		*vhost_hlen = hlen;
		*sock_hlen = 0;
	} else {
		*vhost_hlen = 0;
		*sock_hlen = hlen;
	}
}

/**
 * kvh_net_tx_hdr_ok - is a guest's TX header one the backend may see?
 * @little_endian: the header's byte order (VERSION_1, or a legacy guest's)
 * @h: kvhost's copy of the header
 * @len: the packet length after the header
 *
 * Return: true when only NEEDS_CSUM may be set, hdr_len and the checksum
 * field lie within the packet, and the GSO type is NONE (without ECN) or
 * TCPV4, TCPV6 or UDP with a gso_size and NEEDS_CSUM.
 */
bool kvh_net_tx_hdr_ok(bool little_endian, const struct virtio_net_hdr *h,
		       size_t len)
{
	u16 csum_start = __virtio16_to_cpu(little_endian, h->csum_start);
	u16 csum_offset = __virtio16_to_cpu(little_endian, h->csum_offset);
	u16 hdr_len = __virtio16_to_cpu(little_endian, h->hdr_len);
	u8 gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if (hdr_len > len)
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (u32)csum_start + csum_offset + sizeof(__sum16) > len)
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(h->gso_type & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
	case VIRTIO_NET_HDR_GSO_UDP:
		/* GSO needs an MSS and a checksum to finish per segment. */
		return h->gso_size && (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	default:
		return false;
	}
}
