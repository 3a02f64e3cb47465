// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-blk tests: the virtio-blk device behind /dev/kvhost-blk, driven
 * as a VMM and a guest driver would drive it, over the backends a VMM
 * would give it.
 *
 *   blk     one queue over one backend: data integrity both ways (requests
 *           through the vring checked against pread/pwrite on the
 *           backend), descriptor layouts, queue depth up to the ring size,
 *           FLUSH, DISCARD, WRITE_ZEROES, GET_ID, the configuration, every
 *           request the device must refuse, read-only backends, dirty
 *           logging, detach / close / exit / RESET_OWNER with I/O in
 *           flight
 *   mq      several queues at once, one thread each; a broken queue leaves
 *           the others running
 *   badblk  backend I/O errors (null_blk badblocks)
 *   hostile malformed requests on one queue of a two-queue device: the
 *           status or the err eventfd, the counters, and the other queue
 *           and a second device serving on
 *   fault   backend faults: dm-flakey, fail_make_request, a loop device
 *           cleared with I/O in flight
 *   abi     the kvhost-blk ioctls and their errnos
 *
 * Backends (fixture variants): brd's /dev/ram0 (buffered and O_DIRECT),
 * null_blk devices made through configfs (memory backed; 512-byte blocks
 * buffered, 4096-byte blocks O_DIRECT), a loop device over a tmpfs file,
 * a tmpfs file, and an O_DIRECT file on ext4 (on a loop device).  A
 * variant whose module or tool is missing SKIPs; everything runs with
 *
 *   scripts/vm -m brd,null_blk,loop,ext4,dm_flakey -- selftests/kvhost/blk_test
 *
 * (dm-flakey needs dmsetup; fail_make_request needs a kernel with
 * CONFIG_FAIL_MAKE_REQUEST, such as the debug kernel.)
 *
 * Guest memory is one memfd region.  Each request owns a slot there: an
 * indirect table, then the 16-byte header ending on a page boundary, the
 * data (page aligned), and the status byte right after the data, so that
 * one descriptor may span the header and the data, or the data and the
 * status.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/fs.h>
#include <linux/kvhost.h>
#include <linux/loop.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "kselftest_harness.h"
#include "kvhost_features.h"
#include "virtq.h"

#define KVH_BLK			"/dev/" KVHOST_BLK_NODE
#define MAX_QUEUES_PARAM	"/sys/module/kvhost/parameters/max_queues"

/*
 * kvhost's per-vq count of requests completed with a status other than
 * VIRTIO_BLK_S_OK, a "name value" line of debugfs's kvhost/<id>/vq<N>.
 * The only place the tests name it.
 */
#define KVH_REQ_ERR_COUNTER	"drops"

#define FBIT(b)		(1ULL << (b))
#define SECTOR		512U
#define HDR_LEN		((__u32)sizeof(struct virtio_blk_outhdr))
#define DWZ_LEN		((__u32)sizeof(struct virtio_blk_discard_write_zeroes))
/* What the device promises in its configuration. */
#define SEG_MAX		128
#define DWZ_SEG_MAX	16

#define NUM		128		/* ring size */
#define MAXQ		4		/* queues the mq tests use, at most */
#define DATA_MAX	(64U << 10)	/* data bytes of one slot */
#define TBL_MAX		192		/* indirect table entries of one slot */
#define SLOT_HDR	4096U		/* the header ends here */
#define HDR_OFF		(SLOT_HDR - HDR_LEN)
#define SLOT_SIZE	(SLOT_HDR + DATA_MAX + 4096)
/* A buffer for the largest requests: SEG_MAX segments of 16 KiB. */
#define BIG_SIZE	(2U << 20)
#define GPA_BASE	0x100000ULL
/* An address no user process can access. */
#define KERNEL_UADDR	0xffff888000000000UL
/* A short wait for something that must not happen. */
#define QUIET_MS	200
/* Detach, close, exit and RESET_OWNER with I/O in flight: at most. */
#define TEARDOWN_MS	10000

#define ST_NONE		0xee		/* status byte before the device */
#define SENTINEL	0xdd		/* writable bytes before the device */

/*
 * The 6.1 harness goes on to run the test body after SKIP() in a fixture
 * setup; end the test process instead (exit status 255 reports SKIP).
 */
static void setup_skip(struct __test_metadata *_metadata, const char *why)
{
	SKIP(_exit(255), "%s", why);
}

/* Patterns */

static __u64 mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * The bytes generation gen puts at disk offset off (both multiples of 8):
 * a function of the absolute offset, so misplaced data never matches.
 */
static void pattern(void *buf, __u64 off, __u64 len, __u64 gen)
{
	__u64 *p = buf, g = mix64(gen + 1), i;

	for (i = 0; i < len / 8; i++)
		p[i] = mix64((off / 8 + i) ^ g);
}

/* The first differing byte, or -1. */
static long first_diff(const __u8 *a, const __u8 *b, __u64 len)
{
	__u64 i;

	if (!memcmp(a, b, len))
		return -1;
	for (i = 0; a[i] == b[i]; i++)
		;
	return i;
}

static bool all_zero(const __u8 *p, __u64 len)
{
	return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

static void *aligned_buf(size_t size)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, size))
		return NULL;
	memset(p, 0, size);
	return p;
}

/* Backends */

enum bk_kind { BK_BRD, BK_NULLB, BK_LOOP, BK_FILE, BK_EXT4 };

struct bk_cfg {
	enum bk_kind kind;
	__u32 bs;		/* null_blk's block size */
	bool direct;		/* the device's fd is O_DIRECT */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX acked */
};

#define BRD_DEV		"/dev/ram0"
#define EXT4_IMG	"/tmp/kvhost-blk-ext4.img"
#define EXT4_IMG_MB	32
#define EXT4_MNT	"/tmp/kvhost-blk-ext4"
#define CONFIGFS	"/sys/kernel/config"
#define NULLB_DIR	CONFIGFS "/nullb"
#define NULLB_PREFIX	"kvhblk"
#define BACKEND_MB	16
#define EXT4_FILE_MB	8
#define BE_SKIP		1

struct backend {
	const struct bk_cfg *cfg;
	int fd;			/* what the device is given */
	int vfd;		/* the tests' own view, O_DIRECT if it can */
	int hold;		/* loop: keeps the loop device configured */
	bool bdev;
	__u64 size;
	__u32 bs;		/* logical block size */
	__u32 pbs;		/* block device: physical block size */
	char path[64];		/* the block device node, if one */
	char nullb[96];		/* null_blk: its configfs directory */
	bool mounted;		/* ext4: EXT4_MNT is ours to unmount */
	char why[160];
};

static int be_why(struct backend *b, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
	return r;
}

static int attr_write(const char *dir, const char *name, const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return vq_write_str(path, val);
}

static int attr_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int attr_read_u64(const char *path, __u64 *v)
{
	char buf[64];
	int r;

	r = attr_read(path, buf, sizeof(buf));
	if (r)
		return r;
	*v = strtoull(buf, NULL, 0);
	return 0;
}

/* Wait for a device node to show up: 0 or -ENOENT. */
static int wait_node(const char *path, int ms)
{
	long long deadline = vq_now_ms() + ms;
	struct timespec ts = { .tv_nsec = 10000000 };

	while (access(path, F_OK)) {
		if (vq_now_ms() > deadline)
			return -ENOENT;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* null_blk devices left behind by test processes that were killed. */
static void nullb_reap_stale(void)
{
	struct dirent *e;
	char dir[384];
	int pid;
	DIR *d;

	d = opendir(NULLB_DIR);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (sscanf(e->d_name, NULLB_PREFIX "%d", &pid) != 1 ||
		    !kill(pid, 0) || errno != ESRCH)
			continue;
		snprintf(dir, sizeof(dir), NULLB_DIR "/%s", e->d_name);
		attr_write(dir, "power", "0");
		rmdir(dir);
	}
	closedir(d);
}

static int nullb_create(struct backend *b)
{
	char val[32], path[192];
	__u64 index;
	int r;

	if (access(NULLB_DIR, F_OK)) {
		/* configfs is not mounted in the scripts/vm guest. */
		mount("configfs", CONFIGFS, "configfs", 0, NULL);
		if (access(NULLB_DIR, F_OK))
			return be_why(b, BE_SKIP,
				      "no null_blk (scripts/vm -m null_blk)");
	}
	nullb_reap_stale();
	snprintf(b->nullb, sizeof(b->nullb), NULLB_DIR "/" NULLB_PREFIX "%d",
		 getpid());
	if (mkdir(b->nullb, 0755)) {
		r = -errno;
		b->nullb[0] = 0;
		return be_why(b, r, "mkdir %s", NULLB_DIR);
	}
	snprintf(val, sizeof(val), "%u", b->cfg->bs);
	r = attr_write(b->nullb, "size", "16");
	if (!r)
		r = attr_write(b->nullb, "blocksize", val);
	if (!r)
		r = attr_write(b->nullb, "memory_backed", "1");
	if (!r)
		r = attr_write(b->nullb, "discard", "1");
	if (!r)
		r = attr_write(b->nullb, "power", "1");
	if (r)
		return be_why(b, r, "configuring %s", b->nullb);
	/* Named after the configfs directory (since 6.0), else nullb<index>. */
	snprintf(b->path, sizeof(b->path), "/dev/%s",
		 strrchr(b->nullb, '/') + 1);
	if (!wait_node(b->path, 1000))
		return 0;
	snprintf(path, sizeof(path), "%s/index", b->nullb);
	r = attr_read_u64(path, &index);
	if (r)
		return be_why(b, r, "reading %s", path);
	snprintf(b->path, sizeof(b->path), "/dev/nullb%llu",
		 (unsigned long long)index);
	r = wait_node(b->path, 3000);
	return r ? be_why(b, r, "%s", b->path) : 0;
}

static void nullb_destroy(struct backend *b)
{
	if (!b->nullb[0])
		return;
	attr_write(b->nullb, "power", "0");
	rmdir(b->nullb);
	b->nullb[0] = 0;
}

static int tmp_file(struct backend *b, const char *dir, __u64 size, int flags)
{
	char path[128];
	int fd, r;

	snprintf(path, sizeof(path), "%s/kvhost-blk-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | flags, 0600);
	if (fd < 0)
		return be_why(b, -errno, "creating %s", path);
	/* The device and the test only need the open file. */
	unlink(path);
	if (ftruncate(fd, size)) {
		r = -errno;
		close(fd);
		return be_why(b, r, "ftruncate %s", path);
	}
	return fd;
}

/* A loop device over a tmpfs file; it goes away with its last opener. */
static int loop_create(struct backend *b)
{
	struct loop_config lc;
	int ctl, file, n, fd = -1, tries, r = -EBUSY;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return be_why(b, errno == ENOENT ? BE_SKIP : -errno,
			      "no /dev/loop-control (scripts/vm -m loop)");
	file = tmp_file(b, "/tmp", (__u64)BACKEND_MB << 20, 0);
	if (file < 0) {
		close(ctl);
		return file;
	}
	for (tries = 0; tries < 10 && r == -EBUSY; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			r = be_why(b, -errno, "LOOP_CTL_GET_FREE");
			break;
		}
		snprintf(b->path, sizeof(b->path), "/dev/loop%d", n);
		wait_node(b->path, 3000);
		fd = open(b->path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = be_why(b, -errno, "open %s", b->path);
			break;
		}
		memset(&lc, 0, sizeof(lc));
		lc.fd = file;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (!ioctl(fd, LOOP_CONFIGURE, &lc)) {
			r = 0;
			break;
		}
		r = be_why(b, -errno, "LOOP_CONFIGURE %s", b->path);
		close(fd);
		fd = -1;
	}
	close(file);
	close(ctl);
	b->hold = fd;
	return r;
}

static int run_mkfs(const char *dev)
{
	int status, nul;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		nul = open("/dev/null", O_RDWR);
		dup2(nul, 1);
		dup2(nul, 2);
		execlp("mkfs.ext4", "mkfs.ext4", "-q", "-F", dev, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The loop device over EXT4_IMG made by an earlier test of this boot. */
static bool ext4_loop_find(char *dev, size_t size)
{
	char path[320], back[128];
	struct dirent *e;
	bool found = false;
	DIR *d;

	d = opendir("/sys/block");
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		if (strncmp(e->d_name, "loop", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file",
			 e->d_name);
		if (attr_read(path, back, sizeof(back)))
			continue;
		back[strcspn(back, "\n")] = 0;
		if (strcmp(back, EXT4_IMG))
			continue;
		snprintf(dev, size, "/dev/%s", e->d_name);
		found = true;
	}
	closedir(d);
	return found;
}

/*
 * ext4 on a loop device over a tmpfs image, made by the first test of a
 * boot that needs it and kept; mounted for each test.
 */
static int ext4_mount(struct backend *b)
{
	struct loop_config lc;
	char dev[300];
	int ctl, img, fd, n, r;

	if (!ext4_loop_find(dev, sizeof(dev))) {
		ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
		if (ctl < 0)
			return be_why(b, BE_SKIP,
				      "no /dev/loop-control (scripts/vm -m loop)");
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		close(ctl);
		if (n < 0)
			return be_why(b, -errno, "LOOP_CTL_GET_FREE");
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		img = open(EXT4_IMG, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (img < 0 || ftruncate(img, EXT4_IMG_MB << 20))
			return be_why(b, -errno, "%s", EXT4_IMG);
		wait_node(dev, 3000);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		memset(&lc, 0, sizeof(lc));
		lc.fd = img;
		r = fd < 0 || ioctl(fd, LOOP_CONFIGURE, &lc) ? -errno : 0;
		if (fd >= 0)
			close(fd);
		close(img);
		if (r)
			return be_why(b, r, "LOOP_CONFIGURE %s", dev);
		r = run_mkfs(dev);
		if (r == 127)
			return be_why(b, BE_SKIP, "mkfs.ext4 missing");
		if (r)
			return be_why(b, -EIO, "mkfs.ext4 %s: status %d", dev,
				      r);
	}
	mkdir(EXT4_MNT, 0755);
	r = mount(dev, EXT4_MNT, "ext4", 0, NULL) ? -errno : 0;
	if (r == -ENODEV)
		return be_why(b, BE_SKIP,
			      "no ext4 in this kernel (scripts/vm -m ext4)");
	/* EBUSY: still mounted by a test that was killed; use it. */
	if (r && r != -EBUSY)
		return be_why(b, r, "mount %s", dev);
	b->mounted = true;
	return 0;
}

/* A file of up to EXT4_FILE_MB on it, within its free space. */
static int ext4_file(struct backend *b)
{
	__u64 size = (__u64)EXT4_FILE_MB << 20, avail;
	struct statvfs st;

	if (statvfs(EXT4_MNT, &st))
		return be_why(b, -errno, "statvfs %s", EXT4_MNT);
	avail = (__u64)st.f_bavail * st.f_bsize / 4 * 3 >> 20 << 20;
	if (avail < size)
		size = avail;
	if (size < 2 << 20)
		return be_why(b, BE_SKIP, "%s: too small for a test file",
			      EXT4_MNT);
	b->fd = tmp_file(b, EXT4_MNT, size, b->cfg->direct ? O_DIRECT : 0);
	return b->fd < 0 ? b->fd : 0;
}

/* The same file, opened again with other flags (O_DIRECT if it can). */
static int be_reopen(const struct backend *b, int mode, bool direct)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", b->fd);
	fd = open(path, mode | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0 && direct && errno == EINVAL)
		fd = open(path, mode | O_CLOEXEC);
	return fd;
}

static int be_geometry(struct backend *b)
{
	unsigned int pbs = 0;
	struct stat st;
	int lbs = 0;

	if (fstat(b->fd, &st))
		return -errno;
	b->bdev = S_ISBLK(st.st_mode);
	if (!b->bdev) {
		b->size = st.st_size;
		b->bs = SECTOR;
		return 0;
	}
	if (ioctl(b->fd, BLKGETSIZE64, &b->size) ||
	    ioctl(b->fd, BLKSSZGET, &lbs) || ioctl(b->fd, BLKPBSZGET, &pbs))
		return -errno;
	b->bs = lbs;
	b->pbs = pbs;
	return 0;
}

static void be_close(struct backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	if (b->vfd >= 0)
		close(b->vfd);
	b->fd = -1;
	b->vfd = -1;
	nullb_destroy(b);
	if (b->hold >= 0)
		close(b->hold);
	b->hold = -1;
	if (b->mounted)
		umount2(EXT4_MNT, MNT_DETACH);
	b->mounted = false;
}

static void be_init(struct backend *b)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->vfd = -1;
	b->hold = -1;
}

static void be_open(struct __test_metadata *_metadata, struct backend *b,
		    const struct bk_cfg *cfg)
{
	int r = 0, flags = O_RDWR | O_CLOEXEC | (cfg->direct ? O_DIRECT : 0);

	be_init(b);
	b->cfg = cfg;
	switch (cfg->kind) {
	case BK_BRD:
		if (access(BRD_DEV, F_OK))
			r = be_why(b, BE_SKIP, "no %s (scripts/vm -m brd)",
				   BRD_DEV);
		else
			snprintf(b->path, sizeof(b->path), "%s", BRD_DEV);
		break;
	case BK_NULLB:
		r = nullb_create(b);
		break;
	case BK_LOOP:
		r = loop_create(b);
		break;
	case BK_FILE:
		b->fd = tmp_file(b, "/tmp", (__u64)BACKEND_MB << 20, 0);
		r = b->fd < 0 ? b->fd : 0;
		break;
	case BK_EXT4:
		r = ext4_mount(b);
		if (!r)
			r = ext4_file(b);
		break;
	}
	if (r == BE_SKIP) {
		be_close(b);
		setup_skip(_metadata, b->why);
	}
	ASSERT_EQ(0, r) TH_LOG("%s: %s", b->why, strerror(-r));
	if (b->path[0]) {
		b->fd = open(b->path, flags);
		ASSERT_LE(0, b->fd) TH_LOG("open %s: %s", b->path,
					   strerror(errno));
	}
	r = be_geometry(b);
	ASSERT_EQ(0, r) TH_LOG("backend geometry: %s", strerror(-r));
	b->vfd = be_reopen(b, O_RDWR, true);
	ASSERT_LE(0, b->vfd) TH_LOG("reopen: %s", strerror(errno));
}

/* buf must be aligned for O_DIRECT. */
static int be_pread(const struct backend *b, void *buf, __u64 off, __u64 len)
{
	ssize_t n;

	while (len) {
		n = pread(b->vfd, buf, len, off);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (__u8 *)buf + n;
		off += n;
		len -= n;
	}
	return 0;
}

static int be_pwrite(const struct backend *b, const void *buf, __u64 off,
		     __u64 len)
{
	ssize_t n;

	while (len) {
		n = pwrite(b->vfd, buf, len, off);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (const __u8 *)buf + n;
		off += n;
		len -= n;
	}
	return 0;
}

/* The rig: a device, its guest memory and queues, a backend */

struct rig;

struct slot {
	__u64 gpa;
	__u8 *hva;
	struct slot *next;
	/* the request in it */
	__u32 type;
	__u64 sector;
	__u32 dlen;
	__u32 rlen, wlen;
	__u8 *st;		/* the status byte */
	__u8 status;		/* what the device wrote there */
	__u32 used_len;
	bool done;
	/* traffic: what to check on completion */
	__u64 off;
	bool check_in;
};

struct queue {
	struct rig *r;
	unsigned int index;
	struct vq vq;
	bool ready;		/* vq_init done */
	struct slot slot[NUM];
	struct slot *free;
	unsigned int inflight;
	bool recycle;		/* req_run ran: recycle every slot next */
	__u32 seed;
	__u64 gen;
	__u8 *bounce;		/* DATA_MAX, aligned */
	const struct traffic *t;
	unsigned int reqs;
	unsigned int fails;
	char msg[512];
};

struct rig {
	const struct bk_cfg *bk;
	int fd;
	unsigned int nq;
	unsigned int num;
	__u64 offered, acked;
	struct vq_mem mem;
	bool mem_ready;
	struct queue q[MAXQ];
	__u64 big_gpa;		/* BIG_SIZE, page aligned */
	__u8 *big;
	struct backend be;
	struct kvhost_blk_config cfg;
	__u32 bs;
	__u64 cap;		/* sectors */
	__u64 bytes;
	__u8 *shadow;		/* what the backend holds, where known */
	__u8 *bounce;		/* 1 MiB, aligned */
};

static void qfail(struct queue *qu, const char *fmt, ...)
{
	va_list ap;

	if (qu->fails++)
		return;
	va_start(ap, fmt);
	vsnprintf(qu->msg, sizeof(qu->msg), fmt, ap);
	va_end(ap);
}

static int set_backend(int dev, int fd)
{
	struct kvhost_blk_backend a = { .fd = fd };

	return vq_ioctl(dev, KVHOST_BLK_SET_BACKEND, &a);
}

static int set_num_queues(int dev, __u32 num)
{
	struct kvhost_blk_queues a = { .num = num };

	return vq_ioctl(dev, KVHOST_BLK_SET_NUM_QUEUES, &a);
}

static int get_config(int dev, struct kvhost_blk_config *c)
{
	memset(c, 0xa5, sizeof(*c));
	return vq_ioctl(dev, KVHOST_BLK_GET_CONFIG, c);
}

static int set_serial(int dev, const void *id, size_t len)
{
	struct kvhost_blk_serial a;

	memset(&a, 0, sizeof(a));
	memcpy(a.id, id, len < sizeof(a.id) ? len : sizeof(a.id));
	return vq_ioctl(dev, KVHOST_BLK_SET_SERIAL, &a);
}

static int max_queues(__u64 *v)
{
	return attr_read_u64(MAX_QUEUES_PARAM, v);
}

static __u64 drops(struct __test_metadata *_metadata, struct rig *r,
		   unsigned int qi)
{
	__u64 v = 0;
	int ret;

	ret = vq_debugfs_get(r->fd, qi, KVH_REQ_ERR_COUNTER, &v);
	ASSERT_EQ(0, ret) TH_LOG("debugfs %s: %s", KVH_REQ_ERR_COUNTER,
				 strerror(-ret));
	return v;
}

static void rig_init(struct rig *r, const struct bk_cfg *bk)
{
	memset(r, 0, sizeof(*r));
	r->bk = bk;
	r->fd = -1;
	r->num = NUM;
	r->mem.memfd = -1;
	be_init(&r->be);
}

static void rig_open(struct __test_metadata *_metadata, struct rig *r)
{
	r->fd = open(KVH_BLK, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, r->fd) TH_LOG("open %s: %s", KVH_BLK, strerror(errno));
}

/* SET_OWNER, features, the memory table, the queue count. */
static void rig_own(struct __test_metadata *_metadata, struct rig *r,
		    unsigned int nq)
{
	__u64 want, size;
	int ret;

	ASSERT_GE(MAXQ, nq);
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_get_features(r->fd, &r->offered));
	want = r->offered & ~FBIT(VHOST_F_LOG_ALL);
	if (r->bk && !r->bk->event_idx)
		want &= ~FBIT(VIRTIO_RING_F_EVENT_IDX);
	ret = vq_negotiate(r->fd, want, &r->acked);
	ASSERT_EQ(0, ret) TH_LOG("features: %s", strerror(-ret));
	ASSERT_EQ(0, vq_mem_init(&r->mem));
	r->mem_ready = true;
	size = (__u64)nq * (r->num * SLOT_SIZE + (64 << 10)) + BIG_SIZE +
	       (1 << 20);
	ASSERT_EQ(0, vq_mem_add(&r->mem, GPA_BASE, size));
	ASSERT_EQ(0, vq_mem_set_table(&r->mem, r->fd));
	if (nq != 1) {
		ret = set_num_queues(r->fd, nq);
		ASSERT_EQ(0, ret) TH_LOG("SET_NUM_QUEUES %u: %s", nq,
					 strerror(-ret));
	}
	r->nq = nq;
	r->big_gpa = vq_mem_alloc(&r->mem, BIG_SIZE, 4096);
	ASSERT_NE(VQ_BAD_GPA, r->big_gpa);
	r->big = vq_mem_hva(&r->mem, r->big_gpa, BIG_SIZE);
}

static void q_recycle(struct queue *qu)
{
	unsigned int i;

	qu->free = NULL;
	for (i = NUM; i; i--) {
		qu->slot[i - 1].next = qu->free;
		qu->free = &qu->slot[i - 1];
	}
	qu->recycle = false;
}

static struct slot *slot_get(struct queue *qu)
{
	struct slot *s;

	if (qu->recycle && !qu->inflight)
		q_recycle(qu);
	s = qu->free;
	if (s)
		qu->free = s->next;
	return s;
}

static void slot_put(struct queue *qu, struct slot *s)
{
	s->next = qu->free;
	qu->free = s;
}

/* Lay out and program vring qi, and its slots. */
static void rig_ring(struct __test_metadata *_metadata, struct rig *r,
		     unsigned int qi)
{
	struct queue *qu = &r->q[qi];
	unsigned int i;
	int ret;

	qu->r = r;
	qu->index = qi;
	ret = vq_init(&qu->vq, r->fd, qi, r->num, &r->mem);
	ASSERT_EQ(0, ret) TH_LOG("vq_init %u: %s", qi, strerror(-ret));
	qu->ready = true;
	vq_set_features(&qu->vq, r->acked);
	ret = vq_program(&qu->vq);
	ASSERT_EQ(0, ret) TH_LOG("vq%u: %s", qi, strerror(-ret));
	for (i = 0; i < NUM; i++) {
		struct slot *s = &qu->slot[i];

		if (s->hva)
			continue;
		s->gpa = vq_mem_alloc(&r->mem, SLOT_SIZE, 4096);
		ASSERT_NE(VQ_BAD_GPA, s->gpa);
		s->hva = vq_mem_hva(&r->mem, s->gpa, SLOT_SIZE);
	}
	q_recycle(qu);
	qu->inflight = 0;
	qu->seed = vq_rnd_seed(getpid(), qi);
	qu->gen = (__u64)getpid() << 32 | (__u64)qi << 24;
	if (!qu->bounce)
		qu->bounce = aligned_buf(DATA_MAX);
	ASSERT_NE(NULL, qu->bounce);
}

static void rig_rings(struct __test_metadata *_metadata, struct rig *r)
{
	unsigned int i;

	for (i = 0; i < r->nq; i++)
		rig_ring(_metadata, r, i);
}

/* Attach fd and read the configuration. */
static void rig_attach(struct __test_metadata *_metadata, struct rig *r,
		       int fd)
{
	int ret;

	ret = set_backend(r->fd, fd);
	ASSERT_EQ(0, ret) TH_LOG("SET_BACKEND: %s", strerror(-ret));
	ret = get_config(r->fd, &r->cfg);
	ASSERT_EQ(0, ret) TH_LOG("GET_CONFIG: %s", strerror(-ret));
	r->bs = le32toh(r->cfg.blk_size);
	r->cap = le64toh(r->cfg.capacity);
	ASSERT_TRUE(r->bs >= SECTOR && !(r->bs & (r->bs - 1)))
		TH_LOG("blk_size %u", r->bs);
	r->bytes = r->cap * SECTOR;
}

/* Everything up to a running device with nq queues. */
static void rig_dev(struct __test_metadata *_metadata, struct rig *r,
		    unsigned int nq)
{
	rig_open(_metadata, r);
	rig_own(_metadata, r, nq);
	rig_rings(_metadata, r);
	rig_attach(_metadata, r, r->be.fd);
	ASSERT_EQ(r->be.size / r->be.bs * r->be.bs / SECTOR, r->cap);
	r->shadow = calloc(1, r->bytes);
	r->bounce = aligned_buf(1 << 20);
	ASSERT_NE(NULL, r->shadow);
	ASSERT_NE(NULL, r->bounce);
}

static void rig_close_dev(struct rig *r)
{
	unsigned int i;

	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	for (i = 0; i < MAXQ; i++) {
		if (r->q[i].ready)
			vq_free(&r->q[i].vq);
		r->q[i].ready = false;
	}
	if (r->mem_ready)
		vq_mem_free(&r->mem);
	r->mem_ready = false;
}

static void rig_teardown(struct rig *r)
{
	unsigned int i;

	rig_close_dev(r);
	be_close(&r->be);
	for (i = 0; i < MAXQ; i++)
		free(r->q[i].bounce);
	free(r->shadow);
	free(r->bounce);
}

/* Backend contents, through the tests' own fd */

/* Write generation gen over [off, off + len) and remember it. */
static void be_fill(struct __test_metadata *_metadata, struct rig *r,
		    __u64 off, __u64 len, __u64 gen)
{
	__u64 n;
	int ret;

	while (len) {
		n = len < (1 << 20) ? len : (1 << 20);
		pattern(r->bounce, off, n, gen);
		ret = be_pwrite(&r->be, r->bounce, off, n);
		ASSERT_EQ(0, ret) TH_LOG("pwrite %llu+%llu: %s",
					 (unsigned long long)off,
					 (unsigned long long)n, strerror(-ret));
		memcpy(r->shadow + off, r->bounce, n);
		off += n;
		len -= n;
	}
}

/* Does [off, off + len) hold want (or zeroes, if want is NULL)? */
static void be_expect(struct __test_metadata *_metadata, struct rig *r,
		      __u64 off, __u64 len, const __u8 *want,
		      const char *what)
{
	__u64 n;
	long d;
	int ret;

	while (len) {
		n = len < (1 << 20) ? len : (1 << 20);
		ret = be_pread(&r->be, r->bounce, off, n);
		ASSERT_EQ(0, ret) TH_LOG("%s: pread: %s", what, strerror(-ret));
		if (want) {
			d = first_diff(r->bounce, want, n);
			EXPECT_EQ(-1, d) TH_LOG("%s: backend byte %llu differs",
						what,
						(unsigned long long)off + d);
			want += n;
		} else {
			EXPECT_TRUE(all_zero(r->bounce, n))
				TH_LOG("%s: %llu+%llu not zero", what,
				       (unsigned long long)off,
				       (unsigned long long)n);
		}
		off += n;
		len -= n;
	}
}

/* The backend holds what the shadow says over [off, off + len). */
static void be_expect_shadow(struct __test_metadata *_metadata,
			     struct rig *r, __u64 off, __u64 len,
			     const char *what)
{
	be_expect(_metadata, r, off, len, r->shadow + off, what);
}

/* Requests */

enum {
	SP_PLAIN = 1 << 0,	/* header | data in pages | status */
	SP_ALIGNED = 1 << 1,	/* data cut at multiples of the block size */
	SP_SECTOR = 1 << 2,	/* data cut at multiples of 512 bytes */
	SP_ODD = 1 << 3,	/* cut anywhere; header/status merged */
};

struct rq {
	__u32 type;
	__u32 ioprio;
	__u64 sector;
	__u32 dlen;		/* data, DISCARD/WZ payload or GET_ID bytes */
	int rlen, wlen;		/* 0: as the type wants (see natural()) */
	unsigned int split;	/* one SP_*, or 0 for SP_PLAIN */
	bool indirect;
	unsigned int maxd;	/* data pieces, at most; 0: SEG_MAX */
	const __u32 *cuts;	/* explicit cuts, offsets from the header */
	unsigned int ncuts;
};

/* Is the data readable (OUT-like) or writable (IN-like)? */
static bool data_out(__u32 type)
{
	return type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
	       type == VIRTIO_BLK_T_WRITE_ZEROES ||
	       type == VIRTIO_BLK_T_FLUSH;
}

/* Readable and writable bytes of a well-formed request of this type. */
static void natural(const struct rq *q, __u32 *rlen, __u32 *wlen)
{
	if (data_out(q->type)) {
		*rlen = HDR_LEN + q->dlen;
		*wlen = 1;
	} else {
		*rlen = HDR_LEN;
		*wlen = q->dlen + 1;
	}
	if (q->rlen)
		*rlen = q->rlen < 0 ? 0 : q->rlen;
	if (q->wlen)
		*wlen = q->wlen < 0 ? 0 : q->wlen;
}

struct layout {
	struct vq_sg sg[TBL_MAX];
	unsigned int nout, nin;
};

static void lay_add(struct layout *l, __u64 gpa, __u32 len, bool w)
{
	l->sg[l->nout + l->nin].gpa = gpa;
	l->sg[l->nout + l->nin].len = len;
	if (w)
		l->nin++;
	else
		l->nout++;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * [0, rlen) readable then [rlen, rlen + wlen) writable, from the header's
 * first byte at base, one piece between each two cuts.
 */
static void layout_cut(struct layout *l, __u64 base, __u32 rlen, __u32 wlen,
		       __u32 *cuts, unsigned int ncuts)
{
	__u32 pos = 0, end, total = rlen + wlen;
	unsigned int i = 0;

	qsort(cuts, ncuts, sizeof(*cuts), cmp_u32);
	l->nout = 0;
	l->nin = 0;
	while (pos < total && l->nout + l->nin < TBL_MAX) {
		end = pos < rlen ? rlen : total;
		while (i < ncuts && cuts[i] <= pos)
			i++;
		if (i < ncuts && cuts[i] < end)
			end = cuts[i];
		lay_add(l, base + pos, end - pos, pos >= rlen);
		pos = end;
	}
}

/*
 * Random cuts for a well-formed request with dlen data bytes after the
 * header (readable if out, else writable, then the status byte).  At
 * most maxd pieces hold data bytes; the header takes up to 3 more with
 * SP_ODD, and SP_ODD may put the header's end and the data's start in one
 * piece (OUT), or the data's end and the status byte (IN).
 */
static unsigned int make_cuts(__u32 *seed, unsigned int mode, __u32 bs,
			      __u32 dlen, bool out, unsigned int maxd,
			      __u32 *cuts)
{
	unsigned int n = 0, k, p, units;
	__u32 unit;

	if (mode != SP_ODD || !out || vq_rnd_next(seed) % 3)
		cuts[n++] = HDR_LEN;
	if (mode == SP_ODD)
		for (k = vq_rnd_next(seed) % 3; k; k--)
			cuts[n++] = 1 + vq_rnd_next(seed) % (HDR_LEN - 1);
	if (mode == SP_PLAIN) {
		for (k = 4096; k < dlen; k += 4096)
			cuts[n++] = HDR_LEN + k;
	} else if (dlen) {
		unit = mode == SP_ODD ? 1 : mode == SP_SECTOR ? SECTOR : bs;
		units = dlen / unit;
		p = 1 + vq_rnd_next(seed) % (units < maxd ? units : maxd);
		for (k = 1; k < p && units > 1; k++)
			cuts[n++] = HDR_LEN +
				    unit * (1 + vq_rnd_next(seed) % (units - 1));
	}
	if (mode != SP_ODD || out || vq_rnd_next(seed) % 3)
		cuts[n++] = HDR_LEN + dlen;
	return n;
}

static int add_indirect(struct vq *vq, struct slot *s, const struct vq_sg *sg,
			unsigned int nout, unsigned int nin)
{
	struct vring_desc *t = (struct vring_desc *)s->hva;
	unsigned int n = nout + nin, k;
	__u16 head = vq->free_head, f;

	if (!n || n > TBL_MAX)
		return -EINVAL;
	if (!vq->num_free)
		return -ENOSPC;
	for (k = 0; k < n; k++) {
		f = (k >= nout ? VRING_DESC_F_WRITE : 0) |
		    (k + 1 < n ? VRING_DESC_F_NEXT : 0);
		vq_desc_write(t, k, sg[k].gpa, sg[k].len, f, k + 1);
	}
	vq_raw_desc(vq, head, s->gpa, n * sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	vq->free_head = vq->next[head];
	vq->num_free--;
	vq->chain_len[head] = 1;
	vq->cookie[head] = s;
	vq_raw_avail(vq, head);
	return head;
}

/* Post a laid-out chain; long ones go indirect.  Head or -errno. */
static int q_post(struct queue *qu, struct slot *s, const struct layout *l,
		  bool indirect)
{
	struct vq *vq = &qu->vq;
	int h;

	if (l->nout + l->nin > vq->num / 2)
		indirect = true;
	if (indirect)
		h = add_indirect(vq, s, l->sg, l->nout, l->nin);
	else
		h = vq_add(vq, l->sg, l->nout, l->nin, s);
	if (h >= 0) {
		qu->inflight++;
		qu->reqs++;
	}
	return h;
}

/* Header, sentinels, bookkeeping; the status at the end of the slot. */
static void slot_prep(struct slot *s, const struct rq *q, __u32 rlen,
		      __u32 wlen)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(q->type),
		.ioprio = htole32(q->ioprio),
		.sector = htole64(q->sector),
	};
	__u8 *base = s->hva + HDR_OFF;

	memcpy(base, &h, sizeof(h));
	if (wlen)
		memset(base + rlen, SENTINEL, wlen);
	s->type = q->type;
	s->sector = q->sector;
	s->dlen = q->dlen;
	s->rlen = rlen;
	s->wlen = wlen;
	s->st = wlen ? base + rlen + wlen - 1 : NULL;
	if (s->st)
		*s->st = ST_NONE;
	s->status = ST_NONE;
	s->used_len = ~0U;
	s->done = false;
	s->check_in = false;
}

static __u8 *slot_data(const struct slot *s)
{
	return s->hva + SLOT_HDR;
}

static __u64 slot_hdr_gpa(const struct slot *s)
{
	return s->gpa + HDR_OFF;
}

/* Build and post q in slot s (prepared, data in place). */
static int q_build(struct queue *qu, struct slot *s, const struct rq *q)
{
	unsigned int ncuts, mode = q->split ? q->split : SP_PLAIN;
	__u32 cuts[TBL_MAX];
	struct layout l;

	if (q->cuts) {
		ncuts = q->ncuts < TBL_MAX ? q->ncuts : TBL_MAX;
		memcpy(cuts, q->cuts, ncuts * sizeof(*cuts));
	} else if (q->rlen || q->wlen) {
		ncuts = 0;
	} else {
		ncuts = make_cuts(&qu->seed, mode, qu->r->bs, q->dlen,
				  data_out(q->type),
				  q->maxd ? q->maxd : SEG_MAX, cuts);
	}
	layout_cut(&l, slot_hdr_gpa(s), s->rlen, s->wlen, cuts, ncuts);
	return q_post(qu, s, &l, q->indirect);
}

/* Take the next used entry, waiting up to ms for it: the slot, or NULL. */
static struct slot *q_reap(struct queue *qu, int ms)
{
	struct vq_used_buf u;
	struct slot *s;
	int ret;

	ret = vq_reap(&qu->vq, &u);
	if (ret == -EAGAIN) {
		ret = vq_wait_used(&qu->vq, ms);
		if (ret) {
			qfail(qu, "vq%u: %u of %u requests not completed in %d ms",
			      qu->index, qu->inflight, qu->reqs, ms);
			return NULL;
		}
		ret = vq_reap(&qu->vq, &u);
	}
	if (ret) {
		qfail(qu, "vq%u: used id %u is not in flight", qu->index,
		      u.id);
		return NULL;
	}
	s = u.cookie;
	s->used_len = u.len;
	s->status = s->st ? *s->st : ST_NONE;
	s->done = true;
	qu->inflight--;
	return s;
}

/*
 * Queue one request on vq qi.  out: the readable bytes after the header
 * (OUT data, DISCARD/WZ payload), dlen of them.  The slot stays valid
 * until the first req_add() after the next req_run().
 */
static struct slot *req_add(struct __test_metadata *_metadata, struct rig *r,
			    unsigned int qi, const struct rq *q,
			    const void *out)
{
	struct queue *qu = &r->q[qi];
	__u32 rlen, wlen, n;
	struct slot *s;
	int h;

	s = slot_get(qu);
	ASSERT_NE(NULL, s) TH_LOG("vq%u: out of slots", qi);
	natural(q, &rlen, &wlen);
	slot_prep(s, q, rlen, wlen);
	n = rlen > HDR_LEN ? rlen - HDR_LEN : 0;
	if (out)
		memcpy(slot_data(s), out, q->dlen < n ? q->dlen : n);
	h = q_build(qu, s, q);
	ASSERT_LE(0, h) TH_LOG("vq%u: add: %s", qi, strerror(-h));
	return s;
}

/* Kick vq qi and wait until all its requests completed. */
static void req_run(struct __test_metadata *_metadata, struct rig *r,
		    unsigned int qi)
{
	struct queue *qu = &r->q[qi];

	ASSERT_EQ(0, vq_kick(&qu->vq));
	while (qu->inflight)
		ASSERT_NE(NULL, q_reap(qu, VQ_TIMEOUT_MS)) TH_LOG("%s", qu->msg);
	qu->recycle = true;
}

static struct slot *req_do(struct __test_metadata *_metadata, struct rig *r,
			   unsigned int qi, const struct rq *q,
			   const void *out)
{
	struct slot *s = req_add(_metadata, r, qi, q, out);

	req_run(_metadata, r, qi);
	return s;
}

static const char *const st_name[] = { "OK", "IOERR", "UNSUPP" };

static const char *status_name(__u8 st)
{
	return st < ARRAY_SIZE(st_name) ? st_name[st] :
	       st == ST_NONE ? "(not written)" : "(bad)";
}

/* Status and used length (len < 0: anything) of a completed request. */
static void req_expect(struct __test_metadata *_metadata,
		       const struct slot *s, __u8 status, long long len,
		       const char *what)
{
	EXPECT_TRUE(s->done) TH_LOG("%s: not completed", what);
	EXPECT_EQ(status, s->status) TH_LOG("%s: status %s, want %s", what,
					    status_name(s->status),
					    status_name(status));
	if (len >= 0)
		EXPECT_EQ(len, s->used_len) TH_LOG("%s: used len %u, want %lld",
						   what, s->used_len, len);
}

/* An IN or OUT of len bytes at byte offset off. */
static struct rq rw_rq(__u32 type, __u64 off, __u32 len)
{
	struct rq q = {
		.type = type,
		.sector = off / SECTOR,
		.dlen = len,
	};

	return q;
}

/* A DISCARD / WRITE_ZEROES payload. */
static void dwz_seg(struct virtio_blk_discard_write_zeroes *d, __u64 sector,
		    __u32 num, __u32 flags)
{
	d->sector = htole64(sector);
	d->num_sectors = htole32(num);
	d->flags = htole32(flags);
}

/* Traffic: batches of random requests, checked against the shadow */

struct traffic {
	unsigned int rounds;
	unsigned int qd;	/* requests per batch, at most */
	bool full;		/* every batch exactly qd */
	unsigned int splits;	/* SP_* allowed */
	int indirect;		/* 0 never, 1 always, 2 at random */
	unsigned int maxd;
	__u32 maxlen;
	__u64 lo, hi;		/* byte range, block aligned */
};

enum { OP_OUT, OP_IN, OP_HOST };

struct extent {
	__u64 off;
	__u32 len;
	int op;
};

static unsigned int pick_split(__u32 *seed, unsigned int splits)
{
	unsigned int modes[4], n = 0, i;

	for (i = 0; i < 4; i++)
		if (splits & (1U << i))
			modes[n++] = 1U << i;
	return n ? modes[vq_rnd_next(seed) % n] : SP_PLAIN;
}

static void t_check(struct queue *qu, struct slot *s)
{
	struct rig *r = qu->r;
	long d;

	if (s->status != VIRTIO_BLK_S_OK) {
		qfail(qu, "vq%u: %s sector %llu len %u: status %s", qu->index,
		      s->type == VIRTIO_BLK_T_IN ? "IN" : "OUT",
		      (unsigned long long)s->sector, s->dlen,
		      status_name(s->status));
		return;
	}
	if (s->used_len != (s->type == VIRTIO_BLK_T_IN ? s->dlen + 1 : 1)) {
		qfail(qu, "vq%u: sector %llu len %u: used len %u", qu->index,
		      (unsigned long long)s->sector, s->dlen, s->used_len);
		return;
	}
	if (!s->check_in)
		return;
	d = first_diff(slot_data(s), r->shadow + s->off, s->dlen);
	if (d >= 0)
		qfail(qu, "vq%u: IN sector %llu len %u: byte %ld differs",
		      qu->index, (unsigned long long)s->sector, s->dlen, d);
}

static bool t_reap(struct queue *qu)
{
	struct slot *s = q_reap(qu, VQ_TIMEOUT_MS);

	if (!s)
		return false;
	t_check(qu, s);
	slot_put(qu, s);
	return true;
}

static void t_batch(struct queue *qu, const struct extent *ext,
		    unsigned int n)
{
	static const __u32 prio[] = { 0, 2 << 13 | 4, 1 << 13, 3 << 13 };
	const struct traffic *t = qu->t;
	struct rig *r = qu->r;
	unsigned int i;
	struct slot *s;
	struct rq q;
	int h, ret;
	long d;

	for (i = 0; i < n; i++) {
		if (ext[i].op != OP_HOST)
			continue;
		pattern(qu->bounce, ext[i].off, ext[i].len, ++qu->gen);
		ret = be_pwrite(&r->be, qu->bounce, ext[i].off, ext[i].len);
		if (ret) {
			qfail(qu, "pwrite: %s", strerror(-ret));
			return;
		}
		memcpy(r->shadow + ext[i].off, qu->bounce, ext[i].len);
	}
	for (i = 0; i < n && !qu->fails; i++) {
		q = rw_rq(ext[i].op == OP_OUT ? VIRTIO_BLK_T_OUT :
			  VIRTIO_BLK_T_IN, ext[i].off, ext[i].len);
		q.ioprio = prio[vq_rnd_next(&qu->seed) % ARRAY_SIZE(prio)];
		q.split = pick_split(&qu->seed, t->splits);
		q.maxd = t->maxd;
		q.indirect = t->indirect == 1 ||
			     (t->indirect == 2 && vq_rnd_next(&qu->seed) % 2);
		s = slot_get(qu);
		while (!s && !vq_notify(&qu->vq) && t_reap(qu))
			s = slot_get(qu);
		if (!s)
			return;
		slot_prep(s, &q, q.type == VIRTIO_BLK_T_OUT ?
			  HDR_LEN + q.dlen : HDR_LEN,
			  q.type == VIRTIO_BLK_T_OUT ? 1 : q.dlen + 1);
		s->off = ext[i].off;
		if (q.type == VIRTIO_BLK_T_OUT) {
			pattern(slot_data(s), s->off, q.dlen, ++qu->gen);
			memcpy(r->shadow + s->off, slot_data(s), q.dlen);
		} else {
			s->check_in = true;
		}
		/* Out of descriptors: the device must know of the others. */
		while ((h = q_build(qu, s, &q)) == -ENOSPC)
			if (vq_notify(&qu->vq) || !t_reap(qu))
				return;
		if (h < 0) {
			qfail(qu, "vq%u: add: %s", qu->index, strerror(-h));
			return;
		}
		if (!(vq_rnd_next(&qu->seed) % 4) && vq_notify(&qu->vq))
			qfail(qu, "kick: %s", strerror(errno));
	}
	if (vq_notify(&qu->vq))
		qfail(qu, "kick: %s", strerror(errno));
	while (qu->inflight && t_reap(qu))
		;
	/* What went through the vring is on the backend. */
	for (i = 0; i < n && !qu->fails; i++) {
		if (ext[i].op != OP_OUT)
			continue;
		ret = be_pread(&r->be, qu->bounce, ext[i].off, ext[i].len);
		if (ret) {
			qfail(qu, "pread: %s", strerror(-ret));
			return;
		}
		d = first_diff(qu->bounce, r->shadow + ext[i].off, ext[i].len);
		if (d >= 0)
			qfail(qu, "vq%u: OUT sector %llu len %u: backend byte %ld differs",
			      qu->index,
			      (unsigned long long)ext[i].off / SECTOR,
			      ext[i].len, d);
	}
}

static void traffic_run(struct queue *qu)
{
	const struct traffic *t = qu->t;
	__u32 bs = qu->r->bs, zb, nb, maxb, k;
	struct extent ext[NUM];
	unsigned int round, n, i;
	__u64 zone;

	for (round = 0; round < t->rounds && !qu->fails; round++) {
		n = t->full ? t->qd : 1 + vq_rnd_next(&qu->seed) % t->qd;
		if (n > NUM)
			n = NUM;
		zone = (t->hi - t->lo) / n / bs * bs;
		if (!zone) {
			qfail(qu, "range too small for %u requests", n);
			return;
		}
		zb = zone / bs;
		maxb = t->maxlen / bs;
		if (maxb > zb)
			maxb = zb;
		for (i = 0; i < n; i++) {
			nb = 1 + vq_rnd_next(&qu->seed) % maxb;
			k = vq_rnd_next(&qu->seed) % (zb - nb + 1);
			ext[i].off = t->lo + i * zone + (__u64)k * bs;
			ext[i].len = nb * bs;
			k = vq_rnd_next(&qu->seed) % 10;
			ext[i].op = k < 4 ? OP_OUT : k < 8 ? OP_IN : OP_HOST;
		}
		t_batch(qu, ext, n);
	}
}

static void *traffic_thread(void *arg)
{
	traffic_run(arg);
	return NULL;
}

/* Fill [lo, hi) through the backend so that every read can be checked. */
static void traffic_prefill(struct __test_metadata *_metadata, struct rig *r,
			    const struct traffic *t)
{
	be_fill(_metadata, r, t->lo, t->hi - t->lo,
		(__u64)getpid() << 32 | 0xffffff);
}

/* Run t on vq qi in this thread. */
static void traffic(struct __test_metadata *_metadata, struct rig *r,
		    unsigned int qi, const struct traffic *t)
{
	struct queue *qu = &r->q[qi];

	qu->t = t;
	qu->reqs = 0;
	traffic_run(qu);
	TH_LOG("vq%u: %u requests", qi, qu->reqs);
	EXPECT_EQ(0, qu->fails) TH_LOG("%u failures, first: %s", qu->fails,
				       qu->msg);
	EXPECT_EQ(0, qu->inflight);
}

/* The blk fixture: one queue over each backend */

FIXTURE(blk) {
	struct rig r;
};

FIXTURE_VARIANT(blk) {
	struct bk_cfg c;
};

FIXTURE_VARIANT_ADD(blk, brd) {
	.c = { .kind = BK_BRD, .event_idx = true },
};

FIXTURE_VARIANT_ADD(blk, brd_direct) {
	.c = { .kind = BK_BRD, .direct = true },
};

FIXTURE_VARIANT_ADD(blk, nullb) {
	.c = { .kind = BK_NULLB, .bs = 512, .event_idx = true },
};

FIXTURE_VARIANT_ADD(blk, nullb_4k_direct) {
	.c = { .kind = BK_NULLB, .bs = 4096, .direct = true,
	       .event_idx = true },
};

FIXTURE_VARIANT_ADD(blk, loop) {
	.c = { .kind = BK_LOOP },
};

FIXTURE_VARIANT_ADD(blk, file) {
	.c = { .kind = BK_FILE, .event_idx = true },
};

FIXTURE_VARIANT_ADD(blk, ext4_direct) {
	.c = { .kind = BK_EXT4, .direct = true, .event_idx = true },
};

FIXTURE_SETUP(blk)
{
	/*
	 * KVH_BLK_QUICK (scripts/ksft --quick, the debug-kernel boot): one
	 * variant of each I/O path: bios (null_blk 4K, which also bounces
	 * unaligned buffers), buffered kiocbs (tmpfs file) and O_DIRECT
	 * kiocbs (ext4 file).  brd and loop, and the buffered block
	 * devices, run in the stock boot.
	 */
	if (getenv("KVH_BLK_QUICK") && variant->c.kind != BK_FILE &&
	    variant->c.kind != BK_EXT4 &&
	    !(variant->c.kind == BK_NULLB && variant->c.direct))
		setup_skip(_metadata, "KVH_BLK_QUICK: the stock boot runs this backend");
	rig_init(&self->r, &variant->c);
	be_open(_metadata, &self->r.be, &variant->c);
	rig_dev(_metadata, &self->r, 1);
}

FIXTURE_TEARDOWN(blk)
{
	rig_teardown(&self->r);
}

/* Does the block device under b take discards? */
static bool bdev_discards(const struct backend *b)
{
	char path[128];
	struct stat st;
	__u64 v = 0;

	if (fstat(b->fd, &st))
		return false;
	snprintf(path, sizeof(path),
		 "/sys/dev/block/%u:%u/queue/discard_max_bytes",
		 major(st.st_rdev), minor(st.st_rdev));
	return !attr_read_u64(path, &v) && v;
}

static bool cfg_has(const struct rig *r, int bit)
{
	return r->cfg.features & FBIT(bit);
}

TEST_F(blk, config)
{
	struct rig *r = &self->r;
	const struct kvhost_blk_config *c = &r->cfg;
	const __u64 always = FBIT(VIRTIO_BLK_F_SEG_MAX) |
			     FBIT(VIRTIO_BLK_F_BLK_SIZE) |
			     FBIT(VIRTIO_BLK_F_TOPOLOGY) |
			     FBIT(VIRTIO_BLK_F_FLUSH) |
			     FBIT(VIRTIO_BLK_F_MQ) |
			     FBIT(VIRTIO_BLK_F_WRITE_ZEROES);
	bool discard = r->be.bdev ? bdev_discards(&r->be) : true;
	unsigned int io = 0, opt = 0, align = 0;

	EXPECT_EQ(r->be.size >> 9, le64toh(c->capacity));
	EXPECT_EQ(r->be.bs, le32toh(c->blk_size));
	EXPECT_EQ(SEG_MAX, le32toh(c->seg_max));
	EXPECT_EQ(1, le16toh(c->num_queues));
	EXPECT_EQ(1, c->wce);
	EXPECT_EQ(0, c->cylinders);
	EXPECT_EQ(0, c->heads);
	EXPECT_EQ(0, c->sectors);
	EXPECT_EQ(0, c->reserved);
	EXPECT_EQ(0, c->features & ~KVH_TEST_BLK_FEATURES)
		TH_LOG("features 0x%llx not offered",
		       (unsigned long long)c->features);
	EXPECT_EQ(always, c->features & always)
		TH_LOG("features 0x%llx", (unsigned long long)c->features);
	EXPECT_FALSE(cfg_has(r, VIRTIO_BLK_F_RO));
	EXPECT_EQ(discard, cfg_has(r, VIRTIO_BLK_F_DISCARD))
		TH_LOG("the backend %s discard",
		       discard ? "can" : "cannot");
	if (cfg_has(r, VIRTIO_BLK_F_DISCARD)) {
		EXPECT_EQ(DWZ_SEG_MAX, le32toh(c->max_discard_seg));
		EXPECT_LT(0, le32toh(c->max_discard_sectors));
		EXPECT_LT(0, le32toh(c->discard_sector_alignment));
		EXPECT_EQ(0, le32toh(c->discard_sector_alignment) %
			     (r->bs / SECTOR));
	}
	EXPECT_EQ(DWZ_SEG_MAX, le32toh(c->max_write_zeroes_seg));
	EXPECT_LT(0, le32toh(c->max_write_zeroes_sectors));
	/* Topology: physical = logical << exp, the rest in logical blocks. */
	if (!r->be.bdev) {
		EXPECT_GE(65536, r->bs << c->physical_block_exp);
		return;
	}
	ASSERT_EQ(0, ioctl(r->be.fd, BLKIOMIN, &io));
	ASSERT_EQ(0, ioctl(r->be.fd, BLKIOOPT, &opt));
	ASSERT_EQ(0, ioctl(r->be.fd, BLKALIGNOFF, &align));
	EXPECT_EQ(r->be.pbs, r->bs << c->physical_block_exp);
	EXPECT_EQ(align / r->bs, c->alignment_offset);
	EXPECT_EQ(io > r->bs ? io / r->bs : 1, le16toh(c->min_io_size));
	EXPECT_EQ(opt / r->bs, le32toh(c->opt_io_size));
}

TEST_F(blk, get_id)
{
	static const char id[] = "kvhost-blk-serial-01 and more";
	struct rig *r = &self->r;
	struct rq q = { .type = VIRTIO_BLK_T_GET_ID, .dlen = 20 };
	static const __u32 cuts[] = { 16, 19, 23, 30, 31, 35 };
	struct slot *s;

	ASSERT_EQ(0, set_serial(r->fd, id, 20));
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 21, "GET_ID 20");
	EXPECT_EQ(0, memcmp(slot_data(s), id, 20));

	/* Shorter: as much as fits before the status byte. */
	q.dlen = 7;
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 8, "GET_ID 7");
	EXPECT_EQ(0, memcmp(slot_data(s), id, 7));

	/* Longer: 20 bytes, the rest untouched, the status still last. */
	q.dlen = 64;
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 21, "GET_ID 64");
	EXPECT_EQ(0, memcmp(slot_data(s), id, 20));
	EXPECT_EQ(SENTINEL, slot_data(s)[20]);
	EXPECT_EQ(SENTINEL, slot_data(s)[63]);

	/* Only a status byte. */
	q.dlen = 0;
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "GET_ID 0");

	/* Split in five, the last piece with the status byte. */
	ASSERT_EQ(0, set_serial(r->fd, "short", 5));
	q.dlen = 20;
	q.cuts = cuts;
	q.ncuts = ARRAY_SIZE(cuts);
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 21, "GET_ID split");
	EXPECT_EQ(0, memcmp(slot_data(s), "short", 5));
	EXPECT_TRUE(all_zero(slot_data(s) + 5, 15))
		TH_LOG("the serial is NUL padded");
}

TEST_F(blk, flush)
{
	struct rig *r = &self->r;
	struct rq q = { .type = VIRTIO_BLK_T_FLUSH };
	struct rq w = rw_rq(VIRTIO_BLK_T_OUT, 8192, 8192);
	struct slot *s, *f;
	__u64 before = drops(_metadata, r, 0);

	pattern(r->shadow + 8192, 8192, 8192, 77);
	s = req_add(_metadata, r, 0, &w, r->shadow + 8192);
	req_run(_metadata, r, 0);
	f = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT");
	req_expect(_metadata, f, VIRTIO_BLK_S_OK, 1, "FLUSH");
	be_expect_shadow(_metadata, r, 8192, 8192, "flushed");
	/* Flushes in a row, and with writes in flight. */
	s = req_add(_metadata, r, 0, &w, r->shadow + 8192);
	f = req_add(_metadata, r, 0, &q, NULL);
	req_add(_metadata, r, 0, &q, NULL);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT");
	req_expect(_metadata, f, VIRTIO_BLK_S_OK, 1, "FLUSH");
	EXPECT_EQ(before, drops(_metadata, r, 0));
}

/* One request at a time, page-sized and block-aligned pieces. */
TEST_F_TIMEOUT(blk, rw_qd1, 60)
{
	struct rig *r = &self->r;
	struct traffic t = {
		.rounds = 64, .qd = 1, .full = true,
		.splits = SP_PLAIN | SP_ALIGNED, .indirect = 2,
		.maxd = SEG_MAX, .maxlen = DATA_MAX,
		.lo = 0, .hi = r->bytes < (4 << 20) ? r->bytes : 4 << 20,
	};

	traffic_prefill(_metadata, r, &t);
	traffic(_metadata, r, 0, &t);
}

/* Batches of up to 32, direct and indirect. */
TEST_F_TIMEOUT(blk, rw_batches, 90)
{
	struct rig *r = &self->r;
	struct traffic t = {
		.rounds = 16, .qd = 32,
		.splits = SP_PLAIN | SP_ALIGNED, .indirect = 2,
		.maxd = SEG_MAX, .maxlen = DATA_MAX,
		.lo = 0, .hi = r->bytes,
	};

	traffic_prefill(_metadata, r, &t);
	traffic(_metadata, r, 0, &t);
}

/* The whole ring in flight at once. */
TEST_F_TIMEOUT(blk, rw_ring_full, 90)
{
	struct rig *r = &self->r;
	struct traffic t = {
		.rounds = 4, .qd = NUM, .full = true,
		.splits = SP_PLAIN | SP_ALIGNED, .indirect = 1,
		.maxd = 8, .maxlen = 16 << 10,
		.lo = 0, .hi = r->bytes,
	};

	traffic_prefill(_metadata, r, &t);
	traffic(_metadata, r, 0, &t);
}

/*
 * Data cut at 512-byte multiples, page-aligned buffer: what a Linux guest
 * may send (its virtio-blk queue's DMA alignment is 512 bytes), whatever
 * the block size.
 */
TEST_F_TIMEOUT(blk, rw_sector_splits, 60)
{
	struct rig *r = &self->r;
	struct traffic t = {
		.rounds = 12, .qd = 16,
		.splits = SP_SECTOR, .indirect = 2,
		.maxd = SEG_MAX, .maxlen = DATA_MAX,
		.lo = 0, .hi = r->bytes,
	};

	traffic_prefill(_metadata, r, &t);
	traffic(_metadata, r, 0, &t);
}

/*
 * Descriptors cut anywhere: a header in up to four pieces, data pieces
 * of any length at any address, header and data, or data and status, in
 * one descriptor.  The virtio spec puts no alignment on buffers.
 */
TEST_F_TIMEOUT(blk, rw_odd_splits, 60)
{
	struct rig *r = &self->r;
	struct traffic t = {
		.rounds = 12, .qd = 16,
		.splits = SP_ODD, .indirect = 2,
		.maxd = SEG_MAX, .maxlen = DATA_MAX,
		.lo = 0, .hi = r->bytes,
	};

	traffic_prefill(_metadata, r, &t);
	traffic(_metadata, r, 0, &t);
}

/*
 * A chain of: the header (slot s), nseg data segments of seg bytes each
 * in the big buffer, the status byte (slot s); indirect if asked, and
 * always past half the ring.
 */
static struct slot *req_segs(struct __test_metadata *_metadata,
			     struct rig *r, __u32 type, __u64 sector,
			     unsigned int nseg, __u32 seg, bool indirect)
{
	struct queue *qu = &r->q[0];
	struct rq q = { .type = type, .sector = sector };
	struct layout l = { .nout = 0 };
	unsigned int i;
	struct slot *s;
	int h;

	ASSERT_GE(BIG_SIZE, nseg * seg);
	s = slot_get(qu);
	ASSERT_NE(NULL, s);
	slot_prep(s, &q, HDR_LEN, 1);
	lay_add(&l, slot_hdr_gpa(s), HDR_LEN, false);
	for (i = 0; i < nseg; i++)
		lay_add(&l, r->big_gpa + i * seg, seg,
			type == VIRTIO_BLK_T_IN);
	lay_add(&l, slot_hdr_gpa(s) + HDR_LEN, 1, true);
	s->dlen = nseg * seg;
	h = q_post(qu, s, &l, indirect);
	ASSERT_LE(0, h) TH_LOG("add: %s", strerror(-h));
	return s;
}

/*
 * seg_max data segments work, one more is IOERR: the smallest segments
 * O_DIRECT backends take (one block), and single sectors.
 */
TEST_F(blk, max_segments)
{
	struct rig *r = &self->r;
	__u32 seg = r->bs, len = SEG_MAX * seg;
	__u64 off = 1 << 20, before;
	struct slot *s;

	before = drops(_metadata, r, 0);
	be_fill(_metadata, r, off, len + seg, 1);
	memset(r->big, SENTINEL, BIG_SIZE);
	s = req_segs(_metadata, r, VIRTIO_BLK_T_IN, off / SECTOR, SEG_MAX,
		     seg, true);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, len + 1, "IN 128 segments");
	EXPECT_EQ(-1, first_diff(r->big, r->shadow + off, len));

	pattern(r->big, off, len, 2);
	memcpy(r->shadow + off, r->big, len);
	s = req_segs(_metadata, r, VIRTIO_BLK_T_OUT, off / SECTOR, SEG_MAX,
		     seg, true);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT 128 segments");
	be_expect_shadow(_metadata, r, off, len + seg, "OUT 128 segments");

	/* Direct, as much as the ring takes. */
	pattern(r->big, off, NUM / 2 * seg, 3);
	memcpy(r->shadow + off, r->big, NUM / 2 * seg);
	s = req_segs(_metadata, r, VIRTIO_BLK_T_OUT, off / SECTOR,
		     NUM / 2 - 2, seg, false);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT direct");
	be_expect(_metadata, r, off, (NUM / 2 - 2) * seg, r->shadow + off,
		  "OUT direct");
	EXPECT_EQ(before, drops(_metadata, r, 0));

	/* One too many, both ways: IOERR, nothing written either way. */
	be_fill(_metadata, r, off, len + seg, 4);
	memset(r->big, SENTINEL, BIG_SIZE);
	s = req_segs(_metadata, r, VIRTIO_BLK_T_IN, off / SECTOR, SEG_MAX + 1,
		     seg, true);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_IOERR, 1, "IN 129 segments");
	EXPECT_EQ(SENTINEL, r->big[0]);
	pattern(r->big, off, len + seg, 5);
	s = req_segs(_metadata, r, VIRTIO_BLK_T_OUT, off / SECTOR,
		     SEG_MAX + 1, seg, true);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_IOERR, 1, "OUT 129 segments");
	be_expect_shadow(_metadata, r, off, len + seg, "after 129 segments");
	/* Single sectors: 129 of them are too many too. */
	s = req_segs(_metadata, r, VIRTIO_BLK_T_OUT, off / SECTOR,
		     SEG_MAX + 1, SECTOR, true);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_IOERR, 1, "OUT 129 sectors");
	be_expect_shadow(_metadata, r, off, len + seg, "after 129 sectors");
	EXPECT_EQ(before + 3, drops(_metadata, r, 0));
}

/* 2 MiB requests, both ways, in seg_max segments of 16 KiB. */
TEST_F(blk, rw_large)
{
	struct rig *r = &self->r;
	__u32 seg = BIG_SIZE / SEG_MAX;
	__u64 off = r->bytes - BIG_SIZE;
	struct slot *s;

	be_fill(_metadata, r, off, BIG_SIZE, 11);
	memset(r->big, SENTINEL, BIG_SIZE);
	s = req_segs(_metadata, r, VIRTIO_BLK_T_IN, off / SECTOR, SEG_MAX,
		     seg, true);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, BIG_SIZE + 1, "IN 2 MiB");
	EXPECT_EQ(-1, first_diff(r->big, r->shadow + off, BIG_SIZE));

	pattern(r->big, off, BIG_SIZE, 12);
	memcpy(r->shadow + off, r->big, BIG_SIZE);
	s = req_segs(_metadata, r, VIRTIO_BLK_T_OUT, off / SECTOR, SEG_MAX,
		     seg, true);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT 2 MiB");
	be_expect_shadow(_metadata, r, off, BIG_SIZE, "OUT 2 MiB");
}

/* The header in three descriptors, and in sixteen: valid. */
TEST_F(blk, header_split)
{
	static const __u32 three[] = { 5, 11, 16 };
	static const __u32 sixteen[] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	struct rig *r = &self->r;
	__u64 off = 64 << 10;
	__u32 len = 2 * r->bs;
	struct rq q;
	struct slot *s;
	__u8 *data;

	data = malloc(len);
	ASSERT_NE(NULL, data);
	pattern(data, off, len, 9);
	memcpy(r->shadow + off, data, len);
	q = rw_rq(VIRTIO_BLK_T_OUT, off, len);
	q.cuts = three;
	q.ncuts = ARRAY_SIZE(three);
	s = req_do(_metadata, r, 0, &q, data);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT, header in 3");
	be_expect_shadow(_metadata, r, off, len, "OUT, header in 3");

	q = rw_rq(VIRTIO_BLK_T_IN, off, len);
	q.cuts = three;
	q.ncuts = ARRAY_SIZE(three);
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, len + 1, "IN, header in 3");
	EXPECT_EQ(-1, first_diff(slot_data(s), data, len));

	q.cuts = sixteen;
	q.ncuts = ARRAY_SIZE(sixteen);
	q.indirect = true;
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, len + 1, "IN, header in 16");
	EXPECT_EQ(-1, first_diff(slot_data(s), data, len));

	q = (struct rq){ .type = VIRTIO_BLK_T_FLUSH, .cuts = three,
			 .ncuts = ARRAY_SIZE(three) };
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "FLUSH, header in 3");
	free(data);
}

/*
 * Bad requests in one batch with good ones: each bad one gets its status,
 * the good ones theirs, the backend changes only where the good ones
 * wrote, and every bad one is counted.
 */
struct bad {
	const char *what;
	struct rq q;
	__u8 status;
	const void *out;	/* readable bytes after the header, or NULL */
};

static void bad_batch(struct __test_metadata *_metadata, struct rig *r,
		      const struct bad *bad, unsigned int nbad)
{
	__u64 good_off = 256 << 10, before, after;
	__u32 good_len = 4 * r->bs;
	struct slot *g1, *g2, *s[32];
	unsigned int i, unsupp = 0;
	__u8 *data;

	ASSERT_GE(ARRAY_SIZE(s), nbad);
	data = calloc(1, DATA_MAX);
	ASSERT_NE(NULL, data);
	/* Known contents where a mistaken write would land. */
	be_fill(_metadata, r, 0, 128 << 10, 21);
	be_fill(_metadata, r, r->bytes - (128 << 10), 128 << 10, 22);
	before = drops(_metadata, r, 0);

	pattern(data, good_off, good_len, 23);
	memcpy(r->shadow + good_off, data, good_len);
	g1 = req_add(_metadata, r, 0, &(struct rq){ .type = VIRTIO_BLK_T_OUT,
		     .sector = good_off / SECTOR, .dlen = good_len }, data);
	for (i = 0; i < nbad; i++) {
		pattern(data, 0, DATA_MAX, 24 + i);
		s[i] = req_add(_metadata, r, 0, &bad[i].q,
			       bad[i].out ? bad[i].out : data);
		unsupp += bad[i].status == VIRTIO_BLK_S_UNSUPP;
	}
	g2 = req_add(_metadata, r, 0, &(struct rq){ .type = VIRTIO_BLK_T_IN,
		     .sector = good_off / SECTOR, .dlen = good_len }, NULL);
	req_run(_metadata, r, 0);

	req_expect(_metadata, g1, VIRTIO_BLK_S_OK, 1, "the good OUT before");
	for (i = 0; i < nbad; i++) {
		req_expect(_metadata, s[i], bad[i].status, 1, bad[i].what);
		/* An IN that was refused wrote nothing but its status. */
		if (s[i]->type == VIRTIO_BLK_T_IN && s[i]->wlen > 1)
			EXPECT_EQ(SENTINEL, *(s[i]->st - 1))
				TH_LOG("%s: data written", bad[i].what);
	}
	req_expect(_metadata, g2, VIRTIO_BLK_S_OK, good_len + 1,
		   "the good IN after");
	/* g1 and g2 may run in either order: only check g1 reached disk. */
	be_expect_shadow(_metadata, r, good_off, good_len, "the good OUT");
	be_expect_shadow(_metadata, r, 0, 128 << 10, "the first 128 KiB");
	be_expect_shadow(_metadata, r, r->bytes - (128 << 10), 128 << 10,
			 "the last 128 KiB");
	after = drops(_metadata, r, 0);
	/* UNSUPP need not be counted; IOERR must. */
	EXPECT_TRUE(after - before >= nbad - unsupp && after - before <= nbad)
		TH_LOG("%s %llu -> %llu for %u bad requests (%u UNSUPP)",
		       KVH_REQ_ERR_COUNTER, (unsigned long long)before,
		       (unsigned long long)after, nbad, unsupp);
	free(data);
}

static struct bad mkbad(const char *what, __u32 type, __u64 sector,
			__u32 dlen, int rlen, int wlen, __u8 status)
{
	struct bad b = {
		.what = what,
		.q = {
			.type = type,
			.sector = sector,
			.dlen = dlen,
			.rlen = rlen,
			.wlen = wlen,
		},
		.status = status,
	};

	return b;
}

#define IN	VIRTIO_BLK_T_IN
#define OUT	VIRTIO_BLK_T_OUT
#define IOERR	VIRTIO_BLK_S_IOERR

TEST_F(blk, out_of_range)
{
	struct rig *r = &self->r;
	__u32 bs = r->bs, spb = bs / SECTOR;
	struct rq last = rw_rq(OUT, r->bytes - bs, bs);
	__u64 cap = r->cap;
	unsigned int n = 0;
	struct bad bad[12];
	struct slot *s;
	__u8 *data;

	bad[n++] = mkbad("IN at capacity", IN, cap, bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT at capacity", OUT, cap, bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT across the end", OUT, cap - spb, 2 * bs, 0, 0,
			 IOERR);
	bad[n++] = mkbad("IN across the end", IN, cap - spb, 2 * bs, 0, 0,
			 IOERR);
	/* sector * 512 wraps to byte 0, then to byte 64 KiB */
	bad[n++] = mkbad("OUT at 2^55", OUT, 1ULL << 55, bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT at 2^55 + 128", OUT, (1ULL << 55) + 128, bs, 0,
			 0, IOERR);
	/* sector + len wraps to 0 */
	bad[n++] = mkbad("OUT at 2^64 - 1", OUT, ~0ULL, bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT at 2^64 - a block", OUT, -(__u64)spb, 2 * bs, 0,
			 0, IOERR);
	bad[n++] = mkbad("IN at 2^63", IN, 1ULL << 63, bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT at capacity + 2^55", OUT, cap + (1ULL << 55),
			 bs, 0, 0, IOERR);
	bad_batch(_metadata, r, bad, n);

	/* The last block itself is fine. */
	data = malloc(bs);
	ASSERT_NE(NULL, data);
	pattern(data, r->bytes - bs, bs, 31);
	memcpy(r->shadow + r->bytes - bs, data, bs);
	s = req_do(_metadata, r, 0, &last, data);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT, last block");
	be_expect_shadow(_metadata, r, r->bytes - bs, bs, "the last block");
	last.type = IN;
	s = req_do(_metadata, r, 0, &last, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, bs + 1, "IN, last block");
	EXPECT_EQ(0, memcmp(slot_data(s), data, bs));
	free(data);
}

TEST_F(blk, misaligned)
{
	struct rig *r = &self->r;
	__u32 bs = r->bs, spb = bs / SECTOR;
	unsigned int n = 0;
	struct bad bad[8];

	bad[n++] = mkbad("OUT of 100 bytes", OUT, 16, 100, 0, 0, IOERR);
	bad[n++] = mkbad("IN of 100 bytes", IN, 16, 100, 0, 0, IOERR);
	bad[n++] = mkbad("OUT of a block + 8", OUT, 16, bs + 8, 0, 0, IOERR);
	bad[n++] = mkbad("IN of a block + 1", IN, 16, bs + 1, 0, 0, IOERR);
	if (spb > 1) {
		bad[n++] = mkbad("OUT of 512 bytes", OUT, 16, SECTOR, 0, 0,
				 IOERR);
		bad[n++] = mkbad("OUT at sector 1", OUT, 1, bs, 0, 0, IOERR);
		bad[n++] = mkbad("IN at a misaligned sector", IN,
				 spb + spb / 2, bs, 0, 0, IOERR);
	} else {
		TH_LOG("512-byte blocks: no misaligned sector to try");
	}
	bad_batch(_metadata, r, bad, n);
}

TEST_F(blk, unknown_types)
{
	static const __u32 types[] = {
		2, 3, 5, 6, 7, 9, 10, 12, 14, 15, 16, 17, 0x100,
		0x80000000,			/* legacy BARRIER on IN */
		0x80000000 | VIRTIO_BLK_T_OUT,	/* ... on OUT */
		VIRTIO_BLK_T_OUT | 2,
		0xffffffff,
	};
	struct rig *r = &self->r;
	struct bad bad[ARRAY_SIZE(types) + 1];
	char what[ARRAY_SIZE(types) + 1][32];
	unsigned int i;

	/* With a block of data to read, which must not be written. */
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		snprintf(what[i], sizeof(what[i]), "type 0x%x", types[i]);
		bad[i] = mkbad(what[i], types[i], 0, 0, HDR_LEN + r->bs, 1,
			       VIRTIO_BLK_S_UNSUPP);
	}
	/* GET_LIFETIME's shape (a 16-byte answer): still UNSUPP. */
	bad[i++] = mkbad("GET_LIFETIME", 10, 0, 16, 0, 0,
			 VIRTIO_BLK_S_UNSUPP);
	bad_batch(_metadata, r, bad, i);
}

/* Requests whose descriptors do not fit their type. */
TEST_F(blk, bad_shapes)
{
	struct rig *r = &self->r;
	__u32 bs = r->bs;
	unsigned int n = 0;
	struct bad bad[10];

	bad[n++] = mkbad("header of 15 bytes", IN, 0, 0, 15, 1, IOERR);
	bad[n++] = mkbad("no header", IN, 0, bs, -1, bs + 1, IOERR);
	bad[n++] = mkbad("IN with data to read", IN, 0, bs, HDR_LEN + bs,
			 bs + 1, IOERR);
	bad[n++] = mkbad("OUT with 2 writable bytes", OUT, 0, bs, 0, 2,
			 IOERR);
	bad[n++] = mkbad("OUT with a block to write back", OUT, 0, bs, 0,
			 bs + 1, IOERR);
	bad[n++] = mkbad("FLUSH with 2 writable bytes", VIRTIO_BLK_T_FLUSH, 0,
			 0, 0, 2, IOERR);
	if (cfg_has(r, VIRTIO_BLK_F_DISCARD))
		bad[n++] = mkbad("DISCARD with 2 writable bytes",
				 VIRTIO_BLK_T_DISCARD, 0, DWZ_LEN, 0, 2, IOERR);
	bad[n++] = mkbad("WRITE_ZEROES with 2 writable bytes",
			 VIRTIO_BLK_T_WRITE_ZEROES, 0, DWZ_LEN, 0, 2, IOERR);
	bad_batch(_metadata, r, bad, n);
}

#undef IN
#undef OUT
#undef IOERR

/*
 * A chain with nowhere to put the status stops the queue: the err
 * eventfd fires, vq0-errors and vq0-broken say so, nothing is used, and
 * nothing later is served.  A VMM resetting the ring brings it back.
 */
static void status_missing(struct __test_metadata *_metadata, struct rig *r,
			   const struct rq *bad, const char *what)
{
	struct queue *qu = &r->q[0];
	struct rq good = rw_rq(VIRTIO_BLK_T_IN, 0, r->bs);
	__u64 errs = 0, errs2 = 0, broken = 0;
	__u16 used;
	struct slot *s;
	int ret;

	s = req_do(_metadata, r, 0, &good, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, r->bs + 1, "before");
	ASSERT_EQ(0, vq_errors(r->fd, 0, &errs));
	vq_drain_eventfd(qu->vq.err_fd);
	used = vq_used_idx(&qu->vq);
	req_add(_metadata, r, 0, bad, NULL);
	ASSERT_EQ(0, vq_kick(&qu->vq));
	ret = vq_wait_err(&qu->vq, VQ_TIMEOUT_MS);
	EXPECT_EQ(1, ret) TH_LOG("%s: the err eventfd did not fire", what);
	ASSERT_EQ(0, vq_errors(r->fd, 0, &errs2));
	EXPECT_EQ(errs + 1, errs2) TH_LOG("%s: vq0-errors", what);
	ASSERT_EQ(0, vq_broken(r->fd, 0, &broken));
	EXPECT_EQ(1, broken) TH_LOG("%s: vq0-broken", what);
	/* Stopped: a good request now is not served. */
	req_add(_metadata, r, 0, &good, NULL);
	ASSERT_EQ(0, vq_kick(&qu->vq));
	EXPECT_EQ(-ETIMEDOUT, vq_poll_used(&qu->vq, QUIET_MS))
		TH_LOG("%s: the queue went on", what);
	EXPECT_EQ(used, vq_used_idx(&qu->vq));

	/* Reset as a VMM does: detach, a fresh ring, attach. */
	ASSERT_EQ(0, set_backend(r->fd, -1));
	vq_free(&qu->vq);
	qu->ready = false;
	rig_ring(_metadata, r, 0);
	ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
	ASSERT_EQ(0, vq_broken(r->fd, 0, &broken));
	EXPECT_EQ(0, broken) TH_LOG("%s: broken after a reset", what);
	s = req_do(_metadata, r, 0, &good, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, r->bs + 1, "after a reset");
}

TEST_F(blk, status_missing)
{
	struct rq q = rw_rq(VIRTIO_BLK_T_OUT, 0, self->r.bs);

	q.wlen = -1;
	status_missing(_metadata, &self->r, &q, "OUT, nothing writable");
}

/*
 * The only writable descriptor has length 0: nowhere for the status
 * either.
 */
static void zero_len_status(struct __test_metadata *_metadata, struct rig *r)
{
	struct queue *qu = &r->q[0];
	struct rq q = { .type = VIRTIO_BLK_T_FLUSH };
	struct layout l = { .nout = 0 };
	struct slot *s;
	__u64 errs = 0, errs2 = 0;

	ASSERT_EQ(0, vq_errors(r->fd, 0, &errs));
	s = slot_get(qu);
	ASSERT_NE(NULL, s);
	slot_prep(s, &q, HDR_LEN, 1);
	lay_add(&l, slot_hdr_gpa(s), HDR_LEN, false);
	lay_add(&l, slot_hdr_gpa(s) + HDR_LEN, 0, true);
	ASSERT_LE(0, q_post(qu, s, &l, false));
	ASSERT_EQ(0, vq_kick(&qu->vq));
	EXPECT_EQ(1, vq_wait_err(&qu->vq, VQ_TIMEOUT_MS));
	ASSERT_EQ(0, vq_errors(r->fd, 0, &errs2));
	EXPECT_EQ(errs + 1, errs2);
	EXPECT_EQ(ST_NONE, *s->st);
}

TEST_F(blk, status_only_zero_length)
{
	zero_len_status(_metadata, &self->r);
}

/* An fd without write access: RO, writes refused, reads fine. */
TEST_F(blk, read_only)
{
	struct rig *r = &self->r;
	struct virtio_blk_discard_write_zeroes d;
	struct kvhost_blk_config c;
	__u64 off = 32 << 10, before;
	__u32 len = 4 * r->bs;
	struct slot *w, *rd, *ds, *wz, *f;
	struct rq q;
	int ro;

	be_fill(_metadata, r, 0, 128 << 10, 41);
	ASSERT_EQ(0, set_backend(r->fd, -1));
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c));
	ro = be_reopen(&r->be, O_RDONLY, r->bk->direct);
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, set_backend(r->fd, ro));
	/* The device holds its own reference. */
	close(ro);
	ASSERT_EQ(0, get_config(r->fd, &c));
	EXPECT_TRUE(c.features & FBIT(VIRTIO_BLK_F_RO));
	EXPECT_EQ(le64toh(r->cfg.capacity), le64toh(c.capacity));
	before = drops(_metadata, r, 0);

	q = rw_rq(VIRTIO_BLK_T_OUT, off, len);
	w = req_add(_metadata, r, 0, &q, r->shadow + 4096);
	q.type = VIRTIO_BLK_T_IN;
	rd = req_add(_metadata, r, 0, &q, NULL);
	dwz_seg(&d, off / SECTOR, len / SECTOR, 0);
	q = (struct rq){ .type = VIRTIO_BLK_T_DISCARD, .dlen = sizeof(d) };
	ds = req_add(_metadata, r, 0, &q, &d);
	q.type = VIRTIO_BLK_T_WRITE_ZEROES;
	wz = req_add(_metadata, r, 0, &q, &d);
	q = (struct rq){ .type = VIRTIO_BLK_T_FLUSH };
	f = req_add(_metadata, r, 0, &q, NULL);
	req_run(_metadata, r, 0);
	req_expect(_metadata, w, VIRTIO_BLK_S_IOERR, 1, "OUT");
	req_expect(_metadata, rd, VIRTIO_BLK_S_OK, len + 1, "IN");
	EXPECT_EQ(-1, first_diff(slot_data(rd), r->shadow + off, len));
	req_expect(_metadata, ds, VIRTIO_BLK_S_IOERR, 1, "DISCARD");
	req_expect(_metadata, wz, VIRTIO_BLK_S_IOERR, 1, "WRITE_ZEROES");
	EXPECT_TRUE(f->done);
	be_expect_shadow(_metadata, r, 0, 128 << 10, "read-only backend");
	EXPECT_EQ(before + 3 + (f->status != VIRTIO_BLK_S_OK),
		  drops(_metadata, r, 0));

	/* Back to the writable fd. */
	ASSERT_EQ(0, set_backend(r->fd, -1));
	ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
	ASSERT_EQ(0, get_config(r->fd, &c));
	EXPECT_FALSE(c.features & FBIT(VIRTIO_BLK_F_RO));
	q = rw_rq(VIRTIO_BLK_T_OUT, off, len);
	pattern(r->shadow + off, off, len, 42);
	w = req_do(_metadata, r, 0, &q, r->shadow + off);
	req_expect(_metadata, w, VIRTIO_BLK_S_OK, 1, "OUT, writable again");
	be_expect_shadow(_metadata, r, 0, 128 << 10, "writable again");
}

/* Is a discarded range promised to read back as zeroes? */
static bool discard_zeroes(const struct rig *r)
{
	return !r->be.bdev;
}

TEST_F(blk, discard)
{
	struct rig *r = &self->r;
	struct virtio_blk_discard_write_zeroes d[DWZ_SEG_MAX];
	__u32 bs = r->bs, spb = bs / SECTOR, i;
	__u64 base = 1 << 20, span = 128 * bs;
	struct rq q = { .type = VIRTIO_BLK_T_DISCARD };
	struct slot *s;

	be_fill(_metadata, r, base, span, 51);
	dwz_seg(&d[0], base / SECTOR + spb, 4 * spb, 0);
	if (!cfg_has(r, VIRTIO_BLK_F_DISCARD)) {
		q.dlen = DWZ_LEN;
		s = req_do(_metadata, r, 0, &q, d);
		req_expect(_metadata, s, VIRTIO_BLK_S_UNSUPP, 1,
			   "DISCARD not offered");
		be_expect_shadow(_metadata, r, base, span, "no discard");
		return;
	}
	/* Three ranges, out of order, one request. */
	dwz_seg(&d[1], base / SECTOR + 64 * spb, 8 * spb, 0);
	dwz_seg(&d[2], base / SECTOR + 32 * spb, spb, 0);
	q.dlen = 3 * DWZ_LEN;
	s = req_do(_metadata, r, 0, &q, d);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "DISCARD x3");
	if (discard_zeroes(r)) {
		memset(r->shadow + base + bs, 0, 4 * bs);
		memset(r->shadow + base + 64 * bs, 0, 8 * bs);
		memset(r->shadow + base + 32 * bs, 0, bs);
		be_expect_shadow(_metadata, r, base, span, "after DISCARD x3");
	} else {
		/* A block device may or may not zero: only around it. */
		be_expect_shadow(_metadata, r, base, bs, "before range 0");
		be_expect_shadow(_metadata, r, base + 5 * bs, 27 * bs,
				 "between ranges");
		be_expect_shadow(_metadata, r, base + 33 * bs, 31 * bs,
				 "between ranges");
		be_expect_shadow(_metadata, r, base + 72 * bs,
				 span - 72 * bs, "after range 1");
	}
	/* The most segments, the last block of the disk. */
	for (i = 0; i < DWZ_SEG_MAX; i++)
		dwz_seg(&d[i], r->cap - (i + 1) * 2 * spb, spb, 0);
	q.dlen = DWZ_SEG_MAX * DWZ_LEN;
	s = req_do(_metadata, r, 0, &q, d);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "DISCARD x16");
	/* Odd descriptors: the payload split across four. */
	q.dlen = 2 * DWZ_LEN;
	q.split = SP_ODD;
	s = req_do(_metadata, r, 0, &q, d);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "DISCARD, odd split");
}

TEST_F(blk, write_zeroes)
{
	struct rig *r = &self->r;
	struct virtio_blk_discard_write_zeroes d[3];
	__u32 bs = r->bs, spb = bs / SECTOR;
	__u64 base = 2 << 20, span = 256 << 10, before;
	struct rq q = { .type = VIRTIO_BLK_T_WRITE_ZEROES, .dlen = DWZ_LEN };
	struct rq in;
	struct slot *s;

	ASSERT_TRUE(cfg_has(r, VIRTIO_BLK_F_WRITE_ZEROES));
	ASSERT_EQ(1, r->cfg.write_zeroes_may_unmap);
	be_fill(_metadata, r, base, span, 61);
	before = drops(_metadata, r, 0);

	/* Without unmap */
	dwz_seg(&d[0], base / SECTOR + spb, 3 * spb, 0);
	s = req_do(_metadata, r, 0, &q, d);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "WRITE_ZEROES");
	memset(r->shadow + base + bs, 0, 3 * bs);
	be_expect_shadow(_metadata, r, base, span, "after WRITE_ZEROES");

	/* With unmap */
	dwz_seg(&d[0], base / SECTOR + 16 * spb, 5 * spb,
		VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	s = req_do(_metadata, r, 0, &q, d);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "WRITE_ZEROES unmap");
	memset(r->shadow + base + 16 * bs, 0, 5 * bs);
	be_expect_shadow(_metadata, r, base, span, "after WZ unmap");

	/* Both in one request, split oddly */
	dwz_seg(&d[0], base / SECTOR + 40 * spb, spb,
		VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	dwz_seg(&d[1], base / SECTOR + 30 * spb, 2 * spb, 0);
	dwz_seg(&d[2], base / SECTOR + 50 * spb, 10 * spb, 0);
	q.dlen = 3 * DWZ_LEN;
	q.split = SP_ODD;
	s = req_do(_metadata, r, 0, &q, d);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "WRITE_ZEROES x3");
	memset(r->shadow + base + 40 * bs, 0, bs);
	memset(r->shadow + base + 30 * bs, 0, 2 * bs);
	memset(r->shadow + base + 50 * bs, 0, 10 * bs);
	be_expect_shadow(_metadata, r, base, span, "after WZ x3");

	/* ... and through the vring. */
	in = rw_rq(VIRTIO_BLK_T_IN, base, 16 * bs);
	s = req_do(_metadata, r, 0, &in, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 16 * bs + 1, "IN");
	EXPECT_EQ(-1, first_diff(slot_data(s), r->shadow + base, 16 * bs));
	EXPECT_EQ(before, drops(_metadata, r, 0));
}

/* DISCARD / WRITE_ZEROES payloads the device must refuse. */
TEST_F(blk, dwz_bad)
{
	static const struct {
		__u32 len;
		const char *what;
	} shapes[] = {
		{ DWZ_LEN - 1, "a 15-byte payload" },
		{ DWZ_LEN + 1, "a 17-byte payload" },
		{ 0, "no payload" },
		{ (DWZ_SEG_MAX + 1) * DWZ_LEN, "17 segments" },
	};
	static struct virtio_blk_discard_write_zeroes d[DWZ_SEG_MAX + 1];
	static char what[8][48];
	struct rig *r = &self->r;
	__u32 types[2], ntypes = 0, t, i, k, spb = r->bs / SECTOR, n = 0;
	struct bad bad[8];

	if (cfg_has(r, VIRTIO_BLK_F_DISCARD))
		types[ntypes++] = VIRTIO_BLK_T_DISCARD;
	types[ntypes++] = VIRTIO_BLK_T_WRITE_ZEROES;
	for (i = 0; i <= DWZ_SEG_MAX; i++)
		dwz_seg(&d[i], 256 * spb + i * 2 * spb, spb, 0);
	for (t = 0; t < ntypes; t++) {
		for (k = 0; k < ARRAY_SIZE(shapes); k++) {
			snprintf(what[n], sizeof(what[n]), "%s with %s",
				 types[t] == VIRTIO_BLK_T_DISCARD ?
				 "DISCARD" : "WRITE_ZEROES", shapes[k].what);
			bad[n] = mkbad(what[n], types[t], 0, shapes[k].len,
				       0, 0, VIRTIO_BLK_S_IOERR);
			bad[n++].out = d;
		}
	}
	bad_batch(_metadata, r, bad, n);

	/* Segment contents: range and flags. */
	for (t = 0; t < ntypes; t++) {
		struct rq q = { .type = types[t], .dlen = DWZ_LEN };
		__u32 bad_flags = types[t] == VIRTIO_BLK_T_DISCARD ?
				  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 2;
		struct slot *s;

		dwz_seg(&d[0], r->cap, spb, 0);
		s = req_do(_metadata, r, 0, &q, d);
		req_expect(_metadata, s, VIRTIO_BLK_S_IOERR, 1,
			   "segment at capacity");
		dwz_seg(&d[0], r->cap - spb, 2 * spb, 0);
		s = req_do(_metadata, r, 0, &q, d);
		req_expect(_metadata, s, VIRTIO_BLK_S_IOERR, 1,
			   "segment across the end");
		dwz_seg(&d[0], ~0ULL - spb + 1, spb, 0);
		s = req_do(_metadata, r, 0, &q, d);
		req_expect(_metadata, s, VIRTIO_BLK_S_IOERR, 1,
			   "segment wrapping");
		dwz_seg(&d[0], 0, spb, bad_flags);
		s = req_do(_metadata, r, 0, &q, d);
		req_expect(_metadata, s, VIRTIO_BLK_S_UNSUPP, 1,
			   "unknown flags");
		if (spb > 1) {
			dwz_seg(&d[0], 1, spb, 0);
			s = req_do(_metadata, r, 0, &q, d);
			req_expect(_metadata, s, VIRTIO_BLK_S_IOERR, 1,
				   "misaligned segment");
		}
	}
}

/* Detach under traffic, requests while detached, reattach. */
TEST_F_TIMEOUT(blk, detach_reattach, 90)
{
	struct rig *r = &self->r;
	struct queue *qu = &r->q[0];
	struct traffic t = {
		.rounds = 3, .qd = 16,
		.splits = SP_PLAIN | SP_ALIGNED, .indirect = 2,
		.maxd = SEG_MAX, .maxlen = 32 << 10,
		.lo = 0, .hi = r->bytes,
	};
	struct kvhost_blk_config c;
	struct rq q = rw_rq(VIRTIO_BLK_T_IN, 0, 4096);
	struct slot *s;
	__u32 base = 0;
	int k;

	traffic_prefill(_metadata, r, &t);
	for (k = 0; k < 3; k++) {
		traffic(_metadata, r, 0, &t);
		ASSERT_EQ(0, set_backend(r->fd, -1));
		EXPECT_EQ(-ENXIO, get_config(r->fd, &c));
		ASSERT_EQ(0, vq_get_base(&qu->vq, &base));
		EXPECT_EQ(vq_used_idx(&qu->vq), base);
		/* Queued while detached: served after the attach. */
		s = req_add(_metadata, r, 0, &q, NULL);
		ASSERT_EQ(0, vq_kick(&qu->vq));
		EXPECT_EQ(-ETIMEDOUT, vq_poll_used(&qu->vq, QUIET_MS))
			TH_LOG("served while detached");
		ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
		ASSERT_NE(NULL, q_reap(qu, VQ_TIMEOUT_MS)) TH_LOG("%s", qu->msg);
		req_expect(_metadata, s, VIRTIO_BLK_S_OK, 4096 + 1,
			   "queued while detached");
		EXPECT_EQ(-1, first_diff(slot_data(s), r->shadow, 4096));
		slot_put(qu, s);
	}
}

/*
 * Fill the ring with writes and reads (one indirect descriptor each) and
 * kick; returns when all are posted.  Writes go to the even zones.
 */
static void fill_ring(struct __test_metadata *_metadata, struct rig *r,
		      __u32 len)
{
	struct queue *qu = &r->q[0];
	__u64 zone = r->bytes / NUM / r->bs * r->bs;
	unsigned int i;
	struct slot *s;
	struct rq q;

	ASSERT_LE(len, zone);
	for (i = 0; i < NUM; i++) {
		q = rw_rq(i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
			  i * zone, len);
		q.indirect = true;
		s = slot_get(qu);
		ASSERT_NE(NULL, s);
		slot_prep(s, &q, i % 2 ? HDR_LEN : HDR_LEN + len,
			  i % 2 ? len + 1 : 1);
		s->off = i * zone;
		if (i % 2) {
			s->check_in = true;
		} else {
			pattern(slot_data(s), s->off, len, 100 + i);
			memcpy(r->shadow + s->off, slot_data(s), len);
		}
		ASSERT_LE(0, q_build(qu, s, &q));
	}
	ASSERT_EQ(0, vq_kick(&qu->vq));
}

TEST_F_TIMEOUT(blk, detach_inflight, 60)
{
	struct rig *r = &self->r;
	struct queue *qu = &r->q[0];
	__u32 len = 32 << 10, base = 0;
	long long t0, ms;
	unsigned int done;
	struct slot *s;

	if (len > r->bytes / NUM)
		len = r->bytes / NUM;
	be_fill(_metadata, r, 0, r->bytes, 71);
	fill_ring(_metadata, r, len);
	t0 = vq_now_ms();
	ASSERT_EQ(0, set_backend(r->fd, -1));
	ms = vq_now_ms() - t0;
	EXPECT_GT(TEARDOWN_MS, ms) TH_LOG("detach took %lld ms", ms);
	/* Everything taken from the ring was completed before it returned. */
	ASSERT_EQ(0, vq_get_base(&qu->vq, &base));
	EXPECT_EQ((__u16)base, vq_used_idx(&qu->vq))
		TH_LOG("%u taken, %u used", base, vq_used_idx(&qu->vq));
	done = vq_used_pending(&qu->vq);
	TH_LOG("%u of %u requests done at detach, after %lld ms", done, NUM,
	       ms);
	ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
	while (qu->inflight) {
		s = q_reap(qu, VQ_TIMEOUT_MS);
		ASSERT_NE(NULL, s) TH_LOG("%s", qu->msg);
		t_check(qu, s);
	}
	EXPECT_EQ(0, qu->fails) TH_LOG("%s", qu->msg);
	be_expect_shadow(_metadata, r, 0, r->bytes, "after the reattach");
}

/* What the device has written to guest memory: used index and statuses. */
static __u64 guest_state(struct queue *qu)
{
	__u64 h = vq_used_idx(&qu->vq);
	unsigned int i;

	for (i = 0; i < NUM; i++)
		h = mix64(h ^ (qu->slot[i].st ? *qu->slot[i].st : 0));
	return h;
}

/*
 * close() with the ring full returns in bounded time, and only after the
 * device is done with guest memory: nothing changes there afterwards.
 */
TEST_F_TIMEOUT(blk, close_inflight, 60)
{
	struct rig *r = &self->r;
	struct queue *qu = &r->q[0];
	long long t0, ms;
	__u64 before;

	fill_ring(_metadata, r, r->bytes / NUM < DATA_MAX ?
		  r->bytes / NUM : DATA_MAX);
	t0 = vq_now_ms();
	EXPECT_EQ(0, close(r->fd));
	r->fd = -1;
	ms = vq_now_ms() - t0;
	EXPECT_GT(TEARDOWN_MS, ms) TH_LOG("close took %lld ms", ms);
	before = guest_state(qu);
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(before, guest_state(qu))
		TH_LOG("guest memory written after close() returned");
	TH_LOG("%u of %u requests completed by close, in %lld ms",
	       vq_used_pending(&qu->vq), NUM, ms);
}

/* The owner exits with the ring full: exit must not hang. */
TEST_F_TIMEOUT(blk, exit_inflight, 60)
{
	struct rig *r = &self->r;
	long long t0, ms = 0;
	int status = -1;
	pid_t pid, w;

	/* A child of its own owns a second device on the same backend. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct rig c;

		rig_init(&c, r->bk);
		c.be = r->be;
		/* Should the harness tear down here, leave the backend be. */
		r->be.nullb[0] = 0;
		r->be.mounted = false;
		c.be.nullb[0] = 0;
		c.be.mounted = false;
		rig_dev(_metadata, &c, 1);
		fill_ring(_metadata, &c, 16 << 10);
		_exit(0);
	}
	t0 = vq_now_ms();
	do {
		w = waitpid(pid, &status, WNOHANG);
		if (!w)
			usleep(10000);
		ms = vq_now_ms() - t0;
	} while (!w && ms < 3 * TEARDOWN_MS);
	if (!w) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	EXPECT_EQ(pid, w) TH_LOG("the owner did not exit in %lld ms", ms);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child status 0x%x", status);
}

TEST_F_TIMEOUT(blk, reset_owner_inflight, 60)
{
	struct rig *r = &self->r;
	struct kvhost_blk_config c;
	long long t0, ms;

	fill_ring(_metadata, r, 16 << 10);
	t0 = vq_now_ms();
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_RESET_OWNER, NULL));
	ms = vq_now_ms() - t0;
	EXPECT_GT(TEARDOWN_MS, ms) TH_LOG("RESET_OWNER took %lld ms", ms);
	EXPECT_EQ(-EPERM, get_config(r->fd, &c));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c)) TH_LOG("still attached");
}

/*
 * Dirty logging: an IN marks its data pages and the status byte's page,
 * an OUT only the status byte's page.
 */
TEST_F(blk, dirty_log)
{
	struct rig *r = &self->r;
	__u64 features = r->acked | FBIT(VHOST_F_LOG_ALL);
	__u64 page, data, n;
	struct vq_log log;
	struct rq q;
	struct slot *s;

	ASSERT_EQ(0, vq_log_init(&log, vq_mem_end(&r->mem)));
	ASSERT_EQ(0, vq_log_set_base(&log, r->fd));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_FEATURES, &features));

	q = rw_rq(VIRTIO_BLK_T_IN, 0, 8192);
	vq_log_clear(&log);
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 8193, "IN");
	data = s->gpa + SLOT_HDR;
	EXPECT_TRUE(vq_log_test(&log, data));
	EXPECT_TRUE(vq_log_test(&log, data + 4096));
	EXPECT_TRUE(vq_log_test(&log, data + 8192)) TH_LOG("status page");
	EXPECT_FALSE(vq_log_test(&log, data - 4096)) TH_LOG("header page");
	n = vq_log_count(&log);
	EXPECT_EQ(3, n) TH_LOG("%llu pages logged", (unsigned long long)n);

	q.type = VIRTIO_BLK_T_OUT;
	vq_log_clear(&log);
	s = req_do(_metadata, r, 0, &q, r->shadow);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT");
	data = s->gpa + SLOT_HDR;
	page = vq_log_next(&log, 0);
	EXPECT_EQ(1, vq_log_count(&log));
	EXPECT_EQ((data + 8192) / VQ_PAGE_SIZE, page)
		TH_LOG("OUT logged page 0x%llx", (unsigned long long)page);
	vq_log_free(&log);
}

/* Several queues at once */

FIXTURE(mq) {
	struct rig r;
	__u64 maxq;
};

FIXTURE_VARIANT(mq) {
	struct bk_cfg c;
};

FIXTURE_VARIANT_ADD(mq, brd) {
	.c = { .kind = BK_BRD, .event_idx = true },
};

FIXTURE_VARIANT_ADD(mq, nullb_4k_direct) {
	.c = { .kind = BK_NULLB, .bs = 4096, .direct = true,
	       .event_idx = true },
};

FIXTURE_VARIANT_ADD(mq, file) {
	.c = { .kind = BK_FILE },
};

FIXTURE_SETUP(mq)
{
	int ret;

	rig_init(&self->r, &variant->c);
	be_open(_metadata, &self->r.be, &variant->c);
	ret = max_queues(&self->maxq);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", MAX_QUEUES_PARAM, strerror(-ret));
}

FIXTURE_TEARDOWN(mq)
{
	rig_teardown(&self->r);
}

/* nq queues, each on its own slice of the disk, each in its own thread. */
static void mq_run(struct __test_metadata *_metadata, struct rig *r,
		   unsigned int nq, unsigned int skip)
{
	struct traffic t[MAXQ];
	pthread_t th[MAXQ];
	__u64 slice = r->bytes / nq / r->bs * r->bs;
	unsigned int i;

	for (i = 0; i < nq; i++) {
		t[i] = (struct traffic){
			.rounds = 6, .qd = 32,
			.splits = SP_PLAIN | SP_ALIGNED, .indirect = 2,
			.maxd = SEG_MAX, .maxlen = 32 << 10,
			.lo = i * slice, .hi = (i + 1) * slice,
		};
		r->q[i].t = &t[i];
	}
	be_fill(_metadata, r, 0, nq * slice, 81);
	for (i = 0; i < nq; i++)
		if (i != skip)
			ASSERT_EQ(0, pthread_create(&th[i], NULL,
						    traffic_thread, &r->q[i]));
	for (i = 0; i < nq; i++) {
		if (i == skip)
			continue;
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, r->q[i].fails) TH_LOG("vq%u: %u failures: %s", i,
						   r->q[i].fails,
						   r->q[i].msg);
	}
}

TEST_F_TIMEOUT(mq, two_queues, 120)
{
	rig_dev(_metadata, &self->r, 2);
	EXPECT_EQ(2, le16toh(self->r.cfg.num_queues));
	mq_run(_metadata, &self->r, 2, ~0U);
}

TEST_F_TIMEOUT(mq, max_queues, 120)
{
	unsigned int nq = self->maxq < MAXQ ? self->maxq : MAXQ;

	rig_dev(_metadata, &self->r, nq);
	EXPECT_EQ(nq, le16toh(self->r.cfg.num_queues));
	mq_run(_metadata, &self->r, nq, ~0U);
}

/* vq1 breaks; the others carry on, and count nothing. */
TEST_F_TIMEOUT(mq, broken_queue_isolated, 120)
{
	struct rig *r = &self->r;
	unsigned int nq = self->maxq < MAXQ ? self->maxq : MAXQ, i;
	struct rq bad = rw_rq(VIRTIO_BLK_T_OUT, 0, 4096);
	__u64 v = 0;

	ASSERT_LE(2, nq);
	rig_dev(_metadata, r, nq);
	bad.wlen = -1;
	req_add(_metadata, r, 1, &bad, NULL);
	ASSERT_EQ(0, vq_kick(&r->q[1].vq));
	EXPECT_EQ(1, vq_wait_err(&r->q[1].vq, VQ_TIMEOUT_MS));
	mq_run(_metadata, r, nq, 1);
	for (i = 0; i < nq; i++) {
		ASSERT_EQ(0, vq_broken(r->fd, i, &v));
		EXPECT_EQ(i == 1, v) TH_LOG("vq%u-broken %llu", i,
					    (unsigned long long)v);
		ASSERT_EQ(0, vq_errors(r->fd, i, &v));
		EXPECT_EQ(i == 1, v) TH_LOG("vq%u-errors %llu", i,
					    (unsigned long long)v);
		EXPECT_EQ(0, drops(_metadata, r, i));
	}
}

/* Backend errors: null_blk's badblocks */

FIXTURE(badblk) {
	struct rig r;
};

FIXTURE_VARIANT(badblk) {
	struct bk_cfg c;
};

FIXTURE_VARIANT_ADD(badblk, nullb) {
	.c = { .kind = BK_NULLB, .bs = 512 },
};

FIXTURE_VARIANT_ADD(badblk, nullb_4k_direct) {
	.c = { .kind = BK_NULLB, .bs = 4096, .direct = true },
};

FIXTURE_SETUP(badblk)
{
	rig_init(&self->r, &variant->c);
	be_open(_metadata, &self->r.be, &variant->c);
	rig_dev(_metadata, &self->r, 1);
}

FIXTURE_TEARDOWN(badblk)
{
	rig_teardown(&self->r);
}

/*
 * Sectors [1024, 1031] bad: requests touching them get IOERR, their
 * neighbours do not; once cleared, all is well.  With a buffered backend
 * fd, a write lands in the page cache and the error comes with the next
 * FLUSH, as fsync() reports it; with O_DIRECT, the write itself fails.
 */
TEST_F(badblk, io_error_only_on_bad)
{
	struct rig *r = &self->r;
	struct rq flush = { .type = VIRTIO_BLK_T_FLUSH };
	__u64 bad = 1024 * SECTOR, before;
	bool direct = r->bk->direct;
	__u32 len = 8192;
	struct slot *s[6];
	struct rq q;

	be_fill(_metadata, r, 0, 1 << 20, 91);
	ASSERT_EQ(0, attr_write(r->be.nullb, "badblocks", "+1024-1031"));
	before = drops(_metadata, r, 0);
	/* Reads */
	q = rw_rq(VIRTIO_BLK_T_IN, bad, len);
	s[0] = req_add(_metadata, r, 0, &q, NULL);
	q = rw_rq(VIRTIO_BLK_T_IN, bad - len, len);
	s[1] = req_add(_metadata, r, 0, &q, NULL);
	q = rw_rq(VIRTIO_BLK_T_IN, bad - 4096, len);
	s[2] = req_add(_metadata, r, 0, &q, NULL);
	q = rw_rq(VIRTIO_BLK_T_IN, bad + 4096, len);
	s[3] = req_add(_metadata, r, 0, &q, NULL);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s[0], VIRTIO_BLK_S_IOERR, 1, "IN on bad");
	req_expect(_metadata, s[1], VIRTIO_BLK_S_OK, len + 1, "IN before");
	EXPECT_EQ(-1, first_diff(slot_data(s[1]), r->shadow + bad - len,
				 len));
	req_expect(_metadata, s[2], VIRTIO_BLK_S_IOERR, 1, "IN into bad");
	req_expect(_metadata, s[3], VIRTIO_BLK_S_OK, len + 1, "IN after");
	EXPECT_EQ(-1, first_diff(slot_data(s[3]), r->shadow + bad + 4096,
				 len));
	EXPECT_EQ(before + 2, drops(_metadata, r, 0));

	/* Writes */
	q = rw_rq(VIRTIO_BLK_T_OUT, bad - 4096, len);
	s[4] = req_add(_metadata, r, 0, &q, r->shadow + 65536);
	q = rw_rq(VIRTIO_BLK_T_OUT, bad + len, len);
	pattern(r->shadow + bad + len, bad + len, len, 92);
	s[5] = req_add(_metadata, r, 0, &q, r->shadow + bad + len);
	req_run(_metadata, r, 0);
	req_expect(_metadata, s[4], direct ? VIRTIO_BLK_S_IOERR :
		   VIRTIO_BLK_S_OK, 1, "OUT into bad");
	req_expect(_metadata, s[5], VIRTIO_BLK_S_OK, 1, "OUT after");
	s[0] = req_do(_metadata, r, 0, &flush, NULL);
	req_expect(_metadata, s[0], direct ? VIRTIO_BLK_S_OK :
		   VIRTIO_BLK_S_IOERR, 1, "FLUSH");
	EXPECT_EQ(before + 3, drops(_metadata, r, 0));
	be_expect_shadow(_metadata, r, bad + len, len, "OUT after");

	ASSERT_EQ(0, attr_write(r->be.nullb, "badblocks", "-1024-1031"));
	q = rw_rq(VIRTIO_BLK_T_OUT, bad, len);
	pattern(r->shadow + bad, bad, len, 93);
	s[0] = req_do(_metadata, r, 0, &q, r->shadow + bad);
	req_expect(_metadata, s[0], VIRTIO_BLK_S_OK, 1, "OUT, cleared");
	q.type = VIRTIO_BLK_T_IN;
	s[0] = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s[0], VIRTIO_BLK_S_OK, len + 1, "IN, cleared");
	EXPECT_EQ(-1, first_diff(slot_data(s[0]), r->shadow + bad, len));
	s[0] = req_do(_metadata, r, 0, &flush, NULL);
	req_expect(_metadata, s[0], VIRTIO_BLK_S_OK, 1, "FLUSH, cleared");
}

/* Hostile guests: one queue misbehaves, the rest carry on */

/*
 * The hostile requests go to vq0 of a two-queue device; vq1 and a second
 * device (one queue, on a file of its own) must neither count anything
 * nor stop serving.
 */
FIXTURE(hostile) {
	struct rig r;
	struct rig r2;
};

FIXTURE_VARIANT(hostile) {
	struct bk_cfg c;
};

FIXTURE_VARIANT_ADD(hostile, file) {
	.c = { .kind = BK_FILE, .event_idx = true },
};

FIXTURE_VARIANT_ADD(hostile, nullb_4k_direct) {
	.c = { .kind = BK_NULLB, .bs = 4096, .direct = true,
	       .event_idx = true },
};

static const struct bk_cfg hostile_second = { .kind = BK_FILE };

FIXTURE_SETUP(hostile)
{
	/* KVH_BLK_QUICK: the bio path only (the file runs in the stock boot). */
	if (getenv("KVH_BLK_QUICK") && variant->c.kind == BK_FILE)
		setup_skip(_metadata, "KVH_BLK_QUICK: the file variant skipped");
	rig_init(&self->r, &variant->c);
	rig_init(&self->r2, &hostile_second);
	be_open(_metadata, &self->r.be, &variant->c);
	be_open(_metadata, &self->r2.be, &hostile_second);
	rig_dev(_metadata, &self->r, 2);
	rig_dev(_metadata, &self->r2, 1);
}

FIXTURE_TEARDOWN(hostile)
{
	rig_teardown(&self->r2);
	rig_teardown(&self->r);
}

/* Every counter a hostile request on vq0 may move, or must not. */
struct hcount {
	__u64 errs[2], broken[2], drops[2];
	__u64 errs2, broken2, drops2;
};

static void hcount_read(struct __test_metadata *_metadata, struct rig *r,
			struct rig *r2, struct hcount *c)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, vq_errors(r->fd, i, &c->errs[i]));
		ASSERT_EQ(0, vq_broken(r->fd, i, &c->broken[i]));
		c->drops[i] = drops(_metadata, r, i);
	}
	ASSERT_EQ(0, vq_errors(r2->fd, 0, &c->errs2));
	ASSERT_EQ(0, vq_broken(r2->fd, 0, &c->broken2));
	c->drops2 = drops(_metadata, r2, 0);
}

/* An OUT then an IN of 4 blocks at off on vq qi: OK, the right data. */
static void rw_check(struct __test_metadata *_metadata, struct rig *r,
		     unsigned int qi, __u64 off, __u64 gen, const char *what)
{
	__u32 len = 4 * r->bs;
	struct rq q = rw_rq(VIRTIO_BLK_T_OUT, off, len);
	struct slot *s;

	pattern(r->shadow + off, off, len, gen);
	s = req_do(_metadata, r, qi, &q, r->shadow + off);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, what);
	q.type = VIRTIO_BLK_T_IN;
	s = req_do(_metadata, r, qi, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, len + 1, what);
	EXPECT_EQ(-1, first_diff(slot_data(s), r->shadow + off, len))
		TH_LOG("%s: IN data differs", what);
	be_expect_shadow(_metadata, r, off, len, what);
}

/*
 * After a hostile request on vq0 of r: vq1 and the second device counted
 * nothing and still serve I/O, and so does vq0 unless it broke.
 */
static void others_ok(struct __test_metadata *_metadata, struct rig *r,
		      struct rig *r2, const struct hcount *before,
		      bool vq0_runs, const char *what)
{
	static __u64 gen = 1 << 20;
	__u64 off = 4 << 20;
	struct hcount now;
	char msg[160];

	hcount_read(_metadata, r, r2, &now);
	EXPECT_EQ(before->errs[1], now.errs[1]) TH_LOG("%s: vq1-errors", what);
	EXPECT_EQ(0, now.broken[1]) TH_LOG("%s: vq1 broken", what);
	EXPECT_EQ(before->drops[1], now.drops[1]) TH_LOG("%s: vq1 drops", what);
	EXPECT_EQ(before->errs2, now.errs2)
		TH_LOG("%s: the second device's errors", what);
	EXPECT_EQ(0, now.broken2) TH_LOG("%s: the second device broke", what);
	EXPECT_EQ(before->drops2, now.drops2)
		TH_LOG("%s: the second device's drops", what);
	snprintf(msg, sizeof(msg), "vq1 after %s", what);
	rw_check(_metadata, r, 1, off, ++gen, msg);
	snprintf(msg, sizeof(msg), "the second device after %s", what);
	rw_check(_metadata, r2, 0, off, ++gen, msg);
	if (!vq0_runs)
		return;
	snprintf(msg, sizeof(msg), "vq0 after %s", what);
	rw_check(_metadata, r, 0, off + (1 << 20), ++gen, msg);
}

/*
 * Requests that are well formed at the ring level but wrong: each is
 * completed with its status, counted in vq0's drops, and vq0 goes on; the
 * err eventfd stays quiet.
 */
static void status_level(struct __test_metadata *_metadata, struct rig *r,
			 struct rig *r2, const struct bad *bad,
			 unsigned int nbad, const char *what)
{
	struct hcount before, now;
	__u64 v = 0;

	vq_drain_eventfd(r->q[0].vq.err_fd);
	hcount_read(_metadata, r, r2, &before);
	/* Statuses, used lengths, drops, nothing written where it must not. */
	bad_batch(_metadata, r, bad, nbad);
	hcount_read(_metadata, r, r2, &now);
	EXPECT_EQ(before.drops[0] + nbad, now.drops[0])
		TH_LOG("%s: vq0 drops %llu -> %llu for %u requests", what,
		       (unsigned long long)before.drops[0],
		       (unsigned long long)now.drops[0], nbad);
	EXPECT_EQ(before.errs[0], now.errs[0]) TH_LOG("%s: vq0-errors", what);
	EXPECT_EQ(0, now.broken[0]) TH_LOG("%s: vq0 broken", what);
	EXPECT_EQ(0, vq_poll_eventfd(r->q[0].vq.err_fd, QUIET_MS, &v))
		TH_LOG("%s: the err eventfd fired", what);
	others_ok(_metadata, r, r2, &before, true, what);
}

/*
 * Post chain l (slot s, prepared) on vq0: a request kvhost cannot
 * complete.  The err eventfd fires, vq0-errors counts it, vq0 stops and
 * serves nothing more, nothing is used; vq1 and the second device go on.
 * Then vq0 is reset as a VMM resets it, and serves again.  ro: a page of
 * guest memory made read-only for the test, made writable again first.
 */
static void ring_breaks(struct __test_metadata *_metadata, struct rig *r,
			struct rig *r2, struct slot *s,
			const struct layout *l, void *ro, const char *what)
{
	struct rq good = rw_rq(VIRTIO_BLK_T_IN, 0, r->bs);
	struct queue *qu = &r->q[0];
	struct hcount before, now;
	char msg[160];
	__u16 used;

	hcount_read(_metadata, r, r2, &before);
	vq_drain_eventfd(qu->vq.err_fd);
	used = vq_used_idx(&qu->vq);
	ASSERT_LE(0, q_post(qu, s, l, false));
	ASSERT_EQ(0, vq_kick(&qu->vq));
	EXPECT_EQ(1, vq_wait_err(&qu->vq, VQ_TIMEOUT_MS))
		TH_LOG("%s: the err eventfd did not fire", what);
	hcount_read(_metadata, r, r2, &now);
	EXPECT_EQ(before.errs[0] + 1, now.errs[0]) TH_LOG("%s: vq0-errors", what);
	EXPECT_EQ(1, now.broken[0]) TH_LOG("%s: vq0-broken", what);
	EXPECT_EQ(before.drops[0], now.drops[0]) TH_LOG("%s: vq0 drops", what);
	EXPECT_EQ(used, vq_used_idx(&qu->vq)) TH_LOG("%s: used", what);
	if (s->st)
		EXPECT_EQ(ST_NONE, *s->st) TH_LOG("%s: status written", what);
	if (ro)
		ASSERT_EQ(0, mprotect(ro, VQ_PAGE_SIZE, PROT_READ | PROT_WRITE));

	others_ok(_metadata, r, r2, &before, false, what);

	/* vq0 stays stopped. */
	req_add(_metadata, r, 0, &good, NULL);
	ASSERT_EQ(0, vq_kick(&qu->vq));
	EXPECT_EQ(-ETIMEDOUT, vq_poll_used(&qu->vq, QUIET_MS))
		TH_LOG("%s: vq0 went on", what);
	EXPECT_EQ(used, vq_used_idx(&qu->vq));

	/* Reset as a VMM does: detach, a fresh ring, attach. */
	ASSERT_EQ(0, set_backend(r->fd, -1));
	vq_free(&qu->vq);
	qu->ready = false;
	rig_ring(_metadata, r, 0);
	ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
	ASSERT_EQ(0, vq_broken(r->fd, 0, &now.broken[0]));
	EXPECT_EQ(0, now.broken[0]) TH_LOG("%s: broken after a reset", what);
	snprintf(msg, sizeof(msg), "vq0 reset after %s", what);
	rw_check(_metadata, r, 0, (5 << 20), 1 << 22, msg);
}

/* A slot for chain l: header, readable bytes, writable bytes. */
static struct slot *hostile_slot(struct __test_metadata *_metadata,
				 struct rig *r, const struct rq *q,
				 __u32 rlen, __u32 wlen)
{
	struct slot *s = slot_get(&r->q[0]);

	EXPECT_NE(NULL, s);
	if (s)
		slot_prep(s, q, rlen, wlen);
	return s;
}

#define IN	VIRTIO_BLK_T_IN
#define OUT	VIRTIO_BLK_T_OUT
#define IOERR	VIRTIO_BLK_S_IOERR

/*
 * sector * 512 or sector + length past 2^64: a well-formed request the
 * device must refuse with IOERR, without writing anywhere (a wrapped
 * offset would land at the start of the disk).
 */
TEST_F(hostile, sector_overflow)
{
	static struct virtio_blk_discard_write_zeroes d;
	struct rig *r = &self->r;
	__u32 bs = r->bs, spb = bs / SECTOR;
	unsigned int n = 0;
	struct bad bad[12];

	bad[n++] = mkbad("OUT at 2^64 - 1", OUT, ~0ULL, bs, 0, 0, IOERR);
	bad[n++] = mkbad("IN at 2^64 - 1", IN, ~0ULL, bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT of 2 blocks at 2^64 - a block", OUT,
			 -(__u64)spb, 2 * bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT at 2^55 (byte 0 when wrapped)", OUT, 1ULL << 55,
			 bs, 0, 0, IOERR);
	bad[n++] = mkbad("IN at 2^55 + 128", IN, (1ULL << 55) + 128, bs, 0, 0,
			 IOERR);
	bad[n++] = mkbad("OUT at 2^63", OUT, 1ULL << 63, bs, 0, 0, IOERR);
	bad[n++] = mkbad("OUT at capacity + 2^55", OUT, r->cap + (1ULL << 55),
			 bs, 0, 0, IOERR);
	/* A WRITE_ZEROES segment whose end wraps to sector 0. */
	dwz_seg(&d, -(__u64)spb, 2 * spb, 0);
	bad[n] = mkbad("WRITE_ZEROES wrapping", VIRTIO_BLK_T_WRITE_ZEROES, 0,
		       DWZ_LEN, 0, 0, IOERR);
	bad[n++].out = &d;
	status_level(_metadata, r, &self->r2, bad, n, "sector overflow");
}

/*
 * A chain with no writable byte, or whose only writable descriptor is
 * empty: nowhere to put the status, the queue stops.
 */
TEST_F(hostile, status_missing)
{
	struct rig *r = &self->r;
	struct rq out = rw_rq(OUT, 0, r->bs);
	struct rq flush = { .type = VIRTIO_BLK_T_FLUSH };
	struct layout l = { .nout = 0 };
	struct slot *s;

	s = hostile_slot(_metadata, r, &out, HDR_LEN + r->bs, 0);
	ASSERT_NE(NULL, s);
	lay_add(&l, slot_hdr_gpa(s), HDR_LEN + r->bs, false);
	ring_breaks(_metadata, r, &self->r2, s, &l, NULL,
		    "OUT with nothing writable");

	s = hostile_slot(_metadata, r, &flush, HDR_LEN, 1);
	ASSERT_NE(NULL, s);
	memset(&l, 0, sizeof(l));
	lay_add(&l, slot_hdr_gpa(s), HDR_LEN, false);
	lay_add(&l, slot_hdr_gpa(s) + HDR_LEN, 0, true);
	ring_breaks(_metadata, r, &self->r2, s, &l, NULL,
		    "FLUSH whose writable descriptor is empty");
}

/*
 * The status byte read-only: in a descriptor without VRING_DESC_F_WRITE
 * (so the chain has no status byte, found when it is parsed), or in guest
 * memory the VMM mapped read-only (found only when the request completes,
 * after an OUT's data reached the backend).  Either way the request cannot
 * be completed and the queue stops.
 */
TEST_F(hostile, status_read_only)
{
	struct rig *r = &self->r;
	static const __u32 types[] = { OUT, IN };
	__u32 len = 4096, cuts[2] = { HDR_LEN, HDR_LEN + len }, rlen, wlen;
	struct rq q = rw_rq(OUT, 64 << 10, len);
	struct layout l = { .nout = 0 };
	unsigned int i;
	struct slot *s;
	void *page;

	s = hostile_slot(_metadata, r, &q, HDR_LEN + len + 1, 0);
	ASSERT_NE(NULL, s);
	lay_add(&l, slot_hdr_gpa(s), HDR_LEN, false);
	lay_add(&l, slot_hdr_gpa(s) + HDR_LEN, len, false);
	lay_add(&l, slot_hdr_gpa(s) + HDR_LEN + len, 1, false);
	ring_breaks(_metadata, r, &self->r2, s, &l, NULL,
		    "OUT whose status descriptor is read-only");

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		q.type = types[i];
		natural(&q, &rlen, &wlen);
		s = hostile_slot(_metadata, r, &q, rlen, wlen);
		ASSERT_NE(NULL, s);
		if (q.type == OUT)
			pattern(slot_data(s), q.sector * SECTOR, len, 77);
		/* The status byte has a page of its own, after the data. */
		page = slot_data(s) + len;
		ASSERT_EQ(s->st, (__u8 *)page);
		layout_cut(&l, slot_hdr_gpa(s), rlen, wlen, cuts, 2);
		ASSERT_EQ(0, mprotect(page, VQ_PAGE_SIZE, PROT_READ));
		ring_breaks(_metadata, r, &self->r2, s, &l, page,
			    q.type == OUT ?
			    "OUT, status byte in read-only guest memory" :
			    "IN, status byte in read-only guest memory");
	}
}

/*
 * An IN whose data buffer is in guest memory the VMM mapped read-only:
 * the backend cannot reach it, on any path (bios on the pinned guest
 * pages, or a kiocb copying into them).  A guest fault: the queue stops.
 */
TEST_F(hostile, data_read_only)
{
	struct rig *r = &self->r;
	__u32 len = 4096, cuts[2] = { HDR_LEN, HDR_LEN + len }, rlen, wlen;
	struct rq q = rw_rq(IN, 64 << 10, len);
	struct layout l;
	struct slot *s;
	void *page;

	natural(&q, &rlen, &wlen);
	s = hostile_slot(_metadata, r, &q, rlen, wlen);
	ASSERT_NE(NULL, s);
	page = slot_data(s);
	layout_cut(&l, slot_hdr_gpa(s), rlen, wlen, cuts, 2);
	ASSERT_EQ(0, mprotect(page, VQ_PAGE_SIZE, PROT_READ));
	ring_breaks(_metadata, r, &self->r2, s, &l, page,
		    "IN, data in read-only guest memory");
}

/*
 * DISCARD / WRITE_ZEROES segment counts that lie: more segments than
 * max_discard_seg, a payload that is not a whole number of segments, 4096
 * of them in one request, a segment longer than the device allows: each is
 * refused with IOERR and nothing is discarded or zeroed.  A payload
 * descriptor claiming 16 segments that run past the end of guest memory
 * cannot be read: the queue stops.
 */
TEST_F(hostile, discard_count_lies)
{
	static struct virtio_blk_discard_write_zeroes d[DATA_MAX / DWZ_LEN];
	static const struct {
		__u32 len;
		const char *what;
	} lies[] = {
		{ (DWZ_SEG_MAX + 1) * DWZ_LEN, "17 segments, 16 allowed" },
		{ 2 * DWZ_LEN + DWZ_LEN / 2, "2.5 segments" },
		{ DATA_MAX, "4096 segments" },
	};
	static char what[8][64];
	struct rig *r = &self->r;
	__u32 types[2], ntypes = 0, t, i, spb = r->bs / SECTOR, n = 0;
	struct rq q = { .type = VIRTIO_BLK_T_WRITE_ZEROES };
	struct layout l = { .nout = 0 };
	struct bad bad[8];
	struct slot *s;

	if (cfg_has(r, VIRTIO_BLK_F_DISCARD))
		types[ntypes++] = VIRTIO_BLK_T_DISCARD;
	types[ntypes++] = VIRTIO_BLK_T_WRITE_ZEROES;
	/* Valid ranges in the first 128 KiB, which bad_batch checks. */
	for (i = 0; i < ARRAY_SIZE(d); i++)
		dwz_seg(&d[i], (i % 16) * 2 * spb, spb, 0);
	dwz_seg(&d[DWZ_SEG_MAX], 0, spb, 0);
	for (t = 0; t < ntypes; t++) {
		const char *name = types[t] == VIRTIO_BLK_T_DISCARD ?
				   "DISCARD" : "WRITE_ZEROES";

		for (i = 0; i < ARRAY_SIZE(lies); i++) {
			snprintf(what[n], sizeof(what[n]), "%s with %s", name,
				 lies[i].what);
			bad[n] = mkbad(what[n], types[t], 0, lies[i].len, 0, 0,
				       IOERR);
			bad[n++].out = d;
		}
	}
	status_level(_metadata, r, &self->r2, bad, n,
		     "segment counts that lie");

	/* One segment, then fifteen more beyond guest memory. */
	s = hostile_slot(_metadata, r, &q, HDR_LEN, 1);
	ASSERT_NE(NULL, s);
	lay_add(&l, slot_hdr_gpa(s), HDR_LEN, false);
	lay_add(&l, vq_mem_end(&r->mem) - DWZ_LEN, DWZ_SEG_MAX * DWZ_LEN,
		false);
	lay_add(&l, slot_hdr_gpa(s) + HDR_LEN, 1, true);
	ring_breaks(_metadata, r, &self->r2, s, &l, NULL,
		    "WRITE_ZEROES whose segments run off guest memory");
}

#undef IN
#undef OUT
#undef IOERR

/* Backend faults: dm-flakey, fail_make_request, a loop device cleared */

#define DM_PREFIX	"kvhblk-flakey-"
#define FMR_DIR		"/sys/kernel/debug/fail_make_request"

/*
 * Run a tool with its output to /dev/null, for at most ms: its exit
 * status (127: not installed), or -errno (-ETIMEDOUT: killed).
 */
static int run_tool(const char *const argv[], int ms)
{
	long long deadline = vq_now_ms() + ms;
	int status = 0, nul;
	pid_t pid, w;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		/* No udev here: libdevmapper makes the nodes itself. */
		setenv("DM_DISABLE_UDEV", "1", 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (!(w = waitpid(pid, &status, WNOHANG)) && vq_now_ms() < deadline)
		usleep(10000);
	if (!w) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -ETIMEDOUT;
	}
	if (w < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int dm_remove(const char *name)
{
	const char *const argv[] = { "dmsetup", "remove", "--retry", name,
				     NULL };

	return run_tool(argv, 10000);
}

/*
 * Find device-mapper device name: its /dev node into path, 0 or -ENOENT.
 * With name NULL, remove the flakey devices of test processes that were
 * killed instead.
 */
static int dm_find(const char *name, char *path, size_t size)
{
	char p[300], buf[128];
	struct dirent *e;
	int r = -ENOENT, pid;
	DIR *d;

	d = opendir("/sys/block");
	if (!d)
		return -ENOENT;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "dm-", 3))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/dm/name", e->d_name);
		if (attr_read(p, buf, sizeof(buf)))
			continue;
		buf[strcspn(buf, "\n")] = 0;
		if (!name) {
			if (sscanf(buf, DM_PREFIX "%d", &pid) == 1 &&
			    kill(pid, 0) && errno == ESRCH)
				dm_remove(buf);
			continue;
		}
		if (strcmp(buf, name))
			continue;
		snprintf(path, size, "/dev/%s", e->d_name);
		r = wait_node(path, 3000);
		break;
	}
	closedir(d);
	return r;
}

/* What a write must have left on the backend once the fault is over. */
struct wr {
	__u64 off;
	__u32 len;
	__u64 gen;		/* its data: pattern(off, len, gen) */
	__u8 status;		/* ST_NONE: never completed */
};

/*
 * Read the backend directly: a write that completed OK is there; one that
 * failed, or never completed, left the old data or the new, nothing else.
 * The shadow (the old data) is brought up to date.
 */
static void wr_check(struct __test_metadata *_metadata, struct rig *r,
		     const struct wr *w, unsigned int n, const char *what)
{
	unsigned int i, ok = 0, lost = 0;
	__u8 *want;
	bool old;
	int ret;

	want = malloc(DATA_MAX);
	ASSERT_NE(NULL, want);
	for (i = 0; i < n; i++) {
		ASSERT_GE(DATA_MAX, w[i].len);
		pattern(want, w[i].off, w[i].len, w[i].gen);
		ret = be_pread(&r->be, r->bounce, w[i].off, w[i].len);
		ASSERT_EQ(0, ret) TH_LOG("%s: pread: %s", what, strerror(-ret));
		if (w[i].status == VIRTIO_BLK_S_OK) {
			ok++;
			EXPECT_EQ(-1, first_diff(r->bounce, want, w[i].len))
				TH_LOG("%s: OUT at %llu completed OK, not on the backend",
				       what, (unsigned long long)w[i].off);
		} else {
			old = !memcmp(r->bounce, r->shadow + w[i].off,
				      w[i].len);
			lost += old;
			EXPECT_TRUE(old || !memcmp(r->bounce, want, w[i].len))
				TH_LOG("%s: OUT at %llu (%s) left neither the old nor the new data",
				       what, (unsigned long long)w[i].off,
				       status_name(w[i].status));
		}
		memcpy(r->shadow + w[i].off, r->bounce, w[i].len);
	}
	TH_LOG("%s: %u writes, %u OK, %u failed, %u of those not written",
	       what, n, ok, n - ok, lost);
	free(want);
}

FIXTURE(fault) {
	struct rig r;
	char dm[64];		/* our dm-flakey device */
	char fail[128];		/* the make-it-fail we set */
};

FIXTURE_SETUP(fault)
{
	rig_init(&self->r, NULL);
	self->dm[0] = 0;
	self->fail[0] = 0;
}

FIXTURE_TEARDOWN(fault)
{
	/* A loop device of ours still bound: clear it at its last close. */
	if (self->r.be.hold >= 0 && self->r.bk &&
	    self->r.bk->kind == BK_LOOP)
		ioctl(self->r.be.hold, LOOP_CLR_FD, 0);
	if (self->fail[0]) {
		attr_write(self->fail, "make-it-fail", "0");
		attr_write(FMR_DIR, "probability", "0");
		attr_write(FMR_DIR, "interval", "1");
	}
	rig_close_dev(&self->r);
	if (self->dm[0]) {
		if (self->r.be.fd >= 0)
			close(self->r.be.fd);
		self->r.be.fd = -1;
		dm_remove(self->dm);
	}
	rig_teardown(&self->r);
}

/*
 * dm-flakey over null_blk, up 1 s, down 1 s: writes and reads run for at
 * least 1.5 s, until some writes got through and some failed.  Every request completes
 * (within the reap timeout) with OK or IOERR, IOERRs are counted in drops,
 * an IN that completed OK has the right data, and afterwards null_blk,
 * read directly, holds every write that completed OK.
 */
TEST_F_TIMEOUT(fault, dm_flakey, 90)
{
	static const struct bk_cfg cfg = { .kind = BK_NULLB, .bs = 4096,
					   .direct = true, .event_idx = true };
	struct rig *r = &self->r;
	const __u32 len = 4096, wq = 12, rq = 4;
	unsigned int nreg, nw = 0, i, k, in_ok = 0, in_err = 0;
	unsigned int out_ok = 0, out_err = 0;
	struct slot *s[16], *g;
	char table[160], dev[300];
	__u64 before, span;
	long long t0, ms = 0;
	struct wr *w;
	struct rq q;
	int ret, fd;

	r->bk = &cfg;
	dm_find(NULL, NULL, 0);
	be_open(_metadata, &r->be, &cfg);
	snprintf(self->dm, sizeof(self->dm), DM_PREFIX "%d", getpid());
	snprintf(table, sizeof(table), "0 %llu flakey %s 0 1 1",
		 (unsigned long long)r->be.size / SECTOR, r->be.path);
	{
		const char *const argv[] = { "dmsetup", "create", self->dm,
					     "--table", table, NULL };

		ret = run_tool(argv, 10000);
	}
	if (ret) {
		self->dm[0] = 0;
		if (ret == 127)
			SKIP(return, "no dmsetup");
		if (access("/sys/module/dm_flakey", F_OK))
			SKIP(return, "no dm-flakey (scripts/vm -m dm_flakey)");
	}
	ASSERT_EQ(0, ret) TH_LOG("dmsetup create %s --table '%s'", self->dm,
				 table);
	ASSERT_EQ(0, dm_find(self->dm, dev, sizeof(dev)));
	fd = open(dev, O_RDWR | O_CLOEXEC | O_DIRECT);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", dev, strerror(errno));
	/* The device gets the flakey one; be.vfd stays on null_blk. */
	close(r->be.fd);
	r->be.fd = fd;
	rig_dev(_metadata, r, 1);
	/* The first 8 MiB: enough for 3 s of writes at the pace below. */
	span = r->bytes < (8 << 20) ? r->bytes : (8 << 20);
	be_fill(_metadata, r, 0, span, 111);

	nreg = span / len;
	w = calloc(nreg, sizeof(*w));
	ASSERT_NE(NULL, w);
	before = drops(_metadata, r, 0);
	t0 = vq_now_ms();
	while (nw + wq <= nreg && ms < 20000 &&
	       (ms < 1500 || !out_ok || !out_err)) {
		/* Writes to fresh ranges, reads of ranges we know. */
		for (i = 0; i < wq; i++, nw++) {
			w[nw] = (struct wr){ .off = (__u64)nw * len, .len = len,
					     .gen = 1000 + nw };
			pattern(r->bounce, w[nw].off, len, w[nw].gen);
			q = rw_rq(VIRTIO_BLK_T_OUT, w[nw].off, len);
			s[i] = req_add(_metadata, r, 0, &q, r->bounce);
		}
		for (i = 0; i < rq; i++) {
			k = nreg - 1 - (nw * 7 + i * 13) % (nreg - nw);
			q = rw_rq(VIRTIO_BLK_T_IN, (__u64)k * len, len);
			s[wq + i] = req_add(_metadata, r, 0, &q, NULL);
		}
		req_run(_metadata, r, 0);
		for (i = 0; i < wq + rq; i++) {
			g = s[i];
			EXPECT_TRUE(g->status == VIRTIO_BLK_S_OK ||
				    g->status == VIRTIO_BLK_S_IOERR)
				TH_LOG("sector %llu: status %s",
				       (unsigned long long)g->sector,
				       status_name(g->status));
			EXPECT_EQ(g->status || g->type == VIRTIO_BLK_T_OUT ?
				  1 : len + 1, g->used_len);
			if (i < wq) {
				w[nw - wq + i].status = g->status;
				out_ok += !g->status;
				out_err += !!g->status;
				continue;
			}
			in_ok += !g->status;
			in_err += !!g->status;
			/* Never written through the device: the fill. */
			if (!g->status)
				EXPECT_EQ(-1, first_diff(slot_data(g),
							 r->shadow +
							 g->sector * SECTOR,
							 len))
					TH_LOG("IN sector %llu: wrong data",
					       (unsigned long long)g->sector);
		}
		/* At most one batch in 40 ms: fresh ranges last 3 s and more. */
		k = vq_now_ms() - t0 - ms;
		if (k < 40)
			usleep((40 - k) * 1000);
		ms = vq_now_ms() - t0;
	}
	TH_LOG("%lld ms: OUT %u OK %u IOERR, IN %u OK %u IOERR", ms, out_ok,
	       out_err, in_ok, in_err);
	EXPECT_LT(0, out_ok) TH_LOG("no write got through");
	EXPECT_LT(0, out_err) TH_LOG("no write failed: never down?");
	EXPECT_EQ(before + out_err + in_err, drops(_metadata, r, 0));
	wr_check(_metadata, r, w, nw, "dm-flakey");
	/* The rest of the disk is untouched. */
	be_expect_shadow(_metadata, r, (__u64)nw * len, span - (__u64)nw * len,
			 "past the writes");
	free(w);
}

/*
 * fail_make_request on the null_blk disk, every third bio failing: the
 * requests whose bio failed complete with IOERR, the others are fine; a
 * failed write left the old data, a completed one the new, and reads see
 * exactly that.  Only where the kernel has CONFIG_FAIL_MAKE_REQUEST.
 */
TEST_F_TIMEOUT(fault, fail_make_request, 60)
{
	static const struct bk_cfg cfg = { .kind = BK_NULLB, .bs = 4096,
					   .direct = true, .event_idx = true };
	struct rig *r = &self->r;
	const unsigned int n = 24;
	const __u32 len = 16384;
	unsigned int i, out_err = 0, in_err = 0;
	struct slot *so[24], *si[24];
	struct wr w[24];
	__u64 before;
	__u8 *want;
	struct rq q;
	int ret;

	if (access(FMR_DIR, F_OK))
		SKIP(return, "no %s (CONFIG_FAIL_MAKE_REQUEST)", FMR_DIR);
	r->bk = &cfg;
	be_open(_metadata, &r->be, &cfg);
	rig_dev(_metadata, r, 1);
	be_fill(_metadata, r, 0, n * 2 * len, 121);
	want = malloc(len);
	ASSERT_NE(NULL, want);
	snprintf(self->fail, sizeof(self->fail), "/sys/block/%s",
		 strrchr(r->be.path, '/') + 1);
	ret = attr_write(FMR_DIR, "verbose", "0");
	if (!ret)
		ret = attr_write(FMR_DIR, "times", "-1");
	if (!ret)
		ret = attr_write(FMR_DIR, "space", "0");
	if (!ret)
		ret = attr_write(FMR_DIR, "interval", "3");
	if (!ret)
		ret = attr_write(FMR_DIR, "probability", "100");
	if (!ret)
		ret = attr_write(self->fail, "make-it-fail", "1");
	ASSERT_EQ(0, ret) TH_LOG("setting up %s: %s", FMR_DIR, strerror(-ret));
	before = drops(_metadata, r, 0);

	for (i = 0; i < n; i++) {
		w[i] = (struct wr){ .off = (__u64)i * 2 * len, .len = len,
				    .gen = 2000 + i };
		pattern(r->bounce, w[i].off, len, w[i].gen);
		q = rw_rq(VIRTIO_BLK_T_OUT, w[i].off, len);
		q.indirect = true;
		so[i] = req_add(_metadata, r, 0, &q, r->bounce);
	}
	req_run(_metadata, r, 0);
	for (i = 0; i < n; i++) {
		w[i].status = so[i]->status;
		out_err += !!so[i]->status;
		EXPECT_TRUE(!so[i]->status ||
			    so[i]->status == VIRTIO_BLK_S_IOERR)
			TH_LOG("OUT %u: %s", i, status_name(so[i]->status));
	}
	for (i = 0; i < n; i++) {
		q = rw_rq(VIRTIO_BLK_T_IN, w[i].off, len);
		q.indirect = true;
		si[i] = req_add(_metadata, r, 0, &q, NULL);
	}
	req_run(_metadata, r, 0);
	for (i = 0; i < n; i++) {
		in_err += !!si[i]->status;
		if (si[i]->status) {
			req_expect(_metadata, si[i], VIRTIO_BLK_S_IOERR, 1,
				   "IN, failed");
			continue;
		}
		/* A failed bio never reached the disk: the old data. */
		if (w[i].status)
			memcpy(want, r->shadow + w[i].off, len);
		else
			pattern(want, w[i].off, len, w[i].gen);
		EXPECT_EQ(-1, first_diff(slot_data(si[i]), want, len))
			TH_LOG("IN %u after an OUT with %s: wrong data", i,
			       status_name(w[i].status));
	}
	ASSERT_EQ(0, attr_write(self->fail, "make-it-fail", "0"));
	TH_LOG("OUT: %u of %u IOERR, IN: %u of %u IOERR", out_err, n, in_err,
	       n);
	/* One bio in three fails. */
	EXPECT_LT(0, out_err);
	EXPECT_LT(out_err, n);
	EXPECT_LT(0, in_err);
	EXPECT_LT(in_err, n);
	EXPECT_EQ(before + out_err + in_err, drops(_metadata, r, 0));
	wr_check(_metadata, r, w, n, "fail_make_request");
	/* Failed writes are exactly the ones that did not land. */
	for (i = 0; i < n; i++) {
		if (!w[i].status)
			continue;
		pattern(want, w[i].off, len, w[i].gen);
		EXPECT_NE(-1, first_diff(r->shadow + w[i].off, want, len))
			TH_LOG("OUT %u failed but landed", i);
	}
	free(want);
}

/* A loop device over a tmpfs file that stays ours; no autoclear. */
static int loop_backed(struct backend *b, int *backing)
{
	struct loop_config lc;
	int ctl, file, n, fd, r;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return be_why(b, errno == ENOENT ? BE_SKIP : -errno,
			      "no /dev/loop-control (scripts/vm -m loop)");
	file = tmp_file(b, "/tmp", (__u64)BACKEND_MB << 20, 0);
	if (file < 0) {
		close(ctl);
		return file;
	}
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0) {
		close(file);
		return be_why(b, -errno, "LOOP_CTL_GET_FREE");
	}
	snprintf(b->path, sizeof(b->path), "/dev/loop%d", n);
	wait_node(b->path, 3000);
	fd = open(b->path, O_RDWR | O_CLOEXEC);
	memset(&lc, 0, sizeof(lc));
	lc.fd = file;
	r = fd < 0 || ioctl(fd, LOOP_CONFIGURE, &lc) ? -errno : 0;
	if (r) {
		if (fd >= 0)
			close(fd);
		close(file);
		return be_why(b, r, "LOOP_CONFIGURE %s", b->path);
	}
	b->hold = fd;
	*backing = file;
	return 0;
}

/*
 * A ring of requests, OUTs to even zones and INs of odd ones, at shift
 * into each zone; the OUTs' data is generation gen + zone.
 */
static void loop_round(struct __test_metadata *_metadata, struct rig *r,
		       __u32 len, __u64 shift, __u64 gen, struct wr *w)
{
	struct queue *qu = &r->q[0];
	__u64 zone = r->bytes / NUM / r->bs * r->bs;
	unsigned int i;
	struct slot *s;
	struct rq q;

	ASSERT_LE(shift + len, zone);
	qu->recycle = true;
	for (i = 0; i < NUM; i++) {
		q = rw_rq(i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
			  i * zone + shift, len);
		q.indirect = true;
		s = slot_get(qu);
		ASSERT_NE(NULL, s);
		slot_prep(s, &q, i % 2 ? HDR_LEN : HDR_LEN + len,
			  i % 2 ? len + 1 : 1);
		s->off = q.sector * SECTOR;
		if (i % 2) {
			s->check_in = true;
		} else {
			w[i / 2] = (struct wr){ .off = s->off, .len = len,
						.gen = gen + i,
						.status = ST_NONE };
			pattern(slot_data(s), s->off, len, gen + i);
		}
		ASSERT_LE(0, q_build(qu, s, &q));
	}
	ASSERT_EQ(0, vq_kick(&qu->vq));
}

/*
 * What the device wrote back for a round: the OUTs' statuses into w, and
 * an IN that completed OK has the data of the (untouched) odd zone.
 * Returns how many completed.
 */
static unsigned int loop_statuses(struct __test_metadata *_metadata,
				  struct rig *r, struct wr *w,
				  const char *what)
{
	struct queue *qu = &r->q[0];
	unsigned int i, done = 0;
	struct slot *s;

	for (i = 0; i < NUM; i++) {
		s = &qu->slot[i];
		if (*s->st == ST_NONE)
			continue;
		done++;
		EXPECT_TRUE(*s->st == VIRTIO_BLK_S_OK ||
			    *s->st == VIRTIO_BLK_S_IOERR)
			TH_LOG("%s: status %s", what, status_name(*s->st));
		if (!s->check_in) {
			w[i / 2].status = *s->st;
			continue;
		}
		if (*s->st == VIRTIO_BLK_S_OK)
			EXPECT_EQ(-1, first_diff(slot_data(s),
						 r->shadow + s->off, s->dlen))
				TH_LOG("%s: IN at %llu: wrong data", what,
				       (unsigned long long)s->off);
	}
	return done;
}

/*
 * LOOP_CLR_FD on the loop device under the device while it is open and a
 * ring of requests is in flight: 6.1 defers the clear to the last close.
 * Requests complete OK with the right data or with IOERR, more I/O goes
 * on; then the device, as the last opener, is closed with a ring in
 * flight: close returns in bounded time, the loop device is cleared, and
 * the backing file holds every write that completed OK.
 */
TEST_F_TIMEOUT(fault, loop_cleared_inflight, 60)
{
	static const struct bk_cfg cfg = { .kind = BK_LOOP, .direct = true,
					   .event_idx = true };
	struct rig *r = &self->r;
	struct queue *qu = &r->q[0];
	char sys[128], buf[192];
	struct wr w[2][NUM / 2];
	const __u32 len = 16 << 10;
	long long t0, ms;
	unsigned int done;
	__u64 size = 1;
	int ret, backing = -1;
	struct slot *s;

	r->bk = &cfg;
	be_init(&r->be);
	r->be.cfg = &cfg;
	ret = loop_backed(&r->be, &backing);
	if (ret == BE_SKIP)
		SKIP(return, "%s", r->be.why);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", r->be.why, strerror(-ret));
	r->be.fd = open(r->be.path, O_RDWR | O_CLOEXEC | O_DIRECT);
	ASSERT_LE(0, r->be.fd) TH_LOG("open %s: %s", r->be.path,
				      strerror(errno));
	ASSERT_EQ(0, be_geometry(&r->be));
	/* The tests read and write the backing file itself. */
	r->be.vfd = backing;
	rig_dev(_metadata, r, 1);
	be_fill(_metadata, r, 0, r->bytes, 141);
	snprintf(sys, sizeof(sys), "/sys/block/%s",
		 strrchr(r->be.path, '/') + 1);

	loop_round(_metadata, r, len, 0, 3000, w[0]);
	ASSERT_EQ(0, ioctl(r->be.hold, LOOP_CLR_FD, 0))
		TH_LOG("LOOP_CLR_FD: %s", strerror(errno));
	/* Still bound: the device and the tests hold it open. */
	snprintf(buf, sizeof(buf), "%s/loop/backing_file", sys);
	EXPECT_EQ(0, access(buf, F_OK)) TH_LOG("cleared while open");
	while (qu->inflight) {
		s = q_reap(qu, VQ_TIMEOUT_MS);
		ASSERT_NE(NULL, s) TH_LOG("%s", qu->msg);
	}
	done = loop_statuses(_metadata, r, w[0], "after LOOP_CLR_FD");
	EXPECT_EQ(NUM, done);

	/* The device is the last opener; close it with a ring in flight. */
	close(r->be.fd);
	close(r->be.hold);
	r->be.fd = -1;
	r->be.hold = -1;
	loop_round(_metadata, r, len, len, 4000, w[1]);
	/* Once the device is at it: the rest is in flight, or on the ring. */
	EXPECT_EQ(0, vq_poll_used(&qu->vq, VQ_TIMEOUT_MS));
	t0 = vq_now_ms();
	EXPECT_EQ(0, close(r->fd));
	r->fd = -1;
	ms = vq_now_ms() - t0;
	EXPECT_GT(TEARDOWN_MS, ms) TH_LOG("close took %lld ms", ms);
	done = loop_statuses(_metadata, r, w[1], "closed");
	EXPECT_LT(0, done);
	TH_LOG("%u of %u requests completed by close, in %lld ms", done, NUM,
	       ms);

	/* Cleared: no backing file, no size. */
	snprintf(buf, sizeof(buf), "%s/loop", sys);
	t0 = vq_now_ms();
	while ((!access(buf, F_OK) || size) && vq_now_ms() - t0 < 5000) {
		usleep(10000);
		snprintf(buf, sizeof(buf), "%s/size", sys);
		if (attr_read_u64(buf, &size))
			size = 0;
		snprintf(buf, sizeof(buf), "%s/loop", sys);
	}
	EXPECT_NE(0, access(buf, F_OK)) TH_LOG("%s still bound", r->be.path);
	EXPECT_EQ(0, size) TH_LOG("%s: size %llu", r->be.path,
				  (unsigned long long)size);

	wr_check(_metadata, r, w[0], NUM / 2, "cleared under I/O");
	wr_check(_metadata, r, w[1], NUM / 2, "closed under I/O");
	be_expect_shadow(_metadata, r, 0, r->bytes, "the backing file");
}

/* The ioctls */

FIXTURE(abi) {
	struct rig r;
};

static const struct bk_cfg abi_file = { .kind = BK_FILE };

FIXTURE_SETUP(abi)
{
	rig_init(&self->r, &abi_file);
	be_open(_metadata, &self->r.be, &abi_file);
	rig_open(_metadata, &self->r);
}

FIXTURE_TEARDOWN(abi)
{
	rig_teardown(&self->r);
}

static int file_of_size(__u64 size)
{
	char path[] = "/tmp/kvhost-blk-abi-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int closed_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 1000);

	close(fd);
	return fd;
}

TEST_F(abi, features)
{
	__u64 f = 0, one;

	ASSERT_EQ(0, vq_get_features(self->r.fd, &f));
	EXPECT_EQ(KVH_TEST_BLK_FEATURES, f);
	ASSERT_EQ(0, vq_ioctl(self->r.fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, vq_ioctl(self->r.fd, VHOST_SET_FEATURES, &f));
	one = f | FBIT(VIRTIO_BLK_F_SIZE_MAX);
	EXPECT_EQ(-EOPNOTSUPP, vq_ioctl(self->r.fd, VHOST_SET_FEATURES, &one));
	one = f | FBIT(VIRTIO_BLK_F_CONFIG_WCE);
	EXPECT_EQ(-EOPNOTSUPP, vq_ioctl(self->r.fd, VHOST_SET_FEATURES, &one));
}

TEST_F(abi, max_queues_param)
{
	__u64 v = 0;
	int ret;

	ret = max_queues(&v);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", MAX_QUEUES_PARAM, strerror(-ret));
	EXPECT_LE(1, v);
	EXPECT_GE(16, v);
	ASSERT_EQ(0, vq_ioctl(self->r.fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-EINVAL, set_num_queues(self->r.fd, v + 1));
	EXPECT_EQ(0, set_num_queues(self->r.fd, v));
}

/* Every kvhost-blk ioctl wants the owner: before SET_OWNER, EPERM. */
static void expect_eperm_all(struct __test_metadata *_metadata, int dev,
			     int backend)
{
	struct kvhost_blk_config c;

	EXPECT_EQ(-EPERM, set_backend(dev, backend));
	EXPECT_EQ(-EPERM, set_backend(dev, -1));
	EXPECT_EQ(-EPERM, set_num_queues(dev, 2));
	EXPECT_EQ(-EPERM, get_config(dev, &c));
	EXPECT_EQ(-EPERM, set_serial(dev, "x", 1));
}

TEST_F(abi, before_owner_eperm)
{
	expect_eperm_all(_metadata, self->r.fd, self->r.be.fd);
}

/* A child of the owner gets EPERM for each, and changes nothing. */
TEST_F(abi, not_owner_eperm)
{
	struct rig *r = &self->r;
	struct kvhost_blk_config c;
	int status = -1, bits;
	pid_t pid;

	rig_own(_metadata, r, 1);
	rig_rings(_metadata, r);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		bits = (set_backend(r->fd, r->be.fd) != -EPERM) |
		       (set_backend(r->fd, -1) != -EPERM) << 1 |
		       (set_num_queues(r->fd, 2) != -EPERM) << 2 |
		       (get_config(r->fd, &c) != -EPERM) << 3 |
		       (set_serial(r->fd, "x", 1) != -EPERM) << 4;
		_exit(bits);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("not EPERM: mask 0x%x (backend, detach, queues, config, serial)",
		       WEXITSTATUS(status));
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c)) TH_LOG("the child attached");
}

TEST_F(abi, bad_pointer_efault)
{
	struct rig *r = &self->r;
	void *bad = mmap(NULL, VQ_PAGE_SIZE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, bad);
	rig_own(_metadata, r, 1);
	rig_rings(_metadata, r);
	EXPECT_EQ(-EFAULT, vq_ioctl(r->fd, KVHOST_BLK_SET_BACKEND, bad));
	EXPECT_EQ(-EFAULT, vq_ioctl(r->fd, KVHOST_BLK_SET_NUM_QUEUES, bad));
	EXPECT_EQ(-EFAULT, vq_ioctl(r->fd, KVHOST_BLK_SET_SERIAL, bad));
	ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
	EXPECT_EQ(-EFAULT, vq_ioctl(r->fd, KVHOST_BLK_GET_CONFIG, bad));
	EXPECT_EQ(-EFAULT, vq_ioctl(r->fd, KVHOST_BLK_GET_CONFIG, NULL));
	munmap(bad, VQ_PAGE_SIZE);
}

TEST_F(abi, reserved_einval)
{
	struct rig *r = &self->r;
	struct kvhost_blk_backend b;
	struct kvhost_blk_queues q = { .num = 1, .reserved = 1 };
	struct kvhost_blk_serial s = { .reserved = 0x80000000 };
	struct kvhost_blk_config c;
	unsigned int i;

	rig_own(_metadata, r, 1);
	EXPECT_EQ(-EINVAL, vq_ioctl(r->fd, KVHOST_BLK_SET_NUM_QUEUES, &q));
	EXPECT_EQ(-EINVAL, vq_ioctl(r->fd, KVHOST_BLK_SET_SERIAL, &s));
	rig_rings(_metadata, r);
	for (i = 0; i < ARRAY_SIZE(b.reserved); i++) {
		memset(&b, 0, sizeof(b));
		b.fd = r->be.fd;
		b.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, vq_ioctl(r->fd, KVHOST_BLK_SET_BACKEND, &b))
			TH_LOG("reserved[%u]", i);
		b.fd = -1;
		EXPECT_EQ(-EINVAL, vq_ioctl(r->fd, KVHOST_BLK_SET_BACKEND, &b))
			TH_LOG("detach, reserved[%u]", i);
	}
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c));
}

TEST_F(abi, num_queues_range)
{
	struct rig *r = &self->r;
	struct vhost_vring_state st = { .num = NUM };
	__u64 maxq = 0;
	__u32 n;

	ASSERT_EQ(0, max_queues(&maxq));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-EINVAL, set_num_queues(r->fd, 0));
	EXPECT_EQ(-EINVAL, set_num_queues(r->fd, maxq + 1));
	EXPECT_EQ(-EINVAL, set_num_queues(r->fd, 0xffffffff));
	/* Any number of times, as long as no vring is configured. */
	for (n = maxq; n >= 1; n--)
		EXPECT_EQ(0, set_num_queues(r->fd, n)) TH_LOG("%u", n);
	EXPECT_EQ(0, set_num_queues(r->fd, 2));
	st.index = 2;
	EXPECT_EQ(-ENOBUFS, vq_ioctl(r->fd, VHOST_SET_VRING_NUM, &st));
	st.index = 1;
	EXPECT_EQ(0, vq_ioctl(r->fd, VHOST_SET_VRING_NUM, &st));
}

/* Once a vring is configured or a backend attached: EBUSY, for good. */
TEST_F(abi, num_queues_ebusy)
{
	struct rig *r = &self->r;
	struct vhost_vring_state st = { .index = 0, .num = NUM };
	struct rig r2;
	int dev, efd;

	/* SET_VRING_NUM */
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_VRING_NUM, &st));
	EXPECT_EQ(-EBUSY, set_num_queues(r->fd, 2));
	EXPECT_EQ(-EBUSY, set_num_queues(r->fd, 1));

	/* SET_VRING_ADDR alone */
	rig_init(&r2, &abi_file);
	rig_open(_metadata, &r2);
	rig_own(_metadata, &r2, 1);
	ASSERT_EQ(0, vq_init(&r2.q[0].vq, r2.fd, 0, NUM, &r2.mem));
	r2.q[0].ready = true;
	ASSERT_EQ(0, vq_set_addr(&r2.q[0].vq, false, 0));
	EXPECT_EQ(-EBUSY, set_num_queues(r2.fd, 2));
	rig_close_dev(&r2);

	/* A backend, and after its detach */
	rig_init(&r2, &abi_file);
	rig_open(_metadata, &r2);
	rig_own(_metadata, &r2, 2);
	rig_rings(_metadata, &r2);
	ASSERT_EQ(0, set_backend(r2.fd, r->be.fd));
	EXPECT_EQ(-EBUSY, set_num_queues(r2.fd, 1));
	ASSERT_EQ(0, set_backend(r2.fd, -1));
	EXPECT_EQ(-EBUSY, set_num_queues(r2.fd, 1));
	rig_close_dev(&r2);

	/* Nothing else counts: a fresh device with kick/call set is fine. */
	dev = open(KVH_BLK, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	efd = vq_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vq_ioctl(dev, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_set_file(dev, VHOST_SET_VRING_KICK, 0, efd));
	ASSERT_EQ(0, vq_set_file(dev, VHOST_SET_VRING_CALL, 0, efd));
	EXPECT_EQ(0, set_num_queues(dev, 2));
	close(dev);
	close(efd);
}

static const unsigned long vring_ioctls[] = {
	VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE,
	VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL,
	VHOST_SET_VRING_ERR,
};

static const char *const vring_ioctl_names[] = {
	"NUM", "BASE", "GET_BASE", "ADDR", "KICK", "CALL", "ERR",
};

/* Vring ioctl on index idx with a harmless argument: its return. */
static int vring_ioctl(int dev, unsigned int which, __u32 idx)
{
	struct vhost_vring_addr a = { .index = idx };
	struct vhost_vring_state s = { .index = idx, .num = NUM };
	struct vhost_vring_file f = { .index = idx, .fd = -1 };

	switch (vring_ioctls[which]) {
	case VHOST_SET_VRING_NUM:
		return vq_ioctl(dev, VHOST_SET_VRING_NUM, &s);
	case VHOST_SET_VRING_BASE:
		s.num = 0;
		return vq_ioctl(dev, VHOST_SET_VRING_BASE, &s);
	case VHOST_GET_VRING_BASE:
		return vq_ioctl(dev, VHOST_GET_VRING_BASE, &s);
	case VHOST_SET_VRING_ADDR:
		return vq_ioctl(dev, VHOST_SET_VRING_ADDR, &a);
	default:
		return vq_ioctl(dev, vring_ioctls[which], &f);
	}
}

TEST_F(abi, vring_index_enobufs)
{
	struct rig *r = &self->r;
	__u64 maxq = 0;
	unsigned int i;
	int dev;

	ASSERT_EQ(0, max_queues(&maxq));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	/* One queue by default. */
	for (i = 0; i < ARRAY_SIZE(vring_ioctls); i++) {
		EXPECT_EQ(-ENOBUFS, vring_ioctl(r->fd, i, 1))
			TH_LOG("%s, index 1", vring_ioctl_names[i]);
		EXPECT_EQ(-ENOBUFS, vring_ioctl(r->fd, i, 0xffffffff))
			TH_LOG("%s, index ~0", vring_ioctl_names[i]);
		EXPECT_EQ(0, vring_ioctl(r->fd, i, 0))
			TH_LOG("%s, index 0", vring_ioctl_names[i]);
	}
	/* max_queues of them: the last is maxq - 1. */
	dev = open(KVH_BLK, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, vq_ioctl(dev, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, set_num_queues(dev, maxq));
	for (i = 0; i < ARRAY_SIZE(vring_ioctls); i++) {
		EXPECT_EQ(-ENOBUFS, vring_ioctl(dev, i, maxq))
			TH_LOG("%s, index %llu", vring_ioctl_names[i],
			       (unsigned long long)maxq);
		EXPECT_EQ(0, vring_ioctl(dev, i, maxq - 1))
			TH_LOG("%s, index %llu", vring_ioctl_names[i],
			       (unsigned long long)maxq - 1);
	}
	close(dev);
}

/* Neither a block device nor a regular file of a block or more: EINVAL. */
TEST_F(abi, backend_einval)
{
	struct rig *r = &self->r;
	struct kvhost_blk_config c;
	int fds[10], p[2], sv[2], n = 0, i, ret;
	static const char *const names[] = {
		"pipe (read end)", "pipe (write end)", "eventfd",
		"socket", "/dev/null", "a directory", "the kvhost device",
		"an empty file", "a 511-byte file",
	};

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	fds[n++] = p[0];
	fds[n++] = p[1];
	fds[n++] = eventfd(0, EFD_CLOEXEC);
	fds[n++] = sv[0];
	fds[n++] = open("/dev/null", O_RDWR | O_CLOEXEC);
	fds[n++] = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fds[n++] = r->fd;
	fds[n++] = file_of_size(0);
	fds[n++] = file_of_size(511);
	rig_own(_metadata, r, 1);
	rig_rings(_metadata, r);
	for (i = 0; i < n; i++) {
		ASSERT_LE(0, fds[i]) TH_LOG("%s", names[i]);
		ret = set_backend(r->fd, fds[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("%s: %s", names[i],
					       strerror(-ret));
		EXPECT_EQ(-ENXIO, get_config(r->fd, &c)) TH_LOG("%s", names[i]);
	}
	/* And then a good one. */
	EXPECT_EQ(0, set_backend(r->fd, r->be.fd));
	for (i = 0; i < n; i++)
		if (fds[i] != r->fd)
			close(fds[i]);
	close(sv[1]);
}

TEST_F(abi, backend_ebadf)
{
	struct rig *r = &self->r;
	struct kvhost_blk_config c;

	rig_own(_metadata, r, 1);
	rig_rings(_metadata, r);
	EXPECT_EQ(-EBADF, set_backend(r->fd, closed_fd()));
	EXPECT_EQ(-EBADF, set_backend(r->fd, -2));
	EXPECT_EQ(-EBADF, set_backend(r->fd, INT_MIN));
	EXPECT_EQ(-EBADF, set_backend(r->fd, INT_MAX));
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c));
}

/* Every queue's vring must be set up, and accessible: EFAULT. */
TEST_F(abi, backend_rings_efault)
{
	struct rig *r = &self->r;
	struct kvhost_blk_config c;
	struct vring_used *saved;
	struct vq *vq1;

	rig_own(_metadata, r, 2);
	EXPECT_EQ(-EFAULT, set_backend(r->fd, r->be.fd)) TH_LOG("no rings");
	rig_ring(_metadata, r, 0);
	EXPECT_EQ(-EFAULT, set_backend(r->fd, r->be.fd)) TH_LOG("vq1 unset");
	/* vq1: a size, no addresses */
	ASSERT_EQ(0, vq_init(&r->q[1].vq, r->fd, 1, NUM, &r->mem));
	r->q[1].ready = true;
	vq1 = &r->q[1].vq;
	ASSERT_EQ(0, vq_set_num(vq1));
	EXPECT_EQ(-EFAULT, set_backend(r->fd, r->be.fd)) TH_LOG("no address");
	/* vq1: a used ring in the kernel */
	saved = vq1->used;
	vq1->used = (void *)KERNEL_UADDR;
	ASSERT_EQ(0, vq_set_addr(vq1, false, 0));
	vq1->used = saved;
	EXPECT_EQ(-EFAULT, set_backend(r->fd, r->be.fd))
		TH_LOG("inaccessible used ring");
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c));
	/* Failed attaches left nothing running: vq0 takes SET_VRING_NUM. */
	EXPECT_EQ(0, vq_set_num(&r->q[0].vq));
	ASSERT_EQ(0, vq_set_addr(vq1, false, 0));
	EXPECT_EQ(0, set_backend(r->fd, r->be.fd));
	EXPECT_EQ(0, get_config(r->fd, &c));
	EXPECT_EQ(2, le16toh(c.num_queues));
}

TEST_F(abi, backend_attach_detach)
{
	struct rig *r = &self->r;
	struct kvhost_blk_config c;
	int other = file_of_size(1 << 20), dev;

	ASSERT_LE(0, other);
	/* Nothing attached, nothing set up: detaching is fine. */
	dev = open(KVH_BLK, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, vq_ioctl(dev, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, set_backend(dev, -1));
	close(dev);
	rig_own(_metadata, r, 1);
	EXPECT_EQ(0, set_backend(r->fd, -1));
	rig_rings(_metadata, r);
	EXPECT_EQ(0, set_backend(r->fd, -1));

	EXPECT_EQ(0, set_backend(r->fd, r->be.fd));
	EXPECT_EQ(-EBUSY, set_backend(r->fd, r->be.fd));
	EXPECT_EQ(-EBUSY, set_backend(r->fd, other));
	ASSERT_EQ(0, get_config(r->fd, &c));
	EXPECT_EQ((BACKEND_MB << 20) / SECTOR, le64toh(c.capacity));
	EXPECT_EQ(0, set_backend(r->fd, -1));
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c));
	EXPECT_EQ(0, set_backend(r->fd, -1));
	EXPECT_EQ(0, set_backend(r->fd, other));
	/* The device holds its own reference. */
	close(other);
	ASSERT_EQ(0, get_config(r->fd, &c));
	EXPECT_EQ((1 << 20) / SECTOR, le64toh(c.capacity));
	EXPECT_EQ(0, set_backend(r->fd, -1));
}

/* capacity is the size in 512-byte sectors, rounded down. */
TEST_F(abi, capacity_rounding)
{
	static const __u64 sizes[] = { 512, 1000, 4096 + 700, 1 << 20 };
	struct rig *r = &self->r;
	struct kvhost_blk_config c;
	unsigned int i;
	int fd;

	rig_own(_metadata, r, 1);
	rig_rings(_metadata, r);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		fd = file_of_size(sizes[i]);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, set_backend(r->fd, fd));
		close(fd);
		ASSERT_EQ(0, get_config(r->fd, &c));
		EXPECT_EQ(sizes[i] / SECTOR, le64toh(c.capacity))
			TH_LOG("%llu bytes", (unsigned long long)sizes[i]);
		EXPECT_EQ(SECTOR, le32toh(c.blk_size));
		ASSERT_EQ(0, set_backend(r->fd, -1));
	}
}

/* The serial set before the backend is the one GET_ID answers. */
TEST_F(abi, serial_before_backend)
{
	struct rig *r = &self->r;
	struct rq q = { .type = VIRTIO_BLK_T_GET_ID, .dlen = 20 };
	struct slot *s;

	rig_own(_metadata, r, 1);
	ASSERT_EQ(0, set_serial(r->fd, "0123456789abcdefghij", 20));
	rig_rings(_metadata, r);
	rig_attach(_metadata, r, r->be.fd);
	s = req_do(_metadata, r, 0, &q, NULL);
	req_expect(_metadata, s, VIRTIO_BLK_S_OK, 21, "GET_ID");
	EXPECT_EQ(0, memcmp(slot_data(s), "0123456789abcdefghij", 20));
	/* A new serial applies to the next GET_ID. */
	ASSERT_EQ(0, set_serial(r->fd, "ABC", 3));
	s = req_do(_metadata, r, 0, &q, NULL);
	EXPECT_EQ(0, memcmp(slot_data(s), "ABC\0\0\0", 6));
}

/* RESET_OWNER: detached, and the device is as freshly opened. */
TEST_F(abi, reset_owner)
{
	struct rig *r = &self->r;
	struct kvhost_blk_config c;
	struct vhost_vring_state st = { .index = 1, .num = NUM };

	rig_own(_metadata, r, 3);
	rig_rings(_metadata, r);
	ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_RESET_OWNER, NULL));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(-ENXIO, get_config(r->fd, &c));
	EXPECT_EQ(-ENOBUFS, vq_ioctl(r->fd, VHOST_SET_VRING_NUM, &st))
		TH_LOG("a fresh device has one queue");
	EXPECT_EQ(0, set_num_queues(r->fd, 2));
	EXPECT_EQ(0, vq_ioctl(r->fd, VHOST_SET_VRING_NUM, &st));
}

/*
 * The sequence Documentation/blk.rst gives a VMM.  At start-up, before the
 * guest has set up any queue: placeholder one-entry rings in the VMM's
 * own memory, attach, GET_CONFIG for the guest's configuration space,
 * detach.  At DRIVER_OK: the guest's features, its rings, attach again.
 */
TEST_F(abi, vmm_sequence)
{
	struct rig *r = &self->r;
	struct vhost_vring_state num = { .num = 1 };
	struct vhost_vring_addr addr = { .flags = 0 };
	struct kvhost_blk_config c;
	__u64 guest, offer;
	struct slot *s;
	struct rq q;
	unsigned int i;
	__u8 *dummy;

	rig_own(_metadata, r, 2);
	dummy = mmap(NULL, VQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dummy);
	for (i = 0; i < 2; i++) {
		num.index = i;
		addr.index = i;
		addr.desc_user_addr = vq_mem_hva_to_uaddr(dummy + i * 1024);
		addr.avail_user_addr = addr.desc_user_addr + 256;
		addr.used_user_addr = addr.desc_user_addr + 512;
		ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_VRING_NUM, &num));
		ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_VRING_ADDR, &addr));
	}
	ASSERT_EQ(0, set_backend(r->fd, r->be.fd));
	ASSERT_EQ(0, get_config(r->fd, &c));
	ASSERT_EQ(0, set_backend(r->fd, -1));
	EXPECT_EQ(2, le16toh(c.num_queues));
	EXPECT_EQ((BACKEND_MB << 20) / SECTOR, le64toh(c.capacity));
	/* What the guest is offered: no vhost-only bits. */
	offer = c.features & ~FBIT(VHOST_F_LOG_ALL);
	EXPECT_TRUE(offer & FBIT(VIRTIO_F_VERSION_1));
	EXPECT_TRUE(offer & FBIT(VIRTIO_BLK_F_MQ));
	/* The guest takes some; its rings replace the placeholders. */
	guest = offer & (FBIT(VIRTIO_F_VERSION_1) | FBIT(VIRTIO_BLK_F_MQ) |
			 FBIT(VIRTIO_BLK_F_FLUSH) | FBIT(VIRTIO_BLK_F_SEG_MAX) |
			 FBIT(VIRTIO_BLK_F_BLK_SIZE));
	ASSERT_EQ(0, vq_ioctl(r->fd, VHOST_SET_FEATURES, &guest));
	r->acked = guest;
	rig_rings(_metadata, r);
	rig_attach(_metadata, r, r->be.fd);
	for (i = 0; i < 2; i++) {
		q = rw_rq(VIRTIO_BLK_T_OUT, i * 4096, 4096);
		s = req_do(_metadata, r, i, &q, dummy);
		req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "OUT");
		q.type = VIRTIO_BLK_T_FLUSH;
		q.dlen = 0;
		s = req_do(_metadata, r, i, &q, NULL);
		req_expect(_metadata, s, VIRTIO_BLK_S_OK, 1, "FLUSH");
	}
	munmap(dummy, VQ_PAGE_SIZE);
}

TEST_HARNESS_MAIN
