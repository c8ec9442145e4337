/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: store (SQLite, WAL)
 *
 * One database file per ueipd. Tables (schema version in meta.schema_version,
 * migrated on open):
 *
 *   meta(key, value)           member id, set id, membership, incarnation
 *   sessions(supi, dnn, snssai, psi, ...)   the sessions this member controls
 *   lent(pool, idx, alloc_id)  units of chunks this member owns that are held
 *                              by sessions another member controls
 *   quarantine(pool, idx, until_ms)   released units not yet reusable
 *   outbox(id, pool, idx, alloc_id, ...)  releases to deliver to a chunk owner
 *   pcp_mappings(id, kind, ...)  public mappings (v2), one row per mapping
 *   pcp_clients(address, port, via)  every client that held a mapping, to be
 *                              told (ANNOUNCE) if mapping state is ever lost
 *
 * The caller groups writes: ueip_store_begin(), any number of writes,
 * ueip_store_commit(). With journal_mode=WAL and synchronous=FULL the commit
 * returns after the WAL is fsynced, so whatever the caller acknowledges after
 * it survives a crash. One commit carries all the requests of one loop turn
 * (group commit). Readers (ueip_store_each_*) run outside a write batch.
 */
#ifndef UEIP_STORE_STORE_H
#define UEIP_STORE_STORE_H

#include <stdint.h>

#include "core/mapping.h"
#include "proto/setframe.h"

#define UEIP_STORE_SCHEMA_VERSION 2

struct ueip_store;

struct ueip_store_session {
	struct ueip_set_session s;
	char v4_addr[UEIP_ADDR_STRLEN];
	char v6_prefix[UEIP_ADDR_STRLEN];
	uint8_t unconfirmed;		/* transferred in, sender not yet confirmed */
};

/* Open or create; sets WAL, migrates. 0, UEIP_ESTORE (why filled), UEIP_ENOMEM. */
int ueip_store_open(const char *path, struct ueip_store **out, char *why, size_t why_size);
void ueip_store_close(struct ueip_store *st);
const char *ueip_store_errmsg(struct ueip_store *st);

int ueip_store_begin(struct ueip_store *st);
int ueip_store_commit(struct ueip_store *st);
int ueip_store_in_batch(const struct ueip_store *st);

int ueip_store_meta_set(struct ueip_store *st, const char *key, const char *value);
/* 0, UEIP_ENOTFOUND, UEIP_ESTORE. */
int ueip_store_meta_get(struct ueip_store *st, const char *key, char *out, size_t size);

int ueip_store_session_put(struct ueip_store *st, const struct ueip_store_session *s);
int ueip_store_session_del(struct ueip_store *st, const struct ueip_session_key *key);
int ueip_store_lent_put(struct ueip_store *st, const char *pool, uint64_t idx, uint64_t alloc_id);
int ueip_store_lent_del(struct ueip_store *st, const char *pool, uint64_t idx);
int ueip_store_quar_put(struct ueip_store *st, const char *pool, uint64_t idx, int64_t until_ms);
int ueip_store_quar_del(struct ueip_store *st, const char *pool, uint64_t idx);
int ueip_store_quar_expire(struct ueip_store *st, int64_t now_ms);
int ueip_store_outbox_put(struct ueip_store *st, const struct ueip_set_unit *u, int64_t *id);
int ueip_store_outbox_del(struct ueip_store *st, int64_t id);

/* Visitors: stop when fn returns non-zero and return that value. */
int ueip_store_each_session(struct ueip_store *st,
			    int (*fn)(const struct ueip_store_session *s, void *arg), void *arg);
int ueip_store_each_lent(struct ueip_store *st,
			 int (*fn)(const char *pool, uint64_t idx, uint64_t alloc_id, void *arg), void *arg);
int ueip_store_each_quar(struct ueip_store *st,
			 int (*fn)(const char *pool, uint64_t idx, int64_t until_ms, void *arg), void *arg);
int ueip_store_each_outbox(struct ueip_store *st,
			   int (*fn)(int64_t id, const struct ueip_set_unit *u, void *arg), void *arg);
/* Sessions in key order strictly after `after` (NULL: from the start), at most limit. */
int ueip_store_list_sessions(struct ueip_store *st, const struct ueip_session_key *after,
			     unsigned limit,
			     int (*fn)(const struct ueip_store_session *s, void *arg), void *arg);

/* Public mappings (schema v2). put inserts or replaces by id; renew writes expiry and client. */
int ueip_store_mapping_put(struct ueip_store *st, const struct ueip_mapping *m);
int ueip_store_mapping_renew(struct ueip_store *st, const struct ueip_mapping *m);
int ueip_store_mapping_del(struct ueip_store *st, uint64_t id);
int ueip_store_each_mapping(struct ueip_store *st, int (*fn)(const struct ueip_mapping *m, void *arg),
			    void *arg);
int ueip_store_pcp_client_put(struct ueip_store *st, uint32_t address, uint16_t port, int via);
int ueip_store_pcp_clients_clear(struct ueip_store *st);
int ueip_store_each_pcp_client(struct ueip_store *st,
			       int (*fn)(uint32_t address, uint16_t port, int via, void *arg), void *arg);

#endif
