// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/err.h"

/* inet_pton is a pure function of its input: parsing only, no I/O. */
int
ueip_addr_parse(const char *text, struct ueip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!text || strlen(text) >= UEIP_ADDR_STRLEN)
		return UEIP_EMALFORMED;
	if (inet_pton(AF_INET, text, out->b) == 1) {
		out->family = UEIP_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->b) == 1) {
		out->family = UEIP_AF_INET6;
		return 0;
	}
	return UEIP_EMALFORMED;
}

static int
host_bits_zero(const struct ueip_addr *a, unsigned len)
{
	unsigned width = a->family == UEIP_AF_INET ? 32 : 128;

	for (unsigned bit = len; bit < width; bit++)
		if (a->b[bit / 8] & (0x80 >> (bit % 8)))
			return 0;
	return 1;
}

int
ueip_prefix_parse(const char *text, struct ueip_addr *out, uint8_t *len)
{
	char buf[UEIP_ADDR_STRLEN];
	const char *slash;
	char *end;
	long plen;

	if (!text || !(slash = strchr(text, '/')) || (size_t)(slash - text) >= sizeof(buf))
		return UEIP_EMALFORMED;
	memcpy(buf, text, (size_t)(slash - text));
	buf[slash - text] = '\0';
	if (ueip_addr_parse(buf, out))
		return UEIP_EMALFORMED;
	if (slash[1] < '0' || slash[1] > '9')
		return UEIP_EMALFORMED;
	plen = strtol(slash + 1, &end, 10);
	if (*end || plen < 0 || plen > (out->family == UEIP_AF_INET ? 32 : 128))
		return UEIP_EMALFORMED;
	if (!host_bits_zero(out, (unsigned)plen))
		return UEIP_EMALFORMED;
	*len = (uint8_t)plen;
	return 0;
}

void
ueip_addr_format(const struct ueip_addr *addr, char *buf, size_t size)
{
	int af = addr->family == UEIP_AF_INET ? AF_INET : AF_INET6;

	if (size == 0)
		return;
	if ((addr->family != UEIP_AF_INET && addr->family != UEIP_AF_INET6) ||
	    !inet_ntop(af, addr->b, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

int
ueip_addr_equal(const struct ueip_addr *a, const struct ueip_addr *b)
{
	size_t n = a->family == UEIP_AF_INET ? 4 : 16;

	return a->family == b->family && memcmp(a->b, b->b, n) == 0;
}

uint32_t
ueip_addr_v4(const struct ueip_addr *addr)
{
	return (uint32_t)addr->b[0] << 24 | (uint32_t)addr->b[1] << 16 |
	       (uint32_t)addr->b[2] << 8 | addr->b[3];
}

void
ueip_addr_set_v4(struct ueip_addr *addr, uint32_t v)
{
	memset(addr, 0, sizeof(*addr));
	addr->family = UEIP_AF_INET;
	addr->b[0] = (uint8_t)(v >> 24);
	addr->b[1] = (uint8_t)(v >> 16);
	addr->b[2] = (uint8_t)(v >> 8);
	addr->b[3] = (uint8_t)v;
}

/* Bits [unit_len-40, unit_len) of a v6 address as an integer (offset window). */
static uint64_t
v6_window(const struct ueip_addr *a, uint8_t unit_len, uint64_t *high_mismatch_out,
	  const struct ueip_addr *base)
{
	uint64_t value = 0;
	int start = unit_len >= 40 ? unit_len - 40 : 0;

	*high_mismatch_out = 0;
	for (int bit = 0; bit < start; bit++) {
		int mask = 0x80 >> (bit % 8);
		if ((a->b[bit / 8] & mask) != (base->b[bit / 8] & mask))
			*high_mismatch_out = 1;
	}
	for (int bit = start; bit < unit_len; bit++)
		value = value << 1 | ((a->b[bit / 8] >> (7 - bit % 8)) & 1);
	return value;
}

int
ueip_addr_offset(const struct ueip_addr *base, uint8_t unit_len,
		 const struct ueip_addr *addr, uint64_t *offset)
{
	if (addr->family != base->family)
		return UEIP_EINVAL;
	if (addr->family == UEIP_AF_INET) {
		uint32_t a = ueip_addr_v4(addr), b = ueip_addr_v4(base);
		if (a < b)
			return UEIP_EINVAL;
		*offset = a - b;
		return 0;
	}
	if (unit_len == 0 || unit_len > 128 || !host_bits_zero(addr, unit_len))
		return UEIP_EINVAL;
	uint64_t mismatch, a, b;
	a = v6_window(addr, unit_len, &mismatch, base);
	if (mismatch)
		return UEIP_EINVAL;
	b = v6_window(base, unit_len, &mismatch, base);
	if (a < b)
		return UEIP_EINVAL;
	*offset = a - b;
	return 0;
}

void
ueip_addr_at(const struct ueip_addr *base, uint8_t unit_len, uint64_t offset,
	     struct ueip_addr *out)
{
	*out = *base;
	if (base->family == UEIP_AF_INET) {
		ueip_addr_set_v4(out, ueip_addr_v4(base) + (uint32_t)offset);
		return;
	}
	/* Add offset at bit position unit_len-1 (least significant unit bit), with carry. */
	unsigned carry = 0;
	for (int bit = unit_len - 1; bit >= 0 && (offset || carry); bit--) {
		unsigned cur = (out->b[bit / 8] >> (7 - bit % 8)) & 1;
		unsigned sum = cur + (unsigned)(offset & 1) + carry;
		offset >>= 1;
		carry = sum >> 1;
		if (sum & 1)
			out->b[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		else
			out->b[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	}
}

/* ---- host:port ------------------------------------------------------------- */

static int
hostname_ok(const char *host, size_t len)
{
	size_t label = 0;
	int all_numeric = 1;

	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = host[i];
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-') || ++label > 63)
			return 0;
		if (ch < '0' || ch > '9')
			all_numeric = 0;
	}
	if (label == 0)
		return 0;
	if (all_numeric) {	/* dotted digits must be a real IPv4 address */
		char buf[UEIP_ADDR_STRLEN];
		struct ueip_addr a;
		if (len >= sizeof(buf))
			return 0;
		memcpy(buf, host, len);
		buf[len] = '\0';
		return ueip_addr_parse(buf, &a) == 0 && a.family == UEIP_AF_INET;
	}
	return 1;
}

static int
port_parse(const char *text, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = strlen(text);

	if (n == 0 || n > 5)
		return UEIP_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return UEIP_EINVAL;
		v = v * 10 + (unsigned long)(text[i] - '0');
	}
	if (v < 1 || v > 65535)
		return UEIP_EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int
v6_literal_ok(const char *text, size_t len)
{
	char buf[UEIP_ADDR_STRLEN];
	struct ueip_addr a;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return ueip_addr_parse(buf, &a) == 0 && a.family == UEIP_AF_INET6;
}

int
ueip_hostport_split(const char *text, char *host, size_t host_size, uint16_t *port)
{
	const char *host_start, *host_end, *colon;
	size_t host_len;

	if (!text || !host || !port || host_size == 0)
		return UEIP_EINVAL;
	if (text[0] == '[') {
		host_start = text + 1;
		host_end = strchr(host_start, ']');
		if (!host_end || host_end[1] != ':')
			return UEIP_EINVAL;
		colon = host_end + 1;
		if (!v6_literal_ok(host_start, (size_t)(host_end - host_start)))
			return UEIP_EINVAL;
	} else {
		host_start = text;
		colon = host_end = strchr(text, ':');
		if (!colon || strchr(colon + 1, ':') ||
		    !hostname_ok(host_start, (size_t)(host_end - host_start)))
			return UEIP_EINVAL;
	}
	host_len = (size_t)(host_end - host_start);
	if (host_len >= host_size || port_parse(colon + 1, port))
		return UEIP_EINVAL;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	return 0;
}
