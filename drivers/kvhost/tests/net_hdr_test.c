// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: kvhost-net's header rules (net_hdr.c).  Headers are built byte by
 * byte in the wire layout (flags, gso_type, then hdr_len, gso_size,
 * csum_start and csum_offset as 16-bit fields in the ring's byte order),
 * so that the cases do not lean on the byte-order helpers under test.
 */
#include <kunit/test.h>
#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <kvhost/net_hdr.h>

#define KVT_F_CSUM	VIRTIO_NET_HDR_F_NEEDS_CSUM
#define KVT_TCPV4	VIRTIO_NET_HDR_GSO_TCPV4
#define KVT_UDP		VIRTIO_NET_HDR_GSO_UDP
#define KVT_TCPV6	VIRTIO_NET_HDR_GSO_TCPV6
#define KVT_ECN		VIRTIO_NET_HDR_GSO_ECN

/**
 * struct kvt_hdr - a TX header as the guest lays it out
 * @flags: VIRTIO_NET_HDR_F_*
 * @gso_type: VIRTIO_NET_HDR_GSO_*
 * @hdr_len: headers' length
 * @gso_size: MSS
 * @csum_start: where checksumming starts
 * @csum_offset: where the checksum goes, after @csum_start
 */
struct kvt_hdr {
	u8 flags;
	u8 gso_type;
	u16 hdr_len;
	u16 gso_size;
	u16 csum_start;
	u16 csum_offset;
};

union kvt_wire {
	struct virtio_net_hdr h;
	u8 b[sizeof(struct virtio_net_hdr)];
};

static void kvt_put16(u8 *p, bool le, u16 v)
{
	p[le ? 0 : 1] = v & 0xff;
	p[le ? 1 : 0] = v >> 8;
}

/* kvh_net_tx_hdr_ok() on @k laid out in @le byte order. */
static bool kvt_ok(const struct kvt_hdr *k, bool le, size_t len)
{
	union kvt_wire w;

	w.b[0] = k->flags;
	w.b[1] = k->gso_type;
	kvt_put16(w.b + 2, le, k->hdr_len);
	kvt_put16(w.b + 4, le, k->gso_size);
	kvt_put16(w.b + 6, le, k->csum_start);
	kvt_put16(w.b + 8, le, k->csum_offset);
	return kvh_net_tx_hdr_ok(le, &w.h, len);
}

static void kvt_net_hdr_layout(struct kunit *test)
{
	struct virtio_net_hdr_mrg_rxbuf m;

	/* What the byte-wise builder above assumes. */
	KUNIT_EXPECT_EQ(test, sizeof(struct virtio_net_hdr), 10);
	KUNIT_EXPECT_EQ(test, sizeof(m), 12);
	KUNIT_EXPECT_EQ(test, offsetof(struct virtio_net_hdr, hdr_len), 2);
	KUNIT_EXPECT_EQ(test, offsetof(struct virtio_net_hdr, gso_size), 4);
	KUNIT_EXPECT_EQ(test, offsetof(struct virtio_net_hdr, csum_start), 6);
	KUNIT_EXPECT_EQ(test, offsetof(struct virtio_net_hdr, csum_offset), 8);
}

/* Header sizes: 10 or 12 bytes, on kvhost's side or the socket's. */
static void kvt_net_hlens(struct kunit *test)
{
	static const struct {
		u64 features;
		size_t vhost, sock;
	} t[] = {
		{ 0, 0, 10 },
		{ BIT_ULL(VIRTIO_NET_F_MRG_RXBUF), 0, 12 },
		{ BIT_ULL(VIRTIO_F_VERSION_1), 0, 12 },
		{ BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_NET_F_MRG_RXBUF),
		  0, 12 },
		{ BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR), 10, 0 },
		{ BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR) |
		  BIT_ULL(VIRTIO_NET_F_MRG_RXBUF), 12, 0 },
		{ BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR) |
		  BIT_ULL(VIRTIO_F_VERSION_1), 12, 0 },
		/* Every other bit is irrelevant. */
		{ ~(BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) |
		    BIT_ULL(VIRTIO_F_VERSION_1) |
		    BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR)), 0, 10 },
		{ ~BIT_ULL(VHOST_NET_F_VIRTIO_NET_HDR), 0, 12 },
		{ ~0ULL, 12, 0 },
	};
	size_t vhost, sock;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		vhost = 99;
		sock = 99;
		kvh_net_hlens(t[i].features, &vhost, &sock);
		KUNIT_EXPECT_EQ_MSG(test, vhost, t[i].vhost, "features %#llx",
				    t[i].features);
		KUNIT_EXPECT_EQ_MSG(test, sock, t[i].sock, "features %#llx",
				    t[i].features);
	}
}

/* An all-zero header is fine for any length, an empty packet included. */
static void kvt_net_hdr_plain(struct kunit *test)
{
	struct kvt_hdr k = {};

	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 0));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 60));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 65535));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, false, 0));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, SIZE_MAX));
	/* Without NEEDS_CSUM the checksum fields are not looked at. */
	k.csum_start = 0xffff;
	k.csum_offset = 0xffff;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 0));
}

/* Only NEEDS_CSUM may be set: DATA_VALID, RSC_INFO, any other bit fails. */
static void kvt_net_hdr_flags(struct kunit *test)
{
	struct kvt_hdr k = { .csum_start = 14, .csum_offset = 16 };
	unsigned int f;

	for (f = 0; f < 256; f++) {
		k.flags = f;
		KUNIT_EXPECT_EQ_MSG(test, kvt_ok(&k, true, 1500),
				    f == 0 || f == KVT_F_CSUM, "flags %#x", f);
	}
}

/* hdr_len may reach the end of the packet, not past it. */
static void kvt_net_hdr_len(struct kunit *test)
{
	struct kvt_hdr k = { .hdr_len = 54 };

	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 54));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 55));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 53));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 0));
	k.hdr_len = 0xffff;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 0xffff));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 0xfffe));
	/* Checked whatever else the header says (here: a valid GSO). */
	k = (struct kvt_hdr) {
		.flags = KVT_F_CSUM, .gso_type = KVT_TCPV4, .hdr_len = 1000,
		.gso_size = 1448, .csum_start = 34, .csum_offset = 16,
	};
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 1000));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 999));
}

/* csum_start + csum_offset + 2 must fit the packet, counted without wrap. */
static void kvt_net_hdr_csum(struct kunit *test)
{
	struct kvt_hdr k = {
		.flags = KVT_F_CSUM, .csum_start = 34, .csum_offset = 6,
	};

	/* UDP over IPv4 in a 60-byte frame: the checksum at 40..41. */
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 42));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 60));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 41));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 0));
	/* Each field alone. */
	k = (struct kvt_hdr) { .flags = KVT_F_CSUM, .csum_start = 98 };
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 100));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 99));
	k = (struct kvt_hdr) { .flags = KVT_F_CSUM, .csum_offset = 98 };
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 100));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 99));
	/* Sums that wrap 16 bits: 0xfff0 + 0x10 + 2 is 2 in a u16. */
	k = (struct kvt_hdr) {
		.flags = KVT_F_CSUM, .csum_start = 0xfff0, .csum_offset = 0x10,
	};
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 100));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 0x10001));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 0x10002));
	k.csum_start = 0xffff;
	k.csum_offset = 0xffff;
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 0));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 65535));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 0x1ffff));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 0x20000));
	k.csum_offset = 0xfffe;
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 0xffff));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 0x1ffff));
}

/*
 * Every gso_type byte: NONE, TCPV4, TCPV6 and UDP, each with and without
 * ECN, are the only ones known; NONE|ECN is not.
 */
static void kvt_net_hdr_gso_types(struct kunit *test)
{
	struct kvt_hdr k = {
		.flags = KVT_F_CSUM, .hdr_len = 54, .gso_size = 1448,
		.csum_start = 34, .csum_offset = 16,
	};
	unsigned int t;
	bool want;
	u8 base;

	for (t = 0; t < 256; t++) {
		k.gso_type = t;
		base = t & ~KVT_ECN;
		want = base == KVT_TCPV4 || base == KVT_TCPV6 ||
		       base == KVT_UDP || t == VIRTIO_NET_HDR_GSO_NONE;
		KUNIT_EXPECT_EQ_MSG(test, kvt_ok(&k, true, 9000), want,
				    "gso_type %#x", t);
	}
}

/* GSO needs NEEDS_CSUM; without GSO the checksum is optional. */
static void kvt_net_hdr_gso_csum(struct kunit *test)
{
	static const u8 gso[] = { KVT_TCPV4, KVT_TCPV6, KVT_UDP };
	struct kvt_hdr k = {
		.hdr_len = 40, .gso_size = 1448,
		.csum_start = 34, .csum_offset = 16,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gso); i++) {
		k.gso_type = gso[i];
		k.flags = 0;
		KUNIT_EXPECT_FALSE_MSG(test, kvt_ok(&k, true, 9000),
				       "gso_type %#x", gso[i]);
		k.flags = KVT_F_CSUM;
		KUNIT_EXPECT_TRUE_MSG(test, kvt_ok(&k, true, 9000),
				      "gso_type %#x", gso[i]);
		/* The checksum rule still holds under GSO. */
		KUNIT_EXPECT_FALSE_MSG(test, kvt_ok(&k, true, 51),
				       "gso_type %#x", gso[i]);
	}
	k.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	k.gso_size = 0;
	k.flags = 0;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 60));
	k.flags = KVT_F_CSUM;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 60));
}

/* The ECN bit only goes with a GSO type. */
static void kvt_net_hdr_ecn(struct kunit *test)
{
	struct kvt_hdr k = {
		.flags = KVT_F_CSUM, .gso_type = KVT_ECN, .hdr_len = 54,
		.gso_size = 1448, .csum_start = 34, .csum_offset = 16,
	};

	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 9000));
	k.flags = 0;
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 9000));
	k.flags = KVT_F_CSUM;
	k.gso_type = KVT_TCPV4 | KVT_ECN;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 9000));
	k.gso_type = KVT_TCPV6 | KVT_ECN;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 9000));
	k.gso_type = KVT_UDP | KVT_ECN;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 9000));
	k.gso_size = 0;
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, true, 9000));
}

/* A GSO packet without an MSS is refused; gso_size is not otherwise bound. */
static void kvt_net_hdr_gso_size(struct kunit *test)
{
	static const u8 gso[] = { KVT_TCPV4, KVT_TCPV6, KVT_UDP };
	struct kvt_hdr k = {
		.flags = KVT_F_CSUM, .hdr_len = 54,
		.csum_start = 34, .csum_offset = 16,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gso); i++) {
		k.gso_type = gso[i];
		k.gso_size = 0;
		KUNIT_EXPECT_FALSE_MSG(test, kvt_ok(&k, true, 9000),
				       "gso_type %#x", gso[i]);
		k.gso_size = 1;
		KUNIT_EXPECT_TRUE_MSG(test, kvt_ok(&k, true, 9000),
				      "gso_type %#x", gso[i]);
		k.gso_size = 0xffff;
		KUNIT_EXPECT_TRUE_MSG(test, kvt_ok(&k, true, 9000),
				      "gso_type %#x", gso[i]);
		/* Only one byte set: non-zero in either byte order. */
		k.gso_size = 0x100;
		KUNIT_EXPECT_TRUE_MSG(test, kvt_ok(&k, false, 9000),
				      "gso_type %#x", gso[i]);
	}
	/* Without GSO, gso_size is ignored. */
	k.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	k.gso_size = 1448;
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, true, 9000));
}

/*
 * A legacy guest of the other byte order: the 16-bit fields are read in
 * the ring's byte order.  The same ten bytes read the other way round
 * would give a different verdict in each check below.
 */
static void kvt_net_hdr_big_endian(struct kunit *test)
{
	struct kvt_hdr k = { .hdr_len = 0x0036 };
	union kvt_wire w = {};

	/* hdr_len 54 in big-endian: 0x3600 if misread as little-endian. */
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, false, 60));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, false, 53));
	w.b[2] = 0x00;
	w.b[3] = 0x36;
	KUNIT_EXPECT_TRUE(test, kvh_net_tx_hdr_ok(false, &w.h, 60));
	KUNIT_EXPECT_FALSE(test, kvh_net_tx_hdr_ok(true, &w.h, 60));
	/* csum_start 0x0100 big-endian, 1 little-endian. */
	k = (struct kvt_hdr) { .flags = KVT_F_CSUM, .csum_start = 0x100 };
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, false, 200));
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, false, 0x102));
	memset(&w, 0, sizeof(w));
	w.b[0] = KVT_F_CSUM;
	w.b[6] = 0x01;
	KUNIT_EXPECT_FALSE(test, kvh_net_tx_hdr_ok(false, &w.h, 200));
	KUNIT_EXPECT_TRUE(test, kvh_net_tx_hdr_ok(true, &w.h, 200));
	/* csum_offset likewise. */
	memset(&w, 0, sizeof(w));
	w.b[0] = KVT_F_CSUM;
	w.b[8] = 0x01;
	KUNIT_EXPECT_FALSE(test, kvh_net_tx_hdr_ok(false, &w.h, 200));
	KUNIT_EXPECT_TRUE(test, kvh_net_tx_hdr_ok(true, &w.h, 200));
	/* A full big-endian TSO header. */
	k = (struct kvt_hdr) {
		.flags = KVT_F_CSUM, .gso_type = KVT_TCPV6, .hdr_len = 74,
		.gso_size = 1428, .csum_start = 54, .csum_offset = 16,
	};
	KUNIT_EXPECT_TRUE(test, kvt_ok(&k, false, 65000));
	KUNIT_EXPECT_FALSE(test, kvt_ok(&k, false, 71));
}

static struct kunit_case kvt_net_hdr_cases[] = {
	KUNIT_CASE(kvt_net_hdr_layout),
	KUNIT_CASE(kvt_net_hlens),
	KUNIT_CASE(kvt_net_hdr_plain),
	KUNIT_CASE(kvt_net_hdr_flags),
	KUNIT_CASE(kvt_net_hdr_len),
	KUNIT_CASE(kvt_net_hdr_csum),
	KUNIT_CASE(kvt_net_hdr_gso_types),
	KUNIT_CASE(kvt_net_hdr_gso_csum),
	KUNIT_CASE(kvt_net_hdr_ecn),
	KUNIT_CASE(kvt_net_hdr_gso_size),
	KUNIT_CASE(kvt_net_hdr_big_endian),
	{}
};

static struct kunit_suite kvt_net_hdr_suite = {
	.name = "kvhost_net_hdr",
	.test_cases = kvt_net_hdr_cases,
};

kunit_test_suite(kvt_net_hdr_suite);
