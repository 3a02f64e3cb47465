// SPDX-License-Identifier: GPL-2.0
/*
 * kvhost-net: virtio-net over tap, a drop-in for /dev/vhost-net.
 *
 * vq 0 is RX (the device writes packets from the backend into guest
 * buffers), vq 1 is TX (the device sends guest buffers to the backend).
 * VHOST_NET_SET_BACKEND attaches a tun/tap fd, a macvtap fd or a raw
 * AF_PACKET socket, as upstream.
 *
 * The virtio-net header: with VHOST_NET_F_VIRTIO_NET_HDR the device adds
 * it on RX and strips it on TX (the backend has none); otherwise it passes
 * through to a backend that has one (IFF_VNET_HDR).
 *
 * TX copies each packet once out of guest memory into a per-queue buffer
 * and sends it from there: the header is validated on that copy, so the
 * guest cannot change it between the check and the send.
 */
#include <linux/file.h>
#include <linux/if_packet.h>
#include <linux/if_tap.h>
#include <linux/if_tun.h>
#include <linux/if_vlan.h>
#include <linux/kvhost.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/nospec.h>
#include <linux/ptr_ring.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/vhost.h>
#include <net/sock.h>
#include <net/xdp.h>

#include <kvhost/kvhost.h>
#include <kvhost/net_hdr.h>

#define KVH_NET_VQ_RX		0
#define KVH_NET_VQ_TX		1
#define KVH_NET_VQ_MAX		2
/* Largest packet on TX: 64 KiB of GSO frame plus the biggest header. */
#define KVH_NET_TX_MAX		(65535 + sizeof(struct virtio_net_hdr_mrg_rxbuf))
/* Most guest buffers one RX packet may take (mergeable buffers). */
#define KVH_NET_RX_BUFS		KVH_USED_BATCH
/* RX packets taken from tun/tap's ring at a time. */
#define KVH_NET_RX_BATCH	64
/*
 * TX frames from this size on are not bounced: their guest pages are
 * pinned and handed to the backend, which copies once (the header always
 * goes from kvhost's validated copy).
 */
#define KVH_NET_TX_PIN_MIN	1024
/* Pages of one pinned frame: 64 KiB, any alignment, and its header. */
#define KVH_NET_TX_PAGES	(KVH_NET_TX_MAX / PAGE_SIZE + 8)

/**
 * struct kvh_net_q - per-vq state of the net device
 * @vq: the vq
 * @poll: the backend socket's wait queue: readable (RX) or writable (TX)
 * @rx_ring: tun/tap's ptr_ring, when the backend has one (RX only)
 * @chains: RX: the chains gathered for one packet
 * @rx_batch: RX: packets taken from @rx_ring, not yet delivered
 * @rx_head: RX: the next of them
 * @rx_tail: RX: how many there are
 * @tx_buf: TX: a small packet, copied out of guest memory
 * @tx_hdr: TX: the validated header of a pinned frame (a page of its own)
 * @tx_pages: TX: a pinned frame's guest pages
 * @tx_bvec: TX: the header and those pages, as sent
 */
struct kvh_net_q {
	struct kvh_vq *vq;
	struct kvh_poll poll;
	struct ptr_ring *rx_ring;
	struct kvh_chain *chains;
	void **rx_batch;
	unsigned int rx_head;
	unsigned int rx_tail;
	u8 *tx_buf;
	struct page *tx_hdr;
	struct page **tx_pages;
	struct bio_vec *tx_bvec;
};

struct kvh_net {
	struct kvh_dev dev;
	struct kvh_vq vqs[KVH_NET_VQ_MAX];
	struct kvh_net_q q[KVH_NET_VQ_MAX];
};

static struct kvh_net_q *kvh_net_q(struct kvh_vq *vq)
{
	struct kvh_net *n = container_of(vq->dev, struct kvh_net, dev);

	return &n->q[vq->index];
}

/*
 * Pin the guest pages of @len bytes of @iov (@n iovecs), after its first
 * @skip bytes, into @q's bvecs from @nbv on.  Returns the number of
 * bvecs in use, -E2BIG (more pages than there is room for) or -EFAULT;
 * on error no page stays pinned beyond @nbv.
 */
static int kvh_net_tx_pin(struct kvh_net_q *q, const struct iovec *iov,
			  unsigned int n, size_t skip, size_t len, int nbv)
{
	unsigned long addr, off;
	int first = nbv, np, i, got, r;
	size_t seg, chunk;
	unsigned int k;

	for (k = 0; k < n && len; k++) {
		seg = iov[k].iov_len;
		if (skip >= seg) {
			skip -= seg;
			continue;
		}
		addr = (unsigned long)iov[k].iov_base + skip;
		seg = min(seg - skip, len);
		skip = 0;
		len -= seg;
		while (seg) {
			off = offset_in_page(addr);
			np = DIV_ROUND_UP(off + seg, PAGE_SIZE);
			r = -E2BIG;
			if (nbv + np > KVH_NET_TX_PAGES)
				goto unpin;
			got = get_user_pages_fast(addr & PAGE_MASK, np, 0,
						  q->tx_pages + nbv);
			r = -EFAULT;
			if (got <= 0)
				goto unpin;
			for (i = 0; i < got; i++) {
				chunk = min_t(size_t, seg, PAGE_SIZE - off);
				q->tx_bvec[nbv].bv_page = q->tx_pages[nbv];
				q->tx_bvec[nbv].bv_offset = off;
				q->tx_bvec[nbv].bv_len = chunk;
				nbv++;
				addr += chunk;
				seg -= chunk;
				off = 0;
			}
		}
	}
	return len ? -EFAULT : nbv;

unpin:
	while (nbv > first)
		put_page(q->tx_pages[--nbv]);
	return r;
}

/*
 * Send one chain of @len bytes without the bounce: the first @hlen bytes
 * (vhost and socket headers) are copied and validated, the rest goes
 * from the pinned guest pages.  Returns sendmsg()'s result, -E2BIG when
 * the frame has too many pages (bounce it instead), -EFAULT, or -EINVAL
 * for a bad header.
 */
static int kvh_net_tx_pinned(struct kvh_vq *vq, struct kvh_net_q *q,
			     struct socket *sock, struct kvh_chain *c,
			     size_t vhost_hlen, size_t sock_hlen, size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	size_t hlen = vhost_hlen + sock_hlen;
	u8 *hdr = page_address(q->tx_hdr);
	struct iov_iter from;
	int nbv = 0, r, i;

	iov_iter_init(&from, WRITE, c->iov, c->out, len);
	if (copy_from_iter(hdr, hlen, &from) != hlen)
		return -EFAULT;
	if (sock_hlen &&
	    !kvh_net_tx_hdr_ok(kvh_vq_little_endian(vq), (void *)hdr,
			       len - vhost_hlen - sock_hlen))
		return -EINVAL;
	if (sock_hlen) {
		q->tx_bvec[0].bv_page = q->tx_hdr;
		q->tx_bvec[0].bv_offset = vhost_hlen;
		q->tx_bvec[0].bv_len = sock_hlen;
		nbv = 1;
	}
	r = kvh_net_tx_pin(q, c->iov, c->out, hlen, len - hlen, nbv);
	if (r < 0)
		return r;
	iov_iter_bvec(&msg.msg_iter, WRITE, q->tx_bvec, r, len - vhost_hlen);
	nbv = r;
	r = sock->ops->sendmsg(sock, &msg, len - vhost_hlen);
	for (i = sock_hlen ? 1 : 0; i < nbv; i++)
		put_page(q->tx_pages[i]);
	return r;
}

static void kvh_net_tx(struct kvh_vq *vq)
{
	struct kvh_net_q *q = kvh_net_q(vq);
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	size_t vhost_hlen, sock_hlen, len;
	unsigned int reqs = 0;
	struct iov_iter from;
	struct kvh_chain c;
	struct socket *sock;
	struct kvec kv;
	u64 bytes = 0;
	int r;

	mutex_lock(&vq->mutex);
	sock = vq->backend;
	if (!sock || vq->broken)
		goto out;
	kvh_poll_stop(&q->poll);
	kvh_net_hlens(vq->features, &vhost_hlen, &sock_hlen);
	kvh_vq_disable_notify(vq);
	while (!vq->broken) {
		r = kvh_vq_next_chain(vq, &c);
		if (r)
			break;
		if (c.in) {
			kvh_vq_fail_reason(vq, KVH_E_DEVICE, -EINVAL);
			break;
		}
		len = c.out_len;
		bytes += len;
		if (len < vhost_hlen + sock_hlen || len > KVH_NET_TX_MAX) {
			vq->drops++;
			goto done;
		}
		if (len >= KVH_NET_TX_PIN_MIN) {
			r = kvh_net_tx_pinned(vq, q, sock, &c, vhost_hlen,
					      sock_hlen, len);
			if (r == -EINVAL) {
				vq->drops++;
				goto done;
			}
			if (r == -EFAULT) {
				kvh_vq_fail_reason(vq, KVH_E_UNMAPPED, -EFAULT);
				break;
			}
			if (r != -E2BIG)
				goto sent;
		}
		iov_iter_init(&from, WRITE, c.iov, c.out, len);
		if (copy_from_iter(q->tx_buf, len, &from) != len) {
			kvh_vq_fail_reason(vq, KVH_E_UNMAPPED, -EFAULT);
			break;
		}
		if (sock_hlen &&
		    !kvh_net_tx_hdr_ok(kvh_vq_little_endian(vq),
				       (void *)q->tx_buf, len - sock_hlen)) {
			vq->drops++;
			goto done;
		}
		kv.iov_base = q->tx_buf + vhost_hlen;
		kv.iov_len = len - vhost_hlen;
		iov_iter_kvec(&msg.msg_iter, WRITE, &kv, 1, kv.iov_len);
		r = sock->ops->sendmsg(sock, &msg, kv.iov_len);
sent:
		if (r == -EAGAIN || r == -ENOMEM || r == -ENOBUFS) {
			/* Backend full: retry this chain when it drains. */
			kvh_vq_unget(vq, 1);
			kvh_poll_start(&q->poll, sock->file);
			break;
		}
		if (r != len - vhost_hlen)
			vq->drops++;
done:
		if (kvh_vq_add_used(vq, &c, 0))
			break;
		if (kvh_vq_exceeds_weight(vq, ++reqs, bytes))
			break;
	}
	kvh_vq_flush_used(vq);
out:
	mutex_unlock(&vq->mutex);
}

static int kvh_net_ptr_len(void *ptr)
{
	struct sk_buff *skb;

	if (!ptr)
		return 0;
	if (tun_is_xdp_frame(ptr))
		return tun_ptr_to_xdp(ptr)->len;
	skb = ptr;
	return skb->len + (skb_vlan_tag_present(skb) ? VLAN_HLEN : 0);
}

/* As tun_ptr_free(), without needing tun: an skb or tun's XDP frame. */
static void kvh_net_ptr_free(void *ptr)
{
	if (!ptr)
		return;
	if (tun_is_xdp_frame(ptr))
		xdp_return_frame(tun_ptr_to_xdp(ptr));
	else
		kfree_skb(ptr);
}

/*
 * The next packet of a tun/tap backend: from the batch, refilled from the
 * ring 64 at a time (one ring lock for all of them).  NULL if none.
 */
static void *kvh_net_rx_next(struct kvh_net_q *q)
{
	if (q->rx_head == q->rx_tail) {
		q->rx_head = 0;
		q->rx_tail = ptr_ring_consume_batched(q->rx_ring, q->rx_batch,
						      KVH_NET_RX_BATCH);
	}
	return q->rx_head < q->rx_tail ? q->rx_batch[q->rx_head] : NULL;
}

/* Take the next packet for recvmsg()'s msg_control; NULL for sockets. */
static void *kvh_net_rx_take(struct kvh_net_q *q)
{
	if (!q->rx_ring || q->rx_head == q->rx_tail)
		return NULL;
	return q->rx_batch[q->rx_head++];
}

/*
 * Give the batched packets back to the ring, in order, when the vq stops
 * or changes backend.  The vq is stopped; the ring's owner still holds it.
 */
static void kvh_net_rx_unbatch(struct kvh_net_q *q)
{
	if (q->rx_ring && q->rx_head < q->rx_tail)
		ptr_ring_unconsume(q->rx_ring, q->rx_batch + q->rx_head,
				   q->rx_tail - q->rx_head, kvh_net_ptr_free);
	q->rx_head = 0;
	q->rx_tail = 0;
}

/* Length of the next packet the backend holds, 0 if none. */
static int kvh_net_peek_len(struct kvh_net_q *q, struct socket *sock)
{
	struct sk_buff_head *queue = &sock->sk->sk_receive_queue;
	unsigned long flags;
	int len;

	if (q->rx_ring)
		return kvh_net_ptr_len(kvh_net_rx_next(q));
	spin_lock_irqsave(&queue->lock, flags);
	len = kvh_net_ptr_len(skb_peek(queue));
	spin_unlock_irqrestore(&queue->lock, flags);
	return len;
}

/* A busy-poll condition: the backend has a packet for the guest. */
static bool kvh_net_rx_pending(struct kvh_vq *vq)
{
	return kvh_net_peek_len(kvh_net_q(vq), vq->backend) > 0;
}

/*
 * Gather guest buffers for @len bytes: one chain, or up to
 * KVH_NET_RX_BUFS with mergeable buffers.  Returns the number of chains
 * (their iovecs are contiguous in vq->iov), 0 when the guest has not
 * posted enough (nothing consumed), -ENOSPC when the packet can never fit
 * (one buffer too small, or too many needed: nothing consumed), or a
 * negative errno after a guest error (the vq is broken).
 */
static int kvh_net_rx_bufs(struct kvh_vq *vq, struct kvh_net_q *q,
			   size_t len, bool mergeable, unsigned int *iovs)
{
	unsigned int n = 0, seg = 0, quota;
	struct kvh_chain *c;
	size_t have = 0;
	int r;

	quota = mergeable ? KVH_NET_RX_BUFS : 1;
	while (have < len) {
		if (n == quota) {
			r = -ENOSPC;
			goto unget;
		}
		c = &q->chains[n];
		r = kvh_vq_get_chain_at(vq, c, seg);
		if (r == -EAGAIN || r == -ENOBUFS) {
			r = r == -EAGAIN ? 0 : -ENOSPC;
			goto unget;
		}
		if (r)
			return r;
		n++;
		if (c->out || !c->in) {
			kvh_vq_fail_reason(vq, KVH_E_DEVICE, -EINVAL);
			return -EINVAL;
		}
		seg += c->in;
		have += c->in_len;
	}
	*iovs = seg;
	return n;

unget:
	kvh_vq_unget(vq, n);
	return r;
}

/* Drop the backend's next packet (it cannot be delivered). */
static void kvh_net_rx_discard(struct kvh_net_q *q, struct socket *sock)
{
	struct msghdr msg = {
		.msg_flags = MSG_DONTWAIT | MSG_TRUNC,
		.msg_control = kvh_net_rx_take(q),
	};
	struct kvec kv = { .iov_base = NULL, .iov_len = 0 };

	iov_iter_kvec(&msg.msg_iter, READ, &kv, 0, 0);
	sock->ops->recvmsg(sock, &msg, 0, MSG_DONTWAIT | MSG_TRUNC);
}

/* Publish the chains of one packet; all in one used-index update. */
static int kvh_net_rx_complete(struct kvh_vq *vq, struct kvh_net_q *q,
			       int n, size_t len)
{
	u32 part;
	int i;

	/* Never split a packet's buffers across two used-index updates. */
	kvh_vq_reserve_used(vq, n);
	for (i = 0; i < n; i++) {
		part = min_t(size_t, len, q->chains[i].in_len);
		if (kvh_vq_add_used(vq, &q->chains[i], part))
			return -EFAULT;
		len -= part;
	}
	return 0;
}

static void kvh_net_rx(struct kvh_vq *vq)
{
	struct kvh_net_q *q = kvh_net_q(vq);
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	size_t vhost_hlen, sock_hlen, sock_len, vhost_len;
	struct virtio_net_hdr hdr = {
		.gso_type = VIRTIO_NET_HDR_GSO_NONE,
	};
	struct iov_iter fixup;
	struct socket *sock;
	unsigned int reqs = 0, iovs;
	__virtio16 nbufs;
	bool mergeable, dry = false;
	u64 bytes = 0;
	int n, len, r;

	mutex_lock(&vq->mutex);
	sock = vq->backend;
	if (!sock || vq->broken)
		goto out;
	kvh_poll_stop(&q->poll);
	kvh_net_hlens(vq->features, &vhost_hlen, &sock_hlen);
	mergeable = vq->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	kvh_vq_disable_notify(vq);
	while (!vq->broken) {
		len = kvh_net_peek_len(q, sock);
		if (!len) {
			kvh_vq_flush_used(vq);
			if (kvh_vq_busy_poll(vq, kvh_net_rx_pending))
				continue;
			dry = true;
			break;
		}
		sock_len = len + sock_hlen;
		vhost_len = sock_len + vhost_hlen;
		n = kvh_net_rx_bufs(vq, q, vhost_len, mergeable, &iovs);
		if (n == -ENOSPC) {
			/* Can never fit: drop it rather than stall. */
			kvh_net_rx_discard(q, sock);
			vq->drops++;
			goto next;
		}
		if (n < 0)
			break;
		if (!n) {
			/* Too few buffers: wait for the guest's next kick. */
			if (kvh_vq_enable_notify(vq)) {
				kvh_vq_disable_notify(vq);
				continue;
			}
			break;
		}
		iov_iter_init(&msg.msg_iter, READ, vq->iov, iovs, vhost_len);
		fixup = msg.msg_iter;
		iov_iter_advance(&msg.msg_iter, vhost_hlen);
		/* tun/tap: this very packet, already out of their ring. */
		msg.msg_control = kvh_net_rx_take(q);
		r = sock->ops->recvmsg(sock, &msg, sock_len,
				       MSG_DONTWAIT | MSG_TRUNC);
		if (r != sock_len) {
			/* A fault, or someone else read the socket. */
			kvh_vq_unget(vq, n);
			vq->drops++;
			goto next;
		}
		if (vhost_hlen) {
			if (copy_to_iter(&hdr, sizeof(hdr), &fixup) !=
			    sizeof(hdr))
				goto fault;
		} else {
			iov_iter_advance(&fixup, sizeof(hdr));
		}
		/* num_buffers, whenever the header has the field. */
		nbufs = __cpu_to_virtio16(kvh_vq_little_endian(vq), n);
		if (vhost_hlen + sock_hlen == sizeof(struct virtio_net_hdr_mrg_rxbuf) &&
		    copy_to_iter(&nbufs, sizeof(nbufs), &fixup) != sizeof(nbufs))
			goto fault;
		if (kvh_net_rx_complete(vq, q, n, vhost_len))
			break;
		bytes += vhost_len;
next:
		/*
		 * Dropped packets count too: a flood the guest's buffers can
		 * never take must not keep the worker here (CVE-2019-3900).
		 */
		if (kvh_vq_exceeds_weight(vq, ++reqs, bytes))
			break;
	}
	kvh_vq_flush_used(vq);
	/* Ran dry: wake on the next packet (queues us if one just came). */
	if (dry && !vq->broken)
		kvh_poll_start(&q->poll, sock->file);
	goto out;
fault:
	kvh_vq_unget(vq, n);
	kvh_vq_fail_reason(vq, KVH_E_UNMAPPED, -EFAULT);
	kvh_vq_flush_used(vq);
out:
	mutex_unlock(&vq->mutex);
}

static void kvh_net_handle(struct kvh_vq *vq)
{
	if (vq->index == KVH_NET_VQ_RX)
		kvh_net_rx(vq);
	else
		kvh_net_tx(vq);
}

static void kvh_net_sock_work(struct kvh_work *work)
{
	struct kvh_net_q *q = container_of(work, struct kvh_net_q, poll.work);

	kvh_net_handle(q->vq);
}

/*
 * tun and tap are optional modules: reach them by symbol lookup, so kvhost
 * loads without them and a tap fd (which pins its module) still works.
 */
static struct socket *kvh_net_tap_socket(struct file *file,
					 struct ptr_ring **ring)
{
	struct socket *(*get_sock)(struct file *file);
	struct ptr_ring *(*get_ring)(struct file *file);
	struct socket *sock = ERR_PTR(-ENOTSOCK);

	*ring = NULL;
	get_sock = symbol_get(tun_get_socket);
	if (get_sock) {
		sock = get_sock(file);
		symbol_put(tun_get_socket);
		if (!IS_ERR(sock)) {
			get_ring = symbol_get(tun_get_tx_ring);
			if (get_ring) {
				*ring = get_ring(file);
				symbol_put(tun_get_tx_ring);
			}
			goto out;
		}
	}
	get_sock = symbol_get(tap_get_socket);
	if (get_sock) {
		sock = get_sock(file);
		symbol_put(tap_get_socket);
		if (!IS_ERR(sock)) {
			get_ring = symbol_get(tap_get_ptr_ring);
			if (get_ring) {
				*ring = get_ring(file);
				symbol_put(tap_get_ptr_ring);
			}
		}
	}
out:
	if (IS_ERR(*ring))
		*ring = NULL;
	return sock;
}

/*
 * The backend socket for @fd, holding a reference on its file; NULL for
 * -1.  As upstream: a raw AF_PACKET socket, a tun/tap or macvtap fd, else
 * -ENOTSOCK (or the raw socket's -ESOCKTNOSUPPORT/-EPFNOSUPPORT).
 */
static struct socket *kvh_net_get_socket(int fd, struct ptr_ring **ring)
{
	struct socket *sock;
	struct file *file;
	int r;

	*ring = NULL;
	if (fd == -1)
		return NULL;
	sock = sockfd_lookup(fd, &r);
	if (sock) {
		if (sock->sk->sk_type == SOCK_RAW &&
		    sock->sk->sk_family == AF_PACKET)
			return sock;
		sockfd_put(sock);
	}
	file = fget(fd);
	if (!file)
		return ERR_PTR(-ENOTSOCK);
	sock = kvh_net_tap_socket(file, ring);
	if (IS_ERR(sock)) {
		fput(file);
		return ERR_PTR(-ENOTSOCK);
	}
	return sock;
}

static void kvh_net_put_socket(struct socket *sock)
{
	if (sock)
		fput(sock->file);
}

/* Start @vq on @sock.  vq->mutex held. */
static int kvh_net_start(struct kvh_vq *vq, struct kvh_net_q *q,
			 struct socket *sock, struct ptr_ring *ring)
{
	int r;

	q->poll.worker = vq->worker;
	q->rx_ring = vq->index == KVH_NET_VQ_RX ? ring : NULL;
	r = kvh_vq_start(vq, sock);
	if (!r && vq->index == KVH_NET_VQ_RX)
		kvh_poll_start(&q->poll, sock->file);
	return r;
}

static long kvh_net_set_backend(struct kvh_dev *dev,
				struct vhost_vring_file __user *argp)
{
	struct kvh_net *n = container_of(dev, struct kvh_net, dev);
	struct ptr_ring *ring, *old_ring;
	struct socket *sock, *old;
	struct vhost_vring_file f;
	struct kvh_net_q *q;
	struct kvh_vq *vq;
	long r;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	mutex_lock(&dev->mutex);
	r = kvh_dev_check_owner(dev);
	if (r)
		goto out;
	r = -ENOBUFS;
	if (f.index >= KVH_NET_VQ_MAX)
		goto out;
	f.index = array_index_nospec(f.index, KVH_NET_VQ_MAX);
	vq = &n->vqs[f.index];
	q = &n->q[f.index];

	/*
	 * As upstream's vhost_vq_access_ok(), before the fd: a memory table
	 * must be set, the log must cover what the vq would log, and a
	 * configured ring must be accessible (even to detach).
	 */
	kvh_vq_lock_ctl(vq);
	r = dev->mem && kvh_vq_log_ok(vq, kvh_vq_log_base(vq)) &&
	    kvh_vq_rings_access_ok(vq) ? 0 : -EFAULT;
	mutex_unlock(&vq->mutex);
	if (r)
		goto out;
	sock = kvh_net_get_socket(f.fd, &ring);
	if (IS_ERR(sock)) {
		r = PTR_ERR(sock);
		goto out;
	}
	old = kvh_vq_stop(vq);
	kvh_net_rx_unbatch(q);
	old_ring = q->rx_ring;
	r = 0;
	kvh_vq_lock_ctl(vq);
	if (sock) {
		r = kvh_net_start(vq, q, sock, ring);
		/* As upstream: a backend that cannot start leaves the old. */
		if (r && old && !kvh_net_start(vq, q, old, old_ring))
			old = NULL;
	}
	mutex_unlock(&vq->mutex);
	if (r)
		kvh_net_put_socket(sock);
	kvh_net_put_socket(old);
out:
	mutex_unlock(&dev->mutex);
	return r;
}

static long kvh_net_ioctl(struct kvh_dev *dev, unsigned int cmd,
			  void __user *argp)
{
	if (cmd == VHOST_NET_SET_BACKEND)
		return kvh_net_set_backend(dev, argp);
	return -ENOIOCTLCMD;
}

static void kvh_net_stop(struct kvh_dev *dev)
{
	struct kvh_net *n = container_of(dev, struct kvh_net, dev);
	struct socket *sock;
	unsigned int i;

	for (i = 0; i < dev->nvqs; i++) {
		sock = kvh_vq_stop(&dev->vqs[i]);
		kvh_net_rx_unbatch(&n->q[i]);
		kvh_net_put_socket(sock);
	}
}

static void kvh_net_free(struct kvh_dev *dev)
{
	struct kvh_net *n = container_of(dev, struct kvh_net, dev);

	struct kvh_net_q *tx = &n->q[KVH_NET_VQ_TX];

	kvfree(n->q[KVH_NET_VQ_RX].chains);
	kfree(n->q[KVH_NET_VQ_RX].rx_batch);
	kvfree(tx->tx_buf);
	kfree(tx->tx_pages);
	kfree(tx->tx_bvec);
	if (tx->tx_hdr)
		__free_page(tx->tx_hdr);
	kvfree(n);
}

static struct kvh_dev *kvh_net_alloc(void)
{
	struct kvh_net *n;
	int i;

	n = kvzalloc(sizeof(*n), GFP_KERNEL_ACCOUNT);
	if (!n)
		return NULL;
	kvh_dev_init(&n->dev, &kvh_net_ops, n->vqs, KVH_NET_VQ_MAX,
		     kvh_net_handle);
	for (i = 0; i < KVH_NET_VQ_MAX; i++) {
		n->q[i].vq = &n->vqs[i];
		kvh_poll_init(&n->q[i].poll, kvh_net_sock_work,
			      i == KVH_NET_VQ_RX ? EPOLLIN : EPOLLOUT);
		n->vqs[i].backend_poll = &n->q[i].poll;
	}
	n->q[KVH_NET_VQ_RX].chains =
		kvmalloc_array(KVH_NET_RX_BUFS, sizeof(struct kvh_chain),
			       GFP_KERNEL_ACCOUNT);
	n->q[KVH_NET_VQ_RX].rx_batch =
		kcalloc(KVH_NET_RX_BATCH, sizeof(void *), GFP_KERNEL_ACCOUNT);
	n->q[KVH_NET_VQ_TX].tx_buf = kvmalloc(KVH_NET_TX_MAX,
					      GFP_KERNEL_ACCOUNT);
	n->q[KVH_NET_VQ_TX].tx_hdr = alloc_page(GFP_KERNEL_ACCOUNT);
	n->q[KVH_NET_VQ_TX].tx_pages =
		kcalloc(KVH_NET_TX_PAGES, sizeof(struct page *),
			GFP_KERNEL_ACCOUNT);
	n->q[KVH_NET_VQ_TX].tx_bvec =
		kcalloc(KVH_NET_TX_PAGES, sizeof(struct bio_vec),
			GFP_KERNEL_ACCOUNT);
	if (!n->q[KVH_NET_VQ_RX].chains || !n->q[KVH_NET_VQ_RX].rx_batch ||
	    !n->q[KVH_NET_VQ_TX].tx_buf ||
	    !n->q[KVH_NET_VQ_TX].tx_hdr || !n->q[KVH_NET_VQ_TX].tx_pages ||
	    !n->q[KVH_NET_VQ_TX].tx_bvec) {
		kvh_net_free(&n->dev);
		return NULL;
	}
	return &n->dev;
}

const struct kvh_dev_ops kvh_net_ops = {
	.name = KVHOST_NET_NODE,
	.features = KVH_NET_FEATURES,
	.alloc = kvh_net_alloc,
	.free = kvh_net_free,
	.stop = kvh_net_stop,
	.ioctl = kvh_net_ioctl,
};
EXPORT_SYMBOL_IF_KVH_KUNIT(kvh_net_ops);
