/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few rtnetlink requests net_test needs (veth, macvtap, a pfifo root
 * qdisc, link deletion), sent from the test itself: spawning ip(8) and
 * tc(8) costs seconds per command under a KASAN kernel on TCG.
 *
 * Each returns 0 or the kernel's -errno (-EOPNOTSUPP: no such link kind,
 * its module not loaded).
 */
#ifndef KVHOST_SELFTEST_RTNL_H
#define KVHOST_SELFTEST_RTNL_H

/* ip link add NAME mtu MTU type veth peer name PEER mtu MTU */
int rtnl_veth_add(const char *name, const char *peer, unsigned int mtu);

/* ip link add link LOWER name NAME address MAC type macvtap mode bridge */
int rtnl_macvtap_add(const char *name, const char *lower,
		     const unsigned char mac[6]);

/* tc qdisc replace dev NAME root pfifo limit LIMIT */
int rtnl_pfifo_root(const char *name, unsigned int limit);

/* ip link del NAME */
int rtnl_link_del(const char *name);

#endif
