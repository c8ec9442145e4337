/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: pools and chunks
 *
 * A pool is a run of `size` units (IPv4 addresses, or IPv6 prefixes of
 * unit_len bits) starting at base. It is cut into chunks of chunk_size units
 * (a power of two, 64..65536); chunk c covers units [c*chunk_size, ...).
 * A unit is named by its index in the pool.
 *
 * Chunks are materialised lazily: a chunk that no one ever touched has no
 * memory and is entirely free. A materialised chunk is a bitmap (bit set =
 * not free: held, quarantined, or statically reserved) plus a count.
 *
 * Whether a chunk may be allocated from is asked of an ownership callback
 * (see owner.h): UEIP_CHUNK_MINE (owned and reconciled), UEIP_CHUNK_BLOCKED
 * (owned, but its usage is not settled yet: hand-off or reconcile pending) or
 * UEIP_CHUNK_OTHER. Allocation takes the top of a stack of owned, ready,
 * non-full chunks and finds a zero bit with ctz, so its cost does not depend
 * on occupancy; when the stack is empty it scans forward for the next owned
 * chunk that was never materialised.
 *
 *   alloc:  stack top -> first zero bit -> set, used++  (pop when full)
 *   clear:  bit -> 0, used--; a chunk that was full goes back on the stack
 *   reown:  after an epoch or readiness change, rebuild the stack and scan again
 */
#ifndef UEIP_CORE_POOL_H
#define UEIP_CORE_POOL_H

#include <stdint.h>

#include "core/addr.h"
#include "core/hash.h"

#define UEIP_NAME_MAX 32
#define UEIP_DNN_MAX 101
#define UEIP_SNSSAI_MAX 12
#define UEIP_POOL_UNITS_MAX (1ULL << 32)

enum ueip_chunk_owner { UEIP_CHUNK_OTHER = 0, UEIP_CHUNK_MINE = 1, UEIP_CHUNK_BLOCKED = 2 };

struct ueip_pool;
typedef enum ueip_chunk_owner ueip_chunk_owner_fn(void *arg, const struct ueip_pool *pool,
						   uint32_t chunk);

struct ueip_pool_def {
	char name[UEIP_NAME_MAX];
	char dnn[UEIP_DNN_MAX];
	char snssai[UEIP_SNSSAI_MAX];	/* "" = any slice */
	struct ueip_addr base;
	uint8_t unit_len;		/* 32 for IPv4; delegated prefix length for IPv6 */
	uint8_t parent_len;		/* IPv6 parent prefix length (informational for v4) */
	uint64_t size;			/* units, 1..2^32 */
	uint32_t chunk_size;
};

struct ueip_chunk {
	uint32_t idx;
	uint32_t used;
	uint32_t stack_pos;		/* position in avail stack, or UINT32_MAX */
	uint8_t owner;			/* enum ueip_chunk_owner, cached */
	uint64_t bits[];
};

struct ueip_pool {
	struct ueip_pool_def def;
	uint16_t id;
	uint64_t name_hash;
	uint32_t nchunks;
	uint32_t words;			/* bitmap words per chunk */
	struct ueip_map chunks;		/* chunk idx -> struct ueip_chunk * */
	struct ueip_chunk **avail;	/* owned, ready, non-full chunks */
	uint32_t navail, avail_cap;
	uint32_t scan_next;		/* next chunk idx to consider materialising */
	uint32_t scanned;		/* chunks considered since the last reown */
	uint64_t used_total;		/* bits set over all materialised chunks */
	ueip_chunk_owner_fn *owner_fn;
	void *owner_arg;
};

/* Returns a new pool or NULL (out of memory / invalid def). */
struct ueip_pool *ueip_pool_new(const struct ueip_pool_def *def, uint16_t id);
void ueip_pool_free(struct ueip_pool *pool);
void ueip_pool_set_owner_fn(struct ueip_pool *pool, ueip_chunk_owner_fn *fn, void *arg);
/* Re-ask the ownership callback for every materialised chunk and restart the scan. */
void ueip_pool_reown(struct ueip_pool *pool);

/* Take a free unit from an owned ready chunk. 0, UEIP_EEXHAUSTED or UEIP_ENOMEM. */
int ueip_pool_alloc(struct ueip_pool *pool, uint64_t *index);
/* Mark a unit not free, whoever owns it. 0, UEIP_EINUSE if already set, UEIP_EINVAL, UEIP_ENOMEM. */
int ueip_pool_mark(struct ueip_pool *pool, uint64_t index);
/* Mark a unit free. 0, or UEIP_ENOTFOUND if it was free already. */
int ueip_pool_clear(struct ueip_pool *pool, uint64_t index);
int ueip_pool_is_set(const struct ueip_pool *pool, uint64_t index);
/* Drop a chunk's usage entirely (it was handed to another owner). */
void ueip_pool_forget_chunk(struct ueip_pool *pool, uint32_t chunk);

uint32_t ueip_pool_chunk_of(const struct ueip_pool *pool, uint64_t index);
const struct ueip_chunk *ueip_pool_chunk(const struct ueip_pool *pool, uint32_t chunk);
/* Units in chunk c (the last chunk may be short). */
uint32_t ueip_pool_chunk_units(const struct ueip_pool *pool, uint32_t chunk);
int ueip_pool_contains(const struct ueip_pool *pool, const struct ueip_addr *addr,
		       uint64_t *index);
void ueip_pool_addr(const struct ueip_pool *pool, uint64_t index, struct ueip_addr *out);

/* Key for maps of units across pools: pool id in the high bits. */
static inline uint64_t
ueip_unit_key(uint16_t pool_id, uint64_t index)
{
	return (uint64_t)pool_id << 40 | index;
}

#endif
