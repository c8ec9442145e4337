// SPDX-License-Identifier: Apache-2.0
/*
 * e2e: the nft data path with real traffic (needs root; exit 77 = skipped).
 *
 * World (ARCHITECTURE §11), made here and deleted at exit:
 *
 *   ns ue  100.64.0.2 .3 .4 .5 ---- 100.64.0.1  ns gw  192.0.2.1 ---- 192.0.2.2 .3  ns inet
 *          default via .1                     (ueip nft backend)          198.51.100.0/24 via gw
 *
 * gw routes 198.51.100.0/24 to "unreachable", so a public address without
 * a mapping is refused at once. Sockets are made inside each namespace by
 * this one process (setns), so the checks see what a UE and a peer see:
 * who accepted the connection, and from which address it came.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "core/err.h"
#include "dataplane/dp.h"

extern char **environ;

#define NEG_MS 700	/* how long a check waits for what must not arrive */
#define POS_MS 3000

static char ns_name[3][32];	/* ue, gw, inet */
enum { NS_UE, NS_GW, NS_IN };
static int ns_fd[3] = { -1, -1, -1 };
static int home_fd = -1;
static int failures, checks;

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failures++;
	printf("%s %d - ", ok ? "ok" : "not ok", checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int
run(const char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define RUN(...) run((const char *const[]){ __VA_ARGS__, NULL })

static void
teardown(void)
{
	for (int i = 0; i < 3; i++) {
		if (ns_fd[i] >= 0)
			close(ns_fd[i]);
		ns_fd[i] = -1;
		if (ns_name[i][0])
			RUN("ip", "netns", "del", ns_name[i]);
		ns_name[i][0] = '\0';
	}
}

static void
on_signal(int sig)
{
	teardown();
	_exit(128 + sig);
}

static void
enter(int fd)
{
	if (setns(fd, CLONE_NEWNET) != 0) {
		perror("setns");
		exit(1);
	}
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int
setup(void)
{
	const char *ue = ns_name[NS_UE], *gw = ns_name[NS_GW], *in = ns_name[NS_IN];
	char path[96];
	int rc = 0;

	snprintf(ns_name[NS_UE], sizeof(ns_name[0]), "ueipdp%d-ue", (int)getpid());
	snprintf(ns_name[NS_GW], sizeof(ns_name[0]), "ueipdp%d-gw", (int)getpid());
	snprintf(ns_name[NS_IN], sizeof(ns_name[0]), "ueipdp%d-in", (int)getpid());
	for (int i = 0; i < 3; i++)
		rc |= RUN("ip", "netns", "add", ns_name[i]);
	rc |= RUN("ip", "-n", gw, "link", "add", "gw-ue", "type", "veth", "peer", "name", "ue0",
		  "netns", ue);
	rc |= RUN("ip", "-n", gw, "link", "add", "gw-in", "type", "veth", "peer", "name", "in0",
		  "netns", in);
	rc |= RUN("ip", "-n", gw, "addr", "add", "100.64.0.1/24", "dev", "gw-ue");
	rc |= RUN("ip", "-n", gw, "addr", "add", "192.0.2.1/24", "dev", "gw-in");
	for (int i = 2; i <= 5; i++) {
		snprintf(path, sizeof(path), "100.64.0.%d/24", i);
		rc |= RUN("ip", "-n", ue, "addr", "add", path, "dev", "ue0");
	}
	rc |= RUN("ip", "-n", in, "addr", "add", "192.0.2.2/24", "dev", "in0");
	rc |= RUN("ip", "-n", in, "addr", "add", "192.0.2.3/24", "dev", "in0");
	rc |= RUN("ip", "-n", gw, "link", "set", "gw-ue", "up");
	rc |= RUN("ip", "-n", gw, "link", "set", "gw-in", "up");
	rc |= RUN("ip", "-n", ue, "link", "set", "ue0", "up");
	rc |= RUN("ip", "-n", in, "link", "set", "in0", "up");
	for (int i = 0; i < 3; i++)
		rc |= RUN("ip", "-n", ns_name[i], "link", "set", "lo", "up");
	rc |= RUN("ip", "-n", ue, "route", "add", "default", "via", "100.64.0.1");
	rc |= RUN("ip", "-n", in, "route", "add", "198.51.100.0/24", "via", "192.0.2.1");
	rc |= RUN("ip", "-n", gw, "route", "add", "unreachable", "198.51.100.0/24");
	if (rc)
		return -1;
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/run/netns/%.31s", ns_name[i]);
		ns_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (ns_fd[i] < 0)
			return -1;
	}
	enter(ns_fd[NS_GW]);
	rc = write_file("/proc/sys/net/ipv4/ip_forward", "1");
	enter(home_fd);
	return rc;
}

static uint32_t
ip(const char *text)
{
	struct in_addr a;

	if (inet_pton(AF_INET, text, &a) != 1) {
		fprintf(stderr, "bad address %s\n", text);
		exit(1);
	}
	return ntohl(a.s_addr);
}

static struct sockaddr_in
sa(uint32_t addr, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET };

	s.sin_addr.s_addr = htonl(addr);
	s.sin_port = htons(port);
	return s;
}

/* A socket of type made in namespace ns, bound to addr:port. */
static int
ns_socket(int ns, int type, uint32_t addr, uint16_t port)
{
	struct sockaddr_in a = sa(addr, port);
	int one = 1, fd;

	enter(ns_fd[ns]);
	fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	enter(home_fd);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/*
 * TCP from (cns, csrc:csport) to dst:dport, listener in (lns, lip:lport).
 * 1 when the listener accepted and read the client's byte (seen = the
 * client as the listener sees it), else 0.
 */
static int
tcp_try(int cns, const char *csrc, uint16_t csport, const char *dst, uint16_t dport, int lns,
	const char *lip, uint16_t lport, int ms, struct sockaddr_in *seen)
{
	struct sockaddr_in d = sa(ip(dst), dport), peer;
	socklen_t plen = sizeof(peer);
	int l, c, a = -1, ok = 0;
	char byte = 0;

	l = ns_socket(lns, SOCK_STREAM, ip(lip), lport);
	c = ns_socket(cns, SOCK_STREAM, ip(csrc), csport);
	if (l < 0 || c < 0 || listen(l, 4) != 0)
		goto out;
	if (connect(c, (struct sockaddr *)&d, sizeof(d)) != 0 && errno != EINPROGRESS)
		goto out;
	if (!wait_in(l, ms))
		goto out;
	a = accept(l, (struct sockaddr *)&peer, &plen);
	if (a < 0)
		goto out;
	if (send(c, "x", 1, MSG_NOSIGNAL) != 1 || !wait_in(a, ms) || recv(a, &byte, 1, 0) != 1)
		goto out;
	ok = byte == 'x';
	if (seen)
		*seen = peer;
out:
	if (a >= 0)
		close(a);
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	return ok;
}

/* UDP from (sns, sip:sport) to dst:dport, receiver in (rns, rip:rport). */
static int
udp_try(int sns, const char *sip, uint16_t sport, const char *dst, uint16_t dport, int rns,
	const char *rip, uint16_t rport, int ms, struct sockaddr_in *seen)
{
	struct sockaddr_in d = sa(ip(dst), dport), peer;
	socklen_t plen = sizeof(peer);
	int r, s, ok = 0;
	char buf[8];

	r = ns_socket(rns, SOCK_DGRAM, ip(rip), rport);
	s = ns_socket(sns, SOCK_DGRAM, ip(sip), sport);
	if (r < 0 || s < 0)
		goto out;
	if (sendto(s, "u", 1, 0, (struct sockaddr *)&d, sizeof(d)) != 1)
		goto out;
	if (wait_in(r, ms) && recvfrom(r, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen) == 1) {
		ok = 1;
		if (seen)
			*seen = peer;
	}
out:
	if (r >= 0)
		close(r);
	if (s >= 0)
		close(s);
	return ok;
}

static int
seen_is(const struct sockaddr_in *s, const char *addr, int port)
{
	return ntohl(s->sin_addr.s_addr) == ip(addr) && (port < 0 || ntohs(s->sin_port) == port);
}

static const char *
seen_str(const struct sockaddr_in *s)
{
	static char buf[64];
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
	snprintf(buf, sizeof(buf), "%s:%u", a, ntohs(s->sin_port));
	return buf;
}

/* Run nft text in gw; 0 on success; the output goes to out when given. */
static int
nft_gw(const char *cmd, char *out, size_t out_size)
{
	struct nft_ctx *ctx;
	int rc;

	enter(ns_fd[NS_GW]);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	if (out && out_size)
		snprintf(out, out_size, "%s", nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	enter(home_fd);
	return rc;
}

static struct ueip_dp_mapping
one_to_one(const char *in, const char *ext)
{
	struct ueip_dp_mapping m = { .kind = UEIP_DP_ONE_TO_ONE };

	m.internal = ip(in);
	m.external = ip(ext);
	return m;
}

static struct ueip_dp_mapping
port_map(int proto, const char *in, uint16_t iport, const char *ext, uint16_t eport)
{
	struct ueip_dp_mapping m = { .kind = UEIP_DP_PORT, .proto = (uint8_t)proto };

	m.internal = ip(in);
	m.internal_port = iport;
	m.external = ip(ext);
	m.external_port = eport;
	return m;
}

static struct ueip_dp_mapping
peer_map(int proto, const char *in, uint16_t iport, const char *ext, uint16_t eport,
	 const char *rem, uint16_t rport)
{
	struct ueip_dp_mapping m = port_map(proto, in, iport, ext, eport);

	m.kind = UEIP_DP_PEER;
	m.remote = ip(rem);
	m.remote_port = rport;
	return m;
}

static void
add_filter(struct ueip_dp_mapping *m, const char *rem, uint8_t len, uint16_t rport)
{
	m->filters[m->nfilters].remote = ip(rem);
	m->filters[m->nfilters].prefix_len = len;
	m->filters[m->nfilters++].remote_port = rport;
}

static int
dp_open_gw(struct ueip_dp **dp, int cleanup)
{
	struct ueip_dp_config cfg = { .backend = "nft", .nat_priority_offset = -10 };
	char why[256] = "";
	int rc;

	cfg.cleanup_on_stop = cleanup;
	enter(ns_fd[NS_GW]);
	rc = ueip_dp_open(&cfg, dp, why, sizeof(why));
	enter(home_fd);
	if (rc)
		fprintf(stderr, "ueip_dp_open: %s: %s\n", ueip_strerror(rc), why);
	return rc;
}

static void
dp_close_gw(struct ueip_dp *dp)
{
	enter(ns_fd[NS_GW]);
	ueip_dp_close(dp);
	enter(home_fd);
}

static int
commit(struct ueip_dp *dp)
{
	char why[512] = "";
	int rc = ueip_dp_commit(dp, why, sizeof(why));

	if (rc)
		fprintf(stderr, "commit: %s: %s\n", ueip_strerror(rc), why);
	return rc;
}

/* Inbound TCP from inet (src) to pub:port reaching the UE at ue:uport, from src. */
static int
inbound_tcp(const char *src, uint16_t sport, const char *pub, uint16_t port, const char *ue,
	    uint16_t uport, int ms)
{
	struct sockaddr_in seen;
	int ok = tcp_try(NS_IN, src, sport, pub, port, NS_UE, ue, uport, ms, &seen);

	return ok && seen_is(&seen, src, sport ? sport : -1);
}

/* Outbound TCP from the UE: what address does the peer see? 1 if it is pub. */
static int
outbound_tcp_seen_as(const char *ue, const char *peer, const char *pub, int ms)
{
	struct sockaddr_in seen;
	int ok = tcp_try(NS_UE, ue, 0, peer, 9000, NS_IN, peer, 9000, ms, &seen);

	if (ok && !seen_is(&seen, pub, -1))
		fprintf(stderr, "  outbound from %s seen as %s\n", ue, seen_str(&seen));
	return ok && seen_is(&seen, pub, -1);
}

static void
test_traffic(struct ueip_dp *dp)
{
	struct ueip_dp_mapping m1 = one_to_one("100.64.0.2", "198.51.100.7");
	struct ueip_dp_mapping m2 = port_map(IPPROTO_TCP, "100.64.0.3", 80, "198.51.100.1", 8080);
	struct ueip_dp_mapping m3 = port_map(IPPROTO_UDP, "100.64.0.3", 53, "198.51.100.1", 5353);
	struct ueip_dp_mapping m4 = peer_map(IPPROTO_UDP, "100.64.0.3", 5000, "198.51.100.1",
					     40000, "192.0.2.2", 6000);
	struct ueip_dp_mapping m5 = peer_map(IPPROTO_UDP, "100.64.0.3", 5001, "198.51.100.1",
					     40001, "192.0.2.2", 6001);
	struct ueip_dp_mapping m6 = one_to_one("100.64.0.4", "198.51.100.8");
	struct ueip_dp_mapping m7 = port_map(IPPROTO_TCP, "100.64.0.3", 443, "198.51.100.1", 8443);
	struct ueip_dp_mapping m6b;
	struct ueip_dp_stats st;
	struct sockaddr_in seen;
	char out[4096], why[512];
	int rc;

	add_filter(&m6, "192.0.2.2", 32, 0);
	add_filter(&m7, "192.0.2.0", 24, 7777);
	add_filter(&m7, "192.0.2.2", 32, 7777);	/* inside the first: must be folded */
	add_filter(&m7, "192.0.2.3", 32, 0);
	m6b = m6;
	m6b.nfilters = 0;
	add_filter(&m6b, "192.0.2.3", 32, 0);

	check(!inbound_tcp("192.0.2.2", 0, "198.51.100.7", 80, "100.64.0.2", 80, NEG_MS),
	      "before any mapping, 198.51.100.7:80 is not reachable");

	check(ueip_dp_add(dp, &m1) == 0 && ueip_dp_add(dp, &m2) == 0 && ueip_dp_add(dp, &m3) == 0 &&
	      ueip_dp_add(dp, &m4) == 0 && ueip_dp_add(dp, &m5) == 0 && ueip_dp_add(dp, &m6) == 0 &&
	      ueip_dp_add(dp, &m7) == 0, "seven mappings queued");
	check(commit(dp) == 0, "commit of the seven mappings");
	ueip_dp_stats(dp, &st);
	check(st.mappings == 7 && st.queued == 0 && st.commits == 1,
	      "stats: 7 installed, 0 queued, 1 commit (%llu us)", (unsigned long long)st.last_commit_us);

	nft_gw("list map ip ueip pub2priv", out, sizeof(out));
	check(strstr(out, "198.51.100.7 : 100.64.0.2") != NULL, "kernel map pub2priv holds "
	      "198.51.100.7 : 100.64.0.2");
	nft_gw("list map ip ueip portin", out, sizeof(out));
	check(strstr(out, "198.51.100.1 . tcp . 8080 : 100.64.0.3 . 80") != NULL,
	      "kernel map portin holds 198.51.100.1 . tcp . 8080 : 100.64.0.3 . 80");

	/* ONE_TO_ONE */
	check(inbound_tcp("192.0.2.2", 0, "198.51.100.7", 80, "100.64.0.2", 80, POS_MS),
	      "ONE_TO_ONE: inet -> 198.51.100.7:80 reaches the UE 100.64.0.2:80, from 192.0.2.2");
	check(inbound_tcp("192.0.2.3", 0, "198.51.100.7", 22, "100.64.0.2", 22, POS_MS),
	      "ONE_TO_ONE: any port (22) too");
	check(outbound_tcp_seen_as("100.64.0.2", "192.0.2.2", "198.51.100.7", POS_MS),
	      "ONE_TO_ONE: the UE's outbound TCP is seen from 198.51.100.7");
	check(udp_try(NS_UE, "100.64.0.2", 4444, "192.0.2.2", 9001, NS_IN, "192.0.2.2", 9001,
		      POS_MS, &seen) && seen_is(&seen, "198.51.100.7", -1),
	      "ONE_TO_ONE: the UE's outbound UDP is seen from 198.51.100.7");

	/* PORT */
	check(inbound_tcp("192.0.2.2", 0, "198.51.100.1", 8080, "100.64.0.3", 80, POS_MS),
	      "PORT tcp: inet -> 198.51.100.1:8080 reaches 100.64.0.3:80");
	check(!inbound_tcp("192.0.2.2", 0, "198.51.100.1", 8081, "100.64.0.3", 80, NEG_MS),
	      "PORT tcp: 198.51.100.1:8081 (no mapping) does not");
	check(udp_try(NS_UE, "100.64.0.3", 53, "192.0.2.2", 9999, NS_IN, "192.0.2.2", 9999, POS_MS,
		      &seen) && seen_is(&seen, "198.51.100.1", 5353),
	      "PORT udp: 100.64.0.3:53 outbound is seen as 198.51.100.1:5353");

	/* PEER */
	check(udp_try(NS_IN, "192.0.2.2", 6000, "198.51.100.1", 40000, NS_UE, "100.64.0.3", 5000,
		      POS_MS, &seen) && seen_is(&seen, "192.0.2.2", 6000),
	      "PEER: its remote 192.0.2.2:6000 -> 198.51.100.1:40000 reaches 100.64.0.3:5000");
	check(!udp_try(NS_IN, "192.0.2.3", 6000, "198.51.100.1", 40000, NS_UE, "100.64.0.3", 5000,
		       NEG_MS, NULL),
	      "PEER: another remote 192.0.2.3:6000 does not");
	check(!udp_try(NS_IN, "192.0.2.2", 6002, "198.51.100.1", 40000, NS_UE, "100.64.0.3", 5000,
		       NEG_MS, NULL),
	      "PEER: its remote from another port 192.0.2.2:6002 does not");
	check(udp_try(NS_UE, "100.64.0.3", 5001, "192.0.2.2", 6001, NS_IN, "192.0.2.2", 6001,
		      POS_MS, &seen) && seen_is(&seen, "198.51.100.1", 40001),
	      "PEER: 100.64.0.3:5001 -> 192.0.2.2:6001 leaves as 198.51.100.1:40001");

	/* FILTER */
	check(inbound_tcp("192.0.2.2", 0, "198.51.100.8", 80, "100.64.0.4", 80, POS_MS),
	      "FILTER (ONE_TO_ONE, 192.0.2.2/32): 192.0.2.2 gets in");
	check(!inbound_tcp("192.0.2.3", 0, "198.51.100.8", 80, "100.64.0.4", 80, NEG_MS),
	      "FILTER (ONE_TO_ONE, 192.0.2.2/32): 192.0.2.3 is dropped");
	check(outbound_tcp_seen_as("100.64.0.4", "192.0.2.3", "198.51.100.8", POS_MS),
	      "FILTER: the filtered UE still connects out to 192.0.2.3 (replies pass)");
	check(inbound_tcp("192.0.2.2", 7777, "198.51.100.1", 8443, "100.64.0.3", 443, POS_MS),
	      "FILTER (PORT, 192.0.2.0/24 port 7777): 192.0.2.2:7777 gets in");
	check(!inbound_tcp("192.0.2.2", 7778, "198.51.100.1", 8443, "100.64.0.3", 443, NEG_MS),
	      "FILTER (PORT): 192.0.2.2:7778 is dropped");
	check(inbound_tcp("192.0.2.3", 7778, "198.51.100.1", 8443, "100.64.0.3", 443, POS_MS),
	      "FILTER (PORT, 192.0.2.3/32 any port): 192.0.2.3:7778 gets in");

	/* All or nothing: an element put there behind our back makes the batch fail. */
	nft_gw("add element ip ueip portin { 198.51.100.1 . tcp . 9090 : 100.64.0.3 . 90 }", NULL, 0);
	{
		struct ueip_dp_mapping clash = port_map(IPPROTO_TCP, "100.64.0.3", 90,
							"198.51.100.1", 9090);
		struct ueip_dp_mapping ok5 = one_to_one("100.64.0.5", "198.51.100.9");

		check(ueip_dp_add(dp, &ok5) == 0 && ueip_dp_add(dp, &clash) == 0,
		      "queue a valid mapping and one the kernel already has");
		why[0] = '\0';
		rc = ueip_dp_commit(dp, why, sizeof(why));
		check(rc == -EEXIST && strstr(why, "portin"),
		      "commit fails with EEXIST naming portin: %s", why);
		ueip_dp_stats(dp, &st);
		check(st.queued == 2 && st.mappings == 7 && st.commit_errors == 1,
		      "the queue is kept, nothing counted as installed");
		nft_gw("list map ip ueip pub2priv", out, sizeof(out));
		check(!strstr(out, "198.51.100.9"), "the valid mapping did not reach the kernel");
		check(!inbound_tcp("192.0.2.2", 0, "198.51.100.9", 80, "100.64.0.5", 80, NEG_MS),
		      "and carries no traffic");
		ueip_dp_discard(dp);
		nft_gw("delete element ip ueip portin { 198.51.100.1 . tcp . 9090 }", NULL, 0);
	}

	/* Change a mapping's filters: delete and add of the same key in one commit. */
	check(ueip_dp_del(dp, &m6) == 0 && ueip_dp_add(dp, &m6b) == 0 && commit(dp) == 0,
	      "replace the filters of 198.51.100.8 in one commit");
	check(inbound_tcp("192.0.2.3", 0, "198.51.100.8", 80, "100.64.0.4", 80, POS_MS),
	      "FILTER now 192.0.2.3/32: 192.0.2.3 gets in");
	check(!inbound_tcp("192.0.2.2", 0, "198.51.100.8", 80, "100.64.0.4", 80, NEG_MS),
	      "FILTER now 192.0.2.3/32: 192.0.2.2 is dropped");

	/* Deletion */
	check(ueip_dp_del(dp, &m1) == 0 && ueip_dp_del(dp, &m2) == 0 && ueip_dp_del(dp, &m4) == 0 &&
	      commit(dp) == 0, "delete the ONE_TO_ONE, a PORT and a PEER mapping");
	check(!inbound_tcp("192.0.2.2", 0, "198.51.100.7", 80, "100.64.0.2", 80, NEG_MS),
	      "after delete: 198.51.100.7:80 refuses new connections");
	check(!outbound_tcp_seen_as("100.64.0.2", "192.0.2.2", "198.51.100.7", NEG_MS),
	      "after delete: the UE's new outbound connections are not seen from 198.51.100.7");
	check(!inbound_tcp("192.0.2.2", 0, "198.51.100.1", 8080, "100.64.0.3", 80, NEG_MS),
	      "after delete: 198.51.100.1:8080 refuses new connections");
	check(!udp_try(NS_IN, "192.0.2.2", 6010, "198.51.100.1", 40000, NS_UE, "100.64.0.3", 5000,
		       NEG_MS, NULL), "after delete: the PEER's remote (new flow) no longer reaches the UE");
	check(udp_try(NS_UE, "100.64.0.3", 53, "192.0.2.2", 9998, NS_IN, "192.0.2.2", 9998, POS_MS,
		      &seen) && seen_is(&seen, "198.51.100.1", 5353),
	      "the mappings not deleted still work");
	ueip_dp_stats(dp, &st);
	check(st.mappings == 4, "stats: 4 installed");
}

/* Many mappings in one commit: the batch spans many messages and pages. */
static void
test_bulk(struct ueip_dp *dp)
{
	enum { N = 30000 };
	struct ueip_dp_mapping m = { .kind = UEIP_DP_ONE_TO_ONE };
	int ok = 1;

	for (uint32_t i = 0; i < N && ok; i++) {
		m.internal = ip("100.65.0.0") + i;
		m.external = 0x0a000000u + i;		/* 10.0.0.0 + i: never routed here */
		ok = ueip_dp_add(dp, &m) == 0;
	}
	m = one_to_one("100.64.0.5", "198.51.100.9");
	check(ok && ueip_dp_add(dp, &m) == 0 && commit(dp) == 0,
	      "%d mappings and 198.51.100.9 <-> 100.64.0.5 in one commit", N);
	check(inbound_tcp("192.0.2.2", 0, "198.51.100.9", 80, "100.64.0.5", 80, POS_MS),
	      "the last mapping of the bulk commit carries traffic");
}

static int
table_exists(void)
{
	return nft_gw("list table ip ueip", NULL, 0) == 0;
}

int
main(void)
{
	struct ueip_dp *dp = NULL, *dp2 = NULL;
	char out[4096];

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (network namespaces, nftables)\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(teardown);
	if (home_fd < 0 || setup() != 0) {
		fprintf(stderr, "could not build the namespace world\n");
		return 1;
	}
	if (dp_open_gw(&dp, 0) != 0)
		return 1;
	check(table_exists(), "open made table ip ueip in gw");
	test_traffic(dp);
	test_bulk(dp);

	/* Close without cleanup keeps the table; opening again replaces it. */
	dp_close_gw(dp);
	check(table_exists(), "close without cleanup keeps the table");
	check(inbound_tcp("192.0.2.3", 0, "198.51.100.8", 80, "100.64.0.4", 80, POS_MS),
	      "and its mappings keep working (no daemon)");
	if (dp_open_gw(&dp2, 1) != 0)
		return 1;
	nft_gw("list map ip ueip pub2priv", out, sizeof(out));
	check(!strstr(out, "198.51.100.8"), "open again: the table is new and empty");
	check(!inbound_tcp("192.0.2.3", 0, "198.51.100.8", 80, "100.64.0.4", 80, NEG_MS),
	      "open again: the old mappings carry no traffic");
	dp_close_gw(dp2);
	check(!table_exists(), "close with cleanup removes the table");

	printf("1..%d\n", checks);
	if (failures)
		printf("# %d of %d checks failed\n", failures, checks);
	return failures ? 1 : 0;
}
