/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: data path backends
 *
 * ueipd programs the packet path through one small ops table. A backend
 * keeps the mappings it was given; changes are queued with ueip_dp_add()
 * and ueip_dp_del() and reach the kernel together, in one transaction, at
 * ueip_dp_commit() (the daemon commits once per loop turn, after the store
 * commit and before the answers leave). A commit either applies every
 * queued change or none (the queue is kept for a retry and the error says
 * why).
 *
 * Mapping kinds (IPv4):
 *
 *   ONE_TO_ONE  internal <-> external, every protocol and port: inbound to
 *               external is DNATed to internal, outbound from internal is
 *               SNATed to external (a dedicated public address).
 *   PORT        external:eport/proto <-> internal:iport/proto on a shared
 *               external address: inbound DNAT, and outbound from
 *               internal:iport SNATed to external:eport (endpoint-independent).
 *   PEER        outbound internal:iport/proto -> remote:rport leaves as
 *               external:eport (SNAT); replies come back through conntrack,
 *               and remote may open toward external:eport (DNAT for that
 *               remote only).
 *
 * A mapping may carry FILTERs (RFC 6887 §13.3): when nfilters > 0, inbound
 * packets to the mapping are accepted only from the listed remote prefixes
 * (and ports); the rest is dropped. Packets of connections already
 * tracked (replies to what the UE opened, or flows a filter let in) pass.
 *
 * Backends:
 *   nft   one nftables table owned by ueipd (default name "ueip", family ip)
 *         with maps, not a rule per mapping, so lookups and installs stay
 *         flat as mappings grow; elements are added and removed in netlink
 *         batches (libnftnl + libmnl); the table itself is made with
 *         libnftables. Opening it replaces any table of that name left by
 *         an earlier run (the daemon then adds every mapping from the store).
 *         It works in the network namespace the caller is in at open (and
 *         at close, for the cleanup). Layout and rules: dp_nft.c.
 *   null  records what would be programmed (the same bookkeeping, no
 *         kernel); for control-plane-only deployments and running without
 *         root.
 */
#ifndef UEIP_DATAPLANE_DP_H
#define UEIP_DATAPLANE_DP_H

#include <stddef.h>
#include <stdint.h>

enum ueip_dp_kind { UEIP_DP_ONE_TO_ONE = 1, UEIP_DP_PORT = 2, UEIP_DP_PEER = 3 };

#define UEIP_DP_FILTERS_MAX 16
/* Caps of the bookkeeping: installed + queued mappings, and changes per commit. */
#define UEIP_DP_MAPPINGS_MAX (4u * 1024 * 1024)
#define UEIP_DP_QUEUE_MAX (2u * 1024 * 1024)

struct ueip_dp_filter {
	uint32_t remote;		/* host byte order */
	uint8_t prefix_len;		/* 0..32 */
	uint16_t remote_port;		/* 0 = any */
};

/* Addresses host byte order; ports host byte order; proto IPPROTO_TCP/UDP (0 for ONE_TO_ONE). */
struct ueip_dp_mapping {
	uint8_t kind;
	uint8_t proto;
	uint32_t internal;
	uint16_t internal_port;
	uint32_t external;
	uint16_t external_port;
	uint32_t remote;		/* PEER */
	uint16_t remote_port;		/* PEER */
	uint8_t nfilters;
	struct ueip_dp_filter filters[UEIP_DP_FILTERS_MAX];
};

struct ueip_dp_config {
	char backend[16];		/* "nft" or "null" */
	char table[32];			/* nft table name, default "ueip" */
	int nat_priority_offset;	/* chains at dstnat/srcnat + this (-80..80); the
					 * config layer sets the default, -10: 0 means 0 */
	int cleanup_on_stop;		/* delete the table at close */
};

struct ueip_dp;

struct ueip_dp_stats {
	uint64_t mappings;		/* installed (committed) */
	uint64_t queued;		/* changes waiting for the next commit */
	uint64_t commits, commit_errors;	/* non-empty commits; failed ones */
	uint64_t last_commit_us;	/* how long the last non-empty commit took */
};

/*
 * Open the backend named in cfg->backend and start from an empty state
 * (nft: the table is (re)created empty). 0, UEIP_EINVAL (unknown backend),
 * UEIP_ENOMEM, or a negative errno / UEIP_ECONFIG with why filled (e.g.
 * -EPERM when not root for nft; UEIP_ECONFIG for a table name that is not
 * [A-Za-z_][A-Za-z0-9_]{0,30} or an offset out of range, and from nft for a
 * name that is an nft keyword such as "set" or "map").
 */
int ueip_dp_open(const struct ueip_dp_config *cfg, struct ueip_dp **out, char *why, size_t why_size);
/* Close; removes the table if cfg->cleanup_on_stop. Queued changes are dropped. NULL is fine. */
void ueip_dp_close(struct ueip_dp *dp);
const char *ueip_dp_name(const struct ueip_dp *dp);

/*
 * Queue a change (the mapping is copied; m is borrowed).
 *
 * The pending view is what is installed plus the queue. Each mapping has
 * two keys, both unique in the pending view:
 *
 *   ONE_TO_ONE  internal, and external
 *   PORT        (external, proto, external_port), and
 *               (internal, proto, internal_port)
 *   PEER        (internal, proto, internal_port, remote, remote_port), and
 *               (external, proto, external_port, remote, remote_port)
 *
 * (keys of different kinds never clash: a dedicated UE's PORT mapping on
 * its own external address is fine). Fields a kind does not use (ports,
 * proto and remote of ONE_TO_ONE, remote of PORT) are ignored and stored
 * as 0.
 *
 * ueip_dp_add: 0; UEIP_ECONFLICT if either key is taken in the pending view;
 * UEIP_EINVAL for a malformed mapping (unknown kind, proto not TCP/UDP for
 * PORT/PEER or not 0 for ONE_TO_ONE, a zero address or port that the kind
 * uses, nfilters > UEIP_DP_FILTERS_MAX, prefix_len > 32, filters on a PEER:
 * RFC 6887 allows FILTER on MAP only); UEIP_ETOOBIG past
 * UEIP_DP_MAPPINGS_MAX mappings or UEIP_DP_QUEUE_MAX queued changes;
 * UEIP_ENOMEM.
 *
 * ueip_dp_del: removes the mapping of the pending view with the same kind
 * and used fields as m (filters are not compared: the installed ones are
 * removed). A queued add is simply dropped from the queue. 0,
 * UEIP_ENOTFOUND, UEIP_EINVAL, UEIP_ETOOBIG (queue full), UEIP_ENOMEM.
 */
int ueip_dp_add(struct ueip_dp *dp, const struct ueip_dp_mapping *m);
int ueip_dp_del(struct ueip_dp *dp, const struct ueip_dp_mapping *m);
/*
 * Apply the queue in one transaction. 0 (also when the queue is empty: no
 * kernel call, not counted in stats.commits), or the backend's error with
 * why filled; then nothing was applied and the queue is kept as it was.
 */
int ueip_dp_commit(struct ueip_dp *dp, char *why, size_t why_size);
/* Drop the queue: the pending view becomes the installed state again. */
void ueip_dp_discard(struct ueip_dp *dp);
void ueip_dp_stats(const struct ueip_dp *dp, struct ueip_dp_stats *out);
/*
 * Visit installed (committed) mappings, in no particular order; stop when
 * fn returns non-zero and return that value. fn must not add, del, commit
 * or discard.
 */
int ueip_dp_each(const struct ueip_dp *dp, int (*fn)(const struct ueip_dp_mapping *m, void *arg),
		 void *arg);

/* Backend ops: one struct per backend (dp_null.c, dp_nft.c). */
struct ueip_dp_ops {
	const char *name;
	int (*open)(const struct ueip_dp_config *cfg, void **state, char *why, size_t why_size);
	void (*close)(void *state, int cleanup);
	/*
	 * Apply n changes (add[i] true = add, false = delete) in one
	 * transaction: all or nothing. The generic layer guarantees that the
	 * deletes name installed mappings, that the adds do not clash with
	 * each other nor with what stays installed, and that a key deleted
	 * and added again is deleted first; so a backend may apply every
	 * delete before every add.
	 */
	int (*apply)(void *state, const struct ueip_dp_mapping *m, const uint8_t *add, size_t n,
		     char *why, size_t why_size);
};

/*
 * Open with a given ops table instead of one named in cfg->backend (tests,
 * out-of-tree backends). Same returns as ueip_dp_open.
 */
int ueip_dp_open_ops(const struct ueip_dp_ops *ops, const struct ueip_dp_config *cfg,
		     struct ueip_dp **out, char *why, size_t why_size);

extern const struct ueip_dp_ops ueip_dp_null_ops;
extern const struct ueip_dp_ops ueip_dp_nft_ops;

#endif
