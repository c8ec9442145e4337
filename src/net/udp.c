// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: UDP endpoint — see udp.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "net/udp.h"

struct udp_out {
	struct udp_peer to;
	uint16_t len;
	uint8_t data[UDP_DATAGRAM_MAX];
};

struct udpnet {
	uv_poll_t poll;
	int fd;
	int closing;
	udp_datagram_fn *fn;
	void *arg;
	struct udp_out *out;
	size_t nout, out_cap;
	struct udp_stats stats;
	/* receive batch */
	uint8_t rbuf[UDP_BATCH][UDP_DATAGRAM_MAX + 4];
	struct sockaddr_in rfrom[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} rctl[UDP_BATCH];
	struct iovec riov[UDP_BATCH];
	struct mmsghdr rmsg[UDP_BATCH];
};

static uint32_t
pktinfo_local(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			return ntohl(pi.ipi_addr.s_addr);
		}
	return 0;
}

static void
prepare_receive(struct udpnet *u)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		u->riov[i] = (struct iovec){ u->rbuf[i], sizeof(u->rbuf[i]) };
		u->rmsg[i].msg_hdr = (struct msghdr){
			.msg_name = &u->rfrom[i], .msg_namelen = sizeof(u->rfrom[i]),
			.msg_iov = &u->riov[i], .msg_iovlen = 1,
			.msg_control = u->rctl[i].buf, .msg_controllen = sizeof(u->rctl[i].buf),
		};
		u->rmsg[i].msg_len = 0;
	}
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
	struct udpnet *u = h->data;
	int got, total = 0;

	if (status < 0 || u->closing)
		return;
	do {
		prepare_receive(u);
		got = recvmmsg(u->fd, u->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < got; i++) {
			struct udp_peer from = {
				.addr = ntohl(u->rfrom[i].sin_addr.s_addr),
				.port = ntohs(u->rfrom[i].sin_port),
				.local = pktinfo_local(&u->rmsg[i].msg_hdr),
			};
			u->stats.received++;
			/* a datagram longer than the buffer arrives truncated: pass its true size so
			 * the decoder refuses it as oversized */
			size_t len = u->rmsg[i].msg_len;
			if (u->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = sizeof(u->rbuf[i]);
			u->fn(u->arg, &from, u->rbuf[i], len);
		}
		total += got > 0 ? got : 0;
	} while (got == UDP_BATCH && total < UDP_TURN_MAX && !u->closing);
}

int
udpnet_new(uv_loop_t *loop, const char *hostport, udp_datagram_fn *fn, void *arg, struct udpnet **out)
{
	char host[UEIP_HOSTPORT_MAX];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct udpnet *u;
	uint16_t port;
	int one = 1, rc, buf = 8 << 20;

	*out = NULL;
	if (ueip_hostport_split(hostport, host, sizeof(host), &port) ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return UEIP_EINVAL;
	sa.sin_port = htons(port);
	if (!(u = calloc(1, sizeof(*u))))
		return UEIP_ENOMEM;
	u->fn = fn;
	u->arg = arg;
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0 || setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) ||
	    setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(u->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		if (u->fd >= 0)
			close(u->fd);
		free(u);
		return rc;
	}
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if ((rc = uv_poll_init(loop, &u->poll, u->fd))) {
		close(u->fd);
		free(u);
		return rc;
	}
	u->poll.data = u;
	uv_poll_start(&u->poll, UV_READABLE, on_readable);
	*out = u;
	return 0;
}

int
udpnet_queue(struct udpnet *u, const struct udp_peer *to, const uint8_t *data, size_t len)
{
	struct udp_out *o;

	if (len > UDP_DATAGRAM_MAX)
		return UEIP_ETOOBIG;
	if (u->nout >= UDP_QUEUE_MAX) {
		u->stats.queue_drops++;
		return UEIP_EBUSY;
	}
	if (ueip_grow((void **)&u->out, &u->out_cap, u->nout, sizeof(*u->out)))
		return UEIP_ENOMEM;
	o = &u->out[u->nout++];
	o->to = *to;
	o->len = (uint16_t)len;
	memcpy(o->data, data, len);
	return 0;
}

size_t
udpnet_queued(const struct udpnet *u)
{
	return u->nout;
}

/* Send out[from .. from+n) with one sendmmsg; returns how many left. */
static int
send_batch(struct udpnet *u, size_t from, size_t n)
{
	struct mmsghdr msg[UDP_BATCH];
	struct sockaddr_in to[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl[UDP_BATCH];

	memset(ctl, 0, sizeof(ctl));
	for (size_t i = 0; i < n; i++) {
		struct udp_out *o = &u->out[from + i];
		to[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(o->to.port),
					      .sin_addr.s_addr = htonl(o->to.addr) };
		iov[i] = (struct iovec){ o->data, o->len };
		msg[i].msg_hdr = (struct msghdr){ .msg_name = &to[i], .msg_namelen = sizeof(to[i]),
						  .msg_iov = &iov[i], .msg_iovlen = 1 };
		if (o->to.local) {
			struct in_pktinfo pi = { .ipi_spec_dst.s_addr = htonl(o->to.local) };
			msg[i].msg_hdr.msg_control = ctl[i].buf;
			msg[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg[i].msg_hdr);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		}
	}
	size_t done = 0;
	while (done < n) {
		int rc = sendmmsg(u->fd, msg + done, (unsigned)(n - done), MSG_DONTWAIT);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			/* this datagram failed (unreachable, buffer full): count it, go on */
			u->stats.send_errors++;
			done++;
			continue;
		}
		u->stats.sent += (uint64_t)rc;
		done += (size_t)rc;
	}
	return 0;
}

void
udpnet_flush(struct udpnet *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nout; i += UDP_BATCH) {
		size_t n = u->nout - i < UDP_BATCH ? u->nout - i : UDP_BATCH;
		send_batch(u, i, n);
	}
	u->nout = 0;
}

void
udpnet_stats(const struct udpnet *u, struct udp_stats *out)
{
	*out = u->stats;
}

void
udpnet_close(struct udpnet *u)
{
	if (!u || u->closing)
		return;
	u->closing = 1;
	uv_poll_stop(&u->poll);
	uv_close((uv_handle_t *)&u->poll, NULL);
	close(u->fd);
}

void
udpnet_free(struct udpnet *u)
{
	if (!u)
		return;
	free(u->out);
	free(u);
}
