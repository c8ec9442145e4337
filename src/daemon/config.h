/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: ueipd configuration
 *
 * The YAML file is read into a node tree (libyaml), then checked against
 * one declared schema: every key has a type, a range, a default and whether
 * a reload may change it. Unknown keys, wrong types, out-of-range values,
 * overlapping pools, statics outside every pool and a member list without
 * this member are errors that name the file, the line and the key path
 * ("ueipd.yaml:14: pools[1].ipv6: ..."). The whole file is validated before
 * anything is used, so a bad file changes nothing.
 *
 * Example (etc/ueipd.yaml is the shipped default):
 *
 *   set:
 *     id: set-a
 *     member: smf1
 *     epoch: 1
 *     key: 6b6579...             # hex, 16..64 bytes; or key_file: path
 *     members:
 *       - { id: smf1, address: 127.0.0.1:7101 }
 *     recovery_timeout_ms: 3000
 *   chunk_size: 256
 *   quarantine_seconds: 60
 *   pools:
 *     - { name: inet4, dnn: internet, snssai: "1", ipv4: 100.64.0.0/10 }
 *     - { name: inet6, dnn: internet, ipv6: 2001:db8::/32, delegated_length: 64 }
 *   static:
 *     - { supi: imsi-001010000000001, dnn: internet, address: 100.64.0.10 }
 *   store: { path: /tmp/ueip/smf1.db }
 *   control: { socket: /tmp/ueip/smf1.sock }
 *   metrics: { address: 127.0.0.1:9101 }
 *   log: { level: info }
 *   public:                    # seed 000, docs/public-design.md
 *     pcp: { address: 0.0.0.0:5351 }
 *     pools: [ { name: pub-a, ipv4: 198.51.100.0/24 } ]
 *     shared: { pool: pub-a, port_min: 1024, port_max: 65535 }
 *     lifetime: { min: 120, max: 86400, default: 3600 }
 *     quota: { dedicated: 1, ports: 64 }
 *     rate: { per_ue: 50, burst: 100 }
 *     third_party: [ { prefix: 10.10.0.0/16 } ]
 *     keep_mappings: true
 *   dataplane: { backend: auto, table: ueip, cleanup_on_stop: true }
 */
#ifndef UEIP_DAEMON_CONFIG_H
#define UEIP_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/owner.h"
#include "core/pool.h"
#include "core/session.h"

#define UEIP_POOLS_MAX 64
#define UEIP_STATICS_MAX 4096
#define UEIP_PATH_MAX 256

struct ueip_config_member {
	char id[UEIP_MEMBER_ID_MAX];
	char address[UEIP_HOSTPORT_MAX];	/* "host:port" or "[v6]:port" */
};

struct ueip_config_static {
	char supi[UEIP_SUPI_MAX];
	char dnn[UEIP_DNN_MAX];
	struct ueip_addr address;		/* v4 address or v6 delegated prefix */
	uint8_t prefix_len;			/* 32 for v4; prefix length for v6 */
};

#define UEIP_PUBLIC_POOLS_MAX 16
#define UEIP_THIRD_PARTY_MAX 16

/* A public pool (seed 000): IPv4 only; name and range. */
struct ueip_config_public_pool {
	char name[UEIP_NAME_MAX];
	struct ueip_pool_def def;		/* base, size (from ipv4) */
};

/* An IPv4 prefix (THIRD_PARTY sources). */
struct ueip_config_prefix {
	struct ueip_pool_def def;		/* base, parent_len, size */
};

struct ueip_config {
	char file[UEIP_PATH_MAX];
	/* set */
	char set_id[UEIP_NAME_MAX];
	char member[UEIP_MEMBER_ID_MAX];
	uint64_t epoch;				/* >= 1 */
	uint8_t key[64];
	size_t key_len;				/* 16..64 */
	struct ueip_config_member members[UEIP_MEMBERS_MAX];
	unsigned nmembers;			/* >= 1; includes this member */
	uint32_t recovery_timeout_ms;		/* default 3000, 100..600000 */
	/* pools */
	uint32_t chunk_size;			/* default 256; power of two 64..65536 */
	uint32_t quarantine_seconds;		/* default 60, 0..86400 */
	struct ueip_pool_def pools[UEIP_POOLS_MAX];
	unsigned npools;
	struct ueip_config_static statics[UEIP_STATICS_MAX];
	unsigned nstatics;
	/* paths and endpoints */
	char store_path[UEIP_PATH_MAX];		/* required */
	char control_socket[UEIP_PATH_MAX];	/* required */
	char metrics_address[UEIP_HOSTPORT_MAX];	/* "" = no metrics listener */
	char log_level[16];			/* error|warn|info|debug; default info */
	/* public (seed 000); no pools = the module is off */
	char pcp_address[UEIP_HOSTPORT_MAX];	/* UDP listener; "" = no PCP server */
	struct ueip_config_public_pool public_pools[UEIP_PUBLIC_POOLS_MAX];
	unsigned npublic_pools;			/* reload may remove pools, not add or change them */
	char shared_pool[UEIP_NAME_MAX];	/* port mappings draw shared addresses here; "" = none */
	uint16_t shared_port_min, shared_port_max;	/* default 1024..65535 */
	uint32_t lifetime_min, lifetime_max, lifetime_default;	/* s; 120, 86400, 3600 */
	uint32_t quota_dedicated;		/* 0..1, default 1 */
	uint32_t quota_ports;			/* default 64 */
	uint32_t rate_per_ue, rate_burst;	/* requests/s per source; default 50, 100 */
	struct ueip_config_prefix third_party[UEIP_THIRD_PARTY_MAX];
	unsigned nthird_party;
	char keep_mappings[8];			/* "true" (default) | "false" */
	/* data path */
	char dp_backend[8];			/* auto (default) | nft | null */
	char dp_table[32];			/* default "ueip" */
	char dp_cleanup[8];			/* "true" (default) | "false" */
};

/*
 * Load and validate path into cfg (which is fully overwritten only on
 * success). 0, UEIP_ECONFIG with why = "file:line: key: problem", or -errno
 * when the file cannot be read.
 */
int ueip_config_load(const char *path, struct ueip_config *cfg, char *why, size_t why_size);
/* Same, from a buffer; `name` stands for the file name in messages. */
int ueip_config_parse(const char *name, const char *data, size_t len, struct ueip_config *cfg,
		      char *why, size_t why_size);
/*
 * Whether a running daemon may move from old to next by reloading: 0, or
 * UEIP_ECONFIG with why = "file: key: cannot change on reload ..." naming the
 * first key the schema marks as needing a restart (set.id, set.member,
 * chunk_size, pools, store, control, metrics) that differs.
 */
int ueip_config_reload_check(const struct ueip_config *old, const struct ueip_config *next,
			     char *why, size_t why_size);

#endif
