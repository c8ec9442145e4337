// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: data path, the generic part
 *
 * Every mapping given to ueip_dp_add() becomes a record in one array
 * (struct dp_rec, compact: filters live in a separate block only when a
 * mapping has some). Freed records go on a free list, so the array never
 * grows past the most mappings ever held at once.
 *
 * Each record has two keys (dp.h). index[0] and index[1] are ueip_maps from
 * a 64-bit hash of the key to the first record of a chain of records whose
 * key hashes alike (rec->next[slot]); the chains are almost always one
 * record long, but a PEER key is 104 bits, so a hash can clash and the
 * chain keeps the answer exact. A record is in the index from its add until
 * its delete is committed.
 *
 * A record's state says where it stands:
 *
 *     add()           commit()              del()             commit()
 *   -------> ADDING ----------> INSTALLED --------> DELETING ----------> freed
 *              |                                       |
 *              +--- del() or discard() -> freed        +--- discard() -> INSTALLED
 *
 * The pending view (what add/del check against) is ADDING + INSTALLED; the
 * installed view (each, stats.mappings) is INSTALLED + DELETING. The queue
 * lists the records with a change in order; a cancelled add leaves a hole
 * (rec = REC_NONE) that commit skips and a full queue compacts.
 *
 * ueip_dp_commit() hands the changes to the backend's apply() as one array
 * and, only if it succeeds, moves the records on. A key can be deleted and
 * added again in one queue (a changed mapping), never added twice, so the
 * backend may apply the deletes first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "dataplane/dp.h"

#define REC_NONE UINT32_MAX
#define QUEUE_KEEP 4096		/* queue capacity kept across commits */

enum rec_state { REC_FREE, REC_ADDING, REC_INSTALLED, REC_DELETING };

struct dp_rec {
	uint32_t internal, external, remote;
	uint16_t internal_port, external_port, remote_port;
	uint8_t kind, proto, nfilters, state;
	uint32_t next[2];	/* chain per key; a FREE record: next[0] is the free list */
	uint32_t qpos;		/* its queue entry, or REC_NONE */
	struct ueip_dp_filter *filters;
};

struct dp_change {
	uint32_t rec;		/* REC_NONE: a cancelled add */
	uint8_t add;
};

/* A key, normalised: tag = kind * 2 + slot. */
struct dp_key {
	uint8_t tag, proto;
	uint16_t p1, p2;
	uint32_t a1, a2;
};

struct ueip_dp {
	const struct ueip_dp_ops *ops;
	void *state;
	struct ueip_dp_config cfg;
	struct dp_rec *recs;
	size_t nrecs, recs_cap;
	uint32_t free_head;
	size_t live;			/* records not FREE */
	struct ueip_map index[2];
	struct dp_change *queue;
	size_t nqueue, queue_cap;	/* entries, holes included */
	size_t queued;			/* live entries */
	uint64_t installed, commits, commit_errors, last_commit_us;
};

static void
why_set(char *why, size_t size, const char *fmt, const char *arg)
{
	if (why && size)
		snprintf(why, size, fmt, arg);
}

static void
rec_key(const struct dp_rec *r, int slot, struct dp_key *k)
{
	memset(k, 0, sizeof(*k));
	k->tag = (uint8_t)(r->kind * 2 + slot);
	k->proto = r->proto;
	switch (r->kind) {
	case UEIP_DP_ONE_TO_ONE:
		k->a1 = slot ? r->external : r->internal;
		break;
	case UEIP_DP_PORT:
		k->a1 = slot ? r->internal : r->external;
		k->p1 = slot ? r->internal_port : r->external_port;
		break;
	default: /* PEER */
		k->a1 = slot ? r->external : r->internal;
		k->p1 = slot ? r->external_port : r->internal_port;
		k->a2 = r->remote;
		k->p2 = r->remote_port;
		break;
	}
}

static int
key_equal(const struct dp_key *a, const struct dp_key *b)
{
	return a->tag == b->tag && a->proto == b->proto && a->p1 == b->p1 && a->p2 == b->p2 &&
	       a->a1 == b->a1 && a->a2 == b->a2;
}

static uint64_t
key_hash(const struct dp_key *k)
{
	uint64_t w1 = k->tag | (uint64_t)k->proto << 8 | (uint64_t)k->p1 << 16 |
		      (uint64_t)k->p2 << 32;
	uint64_t h = ueip_hash_combine(w1, k->a1 | (uint64_t)k->a2 << 32);

	return h == UEIP_MAP_EMPTY ? 0 : h;
}

/* The identity of a mapping: kind and the fields it uses (not filters). */
static int
rec_same(const struct dp_rec *a, const struct dp_rec *b)
{
	return a->kind == b->kind && a->proto == b->proto && a->internal == b->internal &&
	       a->external == b->external && a->remote == b->remote &&
	       a->internal_port == b->internal_port && a->external_port == b->external_port &&
	       a->remote_port == b->remote_port;
}

static int
in_pending(const struct dp_rec *r)
{
	return r->state == REC_ADDING || r->state == REC_INSTALLED;
}

static int
in_installed(const struct dp_rec *r)
{
	return r->state == REC_INSTALLED || r->state == REC_DELETING;
}

/* Validate m and copy its used fields into r (filters not copied). */
static int
rec_from_mapping(struct dp_rec *r, const struct ueip_dp_mapping *m)
{
	memset(r, 0, sizeof(*r));
	r->kind = m->kind;
	r->internal = m->internal;
	r->external = m->external;
	if (!m->internal || !m->external || m->nfilters > UEIP_DP_FILTERS_MAX)
		return UEIP_EINVAL;
	for (unsigned i = 0; i < m->nfilters; i++)
		if (m->filters[i].prefix_len > 32)
			return UEIP_EINVAL;
	switch (m->kind) {
	case UEIP_DP_ONE_TO_ONE:
		return m->proto == 0 ? 0 : UEIP_EINVAL;
	case UEIP_DP_PORT:
	case UEIP_DP_PEER:
		if ((m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP) || !m->internal_port ||
		    !m->external_port)
			return UEIP_EINVAL;
		r->proto = m->proto;
		r->internal_port = m->internal_port;
		r->external_port = m->external_port;
		if (m->kind == UEIP_DP_PORT)
			return 0;
		if (!m->remote || !m->remote_port || m->nfilters)
			return UEIP_EINVAL;
		r->remote = m->remote;
		r->remote_port = m->remote_port;
		return 0;
	default:
		return UEIP_EINVAL;
	}
}

static void
rec_to_mapping(const struct dp_rec *r, struct ueip_dp_mapping *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = r->kind;
	m->proto = r->proto;
	m->internal = r->internal;
	m->internal_port = r->internal_port;
	m->external = r->external;
	m->external_port = r->external_port;
	m->remote = r->remote;
	m->remote_port = r->remote_port;
	m->nfilters = r->nfilters;
	if (r->nfilters)
		memcpy(m->filters, r->filters, r->nfilters * sizeof(*r->filters));
}

/* The record of the pending view with key k in slot, or REC_NONE. */
static uint32_t
index_find(const struct ueip_dp *dp, int slot, const struct dp_key *k)
{
	uint64_t head;
	struct dp_key rk;

	if (!ueip_map_get(&dp->index[slot], key_hash(k), &head))
		return REC_NONE;
	for (uint32_t i = (uint32_t)head; i != REC_NONE; i = dp->recs[i].next[slot]) {
		rec_key(&dp->recs[i], slot, &rk);
		if (in_pending(&dp->recs[i]) && key_equal(&rk, k))
			return i;
	}
	return REC_NONE;
}

static int
index_link(struct ueip_dp *dp, int slot, uint32_t ri)
{
	struct dp_key k;
	uint64_t h, head;

	rec_key(&dp->recs[ri], slot, &k);
	h = key_hash(&k);
	dp->recs[ri].next[slot] = ueip_map_get(&dp->index[slot], h, &head) ? (uint32_t)head
									 : REC_NONE;
	return ueip_map_put(&dp->index[slot], h, ri);
}

static void
index_unlink(struct ueip_dp *dp, int slot, uint32_t ri)
{
	struct dp_key k;
	uint64_t h, head;
	uint32_t *link;

	rec_key(&dp->recs[ri], slot, &k);
	h = key_hash(&k);
	if (!ueip_map_get(&dp->index[slot], h, &head))
		return;
	if ((uint32_t)head == ri) {
		if (dp->recs[ri].next[slot] == REC_NONE)
			ueip_map_del(&dp->index[slot], h);
		else	/* overwrites in place: cannot fail */
			ueip_map_put(&dp->index[slot], h, dp->recs[ri].next[slot]);
		return;
	}
	for (link = &dp->recs[head].next[slot]; *link != REC_NONE;
	     link = &dp->recs[*link].next[slot]) {
		if (*link == ri) {
			*link = dp->recs[ri].next[slot];
			return;
		}
	}
}

static int
rec_alloc(struct ueip_dp *dp, uint32_t *out)
{
	int rc;

	if (dp->live >= UEIP_DP_MAPPINGS_MAX)
		return UEIP_ETOOBIG;
	if (dp->free_head != REC_NONE) {
		*out = dp->free_head;
		dp->free_head = dp->recs[*out].next[0];
	} else {
		rc = ueip_grow((void **)&dp->recs, &dp->recs_cap, dp->nrecs, sizeof(*dp->recs));
		if (rc)
			return rc;
		*out = (uint32_t)dp->nrecs++;
	}
	dp->live++;
	return 0;
}

static void
rec_free(struct ueip_dp *dp, uint32_t ri)
{
	struct dp_rec *r = &dp->recs[ri];

	free(r->filters);
	memset(r, 0, sizeof(*r));
	r->state = REC_FREE;
	r->qpos = REC_NONE;
	r->next[0] = dp->free_head;
	dp->free_head = ri;
	dp->live--;
}

/* Unlink a record from both indexes and free it. */
static void
rec_drop(struct ueip_dp *dp, uint32_t ri)
{
	index_unlink(dp, 0, ri);
	index_unlink(dp, 1, ri);
	rec_free(dp, ri);
}

static void
queue_compact(struct ueip_dp *dp)
{
	size_t j = 0;

	for (size_t i = 0; i < dp->nqueue; i++) {
		if (dp->queue[i].rec == REC_NONE)
			continue;
		dp->queue[j] = dp->queue[i];
		dp->recs[dp->queue[j].rec].qpos = (uint32_t)j;
		j++;
	}
	dp->nqueue = j;
}

static int
queue_push(struct ueip_dp *dp, uint32_t ri, int add)
{
	int rc;

	if (dp->queued >= UEIP_DP_QUEUE_MAX)
		return UEIP_ETOOBIG;
	if (dp->nqueue >= UEIP_DP_QUEUE_MAX)
		queue_compact(dp);
	rc = ueip_grow((void **)&dp->queue, &dp->queue_cap, dp->nqueue, sizeof(*dp->queue));
	if (rc)
		return rc;
	dp->queue[dp->nqueue].rec = ri;
	dp->queue[dp->nqueue].add = (uint8_t)add;
	dp->recs[ri].qpos = (uint32_t)dp->nqueue++;
	dp->queued++;
	return 0;
}

static void
queue_cancel(struct ueip_dp *dp, uint32_t ri)
{
	uint32_t q = dp->recs[ri].qpos;

	if (q == REC_NONE)
		return;
	dp->queue[q].rec = REC_NONE;
	while (dp->nqueue && dp->queue[dp->nqueue - 1].rec == REC_NONE)
		dp->nqueue--;
	dp->recs[ri].qpos = REC_NONE;
	dp->queued--;
}

static void
queue_reset(struct ueip_dp *dp)
{
	dp->nqueue = 0;
	dp->queued = 0;
	if (dp->queue_cap > QUEUE_KEEP) {
		free(dp->queue);
		dp->queue = NULL;
		dp->queue_cap = 0;
	}
}

static int
table_name_ok(const char *t)
{
	size_t n = strnlen(t, 32);

	if (n == 0 || n > 31 || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z') ||
				  t[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

int
ueip_dp_open_ops(const struct ueip_dp_ops *ops, const struct ueip_dp_config *cfg,
		 struct ueip_dp **out, char *why, size_t why_size)
{
	struct ueip_dp *dp;
	int rc;

	*out = NULL;
	if (!ops || !cfg)
		return UEIP_EINVAL;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return UEIP_ENOMEM;
	dp->cfg = *cfg;
	dp->cfg.backend[sizeof(dp->cfg.backend) - 1] = '\0';
	if (!cfg->table[0])
		snprintf(dp->cfg.table, sizeof(dp->cfg.table), "ueip");
	if (!table_name_ok(dp->cfg.table)) {
		if (why && why_size)
			snprintf(why, why_size,
				 "dataplane table name \"%.31s\" is not [A-Za-z_][A-Za-z0-9_]{0,30}",
				 cfg->table);
		free(dp);
		return UEIP_ECONFIG;
	}
	if (cfg->nat_priority_offset < -80 || cfg->nat_priority_offset > 80) {
		if (why && why_size)
			snprintf(why, why_size, "dataplane nat_priority_offset %d is outside -80..80",
				 cfg->nat_priority_offset);
		free(dp);
		return UEIP_ECONFIG;
	}
	dp->ops = ops;
	dp->free_head = REC_NONE;
	ueip_map_init(&dp->index[0]);
	ueip_map_init(&dp->index[1]);
	rc = ops->open(&dp->cfg, &dp->state, why, why_size);
	if (rc) {
		free(dp);
		return rc;
	}
	*out = dp;
	return 0;
}

int
ueip_dp_open(const struct ueip_dp_config *cfg, struct ueip_dp **out, char *why, size_t why_size)
{
	char name[sizeof(cfg->backend) + 1];

	*out = NULL;
	snprintf(name, sizeof(name), "%.*s", (int)sizeof(cfg->backend), cfg->backend);
	if (strcmp(name, ueip_dp_null_ops.name) == 0)
		return ueip_dp_open_ops(&ueip_dp_null_ops, cfg, out, why, why_size);
#ifdef UEIP_DP_HAVE_NFT
	if (strcmp(name, ueip_dp_nft_ops.name) == 0)
		return ueip_dp_open_ops(&ueip_dp_nft_ops, cfg, out, why, why_size);
#else
	if (strcmp(name, "nft") == 0) {
		why_set(why, why_size, "%s", "the nft backend was not built (libnftables, libnftnl "
			"or libmnl missing)");
		return UEIP_EINVAL;
	}
#endif
	why_set(why, why_size, "unknown dataplane backend \"%s\" (nft or null)", name);
	return UEIP_EINVAL;
}

void
ueip_dp_close(struct ueip_dp *dp)
{
	if (!dp)
		return;
	dp->ops->close(dp->state, dp->cfg.cleanup_on_stop);
	for (size_t i = 0; i < dp->nrecs; i++)
		free(dp->recs[i].filters);
	free(dp->recs);
	free(dp->queue);
	ueip_map_deinit(&dp->index[0]);
	ueip_map_deinit(&dp->index[1]);
	free(dp);
}

const char *
ueip_dp_name(const struct ueip_dp *dp)
{
	return dp ? dp->ops->name : "none";
}

int
ueip_dp_add(struct ueip_dp *dp, const struct ueip_dp_mapping *m)
{
	struct dp_rec tmp;
	struct dp_key k0, k1;
	uint32_t ri;
	int rc;

	rc = rec_from_mapping(&tmp, m);
	if (rc)
		return rc;
	rec_key(&tmp, 0, &k0);
	rec_key(&tmp, 1, &k1);
	if (index_find(dp, 0, &k0) != REC_NONE || index_find(dp, 1, &k1) != REC_NONE)
		return UEIP_ECONFLICT;
	if (m->nfilters) {
		tmp.filters = malloc(m->nfilters * sizeof(*tmp.filters));
		if (!tmp.filters)
			return UEIP_ENOMEM;
		memcpy(tmp.filters, m->filters, m->nfilters * sizeof(*tmp.filters));
		tmp.nfilters = m->nfilters;
	}
	rc = rec_alloc(dp, &ri);
	if (rc) {
		free(tmp.filters);
		return rc;
	}
	tmp.state = REC_ADDING;
	tmp.qpos = REC_NONE;
	dp->recs[ri] = tmp;
	if ((rc = index_link(dp, 0, ri)) != 0 || (rc = index_link(dp, 1, ri)) != 0 ||
	    (rc = queue_push(dp, ri, 1)) != 0) {
		rec_drop(dp, ri);
		return rc;
	}
	return 0;
}

int
ueip_dp_del(struct ueip_dp *dp, const struct ueip_dp_mapping *m)
{
	struct dp_rec tmp;
	struct dp_key k0;
	uint32_t ri;
	int rc;

	rc = rec_from_mapping(&tmp, m);
	if (rc)
		return rc;
	rec_key(&tmp, 0, &k0);
	ri = index_find(dp, 0, &k0);
	if (ri == REC_NONE || !rec_same(&dp->recs[ri], &tmp))
		return UEIP_ENOTFOUND;
	if (dp->recs[ri].state == REC_ADDING) {
		queue_cancel(dp, ri);
		rec_drop(dp, ri);
		return 0;
	}
	rc = queue_push(dp, ri, 0);
	if (rc)
		return rc;
	dp->recs[ri].state = REC_DELETING;
	return 0;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
commit_done(struct ueip_dp *dp)
{
	for (size_t i = 0; i < dp->nqueue; i++) {
		uint32_t ri = dp->queue[i].rec;

		if (ri == REC_NONE)
			continue;
		dp->recs[ri].qpos = REC_NONE;
		if (dp->queue[i].add) {
			dp->recs[ri].state = REC_INSTALLED;
			dp->installed++;
		} else {
			rec_drop(dp, ri);
			dp->installed--;
		}
	}
	queue_reset(dp);
}

int
ueip_dp_commit(struct ueip_dp *dp, char *why, size_t why_size)
{
	struct ueip_dp_mapping *m;
	uint8_t *add;
	size_t n = 0;
	uint64_t t0;
	int rc;

	if (why && why_size)
		why[0] = '\0';
	if (!dp->queued) {
		queue_reset(dp);
		return 0;
	}
	m = malloc(dp->queued * sizeof(*m));
	add = malloc(dp->queued);
	if (!m || !add) {
		free(m);
		free(add);
		why_set(why, why_size, "%s", "out of memory building the commit");
		return UEIP_ENOMEM;
	}
	for (size_t i = 0; i < dp->nqueue; i++) {
		if (dp->queue[i].rec == REC_NONE)
			continue;
		rec_to_mapping(&dp->recs[dp->queue[i].rec], &m[n]);
		add[n++] = dp->queue[i].add;
	}
	t0 = now_us();
	rc = dp->ops->apply(dp->state, m, add, n, why, why_size);
	dp->last_commit_us = now_us() - t0;
	dp->commits++;
	free(m);
	free(add);
	if (rc) {
		dp->commit_errors++;
		if (why && why_size && !why[0])
			why_set(why, why_size, "%s", ueip_strerror(rc));
		ueip_log_warn("dp", "%s: commit of %zu changes failed: %s", dp->ops->name, n,
			      why && why_size ? why : ueip_strerror(rc));
		return rc;
	}
	commit_done(dp);
	return 0;
}

void
ueip_dp_discard(struct ueip_dp *dp)
{
	for (size_t i = 0; i < dp->nqueue; i++) {
		uint32_t ri = dp->queue[i].rec;

		if (ri == REC_NONE)
			continue;
		dp->recs[ri].qpos = REC_NONE;
		if (dp->queue[i].add)
			rec_drop(dp, ri);
		else
			dp->recs[ri].state = REC_INSTALLED;
	}
	queue_reset(dp);
}

void
ueip_dp_stats(const struct ueip_dp *dp, struct ueip_dp_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->mappings = dp->installed;
	out->queued = dp->queued;
	out->commits = dp->commits;
	out->commit_errors = dp->commit_errors;
	out->last_commit_us = dp->last_commit_us;
}

int
ueip_dp_each(const struct ueip_dp *dp, int (*fn)(const struct ueip_dp_mapping *m, void *arg),
	     void *arg)
{
	struct ueip_dp_mapping m;
	int rc;

	for (size_t i = 0; i < dp->nrecs; i++) {
		if (!in_installed(&dp->recs[i]))
			continue;
		rec_to_mapping(&dp->recs[i], &m);
		rc = fn(&m, arg);
		if (rc)
			return rc;
	}
	return 0;
}
