// SPDX-License-Identifier: Apache-2.0
/*
 * core/hash: the u64 map is the one index of core (chunks, holdings,
 * sessions), so every key put must stay findable through growth and through
 * backward-shift deletion, and the hash functions must not change: every
 * member of a set computes chunk ownership from them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hash.h"

/* Deterministic generator so a failure reproduces. */
static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t
home_of(const struct ueip_map *m, uint64_t key)
{
	return (size_t)ueip_hash64(key) & m->mask;
}

static void
test_hash_stable(void **state)
{
	(void)state;
	/* splitmix64's first output for seed 0: the finaliser is the published one. */
	assert_int_equal(ueip_hash64(0), 0xe220a8397b1dcdafULL);
	/* FNV-1a of "" is its offset basis; the string hash folds that through ueip_hash64. */
	assert_int_equal(ueip_hash_str("", 0), ueip_hash64(0xcbf29ce484222325ULL));
	/* FNV-1a("a") = 0xaf63dc4c8601ec8c (published test vector). */
	assert_int_equal(ueip_hash_str("a", 1), ueip_hash64(0xaf63dc4c8601ec8cULL));
	assert_int_equal(ueip_hash_str("smf1", 4), ueip_hash_str("smf1xyz", 4));
	assert_int_not_equal(ueip_hash_str("smf1", 4), ueip_hash_str("smf2", 4));
	assert_int_equal(ueip_hash_combine(1, 2), ueip_hash64(1 ^ ueip_hash64(2)));
	assert_int_not_equal(ueip_hash_combine(1, 2), ueip_hash_combine(2, 1));
}

static void
test_map_basic(void **state)
{
	struct ueip_map m;
	uint64_t v = 0;

	(void)state;
	ueip_map_init(&m);
	assert_int_equal(ueip_map_count(&m), 0);
	assert_int_equal(ueip_map_get(&m, 1, &v), 0);
	assert_int_equal(ueip_map_del(&m, 1), 0);

	assert_int_equal(ueip_map_put(&m, 1, 100), 0);
	assert_int_equal(ueip_map_put(&m, 0, 200), 0);	/* 0 is an ordinary key */
	assert_int_equal(ueip_map_put(&m, UINT64_MAX - 1, 300), 0);
	assert_int_equal(ueip_map_count(&m), 3);
	assert_int_equal(ueip_map_get(&m, 1, &v), 1);
	assert_int_equal(v, 100);
	assert_int_equal(ueip_map_get(&m, 0, &v), 1);
	assert_int_equal(v, 200);
	assert_int_equal(ueip_map_get(&m, UINT64_MAX - 1, NULL), 1);
	assert_int_equal(ueip_map_get(&m, 2, &v), 0);

	/* Overwrite keeps the count and replaces the value. */
	assert_int_equal(ueip_map_put(&m, 1, 101), 0);
	assert_int_equal(ueip_map_count(&m), 3);
	assert_int_equal(ueip_map_get(&m, 1, &v), 1);
	assert_int_equal(v, 101);

	assert_int_equal(ueip_map_del(&m, 1), 1);
	assert_int_equal(ueip_map_del(&m, 1), 0);
	assert_int_equal(ueip_map_get(&m, 1, &v), 0);
	assert_int_equal(ueip_map_count(&m), 2);
	assert_int_equal(ueip_map_get(&m, 0, &v), 1);
	assert_int_equal(v, 200);

	ueip_map_deinit(&m);
	assert_int_equal(ueip_map_count(&m), 0);
	assert_int_equal(ueip_map_get(&m, 0, &v), 0);
	ueip_map_deinit(&m);	/* twice is harmless */
}

static void
test_map_reserved_key(void **state)
{
	struct ueip_map m;

	(void)state;
	ueip_map_init(&m);
	assert_int_equal(ueip_map_put(&m, UEIP_MAP_EMPTY, 1), UEIP_EINVAL);
	assert_int_equal(ueip_map_count(&m), 0);
	assert_int_equal(ueip_map_get(&m, UEIP_MAP_EMPTY, NULL), 0);
	assert_int_equal(ueip_map_put(&m, 5, 1), 0);
	assert_int_equal(ueip_map_put(&m, UEIP_MAP_EMPTY, 1), UEIP_EINVAL);
	assert_int_equal(ueip_map_get(&m, UEIP_MAP_EMPTY, NULL), 0);
	assert_int_equal(ueip_map_del(&m, UEIP_MAP_EMPTY), 0);
	assert_int_equal(ueip_map_count(&m), 1);
	ueip_map_deinit(&m);
}

static void
test_map_growth(void **state)
{
	enum { N = 50000 };
	struct ueip_map m;
	uint64_t v;

	(void)state;
	ueip_map_init(&m);
	for (uint64_t k = 0; k < N; k++) {
		assert_int_equal(ueip_map_put(&m, k * 7919, k), 0);
		assert_true((m.mask + 1) >= 2 * ueip_map_count(&m));	/* load <= 50 % */
	}
	assert_int_equal(ueip_map_count(&m), N);
	for (uint64_t k = 0; k < N; k++) {
		assert_int_equal(ueip_map_get(&m, k * 7919, &v), 1);
		assert_int_equal(v, k);
		assert_int_equal(ueip_map_get(&m, k * 7919 + 1, NULL), 0);
	}
	ueip_map_deinit(&m);
}

/* Find n distinct keys (from *next on) whose home slot is `home` in a map of this mask. */
static void
keys_with_home(const struct ueip_map *m, size_t home, uint64_t *out, int n, uint64_t *next)
{
	for (int found = 0; found < n; (*next)++)
		if (home_of(m, *next) == home)
			out[found++] = *next;
}

static void
assert_all_found(const struct ueip_map *m, const uint64_t *keys, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t v;
		assert_int_equal(ueip_map_get(m, keys[i], &v), 1);
		assert_int_equal(v, keys[i] + 1);
	}
}

/*
 * A probe run that wraps from the last slot to slot 0: deleting its head must
 * shift the members homed at 15 back, and leave the one homed at 0 reachable.
 */
static void
test_map_backward_shift_wrap(void **state)
{
	struct ueip_map m;
	uint64_t k15[3], k0[2], k14[1], next = 0, all[6];

	(void)state;
	ueip_map_init(&m);
	assert_int_equal(ueip_map_put(&m, 123456789, 1), 0);	/* allocates 16 slots */
	assert_int_equal(ueip_map_del(&m, 123456789), 1);
	assert_int_equal(m.mask, 15);
	keys_with_home(&m, 15, k15, 3, &next);
	next = 0;
	keys_with_home(&m, 0, k0, 2, &next);
	next = 0;
	keys_with_home(&m, 14, k14, 1, &next);
	/* Order of insertion lays out: 14:k14 15:k15[0] 0:k15[1] 1:k15[2] 2:k0[0] 3:k0[1]. */
	all[0] = k14[0];
	all[1] = k15[0];
	all[2] = k15[1];
	all[3] = k15[2];
	all[4] = k0[0];
	all[5] = k0[1];
	for (int i = 0; i < 6; i++)
		assert_int_equal(ueip_map_put(&m, all[i], all[i] + 1), 0);
	assert_int_equal(m.mask, 15);	/* no growth: 6 of 16 */
	assert_all_found(&m, all, 6);

	/* Delete the key at slot 15: the run continues across the wrap and must shift back. */
	assert_int_equal(ueip_map_del(&m, all[1]), 1);
	assert_int_equal(ueip_map_get(&m, all[1], NULL), 0);
	assert_int_equal(m.slots[15].key, all[2]);	/* homed at 15, moved home */
	assert_int_equal(m.slots[0].key, all[3]);
	assert_all_found(&m, all, 1);
	assert_all_found(&m, all + 2, 4);
	/* Then the one at slot 14, before the run. */
	assert_int_equal(ueip_map_del(&m, all[0]), 1);
	assert_all_found(&m, all + 2, 4);
	/* Then one in the middle of the run, after the wrap. */
	assert_int_equal(ueip_map_del(&m, all[3]), 1);
	assert_int_equal(ueip_map_get(&m, all[3], NULL), 0);
	assert_all_found(&m, all + 2, 1);
	assert_all_found(&m, all + 4, 2);
	assert_int_equal(ueip_map_count(&m), 3);
	ueip_map_deinit(&m);
}

/* A member homed in the hole's run but before the hole must not move back past its home. */
static void
test_map_backward_shift_keeps_home(void **state)
{
	struct ueip_map m;
	uint64_t a[2], b[2], next = 0, all[4];

	(void)state;
	ueip_map_init(&m);
	assert_int_equal(ueip_map_put(&m, 987654321, 1), 0);
	assert_int_equal(ueip_map_del(&m, 987654321), 1);
	keys_with_home(&m, 4, a, 2, &next);	/* slots 4, 5 */
	next = 0;
	keys_with_home(&m, 6, b, 2, &next);	/* slots 6, 7 */
	all[0] = a[0];
	all[1] = a[1];
	all[2] = b[0];
	all[3] = b[1];
	for (int i = 0; i < 4; i++)
		assert_int_equal(ueip_map_put(&m, all[i], all[i] + 1), 0);
	/* Delete a[0] at slot 4: a[1] moves to 4, b[0] stays at 6 (its home), b[1] stays. */
	assert_int_equal(ueip_map_del(&m, a[0]), 1);
	assert_all_found(&m, all + 1, 3);
	assert_int_equal(m.slots[4].key, a[1]);
	assert_int_equal(m.slots[5].key, UEIP_MAP_EMPTY);
	assert_int_equal(m.slots[6].key, b[0]);
	assert_int_equal(m.slots[7].key, b[1]);
	ueip_map_deinit(&m);
}

/* Random inserts, overwrites and deletes over a small universe, checked against an array. */
static void
test_map_random_vs_reference(void **state)
{
	enum { UNIVERSE = 700, OPS = 60000 };
	static uint8_t present[UNIVERSE];
	static uint64_t value[UNIVERSE];
	struct ueip_map m;
	size_t count = 0;

	(void)state;
	memset(present, 0, sizeof(present));
	rng_state = 0x1234567887654321ULL;
	ueip_map_init(&m);
	for (int op = 0; op < OPS; op++) {
		unsigned k = (unsigned)(rng() % UNIVERSE);
		/* Keys spread over the whole u64 range, including the top bit. */
		uint64_t key = ueip_hash64(k) ^ 0x5555;
		uint64_t v;
		/* Phases that grow and shrink the map, so it both fills and drains. */
		int insert_bias = (op / 5000) % 2 ? 30 : 70;

		if (rng() % 100 < (uint64_t)insert_bias) {
			uint64_t nv = rng();
			assert_int_equal(ueip_map_put(&m, key, nv), 0);
			if (!present[k])
				count++;
			present[k] = 1;
			value[k] = nv;
		} else {
			assert_int_equal(ueip_map_del(&m, key), present[k]);
			if (present[k])
				count--;
			present[k] = 0;
		}
		assert_int_equal(ueip_map_count(&m), count);
		if (op % 50 == 0 || op == OPS - 1) {
			for (unsigned j = 0; j < UNIVERSE; j++) {
				uint64_t kj = ueip_hash64(j) ^ 0x5555;
				assert_int_equal(ueip_map_get(&m, kj, &v), present[j]);
				if (present[j])
					assert_int_equal(v, value[j]);
			}
		}
	}
	ueip_map_deinit(&m);
}

static void
test_map_iterate(void **state)
{
	enum { N = 3000 };
	static uint8_t seen[N];
	struct ueip_map m;
	uint64_t k, v;
	size_t visits = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	ueip_map_init(&m);
	{
		size_t pos = 0;
		assert_int_equal(ueip_map_next(&m, &pos, &k, &v), 0);	/* empty */
	}
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(ueip_map_put(&m, i, i * 3), 0);
	for (uint64_t i = 0; i < N; i += 3)	/* holes after deletion */
		assert_int_equal(ueip_map_del(&m, i), 1);
	for (size_t pos = 0; ueip_map_next(&m, &pos, &k, &v);) {
		assert_true(k < N);
		assert_true(k % 3 != 0);
		assert_int_equal(v, k * 3);
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
		visits++;
	}
	assert_int_equal(visits, ueip_map_count(&m));
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(seen[i], i % 3 != 0);
	/* NULL key/value pointers are allowed. */
	visits = 0;
	for (size_t pos = 0; ueip_map_next(&m, &pos, NULL, NULL);)
		visits++;
	assert_int_equal(visits, ueip_map_count(&m));
	ueip_map_deinit(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_stable),
		cmocka_unit_test(test_map_basic),
		cmocka_unit_test(test_map_reserved_key),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_map_backward_shift_wrap),
		cmocka_unit_test(test_map_backward_shift_keeps_home),
		cmocka_unit_test(test_map_random_vs_reference),
		cmocka_unit_test(test_map_iterate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
