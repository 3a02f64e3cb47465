// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kvhost_dev: the core ioctl dispatcher, before any owner.
 */
#include <kunit/test.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>

#include <kvhost/kvhost.h>

MODULE_IMPORT_NS(KVHOST_KUNIT);

/* A user pointer that is never mapped: touching it must fault. */
#define KVH_TEST_BAD_UPTR ((void __user *)16)

struct kvh_ioctl_case {
	const char *name;
	unsigned int cmd;
};

/*
 * Commands that need an owner (or that no layer knows): without one they
 * are EPERM, as upstream, and the argument is never touched.
 */
static const struct kvh_ioctl_case kvh_owner_cases[] = {
	{ "zero", 0 },
	{ "all_ones", 0xffffffff },
	{ "vdpa_get_device_id", VHOST_VDPA_GET_DEVICE_ID },
	{ "scsi_set_endpoint", VHOST_SCSI_SET_ENDPOINT },
	{ "kvm_create_vm", KVM_CREATE_VM },
	{ "tun_set_iff", TUNSETIFF },
	{ "set_mem_table", VHOST_SET_MEM_TABLE },
	{ "set_log_base", VHOST_SET_LOG_BASE },
	{ "set_log_fd", VHOST_SET_LOG_FD },
	{ "set_vring_num", VHOST_SET_VRING_NUM },
	{ "set_vring_addr", VHOST_SET_VRING_ADDR },
	{ "get_vring_base", VHOST_GET_VRING_BASE },
	{ "set_vring_kick", VHOST_SET_VRING_KICK },
	{ "reset_owner", VHOST_RESET_OWNER },
};

static void kvh_ioctl_case_desc(const struct kvh_ioctl_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvh_owner, kvh_owner_cases, kvh_ioctl_case_desc);

static const struct kvh_dev_ops *const kvh_test_types[] = {
	&kvh_net_ops,
	&kvh_blk_ops,
};

static void kvh_dev_needs_owner(struct kunit *test)
{
	const struct kvh_ioctl_case *c = test->param_value;
	struct kvh_dev *dev;
	int i;

	for (i = 0; i < ARRAY_SIZE(kvh_test_types); i++) {
		dev = kvh_test_types[i]->alloc();
		KUNIT_ASSERT_NOT_NULL(test, dev);
		KUNIT_EXPECT_EQ_MSG(test, kvh_dev_ioctl(dev, c->cmd,
							KVH_TEST_BAD_UPTR),
				    -EPERM, "device %s",
				    kvh_test_types[i]->name);
		kvh_dev_cleanup(dev);
		dev->ops->free(dev);
	}
}

/* Feature queries need no owner; into memory that is not there, EFAULT. */
static void kvh_dev_features_efault(struct kunit *test)
{
	static const unsigned int cmds[] = {
		VHOST_GET_FEATURES, VHOST_SET_FEATURES,
		VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES,
	};
	struct kvh_dev *dev;
	int i, j;

	for (i = 0; i < ARRAY_SIZE(kvh_test_types); i++) {
		dev = kvh_test_types[i]->alloc();
		KUNIT_ASSERT_NOT_NULL(test, dev);
		for (j = 0; j < ARRAY_SIZE(cmds); j++)
			KUNIT_EXPECT_EQ(test, kvh_dev_ioctl(dev, cmds[j],
							    KVH_TEST_BAD_UPTR),
					-EFAULT);
		kvh_dev_cleanup(dev);
		dev->ops->free(dev);
	}
}

/* Each type advertises only features the core and that type implement. */
static void kvh_dev_features_are_implemented(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, kvh_net_ops.features & ~KVH_NET_FEATURES, 0ULL);
	KUNIT_EXPECT_EQ(test, kvh_blk_ops.features & ~KVH_BLK_FEATURES, 0ULL);
	KUNIT_EXPECT_EQ(test, KVH_CORE_FEATURES & ~kvh_net_ops.features, 0ULL);
	KUNIT_EXPECT_EQ(test, KVH_CORE_FEATURES & ~kvh_blk_ops.features, 0ULL);
}

static struct kunit_case kvh_dev_cases[] = {
	KUNIT_CASE_PARAM(kvh_dev_needs_owner, kvh_owner_gen_params),
	KUNIT_CASE(kvh_dev_features_efault),
	KUNIT_CASE(kvh_dev_features_are_implemented),
	{}
};

static struct kunit_suite kvh_dev_suite = {
	.name = "kvhost_dev",
	.test_cases = kvh_dev_cases,
};

kunit_test_suite(kvh_dev_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kvhost");
