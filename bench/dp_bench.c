// SPDX-License-Identifier: Apache-2.0
/*
 * dp_bench: how fast mappings install through the data-path backends, and
 * whether the cost stays flat as the table fills.
 *
 *   dp_bench [-n N] [-c COMMIT] [-b nft|null|both] [-k one|port|peer|mix|filter]
 *            [--here] [--keep] [--map INTERNAL=EXTERNAL] [--no-delete]
 *
 * Installs N mappings (default 100000) in commits of COMMIT (default
 * 10000) and prints: total time and mappings/s, the cost per mapping for
 * each tenth of the table fill (add + commit; flat means the 100 000th costs
 * what the first did), commit latency percentiles, the bookkeeping share,
 * the process RSS and the kernel's slab growth; then deletes them all the
 * same way, and times the close (nft: the table delete).
 *
 * The nft backend runs in a network namespace of its own (unshare), so
 * the bench touches nothing else; it needs root. --here stays in the
 * current namespace, and with --keep the table and its mappings are left
 * in place (no delete phase, close without cleanup): bench/nat_throughput.sh
 * uses that to fill the gateway's table before measuring forwarding.
 * -k filter: ONE_TO_ONE mappings with two FILTERs each (interval sets).
 * --map adds one ONE_TO_ONE mapping INTERNAL <-> EXTERNAL first (then -n 0
 * is allowed: that mapping alone).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "core/err.h"
#include "core/log.h"
#include "dataplane/dp.h"

struct opts {
	size_t n, commit;
	const char *backend, *kind;
	int here, keep, no_delete;
	uint32_t map_in, map_ext;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
status_kb(const char *file, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0) {
			v = strtol(line + klen, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int
kind_of(const char *kind, size_t i)
{
	if (strcmp(kind, "port") == 0)
		return UEIP_DP_PORT;
	if (strcmp(kind, "peer") == 0)
		return UEIP_DP_PEER;
	if (strcmp(kind, "mix") == 0)
		return (int)(i % 3) + 1;
	return UEIP_DP_ONE_TO_ONE;
}

/* Mapping i: internal 100.80.0.0 + i; external 10.0.0.0 + i or 198.18.x:port. */
static struct ueip_dp_mapping
mapping(const char *kind, size_t i)
{
	struct ueip_dp_mapping m = { .kind = (uint8_t)kind_of(kind, i) };

	m.internal = 0x64500000u + (uint32_t)i;
	if (m.kind == UEIP_DP_ONE_TO_ONE) {
		m.external = 0x0a000000u + (uint32_t)i;
		if (strcmp(kind, "filter") == 0) {
			m.nfilters = 2;
			m.filters[0].remote = 0xc0000200u;	/* 192.0.2.0/24, any port */
			m.filters[0].prefix_len = 24;
			m.filters[1].remote = 0xcb007100u;	/* 203.0.113.0/24 port 443 */
			m.filters[1].prefix_len = 24;
			m.filters[1].remote_port = 443;
		}
		return m;
	}
	m.proto = IPPROTO_TCP;
	m.internal_port = 80;
	m.external = 0xc6120000u + (uint32_t)(i / 60000);
	m.external_port = (uint16_t)(1024 + i % 60000);
	if (m.kind == UEIP_DP_PEER) {
		m.proto = IPPROTO_UDP;
		m.remote = 0xc0000202u;
		m.remote_port = 6000;
	}
	return m;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *sorted, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return n ? sorted[i < n ? i : n - 1] : 0;
}

/* What one phase (install or delete) measured. */
struct phase_res {
	double book_decile[10];		/* ueip_dp_add/del time per tenth of the fill */
	double *commit_s;		/* per commit */
	size_t *commit_first, *commit_n;
	size_t ncommits;
	double book_s, total_s;
};

/* Add or delete N mappings in commits of o->commit. */
static int
phase(struct ueip_dp *dp, const struct opts *o, int add, struct phase_res *r)
{
	char why[512];
	double t0 = now_s(), t;
	size_t first = 0;
	int rc;

	memset(r->book_decile, 0, sizeof(r->book_decile));
	r->ncommits = 0;
	r->book_s = 0;
	for (size_t i = 0; i < o->n; i++) {
		struct ueip_dp_mapping m = mapping(o->kind, i);

		t = now_s();
		rc = add ? ueip_dp_add(dp, &m) : ueip_dp_del(dp, &m);
		t = now_s() - t;
		r->book_s += t;
		r->book_decile[i * 10 / o->n] += t;
		if (rc) {
			fprintf(stderr, "%s mapping %zu: %s\n", add ? "add" : "del", i,
				ueip_strerror(rc));
			return rc;
		}
		if ((i + 1) % o->commit && i + 1 != o->n)
			continue;
		t = now_s();
		rc = ueip_dp_commit(dp, why, sizeof(why));
		r->commit_s[r->ncommits] = now_s() - t;
		if (rc) {
			fprintf(stderr, "commit at %zu: %s\n", i + 1, why);
			return rc;
		}
		r->commit_first[r->ncommits] = first;
		r->commit_n[r->ncommits++] = i + 1 - first;
		first = i + 1;
	}
	r->total_s = now_s() - t0;
	return 0;
}

/*
 * Per tenth of the fill: the median over its commits of (commit time /
 * mappings in it), plus its mean bookkeeping per mapping. The median keeps
 * other load on the machine from hiding the trend; a commit counts in the
 * tenth where its first mapping falls.
 */
static double
decile_cost_us(const struct opts *o, const struct phase_res *r, int d, double *scratch)
{
	size_t k = 0, per = (o->n * (size_t)(d + 1) + 9) / 10 - (o->n * (size_t)d + 9) / 10;

	for (size_t c = 0; c < r->ncommits; c++)
		if ((int)(r->commit_first[c] * 10 / o->n) == d)
			scratch[k++] = r->commit_s[c] / (double)r->commit_n[c];
	qsort(scratch, k, sizeof(*scratch), cmp_double);
	return ((k ? scratch[k / 2] : 0) + (per ? r->book_decile[d] / (double)per : 0)) * 1e6;
}

static void
report(const char *what, const struct opts *o, struct phase_res *r)
{
	double *scratch = calloc(r->ncommits + 1, sizeof(double));
	size_t nc = r->ncommits;

	printf("  %s: %zu in %.3f s = %.0f mappings/s (bookkeeping %.2f us/mapping)\n", what,
	       o->n, r->total_s, (double)o->n / r->total_s, r->book_s * 1e6 / (double)o->n);
	printf("    us/mapping by table fill:");
	for (int d = 0; d < 10 && scratch; d++)
		printf(" %d0%%:%.2f", d, decile_cost_us(o, r, d, scratch));
	printf("\n");
	free(scratch);
	qsort(r->commit_s, nc, sizeof(double), cmp_double);
	printf("    commit latency (%zu commits of %zu): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, "
	       "max %.2f ms\n", nc, o->commit, pct(r->commit_s, nc, 0.5) * 1e3,
	       pct(r->commit_s, nc, 0.9) * 1e3, pct(r->commit_s, nc, 0.99) * 1e3,
	       nc ? r->commit_s[nc - 1] * 1e3 : 0);
}

static int
bench(const char *backend, const struct opts *o)
{
	struct ueip_dp_config cfg = { .nat_priority_offset = -10 };
	struct ueip_dp *dp;
	struct phase_res r = { .ncommits = 0 };
	size_t maxc = o->n / o->commit + 2;
	long slab0 = status_kb("/proc/meminfo", "Slab:");
	long rss0 = status_kb("/proc/self/status", "VmRSS:");
	char why[512];
	double t;
	int rc;

	snprintf(cfg.backend, sizeof(cfg.backend), "%s", backend);
	cfg.cleanup_on_stop = !o->keep;
	r.commit_s = calloc(maxc, sizeof(double));
	r.commit_first = calloc(maxc, sizeof(size_t));
	r.commit_n = calloc(maxc, sizeof(size_t));
	if (!r.commit_s || !r.commit_first || !r.commit_n) {
		rc = UEIP_ENOMEM;
		goto done;
	}
	t = now_s();
	rc = ueip_dp_open(&cfg, &dp, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "%s: open: %s\n", backend, why);
		goto done;
	}
	printf("backend %s: %zu %s mappings, commits of %zu (open %.1f ms)\n", backend, o->n,
	       o->kind, o->commit, (now_s() - t) * 1e3);
	if (o->map_in) {
		struct ueip_dp_mapping m = { .kind = UEIP_DP_ONE_TO_ONE, .internal = o->map_in,
					     .external = o->map_ext };

		if ((rc = ueip_dp_add(dp, &m)) != 0 || (rc = ueip_dp_commit(dp, why, sizeof(why)))) {
			fprintf(stderr, "--map: %s %s\n", ueip_strerror(rc), why);
			goto out;
		}
	}
	if (o->n == 0)
		goto out;
	rc = phase(dp, o, 1, &r);
	if (rc)
		goto out;
	report("install", o, &r);
	{
		double rss = (double)status_kb("/proc/self/status", "VmRSS:") / 1024.0;
		double hwm = (double)status_kb("/proc/self/status", "VmHWM:") / 1024.0;
		double slab = (double)(status_kb("/proc/meminfo", "Slab:") - slab0) / 1024.0;

		printf("    memory: RSS %.1f MB (+%.1f MB, peak %.1f MB); kernel slab %+.1f MB "
		       "(machine-wide, approximate)\n", rss, rss - (double)rss0 / 1024.0, hwm, slab);
	}
	if (!o->keep && !o->no_delete) {
		rc = phase(dp, o, 0, &r);
		if (rc)
			goto out;
		report("delete", o, &r);
	}
out:
	t = now_s();
	ueip_dp_close(dp);
	printf("  close%s: %.1f ms\n", o->keep ? " (table kept)" : " (cleanup)", (now_s() - t) * 1e3);
done:
	free(r.commit_s);
	free(r.commit_first);
	free(r.commit_n);
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: dp_bench [-n N] [-c COMMIT] [-b nft|null|both] "
		"[-k one|port|peer|mix|filter] [--here] [--keep] [--no-delete] [--map INT=EXT]\n");
	return 2;
}

static int
parse_map(const char *arg, struct opts *o)
{
	char in[32];
	const char *eq = strchr(arg, '=');
	struct in_addr a, b;

	if (!eq || (size_t)(eq - arg) >= sizeof(in))
		return -1;
	memcpy(in, arg, (size_t)(eq - arg));
	in[eq - arg] = '\0';
	if (inet_pton(AF_INET, in, &a) != 1 || inet_pton(AF_INET, eq + 1, &b) != 1)
		return -1;
	o->map_in = ntohl(a.s_addr);
	o->map_ext = ntohl(b.s_addr);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = { .n = 100000, .commit = 10000, .backend = "both", .kind = "one" };
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-n") == 0 && v && (i++, 1))
			o.n = strtoull(v, NULL, 10);
		else if (strcmp(a, "-c") == 0 && v && (i++, 1))
			o.commit = strtoull(v, NULL, 10);
		else if (strcmp(a, "-b") == 0 && v && (i++, 1))
			o.backend = v;
		else if (strcmp(a, "-k") == 0 && v && (i++, 1))
			o.kind = v;
		else if (strcmp(a, "--map") == 0 && v && (i++, 1)) {
			if (parse_map(v, &o))
				return usage();
		} else if (strcmp(a, "--here") == 0)
			o.here = 1;
		else if (strcmp(a, "--keep") == 0)
			o.keep = 1;
		else if (strcmp(a, "--no-delete") == 0)
			o.no_delete = 1;
		else
			return usage();
	}
	if ((o.n == 0 && !o.map_in) || o.n > UEIP_DP_MAPPINGS_MAX - 1 || o.commit == 0 ||
	    o.commit > UEIP_DP_QUEUE_MAX)
		return usage();
	ueip_log_set_level(UEIP_LOG_WARN);
	if (strcmp(o.backend, "null") == 0 || strcmp(o.backend, "both") == 0)
		rc |= bench("null", &o);
	if (strcmp(o.backend, "nft") == 0 || strcmp(o.backend, "both") == 0) {
		if (geteuid() != 0) {
			printf("backend nft: skipped (needs root)\n");
		} else if (!o.here && unshare(CLONE_NEWNET) != 0) {
			fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
			rc = 1;
		} else {
			rc |= bench("nft", &o);
		}
	}
	return rc ? 1 : 0;
}
