// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite kvhost_dev: the core ioctl dispatcher.
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

/* Commands no kvhost device implements, as upstream vhost-net. */
static const struct kvh_ioctl_case kvh_unknown_cases[] = {
	{ "zero", 0 },
	{ "all_ones", 0xffffffff },
	{ "vdpa_get_device_id", VHOST_VDPA_GET_DEVICE_ID },
	{ "vdpa_set_status", VHOST_VDPA_SET_STATUS },
	{ "scsi_set_endpoint", VHOST_SCSI_SET_ENDPOINT },
	{ "vsock_set_guest_cid", VHOST_VSOCK_SET_GUEST_CID },
	{ "kvm_create_vm", KVM_CREATE_VM },
	{ "tun_set_iff", TUNSETIFF },
	{ "get_features_wrong_size", _IOR(VHOST_VIRTIO, 0x00, __u32) },
	{ "get_features_wrong_dir", _IOW(VHOST_VIRTIO, 0x00, __u64) },
};

static void kvh_ioctl_case_desc(const struct kvh_ioctl_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kvh_unknown, kvh_unknown_cases, kvh_ioctl_case_desc);

static const struct kvh_dev_ops *const kvh_test_types[] = {
	&kvh_net_ops,
	&kvh_blk_ops,
};

/*
 * Unknown commands are -ENOTTY on every device type, and the argument is
 * never dereferenced (a bad pointer would turn the answer into -EFAULT).
 */
static void kvh_dev_unknown_ioctl_is_enotty(struct kunit *test)
{
	const struct kvh_ioctl_case *c = test->param_value;
	struct kvh_dev dev;
	int i;

	for (i = 0; i < ARRAY_SIZE(kvh_test_types); i++) {
		kvh_dev_init(&dev, kvh_test_types[i]);
		KUNIT_EXPECT_EQ_MSG(test, kvh_dev_ioctl(&dev, c->cmd,
							KVH_TEST_BAD_UPTR),
				    -ENOTTY, "device %s",
				    kvh_test_types[i]->name);
		kvh_dev_cleanup(&dev);
	}
}

/* GET_FEATURES into memory that is not there fails cleanly. */
static void kvh_dev_get_features_efault(struct kunit *test)
{
	struct kvh_dev dev;
	int i;

	for (i = 0; i < ARRAY_SIZE(kvh_test_types); i++) {
		kvh_dev_init(&dev, kvh_test_types[i]);
		KUNIT_EXPECT_EQ(test, kvh_dev_ioctl(&dev, VHOST_GET_FEATURES,
						    KVH_TEST_BAD_UPTR),
				-EFAULT);
		kvh_dev_cleanup(&dev);
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
	KUNIT_CASE_PARAM(kvh_dev_unknown_ioctl_is_enotty,
			 kvh_unknown_gen_params),
	KUNIT_CASE(kvh_dev_get_features_efault),
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
