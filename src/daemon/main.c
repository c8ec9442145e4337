// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: ueipd — wiring
 *
 * One libuv loop carries everything: the set peer transport, the control
 * socket, the metrics listener and a 100 ms tick. Group commit lives here:
 * modules call batch() to have a store transaction open and defer() to run
 * something once it is durable; an idle handle keeps the loop from sleeping
 * while a batch is open, and the check handle, which runs after each round of
 * I/O callbacks, commits the batch (one fsync for every request of that
 * round) and then runs the deferred work: answers, acknowledgements, reports.
 *
 * A commit that fails is fatal: the process exits without answering, and
 * restarts from what is durable (fail-stop, as databases do on fsync error).
 */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "daemon/ipam.h"
#include "daemon/public.h"
#include "dataplane/dp.h"
#include "net/metrics.h"
#include "net/setpeer.h"

#define TICK_MS 100

struct deferred {
	void (*fn)(void *ctx, int rc);
	void *ctx;
};

struct daemon {
	uv_loop_t *loop;
	struct ueip_config cfg;
	struct ueip_store *st;
	struct ipam *ipam;
	struct setnet *net;
	struct ctl *ctl;
	struct metrics *metrics;
	struct ueip_dp *dp;
	struct public *pub;
	uv_idle_t idle;
	uv_check_t check;
	uv_timer_t tick;
	uv_signal_t sigterm, sigint, sighup;
	struct deferred *dq, *spare;	/* queued work; the array being run is kept as spare */
	size_t ndq, dq_cap, spare_cap;
	uint64_t commits, committed_turns_ns;
};

static int64_t
now_ms(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
log_sink(enum ueip_log_level level, const char *group, const char *line, void *arg)
{
	static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s [%s] %s\n", stamp, ts.tv_nsec / 1000000, names[level], group, line);
}

/* The idle handle only keeps the loop from blocking while work waits for the check phase. */
static void
on_idle(uv_idle_t *h)
{
}

static int
batch(void *arg)
{
	struct daemon *d = arg;
	int rc;

	if (ueip_store_in_batch(d->st))
		return 0;
	if ((rc = ueip_store_begin(d->st)))
		return rc;
	uv_idle_start(&d->idle, on_idle);
	return 0;
}

static int
defer(void *arg, void (*fn)(void *ctx, int rc), void *ctx)
{
	struct daemon *d = arg;

	if (ueip_grow((void **)&d->dq, &d->dq_cap, d->ndq, sizeof(*d->dq)))
		return UEIP_ENOMEM;
	d->dq[d->ndq++] = (struct deferred){ fn, ctx };
	uv_idle_start(&d->idle, on_idle);
	return 0;
}

/* After the I/O of a loop turn: make the batch durable, then answer. */
static void
on_check(uv_check_t *h)
{
	struct daemon *d = h->data;
	struct deferred *run;
	size_t n;
	int rc = 0;

	if (ueip_store_in_batch(d->st)) {
		if ((rc = ueip_store_commit(d->st))) {
			ueip_log_err("store", "commit failed (%s): stopping without answering; "
				     "restart recovers from what is durable", ueip_store_errmsg(d->st));
			fflush(stderr);
			_exit(75);
		}
		d->commits++;
	}
	while (d->ndq) {
		size_t run_cap = d->dq_cap;
		run = d->dq;
		n = d->ndq;
		/* Work deferred while this runs goes to the spare array; no allocation per turn. */
		d->dq = d->spare;
		d->dq_cap = d->spare_cap;
		d->ndq = 0;
		for (size_t i = 0; i < n; i++)
			run[i].fn(run[i].ctx, rc);
		d->spare = run;
		d->spare_cap = run_cap;
		if (ueip_store_in_batch(d->st))
			break;	/* deferred work wrote again: commit on the next turn */
	}
	if (!d->ndq && !ueip_store_in_batch(d->st))
		uv_idle_stop(&d->idle);
}

static void
on_tick(uv_timer_t *t)
{
	struct daemon *d = t->data;

	ipam_tick(d->ipam);
	if (d->pub)
		public_tick(d->pub);
}

static void
fill_metrics(void *arg, struct ueip_buf *out)
{
	struct daemon *d = arg;
	char line[256];
	int n;

	ipam_metrics(d->ipam, out);
	if (d->pub)
		public_metrics(d->pub, out);
	ctl_metrics(d->ctl, out);
	n = snprintf(line, sizeof(line), "# TYPE ueip_store_commits_total counter\nueip_store_commits_total %llu\n",
		     (unsigned long long)d->commits);
	ueip_set_put_bytes(out, line, (size_t)n);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	ueip_log_info("ipam", "signal %d: stopping", signum);
	if (ueip_store_in_batch(d->st) && ueip_store_commit(d->st))
		_exit(75);
	for (size_t i = 0; i < d->ndq; i++)
		d->dq[i].fn(d->dq[i].ctx, 0);
	d->ndq = 0;
	ctl_close(d->ctl);
	public_close(d->pub);
	metrics_close(d->metrics);
	setnet_close_all(d->net);
	uv_close((uv_handle_t *)&d->idle, NULL);
	uv_close((uv_handle_t *)&d->check, NULL);
	uv_close((uv_handle_t *)&d->tick, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
}

/* SIGHUP: reload what may change; a file that fails to load or changes more keeps the old config. */
static void
on_reload(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	struct ueip_config *next = malloc(sizeof(*next));
	enum ueip_log_level level;
	char why[512];

	if (!next)
		return;
	if (ueip_config_load(d->cfg.file, next, why, sizeof(why)) ||
	    ueip_config_reload_check(&d->cfg, next, why, sizeof(why))) {
		ueip_log_err("config", "reload refused, keeping the running configuration: %s", why);
	} else {
		if (next->epoch != d->cfg.epoch || next->nmembers != d->cfg.nmembers)
			ueip_log_warn("config", "set.members/epoch changes are not applied on reload: use set-members");
		if (d->pub)
			public_reload(d->pub, &d->cfg, next);
		if (ipam_reload(d->ipam, &d->cfg, next, why, sizeof(why)))
			ueip_log_err("config", "reload: %s", why);
		if (ueip_log_level_parse(d->cfg.log_level, &level) == 0)
			ueip_log_set_level(level);
	}
	free(next);
}

static int
mkdir_parents(const char *path)
{
	char buf[UEIP_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static uint64_t
epoch_of(void *arg)
{
	return ipam_epoch(arg);
}

/* The data path and the PCP/NAT-PMP server (when public pools are configured). */
static int
start_public(struct daemon *d)
{
	struct ipam_env env = { now_ms, batch, defer, d };
	struct ueip_dp_config dc = { .nat_priority_offset = -10 };
	char why[512];
	int rc;

	snprintf(dc.backend, sizeof(dc.backend), "%s",
		 strcmp(d->cfg.dp_backend, "auto") ? d->cfg.dp_backend : geteuid() == 0 ? "nft" : "null");
	snprintf(dc.table, sizeof(dc.table), "%s", d->cfg.dp_table);
	dc.cleanup_on_stop = strcmp(d->cfg.dp_cleanup, "true") == 0;
	if ((rc = ueip_dp_open(&dc, &d->dp, why, sizeof(why)))) {
		ueip_log_err("dataplane", "%s backend: %s", dc.backend, why);
		return rc;
	}
	ueip_log_info("dataplane", "backend %s (table %s)", dc.backend, dc.table);
	if ((rc = public_new(&d->cfg, d->st, d->ipam, d->dp, &env, d->loop, &d->pub, why, sizeof(why)))) {
		ueip_log_err("public", "%s", why);
		return rc;
	}
	if (d->cfg.pcp_address[0])
		ueip_log_info("public", "PCP/NAT-PMP server on udp %s", d->cfg.pcp_address);
	return 0;
}

static int
start_listeners(struct daemon *d)
{
	struct ipam_env unused;
	const char *listen = ipam_self_address(d->ipam);
	struct setnet_params p = {
		.set_id = d->cfg.set_id, .self_id = d->cfg.member, .listen = listen,
		.key = d->cfg.key, .key_len = d->cfg.key_len, .epoch = epoch_of,
		.epoch_arg = d->ipam, .incarnation = ipam_incarnation(d->ipam),
	};
	struct setnet_hooks hooks = { ipam_on_frame, ipam_on_out_up, ipam_on_out_down, ipam_on_in_down, d->ipam };

	(void)unused;
	if (!listen) {
		ueip_log_err("set", "member %s is not in the current membership", d->cfg.member);
		return UEIP_ENOTMEMBER;
	}
	if (setnet_new(d->loop, &p, &hooks, &d->net) || ctl_new(d->loop, d->cfg.control_socket, d->ipam, &d->ctl))
		return UEIP_EINVAL;
	if (d->cfg.npublic_pools && start_public(d))
		return UEIP_EINVAL;
	ctl_set_public(d->ctl, d->pub);
	if (d->cfg.metrics_address[0] &&
	    metrics_new(d->loop, d->cfg.metrics_address, fill_metrics, d, &d->metrics))
		return UEIP_EINVAL;
	return 0;
}

static int
daemon_init(struct daemon *d, const char *config_path)
{
	struct ipam_env env = { now_ms, batch, defer, d };
	enum ueip_log_level level;
	char why[512];
	int rc;

	if ((rc = ueip_config_load(config_path, &d->cfg, why, sizeof(why)))) {
		fprintf(stderr, "ueipd: %s\n", why);
		return 2;
	}
	if (ueip_log_level_parse(d->cfg.log_level, &level) == 0)
		ueip_log_set_level(level);
	if (mkdir_parents(d->cfg.store_path) || mkdir_parents(d->cfg.control_socket)) {
		fprintf(stderr, "ueipd: cannot create the directories of %s / %s\n", d->cfg.store_path,
			d->cfg.control_socket);
		return 1;
	}
	if ((rc = ueip_store_open(d->cfg.store_path, &d->st, why, sizeof(why)))) {
		fprintf(stderr, "ueipd: store: %s\n", why);
		return 1;
	}
	if ((rc = ipam_new(&d->cfg, d->st, &env, &d->ipam, why, sizeof(why)))) {
		fprintf(stderr, "ueipd: %s\n", why);
		return 1;
	}
	return 0;
}

static void
daemon_handles(struct daemon *d)
{
	uv_idle_init(d->loop, &d->idle);
	uv_check_init(d->loop, &d->check);
	d->check.data = d;
	uv_check_start(&d->check, on_check);
	uv_timer_init(d->loop, &d->tick);
	d->tick.data = d;
	uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
	uv_signal_init(d->loop, &d->sigterm);
	uv_signal_init(d->loop, &d->sigint);
	d->sigterm.data = d->sigint.data = d;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_signal_init(d->loop, &d->sighup);
	d->sighup.data = d;
	uv_signal_start(&d->sighup, on_reload, SIGHUP);
}

static void
usage(void)
{
	fprintf(stderr, "usage: ueipd -c CONFIG [-t]\n"
			"  -c CONFIG   configuration file (YAML)\n"
			"  -t          check the configuration and exit\n"
			"  -V          print the version\n");
}

int
main(int argc, char **argv)
{
	static struct daemon d;
	const char *config = NULL;
	int check_only = 0, opt, rc;

	ueip_log_set_sink(log_sink, NULL);
	while ((opt = getopt(argc, argv, "c:tVh")) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 't': check_only = 1; break;
		case 'V': printf("ueipd %s\n", UEIP_VERSION); return 0;
		default: usage(); return opt == 'h' ? 0 : 2;
		}
	}
	if (!config) {
		usage();
		return 2;
	}
	if (check_only) {
		char why[512];
		if (ueip_config_load(config, &d.cfg, why, sizeof(why))) {
			fprintf(stderr, "ueipd: %s\n", why);
			return 2;
		}
		printf("ueipd: %s: configuration OK\n", config);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rc = daemon_init(&d, config)))
		return rc;
	d.loop = uv_default_loop();
	daemon_handles(&d);
	if (start_listeners(&d))
		return 1;
	ueip_log_info("ipam", "ueipd %s: member %s of set %s, epoch %llu, incarnation %llu, listening on %s",
		      UEIP_VERSION, d.cfg.member, d.cfg.set_id, (unsigned long long)ipam_epoch(d.ipam),
		      (unsigned long long)ipam_incarnation(d.ipam), ipam_self_address(d.ipam));
	ipam_start(d.ipam, d.net);
	uv_run(d.loop, UV_RUN_DEFAULT);
	public_free(d.pub);
	ueip_dp_close(d.dp);
	ipam_free(d.ipam);
	free(d.dq);
	free(d.spare);
	ueip_store_close(d.st);
	setnet_free(d.net);
	ctl_free(d.ctl);
	metrics_free(d.metrics);
	uv_loop_close(d.loop);
	return 0;
}
