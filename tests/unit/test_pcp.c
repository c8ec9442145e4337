// SPDX-License-Identifier: Apache-2.0
/*
 * proto/pcp: PCP (RFC 6887) and NAT-PMP (RFC 6886) messages, byte for byte.
 * Every vector below is written out by hand from the RFC figures, one
 * comment per field, so that a stock client (natpmpc, miniupnpd's PCP) sees
 * exactly these octets; each decoder rule is checked to give the result code
 * the RFC names, and the error builders to answer with the octets it names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/err.h"
#include "proto/pcp.h"

/* ::ffff:a.b.c.d, the IPv4-mapped form PCP carries IPv4 in (§5). */
#define V4(a, b, c, d) 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d
/* 2001:db8::x */
#define V6(x) 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x
#define NONCE 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c
#define ZERO12 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0

static uint8_t out[2048];

#define EXPECT_BYTES(n, want)                                     \
	do {                                                      \
		assert_int_equal((n), (int)sizeof(want));         \
		assert_memory_equal(out, (want), sizeof(want));   \
	} while (0)

static void
set_v4(struct in6_addr *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	ueip_pcp_v4_to_mapped((uint32_t)x << 24 | (uint32_t)y << 16 | (uint32_t)z << 8 | w, a);
}

static int
decode(const uint8_t *p, size_t n, struct ueip_pcp_msg *m)
{
	return ueip_pcp_decode_request(p, n, m);
}

/* ------------------------------------------------------------------ */
/* Vectors                                                            */
/* ------------------------------------------------------------------ */

static const uint8_t ANNOUNCE_REQ[] = {
	0x02,			/* version 2 */
	0x00,			/* R=0, opcode 0 ANNOUNCE */
	0x00, 0x00,		/* reserved */
	0x00, 0x00, 0x00, 0x00,	/* requested lifetime 0 (§14.1) */
	V4(100, 64, 0, 2),	/* PCP client's IP address ::ffff:100.64.0.2 */
};

static const uint8_t ANNOUNCE_RESP[] = {
	0x02,			/* version 2 */
	0x80,			/* R=1, opcode 0 ANNOUNCE */
	0x00,			/* reserved */
	0x00,			/* result SUCCESS */
	0x00, 0x00, 0x00, 0x00,	/* lifetime 0 */
	0x00, 0x00, 0x04, 0xd2,	/* epoch time 1234 */
	ZERO12,			/* reserved (96 bits) */
};

static const uint8_t MAP_REQ[] = {
	0x02,			/* version 2 */
	0x01,			/* R=0, opcode 1 MAP */
	0x00, 0x00,		/* reserved */
	0x00, 0x00, 0x0e, 0x10,	/* requested lifetime 3600 */
	V4(100, 64, 0, 2),	/* client ::ffff:100.64.0.2 */
	NONCE,			/* mapping nonce (96 bits) */
	0x06,			/* protocol 6 TCP */
	0x00, 0x00, 0x00,	/* reserved (24 bits) */
	0x1f, 0x90,		/* internal port 8080 */
	0x00, 0x00,		/* suggested external port 0: no preference */
	V4(0, 0, 0, 0),		/* suggested external ::ffff:0.0.0.0: no preference */
};

static const uint8_t MAP_RESP[] = {
	0x02,			/* version 2 */
	0x81,			/* R=1, opcode 1 MAP */
	0x00,			/* reserved */
	0x00,			/* result SUCCESS */
	0x00, 0x00, 0x0e, 0x10,	/* lifetime 3600 */
	0x00, 0x00, 0x04, 0xd2,	/* epoch time 1234 */
	ZERO12,			/* reserved (96 bits) */
	NONCE,			/* mapping nonce, as in the request */
	0x06,			/* protocol TCP */
	0x00, 0x00, 0x00,	/* reserved */
	0x1f, 0x90,		/* internal port 8080 */
	0x1f, 0x90,		/* assigned external port 8080 */
	V4(198, 51, 100, 7),	/* assigned external ::ffff:198.51.100.7 */
};

static const uint8_t PEER_REQ[] = {
	0x02,			/* version 2 */
	0x02,			/* R=0, opcode 2 PEER */
	0x00, 0x00,		/* reserved */
	0x00, 0x00, 0x01, 0x2c,	/* requested lifetime 300 */
	V4(100, 64, 0, 2),	/* client */
	NONCE,			/* mapping nonce */
	0x11,			/* protocol 17 UDP */
	0x00, 0x00, 0x00,	/* reserved */
	0x9c, 0x40,		/* internal port 40000 */
	0x00, 0x00,		/* suggested external port 0 */
	V4(0, 0, 0, 0),		/* suggested external address: none */
	0x01, 0xbb,		/* remote peer port 443 */
	0x00, 0x00,		/* reserved (16 bits) */
	V4(203, 0, 113, 9),	/* remote peer ::ffff:203.0.113.9 */
};

static const uint8_t PEER_RESP[] = {
	0x02, 0x82,		/* version 2, R=1, opcode 2 PEER */
	0x00, 0x00,		/* reserved, result SUCCESS */
	0x00, 0x00, 0x01, 0x2c,	/* lifetime 300 */
	0x00, 0x00, 0x04, 0xd2,	/* epoch time 1234 */
	ZERO12,			/* reserved */
	NONCE,			/* mapping nonce */
	0x11, 0x00, 0x00, 0x00,	/* protocol UDP, reserved */
	0x9c, 0x40,		/* internal port 40000 */
	0xee, 0x48,		/* assigned external port 61000 */
	V4(198, 51, 100, 7),	/* assigned external address */
	0x01, 0xbb, 0x00, 0x00,	/* remote peer port 443, reserved */
	V4(203, 0, 113, 9),	/* remote peer address */
};

/* MAP with the three options of §13, in the order the encoder writes them. */
static const uint8_t MAP_OPTS_REQ[] = {
	0x02, 0x01, 0x00, 0x00,	/* version 2, MAP, reserved */
	0x00, 0x00, 0x0e, 0x10,	/* requested lifetime 3600 */
	V4(10, 10, 0, 1),	/* client: the operator's PCP proxy */
	NONCE,
	0x06, 0x00, 0x00, 0x00,	/* TCP, reserved */
	0x1f, 0x90, 0x1f, 0x90,	/* internal port 8080, suggested external 8080 */
	V4(198, 51, 100, 7),	/* suggested external address */
	0x01,			/* option THIRD_PARTY */
	0x00,			/* reserved */
	0x00, 0x10,		/* option length 16 */
	V4(100, 64, 0, 9),	/* internal IP address ::ffff:100.64.0.9 */
	0x02,			/* option PREFER_FAILURE */
	0x00,			/* reserved */
	0x00, 0x00,		/* option length 0 */
	0x03,			/* option FILTER */
	0x00,			/* reserved */
	0x00, 0x14,		/* option length 20 */
	0x00,			/* reserved */
	0x78,			/* prefix length 120 = IPv4 /24 */
	0x01, 0xbb,		/* remote peer port 443 */
	V4(203, 0, 113, 0),	/* remote peer 203.0.113.0 */
};

static void
fill_map(struct ueip_pcp_msg *m)
{
	static const uint8_t nonce[] = { NONCE };

	memset(m, 0, sizeof(*m));
	m->version = 2;
	m->opcode = UEIP_PCP_OP_MAP;
	m->lifetime = 3600;
	set_v4(&m->client, 100, 64, 0, 2);
	memcpy(m->nonce, nonce, sizeof(nonce));
	m->protocol = 6;
	m->internal_port = 8080;
	set_v4(&m->external, 0, 0, 0, 0);
}

static void
fill_peer(struct ueip_pcp_msg *m)
{
	fill_map(m);
	m->opcode = UEIP_PCP_OP_PEER;
	m->lifetime = 300;
	m->protocol = 17;
	m->internal_port = 40000;
	m->remote_port = 443;
	set_v4(&m->remote, 203, 0, 113, 9);
}

/* ------------------------------------------------------------------ */
/* Requests and responses of every opcode                             */
/* ------------------------------------------------------------------ */

static void
test_announce(void **state)
{
	struct ueip_pcp_msg m, want;

	assert_int_equal(decode(ANNOUNCE_REQ, sizeof(ANNOUNCE_REQ), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.opcode, UEIP_PCP_OP_ANNOUNCE);
	assert_int_equal(m.response, 0);
	memset(&want, 0, sizeof(want));
	set_v4(&want.client, 100, 64, 0, 2);
	assert_memory_equal(&m.client, &want.client, 16);
	EXPECT_BYTES(ueip_pcp_encode_request(&m, out, sizeof(out)), ANNOUNCE_REQ);

	memset(&m, 0, sizeof(m));
	m.opcode = UEIP_PCP_OP_ANNOUNCE;
	m.epoch = 1234;
	EXPECT_BYTES(ueip_pcp_encode_response(&m, out, sizeof(out)), ANNOUNCE_RESP);
	assert_int_equal(ueip_pcp_decode_response(ANNOUNCE_RESP, sizeof(ANNOUNCE_RESP), &m),
			 UEIP_PCP_SUCCESS);
	assert_int_equal(m.response, 1);
	assert_int_equal(m.opcode, UEIP_PCP_OP_ANNOUNCE);
	assert_int_equal(m.epoch, 1234);
}

/* §14.1: the requested lifetime of an ANNOUNCE is ignored, and sent as 0. */
static void
test_announce_lifetime_ignored(void **state)
{
	uint8_t req[sizeof(ANNOUNCE_REQ)];
	struct ueip_pcp_msg m;

	memcpy(req, ANNOUNCE_REQ, sizeof(req));
	req[7] = 99;
	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.lifetime, 0);
	m.lifetime = 77;
	EXPECT_BYTES(ueip_pcp_encode_request(&m, out, sizeof(out)), ANNOUNCE_REQ);
}

static void
test_map(void **state)
{
	struct ueip_pcp_msg m, want;

	fill_map(&want);
	assert_int_equal(decode(MAP_REQ, sizeof(MAP_REQ), &m), UEIP_PCP_SUCCESS);
	assert_memory_equal(&m, &want, sizeof(m));
	EXPECT_BYTES(ueip_pcp_encode_request(&want, out, sizeof(out)), MAP_REQ);

	/* the server's answer */
	m.response = 1;
	m.epoch = 1234;
	m.external_port = 8080;
	set_v4(&m.external, 198, 51, 100, 7);
	m.client = (struct in6_addr){ 0 };
	EXPECT_BYTES(ueip_pcp_encode_response(&m, out, sizeof(out)), MAP_RESP);
	assert_int_equal(ueip_pcp_decode_response(MAP_RESP, sizeof(MAP_RESP), &want), UEIP_PCP_SUCCESS);
	assert_memory_equal(&want, &m, sizeof(m));
}

/* §11.1: with protocol 0 the internal port MUST be ignored on reception, sent as 0. */
static void
test_map_protocol_zero(void **state)
{
	uint8_t req[sizeof(MAP_REQ)];
	struct ueip_pcp_msg m;
	int n;

	memcpy(req, MAP_REQ, sizeof(req));
	req[36] = 0;		/* protocol 0: all protocols */
	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.protocol, 0);
	assert_int_equal(m.internal_port, 0);
	m.internal_port = 8080;
	n = ueip_pcp_encode_request(&m, out, sizeof(out));
	assert_int_equal(n, 60);
	assert_int_equal(out[40], 0);
	assert_int_equal(out[41], 0);
}

static void
test_peer(void **state)
{
	struct ueip_pcp_msg m, want;

	fill_peer(&want);
	assert_int_equal(decode(PEER_REQ, sizeof(PEER_REQ), &m), UEIP_PCP_SUCCESS);
	assert_memory_equal(&m, &want, sizeof(m));
	EXPECT_BYTES(ueip_pcp_encode_request(&want, out, sizeof(out)), PEER_REQ);

	m.response = 1;
	m.epoch = 1234;
	m.external_port = 61000;
	set_v4(&m.external, 198, 51, 100, 7);
	m.client = (struct in6_addr){ 0 };
	EXPECT_BYTES(ueip_pcp_encode_response(&m, out, sizeof(out)), PEER_RESP);
	assert_int_equal(ueip_pcp_decode_response(PEER_RESP, sizeof(PEER_RESP), &want),
			 UEIP_PCP_SUCCESS);
	assert_memory_equal(&want, &m, sizeof(m));
}

static void
test_map_v6(void **state)
{
	static const uint8_t req[] = {
		0x02, 0x01, 0x00, 0x00,	/* version 2, MAP */
		0x00, 0x01, 0x51, 0x80,	/* lifetime 86400 */
		V6(0x02),		/* client 2001:db8::2 */
		NONCE,
		0x11, 0x00, 0x00, 0x00,	/* UDP */
		0x13, 0xc4, 0x13, 0xc4,	/* internal 5060, suggested external 5060 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* :: no preference */
	};
	struct ueip_pcp_msg m;
	uint32_t v4;

	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.lifetime, 86400);
	assert_int_equal(m.internal_port, 5060);
	assert_int_equal(ueip_pcp_mapped_to_v4(&m.client, &v4), 0);
	assert_int_equal(m.client.s6_addr[15], 2);
	EXPECT_BYTES(ueip_pcp_encode_request(&m, out, sizeof(out)), req);
}

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

static void
fill_map_opts(struct ueip_pcp_msg *m)
{
	fill_map(m);
	set_v4(&m->client, 10, 10, 0, 1);
	m->external_port = 8080;
	set_v4(&m->external, 198, 51, 100, 7);
	m->has_third_party = 1;
	set_v4(&m->third_party, 100, 64, 0, 9);
	m->prefer_failure = 1;
	m->nfilters = 1;
	m->filters[0].prefix_len = 120;
	m->filters[0].remote_port = 443;
	set_v4(&m->filters[0].remote, 203, 0, 113, 0);
}

static void
test_options_all(void **state)
{
	struct ueip_pcp_msg m, want;

	fill_map_opts(&want);
	EXPECT_BYTES(ueip_pcp_encode_request(&want, out, sizeof(out)), MAP_OPTS_REQ);
	assert_int_equal(decode(MAP_OPTS_REQ, sizeof(MAP_OPTS_REQ), &m), UEIP_PCP_SUCCESS);
	assert_memory_equal(&m, &want, sizeof(m));
}

/* Each option alone, at the same place after the MAP opcode data. */
static int
decode_map_with(const uint8_t *opt, size_t n, struct ueip_pcp_msg *m)
{
	uint8_t req[UEIP_PCP_MAX + 8];

	memcpy(req, MAP_REQ, sizeof(MAP_REQ));
	memcpy(req + sizeof(MAP_REQ), opt, n);
	return decode(req, sizeof(MAP_REQ) + n, m);
}

static int
decode_peer_with(const uint8_t *opt, size_t n, struct ueip_pcp_msg *m)
{
	uint8_t req[UEIP_PCP_MAX + 8];

	memcpy(req, PEER_REQ, sizeof(PEER_REQ));
	memcpy(req + sizeof(PEER_REQ), opt, n);
	return decode(req, sizeof(PEER_REQ) + n, m);
}

static int
decode_announce_with(const uint8_t *opt, size_t n, struct ueip_pcp_msg *m)
{
	uint8_t req[UEIP_PCP_MAX + 8];

	memcpy(req, ANNOUNCE_REQ, sizeof(ANNOUNCE_REQ));
	memcpy(req + sizeof(ANNOUNCE_REQ), opt, n);
	return decode(req, sizeof(ANNOUNCE_REQ) + n, m);
}

static const uint8_t OPT_THIRD_PARTY[] = {
	0x01, 0x00, 0x00, 0x10,	/* THIRD_PARTY, reserved, length 16 */
	V4(100, 64, 0, 9),	/* internal address */
};
static const uint8_t OPT_PREFER_FAILURE[] = {
	0x02, 0x00, 0x00, 0x00,	/* PREFER_FAILURE, reserved, length 0 */
};
static const uint8_t OPT_FILTER_V4[] = {
	0x03, 0x00, 0x00, 0x14,	/* FILTER, reserved, length 20 */
	0x00, 0x60, 0x00, 0x00,	/* reserved, prefix 96 (IPv4 /0), any port */
	V4(0, 0, 0, 0),
};
static const uint8_t OPT_FILTER_V6[] = {
	0x03, 0x00, 0x00, 0x14,	/* FILTER, length 20 */
	0x00, 0x30, 0x00, 0x50,	/* reserved, prefix 48, port 80 */
	V6(0),			/* 2001:db8:: */
};
static const uint8_t OPT_UNKNOWN_OPTIONAL[] = {
	0xc8, 0x00, 0x00, 0x05,	/* code 200 (optional), reserved, length 5 */
	'a', 'b', 'c', 'd', 'e',	/* data */
	0x00, 0x00, 0x00,	/* padding to 4 */
};
static const uint8_t OPT_UNKNOWN_MANDATORY[] = {
	0x63, 0x00, 0x00, 0x04,	/* code 99 (mandatory), reserved, length 4 */
	0xde, 0xad, 0xbe, 0xef,
};

static void
test_option_third_party(void **state)
{
	struct ueip_pcp_msg m;
	uint32_t v4;

	assert_int_equal(decode_map_with(OPT_THIRD_PARTY, sizeof(OPT_THIRD_PARTY), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.has_third_party, 1);
	assert_int_equal(ueip_pcp_mapped_to_v4(&m.third_party, &v4), 1);
	assert_int_equal(v4, 0x64400009);
	/* valid with PEER too */
	assert_int_equal(decode_peer_with(OPT_THIRD_PARTY, sizeof(OPT_THIRD_PARTY), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.has_third_party, 1);
}

static void
test_option_prefer_failure(void **state)
{
	struct ueip_pcp_msg m;

	assert_int_equal(decode_map_with(OPT_PREFER_FAILURE, sizeof(OPT_PREFER_FAILURE), &m),
			 UEIP_PCP_SUCCESS);
	assert_int_equal(m.prefer_failure, 1);
}

static void
test_option_filter(void **state)
{
	struct ueip_pcp_msg m;

	assert_int_equal(decode_map_with(OPT_FILTER_V4, sizeof(OPT_FILTER_V4), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.nfilters, 1);
	assert_int_equal(m.filters[0].prefix_len, 96);
	assert_int_equal(m.filters[0].remote_port, 0);
	assert_int_equal(decode_map_with(OPT_FILTER_V6, sizeof(OPT_FILTER_V6), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.filters[0].prefix_len, 48);
	assert_int_equal(m.filters[0].remote_port, 80);
	assert_int_equal(m.filters[0].remote.s6_addr[0], 0x20);
}

static void
test_option_unknown_optional_skipped(void **state)
{
	uint8_t two[2 * sizeof(OPT_UNKNOWN_OPTIONAL)];
	struct ueip_pcp_msg m;

	assert_int_equal(decode_map_with(OPT_UNKNOWN_OPTIONAL, sizeof(OPT_UNKNOWN_OPTIONAL), &m),
			 UEIP_PCP_SUCCESS);
	assert_int_equal(m.skipped_options, 1);
	assert_int_equal(m.internal_port, 8080);
	memcpy(two, OPT_UNKNOWN_OPTIONAL, sizeof(OPT_UNKNOWN_OPTIONAL));
	memcpy(two + sizeof(OPT_UNKNOWN_OPTIONAL), OPT_UNKNOWN_OPTIONAL, sizeof(OPT_UNKNOWN_OPTIONAL));
	assert_int_equal(decode_announce_with(two, sizeof(two), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.skipped_options, 2);
}

static void
test_option_unknown_mandatory(void **state)
{
	static const uint8_t next_code[] = { 0x04, 0x00, 0x00, 0x00 };	/* code 4, length 0 */
	static const uint8_t code_127[] = { 0x7f, 0x00, 0x00, 0x00 };
	struct ueip_pcp_msg m;

	assert_int_equal(decode_map_with(OPT_UNKNOWN_MANDATORY, sizeof(OPT_UNKNOWN_MANDATORY), &m),
			 UEIP_PCP_UNSUPP_OPTION);
	assert_int_equal(decode_map_with(next_code, sizeof(next_code), &m), UEIP_PCP_UNSUPP_OPTION);
	assert_int_equal(decode_map_with(code_127, sizeof(code_127), &m), UEIP_PCP_UNSUPP_OPTION);
	assert_int_equal(decode_announce_with(code_127, sizeof(code_127), &m), UEIP_PCP_UNSUPP_OPTION);
}

/* Options are processed in order: the first problem decides (§7.3). */
static void
test_option_order(void **state)
{
	uint8_t opts[64];
	struct ueip_pcp_msg m;
	size_t n = 0;

	memcpy(opts + n, OPT_UNKNOWN_MANDATORY, sizeof(OPT_UNKNOWN_MANDATORY));
	n += sizeof(OPT_UNKNOWN_MANDATORY);
	memcpy(opts + n, OPT_PREFER_FAILURE, sizeof(OPT_PREFER_FAILURE));
	n += sizeof(OPT_PREFER_FAILURE);
	memcpy(opts + n, OPT_PREFER_FAILURE, sizeof(OPT_PREFER_FAILURE));
	n += sizeof(OPT_PREFER_FAILURE);
	assert_int_equal(decode_map_with(opts, n, &m), UEIP_PCP_UNSUPP_OPTION);
	assert_int_equal(decode_map_with(opts + 8, n - 8, &m), UEIP_PCP_MALFORMED_OPTION);
}

static void
test_option_malformed(void **state)
{
	static const uint8_t overrun[] = { 0xc8, 0x00, 0x00, 0x05, 'a', 'b', 'c', 'd' };	/* 5 > 4 */
	static const uint8_t overrun_max[] = { 0xc8, 0x00, 0xff, 0xff };
	static const uint8_t tp_short[] = { 0x01, 0x00, 0x00, 0x0c, ZERO12 };		/* length 12 */
	static const uint8_t pf_long[] = { 0x02, 0x00, 0x00, 0x04, 0, 0, 0, 0 };	/* length 4 */
	static const uint8_t filter_short[] = { 0x03, 0x00, 0x00, 0x10, 0, 0x80, 0, 0, ZERO12 };
	uint8_t twice[2 * sizeof(OPT_THIRD_PARTY)];
	struct ueip_pcp_msg m;

	assert_int_equal(decode_map_with(overrun, sizeof(overrun), &m), UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_map_with(overrun_max, sizeof(overrun_max), &m), UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_map_with(tp_short, sizeof(tp_short), &m), UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_map_with(pf_long, sizeof(pf_long), &m), UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_map_with(filter_short, sizeof(filter_short), &m), UEIP_PCP_MALFORMED_OPTION);
	/* THIRD_PARTY and PREFER_FAILURE at most once */
	memcpy(twice, OPT_THIRD_PARTY, sizeof(OPT_THIRD_PARTY));
	memcpy(twice + sizeof(OPT_THIRD_PARTY), OPT_THIRD_PARTY, sizeof(OPT_THIRD_PARTY));
	assert_int_equal(decode_map_with(twice, sizeof(twice), &m), UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_peer_with(twice, sizeof(twice), &m), UEIP_PCP_MALFORMED_OPTION);
	memcpy(twice, OPT_PREFER_FAILURE, 4);
	memcpy(twice + 4, OPT_PREFER_FAILURE, 4);
	assert_int_equal(decode_map_with(twice, 8, &m), UEIP_PCP_MALFORMED_OPTION);
}

/* An option in an opcode it is not valid for. */
static void
test_option_wrong_opcode(void **state)
{
	struct ueip_pcp_msg m;

	/* §12.1: PREFER_FAILURE in PEER is MALFORMED_REQUEST, said explicitly */
	assert_int_equal(decode_peer_with(OPT_PREFER_FAILURE, sizeof(OPT_PREFER_FAILURE), &m),
			 UEIP_PCP_MALFORMED_REQUEST);
	/* the rest: MALFORMED_OPTION */
	assert_int_equal(decode_peer_with(OPT_FILTER_V4, sizeof(OPT_FILTER_V4), &m),
			 UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_announce_with(OPT_FILTER_V4, sizeof(OPT_FILTER_V4), &m),
			 UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_announce_with(OPT_THIRD_PARTY, sizeof(OPT_THIRD_PARTY), &m),
			 UEIP_PCP_MALFORMED_OPTION);
	assert_int_equal(decode_announce_with(OPT_PREFER_FAILURE, sizeof(OPT_PREFER_FAILURE), &m),
			 UEIP_PCP_MALFORMED_OPTION);
}

/* §13.3: prefix length 96..128 for IPv4-mapped, 0..128 for IPv6. */
static void
test_filter_prefix(void **state)
{
	uint8_t f[sizeof(OPT_FILTER_V4)];
	struct ueip_pcp_msg m;
	static const struct {
		int v6;
		uint8_t prefix;
		int rc;
	} cases[] = {
		{ 0, 96, UEIP_PCP_SUCCESS },  { 0, 128, UEIP_PCP_SUCCESS },
		{ 0, 95, UEIP_PCP_MALFORMED_OPTION }, { 0, 0, UEIP_PCP_MALFORMED_OPTION },
		{ 0, 64, UEIP_PCP_MALFORMED_OPTION }, { 0, 129, UEIP_PCP_MALFORMED_OPTION },
		{ 1, 0, UEIP_PCP_SUCCESS },   { 1, 1, UEIP_PCP_SUCCESS },
		{ 1, 128, UEIP_PCP_SUCCESS }, { 1, 129, UEIP_PCP_MALFORMED_OPTION },
		{ 1, 255, UEIP_PCP_MALFORMED_OPTION },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(f, cases[i].v6 ? OPT_FILTER_V6 : OPT_FILTER_V4, sizeof(f));
		f[5] = cases[i].prefix;
		assert_int_equal(decode_map_with(f, sizeof(f), &m), cases[i].rc);
	}
}

static void
test_filters_max(void **state)
{
	uint8_t opts[(UEIP_PCP_FILTERS_MAX + 1) * sizeof(OPT_FILTER_V4)];
	struct ueip_pcp_msg m;
	size_t n = 0;

	for (int i = 0; i <= UEIP_PCP_FILTERS_MAX; i++) {
		memcpy(opts + n, OPT_FILTER_V4, sizeof(OPT_FILTER_V4));
		opts[n + 7] = (uint8_t)i;	/* remote port i */
		n += sizeof(OPT_FILTER_V4);
	}
	assert_int_equal(decode_map_with(opts, n - sizeof(OPT_FILTER_V4), &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.nfilters, UEIP_PCP_FILTERS_MAX);
	assert_int_equal(m.filters[15].remote_port, 15);
	assert_int_equal(decode_map_with(opts, n, &m), UEIP_PCP_EXCESSIVE_REMOTE_PEERS);
}

/* ------------------------------------------------------------------ */
/* Header rules (§8.3)                                                */
/* ------------------------------------------------------------------ */

static void
test_drop(void **state)
{
	uint8_t req[sizeof(MAP_REQ)];
	struct ueip_pcp_msg m;

	assert_int_equal(decode(MAP_REQ, 0, &m), UEIP_PCP_DROP);
	assert_int_equal(decode(MAP_REQ, 1, &m), UEIP_PCP_DROP);	/* < 2 octets */
	memcpy(req, MAP_REQ, sizeof(req));
	req[1] = 0x81;						/* R bit set */
	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_DROP);
	assert_int_equal(decode(MAP_RESP, sizeof(MAP_RESP), &m), UEIP_PCP_DROP);
	req[0] = 0;						/* NAT-PMP */
	req[1] = 0x01;
	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_DROP);
	assert_int_equal(decode((const uint8_t *)"\0\0", 2, &m), UEIP_PCP_DROP);
}

static void
test_unsupp_version(void **state)
{
	static const uint8_t v3[] = { 0x03, 0x01 };		/* 2 octets are enough */
	uint8_t req[sizeof(MAP_REQ)];
	struct ueip_pcp_msg m;

	memcpy(req, MAP_REQ, sizeof(req));
	req[0] = 1;						/* PCP draft version 1 */
	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_UNSUPP_VERSION);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.opcode, UEIP_PCP_OP_MAP);
	assert_int_equal(m.lifetime, 3600);			/* for the log */
	assert_int_equal(decode(v3, sizeof(v3), &m), UEIP_PCP_UNSUPP_VERSION);
	req[0] = 0xff;
	assert_int_equal(decode(req, 7, &m), UEIP_PCP_UNSUPP_VERSION);
}

static void
test_malformed_request_length(void **state)
{
	uint8_t req[UEIP_PCP_MAX + 8];
	struct ueip_pcp_msg m;

	memset(req, 0, sizeof(req));
	memcpy(req, MAP_REQ, sizeof(MAP_REQ));
	assert_int_equal(decode(req, 20, &m), UEIP_PCP_MALFORMED_REQUEST);	/* < 24 */
	assert_int_equal(m.lifetime, 3600);
	assert_int_equal(decode(req, 2, &m), UEIP_PCP_MALFORMED_REQUEST);
	assert_int_equal(decode(req, 23, &m), UEIP_PCP_MALFORMED_REQUEST);
	assert_int_equal(decode(req, 62, &m), UEIP_PCP_MALFORMED_REQUEST);	/* not % 4 */
	assert_int_equal(decode(req, 61, &m), UEIP_PCP_MALFORMED_REQUEST);
	/* 1100 octets: MAP + one optional option of 1036 octets: the largest */
	req[60] = 0xc8;
	req[62] = (1100 - 64) >> 8;
	req[63] = (1100 - 64) & 0xff;
	assert_int_equal(decode(req, 1100, &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.skipped_options, 1);
	req[62] = (1104 - 64) >> 8;
	req[63] = (1104 - 64) & 0xff;
	assert_int_equal(decode(req, 1104, &m), UEIP_PCP_MALFORMED_REQUEST);	/* > 1100 */
}

static void
test_unsupp_opcode(void **state)
{
	uint8_t req[sizeof(ANNOUNCE_REQ)];
	struct ueip_pcp_msg m;

	memcpy(req, ANNOUNCE_REQ, sizeof(req));
	for (unsigned op = 3; op < 128; op++) {
		req[1] = (uint8_t)op;
		assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_UNSUPP_OPCODE);
		assert_int_equal(m.opcode, op);
	}
	/* a bad length is found before the opcode */
	assert_int_equal(decode(req, 20, &m), UEIP_PCP_MALFORMED_REQUEST);
}

static void
test_opcode_data_cut(void **state)
{
	struct ueip_pcp_msg m;

	assert_int_equal(decode(MAP_REQ, 56, &m), UEIP_PCP_MALFORMED_REQUEST);
	assert_int_equal(decode(MAP_REQ, 24, &m), UEIP_PCP_MALFORMED_REQUEST);
	assert_int_equal(decode(PEER_REQ, 76, &m), UEIP_PCP_MALFORMED_REQUEST);
	assert_int_equal(decode(PEER_REQ, 60, &m), UEIP_PCP_MALFORMED_REQUEST);
}

/* §12.1: protocol, internal port, remote port non-zero; a remote address. */
static void
test_peer_malformed(void **state)
{
	uint8_t req[sizeof(PEER_REQ)];
	struct ueip_pcp_msg m;
	static const struct {
		size_t off;
		size_t n;
	} zero[] = { { 36, 1 }, { 40, 2 }, { 60, 2 }, { 76, 4 } };

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		memcpy(req, PEER_REQ, sizeof(req));
		memset(req + zero[i].off, 0, zero[i].n);
		assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_MALFORMED_REQUEST);
	}
	memcpy(req, PEER_REQ, sizeof(req));
	memset(req + 64, 0, 16);				/* remote :: */
	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_MALFORMED_REQUEST);
}

/* ------------------------------------------------------------------ */
/* Error responses built from the request (§7.2, §7.3, §8.3)           */
/* ------------------------------------------------------------------ */

static void
test_error_unsupp_option(void **state)
{
	uint8_t req[sizeof(MAP_REQ) + sizeof(OPT_UNKNOWN_MANDATORY)];
	static const uint8_t want[] = {
		0x02,			/* version 2 */
		0x81,			/* R=1, MAP */
		0x00,			/* reserved */
		0x05,			/* result UNSUPP_OPTION */
		0x00, 0x00, 0x07, 0x08,	/* lifetime 1800 */
		0x00, 0x00, 0x04, 0xd2,	/* epoch 1234 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 100, 64, 0, 2,
					/* reserved: last 96 bits of the client address (§7.2) */
		NONCE, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x90, 0x00, 0x00, V4(0, 0, 0, 0),
					/* MAP data copied */
		0x63, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,	/* option copied */
	};
	struct ueip_pcp_msg m;
	int n;

	memcpy(req, MAP_REQ, sizeof(MAP_REQ));
	memcpy(req + sizeof(MAP_REQ), OPT_UNKNOWN_MANDATORY, sizeof(OPT_UNKNOWN_MANDATORY));
	assert_int_equal(decode(req, sizeof(req), &m), UEIP_PCP_UNSUPP_OPTION);
	n = ueip_pcp_encode_error(req, sizeof(req), UEIP_PCP_UNSUPP_OPTION, 1800, 1234, out, sizeof(out));
	EXPECT_BYTES(n, want);
	/* the client reads it back: an error, the option not understood is skipped */
	assert_int_equal(ueip_pcp_decode_response(out, (size_t)n, &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.result, UEIP_PCP_UNSUPP_OPTION);
	assert_int_equal(m.lifetime, 1800);
	assert_int_equal(m.epoch, 1234);
	assert_int_equal(m.internal_port, 8080);
	assert_int_equal(m.skipped_options, 1);
}

/* A request that was parsed and refused: the 96 reserved bits are zero. */
static void
test_error_parsed_request(void **state)
{
	struct ueip_pcp_msg m;
	int n;

	assert_int_equal(decode(MAP_REQ, sizeof(MAP_REQ), &m), UEIP_PCP_SUCCESS);
	n = ueip_pcp_encode_error(MAP_REQ, sizeof(MAP_REQ), UEIP_PCP_NOT_AUTHORIZED, 1800, 7, out,
				  sizeof(out));
	assert_int_equal(n, sizeof(MAP_REQ));
	assert_int_equal(out[1], 0x81);
	assert_int_equal(out[3], UEIP_PCP_NOT_AUTHORIZED);
	for (int i = 12; i < 24; i++)
		assert_int_equal(out[i], 0);
	assert_memory_equal(out + 24, MAP_REQ + 24, sizeof(MAP_REQ) - 24);
}

static void
test_error_short_and_long(void **state)
{
	static const uint8_t v1_short[] = { 0x01, 0x01, 0x00, 0x00, 0xab, 0xcd };
	static const uint8_t want_v1[] = {
		0x02,			/* version: the highest we support */
		0x81,			/* R=1, opcode as requested */
		0x00,			/* reserved */
		0x01,			/* UNSUPP_VERSION */
		0x00, 0x00, 0x07, 0x08,	/* lifetime 1800 */
		0x00, 0x00, 0x00, 0x09,	/* epoch 9 */
		ZERO12,			/* nothing of the request left to copy */
	};
	uint8_t req[1104];
	struct ueip_pcp_msg m;
	int n;

	n = ueip_pcp_encode_error(v1_short, sizeof(v1_short), UEIP_PCP_UNSUPP_VERSION, 1800, 9, out,
				  sizeof(out));
	EXPECT_BYTES(n, want_v1);
	/* 26 octets: truncated to 24 */
	memset(req, 0x5a, sizeof(req));
	memcpy(req, MAP_REQ, 24);
	n = ueip_pcp_encode_error(req, 26, UEIP_PCP_MALFORMED_REQUEST, 1800, 9, out, sizeof(out));
	assert_int_equal(n, 24);
	assert_memory_equal(out + 12, MAP_REQ + 12, 12);
	/* 1104 octets: the first 1100 */
	n = ueip_pcp_encode_error(req, sizeof(req), UEIP_PCP_MALFORMED_REQUEST, 1800, 9, out, sizeof(out));
	assert_int_equal(n, UEIP_PCP_MAX);
	assert_int_equal(out[UEIP_PCP_MAX - 1], 0x5a);
	assert_int_equal(ueip_pcp_decode_response(out, (size_t)n, &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.result, UEIP_PCP_MALFORMED_REQUEST);
	/* in place */
	memcpy(req, MAP_REQ, sizeof(MAP_REQ));
	n = ueip_pcp_encode_error(req, sizeof(MAP_REQ), UEIP_PCP_MALFORMED_OPTION, 1, 2, req, sizeof(req));
	assert_int_equal(n, sizeof(MAP_REQ));
	assert_int_equal(req[1], 0x81);
	assert_int_equal(req[3], UEIP_PCP_MALFORMED_OPTION);
	/* refusals */
	assert_int_equal(ueip_pcp_encode_error(MAP_REQ, sizeof(MAP_REQ), 3, 0, 0, out, 59), UEIP_ETOOBIG);
	assert_int_equal(ueip_pcp_encode_error(MAP_REQ, 1, 3, 0, 0, out, sizeof(out)), UEIP_EINVAL);
	assert_int_equal(ueip_pcp_encode_error(MAP_REQ, sizeof(MAP_REQ), 0, 0, 0, out, sizeof(out)),
			 UEIP_EINVAL);
}

/* ------------------------------------------------------------------ */
/* Round trips and the client side                                    */
/* ------------------------------------------------------------------ */

static void
test_round_trip_full(void **state)
{
	struct ueip_pcp_msg m, back;
	int n;

	fill_map_opts(&m);
	m.nfilters = UEIP_PCP_FILTERS_MAX;
	for (int i = 0; i < UEIP_PCP_FILTERS_MAX; i++) {
		m.filters[i].prefix_len = (uint8_t)(96 + 2 * i);
		m.filters[i].remote_port = (uint16_t)(1000 + i);
		set_v4(&m.filters[i].remote, 203, 0, 113, (uint8_t)i);
	}
	n = ueip_pcp_encode_request(&m, out, sizeof(out));
	assert_int_equal(n, 24 + 36 + 20 + 4 + 16 * 24);
	assert_int_equal(decode(out, (size_t)n, &back), UEIP_PCP_SUCCESS);
	assert_memory_equal(&back, &m, sizeof(m));

	m.response = 1;
	m.result = UEIP_PCP_SUCCESS;
	m.epoch = 99;
	m.client = (struct in6_addr){ 0 };
	n = ueip_pcp_encode_response(&m, out, sizeof(out));
	assert_int_equal(ueip_pcp_decode_response(out, (size_t)n, &back), UEIP_PCP_SUCCESS);
	assert_memory_equal(&back, &m, sizeof(m));

	fill_peer(&m);
	m.has_third_party = 1;
	set_v4(&m.third_party, 100, 64, 0, 77);
	n = ueip_pcp_encode_request(&m, out, sizeof(out));
	assert_int_equal(n, 24 + 56 + 20);
	assert_int_equal(decode(out, (size_t)n, &back), UEIP_PCP_SUCCESS);
	assert_memory_equal(&back, &m, sizeof(m));
}

static void
test_encode_refusals(void **state)
{
	struct ueip_pcp_msg m;

	fill_map_opts(&m);
	assert_int_equal(ueip_pcp_encode_request(&m, out, sizeof(MAP_OPTS_REQ) - 1), UEIP_ETOOBIG);
	assert_int_equal(ueip_pcp_encode_response(&m, out, 10), UEIP_ETOOBIG);
	m.nfilters = UEIP_PCP_FILTERS_MAX + 1;
	assert_int_equal(ueip_pcp_encode_request(&m, out, sizeof(out)), UEIP_EINVAL);
	fill_peer(&m);
	m.prefer_failure = 1;
	assert_int_equal(ueip_pcp_encode_request(&m, out, sizeof(out)), UEIP_EINVAL);
	fill_peer(&m);
	m.nfilters = 1;
	assert_int_equal(ueip_pcp_encode_response(&m, out, sizeof(out)), UEIP_EINVAL);
	memset(&m, 0, sizeof(m));
	m.has_third_party = 1;
	assert_int_equal(ueip_pcp_encode_request(&m, out, sizeof(out)), UEIP_EINVAL);
	m.has_third_party = 0;
	m.opcode = 3;
	assert_int_equal(ueip_pcp_encode_request(&m, out, sizeof(out)), UEIP_EINVAL);
}

static void
test_response_decoding(void **state)
{
	uint8_t resp[sizeof(MAP_RESP) + 24];
	struct ueip_pcp_msg m;

	/* not responses */
	assert_int_equal(ueip_pcp_decode_response(MAP_REQ, sizeof(MAP_REQ), &m), UEIP_PCP_DROP);
	assert_int_equal(ueip_pcp_decode_response(MAP_RESP, 1, &m), UEIP_PCP_DROP);
	memcpy(resp, MAP_RESP, sizeof(MAP_RESP));
	resp[0] = 0;
	assert_int_equal(ueip_pcp_decode_response(resp, sizeof(MAP_RESP), &m), UEIP_PCP_DROP);
	resp[0] = 2;
	resp[1] = 0x85;						/* a success we never asked for */
	assert_int_equal(ueip_pcp_decode_response(resp, sizeof(MAP_RESP), &m), UEIP_PCP_DROP);
	/* malformed */
	assert_int_equal(ueip_pcp_decode_response(MAP_RESP, 20, &m), UEIP_PCP_MALFORMED_REQUEST);
	assert_int_equal(ueip_pcp_decode_response(MAP_RESP, 58, &m), UEIP_PCP_MALFORMED_REQUEST);
	assert_int_equal(ueip_pcp_decode_response(MAP_RESP, 56, &m), UEIP_PCP_MALFORMED_REQUEST);
	/* an unknown mandatory option, or one not valid for the opcode: ignored */
	memcpy(resp, MAP_RESP, sizeof(MAP_RESP));
	memcpy(resp + sizeof(MAP_RESP), OPT_UNKNOWN_MANDATORY, 8);
	memcpy(resp + sizeof(MAP_RESP) + 8, OPT_THIRD_PARTY, 4);	/* runs past the end */
	assert_int_equal(ueip_pcp_decode_response(resp, sizeof(MAP_RESP) + 8, &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.skipped_options, 1);
	assert_int_equal(m.external_port, 8080);
	assert_int_equal(ueip_pcp_decode_response(resp, sizeof(MAP_RESP) + 12, &m),
			 UEIP_PCP_MALFORMED_REQUEST);
	/* an error response cut short still tells the result */
	memcpy(resp, MAP_RESP, 24);
	resp[3] = UEIP_PCP_NO_RESOURCES;
	assert_int_equal(ueip_pcp_decode_response(resp, 24, &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.result, UEIP_PCP_NO_RESOURCES);
	assert_int_equal(m.opcode, UEIP_PCP_OP_MAP);
	assert_int_equal(m.lifetime, 3600);
	resp[1] = 0x85;						/* answer to an unknown opcode */
	resp[3] = UEIP_PCP_UNSUPP_OPCODE;
	assert_int_equal(ueip_pcp_decode_response(resp, 24, &m), UEIP_PCP_SUCCESS);
	assert_int_equal(m.opcode, 5);
}

static void
test_names_and_addresses(void **state)
{
	struct in6_addr a;
	uint32_t v4 = 0;

	assert_string_equal(ueip_pcp_result_name(UEIP_PCP_MALFORMED_REQUEST), "MALFORMED_REQUEST");
	assert_string_equal(ueip_pcp_result_name(UEIP_PCP_EXCESSIVE_REMOTE_PEERS), "EXCESSIVE_REMOTE_PEERS");
	assert_string_equal(ueip_pcp_result_name(UEIP_PCP_DROP), "DROP");
	assert_string_equal(ueip_pcp_result_name(14), "UNKNOWN");
	assert_string_equal(ueip_pcp_opcode_name(UEIP_PCP_OP_PEER), "PEER");
	assert_string_equal(ueip_pcp_opcode_name(3), "UNKNOWN");

	ueip_pcp_v4_to_mapped(0xc6336407, &a);
	assert_int_equal(ueip_pcp_mapped_to_v4(&a, &v4), 1);
	assert_int_equal(v4, 0xc6336407);
	a.s6_addr[3] = 1;	/* §5: all 96 bits are checked */
	assert_int_equal(ueip_pcp_mapped_to_v4(&a, &v4), 0);
}

/* ------------------------------------------------------------------ */
/* NAT-PMP (RFC 6886)                                                 */
/* ------------------------------------------------------------------ */

static const uint8_t NATPMP_ADDR_REQ[] = {
	0x00,			/* version 0 */
	0x00,			/* opcode 0: external address */
};
static const uint8_t NATPMP_ADDR_RESP[] = {
	0x00,			/* version 0 */
	0x80,			/* opcode 128 + 0 */
	0x00, 0x00,		/* result SUCCESS */
	0x00, 0x00, 0x04, 0xd2,	/* seconds since start of epoch 1234 */
	198, 51, 100, 7,	/* external IPv4 address */
};
static const uint8_t NATPMP_UDP_REQ[] = {
	0x00,			/* version 0 */
	0x01,			/* opcode 1: map UDP */
	0x00, 0x00,		/* reserved */
	0x13, 0x88,		/* internal port 5000 */
	0x13, 0x88,		/* suggested external port 5000 */
	0x00, 0x00, 0x1c, 0x20,	/* requested lifetime 7200 */
};
static const uint8_t NATPMP_UDP_RESP[] = {
	0x00,			/* version 0 */
	0x81,			/* opcode 128 + 1 */
	0x00, 0x00,		/* result SUCCESS */
	0x00, 0x00, 0x04, 0xd2,	/* epoch 1234 */
	0x13, 0x88,		/* internal port 5000 */
	0x13, 0x89,		/* mapped external port 5001 */
	0x00, 0x00, 0x1c, 0x20,	/* lifetime 7200 */
};
static const uint8_t NATPMP_TCP_REQ[] = {
	0x00, 0x02,		/* version 0, opcode 2: map TCP */
	0x00, 0x00,		/* reserved */
	0x1f, 0x90,		/* internal port 8080 */
	0x00, 0x00,		/* suggested external port: none */
	0x00, 0x00, 0x0e, 0x10,	/* requested lifetime 3600 */
};
static const uint8_t NATPMP_TCP_RESP[] = {
	0x00, 0x82,		/* version 0, opcode 128 + 2 */
	0x00, 0x00,		/* SUCCESS */
	0x00, 0x00, 0x04, 0xd2,	/* epoch 1234 */
	0x1f, 0x90, 0x1f, 0x90,	/* internal 8080, mapped external 8080 */
	0x00, 0x00, 0x0e, 0x10,	/* lifetime 3600 */
};

static void
test_natpmp_address(void **state)
{
	struct ueip_natpmp_msg m;

	assert_int_equal(ueip_natpmp_decode_request(NATPMP_ADDR_REQ, 2, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.opcode, UEIP_NATPMP_OP_ADDRESS);
	EXPECT_BYTES(ueip_natpmp_encode_request(&m, out, sizeof(out)), NATPMP_ADDR_REQ);
	m.response = 1;
	m.epoch = 1234;
	m.external = 0xc6336407;	/* 198.51.100.7 */
	EXPECT_BYTES(ueip_natpmp_encode_response(&m, out, sizeof(out)), NATPMP_ADDR_RESP);
	memset(&m, 0, sizeof(m));
	assert_int_equal(ueip_natpmp_decode_response(NATPMP_ADDR_RESP, 12, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.response, 1);
	assert_int_equal(m.epoch, 1234);
	assert_int_equal(m.external, 0xc6336407);
}

static void
test_natpmp_map(void **state)
{
	struct ueip_natpmp_msg m;

	assert_int_equal(ueip_natpmp_decode_request(NATPMP_UDP_REQ, 12, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.opcode, UEIP_NATPMP_OP_MAP_UDP);
	assert_int_equal(m.internal_port, 5000);
	assert_int_equal(m.external_port, 5000);
	assert_int_equal(m.lifetime, 7200);
	EXPECT_BYTES(ueip_natpmp_encode_request(&m, out, sizeof(out)), NATPMP_UDP_REQ);
	m.response = 1;
	m.epoch = 1234;
	m.external_port = 5001;
	EXPECT_BYTES(ueip_natpmp_encode_response(&m, out, sizeof(out)), NATPMP_UDP_RESP);
	assert_int_equal(ueip_natpmp_decode_response(NATPMP_UDP_RESP, 16, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.external_port, 5001);

	assert_int_equal(ueip_natpmp_decode_request(NATPMP_TCP_REQ, 12, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.opcode, UEIP_NATPMP_OP_MAP_TCP);
	EXPECT_BYTES(ueip_natpmp_encode_request(&m, out, sizeof(out)), NATPMP_TCP_REQ);
	m.epoch = 1234;
	m.external_port = 8080;
	EXPECT_BYTES(ueip_natpmp_encode_response(&m, out, sizeof(out)), NATPMP_TCP_RESP);
	/* longer requests: the extra octets are ignored */
	memcpy(out, NATPMP_TCP_REQ, 12);
	assert_int_equal(ueip_natpmp_decode_request(out, 16, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.lifetime, 3600);
}

static void
test_natpmp_decode_refusals(void **state)
{
	static const uint8_t v1[] = { 0x01, 0x00 };
	static const uint8_t op5[] = { 0x00, 0x05, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04 };
	static const uint8_t resp[] = { 0x00, 0x80 };
	struct ueip_natpmp_msg m;

	assert_int_equal(ueip_natpmp_decode_request(NATPMP_ADDR_REQ, 1, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_request(NATPMP_ADDR_REQ, 0, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_request(resp, 2, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_request(NATPMP_UDP_RESP, 16, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_request(NATPMP_UDP_REQ, 11, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_request(NATPMP_TCP_REQ, 8, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_request(v1, 2, &m), UEIP_NATPMP_UNSUPP_VERSION);
	assert_int_equal(ueip_natpmp_decode_request(MAP_REQ, sizeof(MAP_REQ), &m),
			 UEIP_NATPMP_UNSUPP_VERSION);
	/* a PCP response is never answered */
	assert_int_equal(ueip_natpmp_decode_request(MAP_RESP, sizeof(MAP_RESP), &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_request(op5, sizeof(op5), &m), UEIP_NATPMP_UNSUPP_OPCODE);
	assert_int_equal(m.opcode, 5);
	assert_int_equal(ueip_natpmp_decode_request(op5, 2, &m), UEIP_NATPMP_UNSUPP_OPCODE);
}

static void
test_natpmp_errors(void **state)
{
	static const uint8_t v1[] = { 0x01, 0x02, 0x00, 0x00 };
	static const uint8_t want_version[] = {
		0x00,			/* version 0 */
		0x00,			/* OP = 0, as in the figure of §3.5 */
		0x00, 0x01,		/* result 1: Unsupported Version */
		0x00, 0x00, 0x04, 0xd2,	/* epoch 1234 */
	};
	static const uint8_t op5[] = { 0x00, 0x05, 0xaa, 0xbb, 0x01, 0x02, 0x03, 0x04 };
	static const uint8_t want_op5[] = {
		0x00,			/* version 0 */
		0x85,			/* the request's opcode with the top bit set */
		0x00, 0x05,		/* result 5: Unsupported opcode */
		0x01, 0x02, 0x03, 0x04,	/* the rest of the request, returned */
	};
	static const uint8_t op7[] = { 0x00, 0x07 };
	static const uint8_t want_op7[] = { 0x00, 0x87, 0x00, 0x05 };
	static const uint8_t want_udp_err[] = {
		0x00, 0x81,		/* version 0, opcode 128 + 1 */
		0x00, 0x04,		/* result 4: Out of resources */
		0x00, 0x00, 0x04, 0xd2,	/* epoch 1234 */
		0x13, 0x88,		/* internal port as requested */
		0x00, 0x00,		/* mapped external port 0: none made */
		0x00, 0x00, 0x00, 0x00,	/* lifetime 0 */
	};
	static const uint8_t want_addr_err[] = {
		0x00, 0x80,		/* version 0, opcode 128 */
		0x00, 0x03,		/* result 3: Network Failure */
		0x00, 0x00, 0x04, 0xd2,	/* epoch 1234 */
		0x00, 0x00, 0x00, 0x00,	/* external address 0.0.0.0 */
	};
	struct ueip_natpmp_msg m;
	int n;

	EXPECT_BYTES(ueip_natpmp_encode_error(v1, sizeof(v1), UEIP_NATPMP_UNSUPP_VERSION, 1234, out,
					      sizeof(out)), want_version);
	assert_int_equal(ueip_natpmp_decode_response(out, 8, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.result, UEIP_NATPMP_UNSUPP_VERSION);
	assert_int_equal(m.epoch, 1234);
	EXPECT_BYTES(ueip_natpmp_encode_error(op5, sizeof(op5), UEIP_NATPMP_UNSUPP_OPCODE, 1234, out,
					      sizeof(out)), want_op5);
	EXPECT_BYTES(ueip_natpmp_encode_error(op7, sizeof(op7), UEIP_NATPMP_UNSUPP_OPCODE, 1234, out,
					      sizeof(out)), want_op7);
	assert_int_equal(ueip_natpmp_decode_response(out, 4, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.opcode, 7);
	assert_int_equal(m.result, UEIP_NATPMP_UNSUPP_OPCODE);
	n = ueip_natpmp_encode_error(NATPMP_UDP_REQ, 12, UEIP_NATPMP_OUT_OF_RESOURCES, 1234, out,
				     sizeof(out));
	EXPECT_BYTES(n, want_udp_err);
	assert_int_equal(ueip_natpmp_decode_response(out, (size_t)n, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.internal_port, 5000);
	assert_int_equal(m.result, UEIP_NATPMP_OUT_OF_RESOURCES);
	EXPECT_BYTES(ueip_natpmp_encode_error(NATPMP_ADDR_REQ, 2, UEIP_NATPMP_NETWORK_FAILURE, 1234, out,
					      sizeof(out)), want_addr_err);
	/* refusals */
	assert_int_equal(ueip_natpmp_encode_error(NATPMP_ADDR_REQ, 1, 2, 0, out, sizeof(out)), UEIP_EINVAL);
	assert_int_equal(ueip_natpmp_encode_error(NATPMP_ADDR_REQ, 2, 0, 0, out, sizeof(out)), UEIP_EINVAL);
	assert_int_equal(ueip_natpmp_encode_error(NATPMP_UDP_REQ, 8, 2, 0, out, sizeof(out)), UEIP_EINVAL);
	assert_int_equal(ueip_natpmp_encode_error(op5, sizeof(op5), 2, 0, out, sizeof(out)), UEIP_EINVAL);
	assert_int_equal(ueip_natpmp_encode_error(v1, 2, 1, 0, out, 7), UEIP_ETOOBIG);
	assert_int_equal(ueip_natpmp_encode_error(NATPMP_UDP_REQ, 12, 2, 0, out, 15), UEIP_ETOOBIG);
}

static void
test_natpmp_response_decoding(void **state)
{
	uint8_t resp[16];
	struct ueip_natpmp_msg m;

	/* an error response: the address is ignored (§3.2) */
	memcpy(resp, NATPMP_ADDR_RESP, 12);
	resp[3] = UEIP_NATPMP_NOT_AUTHORIZED;
	assert_int_equal(ueip_natpmp_decode_response(resp, 12, &m), UEIP_NATPMP_SUCCESS);
	assert_int_equal(m.result, UEIP_NATPMP_NOT_AUTHORIZED);
	assert_int_equal(m.external, 0);
	/* and is written as 0.0.0.0 */
	m.external = 0x01020304;
	assert_int_equal(ueip_natpmp_encode_response(&m, out, sizeof(out)), 12);
	assert_memory_equal(out + 8, "\0\0\0\0", 4);
	/* a success cut short, a request, another version: dropped */
	assert_int_equal(ueip_natpmp_decode_response(NATPMP_ADDR_RESP, 8, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_response(NATPMP_UDP_RESP, 12, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_response(NATPMP_UDP_REQ, 12, &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_response(MAP_RESP, sizeof(MAP_RESP), &m), UEIP_NATPMP_DROP);
	assert_int_equal(ueip_natpmp_decode_response(NATPMP_ADDR_RESP, 3, &m), UEIP_NATPMP_DROP);
	memcpy(resp, NATPMP_ADDR_RESP, 12);
	resp[1] = 0x85;					/* a success for opcode 5 */
	assert_int_equal(ueip_natpmp_decode_response(resp, 12, &m), UEIP_NATPMP_DROP);
	/* encoder refusals */
	memset(&m, 0, sizeof(m));
	m.opcode = 3;
	assert_int_equal(ueip_natpmp_encode_request(&m, out, sizeof(out)), UEIP_EINVAL);
	assert_int_equal(ueip_natpmp_encode_response(&m, out, sizeof(out)), UEIP_EINVAL);
	m.opcode = 1;
	assert_int_equal(ueip_natpmp_encode_request(&m, out, 11), UEIP_ETOOBIG);
	assert_int_equal(ueip_natpmp_encode_response(&m, out, 15), UEIP_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_announce_lifetime_ignored),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_protocol_zero),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_map_v6),
		cmocka_unit_test(test_options_all),
		cmocka_unit_test(test_option_third_party),
		cmocka_unit_test(test_option_prefer_failure),
		cmocka_unit_test(test_option_filter),
		cmocka_unit_test(test_option_unknown_optional_skipped),
		cmocka_unit_test(test_option_unknown_mandatory),
		cmocka_unit_test(test_option_order),
		cmocka_unit_test(test_option_malformed),
		cmocka_unit_test(test_option_wrong_opcode),
		cmocka_unit_test(test_filter_prefix),
		cmocka_unit_test(test_filters_max),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_unsupp_version),
		cmocka_unit_test(test_malformed_request_length),
		cmocka_unit_test(test_unsupp_opcode),
		cmocka_unit_test(test_opcode_data_cut),
		cmocka_unit_test(test_peer_malformed),
		cmocka_unit_test(test_error_unsupp_option),
		cmocka_unit_test(test_error_parsed_request),
		cmocka_unit_test(test_error_short_and_long),
		cmocka_unit_test(test_round_trip_full),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_response_decoding),
		cmocka_unit_test(test_names_and_addresses),
		cmocka_unit_test(test_natpmp_address),
		cmocka_unit_test(test_natpmp_map),
		cmocka_unit_test(test_natpmp_decode_refusals),
		cmocka_unit_test(test_natpmp_errors),
		cmocka_unit_test(test_natpmp_response_decoding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
