// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: ipam set protocol — release, recovery, transfer, membership, hand-off
 *
 * Frames arrive through ipam_on_frame(). Requests are answered with ACK
 * after the store batch that holds their effect committed (ack_durable), so
 * a sender that saw OK can forget what it sent. The races the design closes
 * (docs/ipam-design.md):
 *
 *  - transfer vs. reconcile: a member refuses (BUSY) a transfer-in or adopt
 *    of a session whose unit's owner is reconciling, from the RECOVERY it
 *    received until RECONCILED or until that connection drops. So a session
 *    in flight is always in the report of its sender or of its receiver.
 *  - release vs. hand-off: a RELEASE for a chunk the receiver no longer owns
 *    is forwarded durably to the chunk's owner; an outbox entry waits while
 *    our own hand-off of that chunk is unacknowledged; a new owner answers
 *    BUSY until the chunk's hand-off reached it.
 *  - restarts: every RECOVERY carries a round number; reports of another
 *    round are ignored, and a peer whose connection drops after reporting
 *    restarts the round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/ipam_int.h"
#include "proto/ctlmsg.h"

void ipam_outbox_acked(struct ipam *ipam, uint64_t id, unsigned status);

/* ---- answering after commit ---- */

struct deferred_ack {
	struct ipam *ipam;
	uint64_t conn_id, req_id;
	unsigned status;
};

static void
send_ack(struct ipam *ipam, struct setconn *conn, uint64_t req_id, unsigned status)
{
	struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_ACK);

	ueip_set_put_u64(b, req_id);
	ueip_set_put_u32(b, status);
	setnet_send_reply(ipam->net, conn);
}

static void
deferred_ack_run(void *arg, int rc)
{
	struct deferred_ack *d = arg;
	struct setconn *conn = setnet_conn_find(d->ipam->net, d->conn_id);

	if (conn)
		send_ack(d->ipam, conn, d->req_id, rc ? UEIP_SET_ST_STORE_FAILED : d->status);
	free(d);
}

static void
ack_durable(struct ipam *ipam, struct setconn *conn, uint64_t req_id, unsigned status)
{
	struct deferred_ack *d = malloc(sizeof(*d));

	if (!d)
		return;	/* the sender retries */
	*d = (struct deferred_ack){ ipam, setconn_id(conn), req_id, status };
	if (ipam->env.defer(ipam->env.arg, deferred_ack_run, d))
		free(d);
}

struct deferred_done {
	ipam_done_fn *done;
	void *ctx;
	int rc;
	json_t *result;
	char text[160];
};

static void
deferred_done_run(void *arg, int rc)
{
	struct deferred_done *d = arg;

	if (rc) {
		json_decref(d->result);
		d->done(d->ctx, rc, NULL, "store commit failed");
	} else {
		d->done(d->ctx, d->rc, d->result, d->text);
	}
	free(d);
}

static void
done_durable(struct ipam *ipam, ipam_done_fn *done, void *ctx, int rc, json_t *result, const char *text)
{
	struct deferred_done *d = calloc(1, sizeof(*d));

	if (!d || ipam->env.defer(ipam->env.arg, deferred_done_run, d)) {
		free(d);
		json_decref(result);
		done(ctx, UEIP_ENOMEM, NULL, "out of memory");
		return;
	}
	*d = (struct deferred_done){ .done = done, .ctx = ctx, .rc = rc, .result = result };
	snprintf(d->text, sizeof(d->text), "%s", text);
}

static int
member_index(struct ipam *ipam, const struct setpeer *peer)
{
	return ueip_membership_find(&ipam->cur, setpeer_id(peer));
}

int
ipam_fenced(struct ipam *ipam, uint16_t pool_id, uint64_t index)
{
	int owner = ipam_owner_index(ipam, pool_id, index);

	return owner != ipam->self_cur && ipam->fence_conn[owner] != 0;
}

/* ---- RELEASE (we are, or were, the owner) ---- */

static unsigned
release_one(struct ipam *ipam, struct setpeer *from, const struct ueip_set_unit *u)
{
	struct ueip_pool *pool = ipam_pool_by_name(ipam, u->pool);
	uint64_t alloc;
	int owned, owner;

	if (!pool || u->index >= pool->def.size) {
		ueip_log_warn("set", "RELEASE from %s for unknown unit %s/%llu", setpeer_id(from), u->pool,
			      (unsigned long long)u->index);
		return UEIP_SET_ST_REFUSED;
	}
	owned = ipam_unit_owned(ipam, pool->id, u->index);
	if (owned == UEIP_CHUNK_BLOCKED)
		return UEIP_SET_ST_BUSY;
	if (owned == UEIP_CHUNK_MINE) {
		if (ueip_map_get(&ipam->lent, ueip_unit_key(pool->id, u->index), &alloc) && alloc == u->alloc_id) {
			ipam_quarantine(ipam, pool->id, u->index);
			/* A report of this round may predate the release: it must not bring the unit back. */
			if (ipam->rec.active)
				ueip_map_put(&ipam->rec.released, ueip_unit_key(pool->id, u->index), alloc);
		}
		else
			ueip_log_debug("set", "stale RELEASE of %s/%llu from %s ignored", u->pool,
				       (unsigned long long)u->index, setpeer_id(from));
		ipam->stats.releases_received++;
		return UEIP_SET_ST_OK;
	}
	owner = ipam_owner_index(ipam, pool->id, u->index);
	if (strcmp(ipam->cur.ids[owner], setpeer_id(from)) == 0)
		return UEIP_SET_ST_BUSY;	/* our views of the epoch differ; it will catch up */
	ipam->stats.releases_forwarded++;
	return ipam_outbox_add(ipam, u) ? UEIP_SET_ST_STORE_FAILED : UEIP_SET_ST_OK;
}

static void
flush_outbox_after(void *arg, int rc)
{
	if (!rc)
		ipam_outbox_flush(arg);
}

static void
handle_release(struct ipam *ipam, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *m)
{
	struct ueip_set_unit u;
	unsigned status = UEIP_SET_ST_OK, st;
	int rc;

	while ((rc = ueip_setmsg_next_unit(m, &u)) == 1) {
		st = release_one(ipam, peer, &u);
		if (st != UEIP_SET_ST_OK)
			status = st;
	}
	if (rc < 0)
		status = UEIP_SET_ST_MALFORMED;
	ipam->env.defer(ipam->env.arg, flush_outbox_after, ipam);
	ack_durable(ipam, conn, m->req_id, status);
}

/* ---- recovery / audit: the member that rebuilds ---- */

static void
send_recovery(struct setpeer *peer, void *arg)
{
	struct ipam *ipam = arg;
	int idx = member_index(ipam, peer);
	struct ueip_buf *b;

	if (idx < 0 || ((ipam->rec.reported >> idx) & 1) || !setpeer_is_up(peer))
		return;
	b = setnet_begin(ipam->net, UEIP_SET_RECOVERY);
	ueip_set_put_u64(b, ipam->rec.round);
	ueip_set_put_u64(b, ipam->cur.epoch);
	ueip_set_put_u8(b, (uint8_t)ipam->rec.audit);
	setnet_send_request(ipam->net, peer);
}

static uint32_t
peers_mask(struct ipam *ipam)
{
	uint32_t all = ipam->cur.count >= 32 ? UINT32_MAX : (1u << ipam->cur.count) - 1;

	return ipam->self_cur >= 0 ? all & ~(1u << ipam->self_cur) : all;
}

static void recovery_finish(struct ipam *ipam, int full);

static void
recovery_round(struct ipam *ipam)
{
	static uint64_t rounds;

	ipam->rec.round = ipam->incarnation << 24 | (++rounds & 0xffffff);
	ipam->rec.reported = 0;
	ueip_map_deinit(&ipam->rec.seen);
	ueip_map_deinit(&ipam->rec.released);
	if (ipam->net)
		setnet_each_peer(ipam->net, send_recovery, ipam);
	if (peers_mask(ipam) == 0)
		recovery_finish(ipam, 1);
}

void
ipam_recovery_restart(struct ipam *ipam)
{
	if (ipam->rec.active)
		recovery_round(ipam);
}

void
ipam_recovery_start(struct ipam *ipam, int audit, ipam_done_fn *done, void *ctx)
{
	int64_t now = ipam_now(ipam);

	if (ipam->rec.active) {
		if (done)
			done(ctx, UEIP_EBUSY, NULL, "a recovery or audit round is running");
		return;
	}
	ueip_map_deinit(&ipam->rec.seen);
	ueip_map_deinit(&ipam->rec.released);
	memset(&ipam->rec, 0, sizeof(ipam->rec));
	ipam->rec.active = 1;
	ipam->rec.audit = audit;
	ipam->rec.started_ms = now;
	ipam->rec.deadline_ms = now + ipam->cfg->recovery_timeout_ms;
	ipam->rec.done = done;
	ipam->rec.ctx = ctx;
	if (audit)
		ipam->stats.audits++;
	else
		ipam->stats.recoveries++;
	ueip_log_info("ipam", "member %s: %s round started (incarnation %llu, epoch %llu)", ipam->self,
		      audit ? "audit" : "recovery", (unsigned long long)ipam->incarnation,
		      (unsigned long long)ipam->cur.epoch);
	recovery_round(ipam);
}

/* A copy of one of our sessions that a peer holds with a higher generation replaces ours. */
static void
drop_stale_copy(struct ipam *ipam, const struct ueip_set_session *w)
{
	struct ueip_session *local = ueip_sessions_find(&ipam->sessions, &w->key);
	char key[256];

	if (!local || local->gen >= w->gen)
		return;
	ueip_session_key_format(&local->key, key, sizeof(key));
	ueip_log_info("ipam", "member %s: session %s moved to a peer while we were down; dropping our copy",
		      ipam->self, key);
	ipam_batch(ipam);
	ueip_store_session_del(ipam->st, &local->key);
	ipam_session_gone(ipam, local);
	ueip_sessions_remove(&ipam->sessions, local);
	free(local);
	ipam->rec.stale_dropped++;
}

static void
report_unit(struct ipam *ipam, const char *pool_name, uint64_t index, uint64_t alloc)
{
	struct ueip_pool *pool = ipam_pool_by_name(ipam, pool_name);

	if (pool && index < pool->def.size && ipam_unit_owned(ipam, pool->id, index) != UEIP_CHUNK_OTHER)
		ueip_map_put(&ipam->rec.seen, ueip_unit_key(pool->id, index), alloc);
}

static void
handle_report(struct ipam *ipam, struct setpeer *peer, struct ueip_setmsg *m)
{
	struct ueip_set_session w;
	int idx = member_index(ipam, peer), rc;

	if (!ipam->rec.active || m->incarnation != ipam->rec.round || idx < 0)
		return;
	while ((rc = ueip_setmsg_next_session(m, &w)) == 1) {
		drop_stale_copy(ipam, &w);
		if (w.is_static)
			continue;
		if (w.has_v4)
			report_unit(ipam, w.v4_pool, w.v4_index, w.alloc_id);
		if (w.has_v6)
			report_unit(ipam, w.v6_pool, w.v6_index, w.alloc_id);
	}
	if (rc < 0) {
		ueip_log_warn("set", "malformed REPORT from %s; asking again", setpeer_id(peer));
		return;
	}
	if (m->flags & 1)
		ipam->rec.reported |= 1u << idx;
	if ((ipam->rec.reported & peers_mask(ipam)) == peers_mask(ipam))
		recovery_finish(ipam, 1);
}

/* Units peers hold that we saw free or quarantined: mark them lent. */
static void
reconcile_seen(struct ipam *ipam)
{
	uint64_t unit, alloc, lent_alloc;

	for (size_t pos = 0; ueip_map_next(&ipam->rec.seen, &pos, &unit, &alloc);) {
		uint16_t pool_id = (uint16_t)(unit >> 40);
		uint64_t index = unit & ((1ULL << 40) - 1);
		struct ueip_session *own = ueip_sessions_by_unit(&ipam->sessions, unit);
		uint64_t released;
		if (ueip_map_get(&ipam->rec.released, unit, &released) && released == alloc)
			continue;
		if (own) {
			if (own->alloc_id != alloc) {
				ipam->rec.conflicts++;
				ueip_log_err("ipam", "member %s: unit %s/%llu held here and by a peer",
					     ipam->self, ipam->pools[pool_id]->def.name, (unsigned long long)index);
			}
			continue;
		}
		if (ueip_map_get(&ipam->lent, unit, &lent_alloc) && lent_alloc == alloc)
			continue;
		if (!ueip_map_get(&ipam->lent, unit, NULL))
			ipam->rec.added++;
		ipam_lent_set(ipam, pool_id, index, alloc);
	}
}

/* Lent units no peer holds any more: their release was missed; free them. */
static void
reconcile_lent(struct ipam *ipam)
{
	uint64_t unit, *victims = NULL;
	size_t n = 0, cap = 0;

	for (size_t pos = 0; ueip_map_next(&ipam->lent, &pos, &unit, NULL);) {
		uint16_t pool_id = (uint16_t)(unit >> 40);
		uint64_t index = unit & ((1ULL << 40) - 1);
		if (ueip_map_get(&ipam->rec.seen, unit, NULL) ||
		    ipam_unit_owned(ipam, pool_id, index) == UEIP_CHUNK_OTHER)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			uint64_t *grown = realloc(victims, cap * sizeof(*grown));
			if (!grown)
				break;
			victims = grown;
		}
		victims[n++] = unit;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t pool_id = (uint16_t)(victims[i] >> 40);
		uint64_t index = victims[i] & ((1ULL << 40) - 1);
		ipam_lent_drop(ipam, pool_id, index);
		ueip_pool_clear(ipam->pools[pool_id], index);
		ipam->rec.freed++;
	}
	free(victims);
}

static void
send_reconciled(struct setpeer *peer, void *arg)
{
	struct ipam *ipam = arg;
	struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_RECONCILED);

	ueip_set_put_u64(b, ipam->rec.round);
	setnet_send_request(ipam->net, peer);
}

static void handoff_settle_all(struct ipam *ipam);

static void
recovery_finish(struct ipam *ipam, int full)
{
	struct recovery *rec = &ipam->rec;
	int64_t took = ipam_now(ipam) - rec->started_ms;
	json_t *result;

	reconcile_seen(ipam);
	if (full)
		reconcile_lent(ipam);
	ipam->state = IPAM_ACTIVE;
	ipam->partial_recovery = !full;
	ipam->stats.last_recovery_ms = took;
	ipam->stats.last_recovery_full = full;
	ipam->stats.last_freed = rec->freed;
	ipam->stats.last_added = rec->added;
	ueip_log_info("ipam", "member %s: %s %s in %lld ms: %u freed, %u added, %u conflicts, %u stale copies dropped",
		      ipam->self, rec->audit ? "audit" : "recovery", full ? "complete" : "timed out (partial)",
		      (long long)took, rec->freed, rec->added, rec->conflicts, rec->stale_dropped);
	if (ipam->net)
		setnet_each_peer(ipam->net, send_reconciled, ipam);
	rec->active = 0;
	if (full && ipam->handoff_active && ipam_now(ipam) - ipam->handoff_started_ms >
					    2 * (int64_t)ipam->cfg->recovery_timeout_ms)
		handoff_settle_all(ipam);
	if (rec->done) {
		result = json_object();
		json_object_set_new(result, "complete", json_boolean(full));
		json_object_set_new(result, "freed", json_integer(rec->freed));
		json_object_set_new(result, "added", json_integer(rec->added));
		json_object_set_new(result, "conflicts", json_integer(rec->conflicts));
		json_object_set_new(result, "stale-copies-dropped", json_integer(rec->stale_dropped));
		json_object_set_new(result, "duration-ms", json_integer(took));
		done_durable(ipam, rec->done, rec->ctx, 0, result,
			     full ? "audit complete" : "audit partial: some peers did not report");
		rec->done = NULL;
	}
	ipam_outbox_flush(ipam);
}

void
ipam_recovery_tick(struct ipam *ipam)
{
	int64_t now = ipam_now(ipam);

	if (ipam->rec.active && now >= ipam->rec.deadline_ms)
		recovery_finish(ipam, 0);
	/* A removed member that never hands over: settle from the peers' reports instead. */
	if (!ipam->rec.active && ipam->handoff_active && ipam->nhout == 0 &&
	    now - ipam->handoff_started_ms > 2 * (int64_t)ipam->cfg->recovery_timeout_ms)
		ipam_recovery_start(ipam, 1, NULL, NULL);
}

/* ---- recovery: the members that report ---- */

struct report_job {
	struct ipam *ipam;
	uint64_t conn_id, round;
	char requester[UEIP_MEMBER_ID_MAX];
	int requester_idx;
	struct ueip_buf *b;
	uint32_t in_frame;
	size_t count_at;
	struct setconn *conn;
};

static int
unit_of_requester(struct report_job *j, const struct ueip_holding *h)
{
	return h->present && ipam_owner_index(j->ipam, h->pool_id, h->index) == j->requester_idx;
}

static void
report_frame_begin(struct report_job *j)
{
	j->b = setnet_begin(j->ipam->net, UEIP_SET_REPORT);
	ueip_set_put_u64(j->b, j->round);
	ueip_set_put_u8(j->b, 0);
	j->count_at = j->b->len;
	ueip_set_put_u32(j->b, 0);
	j->in_frame = 0;
}

static void
report_frame_send(struct report_job *j, int last)
{
	uint8_t *p = j->b->data + j->count_at;

	p[-1] = (uint8_t)last;
	p[0] = (uint8_t)(j->in_frame >> 24);
	p[1] = (uint8_t)(j->in_frame >> 16);
	p[2] = (uint8_t)(j->in_frame >> 8);
	p[3] = (uint8_t)j->in_frame;
	setnet_send_reply(j->ipam->net, j->conn);
	j->ipam->stats.reports_sent++;
}

static int
report_session(struct ueip_session *s, void *arg)
{
	struct report_job *j = arg;
	struct ueip_set_session w;

	if (!unit_of_requester(j, &s->v4) && !unit_of_requester(j, &s->v6) &&
	    strcmp(s->prev, j->requester) != 0)
		return 0;
	ipam_to_wire(j->ipam, s, &w);
	ueip_set_put_session(j->b, &w);
	if (++j->in_frame == REPORT_BATCH) {
		report_frame_send(j, 0);
		report_frame_begin(j);
	}
	return 0;
}

static void
report_run(void *arg, int rc)
{
	struct report_job *j = arg;

	j->conn = setnet_conn_find(j->ipam->net, j->conn_id);
	if (!rc && j->conn) {
		report_frame_begin(j);
		ueip_sessions_each(&j->ipam->sessions, report_session, j);
		report_frame_send(j, 1);
	}
	free(j);
}

static void
handle_recovery(struct ipam *ipam, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *m)
{
	int idx = member_index(ipam, peer);
	struct report_job *j;

	if (idx < 0)
		return;
	ipam->fence_conn[idx] = setconn_id(conn);
	ipam->fence_round[idx] = m->incarnation;
	ueip_log_info("ipam", "member %s: %s from %s (round %llx); reporting its units", ipam->self,
		      m->flags & 1 ? "audit" : "recovery", setpeer_id(peer), (unsigned long long)m->incarnation);
	if (!(j = calloc(1, sizeof(*j))))
		return;
	j->ipam = ipam;
	j->conn_id = setconn_id(conn);
	j->round = m->incarnation;
	j->requester_idx = idx;
	snprintf(j->requester, sizeof(j->requester), "%s", setpeer_id(peer));
	/* Report what is durable: after the batch in progress has committed. */
	if (ipam->env.defer(ipam->env.arg, report_run, j))
		free(j);
}

static void
handle_reconciled(struct ipam *ipam, struct setpeer *peer, struct ueip_setmsg *m)
{
	int idx = member_index(ipam, peer);

	if (idx >= 0 && ipam->fence_round[idx] == m->incarnation)
		ipam->fence_conn[idx] = 0;
}

void
ipam_on_in_down(void *arg, struct setpeer *peer, struct setconn *conn)
{
	struct ipam *ipam = arg;
	int idx = member_index(ipam, peer);

	if (idx >= 0 && ipam->fence_conn[idx] == setconn_id(conn))
		ipam->fence_conn[idx] = 0;
}

/* ---- transfer ---- */

static struct pending *
pending_transfer_of(struct ipam *ipam, const struct ueip_session_key *key)
{
	uint64_t value;

	for (size_t pos = 0; ueip_map_next(&ipam->pending, &pos, NULL, &value);) {
		struct pending *p = (void *)(uintptr_t)value;
		if (p->kind == PEND_TRANSFER && ueip_session_key_equal(&p->key, key))
			return p;
	}
	return NULL;
}

void
ipam_cmd_session_transfer(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct ueip_session_key key = { 0 };
	char to[UEIP_MEMBER_ID_MAX], why[256];
	struct ueip_set_session w;
	struct ueip_session *s;
	struct setpeer *peer;
	struct pending *p;
	uint64_t psi;

	if (ueip_ctl_get_str(args, "supi", 1, sizeof(key.supi), key.supi, why, sizeof(why)) ||
	    ueip_ctl_get_str(args, "dnn", 1, sizeof(key.dnn), key.dnn, why, sizeof(why)) ||
	    ueip_ctl_get_str(args, "snssai", 1, sizeof(key.snssai), key.snssai, why, sizeof(why)) ||
	    ueip_ctl_get_uint(args, "pdu-session-id", 1, 1, 15, &psi, why, sizeof(why)) ||
	    ueip_ctl_get_str(args, "to", 1, sizeof(to), to, why, sizeof(why)))
		return done(ctx, UEIP_EINVAL, NULL, why);
	key.psi = (uint8_t)psi;
	if (ipam->state == IPAM_RECOVERING)
		return ipam_fail(done, ctx, UEIP_ERECOVERING, "member %s is recovering, retry", ipam->self);
	if (!(s = ueip_sessions_find(&ipam->sessions, &key)))
		return done(ctx, UEIP_ENOTFOUND, NULL, "no such session on this member");
	if (strcmp(to, ipam->self) == 0 || ueip_membership_find(&ipam->cur, to) < 0)
		return ipam_fail(done, ctx, UEIP_EINVAL, "'to' must be another member of the set");
	if (!(peer = setnet_peer_find(ipam->net, to)) || !setpeer_is_up(peer))
		return ipam_fail(done, ctx, UEIP_EUNREACHABLE, "member %s is unreachable", to);
	if (pending_transfer_of(ipam, &key) || s->unconfirmed)
		return done(ctx, UEIP_EBUSY, NULL, "a transfer of this session is in flight or unconfirmed");
	if (!(p = ipam_pending_new(ipam, PEND_TRANSFER, to)))
		return done(ctx, UEIP_ENOMEM, NULL, "out of memory");
	p->key = key;
	p->done = done;
	p->ctx = ctx;
	ipam_to_wire(ipam, s, &w);
	w.gen = s->gen + 1;
	snprintf(w.prev, sizeof(w.prev), "%s", ipam->self);
	struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_TRANSFER);
	ueip_set_put_u64(b, p->req_id);
	ueip_set_put_u32(b, 1);
	ueip_set_put_session(b, &w);
	if (setnet_send_request(ipam->net, peer)) {
		ipam_pending_free(ipam, p);
		return ipam_fail(done, ctx, UEIP_EUNREACHABLE, "member %s is unreachable", to);
	}
	s->busy = 1;
}

struct confirm_job {
	struct ipam *ipam;
	char peer[UEIP_MEMBER_ID_MAX];
	struct ueip_set_session w;
};

static void
confirm_run(void *arg, int rc)
{
	struct confirm_job *j = arg;
	struct setpeer *peer = j->ipam->net ? setnet_peer_find(j->ipam->net, j->peer) : NULL;

	if (!rc && peer) {
		struct ueip_buf *b = setnet_begin(j->ipam->net, UEIP_SET_TRANSFER_COMMIT);
		ueip_set_put_u64(b, 0);
		ueip_set_put_u32(b, 1);
		ueip_set_put_session(b, &j->w);
		setnet_send_request(j->ipam->net, peer);
	}
	free(j);
}

/* Tell the receiver, once our deletion is durable, that its copy is the only one. */
static void
confirm_after_commit(struct ipam *ipam, const char *peer, const struct ueip_set_session *w)
{
	struct confirm_job *j = malloc(sizeof(*j));

	if (!j)
		return;	/* the receiver asks again (TRANSFER_CHECK) */
	j->ipam = ipam;
	snprintf(j->peer, sizeof(j->peer), "%s", peer);
	j->w = *w;
	if (ipam->env.defer(ipam->env.arg, confirm_run, j))
		free(j);
}

/* Delete our copy of a session another member now holds; units of our chunks become lent. */
static void
let_go(struct ipam *ipam, struct ueip_session *s, const char *to)
{
	const struct ueip_holding *h[2] = { &s->v4, &s->v6 };
	struct ueip_set_session w;

	ipam_to_wire(ipam, s, &w);
	w.gen = s->gen + 1;
	ipam_batch(ipam);
	ueip_store_session_del(ipam->st, &s->key);
	for (int i = 0; i < 2; i++)
		if (h[i]->present && !s->is_static &&
		    ipam_unit_owned(ipam, h[i]->pool_id, h[i]->index) != UEIP_CHUNK_OTHER)
			ipam_lent_set(ipam, h[i]->pool_id, h[i]->index, s->alloc_id);
	ipam_session_gone(ipam, s);
	ueip_sessions_remove(&ipam->sessions, s);
	free(s);
	confirm_after_commit(ipam, to, &w);
}

/* The receiver has it durably: forget our copy; units of our chunks become lent. */
static void
transfer_acked(struct ipam *ipam, struct pending *p, unsigned status)
{
	struct ueip_session *s = ueip_sessions_find(&ipam->sessions, &p->key);
	json_t *result;

	if (!s) {
		p->done(p->ctx, UEIP_ENOTFOUND, NULL, "session vanished during the transfer");
		return;
	}
	if (status != UEIP_SET_ST_OK) {
		s->busy = 0;
		ipam_fail(p->done, p->ctx, status == UEIP_SET_ST_BUSY ? UEIP_EBUSY : UEIP_ECONFLICT,
			  "member %s answered %s%s", p->peer, ueip_set_status_name(status),
			  status == UEIP_SET_ST_BUSY ? " (the owner of its address is reconciling); retry" : "");
		return;
	}
	result = ipam_session_json(ipam, s);
	json_object_set_new(result, "controller", json_string(p->peer));
	json_object_set_new(result, "generation", json_integer((json_int_t)s->gen + 1));
	json_object_set_new(result, "previous-controller", json_string(ipam->self));
	let_go(ipam, s, p->peer);
	ipam->stats.transfers_out++;
	done_durable(ipam, p->done, p->ctx, 0, result, "session transferred");
}

static unsigned
transfer_check(struct ipam *ipam, const struct ueip_session *s)
{
	const struct ueip_holding *h[2] = { &s->v4, &s->v6 };

	if (ipam->state == IPAM_RECOVERING)
		return UEIP_SET_ST_BUSY;
	for (int i = 0; i < 2; i++) {
		if (!h[i]->present)
			continue;
		if (ipam_fenced(ipam, h[i]->pool_id, h[i]->index))
			return UEIP_SET_ST_BUSY;
		struct ueip_session *other = ueip_sessions_by_unit(&ipam->sessions,
								   ueip_unit_key(h[i]->pool_id, h[i]->index));
		if (other && !ueip_session_key_equal(&other->key, &s->key))
			return UEIP_SET_ST_REFUSED;
	}
	return UEIP_SET_ST_OK;
}

static unsigned
transfer_in(struct ipam *ipam, const struct ueip_set_session *w)
{
	struct ueip_session tmp, *s, *old;
	unsigned status;

	if (ipam_from_wire(ipam, w, &tmp))
		return UEIP_SET_ST_REFUSED;
	if ((old = ueip_sessions_find(&ipam->sessions, &tmp.key)) && old->gen >= tmp.gen)
		return UEIP_SET_ST_OK;	/* a repeat of a transfer we already took */
	if ((status = transfer_check(ipam, &tmp)) != UEIP_SET_ST_OK)
		return status;
	if (!(s = malloc(sizeof(*s))))
		return UEIP_SET_ST_STORE_FAILED;
	if (old) {
		ueip_sessions_remove(&ipam->sessions, old);
		free(old);
	}
	*s = tmp;
	s->unconfirmed = 1;	/* usable once the sender says it deleted its copy */
	s->checked_ms = ipam_now(ipam);
	if (ueip_sessions_insert(&ipam->sessions, s) || ipam_persist_session(ipam, s) ||
	    ipam_unconfirmed_add(ipam, &s->key)) {
		free(s);
		return UEIP_SET_ST_STORE_FAILED;
	}
	const struct ueip_holding *h[2] = { &s->v4, &s->v6 };
	for (int i = 0; i < 2; i++) {
		if (h[i]->present && !s->is_static &&
		    ipam_unit_owned(ipam, h[i]->pool_id, h[i]->index) != UEIP_CHUNK_OTHER) {
			ipam_lent_drop(ipam, h[i]->pool_id, h[i]->index);
			ueip_pool_mark(ipam->pools[h[i]->pool_id], h[i]->index);
		}
	}
	ipam->stats.transfers_in++;
	return UEIP_SET_ST_OK;
}

static void
handle_transfer(struct ipam *ipam, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *m)
{
	struct ueip_set_session w;
	unsigned status = UEIP_SET_ST_MALFORMED;
	char key[256];

	if (m->count == 1 && ueip_setmsg_next_session(m, &w) == 1) {
		status = transfer_in(ipam, &w);
		ueip_session_key_format(&w.key, key, sizeof(key));
		ueip_log_info("ipam", "member %s: transfer of %s from %s: %s", ipam->self, key,
			      setpeer_id(peer), ueip_set_status_name(status));
	}
	ack_durable(ipam, conn, m->req_id, status);
}

/* Receiver: the sender deleted its copy; ours becomes usable. */
static void
handle_transfer_commit(struct ipam *ipam, struct setpeer *peer, struct ueip_setmsg *m)
{
	struct ueip_set_session w;
	struct ueip_session *s;

	if (m->count != 1 || ueip_setmsg_next_session(m, &w) != 1)
		return;
	s = ueip_sessions_find(&ipam->sessions, &w.key);
	if (!s || !s->unconfirmed || s->gen != w.gen)
		return;
	s->unconfirmed = 0;
	ipam_persist_session(ipam, s);
}

/* Sender: a receiver asks whether we let go of a session it holds with a higher generation. */
static void
handle_transfer_check(struct ipam *ipam, struct setpeer *peer, struct ueip_setmsg *m)
{
	struct ueip_set_session w;
	struct ueip_session *s;

	if (m->count != 1 || ueip_setmsg_next_session(m, &w) != 1 || pending_transfer_of(ipam, &w.key))
		return;
	s = ueip_sessions_find(&ipam->sessions, &w.key);
	if (s && s->gen >= w.gen)
		return;	/* ours is not older: nothing to confirm */
	if (s) {
		ueip_log_info("ipam", "member %s: %s holds a session we never heard was taken; letting go",
			      ipam->self, setpeer_id(peer));
		let_go(ipam, s, setpeer_id(peer));
		return;
	}
	confirm_after_commit(ipam, setpeer_id(peer), &w);
}

int
ipam_unconfirmed_add(struct ipam *ipam, const struct ueip_session_key *key)
{
	if (ueip_grow((void **)&ipam->unconf, &ipam->unconf_cap, ipam->nunconf, sizeof(*ipam->unconf)))
		return UEIP_ENOMEM;
	ipam->unconf[ipam->nunconf++] = *key;
	return 0;
}

void
ipam_unconfirmed_tick(struct ipam *ipam)
{
	int64_t now = ipam_now(ipam);

	for (size_t i = 0; i < ipam->nunconf;) {
		struct ueip_session *s = ueip_sessions_find(&ipam->sessions, &ipam->unconf[i]);
		struct setpeer *peer;
		if (!s || !s->unconfirmed) {
			ipam->unconf[i] = ipam->unconf[--ipam->nunconf];
			continue;
		}
		i++;
		if (now - s->checked_ms < 1000 || !ipam->net ||
		    !(peer = setnet_peer_find(ipam->net, s->prev)) || !setpeer_is_up(peer))
			continue;
		struct ueip_set_session w;
		ipam_to_wire(ipam, s, &w);
		struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_TRANSFER_CHECK);
		ueip_set_put_u64(b, 0);
		ueip_set_put_u32(b, 1);
		ueip_set_put_session(b, &w);
		setnet_send_request(ipam->net, peer);
		s->checked_ms = now;
	}
}

/* ---- membership ---- */

static void
put_members(struct ipam *ipam, struct ueip_buf *b)
{
	struct ueip_set_member sm;

	for (unsigned i = 0; i < ipam->cur.count; i++) {
		snprintf(sm.id, sizeof(sm.id), "%s", ipam->cur.ids[i]);
		snprintf(sm.address, sizeof(sm.address), "%s", ipam->cur_addr[i]);
		ueip_set_put_member(b, &sm);
	}
}

static int
send_members(struct ipam *ipam, struct setpeer *peer, uint64_t req_id)
{
	struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_MEMBERS);

	ueip_set_put_u64(b, req_id);
	ueip_set_put_u64(b, ipam->cur.epoch);
	ueip_set_put_u32(b, ipam->cur.count);
	put_members(ipam, b);
	return setnet_send_request(ipam->net, peer);
}

static int
member_id_ok(const char *id)
{
	if (!id[0])
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

static int
members_from_args(json_t *args, struct ueip_membership *m, char addrs[][UEIP_HOSTPORT_MAX],
		  char *why, size_t why_size)
{
	json_t *list = json_object_get(args, "members"), *e;
	char host[UEIP_HOSTPORT_MAX];
	uint16_t port;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > UEIP_MEMBERS_MAX) {
		snprintf(why, why_size, "'members' must be a list of 1..%d {id, address}", UEIP_MEMBERS_MAX);
		return UEIP_EINVAL;
	}
	json_array_foreach(list, i, e) {
		if (!json_is_object(e) ||
		    ueip_ctl_get_str(e, "id", 1, UEIP_MEMBER_ID_MAX, m->ids[i], why, why_size) ||
		    ueip_ctl_get_str(e, "address", 1, UEIP_HOSTPORT_MAX, addrs[i], why, why_size) ||
		    !member_id_ok(m->ids[i]) || ueip_hostport_split(addrs[i], host, sizeof(host), &port)) {
			snprintf(why, why_size, "members[%zu] needs an id of letters, digits, '.', '_' or '-' "
				 "and a host:port address", i);
			return UEIP_EINVAL;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(m->ids[k], m->ids[i]) == 0) {
				snprintf(why, why_size, "member id '%s' appears twice", m->ids[i]);
				return UEIP_EINVAL;
			}
		}
		m->count++;
	}
	ueip_membership_hash(m);
	return 0;
}

enum members_target { TARGET_UNSENT, TARGET_SENT, TARGET_ACKED, TARGET_REFUSED };

static void
members_target_add(struct setpeer *peer, void *arg)
{
	struct pending *p = arg;

	if (p->ntargets == 2 * UEIP_MEMBERS_MAX)
		return;
	snprintf(p->targets[p->ntargets], UEIP_MEMBER_ID_MAX, "%s", setpeer_id(peer));
	p->target_state[p->ntargets++] = TARGET_UNSENT;
	p->waiting++;
}

/* Send the new membership to every target whose connection is up (others: when it comes up). */
static void
members_send_pending(struct ipam *ipam, struct pending *p)
{
	for (unsigned i = 0; i < p->ntargets; i++) {
		struct setpeer *peer = setnet_peer_find(ipam->net, p->targets[i]);
		if (p->target_state[i] == TARGET_UNSENT && peer && setpeer_is_up(peer) &&
		    send_members(ipam, peer, p->req_id) == 0)
			p->target_state[i] = TARGET_SENT;
	}
}

static void
members_answer(struct ipam *ipam, struct pending *p)
{
	json_t *result = p->result, *acked = json_array(), *unreached = json_array();

	p->result = NULL;
	for (unsigned i = 0; i < p->ntargets; i++)
		json_array_append_new(p->target_state[i] == TARGET_ACKED ? acked : unreached,
				      json_string(p->targets[i]));
	json_object_set_new(result, "acknowledged", acked);
	json_object_set_new(result, "unreached", unreached);
	done_durable(ipam, p->done, p->ctx, 0, result,
		     json_array_size(unreached) ?
		     "membership changed; unreached members will learn it when they reconnect" :
		     "membership changed on every member");
}

void
ipam_cmd_set_members(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	struct ueip_membership m;
	char addrs[UEIP_MEMBERS_MAX][UEIP_HOSTPORT_MAX], why[256] = "";
	struct pending *p;
	uint64_t epoch = ipam->cur.epoch + 1;

	if (members_from_args(args, &m, addrs, why, sizeof(why)) ||
	    ueip_ctl_get_uint(args, "epoch", 0, ipam->cur.epoch + 1, UINT32_MAX, &epoch, why,
			      sizeof(why)) == UEIP_EINVAL)
		return done(ctx, UEIP_EINVAL, NULL, why);
	if (ipam->handoff_active)
		return done(ctx, UEIP_EBUSY, NULL, "the previous membership change is still handing chunks over");
	if (ipam->state == IPAM_RECOVERING)
		return ipam_fail(done, ctx, UEIP_ERECOVERING, "member %s is recovering, retry", ipam->self);
	m.epoch = epoch;
	if (!(p = ipam_pending_new(ipam, PEND_MEMBERS, NULL)))
		return done(ctx, UEIP_ENOMEM, NULL, "out of memory");
	p->done = done;
	p->ctx = ctx;
	ipam_apply_membership(ipam, &m, addrs, 0);
	p->result = json_object();
	json_object_set_new(p->result, "epoch", json_integer((json_int_t)epoch));
	json_object_set_new(p->result, "moved-chunks", json_integer((json_int_t)ipam->stats.moved_chunks));
	json_object_set_new(p->result, "total-chunks", json_integer((json_int_t)ipam->stats.total_chunks));
	json_object_set_new(p->result, "moved-fraction",
			    json_real(ipam->stats.total_chunks ?
				      (double)ipam->stats.moved_chunks / (double)ipam->stats.total_chunks : 0));
	setnet_each_peer(ipam->net, members_target_add, p);
	members_send_pending(ipam, p);
	if (p->waiting == 0) {
		members_answer(ipam, p);
		ipam_pending_free(ipam, p);
	}
}

static void
members_acked(struct ipam *ipam, struct pending *p, struct setpeer *peer, unsigned status)
{
	unsigned i;

	for (i = 0; i < p->ntargets && strcmp(p->targets[i], setpeer_id(peer)); i++)
		;
	if (i == p->ntargets || p->target_state[i] != TARGET_SENT)
		return;
	p->target_state[i] = status == UEIP_SET_ST_OK ? TARGET_ACKED : TARGET_REFUSED;
	if (--p->waiting == 0) {
		members_answer(ipam, p);
		ipam_pending_free(ipam, p);
	}
}

static void
handle_members(struct ipam *ipam, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *m)
{
	struct ueip_membership mem = { 0 };
	char addrs[UEIP_MEMBERS_MAX][UEIP_HOSTPORT_MAX];
	struct ueip_set_member sm;
	int rc;

	while (mem.count < UEIP_MEMBERS_MAX && (rc = ueip_setmsg_next_member(m, &sm)) == 1) {
		snprintf(mem.ids[mem.count], sizeof(mem.ids[0]), "%s", sm.id);
		snprintf(addrs[mem.count++], UEIP_HOSTPORT_MAX, "%s", sm.address);
	}
	if (rc < 0 || mem.count != m->count)
		return ack_durable(ipam, conn, m->req_id, UEIP_SET_ST_MALFORMED);
	mem.epoch = m->epoch;
	ueip_membership_hash(&mem);
	if (m->epoch < ipam->cur.epoch) {
		send_members(ipam, peer, 0);
		return ack_durable(ipam, conn, m->req_id, UEIP_SET_ST_STALE);
	}
	if (m->epoch > ipam->cur.epoch) {
		if (ipam->handoff_active)
			ueip_log_warn("ipam", "member %s: epoch %llu arrives before the hand-off of %llu settled",
				      ipam->self, (unsigned long long)m->epoch, (unsigned long long)ipam->cur.epoch);
		ipam_apply_membership(ipam, &mem, addrs, 0);
	}
	ack_durable(ipam, conn, m->req_id, UEIP_SET_ST_OK);
}

/* ---- hand-off: old owner ---- */

static int
hout_add(struct ipam *ipam, uint16_t pool_id, uint32_t chunk)
{
	if (ueip_grow((void **)&ipam->hout, &ipam->hout_cap, ipam->nhout, sizeof(*ipam->hout)))
		return UEIP_ENOMEM;
	ipam->hout[ipam->nhout++] = (struct handoff_out){ pool_id, chunk, 0, 0 };
	return 0;
}

void
ipam_handoff_plan(struct ipam *ipam)
{
	uint64_t value;

	ipam->nhout = 0;
	for (unsigned p = 0; p < ipam->npools; p++) {
		struct ueip_pool *pool = ipam->pools[p];
		for (size_t pos = 0; ueip_map_next(&pool->chunks, &pos, NULL, &value);) {
			struct ueip_chunk *c = (void *)(uintptr_t)value;
			if (c->owner == UEIP_CHUNK_OTHER)
				hout_add(ipam, pool->id, c->idx);
		}
	}
}

/* One unit of a chunk we hand over: held (with its allocation) or quarantined. */
static int
handoff_unit(struct ipam *ipam, struct ueip_pool *pool, uint64_t index, struct ueip_set_unit *u)
{
	uint64_t unit = ueip_unit_key(pool->id, index), v;
	struct ueip_session *s;

	memset(u, 0, sizeof(*u));
	snprintf(u->pool, sizeof(u->pool), "%s", pool->def.name);
	u->index = index;
	if (ueip_map_get(&ipam->statics, unit, NULL))
		return 0;
	if ((s = ueip_sessions_by_unit(&ipam->sessions, unit)))
		u->alloc_id = s->alloc_id;
	else if (ueip_map_get(&ipam->lent, unit, &v))
		u->alloc_id = v;
	else if (ueip_map_get(&ipam->quar, unit, &v))
		u->quarantine_until_ms = (int64_t)v;
	else
		return 0;
	return 1;
}

static void
handoff_send(struct ipam *ipam, struct handoff_out *h, int64_t now)
{
	struct ueip_pool *pool = ipam->pools[h->pool_id];
	const struct ueip_chunk *c = ueip_pool_chunk(pool, h->chunk);
	int owner = ipam_owner_index(ipam, h->pool_id, (uint64_t)h->chunk * pool->def.chunk_size);
	struct setpeer *peer = setnet_peer_find(ipam->net, ipam->cur.ids[owner]);
	struct ueip_set_unit u;
	struct pending *p;
	uint32_t n = 0;
	size_t count_at;

	if (!c || !peer || !setpeer_is_up(peer) || !(p = ipam_pending_new(ipam, PEND_HANDOFF, setpeer_id(peer))))
		return;
	p->pool_id = h->pool_id;
	p->chunk = h->chunk;
	struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_HANDOFF);
	ueip_set_put_u64(b, p->req_id);
	ueip_set_put_u64(b, ipam->cur.epoch);
	ueip_set_put_str(b, pool->def.name);
	ueip_set_put_u32(b, h->chunk);
	count_at = b->len;
	ueip_set_put_u32(b, 0);
	for (uint32_t off = 0; off < ueip_pool_chunk_units(pool, h->chunk); off++) {
		if (!((c->bits[off / 64] >> (off % 64)) & 1))
			continue;
		if (handoff_unit(ipam, pool, (uint64_t)h->chunk * pool->def.chunk_size + off, &u)) {
			ueip_set_put_unit(b, &u);
			n++;
		}
	}
	if (!b->err) {
		b->data[count_at] = (uint8_t)(n >> 24);
		b->data[count_at + 1] = (uint8_t)(n >> 16);
		b->data[count_at + 2] = (uint8_t)(n >> 8);
		b->data[count_at + 3] = (uint8_t)n;
	}
	if (setnet_send_request(ipam->net, peer)) {
		ipam_pending_free(ipam, p);
		return;
	}
	h->req_id = p->req_id;
	h->sent_ms = now;
}

static void
send_handoff_done(struct setpeer *peer, void *arg)
{
	struct ipam *ipam = arg;
	struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_HANDOFF_DONE);

	ueip_set_put_u64(b, ipam->cur.epoch);
	setnet_send_request(ipam->net, peer);
}

static void handoff_check_settled(struct ipam *ipam);

void
ipam_handoff_flush(struct ipam *ipam)
{
	int64_t now = ipam_now(ipam);

	if (!ipam->net || !ipam->handoff_active)
		return;
	for (unsigned i = 0; i < ipam->nhout; i++)
		if (!ipam->hout[i].req_id)
			handoff_send(ipam, &ipam->hout[i], now);
	if (ipam->nhout == 0 && !ipam->handoff_done_sent) {
		setnet_each_peer(ipam->net, send_handoff_done, ipam);
		ipam->handoff_done_sent = 1;
		handoff_check_settled(ipam);
	}
}

/* The new owner has the chunk: drop what we kept of it. */
static void
handoff_acked(struct ipam *ipam, struct pending *p, unsigned status)
{
	struct ueip_pool *pool = ipam->pools[p->pool_id];
	const struct ueip_chunk *c = ueip_pool_chunk(pool, p->chunk);
	unsigned i;

	for (i = 0; i < ipam->nhout; i++)
		if (ipam->hout[i].req_id == p->req_id)
			break;
	if (i == ipam->nhout)
		return;
	if (status == UEIP_SET_ST_BUSY) {
		ipam->hout[i].req_id = 0;
		return;
	}
	if (status == UEIP_SET_ST_OK && c) {
		uint64_t base = (uint64_t)p->chunk * pool->def.chunk_size;
		ipam_batch(ipam);
		for (uint32_t off = 0; off < ueip_pool_chunk_units(pool, p->chunk); off++) {
			uint64_t unit = ueip_unit_key(pool->id, base + off);
			ipam_lent_drop(ipam, pool->id, base + off);
			if (ueip_map_del(&ipam->quar, unit))
				ueip_store_quar_del(ipam->st, pool->def.name, base + off);
		}
		ueip_pool_forget_chunk(pool, p->chunk);
	}
	ipam->hout[i] = ipam->hout[--ipam->nhout];
	ipam_handoff_flush(ipam);
}

/* ---- hand-off: new owner ---- */

static int
handoff_validate(struct ipam *ipam, struct ueip_setmsg *m, struct ueip_pool *pool)
{
	struct ueip_setmsg copy = *m;
	struct ueip_set_unit u;
	uint64_t lo = (uint64_t)m->chunk * pool->def.chunk_size, hi = lo + ueip_pool_chunk_units(pool, m->chunk);
	int rc;

	while ((rc = ueip_setmsg_next_unit(&copy, &u)) == 1)
		if (strcmp(u.pool, pool->def.name) || u.index < lo || u.index >= hi)
			return UEIP_EMALFORMED;
	return rc;
}

static void
handoff_take_unit(struct ipam *ipam, struct ueip_pool *pool, const struct ueip_set_unit *u)
{
	uint64_t unit = ueip_unit_key(pool->id, u->index), released;

	if (ueip_sessions_by_unit(&ipam->sessions, unit)) {
		ueip_pool_mark(pool, u->index);
		return;
	}
	if (u->quarantine_until_ms) {
		if (ueip_map_get(&ipam->lent, unit, NULL))
			return;
		ipam_batch(ipam);
		ueip_pool_mark(pool, u->index);
		ueip_map_put(&ipam->quar, unit, (uint64_t)u->quarantine_until_ms);
		ueip_store_quar_put(ipam->st, pool->def.name, u->index, u->quarantine_until_ms);
		return;
	}
	if (ueip_map_get(&ipam->released_blocked, unit, &released) && released == u->alloc_id)
		return;
	ipam_lent_set(ipam, pool->id, u->index, u->alloc_id);
}

static void
handle_handoff(struct ipam *ipam, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *m)
{
	struct ueip_pool *pool = ipam_pool_by_name(ipam, m->pool);
	struct ueip_set_unit u;

	if (m->epoch != ipam->cur.epoch)
		return ack_durable(ipam, conn, m->req_id,
				   m->epoch < ipam->cur.epoch ? UEIP_SET_ST_STALE : UEIP_SET_ST_BUSY);
	if (!pool || m->chunk >= pool->nchunks || handoff_validate(ipam, m, pool) < 0) {
		ueip_log_warn("set", "malformed HANDOFF from %s (pool %s chunk %u)", setpeer_id(peer), m->pool, m->chunk);
		return ack_durable(ipam, conn, m->req_id, UEIP_SET_ST_MALFORMED);
	}
	if (ipam_unit_owned(ipam, pool->id, (uint64_t)m->chunk * pool->def.chunk_size) == UEIP_CHUNK_OTHER)
		return ack_durable(ipam, conn, m->req_id, UEIP_SET_ST_STALE);
	while (ueip_setmsg_next_unit(m, &u) == 1)
		handoff_take_unit(ipam, pool, &u);
	ueip_map_put(&ipam->handed, (uint64_t)pool->id << 32 | m->chunk, 1);
	ueip_pool_reown(pool);
	ack_durable(ipam, conn, m->req_id, UEIP_SET_ST_OK);
}

static void
handoff_finish(struct ipam *ipam)
{
	ipam->handoff_active = 0;
	ipam->stats.last_handoff_ms = ipam_now(ipam) - ipam->handoff_started_ms;
	ueip_map_deinit(&ipam->handed);
	ueip_map_deinit(&ipam->released_blocked);
	ipam->prev = ipam->cur;
	ipam->self_prev = ipam->self_cur;
	ipam_membership_save(ipam);
	ipam_reown_all(ipam);
	ueip_log_info("ipam", "member %s: hand-off of epoch %llu settled in %lld ms", ipam->self,
		      (unsigned long long)ipam->cur.epoch, (long long)ipam->stats.last_handoff_ms);
}

static void
handoff_check_settled(struct ipam *ipam)
{
	uint32_t all = ipam->prev.count >= 32 ? UINT32_MAX : (1u << ipam->prev.count) - 1;

	if (ipam->handoff_active && ipam->nhout == 0 && (ipam->settled & all) == all)
		handoff_finish(ipam);
}

static void
handoff_settle_all(struct ipam *ipam)
{
	ipam->settled = UINT32_MAX;
	handoff_check_settled(ipam);
}

static void
handle_handoff_done(struct ipam *ipam, struct setpeer *peer, struct ueip_setmsg *m)
{
	int idx;

	if (m->epoch > ipam->cur.epoch) {
		ipam_early_done_note(ipam, setpeer_id(peer), m->epoch);
		return;
	}
	if (!ipam->handoff_active || m->epoch != ipam->cur.epoch)
		return;
	if ((idx = ueip_membership_find(&ipam->prev, setpeer_id(peer))) < 0)
		return;
	ipam->settled |= 1u << idx;
	ueip_pool_reown(ipam->pools[0]);
	for (unsigned p = 1; p < ipam->npools; p++)
		ueip_pool_reown(ipam->pools[p]);
	handoff_check_settled(ipam);
}

/* ---- pool figures of the whole set ---- */

struct stats_send {
	struct ipam *ipam;
	struct pending *p;
};

static void
stats_request(struct setpeer *peer, void *arg)
{
	struct stats_send *ss = arg;
	struct ueip_buf *b;

	if (member_index(ss->ipam, peer) < 0 || !setpeer_is_up(peer))
		return;
	b = setnet_begin(ss->ipam->net, UEIP_SET_STATS_REQ);
	ueip_set_put_u64(b, ss->p->req_id);
	if (setnet_send_request(ss->ipam->net, peer) == 0)
		ss->p->waiting++;
}

void
ipam_stats_collect(struct ipam *ipam, json_t *result, ipam_done_fn *done, void *ctx)
{
	static const char text[] = "pool statistics; used/free as each member counts the chunks it owns";
	struct stats_send ss = { ipam, NULL };

	if (!ipam->net || !(ss.p = ipam_pending_new(ipam, PEND_STATS, NULL)))
		return done(ctx, 0, result, text);
	ss.p->done = done;
	ss.p->ctx = ctx;
	ss.p->result = result;
	ss.p->deadline_ms = ipam_now(ipam) + STATS_TIMEOUT_MS;
	setnet_each_peer(ipam->net, stats_request, &ss);
	if (ss.p->waiting == 0) {
		ss.p->result = NULL;
		ipam_pending_free(ipam, ss.p);
		done(ctx, 0, result, text);
	}
}

static void
handle_stats_req(struct ipam *ipam, struct setconn *conn, struct ueip_setmsg *m)
{
	struct ueip_set_poolstat f;
	struct ueip_buf *b = setnet_begin(ipam->net, UEIP_SET_STATS);

	ueip_set_put_u64(b, m->req_id);
	ueip_set_put_u32(b, ipam->npools);
	for (unsigned i = 0; i < ipam->npools; i++) {
		ipam_pool_figures(ipam, ipam->pools[i], &f, NULL);
		ueip_set_put_poolstat(b, &f);
	}
	setnet_send_reply(ipam->net, conn);
}

static json_t *
stats_entry(json_t *result, const char *pool, const char *member)
{
	json_t *pools = json_object_get(result, "pools"), *p, *e;
	size_t i, k;

	json_array_foreach(pools, i, p) {
		if (!json_is_string(json_object_get(p, "pool")) ||
		    strcmp(json_string_value(json_object_get(p, "pool")), pool))
			continue;
		json_array_foreach(json_object_get(p, "members"), k, e)
			if (strcmp(json_string_value(json_object_get(e, "member")), member) == 0)
				return e;
	}
	return NULL;
}

static void
stats_answer(struct ipam *ipam, struct pending *p)
{
	json_t *result = p->result;

	p->result = NULL;
	p->done(p->ctx, 0, result, "pool statistics; used/free as each member counts the chunks it owns");
	ipam_pending_free(ipam, p);
}

static void
handle_stats(struct ipam *ipam, struct setpeer *peer, struct ueip_setmsg *m)
{
	struct ueip_set_poolstat f;
	struct pending *p;
	uint64_t value;
	json_t *e;

	if (!ueip_map_get(&ipam->pending, m->req_id, &value))
		return;
	p = (void *)(uintptr_t)value;
	if (p->kind != PEND_STATS)
		return;
	while (ueip_setmsg_next_poolstat(m, &f) == 1)
		if ((e = stats_entry(p->result, f.pool, setpeer_id(peer))))
			ipam_poolstat_json(e, &f);
	if (--p->waiting == 0)
		stats_answer(ipam, p);
}

/* ---- acknowledgements and time-outs ---- */

static void
handle_ack(struct ipam *ipam, struct setpeer *peer, struct ueip_setmsg *m)
{
	uint64_t value;
	struct pending *p;

	if (m->req_id < REQ_ID_BASE) {
		ipam_outbox_acked(ipam, m->req_id, m->status);
		return;
	}
	if (!ueip_map_get(&ipam->pending, m->req_id, &value))
		return;
	p = (void *)(uintptr_t)value;
	switch (p->kind) {
	case PEND_TRANSFER:
		transfer_acked(ipam, p, m->status);
		break;
	case PEND_MEMBERS:
		members_acked(ipam, p, peer, m->status);
		return;	/* freed there when complete */
	case PEND_HANDOFF:
		handoff_acked(ipam, p, m->status);
		break;
	case PEND_STATS:
	case PEND_RELEASE:
		break;
	}
	ipam_pending_free(ipam, p);
}

static void
pending_expired(struct ipam *ipam, struct pending *p)
{
	switch (p->kind) {
	case PEND_TRANSFER:
		ipam_fail(p->done, p->ctx, UEIP_EUNREACHABLE,
			  "no answer from %s: the transfer's outcome is unknown; retry session-transfer", p->peer);
		break;
	case PEND_MEMBERS:
		members_answer(ipam, p);
		break;
	case PEND_HANDOFF:
		for (unsigned i = 0; i < ipam->nhout; i++)
			if (ipam->hout[i].req_id == p->req_id)
				ipam->hout[i].req_id = 0;
		break;
	case PEND_STATS:
		stats_answer(ipam, p);
		return;
	case PEND_RELEASE:
		break;
	}
	ipam_pending_free(ipam, p);
}

void
ipam_pending_expire(struct ipam *ipam)
{
	int64_t now = ipam_now(ipam);
	struct pending *expired[64];
	unsigned n = 0;
	uint64_t value;

	for (size_t pos = 0; n < 64 && ueip_map_next(&ipam->pending, &pos, NULL, &value);) {
		struct pending *p = (void *)(uintptr_t)value;
		if (now >= p->deadline_ms)
			expired[n++] = p;
	}
	for (unsigned i = 0; i < n; i++)
		pending_expired(ipam, expired[i]);
}

/* ---- dispatch ---- */

void
ipam_on_frame(void *arg, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *m)
{
	struct ipam *ipam = arg;

	ueip_log_debug("set", "member %s: %s from %s", ipam->self, ueip_set_type_name(m->type), setpeer_id(peer));
	switch (m->type) {
	case UEIP_SET_ACK:		handle_ack(ipam, peer, m); break;
	case UEIP_SET_RELEASE:		handle_release(ipam, peer, conn, m); break;
	case UEIP_SET_RECOVERY:		handle_recovery(ipam, peer, conn, m); break;
	case UEIP_SET_REPORT:		handle_report(ipam, peer, m); break;
	case UEIP_SET_RECONCILED:	handle_reconciled(ipam, peer, m); break;
	case UEIP_SET_TRANSFER:		handle_transfer(ipam, peer, conn, m); break;
	case UEIP_SET_MEMBERS:		handle_members(ipam, peer, conn, m); break;
	case UEIP_SET_HANDOFF:		handle_handoff(ipam, peer, conn, m); break;
	case UEIP_SET_HANDOFF_DONE:	handle_handoff_done(ipam, peer, m); break;
	case UEIP_SET_STATS_REQ:	handle_stats_req(ipam, conn, m); break;
	case UEIP_SET_STATS:		handle_stats(ipam, peer, m); break;
	case UEIP_SET_TRANSFER_COMMIT:	handle_transfer_commit(ipam, peer, m); break;
	case UEIP_SET_TRANSFER_CHECK:	handle_transfer_check(ipam, peer, m); break;
	default:
		ueip_log_warn("set", "member %s: unexpected %s from %s", ipam->self,
			      ueip_set_type_name(m->type), setpeer_id(peer));
	}
}

void
ipam_on_out_up(void *arg, struct setpeer *peer, uint64_t peer_epoch)
{
	struct ipam *ipam = arg;

	uint64_t value;

	for (size_t pos = 0; ueip_map_next(&ipam->pending, &pos, NULL, &value);) {
		struct pending *p = (void *)(uintptr_t)value;
		if (p->kind == PEND_MEMBERS)
			members_send_pending(ipam, p);
	}
	if (peer_epoch < ipam->cur.epoch)
		send_members(ipam, peer, 0);
	if (ipam->rec.active)
		send_recovery(peer, ipam);
	else if (ipam->partial_recovery)
		ipam_recovery_start(ipam, 1, NULL, NULL);
	if (ipam->handoff_active && ipam->nhout == 0)
		send_handoff_done(peer, ipam);
	ipam_handoff_flush(ipam);
	ipam_outbox_flush(ipam);
}

void
ipam_on_out_down(void *arg, struct setpeer *peer)
{
	struct ipam *ipam = arg;
	int idx = member_index(ipam, peer);

	for (size_t i = 0; i < ipam->noutbox; i++)
		ipam->outbox[i].inflight = 0;
	/* A report from a peer we lost may predate a transfer it then took: ask everyone again. */
	if (ipam->rec.active && idx >= 0 && ((ipam->rec.reported >> idx) & 1)) {
		ueip_log_info("ipam", "member %s: lost %s after its report; restarting the round", ipam->self,
			      setpeer_id(peer));
		recovery_round(ipam);
	}
}

void
ipam_cmd_set_audit(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	if (ipam->state == IPAM_RECOVERING)
		return ipam_fail(done, ctx, UEIP_ERECOVERING, "member %s is recovering, retry", ipam->self);
	ipam_recovery_start(ipam, 1, done, ctx);
}
