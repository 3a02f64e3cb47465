/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Worker threads and kick polling.
 *
 * A worker is a kthread that runs queued work items in the owner's mm and
 * cgroups.  A poll hooks a vq's kick eventfd: its wake-up queues the vq's
 * work on the vq's worker.
 */
#ifndef _KVHOST_WORKER_H
#define _KVHOST_WORKER_H

#include <linux/llist.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/wait.h>

struct kvh_work;
typedef void (*kvh_work_fn_t)(struct kvh_work *work);

/**
 * struct kvh_work - a unit of work for a worker
 * @node: on the worker's list while queued
 * @queued: bit 0 set while queued, so a work is never on a list twice
 * @fn: what to run
 */
/* Bit of kvh_work.queued: on a worker's list, not yet started. */
#define KVH_WORK_QUEUED	0

struct kvh_work {
	struct llist_node node;
	unsigned long queued;
	kvh_work_fn_t fn;
};

/**
 * struct kvh_worker - one kthread
 * @task: the thread
 * @list: queued work
 * @mm: the owner's mm, used by the thread for its whole life
 */
struct kvh_worker {
	struct task_struct *task;
	struct llist_head list;
	struct mm_struct *mm;
};

/* Is @work queued and not yet started? */
static inline bool kvh_work_pending(const struct kvh_work *work)
{
	return test_bit(KVH_WORK_QUEUED, &work->queued);
}

/* Is work queued on @w (not counting what runs now)? */
static inline bool kvh_worker_has_work(struct kvh_worker *w)
{
	return !llist_empty(&w->list);
}

/**
 * struct kvh_poll - a kick eventfd hooked to a work item
 * @table: for vfs_poll()
 * @wqh: the eventfd's wait queue while hooked, else NULL
 * @wait: our entry on @wqh
 * @work: queued on each kick
 * @worker: where @work runs
 * @mask: the events that queue @work (EPOLLIN for a kick or readable
 *	socket, EPOLLOUT for socket write space)
 */
struct kvh_poll {
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	struct kvh_work work;
	struct kvh_worker *worker;
	__poll_t mask;
};

void kvh_work_init(struct kvh_work *work, kvh_work_fn_t fn);
struct kvh_worker *kvh_worker_create(struct mm_struct *mm, const char *name);
void kvh_worker_destroy(struct kvh_worker *w);
void kvh_work_queue(struct kvh_worker *w, struct kvh_work *work);
void kvh_worker_flush(struct kvh_worker *w);
void kvh_worker_kill(struct kvh_worker *w);

void kvh_poll_init(struct kvh_poll *poll, kvh_work_fn_t fn, __poll_t mask);
int kvh_poll_start(struct kvh_poll *poll, struct file *file);
void kvh_poll_stop(struct kvh_poll *poll);
void kvh_poll_queue(struct kvh_poll *poll);

#endif /* _KVHOST_WORKER_H */
