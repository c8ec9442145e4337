// SPDX-License-Identifier: Apache-2.0
/*
 * proto/setframe: every set-peer message survives encode -> decode with all
 * its fields, and a frame that is forged, cut, oversized, padded or carries
 * records that do not add up is refused with the documented code, never
 * half-read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/setframe.h"

static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";
#define KEY_LEN (sizeof(KEY) - 1)
static const uint8_t OTHER_KEY[] = "0123456789abcdef0123456789abcdeX";

static struct ueip_buf out;

static int
setup(void **state)
{
	ueip_buf_init(&out, 4u << 20);
	return 0;
}

static int
teardown(void **state)
{
	ueip_buf_deinit(&out);
	return 0;
}

/* Seal the frame begun at 0 in out and decode it back. */
static int
roundtrip(uint64_t seq, struct ueip_setmsg *msg)
{
	long len;

	assert_int_equal(ueip_set_seal(&out, 0, seq, KEY, KEY_LEN), 0);
	len = ueip_set_frame_len(out.data, out.len);
	assert_int_equal(len, (long)out.len);
	return ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, msg);
}

static struct ueip_set_session
sample_session(unsigned n, int v4, int v6)
{
	struct ueip_set_session s;

	memset(&s, 0, sizeof(s));
	snprintf(s.key.supi, sizeof(s.key.supi), "imsi-0010100000%05u", n);
	snprintf(s.key.dnn, sizeof(s.key.dnn), "internet.mnc001.mcc001.gprs");
	snprintf(s.key.snssai, sizeof(s.key.snssai), "1-000001");
	s.key.psi = (uint8_t)(1 + n % 15);
	s.ip_type = v4 && v6 ? UEIP_IP_V4V6 : v4 ? UEIP_IP_V4 : UEIP_IP_V6;
	s.is_static = n % 2;
	s.has_v4 = (uint8_t)v4;
	s.has_v6 = (uint8_t)v6;
	if (v4) {
		snprintf(s.v4_pool, sizeof(s.v4_pool), "internet-v4");
		s.v4_index = 1000 + n;
	}
	if (v6) {
		snprintf(s.v6_pool, sizeof(s.v6_pool), "internet-v6-with-a-long-name-31");
		s.v6_index = 0xffffffffULL - n;
	}
	s.alloc_id = 0x8000000000000000ULL + n;
	s.gen = 7 + n;
	s.created_ms = 1700000000000LL + n;
	snprintf(s.prev, sizeof(s.prev), n % 3 ? "smf2" : "");
	return s;
}

static void
assert_session_equal(const struct ueip_set_session *a, const struct ueip_set_session *b)
{
	assert_true(ueip_session_key_equal(&a->key, &b->key));
	assert_int_equal(a->ip_type, b->ip_type);
	assert_int_equal(a->is_static, b->is_static);
	assert_int_equal(a->has_v4, b->has_v4);
	assert_int_equal(a->has_v6, b->has_v6);
	assert_string_equal(a->v4_pool, b->v4_pool);
	assert_string_equal(a->v6_pool, b->v6_pool);
	assert_int_equal(a->v4_index, b->v4_index);
	assert_int_equal(a->v6_index, b->v6_index);
	assert_int_equal(a->alloc_id, b->alloc_id);
	assert_int_equal(a->gen, b->gen);
	assert_int_equal(a->created_ms, b->created_ms);
	assert_string_equal(a->prev, b->prev);
}

static struct ueip_set_unit
sample_unit(unsigned n, int64_t quarantine)
{
	struct ueip_set_unit u;

	memset(&u, 0, sizeof(u));
	snprintf(u.pool, sizeof(u.pool), "p%u", n % 3);
	u.index = (uint64_t)n * 977;
	u.alloc_id = 0xfedcba9876543210ULL ^ n;
	u.quarantine_until_ms = quarantine;
	return u;
}

static void
assert_unit_equal(const struct ueip_set_unit *a, const struct ueip_set_unit *b)
{
	assert_string_equal(a->pool, b->pool);
	assert_int_equal(a->index, b->index);
	assert_int_equal(a->alloc_id, b->alloc_id);
	assert_int_equal(a->quarantine_until_ms, b->quarantine_until_ms);
}

/* ---- every message type ---- */

static void
test_hello(void **state)
{
	struct ueip_setmsg m;
	uint8_t nonce[UEIP_SET_NONCE_LEN];

	for (unsigned i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0xf0 + i);
	ueip_set_begin(&out, UEIP_SET_HELLO);
	ueip_set_put_str(&out, "smf1");
	ueip_set_put_str(&out, "set-a");
	ueip_set_put_u64(&out, 42);
	ueip_set_put_u64(&out, 0x0102030405060708ULL);
	ueip_set_put_bytes(&out, nonce, sizeof(nonce));
	assert_int_equal(roundtrip(0x1122334455667788ULL, &m), 0);
	assert_int_equal(m.type, UEIP_SET_HELLO);
	assert_int_equal(m.seq, 0x1122334455667788ULL);
	assert_string_equal(m.member, "smf1");
	assert_string_equal(m.set_id, "set-a");
	assert_int_equal(m.epoch, 42);
	assert_int_equal(m.incarnation, 0x0102030405060708ULL);
	assert_memory_equal(m.nonce, nonce, sizeof(nonce));
	assert_int_equal(m.count, 0);
	assert_string_equal(ueip_set_type_name(m.type), "HELLO");
}

static void
test_ack(void **state)
{
	struct ueip_setmsg m;

	ueip_set_begin(&out, UEIP_SET_ACK);
	ueip_set_put_u64(&out, 99);
	ueip_set_put_u32(&out, UEIP_SET_ST_STALE);
	assert_int_equal(roundtrip(1, &m), 0);
	assert_int_equal(m.type, UEIP_SET_ACK);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.req_id, 99);
	assert_int_equal(m.status, UEIP_SET_ST_STALE);
	assert_string_equal(ueip_set_status_name(m.status), "STALE");
	assert_string_equal(ueip_set_status_name(99), "UNKNOWN");
}

static void
test_release(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_unit u[3], got;

	ueip_set_begin(&out, UEIP_SET_RELEASE);
	ueip_set_put_u64(&out, 5);
	ueip_set_put_u32(&out, 3);
	for (unsigned i = 0; i < 3; i++) {
		u[i] = sample_unit(i, 0);
		ueip_set_put_unit(&out, &u[i]);
	}
	assert_int_equal(roundtrip(2, &m), 0);
	assert_int_equal(m.type, UEIP_SET_RELEASE);
	assert_int_equal(m.req_id, 5);
	assert_int_equal(m.count, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(ueip_setmsg_next_unit(&m, &got), 1);
		assert_unit_equal(&got, &u[i]);
	}
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), 0);
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), 0);
}

static void
test_transfer_and_report(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_session s[3], got;

	s[0] = sample_session(0, 1, 0);
	s[1] = sample_session(1, 0, 1);
	s[2] = sample_session(2, 1, 1);

	ueip_set_begin(&out, UEIP_SET_TRANSFER);
	ueip_set_put_u64(&out, 77);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_session(&out, &s[2]);
	assert_int_equal(roundtrip(3, &m), 0);
	assert_int_equal(m.type, UEIP_SET_TRANSFER);
	assert_int_equal(m.req_id, 77);
	assert_int_equal(m.count, 1);
	assert_int_equal(ueip_setmsg_next_session(&m, &got), 1);
	assert_session_equal(&got, &s[2]);
	assert_int_equal(ueip_setmsg_next_session(&m, &got), 0);

	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_REPORT);
	ueip_set_put_u64(&out, 12345);
	ueip_set_put_u8(&out, 1);
	ueip_set_put_u32(&out, 3);
	for (unsigned i = 0; i < 3; i++)
		ueip_set_put_session(&out, &s[i]);
	assert_int_equal(roundtrip(4, &m), 0);
	assert_int_equal(m.type, UEIP_SET_REPORT);
	assert_int_equal(m.incarnation, 12345);
	assert_int_equal(m.flags, 1);
	assert_int_equal(m.count, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(ueip_setmsg_next_session(&m, &got), 1);
		assert_session_equal(&got, &s[i]);
	}
	assert_int_equal(ueip_setmsg_next_session(&m, &got), 0);

	/* An empty REPORT (nothing to say) is valid. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_REPORT);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u8(&out, 1);
	ueip_set_put_u32(&out, 0);
	assert_int_equal(roundtrip(5, &m), 0);
	assert_int_equal(ueip_setmsg_next_session(&m, &got), 0);
}

static void
test_recovery_reconciled_done(void **state)
{
	struct ueip_setmsg m;

	ueip_set_begin(&out, UEIP_SET_RECOVERY);
	ueip_set_put_u64(&out, 8);
	ueip_set_put_u64(&out, 9);
	ueip_set_put_u8(&out, 1);
	assert_int_equal(roundtrip(6, &m), 0);
	assert_int_equal(m.type, UEIP_SET_RECOVERY);
	assert_int_equal(m.incarnation, 8);
	assert_int_equal(m.epoch, 9);
	assert_int_equal(m.flags, 1);

	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_RECONCILED);
	ueip_set_put_u64(&out, 10);
	assert_int_equal(roundtrip(7, &m), 0);
	assert_int_equal(m.type, UEIP_SET_RECONCILED);
	assert_int_equal(m.incarnation, 10);

	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_HANDOFF_DONE);
	ueip_set_put_u64(&out, 11);
	assert_int_equal(roundtrip(8, &m), 0);
	assert_int_equal(m.type, UEIP_SET_HANDOFF_DONE);
	assert_int_equal(m.epoch, 11);
}

static void
test_members(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_member mem[2], got;

	memset(mem, 0, sizeof(mem));
	snprintf(mem[0].id, sizeof(mem[0].id), "smf1");
	snprintf(mem[0].address, sizeof(mem[0].address), "127.0.0.1:7101");
	snprintf(mem[1].id, sizeof(mem[1].id), "smf2");
	snprintf(mem[1].address, sizeof(mem[1].address), "[2001:db8::2]:7101");
	ueip_set_begin(&out, UEIP_SET_MEMBERS);
	ueip_set_put_u64(&out, 3);
	ueip_set_put_u64(&out, 17);
	ueip_set_put_u32(&out, 2);
	ueip_set_put_member(&out, &mem[0]);
	ueip_set_put_member(&out, &mem[1]);
	assert_int_equal(roundtrip(9, &m), 0);
	assert_int_equal(m.type, UEIP_SET_MEMBERS);
	assert_int_equal(m.req_id, 3);
	assert_int_equal(m.epoch, 17);
	assert_int_equal(m.count, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(ueip_setmsg_next_member(&m, &got), 1);
		assert_string_equal(got.id, mem[i].id);
		assert_string_equal(got.address, mem[i].address);
	}
	assert_int_equal(ueip_setmsg_next_member(&m, &got), 0);

	/* An empty membership is meaningless. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_MEMBERS);
	ueip_set_put_u64(&out, 3);
	ueip_set_put_u64(&out, 17);
	ueip_set_put_u32(&out, 0);
	assert_int_equal(roundtrip(10, &m), UEIP_EMALFORMED);
}

static void
test_handoff(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_unit u[2], got;

	u[0] = sample_unit(4, 0);
	u[1] = sample_unit(5, 1700000000123LL);
	ueip_set_begin(&out, UEIP_SET_HANDOFF);
	ueip_set_put_u64(&out, 21);
	ueip_set_put_u64(&out, 22);
	ueip_set_put_str(&out, "internet-v4");
	ueip_set_put_u32(&out, 4095);
	ueip_set_put_u32(&out, 2);
	ueip_set_put_unit(&out, &u[0]);
	ueip_set_put_unit(&out, &u[1]);
	assert_int_equal(roundtrip(11, &m), 0);
	assert_int_equal(m.type, UEIP_SET_HANDOFF);
	assert_int_equal(m.req_id, 21);
	assert_int_equal(m.epoch, 22);
	assert_string_equal(m.pool, "internet-v4");
	assert_int_equal(m.chunk, 4095);
	assert_int_equal(m.count, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(ueip_setmsg_next_unit(&m, &got), 1);
		assert_unit_equal(&got, &u[i]);
	}
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), 0);

	/* A negative quarantine deadline is malformed. */
	ueip_buf_reset(&out);
	u[0].quarantine_until_ms = -5;
	ueip_set_begin(&out, UEIP_SET_HANDOFF);
	ueip_set_put_u64(&out, 21);
	ueip_set_put_u64(&out, 22);
	ueip_set_put_str(&out, "internet-v4");
	ueip_set_put_u32(&out, 1);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_unit(&out, &u[0]);
	assert_int_equal(roundtrip(12, &m), 0);
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), UEIP_EMALFORMED);
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), 0);	/* and stays done */
}

static void
test_names(void **state)
{
	assert_string_equal(ueip_set_type_name(UEIP_SET_HANDOFF_DONE), "HANDOFF_DONE");
	assert_string_equal(ueip_set_type_name(0), "UNKNOWN");
	assert_string_equal(ueip_set_status_name(UEIP_SET_ST_OK), "OK");
}

/* ---- refusals ---- */

static void
build_ack(uint64_t seq)
{
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_ACK);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 0);
	assert_int_equal(ueip_set_seal(&out, 0, seq, KEY, KEY_LEN), 0);
}

static void
test_wrong_key_or_tamper(void **state)
{
	struct ueip_setmsg m;

	build_ack(1);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, OTHER_KEY, KEY_LEN, &m), UEIP_EAUTH);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN - 1, &m), UEIP_EAUTH);
	/* Any flipped bit in header, body or MAC. */
	for (size_t i = 3; i < out.len; i++) {
		if (i >= 4 && i < 8)
			continue;	/* length: a different error, tested below */
		out.data[i] ^= 0x10;
		assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), UEIP_EAUTH);
		out.data[i] ^= 0x10;
	}
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), 0);
}

static void
test_truncated(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_session s = sample_session(1, 1, 1);

	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_TRANSFER);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_session(&out, &s);
	assert_int_equal(ueip_set_seal(&out, 0, 1, KEY, KEY_LEN), 0);
	for (size_t len = 0; len < out.len; len++) {
		assert_int_equal(ueip_set_frame_len(out.data, len), 0);
		assert_int_equal(ueip_setmsg_decode(out.data, len, KEY, KEY_LEN, &m),
				 UEIP_EMALFORMED);
	}
	assert_int_equal(ueip_set_frame_len(out.data, out.len), (long)out.len);
	/* A second frame behind the first: frame_len still names only the first. */
	{
		size_t first = out.len;
		ueip_set_begin(&out, UEIP_SET_ACK);
		ueip_set_put_u64(&out, 1);
		ueip_set_put_u32(&out, 0);
		assert_int_equal(ueip_set_seal(&out, first, 2, KEY, KEY_LEN), 0);
		assert_int_equal(ueip_set_frame_len(out.data, out.len), (long)first);
		assert_int_equal(ueip_set_frame_len(out.data + first, out.len - first),
				 (long)(out.len - first));
		assert_int_equal(ueip_setmsg_decode(out.data + first, out.len - first, KEY,
						    KEY_LEN, &m), 0);
		assert_int_equal(m.type, UEIP_SET_ACK);
		assert_int_equal(m.seq, 2);
	}
}

/* A session whose holdings do not match its IP type is malformed. */
static void
test_session_type_mismatch(void **state)
{
	struct ueip_set_session in = { .key = { "imsi-001010000000001", "internet", "1", 5 },
				       .ip_type = UEIP_IP_V4V6, .has_v4 = 1, .v4_pool = "inet4",
				       .v4_index = 3, .alloc_id = 1, .gen = 1 }, got;
	struct ueip_setmsg m;

	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_TRANSFER);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_session(&out, &in);
	assert_int_equal(ueip_set_seal(&out, 0, 1, KEY, KEY_LEN), 0);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), 0);
	assert_int_equal(ueip_setmsg_next_session(&m, &got), UEIP_EMALFORMED);
}

static void
test_stats_round_trip(void **state)
{
	struct ueip_set_poolstat in = { "inet4", 5, 1, 2, 248 }, got;
	struct ueip_setmsg m;

	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_STATS);
	ueip_set_put_u64(&out, 77);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_poolstat(&out, &in);
	assert_int_equal(ueip_set_seal(&out, 0, 1, KEY, KEY_LEN), 0);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), 0);
	assert_int_equal(m.req_id, 77);
	assert_int_equal(ueip_setmsg_next_poolstat(&m, &got), 1);
	assert_string_equal(got.pool, "inet4");
	assert_true(got.used == 5 && got.quarantined == 1 && got.statics == 2 && got.free == 248);
	assert_int_equal(ueip_setmsg_next_poolstat(&m, &got), 0);
}

static void
test_bad_magic_version(void **state)
{
	struct ueip_setmsg m;

	build_ack(1);
	out.data[0] = 'X';
	assert_int_equal(ueip_set_frame_len(out.data, out.len), UEIP_EMALFORMED);
	assert_int_equal(ueip_set_frame_len(out.data, 1), UEIP_EMALFORMED);	/* early */
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), UEIP_EMALFORMED);
	out.data[0] = 'U';
	out.data[1] = 'T';
	assert_int_equal(ueip_set_frame_len(out.data, 2), UEIP_EMALFORMED);
	out.data[1] = 'S';
	out.data[2] = UEIP_SET_VERSION + 1;
	assert_int_equal(ueip_set_frame_len(out.data, out.len), UEIP_EVERSION);
	assert_int_equal(ueip_set_frame_len(out.data, 3), UEIP_EVERSION);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), UEIP_EVERSION);

	/* Unknown type, correctly sealed. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, 99);
	ueip_set_put_u64(&out, 1);
	assert_int_equal(ueip_set_seal(&out, 0, 1, KEY, KEY_LEN), 0);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), UEIP_EMALFORMED);
}

static void
test_too_big(void **state)
{
	struct ueip_setmsg m;
	uint8_t hdr[UEIP_SET_HDR_LEN] = { 'U', 'S', UEIP_SET_VERSION, UEIP_SET_ACK };
	uint8_t *zero = calloc(1, UEIP_SET_BODY_MAX + 1);

	assert_non_null(zero);
	/* The sender refuses to seal a body over the limit. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_REPORT);
	ueip_set_put_bytes(&out, zero, UEIP_SET_BODY_MAX + 1);
	assert_int_equal(out.err, 0);	/* the buffer itself had room */
	assert_int_equal(ueip_set_seal(&out, 0, 1, KEY, KEY_LEN), UEIP_ETOOBIG);
	/* Exactly at the limit is fine. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_REPORT);
	ueip_set_put_bytes(&out, zero, UEIP_SET_BODY_MAX);
	assert_int_equal(ueip_set_seal(&out, 0, 1, KEY, KEY_LEN), 0);
	assert_int_equal(ueip_set_frame_len(out.data, out.len),
			 (long)(UEIP_SET_HDR_LEN + UEIP_SET_BODY_MAX + UEIP_SET_MAC_LEN));
	free(zero);

	/* The receiver refuses a header announcing more, before reading the body. */
	hdr[4] = (uint8_t)((UEIP_SET_BODY_MAX + 1) >> 24);
	hdr[5] = (uint8_t)((UEIP_SET_BODY_MAX + 1) >> 16);
	hdr[6] = (uint8_t)((UEIP_SET_BODY_MAX + 1) >> 8);
	hdr[7] = (uint8_t)(UEIP_SET_BODY_MAX + 1);
	assert_int_equal(ueip_set_frame_len(hdr, sizeof(hdr)), UEIP_ETOOBIG);
	assert_int_equal(ueip_setmsg_decode(hdr, sizeof(hdr), KEY, KEY_LEN, &m), UEIP_ETOOBIG);
	hdr[4] = 0xff;
	assert_int_equal(ueip_set_frame_len(hdr, sizeof(hdr)), UEIP_ETOOBIG);
}

static void
test_count_beyond_records(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_unit u = sample_unit(1, 0), got;

	/* Says 2, carries 1: the first reads, the second is malformed. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_RELEASE);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 2);
	ueip_set_put_unit(&out, &u);
	assert_int_equal(roundtrip(1, &m), 0);
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), 1);
	assert_unit_equal(&got, &u);
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), UEIP_EMALFORMED);
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), 0);

	/* Says a million, carries 1: refused at once. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_RELEASE);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1000000);
	ueip_set_put_unit(&out, &u);
	assert_int_equal(roundtrip(1, &m), UEIP_EMALFORMED);

	/* Says 1, carries none. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_TRANSFER);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1);
	{
		struct ueip_set_session s;
		int rc = roundtrip(1, &m);
		if (rc == 0)
			assert_int_equal(ueip_setmsg_next_session(&m, &s), UEIP_EMALFORMED);
		else
			assert_int_equal(rc, UEIP_EMALFORMED);
	}

	/* Says 5 members, more than a set has. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_MEMBERS);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, UEIP_MEMBERS_MAX + 1);
	for (unsigned i = 0; i < UEIP_MEMBERS_MAX + 1; i++) {
		struct ueip_set_member mem = { "smf", "127.0.0.1:1" };
		ueip_set_put_member(&out, &mem);
	}
	assert_int_equal(roundtrip(1, &m), UEIP_EMALFORMED);
}

static void
test_trailing_bytes(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_unit u = sample_unit(1, 0), got;

	/* After the fixed fields of a message without records. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_ACK);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 0);
	ueip_set_put_u8(&out, 0);
	assert_int_equal(roundtrip(1, &m), UEIP_EMALFORMED);

	/* After the last record. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_RELEASE);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_unit(&out, &u);
	ueip_set_put_u32(&out, 0xdeadbeef);
	assert_int_equal(roundtrip(1, &m), 0);
	assert_int_equal(ueip_setmsg_next_unit(&m, &got), UEIP_EMALFORMED);

	/* Bytes after the frame in the buffer handed to decode. */
	build_ack(1);
	ueip_set_put_u8(&out, 0);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), UEIP_EMALFORMED);

	/* Missing fixed fields: an ACK without its status. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_ACK);
	ueip_set_put_u64(&out, 1);
	assert_int_equal(roundtrip(1, &m), UEIP_EMALFORMED);
}

static void
test_bad_strings(void **state)
{
	struct ueip_setmsg m;
	struct ueip_set_session s, got;
	static const char *const bad[] = { "sm\x01" "f", "smf\x7f", "smf\xc3\xa9", "smf\n" };
	char long_id[UEIP_MEMBER_ID_MAX + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ueip_buf_reset(&out);
		ueip_set_begin(&out, UEIP_SET_HELLO);
		ueip_set_put_str(&out, bad[i]);
		ueip_set_put_str(&out, "set-a");
		ueip_set_put_u64(&out, 1);
		ueip_set_put_u64(&out, 1);
		ueip_set_put_bytes(&out, "0123456789abcdef", UEIP_SET_NONCE_LEN);
		assert_int_equal(roundtrip(1, &m), UEIP_EMALFORMED);
	}
	/* A string with a NUL inside. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_HANDOFF);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u8(&out, 3);
	ueip_set_put_bytes(&out, "p\0q", 3);
	ueip_set_put_u32(&out, 0);
	ueip_set_put_u32(&out, 0);
	assert_int_equal(roundtrip(1, &m), UEIP_EMALFORMED);

	/* Longer than the field it fills (member ids are at most 31 bytes). */
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	long_id[UEIP_MEMBER_ID_MAX - 1] = '\0';	/* 31: fits */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_HELLO);
	ueip_set_put_str(&out, long_id);
	ueip_set_put_str(&out, "set-a");
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_bytes(&out, "0123456789abcdef", UEIP_SET_NONCE_LEN);
	assert_int_equal(roundtrip(1, &m), 0);
	assert_int_equal(strlen(m.member), UEIP_MEMBER_ID_MAX - 1);
	long_id[UEIP_MEMBER_ID_MAX - 1] = 'a';	/* 32: does not */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_HELLO);
	ueip_set_put_str(&out, long_id);
	ueip_set_put_str(&out, "set-a");
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_bytes(&out, "0123456789abcdef", UEIP_SET_NONCE_LEN);
	assert_int_equal(roundtrip(1, &m), UEIP_EMALFORMED);

	/* Inside a record: a SUPI with a control byte, then an invalid key. */
	s = sample_session(1, 1, 0);
	s.key.supi[6] = '\x02';
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_TRANSFER);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_session(&out, &s);
	assert_int_equal(roundtrip(1, &m), 0);
	assert_int_equal(ueip_setmsg_next_session(&m, &got), UEIP_EMALFORMED);

	s = sample_session(1, 1, 0);
	s.key.psi = 0;
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_TRANSFER);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_session(&out, &s);
	assert_int_equal(roundtrip(1, &m), 0);
	assert_int_equal(ueip_setmsg_next_session(&m, &got), UEIP_EMALFORMED);

	/* A session holding nothing. */
	s = sample_session(1, 0, 0);
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_TRANSFER);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 1);
	ueip_set_put_session(&out, &s);
	assert_int_equal(roundtrip(1, &m), 0);
	assert_int_equal(ueip_setmsg_next_session(&m, &got), UEIP_EMALFORMED);
}

static void
test_buf_cap(void **state)
{
	struct ueip_buf b;
	uint8_t filler[64] = { 0 };

	ueip_buf_init(&b, 64);
	ueip_set_begin(&b, UEIP_SET_ACK);
	ueip_set_put_u64(&b, 1);
	ueip_set_put_u32(&b, 0);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 32);
	/* The MAC takes the frame to exactly 64: at the cap is fine. */
	assert_int_equal(ueip_set_seal(&b, 0, 1, KEY, KEY_LEN), 0);
	assert_int_equal(b.len, 64);
	/* One more byte is over. */
	ueip_set_put_u8(&b, 0);
	assert_int_equal(b.err, UEIP_ETOOBIG);
	assert_int_equal(b.len, 64);
	/* Sticky: later puts do nothing, even small ones, and seal reports it. */
	ueip_set_put_u8(&b, 0);
	assert_int_equal(b.len, 64);
	assert_int_equal(ueip_set_seal(&b, 0, 1, KEY, KEY_LEN), UEIP_ETOOBIG);

	/* Reset clears the error and the contents, keeps the cap. */
	ueip_buf_reset(&b);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 0);
	ueip_set_put_bytes(&b, filler, 65);
	assert_int_equal(b.err, UEIP_ETOOBIG);
	assert_int_equal(b.len, 0);

	/* A string over 255 bytes cannot be encoded. */
	{
		char big[300];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ueip_buf_deinit(&b);
		ueip_buf_init(&b, 4096);
		ueip_set_begin(&b, UEIP_SET_HELLO);
		ueip_set_put_str(&b, big);
		assert_int_equal(b.err, UEIP_ETOOBIG);
		assert_int_equal(ueip_set_seal(&b, 0, 1, KEY, KEY_LEN), UEIP_ETOOBIG);
	}
	ueip_buf_deinit(&b);
	ueip_buf_deinit(&b);	/* twice is harmless */
}

static void
test_derive_key(void **state)
{
	uint8_t cn[UEIP_SET_NONCE_LEN], sn[UEIP_SET_NONCE_LEN];
	uint8_t k1[UEIP_SET_MAC_LEN], k2[UEIP_SET_MAC_LEN], want[UEIP_SET_MAC_LEN];
	uint8_t input[11 + 2 * UEIP_SET_NONCE_LEN];
	unsigned want_len = sizeof(want);
	struct ueip_setmsg m;

	memset(cn, 0x11, sizeof(cn));
	memset(sn, 0x22, sizeof(sn));
	ueip_set_derive_key(KEY, KEY_LEN, cn, sn, k1);
	/* HMAC-SHA256(set key, "ueip-set-v1" | client nonce | server nonce) as specified. */
	memcpy(input, "ueip-set-v1", 11);
	memcpy(input + 11, cn, sizeof(cn));
	memcpy(input + 11 + sizeof(cn), sn, sizeof(sn));
	assert_non_null(HMAC(EVP_sha256(), KEY, (int)KEY_LEN, input, sizeof(input), want,
			     &want_len));
	assert_memory_equal(k1, want, sizeof(want));
	/* The two directions differ. */
	ueip_set_derive_key(KEY, KEY_LEN, sn, cn, k2);
	assert_memory_not_equal(k1, k2, sizeof(k1));

	/* A frame sealed with the session key only opens with it. */
	ueip_buf_reset(&out);
	ueip_set_begin(&out, UEIP_SET_ACK);
	ueip_set_put_u64(&out, 1);
	ueip_set_put_u32(&out, 0);
	assert_int_equal(ueip_set_seal(&out, 0, 1, k1, sizeof(k1)), 0);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, k1, sizeof(k1), &m), 0);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, k2, sizeof(k2), &m), UEIP_EAUTH);
	assert_int_equal(ueip_setmsg_decode(out.data, out.len, KEY, KEY_LEN, &m), UEIP_EAUTH);
}

static int
reset_out(void **state)
{
	ueip_buf_reset(&out);
	return 0;
}

#define T(fn) cmocka_unit_test_setup(fn, reset_out)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_hello),
		T(test_ack),
		T(test_release),
		T(test_transfer_and_report),
		T(test_recovery_reconciled_done),
		T(test_members),
		T(test_handoff),
		T(test_names),
		T(test_wrong_key_or_tamper),
		T(test_truncated),
		T(test_session_type_mismatch),
		T(test_stats_round_trip),
		T(test_bad_magic_version),
		T(test_too_big),
		T(test_count_beyond_records),
		T(test_trailing_bytes),
		T(test_bad_strings),
		T(test_buf_cap),
		T(test_derive_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
