// SPDX-License-Identifier: GPL-2.0
/*
 * net_bench: one packet-rate measurement on a vhost-net node, played by a
 * userspace guest driver (virtq.c) on a tap.  Prints one JSON line.
 *
 *   net_bench --node /dev/kvhost-net|/dev/vhost-net --mode tx|rx|gso
 *             [--size BYTES] [--seconds S] [--ring N]
 *
 * tx   frames of --size bytes (with the Ethernet header) to a MAC nobody
 *      has: the host stack drops them on arrival
 * rx   frames of --size bytes sent into the tap from the host side
 *      (AF_PACKET on the tap) by a second thread as fast as it can; the
 *      rate is what reached the guest's ring
 * gso  64 KiB TCPv4 GSO frames (MSS 1448), TX
 *
 * The features are a Linux guest's: VERSION_1, EVENT_IDX, MRG_RXBUF.  CPU
 * cost: the device's worker threads' utime + stime over the window.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_net.h>

#include "virtq.h"

#define RXQ		0
#define TXQ		1
#define GPA_BASE	0x100000ULL
#define MEM_SIZE	(128ULL << 20)
#define HLEN		sizeof(struct virtio_net_hdr_mrg_rxbuf)
#define GSO_LEN		65535
#define GSO_MSS		1448
#define RX_BUF		2048
#define WARMUP_MS	500
#define INJECT_BATCH	64

static const __u8 mac_guest[ETH_ALEN] = { 0x02, 0x6b, 0x76, 0x62, 0, 1 };
static const __u8 mac_nobody[ETH_ALEN] = { 0x02, 0x6b, 0x76, 0x62, 0, 9 };

struct bench {
	const char *node;
	const char *mode;
	unsigned int size;
	unsigned int seconds;
	unsigned int ring;
	int fd, tap, pkt;
	char ifname[IFNAMSIZ];
	struct vq_mem mem;
	struct vq vq[2];
	__u64 buf_gpa;		/* ring-many buffers of slot bytes */
	unsigned int slot;
	int stop;		/* tells the injector to stop */
};

static void die(const char *what, int err)
{
	fprintf(stderr, "net_bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* utime + stime, in ns, of the device's workers. */
static long long worker_cpu_ns(const struct bench *b)
{
	unsigned long long t, total = 0;
	pid_t tids[8];
	int n, i;

	n = vq_workers(getpid(), !strstr(b->node, "kvhost"), tids, 8);
	for (i = 0; i < n; i++)
		if (!vq_task_ticks(tids[i], &t))
			total += t;
	return total * (1000000000LL / sysconf(_SC_CLK_TCK));
}

static void tap_setup(struct bench *b)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned int offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	int hlen = HLEN, s;
	char path[96];
	FILE *f;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "kvhb%%d");
	b->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (b->tap < 0 || ioctl(b->tap, TUNSETIFF, &ifr) ||
	    ioctl(b->tap, TUNSETVNETHDRSZ, &hlen) ||
	    ioctl(b->tap, TUNSETOFFLOAD, offload))
		die("tap", errno);
	memcpy(b->ifname, ifr.ifr_name, sizeof(b->ifname));
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 b->ifname);
	f = fopen(path, "we");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifr.ifr_mtu = 9000;
	if (s < 0 || ioctl(s, SIOCSIFMTU, &ifr) || ioctl(s, SIOCGIFFLAGS, &ifr))
		die("tap flags", errno);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		die("tap up", errno);
	close(s);
	if (strcmp(b->mode, "rx"))
		return;
	b->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = if_nametoindex(b->ifname);
	if (b->pkt < 0 || bind(b->pkt, (struct sockaddr *)&sll, sizeof(sll)))
		die("AF_PACKET", errno);
}

/* An Ethernet + IPv4 + UDP (or TCP for GSO) frame of @len bytes. */
static void frame(__u8 *f, unsigned int len, const __u8 *dst, bool tcp)
{
	unsigned int i;

	memset(f, 0, len);
	memcpy(f, dst, ETH_ALEN);
	memcpy(f + ETH_ALEN, mac_guest, ETH_ALEN);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (len - 14) >> 8;
	f[17] = (len - 14) & 0xff;
	f[22] = 64;
	f[23] = tcp ? 6 : 17;
	f[26] = 10;
	f[29] = 1;
	f[30] = 10;
	f[33] = 2;
	if (tcp)
		f[46] = 5 << 4;
	for (i = 54; i < len; i++)
		f[i] = i;
}

static void dev_setup(struct bench *b)
{
	__u64 acked, want = (1ULL << VIRTIO_F_VERSION_1) |
			    (1ULL << VIRTIO_RING_F_EVENT_IDX) |
			    (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	int i, r;

	b->fd = open(b->node, O_RDWR | O_CLOEXEC);
	if (b->fd < 0)
		die(b->node, errno);
	if (vq_ioctl(b->fd, VHOST_SET_OWNER, NULL) || vq_mem_init(&b->mem) ||
	    vq_mem_add(&b->mem, GPA_BASE, MEM_SIZE) ||
	    vq_mem_set_table(&b->mem, b->fd))
		die("owner/memory", errno);
	r = vq_negotiate(b->fd, want, &acked);
	if (r || acked != want)
		die("features", r ? -r : EOPNOTSUPP);
	for (i = 0; i < 2; i++) {
		r = vq_init(&b->vq[i], b->fd, i, b->ring, &b->mem);
		if (!r) {
			vq_set_features(&b->vq[i], acked);
			r = vq_program(&b->vq[i]);
		}
		if (r)
			die("vring", -r);
	}
	b->slot = strcmp(b->mode, "tx") ? (strcmp(b->mode, "gso") ? RX_BUF :
					   HLEN + GSO_LEN) : HLEN + b->size;
	b->buf_gpa = vq_mem_alloc(&b->mem, (__u64)b->ring * b->slot, 64);
	if (b->buf_gpa == VQ_BAD_GPA)
		die("guest memory", ENOMEM);
	for (i = 0; i < 2; i++) {
		struct vhost_vring_file f = { .index = i, .fd = b->tap };

		if (vq_ioctl(b->fd, VHOST_NET_SET_BACKEND, &f))
			die("SET_BACKEND", errno);
	}
}

/* Fill every TX slot once: header + frame, never rewritten. */
static void tx_prepare(struct bench *b, bool gso)
{
	unsigned int len = gso ? GSO_LEN : b->size, i;
	struct virtio_net_hdr_mrg_rxbuf h = { .num_buffers = 0 };
	__u8 *f = malloc(HLEN + len);

	if (!f)
		die("malloc", ENOMEM);
	if (gso) {
		h.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h.hdr.hdr_len = htole16(54);
		h.hdr.gso_size = htole16(GSO_MSS);
		h.hdr.csum_start = htole16(34);
		h.hdr.csum_offset = htole16(16);
	}
	memcpy(f, &h, HLEN);
	frame(f + HLEN, len, mac_nobody, gso);
	for (i = 0; i < b->ring; i++)
		vq_mem_write(&b->mem, b->buf_gpa + (__u64)i * b->slot, f,
			     HLEN + len);
	free(f);
}

/* A second without a call: say what the ring and the device look like. */
static void stall_dump(struct vq *vq)
{
	char path[96], line[128];
	__u64 id;
	FILE *f;

	fprintf(stderr, "stall vq%u: avail %u used %u reaped %u free %u\n",
		vq->index, vq->avail_idx, vq_used_idx(vq), vq->last_used,
		vq->num_free);
	fprintf(stderr, "  avail_event %u used_flags %#x\n",
		vq_avail_event(vq), vq->used->flags);
	if (vq_fdinfo_get(vq->dev_fd, "kvhost-id", &id))
		return;
	snprintf(path, sizeof(path), "/sys/kernel/debug/kvhost/%llu/vq%u",
		 (unsigned long long)id, vq->index);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  %s", line);
	if (f)
		fclose(f);
}

/* Wait for a call on @vq with callbacks on, unless entries are there. */
static void wait_call(struct vq *vq)
{
	struct pollfd p = { .fd = vq->call_fd, .events = POLLIN };

	vq_enable_cb(vq);
	if (!vq_used_pending(vq)) {
		if (poll(&p, 1, 1000) > 0)
			vq_drain_eventfd(vq->call_fd);
		else if (getenv("NET_BENCH_DEBUG"))
			stall_dump(vq);
	}
	vq_disable_cb(vq);
}

/* The measured window: its bounds and the workers' CPU time at each. */
struct window {
	long long t0, t1, cpu0, cpu1;
};

/*
 * Keep vq @q full of @len-byte buffers (device-readable for TX, writable
 * for RX), reaping as they come back; count the ones used in the window
 * after the warm-up.
 */
static unsigned long long run_ring(struct bench *b, unsigned int q,
				   unsigned int len, struct window *w)
{
	unsigned long long count = 0, mark = 0;
	long long warm, end;
	struct vq *vq = &b->vq[q];
	unsigned int next = 0;
	struct vq_used_buf u;
	struct vq_sg sg;

	warm = now_ns() + WARMUP_MS * 1000000LL;
	end = warm + b->seconds * 1000000000LL;
	w->t0 = 0;
	vq_disable_cb(vq);
	for (;;) {
		while (vq->num_free) {
			sg.gpa = b->buf_gpa + (__u64)next * b->slot;
			sg.len = len;
			if (vq_add(vq, &sg, q == TXQ, q == RXQ, NULL) < 0)
				break;
			next = (next + 1) % b->ring;
		}
		vq_notify(vq);
		while (!vq_reap(vq, &u))
			count++;
		if (!w->t0 && now_ns() >= warm) {
			w->t0 = now_ns();
			w->cpu0 = worker_cpu_ns(b);
			mark = count;
		}
		if (w->t0 && now_ns() >= end)
			break;
		/* Wait only with every buffer posted. */
		if (!vq->num_free && !vq_used_pending(vq))
			wait_call(vq);
	}
	w->t1 = now_ns();
	w->cpu1 = worker_cpu_ns(b);
	return count - mark;
}

/* TX: every slot prepared once, the ring kept full. */
static unsigned long long run_tx(struct bench *b, bool gso, struct window *w)
{
	tx_prepare(b, gso);
	return run_ring(b, TXQ, HLEN + (gso ? GSO_LEN : b->size), w);
}

static void *inject(void *arg)
{
	struct bench *b = arg;
	struct mmsghdr m[INJECT_BATCH];
	struct iovec iov;
	__u8 *f = malloc(b->size);
	int i;

	if (!f)
		return NULL;
	frame(f, b->size, mac_guest, false);
	iov.iov_base = f;
	iov.iov_len = b->size;
	memset(m, 0, sizeof(m));
	for (i = 0; i < INJECT_BATCH; i++) {
		m[i].msg_hdr.msg_iov = &iov;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		if (sendmmsg(b->pkt, m, INJECT_BATCH, 0) < 0 &&
		    errno != ENOBUFS && errno != EAGAIN) {
			fprintf(stderr, "net_bench: injecting: %s\n",
				strerror(errno));
			break;
		}
		/* Let the worker and the guest side have the CPU too. */
		sched_yield();
	}
	free(f);
	return NULL;
}

/* RX: buffers kept posted while the injector floods the tap. */
static unsigned long long run_rx(struct bench *b, struct window *w)
{
	unsigned long long n;
	pthread_t t;

	if (pthread_create(&t, NULL, inject, b))
		die("thread", errno);
	n = run_ring(b, RXQ, b->slot, w);
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "ring", required_argument, NULL, 'r' },
		{}
	};
	struct bench b = { .size = 64, .seconds = 3, .ring = 256 };
	struct window w = { 0 };
	unsigned long long n;
	double secs;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			b.node = optarg;
			break;
		case 'm':
			b.mode = optarg;
			break;
		case 's':
			b.size = atoi(optarg);
			break;
		case 't':
			b.seconds = atoi(optarg);
			break;
		case 'r':
			b.ring = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!b.node || !b.mode || b.size < 60 || b.size > 9014 ||
	    (strcmp(b.mode, "tx") && strcmp(b.mode, "rx") &&
	     strcmp(b.mode, "gso"))) {
		fprintf(stderr, "usage: net_bench --node PATH --mode tx|rx|gso\n"
			"       [--size 60..9014] [--seconds S] [--ring N]\n");
		return 2;
	}
	b.pkt = -1;
	tap_setup(&b);
	dev_setup(&b);
	if (!strcmp(b.mode, "rx"))
		n = run_rx(&b, &w);
	else
		n = run_tx(&b, !strcmp(b.mode, "gso"), &w);
	secs = (w.t1 - w.t0) / 1e9;
	if (!strcmp(b.mode, "gso"))
		b.size = GSO_LEN;
	printf("{\"node\":\"%s\",\"mode\":\"%s\",\"size\":%u,", b.node, b.mode,
	       b.size);
	printf("\"seconds\":%.3f,\"packets\":%llu,\"pps\":%.0f,", secs, n,
	       n / secs);
	printf("\"gbps\":%.3f,\"cpu_ns_per_pkt\":%.0f}\n",
	       n * (double)b.size * 8 / secs / 1e9,
	       n ? (double)(w.cpu1 - w.cpu0) / n : 0.0);
	return 0;
}
