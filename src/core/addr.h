/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: addresses
 *
 * struct ueip_addr holds an IPv4 or IPv6 address in network byte order
 * (IPv4 in the first four bytes). Parsers take text from outside and answer
 * UEIP_EMALFORMED rather than guess; formatters never fail. Offsets let a
 * pool turn "the n-th unit after base" into an address and back, where a
 * unit is one IPv4 address or one delegated IPv6 prefix.
 */
#ifndef UEIP_CORE_ADDR_H
#define UEIP_CORE_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define UEIP_AF_INET  4
#define UEIP_AF_INET6 6
#define UEIP_ADDR_STRLEN 48	/* enough for "ffff:...:ffff/128" */
#define UEIP_HOSTPORT_MAX 64	/* "host:port" */

struct ueip_addr {
	uint8_t family;		/* UEIP_AF_INET or UEIP_AF_INET6 */
	uint8_t b[16];
};

/* "100.64.0.1" or "2001:db8::1". 0 or UEIP_EMALFORMED. */
int ueip_addr_parse(const char *text, struct ueip_addr *out);
/* "a/len"; the host bits must be zero. 0 or UEIP_EMALFORMED. */
int ueip_prefix_parse(const char *text, struct ueip_addr *out, uint8_t *len);
void ueip_addr_format(const struct ueip_addr *addr, char *buf, size_t size);
int ueip_addr_equal(const struct ueip_addr *a, const struct ueip_addr *b);

uint32_t ueip_addr_v4(const struct ueip_addr *addr);
void ueip_addr_set_v4(struct ueip_addr *addr, uint32_t host_order);

/*
 * Offset of addr from base in units of 2^(width - unit_len) addresses
 * (width 32 or 128); 0, or UEIP_EINVAL if addr is below base, of another
 * family, has host bits set below unit_len, or lies more than 2^40 units away.
 */
int ueip_addr_offset(const struct ueip_addr *base, uint8_t unit_len,
		     const struct ueip_addr *addr, uint64_t *offset);
/* base + offset units. The caller keeps offset inside its pool. */
void ueip_addr_at(const struct ueip_addr *base, uint8_t unit_len, uint64_t offset,
		  struct ueip_addr *out);

/*
 * Split "host:port" or "[v6]:port" (host: an IPv4 address or a DNS name of
 * LDH labels; port 1..65535). 0, or UEIP_EINVAL for anything else or a host
 * longer than host_size - 1.
 */
int ueip_hostport_split(const char *text, char *host, size_t host_size, uint16_t *port);

#endif
