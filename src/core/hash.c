// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"

uint64_t
ueip_hash64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t
ueip_hash_combine(uint64_t a, uint64_t b)
{
	return ueip_hash64(a ^ ueip_hash64(b));
}

uint64_t
ueip_hash_str(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return ueip_hash64(h);
}

void
ueip_map_init(struct ueip_map *map)
{
	map->slots = NULL;
	map->mask = 0;
	map->count = 0;
}

void
ueip_map_deinit(struct ueip_map *map)
{
	free(map->slots);
	ueip_map_init(map);
}

static size_t
map_home(const struct ueip_map *map, uint64_t key)
{
	return (size_t)ueip_hash64(key) & map->mask;
}

static int
map_grow(struct ueip_map *map)
{
	size_t cap = map->slots ? (map->mask + 1) * 2 : 16;
	struct ueip_map_slot *old = map->slots;
	size_t old_cap = map->slots ? map->mask + 1 : 0;
	struct ueip_map_slot *slots = malloc(cap * sizeof(*slots));

	if (!slots)
		return UEIP_ENOMEM;
	memset(slots, 0xff, cap * sizeof(*slots));
	map->slots = slots;
	map->mask = cap - 1;
	map->count = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key != UEIP_MAP_EMPTY)
			ueip_map_put(map, old[i].key, old[i].value);
	free(old);
	return 0;
}

int
ueip_map_put(struct ueip_map *map, uint64_t key, uint64_t value)
{
	if (key == UEIP_MAP_EMPTY)
		return UEIP_EINVAL;
	if (!map->slots || (map->count + 1) * 2 > map->mask + 1) {
		int rc = map_grow(map);
		if (rc)
			return rc;
	}
	for (size_t i = map_home(map, key);; i = (i + 1) & map->mask) {
		if (map->slots[i].key == key) {
			map->slots[i].value = value;
			return 0;
		}
		if (map->slots[i].key == UEIP_MAP_EMPTY) {
			map->slots[i].key = key;
			map->slots[i].value = value;
			map->count++;
			return 0;
		}
	}
}

static struct ueip_map_slot *
map_find(const struct ueip_map *map, uint64_t key)
{
	if (!map->slots || key == UEIP_MAP_EMPTY)
		return NULL;
	for (size_t i = map_home(map, key);; i = (i + 1) & map->mask) {
		if (map->slots[i].key == key)
			return &map->slots[i];
		if (map->slots[i].key == UEIP_MAP_EMPTY)
			return NULL;
	}
}

int
ueip_map_get(const struct ueip_map *map, uint64_t key, uint64_t *value)
{
	struct ueip_map_slot *slot = map_find(map, key);

	if (!slot)
		return 0;
	if (value)
		*value = slot->value;
	return 1;
}

int
ueip_map_del(struct ueip_map *map, uint64_t key)
{
	struct ueip_map_slot *slot = map_find(map, key);
	size_t hole, i;

	if (!slot)
		return 0;
	hole = (size_t)(slot - map->slots);
	/* Backward-shift: move later members of the probe run into the hole. */
	for (i = (hole + 1) & map->mask; map->slots[i].key != UEIP_MAP_EMPTY;
	     i = (i + 1) & map->mask) {
		size_t home = map_home(map, map->slots[i].key);
		int between = hole <= i ? (hole < home && home <= i)
					: (hole < home || home <= i);
		if (!between) {
			map->slots[hole] = map->slots[i];
			hole = i;
		}
	}
	map->slots[hole].key = UEIP_MAP_EMPTY;
	map->count--;
	return 1;
}

size_t
ueip_map_count(const struct ueip_map *map)
{
	return map->count;
}

int
ueip_map_next(const struct ueip_map *map, size_t *pos, uint64_t *key, uint64_t *value)
{
	if (!map->slots)
		return 0;
	for (; *pos <= map->mask; (*pos)++) {
		if (map->slots[*pos].key != UEIP_MAP_EMPTY) {
			if (key)
				*key = map->slots[*pos].key;
			if (value)
				*value = map->slots[*pos].value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}

int
ueip_grow(void **array, size_t *cap, size_t count, size_t elem_size)
{
	size_t want;
	void *grown;

	if (count < *cap)
		return 0;
	want = *cap ? *cap * 2 : 16;
	if (want > SIZE_MAX / elem_size || !(grown = realloc(*array, want * elem_size)))
		return UEIP_ENOMEM;
	*array = grown;
	*cap = want;
	return 0;
}
