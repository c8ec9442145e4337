// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: PCP load generator
 *
 * pcp_loadgen sends PCP (RFC 6887) MAP or ANNOUNCE requests to one server
 * from many client source addresses and prints throughput, latency and the
 * result codes it got back. It is a benchmark tool: it prints figures, it
 * does not judge them. It writes and reads the PCP octets itself, on
 * purpose independent of ueip's codec in src/proto, so that it also
 * cross-checks that codec.
 *
 * Sources. Client i (0 <= i < --sources) sends from --source-base + i, each
 * from its own UDP socket bound to that address (the server authorizes by
 * source address, so the addresses must exist on this host, e.g. added to
 * the namespace's interface by bench/pcp_bench.sh).
 *
 * Mappings. The mapping space has --sources x --mappings-per-source slots.
 * Mapping k belongs to source k % sources and uses slot s = k / sources,
 * i.e. internal port --port-base + s (protocol 0: port 0, one per source),
 * so consecutive mappings go to different sources and load spreads evenly
 * over them. Its 12-octet nonce is a hash of (--seed, k): a later run with
 * the same seed renews the mappings an earlier run created (--existing).
 * The suggested external port is --port-base + s (--ext-port internal),
 * 0 (zero), or 1024 + k mod 64512 (unique, the default: no two mappings of
 * a 64 k space suggest the same port, so a server that honours suggestions
 * never has to search for a free one).
 *
 * Phases. (1) --prefill N: create mappings [--existing, N) and wait until
 * every one is answered or has timed out (or --prefill-timeout passed: it
 * then stops sending and waits for the outstanding ones); prints how long
 * that took. (2) The measured phase, --mode:
 *   new       fresh mappings from the first index not yet used (L) upward;
 *   renew     the same nonce, port and protocol again for mappings
 *             [0, L), round robin (L = the prefill end, else --existing,
 *             else the whole space);
 *   announce  ANNOUNCE (opcode 0, 24 octets) from every source in turn;
 *   delete    MAP with lifetime 0 for mappings [--first (default 0), L);
 *   none      no measured phase.
 * new starts at --first when given, else at L.
 * It lasts --duration seconds or --count requests, whichever comes first
 * (--duration 0: only --count), then waits for the answers still
 * outstanding. "mappings_level_after" is L after it: new raises it, a delete
 * that removed [--first, L) entirely lowers it to --first.
 *
 * Load. Closed loop with at most --window requests outstanding, or open
 * loop at --rate requests/s (still at most --window outstanding; the
 * offered rate achieved is printed). The prefill is always closed loop. A request unanswered after
 * --timeout-ms is sent again, identical, up to --retries times, then
 * counted as a timeout. Latency runs from its first transmission to the
 * answer. At most one request per mapping (per source for ANNOUNCE) is
 * outstanding, so the window is clamped to the number of mappings or
 * sources a mode cycles over.
 *
 * Matching. An answer is matched to its request by (the socket it came in
 * on = the source, internal port, nonce, protocol) for MAP, and by the
 * socket for ANNOUNCE. An answer for a request no longer outstanding (it
 * was answered already, or timed out) counts as late_or_duplicate; one
 * that matches nothing we sent, or is malformed, as unmatched (the first
 * few are shown on stderr).
 *
 * I/O. One thread, one epoll set over the sockets; answers are read with
 * recvmmsg, requests queued for the same socket go out in one sendmmsg.
 * Outstanding requests sit in a ring ordered by deadline (all timeouts are
 * equal); an entry whose request has been answered is skipped when it
 * reaches the head, or dropped when the ring is full and is compacted.
 * Rates are answers over the time from the first request to the last
 * answer: the wait for requests that are never answered is not counted. Latencies go into a log-linear histogram (64 steps per
 * power of two, under 1.6 % error), so memory does not grow with the run.
 *
 * Output: "name value" lines, comments start with "# ". Exit 0, 1 on a
 * setup error, 2 on a usage error, 3 when a request timed out or a MAP got
 * a result other than SUCCESS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PCP_VERSION 2
#define PCP_OP_ANNOUNCE 0
#define PCP_OP_MAP 1
#define PCP_R_BIT 0x80
#define PCP_HDR_LEN 24
#define PCP_MAP_DATA_LEN 36
#define PCP_MAP_LEN (PCP_HDR_LEN + PCP_MAP_DATA_LEN)
#define PCP_NONCE_LEN 12
#define PCP_MAX_LEN 1100
#define PCP_RESULT_NAMES 14

#define RECV_BATCH 64
#define SEND_BATCH 64
#define EPOLL_BATCH 256
#define SHOWN_MAX 5
#define SPACE_MAX (1u << 24)		/* mappings in the space */
#define SOURCES_MAX (1u << 20)
#define UNIQUE_PORT_FIRST 1024
#define UNIQUE_PORTS (65536 - UNIQUE_PORT_FIRST)

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (2 * HIST_SUB + (64 - HIST_SUB_BITS - 1) * HIST_SUB)

enum mode { MODE_NONE, MODE_NEW, MODE_RENEW, MODE_ANNOUNCE, MODE_DELETE, MODE_PREFILL };
enum ext_port { EXT_UNIQUE, EXT_INTERNAL, EXT_ZERO };

static const char *const mode_names[] = { "none", "new", "renew", "announce", "delete", "prefill" };
static const char *const result_names[PCP_RESULT_NAMES] = {
	"success", "unsupp_version", "not_authorized", "malformed_request", "unsupp_opcode",
	"unsupp_option", "malformed_option", "network_failure", "no_resources",
	"unsupp_protocol", "user_ex_quota", "cannot_provide_external", "address_mismatch",
	"excessive_remote_peers",
};

struct opts {
	struct sockaddr_in server;
	uint32_t source_base;		/* host order */
	uint32_t sources, per_source;
	enum mode mode;
	double rate;			/* requests/s, 0 = closed loop */
	uint32_t window;
	double duration_s;
	uint64_t count;			/* 0 = no limit */
	uint64_t prefill, existing;
	int64_t first;			/* new, delete: first mapping index, -1 = default */
	double prefill_timeout_s;
	uint8_t protocol;
	uint32_t lifetime;
	uint16_t port_base;
	enum ext_port ext_port;
	uint32_t timeout_ms, retries;
	uint64_t seed;
};

/* One mapping (or, for ANNOUNCE, one source). */
struct item {
	uint64_t first_ns;		/* first transmission of the outstanding request */
	uint32_t seq;			/* bumped per transmission; ring entries carry it */
	uint8_t tries;			/* transmissions of the outstanding request */
	uint8_t busy;			/* a request is outstanding */
};

struct ring_entry {
	uint64_t deadline_ns;
	uint32_t k, seq;
};

struct phase {
	enum mode mode;
	uint64_t t0_ns, t_end_ns;	/* start; last answer or end of the drain */
	uint64_t issued;		/* distinct requests (not retransmissions) */
	uint64_t retries, answered, timeouts, late, unmatched, send_errors, abandoned;
	uint64_t results[256];
	uint64_t hist[HIST_BUCKETS];
	uint64_t lat_max_ns;
	uint32_t life_min, life_max;
	int have_life;
	uint32_t epoch_first, epoch_last;
	int have_epoch;
	uint8_t sample_ext[16];
	uint16_t sample_port;
	int have_sample;
	uint64_t k_end;			/* first mapping index not issued */
	int cut;			/* stopped by --prefill-timeout or a signal */
};

/* The generator of the current phase. */
struct gen {
	enum mode mode;
	uint64_t next, end;		/* new, prefill: next index, end of the range */
	uint64_t cycle;			/* renew, announce: size of the cycle */
	uint64_t cursor;
	uint64_t limit;			/* distinct requests to issue, 0 = no limit */
	uint64_t stop_ns;		/* stop issuing at, 0 = never */
};

struct txbatch {
	struct mmsghdr msg[SEND_BATCH];
	struct iovec iov[SEND_BATCH];
	uint8_t buf[SEND_BATCH][PCP_MAP_LEN];
	uint32_t src;
	unsigned n;
};

static struct opts opt = {
	.sources = 1, .per_source = 1000, .mode = MODE_NEW, .window = 64, .duration_s = 10,
	.protocol = 17, .lifetime = 3600, .port_base = 1024, .ext_port = EXT_UNIQUE,
	.timeout_ms = 2000, .retries = 2, .seed = 1, .first = -1,
};

static int *fds;			/* per source */
static struct item *items;
static uint64_t nitems;
static struct ring_entry *ring;
static uint32_t ring_cap, ring_head, ring_len;	/* ring_cap is a power of two */
static uint64_t outstanding;
static uint32_t window;			/* opt.window clamped for the phase */
static struct txbatch tx;
static volatile sig_atomic_t stop_signal;
static unsigned shown;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* ---- the mapping space ---- */

static void
mapping_nonce(uint64_t k, uint8_t nonce[PCP_NONCE_LEN])
{
	uint64_t a = splitmix64(opt.seed * 0x2545f4914f6cdd1dULL + 2 * k);
	uint64_t b = splitmix64(opt.seed * 0x2545f4914f6cdd1dULL + 2 * k + 1);

	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(a >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		nonce[8 + i] = (uint8_t)(b >> (24 - 8 * i));
}

static uint32_t
mapping_source(uint64_t k)
{
	return (uint32_t)(k % opt.sources);
}

static uint16_t
mapping_internal_port(uint64_t k)
{
	return opt.protocol == 0 ? 0 : (uint16_t)(opt.port_base + k / opt.sources);
}

static uint16_t
mapping_suggested_port(uint64_t k)
{
	if (opt.protocol == 0)
		return 0;
	switch (opt.ext_port) {
	case EXT_UNIQUE: return (uint16_t)(UNIQUE_PORT_FIRST + k % UNIQUE_PORTS);
	case EXT_INTERNAL: return mapping_internal_port(k);
	case EXT_ZERO: break;
	}
	return 0;
}

static void
put_client_address(uint8_t *p, uint32_t src)
{
	memset(p, 0, 10);
	p[10] = p[11] = 0xff;
	put32(p + 12, opt.source_base + src);
}

/* RFC 6887 §7.1 and §11.1: header, then the MAP opcode data. */
static size_t
build_map(uint8_t *b, uint64_t k, uint32_t lifetime)
{
	b[0] = PCP_VERSION;
	b[1] = PCP_OP_MAP;
	b[2] = b[3] = 0;
	put32(b + 4, lifetime);
	put_client_address(b + 8, mapping_source(k));
	mapping_nonce(k, b + 24);
	b[36] = opt.protocol;
	b[37] = b[38] = b[39] = 0;
	put16(b + 40, mapping_internal_port(k));
	put16(b + 42, mapping_suggested_port(k));
	memset(b + 44, 0, 10);		/* suggested external address ::ffff:0.0.0.0 */
	b[54] = b[55] = 0xff;
	memset(b + 56, 0, 4);
	return PCP_MAP_LEN;
}

/* RFC 6887 §14.1: ANNOUNCE request, lifetime 0, no opcode data. */
static size_t
build_announce(uint8_t *b, uint32_t src)
{
	b[0] = PCP_VERSION;
	b[1] = PCP_OP_ANNOUNCE;
	b[2] = b[3] = 0;
	put32(b + 4, 0);
	put_client_address(b + 8, src);
	return PCP_HDR_LEN;
}

/* ---- latency histogram ---- */

static unsigned
hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

static uint64_t
hist_value(unsigned idx)
{
	unsigned j, shift;

	if (idx < 2 * HIST_SUB)
		return idx;
	j = idx - 2 * HIST_SUB;
	shift = j / HIST_SUB + 1;
	return ((uint64_t)(j % HIST_SUB + HIST_SUB) << shift) + (1ULL << shift) / 2;
}

static double
hist_pct_us(const struct phase *ph, double p)
{
	uint64_t n = ph->answered, rank, seen = 0;

	if (n == 0)
		return 0;
	if (p >= 1.0)
		return (double)ph->lat_max_ns / 1000.0;
	rank = (uint64_t)(p * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += ph->hist[i];
		if (seen >= rank) {
			uint64_t v = hist_value(i);
			return (double)(v < ph->lat_max_ns ? v : ph->lat_max_ns) / 1000.0;
		}
	}
	return (double)ph->lat_max_ns / 1000.0;
}

/* ---- options ---- */

static void
usage(void)
{
	fprintf(stderr,
		"usage: pcp_loadgen --server ADDR[:PORT] [--sources N] [--source-base ADDR]\n"
		"         [--mappings-per-source M] [--mode new|renew|announce|delete|none]\n"
		"         [--window W] [--rate R] [--duration S] [--count N]\n"
		"         [--prefill N] [--existing N] [--prefill-timeout S] [--first K]\n"
		"         [--protocol tcp|udp|0] [--lifetime S] [--port-base P]\n"
		"         [--ext-port unique|internal|zero] [--timeout-ms T] [--retries R] [--seed X]\n"
		"  defaults: port 5351, --sources 1 --source-base 100.64.0.1 --mappings-per-source 1000\n"
		"            --mode new --window 64 (closed loop) --duration 10 --protocol udp\n"
		"            --lifetime 3600 --port-base 1024 --ext-port unique --timeout-ms 2000\n"
		"            --retries 2 --seed 1\n"
		"  mapping k: source k %% N, internal port P + k / N, nonce = hash(seed, k)\n");
	exit(2);
}

static void
die_usage(const char *what, const char *value)
{
	fprintf(stderr, "pcp_loadgen: bad %s: %s\n", what, value);
	exit(2);
}

static uint64_t
parse_u64(const char *text, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
		fprintf(stderr, "pcp_loadgen: %s must be an integer in %" PRIu64 "..%" PRIu64 "\n",
			what, min, max);
		exit(2);
	}
	return v;
}

static double
parse_double(const char *text, const char *what, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !(v >= min && v <= max)) {
		fprintf(stderr, "pcp_loadgen: %s must be a number in %g..%g\n", what, min, max);
		exit(2);
	}
	return v;
}

static uint32_t
parse_ipv4(const char *text, const char *what)
{
	struct in_addr a;

	if (inet_pton(AF_INET, text, &a) != 1)
		die_usage(what, text);
	return ntohl(a.s_addr);
}

static void
parse_server(const char *text)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(text, ':');
	size_t hlen = colon ? (size_t)(colon - text) : strlen(text);

	if (hlen == 0 || hlen >= sizeof(host))
		die_usage("--server", text);
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	opt.server.sin_family = AF_INET;
	opt.server.sin_addr.s_addr = htonl(parse_ipv4(host, "--server"));
	opt.server.sin_port = htons(colon ? (uint16_t)parse_u64(colon + 1, "--server port", 1, 65535)
					  : 5351);
}

static enum mode
parse_mode(const char *text)
{
	for (unsigned i = 0; i < MODE_PREFILL; i++)
		if (strcmp(text, mode_names[i]) == 0)
			return (enum mode)i;
	die_usage("--mode", text);
	return MODE_NONE;
}

static void
parse_args(int argc, char **argv)
{
	enum {
		O_SOURCES = 256, O_SOURCE_BASE, O_PER_SOURCE, O_MODE, O_WINDOW, O_RATE, O_DURATION,
		O_COUNT, O_PREFILL, O_EXISTING, O_PREFILL_TIMEOUT, O_PROTOCOL, O_LIFETIME,
		O_PORT_BASE, O_EXT_PORT, O_TIMEOUT_MS, O_RETRIES, O_SEED, O_FIRST,
	};
	static const struct option longs[] = {
		{ "server", required_argument, NULL, 's' },
		{ "sources", required_argument, NULL, O_SOURCES },
		{ "source-base", required_argument, NULL, O_SOURCE_BASE },
		{ "mappings-per-source", required_argument, NULL, O_PER_SOURCE },
		{ "mode", required_argument, NULL, O_MODE },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "count", required_argument, NULL, O_COUNT },
		{ "prefill", required_argument, NULL, O_PREFILL },
		{ "existing", required_argument, NULL, O_EXISTING },
		{ "first", required_argument, NULL, O_FIRST },
		{ "prefill-timeout", required_argument, NULL, O_PREFILL_TIMEOUT },
		{ "protocol", required_argument, NULL, O_PROTOCOL },
		{ "lifetime", required_argument, NULL, O_LIFETIME },
		{ "port-base", required_argument, NULL, O_PORT_BASE },
		{ "ext-port", required_argument, NULL, O_EXT_PORT },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT_MS },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "seed", required_argument, NULL, O_SEED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, have_server = 0;
	uint64_t space;

	opt.source_base = parse_ipv4("100.64.0.1", "--source-base");
	while ((c = getopt_long(argc, argv, "s:h", longs, NULL)) != -1) {
		switch (c) {
		case 's': parse_server(optarg); have_server = 1; break;
		case O_SOURCES: opt.sources = (uint32_t)parse_u64(optarg, "--sources", 1, SOURCES_MAX); break;
		case O_SOURCE_BASE: opt.source_base = parse_ipv4(optarg, "--source-base"); break;
		case O_PER_SOURCE:
			opt.per_source = (uint32_t)parse_u64(optarg, "--mappings-per-source", 1, 65535);
			break;
		case O_MODE: opt.mode = parse_mode(optarg); break;
		case O_WINDOW: opt.window = (uint32_t)parse_u64(optarg, "--window", 1, 1u << 20); break;
		case O_RATE: opt.rate = parse_double(optarg, "--rate", 0, 1e9); break;
		case O_DURATION: opt.duration_s = parse_double(optarg, "--duration", 0, 86400); break;
		case O_COUNT: opt.count = parse_u64(optarg, "--count", 0, UINT64_MAX / 2); break;
		case O_PREFILL: opt.prefill = parse_u64(optarg, "--prefill", 0, SPACE_MAX); break;
		case O_EXISTING: opt.existing = parse_u64(optarg, "--existing", 0, SPACE_MAX); break;
		case O_FIRST: opt.first = (int64_t)parse_u64(optarg, "--first", 0, SPACE_MAX); break;
		case O_PREFILL_TIMEOUT:
			opt.prefill_timeout_s = parse_double(optarg, "--prefill-timeout", 0, 86400 * 7);
			break;
		case O_PROTOCOL:
			if (strcmp(optarg, "tcp") == 0)
				opt.protocol = 6;
			else if (strcmp(optarg, "udp") == 0)
				opt.protocol = 17;
			else if (strcmp(optarg, "0") == 0)
				opt.protocol = 0;
			else
				die_usage("--protocol (tcp, udp or 0)", optarg);
			break;
		case O_LIFETIME: opt.lifetime = (uint32_t)parse_u64(optarg, "--lifetime", 0, UINT32_MAX); break;
		case O_PORT_BASE: opt.port_base = (uint16_t)parse_u64(optarg, "--port-base", 1, 65535); break;
		case O_EXT_PORT:
			if (strcmp(optarg, "unique") == 0)
				opt.ext_port = EXT_UNIQUE;
			else if (strcmp(optarg, "internal") == 0)
				opt.ext_port = EXT_INTERNAL;
			else if (strcmp(optarg, "zero") == 0)
				opt.ext_port = EXT_ZERO;
			else
				die_usage("--ext-port", optarg);
			break;
		case O_TIMEOUT_MS:
			opt.timeout_ms = (uint32_t)parse_u64(optarg, "--timeout-ms", 1, 3600000);
			break;
		case O_RETRIES: opt.retries = (uint32_t)parse_u64(optarg, "--retries", 0, 100); break;
		case O_SEED: opt.seed = parse_u64(optarg, "--seed", 0, UINT64_MAX); break;
		default: usage();
		}
	}
	if (!have_server || optind != argc)
		usage();
	if (opt.protocol == 0)
		opt.per_source = 1;		/* protocol 0 means port 0: one mapping per source */
	else if ((uint32_t)opt.port_base + opt.per_source - 1 > 65535) {
		fprintf(stderr, "pcp_loadgen: --port-base + --mappings-per-source - 1 exceeds 65535\n");
		exit(2);
	}
	if ((uint64_t)opt.source_base + opt.sources - 1 > UINT32_MAX) {
		fprintf(stderr, "pcp_loadgen: --source-base + --sources runs past 255.255.255.255\n");
		exit(2);
	}
	space = (uint64_t)opt.sources * opt.per_source;
	if (space > SPACE_MAX) {
		fprintf(stderr, "pcp_loadgen: --sources x --mappings-per-source exceeds %u\n", SPACE_MAX);
		exit(2);
	}
	if (opt.prefill > space || opt.existing > space) {
		fprintf(stderr, "pcp_loadgen: --prefill/--existing exceed the mapping space (%" PRIu64
			" = --sources x --mappings-per-source)\n", space);
		exit(2);
	}
	if (opt.duration_s == 0 && opt.count == 0 && opt.mode != MODE_NONE) {
		fprintf(stderr, "pcp_loadgen: --duration 0 needs --count\n");
		exit(2);
	}
}

/* ---- sockets ---- */

static int
sockets_open(void)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)opt.sources + 64;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		perror("pcp_loadgen: epoll_create1");
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (rl.rlim_max < need)
			rl.rlim_max = need;	/* root may raise the hard limit */
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr, "pcp_loadgen: %u sources need %llu open files: %s\n",
				opt.sources, (unsigned long long)need, strerror(errno));
			close(ep);
			return -1;
		}
	}
	fds = malloc(opt.sources * sizeof(*fds));
	if (!fds) {
		fprintf(stderr, "pcp_loadgen: out of memory\n");
		close(ep);
		return -1;
	}
	for (uint32_t i = 0; i < opt.sources; i++)
		fds[i] = -1;
	for (uint32_t i = 0; i < opt.sources; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(opt.source_base + i) };
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		char a[INET_ADDRSTRLEN];

		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev)) {
			inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a));
			fprintf(stderr, "pcp_loadgen: source %s: %s%s\n", a, strerror(errno),
				errno == EADDRNOTAVAIL ? " (not an address of this host: add it first)" : "");
			close(ep);
			return -1;
		}
	}
	return ep;
}

static void
sockets_close(void)
{
	for (uint32_t i = 0; fds && i < opt.sources; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

/* ---- sending ---- */

static void
tx_flush(struct phase *ph)
{
	unsigned done = 0;

	while (done < tx.n && stop_signal < 2) {
		int n = sendmmsg(fds[tx.src], tx.msg + done, tx.n - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fds[tx.src], .events = POLLOUT };
			(void)poll(&p, 1, 100);
			continue;
		}
		if (n < 0) {
			/* Count it and go on: the request times out and is retried. */
			if (ph->send_errors++ < SHOWN_MAX)
				fprintf(stderr, "pcp_loadgen: sendmmsg: %s\n", strerror(errno));
			done++;
			continue;
		}
		done += (unsigned)n;
	}
	tx.n = 0;
}

static void
ring_push(uint32_t k, uint32_t seq, uint64_t deadline)
{
	ring[(ring_head + ring_len) & (ring_cap - 1)] =
		(struct ring_entry){ .deadline_ns = deadline, .k = k, .seq = seq };
	ring_len++;
}

/*
 * Drop the entries of requests answered (or sent again) since they were
 * queued. At most window entries are live, so this frees at least
 * ring_cap - window slots: a request that is never answered holds up the
 * head until its deadline, but never the sending.
 */
static void
ring_compact(void)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < ring_len; i++) {
		struct ring_entry e = ring[(ring_head + i) & (ring_cap - 1)];
		if (items[e.k].busy && items[e.k].seq == e.seq)
			ring[(ring_head + kept++) & (ring_cap - 1)] = e;
	}
	ring_len = kept;
}

/* Queue one transmission of item k (a new request or a retransmission). */
static void
transmit(struct phase *ph, enum mode mode, uint64_t k, uint64_t now)
{
	struct item *it = &items[k];
	uint32_t src = mode == MODE_ANNOUNCE ? (uint32_t)k : mapping_source(k);
	size_t len;

	if (tx.n > 0 && (tx.src != src || tx.n == SEND_BATCH))
		tx_flush(ph);
	tx.src = src;
	if (mode == MODE_ANNOUNCE)
		len = build_announce(tx.buf[tx.n], src);
	else
		len = build_map(tx.buf[tx.n], k, mode == MODE_DELETE ? 0 : opt.lifetime);
	tx.iov[tx.n] = (struct iovec){ .iov_base = tx.buf[tx.n], .iov_len = len };
	tx.msg[tx.n].msg_hdr = (struct msghdr){
		.msg_name = &opt.server, .msg_namelen = sizeof(opt.server),
		.msg_iov = &tx.iov[tx.n], .msg_iovlen = 1,
	};
	tx.n++;
	it->seq++;
	it->tries++;
	ring_push((uint32_t)k, it->seq, now + (uint64_t)opt.timeout_ms * 1000000ULL);
}

/* The next item to issue a new request for, or -1 (nothing now or ever). */
static int64_t
gen_next(struct gen *g)
{
	if (g->cycle == 0)
		return g->next < g->end ? (int64_t)g->next++ : -1;
	for (uint64_t tried = 0; tried < g->cycle; tried++) {
		uint64_t k = g->cursor;
		g->cursor = g->cursor + 1 == g->cycle ? 0 : g->cursor + 1;
		if (!items[k].busy)
			return (int64_t)k;
	}
	return -1;
}

static int
gen_exhausted(const struct gen *g, const struct phase *ph)
{
	if (g->limit && ph->issued >= g->limit)
		return 1;
	return g->cycle == 0 && g->next >= g->end;
}

/* Issue new requests up to the window (and the rate). */
static void
fill(struct phase *ph, struct gen *g, uint64_t now)
{
	uint64_t allowed = UINT64_MAX;

	if (opt.rate > 0 && ph->mode != MODE_PREFILL) {
		double due = opt.rate * (double)(now - ph->t0_ns) / 1e9 + 1;
		allowed = due > (double)ph->issued ? (uint64_t)(due - (double)ph->issued) : 0;
	}
	while (allowed > 0 && outstanding < window && !gen_exhausted(g, ph)) {
		int64_t k;

		if (ring_len == ring_cap)
			ring_compact();
		k = gen_next(g);
		if (k < 0)
			break;
		items[k].busy = 1;
		items[k].tries = 0;
		items[k].first_ns = now;
		transmit(ph, g->mode, (uint64_t)k, now);
		outstanding++;
		ph->issued++;
		allowed--;
	}
	if (g->cycle == 0)
		ph->k_end = g->next;
}

/* Retransmit or give up on requests past their deadline. */
static void
expire(struct phase *ph, uint64_t now)
{
	while (ring_len > 0) {
		struct ring_entry e = ring[ring_head];
		struct item *it = &items[e.k];

		if (it->busy && it->seq == e.seq && e.deadline_ns > now)
			break;
		ring_head = (ring_head + 1) & (ring_cap - 1);
		ring_len--;
		if (!it->busy || it->seq != e.seq)
			continue;			/* answered, or sent again since */
		if (it->tries <= opt.retries) {
			ph->retries++;
			transmit(ph, ph->mode, e.k, now);
		} else {
			it->busy = 0;
			outstanding--;
			ph->timeouts++;
		}
	}
}

/* ---- receiving ---- */

static void
show_unmatched(struct phase *ph, uint32_t src, const uint8_t *b, size_t len, const char *why)
{
	char a[INET_ADDRSTRLEN];
	struct in_addr ia = { .s_addr = htonl(opt.source_base + src) };

	ph->unmatched++;
	if (shown++ >= SHOWN_MAX)
		return;
	inet_ntop(AF_INET, &ia, a, sizeof(a));
	fprintf(stderr, "pcp_loadgen: unmatched answer to %s (%s), %zu octets:", a, why, len);
	for (size_t i = 0; i < len && i < PCP_MAP_LEN; i++)
		fprintf(stderr, "%s%02x", i % 4 ? "" : " ", b[i]);
	fprintf(stderr, "\n");
}

static void
answer(struct phase *ph, uint64_t k, const uint8_t *b, size_t len, uint64_t now)
{
	struct item *it = &items[k];
	uint64_t lat;
	uint8_t result = b[3];
	uint32_t life = get32(b + 4), epoch = get32(b + 8);

	if (!it->busy) {
		ph->late++;
		return;
	}
	it->busy = 0;
	outstanding--;
	lat = now > it->first_ns ? now - it->first_ns : 0;
	ph->hist[hist_index(lat)]++;
	if (lat > ph->lat_max_ns)
		ph->lat_max_ns = lat;
	ph->answered++;
	ph->results[result]++;
	ph->t_end_ns = now;
	if (!ph->have_epoch)
		ph->epoch_first = epoch;
	ph->epoch_last = epoch;
	ph->have_epoch = 1;
	if (result == 0) {
		if (!ph->have_life || life < ph->life_min)
			ph->life_min = life;
		if (!ph->have_life || life > ph->life_max)
			ph->life_max = life;
		ph->have_life = 1;
		if (!ph->have_sample && len >= PCP_MAP_LEN) {
			memcpy(ph->sample_ext, b + 44, 16);
			ph->sample_port = get16(b + 42);
			ph->have_sample = 1;
		}
	}
}

/* RFC 6887 §7.2 response header, §11.1 MAP opcode data. */
static void
datagram(struct phase *ph, uint32_t src, const uint8_t *b, size_t len, uint64_t now)
{
	uint8_t nonce[PCP_NONCE_LEN];
	uint64_t slot, k;
	uint16_t iport;

	if (len < PCP_HDR_LEN || len % 4 || b[0] != PCP_VERSION || !(b[1] & PCP_R_BIT)) {
		show_unmatched(ph, src, b, len, "not a PCP v2 response");
		return;
	}
	if (ph->mode == MODE_ANNOUNCE) {
		if ((b[1] & ~PCP_R_BIT) != PCP_OP_ANNOUNCE) {
			show_unmatched(ph, src, b, len, "not an ANNOUNCE answer");
			return;
		}
		answer(ph, src, b, len, now);
		return;
	}
	if ((b[1] & ~PCP_R_BIT) != PCP_OP_MAP || len < PCP_MAP_LEN) {
		show_unmatched(ph, src, b, len, "no MAP opcode data");
		return;
	}
	iport = get16(b + 40);
	if (b[36] != opt.protocol || (opt.protocol == 0 ? iport != 0 : iport < opt.port_base)) {
		show_unmatched(ph, src, b, len, "protocol or internal port not ours");
		return;
	}
	slot = opt.protocol == 0 ? 0 : (uint64_t)(iport - opt.port_base);
	k = slot * opt.sources + src;
	if (slot >= opt.per_source || k >= nitems) {
		show_unmatched(ph, src, b, len, "internal port outside the mapping space");
		return;
	}
	mapping_nonce(k, nonce);
	if (memcmp(nonce, b + 24, PCP_NONCE_LEN) != 0) {
		show_unmatched(ph, src, b, len, "nonce");
		return;
	}
	answer(ph, k, b, len, now);
}

static int
receive(struct phase *ph, uint32_t src)
{
	static uint8_t bufs[RECV_BATCH][PCP_MAX_LEN + 4];
	static struct iovec iov[RECV_BATCH];
	static struct mmsghdr msgs[RECV_BATCH];

	for (;;) {
		int n;
		uint64_t now;

		for (unsigned i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
			msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		n = recvmmsg(fds[src], msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			/* ICMP errors reported on the socket: the server is not there. */
			if (ph->send_errors++ < SHOWN_MAX)
				fprintf(stderr, "pcp_loadgen: recvmmsg: %s\n", strerror(errno));
			return 0;
		}
		now = now_ns();
		for (int i = 0; i < n; i++)
			datagram(ph, src, bufs[i], msgs[i].msg_len, now);
		if (n < RECV_BATCH)
			return 0;
	}
}

/* ---- a phase ---- */

static int
wait_ms(const struct phase *ph, const struct gen *g, int issuing, uint64_t now)
{
	uint64_t until = now + 100000000ULL;	/* look at the signal flag at least every 100 ms */

	if (ring_len > 0 && ring[ring_head].deadline_ns < until)
		until = ring[ring_head].deadline_ns;
	if (issuing && g->stop_ns && g->stop_ns < until)
		until = g->stop_ns;
	if (issuing && opt.rate > 0 && ph->mode != MODE_PREFILL && outstanding < window) {
		uint64_t next = ph->t0_ns + (uint64_t)((double)ph->issued / opt.rate * 1e9);
		if (next < until)
			until = next;
	}
	return until <= now ? 0 : (int)((until - now + 999999) / 1000000);
}

static int
run_phase(int ep, struct phase *ph, struct gen *g)
{
	struct epoll_event evs[EPOLL_BATCH];
	int issuing = 1;

	ph->mode = g->mode;
	ph->t0_ns = ph->t_end_ns = now_ns();
	ph->k_end = g->next;
	for (;;) {
		uint64_t now = now_ns();
		int n;

		expire(ph, now);
		if (issuing && (stop_signal || gen_exhausted(g, ph) || (g->stop_ns && now >= g->stop_ns))) {
			issuing = 0;
			ph->cut = stop_signal || (g->mode == MODE_PREFILL && !gen_exhausted(g, ph));
		}
		if (issuing)
			fill(ph, g, now);
		if (tx.n)
			tx_flush(ph);
		if (!issuing && outstanding == 0)
			break;
		if (stop_signal > 1) {		/* a second signal: do not wait for the rest */
			ph->abandoned = outstanding;
			break;
		}
		n = epoll_wait(ep, evs, EPOLL_BATCH, wait_ms(ph, g, issuing, now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("pcp_loadgen: epoll_wait");
			return -1;
		}
		for (int i = 0; i < n; i++)
			receive(ph, evs[i].data.u32);
	}
	if (ph->answered == 0)
		ph->t_end_ns = now_ns();	/* else the last answer: waiting for lost ones is not counted */
	/* Forget whatever is left (abandoned) so that the next phase starts clean. */
	for (uint32_t i = 0; i < ring_len; i++)
		items[ring[(ring_head + i) & (ring_cap - 1)].k].busy = 0;
	ring_head = ring_len = 0;
	outstanding = 0;
	return 0;
}

/* ---- figures ---- */

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
report(const struct phase *ph, const char *prefix)
{
	double el = (double)(ph->t_end_ns - ph->t0_ns) / 1e9;
	char ext[INET6_ADDRSTRLEN];

	if (el <= 0)
		el = 1e-9;
	printf("%srequests %" PRIu64 "\n", prefix, ph->issued);
	printf("%sanswered %" PRIu64 "\n", prefix, ph->answered);
	printf("%selapsed_s %.3f\n", prefix, el);
	printf("%sanswered_per_sec %.1f\n", prefix, (double)ph->answered / el);
	if (opt.rate > 0 && ph->mode != MODE_PREFILL)
		printf("%soffered_per_sec %.1f\n", prefix, (double)ph->issued / el);
	printf("%slatency_p50_us %.0f\n", prefix, hist_pct_us(ph, 0.50));
	printf("%slatency_p90_us %.0f\n", prefix, hist_pct_us(ph, 0.90));
	printf("%slatency_p99_us %.0f\n", prefix, hist_pct_us(ph, 0.99));
	printf("%slatency_max_us %.0f\n", prefix, hist_pct_us(ph, 1.0));
	printf("%stimeouts %" PRIu64 "\n", prefix, ph->timeouts);
	printf("%sretries %" PRIu64 "\n", prefix, ph->retries);
	printf("%slate_or_duplicate %" PRIu64 "\n", prefix, ph->late);
	printf("%sunmatched %" PRIu64 "\n", prefix, ph->unmatched);
	if (ph->send_errors)
		printf("%ssend_errors %" PRIu64 "\n", prefix, ph->send_errors);
	if (ph->abandoned)
		printf("%sabandoned %" PRIu64 "\n", prefix, ph->abandoned);
	printf("%sresult_success %" PRIu64 "\n", prefix, ph->results[0]);
	for (unsigned r = 1; r < 256; r++) {
		if (!ph->results[r])
			continue;
		if (r < PCP_RESULT_NAMES)
			printf("%sresult_%s %" PRIu64 "\n", prefix, result_names[r], ph->results[r]);
		else
			printf("%sresult_%u %" PRIu64 "\n", prefix, r, ph->results[r]);
	}
	if (ph->have_life)
		printf("%sgranted_lifetime_min %u\n%sgranted_lifetime_max %u\n", prefix, ph->life_min,
		       prefix, ph->life_max);
	if (ph->have_epoch)
		printf("%sepoch_first %u\n%sepoch_last %u\n", prefix, ph->epoch_first, prefix,
		       ph->epoch_last);
	if (ph->have_sample) {
		if (memcmp(ph->sample_ext, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			inet_ntop(AF_INET, ph->sample_ext + 12, ext, sizeof(ext));
		else
			inet_ntop(AF_INET6, ph->sample_ext, ext, sizeof(ext));
		printf("%sfirst_external %s:%u\n", prefix, ext, ph->sample_port);
	}
	if (ph->cut)
		printf("%scut_short 1\n", prefix);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_signal++;
}

static void
print_setup(uint64_t space)
{
	char a[INET_ADDRSTRLEN], s[INET_ADDRSTRLEN];
	struct in_addr ia = { .s_addr = htonl(opt.source_base) };

	inet_ntop(AF_INET, &ia, s, sizeof(s));
	inet_ntop(AF_INET, &opt.server.sin_addr, a, sizeof(a));
	printf("# pcp_loadgen: server %s:%u, %u sources from %s, %u mappings per source (space %" PRIu64
	       "), protocol %u, lifetime %u, window %u, %s, timeout %u ms x %u tries\n",
	       a, ntohs(opt.server.sin_port), opt.sources, s, opt.per_source, space, opt.protocol,
	       opt.lifetime, opt.window, opt.rate > 0 ? "open loop" : "closed loop", opt.timeout_ms,
	       opt.retries + 1);
}

/* Phase 1: mappings [--existing, --prefill). Returns the mapping level after it. */
static int
run_prefill(int ep, struct phase *pre, uint64_t *level)
{
	struct gen g = { .mode = MODE_PREFILL, .next = opt.existing, .end = opt.prefill };
	uint64_t t0 = now_ns();
	int rc;

	*level = opt.existing;
	if (opt.prefill <= opt.existing)
		return 0;
	if (opt.prefill_timeout_s > 0)
		g.stop_ns = t0 + (uint64_t)(opt.prefill_timeout_s * 1e9);
	window = opt.window;
	printf("# prefill: mappings [%" PRIu64 ", %" PRIu64 ")\n", opt.existing, opt.prefill);
	fflush(stdout);
	rc = run_phase(ep, pre, &g);
	*level = pre->k_end;
	report(pre, "prefill_");
	printf("prefill_complete %d\n", pre->cut ? 0 : 1);
	printf("prefill_wall_s %.3f\n", (double)(now_ns() - t0) / 1e9);
	return rc;
}

/* The generator of the measured phase, given the mapping level; -1 if there is nothing to do. */
static int
measured_gen(struct gen *g, uint64_t level, uint64_t space)
{
	*g = (struct gen){ .mode = opt.mode, .limit = opt.count };
	switch (opt.mode) {
	case MODE_NEW:
		g->next = opt.first >= 0 ? (uint64_t)opt.first : level;
		g->end = space;
		break;
	case MODE_DELETE:
		g->next = opt.first >= 0 ? (uint64_t)opt.first : 0;
		g->end = level;
		break;
	case MODE_RENEW:
		g->cycle = level ? level : space;
		break;
	case MODE_ANNOUNCE:
		g->cycle = opt.sources;
		break;
	case MODE_NONE:
	case MODE_PREFILL:
		return -1;
	}
	if (g->cycle == 0 && g->next >= g->end) {
		fprintf(stderr, "pcp_loadgen: %s: no mappings in [%" PRIu64 ", %" PRIu64 ")\n",
			mode_names[opt.mode], g->next, g->end);
		return -1;
	}
	return 0;
}

/* Phase 2. Updates *level (new: the first index not used; delete: --first if all went). */
static int
run_measured(int ep, struct phase *meas, uint64_t *level, uint64_t space)
{
	struct gen g;
	uint64_t first;
	int rc;

	if (measured_gen(&g, *level, space))
		return -1;
	first = g.next;
	window = opt.window;
	if (g.cycle && window > g.cycle) {
		window = (uint32_t)g.cycle;
		printf("# window clamped to %u (one request outstanding per %s)\n", window,
		       opt.mode == MODE_ANNOUNCE ? "source" : "mapping");
	}
	if (opt.duration_s > 0)
		g.stop_ns = now_ns() + (uint64_t)(opt.duration_s * 1e9);
	printf("mode %s\n", mode_names[opt.mode]);
	fflush(stdout);
	rc = run_phase(ep, meas, &g);
	report(meas, "");
	if (opt.mode == MODE_NEW && meas->k_end > *level)
		*level = meas->k_end;
	else if (opt.mode == MODE_DELETE && meas->k_end == *level &&
		 meas->results[0] == meas->issued)
		*level = first;
	printf("mappings_level_after %" PRIu64 "\n", *level);
	return rc;
}

static int
exit_code(const struct phase *pre, const struct phase *meas)
{
	if (pre->timeouts || meas->timeouts)
		return 3;
	if (pre->answered != pre->results[0])
		return 3;
	if (opt.mode != MODE_ANNOUNCE && meas->answered != meas->results[0])
		return 3;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct phase pre, meas;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t space, level;
	int ep, rc;

	parse_args(argc, argv);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	space = (uint64_t)opt.sources * opt.per_source;
	nitems = space > opt.sources ? space : opt.sources;
	items = calloc(nitems, sizeof(*items));	/* untouched pages stay unbacked */
	for (ring_cap = 1024; ring_cap < 16ULL * opt.window + 1024; ring_cap *= 2)
		;
	ring = malloc(ring_cap * sizeof(*ring));
	if (!items || !ring) {
		fprintf(stderr, "pcp_loadgen: out of memory\n");
		return 1;
	}
	ep = sockets_open();
	if (ep < 0) {
		sockets_close();
		return 1;
	}
	print_setup(space);
	rc = run_prefill(ep, &pre, &level);
	printf("mappings_level %" PRIu64 "\n", level);
	if (rc == 0 && opt.mode != MODE_NONE && !stop_signal)
		rc = run_measured(ep, &meas, &level, space);
	printf("loadgen_cpu_s %.3f\n", cpu_seconds());
	sockets_close();
	close(ep);
	free(items);
	free(ring);
	return rc ? 1 : exit_code(&pre, &meas);
}
