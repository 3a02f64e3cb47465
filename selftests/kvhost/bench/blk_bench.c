// SPDX-License-Identifier: GPL-2.0
/*
 * blk_bench: one virtio-blk benchmark run, issued the way a guest driver
 * issues it, against one of two backends:
 *
 *   --target kvhost  /dev/kvhost-blk with the device as its backend
 *                    (opened O_RDWR | O_DIRECT);
 *   --target qsd     an unmodified qemu-storage-daemon, started here, with
 *                    a vhost-user-blk export of the device, spoken to over
 *                    its unix socket (vhost_user.c).
 *
 * Both share virtq.c's data path: rings and buffers in memfd-backed guest
 * memory, one 3-descriptor chain (header, data, status) per request, qd
 * requests kept in flight, kicks suppressed as the device asks, and the
 * call eventfd waited on whenever nothing can be submitted and nothing has
 * completed.  After a warm-up, a window of --seconds is measured: requests
 * reaped in it count, with their latency from just before vq_add() to
 * reaping.  The backend's CPU time over the window is the utime + stime of
 * kvhost's worker kthreads ("kvh-<our pid>-<n>") or of the daemon.
 *
 * Prints exactly one JSON line on stdout; everything else goes to stderr.
 * Exit status: 0, 1 if any request failed, 2 on any other failure.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/kvhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "virtq.h"
#include "vhost_user.h"

#define NSEC_PER_SEC		1000000000ULL
#define SECTOR_SHIFT		9
#define MAX_WORKERS		64
#define QSD_START_MS		30000
#define QSD_STOP_MS		5000
/* Where the rings and request headers live, and where the data does. */
#define GPA_META		0x100000ULL
#define GPA_DATA		0x100000000ULL
#define REQ_META_SIZE		32	/* header, then the status byte */
#define STATUS_UNSET		0xff
#define ERRORS_SHOWN		5

enum target { TARGET_KVHOST, TARGET_QSD };
enum rw { RW_RANDREAD, RW_RANDWRITE, RW_READ };

struct opts {
	enum target target;
	const char *target_name;
	const char *dev;
	enum rw rw;
	const char *rw_name;
	unsigned int bs;
	unsigned int qd;
	unsigned int ring;
	double seconds;
	double warmup;
	__u64 seed;
	const char *qsd;	/* the daemon's binary */
	const char *sock;	/* its socket, or NULL for a default */
	const char *aio;	/* io_uring, native, or NULL: io_uring, else native */
	long long poll_max_ns;	/* >= 0: the export runs in an iothread */
	bool event_idx;
	bool verbose;
	unsigned int poll_us;	/* > 0: both sides poll instead of sleeping */
};

struct req {
	struct virtio_blk_outhdr *hdr;
	__u8 *status;
	__u64 *data;
	__u64 hdr_gpa;
	__u64 status_gpa;
	__u64 data_gpa;
	__u64 t_submit;
};

struct bench {
	struct opts o;
	bool regular;		/* the device is a regular file */
	__u64 nblocks;		/* of bs bytes */
	__u64 next_block;	/* sequential */
	__u64 rng;
	__u64 seq;

	struct vq_mem mem;
	struct vq vq;
	bool vq_ready;
	struct req *req;
	unsigned int *free;
	unsigned int nfree;
	unsigned int inflight;

	/* kvhost */
	int dev_fd;
	int backend_fd;
	pid_t worker[MAX_WORKERS];
	unsigned int nworkers;

	/* qsd */
	struct vu_dev vu;
	pid_t daemon;
	char sock[108];
	bool sock_made;

	/* results */
	__u64 *lat;
	size_t nlat;
	size_t lat_cap;
	__u64 ios;
	__u64 errors;
	__u64 kicks;		/* in the window */
	__u64 waits;		/* call eventfd waits, in the window */
	__u64 window_ns;
	__u64 cpu_ticks;
	bool cpu_ok;
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static __u64 round_up(__u64 x, __u64 align)
{
	return (x + align - 1) / align * align;
}

/* xorshift64*: deterministic for a given seed. */
static __u64 rng_next(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void print_help(FILE *f)
{
	fprintf(f,
		"usage: blk_bench --target kvhost|qsd --dev PATH [options]\n"
		"  --rw randread|randwrite|read   (default randread)\n"
		"  --bs BYTES         request size (default 4096)\n"
		"  --qd N             requests in flight (default 1)\n"
		"  --seconds S        measured window (default 5)\n"
		"  --warmup S         before the window (default 1)\n"
		"  --ring N           vring size, >= 3 * qd (default 256)\n"
		"  --seed N           offset generator seed (default 1)\n"
		"  --no-event-idx     do not negotiate VIRTIO_RING_F_EVENT_IDX\n"
		"  --qsd PATH         qemu-storage-daemon binary\n"
		"  --sock PATH        its socket (default /tmp/blk_bench-PID.sock)\n"
		"  --aio io_uring|native  its aio= (default io_uring, else native)\n"
		"  --qsd-poll-max-ns N    run the export in an iothread with this\n"
		"                     poll-max-ns (default: the main loop)\n"
		"  --poll USEC        polling mode: the driver spins on the used\n"
		"                     ring; kvhost's vring gets this busyloop\n"
		"                     timeout, QSD an iothread polling as long\n"
		"  -v, --verbose      setup details on stderr\n");
}

static int parse_uint(const char *s, const char *what, unsigned long long max,
		      unsigned long long *val)
{
	char *end;

	errno = 0;
	*val = strtoull(s, &end, 0);
	if (errno || end == s || *end || *val > max) {
		fprintf(stderr, "blk_bench: bad %s '%s'\n", what, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_secs(const char *s, const char *what, double *val)
{
	char *end;

	errno = 0;
	*val = strtod(s, &end);
	if (errno || end == s || *end || *val < 0 || *val > 86400) {
		fprintf(stderr, "blk_bench: bad %s '%s'\n", what, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "dev", required_argument, NULL, 'd' },
		{ "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "ring", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'S' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "qsd", required_argument, NULL, 'Q' },
		{ "sock", required_argument, NULL, 'U' },
		{ "aio", required_argument, NULL, 'A' },
		{ "qsd-poll-max-ns", required_argument, NULL, 'P' },
		{ "poll", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->target_name = NULL;
	o->rw = RW_RANDREAD;
	o->rw_name = "randread";
	o->bs = 4096;
	o->qd = 1;
	o->ring = 256;
	o->seconds = 5;
	o->warmup = 1;
	o->seed = 1;
	o->qsd = "qemu-storage-daemon";
	o->event_idx = true;
	o->poll_max_ns = -1;

	while ((c = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->target_name = optarg;
			if (!strcmp(optarg, "kvhost")) {
				o->target = TARGET_KVHOST;
			} else if (!strcmp(optarg, "qsd")) {
				o->target = TARGET_QSD;
			} else {
				fprintf(stderr, "blk_bench: unknown target '%s'\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'd':
			o->dev = optarg;
			break;
		case 'r':
			o->rw_name = optarg;
			if (!strcmp(optarg, "randread")) {
				o->rw = RW_RANDREAD;
			} else if (!strcmp(optarg, "randwrite")) {
				o->rw = RW_RANDWRITE;
			} else if (!strcmp(optarg, "read")) {
				o->rw = RW_READ;
			} else {
				fprintf(stderr, "blk_bench: unknown rw '%s'\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'b':
			if (parse_uint(optarg, "bs", 1U << 30, &v))
				return -EINVAL;
			o->bs = v;
			break;
		case 'q':
			if (parse_uint(optarg, "qd", 32768, &v))
				return -EINVAL;
			o->qd = v;
			break;
		case 'n':
			if (parse_uint(optarg, "ring", 32768, &v))
				return -EINVAL;
			o->ring = v;
			break;
		case 'S':
			if (parse_uint(optarg, "seed", ULLONG_MAX, &v))
				return -EINVAL;
			o->seed = v;
			break;
		case 's':
			if (parse_secs(optarg, "seconds", &o->seconds))
				return -EINVAL;
			break;
		case 'w':
			if (parse_secs(optarg, "warmup", &o->warmup))
				return -EINVAL;
			break;
		case 'E':
			o->event_idx = false;
			break;
		case 'Q':
			o->qsd = optarg;
			break;
		case 'U':
			o->sock = optarg;
			break;
		case 'A':
			if (strcmp(optarg, "io_uring") && strcmp(optarg, "native")) {
				fprintf(stderr, "blk_bench: unknown aio '%s'\n",
					optarg);
				return -EINVAL;
			}
			o->aio = optarg;
			break;
		case 'P':
			if (parse_uint(optarg, "poll-max-ns", INT_MAX, &v))
				return -EINVAL;
			o->poll_max_ns = v;
			break;
		case 'L':
			if (parse_uint(optarg, "poll", INT_MAX / 1000, &v) || !v)
				return -EINVAL;
			o->poll_us = v;
			if (o->poll_max_ns < 0)
				o->poll_max_ns = v * 1000LL;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			print_help(stdout);
			exit(0);
		default:
			print_help(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !o->target_name || !o->dev) {
		print_help(stderr);
		return -EINVAL;
	}
	if (!o->bs || o->bs % 512) {
		fprintf(stderr, "blk_bench: --bs must be a multiple of 512\n");
		return -EINVAL;
	}
	if (o->ring < 4 || (o->ring & (o->ring - 1))) {
		fprintf(stderr, "blk_bench: --ring must be a power of 2, >= 4\n");
		return -EINVAL;
	}
	if (!o->qd || o->qd > o->ring / 3) {
		fprintf(stderr,
			"blk_bench: --qd %u needs --ring >= %u (3 descriptors a request)\n",
			o->qd, o->qd * 3);
		return -EINVAL;
	}
	if (o->seconds <= 0) {
		fprintf(stderr, "blk_bench: --seconds must be > 0\n");
		return -EINVAL;
	}
	return 0;
}

/* Size and logical block size of the device; checks bs against them. */
static int probe_dev(struct bench *b)
{
	unsigned int lbs = 512;
	struct stat st;
	__u64 size;
	int fd, r = 0;

	fd = open(b->o.dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		fprintf(stderr, "blk_bench: %s: %s\n", b->o.dev, strerror(-r));
		return r;
	}
	if (fstat(fd, &st)) {
		r = -errno;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) ||
		    ioctl(fd, BLKSSZGET, &lbs))
			r = -errno;
	} else if (S_ISREG(st.st_mode)) {
		b->regular = true;
		size = st.st_size;
	} else {
		r = -ENOTBLK;
	}
	close(fd);
	if (r) {
		fprintf(stderr, "blk_bench: %s: %s\n", b->o.dev, strerror(-r));
		return r;
	}
	if (b->o.bs % lbs) {
		fprintf(stderr,
			"blk_bench: --bs %u is not a multiple of %s's %u-byte blocks\n",
			b->o.bs, b->o.dev, lbs);
		return -EINVAL;
	}
	b->nblocks = size / b->o.bs;
	if (!b->nblocks) {
		fprintf(stderr, "blk_bench: %s is smaller than --bs\n",
			b->o.dev);
		return -EINVAL;
	}
	if (b->o.verbose)
		fprintf(stderr, "blk_bench: %s: %llu bytes, %u-byte blocks\n",
			b->o.dev, (unsigned long long)size, lbs);
	return 0;
}

/*
 * Two regions of one memfd: the rings and the request headers at
 * GPA_META, the data buffers at GPA_DATA (so the second one sits at a
 * non-zero offset of the memfd, as guest RAM above 4 GiB would).
 */
static int setup_mem(struct bench *b)
{
	const __u64 page = VQ_PAGE_SIZE;
	unsigned int num = b->o.ring, qd = b->o.qd, i, k;
	__u64 meta, data, bs = b->o.bs;
	struct req *rq;
	int r;

	meta = round_up(sizeof(struct vring_desc) * num, page) +
	       round_up(sizeof(__u16) * (3 + num), page) +
	       round_up(sizeof(__u16) * 3 +
			sizeof(struct vring_used_elem) * num, page) +
	       round_up((__u64)REQ_META_SIZE * qd, page);
	data = round_up(bs, page) * qd;

	r = vq_mem_init(&b->mem);
	if (!r)
		r = vq_mem_add(&b->mem, GPA_META, meta);
	if (r >= 0)
		r = vq_mem_add(&b->mem, GPA_DATA, data);
	if (r < 0)
		goto err;
	r = vq_init(&b->vq, -1, 0, num, &b->mem);
	if (r)
		goto err;
	b->vq_ready = true;

	b->req = calloc(qd, sizeof(*b->req));
	b->free = calloc(qd, sizeof(*b->free));
	if (!b->req || !b->free) {
		r = -ENOMEM;
		goto err;
	}
	/* Every header first: they fill the first region, data the second. */
	for (i = 0; i < qd; i++)
		b->req[i].hdr_gpa = vq_mem_alloc(&b->mem, REQ_META_SIZE, 16);
	for (i = 0; i < qd; i++) {
		rq = &b->req[i];
		rq->data_gpa = vq_mem_alloc(&b->mem, bs, page);
		if (rq->hdr_gpa == VQ_BAD_GPA || rq->data_gpa == VQ_BAD_GPA) {
			r = -ENOMEM;
			goto err;
		}
		rq->status_gpa = rq->hdr_gpa + sizeof(*rq->hdr);
		rq->hdr = vq_mem_hva(&b->mem, rq->hdr_gpa, REQ_META_SIZE);
		rq->status = (__u8 *)rq->hdr + sizeof(*rq->hdr);
		rq->data = vq_mem_hva(&b->mem, rq->data_gpa, bs);
		/* The write pattern: slot and word index, never zero. */
		for (k = 0; k < bs / sizeof(__u64); k++)
			rq->data[k] = 0xb10cbe4c00000000ULL ^
				      ((__u64)i << 20) ^ k;
		b->free[b->nfree++] = i;
	}
	return 0;
err:
	fprintf(stderr, "blk_bench: guest memory: %s\n", strerror(-r));
	return r;
}

/* kvhost's worker kthreads for this process: "kvh-<tgid>-<n>". */
static void find_workers(struct bench *b)
{
	int n = vq_workers(getpid(), false, b->worker, MAX_WORKERS);

	b->nworkers = n > 0 ? n : 0;
	if (b->o.verbose)
		fprintf(stderr, "blk_bench: %u kvhost worker(s)\n",
			b->nworkers);
}

static int backend_ticks(struct bench *b, __u64 *ticks)
{
	unsigned long long t;
	unsigned int i;
	int r;

	*ticks = 0;
	if (b->o.target == TARGET_QSD) {
		r = vq_task_ticks(b->daemon, &t);
		*ticks = t;
		return r;
	}
	if (!b->nworkers)
		return -ESRCH;
	for (i = 0; i < b->nworkers; i++) {
		r = vq_task_ticks(b->worker[i], &t);
		if (r)
			return r;
		*ticks += t;
	}
	return 0;
}

static int setup_kvhost(struct bench *b)
{
	struct kvhost_blk_queues nq = { .num = 1 };
	struct kvhost_blk_backend be = { .fd = -1 };
	struct kvhost_blk_config cfg;
	__u64 want, acked;
	const char *what;
	int r;

	want = (1ULL << VIRTIO_F_VERSION_1);
	if (b->o.event_idx)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;

	what = "/dev/" KVHOST_BLK_NODE;
	b->dev_fd = open(what, O_RDWR | O_CLOEXEC);
	if (b->dev_fd < 0) {
		r = -errno;
		goto err;
	}
	what = "SET_OWNER";
	r = vq_ioctl(b->dev_fd, VHOST_SET_OWNER, NULL);
	if (r)
		goto err;
	find_workers(b);
	what = "SET_FEATURES";
	r = vq_negotiate(b->dev_fd, want, &acked);
	if (r)
		goto err;
	if (!(acked & (1ULL << VIRTIO_F_VERSION_1))) {
		r = -EOPNOTSUPP;
		goto err;
	}
	what = "SET_MEM_TABLE";
	r = vq_mem_set_table(&b->mem, b->dev_fd);
	if (r)
		goto err;
	what = "KVHOST_BLK_SET_NUM_QUEUES";
	r = vq_ioctl(b->dev_fd, KVHOST_BLK_SET_NUM_QUEUES, &nq);
	if (r)
		goto err;
	what = "vring setup";
	b->vq.dev_fd = b->dev_fd;
	vq_set_features(&b->vq, acked);
	r = vq_program(&b->vq);
	if (r)
		goto err;
	if (b->o.poll_us) {
		struct vhost_vring_state st = { .index = 0, .num = b->o.poll_us };

		what = "VHOST_SET_VRING_BUSYLOOP_TIMEOUT";
		r = vq_ioctl(b->dev_fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st);
		if (r)
			goto err;
	}
	what = b->o.dev;
	b->backend_fd = open(b->o.dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (b->backend_fd < 0) {
		r = -errno;
		goto err;
	}
	what = "KVHOST_BLK_SET_BACKEND";
	be.fd = b->backend_fd;
	r = vq_ioctl(b->dev_fd, KVHOST_BLK_SET_BACKEND, &be);
	if (r)
		goto err;
	what = "KVHOST_BLK_GET_CONFIG";
	r = vq_ioctl(b->dev_fd, KVHOST_BLK_GET_CONFIG, &cfg);
	if (r)
		goto err;
	if (le64toh(cfg.capacity) < b->nblocks * b->o.bs >> SECTOR_SHIFT)
		fprintf(stderr,
			"blk_bench: kvhost capacity %llu sectors < the device's\n",
			(unsigned long long)le64toh(cfg.capacity));
	if (b->o.verbose)
		fprintf(stderr,
			"blk_bench: kvhost: features %#llx, capacity %llu, blk_size %u\n",
			(unsigned long long)acked,
			(unsigned long long)le64toh(cfg.capacity),
			le32toh(cfg.blk_size));
	return 0;
err:
	fprintf(stderr, "blk_bench: kvhost: %s: %s\n", what, strerror(-r));
	return r;
}

static void teardown_kvhost(struct bench *b)
{
	struct kvhost_blk_backend be = { .fd = -1 };
	__u32 base;
	int r;

	if (b->dev_fd >= 0 && b->backend_fd >= 0) {
		r = vq_ioctl(b->dev_fd, KVHOST_BLK_SET_BACKEND, &be);
		if (r)
			fprintf(stderr, "blk_bench: kvhost: detach: %s\n",
				strerror(-r));
		if (!r && !vq_get_base(&b->vq, &base) &&
		    (__u16)base != b->vq.avail_idx)
			fprintf(stderr,
				"blk_bench: kvhost: vring base %u, avail idx %u\n",
				base, b->vq.avail_idx);
	}
	if (b->dev_fd >= 0)
		close(b->dev_fd);
	if (b->backend_fd >= 0)
		close(b->backend_fd);
	b->dev_fd = -1;
	b->backend_fd = -1;
}

/* QEMU option values double their commas. */
static int qemu_escape(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src; src++) {
		if (n + 2 >= size)
			return -ENAMETOOLONG;
		if (*src == ',')
			dst[n++] = ',';
		dst[n++] = *src;
	}
	dst[n] = '\0';
	return 0;
}

static pid_t spawn_qsd(struct bench *b, const char *aio)
{
	char dev[PATH_MAX * 2], sock[sizeof(b->sock) * 2];
	char blockdev[PATH_MAX * 2 + 128], export[sizeof(sock) + 128];
	char iothread[64] = "";
	pid_t parent = getpid(), pid;

	if (qemu_escape(dev, sizeof(dev), b->o.dev) ||
	    qemu_escape(sock, sizeof(sock), b->sock))
		return -ENAMETOOLONG;
	snprintf(blockdev, sizeof(blockdev),
		 "driver=%s,node-name=disk0,filename=%s,cache.direct=on,aio=%s",
		 b->regular ? "file" : "host_device", dev, aio);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=%s,writable=on%s",
		 sock, b->o.poll_max_ns >= 0 ? ",iothread=iot0" : "");
	if (b->o.poll_max_ns >= 0)
		snprintf(iothread, sizeof(iothread),
			 "iothread,id=iot0,poll-max-ns=%lld", b->o.poll_max_ns);
	if (b->o.verbose)
		fprintf(stderr, "blk_bench: %s%s%s --blockdev %s --export %s\n",
			b->o.qsd, *iothread ? " --object " : "", iothread,
			blockdev, export);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		/* Never outlive us; keep our stdout for the JSON line. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		if (*iothread)
			execlp(b->o.qsd, b->o.qsd, "--object", iothread,
			       "--blockdev", blockdev, "--export", export,
			       (char *)NULL);
		else
			execlp(b->o.qsd, b->o.qsd, "--blockdev", blockdev,
			       "--export", export, (char *)NULL);
		fprintf(stderr, "blk_bench: %s: %s\n", b->o.qsd,
			strerror(errno));
		_exit(127);
	}
	return pid;
}

static bool qsd_alive(void *arg)
{
	struct bench *b = arg;
	int status;

	if (b->daemon <= 0)
		return false;
	if (waitpid(b->daemon, &status, WNOHANG) != b->daemon)
		return true;
	fprintf(stderr, "blk_bench: qemu-storage-daemon exited early (%s %d)\n",
		WIFEXITED(status) ? "status" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	b->daemon = -1;
	return false;
}

static void stop_qsd(struct bench *b)
{
	long long deadline = vq_now_ms() + QSD_STOP_MS;
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	int status;
	pid_t r;

	if (b->daemon > 0) {
		kill(b->daemon, SIGTERM);
		while ((r = waitpid(b->daemon, &status, WNOHANG)) == 0 &&
		       vq_now_ms() < deadline)
			nanosleep(&pause, NULL);
		if (!r) {
			fprintf(stderr,
				"blk_bench: qemu-storage-daemon ignored SIGTERM\n");
			kill(b->daemon, SIGKILL);
			waitpid(b->daemon, &status, 0);
		} else if (r == b->daemon && b->o.verbose) {
			fprintf(stderr,
				"blk_bench: qemu-storage-daemon: %s %d\n",
				WIFEXITED(status) ? "status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) :
						    WTERMSIG(status));
		}
		b->daemon = -1;
	}
	if (b->sock_made)
		unlink(b->sock);
	b->sock_made = false;
}

/* Start the daemon and connect: io_uring first unless told otherwise. */
static int start_qsd(struct bench *b)
{
	const char *aio = b->o.aio ? b->o.aio : "io_uring";
	int r;

	if (b->o.sock)
		r = snprintf(b->sock, sizeof(b->sock), "%s", b->o.sock);
	else
		r = snprintf(b->sock, sizeof(b->sock), "/tmp/blk_bench-%d.sock",
			     (int)getpid());
	if (r < 0 || (size_t)r >= sizeof(b->sock)) {
		fprintf(stderr, "blk_bench: socket path too long\n");
		return -ENAMETOOLONG;
	}
	for (;;) {
		unlink(b->sock);
		b->sock_made = true;
		b->daemon = spawn_qsd(b, aio);
		if (b->daemon < 0) {
			r = b->daemon;
			fprintf(stderr, "blk_bench: fork: %s\n", strerror(-r));
			return r;
		}
		r = vu_connect(&b->vu, b->sock, QSD_START_MS, qsd_alive, b);
		if (!r)
			break;
		stop_qsd(b);
		if (r != -ESRCH || b->o.aio || strcmp(aio, "io_uring")) {
			fprintf(stderr, "blk_bench: connect %s: %s\n", b->sock,
				strerror(-r));
			return r;
		}
		fprintf(stderr, "blk_bench: retrying with aio=native\n");
		aio = "native";
	}
	if (b->o.verbose)
		fprintf(stderr, "blk_bench: qemu-storage-daemon %d, aio=%s\n",
			(int)b->daemon, aio);
	return 0;
}

static int setup_qsd(struct bench *b)
{
	__u64 want, want_pf, acked;
	__u8 cfg[24];		/* capacity .. blk_size of virtio_blk_config */
	__u64 cap;
	__u32 blk_size;
	const char *what;
	int r;

	want = (1ULL << VIRTIO_F_VERSION_1);
	if (b->o.event_idx)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	want_pf = (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
		  (1ULL << VHOST_USER_PROTOCOL_F_CONFIG);

	r = start_qsd(b);
	if (r)
		return r;
	what = "feature negotiation";
	r = vu_negotiate(&b->vu, want, want_pf, &acked);
	if (r)
		goto err;
	if (!(acked & (1ULL << VIRTIO_F_VERSION_1))) {
		r = -EOPNOTSUPP;
		goto err;
	}
	what = "SET_MEM_TABLE";
	r = vu_set_mem_table(&b->vu, &b->mem);
	if (r)
		goto err;
	what = "vring setup";
	vq_set_features(&b->vq, acked);
	r = vu_program(&b->vu, &b->vq);
	if (r)
		goto err;
	if (b->vu.protocol & (1ULL << VHOST_USER_PROTOCOL_F_CONFIG)) {
		what = "GET_CONFIG";
		r = vu_get_config(&b->vu, 0, cfg, sizeof(cfg));
		if (r < 0)
			goto err;
		memcpy(&cap, cfg, sizeof(cap));
		memcpy(&blk_size, cfg + 20, sizeof(blk_size));
		cap = le64toh(cap);
		if (cap < b->nblocks * b->o.bs >> SECTOR_SHIFT)
			fprintf(stderr,
				"blk_bench: qsd capacity %llu sectors < the device's\n",
				(unsigned long long)cap);
		if (b->o.verbose)
			fprintf(stderr,
				"blk_bench: qsd: features %#llx (offered %#llx), protocol %#llx, capacity %llu, blk_size %u\n",
				(unsigned long long)acked,
				(unsigned long long)b->vu.features,
				(unsigned long long)b->vu.protocol,
				(unsigned long long)cap, le32toh(blk_size));
	}
	return 0;
err:
	fprintf(stderr, "blk_bench: qsd: %s: %s\n", what, strerror(-r));
	return r;
}

static void teardown_qsd(struct bench *b)
{
	__u32 base;

	/* Stop the ring first, as a VMM would; it also says what was seen. */
	if (b->vu.sock >= 0 && !vu_get_vring_base(&b->vu, 0, &base) &&
	    (__u16)base != b->vq.avail_idx)
		fprintf(stderr, "blk_bench: qsd: vring base %u, avail idx %u\n",
			base, b->vq.avail_idx);
	vu_close(&b->vu);
	stop_qsd(b);
}

static __u64 next_offset(struct bench *b)
{
	__u64 blk;

	if (b->o.rw == RW_READ) {
		blk = b->next_block++;
		if (b->next_block == b->nblocks)
			b->next_block = 0;
	} else {
		blk = rng_next(&b->rng) % b->nblocks;
	}
	return blk * b->o.bs;
}

/* Fill every free slot, then kick if the device wants a kick. */
static int submit(struct bench *b, bool measuring)
{
	bool write = b->o.rw == RW_RANDWRITE;
	struct vq_sg sg[3];
	struct req *rq;
	__u64 off;
	int r;

	while (b->nfree) {
		rq = &b->req[b->free[b->nfree - 1]];
		off = next_offset(b);
		rq->hdr->type = htole32(write ? VIRTIO_BLK_T_OUT :
						VIRTIO_BLK_T_IN);
		rq->hdr->ioprio = 0;
		rq->hdr->sector = htole64(off >> SECTOR_SHIFT);
		*rq->status = STATUS_UNSET;
		if (write) {
			rq->data[0] = off;
			rq->data[1] = ++b->seq;
		}
		sg[0].gpa = rq->hdr_gpa;
		sg[0].len = sizeof(*rq->hdr);
		sg[1].gpa = rq->data_gpa;
		sg[1].len = b->o.bs;
		sg[2].gpa = rq->status_gpa;
		sg[2].len = 1;
		rq->t_submit = now_ns();
		r = vq_add(&b->vq, sg, write ? 2 : 1, write ? 1 : 2, rq);
		if (r < 0) {
			fprintf(stderr, "blk_bench: vq_add: %s\n",
				strerror(-r));
			return r;
		}
		b->nfree--;
		b->inflight++;
	}
	if (!vq_kick_needed(&b->vq))
		return 0;
	b->kicks += measuring;
	r = vq_kick(&b->vq);
	if (r)
		fprintf(stderr, "blk_bench: kick: %s\n", strerror(-r));
	return r;
}

static int lat_push(struct bench *b, __u64 ns)
{
	size_t cap;
	__u64 *p;

	if (b->nlat == b->lat_cap) {
		cap = b->lat_cap ? b->lat_cap * 2 : 65536;
		p = realloc(b->lat, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		b->lat = p;
		b->lat_cap = cap;
	}
	b->lat[b->nlat++] = ns;
	return 0;
}

/* Reap everything used; *n gets how many. */
static int reap(struct bench *b, bool measuring, unsigned int *n)
{
	struct vq_used_buf u;
	struct req *rq;
	__u8 status;
	__u64 t;
	int r;

	*n = 0;
	while (!(r = vq_reap(&b->vq, &u))) {
		t = now_ns();
		rq = u.cookie;
		status = __atomic_load_n(rq->status, __ATOMIC_RELAXED);
		if (status != VIRTIO_BLK_S_OK) {
			if (b->errors++ < ERRORS_SHOWN)
				fprintf(stderr,
					"blk_bench: sector %llu: status %u\n",
					(unsigned long long)le64toh(rq->hdr->sector),
					status);
		}
		if (measuring) {
			b->ios++;
			if (lat_push(b, t - rq->t_submit))
				return -ENOMEM;
		}
		b->free[b->nfree++] = rq - b->req;
		b->inflight--;
		(*n)++;
	}
	if (r != -EAGAIN) {
		fprintf(stderr, "blk_bench: used id %u is not in flight\n",
			u.id);
		return r;
	}
	return 0;
}

/* Polling mode: spin on the used ring, as a polling driver would. */
static int spin_used(struct vq *vq, int timeout_ms)
{
	long long deadline = vq_now_ms() + timeout_ms;
	unsigned int i = 0;

	while (!vq_used_pending(vq))
		if (!(++i & 0xfff) && vq_now_ms() >= deadline)
			return -ETIMEDOUT;
	return 0;
}

static int run(struct bench *b)
{
	enum { WARMUP, MEASURE, DRAIN } phase = WARMUP;
	__u64 t, t_window, t_end, t_start = 0, ticks0 = 0, ticks1;
	unsigned int n;
	int r;

	b->rng = b->o.seed ? b->o.seed : 1;
	t = now_ns();
	t_window = t + (__u64)(b->o.warmup * NSEC_PER_SEC);
	t_end = t_window + (__u64)(b->o.seconds * NSEC_PER_SEC);
	/* Callbacks only while waiting, as a driver's interrupt handler. */
	vq_disable_cb(&b->vq);
	for (;;) {
		t = now_ns();
		if (phase == WARMUP && t >= t_window) {
			phase = MEASURE;
			t_start = t;
			b->cpu_ok = !backend_ticks(b, &ticks0);
		}
		if (phase == MEASURE && t >= t_end) {
			phase = DRAIN;
			b->window_ns = t - t_start;
			if (b->cpu_ok && !backend_ticks(b, &ticks1))
				b->cpu_ticks = ticks1 - ticks0;
			else
				b->cpu_ok = false;
		}
		if (phase != DRAIN) {
			r = submit(b, phase == MEASURE);
			if (r)
				return r;
		}
		r = reap(b, phase == MEASURE, &n);
		if (r)
			return r;
		if (n)
			continue;
		if (!b->inflight) {
			if (phase == DRAIN)
				break;
			continue;
		}
		b->waits += phase == MEASURE;
		if (b->o.poll_us) {
			r = spin_used(&b->vq, VQ_TIMEOUT_MS);
		} else {
			r = vq_wait_used(&b->vq, VQ_TIMEOUT_MS);
			vq_disable_cb(&b->vq);
		}
		if (r) {
			fprintf(stderr,
				"blk_bench: no completion in %d ms, %u in flight: %s\n",
				VQ_TIMEOUT_MS, b->inflight, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted latencies, in microseconds. */
static double percentile_us(const struct bench *b, double p)
{
	size_t i = (size_t)(p * b->nlat + 0.999999);

	if (i)
		i--;
	if (i >= b->nlat)
		i = b->nlat - 1;
	return b->lat[i] / 1000.0;
}

static void report(struct bench *b)
{
	double secs = b->window_ns / (double)NSEC_PER_SEC;
	double iops = secs > 0 ? b->ios / secs : 0;
	char p50[32] = "null", p99[32] = "null", cpu[32] = "null";

	if (b->nlat) {
		qsort(b->lat, b->nlat, sizeof(*b->lat), cmp_u64);
		snprintf(p50, sizeof(p50), "%.2f", percentile_us(b, 0.50));
		snprintf(p99, sizeof(p99), "%.2f", percentile_us(b, 0.99));
	}
	if (b->cpu_ok && b->ios)
		snprintf(cpu, sizeof(cpu), "%.0f",
			 b->cpu_ticks * (double)NSEC_PER_SEC /
			 sysconf(_SC_CLK_TCK) / b->ios);
	printf("{\"target\":\"%s\",\"rw\":\"%s\",\"bs\":%u,\"qd\":%u,",
	       b->o.target_name, b->o.rw_name, b->o.bs, b->o.qd);
	printf("\"seconds\":%g,\"ios\":%llu,\"iops\":%.1f,\"mbps\":%.2f,",
	       b->o.seconds, (unsigned long long)b->ios, iops,
	       iops * b->o.bs / 1e6);
	printf("\"lat_p50_us\":%s,\"lat_p99_us\":%s,\"cpu_ns_per_io\":%s,",
	       p50, p99, cpu);
	printf("\"poll_us\":%u,\"errors\":%llu}\n", b->o.poll_us,
	       (unsigned long long)b->errors);
	fflush(stdout);
	if (b->o.verbose && b->ios)
		fprintf(stderr,
			"blk_bench: per I/O: %.3f kicks, %.3f call waits, backend CPU %.1f%% of one\n",
			(double)b->kicks / b->ios, (double)b->waits / b->ios,
			b->cpu_ok && secs > 0 ?
			100.0 * b->cpu_ticks / sysconf(_SC_CLK_TCK) / secs : -1.0);
}

/* kvhost's own view of the ring: errors it counted, the err eventfd. */
static void check_kvhost_errors(struct bench *b)
{
	__u64 v;

	if (b->o.target != TARGET_KVHOST || !b->vq_ready)
		return;
	if (vq_drain_eventfd(b->vq.err_fd)) {
		fprintf(stderr, "blk_bench: kvhost signalled a vring error\n");
		b->errors++;
	}
	if (!vq_errors(b->dev_fd, 0, &v) && v) {
		fprintf(stderr, "blk_bench: kvhost vq0-errors %llu\n",
			(unsigned long long)v);
		b->errors += v;
	}
}

int main(int argc, char **argv)
{
	static struct bench bench;
	struct bench *b = &bench;
	int r;

	b->dev_fd = -1;
	b->backend_fd = -1;
	b->vu.sock = -1;
	b->mem.memfd = -1;
	if (parse_opts(&b->o, argc, argv))
		return 2;
	signal(SIGPIPE, SIG_IGN);

	r = probe_dev(b);
	if (!r)
		r = setup_mem(b);
	if (!r)
		r = b->o.target == TARGET_KVHOST ? setup_kvhost(b) :
						   setup_qsd(b);
	if (!r)
		r = run(b);
	check_kvhost_errors(b);

	if (b->o.target == TARGET_KVHOST)
		teardown_kvhost(b);
	else
		teardown_qsd(b);
	if (b->vq_ready)
		vq_free(&b->vq);
	vq_mem_free(&b->mem);
	free(b->req);
	free(b->free);

	if (r) {
		free(b->lat);
		return 2;
	}
	report(b);
	free(b->lat);
	return b->errors ? 1 : 0;
}
