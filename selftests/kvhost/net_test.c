// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-net data path tests, each run against /dev/kvhost-net and, for
 * parity, against the kernel's own /dev/vhost-net.
 *
 * Every test sets the device up as QEMU does: a tap with IFF_VNET_HDR (the
 * virtio-net header passes through the device to the tap and back), the
 * tap's header size matching the features acked, its checksum and TSO
 * offloads on, its MTU at tun's maximum so that a frame may be 64 KiB.
 * The host side of the tap is an AF_PACKET socket bound to it, with
 * PACKET_VNET_HDR: it sees what the guest sent (GSO frames whole, with
 * their header) and injects what the guest must receive.  The guest side
 * is the virtq library.
 *
 *   net      TX and RX integrity; detaching and re-attaching the backend
 *            under traffic; malformed TX headers
 *   bulk     100k packets each way, none lost while buffers were posted
 *   backend  VHOST_NET_SET_BACKEND's checks, their order and errnos
 *
 * Variants of net and bulk: the node, mergeable RX buffers or not,
 * indirect descriptors or not, EVENT_IDX or not; VERSION_1 always.
 * The upstream variants SKIP when vhost_net is not loaded; the kvhost ones
 * never skip.  Where upstream does something else than kvhost must, the
 * test says so and checks what each does.
 */
#include <assert.h>
#include <sched.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/kvhost.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "kselftest_harness.h"
#include "rtnl.h"
#include "virtq.h"

#define UPSTREAM_NET	"/dev/vhost-net"
#define KVH_NET		"/dev/" KVHOST_NET_NODE

/*
 * kvhost's per-vq count of packets the device dropped, a "name value" line
 * of debugfs's kvhost/<id>/vq<N>.  The only place the tests name it.
 */
#define KVH_DROP_COUNTER	"drops"

#define RXQ		0
#define TXQ		1
#define NVQS		2
#define NUM		256
#define FBIT(b)		(1ULL << (b))

#define MAX_FRAME	65535
/* tun's max_mtu: a 65535-byte frame without GSO. */
#define TAP_MTU		(MAX_FRAME - ETH_HLEN)
#define HDR_MAX		((unsigned int)sizeof(struct virtio_net_hdr_mrg_rxbuf))
#define PKT_MAX		(HDR_MAX + MAX_FRAME)
#define BUF_SIZE	(PKT_MAX + 64)

#define GPA_BASE	0x100000ULL
#define MEM_SIZE	(40ULL << 20)

/* RX buffer contents before the device writes them. */
#define SENTINEL	0xa5
/* Frames for the bulk and detach runs: Ethernet-sized. */
#define SMALL_MAX	1514
/* An address no user process can access. */
#define KERNEL_UADDR	0xffff888000000000UL
/* A short wait for something that must not happen. */
#define QUIET_MS	100

#define ETH_P_KVH	0x88b5		/* IEEE 802 local experimental */
#define FRAME_MAGIC	0x4b56484eU	/* "KVHN" */

static const __u8 mac_guest[ETH_ALEN] = { 0x02, 0x6b, 0x76, 0x68, 0, 1 };
static const __u8 mac_host[ETH_ALEN] = { 0x02, 0x6b, 0x76, 0x68, 0, 2 };
static const __u8 ip4_guest[4] = { 10, 107, 0, 1 };
static const __u8 ip4_host[4] = { 10, 107, 0, 2 };
static const __u8 ip6_guest[16] = { 0xfd, 0x6b, 0x76, 0x68, [15] = 1 };
static const __u8 ip6_host[16] = { 0xfd, 0x6b, 0x76, 0x68, [15] = 2 };

/*
 * The 6.1 harness goes on to run the test body after SKIP() in a fixture
 * setup; end the test process instead (exit status 255 reports SKIP).
 */
static void setup_skip(struct __test_metadata *_metadata, const char *why)
{
	SKIP(_exit(255), "%s", why);
}

/* Frames */

enum kind {
	K_RAW,		/* ETH_P_KVH, no offload */
	K_CSUM_UDP4,	/* NEEDS_CSUM, no GSO */
	K_CSUM_TCP4,
	K_CSUM_TCP6,
	K_GSO_TCP4,	/* NEEDS_CSUM and GSO */
	K_GSO_TCP6,
};

static const char *const kind_name[] = {
	"raw", "csum-udp4", "csum-tcp4", "csum-tcp6", "gso-tcp4", "gso-tcp6",
};

struct spec {
	enum kind kind;
	__u32 len;		/* the Ethernet frame */
	__u16 gso_size;
};

static bool kind_ip6(enum kind k)
{
	return k == K_CSUM_TCP6 || k == K_GSO_TCP6;
}

static bool kind_gso(enum kind k)
{
	return k == K_GSO_TCP4 || k == K_GSO_TCP6;
}

static unsigned int l4_off(enum kind k)
{
	if (k == K_RAW)
		return ETH_HLEN;
	return ETH_HLEN + (kind_ip6(k) ? 40 : 20);
}

static unsigned int l4_len(enum kind k)
{
	if (k == K_RAW)
		return 0;
	return k == K_CSUM_UDP4 ? 8 : 20;
}

static unsigned int payload_off(enum kind k)
{
	return l4_off(k) + l4_len(k);
}

/* Shortest frame of a kind: headers, then magic, sequence and length. */
static __u32 kind_min_len(enum kind k)
{
	__u32 min = payload_off(k) + 12;

	return min < 60 ? 60 : min;
}

/* Random bytes that payloads are cut from, at a per-frame offset. */
#define POOL_SIZE	(2 * 65536)
static __u8 pool[POOL_SIZE];

static void __attribute__((constructor)) pool_init(void)
{
	__u32 s = 0x6b76686e, v, i;

	for (i = 0; i < POOL_SIZE; i += 4) {
		v = vq_rnd_next(&s);
		memcpy(pool + i, &v, sizeof(v));
	}
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static __u32 get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* One's complement sum of big-endian 16-bit words. */
static __u32 csum_add(__u32 sum, const __u8 *p, unsigned int len)
{
	unsigned int i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* IPv4 or IPv6 header; returns the pseudo-header sum for the L4 checksum. */
static __u32 ip_header(__u8 *f, const struct spec *s, __u32 seq,
		       bool to_guest)
{
	__u8 proto = s->kind == K_CSUM_UDP4 ? 17 : 6;
	__u32 l4 = s->len - l4_off(s->kind);
	__u8 *ip = f + ETH_HLEN;

	if (kind_ip6(s->kind)) {
		put16(f + 12, ETH_P_IPV6);
		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, l4);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, to_guest ? ip6_host : ip6_guest, 16);
		memcpy(ip + 24, to_guest ? ip6_guest : ip6_host, 16);
		return csum_add(0, ip + 8, 32) + l4 + proto;
	}
	put16(f + 12, ETH_P_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, s->len - ETH_HLEN);
	put16(ip + 4, seq);
	put16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, to_guest ? ip4_host : ip4_guest, 4);
	memcpy(ip + 16, to_guest ? ip4_guest : ip4_host, 4);
	put16(ip + 10, ~csum_fold(csum_add(0, ip, 20)));
	return csum_add(0, ip + 12, 8) + l4 + proto;
}

/*
 * Frame seq of spec s into f (s->len bytes), and the virtio-net header it
 * goes with, in host order.  The L4 checksum field holds the pseudo-header
 * sum, as a driver leaves it for NEEDS_CSUM.  Everything is a function of
 * (s, seq, to_guest): the receiver rebuilds the frame to compare.
 */
static void frame_build(__u8 *f, const struct spec *s, __u32 seq,
			bool to_guest, struct virtio_net_hdr *vh)
{
	unsigned int po = payload_off(s->kind), l4 = l4_off(s->kind);
	__u32 off = vq_rnd_seed(seq, s->len ^ s->kind << 24) % 65536;
	__u8 *t = f + l4;
	__u32 pseudo;

	memcpy(f, to_guest ? mac_guest : mac_host, ETH_ALEN);
	memcpy(f + ETH_ALEN, to_guest ? mac_host : mac_guest, ETH_ALEN);
	put32(f + po, FRAME_MAGIC);
	put32(f + po + 4, seq);
	put32(f + po + 8, s->len);
	memcpy(f + po + 12, pool + off, s->len - po - 12);
	memset(vh, 0, sizeof(*vh));
	if (s->kind == K_RAW) {
		put16(f + 12, ETH_P_KVH);
		return;
	}
	pseudo = ip_header(f, s, seq, to_guest);
	put16(t, 40000 + seq % 1000);
	put16(t + 2, 5201);
	if (s->kind == K_CSUM_UDP4) {
		put16(t + 4, s->len - l4);
		put16(t + 6, csum_fold(pseudo));
	} else {
		put32(t + 4, seq << 16);
		put32(t + 8, 1);
		t[12] = 5 << 4;
		t[13] = 0x18;			/* PSH | ACK */
		put16(t + 14, 65535);
		put16(t + 16, csum_fold(pseudo));
		put16(t + 18, 0);
	}
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = l4;
	vh->csum_offset = s->kind == K_CSUM_UDP4 ? 6 : 16;
	if (!kind_gso(s->kind))
		return;
	vh->gso_type = kind_ip6(s->kind) ? VIRTIO_NET_HDR_GSO_TCPV6 :
					   VIRTIO_NET_HDR_GSO_TCPV4;
	vh->gso_size = s->gso_size;
	vh->hdr_len = po;
}

/* Is the frame GSO once tun has it (more payload than one segment)? */
static bool spec_is_gso(const struct spec *s)
{
	return kind_gso(s->kind) && s->len - payload_off(s->kind) > s->gso_size;
}

/* The first differing byte, or -1. */
static long first_diff(const __u8 *a, const __u8 *b, __u32 len)
{
	__u32 i;

	if (!memcmp(a, b, len))
		return -1;
	for (i = 0; a[i] == b[i]; i++)
		;
	return i;
}

/* The rig */

struct net_cfg {
	bool upstream;
	bool mrg;		/* VIRTIO_NET_F_MRG_RXBUF */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC, used */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX */
	bool macvtap;		/* a macvtap on a veth, not a tap */
};

struct txslot {
	__u64 gpa;
	struct txslot *next;
};

enum rxmode {
	RX_MRG,		/* mergeable: small buffers of assorted sizes */
	RX_BIG,		/* one buffer per packet, room for 64 KiB */
	RX_SMALL,	/* one buffer per packet, room for SMALL_MAX */
};

struct rxbuf {
	__u64 gpa;
	__u32 size;
	bool posted;
};

struct rig {
	const struct net_cfg *cfg;
	int fd;			/* the device */
	int tap;
	int pkt;		/* AF_PACKET on the tap, PACKET_VNET_HDR */
	int ifindex;
	char ifname[IFNAMSIZ];	/* the tap, or the macvtap */
	char lower[IFNAMSIZ];	/* macvtap: its veth; the peer is host side */
	char peer[IFNAMSIZ];
	__u64 acked;
	unsigned int hlen;	/* virtio-net header, guest side */
	struct vq_mem mem;
	struct vq vq[NVQS];
	unsigned int inflight[NVQS];	/* heads added, not yet used */

	struct txslot *tx;
	unsigned int ntx;
	__u32 tx_size;
	struct txslot *tx_free;

	struct rxbuf *rx;
	unsigned int nrx;
	enum rxmode rx_mode;
	unsigned int rx_next;	/* next buffer to post, round robin */
	unsigned int rx_posted;

	__u8 *fbuf;		/* frames being built (up to a burst) */
	__u8 *rbuf;		/* a frame or packet received */
	__u64 noise;		/* foreign frames ignored */
	__u64 tap_tx_dropped, tap_rx_dropped;
};

static void rig_init(struct rig *n, const struct net_cfg *cfg)
{
	unsigned int i;

	memset(n, 0, sizeof(*n));
	n->cfg = cfg;
	n->fd = -1;
	n->tap = -1;
	n->pkt = -1;
	n->mem.memfd = -1;
	for (i = 0; i < NVQS; i++) {
		n->vq[i].kick_fd = -1;
		n->vq[i].call_fd = -1;
		n->vq[i].err_fd = -1;
	}
}

static int set_backend(struct rig *n, unsigned int index, int fd)
{
	struct vhost_vring_file f = { .index = index, .fd = fd };

	return vq_ioctl(n->fd, VHOST_NET_SET_BACKEND, &f);
}

static int tap_create(struct rig *n)
{
	struct ifreq ifr = {
		.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
	};
	int r;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "kvhn%%d");
	n->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (n->tap < 0)
		return -errno;
	if (ioctl(n->tap, TUNSETIFF, &ifr)) {
		r = -errno;
		close(n->tap);
		n->tap = -1;
		return r;
	}
	memcpy(n->ifname, ifr.ifr_name, sizeof(n->ifname));
	return 0;
}

/*
 * Run a shell command line: 0, or -ENOENT.  Only for diagnostics on a
 * failure; the rig itself uses rtnl.c (a spawn costs seconds under KASAN).
 */
static int ip_cmd(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return r == 0 ? 0 : -ENOENT;
}

/*
 * A veth hands each frame to netif_rx(), which queues it on the backlog
 * of the CPU the sender runs on: a sender that moves between CPUs (a
 * kvhost worker, or this test's injector) can see two frames overtake
 * each other there, whoever sent them.  Steering every frame the veth
 * receives to one CPU's backlog (RPS) keeps them in the order sent, so
 * the streams can check kvhost's order exactly.
 */
static int rps_one_cpu(const char *ifname)
{
	char path[96];
	int r;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-0/rps_cpus",
		 ifname);
	r = vq_write_str(path, "1");
	/* No CONFIG_RPS: not a missing macvtap. */
	return r == -ENOENT ? -EOPNOTSUPP : r;
}

/*
 * A macvtap (bridge mode, the guest's MAC) on one end of a veth pair: the
 * guest's frames leave through the veth and arrive at its peer, where the
 * AF_PACKET socket sits; frames sent there reach the macvtap.  Opened as
 * QEMU is given it: /dev/tapN, N the macvtap's ifindex.
 */
static int macvtap_create(struct rig *n)
{
	char dev[32];
	unsigned int idx;
	int r, i;

	snprintf(n->lower, sizeof(n->lower), "kvml%d", getpid());
	snprintf(n->peer, sizeof(n->peer), "kvmp%d", getpid());
	snprintf(n->ifname, sizeof(n->ifname), "kvmt%d", getpid());
	r = rtnl_veth_add(n->lower, n->peer, TAP_MTU);
	if (r)
		return r == -EOPNOTSUPP ? -ENOENT : r;
	r = rps_one_cpu(n->lower) ?: rps_one_cpu(n->peer);
	if (r)
		return r;
	r = rtnl_macvtap_add(n->ifname, n->lower, mac_guest);
	if (r)
		return r == -EOPNOTSUPP ? -ENOENT : r;
	/*
	 * The macvtap has a queue (Debian's default is fq_codel, which
	 * drops under delay and interleaves flows): one plain FIFO instead.
	 */
	r = rtnl_pfifo_root(n->ifname, 1000);
	if (r)
		return r;
	idx = if_nametoindex(n->ifname);
	if (!idx)
		return -errno;
	snprintf(dev, sizeof(dev), "/dev/tap%u", idx);
	/* devtmpfs makes the node; give it a moment. */
	for (i = 0; i < 100; i++) {
		n->tap = open(dev, O_RDWR | O_CLOEXEC);
		if (n->tap >= 0 || errno != ENOENT)
			break;
		usleep(10000);
	}
	return n->tap < 0 ? -errno : 0;
}

/* Deleting the veth takes its peer and the macvtap along. */
static void macvtap_destroy(struct rig *n)
{
	int r = n->lower[0] ? rtnl_link_del(n->lower) : 0;

	if (r)
		fprintf(stderr, "# could not delete %s: %s\n", n->lower,
			strerror(-r));
	n->lower[0] = 0;
}

/* Best effort: the host's IPv6 would talk to the guest through the tap. */
static void if_no_ipv6(const char *ifname)
{
	char path[96];
	int r;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	r = vq_write_str(path, "1");
	if (r && r != -ENOENT)
		fprintf(stderr, "# %s: %s\n", path, strerror(-r));
}

/* Wait up to 5 s for /sys/class/net/<ifname>/operstate to say "up". */
static int if_wait_up(const char *ifname)
{
	char path[96], state[16];
	int i, up = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", ifname);
	for (i = 0; i < 500 && !up; i++) {
		f = fopen(path, "re");
		if (!f)
			return -errno;
		up = fgets(state, sizeof(state), f) && !strcmp(state, "up\n");
		fclose(f);
		if (!up)
			usleep(10000);
	}
	return up ? 0 : -ETIMEDOUT;
}

static int if_up(int s, const char *ifname, bool mtu)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
	if_no_ipv6(ifname);
	ifr.ifr_mtu = TAP_MTU;
	if ((mtu && ioctl(s, SIOCSIFMTU, &ifr)) || ioctl(s, SIOCGIFFLAGS, &ifr))
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		return -errno;
	return 0;
}

/* As QEMU: header size, offloads; then MTU and up. */
static int tap_config(struct rig *n)
{
	unsigned int offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
			       TUN_F_TSO_ECN;
	int hlen = n->hlen, s, r;

	if (ioctl(n->tap, TUNSETVNETHDRSZ, &hlen) ||
	    ioctl(n->tap, TUNSETOFFLOAD, offload))
		return -errno;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	/* A macvtap's MTU is its veth's, set when created. */
	r = if_up(s, n->ifname, !n->cfg->macvtap);
	if (!r && n->cfg->macvtap)
		r = if_up(s, n->lower, false) ?: if_up(s, n->peer, false);
	close(s);
	if (r)
		return r;
	/*
	 * Until linkwatch sees the veth's carrier, its qdisc and the
	 * macvtap's drop everything: wait for both to be up.
	 */
	if (n->cfg->macvtap && (if_wait_up(n->lower) || if_wait_up(n->ifname)))
		return -ETIMEDOUT;
	/* The host side: the tap itself, or the veth's peer. */
	n->ifindex = if_nametoindex(n->cfg->macvtap ? n->peer : n->ifname);
	return n->ifindex ? 0 : -errno;
}

/*
 * The host side: every frame the tap receives from the guest, with its
 * virtio-net header (GSO frames are not segmented), none of what is sent
 * out through the tap (PACKET_IGNORE_OUTGOING); sends go to the guest.
 */
static int pkt_open(struct rig *n)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = n->ifindex,
	};
	int one = 1, rcvbuf = 64 << 20, sndbuf = 16 << 20;

	/* Protocol 0: nothing is queued before the bind. */
	n->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->pkt < 0)
		return -errno;
	if (setsockopt(n->pkt, SOL_PACKET, PACKET_VNET_HDR, &one,
		       sizeof(one)) ||
	    setsockopt(n->pkt, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		       sizeof(one)) ||
	    setsockopt(n->pkt, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) ||
	    setsockopt(n->pkt, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)) ||
	    bind(n->pkt, (struct sockaddr *)&sll, sizeof(sll)))
		return -errno;
	return 0;
}

/* A counter of /sys/class/net/<tap>/statistics. */
static int if_stat(const char *ifname, const char *name, __u64 *val)
{
	char path[128];
	unsigned long long v;
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s",
		 ifname, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	r = fscanf(f, "%llu", &v) == 1 ? 0 : -EIO;
	fclose(f);
	*val = v;
	return r;
}

static int tap_stat(const struct rig *n, const char *name, __u64 *val)
{
	return if_stat(n->ifname, name, val);
}

/* The second column of /proc/net/softnet_stat, summed: backlog drops. */
static __u64 softnet_drops(void)
{
	unsigned int processed, dropped;
	__u64 sum = 0;
	char line[256];
	FILE *f;

	f = fopen("/proc/net/softnet_stat", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &processed, &dropped) == 2)
			sum += dropped;
	fclose(f);
	return sum;
}

/*
 * A frame went missing on its way to the host side: log every counter
 * along the path that could say where (kvhost's drops, each interface's,
 * the backlog's, the AF_PACKET socket's), so that a rare loss can be
 * placed from the log of one failed run.
 */
static void path_report(struct __test_metadata *_metadata, struct rig *n)
{
	static const char * const st[] = { "tx_packets", "tx_dropped",
					   "rx_packets", "rx_dropped" };
	const char * const ifs[] = { n->ifname, n->lower, n->peer };
	struct tpacket_stats ps;
	socklen_t sl = sizeof(ps);
	unsigned int i, j;
	__u64 v[4];

	if (!n->cfg->upstream && !vq_debugfs_get(n->fd, TXQ, KVH_DROP_COUNTER,
						 &v[0]))
		TH_LOG("kvhost tx drops %llu", (unsigned long long)v[0]);
	for (i = 0; i < (n->cfg->macvtap ? 3U : 1U); i++) {
		for (j = 0; j < 4; j++)
			if (if_stat(ifs[i], st[j], &v[j]))
				v[j] = ~0ULL;
		TH_LOG("%s: tx %llu dropped %llu, rx %llu dropped %llu",
		       ifs[i], (unsigned long long)v[0],
		       (unsigned long long)v[1], (unsigned long long)v[2],
		       (unsigned long long)v[3]);
	}
	if (!getsockopt(n->pkt, SOL_PACKET, PACKET_STATISTICS, &ps, &sl))
		TH_LOG("AF_PACKET since last read: %u frames, %u dropped",
		       ps.tp_packets, ps.tp_drops);
	TH_LOG("backlog drops %llu, noise %llu",
	       (unsigned long long)softnet_drops(),
	       (unsigned long long)n->noise);
	if (n->cfg->macvtap && ip_cmd("tc -s qdisc show dev %s >&2", n->ifname))
		TH_LOG("no qdisc statistics for %s", n->ifname);
}

static void rig_open(struct __test_metadata *_metadata, struct rig *n)
{
	const char *path = n->cfg->upstream ? UPSTREAM_NET : KVH_NET;
	int r;

	n->fd = open(path, O_RDWR | O_CLOEXEC);
	if (n->fd < 0 && errno == ENOENT && n->cfg->upstream)
		setup_skip(_metadata, "/dev/vhost-net absent (load vhost_net)");
	ASSERT_LE(0, n->fd) TH_LOG("open %s: %s", path, strerror(errno));
	if (n->cfg->macvtap) {
		r = macvtap_create(n);
		if (r == -ENOENT)
			setup_skip(_metadata,
				   "no macvtap on veth (load macvtap, veth)");
		ASSERT_EQ(0, r) TH_LOG("macvtap: %s", strerror(-r));
		return;
	}
	r = tap_create(n);
	if (r == -ENOENT)
		setup_skip(_metadata, "/dev/net/tun absent (load tun)");
	ASSERT_EQ(0, r) TH_LOG("tap: %s", strerror(-r));
}

/* SET_OWNER, the memory table, the features: what QEMU does first. */
static void rig_own(struct __test_metadata *_metadata, struct rig *n)
{
	const struct net_cfg *c = n->cfg;
	__u64 want = FBIT(VIRTIO_F_VERSION_1);
	int r;

	ASSERT_EQ(0, vq_ioctl(n->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_mem_init(&n->mem));
	ASSERT_EQ(0, vq_mem_add(&n->mem, GPA_BASE, MEM_SIZE));
	ASSERT_EQ(0, vq_mem_set_table(&n->mem, n->fd));
	if (c->mrg)
		want |= FBIT(VIRTIO_NET_F_MRG_RXBUF);
	if (c->indirect)
		want |= FBIT(VIRTIO_RING_F_INDIRECT_DESC);
	if (c->event_idx)
		want |= FBIT(VIRTIO_RING_F_EVENT_IDX);
	r = vq_negotiate(n->fd, want, &n->acked);
	ASSERT_EQ(0, r) TH_LOG("features: %s", strerror(-r));
	ASSERT_EQ(want, n->acked)
		TH_LOG("device acks 0x%llx of 0x%llx",
		       (unsigned long long)n->acked, (unsigned long long)want);
	n->hlen = n->acked & (FBIT(VIRTIO_NET_F_MRG_RXBUF) |
			      FBIT(VIRTIO_F_VERSION_1)) ?
		  sizeof(struct virtio_net_hdr_mrg_rxbuf) :
		  sizeof(struct virtio_net_hdr);
}

static void rig_rings(struct __test_metadata *_metadata, struct rig *n)
{
	unsigned int i;

	for (i = 0; i < NVQS; i++) {
		ASSERT_EQ(0, vq_init(&n->vq[i], n->fd, i, NUM, &n->mem));
		vq_set_features(&n->vq[i], n->acked);
		ASSERT_EQ(0, vq_program(&n->vq[i]));
	}
}

/* Everything, up to both backends attached. */
static void rig_setup(struct __test_metadata *_metadata, struct rig *n,
		      const struct net_cfg *cfg)
{
	unsigned int i;
	int r;

	rig_init(n, cfg);
	rig_open(_metadata, n);
	rig_own(_metadata, n);
	r = tap_config(n);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", n->ifname, strerror(-r));
	r = pkt_open(n);
	ASSERT_EQ(0, r) TH_LOG("AF_PACKET on %s: %s", n->ifname,
			       strerror(-r));
	rig_rings(_metadata, n);
	for (i = 0; i < NVQS; i++) {
		r = set_backend(n, i, n->tap);
		ASSERT_EQ(0, r) TH_LOG("SET_BACKEND vq%u: %s", i, strerror(-r));
	}
	n->fbuf = malloc(BUF_SIZE);
	n->rbuf = malloc(BUF_SIZE);
	ASSERT_NE(NULL, n->fbuf);
	ASSERT_NE(NULL, n->rbuf);
	ASSERT_EQ(0, tap_stat(n, "tx_dropped", &n->tap_tx_dropped));
	ASSERT_EQ(0, tap_stat(n, "rx_dropped", &n->tap_rx_dropped));
}

static void rig_close(struct rig *n)
{
	unsigned int i;

	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	for (i = 0; i < NVQS; i++)
		vq_free(&n->vq[i]);
	vq_mem_free(&n->mem);
	if (n->pkt >= 0)
		close(n->pkt);
	if (n->tap >= 0)
		close(n->tap);
	n->pkt = -1;
	n->tap = -1;
	macvtap_destroy(n);
	free(n->tx);
	free(n->rx);
	free(n->fbuf);
	free(n->rbuf);
	n->tx = NULL;
	n->rx = NULL;
	n->fbuf = NULL;
	n->rbuf = NULL;
}

/*
 * Nothing in these tests is a ring error: no error eventfd, and for
 * kvhost no error counted.  (Log only on a failure: an ASSERT that ended
 * the test leaves the harness's log trigger set.)
 */
static void rig_check_clean(struct __test_metadata *_metadata, struct rig *n)
{
	unsigned int q;
	__u64 v;

	for (q = 0; q < NVQS && n->fd >= 0; q++) {
		if (n->vq[q].err_fd >= 0 && vq_drain_eventfd(n->vq[q].err_fd)) {
			TH_LOG("vq%u signalled an error", q);
			EXPECT_TRUE(false);
		}
		if (n->cfg->upstream || n->vq[q].err_fd < 0)
			continue;
		if (!vq_errors(n->fd, q, &v) && v) {
			TH_LOG("vq%u-errors %llu", q, (unsigned long long)v);
			EXPECT_TRUE(false);
		}
		if (!vq_broken(n->fd, q, &v) && v) {
			TH_LOG("vq%u-broken %llu", q, (unsigned long long)v);
			EXPECT_TRUE(false);
		}
	}
	if (n->noise)
		TH_LOG("%llu foreign frames on %s ignored",
		       (unsigned long long)n->noise, n->ifname);
}

/*
 * Wait for anything: a frame at the tap's host side, or a call on one of
 * the vqs in vqmask (callbacks enabled first).  1 when something is
 * there, 0 on timeout, or -errno.
 */
static int rig_wait(struct rig *n, bool pkt, unsigned int vqmask,
		    int timeout_ms)
{
	struct pollfd p[1 + NVQS];
	unsigned int q, np = 0;
	int r;

	for (q = 0; q < NVQS; q++) {
		if (!(vqmask & (1U << q)))
			continue;
		vq_enable_cb(&n->vq[q]);
		if (vq_used_pending(&n->vq[q]))
			return 1;
		p[np].fd = n->vq[q].call_fd;
		p[np++].events = POLLIN;
	}
	if (pkt) {
		p[np].fd = n->pkt;
		p[np++].events = POLLIN;
	}
	r = poll(p, np, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	for (q = 0; q < NVQS; q++)
		if (vqmask & (1U << q))
			vq_drain_eventfd(n->vq[q].call_fd);
	return r > 0;
}

/*
 * Used entries can only be for heads in flight: more pending than that
 * means used->idx went backwards or past what the driver made available.
 */
static bool used_sane(struct rig *n, unsigned int q)
{
	return vq_used_pending(&n->vq[q]) <= n->inflight[q];
}

/* TX: the guest side */

static void tx_pool(struct __test_metadata *_metadata, struct rig *n,
		    unsigned int count, __u32 size)
{
	unsigned int i;
	__u64 gpa;

	n->tx = calloc(count, sizeof(*n->tx));
	ASSERT_NE(NULL, n->tx);
	n->ntx = count;
	n->tx_size = size;
	for (i = 0; i < count; i++) {
		gpa = vq_mem_alloc(&n->mem, size + 8, 8);
		ASSERT_NE(VQ_BAD_GPA, gpa);
		/* Odd addresses on purpose. */
		n->tx[i].gpa = gpa + 1 + i % 7;
		n->tx[i].next = n->tx_free;
		n->tx_free = &n->tx[i];
	}
}

/*
 * Cut [gpa, gpa + len) into descriptors, a different way for each seq:
 * whole; header apart; header apart and the frame in three; the header
 * itself split; header and Ethernet header together; the header in three.
 */
static unsigned int tx_layout(const struct rig *n, __u64 gpa, __u32 len,
			      __u32 seq, struct vq_sg *sg)
{
	__u32 s = vq_rnd_seed(seq, 77), a, b, h = n->hlen;
	unsigned int k = 0;

	switch (seq % 6) {
	case 0:
		sg[k++] = (struct vq_sg){ gpa, len };
		break;
	case 1:
		sg[k++] = (struct vq_sg){ gpa, h };
		sg[k++] = (struct vq_sg){ gpa + h, len - h };
		break;
	case 2:
		a = 1 + vq_rnd_next(&s) % (len - h - 2);
		b = 1 + vq_rnd_next(&s) % (len - h - a - 1);
		sg[k++] = (struct vq_sg){ gpa, h };
		sg[k++] = (struct vq_sg){ gpa + h, a };
		sg[k++] = (struct vq_sg){ gpa + h + a, b };
		sg[k++] = (struct vq_sg){ gpa + h + a + b, len - h - a - b };
		break;
	case 3:
		sg[k++] = (struct vq_sg){ gpa, 5 };
		sg[k++] = (struct vq_sg){ gpa + 5, len - 5 };
		break;
	case 4:
		sg[k++] = (struct vq_sg){ gpa, h + ETH_HLEN };
		sg[k++] = (struct vq_sg){ gpa + h + ETH_HLEN,
					  len - h - ETH_HLEN };
		break;
	default:
		/* The header in three pieces (DPDK's CVE-2022-2132 class). */
		sg[k++] = (struct vq_sg){ gpa, 1 };
		sg[k++] = (struct vq_sg){ gpa + 1, 3 };
		sg[k++] = (struct vq_sg){ gpa + 4, h - 4 };
		sg[k++] = (struct vq_sg){ gpa + h, len - h };
		break;
	}
	return k;
}

/* Queue one frame on TX: its head, or -ENOSPC (no slot, no room), -errno. */
static int tx_send(struct rig *n, const __u8 *frame, __u32 len,
		   const struct virtio_net_hdr *vh, __u32 seq)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	struct txslot *s = n->tx_free;
	struct vq *vq = &n->vq[TXQ];
	struct vq_sg sg[4];
	unsigned int nsg;
	int head;

	if (!s)
		return -ENOSPC;
	if (len + n->hlen > n->tx_size)
		return -EMSGSIZE;
	memset(&h, 0, sizeof(h));
	h.hdr.flags = vh->flags;
	h.hdr.gso_type = vh->gso_type;
	h.hdr.hdr_len = htole16(vh->hdr_len);
	h.hdr.gso_size = htole16(vh->gso_size);
	h.hdr.csum_start = htole16(vh->csum_start);
	h.hdr.csum_offset = htole16(vh->csum_offset);
	if (vq_mem_write(&n->mem, s->gpa, &h, n->hlen) ||
	    vq_mem_write(&n->mem, s->gpa + n->hlen, frame, len))
		return -EFAULT;
	nsg = tx_layout(n, s->gpa, len + n->hlen, seq, sg);
	if (n->cfg->indirect)
		head = vq_add_indirect(vq, sg, nsg, 0, s);
	else
		head = vq_add(vq, sg, nsg, 0, s);
	if (head < 0)
		return head;
	n->tx_free = s->next;
	n->inflight[TXQ]++;
	return head;
}

/* Build frame seq of spec s and queue it. */
static int tx_send_spec(struct rig *n, const struct spec *s, __u32 seq)
{
	struct virtio_net_hdr vh;

	frame_build(n->fbuf, s, seq, false, &vh);
	return tx_send(n, n->fbuf, s->len, &vh, seq);
}

/* Take back every used TX buffer: how many, or -errno. */
static int tx_reap(struct __test_metadata *_metadata, struct rig *n)
{
	struct vq *vq = &n->vq[TXQ];
	struct vq_used_buf u;
	struct txslot *s;
	int r, count = 0;

	if (!used_sane(n, TXQ)) {
		TH_LOG("TX used idx %u: %u pending, %u in flight",
		       vq_used_idx(vq), vq_used_pending(vq),
		       n->inflight[TXQ]);
		return -EPROTO;
	}
	while (!(r = vq_reap(vq, &u))) {
		s = u.cookie;
		s->next = n->tx_free;
		n->tx_free = s;
		n->inflight[TXQ]--;
		count++;
		if (u.len) {
			TH_LOG("TX head %u: used len %u, want 0", u.id, u.len);
			return -EPROTO;
		}
	}
	if (r == -EIO)
		TH_LOG("TX used id %u was not in flight", u.id);
	return r == -EAGAIN ? count : r;
}

/* Wait for every TX buffer to come back. */
static void tx_drain(struct __test_metadata *_metadata, struct rig *n)
{
	int r;

	while (n->inflight[TXQ]) {
		r = vq_wait_used(&n->vq[TXQ], VQ_TIMEOUT_MS);
		ASSERT_EQ(0, r) TH_LOG("%u TX buffers never used",
				       n->inflight[TXQ]);
		ASSERT_LE(0, tx_reap(_metadata, n));
	}
	EXPECT_EQ(NUM, n->vq[TXQ].num_free);
	EXPECT_EQ(0, vq_used_pending(&n->vq[TXQ]));
}

/* TX: the host side */

/*
 * The next frame from the guest at the tap's host side: its length with
 * its header in *vh, 0 when none came within timeout_ms, or -errno
 * (-EMSGSIZE: truncated).  Frames the guest did not send are skipped.
 */
static int pkt_recv(struct rig *n, struct virtio_net_hdr *vh, __u8 *buf,
		    size_t size, int timeout_ms)
{
	long long deadline = vq_now_ms() + timeout_ms, left;
	struct pollfd p = { .fd = n->pkt, .events = POLLIN };
	struct iovec iov[2] = {
		{ .iov_base = vh, .iov_len = sizeof(*vh) },
		{ .iov_base = buf, .iov_len = size },
	};
	struct msghdr m;
	ssize_t r;

	for (;;) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		m.msg_iovlen = 2;
		r = recvmsg(n->pkt, &m, MSG_DONTWAIT);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (r >= 0 && (m.msg_flags & MSG_TRUNC))
			return -EMSGSIZE;
		if (r >= (ssize_t)(sizeof(*vh) + ETH_HLEN) &&
		    !memcmp(buf + ETH_ALEN, mac_guest, ETH_ALEN))
			return r - sizeof(*vh);
		if (r >= 0) {
			n->noise++;
			continue;
		}
		left = deadline - vq_now_ms();
		if (left <= 0)
			return 0;
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
}

/* What arrived at the tap is frame seq of spec s, with a fitting header. */
static void tx_check(struct __test_metadata *_metadata, struct rig *n,
		     const struct spec *s, __u32 seq,
		     const struct virtio_net_hdr *rvh, const __u8 *got,
		     int len)
{
	struct virtio_net_hdr vh;
	long off;

	frame_build(n->fbuf, s, seq, false, &vh);
	ASSERT_EQ(s->len, len) TH_LOG("frame %u (%s, %u bytes): got %d bytes",
				      seq, kind_name[s->kind], s->len, len);
	off = first_diff(n->fbuf, got, len);
	ASSERT_EQ(-1, off) TH_LOG("frame %u (%s, %u bytes) differs at %ld",
				  seq, kind_name[s->kind], s->len, off);
	if (spec_is_gso(s)) {
		ASSERT_EQ(vh.gso_type, rvh->gso_type)
			TH_LOG("frame %u: gso_type", seq);
		ASSERT_EQ(vh.gso_size, le16toh(rvh->gso_size))
			TH_LOG("frame %u: gso_size", seq);
	} else {
		ASSERT_EQ(VIRTIO_NET_HDR_GSO_NONE, rvh->gso_type)
			TH_LOG("frame %u (%s): gso_type", seq,
			       kind_name[s->kind]);
	}
	if (!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		ASSERT_EQ(0, rvh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			TH_LOG("frame %u: NEEDS_CSUM appeared", seq);
		return;
	}
	ASSERT_EQ(VIRTIO_NET_HDR_F_NEEDS_CSUM,
		  rvh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		TH_LOG("frame %u (%s): NEEDS_CSUM lost", seq,
		       kind_name[s->kind]);
	ASSERT_EQ(vh.csum_start, le16toh(rvh->csum_start))
		TH_LOG("frame %u: csum_start", seq);
	ASSERT_EQ(vh.csum_offset, le16toh(rvh->csum_offset))
		TH_LOG("frame %u: csum_offset", seq);
}

/*
 * Send count frames (frame i of spec[i]) a few at a time; each must come
 * out of the tap whole, in order, with its header; every TX buffer must
 * come back exactly once.
 */
static void tx_run(struct __test_metadata *_metadata, struct rig *n,
		   const struct spec *spec, unsigned int count)
{
	unsigned int sent = 0, got = 0;
	struct virtio_net_hdr rvh;
	int r;

	tx_pool(_metadata, n, 8, PKT_MAX);
	for (;;) {
		ASSERT_LE(0, tx_reap(_metadata, n));
		while (sent < count) {
			r = tx_send_spec(n, &spec[sent], sent);
			if (r == -ENOSPC)
				break;
			ASSERT_LE(0, r) TH_LOG("frame %u: %s", sent,
					       strerror(-r));
			sent++;
		}
		ASSERT_EQ(0, vq_notify(&n->vq[TXQ]));
		if (got == count)
			break;
		if (got == sent) {
			r = vq_wait_used(&n->vq[TXQ], VQ_TIMEOUT_MS);
			ASSERT_EQ(0, r) TH_LOG("no TX buffer used");
			continue;
		}
		r = pkt_recv(n, &rvh, n->rbuf, BUF_SIZE, VQ_TIMEOUT_MS);
		ASSERT_LT(0, r) TH_LOG("frame %u (%s, %u bytes) never reached %s: %s",
				       got, kind_name[spec[got].kind],
				       spec[got].len, n->ifname,
				       r ? strerror(-r) : "timeout");
		tx_check(_metadata, n, &spec[got], got, &rvh, n->rbuf, r);
		got++;
	}
	tx_drain(_metadata, n);
	r = pkt_recv(n, &rvh, n->rbuf, BUF_SIZE, 0);
	EXPECT_EQ(0, r) TH_LOG("an extra frame of %d bytes", r);
}

/* RX: the guest side */

static const __u32 mrg_sizes[] = { 1500, 64, 1000, 4096, 333, 2048, 100 };

static __u32 rx_buf_size(const struct rig *n, enum rxmode mode,
			 unsigned int i)
{
	switch (mode) {
	case RX_MRG:
		return mrg_sizes[i % ARRAY_SIZE(mrg_sizes)];
	case RX_BIG:
		return n->hlen + 16 * 4096;
	default:
		return n->hlen + SMALL_MAX;
	}
}

/*
 * RX buffers as a driver would post them: mergeable, assorted sizes, one
 * descriptor each (two through an indirect table); otherwise the header
 * apart, then the data in 4 KiB pieces (big) or one piece (small).
 */
static void rx_pool(struct __test_metadata *_metadata, struct rig *n,
		    enum rxmode mode)
{
	unsigned int i, count;
	__u64 gpa;

	switch (mode) {
	case RX_MRG:
		count = NUM;
		break;
	case RX_BIG:
		count = n->cfg->indirect ? 24 : NUM / 17;
		break;
	default:
		count = n->cfg->indirect ? NUM : NUM / 2;
		break;
	}
	n->rx = calloc(count, sizeof(*n->rx));
	ASSERT_NE(NULL, n->rx);
	n->nrx = count;
	n->rx_mode = mode;
	for (i = 0; i < count; i++) {
		n->rx[i].size = rx_buf_size(n, mode, i);
		gpa = vq_mem_alloc(&n->mem, n->rx[i].size + 8, 8);
		ASSERT_NE(VQ_BAD_GPA, gpa);
		n->rx[i].gpa = gpa + 1 + i % 5;
	}
}

static unsigned int rx_sg(const struct rig *n, const struct rxbuf *b,
			  struct vq_sg *sg)
{
	unsigned int k = 0;
	__u32 off, piece;

	if (n->rx_mode == RX_MRG) {
		if (!n->cfg->indirect) {
			sg[k++] = (struct vq_sg){ b->gpa, b->size };
			return k;
		}
		piece = b->size / 3;
		sg[k++] = (struct vq_sg){ b->gpa, piece };
		sg[k++] = (struct vq_sg){ b->gpa + piece, b->size - piece };
		return k;
	}
	sg[k++] = (struct vq_sg){ b->gpa, n->hlen };
	for (off = n->hlen; off < b->size; off += piece) {
		piece = b->size - off < 4096 ? b->size - off : 4096;
		sg[k++] = (struct vq_sg){ b->gpa + off, piece };
	}
	return k;
}

/* Post every buffer not posted, while the ring has room; then notify. */
static int rx_refill(struct rig *n)
{
	struct vq *vq = &n->vq[RXQ];
	struct vq_sg sg[VQ_INDIRECT_MAX];
	unsigned int i, nsg;
	struct rxbuf *b;
	__u8 *hva;
	int r;

	for (i = 0; i < n->nrx && n->rx_posted < n->nrx; i++) {
		b = &n->rx[n->rx_next];
		if (b->posted) {
			n->rx_next = (n->rx_next + 1) % n->nrx;
			continue;
		}
		hva = vq_mem_hva(&n->mem, b->gpa, b->size);
		if (!hva)
			return -EFAULT;
		memset(hva, SENTINEL, b->size);
		nsg = rx_sg(n, b, sg);
		if (n->cfg->indirect)
			r = vq_add_indirect(vq, sg, 0, nsg, b);
		else
			r = vq_add(vq, sg, 0, nsg, b);
		if (r == -ENOSPC)
			break;
		if (r < 0)
			return r;
		b->posted = true;
		n->rx_posted++;
		n->inflight[RXQ]++;
		n->rx_next = (n->rx_next + 1) % n->nrx;
	}
	return vq_notify(vq);
}

/*
 * The next packet in the RX used ring, as a driver takes it: 1 with the
 * header and frame in buf (*len bytes) and the buffers it took in *nbufs,
 * 0 while there is none or it is not complete, or -errno (-EIO: a used id
 * not in flight; -EPROTO: an impossible length or num_buffers).  The
 * buffers are not posted again.
 */
static int rx_take(struct __test_metadata *_metadata, struct rig *n,
		   __u8 *buf, __u32 *len, unsigned int *nbufs)
{
	struct vq *vq = &n->vq[RXQ];
	struct vring_used_elem *e;
	unsigned int need = 1, i;
	struct vq_used_buf u;
	struct rxbuf *b;
	__u32 total = 0, id;
	__u16 nb;
	__u8 *hva;

	if (!used_sane(n, RXQ)) {
		TH_LOG("RX used idx %u: %u pending, %u in flight",
		       vq_used_idx(vq), vq_used_pending(vq),
		       n->inflight[RXQ]);
		return -EPROTO;
	}
	if (!vq_used_pending(vq))
		return 0;
	if (n->cfg->mrg) {
		e = &vq->used->ring[vq->last_used & (vq->num - 1)];
		id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
		if (id >= vq->num || !vq->chain_len[id]) {
			TH_LOG("RX used id %u was not in flight", id);
			return -EIO;
		}
		b = vq->cookie[id];
		vq_mem_read(&n->mem, b->gpa + 10, &nb, sizeof(nb));
		need = le16toh(nb);
		if (!need || need > n->inflight[RXQ]) {
			TH_LOG("num_buffers %u, %u buffers posted", need,
			       n->inflight[RXQ]);
			return -EPROTO;
		}
		if (vq_used_pending(vq) < need)
			return 0;
	}
	for (i = 0; i < need; i++) {
		if (vq_reap(vq, &u)) {
			TH_LOG("RX used id %u was not in flight", u.id);
			return -EIO;
		}
		b = u.cookie;
		b->posted = false;
		n->rx_posted--;
		n->inflight[RXQ]--;
		if (u.len > b->size || total + u.len > PKT_MAX ||
		    (!i && u.len < n->hlen)) {
			TH_LOG("RX buffer %u of %u: used len %u, size %u", i,
			       need, u.len, b->size);
			return -EPROTO;
		}
		hva = vq_mem_hva(&n->mem, b->gpa, b->size);
		memcpy(buf + total, hva, u.len);
		total += u.len;
		if (u.len < b->size && hva[u.len] != SENTINEL) {
			TH_LOG("RX buffer written past its used len %u",
			       u.len);
			return -EPROTO;
		}
	}
	*len = total;
	*nbufs = need;
	return 1;
}

/*
 * Packet (header and frame) is frame seq of spec s, its header right:
 * the offload fields as the host sent them, num_buffers the buffers taken
 * (mergeable) or 1.
 */
static void rx_check(struct __test_metadata *_metadata, struct rig *n,
		     const struct spec *s, __u32 seq, const __u8 *pkt,
		     __u32 len, unsigned int nbufs)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	struct virtio_net_hdr vh;
	__u16 nb;
	long off;

	frame_build(n->fbuf, s, seq, true, &vh);
	ASSERT_EQ(s->len + n->hlen, len)
		TH_LOG("packet %u (%s, %u bytes): %u bytes with the header",
		       seq, kind_name[s->kind], s->len, len);
	off = first_diff(n->fbuf, pkt + n->hlen, s->len);
	ASSERT_EQ(-1, off) TH_LOG("packet %u (%s, %u bytes) differs at %ld",
				  seq, kind_name[s->kind], s->len, off);
	memcpy(&h, pkt, sizeof(h));
	ASSERT_EQ(vh.flags, h.hdr.flags) TH_LOG("packet %u: flags", seq);
	ASSERT_EQ(VIRTIO_NET_HDR_GSO_NONE, h.hdr.gso_type)
		TH_LOG("packet %u: gso_type", seq);
	ASSERT_EQ(0, le16toh(h.hdr.gso_size)) TH_LOG("packet %u: gso_size",
						     seq);
	ASSERT_EQ(vh.csum_start, le16toh(h.hdr.csum_start))
		TH_LOG("packet %u: csum_start", seq);
	ASSERT_EQ(vh.csum_offset, le16toh(h.hdr.csum_offset))
		TH_LOG("packet %u: csum_offset", seq);
	if (n->hlen < HDR_MAX)
		return;
	nb = le16toh(h.num_buffers);
	if (n->cfg->mrg) {
		ASSERT_EQ(nbufs, nb) TH_LOG("packet %u: num_buffers", seq);
		return;
	}
	ASSERT_EQ(1, nbufs);
	/*
	 * Without mergeable buffers virtio 1.x wants num_buffers 1; 6.1's
	 * vhost-net leaves it as the driver left it (later kernels set it:
	 * "vhost/net: Set num_buffers for virtio 1.0").
	 */
	if (n->cfg->upstream && nb == (SENTINEL << 8 | SENTINEL))
		return;
	ASSERT_EQ(1, nb) TH_LOG("packet %u: num_buffers without MRG_RXBUF",
				seq);
}

/* RX: the host side */

/* Ethernet-sized raw frame seq of a stream. */
static void small_spec(struct spec *s, __u32 seq)
{
	__u32 r = vq_rnd_seed(seq, 3);

	s->kind = K_RAW;
	s->len = 60 + r % (SMALL_MAX - 59);
	s->gso_size = 0;
}

/* Send frame seq of spec s into the tap, towards the guest. */
static int pkt_inject(struct rig *n, const struct spec *s, __u32 seq)
{
	struct virtio_net_hdr vh;
	struct iovec iov[2] = {
		{ .iov_base = &vh, .iov_len = sizeof(vh) },
		{ .iov_base = n->fbuf, .iov_len = s->len },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t r;

	frame_build(n->fbuf, s, seq, true, &vh);
	vh.hdr_len = htole16(vh.hdr_len);
	vh.gso_size = htole16(vh.gso_size);
	vh.csum_start = htole16(vh.csum_start);
	vh.csum_offset = htole16(vh.csum_offset);
	r = sendmsg(n->pkt, &m, MSG_DONTWAIT);
	if (r < 0)
		return -errno;
	return r == (ssize_t)(sizeof(vh) + s->len) ? 0 : -EIO;
}

/* Frames of a stream, injected BURST at a time with one sendmmsg(). */
#define BURST		32
static_assert(BURST * SMALL_MAX <= BUF_SIZE, "a burst fits in fbuf");

/*
 * Inject count (<= BURST) frames of the small-frame stream from seq
 * first on: 0, or -errno.
 */
static int pkt_inject_burst(struct rig *n, __u32 first, unsigned int count)
{
	struct virtio_net_hdr vh[BURST];
	struct mmsghdr mm[BURST];
	struct iovec iov[BURST][2];
	unsigned int i, done = 0;
	struct spec s;
	int r;

	memset(mm, 0, sizeof(mm));
	for (i = 0; i < count; i++) {
		small_spec(&s, first + i);
		frame_build(n->fbuf + i * SMALL_MAX, &s, first + i, true,
			    &vh[i]);
		iov[i][0] = (struct iovec){ &vh[i], sizeof(vh[i]) };
		iov[i][1] = (struct iovec){ n->fbuf + i * SMALL_MAX, s.len };
		mm[i].msg_hdr.msg_iov = iov[i];
		mm[i].msg_hdr.msg_iovlen = 2;
	}
	while (done < count) {
		r = sendmmsg(n->pkt, mm + done, count - done, MSG_DONTWAIT);
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += r;
	}
	return 0;
}

/* Is this packet one the host sent?  (Else it is counted as noise.) */
static bool rx_ours(struct rig *n, const __u8 *pkt, __u32 len)
{
	if (len >= n->hlen + ETH_HLEN &&
	    !memcmp(pkt + n->hlen + ETH_ALEN, mac_host, ETH_ALEN))
		return true;
	n->noise++;
	return false;
}

static bool rx_may_inject(const struct rig *n, unsigned int packets,
			  __u64 bytes, __u64 room)
{
	if (!packets)
		return true;
	if (bytes + (packets + 1) * n->hlen > room / 2)
		return false;
	return n->rx_mode == RX_MRG || packets < 8;
}

/*
 * Inject count frames (frame i of spec[i]), a few at a time as long as
 * the posted buffers can take them; each must reach the guest whole, in
 * order, in the right buffers with the right header.
 */
static void rx_run(struct __test_metadata *_metadata, struct rig *n,
		   enum rxmode mode, const struct spec *spec,
		   unsigned int count)
{
	unsigned int sent = 0, got = 0, nbufs;
	__u64 room = 0, ahead = 0, dropped;
	unsigned int i;
	__u32 len;
	int r;

	rx_pool(_metadata, n, mode);
	ASSERT_EQ(0, rx_refill(n));
	for (i = 0; i < n->nrx; i++)
		room += n->rx[i].size;
	while (got < count) {
		/* Half the posted room, at most 8 packets (not for MRG). */
		while (sent < count && rx_may_inject(n, sent - got, ahead +
						     spec[sent].len, room)) {
			r = pkt_inject(n, &spec[sent], sent);
			ASSERT_EQ(0, r) TH_LOG("inject %u (%u bytes): %s",
					       sent, spec[sent].len,
					       strerror(-r));
			ahead += spec[sent].len;
			sent++;
		}
		r = rx_take(_metadata, n, n->rbuf, &len, &nbufs);
		ASSERT_LE(0, r);
		if (!r) {
			r = rig_wait(n, false, 1U << RXQ, VQ_TIMEOUT_MS);
			ASSERT_LT(0, r) TH_LOG("packet %u (%u bytes) never reached the guest",
					       got, spec[got].len);
			continue;
		}
		ASSERT_EQ(0, rx_refill(n));
		if (!rx_ours(n, n->rbuf, len))
			continue;
		rx_check(_metadata, n, &spec[got], got, n->rbuf, len, nbufs);
		ahead -= spec[got].len;
		got++;
	}
	EXPECT_EQ(-ETIMEDOUT, vq_poll_used(&n->vq[RXQ], 10))
		TH_LOG("an extra packet");
	ASSERT_EQ(0, tap_stat(n, "tx_dropped", &dropped));
	EXPECT_EQ(n->tap_tx_dropped, dropped) TH_LOG("%s dropped packets",
						     n->ifname);
}

/* Frame lengths: edges (Ethernet, pages, the XDP-path limit), then random. */
static const __u32 edge_lens[] = {
	60, 61, 63, 64, 65, 127, 128, 255, 256, 511, 512, 1023, 1024, 1499,
	1500, 1514, 1515, 1518, 2047, 2048, 3000, 3500, 3700, 3800, 4095,
	4096, 4097, 8191, 9000, 16383, 32768, 49152, 65534, 65535,
};

#define NRANDOM_LENS	16
#define NSIZES		(ARRAY_SIZE(edge_lens) + NRANDOM_LENS)

static void sizes_specs(struct spec *spec, __u32 seed)
{
	__u32 s = vq_rnd_seed(seed, 1);
	unsigned int i;

	for (i = 0; i < NSIZES; i++) {
		spec[i].kind = K_RAW;
		spec[i].gso_size = 0;
		if (i < ARRAY_SIZE(edge_lens))
			spec[i].len = edge_lens[i];
		else
			spec[i].len = 60 + vq_rnd_next(&s) % (MAX_FRAME - 59);
	}
}

/* Checksum-offload frames of each kind, small to 64 KiB. */
static const __u32 csum_lens[] = { 60, 100, 1514, 3000, 9000, 65535 };
static const enum kind csum_kinds[] = { K_CSUM_UDP4, K_CSUM_TCP4,
					K_CSUM_TCP6 };
#define NCSUM		(ARRAY_SIZE(csum_lens) * ARRAY_SIZE(csum_kinds))

static void csum_specs(struct spec *spec)
{
	unsigned int i, k;
	__u32 len;

	for (k = 0; k < ARRAY_SIZE(csum_kinds); k++) {
		for (i = 0; i < ARRAY_SIZE(csum_lens); i++) {
			len = csum_lens[i];
			if (len < kind_min_len(csum_kinds[k]))
				len = kind_min_len(csum_kinds[k]);
			spec[k * ARRAY_SIZE(csum_lens) + i] = (struct spec){
				csum_kinds[k], len, 0,
			};
		}
	}
}

/*
 * GSO frames: one segment's worth (so not GSO after all), a few segments,
 * jumbo segments, the 64 KiB maximum.
 */
static const struct {
	__u32 len;
	__u16 gso_size;
} gso_shapes[] = {
	{ 200, 1448 }, { 1514, 1400 }, { 3000, 1448 }, { 4000, 536 },
	{ 9000, 8948 }, { 16384, 1200 }, { 32000, 1000 }, { 65535, 1448 },
	{ 65535, 9000 },
};

static void gso_specs(struct spec *spec, enum kind k)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(gso_shapes); i++)
		spec[i] = (struct spec){ k, gso_shapes[i].len,
					 gso_shapes[i].gso_size };
}

/* net: the data path */

FIXTURE(net) {
	struct rig n;
};

FIXTURE_VARIANT(net) {
	struct net_cfg c;
};

FIXTURE_VARIANT_ADD(net, vhost_plain) {
	.c = { .upstream = true },
};

FIXTURE_VARIANT_ADD(net, vhost_mrg) {
	.c = { .upstream = true, .mrg = true },
};

FIXTURE_VARIANT_ADD(net, vhost_ind) {
	.c = { .upstream = true, .indirect = true },
};

FIXTURE_VARIANT_ADD(net, vhost_mrg_ind) {
	.c = { .upstream = true, .mrg = true, .indirect = true },
};

FIXTURE_VARIANT_ADD(net, vhost_eidx) {
	.c = { .upstream = true, .event_idx = true },
};

FIXTURE_VARIANT_ADD(net, vhost_mrg_eidx) {
	.c = { .upstream = true, .mrg = true, .event_idx = true },
};

FIXTURE_VARIANT_ADD(net, vhost_ind_eidx) {
	.c = { .upstream = true, .indirect = true, .event_idx = true },
};

FIXTURE_VARIANT_ADD(net, vhost_mrg_ind_eidx) {
	.c = { .upstream = true, .mrg = true, .indirect = true,
	       .event_idx = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_plain) {
	.c = { .upstream = false },
};

FIXTURE_VARIANT_ADD(net, kvhost_mrg) {
	.c = { .mrg = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_ind) {
	.c = { .indirect = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_mrg_ind) {
	.c = { .mrg = true, .indirect = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_eidx) {
	.c = { .event_idx = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_mrg_eidx) {
	.c = { .mrg = true, .event_idx = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_ind_eidx) {
	.c = { .indirect = true, .event_idx = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_mrg_ind_eidx) {
	.c = { .mrg = true, .indirect = true, .event_idx = true },
};

/* A macvtap backend, as libvirt's type='direct' hands QEMU. */
FIXTURE_VARIANT_ADD(net, vhost_macvtap) {
	.c = { .upstream = true, .mrg = true, .event_idx = true,
	       .macvtap = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_macvtap) {
	.c = { .mrg = true, .event_idx = true, .macvtap = true },
};

FIXTURE_VARIANT_ADD(net, kvhost_macvtap_plain) {
	.c = { .macvtap = true },
};

FIXTURE_SETUP(net)
{
	const struct net_cfg *c = &variant->c;

	/*
	 * KVH_QUICK (scripts/ksft --quick, the debug-kernel boot): every
	 * feature off, every feature on, and the macvtaps; the mixed sets
	 * run in the stock boot.
	 */
	if (getenv("KVH_QUICK") && !c->macvtap &&
	    (c->mrg != c->indirect || c->mrg != c->event_idx))
		setup_skip(_metadata, "KVH_QUICK: mixed feature sets skipped");
	rig_setup(_metadata, &self->n, c);
}

FIXTURE_TEARDOWN(net)
{
	rig_check_clean(_metadata, &self->n);
	rig_close(&self->n);
}

/* Raw frames of 60 to 65535 bytes, random payloads. */
TEST_F(net, tx_sizes)
{
	struct spec spec[NSIZES];

	sizes_specs(spec, 1);
	tx_run(_metadata, &self->n, spec, NSIZES);
}

/* GSO TCPv4: the tap gets the whole frame and its GSO header. */
TEST_F(net, tx_gso_tcp4)
{
	struct spec spec[ARRAY_SIZE(gso_shapes)];

	gso_specs(spec, K_GSO_TCP4);
	tx_run(_metadata, &self->n, spec, ARRAY_SIZE(spec));
}

TEST_F(net, tx_gso_tcp6)
{
	struct spec spec[ARRAY_SIZE(gso_shapes)];

	gso_specs(spec, K_GSO_TCP6);
	tx_run(_metadata, &self->n, spec, ARRAY_SIZE(spec));
}

/* NEEDS_CSUM without GSO: UDPv4, TCPv4, TCPv6. */
TEST_F(net, tx_csum)
{
	struct spec spec[NCSUM];

	csum_specs(spec);
	tx_run(_metadata, &self->n, spec, NCSUM);
}

/*
 * Raw frames of 60 to 65535 bytes into the guest: across several small
 * buffers with MRG_RXBUF, one big buffer each without.
 */
TEST_F(net, rx_sizes)
{
	struct spec spec[NSIZES];

	sizes_specs(spec, 2);
	rx_run(_metadata, &self->n, variant->c.mrg ? RX_MRG : RX_BIG, spec,
	       NSIZES);
}

/* Checksum-offload frames keep NEEDS_CSUM and its offsets on the way in. */
TEST_F(net, rx_csum)
{
	struct spec spec[NCSUM];

	csum_specs(spec);
	rx_run(_metadata, &self->n, variant->c.mrg ? RX_MRG : RX_BIG, spec,
	       NCSUM);
}

/*
 * Frame seq did not come next: did it come later (overtaken) or not at
 * all (lost)?  Reads what else arrives within a second.
 */
static void late_report(struct __test_metadata *_metadata, struct rig *n,
			__u32 seq)
{
	struct virtio_net_hdr vh;
	unsigned int i;
	int r;

	for (i = 0; i < 256; i++) {
		r = pkt_recv(n, &vh, n->rbuf, BUF_SIZE, 1000);
		if (r <= 0)
			break;
		if (r >= ETH_HLEN + 8 && get32(n->rbuf + ETH_HLEN + 4) == seq) {
			TH_LOG("frame %u arrived %u frames late", seq, i + 1);
			return;
		}
	}
	TH_LOG("frame %u lost: not among the %u frames after it", seq, i);
}

/* Receive up to batch frames of a TX stream, checking each: how many. */
static int tx_stream_recv(struct __test_metadata *_metadata, struct rig *n,
			  unsigned int next, unsigned int batch)
{
	struct virtio_net_hdr vh;
	struct spec s;
	unsigned int i;
	int r;

	for (i = 0; i < batch; i++) {
		r = pkt_recv(n, &vh, n->rbuf, BUF_SIZE, 0);
		if (r <= 0)
			return r < 0 ? r : (int)i;
		small_spec(&s, next + i);
		frame_build(n->fbuf, &s, next + i, false, &vh);
		if (r == (int)s.len && !memcmp(n->rbuf, n->fbuf, s.len))
			continue;
		TH_LOG("frame %u: %d bytes, seq %u; want %u bytes", next + i,
		       r, get32(n->rbuf + ETH_HLEN + 4), s.len);
		late_report(_metadata, n, next + i);
		path_report(_metadata, n);
		return -EPROTO;
	}
	return i;
}

struct stream {
	unsigned int total;
	unsigned int window;	/* frames sent, not yet received */
	unsigned int detach_every;	/* 0: never; not at the end */
	unsigned int sent, got;
	unsigned int used;	/* TX: buffers taken back */
	unsigned int detaches;
};

/*
 * Detach the backend of vq q mid-stream, with frames and buffers in
 * flight; add more and kick: while detached nothing may be used, and
 * nothing sent that was not used.  Then attach the same tap again, and
 * let the stream check that traffic resumes (no kick needed).
 */
static void stream_detach(struct __test_metadata *_metadata, struct rig *n,
			  unsigned int q, struct stream *st)
{
	struct vq *vq = &n->vq[q];
	struct spec s;
	__u16 used;
	int r;

	ASSERT_EQ(0, set_backend(n, q, -1));
	used = vq_used_idx(vq);
	for (; st->sent - st->got < st->window && st->sent < st->total;
	     st->sent++) {
		small_spec(&s, st->sent);
		if (q == RXQ) {
			ASSERT_EQ(0, pkt_inject(n, &s, st->sent));
			continue;
		}
		r = tx_send_spec(n, &s, st->sent);
		if (r == -ENOSPC)
			break;
		ASSERT_LE(0, r);
	}
	if (q == RXQ)
		ASSERT_EQ(0, rx_refill(n));
	ASSERT_EQ(0, vq_kick(vq));
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(used, vq_used_idx(vq))
		TH_LOG("vq%u used %u buffers while detached", q,
		       (__u16)(vq_used_idx(vq) - used));
	if (q == TXQ) {
		r = tx_stream_recv(_metadata, n, st->got, st->sent - st->got);
		ASSERT_LE(0, r);
		st->got += r;
		EXPECT_GE(st->used + vq_used_pending(vq), st->got)
			TH_LOG("frames sent from buffers not used");
	}
	ASSERT_EQ(0, set_backend(n, q, n->tap));
	st->detaches++;
}

/*
 * A TX stream of small frames: sent and received in order, exactly once,
 * every TX buffer back exactly once; the backend detached and
 * re-attached every detach_every frames.
 */
static void tx_stream(struct __test_metadata *_metadata, struct rig *n,
		      struct stream *st)
{
	long long progress = vq_now_ms();
	unsigned int next_detach = st->detach_every;
	struct tpacket_stats ps;
	socklen_t sl = sizeof(ps);
	__u64 dropped;
	int r;

	tx_pool(_metadata, n, st->window * 2, HDR_MAX + SMALL_MAX);
	ASSERT_EQ(0, getsockopt(n->pkt, SOL_PACKET, PACKET_STATISTICS, &ps,
				&sl));
	while (st->got < st->total) {
		r = tx_reap(_metadata, n);
		ASSERT_LE(0, r);
		st->used += r;
		while (st->sent < st->total &&
		       st->sent - st->got < st->window) {
			struct spec s;

			small_spec(&s, st->sent);
			r = tx_send_spec(n, &s, st->sent);
			if (r == -ENOSPC)
				break;
			ASSERT_LE(0, r) TH_LOG("frame %u: %s", st->sent,
					       strerror(-r));
			st->sent++;
		}
		ASSERT_EQ(0, vq_notify(&n->vq[TXQ]));
		if (next_detach && next_detach < st->total &&
		    st->sent >= next_detach) {
			stream_detach(_metadata, n, TXQ, st);
			next_detach += st->detach_every;
			progress = vq_now_ms();
		}
		r = tx_stream_recv(_metadata, n, st->got, 64);
		ASSERT_LE(0, r);
		if (r) {
			st->got += r;
			progress = vq_now_ms();
			continue;
		}
		ASSERT_GT(progress + VQ_TIMEOUT_MS, vq_now_ms())
			TH_LOG("stuck: %u of %u frames received, %u sent, %u TX buffers in flight",
			       st->got, st->total, st->sent,
			       n->inflight[TXQ]);
		ASSERT_LE(0, rig_wait(n, true, 1U << TXQ, VQ_TIMEOUT_MS));
	}
	tx_drain(_metadata, n);
	EXPECT_EQ(0, tx_stream_recv(_metadata, n, st->got, 1));
	ASSERT_EQ(0, getsockopt(n->pkt, SOL_PACKET, PACKET_STATISTICS, &ps,
				&sl));
	EXPECT_EQ(0, ps.tp_drops) TH_LOG("the AF_PACKET socket dropped");
	ASSERT_EQ(0, tap_stat(n, "rx_dropped", &dropped));
	EXPECT_EQ(n->tap_rx_dropped, dropped) TH_LOG("%s dropped frames",
						     n->ifname);
}

/*
 * An RX stream: injected at the pace the guest takes them, so the guest
 * always has buffers posted: every frame arrives, in order, exactly once,
 * and the tap drops nothing.
 */
static void rx_stream(struct __test_metadata *_metadata, struct rig *n,
		      struct stream *st)
{
	unsigned int next_detach = st->detach_every, nbufs, room;
	long long progress = vq_now_ms();
	__u64 dropped;
	struct spec s;
	__u32 len;
	int r;

	rx_pool(_metadata, n, n->cfg->mrg ? RX_MRG : RX_SMALL);
	ASSERT_EQ(0, rx_refill(n));
	while (st->got < st->total) {
		/* Bursts, once half the window is free. */
		room = st->window - (st->sent - st->got);
		if (room > st->total - st->sent)
			room = st->total - st->sent;
		if (room > BURST)
			room = BURST;
		if (room && (room >= st->window / 2 || st->sent == st->got)) {
			r = pkt_inject_burst(n, st->sent, room);
			ASSERT_EQ(0, r) TH_LOG("inject %u-%u: %s", st->sent,
					       st->sent + room - 1,
					       strerror(-r));
			st->sent += room;
		}
		if (next_detach && next_detach < st->total &&
		    st->sent >= next_detach) {
			stream_detach(_metadata, n, RXQ, st);
			next_detach += st->detach_every;
			progress = vq_now_ms();
		}
		r = rx_take(_metadata, n, n->rbuf, &len, &nbufs);
		ASSERT_LE(0, r);
		if (r) {
			ASSERT_EQ(0, rx_refill(n));
			if (!rx_ours(n, n->rbuf, len))
				continue;
			small_spec(&s, st->got);
			rx_check(_metadata, n, &s, st->got, n->rbuf, len,
				 nbufs);
			st->got++;
			progress = vq_now_ms();
			continue;
		}
		ASSERT_GT(progress + VQ_TIMEOUT_MS, vq_now_ms())
			TH_LOG("stuck: %u of %u packets received, %u sent, %u buffers posted",
			       st->got, st->total, st->sent, n->rx_posted);
		ASSERT_LE(0, rig_wait(n, false, 1U << RXQ, VQ_TIMEOUT_MS));
	}
	EXPECT_EQ(-ETIMEDOUT, vq_poll_used(&n->vq[RXQ], 10))
		TH_LOG("an extra packet");
	ASSERT_EQ(0, tap_stat(n, "tx_dropped", &dropped));
	EXPECT_EQ(n->tap_tx_dropped, dropped) TH_LOG("%s dropped packets",
						     n->ifname);
}

/* Backend detached and re-attached mid-traffic, TX and RX. */
TEST_F(net, tx_detach_reattach)
{
	struct stream st = { .total = 1000, .window = 32,
			     .detach_every = 250 };

	tx_stream(_metadata, &self->n, &st);
	EXPECT_EQ(3, st.detaches);
}

TEST_F(net, rx_detach_reattach)
{
	struct stream st = { .total = 1000, .window = 32,
			     .detach_every = 250 };

	rx_stream(_metadata, &self->n, &st);
	EXPECT_EQ(3, st.detaches);
}

/*
 * Malformed TX headers.  What kvhost must do: drop the frame, return the
 * buffer in the used ring (length 0, in order), count the drop, and go on
 * with the next frame.  Upstream hands the header to tun, which drops
 * most bad ones itself; where it does something else, the test checks
 * that instead (see each case).
 */
enum outcome {
	DROPPED,
	DELIVERED,	/* upstream: reaches the tap as if valid */
	STALLED,	/* upstream: never used, TX stops on it */
};

static const char *const outcome_name[] = {
	"dropped", "delivered", "stalled",
};

static int drop_count(struct rig *n, __u64 *v)
{
	return vq_debugfs_get(n->fd, TXQ, KVH_DROP_COUNTER, v);
}

/*
 * Send frame BAD_SEQ of spec s with its header mangled by mangle(), then
 * a good frame; check the outcome.
 */
#define BAD_SEQ		1000

static void tx_bad(struct __test_metadata *_metadata, struct rig *n,
		   const char *what, const struct spec *s,
		   void (*mangle)(struct virtio_net_hdr *vh, __u32 len),
		   enum outcome expect)
{
	struct spec good = { K_RAW, 100, 0 };
	struct virtio_net_hdr vh, rvh;
	__u64 before = 0, after = 0;
	int bad_head, good_head, r, po;
	struct vq_used_buf u;
	bool delivered;

	if (!n->tx)
		tx_pool(_metadata, n, 4, PKT_MAX);
	if (!n->cfg->upstream) {
		r = drop_count(n, &before);
		ASSERT_EQ(0, r) TH_LOG("debugfs %s: %s", KVH_DROP_COUNTER,
				       strerror(-r));
	}
	frame_build(n->fbuf, s, BAD_SEQ, false, &vh);
	mangle(&vh, s->len);
	bad_head = tx_send(n, n->fbuf, s->len, &vh, BAD_SEQ);
	ASSERT_LE(0, bad_head);
	good_head = tx_send_spec(n, &good, BAD_SEQ + 1);
	ASSERT_LE(0, good_head);
	ASSERT_EQ(0, vq_notify(&n->vq[TXQ]));

	if (expect == STALLED) {
		EXPECT_EQ(-ETIMEDOUT, vq_poll_used(&n->vq[TXQ], QUIET_MS * 3))
			TH_LOG("%s: used (upstream stalls on it)", what);
		r = pkt_recv(n, &rvh, n->rbuf, BUF_SIZE, 0);
		EXPECT_EQ(0, r) TH_LOG("%s: a frame came out", what);
		return;
	}
	while (n->inflight[TXQ]) {
		r = vq_wait_used(&n->vq[TXQ], VQ_TIMEOUT_MS);
		ASSERT_EQ(0, r) TH_LOG("%s: %u of 2 TX buffers never used",
				       what, n->inflight[TXQ]);
		ASSERT_TRUE(used_sane(n, TXQ));
		ASSERT_EQ(0, vq_reap(&n->vq[TXQ], &u));
		EXPECT_EQ(n->inflight[TXQ] == 2 ? bad_head : good_head, u.id)
			TH_LOG("%s: used out of order", what);
		EXPECT_EQ(0, u.len);
		((struct txslot *)u.cookie)->next = n->tx_free;
		n->tx_free = u.cookie;
		n->inflight[TXQ]--;
	}
	r = pkt_recv(n, &rvh, n->rbuf, BUF_SIZE, VQ_TIMEOUT_MS);
	ASSERT_LT(0, r) TH_LOG("%s: nothing reached the tap", what);
	po = payload_off(s->kind);
	delivered = r >= po + 8 && get32(n->rbuf + po) == FRAME_MAGIC &&
		    get32(n->rbuf + po + 4) == BAD_SEQ;
	EXPECT_EQ(expect == DELIVERED, delivered)
		TH_LOG("%s: %s", what, delivered ? "it reached the tap" :
		       "it did not reach the tap (upstream's does)");
	if (delivered) {
		r = pkt_recv(n, &rvh, n->rbuf, BUF_SIZE, VQ_TIMEOUT_MS);
		ASSERT_LT(0, r) TH_LOG("%s: the good frame is lost", what);
	}
	tx_check(_metadata, n, &good, BAD_SEQ + 1, &rvh, n->rbuf, r);
	r = pkt_recv(n, &rvh, n->rbuf, BUF_SIZE, 0);
	EXPECT_EQ(0, r) TH_LOG("%s: an extra frame", what);
	if (n->cfg->upstream)
		return;
	ASSERT_EQ(0, drop_count(n, &after));
	EXPECT_EQ(before + 1, after) TH_LOG("%s: %s %llu -> %llu", what,
					    KVH_DROP_COUNTER,
					    (unsigned long long)before,
					    (unsigned long long)after);
}

static void tx_bad_case(struct __test_metadata *_metadata, struct rig *n,
			enum kind k, __u32 len,
			void (*mangle)(struct virtio_net_hdr *vh, __u32 len),
			const char *name, enum outcome upstream)
{
	struct spec s = { k, len, 1448 };
	/*
	 * Upstream's quirks are those of its tun path (XDP batching of small
	 * frames): over macvtap it validates, and drops, as kvhost does.
	 */
	enum outcome want = n->cfg->upstream && !n->cfg->macvtap ? upstream :
			    DROPPED;
	char what[96];

	snprintf(what, sizeof(what), "%s, %s %u bytes (%s)", name,
		 kind_name[k], len, outcome_name[want]);
	tx_bad(_metadata, n, what, &s, mangle, want);
}

static void hdr_len_past_end(struct virtio_net_hdr *vh, __u32 len)
{
	vh->hdr_len = len + 1;
}

static void gso_size_zero(struct virtio_net_hdr *vh, __u32 len)
{
	vh->gso_size = 0;
}

static void gso_type_2(struct virtio_net_hdr *vh, __u32 len)
{
	vh->gso_type = 2;	/* between TCPV4 (1) and UDP (3) */
}

static void gso_type_ecn_only(struct virtio_net_hdr *vh, __u32 len)
{
	vh->gso_type = VIRTIO_NET_HDR_GSO_ECN;
}

static void gso_type_0x7f(struct virtio_net_hdr *vh, __u32 len)
{
	vh->gso_type = 0x7f;
}

/* csum_start + csum_offset + 2 just past the frame, but not its header. */
static void csum_start_at_end(struct virtio_net_hdr *vh, __u32 len)
{
	vh->csum_start = len - 4;
	vh->csum_offset = 6;
}

/* ... and past the frame and its virtio-net header. */
static void csum_start_far(struct virtio_net_hdr *vh, __u32 len)
{
	vh->csum_start = len + 100;
}

/*
 * hdr_len > len.  Upstream: tun checks hdr_len only on its sendmsg path
 * (frames over about 3.5 KiB); vhost-net's batched path for smaller ones
 * (vhost_net_build_xdp, then tun_xdp_one) never looks at it: delivered.
 */
TEST_F(net, tx_bad_hdr_len)
{
	tx_bad_case(_metadata, &self->n, K_RAW, 60, hdr_len_past_end,
		    "hdr_len > len", DELIVERED);
	tx_bad_case(_metadata, &self->n, K_GSO_TCP4, 3000, hdr_len_past_end,
		    "hdr_len > len", DELIVERED);
	tx_bad_case(_metadata, &self->n, K_RAW, 8000, hdr_len_past_end,
		    "hdr_len > len", DROPPED);
	tx_bad_case(_metadata, &self->n, K_GSO_TCP6, 20000, hdr_len_past_end,
		    "hdr_len > len", DROPPED);
}

TEST_F(net, tx_bad_gso_size_zero)
{
	tx_bad_case(_metadata, &self->n, K_GSO_TCP4, 1000, gso_size_zero,
		    "gso_size 0", DROPPED);
	tx_bad_case(_metadata, &self->n, K_GSO_TCP6, 20000, gso_size_zero,
		    "gso_size 0", DROPPED);
}

TEST_F(net, tx_bad_gso_type)
{
	tx_bad_case(_metadata, &self->n, K_GSO_TCP4, 1000, gso_type_2,
		    "gso_type 2", DROPPED);
	tx_bad_case(_metadata, &self->n, K_GSO_TCP4, 20000, gso_type_2,
		    "gso_type 2", DROPPED);
	tx_bad_case(_metadata, &self->n, K_GSO_TCP6, 1000, gso_type_0x7f,
		    "gso_type 0x7f", DROPPED);
	tx_bad_case(_metadata, &self->n, K_GSO_TCP4, 1000, gso_type_ecn_only,
		    "gso_type ECN alone", DROPPED);
}

TEST_F(net, tx_bad_csum_start)
{
	tx_bad_case(_metadata, &self->n, K_CSUM_UDP4, 100, csum_start_at_end,
		    "csum_start past the end", DROPPED);
	tx_bad_case(_metadata, &self->n, K_CSUM_TCP4, 8000, csum_start_far,
		    "csum_start far past the end", DROPPED);
	tx_bad_case(_metadata, &self->n, K_GSO_TCP4, 20000, csum_start_far,
		    "csum_start far past the end", DROPPED);
}

/*
 * csum_start past the frame and its header, on a small frame.  Upstream:
 * vhost_net_build_xdp fails it with -EINVAL, vhost-net discards the
 * descriptor and stops, to meet it again on every kick: TX is stuck.
 */
TEST_F(net, tx_bad_csum_start_small)
{
	tx_bad_case(_metadata, &self->n, K_CSUM_UDP4, 100, csum_start_far,
		    "csum_start far past the end", STALLED);
}

/* bulk: 100k packets each way */

FIXTURE(bulk) {
	struct rig n;
};

FIXTURE_VARIANT(bulk) {
	struct net_cfg c;
};

/*
 * What a Linux guest negotiates.  100k packets take a minute and more each
 * way on a debug kernel under TCG: one variant per node.  The other
 * features' paths carry streams in net's detach tests.
 */
FIXTURE_VARIANT_ADD(bulk, vhost_mrg_ind_eidx) {
	.c = { .upstream = true, .mrg = true, .indirect = true,
	       .event_idx = true },
};

FIXTURE_VARIANT_ADD(bulk, kvhost_mrg_ind_eidx) {
	.c = { .mrg = true, .indirect = true, .event_idx = true },
};

FIXTURE_SETUP(bulk)
{
	rig_setup(_metadata, &self->n, &variant->c);
}

FIXTURE_TEARDOWN(bulk)
{
	rig_check_clean(_metadata, &self->n);
	rig_close(&self->n);
}

#define BULK_PACKETS	100000

/* KVH_BULK_PACKETS overrides the count (scripts/ksft --bulk). */
static unsigned int bulk_packets(void)
{
	const char *e = getenv("KVH_BULK_PACKETS");
	unsigned int n = e ? strtoul(e, NULL, 0) : 0;

	return n ? n : BULK_PACKETS;
}

TEST_F_TIMEOUT(bulk, tx_100k, 300)
{
	struct stream st = { .total = bulk_packets(), .window = 64 };
	long long t = vq_now_ms();

	tx_stream(_metadata, &self->n, &st);
	TH_LOG("%u frames in %lld ms", st.got, vq_now_ms() - t);
}

TEST_F_TIMEOUT(bulk, rx_100k, 300)
{
	struct stream st = { .total = bulk_packets(), .window = 64 };
	long long t = vq_now_ms();

	rx_stream(_metadata, &self->n, &st);
	TH_LOG("%u packets in %lld ms", st.got, vq_now_ms() - t);
}

/*
 * busy: VHOST_SET_VRING_BUSYLOOP_TIMEOUT on TX.  With a timeout the worker,
 * once the ring runs dry, polls it for that long before asking for kicks
 * again: a frame queued without a kick in that window still goes out.
 * The worker is pinned to CPU 0 and the test to CPU 1, so that the test
 * waking up does not end the worker's polling (need_resched).
 */

FIXTURE(busy) {
	struct rig n;
};

FIXTURE_VARIANT(busy) {
	struct net_cfg c;
};

FIXTURE_VARIANT_ADD(busy, vhost) {
	.c = { .upstream = true },
};

FIXTURE_VARIANT_ADD(busy, kvhost) {
	.c = { .upstream = false },
};

/* Pin the device's worker threads to @cpu; how many, or -errno. */
static int pin_workers(const struct rig *n, int cpu)
{
	pid_t tids[8];
	cpu_set_t set;
	int nt, i;

	nt = vq_workers(getpid(), n->cfg->upstream, tids, 8);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	for (i = 0; i < nt; i++)
		if (sched_setaffinity(tids[i], sizeof(set), &set))
			return -errno;
	return nt;
}

static int set_busyloop(struct rig *n, unsigned int q, unsigned int usec)
{
	struct vhost_vring_state st = { .index = q, .num = usec };

	return vq_ioctl(n->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st);
}

FIXTURE_SETUP(busy)
{
	cpu_set_t set;

	if (get_nprocs() < 2)
		setup_skip(_metadata, "needs two CPUs");
	rig_setup(_metadata, &self->n, &variant->c);
	tx_pool(_metadata, &self->n, 4, HDR_MAX + SMALL_MAX);
	ASSERT_LT(0, pin_workers(&self->n, 0));
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
}

FIXTURE_TEARDOWN(busy)
{
	rig_check_clean(_metadata, &self->n);
	rig_close(&self->n);
}

/* Wait until the device clears VRING_USED_F_NO_NOTIFY (no event idx). */
static int kicks_wanted(struct vq *vq, int timeout_ms)
{
	long long deadline = vq_now_ms() + timeout_ms;

	while (__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) &
	       VRING_USED_F_NO_NOTIFY) {
		if (vq_now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/* Frame seq: queued, kicked or not; 0 or -errno. */
static int busy_send(struct rig *n, __u32 seq, bool kick)
{
	struct spec s;
	int r;

	small_spec(&s, seq);
	r = tx_send_spec(n, &s, seq);
	if (r < 0)
		return r;
	return kick ? vq_kick(&n->vq[TXQ]) : 0;
}

/* Take back every TX buffer and check frames first..last reached the tap. */
static void busy_collect(struct __test_metadata *_metadata, struct rig *n,
			 __u32 first, __u32 last)
{
	struct virtio_net_hdr rvh;
	struct spec s;
	__u32 seq;
	int r;

	tx_drain(_metadata, n);
	for (seq = first; seq <= last; seq++) {
		small_spec(&s, seq);
		r = pkt_recv(n, &rvh, n->rbuf, BUF_SIZE, VQ_TIMEOUT_MS);
		ASSERT_LT(0, r) TH_LOG("frame %u never reached the tap", seq);
		tx_check(_metadata, n, &s, seq, &rvh, n->rbuf, r);
	}
}

TEST_F(busy, unkicked_frame_served_while_polling)
{
	struct rig *n = &self->n;
	__u32 seq = 2;
	int tries, r = -ETIMEDOUT;

	/*
	 * Without busy polling, a frame nobody kicks for stays queued.  Only
	 * once the worker has asked for kicks again: until then it still
	 * looks at the ring, as a device should.
	 */
	ASSERT_EQ(0, set_busyloop(n, TXQ, 0));
	ASSERT_EQ(0, busy_send(n, 0, true));
	ASSERT_EQ(0, vq_wait_used(&n->vq[TXQ], VQ_TIMEOUT_MS));
	ASSERT_LE(0, tx_reap(_metadata, n));
	ASSERT_EQ(0, kicks_wanted(&n->vq[TXQ], VQ_TIMEOUT_MS))
		TH_LOG("the worker never asked for kicks again");
	/* ... and is past its last look at avail->idx. */
	usleep(QUIET_MS * 1000);
	ASSERT_EQ(0, busy_send(n, 1, false));
	EXPECT_EQ(-ETIMEDOUT, vq_poll_used(&n->vq[TXQ], QUIET_MS * 3))
		TH_LOG("frame 1 was sent without a kick or busy polling");
	ASSERT_EQ(0, vq_kick(&n->vq[TXQ]));
	busy_collect(_metadata, n, 0, 1);

	/*
	 * With 5 s of it, the worker is still polling when the next frame
	 * comes.  Another task waking on the worker's CPU ends polling early
	 * (as it should): up to three tries.
	 */
	ASSERT_EQ(0, set_busyloop(n, TXQ, 5000000));
	for (tries = 0; tries < 3 && r; tries++, seq += 2) {
		ASSERT_EQ(0, busy_send(n, seq, true));
		ASSERT_EQ(0, vq_wait_used(&n->vq[TXQ], VQ_TIMEOUT_MS));
		ASSERT_LE(0, tx_reap(_metadata, n));
		ASSERT_EQ(0, busy_send(n, seq + 1, false));
		r = vq_poll_used(&n->vq[TXQ], 4000);
		ASSERT_EQ(0, vq_kick(&n->vq[TXQ]));
		busy_collect(_metadata, n, seq, seq + 1);
	}
	EXPECT_EQ(0, r) TH_LOG("no frame queued while the worker polled was served in %d tries",
			       tries);
}

/* How often polling_yields_to_ioctl_and_close tries to catch a poll. */
#define BUSY_TRIES	10

/* Frame seq sent and used; then is the worker still polling after 100 ms? */
static bool busy_polling_after(struct __test_metadata *_metadata,
			       struct rig *n, __u32 seq)
{
	struct vq *vq = &n->vq[TXQ];

	if (busy_send(n, seq, true) || vq_wait_used(vq, VQ_TIMEOUT_MS) ||
	    tx_reap(_metadata, n) != 1)
		return false;
	usleep(QUIET_MS * 1000);
	return __atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) &
	       VRING_USED_F_NO_NOTIFY;
}

/*
 * A polling worker keeps kicks off (VRING_USED_F_NO_NOTIFY) until its
 * timeout.  kvhost's also gives up at once for an ioctl on the vq and for
 * close; upstream's holds them off until the timeout ends (its close took
 * the full timeout here), so its variant uses a short timeout and only
 * checks the flag.
 */
TEST_F(busy, polling_yields_to_ioctl_and_close)
{
	unsigned int usec = self->n.cfg->upstream ? 2000000 : 30000000;
	struct rig *n = &self->n;
	bool polling = false;
	__u32 seq;
	long long t;

	ASSERT_EQ(0, set_busyloop(n, TXQ, usec));
	/*
	 * As above, another task may end polling early: a kthread waking
	 * on CPU 0 is enough, and under a debug kernel on a loaded host
	 * that happens in many a 100 ms window.  Up to BUSY_TRIES tries.
	 */
	for (seq = 0; seq < BUSY_TRIES && !polling; seq++)
		polling = busy_polling_after(_metadata, n, seq);
	ASSERT_TRUE(polling)
		TH_LOG("the worker stopped polling within %d ms, %u times in a row",
		       QUIET_MS, seq);
	if (n->cfg->upstream)
		return;
	t = vq_now_ms();
	ASSERT_EQ(0, set_busyloop(n, TXQ, usec));
	EXPECT_GT(5000, vq_now_ms() - t)
		TH_LOG("SET_VRING_BUSYLOOP_TIMEOUT waited %lld ms",
		       vq_now_ms() - t);
	/* The ioctl ended the polling: start it again, then close. */
	polling = false;
	for (; seq < 2 * BUSY_TRIES && !polling; seq++)
		polling = busy_polling_after(_metadata, n, seq);
	ASSERT_TRUE(polling)
		TH_LOG("the worker did not poll again after the ioctl");
	t = vq_now_ms();
	ASSERT_EQ(0, close(n->fd));
	n->fd = -1;
	EXPECT_GT(5000, vq_now_ms() - t)
		TH_LOG("close waited %lld ms", vq_now_ms() - t);
}

/*
 * backend: VHOST_NET_SET_BACKEND on its own.  Upstream's order of checks
 * (drivers/vhost/net.c, 6.1): copying the argument (EFAULT); the owner
 * (EPERM); the index (ENOBUFS); the vq's memory table, log and ring
 * addresses (vhost_vq_access_ok: EFAULT, also for fd -1); the fd: -1
 * detaches, a raw AF_PACKET socket or a tun/tap/macvtap fd attaches,
 * anything else, even a closed fd, is ENOTSOCK; and only when a new
 * socket attaches, the used ring is written and read (EFAULT, and the old
 * backend stays).  A ring never set up has NULL addresses, which pass
 * access_ok: ENOTSOCK beats EFAULT there.
 */

FIXTURE(backend) {
	struct rig n;
};

FIXTURE_VARIANT(backend) {
	struct net_cfg c;
};

FIXTURE_VARIANT_ADD(backend, vhost) {
	.c = { .upstream = true },
};

FIXTURE_VARIANT_ADD(backend, kvhost) {
	.c = { .upstream = false },
};

FIXTURE_SETUP(backend)
{
	rig_init(&self->n, &variant->c);
	rig_open(_metadata, &self->n);
}

FIXTURE_TEARDOWN(backend)
{
	rig_close(&self->n);
}

/* Is vq q running (a backend attached)?  SET_VRING_NUM says EBUSY then. */
static bool vq_running(struct rig *n, unsigned int q)
{
	struct vhost_vring_state s = { .index = q, .num = NUM };

	return vq_ioctl(n->fd, VHOST_SET_VRING_NUM, &s) == -EBUSY;
}

static int regular_file(void)
{
	return open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
}

static int closed_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 1000);

	close(fd);
	return fd;
}

TEST_F(backend, not_owner_eperm)
{
	struct rig *n = &self->n;
	int fd = regular_file();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, set_backend(n, 0, n->tap));
	EXPECT_EQ(-EPERM, set_backend(n, 1, -1));
	EXPECT_EQ(-EPERM, set_backend(n, 2, n->tap));
	EXPECT_EQ(-EPERM, set_backend(n, 0, fd));
	close(fd);
}

TEST_F(backend, bad_pointer_efault)
{
	void *bad = mmap(NULL, VQ_PAGE_SIZE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, bad);
	ASSERT_EQ(0, vq_ioctl(self->n.fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-EFAULT, vq_ioctl(self->n.fd, VHOST_NET_SET_BACKEND, bad));
	munmap(bad, VQ_PAGE_SIZE);
}

/* No memory table yet: EFAULT for any fd, -1 too; the index comes first. */
TEST_F(backend, no_mem_table_efault)
{
	struct rig *n = &self->n;
	int fd = regular_file();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vq_ioctl(n->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-EFAULT, set_backend(n, 0, -1));
	EXPECT_EQ(-EFAULT, set_backend(n, 1, n->tap));
	EXPECT_EQ(-EFAULT, set_backend(n, 0, fd));
	EXPECT_EQ(-ENOBUFS, set_backend(n, 2, n->tap));
	close(fd);
}

TEST_F(backend, index_enobufs)
{
	static const __u32 idx[] = { 2, 3, 0x100, 0xffffffff };
	struct rig *n = &self->n;
	int fd = regular_file();
	unsigned int i;

	ASSERT_LE(0, fd);
	rig_own(_metadata, n);
	rig_rings(_metadata, n);
	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		EXPECT_EQ(-ENOBUFS, set_backend(n, idx[i], n->tap))
			TH_LOG("index %u", idx[i]);
		EXPECT_EQ(-ENOBUFS, set_backend(n, idx[i], -1));
		EXPECT_EQ(-ENOBUFS, set_backend(n, idx[i], fd));
	}
	EXPECT_FALSE(vq_running(n, 0));
	EXPECT_FALSE(vq_running(n, 1));
	close(fd);
}

/*
 * Rings never set up: detaching is fine, a non-socket is ENOTSOCK, a tap
 * is EFAULT (its used ring cannot be written) and leaves the vq stopped.
 */
TEST_F(backend, ring_not_set_up)
{
	struct rig *n = &self->n;
	int fd = regular_file();
	unsigned int q;

	ASSERT_LE(0, fd);
	rig_own(_metadata, n);
	for (q = 0; q < NVQS; q++) {
		EXPECT_EQ(0, set_backend(n, q, -1)) TH_LOG("vq%u", q);
		EXPECT_EQ(-ENOTSOCK, set_backend(n, q, fd))
			TH_LOG("vq%u", q);
		EXPECT_EQ(-EFAULT, set_backend(n, q, n->tap))
			TH_LOG("vq%u", q);
		EXPECT_FALSE(vq_running(n, q));
	}
	/* Set up now, the same vqs take the tap. */
	rig_rings(_metadata, n);
	for (q = 0; q < NVQS; q++) {
		EXPECT_EQ(0, set_backend(n, q, n->tap));
		EXPECT_TRUE(vq_running(n, q));
	}
	close(fd);
}

/* Rings that cannot be accessed: EFAULT before the fd is looked at. */
TEST_F(backend, ring_inaccessible_efault)
{
	struct rig *n = &self->n;
	struct vring_used *saved;
	int fd = regular_file();
	unsigned int q;

	ASSERT_LE(0, fd);
	rig_own(_metadata, n);
	rig_rings(_metadata, n);
	for (q = 0; q < NVQS; q++) {
		saved = n->vq[q].used;
		n->vq[q].used = (void *)KERNEL_UADDR;
		ASSERT_EQ(0, vq_set_addr(&n->vq[q], false, 0));
		n->vq[q].used = saved;
		EXPECT_EQ(-EFAULT, set_backend(n, q, -1)) TH_LOG("vq%u", q);
		EXPECT_EQ(-EFAULT, set_backend(n, q, fd)) TH_LOG("vq%u", q);
		EXPECT_EQ(-EFAULT, set_backend(n, q, n->tap))
			TH_LOG("vq%u", q);
		EXPECT_FALSE(vq_running(n, q));
		ASSERT_EQ(0, vq_set_addr(&n->vq[q], false, 0));
		EXPECT_EQ(0, set_backend(n, q, n->tap));
	}
	close(fd);
}

/*
 * Anything but a tap (or a raw AF_PACKET socket) is ENOTSOCK, a closed
 * fd included (upstream maps every lookup failure to ENOTSOCK), and
 * leaves the backend that was attached in place.
 */
TEST_F(backend, not_a_tap_enotsock)
{
	struct rig *n = &self->n;
	int fds[10], nfd = 0, i, q, r;
	static const char *const names[] = {
		"regular file", "UDP socket", "TCP socket", "unix socket",
		"AF_PACKET SOCK_DGRAM", "AF_INET SOCK_RAW", "eventfd",
		"the device", "closed fd", "fd -2",
	};

	fds[nfd++] = regular_file();
	fds[nfd++] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fds[nfd++] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fds[nfd++] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fds[nfd++] = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fds[nfd++] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	fds[nfd++] = eventfd(0, EFD_CLOEXEC);
	fds[nfd++] = n->fd;
	fds[nfd++] = closed_fd();
	fds[nfd++] = -2;
	for (i = 0; i < nfd - 2; i++)
		ASSERT_LE(0, fds[i]) TH_LOG("%s: %s", names[i],
					    strerror(errno));
	rig_own(_metadata, n);
	rig_rings(_metadata, n);
	for (q = 0; q < NVQS; q++) {
		for (i = 0; i < nfd; i++) {
			r = set_backend(n, q, fds[i]);
			EXPECT_EQ(-ENOTSOCK, r) TH_LOG("vq%d, %s: %s", q,
						       names[i], strerror(-r));
		}
		EXPECT_FALSE(vq_running(n, q));
		ASSERT_EQ(0, set_backend(n, q, n->tap));
		r = set_backend(n, q, fds[1]);
		EXPECT_EQ(-ENOTSOCK, r) TH_LOG("vq%d, UDP over a tap", q);
		EXPECT_TRUE(vq_running(n, q)) TH_LOG("the tap went");
	}
	for (i = 0; i < nfd - 3; i++)
		close(fds[i]);
}

/* Upstream also takes a raw AF_PACKET socket. */
TEST_F(backend, raw_packet_socket)
{
	struct rig *n = &self->n;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	unsigned int q;

	ASSERT_LE(0, fd);
	rig_own(_metadata, n);
	rig_rings(_metadata, n);
	for (q = 0; q < NVQS; q++) {
		EXPECT_EQ(0, set_backend(n, q, fd)) TH_LOG("vq%u", q);
		EXPECT_TRUE(vq_running(n, q));
		EXPECT_EQ(0, set_backend(n, q, -1));
		EXPECT_FALSE(vq_running(n, q));
	}
	close(fd);
}

/* Attach twice, detach twice, swap taps: all fine. */
TEST_F(backend, attach_detach)
{
	struct rig *n = &self->n;
	struct rig other;
	unsigned int q;

	rig_init(&other, n->cfg);
	ASSERT_EQ(0, tap_create(&other));
	rig_own(_metadata, n);
	rig_rings(_metadata, n);
	for (q = 0; q < NVQS; q++) {
		EXPECT_EQ(0, set_backend(n, q, n->tap));
		EXPECT_EQ(0, set_backend(n, q, n->tap));
		EXPECT_TRUE(vq_running(n, q));
		EXPECT_EQ(0, set_backend(n, q, other.tap));
		EXPECT_TRUE(vq_running(n, q));
		EXPECT_EQ(0, set_backend(n, q, -1));
		EXPECT_FALSE(vq_running(n, q));
		EXPECT_EQ(0, set_backend(n, q, -1));
	}
	EXPECT_EQ(0, set_backend(n, 0, other.tap));
	/* The device holds its own reference. */
	close(other.tap);
	EXPECT_TRUE(vq_running(n, 0));
	EXPECT_EQ(0, set_backend(n, 0, -1));
}

/*
 * guest: a guest that breaks the rules of the net device's rings, and a
 * backend that disappears.  Plain tun, both nodes.
 */

/*
 * dirty: both vrings running, then dirty logging turned on as a VMM does
 * for live migration (log base, VHOST_F_LOG_ALL, VHOST_VRING_F_LOG on each
 * vring); every page the device writes must have its bit, and no other.
 */
FIXTURE(dirty) {
	struct rig n;
	struct vq_log log;
};

FIXTURE_VARIANT(dirty) {
	struct net_cfg c;
};

FIXTURE_VARIANT_ADD(dirty, vhost) {
	.c = { .upstream = true, .mrg = true },
};

FIXTURE_VARIANT_ADD(dirty, kvhost) {
	.c = { .mrg = true },
};

FIXTURE_VARIANT_ADD(dirty, kvhost_eidx) {
	.c = { .mrg = true, .event_idx = true },
};

FIXTURE_SETUP(dirty)
{
	struct rig *n = &self->n;
	__u64 f;
	unsigned int i;
	int r;

	memset(&self->log, 0, sizeof(self->log));
	rig_setup(_metadata, n, &variant->c);
	ASSERT_EQ(0, vq_log_init(&self->log, vq_mem_end(&n->mem)));
	ASSERT_EQ(0, vq_log_set_base(&self->log, n->fd));
	f = n->acked | FBIT(VHOST_F_LOG_ALL);
	r = vq_ioctl(n->fd, VHOST_SET_FEATURES, &f);
	ASSERT_EQ(0, r) TH_LOG("LOG_ALL while running: %s", strerror(-r));
	for (i = 0; i < NVQS; i++) {
		r = vq_set_addr(&n->vq[i], true, n->vq[i].used_gpa);
		ASSERT_EQ(0, r) TH_LOG("VRING_F_LOG vq%u: %s", i,
				       strerror(-r));
	}
}

FIXTURE_TEARDOWN(dirty)
{
	rig_check_clean(_metadata, &self->n);
	rig_close(&self->n);
	vq_log_free(&self->log);
}

/* Is every page of [gpa, gpa + len) logged (@want) or none (!@want)? */
static bool log_range_is(const struct vq_log *log, __u64 gpa, __u64 len,
			 bool want)
{
	__u64 p;

	for (p = gpa & ~(__u64)(VQ_PAGE_SIZE - 1); p < gpa + len;
	     p += VQ_PAGE_SIZE)
		if (vq_log_test(log, p) != want)
			return false;
	return true;
}

/* The used ring's pages: the entry at @slot and the index. */
static bool log_used_ok(const struct vq_log *log, const struct vq *vq,
			unsigned int slot)
{
	__u64 entry = vq->used_gpa + 4 + (__u64)slot * 8;

	return log_range_is(log, entry, 8, true) &&
	       log_range_is(log, vq->used_gpa + 2, 2, true);
}

/*
 * RX: one three-page buffer, a frame that fills part of its first two
 * pages.  Those two pages and the used ring's are logged; the third page,
 * never written, is not.
 */
TEST_F(dirty, rx_data_and_used_logged)
{
	const struct spec s = { K_RAW, 6000, 0 };
	struct rig *n = &self->n;
	struct vq *vq = &n->vq[RXQ];
	__u64 buf = vq_mem_alloc(&n->mem, 3 * VQ_PAGE_SIZE, VQ_PAGE_SIZE);
	struct vq_sg sg = { buf + 100, 3 * VQ_PAGE_SIZE - 100 };
	struct vq_used_buf u;
	unsigned int tries, slot;
	__u8 *hva;

	ASSERT_NE(VQ_BAD_GPA, buf);
	hva = vq_mem_hva(&n->mem, buf, 3 * VQ_PAGE_SIZE);
	ASSERT_NE(NULL, hva);
	for (tries = 0; tries < 8; tries++) {
		slot = vq->last_used & (vq->num - 1);
		memset(hva, SENTINEL, 3 * VQ_PAGE_SIZE);
		ASSERT_LE(0, vq_add(vq, &sg, 0, 1, NULL));
		n->inflight[RXQ]++;
		ASSERT_EQ(0, vq_notify(vq));
		vq_log_clear(&self->log);
		ASSERT_EQ(0, pkt_inject(n, &s, tries));
		ASSERT_EQ(0, vq_wait_used(vq, VQ_TIMEOUT_MS))
			TH_LOG("frame %u not received", tries);
		ASSERT_EQ(0, vq_reap(vq, &u));
		n->inflight[RXQ]--;
		if (rx_ours(n, hva + 100, u.len))
			break;
	}
	ASSERT_GT(8, tries) TH_LOG("only foreign frames arrived");
	ASSERT_EQ(n->hlen + s.len, u.len);
	EXPECT_TRUE(log_range_is(&self->log, buf, 100 + u.len, true))
		TH_LOG("the written pages of the buffer are not all logged");
	EXPECT_TRUE(log_range_is(&self->log, buf + 2 * VQ_PAGE_SIZE,
				 VQ_PAGE_SIZE, false))
		TH_LOG("the page nothing was written to is logged");
	EXPECT_TRUE(log_used_ok(&self->log, vq, slot))
		TH_LOG("the RX used ring is not logged");
	/* Nothing else: two buffer pages, at most two of the used ring. */
	EXPECT_GE(4, vq_log_count(&self->log));
}

/* TX: the device writes no data, only the used ring. */
TEST_F(dirty, tx_used_logged_data_not)
{
	const struct spec s = { K_RAW, 3000, 0 };
	struct rig *n = &self->n;
	struct vq *vq = &n->vq[TXQ];
	__u64 buf = vq_mem_alloc(&n->mem, 2 * VQ_PAGE_SIZE, VQ_PAGE_SIZE);
	struct virtio_net_hdr vh;
	struct vq_sg sg = { buf, n->hlen + s.len };
	struct vq_used_buf u;
	unsigned int slot = vq->last_used & (vq->num - 1);

	ASSERT_NE(VQ_BAD_GPA, buf);
	frame_build(n->fbuf, &s, 7, false, &vh);
	ASSERT_EQ(0, vq_mem_write(&n->mem, buf + n->hlen, n->fbuf, s.len));
	vq_log_clear(&self->log);
	ASSERT_LE(0, vq_add(vq, &sg, 1, 0, NULL));
	ASSERT_EQ(0, vq_kick(vq));
	ASSERT_EQ(0, vq_wait_used(vq, VQ_TIMEOUT_MS));
	ASSERT_EQ(0, vq_reap(vq, &u));
	EXPECT_EQ(s.len, pkt_recv(n, &vh, n->rbuf, BUF_SIZE, VQ_TIMEOUT_MS))
		TH_LOG("the frame did not reach the tap");
	EXPECT_TRUE(log_used_ok(&self->log, vq, slot))
		TH_LOG("the TX used ring is not logged");
	EXPECT_TRUE(log_range_is(&self->log, buf, 2 * VQ_PAGE_SIZE, false))
		TH_LOG("a TX buffer (only read) is logged");
	EXPECT_GE(2, vq_log_count(&self->log));
}

FIXTURE(guest) {
	struct rig n;
};

FIXTURE_VARIANT(guest) {
	struct net_cfg c;
};

FIXTURE_VARIANT_ADD(guest, vhost) {
	.c = { .upstream = true, .mrg = true, .event_idx = true },
};

FIXTURE_VARIANT_ADD(guest, kvhost) {
	.c = { .upstream = false, .mrg = true, .event_idx = true },
};

FIXTURE_SETUP(guest)
{
	rig_setup(_metadata, &self->n, &variant->c);
}

FIXTURE_TEARDOWN(guest)
{
	rig_close(&self->n);
}

/* Reap used TX buffers until none is in flight or @ms pass. */
static void tx_drain_within(struct __test_metadata *_metadata, struct rig *n,
			    int ms)
{
	long long end = vq_now_ms() + ms;
	struct vq_used_buf u;

	while (n->inflight[TXQ] && vq_now_ms() < end) {
		if (vq_wait_used(&n->vq[TXQ], end - vq_now_ms()))
			break;
		ASSERT_TRUE(used_sane(n, TXQ));
		ASSERT_EQ(0, vq_reap(&n->vq[TXQ], &u));
		((struct txslot *)u.cookie)->next = n->tx_free;
		n->tx_free = u.cookie;
		n->inflight[TXQ]--;
	}
}

/*
 * Kick vq q holding one bad chain: the error eventfd fires, the chain is
 * not used, and kvhost counts one error and stops the vring.
 */
static void expect_net_ring_error(struct __test_metadata *_metadata,
				  struct rig *n, unsigned int q,
				  const char *what)
{
	__u64 errs = 0, broken = 0;

	EXPECT_EQ(1, vq_wait_err(&n->vq[q], VQ_TIMEOUT_MS))
		TH_LOG("%s: the error eventfd did not fire", what);
	EXPECT_EQ(0, vq_used_idx(&n->vq[q])) TH_LOG("%s: used", what);
	if (n->cfg->upstream)
		return;
	ASSERT_EQ(0, vq_errors(n->fd, q, &errs));
	EXPECT_EQ(1, errs) TH_LOG("%s: vq%u-errors", what, q);
	ASSERT_EQ(0, vq_broken(n->fd, q, &broken));
	EXPECT_EQ(1, broken) TH_LOG("%s: vq%u-broken", what, q);
}

/* A TX chain with a writable descriptor: nothing for a device to send. */
TEST_F(guest, tx_writable_desc)
{
	struct rig *n = &self->n;
	struct spec s = { K_RAW, 100, 0 };
	struct virtio_net_hdr vh;
	struct vq_sg sg[2];
	int head;

	sg[0].gpa = vq_mem_alloc(&n->mem, HDR_MAX + s.len, 8);
	sg[1].gpa = vq_mem_alloc(&n->mem, 64, 8);
	ASSERT_NE(VQ_BAD_GPA, sg[0].gpa);
	ASSERT_NE(VQ_BAD_GPA, sg[1].gpa);
	frame_build(n->fbuf, &s, 1, false, &vh);
	ASSERT_EQ(0, vq_mem_write(&n->mem, sg[0].gpa + n->hlen, n->fbuf,
				  s.len));
	sg[0].len = n->hlen + s.len;
	sg[1].len = 64;
	head = vq_add(&n->vq[TXQ], sg, 1, 1, NULL);
	ASSERT_LE(0, head);
	ASSERT_EQ(0, vq_kick(&n->vq[TXQ]));
	expect_net_ring_error(_metadata, n, TXQ, "TX with a writable part");
	EXPECT_EQ(0, pkt_recv(n, &vh, n->rbuf, BUF_SIZE, QUIET_MS))
		TH_LOG("a frame reached the tap");
}

/*
 * Every frame with its virtio-net header in three descriptors (1, 3 and
 * the rest of its bytes; the DPDK CVE-2022-2132 class): assembled right,
 * plain, checksummed and GSO.
 */
TEST_F(guest, tx_hdr_in_three_descs)
{
	const struct spec s[3] = {
		{ K_RAW, 60, 0 },
		{ K_CSUM_TCP4, 1000, 0 },
		{ K_GSO_TCP4, 20000, 1448 },
	};
	struct rig *n = &self->n;
	struct virtio_net_hdr vh;
	unsigned int i;
	__u32 seq;
	int r;

	tx_pool(_metadata, n, 4, HDR_MAX + 20000);
	for (i = 0; i < 3; i++) {
		seq = 6 * i + 5;	/* tx_layout()'s three-piece header */
		ASSERT_LE(0, tx_send_spec(n, &s[i], seq));
		ASSERT_EQ(0, vq_notify(&n->vq[TXQ]));
		r = pkt_recv(n, &vh, n->rbuf, BUF_SIZE, VQ_TIMEOUT_MS);
		ASSERT_LT(0, r) TH_LOG("frame %u did not reach the tap", i);
		tx_check(_metadata, n, &s[i], seq, &vh, n->rbuf, r);
	}
	tx_drain_within(_metadata, n, VQ_TIMEOUT_MS);
	EXPECT_EQ(0, n->inflight[TXQ]);
}

/* An RX chain with a readable descriptor: the device may not write it. */
TEST_F(guest, rx_readable_desc)
{
	struct rig *n = &self->n;
	struct vq_sg sg[2];
	struct spec s;
	int head;

	sg[0].gpa = vq_mem_alloc(&n->mem, 64, 8);
	sg[1].gpa = vq_mem_alloc(&n->mem, 2048, 8);
	ASSERT_NE(VQ_BAD_GPA, sg[0].gpa);
	ASSERT_NE(VQ_BAD_GPA, sg[1].gpa);
	sg[0].len = 64;
	sg[1].len = 2048;
	head = vq_add(&n->vq[RXQ], sg, 1, 1, NULL);
	ASSERT_LE(0, head);
	ASSERT_EQ(0, vq_kick(&n->vq[RXQ]));
	small_spec(&s, 1);
	ASSERT_EQ(0, pkt_inject(n, &s, 1));
	expect_net_ring_error(_metadata, n, RXQ, "RX with a readable part");
}

/*
 * The tap's link is deleted with TX frames in flight: every buffer still
 * comes back (its frame dropped; upstream keeps them until it has a new
 * backend), nothing is a ring error, and the queues work again on a new
 * tap.
 */
TEST_F(guest, tap_deleted_mid_traffic)
{
	const struct spec s = { K_RAW, 1000, 0 }, small = { K_RAW, 100, 0 };
	struct rig *n = &self->n;
	struct virtio_net_hdr vh;
	unsigned int i, q;
	__u64 v;

	tx_pool(_metadata, n, 64, HDR_MAX + SMALL_MAX);
	for (i = 0; i < 32; i++)
		ASSERT_LE(0, tx_send_spec(n, &s, i));
	ASSERT_EQ(0, vq_notify(&n->vq[TXQ]));
	ASSERT_EQ(0, rtnl_link_del(n->ifname));
	for (; i < 64; i++)
		ASSERT_LE(0, tx_send_spec(n, &s, i));
	ASSERT_EQ(0, vq_notify(&n->vq[TXQ]));
	tx_drain_within(_metadata, n, n->cfg->upstream ? QUIET_MS * 20 :
			VQ_TIMEOUT_MS);
	/*
	 * Upstream stops its TX vring instead (the error eventfd fires, the
	 * buffers stay held, a new backend does not restart it): check only
	 * that it lets go at close.
	 */
	if (n->cfg->upstream) {
		long long t = vq_now_ms();

		TH_LOG("upstream: %u of 64 TX buffers held", n->inflight[TXQ]);
		EXPECT_EQ(0, close(n->fd));
		n->fd = -1;
		EXPECT_GT(VQ_TIMEOUT_MS, vq_now_ms() - t);
		return;
	}
	ASSERT_EQ(0, n->inflight[TXQ])
		TH_LOG("%u TX buffers never came back", n->inflight[TXQ]);
	for (q = 0; q < NVQS; q++) {
		EXPECT_EQ(0, vq_poll_eventfd(n->vq[q].err_fd, 0, NULL));
		ASSERT_EQ(0, vq_errors(n->fd, q, &v));
		EXPECT_EQ(0, v) TH_LOG("vq%u counted errors", q);
	}

	/* A new tap on the same vrings. */
	close(n->pkt);
	close(n->tap);
	n->pkt = -1;
	ASSERT_EQ(0, tap_create(n));
	ASSERT_EQ(0, tap_config(n));
	ASSERT_EQ(0, pkt_open(n));
	for (q = 0; q < NVQS; q++)
		ASSERT_EQ(0, set_backend(n, q, n->tap));
	tx_drain_within(_metadata, n, VQ_TIMEOUT_MS);
	ASSERT_EQ(0, n->inflight[TXQ]);
	while (pkt_recv(n, &vh, n->rbuf, BUF_SIZE, QUIET_MS) > 0)
		;
	tx_run(_metadata, n, &small, 1);
	rx_run(_metadata, n, RX_MRG, &small, 1);
}

TEST_HARNESS_MAIN
