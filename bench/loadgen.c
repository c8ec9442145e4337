// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: control-socket load generator
 *
 * ueip_loadgen drives one ueipd control socket with session-create (and
 * optionally session-release) requests and prints throughput and latency.
 * It is a benchmark tool: it prints figures, it does not judge them.
 *
 * One thread, one epoll set, CONNS Unix-socket connections. Each connection
 * keeps DEPTH requests in flight: newline-delimited JSON, pipelined; ueipd
 * answers in order per connection, so a ring of send times per connection
 * pairs every answer with its request. Latency is send -> answer.
 *
 * SUPIs are "imsi-" + 15 digits: "0010", the --prefix digits, then a
 * zero-padded counter filling the rest, so runs with different prefixes
 * never collide. In create-release mode each work item is a create of a
 * SUPI immediately followed (same connection, pipelined) by its release.
 *
 * Every answer must carry "result":0; any other result counts as a failure
 * (the first few are printed to stderr).
 *
 * Output lines ("name value"): creates_per_sec, requests_per_sec,
 * latency_p50_us, latency_p99_us, latency_p999_us, latency_max_us (over
 * creates), release_latency_p50_us/p99 (create-release only), failures,
 * creates, elapsed_s, loadgen_cpu_s (this process's user+system time).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IMSI_DIGITS 15
#define MCC_MNC "0010"
#define RBUF_CAP (256 * 1024)
#define REQ_MAX 512
#define FAIL_SHOWN 5

enum op { OP_CREATE, OP_CREATE_RELEASE };

struct opts {
	const char *socket;
	unsigned conns, depth;
	uint64_t total;
	enum op op;
	const char *prefix;
	const char *dnn, *snssai, *ip_type;
	double timeout_s;
};

struct inflight {
	uint64_t sent_ns;
	uint8_t is_release;
};

struct conn {
	int fd;
	char *wbuf;
	size_t wlen, woff, wcap;
	char *rbuf;
	size_t rlen;
	struct inflight *ring;	/* capacity ring_cap; head = oldest */
	unsigned ring_cap, head, count;
	int want_out;
};

struct stats {
	uint64_t *create_ns, *release_ns;
	uint64_t ncreate, nrelease;
	uint64_t failures, answers;
};

static struct opts opt = {
	.conns = 64, .depth = 8, .total = 200000, .op = OP_CREATE, .prefix = "1",
	.dnn = "internet", .snssai = "1", .ip_type = "v4", .timeout_s = 300,
};
static uint64_t next_item;	/* next counter to issue */
static unsigned counter_width;
static uint64_t counter_max;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: ueip_loadgen -s SOCKET [-c CONNS] [-d DEPTH] [-n TOTAL]\n"
		"                    [--op create|create-release] [--prefix DIGITS]\n"
		"                    [--dnn DNN] [--snssai S] [--ip-type v4|v6|v4v6] [--timeout SECONDS]\n"
		"  defaults: -c 64 -d 8 -n 200000 --op create --prefix 1 --dnn internet --snssai 1 --ip-type v4\n");
	exit(2);
}

static uint64_t
parse_u64(const char *text, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max) {
		fprintf(stderr, "ueip_loadgen: %s must be an integer in %" PRIu64 "..%" PRIu64 "\n",
			what, min, max);
		exit(2);
	}
	return v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, 's' }, { "conns", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' }, { "total", required_argument, NULL, 'n' },
		{ "op", required_argument, NULL, 'o' }, { "prefix", required_argument, NULL, 'p' },
		{ "dnn", required_argument, NULL, 'D' }, { "snssai", required_argument, NULL, 'S' },
		{ "ip-type", required_argument, NULL, 'i' }, { "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:c:d:n:t:h", longs, NULL)) != -1) {
		switch (c) {
		case 's': opt.socket = optarg; break;
		case 'c': opt.conns = (unsigned)parse_u64(optarg, "CONNS", 1, 4096); break;
		case 'd': opt.depth = (unsigned)parse_u64(optarg, "DEPTH", 1, 4096); break;
		case 'n': opt.total = parse_u64(optarg, "TOTAL", 1, 100000000); break;
		case 't': opt.timeout_s = (double)parse_u64(optarg, "--timeout", 1, 86400); break;
		case 'p': opt.prefix = optarg; break;
		case 'D': opt.dnn = optarg; break;
		case 'S': opt.snssai = optarg; break;
		case 'i': opt.ip_type = optarg; break;
		case 'o':
			if (strcmp(optarg, "create") == 0)
				opt.op = OP_CREATE;
			else if (strcmp(optarg, "create-release") == 0)
				opt.op = OP_CREATE_RELEASE;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (!opt.socket || optind != argc)
		usage();
	if (strspn(opt.prefix, "0123456789") != strlen(opt.prefix) ||
	    strlen(opt.prefix) > IMSI_DIGITS - strlen(MCC_MNC) - 1) {
		fprintf(stderr, "ueip_loadgen: --prefix must be 0..%zu digits\n",
			IMSI_DIGITS - strlen(MCC_MNC) - 1);
		exit(2);
	}
	counter_width = (unsigned)(IMSI_DIGITS - strlen(MCC_MNC) - strlen(opt.prefix));
	counter_max = 1;
	for (unsigned i = 0; i < counter_width && counter_max < UINT64_MAX / 10; i++)
		counter_max *= 10;
	if (opt.total > counter_max) {
		fprintf(stderr, "ueip_loadgen: TOTAL exceeds the %u-digit counter left by --prefix\n",
			counter_width);
		exit(2);
	}
}

/* ---- connections ---- */

static int
conn_open(struct conn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(opt.socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ueip_loadgen: socket path too long\n");
		return -1;
	}
	memcpy(sa.sun_path, opt.socket, strlen(opt.socket) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ueip_loadgen: connect %s: %s\n", opt.socket, strerror(errno));
		return -1;
	}
	c->ring_cap = opt.depth + 2;
	c->wcap = (size_t)c->ring_cap * REQ_MAX;
	c->ring = calloc(c->ring_cap, sizeof(*c->ring));
	c->wbuf = malloc(c->wcap);
	c->rbuf = malloc(RBUF_CAP);
	if (!c->ring || !c->wbuf || !c->rbuf) {
		fprintf(stderr, "ueip_loadgen: out of memory\n");
		return -1;
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->ring);
	free(c->wbuf);
	free(c->rbuf);
}

static int
conn_queue(struct conn *c, const char *command, uint64_t item, int is_release)
{
	char supi[IMSI_DIGITS + 8];
	int n;

	snprintf(supi, sizeof(supi), "imsi-%s%s%0*" PRIu64, MCC_MNC, opt.prefix, (int)counter_width,
		 item);
	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (c->wcap - c->wlen < REQ_MAX) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (is_release)
		n = snprintf(c->wbuf + c->wlen, c->wcap - c->wlen,
			     "{\"command\":\"%s\",\"arguments\":{\"supi\":\"%s\",\"dnn\":\"%s\","
			     "\"snssai\":\"%s\",\"pdu-session-id\":1}}\n",
			     command, supi, opt.dnn, opt.snssai);
	else
		n = snprintf(c->wbuf + c->wlen, c->wcap - c->wlen,
			     "{\"command\":\"%s\",\"arguments\":{\"supi\":\"%s\",\"dnn\":\"%s\","
			     "\"snssai\":\"%s\",\"pdu-session-id\":1,\"ip-type\":\"%s\"}}\n",
			     command, supi, opt.dnn, opt.snssai, opt.ip_type);
	if (n < 0 || (size_t)n >= c->wcap - c->wlen)
		return -1;
	c->wlen += (size_t)n;
	c->ring[(c->head + c->count) % c->ring_cap] =
		(struct inflight){ .sent_ns = now_ns(), .is_release = (uint8_t)is_release };
	c->count++;
	return 0;
}

/* Top the connection up to DEPTH requests in flight. */
static int
conn_fill(struct conn *c)
{
	unsigned per_item = opt.op == OP_CREATE_RELEASE ? 2 : 1;

	while (next_item < opt.total && c->count < opt.depth) {
		uint64_t item = next_item++;
		if (conn_queue(c, "session-create", item, 0))
			return -1;
		if (per_item == 2 && conn_queue(c, "session-release", item, 1))
			return -1;
	}
	return 0;
}

static int
conn_write(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			fprintf(stderr, "ueip_loadgen: write: %s\n", strerror(errno));
			return -1;
		}
		c->woff += (size_t)n;
	}
	return 0;
}

static int
answer_result(const char *line, size_t len)
{
	const char *p = memmem(line, len, "\"result\"", 8);
	const char *end = line + len;

	if (!p)
		return -1;
	p += 8;
	while (p < end && (*p == ' ' || *p == ':'))
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	return (int)strtol(p, NULL, 10);
}

static int
conn_answer(struct conn *c, struct stats *st, const char *line, size_t len, uint64_t t)
{
	struct inflight in;
	int result;

	if (c->count == 0) {
		fprintf(stderr, "ueip_loadgen: answer with no request in flight: %.*s\n", (int)len, line);
		return -1;
	}
	in = c->ring[c->head];
	c->head = (c->head + 1) % c->ring_cap;
	c->count--;
	st->answers++;
	if (in.is_release)
		st->release_ns[st->nrelease++] = t - in.sent_ns;
	else
		st->create_ns[st->ncreate++] = t - in.sent_ns;
	result = answer_result(line, len);
	if (result != 0) {
		if (st->failures < FAIL_SHOWN)
			fprintf(stderr, "ueip_loadgen: failed answer: %.*s\n", (int)(len > 300 ? 300 : len),
				line);
		st->failures++;
	}
	return 0;
}

static int
conn_read(struct conn *c, struct stats *st)
{
	for (;;) {
		ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF_CAP - c->rlen);
		size_t start = 0;
		uint64_t t;
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == 0) {
			fprintf(stderr, "ueip_loadgen: ueipd closed a connection with %u in flight\n",
				c->count);
			return -1;
		}
		if (n < 0) {
			fprintf(stderr, "ueip_loadgen: read: %s\n", strerror(errno));
			return -1;
		}
		c->rlen += (size_t)n;
		t = now_ns();
		while ((nl = memchr(c->rbuf + start, '\n', c->rlen - start))) {
			if (conn_answer(c, st, c->rbuf + start, (size_t)(nl - (c->rbuf + start)), t))
				return -1;
			start = (size_t)(nl - c->rbuf) + 1;
		}
		memmove(c->rbuf, c->rbuf + start, c->rlen - start);
		c->rlen -= start;
		if (c->rlen == RBUF_CAP) {
			fprintf(stderr, "ueip_loadgen: answer longer than %d bytes\n", RBUF_CAP);
			return -1;
		}
	}
}

static int
conn_update_events(int ep, struct conn *c, unsigned idx)
{
	int want = c->woff < c->wlen;
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = idx };

	if (want == c->want_out)
		return 0;
	c->want_out = want;
	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* ---- figures ---- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_us(const uint64_t *sorted, uint64_t n, double p)
{
	uint64_t i;

	if (n == 0)
		return 0;
	i = (uint64_t)(p * (double)(n - 1) + 0.5);
	return (double)sorted[i] / 1000.0;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
report(struct stats *st, double elapsed, int timed_out)
{
	uint64_t requests = st->ncreate + st->nrelease;

	qsort(st->create_ns, st->ncreate, sizeof(uint64_t), cmp_u64);
	qsort(st->release_ns, st->nrelease, sizeof(uint64_t), cmp_u64);
	printf("creates %" PRIu64 "\n", st->ncreate);
	printf("elapsed_s %.3f\n", elapsed);
	printf("creates_per_sec %.0f\n", (double)st->ncreate / elapsed);
	printf("requests_per_sec %.0f\n", (double)requests / elapsed);
	printf("latency_p50_us %.0f\n", pct_us(st->create_ns, st->ncreate, 0.50));
	printf("latency_p99_us %.0f\n", pct_us(st->create_ns, st->ncreate, 0.99));
	printf("latency_p999_us %.0f\n", pct_us(st->create_ns, st->ncreate, 0.999));
	printf("latency_max_us %.0f\n", pct_us(st->create_ns, st->ncreate, 1.0));
	if (opt.op == OP_CREATE_RELEASE) {
		printf("releases_per_sec %.0f\n", (double)st->nrelease / elapsed);
		printf("release_latency_p50_us %.0f\n", pct_us(st->release_ns, st->nrelease, 0.50));
		printf("release_latency_p99_us %.0f\n", pct_us(st->release_ns, st->nrelease, 0.99));
	}
	printf("failures %" PRIu64 "\n", st->failures);
	printf("loadgen_cpu_s %.3f\n", cpu_seconds());
	if (timed_out)
		printf("timed_out 1\n");
}

static int
run(struct conn *conns, struct stats *st, int ep, uint64_t expected, double *elapsed)
{
	struct epoll_event evs[256];
	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(opt.timeout_s * 1e9);

	for (unsigned i = 0; i < opt.conns; i++) {
		if (conn_fill(&conns[i]) || conn_write(&conns[i]) || conn_update_events(ep, &conns[i], i))
			return -1;
	}
	while (st->answers < expected) {
		int n = epoll_wait(ep, evs, 256, 1000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("ueip_loadgen: epoll_wait");
			return -1;
		}
		for (int k = 0; k < n; k++) {
			struct conn *c = &conns[evs[k].data.u32];
			if ((evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(c, st))
				return -1;
			if (conn_fill(c) || conn_write(c) || conn_update_events(ep, c, evs[k].data.u32))
				return -1;
		}
		if (now_ns() > deadline) {
			*elapsed = (double)(now_ns() - t0) / 1e9;
			return 1;
		}
	}
	*elapsed = (double)(now_ns() - t0) / 1e9;
	return 0;
}

int
main(int argc, char **argv)
{
	struct stats st = { 0 };
	struct conn *conns;
	uint64_t expected;
	double elapsed = 0;
	int ep, rc = 0;

	parse_args(argc, argv);
	expected = opt.total * (opt.op == OP_CREATE_RELEASE ? 2 : 1);
	st.create_ns = malloc(opt.total * sizeof(uint64_t));
	st.release_ns = malloc((opt.op == OP_CREATE_RELEASE ? opt.total : 1) * sizeof(uint64_t));
	conns = calloc(opt.conns, sizeof(*conns));
	if (!st.create_ns || !st.release_ns || !conns || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		fprintf(stderr, "ueip_loadgen: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < opt.conns; i++)
		conns[i].fd = -1;
	for (unsigned i = 0; i < opt.conns && rc == 0; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		if (conn_open(&conns[i]) || epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev))
			rc = -1;
	}
	if (rc == 0)
		rc = run(conns, &st, ep, expected, &elapsed);
	if (rc >= 0)
		report(&st, elapsed > 0 ? elapsed : 1e-9, rc == 1);
	for (unsigned i = 0; i < opt.conns; i++)
		conn_close(&conns[i]);
	close(ep);
	free(st.create_ns);
	free(st.release_ns);
	free(conns);
	return rc < 0 ? 1 : (st.failures || rc == 1) ? 3 : 0;
}
