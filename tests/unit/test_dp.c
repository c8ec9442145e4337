// SPDX-License-Identifier: Apache-2.0
/*
 * dataplane/dp: the generic part through the null backend and a recording
 * backend (ueip_dp_open_ops) that can be told to fail. What the daemon
 * relies on: conflicts are caught before any kernel sees them, a commit
 * hands over exactly the queue (deletes of a key before its re-add), a
 * failed commit keeps the queue and changes nothing, each/stats show the
 * installed state, and the bookkeeping stays exact over many random
 * operations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "dataplane/dp.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* --- a recording backend ------------------------------------------------- */

struct rec_backend {
	int fail_next;			/* error to return from the next apply */
	int opened, closed, cleanup;
	size_t applies;
	struct ueip_dp_mapping last[64];
	uint8_t last_add[64];
	size_t nlast;
};

static struct rec_backend rb;

static int
rb_open(const struct ueip_dp_config *cfg, void **state, char *why, size_t why_size)
{
	rb.opened++;
	*state = &rb;
	return 0;
}

static void
rb_close(void *state, int cleanup)
{
	rb.closed++;
	rb.cleanup = cleanup;
}

static int
rb_apply(void *state, const struct ueip_dp_mapping *m, const uint8_t *add, size_t n, char *why,
	 size_t why_size)
{
	if (rb.fail_next) {
		int rc = rb.fail_next;

		rb.fail_next = 0;
		snprintf(why, why_size, "injected failure");
		return rc;
	}
	rb.applies++;
	rb.nlast = n < 64 ? n : 64;
	memcpy(rb.last, m, rb.nlast * sizeof(*m));
	memcpy(rb.last_add, add, rb.nlast);
	return 0;
}

static const struct ueip_dp_ops rb_ops = {
	.name = "rec", .open = rb_open, .close = rb_close, .apply = rb_apply,
};

/* --- helpers -------------------------------------------------------------- */

static struct ueip_dp *
open_null(void)
{
	struct ueip_dp_config cfg = { .backend = "null" };
	struct ueip_dp *dp = NULL;
	char why[128];

	assert_int_equal(ueip_dp_open(&cfg, &dp, why, sizeof(why)), 0);
	assert_non_null(dp);
	return dp;
}

static struct ueip_dp *
open_rec(int cleanup)
{
	struct ueip_dp_config cfg = { .backend = "rec", .cleanup_on_stop = cleanup };
	struct ueip_dp *dp = NULL;
	char why[128];

	memset(&rb, 0, sizeof(rb));
	assert_int_equal(ueip_dp_open_ops(&rb_ops, &cfg, &dp, why, sizeof(why)), 0);
	return dp;
}

static struct ueip_dp_mapping
o2o(uint32_t in, uint32_t ext)
{
	struct ueip_dp_mapping m = { .kind = UEIP_DP_ONE_TO_ONE, .internal = in, .external = ext };

	return m;
}

static struct ueip_dp_mapping
port(uint8_t proto, uint32_t in, uint16_t iport, uint32_t ext, uint16_t eport)
{
	struct ueip_dp_mapping m = { .kind = UEIP_DP_PORT, .proto = proto, .internal = in,
				     .internal_port = iport, .external = ext,
				     .external_port = eport };

	return m;
}

static struct ueip_dp_mapping
peer(uint32_t in, uint16_t iport, uint32_t ext, uint16_t eport, uint32_t rem, uint16_t rport)
{
	struct ueip_dp_mapping m = port(IPPROTO_UDP, in, iport, ext, eport);

	m.kind = UEIP_DP_PEER;
	m.remote = rem;
	m.remote_port = rport;
	return m;
}

static int
commit(struct ueip_dp *dp)
{
	char why[256];

	return ueip_dp_commit(dp, why, sizeof(why));
}

static struct ueip_dp_stats
stats(struct ueip_dp *dp)
{
	struct ueip_dp_stats st;

	ueip_dp_stats(dp, &st);
	return st;
}

static int
count_cb(const struct ueip_dp_mapping *m, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static size_t
count_each(struct ueip_dp *dp)
{
	size_t n = 0;

	assert_int_equal(ueip_dp_each(dp, count_cb, &n), 0);
	return n;
}

/* --- tests ---------------------------------------------------------------- */

static void
test_open(void **state)
{
	struct ueip_dp_config cfg = { .backend = "bogus" };
	struct ueip_dp *dp = (void *)1;
	char why[128] = "";

	assert_int_equal(ueip_dp_open(&cfg, &dp, why, sizeof(why)), UEIP_EINVAL);
	assert_null(dp);
	assert_non_null(strstr(why, "bogus"));

	snprintf(cfg.backend, sizeof(cfg.backend), "null");
	snprintf(cfg.table, sizeof(cfg.table), "bad name;");
	assert_int_equal(ueip_dp_open(&cfg, &dp, why, sizeof(why)), UEIP_ECONFIG);
	assert_non_null(strstr(why, "bad name;"));
	snprintf(cfg.table, sizeof(cfg.table), "ueip_2");
	cfg.nat_priority_offset = 500;
	assert_int_equal(ueip_dp_open(&cfg, &dp, why, sizeof(why)), UEIP_ECONFIG);
	cfg.nat_priority_offset = -10;
	assert_int_equal(ueip_dp_open(&cfg, &dp, why, sizeof(why)), 0);
	assert_string_equal(ueip_dp_name(dp), "null");
	ueip_dp_close(dp);
	ueip_dp_close(NULL);

	dp = open_rec(1);
	assert_int_equal(rb.opened, 1);
	assert_string_equal(ueip_dp_name(dp), "rec");
	ueip_dp_close(dp);
	assert_int_equal(rb.closed, 1);
	assert_int_equal(rb.cleanup, 1);
}

static void
test_add_commit(void **state)
{
	struct ueip_dp *dp = open_null();
	struct ueip_dp_mapping m = o2o(A(100, 64, 0, 2), A(198, 51, 100, 7));
	struct ueip_dp_stats st;

	assert_int_equal(ueip_dp_add(dp, &m), 0);
	st = stats(dp);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.mappings, 0);
	assert_int_equal(count_each(dp), 0);	/* each shows what is installed */
	assert_int_equal(commit(dp), 0);
	st = stats(dp);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.mappings, 1);
	assert_int_equal(st.commits, 1);
	assert_int_equal(count_each(dp), 1);
	/* An empty commit does not reach the backend and is not counted. */
	assert_int_equal(commit(dp), 0);
	assert_int_equal(stats(dp).commits, 1);
	ueip_dp_close(dp);
}

static void
test_conflicts_one_to_one(void **state)
{
	struct ueip_dp *dp = open_null();
	struct ueip_dp_mapping m = o2o(A(100, 64, 0, 2), A(198, 51, 100, 7));
	struct ueip_dp_mapping same_in = o2o(A(100, 64, 0, 2), A(198, 51, 100, 8));
	struct ueip_dp_mapping same_ext = o2o(A(100, 64, 0, 3), A(198, 51, 100, 7));
	struct ueip_dp_mapping other = o2o(A(100, 64, 0, 3), A(198, 51, 100, 8));

	assert_int_equal(ueip_dp_add(dp, &m), 0);
	/* queued */
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_add(dp, &same_in), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_add(dp, &same_ext), UEIP_ECONFLICT);
	assert_int_equal(commit(dp), 0);
	/* installed */
	assert_int_equal(ueip_dp_add(dp, &same_in), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_add(dp, &same_ext), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_add(dp, &other), 0);
	/* a PORT mapping on a dedicated address is another kind of key */
	struct ueip_dp_mapping p = port(IPPROTO_TCP, A(100, 64, 0, 2), 80, A(198, 51, 100, 7), 80);
	assert_int_equal(ueip_dp_add(dp, &p), 0);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(stats(dp).mappings, 3);
	ueip_dp_close(dp);
}

static void
test_conflicts_port_peer(void **state)
{
	struct ueip_dp *dp = open_null();
	uint32_t ue = A(100, 64, 0, 3), ue2 = A(100, 64, 0, 4), pub = A(198, 51, 100, 1);
	uint32_t rem = A(192, 0, 2, 2);
	struct ueip_dp_mapping p = port(IPPROTO_TCP, ue, 80, pub, 8080);
	struct ueip_dp_mapping p_ext = port(IPPROTO_TCP, ue2, 81, pub, 8080);
	struct ueip_dp_mapping p_int = port(IPPROTO_TCP, ue, 80, pub, 8081);
	struct ueip_dp_mapping p_udp = port(IPPROTO_UDP, ue2, 81, pub, 8080);
	struct ueip_dp_mapping q1 = peer(ue, 5000, pub, 40000, rem, 6000);
	struct ueip_dp_mapping q2 = peer(ue, 5000, pub, 40000, rem, 6001);	/* other rport */
	struct ueip_dp_mapping q_in = peer(ue, 5000, pub, 40001, rem, 6000);
	struct ueip_dp_mapping q_ext = peer(ue2, 5000, pub, 40000, rem, 6000);

	assert_int_equal(ueip_dp_add(dp, &p), 0);
	assert_int_equal(ueip_dp_add(dp, &p_ext), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_add(dp, &p_int), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_add(dp, &p_udp), 0);		/* other protocol */
	assert_int_equal(ueip_dp_add(dp, &q1), 0);
	assert_int_equal(ueip_dp_add(dp, &q2), 0);
	assert_int_equal(ueip_dp_add(dp, &q_in), UEIP_ECONFLICT);	/* internal key */
	assert_int_equal(ueip_dp_add(dp, &q_ext), UEIP_ECONFLICT);	/* external key */
	assert_int_equal(commit(dp), 0);
	assert_int_equal(stats(dp).mappings, 4);
	assert_int_equal(ueip_dp_add(dp, &q_ext), UEIP_ECONFLICT);
	ueip_dp_close(dp);
}

static void
test_invalid(void **state)
{
	struct ueip_dp *dp = open_null();
	uint32_t ue = A(100, 64, 0, 3), pub = A(198, 51, 100, 1), rem = A(192, 0, 2, 2);
	struct ueip_dp_mapping m;

	m = o2o(ue, pub);
	m.kind = 9;
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = o2o(0, pub);
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = o2o(ue, pub);
	m.proto = IPPROTO_TCP;
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = port(IPPROTO_ICMP, ue, 80, pub, 80);
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = port(IPPROTO_TCP, ue, 0, pub, 80);
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = port(IPPROTO_TCP, ue, 80, pub, 0);
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = peer(ue, 5000, pub, 40000, 0, 6000);
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = peer(ue, 5000, pub, 40000, rem, 6000);
	m.nfilters = 1;		/* FILTER is for MAP only */
	m.filters[0].remote = rem;
	m.filters[0].prefix_len = 32;
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m = o2o(ue, pub);
	m.nfilters = UEIP_DP_FILTERS_MAX + 1;
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	m.nfilters = 1;
	m.filters[0].prefix_len = 33;
	assert_int_equal(ueip_dp_add(dp, &m), UEIP_EINVAL);
	assert_int_equal(stats(dp).queued, 0);
	assert_int_equal(ueip_dp_del(dp, &m), UEIP_EINVAL);
	ueip_dp_close(dp);
}

static void
test_del(void **state)
{
	struct ueip_dp *dp = open_rec(0);
	struct ueip_dp_mapping m = o2o(A(100, 64, 0, 2), A(198, 51, 100, 7));
	struct ueip_dp_mapping wrong = o2o(A(100, 64, 0, 2), A(198, 51, 100, 8));
	struct ueip_dp_mapping p = port(IPPROTO_TCP, A(100, 64, 0, 3), 80, A(198, 51, 100, 1), 80);

	assert_int_equal(ueip_dp_del(dp, &m), UEIP_ENOTFOUND);
	/* del of a queued add drops it: nothing reaches the backend */
	assert_int_equal(ueip_dp_add(dp, &m), 0);
	assert_int_equal(ueip_dp_del(dp, &m), 0);
	assert_int_equal(stats(dp).queued, 0);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(rb.applies, 0);
	assert_int_equal(ueip_dp_add(dp, &m), 0);
	assert_int_equal(ueip_dp_add(dp, &p), 0);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(rb.applies, 1);
	assert_int_equal(rb.nlast, 2);

	/* same key, other external: not this mapping */
	assert_int_equal(ueip_dp_del(dp, &wrong), UEIP_ENOTFOUND);
	/* unused fields are ignored */
	struct ueip_dp_mapping m_noise = m;
	m_noise.internal_port = 99;
	m_noise.remote = 1;
	assert_int_equal(ueip_dp_del(dp, &m_noise), 0);
	assert_int_equal(ueip_dp_del(dp, &m), UEIP_ENOTFOUND);	/* already queued */
	/* still installed until the commit */
	assert_int_equal(stats(dp).mappings, 2);
	assert_int_equal(count_each(dp), 2);
	/* its keys are free in the pending view */
	assert_int_equal(ueip_dp_add(dp, &wrong), 0);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(rb.nlast, 2);
	assert_false(rb.last_add[0]);		/* the delete comes first */
	assert_int_equal(rb.last[0].external, A(198, 51, 100, 7));
	assert_true(rb.last_add[1]);
	assert_int_equal(rb.last[1].external, A(198, 51, 100, 8));
	assert_int_equal(stats(dp).mappings, 2);
	ueip_dp_close(dp);
}

static void
test_readd_same(void **state)
{
	struct ueip_dp *dp = open_rec(0);
	struct ueip_dp_mapping m = o2o(A(100, 64, 0, 2), A(198, 51, 100, 7));
	struct ueip_dp_mapping f = m;

	f.nfilters = 1;
	f.filters[0].remote = A(192, 0, 2, 0);
	f.filters[0].prefix_len = 24;
	assert_int_equal(ueip_dp_add(dp, &m), 0);
	assert_int_equal(commit(dp), 0);
	/* change the filters: del + add of the same key, then del + add again */
	assert_int_equal(ueip_dp_del(dp, &m), 0);
	assert_int_equal(ueip_dp_add(dp, &f), 0);
	assert_int_equal(ueip_dp_add(dp, &f), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_del(dp, &f), 0);	/* cancels the add only */
	assert_int_equal(ueip_dp_del(dp, &f), UEIP_ENOTFOUND);
	assert_int_equal(ueip_dp_add(dp, &f), 0);
	assert_int_equal(stats(dp).queued, 2);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(rb.nlast, 2);
	assert_false(rb.last_add[0]);
	assert_int_equal(rb.last[0].nfilters, 0);
	assert_true(rb.last_add[1]);
	assert_int_equal(rb.last[1].nfilters, 1);
	assert_int_equal(rb.last[1].filters[0].prefix_len, 24);
	assert_int_equal(stats(dp).mappings, 1);
	ueip_dp_close(dp);
}

static void
test_commit_failure(void **state)
{
	struct ueip_dp *dp = open_rec(0);
	struct ueip_dp_mapping a = o2o(A(100, 64, 0, 2), A(198, 51, 100, 7));
	struct ueip_dp_mapping b = o2o(A(100, 64, 0, 3), A(198, 51, 100, 8));
	struct ueip_dp_stats st;
	char why[128] = "";

	assert_int_equal(ueip_dp_add(dp, &a), 0);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(ueip_dp_del(dp, &a), 0);
	assert_int_equal(ueip_dp_add(dp, &b), 0);
	rb.fail_next = -EEXIST;
	assert_int_equal(ueip_dp_commit(dp, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "injected failure");
	st = stats(dp);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.mappings, 1);
	assert_int_equal(st.commits, 2);
	assert_int_equal(st.commit_errors, 1);
	assert_int_equal(count_each(dp), 1);
	/* the pending view is unchanged: b still conflicts, a still deleted */
	assert_int_equal(ueip_dp_add(dp, &b), UEIP_ECONFLICT);
	assert_int_equal(ueip_dp_del(dp, &a), UEIP_ENOTFOUND);
	/* the retry hands over the same changes */
	assert_int_equal(commit(dp), 0);
	assert_int_equal(rb.nlast, 2);
	assert_int_equal(stats(dp).mappings, 1);
	assert_int_equal(stats(dp).queued, 0);
	ueip_dp_close(dp);
}

static void
test_discard(void **state)
{
	struct ueip_dp *dp = open_null();
	struct ueip_dp_mapping a = o2o(A(100, 64, 0, 2), A(198, 51, 100, 7));
	struct ueip_dp_mapping b = o2o(A(100, 64, 0, 3), A(198, 51, 100, 8));

	assert_int_equal(ueip_dp_add(dp, &a), 0);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(ueip_dp_del(dp, &a), 0);
	assert_int_equal(ueip_dp_add(dp, &b), 0);
	ueip_dp_discard(dp);
	assert_int_equal(stats(dp).queued, 0);
	assert_int_equal(stats(dp).mappings, 1);
	assert_int_equal(ueip_dp_add(dp, &a), UEIP_ECONFLICT);	/* a is back */
	assert_int_equal(ueip_dp_add(dp, &b), 0);		/* b is gone */
	assert_int_equal(ueip_dp_del(dp, &a), 0);
	assert_int_equal(commit(dp), 0);
	assert_int_equal(stats(dp).mappings, 1);
	ueip_dp_close(dp);
}

struct each_ctx {
	int seen_filters, visits, stop_at;
};

static int
each_cb(const struct ueip_dp_mapping *m, void *arg)
{
	struct each_ctx *c = arg;

	c->visits++;
	if (m->nfilters == 2 && m->filters[1].remote_port == 7777 &&
	    m->filters[1].prefix_len == 24)
		c->seen_filters++;
	return c->visits == c->stop_at ? 42 : 0;
}

static void
test_each(void **state)
{
	struct ueip_dp *dp = open_null();
	struct ueip_dp_mapping p = port(IPPROTO_TCP, A(100, 64, 0, 3), 80, A(198, 51, 100, 1), 80);
	struct each_ctx c = { 0 };

	p.nfilters = 2;
	p.filters[0].remote = A(192, 0, 2, 2);
	p.filters[0].prefix_len = 32;
	p.filters[1].remote = A(192, 0, 2, 0);
	p.filters[1].prefix_len = 24;
	p.filters[1].remote_port = 7777;
	assert_int_equal(ueip_dp_add(dp, &p), 0);
	for (uint32_t i = 0; i < 9; i++) {
		struct ueip_dp_mapping m = o2o(A(100, 64, 1, i + 1), A(198, 51, 100, 10 + i));
		assert_int_equal(ueip_dp_add(dp, &m), 0);
	}
	assert_int_equal(commit(dp), 0);
	assert_int_equal(ueip_dp_each(dp, each_cb, &c), 0);
	assert_int_equal(c.visits, 10);
	assert_int_equal(c.seen_filters, 1);
	c = (struct each_ctx){ .stop_at = 3 };
	assert_int_equal(ueip_dp_each(dp, each_cb, &c), 42);
	assert_int_equal(c.visits, 3);
	ueip_dp_close(dp);
}

/* Random operations against a plain model: installed and pending views. */
#define MODEL_N 4000

struct model {
	uint8_t installed[MODEL_N], pending[MODEL_N];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Mapping i of the model: a mix of the three kinds, keys distinct per i. */
static struct ueip_dp_mapping
model_mapping(unsigned i)
{
	uint32_t ue = A(100, 64, 0, 0) + i / 3, pub = A(198, 51, 100, 0) + i / 3;

	switch (i % 3) {
	case 0:
		return o2o(ue, pub);
	case 1:
		return port(IPPROTO_TCP, ue, 80, A(203, 0, 113, 1), (uint16_t)(1024 + i));
	default:
		return peer(ue, 5000, A(203, 0, 113, 2), (uint16_t)(1024 + i), A(192, 0, 2, 2),
			    6000);
	}
}

struct model_each {
	const struct model *mo;
	size_t visits, wrong;
};

static int
model_each_cb(const struct ueip_dp_mapping *m, void *arg)
{
	struct model_each *c = arg;
	unsigned i;

	c->visits++;
	/* recover i from the mapping */
	if (m->kind == UEIP_DP_ONE_TO_ONE)
		i = (m->internal - A(100, 64, 0, 0)) * 3;
	else
		i = m->external_port - 1024u;
	if (i >= MODEL_N || !c->mo->installed[i])
		c->wrong++;
	return 0;
}

static void
test_random_model(void **state)
{
	struct ueip_dp *dp = open_rec(0);
	struct model mo = { { 0 }, { 0 } };
	size_t n_installed = 0;

	for (int step = 0; step < 200000; step++) {
		unsigned i = (unsigned)(rng() % MODEL_N);
		struct ueip_dp_mapping m = model_mapping(i);
		unsigned op = (unsigned)(rng() % 100);

		if (op < 45) {
			assert_int_equal(ueip_dp_add(dp, &m), mo.pending[i] ? UEIP_ECONFLICT : 0);
			mo.pending[i] = 1;
		} else if (op < 90) {
			assert_int_equal(ueip_dp_del(dp, &m), mo.pending[i] ? 0 : UEIP_ENOTFOUND);
			mo.pending[i] = 0;
		} else if (op < 97) {
			if (op == 96)
				rb.fail_next = -ENOMEM;
			if (commit(dp) == 0)
				memcpy(mo.installed, mo.pending, sizeof(mo.pending));
		} else {
			ueip_dp_discard(dp);
			memcpy(mo.pending, mo.installed, sizeof(mo.pending));
		}
		if (step % 10000 == 0) {
			struct model_each c = { .mo = &mo };

			n_installed = 0;
			for (unsigned k = 0; k < MODEL_N; k++)
				n_installed += mo.installed[k];
			assert_int_equal(stats(dp).mappings, n_installed);
			assert_int_equal(ueip_dp_each(dp, model_each_cb, &c), 0);
			assert_int_equal(c.visits, n_installed);
			assert_int_equal(c.wrong, 0);
		}
	}
	ueip_dp_close(dp);
}

/* Many mappings: the index finds every one and deletes leave no trace. */
static void
test_many(void **state)
{
	struct ueip_dp *dp = open_null();
	enum { N = 200000 };

	for (uint32_t i = 0; i < N; i++) {
		struct ueip_dp_mapping m = o2o(A(100, 64, 0, 0) + i, A(10, 0, 0, 0) + i);
		assert_int_equal(ueip_dp_add(dp, &m), 0);
		if (i % 10000 == 9999)
			assert_int_equal(commit(dp), 0);
	}
	assert_int_equal(stats(dp).mappings, N);
	for (uint32_t i = 0; i < N; i += 2) {
		struct ueip_dp_mapping m = o2o(A(100, 64, 0, 0) + i, A(10, 0, 0, 0) + i);
		assert_int_equal(ueip_dp_del(dp, &m), 0);
	}
	assert_int_equal(commit(dp), 0);
	assert_int_equal(stats(dp).mappings, N / 2);
	assert_int_equal(count_each(dp), N / 2);
	for (uint32_t i = 0; i < N; i++) {
		struct ueip_dp_mapping m = o2o(A(100, 64, 0, 0) + i, A(10, 0, 0, 0) + i);
		assert_int_equal(ueip_dp_add(dp, &m), i % 2 ? UEIP_ECONFLICT : 0);
	}
	assert_int_equal(commit(dp), 0);
	assert_int_equal(stats(dp).mappings, N);
	ueip_dp_close(dp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_add_commit),
		cmocka_unit_test(test_conflicts_one_to_one),
		cmocka_unit_test(test_conflicts_port_peer),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_del),
		cmocka_unit_test(test_readd_same),
		cmocka_unit_test(test_commit_failure),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_many),
	};

	ueip_log_set_level(UEIP_LOG_ERR);	/* the injected failures warn */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
