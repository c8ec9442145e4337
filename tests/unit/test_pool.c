// SPDX-License-Identifier: Apache-2.0
/*
 * core/pool: a unit is handed out once until it is cleared, never from a
 * chunk this member does not own (or owns but has not settled), never past
 * the end of the pool, and a 2^32-unit IPv6 pool costs memory only for the
 * chunks actually used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/pool.h"

static struct ueip_pool *
pool_make(const char *base, uint8_t unit_len, uint64_t size, uint32_t chunk_size)
{
	struct ueip_pool_def def;
	struct ueip_pool *pool;

	memset(&def, 0, sizeof(def));
	snprintf(def.name, sizeof(def.name), "p");
	snprintf(def.dnn, sizeof(def.dnn), "internet");
	assert_int_equal(ueip_addr_parse(base, &def.base), 0);
	def.unit_len = unit_len;
	def.parent_len = def.base.family == UEIP_AF_INET ? 24 : 32;
	def.size = size;
	def.chunk_size = chunk_size;
	pool = ueip_pool_new(&def, 7);
	assert_non_null(pool);
	return pool;
}

/* Allocate until exhausted; every index is new and inside the pool. Returns how many. */
static uint64_t
alloc_all(struct ueip_pool *pool, uint8_t *seen, uint64_t seen_size)
{
	uint64_t n = 0, idx;
	int rc;

	while ((rc = ueip_pool_alloc(pool, &idx)) == 0) {
		assert_true(idx < pool->def.size);
		assert_true(idx < seen_size);
		if (seen[idx])
			fail_msg("index %llu handed out twice", (unsigned long long)idx);
		seen[idx] = 1;
		assert_true(ueip_pool_is_set(pool, idx));
		n++;
		assert_true(n <= pool->def.size);
	}
	assert_int_equal(rc, UEIP_EEXHAUSTED);
	return n;
}

static void
test_new_rejects_bad_defs(void **state)
{
	struct ueip_pool_def def;

	(void)state;
	memset(&def, 0, sizeof(def));
	assert_int_equal(ueip_addr_parse("10.0.0.0", &def.base), 0);
	def.unit_len = 32;
	def.size = 256;
	def.chunk_size = 64;
	{
		struct ueip_pool *ok = ueip_pool_new(&def, 1);
		assert_non_null(ok);
		ueip_pool_free(ok);
	}
	def.size = 0;
	assert_null(ueip_pool_new(&def, 1));
	def.size = UEIP_POOL_UNITS_MAX + 1;
	assert_null(ueip_pool_new(&def, 1));
	def.size = 256;
	def.chunk_size = 32;
	assert_null(ueip_pool_new(&def, 1));
	def.chunk_size = 96;
	assert_null(ueip_pool_new(&def, 1));
	def.chunk_size = 131072;
	assert_null(ueip_pool_new(&def, 1));
	def.chunk_size = 64;
	def.base.family = 0;
	assert_null(ueip_pool_new(&def, 1));
	ueip_pool_free(NULL);
}

static void
test_alloc_until_exhausted(void **state)
{
	struct ueip_pool *pool = pool_make("10.0.0.0", 32, 256, 64);
	uint8_t seen[256] = { 0 };
	uint64_t idx;
	struct ueip_addr a;
	char text[UEIP_ADDR_STRLEN];

	(void)state;
	assert_int_equal(pool->nchunks, 4);
	assert_int_equal(alloc_all(pool, seen, sizeof(seen)), 256);
	assert_int_equal(pool->used_total, 256);
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);	/* stays exhausted */

	/* Clear one: the next allocation gets exactly it back. */
	assert_int_equal(ueip_pool_clear(pool, 77), 0);
	assert_false(ueip_pool_is_set(pool, 77));
	assert_int_equal(ueip_pool_clear(pool, 77), UEIP_ENOTFOUND);	/* already free */
	assert_int_equal(pool->used_total, 255);
	assert_int_equal(ueip_pool_alloc(pool, &idx), 0);
	assert_int_equal(idx, 77);
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);

	/* Index <-> address. */
	ueip_pool_addr(pool, 77, &a);
	ueip_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "10.0.0.77");
	assert_true(ueip_pool_contains(pool, &a, &idx));
	assert_int_equal(idx, 77);
	assert_int_equal(ueip_addr_parse("10.0.1.0", &a), 0);
	assert_false(ueip_pool_contains(pool, &a, &idx));
	assert_int_equal(ueip_addr_parse("9.255.255.255", &a), 0);
	assert_false(ueip_pool_contains(pool, &a, &idx));
	ueip_pool_free(pool);
}

static void
test_mark(void **state)
{
	struct ueip_pool *pool = pool_make("10.0.0.0", 32, 256, 64);
	uint8_t seen[256] = { 0 };

	(void)state;
	/* A static reservation / a restored holding: marked before anything is allocated. */
	assert_int_equal(ueip_pool_mark(pool, 0), 0);
	assert_int_equal(ueip_pool_mark(pool, 200), 0);
	assert_int_equal(ueip_pool_mark(pool, 200), UEIP_EINUSE);
	assert_int_equal(ueip_pool_mark(pool, 256), UEIP_EINVAL);
	assert_int_equal(ueip_pool_mark(pool, UINT64_MAX), UEIP_EINVAL);
	assert_int_equal(ueip_pool_clear(pool, 256), UEIP_ENOTFOUND);
	assert_false(ueip_pool_is_set(pool, 256));
	assert_true(ueip_pool_is_set(pool, 0));
	assert_true(ueip_pool_is_set(pool, 200));
	/* Marked units are never allocated. */
	assert_int_equal(alloc_all(pool, seen, sizeof(seen)), 254);
	assert_false(seen[0]);
	assert_false(seen[200]);
	assert_int_equal(ueip_pool_mark(pool, 5), UEIP_EINUSE);	/* allocated is set too */
	assert_int_equal(pool->used_total, 256);
	ueip_pool_free(pool);
}

static void
test_short_last_chunk(void **state)
{
	/* 200 units in chunks of 64: chunks of 64, 64, 64 and 8. */
	struct ueip_pool *pool = pool_make("10.0.0.0", 32, 200, 64);
	uint8_t seen[256] = { 0 };
	uint64_t idx;

	(void)state;
	assert_int_equal(pool->nchunks, 4);
	assert_int_equal(ueip_pool_chunk_units(pool, 0), 64);
	assert_int_equal(ueip_pool_chunk_units(pool, 3), 8);
	assert_int_equal(alloc_all(pool, seen, sizeof(seen)), 200);
	for (unsigned i = 200; i < 256; i++)
		assert_false(seen[i]);
	assert_int_equal(pool->used_total, 200);
	assert_int_equal(ueip_pool_mark(pool, 200), UEIP_EINVAL);

	/* Free one in the short chunk; it comes back, and nothing past the end does. */
	assert_int_equal(ueip_pool_clear(pool, 195), 0);
	assert_int_equal(ueip_pool_alloc(pool, &idx), 0);
	assert_int_equal(idx, 195);
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);
	ueip_pool_free(pool);

	/* A one-unit pool. */
	pool = pool_make("10.0.0.9", 32, 1, 64);
	assert_int_equal(ueip_pool_alloc(pool, &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);
	ueip_pool_free(pool);
}

/* Ownership table the callback reads: one entry per chunk. */
struct owners {
	enum ueip_chunk_owner of[64];
	unsigned calls;
};

static enum ueip_chunk_owner
owner_from_table(void *arg, const struct ueip_pool *pool, uint32_t chunk)
{
	struct owners *o = arg;

	o->calls++;
	assert_true(chunk < pool->nchunks);
	return chunk < 64 ? o->of[chunk] : UEIP_CHUNK_OTHER;
}

static enum ueip_chunk_owner
owner_even(void *arg, const struct ueip_pool *pool, uint32_t chunk)
{
	return chunk % 2 == 0 ? UEIP_CHUNK_MINE : UEIP_CHUNK_OTHER;
}

static void
test_owner_even_chunks(void **state)
{
	/* /22: 16 chunks of 64. */
	struct ueip_pool *pool = pool_make("10.0.0.0", 32, 1024, 64);
	uint8_t seen[1024] = { 0 };
	uint64_t n, idx;

	(void)state;
	ueip_pool_set_owner_fn(pool, owner_even, NULL);
	/* Another member's holding in an odd chunk is recorded... */
	assert_int_equal(ueip_pool_mark(pool, 64 + 3), 0);
	/* ...and freeing it does not make that chunk allocatable here. */
	assert_int_equal(ueip_pool_mark(pool, 64 + 4), 0);
	assert_int_equal(ueip_pool_clear(pool, 64 + 4), 0);

	n = alloc_all(pool, seen, sizeof(seen));
	assert_int_equal(n, 8 * 64);
	for (unsigned i = 0; i < 1024; i++)
		if (seen[i])
			assert_int_equal(ueip_pool_chunk_of(pool, i) % 2, 0);
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);
	ueip_pool_free(pool);
}

static void
test_blocked_until_reown(void **state)
{
	struct ueip_pool *pool = pool_make("10.0.0.0", 32, 256, 64);
	struct owners o = { .of = { UEIP_CHUNK_MINE, UEIP_CHUNK_BLOCKED, UEIP_CHUNK_BLOCKED,
				    UEIP_CHUNK_OTHER } };
	uint8_t seen[256] = { 0 };
	uint64_t idx;

	(void)state;
	ueip_pool_set_owner_fn(pool, owner_from_table, &o);
	/* Restored holdings in the blocked chunk 1 (reconcile pending). */
	assert_int_equal(ueip_pool_mark(pool, 64 + 10), 0);
	assert_int_equal(ueip_pool_mark(pool, 64 + 11), 0);
	/* Releasing one while still blocked must not make chunk 1 allocatable. */
	assert_int_equal(ueip_pool_clear(pool, 64 + 11), 0);

	assert_int_equal(alloc_all(pool, seen, sizeof(seen)), 64);
	for (unsigned i = 64; i < 256; i++)
		assert_false(seen[i]);
	/* Repeated attempts while blocked change nothing. */
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);

	/* Reconcile done: chunks 1 and 2 become mine. */
	o.of[1] = UEIP_CHUNK_MINE;
	o.of[2] = UEIP_CHUNK_MINE;
	ueip_pool_reown(pool);
	assert_int_equal(alloc_all(pool, seen, sizeof(seen)), 63 + 64);
	assert_false(seen[64 + 10]);	/* the restored holding stays held */
	assert_true(seen[64 + 11]);
	for (unsigned i = 192; i < 256; i++)
		assert_false(seen[i]);	/* chunk 3 is another member's */
	assert_int_equal(pool->used_total, 64 + 64 + 64);
	ueip_pool_free(pool);
}

static void
test_reown_moves_away(void **state)
{
	struct ueip_pool *pool = pool_make("10.0.0.0", 32, 256, 64);
	struct owners o = { .of = { UEIP_CHUNK_MINE, UEIP_CHUNK_MINE, UEIP_CHUNK_MINE,
				    UEIP_CHUNK_MINE } };
	uint8_t seen[256] = { 0 };
	uint64_t idx;

	(void)state;
	ueip_pool_set_owner_fn(pool, owner_from_table, &o);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ueip_pool_alloc(pool, &idx), 0);
		seen[idx] = 1;
	}
	/* Chunk of the first allocations leaves this member. */
	uint32_t gone = ueip_pool_chunk_of(pool, idx);
	o.of[gone] = UEIP_CHUNK_OTHER;
	ueip_pool_reown(pool);
	while (ueip_pool_alloc(pool, &idx) == 0) {
		assert_int_not_equal(ueip_pool_chunk_of(pool, idx), gone);
		assert_false(seen[idx]);
		seen[idx] = 1;
	}
	/* A release in it afterwards does not bring it back either. */
	assert_int_equal(ueip_pool_clear(pool, (uint64_t)gone * 64), 0);
	assert_int_equal(ueip_pool_alloc(pool, &idx), UEIP_EEXHAUSTED);
	ueip_pool_free(pool);
}

static void
test_forget_chunk(void **state)
{
	struct ueip_pool *pool = pool_make("10.0.0.0", 32, 256, 64);
	struct owners o = { .of = { UEIP_CHUNK_MINE, UEIP_CHUNK_MINE, UEIP_CHUNK_MINE,
				    UEIP_CHUNK_MINE } };
	uint8_t seen[256] = { 0 };

	(void)state;
	ueip_pool_set_owner_fn(pool, owner_from_table, &o);
	assert_int_equal(ueip_pool_mark(pool, 64 + 1), 0);
	assert_int_equal(ueip_pool_mark(pool, 64 + 2), 0);
	assert_int_equal(ueip_pool_mark(pool, 128 + 5), 0);
	assert_non_null(ueip_pool_chunk(pool, 1));
	assert_int_equal(pool->used_total, 3);

	/* Chunk 1 is handed to another member: its usage goes, the rest stays. */
	o.of[1] = UEIP_CHUNK_OTHER;
	ueip_pool_forget_chunk(pool, 1);
	ueip_pool_reown(pool);
	assert_null(ueip_pool_chunk(pool, 1));
	assert_false(ueip_pool_is_set(pool, 64 + 1));
	assert_false(ueip_pool_is_set(pool, 64 + 2));
	assert_true(ueip_pool_is_set(pool, 128 + 5));
	assert_int_equal(pool->used_total, 1);
	ueip_pool_forget_chunk(pool, 1);	/* not materialised: no-op */
	ueip_pool_forget_chunk(pool, 3);
	assert_int_equal(pool->used_total, 1);

	assert_int_equal(alloc_all(pool, seen, sizeof(seen)), 64 + 63 + 64);
	for (unsigned i = 64; i < 128; i++)
		assert_false(seen[i]);

	/* Forgetting a full chunk that is mine again gives a clean chunk back. */
	o.of[1] = UEIP_CHUNK_MINE;
	ueip_pool_forget_chunk(pool, 0);
	ueip_pool_reown(pool);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(alloc_all(pool, seen, sizeof(seen)), 64 + 64);
	for (unsigned i = 0; i < 128; i++)
		assert_true(seen[i]);
	assert_int_equal(pool->used_total, 256);
	ueip_pool_free(pool);
}

static enum ueip_chunk_owner
owner_sparse(void *arg, const struct ueip_pool *pool, uint32_t chunk)
{
	unsigned *calls = arg;

	(*calls)++;
	return chunk % 1000 == 999 ? UEIP_CHUNK_MINE : UEIP_CHUNK_OTHER;
}

static void
test_v6_lazy(void **state)
{
	/* 2001:db8::/32 delegating /64: 2^32 units, 2^26 chunks of 64. */
	struct ueip_pool *pool = pool_make("2001:db8::", 64, 1ULL << 32, 64);
	uint64_t idx, last = (1ULL << 32) - 1;
	struct ueip_addr a;
	char text[UEIP_ADDR_STRLEN];
	unsigned calls = 0;

	(void)state;
	assert_int_equal(pool->nchunks, 1u << 26);
	assert_int_equal(ueip_map_count(&pool->chunks), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(ueip_pool_alloc(pool, &idx), 0);
		assert_int_equal(idx, (uint64_t)i);	/* ctz order inside fresh chunks */
	}
	/* 1000 units fill 16 chunks: only those exist. */
	assert_int_equal(ueip_map_count(&pool->chunks), 16);
	assert_true(pool->avail_cap <= 64);

	ueip_pool_addr(pool, 999, &a);
	ueip_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "2001:db8:0:3e7::");

	/* The last unit of the pool. */
	assert_int_equal(ueip_pool_mark(pool, last), 0);
	assert_int_equal(ueip_map_count(&pool->chunks), 17);
	ueip_pool_addr(pool, last, &a);
	ueip_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "2001:db8:ffff:ffff::");
	assert_true(ueip_pool_contains(pool, &a, &idx));
	assert_int_equal(idx, last);
	assert_int_equal(ueip_addr_parse("2001:db9::", &a), 0);
	assert_false(ueip_pool_contains(pool, &a, &idx));
	assert_int_equal(ueip_pool_mark(pool, last + 1), UEIP_EINVAL);
	ueip_pool_free(pool);

	/* Sparse ownership: allocation walks forward, materialising only owned chunks. */
	pool = pool_make("2001:db8::", 64, 1ULL << 32, 64);
	ueip_pool_set_owner_fn(pool, owner_sparse, &calls);
	for (int i = 0; i < 64 * 3; i++) {
		assert_int_equal(ueip_pool_alloc(pool, &idx), 0);
		assert_int_equal(ueip_pool_chunk_of(pool, idx) % 1000, 999);
	}
	assert_int_equal(ueip_map_count(&pool->chunks), 3);
	assert_true(calls < 10000);	/* the scan stops at the next owned chunk */
	ueip_pool_free(pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_bad_defs),
		cmocka_unit_test(test_alloc_until_exhausted),
		cmocka_unit_test(test_mark),
		cmocka_unit_test(test_short_last_chunk),
		cmocka_unit_test(test_owner_even_chunks),
		cmocka_unit_test(test_blocked_until_reown),
		cmocka_unit_test(test_reown_moves_away),
		cmocka_unit_test(test_forget_chunk),
		cmocka_unit_test(test_v6_lazy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
