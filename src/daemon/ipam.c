// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: ipam state — loading, ownership, quarantine, outbox, membership
 *
 * See ipam.h for the model. This file owns the in-memory state and the
 * helpers the two other ipam files use; it does not talk to peers itself
 * except to flush the outbox.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/ipam_int.h"

int64_t
ipam_now(struct ipam *ipam)
{
	return ipam->env.now_ms(ipam->env.arg);
}

int
ipam_batch(struct ipam *ipam)
{
	return ipam->env.batch(ipam->env.arg);
}

void
ipam_fail(ipam_done_fn *done, void *ctx, int rc, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	done(ctx, rc, NULL, text);
}

uint64_t
ipam_epoch(const struct ipam *ipam)
{
	return ipam->cur.epoch;
}

uint64_t
ipam_incarnation(const struct ipam *ipam)
{
	return ipam->incarnation;
}

struct ueip_pool *
ipam_pool_by_name(struct ipam *ipam, const char *name)
{
	for (unsigned i = 0; i < ipam->npools; i++)
		if (strcmp(ipam->pools[i]->def.name, name) == 0)
			return ipam->pools[i];
	return NULL;
}

/* ---- ownership ---- */

static enum ueip_chunk_owner
chunk_owner_cb(void *arg, const struct ueip_pool *pool, uint32_t chunk)
{
	struct ipam *ipam = arg;
	unsigned po;

	if (ipam->self_cur < 0 || ueip_owner_of(&ipam->cur, pool->name_hash, chunk) != (unsigned)ipam->self_cur)
		return UEIP_CHUNK_OTHER;
	if (!ipam->handoff_active)
		return UEIP_CHUNK_MINE;
	po = ueip_owner_of(&ipam->prev, pool->name_hash, chunk);
	if ((int)po == ipam->self_prev || (ipam->settled & (1u << po)) ||
	    ueip_map_get(&ipam->handed, (uint64_t)pool->id << 32 | chunk, NULL))
		return UEIP_CHUNK_MINE;
	return UEIP_CHUNK_BLOCKED;
}

int
ipam_unit_owned(struct ipam *ipam, uint16_t pool_id, uint64_t index)
{
	struct ueip_pool *pool = ipam->pools[pool_id];

	return chunk_owner_cb(ipam, pool, ueip_pool_chunk_of(pool, index));
}

int
ipam_owner_index(struct ipam *ipam, uint16_t pool_id, uint64_t index)
{
	struct ueip_pool *pool = ipam->pools[pool_id];

	return (int)ueip_owner_of(&ipam->cur, pool->name_hash, ueip_pool_chunk_of(pool, index));
}

static int
mark_session_units(struct ueip_session *s, void *arg)
{
	struct ipam *ipam = arg;
	const struct ueip_holding *h[2] = { &s->v4, &s->v6 };

	for (int i = 0; i < 2; i++) {
		if (!h[i]->present || s->is_static)
			continue;
		if (ipam_unit_owned(ipam, h[i]->pool_id, h[i]->index) != UEIP_CHUNK_OTHER)
			ueip_pool_mark(ipam->pools[h[i]->pool_id], h[i]->index);
	}
	return 0;
}

static void
mark_statics(struct ipam *ipam)
{
	uint64_t key;

	for (size_t pos = 0; ueip_map_next(&ipam->statics, &pos, &key, NULL);) {
		uint16_t pool_id = (uint16_t)(key >> 40);
		uint64_t index = key & ((1ULL << 40) - 1);
		if (ipam_unit_owned(ipam, pool_id, index) != UEIP_CHUNK_OTHER)
			ueip_pool_mark(ipam->pools[pool_id], index);
	}
}

/* Owned chunks per member, exact up to 2^20 chunks, sampled beyond. */
static void
count_owned_chunks(struct ipam *ipam)
{
	for (unsigned p = 0; p < ipam->npools; p++) {
		struct ueip_pool *pool = ipam->pools[p];
		uint32_t n = pool->nchunks, step = n > (1u << 20) ? n / (1u << 20) : 1;
		uint64_t counts[UEIP_MEMBERS_MAX] = { 0 }, sampled = 0;

		for (uint64_t c = 0; c < n; c += step, sampled++)
			counts[ueip_owner_of(&ipam->cur, pool->name_hash, (uint32_t)c)]++;
		for (unsigned m = 0; m < ipam->cur.count; m++)
			ipam->owned_chunks[p][m] = counts[m] * n / sampled;
	}
}

void
ipam_reown_all(struct ipam *ipam)
{
	for (unsigned p = 0; p < ipam->npools; p++)
		ueip_pool_reown(ipam->pools[p]);
	mark_statics(ipam);
	ueip_sessions_each(&ipam->sessions, mark_session_units, ipam);
}

/* ---- quarantine and lent units ---- */

static int
qfifo_push(struct ipam *ipam, uint64_t unit, int64_t until)
{
	if (ipam->qtail == ipam->qcap) {
		size_t live = ipam->qtail - ipam->qhead;
		if (ipam->qhead > live) {
			memmove(ipam->qfifo, ipam->qfifo + ipam->qhead, live * sizeof(*ipam->qfifo));
		} else {
			size_t cap = ipam->qcap ? ipam->qcap * 2 : 1024;
			struct quar_entry *grown = realloc(ipam->qfifo, cap * sizeof(*grown));
			if (!grown)
				return UEIP_ENOMEM;
			memmove(grown, grown + ipam->qhead, live * sizeof(*grown));
			ipam->qfifo = grown;
			ipam->qcap = cap;
		}
		ipam->qhead = 0;
		ipam->qtail = live;
	}
	ipam->qfifo[ipam->qtail].unit = unit;
	ipam->qfifo[ipam->qtail++].until_ms = until;
	return 0;
}

/* Release a unit of a chunk this member owns: quarantined now, free later. */
void
ipam_quarantine(struct ipam *ipam, uint16_t pool_id, uint64_t index)
{
	struct ueip_pool *pool = ipam->pools[pool_id];
	int64_t until = ipam_now(ipam) + (int64_t)ipam->cfg->quarantine_seconds * 1000;
	uint64_t unit = ueip_unit_key(pool_id, index);

	ipam_batch(ipam);
	ueip_map_del(&ipam->lent, unit);
	ueip_store_lent_del(ipam->st, pool->def.name, index);
	if (ipam->cfg->quarantine_seconds == 0) {
		ueip_pool_clear(pool, index);
		return;
	}
	ueip_pool_mark(pool, index);
	ueip_map_put(&ipam->quar, unit, (uint64_t)until);
	ueip_store_quar_put(ipam->st, pool->def.name, index, until);
	qfifo_push(ipam, unit, until);
}

static void
quarantine_expire(struct ipam *ipam)
{
	int64_t now = ipam_now(ipam);
	int expired = 0;

	while (ipam->qhead < ipam->qtail && ipam->qfifo[ipam->qhead].until_ms <= now) {
		struct quar_entry e = ipam->qfifo[ipam->qhead++];
		uint64_t until;
		if (!ueip_map_get(&ipam->quar, e.unit, &until) || (int64_t)until != e.until_ms)
			continue;	/* superseded: handed off, or re-quarantined */
		ueip_map_del(&ipam->quar, e.unit);
		uint16_t pool_id = (uint16_t)(e.unit >> 40);
		ueip_pool_clear(ipam->pools[pool_id], e.unit & ((1ULL << 40) - 1));
		expired = 1;
	}
	if (expired && ipam_batch(ipam) == 0)
		ueip_store_quar_expire(ipam->st, now);
}

int
ipam_lent_set(struct ipam *ipam, uint16_t pool_id, uint64_t index, uint64_t alloc_id)
{
	uint64_t unit = ueip_unit_key(pool_id, index), old;

	if (ueip_map_get(&ipam->lent, unit, &old) && old == alloc_id)
		return 0;
	ipam_batch(ipam);
	if (ueip_map_del(&ipam->quar, unit))
		ueip_store_quar_del(ipam->st, ipam->pools[pool_id]->def.name, index);
	ueip_pool_mark(ipam->pools[pool_id], index);
	ueip_map_put(&ipam->lent, unit, alloc_id);
	return ueip_store_lent_put(ipam->st, ipam->pools[pool_id]->def.name, index, alloc_id);
}

int
ipam_lent_drop(struct ipam *ipam, uint16_t pool_id, uint64_t index)
{
	if (!ueip_map_del(&ipam->lent, ueip_unit_key(pool_id, index)))
		return 0;
	ipam_batch(ipam);
	return ueip_store_lent_del(ipam->st, ipam->pools[pool_id]->def.name, index);
}

/* ---- outbox: releases owed to other members ---- */

static int
outbox_append(struct ipam *ipam, int64_t id, const struct ueip_set_unit *u)
{
	if (ueip_grow((void **)&ipam->outbox, &ipam->outbox_cap, ipam->noutbox, sizeof(*ipam->outbox)))
		return UEIP_ENOMEM;
	memset(&ipam->outbox[ipam->noutbox], 0, sizeof(ipam->outbox[0]));
	ipam->outbox[ipam->noutbox].id = id;
	ipam->outbox[ipam->noutbox++].unit = *u;
	return 0;
}

int
ipam_outbox_add(struct ipam *ipam, const struct ueip_set_unit *u)
{
	int64_t id;
	int rc;

	if ((rc = ipam_batch(ipam)) || (rc = ueip_store_outbox_put(ipam->st, u, &id)))
		return rc;
	return outbox_append(ipam, id, u);
}

static void
outbox_remove(struct ipam *ipam, size_t i)
{
	ipam->outbox[i] = ipam->outbox[--ipam->noutbox];
}

/* Called from ipam_set.c when an owner acknowledged a release. */
void ipam_outbox_acked(struct ipam *ipam, uint64_t id, unsigned status);
void
ipam_outbox_acked(struct ipam *ipam, uint64_t id, unsigned status)
{
	for (size_t i = 0; i < ipam->noutbox; i++) {
		if ((uint64_t)ipam->outbox[i].id != id)
			continue;
		if (status == UEIP_SET_ST_BUSY) {
			ipam->outbox[i].inflight = 0;	/* retried by the tick */
			return;
		}
		ipam_batch(ipam);
		ueip_store_outbox_del(ipam->st, ipam->outbox[i].id);
		outbox_remove(ipam, i);
		return;
	}
}

static int
chunk_handoff_pending(struct ipam *ipam, uint16_t pool_id, uint32_t chunk)
{
	for (unsigned i = 0; i < ipam->nhout; i++)
		if (ipam->hout[i].pool_id == pool_id && ipam->hout[i].chunk == chunk)
			return 1;
	return 0;
}

static void
outbox_send_one(struct ipam *ipam, struct outbox_entry *e, int64_t now)
{
	struct ueip_pool *pool = ipam_pool_by_name(ipam, e->unit.pool);
	struct setpeer *peer;
	struct ueip_buf *b;
	int owner;

	if (!pool || e->unit.index >= pool->def.size)
		return;
	if (chunk_handoff_pending(ipam, pool->id, ueip_pool_chunk_of(pool, e->unit.index)))
		return;	/* our hand-off of that chunk must land first */
	owner = ipam_owner_index(ipam, pool->id, e->unit.index);
	if (owner == ipam->self_cur || !(peer = setnet_peer_find(ipam->net, ipam->cur.ids[owner])))
		return;
	b = setnet_begin(ipam->net, UEIP_SET_RELEASE);
	ueip_set_put_u64(b, (uint64_t)e->id);
	ueip_set_put_u32(b, 1);
	ueip_set_put_unit(b, &e->unit);
	if (setnet_send_request(ipam->net, peer) == 0) {
		e->inflight = 1;
		e->sent_ms = now;
		ipam->stats.releases_sent++;
	}
}

void
ipam_outbox_flush(struct ipam *ipam)
{
	int64_t now = ipam_now(ipam);

	if (!ipam->net)
		return;
	for (size_t i = 0; i < ipam->noutbox; i++) {
		struct outbox_entry *e = &ipam->outbox[i];
		if (e->inflight && now - e->sent_ms < REQUEST_TIMEOUT_MS)
			continue;
		outbox_send_one(ipam, e, now);
	}
}

/* Outbox entries whose owner is now this member (epoch change): apply them here. */
static void
outbox_apply_own(struct ipam *ipam)
{
	for (size_t i = 0; i < ipam->noutbox;) {
		struct outbox_entry *e = &ipam->outbox[i];
		struct ueip_pool *pool = ipam_pool_by_name(ipam, e->unit.pool);
		uint64_t alloc;
		if (!pool || ipam_unit_owned(ipam, pool->id, e->unit.index) != UEIP_CHUNK_MINE) {
			i++;
			continue;
		}
		if (ueip_map_get(&ipam->lent, ueip_unit_key(pool->id, e->unit.index), &alloc) &&
		    alloc == e->unit.alloc_id)
			ipam_quarantine(ipam, pool->id, e->unit.index);
		ipam_batch(ipam);
		ueip_store_outbox_del(ipam->st, e->id);
		outbox_remove(ipam, i);
	}
}

/* ---- sessions: conversions and persistence ---- */

void
ipam_to_wire(struct ipam *ipam, const struct ueip_session *s, struct ueip_set_session *w)
{
	memset(w, 0, sizeof(*w));
	w->key = s->key;
	w->ip_type = s->ip_type;
	w->is_static = s->is_static;
	if ((w->has_v4 = s->v4.present)) {
		snprintf(w->v4_pool, sizeof(w->v4_pool), "%s", ipam->pools[s->v4.pool_id]->def.name);
		w->v4_index = s->v4.index;
	}
	if ((w->has_v6 = s->v6.present)) {
		snprintf(w->v6_pool, sizeof(w->v6_pool), "%s", ipam->pools[s->v6.pool_id]->def.name);
		w->v6_index = s->v6.index;
	}
	w->alloc_id = s->alloc_id;
	w->gen = s->gen;
	w->created_ms = s->created_ms;
	snprintf(w->prev, sizeof(w->prev), "%s", s->prev);
}

static int
holding_from_wire(struct ipam *ipam, const char *pool_name, uint64_t index, int family,
		  struct ueip_holding *h)
{
	struct ueip_pool *pool = ipam_pool_by_name(ipam, pool_name);

	if (!pool || index >= pool->def.size || pool->def.base.family != family)
		return UEIP_EINVAL;
	h->present = 1;
	h->pool_id = pool->id;
	h->index = index;
	return 0;
}

int
ipam_from_wire(struct ipam *ipam, const struct ueip_set_session *w, struct ueip_session *s)
{
	memset(s, 0, sizeof(*s));
	s->key = w->key;
	s->ip_type = w->ip_type;
	s->is_static = w->is_static;
	if (w->has_v4 && holding_from_wire(ipam, w->v4_pool, w->v4_index, UEIP_AF_INET, &s->v4))
		return UEIP_EINVAL;
	if (w->has_v6 && holding_from_wire(ipam, w->v6_pool, w->v6_index, UEIP_AF_INET6, &s->v6))
		return UEIP_EINVAL;
	s->alloc_id = w->alloc_id;
	s->gen = w->gen;
	s->created_ms = w->created_ms;
	snprintf(s->prev, sizeof(s->prev), "%s", w->prev);
	return 0;
}

static void
holding_text(struct ipam *ipam, const struct ueip_holding *h, char *buf, size_t size, int prefix)
{
	struct ueip_addr a;
	size_t n;

	buf[0] = '\0';
	if (!h->present)
		return;
	ueip_pool_addr(ipam->pools[h->pool_id], h->index, &a);
	ueip_addr_format(&a, buf, size);
	n = strlen(buf);
	if (prefix && n + 5 < size)
		snprintf(buf + n, size - n, "/%u", ipam->pools[h->pool_id]->def.unit_len);
}

int
ipam_persist_session(struct ipam *ipam, const struct ueip_session *s)
{
	struct ueip_store_session r;
	int rc;

	if ((rc = ipam_batch(ipam)))
		return rc;
	ipam_to_wire(ipam, s, &r.s);
	holding_text(ipam, &s->v4, r.v4_addr, sizeof(r.v4_addr), 0);
	holding_text(ipam, &s->v6, r.v6_prefix, sizeof(r.v6_prefix), 1);
	r.unconfirmed = s->unconfirmed;
	return ueip_store_session_put(ipam->st, &r);
}

json_t *
ipam_session_json(struct ipam *ipam, const struct ueip_session *s)
{
	char v4[UEIP_ADDR_STRLEN], v6[UEIP_ADDR_STRLEN], alloc[24];
	json_t *o = json_object();

	holding_text(ipam, &s->v4, v4, sizeof(v4), 0);
	holding_text(ipam, &s->v6, v6, sizeof(v6), 1);
	snprintf(alloc, sizeof(alloc), "%016llx", (unsigned long long)s->alloc_id);
	json_object_set_new(o, "supi", json_string(s->key.supi));
	json_object_set_new(o, "dnn", json_string(s->key.dnn));
	json_object_set_new(o, "snssai", json_string(s->key.snssai));
	json_object_set_new(o, "pdu-session-id", json_integer(s->key.psi));
	json_object_set_new(o, "ip-type", json_string(ueip_ip_type_name(s->ip_type)));
	if (s->v4.present)
		json_object_set_new(o, "ipv4", json_string(v4));
	if (s->v6.present)
		json_object_set_new(o, "ipv6-prefix", json_string(v6));
	json_object_set_new(o, "static", json_boolean(s->is_static));
	json_object_set_new(o, "controller", json_string(ipam->self));
	json_object_set_new(o, "alloc-id", json_string(alloc));
	json_object_set_new(o, "generation", json_integer((json_int_t)s->gen));
	if (s->prev[0])
		json_object_set_new(o, "previous-controller", json_string(s->prev));
	return o;
}

/* ---- pending requests ---- */

struct pending *
ipam_pending_new(struct ipam *ipam, enum pending_kind kind, const char *peer)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->req_id = REQ_ID_BASE + ++ipam->next_req;
	p->kind = kind;
	snprintf(p->peer, sizeof(p->peer), "%s", peer ? peer : "");
	p->deadline_ms = ipam_now(ipam) + REQUEST_TIMEOUT_MS;
	if (ueip_map_put(&ipam->pending, p->req_id, (uint64_t)(uintptr_t)p)) {
		free(p);
		return NULL;
	}
	return p;
}

void
ipam_pending_free(struct ipam *ipam, struct pending *p)
{
	ueip_map_del(&ipam->pending, p->req_id);
	json_decref(p->result);
	free(p);
}

int
ipam_member_up(struct ipam *ipam, const char *id)
{
	struct setpeer *peer;

	if (strcmp(id, ipam->self) == 0)
		return 1;
	peer = ipam->net ? setnet_peer_find(ipam->net, id) : NULL;
	return peer && setpeer_is_up(peer);
}

/* ---- membership ---- */

static json_t *
membership_json(const struct ueip_membership *m, char addrs[][UEIP_HOSTPORT_MAX])
{
	json_t *o = json_object(), *list = json_array();

	json_object_set_new(o, "epoch", json_integer((json_int_t)m->epoch));
	for (unsigned i = 0; i < m->count; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "id", json_string(m->ids[i]));
		if (addrs)
			json_object_set_new(e, "address", json_string(addrs[i]));
		json_array_append_new(list, e);
	}
	json_object_set_new(o, "members", list);
	return o;
}

void
ipam_membership_save(struct ipam *ipam)
{
	json_t *cur = membership_json(&ipam->cur, ipam->cur_addr);
	json_t *prev = membership_json(&ipam->prev, NULL);
	char *cur_text = json_dumps(cur, JSON_COMPACT), *prev_text = json_dumps(prev, JSON_COMPACT);

	ipam_batch(ipam);
	if (cur_text)
		ueip_store_meta_set(ipam->st, "membership", cur_text);
	if (prev_text)
		ueip_store_meta_set(ipam->st, "prev_membership", prev_text);
	ueip_store_meta_set(ipam->st, "handoff_active", ipam->handoff_active ? "1" : "0");
	free(cur_text);
	free(prev_text);
	json_decref(cur);
	json_decref(prev);
}

static int
membership_parse(const char *text, struct ueip_membership *m, char addrs[][UEIP_HOSTPORT_MAX])
{
	json_t *o = json_loads(text, 0, NULL), *list, *e;
	size_t i;

	memset(m, 0, sizeof(*m));
	list = json_object_get(o, "members");
	if (!json_is_integer(json_object_get(o, "epoch")) || !json_is_array(list) ||
	    json_array_size(list) > UEIP_MEMBERS_MAX) {
		json_decref(o);
		return UEIP_EMALFORMED;
	}
	m->epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
	json_array_foreach(list, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *addr = json_string_value(json_object_get(e, "address"));
		if (!id)
			break;
		snprintf(m->ids[m->count], sizeof(m->ids[0]), "%s", id);
		if (addrs)
			snprintf(addrs[m->count], UEIP_HOSTPORT_MAX, "%s", addr ? addr : "");
		m->count++;
	}
	json_decref(o);
	ueip_membership_hash(m);
	return m->count ? 0 : UEIP_EMALFORMED;
}

static void
peers_sync(struct ipam *ipam)
{
	if (!ipam->net)
		return;
	for (unsigned i = 0; i < ipam->cur.count; i++)
		if ((int)i != ipam->self_cur)
			setnet_peer_set(ipam->net, ipam->cur.ids[i], ipam->cur_addr[i]);
}

static uint64_t
count_moved_chunks(struct ipam *ipam, uint64_t *total)
{
	uint64_t moved = 0;

	*total = 0;
	for (unsigned p = 0; p < ipam->npools; p++) {
		struct ueip_pool *pool = ipam->pools[p];
		uint32_t n = pool->nchunks, step = n > (1u << 20) ? n / (1u << 20) : 1;
		uint64_t sampled = 0, pmoved = 0;
		for (uint64_t c = 0; c < n; c += step, sampled++)
			if (strcmp(ipam->prev.ids[ueip_owner_of(&ipam->prev, pool->name_hash, (uint32_t)c)],
				   ipam->cur.ids[ueip_owner_of(&ipam->cur, pool->name_hash, (uint32_t)c)]))
				pmoved++;
		moved += pmoved * n / sampled;
		*total += n;
	}
	return moved;
}

/* A member finished its hand-off of an epoch we have not reached yet: keep that. */
void
ipam_early_done_note(struct ipam *ipam, const char *id, uint64_t epoch)
{
	unsigned free_slot = UEIP_MEMBERS_MAX;

	for (unsigned i = 0; i < UEIP_MEMBERS_MAX; i++) {
		if (strcmp(ipam->early_done_id[i], id) == 0) {
			ipam->early_done_epoch[i] = epoch;
			return;
		}
		if (!ipam->early_done_id[i][0] && free_slot == UEIP_MEMBERS_MAX)
			free_slot = i;
	}
	if (free_slot < UEIP_MEMBERS_MAX) {
		snprintf(ipam->early_done_id[free_slot], UEIP_MEMBER_ID_MAX, "%s", id);
		ipam->early_done_epoch[free_slot] = epoch;
	}
}

static void
early_done_apply(struct ipam *ipam)
{
	for (unsigned i = 0; i < UEIP_MEMBERS_MAX; i++) {
		int idx = ueip_membership_find(&ipam->prev, ipam->early_done_id[i]);
		if (ipam->early_done_id[i][0] && ipam->early_done_epoch[i] == ipam->cur.epoch && idx >= 0)
			ipam->settled |= 1u << idx;
	}
}

/* Switch to membership m (epoch change). Old owners hand their moving chunks over. */
void
ipam_apply_membership(struct ipam *ipam, const struct ueip_membership *m,
		      char addrs[][UEIP_HOSTPORT_MAX], int from_store)
{
	ipam->prev = ipam->cur;
	ipam->self_prev = ipam->self_cur;
	ipam->cur = *m;
	memcpy(ipam->cur_addr, addrs, sizeof(ipam->cur_addr[0]) * m->count);
	ipam->self_cur = ueip_membership_find(&ipam->cur, ipam->self);
	ipam->handoff_active = 1;
	ipam->settled = ipam->self_prev >= 0 ? 1u << ipam->self_prev : 0;
	ipam->handoff_done_sent = 0;
	ipam->handoff_started_ms = ipam_now(ipam);
	early_done_apply(ipam);
	ueip_map_deinit(&ipam->handed);
	memset(ipam->fence_conn, 0, sizeof(ipam->fence_conn));
	ipam->stats.moved_chunks = count_moved_chunks(ipam, &ipam->stats.total_chunks);
	ueip_log_info("ipam", "member %s: epoch %llu -> %llu, %u members; %llu of %llu chunks move",
		      ipam->self, (unsigned long long)ipam->prev.epoch, (unsigned long long)m->epoch,
		      m->count, (unsigned long long)ipam->stats.moved_chunks,
		      (unsigned long long)ipam->stats.total_chunks);
	if (!from_store)
		ipam_membership_save(ipam);
	count_owned_chunks(ipam);
	ipam_reown_all(ipam);
	outbox_apply_own(ipam);
	peers_sync(ipam);
	ipam_handoff_plan(ipam);
	ipam_handoff_flush(ipam);
	/* Reports made under the old epoch describe the old chunks: ask again. */
	ipam_recovery_restart(ipam);
}

static int
membership_from_config(struct ipam *ipam)
{
	const struct ueip_config *cfg = ipam->cfg;

	memset(&ipam->cur, 0, sizeof(ipam->cur));
	ipam->cur.epoch = cfg->epoch;
	ipam->cur.count = cfg->nmembers;
	for (unsigned i = 0; i < cfg->nmembers; i++) {
		snprintf(ipam->cur.ids[i], sizeof(ipam->cur.ids[i]), "%s", cfg->members[i].id);
		snprintf(ipam->cur_addr[i], sizeof(ipam->cur_addr[i]), "%s", cfg->members[i].address);
	}
	ueip_membership_hash(&ipam->cur);
	return 0;
}

/* The store's membership wins over the config's when its epoch is not older. */
static void
membership_load(struct ipam *ipam)
{
	char text[8192], flag[8] = "0";
	struct ueip_membership m;
	char addrs[UEIP_MEMBERS_MAX][UEIP_HOSTPORT_MAX];

	membership_from_config(ipam);
	if (ueip_store_meta_get(ipam->st, "membership", text, sizeof(text)) == 0 &&
	    membership_parse(text, &m, addrs) == 0 && m.epoch >= ipam->cur.epoch) {
		ipam->cur = m;
		memcpy(ipam->cur_addr, addrs, sizeof(addrs));
	}
	ipam->self_cur = ueip_membership_find(&ipam->cur, ipam->self);
	ipam->prev = ipam->cur;
	ipam->self_prev = ipam->self_cur;
	ueip_store_meta_get(ipam->st, "handoff_active", flag, sizeof(flag));
	if (strcmp(flag, "1") == 0 &&
	    ueip_store_meta_get(ipam->st, "prev_membership", text, sizeof(text)) == 0 &&
	    membership_parse(text, &ipam->prev, NULL) == 0) {
		ipam->self_prev = ueip_membership_find(&ipam->prev, ipam->self);
		ipam->handoff_active = 1;
		ipam->settled = ipam->self_prev >= 0 ? 1u << ipam->self_prev : 0;
	}
}

/* ---- loading ---- */

struct load_ctx {
	struct ipam *ipam;
	char *why;
	size_t why_size;
	int64_t now;
};

static int
load_session(const struct ueip_store_session *r, void *arg)
{
	struct load_ctx *lc = arg;
	struct ueip_session *s = malloc(sizeof(*s));
	char key[256];

	if (!s)
		return UEIP_ENOMEM;
	if (ipam_from_wire(lc->ipam, &r->s, s) || ueip_sessions_insert(&lc->ipam->sessions, s) ||
	    (r->unconfirmed && ipam_unconfirmed_add(lc->ipam, &r->s.key))) {
		ueip_session_key_format(&r->s.key, key, sizeof(key));
		snprintf(lc->why, lc->why_size,
			 "store holds session %s whose pool is not configured or whose unit is held twice", key);
		free(s);
		return UEIP_ECONFIG;
	}
	s->unconfirmed = r->unconfirmed;
	return 0;
}

static int
load_lent(const char *pool_name, uint64_t idx, uint64_t alloc, void *arg)
{
	struct load_ctx *lc = arg;
	struct ueip_pool *pool = ipam_pool_by_name(lc->ipam, pool_name);

	if (!pool || idx >= pool->def.size)
		return 0;
	ueip_map_put(&lc->ipam->lent, ueip_unit_key(pool->id, idx), alloc);
	ueip_pool_mark(pool, idx);
	return 0;
}

static int
load_quar(const char *pool_name, uint64_t idx, int64_t until, void *arg)
{
	struct load_ctx *lc = arg;
	struct ueip_pool *pool = ipam_pool_by_name(lc->ipam, pool_name);

	if (!pool || idx >= pool->def.size || until <= lc->now)
		return 0;
	ueip_map_put(&lc->ipam->quar, ueip_unit_key(pool->id, idx), (uint64_t)until);
	ueip_pool_mark(pool, idx);
	return qfifo_push(lc->ipam, ueip_unit_key(pool->id, idx), until);
}

static int
load_outbox(int64_t id, const struct ueip_set_unit *u, void *arg)
{
	struct load_ctx *lc = arg;

	return outbox_append(lc->ipam, id, u);
}

static int
cmp_quar(const void *a, const void *b)
{
	const struct quar_entry *x = a, *y = b;

	return (x->until_ms > y->until_ms) - (x->until_ms < y->until_ms);
}

/* During an unfinished hand-off, our sessions' units in chunks we gave away must be listed. */
static int
mark_given_units(struct ueip_session *s, void *arg)
{
	struct ipam *ipam = arg;
	const struct ueip_holding *h[2] = { &s->v4, &s->v6 };

	for (int i = 0; i < 2; i++) {
		if (!h[i]->present || s->is_static)
			continue;
		struct ueip_pool *pool = ipam->pools[h[i]->pool_id];
		uint32_t chunk = ueip_pool_chunk_of(pool, h[i]->index);
		if ((int)ueip_owner_of(&ipam->prev, pool->name_hash, chunk) == ipam->self_prev)
			ueip_pool_mark(pool, h[i]->index);
	}
	return 0;
}

static int
ipam_load(struct ipam *ipam, char *why, size_t why_size)
{
	struct load_ctx lc = { ipam, why, why_size, ipam_now(ipam) };
	int rc;

	if ((rc = ueip_store_each_session(ipam->st, load_session, &lc)) ||
	    (rc = ueip_store_each_lent(ipam->st, load_lent, &lc)) ||
	    (rc = ueip_store_each_quar(ipam->st, load_quar, &lc)) ||
	    (rc = ueip_store_each_outbox(ipam->st, load_outbox, &lc))) {
		if (!why[0])
			snprintf(why, why_size, "loading the store: %s", ueip_strerror(rc));
		return rc;
	}
	if (ipam->qtail > ipam->qhead)
		qsort(ipam->qfifo + ipam->qhead, ipam->qtail - ipam->qhead, sizeof(*ipam->qfifo), cmp_quar);
	if (ipam->handoff_active && ipam->self_prev >= 0)
		ueip_sessions_each(&ipam->sessions, mark_given_units, ipam);
	return 0;
}

static int
statics_index(struct ipam *ipam, char *why, size_t why_size)
{
	for (unsigned i = 0; i < ipam->cfg->nstatics; i++) {
		const struct ueip_config_static *st = &ipam->cfg->statics[i];
		unsigned p;
		uint64_t idx;
		for (p = 0; p < ipam->npools; p++)
			if (ueip_pool_contains(ipam->pools[p], &st->address, &idx))
				break;
		if (p == ipam->npools) {
			snprintf(why, why_size, "static %u is outside every pool", i);
			return UEIP_ECONFIG;
		}
		ueip_map_put(&ipam->statics, ueip_unit_key((uint16_t)p, idx), i);
	}
	return 0;
}

/* Units of statics that no session holds go back to free before a new static list applies. */
static void
statics_unmark(struct ipam *ipam)
{
	uint64_t key;

	for (size_t pos = 0; ueip_map_next(&ipam->statics, &pos, &key, NULL);) {
		uint16_t pool_id = (uint16_t)(key >> 40);
		uint64_t index = key & ((1ULL << 40) - 1);
		if (!ueip_sessions_by_unit(&ipam->sessions, key) &&
		    ipam_unit_owned(ipam, pool_id, index) != UEIP_CHUNK_OTHER)
			ueip_pool_clear(ipam->pools[pool_id], index);
	}
	ueip_map_deinit(&ipam->statics);
}

int
ipam_reload(struct ipam *ipam, struct ueip_config *cfg, const struct ueip_config *next,
	    char *why, size_t why_size)
{
	int rc;

	statics_unmark(ipam);
	cfg->quarantine_seconds = next->quarantine_seconds;
	cfg->recovery_timeout_ms = next->recovery_timeout_ms;
	memcpy(cfg->statics, next->statics, sizeof(next->statics[0]) * next->nstatics);
	cfg->nstatics = next->nstatics;
	snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", next->log_level);
	rc = statics_index(ipam, why, why_size);
	mark_statics(ipam);
	ueip_log_info("config", "member %s: configuration reloaded (%u statics, quarantine %u s)",
		      ipam->self, cfg->nstatics, cfg->quarantine_seconds);
	return rc;
}

static int
incarnation_bump(struct ipam *ipam)
{
	char text[32] = "0";
	char *end;
	int rc;

	ueip_store_meta_get(ipam->st, "incarnation", text, sizeof(text));
	ipam->incarnation = strtoull(text, &end, 10) + 1;
	snprintf(text, sizeof(text), "%llu", (unsigned long long)ipam->incarnation);
	if ((rc = ueip_store_begin(ipam->st)) || (rc = ueip_store_meta_set(ipam->st, "incarnation", text)) ||
	    (rc = ueip_store_meta_set(ipam->st, "member", ipam->self)) ||
	    (rc = ueip_store_meta_set(ipam->st, "set", ipam->cfg->set_id)))
		return rc;
	return ueip_store_commit(ipam->st);
}

int
ipam_new(const struct ueip_config *cfg, struct ueip_store *st, const struct ipam_env *env,
	 struct ipam **out, char *why, size_t why_size)
{
	struct ipam *ipam = calloc(1, sizeof(*ipam));
	char stored_member[UEIP_MEMBER_ID_MAX];
	int rc;

	*out = NULL;
	why[0] = '\0';
	if (!ipam)
		return UEIP_ENOMEM;
	ipam->cfg = cfg;
	ipam->st = st;
	ipam->env = *env;
	ipam->state = IPAM_RECOVERING;
	snprintf(ipam->self, sizeof(ipam->self), "%s", cfg->member);
	if (ueip_store_meta_get(st, "member", stored_member, sizeof(stored_member)) == 0 &&
	    strcmp(stored_member, cfg->member) != 0) {
		snprintf(why, why_size, "store belongs to member '%s', not '%s'", stored_member, cfg->member);
		free(ipam);
		return UEIP_ECONFIG;
	}
	ueip_sessions_init(&ipam->sessions);
	ipam->owned_chunks = calloc(cfg->npools + cfg->npublic_pools, sizeof(*ipam->owned_chunks));
	ipam->nue_pools = cfg->npools;
	for (unsigned i = 0; i < cfg->npools + cfg->npublic_pools; i++) {
		struct ueip_pool_def def;
		if (i < cfg->npools) {
			def = cfg->pools[i];
		} else {
			const struct ueip_config_public_pool *pp = &cfg->public_pools[i - cfg->npools];
			def = pp->def;
			snprintf(def.name, sizeof(def.name), "%s", pp->name);
			snprintf(def.dnn, sizeof(def.dnn), "%s.public%s", pp->name, UEIP_RESERVED_DNN_SUFFIX);
			def.snssai[0] = '\0';
		}
		def.chunk_size = cfg->chunk_size;
		if (!(ipam->pools[i] = ueip_pool_new(&def, (uint16_t)i))) {
			snprintf(why, why_size, "pool %s: out of memory", def.name);
			ipam_free(ipam);
			return UEIP_ENOMEM;
		}
		ipam->npools++;
	}
	membership_load(ipam);
	if ((rc = incarnation_bump(ipam)) || (rc = statics_index(ipam, why, why_size)) ||
	    (rc = ipam_load(ipam, why, why_size))) {
		if (!why[0])
			snprintf(why, why_size, "%s", ueip_store_errmsg(st));
		ipam_free(ipam);
		return rc;
	}
	for (unsigned i = 0; i < ipam->npools; i++)
		ueip_pool_set_owner_fn(ipam->pools[i], chunk_owner_cb, ipam);
	count_owned_chunks(ipam);
	ipam_reown_all(ipam);
	ipam->alloc_seq = ueip_hash_combine(ueip_hash_str(ipam->self, strlen(ipam->self)), ipam->incarnation);
	*out = ipam;
	return 0;
}

static void
free_pending(struct ipam *ipam)
{
	uint64_t value;

	for (size_t pos = 0; ueip_map_next(&ipam->pending, &pos, NULL, &value);) {
		struct pending *p = (void *)(uintptr_t)value;
		json_decref(p->result);
		free(p);
	}
	ueip_map_deinit(&ipam->pending);
}

void
ipam_free(struct ipam *ipam)
{
	if (!ipam)
		return;
	for (unsigned i = 0; i < ipam->npools; i++)
		ueip_pool_free(ipam->pools[i]);
	ueip_sessions_deinit(&ipam->sessions);
	ueip_map_deinit(&ipam->lent);
	ueip_map_deinit(&ipam->quar);
	ueip_map_deinit(&ipam->statics);
	ueip_map_deinit(&ipam->handed);
	ueip_map_deinit(&ipam->released_blocked);
	ueip_map_deinit(&ipam->rec.seen);
	ueip_map_deinit(&ipam->rec.released);
	free_pending(ipam);
	free(ipam->owned_chunks);
	free(ipam->qfifo);
	free(ipam->outbox);
	free(ipam->hout);
	free(ipam->unconf);
	free(ipam);
}

void
ipam_start(struct ipam *ipam, struct setnet *net)
{
	ipam->net = net;
	peers_sync(ipam);
	if (ipam->handoff_active) {
		ipam_handoff_plan(ipam);
		ipam_handoff_flush(ipam);
	}
	ipam_recovery_start(ipam, 0, NULL, NULL);
}

void
ipam_tick(struct ipam *ipam)
{
	quarantine_expire(ipam);
	ipam_pending_expire(ipam);
	ipam_recovery_tick(ipam);
	ipam_unconfirmed_tick(ipam);
	ipam_outbox_flush(ipam);
	ipam_handoff_flush(ipam);
}

/* ---- metrics ---- */

static void
mline(struct ueip_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
mline(struct ueip_buf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		ueip_set_put_bytes(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void
ipam_pool_figures(struct ipam *ipam, const struct ueip_pool *pool, struct ueip_set_poolstat *out,
		  uint64_t *owned_out)
{
	uint64_t key, owned;

	memset(out, 0, sizeof(*out));
	snprintf(out->pool, sizeof(out->pool), "%s", pool->def.name);
	for (size_t pos = 0; ueip_map_next(&ipam->quar, &pos, &key, NULL);)
		out->quarantined += (key >> 40) == pool->id;
	for (size_t pos = 0; ueip_map_next(&ipam->statics, &pos, &key, NULL);)
		out->statics += (key >> 40) == pool->id && ueip_pool_is_set(pool, key & ((1ULL << 40) - 1));
	owned = ipam->self_cur >= 0 ? ipam->owned_chunks[pool->id][ipam->self_cur] * pool->def.chunk_size : 0;
	if (owned > pool->def.size)
		owned = pool->def.size;
	out->used = pool->used_total - out->quarantined - out->statics;
	out->free = owned > pool->used_total ? owned - pool->used_total : 0;
	if (owned_out)
		*owned_out = owned;
}

static void
pool_metrics(struct ipam *ipam, struct ueip_pool *pool, struct ueip_buf *out)
{
	static const char *const fmt = "ueip_pool_units{pool=\"%s\",member=\"%s\",state=\"%s\"} %llu\n";
	struct ueip_set_poolstat f;
	uint64_t owned;

	ipam_pool_figures(ipam, pool, &f, &owned);
	mline(out, fmt, pool->def.name, ipam->self, "owned", (unsigned long long)owned);
	mline(out, fmt, pool->def.name, ipam->self, "used", (unsigned long long)f.used);
	mline(out, fmt, pool->def.name, ipam->self, "quarantined", (unsigned long long)f.quarantined);
	mline(out, fmt, pool->def.name, ipam->self, "static", (unsigned long long)f.statics);
	mline(out, fmt, pool->def.name, ipam->self, "free", (unsigned long long)f.free);
}

void
ipam_metrics(struct ipam *ipam, struct ueip_buf *out)
{
	const struct ipam_stats *s = &ipam->stats;
	const char *m = ipam->self;

	mline(out, "# HELP ueip_pool_units Units of each pool by state, as this member counts its chunks.\n"
		   "# TYPE ueip_pool_units gauge\n");
	for (unsigned p = 0; p < ipam->npools; p++)
		pool_metrics(ipam, ipam->pools[p], out);
	mline(out, "# TYPE ueip_sessions gauge\nueip_sessions{member=\"%s\"} %llu\n", m,
	      (unsigned long long)ipam->sessions.count);
	mline(out, "# TYPE ueip_lent_units gauge\nueip_lent_units{member=\"%s\"} %zu\n", m, ueip_map_count(&ipam->lent));
	mline(out, "# TYPE ueip_outbox_pending gauge\nueip_outbox_pending{member=\"%s\"} %zu\n", m, ipam->noutbox);
	mline(out, "# TYPE ueip_epoch gauge\nueip_epoch{member=\"%s\"} %llu\n", m, (unsigned long long)ipam->cur.epoch);
	mline(out, "# TYPE ueip_recovering gauge\nueip_recovering{member=\"%s\"} %d\n", m,
	      ipam->state == IPAM_RECOVERING);
	mline(out, "# TYPE ueip_set_events_total counter\n");
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"release_sent\"} %llu\n", m, (unsigned long long)s->releases_sent);
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"release_received\"} %llu\n", m, (unsigned long long)s->releases_received);
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"release_forwarded\"} %llu\n", m, (unsigned long long)s->releases_forwarded);
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"transfer_out\"} %llu\n", m, (unsigned long long)s->transfers_out);
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"transfer_in\"} %llu\n", m, (unsigned long long)s->transfers_in);
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"adopt\"} %llu\n", m, (unsigned long long)s->adopts);
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"recovery\"} %llu\n", m, (unsigned long long)s->recoveries);
	mline(out, "ueip_set_events_total{member=\"%s\",event=\"audit\"} %llu\n", m, (unsigned long long)s->audits);
	mline(out, "# TYPE ueip_recovery_duration_seconds gauge\nueip_recovery_duration_seconds{member=\"%s\"} %.3f\n",
	      m, (double)s->last_recovery_ms / 1000.0);
	mline(out, "# TYPE ueip_handoff_duration_seconds gauge\nueip_handoff_duration_seconds{member=\"%s\"} %.3f\n",
	      m, (double)s->last_handoff_ms / 1000.0);
	mline(out, "# TYPE ueip_handoff_moved_chunks gauge\nueip_handoff_moved_chunks{member=\"%s\"} %llu\n", m,
	      (unsigned long long)s->moved_chunks);
}

const char *
ipam_self_address(const struct ipam *ipam)
{
	return ipam->self_cur >= 0 ? ipam->cur_addr[ipam->self_cur] : NULL;
}
