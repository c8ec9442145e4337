/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: ipam — UE addresses for an SMF set (seed 003)
 *
 * The module that ties pools, sessions, the store and the set protocol
 * together. What this member knows, durably:
 *
 *   sessions    it controls (table sessions)
 *   lent        units of chunks it owns held by sessions another member controls
 *   quarantine  units of its chunks released but not reusable yet
 *   outbox      releases of units of other members' chunks, until acknowledged
 *   membership  the member list and epoch (meta)
 *
 * From those it rebuilds, at start, the usage bitmap of every chunk it owns:
 * own sessions + lent + quarantine + static reservations. That view is
 * conservative on its own (nothing held is ever seen free); the recovery
 * round with the peers then frees what was released while this member was
 * down and repairs drift.
 *
 * Member life:
 *
 *   RECOVERING --all peers reported, or recovery timeout--> ACTIVE
 *   ACTIVE --set-audit--> ACTIVE (audit round running; allocation goes on)
 *
 * While RECOVERING it answers session requests with UEIP_ERECOVERING.
 *
 * Requests from the control interface are carried out against memory at
 * once; their store writes join the current batch and the answer is sent
 * by the daemon only after the batch committed (ipam_defer).
 */
#ifndef UEIP_DAEMON_IPAM_H
#define UEIP_DAEMON_IPAM_H

#include <jansson.h>
#include <stdint.h>

#include "core/session.h"
#include "daemon/config.h"
#include "net/setpeer.h"
#include "store/store.h"

struct ipam;

/* What ipam needs from the daemon around it. */
struct ipam_env {
	int64_t (*now_ms)(void *arg);		/* wall clock, ms */
	/* Make sure a store batch is open; the daemon commits it at the end of the loop turn. */
	int (*batch)(void *arg);
	/* Run fn(ctx, rc) after the current batch committed (rc = commit result). */
	int (*defer)(void *arg, void (*fn)(void *ctx, int rc), void *ctx);
	void *arg;
};

/* An answer to a control request that may only come later (set round trips). */
typedef void ipam_done_fn(void *ctx, int rc, json_t *result, const char *text);

int ipam_new(const struct ueip_config *cfg, struct ueip_store *st, const struct ipam_env *env,
	     struct ipam **out, char *why, size_t why_size);
void ipam_free(struct ipam *ipam);
/* Connect to the set and start the recovery round. */
void ipam_start(struct ipam *ipam, struct setnet *net);
uint64_t ipam_epoch(const struct ipam *ipam);
/* This member's set-peer address in the current membership, or NULL. */
const char *ipam_self_address(const struct ipam *ipam);
uint64_t ipam_incarnation(const struct ipam *ipam);
/*
 * Apply a reloaded configuration's reloadable part (statics, quarantine,
 * recovery timeout, log level) by copying it into cfg, the config ipam runs
 * on. The caller checked it with ueip_config_reload_check. 0 or UEIP_ECONFIG.
 */
int ipam_reload(struct ipam *ipam, struct ueip_config *cfg, const struct ueip_config *next,
		char *why, size_t why_size);
/* Periodic work: quarantine expiry, retries, time-outs. Call every ~100 ms. */
void ipam_tick(struct ipam *ipam);

/* Set peer hooks (see setpeer.h). */
void ipam_on_frame(void *arg, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *msg);
void ipam_on_out_up(void *arg, struct setpeer *peer, uint64_t peer_epoch);
void ipam_on_out_down(void *arg, struct setpeer *peer);
void ipam_on_in_down(void *arg, struct setpeer *peer, struct setconn *conn);

/* Control commands: each takes the request arguments and answers through done. */
void ipam_cmd_session_create(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_session_release(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_session_get(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_session_list(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_session_transfer(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_session_adopt(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_pool_stats(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_set_status(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_set_members(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
void ipam_cmd_set_audit(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);

/*
 * Holdings for the public module (seed 000). A public address is held like a
 * session's address, by a record in a reserved DNN ("<pool>.public" +
 * UEIP_RESERVED_DNN_SUFFIX), so chunk ownership, release on a non-owner,
 * recovery and audit cover public pools with no new set messages. Session
 * creation refuses reserved DNNs.
 */
#define UEIP_RESERVED_DNN_SUFFIX ".ueip.invalid"
int ipam_dnn_reserved(const char *dnn);
/* 1 when the member serves requests (not recovering). */
int ipam_active(const struct ipam *ipam);
/* The UE session (not a reserved holding) whose IPv4 address is addr (host order), or NULL. */
const struct ueip_session *ipam_session_by_v4(struct ipam *ipam, uint32_t addr);
const struct ueip_session *ipam_session_find(struct ipam *ipam, const struct ueip_session_key *key);
/* IPv4 address of a session's v4 holding (host order); 0 if none. */
uint32_t ipam_session_v4(struct ipam *ipam, const struct ueip_session *s);
/*
 * Hold one address of public pool `pool` under key (want = 0: any free one
 * this member owns; else that address, UEIP_EINUSE if held or not ours to
 * give). The record joins the current store batch. 0 and *addr,
 * UEIP_EEXHAUSTED, UEIP_ENOTFOUND (no such pool), UEIP_ERECOVERING,
 * UEIP_ECONFLICT (key holds already), UEIP_ESTORE.
 */
int ipam_hold(struct ipam *ipam, const struct ueip_session_key *key, const char *pool, uint32_t want,
	      uint32_t *addr);
/* Let a holding go (the unit is freed here or by its owner). 0 or UEIP_ENOTFOUND. */
int ipam_unhold(struct ipam *ipam, const struct ueip_session_key *key);
/* Called for every session that leaves this member. */
void ipam_set_gone_hook(struct ipam *ipam, void (*fn)(void *arg, const struct ueip_session *s),
			void *arg);

/* Prometheus text exposition of the module's figures, appended to out (cap'd by caller). */
void ipam_metrics(struct ipam *ipam, struct ueip_buf *out);

#endif
