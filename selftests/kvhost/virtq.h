/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtq: a small userspace "guest driver" for the kvhost selftests.
 *
 * It plays both halves of a VMM: it owns the guest memory (memfd backed,
 * one or more regions at chosen guest-physical addresses), hands the
 * memory table, the split vrings and the eventfds to a vhost-style device
 * node, and then drives the rings the way a virtio guest driver would.
 *
 * Conventions: functions that wrap an ioctl or a syscall return 0 (or a
 * non-negative count) on success and -errno on failure, and leave errno
 * set.  Guest-physical addresses are "gpa"; the process's own mappings of
 * them are "hva".  The kernel only ever sees hvas for the rings (as vhost
 * requires) and gpas inside descriptors.
 *
 * Nothing here is thread safe: one thread drives one vq.
 */
#ifndef KVHOST_SELFTEST_VIRTQ_H
#define KVHOST_SELFTEST_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/vhost.h>
#include <linux/virtio_ring.h>

#define VQ_PAGE_SIZE		VHOST_PAGE_SIZE
#define VQ_MEM_MAX_REGIONS	128
#define VQ_BAD_GPA		(~0ULL)
#define VQ_INDIRECT_MAX		32
/* Timeouts, in milliseconds, sized for TCG with a debug kernel. */
#define VQ_TIMEOUT_MS		10000
#define VQ_QUIET_MS		300

/* One guest memory region: [gpa, gpa + size) mapped at hva. */
struct vq_region {
	__u64 gpa;
	__u64 size;
	__u64 offset;		/* of the backing pages in the memfd */
	void *hva;
	__u64 next;		/* allocator: first free byte offset */
};

struct vq_mem {
	int memfd;
	__u64 memfd_size;
	unsigned int nregions;
	struct vq_region region[VQ_MEM_MAX_REGIONS];
};

/* One piece of a buffer: guest-physical address and length. */
struct vq_sg {
	__u64 gpa;
	__u32 len;
};

struct vq {
	int dev_fd;
	unsigned int index;
	unsigned int num;
	struct vq_mem *mem;
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool cb_enabled;	/* we want call notifications */

	__u64 desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	int kick_fd, call_fd, err_fd;

	__u16 avail_idx;	/* shadow of avail->idx */
	__u16 last_used;	/* next used entry to reap */
	__u16 kicked_idx;	/* avail_idx at the last kick */
	__u16 free_head;
	unsigned int num_free;
	__u16 *next;		/* shadow chain links, never read from guest */
	__u16 *chain_len;	/* descriptors per in-flight head, 0 if free */
	void **cookie;

	__u64 indirect_gpa;	/* num tables of VQ_INDIRECT_MAX, lazily */
};

struct vq_used_buf {
	__u32 id;
	__u32 len;
	void *cookie;
};

/* Dirty log: one bit per VQ_PAGE_SIZE guest page, from gpa 0. */
struct vq_log {
	__u8 *bits;
	__u64 npages;
	size_t size;
};

/* ioctl() returning -errno. */
int vq_ioctl(int fd, unsigned long req, void *arg);

/* Guest memory. */
int vq_mem_init(struct vq_mem *mem);
int vq_mem_add(struct vq_mem *mem, __u64 gpa, __u64 size);
void vq_mem_free(struct vq_mem *mem);
void *vq_mem_hva(const struct vq_mem *mem, __u64 gpa, __u64 len);
__u64 vq_mem_hva_to_uaddr(const void *hva);
int vq_mem_read(const struct vq_mem *mem, __u64 gpa, void *dst, __u64 len);
int vq_mem_write(const struct vq_mem *mem, __u64 gpa, const void *src,
		 __u64 len);
__u64 vq_mem_alloc(struct vq_mem *mem, __u64 size, __u64 align);
__u64 vq_mem_end(const struct vq_mem *mem);
struct vhost_memory *vq_mem_table(const struct vq_mem *mem);
int vq_mem_set_table(const struct vq_mem *mem, int dev_fd);

/* Features. */
int vq_get_features(int dev_fd, __u64 *features);
int vq_negotiate(int dev_fd, __u64 want, __u64 *acked);

/* Vrings. */
int vq_init(struct vq *vq, int dev_fd, unsigned int index, unsigned int num,
	    struct vq_mem *mem);
void vq_free(struct vq *vq);
void vq_set_features(struct vq *vq, __u64 features);
int vq_set_num(struct vq *vq);
int vq_set_base(struct vq *vq, __u16 base);
int vq_get_base(struct vq *vq, __u32 *base);
int vq_set_addr(struct vq *vq, bool log, __u64 log_gpa);
int vq_set_file(int dev_fd, unsigned long req, unsigned int index, int fd);
int vq_set_fds(struct vq *vq);
int vq_program(struct vq *vq);

/* Driver side of the ring. */
int vq_add(struct vq *vq, const struct vq_sg *sg, unsigned int nout,
	   unsigned int nin, void *cookie);
int vq_add_indirect(struct vq *vq, const struct vq_sg *sg, unsigned int nout,
		    unsigned int nin, void *cookie);
int vq_kick(struct vq *vq);
bool vq_kick_needed(struct vq *vq);
int vq_notify(struct vq *vq);
unsigned int vq_used_pending(struct vq *vq);
int vq_reap(struct vq *vq, struct vq_used_buf *buf);
void vq_enable_cb(struct vq *vq);
void vq_disable_cb(struct vq *vq);
void vq_set_used_event(struct vq *vq, __u16 idx);
__u16 vq_avail_event(struct vq *vq);
__u16 vq_used_idx(struct vq *vq);
int vq_wait_used(struct vq *vq, int timeout_ms);
int vq_poll_used(struct vq *vq, int timeout_ms);

/* Raw ring access, for hostile-guest tests. */
void vq_desc_write(struct vring_desc *table, __u16 i, __u64 addr, __u32 len,
		   __u16 flags, __u16 next);
void vq_raw_desc(struct vq *vq, __u16 i, __u64 addr, __u32 len, __u16 flags,
		 __u16 next);
void vq_raw_avail(struct vq *vq, __u16 head);
void vq_raw_avail_idx(struct vq *vq, __u16 idx);
struct vring_desc *vq_indirect_table(struct vq *vq, __u16 head, __u64 *gpa);

/* Eventfds and time. */
long long vq_now_ms(void);
int vq_eventfd(void);
int vq_poll_eventfd(int fd, int timeout_ms, __u64 *count);
int vq_drain_eventfd(int fd);
int vq_wait_call(struct vq *vq, int timeout_ms);
int vq_wait_err(struct vq *vq, int timeout_ms);

/* Dirty log. */
int vq_log_init(struct vq_log *log, __u64 guest_end);
void vq_log_free(struct vq_log *log);
int vq_log_set_base(const struct vq_log *log, int dev_fd);
void vq_log_clear(struct vq_log *log);
bool vq_log_test(const struct vq_log *log, __u64 gpa);
__u64 vq_log_count(const struct vq_log *log);
__u64 vq_log_next(const struct vq_log *log, __u64 page);

/* kvhost's per-vq counters in /proc/self/fdinfo. */
int vq_fdinfo_get(int dev_fd, const char *key, __u64 *val);
int vq_errors(int dev_fd, unsigned int index, __u64 *val);
int vq_broken(int dev_fd, unsigned int index, __u64 *val);
/* Write val to a sysfs, procfs or debugfs file: 0 or -errno. */
int vq_write_str(const char *path, const char *val);
/* kvhost's per-reason counters in debugfs. */
int vq_debugfs_get(int dev_fd, unsigned int index, const char *name,
		   __u64 *val);

/* A device's worker threads, by name: kvhost's or upstream vhost's. */
int vq_workers(pid_t owner, bool upstream, pid_t *tids, int max);
/* utime + stime of a task (a whole process for a tgid), in clock ticks. */
int vq_task_ticks(pid_t pid, unsigned long long *ticks);

/* Tests' reproducible randomness: xorshift32, and a seed from two keys. */
__u32 vq_rnd_next(__u32 *s);
__u32 vq_rnd_seed(__u32 a, __u32 b);

#endif /* KVHOST_SELFTEST_VIRTQ_H */
