/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: hashing and the u64 map
 *
 * ueip_hash64() mixes 64-bit words (a splitmix64 finaliser); ueip_hash_str()
 * hashes bytes (FNV-1a folded through the mixer). Both are stable across
 * runs and machines: rendezvous ownership depends on them.
 *
 * struct ueip_map is an open-addressing hash map from a 64-bit key to a
 * 64-bit value, linear probing with backward-shift deletion (no tombstones),
 * grown at 50 % load. Key UINT64_MAX is reserved as "empty". It is the one
 * index structure of core: chunks by number, holdings by address, sessions
 * by key hash.
 */
#ifndef UEIP_CORE_HASH_H
#define UEIP_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t ueip_hash64(uint64_t x);
uint64_t ueip_hash_combine(uint64_t a, uint64_t b);
uint64_t ueip_hash_str(const void *data, size_t len);

struct ueip_map_slot {
	uint64_t key;
	uint64_t value;
};

struct ueip_map {
	struct ueip_map_slot *slots;
	size_t mask;	/* capacity - 1; capacity is a power of two */
	size_t count;
};

#define UEIP_MAP_EMPTY UINT64_MAX

void ueip_map_init(struct ueip_map *map);
void ueip_map_deinit(struct ueip_map *map);
/* Insert or overwrite. Returns 0, UEIP_ENOMEM, or UEIP_EINVAL for the reserved key. */
int ueip_map_put(struct ueip_map *map, uint64_t key, uint64_t value);
/* Returns 1 and sets *value when present, 0 when absent. value may be NULL. */
int ueip_map_get(const struct ueip_map *map, uint64_t key, uint64_t *value);
/* Returns 1 if removed, 0 if absent. */
int ueip_map_del(struct ueip_map *map, uint64_t key);
size_t ueip_map_count(const struct ueip_map *map);

/* Iterate: for (size_t i = 0; ueip_map_next(m, &i, &k, &v);) ... Do not modify meanwhile. */
int ueip_map_next(const struct ueip_map *map, size_t *pos, uint64_t *key, uint64_t *value);

/*
 * Make room for one more element in a growable array: if count == *cap, double
 * the capacity (from 16). 0, or UEIP_ENOMEM with the array unchanged.
 */
int ueip_grow(void **array, size_t *cap, size_t count, size_t elem_size);

#endif
