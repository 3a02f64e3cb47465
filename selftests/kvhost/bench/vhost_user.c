// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_user: a minimal vhost-user frontend for one virtqueue.  See
 * vhost_user.h.
 *
 * The payloads below are laid out as the protocol describes them; each one
 * is naturally aligned and has no holes, and is sent as its own iovec
 * after the 12-byte header, so no structure needs packing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vhost_user.h"

/* How long a reply may take: qemu-storage-daemon under TCG is slow. */
#define VU_REPLY_TIMEOUT_S	30

struct vu_hdr {
	__u32 request;
	__u32 flags;
	__u32 size;
};

struct vu_mem_region {
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 mmap_offset;
};

struct vu_mem_table {
	__u32 nregions;
	__u32 padding;
	struct vu_mem_region region[VHOST_USER_MAX_REGIONS];
};

struct vu_config {
	__u32 offset;
	__u32 size;
	__u32 flags;
	__u8 region[VHOST_USER_MAX_CONFIG];
};

#define VU_CONFIG_HDR_SIZE	offsetof(struct vu_config, region)

union vu_payload {
	__u64 u64;
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_config config;
};

static int vu_send(struct vu_dev *vu, __u32 request, __u32 flags,
		   const void *payload, __u32 size, const int *fds,
		   unsigned int nfds)
{
	struct vu_hdr hdr = {
		.request = request,
		.flags = VHOST_USER_VERSION | flags,
		.size = size,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_REGIONS)];
		struct cmsghdr align;
	} control;
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	struct cmsghdr *cmsg;
	ssize_t n;

	if (nfds > VHOST_USER_MAX_REGIONS)
		return -EINVAL;
	if (nfds) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(vu->sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	/* Messages are a few hundred bytes: a short send is a broken peer. */
	if ((size_t)n != sizeof(hdr) + size)
		return -EIO;
	return 0;
}

static int vu_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (!n)
			return -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

/* The reply to request: its payload in *p, its size in *size. */
static int vu_recv(struct vu_dev *vu, __u32 request, union vu_payload *p,
		   __u32 *size)
{
	struct vu_hdr hdr;
	int r;

	r = vu_read_full(vu->sock, &hdr, sizeof(hdr));
	if (r)
		return r;
	if (hdr.request != request || !(hdr.flags & VHOST_USER_FLAG_REPLY) ||
	    (hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    hdr.size > sizeof(*p)) {
		fprintf(stderr,
			"vhost-user: bad reply to %u: request %u flags %#x size %u\n",
			request, hdr.request, hdr.flags, hdr.size);
		return -EPROTO;
	}
	r = vu_read_full(vu->sock, p, hdr.size);
	if (r)
		return r;
	*size = hdr.size;
	return 0;
}

/* A request with no reply of its own; with REPLY_ACK, wait for the ack. */
static int vu_set(struct vu_dev *vu, __u32 request, const void *payload,
		  __u32 size, const int *fds, unsigned int nfds)
{
	union vu_payload p;
	__u32 n;
	int r;

	r = vu_send(vu, request, vu->reply_ack ? VHOST_USER_FLAG_NEED_REPLY : 0,
		    payload, size, fds, nfds);
	if (r || !vu->reply_ack)
		return r;
	r = vu_recv(vu, request, &p, &n);
	if (r)
		return r;
	if (n != sizeof(p.u64))
		return -EPROTO;
	if (p.u64) {
		fprintf(stderr, "vhost-user: request %u failed (ack %llu)\n",
			request, (unsigned long long)p.u64);
		return -EIO;
	}
	return 0;
}

static int vu_get_u64(struct vu_dev *vu, __u32 request, __u64 *val)
{
	union vu_payload p;
	__u32 n;
	int r;

	r = vu_send(vu, request, 0, NULL, 0, NULL, 0);
	if (!r)
		r = vu_recv(vu, request, &p, &n);
	if (r)
		return r;
	if (n != sizeof(p.u64))
		return -EPROTO;
	*val = p.u64;
	return 0;
}

static int vu_set_u64(struct vu_dev *vu, __u32 request, __u64 val)
{
	return vu_set(vu, request, &val, sizeof(val), NULL, 0);
}

static int vu_set_state(struct vu_dev *vu, __u32 request, unsigned int index,
			unsigned int num)
{
	struct vhost_vring_state s = { .index = index, .num = num };

	return vu_set(vu, request, &s, sizeof(s), NULL, 0);
}

static int vu_set_file(struct vu_dev *vu, __u32 request, unsigned int index,
		       int fd)
{
	__u64 val = index & VHOST_USER_VRING_IDX_MASK;

	if (fd < 0) {
		val |= VHOST_USER_VRING_NOFD;
		return vu_set(vu, request, &val, sizeof(val), NULL, 0);
	}
	return vu_set(vu, request, &val, sizeof(val), &fd, 1);
}

int vu_connect(struct vu_dev *vu, const char *path, int timeout_ms,
	       bool (*alive)(void *arg), void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = VU_REPLY_TIMEOUT_S };
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	long long deadline = vq_now_ms() + timeout_ms;
	int fd, r;

	memset(vu, 0, sizeof(*vu));
	vu->sock = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		r = -errno;
		close(fd);
		if (r != -ENOENT && r != -ECONNREFUSED)
			return r;
		if (alive && !alive(arg))
			return -ESRCH;
		if (vq_now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		r = -errno;
		close(fd);
		return r;
	}
	vu->sock = fd;
	return 0;
}

void vu_close(struct vu_dev *vu)
{
	if (vu->sock >= 0)
		close(vu->sock);
	vu->sock = -1;
}

int vu_get_features(struct vu_dev *vu, __u64 *features)
{
	return vu_get_u64(vu, VHOST_USER_GET_FEATURES, features);
}

int vu_set_features(struct vu_dev *vu, __u64 features)
{
	return vu_set_u64(vu, VHOST_USER_SET_FEATURES, features);
}

int vu_get_protocol_features(struct vu_dev *vu, __u64 *features)
{
	return vu_get_u64(vu, VHOST_USER_GET_PROTOCOL_FEATURES, features);
}

int vu_set_protocol_features(struct vu_dev *vu, __u64 features)
{
	return vu_set_u64(vu, VHOST_USER_SET_PROTOCOL_FEATURES, features);
}

int vu_set_owner(struct vu_dev *vu)
{
	return vu_set(vu, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
}

/*
 * Every region is a window of the one memfd: the backend maps the fd and
 * finds the region at mmap_offset; userspace_addr is our own mapping, the
 * address space the vring addresses are given in.
 */
int vu_set_mem_table(struct vu_dev *vu, const struct vq_mem *mem)
{
	int fds[VHOST_USER_MAX_REGIONS];
	struct vu_mem_table t;
	unsigned int i;

	if (!mem->nregions || mem->nregions > VHOST_USER_MAX_REGIONS)
		return -E2BIG;
	memset(&t, 0, sizeof(t));
	t.nregions = mem->nregions;
	for (i = 0; i < mem->nregions; i++) {
		t.region[i].guest_phys_addr = mem->region[i].gpa;
		t.region[i].memory_size = mem->region[i].size;
		t.region[i].userspace_addr =
			vq_mem_hva_to_uaddr(mem->region[i].hva);
		t.region[i].mmap_offset = mem->region[i].offset;
		fds[i] = mem->memfd;
	}
	return vu_set(vu, VHOST_USER_SET_MEM_TABLE, &t,
		      offsetof(struct vu_mem_table, region) +
		      mem->nregions * sizeof(t.region[0]), fds, mem->nregions);
}

int vu_set_vring_num(struct vu_dev *vu, unsigned int index, unsigned int num)
{
	return vu_set_state(vu, VHOST_USER_SET_VRING_NUM, index, num);
}

int vu_set_vring_base(struct vu_dev *vu, unsigned int index,
		      unsigned int base)
{
	return vu_set_state(vu, VHOST_USER_SET_VRING_BASE, index, base);
}

/* Also stops the ring, in the backend. */
int vu_get_vring_base(struct vu_dev *vu, unsigned int index, __u32 *base)
{
	struct vhost_vring_state s = { .index = index };
	union vu_payload p;
	__u32 n;
	int r;

	r = vu_send(vu, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
	if (!r)
		r = vu_recv(vu, VHOST_USER_GET_VRING_BASE, &p, &n);
	if (r)
		return r;
	if (n != sizeof(p.state))
		return -EPROTO;
	*base = p.state.num;
	return 0;
}

int vu_set_vring_addr(struct vu_dev *vu, const struct vq *vq)
{
	struct vhost_vring_addr a = {
		.index = vq->index,
		.desc_user_addr = vq_mem_hva_to_uaddr(vq->desc),
		.used_user_addr = vq_mem_hva_to_uaddr(vq->used),
		.avail_user_addr = vq_mem_hva_to_uaddr(vq->avail),
	};

	return vu_set(vu, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

int vu_set_vring_kick(struct vu_dev *vu, unsigned int index, int fd)
{
	return vu_set_file(vu, VHOST_USER_SET_VRING_KICK, index, fd);
}

int vu_set_vring_call(struct vu_dev *vu, unsigned int index, int fd)
{
	return vu_set_file(vu, VHOST_USER_SET_VRING_CALL, index, fd);
}

int vu_set_vring_enable(struct vu_dev *vu, unsigned int index, bool enable)
{
	return vu_set_state(vu, VHOST_USER_SET_VRING_ENABLE, index, enable);
}

int vu_get_config(struct vu_dev *vu, __u32 offset, void *buf, __u32 len)
{
	struct vu_config c = { .offset = offset, .size = len };
	union vu_payload p;
	__u32 n;
	int r;

	if (!(vu->protocol & (1ULL << VHOST_USER_PROTOCOL_F_CONFIG)))
		return -EOPNOTSUPP;
	if (len > VHOST_USER_MAX_CONFIG)
		return -EINVAL;
	r = vu_send(vu, VHOST_USER_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE + len,
		    NULL, 0);
	if (!r)
		r = vu_recv(vu, VHOST_USER_GET_CONFIG, &p, &n);
	if (r)
		return r;
	/* A backend that cannot answer replies with an empty payload. */
	if (n < VU_CONFIG_HDR_SIZE + len || p.config.size < len)
		return -EIO;
	memcpy(buf, p.config.region, len);
	return len;
}

int vu_negotiate(struct vu_dev *vu, __u64 want, __u64 want_protocol,
		 __u64 *acked)
{
	const __u64 pf_bit = 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
	__u64 f, pf;
	int r;

	r = vu_get_features(vu, &vu->features);
	if (r)
		return r;
	if (vu->features & pf_bit) {
		r = vu_get_protocol_features(vu, &pf);
		if (r)
			return r;
		pf &= want_protocol;
		r = vu_set_protocol_features(vu, pf);
		if (r)
			return r;
		vu->protocol = pf;
		vu->reply_ack =
			!!(pf & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	}
	r = vu_set_owner(vu);
	if (r)
		return r;
	f = (vu->features & want) | (vu->features & pf_bit);
	r = vu_set_features(vu, f);
	if (r)
		return r;
	vu->acked = f;
	if (acked)
		*acked = f & ~pf_bit;
	return 0;
}

int vu_program(struct vu_dev *vu, struct vq *vq)
{
	int r;

	r = vu_set_vring_num(vu, vq->index, vq->num);
	if (!r)
		r = vu_set_vring_base(vu, vq->index, 0);
	if (!r)
		r = vu_set_vring_addr(vu, vq);
	if (!r)
		r = vu_set_vring_call(vu, vq->index, vq->call_fd);
	if (!r)
		r = vu_set_vring_kick(vu, vq->index, vq->kick_fd);
	/* With protocol features a ring starts disabled. */
	if (!r && (vu->acked & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)))
		r = vu_set_vring_enable(vu, vq->index, true);
	return r;
}
