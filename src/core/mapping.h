/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: public mappings (seed 000)
 *
 * A mapping gives a UE (its private IPv4 address, the "internal" side)
 * reachability at a public address (the "external" side):
 *
 *   DEDICATED  internal <-> external, all protocols and ports (PCP MAP
 *              protocol 0 port 0). One per internal address.
 *   PORT       internal:iport/proto <-> external:eport/proto (PCP MAP for one
 *              port, NAT-PMP map).
 *   PEER       internal:iport/proto -> remote:rport leaving as external:eport
 *              (PCP PEER).
 *
 * The table owns its mappings and indexes them three ways, all by 64-bit
 * keys in ueip_maps so every lookup is O(1) whatever the size:
 *
 *   by id        id -> mapping
 *   by internal  (internal, proto, iport) -> id    (PEER: hash with remote)
 *   by external  (external, proto, eport) -> id    (PEER: not indexed)
 *   per UE       internal -> counts (dedicated, ports) for quotas
 *
 * and keeps a min-heap of (expiry, id) entries. A renewal pushes a new entry
 * and leaves the old one to be skipped when it surfaces (lazy deletion); the
 * heap is rebuilt when stale entries outnumber live ones, so it stays within
 * twice the table size.
 *
 * Pure: the caller passes times in; nothing here reads a clock.
 */
#ifndef UEIP_CORE_MAPPING_H
#define UEIP_CORE_MAPPING_H

#include <stdint.h>

#include "core/hash.h"
#include "core/session.h"

enum ueip_mapping_kind { UEIP_MAP_DEDICATED = 1, UEIP_MAP_PORT = 2, UEIP_MAP_PEER = 3 };
enum ueip_mapping_via { UEIP_VIA_PCP = 1, UEIP_VIA_NATPMP = 2 };

#define UEIP_MAPPING_FILTERS_MAX 16

struct ueip_mapping_filter {
	uint32_t remote;
	uint8_t prefix_len;
	uint16_t remote_port;
};

struct ueip_mapping {
	uint64_t id;
	uint8_t kind;
	uint8_t via;
	uint8_t proto;
	uint32_t internal;		/* IPv4, host byte order */
	uint16_t internal_port;
	uint32_t external;
	uint16_t external_port;
	uint32_t remote;		/* PEER */
	uint16_t remote_port;
	uint8_t nonce[12];
	int64_t expires_ms;
	int64_t created_ms;
	uint32_t client;		/* where notices go: the requester's address and port */
	uint16_t client_port;
	uint32_t third_party;		/* requester, when it asked for another (THIRD_PARTY) */
	struct ueip_session_key ue;	/* the UE session it belongs to */
	uint8_t nfilters;
	struct ueip_mapping_filter filters[UEIP_MAPPING_FILTERS_MAX];
	uint8_t in_dp;			/* programmed in the data path (not covered by a 1:1) */
	uint8_t notified;		/* an end notice was sent (not persisted) */
};

struct ueip_mapping_counts {
	uint32_t dedicated;
	uint32_t ports;			/* PORT and PEER */
};

struct ueip_mapping_heap_entry {
	int64_t expires_ms;
	uint64_t id;
};

struct ueip_mappings {
	struct ueip_map by_id;		/* id -> struct ueip_mapping * */
	struct ueip_map by_internal;	/* internal key -> id */
	struct ueip_map by_external;	/* external key -> id */
	struct ueip_map per_ue;		/* internal address -> packed counts */
	struct ueip_mapping_heap_entry *heap;
	size_t nheap, heap_cap;
	uint64_t count;
	uint64_t next_id;
};

/* Keys. */
uint64_t ueip_mapping_internal_key(const struct ueip_mapping *m);
uint64_t ueip_mapping_external_key(const struct ueip_mapping *m);
/* (address, proto, port) packed into one key, for lookups from a request. */
uint64_t ueip_mapping_endpoint_key(uint32_t addr, uint8_t proto, uint16_t port);

void ueip_mappings_init(struct ueip_mappings *t);
void ueip_mappings_deinit(struct ueip_mappings *t);	/* frees every mapping */

/*
 * Insert m (the table takes ownership). m->id = 0 gets the next id; a given
 * id (from the store) is kept and next_id moves past it.
 * 0, UEIP_ECONFLICT (its internal or external key is taken), UEIP_ENOMEM.
 */
int ueip_mappings_insert(struct ueip_mappings *t, struct ueip_mapping *m);
/* Unlink (the caller frees). */
void ueip_mappings_remove(struct ueip_mappings *t, struct ueip_mapping *m);
struct ueip_mapping *ueip_mappings_get(const struct ueip_mappings *t, uint64_t id);
struct ueip_mapping *ueip_mappings_by_internal(const struct ueip_mappings *t, uint64_t key);
struct ueip_mapping *ueip_mappings_by_external(const struct ueip_mappings *t, uint64_t key);
struct ueip_mapping_counts ueip_mappings_counts(const struct ueip_mappings *t, uint32_t internal);
/* Change the expiry of an inserted mapping (renewal). 0 or UEIP_ENOMEM. */
int ueip_mappings_set_expiry(struct ueip_mappings *t, struct ueip_mapping *m, int64_t expires_ms);
/* The next mapping whose expiry is <= now, unlinked from the heap only; NULL if none. */
struct ueip_mapping *ueip_mappings_pop_expired(struct ueip_mappings *t, int64_t now_ms);
/* Visit every mapping; stop when fn returns non-zero (that value is returned). */
int ueip_mappings_each(const struct ueip_mappings *t,
		       int (*fn)(struct ueip_mapping *m, void *arg), void *arg);
const char *ueip_mapping_kind_name(int kind);

#endif
