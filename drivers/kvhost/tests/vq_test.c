// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kvhost_vq: the per-vq run helpers over a scripted ring
 * format, so that a guest's timing can be replayed exactly.
 */
#include <kunit/test.h>
#include <linux/llist.h>
#include <linux/sched.h>

#include <kvhost/kvhost.h>

MODULE_IMPORT_NS(KVHOST_KUNIT);

/*
 * A scripted ring: get_chain finds a chain only on call number @chain_at
 * (1-based; 0: never), and enable_notify reports a chain that arrived
 * meanwhile on its first @enable_seen calls.  A guest flipping avail->idx
 * between two values at the wrong moments looks like this to the core.
 */
struct kvt_script {
	unsigned int chain_at;
	unsigned int enable_seen;
	unsigned int gets;
	unsigned int enables;
	unsigned int disables;
};

static struct kvt_script *kvt_script;

/* Enough to see a runaway loop without hanging the test. */
#define KVT_RUNAWAY	1000

static int kvt_get_chain(struct kvh_vring *vr, struct kvh_chain *c)
{
	kvt_script->gets++;
	if (kvt_script->gets == kvt_script->chain_at ||
	    kvt_script->gets >= KVT_RUNAWAY) {
		c->head = 0;
		return 0;
	}
	return -EAGAIN;
}

static int kvt_enable_notify(struct kvh_vring *vr)
{
	return ++kvt_script->enables <= kvt_script->enable_seen;
}

static int kvt_disable_notify(struct kvh_vring *vr)
{
	kvt_script->disables++;
	return 0;
}

static const struct kvh_ring_ops kvt_scripted_ops = {
	.get_chain = kvt_get_chain,
	.enable_notify = kvt_enable_notify,
	.disable_notify = kvt_disable_notify,
};

struct kvt_vq {
	struct kvh_vq vq;
	struct kvh_worker worker;	/* never runs: only queued on */
	struct kvt_script script;
};

static int kvt_vq_init(struct kunit *test)
{
	struct kvt_vq *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	if (!t)
		return -ENOMEM;
	kvh_vq_init(&t->vq, NULL, 0, NULL);
	t->vq.ring = &kvt_scripted_ops;
	t->worker.task = current;
	init_llist_head(&t->worker.list);
	t->vq.worker = &t->worker;
	t->vq.poll.worker = &t->worker;
	kvt_script = &t->script;
	test->priv = t;
	return 0;
}

static void kvt_vq_exit(struct kunit *test)
{
	kvt_script = NULL;
}

static int kvt_next(struct kvt_vq *t)
{
	struct kvh_chain c = { .head = 0xffff };
	int r;

	mutex_lock(&t->vq.mutex);
	r = kvh_vq_next_chain(&t->vq, &c);
	mutex_unlock(&t->vq.mutex);
	return r;
}

/* The ring stays empty: one fetch, kicks back on, the run ends. */
static void kvh_vq_next_chain_empty(struct kunit *test)
{
	struct kvt_vq *t = test->priv;

	KUNIT_EXPECT_EQ(test, kvt_next(t), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t->script.gets, 1U);
	KUNIT_EXPECT_EQ(test, t->script.enables, 1U);
	KUNIT_EXPECT_FALSE(test, kvh_work_pending(&t->vq.poll.work));
}

/* A chain that arrived while kicks came back on is served at once. */
static void kvh_vq_next_chain_late_entry(struct kunit *test)
{
	struct kvt_vq *t = test->priv;

	t->script.chain_at = 2;
	t->script.enable_seen = 1;
	KUNIT_EXPECT_EQ(test, kvt_next(t), 0);
	KUNIT_EXPECT_EQ(test, t->script.gets, 2U);
	KUNIT_EXPECT_EQ(test, t->script.enables, 1U);
	KUNIT_EXPECT_EQ(test, t->script.disables, 1U);
	KUNIT_EXPECT_FALSE(test, kvh_work_pending(&t->vq.poll.work));
}

/*
 * Re-enabling always "sees" an entry the next fetch never finds (a guest
 * moving avail->idx back and forth): after KVH_EMPTY_RETRIES false alarms
 * the run ends with its work requeued, the vq neither spinning nor
 * broken.
 */
static void kvh_vq_next_chain_flipping_idx(struct kunit *test)
{
	struct kvt_vq *t = test->priv;

	t->script.enable_seen = KVT_RUNAWAY;
	KUNIT_EXPECT_EQ(test, kvt_next(t), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t->script.gets, KVH_EMPTY_RETRIES + 1);
	KUNIT_EXPECT_EQ(test, t->script.enables, KVH_EMPTY_RETRIES);
	KUNIT_EXPECT_TRUE(test, kvh_work_pending(&t->vq.poll.work));
	KUNIT_EXPECT_FALSE(test, t->vq.broken);
}

/* Up to the bound, false alarms are tolerated and the chain served. */
static void kvh_vq_next_chain_flips_then_entry(struct kunit *test)
{
	struct kvt_vq *t = test->priv;

	t->script.enable_seen = KVT_RUNAWAY;
	t->script.chain_at = KVH_EMPTY_RETRIES;
	KUNIT_EXPECT_EQ(test, kvt_next(t), 0);
	KUNIT_EXPECT_EQ(test, t->script.gets, KVH_EMPTY_RETRIES);
	KUNIT_EXPECT_FALSE(test, kvh_work_pending(&t->vq.poll.work));
}

static struct kunit_case kvh_vq_cases[] = {
	KUNIT_CASE(kvh_vq_next_chain_empty),
	KUNIT_CASE(kvh_vq_next_chain_late_entry),
	KUNIT_CASE(kvh_vq_next_chain_flipping_idx),
	KUNIT_CASE(kvh_vq_next_chain_flips_then_entry),
	{}
};

static struct kunit_suite kvh_vq_suite = {
	.name = "kvhost_vq",
	.init = kvt_vq_init,
	.exit = kvt_vq_exit,
	.test_cases = kvh_vq_cases,
};

kunit_test_suite(kvh_vq_suite);
