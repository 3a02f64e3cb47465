// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost core tests: the vhost control plane (ownership, features, the
 * memory table, vring setup, eventfds, dirty logging) and the ring engine
 * behind it.
 *
 *   core     every core ioctl's success and error paths on an idle device
 *   active   the rules that apply once a vring is running
 *   hostile  malformed rings: the error eventfd fires, kvhost counts it
 *   loop     the data path, through kvhost's loopback node
 *
 * core, active and hostile also run against the kernel's own
 * /dev/vhost-net for parity (SKIP when vhost_net is not loaded); kvhost's
 * documented differences from upstream are conditional on the variant.
 * A running vring needs a backend: a tap for the net nodes, or
 * KVHOST_TEST_SET_RUNNING on /dev/kvhost-test (kvhost loaded with
 * test_dev=1; SKIP when absent).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/kvhost.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "kselftest_harness.h"
#include "virtq.h"

#define UPSTREAM_NET	"/dev/vhost-net"
#define KVH_NET		"/dev/" KVHOST_NET_NODE
#define KVH_TEST	"/dev/" KVHOST_TEST_NODE

/* vhost-net, kvhost-net and kvhost-test all have two vrings. */
#define NVQS		2
#define NUM		256

#define FBIT(b)		(1ULL << (b))

/*
 * Guest memory of every rig: A and B are adjacent in guest-physical space
 * but separate mappings, then a hole, then C.  The allocator hands out
 * memory from the start of A; the EDGE window around the A/B boundary is
 * kept for tests that place buffers there by hand.
 */
#define GPA_A		0x100000ULL
#define SIZE_A		0x200000ULL
#define GPA_B		(GPA_A + SIZE_A)
#define SIZE_B		0x100000ULL
#define GPA_HOLE	(GPA_B + SIZE_B)
#define GPA_C		0x1000000ULL
#define SIZE_C		0x100000ULL
#define EDGE		0x10000ULL

#define SCRATCH_SIZE	0x100000ULL
#define SENTINEL	0xaa
/* An address no user process can access. */
#define KERNEL_UADDR	0xffff888000000000ULL

enum kind {
	KIND_NET,
	KIND_TEST,
};

/*
 * The 6.1 harness goes on to run the test body after SKIP() in a fixture
 * setup; end the test process instead (exit status 255 reports SKIP).
 */
static void setup_skip(struct __test_metadata *_metadata, const char *why)
{
	SKIP(_exit(255), "%s", why);
}

static int open_node(const char *path)
{
	return open(path, O_RDWR | O_CLOEXEC);
}

/* A page that exists but cannot be read or written. */
static void *noaccess_page(void)
{
	void *p = mmap(NULL, VQ_PAGE_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static unsigned int read_param(const char *path, unsigned int dflt)
{
	unsigned int v;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return dflt;
	if (fscanf(f, "%u", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

static unsigned int mem_regions_limit(bool upstream)
{
	return read_param(upstream ?
			  "/sys/module/vhost/parameters/max_mem_regions" :
			  "/sys/module/kvhost/parameters/max_mem_regions", 64);
}

static int tap_open(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static struct vhost_memory *table_alloc(unsigned int n)
{
	return calloc(1, sizeof(struct vhost_memory) +
		      n * sizeof(struct vhost_memory_region));
}

static void region_set(struct vhost_memory_region *r, __u64 gpa, __u64 size,
		       __u64 uaddr)
{
	r->guest_phys_addr = gpa;
	r->memory_size = size;
	r->userspace_addr = uaddr;
	r->flags_padding = 0;
}

/* A copy of table t with one more region, or NULL. */
static struct vhost_memory *table_plus(const struct vhost_memory *t,
				       __u64 gpa, __u64 size, __u64 uaddr)
{
	struct vhost_memory *big = table_alloc(t->nregions + 1);

	if (!big)
		return NULL;
	memcpy(big, t, sizeof(*t) + t->nregions * sizeof(t->regions[0]));
	region_set(&big->regions[big->nregions++], gpa, size, uaddr);
	return big;
}

static int wait_child(pid_t pid, int timeout_ms)
{
	long long end = vq_now_ms() + timeout_ms;
	int status, r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
		if (r < 0)
			return -errno;
		if (vq_now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
}

/* One byte from a pipe, with a timeout: 0, or -errno. */
static int pipe_wait(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	int r;

	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	if (read(fd, &c, 1) != 1)
		return -EIO;
	return 0;
}

static int pipe_post(int fd)
{
	return write(fd, "x", 1) == 1 ? 0 : -errno;
}

/*
 * A rig: a device node with an owner, features, the A/B/C memory table,
 * both vrings programmed and, optionally, dirty logging of everything.
 */
struct rig {
	int fd;
	int tap;
	enum kind kind;
	bool upstream;
	bool legacy;		/* no VIRTIO_F_VERSION_1 */
	bool logging;
	__u64 acked;
	struct vq_mem mem;
	struct vq vq[NVQS];
	struct vq_log log;
	__u64 scratch;		/* SCRATCH_SIZE bytes in A */
	__u64 scratch_used;
};

static void rig_open(struct __test_metadata *_metadata, struct rig *r,
		     const char *path, enum kind kind, bool upstream)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->tap = -1;
	r->mem.memfd = -1;
	for (i = 0; i < NVQS; i++) {
		r->vq[i].kick_fd = -1;
		r->vq[i].call_fd = -1;
		r->vq[i].err_fd = -1;
	}
	r->kind = kind;
	r->upstream = upstream;
	r->fd = open_node(path);
	if (r->fd < 0 && errno == ENOENT && (upstream || kind == KIND_TEST))
		setup_skip(_metadata, upstream ?
			   "/dev/vhost-net absent (load vhost_net)" :
			   "/dev/kvhost-test absent (load kvhost test_dev=1)");
	ASSERT_LE(0, r->fd) TH_LOG("open %s: %s", path, strerror(errno));
	if (kind != KIND_NET)
		return;
	r->tap = tap_open();
	if (r->tap == -ENOENT)
		setup_skip(_metadata, "/dev/net/tun absent (load tun)");
	ASSERT_LE(0, r->tap) TH_LOG("tap: %s", strerror(-r->tap));
}

static __u64 rig_features(const struct rig *r)
{
	__u64 f = FBIT(VIRTIO_RING_F_INDIRECT_DESC);

	if (!r->legacy)
		f |= FBIT(VIRTIO_F_VERSION_1);
	if (r->kind == KIND_NET)
		f |= FBIT(VHOST_NET_F_VIRTIO_NET_HDR);
	if (r->logging)
		f |= FBIT(VHOST_F_LOG_ALL);
	return f;
}

static void rig_mem(struct __test_metadata *_metadata, struct rig *r)
{
	ASSERT_EQ(0, vq_mem_init(&r->mem));
	ASSERT_EQ(0, vq_mem_add(&r->mem, GPA_A, SIZE_A));
	ASSERT_EQ(1, vq_mem_add(&r->mem, GPA_B, SIZE_B));
	ASSERT_EQ(2, vq_mem_add(&r->mem, GPA_C, SIZE_C));
	ASSERT_EQ(0, vq_mem_set_table(&r->mem, r->fd));
}

static void rig_setup(struct __test_metadata *_metadata, struct rig *r,
		      __u64 extra, unsigned int num, bool logging)
{
	__u64 want;
	unsigned int i;

	r->logging = logging;
	want = rig_features(r) | extra;
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_negotiate(r->fd, want, &r->acked));
	ASSERT_EQ(want, r->acked)
		TH_LOG("device acks 0x%llx of 0x%llx",
		       (unsigned long long)r->acked, (unsigned long long)want);
	rig_mem(_metadata, r);
	if (logging) {
		ASSERT_EQ(0, vq_log_init(&r->log, vq_mem_end(&r->mem)));
		ASSERT_EQ(0, vq_log_set_base(&r->log, r->fd));
	}
	for (i = 0; i < NVQS; i++) {
		ASSERT_EQ(0, vq_init(&r->vq[i], r->fd, i, num, &r->mem));
		vq_set_features(&r->vq[i], r->acked);
		ASSERT_EQ(0, vq_program(&r->vq[i]));
		if (logging)
			ASSERT_EQ(0, vq_set_addr(&r->vq[i], true,
						 r->vq[i].used_gpa));
	}
	r->scratch = vq_mem_alloc(&r->mem, SCRATCH_SIZE, VQ_PAGE_SIZE);
	ASSERT_NE(VQ_BAD_GPA, r->scratch);
}

/* Attach/detach the backend (net) or start/stop the loopback (test). */
static int rig_run(struct rig *r, unsigned int index, bool on)
{
	struct vhost_vring_state s = { .index = index, .num = on };
	struct vhost_vring_file f = { .index = index, .fd = on ? r->tap : -1 };

	if (r->kind == KIND_NET)
		return vq_ioctl(r->fd, VHOST_NET_SET_BACKEND, &f);
	return vq_ioctl(r->fd, KVHOST_TEST_SET_RUNNING, &s);
}

static void rig_run_all(struct __test_metadata *_metadata, struct rig *r)
{
	unsigned int i;
	int ret;

	for (i = 0; i < NVQS; i++) {
		ret = rig_run(r, i, true);
		ASSERT_EQ(0, ret) TH_LOG("start vq%u: %s", i, strerror(-ret));
	}
}

static int rig_close(struct rig *r)
{
	unsigned int i;
	int ret = 0;

	if (r->fd >= 0)
		ret = close(r->fd);
	r->fd = -1;
	for (i = 0; i < NVQS; i++)
		vq_free(&r->vq[i]);
	vq_log_free(&r->log);
	vq_mem_free(&r->mem);
	if (r->tap >= 0)
		close(r->tap);
	r->tap = -1;
	return ret;
}

/* Scratch memory in A: odd offsets on purpose.  Running out is a bug. */
static __u64 rig_buf(struct rig *r, __u64 len)
{
	__u64 gpa = r->scratch + r->scratch_used;

	r->scratch_used += len + 3;
	if (r->scratch_used > SCRATCH_SIZE) {
		fprintf(stderr, "# %s: scratch exhausted\n", __func__);
		abort();
	}
	return gpa;
}

/* Chains and the loopback's contract */

struct chain {
	struct vq_sg sg[VQ_INDIRECT_MAX];
	unsigned int nout, nin;
	unsigned int seed;
};

static __u8 pat(unsigned int seed, __u64 k)
{
	return (__u8)(seed * 37 + k * 11 + (k >> 8) + 1);
}

static __u64 sg_total(const struct vq_sg *sg, unsigned int n)
{
	__u64 t = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		t += sg[i].len;
	return t;
}

static void chain_add_sg(struct chain *c, __u64 gpa, __u32 len, bool in)
{
	c->sg[c->nout + c->nin].gpa = gpa;
	c->sg[c->nout + c->nin].len = len;
	if (in)
		c->nin++;
	else
		c->nout++;
}

/* Readable pieces get the pattern, writable ones the sentinel. */
static int chain_fill(struct vq_mem *mem, const struct chain *c)
{
	unsigned int i;
	__u64 k = 0, j;
	__u8 *buf;
	int r = 0;

	for (i = 0; i < c->nout + c->nin && !r; i++) {
		buf = malloc(c->sg[i].len + 1);
		if (!buf)
			return -ENOMEM;
		for (j = 0; j < c->sg[i].len; j++)
			buf[j] = i < c->nout ? pat(c->seed, k++) : SENTINEL;
		r = vq_mem_write(mem, c->sg[i].gpa, buf, c->sg[i].len);
		free(buf);
	}
	return r;
}

/*
 * The loopback copies the readable bytes into the writable ones and
 * reports the bytes written: check the length, the copy, and that nothing
 * past it was touched.
 */
static void chain_check(struct __test_metadata *_metadata,
			struct vq_mem *mem, const struct chain *c, __u32 len)
{
	__u64 out = sg_total(c->sg, c->nout);
	__u64 in = sg_total(c->sg + c->nout, c->nin);
	__u64 k = 0, j;
	unsigned int i;
	__u8 *buf, want, got;

	EXPECT_EQ(out < in ? out : in, len)
		TH_LOG("seed %u: %u out / %u in pieces", c->seed, c->nout,
		       c->nin);
	for (i = c->nout; i < c->nout + c->nin; i++) {
		buf = malloc(c->sg[i].len + 1);
		ASSERT_NE(NULL, buf);
		ASSERT_EQ(0, vq_mem_read(mem, c->sg[i].gpa, buf,
					 c->sg[i].len));
		for (j = 0; j < c->sg[i].len; j++, k++) {
			want = k < len ? pat(c->seed, k) : SENTINEL;
			got = buf[j];
			if (got == want)
				continue;
			free(buf);
			ASSERT_EQ(want, got)
				TH_LOG("seed %u byte %llu piece %u gpa 0x%llx",
				       c->seed, (unsigned long long)k, i,
				       (unsigned long long)(c->sg[i].gpa + j));
		}
		free(buf);
	}
}

/*
 * A frame for the net TX vring: a zeroed virtio-net header (12 bytes with
 * VERSION_1, else 10 and two more zeroes), then 60 bytes.
 */
static void net_chain(struct rig *r, struct chain *c)
{
	static const __u8 frame[72] = {
		[12] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x02, 0, 0, 0, 0, 1, 0x88, 0xb5,
	};
	__u64 gpa = rig_buf(r, sizeof(frame));

	memset(c, 0, sizeof(*c));
	vq_mem_write(&r->mem, gpa, frame, sizeof(frame));
	chain_add_sg(c, gpa, sizeof(frame), false);
}

/* A small out + in chain for the loopback. */
static void loop_chain(struct rig *r, struct chain *c, unsigned int seed)
{
	memset(c, 0, sizeof(*c));
	c->seed = seed;
	chain_add_sg(c, rig_buf(r, 100), 100, false);
	chain_add_sg(c, rig_buf(r, 40), 40, true);
	chain_add_sg(c, rig_buf(r, 80), 80, true);
	chain_fill(&r->mem, c);
}

/* Send one chain and check what comes back. */
static void rig_roundtrip(struct __test_metadata *_metadata, struct rig *r,
			  unsigned int vqi, struct chain *c, bool indirect)
{
	struct vq *vq = &r->vq[vqi];
	struct vq_used_buf u;
	int head, ret;

	if (indirect)
		head = vq_add_indirect(vq, c->sg, c->nout, c->nin, c);
	else
		head = vq_add(vq, c->sg, c->nout, c->nin, c);
	ASSERT_LE(0, head) TH_LOG("add: %s", strerror(-head));
	ASSERT_EQ(0, vq_kick(vq));
	ret = vq_wait_used(vq, VQ_TIMEOUT_MS);
	ASSERT_EQ(0, ret) TH_LOG("vq%u: no used entry for head %d", vqi, head);
	ASSERT_EQ(0, vq_reap(vq, &u)) TH_LOG("used id %u", u.id);
	EXPECT_EQ(head, u.id);
	EXPECT_EQ(c, u.cookie);
	if (r->kind != KIND_NET) {
		chain_check(_metadata, &r->mem, c, u.len);
		return;
	}
	EXPECT_EQ(0, u.len);	/* vhost-net TX reports 0 */
}

static void rig_good_roundtrip(struct __test_metadata *_metadata,
			       struct rig *r, unsigned int vqi, bool indirect)
{
	struct chain c;

	if (r->kind == KIND_NET)
		net_chain(r, &c);
	else
		loop_chain(r, &c, vqi * 100 + indirect);
	rig_roundtrip(_metadata, r, vqi, &c, indirect);
}

/*
 * core: one idle device, no owner yet.
 */

FIXTURE(core) {
	int fd;
};

FIXTURE_VARIANT(core) {
	const char *path;
	enum kind kind;
	bool upstream;
};

FIXTURE_VARIANT_ADD(core, kvhost_net) {
	.path = KVH_NET,
	.kind = KIND_NET,
};

FIXTURE_VARIANT_ADD(core, kvhost_test) {
	.path = KVH_TEST,
	.kind = KIND_TEST,
};

FIXTURE_VARIANT_ADD(core, vhost_net) {
	.path = UPSTREAM_NET,
	.kind = KIND_NET,
	.upstream = true,
};

FIXTURE_SETUP(core)
{
	self->fd = open_node(variant->path);
	if (self->fd < 0 && errno == ENOENT &&
	    (variant->upstream || variant->kind == KIND_TEST))
		setup_skip(_metadata, "node absent (module not loaded)");
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s", variant->path, strerror(errno));
}

FIXTURE_TEARDOWN(core)
{
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
}

static void own(struct __test_metadata *_metadata, int fd)
{
	ASSERT_EQ(0, vq_ioctl(fd, VHOST_SET_OWNER, NULL));
}

/*
 * The configuration commands only the owner may issue, each with an
 * argument that is valid for an owner: -errno of command i, or 1 past the
 * end.
 */
#define NR_OWNER_CMDS	15

static const char *const owner_cmd_names[NR_OWNER_CMDS] = {
	"SET_MEM_TABLE", "SET_LOG_BASE", "SET_LOG_FD", "SET_VRING_NUM",
	"SET_VRING_ADDR", "SET_VRING_BASE", "GET_VRING_BASE",
	"SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_ERR",
	"SET_VRING_BUSYLOOP_TIMEOUT", "GET_VRING_BUSYLOOP_TIMEOUT",
	"SET_VRING_NUM(index out of range)", "RESET_OWNER", "start backend",
};

/* Ring memory for commands that only need valid, aligned addresses. */
static __u64 owner_cmd_ring[3 * VQ_PAGE_SIZE / sizeof(__u64)];

static int owner_cmd(int fd, enum kind kind, unsigned int i)
{
	struct vhost_vring_state s = { .index = 0, .num = NUM };
	struct vhost_vring_file f = { .index = 0, .fd = -1 };
	struct vhost_vring_addr a = {
		.desc_user_addr = vq_mem_hva_to_uaddr(owner_cmd_ring),
		.avail_user_addr = vq_mem_hva_to_uaddr(owner_cmd_ring) +
				   VQ_PAGE_SIZE,
		.used_user_addr = vq_mem_hva_to_uaddr(owner_cmd_ring) +
				  2 * VQ_PAGE_SIZE,
	};
	struct vhost_memory m = { .nregions = 0 };
	__u64 log = vq_mem_hva_to_uaddr(owner_cmd_ring);
	int minus_one = -1;

	switch (i) {
	case 0:
		return vq_ioctl(fd, VHOST_SET_MEM_TABLE, &m);
	case 1:
		return vq_ioctl(fd, VHOST_SET_LOG_BASE, &log);
	case 2:
		return vq_ioctl(fd, VHOST_SET_LOG_FD, &minus_one);
	case 3:
		return vq_ioctl(fd, VHOST_SET_VRING_NUM, &s);
	case 4:
		return vq_ioctl(fd, VHOST_SET_VRING_ADDR, &a);
	case 5:
		s.num = 0;
		return vq_ioctl(fd, VHOST_SET_VRING_BASE, &s);
	case 6:
		return vq_ioctl(fd, VHOST_GET_VRING_BASE, &s);
	case 7:
		return vq_ioctl(fd, VHOST_SET_VRING_KICK, &f);
	case 8:
		return vq_ioctl(fd, VHOST_SET_VRING_CALL, &f);
	case 9:
		return vq_ioctl(fd, VHOST_SET_VRING_ERR, &f);
	case 10:
		return vq_ioctl(fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s);
	case 11:
		return vq_ioctl(fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s);
	case 12:
		s.index = NVQS;
		return vq_ioctl(fd, VHOST_SET_VRING_NUM, &s);
	case 13:
		return vq_ioctl(fd, VHOST_RESET_OWNER, NULL);
	case 14:
		if (kind == KIND_NET)
			return vq_ioctl(fd, VHOST_NET_SET_BACKEND, &f);
		s.num = 0;
		return vq_ioctl(fd, KVHOST_TEST_SET_RUNNING, &s);
	}
	return 1;
}

TEST_F(core, set_owner_twice_ebusy)
{
	own(_metadata, self->fd);
	EXPECT_EQ(-EBUSY, vq_ioctl(self->fd, VHOST_SET_OWNER, NULL));
	/* The failed attempt changed nothing: still the owner. */
	EXPECT_EQ(0, owner_cmd(self->fd, variant->kind, 3));
}

/* Everything else needs an owner first, and says EPERM. */
TEST_F(core, non_owner_eperm)
{
	unsigned int i;
	int r;

	for (i = 0; i < NR_OWNER_CMDS; i++) {
		r = owner_cmd(self->fd, variant->kind, i);
		EXPECT_EQ(-EPERM, r) TH_LOG("%s without an owner: %s",
					    owner_cmd_names[i], strerror(-r));
	}
	/* ... and the same commands work for the owner. */
	own(_metadata, self->fd);
	for (i = 0; i < NR_OWNER_CMDS; i++) {
		if (i == 12 || i == 13)
			continue;	/* ENOBUFS; RESET_OWNER: own test */
		r = owner_cmd(self->fd, variant->kind, i);
		EXPECT_EQ(0, r) TH_LOG("%s as the owner: %s",
				       owner_cmd_names[i], strerror(-r));
	}
}

TEST_F(core, get_features_without_owner)
{
	__u64 f = ~0ULL, g = 0;

	ASSERT_EQ(0, vq_get_features(self->fd, &f));
	own(_metadata, self->fd);
	ASSERT_EQ(0, vq_get_features(self->fd, &g));
	EXPECT_EQ(f, g);
	if (variant->upstream)
		EXPECT_TRUE(f & FBIT(VIRTIO_RING_F_EVENT_IDX));
}

/* Lowest bit of 64 that mask lacks, or -1. */
static int missing_bit(__u64 mask)
{
	int b;

	for (b = 0; b < 64; b++)
		if (!(mask & FBIT(b)))
			return b;
	return -1;
}

TEST_F(core, set_features)
{
	void *bad = noaccess_page();
	__u64 f, g;
	int b;

	ASSERT_NE(NULL, bad);
	own(_metadata, self->fd);
	ASSERT_EQ(0, vq_get_features(self->fd, &f));
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_FEATURES, &f));
	g = 0;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_FEATURES, &g));
	b = missing_bit(f);
	ASSERT_LE(0, b) TH_LOG("every feature bit offered?");
	for (; b < 64; b++) {
		if (f & FBIT(b))
			continue;
		g = f | FBIT(b);
		EXPECT_EQ(-EOPNOTSUPP,
			  vq_ioctl(self->fd, VHOST_SET_FEATURES, &g))
			TH_LOG("unoffered feature bit %d", b);
	}
	EXPECT_EQ(-EFAULT, vq_ioctl(self->fd, VHOST_SET_FEATURES, bad));
	EXPECT_EQ(-EFAULT, vq_ioctl(self->fd, VHOST_GET_FEATURES, bad));
}

/*
 * Upstream vhost-net checks no owner for SET_FEATURES (nor for the
 * backend features): parity.
 */
TEST_F(core, set_features_without_owner)
{
	__u64 f;

	if (variant->kind != KIND_NET)
		SKIP(return, "vhost-net parity only");
	ASSERT_EQ(0, vq_get_features(self->fd, &f));
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_FEATURES, &f));
	f = FBIT(missing_bit(f));
	EXPECT_EQ(-EOPNOTSUPP, vq_ioctl(self->fd, VHOST_SET_FEATURES, &f));
}

TEST_F(core, backend_features)
{
	__u64 b = 0, g;
	int bit;

	/* Upstream, a vhost-net command; kvhost's core has it on every node. */
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_GET_BACKEND_FEATURES, &b));
	if (variant->upstream)
		EXPECT_TRUE(b & FBIT(VHOST_BACKEND_F_IOTLB_MSG_V2));
	own(_metadata, self->fd);
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_BACKEND_FEATURES, &b));
	g = 0;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_BACKEND_FEATURES, &g));
	bit = missing_bit(b);
	ASSERT_LE(0, bit);
	g = b | FBIT(bit);
	EXPECT_EQ(-EOPNOTSUPP,
		  vq_ioctl(self->fd, VHOST_SET_BACKEND_FEATURES, &g))
		TH_LOG("backend features 0x%llx, tried bit %d",
		       (unsigned long long)b, bit);
	g = ~0ULL;
	EXPECT_EQ(-EOPNOTSUPP,
		  vq_ioctl(self->fd, VHOST_SET_BACKEND_FEATURES, &g));
}

TEST_F(core, reset_owner_then_set_owner)
{
	struct vhost_vring_state s = { .index = 1, .num = 5 };

	EXPECT_EQ(-EPERM, vq_ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	own(_metadata, self->fd);
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_SET_VRING_BASE, &s));
	s.num = 7;
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s));
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	/* No owner any more. */
	EXPECT_EQ(-EPERM, vq_ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
	EXPECT_EQ(-EPERM, vq_ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	own(_metadata, self->fd);
	/* The vring state went with the old owner. */
	s.num = ~0U;
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
	EXPECT_EQ(0, s.num);
	s.num = ~0U;
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &s));
	EXPECT_EQ(0, s.num);
	EXPECT_EQ(-EBUSY, vq_ioctl(self->fd, VHOST_SET_OWNER, NULL));
}

/* Mem table */

TEST_F(core, mem_table_zero_regions)
{
	struct vhost_memory m = { .nregions = 0 };

	own(_metadata, self->fd);
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, &m));
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, &m));
}

/* n one-page regions, each at its own page of a real mapping. */
static struct vhost_memory *table_n(unsigned int n, void **map)
{
	struct vhost_memory *t = table_alloc(n);
	unsigned int i;
	char *p;

	p = mmap(NULL, (n + 1) * VQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!t || p == MAP_FAILED)
		return NULL;
	t->nregions = n;
	for (i = 0; i < n; i++)
		region_set(&t->regions[i], 2 * i * VQ_PAGE_SIZE, VQ_PAGE_SIZE,
			   vq_mem_hva_to_uaddr(p + i * VQ_PAGE_SIZE));
	*map = p;
	return t;
}

TEST_F(core, mem_table_max_regions)
{
	unsigned int max = mem_regions_limit(variant->upstream);
	struct vhost_memory *t;
	void *map;
	int r;

	TH_LOG("%s: max_mem_regions %u", variant->path, max);
	own(_metadata, self->fd);
	t = table_n(max + 1, &map);
	ASSERT_NE(NULL, t);
	t->nregions = max;
	r = vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t);
	EXPECT_EQ(0, r) TH_LOG("%u regions: %s", max, strerror(-r));
	t->nregions = max + 1;
	EXPECT_EQ(-E2BIG, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	t->nregions = ~0U;
	EXPECT_EQ(-E2BIG, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	free(t);
}

/*
 * The default limit is upstream's: 64 (the VMs load both modules without
 * the parameter), and what the parameter says is what the ioctl enforces.
 */
TEST_F(core, mem_table_max_regions_default_64)
{
	unsigned int max = mem_regions_limit(variant->upstream);
	struct vhost_memory *t;
	void *map;

	EXPECT_EQ(64, max) TH_LOG("%s: max_mem_regions %u", variant->path,
				  max);
	own(_metadata, self->fd);
	t = table_n(65, &map);
	ASSERT_NE(NULL, t);
	t->nregions = 64;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	t->nregions = 65;
	EXPECT_EQ(-E2BIG, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	free(t);
	munmap(map, 66 * VQ_PAGE_SIZE);
}

TEST_F(core, mem_table_padding_eopnotsupp)
{
	struct vhost_memory *t;
	void *map;

	own(_metadata, self->fd);
	t = table_n(1, &map);
	ASSERT_NE(NULL, t);
	t->padding = 1;
	EXPECT_EQ(-EOPNOTSUPP, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	t->padding = 0x80000000;
	EXPECT_EQ(-EOPNOTSUPP, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	t->padding = 0;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	free(t);
}

/* guest_phys_addr + memory_size - 1 must not wrap (size 0 wraps too). */
TEST_F(core, mem_table_region_wrap_efault)
{
	static const struct { __u64 gpa, size; } bad[] = {
		{ 0xfffffffffffff000ULL, 0x2000 },
		{ 0x8000000000000000ULL, 0x8000000000000001ULL },
		{ 0x1000, 0 },
	};
	struct vhost_memory *t;
	unsigned int i;
	void *map;
	int r;

	own(_metadata, self->fd);
	t = table_n(2, &map);
	ASSERT_NE(NULL, t);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		t->regions[1].guest_phys_addr = bad[i].gpa;
		t->regions[1].memory_size = bad[i].size;
		r = vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t);
		EXPECT_EQ(-EFAULT, r)
			TH_LOG("gpa 0x%llx size 0x%llx: %s",
			       (unsigned long long)bad[i].gpa,
			       (unsigned long long)bad[i].size, strerror(-r));
	}
	free(t);
}

TEST_F(core, mem_table_bad_pointer_efault)
{
	struct vhost_memory *t;
	char *p;

	own(_metadata, self->fd);
	p = noaccess_page();
	ASSERT_NE(NULL, p);
	EXPECT_EQ(-EFAULT, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, p));
	/* The header is readable, the second region is not. */
	p = mmap(NULL, 2 * VQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, mprotect(p + VQ_PAGE_SIZE, VQ_PAGE_SIZE, PROT_NONE));
	t = (struct vhost_memory *)(p + VQ_PAGE_SIZE - sizeof(*t) -
				    sizeof(t->regions[0]));
	t->nregions = 2;
	t->padding = 0;
	region_set(&t->regions[0], 0, VQ_PAGE_SIZE,
		   vq_mem_hva_to_uaddr(p));
	EXPECT_EQ(-EFAULT, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	t->nregions = 1;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
}

/*
 * A region whose userspace_addr no process can access.  kvhost checks
 * every table when it is set.  Upstream only checks a table against the
 * running vrings, so on an idle device it takes it (and fails the start
 * of a vring later; the active fixture checks that part for both).
 */
TEST_F(core, mem_table_bad_userspace_addr)
{
	static const struct { __u64 uaddr, size; } bad[] = {
		{ KERNEL_UADDR, VQ_PAGE_SIZE },
		{ 0xfffffffffffff000ULL, 0x2000 },	/* uaddr + size wraps */
	};
	struct vhost_memory *t;
	unsigned int i;
	void *map;
	int r;

	own(_metadata, self->fd);
	t = table_n(2, &map);
	ASSERT_NE(NULL, t);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		t->regions[1].userspace_addr = bad[i].uaddr;
		t->regions[1].memory_size = bad[i].size;
		r = vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t);
		EXPECT_EQ(variant->upstream ? 0 : -EFAULT, r)
			TH_LOG("uaddr 0x%llx size 0x%llx: %s",
			       (unsigned long long)bad[i].uaddr,
			       (unsigned long long)bad[i].size, strerror(-r));
	}
	free(t);
}

/* kvhost rejects overlapping regions; upstream takes them. */
TEST_F(core, mem_table_overlap)
{
	static const struct { __u64 gpa, size; } ovl[] = {
		{ 0, 2 * VQ_PAGE_SIZE },		/* same as region 0 */
		{ 0, VQ_PAGE_SIZE },			/* inside it */
		{ VQ_PAGE_SIZE, 2 * VQ_PAGE_SIZE },	/* straddles its end */
	};
	struct vhost_memory *t;
	unsigned int i;
	void *map;
	int r;

	own(_metadata, self->fd);
	t = table_n(2, &map);	/* three pages mapped */
	ASSERT_NE(NULL, t);
	t->regions[0].memory_size = 2 * VQ_PAGE_SIZE;
	/* Touching but not overlapping is fine for both. */
	t->regions[1].guest_phys_addr = 2 * VQ_PAGE_SIZE;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t));
	for (i = 0; i < ARRAY_SIZE(ovl); i++) {
		t->regions[1].guest_phys_addr = ovl[i].gpa;
		t->regions[1].memory_size = ovl[i].size;
		r = vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t);
		EXPECT_EQ(variant->upstream ? 0 : -EINVAL, r)
			TH_LOG("gpa 0x%llx size 0x%llx over [0, 0x2000): %s",
			       (unsigned long long)ovl[i].gpa,
			       (unsigned long long)ovl[i].size, strerror(-r));
	}
	free(t);
}

/* kvhost rejects a non-zero flags_padding; upstream ignores it. */
TEST_F(core, mem_table_flags_padding)
{
	struct vhost_memory *t;
	void *map;
	int r;

	own(_metadata, self->fd);
	t = table_n(2, &map);
	ASSERT_NE(NULL, t);
	t->regions[1].flags_padding = 1;
	r = vq_ioctl(self->fd, VHOST_SET_MEM_TABLE, t);
	EXPECT_EQ(variant->upstream ? 0 : -EOPNOTSUPP, r)
		TH_LOG("flags_padding 1: %s", strerror(-r));
	free(t);
}

TEST_F(core, mem_table_replace)
{
	struct vq_mem mem;

	own(_metadata, self->fd);
	ASSERT_EQ(0, vq_mem_init(&mem));
	ASSERT_EQ(0, vq_mem_add(&mem, GPA_A, SIZE_A));
	EXPECT_EQ(0, vq_mem_set_table(&mem, self->fd));
	ASSERT_EQ(1, vq_mem_add(&mem, GPA_C, SIZE_C));
	EXPECT_EQ(0, vq_mem_set_table(&mem, self->fd));
	vq_mem_free(&mem);
}

/* Vrings */

TEST_F(core, vring_num_bounds)
{
	static const unsigned int bad[] = {
		0, 3, 6, 255, 257, 0xffff, 0x10000, 0x20000, 0x80000000,
	};
	static const unsigned int good[] = { 1, 2, 256, 0x8000 };
	struct vhost_vring_state s;
	unsigned int i, q;
	int r;

	own(_metadata, self->fd);
	for (q = 0; q < NVQS; q++) {
		s.index = q;
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			s.num = bad[i];
			r = vq_ioctl(self->fd, VHOST_SET_VRING_NUM, &s);
			EXPECT_EQ(-EINVAL, r) TH_LOG("vq%u num 0x%x: %s", q,
						     bad[i], strerror(-r));
		}
		for (i = 0; i < ARRAY_SIZE(good); i++) {
			s.num = good[i];
			r = vq_ioctl(self->fd, VHOST_SET_VRING_NUM, &s);
			EXPECT_EQ(0, r) TH_LOG("vq%u num 0x%x: %s", q, good[i],
					       strerror(-r));
		}
	}
}

static const struct {
	unsigned long req;
	const char *name;
} vring_cmds[] = {
	{ VHOST_SET_VRING_NUM, "SET_VRING_NUM" },
	{ VHOST_SET_VRING_ADDR, "SET_VRING_ADDR" },
	{ VHOST_SET_VRING_BASE, "SET_VRING_BASE" },
	{ VHOST_GET_VRING_BASE, "GET_VRING_BASE" },
	{ VHOST_SET_VRING_KICK, "SET_VRING_KICK" },
	{ VHOST_SET_VRING_CALL, "SET_VRING_CALL" },
	{ VHOST_SET_VRING_ERR, "SET_VRING_ERR" },
	{ VHOST_SET_VRING_BUSYLOOP_TIMEOUT, "SET_VRING_BUSYLOOP_TIMEOUT" },
	{ VHOST_GET_VRING_BUSYLOOP_TIMEOUT, "GET_VRING_BUSYLOOP_TIMEOUT" },
};

/* Every vring command reads the index first. */
TEST_F(core, vring_index_out_of_range_enobufs)
{
	static const __u32 idx[] = { NVQS, NVQS + 1, 0x10000, 0xffffffff };
	union {
		struct vhost_vring_state s;
		struct vhost_vring_file f;
		struct vhost_vring_addr a;
	} arg;
	void *bad = noaccess_page();
	unsigned int i, j;
	int r;

	ASSERT_NE(NULL, bad);
	own(_metadata, self->fd);
	for (i = 0; i < ARRAY_SIZE(vring_cmds); i++) {
		for (j = 0; j < ARRAY_SIZE(idx); j++) {
			memset(&arg, 0, sizeof(arg));
			arg.s.index = idx[j];
			r = vq_ioctl(self->fd, vring_cmds[i].req, &arg);
			EXPECT_EQ(-ENOBUFS, r)
				TH_LOG("%s index %u: %s", vring_cmds[i].name,
				       idx[j], strerror(-r));
		}
		r = vq_ioctl(self->fd, vring_cmds[i].req, bad);
		EXPECT_EQ(-EFAULT, r) TH_LOG("%s unreadable argument: %s",
					     vring_cmds[i].name, strerror(-r));
	}
}

static void vring_addr_at(struct vhost_vring_addr *a, unsigned int index,
			  void *ring)
{
	memset(a, 0, sizeof(*a));
	a->index = index;
	a->desc_user_addr = vq_mem_hva_to_uaddr(ring);
	a->avail_user_addr = a->desc_user_addr + VQ_PAGE_SIZE;
	a->used_user_addr = a->desc_user_addr + 2 * VQ_PAGE_SIZE;
}

TEST_F(core, vring_addr_flags_eopnotsupp)
{
	static const __u32 flags[] = { 2, 4, 0x80000000, 0xffffffff };
	struct vhost_vring_addr a;
	unsigned int i;
	int r;

	own(_metadata, self->fd);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		vring_addr_at(&a, 0, owner_cmd_ring);
		a.flags = flags[i];
		r = vq_ioctl(self->fd, VHOST_SET_VRING_ADDR, &a);
		EXPECT_EQ(-EOPNOTSUPP, r) TH_LOG("flags 0x%x: %s", flags[i],
						 strerror(-r));
	}
	a.flags = 1U << VHOST_VRING_F_LOG;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_VRING_ADDR, &a));
}

/*
 * avail must be 2-aligned, used and log_guest_addr 4-aligned (upstream
 * checks log_guest_addr whether or not logging is asked for).
 */
TEST_F(core, vring_addr_misaligned_einval)
{
	struct vhost_vring_addr a;
	unsigned int q;
	int r;

	own(_metadata, self->fd);
	for (q = 0; q < NVQS; q++) {
		vring_addr_at(&a, q, owner_cmd_ring);
		a.avail_user_addr += 1;
		r = vq_ioctl(self->fd, VHOST_SET_VRING_ADDR, &a);
		EXPECT_EQ(-EINVAL, r) TH_LOG("avail +1: %s", strerror(-r));

		vring_addr_at(&a, q, owner_cmd_ring);
		a.used_user_addr += 2;
		r = vq_ioctl(self->fd, VHOST_SET_VRING_ADDR, &a);
		EXPECT_EQ(-EINVAL, r) TH_LOG("used +2: %s", strerror(-r));

		vring_addr_at(&a, q, owner_cmd_ring);
		a.flags = 1U << VHOST_VRING_F_LOG;
		a.log_guest_addr = 0x1002;
		r = vq_ioctl(self->fd, VHOST_SET_VRING_ADDR, &a);
		EXPECT_EQ(-EINVAL, r) TH_LOG("log +2: %s", strerror(-r));

		vring_addr_at(&a, q, owner_cmd_ring);
		a.avail_user_addr += 2;
		a.used_user_addr += 4;
		a.flags = 1U << VHOST_VRING_F_LOG;
		a.log_guest_addr = 0x1004;
		r = vq_ioctl(self->fd, VHOST_SET_VRING_ADDR, &a);
		EXPECT_EQ(0, r) TH_LOG("minimal alignment: %s", strerror(-r));
	}
}

TEST_F(core, vring_base_round_trip)
{
	static const __u32 vals[] = { 0, 1, 0x1234, 0x8000, 0xffff };
	struct vhost_vring_state s;
	unsigned int i, q;

	own(_metadata, self->fd);
	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		for (q = 0; q < NVQS; q++) {
			s.index = q;
			s.num = vals[i] ^ q;
			ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_SET_VRING_BASE,
					      &s));
		}
		for (q = 0; q < NVQS; q++) {
			s.index = q;
			s.num = ~0U;
			ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_GET_VRING_BASE,
					      &s));
			EXPECT_EQ(q, s.index);
			EXPECT_EQ(vals[i] ^ q, s.num) TH_LOG("vq%u", q);
		}
	}
	/* Split rings: 16 bits, and a rejected value changes nothing. */
	s.index = 0;
	s.num = 0x10000;
	EXPECT_EQ(-EINVAL, vq_ioctl(self->fd, VHOST_SET_VRING_BASE, &s));
	s.num = ~0U;
	ASSERT_EQ(0, vq_ioctl(self->fd, VHOST_GET_VRING_BASE, &s));
	EXPECT_EQ(vals[ARRAY_SIZE(vals) - 1], s.num);
}

TEST_F(core, vring_busyloop_round_trip)
{
	static const __u32 vals[] = { 0, 1, 50, 0x7fffffff, 0xffffffff };
	struct vhost_vring_state s;
	unsigned int i, q;

	own(_metadata, self->fd);
	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		for (q = 0; q < NVQS; q++) {
			s.index = q;
			s.num = vals[i] - q;
			ASSERT_EQ(0, vq_ioctl(self->fd,
					      VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
					      &s));
		}
		for (q = 0; q < NVQS; q++) {
			s.index = q;
			s.num = 12345;
			ASSERT_EQ(0, vq_ioctl(self->fd,
					      VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
					      &s));
			EXPECT_EQ(q, s.index);
			EXPECT_EQ(vals[i] - q, s.num) TH_LOG("vq%u", q);
		}
	}
}

/* Debian builds vhost without CONFIG_VHOST_CROSS_ENDIAN_LEGACY. */
TEST_F(core, vring_endian_enotty)
{
	struct vhost_vring_state s = { .index = 0, .num = 0 };

	own(_metadata, self->fd);
	EXPECT_EQ(-ENOTTY, vq_ioctl(self->fd, VHOST_SET_VRING_ENDIAN, &s));
	EXPECT_EQ(-ENOTTY, vq_ioctl(self->fd, VHOST_GET_VRING_ENDIAN, &s));
	s.index = NVQS;
	EXPECT_EQ(-ENOBUFS, vq_ioctl(self->fd, VHOST_SET_VRING_ENDIAN, &s));
}

/* An fd number that is not open, and high enough not to be reused. */
static int closed_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 1000);

	close(fd);
	return fd;
}

static const struct {
	unsigned long req;
	const char *name;
} vring_files[] = {
	{ VHOST_SET_VRING_KICK, "SET_VRING_KICK" },
	{ VHOST_SET_VRING_CALL, "SET_VRING_CALL" },
	{ VHOST_SET_VRING_ERR, "SET_VRING_ERR" },
};

TEST_F(core, vring_eventfds)
{
	int efd = vq_eventfd(), efd2 = vq_eventfd(), pfd[2], bad = closed_fd();
	int mfd = memfd_create("not-an-eventfd", MFD_CLOEXEC);
	unsigned int i, q;
	int r;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, efd2);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	own(_metadata, self->fd);
	for (i = 0; i < ARRAY_SIZE(vring_files); i++) {
		for (q = 0; q < NVQS; q++) {
			unsigned long req = vring_files[i].req;
			const char *n = vring_files[i].name;

			/* Detach when nothing is attached. */
			EXPECT_EQ(0, vq_set_file(self->fd, req, q, -1))
				TH_LOG("%s -1 (none)", n);
			EXPECT_EQ(0, vq_set_file(self->fd, req, q, efd));
			EXPECT_EQ(0, vq_set_file(self->fd, req, q, efd))
				TH_LOG("%s same eventfd again", n);
			EXPECT_EQ(0, vq_set_file(self->fd, req, q, efd2))
				TH_LOG("%s replace", n);
			r = vq_set_file(self->fd, req, q, pfd[0]);
			EXPECT_EQ(-EINVAL, r) TH_LOG("%s pipe: %s", n,
						     strerror(-r));
			r = vq_set_file(self->fd, req, q, mfd);
			EXPECT_EQ(-EINVAL, r) TH_LOG("%s memfd: %s", n,
						     strerror(-r));
			r = vq_set_file(self->fd, req, q, self->fd);
			EXPECT_EQ(-EINVAL, r) TH_LOG("%s device fd: %s", n,
						     strerror(-r));
			r = vq_set_file(self->fd, req, q, bad);
			EXPECT_EQ(-EBADF, r) TH_LOG("%s closed fd: %s", n,
						    strerror(-r));
			r = vq_set_file(self->fd, req, q, -2);
			EXPECT_EQ(-EBADF, r) TH_LOG("%s fd -2: %s", n,
						    strerror(-r));
			EXPECT_EQ(0, vq_set_file(self->fd, req, q, -1))
				TH_LOG("%s detach", n);
		}
	}
	/* The device holds its own references: closing ours is fine. */
	for (q = 0; q < NVQS; q++)
		for (i = 0; i < ARRAY_SIZE(vring_files); i++)
			EXPECT_EQ(0, vq_set_file(self->fd, vring_files[i].req,
						 q, efd));
	close(efd);
	close(efd2);
	close(mfd);
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(core, log_base)
{
	void *bad = noaccess_page();
	__u64 base;

	ASSERT_NE(NULL, bad);
	own(_metadata, self->fd);
	base = vq_mem_hva_to_uaddr(owner_cmd_ring);
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(-EFAULT, vq_ioctl(self->fd, VHOST_SET_LOG_BASE, bad));
}

TEST_F(core, log_fd)
{
	int efd = vq_eventfd(), pfd[2], bad = closed_fd(), fd, r;
	void *badp = noaccess_page();

	ASSERT_LE(0, efd);
	ASSERT_NE(NULL, badp);
	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	own(_metadata, self->fd);
	fd = -1;
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_LOG_FD, &fd));
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_LOG_FD, &efd));
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_LOG_FD, &efd));
	r = vq_ioctl(self->fd, VHOST_SET_LOG_FD, &pfd[1]);
	EXPECT_EQ(-EINVAL, r) TH_LOG("pipe: %s", strerror(-r));
	r = vq_ioctl(self->fd, VHOST_SET_LOG_FD, &bad);
	EXPECT_EQ(-EBADF, r) TH_LOG("closed fd: %s", strerror(-r));
	EXPECT_EQ(-EFAULT, vq_ioctl(self->fd, VHOST_SET_LOG_FD, badp));
	EXPECT_EQ(0, vq_ioctl(self->fd, VHOST_SET_LOG_FD, &fd));
	close(efd);
	close(pfd[0]);
	close(pfd[1]);
}

/* Everything configured, then close: the VM checks leaks and splats. */
TEST_F(core, close_fully_configured)
{
	struct rig r;
	struct vhost_vring_state s = { .index = 0, .num = 10 };
	int efd = vq_eventfd();
	__u64 f;

	rig_open(_metadata, &r, variant->path, variant->kind,
		 variant->upstream);
	ASSERT_EQ(0, vq_get_features(r.fd, &f));
	rig_setup(_metadata, &r, f & FBIT(VIRTIO_RING_F_EVENT_IDX), NUM,
		  !!(f & FBIT(VHOST_F_LOG_ALL)));
	ASSERT_EQ(0, vq_ioctl(r.fd, VHOST_SET_LOG_FD, &efd));
	ASSERT_EQ(0, vq_ioctl(r.fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &s));
	/* Our eventfds and memory go first; the device keeps its own. */
	close(efd);
	EXPECT_EQ(0, rig_close(&r));
}

/*
 * Owner, features and memory regions (the table only if @table), and
 * fresh rings programmed on both vrings.
 */
static void rig_program(struct __test_metadata *_metadata, struct rig *r,
			bool table)
{
	unsigned int i;

	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_negotiate(r->fd, rig_features(r), &r->acked));
	if (r->mem.memfd < 0) {
		ASSERT_EQ(0, vq_mem_init(&r->mem));
		ASSERT_EQ(0, vq_mem_add(&r->mem, GPA_A, SIZE_A));
		ASSERT_EQ(1, vq_mem_add(&r->mem, GPA_B, SIZE_B));
		ASSERT_EQ(2, vq_mem_add(&r->mem, GPA_C, SIZE_C));
		r->scratch = vq_mem_alloc(&r->mem, SCRATCH_SIZE, VQ_PAGE_SIZE);
		ASSERT_NE(VQ_BAD_GPA, r->scratch);
	}
	if (table)
		ASSERT_EQ(0, vq_mem_set_table(&r->mem, r->fd));
	for (i = 0; i < NVQS; i++) {
		vq_free(&r->vq[i]);
		ASSERT_EQ(0, vq_init(&r->vq[i], r->fd, i, NUM, &r->mem));
		vq_set_features(&r->vq[i], r->acked);
		ASSERT_EQ(0, vq_program(&r->vq[i]));
	}
}

/*
 * A device that never had a memory table cannot start a vring, rings or
 * not.  As upstream, RESET_OWNER leaves an empty table rather than none:
 * the next owner may start its vrings before its first SET_MEM_TABLE (the
 * rings are user addresses, checked with access_ok() alone; no guest
 * memory is reachable until a table comes), and the data path works once
 * one comes.
 */
TEST_F(core, backend_after_reset_owner_without_mem_table)
{
	unsigned int i;
	struct rig r;
	int ret;

	if (variant->kind != KIND_NET)
		SKIP(return, "VHOST_NET_SET_BACKEND: the net nodes");
	rig_open(_metadata, &r, variant->path, variant->kind,
		 variant->upstream);
	rig_program(_metadata, &r, false);
	for (i = 0; i < NVQS; i++) {
		ret = rig_run(&r, i, true);
		EXPECT_EQ(-EFAULT, ret) TH_LOG("vq%u, no table ever: %s", i,
					       strerror(-ret));
	}
	ASSERT_EQ(0, vq_ioctl(r.fd, VHOST_RESET_OWNER, NULL));
	rig_program(_metadata, &r, false);
	for (i = 0; i < NVQS; i++) {
		ret = rig_run(&r, i, true);
		EXPECT_EQ(0, ret) TH_LOG("vq%u after RESET_OWNER: %s", i,
					 strerror(-ret));
	}
	ASSERT_EQ(0, vq_mem_set_table(&r.mem, r.fd));
	rig_good_roundtrip(_metadata, &r, 1, false);
	EXPECT_EQ(0, vq_poll_eventfd(r.vq[1].err_fd, 0, NULL));
	EXPECT_EQ(0, rig_close(&r));
}

/* The first byte of the dirty bitmap that covers a guest address. */
#define LOG_BYTE(gpa)	((gpa) / VQ_PAGE_SIZE / 8)

/*
 * One past the last user address access_ok() allows (TASK_SIZE_MAX): a
 * mapping hint above 47 bits is honoured only with 5-level paging.
 */
static __u64 user_top(void)
{
	void *p = mmap((void *)(1UL << 48), VQ_PAGE_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__u64 top = (1ULL << 47) - VQ_PAGE_SIZE;

	if (p == MAP_FAILED)
		return top;
	if ((unsigned long)p >= 1UL << 47)
		top = (1ULL << 56) - VQ_PAGE_SIZE;
	munmap(p, VQ_PAGE_SIZE);
	return top;
}

/*
 * With VHOST_F_LOG_ALL acked, a log base whose bitmap ends at the top of
 * user space exactly where B's bits end: A's and B's bits are there (the
 * last user page, mapped), C's would be past the top.  As upstream
 * (vq_log_access_ok() when a backend is set): an idle device takes the
 * base, a vring then refuses to start with EFAULT and stays stopped; with
 * the whole bitmap back it starts, and a running device refuses the short
 * base.
 */
TEST_F(core, log_base_checked_at_start)
{
	__u64 top = user_top(), base = top - LOG_BYTE(GPA_HOLE);
	unsigned int i;
	struct rig r;
	void *last;
	int ret;

	if (variant->kind != KIND_NET)
		SKIP(return, "VHOST_NET_SET_BACKEND: the net nodes");
	last = mmap((void *)(unsigned long)(top - VQ_PAGE_SIZE), VQ_PAGE_SIZE,
		    PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (last == MAP_FAILED && errno == EEXIST)
		SKIP(return, "the last user page is taken (the stack?)");
	ASSERT_EQ((void *)(unsigned long)(top - VQ_PAGE_SIZE), last)
		TH_LOG("mmap at 0x%llx: %s",
		       (unsigned long long)(top - VQ_PAGE_SIZE), strerror(errno));
	rig_open(_metadata, &r, variant->path, variant->kind,
		 variant->upstream);
	rig_setup(_metadata, &r, 0, NUM, true);
	ret = vq_ioctl(r.fd, VHOST_SET_LOG_BASE, &base);
	ASSERT_EQ(0, ret) TH_LOG("idle, base 0x%llx: %s",
				 (unsigned long long)base, strerror(-ret));
	for (i = 0; i < NVQS; i++) {
		ret = rig_run(&r, i, true);
		EXPECT_EQ(-EFAULT, ret)
			TH_LOG("vq%u started, bitmap short of C: %s", i,
			       strerror(-ret));
		ret = vq_set_num(&r.vq[i]);
		EXPECT_EQ(0, ret) TH_LOG("vq%u left running: %s", i,
					 strerror(-ret));
	}
	/* (Upstream checks the log before it detaches a backend too.) */
	ASSERT_EQ(0, vq_log_set_base(&r.log, r.fd));
	rig_run_all(_metadata, &r);
	ret = vq_ioctl(r.fd, VHOST_SET_LOG_BASE, &base);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("running, short bitmap: %s",
				       strerror(-ret));
	rig_good_roundtrip(_metadata, &r, 1, false);
	EXPECT_LT(0, vq_log_count(&r.log)) TH_LOG("nothing logged");
	EXPECT_EQ(0, rig_close(&r));
	munmap(last, VQ_PAGE_SIZE);
}

/* Ownership */

struct child_report {
	int set_owner;
	int get_features;
	int cmd[NR_OWNER_CMDS];
};

/* The owner is a process's mm: a forked child is not the owner. */
TEST_F(core, fork_child_eperm)
{
	struct child_report *rep;
	unsigned int i;
	__u64 f;
	pid_t pid;

	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rep);
	memset(rep, 0x7f, sizeof(*rep));
	own(_metadata, self->fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		rep->set_owner = vq_ioctl(self->fd, VHOST_SET_OWNER, NULL);
		rep->get_features = vq_get_features(self->fd, &f);
		for (i = 0; i < NR_OWNER_CMDS; i++)
			rep->cmd[i] = owner_cmd(self->fd, variant->kind, i);
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid, VQ_TIMEOUT_MS));
	EXPECT_EQ(-EBUSY, rep->set_owner);
	EXPECT_EQ(0, rep->get_features);
	for (i = 0; i < NR_OWNER_CMDS; i++) {
		EXPECT_EQ(-EPERM, rep->cmd[i])
			TH_LOG("child %s: %s", owner_cmd_names[i],
			       strerror(-rep->cmd[i]));
	}
	/* The parent still owns it. */
	EXPECT_EQ(0, owner_cmd(self->fd, variant->kind, 3));
	EXPECT_EQ(0, owner_cmd(self->fd, variant->kind, 6));
}

static void *thread_cmds(void *arg)
{
	int *p = arg;

	p[1] = owner_cmd(p[0], (enum kind)p[2], 3);
	p[3] = owner_cmd(p[0], (enum kind)p[2], 6);
	return NULL;
}

/* Another thread of the owner shares its mm: it is the owner too. */
TEST_F(core, owner_thread_allowed)
{
	int args[4] = { self->fd, 1, variant->kind, 1 };
	pthread_t t;

	own(_metadata, self->fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, thread_cmds, args));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, args[1]) TH_LOG("SET_VRING_NUM: %s", strerror(-args[1]));
	EXPECT_EQ(0, args[3]) TH_LOG("GET_VRING_BASE: %s", strerror(-args[3]));
}

/*
 * Whoever calls SET_OWNER owns the device, not whoever opened it; the
 * owner's mm stays the owner after the owner exits.
 */
TEST_F(core, owner_is_set_owner_caller)
{
	struct child_report *rep;
	int to_child[2], to_parent[2];
	pid_t pid;

	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rep);
	ASSERT_EQ(0, pipe2(to_child, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(to_parent, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		rep->set_owner = vq_ioctl(self->fd, VHOST_SET_OWNER, NULL);
		pipe_post(to_parent[1]);
		if (pipe_wait(to_child[0], VQ_TIMEOUT_MS))
			_exit(1);
		rep->cmd[3] = owner_cmd(self->fd, variant->kind, 3);
		_exit(0);
	}
	ASSERT_EQ(0, pipe_wait(to_parent[0], VQ_TIMEOUT_MS));
	EXPECT_EQ(0, rep->set_owner);
	EXPECT_EQ(-EBUSY, vq_ioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-EPERM, owner_cmd(self->fd, variant->kind, 3));
	EXPECT_EQ(-EPERM, vq_ioctl(self->fd, VHOST_RESET_OWNER, NULL));
	ASSERT_EQ(0, pipe_post(to_child[1]));
	ASSERT_EQ(0, wait_child(pid, VQ_TIMEOUT_MS));
	EXPECT_EQ(0, rep->cmd[3]) TH_LOG("child as owner: %s",
					 strerror(-rep->cmd[3]));
	/* The child is gone; its mm still owns the device. */
	EXPECT_EQ(-EPERM, owner_cmd(self->fd, variant->kind, 3));
	EXPECT_EQ(-EBUSY, vq_ioctl(self->fd, VHOST_SET_OWNER, NULL));
}

/*
 * active: both vrings programmed; the tests start them (a tap backend for
 * the net nodes, KVHOST_TEST_SET_RUNNING for the loopback).
 */

FIXTURE(active) {
	struct rig r;
};

FIXTURE_VARIANT(active) {
	const char *path;
	enum kind kind;
	bool upstream;
};

FIXTURE_VARIANT_ADD(active, kvhost_net) {
	.path = KVH_NET,
	.kind = KIND_NET,
};

FIXTURE_VARIANT_ADD(active, kvhost_test) {
	.path = KVH_TEST,
	.kind = KIND_TEST,
};

FIXTURE_VARIANT_ADD(active, vhost_net) {
	.path = UPSTREAM_NET,
	.kind = KIND_NET,
	.upstream = true,
};

FIXTURE_SETUP(active)
{
	rig_open(_metadata, &self->r, variant->path, variant->kind,
		 variant->upstream);
	rig_setup(_metadata, &self->r, 0, NUM, false);
}

FIXTURE_TEARDOWN(active)
{
	EXPECT_EQ(0, rig_close(&self->r));
}

/* The vring that consumes what the driver adds: net TX, or loopback 0. */
static unsigned int data_vq(const struct rig *r)
{
	return r->kind == KIND_NET ? 1 : 0;
}

static int set_num(struct rig *r, unsigned int q)
{
	return vq_set_num(&r->vq[q]);
}

TEST_F(active, start_stop)
{
	struct rig *r = &self->r;

	EXPECT_EQ(0, rig_run(r, 0, true));
	EXPECT_EQ(0, rig_run(r, 0, true));	/* same backend again */
	EXPECT_EQ(0, rig_run(r, 1, true));
	EXPECT_EQ(0, rig_run(r, 0, false));
	EXPECT_EQ(0, rig_run(r, 0, false));	/* already stopped */
	EXPECT_EQ(0, rig_run(r, 1, false));
}

TEST_F(active, start_index_out_of_range)
{
	struct vhost_vring_state s = { .index = 0, .num = 2 };
	struct rig *r = &self->r;

	EXPECT_EQ(-ENOBUFS, rig_run(r, NVQS, true));
	EXPECT_EQ(-ENOBUFS, rig_run(r, 0xffffffff, true));
	if (variant->kind == KIND_TEST)
		EXPECT_EQ(-EINVAL,
			  vq_ioctl(r->fd, KVHOST_TEST_SET_RUNNING, &s));
}

/* A running vring's size and base cannot move; a stopped one's can. */
TEST_F(active, num_base_ebusy_while_running)
{
	struct rig *r = &self->r;
	__u32 base = ~0U;

	ASSERT_EQ(0, rig_run(r, 0, true));
	EXPECT_EQ(-EBUSY, set_num(r, 0));
	EXPECT_EQ(-EBUSY, vq_set_base(&r->vq[0], 0));
	EXPECT_EQ(0, vq_get_base(&r->vq[0], &base));
	EXPECT_EQ(0, base);
	EXPECT_EQ(0, set_num(r, 1));
	EXPECT_EQ(0, vq_set_base(&r->vq[1], 0));
	ASSERT_EQ(0, rig_run(r, 0, false));
	EXPECT_EQ(0, set_num(r, 0));
	EXPECT_EQ(0, vq_set_base(&r->vq[0], 0));
}

/* Starting checks that the rings are there; failing leaves it stopped. */
TEST_F(active, start_inaccessible_ring_efault)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[0];
	struct vring_used *saved = vq->used;
	void *gone;
	int ret;

	gone = mmap(NULL, VQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	ASSERT_EQ(0, munmap(gone, VQ_PAGE_SIZE));
	vq->used = gone;
	ASSERT_EQ(0, vq_set_addr(vq, false, 0));	/* idle: unchecked */
	ret = rig_run(r, 0, true);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("unmapped used ring: %s",
				       strerror(-ret));
	vq->used = (struct vring_used *)(unsigned long)KERNEL_UADDR;
	ASSERT_EQ(0, vq_set_addr(vq, false, 0));
	ret = rig_run(r, 0, true);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("kernel used ring: %s",
				       strerror(-ret));
	EXPECT_EQ(0, set_num(r, 0)) TH_LOG("a failed start left it running");
	vq->used = saved;
	ASSERT_EQ(0, vq_set_addr(vq, false, 0));
	EXPECT_EQ(0, rig_run(r, 0, true));
}

/* New ring addresses are checked once the vring runs. */
TEST_F(active, addr_checked_while_running)
{
	struct rig *r = &self->r;
	unsigned int q = data_vq(r);
	struct vq *vq = &r->vq[q];
	struct vring_used *saved = vq->used;
	int ret;

	rig_run_all(_metadata, r);
	vq->used = (struct vring_used *)(unsigned long)KERNEL_UADDR;
	ret = vq_set_addr(vq, false, 0);
	vq->used = saved;
	EXPECT_EQ(-EINVAL, ret) TH_LOG("kernel used ring: %s", strerror(-ret));
	/* The old addresses are still in force. */
	rig_good_roundtrip(_metadata, r, q, false);
	EXPECT_EQ(0, vq_set_addr(vq, false, 0));
	rig_good_roundtrip(_metadata, r, q, false);
}

/* A new table is checked against the running vrings and refused whole. */
TEST_F(active, mem_table_checked_while_running)
{
	struct rig *r = &self->r;
	unsigned int q = data_vq(r);
	struct vhost_memory *t, *big;
	int ret;

	rig_run_all(_metadata, r);
	t = vq_mem_table(&r->mem);
	ASSERT_NE(NULL, t);
	big = table_plus(t, 0x40000000, VQ_PAGE_SIZE, KERNEL_UADDR);
	ASSERT_NE(NULL, big);
	ret = vq_ioctl(r->fd, VHOST_SET_MEM_TABLE, big);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("kernel userspace_addr: %s",
				       strerror(-ret));
	rig_good_roundtrip(_metadata, r, q, false);
	EXPECT_EQ(0, vq_ioctl(r->fd, VHOST_SET_MEM_TABLE, t));
	rig_good_roundtrip(_metadata, r, q, true);
	free(t);
	free(big);
}

/* Replaces the memory table, alternating two, until told to stop. */
struct table_swapper {
	int fd;
	struct vhost_memory *t[2];
	unsigned int stop;
	unsigned int swaps;
	int err;
};

static void *table_swap_fn(void *arg)
{
	struct table_swapper *w = arg;
	int r;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		r = vq_ioctl(w->fd, VHOST_SET_MEM_TABLE, w->t[w->swaps & 1]);
		if (r) {
			w->err = r;
			break;
		}
		w->swaps++;
	}
	return NULL;
}

#define SWAP_OFF	(SIZE_C - VQ_PAGE_SIZE)	/* free in B and in C */
#define SWAP_LEN	64

/*
 * One chain through data vring @q: on the loopback it reads SWAP_LEN
 * bytes at C + SWAP_OFF into @in, whose bytes come back in @got; on the
 * net nodes, one frame.  The used length, or -errno.
 */
static int swap_chain(struct rig *r, unsigned int q, __u64 in, __u8 *got)
{
	struct chain c = { .nout = 0 };
	struct vq_used_buf u;
	int ret;

	if (r->kind == KIND_NET) {
		net_chain(r, &c);
		r->scratch_used = 0;	/* the same frame each time */
	} else {
		chain_add_sg(&c, GPA_C + SWAP_OFF, SWAP_LEN, false);
		chain_add_sg(&c, in, SWAP_LEN, true);
		memset(got, SENTINEL, SWAP_LEN);
		ret = vq_mem_write(&r->mem, in, got, SWAP_LEN);
		if (ret)
			return ret;
	}
	ret = vq_add(&r->vq[q], c.sg, c.nout, c.nin, &c);
	if (ret < 0)
		return ret;
	ret = vq_kick(&r->vq[q]);
	if (!ret)
		ret = vq_wait_used(&r->vq[q], VQ_TIMEOUT_MS);
	if (!ret)
		ret = vq_reap(&r->vq[q], &u);
	if (!ret && r->kind != KIND_NET)
		ret = vq_mem_read(&r->mem, in, got, SWAP_LEN);
	return ret ? ret : (int)u.len;
}

/*
 * The memory table replaced under traffic.  Two tables: the rig's, and
 * one where C's guest-physical range maps B's pages.  A second thread
 * swaps them back and forth while the data vring serves chains that read
 * at C + SWAP_OFF.  On the loopback each chain reads C's bytes or B's,
 * whole, never anything else (a chain is walked under one table); on the
 * net nodes every frame comes back.  Then, with the swapping stopped, each
 * table in turn is the one in force.  Under KASAN this is also the
 * use-after-free check for the swap.
 */
TEST_F_TIMEOUT(active, mem_table_swapped_under_traffic, 120)
{
	struct table_swapper w = { .fd = self->r.fd };
	struct rig *r = &self->r;
	const bool loop = r->kind != KIND_NET;
	unsigned int q = data_vq(r), i, seen[2] = { 0, 0 };
	__u8 pc[SWAP_LEN], pb[SWAP_LEN], got[SWAP_LEN];
	__u64 in = rig_buf(r, SWAP_LEN);
	pthread_t t;
	int ret;

	for (i = 0; i < SWAP_LEN; i++) {
		pc[i] = 0xc0 + i % 16;
		pb[i] = 0xb0 + i % 16;
	}
	ASSERT_EQ(0, vq_mem_write(&r->mem, GPA_C + SWAP_OFF, pc, SWAP_LEN));
	ASSERT_EQ(0, vq_mem_write(&r->mem, GPA_B + SWAP_OFF, pb, SWAP_LEN));
	w.t[0] = vq_mem_table(&r->mem);
	w.t[1] = vq_mem_table(&r->mem);
	ASSERT_NE(NULL, w.t[0]);
	ASSERT_NE(NULL, w.t[1]);
	ASSERT_EQ(3, w.t[1]->nregions);
	ASSERT_EQ(GPA_C, w.t[1]->regions[2].guest_phys_addr);
	w.t[1]->regions[2].userspace_addr = w.t[1]->regions[1].userspace_addr;
	rig_run_all(_metadata, r);
	ASSERT_EQ(0, pthread_create(&t, NULL, table_swap_fn, &w));
	for (i = 0; i < 400; i++) {
		ret = swap_chain(r, q, in, got);
		ASSERT_LE(0, ret) TH_LOG("chain %u: %s (%u swaps)", i,
					 strerror(-ret), w.swaps);
		if (!loop)
			continue;
		ASSERT_EQ(SWAP_LEN, ret);
		if (!memcmp(got, pc, SWAP_LEN))
			seen[0]++;
		else if (!memcmp(got, pb, SWAP_LEN))
			seen[1]++;
		else
			ASSERT_TRUE(false)
				TH_LOG("chain %u read neither C nor B: %02x %02x",
				       i, got[0], got[SWAP_LEN - 1]);
	}
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, w.err) TH_LOG("SET_MEM_TABLE: %s", strerror(-w.err));
	EXPECT_LT(10, w.swaps);
	if (loop)
		TH_LOG("%u swaps; chains read C %u, B %u", w.swaps, seen[0],
		       seen[1]);
	EXPECT_EQ(0, vq_drain_eventfd(r->vq[q].err_fd));
	/* Each table, on its own, is the one in force. */
	for (i = 0; loop && i < 4; i++) {
		ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_MEM_TABLE, w.t[i & 1]));
		ASSERT_EQ(SWAP_LEN, swap_chain(r, q, in, got));
		EXPECT_EQ(0, memcmp(got, i & 1 ? pb : pc, SWAP_LEN))
			TH_LOG("table %u: read %02x", i & 1, got[0]);
	}
	free(w.t[0]);
	free(w.t[1]);
}

/* With LOG_ALL acked, a log base is checked against the running vrings. */
TEST_F(active, log_base_checked_while_running)
{
	struct rig *r = &self->r;
	__u64 f = r->acked | FBIT(VHOST_F_LOG_ALL), base = KERNEL_UADDR;
	int ret;

	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_FEATURES, &f));
	ASSERT_EQ(0, vq_log_init(&r->log, vq_mem_end(&r->mem)));
	ASSERT_EQ(0, vq_log_set_base(&r->log, r->fd));
	rig_run_all(_metadata, r);
	ret = vq_ioctl(r->fd, VHOST_SET_LOG_BASE, &base);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("kernel log base: %s", strerror(-ret));
	EXPECT_EQ(0, vq_log_set_base(&r->log, r->fd));
	rig_good_roundtrip(_metadata, r, data_vq(r), false);
}

/*
 * Acking LOG_ALL checks the running vrings' log base against the table:
 * a base set while nothing logged (unchecked then) is refused now.
 */
TEST_F(active, log_all_checked_while_running)
{
	struct rig *r = &self->r;
	__u64 f = r->acked | FBIT(VHOST_F_LOG_ALL), base = KERNEL_UADDR;
	int ret;

	rig_run_all(_metadata, r);
	ret = vq_ioctl(r->fd, VHOST_SET_LOG_BASE, &base);
	ASSERT_EQ(0, ret) TH_LOG("kernel log base, not logging: %s",
				 strerror(-ret));
	ret = vq_ioctl(r->fd, VHOST_SET_FEATURES, &f);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("LOG_ALL over a kernel log base: %s",
				       strerror(-ret));
	ASSERT_EQ(0, vq_log_init(&r->log, vq_mem_end(&r->mem)));
	ASSERT_EQ(0, vq_log_set_base(&r->log, r->fd));
	EXPECT_EQ(0, vq_ioctl(r->fd, VHOST_SET_FEATURES, &f));
	rig_good_roundtrip(_metadata, r, data_vq(r), false);
}

/*
 * With LOG_ALL, a new table must fit the running vrings' log: a region
 * whose bitmap would lie past the end of user space is refused, and the
 * same table is accepted once nothing logs.
 */
TEST_F(active, mem_table_checked_against_log)
{
	struct rig *r = &self->r;
	__u64 f = r->acked | FBIT(VHOST_F_LOG_ALL);
	struct vhost_memory *t, *big;
	void *page;
	int ret;

	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_FEATURES, &f));
	ASSERT_EQ(0, vq_log_init(&r->log, vq_mem_end(&r->mem)));
	ASSERT_EQ(0, vq_log_set_base(&r->log, r->fd));
	rig_run_all(_metadata, r);
	page = mmap(NULL, VQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	t = vq_mem_table(&r->mem);
	ASSERT_NE(NULL, t);
	/* Its bitmap is 2^47 bytes past the base: beyond TASK_SIZE. */
	big = table_plus(t, 1ULL << 62, VQ_PAGE_SIZE, (unsigned long)page);
	ASSERT_NE(NULL, big);
	ret = vq_ioctl(r->fd, VHOST_SET_MEM_TABLE, big);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("region past the log: %s",
				       strerror(-ret));
	rig_good_roundtrip(_metadata, r, data_vq(r), false);
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_FEATURES, &r->acked));
	ret = vq_ioctl(r->fd, VHOST_SET_MEM_TABLE, big);
	EXPECT_EQ(0, ret) TH_LOG("the same table, not logging: %s",
				 strerror(-ret));
	rig_good_roundtrip(_metadata, r, data_vq(r), false);
	free(big);
	free(t);
	munmap(page, VQ_PAGE_SIZE);
}

/*
 * VHOST_VRING_F_LOG on a running vring: the log base must cover its used
 * ring's log_guest_addr, or the new addresses are refused (EINVAL).
 */
TEST_F(active, addr_log_checked_while_running)
{
	struct rig *r = &self->r;
	unsigned int q = data_vq(r);
	struct vq *vq = &r->vq[q];
	int ret;

	ASSERT_EQ(0, vq_log_init(&r->log, vq_mem_end(&r->mem)));
	ASSERT_EQ(0, vq_log_set_base(&r->log, r->fd));
	rig_run_all(_metadata, r);
	ret = vq_set_addr(vq, true, 1ULL << 62);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("used ring logged past the log: %s",
				       strerror(-ret));
	rig_good_roundtrip(_metadata, r, q, false);
	ret = vq_set_addr(vq, true, vq->used_gpa);
	EXPECT_EQ(0, ret) TH_LOG("used ring logged in the log: %s",
				 strerror(-ret));
	rig_good_roundtrip(_metadata, r, q, false);
}

/* The library against a running device: direct and indirect chains. */
TEST_F(active, roundtrip)
{
	struct rig *r = &self->r;
	unsigned int q = data_vq(r);

	rig_run_all(_metadata, r);
	rig_good_roundtrip(_metadata, r, q, false);
	rig_good_roundtrip(_metadata, r, q, true);
	rig_good_roundtrip(_metadata, r, q, false);
	EXPECT_EQ(0, vq_drain_eventfd(r->vq[q].err_fd));
}

/*
 * Kick detached, then re-attached: the kicks counted meanwhile in the
 * eventfd make the device look at the ring as soon as it is attached.
 */
TEST_F(active, kick_detach_reattach)
{
	struct rig *r = &self->r;
	unsigned int q = data_vq(r);
	struct vq *vq = &r->vq[q];
	struct vq_used_buf u;
	struct chain c;

	rig_run_all(_metadata, r);
	/* Let the device settle: its first run after start is done. */
	rig_good_roundtrip(_metadata, r, q, false);
	ASSERT_EQ(0, vq_set_file(r->fd, VHOST_SET_VRING_KICK, q, -1));
	if (r->kind == KIND_NET)
		net_chain(r, &c);
	else
		loop_chain(r, &c, 7);
	ASSERT_LE(0, vq_add(vq, c.sg, c.nout, c.nin, &c));
	ASSERT_EQ(0, vq_kick(vq));
	/* A device may look at its rings unprompted; virtio allows it. */
	if (!vq_poll_used(vq, VQ_QUIET_MS))
		SKIP(return, "served without a kick: cannot test the attach");
	ASSERT_EQ(0, vq_set_file(r->fd, VHOST_SET_VRING_KICK, q, vq->kick_fd));
	ASSERT_EQ(0, vq_poll_used(vq, VQ_TIMEOUT_MS))
		TH_LOG("a pending kick was lost on attach");
	ASSERT_EQ(0, vq_reap(vq, &u));
	EXPECT_EQ(&c, u.cookie);
}

/* RESET_OWNER stops everything; the next owner starts from scratch. */
TEST_F(active, reset_owner_while_running)
{
	struct rig *r = &self->r;
	__u32 base = ~0U;

	rig_run_all(_metadata, r);
	rig_good_roundtrip(_metadata, r, data_vq(r), false);
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(-EPERM, set_num(r, 0));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, vq_get_base(&r->vq[data_vq(r)], &base));
	EXPECT_EQ(0, base);
	EXPECT_EQ(0, set_num(r, 0)) TH_LOG("still running after RESET_OWNER");
	EXPECT_EQ(0, set_num(r, 1));
}

/* Closing with running vrings and buffers in flight. */
TEST_F(active, close_while_running)
{
	struct rig *r = &self->r;
	unsigned int q = data_vq(r), i;
	struct chain c[4];

	rig_run_all(_metadata, r);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		if (r->kind == KIND_NET)
			net_chain(r, &c[i]);
		else
			loop_chain(r, &c[i], i);
		ASSERT_LE(0, vq_add(&r->vq[q], c[i].sg, c[i].nout, c[i].nin,
				    &c[i]));
	}
	ASSERT_EQ(0, vq_kick(&r->vq[q]));
	EXPECT_EQ(0, close(r->fd));
	r->fd = -1;
}

/*
 * hostile: both vrings running with dirty logging on; each test hands the
 * device one malformed ring.  The device must signal the error eventfd,
 * must not use the bad chain, and (kvhost) must count the error in fdinfo;
 * the other vring must keep working.  On the net nodes the bad vring is TX.
 */

struct hostile {
	struct rig r;
	unsigned int bad, other;
	__u64 errs;		/* vq<bad>-errors before the test */
};

FIXTURE(hostile) {
	struct hostile h;
};

FIXTURE_VARIANT(hostile) {
	const char *path;
	enum kind kind;
	bool upstream;
};

FIXTURE_VARIANT_ADD(hostile, kvhost_net) {
	.path = KVH_NET,
	.kind = KIND_NET,
};

FIXTURE_VARIANT_ADD(hostile, kvhost_test) {
	.path = KVH_TEST,
	.kind = KIND_TEST,
};

FIXTURE_VARIANT_ADD(hostile, vhost_net) {
	.path = UPSTREAM_NET,
	.kind = KIND_NET,
	.upstream = true,
};

FIXTURE_SETUP(hostile)
{
	struct hostile *h = &self->h;
	struct rig *r = &h->r;
	int ret;

	rig_open(_metadata, r, variant->path, variant->kind,
		 variant->upstream);
	rig_setup(_metadata, r, 0, NUM, true);
	rig_run_all(_metadata, r);
	h->bad = data_vq(r);
	h->other = !h->bad;
	if (variant->upstream)
		return;
	ret = vq_errors(r->fd, h->bad, &h->errs);
	ASSERT_EQ(0, ret) TH_LOG("fdinfo vq%u-errors: %s", h->bad,
				 strerror(-ret));
}

FIXTURE_TEARDOWN(hostile)
{
	EXPECT_EQ(0, rig_close(&self->h.r));
}

static __u64 rig_buf_aligned(struct rig *r, __u64 len, __u64 align)
{
	__u64 gpa = rig_buf(r, len + align);

	return (gpa + align - 1) & ~(align - 1);
}

static struct vring_desc *guest_table(struct rig *r, unsigned int n,
				      __u64 *gpa)
{
	*gpa = rig_buf_aligned(r, n * sizeof(struct vring_desc), 16);
	return vq_mem_hva(&r->mem, *gpa, n * sizeof(struct vring_desc));
}

/* Write a chain the device accepts at descriptor i (and i + 1). */
static void valid_chain_at(struct rig *r, struct vring_desc *t, __u16 i)
{
	struct chain c;

	if (r->kind == KIND_NET) {
		net_chain(r, &c);
		vq_desc_write(t, i, c.sg[0].gpa, c.sg[0].len, 0, 0);
		return;
	}
	vq_desc_write(t, i, rig_buf(r, 64), 64, VRING_DESC_F_NEXT, i + 1);
	vq_desc_write(t, i + 1, rig_buf(r, 64), 64, VRING_DESC_F_WRITE, 0);
}

/* The sum of kvhost's debugfs err_<reason> counters of a vq, or -errno. */
static int reason_count(struct rig *r, unsigned int q, const char *reasons,
			__u64 *sum)
{
	char buf[128], *name, *save = NULL;
	__u64 v;
	int ret;

	snprintf(buf, sizeof(buf), "%s", reasons);
	*sum = 0;
	for (name = strtok_r(buf, "|", &save); name;
	     name = strtok_r(NULL, "|", &save)) {
		char key[64];

		snprintf(key, sizeof(key), "err_%s", name);
		ret = vq_debugfs_get(r->fd, q, key, &v);
		if (ret)
			return ret;
		*sum += v;
	}
	return 0;
}

/*
 * Kick the bad vring and check the outcome.  For kvhost also: exactly one
 * more error, counted under one of @reasons ("a|b", debugfs names), and
 * the vring broken.
 */
static void expect_ring_error(struct __test_metadata *_metadata,
			      struct hostile *h, const char *what,
			      const char *reasons)
{
	struct rig *r = &h->r;
	struct vq *vq = &r->vq[h->bad];
	__u64 n = 0, broken = 0, other = 0, why = 0;
	int ret;

	ASSERT_EQ(0, vq_kick(vq));
	ret = vq_wait_err(vq, VQ_TIMEOUT_MS);
	EXPECT_EQ(1, ret) TH_LOG("%s: the error eventfd did not fire", what);
	EXPECT_EQ(0, vq_used_idx(vq)) TH_LOG("%s: the bad chain was used",
					     what);
	if (!r->upstream) {
		ASSERT_EQ(0, vq_errors(r->fd, h->bad, &n));
		EXPECT_EQ(h->errs + 1, n)
			TH_LOG("%s: vq%u-errors %llu", what, h->bad,
			       (unsigned long long)n);
		ASSERT_EQ(0, vq_broken(r->fd, h->bad, &broken));
		EXPECT_EQ(1, broken) TH_LOG("%s: vq%u-broken", what, h->bad);
		ret = reason_count(r, h->bad, reasons, &why);
		if (ret)
			TH_LOG("%s: no debugfs counters (%s), reason unchecked",
			       what, strerror(-ret));
		else
			EXPECT_EQ(1, why) TH_LOG("%s: counted as err_%s",
						 what, reasons);
	}
	if (r->kind != KIND_TEST)
		return;
	rig_good_roundtrip(_metadata, r, h->other, false);
	ASSERT_EQ(0, vq_errors(r->fd, h->other, &other));
	EXPECT_EQ(0, other) TH_LOG("the other vring counted errors");
}

/* The control: well-formed chains raise nothing. */
TEST_F(hostile, good_chains_no_error)
{
	struct rig *r = &self->h.r;
	__u64 n = 0;

	rig_good_roundtrip(_metadata, r, self->h.bad, false);
	rig_good_roundtrip(_metadata, r, self->h.bad, true);
	EXPECT_EQ(0, vq_poll_eventfd(r->vq[self->h.bad].err_fd, VQ_QUIET_MS,
				     NULL));
	if (variant->upstream)
		return;
	ASSERT_EQ(0, vq_errors(r->fd, self->h.bad, &n));
	EXPECT_EQ(self->h.errs, n);
}

TEST_F(hostile, head_out_of_range)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	valid_chain_at(&self->h.r, vq->desc, 0);
	vq_raw_avail(vq, NUM);
	expect_ring_error(_metadata, &self->h, "head == num", "head");
}

TEST_F(hostile, next_out_of_range)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, rig_buf(&self->h.r, 64), 64, VRING_DESC_F_NEXT,
		    NUM + 5);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "next >= num", "next");
}

TEST_F(hostile, self_loop)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 3, rig_buf(&self->h.r, 64), 64, VRING_DESC_F_NEXT, 3);
	vq_raw_avail(vq, 3);
	expect_ring_error(_metadata, &self->h, "desc 3 -> 3", "loop");
}

TEST_F(hostile, two_desc_loop)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, rig_buf(&self->h.r, 64), 64, VRING_DESC_F_NEXT, 1);
	vq_raw_desc(vq, 1, rig_buf(&self->h.r, 64), 64, VRING_DESC_F_NEXT, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "desc 0 -> 1 -> 0", "loop");
}

/* More than num new entries at once: every entry itself is fine. */
TEST_F(hostile, avail_idx_jump)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];
	unsigned int i;

	valid_chain_at(&self->h.r, vq->desc, 0);
	for (i = 0; i < NUM; i++)
		vq->avail->ring[i] = 0;
	vq_raw_avail_idx(vq, NUM + 1);
	expect_ring_error(_metadata, &self->h, "avail->idx 0 -> num + 1",
			  "avail_idx");
}

static void indirect_len_case(struct __test_metadata *_metadata,
			      struct hostile *h, __u32 len)
{
	struct vq *vq = &h->r.vq[h->bad];
	struct vring_desc *t;
	char what[64];
	__u64 tgpa;

	t = guest_table(&h->r, 4, &tgpa);
	ASSERT_NE(NULL, t);
	valid_chain_at(&h->r, t, 0);
	vq_raw_desc(vq, 0, tgpa, len, VRING_DESC_F_INDIRECT, 0);
	vq_raw_avail(vq, 0);
	snprintf(what, sizeof(what), "indirect len %u", len);
	expect_ring_error(_metadata, h, what, "indirect_len");
}

TEST_F(hostile, indirect_len_zero)
{
	indirect_len_case(_metadata, &self->h, 0);
}

TEST_F(hostile, indirect_len_not_multiple_of_16)
{
	indirect_len_case(_metadata, &self->h, 24);
}

TEST_F(hostile, indirect_nested)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];
	struct vring_desc *t, *t2;
	__u64 tgpa, t2gpa;

	t = guest_table(&self->h.r, 1, &tgpa);
	t2 = guest_table(&self->h.r, 2, &t2gpa);
	ASSERT_NE(NULL, t);
	ASSERT_NE(NULL, t2);
	valid_chain_at(&self->h.r, t2, 0);
	vq_desc_write(t, 0, t2gpa, 2 * sizeof(*t2), VRING_DESC_F_INDIRECT, 0);
	vq_raw_desc(vq, 0, tgpa, sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "indirect in indirect",
			  "indirect_nested");
}

TEST_F(hostile, indirect_table_not_in_table)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, GPA_HOLE + 0x1000, 2 * sizeof(struct vring_desc),
		    VRING_DESC_F_INDIRECT, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "indirect table in hole",
			  "indirect_map");
}

TEST_F(hostile, addr_not_in_table)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, GPA_HOLE + 0x1000, 64, 0, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "buffer in hole", "unmapped");
}

TEST_F(hostile, addr_straddles_hole)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, GPA_HOLE - 32, 64, 0, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "buffer runs into hole",
			  "unmapped");
}

TEST_F(hostile, readable_after_writable)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, rig_buf(&self->h.r, 64), 64,
		    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vq_raw_desc(vq, 1, rig_buf(&self->h.r, 64), 64, 0, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "read after write", "order");
}

TEST_F(hostile, desc_addr_wraps)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, 0xfffffffffffffff0ULL, 0x20, 0, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "addr + len wraps", "desc_wrap");
}

/* 1025 one-byte pieces: more iovecs than anyone handles (UIO_MAXIOV). */
TEST_F(hostile, too_many_iovecs)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];
	const unsigned int n = 1025;
	struct vring_desc *t;
	__u64 tgpa, buf;
	unsigned int i;

	t = guest_table(&self->h.r, n, &tgpa);
	buf = rig_buf(&self->h.r, 64);
	ASSERT_NE(NULL, t);
	for (i = 0; i < n; i++)
		vq_desc_write(t, i, buf + i % 64, 1,
			      i + 1 < n ? VRING_DESC_F_NEXT : 0, i + 1);
	vq_raw_desc(vq, 0, tgpa, n * sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "1025 iovecs",
			  "indirect_len|iov_limit");
}

/*
 * kvhost refuses INDIRECT together with NEXT (the spec forbids it);
 * upstream follows the next descriptor after the table.
 */
TEST_F(hostile, indirect_with_next)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];
	struct vring_desc *t;
	__u64 tgpa;

	if (variant->upstream)
		SKIP(return, "upstream accepts INDIRECT | NEXT");
	t = guest_table(&self->h.r, 2, &tgpa);
	ASSERT_NE(NULL, t);
	valid_chain_at(&self->h.r, t, 0);
	vq_raw_desc(vq, 0, tgpa, 2 * sizeof(*t),
		    VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	valid_chain_at(&self->h.r, vq->desc, 1);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "INDIRECT | NEXT",
			  "indirect_flags");
}

/* Stop, step the base past the bad entry, start: the vring works again. */
TEST_F(hostile, recovers_after_restart)
{
	struct hostile *h = &self->h;
	struct vq *vq = &h->r.vq[h->bad];
	__u64 broken = 0;

	vq_raw_avail(vq, NUM);
	expect_ring_error(_metadata, h, "head == num", "head");
	ASSERT_EQ(0, rig_run(&h->r, h->bad, false));
	ASSERT_EQ(0, vq_set_base(vq, vq->avail_idx));
	ASSERT_EQ(0, rig_run(&h->r, h->bad, true));
	if (!variant->upstream) {
		ASSERT_EQ(0, vq_broken(h->r.fd, h->bad, &broken));
		EXPECT_EQ(0, broken) TH_LOG("still broken after a restart");
	}
	rig_good_roundtrip(_metadata, &h->r, h->bad, false);
	EXPECT_EQ(0, vq_poll_eventfd(vq->err_fd, VQ_QUIET_MS, NULL));
}

/* Wait for the device to use the one raw chain it was given, at head. */
static void expect_raw_used(struct __test_metadata *_metadata,
			    struct hostile *h, __u16 head, const char *what)
{
	struct rig *r = &h->r;
	struct vq *vq = &r->vq[h->bad];
	__u64 n = 0;

	ASSERT_EQ(0, vq_kick(vq));
	ASSERT_EQ(0, vq_wait_used(vq, VQ_TIMEOUT_MS))
		TH_LOG("%s: not used", what);
	EXPECT_EQ(1, vq_used_idx(vq));
	EXPECT_EQ(head, vq->used->ring[0].id);
	EXPECT_EQ(0, vq_poll_eventfd(vq->err_fd, VQ_QUIET_MS, NULL))
		TH_LOG("%s: the error eventfd fired", what);
	if (r->upstream)
		return;
	ASSERT_EQ(0, vq_errors(r->fd, h->bad, &n));
	EXPECT_EQ(h->errs, n) TH_LOG("%s: counted as an error", what);
}

/*
 * Descriptors 0 .. num - 1 linked in order: on the loopback num - 1
 * readable bytes and one writable descriptor, on net TX a frame whose
 * first descriptor holds the header.  With @loop the last one links back
 * to 0, so the walk reaches num + 1 descriptors.
 */
static void chain_through_ring(struct hostile *h, bool loop)
{
	struct rig *r = &h->r;
	struct vq *vq = &r->vq[h->bad];
	__u64 buf = rig_buf(r, 2 * NUM);
	unsigned int i;
	struct chain c;
	__u16 flags;

	for (i = 0; i < NUM; i++) {
		flags = i + 1 < NUM || loop ? VRING_DESC_F_NEXT : 0;
		if (r->kind == KIND_TEST && i + 1 == NUM)
			vq_raw_desc(vq, i, buf + NUM, NUM,
				    flags | VRING_DESC_F_WRITE, 0);
		else
			vq_raw_desc(vq, i, buf + i, 1, flags, (i + 1) % NUM);
	}
	if (r->kind == KIND_NET) {
		net_chain(r, &c);
		vq_raw_desc(vq, 0, c.sg[0].gpa, c.sg[0].len,
			    VRING_DESC_F_NEXT, 1);
	}
	vq_raw_avail(vq, 0);
}

/* A chain of exactly num descriptors is legal. */
TEST_F(hostile, chain_of_num)
{
	chain_through_ring(&self->h, false);
	expect_raw_used(_metadata, &self->h, 0, "chain of num");
}

/* The same chain looped back to its head: num + 1 is one too many. */
TEST_F(hostile, chain_of_num_plus_one)
{
	chain_through_ring(&self->h, true);
	expect_ring_error(_metadata, &self->h, "chain of num + 1", "loop");
}

/* More entries than a 16-bit next can name: over everyone's limit. */
TEST_F(hostile, indirect_len_over_limit)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	/* All of it is guest memory: only the length is wrong. */
	vq_raw_desc(vq, 0, GPA_A, (0x10000 + 1) * sizeof(struct vring_desc),
		    VRING_DESC_F_INDIRECT, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "indirect of 65537 entries",
			  "indirect_len");
}

TEST_F(hostile, indirect_table_half_mapped)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	vq_raw_desc(vq, 0, GPA_HOLE - sizeof(struct vring_desc),
		    2 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "indirect table half in hole",
			  "indirect_map");
}

/*
 * An indirect table across the A/B boundary (adjacent in guest-physical
 * space, apart in the VMM), its first entry split between them: legal.
 */
TEST_F(hostile, indirect_table_spans_regions)
{
	struct rig *r = &self->h.r;
	struct vq *vq = &r->vq[self->h.bad];
	unsigned int n = r->kind == KIND_NET ? 1 : 2;
	__u64 tgpa = GPA_B - sizeof(struct vring_desc) / 2;
	struct vring_desc t[2];

	ASSERT_EQ(NULL, vq_mem_hva(&r->mem, tgpa, n * sizeof(t[0])));
	valid_chain_at(r, t, 0);
	ASSERT_EQ(0, vq_mem_write(&r->mem, tgpa, t, n * sizeof(t[0])));
	vq_raw_desc(vq, 0, tgpa, n * sizeof(t[0]), VRING_DESC_F_INDIRECT, 0);
	vq_raw_avail(vq, 0);
	expect_raw_used(_metadata, &self->h, 0, "table across regions");
}

/*
 * Two readable descriptors of 2 GiB + 4 KiB each, in a 5 GiB region no
 * one touches: the chain's total does not fit the used entry's 32 bits.
 * Upstream does not check (its TX hands the socket what it can).
 */
TEST_F(hostile, chain_len_over_4g)
{
	const __u64 big = 0x200000000ULL, piece = 0x80001000ULL;
	struct rig *r = &self->h.r;
	struct vq *vq = &r->vq[self->h.bad];

	if (variant->upstream)
		SKIP(return, "upstream does not bound a chain's length");
	ASSERT_LE(0, vq_mem_add(&r->mem, big, 0x140000000ULL));
	ASSERT_EQ(0, vq_mem_set_table(&r->mem, r->fd));
	vq_raw_desc(vq, 0, big, piece, VRING_DESC_F_NEXT, 1);
	vq_raw_desc(vq, 1, big + piece, piece, 0, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h, "4 GiB + 8 KiB readable",
			  "chain_len");
}

/*
 * One device's broken vring stops neither its other vring nor another
 * device of the same kind.
 */
TEST_F(hostile, other_device_unaffected)
{
	struct hostile *h = &self->h;
	struct vq *vq = &h->r.vq[h->bad];
	struct rig *o;
	__u64 n = 0;

	o = calloc(1, sizeof(*o));
	ASSERT_NE(NULL, o);
	rig_open(_metadata, o, variant->path, variant->kind,
		 variant->upstream);
	rig_setup(_metadata, o, 0, NUM, false);
	rig_run_all(_metadata, o);
	vq_raw_avail(vq, NUM);
	expect_ring_error(_metadata, h, "head == num", "head");
	rig_good_roundtrip(_metadata, o, h->bad, false);
	rig_good_roundtrip(_metadata, o, h->bad, true);
	EXPECT_EQ(0, vq_poll_eventfd(o->vq[h->bad].err_fd, 0, NULL));
	if (!variant->upstream) {
		ASSERT_EQ(0, vq_errors(o->fd, h->bad, &n));
		EXPECT_EQ(0, n) TH_LOG("the other device counted errors");
	}
	EXPECT_EQ(0, rig_close(o));
	free(o);
}

/*
 * kvhost cannot log a zero-length write and refuses it while logging;
 * upstream accepts it, and on net TX any writable descriptor is an error
 * anyway, so only the loopback tests this.
 */
TEST_F(hostile, zero_len_writable_logged)
{
	struct vq *vq = &self->h.r.vq[self->h.bad];

	if (variant->kind != KIND_TEST)
		SKIP(return, "kvhost loopback only");
	vq_raw_desc(vq, 0, rig_buf(&self->h.r, 64), 64, VRING_DESC_F_NEXT, 1);
	vq_raw_desc(vq, 1, rig_buf(&self->h.r, 64), 0, VRING_DESC_F_WRITE, 0);
	vq_raw_avail(vq, 0);
	expect_ring_error(_metadata, &self->h,
			  "zero-length writable, logging",
			  "zero_len_log");
}

/* Poll vq<q>-errors until it reaches @want: the last value read. */
static __u64 wait_errors(struct rig *r, unsigned int q, __u64 want)
{
	long long end = vq_now_ms() + VQ_TIMEOUT_MS;
	__u64 n = 0;

	while (!vq_errors(r->fd, q, &n) && n < want && vq_now_ms() < end)
		usleep(1000);
	return n;
}

/*
 * VHOST_SET_VRING_ERR with fd -1 detaches the error eventfd.  The bad
 * entry first fails with the eventfd attached (the error is real and
 * seen); then, detached, a fresh start of the vring at the same entry
 * fails again: the old eventfd stays quiet, yet the vring stops (nothing
 * behind the bad entry is used) and kvhost counts the error.
 */
TEST_F(hostile, err_detached_not_signalled)
{
	struct hostile *h = &self->h;
	struct rig *r = &h->r;
	struct vq *vq = &r->vq[h->bad];
	__u64 n = 0, broken = 0, why = 0;
	struct chain c;
	int ret;

	vq_raw_avail(vq, NUM);
	expect_ring_error(_metadata, h, "head == num", "head");
	if (r->kind == KIND_NET)
		net_chain(r, &c);
	else
		loop_chain(r, &c, 11);
	ASSERT_LE(0, vq_add(vq, c.sg, c.nout, c.nin, &c));
	ASSERT_EQ(0, vq_set_file(r->fd, VHOST_SET_VRING_ERR, h->bad, -1));
	ASSERT_EQ(0, rig_run(r, h->bad, false));
	ASSERT_EQ(0, rig_run(r, h->bad, true));
	ASSERT_EQ(0, vq_kick(vq));
	if (!r->upstream) {
		n = wait_errors(r, h->bad, h->errs + 2);
		EXPECT_EQ(h->errs + 2, n)
			TH_LOG("the error after the detach was not counted");
		ASSERT_EQ(0, vq_broken(r->fd, h->bad, &broken));
		EXPECT_EQ(1, broken) TH_LOG("vq%u not stopped", h->bad);
		ret = reason_count(r, h->bad, "head", &why);
		if (ret)
			TH_LOG("no debugfs counters (%s), reason unchecked",
			       strerror(-ret));
		else
			EXPECT_EQ(2, why) TH_LOG("err_head %llu",
						 (unsigned long long)why);
	}
	EXPECT_EQ(0, vq_poll_eventfd(vq->err_fd, VQ_QUIET_MS, NULL))
		TH_LOG("the detached error eventfd was signalled");
	EXPECT_EQ(0, vq_used_idx(vq)) TH_LOG("served past the bad entry");
	if (r->kind == KIND_TEST)
		rig_good_roundtrip(_metadata, r, h->other, false);
}

/* kvh_vq_fail()'s warning (pr_warn_ratelimited: 10 per 5 s). */
#define FAIL_WARNING	"bad guest input"
#define RL_INTERVAL_MS	5000
#define RL_BURST	10
#define FAIL_BURST	30

static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Read every kernel log record since the last read; count the messages
 * that contain @what, the first of them copied to @first.
 */
static unsigned int kmsg_count(int fd, const char *what, char *first,
			       size_t size)
{
	unsigned int n = 0;
	char rec[8192], *msg;
	ssize_t len;

	for (;;) {
		len = read(fd, rec, sizeof(rec) - 1);
		/* EPIPE: records were overwritten; reading goes on after. */
		if (len < 0 && (errno == EPIPE || errno == EINTR))
			continue;
		if (len <= 0)
			return n;
		rec[len] = '\0';
		/* "prio,seq,time,flags;text\n", then " KEY=value" lines. */
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = '\0';
		if (!strstr(msg, what))
			continue;
		if (!n++ && first) {
			len = strlen(msg) < size ? strlen(msg) : size - 1;
			memcpy(first, msg, len);
			first[len] = '\0';
		}
	}
}

/* Stop and start vring q where it is: a fresh start on the same entry. */
static void restart_fails(struct __test_metadata *_metadata, struct rig *r,
			  unsigned int q, unsigned int i)
{
	__u32 base;

	ASSERT_EQ(0, rig_run(r, q, false));
	ASSERT_EQ(0, rig_run(r, q, true));
	ASSERT_EQ(1, vq_wait_err(&r->vq[q], VQ_TIMEOUT_MS))
		TH_LOG("failure %u not signalled", i);
	/* Takes the vring's mutex: the failing run, warning included, is over. */
	ASSERT_EQ(0, vq_get_base(&r->vq[q], &base));
}

/*
 * kvhost tells the host's log, once per failure, and at most RL_BURST
 * times per RL_INTERVAL_MS: one line naming the device, the vring and the
 * reason; FAIL_BURST failures in a row (a fresh start of the vring on the
 * same bad entry each) leave fewer lines than failures, and the next
 * failure after the interval first says how many were suppressed.  Only
 * checked when the burst was quick enough to fit one interval (a debug
 * kernel under TCG may not be).
 */
TEST_F_TIMEOUT(hostile, fail_warning_ratelimited, 120)
{
	struct hostile *h = &self->h;
	struct rig *r = &h->r;
	struct vq *vq = &r->vq[h->bad];
	char want[128], line[512], supp[512];
	unsigned int lines, i, missed = ~0U;
	long long t0, t1;
	__u64 id, n;
	__u32 base;
	int kfd, ret;

	if (variant->upstream)
		SKIP(return, "kvhost's warning");
	ASSERT_EQ(0, vq_fdinfo_get(r->fd, "kvhost-id", &id));
	snprintf(want, sizeof(want), "%s %llu vq %u: " FAIL_WARNING,
		 r->kind == KIND_NET ? KVHOST_NET_NODE : KVHOST_TEST_NODE,
		 (unsigned long long)id, h->bad);
	kfd = kmsg_open();
	if (kfd == -EPERM || kfd == -EACCES)
		SKIP(return, "/dev/kmsg not readable (CAP_SYSLOG)");
	ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(-kfd));
	/* Earlier tests' failures: their interval must be over. */
	usleep((RL_INTERVAL_MS + 200) * 1000);
	kmsg_count(kfd, "", NULL, 0);

	t0 = vq_now_ms();
	vq_raw_avail(vq, NUM);
	expect_ring_error(_metadata, h, "head == num", "head");
	ASSERT_EQ(0, vq_get_base(vq, &base));
	line[0] = '\0';
	EXPECT_EQ(1, kmsg_count(kfd, want, line, sizeof(line)))
		TH_LOG("no \"%s\" line", want);
	EXPECT_NE(NULL, strstr(line, "(head), queue stopped"))
		TH_LOG("line: \"%s\"", line);

	for (i = 1; i < FAIL_BURST; i++)
		restart_fails(_metadata, r, h->bad, i);
	t1 = vq_now_ms();
	lines = 1 + kmsg_count(kfd, want, NULL, 0);
	ASSERT_EQ(0, vq_errors(r->fd, h->bad, &n));
	EXPECT_EQ(h->errs + FAIL_BURST, n);
	TH_LOG("%u failures in %lld ms: %u warning lines", FAIL_BURST, t1 - t0,
	       lines);
	EXPECT_LE(1, lines);
	EXPECT_GE(FAIL_BURST, lines);
	if (t1 - t0 >= RL_INTERVAL_MS - 1000) {
		TH_LOG("slow kernel: the burst spans intervals, bound unchecked");
		close(kfd);
		return;
	}
	EXPECT_GE(RL_BURST, lines);
	EXPECT_GT(FAIL_BURST, lines);

	/* The interval over, the next failure reports the suppressed ones. */
	usleep((t0 + RL_INTERVAL_MS + 200 - vq_now_ms()) * 1000);
	restart_fails(_metadata, r, h->bad, FAIL_BURST);
	supp[0] = '\0';
	/* lib/ratelimit.c's line, named after the function. */
	EXPECT_EQ(1, kmsg_count(kfd, "kvh_vq_fail: ", supp, sizeof(supp)));
	ret = sscanf(supp, "kvh_vq_fail: %u callbacks suppressed", &missed);
	EXPECT_EQ(1, ret) TH_LOG("line: \"%s\"", supp);
	EXPECT_EQ(FAIL_BURST - lines, missed);
	close(kfd);
}

/*
 * loop: the data path through /dev/kvhost-test.  Each vring copies a
 * chain's readable bytes into its writable bytes and reports the count.
 * Variants: VERSION_1 with and without EVENT_IDX, and a legacy driver.
 */

FIXTURE(loop) {
	struct rig r;
};

FIXTURE_VARIANT(loop) {
	bool event_idx;
	bool legacy;
};

FIXTURE_VARIANT_ADD(loop, plain) {
	.event_idx = false,
};

FIXTURE_VARIANT_ADD(loop, event_idx) {
	.event_idx = true,
};

/* A legacy driver: no VERSION_1, rings in the (little-endian) CPU order. */
FIXTURE_VARIANT_ADD(loop, legacy) {
	.legacy = true,
};

FIXTURE_SETUP(loop)
{
	rig_open(_metadata, &self->r, KVH_TEST, KIND_TEST, false);
	self->r.legacy = variant->legacy;
}

FIXTURE_TEARDOWN(loop)
{
	struct rig *r = &self->r;
	unsigned int q;
	__u64 n;

	/*
	 * No test here hands over a bad ring.  (An ASSERT that ended the test
	 * leaves the harness's log trigger set: log only on a failure here.)
	 */
	for (q = 0; q < NVQS && r->fd >= 0 && r->vq[q].err_fd >= 0; q++) {
		if (vq_drain_eventfd(r->vq[q].err_fd)) {
			TH_LOG("vq%u signalled an error", q);
			EXPECT_TRUE(false);
		}
		if (!vq_errors(r->fd, q, &n) && n) {
			TH_LOG("vq%u-errors %llu", q, (unsigned long long)n);
			EXPECT_TRUE(false);
		}
	}
	EXPECT_EQ(0, rig_close(r));
}

static void loop_start(struct __test_metadata *_metadata, struct rig *r,
		       bool event_idx, unsigned int num, bool logging)
{
	__u64 extra = 0;

	if (event_idx)
		extra |= FBIT(VIRTIO_RING_F_EVENT_IDX);
	rig_setup(_metadata, r, extra, num, logging);
	rig_run_all(_metadata, r);
}

TEST_F(loop, roundtrip_direct)
{
	static const __u32 sizes[] = { 1, 64, 4095, 4096, 5000, 65536 };
	struct rig *r = &self->r;
	struct chain c;
	unsigned int i;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(&c, 0, sizeof(c));
		c.seed = i;
		chain_add_sg(&c, rig_buf(r, sizes[i]), sizes[i], false);
		chain_add_sg(&c, rig_buf(r, sizes[i] + 16), sizes[i] + 16,
			     true);
		ASSERT_EQ(0, chain_fill(&r->mem, &c));
		rig_roundtrip(_metadata, r, i % NVQS, &c, false);
	}
}

/* Several readable and writable pieces of odd sizes and offsets. */
static void sg_chain(struct rig *r, struct chain *c, unsigned int seed)
{
	static const __u32 out[] = { 7, 100, 4000 };
	static const __u32 in[] = { 1, 2000, 13, 3000 };
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->seed = seed;
	for (i = 0; i < ARRAY_SIZE(out); i++)
		chain_add_sg(c, rig_buf(r, out[i]), out[i], false);
	for (i = 0; i < ARRAY_SIZE(in); i++)
		chain_add_sg(c, rig_buf(r, in[i]), in[i], true);
	chain_fill(&r->mem, c);
}

TEST_F(loop, roundtrip_sg)
{
	struct chain c;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	sg_chain(&self->r, &c, 1);
	rig_roundtrip(_metadata, &self->r, 0, &c, false);
	sg_chain(&self->r, &c, 2);
	rig_roundtrip(_metadata, &self->r, 1, &c, false);
}

TEST_F(loop, roundtrip_indirect)
{
	struct chain c;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	sg_chain(&self->r, &c, 3);
	rig_roundtrip(_metadata, &self->r, 0, &c, true);
	sg_chain(&self->r, &c, 4);
	rig_roundtrip(_metadata, &self->r, 1, &c, true);
}

/* Pieces that cross from A into B: one gpa range, two mappings. */
TEST_F(loop, roundtrip_across_regions)
{
	struct rig *r = &self->r;
	struct chain c;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	ASSERT_GE(GPA_B - EDGE - GPA_A, r->mem.region[0].next);
	memset(&c, 0, sizeof(c));
	c.seed = 5;
	chain_add_sg(&c, GPA_B - 0x800, 0x1000, false);
	chain_add_sg(&c, GPA_C + 0x100, 0x1000, true);
	ASSERT_EQ(0, chain_fill(&r->mem, &c));
	rig_roundtrip(_metadata, r, 0, &c, false);
	memset(&c, 0, sizeof(c));
	c.seed = 6;
	chain_add_sg(&c, GPA_C + 0x2000, 0x1800, false);
	chain_add_sg(&c, GPA_B - 0x1001, 0x2002, true);
	ASSERT_EQ(0, chain_fill(&r->mem, &c));
	rig_roundtrip(_metadata, r, 0, &c, true);
}

/* Shape i of a family of chains: 1-3 readable, 1-3 writable pieces. */
static void mixed_chain(struct rig *r, struct chain *c, unsigned int i)
{
	unsigned int j, nout = 1 + i % 3, nin = 1 + (i / 3) % 3;
	__u64 out = 0;
	__u32 len;

	memset(c, 0, sizeof(*c));
	c->seed = 100 + i;
	for (j = 0; j < nout; j++) {
		len = 1 + (i * 97 + j * 31) % 700;
		chain_add_sg(c, rig_buf(r, len), len, false);
		out += len;
	}
	for (j = 0; j < nin; j++) {
		len = out / nin + 1 + j;
		chain_add_sg(c, rig_buf(r, len), len, true);
	}
	chain_fill(&r->mem, c);
}

/* Many chains in flight at once, direct and indirect mixed. */
TEST_F(loop, many_in_flight)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[0];
	struct chain c[48];
	struct vq_used_buf u;
	unsigned int i, done = 0;
	int head, ret;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		mixed_chain(r, &c[i], i);
		if (i % 2)
			head = vq_add_indirect(vq, c[i].sg, c[i].nout,
					       c[i].nin, &c[i]);
		else
			head = vq_add(vq, c[i].sg, c[i].nout, c[i].nin, &c[i]);
		ASSERT_LE(0, head) TH_LOG("chain %u: %s", i, strerror(-head));
	}
	ASSERT_EQ(0, vq_kick(vq));
	while (done < ARRAY_SIZE(c)) {
		ret = vq_wait_used(vq, VQ_TIMEOUT_MS);
		ASSERT_EQ(0, ret) TH_LOG("%u of %zu used", done, ARRAY_SIZE(c));
		while (!vq_reap(vq, &u)) {
			ASSERT_NE(NULL, u.cookie);
			chain_check(_metadata, &r->mem, u.cookie, u.len);
			done++;
		}
	}
	EXPECT_EQ(0, vq_used_pending(vq));
	EXPECT_EQ(NUM, vq->num_free);
}

TEST_F(loop, call_fires)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[1];
	struct vq_used_buf u;
	struct chain c;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	vq_drain_eventfd(vq->call_fd);
	loop_chain(r, &c, 9);
	ASSERT_LE(0, vq_add(vq, c.sg, c.nout, c.nin, &c));
	ASSERT_EQ(0, vq_kick(vq));
	EXPECT_EQ(1, vq_wait_call(vq, VQ_TIMEOUT_MS))
		TH_LOG("no call after the first used buffer");
	ASSERT_EQ(0, vq_poll_used(vq, VQ_TIMEOUT_MS));
	ASSERT_EQ(0, vq_reap(vq, &u));
	chain_check(_metadata, &r->mem, &c, u.len);
	/* Detached call: the buffer is still used, nobody is told. */
	ASSERT_EQ(0, vq_set_file(r->fd, VHOST_SET_VRING_CALL, 1, -1));
	vq_enable_cb(vq);
	loop_chain(r, &c, 10);
	ASSERT_LE(0, vq_add(vq, c.sg, c.nout, c.nin, &c));
	ASSERT_EQ(0, vq_kick(vq));
	ASSERT_EQ(0, vq_poll_used(vq, VQ_TIMEOUT_MS));
	EXPECT_EQ(0, vq_wait_call(vq, VQ_QUIET_MS));
	ASSERT_EQ(0, vq_reap(vq, &u));
	chain_check(_metadata, &r->mem, &c, u.len);
}

/*
 * 64 chains made available at once and kicked once: the device publishes
 * their used entries in batches and signals once per batch, so the
 * driver is called a few times, not once per chain (the eventfd counts
 * every signal).
 */
TEST_F(loop, calls_coalesced)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[0];
	long long deadline;
	struct vq_used_buf u;
	struct chain c[64];
	unsigned int i, done = 0;
	__u64 calls = 0;
	int head;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		loop_chain(r, &c[i], 400 + i);
		head = vq_add(vq, c[i].sg, c[i].nout, c[i].nin, &c[i]);
		ASSERT_LE(0, head) TH_LOG("chain %u: %s", i, strerror(-head));
	}
	ASSERT_EQ(0, vq_kick(vq));
	deadline = vq_now_ms() + VQ_TIMEOUT_MS;
	while (vq_used_pending(vq) < ARRAY_SIZE(c)) {
		ASSERT_GT(deadline, vq_now_ms())
			TH_LOG("%u of %zu used", vq_used_pending(vq),
			       ARRAY_SIZE(c));
		usleep(1000);
	}
	ASSERT_EQ(1, vq_poll_eventfd(vq->call_fd, VQ_TIMEOUT_MS, &calls));
	EXPECT_LE(calls, ARRAY_SIZE(c) / 8)
		TH_LOG("%llu calls for %zu chains", (unsigned long long)calls,
		       ARRAY_SIZE(c));
	while (!vq_reap(vq, &u)) {
		ASSERT_NE(NULL, u.cookie);
		chain_check(_metadata, &r->mem, u.cookie, u.len);
		done++;
	}
	EXPECT_EQ(ARRAY_SIZE(c), done);
}

static void send_one_polled(struct __test_metadata *_metadata,
			    struct rig *r, struct vq *vq, unsigned int seed)
{
	struct vq_used_buf u;
	struct chain c;

	loop_chain(r, &c, seed);
	ASSERT_LE(0, vq_add(vq, c.sg, c.nout, c.nin, &c));
	ASSERT_EQ(0, vq_kick(vq));
	ASSERT_EQ(0, vq_poll_used(vq, VQ_TIMEOUT_MS));
	ASSERT_EQ(0, vq_reap(vq, &u));
	chain_check(_metadata, &r->mem, &c, u.len);
}

/*
 * The driver asks for no calls (VRING_AVAIL_F_NO_INTERRUPT, or a
 * used_event three entries ahead) and gets none until it asks again.
 */
TEST_F(loop, call_suppressed)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[0];
	unsigned int i;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	/* The first call after start is unconditional for vhost. */
	send_one_polled(_metadata, r, vq, 20);
	ASSERT_EQ(1, vq_wait_call(vq, VQ_TIMEOUT_MS));
	vq_disable_cb(vq);
	if (variant->event_idx)
		vq_set_used_event(vq, vq->last_used + 3);
	for (i = 0; i < 3; i++) {
		send_one_polled(_metadata, r, vq, 21 + i);
		EXPECT_EQ(0, vq_wait_call(vq, VQ_QUIET_MS))
			TH_LOG("call at used idx %u", vq->last_used);
	}
	if (!variant->event_idx)
		vq_enable_cb(vq);
	/* With used_event 3 ahead, the 4th entry crosses it. */
	send_one_polled(_metadata, r, vq, 24);
	EXPECT_EQ(1, vq_wait_call(vq, VQ_TIMEOUT_MS))
		TH_LOG("no call once the driver asked again");
}

struct wrap_slot {
	__u64 out, in;
	__u64 seq;
	struct wrap_slot *next;
};

/* Watches used->idx from another CPU: it may only ever move forward. */
struct used_watch {
	struct vq *vq;
	bool stop;
	unsigned long reads;
	unsigned int backward;
	__u16 from, to;
};

static void *used_watch_fn(void *arg)
{
	struct used_watch *w = arg;
	__u16 old = vq_used_idx(w->vq), now;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		now = vq_used_idx(w->vq);
		w->reads++;
		/* Seen going back: a torn 16-bit store (0x12ff -> 0x1200). */
		if ((__u16)(now - old) > 0x8000 && !w->backward++) {
			w->from = old;
			w->to = now;
		}
		old = now;
	}
	return NULL;
}

/*
 * Over 2^16 buffers through a 16-entry ring: every index wraps, both the
 * ring positions and the 16-bit avail/used indices.  Kicks and calls go
 * through the suppression logic (vq_notify, vq_wait_used).  Meanwhile a
 * second thread watches used->idx: the device must store it in one
 * access, never byte by byte.
 */
TEST_F_TIMEOUT(loop, ring_wrap, 300)
{
	struct used_watch watch = { .vq = &self->r.vq[0] };
	pthread_t watcher;
	const unsigned int num = 16, total = 65536 + 3 * 16 + 5;
	struct wrap_slot slots[16], *free_slots = NULL, *s;
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[0];
	unsigned int sent = 0, done = 0, i;
	struct vq_used_buf u;
	__u64 v;
	__u32 base;
	int ret;

	loop_start(_metadata, &self->r, variant->event_idx, num, false);
	ASSERT_EQ(0, pthread_create(&watcher, NULL, used_watch_fn, &watch));
	for (i = 0; i < num; i++) {
		slots[i].out = rig_buf(r, 8);
		slots[i].in = rig_buf(r, 8);
		slots[i].next = free_slots;
		free_slots = &slots[i];
	}
	while (done < total) {
		while (sent < total && free_slots && vq->num_free >= 2) {
			struct vq_sg sg[2];

			s = free_slots;
			free_slots = s->next;
			s->seq = sent;
			v = ~(__u64)sent;
			vq_mem_write(&r->mem, s->out, &sent, 4);
			vq_mem_write(&r->mem, s->out + 4, &v, 4);
			vq_mem_write(&r->mem, s->in, &v, 8);
			sg[0] = (struct vq_sg){ s->out, 8 };
			sg[1] = (struct vq_sg){ s->in, 8 };
			if (sent % 3 == 2)
				ret = vq_add_indirect(vq, sg, 1, 1, s);
			else
				ret = vq_add(vq, sg, 1, 1, s);
			ASSERT_LE(0, ret) TH_LOG("buffer %u", sent);
			sent++;
		}
		ASSERT_EQ(0, vq_notify(vq));
		ret = vq_wait_used(vq, VQ_TIMEOUT_MS);
		ASSERT_EQ(0, ret) TH_LOG("stuck after %u of %u (sent %u)",
					 done, total, sent);
		while (!vq_reap(vq, &u)) {
			s = u.cookie;
			ASSERT_EQ(8, u.len) TH_LOG("buffer %u", done);
			vq_mem_read(&r->mem, s->in, &v, 8);
			ASSERT_EQ((__u32)s->seq | (__u64)(__u32)~s->seq << 32,
				  v) TH_LOG("buffer %llu",
					    (unsigned long long)s->seq);
			s->next = free_slots;
			free_slots = s;
			done++;
		}
	}
	__atomic_store_n(&watch.stop, true, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(watcher, NULL));
	EXPECT_EQ(0, watch.backward)
		TH_LOG("used->idx went back %u times in %lu reads, first %u -> %u",
		       watch.backward, watch.reads, watch.from, watch.to);
	EXPECT_EQ((__u16)total, vq_used_idx(vq));
	ASSERT_EQ(0, rig_run(r, 0, false));
	ASSERT_EQ(0, vq_get_base(vq, &base));
	EXPECT_EQ((__u16)total, base);
}

/* Stop, read the base, restore it, start again: nothing lost or redone. */
TEST_F(loop, stop_restart_resumes)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[0];
	__u32 base = ~0U;
	unsigned int i;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	for (i = 0; i < 5; i++)
		send_one_polled(_metadata, r, vq, 30 + i);
	ASSERT_EQ(0, rig_run(r, 0, false));
	ASSERT_EQ(0, vq_get_base(vq, &base));
	EXPECT_EQ(5, base);
	ASSERT_EQ(0, vq_set_base(vq, base));
	ASSERT_EQ(0, rig_run(r, 0, true));
	for (i = 0; i < 3; i++)
		send_one_polled(_metadata, r, vq, 40 + i);
	EXPECT_EQ(8, vq_used_idx(vq));
	ASSERT_EQ(0, rig_run(r, 0, false));
	ASSERT_EQ(0, vq_get_base(vq, &base));
	EXPECT_EQ(8, base);
}

/* A stopped vring is not served; buffers kicked meanwhile are on start. */
TEST_F(loop, stopped_ring_not_served)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[1];
	struct vq_used_buf u;
	struct chain c;

	loop_start(_metadata, &self->r, variant->event_idx, NUM, false);
	send_one_polled(_metadata, r, vq, 50);
	ASSERT_EQ(0, rig_run(r, 1, false));
	loop_chain(r, &c, 51);
	ASSERT_LE(0, vq_add(vq, c.sg, c.nout, c.nin, &c));
	ASSERT_EQ(0, vq_kick(vq));
	EXPECT_EQ(-ETIMEDOUT, vq_poll_used(vq, VQ_QUIET_MS))
		TH_LOG("a stopped vring used a buffer");
	ASSERT_EQ(0, rig_run(r, 1, true));
	ASSERT_EQ(0, vq_poll_used(vq, VQ_TIMEOUT_MS))
		TH_LOG("the kick from before the start was lost");
	ASSERT_EQ(0, vq_reap(vq, &u));
	chain_check(_metadata, &r->mem, &c, u.len);
}

static bool page_in(__u64 page, __u64 gpa, __u64 len)
{
	return len && page >= gpa / VQ_PAGE_SIZE &&
	       page <= (gpa + len - 1) / VQ_PAGE_SIZE;
}

/*
 * Dirty logging: exactly the guest pages the device wrote are marked,
 * the written part of the buffers and the used ring, and the log eventfd
 * fires.  Nothing the device only read is marked.
 */
TEST_F(loop, dirty_log_exact)
{
	struct rig *r = &self->r;
	struct vq *vq = &r->vq[0];
	__u64 page, used_len = sizeof(__u16) * 3 +
			      sizeof(struct vring_used_elem) * NUM;
	unsigned int bad = 0, dirty = 0;
	struct vq_used_buf u;
	struct chain c;
	bool want, got;
	int lfd = vq_eventfd();

	ASSERT_LE(0, lfd);
	loop_start(_metadata, &self->r, variant->event_idx, NUM, true);
	ASSERT_GE(GPA_B - EDGE - GPA_A, r->mem.region[0].next);
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_LOG_FD, &lfd));
	memset(&c, 0, sizeof(c));
	c.seed = 60;
	/* 5000 bytes: all of the A/B piece, then 904 bytes into C + 3. */
	chain_add_sg(&c, rig_buf(r, 5000), 5000, false);
	chain_add_sg(&c, GPA_B - 0x800, 0x1000, true);
	chain_add_sg(&c, GPA_C + 0x3000, 0x3000, true);
	ASSERT_EQ(0, chain_fill(&r->mem, &c));
	/* vq1 may still write its used flags after its start: stop it. */
	ASSERT_EQ(0, rig_run(r, 1, false));
	vq_log_clear(&r->log);
	vq_drain_eventfd(lfd);
	ASSERT_LE(0, vq_add(vq, c.sg, c.nout, c.nin, &c));
	ASSERT_EQ(0, vq_kick(vq));
	ASSERT_EQ(0, vq_wait_used(vq, VQ_TIMEOUT_MS));
	ASSERT_EQ(0, vq_reap(vq, &u));
	chain_check(_metadata, &r->mem, &c, u.len);
	EXPECT_EQ(1, vq_poll_eventfd(lfd, VQ_TIMEOUT_MS, NULL))
		TH_LOG("the log eventfd did not fire");
	for (page = 0; page < r->log.npages; page++) {
		want = page_in(page, GPA_B - 0x800, 0x1000) ||
		       page == (GPA_C + 0x3000) / VQ_PAGE_SIZE ||
		       page_in(page, vq->used_gpa, used_len);
		got = vq_log_test(&r->log, page * VQ_PAGE_SIZE);
		dirty += want;
		if (want == got)
			continue;
		if (bad++ < 8)
			TH_LOG("gpa 0x%llx: dirty %d, expected %d",
			       (unsigned long long)page * VQ_PAGE_SIZE, got,
			       want);
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(dirty, vq_log_count(&r->log)) TH_LOG("bits past npages?");
	close(lfd);
}

TEST_HARNESS_MAIN
