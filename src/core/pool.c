// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/pool.h"

static int
pool_def_valid(const struct ueip_pool_def *def)
{
	if (def->size == 0 || def->size > UEIP_POOL_UNITS_MAX)
		return 0;
	if (def->chunk_size < 64 || def->chunk_size > 65536 ||
	    (def->chunk_size & (def->chunk_size - 1)))
		return 0;
	return def->base.family == UEIP_AF_INET || def->base.family == UEIP_AF_INET6;
}

struct ueip_pool *
ueip_pool_new(const struct ueip_pool_def *def, uint16_t id)
{
	struct ueip_pool *pool;

	if (!pool_def_valid(def) || !(pool = calloc(1, sizeof(*pool))))
		return NULL;
	pool->def = *def;
	pool->id = id;
	pool->name_hash = ueip_hash_str(def->name, strlen(def->name));
	pool->nchunks = (uint32_t)((def->size + def->chunk_size - 1) / def->chunk_size);
	pool->words = def->chunk_size / 64;
	ueip_map_init(&pool->chunks);
	return pool;
}

void
ueip_pool_free(struct ueip_pool *pool)
{
	uint64_t value;

	if (!pool)
		return;
	for (size_t pos = 0; ueip_map_next(&pool->chunks, &pos, NULL, &value);)
		free((void *)(uintptr_t)value);
	ueip_map_deinit(&pool->chunks);
	free(pool->avail);
	free(pool);
}

void
ueip_pool_set_owner_fn(struct ueip_pool *pool, ueip_chunk_owner_fn *fn, void *arg)
{
	pool->owner_fn = fn;
	pool->owner_arg = arg;
	ueip_pool_reown(pool);
}

static enum ueip_chunk_owner
chunk_owner(const struct ueip_pool *pool, uint32_t chunk)
{
	return pool->owner_fn ? pool->owner_fn(pool->owner_arg, pool, chunk) : UEIP_CHUNK_MINE;
}

uint32_t
ueip_pool_chunk_units(const struct ueip_pool *pool, uint32_t chunk)
{
	uint64_t start = (uint64_t)chunk * pool->def.chunk_size;
	uint64_t left = pool->def.size - start;

	return left < pool->def.chunk_size ? (uint32_t)left : pool->def.chunk_size;
}

uint32_t
ueip_pool_chunk_of(const struct ueip_pool *pool, uint64_t index)
{
	return (uint32_t)(index / pool->def.chunk_size);
}

const struct ueip_chunk *
ueip_pool_chunk(const struct ueip_pool *pool, uint32_t chunk)
{
	uint64_t value;

	return ueip_map_get(&pool->chunks, chunk, &value) ? (void *)(uintptr_t)value : NULL;
}

static struct ueip_chunk *
chunk_get(struct ueip_pool *pool, uint32_t chunk)
{
	return (struct ueip_chunk *)ueip_pool_chunk(pool, chunk);
}

static int
avail_push(struct ueip_pool *pool, struct ueip_chunk *c)
{
	if (c->stack_pos != UINT32_MAX)
		return 0;
	if (pool->navail == pool->avail_cap) {
		uint32_t cap = pool->avail_cap ? pool->avail_cap * 2 : 64;
		struct ueip_chunk **grown = realloc(pool->avail, cap * sizeof(*grown));
		if (!grown)
			return UEIP_ENOMEM;
		pool->avail = grown;
		pool->avail_cap = cap;
	}
	c->stack_pos = pool->navail;
	pool->avail[pool->navail++] = c;
	return 0;
}

static void
avail_remove(struct ueip_pool *pool, struct ueip_chunk *c)
{
	uint32_t pos = c->stack_pos;

	if (pos == UINT32_MAX)
		return;
	pool->avail[pos] = pool->avail[--pool->navail];
	pool->avail[pos]->stack_pos = pos;
	c->stack_pos = UINT32_MAX;
}

static int
chunk_has_room(const struct ueip_pool *pool, const struct ueip_chunk *c)
{
	return c->used < ueip_pool_chunk_units(pool, c->idx);
}

static struct ueip_chunk *
chunk_materialise(struct ueip_pool *pool, uint32_t chunk)
{
	size_t bytes = sizeof(struct ueip_chunk) + pool->words * sizeof(uint64_t);
	struct ueip_chunk *c = calloc(1, bytes);
	uint32_t units;

	if (!c)
		return NULL;
	c->idx = chunk;
	c->stack_pos = UINT32_MAX;
	c->owner = (uint8_t)chunk_owner(pool, chunk);
	/* Units past the end of a short last chunk are permanently set. */
	units = ueip_pool_chunk_units(pool, chunk);
	for (uint32_t u = units; u < pool->def.chunk_size; u++)
		c->bits[u / 64] |= 1ULL << (u % 64);
	if (ueip_map_put(&pool->chunks, chunk, (uint64_t)(uintptr_t)c)) {
		free(c);
		return NULL;
	}
	if (c->owner == UEIP_CHUNK_MINE && avail_push(pool, c)) {
		ueip_map_del(&pool->chunks, chunk);
		free(c);
		return NULL;
	}
	return c;
}

void
ueip_pool_reown(struct ueip_pool *pool)
{
	uint64_t value;

	pool->navail = 0;
	for (size_t pos = 0; ueip_map_next(&pool->chunks, &pos, NULL, &value);) {
		struct ueip_chunk *c = (void *)(uintptr_t)value;
		c->stack_pos = UINT32_MAX;
		c->owner = (uint8_t)chunk_owner(pool, c->idx);
		if (c->owner == UEIP_CHUNK_MINE && chunk_has_room(pool, c))
			avail_push(pool, c);
	}
	pool->scan_next = 0;
	pool->scanned = 0;
}

/* Find the next owned, ready chunk never materialised; NULL when none is left. */
static struct ueip_chunk *
scan_for_chunk(struct ueip_pool *pool)
{
	while (pool->scanned < pool->nchunks) {
		uint32_t chunk = pool->scan_next;
		pool->scan_next = chunk + 1 == pool->nchunks ? 0 : chunk + 1;
		pool->scanned++;
		if (ueip_pool_chunk(pool, chunk))
			continue;
		if (chunk_owner(pool, chunk) == UEIP_CHUNK_MINE)
			return chunk_materialise(pool, chunk);
	}
	return NULL;
}

static int
chunk_take_bit(struct ueip_pool *pool, struct ueip_chunk *c, uint64_t *index)
{
	for (uint32_t w = 0; w < pool->words; w++) {
		if (c->bits[w] != UINT64_MAX) {
			unsigned bit = (unsigned)__builtin_ctzll(~c->bits[w]);
			c->bits[w] |= 1ULL << bit;
			c->used++;
			pool->used_total++;
			*index = (uint64_t)c->idx * pool->def.chunk_size + w * 64 + bit;
			if (!chunk_has_room(pool, c))
				avail_remove(pool, c);
			return 0;
		}
	}
	avail_remove(pool, c);	/* stale: full */
	return UEIP_EEXHAUSTED;
}

int
ueip_pool_alloc(struct ueip_pool *pool, uint64_t *index)
{
	for (;;) {
		while (pool->navail) {
			struct ueip_chunk *c = pool->avail[pool->navail - 1];
			if (c->owner == UEIP_CHUNK_MINE && chunk_take_bit(pool, c, index) == 0)
				return 0;
			avail_remove(pool, c);
		}
		if (!scan_for_chunk(pool))
			return UEIP_EEXHAUSTED;
	}
}

static int
unit_locate(struct ueip_pool *pool, uint64_t index, struct ueip_chunk **out, int create)
{
	uint32_t chunk;

	if (index >= pool->def.size)
		return UEIP_EINVAL;
	chunk = ueip_pool_chunk_of(pool, index);
	*out = chunk_get(pool, chunk);
	if (!*out && create && !(*out = chunk_materialise(pool, chunk)))
		return UEIP_ENOMEM;
	return *out ? 0 : UEIP_ENOTFOUND;
}

int
ueip_pool_mark(struct ueip_pool *pool, uint64_t index)
{
	struct ueip_chunk *c;
	int rc = unit_locate(pool, index, &c, 1);
	uint32_t off;

	if (rc)
		return rc;
	off = (uint32_t)(index % pool->def.chunk_size);
	if (c->bits[off / 64] & (1ULL << (off % 64)))
		return UEIP_EINUSE;
	c->bits[off / 64] |= 1ULL << (off % 64);
	c->used++;
	pool->used_total++;
	if (!chunk_has_room(pool, c))
		avail_remove(pool, c);
	return 0;
}

int
ueip_pool_clear(struct ueip_pool *pool, uint64_t index)
{
	struct ueip_chunk *c;
	uint32_t off;

	if (unit_locate(pool, index, &c, 0))
		return UEIP_ENOTFOUND;
	off = (uint32_t)(index % pool->def.chunk_size);
	if (!(c->bits[off / 64] & (1ULL << (off % 64))))
		return UEIP_ENOTFOUND;
	c->bits[off / 64] &= ~(1ULL << (off % 64));
	c->used--;
	pool->used_total--;
	if (c->owner == UEIP_CHUNK_MINE)
		return avail_push(pool, c);
	return 0;
}

int
ueip_pool_is_set(const struct ueip_pool *pool, uint64_t index)
{
	const struct ueip_chunk *c;
	uint32_t off;

	if (index >= pool->def.size)
		return 0;
	c = ueip_pool_chunk(pool, ueip_pool_chunk_of(pool, index));
	if (!c)
		return 0;
	off = (uint32_t)(index % pool->def.chunk_size);
	return (c->bits[off / 64] >> (off % 64)) & 1;
}

void
ueip_pool_forget_chunk(struct ueip_pool *pool, uint32_t chunk)
{
	struct ueip_chunk *c = chunk_get(pool, chunk);

	if (!c)
		return;
	avail_remove(pool, c);
	pool->used_total -= c->used;
	ueip_map_del(&pool->chunks, chunk);
	free(c);
}

int
ueip_pool_contains(const struct ueip_pool *pool, const struct ueip_addr *addr, uint64_t *index)
{
	uint64_t off;

	if (ueip_addr_offset(&pool->def.base, pool->def.unit_len, addr, &off) || off >= pool->def.size)
		return 0;
	*index = off;
	return 1;
}

void
ueip_pool_addr(const struct ueip_pool *pool, uint64_t index, struct ueip_addr *out)
{
	ueip_addr_at(&pool->def.base, pool->def.unit_len, index, out);
}
