// SPDX-License-Identifier: Apache-2.0
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/setframe.h"

const char *
ueip_set_type_name(unsigned type)
{
	switch (type) {
#define UEIP_SET_TYPE_NAME(name, num) case num: return #name;
	UEIP_SET_TYPES(UEIP_SET_TYPE_NAME)
#undef UEIP_SET_TYPE_NAME
	default:
		return "UNKNOWN";
	}
}

const char *
ueip_set_status_name(unsigned status)
{
	switch (status) {
#define UEIP_SET_STATUS_NAME(name, num) case num: return #name;
	UEIP_SET_STATUSES(UEIP_SET_STATUS_NAME)
#undef UEIP_SET_STATUS_NAME
	default:
		return "UNKNOWN";
	}
}

/* ---- output buffer ---- */

void
ueip_buf_init(struct ueip_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
ueip_buf_deinit(struct ueip_buf *b)
{
	free(b->data);
	ueip_buf_init(b, b->max);
}

void
ueip_buf_reset(struct ueip_buf *b)
{
	b->len = 0;
	b->err = 0;
}

static uint8_t *
buf_room(struct ueip_buf *b, size_t n)
{
	if (b->err)
		return NULL;
	if (b->len + n > b->max) {
		b->err = UEIP_ETOOBIG;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *grown = realloc(b->data, cap);
		if (!grown) {
			b->err = UEIP_ENOMEM;
			return NULL;
		}
		b->data = grown;
		b->cap = cap;
	}
	b->len += n;
	return b->data + b->len - n;
}

void
ueip_set_put_bytes(struct ueip_buf *b, const void *p, size_t n)
{
	uint8_t *dst = buf_room(b, n);

	if (dst && n)
		memcpy(dst, p, n);
}

void
ueip_set_put_u8(struct ueip_buf *b, uint8_t v)
{
	ueip_set_put_bytes(b, &v, 1);
}

void
ueip_set_put_u32(struct ueip_buf *b, uint32_t v)
{
	uint8_t w[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	ueip_set_put_bytes(b, w, 4);
}

void
ueip_set_put_u64(struct ueip_buf *b, uint64_t v)
{
	ueip_set_put_u32(b, (uint32_t)(v >> 32));
	ueip_set_put_u32(b, (uint32_t)v);
}

void
ueip_set_put_str(struct ueip_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > 255) {
		if (!b->err)
			b->err = UEIP_ETOOBIG;
		return;
	}
	ueip_set_put_u8(b, (uint8_t)n);
	ueip_set_put_bytes(b, s, n);
}

void
ueip_set_begin(struct ueip_buf *b, unsigned type)
{
	uint8_t hdr[UEIP_SET_HDR_LEN] = { 'U', 'S', UEIP_SET_VERSION, (uint8_t)type };

	ueip_set_put_bytes(b, hdr, sizeof(hdr));
}

void
ueip_set_put_session(struct ueip_buf *b, const struct ueip_set_session *s)
{
	ueip_set_put_str(b, s->key.supi);
	ueip_set_put_str(b, s->key.dnn);
	ueip_set_put_str(b, s->key.snssai);
	ueip_set_put_u8(b, s->key.psi);
	ueip_set_put_u8(b, s->ip_type);
	ueip_set_put_u8(b, s->is_static);
	ueip_set_put_u8(b, (uint8_t)((s->has_v4 ? 1 : 0) | (s->has_v6 ? 2 : 0)));
	if (s->has_v4) {
		ueip_set_put_str(b, s->v4_pool);
		ueip_set_put_u64(b, s->v4_index);
	}
	if (s->has_v6) {
		ueip_set_put_str(b, s->v6_pool);
		ueip_set_put_u64(b, s->v6_index);
	}
	ueip_set_put_u64(b, s->alloc_id);
	ueip_set_put_u64(b, s->gen);
	ueip_set_put_u64(b, (uint64_t)s->created_ms);
	ueip_set_put_str(b, s->prev);
}

void
ueip_set_put_unit(struct ueip_buf *b, const struct ueip_set_unit *u)
{
	ueip_set_put_str(b, u->pool);
	ueip_set_put_u64(b, u->index);
	ueip_set_put_u64(b, u->alloc_id);
	ueip_set_put_u64(b, (uint64_t)u->quarantine_until_ms);
}

void
ueip_set_put_member(struct ueip_buf *b, const struct ueip_set_member *m)
{
	ueip_set_put_str(b, m->id);
	ueip_set_put_str(b, m->address);
}

void
ueip_set_put_poolstat(struct ueip_buf *b, const struct ueip_set_poolstat *p)
{
	ueip_set_put_str(b, p->pool);
	ueip_set_put_u64(b, p->used);
	ueip_set_put_u64(b, p->quarantined);
	ueip_set_put_u64(b, p->statics);
	ueip_set_put_u64(b, p->free);
}

static void
put_be32_at(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
frame_mac(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
	  uint8_t out[UEIP_SET_MAC_LEN])
{
	unsigned out_len = UEIP_SET_MAC_LEN;

	HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

int
ueip_set_seal(struct ueip_buf *b, size_t frame_start, uint64_t seq,
	      const uint8_t *key, size_t key_len)
{
	uint8_t mac[UEIP_SET_MAC_LEN];
	size_t body;
	uint8_t *hdr;

	if (b->err)
		return b->err;
	body = b->len - frame_start - UEIP_SET_HDR_LEN;
	if (body > UEIP_SET_BODY_MAX)
		return b->err = UEIP_ETOOBIG;
	hdr = b->data + frame_start;
	put_be32_at(hdr + 4, (uint32_t)body);
	put_be32_at(hdr + 8, (uint32_t)(seq >> 32));
	put_be32_at(hdr + 12, (uint32_t)seq);
	frame_mac(key, key_len, hdr, UEIP_SET_HDR_LEN + body, mac);
	ueip_set_put_bytes(b, mac, sizeof(mac));
	return b->err;
}

/* ---- decoding ---- */

struct rd {
	const uint8_t *p, *end;
	int err;
};

static const uint8_t *
rd_take(struct rd *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = UEIP_EMALFORMED;
		return NULL;
	}
	r->p += n;
	return r->p - n;
}

static uint8_t
rd_u8(struct rd *r)
{
	const uint8_t *p = rd_take(r, 1);

	return p ? p[0] : 0;
}

static uint32_t
rd_u32(struct rd *r)
{
	const uint8_t *p = rd_take(r, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static uint64_t
rd_u64(struct rd *r)
{
	uint64_t hi = rd_u32(r);

	return hi << 32 | rd_u32(r);
}

/* A string into dst (size incl. NUL); too long, or holding NUL or control bytes, is malformed. */
static void
rd_str(struct rd *r, char *dst, size_t size)
{
	uint8_t n = rd_u8(r);
	const uint8_t *p = rd_take(r, n);

	dst[0] = '\0';
	if (!p)
		return;
	if (n >= size) {
		r->err = UEIP_EMALFORMED;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e) {
			r->err = UEIP_EMALFORMED;
			return;
		}
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

long
ueip_set_frame_len(const uint8_t *data, size_t len)
{
	uint32_t body;

	if (len >= 1 && data[0] != 'U')
		return UEIP_EMALFORMED;
	if (len >= 2 && data[1] != 'S')
		return UEIP_EMALFORMED;
	if (len >= 3 && data[2] != UEIP_SET_VERSION)
		return UEIP_EVERSION;
	if (len < UEIP_SET_HDR_LEN)
		return 0;
	body = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
	if (body > UEIP_SET_BODY_MAX)
		return UEIP_ETOOBIG;
	if (len < UEIP_SET_HDR_LEN + body + UEIP_SET_MAC_LEN)
		return 0;
	return (long)(UEIP_SET_HDR_LEN + body + UEIP_SET_MAC_LEN);
}

static void
decode_fixed(struct rd *r, struct ueip_setmsg *m)
{
	switch (m->type) {
	case UEIP_SET_HELLO:
		rd_str(r, m->member, sizeof(m->member));
		rd_str(r, m->set_id, sizeof(m->set_id));
		m->epoch = rd_u64(r);
		m->incarnation = rd_u64(r);
		if (rd_take(r, UEIP_SET_NONCE_LEN))
			memcpy(m->nonce, r->p - UEIP_SET_NONCE_LEN, UEIP_SET_NONCE_LEN);
		break;
	case UEIP_SET_ACK:
		m->req_id = rd_u64(r);
		m->status = rd_u32(r);
		break;
	case UEIP_SET_RELEASE:
	case UEIP_SET_TRANSFER:
	case UEIP_SET_TRANSFER_COMMIT:
	case UEIP_SET_TRANSFER_CHECK:
		m->req_id = rd_u64(r);
		m->count = rd_u32(r);
		break;
	case UEIP_SET_RECOVERY:
		m->incarnation = rd_u64(r);
		m->epoch = rd_u64(r);
		m->flags = rd_u8(r);
		break;
	case UEIP_SET_REPORT:
		m->incarnation = rd_u64(r);
		m->flags = rd_u8(r);
		m->count = rd_u32(r);
		break;
	case UEIP_SET_RECONCILED:
		m->incarnation = rd_u64(r);
		break;
	case UEIP_SET_MEMBERS:
		m->req_id = rd_u64(r);
		m->epoch = rd_u64(r);
		m->count = rd_u32(r);
		if (!r->err && (m->count == 0 || m->count > UEIP_MEMBERS_MAX))
			r->err = UEIP_EMALFORMED;
		break;
	case UEIP_SET_HANDOFF:
		m->req_id = rd_u64(r);
		m->epoch = rd_u64(r);
		rd_str(r, m->pool, sizeof(m->pool));
		m->chunk = rd_u32(r);
		m->count = rd_u32(r);
		break;
	case UEIP_SET_HANDOFF_DONE:
		m->epoch = rd_u64(r);
		break;
	case UEIP_SET_STATS_REQ:
		m->req_id = rd_u64(r);
		break;
	case UEIP_SET_STATS:
		m->req_id = rd_u64(r);
		m->count = rd_u32(r);
		break;
	default:
		r->err = UEIP_EMALFORMED;
	}
}

int
ueip_setmsg_decode(const uint8_t *data, size_t len, const uint8_t *key, size_t key_len,
		   struct ueip_setmsg *msg)
{
	uint8_t mac[UEIP_SET_MAC_LEN];
	long frame = ueip_set_frame_len(data, len);
	struct rd r;

	memset(msg, 0, sizeof(*msg));
	if (frame < 0)
		return (int)frame;
	if (frame == 0 || (size_t)frame != len)
		return UEIP_EMALFORMED;
	frame_mac(key, key_len, data, len - UEIP_SET_MAC_LEN, mac);
	if (CRYPTO_memcmp(mac, data + len - UEIP_SET_MAC_LEN, UEIP_SET_MAC_LEN) != 0)
		return UEIP_EAUTH;
	msg->type = data[3];
	msg->seq = (uint64_t)data[8] << 56 | (uint64_t)data[9] << 48 | (uint64_t)data[10] << 40 |
		   (uint64_t)data[11] << 32 | (uint64_t)data[12] << 24 | (uint64_t)data[13] << 16 |
		   (uint64_t)data[14] << 8 | data[15];
	r.p = data + UEIP_SET_HDR_LEN;
	r.end = data + len - UEIP_SET_MAC_LEN;
	r.err = 0;
	decode_fixed(&r, msg);
	if (r.err)
		return r.err;
	/* Each record is at least 8 bytes: a count beyond that cannot be honest. */
	if (msg->count > (size_t)(r.end - r.p) / 8 + 1)
		return UEIP_EMALFORMED;
	msg->rec = r.p;
	msg->rec_end = r.end;
	msg->rec_left = msg->count;
	if (msg->count == 0 && r.p != r.end)
		return UEIP_EMALFORMED;
	return 0;
}

static int
record_start(struct ueip_setmsg *msg, struct rd *r)
{
	if (msg->rec_left == 0)
		return msg->rec == msg->rec_end ? 0 : UEIP_EMALFORMED;
	r->p = msg->rec;
	r->end = msg->rec_end;
	r->err = 0;
	return 1;
}

static int
record_end(struct ueip_setmsg *msg, struct rd *r)
{
	if (r->err) {
		msg->rec_left = 0;
		msg->rec = msg->rec_end;
		return UEIP_EMALFORMED;
	}
	msg->rec = r->p;
	msg->rec_left--;
	if (msg->rec_left == 0 && msg->rec != msg->rec_end)
		return UEIP_EMALFORMED;	/* trailing bytes */
	return 1;
}

static void
rd_holding(struct rd *r, char *pool, size_t pool_size, uint64_t *index)
{
	rd_str(r, pool, pool_size);
	*index = rd_u64(r);
	if (!r->err && (!pool[0] || *index >= UEIP_POOL_UNITS_MAX))
		r->err = UEIP_EMALFORMED;
}

int
ueip_setmsg_next_session(struct ueip_setmsg *msg, struct ueip_set_session *s)
{
	struct rd r;
	int rc = record_start(msg, &r);
	uint8_t has;

	if (rc <= 0)
		return rc;
	memset(s, 0, sizeof(*s));
	rd_str(&r, s->key.supi, sizeof(s->key.supi));
	rd_str(&r, s->key.dnn, sizeof(s->key.dnn));
	rd_str(&r, s->key.snssai, sizeof(s->key.snssai));
	s->key.psi = rd_u8(&r);
	s->ip_type = rd_u8(&r);
	s->is_static = rd_u8(&r);
	has = rd_u8(&r);
	s->has_v4 = has & 1;
	s->has_v6 = (has >> 1) & 1;
	if (s->has_v4)
		rd_holding(&r, s->v4_pool, sizeof(s->v4_pool), &s->v4_index);
	if (s->has_v6)
		rd_holding(&r, s->v6_pool, sizeof(s->v6_pool), &s->v6_index);
	s->alloc_id = rd_u64(&r);
	s->gen = rd_u64(&r);
	s->created_ms = (int64_t)rd_u64(&r);
	rd_str(&r, s->prev, sizeof(s->prev));
	/* The holdings bits use the IP type's encoding: a v4v6 session holds both. */
	if (!r.err && (has != s->ip_type || s->is_static > 1 || s->ip_type < UEIP_IP_V4 ||
		       s->ip_type > UEIP_IP_V4V6 || ueip_session_key_check(&s->key)))
		r.err = UEIP_EMALFORMED;
	return record_end(msg, &r);
}

int
ueip_setmsg_next_unit(struct ueip_setmsg *msg, struct ueip_set_unit *u)
{
	struct rd r;
	int rc = record_start(msg, &r);

	if (rc <= 0)
		return rc;
	memset(u, 0, sizeof(*u));
	rd_holding(&r, u->pool, sizeof(u->pool), &u->index);
	u->alloc_id = rd_u64(&r);
	u->quarantine_until_ms = (int64_t)rd_u64(&r);
	if (!r.err && u->quarantine_until_ms < 0)
		r.err = UEIP_EMALFORMED;
	return record_end(msg, &r);
}

int
ueip_setmsg_next_member(struct ueip_setmsg *msg, struct ueip_set_member *m)
{
	struct rd r;
	int rc = record_start(msg, &r);

	if (rc <= 0)
		return rc;
	memset(m, 0, sizeof(*m));
	rd_str(&r, m->id, sizeof(m->id));
	rd_str(&r, m->address, sizeof(m->address));
	if (!r.err && (!m->id[0] || !m->address[0]))
		r.err = UEIP_EMALFORMED;
	return record_end(msg, &r);
}

void
ueip_set_derive_key(const uint8_t *set_key, size_t set_key_len,
		    const uint8_t *client_nonce, const uint8_t *server_nonce,
		    uint8_t out[UEIP_SET_MAC_LEN])
{
	uint8_t input[11 + 2 * UEIP_SET_NONCE_LEN];

	memcpy(input, "ueip-set-v1", 11);
	memcpy(input + 11, client_nonce, UEIP_SET_NONCE_LEN);
	memcpy(input + 11 + UEIP_SET_NONCE_LEN, server_nonce, UEIP_SET_NONCE_LEN);
	frame_mac(set_key, set_key_len, input, sizeof(input), out);
}

int
ueip_setmsg_next_poolstat(struct ueip_setmsg *msg, struct ueip_set_poolstat *p)
{
	struct rd r;
	int rc = record_start(msg, &r);

	if (rc <= 0)
		return rc;
	memset(p, 0, sizeof(*p));
	rd_str(&r, p->pool, sizeof(p->pool));
	p->used = rd_u64(&r);
	p->quarantined = rd_u64(&r);
	p->statics = rd_u64(&r);
	p->free = rd_u64(&r);
	if (!r.err && !p->pool[0])
		r.err = UEIP_EMALFORMED;
	return record_end(msg, &r);
}
