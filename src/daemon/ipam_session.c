// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: ipam session commands
 *
 * create, release, get, list, adopt, and the read-only pool-stats and
 * set-status. Each validates its arguments completely before it changes
 * anything, so a refused request leaves memory and store as they were.
 * Answers of changing commands are deferred until the batch is durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/ipam_int.h"
#include "proto/ctlmsg.h"

struct deferred_answer {
	ipam_done_fn *done;
	void *ctx;
	json_t *result;
	char text[128];
};

static void
deferred_answer_run(void *arg, int rc)
{
	struct deferred_answer *d = arg;

	if (rc) {
		json_decref(d->result);
		d->done(d->ctx, rc, NULL, "store commit failed");
	} else {
		d->done(d->ctx, 0, d->result, d->text);
	}
	free(d);
}

/* Answer once the current batch is durable. */
static void
answer_durable(struct ipam *ipam, ipam_done_fn *done, void *ctx, json_t *result, const char *text)
{
	struct deferred_answer *d = calloc(1, sizeof(*d));

	if (!d || ipam->env.defer(ipam->env.arg, deferred_answer_run, d)) {
		free(d);
		json_decref(result);
		done(ctx, UEIP_ENOMEM, NULL, "out of memory");
		return;
	}
	d->done = done;
	d->ctx = ctx;
	d->result = result;
	snprintf(d->text, sizeof(d->text), "%s", text);
}

/* Parse supi/dnn/snssai/pdu-session-id; 0 or UEIP_EINVAL with why. */
static int
key_from_args(json_t *args, struct ueip_session_key *key, char *why, size_t why_size)
{
	uint64_t psi;

	memset(key, 0, sizeof(*key));
	if (ueip_ctl_get_str(args, "supi", 1, sizeof(key->supi), key->supi, why, why_size) ||
	    ueip_ctl_get_str(args, "dnn", 1, sizeof(key->dnn), key->dnn, why, why_size) ||
	    ueip_ctl_get_str(args, "snssai", 1, sizeof(key->snssai), key->snssai, why, why_size) ||
	    ueip_ctl_get_uint(args, "pdu-session-id", 1, 1, 15, &psi, why, why_size))
		return UEIP_EINVAL;
	key->psi = (uint8_t)psi;
	if (ueip_session_key_check(key)) {
		snprintf(why, why_size, "invalid session key: supi must be imsi-<5..15 digits> or nai-..., "
			 "dnn LDH labels, snssai <sst>[-<6 hex sd>]");
		return UEIP_EINVAL;
	}
	return 0;
}

static int
pool_serves(const struct ueip_pool *pool, const struct ueip_session_key *key, int family)
{
	return strcmp(pool->def.dnn, key->dnn) == 0 && pool->def.base.family == family &&
	       (!pool->def.snssai[0] || strcmp(pool->def.snssai, key->snssai) == 0);
}

static int
dnn_known(struct ipam *ipam, const char *dnn)
{
	for (unsigned i = 0; i < ipam->npools; i++)
		if (strcmp(ipam->pools[i]->def.dnn, dnn) == 0)
			return 1;
	return 0;
}

static int
alloc_dynamic(struct ipam *ipam, const struct ueip_session_key *key, int family,
	      struct ueip_holding *h)
{
	int served = 0;

	for (unsigned i = 0; i < ipam->npools; i++) {
		if (!pool_serves(ipam->pools[i], key, family))
			continue;
		served = 1;
		if (ueip_pool_alloc(ipam->pools[i], &h->index) == 0) {
			h->present = 1;
			h->pool_id = (uint16_t)i;
			return 0;
		}
	}
	return served ? UEIP_EEXHAUSTED : UEIP_EUNKNOWNDNN;
}

static void
undo_dynamic(struct ipam *ipam, struct ueip_holding *h)
{
	if (h->present)
		ueip_pool_clear(ipam->pools[h->pool_id], h->index);
	h->present = 0;
}

/* A requested static address: must be in a pool, reserved for this SUPI and DNN, and not held. */
static int
static_holding(struct ipam *ipam, const struct ueip_session_key *key, const char *text,
	       struct ueip_holding *h, int *family, char *why, size_t why_size)
{
	struct ueip_addr addr;
	uint8_t plen = 0;
	uint64_t idx, cfg_index;
	unsigned p;

	if (ueip_addr_parse(text, &addr) && ueip_prefix_parse(text, &addr, &plen)) {
		snprintf(why, why_size, "'address' %s is not an IPv4 address or IPv6 prefix", text);
		return UEIP_EINVAL;
	}
	for (p = 0; p < ipam->npools; p++)
		if (ueip_pool_contains(ipam->pools[p], &addr, &idx) &&
		    (addr.family == UEIP_AF_INET || plen == ipam->pools[p]->def.unit_len))
			break;
	if (p == ipam->npools) {
		snprintf(why, why_size, "address %s is outside every pool", text);
		return UEIP_EOUTOFPOOL;
	}
	if (!ueip_map_get(&ipam->statics, ueip_unit_key((uint16_t)p, idx), &cfg_index)) {
		snprintf(why, why_size, "address %s is not a static reservation", text);
		return UEIP_ENOTSTATIC;
	}
	const struct ueip_config_static *st = &ipam->cfg->statics[cfg_index];
	if (strcmp(st->supi, key->supi) != 0 || strcmp(st->dnn, key->dnn) != 0) {
		snprintf(why, why_size, "address %s is reserved for another subscriber", text);
		return UEIP_ESTATICOTHER;
	}
	struct ueip_session *holder = ueip_sessions_by_unit(&ipam->sessions, ueip_unit_key((uint16_t)p, idx));
	if (holder) {
		char k[160];
		ueip_session_key_format(&holder->key, k, sizeof(k));
		snprintf(why, why_size, "address %s is held by session %s", text, k);
		return UEIP_EINUSE;
	}
	h->present = 1;
	h->pool_id = (uint16_t)p;
	h->index = idx;
	*family = addr.family;
	return 0;
}

struct create_req {
	struct ueip_session_key key;
	enum ueip_ip_type type;
	char address[UEIP_ADDR_STRLEN];
};

static int
create_args(json_t *args, struct create_req *r, char *why, size_t why_size)
{
	char type[8] = "v4";
	int rc;

	if (key_from_args(args, &r->key, why, why_size))
		return UEIP_EINVAL;
	rc = ueip_ctl_get_str(args, "ip-type", 0, sizeof(type), type, why, why_size);
	if (rc == UEIP_EINVAL)
		return rc;
	if (rc == UEIP_ENOTFOUND)
		snprintf(type, sizeof(type), "v4");
	if (ueip_ip_type_parse(type, &r->type)) {
		snprintf(why, why_size, "'ip-type' must be v4, v6 or v4v6");
		return UEIP_EINVAL;
	}
	rc = ueip_ctl_get_str(args, "address", 0, sizeof(r->address), r->address, why, why_size);
	return rc == UEIP_EINVAL ? rc : 0;
}

static int
alloc_failed(const struct create_req *r, int rc, char family, char *why, size_t why_size)
{
	if (rc == UEIP_EEXHAUSTED)
		snprintf(why, why_size, "no free IPv%c address in the pools of dnn %s", family, r->key.dnn);
	else
		snprintf(why, why_size, "no IPv%c pool serves dnn %s", family, r->key.dnn);
	return rc;
}

static int
create_holdings(struct ipam *ipam, const struct create_req *r, struct ueip_session *s,
		char *why, size_t why_size)
{
	int static_family = 0, rc;

	if (r->address[0]) {
		struct ueip_holding h = { 0 };
		if ((rc = static_holding(ipam, &r->key, r->address, &h, &static_family, why, why_size)))
			return rc;
		if ((static_family == UEIP_AF_INET && !(r->type & UEIP_IP_V4)) ||
		    (static_family == UEIP_AF_INET6 && !(r->type & UEIP_IP_V6))) {
			snprintf(why, why_size, "static address %s does not match ip-type", r->address);
			return UEIP_EINVAL;
		}
		*(static_family == UEIP_AF_INET ? &s->v4 : &s->v6) = h;
		s->is_static = 1;
	}
	if ((r->type & UEIP_IP_V4) && !s->v4.present &&
	    (rc = alloc_dynamic(ipam, &r->key, UEIP_AF_INET, &s->v4)))
		return alloc_failed(r, rc, '4', why, why_size);
	if ((r->type & UEIP_IP_V6) && !s->v6.present &&
	    (rc = alloc_dynamic(ipam, &r->key, UEIP_AF_INET6, &s->v6))) {
		if (!(s->is_static && static_family == UEIP_AF_INET))
			undo_dynamic(ipam, &s->v4);
		return alloc_failed(r, rc, '6', why, why_size);
	}
	return 0;
}

void
ipam_cmd_session_create(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct create_req r = { 0 };
	struct ueip_session *s, *old;
	char why[256];
	int rc;

	if (create_args(args, &r, why, sizeof(why)))
		return done(ctx, UEIP_EINVAL, NULL, why);
	if (ipam->state == IPAM_RECOVERING)
		return ipam_fail(done, ctx, UEIP_ERECOVERING, "member %s is recovering, retry", ipam->self);
	if ((old = ueip_sessions_find(&ipam->sessions, &r.key))) {
		if (old->ip_type != r.type)
			return ipam_fail(done, ctx, UEIP_ECONFLICT, "session exists with ip-type %s",
					 ueip_ip_type_name(old->ip_type));
		return answer_durable(ipam, done, ctx, ipam_session_json(ipam, old), "session exists");
	}
	if (ipam_dnn_reserved(r.key.dnn))
		return ipam_fail(done, ctx, UEIP_EINVAL, "dnn %s is reserved for ueipd's own holdings",
				 r.key.dnn);
	if (!dnn_known(ipam, r.key.dnn))
		return ipam_fail(done, ctx, UEIP_EUNKNOWNDNN, "no pool serves dnn %s", r.key.dnn);
	if (!(s = calloc(1, sizeof(*s))))
		return done(ctx, UEIP_ENOMEM, NULL, "out of memory");
	s->key = r.key;
	s->ip_type = (uint8_t)r.type;
	if ((rc = create_holdings(ipam, &r, s, why, sizeof(why)))) {
		free(s);
		return done(ctx, rc, NULL, why);
	}
	s->alloc_id = ueip_hash64(++ipam->alloc_seq);
	s->gen = 1;
	s->created_ms = ipam_now(ipam);
	if ((rc = ueip_sessions_insert(&ipam->sessions, s)) || (rc = ipam_persist_session(ipam, s))) {
		undo_dynamic(ipam, &s->v4);
		undo_dynamic(ipam, &s->v6);
		free(s);
		return done(ctx, rc, NULL, "cannot record the session");
	}
	ipam->stats.creates++;
	answer_durable(ipam, done, ctx, ipam_session_json(ipam, s), "session created");
}

/* Free one unit of a released session: here if we own its chunk, else via the owner. */
void
ipam_release_unit(struct ipam *ipam, const struct ueip_session *s, const struct ueip_holding *h)
{
	struct ueip_set_unit u = { 0 };
	int owned;

	if (!h->present || s->is_static)
		return;
	owned = ipam_unit_owned(ipam, h->pool_id, h->index);
	if (owned == UEIP_CHUNK_MINE) {
		ipam_quarantine(ipam, h->pool_id, h->index);
		return;
	}
	if (owned == UEIP_CHUNK_BLOCKED) {
		/* Our chunk, its hand-off still coming: remember so the hand-off does not re-hold it. */
		ueip_map_put(&ipam->released_blocked, ueip_unit_key(h->pool_id, h->index), s->alloc_id);
		ipam_quarantine(ipam, h->pool_id, h->index);
		return;
	}
	snprintf(u.pool, sizeof(u.pool), "%s", ipam->pools[h->pool_id]->def.name);
	u.index = h->index;
	u.alloc_id = s->alloc_id;
	ipam_outbox_add(ipam, &u);
}

static void
flush_after_commit(void *arg, int rc)
{
	if (!rc)
		ipam_outbox_flush(arg);
}

/* Free s's units and forget it; its store row was deleted in the current batch. */
void
ipam_drop_session(struct ipam *ipam, struct ueip_session *s)
{
	ipam_release_unit(ipam, s, &s->v4);
	ipam_release_unit(ipam, s, &s->v6);
	ueip_sessions_remove(&ipam->sessions, s);
	free(s);
	ipam->env.defer(ipam->env.arg, flush_after_commit, ipam);
}

void
ipam_cmd_session_release(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct ueip_session_key key;
	struct ueip_session *s;
	char why[256];
	int rc;

	if (key_from_args(args, &key, why, sizeof(why)))
		return done(ctx, UEIP_EINVAL, NULL, why);
	if (ipam->state == IPAM_RECOVERING)
		return ipam_fail(done, ctx, UEIP_ERECOVERING, "member %s is recovering, retry", ipam->self);
	if (!(s = ueip_sessions_find(&ipam->sessions, &key)))
		return done(ctx, UEIP_ENOTFOUND, NULL, "no such session on this member");
	if (s->busy)
		return done(ctx, UEIP_EBUSY, NULL, "a transfer of this session is undecided; retry the transfer");
	if (s->unconfirmed)
		return done(ctx, UEIP_EBUSY, NULL, "this session was just transferred here and its previous "
			    "controller has not confirmed yet; retry");
	json_t *result = ipam_session_json(ipam, s);
	if ((rc = ipam_batch(ipam)) || (rc = ueip_store_session_del(ipam->st, &key))) {
		json_decref(result);
		return done(ctx, rc, NULL, "store failure");
	}
	ipam_session_gone(ipam, s);
	ipam_drop_session(ipam, s);
	ipam->stats.releases++;
	answer_durable(ipam, done, ctx, result, "session released");
}

void
ipam_cmd_session_get(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct ueip_session_key key;
	struct ueip_session *s;
	char why[256];

	if (key_from_args(args, &key, why, sizeof(why)))
		return done(ctx, UEIP_EINVAL, NULL, why);
	if (!(s = ueip_sessions_find(&ipam->sessions, &key)))
		return done(ctx, UEIP_ENOTFOUND, NULL, "no such session on this member");
	done(ctx, 0, ipam_session_json(ipam, s), "session found");
}

struct list_ctx {
	struct ipam *ipam;
	json_t *list;
	struct ueip_session_key last;
};

static int
list_one(const struct ueip_store_session *r, void *arg)
{
	struct list_ctx *lc = arg;
	json_t *o = json_object();

	json_object_set_new(o, "supi", json_string(r->s.key.supi));
	json_object_set_new(o, "dnn", json_string(r->s.key.dnn));
	json_object_set_new(o, "snssai", json_string(r->s.key.snssai));
	json_object_set_new(o, "pdu-session-id", json_integer(r->s.key.psi));
	json_object_set_new(o, "ip-type", json_string(ueip_ip_type_name(r->s.ip_type)));
	if (r->s.has_v4)
		json_object_set_new(o, "ipv4", json_string(r->v4_addr));
	if (r->s.has_v6)
		json_object_set_new(o, "ipv6-prefix", json_string(r->v6_prefix));
	json_object_set_new(o, "static", json_boolean(r->s.is_static));
	json_array_append_new(lc->list, o);
	lc->last = r->s.key;
	return 0;
}

void
ipam_cmd_session_list(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct list_ctx lc = { .ipam = ipam, .list = json_array() };
	struct ueip_session_key after;
	json_t *from = json_object_get(args, "from");
	uint64_t limit = 100;
	char why[256];
	int rc;

	rc = ueip_ctl_get_uint(args, "limit", 0, 1, 10000, &limit, why, sizeof(why));
	if (rc == UEIP_EINVAL || (from && (!json_is_object(from) ||
					   key_from_args(from, &after, why, sizeof(why))))) {
		json_decref(lc.list);
		if (from && !json_is_object(from))
			snprintf(why, sizeof(why), "'from' must be a session key object");
		return done(ctx, UEIP_EINVAL, NULL, why);
	}
	if (ueip_store_list_sessions(ipam->st, from ? &after : NULL, (unsigned)limit, list_one, &lc)) {
		json_decref(lc.list);
		return done(ctx, UEIP_ESTORE, NULL, "store failure");
	}
	json_t *result = json_object();
	size_t n = json_array_size(lc.list);
	json_object_set_new(result, "sessions", lc.list);
	json_object_set_new(result, "count", json_integer((json_int_t)n));
	json_object_set_new(result, "total", json_integer((json_int_t)ipam->sessions.count));
	if (n == limit) {
		json_t *next = json_object();
		json_object_set_new(next, "supi", json_string(lc.last.supi));
		json_object_set_new(next, "dnn", json_string(lc.last.dnn));
		json_object_set_new(next, "snssai", json_string(lc.last.snssai));
		json_object_set_new(next, "pdu-session-id", json_integer(lc.last.psi));
		json_object_set_new(result, "next", next);
	}
	done(ctx, n ? 0 : UEIP_ENOTFOUND, result, n ? "sessions listed" : "no sessions");
}

/* ---- adopt ---- */

static int
holding_from_text(struct ipam *ipam, const char *text, int family, struct ueip_holding *h)
{
	struct ueip_addr addr;
	uint8_t plen = 32;

	if (family == UEIP_AF_INET ? ueip_addr_parse(text, &addr) : ueip_prefix_parse(text, &addr, &plen))
		return UEIP_EINVAL;
	for (unsigned p = 0; p < ipam->npools; p++) {
		if (ueip_pool_contains(ipam->pools[p], &addr, &h->index) &&
		    (family == UEIP_AF_INET || plen == ipam->pools[p]->def.unit_len)) {
			h->present = 1;
			h->pool_id = (uint16_t)p;
			return 0;
		}
	}
	return UEIP_EOUTOFPOOL;
}

static int
adopt_args(struct ipam *ipam, json_t *args, struct ueip_session *s, char *from,
	   char *why, size_t why_size)
{
	char v4[UEIP_ADDR_STRLEN], v6[UEIP_ADDR_STRLEN], type[8], alloc[24];
	uint64_t gen = 1;
	int rc;

	memset(s, 0, sizeof(*s));
	if (key_from_args(args, &s->key, why, why_size) ||
	    ueip_ctl_get_str(args, "from", 1, UEIP_MEMBER_ID_MAX, from, why, why_size) ||
	    ueip_ctl_get_str(args, "ip-type", 1, sizeof(type), type, why, why_size) ||
	    ueip_ctl_get_str(args, "alloc-id", 1, sizeof(alloc), alloc, why, why_size) ||
	    ueip_ctl_get_uint(args, "generation", 0, 1, UINT32_MAX, &gen, why, why_size) == UEIP_EINVAL)
		return UEIP_EINVAL;
	char *end;
	s->alloc_id = strtoull(alloc, &end, 16);
	if (*end || !alloc[0]) {
		snprintf(why, why_size, "'alloc-id' must be hex, as session-get shows it");
		return UEIP_EINVAL;
	}
	enum ueip_ip_type ip_type;
	if (ueip_ip_type_parse(type, &ip_type)) {
		snprintf(why, why_size, "'ip-type' must be v4, v6 or v4v6");
		return UEIP_EINVAL;
	}
	s->ip_type = (uint8_t)ip_type;
	if ((s->ip_type & UEIP_IP_V4) &&
	    (ueip_ctl_get_str(args, "ipv4", 1, sizeof(v4), v4, why, why_size) ||
	     (rc = holding_from_text(ipam, v4, UEIP_AF_INET, &s->v4)))) {
		snprintf(why, why_size, "'ipv4' missing, malformed or outside every pool");
		return UEIP_EINVAL;
	}
	if ((s->ip_type & UEIP_IP_V6) &&
	    (ueip_ctl_get_str(args, "ipv6-prefix", 1, sizeof(v6), v6, why, why_size) ||
	     (rc = holding_from_text(ipam, v6, UEIP_AF_INET6, &s->v6)))) {
		snprintf(why, why_size, "'ipv6-prefix' missing, malformed or outside every pool");
		return UEIP_EINVAL;
	}
	json_t *st = json_object_get(args, "static");
	s->is_static = json_is_true(st);
	s->gen = gen + 1;
	snprintf(s->prev, sizeof(s->prev), "%s", from);
	return 0;
}

/* Adopt: take over a session whose controller failed (record as session-get showed it). */
void
ipam_cmd_session_adopt(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct ueip_session tmp, *s;
	char from[UEIP_MEMBER_ID_MAX], why[256];
	const struct ueip_holding *h[2] = { &tmp.v4, &tmp.v6 };

	if (adopt_args(ipam, args, &tmp, from, why, sizeof(why)))
		return done(ctx, UEIP_EINVAL, NULL, why);
	if (ipam->state == IPAM_RECOVERING)
		return ipam_fail(done, ctx, UEIP_ERECOVERING, "member %s is recovering, retry", ipam->self);
	if (strcmp(from, ipam->self) == 0 || ueip_membership_find(&ipam->cur, from) < 0)
		return ipam_fail(done, ctx, UEIP_EINVAL, "'from' must be another member of the set");
	if (ipam_member_up(ipam, from))
		return ipam_fail(done, ctx, UEIP_ECONFLICT, "member %s is alive: use session-transfer", from);
	if (ueip_sessions_find(&ipam->sessions, &tmp.key))
		return ipam_fail(done, ctx, UEIP_ECONFLICT, "this member already controls the session");
	for (int i = 0; i < 2; i++) {
		if (h[i]->present && ueip_sessions_by_unit(&ipam->sessions, ueip_unit_key(h[i]->pool_id, h[i]->index)))
			return ipam_fail(done, ctx, UEIP_EINUSE, "an address of it is held by another session here");
		if (h[i]->present && ipam_fenced(ipam, h[i]->pool_id, h[i]->index))
			return ipam_fail(done, ctx, UEIP_EBUSY, "the owner of its address is reconciling, retry");
	}
	if (!(s = malloc(sizeof(*s))))
		return done(ctx, UEIP_ENOMEM, NULL, "out of memory");
	*s = tmp;
	s->created_ms = ipam_now(ipam);
	if (ueip_sessions_insert(&ipam->sessions, s) || ipam_persist_session(ipam, s)) {
		free(s);
		return done(ctx, UEIP_ESTORE, NULL, "cannot record the session");
	}
	for (int i = 0; i < 2; i++) {
		const struct ueip_holding *sh = i ? &s->v6 : &s->v4;
		if (sh->present && !s->is_static && ipam_unit_owned(ipam, sh->pool_id, sh->index) != UEIP_CHUNK_OTHER) {
			ipam_lent_drop(ipam, sh->pool_id, sh->index);
			ueip_pool_mark(ipam->pools[sh->pool_id], sh->index);
		}
	}
	ipam->stats.adopts++;
	ueip_log_info("ipam", "member %s adopted a session of failed member %s", ipam->self, from);
	answer_durable(ipam, done, ctx, ipam_session_json(ipam, s), "session adopted");
}

/* ---- pool-stats ---- */

void
ipam_poolstat_json(json_t *e, const struct ueip_set_poolstat *f)
{
	json_object_set_new(e, "used", json_integer((json_int_t)f->used));
	json_object_set_new(e, "quarantined", json_integer((json_int_t)f->quarantined));
	json_object_set_new(e, "static", json_integer((json_int_t)f->statics));
	json_object_set_new(e, "free", json_integer((json_int_t)f->free));
}

static json_t *
pool_stats_json(struct ipam *ipam, struct ueip_pool *pool)
{
	json_t *o = json_object(), *members = json_array();
	struct ueip_set_poolstat f;
	uint64_t owned_units;
	char base[UEIP_ADDR_STRLEN];

	ipam_pool_figures(ipam, pool, &f, NULL);
	ueip_addr_format(&pool->def.base, base, sizeof(base));
	json_object_set_new(o, "pool", json_string(pool->def.name));
	json_object_set_new(o, "dnn", json_string(pool->def.dnn));
	json_object_set_new(o, "family", json_string(pool->def.base.family == UEIP_AF_INET ? "ipv4" : "ipv6"));
	json_object_set_new(o, "base", json_string(base));
	json_object_set_new(o, "units", json_integer((json_int_t)pool->def.size));
	json_object_set_new(o, "chunks", json_integer(pool->nchunks));
	for (unsigned m = 0; m < ipam->cur.count; m++) {
		json_t *e = json_object();
		owned_units = ipam->owned_chunks[pool->id][m] * pool->def.chunk_size;
		if (owned_units > pool->def.size)
			owned_units = pool->def.size;
		json_object_set_new(e, "member", json_string(ipam->cur.ids[m]));
		json_object_set_new(e, "owned-chunks", json_integer((json_int_t)ipam->owned_chunks[pool->id][m]));
		json_object_set_new(e, "owned", json_integer((json_int_t)owned_units));
		if ((int)m == ipam->self_cur)
			ipam_poolstat_json(e, &f);
		json_array_append_new(members, e);
	}
	json_object_set_new(o, "members", members);
	return o;
}

void
ipam_cmd_pool_stats(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	json_t *list = json_array(), *result = json_object();

	for (unsigned i = 0; i < ipam->npools; i++)
		json_array_append_new(list, pool_stats_json(ipam, ipam->pools[i]));
	json_object_set_new(result, "member", json_string(ipam->self));
	json_object_set_new(result, "epoch", json_integer((json_int_t)ipam->cur.epoch));
	json_object_set_new(result, "sessions", json_integer((json_int_t)ipam->sessions.count));
	json_object_set_new(result, "pools", list);
	ipam_stats_collect(ipam, result, done, ctx);
}

/* ---- set-status ---- */

static json_t *
members_json(struct ipam *ipam)
{
	json_t *list = json_array();

	for (unsigned i = 0; i < ipam->cur.count; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "id", json_string(ipam->cur.ids[i]));
		json_object_set_new(e, "address", json_string(ipam->cur_addr[i]));
		json_object_set_new(e, "self", json_boolean((int)i == ipam->self_cur));
		json_object_set_new(e, "reachable", json_boolean(ipam_member_up(ipam, ipam->cur.ids[i])));
		json_object_set_new(e, "reconciling", json_boolean(ipam->fence_conn[i] != 0));
		if (ipam->rec.active && (int)i != ipam->self_cur)
			json_object_set_new(e, "reported", json_boolean((ipam->rec.reported >> i) & 1));
		json_array_append_new(list, e);
	}
	return list;
}

void
ipam_cmd_set_status(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	json_t *r = json_object(), *ho = json_object(), *rec = json_object();

	json_object_set_new(r, "set", json_string(ipam->cfg->set_id));
	json_object_set_new(r, "member", json_string(ipam->self));
	json_object_set_new(r, "state", json_string(ipam->state == IPAM_ACTIVE ? "active" : "recovering"));
	json_object_set_new(r, "epoch", json_integer((json_int_t)ipam->cur.epoch));
	json_object_set_new(r, "incarnation", json_integer((json_int_t)ipam->incarnation));
	json_object_set_new(r, "sessions", json_integer((json_int_t)ipam->sessions.count));
	json_object_set_new(r, "lent", json_integer((json_int_t)ueip_map_count(&ipam->lent)));
	json_object_set_new(r, "outbox", json_integer((json_int_t)ipam->noutbox));
	json_object_set_new(r, "members", members_json(ipam));
	json_object_set_new(ho, "active", json_boolean(ipam->handoff_active));
	json_object_set_new(ho, "chunks-to-send", json_integer(ipam->nhout));
	json_object_set_new(ho, "moved-chunks", json_integer((json_int_t)ipam->stats.moved_chunks));
	json_object_set_new(ho, "total-chunks", json_integer((json_int_t)ipam->stats.total_chunks));
	json_object_set_new(ho, "last-duration-ms", json_integer(ipam->stats.last_handoff_ms));
	json_object_set_new(r, "handoff", ho);
	json_object_set_new(rec, "running", json_boolean(ipam->rec.active));
	json_object_set_new(rec, "last-duration-ms", json_integer(ipam->stats.last_recovery_ms));
	json_object_set_new(rec, "last-complete", json_boolean(ipam->stats.last_recovery_full));
	json_object_set_new(rec, "last-freed", json_integer(ipam->stats.last_freed));
	json_object_set_new(rec, "last-added", json_integer(ipam->stats.last_added));
	json_object_set_new(r, "recovery", rec);
	done(ctx, 0, r, ipam->state == IPAM_ACTIVE ? "member active" : "member recovering");
}
