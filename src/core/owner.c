// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "core/hash.h"
#include "core/owner.h"

void
ueip_membership_hash(struct ueip_membership *m)
{
	for (unsigned i = 0; i < m->count; i++)
		m->id_hash[i] = ueip_hash_str(m->ids[i], strlen(m->ids[i]));
}

int
ueip_membership_find(const struct ueip_membership *m, const char *id)
{
	for (unsigned i = 0; i < m->count; i++)
		if (strcmp(m->ids[i], id) == 0)
			return (int)i;
	return -1;
}

unsigned
ueip_owner_of(const struct ueip_membership *m, uint64_t pool_hash, uint32_t chunk)
{
	uint64_t key = ueip_hash_combine(pool_hash, chunk);
	uint64_t best_score = 0;
	unsigned best = 0;

	for (unsigned i = 0; i < m->count; i++) {
		uint64_t score = ueip_hash_combine(key, m->id_hash[i]);
		if (i == 0 || score > best_score) {
			best_score = score;
			best = i;
		}
	}
	return best;
}
