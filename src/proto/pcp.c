// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: PCP and NAT-PMP wire codec
 *
 * Pure functions between datagrams and struct ueip_pcp_msg /
 * struct ueip_natpmp_msg: no allocation, no state, no clock. Every read is
 * bounded by the length the caller gave; every write by out_size.
 *
 * A PCP request is decoded in the order of RFC 6887 §8.3: drop rules, the
 * version, the length, the opcode, the opcode data (§11.1 MAP, §12.1 PEER),
 * then the options one by one in the order they appear (§7.3, §13); the
 * first problem found decides the result code. Responses are decoded the
 * same way but leniently (a client ignores what it does not understand,
 * and an error response is a copy of a request that may be cut short).
 * Encoders compute the whole length first, refuse what does not fit, zero
 * the output and fill the fields at their offsets, so reserved fields are
 * always 0. The option and opcode tables come from the X-macros of pcp.h.
 *
 * NAT-PMP (RFC 6886) has fixed layouts: a 2-octet header (version,
 * opcode), then for responses the result code and the epoch; opcode 0 adds
 * the external address, opcodes 1/2 internal port, external port and
 * lifetime.
 */
#include <string.h>

#include "core/err.h"
#include "proto/pcp.h"

#define PCP_R_BIT 0x80
#define PCP_OPT_HDR_LEN 4
#define PCP_THIRD_PARTY_LEN 16
#define PCP_PREFER_FAILURE_LEN 0
#define PCP_FILTER_LEN 20
#define PCP_OPTIONAL_FIRST 128		/* option codes from here may be skipped */
#define NATPMP_RESP_BIT 0x80

/* Offsets in the PCP header and in MAP/PEER opcode data (same for both). */
enum {
	PCP_OFF_LIFETIME = 4,
	PCP_OFF_CLIENT = 8,		/* request */
	PCP_OFF_EPOCH = 8,		/* response */
	PCP_OFF_RESERVED96 = 12,	/* response */
	OPD_NONCE = 0,
	OPD_PROTOCOL = 12,
	OPD_INTERNAL_PORT = 16,
	OPD_EXTERNAL_PORT = 18,
	OPD_EXTERNAL = 20,
	OPD_REMOTE_PORT = 36,		/* PEER */
	OPD_REMOTE = 40,		/* PEER */
};

/* ---- byte helpers ---- */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
get_addr(const uint8_t *p, struct in6_addr *a)
{
	memcpy(a->s6_addr, p, 16);
}

static void
put_addr(uint8_t *p, const struct in6_addr *a)
{
	memcpy(p, a->s6_addr, 16);
}

/* ---- names and address helpers ---- */

const char *
ueip_pcp_result_name(int result)
{
	switch (result) {
#define UEIP_PCP_RES_NAME(name, value) case value: return #name;
	UEIP_PCP_RESULTS(UEIP_PCP_RES_NAME)
#undef UEIP_PCP_RES_NAME
	case UEIP_PCP_DROP:
		return "DROP";
	default:
		return "UNKNOWN";
	}
}

const char *
ueip_pcp_opcode_name(int opcode)
{
	switch (opcode) {
#define UEIP_PCP_OP_NAME(name, value) case value: return #name;
	UEIP_PCP_OPCODES(UEIP_PCP_OP_NAME)
#undef UEIP_PCP_OP_NAME
	default:
		return "UNKNOWN";
	}
}

void
ueip_pcp_v4_to_mapped(uint32_t in_host, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	put32(&out->s6_addr[12], in_host);
}

/* RFC 6887 §5: all of the first 96 bits are checked, not only bits 81-96. */
static int
is_v4_mapped(const struct in6_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a->s6_addr, prefix, sizeof(prefix)) == 0;
}

int
ueip_pcp_mapped_to_v4(const struct in6_addr *a, uint32_t *out_host)
{
	if (!is_v4_mapped(a))
		return 0;
	*out_host = get32(&a->s6_addr[12]);
	return 1;
}

/* The all-zero address of either family: :: or ::ffff:0.0.0.0 (§5). */
static int
is_all_zero(const struct in6_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->s6_addr, zero, 16) == 0 ||
	       (is_v4_mapped(a) && get32(&a->s6_addr[12]) == 0);
}

/* ---- PCP: opcode data ---- */

/* Length of the opcode data of a request or response, -1 if unknown. */
static int
opcode_data_len(uint8_t opcode)
{
	switch (opcode) {
	case UEIP_PCP_OP_ANNOUNCE:
		return 0;
	case UEIP_PCP_OP_MAP:
		return UEIP_PCP_MAP_LEN;
	case UEIP_PCP_OP_PEER:
		return UEIP_PCP_PEER_LEN;
	default:
		return -1;
	}
}

/* MAP and PEER share the first 36 octets (§11.1, §12.1). */
static void
get_opdata(const uint8_t *p, struct ueip_pcp_msg *msg)
{
	memcpy(msg->nonce, p + OPD_NONCE, UEIP_PCP_NONCE_LEN);
	msg->protocol = p[OPD_PROTOCOL];
	msg->internal_port = get16(p + OPD_INTERNAL_PORT);
	msg->external_port = get16(p + OPD_EXTERNAL_PORT);
	get_addr(p + OPD_EXTERNAL, &msg->external);
	if (msg->opcode == UEIP_PCP_OP_MAP && msg->protocol == 0)
		msg->internal_port = 0;	/* §11.1: ignored on reception */
	if (msg->opcode == UEIP_PCP_OP_PEER) {
		msg->remote_port = get16(p + OPD_REMOTE_PORT);
		get_addr(p + OPD_REMOTE, &msg->remote);
	}
}

/* §12.1: protocol, internal port and remote port MUST NOT be zero. */
static int
check_peer(const struct ueip_pcp_msg *msg)
{
	if (msg->protocol == 0 || msg->internal_port == 0 || msg->remote_port == 0 ||
	    is_all_zero(&msg->remote))
		return UEIP_PCP_MALFORMED_REQUEST;
	return UEIP_PCP_SUCCESS;
}

static int
decode_req_opdata(const uint8_t *p, struct ueip_pcp_msg *msg)
{
	switch (msg->opcode) {
	case UEIP_PCP_OP_ANNOUNCE:
		msg->lifetime = 0;	/* §14.1: ignored on reception */
		return UEIP_PCP_SUCCESS;
	case UEIP_PCP_OP_MAP:
		get_opdata(p, msg);
		return UEIP_PCP_SUCCESS;
	default:
		get_opdata(p, msg);
		return check_peer(msg);
	}
}

static void
put_opdata(uint8_t *p, const struct ueip_pcp_msg *msg)
{
	memcpy(p + OPD_NONCE, msg->nonce, UEIP_PCP_NONCE_LEN);
	p[OPD_PROTOCOL] = msg->protocol;
	if (!(msg->opcode == UEIP_PCP_OP_MAP && msg->protocol == 0))
		put16(p + OPD_INTERNAL_PORT, msg->internal_port);
	put16(p + OPD_EXTERNAL_PORT, msg->external_port);
	put_addr(p + OPD_EXTERNAL, &msg->external);
	if (msg->opcode == UEIP_PCP_OP_PEER) {
		put16(p + OPD_REMOTE_PORT, msg->remote_port);
		put_addr(p + OPD_REMOTE, &msg->remote);
	}
}

/* ---- PCP: options ---- */

/* §7.3 and §13: which opcodes each known option is valid for. */
static int
option_valid_for(uint8_t code, uint8_t opcode)
{
	switch (code) {
	case UEIP_PCP_OPT_THIRD_PARTY:
		return opcode == UEIP_PCP_OP_MAP || opcode == UEIP_PCP_OP_PEER;
	case UEIP_PCP_OPT_PREFER_FAILURE:
	case UEIP_PCP_OPT_FILTER:
		return opcode == UEIP_PCP_OP_MAP;
	default:
		return 0;
	}
}

static int
option_len(uint8_t code)
{
	switch (code) {
	case UEIP_PCP_OPT_THIRD_PARTY:
		return PCP_THIRD_PARTY_LEN;
	case UEIP_PCP_OPT_PREFER_FAILURE:
		return PCP_PREFER_FAILURE_LEN;
	default:
		return PCP_FILTER_LEN;
	}
}

static int
is_known_option(uint8_t code)
{
	switch (code) {
#define UEIP_PCP_OPT_KNOWN(name, value) case value: return 1;
	UEIP_PCP_OPTIONS(UEIP_PCP_OPT_KNOWN)
#undef UEIP_PCP_OPT_KNOWN
	default:
		return 0;
	}
}

/* §13.3: 96..128 for an IPv4-mapped remote address, 0..128 for IPv6. */
static int
filter_prefix_ok(const struct ueip_pcp_filter *f)
{
	if (f->prefix_len > 128)
		return 0;
	return !is_v4_mapped(&f->remote) || f->prefix_len >= 96;
}

static void
get_filter(const uint8_t *p, struct ueip_pcp_filter *f)
{
	f->prefix_len = p[1];
	f->remote_port = get16(p + 2);
	get_addr(p + 4, &f->remote);
}

/* A known option of the right length: record it, or say why not (requests). */
static int
record_req_option(uint8_t code, const uint8_t *data, struct ueip_pcp_msg *msg)
{
	switch (code) {
	case UEIP_PCP_OPT_THIRD_PARTY:
		if (msg->has_third_party)
			return UEIP_PCP_MALFORMED_OPTION;
		msg->has_third_party = 1;
		get_addr(data, &msg->third_party);
		return UEIP_PCP_SUCCESS;
	case UEIP_PCP_OPT_PREFER_FAILURE:
		if (msg->prefer_failure)
			return UEIP_PCP_MALFORMED_OPTION;
		msg->prefer_failure = 1;
		return UEIP_PCP_SUCCESS;
	default:
		if (msg->nfilters == UEIP_PCP_FILTERS_MAX)
			return UEIP_PCP_EXCESSIVE_REMOTE_PEERS;
		get_filter(data, &msg->filters[msg->nfilters]);
		if (!filter_prefix_ok(&msg->filters[msg->nfilters]))
			return UEIP_PCP_MALFORMED_OPTION;
		msg->nfilters++;
		return UEIP_PCP_SUCCESS;
	}
}

static void
count_skipped(struct ueip_pcp_msg *msg)
{
	if (msg->skipped_options < UINT8_MAX)
		msg->skipped_options++;
}

/* One request option whose header and data are inside the message. */
static int
decode_req_option(uint8_t code, const uint8_t *data, size_t olen, struct ueip_pcp_msg *msg)
{
	if (!is_known_option(code)) {
		if (code < PCP_OPTIONAL_FIRST)
			return UEIP_PCP_UNSUPP_OPTION;
		count_skipped(msg);
		return UEIP_PCP_SUCCESS;
	}
	if (code == UEIP_PCP_OPT_PREFER_FAILURE && msg->opcode == UEIP_PCP_OP_PEER)
		return UEIP_PCP_MALFORMED_REQUEST;	/* §12.1 says so explicitly */
	if (!option_valid_for(code, msg->opcode) || olen != (size_t)option_len(code))
		return UEIP_PCP_MALFORMED_OPTION;
	return record_req_option(code, data, msg);
}

/* A known option in a response: recorded if it fits the rules, else skipped. */
static int
decode_resp_option(uint8_t code, const uint8_t *data, size_t olen, struct ueip_pcp_msg *msg)
{
	if (!is_known_option(code) || !option_valid_for(code, msg->opcode)) {
		count_skipped(msg);
		return UEIP_PCP_SUCCESS;
	}
	if (olen != (size_t)option_len(code))
		return UEIP_PCP_MALFORMED_REQUEST;
	if ((code == UEIP_PCP_OPT_THIRD_PARTY && msg->has_third_party) ||
	    (code == UEIP_PCP_OPT_PREFER_FAILURE && msg->prefer_failure) ||
	    (code == UEIP_PCP_OPT_FILTER && msg->nfilters == UEIP_PCP_FILTERS_MAX)) {
		count_skipped(msg);
		return UEIP_PCP_SUCCESS;
	}
	if (code == UEIP_PCP_OPT_FILTER) {
		get_filter(data, &msg->filters[msg->nfilters++]);
		return UEIP_PCP_SUCCESS;
	}
	return record_req_option(code, data, msg);
}

typedef int (*option_fn)(uint8_t code, const uint8_t *data, size_t olen, struct ueip_pcp_msg *msg);

/*
 * Walk the options in p[0..n): code(1) reserved(1) length(2) data, padded
 * to 4 (§7.3). An option that does not fit gives overrun_rc.
 */
static int
decode_options(const uint8_t *p, size_t n, struct ueip_pcp_msg *msg, option_fn fn, int overrun_rc)
{
	while (n > 0) {
		size_t olen, padded;
		int rc;

		if (n < PCP_OPT_HDR_LEN)
			return overrun_rc;
		olen = get16(p + 2);
		padded = (olen + 3) & ~(size_t)3;
		if (padded > n - PCP_OPT_HDR_LEN)
			return overrun_rc;
		rc = fn(p[0], p + PCP_OPT_HDR_LEN, olen, msg);
		if (rc != UEIP_PCP_SUCCESS)
			return rc;
		p += PCP_OPT_HDR_LEN + padded;
		n -= PCP_OPT_HDR_LEN + padded;
	}
	return UEIP_PCP_SUCCESS;
}

static size_t
options_len(const struct ueip_pcp_msg *msg)
{
	size_t n = (size_t)msg->nfilters * (PCP_OPT_HDR_LEN + PCP_FILTER_LEN);

	if (msg->has_third_party)
		n += PCP_OPT_HDR_LEN + PCP_THIRD_PARTY_LEN;
	if (msg->prefer_failure)
		n += PCP_OPT_HDR_LEN + PCP_PREFER_FAILURE_LEN;
	return n;
}

static uint8_t *
put_option_hdr(uint8_t *p, uint8_t code, uint16_t len)
{
	p[0] = code;
	p[1] = 0;
	put16(p + 2, len);
	return p + PCP_OPT_HDR_LEN;
}

static void
put_options(uint8_t *p, const struct ueip_pcp_msg *msg)
{
	if (msg->has_third_party) {
		p = put_option_hdr(p, UEIP_PCP_OPT_THIRD_PARTY, PCP_THIRD_PARTY_LEN);
		put_addr(p, &msg->third_party);
		p += PCP_THIRD_PARTY_LEN;
	}
	if (msg->prefer_failure)
		p = put_option_hdr(p, UEIP_PCP_OPT_PREFER_FAILURE, PCP_PREFER_FAILURE_LEN);
	for (unsigned i = 0; i < msg->nfilters; i++) {
		const struct ueip_pcp_filter *f = &msg->filters[i];

		p = put_option_hdr(p, UEIP_PCP_OPT_FILTER, PCP_FILTER_LEN);
		p[1] = f->prefix_len;
		put16(p + 2, f->remote_port);
		put_addr(p + 4, &f->remote);
		p += PCP_FILTER_LEN;
	}
}

/* ---- PCP: requests ---- */

static int
check_request_len(size_t len)
{
	if (len < UEIP_PCP_HDR_LEN || len > UEIP_PCP_MAX || len % 4)
		return UEIP_PCP_MALFORMED_REQUEST;
	return UEIP_PCP_SUCCESS;
}

int
ueip_pcp_decode_request(const uint8_t *buf, size_t len, struct ueip_pcp_msg *msg)
{
	int rc, dlen;

	memset(msg, 0, sizeof(*msg));
	if (len < 2 || (buf[1] & PCP_R_BIT) || buf[0] == UEIP_NATPMP_VERSION)
		return UEIP_PCP_DROP;
	msg->version = buf[0];
	msg->opcode = buf[1];
	if (len >= PCP_OFF_LIFETIME + 4)
		msg->lifetime = get32(buf + PCP_OFF_LIFETIME);
	if (buf[0] != UEIP_PCP_VERSION)
		return UEIP_PCP_UNSUPP_VERSION;
	if ((rc = check_request_len(len)) != UEIP_PCP_SUCCESS)
		return rc;
	get_addr(buf + PCP_OFF_CLIENT, &msg->client);
	if ((dlen = opcode_data_len(msg->opcode)) < 0)
		return UEIP_PCP_UNSUPP_OPCODE;
	if (len - UEIP_PCP_HDR_LEN < (size_t)dlen)
		return UEIP_PCP_MALFORMED_REQUEST;
	if ((rc = decode_req_opdata(buf + UEIP_PCP_HDR_LEN, msg)) != UEIP_PCP_SUCCESS)
		return rc;
	return decode_options(buf + UEIP_PCP_HDR_LEN + dlen, len - UEIP_PCP_HDR_LEN - (size_t)dlen,
			      msg, decode_req_option, UEIP_PCP_MALFORMED_OPTION);
}

/* Length of the message *msg encodes to, or UEIP_EINVAL. */
static int
pcp_encoded_len(const struct ueip_pcp_msg *msg)
{
	int dlen = opcode_data_len(msg->opcode);

	if (dlen < 0 || msg->nfilters > UEIP_PCP_FILTERS_MAX)
		return UEIP_EINVAL;
	if ((msg->has_third_party && !option_valid_for(UEIP_PCP_OPT_THIRD_PARTY, msg->opcode)) ||
	    (msg->prefer_failure && !option_valid_for(UEIP_PCP_OPT_PREFER_FAILURE, msg->opcode)) ||
	    (msg->nfilters && !option_valid_for(UEIP_PCP_OPT_FILTER, msg->opcode)))
		return UEIP_EINVAL;
	return UEIP_PCP_HDR_LEN + dlen + (int)options_len(msg);
}

/* Check the room, zero the output and write the common tail of a message. */
static int
pcp_encode_common(const struct ueip_pcp_msg *msg, uint8_t *out, size_t out_size)
{
	int n = pcp_encoded_len(msg);

	if (n < 0)
		return n;
	if ((size_t)n > out_size)
		return UEIP_ETOOBIG;
	memset(out, 0, (size_t)n);
	out[0] = UEIP_PCP_VERSION;
	if (msg->opcode != UEIP_PCP_OP_ANNOUNCE)
		put_opdata(out + UEIP_PCP_HDR_LEN, msg);
	put_options(out + UEIP_PCP_HDR_LEN + opcode_data_len(msg->opcode), msg);
	return n;
}

int
ueip_pcp_encode_request(const struct ueip_pcp_msg *msg, uint8_t *out, size_t out_size)
{
	int n = pcp_encode_common(msg, out, out_size);

	if (n < 0)
		return n;
	out[1] = msg->opcode;
	if (msg->opcode != UEIP_PCP_OP_ANNOUNCE)
		put32(out + PCP_OFF_LIFETIME, msg->lifetime);
	put_addr(out + PCP_OFF_CLIENT, &msg->client);
	return n;
}

/* ---- PCP: responses ---- */

int
ueip_pcp_encode_response(const struct ueip_pcp_msg *msg, uint8_t *out, size_t out_size)
{
	int n = pcp_encode_common(msg, out, out_size);

	if (n < 0)
		return n;
	out[1] = (uint8_t)(PCP_R_BIT | msg->opcode);
	out[3] = msg->result;
	put32(out + PCP_OFF_LIFETIME, msg->lifetime);
	put32(out + PCP_OFF_EPOCH, msg->epoch);
	return n;
}

/* Header fields of a response, as far as len allows. */
static void
get_resp_header(const uint8_t *buf, size_t len, struct ueip_pcp_msg *msg)
{
	msg->version = buf[0];
	msg->opcode = buf[1] & (uint8_t)~PCP_R_BIT;
	msg->response = 1;
	if (len >= 4)
		msg->result = buf[3];
	if (len >= PCP_OFF_LIFETIME + 4)
		msg->lifetime = get32(buf + PCP_OFF_LIFETIME);
	if (len >= PCP_OFF_EPOCH + 4)
		msg->epoch = get32(buf + PCP_OFF_EPOCH);
}

/* What a response decoding that stopped on rc returns: errors stay readable. */
static int
resp_outcome(const struct ueip_pcp_msg *msg, int rc)
{
	return msg->result != UEIP_PCP_SUCCESS ? UEIP_PCP_SUCCESS : rc;
}

int
ueip_pcp_decode_response(const uint8_t *buf, size_t len, struct ueip_pcp_msg *msg)
{
	int rc, dlen;

	memset(msg, 0, sizeof(*msg));
	if (len < 2 || buf[0] != UEIP_PCP_VERSION || !(buf[1] & PCP_R_BIT))
		return UEIP_PCP_DROP;
	get_resp_header(buf, len, msg);
	if (check_request_len(len) != UEIP_PCP_SUCCESS)
		return UEIP_PCP_MALFORMED_REQUEST;
	if ((dlen = opcode_data_len(msg->opcode)) < 0)
		return resp_outcome(msg, UEIP_PCP_DROP);
	if (len - UEIP_PCP_HDR_LEN < (size_t)dlen)
		return resp_outcome(msg, UEIP_PCP_MALFORMED_REQUEST);
	if (msg->opcode != UEIP_PCP_OP_ANNOUNCE)
		get_opdata(buf + UEIP_PCP_HDR_LEN, msg);
	rc = decode_options(buf + UEIP_PCP_HDR_LEN + dlen, len - UEIP_PCP_HDR_LEN - (size_t)dlen, msg,
			    decode_resp_option, UEIP_PCP_MALFORMED_REQUEST);
	return resp_outcome(msg, rc);
}

/* Results given to requests that were not successfully parsed (§7.2). */
static int
is_parse_failure(uint8_t result)
{
	switch (result) {
	case UEIP_PCP_UNSUPP_VERSION:
	case UEIP_PCP_MALFORMED_REQUEST:
	case UEIP_PCP_UNSUPP_OPCODE:
	case UEIP_PCP_UNSUPP_OPTION:
	case UEIP_PCP_MALFORMED_OPTION:
		return 1;
	default:
		return 0;
	}
}

int
ueip_pcp_encode_error(const uint8_t *req, size_t req_len, uint8_t result, uint32_t lifetime,
		      uint32_t epoch, uint8_t *out, size_t out_size)
{
	size_t n = req_len > UEIP_PCP_MAX ? UEIP_PCP_MAX : req_len & ~(size_t)3;
	size_t copy;

	if (req_len < 2 || result == UEIP_PCP_SUCCESS)
		return UEIP_EINVAL;
	if (n < UEIP_PCP_HDR_LEN)
		n = UEIP_PCP_HDR_LEN;
	if (n > out_size)
		return UEIP_ETOOBIG;
	copy = req_len < n ? req_len : n;
	memmove(out, req, copy);
	memset(out + copy, 0, n - copy);
	out[0] = UEIP_PCP_VERSION;
	out[1] |= PCP_R_BIT;
	out[2] = 0;
	out[3] = result;
	put32(out + PCP_OFF_LIFETIME, lifetime);
	put32(out + PCP_OFF_EPOCH, epoch);
	if (!is_parse_failure(result))
		memset(out + PCP_OFF_RESERVED96, 0, 12);
	return (int)n;
}

/* ---- NAT-PMP ---- */

static int
natpmp_is_map(uint8_t opcode)
{
	return opcode == UEIP_NATPMP_OP_MAP_UDP || opcode == UEIP_NATPMP_OP_MAP_TCP;
}

int
ueip_natpmp_decode_request(const uint8_t *buf, size_t len, struct ueip_natpmp_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	if (len < UEIP_NATPMP_ADDR_REQ_LEN || (buf[1] & NATPMP_RESP_BIT))
		return UEIP_NATPMP_DROP;
	msg->opcode = buf[1];
	if (buf[0] != UEIP_NATPMP_VERSION)
		return UEIP_NATPMP_UNSUPP_VERSION;
	if (msg->opcode == UEIP_NATPMP_OP_ADDRESS)
		return UEIP_NATPMP_SUCCESS;
	if (!natpmp_is_map(msg->opcode))
		return UEIP_NATPMP_UNSUPP_OPCODE;
	if (len < UEIP_NATPMP_MAP_REQ_LEN)
		return UEIP_NATPMP_DROP;
	msg->internal_port = get16(buf + 4);
	msg->external_port = get16(buf + 6);
	msg->lifetime = get32(buf + 8);
	return UEIP_NATPMP_SUCCESS;
}

int
ueip_natpmp_encode_request(const struct ueip_natpmp_msg *msg, uint8_t *out, size_t out_size)
{
	size_t n;

	if (msg->opcode == UEIP_NATPMP_OP_ADDRESS)
		n = UEIP_NATPMP_ADDR_REQ_LEN;
	else if (natpmp_is_map(msg->opcode))
		n = UEIP_NATPMP_MAP_REQ_LEN;
	else
		return UEIP_EINVAL;
	if (n > out_size)
		return UEIP_ETOOBIG;
	memset(out, 0, n);
	out[1] = msg->opcode;
	if (n == UEIP_NATPMP_MAP_REQ_LEN) {
		put16(out + 4, msg->internal_port);
		put16(out + 6, msg->external_port);
		put32(out + 8, msg->lifetime);
	}
	return (int)n;
}

/* Response length of a NAT-PMP opcode, 0 if it has none. */
static size_t
natpmp_resp_len(uint8_t opcode)
{
	if (opcode == UEIP_NATPMP_OP_ADDRESS)
		return UEIP_NATPMP_ADDR_RESP_LEN;
	return natpmp_is_map(opcode) ? UEIP_NATPMP_MAP_RESP_LEN : 0;
}

int
ueip_natpmp_encode_response(const struct ueip_natpmp_msg *msg, uint8_t *out, size_t out_size)
{
	size_t n = natpmp_resp_len(msg->opcode);

	if (n == 0)
		return UEIP_EINVAL;
	if (n > out_size)
		return UEIP_ETOOBIG;
	memset(out, 0, n);
	out[1] = (uint8_t)(NATPMP_RESP_BIT | msg->opcode);
	put16(out + 2, msg->result);
	put32(out + 4, msg->epoch);
	if (msg->opcode == UEIP_NATPMP_OP_ADDRESS) {
		if (msg->result == UEIP_NATPMP_SUCCESS)
			put32(out + 8, msg->external);
		return (int)n;
	}
	put16(out + 8, msg->internal_port);
	put16(out + 10, msg->external_port);
	put32(out + 12, msg->lifetime);
	return (int)n;
}

/* The fields after the epoch, when the response holds them. */
static void
natpmp_get_body(const uint8_t *buf, size_t len, struct ueip_natpmp_msg *msg)
{
	size_t want = natpmp_resp_len(msg->opcode);

	if (want == 0 || len < want)
		return;
	if (msg->opcode == UEIP_NATPMP_OP_ADDRESS) {
		if (msg->result == UEIP_NATPMP_SUCCESS)
			msg->external = get32(buf + 8);
		return;
	}
	msg->internal_port = get16(buf + 8);
	msg->external_port = get16(buf + 10);
	msg->lifetime = get32(buf + 12);
}

/* §3.5 figure: version 0, OP 0, result 1, epoch; 8 octets. */
static int
natpmp_is_version_error(const uint8_t *buf, size_t len)
{
	return len >= UEIP_NATPMP_VERSION_ERR_LEN && buf[1] == 0 &&
	       get16(buf + 2) == UEIP_NATPMP_UNSUPP_VERSION;
}

int
ueip_natpmp_decode_response(const uint8_t *buf, size_t len, struct ueip_natpmp_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	if (len < 4 || buf[0] != UEIP_NATPMP_VERSION)
		return UEIP_NATPMP_DROP;
	if (!(buf[1] & NATPMP_RESP_BIT) && !natpmp_is_version_error(buf, len))
		return UEIP_NATPMP_DROP;
	msg->opcode = buf[1] & (uint8_t)~NATPMP_RESP_BIT;
	msg->response = 1;
	msg->result = get16(buf + 2);
	if (msg->result == UEIP_NATPMP_SUCCESS && (natpmp_resp_len(msg->opcode) == 0 ||
						   len < natpmp_resp_len(msg->opcode)))
		return UEIP_NATPMP_DROP;
	if (len >= 8)
		msg->epoch = get32(buf + 4);
	natpmp_get_body(buf, len, msg);
	return UEIP_NATPMP_SUCCESS;
}

/* §3.5: unsupported opcode: the entire request returned, top bit set, result 5. */
static int
natpmp_echo_error(const uint8_t *req, size_t req_len, uint8_t *out, size_t out_size)
{
	size_t n = req_len > UEIP_PCP_MAX ? UEIP_PCP_MAX : req_len;

	if (n < 4)
		n = 4;
	if (n > out_size)
		return UEIP_ETOOBIG;
	memmove(out, req, req_len < n ? req_len : n);
	if (req_len < n)
		memset(out + req_len, 0, n - req_len);
	out[1] |= NATPMP_RESP_BIT;
	put16(out + 2, UEIP_NATPMP_UNSUPP_OPCODE);
	return (int)n;
}

static int
natpmp_version_error(uint32_t epoch, uint8_t *out, size_t out_size)
{
	if (out_size < UEIP_NATPMP_VERSION_ERR_LEN)
		return UEIP_ETOOBIG;
	memset(out, 0, UEIP_NATPMP_VERSION_ERR_LEN);
	put16(out + 2, UEIP_NATPMP_UNSUPP_VERSION);
	put32(out + 4, epoch);
	return UEIP_NATPMP_VERSION_ERR_LEN;
}

int
ueip_natpmp_encode_error(const uint8_t *req, size_t req_len, uint16_t result, uint32_t epoch,
			 uint8_t *out, size_t out_size)
{
	struct ueip_natpmp_msg m;

	if (req_len < 2 || result == UEIP_NATPMP_SUCCESS)
		return UEIP_EINVAL;
	if (result == UEIP_NATPMP_UNSUPP_VERSION)
		return natpmp_version_error(epoch, out, out_size);
	if (result == UEIP_NATPMP_UNSUPP_OPCODE)
		return natpmp_echo_error(req, req_len, out, out_size);
	memset(&m, 0, sizeof(m));
	m.opcode = req[1];
	m.result = result;
	m.epoch = epoch;
	if (natpmp_is_map(m.opcode)) {
		if (req_len < UEIP_NATPMP_MAP_REQ_LEN)
			return UEIP_EINVAL;
		m.internal_port = get16(req + 4);
	}
	return ueip_natpmp_encode_response(&m, out, out_size);
}
