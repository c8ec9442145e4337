// SPDX-License-Identifier: Apache-2.0
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "store/store.h"

/* Every statement the store runs, prepared once; one table so none is forgotten. */
#define STORE_STMTS(X)                                                                   \
	X(META_SET, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")            \
	X(META_GET, "SELECT value FROM meta WHERE key = ?1")                              \
	X(SESSION_PUT, "INSERT OR REPLACE INTO sessions(supi, dnn, snssai, psi, ip_type," \
		       " is_static, v4_pool, v4_index, v4_addr, v6_pool, v6_index,"       \
		       " v6_prefix, alloc_id, gen, created_ms, prev, unconfirmed) VALUES" \
		       " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)")   \
	X(SESSION_DEL, "DELETE FROM sessions WHERE supi=?1 AND dnn=?2 AND snssai=?3 AND psi=?4") \
	X(SESSION_ALL, "SELECT supi, dnn, snssai, psi, ip_type, is_static, v4_pool,"      \
		       " v4_index, v4_addr, v6_pool, v6_index, v6_prefix, alloc_id, gen,"  \
		       " created_ms, prev, unconfirmed FROM sessions")                     \
	X(SESSION_PAGE, "SELECT supi, dnn, snssai, psi, ip_type, is_static, v4_pool,"     \
			" v4_index, v4_addr, v6_pool, v6_index, v6_prefix, alloc_id, gen," \
			" created_ms, prev, unconfirmed FROM sessions WHERE"                \
			" (supi, dnn, snssai, psi) >"                                       \
			" (?1, ?2, ?3, ?4) ORDER BY supi, dnn, snssai, psi LIMIT ?5")       \
	X(LENT_PUT, "INSERT OR REPLACE INTO lent(pool, idx, alloc_id) VALUES (?1, ?2, ?3)") \
	X(LENT_DEL, "DELETE FROM lent WHERE pool = ?1 AND idx = ?2")                      \
	X(LENT_ALL, "SELECT pool, idx, alloc_id FROM lent")                               \
	X(QUAR_PUT, "INSERT OR REPLACE INTO quarantine(pool, idx, until_ms) VALUES (?1, ?2, ?3)") \
	X(QUAR_DEL, "DELETE FROM quarantine WHERE pool = ?1 AND idx = ?2")                \
	X(QUAR_EXPIRE, "DELETE FROM quarantine WHERE until_ms <= ?1")                     \
	X(QUAR_ALL, "SELECT pool, idx, until_ms FROM quarantine")                         \
	X(OUTBOX_PUT, "INSERT INTO outbox(pool, idx, alloc_id) VALUES (?1, ?2, ?3)")       \
	X(OUTBOX_DEL, "DELETE FROM outbox WHERE id = ?1")                                 \
	X(OUTBOX_ALL, "SELECT id, pool, idx, alloc_id FROM outbox ORDER BY id")           \
	X(MAP_PUT, "INSERT OR REPLACE INTO pcp_mappings(id, kind, via, proto, internal,"   \
		   " internal_port, external, external_port, remote, remote_port, nonce,"  \
		   " expires_ms, created_ms, client, client_port, third_party, supi, dnn,"  \
		   " snssai, psi, filters) VALUES"                                          \
		   " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21)") \
	X(MAP_RENEW, "UPDATE pcp_mappings SET expires_ms = ?2, client = ?3, client_port = ?4" \
		     " WHERE id = ?1")                                                     \
	X(MAP_DEL, "DELETE FROM pcp_mappings WHERE id = ?1")                               \
	X(MAP_ALL, "SELECT id, kind, via, proto, internal, internal_port, external,"       \
		   " external_port, remote, remote_port, nonce, expires_ms, created_ms, client," \
		   " client_port, third_party, supi, dnn, snssai, psi, filters FROM pcp_mappings") \
	X(CLIENT_PUT, "INSERT OR REPLACE INTO pcp_clients(address, port, via) VALUES (?1, ?2, ?3)") \
	X(CLIENT_DEL_ALL, "DELETE FROM pcp_clients")                                       \
	X(CLIENT_ALL, "SELECT address, port, via FROM pcp_clients")                        \
	X(BEGIN, "BEGIN IMMEDIATE")                                                       \
	X(COMMIT, "COMMIT")

enum store_stmt {
#define STORE_STMT_ENUM(name, sql) ST_##name,
	STORE_STMTS(STORE_STMT_ENUM)
#undef STORE_STMT_ENUM
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
#define STORE_STMT_SQL(name, sql) sql,
	STORE_STMTS(STORE_STMT_SQL)
#undef STORE_STMT_SQL
};

static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sessions("
	" supi TEXT NOT NULL, dnn TEXT NOT NULL, snssai TEXT NOT NULL, psi INTEGER NOT NULL,"
	" ip_type INTEGER NOT NULL, is_static INTEGER NOT NULL,"
	" v4_pool TEXT, v4_index INTEGER, v4_addr TEXT,"
	" v6_pool TEXT, v6_index INTEGER, v6_prefix TEXT,"
	" alloc_id INTEGER NOT NULL, gen INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	" prev TEXT NOT NULL DEFAULT '', unconfirmed INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (supi, dnn, snssai, psi)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS lent(pool TEXT NOT NULL, idx INTEGER NOT NULL,"
	" alloc_id INTEGER NOT NULL, PRIMARY KEY (pool, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS quarantine(pool TEXT NOT NULL, idx INTEGER NOT NULL,"
	" until_ms INTEGER NOT NULL, PRIMARY KEY (pool, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY, pool TEXT NOT NULL,"
	" idx INTEGER NOT NULL, alloc_id INTEGER NOT NULL);"
	"INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '1');";

/* v2: public mappings (PCP/NAT-PMP) and the clients to tell after a state loss. */
static const char schema_v2[] =
	"CREATE TABLE IF NOT EXISTS pcp_mappings(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
	" via INTEGER NOT NULL, proto INTEGER NOT NULL, internal INTEGER NOT NULL,"
	" internal_port INTEGER NOT NULL, external INTEGER NOT NULL,"
	" external_port INTEGER NOT NULL, remote INTEGER NOT NULL, remote_port INTEGER NOT NULL,"
	" nonce BLOB NOT NULL, expires_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	" client INTEGER NOT NULL, client_port INTEGER NOT NULL, third_party INTEGER NOT NULL,"
	" supi TEXT NOT NULL, dnn TEXT NOT NULL, snssai TEXT NOT NULL, psi INTEGER NOT NULL,"
	" filters BLOB);"
	"CREATE TABLE IF NOT EXISTS pcp_clients(address INTEGER PRIMARY KEY, port INTEGER NOT NULL,"
	" via INTEGER NOT NULL);"
	"INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '2');";

struct ueip_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	int in_batch;
};

const char *
ueip_store_errmsg(struct ueip_store *st)
{
	return sqlite3_errmsg(st->db);
}

static int
store_fail(struct ueip_store *st, const char *what)
{
	ueip_log_err("store", "%s: %s", what, sqlite3_errmsg(st->db));
	return UEIP_ESTORE;
}

static int
store_migrate(struct ueip_store *st, char *why, size_t why_size)
{
	char version[16] = "0";
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &q,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			snprintf(version, sizeof(version), "%s", (const char *)sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
	}
	if (strcmp(version, "0") != 0 && strcmp(version, "1") != 0 && strcmp(version, "2") != 0) {
		snprintf(why, why_size, "store schema version %s is newer than this ueipd (%d)",
			 version, UEIP_STORE_SCHEMA_VERSION);
		return UEIP_ESTORE;
	}
	if (sqlite3_exec(st->db, schema_v1, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, schema_v2, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, why_size, "creating schema: %s", sqlite3_errmsg(st->db));
		return UEIP_ESTORE;
	}
	return 0;
}

int
ueip_store_open(const char *path, struct ueip_store **out, char *why, size_t why_size)
{
	struct ueip_store *st = calloc(1, sizeof(*st));
	const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			      " PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;"
			      " PRAGMA wal_autocheckpoint=4000;";

	*out = NULL;
	if (!st)
		return UEIP_ENOMEM;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, why_size, "opening %s: %s", path, sqlite3_errmsg(st->db));
		ueip_store_close(st);
		return UEIP_ESTORE;
	}
	if (store_migrate(st, why, why_size)) {
		ueip_store_close(st);
		return UEIP_ESTORE;
	}
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->stmt[i], NULL) != SQLITE_OK) {
			snprintf(why, why_size, "preparing statement %d: %s", i, sqlite3_errmsg(st->db));
			ueip_store_close(st);
			return UEIP_ESTORE;
		}
	}
	*out = st;
	return 0;
}

void
ueip_store_close(struct ueip_store *st)
{
	if (!st)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st);
}

/* Run a prepared write statement to completion and reset it. */
static int
run(struct ueip_store *st, enum store_stmt id)
{
	int rc = sqlite3_step(st->stmt[id]);

	sqlite3_reset(st->stmt[id]);
	sqlite3_clear_bindings(st->stmt[id]);
	if (rc != SQLITE_DONE)
		return store_fail(st, stmt_sql[id]);
	return 0;
}

static sqlite3_stmt *
S(struct ueip_store *st, enum store_stmt id)
{
	return st->stmt[id];
}

static void
bind_text(sqlite3_stmt *q, int i, const char *s)
{
	sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
}

int
ueip_store_begin(struct ueip_store *st)
{
	if (st->in_batch)
		return 0;
	if (run(st, ST_BEGIN))
		return UEIP_ESTORE;
	st->in_batch = 1;
	return 0;
}

int
ueip_store_commit(struct ueip_store *st)
{
	if (!st->in_batch)
		return 0;
	st->in_batch = 0;
	return run(st, ST_COMMIT);
}

int
ueip_store_in_batch(const struct ueip_store *st)
{
	return st->in_batch;
}

int
ueip_store_meta_set(struct ueip_store *st, const char *key, const char *value)
{
	bind_text(S(st, ST_META_SET), 1, key);
	bind_text(S(st, ST_META_SET), 2, value);
	return run(st, ST_META_SET);
}

int
ueip_store_meta_get(struct ueip_store *st, const char *key, char *out, size_t size)
{
	sqlite3_stmt *q = S(st, ST_META_GET);
	int rc;

	bind_text(q, 1, key);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? UEIP_ENOTFOUND : store_fail(st, "meta get");
}

static void
bind_key(sqlite3_stmt *q, const struct ueip_session_key *key)
{
	bind_text(q, 1, key->supi);
	bind_text(q, 2, key->dnn);
	bind_text(q, 3, key->snssai);
	sqlite3_bind_int(q, 4, key->psi);
}

int
ueip_store_session_put(struct ueip_store *st, const struct ueip_store_session *r)
{
	sqlite3_stmt *q = S(st, ST_SESSION_PUT);
	const struct ueip_set_session *s = &r->s;

	bind_key(q, &s->key);
	sqlite3_bind_int(q, 5, s->ip_type);
	sqlite3_bind_int(q, 6, s->is_static);
	if (s->has_v4) {
		bind_text(q, 7, s->v4_pool);
		sqlite3_bind_int64(q, 8, (sqlite3_int64)s->v4_index);
		bind_text(q, 9, r->v4_addr);
	}
	if (s->has_v6) {
		bind_text(q, 10, s->v6_pool);
		sqlite3_bind_int64(q, 11, (sqlite3_int64)s->v6_index);
		bind_text(q, 12, r->v6_prefix);
	}
	sqlite3_bind_int64(q, 13, (sqlite3_int64)s->alloc_id);
	sqlite3_bind_int64(q, 14, (sqlite3_int64)s->gen);
	sqlite3_bind_int64(q, 15, s->created_ms);
	bind_text(q, 16, s->prev);
	sqlite3_bind_int(q, 17, r->unconfirmed);
	return run(st, ST_SESSION_PUT);
}

int
ueip_store_session_del(struct ueip_store *st, const struct ueip_session_key *key)
{
	bind_key(S(st, ST_SESSION_DEL), key);
	return run(st, ST_SESSION_DEL);
}

static int
unit_write(struct ueip_store *st, enum store_stmt id, const char *pool, uint64_t idx,
	   int has_third, int64_t third)
{
	bind_text(S(st, id), 1, pool);
	sqlite3_bind_int64(S(st, id), 2, (sqlite3_int64)idx);
	if (has_third)
		sqlite3_bind_int64(S(st, id), 3, third);
	return run(st, id);
}

int
ueip_store_lent_put(struct ueip_store *st, const char *pool, uint64_t idx, uint64_t alloc_id)
{
	return unit_write(st, ST_LENT_PUT, pool, idx, 1, (int64_t)alloc_id);
}

int
ueip_store_lent_del(struct ueip_store *st, const char *pool, uint64_t idx)
{
	return unit_write(st, ST_LENT_DEL, pool, idx, 0, 0);
}

int
ueip_store_quar_put(struct ueip_store *st, const char *pool, uint64_t idx, int64_t until_ms)
{
	return unit_write(st, ST_QUAR_PUT, pool, idx, 1, until_ms);
}

int
ueip_store_quar_del(struct ueip_store *st, const char *pool, uint64_t idx)
{
	return unit_write(st, ST_QUAR_DEL, pool, idx, 0, 0);
}

int
ueip_store_quar_expire(struct ueip_store *st, int64_t now_ms)
{
	sqlite3_bind_int64(S(st, ST_QUAR_EXPIRE), 1, now_ms);
	return run(st, ST_QUAR_EXPIRE);
}

int
ueip_store_outbox_put(struct ueip_store *st, const struct ueip_set_unit *u, int64_t *id)
{
	int rc = unit_write(st, ST_OUTBOX_PUT, u->pool, u->index, 1, (int64_t)u->alloc_id);

	if (!rc)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
ueip_store_outbox_del(struct ueip_store *st, int64_t id)
{
	sqlite3_bind_int64(S(st, ST_OUTBOX_DEL), 1, id);
	return run(st, ST_OUTBOX_DEL);
}

static void
col_text(sqlite3_stmt *q, int col, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	snprintf(out, size, "%s", t ? (const char *)t : "");
}

static void
row_session(sqlite3_stmt *q, struct ueip_store_session *r)
{
	struct ueip_set_session *s = &r->s;

	memset(r, 0, sizeof(*r));
	col_text(q, 0, s->key.supi, sizeof(s->key.supi));
	col_text(q, 1, s->key.dnn, sizeof(s->key.dnn));
	col_text(q, 2, s->key.snssai, sizeof(s->key.snssai));
	s->key.psi = (uint8_t)sqlite3_column_int(q, 3);
	s->ip_type = (uint8_t)sqlite3_column_int(q, 4);
	s->is_static = (uint8_t)sqlite3_column_int(q, 5);
	s->has_v4 = sqlite3_column_type(q, 6) != SQLITE_NULL;
	col_text(q, 6, s->v4_pool, sizeof(s->v4_pool));
	s->v4_index = (uint64_t)sqlite3_column_int64(q, 7);
	col_text(q, 8, r->v4_addr, sizeof(r->v4_addr));
	s->has_v6 = sqlite3_column_type(q, 9) != SQLITE_NULL;
	col_text(q, 9, s->v6_pool, sizeof(s->v6_pool));
	s->v6_index = (uint64_t)sqlite3_column_int64(q, 10);
	col_text(q, 11, r->v6_prefix, sizeof(r->v6_prefix));
	s->alloc_id = (uint64_t)sqlite3_column_int64(q, 12);
	s->gen = (uint64_t)sqlite3_column_int64(q, 13);
	s->created_ms = sqlite3_column_int64(q, 14);
	col_text(q, 15, s->prev, sizeof(s->prev));
	r->unconfirmed = (uint8_t)sqlite3_column_int(q, 16);
}

/* Step a read statement, handing each row to visit; resets it. */
static int
read_rows(struct ueip_store *st, enum store_stmt id, int (*visit)(sqlite3_stmt *q, void *ctx), void *ctx)
{
	sqlite3_stmt *q = S(st, id);
	int rc, stop = 0;

	while (!stop && (rc = sqlite3_step(q)) == SQLITE_ROW)
		stop = visit(q, ctx);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : store_fail(st, stmt_sql[id]);
}

struct session_visit {
	int (*fn)(const struct ueip_store_session *s, void *arg);
	void *arg;
};

static int
visit_session(sqlite3_stmt *q, void *ctx)
{
	struct session_visit *v = ctx;
	struct ueip_store_session r;

	row_session(q, &r);
	return v->fn(&r, v->arg);
}

int
ueip_store_each_session(struct ueip_store *st,
			int (*fn)(const struct ueip_store_session *s, void *arg), void *arg)
{
	struct session_visit v = { fn, arg };

	return read_rows(st, ST_SESSION_ALL, visit_session, &v);
}

int
ueip_store_list_sessions(struct ueip_store *st, const struct ueip_session_key *after,
			 unsigned limit, int (*fn)(const struct ueip_store_session *s, void *arg),
			 void *arg)
{
	static const struct ueip_session_key start = { "", "", "", 0 };
	struct session_visit v = { fn, arg };

	bind_key(S(st, ST_SESSION_PAGE), after ? after : &start);
	sqlite3_bind_int(S(st, ST_SESSION_PAGE), 5, (int)limit);
	return read_rows(st, ST_SESSION_PAGE, visit_session, &v);
}

struct unit_visit {
	int (*fn)(const char *pool, uint64_t idx, int64_t third, void *arg);
	void *arg;
};

static int
visit_unit(sqlite3_stmt *q, void *ctx)
{
	struct unit_visit *v = ctx;
	char pool[UEIP_NAME_MAX];

	col_text(q, 0, pool, sizeof(pool));
	return v->fn(pool, (uint64_t)sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2), v->arg);
}

struct lent_visit {
	int (*fn)(const char *pool, uint64_t idx, uint64_t alloc_id, void *arg);
	void *arg;
};

/* Its own visitor: calling fn through the int64_t-typed pointer of unit_visit would be UB. */
static int
visit_lent(sqlite3_stmt *q, void *ctx)
{
	struct lent_visit *v = ctx;
	char pool[UEIP_NAME_MAX];

	col_text(q, 0, pool, sizeof(pool));
	/* alloc_id is stored as its two's-complement int64; the cast back is exact. */
	return v->fn(pool, (uint64_t)sqlite3_column_int64(q, 1),
		     (uint64_t)sqlite3_column_int64(q, 2), v->arg);
}

int
ueip_store_each_lent(struct ueip_store *st,
		     int (*fn)(const char *pool, uint64_t idx, uint64_t alloc_id, void *arg), void *arg)
{
	struct lent_visit v = { fn, arg };

	return read_rows(st, ST_LENT_ALL, visit_lent, &v);
}

int
ueip_store_each_quar(struct ueip_store *st,
		     int (*fn)(const char *pool, uint64_t idx, int64_t until_ms, void *arg), void *arg)
{
	struct unit_visit v = { fn, arg };

	return read_rows(st, ST_QUAR_ALL, visit_unit, &v);
}

struct outbox_visit {
	int (*fn)(int64_t id, const struct ueip_set_unit *u, void *arg);
	void *arg;
};

static int
visit_outbox(sqlite3_stmt *q, void *ctx)
{
	struct outbox_visit *v = ctx;
	struct ueip_set_unit u = { 0 };

	col_text(q, 1, u.pool, sizeof(u.pool));
	u.index = (uint64_t)sqlite3_column_int64(q, 2);
	u.alloc_id = (uint64_t)sqlite3_column_int64(q, 3);
	return v->fn(sqlite3_column_int64(q, 0), &u, v->arg);
}

int
ueip_store_each_outbox(struct ueip_store *st,
		       int (*fn)(int64_t id, const struct ueip_set_unit *u, void *arg), void *arg)
{
	struct outbox_visit v = { fn, arg };

	return read_rows(st, ST_OUTBOX_ALL, visit_outbox, &v);
}

/* ---- public mappings (schema v2) ---------------------------------------------- */

int
ueip_store_mapping_put(struct ueip_store *st, const struct ueip_mapping *m)
{
	sqlite3_stmt *q = S(st, ST_MAP_PUT);
	int64_t v[] = { (int64_t)m->id, m->kind, m->via, m->proto, m->internal, m->internal_port,
			m->external, m->external_port, m->remote, m->remote_port };

	for (int i = 0; i < 10; i++)
		sqlite3_bind_int64(q, i + 1, v[i]);
	sqlite3_bind_blob(q, 11, m->nonce, sizeof(m->nonce), SQLITE_STATIC);
	sqlite3_bind_int64(q, 12, m->expires_ms);
	sqlite3_bind_int64(q, 13, m->created_ms);
	sqlite3_bind_int64(q, 14, m->client);
	sqlite3_bind_int64(q, 15, m->client_port);
	sqlite3_bind_int64(q, 16, m->third_party);
	bind_text(q, 17, m->ue.supi);
	bind_text(q, 18, m->ue.dnn);
	bind_text(q, 19, m->ue.snssai);
	sqlite3_bind_int(q, 20, m->ue.psi);
	if (m->nfilters)
		sqlite3_bind_blob(q, 21, m->filters, (int)(m->nfilters * sizeof(m->filters[0])),
				  SQLITE_STATIC);
	return run(st, ST_MAP_PUT);
}

int
ueip_store_mapping_renew(struct ueip_store *st, const struct ueip_mapping *m)
{
	sqlite3_stmt *q = S(st, ST_MAP_RENEW);

	sqlite3_bind_int64(q, 1, (int64_t)m->id);
	sqlite3_bind_int64(q, 2, m->expires_ms);
	sqlite3_bind_int64(q, 3, m->client);
	sqlite3_bind_int64(q, 4, m->client_port);
	return run(st, ST_MAP_RENEW);
}

int
ueip_store_mapping_del(struct ueip_store *st, uint64_t id)
{
	sqlite3_bind_int64(S(st, ST_MAP_DEL), 1, (int64_t)id);
	return run(st, ST_MAP_DEL);
}

struct mapping_visit {
	int (*fn)(const struct ueip_mapping *m, void *arg);
	void *arg;
};

static void
blob_copy(sqlite3_stmt *q, int col, void *out, size_t size, size_t *got)
{
	const void *b = sqlite3_column_blob(q, col);
	size_t n = (size_t)sqlite3_column_bytes(q, col);

	if (n > size)
		n = size;
	if (b && n)
		memcpy(out, b, n);
	if (got)
		*got = n;
}

static int
visit_mapping(sqlite3_stmt *q, void *ctx)
{
	struct mapping_visit *v = ctx;
	struct ueip_mapping m = { 0 };
	size_t fbytes = 0;

	m.id = (uint64_t)sqlite3_column_int64(q, 0);
	m.kind = (uint8_t)sqlite3_column_int(q, 1);
	m.via = (uint8_t)sqlite3_column_int(q, 2);
	m.proto = (uint8_t)sqlite3_column_int(q, 3);
	m.internal = (uint32_t)sqlite3_column_int64(q, 4);
	m.internal_port = (uint16_t)sqlite3_column_int(q, 5);
	m.external = (uint32_t)sqlite3_column_int64(q, 6);
	m.external_port = (uint16_t)sqlite3_column_int(q, 7);
	m.remote = (uint32_t)sqlite3_column_int64(q, 8);
	m.remote_port = (uint16_t)sqlite3_column_int(q, 9);
	blob_copy(q, 10, m.nonce, sizeof(m.nonce), NULL);
	m.expires_ms = sqlite3_column_int64(q, 11);
	m.created_ms = sqlite3_column_int64(q, 12);
	m.client = (uint32_t)sqlite3_column_int64(q, 13);
	m.client_port = (uint16_t)sqlite3_column_int(q, 14);
	m.third_party = (uint32_t)sqlite3_column_int64(q, 15);
	col_text(q, 16, m.ue.supi, sizeof(m.ue.supi));
	col_text(q, 17, m.ue.dnn, sizeof(m.ue.dnn));
	col_text(q, 18, m.ue.snssai, sizeof(m.ue.snssai));
	m.ue.psi = (uint8_t)sqlite3_column_int(q, 19);
	blob_copy(q, 20, m.filters, sizeof(m.filters), &fbytes);
	m.nfilters = (uint8_t)(fbytes / sizeof(m.filters[0]));
	return v->fn(&m, v->arg);
}

int
ueip_store_each_mapping(struct ueip_store *st, int (*fn)(const struct ueip_mapping *m, void *arg),
			void *arg)
{
	struct mapping_visit v = { fn, arg };

	return read_rows(st, ST_MAP_ALL, visit_mapping, &v);
}

int
ueip_store_pcp_client_put(struct ueip_store *st, uint32_t address, uint16_t port, int via)
{
	sqlite3_stmt *q = S(st, ST_CLIENT_PUT);

	sqlite3_bind_int64(q, 1, address);
	sqlite3_bind_int(q, 2, port);
	sqlite3_bind_int(q, 3, via);
	return run(st, ST_CLIENT_PUT);
}

int
ueip_store_pcp_clients_clear(struct ueip_store *st)
{
	return run(st, ST_CLIENT_DEL_ALL);
}

struct client_visit {
	int (*fn)(uint32_t address, uint16_t port, int via, void *arg);
	void *arg;
};

static int
visit_client(sqlite3_stmt *q, void *ctx)
{
	struct client_visit *v = ctx;

	return v->fn((uint32_t)sqlite3_column_int64(q, 0), (uint16_t)sqlite3_column_int(q, 1),
		     sqlite3_column_int(q, 2), v->arg);
}

int
ueip_store_each_pcp_client(struct ueip_store *st,
			   int (*fn)(uint32_t address, uint16_t port, int via, void *arg), void *arg)
{
	struct client_visit v = { fn, arg };

	return read_rows(st, ST_CLIENT_ALL, visit_client, &v);
}
