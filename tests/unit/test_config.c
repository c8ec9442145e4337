// SPDX-License-Identifier: Apache-2.0
/*
 * ueipd configuration: values land where they should, defaults apply, and
 * every class of error names file:line: key as the operator will read it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "daemon/config.h"

/*
 * etc/ueipd.yaml: from UEIP_SOURCE_DIR if the build defines it, else next to
 * this file (__FILE__ is relative to the build root, where meson runs tests),
 * else from the cwd (a standalone build in the source root).
 */
static void
shipped_config_path(char *buf, size_t size)
{
#ifdef UEIP_SOURCE_DIR
	snprintf(buf, size, "%s/etc/ueipd.yaml", UEIP_SOURCE_DIR);
#else
	const char *slash = strrchr(__FILE__, '/');

	snprintf(buf, size, "%.*s/../../etc/ueipd.yaml", slash ? (int)(slash - __FILE__) : 1,
		 slash ? __FILE__ : ".");
	if (access(buf, R_OK) != 0)
		snprintf(buf, size, "etc/ueipd.yaml");
#endif
}

#define KEY16 "000102030405060708090a0b0c0d0e0f"

/* Six lines: a valid set with one member. */
#define SET_OK                                                                  \
	"set:\n"                                                                \
	"  id: set-a\n"                                                         \
	"  member: smf1\n"                                                      \
	"  key: " KEY16 "\n"                                                    \
	"  members:\n"                                                          \
	"    - { id: smf1, address: 127.0.0.1:7101 }\n"
/* Two lines (7, 8 after SET_OK). */
#define POOL_OK                                                                 \
	"pools:\n"                                                              \
	"  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n"
/* Two lines. */
#define TAIL                                                                    \
	"store: { path: /tmp/x.db }\n"                                          \
	"control: { socket: /tmp/x.sock }\n"

struct error_case {
	const char *yaml;
	const char *expect;	/* substring of why */
};

static struct ueip_config *
cfg_new(void)
{
	struct ueip_config *cfg = malloc(sizeof(*cfg));

	assert_non_null(cfg);
	memset(cfg, 0x5a, sizeof(*cfg));
	return cfg;
}

static int
parse(const char *yaml, struct ueip_config *cfg, char *why, size_t why_size)
{
	return ueip_config_parse("t.yaml", yaml, strlen(yaml), cfg, why, why_size);
}

static void
expect_ok(const char *yaml, struct ueip_config *cfg)
{
	char why[512] = "";
	int rc = parse(yaml, cfg, why, sizeof(why));

	if (rc)
		print_error("unexpected error: %s\n", why);
	assert_int_equal(rc, 0);
}

static void
check_cases(const struct error_case *cases, size_t n)
{
	struct ueip_config *cfg = cfg_new(), *copy = malloc(sizeof(*cfg));
	char why[512];

	assert_non_null(copy);
	memcpy(copy, cfg, sizeof(*cfg));
	for (size_t i = 0; i < n; i++) {
		int rc = parse(cases[i].yaml, cfg, why, sizeof(why));
		if (rc != UEIP_ECONFIG || !strstr(why, cases[i].expect))
			print_error("case %zu: rc %d, why \"%s\", want \"%s\"\n", i, rc, why,
				    cases[i].expect);
		assert_int_equal(rc, UEIP_ECONFIG);
		assert_non_null(strstr(why, cases[i].expect));
		assert_memory_equal(cfg, copy, sizeof(*cfg));
	}
	free(copy);
	free(cfg);
}

#define CHECK_CASES(cases) check_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* ---- good files ---------------------------------------------------------------- */

static const char full_yaml[] =
	"set:\n"
	"  id: set-a\n"
	"  member: smf2\n"
	"  epoch: 7\n"
	"  key: " KEY16 KEY16 "\n"
	"  members:\n"
	"    - { id: smf1, address: \"[::1]:7101\" }\n"
	"    - id: smf2\n"
	"      address: smf2.example.net:7102\n"
	"  recovery_timeout_ms: 1500\n"
	"chunk_size: 1024\n"
	"quarantine_seconds: 0\n"
	"pools:\n"
	"  - { name: inet4, dnn: internet, snssai: 1-00abCD, ipv4: 100.64.0.0/10 }\n"
	"  - { name: range4, dnn: ims, ipv4: 10.1.0.1-10.1.0.254 }\n"
	"  - { name: inet6, dnn: internet, ipv6: \"2001:db8::/32\", delegated_length: 56 }\n"
	"static:\n"
	"  - { supi: imsi-001010000000001, dnn: internet, address: 100.64.0.10 }\n"
	"  - { supi: imsi-001010000000001, dnn: internet, address: \"2001:db8:0:100::/56\" }\n"
	"  - { supi: nai-alice@example.net, dnn: ims, address: 10.1.0.254 }\n"
	"store:\n"
	"  path: /var/lib/ueip/smf2.db\n"
	"control:\n"
	"  socket: /run/ueip/smf2.sock\n"
	"metrics:\n"
	"  address: \"[2001:db8::1]:9101\"\n"
	"log:\n"
	"  level: debug\n";

static void
test_full(void **state)
{
	struct ueip_config *cfg = cfg_new();
	char text[UEIP_ADDR_STRLEN];

	(void)state;
	expect_ok(full_yaml, cfg);
	assert_string_equal(cfg->file, "t.yaml");
	assert_string_equal(cfg->set_id, "set-a");
	assert_string_equal(cfg->member, "smf2");
	assert_int_equal(cfg->epoch, 7);
	assert_int_equal(cfg->key_len, 32);
	assert_int_equal(cfg->key[0], 0x00);
	assert_int_equal(cfg->key[15], 0x0f);
	assert_int_equal(cfg->key[31], 0x0f);
	assert_int_equal(cfg->nmembers, 2);
	assert_string_equal(cfg->members[0].id, "smf1");
	assert_string_equal(cfg->members[0].address, "[::1]:7101");
	assert_string_equal(cfg->members[1].address, "smf2.example.net:7102");
	assert_int_equal(cfg->recovery_timeout_ms, 1500);
	assert_int_equal(cfg->chunk_size, 1024);
	assert_int_equal(cfg->quarantine_seconds, 0);

	assert_int_equal(cfg->npools, 3);
	assert_string_equal(cfg->pools[0].name, "inet4");
	assert_string_equal(cfg->pools[0].dnn, "internet");
	assert_string_equal(cfg->pools[0].snssai, "1-00abCD");
	ueip_addr_format(&cfg->pools[0].base, text, sizeof(text));
	assert_string_equal(text, "100.64.0.0");
	assert_int_equal(cfg->pools[0].unit_len, 32);
	assert_int_equal(cfg->pools[0].parent_len, 10);
	assert_int_equal(cfg->pools[0].size, 1u << 22);
	assert_int_equal(cfg->pools[0].chunk_size, 1024);

	ueip_addr_format(&cfg->pools[1].base, text, sizeof(text));
	assert_string_equal(text, "10.1.0.1");
	assert_int_equal(cfg->pools[1].size, 254);
	assert_int_equal(cfg->pools[1].parent_len, 24);
	assert_string_equal(cfg->pools[1].snssai, "");

	ueip_addr_format(&cfg->pools[2].base, text, sizeof(text));
	assert_string_equal(text, "2001:db8::");
	assert_int_equal(cfg->pools[2].base.family, UEIP_AF_INET6);
	assert_int_equal(cfg->pools[2].parent_len, 32);
	assert_int_equal(cfg->pools[2].unit_len, 56);
	assert_int_equal(cfg->pools[2].size, 1u << 24);

	assert_int_equal(cfg->nstatics, 3);
	assert_string_equal(cfg->statics[0].supi, "imsi-001010000000001");
	ueip_addr_format(&cfg->statics[0].address, text, sizeof(text));
	assert_string_equal(text, "100.64.0.10");
	assert_int_equal(cfg->statics[0].prefix_len, 32);
	ueip_addr_format(&cfg->statics[1].address, text, sizeof(text));
	assert_string_equal(text, "2001:db8:0:100::");
	assert_int_equal(cfg->statics[1].prefix_len, 56);
	assert_string_equal(cfg->statics[2].dnn, "ims");

	assert_string_equal(cfg->store_path, "/var/lib/ueip/smf2.db");
	assert_string_equal(cfg->control_socket, "/run/ueip/smf2.sock");
	assert_string_equal(cfg->metrics_address, "[2001:db8::1]:9101");
	assert_string_equal(cfg->log_level, "debug");
	free(cfg);
}

static void
test_defaults(void **state)
{
	struct ueip_config *cfg = cfg_new();

	(void)state;
	expect_ok(SET_OK
		  "pools:\n"
		  "  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n"
		  "  - { name: p6, dnn: internet, ipv6: \"2001:db8::/48\" }\n"
		  "static:\n" TAIL, cfg);
	assert_int_equal(cfg->epoch, 1);
	assert_int_equal(cfg->recovery_timeout_ms, 3000);
	assert_int_equal(cfg->chunk_size, 256);
	assert_int_equal(cfg->quarantine_seconds, 60);
	assert_string_equal(cfg->log_level, "info");
	assert_string_equal(cfg->metrics_address, "");
	assert_int_equal(cfg->key_len, 16);
	assert_int_equal(cfg->nstatics, 0);
	assert_string_equal(cfg->pools[0].snssai, "");
	assert_int_equal(cfg->pools[0].unit_len, 32);
	assert_int_equal(cfg->pools[0].parent_len, 24);
	assert_int_equal(cfg->pools[0].size, 256);
	assert_int_equal(cfg->pools[0].chunk_size, 256);
	assert_int_equal(cfg->pools[1].unit_len, 64);
	assert_int_equal(cfg->pools[1].parent_len, 48);
	assert_int_equal(cfg->pools[1].size, 65536);
	free(cfg);
}

static void
test_shipped_default(void **state)
{
	struct ueip_config *cfg = cfg_new();
	char why[512] = "", path[512];
	int rc;

	(void)state;
	shipped_config_path(path, sizeof(path));
	rc = ueip_config_load(path, cfg, why, sizeof(why));
	if (rc)
		print_error("etc/ueipd.yaml: %s\n", why);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg->set_id, "set-a");
	assert_string_equal(cfg->member, "smf1");
	assert_int_equal(cfg->nmembers, 1);
	assert_string_equal(cfg->members[0].address, "127.0.0.1:7101");
	assert_int_equal(cfg->npools, 2);
	assert_int_equal(cfg->pools[0].size, 65536);
	assert_int_equal(cfg->pools[1].unit_len, 64);
	assert_int_equal(cfg->pools[1].size, 65536);
	assert_int_equal(cfg->nstatics, 1);
	assert_string_equal(cfg->store_path, "/tmp/ueip/smf1.db");
	assert_string_equal(cfg->control_socket, "/tmp/ueip/smf1.sock");
	assert_string_equal(cfg->metrics_address, "127.0.0.1:9101");
	free(cfg);
}

static void
test_untouched_on_failure(void **state)
{
	struct ueip_config *cfg = cfg_new(), *copy = malloc(sizeof(*cfg));
	char why[512];

	(void)state;
	assert_non_null(copy);
	memcpy(copy, cfg, sizeof(*cfg));
	/* Valid up to the very last check (static outside every pool). */
	assert_int_equal(parse(SET_OK POOL_OK
			       "static:\n"
			       "  - { supi: imsi-00101000001, dnn: internet, address: 10.9.9.9 }\n"
			       TAIL, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_memory_equal(cfg, copy, sizeof(*cfg));
	free(copy);
	free(cfg);
}

/* ---- errors --------------------------------------------------------------------- */

static void
test_errors_yaml(void **state)
{
	static const struct error_case cases[] = {
		{ "set:\n  id: set-a\n   member: x\n", "t.yaml:3: syntax error: " },
		{ "set:\n  id: [a, b\n", "t.yaml:3: syntax error: " },
		{ "", "t.yaml:1: (top): expected a mapping" },
		{ "- a\n- b\n", "t.yaml:1: (top): expected a mapping" },
		{ "---\na: 1\n---\nb: 2\n", "t.yaml:3: (top): more than one YAML document" },
		{ SET_OK "pools: &p\n  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n" TAIL,
		  "t.yaml:7: pools: anchors are not supported" },
		{ SET_OK POOL_OK TAIL "log: *p\n", "t.yaml:11: log: aliases are not supported" },
		{ SET_OK POOL_OK TAIL "chunk_size: !!int 64\n",
		  "t.yaml:11: chunk_size: tags are not supported" },
		{ "set:\n  id: \"a\\0b\"\n", "t.yaml:2: set.id: NUL character in a value" },
		{ "? [a]\n: b\n", "t.yaml:1: (top): keys must be plain values" },
		{ "set:\n  id: a\n  id: b\n", "t.yaml:3: set.id: duplicate key (first at line 2)" },
		{ "set: {}\nset: {}\n", "t.yaml:2: set: duplicate key (first at line 1)" },
		{ "a: \"\\xff\xff\"\n", "syntax error" },
		{ "set:\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\n",
		  "t.yaml:2: set: key longer than 64 characters" },
		{ "set:\n  \"\": 1\n", "t.yaml:2: set.\"\": unknown key" },
	};

	(void)state;
	CHECK_CASES(cases);
}

static void
test_errors_schema(void **state)
{
	static const struct error_case cases[] = {
		{ SET_OK POOL_OK TAIL "colour: blue\n", "t.yaml:11: colour: unknown key" },
		{ "set:\n  id: set-a\n  colour: blue\n", "t.yaml:3: set.colour: unknown key" },
		{ SET_OK "pools:\n  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24, mtu: 1 }\n" TAIL,
		  "t.yaml:8: pools[0].mtu: unknown key" },
		{ SET_OK POOL_OK TAIL "chunk_size: big\n",
		  "t.yaml:11: chunk_size: not a non-negative integer" },
		{ SET_OK POOL_OK TAIL "chunk_size: -64\n",
		  "t.yaml:11: chunk_size: not a non-negative integer" },
		{ SET_OK POOL_OK TAIL "chunk_size: 100\n",
		  "t.yaml:11: chunk_size: 100 is not a power of two" },
		{ SET_OK POOL_OK TAIL "chunk_size: 32\n",
		  "t.yaml:11: chunk_size: 32 is out of range 64..16384" },
		{ SET_OK POOL_OK TAIL "chunk_size: 99999999999999999999999\n",
		  "t.yaml:11: chunk_size: not a non-negative integer" },
		{ SET_OK POOL_OK TAIL "chunk_size: 99999999999999999999\n",
		  "t.yaml:11: chunk_size: out of range 64..16384" },
		{ SET_OK POOL_OK TAIL "quarantine_seconds: 90000\n",
		  "t.yaml:11: quarantine_seconds: 90000 is out of range 0..86400" },
		{ SET_OK POOL_OK TAIL "quarantine_seconds:\n",
		  "t.yaml:11: quarantine_seconds: has no value" },
		{ SET_OK POOL_OK TAIL "quarantine_seconds: [1]\n",
		  "t.yaml:11: quarantine_seconds: expected a single value, not a list" },
		{ "set: 5\n" POOL_OK TAIL, "t.yaml:1: set: expected a mapping, not a single value" },
		{ SET_OK "pools: { name: x }\n" TAIL, "t.yaml:7: pools: expected a list, not a mapping" },
		{ SET_OK "pools:\n  - p4\n" TAIL, "t.yaml:8: pools[0]: expected a mapping" },
		{ SET_OK "pools: []\n" TAIL, "t.yaml:7: pools: needs at least 1 entries" },
		{ SET_OK POOL_OK "control: { socket: /tmp/x.sock }\n",
		  "t.yaml:1: store: required key missing" },
		{ SET_OK POOL_OK "store: {}\ncontrol: { socket: /tmp/x.sock }\n",
		  "t.yaml:9: store.path: required key missing" },
		{ "set:\n  id: set-a\n  key: " KEY16 "\n  members: [{ id: smf1, address: a:1 }]\n"
		  POOL_OK TAIL, "t.yaml:1: set.member: required key missing" },
		{ SET_OK "pools:\n  - { name: p4, ipv4: 10.0.0.0/24 }\n" TAIL,
		  "t.yaml:8: pools[0].dnn: required key missing" },
		{ SET_OK POOL_OK TAIL "log: { level: loud }\n",
		  "t.yaml:11: log.level: must be one of error, warn, info, debug" },
		{ SET_OK POOL_OK "store: { path: /tmp/x.db }\ncontrol: { socket: \"\" }\n",
		  "t.yaml:10: control.socket: is empty" },
		{ SET_OK POOL_OK "store: { path: /tmp/x.db }\ncontrol: { socket: /tmp/"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaa }\n",
		  "t.yaml:10: control.socket: longer than 107 characters" },
		{ SET_OK POOL_OK "store: { path: \"/tmp/x\\n.db\" }\ncontrol: { socket: /tmp/x }\n",
		  "t.yaml:9: store.path: contains control characters" },
		{ SET_OK POOL_OK TAIL "metrics: { address: 127.0.0.1 }\n",
		  "t.yaml:11: metrics.address: not host:port" },
	};

	(void)state;
	CHECK_CASES(cases);
}

#define MEMBERS(list) "set:\n  id: set-a\n  member: smf1\n  key: " KEY16 "\n  members: " list "\n"

static void
test_errors_set(void **state)
{
	static const struct error_case cases[] = {
		{ "set:\n  id: set-a\n  member: smf1\n  key: 0011\n  members: [{ id: smf1 }]\n",
		  "t.yaml:4: set.key: wrong length: needs 16..64 bytes as hex" },
		{ "set:\n  id: set-a\n  member: smf1\n  key: " KEY16 "zz\n",
		  "t.yaml:4: set.key: not hex" },
		{ "set:\n  id: set-a\n  member: smf1\n  key: " KEY16 "0\n",
		  "t.yaml:4: set.key: odd number of hex digits" },
		{ "set:\n  id: set-a\n  member: smf1\n  key: " KEY16 KEY16 KEY16 KEY16 "00\n",
		  "t.yaml:4: set.key: too long" },
		{ SET_OK "  key_file: /nonexistent\n" POOL_OK TAIL,
		  "t.yaml:7: set.key_file: conflicts with key (line 4)" },
		{ "set:\n  id: set-a\n  member: smf1\n  members: [{ id: smf1, address: a:1 }]\n"
		  POOL_OK TAIL, "t.yaml:1: set: needs one of key, key_file" },
		{ "set:\n  id: set-a\n  member: smf1\n  key_file: /nonexistent/k\n"
		  "  members: [{ id: smf1, address: a:1 }]\n" POOL_OK TAIL,
		  "t.yaml:4: set.key_file: /nonexistent/k: No such file or directory" },
		{ "set:\n  id: set-a\n  member: smf1\n  key_file: /\n"
		  "  members: [{ id: smf1, address: a:1 }]\n" POOL_OK TAIL,
		  "t.yaml:4: set.key_file: /: not a regular file" },
		{ "set:\n  id: set a\n", "t.yaml:2: set.id: may hold only letters" },
		{ "set:\n  id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "t.yaml:2: set.id: longer than 31 characters" },
		{ "set:\n  id: set-a\n  member: smf9\n  key: " KEY16 "\n"
		  "  members: [{ id: smf1, address: a:1 }]\n" POOL_OK TAIL,
		  "t.yaml:3: set.member: smf9 is not in set.members" },
		{ MEMBERS("[]") POOL_OK TAIL, "t.yaml:5: set.members: needs at least 1 entries" },
		{ MEMBERS("\n    - { id: smf1, address: a:1 }\n    - { id: smf1, address: b:2 }")
		  POOL_OK TAIL, "t.yaml:7: set.members[1].id: same as set.members[0].id (line 6)" },
		{ MEMBERS("[{ id: smf1, address: \"127.0.0.1:0\" }]") POOL_OK TAIL,
		  "t.yaml:5: set.members[0].address: not host:port or [v6]:port" },
		{ MEMBERS("[{ id: smf1, address: \"[::1]:70000\" }]") POOL_OK TAIL,
		  "set.members[0].address: not host:port" },
		{ MEMBERS("[{ id: smf1, address: \"::1:7000\" }]") POOL_OK TAIL,
		  "set.members[0].address: not host:port" },
		{ MEMBERS("[{ id: smf1, address: \"300.1.1.1:7000\" }]") POOL_OK TAIL,
		  "set.members[0].address: not host:port" },
		{ MEMBERS("[{ id: smf1 }]") POOL_OK TAIL,
		  "t.yaml:5: set.members[0].address: required key missing" },
		{ "set:\n  id: set-a\n  member: smf1\n  epoch: 0\n",
		  "t.yaml:4: set.epoch: 0 is out of range 1..18446744073709551615" },
		{ "set:\n  id: set-a\n  member: smf1\n  recovery_timeout_ms: 50\n",
		  "t.yaml:4: set.recovery_timeout_ms: 50 is out of range 100..600000" },
	};

	(void)state;
	CHECK_CASES(cases);
}

#define POOLS(list) SET_OK "pools:\n" list TAIL

static void
test_errors_pools(void **state)
{
	static const struct error_case cases[] = {
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n"
			"  - { name: p6, dnn: internet, ipv6: \"2001:db8::1/48\" }\n"),
		  "t.yaml:9: pools[1].ipv6: not a prefix" },
		{ POOLS("  - { name: p6, dnn: internet, ipv6: 10.0.0.0/24 }\n"),
		  "t.yaml:8: pools[0].ipv6: not a prefix" },
		{ POOLS("  - { name: p 4, dnn: internet, ipv4: 10.0.0.0/24 }\n"),
		  "t.yaml:8: pools[0].name: may hold only letters" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n"
			"  - { name: p4, dnn: ims, ipv4: 10.0.1.0/24 }\n"),
		  "t.yaml:9: pools[1].name: same as pools[0].name (line 8)" },
		{ POOLS("  - { name: p4, dnn: inter..net, ipv4: 10.0.0.0/24 }\n"),
		  "t.yaml:8: pools[0].dnn: not a DNN" },
		{ POOLS("  - { name: p4, dnn: internet, snssai: 1-xyz, ipv4: 10.0.0.0/24 }\n"),
		  "t.yaml:8: pools[0].snssai: not an S-NSSAI" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.1/24 }\n"),
		  "t.yaml:8: pools[0].ipv4: not an IPv4 prefix" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: \"2001:db8::/64\" }\n"),
		  "t.yaml:8: pools[0].ipv4: not an IPv4 prefix" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.9-10.0.0.1 }\n"),
		  "t.yaml:8: pools[0].ipv4: range ends before it starts" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.9-10.0.0 }\n"),
		  "t.yaml:8: pools[0].ipv4: not an IPv4 range" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.9 }\n"),
		  "t.yaml:8: pools[0].ipv4: not an IPv4 prefix (a.b.c.d/len) or range" },
		{ POOLS("  - { name: p4, dnn: internet }\n"),
		  "t.yaml:8: pools[0]: needs one of ipv4, ipv6" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24, ipv6: \"2001:db8::/48\" }\n"),
		  "t.yaml:8: pools[0].ipv6: conflicts with ipv4 (line 8)" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24, delegated_length: 64 }\n"),
		  "t.yaml:8: pools[0].delegated_length: only for ipv6 pools" },
		{ POOLS("  - { name: p6, dnn: internet, ipv6: \"2001:db8::/64\" }\n"),
		  "t.yaml:8: pools[0].ipv6: delegated length /64 must be longer than the prefix /64" },
		{ POOLS("  - { name: p6, dnn: internet, ipv6: \"2001:db8::/48\", delegated_length: 96 }\n"),
		  "t.yaml:8: pools[0].delegated_length: /96 in /48 gives more than 2^32 prefixes" },
		{ POOLS("  - { name: p6, dnn: internet, ipv6: \"2001:db8::/48\", delegated_length: 129 }\n"),
		  "t.yaml:8: pools[0].delegated_length: 129 is out of range 1..128" },
		{ POOLS("  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n"
			"  - { name: r4, dnn: ims, ipv4: 10.0.0.128-10.0.1.20 }\n"),
		  "t.yaml:9: pools[1].ipv4: overlaps pools[0] (p4, line 8)" },
		{ POOLS("  - { name: a6, dnn: internet, ipv6: \"2001:db8::/32\" }\n"
			"  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n"
			"  - { name: b6, dnn: ims, ipv6: \"2001:db8:1::/48\" }\n"),
		  "t.yaml:10: pools[2].ipv6: overlaps pools[0] (a6, line 8)" },
	};

	(void)state;
	CHECK_CASES(cases);
}

static void
test_too_many_pools(void **state)
{
	size_t cap = 16384, used;
	char *yaml = malloc(cap);
	struct ueip_config *cfg = cfg_new();
	char why[512];

	(void)state;
	assert_non_null(yaml);
	used = (size_t)snprintf(yaml, cap, "%s", SET_OK TAIL "pools:\n");
	for (unsigned i = 0; i <= UEIP_POOLS_MAX; i++)
		used += (size_t)snprintf(yaml + used, cap - used,
					 "  - { name: p%u, dnn: internet, ipv4: 10.%u.0.0/16 }\n",
					 i, i);
	assert_true(used < cap);
	assert_int_equal(parse(yaml, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "t.yaml:9: pools: more than 64 entries"));
	free(yaml);
	free(cfg);
}

#define STATICS(list)                                                               \
	SET_OK "pools:\n"                                                           \
	"  - { name: p4, dnn: internet, ipv4: 10.0.0.0/24 }\n"                      \
	"  - { name: p6, dnn: internet, ipv6: \"2001:db8::/48\" }\n"                \
	"  - { name: i4, dnn: ims, ipv4: 10.0.1.0/24 }\n"                           \
	"static:\n" list TAIL

static void
test_errors_static(void **state)
{
	static const struct error_case cases[] = {
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: 10.0.2.1 }\n"),
		  "t.yaml:12: static[0].address: outside every pool of dnn internet" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: 10.0.1.1 }\n"),
		  "t.yaml:12: static[0].address: outside every pool of dnn internet" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: ims, address: \"2001:db8::/64\" }\n"),
		  "t.yaml:12: static[0].address: outside every pool of dnn ims" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: \"2001:db8::/56\" }\n"),
		  "t.yaml:12: static[0].address: prefix length must be /64, the delegated length "
		  "of pool p6" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: \"2001:db8::1\" }\n"),
		  "t.yaml:12: static[0].address: an IPv6 static needs its prefix length" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: 10.0.0.1/32 }\n"),
		  "t.yaml:12: static[0].address: not an IPv4 address or an IPv6 prefix" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: 10.0.0.5 }\n"
			  "  - { supi: imsi-00101000002, dnn: internet, address: 10.0.0.5 }\n"),
		  "t.yaml:13: static[1].address: same as static[0].address (line 12)" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: 10.0.0.5 }\n"
			  "  - { supi: imsi-00101000001, dnn: internet, address: 10.0.0.6 }\n"),
		  "t.yaml:13: static[1].supi: second IPv4 static for this supi and dnn "
		  "(first: static[0], line 12)" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: internet, address: here }\n"),
		  "t.yaml:12: static[0].address: not an IPv4 address or an IPv6 prefix" },
		{ STATICS("  - { supi: imsi-0010, dnn: internet, address: 10.0.0.5 }\n"),
		  "t.yaml:12: static[0].supi: not a SUPI" },
		{ STATICS("  - { supi: imsi-00101000001, dnn: -bad_, address: 10.0.0.5 }\n"),
		  "t.yaml:12: static[0].dnn: not a DNN" },
	};

	(void)state;
	CHECK_CASES(cases);
}

static void
test_limits(void **state)
{
	size_t big = (1u << 20) + 1;
	char *yaml = malloc(big + 1);
	struct ueip_config *cfg = cfg_new();
	char why[512];
	size_t n = 0;

	(void)state;
	assert_non_null(yaml);
	/* size */
	memset(yaml, '#', big);
	yaml[big] = '\0';
	assert_int_equal(ueip_config_parse("t.yaml", yaml, big, cfg, why, sizeof(why)),
			 UEIP_ECONFIG);
	assert_string_equal(why, "t.yaml:1: (file): larger than 1048576 bytes");
	/* depth */
	n = (size_t)snprintf(yaml, big, "set:\n  id: ");
	for (int i = 0; i < 20; i++)
		yaml[n++] = '[';
	yaml[n] = '\0';
	assert_int_equal(parse(yaml, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "t.yaml:2: set.id[0][0][0][0][0][0][0][0][0][0][0][0][0]: "));
	assert_non_null(strstr(why, ": nested deeper than 16 levels"));
	/* node count */
	n = (size_t)snprintf(yaml, big, "pools: [");
	for (int i = 0; i < 100001; i++) {
		yaml[n++] = '1';
		yaml[n++] = ',';
	}
	yaml[n++] = ']';
	yaml[n] = '\0';
	assert_int_equal(parse(yaml, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "t.yaml:1: pools: more than 100000 values"));
	/* keys per mapping */
	n = (size_t)snprintf(yaml, big, "set:\n");
	for (int i = 0; i < 70; i++)
		n += (size_t)snprintf(yaml + n, big - n, "  k%d: 1\n", i);
	assert_int_equal(parse(yaml, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "t.yaml:66: set: more than 64 keys in one mapping"));
	/* file name */
	memset(yaml, 'x', 300);
	yaml[300] = '\0';
	assert_int_equal(ueip_config_parse(yaml, "a: 1", 4, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, ":1: (file): file name longer than 255 bytes"));
	/* why may be missing or tiny */
	assert_int_equal(ueip_config_parse("t.yaml", "x: [", 4, cfg, NULL, 0), UEIP_ECONFIG);
	assert_int_equal(ueip_config_parse("t.yaml", "x: [", 4, cfg, why, 4), UEIP_ECONFIG);
	assert_string_equal(why, "t.y");
	free(yaml);
	free(cfg);
}

/* ---- files ------------------------------------------------------------------------ */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_load_and_key_file(void **state)
{
	char dir[] = "/tmp/ueip-test-config-XXXXXX", path[128], key[128], why[512];
	struct ueip_config *cfg = cfg_new();
	char *big;
	int rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ueipd.yaml", dir);
	snprintf(key, sizeof(key), "%s/set.key", dir);
	write_file(key, "\n  " KEY16 "ff\n");
	/* relative to the config file's directory, not the cwd */
	write_file(path, "set:\n  id: set-a\n  member: smf1\n  key_file: set.key\n"
			 "  members: [{ id: smf1, address: localhost:7101 }]\n" POOL_OK TAIL);
	rc = ueip_config_load(path, cfg, why, sizeof(why));
	if (rc)
		print_error("%s\n", why);
	assert_int_equal(rc, 0);
	assert_int_equal(cfg->key_len, 17);
	assert_int_equal(cfg->key[16], 0xff);
	assert_string_equal(cfg->file, path);

	write_file(key, "0011\n");
	assert_int_equal(ueip_config_load(path, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "/ueipd.yaml:4: set.key_file: "));
	assert_non_null(strstr(why, "/set.key: wrong length: needs 16..64 bytes as hex"));

	unlink(key);
	assert_int_equal(ueip_config_load(path, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "/set.key: No such file or directory"));
	big = calloc(1, (1u << 20) + 2);
	assert_non_null(big);
	memset(big, '#', (1u << 20) + 1);
	write_file(path, big);
	free(big);
	assert_int_equal(ueip_config_load(path, cfg, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "/ueipd.yaml:1: (file): larger than 1048576 bytes"));
	unlink(path);
	assert_int_equal(ueip_config_load(path, cfg, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "/ueipd.yaml: No such file or directory"));
	assert_int_equal(rmdir(dir), 0);
	free(cfg);
}

/* ---- reload ------------------------------------------------------------------------ */

static void
test_reload_check(void **state)
{
	struct ueip_config *a = cfg_new(), *b = cfg_new();
	char why[512];

	(void)state;
	expect_ok(full_yaml, a);
	expect_ok(full_yaml, b);
	assert_int_equal(ueip_config_reload_check(a, b, why, sizeof(why)), 0);
	snprintf(b->log_level, sizeof(b->log_level), "warn");
	b->quarantine_seconds = 5;
	b->nstatics = 1;
	b->epoch = 8;
	assert_int_equal(ueip_config_reload_check(a, b, why, sizeof(why)), 0);
	b->pools[2].size = 1;
	assert_int_equal(ueip_config_reload_check(a, b, why, sizeof(why)), UEIP_ECONFIG);
	assert_string_equal(why, "t.yaml: pools: cannot change on reload (restart ueipd)");
	memcpy(b, a, sizeof(*b));
	snprintf(b->member, sizeof(b->member), "smf1");
	assert_int_equal(ueip_config_reload_check(a, b, why, sizeof(why)), UEIP_ECONFIG);
	assert_string_equal(why, "t.yaml: set.member: cannot change on reload (restart ueipd)");
	free(a);
	free(b);
}

/* ---- host:port ------------------------------------------------------------------------ */

static void
test_hostport(void **state)
{
	static const char *const bad[] = {
		"", ":1", "a", "a:", "a:0", "a:65536", "a:1x", "a:+1", "a:123456", "a:b:1",
		"[::1]", "[::1]1", "[1.2.3.4]:1", "[]:1", "[::1:1", "1.2.3:1", "1.2.3.4.5:1",
		"a..b:1", ".a:1", "a.:1", "a_b:1", "-:1x", "::1:80",
	};
	char host[64];
	uint16_t port = 0;

	(void)state;
	assert_int_equal(ueip_hostport_split("127.0.0.1:7101", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7101);
	assert_int_equal(ueip_hostport_split("[2001:db8::1]:65535", host, sizeof(host), &port), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, 65535);
	assert_int_equal(ueip_hostport_split("smf-2.example.net:1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "smf-2.example.net");
	assert_int_equal(port, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ueip_hostport_split(bad[i], host, sizeof(host), &port) != UEIP_EINVAL)
			print_error("accepted \"%s\"\n", bad[i]);
		assert_int_equal(ueip_hostport_split(bad[i], host, sizeof(host), &port), UEIP_EINVAL);
	}
	assert_int_equal(ueip_hostport_split("localhost:1", host, 9, &port), UEIP_EINVAL);
	assert_int_equal(ueip_hostport_split("localhost:1", host, 10, &port), 0);
	assert_int_equal(ueip_hostport_split(NULL, host, sizeof(host), &port), UEIP_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_shipped_default),
		cmocka_unit_test(test_untouched_on_failure),
		cmocka_unit_test(test_errors_yaml),
		cmocka_unit_test(test_errors_schema),
		cmocka_unit_test(test_errors_set),
		cmocka_unit_test(test_errors_pools),
		cmocka_unit_test(test_too_many_pools),
		cmocka_unit_test(test_errors_static),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load_and_key_file),
		cmocka_unit_test(test_reload_check),
		cmocka_unit_test(test_hostport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
