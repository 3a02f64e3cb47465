// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost lifecycle and fault tests: what a dying or careless VMM, a guest
 * racing the device on its own rings, and guest memory that goes away or
 * never arrives must not do to the host.
 *
 *   vmm       close, RESET_OWNER and backend swaps in the middle of net
 *             and blk traffic; module unload with devices open
 *   kill      a VMM with net and blk traffic SIGKILLed at random moments,
 *             KVH_KILL_ITERS times (default 500); then no worker is left
 *             and MemFree is back
 *   memfault  guest memory unmapped or protected under running queues;
 *             a userfaultfd region nobody serves, then close or kill
 *   nonowner  a forked non-owner SIGKILLed in SET_FEATURES while the
 *             worker waits on a userfaultfd page: once the owner serves
 *             it, the vring goes on, waiting faults included
 *   toctou    a second thread rewrites descriptors, headers and avail->idx
 *             while the worker parses them (KVH_TOCTOU_SECONDS, default 5)
 *   flood     CVE-2019-3900: one-byte RX buffers under a flood; the worker
 *             yields to a CPU-bound task and the TX vring still moves
 *
 * The device nodes: /dev/kvhost-net (tun loaded), /dev/kvhost-blk (a
 * regular file as the backend), /dev/kvhost-test (kvhost test_dev=1) for
 * toctou's loopback variant.  The VM runner fails the run on any kernel
 * report and checks kmemleak and rmmod kvhost afterwards.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/kvhost.h>
#include <linux/userfaultfd.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "virtq.h"

#define KVH_NET		"/dev/" KVHOST_NET_NODE
#define KVH_BLK		"/dev/" KVHOST_BLK_NODE
#define KVH_TEST	"/dev/" KVHOST_TEST_NODE

#define FBIT(b)		(1ULL << (b))
#define NUM		64
#define RXQ		0
#define TXQ		1
#define HLEN		((unsigned int)sizeof(struct virtio_net_hdr_mrg_rxbuf))
#define FRAME		60
#define GPA_MAIN	0x100000ULL
#define MAIN_SIZE	0x400000ULL
/* A second region, for the tests that take it away. */
#define GPA_SIDE	0x1000000ULL
#define SIDE_SIZE	0x100000ULL
#define BLK_SECTORS	8192		/* the backing file: 4 MiB */
/* What "bounded" means for close and exit, under KASAN and TCG. */
#define BOUND_MS	10000

static void setup_skip(struct __test_metadata *_metadata, const char *why)
{
	SKIP(_exit(255), "%s", why);
}

static unsigned int env_uint(const char *name, unsigned int dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned int)strtoul(v, NULL, 0) : dflt;
}

/* A tap, up, with a 12-byte vnet header; its index in *ifindex. */
static int tap_make(int *ifindex)
{
	struct ifreq ifr = {
		.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
	};
	int fd, s, hlen = HLEN;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "kvhl%%d");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hlen))
		goto err;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto err;
	ifr.ifr_flags = IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr)) {
		close(s);
		goto err;
	}
	close(s);
	*ifindex = if_nametoindex(ifr.ifr_name);
	return fd;
err:
	s = -errno;
	close(fd);
	return s;
}

/* A 4 MiB backing file for blk, unlinked. */
static int blk_file(void)
{
	char path[] = "/tmp/kvhost-lifecycle-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd < 0)
		return -errno;
	unlink(path);
	if (ftruncate(fd, BLK_SECTORS * 512ULL)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* An AF_PACKET socket that sends into the tap (towards the guest). */
static int inject_socket(int ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll))) {
		close(s);
		return -errno;
	}
	return s;
}

static void inject(int s, unsigned int len)
{
	__u8 f[1514] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x02, 0, 0, 0, 0, 1, 0x88, 0xb5,
	};

	if (s >= 0 && send(s, f, len, MSG_DONTWAIT) < 0)
		return;
}

/*
 * A VMM with one kvhost-net (RX, TX on a tap) and one kvhost-blk (one
 * vring on a file), both in one guest memory.
 */
struct vmm {
	struct vq_mem mem;
	int net, blk;
	struct vq nq[2];
	struct vq bq;
	__u64 frame, rxbuf, hdr, data, status;
	unsigned int inflight[3];	/* RX, TX, blk */
	unsigned long long done;	/* used entries reaped */
	unsigned int seq;
	unsigned int num;		/* vring size */
};

static void vmm_init(struct vmm *v)
{
	unsigned int i;

	memset(v, 0, sizeof(*v));
	v->mem.memfd = -1;
	v->net = -1;
	v->blk = -1;
	for (i = 0; i < 2; i++) {
		v->nq[i].kick_fd = -1;
		v->nq[i].call_fd = -1;
		v->nq[i].err_fd = -1;
	}
	v->bq.kick_fd = -1;
	v->bq.call_fd = -1;
	v->bq.err_fd = -1;
	v->num = NUM;
}

static int net_backend(struct vmm *v, unsigned int q, int fd)
{
	struct vhost_vring_file f = { .index = q, .fd = fd };

	return vq_ioctl(v->net, VHOST_NET_SET_BACKEND, &f);
}

static int blk_backend(struct vmm *v, int fd)
{
	struct kvhost_blk_backend b = { .fd = fd };

	return vq_ioctl(v->blk, KVHOST_BLK_SET_BACKEND, &b);
}

/* Owner, features, memory table and vrings of one device. */
static int dev_setup(struct vmm *v, int fd, struct vq *vqs, unsigned int n,
		     __u64 want)
{
	__u64 acked;
	unsigned int i;
	int r;

	r = vq_ioctl(fd, VHOST_SET_OWNER, NULL);
	if (!r)
		r = vq_negotiate(fd, want, &acked);
	if (!r)
		r = vq_mem_set_table(&v->mem, fd);
	for (i = 0; i < n && !r; i++) {
		r = vq_init(&vqs[i], fd, i, v->num, &v->mem);
		if (r)
			break;
		vq_set_features(&vqs[i], acked);
		r = vq_program(&vqs[i]);
	}
	return r;
}

/* The whole VMM, traffic-ready: 0 or -errno. */
static int vmm_open(struct vmm *v, int tap, int file, __u64 net_extra)
{
	static const __u8 frame[FRAME] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x02, 0, 0, 0, 0, 2, 0x88, 0xb5,
	};
	int r;

	r = vq_mem_init(&v->mem);
	if (r || vq_mem_add(&v->mem, GPA_MAIN, MAIN_SIZE) < 0)
		return r ?: -ENOMEM;
	v->frame = vq_mem_alloc(&v->mem, HLEN + 1514, 64);
	v->rxbuf = vq_mem_alloc(&v->mem, 4096, 64);
	v->hdr = vq_mem_alloc(&v->mem, sizeof(struct virtio_blk_outhdr), 16);
	v->data = vq_mem_alloc(&v->mem, 4096, 4096);
	v->status = vq_mem_alloc(&v->mem, 64, 64);
	if (v->status == VQ_BAD_GPA)
		return -ENOMEM;
	vq_mem_write(&v->mem, v->frame + HLEN, frame, sizeof(frame));
	v->net = open(KVH_NET, O_RDWR | O_CLOEXEC);
	v->blk = open(KVH_BLK, O_RDWR | O_CLOEXEC);
	if (v->net < 0 || v->blk < 0)
		return -errno;
	r = dev_setup(v, v->net, v->nq, 2, FBIT(VIRTIO_F_VERSION_1) |
		      net_extra);
	if (!r)
		r = dev_setup(v, v->blk, &v->bq, 1, FBIT(VIRTIO_F_VERSION_1));
	if (!r)
		r = net_backend(v, RXQ, tap) ?: net_backend(v, TXQ, tap);
	if (!r)
		r = blk_backend(v, file);
	return r;
}

static void vmm_close(struct vmm *v)
{
	unsigned int i;

	if (v->net >= 0)
		close(v->net);
	if (v->blk >= 0)
		close(v->blk);
	v->net = -1;
	v->blk = -1;
	for (i = 0; i < 2; i++)
		vq_free(&v->nq[i]);
	vq_free(&v->bq);
	vq_mem_free(&v->mem);
}

/* Queue one TX frame of @len bytes at @gpa (header included). */
static int tx_one(struct vmm *v, __u64 gpa, __u32 len)
{
	struct vq_sg sg = { gpa, len };
	int r = vq_add(&v->nq[TXQ], &sg, 1, 0, NULL);

	if (r >= 0)
		v->inflight[1]++;
	return r;
}

static int blk_one(struct vmm *v, bool write)
{
	struct virtio_blk_outhdr h = {
		.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
		.sector = (v->seq++ * 8) % BLK_SECTORS,
	};
	struct vq_sg sg[3] = {
		{ v->hdr + 0, sizeof(h) },
		{ v->data, 4096 },
		{ v->status, 1 },
	};
	int r;

	vq_mem_write(&v->mem, v->hdr, &h, sizeof(h));
	r = vq_add(&v->bq, sg, write ? 2 : 1, write ? 1 : 2, NULL);
	if (r >= 0)
		v->inflight[2]++;
	return r;
}

static void reap(struct vmm *v, struct vq *vq, unsigned int i)
{
	struct vq_used_buf u;

	while (v->inflight[i] && vq_used_pending(vq)) {
		if (vq_reap(vq, &u))
			break;
		v->inflight[i]--;
		v->done++;
	}
}

/*
 * One round of traffic on every vring: top up RX buffers, TX frames and
 * blk requests, kick, reap what came back, inject a frame for RX.
 */
static void vmm_pump(struct vmm *v, int pkt)
{
	struct vq_sg rx = { v->rxbuf, 2048 };

	while (v->inflight[0] < NUM / 2 &&
	       vq_add(&v->nq[RXQ], &rx, 0, 1, NULL) >= 0)
		v->inflight[0]++;
	while (v->inflight[1] < NUM / 2 &&
	       tx_one(v, v->frame, HLEN + FRAME) >= 0)
		;
	while (v->inflight[2] < NUM / 4 && blk_one(v, v->seq & 1) >= 0)
		;
	vq_kick(&v->nq[RXQ]);
	vq_kick(&v->nq[TXQ]);
	vq_kick(&v->bq);
	inject(pkt, 60);
	vq_poll_eventfd(v->bq.call_fd, 1, NULL);
	reap(v, &v->nq[RXQ], 0);
	reap(v, &v->nq[TXQ], 1);
	reap(v, &v->bq, 2);
}

/* Wait for a child, killing it at the deadline: its status or -ETIMEDOUT. */
static int wait_child(pid_t pid, int timeout_ms)
{
	long long end = vq_now_ms() + timeout_ms;
	int st;

	while (vq_now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		usleep(2000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -ETIMEDOUT;
}

/* kvhost worker threads alive, of one owner or (owner 0) of anyone. */
static int count_workers(pid_t owner)
{
	char prefix[32], path[300], comm[32];
	struct dirent *d;
	int n = 0;
	DIR *dir;
	FILE *f;

	if (owner)
		snprintf(prefix, sizeof(prefix), "kvh-%d-", owner);
	else
		snprintf(prefix, sizeof(prefix), "kvh-");
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, prefix, strlen(prefix)))
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

static int wait_no_workers(pid_t owner, int timeout_ms)
{
	long long end = vq_now_ms() + timeout_ms;
	int n;

	while ((n = count_workers(owner)) > 0 && vq_now_ms() < end)
		usleep(10000);
	return n;
}

/* MemFree in KiB, after dropping clean caches. */
static long long mem_free_kb(void)
{
	long long kb = -1;
	char line[128];
	FILE *f;
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			kb = -1;
		close(fd);
	}
	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * vmm: one VMM process, this one, with traffic on both devices.
 */

FIXTURE(vmm) {
	struct vmm v;
	int tap, tap2, file, file2, pkt, ifindex;
};

/*
 * For a fixture: a tap (up), a backend file, an injector into the tap,
 * and the VMM open on them.  SKIP without tun or kvhost's nodes.
 */
static void vmm_rig(struct __test_metadata *_metadata, struct vmm *v,
		    int *tap, int *ifindex, int *file, int *pkt)
{
	int r;

	vmm_init(v);
	*pkt = -1;
	*tap = tap_make(ifindex);
	if (*tap == -ENOENT)
		setup_skip(_metadata, "/dev/net/tun absent (load tun)");
	ASSERT_LE(0, *tap) TH_LOG("tap: %s", strerror(-*tap));
	*file = blk_file();
	ASSERT_LE(0, *file);
	*pkt = inject_socket(*ifindex);
	r = vmm_open(v, *tap, *file, 0);
	if (r == -ENOENT)
		setup_skip(_metadata, "kvhost-net or kvhost-blk absent");
	ASSERT_EQ(0, r) TH_LOG("vmm: %s", strerror(-r));
}

FIXTURE_SETUP(vmm)
{
	int r;

	vmm_rig(_metadata, &self->v, &self->tap, &self->ifindex, &self->file,
		&self->pkt);
	self->tap2 = tap_make(&r);
	ASSERT_LE(0, self->tap2);
	self->file2 = blk_file();
	ASSERT_LE(0, self->file2);
}

FIXTURE_TEARDOWN(vmm)
{
	vmm_close(&self->v);
	close(self->tap);
	close(self->tap2);
	close(self->file);
	close(self->file2);
	if (self->pkt >= 0)
		close(self->pkt);
}

static void pump_for(struct vmm *v, int pkt, int ms)
{
	long long end = vq_now_ms() + ms;

	while (vq_now_ms() < end)
		vmm_pump(v, pkt);
}

/* close() with every vring busy returns in bounded time, workers gone. */
TEST_F(vmm, close_mid_traffic)
{
	long long t;

	pump_for(&self->v, self->pkt, 300);
	ASSERT_LT(0, self->v.done) TH_LOG("no traffic at all");
	ASSERT_LT(0, count_workers(getpid()));
	t = vq_now_ms();
	EXPECT_EQ(0, close(self->v.net));
	EXPECT_EQ(0, close(self->v.blk));
	self->v.net = -1;
	self->v.blk = -1;
	EXPECT_GT(BOUND_MS, vq_now_ms() - t);
	EXPECT_EQ(0, wait_no_workers(getpid(), BOUND_MS));
}

/* RESET_OWNER mid-traffic; then the same fds serve a new owner setup. */
TEST_F(vmm, reset_owner_mid_traffic)
{
	struct vmm *v = &self->v;
	unsigned long long before;
	unsigned int i;

	pump_for(v, self->pkt, 300);
	ASSERT_EQ(0, vq_ioctl(v->net, VHOST_RESET_OWNER, NULL));
	ASSERT_EQ(0, vq_ioctl(v->blk, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(0, wait_no_workers(getpid(), BOUND_MS));
	for (i = 0; i < 2; i++)
		vq_free(&v->nq[i]);
	vq_free(&v->bq);
	memset(v->inflight, 0, sizeof(v->inflight));
	ASSERT_EQ(0, dev_setup(v, v->net, v->nq, 2, FBIT(VIRTIO_F_VERSION_1)));
	ASSERT_EQ(0, dev_setup(v, v->blk, &v->bq, 1, FBIT(VIRTIO_F_VERSION_1)));
	ASSERT_EQ(0, net_backend(v, RXQ, self->tap));
	ASSERT_EQ(0, net_backend(v, TXQ, self->tap));
	ASSERT_EQ(0, blk_backend(v, self->file));
	before = v->done;
	pump_for(v, self->pkt, 300);
	EXPECT_LT(before, v->done) TH_LOG("no traffic after the reset");
}

/*
 * Backends swapped back and forth under traffic: nothing is lost, no
 * ring error, and the vrings drain on the last backend.
 */
TEST_F(vmm, swap_backends_mid_traffic)
{
	struct vmm *v = &self->v;
	unsigned long long before;
	long long end;
	unsigned int i;
	__u64 errs;

	for (i = 0; i < 20; i++) {
		pump_for(v, self->pkt, 30);
		ASSERT_EQ(0, net_backend(v, TXQ, i & 1 ? self->tap :
					 self->tap2));
		ASSERT_EQ(0, net_backend(v, RXQ, i & 1 ? self->tap :
					 self->tap2));
		/* blk takes a new backend only once detached. */
		ASSERT_EQ(0, blk_backend(v, -1));
		ASSERT_EQ(0, blk_backend(v, i & 1 ? self->file : self->file2));
	}
	before = v->done;
	pump_for(v, self->pkt, 200);
	EXPECT_LT(before, v->done);
	/* TX and blk drain completely. */
	end = vq_now_ms() + BOUND_MS;
	while ((v->inflight[1] || v->inflight[2]) && vq_now_ms() < end) {
		vq_poll_eventfd(v->bq.call_fd, 5, NULL);
		reap(v, &v->nq[TXQ], 1);
		reap(v, &v->bq, 2);
	}
	EXPECT_EQ(0, v->inflight[1]);
	EXPECT_EQ(0, v->inflight[2]);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, vq_poll_eventfd(v->nq[i].err_fd, 0, NULL));
		ASSERT_EQ(0, vq_errors(v->net, i, &errs));
		EXPECT_EQ(0, errs);
	}
	EXPECT_EQ(0, vq_poll_eventfd(v->bq.err_fd, 0, NULL));
	ASSERT_EQ(0, vq_errors(v->blk, 0, &errs));
	EXPECT_EQ(0, errs);
}

/*
 * rmmod while devices are open and running is refused: the open files
 * hold the module (delete_module() answers EWOULDBLOCK for a module in
 * use), and everything still works afterwards.
 */
TEST_F(vmm, unload_refused_while_open)
{
	unsigned long long before;
	long r;

	pump_for(&self->v, self->pkt, 100);
	r = syscall(__NR_delete_module, "kvhost", O_NONBLOCK);
	ASSERT_EQ(-1, r) TH_LOG("kvhost unloaded with devices open");
	EXPECT_EQ(EWOULDBLOCK, errno) TH_LOG("errno %d", errno);
	before = self->v.done;
	pump_for(&self->v, self->pkt, 100);
	EXPECT_LT(before, self->v.done);
}

/*
 * kill: the VMM is a child process, SIGKILLed while its vrings are busy
 * (one time in eight while it is still setting them up).
 */

static void vmm_child(int tap, int file, int pkt, int ready)
{
	struct vmm v;
	char c = 1;

	vmm_init(&v);
	if (vmm_open(&v, tap, file, 0))
		_exit(1);
	vmm_pump(&v, pkt);
	if (write(ready, &c, 1) != 1)
		_exit(1);
	for (;;)
		vmm_pump(&v, pkt);
}

FIXTURE(kill) {
};

FIXTURE_SETUP(kill)
{
}

FIXTURE_TEARDOWN(kill)
{
}

/* Up to 30 minutes: 1000 kills under KASAN (make stress). */
TEST_F_TIMEOUT(kill, loop, 1800)
{
	unsigned int iters = env_uint("KVH_KILL_ITERS", 500), i, early = 0;
	long long free_half = 0, free_end, t0 = vq_now_ms();
	int tap, file, pkt, ifindex, p[2], st;
	unsigned int seed = 1;
	pid_t pid;
	char c;

	tap = tap_make(&ifindex);
	if (tap == -ENOENT)
		SKIP(return, "/dev/net/tun absent (load tun)");
	ASSERT_LE(0, tap);
	file = blk_file();
	ASSERT_LE(0, file);
	pkt = inject_socket(ifindex);
	if (access(KVH_BLK, F_OK) || access(KVH_NET, F_OK))
		SKIP(return, "kvhost-net or kvhost-blk absent");
	for (i = 0; i < iters; i++) {
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(p[0]);
			vmm_child(tap, file, pkt, p[1]);
		}
		close(p[1]);
		if (rand_r(&seed) % 8 == 0) {
			usleep(rand_r(&seed) % 3000);
			early++;
		} else {
			struct pollfd pfd = { .fd = p[0], .events = POLLIN };

			ASSERT_EQ(1, poll(&pfd, 1, BOUND_MS))
				TH_LOG("iteration %u: the VMM never got going",
				       i);
			ASSERT_EQ(1, read(p[0], &c, 1))
				TH_LOG("iteration %u: the VMM failed", i);
			usleep(rand_r(&seed) % 20000);
		}
		close(p[0]);
		kill(pid, SIGKILL);
		st = wait_child(pid, BOUND_MS);
		ASSERT_NE(-ETIMEDOUT, st)
			TH_LOG("iteration %u: the VMM did not die", i);
		ASSERT_TRUE(WIFSIGNALED(st)) TH_LOG("iteration %u: exit %d",
						    i, st);
		if (i == iters / 2) {
			EXPECT_EQ(0, wait_no_workers(0, BOUND_MS));
			free_half = mem_free_kb();
		}
	}
	EXPECT_EQ(0, wait_no_workers(0, BOUND_MS))
		TH_LOG("kvhost workers left after %u kills", iters);
	free_end = mem_free_kb();
	/* 16 MiB of slack, and 16 KiB per kill of the second half. */
	EXPECT_LE(free_half - free_end, 16LL * (iters - iters / 2) + 16384)
		TH_LOG("MemFree %lld kB at the half, %lld kB at the end",
		       free_half, free_end);
	TH_LOG("%u kills (%u during setup) in %lld ms; MemFree %lld -> %lld kB",
	       iters, early, vq_now_ms() - t0, free_half, free_end);
	close(tap);
	close(file);
	if (pkt >= 0)
		close(pkt);
}

/*
 * memfault: guest memory taken away under running vrings.  The device
 * finds out on its next access: an error on that vring, nothing worse.
 */

FIXTURE(memfault) {
	struct vmm v;
	int tap, file, pkt, ifindex, side;
	void *side_hva;
};

FIXTURE_SETUP(memfault)
{
	vmm_rig(_metadata, &self->v, &self->tap, &self->ifindex, &self->file,
		&self->pkt);
	/* The side region, added to both tables. */
	self->side = vq_mem_add(&self->v.mem, GPA_SIDE, SIDE_SIZE);
	ASSERT_LE(0, self->side);
	self->side_hva = self->v.mem.region[self->side].hva;
	memset(self->side_hva, 0, SIDE_SIZE);
	ASSERT_EQ(0, vq_mem_set_table(&self->v.mem, self->v.net));
	ASSERT_EQ(0, vq_mem_set_table(&self->v.mem, self->v.blk));
	pump_for(&self->v, self->pkt, 100);
}

FIXTURE_TEARDOWN(memfault)
{
	long long t = vq_now_ms();

	vmm_close(&self->v);
	EXPECT_GT(BOUND_MS, vq_now_ms() - t);
	close(self->tap);
	close(self->file);
	if (self->pkt >= 0)
		close(self->pkt);
}

/* A TX frame in the side region, its header filled in. */
static __u64 side_frame(struct vmm *v, unsigned int len)
{
	__u8 f[HLEN + 1514] = { 0 };

	memset(f + HLEN, 0xff, 6);
	f[HLEN + 12] = 0x88;
	f[HLEN + 13] = 0xb5;
	vq_mem_write(&v->mem, GPA_SIDE, f, HLEN + len);
	return GPA_SIDE;
}

static void expect_vq_error(struct __test_metadata *_metadata, int fd,
			    struct vq *vq, const char *what)
{
	__u64 errs = 0;

	EXPECT_EQ(1, vq_wait_err(vq, BOUND_MS))
		TH_LOG("%s: the error eventfd did not fire", what);
	ASSERT_EQ(0, vq_errors(fd, vq->index, &errs));
	EXPECT_LE(1, errs) TH_LOG("%s: no error counted", what);
}

/* Small frames are copied: the copy faults. */
TEST_F(memfault, munmap_tx_buffer)
{
	__u64 gpa = side_frame(&self->v, FRAME);

	ASSERT_EQ(0, munmap(self->side_hva, SIDE_SIZE));
	ASSERT_LE(0, tx_one(&self->v, gpa, HLEN + FRAME));
	ASSERT_EQ(0, vq_kick(&self->v.nq[TXQ]));
	expect_vq_error(_metadata, self->v.net, &self->v.nq[TXQ],
			"TX frame unmapped");
}

/* Large frames are pinned: pinning fails. */
TEST_F(memfault, mprotect_tx_buffer)
{
	__u64 gpa = side_frame(&self->v, 1500);

	ASSERT_EQ(0, mprotect(self->side_hva, SIDE_SIZE, PROT_NONE));
	ASSERT_LE(0, tx_one(&self->v, gpa, HLEN + 1500));
	ASSERT_EQ(0, vq_kick(&self->v.nq[TXQ]));
	expect_vq_error(_metadata, self->v.net, &self->v.nq[TXQ],
			"TX frame PROT_NONE");
}

/* The device writes a read request's data into a read-only page. */
TEST_F(memfault, mprotect_blk_read_buffer)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };
	struct vq_sg sg[3] = {
		{ self->v.hdr, sizeof(h) },
		{ GPA_SIDE, 4096 },
		{ self->v.status, 1 },
	};

	ASSERT_EQ(0, mprotect(self->side_hva, SIDE_SIZE, PROT_READ));
	vq_mem_write(&self->v.mem, self->v.hdr, &h, sizeof(h));
	ASSERT_LE(0, vq_add(&self->v.bq, sg, 1, 2, NULL));
	ASSERT_EQ(0, vq_kick(&self->v.bq));
	expect_vq_error(_metadata, self->v.blk, &self->v.bq,
			"blk read into a read-only page");
}

/* The rings themselves: unmap all of the main region. */
TEST_F(memfault, munmap_rings)
{
	struct vq_region *r = &self->v.mem.region[0];

	ASSERT_EQ(0, munmap(r->hva, r->size));
	/* Kick without touching the (gone) ring. */
	ASSERT_EQ(0, eventfd_write(self->v.nq[TXQ].kick_fd, 1));
	ASSERT_EQ(0, eventfd_write(self->v.bq.kick_fd, 1));
	EXPECT_EQ(1, vq_wait_err(&self->v.nq[TXQ], BOUND_MS));
	EXPECT_EQ(1, vq_wait_err(&self->v.bq, BOUND_MS));
	/* vq_mem_free() must not unmap it twice. */
	r->hva = mmap(NULL, r->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
}

/*
 * A guest region under a userfaultfd that nobody serves: the device's
 * worker waits on the fault forever, unless close or the VMM's death
 * makes it give up.
 */
static int uffd_arm(void *hva, __u64 len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)hva, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* A fresh, never-touched region at GPA_SIDE + SIDE_SIZE under uffd. */
static int uffd_region(struct vmm *v, __u64 *gpa)
{
	int idx;

	*gpa = GPA_SIDE + SIDE_SIZE;
	idx = vq_mem_add(&v->mem, *gpa, SIDE_SIZE);
	if (idx < 0)
		return idx;
	if (vq_mem_set_table(&v->mem, v->net) ||
	    vq_mem_set_table(&v->mem, v->blk))
		return -errno;
	return uffd_arm(v->mem.region[idx].hva, SIDE_SIZE);
}

/* Stick both devices' workers on the region; 0 once both faulted. */
static int uffd_stick(struct vmm *v, int uffd, __u64 gpa)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT };
	struct vq_sg sg[3] = {
		{ v->hdr, sizeof(h) },
		{ gpa + 8192, 4096 },
		{ v->status, 1 },
	};
	struct uffd_msg msg[4];
	long long end = vq_now_ms() + BOUND_MS;
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	unsigned int faults = 0;
	ssize_t n;

	vq_mem_write(&v->mem, v->hdr, &h, sizeof(h));
	if (tx_one(v, gpa, HLEN + FRAME) < 0 ||
	    vq_add(&v->bq, sg, 2, 1, NULL) < 0)
		return -ENOSPC;
	vq_kick(&v->nq[TXQ]);
	vq_kick(&v->bq);
	while (faults < 2 && vq_now_ms() < end) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(uffd, msg, sizeof(msg));
		if (n > 0)
			faults += n / sizeof(msg[0]);
	}
	return faults >= 2 ? 0 : -ETIMEDOUT;
}

TEST_F(memfault, uffd_close_bounded)
{
	long long t;
	__u64 gpa;
	int uffd;

	uffd = uffd_region(&self->v, &gpa);
	if (uffd == -EPERM)
		SKIP(return, "userfaultfd refused (%s)", strerror(-uffd));
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(-uffd));
	ASSERT_EQ(0, uffd_stick(&self->v, uffd, gpa))
		TH_LOG("the workers never faulted on the region");
	t = vq_now_ms();
	EXPECT_EQ(0, close(self->v.net));
	EXPECT_EQ(0, close(self->v.blk));
	self->v.net = -1;
	self->v.blk = -1;
	EXPECT_GT(BOUND_MS, vq_now_ms() - t) TH_LOG("close took %lld ms",
						    vq_now_ms() - t);
	EXPECT_EQ(0, wait_no_workers(getpid(), BOUND_MS));
	close(uffd);
}

struct stuck_ioctl {
	int fd;
	int r;
};

/* Detach TX: waits for the vring's mutex, which the stuck worker holds. */
static void *detach_tx(void *arg)
{
	struct stuck_ioctl *s = arg;
	struct vhost_vring_file f = { .index = TXQ, .fd = -1 };

	s->r = vq_ioctl(s->fd, VHOST_NET_SET_BACKEND, &f);
	return NULL;
}

/*
 * The VMM is killed while its workers wait on the region and one of its
 * threads waits in an ioctl behind them: it still dies, and the workers
 * go.
 */
TEST_F(memfault, uffd_kill_bounded)
{
	struct stuck_ioctl s;
	int p[2], st, uffd;
	pthread_t th;
	__u64 gpa;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int low = open("/dev/null", O_RDONLY | O_CLOEXEC);
		struct vmm v;

		/* The child is a VMM of its own: new devices, new owner. */
		vmm_init(&v);
		if (low < 0 || vmm_open(&v, self->tap, self->file, 0))
			_exit(1);
		uffd = uffd_region(&v, &gpa);
		if (uffd < 0)
			_exit(2);
		/*
		 * Exit releases files in reverse fd order: give the uffd a
		 * number below the devices', so that they go first, while
		 * the uffd still holds the workers.
		 */
		if (dup3(uffd, low, O_CLOEXEC) != low)
			_exit(1);
		close(uffd);
		uffd = low;
		if (uffd_stick(&v, uffd, gpa))
			_exit(3);
		s.fd = v.net;
		if (pthread_create(&th, NULL, detach_tx, &s))
			_exit(4);
		usleep(100000);
		c = 1;
		if (write(p[1], &c, 1) != 1)
			_exit(5);
		pthread_join(th, NULL);
		_exit(6);
	}
	close(p[1]);
	st = read(p[0], &c, 1);
	close(p[0]);
	if (st != 1) {
		st = wait_child(pid, BOUND_MS);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
			SKIP(return, "no userfaultfd");
		ASSERT_EQ(1, st) TH_LOG("the VMM failed (%d)", st);
	}
	ASSERT_EQ(0, kill(pid, SIGKILL));
	st = wait_child(pid, BOUND_MS);
	ASSERT_NE(-ETIMEDOUT, st) TH_LOG("the VMM did not die");
	EXPECT_TRUE(WIFSIGNALED(st)) TH_LOG("exit %d", st);
	EXPECT_EQ(0, wait_no_workers(pid, BOUND_MS));
}

/*
 * nonowner: a process that is not the owner but shares the device's fd (a
 * forked child) is SIGKILLed while it waits in VHOST_SET_FEATURES behind a
 * worker that is stuck, with the vring's mutex held, on a guest page
 * nobody has supplied yet.  Only the owner's death may make a worker give
 * up its faults (kvh_worker_kill(): every later fault that would wait
 * fails).  So once the owner supplies the page the vring goes on, and so
 * do later faults that have to wait.
 */

#define NO_LEN		256	/* readable bytes of a loopback chain */

FIXTURE(nonowner) {
	struct vq_mem mem;
	struct vq vq[2];
	int fd, tap, ifindex, uffd;
	pid_t child;
	__u64 acked;
	__u64 plain, in;	/* ordinary guest memory */
	__u64 ugpa;		/* the userfaultfd region, never touched */
	char *uhva;
};

FIXTURE_VARIANT(nonowner) {
	bool net;
};

FIXTURE_VARIANT_ADD(nonowner, loopback) {
	.net = false,
};

FIXTURE_VARIANT_ADD(nonowner, net_tx) {
	.net = true,
};

static int nonowner_run(struct _test_data_nonowner *self, bool net,
			unsigned int q)
{
	struct vhost_vring_file f = { .index = q, .fd = self->tap };
	struct vhost_vring_state s = { .index = q, .num = 1 };

	if (net)
		return vq_ioctl(self->fd, VHOST_NET_SET_BACKEND, &f);
	return vq_ioctl(self->fd, KVHOST_TEST_SET_RUNNING, &s);
}

FIXTURE_SETUP(nonowner)
{
	unsigned int i;
	int idx;

	self->mem.memfd = -1;
	self->tap = -1;
	self->uffd = -1;
	self->child = -1;
	for (i = 0; i < 2; i++) {
		self->vq[i].kick_fd = -1;
		self->vq[i].call_fd = -1;
		self->vq[i].err_fd = -1;
	}
	self->fd = open(variant->net ? KVH_NET : KVH_TEST, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		setup_skip(_metadata, variant->net ? "kvhost-net absent" :
			   "/dev/kvhost-test absent (load kvhost test_dev=1)");
	ASSERT_LE(0, self->fd);
	if (variant->net) {
		self->tap = tap_make(&self->ifindex);
		if (self->tap == -ENOENT)
			setup_skip(_metadata, "/dev/net/tun absent");
		ASSERT_LE(0, self->tap);
	}
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_negotiate(self->fd, FBIT(VIRTIO_F_VERSION_1),
				  &self->acked));
	ASSERT_EQ(0, vq_mem_init(&self->mem));
	ASSERT_LE(0, vq_mem_add(&self->mem, GPA_MAIN, MAIN_SIZE));
	idx = vq_mem_add(&self->mem, GPA_SIDE, SIDE_SIZE);
	ASSERT_LE(0, idx);
	self->ugpa = GPA_SIDE;
	self->uhva = self->mem.region[idx].hva;
	ASSERT_EQ(0, vq_mem_set_table(&self->mem, self->fd));
	/* The allocator takes from the main region, which has room. */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, vq_init(&self->vq[i], self->fd, i, NUM,
				     &self->mem));
		vq_set_features(&self->vq[i], self->acked);
		ASSERT_EQ(0, vq_program(&self->vq[i]));
	}
	self->plain = vq_mem_alloc(&self->mem, VQ_PAGE_SIZE, VQ_PAGE_SIZE);
	self->in = vq_mem_alloc(&self->mem, VQ_PAGE_SIZE, VQ_PAGE_SIZE);
	ASSERT_GT(GPA_SIDE, self->in);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, nonowner_run(self, variant->net, i));
	self->uffd = uffd_arm(self->uhva, SIDE_SIZE);
	if (self->uffd == -EPERM)
		setup_skip(_metadata, "userfaultfd refused");
	ASSERT_LE(0, self->uffd) TH_LOG("userfaultfd: %s",
					strerror(-self->uffd));
}

FIXTURE_TEARDOWN(nonowner)
{
	long long t = vq_now_ms();
	unsigned int i;

	if (self->child > 0) {
		kill(self->child, SIGKILL);
		/* The close below is what frees it, if the worker holds it. */
	}
	close(self->fd);
	EXPECT_GT(BOUND_MS, vq_now_ms() - t);
	if (self->child > 0)
		wait_child(self->child, BOUND_MS);
	for (i = 0; i < 2; i++)
		vq_free(&self->vq[i]);
	vq_mem_free(&self->mem);
	if (self->uffd >= 0)
		close(self->uffd);
	if (self->tap >= 0)
		close(self->tap);
}

/* What a chain reads: a frame after a zeroed header, or a pattern. */
static void nonowner_page(bool net, __u8 *page, unsigned int seed)
{
	unsigned int i;

	memset(page, 0, VQ_PAGE_SIZE);
	if (net) {
		memset(page + HLEN, 0xff, 6);
		page[HLEN + 6] = 0x02;
		page[HLEN + 11] = seed;
		page[HLEN + 12] = 0x88;
		page[HLEN + 13] = 0xb5;
		return;
	}
	for (i = 0; i < NO_LEN; i++)
		page[i] = seed * 37 + i * 3 + 1;
}

/* One chain reading at @gpa (net TX: a frame; loopback: NO_LEN bytes). */
static int nonowner_post(struct _test_data_nonowner *self, bool net,
			 __u64 gpa)
{
	struct vq_sg sg[2] = {
		{ gpa, net ? HLEN + FRAME : NO_LEN },
		{ self->in, NO_LEN },
	};
	struct vq *vq = &self->vq[net ? TXQ : 0];
	int r;

	memset(vq_mem_hva(&self->mem, self->in, NO_LEN), 0xaa, NO_LEN);
	r = vq_add(vq, sg, 1, net ? 0 : 1, NULL);
	return r < 0 ? r : vq_kick(vq);
}

/* That chain used, and right (@page is what it read): 0 or -errno. */
static int nonowner_done(struct _test_data_nonowner *self, bool net,
			 const __u8 *page)
{
	struct vq *vq = &self->vq[net ? TXQ : 0];
	struct vq_used_buf u;
	int r;

	r = vq_wait_used(vq, BOUND_MS);
	if (!r)
		r = vq_reap(vq, &u);
	if (r)
		return r;
	if (net)
		return u.len ? -EBADMSG : 0;
	if (u.len != NO_LEN ||
	    memcmp(vq_mem_hva(&self->mem, self->in, NO_LEN), page, NO_LEN))
		return -EBADMSG;
	return 0;
}

/* Wait for the fault report on the page at @hva: 0 or -ETIMEDOUT. */
static int uffd_wait_fault(int uffd, void *hva, int timeout_ms)
{
	long long end = vq_now_ms() + timeout_ms;
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	struct uffd_msg m;

	while (vq_now_ms() < end) {
		if (poll(&p, 1, 10) <= 0 ||
		    read(uffd, &m, sizeof(m)) != sizeof(m))
			continue;
		if (m.event == UFFD_EVENT_PAGEFAULT &&
		    (m.arg.pagefault.address & ~(__u64)(VQ_PAGE_SIZE - 1)) ==
		    (unsigned long)hva)
			return 0;
	}
	return -ETIMEDOUT;
}

/* Supply the page at @hva: 0 or -errno. */
static int uffd_serve(int uffd, void *hva, const void *src)
{
	struct uffdio_copy c = {
		.dst = (unsigned long)hva,
		.src = (unsigned long)src,
		.len = VQ_PAGE_SIZE,
	};

	return ioctl(uffd, UFFDIO_COPY, &c) ? -errno : 0;
}

/* Is @pid asleep uninterruptibly (D) in ioctl()? */
static bool asleep_in_ioctl(pid_t pid)
{
	char path[64], buf[512], *p;
	long nr = -1;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	if (nr != __NR_ioctl)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'D';
}

TEST_F_TIMEOUT(nonowner, killed_in_set_features, 120)
{
	const bool net = variant->net;
	bool blocked = false;
	__u8 *page[3], *pages;
	unsigned int i;
	long long end;
	__u64 n = 0;
	int r, st;

	/* UFFDIO_COPY sources, a page each. */
	pages = mmap(NULL, 3 * VQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pages);
	for (i = 0; i < 3; i++)
		page[i] = pages + i * VQ_PAGE_SIZE;
	/* Traffic from ordinary memory first. */
	nonowner_page(net, page[0], 1);
	ASSERT_EQ(0, vq_mem_write(&self->mem, self->plain, page[0],
				  VQ_PAGE_SIZE));
	ASSERT_EQ(0, nonowner_post(self, net, self->plain));
	ASSERT_EQ(0, nonowner_done(self, net, page[0]));

	/* The worker stuck on the region's first page, the mutex held. */
	nonowner_page(net, page[1], 2);
	ASSERT_EQ(0, nonowner_post(self, net, self->ugpa));
	ASSERT_EQ(0, uffd_wait_fault(self->uffd, self->uhva, BOUND_MS))
		TH_LOG("the worker never faulted on the region");

	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child)
		_exit(vq_ioctl(self->fd, VHOST_SET_FEATURES, &self->acked) ?
		      1 : 0);
	end = vq_now_ms() + BOUND_MS;
	while (!blocked && vq_now_ms() < end) {
		blocked = asleep_in_ioctl(self->child);
		usleep(1000);
	}
	ASSERT_TRUE(blocked)
		TH_LOG("the child's SET_FEATURES never waited for the worker");
	ASSERT_EQ(0, kill(self->child, SIGKILL));
	/* Time for a worker that was told to give up to do so. */
	usleep(500000);

	ASSERT_EQ(0, uffd_serve(self->uffd, self->uhva, page[1]));
	r = nonowner_done(self, net, page[1]);
	EXPECT_EQ(0, r) TH_LOG("the stuck chain, its page supplied: %s",
			       strerror(-r));
	EXPECT_EQ(0, vq_poll_eventfd(self->vq[net ? TXQ : 0].err_fd, 0, NULL))
		TH_LOG("the vring stopped when the child died");
	st = wait_child(self->child, BOUND_MS);
	self->child = -1;
	EXPECT_TRUE(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		TH_LOG("the child: status %d", st);

	/* A fault the worker must wait for, after the child's death. */
	nonowner_page(net, page[2], 3);
	ASSERT_EQ(0, nonowner_post(self, net, self->ugpa + VQ_PAGE_SIZE));
	r = uffd_wait_fault(self->uffd, self->uhva + VQ_PAGE_SIZE, BOUND_MS);
	EXPECT_EQ(0, r) TH_LOG("no fault reported on the second page");
	usleep(200000);
	ASSERT_EQ(0, uffd_serve(self->uffd, self->uhva + VQ_PAGE_SIZE,
				page[2]));
	r = nonowner_done(self, net, page[2]);
	EXPECT_EQ(0, r) TH_LOG("the chain whose fault had to wait: %s",
			       strerror(-r));

	/* And ordinary traffic still. */
	nonowner_page(net, page[0], 4);
	ASSERT_EQ(0, vq_mem_write(&self->mem, self->plain, page[0],
				  VQ_PAGE_SIZE));
	ASSERT_EQ(0, nonowner_post(self, net, self->plain));
	EXPECT_EQ(0, nonowner_done(self, net, page[0]));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, vq_poll_eventfd(self->vq[i].err_fd, 0, NULL))
			TH_LOG("vq%u signalled an error", i);
		ASSERT_EQ(0, vq_errors(self->fd, i, &n));
		EXPECT_EQ(0, n) TH_LOG("vq%u-errors %llu", i,
				       (unsigned long long)n);
	}
}

/*
 * toctou: the guest rewrites what the device is parsing.  The main thread
 * publishes valid chains and kicks; the flipper rewrites their
 * descriptors (addr, len, flags, next), the frames' headers and avail->idx
 * at random.  Errors are fine, valid processing is fine; anything the
 * kernel reports fails the run.  After an error the vring is restarted
 * past the bad entry.
 */

FIXTURE(toctou) {
	struct vq_mem mem;
	struct vq vq;
	int fd, tap, ifindex;
	bool stop;		/* __atomic */
	unsigned int seed;
	__u64 buf;
};

FIXTURE_VARIANT(toctou) {
	bool net;
};

FIXTURE_VARIANT_ADD(toctou, loopback) {
	.net = false,
};

FIXTURE_VARIANT_ADD(toctou, net_tx) {
	.net = true,
};

static int toctou_run(struct _test_data_toctou *self, bool net, bool on)
{
	struct vhost_vring_file f = { .index = TXQ, .fd = on ? self->tap : -1 };
	struct vhost_vring_state s = { .index = 0, .num = on };

	if (net)
		return vq_ioctl(self->fd, VHOST_NET_SET_BACKEND, &f);
	return vq_ioctl(self->fd, KVHOST_TEST_SET_RUNNING, &s);
}

FIXTURE_SETUP(toctou)
{
	struct vq unused = { .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
	__u64 acked;

	self->tap = -1;
	self->mem.memfd = -1;
	self->vq.kick_fd = -1;
	self->vq.call_fd = -1;
	self->vq.err_fd = -1;
	self->fd = open(variant->net ? KVH_NET : KVH_TEST, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		setup_skip(_metadata, variant->net ? "kvhost-net absent" :
			   "/dev/kvhost-test absent (load kvhost test_dev=1)");
	ASSERT_LE(0, self->fd);
	if (variant->net) {
		self->tap = tap_make(&self->ifindex);
		if (self->tap == -ENOENT)
			setup_skip(_metadata, "/dev/net/tun absent");
		ASSERT_LE(0, self->tap);
	}
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_negotiate(self->fd, FBIT(VIRTIO_F_VERSION_1) |
				  FBIT(VIRTIO_RING_F_INDIRECT_DESC), &acked));
	ASSERT_EQ(0, vq_mem_init(&self->mem));
	ASSERT_LE(0, vq_mem_add(&self->mem, GPA_MAIN, MAIN_SIZE));
	ASSERT_EQ(0, vq_mem_set_table(&self->mem, self->fd));
	ASSERT_EQ(0, vq_init(&self->vq, self->fd, variant->net ? TXQ : 0,
			     NUM, &self->mem));
	vq_set_features(&self->vq, acked);
	ASSERT_EQ(0, vq_program(&self->vq));
	if (variant->net) {
		/* The RX vring must be set up too for the device to start. */
		ASSERT_EQ(0, vq_init(&unused, self->fd, RXQ, NUM, &self->mem));
		vq_set_features(&unused, acked);
		ASSERT_EQ(0, vq_program(&unused));
		vq_free(&unused);
	}
	self->buf = vq_mem_alloc(&self->mem, 64 * 1024, 4096);
	ASSERT_NE(VQ_BAD_GPA, self->buf);
	self->seed = 7;
	ASSERT_EQ(0, toctou_run(self, variant->net, true));
}

FIXTURE_TEARDOWN(toctou)
{
	long long t = vq_now_ms();

	close(self->fd);
	EXPECT_GT(BOUND_MS, vq_now_ms() - t);
	vq_free(&self->vq);
	vq_mem_free(&self->mem);
	if (self->tap >= 0)
		close(self->tap);
}

static void *flipper(void *arg)
{
	struct _test_data_toctou *self = arg;
	struct vq *vq = &self->vq;
	__u8 *bytes = vq_mem_hva(&self->mem, self->buf, 64 * 1024);
	unsigned int s = 99, r, i;

	while (!__atomic_load_n(&self->stop, __ATOMIC_RELAXED)) {
		r = rand_r(&s);
		i = (r >> 8) % NUM;
		switch (r % 6) {
		case 0:
			vq->desc[i].len = rand_r(&s) % 3 ?
				rand_r(&s) % 4096 : rand_r(&s);
			break;
		case 1:
			vq->desc[i].next = rand_r(&s) % (NUM + 4);
			break;
		case 2:
			vq->desc[i].flags = rand_r(&s) & 7;
			break;
		case 3:
			vq->desc[i].addr = rand_r(&s) % 2 ?
				self->buf + rand_r(&s) % 65536 :
				(__u64)rand_r(&s) << (rand_r(&s) % 40);
			break;
		case 4:
			/* avail->idx: a 16-bit store, as a guest's. */
			__atomic_store_n(&vq->avail->idx, (__u16)(vq->avail_idx +
					 rand_r(&s) % (2 * NUM)),
					 __ATOMIC_RELAXED);
			break;
		default:
			/* Header bytes of the frames. */
			bytes[rand_r(&s) % 64] = rand_r(&s);
			break;
		}
	}
	return NULL;
}

/* Publish chain @head (two descriptors) directly in the ring. */
static void toctou_post(struct _test_data_toctou *self, bool net, __u16 i)
{
	struct vq *vq = &self->vq;
	__u16 a = (2 * i) % NUM, b = (2 * i + 1) % NUM;
	__u64 data = self->buf + (i % 16) * 4096;

	if (net) {
		memset(vq_mem_hva(&self->mem, data, HLEN), 0, HLEN);
		vq_raw_desc(vq, a, data, HLEN, VRING_DESC_F_NEXT, b);
		vq_raw_desc(vq, b, data + HLEN, 60 + i % 1400, 0, 0);
	} else {
		vq_raw_desc(vq, a, data, 100, VRING_DESC_F_NEXT, b);
		vq_raw_desc(vq, b, data + 2048, 100, VRING_DESC_F_WRITE, 0);
	}
	vq_raw_avail(vq, a);
}

TEST_F(toctou, flip_while_parsing)
{
	unsigned int secs = env_uint("KVH_TOCTOU_SECONDS", 5);
	unsigned long long posts = 0, restarts = 0, used = 0;
	long long end = vq_now_ms() + secs * 1000LL;
	__u64 broken, errs = 0;
	pthread_t th;
	__u16 i = 0;

	ASSERT_EQ(0, pthread_create(&th, NULL, flipper, self));
	while (vq_now_ms() < end) {
		toctou_post(self, variant->net, i++);
		posts++;
		vq_notify(&self->vq);
		if (posts % 16)
			continue;
		usleep(1000);
		if (vq_broken(self->fd, self->vq.index, &broken) || !broken)
			continue;
		/* Restart past everything published so far. */
		ASSERT_EQ(0, toctou_run(self, variant->net, false));
		used += (__u16)(self->vq.used->idx - self->vq.last_used);
		self->vq.last_used = self->vq.used->idx;
		ASSERT_EQ(0, vq_set_base(&self->vq, self->vq.avail_idx));
		self->vq.used->idx = self->vq.avail_idx;
		self->vq.last_used = self->vq.avail_idx;
		ASSERT_EQ(0, toctou_run(self, variant->net, true));
		restarts++;
	}
	__atomic_store_n(&self->stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ASSERT_EQ(0, vq_errors(self->fd, self->vq.index, &errs));
	TH_LOG("%llu chains posted, %llu restarts, %llu errors, %llu used before a restart",
	       posts, restarts, (unsigned long long)errs, used);
	/* Both outcomes happened: the race was real and was refused. */
	EXPECT_LT(0, errs);
	EXPECT_LT(0, posts);
}

/*
 * flood (CVE-2019-3900): the guest posts one-byte RX buffers while the
 * host floods the tap.  Every packet needs more buffers than a ring holds
 * at once, so a device without a per-run budget can spin in its RX
 * handler.  kvhost must give the CPU away: a CPU-bound task pinned next
 * to the RX worker gets a fair share, and TX on the same device moves.
 */
static void *flood_fn(void *arg)
{
	int *args = arg;

	while (!__atomic_load_n(&args[1], __ATOMIC_RELAXED))
		inject(args[0], 60);
	return NULL;
}

TEST(flood_one_byte_rx_buffers)
{
	unsigned long long hog0, hog1, t0, t1, sent = 0;
	int tap, file, ifindex, args[2] = { -1, 0 }, nt;
	struct vq_sg one;
	pthread_t th;
	cpu_set_t set;
	pid_t tids[4], hog;
	unsigned int i;
	struct vmm v;
	long hz = sysconf(_SC_CLK_TCK);

	if (get_nprocs() < 2)
		SKIP(return, "needs two CPUs");
	tap = tap_make(&ifindex);
	if (tap == -ENOENT)
		SKIP(return, "/dev/net/tun absent (load tun)");
	ASSERT_LE(0, tap);
	file = blk_file();
	ASSERT_LE(0, file);
	vmm_init(&v);
	/* 256 one-byte buffers: three 60-byte frames and their headers. */
	v.num = 256;
	ASSERT_EQ(0, vmm_open(&v, tap, file, FBIT(VIRTIO_NET_F_MRG_RXBUF)));
	one.gpa = v.rxbuf;
	one.len = 1;
	for (i = 0; i < v.num; i++)
		ASSERT_LE(0, vq_add(&v.nq[RXQ], &one, 0, 1, NULL));
	/* Every worker on CPU 0, the hog too; this thread on CPU 1. */
	nt = vq_workers(getpid(), false, tids, 4);
	ASSERT_LT(0, nt);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	for (i = 0; i < (unsigned int)nt; i++)
		ASSERT_EQ(0, sched_setaffinity(tids[i], sizeof(set), &set));
	hog = fork();
	ASSERT_LE(0, hog);
	if (!hog) {
		sched_setaffinity(0, sizeof(set), &set);
		for (;;)
			;
	}
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set));
	args[0] = inject_socket(ifindex);
	ASSERT_LE(0, args[0]);
	ASSERT_EQ(0, pthread_create(&th, NULL, flood_fn, args));
	vq_kick(&v.nq[RXQ]);
	usleep(200000);
	ASSERT_EQ(0, vq_task_ticks(hog, &hog0));
	t0 = vq_now_ms();
	/*
	 * For two seconds: every used RX buffer straight back, and a TX
	 * frame every 10 ms.
	 */
	for (i = 0; vq_now_ms() < t0 + 2000; i++) {
		struct vq_used_buf u;

		while (vq_used_pending(&v.nq[RXQ]) &&
		       !vq_reap(&v.nq[RXQ], &u)) {
			vq_add(&v.nq[RXQ], &one, 0, 1, NULL);
			v.done++;
		}
		vq_kick(&v.nq[RXQ]);
		if (i % 50 == 0) {
			tx_one(&v, v.frame, HLEN + FRAME);
			vq_kick(&v.nq[TXQ]);
			sent++;
		}
		usleep(200);
		reap(&v, &v.nq[TXQ], 1);
	}
	ASSERT_EQ(0, vq_task_ticks(hog, &hog1));
	t1 = vq_now_ms();
	__atomic_store_n(&args[1], 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	kill(hog, SIGKILL);
	waitpid(hog, NULL, 0);
	TH_LOG("hog: %llu of %llu ms on the workers' CPU", (hog1 - hog0) * 1000 / hz,
	       t1 - t0);
	TH_LOG("%llu RX buffers used; TX %llu sent, %u in flight", v.done, sent,
	       v.inflight[1]);
	/* A fair share is half; a spinning worker would leave it ~nothing. */
	EXPECT_LE((t1 - t0) / 5, (hog1 - hog0) * 1000 / hz);
	EXPECT_LT(v.inflight[1], sent) TH_LOG("TX never moved");
	EXPECT_LT(0, v.done) TH_LOG("no packet reached the guest");
	vmm_close(&v);
	close(args[0]);
	close(tap);
	close(file);
}

TEST_HARNESS_MAIN
