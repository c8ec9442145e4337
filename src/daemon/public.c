// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: public — the PCP / NAT-PMP server (see public.h for the flow and
 * docs/public-design.md for the decisions).
 *
 * Requests run against memory at once; store writes join the loop turn's
 * batch, data-path changes join the dp queue, answers join the UDP queue.
 * One deferred callback per turn (after the store commit) commits the data
 * path and flushes the answers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/mapping.h"
#include "daemon/public.h"
#include "net/udp.h"
#include "proto/pcp.h"

#define ERR_LIFETIME_LONG 1800		/* s, RFC 6887 §7.4 "long lifetime" errors */
#define ERR_LIFETIME_SHORT 30		/* s, transient errors */
#define NOTICE_SENDS 10			/* transmissions of one unsolicited notice */
#define NOTICE_FIRST_GAP_MS 500		/* then doubling (RFC 6887 §14: exponential) */
#define NOTICES_MAX 100000
#define SHARED_MAX 256			/* shared addresses per member */
#define EXPIRE_PER_TICK 20000		/* bound the work of one tick */

struct notice {
	struct udp_peer to;
	uint8_t data[UEIP_PCP_HDR_LEN + UEIP_PCP_PEER_LEN + 32];
	uint16_t len;
	uint8_t sends;
	int64_t next_ms;
};

struct shared_addr {
	uint32_t addr;
	uint32_t k;			/* holding key number */
	uint16_t cursor;		/* next port to try */
	uint32_t used;
	char pool[UEIP_NAME_MAX];
};

struct public_stats {
	uint64_t requests[3], natpmp_requests, results[256], natpmp_results[8];
	uint64_t dropped_rate, dropped_malformed;
	uint64_t ended[6];		/* by enum end_reason */
	uint64_t notices_sent, announces_sent;
	uint64_t dp_errors;
};

enum end_reason { END_CLIENT, END_EXPIRED, END_WITHDRAWN, END_SESSION, END_POOL, END_RESET };
static const char *const end_names[] = { "client", "expired", "withdrawn", "session-gone",
					  "pool-removed", "state-reset" };

struct public {
	const struct ueip_config *cfg;
	struct ueip_store *st;
	struct ipam *ipam;
	struct ueip_dp *dp;
	struct ipam_env env;
	struct udpnet *udp;
	struct ueip_mappings maps;
	int64_t epoch_start_ms;
	struct ueip_map rate;		/* source -> token bucket */
	struct ueip_map clients;	/* client address -> 1, once in pcp_clients */
	struct shared_addr shared[SHARED_MAX];
	unsigned nshared;
	struct notice *notices;
	size_t nnotices, notices_cap;
	int flush_armed;
	struct public_stats stats;
};

/* ---- small helpers ----------------------------------------------------------------- */

static int64_t
now_ms(struct public *p)
{
	return p->env.now_ms(p->env.arg);
}

static uint32_t
epoch_now(struct public *p)
{
	int64_t d = now_ms(p) - p->epoch_start_ms;

	return d > 0 ? (uint32_t)(d / 1000) : 0;
}

static void
v4_text(uint32_t a, char *buf, size_t size)
{
	struct in_addr in = { htonl(a) };

	inet_ntop(AF_INET, &in, buf, (socklen_t)size);
}

static uint32_t
clamp_lifetime(const struct ueip_config *cfg, uint32_t asked)
{
	if (asked < cfg->lifetime_min)
		return cfg->lifetime_min;
	return asked > cfg->lifetime_max ? cfg->lifetime_max : asked;
}

static uint32_t
error_lifetime(int result)
{
	switch (result) {
	case UEIP_PCP_NO_RESOURCES:
	case UEIP_PCP_USER_EX_QUOTA:
	case UEIP_PCP_NETWORK_FAILURE:
	case UEIP_PCP_CANNOT_PROVIDE_EXTERNAL:
		return ERR_LIFETIME_SHORT;
	default:
		return ERR_LIFETIME_LONG;
	}
}

static int
public_pool_index(const struct ueip_config *cfg, uint32_t addr)
{
	for (unsigned i = 0; i < cfg->npublic_pools; i++) {
		uint32_t base = ueip_addr_v4(&cfg->public_pools[i].def.base);
		if (addr >= base && (uint64_t)addr < (uint64_t)base + cfg->public_pools[i].def.size)
			return (int)i;
	}
	return -1;
}

/* ---- answers: queued, sent after the commit ------------------------------------------ */

static void
after_commit(void *arg, int rc)
{
	struct public *p = arg;
	char why[256];

	p->flush_armed = 0;
	if (p->dp && ueip_dp_commit(p->dp, why, sizeof(why))) {
		p->stats.dp_errors++;
		ueip_log_err("public", "data path commit failed (%s); retrying on the next tick", why);
	}
	udpnet_flush(p->udp);
}

static void
arm_flush(struct public *p)
{
	if (p->flush_armed)
		return;
	if (p->env.defer(p->env.arg, after_commit, p) == 0)
		p->flush_armed = 1;
}

static void
reply(struct public *p, const struct udp_peer *to, const uint8_t *data, int len)
{
	if (len <= 0 || !p->udp)
		return;
	udpnet_queue(p->udp, to, data, (size_t)len);
	arm_flush(p);
}

static void
reply_pcp_error(struct public *p, const struct udp_peer *to, const uint8_t *req, size_t len, int result)
{
	uint8_t out[UEIP_PCP_MAX];

	p->stats.results[result & 0xff]++;
	reply(p, to, out, ueip_pcp_encode_error(req, len, (uint8_t)result, error_lifetime(result),
						epoch_now(p), out, sizeof(out)));
}

/* ---- rate limit: a token bucket per source ------------------------------------------- */

/* 1 if the source may send now. Bucket: high 32 bits = ms of last refill (mod 2^32), low = milli-tokens. */
static int
rate_allow(struct public *p, uint32_t src)
{
	uint64_t v;
	uint32_t now = (uint32_t)now_ms(p);
	uint64_t cap = (uint64_t)p->cfg->rate_burst * 1000;
	uint64_t tokens;

	if (!ueip_map_get(&p->rate, src, &v)) {
		tokens = cap;
	} else {
		uint32_t last = (uint32_t)(v >> 32), elapsed = now - last;
		tokens = (uint32_t)v + (uint64_t)elapsed * p->cfg->rate_per_ue;
		if (tokens > cap)
			tokens = cap;
	}
	if (tokens < 1000) {
		ueip_map_put(&p->rate, src, (uint64_t)now << 32 | tokens);
		return 0;
	}
	tokens -= 1000;
	ueip_map_put(&p->rate, src, (uint64_t)now << 32 | (uint32_t)tokens);
	return 1;
}

/* ---- the data path ------------------------------------------------------------------- */

static void
dp_of(const struct ueip_mapping *m, struct ueip_dp_mapping *d)
{
	memset(d, 0, sizeof(*d));
	d->kind = m->kind == UEIP_MAP_DEDICATED ? UEIP_DP_ONE_TO_ONE :
		  m->kind == UEIP_MAP_PORT ? UEIP_DP_PORT : UEIP_DP_PEER;
	d->proto = m->proto;
	d->internal = m->internal;
	d->internal_port = m->internal_port;
	d->external = m->external;
	d->external_port = m->external_port;
	d->remote = m->remote;
	d->remote_port = m->remote_port;
	d->nfilters = m->nfilters;
	for (unsigned i = 0; i < m->nfilters && i < UEIP_DP_FILTERS_MAX; i++)
		d->filters[i] = (struct ueip_dp_filter){ m->filters[i].remote, m->filters[i].prefix_len,
							 m->filters[i].remote_port };
}

static void
dp_apply(struct public *p, struct ueip_mapping *m, int add)
{
	struct ueip_dp_mapping d;
	int rc;

	if (!p->dp || (add ? m->in_dp : !m->in_dp))
		return;
	dp_of(m, &d);
	rc = add ? ueip_dp_add(p->dp, &d) : ueip_dp_del(p->dp, &d);
	if (rc && rc != UEIP_ENOTFOUND) {
		char a[16];
		v4_text(m->internal, a, sizeof(a));
		ueip_log_err("public", "ue %s: data path %s of mapping %llu refused: %s", a,
			     add ? "add" : "delete", (unsigned long long)m->id, ueip_strerror(rc));
		p->stats.dp_errors++;
		return;
	}
	m->in_dp = (uint8_t)add;
}

/* The UE's dedicated mapping, or NULL. */
static struct ueip_mapping *
dedicated_of(struct public *p, uint32_t internal)
{
	return ueip_mappings_by_internal(&p->maps, ueip_mapping_endpoint_key(internal, 0, 0));
}

/* ---- notices ------------------------------------------------------------------------- */

static void
notice_queue(struct public *p, const struct udp_peer *to, const uint8_t *data, int len)
{
	struct notice *n;

	if (len <= 0 || (size_t)len > sizeof(n->data))
		return;
	reply(p, to, data, len);
	p->stats.notices_sent++;
	if (p->nnotices >= NOTICES_MAX ||
	    ueip_grow((void **)&p->notices, &p->notices_cap, p->nnotices, sizeof(*p->notices)))
		return;	/* the first copy left; retransmissions are best effort */
	n = &p->notices[p->nnotices++];
	n->to = *to;
	memcpy(n->data, data, (size_t)len);
	n->len = (uint16_t)len;
	n->sends = 1;
	n->next_ms = now_ms(p) + NOTICE_FIRST_GAP_MS;
}

/* A client asked again: it heard us; stop retransmitting to it. */
static void
notices_heard(struct public *p, uint32_t client)
{
	for (size_t i = 0; i < p->nnotices;) {
		if (p->notices[i].to.addr == client)
			p->notices[i] = p->notices[--p->nnotices];
		else
			i++;
	}
}

static void
notices_tick(struct public *p)
{
	int64_t now = now_ms(p);

	for (size_t i = 0; i < p->nnotices;) {
		struct notice *n = &p->notices[i];
		if (n->next_ms > now) {
			i++;
			continue;
		}
		reply(p, &n->to, n->data, n->len);
		p->stats.notices_sent++;
		if (++n->sends >= NOTICE_SENDS) {
			*n = p->notices[--p->nnotices];
			continue;
		}
		n->next_ms = now + ((int64_t)NOTICE_FIRST_GAP_MS << (n->sends - 1));
		i++;
	}
}

static void
pcp_msg_of(struct public *p, const struct ueip_mapping *m, uint32_t lifetime, struct ueip_pcp_msg *r)
{
	memset(r, 0, sizeof(*r));
	r->version = UEIP_PCP_VERSION;
	r->opcode = m->kind == UEIP_MAP_PEER ? UEIP_PCP_OP_PEER : UEIP_PCP_OP_MAP;
	r->response = 1;
	r->result = UEIP_PCP_SUCCESS;
	r->lifetime = lifetime;
	r->epoch = epoch_now(p);
	memcpy(r->nonce, m->nonce, sizeof(r->nonce));
	r->protocol = m->proto;
	r->internal_port = m->internal_port;
	r->external_port = m->external_port;
	ueip_pcp_v4_to_mapped(m->external, &r->external);
	if (m->kind == UEIP_MAP_PEER) {
		r->remote_port = m->remote_port;
		ueip_pcp_v4_to_mapped(m->remote, &r->remote);
	}
	if (m->third_party) {
		r->has_third_party = 1;
		ueip_pcp_v4_to_mapped(m->internal, &r->third_party);
	}
	r->nfilters = m->nfilters;
	for (unsigned i = 0; i < m->nfilters && i < UEIP_PCP_FILTERS_MAX; i++) {
		r->filters[i].prefix_len = (uint8_t)(96 + m->filters[i].prefix_len);
		r->filters[i].remote_port = m->filters[i].remote_port;
		ueip_pcp_v4_to_mapped(m->filters[i].remote, &r->filters[i].remote);
	}
}

/* Tell the client its mapping ended: a response with lifetime 0, to the port it asked from and to 5350. */
static void
notify_end(struct public *p, struct ueip_mapping *m)
{
	uint8_t out[sizeof(((struct notice *)0)->data)];
	struct udp_peer to = { m->client, m->client_port, 0 };
	int len;

	if (m->via == UEIP_VIA_NATPMP) {
		struct ueip_natpmp_msg r = { .opcode = m->proto == IPPROTO_UDP ? UEIP_NATPMP_OP_MAP_UDP :
						       UEIP_NATPMP_OP_MAP_TCP,
					     .response = 1, .epoch = epoch_now(p),
					     .internal_port = m->internal_port,
					     .external_port = m->external_port, .lifetime = 0 };
		len = ueip_natpmp_encode_response(&r, out, sizeof(out));
	} else {
		struct ueip_pcp_msg r;
		pcp_msg_of(p, m, 0, &r);
		len = ueip_pcp_encode_response(&r, out, sizeof(out));
	}
	notice_queue(p, &to, out, len);
	if (to.port != UEIP_PCP_CLIENT_PORT) {
		to.port = UEIP_PCP_CLIENT_PORT;
		notice_queue(p, &to, out, len);
	}
	m->notified = 1;
}

/* ---- mapping life ---------------------------------------------------------------------- */

static void
dedicated_holding_key(const struct public *p, const struct ueip_mapping *m, int pool,
		      struct ueip_session_key *k)
{
	*k = m->ue;
	snprintf(k->dnn, sizeof(k->dnn), "%s.public%s", p->cfg->public_pools[pool].name,
		 UEIP_RESERVED_DNN_SUFFIX);
}

/* The first mapping pred accepts, or NULL (ids are 64-bit: they never pass through an int). */
struct first_match {
	int (*pred)(const struct ueip_mapping *m, const void *arg);
	const void *arg;
	struct ueip_mapping *found;
};

static int
first_match_one(struct ueip_mapping *m, void *arg)
{
	struct first_match *f = arg;

	if (!f->pred(m, f->arg))
		return 0;
	f->found = m;
	return 1;
}

static struct ueip_mapping *
find_first(struct public *p, int (*pred)(const struct ueip_mapping *m, const void *arg), const void *arg)
{
	struct first_match f = { pred, arg, NULL };

	ueip_mappings_each(&p->maps, first_match_one, &f);
	return f.found;
}

static void mapping_end(struct public *p, struct ueip_mapping *m, enum end_reason why, int notify);

static int
rides_on(const struct ueip_mapping *m, const void *arg)
{
	const struct ueip_mapping *ded = arg;

	return m != ded && m->internal == ded->internal && m->external == ded->external;
}

/* Mappings riding on a dedicated address end with it. */
static void
end_riders(struct public *p, struct ueip_mapping *ded, enum end_reason why, int notify)
{
	struct ueip_mapping *m;

	if (!ueip_mappings_counts(&p->maps, ded->internal).ports)
		return;
	while ((m = find_first(p, rides_on, ded)))
		mapping_end(p, m, why, notify);
}

static void
shared_release_port(struct public *p, const struct ueip_mapping *m)
{
	for (unsigned i = 0; i < p->nshared; i++)
		if (p->shared[i].addr == m->external && p->shared[i].used)
			p->shared[i].used--;
}

/* End a mapping: out of the table, the store and the data path; its address let go; notice. */
static void
mapping_end(struct public *p, struct ueip_mapping *m, enum end_reason why, int notify)
{
	char ue[16], ext[16];

	if (m->kind == UEIP_MAP_DEDICATED)
		end_riders(p, m, why, notify);
	v4_text(m->internal, ue, sizeof(ue));
	v4_text(m->external, ext, sizeof(ext));
	ueip_log_info("public", "ue %s: %s mapping %s:%u ended (%s)", ue, ueip_mapping_kind_name(m->kind),
		      ext, m->external_port, end_names[why]);
	p->env.batch(p->env.arg);
	ueip_store_mapping_del(p->st, m->id);
	dp_apply(p, m, 0);
	if (m->kind == UEIP_MAP_DEDICATED) {
		int pool = public_pool_index(p->cfg, m->external);
		struct ueip_session_key k;
		if (pool >= 0) {
			dedicated_holding_key(p, m, pool, &k);
			ipam_unhold(p->ipam, &k);
		}
	} else if (!dedicated_of(p, m->internal) || dedicated_of(p, m->internal)->external != m->external) {
		shared_release_port(p, m);
	}
	if (notify)
		notify_end(p, m);
	p->stats.ended[why]++;
	ueip_mappings_remove(&p->maps, m);
	free(m);
	arm_flush(p);
}

/* Remember a client durably so it can be told (ANNOUNCE) if mapping state is ever lost. */
static void
client_remember(struct public *p, uint32_t addr, uint16_t port, int via)
{
	if (ueip_map_get(&p->clients, addr, NULL))
		return;
	if (ueip_store_pcp_client_put(p->st, addr, port, via) == 0)
		ueip_map_put(&p->clients, addr, 1);
}

/* Insert a new mapping (table, store, data path). 0 or an error (nothing changed). */
static int
mapping_install(struct public *p, struct ueip_mapping *m)
{
	struct ueip_mapping *ded = m->kind == UEIP_MAP_DEDICATED ? NULL : dedicated_of(p, m->internal);
	int rc;

	m->in_dp = 0;
	if ((rc = ueip_mappings_insert(&p->maps, m)))
		return rc;
	if ((rc = p->env.batch(p->env.arg)) || (rc = ueip_store_mapping_put(p->st, m))) {
		ueip_mappings_remove(&p->maps, m);
		return rc;
	}
	client_remember(p, m->client, m->client_port, m->via);
	if (!(ded && ded->external == m->external))
		dp_apply(p, m, 1);
	return 0;
}

/* ---- public addresses -------------------------------------------------------------------- */

/* A dedicated address for the UE session: from the first pool in service that has one. */
static int
acquire_dedicated(struct public *p, struct ueip_mapping *m, uint32_t want)
{
	struct ueip_session_key k;
	int rc = UEIP_EEXHAUSTED;

	for (unsigned i = 0; i < p->cfg->npublic_pools; i++) {
		if (want && public_pool_index(p->cfg, want) != (int)i)
			continue;
		dedicated_holding_key(p, m, (int)i, &k);
		rc = ipam_hold(p->ipam, &k, p->cfg->public_pools[i].name, want, &m->external);
		if (rc == 0 || rc == UEIP_ERECOVERING || rc == UEIP_ESTORE)
			return rc;
		if (rc == UEIP_ECONFLICT) {
			/* a holding left over (crash between hold and mapping): take it back */
			const struct ueip_session *s = ipam_session_find(p->ipam, &k);
			if (s && (!want || ipam_session_v4(p->ipam, s) == want)) {
				m->external = ipam_session_v4(p->ipam, s);
				return 0;
			}
		}
	}
	return rc;
}

static int pool_listed(const struct ueip_config *cfg, const char *name);

static int
shared_pool_in_service(const struct public *p)
{
	return p->cfg->shared_pool[0] && pool_listed(p->cfg, p->cfg->shared_pool);
}

static void
shared_key(const struct public *p, uint32_t k, struct ueip_session_key *key)
{
	memset(key, 0, sizeof(*key));
	snprintf(key->supi, sizeof(key->supi), "nai-shared-%u@%s", k, p->cfg->member);
	snprintf(key->dnn, sizeof(key->dnn), "%s.shared%s", p->cfg->shared_pool, UEIP_RESERVED_DNN_SUFFIX);
	snprintf(key->snssai, sizeof(key->snssai), "1");
	key->psi = 1;
}

/* Find the shared addresses this member holds already (after a restart). */
static void
shared_load(struct public *p)
{
	struct ueip_session_key key;
	const struct ueip_session *s;

	if (!p->cfg->shared_pool[0])
		return;
	for (uint32_t k = 1; k <= SHARED_MAX && p->nshared < SHARED_MAX; k++) {
		shared_key(p, k, &key);
		if (!(s = ipam_session_find(p->ipam, &key)))
			continue;
		struct shared_addr *sa = &p->shared[p->nshared++];
		sa->addr = ipam_session_v4(p->ipam, s);
		sa->k = k;
		sa->cursor = p->cfg->shared_port_min;
		snprintf(sa->pool, sizeof(sa->pool), "%s", p->cfg->shared_pool);
	}
}

/* Hold one more shared address. */
static int
shared_grow(struct public *p)
{
	struct ueip_session_key key;
	uint32_t k = 1, addr;
	int rc;

	if (!p->cfg->shared_pool[0] || !shared_pool_in_service(p))
		return UEIP_EEXHAUSTED;
	if (p->nshared >= SHARED_MAX)
		return UEIP_EEXHAUSTED;
	for (unsigned i = 0; i < p->nshared; i++)
		if (p->shared[i].k >= k)
			k = p->shared[i].k + 1;
	shared_key(p, k, &key);
	if ((rc = ipam_hold(p->ipam, &key, p->cfg->shared_pool, 0, &addr)))
		return rc;
	struct shared_addr *sa = &p->shared[p->nshared++];
	*sa = (struct shared_addr){ .addr = addr, .k = k, .cursor = p->cfg->shared_port_min };
	snprintf(sa->pool, sizeof(sa->pool), "%s", p->cfg->shared_pool);
	return 0;
}

static int
port_free(struct public *p, uint32_t addr, uint8_t proto, uint16_t port)
{
	return !ueip_mappings_by_external(&p->maps, ueip_mapping_endpoint_key(addr, proto, port));
}

/* A port on a shared address for m (want_port honoured when free). */
static int
acquire_shared_port(struct public *p, struct ueip_mapping *m, uint32_t want_addr, uint16_t want_port,
		    int prefer_failure)
{
	uint32_t span = (uint32_t)p->cfg->shared_port_max - p->cfg->shared_port_min + 1;

	for (unsigned round = 0; round < 2; round++) {
		for (unsigned i = 0; i < p->nshared; i++) {
			struct shared_addr *sa = &p->shared[i];
			if (want_addr && sa->addr != want_addr)
				continue;
			if (want_port >= p->cfg->shared_port_min && want_port <= p->cfg->shared_port_max &&
			    port_free(p, sa->addr, m->proto, want_port)) {
				m->external = sa->addr;
				m->external_port = want_port;
				sa->used++;
				return 0;
			}
			if (prefer_failure && (want_port || want_addr))
				continue;
			if (sa->used >= span)
				continue;
			for (uint32_t tries = 0; tries < span; tries++) {
				uint16_t port = sa->cursor;
				sa->cursor = port >= p->cfg->shared_port_max ? p->cfg->shared_port_min :
					     (uint16_t)(port + 1);
				if (port_free(p, sa->addr, m->proto, port)) {
					m->external = sa->addr;
					m->external_port = port;
					sa->used++;
					return 0;
				}
			}
		}
		if (prefer_failure && (want_port || want_addr))
			return UEIP_EINUSE;
		if (round == 0) {
			int rc = shared_grow(p);
			if (rc)
				return rc;
		}
	}
	return UEIP_EEXHAUSTED;
}

static int
pcp_result_of(int rc)
{
	switch (rc) {
	case UEIP_ERECOVERING: return UEIP_PCP_NETWORK_FAILURE;
	case UEIP_EINUSE:
	case UEIP_EOUTOFPOOL: return UEIP_PCP_CANNOT_PROVIDE_EXTERNAL;
	case UEIP_EEXHAUSTED:
	case UEIP_ECONFLICT: return UEIP_PCP_NO_RESOURCES;
	default: return UEIP_PCP_NETWORK_FAILURE;
	}
}

/* ---- PCP ---------------------------------------------------------------------------------- */

struct pcp_req {
	struct ueip_pcp_msg msg;
	struct udp_peer from;
	uint32_t ue;			/* internal address the request is for */
	const struct ueip_session *sess;
	const uint8_t *raw;
	size_t raw_len;
};

static void
pcp_answer(struct public *p, struct pcp_req *r, const struct ueip_mapping *m, uint32_t lifetime)
{
	struct ueip_pcp_msg out;
	uint8_t buf[UEIP_PCP_MAX];

	pcp_msg_of(p, m, lifetime, &out);
	p->stats.results[UEIP_PCP_SUCCESS]++;
	reply(p, &r->from, buf, ueip_pcp_encode_response(&out, buf, sizeof(buf)));
}

static void
pcp_fail(struct public *p, struct pcp_req *r, int result, const char *why)
{
	char src[16];

	v4_text(r->from.addr, src, sizeof(src));
	ueip_log_info("public", "pcp %s from %s:%u refused: %s (%s)", ueip_pcp_opcode_name(r->msg.opcode),
		      src, r->from.port, ueip_pcp_result_name(result), why);
	reply_pcp_error(p, &r->from, r->raw, r->raw_len, result);
}

static int
third_party_allowed(const struct ueip_config *cfg, uint32_t src)
{
	for (unsigned i = 0; i < cfg->nthird_party; i++) {
		uint32_t base = ueip_addr_v4(&cfg->third_party[i].def.base);
		if (src >= base && (uint64_t)src < (uint64_t)base + cfg->third_party[i].def.size)
			return 1;
	}
	return 0;
}

/* Source, client field, THIRD_PARTY and the UE session: 0 or a PCP result code. */
static int
pcp_authorize(struct public *p, struct pcp_req *r, const char **why)
{
	uint32_t client;

	if (!ueip_pcp_mapped_to_v4(&r->msg.client, &client) || client != r->from.addr) {
		*why = "client address field differs from the source address";
		return UEIP_PCP_ADDRESS_MISMATCH;
	}
	r->ue = r->from.addr;
	if (r->msg.has_third_party) {
		if (!third_party_allowed(p->cfg, r->from.addr)) {
			*why = "THIRD_PARTY from a source the operator did not authorise";
			return UEIP_PCP_NOT_AUTHORIZED;
		}
		if (!ueip_pcp_mapped_to_v4(&r->msg.third_party, &r->ue)) {
			*why = "THIRD_PARTY names an IPv6 address; public addresses are IPv4";
			return UEIP_PCP_NOT_AUTHORIZED;
		}
	}
	if (!(r->sess = ipam_session_by_v4(p->ipam, r->ue))) {
		*why = "not the UE address of a session this member controls";
		return UEIP_PCP_NOT_AUTHORIZED;
	}
	return 0;
}

static void
filters_take(struct ueip_mapping *m, const struct ueip_pcp_msg *msg)
{
	m->nfilters = 0;
	for (unsigned i = 0; i < msg->nfilters && m->nfilters < UEIP_MAPPING_FILTERS_MAX; i++) {
		uint32_t a;
		if (msg->filters[i].prefix_len == 0 ||
		    !ueip_pcp_mapped_to_v4(&msg->filters[i].remote, &a))
			continue;	/* prefix length 0 removes the filters (RFC 6887 §13.3) */
		m->filters[m->nfilters++] = (struct ueip_mapping_filter){
			a, (uint8_t)(msg->filters[i].prefix_len - 96), msg->filters[i].remote_port };
	}
}

/* The request for an existing mapping: delete or renew (nonce must match). */
static void
pcp_existing(struct public *p, struct pcp_req *r, struct ueip_mapping *m)
{
	int64_t now = now_ms(p);
	uint32_t granted;

	if (memcmp(m->nonce, r->msg.nonce, sizeof(m->nonce)) != 0)
		return pcp_fail(p, r, UEIP_PCP_NOT_AUTHORIZED, "nonce does not match the mapping's");
	if (r->msg.lifetime == 0) {
		struct ueip_mapping copy = *m;
		mapping_end(p, m, END_CLIENT, 0);
		return pcp_answer(p, r, &copy, 0);
	}
	granted = clamp_lifetime(p->cfg, r->msg.lifetime);
	m->client = r->from.addr;
	m->client_port = r->from.port;
	if (r->msg.opcode == UEIP_PCP_OP_MAP && r->msg.nfilters) {
		dp_apply(p, m, 0);
		filters_take(m, &r->msg);
		if (!(dedicated_of(p, m->internal) && m->kind != UEIP_MAP_DEDICATED &&
		      dedicated_of(p, m->internal)->external == m->external))
			dp_apply(p, m, 1);
		p->env.batch(p->env.arg);
		ueip_store_mapping_put(p->st, m);
	}
	if (ueip_mappings_set_expiry(&p->maps, m, now + (int64_t)granted * 1000) ||
	    p->env.batch(p->env.arg) || ueip_store_mapping_renew(p->st, m))
		return pcp_fail(p, r, UEIP_PCP_NO_RESOURCES, "cannot record the renewal");
	pcp_answer(p, r, m, granted);
}

static void
mapping_from_request(struct public *p, const struct pcp_req *r, struct ueip_mapping *m)
{
	memset(m, 0, sizeof(*m));
	m->via = UEIP_VIA_PCP;
	m->proto = r->msg.protocol;
	m->internal = r->ue;
	m->internal_port = r->msg.internal_port;
	memcpy(m->nonce, r->msg.nonce, sizeof(m->nonce));
	m->created_ms = now_ms(p);
	m->client = r->from.addr;
	m->client_port = r->from.port;
	m->third_party = r->msg.has_third_party ? r->from.addr : 0;
	m->ue = r->sess->key;
	if (r->msg.opcode == UEIP_PCP_OP_PEER) {
		m->kind = UEIP_MAP_PEER;
		ueip_pcp_mapped_to_v4(&r->msg.remote, &m->remote);
		m->remote_port = r->msg.remote_port;
	} else {
		m->kind = m->proto == 0 ? UEIP_MAP_DEDICATED : UEIP_MAP_PORT;
		filters_take(m, &r->msg);
	}
}

/* Where a new PORT/PEER mapping goes: the dedicated address, an existing mapping's endpoint, or a shared port. */
static int
place_port_mapping(struct public *p, struct pcp_req *r, struct ueip_mapping *m)
{
	struct ueip_mapping *ded = dedicated_of(p, m->internal), *same;
	uint32_t want_addr = 0;

	if (ded) {
		m->external = ded->external;
		m->external_port = m->internal_port;
		return 0;
	}
	/* endpoint-independent: a PEER reuses the MAP of the same internal endpoint */
	same = ueip_mappings_by_internal(&p->maps, ueip_mapping_endpoint_key(m->internal, m->proto,
									     m->internal_port));
	if (m->kind == UEIP_MAP_PEER && same) {
		m->external = same->external;
		m->external_port = same->external_port;
		return 0;
	}
	ueip_pcp_mapped_to_v4(&r->msg.external, &want_addr);
	return acquire_shared_port(p, m, want_addr, r->msg.external_port, r->msg.prefer_failure);
}

static void
pcp_new_mapping(struct public *p, struct pcp_req *r)
{
	struct ueip_mapping_counts c = ueip_mappings_counts(&p->maps, r->ue);
	struct ueip_mapping *m = malloc(sizeof(*m));
	uint32_t granted = clamp_lifetime(p->cfg, r->msg.lifetime), want = 0;
	int rc;

	if (!m)
		return pcp_fail(p, r, UEIP_PCP_NO_RESOURCES, "out of memory");
	mapping_from_request(p, r, m);
	m->expires_ms = now_ms(p) + (int64_t)granted * 1000;
	if (m->kind == UEIP_MAP_DEDICATED) {
		if (c.dedicated >= p->cfg->quota_dedicated) {
			free(m);
			return pcp_fail(p, r, UEIP_PCP_USER_EX_QUOTA, "dedicated address quota reached");
		}
		ueip_pcp_mapped_to_v4(&r->msg.external, &want);
		rc = acquire_dedicated(p, m, r->msg.prefer_failure ? want : 0);
		if (rc == 0 && want && m->external != want && r->msg.prefer_failure)
			rc = UEIP_EINUSE;
	} else {
		if (c.ports >= p->cfg->quota_ports) {
			free(m);
			return pcp_fail(p, r, UEIP_PCP_USER_EX_QUOTA, "port mapping quota reached");
		}
		rc = place_port_mapping(p, r, m);
	}
	if (rc) {
		free(m);
		return pcp_fail(p, r, pcp_result_of(rc), ueip_strerror(rc));
	}
	if ((rc = mapping_install(p, m))) {
		struct ueip_mapping copy = *m;
		free(m);
		if (copy.kind == UEIP_MAP_DEDICATED) {
			struct ueip_session_key k;
			dedicated_holding_key(p, &copy, public_pool_index(p->cfg, copy.external), &k);
			ipam_unhold(p->ipam, &k);
		}
		return pcp_fail(p, r, UEIP_PCP_NO_RESOURCES, ueip_strerror(rc));
	}
	char ue[16], ext[16];
	v4_text(m->internal, ue, sizeof(ue));
	v4_text(m->external, ext, sizeof(ext));
	ueip_log_info("public", "ue %s (%s): %s mapping %s:%u -> %s:%u for %u s", ue, m->ue.supi,
		      ueip_mapping_kind_name(m->kind), ext, m->external_port, ue, m->internal_port, granted);
	pcp_answer(p, r, m, granted);
}

static void
pcp_map_or_peer(struct public *p, struct pcp_req *r)
{
	struct ueip_mapping probe = { .proto = r->msg.protocol, .internal = r->ue,
				      .internal_port = r->msg.internal_port };
	struct ueip_mapping *m;

	if (r->msg.protocol != 0 && r->msg.protocol != IPPROTO_TCP && r->msg.protocol != IPPROTO_UDP)
		return pcp_fail(p, r, UEIP_PCP_UNSUPP_PROTOCOL, "only TCP, UDP, or all (0)");
	if (r->msg.protocol != 0 && r->msg.internal_port == 0 && r->msg.lifetime)
		return pcp_fail(p, r, UEIP_PCP_UNSUPP_PROTOCOL,
				"all ports of one protocol: ask protocol 0 for a dedicated address");
	if (r->msg.opcode == UEIP_PCP_OP_PEER) {
		if (r->msg.protocol == 0)
			return pcp_fail(p, r, UEIP_PCP_UNSUPP_PROTOCOL, "PEER needs TCP or UDP");
		probe.kind = UEIP_MAP_PEER;
		ueip_pcp_mapped_to_v4(&r->msg.remote, &probe.remote);
		probe.remote_port = r->msg.remote_port;
	} else {
		probe.kind = r->msg.protocol ? UEIP_MAP_PORT : UEIP_MAP_DEDICATED;
	}
	if ((m = ueip_mappings_by_internal(&p->maps, ueip_mapping_internal_key(&probe))) &&
	    m->kind == probe.kind)
		return pcp_existing(p, r, m);
	if (r->msg.lifetime == 0) {
		/* deleting what does not exist succeeds (RFC 6887 §15) */
		probe.external = 0;
		memcpy(probe.nonce, r->msg.nonce, sizeof(probe.nonce));
		return pcp_answer(p, r, &probe, 0);
	}
	if (!ipam_active(p->ipam))
		return pcp_fail(p, r, UEIP_PCP_NETWORK_FAILURE, "member is recovering");
	pcp_new_mapping(p, r);
}

static void
pcp_announce(struct public *p, struct pcp_req *r)
{
	struct ueip_pcp_msg out = { .version = UEIP_PCP_VERSION, .opcode = UEIP_PCP_OP_ANNOUNCE,
				    .response = 1, .epoch = epoch_now(p) };
	uint8_t buf[UEIP_PCP_HDR_LEN + 8];

	p->stats.results[UEIP_PCP_SUCCESS]++;
	reply(p, &r->from, buf, ueip_pcp_encode_response(&out, buf, sizeof(buf)));
}

static void
handle_pcp(struct public *p, const struct udp_peer *from, const uint8_t *data, size_t len)
{
	struct pcp_req r = { .from = *from, .raw = data, .raw_len = len };
	const char *why = "";
	int rc = ueip_pcp_decode_request(data, len, &r.msg);

	if (rc == UEIP_PCP_DROP) {
		p->stats.dropped_malformed++;
		return;
	}
	if (r.msg.opcode < 3)
		p->stats.requests[r.msg.opcode]++;
	if (rc != UEIP_PCP_SUCCESS) {
		char src[16];
		v4_text(from->addr, src, sizeof(src));
		ueip_log_info("public", "pcp from %s:%u: bad request (%zu octets): %s", src, from->port,
			      len, ueip_pcp_result_name(rc));
		return reply_pcp_error(p, from, data, len, rc);
	}
	if ((rc = pcp_authorize(p, &r, &why)))
		return pcp_fail(p, &r, rc, why);
	notices_heard(p, from->addr);
	if (r.msg.opcode == UEIP_PCP_OP_ANNOUNCE)
		return pcp_announce(p, &r);
	pcp_map_or_peer(p, &r);
}

/* ---- NAT-PMP -------------------------------------------------------------------------------- */

static void
natpmp_reply(struct public *p, const struct udp_peer *to, struct ueip_natpmp_msg *m)
{
	uint8_t buf[16];

	m->response = 1;
	m->epoch = epoch_now(p);
	p->stats.natpmp_results[m->result < 8 ? m->result : 7]++;
	if (m->result != UEIP_NATPMP_SUCCESS)
		m->lifetime = 0;
	reply(p, to, buf, ueip_natpmp_encode_response(m, buf, sizeof(buf)));
}

/* The address a NAT-PMP client is seen as: its dedicated one, else the first shared one. */
static uint32_t
natpmp_external(struct public *p, uint32_t ue)
{
	struct ueip_mapping *ded = dedicated_of(p, ue);

	if (ded)
		return ded->external;
	if (!p->nshared && ipam_active(p->ipam))
		shared_grow(p);
	return p->nshared ? p->shared[0].addr : 0;
}

static void
natpmp_delete_all(struct public *p, uint32_t ue, uint8_t proto)
{
	struct ueip_mapping *m;

	for (uint32_t port = 1; port <= 65535 && ueip_mappings_counts(&p->maps, ue).ports; port++) {
		m = ueip_mappings_by_internal(&p->maps, ueip_mapping_endpoint_key(ue, proto, (uint16_t)port));
		if (m && m->via == UEIP_VIA_NATPMP)
			mapping_end(p, m, END_CLIENT, 0);
	}
}

static void
natpmp_map(struct public *p, const struct udp_peer *from, const struct ueip_session *sess,
	   struct ueip_natpmp_msg *q)
{
	uint8_t proto = q->opcode == UEIP_NATPMP_OP_MAP_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	uint64_t key = ueip_mapping_endpoint_key(from->addr, proto, q->internal_port);
	struct ueip_mapping *m = ueip_mappings_by_internal(&p->maps, key);
	uint32_t granted = clamp_lifetime(p->cfg, q->lifetime);

	if (q->lifetime == 0) {
		if (q->internal_port == 0)
			natpmp_delete_all(p, from->addr, proto);
		else if (m && m->kind == UEIP_MAP_PORT)
			mapping_end(p, m, END_CLIENT, 0);
		q->external_port = 0;
		return natpmp_reply(p, from, q);
	}
	if (m && m->kind == UEIP_MAP_PORT) {
		m->client = from->addr;
		m->client_port = from->port;
		if (ueip_mappings_set_expiry(&p->maps, m, now_ms(p) + (int64_t)granted * 1000) ||
		    p->env.batch(p->env.arg) || ueip_store_mapping_renew(p->st, m))
			q->result = UEIP_NATPMP_OUT_OF_RESOURCES;
		q->external_port = m->external_port;
		q->lifetime = granted;
		return natpmp_reply(p, from, q);
	}
	if (!ipam_active(p->ipam)) {
		q->result = UEIP_NATPMP_NETWORK_FAILURE;
		return natpmp_reply(p, from, q);
	}
	if (ueip_mappings_counts(&p->maps, from->addr).ports >= p->cfg->quota_ports ||
	    !(m = calloc(1, sizeof(*m)))) {
		q->result = UEIP_NATPMP_OUT_OF_RESOURCES;
		return natpmp_reply(p, from, q);
	}
	*m = (struct ueip_mapping){ .kind = UEIP_MAP_PORT, .via = UEIP_VIA_NATPMP, .proto = proto,
				    .internal = from->addr, .internal_port = q->internal_port,
				    .created_ms = now_ms(p), .client = from->addr,
				    .client_port = from->port, .ue = sess->key,
				    .expires_ms = now_ms(p) + (int64_t)granted * 1000 };
	struct ueip_mapping *ded = dedicated_of(p, from->addr);
	int rc = 0;
	if (ded) {
		m->external = ded->external;
		m->external_port = m->internal_port;
	} else {
		rc = acquire_shared_port(p, m, 0, q->external_port, 0);
	}
	if (rc || mapping_install(p, m)) {
		free(m);
		q->result = rc == UEIP_ERECOVERING ? UEIP_NATPMP_NETWORK_FAILURE : UEIP_NATPMP_OUT_OF_RESOURCES;
		return natpmp_reply(p, from, q);
	}
	q->external_port = m->external_port;
	q->lifetime = granted;
	natpmp_reply(p, from, q);
}

static void
handle_natpmp(struct public *p, const struct udp_peer *from, const uint8_t *data, size_t len)
{
	struct ueip_natpmp_msg q = { 0 };
	const struct ueip_session *sess;
	int rc = ueip_natpmp_decode_request(data, len, &q);

	if (rc == UEIP_NATPMP_DROP) {
		p->stats.dropped_malformed++;
		return;
	}
	p->stats.natpmp_requests++;
	if (rc != UEIP_NATPMP_SUCCESS) {
		uint8_t out[UEIP_PCP_MAX];
		p->stats.natpmp_results[rc < 8 ? rc : 7]++;
		return reply(p, from, out, ueip_natpmp_encode_error(data, len, (uint16_t)rc, epoch_now(p),
								    out, sizeof(out)));
	}
	if (!(sess = ipam_session_by_v4(p->ipam, from->addr))) {
		char src[16];
		v4_text(from->addr, src, sizeof(src));
		ueip_log_info("public", "nat-pmp from %s:%u refused: not the UE address of a session here",
			      src, from->port);
		q.result = UEIP_NATPMP_NOT_AUTHORIZED;
		return natpmp_reply(p, from, &q);
	}
	notices_heard(p, from->addr);
	if (q.opcode == UEIP_NATPMP_OP_ADDRESS) {
		q.external = natpmp_external(p, from->addr);
		if (!q.external)
			q.result = UEIP_NATPMP_NETWORK_FAILURE;
		return natpmp_reply(p, from, &q);
	}
	natpmp_map(p, from, sess, &q);
}

static void
on_datagram(void *arg, const struct udp_peer *from, const uint8_t *data, size_t len)
{
	struct public *p = arg;

	if (!rate_allow(p, from->addr)) {
		p->stats.dropped_rate++;
		return;
	}
	if (len >= 1 && data[0] == UEIP_NATPMP_VERSION)
		handle_natpmp(p, from, data, len);
	else
		handle_pcp(p, from, data, len);
}

/* ---- start: load, state loss, ANNOUNCE ------------------------------------------------------- */

static int
load_mapping(const struct ueip_mapping *row, void *arg)
{
	struct public *p = arg;
	struct ueip_mapping *m = malloc(sizeof(*m));

	if (!m)
		return UEIP_ENOMEM;
	*m = *row;
	m->in_dp = 0;
	m->notified = 0;
	if (ueip_mappings_insert(&p->maps, m)) {
		ueip_log_warn("public", "store mapping %llu conflicts with another; dropping it",
			      (unsigned long long)row->id);
		free(m);
		p->env.batch(p->env.arg);
		ueip_store_mapping_del(p->st, row->id);
	}
	return 0;
}

static int
program_one(struct ueip_mapping *m, void *arg)
{
	struct public *p = arg;
	struct ueip_mapping *ded = m->kind == UEIP_MAP_DEDICATED ? NULL : dedicated_of(p, m->internal);

	if (!(ded && ded->external == m->external))
		dp_apply(p, m, 1);
	if (m->kind != UEIP_MAP_DEDICATED && !ded)
		for (unsigned i = 0; i < p->nshared; i++)
			if (p->shared[i].addr == m->external)
				p->shared[i].used++;
	return 0;
}

static int
announce_one(uint32_t addr, uint16_t port, int via, void *arg)
{
	struct public *p = arg;
	struct udp_peer to = { addr, UEIP_PCP_CLIENT_PORT, 0 };
	uint8_t buf[UEIP_PCP_HDR_LEN + 8];
	int len;

	if (via == UEIP_VIA_NATPMP) {
		struct ueip_natpmp_msg m = { .opcode = UEIP_NATPMP_OP_ADDRESS, .response = 1,
					     .epoch = 0, .external = natpmp_external(p, addr) };
		len = ueip_natpmp_encode_response(&m, buf, sizeof(buf));
	} else {
		struct ueip_pcp_msg m = { .version = UEIP_PCP_VERSION, .opcode = UEIP_PCP_OP_ANNOUNCE,
					  .response = 1, .epoch = 0 };
		len = ueip_pcp_encode_response(&m, buf, sizeof(buf));
	}
	notice_queue(p, &to, buf, len);
	if (port != UEIP_PCP_CLIENT_PORT) {
		to.port = port;
		notice_queue(p, &to, buf, len);
	}
	p->stats.announces_sent++;
	return 0;
}

static int
any_mapping(const struct ueip_mapping *m, const void *arg)
{
	return 1;
}

/* Mapping state is gone (empty epoch record, or keep_mappings: false): start a new epoch and tell everyone. */
static void
state_reset(struct public *p)
{
	char text[32];
	struct ueip_mapping *m;

	while ((m = find_first(p, any_mapping, NULL)))
		mapping_end(p, m, END_RESET, 0);
	p->epoch_start_ms = now_ms(p);
	snprintf(text, sizeof(text), "%lld", (long long)p->epoch_start_ms);
	p->env.batch(p->env.arg);
	ueip_store_meta_set(p->st, "pcp_epoch_start_ms", text);
	ueip_store_each_pcp_client(p->st, announce_one, p);
	ueip_store_pcp_clients_clear(p->st);
	ueip_map_deinit(&p->clients);
	ueip_map_init(&p->clients);
	ueip_log_info("public", "mapping state reset: new PCP epoch, ANNOUNCE sent to %llu clients",
		      (unsigned long long)p->stats.announces_sent);
}

static int
public_load(struct public *p, char *why, size_t why_size)
{
	char text[32];
	int rc, lost;

	lost = ueip_store_meta_get(p->st, "pcp_epoch_start_ms", text, sizeof(text)) != 0;
	if (!lost)
		p->epoch_start_ms = strtoll(text, NULL, 10);
	if ((rc = ueip_store_each_mapping(p->st, load_mapping, p))) {
		snprintf(why, why_size, "loading public mappings: %s", ueip_strerror(rc));
		return rc;
	}
	shared_load(p);
	if (lost || strcmp(p->cfg->keep_mappings, "false") == 0) {
		state_reset(p);
		return 0;
	}
	ueip_mappings_each(&p->maps, program_one, p);
	if (p->dp && (rc = ueip_dp_commit(p->dp, why, why_size)))
		return rc;
	ueip_log_info("public", "%llu mappings restored from the store (PCP epoch %u s)",
		      (unsigned long long)p->maps.count, epoch_now(p));
	return 0;
}

int
public_new(const struct ueip_config *cfg, struct ueip_store *st, struct ipam *ipam, struct ueip_dp *dp,
	   const struct ipam_env *env, uv_loop_t *loop, struct public **out, char *why, size_t why_size)
{
	struct public *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p)
		return UEIP_ENOMEM;
	p->cfg = cfg;
	p->st = st;
	p->ipam = ipam;
	p->dp = dp;
	p->env = *env;
	ueip_mappings_init(&p->maps);
	ueip_map_init(&p->rate);
	ueip_map_init(&p->clients);
	if ((rc = public_load(p, why, why_size))) {
		public_free(p);
		return rc;
	}
	if (cfg->pcp_address[0] &&
	    (rc = udpnet_new(loop, cfg->pcp_address, on_datagram, p, &p->udp))) {
		snprintf(why, why_size, "PCP listener %s: %s", cfg->pcp_address, ueip_strerror(rc));
		public_free(p);
		return rc;
	}
	ipam_set_gone_hook(ipam, public_on_session_gone, p);
	*out = p;
	return 0;
}

void
public_close(struct public *p)
{
	if (p && p->udp) {
		udpnet_flush(p->udp);
		udpnet_close(p->udp);
	}
}

void
public_free(struct public *p)
{
	if (!p)
		return;
	udpnet_free(p->udp);
	ueip_mappings_deinit(&p->maps);
	ueip_map_deinit(&p->rate);
	ueip_map_deinit(&p->clients);
	free(p->notices);
	free(p);
}

/* ---- periodic work, hooks, reload ------------------------------------------------------------- */

void
public_tick(struct public *p)
{
	struct ueip_mapping *m;
	int64_t now = now_ms(p);
	unsigned n = 0;
	char why[256];

	while (n++ < EXPIRE_PER_TICK && (m = ueip_mappings_pop_expired(&p->maps, now)))
		mapping_end(p, m, END_EXPIRED, 1);
	notices_tick(p);
	if (p->dp) {
		struct ueip_dp_stats s;
		ueip_dp_stats(p->dp, &s);
		if (s.queued && !p->flush_armed && ueip_dp_commit(p->dp, why, sizeof(why)))
			p->stats.dp_errors++;
	}
	if (ueip_map_count(&p->rate) > 1000000) {
		ueip_map_deinit(&p->rate);	/* forget idle buckets: everyone starts full */
		ueip_map_init(&p->rate);
	}
}

static int
of_ue_session(const struct ueip_mapping *m, const void *arg)
{
	const struct ueip_session *s = arg;

	return ueip_session_key_equal(&m->ue, &s->key);
}

void
public_on_session_gone(void *arg, const struct ueip_session *s)
{
	struct public *p = arg;
	struct ueip_mapping *m;

	struct ueip_mapping_counts c;

	if (ipam_dnn_reserved(s->key.dnn))
		return;
	c = ueip_mappings_counts(&p->maps, ipam_session_v4(p->ipam, s));
	if (!c.dedicated && !c.ports)
		return;
	while ((m = find_first(p, of_ue_session, s)))
		mapping_end(p, m, END_SESSION, 1);
}

struct pool_match {
	const struct public *p;
	unsigned pool;
};

static int
in_pool(const struct ueip_mapping *m, const void *arg)
{
	const struct pool_match *pm = arg;

	return public_pool_index(pm->p->cfg, m->external) == (int)pm->pool;
}

static int
pool_listed(const struct ueip_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->npublic_pools; i++)
		if (strcmp(cfg->public_pools[i].name, name) == 0)
			return 1;
	return 0;
}

/* Shared addresses of a pool taken out of service: their port mappings ended already. */
static void
shared_drop_pool(struct public *p, const char *pool)
{
	struct ueip_session_key key;

	for (unsigned i = 0; i < p->nshared;) {
		if (strcmp(p->shared[i].pool, pool) != 0) {
			i++;
			continue;
		}
		shared_key(p, p->shared[i].k, &key);
		ipam_unhold(p->ipam, &key);
		p->shared[i] = p->shared[--p->nshared];
	}
}

void
public_reload(struct public *p, struct ueip_config *cfg, const struct ueip_config *next)
{
	struct ueip_mapping *m;

	for (unsigned i = 0; i < cfg->npublic_pools; i++) {
		struct pool_match pm = { p, i };
		if (pool_listed(next, cfg->public_pools[i].name))
			continue;
		ueip_log_warn("public", "public pool %s removed by reload: withdrawing its mappings",
			      cfg->public_pools[i].name);
		while ((m = find_first(p, in_pool, &pm)))
			mapping_end(p, m, END_POOL, 1);
		shared_drop_pool(p, cfg->public_pools[i].name);
	}
	memcpy(cfg->public_pools, next->public_pools, sizeof(cfg->public_pools));
	cfg->npublic_pools = next->npublic_pools;
	if (!pool_listed(next, cfg->shared_pool))
		cfg->shared_pool[0] = '\0';
	cfg->lifetime_min = next->lifetime_min;
	cfg->lifetime_max = next->lifetime_max;
	cfg->lifetime_default = next->lifetime_default;
	cfg->quota_dedicated = next->quota_dedicated;
	cfg->quota_ports = next->quota_ports;
	cfg->rate_per_ue = next->rate_per_ue;
	cfg->rate_burst = next->rate_burst;
	memcpy(cfg->third_party, next->third_party, sizeof(cfg->third_party));
	cfg->nthird_party = next->nthird_party;
	snprintf(cfg->keep_mappings, sizeof(cfg->keep_mappings), "%s", next->keep_mappings);
	snprintf(cfg->dp_cleanup, sizeof(cfg->dp_cleanup), "%s", next->dp_cleanup);
}

/* ---- control commands ------------------------------------------------------------------------ */

static json_t *
mapping_json(struct public *p, const struct ueip_mapping *m)
{
	char ue[16], ext[16], client[32], rem[16];
	int64_t left = (m->expires_ms - now_ms(p)) / 1000;
	json_t *o;

	v4_text(m->internal, ue, sizeof(ue));
	v4_text(m->external, ext, sizeof(ext));
	v4_text(m->client, rem, sizeof(rem));
	snprintf(client, sizeof(client), "%s:%u", rem, m->client_port);
	o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:i}",
		      "id", (json_int_t)m->id, "ue", ue, "supi", m->ue.supi,
		      "kind", ueip_mapping_kind_name(m->kind), "protocol", m->proto,
		      "internal_port", m->internal_port, "external", ext,
		      "external_port", m->external_port, "lifetime_left", (json_int_t)(left > 0 ? left : 0),
		      "client", client, "via", m->via == UEIP_VIA_NATPMP ? "natpmp" : "pcp",
		      "dnn", m->ue.dnn, "snssai", m->ue.snssai, "pdu-session-id", m->ue.psi);
	if (o && m->kind == UEIP_MAP_PEER) {
		v4_text(m->remote, rem, sizeof(rem));
		json_object_set_new(o, "remote", json_string(rem));
		json_object_set_new(o, "remote_port", json_integer(m->remote_port));
	}
	if (o && m->nfilters)
		json_object_set_new(o, "filters", json_integer(m->nfilters));
	return o;
}

struct list_ctx {
	struct public *p;
	json_t *arr;
	uint32_t ue, address;
	size_t limit;
};

static int
list_one(struct ueip_mapping *m, void *arg)
{
	struct list_ctx *lc = arg;

	if ((lc->ue && m->internal != lc->ue) || (lc->address && m->external != lc->address))
		return 0;
	if (json_array_size(lc->arr) >= lc->limit)
		return 1;
	json_array_append_new(lc->arr, mapping_json(lc->p, m));
	return 0;
}

/* Optional address argument: 0 and *out (0 when absent), or UEIP_EINVAL with why. */
static int
arg_v4(json_t *args, const char *name, uint32_t *out, char *why, size_t why_size)
{
	json_t *v = json_object_get(args, name);
	struct in_addr in;

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_string(v) || inet_pton(AF_INET, json_string_value(v), &in) != 1) {
		snprintf(why, why_size, "%s: expected an IPv4 address", name);
		return UEIP_EINVAL;
	}
	*out = ntohl(in.s_addr);
	return 0;
}

/* Only the keys a command knows: a filter misspelt must not silently list everything. */
static int
args_known(json_t *args, const char *const *known, char *why, size_t why_size)
{
	const char *key;
	json_t *v;

	json_object_foreach(args, key, v) {
		const char *const *k = known;
		while (*k && strcmp(*k, key))
			k++;
		if (!*k) {
			snprintf(why, why_size, "unknown argument '%.40s'", key);
			return UEIP_EINVAL;
		}
	}
	return 0;
}

void
public_cmd_list(struct public *p, json_t *args, ipam_done_fn *done, void *ctx)
{
	static const char *const known[] = { "ue", "address", "limit", NULL };
	struct list_ctx lc = { p, json_array(), 0, 0, 10000 };
	json_t *lim = json_object_get(args, "limit");
	char why[128];

	if (args_known(args, known, why, sizeof(why))) {
		json_decref(lc.arr);
		return done(ctx, UEIP_EINVAL, NULL, why);
	}
	if (arg_v4(args, "ue", &lc.ue, why, sizeof(why)) ||
	    arg_v4(args, "address", &lc.address, why, sizeof(why))) {
		json_decref(lc.arr);
		return done(ctx, UEIP_EINVAL, NULL, why);
	}
	if (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1 || json_integer_value(lim) > 100000)) {
		json_decref(lc.arr);
		return done(ctx, UEIP_EINVAL, NULL, "limit: expected 1..100000");
	}
	if (lim)
		lc.limit = (size_t)json_integer_value(lim);
	if (lc.ue && (lc.ue != 0) && dedicated_of(p, lc.ue) == NULL &&
	    !ueip_mappings_counts(&p->maps, lc.ue).ports) {
		/* nothing for this UE: skip the walk */
	} else {
		ueip_mappings_each(&p->maps, list_one, &lc);
	}
	snprintf(why, sizeof(why), "%zu mappings", json_array_size(lc.arr));
	done(ctx, json_array_size(lc.arr) ? 0 : UEIP_ENOTFOUND, json_pack("{s:o}", "mappings", lc.arr), why);
}

struct withdraw_ctx {
	ipam_done_fn *done;
	void *ctx;
	json_t *result;
	char text[96];
};

static void
withdraw_answer(void *arg, int rc)
{
	struct withdraw_ctx *w = arg;

	if (rc) {
		json_decref(w->result);
		w->done(w->ctx, rc, NULL, "store commit failed");
	} else {
		w->done(w->ctx, 0, w->result, w->text);
	}
	free(w);
}

struct withdraw_collect {
	uint32_t ue, address;
	uint64_t *ids;
	size_t n, cap;
};

static int
withdraw_match(struct ueip_mapping *m, void *arg)
{
	struct withdraw_collect *wc = arg;

	if ((wc->ue && m->internal == wc->ue) || (wc->address && m->external == wc->address)) {
		if (ueip_grow((void **)&wc->ids, &wc->cap, wc->n, sizeof(*wc->ids)))
			return 1;
		wc->ids[wc->n++] = m->id;
	}
	return 0;
}

void
public_cmd_withdraw(struct public *p, json_t *args, ipam_done_fn *done, void *ctx)
{
	static const char *const known[] = { "ue", "address", "reason", NULL };
	struct withdraw_collect wc = { 0 };
	struct withdraw_ctx *w;
	json_t *arr;
	char why[128];

	if (args_known(args, known, why, sizeof(why)))
		return done(ctx, UEIP_EINVAL, NULL, why);
	if (arg_v4(args, "ue", &wc.ue, why, sizeof(why)) ||
	    arg_v4(args, "address", &wc.address, why, sizeof(why)) || (!wc.ue && !wc.address))
		return done(ctx, UEIP_EINVAL, NULL, wc.ue || wc.address ? why :
			    "give ue=ADDRESS or address=PUBLIC-ADDRESS");
	if (ueip_mappings_each(&p->maps, withdraw_match, &wc)) {
		free(wc.ids);
		return done(ctx, UEIP_ENOMEM, NULL, "out of memory");
	}
	if (!wc.n)
		return done(ctx, UEIP_ENOTFOUND, NULL, "no mapping matches");
	if (!(w = calloc(1, sizeof(*w))) || p->env.defer(p->env.arg, withdraw_answer, w)) {
		free(w);
		free(wc.ids);
		return done(ctx, UEIP_ENOMEM, NULL, "out of memory");
	}
	arr = json_array();
	for (size_t i = 0; i < wc.n; i++)
		json_array_append_new(arr, mapping_json(p, ueip_mappings_get(&p->maps, wc.ids[i])));
	/* dedicated ones last would end their riders twice; ending is idempotent by id */
	for (size_t i = 0; i < wc.n; i++) {
		struct ueip_mapping *m = ueip_mappings_get(&p->maps, wc.ids[i]);
		if (m)
			mapping_end(p, m, END_WITHDRAWN, 1);
	}
	w->done = done;
	w->ctx = ctx;
	w->result = json_pack("{s:o}", "withdrawn", arr);
	snprintf(w->text, sizeof(w->text), "%zu mappings withdrawn, UE notified", wc.n);
	free(wc.ids);
}

struct count_ctx {
	uint64_t kinds[4];
};

static int
count_one(struct ueip_mapping *m, void *arg)
{
	struct count_ctx *c = arg;

	c->kinds[m->kind & 3]++;
	return 0;
}

void
public_cmd_stats(struct public *p, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct count_ctx c = { { 0 } };
	json_t *pools = json_array(), *shared = json_array(), *results = json_object(), *ended = json_object();
	struct ueip_dp_stats ds = { 0 };
	char a[16];

	ueip_mappings_each(&p->maps, count_one, &c);
	for (unsigned i = 0; i < p->cfg->npublic_pools; i++) {
		char base[64];
		ueip_addr_format(&p->cfg->public_pools[i].def.base, base, sizeof(base));
		json_array_append_new(pools, json_pack("{s:s, s:s, s:I}", "name", p->cfg->public_pools[i].name,
						       "first", base,
						       "size", (json_int_t)p->cfg->public_pools[i].def.size));
	}
	for (unsigned i = 0; i < p->nshared; i++) {
		v4_text(p->shared[i].addr, a, sizeof(a));
		json_array_append_new(shared, json_pack("{s:s, s:i}", "address", a, "ports_used",
							(int)p->shared[i].used));
	}
	for (int r = 0; r < 256; r++)
		if (p->stats.results[r])
			json_object_set_new(results, ueip_pcp_result_name(r), json_integer((json_int_t)p->stats.results[r]));
	for (int e = 0; e < 6; e++)
		json_object_set_new(ended, end_names[e], json_integer((json_int_t)p->stats.ended[e]));
	if (p->dp)
		ueip_dp_stats(p->dp, &ds);
	done(ctx, 0, json_pack("{s:I, s:I, s:I, s:I, s:i, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:{s:s, s:I, s:I, s:I}}",
			       "mappings", (json_int_t)p->maps.count,
			       "dedicated", (json_int_t)c.kinds[UEIP_MAP_DEDICATED],
			       "port", (json_int_t)c.kinds[UEIP_MAP_PORT],
			       "peer", (json_int_t)c.kinds[UEIP_MAP_PEER],
			       "epoch", (int)epoch_now(p), "pools", pools, "shared", shared,
			       "results", results, "ended", ended,
			       "natpmp_requests", (json_int_t)p->stats.natpmp_requests,
			       "dropped_rate_limited", (json_int_t)p->stats.dropped_rate,
			       "dropped_malformed", (json_int_t)p->stats.dropped_malformed,
			       "notices_sent", (json_int_t)p->stats.notices_sent,
			       "notices_pending", (json_int_t)p->nnotices,
			       "dataplane", "backend", p->dp ? ueip_dp_name(p->dp) : "none",
			       "installed", (json_int_t)ds.mappings, "commits", (json_int_t)ds.commits,
			       "commit_errors", (json_int_t)ds.commit_errors),
	     "public mapping figures");
}

void
public_metrics(struct public *p, struct ueip_buf *out)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "# TYPE ueip_public_mappings gauge\nueip_public_mappings %llu\n",
		     (unsigned long long)p->maps.count);
	ueip_set_put_bytes(out, line, (size_t)n);
	ueip_set_put_bytes(out, "# TYPE ueip_pcp_results_total counter\n", 38);
	for (int r = 0; r < 256; r++) {
		if (!p->stats.results[r])
			continue;
		n = snprintf(line, sizeof(line), "ueip_pcp_results_total{result=\"%s\"} %llu\n",
			     ueip_pcp_result_name(r), (unsigned long long)p->stats.results[r]);
		ueip_set_put_bytes(out, line, (size_t)n);
	}
	ueip_set_put_bytes(out, "# TYPE ueip_public_ended_total counter\n", 39);
	for (int e = 0; e < 6; e++) {
		n = snprintf(line, sizeof(line), "ueip_public_ended_total{reason=\"%s\"} %llu\n", end_names[e],
			     (unsigned long long)p->stats.ended[e]);
		ueip_set_put_bytes(out, line, (size_t)n);
	}
	n = snprintf(line, sizeof(line),
		     "# TYPE ueip_pcp_dropped_total counter\nueip_pcp_dropped_total{why=\"rate\"} %llu\n"
		     "ueip_pcp_dropped_total{why=\"malformed\"} %llu\n",
		     (unsigned long long)p->stats.dropped_rate, (unsigned long long)p->stats.dropped_malformed);
	ueip_set_put_bytes(out, line, (size_t)n);
}
