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

/*
 * A KUnit case runs in a kernel thread, which has no mm: SET_OWNER has no
 * owner to record (-EINVAL, a kvhost check upstream lacks), and the device
 * stays unowned.
 */
static void kvh_dev_set_owner_without_mm(struct kunit *test)
{
	struct kvh_dev *dev;
	int i;

	KUNIT_ASSERT_NULL(test, current->mm);
	for (i = 0; i < ARRAY_SIZE(kvh_test_types); i++) {
		dev = kvh_test_types[i]->alloc();
		KUNIT_ASSERT_NOT_NULL(test, dev);
		KUNIT_EXPECT_EQ(test, kvh_dev_ioctl(dev, VHOST_SET_OWNER, NULL),
				-EINVAL);
		KUNIT_EXPECT_NULL(test, dev->mm);
		KUNIT_EXPECT_EQ(test, dev->nworkers, 0U);
		KUNIT_EXPECT_EQ(test, kvh_dev_ioctl(dev, VHOST_RESET_OWNER,
						    NULL), -EPERM);
		kvh_dev_cleanup(dev);
		dev->ops->free(dev);
	}
}

/*
 * What each type must advertise, spelled out here bit by bit rather than
 * taken from the module's own KVH_*_FEATURES: a bit the module starts (or
 * stops) offering must be matched by a change here, with the tests for
 * it.
 */
#define KVH_T(bit)	(1ULL << (bit))
#define KVH_T_CORE	(KVH_T(VIRTIO_F_NOTIFY_ON_EMPTY) | \
			 KVH_T(VIRTIO_F_ANY_LAYOUT) | \
			 KVH_T(VIRTIO_RING_F_INDIRECT_DESC) | \
			 KVH_T(VIRTIO_RING_F_EVENT_IDX) | \
			 KVH_T(VHOST_F_LOG_ALL) | \
			 KVH_T(VIRTIO_F_VERSION_1))

struct kvh_features_case {
	const struct kvh_dev_ops *ops;
	u64 want;
};

static const struct kvh_features_case kvh_features_cases[] = {
	{ &kvh_net_ops, KVH_T_CORE | KVH_T(VHOST_NET_F_VIRTIO_NET_HDR) |
			KVH_T(VIRTIO_NET_F_MRG_RXBUF) },
	{ &kvh_blk_ops, KVH_T_CORE | KVH_T(VIRTIO_BLK_F_SEG_MAX) |
			KVH_T(VIRTIO_BLK_F_BLK_SIZE) |
			KVH_T(VIRTIO_BLK_F_TOPOLOGY) |
			KVH_T(VIRTIO_BLK_F_FLUSH) |
			KVH_T(VIRTIO_BLK_F_DISCARD) |
			KVH_T(VIRTIO_BLK_F_WRITE_ZEROES) |
			KVH_T(VIRTIO_BLK_F_MQ) | KVH_T(VIRTIO_BLK_F_RO) },
	{ &kvh_test_ops, KVH_T_CORE },
};

static void kvh_features_case_desc(const struct kvh_features_case *c,
				   char *desc)
{
	strscpy(desc, c->ops->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvh_features, kvh_features_cases, kvh_features_case_desc);

/*
 * Each type advertises exactly the bits it implements: none of the
 * features kvhost does not implement (packed ring, IOMMU platform, IN_ORDER,
 * net offloads the tap path does not honour, ...), each implemented one.
 */
static void kvh_dev_features_exact(struct kunit *test)
{
	const struct kvh_features_case *c = test->param_value;
	u64 got = c->ops->features;
	unsigned int bit;

	for (bit = 0; bit < 64; bit++)
		KUNIT_EXPECT_EQ_MSG(test, !!(got & KVH_T(bit)),
				    !!(c->want & KVH_T(bit)),
				    "%s: feature bit %u", c->ops->name, bit);
}

static struct kunit_case kvh_dev_cases[] = {
	KUNIT_CASE_PARAM(kvh_dev_needs_owner, kvh_owner_gen_params),
	KUNIT_CASE(kvh_dev_features_efault),
	KUNIT_CASE(kvh_dev_set_owner_without_mm),
	KUNIT_CASE_PARAM(kvh_dev_features_exact, kvh_features_gen_params),
	{}
};

static struct kunit_suite kvh_dev_suite = {
	.name = "kvhost_dev",
	.test_cases = kvh_dev_cases,
};

kunit_test_suite(kvh_dev_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for kvhost");
