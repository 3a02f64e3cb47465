// SPDX-License-Identifier: GPL-2.0
/*
 * rtnetlink requests for net_test: build one message, send it, read the
 * kernel's acknowledgment.  See rtnl.h.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "rtnl.h"

#define RTNL_BUF	1024
#define RTNL_NEST_MAX	4

struct rtnl_msg {
	union {
		struct nlmsghdr nh;
		char buf[RTNL_BUF];
	};
	unsigned int nest[RTNL_NEST_MAX];	/* offsets of open nests */
	unsigned int depth;
	int err;				/* -EMSGSIZE once full */
};

/*
 * The next len bytes of the message (len a multiple of the alignment),
 * zero as rtnl_init() left them; NULL, and -EMSGSIZE kept, once full.
 */
static void *rtnl_reserve(struct rtnl_msg *m, unsigned int len)
{
	unsigned int at = NLMSG_ALIGN(m->nh.nlmsg_len);

	if (m->err || at + len > sizeof(m->buf)) {
		m->err = -EMSGSIZE;
		return NULL;
	}
	m->nh.nlmsg_len = at + len;
	return m->buf + at;
}

static void rtnl_init(struct rtnl_msg *m, __u16 type, __u16 flags,
		      const void *hdr, unsigned int hlen)
{
	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_len = NLMSG_LENGTH(hlen);
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	memcpy(NLMSG_DATA(&m->nh), hdr, hlen);
}

static struct rtattr *rtnl_put(struct rtnl_msg *m, __u16 type,
			       const void *data, unsigned int len)
{
	struct rtattr *rta = rtnl_reserve(m, RTA_SPACE(len));

	if (!rta)
		return NULL;
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	return rta;
}

static void rtnl_put_str(struct rtnl_msg *m, __u16 type, const char *s)
{
	rtnl_put(m, type, s, strlen(s) + 1);
}

static void rtnl_put_u32(struct rtnl_msg *m, __u16 type, __u32 v)
{
	rtnl_put(m, type, &v, sizeof(v));
}

/* Open a nested attribute; rtnl_nest_end() sets its length. */
static void rtnl_nest(struct rtnl_msg *m, __u16 type)
{
	struct rtattr *rta;

	if (m->depth == RTNL_NEST_MAX) {
		m->err = -EMSGSIZE;
		return;
	}
	rta = rtnl_put(m, type, NULL, 0);
	if (rta)
		m->nest[m->depth++] = (char *)rta - m->buf;
}

static void rtnl_nest_end(struct rtnl_msg *m)
{
	struct rtattr *rta;

	if (m->err || !m->depth)
		return;
	rta = (struct rtattr *)(m->buf + m->nest[--m->depth]);
	rta->rta_len = m->nh.nlmsg_len - m->nest[m->depth];
}

/* Raw bytes inside the message (a nested header), padded to alignment. */
static void rtnl_put_raw(struct rtnl_msg *m, const void *data,
			 unsigned int len)
{
	void *p = rtnl_reserve(m, NLMSG_ALIGN(len));

	if (p)
		memcpy(p, data, len);
}

/* Send the request and wait for its ack: 0 or the kernel's -errno. */
static int rtnl_talk(struct rtnl_msg *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char reply[8192];			/* an error echoes the request */
	struct nlmsghdr *nh;
	struct nlmsgerr *e;
	ssize_t len;
	int fd, r;

	if (m->err || m->depth)
		return m->err ?: -EINVAL;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	m->nh.nlmsg_seq = 1;
	if (sendto(fd, m->buf, m->nh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) != (ssize_t)m->nh.nlmsg_len) {
		r = -errno;
		goto out;
	}
	for (;;) {
		len = recv(fd, reply, sizeof(reply), 0);
		if (len < 0) {
			r = -errno;
			if (r == -EINTR)
				continue;
			goto out;
		}
		for (nh = (struct nlmsghdr *)reply; NLMSG_OK(nh, len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != 1 || nh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
				r = -EPROTO;
				goto out;
			}
			e = NLMSG_DATA(nh);
			r = e->error;
			goto out;
		}
	}
out:
	close(fd);
	return r;
}

static int link_index(const char *name)
{
	unsigned int idx = if_nametoindex(name);

	return idx ? (int)idx : -errno;
}

int rtnl_veth_add(const char *name, const char *peer, unsigned int mtu)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct rtnl_msg m;

	rtnl_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi,
		  sizeof(ifi));
	rtnl_put_str(&m, IFLA_IFNAME, name);
	rtnl_put_u32(&m, IFLA_MTU, mtu);
	rtnl_nest(&m, IFLA_LINKINFO);
	rtnl_put_str(&m, IFLA_INFO_KIND, "veth");
	rtnl_nest(&m, IFLA_INFO_DATA);
	/* The peer: an ifinfomsg, then its own attributes. */
	rtnl_nest(&m, VETH_INFO_PEER);
	rtnl_put_raw(&m, &ifi, sizeof(ifi));
	rtnl_put_str(&m, IFLA_IFNAME, peer);
	rtnl_put_u32(&m, IFLA_MTU, mtu);
	rtnl_nest_end(&m);
	rtnl_nest_end(&m);
	rtnl_nest_end(&m);
	return rtnl_talk(&m);
}

int rtnl_macvtap_add(const char *name, const char *lower,
		     const unsigned char mac[6])
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	int idx = link_index(lower);
	struct rtnl_msg m;

	if (idx < 0)
		return idx;
	rtnl_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi,
		  sizeof(ifi));
	rtnl_put_str(&m, IFLA_IFNAME, name);
	rtnl_put_u32(&m, IFLA_LINK, idx);
	rtnl_put(&m, IFLA_ADDRESS, mac, 6);
	rtnl_nest(&m, IFLA_LINKINFO);
	rtnl_put_str(&m, IFLA_INFO_KIND, "macvtap");
	rtnl_nest(&m, IFLA_INFO_DATA);
	rtnl_put_u32(&m, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
	rtnl_nest_end(&m);
	rtnl_nest_end(&m);
	return rtnl_talk(&m);
}

int rtnl_pfifo_root(const char *name, unsigned int limit)
{
	struct tc_fifo_qopt opt = { .limit = limit };
	struct tcmsg tc = {
		.tcm_family = AF_UNSPEC,
		.tcm_parent = TC_H_ROOT,
	};
	struct rtnl_msg m;
	int idx = link_index(name);

	if (idx < 0)
		return idx;
	tc.tcm_ifindex = idx;
	rtnl_init(&m, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, &tc,
		  sizeof(tc));
	rtnl_put_str(&m, TCA_KIND, "pfifo");
	rtnl_put(&m, TCA_OPTIONS, &opt, sizeof(opt));
	return rtnl_talk(&m);
}

int rtnl_link_del(const char *name)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct rtnl_msg m;
	int idx = link_index(name);

	if (idx < 0)
		return idx;
	ifi.ifi_index = idx;
	rtnl_init(&m, RTM_DELLINK, 0, &ifi, sizeof(ifi));
	return rtnl_talk(&m);
}
