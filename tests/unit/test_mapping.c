// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the public mapping table: indexes, quotas counts, expiry heap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/mapping.h"

static struct ueip_mapping *
new_mapping(uint8_t kind, uint32_t internal, uint8_t proto, uint16_t iport, uint32_t external,
	    uint16_t eport, int64_t expires)
{
	struct ueip_mapping *m = calloc(1, sizeof(*m));

	m->kind = kind;
	m->internal = internal;
	m->proto = proto;
	m->internal_port = iport;
	m->external = external;
	m->external_port = eport;
	m->expires_ms = expires;
	return m;
}

static void
test_insert_lookup_conflict(void **state)
{
	struct ueip_mappings t;
	struct ueip_mapping *d = new_mapping(UEIP_MAP_DEDICATED, 0x64400002, 0, 0, 0xC6336407, 0, 100);
	struct ueip_mapping *p = new_mapping(UEIP_MAP_PORT, 0x64400002, 6, 80, 0xC6336407, 80, 200);
	struct ueip_mapping *clash = new_mapping(UEIP_MAP_PORT, 0x64400003, 6, 80, 0xC6336407, 80, 200);

	ueip_mappings_init(&t);
	assert_int_equal(ueip_mappings_insert(&t, d), 0);
	assert_int_equal(ueip_mappings_insert(&t, p), 0);
	assert_int_equal(d->id, 1);
	assert_int_equal(p->id, 2);
	/* same external endpoint for another UE: refused, table unchanged */
	assert_int_equal(ueip_mappings_insert(&t, clash), UEIP_ECONFLICT);
	assert_int_equal(t.count, 2);
	free(clash);
	assert_ptr_equal(ueip_mappings_by_internal(&t, ueip_mapping_endpoint_key(0x64400002, 0, 0)), d);
	assert_ptr_equal(ueip_mappings_by_external(&t, ueip_mapping_endpoint_key(0xC6336407, 6, 80)), p);
	assert_int_equal(ueip_mappings_counts(&t, 0x64400002).dedicated, 1);
	assert_int_equal(ueip_mappings_counts(&t, 0x64400002).ports, 1);
	ueip_mappings_remove(&t, p);
	free(p);
	assert_int_equal(ueip_mappings_counts(&t, 0x64400002).ports, 0);
	assert_null(ueip_mappings_by_external(&t, ueip_mapping_endpoint_key(0xC6336407, 6, 80)));
	ueip_mappings_deinit(&t);
}

static void
test_peer_keys_include_remote(void **state)
{
	struct ueip_mappings t;
	struct ueip_mapping *a = new_mapping(UEIP_MAP_PEER, 0x64400002, 17, 5000, 0xC6336407, 20000, 10);
	struct ueip_mapping *b = new_mapping(UEIP_MAP_PEER, 0x64400002, 17, 5000, 0xC6336407, 20000, 10);

	a->remote = 0xCB007102;
	a->remote_port = 6000;
	b->remote = 0xCB007103;
	b->remote_port = 6000;
	ueip_mappings_init(&t);
	assert_int_equal(ueip_mappings_insert(&t, a), 0);
	assert_int_equal(ueip_mappings_insert(&t, b), 0);	/* two peers of one endpoint */
	assert_ptr_equal(ueip_mappings_by_internal(&t, ueip_mapping_internal_key(b)), b);
	assert_int_equal(ueip_mappings_counts(&t, 0x64400002).ports, 2);
	ueip_mappings_deinit(&t);
}

static void
test_expiry_order_and_renewal(void **state)
{
	struct ueip_mappings t;
	struct ueip_mapping *m[5];
	int64_t when[5] = { 50, 10, 40, 20, 30 };

	ueip_mappings_init(&t);
	for (int i = 0; i < 5; i++) {
		m[i] = new_mapping(UEIP_MAP_PORT, 0x64400002, 6, (uint16_t)(100 + i), 0xC6336407,
				   (uint16_t)(100 + i), when[i]);
		assert_int_equal(ueip_mappings_insert(&t, m[i]), 0);
	}
	/* renew the one due at 10 to 60: it must not surface at 10 */
	assert_int_equal(ueip_mappings_set_expiry(&t, m[1], 60), 0);
	assert_null(ueip_mappings_pop_expired(&t, 15));
	assert_ptr_equal(ueip_mappings_pop_expired(&t, 35), m[3]);
	assert_ptr_equal(ueip_mappings_pop_expired(&t, 35), m[4]);
	assert_null(ueip_mappings_pop_expired(&t, 35));
	/* a removed mapping never surfaces */
	ueip_mappings_remove(&t, m[2]);
	free(m[2]);
	assert_ptr_equal(ueip_mappings_pop_expired(&t, 100), m[0]);
	assert_ptr_equal(ueip_mappings_pop_expired(&t, 100), m[1]);
	assert_null(ueip_mappings_pop_expired(&t, 100));
	ueip_mappings_deinit(&t);
}

/* Many renewals keep the heap bounded (stale entries are compacted away). */
static void
test_heap_stays_bounded(void **state)
{
	struct ueip_mappings t;
	struct ueip_mapping *m = new_mapping(UEIP_MAP_DEDICATED, 1, 0, 0, 2, 0, 1);

	ueip_mappings_init(&t);
	assert_int_equal(ueip_mappings_insert(&t, m), 0);
	for (int i = 2; i < 100000; i++)
		assert_int_equal(ueip_mappings_set_expiry(&t, m, i), 0);
	assert_true(t.nheap <= 2 * t.count + 65);
	assert_ptr_equal(ueip_mappings_pop_expired(&t, 100000), m);
	ueip_mappings_deinit(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_lookup_conflict),
		cmocka_unit_test(test_peer_keys_include_remote),
		cmocka_unit_test(test_expiry_order_and_renewal),
		cmocka_unit_test(test_heap_stays_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
