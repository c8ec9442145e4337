// SPDX-License-Identifier: Apache-2.0
/*
 * store: what is committed is on disk in WAL mode and survives a reopen,
 * what was not committed does not; every table round-trips its rows; a
 * database from a newer ueipd is refused with a reason rather than damaged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "store/store.h"

struct fixture {
	char dir[256];
	char path[300];
	struct ueip_store *st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char why[256];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/ueip-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ueipd.db", f->dir);
	if (ueip_store_open(f->path, &f->st, why, sizeof(why))) {
		fprintf(stderr, "open: %s\n", why);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d;
	struct dirent *e;

	ueip_store_close(f->st);
	if ((d = opendir(f->dir))) {
		while ((e = readdir(d))) {
			char p[600];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
reopen(struct fixture *f)
{
	char why[256];

	ueip_store_close(f->st);
	f->st = NULL;
	if (ueip_store_open(f->path, &f->st, why, sizeof(why)))
		fail_msg("reopen: %s", why);
}

static struct ueip_store_session
session_of(unsigned supi, uint8_t psi, int v4, int v6)
{
	struct ueip_store_session r;
	struct ueip_set_session *s = &r.s;

	memset(&r, 0, sizeof(r));
	snprintf(s->key.supi, sizeof(s->key.supi), "imsi-0010100000%05u", supi);
	snprintf(s->key.dnn, sizeof(s->key.dnn), "internet");
	snprintf(s->key.snssai, sizeof(s->key.snssai), "1-000001");
	s->key.psi = psi;
	s->ip_type = v4 && v6 ? UEIP_IP_V4V6 : v4 ? UEIP_IP_V4 : UEIP_IP_V6;
	s->is_static = supi % 2;
	s->has_v4 = (uint8_t)v4;
	s->has_v6 = (uint8_t)v6;
	if (v4) {
		snprintf(s->v4_pool, sizeof(s->v4_pool), "p4");
		s->v4_index = supi;
		snprintf(r.v4_addr, sizeof(r.v4_addr), "10.0.%u.%u", supi / 256, supi % 256);
	}
	if (v6) {
		snprintf(s->v6_pool, sizeof(s->v6_pool), "p6");
		s->v6_index = 0xffffffffULL - supi;
		snprintf(r.v6_prefix, sizeof(r.v6_prefix), "2001:db8:%x::/64", supi);
	}
	s->alloc_id = 0xfedcba9876543210ULL + supi;	/* top bit set: stored as negative */
	s->gen = 3;
	s->created_ms = 1700000000000LL + supi;
	snprintf(s->prev, sizeof(s->prev), supi % 3 ? "smf2" : "");
	return r;
}

static void
assert_store_session_equal(const struct ueip_store_session *a, const struct ueip_store_session *b)
{
	assert_string_equal(a->s.key.supi, b->s.key.supi);
	assert_string_equal(a->s.key.dnn, b->s.key.dnn);
	assert_string_equal(a->s.key.snssai, b->s.key.snssai);
	assert_int_equal(a->s.key.psi, b->s.key.psi);
	assert_int_equal(a->s.ip_type, b->s.ip_type);
	assert_int_equal(a->s.is_static, b->s.is_static);
	assert_int_equal(a->s.has_v4, b->s.has_v4);
	assert_int_equal(a->s.has_v6, b->s.has_v6);
	assert_string_equal(a->s.v4_pool, b->s.v4_pool);
	assert_string_equal(a->s.v6_pool, b->s.v6_pool);
	assert_int_equal(a->s.v4_index, b->s.v4_index);
	assert_int_equal(a->s.v6_index, b->s.v6_index);
	assert_string_equal(a->v4_addr, b->v4_addr);
	assert_string_equal(a->v6_prefix, b->v6_prefix);
	assert_int_equal(a->s.alloc_id, b->s.alloc_id);
	assert_int_equal(a->s.gen, b->s.gen);
	assert_int_equal(a->s.created_ms, b->s.created_ms);
	assert_string_equal(a->s.prev, b->s.prev);
}

/* Collects sessions in visit order. */
struct collect {
	struct ueip_store_session rows[64];
	unsigned n;
	unsigned stop_after;
};

static int
collect_session(const struct ueip_store_session *s, void *arg)
{
	struct collect *c = arg;

	assert_true(c->n < 64);
	c->rows[c->n++] = *s;
	return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static const struct ueip_store_session *
find_row(const struct collect *c, const struct ueip_session_key *k)
{
	for (unsigned i = 0; i < c->n; i++)
		if (ueip_session_key_equal(&c->rows[i].s.key, k))
			return &c->rows[i];
	return NULL;
}

static void
test_wal_mode(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *q;

	ueip_store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'",
					    -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), UEIP_STORE_SCHEMA_VERSION);
	sqlite3_finalize(q);
	sqlite3_close(db);
	reopen(f);	/* an existing database opens again */
}

static void
test_session_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct ueip_store_session a = session_of(1, 1, 1, 0), b = session_of(2, 5, 0, 1),
				  c = session_of(3, 15, 1, 1);
	struct collect got = { .n = 0 };

	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 0);
	assert_int_equal(got.n, 0);
	assert_int_equal(ueip_store_session_put(f->st, &a), 0);
	assert_int_equal(ueip_store_session_put(f->st, &b), 0);
	assert_int_equal(ueip_store_session_put(f->st, &c), 0);
	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 0);
	assert_int_equal(got.n, 3);
	assert_store_session_equal(find_row(&got, &a.s.key), &a);
	assert_store_session_equal(find_row(&got, &b.s.key), &b);
	assert_store_session_equal(find_row(&got, &c.s.key), &c);

	/* Put of an existing key replaces it (a new controller generation). */
	c.s.gen = 4;
	snprintf(c.s.prev, sizeof(c.s.prev), "smf3");
	c.s.has_v6 = 0;
	c.s.v6_pool[0] = '\0';
	c.s.v6_index = 0;
	c.v6_prefix[0] = '\0';
	assert_int_equal(ueip_store_session_put(f->st, &c), 0);
	got.n = 0;
	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 0);
	assert_int_equal(got.n, 3);
	assert_store_session_equal(find_row(&got, &c.s.key), &c);

	/* Delete one; deleting an absent key is not an error. */
	assert_int_equal(ueip_store_session_del(f->st, &a.s.key), 0);
	assert_int_equal(ueip_store_session_del(f->st, &a.s.key), 0);
	reopen(f);
	got.n = 0;
	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 0);
	assert_int_equal(got.n, 2);
	assert_null(find_row(&got, &a.s.key));
	assert_store_session_equal(find_row(&got, &b.s.key), &b);
	assert_store_session_equal(find_row(&got, &c.s.key), &c);

	/* A visitor's non-zero return stops the walk and is returned. */
	got.n = 0;
	got.stop_after = 1;
	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 7);
	assert_int_equal(got.n, 1);
	/* ...and the statement was reset: a full walk works again. */
	got.n = 0;
	got.stop_after = 0;
	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 0);
	assert_int_equal(got.n, 2);
}

static int
key_cmp(const struct ueip_session_key *a, const struct ueip_session_key *b)
{
	int c = strcmp(a->supi, b->supi);

	if (!c)
		c = strcmp(a->dnn, b->dnn);
	if (!c)
		c = strcmp(a->snssai, b->snssai);
	return c ? c : (int)a->psi - (int)b->psi;
}

static void
test_list_paging(void **state)
{
	struct fixture *f = *state;
	struct collect page;
	struct ueip_session_key after;
	unsigned total = 0, pages = 0;
	struct ueip_store_session prev;

	/* 10 subscribers x psi {1, 2, 10}: psi 10 sorts after 2 (numeric, not text). */
	for (unsigned s = 0; s < 10; s++) {
		static const uint8_t psis[] = { 10, 1, 2 };
		for (unsigned p = 0; p < 3; p++) {
			struct ueip_store_session r = session_of(90 - s * 7, psis[p], 1, 0);
			r.s.v4_index = s * 3 + p;	/* distinct payload */
			assert_int_equal(ueip_store_session_put(f->st, &r), 0);
		}
	}
	memset(&prev, 0, sizeof(prev));
	for (;;) {
		memset(&page, 0, sizeof(page));
		assert_int_equal(ueip_store_list_sessions(f->st, total ? &after : NULL, 7,
							  collect_session, &page), 0);
		if (page.n == 0)
			break;
		pages++;
		assert_true(page.n <= 7);
		for (unsigned i = 0; i < page.n; i++) {
			if (total || i)
				assert_true(key_cmp(&prev.s.key, &page.rows[i].s.key) < 0);
			prev = page.rows[i];
			total++;
		}
		after = page.rows[page.n - 1].s.key;
	}
	assert_int_equal(total, 30);
	assert_int_equal(pages, 5);	/* 7 + 7 + 7 + 7 + 2 */

	/* After a key that is not stored: the next one in order. */
	memset(&page, 0, sizeof(page));
	after = session_of(27, 3, 1, 0).s.key;	/* between psi 2 and psi 10 of the first supi */
	assert_int_equal(ueip_store_list_sessions(f->st, &after, 2, collect_session, &page), 0);
	assert_int_equal(page.n, 2);
	assert_string_equal(page.rows[0].s.key.supi, after.supi);
	assert_int_equal(page.rows[0].s.key.psi, 10);
	assert_int_equal(page.rows[0].s.v4_index, 27);	/* s = 9, p = 0 */
	assert_int_not_equal(strcmp(page.rows[1].s.key.supi, after.supi), 0);

	/* Limit 0 returns nothing; after the last key returns nothing. */
	memset(&page, 0, sizeof(page));
	assert_int_equal(ueip_store_list_sessions(f->st, NULL, 0, collect_session, &page), 0);
	assert_int_equal(page.n, 0);
	after = prev.s.key;
	assert_int_equal(ueip_store_list_sessions(f->st, &after, 10, collect_session, &page), 0);
	assert_int_equal(page.n, 0);
}

/* ---- lent, quarantine, outbox ---- */

struct unit_row {
	char pool[UEIP_NAME_MAX];
	uint64_t idx;
	int64_t third;
	int64_t id;
};

struct unit_rows {
	struct unit_row r[16];
	unsigned n;
};

static int
collect_lent(const char *pool, uint64_t idx, uint64_t alloc_id, void *arg)
{
	struct unit_rows *c = arg;

	assert_true(c->n < 16);
	snprintf(c->r[c->n].pool, sizeof(c->r[c->n].pool), "%s", pool);
	c->r[c->n].idx = idx;
	c->r[c->n].third = (int64_t)alloc_id;
	c->n++;
	return 0;
}

static int
collect_quar(const char *pool, uint64_t idx, int64_t until_ms, void *arg)
{
	return collect_lent(pool, idx, (uint64_t)until_ms, arg);
}

static int
collect_outbox(int64_t id, const struct ueip_set_unit *u, void *arg)
{
	struct unit_rows *c = arg;

	collect_lent(u->pool, u->index, u->alloc_id, arg);
	c->r[c->n - 1].id = id;
	return 0;
}

static const struct unit_row *
unit_find(const struct unit_rows *c, const char *pool, uint64_t idx)
{
	for (unsigned i = 0; i < c->n; i++)
		if (!strcmp(c->r[i].pool, pool) && c->r[i].idx == idx)
			return &c->r[i];
	return NULL;
}

static void
test_lent(void **state)
{
	struct fixture *f = *state;
	struct unit_rows c = { .n = 0 };

	assert_int_equal(ueip_store_lent_put(f->st, "p4", 5, UINT64_MAX - 1), 0);
	assert_int_equal(ueip_store_lent_put(f->st, "p4", 6, 1), 0);
	assert_int_equal(ueip_store_lent_put(f->st, "p6", 5, 2), 0);
	assert_int_equal(ueip_store_lent_put(f->st, "p6", 5, 3), 0);	/* replaces */
	assert_int_equal(ueip_store_each_lent(f->st, collect_lent, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal((uint64_t)unit_find(&c, "p4", 5)->third, UINT64_MAX - 1);
	assert_int_equal(unit_find(&c, "p4", 6)->third, 1);
	assert_int_equal(unit_find(&c, "p6", 5)->third, 3);

	assert_int_equal(ueip_store_lent_del(f->st, "p4", 5), 0);
	assert_int_equal(ueip_store_lent_del(f->st, "p4", 99), 0);
	reopen(f);
	c.n = 0;
	assert_int_equal(ueip_store_each_lent(f->st, collect_lent, &c), 0);
	assert_int_equal(c.n, 2);
	assert_null(unit_find(&c, "p4", 5));
	assert_non_null(unit_find(&c, "p4", 6));
	assert_non_null(unit_find(&c, "p6", 5));
}

static void
test_quarantine(void **state)
{
	struct fixture *f = *state;
	struct unit_rows c = { .n = 0 };

	assert_int_equal(ueip_store_quar_put(f->st, "p4", 1, 999), 0);
	assert_int_equal(ueip_store_quar_put(f->st, "p4", 2, 1000), 0);
	assert_int_equal(ueip_store_quar_put(f->st, "p4", 3, 1001), 0);
	assert_int_equal(ueip_store_quar_put(f->st, "p6", 1, 5000), 0);
	assert_int_equal(ueip_store_quar_put(f->st, "p6", 2, 6000), 0);
	assert_int_equal(ueip_store_each_quar(f->st, collect_quar, &c), 0);
	assert_int_equal(c.n, 5);
	assert_int_equal(unit_find(&c, "p6", 1)->third, 5000);

	assert_int_equal(ueip_store_quar_del(f->st, "p6", 2), 0);
	/* At 1000: what was due by then goes (ipam frees until_ms <= now), the rest stays. */
	assert_int_equal(ueip_store_quar_expire(f->st, 1000), 0);
	c.n = 0;
	assert_int_equal(ueip_store_each_quar(f->st, collect_quar, &c), 0);
	assert_int_equal(c.n, 2);
	assert_null(unit_find(&c, "p4", 1));
	assert_null(unit_find(&c, "p4", 2));
	assert_int_equal(unit_find(&c, "p4", 3)->third, 1001);
	assert_int_equal(unit_find(&c, "p6", 1)->third, 5000);
	/* Nothing due: nothing goes. */
	assert_int_equal(ueip_store_quar_expire(f->st, 1000), 0);
	c.n = 0;
	assert_int_equal(ueip_store_each_quar(f->st, collect_quar, &c), 0);
	assert_int_equal(c.n, 2);
}

static void
test_outbox(void **state)
{
	struct fixture *f = *state;
	struct unit_rows c = { .n = 0 };
	struct ueip_set_unit u;
	int64_t id[3];

	memset(&u, 0, sizeof(u));
	for (unsigned i = 0; i < 3; i++) {
		snprintf(u.pool, sizeof(u.pool), "p%u", i);
		u.index = 100 + i;
		u.alloc_id = 0x8000000000000000ULL | i;
		assert_int_equal(ueip_store_outbox_put(f->st, &u, &id[i]), 0);
		if (i)
			assert_true(id[i] > id[i - 1]);
	}
	assert_int_equal(ueip_store_each_outbox(f->st, collect_outbox, &c), 0);
	assert_int_equal(c.n, 3);
	for (unsigned i = 0; i < 3; i++) {	/* in insertion order */
		char pool[8];
		snprintf(pool, sizeof(pool), "p%u", i);
		assert_string_equal(c.r[i].pool, pool);
		assert_int_equal(c.r[i].idx, 100 + i);
		assert_int_equal((uint64_t)c.r[i].third, 0x8000000000000000ULL | i);
		assert_int_equal(c.r[i].id, id[i]);
	}
	assert_int_equal(ueip_store_outbox_del(f->st, id[1]), 0);
	reopen(f);
	c.n = 0;
	assert_int_equal(ueip_store_each_outbox(f->st, collect_outbox, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.r[0].id, id[0]);
	assert_int_equal(c.r[1].id, id[2]);
}

static void
test_meta(void **state)
{
	struct fixture *f = *state;
	char out[64], small[4];

	assert_int_equal(ueip_store_meta_get(f->st, "member_id", out, sizeof(out)), UEIP_ENOTFOUND);
	assert_int_equal(ueip_store_meta_set(f->st, "member_id", "smf1"), 0);
	assert_int_equal(ueip_store_meta_set(f->st, "incarnation", "17"), 0);
	assert_int_equal(ueip_store_meta_get(f->st, "member_id", out, sizeof(out)), 0);
	assert_string_equal(out, "smf1");
	assert_int_equal(ueip_store_meta_set(f->st, "member_id", "smf9"), 0);
	reopen(f);
	assert_int_equal(ueip_store_meta_get(f->st, "member_id", out, sizeof(out)), 0);
	assert_string_equal(out, "smf9");
	assert_int_equal(ueip_store_meta_get(f->st, "incarnation", out, sizeof(out)), 0);
	assert_string_equal(out, "17");
	/* A short buffer gets a truncated, terminated value. */
	assert_int_equal(ueip_store_meta_get(f->st, "member_id", small, sizeof(small)), 0);
	assert_string_equal(small, "smf");
	assert_int_equal(ueip_store_meta_get(f->st, "schema_version", out, sizeof(out)), 0);
	assert_string_equal(out, "2");
}

static int
collect_mapping(const struct ueip_mapping *m, void *arg)
{
	struct ueip_mapping *out = arg;

	out[out[0].id ? 1 : 0] = *m;
	return 0;
}

static void
test_mappings(void **state)
{
	struct fixture *f = *state;
	struct ueip_mapping m = { .id = 7, .kind = UEIP_MAP_PORT, .via = UEIP_VIA_PCP, .proto = 6,
				  .internal = 0x64400002, .internal_port = 8080, .external = 0xC6336407,
				  .external_port = 20001, .expires_ms = 123456789, .created_ms = 5,
				  .client = 0x64400002, .client_port = 40000, .nfilters = 1 };
	struct ueip_mapping got[2] = { { 0 } };

	memcpy(m.nonce, "abcdefghijkl", 12);
	snprintf(m.ue.supi, sizeof(m.ue.supi), "imsi-001010000000001");
	snprintf(m.ue.dnn, sizeof(m.ue.dnn), "internet");
	snprintf(m.ue.snssai, sizeof(m.ue.snssai), "1");
	m.ue.psi = 1;
	m.filters[0] = (struct ueip_mapping_filter){ 0xC0000200, 24, 443 };
	assert_int_equal(ueip_store_begin(f->st), 0);
	assert_int_equal(ueip_store_mapping_put(f->st, &m), 0);
	m.expires_ms = 999;
	assert_int_equal(ueip_store_mapping_renew(f->st, &m), 0);
	assert_int_equal(ueip_store_pcp_client_put(f->st, m.client, m.client_port, UEIP_VIA_PCP), 0);
	assert_int_equal(ueip_store_commit(f->st), 0);
	assert_int_equal(ueip_store_each_mapping(f->st, collect_mapping, got), 0);
	assert_int_equal(got[0].id, 7);
	assert_int_equal(got[0].expires_ms, 999);
	assert_int_equal(got[0].external_port, 20001);
	assert_memory_equal(got[0].nonce, "abcdefghijkl", 12);
	assert_string_equal(got[0].ue.supi, "imsi-001010000000001");
	assert_int_equal(got[0].nfilters, 1);
	assert_int_equal(got[0].filters[0].remote_port, 443);
	assert_int_equal(got[1].id, 0);
	assert_int_equal(ueip_store_begin(f->st), 0);
	assert_int_equal(ueip_store_mapping_del(f->st, 7), 0);
	assert_int_equal(ueip_store_commit(f->st), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(ueip_store_each_mapping(f->st, collect_mapping, got), 0);
	assert_int_equal(got[0].id, 0);
}

static void
test_batch_committed(void **state)
{
	struct fixture *f = *state;
	struct ueip_store_session s = session_of(7, 1, 1, 0);
	struct collect got = { .n = 0 };
	struct unit_rows c = { .n = 0 };
	char out[16];

	assert_false(ueip_store_in_batch(f->st));
	assert_int_equal(ueip_store_begin(f->st), 0);
	assert_true(ueip_store_in_batch(f->st));
	assert_int_equal(ueip_store_begin(f->st), 0);	/* nested begin joins the batch */
	assert_int_equal(ueip_store_session_put(f->st, &s), 0);
	assert_int_equal(ueip_store_lent_put(f->st, "p4", 1, 2), 0);
	assert_int_equal(ueip_store_meta_set(f->st, "epoch", "3"), 0);
	assert_int_equal(ueip_store_commit(f->st), 0);
	assert_false(ueip_store_in_batch(f->st));
	assert_int_equal(ueip_store_commit(f->st), 0);	/* commit outside a batch: no-op */
	reopen(f);
	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 0);
	assert_int_equal(got.n, 1);
	assert_store_session_equal(&got.rows[0], &s);
	assert_int_equal(ueip_store_each_lent(f->st, collect_lent, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(ueip_store_meta_get(f->st, "epoch", out, sizeof(out)), 0);
	assert_string_equal(out, "3");
}

static void
test_batch_uncommitted_lost(void **state)
{
	struct fixture *f = *state;
	struct ueip_store_session kept = session_of(1, 1, 1, 0), lost = session_of(2, 1, 1, 0);
	struct collect got = { .n = 0 };
	struct unit_rows c = { .n = 0 };
	struct ueip_set_unit u = { "p4", 9, 9, 0 };
	int64_t id;
	char out[16];

	assert_int_equal(ueip_store_session_put(f->st, &kept), 0);	/* autocommit */
	assert_int_equal(ueip_store_begin(f->st), 0);
	assert_int_equal(ueip_store_session_put(f->st, &lost), 0);
	assert_int_equal(ueip_store_session_del(f->st, &kept.s.key), 0);
	assert_int_equal(ueip_store_quar_put(f->st, "p4", 3, 100), 0);
	assert_int_equal(ueip_store_outbox_put(f->st, &u, &id), 0);
	assert_int_equal(ueip_store_meta_set(f->st, "epoch", "4"), 0);
	/* The process dies before the commit. */
	reopen(f);
	assert_int_equal(ueip_store_each_session(f->st, collect_session, &got), 0);
	assert_int_equal(got.n, 1);
	assert_store_session_equal(&got.rows[0], &kept);
	assert_int_equal(ueip_store_each_quar(f->st, collect_quar, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(ueip_store_each_outbox(f->st, collect_outbox, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(ueip_store_meta_get(f->st, "epoch", out, sizeof(out)), UEIP_ENOTFOUND);
	assert_false(ueip_store_in_batch(f->st));
}

static void
set_schema_version(const char *path, const char *version)
{
	sqlite3 *db;
	char sql[128];

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE meta SET value='%s' WHERE key='schema_version'", version);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct ueip_store *st = (void *)1;
	char why[256] = "";
	char out[16];

	ueip_store_close(f->st);
	f->st = NULL;
	set_schema_version(f->path, "3");
	assert_int_equal(ueip_store_open(f->path, &st, why, sizeof(why)), UEIP_ESTORE);
	assert_null(st);
	assert_non_null(strstr(why, "schema version 3"));
	assert_non_null(strstr(why, "newer"));
	/* The refused file is left as it was, so the newer ueipd can still use it. */
	set_schema_version(f->path, "2");
	reopen(f);
	assert_int_equal(ueip_store_meta_get(f->st, "schema_version", out, sizeof(out)), 0);
	assert_string_equal(out, "2");
}

static void
test_open_failure(void **state)
{
	struct fixture *f = *state;
	struct ueip_store *st = (void *)1;
	char why[512] = "", path[400];

	/* A directory that does not exist: refused with the path in why. */
	snprintf(path, sizeof(path), "%s/missing/ueipd.db", f->dir);
	assert_int_equal(ueip_store_open(path, &st, why, sizeof(why)), UEIP_ESTORE);
	assert_null(st);
	assert_non_null(strstr(why, path));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_wal_mode),
		T(test_session_roundtrip),
		T(test_list_paging),
		T(test_lent),
		T(test_quarantine),
		T(test_outbox),
		T(test_mappings),
		T(test_meta),
		T(test_batch_committed),
		T(test_batch_uncommitted_lost),
		T(test_newer_schema_refused),
		T(test_open_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
