/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: chunk ownership by rendezvous hashing
 *
 * For a membership (a list of member ids and an epoch), the owner of chunk c
 * of pool p is the member m with the highest score hash(p, c, m). Every
 * member computes the same answer with no coordination, and adding or
 * removing one member moves only the chunks whose top score changes: about
 * 1/(n+1) of them when a member joins, 1/n when one of n leaves.
 *
 * The score does not use the epoch: an epoch only names a membership, so a
 * chunk moves only when the member list really changes.
 */
#ifndef UEIP_CORE_OWNER_H
#define UEIP_CORE_OWNER_H

#include <stdint.h>

#define UEIP_MEMBERS_MAX 32
#define UEIP_MEMBER_ID_MAX 32

struct ueip_membership {
	uint64_t epoch;
	unsigned count;
	char ids[UEIP_MEMBERS_MAX][UEIP_MEMBER_ID_MAX];
	uint64_t id_hash[UEIP_MEMBERS_MAX];
};

/* Fill id_hash[] from ids[]; call after editing ids. */
void ueip_membership_hash(struct ueip_membership *m);
/* Index of id in m, or -1. */
int ueip_membership_find(const struct ueip_membership *m, const char *id);
/* Index of the owning member (0..count-1); count must be > 0. */
unsigned ueip_owner_of(const struct ueip_membership *m, uint64_t pool_hash, uint32_t chunk);

#endif
