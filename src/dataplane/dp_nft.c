// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: the nftables data path
 *
 * One table (family ip, name from the config, "ueip" by default) holds
 * every mapping as elements of maps and sets; the rules never change, so a
 * packet costs a few hash lookups whatever the number of mappings, and an
 * install costs one element per map:
 *
 *   map pub2priv   ext                          : int          ONE_TO_ONE in
 *   map priv2pub   int                          : ext          ONE_TO_ONE out
 *   map portin     ext . proto . eport          : int . iport  PORT in
 *   map portout    int . proto . iport          : ext . eport  PORT out
 *   map peerin     ext . proto . eport . rem . rport : int . iport   PEER in
 *   map peerout    int . proto . iport . rem . rport : ext . eport   PEER out
 *   set filt_addr        ext                         ONE_TO_ONE with FILTERs
 *   set allow_addr       ext . remote-range           its filters, any port
 *   set allow_addr_port  ext . remote-range . rport   its filters with a port
 *   set filt_port        ext . proto . eport          PORT with FILTERs
 *   set allow_port       ext . proto . eport . remote-range
 *   set allow_port_port  ext . proto . eport . remote-range . rport
 *
 *   chain filter_in  prerouting, filter, dstnat + offset - 10:
 *       ct state established,related accept
 *       filtered ext and the remote in neither allow set: drop  (x2)
 *   chain nat_in     prerouting, nat, dstnat + offset: dnat by peerin,
 *                    then portin, then pub2priv (first match wins)
 *   chain nat_out    postrouting, nat, srcnat + offset: snat by peerout,
 *                    then portout, then priv2pub
 *
 * Only the first packet of a connection goes through the nat chains;
 * conntrack does the rest. The allow sets are interval sets (pipapo):
 * a mapping's filters are reduced first so that no two of its elements
 * overlap (a filter inside another one is dropped), and any-port filters
 * and one-port filters go to different sets.
 *
 * The table is made with libnftables, in one transaction that deletes any
 * table of that name first. Elements are added and deleted with netlink
 * batches built here (libnftnl for the batch pages and headers, libmnl for
 * the attributes): BEGIN, one NEWSETELEM/DELSETELEM message per set per
 * ~64 KB of elements (deletes first), END; one sendmsg, so one kernel
 * transaction. The kernel handles the batch inside sendmsg and queues
 * every answer before it returns; it answers only errors, and the ack we
 * ask for on the last message. Success = that ack and no error. Any
 * error means the kernel rolled the whole batch back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <poll.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/log.h"
#include "dataplane/dp.h"

#define BATCH_PAGE (2u * 1024 * 1024)
#define MSG_MAX 64000u			/* keeps the ELEMENTS nest under its 16-bit length */
#define BATCH_OVERRUN (65536u + 4096u)
#define BATCH_MAX (512u * 1024 * 1024)	/* one transaction's bytes */
#define MSGS_MAX (BATCH_MAX / 1024)	/* data messages per transaction */
#define RCVBUF_WANT (4 * 1024 * 1024)
#define RBUF_SIZE (128 * 1024)
#define ACK_WAIT_MS 2000

enum set_id {
	S_PUB2PRIV, S_PRIV2PUB, S_PORTIN, S_PORTOUT, S_PEERIN, S_PEEROUT,
	S_FILT_ADDR, S_ALLOW_ADDR, S_ALLOW_ADDR_PORT, S_FILT_PORT, S_ALLOW_PORT, S_ALLOW_PORT_PORT,
	S_COUNT
};

struct set_desc {
	const char *name;
	uint8_t klen, dlen, interval;
};

static const struct set_desc sets[S_COUNT] = {
	[S_PUB2PRIV] = { "pub2priv", 4, 4, 0 },
	[S_PRIV2PUB] = { "priv2pub", 4, 4, 0 },
	[S_PORTIN] = { "portin", 12, 8, 0 },
	[S_PORTOUT] = { "portout", 12, 8, 0 },
	[S_PEERIN] = { "peerin", 20, 8, 0 },
	[S_PEEROUT] = { "peerout", 20, 8, 0 },
	[S_FILT_ADDR] = { "filt_addr", 4, 0, 0 },
	[S_ALLOW_ADDR] = { "allow_addr", 8, 0, 1 },
	[S_ALLOW_ADDR_PORT] = { "allow_addr_port", 12, 0, 1 },
	[S_FILT_PORT] = { "filt_port", 12, 0, 0 },
	[S_ALLOW_PORT] = { "allow_port", 16, 0, 1 },
	[S_ALLOW_PORT_PORT] = { "allow_port_port", 20, 0, 1 },
};

static const char table_script[] =
	"add table ip %1$s\n"
	"delete table ip %1$s\n"
	"table ip %1$s {\n"
	" map pub2priv { type ipv4_addr : ipv4_addr; }\n"
	" map priv2pub { type ipv4_addr : ipv4_addr; }\n"
	" map portin { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n"
	" map portout { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n"
	" map peerin { type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service"
	" : ipv4_addr . inet_service; }\n"
	" map peerout { type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service"
	" : ipv4_addr . inet_service; }\n"
	" set filt_addr { type ipv4_addr; }\n"
	" set allow_addr { type ipv4_addr . ipv4_addr; flags interval; }\n"
	" set allow_addr_port { type ipv4_addr . ipv4_addr . inet_service; flags interval; }\n"
	" set filt_port { type ipv4_addr . inet_proto . inet_service; }\n"
	" set allow_port { type ipv4_addr . inet_proto . inet_service . ipv4_addr;"
	" flags interval; }\n"
	" set allow_port_port { type ipv4_addr . inet_proto . inet_service . ipv4_addr"
	" . inet_service; flags interval; }\n"
	" chain filter_in { type filter hook prerouting priority %2$d; policy accept;\n"
	"  ct state established,related accept\n"
	"  ip daddr @filt_addr ip daddr . ip saddr != @allow_addr"
	" ip daddr . ip saddr . th sport != @allow_addr_port drop\n"
	"  ip daddr . meta l4proto . th dport @filt_port"
	" ip daddr . meta l4proto . th dport . ip saddr != @allow_port"
	" ip daddr . meta l4proto . th dport . ip saddr . th sport != @allow_port_port drop\n"
	" }\n"
	" chain nat_in { type nat hook prerouting priority %3$d; policy accept;\n"
	"  dnat ip to ip daddr . meta l4proto . th dport . ip saddr . th sport map @peerin\n"
	"  dnat ip to ip daddr . meta l4proto . th dport map @portin\n"
	"  dnat to ip daddr map @pub2priv\n"
	" }\n"
	" chain nat_out { type nat hook postrouting priority %4$d; policy accept;\n"
	"  snat ip to ip saddr . meta l4proto . th sport . ip daddr . th dport map @peerout\n"
	"  snat ip to ip saddr . meta l4proto . th sport map @portout\n"
	"  snat to ip saddr map @priv2pub\n"
	" }\n"
	"}\n";

struct nft_state {
	char table[32];
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	int sndbuf;
	char *rbuf;
};

struct elem {
	uint8_t key[20], key_end[20], data[8];
};

/* A filter reduced to a range of remotes and a port (0 = any). */
struct range {
	uint32_t lo, hi;
	uint8_t len;
	uint16_t port;
};

/* What the batch under construction needs to explain an error. */
struct msg_info {
	uint8_t set, add;
};

struct batch {
	struct nftnl_batch *b;
	struct nlmsghdr *nlh;		/* open data message, or NULL */
	struct nlattr *list;
	uint32_t seq0, seq;		/* BEGIN's seq; the next seq */
	struct msg_info *msgs;		/* by seq - seq0 - 1 */
	size_t nmsgs, msgs_cap;
	uint32_t ack_seq;		/* the message that carries NLM_F_ACK */
};

/* --- element encoding --------------------------------------------------- */

static uint8_t *
put_addr(uint8_t *p, uint32_t a)
{
	p[0] = (uint8_t)(a >> 24);
	p[1] = (uint8_t)(a >> 16);
	p[2] = (uint8_t)(a >> 8);
	p[3] = (uint8_t)a;
	return p + 4;
}

static uint8_t *
put_proto(uint8_t *p, uint8_t proto)
{
	p[0] = proto;
	p[1] = p[2] = p[3] = 0;
	return p + 4;
}

static uint8_t *
put_port(uint8_t *p, uint16_t port)
{
	p[0] = (uint8_t)(port >> 8);
	p[1] = (uint8_t)port;
	p[2] = p[3] = 0;
	return p + 4;
}

static uint32_t
prefix_mask(uint8_t len)
{
	return len ? ~(uint32_t)0 << (32 - len) : 0;
}

/* b contains a: same port (or b any port) and a's range inside b's. */
static int
range_within(const struct range *a, const struct range *b)
{
	return (b->port == 0 || b->port == a->port) && b->lo <= a->lo && a->hi <= b->hi;
}

/*
 * The filters of m as non-overlapping ranges: any-port ones (port 0) then
 * one-port ones; a filter inside another is dropped (of two equal ones the
 * first stays). Returns the count; *nany = how many are any-port.
 */
static size_t
filter_ranges(const struct ueip_dp_mapping *m, struct range *out, size_t *nany)
{
	struct range all[UEIP_DP_FILTERS_MAX];
	size_t n = m->nfilters < UEIP_DP_FILTERS_MAX ? m->nfilters : UEIP_DP_FILTERS_MAX;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t len = m->filters[i].prefix_len > 32 ? 32 : m->filters[i].prefix_len;
		uint32_t mask = prefix_mask(len);

		all[i].lo = m->filters[i].remote & mask;
		all[i].hi = all[i].lo | ~mask;
		all[i].len = len;
		all[i].port = m->filters[i].remote_port;
	}
	*nany = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			int drop = 0;

			if ((all[i].port == 0) != (pass == 0))
				continue;
			for (size_t j = 0; j < n && !drop; j++)
				drop = j != i && range_within(&all[i], &all[j]) &&
				       (!range_within(&all[j], &all[i]) || j < i);
			if (drop)
				continue;
			out[k++] = all[i];
			if (pass == 0)
				(*nany)++;
		}
	}
	return k;
}

/* Does a change of m touch set s? */
static int
touches(const struct ueip_dp_mapping *m, int s)
{
	switch (s) {
	case S_PUB2PRIV:
	case S_PRIV2PUB:
		return m->kind == UEIP_DP_ONE_TO_ONE;
	case S_PORTIN:
	case S_PORTOUT:
		return m->kind == UEIP_DP_PORT;
	case S_PEERIN:
	case S_PEEROUT:
		return m->kind == UEIP_DP_PEER;
	case S_FILT_ADDR:
	case S_ALLOW_ADDR:
	case S_ALLOW_ADDR_PORT:
		return m->kind == UEIP_DP_ONE_TO_ONE && m->nfilters;
	default:
		return m->kind == UEIP_DP_PORT && m->nfilters;
	}
}

/* The elements of m in set s (at most UEIP_DP_FILTERS_MAX). */
static size_t
mapping_elems(const struct ueip_dp_mapping *m, int s, struct elem *out)
{
	struct range r[UEIP_DP_FILTERS_MAX];
	size_t nr, nany, k = 0;
	uint8_t *p, *q;

	memset(out, 0, sizeof(*out));
	p = out->key;
	q = out->data;
	switch (s) {
	case S_PUB2PRIV:
		put_addr(p, m->external);
		put_addr(q, m->internal);
		return 1;
	case S_PRIV2PUB:
		put_addr(p, m->internal);
		put_addr(q, m->external);
		return 1;
	case S_PORTIN:
		put_port(put_proto(put_addr(p, m->external), m->proto), m->external_port);
		put_port(put_addr(q, m->internal), m->internal_port);
		return 1;
	case S_PORTOUT:
		put_port(put_proto(put_addr(p, m->internal), m->proto), m->internal_port);
		put_port(put_addr(q, m->external), m->external_port);
		return 1;
	case S_PEERIN:
		p = put_port(put_proto(put_addr(p, m->external), m->proto), m->external_port);
		put_port(put_addr(p, m->remote), m->remote_port);
		put_port(put_addr(q, m->internal), m->internal_port);
		return 1;
	case S_PEEROUT:
		p = put_port(put_proto(put_addr(p, m->internal), m->proto), m->internal_port);
		put_port(put_addr(p, m->remote), m->remote_port);
		put_port(put_addr(q, m->external), m->external_port);
		return 1;
	case S_FILT_ADDR:
		put_addr(p, m->external);
		return 1;
	case S_FILT_PORT:
		put_port(put_proto(put_addr(p, m->external), m->proto), m->external_port);
		return 1;
	default:
		break;
	}
	nr = filter_ranges(m, r, &nany);
	for (size_t i = 0; i < nr; i++) {
		int any = i < nany;
		uint8_t *lo, *hi;

		if (any != (s == S_ALLOW_ADDR || s == S_ALLOW_PORT))
			continue;
		memset(&out[k], 0, sizeof(out[k]));
		lo = put_addr(out[k].key, m->external);
		hi = put_addr(out[k].key_end, m->external);
		if (s == S_ALLOW_PORT || s == S_ALLOW_PORT_PORT) {
			lo = put_port(put_proto(lo, m->proto), m->external_port);
			hi = put_port(put_proto(hi, m->proto), m->external_port);
		}
		lo = put_addr(lo, r[i].lo);
		hi = put_addr(hi, r[i].hi);
		if (!any) {
			put_port(lo, r[i].port);
			put_port(hi, r[i].port);
		}
		k++;
	}
	return k;
}

/* --- batch building ----------------------------------------------------- */

static int
elem_put(struct nlmsghdr *nlh, const struct set_desc *d, const struct elem *e, int add)
{
	struct nlattr *el, *n;

	el = mnl_attr_nest_start_check(nlh, MSG_MAX, NFTA_LIST_ELEM);
	if (!el)
		return 0;
	if (!(n = mnl_attr_nest_start_check(nlh, MSG_MAX, NFTA_SET_ELEM_KEY)) ||
	    !mnl_attr_put_check(nlh, MSG_MAX, NFTA_DATA_VALUE, d->klen, e->key))
		goto full;
	mnl_attr_nest_end(nlh, n);
	if (d->interval) {
		if (!(n = mnl_attr_nest_start_check(nlh, MSG_MAX, NFTA_SET_ELEM_KEY_END)) ||
		    !mnl_attr_put_check(nlh, MSG_MAX, NFTA_DATA_VALUE, d->klen, e->key_end))
			goto full;
		mnl_attr_nest_end(nlh, n);
	}
	if (d->dlen && add) {
		if (!(n = mnl_attr_nest_start_check(nlh, MSG_MAX, NFTA_SET_ELEM_DATA)) ||
		    !mnl_attr_put_check(nlh, MSG_MAX, NFTA_DATA_VALUE, d->dlen, e->data))
			goto full;
		mnl_attr_nest_end(nlh, n);
	}
	mnl_attr_nest_end(nlh, el);
	return 1;
full:
	mnl_attr_nest_cancel(nlh, el);
	return 0;
}

static int
msg_open(struct batch *bt, const char *table, int s, int add)
{
	int rc = ueip_grow((void **)&bt->msgs, &bt->msgs_cap, bt->nmsgs, sizeof(*bt->msgs));

	if (rc)
		return rc;
	if (bt->nmsgs >= MSGS_MAX)
		return UEIP_ETOOBIG;
	bt->msgs[bt->nmsgs].set = (uint8_t)s;
	bt->msgs[bt->nmsgs++].add = (uint8_t)add;
	bt->nlh = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bt->b),
					add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, NFPROTO_IPV4,
					add ? NLM_F_CREATE | NLM_F_EXCL : 0, bt->seq++);
	mnl_attr_put_strz(bt->nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(bt->nlh, NFTA_SET_ELEM_LIST_SET, sets[s].name);
	bt->list = mnl_attr_nest_start(bt->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	return 0;
}

static int
msg_close(struct batch *bt, int ack)
{
	mnl_attr_nest_end(bt->nlh, bt->list);
	if (ack) {
		bt->nlh->nlmsg_flags |= NLM_F_ACK;
		bt->ack_seq = bt->nlh->nlmsg_seq;
	}
	bt->nlh = NULL;
	if (nftnl_batch_update(bt->b) < 0)
		return UEIP_ENOMEM;
	return nftnl_batch_iovec_len(bt->b) * (size_t)BATCH_PAGE > BATCH_MAX ? UEIP_ETOOBIG : 0;
}

/* All elements of one (operation, set) pass; the last pass acks its last message. */
static int
batch_pass(struct batch *bt, const char *table, const struct ueip_dp_mapping *m,
	   const uint8_t *add, size_t n, int op, int s, int last)
{
	struct elem el[UEIP_DP_FILTERS_MAX];
	int rc;

	if ((rc = msg_open(bt, table, s, op)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (!add[i] != !op || !touches(&m[i], s))
			continue;
		k = mapping_elems(&m[i], s, el);
		for (size_t j = 0; j < k; j++) {
			if (elem_put(bt->nlh, &sets[s], &el[j], op))
				continue;
			if ((rc = msg_close(bt, 0)) != 0 || (rc = msg_open(bt, table, s, op)) != 0)
				return rc;
			if (!elem_put(bt->nlh, &sets[s], &el[j], op))
				return UEIP_ETOOBIG;	/* cannot happen: one element is small */
		}
	}
	return msg_close(bt, last);
}

static int
batch_build(struct batch *bt, struct nft_state *st, const struct ueip_dp_mapping *m,
	    const uint8_t *add, size_t n)
{
	size_t count[2][S_COUNT] = { { 0 } };
	struct elem el[UEIP_DP_FILTERS_MAX];
	int last_op = -1, last_set = -1, rc;

	/* Elements per (operation, set); no message for a set without any. */
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < S_COUNT; s++)
			if (touches(&m[i], s))
				count[add[i] != 0][s] += sets[s].interval ? mapping_elems(&m[i], s, el)
									  : 1;
	for (int op = 0; op < 2; op++)
		for (int s = 0; s < S_COUNT; s++)
			if (count[op][s]) {
				last_op = op;
				last_set = s;
			}
	if (last_op < 0)
		return 0;
	bt->b = nftnl_batch_alloc(BATCH_PAGE, BATCH_OVERRUN);
	if (!bt->b)
		return UEIP_ENOMEM;
	bt->seq0 = bt->seq = st->seq;
	nftnl_batch_begin(nftnl_batch_buffer(bt->b), bt->seq++);
	if (nftnl_batch_update(bt->b) < 0)
		return UEIP_ENOMEM;
	for (int op = 0; op < 2; op++) {	/* deletes first */
		for (int s = 0; s < S_COUNT; s++) {
			if (!count[op][s])
				continue;
			rc = batch_pass(bt, st->table, m, add, n, op, s,
					op == last_op && s == last_set);
			if (rc)
				return rc;
		}
	}
	nftnl_batch_end(nftnl_batch_buffer(bt->b), bt->seq++);
	if (nftnl_batch_update(bt->b) < 0)
		return UEIP_ENOMEM;
	st->seq = bt->seq;
	return 0;
}

/* --- talking to the kernel ---------------------------------------------- */

static void
grow_sndbuf(struct nft_state *st, size_t len)
{
	int want;

	if (len + 4096 <= (size_t)st->sndbuf)
		return;
	want = (int)(len + 4096);
	if (setsockopt(mnl_socket_get_fd(st->nl), SOL_SOCKET, SO_SNDBUFFORCE, &want,
		       sizeof(want)) < 0)
		setsockopt(mnl_socket_get_fd(st->nl), SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	st->sndbuf = want;
}

static const char *
extack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t off = sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (off >= mnl_nlmsg_get_payload_len(nlh))
		return NULL;
	mnl_attr_for_each(attr, nlh, off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
	}
	return NULL;
}

struct outcome {
	int acked;		/* the ack of the last message came */
	int err;		/* first error (negative errno) */
	uint32_t err_seq;
	int nerrors;
	int lost;		/* ENOBUFS: answers were dropped */
	char msg[128];
};

static void
read_answers(struct nft_state *st, const struct batch *bt, struct outcome *o)
{
	ssize_t got;
	int len, fd = mnl_socket_get_fd(st->nl);
	int waited = 0;

	for (;;) {
		got = recv(fd, st->rbuf, RBUF_SIZE, MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				o->lost = 1;
				continue;
			}
			/* EAGAIN: everything was queued inside sendmsg; wait once in case not. */
			if (errno == EAGAIN && !o->acked && !o->nerrors && !o->lost && !waited) {
				struct pollfd p = { .fd = fd, .events = POLLIN };

				waited = 1;
				if (poll(&p, 1, ACK_WAIT_MS) > 0)
					continue;
			}
			return;
		}
		len = (int)got;
		for (const struct nlmsghdr *nlh = (const void *)st->rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			const char *msg;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				continue;
			if (e->error == 0) {
				if (e->msg.nlmsg_seq == bt->ack_seq)
					o->acked = 1;
				continue;
			}
			if (o->nerrors++ == 0) {
				o->err = e->error < 0 ? e->error : -e->error;
				o->err_seq = e->msg.nlmsg_seq;
				msg = extack_msg(nlh);
				snprintf(o->msg, sizeof(o->msg), "%s", msg ? msg : "");
			}
		}
	}
}

static void
explain(const struct batch *bt, const struct outcome *o, size_t n, char *why, size_t why_size)
{
	const char *what = "commit";
	const char *set = "";
	uint32_t i = o->err_seq - bt->seq0 - 1;

	if (!why || !why_size)
		return;
	if (o->err_seq != bt->seq0 && i < bt->nmsgs) {
		what = bt->msgs[i].add ? "adding elements to" : "deleting elements from";
		set = sets[bt->msgs[i].set].name;
	}
	snprintf(why, why_size, "nft table: %s %s failed: %s%s%s%s; the kernel applied none of the "
		 "%zu changes", what, set, strerror(-o->err), o->msg[0] ? " (" : "", o->msg,
		 o->msg[0] ? ")" : "", n);
}

static int
nft_apply(void *state, const struct ueip_dp_mapping *m, const uint8_t *add, size_t n, char *why,
	  size_t why_size)
{
	struct nft_state *st = state;
	struct batch bt = { 0 };
	struct outcome o = { 0 };
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = { 0 };
	struct iovec *iov = NULL;
	size_t total = 0;
	int niov, rc;

	rc = batch_build(&bt, st, m, add, n);
	if (rc) {
		snprintf(why, why_size, "nft table: building the batch of %zu changes: %s", n,
			 ueip_strerror(rc));
		goto out;
	}
	if (!bt.b)
		goto out;
	niov = nftnl_batch_iovec_len(bt.b);
	iov = calloc((size_t)niov, sizeof(*iov));
	if (!iov) {
		rc = UEIP_ENOMEM;
		goto out;
	}
	nftnl_batch_iovec(bt.b, iov, (uint32_t)niov);
	for (int i = 0; i < niov; i++)
		total += iov[i].iov_len;
	grow_sndbuf(st, total);
	msg.msg_name = &snl;
	msg.msg_namelen = sizeof(snl);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)niov;
	while ((rc = (int)sendmsg(mnl_socket_get_fd(st->nl), &msg, 0)) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		rc = -errno;
		snprintf(why, why_size, "nft table: sending a batch of %zu bytes: %s", total,
			 strerror(errno));
		goto out;
	}
	read_answers(st, &bt, &o);
	if (o.nerrors) {
		rc = o.err;
		explain(&bt, &o, n, why, why_size);
	} else if (o.lost) {
		rc = -ENOBUFS;
		snprintf(why, why_size, "nft table: the kernel's answers overflowed the socket "
			 "(errors); none of the %zu changes was applied", n);
	} else if (!o.acked) {
		rc = -ETIMEDOUT;
		snprintf(why, why_size, "nft table: no acknowledgement for the batch of %zu changes",
			 n);
	} else {
		rc = 0;
	}
out:
	free(iov);
	free(bt.msgs);
	if (bt.b)
		nftnl_batch_free(bt.b);
	return rc;
}

/* --- table ---------------------------------------------------------------- */

static int
run_nft(const char *cmd, char *why, size_t why_size)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *err;
	int rc = 0;

	if (!ctx)
		return UEIP_ENOMEM;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
		err = nft_ctx_get_error_buffer(ctx);
		if (!err)
			err = "";
		rc = strstr(err, "Operation not permitted") ? -EPERM : UEIP_ECONFIG;
		if (why && why_size)
			snprintf(why, why_size, "nft: %.*s%s", (int)strcspn(err, "\n"), err,
				 rc == -EPERM ? " (the nft data path needs CAP_NET_ADMIN)" : "");
	}
	nft_ctx_free(ctx);
	return rc;
}

static void
nft_close(void *state, int cleanup)
{
	struct nft_state *st = state;
	char cmd[64], why[256];

	if (!st)
		return;
	if (cleanup) {
		snprintf(cmd, sizeof(cmd), "delete table ip %s\n", st->table);
		if (run_nft(cmd, why, sizeof(why)))
			ueip_log_warn("dp", "nft: removing table %s: %s", st->table, why);
	}
	if (st->nl)
		mnl_socket_close(st->nl);
	free(st->rbuf);
	free(st);
}

static int
nft_open(const struct ueip_dp_config *cfg, void **state, char *why, size_t why_size)
{
	struct nft_state *st = calloc(1, sizeof(*st));
	int off = cfg->nat_priority_offset, one = 1, rcv = RCVBUF_WANT;
	char *script = NULL;
	int rc, len;
	socklen_t sl = sizeof(st->sndbuf);

	if (!st)
		return UEIP_ENOMEM;
	snprintf(st->table, sizeof(st->table), "%s", cfg->table);
	len = snprintf(NULL, 0, table_script, st->table, -100 + off - 10, -100 + off, 100 + off);
	script = malloc((size_t)len + 1);
	st->rbuf = malloc(RBUF_SIZE);
	if (!script || !st->rbuf) {
		rc = UEIP_ENOMEM;
		goto fail;
	}
	snprintf(script, (size_t)len + 1, table_script, st->table, -100 + off - 10, -100 + off,
		 100 + off);
	rc = run_nft(script, why, why_size);
	if (rc)
		goto fail;
	st->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!st->nl || mnl_socket_bind(st->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		snprintf(why, why_size, "nft: netfilter netlink socket: %s", strerror(errno));
		goto fail_table;
	}
	st->portid = mnl_socket_get_portid(st->nl);
	mnl_socket_setsockopt(st->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(st->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(mnl_socket_get_fd(st->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		setsockopt(mnl_socket_get_fd(st->nl), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	getsockopt(mnl_socket_get_fd(st->nl), SOL_SOCKET, SO_SNDBUF, &st->sndbuf, &sl);
	st->seq = (uint32_t)time(NULL);
	free(script);
	*state = st;
	ueip_log_info("dp", "nft data path: table ip %s ready (nat at dstnat%+d/srcnat%+d)",
		      st->table, off, off);
	return 0;
fail_table:
	nft_close(st, 1);
	free(script);
	return rc;
fail:
	nft_close(st, 0);
	free(script);
	return rc;
}

const struct ueip_dp_ops ueip_dp_nft_ops = {
	.name = "nft",
	.open = nft_open,
	.close = nft_close,
	.apply = nft_apply,
};
