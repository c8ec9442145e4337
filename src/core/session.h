/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: sessions
 *
 * A session is a PDU session of one UE: (SUPI, DNN, S-NSSAI, PDU session id)
 * holding an IPv4 address and/or an IPv6 prefix, each named as (pool id,
 * unit index). alloc_id names the allocation itself: it is unique per
 * allocation, travels with transfers, and lets an owner tell a genuine
 * release from a stale duplicate. gen grows by one on every change of
 * controller, so of two copies of a session the higher gen wins.
 *
 * The table indexes sessions by key (64-bit hash, chained on collision) and
 * by held unit. It owns the sessions inserted into it.
 */
#ifndef UEIP_CORE_SESSION_H
#define UEIP_CORE_SESSION_H

#include <stdint.h>

#include "core/hash.h"
#include "core/owner.h"
#include "core/pool.h"

#define UEIP_SUPI_MAX 64

enum ueip_ip_type { UEIP_IP_V4 = 1, UEIP_IP_V6 = 2, UEIP_IP_V4V6 = 3 };

struct ueip_session_key {
	char supi[UEIP_SUPI_MAX];
	char dnn[UEIP_DNN_MAX];
	char snssai[UEIP_SNSSAI_MAX];
	uint8_t psi;			/* PDU session id, 1..15 */
};

struct ueip_holding {
	uint8_t present;
	uint16_t pool_id;
	uint64_t index;
};

struct ueip_session {
	struct ueip_session_key key;
	uint8_t ip_type;
	uint8_t is_static;
	struct ueip_holding v4, v6;
	uint64_t alloc_id;
	uint64_t gen;
	int64_t created_ms;
	char prev[UEIP_MEMBER_ID_MAX];	/* previous controller, "" if created here */
	uint8_t busy;			/* a transfer of it is in flight or undecided */
	uint8_t unconfirmed;		/* transferred in; usable once the sender confirms it let go */
	int64_t checked_ms;		/* unconfirmed: when the sender was last asked */
	uint64_t key_hash;
	struct ueip_session *hash_next;
};

struct ueip_sessions {
	struct ueip_map by_key;		/* key hash -> first session of the chain */
	struct ueip_map by_unit;	/* ueip_unit_key -> session */
	uint64_t count;
};

/* Validate each field; 0 or UEIP_EINVAL. */
int ueip_session_key_check(const struct ueip_session_key *key);
int ueip_snssai_check(const char *snssai);
int ueip_ip_type_parse(const char *text, enum ueip_ip_type *out);
const char *ueip_ip_type_name(enum ueip_ip_type type);
uint64_t ueip_session_key_hash(const struct ueip_session_key *key);
int ueip_session_key_equal(const struct ueip_session_key *a, const struct ueip_session_key *b);
/* "supi/dnn/snssai/psi", for logs. */
void ueip_session_key_format(const struct ueip_session_key *key, char *buf, size_t size);

void ueip_sessions_init(struct ueip_sessions *t);
void ueip_sessions_deinit(struct ueip_sessions *t);	/* frees every session */
struct ueip_session *ueip_sessions_find(const struct ueip_sessions *t,
					const struct ueip_session_key *key);
/* Takes ownership on success. 0, UEIP_ECONFLICT (key or unit present), UEIP_ENOMEM. */
int ueip_sessions_insert(struct ueip_sessions *t, struct ueip_session *s);
/* Unlinks s (the caller frees it). */
void ueip_sessions_remove(struct ueip_sessions *t, struct ueip_session *s);
struct ueip_session *ueip_sessions_by_unit(const struct ueip_sessions *t, uint64_t unit_key);
/* Visit every session; stop early when fn returns non-zero (that value is returned). */
int ueip_sessions_each(const struct ueip_sessions *t,
		       int (*fn)(struct ueip_session *s, void *arg), void *arg);

#endif
