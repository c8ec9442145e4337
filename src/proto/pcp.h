/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: PCP (RFC 6887) and NAT-PMP (RFC 6886) codecs
 *
 * Both protocols share UDP port 5351; the first octet tells them apart
 * (0 = NAT-PMP, 2 = PCP). The codecs are pure: bytes in, structs out, and
 * back; no allocation, no state. Addresses are carried as in PCP, 16 octets,
 * IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d).
 *
 * PCP request (RFC 6887 §7.1), all integers big-endian:
 *
 *    0       1       2       3
 *   +-------+-+-----+-------+-------+
 *   |  ver  |R| op  |   reserved    |    ver = 2, R = 0
 *   +-------+-+-----+-------+-------+
 *   |      requested lifetime       |
 *   +-------------------------------+
 *   |  PCP client's IP address (16) |
 *   +-------------------------------+
 *   :  opcode data (MAP 36, PEER 56, ANNOUNCE 0)
 *   :  options: code(1) reserved(1) length(2) data, padded to 4
 *
 * PCP response (§7.2): ver, R=1|op, reserved, result code, lifetime, epoch
 * time, 12 reserved octets, then opcode data and options.
 *
 * Decoding a request yields either a request to act on (UEIP_PCP_SUCCESS),
 * a result code to answer with (the error response is built from the
 * request bytes, §8.3: the request copied, R set, result code filled), or
 * UEIP_PCP_DROP for what RFC 6887 says to drop silently (shorter than 2
 * octets, R bit set, or a datagram that is neither PCP nor NAT-PMP and too
 * short to answer).
 */
#ifndef UEIP_PROTO_PCP_H
#define UEIP_PROTO_PCP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define UEIP_PCP_SERVER_PORT 5351
#define UEIP_PCP_CLIENT_PORT 5350		/* unsolicited notices go here */
#define UEIP_PCP_VERSION 2
#define UEIP_NATPMP_VERSION 0
#define UEIP_PCP_MAX 1100			/* largest request and response, octets */
#define UEIP_PCP_HDR_LEN 24
#define UEIP_PCP_MAP_LEN 36
#define UEIP_PCP_PEER_LEN 56
#define UEIP_PCP_NONCE_LEN 12
#define UEIP_PCP_FILTERS_MAX 16			/* FILTER options kept per request */

/* Opcodes (§19.2). */
#define UEIP_PCP_OPCODES(X) \
	X(ANNOUNCE, 0)      \
	X(MAP, 1)           \
	X(PEER, 2)

enum ueip_pcp_opcode {
#define UEIP_PCP_OP_ENUM(name, value) UEIP_PCP_OP_##name = value,
	UEIP_PCP_OPCODES(UEIP_PCP_OP_ENUM)
#undef UEIP_PCP_OP_ENUM
};

/* Result codes (§7.4). UEIP_PCP_DROP is ours: send nothing. */
#define UEIP_PCP_RESULTS(X)              \
	X(SUCCESS, 0)                    \
	X(UNSUPP_VERSION, 1)             \
	X(NOT_AUTHORIZED, 2)             \
	X(MALFORMED_REQUEST, 3)          \
	X(UNSUPP_OPCODE, 4)              \
	X(UNSUPP_OPTION, 5)              \
	X(MALFORMED_OPTION, 6)           \
	X(NETWORK_FAILURE, 7)            \
	X(NO_RESOURCES, 8)               \
	X(UNSUPP_PROTOCOL, 9)            \
	X(USER_EX_QUOTA, 10)             \
	X(CANNOT_PROVIDE_EXTERNAL, 11)   \
	X(ADDRESS_MISMATCH, 12)          \
	X(EXCESSIVE_REMOTE_PEERS, 13)

enum ueip_pcp_result {
#define UEIP_PCP_RES_ENUM(name, value) UEIP_PCP_##name = value,
	UEIP_PCP_RESULTS(UEIP_PCP_RES_ENUM)
#undef UEIP_PCP_RES_ENUM
	UEIP_PCP_DROP = 256
};

/* Options (§7.3, §13). Codes 0..127 must be understood, 128..255 may be skipped. */
#define UEIP_PCP_OPTIONS(X)  \
	X(THIRD_PARTY, 1)    \
	X(PREFER_FAILURE, 2) \
	X(FILTER, 3)

enum ueip_pcp_option {
#define UEIP_PCP_OPT_ENUM(name, value) UEIP_PCP_OPT_##name = value,
	UEIP_PCP_OPTIONS(UEIP_PCP_OPT_ENUM)
#undef UEIP_PCP_OPT_ENUM
};

struct ueip_pcp_filter {
	uint8_t prefix_len;		/* 0..128 in the v6 form; 96+n for IPv4 /n */
	uint16_t remote_port;		/* 0 = all ports */
	struct in6_addr remote;
};

/* A decoded request or response (the fields an opcode does not use are 0). */
struct ueip_pcp_msg {
	uint8_t version;
	uint8_t opcode;			/* without the R bit */
	uint8_t response;		/* R bit */
	uint8_t result;			/* responses */
	uint32_t lifetime;		/* requested (request) or granted (response), s */
	uint32_t epoch;			/* responses */
	struct in6_addr client;		/* requests: PCP client's IP address field */
	/* MAP and PEER */
	uint8_t nonce[UEIP_PCP_NONCE_LEN];
	uint8_t protocol;		/* IANA protocol number, 0 = all */
	uint16_t internal_port;
	uint16_t external_port;		/* suggested (request) or assigned (response) */
	struct in6_addr external;	/* suggested or assigned external address */
	/* PEER */
	uint16_t remote_port;
	struct in6_addr remote;
	/* options */
	uint8_t has_third_party;
	struct in6_addr third_party;	/* THIRD_PARTY internal address */
	uint8_t prefer_failure;
	uint8_t nfilters;
	struct ueip_pcp_filter filters[UEIP_PCP_FILTERS_MAX];
	uint8_t skipped_options;	/* optional (>= 128) options not understood */
};

/*
 * Decode a PCP request. Returns UEIP_PCP_SUCCESS with *msg filled, a PCP
 * result code to answer with (UNSUPP_VERSION, MALFORMED_REQUEST,
 * UNSUPP_OPCODE, UNSUPP_OPTION, MALFORMED_OPTION), or UEIP_PCP_DROP.
 * *msg is filled as far as decoding got (opcode and lifetime at least when
 * the header was readable), so the caller can log it.
 * Rules (RFC 6887 §7, §8.3, §11.1, §12.1, §13): length 24..1100 and a
 * multiple of 4, opcode data present, options well formed and allowed for
 * the opcode (THIRD_PARTY once, PREFER_FAILURE only with MAP and at most
 * once, FILTER only with MAP, prefix length valid for the address family),
 * MAP/PEER protocol 0 only with internal port 0, PEER with remote port and
 * address non-zero, IPv4 client/third-party/external/remote fields in the
 * mapped form or all-zero where the RFC allows it.
 */
int ueip_pcp_decode_request(const uint8_t *buf, size_t len, struct ueip_pcp_msg *msg);

/*
 * Decode a PCP response (the client side: libueip, the load generator).
 * UEIP_PCP_SUCCESS, UEIP_PCP_MALFORMED_REQUEST for a malformed response,
 * or UEIP_PCP_DROP for what is not a PCP response.
 */
int ueip_pcp_decode_response(const uint8_t *buf, size_t len, struct ueip_pcp_msg *msg);

/*
 * Encode a request (client side) or a success/error response from *msg
 * (opcode data and options as the fields say; responses carry FILTER
 * options that were applied, and THIRD_PARTY when it was in the request).
 * Returns the length written, or UEIP_ETOOBIG if out_size is too small.
 */
int ueip_pcp_encode_request(const struct ueip_pcp_msg *msg, uint8_t *out, size_t out_size);
int ueip_pcp_encode_response(const struct ueip_pcp_msg *msg, uint8_t *out, size_t out_size);

/*
 * Error response built from the request bytes (§8.3): the request (at most
 * 1100 octets, truncated to a multiple of 4) copied with R set, the result
 * code, lifetime and epoch filled, the reserved octets zeroed. For
 * UNSUPP_VERSION the version field says 2 (the highest we support).
 * Returns the length written or UEIP_ETOOBIG.
 */
int ueip_pcp_encode_error(const uint8_t *req, size_t req_len, uint8_t result, uint32_t lifetime,
			  uint32_t epoch, uint8_t *out, size_t out_size);

/* "MALFORMED_REQUEST", ...; "UNKNOWN" for others. */
const char *ueip_pcp_result_name(int result);
const char *ueip_pcp_opcode_name(int opcode);

/* IPv4 <-> IPv4-mapped IPv6 helpers. in_host is host byte order. */
void ueip_pcp_v4_to_mapped(uint32_t in_host, struct in6_addr *out);
/* 1 and *out set if a is ::ffff:a.b.c.d; 0 otherwise. */
int ueip_pcp_mapped_to_v4(const struct in6_addr *a, uint32_t *out_host);

/*
 * NAT-PMP (RFC 6886). Requests: opcode 0 (external address, 2 octets),
 * 1 (map UDP) and 2 (map TCP), 12 octets. Responses add 128 to the opcode.
 */
#define UEIP_NATPMP_RESULTS(X)     \
	X(SUCCESS, 0)              \
	X(UNSUPP_VERSION, 1)       \
	X(NOT_AUTHORIZED, 2)       \
	X(NETWORK_FAILURE, 3)      \
	X(OUT_OF_RESOURCES, 4)     \
	X(UNSUPP_OPCODE, 5)

enum ueip_natpmp_result {
#define UEIP_NATPMP_RES_ENUM(name, value) UEIP_NATPMP_##name = value,
	UEIP_NATPMP_RESULTS(UEIP_NATPMP_RES_ENUM)
#undef UEIP_NATPMP_RES_ENUM
	UEIP_NATPMP_DROP = 256
};

enum { UEIP_NATPMP_OP_ADDRESS = 0, UEIP_NATPMP_OP_MAP_UDP = 1, UEIP_NATPMP_OP_MAP_TCP = 2 };

struct ueip_natpmp_msg {
	uint8_t opcode;			/* without the +128 */
	uint8_t response;
	uint16_t result;
	uint32_t epoch;
	uint32_t external;		/* opcode 0 response: host byte order */
	uint16_t internal_port;
	uint16_t external_port;		/* suggested (request) or mapped (response) */
	uint32_t lifetime;		/* requested or granted, s */
};

/*
 * Decode a NAT-PMP request: UEIP_NATPMP_SUCCESS, UEIP_NATPMP_UNSUPP_OPCODE
 * (answer with ueip_natpmp_encode_error), or UEIP_NATPMP_DROP (too short,
 * a response, or not version 0: RFC 6886 §3.5 says a request too short
 * to hold its opcode's fields is dropped).
 */
int ueip_natpmp_decode_request(const uint8_t *buf, size_t len, struct ueip_natpmp_msg *msg);
int ueip_natpmp_decode_response(const uint8_t *buf, size_t len, struct ueip_natpmp_msg *msg);
/* Responses: 12 octets for opcode 0 (and for every error), 16 for a mapping. */
int ueip_natpmp_encode_response(const struct ueip_natpmp_msg *msg, uint8_t *out, size_t out_size);
int ueip_natpmp_encode_request(const struct ueip_natpmp_msg *msg, uint8_t *out, size_t out_size);
/* Error for any opcode (§3.5): version 0, 128+op, result, epoch, the rest of
 * the opcode's usual response zeroed (check RFC 6886 for the exact size). */
int ueip_natpmp_encode_error(uint8_t opcode, uint16_t result, uint32_t epoch, uint8_t *out,
			     size_t out_size);

#endif
