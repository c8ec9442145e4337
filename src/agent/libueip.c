// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: libueip implementation
 *
 * One struct ueip_client holds two UDP sockets behind one epoll fd: the
 * request socket (ephemeral port, connected to the server, so the kernel
 * only delivers the server's datagrams) and the notice socket (port 5350,
 * unconnected; its datagrams are accepted only from the server's address).
 * Mappings live in a fixed array of UEIP_CLIENT_MAPS_MAX slots; each has
 * one timer (next_ms: the next transmission, the renewal, or the deadline)
 * on the monotonic clock. Events go to a fixed ring of
 * UEIP_CLIENT_EVENTS_MAX; when it is full the oldest is dropped and logged.
 *
 * Flow of a datagram: recv -> source check -> ueip_pcp_decode_response ->
 * ueip_epoch_check -> (state loss: re-request granted mappings) ->
 * ueip_pcp_classify against every live mapping -> one transition + event.
 * Bytes from the network only ever select a transition; nothing asserts on
 * them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/libueip.h"
#include "core/err.h"
#include "core/log.h"
#include "proto/pcp.h"

#define LOG "agent"
#define DEFAULT_LIFETIME 3600u
#define DEFAULT_WAIT_MS 10000u
#define STATE_MAX (64 * 1024)
#define RECV_BURST 64			/* datagrams read per process() */
#define REQUEST_JITTER_MS 1000u		/* spread of re-requests after a state loss */

struct map {
	int id;				/* 0 = free slot */
	enum ueip_map_state state;
	int granted_once;
	int reacquire;			/* the next grant is REACQUIRED */
	uint8_t nonce[UEIP_NONCE_LEN];
	uint8_t protocol;
	uint16_t internal_port;
	uint32_t req_lifetime;
	struct in6_addr external;	/* suggested, then assigned */
	uint16_t external_port;
	uint32_t lifetime;		/* granted */
	uint64_t expires_ms;		/* monotonic */
	int64_t expires_unix;
	uint32_t epoch;
	int result;
	int err;
	uint64_t next_ms;		/* timer; 0 = none */
	uint32_t rt_ms;			/* current retransmission timeout; 0 = not sent yet */
	uint64_t deadline_ms;		/* 0 = none (MRD 0) */
};

enum ann_state { ANN_IDLE, ANN_PENDING, ANN_ANSWERED, ANN_TIMEOUT };

struct ueip_client {
	int fd_req, fd_notice, fd_ep;
	struct sockaddr_storage server;
	socklen_t server_len;
	struct in6_addr client_addr;	/* the PCP client's IP address field */
	int v4;
	char server_text[80];
	uint32_t irt_ms;
	int icmp_err;
	struct ueip_epoch_track epoch;
	int next_id;
	struct map maps[UEIP_CLIENT_MAPS_MAX];
	struct {
		enum ann_state state;
		uint32_t rt_ms;
		uint64_t next_ms, deadline_ms;
		int result;
		uint32_t epoch;
	} ann;
	struct ueip_event q[UEIP_CLIENT_EVENTS_MAX];
	unsigned qlen;
	unsigned long qdropped;
};

/* ------------------------------------------------------------------ */
/* Pure helpers                                                        */

uint32_t
ueip_pcp_rt_next(uint32_t prev_ms, uint32_t irt_ms, uint32_t rnd)
{
	uint64_t base = prev_ms == 0 ? irt_ms : 2ull * prev_ms;
	/* RAND in [-0.1, +0.1]: per mille offset -100..+100 from rnd. */
	int64_t permille = (int64_t)(((uint64_t)rnd * 201) >> 32) - 100;

	if (base > UEIP_PCP_MRT_MS)
		base = UEIP_PCP_MRT_MS;
	return (uint32_t)((int64_t)base * (1000 + permille) / 1000);
}

uint64_t
ueip_pcp_renew_after_ms(uint32_t lifetime_s, uint32_t rnd)
{
	uint64_t life_ms = (uint64_t)lifetime_s * 1000;
	/* 1/2 + (1/8) * rnd / 2^32 */
	return life_ms / 2 + (((life_ms / 8) * rnd) >> 32);
}

int
ueip_epoch_check(struct ueip_epoch_track *t, uint32_t server_epoch, uint64_t now_ms)
{
	int valid = 1;

	if (t->have) {
		int64_t server_delta = ((int64_t)server_epoch - t->server) * 1000;
		int64_t client_delta = (int64_t)(now_ms - t->client_ms);

		if ((int64_t)server_epoch + 1 < (int64_t)t->server)
			valid = 0;	/* went back by more than 1 s */
		else if (client_delta + 2000 < server_delta - server_delta / 16 ||
			 server_delta + 2000 < client_delta - client_delta / 16)
			valid = 0;
	}
	t->have = 1;
	t->server = server_epoch;
	t->client_ms = now_ms;
	return valid;
}

enum ueip_rsp_class
ueip_pcp_classify(const uint8_t nonce[UEIP_NONCE_LEN], uint8_t protocol, uint16_t internal_port,
		  int pending, int releasing, const struct ueip_pcp_msg *rsp)
{
	if (!rsp->response || rsp->opcode != UEIP_PCP_OP_MAP)
		return UEIP_RSP_OTHER;
	if (memcmp(rsp->nonce, nonce, UEIP_NONCE_LEN) != 0 || rsp->protocol != protocol ||
	    rsp->internal_port != internal_port)
		return UEIP_RSP_OTHER;
	if (rsp->result != UEIP_PCP_SUCCESS)
		return pending ? UEIP_RSP_REFUSED : UEIP_RSP_STALE;
	if (rsp->lifetime == 0)
		return pending && releasing ? UEIP_RSP_ANSWER : UEIP_RSP_WITHDRAWN;
	return pending && !releasing ? UEIP_RSP_ANSWER : UEIP_RSP_STALE;
}

const char *
ueip_event_name(enum ueip_event_type type)
{
	switch (type) {
#define UEIP_EV_NAME(name, text) case UEIP_EV_##name: return text;
	UEIP_EVENTS(UEIP_EV_NAME)
#undef UEIP_EV_NAME
	}
	return "unknown";
}

static const char *
pcp_result_text(int result)
{
	switch (result) {
	case UEIP_PCP_SUCCESS: return "success";
	case UEIP_PCP_UNSUPP_VERSION: return "the server does not speak this PCP version";
	case UEIP_PCP_NOT_AUTHORIZED: return "the server does not allow this request from this client";
	case UEIP_PCP_MALFORMED_REQUEST: return "the server could not parse the request";
	case UEIP_PCP_UNSUPP_OPCODE: return "the server does not support this opcode";
	case UEIP_PCP_UNSUPP_OPTION: return "the server does not support a mandatory option";
	case UEIP_PCP_MALFORMED_OPTION: return "an option of the request was malformed";
	case UEIP_PCP_NETWORK_FAILURE: return "the server has a temporary network failure";
	case UEIP_PCP_NO_RESOURCES: return "the server has no resources for this mapping now";
	case UEIP_PCP_UNSUPP_PROTOCOL: return "the server does not map this protocol";
	case UEIP_PCP_USER_EX_QUOTA: return "this UE has reached its mapping quota";
	case UEIP_PCP_CANNOT_PROVIDE_EXTERNAL:
		return "the server cannot provide the suggested external address or port";
	case UEIP_PCP_ADDRESS_MISMATCH:
		return "the source address differs from the client address field (a NAT in between?)";
	case UEIP_PCP_EXCESSIVE_REMOTE_PEERS: return "too many remote peers";
	default: return "unknown PCP result";
	}
}

const char *
ueip_client_strerror(int code)
{
	if (UEIP_IS_EPCP(code))
		return pcp_result_text(UEIP_EPCP_RESULT(code));
	return ueip_strerror(code);
}

const char *
ueip_client_errname(int code)
{
	if (UEIP_IS_EPCP(code))
		return ueip_pcp_result_name(UEIP_EPCP_RESULT(code));
	if (code == -ETIMEDOUT)
		return "NO_ANSWER";
	return ueip_errname(code);
}

static const struct {
	const char *name;
	uint8_t number;
} protocols[] = {
	{ "all", 0 }, { "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "dccp", 33 },
	{ "sctp", 132 }, { "udplite", 136 },
};

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return UEIP_EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return UEIP_EINVAL;
	*out = v;
	return 0;
}

int
ueip_parse_port_spec(const char *text, uint8_t *protocol, uint16_t *port)
{
	const char *colon = strchr(text, ':');
	char name[16];
	unsigned long v;
	size_t n;

	if (!colon || (n = (size_t)(colon - text)) == 0 || n >= sizeof(name))
		return UEIP_EINVAL;
	memcpy(name, text, n);
	name[n] = '\0';
	if (parse_uint(colon + 1, 65535, &v))
		return UEIP_EINVAL;
	*port = (uint16_t)v;
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		if (strcasecmp(name, protocols[i].name) == 0) {
			*protocol = protocols[i].number;
			return *protocol == 0 && *port != 0 ? UEIP_EINVAL : 0;
		}
	}
	if (parse_uint(name, 255, &v) || (v == 0 && *port != 0))
		return UEIP_EINVAL;
	*protocol = (uint8_t)v;
	return 0;
}

const char *
ueip_protocol_name(uint8_t protocol, char *buf, size_t size)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (protocols[i].number == protocol)
			return protocols[i].name;
	snprintf(buf, size, "%u", protocol);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Clocks, randomness, addresses                                       */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t
wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static uint32_t
rnd32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)now_ms() * 2654435761u;	/* jitter only; never for nonces */
	return v;
}

static void
addr_text(const struct in6_addr *a, char *buf, size_t size)
{
	uint32_t v4;

	if (ueip_pcp_mapped_to_v4(a, &v4)) {
		struct in_addr in = { .s_addr = htonl(v4) };
		inet_ntop(AF_INET, &in, buf, (socklen_t)size);
	} else {
		inet_ntop(AF_INET6, a, buf, (socklen_t)size);
	}
}

static int
addr_parse(const char *text, struct in6_addr *out)
{
	struct in_addr v4;

	if (inet_pton(AF_INET, text, &v4) == 1) {
		ueip_pcp_v4_to_mapped(ntohl(v4.s_addr), out);
		return 0;
	}
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : UEIP_EINVAL;
}

static void
sockaddr_to_pcp(const struct sockaddr_storage *ss, struct in6_addr *out)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		ueip_pcp_v4_to_mapped(ntohl(sin->sin_addr.s_addr), out);
	} else {
		*out = ((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
}

/* Split "host", "host:port", "[v6]:port", "v6" into host and port. */
static int
split_hostport(const char *text, char *host, size_t host_size, char *port, size_t port_size)
{
	const char *colon = strrchr(text, ':');
	const char *h = text, *p = NULL;
	size_t hl;

	if (*text == '[') {
		const char *end = strchr(text, ']');
		if (!end || (end[1] && end[1] != ':'))
			return UEIP_EINVAL;
		h = text + 1;
		hl = (size_t)(end - h);
		p = end[1] == ':' ? end + 2 : NULL;
	} else if (colon && strchr(text, ':') == colon) {
		hl = (size_t)(colon - text);
		p = colon + 1;
	} else {
		hl = strlen(text);	/* a name, an IPv4 address, or a bare IPv6 address */
	}
	if (hl == 0 || hl >= host_size)
		return UEIP_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, port_size, "%s", p ? p : "5351");
	unsigned long v;
	return parse_uint(port, 65535, &v) || v == 0 ? UEIP_EINVAL : 0;
}

static int
resolve(const char *host, const char *port, int family, struct sockaddr_storage *out,
	socklen_t *out_len)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int rc = getaddrinfo(host, port, &hints, &res);

	if (rc) {
		ueip_log_err(LOG, "cannot resolve %s: %s", host, gai_strerror(rc));
		return UEIP_EUNREACHABLE;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*out_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */

static int
open_notice(struct ueip_client *c, int port)
{
	struct sockaddr_storage ss = { .ss_family = c->server.ss_family };
	int one = 1, fd;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, c->server_len) < 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE || e == EACCES) {
			ueip_log_warn(LOG, "cannot listen for PCP notices on UDP port %d (%s); "
				      "withdrawals will be seen only on the request port",
				      port, strerror(e));
			return 0;
		}
		return -e;
	}
	c->fd_notice = fd;
	return 0;
}

static int
open_request(struct ueip_client *c, const char *local)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = socket(c->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	c->fd_req = fd;
	if (local) {
		if (resolve(local, "0", c->server.ss_family, &ss, &len))
			return UEIP_EINVAL;
		if (bind(fd, (struct sockaddr *)&ss, len) < 0)
			return -errno;
	}
	if (connect(fd, (struct sockaddr *)&c->server, c->server_len) < 0)
		return -errno;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	sockaddr_to_pcp(&ss, &c->client_addr);
	return 0;
}

static int
epoll_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int
ueip_client_open(const struct ueip_client_options *opts, ueip_client **out)
{
	char host[256], port[8], addr[UEIP_ADDRSTRLEN];
	struct ueip_client *c;
	int rc;

	*out = NULL;
	if (!opts || !opts->server || split_hostport(opts->server, host, sizeof(host), port,
						     sizeof(port))) {
		ueip_log_err(LOG, "bad server '%s': expected HOST[:PORT]",
			     opts && opts->server ? opts->server : "");
		return UEIP_EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return UEIP_ENOMEM;
	c->fd_req = c->fd_notice = c->fd_ep = -1;
	c->next_id = 1;
	c->irt_ms = opts->irt_ms ? opts->irt_ms : UEIP_PCP_IRT_MS;
	rc = resolve(host, port, AF_UNSPEC, &c->server, &c->server_len);
	if (rc)
		goto fail;
	c->v4 = c->server.ss_family == AF_INET;
	{
		struct in6_addr a;
		sockaddr_to_pcp(&c->server, &a);
		addr_text(&a, addr, sizeof(addr));
		snprintf(c->server_text, sizeof(c->server_text), c->v4 ? "%s:%s" : "[%s]:%s",
			 addr, port);
	}
	rc = open_request(c, opts->local);
	if (rc) {
		ueip_log_err(LOG, "cannot open a UDP socket toward %s: %s", c->server_text,
			     ueip_strerror(rc));
		goto fail;
	}
	if (opts->notice_port >= 0) {
		rc = open_notice(c, opts->notice_port ? opts->notice_port : UEIP_PCP_CLIENT_PORT);
		if (rc)
			goto fail;
	}
	c->fd_ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->fd_ep < 0 || (rc = epoll_add(c->fd_ep, c->fd_req)) ||
	    (rc = epoll_add(c->fd_ep, c->fd_notice))) {
		rc = rc ? rc : -errno;
		goto fail;
	}
	addr_text(&c->client_addr, addr, sizeof(addr));
	ueip_log_debug(LOG, "client %s port %u -> server %s, notices on %u", addr,
		       ueip_client_local_port(c), c->server_text, ueip_client_notice_port(c));
	*out = c;
	return 0;
fail:
	ueip_client_free(c);
	return rc;
}

void
ueip_client_free(ueip_client *c)
{
	if (!c)
		return;
	if (c->fd_ep >= 0)
		close(c->fd_ep);
	if (c->fd_req >= 0)
		close(c->fd_req);
	if (c->fd_notice >= 0)
		close(c->fd_notice);
	free(c);
}

const char *
ueip_client_server(const ueip_client *c)
{
	return c->server_text;
}

static uint16_t
sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

uint16_t
ueip_client_local_port(const ueip_client *c)
{
	return sock_port(c->fd_req);
}

uint16_t
ueip_client_notice_port(const ueip_client *c)
{
	return sock_port(c->fd_notice);
}

int
ueip_client_fd(const ueip_client *c)
{
	return c->fd_ep;
}

int
ueip_client_icmp_error(const ueip_client *c)
{
	return c->icmp_err;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

static void
ev_push(struct ueip_client *c, const struct ueip_event *ev)
{
	if (c->qlen == UEIP_CLIENT_EVENTS_MAX) {
		ueip_log_warn(LOG, "server %s: event queue full, dropping a %s event of mapping %d",
			      c->server_text, ueip_event_name(c->q[0].type), c->q[0].id);
		memmove(&c->q[0], &c->q[1], sizeof(c->q[0]) * (c->qlen - 1));
		c->qlen--;
		c->qdropped++;
	}
	c->q[c->qlen++] = *ev;
}

static void
ev_remove(struct ueip_client *c, unsigned i)
{
	memmove(&c->q[i], &c->q[i + 1], sizeof(c->q[0]) * (c->qlen - i - 1));
	c->qlen--;
}

static void
ev_fill(struct ueip_event *ev, enum ueip_event_type type, const struct map *m, const char *why)
{
	*ev = (struct ueip_event){
		.type = type, .id = m->id, .result = m->result, .epoch = m->epoch,
		.lifetime = m->lifetime, .external_port = m->external_port,
		.protocol = m->protocol, .internal_port = m->internal_port, .why = why,
	};
	if (m->granted_once)
		addr_text(&m->external, ev->external, sizeof(ev->external));
}

static void
ev_map(struct ueip_client *c, enum ueip_event_type type, const struct map *m, const char *why)
{
	struct ueip_event ev;

	ev_fill(&ev, type, m, why);
	ev_push(c, &ev);
}

/* ------------------------------------------------------------------ */
/* Mappings: transmission and timers                                   */

static struct map *
map_find(struct ueip_client *c, int id)
{
	for (int i = 0; i < UEIP_CLIENT_MAPS_MAX; i++)
		if (id > 0 && c->maps[i].id == id)
			return &c->maps[i];
	return NULL;
}

static int
send_buf(struct ueip_client *c, const uint8_t *buf, size_t len)
{
	if (send(c->fd_req, buf, len, 0) < 0) {
		int e = errno;
		if (e == ECONNREFUSED) {
			c->icmp_err = -e;	/* an earlier port unreachable; retry as usual */
			if (send(c->fd_req, buf, len, 0) >= 0)
				return 0;
			e = errno;
		}
		ueip_log_warn(LOG, "server %s: send failed: %s", c->server_text, strerror(e));
		return -e;
	}
	return 0;
}

static void
map_send(struct ueip_client *c, struct map *m)
{
	struct ueip_pcp_msg msg = {
		.version = UEIP_PCP_VERSION, .opcode = UEIP_PCP_OP_MAP,
		.lifetime = m->state == UEIP_MAP_RELEASING ? 0 : m->req_lifetime,
		.client = c->client_addr, .protocol = m->protocol,
		.internal_port = m->internal_port, .external_port = m->external_port,
		.external = m->external,
	};
	uint8_t buf[UEIP_PCP_MAX];
	int n;

	memcpy(msg.nonce, m->nonce, UEIP_NONCE_LEN);
	n = ueip_pcp_encode_request(&msg, buf, sizeof(buf));
	if (n < 0) {
		ueip_log_err(LOG, "mapping %d: cannot encode the MAP request: %s", m->id,
			     ueip_strerror(n));
		return;
	}
	ueip_log_debug(LOG, "server %s: MAP mapping %d protocol %u port %u lifetime %u (RT %u ms)",
		       c->server_text, m->id, m->protocol, m->internal_port, msg.lifetime, m->rt_ms);
	send_buf(c, buf, (size_t)n);
}

static void
map_drop(struct map *m)
{
	memset(m, 0, sizeof(*m));
}

/* Ask again from scratch (same nonce), after `delay` ms. */
static void
map_rerequest(struct map *m, uint64_t now, uint32_t delay)
{
	m->state = UEIP_MAP_REQUESTING;
	m->reacquire = 1;
	m->rt_ms = 0;
	m->deadline_ms = 0;
	m->next_ms = now + delay;
}

static void
map_transmit(struct ueip_client *c, struct map *m, uint64_t now)
{
	map_send(c, m);
	m->rt_ms = ueip_pcp_rt_next(m->rt_ms, c->irt_ms, rnd32());
	m->next_ms = now + m->rt_ms;
	if (m->deadline_ms && m->next_ms > m->deadline_ms)
		m->next_ms = m->deadline_ms;
}

static void
map_deadline(struct ueip_client *c, struct map *m, uint64_t now)
{
	char addr[UEIP_ADDRSTRLEN];

	switch (m->state) {
	case UEIP_MAP_REQUESTING:
		m->state = UEIP_MAP_FAILED;
		m->err = -ETIMEDOUT;
		m->next_ms = 0;
		ueip_log_info(LOG, "server %s: no answer to mapping %d", c->server_text, m->id);
		ev_map(c, UEIP_EV_TIMEOUT, m, "no answer before the deadline");
		break;
	case UEIP_MAP_RENEWING:
		addr_text(&m->external, addr, sizeof(addr));
		ueip_log_info(LOG, "server %s: mapping %d (%s) expired without a renewal answer",
			      c->server_text, m->id, addr);
		ev_map(c, UEIP_EV_EXPIRED, m, "lifetime ran out without a renewal answer");
		map_rerequest(m, now, 0);
		map_transmit(c, m, now);
		break;
	case UEIP_MAP_RELEASING:
		ev_map(c, UEIP_EV_RELEASED, m, "no answer to the release");
		map_drop(m);
		break;
	default:
		m->next_ms = 0;
		break;
	}
}

static void
map_timer(struct ueip_client *c, struct map *m, uint64_t now)
{
	if (m->state == UEIP_MAP_GRANTED) {
		m->state = UEIP_MAP_RENEWING;	/* §11.2.1: renew until the mapping expires */
		m->rt_ms = 0;
		m->deadline_ms = m->expires_ms;
	}
	if (m->state == UEIP_MAP_FAILED) {
		m->next_ms = 0;
		return;
	}
	if (m->deadline_ms && now >= m->deadline_ms) {
		map_deadline(c, m, now);
		return;
	}
	map_transmit(c, m, now);
}

static void
ann_send(struct ueip_client *c, uint64_t now)
{
	struct ueip_pcp_msg msg = { .version = UEIP_PCP_VERSION, .opcode = UEIP_PCP_OP_ANNOUNCE,
				    .client = c->client_addr };
	uint8_t buf[UEIP_PCP_MAX];
	int n = ueip_pcp_encode_request(&msg, buf, sizeof(buf));

	if (n > 0)
		send_buf(c, buf, (size_t)n);
	c->ann.rt_ms = ueip_pcp_rt_next(c->ann.rt_ms, c->irt_ms, rnd32());
	c->ann.next_ms = now + c->ann.rt_ms;
	if (c->ann.next_ms > c->ann.deadline_ms)
		c->ann.next_ms = c->ann.deadline_ms;
}

static void
ann_timer(struct ueip_client *c, uint64_t now)
{
	if (now >= c->ann.deadline_ms) {
		struct ueip_event ev = { .type = UEIP_EV_TIMEOUT, .id = -1,
					 .why = "no answer to ANNOUNCE" };
		c->ann.state = ANN_TIMEOUT;
		c->ann.next_ms = 0;
		ev_push(c, &ev);
		return;
	}
	ann_send(c, now);
}

static void
run_timers(struct ueip_client *c, uint64_t now)
{
	for (int i = 0; i < UEIP_CLIENT_MAPS_MAX; i++) {
		struct map *m = &c->maps[i];
		if (m->id && m->next_ms && now >= m->next_ms)
			map_timer(c, m, now);
	}
	if (c->ann.state == ANN_PENDING && now >= c->ann.next_ms)
		ann_timer(c, now);
}

int
ueip_client_timeout(const ueip_client *c)
{
	uint64_t now = now_ms(), next = 0;

	if (c->qlen)
		return 0;
	for (int i = 0; i < UEIP_CLIENT_MAPS_MAX; i++) {
		const struct map *m = &c->maps[i];
		if (m->id && m->next_ms && (!next || m->next_ms < next))
			next = m->next_ms;
	}
	if (c->ann.state == ANN_PENDING && (!next || c->ann.next_ms < next))
		next = c->ann.next_ms;
	if (!next)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

/* ------------------------------------------------------------------ */
/* Mappings: API                                                       */

/* Claim a slot and fill it from req (no transmission); the slot or an error. */
static int
map_new(struct ueip_client *c, const struct ueip_map_request *req, struct map **out)
{
	struct map *m = NULL;

	if (req->protocol == 0 && req->internal_port != 0)
		return UEIP_EINVAL;
	for (int i = 0; i < UEIP_CLIENT_MAPS_MAX; i++) {
		struct map *x = &c->maps[i];
		if (!x->id && !m)
			m = x;
		else if (x->id && x->state != UEIP_MAP_FAILED && x->state != UEIP_MAP_RELEASING &&
			 x->protocol == req->protocol && x->internal_port == req->internal_port)
			return UEIP_ECONFLICT;
	}
	if (!m)
		return UEIP_ETOOBIG;
	memset(m, 0, sizeof(*m));
	if (req->suggest && *req->suggest) {
		if (addr_parse(req->suggest, &m->external))
			return UEIP_EINVAL;
	} else if (c->v4) {
		ueip_pcp_v4_to_mapped(0, &m->external);	/* "no preference", IPv4 (§11.1) */
	}
	if (req->nonce) {
		memcpy(m->nonce, req->nonce, UEIP_NONCE_LEN);
	} else if (getrandom(m->nonce, UEIP_NONCE_LEN, 0) != UEIP_NONCE_LEN) {
		int e = errno ? errno : EIO;
		memset(m, 0, sizeof(*m));
		return -e;
	}
	m->id = c->next_id++;
	if (c->next_id <= 0)
		c->next_id = 1;
	m->state = UEIP_MAP_REQUESTING;
	m->protocol = req->protocol;
	m->internal_port = req->internal_port;
	m->external_port = req->suggest_port;
	m->req_lifetime = req->lifetime ? req->lifetime : DEFAULT_LIFETIME;
	*out = m;
	return 0;
}

int
ueip_client_map(ueip_client *c, const struct ueip_map_request *req)
{
	uint64_t now = now_ms();
	struct map *m;
	int rc = map_new(c, req, &m);

	if (rc)
		return rc;
	m->deadline_ms = req->timeout_ms ? now + req->timeout_ms : 0;
	map_transmit(c, m, now);
	return m->id;
}

int
ueip_client_adopt(ueip_client *c, const struct ueip_map_request *req, const char *external,
		  uint16_t external_port, uint32_t lifetime_left)
{
	uint64_t now = now_ms();
	struct in6_addr ext;
	struct map *m;
	int rc;

	if (!req->nonce || !external || addr_parse(external, &ext))
		return UEIP_EINVAL;
	if ((rc = map_new(c, req, &m)))
		return rc;
	m->external = ext;
	m->external_port = external_port;
	m->granted_once = 1;
	if (!lifetime_left) {
		map_rerequest(m, now, 0);	/* sent by the next process() */
		return m->id;
	}
	m->state = UEIP_MAP_GRANTED;
	m->lifetime = lifetime_left;
	m->expires_ms = now + (uint64_t)lifetime_left * 1000;
	m->expires_unix = wall_s() + lifetime_left;
	m->next_ms = now + ueip_pcp_renew_after_ms(lifetime_left, rnd32());
	return m->id;
}

int
ueip_client_release(ueip_client *c, int id, uint32_t timeout_ms)
{
	struct map *m = map_find(c, id);
	uint64_t now = now_ms();

	if (!m)
		return UEIP_ENOTFOUND;
	if (!m->granted_once) {
		ev_map(c, UEIP_EV_RELEASED, m, "never granted; nothing sent");
		map_drop(m);
		return 0;
	}
	m->state = UEIP_MAP_RELEASING;
	m->rt_ms = 0;
	m->deadline_ms = now + (timeout_ms ? timeout_ms : DEFAULT_WAIT_MS);
	map_transmit(c, m, now);
	return 0;
}

int
ueip_client_forget(ueip_client *c, int id)
{
	struct map *m = map_find(c, id);

	if (!m)
		return UEIP_ENOTFOUND;
	map_drop(m);
	return 0;
}

int
ueip_client_mapping(const ueip_client *c, int id, struct ueip_mapping_info *out)
{
	const struct map *m = map_find((struct ueip_client *)c, id);

	if (!m)
		return UEIP_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	out->id = m->id;
	out->state = m->state;
	out->protocol = m->protocol;
	out->internal_port = m->internal_port;
	memcpy(out->nonce, m->nonce, UEIP_NONCE_LEN);
	if (m->granted_once) {
		addr_text(&m->external, out->external, sizeof(out->external));
		out->external_port = m->external_port;
		out->lifetime = m->lifetime;
		out->expires = m->expires_unix;
	}
	out->epoch = m->epoch;
	out->result = m->result;
	out->err = m->err;
	return 0;
}

int
ueip_client_announce(ueip_client *c, uint32_t timeout_ms)
{
	uint64_t now = now_ms();

	c->ann.state = ANN_PENDING;
	c->ann.rt_ms = 0;
	c->ann.deadline_ms = now + (timeout_ms ? timeout_ms : DEFAULT_WAIT_MS);
	ann_send(c, now);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */

static void
state_lost(struct ueip_client *c, int announce, uint32_t epoch, int except_id, uint64_t now)
{
	struct ueip_event ev = { .type = UEIP_EV_STATE_LOST, .id = -1, .epoch = epoch,
				 .announce = (uint8_t)announce,
				 .why = announce ? "ANNOUNCE: server state reset"
						 : "server epoch inconsistent: server state reset" };
	int n = 0;

	for (int i = 0; i < UEIP_CLIENT_MAPS_MAX; i++) {
		struct map *m = &c->maps[i];
		if (!m->id || m->id == except_id ||
		    (m->state != UEIP_MAP_GRANTED && m->state != UEIP_MAP_RENEWING))
			continue;
		map_rerequest(m, now, rnd32() % REQUEST_JITTER_MS);
		n++;
	}
	ueip_log_info(LOG, "server %s: %s (epoch %" PRIu32 "); re-requesting %d mapping(s)",
		      c->server_text, ev.why, epoch, n);
	ev_push(c, &ev);
}

static void
map_answered(struct ueip_client *c, struct map *m, const struct ueip_pcp_msg *rsp, uint64_t now)
{
	int changed = m->granted_once &&
		      (memcmp(&m->external, &rsp->external, sizeof(rsp->external)) != 0 ||
		       m->external_port != rsp->external_port);
	enum ueip_event_type type = !m->granted_once ? UEIP_EV_GRANTED
				  : m->reacquire || changed ? UEIP_EV_REACQUIRED
							    : UEIP_EV_RENEWED;

	m->external = rsp->external;
	m->external_port = rsp->external_port;
	m->lifetime = rsp->lifetime;
	m->expires_ms = now + (uint64_t)rsp->lifetime * 1000;
	m->expires_unix = wall_s() + rsp->lifetime;
	m->state = UEIP_MAP_GRANTED;
	m->granted_once = 1;
	m->reacquire = 0;
	m->err = 0;
	m->rt_ms = 0;
	m->deadline_ms = 0;
	m->next_ms = now + ueip_pcp_renew_after_ms(rsp->lifetime, rnd32());
	ev_map(c, type, m, type == UEIP_EV_GRANTED ? "granted"
			   : type == UEIP_EV_RENEWED ? "renewed"
			   : changed ? "granted again at another address" : "granted again");
}

static void
map_response(struct ueip_client *c, struct map *m, enum ueip_rsp_class cls,
	     const struct ueip_pcp_msg *rsp, uint64_t now)
{
	char addr[UEIP_ADDRSTRLEN];

	m->epoch = rsp->epoch;
	m->result = rsp->result;
	switch (cls) {
	case UEIP_RSP_ANSWER:
		if (m->state == UEIP_MAP_RELEASING) {
			struct ueip_event ev;
			ev_fill(&ev, UEIP_EV_RELEASED, m, "released");
			ev.answered = 1;
			ev_push(c, &ev);
			map_drop(m);
		} else {
			map_answered(c, m, rsp, now);
		}
		break;
	case UEIP_RSP_REFUSED:
		ueip_log_info(LOG, "server %s: mapping %d refused: %s", c->server_text, m->id,
			      ueip_pcp_result_name(rsp->result));
		m->state = UEIP_MAP_FAILED;
		m->err = UEIP_EPCP(rsp->result);
		m->next_ms = 0;
		m->lifetime = rsp->lifetime;	/* retry hint */
		ev_map(c, UEIP_EV_REFUSED, m, pcp_result_text(rsp->result));
		break;
	case UEIP_RSP_WITHDRAWN:
		addr_text(&m->external, addr, sizeof(addr));
		ueip_log_info(LOG, "server %s: mapping %d (%s) withdrawn by the server",
			      c->server_text, m->id, addr);
		m->lifetime = 0;
		ev_map(c, UEIP_EV_WITHDRAWN, m, "the server ended the mapping (lifetime 0)");
		map_drop(m);
		break;
	default:
		ueip_log_debug(LOG, "server %s: stale answer for mapping %d ignored",
			       c->server_text, m->id);
		break;
	}
}

static void
on_map(struct ueip_client *c, const struct ueip_pcp_msg *rsp, int epoch_ok, uint64_t now)
{
	struct map *hit = NULL;
	enum ueip_rsp_class cls = UEIP_RSP_OTHER;

	for (int i = 0; i < UEIP_CLIENT_MAPS_MAX && !hit; i++) {
		struct map *m = &c->maps[i];
		int pending = m->state == UEIP_MAP_REQUESTING || m->state == UEIP_MAP_RENEWING ||
			      m->state == UEIP_MAP_RELEASING;
		if (!m->id || m->state == UEIP_MAP_FAILED)
			continue;
		cls = ueip_pcp_classify(m->nonce, m->protocol, m->internal_port, pending,
					m->state == UEIP_MAP_RELEASING, rsp);
		if (cls != UEIP_RSP_OTHER)
			hit = m;
	}
	if (!epoch_ok)
		state_lost(c, 0, rsp->epoch, hit && cls == UEIP_RSP_ANSWER ? hit->id : -1, now);
	if (hit)
		map_response(c, hit, cls, rsp, now);
	else
		ueip_log_debug(LOG, "server %s: MAP response for no mapping of ours", c->server_text);
}

static void
on_announce(struct ueip_client *c, const struct ueip_pcp_msg *rsp, int solicited, int epoch_ok,
	    uint64_t now)
{
	struct ueip_event ev = { .type = UEIP_EV_ANNOUNCE, .id = -1, .result = rsp->result,
				 .epoch = rsp->epoch, .why = "ANNOUNCE, epoch consistent" };

	if (solicited && c->ann.state == ANN_PENDING) {
		c->ann.state = ANN_ANSWERED;
		c->ann.result = rsp->result;
		c->ann.epoch = rsp->epoch;
		c->ann.next_ms = 0;
	}
	/* An unsolicited ANNOUNCE is sent only after a server lost state; renewing costs one
	 * exchange and catches a loss the epoch check cannot see (a restart within two
	 * seconds of the previous start reads as a consistent epoch 0 -> 0). */
	if (!epoch_ok || !solicited)
		state_lost(c, 1, rsp->epoch, -1, now);
	else
		ev_push(c, &ev);
}

static void
on_datagram(struct ueip_client *c, const uint8_t *buf, size_t len, int solicited, uint64_t now)
{
	struct ueip_pcp_msg rsp;
	int rc = ueip_pcp_decode_response(buf, len, &rsp);
	int epoch_ok;

	if (rc != UEIP_PCP_SUCCESS) {
		ueip_log_warn(LOG, "server %s: dropped a %zu-octet datagram on the %s port: %s",
			      c->server_text, len, solicited ? "request" : "notice",
			      rc == UEIP_PCP_DROP ? "not a PCP response" : "malformed PCP response");
		return;
	}
	epoch_ok = ueip_epoch_check(&c->epoch, rsp.epoch, now);
	ueip_log_debug(LOG, "server %s: %s response result %s lifetime %u epoch %u%s",
		       c->server_text, ueip_pcp_opcode_name(rsp.opcode),
		       ueip_pcp_result_name(rsp.result), rsp.lifetime, rsp.epoch,
		       epoch_ok ? "" : " (epoch inconsistent)");
	if (rsp.opcode == UEIP_PCP_OP_MAP)
		on_map(c, &rsp, epoch_ok, now);
	else if (rsp.opcode == UEIP_PCP_OP_ANNOUNCE)
		on_announce(c, &rsp, solicited, epoch_ok, now);
	else if (!epoch_ok)
		state_lost(c, 0, rsp.epoch, -1, now);
}

static int
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct in6_addr x, y;

	sockaddr_to_pcp(a, &x);
	sockaddr_to_pcp(b, &y);
	return memcmp(&x, &y, sizeof(x)) == 0;
}

static int
drain(struct ueip_client *c, int fd, int solicited, uint64_t now)
{
	uint8_t buf[UEIP_PCP_MAX + 4];

	for (int i = 0; fd >= 0 && i < RECV_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED) {
				c->icmp_err = -ECONNREFUSED;
				ueip_log_debug(LOG, "server %s: port unreachable", c->server_text);
				continue;
			}
			ueip_log_err(LOG, "server %s: recv failed: %s", c->server_text,
				     strerror(errno));
			return -errno;
		}
		if (!solicited && !same_host(&from, &c->server)) {
			char a[UEIP_ADDRSTRLEN];
			struct in6_addr x;
			sockaddr_to_pcp(&from, &x);
			addr_text(&x, a, sizeof(a));
			ueip_log_warn(LOG, "notice port: dropped a datagram from %s (not server %s)",
				      a, c->server_text);
			continue;
		}
		on_datagram(c, buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n, solicited,
			    now);
	}
	return 0;
}

static int
step(struct ueip_client *c)
{
	uint64_t now = now_ms();
	int rc = drain(c, c->fd_req, 1, now);

	if (!rc)
		rc = drain(c, c->fd_notice, 0, now);
	run_timers(c, now_ms());
	return rc;
}

int
ueip_client_process(ueip_client *c, struct ueip_event *ev)
{
	int rc = 0;

	if (!c->qlen)
		rc = step(c);
	if (c->qlen) {
		*ev = c->q[0];
		ev_remove(c, 0);
		return 1;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Blocking calls                                                      */

static int
wait_input(struct ueip_client *c, uint64_t until)
{
	int t = ueip_client_timeout(c);
	uint64_t now = now_ms();
	int left = until > now ? (int)(until - now) : 0;
	struct pollfd p = { .fd = c->fd_ep, .events = POLLIN };

	if (t < 0 || t > left)
		t = left;
	if (poll(&p, 1, t) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* Take the first queued event of mapping id; 1 if found. */
static int
ev_take(struct ueip_client *c, int id, struct ueip_event *out)
{
	for (unsigned i = 0; i < c->qlen; i++) {
		if (c->q[i].id == id) {
			*out = c->q[i];
			ev_remove(c, i);
			return 1;
		}
	}
	return 0;
}

int
ueip_client_map_wait(ueip_client *c, const struct ueip_map_request *req,
		     struct ueip_mapping_info *out)
{
	struct ueip_map_request r = *req;
	struct ueip_event ev;
	uint64_t until;
	int id, rc;

	if (!r.timeout_ms)
		r.timeout_ms = DEFAULT_WAIT_MS;
	until = now_ms() + r.timeout_ms + 1000;		/* the mapping's own deadline fires first */
	id = ueip_client_map(c, &r);
	if (id < 0)
		return id;
	for (;;) {
		if ((rc = step(c)) < 0)
			break;
		if (ev_take(c, id, &ev)) {
			ueip_client_mapping(c, id, out);
			switch (ev.type) {
			case UEIP_EV_GRANTED:
			case UEIP_EV_REACQUIRED:
				return id;
			case UEIP_EV_REFUSED:
				rc = UEIP_EPCP(ev.result);
				goto drop;
			case UEIP_EV_TIMEOUT:
				rc = -ETIMEDOUT;
				goto drop;
			default:	/* withdrawn at once: nothing left */
				rc = UEIP_ENOTFOUND;
				goto drop;
			}
		}
		if (now_ms() >= until) {
			rc = -ETIMEDOUT;
			break;
		}
		if ((rc = wait_input(c, until)) < 0)
			break;
	}
drop:
	ueip_client_forget(c, id);
	return rc;
}

int
ueip_client_release_wait(ueip_client *c, int id, uint32_t timeout_ms)
{
	struct ueip_event ev;
	uint64_t until = now_ms() + (timeout_ms ? timeout_ms : DEFAULT_WAIT_MS) + 1000;
	struct map *m = map_find(c, id);
	int rc;

	if (!m)
		return UEIP_ENOTFOUND;
	if (!m->granted_once) {
		map_drop(m);		/* nothing was granted: nothing to send */
		return 0;
	}
	if ((rc = ueip_client_release(c, id, timeout_ms)))
		return rc;
	for (;;) {
		if ((rc = step(c)) < 0)
			break;
		if (ev_take(c, id, &ev)) {
			if (ev.type == UEIP_EV_RELEASED)
				return ev.answered ? 0 : -ETIMEDOUT;
			if (ev.type == UEIP_EV_REFUSED) {
				ueip_client_forget(c, id);
				return UEIP_EPCP(ev.result);
			}
			continue;	/* e.g. WITHDRAWN racing the release: keep waiting */
		}
		if (!map_find(c, id))
			return 0;
		if (now_ms() >= until) {
			rc = -ETIMEDOUT;
			break;
		}
		if ((rc = wait_input(c, until)) < 0)
			break;
	}
	ueip_client_forget(c, id);
	return rc;
}

int
ueip_client_announce_wait(ueip_client *c, uint32_t timeout_ms, uint32_t *epoch)
{
	uint64_t until = now_ms() + (timeout_ms ? timeout_ms : DEFAULT_WAIT_MS) + 1000;
	int rc = ueip_client_announce(c, timeout_ms);

	while (!rc) {
		if ((rc = step(c)) < 0)
			break;
		if (c->ann.state == ANN_ANSWERED) {
			for (unsigned i = 0; i < c->qlen; i++)
				if (c->q[i].id == -1 && c->q[i].type == UEIP_EV_ANNOUNCE) {
					ev_remove(c, i);
					break;
				}
			*epoch = c->ann.epoch;
			c->ann.state = ANN_IDLE;
			return c->ann.result == UEIP_PCP_SUCCESS ? 0 : UEIP_EPCP(c->ann.result);
		}
		if (c->ann.state == ANN_TIMEOUT || now_ms() >= until) {
			for (unsigned i = 0; i < c->qlen; i++)
				if (c->q[i].id == -1 && c->q[i].type == UEIP_EV_TIMEOUT) {
					ev_remove(c, i);
					break;
				}
			c->ann.state = ANN_IDLE;
			return -ETIMEDOUT;
		}
		rc = wait_input(c, until);
	}
	c->ann.state = ANN_IDLE;
	return rc;
}

/* ------------------------------------------------------------------ */
/* State file                                                          */

static int
mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return n == 0 ? 0 : UEIP_EINVAL;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_decode(const char *in, uint8_t *out, size_t n)
{
	if (strlen(in) != 2 * n)
		return UEIP_EMALFORMED;
	for (size_t i = 0; i < 2 * n; i++) {
		int c = in[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return UEIP_EMALFORMED;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

static json_t *
state_json(const struct ueip_state *st)
{
	char nonce[2 * UEIP_NONCE_LEN + 1];
	json_t *o = json_object();

	hex_encode(st->nonce, UEIP_NONCE_LEN, nonce);
	if (!o)
		return NULL;
	json_object_set_new(o, "pid", json_integer(st->pid));
	json_object_set_new(o, "pid_start", json_integer((json_int_t)st->pid_start));
	json_object_set_new(o, "server", json_string(st->server));
	json_object_set_new(o, "address", json_string(st->address));
	json_object_set_new(o, "external_port", json_integer(st->external_port));
	json_object_set_new(o, "lifetime", json_integer(st->lifetime));
	json_object_set_new(o, "expires", json_integer(st->expires));
	json_object_set_new(o, "nonce", json_string(nonce));
	json_object_set_new(o, "protocol", json_integer(st->protocol));
	json_object_set_new(o, "internal_port", json_integer(st->internal_port));
	json_object_set_new(o, "state", json_string(st->state));
	json_object_set_new(o, "last_event", json_string(st->last_event));
	json_object_set_new(o, "updated", json_integer(st->updated));
	return o;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ueip_state_write(const char *path, const struct ueip_state *st)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	json_t *o;
	char *text;
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return UEIP_EINVAL;
	if (slash && slash != path) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if ((rc = mkdir_p(dir)) < 0)
			return rc;
	}
	o = state_json(st);
	text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (!text)
		return UEIP_ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		free(text);
		return rc;
	}
	rc = write_all(fd, text, strlen(text));
	if (!rc)
		rc = write_all(fd, "\n", 1);
	free(text);
	if (!rc && fchmod(fd, 0644) < 0)
		rc = -errno;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int
get_int(json_t *o, const char *key, int required, long long min, long long max, long long *out,
	char *why, size_t why_size)
{
	json_t *v = json_object_get(o, key);

	if (!v && !required) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(why, why_size, "\"%s\" must be an integer in %lld..%lld", key, min, max);
		return UEIP_EMALFORMED;
	}
	*out = json_integer_value(v);
	return 0;
}

static int
get_str(json_t *o, const char *key, int required, char *out, size_t size, char *why,
	size_t why_size)
{
	json_t *v = json_object_get(o, key);

	if (!v && !required) {
		*out = '\0';
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(why, why_size, "\"%s\" must be a string of at most %zu characters", key,
			 size - 1);
		return UEIP_EMALFORMED;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int
state_from_json(json_t *o, struct ueip_state *st, char *why, size_t why_size)
{
	static const char *const states[] = { "granted", "withdrawn", "released", "expired",
					      "refused", "requesting" };
	char nonce[2 * UEIP_NONCE_LEN + 2];
	long long v;
	int ok = 0;

	if (!json_is_object(o)) {
		snprintf(why, why_size, "not a JSON object");
		return UEIP_EMALFORMED;
	}
#define INT(key, req, min, max, field)                                               \
	do {                                                                         \
		if (get_int(o, key, req, min, max, &v, why, why_size))              \
			return UEIP_EMALFORMED;                                      \
		st->field = v;                                                       \
	} while (0)
	INT("pid", 0, 0, INT_MAX, pid);
	INT("pid_start", 0, 0, LLONG_MAX, pid_start);
	INT("external_port", 0, 0, 65535, external_port);
	INT("lifetime", 1, 0, UINT32_MAX, lifetime);
	INT("expires", 1, 0, LLONG_MAX, expires);
	INT("protocol", 1, 0, 255, protocol);
	INT("internal_port", 1, 0, 65535, internal_port);
	INT("updated", 0, 0, LLONG_MAX, updated);
#undef INT
	if (get_str(o, "server", 1, st->server, sizeof(st->server), why, why_size) ||
	    get_str(o, "address", 1, st->address, sizeof(st->address), why, why_size) ||
	    get_str(o, "state", 1, st->state, sizeof(st->state), why, why_size) ||
	    get_str(o, "last_event", 0, st->last_event, sizeof(st->last_event), why, why_size) ||
	    get_str(o, "nonce", 1, nonce, sizeof(nonce), why, why_size))
		return UEIP_EMALFORMED;
	if (hex_decode(nonce, st->nonce, UEIP_NONCE_LEN)) {
		snprintf(why, why_size, "\"nonce\" must be %d hex digits", 2 * UEIP_NONCE_LEN);
		return UEIP_EMALFORMED;
	}
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		ok |= strcmp(st->state, states[i]) == 0;
	if (!ok) {
		snprintf(why, why_size, "unknown \"state\" '%s'", st->state);
		return UEIP_EMALFORMED;
	}
	return 0;
}

int
ueip_state_read(const char *path, struct ueip_state *st, char *why, size_t why_size)
{
	char buf[STATE_MAX + 1];
	size_t len = 0;
	json_error_t jerr;
	json_t *o;
	int fd, rc;

	memset(st, 0, sizeof(*st));
	snprintf(why, why_size, "%s", "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, why_size, "%s", strerror(errno));
		return rc;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			close(fd);
			snprintf(why, why_size, "%s", strerror(-rc));
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf)) {
			close(fd);
			snprintf(why, why_size, "larger than %d octets", STATE_MAX);
			return UEIP_ETOOBIG;
		}
	}
	close(fd);
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		snprintf(why, why_size, "line %d: %s", jerr.line, jerr.text);
		return UEIP_EMALFORMED;
	}
	rc = state_from_json(o, st, why, why_size);
	json_decref(o);
	if (rc)
		memset(st, 0, sizeof(*st));
	return rc;
}

/* Field 3 (state) and 22 (start time) of /proc/PID/stat. */
static int
proc_stat(long pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;
	char *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return UEIP_EMALFORMED;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c", state) != 1)
		return UEIP_EMALFORMED;
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return UEIP_EMALFORMED;
		p++;
	}
	return sscanf(p, "%llu", start) == 1 ? 0 : UEIP_EMALFORMED;
}

unsigned long long
ueip_proc_start_time(long pid)
{
	unsigned long long start;
	char state;

	return proc_stat(pid, &state, &start) == 0 ? start : 0;
}

int
ueip_state_pid_alive(const struct ueip_state *st)
{
	unsigned long long start;
	char state;

	if (st->pid <= 0 || (kill((pid_t)st->pid, 0) < 0 && errno != EPERM))
		return 0;
	if (proc_stat(st->pid, &state, &start) < 0)
		return 1;		/* no /proc: trust kill() */
	if (state == 'Z' || state == 'X')
		return 0;
	return !st->pid_start || st->pid_start == start;
}
