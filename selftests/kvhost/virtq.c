// SPDX-License-Identifier: GPL-2.0
/*
 * virtq: a small userspace "guest driver" for the kvhost selftests.  See
 * virtq.h for the conventions.
 *
 * Memory ordering follows the virtio driver in the kernel: descriptors and
 * the avail ring entry are written before a release store of avail->idx;
 * used->idx is read with an acquire load before the used entries; a full
 * fence separates publishing an index from reading the other side's
 * notification suppression state.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "virtq.h"

#define VQ_RING_ALIGN	VQ_PAGE_SIZE

static __u64 round_up_u64(__u64 x, __u64 align)
{
	return (x + align - 1) & ~(align - 1);
}

static bool is_pow2(__u64 x)
{
	return x && !(x & (x - 1));
}

int vq_ioctl(int fd, unsigned long req, void *arg)
{
	if (ioctl(fd, req, arg) < 0)
		return -errno;
	return 0;
}

/* Guest memory */

int vq_mem_init(struct vq_mem *mem)
{
	memset(mem, 0, sizeof(*mem));
	mem->memfd = memfd_create("kvhost-guest", MFD_CLOEXEC);
	if (mem->memfd < 0)
		return -errno;
	return 0;
}

/* Map [gpa, gpa + size) as a new region; returns its index. */
int vq_mem_add(struct vq_mem *mem, __u64 gpa, __u64 size)
{
	struct vq_region *r;
	void *hva;

	size = round_up_u64(size, VQ_PAGE_SIZE);
	if (!size || mem->nregions >= VQ_MEM_MAX_REGIONS)
		return -EINVAL;
	if (ftruncate(mem->memfd, mem->memfd_size + size))
		return -errno;
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   mem->memfd, mem->memfd_size);
	if (hva == MAP_FAILED)
		return -errno;
	r = &mem->region[mem->nregions];
	r->gpa = gpa;
	r->size = size;
	r->offset = mem->memfd_size;
	r->hva = hva;
	r->next = 0;
	mem->memfd_size += size;
	return mem->nregions++;
}

void vq_mem_free(struct vq_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nregions; i++)
		munmap(mem->region[i].hva, mem->region[i].size);
	mem->nregions = 0;
	if (mem->memfd >= 0)
		close(mem->memfd);
	mem->memfd = -1;
}

/* The hva of [gpa, gpa + len) if one region holds all of it, else NULL. */
void *vq_mem_hva(const struct vq_mem *mem, __u64 gpa, __u64 len)
{
	const struct vq_region *r;
	unsigned int i;

	for (i = 0; i < mem->nregions; i++) {
		r = &mem->region[i];
		if (gpa < r->gpa || gpa - r->gpa > r->size ||
		    len > r->size - (gpa - r->gpa))
			continue;
		return (char *)r->hva + (gpa - r->gpa);
	}
	return NULL;
}

/* The region holding gpa, or NULL. */
static const struct vq_region *vq_mem_find(const struct vq_mem *mem,
					   __u64 gpa)
{
	unsigned int i;

	for (i = 0; i < mem->nregions; i++)
		if (gpa >= mem->region[i].gpa &&
		    gpa - mem->region[i].gpa < mem->region[i].size)
			return &mem->region[i];
	return NULL;
}

/* Copy across region boundaries: 0, or -EFAULT at the first hole. */
static int vq_mem_copy(const struct vq_mem *mem, __u64 gpa, void *buf,
		       __u64 len, bool to_guest)
{
	const struct vq_region *r;
	char *hva, *p = buf;
	__u64 n;

	while (len) {
		r = vq_mem_find(mem, gpa);
		if (!r)
			return -EFAULT;
		n = r->size - (gpa - r->gpa);
		if (n > len)
			n = len;
		hva = (char *)r->hva + (gpa - r->gpa);
		if (to_guest)
			memcpy(hva, p, n);
		else
			memcpy(p, hva, n);
		gpa += n;
		p += n;
		len -= n;
	}
	return 0;
}

int vq_mem_read(const struct vq_mem *mem, __u64 gpa, void *dst, __u64 len)
{
	return vq_mem_copy(mem, gpa, dst, len, false);
}

int vq_mem_write(const struct vq_mem *mem, __u64 gpa, const void *src,
		 __u64 len)
{
	return vq_mem_copy(mem, gpa, (void *)src, len, true);
}

__u64 vq_mem_hva_to_uaddr(const void *hva)
{
	return (__u64)(unsigned long)hva;
}

/* Bump allocator over the regions, in the order they were added. */
__u64 vq_mem_alloc(struct vq_mem *mem, __u64 size, __u64 align)
{
	struct vq_region *r;
	unsigned int i;
	__u64 off;

	if (!is_pow2(align))
		return VQ_BAD_GPA;
	for (i = 0; i < mem->nregions; i++) {
		r = &mem->region[i];
		off = round_up_u64(r->gpa + r->next, align) - r->gpa;
		if (off > r->size || size > r->size - off)
			continue;
		r->next = off + size;
		memset((char *)r->hva + off, 0, size);
		return r->gpa + off;
	}
	return VQ_BAD_GPA;
}

/* One past the highest guest-physical address of any region. */
__u64 vq_mem_end(const struct vq_mem *mem)
{
	__u64 end = 0;
	unsigned int i;

	for (i = 0; i < mem->nregions; i++)
		if (mem->region[i].gpa + mem->region[i].size > end)
			end = mem->region[i].gpa + mem->region[i].size;
	return end;
}

/* A VHOST_SET_MEM_TABLE argument for every region; free() it. */
struct vhost_memory *vq_mem_table(const struct vq_mem *mem)
{
	struct vhost_memory *t;
	unsigned int i;

	t = calloc(1, sizeof(*t) + mem->nregions * sizeof(t->regions[0]));
	if (!t)
		return NULL;
	t->nregions = mem->nregions;
	for (i = 0; i < mem->nregions; i++) {
		t->regions[i].guest_phys_addr = mem->region[i].gpa;
		t->regions[i].memory_size = mem->region[i].size;
		t->regions[i].userspace_addr =
			vq_mem_hva_to_uaddr(mem->region[i].hva);
	}
	return t;
}

int vq_mem_set_table(const struct vq_mem *mem, int dev_fd)
{
	struct vhost_memory *t = vq_mem_table(mem);
	int r;

	if (!t)
		return -ENOMEM;
	r = vq_ioctl(dev_fd, VHOST_SET_MEM_TABLE, t);
	free(t);
	return r;
}

/* Features */

int vq_get_features(int dev_fd, __u64 *features)
{
	return vq_ioctl(dev_fd, VHOST_GET_FEATURES, features);
}

/* Acks want & offered; *acked gets what was acked. */
int vq_negotiate(int dev_fd, __u64 want, __u64 *acked)
{
	__u64 f;
	int r;

	r = vq_get_features(dev_fd, &f);
	if (r)
		return r;
	f &= want;
	r = vq_ioctl(dev_fd, VHOST_SET_FEATURES, &f);
	if (r)
		return r;
	if (acked)
		*acked = f;
	return 0;
}

/* Vrings */

static size_t vq_desc_size(unsigned int num)
{
	return sizeof(struct vring_desc) * num;
}

/* flags, idx, ring[num], used_event */
static size_t vq_avail_size(unsigned int num)
{
	return sizeof(__u16) * (3 + num);
}

/* flags, idx, ring[num], avail_event */
static size_t vq_used_size(unsigned int num)
{
	return sizeof(__u16) * 3 + sizeof(struct vring_used_elem) * num;
}

static void *vq_alloc_ring(struct vq *vq, size_t size, __u64 *gpa)
{
	*gpa = vq_mem_alloc(vq->mem, size, VQ_RING_ALIGN);
	if (*gpa == VQ_BAD_GPA)
		return NULL;
	return vq_mem_hva(vq->mem, *gpa, size);
}

static int vq_alloc_shadow(struct vq *vq)
{
	unsigned int i;

	vq->next = calloc(vq->num, sizeof(*vq->next));
	vq->chain_len = calloc(vq->num, sizeof(*vq->chain_len));
	vq->cookie = calloc(vq->num, sizeof(*vq->cookie));
	if (!vq->next || !vq->chain_len || !vq->cookie)
		return -ENOMEM;
	for (i = 0; i < vq->num; i++)
		vq->next[i] = i + 1;
	vq->free_head = 0;
	vq->num_free = vq->num;
	return 0;
}

static int vq_alloc_fds(struct vq *vq)
{
	vq->kick_fd = vq_eventfd();
	vq->call_fd = vq_eventfd();
	vq->err_fd = vq_eventfd();
	if (vq->kick_fd < 0 || vq->call_fd < 0 || vq->err_fd < 0)
		return -errno;
	return 0;
}

/*
 * Lay out a split ring of num entries in guest memory, each part on its
 * own page, and make the eventfds.  Does not talk to the device.
 */
int vq_init(struct vq *vq, int dev_fd, unsigned int index, unsigned int num,
	    struct vq_mem *mem)
{
	int r;

	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	if (!is_pow2(num) || num > 32768)
		return -EINVAL;
	vq->dev_fd = dev_fd;
	vq->index = index;
	vq->num = num;
	vq->mem = mem;
	vq->cb_enabled = true;
	vq->desc = vq_alloc_ring(vq, vq_desc_size(num), &vq->desc_gpa);
	vq->avail = vq_alloc_ring(vq, vq_avail_size(num), &vq->avail_gpa);
	vq->used = vq_alloc_ring(vq, vq_used_size(num), &vq->used_gpa);
	if (!vq->desc || !vq->avail || !vq->used)
		return -ENOMEM;
	r = vq_alloc_shadow(vq);
	if (!r)
		r = vq_alloc_fds(vq);
	if (r)
		vq_free(vq);
	return r;
}

void vq_free(struct vq *vq)
{
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	free(vq->next);
	free(vq->chain_len);
	free(vq->cookie);
	vq->next = NULL;
	vq->chain_len = NULL;
	vq->cookie = NULL;
}

void vq_set_features(struct vq *vq, __u64 features)
{
	vq->event_idx = !!(features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
}

int vq_set_num(struct vq *vq)
{
	struct vhost_vring_state s = { .index = vq->index, .num = vq->num };

	return vq_ioctl(vq->dev_fd, VHOST_SET_VRING_NUM, &s);
}

int vq_set_base(struct vq *vq, __u16 base)
{
	struct vhost_vring_state s = { .index = vq->index, .num = base };

	return vq_ioctl(vq->dev_fd, VHOST_SET_VRING_BASE, &s);
}

int vq_get_base(struct vq *vq, __u32 *base)
{
	struct vhost_vring_state s = { .index = vq->index, .num = ~0U };
	int r;

	r = vq_ioctl(vq->dev_fd, VHOST_GET_VRING_BASE, &s);
	if (!r)
		*base = s.num;
	return r;
}

/* Ring addresses as the VMM's own virtual addresses, as vhost wants. */
int vq_set_addr(struct vq *vq, bool log, __u64 log_gpa)
{
	struct vhost_vring_addr a = {
		.index = vq->index,
		.flags = log ? 1U << VHOST_VRING_F_LOG : 0,
		.desc_user_addr = vq_mem_hva_to_uaddr(vq->desc),
		.used_user_addr = vq_mem_hva_to_uaddr(vq->used),
		.avail_user_addr = vq_mem_hva_to_uaddr(vq->avail),
		.log_guest_addr = log_gpa,
	};

	return vq_ioctl(vq->dev_fd, VHOST_SET_VRING_ADDR, &a);
}

int vq_set_file(int dev_fd, unsigned long req, unsigned int index, int fd)
{
	struct vhost_vring_file f = { .index = index, .fd = fd };

	return vq_ioctl(dev_fd, req, &f);
}

int vq_set_fds(struct vq *vq)
{
	int r;

	r = vq_set_file(vq->dev_fd, VHOST_SET_VRING_KICK, vq->index,
			vq->kick_fd);
	if (!r)
		r = vq_set_file(vq->dev_fd, VHOST_SET_VRING_CALL, vq->index,
				vq->call_fd);
	if (!r)
		r = vq_set_file(vq->dev_fd, VHOST_SET_VRING_ERR, vq->index,
				vq->err_fd);
	return r;
}

/* NUM, BASE 0, ADDR (no logging), KICK, CALL and ERR for a fresh ring. */
int vq_program(struct vq *vq)
{
	int r;

	r = vq_set_num(vq);
	if (!r)
		r = vq_set_base(vq, 0);
	if (!r)
		r = vq_set_addr(vq, false, 0);
	if (!r)
		r = vq_set_fds(vq);
	return r;
}

/* Driver side */

void vq_desc_write(struct vring_desc *table, __u16 i, __u64 addr, __u32 len,
		   __u16 flags, __u16 next)
{
	table[i].addr = addr;
	table[i].len = len;
	table[i].flags = flags;
	table[i].next = next;
}

/* Make avail->idx visible after everything written before it. */
static void vq_publish_idx(struct vq *vq)
{
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
}

static void vq_publish(struct vq *vq, __u16 head)
{
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = head;
	vq->avail_idx++;
	vq_publish_idx(vq);
}

static __u16 sg_flags(unsigned int i, unsigned int nout, unsigned int n)
{
	__u16 f = 0;

	if (i >= nout)
		f |= VRING_DESC_F_WRITE;
	if (i + 1 < n)
		f |= VRING_DESC_F_NEXT;
	return f;
}

/* Add a chain of nout readable then nin writable pieces; returns head. */
int vq_add(struct vq *vq, const struct vq_sg *sg, unsigned int nout,
	   unsigned int nin, void *cookie)
{
	unsigned int n = nout + nin, k;
	__u16 head = vq->free_head, i = head;

	if (!n)
		return -EINVAL;
	if (n > vq->num_free)
		return -ENOSPC;
	for (k = 0; k < n; k++) {
		vq_desc_write(vq->desc, i, sg[k].gpa, sg[k].len,
			      sg_flags(k, nout, n), vq->next[i]);
		if (k + 1 < n)
			i = vq->next[i];
	}
	vq->free_head = vq->next[i];
	vq->num_free -= n;
	vq->chain_len[head] = n;
	vq->cookie[head] = cookie;
	vq_publish(vq, head);
	return head;
}

struct vring_desc *vq_indirect_table(struct vq *vq, __u16 head, __u64 *gpa)
{
	size_t tsize = VQ_INDIRECT_MAX * sizeof(struct vring_desc);

	if (head >= vq->num)
		return NULL;
	if (!vq->indirect_gpa) {
		vq->indirect_gpa = vq_mem_alloc(vq->mem, tsize * vq->num,
						VRING_DESC_ALIGN_SIZE);
		if (vq->indirect_gpa == VQ_BAD_GPA) {
			vq->indirect_gpa = 0;
			return NULL;
		}
	}
	*gpa = vq->indirect_gpa + head * tsize;
	return vq_mem_hva(vq->mem, *gpa, tsize);
}

/* The same chain through one indirect descriptor; returns head. */
int vq_add_indirect(struct vq *vq, const struct vq_sg *sg, unsigned int nout,
		    unsigned int nin, void *cookie)
{
	unsigned int n = nout + nin, k;
	__u16 head = vq->free_head;
	struct vring_desc *t;
	__u64 tgpa;

	if (!n || n > VQ_INDIRECT_MAX)
		return -EINVAL;
	if (!vq->num_free)
		return -ENOSPC;
	t = vq_indirect_table(vq, head, &tgpa);
	if (!t)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		vq_desc_write(t, k, sg[k].gpa, sg[k].len, sg_flags(k, nout, n),
			      k + 1);
	vq_desc_write(vq->desc, head, tgpa, n * sizeof(*t),
		      VRING_DESC_F_INDIRECT, 0);
	vq->free_head = vq->next[head];
	vq->num_free--;
	vq->chain_len[head] = 1;
	vq->cookie[head] = cookie;
	vq_publish(vq, head);
	return head;
}

int vq_kick(struct vq *vq)
{
	__u64 one = 1;

	vq->kicked_idx = vq->avail_idx;
	if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

/* Would a virtio driver kick now?  Consumes the "added since" window. */
bool vq_kick_needed(struct vq *vq)
{
	__u16 old = vq->kicked_idx, new = vq->avail_idx;
	__u16 flags;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->kicked_idx = new;
	if (old == new)
		return false;
	if (vq->event_idx)
		return vring_need_event(vq_avail_event(vq), new, old);
	flags = __atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED);
	return !(flags & VRING_USED_F_NO_NOTIFY);
}

/* Kick only if the device asked for it. */
int vq_notify(struct vq *vq)
{
	if (!vq_kick_needed(vq))
		return 0;
	return vq_kick(vq);
}

__u16 vq_used_idx(struct vq *vq)
{
	return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
}

unsigned int vq_used_pending(struct vq *vq)
{
	return (__u16)(vq_used_idx(vq) - vq->last_used);
}

__u16 vq_avail_event(struct vq *vq)
{
	__u16 *ev = (__u16 *)&vq->used->ring[vq->num];

	return __atomic_load_n(ev, __ATOMIC_RELAXED);
}

void vq_set_used_event(struct vq *vq, __u16 idx)
{
	__atomic_store_n(&vq->avail->ring[vq->num], idx, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vq_enable_cb(struct vq *vq)
{
	vq->cb_enabled = true;
	if (vq->event_idx)
		vq_set_used_event(vq, vq->last_used);
	else
		__atomic_fetch_and(&vq->avail->flags,
				   (__u16)~VRING_AVAIL_F_NO_INTERRUPT,
				   __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vq_disable_cb(struct vq *vq)
{
	vq->cb_enabled = false;
	if (!vq->event_idx)
		__atomic_fetch_or(&vq->avail->flags, VRING_AVAIL_F_NO_INTERRUPT,
				  __ATOMIC_SEQ_CST);
}

static void vq_free_chain(struct vq *vq, __u16 head)
{
	unsigned int n = vq->chain_len[head], k;
	__u16 i = head;

	for (k = 1; k < n; k++)
		i = vq->next[i];
	vq->next[i] = vq->free_head;
	vq->free_head = head;
	vq->num_free += n;
	vq->chain_len[head] = 0;
}

/*
 * Take the next used entry: 0, -EAGAIN if there is none, -EIO if the
 * device returned an id that is not an in-flight head (buf->id says which).
 */
int vq_reap(struct vq *vq, struct vq_used_buf *buf)
{
	struct vring_used_elem *e;

	if (!vq_used_pending(vq))
		return -EAGAIN;
	e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	buf->id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
	buf->len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	buf->cookie = NULL;
	vq->last_used++;
	if (vq->event_idx && vq->cb_enabled)
		vq_set_used_event(vq, vq->last_used);
	if (buf->id >= vq->num || !vq->chain_len[buf->id])
		return -EIO;
	buf->cookie = vq->cookie[buf->id];
	vq_free_chain(vq, buf->id);
	return 0;
}

long long vq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Wait for at least one used entry, relying on the call eventfd alone (so
 * a device that forgets to notify makes this time out): 0 or -ETIMEDOUT.
 */
int vq_wait_used(struct vq *vq, int timeout_ms)
{
	long long deadline = vq_now_ms() + timeout_ms, left;
	int r;

	for (;;) {
		if (vq_used_pending(vq))
			return 0;
		vq_enable_cb(vq);
		if (vq_used_pending(vq))
			return 0;
		left = deadline - vq_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = vq_poll_eventfd(vq->call_fd, left, NULL);
		if (r < 0)
			return r;
	}
}

/* Wait for a used entry by polling the ring, ignoring notifications. */
int vq_poll_used(struct vq *vq, int timeout_ms)
{
	long long deadline = vq_now_ms() + timeout_ms;
	struct timespec ts = { .tv_nsec = 1000000 };

	while (!vq_used_pending(vq)) {
		if (vq_now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Raw access */

void vq_raw_desc(struct vq *vq, __u16 i, __u64 addr, __u32 len, __u16 flags,
		 __u16 next)
{
	vq_desc_write(vq->desc, i, addr, len, flags, next);
}

/* Publish any head, valid or not, without touching the free list. */
void vq_raw_avail(struct vq *vq, __u16 head)
{
	vq_publish(vq, head);
}

/* Publish any avail->idx. */
void vq_raw_avail_idx(struct vq *vq, __u16 idx)
{
	vq->avail_idx = idx;
	vq_publish_idx(vq);
}

/* Eventfds */

int vq_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* 1 and the counter (if count) when fd fired, 0 on timeout, or -errno. */
int vq_poll_eventfd(int fd, int timeout_ms, __u64 *count)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long deadline = vq_now_ms() + timeout_ms;
	__u64 v;
	int r;

	do {
		r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r < 0)
			timeout_ms = deadline - vq_now_ms();
	} while (r < 0 && timeout_ms > 0);
	if (r <= 0)
		return 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return errno == EAGAIN ? 0 : -errno;
	if (count)
		*count = v;
	return 1;
}

/* Reset an eventfd's counter: 1 if it was set, else 0. */
int vq_drain_eventfd(int fd)
{
	__u64 v;

	return read(fd, &v, sizeof(v)) == sizeof(v);
}

int vq_wait_call(struct vq *vq, int timeout_ms)
{
	return vq_poll_eventfd(vq->call_fd, timeout_ms, NULL);
}

int vq_wait_err(struct vq *vq, int timeout_ms)
{
	return vq_poll_eventfd(vq->err_fd, timeout_ms, NULL);
}

/* Dirty log */

int vq_log_init(struct vq_log *log, __u64 guest_end)
{
	void *p;

	log->npages = (guest_end + VQ_PAGE_SIZE - 1) / VQ_PAGE_SIZE;
	log->size = round_up_u64((log->npages + 7) / 8, VQ_PAGE_SIZE);
	if (!log->size)
		log->size = VQ_PAGE_SIZE;
	p = mmap(NULL, log->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log->bits = NULL;
		return -errno;
	}
	log->bits = p;
	return 0;
}

void vq_log_free(struct vq_log *log)
{
	if (log->bits)
		munmap(log->bits, log->size);
	log->bits = NULL;
}

int vq_log_set_base(const struct vq_log *log, int dev_fd)
{
	__u64 base = vq_mem_hva_to_uaddr(log->bits);

	return vq_ioctl(dev_fd, VHOST_SET_LOG_BASE, &base);
}

void vq_log_clear(struct vq_log *log)
{
	memset(log->bits, 0, log->size);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static bool vq_log_bit(const struct vq_log *log, __u64 page)
{
	return __atomic_load_n(&log->bits[page / 8], __ATOMIC_RELAXED) &
	       (1U << (page % 8));
}

bool vq_log_test(const struct vq_log *log, __u64 gpa)
{
	__u64 page = gpa / VQ_PAGE_SIZE;

	return page < log->npages && vq_log_bit(log, page);
}

/* Set bits anywhere in the bitmap, also past npages. */
__u64 vq_log_count(const struct vq_log *log)
{
	__u64 n = 0;
	size_t i;

	for (i = 0; i < log->size; i++)
		n += __builtin_popcount(__atomic_load_n(&log->bits[i],
							__ATOMIC_RELAXED));
	return n;
}

/* The first dirty page >= page, or npages if there is none. */
__u64 vq_log_next(const struct vq_log *log, __u64 page)
{
	for (; page < log->npages; page++)
		if (vq_log_bit(log, page))
			return page;
	return log->npages;
}

/* fdinfo */

/* The value of a "key:\tvalue" line of /proc/self/fdinfo/<dev_fd>. */
int vq_fdinfo_get(int dev_fd, const char *key, __u64 *val)
{
	size_t klen = strlen(key);
	char path[64], line[256];
	int r = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", dev_fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		errno = 0;
		*val = strtoull(line + klen + 1, NULL, 10);
		r = errno ? -errno : 0;
		break;
	}
	fclose(f);
	return r;
}

int vq_errors(int dev_fd, unsigned int index, __u64 *val)
{
	char key[32];

	snprintf(key, sizeof(key), "vq%u-errors", index);
	return vq_fdinfo_get(dev_fd, key, val);
}

int vq_broken(int dev_fd, unsigned int index, __u64 *val)
{
	char key[32];

	snprintf(key, sizeof(key), "vq%u-broken", index);
	return vq_fdinfo_get(dev_fd, key, val);
}

/* Write val to a sysfs, procfs or debugfs file: 0 or -errno (-EIO short). */
int vq_write_str(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, r;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	r = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	close(fd);
	return r;
}

/*
 * A "name value" line of kvhost's /sys/kernel/debug/kvhost/<id>/vq<index>
 * (the device found through fdinfo's kvhost-id): 0, -ENOENT when debugfs or
 * the name is missing, or another -errno.
 */
int vq_debugfs_get(int dev_fd, unsigned int index, const char *name,
		   __u64 *val)
{
	size_t nlen = strlen(name);
	char path[96], line[256];
	__u64 id;
	int r;
	FILE *f;

	r = vq_fdinfo_get(dev_fd, "kvhost-id", &id);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/sys/kernel/debug/kvhost/%llu/vq%u",
		 (unsigned long long)id, index);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	r = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, nlen) || line[nlen] != ' ')
			continue;
		errno = 0;
		*val = strtoull(line + nlen + 1, NULL, 10);
		r = errno ? -errno : 0;
		break;
	}
	fclose(f);
	return r;
}

/**
 * vq_workers - the worker threads a device made for @owner
 * @owner: the owner's tgid (VHOST_SET_OWNER's caller)
 * @upstream: look for vhost's "vhost-<owner>" instead of kvhost's
 *	"kvh-<owner>-<n>"
 * @tids: filled with their thread ids
 * @max: room in @tids
 *
 * Return: how many were found (at most @max), or -errno.
 */
int vq_workers(pid_t owner, bool upstream, pid_t *tids, int max)
{
	char prefix[32], path[64], comm[32], *end;
	struct dirent *de;
	int n = 0;
	long pid;
	FILE *f;
	DIR *d;

	/* vhost's name is the whole comm: match its newline too. */
	snprintf(prefix, sizeof(prefix), upstream ? "vhost-%d\n" : "kvh-%d-",
		 (int)owner);
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		pid = strtol(de->d_name, &end, 10);
		if (pid <= 0 || *end)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, prefix, strlen(prefix)))
			tids[n++] = pid;
		fclose(f);
	}
	closedir(d);
	return n;
}

/**
 * vq_task_ticks - CPU time of a task from /proc/<pid>/stat
 * @pid: a thread id, or a tgid for the whole process
 * @ticks: utime + stime, in clock ticks (sysconf(_SC_CLK_TCK))
 *
 * Return: 0 or -errno.
 */
int vq_task_ticks(pid_t pid, unsigned long long *ticks)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the comm, which may hold anything: from field 3. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -EPROTO;
	*ticks = ut + st;
	return 0;
}

/* Randomness */

__u32 vq_rnd_next(__u32 *s)
{
	__u32 x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

__u32 vq_rnd_seed(__u32 a, __u32 b)
{
	__u32 s = a * 2654435761U ^ (b + 0x9e3779b9U) * 40503U;

	return s ? s : 1;
}
