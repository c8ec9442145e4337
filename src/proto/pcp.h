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
 * request bytes, §7.3/§8.3: the request copied, R set, result code filled),
 * or UEIP_PCP_DROP for what RFC 6887 says to drop silently (shorter than 2
 * octets, R bit set) and for version 0, which is NAT-PMP and goes to
 * ueip_natpmp_decode_request instead. docs/pcp.md has the full table.
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
#define UEIP_NATPMP_ADDR_REQ_LEN 2		/* opcode 0 request */
#define UEIP_NATPMP_MAP_REQ_LEN 12		/* opcode 1/2 request */
#define UEIP_NATPMP_ADDR_RESP_LEN 12		/* opcode 0 response, success or error */
#define UEIP_NATPMP_MAP_RESP_LEN 16		/* opcode 1/2 response, success or error */
#define UEIP_NATPMP_VERSION_ERR_LEN 8		/* "Unsupported Version" response */

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
	uint8_t skipped_options;	/* options skipped (requests: unknown >= 128;
					   responses: any not understood); never
					   re-encoded */
};

/*
 * Decode a PCP request. Returns UEIP_PCP_SUCCESS with *msg filled, a PCP
 * result code to answer with (UNSUPP_VERSION, MALFORMED_REQUEST,
 * UNSUPP_OPCODE, UNSUPP_OPTION, MALFORMED_OPTION, EXCESSIVE_REMOTE_PEERS),
 * or UEIP_PCP_DROP. Never reads past len.
 * *msg is filled as far as decoding got (opcode and lifetime at least when
 * the header was readable), so the caller can log it.
 * Rules, in this order (RFC 6887 §7, §8.3, §11.1, §12.1, §13, §14.1):
 *  - shorter than 2 octets, R bit set, or version 0 (NAT-PMP): DROP;
 *  - version other than 2: UNSUPP_VERSION;
 *  - length not 24..1100 or not a multiple of 4: MALFORMED_REQUEST;
 *  - opcode not ANNOUNCE/MAP/PEER: UNSUPP_OPCODE;
 *  - opcode data cut short: MALFORMED_REQUEST;
 *  - MAP protocol 0: the internal port is ignored (read as 0, §11.1);
 *    PEER protocol 0, internal port 0, remote port 0 or an all-zero remote
 *    address (:: or ::ffff:0.0.0.0): MALFORMED_REQUEST (§12.1);
 *  - ANNOUNCE: the requested lifetime is ignored (read as 0, §14.1);
 *  - options in order: one that overruns the message: MALFORMED_OPTION;
 *    unknown 0..127: UNSUPP_OPTION; unknown 128..255: skipped (counted);
 *    PREFER_FAILURE in PEER: MALFORMED_REQUEST (§12.1); any other known
 *    option in an opcode it is not valid for (THIRD_PARTY: MAP, PEER;
 *    PREFER_FAILURE, FILTER: MAP): MALFORMED_OPTION; wrong length
 *    (THIRD_PARTY 16, PREFER_FAILURE 0, FILTER 20): MALFORMED_OPTION;
 *    THIRD_PARTY or PREFER_FAILURE twice: MALFORMED_OPTION; FILTER prefix
 *    length outside 96..128 for an IPv4-mapped remote address or above 128
 *    (§13.3): MALFORMED_OPTION; more than UEIP_PCP_FILTERS_MAX FILTERs:
 *    EXCESSIVE_REMOTE_PEERS (§7.4: the filters cannot be created).
 * Whether the client address matches the source (ADDRESS_MISMATCH) and who
 * may use THIRD_PARTY are the server's checks, not the codec's.
 */
int ueip_pcp_decode_request(const uint8_t *buf, size_t len, struct ueip_pcp_msg *msg);

/*
 * Decode a PCP response (the client side: libueip, the load generator).
 * UEIP_PCP_SUCCESS, UEIP_PCP_MALFORMED_REQUEST for a malformed response,
 * or UEIP_PCP_DROP for what is not a PCP response (shorter than 2 octets,
 * version not 2, R bit clear, or a success for an opcode we never send).
 * An error response (result != 0) is a copy of a request that may itself
 * be cut short or carry bad options: its header is always decoded and the
 * opcode data and options only as far as they are whole. Options a client
 * does not understand, or that are not valid for the opcode, are skipped
 * (§7.3: clients ignore them, even in the mandatory range).
 */
int ueip_pcp_decode_response(const uint8_t *buf, size_t len, struct ueip_pcp_msg *msg);

/*
 * Encode a request (client side) or a success/error response from *msg
 * (opcode data and options as the fields say; responses carry FILTER
 * options that were applied, THIRD_PARTY and PREFER_FAILURE when they were
 * in the request). Reserved fields are written as 0, the MAP internal port
 * as 0 when the protocol is 0, an ANNOUNCE request's lifetime as 0.
 * Returns the length written, UEIP_ETOOBIG if out_size is too small, or
 * UEIP_EINVAL for an opcode other than ANNOUNCE/MAP/PEER, more than
 * UEIP_PCP_FILTERS_MAX filters, or an option the opcode does not allow.
 */
int ueip_pcp_encode_request(const struct ueip_pcp_msg *msg, uint8_t *out, size_t out_size);
int ueip_pcp_encode_response(const struct ueip_pcp_msg *msg, uint8_t *out, size_t out_size);

/*
 * Error response built from the request bytes (§7.2, §7.3, §8.3): the
 * request (at most 1100 octets, truncated to a multiple of 4, and padded
 * with zeros to 24 octets if shorter) copied with R set and the version
 * field 2 (the highest we support, also for UNSUPP_VERSION); the result
 * code, lifetime and epoch filled; the 8-bit reserved octet zeroed. The
 * 96-bit reserved field keeps the last 96 bits of the request's client
 * address when the request was not successfully parsed (UNSUPP_VERSION,
 * MALFORMED_REQUEST, UNSUPP_OPCODE, UNSUPP_OPTION, MALFORMED_OPTION; §7.2)
 * and is zeroed for every other result. out may be req (in place).
 * Returns the length written, UEIP_ETOOBIG, or UEIP_EINVAL (req_len < 2 or
 * result SUCCESS).
 */
int ueip_pcp_encode_error(const uint8_t *req, size_t req_len, uint8_t result, uint32_t lifetime,
			  uint32_t epoch, uint8_t *out, size_t out_size);

/* "MALFORMED_REQUEST", ..., "DROP"; "UNKNOWN" for others. */
const char *ueip_pcp_result_name(int result);
const char *ueip_pcp_opcode_name(int opcode);

/* IPv4 <-> IPv4-mapped IPv6 helpers. in_host is host byte order. */
void ueip_pcp_v4_to_mapped(uint32_t in_host, struct in6_addr *out);
/* 1 and *out set if a is ::ffff:a.b.c.d; 0 otherwise. */
int ueip_pcp_mapped_to_v4(const struct in6_addr *a, uint32_t *out_host);

/*
 * NAT-PMP (RFC 6886). Requests: opcode 0 (external address, 2 octets),
 * 1 (map UDP) and 2 (map TCP), 12 octets. Responses add 128 to the opcode.
 * Longer requests are accepted and the extra octets ignored.
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
 * Decode a NAT-PMP request: UEIP_NATPMP_SUCCESS, UEIP_NATPMP_UNSUPP_VERSION
 * (version not 0; §3.5), UEIP_NATPMP_UNSUPP_OPCODE (opcode 3..127; §3.5)
 * -- answer both with ueip_natpmp_encode_error -- or UEIP_NATPMP_DROP:
 * shorter than 2 octets, a response (opcode >= 128, §3.5; checked before
 * the version so that no response is ever answered), or a mapping request
 * shorter than its 12 octets (as miniupnpd does: there is nothing to answer).
 * In the combined server version 0 comes here and every other version goes
 * to ueip_pcp_decode_request.
 */
int ueip_natpmp_decode_request(const uint8_t *buf, size_t len, struct ueip_natpmp_msg *msg);
/*
 * Decode a NAT-PMP response: UEIP_NATPMP_SUCCESS (msg->result may be an
 * error) or UEIP_NATPMP_DROP (not version 0, not a response, or a success
 * shorter than its opcode's response). Error responses need only 4 octets;
 * the 8-octet "Unsupported Version" response (OP = 0 in RFC 6886 §3.5) is
 * decoded as opcode 0, result 1. The external address of an opcode 0
 * response is ignored (0) unless the result is SUCCESS (§3.2).
 */
int ueip_natpmp_decode_response(const uint8_t *buf, size_t len, struct ueip_natpmp_msg *msg);
/*
 * Responses (§3.2, §3.3): 12 octets for opcode 0, 16 for a mapping, for
 * success and for the errors of §3.5 alike (Not Authorized, Network
 * Failure, Out of resources: internal port as requested, mapped port and
 * lifetime as msg says -- 0 when no mapping was made). The opcode 0
 * external address is written only with SUCCESS (§3.2: 0 otherwise).
 * Requests: 2 octets for opcode 0, 12 for a mapping, reserved octets 0.
 * Return the length written, UEIP_ETOOBIG, or UEIP_EINVAL for another opcode.
 */
int ueip_natpmp_encode_response(const struct ueip_natpmp_msg *msg, uint8_t *out, size_t out_size);
int ueip_natpmp_encode_request(const struct ueip_natpmp_msg *msg, uint8_t *out, size_t out_size);
/*
 * Error response built from the request bytes (RFC 6886 §3.5):
 *  - UNSUPP_VERSION: 8 octets, version 0, OP 0, result 1, epoch (the
 *    figure of §3.5);
 *  - UNSUPP_OPCODE: "the entire request returned" (at most 1100 octets),
 *    top bit of the opcode set, result 5 in octets 2-3 (padded with zeros
 *    to 4 octets if the request was shorter);
 *  - any other result for opcode 0: 12 octets, epoch, address 0.0.0.0;
 *    for opcode 1/2: 16 octets, epoch, the requested internal port,
 *    mapped port and lifetime 0.
 * Returns the length written, UEIP_ETOOBIG, or UEIP_EINVAL (req_len < 2,
 * result SUCCESS, an opcode 1/2 request shorter than 12 octets, or another
 * result for an opcode other than 0..2).
 */
int ueip_natpmp_encode_error(const uint8_t *req, size_t req_len, uint16_t result, uint32_t epoch,
			     uint8_t *out, size_t out_size);

#endif
