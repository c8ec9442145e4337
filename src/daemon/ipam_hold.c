// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: ipam holdings for other modules
 *
 * The public module (seed 000) holds public addresses through the same
 * records as sessions: a holding is a session of one IPv4 unit in a reserved
 * DNN, so every guarantee of the set (one holder per unit, release on a
 * non-owner, recovery, audit, adoption) covers public pools too. Lookups of
 * a UE by its address go through the unit index of the session table.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/ipam_int.h"

int
ipam_dnn_reserved(const char *dnn)
{
	size_t n = strlen(dnn), k = strlen(UEIP_RESERVED_DNN_SUFFIX);

	return n >= k && strcmp(dnn + n - k, UEIP_RESERVED_DNN_SUFFIX) == 0;
}

int
ipam_active(const struct ipam *ipam)
{
	return ipam->state == IPAM_ACTIVE;
}

void
ipam_set_gone_hook(struct ipam *ipam, void (*fn)(void *arg, const struct ueip_session *s), void *arg)
{
	ipam->gone_fn = fn;
	ipam->gone_arg = arg;
}

void
ipam_session_gone(struct ipam *ipam, const struct ueip_session *s)
{
	if (ipam->gone_fn)
		ipam->gone_fn(ipam->gone_arg, s);
}

const struct ueip_session *
ipam_session_find(struct ipam *ipam, const struct ueip_session_key *key)
{
	return ueip_sessions_find(&ipam->sessions, key);
}

const struct ueip_session *
ipam_session_by_v4(struct ipam *ipam, uint32_t addr)
{
	struct ueip_addr a;
	uint64_t index;

	ueip_addr_set_v4(&a, addr);
	for (unsigned p = 0; p < ipam->nue_pools; p++) {
		struct ueip_pool *pool = ipam->pools[p];
		if (pool->def.base.family != UEIP_AF_INET || !ueip_pool_contains(pool, &a, &index))
			continue;
		return ueip_sessions_by_unit(&ipam->sessions, ueip_unit_key(pool->id, index));
	}
	return NULL;
}

uint32_t
ipam_session_v4(struct ipam *ipam, const struct ueip_session *s)
{
	struct ueip_addr a;

	if (!s->v4.present)
		return 0;
	ueip_pool_addr(ipam->pools[s->v4.pool_id], s->v4.index, &a);
	return (uint32_t)ueip_addr_v4(&a);
}

static struct ueip_pool *
public_pool(struct ipam *ipam, const char *name)
{
	for (unsigned p = ipam->nue_pools; p < ipam->npools; p++)
		if (strcmp(ipam->pools[p]->def.name, name) == 0)
			return ipam->pools[p];
	return NULL;
}

/* Take the wanted address if this member owns its chunk and it is free. */
static int
hold_wanted(struct ipam *ipam, struct ueip_pool *pool, uint32_t want, uint64_t *index)
{
	struct ueip_addr a;

	ueip_addr_set_v4(&a, want);
	if (!ueip_pool_contains(pool, &a, index))
		return UEIP_EOUTOFPOOL;
	if (ipam_unit_owned(ipam, pool->id, *index) != UEIP_CHUNK_MINE)
		return UEIP_EINUSE;
	return ueip_pool_mark(pool, *index);
}

int
ipam_hold(struct ipam *ipam, const struct ueip_session_key *key, const char *pool_name, uint32_t want,
	  uint32_t *addr)
{
	struct ueip_pool *pool = public_pool(ipam, pool_name);
	struct ueip_session *s;
	uint64_t index;
	int rc;

	if (!pool)
		return UEIP_ENOTFOUND;
	if (ipam->state != IPAM_ACTIVE)
		return UEIP_ERECOVERING;
	if (ueip_sessions_find(&ipam->sessions, key))
		return UEIP_ECONFLICT;
	if ((rc = want ? hold_wanted(ipam, pool, want, &index) : ueip_pool_alloc(pool, &index)))
		return rc;
	if (!(s = calloc(1, sizeof(*s)))) {
		ueip_pool_clear(pool, index);
		return UEIP_ENOMEM;
	}
	s->key = *key;
	s->ip_type = UEIP_IP_V4;
	s->v4 = (struct ueip_holding){ 1, pool->id, index };
	s->alloc_id = ueip_hash64(++ipam->alloc_seq);
	s->gen = 1;
	s->created_ms = ipam_now(ipam);
	if ((rc = ueip_sessions_insert(&ipam->sessions, s)) == 0 &&
	    (rc = ipam_persist_session(ipam, s)))
		ueip_sessions_remove(&ipam->sessions, s);
	if (rc) {
		ueip_pool_clear(pool, index);
		free(s);
		return rc;
	}
	*addr = ipam_session_v4(ipam, s);
	return 0;
}

int
ipam_unhold(struct ipam *ipam, const struct ueip_session_key *key)
{
	struct ueip_session *s = ueip_sessions_find(&ipam->sessions, key);
	int rc;

	if (!s)
		return UEIP_ENOTFOUND;
	if ((rc = ipam_batch(ipam)) || (rc = ueip_store_session_del(ipam->st, key)))
		return rc;
	ipam_drop_session(ipam, s);
	return 0;
}
