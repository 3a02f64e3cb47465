// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost worker threads: one per vq (or per device), created at
 * VHOST_SET_OWNER in the owner's cgroup, gone after RESET_OWNER and close.
 *
 *   worker   the threads' life, on /dev/kvhost-test as loaded
 *   shared   worker_per_vq=N (the parameter is read at SET_OWNER): one
 *            thread serves both vrings of kvhost-net and kvhost-test, and
 *            a vring the guest keeps busy does not starve the other
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/kvhost.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "kselftest_harness.h"
#include "virtq.h"

#define TEST_NODE "/dev/" KVHOST_TEST_NODE
#define NET_NODE "/dev/" KVHOST_NET_NODE
#define PER_VQ_PARAM "/sys/module/kvhost/parameters/worker_per_vq"
#define MAX_WORKERS 64

/* Poll until exactly @want workers exist (threads exit asynchronously). */
static int wait_workers(pid_t owner, int want)
{
	pid_t tids[MAX_WORKERS];
	int n = -1, i;

	for (i = 0; i < 200; i++) {
		n = vq_workers(owner, false, tids, MAX_WORKERS);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

static int expected_workers(void)
{
	char c = 'Y';
	FILE *f;

	f = fopen("/sys/module/kvhost/parameters/worker_per_vq", "r");
	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = 'Y';
		fclose(f);
	}
	return c == 'Y' ? KVHOST_TEST_NVQS : 1;
}

FIXTURE(worker) {
	int fd;
};

FIXTURE_SETUP(worker)
{
	self->fd = open(TEST_NODE, O_RDWR | O_CLOEXEC);
	/* The 6.1 harness would run the body after SKIP(return): exit. */
	if (self->fd < 0 && errno == ENOENT)
		SKIP(_exit(255), "%s absent (load kvhost with test_dev=1)",
		     TEST_NODE);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(worker)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(worker, none_before_owner)
{
	EXPECT_EQ(0, wait_workers(getpid(), 0));
}

TEST_F(worker, created_by_set_owner)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
}

TEST_F(worker, gone_after_reset_owner)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(0, wait_workers(getpid(), 0));
	/* And a new owner gets new workers. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
}

TEST_F(worker, gone_after_close)
{
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(expected_workers(), wait_workers(getpid(), expected_workers()));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, wait_workers(getpid(), 0));
}

/* Workers join the owner's cgroup, so the VMM's limits cover them. */
TEST_F(worker, in_owner_cgroup)
{
	char dir[128], path[192], line[256], want[256];
	pid_t tids[MAX_WORKERS];
	int n, i;
	FILE *f;

	if (access("/sys/fs/cgroup/cgroup.procs", W_OK))
		SKIP(return, "no writable cgroup2 hierarchy");
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/kvhost-test-%d", getpid());
	ASSERT_EQ(0, mkdir(dir, 0755)) TH_LOG("mkdir %s: %s", dir,
					      strerror(errno));
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%d\n", getpid());
	ASSERT_EQ(0, fclose(f));

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER, NULL));
	n = vq_workers(getpid(), false, tids, MAX_WORKERS);
	EXPECT_EQ(expected_workers(), n);
	snprintf(want, sizeof(want), "0::/kvhost-test-%d\n", getpid());
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/cgroup", tids[i]);
		f = fopen(path, "r");
		ASSERT_NE(NULL, f);
		ASSERT_NE(NULL, fgets(line, sizeof(line), f));
		fclose(f);
		EXPECT_STREQ(want, line);
	}

	/* Leave the cgroup empty so it can go. */
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, wait_workers(getpid(), 0));
	f = fopen("/sys/fs/cgroup/cgroup.procs", "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%d\n", getpid());
	ASSERT_EQ(0, fclose(f));
	EXPECT_EQ(0, rmdir(dir));
}

/*
 * shared: kvhost loaded with worker_per_vq=Y or N, the tests write N
 * (it is read at VHOST_SET_OWNER) and put the old value back afterwards.
 */

#define NVQS		2
#define NUM		256
/*
 * The flooded vring: big enough that the worker takes a long while to
 * drain it, so the guest thread refilling it need not keep pace with the
 * worker all the time (its vCPU may be preempted on a shared host).
 */
#define FLOOD_NUM	16384
/* Chains the flood must have had served before the measurements start. */
#define FLOOD_WARMUP	1024
#define RXQ		0
#define TXQ		1
#define FBIT(b)		(1ULL << (b))
#define GPA_BASE	0x100000ULL
#define MEM_SIZE	0x1000000ULL
#define HLEN		((unsigned int)sizeof(struct virtio_net_hdr_mrg_rxbuf))
#define FRAME		60
#define RX_BUF		2048
#define RX_BUFS		8
#define ETH_P_KVH	0x88b5
/* Loopback chains: this many bytes out, as many in. */
#define LOOP_LEN	4096
/* How long a request on the quiet vring may wait behind the busy one. */
#define FAIR_BOUND_MS	5000
#define FAIR_ROUNDS	20

/* The parameter's value, 'Y' or 'N', or -errno. */
static int param_read(int fd)
{
	char c;

	if (pread(fd, &c, 1, 0) != 1)
		return -errno;
	return c;
}

static int param_write(int fd, char c)
{
	return pwrite(fd, &c, 1, 0) == 1 ? 0 : -errno;
}

/*
 * A process that writes @old back when the test process is gone, however
 * it went: the harness kills a test's process group on a timeout, so it
 * leaves the group.  Teardown restores the value itself and then waits
 * for it.  Returns its pid, *guard the pipe end that keeps it waiting.
 */
static pid_t guardian_start(int param, char old, int *guard)
{
	int p[2];
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (!pid) {
		close(p[1]);
		setpgid(0, 0);
		do {
			n = read(p[0], &c, 1);
		} while (n > 0 || (n < 0 && errno == EINTR));
		_exit(param_write(param, old) ? 1 : 0);
	}
	close(p[0]);
	*guard = p[1];
	return pid;
}

/* A tap, up, with a 12-byte vnet header; its index in *ifindex. */
static int tap_make(int *ifindex)
{
	struct ifreq ifr = {
		.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
	};
	int fd, s, hlen = HLEN, r;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "kvhw%%d");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETVNETHDRSZ, &hlen))
		goto err;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto err;
	ifr.ifr_flags = IFF_UP;
	r = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	if (r)
		goto err;
	*ifindex = if_nametoindex(ifr.ifr_name);
	if (*ifindex)
		return fd;
err:
	r = -errno;
	close(fd);
	return r;
}

FIXTURE(shared) {
	int param;		/* worker_per_vq, open for writing */
	char old;
	int guard;
	pid_t guardian;
	int fd, tap, pkt, ifindex;
	__u64 acked;
	struct vq_mem mem;
	struct vq vq[NVQS];
	__u64 tx_frame, rx_buf;
	unsigned int rx_posted;
};

FIXTURE_VARIANT(shared) {
	const char *path;
	bool net;
};

FIXTURE_VARIANT_ADD(shared, kvhost_net) {
	.path = NET_NODE,
	.net = true,
};

FIXTURE_VARIANT_ADD(shared, kvhost_test) {
	.path = TEST_NODE,
	.net = false,
};

static void shared_skip(struct __test_metadata *_metadata, const char *why)
{
	/* The 6.1 harness would run the body after SKIP(return): exit. */
	SKIP(_exit(255), "%s", why);
}

FIXTURE_SETUP(shared)
{
	unsigned int i;
	int r;

	self->guard = -1;
	self->guardian = -1;
	self->fd = -1;
	self->tap = -1;
	self->pkt = -1;
	self->mem.memfd = -1;
	for (i = 0; i < NVQS; i++) {
		self->vq[i].kick_fd = -1;
		self->vq[i].call_fd = -1;
		self->vq[i].err_fd = -1;
	}
	self->param = open(PER_VQ_PARAM, O_RDWR | O_CLOEXEC);
	if (self->param < 0 && (errno == EACCES || errno == EPERM))
		shared_skip(_metadata, "worker_per_vq is read-only (older kvhost)");
	if (self->param < 0 && errno == ENOENT)
		shared_skip(_metadata, "kvhost without worker_per_vq");
	ASSERT_LE(0, self->param) TH_LOG("%s: %s", PER_VQ_PARAM,
					 strerror(errno));
	r = param_read(self->param);
	ASSERT_TRUE(r == 'Y' || r == 'N') TH_LOG("worker_per_vq reads %d", r);
	self->old = r;
	/* Before anything is open that it would keep open. */
	self->guardian = guardian_start(self->param, self->old, &self->guard);
	ASSERT_LT(0, self->guardian);

	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT && !variant->net)
		shared_skip(_metadata, "/dev/kvhost-test absent (load kvhost test_dev=1)");
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", variant->path, strerror(errno));
	if (variant->net) {
		self->tap = tap_make(&self->ifindex);
		if (self->tap == -ENOENT)
			shared_skip(_metadata, "/dev/net/tun absent (load tun)");
		ASSERT_LE(0, self->tap) TH_LOG("tap: %s", strerror(-self->tap));
		self->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		ASSERT_LE(0, self->pkt);
	}
	/* Last: once it is written, only the teardown puts it back. */
	ASSERT_EQ(0, param_write(self->param, 'N'));
}

FIXTURE_TEARDOWN(shared)
{
	unsigned int i;
	int st;

	EXPECT_EQ(0, param_write(self->param, self->old));
	EXPECT_EQ(self->old, param_read(self->param));
	if (self->guard >= 0)
		close(self->guard);
	if (self->guardian > 0)
		EXPECT_EQ(self->guardian, waitpid(self->guardian, &st, 0));
	close(self->param);
	if (self->fd >= 0)
		close(self->fd);
	for (i = 0; i < NVQS; i++)
		vq_free(&self->vq[i]);
	vq_mem_free(&self->mem);
	if (self->tap >= 0)
		close(self->tap);
	if (self->pkt >= 0)
		close(self->pkt);
}

static int shared_run(struct _test_data_shared *self, bool net,
		      unsigned int q)
{
	struct vhost_vring_state s = { .index = q, .num = 1 };
	struct vhost_vring_file f = { .index = q, .fd = self->tap };

	if (net)
		return vq_ioctl(self->fd, VHOST_NET_SET_BACKEND, &f);
	return vq_ioctl(self->fd, KVHOST_TEST_SET_RUNNING, &s);
}

/*
 * Owner (and its one worker), features, memory, both vrings running;
 * vring @big (if < NVQS) FLOOD_NUM entries long.
 */
static void shared_start(struct __test_metadata *_metadata,
			 struct _test_data_shared *self, bool net,
			 unsigned int big)
{
	static const __u8 frame[FRAME] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x02, 0, 0, 0, 0, 1, ETH_P_KVH >> 8, ETH_P_KVH & 0xff,
	};
	__u64 want = FBIT(VIRTIO_F_VERSION_1);
	unsigned int i;
	int r;

	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(1, wait_workers(getpid(), 1));
	ASSERT_EQ(0, vq_negotiate(self->fd, want, &self->acked));
	ASSERT_EQ(want, self->acked);
	ASSERT_EQ(0, vq_mem_init(&self->mem));
	ASSERT_EQ(0, vq_mem_add(&self->mem, GPA_BASE, MEM_SIZE));
	ASSERT_EQ(0, vq_mem_set_table(&self->mem, self->fd));
	for (i = 0; i < NVQS; i++) {
		ASSERT_EQ(0, vq_init(&self->vq[i], self->fd, i,
				     i == big ? FLOOD_NUM : NUM, &self->mem));
		vq_set_features(&self->vq[i], self->acked);
		ASSERT_EQ(0, vq_program(&self->vq[i]));
	}
	self->tx_frame = vq_mem_alloc(&self->mem, HLEN + FRAME, 64);
	self->rx_buf = vq_mem_alloc(&self->mem, RX_BUFS * RX_BUF, 64);
	ASSERT_NE(VQ_BAD_GPA, self->rx_buf);
	ASSERT_EQ(0, vq_mem_write(&self->mem, self->tx_frame + HLEN, frame,
				  sizeof(frame)));
	for (i = 0; i < NVQS; i++) {
		r = shared_run(self, net, i);
		ASSERT_EQ(0, r) TH_LOG("start vq%u: %s", i, strerror(-r));
	}
}

/* One loopback chain through vring q, checked: 0 or -errno. */
static int loop_one(struct _test_data_shared *self, unsigned int q,
		    unsigned int seed, int timeout_ms)
{
	struct vq *vq = &self->vq[q];
	struct vq_sg sg[2];
	struct vq_used_buf u;
	__u8 *out, *in;
	unsigned int i;
	int r;

	sg[0].gpa = vq_mem_alloc(&self->mem, LOOP_LEN, 64);
	sg[1].gpa = vq_mem_alloc(&self->mem, LOOP_LEN, 64);
	if (sg[1].gpa == VQ_BAD_GPA)
		return -ENOMEM;
	sg[0].len = LOOP_LEN;
	sg[1].len = LOOP_LEN;
	out = vq_mem_hva(&self->mem, sg[0].gpa, LOOP_LEN);
	in = vq_mem_hva(&self->mem, sg[1].gpa, LOOP_LEN);
	for (i = 0; i < LOOP_LEN; i++)
		out[i] = seed * 31 + i * 7 + (i >> 8);
	r = vq_add(vq, sg, 1, 1, out);
	if (r < 0)
		return r;
	r = vq_kick(vq);
	if (!r)
		r = vq_wait_used(vq, timeout_ms);
	if (!r)
		r = vq_reap(vq, &u);
	if (r)
		return r;
	if (u.cookie != out || u.len != LOOP_LEN ||
	    memcmp(in, out, LOOP_LEN))
		return -EBADMSG;
	return 0;
}

/* One TX frame sent and completed: 0 or -errno. */
static int tx_one(struct _test_data_shared *self, int timeout_ms)
{
	struct vq *vq = &self->vq[TXQ];
	struct vq_sg sg = { self->tx_frame, HLEN + FRAME };
	struct vq_used_buf u;
	int r;

	r = vq_add(vq, &sg, 1, 0, NULL);
	if (r < 0)
		return r;
	r = vq_kick(vq);
	if (!r)
		r = vq_wait_used(vq, timeout_ms);
	if (!r)
		r = vq_reap(vq, &u);
	return r;
}

/*
 * Keep RX_BUFS buffers posted, inject one frame of ours into the tap and
 * wait for it to reach a buffer (the stack may send frames of its own):
 * 0 or -errno.
 */
static int rx_one(struct _test_data_shared *self, int timeout_ms)
{
	static const __u8 frame[FRAME] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x02, 0, 0, 0, 0, 2, ETH_P_KVH >> 8, ETH_P_KVH & 0xff,
	};
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_KVH),
		.sll_ifindex = self->ifindex,
	};
	long long end = vq_now_ms() + timeout_ms;
	struct vq *vq = &self->vq[RXQ];
	struct vq_sg sg = { .len = RX_BUF };
	struct vq_used_buf u;
	__u8 et[2];
	int r;

	while (self->rx_posted < RX_BUFS) {
		sg.gpa = self->rx_buf + self->rx_posted * RX_BUF;
		r = vq_add(vq, &sg, 0, 1, (void *)(unsigned long)sg.gpa);
		if (r < 0)
			return r;
		self->rx_posted++;
	}
	r = vq_kick(vq);
	if (r)
		return r;
	if (sendto(self->pkt, frame, sizeof(frame), 0,
		   (struct sockaddr *)&sll, sizeof(sll)) != sizeof(frame))
		return -errno;
	for (;;) {
		r = vq_wait_used(vq, end - vq_now_ms());
		if (r)
			return r;
		while (!vq_reap(vq, &u)) {
			sg.gpa = (unsigned long)u.cookie;
			vq_mem_read(&self->mem, sg.gpa + HLEN + 12, et, 2);
			if (vq_add(vq, &sg, 0, 1, u.cookie) < 0)
				self->rx_posted--;
			if (u.len == HLEN + FRAME &&
			    et[0] == ETH_P_KVH >> 8 && et[1] == (ETH_P_KVH & 0xff))
				return vq_kick(vq);
		}
		vq_kick(vq);
		if (vq_now_ms() >= end)
			return -ETIMEDOUT;
	}
}

/* Neither vring signalled an error, nor counted one. */
static void shared_no_errors(struct __test_metadata *_metadata,
			     struct _test_data_shared *self)
{
	unsigned int i;
	__u64 n = ~0ULL;

	for (i = 0; i < NVQS; i++) {
		EXPECT_EQ(0, vq_poll_eventfd(self->vq[i].err_fd, 0, NULL))
			TH_LOG("vq%u signalled an error", i);
		ASSERT_EQ(0, vq_errors(self->fd, i, &n));
		EXPECT_EQ(0, n) TH_LOG("vq%u-errors %llu", i,
				       (unsigned long long)n);
	}
}

/* Traffic on both vrings of the device. */
static void shared_traffic(struct __test_metadata *_metadata,
			   struct _test_data_shared *self, bool net,
			   unsigned int seed)
{
	int r;

	if (net) {
		r = tx_one(self, VQ_TIMEOUT_MS);
		EXPECT_EQ(0, r) TH_LOG("TX: %s", strerror(-r));
		r = rx_one(self, VQ_TIMEOUT_MS);
		EXPECT_EQ(0, r) TH_LOG("RX: %s", strerror(-r));
		return;
	}
	r = loop_one(self, 0, seed, VQ_TIMEOUT_MS);
	EXPECT_EQ(0, r) TH_LOG("vq0: %s", strerror(-r));
	r = loop_one(self, 1, seed + 1, VQ_TIMEOUT_MS);
	EXPECT_EQ(0, r) TH_LOG("vq1: %s", strerror(-r));
}

/*
 * One thread serves both vrings; the parameter counts when SET_OWNER
 * runs, not afterwards.
 */
TEST_F(shared, one_worker_both_vrings)
{
	int other;

	EXPECT_EQ('N', param_read(self->param));
	EXPECT_EQ(0, wait_workers(getpid(), 0));
	shared_start(_metadata, self, variant->net, NVQS);
	shared_traffic(_metadata, self, variant->net, 1);
	shared_traffic(_metadata, self, variant->net, 3);
	EXPECT_EQ(1, wait_workers(getpid(), 1));
	shared_no_errors(_metadata, self);

	/* Back to one per vring: a new owner gets two, this one keeps one. */
	ASSERT_EQ(0, param_write(self->param, 'Y'));
	other = open(variant->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, vq_ioctl(other, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(1 + NVQS, wait_workers(getpid(), 1 + NVQS));
	shared_traffic(_metadata, self, variant->net, 5);
	EXPECT_EQ(0, close(other));
	EXPECT_EQ(1, wait_workers(getpid(), 1));
	shared_no_errors(_metadata, self);
}

/* The guest on one vring: chains re-added and kicked as fast as it can. */
struct flood {
	struct vq *vq;
	struct vq_sg sg[2];
	unsigned int nout, nin;
	bool stop;			/* __atomic */
	unsigned long long done;	/* __atomic */
	int err;
};

static void *flood_fn(void *arg)
{
	struct flood *f = arg;
	struct vq_used_buf u;
	int r;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED) && !f->err) {
		while (vq_add(f->vq, f->sg, f->nout, f->nin, NULL) >= 0)
			;
		f->err = vq_kick(f->vq);
		for (;;) {
			r = vq_reap(f->vq, &u);
			if (r)
				break;
			__atomic_add_fetch(&f->done, 1, __ATOMIC_RELAXED);
		}
		if (r != -EAGAIN)
			f->err = r;
	}
	return NULL;
}

/* Entries the guest made available that the device has not used yet. */
static unsigned int ring_backlog(struct vq *vq)
{
	__u16 avail = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);

	return (__u16)(avail - vq_used_idx(vq));
}

/*
 * One worker, one vring flooded (loopback vq0, or net TX): a request on
 * the other vring (loopback vq1, or a frame for RX) is served within
 * FAIR_BOUND_MS, round after round.  Without a per-run budget the
 * worker would stay in the flooded vring's handler for as long as the
 * guest keeps it fed (with weight_reqs and weight_bytes set out of reach
 * it does: the soft-lockup detector fires).
 */
TEST_F_TIMEOUT(shared, busy_vring_does_not_starve_other, 180)
{
	unsigned int busy = variant->net ? TXQ : 0, round, backlogged = 0;
	unsigned int failed = 0;
	long long t, worst = 0, lat[FAIR_ROUNDS];
	struct flood f = { .vq = &self->vq[busy] };
	int r[FAIR_ROUNDS];
	pthread_t th;

	shared_start(_metadata, self, variant->net, busy);
	shared_traffic(_metadata, self, variant->net, 7);
	if (variant->net) {
		f.sg[0] = (struct vq_sg){ self->tx_frame, HLEN + FRAME };
		f.nout = 1;
	} else {
		f.sg[0].gpa = vq_mem_alloc(&self->mem, LOOP_LEN, 64);
		f.sg[1].gpa = vq_mem_alloc(&self->mem, LOOP_LEN, 64);
		ASSERT_NE(VQ_BAD_GPA, f.sg[1].gpa);
		f.sg[0].len = LOOP_LEN;
		f.sg[1].len = LOOP_LEN;
		f.nout = 1;
		f.nin = 1;
	}
	ASSERT_EQ(0, pthread_create(&th, NULL, flood_fn, &f));
	/* Let it get going. */
	t = vq_now_ms() + VQ_TIMEOUT_MS;
	while (__atomic_load_n(&f.done, __ATOMIC_RELAXED) < FLOOD_WARMUP &&
	       vq_now_ms() < t)
		usleep(1000);
	/* No ASSERT while the flood runs: its memory must outlive it. */
	for (round = 0; round < FAIR_ROUNDS; round++) {
		t = vq_now_ms();
		if (variant->net)
			r[round] = rx_one(self, FAIR_BOUND_MS);
		else
			r[round] = loop_one(self, 1, 100 + round,
					    FAIR_BOUND_MS);
		lat[round] = vq_now_ms() - t;
		if (ring_backlog(f.vq))
			backlogged++;
		if (lat[round] > worst)
			worst = lat[round];
		usleep(10000);
	}
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(th, NULL));
	TH_LOG("%llu flood chains; worst wait %lld ms; flood backlogged at %u of %u",
	       f.done, worst, backlogged, FAIR_ROUNDS);
	EXPECT_EQ(0, f.err) TH_LOG("flood: %s", strerror(-f.err));
	EXPECT_LT(FLOOD_WARMUP, f.done) TH_LOG("the flood never got going");
	for (round = 0; round < FAIR_ROUNDS; round++) {
		if (!r[round])
			continue;
		failed++;
		TH_LOG("round %u: %s after %lld ms", round,
		       strerror(-r[round]), lat[round]);
	}
	EXPECT_EQ(0, failed) TH_LOG("%u of %u requests starved", failed,
				    FAIR_ROUNDS);
	EXPECT_EQ(1, wait_workers(getpid(), 1));
	shared_no_errors(_metadata, self);
}

/*
 * The per-run budgets are bounded: 0, or a value past the bound, is
 * refused with EINVAL and leaves the old value; the bounds themselves
 * are accepted.
 */
static int weight_write(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/kvhost/parameters/%s", name);
	return vq_write_str(path, val);
}

static long weight_read(const char *name)
{
	char path[128], buf[32] = "";
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/kvhost/parameters/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

TEST(weights_bounded)
{
	static const struct {
		const char *name, *max, *over;
	} w[] = {
		{ "weight_reqs", "4096", "4097" },
		{ "weight_bytes", "16777216", "16777217" },
	};
	unsigned int i;
	char old[32];
	long v;

	for (i = 0; i < ARRAY_SIZE(w); i++) {
		v = weight_read(w[i].name);
		ASSERT_GT(v, 0) TH_LOG("%s unreadable", w[i].name);
		snprintf(old, sizeof(old), "%ld", v);
		EXPECT_EQ(-EINVAL, weight_write(w[i].name, "0"));
		EXPECT_EQ(-EINVAL, weight_write(w[i].name, w[i].over));
		EXPECT_EQ(-EINVAL, weight_write(w[i].name, "4000000000"));
		EXPECT_EQ(v, weight_read(w[i].name));
		EXPECT_EQ(0, weight_write(w[i].name, w[i].max));
		EXPECT_EQ(strtol(w[i].max, NULL, 10), weight_read(w[i].name));
		EXPECT_EQ(0, weight_write(w[i].name, "1"));
		EXPECT_EQ(1, weight_read(w[i].name));
		ASSERT_EQ(0, weight_write(w[i].name, old));
		EXPECT_EQ(v, weight_read(w[i].name));
	}
}

TEST_HARNESS_MAIN
