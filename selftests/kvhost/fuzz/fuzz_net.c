// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: kvhost-net's header rules (kvh_net_hlens() and
 * kvh_net_tx_hdr_ok() in drivers/kvhost/net_hdr.c), built unmodified
 * against the shim headers.
 *
 * The input is a feature set, a byte order, a guest's ten-byte TX header
 * and the packet length after it.  Both verdicts are checked against a
 * reference written here from virtio 1.2, 5.1.6 with the numbers spelled
 * out (feature bits 15, 27 and 32; GSO types 1, 3, 4 and ECN 0x80; fields
 * read byte by byte in the ring's byte order), and two properties that
 * need no reference must hold:
 *   - the same header written in the other byte order, read in that
 *     order, gets the same verdict;
 *   - every rule is a lower bound on the length: a header accepted for
 *     len is accepted for len + 1 and for SIZE_MAX.
 * The parser sees the header in a heap block of exactly its size (the
 * address sanitizer catches a read past it) and must not change it.  Any
 * difference aborts.
 *
 * Input layout (little-endian, missing bytes read as 0):
 *   0   u8  mode: FN_M_BIG_ENDIAN; the length's size is 1 << ((v >> 1) & 3)
 *   1   u64 the acked features
 *   9   the header: flags, gso_type, then hdr_len, gso_size, csum_start,
 *       csum_offset as 16-bit fields in the mode's byte order
 *   19  the packet length after the header, 1, 2, 4 or 8 bytes
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvhost/net_hdr.h>

#include "fuzz_common.h"

#define FN_HDR_LEN	10	/* struct virtio_net_hdr */
#define FN_MRG_HDR_LEN	12	/* struct virtio_net_hdr_mrg_rxbuf */

#define FN_M_BIG_ENDIAN	0x01

/* Bits 15, 27, 32: MRG_RXBUF, VHOST_NET_F_VIRTIO_NET_HDR, VERSION_1. */
#define FN_F_MRG_RXBUF	0x8000ULL
#define FN_F_VNET_HDR	0x8000000ULL
#define FN_F_VERSION_1	0x100000000ULL

/* The header's flags and GSO types. */
#define FN_NEEDS_CSUM	0x01
#define FN_GSO_NONE	0x00
#define FN_GSO_TCPV4	0x01
#define FN_GSO_UDP	0x03
#define FN_GSO_TCPV6	0x04
#define FN_GSO_ECN	0x80

/**
 * struct fn_case - one call of each function under test
 * @features: the acked features
 * @le: the header is little-endian
 * @len: packet bytes after the header
 * @hdr: the header's bytes, as the guest wrote them
 */
struct fn_case {
	u64 features;
	bool le;
	size_t len;
	u8 hdr[FN_HDR_LEN];
};

static void fn_build(struct fuzz_in *in, struct fn_case *fc)
{
	u8 mode = fuzz_u8(in);
	unsigned int i;

	fc->le = !(mode & FN_M_BIG_ENDIAN);
	fc->features = fuzz_u64(in);
	for (i = 0; i < FN_HDR_LEN; i++)
		fc->hdr[i] = fuzz_u8(in);
	switch ((mode >> 1) & 3) {
	case 0:
		fc->len = fuzz_u8(in);
		break;
	case 1:
		fc->len = fuzz_u16(in);
		break;
	case 2:
		fc->len = fuzz_u32(in);
		break;
	default:
		fc->len = fuzz_u64(in);
		break;
	}
}

/* --- the reference ----------------------------------------------------- */

static void ref_hlens(u64 features, size_t *vhost_hlen, size_t *sock_hlen)
{
	size_t hlen = FN_HDR_LEN;

	if ((features & FN_F_MRG_RXBUF) || (features & FN_F_VERSION_1))
		hlen = FN_MRG_HDR_LEN;
	*vhost_hlen = features & FN_F_VNET_HDR ? hlen : 0;
	*sock_hlen = features & FN_F_VNET_HDR ? 0 : hlen;
}

/* NULL when the header is fine, else the rule it breaks. */
static const char *ref_hdr_bad(const u8 *h, bool le, size_t len)
{
	u8 flags = h[0], gso_type = h[1];
	u64 hdr_len = fuzz_get16(h + 2, le);
	u64 gso_size = fuzz_get16(h + 4, le);
	u64 csum_start = fuzz_get16(h + 6, le);
	u64 csum_offset = fuzz_get16(h + 8, le);
	bool csum = flags & FN_NEEDS_CSUM;

	if (flags & ~FN_NEEDS_CSUM)
		return "unknown flags";
	if (hdr_len > len)
		return "hdr_len past the packet";
	if (csum && csum_start + csum_offset + 2 > len)
		return "checksum past the packet";
	switch (gso_type) {
	case FN_GSO_NONE:
		return NULL;
	case FN_GSO_TCPV4:
	case FN_GSO_UDP:
	case FN_GSO_TCPV6:
	case FN_GSO_TCPV4 | FN_GSO_ECN:
	case FN_GSO_UDP | FN_GSO_ECN:
	case FN_GSO_TCPV6 | FN_GSO_ECN:
		if (!gso_size)
			return "GSO without gso_size";
		if (!csum)
			return "GSO without NEEDS_CSUM";
		return NULL;
	case FN_GSO_ECN:
		return "ECN without GSO";
	default:
		return "unknown GSO type";
	}
}

/* --- checks ------------------------------------------------------------ */

/* kvh_net_tx_hdr_ok() on a heap copy of exactly the header's size. */
static bool fn_hdr_ok(const u8 *bytes, bool le, size_t len)
{
	struct virtio_net_hdr *h = malloc(sizeof(*h));
	bool ok;

	if (!h)
		abort();
	memcpy(h, bytes, sizeof(*h));
	ok = kvh_net_tx_hdr_ok(le, h, len);
	fuzz_check(!memcmp(h, bytes, sizeof(*h)),
		   "kvh_net_tx_hdr_ok() changed the header");
	free(h);
	return ok;
}

static void fn_check_hlens(u64 features)
{
	size_t vhost = SIZE_MAX, sock = SIZE_MAX, rvhost, rsock;

	kvh_net_hlens(features, &vhost, &sock);
	ref_hlens(features, &rvhost, &rsock);
	fuzz_check(vhost == rvhost && sock == rsock,
		   "features %#llx: vhost_hlen %zu sock_hlen %zu, reference %zu %zu",
		   (unsigned long long)features, vhost, sock, rvhost, rsock);
}

static void fn_check_hdr(const struct fn_case *fc)
{
	const char *why = ref_hdr_bad(fc->hdr, fc->le, fc->len);
	u8 swapped[FN_HDR_LEN];
	unsigned int i;
	bool ok;

	ok = fn_hdr_ok(fc->hdr, fc->le, fc->len);
	fuzz_trace("hdr %02x %02x %04x %04x %04x %04x %s len %zu: %s; reference %s\n",
		   fc->hdr[0], fc->hdr[1], fuzz_get16(fc->hdr + 2, fc->le),
		   fuzz_get16(fc->hdr + 4, fc->le),
		   fuzz_get16(fc->hdr + 6, fc->le),
		   fuzz_get16(fc->hdr + 8, fc->le), fc->le ? "le" : "be",
		   fc->len, ok ? "ok" : "refused", why ? why : "ok");
	fuzz_check(ok == !why, "len %zu %s: kvh_net_tx_hdr_ok %d, reference: %s",
		   fc->len, fc->le ? "le" : "be", ok, why ? why : "ok");

	/* The same values in the other byte order. */
	memcpy(swapped, fc->hdr, sizeof(swapped));
	for (i = 2; i < FN_HDR_LEN; i += 2) {
		swapped[i] = fc->hdr[i + 1];
		swapped[i + 1] = fc->hdr[i];
	}
	fuzz_check(fn_hdr_ok(swapped, !fc->le, fc->len) == ok,
		   "len %zu: verdict %d changes with the byte order", fc->len,
		   ok);

	/* A longer packet can only help. */
	if (!ok)
		return;
	if (fc->len < SIZE_MAX)
		fuzz_check(fn_hdr_ok(fc->hdr, fc->le, fc->len + 1),
			   "accepted for len %zu, refused for one more",
			   fc->len);
	fuzz_check(fn_hdr_ok(fc->hdr, fc->le, SIZE_MAX),
		   "accepted for len %zu, refused for SIZE_MAX", fc->len);
}

int fuzz_one_input(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fn_case fc;

	fn_build(&in, &fc);
	fn_check_hlens(fc.features);
	fn_check_hdr(&fc);
	return 0;
}
