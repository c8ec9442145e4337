// SPDX-License-Identifier: Apache-2.0
/*
 * core/owner: rendezvous ownership. Every member computes the owner of a
 * chunk alone, so the answer must depend only on the member ids (not on
 * their order or on the epoch), and a membership change may move only the
 * chunks it must: to a joining member, or away from a leaving one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "core/owner.h"

enum { CHUNKS = 10000 };

static void
members(struct ueip_membership *m, uint64_t epoch, const char *const *ids, unsigned n)
{
	memset(m, 0, sizeof(*m));
	m->epoch = epoch;
	m->count = n;
	for (unsigned i = 0; i < n; i++)
		snprintf(m->ids[i], sizeof(m->ids[i]), "%s", ids[i]);
	ueip_membership_hash(m);
}

static const char *
owner_id(const struct ueip_membership *m, uint64_t pool_hash, uint32_t chunk)
{
	unsigned i = ueip_owner_of(m, pool_hash, chunk);

	assert_true(i < m->count);
	return m->ids[i];
}

static uint64_t
pool_hash(const char *name)
{
	return ueip_hash_str(name, strlen(name));
}

static void
test_find_and_hash(void **state)
{
	static const char *const ids[] = { "smf1", "smf2", "smf3" };
	struct ueip_membership m;

	(void)state;
	members(&m, 1, ids, 3);
	assert_int_equal(ueip_membership_find(&m, "smf1"), 0);
	assert_int_equal(ueip_membership_find(&m, "smf3"), 2);
	assert_int_equal(ueip_membership_find(&m, "smf4"), -1);
	assert_int_equal(ueip_membership_find(&m, "smf"), -1);
	assert_int_equal(m.id_hash[1], ueip_hash_str("smf2", 4));

	/* One member owns everything. */
	members(&m, 1, ids, 1);
	for (uint32_t c = 0; c < 100; c++)
		assert_int_equal(ueip_owner_of(&m, pool_hash("p4"), c), 0);
}

/* Each chunk has one owner, every member agrees on it, and the split is fair. */
static void
test_one_owner_all_agree(void **state)
{
	static const char *const a_ids[] = { "smf1", "smf2", "smf3" };
	static const char *const b_ids[] = { "smf3", "smf1", "smf2" };	/* another order */
	struct ueip_membership a, b, c;
	unsigned per[3] = { 0 };
	uint64_t ph = pool_hash("internet-v4");

	(void)state;
	members(&a, 1, a_ids, 3);
	members(&b, 1, b_ids, 3);
	members(&c, 99, a_ids, 3);	/* same members, later epoch */
	for (uint32_t chunk = 0; chunk < CHUNKS; chunk++) {
		const char *o = owner_id(&a, ph, chunk);
		unsigned claims = 0;

		/* Each member asks "is it mine?" from its own view: exactly one says yes. */
		for (unsigned self = 0; self < 3; self++) {
			struct ueip_membership *view = self == 0 ? &a : self == 1 ? &b : &c;
			const char *me = a_ids[self];
			if (strcmp(owner_id(view, ph, chunk), me) == 0)
				claims++;
		}
		assert_int_equal(claims, 1);
		assert_string_equal(owner_id(&b, ph, chunk), o);
		assert_string_equal(owner_id(&c, ph, chunk), o);
		assert_string_equal(owner_id(&a, ph, chunk), o);	/* pure: same again */
		per[ueip_membership_find(&a, o)]++;
	}
	for (unsigned i = 0; i < 3; i++)
		assert_true(per[i] > CHUNKS * 28 / 100 && per[i] < CHUNKS * 39 / 100);
}

static void
test_pools_differ(void **state)
{
	static const char *const ids[] = { "smf1", "smf2", "smf3" };
	struct ueip_membership m;
	unsigned same = 0;

	(void)state;
	members(&m, 1, ids, 3);
	for (uint32_t chunk = 0; chunk < CHUNKS; chunk++)
		same += ueip_owner_of(&m, pool_hash("p4"), chunk) ==
			ueip_owner_of(&m, pool_hash("p6"), chunk);
	/* Independent pools agree about a third of the time, not always. */
	assert_true(same > CHUNKS / 4 && same < CHUNKS * 42 / 100);
}

static void
test_join_moves_quarter_to_newcomer(void **state)
{
	static const char *const ids[] = { "smf1", "smf2", "smf3", "smf4" };
	struct ueip_membership three, four;
	uint64_t ph = pool_hash("internet-v4");
	unsigned moved = 0;

	(void)state;
	members(&three, 1, ids, 3);
	members(&four, 2, ids, 4);
	for (uint32_t chunk = 0; chunk < CHUNKS; chunk++) {
		const char *before = owner_id(&three, ph, chunk);
		const char *after = owner_id(&four, ph, chunk);
		if (strcmp(before, after) != 0) {
			assert_string_equal(after, "smf4");	/* only to the new member */
			moved++;
		}
		if (strcmp(after, "smf4") == 0)
			assert_string_not_equal(before, "smf4");
	}
	assert_true(moved >= CHUNKS * 22 / 100 && moved <= CHUNKS * 28 / 100);
}

static void
test_leave_moves_only_leavers_chunks(void **state)
{
	static const char *const ids4[] = { "smf1", "smf2", "smf3", "smf4" };
	static const char *const ids3[] = { "smf1", "smf3", "smf4" };	/* smf2 left */
	struct ueip_membership four, three;
	uint64_t ph = pool_hash("internet-v6");
	unsigned had = 0;

	(void)state;
	members(&four, 5, ids4, 4);
	members(&three, 6, ids3, 3);
	for (uint32_t chunk = 0; chunk < CHUNKS; chunk++) {
		const char *before = owner_id(&four, ph, chunk);
		const char *after = owner_id(&three, ph, chunk);
		if (strcmp(before, "smf2") == 0) {
			had++;
			assert_string_not_equal(after, "smf2");
		} else {
			assert_string_equal(after, before);	/* nobody else's chunk moves */
		}
	}
	assert_true(had > CHUNKS * 21 / 100 && had < CHUNKS * 29 / 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_and_hash),
		cmocka_unit_test(test_one_owner_all_agree),
		cmocka_unit_test(test_pools_differ),
		cmocka_unit_test(test_join_moves_quarter_to_newcomer),
		cmocka_unit_test(test_leave_moves_only_leavers_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
