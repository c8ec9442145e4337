/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: ipam internals shared by ipam.c (state, load, ownership, tick),
 * ipam_session.c (session commands) and ipam_set.c (set protocol).
 */
#ifndef UEIP_DAEMON_IPAM_INT_H
#define UEIP_DAEMON_IPAM_INT_H

#include "daemon/ipam.h"

enum ipam_state { IPAM_RECOVERING, IPAM_ACTIVE };

enum pending_kind { PEND_RELEASE, PEND_TRANSFER, PEND_MEMBERS, PEND_HANDOFF, PEND_STATS };

#define REQ_ID_BASE (1ULL << 62)	/* below: outbox ids; above: other requests */
#define REQUEST_TIMEOUT_MS 5000
#define STATS_TIMEOUT_MS 1000
#define REPORT_BATCH 512

struct pending {
	uint64_t req_id;
	enum pending_kind kind;
	char peer[UEIP_MEMBER_ID_MAX];
	int64_t deadline_ms;
	ipam_done_fn *done;
	void *ctx;
	struct ueip_session_key key;	/* TRANSFER */
	uint16_t pool_id;		/* HANDOFF */
	uint32_t chunk;			/* HANDOFF */
	unsigned waiting;		/* MEMBERS: answers still due */
	json_t *result;			/* MEMBERS: answer being built */
	unsigned ntargets;		/* MEMBERS: every other member, old and new */
	char targets[2 * UEIP_MEMBERS_MAX][UEIP_MEMBER_ID_MAX];
	uint8_t target_state[2 * UEIP_MEMBERS_MAX];	/* enum members_target */
};

struct outbox_entry {
	int64_t id;
	struct ueip_set_unit unit;
	int inflight;
	int64_t sent_ms;
};

struct quar_entry {
	uint64_t unit;
	int64_t until_ms;
};

struct handoff_out {
	uint16_t pool_id;
	uint32_t chunk;
	uint64_t req_id;		/* 0 = not sent */
	int64_t sent_ms;
};

struct recovery {
	int active, audit;
	uint64_t round;
	int64_t started_ms, deadline_ms;
	uint32_t reported;		/* bit per index in cur membership */
	struct ueip_map seen;		/* unit key -> alloc id, from reports */
	struct ueip_map released;	/* unit key -> alloc id released during the round */
	unsigned freed, added, conflicts, stale_dropped;
	ipam_done_fn *done;
	void *ctx;
};

struct ipam_stats {
	uint64_t creates, releases, transfers_out, transfers_in, adopts;
	uint64_t releases_sent, releases_received, releases_forwarded;
	uint64_t reports_sent, recoveries, audits;
	int64_t last_recovery_ms, last_handoff_ms;
	int last_recovery_full;
	unsigned last_freed, last_added;
	uint64_t moved_chunks, total_chunks;
};

struct ipam {
	const struct ueip_config *cfg;
	struct ueip_store *st;
	struct ipam_env env;
	struct setnet *net;
	enum ipam_state state;
	char self[UEIP_MEMBER_ID_MAX];
	uint64_t incarnation;
	uint64_t alloc_seq;

	struct ueip_membership cur, prev;
	char cur_addr[UEIP_MEMBERS_MAX][UEIP_HOSTPORT_MAX];
	int self_cur, self_prev;
	int handoff_active;
	uint32_t settled;		/* bit per index in prev: HANDOFF_DONE seen */
	int64_t handoff_started_ms;
	struct ueip_map handed;		/* pool<<32|chunk -> 1: handed to us this epoch */
	struct ueip_map released_blocked; /* unit -> alloc id released while its chunk was blocked */
	struct handoff_out *hout;
	size_t nhout, hout_cap;
	int handoff_done_sent;
	/* HANDOFF_DONE that arrived before we reached its epoch: member id -> epoch */
	char early_done_id[UEIP_MEMBERS_MAX][UEIP_MEMBER_ID_MAX];
	uint64_t early_done_epoch[UEIP_MEMBERS_MAX];

	struct ueip_pool *pools[UEIP_POOLS_MAX];
	unsigned npools;
	uint64_t (*owned_chunks)[UEIP_MEMBERS_MAX];	/* per pool, per cur member */

	struct ueip_sessions sessions;
	struct ueip_map lent;		/* unit -> alloc id */
	struct ueip_map quar;		/* unit -> until ms */
	struct ueip_map statics;	/* unit -> index in cfg->statics */
	struct quar_entry *qfifo;
	size_t qhead, qtail, qcap;

	struct outbox_entry *outbox;
	size_t noutbox, outbox_cap;

	struct ueip_map pending;	/* req id -> struct pending * */
	struct ueip_session_key *unconf;	/* sessions transferred in, not confirmed yet */
	size_t nunconf, unconf_cap;
	uint64_t next_req;

	/* peers reconciling: member index in cur -> id of their connection to us (0: none) */
	uint64_t fence_conn[UEIP_MEMBERS_MAX];
	uint64_t fence_round[UEIP_MEMBERS_MAX];

	struct recovery rec;
	int partial_recovery;		/* a recovery finished without every peer */
	struct ipam_stats stats;
	unsigned nue_pools;		/* pools[0..nue_pools) serve sessions; the rest are public */
	void (*gone_fn)(void *arg, const struct ueip_session *s);
	void *gone_arg;
};

/* ipam_session.c: free one unit of a leaving session; forget a session whose row is deleted. */
void ipam_release_unit(struct ipam *ipam, const struct ueip_session *s, const struct ueip_holding *h);
void ipam_drop_session(struct ipam *ipam, struct ueip_session *s);

/* A session leaves this member (released, transferred away, a stale copy dropped). */
void ipam_session_gone(struct ipam *ipam, const struct ueip_session *s);

/* ipam.c */
int64_t ipam_now(struct ipam *ipam);
int ipam_batch(struct ipam *ipam);
struct ueip_pool *ipam_pool_by_name(struct ipam *ipam, const char *name);
int ipam_unit_owned(struct ipam *ipam, uint16_t pool_id, uint64_t index);	/* enum ueip_chunk_owner */
int ipam_owner_index(struct ipam *ipam, uint16_t pool_id, uint64_t index);	/* in cur */
void ipam_reown_all(struct ipam *ipam);
void ipam_quarantine(struct ipam *ipam, uint16_t pool_id, uint64_t index);
int ipam_lent_set(struct ipam *ipam, uint16_t pool_id, uint64_t index, uint64_t alloc_id);
int ipam_lent_drop(struct ipam *ipam, uint16_t pool_id, uint64_t index);
int ipam_outbox_add(struct ipam *ipam, const struct ueip_set_unit *u);
void ipam_outbox_flush(struct ipam *ipam);
void ipam_to_wire(struct ipam *ipam, const struct ueip_session *s, struct ueip_set_session *w);
int ipam_from_wire(struct ipam *ipam, const struct ueip_set_session *w, struct ueip_session *s);
int ipam_persist_session(struct ipam *ipam, const struct ueip_session *s);
json_t *ipam_session_json(struct ipam *ipam, const struct ueip_session *s);
struct pending *ipam_pending_new(struct ipam *ipam, enum pending_kind kind, const char *peer);
void ipam_pending_free(struct ipam *ipam, struct pending *p);
int ipam_member_up(struct ipam *ipam, const char *id);
void ipam_apply_membership(struct ipam *ipam, const struct ueip_membership *m,
			   char addrs[][UEIP_HOSTPORT_MAX], int from_store);
void ipam_membership_save(struct ipam *ipam);
void ipam_early_done_note(struct ipam *ipam, const char *id, uint64_t epoch);

/* This member's figures for one pool (the chunks it owns); owned units to *owned if not NULL. */
void ipam_pool_figures(struct ipam *ipam, const struct ueip_pool *pool, struct ueip_set_poolstat *out,
		       uint64_t *owned);

/* Set used/quarantined/static/free of one member's entry in pool-stats. */
void ipam_poolstat_json(json_t *entry, const struct ueip_set_poolstat *f);

/* ipam_set.c */
/* Ask every reachable peer for its figures, fill them into result's pools[].members[], answer. */
void ipam_stats_collect(struct ipam *ipam, json_t *result, ipam_done_fn *done, void *ctx);
void ipam_recovery_start(struct ipam *ipam, int audit, ipam_done_fn *done, void *ctx);
/* Ask every peer again under a new round number (epoch changed, a reporter was lost). */
void ipam_recovery_restart(struct ipam *ipam);
void ipam_handoff_plan(struct ipam *ipam);
void ipam_handoff_flush(struct ipam *ipam);
int ipam_fenced(struct ipam *ipam, uint16_t pool_id, uint64_t index);
void ipam_pending_expire(struct ipam *ipam);
void ipam_recovery_tick(struct ipam *ipam);
/* Ask the senders of unconfirmed transferred-in sessions whether they let go. */
void ipam_unconfirmed_tick(struct ipam *ipam);
int ipam_unconfirmed_add(struct ipam *ipam, const struct ueip_session_key *key);

/* Helpers to answer a command. */
void ipam_fail(ipam_done_fn *done, void *ctx, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
