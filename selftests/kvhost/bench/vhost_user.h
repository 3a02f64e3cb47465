/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost_user: the frontend side of the vhost-user protocol, just enough of
 * it to hand one virtqueue in virtq.c's guest memory to a vhost-user
 * backend (qemu-storage-daemon's vhost-user-blk export) over a unix
 * socket.  Written from the protocol description in QEMU's
 * docs/interop/vhost-user.rst.
 *
 * Every message is a 12-byte header (request, flags, payload size, all in
 * host byte order) followed by the payload; file descriptors travel as
 * SCM_RIGHTS ancillary data of the header.  Functions return 0 (or a
 * non-negative count) on success and -errno on failure, like virtq.c.
 */
#ifndef KVHOST_BENCH_VHOST_USER_H
#define KVHOST_BENCH_VHOST_USER_H

#include <stdbool.h>
#include <linux/types.h>

#include "virtq.h"

/* Requests (frontend to backend). */
#define VHOST_USER_GET_FEATURES			1
#define VHOST_USER_SET_FEATURES			2
#define VHOST_USER_SET_OWNER			3
#define VHOST_USER_SET_MEM_TABLE		5
#define VHOST_USER_SET_VRING_NUM		8
#define VHOST_USER_SET_VRING_ADDR		9
#define VHOST_USER_SET_VRING_BASE		10
#define VHOST_USER_GET_VRING_BASE		11
#define VHOST_USER_SET_VRING_KICK		12
#define VHOST_USER_SET_VRING_CALL		13
#define VHOST_USER_GET_PROTOCOL_FEATURES	15
#define VHOST_USER_SET_PROTOCOL_FEATURES	16
#define VHOST_USER_SET_VRING_ENABLE		18
#define VHOST_USER_GET_CONFIG			24

/* Header flags. */
#define VHOST_USER_VERSION		0x1
#define VHOST_USER_VERSION_MASK		0x3
#define VHOST_USER_FLAG_REPLY		0x4
#define VHOST_USER_FLAG_NEED_REPLY	0x8

/* The virtio feature bit that says protocol features exist. */
#define VHOST_USER_F_PROTOCOL_FEATURES	30

/* Protocol feature bits. */
#define VHOST_USER_PROTOCOL_F_MQ		0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		3
#define VHOST_USER_PROTOCOL_F_CONFIG		9

/* SET_VRING_KICK / CALL payload: index in bits 0-7, "no fd" in bit 8. */
#define VHOST_USER_VRING_IDX_MASK	0xffULL
#define VHOST_USER_VRING_NOFD		0x100ULL

/* At most this many regions (and fds) in one SET_MEM_TABLE. */
#define VHOST_USER_MAX_REGIONS		8
/* Largest device configuration space GET_CONFIG can carry. */
#define VHOST_USER_MAX_CONFIG		256

struct vu_dev {
	int sock;
	__u64 features;		/* offered by the backend */
	__u64 acked;		/* what we set */
	__u64 protocol;		/* negotiated protocol features, if any */
	bool reply_ack;		/* REPLY_ACK negotiated: ack every SET */
};

/* Connect to the backend's socket, retrying until timeout_ms passes. */
int vu_connect(struct vu_dev *vu, const char *path, int timeout_ms,
	       bool (*alive)(void *arg), void *arg);
void vu_close(struct vu_dev *vu);

int vu_get_features(struct vu_dev *vu, __u64 *features);
int vu_set_features(struct vu_dev *vu, __u64 features);
int vu_get_protocol_features(struct vu_dev *vu, __u64 *features);
int vu_set_protocol_features(struct vu_dev *vu, __u64 features);
int vu_set_owner(struct vu_dev *vu);
int vu_set_mem_table(struct vu_dev *vu, const struct vq_mem *mem);
int vu_set_vring_num(struct vu_dev *vu, unsigned int index, unsigned int num);
int vu_set_vring_base(struct vu_dev *vu, unsigned int index,
		      unsigned int base);
int vu_get_vring_base(struct vu_dev *vu, unsigned int index, __u32 *base);
int vu_set_vring_addr(struct vu_dev *vu, const struct vq *vq);
int vu_set_vring_kick(struct vu_dev *vu, unsigned int index, int fd);
int vu_set_vring_call(struct vu_dev *vu, unsigned int index, int fd);
int vu_set_vring_enable(struct vu_dev *vu, unsigned int index, bool enable);
/* Read len bytes of the device config space at offset: len or -errno. */
int vu_get_config(struct vu_dev *vu, __u32 offset, void *buf, __u32 len);

/*
 * GET_FEATURES; when PROTOCOL_FEATURES is offered, GET/SET_PROTOCOL_FEATURES
 * with want_protocol & offered; SET_OWNER; SET_FEATURES with want & offered
 * (plus PROTOCOL_FEATURES when offered).  *acked gets the virtio features.
 */
int vu_negotiate(struct vu_dev *vu, __u64 want, __u64 want_protocol,
		 __u64 *acked);
/* NUM, BASE 0, ADDR, CALL, KICK and (with protocol features) ENABLE. */
int vu_program(struct vu_dev *vu, struct vq *vq);

#endif /* KVHOST_BENCH_VHOST_USER_H */
