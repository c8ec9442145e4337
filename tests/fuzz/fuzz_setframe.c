// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: fuzz target — set peer frames
 *
 * Feeds bytes to the frame reader exactly as a connection does: frame length
 * from the header, then the decoder with the MAC checked, then every record.
 * The first byte picks the mode: 0 = check MACs with the fuzz key (the seed
 * corpus is MACed with it); 1 = first re-MAC every frame with the fuzz key,
 * so that mutated bodies reach the body decoders instead of stopping at the
 * MAC; anything else = a wrong key, the MAC rejection path.
 */
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/setframe.h"

#define FUZZ_KEY "ueip-fuzz-key-0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
drain_records(struct ueip_setmsg *m)
{
	struct ueip_set_session s;
	struct ueip_set_unit u;
	struct ueip_set_member mem;
	struct ueip_set_poolstat ps;

	switch (m->type) {
	case UEIP_SET_TRANSFER:
	case UEIP_SET_REPORT:
		while (ueip_setmsg_next_session(m, &s) == 1)
			;
		break;
	case UEIP_SET_RELEASE:
	case UEIP_SET_HANDOFF:
		while (ueip_setmsg_next_unit(m, &u) == 1)
			;
		break;
	case UEIP_SET_MEMBERS:
		while (ueip_setmsg_next_member(m, &mem) == 1)
			;
		break;
	case UEIP_SET_STATS:
		while (ueip_setmsg_next_poolstat(m, &ps) == 1)
			;
		break;
	default:
		break;
	}
}

/* Overwrite the MAC of every complete frame in buf with the fuzz key's. */
static void
remac_frames(uint8_t *p, size_t n)
{
	long frame;

	while (n > 0 && (frame = ueip_set_frame_len(p, n)) > 0) {
		unsigned mac_len = UEIP_SET_MAC_LEN;
		HMAC(EVP_sha256(), FUZZ_KEY, (int)strlen(FUZZ_KEY), p, (size_t)frame - UEIP_SET_MAC_LEN,
		     p + frame - UEIP_SET_MAC_LEN, &mac_len);
		p += frame;
		n -= (size_t)frame;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *key = (const uint8_t *)FUZZ_KEY;
	uint8_t *copy = NULL;
	struct ueip_setmsg m;
	long frame;

	if (size < 1)
		return 0;
	if (data[0] == 1 && (copy = malloc(size))) {
		memcpy(copy, data, size);
		remac_frames(copy + 1, size - 1);
		data = copy;
	} else if (data[0] > 1) {
		key = (const uint8_t *)"another key entirely";
	}
	data++;
	size--;
	while (size > 0 && (frame = ueip_set_frame_len(data, size)) > 0) {
		if (ueip_setmsg_decode(data, (size_t)frame, key, strlen((const char *)key), &m) == 0)
			drain_records(&m);
		data += frame;
		size -= (size_t)frame;
	}
	free(copy);
	return 0;
}
