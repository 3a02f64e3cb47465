// SPDX-License-Identifier: GPL-2.0
/*
 * Worker kthreads and kick polling.
 *
 * Workers run in the owner's mm (kthread_use_mm) and are attached to the
 * owner's cgroups, so the VMM's CPU and memory limits apply to the work
 * done on its behalf.  Queueing is lock-free (llist) and may happen from
 * any context, including the eventfd wake-up.
 */
#include <linux/cgroup.h>
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/slab.h>

#include <kvhost/worker.h>

void kvh_work_init(struct kvh_work *work, kvh_work_fn_t fn)
{
	clear_bit(KVH_WORK_QUEUED, &work->queued);
	work->fn = fn;
}

static int kvh_worker_fn(void *data)
{
	struct kvh_worker *w = data;
	struct kvh_work *work, *next;
	struct llist_node *node;

	/*
	 * kvh_worker_kill() may abort a fault this thread waits on (a
	 * userfaultfd region nobody serves).  Only the kernel's SIGKILL gets
	 * through; the sleep below is TASK_IDLE, so a pending one does not
	 * turn the loop into a spin.
	 */
	allow_kernel_signal(SIGKILL);
	kthread_use_mm(w->mm);
	for (;;) {
		/* Pairs with the barrier in llist_add(). */
		set_current_state(TASK_IDLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		node = llist_del_all(&w->list);
		if (!node) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		/* llist_add() pushes at the head: restore queueing order. */
		node = llist_reverse_order(node);
		llist_for_each_entry_safe(work, next, node, node) {
			/* Requeueable from here on: a kick now runs fn again. */
			clear_bit(KVH_WORK_QUEUED, &work->queued);
			/*
			 * Order the clear before fn's reads of the ring,
			 * pairing with the set in kvh_work_queue(): a kick
			 * either sees the bit clear and requeues, or fn sees
			 * what the kick published.
			 */
			smp_mb__after_atomic();
			work->fn(work);
			cond_resched();
		}
	}
	kthread_unuse_mm(w->mm);
	return 0;
}

/**
 * kvh_worker_create - start a worker in the caller's cgroups
 * @mm: the owner's mm; the caller holds a reference for the worker's life
 * @name: thread name
 *
 * Return: the worker or an ERR_PTR().
 */
struct kvh_worker *kvh_worker_create(struct mm_struct *mm, const char *name)
{
	struct kvh_worker *w;
	int r;

	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return ERR_PTR(-ENOMEM);
	init_llist_head(&w->list);
	w->mm = mm;
	w->task = kthread_create(kvh_worker_fn, w, "%s", name);
	if (IS_ERR(w->task)) {
		r = PTR_ERR(w->task);
		goto err_free;
	}
	r = cgroup_attach_task_all(current, w->task);
	if (r)
		goto err_stop;
	wake_up_process(w->task);
	return w;

err_stop:
	kthread_stop(w->task);
err_free:
	kfree(w);
	return ERR_PTR(r);
}

/**
 * kvh_worker_destroy - run what is queued, then stop and free the worker
 * @w: the worker, or NULL
 *
 * Nothing may queue work on @w any more.
 */
void kvh_worker_destroy(struct kvh_worker *w)
{
	if (!w)
		return;
	kvh_worker_flush(w);
	WARN_ON(!llist_empty(&w->list));
	kthread_stop(w->task);
	kfree(w);
}

/**
 * kvh_work_queue - run @work on @w soon, once however often it is queued
 * @w: the worker
 * @work: the work
 */
void kvh_work_queue(struct kvh_worker *w, struct kvh_work *work)
{
	if (test_and_set_bit(KVH_WORK_QUEUED, &work->queued))
		return;
	llist_add(&work->node, &w->list);
	wake_up_process(w->task);
}

struct kvh_flush {
	struct kvh_work work;
	struct completion done;
};

static void kvh_flush_fn(struct kvh_work *work)
{
	struct kvh_flush *f = container_of(work, struct kvh_flush, work);

	complete(&f->done);
}

/**
 * kvh_worker_flush - wait until everything queued before now has run
 * @w: the worker
 */
void kvh_worker_flush(struct kvh_worker *w)
{
	struct kvh_flush f;

	kvh_work_init(&f.work, kvh_flush_fn);
	init_completion(&f.done);
	kvh_work_queue(w, &f.work);
	if (wait_for_completion_killable(&f.done)) {
		/* A dying caller must not wait on a fault it would serve. */
		kvh_worker_kill(w);
		wait_for_completion(&f.done);
	}
}

/**
 * kvh_worker_kill - abort whatever user-memory fault @w is waiting on
 * @w: the worker, or NULL
 *
 * For teardown, and for a dying control-path caller: a guest page whose
 * fault never completes (userfaultfd that nobody serves) must not block
 * close(), RESET_OWNER or the owner's exit.  From now on any fault of
 * @w's that would wait fails instead (-EFAULT to the copy, -EINTR to
 * get_user_pages()); faults that need no waiting still succeed.  @w
 * keeps running until kvh_worker_destroy().
 */
void kvh_worker_kill(struct kvh_worker *w)
{
	if (w)
		send_sig(SIGKILL, w->task, 1);
}

static int kvh_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct kvh_poll *poll = container_of(wait, struct kvh_poll, wait);

	if (!(key_to_poll(key) & poll->mask))
		return 0;
	kvh_work_queue(poll->worker, &poll->work);
	return 0;
}

static void kvh_poll_func(struct file *file, wait_queue_head_t *wqh,
			  poll_table *pt)
{
	struct kvh_poll *poll = container_of(pt, struct kvh_poll, table);

	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

void kvh_poll_init(struct kvh_poll *poll, kvh_work_fn_t fn, __poll_t mask)
{
	poll->mask = mask;
	init_waitqueue_func_entry(&poll->wait, kvh_poll_wakeup);
	init_poll_funcptr(&poll->table, kvh_poll_func);
	poll->wqh = NULL;
	kvh_work_init(&poll->work, fn);
}

/**
 * kvh_poll_start - hook a file; queue the work if it is already ready
 * @poll: the poll, with @worker set
 * @file: the kick eventfd or backend socket; the caller keeps a reference
 *	while hooked
 *
 * Return: 0, or -EINVAL when the file reports an error.
 */
int kvh_poll_start(struct kvh_poll *poll, struct file *file)
{
	__poll_t mask;

	if (poll->wqh)
		return 0;
	mask = vfs_poll(file, &poll->table);
	if (mask & poll->mask)
		kvh_work_queue(poll->worker, &poll->work);
	if (mask & EPOLLERR) {
		kvh_poll_stop(poll);
		return -EINVAL;
	}
	return 0;
}

/**
 * kvh_poll_stop - unhook; no new kick queues the work after this returns
 * @poll: the poll
 */
void kvh_poll_stop(struct kvh_poll *poll)
{
	if (poll->wqh) {
		remove_wait_queue(poll->wqh, &poll->wait);
		poll->wqh = NULL;
	}
}

/* Queue the poll's work as if kicked (requeue after a budget ran out). */
void kvh_poll_queue(struct kvh_poll *poll)
{
	kvh_work_queue(poll->worker, &poll->work);
}
