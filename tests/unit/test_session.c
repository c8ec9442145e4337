// SPDX-License-Identifier: Apache-2.0
/*
 * core/session: keys from SMFs are validated field by field; the table finds
 * a session by key and by held unit, refuses a second session for the same
 * key or the same unit (one address, one holder), and lets a visitor free
 * what it visits (that is how the table is torn down).
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
#include "core/session.h"

static struct ueip_session_key
key_of(const char *supi, const char *dnn, const char *snssai, uint8_t psi)
{
	struct ueip_session_key k;

	memset(&k, 0, sizeof(k));
	snprintf(k.supi, sizeof(k.supi), "%s", supi);
	snprintf(k.dnn, sizeof(k.dnn), "%s", dnn);
	snprintf(k.snssai, sizeof(k.snssai), "%s", snssai);
	k.psi = psi;
	return k;
}

static struct ueip_session_key
good_key(void)
{
	return key_of("imsi-001010000000001", "internet", "1-000001", 5);
}

static struct ueip_session *
session_new(unsigned n, int v4, int v6)
{
	struct ueip_session *s = calloc(1, sizeof(*s));
	char supi[UEIP_SUPI_MAX];

	assert_non_null(s);
	snprintf(supi, sizeof(supi), "imsi-0010100%08u", n);
	s->key = key_of(supi, "internet", "1", 1);
	s->ip_type = v4 && v6 ? UEIP_IP_V4V6 : v4 ? UEIP_IP_V4 : UEIP_IP_V6;
	if (v4) {
		s->v4.present = 1;
		s->v4.pool_id = 1;
		s->v4.index = n;
	}
	if (v6) {
		s->v6.present = 1;
		s->v6.pool_id = 2;
		s->v6.index = n;
	}
	s->alloc_id = 1000 + n;
	return s;
}

static void
test_key_check(void **state)
{
	static const char *const good_supi[] = {
		"imsi-00101", "imsi-001010000000001", "imsi-123456789012345",
		"nai-user@example.com", "nai-x",
	};
	static const char *const bad_supi[] = {
		"", "imsi-", "imsi-0010", "imsi-1234567890123456", "imsi-00101000000000a",
		"imsi-00101 ", "IMSI-001010000000001", "nai-", "nai-a b", "nai-a\tb", "nai-\x7f",
		"msisdn-33612345678", "001010000000001", "imsi--0101000000001",
	};
	static const char *const good_dnn[] = {
		"internet", "ims", "a", "internet.mnc001.mcc001.gprs", "my-apn.example-1",
		/* one label of 63 */
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123",
	};
	static const char *const bad_dnn[] = {
		"", ".", ".internet", "internet.", "inter..net", "inter net", "inter_net",
		"internet/", "int\xc3\xa9rnet",
		/* one label of 64 */
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234",
	};
	static const char *const good_snssai[] = { "1", "255", "1-000001", "2-abcdef" };
	static const char *const bad_snssai[] = {
		"", "256", "1000", "-000001", "1-", "1-00000", "1-0000001", "1-00000g", "a",
		"1-000001-1", " 1", "1 ", "1-00 001",
	};
	struct ueip_session_key k = good_key();

	(void)state;
	assert_int_equal(ueip_session_key_check(&k), 0);
	for (size_t i = 0; i < sizeof(good_supi) / sizeof(*good_supi); i++) {
		k = key_of(good_supi[i], "internet", "1", 1);
		if (ueip_session_key_check(&k))
			fail_msg("good SUPI '%s' rejected", good_supi[i]);
	}
	for (size_t i = 0; i < sizeof(bad_supi) / sizeof(*bad_supi); i++) {
		k = key_of(bad_supi[i], "internet", "1", 1);
		if (ueip_session_key_check(&k) != UEIP_EINVAL)
			fail_msg("bad SUPI '%s' accepted", bad_supi[i]);
	}
	for (size_t i = 0; i < sizeof(good_dnn) / sizeof(*good_dnn); i++) {
		k = key_of("imsi-00101", good_dnn[i], "1", 1);
		if (ueip_session_key_check(&k))
			fail_msg("good DNN '%s' rejected", good_dnn[i]);
	}
	for (size_t i = 0; i < sizeof(bad_dnn) / sizeof(*bad_dnn); i++) {
		k = key_of("imsi-00101", bad_dnn[i], "1", 1);
		if (ueip_session_key_check(&k) != UEIP_EINVAL)
			fail_msg("bad DNN '%s' accepted", bad_dnn[i]);
	}
	for (size_t i = 0; i < sizeof(good_snssai) / sizeof(*good_snssai); i++) {
		k = key_of("imsi-00101", "internet", good_snssai[i], 1);
		if (ueip_session_key_check(&k))
			fail_msg("good S-NSSAI '%s' rejected", good_snssai[i]);
		assert_int_equal(ueip_snssai_check(good_snssai[i]), 0);
	}
	for (size_t i = 0; i < sizeof(bad_snssai) / sizeof(*bad_snssai); i++) {
		k = key_of("imsi-00101", "internet", bad_snssai[i], 1);
		if (ueip_session_key_check(&k) != UEIP_EINVAL)
			fail_msg("bad S-NSSAI '%s' accepted", bad_snssai[i]);
		assert_int_equal(ueip_snssai_check(bad_snssai[i]), UEIP_EINVAL);
	}

	/* PDU session id 1..15. */
	k = good_key();
	k.psi = 1;
	assert_int_equal(ueip_session_key_check(&k), 0);
	k.psi = 15;
	assert_int_equal(ueip_session_key_check(&k), 0);
	k.psi = 0;
	assert_int_equal(ueip_session_key_check(&k), UEIP_EINVAL);
	k.psi = 16;
	assert_int_equal(ueip_session_key_check(&k), UEIP_EINVAL);
	k.psi = 255;
	assert_int_equal(ueip_session_key_check(&k), UEIP_EINVAL);

	/* Fields without a terminating NUL (a key filled from raw bytes). */
	k = good_key();
	memset(k.supi, '1', sizeof(k.supi));
	memcpy(k.supi, "imsi-", 5);
	assert_int_equal(ueip_session_key_check(&k), UEIP_EINVAL);
	k = good_key();
	memset(k.dnn, 'a', sizeof(k.dnn));
	assert_int_equal(ueip_session_key_check(&k), UEIP_EINVAL);
	k = good_key();
	memset(k.snssai, '1', sizeof(k.snssai));
	assert_int_equal(ueip_session_key_check(&k), UEIP_EINVAL);
}

static void
test_key_helpers(void **state)
{
	struct ueip_session_key a = good_key(), b = good_key();
	enum ueip_ip_type t;
	char buf[256];

	(void)state;
	assert_true(ueip_session_key_equal(&a, &b));
	assert_int_equal(ueip_session_key_hash(&a), ueip_session_key_hash(&b));
	b.psi = 6;
	assert_false(ueip_session_key_equal(&a, &b));
	assert_int_not_equal(ueip_session_key_hash(&a), ueip_session_key_hash(&b));
	b = good_key();
	snprintf(b.snssai, sizeof(b.snssai), "1");
	assert_false(ueip_session_key_equal(&a, &b));
	assert_int_not_equal(ueip_session_key_hash(&a), ueip_session_key_hash(&b));
	/* Field boundaries matter: ("ab","c") is not ("a","bc"). */
	a = key_of("imsi-00101", "ab", "1", 1);
	b = key_of("imsi-00101", "a", "b1", 1);
	assert_int_not_equal(ueip_session_key_hash(&a), ueip_session_key_hash(&b));
	assert_int_not_equal(ueip_session_key_hash(&a), UEIP_MAP_EMPTY);

	a = good_key();
	ueip_session_key_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "imsi-001010000000001/internet/1-000001/5");

	assert_int_equal(ueip_ip_type_parse("v4", &t), 0);
	assert_int_equal(t, UEIP_IP_V4);
	assert_int_equal(ueip_ip_type_parse("ipv6", &t), 0);
	assert_int_equal(t, UEIP_IP_V6);
	assert_int_equal(ueip_ip_type_parse("v4v6", &t), 0);
	assert_int_equal(t, UEIP_IP_V4V6);
	assert_int_equal(ueip_ip_type_parse("V4", &t), UEIP_EINVAL);
	assert_int_equal(ueip_ip_type_parse("", &t), UEIP_EINVAL);
	assert_string_equal(ueip_ip_type_name(UEIP_IP_V4), "v4");
	assert_string_equal(ueip_ip_type_name(UEIP_IP_V6), "v6");
	assert_string_equal(ueip_ip_type_name(UEIP_IP_V4V6), "v4v6");
}

static void
test_insert_find_remove(void **state)
{
	struct ueip_sessions t;
	struct ueip_session *a = session_new(1, 1, 1), *b = session_new(2, 1, 0);
	struct ueip_session_key k;

	(void)state;
	ueip_sessions_init(&t);
	assert_null(ueip_sessions_find(&t, &a->key));
	assert_int_equal(ueip_sessions_insert(&t, a), 0);
	assert_int_equal(ueip_sessions_insert(&t, b), 0);
	assert_int_equal(t.count, 2);

	k = a->key;	/* a copy: lookup is by value */
	assert_ptr_equal(ueip_sessions_find(&t, &k), a);
	assert_ptr_equal(ueip_sessions_find(&t, &b->key), b);
	k.psi = 2;
	assert_null(ueip_sessions_find(&t, &k));

	/* by_unit finds the holder of each unit, and nothing for units no one holds. */
	assert_ptr_equal(ueip_sessions_by_unit(&t, ueip_unit_key(1, 1)), a);
	assert_ptr_equal(ueip_sessions_by_unit(&t, ueip_unit_key(2, 1)), a);
	assert_ptr_equal(ueip_sessions_by_unit(&t, ueip_unit_key(1, 2)), b);
	assert_null(ueip_sessions_by_unit(&t, ueip_unit_key(2, 2)));
	assert_null(ueip_sessions_by_unit(&t, ueip_unit_key(3, 1)));

	ueip_sessions_remove(&t, a);
	assert_int_equal(t.count, 1);
	assert_null(ueip_sessions_find(&t, &a->key));
	assert_null(ueip_sessions_by_unit(&t, ueip_unit_key(1, 1)));
	assert_null(ueip_sessions_by_unit(&t, ueip_unit_key(2, 1)));
	assert_ptr_equal(ueip_sessions_find(&t, &b->key), b);
	assert_ptr_equal(ueip_sessions_by_unit(&t, ueip_unit_key(1, 2)), b);

	/* Removed sessions can come back (the caller owns them again). */
	assert_int_equal(ueip_sessions_insert(&t, a), 0);
	assert_ptr_equal(ueip_sessions_by_unit(&t, ueip_unit_key(2, 1)), a);
	assert_int_equal(t.count, 2);
	ueip_sessions_deinit(&t);
	assert_int_equal(t.count, 0);
}

static void
test_conflicts(void **state)
{
	struct ueip_sessions t;
	struct ueip_session *a = session_new(1, 1, 1);
	struct ueip_session *dup_key = session_new(1, 0, 0);
	struct ueip_session *dup_v4 = session_new(7, 1, 0);
	struct ueip_session *dup_v6 = session_new(8, 0, 1);

	(void)state;
	ueip_sessions_init(&t);
	assert_int_equal(ueip_sessions_insert(&t, a), 0);

	/* Same key, other units. */
	dup_key->v4.present = 1;
	dup_key->v4.pool_id = 1;
	dup_key->v4.index = 50;
	assert_int_equal(ueip_sessions_insert(&t, dup_key), UEIP_ECONFLICT);
	/* Other key, a's IPv4 address. */
	dup_v4->v4.index = 1;
	assert_int_equal(ueip_sessions_insert(&t, dup_v4), UEIP_ECONFLICT);
	/* Other key, a's IPv6 prefix. */
	dup_v6->v6.index = 1;
	assert_int_equal(ueip_sessions_insert(&t, dup_v6), UEIP_ECONFLICT);

	/* Nothing changed: a is still found, the refused units are not indexed. */
	assert_int_equal(t.count, 1);
	assert_ptr_equal(ueip_sessions_find(&t, &a->key), a);
	assert_ptr_equal(ueip_sessions_by_unit(&t, ueip_unit_key(1, 1)), a);
	assert_ptr_equal(ueip_sessions_by_unit(&t, ueip_unit_key(2, 1)), a);
	assert_null(ueip_sessions_by_unit(&t, ueip_unit_key(1, 50)));
	assert_null(ueip_sessions_find(&t, &dup_v4->key));
	assert_null(ueip_sessions_find(&t, &dup_v6->key));

	/* Same index in another pool is another unit. */
	dup_v4->v4.pool_id = 3;
	assert_int_equal(ueip_sessions_insert(&t, dup_v4), 0);
	assert_int_equal(t.count, 2);

	/* The refused ones still belong to the caller. */
	free(dup_key);
	free(dup_v6);
	ueip_sessions_deinit(&t);
}

struct visit {
	unsigned count;
	uint8_t seen[200];
	unsigned stop_at;
};

static int
visit_count(struct ueip_session *s, void *arg)
{
	struct visit *v = arg;

	assert_true(s->alloc_id >= 1000 && s->alloc_id < 1200);
	assert_int_equal(v->seen[s->alloc_id - 1000], 0);
	v->seen[s->alloc_id - 1000] = 1;
	v->count++;
	return v->stop_at && v->count == v->stop_at ? 42 : 0;
}

static int
visit_free(struct ueip_session *s, void *arg)
{
	unsigned *n = arg;

	/* Scribble then free: a visitor that read s afterwards would be caught. */
	memset(s, 0xa5, sizeof(*s));
	free(s);
	(*n)++;
	return 0;
}

static void
test_each(void **state)
{
	struct ueip_sessions t;
	struct visit v;
	unsigned freed = 0;

	(void)state;
	ueip_sessions_init(&t);
	memset(&v, 0, sizeof(v));
	assert_int_equal(ueip_sessions_each(&t, visit_count, &v), 0);
	assert_int_equal(v.count, 0);
	for (unsigned i = 0; i < 200; i++)
		assert_int_equal(ueip_sessions_insert(&t, session_new(i, i % 2, i % 3 != 1)), 0);
	assert_int_equal(t.count, 200);

	assert_int_equal(ueip_sessions_each(&t, visit_count, &v), 0);
	assert_int_equal(v.count, 200);
	for (unsigned i = 0; i < 200; i++)
		assert_int_equal(v.seen[i], 1);

	/* Early stop returns the visitor's value. */
	memset(&v, 0, sizeof(v));
	v.stop_at = 10;
	assert_int_equal(ueip_sessions_each(&t, visit_count, &v), 42);
	assert_int_equal(v.count, 10);

	/* A visitor may free the session it is given. */
	assert_int_equal(ueip_sessions_each(&t, visit_free, &freed), 0);
	assert_int_equal(freed, 200);
	/* The sessions are gone; release the indexes only. */
	ueip_map_deinit(&t.by_key);
	ueip_map_deinit(&t.by_unit);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_check),
		cmocka_unit_test(test_key_helpers),
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
