/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The feature sets each kvhost node must advertise, as the tests expect
 * them.  Kept apart from the module's own definitions on purpose: a change
 * to what the module advertises must be matched by a change here.
 */
#ifndef KVHOST_SELFTEST_FEATURES_H
#define KVHOST_SELFTEST_FEATURES_H

#define KVH_TEST_CORE_FEATURES	0ULL
#define KVH_TEST_NET_FEATURES	(KVH_TEST_CORE_FEATURES)
#define KVH_TEST_BLK_FEATURES	(KVH_TEST_CORE_FEATURES)

#endif
