// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: ueip — the UE agent command
 *
 *   ueip public request --server ADDR[:PORT] [--lifetime S] [--timeout S]
 *                       [--state FILE] [--on-change CMD] [--once] [--port PROTO:PORT]
 *   ueip public status  [--state FILE] [--json]
 *   ueip public release [--state FILE] [--timeout S]
 *
 * `request` is one libueip client driven by one poll loop over the
 * client's fd and a signalfd (SIGTERM, SIGINT: release and exit; SIGCHLD:
 * reap --on-change commands). Each library event becomes one line on
 * stdout (flushed; the first word is stable for scripts), one state-file
 * write (temp + rename) and, for granted/renewed/reacquired/withdrawn, one
 * --on-change command run by /bin/sh -c without waiting for it.
 *
 * Exit status: 0 ok, 1 usage or local error, 2 the server refused (the PCP
 * result name is printed), 3 no answer before the deadline.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/libueip.h"
#include "core/err.h"
#include "core/log.h"
#include "proto/pcp.h"

enum exit_status {
	EXIT_OK = 0,
	EXIT_LOCAL = 1,
	EXIT_REFUSED = 2,
	EXIT_NO_ANSWER = 3,
};

#define DEFAULT_LIFETIME 3600
#define DEFAULT_TIMEOUT 10
#define RELEASE_WAIT_MS 5000u
#define HOOK_WAIT_MS 10000
#define AGENT_EXIT_WAIT_MS 20000

struct opts {
	const char *server;
	const char *state_path;
	const char *on_change;
	uint32_t lifetime;
	uint32_t timeout;
	int once;
	int json;
	int verbose;
	uint8_t protocol;
	uint16_t port;
};

struct agent {
	struct opts o;
	ueip_client *c;
	int id;
	int sfd;
	int granted;
	struct ueip_state st;
	int hooks;			/* --on-change commands not yet reaped */
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: ueip public request --server ADDR[:PORT] [--lifetime S] [--timeout S]\n"
		"                           [--state FILE] [--on-change CMD] [--once]\n"
		"                           [--port PROTO:PORT] [--verbose]\n"
		"       ueip public status  [--state FILE] [--json]\n"
		"       ueip public release [--state FILE] [--timeout S]\n"
		"\n"
		"request  asks the PCP server for a dedicated public address (or, with\n"
		"         --port tcp:8080, a port mapping), prints one line per event\n"
		"         (granted, renewed, withdrawn, expired, announce, reset, released,\n"
		"         error), keeps it renewed until withdrawn or stopped (SIGTERM/SIGINT\n"
		"         release it); --once exits after the grant.\n"
		"status   shows the state file (default %s).\n"
		"release  stops the running agent, or releases the stored mapping itself.\n"
		"exit: 0 ok, 1 usage/local error, 2 server refused, 3 no answer in time\n",
		UEIP_STATE_DEFAULT);
}

static void
log_sink(enum ueip_log_level level, const char *group, const char *line, void *arg)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	fprintf(stderr, "ueip: %s: %s\n", names[level], line);
}

/* One event line on stdout, flushed at once. */
static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int64_t
wall_s(void)
{
	return (int64_t)time(NULL);
}

static int
parse_u32(const char *name, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (!*text || *text == '-' || *end || errno || v < min || v > max) {
		fprintf(stderr, "ueip: --%s must be a whole number in %u..%u, not '%s'\n", name,
			min, max, text);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 'f' },
		{ "on-change", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, '1' },
		{ "port", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->state_path = UEIP_STATE_DEFAULT;
	o->lifetime = DEFAULT_LIFETIME;
	o->timeout = DEFAULT_TIMEOUT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:l:t:f:c:1p:jvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->server = optarg; break;
		case 'f': o->state_path = optarg; break;
		case 'c': o->on_change = optarg; break;
		case '1': o->once = 1; break;
		case 'j': o->json = 1; break;
		case 'v': o->verbose = 1; break;
		case 'l':
			if (parse_u32("lifetime", optarg, 1, UINT32_MAX, &o->lifetime))
				return -1;
			break;
		case 't':
			if (parse_u32("timeout", optarg, 1, 86400, &o->timeout))
				return -1;
			break;
		case 'p':
			if (ueip_parse_port_spec(optarg, &o->protocol, &o->port)) {
				fprintf(stderr, "ueip: --port wants PROTO:PORT (tcp:8080, udp:53, "
						"17:53), not '%s'\n", optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ueip: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* --on-change                                                         */

static void
hook_run(struct agent *a, const char *event)
{
	char port[8];
	pid_t pid;

	if (!a->o.on_change)
		return;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "ueip: cannot run --on-change: %s\n", strerror(errno));
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		snprintf(port, sizeof(port), "%u", a->st.external_port);
		setenv("UEIP_EVENT", event, 1);
		setenv("UEIP_PUBLIC_ADDRESS", a->st.address, 1);
		setenv("UEIP_PUBLIC_PORT", port, 1);
		setenv("UEIP_STATE_FILE", a->o.state_path, 1);
		execl("/bin/sh", "sh", "-c", a->o.on_change, (char *)NULL);
		_exit(127);
	}
	a->hooks++;
}

static void
hook_reap(struct agent *a)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		a->hooks--;
		if (WIFEXITED(status) && WEXITSTATUS(status))
			fprintf(stderr, "ueip: --on-change command exited with %d\n",
				WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			fprintf(stderr, "ueip: --on-change command killed by signal %d\n",
				WTERMSIG(status));
	}
}

/* Before exiting: give running --on-change commands a bounded time. */
static void
hook_drain(struct agent *a)
{
	for (int waited = 0; a->hooks > 0 && waited < HOOK_WAIT_MS; waited += 50) {
		hook_reap(a);
		if (a->hooks > 0)
			poll(NULL, 0, 50);
	}
}

/* ------------------------------------------------------------------ */
/* State file                                                          */

static void
state_save(struct agent *a, const char *state, const char *last_event)
{
	int rc;

	snprintf(a->st.state, sizeof(a->st.state), "%s", state);
	snprintf(a->st.last_event, sizeof(a->st.last_event), "%s", last_event);
	a->st.updated = wall_s();
	rc = ueip_state_write(a->o.state_path, &a->st);
	if (rc)
		fprintf(stderr, "ueip: cannot write the state file %s: %s\n", a->o.state_path,
			ueip_strerror(rc));
}

static void
state_from_event(struct agent *a, const struct ueip_event *ev)
{
	if (ev->external[0])
		snprintf(a->st.address, sizeof(a->st.address), "%s", ev->external);
	a->st.external_port = ev->external_port;
	a->st.lifetime = ev->lifetime;
	a->st.expires = wall_s() + ev->lifetime;
}

/* ------------------------------------------------------------------ */
/* request                                                             */

static int
no_answer(struct agent *a, const char *what)
{
	int icmp = ueip_client_icmp_error(a->c);

	say("error NO_ANSWER: no answer from %s to %s within %u s%s", ueip_client_server(a->c),
	    what, a->o.timeout, icmp ? " (port unreachable: is a PCP server running there?)" : "");
	return EXIT_NO_ANSWER;
}

static void
print_grant(struct agent *a, const char *word, const struct ueip_event *ev)
{
	if (a->o.protocol)
		say("%s %s lifetime %u port %u", word, ev->external, ev->lifetime,
		    ev->external_port);
	else
		say("%s %s lifetime %u", word, ev->external, ev->lifetime);
}

/* One library event. Returns -1 to go on, or an exit status. */
static int
on_event(struct agent *a, const struct ueip_event *ev)
{
	char line[128];

	switch (ev->type) {
	case UEIP_EV_GRANTED:
	case UEIP_EV_REACQUIRED:
	case UEIP_EV_RENEWED:
		if (ev->id != a->id)
			return -1;
		state_from_event(a, ev);
		print_grant(a, ev->type == UEIP_EV_RENEWED ? "renewed" : "granted", ev);
		snprintf(line, sizeof(line), "%s %s lifetime %u", ueip_event_name(ev->type),
			 ev->external, ev->lifetime);
		a->st.pid = a->o.once ? 0 : (long)getpid();
		state_save(a, "granted", line);
		hook_run(a, ev->type == UEIP_EV_GRANTED && !a->granted ? "granted"
			    : ev->type == UEIP_EV_RENEWED ? "renewed" : "reacquired");
		a->granted = 1;
		return a->o.once ? EXIT_OK : -1;
	case UEIP_EV_REFUSED:
		say("error %s: %s", ueip_pcp_result_name(ev->result), ev->why);
		if (a->granted) {
			a->st.pid = 0;
			snprintf(line, sizeof(line), "renewal refused: %s",
				 ueip_pcp_result_name(ev->result));
			state_save(a, "refused", line);
		}
		return EXIT_REFUSED;
	case UEIP_EV_TIMEOUT:
		return no_answer(a, "the MAP request");
	case UEIP_EV_WITHDRAWN:
		say("withdrawn %s (the network ended the mapping: unsolicited lifetime 0)",
		    ev->external[0] ? ev->external : a->st.address);
		a->st.pid = 0;
		a->st.lifetime = 0;
		a->st.expires = wall_s();
		state_save(a, "withdrawn", "withdrawn by the network");
		hook_run(a, "withdrawn");
		return EXIT_OK;
	case UEIP_EV_EXPIRED:
		say("expired %s (no answer to renewals, re-requesting)", ev->external);
		state_save(a, "expired", "lifetime ran out without a renewal answer");
		return -1;
	case UEIP_EV_STATE_LOST:
		if (ev->announce)
			say("announce epoch %u (server state reset, re-requesting)", ev->epoch);
		else
			say("reset epoch %u (server epoch inconsistent, re-requesting)", ev->epoch);
		snprintf(line, sizeof(line), "server state reset (epoch %u)", ev->epoch);
		if (a->granted)
			state_save(a, "granted", line);
		return -1;
	case UEIP_EV_ANNOUNCE:
		fprintf(stderr, "ueip: info: ANNOUNCE from %s, epoch %u consistent: nothing to do\n",
			ueip_client_server(a->c), ev->epoch);
		return -1;
	default:
		return -1;
	}
}

static int
agent_release(struct agent *a)
{
	int rc;

	if (!a->granted) {
		say("error INTERRUPTED: stopped before the server answered");
		return EXIT_LOCAL;
	}
	rc = ueip_client_release_wait(a->c, a->id, RELEASE_WAIT_MS);
	a->st.pid = 0;
	a->st.lifetime = 0;
	if (rc == 0) {
		say("released %s", a->st.address);
		a->st.expires = wall_s();
		state_save(a, "released", "released");
		return EXIT_OK;
	}
	if (UEIP_IS_EPCP(rc)) {
		say("error %s: release refused: %s", ueip_client_errname(rc),
		    ueip_client_strerror(rc));
		return EXIT_REFUSED;
	}
	say("released %s (no answer from %s; the mapping ends at its expiry)", a->st.address,
	    ueip_client_server(a->c));
	state_save(a, "released", "release unanswered");
	return EXIT_NO_ANSWER;
}

static int
on_signal(struct agent *a)
{
	struct signalfd_siginfo si;
	int status = -1;

	while (read(a->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			hook_reap(a);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			status = agent_release(a);
	}
	return status;
}

static int
agent_loop(struct agent *a)
{
	struct ueip_event ev;
	int status = -1, rc = 0;

	while (status < 0) {
		struct pollfd p[2] = { { .fd = ueip_client_fd(a->c), .events = POLLIN },
				       { .fd = a->sfd, .events = POLLIN } };

		if (poll(p, 2, ueip_client_timeout(a->c)) < 0 && errno != EINTR) {
			fprintf(stderr, "ueip: poll: %s\n", strerror(errno));
			return EXIT_LOCAL;
		}
		if (p[1].revents && (status = on_signal(a)) >= 0)
			break;
		while (status < 0 && (rc = ueip_client_process(a->c, &ev)) > 0)
			status = on_event(a, &ev);
		if (status < 0 && rc < 0) {
			fprintf(stderr, "ueip: %s\n", ueip_client_strerror(rc));
			return EXIT_LOCAL;
		}
	}
	return status;
}

/* A previous grant in the state file that this run takes over (same nonce). */
static void
resume_from_state(struct agent *a, struct ueip_map_request *req, uint8_t *nonce)
{
	struct ueip_state old;
	char why[160];
	int rc = ueip_state_read(a->o.state_path, &old, why, sizeof(why));

	if (rc == -ENOENT)
		return;
	if (rc) {
		fprintf(stderr, "ueip: warning: ignoring state file %s: %s\n", a->o.state_path,
			why);
		return;
	}
	if (strcmp(old.state, "granted") != 0 && strcmp(old.state, "expired") != 0)
		return;
	if (strcmp(old.server, a->o.server) != 0 || old.protocol != a->o.protocol ||
	    old.internal_port != a->o.port) {
		fprintf(stderr, "ueip: warning: %s held %s (protocol %u port %u from %s); it is "
				"replaced, the old mapping ends at its expiry\n",
			a->o.state_path, old.address, old.protocol, old.internal_port, old.server);
		return;
	}
	memcpy(nonce, old.nonce, UEIP_NONCE_LEN);
	req->nonce = nonce;
	req->suggest = old.address[0] ? old.address : NULL;
	req->suggest_port = old.external_port;
	memcpy(a->st.nonce, nonce, UEIP_NONCE_LEN);
	snprintf(a->st.address, sizeof(a->st.address), "%s", old.address);
	fprintf(stderr, "ueip: info: renewing %s from %s (same nonce)\n", old.address,
		a->o.state_path);
}

static int
agent_check_state(struct agent *a)
{
	struct ueip_state old = { 0 };
	char why[160], probe[PATH_MAX + 32];
	int rc;

	if (ueip_state_read(a->o.state_path, &old, why, sizeof(why)) == 0 &&
	    ueip_state_pid_alive(&old) && old.pid != (long)getpid()) {
		fprintf(stderr, "ueip: an agent (pid %ld) already runs with %s; stop it with "
				"'ueip public release --state %s' or use another --state\n",
			old.pid, a->o.state_path, a->o.state_path);
		return -1;
	}
	/* Prove (mkdir -p included) that the state file can be written before asking. */
	snprintf(probe, sizeof(probe), "%s.probe-%ld", a->o.state_path, (long)getpid());
	snprintf(old.state, sizeof(old.state), "released");
	rc = ueip_state_write(probe, &old);
	if (rc) {
		fprintf(stderr, "ueip: cannot write the state file %s: %s\n", a->o.state_path,
			ueip_strerror(rc));
		return -1;
	}
	unlink(probe);
	return 0;
}

static int
block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int
cmd_request(int argc, char **argv)
{
	struct agent a = { .id = -1, .sfd = -1 };
	struct ueip_client_options co = { 0 };
	struct ueip_map_request req = { 0 };
	uint8_t nonce[UEIP_NONCE_LEN];
	struct ueip_mapping_info info;
	int rc, status;

	if (parse_opts(argc, argv, &a.o) || a.o.json) {
		fprintf(stderr, "ueip: see 'ueip --help'\n");
		return EXIT_LOCAL;
	}
	if (!a.o.server) {
		fprintf(stderr, "ueip: public request needs --server ADDR[:PORT]\n");
		return EXIT_LOCAL;
	}
	if (a.o.verbose)
		ueip_log_set_level(UEIP_LOG_DEBUG);
	if (agent_check_state(&a))
		return EXIT_LOCAL;
	req.protocol = a.o.protocol;
	req.internal_port = a.o.port;
	req.lifetime = a.o.lifetime;
	req.timeout_ms = a.o.timeout * 1000;
	resume_from_state(&a, &req, nonce);
	a.sfd = block_signals();
	co.server = a.o.server;
	co.notice_port = a.o.once ? -1 : 0;
	if (a.sfd < 0 || (rc = ueip_client_open(&co, &a.c))) {
		fprintf(stderr, "ueip: cannot reach %s: %s\n", a.o.server,
			a.sfd < 0 ? strerror(errno) : ueip_client_strerror(rc));
		return EXIT_LOCAL;
	}
	a.id = ueip_client_map(a.c, &req);
	if (a.id < 0) {
		fprintf(stderr, "ueip: %s\n", ueip_client_strerror(a.id));
		ueip_client_free(a.c);
		return EXIT_LOCAL;
	}
	ueip_client_mapping(a.c, a.id, &info);
	memcpy(a.st.nonce, info.nonce, UEIP_NONCE_LEN);
	snprintf(a.st.server, sizeof(a.st.server), "%s", a.o.server);
	a.st.protocol = a.o.protocol;
	a.st.internal_port = a.o.port;
	a.st.pid_start = a.o.once ? 0 : ueip_proc_start_time(getpid());
	status = agent_loop(&a);
	hook_drain(&a);
	ueip_client_free(a.c);
	close(a.sfd);
	return status;
}

/* ------------------------------------------------------------------ */
/* status and release                                                  */

static int
read_state(const char *path, struct ueip_state *st)
{
	char why[160];
	int rc = ueip_state_read(path, st, why, sizeof(why));

	if (rc == -ENOENT) {
		fprintf(stderr, "ueip: no state file %s (no public address was requested)\n", path);
		return -1;
	}
	if (rc) {
		fprintf(stderr, "ueip: cannot read %s: %s\n", path, why);
		return -1;
	}
	return 0;
}

static void
time_text(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "-");
}

static int
cmd_status(int argc, char **argv)
{
	struct opts o = { 0 };
	struct ueip_state st;
	char exp[32], upd[32], nonce[2 * UEIP_NONCE_LEN + 1], pbuf[8];
	int alive;
	int64_t left;

	if (parse_opts(argc, argv, &o) || o.server || o.on_change || o.once || o.port) {
		fprintf(stderr, "ueip: usage: ueip public status [--state FILE] [--json]\n");
		return EXIT_LOCAL;
	}
	if (read_state(o.state_path, &st))
		return EXIT_LOCAL;
	alive = ueip_state_pid_alive(&st);
	left = st.expires - wall_s();
	if (left < 0 || strcmp(st.state, "granted") != 0)
		left = 0;
	for (int i = 0; i < UEIP_NONCE_LEN; i++)
		snprintf(nonce + 2 * i, 3, "%02x", st.nonce[i]);
	if (o.json) {
		json_t *j = json_pack("{s:I, s:b, s:s, s:s, s:i, s:I, s:I, s:I, s:s, s:i, s:i, "
				      "s:s, s:s, s:I}",
				      "pid", (json_int_t)st.pid, "agent_running", alive,
				      "server", st.server, "address", st.address,
				      "external_port", st.external_port,
				      "lifetime", (json_int_t)st.lifetime,
				      "expires", (json_int_t)st.expires,
				      "expires_in", (json_int_t)left, "nonce", nonce,
				      "protocol", st.protocol, "internal_port", st.internal_port,
				      "state", st.state, "last_event", st.last_event,
				      "updated", (json_int_t)st.updated);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (!text)
			return EXIT_LOCAL;
		puts(text);
		free(text);
		json_decref(j);
		return EXIT_OK;
	}
	time_text(st.expires, exp, sizeof(exp));
	time_text(st.updated, upd, sizeof(upd));
	printf("state       %s\n", st.state);
	printf("address     %s\n", st.address[0] ? st.address : "-");
	if (st.protocol)
		printf("mapping     %s:%u -> %s:%u\n", ueip_protocol_name(st.protocol, pbuf,
			sizeof(pbuf)), st.internal_port, st.address, st.external_port);
	else
		printf("mapping     dedicated address (all protocols, all ports)\n");
	printf("lifetime    %u s, expires %s (in %lld s)\n", st.lifetime, exp, (long long)left);
	printf("server      %s\n", st.server);
	printf("nonce       %s\n", nonce);
	if (st.pid)
		printf("agent       pid %ld, %s\n", st.pid, alive ? "running" : "not running");
	else
		printf("agent       none\n");
	printf("last event  %s (%s)\n", st.last_event[0] ? st.last_event : "-", upd);
	return EXIT_OK;
}

/* SIGTERM the running agent and wait for it to go. 1 if it went. */
static int
stop_agent(const struct ueip_state *st)
{
	if (kill((pid_t)st->pid, SIGTERM) < 0)
		return 0;
	for (int waited = 0; waited < AGENT_EXIT_WAIT_MS; waited += 50) {
		if (!ueip_state_pid_alive(st))
			return 1;
		poll(NULL, 0, 50);
	}
	fprintf(stderr, "ueip: agent pid %ld did not exit within %d s\n", st->pid,
		AGENT_EXIT_WAIT_MS / 1000);
	return 0;
}

static int
release_direct(const struct opts *o, struct ueip_state *st)
{
	struct ueip_client_options co = { .server = st->server, .notice_port = -1 };
	struct ueip_map_request req = { .protocol = st->protocol,
					.internal_port = st->internal_port, .nonce = st->nonce,
					.lifetime = st->lifetime };
	ueip_client *c;
	int id, rc;

	rc = ueip_client_open(&co, &c);
	if (rc) {
		fprintf(stderr, "ueip: cannot reach %s: %s\n", st->server, ueip_client_strerror(rc));
		return EXIT_LOCAL;
	}
	id = ueip_client_adopt(c, &req, st->address, st->external_port, 0);
	rc = id < 0 ? id : ueip_client_release_wait(c, id, o->timeout * 1000);
	if (rc == -ETIMEDOUT) {
		say("error NO_ANSWER: no answer from %s to the release within %u s%s",
		    ueip_client_server(c), o->timeout,
		    ueip_client_icmp_error(c) ? " (port unreachable)" : "");
		ueip_client_free(c);
		return EXIT_NO_ANSWER;
	}
	ueip_client_free(c);
	if (UEIP_IS_EPCP(rc)) {
		say("error %s: %s", ueip_client_errname(rc), ueip_client_strerror(rc));
		return EXIT_REFUSED;
	}
	if (rc) {
		fprintf(stderr, "ueip: %s\n", ueip_client_strerror(rc));
		return EXIT_LOCAL;
	}
	st->pid = 0;
	st->lifetime = 0;
	st->expires = wall_s();
	st->updated = wall_s();
	snprintf(st->state, sizeof(st->state), "released");
	snprintf(st->last_event, sizeof(st->last_event), "released");
	if ((rc = ueip_state_write(o->state_path, st)))
		fprintf(stderr, "ueip: cannot write the state file %s: %s\n", o->state_path,
			ueip_strerror(rc));
	say("released %s", st->address);
	return EXIT_OK;
}

static int
cmd_release(int argc, char **argv)
{
	struct opts o = { 0 };
	struct ueip_state st;

	if (parse_opts(argc, argv, &o) || o.server || o.on_change || o.once || o.port || o.json) {
		fprintf(stderr, "ueip: usage: ueip public release [--state FILE] [--timeout S]\n");
		return EXIT_LOCAL;
	}
	if (read_state(o.state_path, &st))
		return EXIT_LOCAL;
	if (ueip_state_pid_alive(&st) && stop_agent(&st)) {
		if (read_state(o.state_path, &st))
			return EXIT_LOCAL;
		if (strcmp(st.state, "released") == 0) {
			int unanswered = strcmp(st.last_event, "release unanswered") == 0;
			say("released %s%s", st.address,
			    unanswered ? " (the server did not answer; the mapping ends at its expiry)"
				       : "");
			return unanswered ? EXIT_NO_ANSWER : EXIT_OK;
		}
	}
	if (strcmp(st.state, "released") == 0) {
		say("released %s (already)", st.address);
		return EXIT_OK;
	}
	if (strcmp(st.state, "withdrawn") == 0) {
		fprintf(stderr, "ueip: nothing to release: %s was withdrawn by the network\n",
			st.address);
		return EXIT_LOCAL;
	}
	return release_direct(&o, &st);
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	ueip_log_set_sink(log_sink, NULL);
	ueip_log_set_level(UEIP_LOG_WARN);	/* events go to stdout; --verbose for the rest */
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc < 3 || strcmp(argv[1], "public") != 0) {
		usage(stderr);
		return EXIT_LOCAL;
	}
	if (strcmp(argv[2], "request") == 0)
		return cmd_request(argc - 2, argv + 2);
	if (strcmp(argv[2], "status") == 0)
		return cmd_status(argc - 2, argv + 2);
	if (strcmp(argv[2], "release") == 0)
		return cmd_release(argc - 2, argv + 2);
	usage(stderr);
	return EXIT_LOCAL;
}
