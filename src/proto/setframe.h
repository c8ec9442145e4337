/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: set peer frames (docs/set-protocol.md is the normative text)
 *
 * Every frame between members of an SMF set is
 *
 *   0      2     3      4            8                    16          20
 *   +------+-----+------+------------+--------------------+-----------+
 *   | "US" | ver | type | body len   | sequence number    | reserved  |
 *   +------+-----+------+------------+--------------------+-----------+
 *   | body (len bytes, layout per type)                                |
 *   +-----------------------------------------------------------------+
 *   | HMAC-SHA256 over header and body (32 bytes)                      |
 *   +-----------------------------------------------------------------+
 *
 * all integers big-endian, strings as a length byte then the bytes (no NUL).
 * The HMAC key of a HELLO is the set key; after the HELLO exchange each
 * direction uses HMAC(set key, "ueip-set-v1" | client nonce | server nonce),
 * and sequence numbers must grow by one, so frames cannot be replayed into
 * another connection or reordered.
 *
 * Decoding never allocates: ueip_setmsg_decode() checks the header, the MAC
 * and the fixed fields; the repeated records (sessions, hand-off units) are
 * read one at a time with ueip_setmsg_next_*(), each fully validated.
 */
#ifndef UEIP_PROTO_SETFRAME_H
#define UEIP_PROTO_SETFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/owner.h"
#include "core/session.h"

#define UEIP_SET_VERSION 1
#define UEIP_SET_HDR_LEN 20
#define UEIP_SET_MAC_LEN 32
#define UEIP_SET_BODY_MAX (1u << 20)
#define UEIP_SET_NONCE_LEN 16
#define UEIP_SET_KEY_MAX 64
#define UEIP_SET_ADDR_MAX 64

/* Message types: one table gives the numbers and the names. */
#define UEIP_SET_TYPES(X)          \
	X(HELLO, 1)                \
	X(ACK, 2)                  \
	X(RELEASE, 3)              \
	X(RECOVERY, 4)             \
	X(REPORT, 5)               \
	X(RECONCILED, 6)           \
	X(TRANSFER, 7)             \
	X(MEMBERS, 8)              \
	X(HANDOFF, 9)              \
	X(HANDOFF_DONE, 10)        \
	X(STATS_REQ, 11)           \
	X(STATS, 12)               \
	X(TRANSFER_COMMIT, 13)     \
	X(TRANSFER_CHECK, 14)

enum ueip_set_type {
#define UEIP_SET_TYPE_ENUM(name, num) UEIP_SET_##name = num,
	UEIP_SET_TYPES(UEIP_SET_TYPE_ENUM)
#undef UEIP_SET_TYPE_ENUM
};
const char *ueip_set_type_name(unsigned type);

/* Status carried by ACK: the set protocol's own result codes. */
#define UEIP_SET_STATUSES(X) \
	X(OK, 0)             \
	X(BUSY, 1)           \
	X(REFUSED, 2)        \
	X(STALE, 3)          \
	X(MALFORMED, 4)      \
	X(STORE_FAILED, 5)
enum ueip_set_status {
#define UEIP_SET_STATUS_ENUM(name, num) UEIP_SET_ST_##name = num,
	UEIP_SET_STATUSES(UEIP_SET_STATUS_ENUM)
#undef UEIP_SET_STATUS_ENUM
};
const char *ueip_set_status_name(unsigned status);

/* A unit held or handed over: a pool name and an index, with its allocation. */
struct ueip_set_unit {
	char pool[UEIP_NAME_MAX];
	uint64_t index;
	uint64_t alloc_id;
	int64_t quarantine_until_ms;	/* HANDOFF only: 0 = held */
};

/* A session as it travels (TRANSFER, REPORT). Pools by name, not local id. */
struct ueip_set_session {
	struct ueip_session_key key;
	uint8_t ip_type, is_static;
	uint8_t has_v4, has_v6;
	char v4_pool[UEIP_NAME_MAX], v6_pool[UEIP_NAME_MAX];
	uint64_t v4_index, v6_index;
	uint64_t alloc_id, gen;
	int64_t created_ms;
	char prev[UEIP_MEMBER_ID_MAX];
};

/* One pool's usage as its reporter counts it for the chunks it owns (STATS). */
struct ueip_set_poolstat {
	char pool[UEIP_NAME_MAX];
	uint64_t used, quarantined, statics, free;
};

struct ueip_set_member {
	char id[UEIP_MEMBER_ID_MAX];
	char address[UEIP_SET_ADDR_MAX];
};

struct ueip_setmsg {
	uint8_t type;
	uint64_t seq;
	/* fixed fields; which are meaningful depends on type */
	char member[UEIP_MEMBER_ID_MAX];	/* HELLO: sender id */
	char set_id[UEIP_NAME_MAX];		/* HELLO */
	uint8_t nonce[UEIP_SET_NONCE_LEN];	/* HELLO */
	uint64_t req_id;			/* ACK, RELEASE, TRANSFER, MEMBERS, HANDOFF, STATS_REQ, STATS */
	uint64_t epoch;				/* HELLO, RECOVERY, MEMBERS, HANDOFF, HANDOFF_DONE */
	uint64_t incarnation;			/* HELLO, RECOVERY, REPORT, RECONCILED */
	uint32_t status;			/* ACK */
	uint8_t flags;				/* RECOVERY: 1 = audit; REPORT: 1 = last */
	char pool[UEIP_NAME_MAX];		/* HANDOFF */
	uint32_t chunk;				/* HANDOFF */
	uint32_t count;				/* records that follow */
	/* cursor over the records */
	const uint8_t *rec, *rec_end;
	uint32_t rec_left;
};

/* Growable output buffer with a cap; errors are sticky. */
struct ueip_buf {
	uint8_t *data;
	size_t len, cap, max;
	int err;
};
void ueip_buf_init(struct ueip_buf *b, size_t max);
void ueip_buf_deinit(struct ueip_buf *b);
void ueip_buf_reset(struct ueip_buf *b);

/* Begin a frame of `type` in b; add fields with the ueip_set_put_* below, then seal. */
void ueip_set_begin(struct ueip_buf *b, unsigned type);
void ueip_set_put_u8(struct ueip_buf *b, uint8_t v);
void ueip_set_put_u32(struct ueip_buf *b, uint32_t v);
void ueip_set_put_u64(struct ueip_buf *b, uint64_t v);
void ueip_set_put_str(struct ueip_buf *b, const char *s);
void ueip_set_put_bytes(struct ueip_buf *b, const void *p, size_t n);
void ueip_set_put_session(struct ueip_buf *b, const struct ueip_set_session *s);
void ueip_set_put_unit(struct ueip_buf *b, const struct ueip_set_unit *u);
void ueip_set_put_member(struct ueip_buf *b, const struct ueip_set_member *m);
void ueip_set_put_poolstat(struct ueip_buf *b, const struct ueip_set_poolstat *p);
/* Fill in length and seq and append the MAC. 0, or the sticky error (UEIP_ETOOBIG, UEIP_ENOMEM). */
int ueip_set_seal(struct ueip_buf *b, size_t frame_start, uint64_t seq,
		  const uint8_t *key, size_t key_len);

/*
 * Length of the complete frame at the start of data, 0 if more bytes are
 * needed, or UEIP_EMALFORMED / UEIP_EVERSION / UEIP_ETOOBIG from the header.
 */
long ueip_set_frame_len(const uint8_t *data, size_t len);
/*
 * Decode one complete frame (length from ueip_set_frame_len). Checks magic,
 * version, MAC (UEIP_EAUTH) and the fixed fields of its type
 * (UEIP_EMALFORMED). msg points into data for its records.
 */
int ueip_setmsg_decode(const uint8_t *data, size_t len, const uint8_t *key, size_t key_len,
		       struct ueip_setmsg *msg);
/* Next record: 1 = got one, 0 = none left, UEIP_EMALFORMED. */
int ueip_setmsg_next_session(struct ueip_setmsg *msg, struct ueip_set_session *out);
int ueip_setmsg_next_unit(struct ueip_setmsg *msg, struct ueip_set_unit *out);
int ueip_setmsg_next_member(struct ueip_setmsg *msg, struct ueip_set_member *out);
int ueip_setmsg_next_poolstat(struct ueip_setmsg *msg, struct ueip_set_poolstat *out);

/* Per-connection key: HMAC(set key, "ueip-set-v1" | client nonce | server nonce). */
void ueip_set_derive_key(const uint8_t *set_key, size_t set_key_len,
			 const uint8_t *client_nonce, const uint8_t *server_nonce,
			 uint8_t out[UEIP_SET_MAC_LEN]);

#endif
