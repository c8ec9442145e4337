// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/err.h"
#include "core/log.h"
#include "core/addr.h"
#include "net/setpeer.h"

#define CONN_READ_MAX (UEIP_SET_HDR_LEN + UEIP_SET_BODY_MAX + UEIP_SET_MAC_LEN)
#define CONN_WRITE_QUEUE_MAX (64u << 20)
#define RETRY_MS 1000

enum conn_state { CONN_CONNECTING, CONN_HELLO_WAIT, CONN_UP, CONN_CLOSING };

struct setconn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct setnet *net;
	struct setpeer *peer;		/* NULL until an incoming HELLO names it */
	struct setconn *next;		/* in net->conns */
	uint64_t id;
	int outgoing;
	enum conn_state state;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t key[UEIP_SET_MAC_LEN];
	uint8_t nonce[UEIP_SET_NONCE_LEN];
	uint64_t send_seq, recv_seq;
};

struct setpeer {
	struct setnet *net;
	int used;
	char id[UEIP_MEMBER_ID_MAX];
	char address[UEIP_HOSTPORT_MAX];
	struct setconn *out;
	uv_timer_t retry;
	int retry_init;
};

struct setnet {
	uv_loop_t *loop;
	struct setnet_params p;
	char set_id[UEIP_NAME_MAX], self_id[UEIP_MEMBER_ID_MAX];
	uint8_t key[UEIP_SET_KEY_MAX];
	struct setnet_hooks hooks;
	uv_tcp_t listener;
	struct setpeer peers[UEIP_MEMBERS_MAX * 2];
	struct setconn *conns;
	uint64_t next_conn_id;
	struct ueip_buf out;
};

static void conn_close(struct setconn *c, const char *why);
static void peer_connect(struct setpeer *peer);
static void on_retry(uv_timer_t *t);

const char *
setpeer_id(const struct setpeer *peer)
{
	return peer->id;
}

const char *
setpeer_address(const struct setpeer *peer)
{
	return peer->address;
}

int
setpeer_is_up(const struct setpeer *peer)
{
	return peer->out && peer->out->state == CONN_UP;
}

struct setpeer *
setconn_peer(const struct setconn *conn)
{
	return conn->peer;
}

uint64_t
setconn_id(const struct setconn *conn)
{
	return conn ? conn->id : 0;
}

struct setconn *
setnet_conn_find(struct setnet *net, uint64_t id)
{
	for (struct setconn *c = net->conns; c; c = c->next)
		if (c->id == id && c->state == CONN_UP)
			return c;
	return NULL;
}

static const char *
conn_name(const struct setconn *c)
{
	return c->peer ? c->peer->id : "(unidentified)";
}

static int
sockaddr_of(const char *hostport, struct sockaddr_storage *sa)
{
	char host[UEIP_HOSTPORT_MAX];
	uint16_t port;

	if (ueip_hostport_split(hostport, host, sizeof(host), &port))
		return UEIP_EINVAL;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0)
		return 0;
	return UEIP_EINVAL;
}

/* ---- writing ---- */

static void
on_written(uv_write_t *req, int status)
{
	free(req->data);
	free(req);
}

static int
conn_write(struct setconn *c, const uint8_t *data, size_t len)
{
	uv_write_t *req;
	uv_buf_t buf;

	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > CONN_WRITE_QUEUE_MAX) {
		conn_close(c, "write queue over its cap (peer not reading)");
		return UEIP_EUNREACHABLE;
	}
	req = malloc(sizeof(*req));
	buf.base = malloc(len);
	if (!req || !buf.base) {
		free(req);
		free(buf.base);
		return UEIP_ENOMEM;
	}
	memcpy(buf.base, data, len);
	buf.len = len;
	req->data = buf.base;
	if (uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, on_written)) {
		free(buf.base);
		free(req);
		conn_close(c, "write failed");
		return UEIP_EUNREACHABLE;
	}
	return 0;
}

struct ueip_buf *
setnet_begin(struct setnet *net, unsigned type)
{
	ueip_buf_reset(&net->out);
	ueip_set_begin(&net->out, type);
	return &net->out;
}

static int
conn_send(struct setconn *c)
{
	struct setnet *net = c->net;
	int rc;

	if (!c || c->state != CONN_UP)
		return UEIP_EUNREACHABLE;
	rc = ueip_set_seal(&net->out, 0, ++c->send_seq, c->key, sizeof(c->key));
	if (rc) {
		ueip_log_err("set", "peer %s: frame %s not sent: %s", conn_name(c),
			     ueip_set_type_name(net->out.data[3]), ueip_strerror(rc));
		c->send_seq--;
		return rc;
	}
	return conn_write(c, net->out.data, net->out.len);
}

int
setnet_send_request(struct setnet *net, struct setpeer *peer)
{
	if (!peer->out || peer->out->state != CONN_UP)
		return UEIP_EUNREACHABLE;
	return conn_send(peer->out);
}

int
setnet_send_reply(struct setnet *net, struct setconn *conn)
{
	return conn ? conn_send(conn) : UEIP_EUNREACHABLE;
}

static int
send_hello(struct setconn *c)
{
	struct setnet *net = c->net;
	struct ueip_buf *b = setnet_begin(net, UEIP_SET_HELLO);

	if (getrandom(c->nonce, sizeof(c->nonce), 0) != (ssize_t)sizeof(c->nonce))
		return UEIP_EAUTH;
	ueip_set_put_str(b, net->self_id);
	ueip_set_put_str(b, net->set_id);
	ueip_set_put_u64(b, net->p.epoch(net->p.epoch_arg));
	ueip_set_put_u64(b, net->p.incarnation);
	ueip_set_put_bytes(b, c->nonce, sizeof(c->nonce));
	if (ueip_set_seal(b, 0, 0, net->key, net->p.key_len))
		return UEIP_ETOOBIG;
	return conn_write(c, b->data, b->len);
}

/* ---- closing ---- */

static void
on_conn_closed(uv_handle_t *h)
{
	struct setconn *c = h->data;

	free(c->rbuf);
	free(c);
}

static void
conn_unlink(struct setconn *c)
{
	for (struct setconn **pp = &c->net->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

static void
conn_close(struct setconn *c, const char *why)
{
	struct setnet *net = c->net;
	enum conn_state was = c->state;

	if (was == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	conn_unlink(c);
	ueip_log_info("set", "peer %s: %s connection closed: %s", conn_name(c),
		      c->outgoing ? "outgoing" : "incoming", why);
	if (c->outgoing && c->peer) {
		struct setpeer *peer = c->peer;
		peer->out = NULL;
		if (peer->used)
			uv_timer_start(&peer->retry, on_retry, RETRY_MS, 0);
		if (was == CONN_UP && net->hooks.on_out_down)
			net->hooks.on_out_down(net->hooks.arg, peer);
	} else if (!c->outgoing && c->peer && was == CONN_UP && net->hooks.on_in_down) {
		net->hooks.on_in_down(net->hooks.arg, c->peer, c);
	}
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- reading ---- */

static int
hello_check(struct setconn *c, const struct ueip_setmsg *m)
{
	struct setnet *net = c->net;

	if (m->type != UEIP_SET_HELLO || strcmp(m->set_id, net->set_id) != 0)
		return UEIP_ENOTMEMBER;
	if (c->outgoing)
		return strcmp(m->member, c->peer->id) == 0 ? 0 : UEIP_ENOTMEMBER;
	c->peer = setnet_peer_find(net, m->member);
	return c->peer ? 0 : UEIP_ENOTMEMBER;
}

static void
hello_received(struct setconn *c, const struct ueip_setmsg *m)
{
	struct setnet *net = c->net;
	int rc = hello_check(c, m);

	if (rc) {
		ueip_log_warn("set", "refused HELLO from '%s' of set '%s': %s", m->member, m->set_id,
			      ueip_strerror(rc));
		conn_close(c, "not a member of this set");
		return;
	}
	if (!c->outgoing && send_hello(c))
		return conn_close(c, "cannot answer HELLO");
	if (c->outgoing)
		ueip_set_derive_key(net->key, net->p.key_len, c->nonce, m->nonce, c->key);
	else
		ueip_set_derive_key(net->key, net->p.key_len, m->nonce, c->nonce, c->key);
	c->state = CONN_UP;
	ueip_log_info("set", "peer %s: %s connection up (peer epoch %llu, incarnation %llu)",
		      c->peer->id, c->outgoing ? "outgoing" : "incoming",
		      (unsigned long long)m->epoch, (unsigned long long)m->incarnation);
	if (c->outgoing && net->hooks.on_out_up)
		net->hooks.on_out_up(net->hooks.arg, c->peer, m->epoch);
}

/* Handle one complete frame; returns 0 to go on, non-zero when c was closed. */
static int
frame_received(struct setconn *c, const uint8_t *data, size_t len)
{
	struct setnet *net = c->net;
	struct ueip_setmsg m;
	int rc;

	if (c->state == CONN_HELLO_WAIT) {
		rc = ueip_setmsg_decode(data, len, net->key, net->p.key_len, &m);
		if (rc) {
			ueip_log_warn("set", "bad HELLO on %s connection: %s",
				      c->outgoing ? "outgoing" : "incoming", ueip_strerror(rc));
			conn_close(c, "bad HELLO");
			return 1;
		}
		hello_received(c, &m);
		return c->state != CONN_UP;
	}
	rc = ueip_setmsg_decode(data, len, c->key, sizeof(c->key), &m);
	if (!rc && m.seq != c->recv_seq + 1)
		rc = UEIP_EAUTH;
	if (rc) {
		ueip_log_warn("set", "peer %s: frame refused: %s", conn_name(c), ueip_strerror(rc));
		conn_close(c, "bad frame");
		return 1;
	}
	c->recv_seq = m.seq;
	net->hooks.on_frame(net->hooks.arg, c->peer, c, &m);
	return c->state != CONN_UP;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct setconn *c = h->data;
	size_t want = c->rlen + 65536;

	if (want > CONN_READ_MAX)
		want = CONN_READ_MAX;
	if (want > c->rcap) {
		uint8_t *grown = realloc(c->rbuf, want);
		if (grown) {
			c->rbuf = grown;
			c->rcap = want;
		}
	}
	buf->base = (char *)c->rbuf + c->rlen;
	buf->len = c->rcap - c->rlen;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct setconn *c = s->data;
	size_t off = 0;

	if (n < 0)
		return conn_close(c, n == UV_EOF ? "closed by peer" : uv_strerror((int)n));
	c->rlen += (size_t)n;
	while (c->state != CONN_CLOSING) {
		long frame = ueip_set_frame_len(c->rbuf + off, c->rlen - off);
		if (frame < 0) {
			ueip_log_warn("set", "peer %s: bad frame header: %s", conn_name(c),
				      ueip_strerror((int)frame));
			return conn_close(c, "bad frame header");
		}
		if (frame == 0)
			break;
		if (frame_received(c, c->rbuf + off, (size_t)frame))
			return;
		off += (size_t)frame;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	if (c->rlen == c->rcap && c->rcap == CONN_READ_MAX)
		conn_close(c, "frame larger than the read cap");
}

/* ---- connections ---- */

static struct setconn *
conn_new(struct setnet *net, int outgoing)
{
	struct setconn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->net = net;
	c->outgoing = outgoing;
	c->id = ++net->next_conn_id;
	uv_tcp_init(net->loop, &c->tcp);
	c->tcp.data = c;
	uv_tcp_nodelay(&c->tcp, 1);
	c->next = net->conns;
	net->conns = c;
	return c;
}

static void
on_connected(uv_connect_t *req, int status)
{
	struct setconn *c = req->data;

	if (c->state == CONN_CLOSING)
		return;
	if (status < 0) {
		ueip_log_debug("set", "peer %s: connect: %s", conn_name(c), uv_strerror(status));
		return conn_close(c, "connect failed");
	}
	c->state = CONN_HELLO_WAIT;
	if (send_hello(c))
		return conn_close(c, "cannot send HELLO");
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
peer_connect(struct setpeer *peer)
{
	struct sockaddr_storage sa;
	struct setconn *c;

	if (peer->out)
		return;
	if (sockaddr_of(peer->address, &sa)) {
		ueip_log_err("set", "peer %s: bad address %s", peer->id, peer->address);
		return;
	}
	if (!(c = conn_new(peer->net, 1)))
		return;
	c->peer = peer;
	c->state = CONN_CONNECTING;
	c->connect_req.data = c;
	peer->out = c;
	if (uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&sa, on_connected))
		conn_close(c, "connect failed");
}

static void
on_retry(uv_timer_t *t)
{
	struct setpeer *peer = t->data;

	if (peer->used)
		peer_connect(peer);
}

static void
on_accept(uv_stream_t *server, int status)
{
	struct setnet *net = server->data;
	struct setconn *c;

	if (status < 0 || !(c = conn_new(net, 0)))
		return;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		conn_close(c, "accept failed");
		return;
	}
	c->state = CONN_HELLO_WAIT;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int
setnet_new(uv_loop_t *loop, const struct setnet_params *p, const struct setnet_hooks *hooks,
	   struct setnet **out)
{
	struct setnet *net = calloc(1, sizeof(*net));
	struct sockaddr_storage sa;
	int rc;

	*out = NULL;
	if (!net)
		return UEIP_ENOMEM;
	net->loop = loop;
	net->p = *p;
	net->hooks = *hooks;
	snprintf(net->set_id, sizeof(net->set_id), "%s", p->set_id);
	snprintf(net->self_id, sizeof(net->self_id), "%s", p->self_id);
	memcpy(net->key, p->key, p->key_len);
	ueip_buf_init(&net->out, UEIP_SET_HDR_LEN + UEIP_SET_BODY_MAX + UEIP_SET_MAC_LEN);
	uv_tcp_init(loop, &net->listener);
	net->listener.data = net;
	if (sockaddr_of(p->listen, &sa)) {
		free(net);
		return UEIP_EINVAL;
	}
	if ((rc = uv_tcp_bind(&net->listener, (struct sockaddr *)&sa, 0)) ||
	    (rc = uv_listen((uv_stream_t *)&net->listener, 64, on_accept))) {
		ueip_log_err("set", "cannot listen on %s: %s", p->listen, uv_strerror(rc));
		uv_close((uv_handle_t *)&net->listener, NULL);
		*out = net;	/* the caller frees it after the loop closed the handle */
		return rc;
	}
	*out = net;
	return 0;
}

void
setnet_free(struct setnet *net)
{
	if (!net)
		return;
	ueip_buf_deinit(&net->out);
	free(net);
}

void
setnet_close_all(struct setnet *net)
{
	while (net->conns)
		conn_close(net->conns, "shutting down");
	for (unsigned i = 0; i < sizeof(net->peers) / sizeof(net->peers[0]); i++) {
		if (net->peers[i].retry_init) {
			net->peers[i].used = 0;
			uv_close((uv_handle_t *)&net->peers[i].retry, NULL);
			net->peers[i].retry_init = 0;
		}
	}
	if (!uv_is_closing((uv_handle_t *)&net->listener))
		uv_close((uv_handle_t *)&net->listener, NULL);
}

struct setpeer *
setnet_peer_find(struct setnet *net, const char *id)
{
	for (unsigned i = 0; i < sizeof(net->peers) / sizeof(net->peers[0]); i++)
		if (net->peers[i].used && strcmp(net->peers[i].id, id) == 0)
			return &net->peers[i];
	return NULL;
}

struct setpeer *
setnet_peer_set(struct setnet *net, const char *id, const char *address)
{
	struct setpeer *peer = setnet_peer_find(net, id);

	if (strcmp(id, net->self_id) == 0)
		return NULL;
	for (unsigned i = 0; !peer && i < sizeof(net->peers) / sizeof(net->peers[0]); i++)
		if (!net->peers[i].used && !net->peers[i].retry_init)
			peer = &net->peers[i];
	if (!peer)
		return NULL;
	if (peer->used && strcmp(peer->address, address) == 0)
		return peer;
	if (peer->out)
		conn_close(peer->out, "address changed");
	peer->net = net;
	peer->used = 1;
	snprintf(peer->id, sizeof(peer->id), "%s", id);
	snprintf(peer->address, sizeof(peer->address), "%s", address);
	if (!peer->retry_init) {
		uv_timer_init(net->loop, &peer->retry);
		peer->retry.data = peer;
		peer->retry_init = 1;
	}
	peer_connect(peer);
	return peer;
}

void
setnet_peer_drop(struct setnet *net, struct setpeer *peer)
{
	peer->used = 0;
	uv_timer_stop(&peer->retry);
	if (peer->out)
		conn_close(peer->out, "member left the set");
	for (struct setconn *c = net->conns, *next; c; c = next) {
		next = c->next;
		if (c->peer == peer)
			conn_close(c, "member left the set");
	}
}

void
setnet_each_peer(struct setnet *net, void (*fn)(struct setpeer *peer, void *arg), void *arg)
{
	for (unsigned i = 0; i < sizeof(net->peers) / sizeof(net->peers[0]); i++)
		if (net->peers[i].used)
			fn(&net->peers[i], arg);
}
