// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: allocator benchmark
 *
 * Measures the core allocator alone: one struct ueip_pool with no ownership
 * callback (a single-member set owns every chunk). It prints figures and
 * never decides pass or fail.
 *
 *   (a) IPv4 100.64.0.0/10 (2^22 units, chunk 256): alloc+free pairs per
 *       second at 0 %, 90 % and 99.9 % occupancy. Fill to the level, then
 *       loop { free a random held unit; alloc one } for about --seconds.
 *   (b) IPv6 /64 delegations from a /32 (2^32 units): allocations per second
 *       for 1M allocations (median of 7 fresh pools: one round takes only a
 *       few ms), and the memory of the materialised chunks.
 *   (c) memory per active session: RSS growth (from /proc/self/statm) over
 *       inserting 1M struct ueip_session into a struct ueip_sessions table,
 *       each holding a v4 unit marked in a pool, divided by 1M.
 *
 * Output: "name value" lines (Prometheus-like, labels in braces), then a
 * human summary prefixed with "# ".
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/err.h"
#include "core/pool.h"
#include "core/session.h"

#define V4_UNITS (1u << 22)
#define CHUNK 256
#define V6_ALLOCS 1000000u
#define V6_ROUNDS 7
#define SESSIONS 1000000u

static double opt_seconds = 1.5;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: the benchmark's own randomness, seeded for repeatable runs. */
static uint64_t
rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static long
rss_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "alloc_bench: %s: %s\n", what, ueip_strerror(rc));
	exit(1);
}

static struct ueip_pool *
pool_make(const char *name, const char *prefix, uint8_t unit_len, uint64_t size, uint16_t id)
{
	struct ueip_pool_def def = { 0 };
	struct ueip_pool *pool;
	uint8_t len;

	snprintf(def.name, sizeof(def.name), "%s", name);
	snprintf(def.dnn, sizeof(def.dnn), "internet");
	if (ueip_prefix_parse(prefix, &def.base, &len))
		die(prefix, UEIP_EMALFORMED);
	def.unit_len = unit_len;
	def.parent_len = len;
	def.size = size;
	def.chunk_size = CHUNK;
	if (!(pool = ueip_pool_new(&def, id)))
		die("ueip_pool_new", UEIP_ENOMEM);
	return pool;
}

static size_t
chunk_bytes(const struct ueip_pool *pool)
{
	return sizeof(struct ueip_chunk) + pool->words * sizeof(uint64_t);
}

/* ---- (a) v4 alloc+free pairs at a given occupancy ---- */

struct occupancy_result {
	double pairs_per_sec;
	double ns_per_pair;
	uint64_t pairs;
};

static struct occupancy_result
bench_occupancy(double occupancy, uint64_t *seed, int random_free)
{
	struct ueip_pool *pool = pool_make("v4", "100.64.0.0/10", 32, V4_UNITS, 1);
	uint64_t target = (uint64_t)(occupancy * V4_UNITS), nheld = 0, pairs = 0;
	uint64_t *held = malloc((target ? target : 1) * sizeof(*held));
	struct occupancy_result r = { 0 };
	double t0, t1, deadline;
	int rc;

	if (!held)
		die("malloc", UEIP_ENOMEM);
	while (nheld < target) {
		if ((rc = ueip_pool_alloc(pool, &held[nheld])))
			die("fill", rc);
		nheld++;
	}
	t0 = now_s();
	deadline = t0 + opt_seconds;
	do {
		for (int k = 0; k < 4096; k++) {
			uint64_t i = 0, index;
			if (nheld && random_free) {
				i = rnd_next(seed) % nheld;
				if ((rc = ueip_pool_clear(pool, held[i])))
					die("clear", rc);
			}
			if ((rc = ueip_pool_alloc(pool, &index)))
				die("alloc", rc);
			if (nheld && random_free)
				held[i] = index;
			else if ((rc = ueip_pool_clear(pool, index)))	/* free what we took */
				die("clear", rc);
			pairs++;
		}
		t1 = now_s();
	} while (t1 < deadline);
	r.pairs = pairs;
	r.pairs_per_sec = (double)pairs / (t1 - t0);
	r.ns_per_pair = (t1 - t0) * 1e9 / (double)pairs;
	free(held);
	ueip_pool_free(pool);
	return r;
}

/* ---- (b) v6 /64 from a /32: 1M allocations ---- */

struct v6_result {
	double allocs_per_sec;
	uint64_t chunks;
	size_t chunk_mem;	/* chunks x (header + bitmap) */
	size_t heap_mem;	/* what malloc really gave the chunks, plus the chunk map and stack */
};

static struct v6_result
bench_v6(void)
{
	struct ueip_pool *pool = pool_make("v6", "2001:db8::/32", 64, 1ULL << 32, 2);
	struct v6_result r = { 0 };
	uint64_t index, value;
	double t0, t1;
	int rc;

	t0 = now_s();
	for (uint32_t i = 0; i < V6_ALLOCS; i++)
		if ((rc = ueip_pool_alloc(pool, &index)))
			die("v6 alloc", rc);
	t1 = now_s();
	r.allocs_per_sec = V6_ALLOCS / (t1 - t0);	/* one round: a few ms, so main() repeats it */
	r.chunks = ueip_map_count(&pool->chunks);
	r.chunk_mem = r.chunks * chunk_bytes(pool);
	r.heap_mem = (pool->chunks.mask + 1) * sizeof(struct ueip_map_slot) +
		     pool->avail_cap * sizeof(*pool->avail);
	for (size_t pos = 0; ueip_map_next(&pool->chunks, &pos, NULL, &value);)
		r.heap_mem += malloc_usable_size((void *)(uintptr_t)value);
	ueip_pool_free(pool);
	return r;
}

static int
cmp_v6(const void *a, const void *b)
{
	double x = ((const struct v6_result *)a)->allocs_per_sec;
	double y = ((const struct v6_result *)b)->allocs_per_sec;

	return x < y ? -1 : x > y;
}

/* ---- (c) memory per session ---- */

struct session_result {
	double bytes_per_session;
	long rss_growth;
	double inserts_per_sec;
};

static struct session_result
bench_sessions(void)
{
	struct ueip_pool *pool = pool_make("v4", "100.64.0.0/10", 32, V4_UNITS, 1);
	struct ueip_sessions table;
	struct session_result r = { 0 };
	long rss0;
	double t0, t1;
	int rc;

	rss0 = rss_bytes();
	ueip_sessions_init(&table);
	t0 = now_s();
	for (uint32_t i = 0; i < SESSIONS; i++) {
		struct ueip_session *s = calloc(1, sizeof(*s));
		uint64_t index;
		if (!s)
			die("calloc", UEIP_ENOMEM);
		snprintf(s->key.supi, sizeof(s->key.supi), "imsi-00101%010u", i);
		snprintf(s->key.dnn, sizeof(s->key.dnn), "internet");
		snprintf(s->key.snssai, sizeof(s->key.snssai), "1");
		s->key.psi = 1;
		s->ip_type = UEIP_IP_V4;
		if ((rc = ueip_pool_alloc(pool, &index)))
			die("session alloc", rc);
		s->v4 = (struct ueip_holding){ .present = 1, .pool_id = pool->id, .index = index };
		s->alloc_id = i + 1;
		s->gen = 1;
		if ((rc = ueip_sessions_insert(&table, s)))
			die("session insert", rc);
	}
	t1 = now_s();
	r.rss_growth = rss_bytes() - rss0;
	r.bytes_per_session = (double)r.rss_growth / SESSIONS;
	r.inserts_per_sec = SESSIONS / (t1 - t0);
	ueip_sessions_deinit(&table);
	ueip_pool_free(pool);
	return r;
}

int
main(int argc, char **argv)
{
	static const double levels[] = { 0.0, 0.9, 0.999 };
	struct occupancy_result occ[3], lifo[3];
	struct v6_result v6, v6_rounds[V6_ROUNDS];
	struct session_result ses;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int opt;

	while ((opt = getopt(argc, argv, "t:h")) != -1) {
		if (opt == 't' && (opt_seconds = strtod(optarg, NULL)) > 0)
			continue;
		fprintf(stderr, "usage: alloc_bench [-t SECONDS_PER_LEVEL]\n");
		return 2;
	}
	/*
	 * Two patterns per level. "random": free a random held unit, then alloc —
	 * a session ending anywhere; its cost at 90 % and 99.9 % is mostly the
	 * cache misses of touching a random unit of a 4M-unit pool (and of this
	 * benchmark's own 32 MB array of held units). "lifo": alloc, then free
	 * that unit — the allocator's own path at that occupancy.
	 */
	for (int i = 0; i < 3; i++) {
		occ[i] = bench_occupancy(levels[i], &seed, 1);
		lifo[i] = bench_occupancy(levels[i], &seed, 0);
		printf("alloc_v4_pairs_per_sec{occupancy=\"%.3f\",pattern=\"random\"} %.0f\n", levels[i],
		       occ[i].pairs_per_sec);
		printf("alloc_v4_pairs_per_sec{occupancy=\"%.3f\",pattern=\"lifo\"} %.0f\n", levels[i],
		       lifo[i].pairs_per_sec);
		printf("alloc_v4_ns_per_pair{occupancy=\"%.3f\",pattern=\"random\"} %.1f\n", levels[i], occ[i].ns_per_pair);
		printf("alloc_v4_ns_per_pair{occupancy=\"%.3f\",pattern=\"lifo\"} %.1f\n", levels[i], lifo[i].ns_per_pair);
		fflush(stdout);
	}
	/* One round takes milliseconds: take the median of V6_ROUNDS fresh pools. */
	for (int i = 0; i < V6_ROUNDS; i++)
		v6_rounds[i] = bench_v6();
	qsort(v6_rounds, V6_ROUNDS, sizeof(v6_rounds[0]), cmp_v6);
	v6 = v6_rounds[V6_ROUNDS / 2];
	printf("alloc_v6_allocs_per_sec %.0f\n", v6.allocs_per_sec);
	printf("alloc_v6_chunks_materialised %llu\n", (unsigned long long)v6.chunks);
	printf("alloc_v6_chunk_bytes %zu\n", v6.chunk_mem);
	printf("alloc_v6_heap_bytes %zu\n", v6.heap_mem);
	fflush(stdout);
	ses = bench_sessions();
	printf("session_insert_per_sec %.0f\n", ses.inserts_per_sec);
	printf("session_rss_growth_bytes %ld\n", ses.rss_growth);
	printf("session_bytes_per_session %.1f\n", ses.bytes_per_session);
	printf("session_struct_bytes %zu\n", sizeof(struct ueip_session));

	printf("# allocator, v4 /10 (%u units, chunk %u), %.1f s per level:\n", V4_UNITS, CHUNK,
	       opt_seconds);
	for (int i = 0; i < 3; i++)
		printf("#   %5.1f %% full: random free %.2f M pairs/s (%.0f ns), alloc-then-free %.2f M pairs/s (%.0f ns)\n",
		       levels[i] * 100, occ[i].pairs_per_sec / 1e6, occ[i].ns_per_pair,
		       lifo[i].pairs_per_sec / 1e6, lifo[i].ns_per_pair);
	printf("# v6 /64 from /32 (2^32 units): %.2f M allocs/s over %u allocs (median of %d); %llu chunks "
	       "materialised x %zu B = %.1f MiB (%.1f MiB of heap with the chunk map)\n",
	       v6.allocs_per_sec / 1e6, V6_ALLOCS, V6_ROUNDS, (unsigned long long)v6.chunks,
	       v6.chunks ? v6.chunk_mem / v6.chunks : 0, v6.chunk_mem / 1048576.0,
	       v6.heap_mem / 1048576.0);
	printf("# sessions: %u inserted at %.2f M/s; RSS +%.1f MiB = %.0f B per session "
	       "(struct ueip_session is %zu B)\n",
	       SESSIONS, ses.inserts_per_sec / 1e6, ses.rss_growth / 1048576.0,
	       ses.bytes_per_session, sizeof(struct ueip_session));
	return 0;
}
