// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: public mappings — see mapping.h for the indexes and the expiry heap.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mapping.h"

uint64_t
ueip_mapping_endpoint_key(uint32_t addr, uint8_t proto, uint16_t port)
{
	return (uint64_t)addr << 32 | (uint64_t)proto << 16 | port;
}

uint64_t
ueip_mapping_internal_key(const struct ueip_mapping *m)
{
	uint64_t k = ueip_mapping_endpoint_key(m->internal, m->proto, m->internal_port);

	if (m->kind != UEIP_MAP_PEER)
		return k;
	/* A PEER mapping is one of several per internal endpoint: its key includes the remote.
	 * Bit 63 set keeps it apart from the plain endpoint keys (addresses below 128.0.0.0
	 * would otherwise collide with them only by hash accident; the caller compares). */
	k = ueip_hash_combine(k, ueip_mapping_endpoint_key(m->remote, m->proto, m->remote_port));
	k |= 1ULL << 63;
	return k == UEIP_MAP_EMPTY ? k - 1 : k;
}

uint64_t
ueip_mapping_external_key(const struct ueip_mapping *m)
{
	return ueip_mapping_endpoint_key(m->external, m->proto, m->external_port);
}

void
ueip_mappings_init(struct ueip_mappings *t)
{
	memset(t, 0, sizeof(*t));
	ueip_map_init(&t->by_id);
	ueip_map_init(&t->by_internal);
	ueip_map_init(&t->by_external);
	ueip_map_init(&t->per_ue);
	t->next_id = 1;
}

void
ueip_mappings_deinit(struct ueip_mappings *t)
{
	uint64_t k, v;

	for (size_t i = 0; ueip_map_next(&t->by_id, &i, &k, &v);)
		free((void *)(uintptr_t)v);
	ueip_map_deinit(&t->by_id);
	ueip_map_deinit(&t->by_internal);
	ueip_map_deinit(&t->by_external);
	ueip_map_deinit(&t->per_ue);
	free(t->heap);
	memset(t, 0, sizeof(*t));
}

static struct ueip_mapping_counts
counts_unpack(uint64_t v)
{
	return (struct ueip_mapping_counts){ (uint32_t)(v >> 32), (uint32_t)v };
}

static uint64_t
counts_pack(struct ueip_mapping_counts c)
{
	return (uint64_t)c.dedicated << 32 | c.ports;
}

struct ueip_mapping_counts
ueip_mappings_counts(const struct ueip_mappings *t, uint32_t internal)
{
	uint64_t v = 0;

	ueip_map_get(&t->per_ue, internal, &v);
	return counts_unpack(v);
}

static int
counts_add(struct ueip_mappings *t, const struct ueip_mapping *m, int delta)
{
	struct ueip_mapping_counts c = ueip_mappings_counts(t, m->internal);

	if (m->kind == UEIP_MAP_DEDICATED)
		c.dedicated += (uint32_t)delta;
	else
		c.ports += (uint32_t)delta;
	if (!c.dedicated && !c.ports) {
		ueip_map_del(&t->per_ue, m->internal);
		return 0;
	}
	return ueip_map_put(&t->per_ue, m->internal, counts_pack(c));
}

/* Min-heap on expires_ms. */
static void
heap_swap(struct ueip_mapping_heap_entry *h, size_t a, size_t b)
{
	struct ueip_mapping_heap_entry x = h[a];

	h[a] = h[b];
	h[b] = x;
}

static void
heap_up(struct ueip_mapping_heap_entry *h, size_t i)
{
	while (i && h[(i - 1) / 2].expires_ms > h[i].expires_ms) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct ueip_mapping_heap_entry *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && h[l].expires_ms < h[m].expires_ms)
			m = l;
		if (r < n && h[r].expires_ms < h[m].expires_ms)
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

/* Whether a heap entry still describes its mapping's expiry. */
static int
heap_entry_live(const struct ueip_mappings *t, const struct ueip_mapping_heap_entry *e)
{
	const struct ueip_mapping *m = ueip_mappings_get(t, e->id);

	return m && m->expires_ms == e->expires_ms;
}

/* Drop stale entries and re-heapify: O(n), done when stale entries outnumber live ones. */
static void
heap_compact(struct ueip_mappings *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nheap; i++)
		if (heap_entry_live(t, &t->heap[i]))
			t->heap[n++] = t->heap[i];
	t->nheap = n;
	for (size_t i = n / 2; i-- > 0;)
		heap_down(t->heap, n, i);
}

static int
heap_push(struct ueip_mappings *t, int64_t expires_ms, uint64_t id)
{
	if (t->nheap >= 2 * t->count + 64)
		heap_compact(t);
	if (ueip_grow((void **)&t->heap, &t->heap_cap, t->nheap, sizeof(*t->heap)))
		return UEIP_ENOMEM;
	t->heap[t->nheap] = (struct ueip_mapping_heap_entry){ expires_ms, id };
	heap_up(t->heap, t->nheap++);
	return 0;
}

static void
heap_pop(struct ueip_mappings *t)
{
	t->heap[0] = t->heap[--t->nheap];
	heap_down(t->heap, t->nheap, 0);
}

int
ueip_mappings_insert(struct ueip_mappings *t, struct ueip_mapping *m)
{
	uint64_t ik = ueip_mapping_internal_key(m), ek = ueip_mapping_external_key(m);
	int index_external = m->kind != UEIP_MAP_PEER;

	if (ueip_map_get(&t->by_internal, ik, NULL) ||
	    (index_external && ueip_map_get(&t->by_external, ek, NULL)))
		return UEIP_ECONFLICT;
	if (!m->id)
		m->id = t->next_id;
	if (m->id >= t->next_id)
		t->next_id = m->id + 1;
	if (ueip_map_get(&t->by_id, m->id, NULL))
		return UEIP_ECONFLICT;
	if (ueip_map_put(&t->by_id, m->id, (uint64_t)(uintptr_t)m))
		return UEIP_ENOMEM;
	if (ueip_map_put(&t->by_internal, ik, m->id) ||
	    (index_external && ueip_map_put(&t->by_external, ek, m->id)) ||
	    counts_add(t, m, 1) || heap_push(t, m->expires_ms, m->id)) {
		ueip_map_del(&t->by_id, m->id);
		ueip_map_del(&t->by_internal, ik);
		if (index_external)
			ueip_map_del(&t->by_external, ek);
		return UEIP_ENOMEM;
	}
	t->count++;
	return 0;
}

void
ueip_mappings_remove(struct ueip_mappings *t, struct ueip_mapping *m)
{
	if (!ueip_map_del(&t->by_id, m->id))
		return;
	ueip_map_del(&t->by_internal, ueip_mapping_internal_key(m));
	if (m->kind != UEIP_MAP_PEER)
		ueip_map_del(&t->by_external, ueip_mapping_external_key(m));
	counts_add(t, m, -1);
	t->count--;
	/* its heap entries go stale and are skipped */
}

struct ueip_mapping *
ueip_mappings_get(const struct ueip_mappings *t, uint64_t id)
{
	uint64_t v;

	return ueip_map_get(&t->by_id, id, &v) ? (struct ueip_mapping *)(uintptr_t)v : NULL;
}

struct ueip_mapping *
ueip_mappings_by_internal(const struct ueip_mappings *t, uint64_t key)
{
	uint64_t id;

	return ueip_map_get(&t->by_internal, key, &id) ? ueip_mappings_get(t, id) : NULL;
}

struct ueip_mapping *
ueip_mappings_by_external(const struct ueip_mappings *t, uint64_t key)
{
	uint64_t id;

	return ueip_map_get(&t->by_external, key, &id) ? ueip_mappings_get(t, id) : NULL;
}

int
ueip_mappings_set_expiry(struct ueip_mappings *t, struct ueip_mapping *m, int64_t expires_ms)
{
	if (m->expires_ms == expires_ms)
		return 0;
	m->expires_ms = expires_ms;
	return heap_push(t, expires_ms, m->id);
}

struct ueip_mapping *
ueip_mappings_pop_expired(struct ueip_mappings *t, int64_t now_ms)
{
	while (t->nheap && t->heap[0].expires_ms <= now_ms) {
		struct ueip_mapping_heap_entry e = t->heap[0];
		heap_pop(t);
		if (heap_entry_live(t, &e))
			return ueip_mappings_get(t, e.id);
	}
	return NULL;
}

int
ueip_mappings_each(const struct ueip_mappings *t, int (*fn)(struct ueip_mapping *m, void *arg),
		   void *arg)
{
	uint64_t k, v;
	int rc;

	for (size_t i = 0; ueip_map_next(&t->by_id, &i, &k, &v);)
		if ((rc = fn((struct ueip_mapping *)(uintptr_t)v, arg)))
			return rc;
	return 0;
}

const char *
ueip_mapping_kind_name(int kind)
{
	switch (kind) {
	case UEIP_MAP_DEDICATED: return "dedicated";
	case UEIP_MAP_PORT: return "port";
	case UEIP_MAP_PEER: return "peer";
	default: return "unknown";
	}
}
