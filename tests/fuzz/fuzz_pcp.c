// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: fuzz target — PCP and NAT-PMP codec
 *
 * Feeds the bytes to all four decoders (PCP request and response, NAT-PMP
 * request and response), as the server and the client would on UDP 5351.
 * What decodes is encoded again and must decode to the same struct; what
 * the request decoders refuse with a result code is answered with the
 * error builder, and that answer must decode, on the client side, to a
 * response carrying the same result. Only such an inconsistency between
 * our own encoder and decoder aborts, never the input itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/pcp.h"

#define OUT_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond)
{
	if (!cond)
		abort();
}

/* Options we skip are not re-encoded: compare without their count. */
static void
check_same_pcp(struct ueip_pcp_msg *a, const struct ueip_pcp_msg *b)
{
	a->skipped_options = 0;
	check(memcmp(a, b, sizeof(*a)) == 0);
}

static void
pcp_request(const uint8_t *data, size_t size)
{
	struct ueip_pcp_msg m, again, resp;
	uint8_t out[OUT_MAX];
	int rc = ueip_pcp_decode_request(data, size, &m);
	int n;

	if (rc == UEIP_PCP_DROP)
		return;
	if (rc != UEIP_PCP_SUCCESS) {
		n = ueip_pcp_encode_error(data, size, (uint8_t)rc, 1800, 42, out, sizeof(out));
		check(n >= UEIP_PCP_HDR_LEN && n <= UEIP_PCP_MAX && n % 4 == 0);
		check(ueip_pcp_decode_response(out, (size_t)n, &resp) == UEIP_PCP_SUCCESS);
		check(resp.result == rc && resp.opcode == (data[1] & 0x7f) && resp.epoch == 42);
		return;
	}
	n = ueip_pcp_encode_request(&m, out, sizeof(out));
	check(n > 0 && (size_t)n <= size);
	check(ueip_pcp_decode_request(out, (size_t)n, &again) == UEIP_PCP_SUCCESS);
	check_same_pcp(&m, &again);
	/* The server's answer to it must read back on the client side. */
	m.response = 1;
	m.epoch = 7;
	m.client = (struct in6_addr){ 0 };
	n = ueip_pcp_encode_response(&m, out, sizeof(out));
	check(n > 0);
	check(ueip_pcp_decode_response(out, (size_t)n, &resp) == UEIP_PCP_SUCCESS);
	check_same_pcp(&m, &resp);
}

static void
pcp_response(const uint8_t *data, size_t size)
{
	struct ueip_pcp_msg m, again;
	uint8_t out[OUT_MAX];
	int n;

	if (ueip_pcp_decode_response(data, size, &m) != UEIP_PCP_SUCCESS)
		return;
	n = ueip_pcp_encode_response(&m, out, sizeof(out));
	if (n == UEIP_EINVAL)
		return;	/* an error response for an opcode we do not know */
	check(n > 0);
	check(ueip_pcp_decode_response(out, (size_t)n, &again) == UEIP_PCP_SUCCESS);
	check_same_pcp(&m, &again);
}

static void
natpmp_request(const uint8_t *data, size_t size)
{
	struct ueip_natpmp_msg m, again, resp;
	uint8_t out[OUT_MAX];
	int rc = ueip_natpmp_decode_request(data, size, &m);
	int n;

	if (rc == UEIP_NATPMP_DROP)
		return;
	if (rc != UEIP_NATPMP_SUCCESS) {
		n = ueip_natpmp_encode_error(data, size, (uint16_t)rc, 42, out, sizeof(out));
		check(n >= 4);
		check(ueip_natpmp_decode_response(out, (size_t)n, &resp) == UEIP_NATPMP_SUCCESS);
		check(resp.result == rc);
		return;
	}
	n = ueip_natpmp_encode_request(&m, out, sizeof(out));
	check(n > 0 && (size_t)n <= size);
	check(ueip_natpmp_decode_request(out, (size_t)n, &again) == UEIP_NATPMP_SUCCESS);
	check(memcmp(&m, &again, sizeof(m)) == 0);
	n = ueip_natpmp_encode_error(data, size, UEIP_NATPMP_OUT_OF_RESOURCES, 42, out, sizeof(out));
	check(n > 0);
	check(ueip_natpmp_decode_response(out, (size_t)n, &resp) == UEIP_NATPMP_SUCCESS);
	check(resp.result == UEIP_NATPMP_OUT_OF_RESOURCES && resp.opcode == m.opcode &&
	      resp.internal_port == m.internal_port);
}

static void
natpmp_response(const uint8_t *data, size_t size)
{
	struct ueip_natpmp_msg m, again;
	uint8_t out[OUT_MAX];
	int n;

	if (ueip_natpmp_decode_response(data, size, &m) != UEIP_NATPMP_SUCCESS)
		return;
	n = ueip_natpmp_encode_response(&m, out, sizeof(out));
	if (n == UEIP_EINVAL)
		return;	/* an error response for an opcode we do not know */
	check(n > 0);
	check(ueip_natpmp_decode_response(out, (size_t)n, &again) == UEIP_NATPMP_SUCCESS);
	check(memcmp(&m, &again, sizeof(m)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pcp_request(data, size);
	pcp_response(data, size);
	natpmp_request(data, size);
	natpmp_response(data, size);
	return 0;
}
