// SPDX-License-Identifier: Apache-2.0
/*
 * core/addr: text from configuration and from clients is parsed strictly
 * (UEIP_EMALFORMED rather than a guess), and a pool's unit index maps to
 * exactly one address or delegated prefix and back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/addr.h"
#include "core/err.h"

static struct ueip_addr
addr(const char *text)
{
	struct ueip_addr a;

	assert_int_equal(ueip_addr_parse(text, &a), 0);
	return a;
}

static void
assert_formats_as(const struct ueip_addr *a, const char *text)
{
	char buf[UEIP_ADDR_STRLEN];

	ueip_addr_format(a, buf, sizeof(buf));
	assert_string_equal(buf, text);
}

static void
test_parse_format_v4(void **state)
{
	struct ueip_addr a;
	static const uint8_t want[4] = { 100, 64, 0, 1 };

	(void)state;
	assert_int_equal(ueip_addr_parse("100.64.0.1", &a), 0);
	assert_int_equal(a.family, UEIP_AF_INET);
	assert_memory_equal(a.b, want, 4);
	assert_int_equal(ueip_addr_v4(&a), 0x64400001u);
	assert_formats_as(&a, "100.64.0.1");

	ueip_addr_set_v4(&a, 0xffffffffu);
	assert_int_equal(a.family, UEIP_AF_INET);
	assert_formats_as(&a, "255.255.255.255");
	ueip_addr_set_v4(&a, 0);
	assert_formats_as(&a, "0.0.0.0");
}

static void
test_parse_format_v6(void **state)
{
	static const char *const canon[] = {
		"2001:db8::1", "::", "::1", "fe80::1:2:3:4",
		"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:10.0.0.1",
	};
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					  0, 0, 0, 0, 0, 0, 0, 1 };
	struct ueip_addr a;

	(void)state;
	assert_int_equal(ueip_addr_parse("2001:0db8:0000::0001", &a), 0);
	assert_int_equal(a.family, UEIP_AF_INET6);
	assert_memory_equal(a.b, want, 16);
	assert_formats_as(&a, "2001:db8::1");	/* canonical text */
	for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		a = addr(canon[i]);
		assert_int_equal(a.family, UEIP_AF_INET6);
		assert_formats_as(&a, canon[i]);
	}
}

static void
test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"", " ", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1.2.3.-1", " 1.2.3.4", "1.2.3.4 ",
		"1.2.3.4/32", "a.b.c.d", "1..2.3", "2001:db8:::1", "2001:db8::g", "2001:db8::1::2",
		"1:2:3:4:5:6:7:8:9", "[2001:db8::1]", "2001:db8::1%eth0", "localhost",
		"12345::", "::ffff:1.2.3", "2001:db8::1\n",
		/* longer than any address text */
		"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001",
	};
	struct ueip_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ueip_addr_parse(bad[i], &a);
		if (rc != UEIP_EMALFORMED)
			fail_msg("'%s' parsed (%d)", bad[i], rc);
	}
	assert_int_equal(ueip_addr_parse(NULL, &a), UEIP_EMALFORMED);
}

static void
test_prefix_parse(void **state)
{
	static const char *const bad[] = {
		"10.0.0.1/24",		/* host bits set */
		"10.0.0.128/24", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0", "10.0.0.0/-1",
		"10.0.0.0/+24", "10.0.0.0/ 24", "10.0.0.0/24 ", "10.0.0.0/24x", "10.0.0.0/2.4",
		"/24", "10.0.0/24", "10.0.0.0//24", "10.0.0.0/99999999999999999999",
		"2001:db8::1/64",	/* host bits set */
		"2001:db8:0:0:8000::/64", "2001:db8::/129", "2001:db8::/", "2001:db8::",
		"2001:db8:1::/32",	/* bit 47 set under a /32 */
	};
	struct ueip_addr a;
	uint8_t len = 0;

	(void)state;
	assert_int_equal(ueip_prefix_parse("10.0.0.0/24", &a, &len), 0);
	assert_int_equal(a.family, UEIP_AF_INET);
	assert_int_equal(len, 24);
	assert_formats_as(&a, "10.0.0.0");
	assert_int_equal(ueip_prefix_parse("10.0.0.5/32", &a, &len), 0);
	assert_int_equal(len, 32);
	assert_int_equal(ueip_prefix_parse("0.0.0.0/0", &a, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(ueip_prefix_parse("2001:db8::/32", &a, &len), 0);
	assert_int_equal(a.family, UEIP_AF_INET6);
	assert_int_equal(len, 32);
	assert_formats_as(&a, "2001:db8::");
	assert_int_equal(ueip_prefix_parse("2001:db8:0:100::/56", &a, &len), 0);
	assert_int_equal(len, 56);
	assert_int_equal(ueip_prefix_parse("2001:db8::1/128", &a, &len), 0);
	assert_int_equal(len, 128);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;
		len = 77;
		rc = ueip_prefix_parse(bad[i], &a, &len);
		if (rc != UEIP_EMALFORMED)
			fail_msg("'%s' accepted as a prefix (%d)", bad[i], rc);
		assert_int_equal(len, 77);	/* no partial result */
	}
	assert_int_equal(ueip_prefix_parse(NULL, &a, &len), UEIP_EMALFORMED);
}

static void
test_equal_and_format_guard(void **state)
{
	struct ueip_addr a = addr("10.0.0.1"), b = addr("10.0.0.1"), c = addr("10.0.0.2");
	struct ueip_addr v6 = addr("::a00:1");	/* same low bytes, other family */
	struct ueip_addr junk;
	char buf[8];

	(void)state;
	assert_true(ueip_addr_equal(&a, &b));
	assert_false(ueip_addr_equal(&a, &c));
	assert_false(ueip_addr_equal(&a, &v6));
	assert_false(ueip_addr_equal(&v6, &a));

	/* Formatters never fail: an unknown family prints "?", a short buffer truncates. */
	memset(&junk, 0, sizeof(junk));
	junk.family = 9;
	ueip_addr_format(&junk, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	ueip_addr_format(&a, buf, 4);
	assert_true(strlen(buf) < 4);
}

static void
test_offset_v4(void **state)
{
	struct ueip_addr base = addr("10.0.0.0"), out;
	struct ueip_addr a = addr("10.0.1.5");
	uint64_t off = 99;

	(void)state;
	assert_int_equal(ueip_addr_offset(&base, 32, &base, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(ueip_addr_offset(&base, 32, &a, &off), 0);
	assert_int_equal(off, 261);
	ueip_addr_at(&base, 32, 261, &out);
	assert_true(ueip_addr_equal(&out, &a));
	ueip_addr_at(&base, 32, 0, &out);
	assert_true(ueip_addr_equal(&out, &base));

	/* Round trip across a byte carry and to the top of the space. */
	base = addr("100.64.0.0");
	for (uint64_t i = 0; i < 70000; i += 257) {
		ueip_addr_at(&base, 32, i, &out);
		assert_int_equal(ueip_addr_v4(&out), 0x64400000u + i);
		assert_int_equal(ueip_addr_offset(&base, 32, &out, &off), 0);
		assert_int_equal(off, i);
	}
	base = addr("255.255.255.0");
	ueip_addr_at(&base, 32, 255, &out);
	assert_formats_as(&out, "255.255.255.255");

	/* Below base, or another family. */
	base = addr("10.0.1.0");
	a = addr("10.0.0.255");
	assert_int_equal(ueip_addr_offset(&base, 32, &a, &off), UEIP_EINVAL);
	a = addr("::a00:105");
	assert_int_equal(ueip_addr_offset(&base, 32, &a, &off), UEIP_EINVAL);
}

static void
assert_at(const struct ueip_addr *base, uint8_t unit_len, uint64_t offset, const char *text)
{
	struct ueip_addr out, want = addr(text);
	uint64_t back = ~0ULL;

	ueip_addr_at(base, unit_len, offset, &out);
	if (!ueip_addr_equal(&out, &want)) {
		char got[UEIP_ADDR_STRLEN];
		ueip_addr_format(&out, got, sizeof(got));
		fail_msg("offset %llu /%u: got %s, want %s", (unsigned long long)offset, unit_len,
			 got, text);
	}
	assert_int_equal(ueip_addr_offset(base, unit_len, &want, &back), 0);
	assert_int_equal(back, offset);
}

static void
test_offset_v6_64(void **state)
{
	struct ueip_addr base = addr("2001:db8::"), a;
	uint64_t off;

	(void)state;
	/* 2001:db8::/32 delegating /64s: 2^32 units. */
	assert_at(&base, 64, 0, "2001:db8::");
	assert_at(&base, 64, 1, "2001:db8:0:1::");
	assert_at(&base, 64, 2, "2001:db8:0:2::");
	assert_at(&base, 64, 0xffff, "2001:db8:0:ffff::");
	assert_at(&base, 64, 0x10000, "2001:db8:1::");
	assert_at(&base, 64, 0x12345678, "2001:db8:1234:5678::");
	assert_at(&base, 64, 0xffffffffULL, "2001:db8:ffff:ffff::");

	/* A base that is not at the start of its parent: offsets count from it. */
	base = addr("2001:db8:0:fffe::");
	assert_at(&base, 64, 0, "2001:db8:0:fffe::");
	assert_at(&base, 64, 1, "2001:db8:0:ffff::");
	assert_at(&base, 64, 2, "2001:db8:1::");	/* carry across a 16-bit group */

	/* Host bits below the unit set: not a unit. */
	base = addr("2001:db8::");
	a = addr("2001:db8:0:1::1");
	assert_int_equal(ueip_addr_offset(&base, 64, &a, &off), UEIP_EINVAL);
	a = addr("2001:db8:0:1:8000::");
	assert_int_equal(ueip_addr_offset(&base, 64, &a, &off), UEIP_EINVAL);
	/* Below base. */
	base = addr("2001:db8:0:10::");
	a = addr("2001:db8:0:f::");
	assert_int_equal(ueip_addr_offset(&base, 64, &a, &off), UEIP_EINVAL);
	/* Far away (differs above the 2^40-unit window). */
	base = addr("2001:db8::");
	a = addr("2002:db8::");
	assert_int_equal(ueip_addr_offset(&base, 64, &a, &off), UEIP_EINVAL);
	a = addr("3001:db8::");
	assert_int_equal(ueip_addr_offset(&base, 64, &a, &off), UEIP_EINVAL);
	/* Other family. */
	a = addr("32.1.13.184");
	assert_int_equal(ueip_addr_offset(&base, 64, &a, &off), UEIP_EINVAL);
}

static void
test_offset_v6_56(void **state)
{
	struct ueip_addr base = addr("2001:db8::"), a;
	uint64_t off;

	(void)state;
	/* 2001:db8::/32 delegating /56s: 2^24 units, 256 per /48. */
	assert_at(&base, 56, 0, "2001:db8::");
	assert_at(&base, 56, 1, "2001:db8:0:100::");
	assert_at(&base, 56, 2, "2001:db8:0:200::");
	assert_at(&base, 56, 255, "2001:db8:0:ff00::");
	assert_at(&base, 56, 256, "2001:db8:1::");
	assert_at(&base, 56, 0xffffff, "2001:db8:ffff:ff00::");

	a = addr("2001:db8:0:180::");	/* bit 56 set */
	assert_int_equal(ueip_addr_offset(&base, 56, &a, &off), UEIP_EINVAL);
	a = addr("2001:db8:0:101::");
	assert_int_equal(ueip_addr_offset(&base, 56, &a, &off), UEIP_EINVAL);
	a = addr("2001:db8:0:0:0:0:0:1");
	assert_int_equal(ueip_addr_offset(&base, 56, &a, &off), UEIP_EINVAL);
	base = addr("2001:db8:5::");
	a = addr("2001:db8:4:ff00::");
	assert_int_equal(ueip_addr_offset(&base, 56, &a, &off), UEIP_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format_v4),
		cmocka_unit_test(test_parse_format_v6),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_equal_and_format_guard),
		cmocka_unit_test(test_offset_v4),
		cmocka_unit_test(test_offset_v6_64),
		cmocka_unit_test(test_offset_v6_56),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
