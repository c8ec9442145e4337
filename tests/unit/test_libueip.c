// SPDX-License-Identifier: Apache-2.0
/*
 * libueip: the RFC 6887 timers (§8.1.1 retransmission, §11.2.1 renewal)
 * and epoch rules (§8.5) with fake times; response classification; the
 * state file; and the client against a real peer: a UDP socket on
 * 127.0.0.1 that plays the PCP server with the codec (src/proto/pcp.h).
 * Timers are scaled down (irt_ms 100) so the whole file runs in seconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/libueip.h"
#include "core/err.h"
#include "core/log.h"
#include "proto/pcp.h"

#define IRT 100u
#define EPOCH 1000u

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Pure rules                                                          */

static void
test_rt_first_and_bounds(void **state)
{
	(void)state;
	/* RT = (1 + RAND) * IRT, RAND in [-0.1, +0.1] */
	assert_int_equal(ueip_pcp_rt_next(0, 3000, 0), 2700);
	assert_int_equal(ueip_pcp_rt_next(0, 3000, 0x80000000u), 3000);
	assert_int_equal(ueip_pcp_rt_next(0, 3000, UINT32_MAX), 3300);
	/* RT = (1 + RAND) * MIN(2 * RTprev, MRT) */
	assert_int_equal(ueip_pcp_rt_next(3000, 3000, 0x80000000u), 6000);
	assert_int_equal(ueip_pcp_rt_next(600000, 3000, 0x80000000u), 1024000);
	assert_int_equal(ueip_pcp_rt_next(1024000, 3000, UINT32_MAX), 1126400);
	assert_int_equal(ueip_pcp_rt_next(1126400, 3000, 0), 921600);

	srand(7);
	uint32_t prev = 0;
	for (int i = 0; i < 2000; i++) {
		uint32_t rnd = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
		uint32_t rt = ueip_pcp_rt_next(prev, 3000, rnd);
		uint64_t base = prev ? 2ull * prev : 3000;
		if (base > UEIP_PCP_MRT_MS)
			base = UEIP_PCP_MRT_MS;
		assert_true(rt * 10ull >= base * 9 && rt * 10ull <= base * 11);
		prev = i % 40 == 39 ? 0 : rt;
	}
}

static void
test_rt_schedule_default(void **state)
{
	/* Without jitter: sends at 0, 3, 9, 21, 45 ... s; MRC 0, so with MRD 0
	 * it goes on, every 1024 s once the cap is reached. A 10 s deadline
	 * (ueip public request's default) allows exactly three transmissions. */
	static const uint32_t expect[] = { 3000, 6000, 12000, 24000, 48000, 96000, 192000,
					   384000, 768000, 1024000, 1024000, 1024000 };
	uint32_t rt = 0;
	uint64_t t = 0;
	int sends_before_10s = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (t < 10000)
			sends_before_10s++;
		rt = ueip_pcp_rt_next(rt, UEIP_PCP_IRT_MS, 0x80000000u);
		assert_int_equal(rt, expect[i]);
		t += rt;
	}
	assert_int_equal(sends_before_10s, 3);
}

static void
test_renew_window(void **state)
{
	(void)state;
	/* §11.2.1: uniformly 1/2 .. 5/8 of the lifetime */
	assert_int_equal(ueip_pcp_renew_after_ms(3600, 0), 1800000);
	assert_true(ueip_pcp_renew_after_ms(3600, UINT32_MAX) <= 2250000);
	assert_true(ueip_pcp_renew_after_ms(3600, UINT32_MAX) > 2249990);
	assert_int_equal(ueip_pcp_renew_after_ms(120, 0x80000000u), 67500);
	for (uint32_t r = 0; r < 64; r++) {
		uint64_t v = ueip_pcp_renew_after_ms(60, r * 0x4000000u);
		assert_true(v >= 30000 && v <= 37500);
	}
	assert_int_equal(ueip_pcp_renew_after_ms(0, 12345), 0);
}

static void
test_epoch_rules(void **state)
{
	struct ueip_epoch_track t = { 0 };
	uint64_t now = 5000000;		/* client clock, ms */
	(void)state;

	/* The first response is valid whatever it says. */
	assert_int_equal(ueip_epoch_check(&t, 77777, now), 1);
	/* Both clocks move together: valid. */
	now += 10000;
	assert_int_equal(ueip_epoch_check(&t, 77787, now), 1);
	/* Reordering: back by up to 1 s is tolerated. */
	assert_int_equal(ueip_epoch_check(&t, 77786, now), 1);
	/* Back by more than 1 s: the server lost state. */
	assert_int_equal(ueip_epoch_check(&t, 77784, now), 0);
	/* The new value is recorded even when invalid: consistent from there. */
	now += 5000;
	assert_int_equal(ueip_epoch_check(&t, 77789, now), 1);
	/* A restart: epoch starts again near 0. */
	now += 1000;
	assert_int_equal(ueip_epoch_check(&t, 3, now), 0);
	now += 100000;
	assert_int_equal(ueip_epoch_check(&t, 103, now), 1);
	/* Server time grew much less than wall time (restart while away):
	 * client +1000 s, server +10 s. */
	now += 1000000;
	assert_int_equal(ueip_epoch_check(&t, 113, now), 0);
	/* Server time grew much more than wall time: client +10 s, server +100 s. */
	now += 10000;
	assert_int_equal(ueip_epoch_check(&t, 213, now), 0);
	/* Drift within server_delta/16 + 2 s is fine: client +1000 s, server +1050 s. */
	now += 1000000;
	assert_int_equal(ueip_epoch_check(&t, 1263, now), 1);
	/* ... and the limits: client +160 s; server +150 (160+2 >= 150-9.4 and
	 * 150+2 >= 160-10): valid; server +145 (145+2 < 160-10): invalid. */
	now += 160000;
	assert_int_equal(ueip_epoch_check(&t, 1413, now), 1);
	now += 160000;
	assert_int_equal(ueip_epoch_check(&t, 1558, now), 0);
}

static struct ueip_pcp_msg
map_rsp(const uint8_t *nonce, uint8_t proto, uint16_t port, uint8_t result, uint32_t lifetime)
{
	struct ueip_pcp_msg m = { .version = 2, .opcode = UEIP_PCP_OP_MAP, .response = 1,
				  .result = result, .lifetime = lifetime, .protocol = proto,
				  .internal_port = port };
	memcpy(m.nonce, nonce, UEIP_NONCE_LEN);
	return m;
}

static void
test_classify(void **state)
{
	uint8_t n[UEIP_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t other[UEIP_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13 };
	struct ueip_pcp_msg m;
	(void)state;

	/* Answer to a pending MAP request. */
	m = map_rsp(n, 6, 8080, UEIP_PCP_SUCCESS, 3600);
	assert_int_equal(ueip_pcp_classify(n, 6, 8080, 1, 0, &m), UEIP_RSP_ANSWER);
	/* Same answer, nothing pending (a duplicate): ignored. */
	assert_int_equal(ueip_pcp_classify(n, 6, 8080, 0, 0, &m), UEIP_RSP_STALE);
	/* Lifetime 0, our nonce/protocol/port, not releasing: withdrawal,
	 * solicited or not. */
	m = map_rsp(n, 6, 8080, UEIP_PCP_SUCCESS, 0);
	assert_int_equal(ueip_pcp_classify(n, 6, 8080, 0, 0, &m), UEIP_RSP_WITHDRAWN);
	assert_int_equal(ueip_pcp_classify(n, 6, 8080, 1, 0, &m), UEIP_RSP_WITHDRAWN);
	/* ... while releasing it is the release's answer. */
	assert_int_equal(ueip_pcp_classify(n, 6, 8080, 1, 1, &m), UEIP_RSP_ANSWER);
	/* Another nonce, protocol or port: not ours (a notice for another app). */
	assert_int_equal(ueip_pcp_classify(other, 6, 8080, 0, 0, &m), UEIP_RSP_OTHER);
	assert_int_equal(ueip_pcp_classify(n, 17, 8080, 0, 0, &m), UEIP_RSP_OTHER);
	assert_int_equal(ueip_pcp_classify(n, 6, 8081, 0, 0, &m), UEIP_RSP_OTHER);
	/* Errors: a refusal when pending, else stale. */
	m = map_rsp(n, 0, 0, UEIP_PCP_NOT_AUTHORIZED, 1800);
	assert_int_equal(ueip_pcp_classify(n, 0, 0, 1, 0, &m), UEIP_RSP_REFUSED);
	assert_int_equal(ueip_pcp_classify(n, 0, 0, 0, 0, &m), UEIP_RSP_STALE);
	/* Not MAP, or not a response. */
	m = map_rsp(n, 0, 0, UEIP_PCP_SUCCESS, 0);
	m.opcode = UEIP_PCP_OP_ANNOUNCE;
	assert_int_equal(ueip_pcp_classify(n, 0, 0, 0, 0, &m), UEIP_RSP_OTHER);
	m = map_rsp(n, 0, 0, UEIP_PCP_SUCCESS, 0);
	m.response = 0;
	assert_int_equal(ueip_pcp_classify(n, 0, 0, 0, 0, &m), UEIP_RSP_OTHER);
}

static void
test_port_spec_and_errors(void **state)
{
	uint8_t p;
	uint16_t port;
	char buf[8];
	(void)state;

	assert_int_equal(ueip_parse_port_spec("tcp:8080", &p, &port), 0);
	assert_int_equal(p, 6);
	assert_int_equal(port, 8080);
	assert_int_equal(ueip_parse_port_spec("UDP:53", &p, &port), 0);
	assert_int_equal(p, 17);
	assert_int_equal(ueip_parse_port_spec("132:9", &p, &port), 0);
	assert_int_equal(p, 132);
	assert_int_equal(ueip_parse_port_spec("all:0", &p, &port), 0);
	assert_int_equal(p, 0);
	assert_int_equal(ueip_parse_port_spec("all:80", &p, &port), UEIP_EINVAL);
	assert_int_equal(ueip_parse_port_spec("tcp", &p, &port), UEIP_EINVAL);
	assert_int_equal(ueip_parse_port_spec("tcp:65536", &p, &port), UEIP_EINVAL);
	assert_int_equal(ueip_parse_port_spec("tcp:-1", &p, &port), UEIP_EINVAL);
	assert_int_equal(ueip_parse_port_spec("bogus:1", &p, &port), UEIP_EINVAL);
	assert_int_equal(ueip_parse_port_spec("256:1", &p, &port), UEIP_EINVAL);
	assert_string_equal(ueip_protocol_name(6, buf, sizeof(buf)), "tcp");
	assert_string_equal(ueip_protocol_name(99, buf, sizeof(buf)), "99");

	/* PCP refusals are negative codes that keep their result's name. */
	int code = UEIP_EPCP(UEIP_PCP_NOT_AUTHORIZED);
	assert_true(code < -1000);
	assert_true(UEIP_IS_EPCP(code));
	assert_int_equal(UEIP_EPCP_RESULT(code), UEIP_PCP_NOT_AUTHORIZED);
	assert_string_equal(ueip_client_errname(code), "NOT_AUTHORIZED");
	assert_string_equal(ueip_client_errname(UEIP_EPCP(UEIP_PCP_NO_RESOURCES)), "NO_RESOURCES");
	assert_string_equal(ueip_client_errname(-ETIMEDOUT), "NO_ANSWER");
	assert_false(UEIP_IS_EPCP(UEIP_EINVAL));
	assert_false(UEIP_IS_EPCP(-ETIMEDOUT));
	assert_string_equal(ueip_client_strerror(UEIP_EINVAL), ueip_strerror(UEIP_EINVAL));
	assert_string_equal(ueip_event_name(UEIP_EV_WITHDRAWN), "withdrawn");
}

/* ------------------------------------------------------------------ */
/* State file                                                          */

static void
tmpdir(char *buf, size_t size)
{
	const char *t = getenv("TMPDIR");

	snprintf(buf, size, "%s/ueip-agent-XXXXXX", t && *t ? t : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static void
rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static struct ueip_state
sample_state(void)
{
	struct ueip_state st = { .pid = 4242, .pid_start = 987654, .external_port = 0,
				 .lifetime = 3600, .expires = 1900000000, .protocol = 0,
				 .internal_port = 0, .updated = 1899996400 };
	for (int i = 0; i < UEIP_NONCE_LEN; i++)
		st.nonce[i] = (uint8_t)(0xa0 + i);
	snprintf(st.server, sizeof(st.server), "100.64.0.1:5351");
	snprintf(st.address, sizeof(st.address), "198.51.100.7");
	snprintf(st.state, sizeof(st.state), "granted");
	snprintf(st.last_event, sizeof(st.last_event), "granted 198.51.100.7 lifetime 3600");
	return st;
}

static void
test_state_roundtrip(void **state)
{
	char dir[256], sub[300], path[400], why[160];
	struct ueip_state st = sample_state(), back;
	struct stat sb;
	json_error_t jerr;
	json_t *j;
	(void)state;

	tmpdir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/run/ueip", dir);
	snprintf(path, sizeof(path), "%s/public.json", sub);
	/* mkdir -p of the missing directories, then the file. */
	assert_int_equal(ueip_state_write(path, &st), 0);
	assert_int_equal(ueip_state_read(path, &back, why, sizeof(why)), 0);
	assert_int_equal(back.pid, 4242);
	assert_int_equal(back.pid_start, 987654);
	assert_string_equal(back.server, "100.64.0.1:5351");
	assert_string_equal(back.address, "198.51.100.7");
	assert_int_equal(back.lifetime, 3600);
	assert_int_equal(back.expires, 1900000000);
	assert_memory_equal(back.nonce, st.nonce, UEIP_NONCE_LEN);
	assert_string_equal(back.state, "granted");
	assert_string_equal(back.last_event, st.last_event);

	/* What a script sees: the documented keys and types. */
	j = json_load_file(path, 0, &jerr);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 4242);
	assert_string_equal(json_string_value(json_object_get(j, "server")), "100.64.0.1:5351");
	assert_string_equal(json_string_value(json_object_get(j, "address")), "198.51.100.7");
	assert_int_equal(json_integer_value(json_object_get(j, "lifetime")), 3600);
	assert_int_equal(json_integer_value(json_object_get(j, "expires")), 1900000000);
	assert_string_equal(json_string_value(json_object_get(j, "nonce")),
			    "a0a1a2a3a4a5a6a7a8a9aaab");
	assert_int_equal(json_integer_value(json_object_get(j, "protocol")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "internal_port")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "granted");
	assert_true(json_is_string(json_object_get(j, "last_event")));
	json_decref(j);

	/* Atomic replace: a second write leaves one file, no temp, mode 0644. */
	snprintf(st.state, sizeof(st.state), "withdrawn");
	assert_int_equal(ueip_state_write(path, &st), 0);
	assert_int_equal(count_entries(sub), 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(ueip_state_read(path, &back, why, sizeof(why)), 0);
	assert_string_equal(back.state, "withdrawn");

	/* Missing file. */
	snprintf(path, sizeof(path), "%s/none.json", dir);
	assert_int_equal(ueip_state_read(path, &back, why, sizeof(why)), -ENOENT);
	rm_rf(dir);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_state_malformed(void **state)
{
	static const struct {
		const char *text;
		const char *why;	/* a word the reason must contain */
	} bad[] = {
		{ "not json", "line 1" },
		{ "[1,2]", "object" },
		{ "{\"server\":\"a\",\"address\":\"b\",\"lifetime\":1,\"expires\":2,\"protocol\":0,"
		  "\"internal_port\":0,\"state\":\"granted\"}", "nonce" },
		{ "{\"server\":\"a\",\"address\":\"b\",\"lifetime\":1,\"expires\":2,\"protocol\":0,"
		  "\"internal_port\":0,\"state\":\"granted\",\"nonce\":\"zz\"}", "nonce" },
		{ "{\"server\":\"a\",\"address\":\"b\",\"lifetime\":\"1\",\"expires\":2,"
		  "\"protocol\":0,\"internal_port\":0,\"state\":\"granted\","
		  "\"nonce\":\"000000000000000000000000\"}", "lifetime" },
		{ "{\"server\":\"a\",\"address\":\"b\",\"lifetime\":1,\"expires\":2,"
		  "\"protocol\":300,\"internal_port\":0,\"state\":\"granted\","
		  "\"nonce\":\"000000000000000000000000\"}", "protocol" },
		{ "{\"server\":\"a\",\"address\":\"b\",\"lifetime\":1,\"expires\":2,"
		  "\"protocol\":0,\"internal_port\":0,\"state\":\"lost\","
		  "\"nonce\":\"000000000000000000000000\"}", "state" },
		{ "{\"server\":\"a\",\"server\":\"b\"}", "duplicate" },
	};
	char dir[256], path[300], why[160];
	struct ueip_state st;
	(void)state;

	tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/s.json", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(path, bad[i].text);
		assert_int_equal(ueip_state_read(path, &st, why, sizeof(why)), UEIP_EMALFORMED);
		if (!strstr(why, bad[i].why))
			fail_msg("case %zu: reason '%s' does not mention '%s'", i, why, bad[i].why);
		assert_int_equal(st.pid, 0);
		assert_string_equal(st.state, "");
	}
	/* Over the size cap. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 70000; i++)
		fputc(' ', f);
	fclose(f);
	assert_int_equal(ueip_state_read(path, &st, why, sizeof(why)), UEIP_ETOOBIG);
	rm_rf(dir);
}

static void
test_state_pid_alive(void **state)
{
	struct ueip_state st = { .pid = getpid() };
	pid_t child;
	(void)state;

	assert_int_equal(ueip_state_pid_alive(&st), 1);
	st.pid_start = ueip_proc_start_time(getpid());
	assert_true(st.pid_start > 0);
	assert_int_equal(ueip_state_pid_alive(&st), 1);
	st.pid_start += 1;		/* the pid was reused by another process */
	assert_int_equal(ueip_state_pid_alive(&st), 0);
	st.pid = 0;
	assert_int_equal(ueip_state_pid_alive(&st), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	st.pid = child;
	st.pid_start = 0;
	assert_int_equal(ueip_state_pid_alive(&st), 0);
}

/* ------------------------------------------------------------------ */
/* A real peer: the PCP server played on 127.0.0.1 with the codec       */

struct srv {
	int fd;
	uint16_t port;
	struct sockaddr_in client;	/* where the last request came from */
	uint8_t last[UEIP_PCP_MAX];
	size_t last_len;
	uint64_t last_at;
};

static void
srv_open(struct srv *s, const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	inet_pton(AF_INET, ip, &sin.sin_addr);
	s->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
}

/* Next request within timeout_ms: 0 and *m decoded, or -1. */
static int
srv_recv(struct srv *s, struct ueip_pcp_msg *m, int timeout_ms)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	socklen_t len = sizeof(s->client);
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	n = recvfrom(s->fd, s->last, sizeof(s->last), 0, (struct sockaddr *)&s->client, &len);
	assert_true(n > 0);
	s->last_len = (size_t)n;
	s->last_at = mono_ms();
	assert_int_equal(ueip_pcp_decode_request(s->last, s->last_len, m), UEIP_PCP_SUCCESS);
	return 0;
}

static void
srv_sendto(struct srv *s, const struct sockaddr_in *to, const uint8_t *buf, int n)
{
	assert_true(n > 0);
	assert_int_equal(sendto(s->fd, buf, (size_t)n, 0, (const struct sockaddr *)to,
				sizeof(*to)), n);
}

static void
srv_answer(struct srv *s, const struct ueip_pcp_msg *req, uint32_t lifetime, uint32_t epoch,
	   const char *external, uint16_t eport)
{
	struct ueip_pcp_msg r = *req;
	struct in_addr a;
	uint8_t buf[UEIP_PCP_MAX];

	r.response = 1;
	r.result = UEIP_PCP_SUCCESS;
	r.lifetime = lifetime;
	r.epoch = epoch;
	inet_pton(AF_INET, external, &a);
	ueip_pcp_v4_to_mapped(ntohl(a.s_addr), &r.external);
	r.external_port = eport;
	srv_sendto(s, &s->client, buf, ueip_pcp_encode_response(&r, buf, sizeof(buf)));
}

static void
srv_error(struct srv *s, uint8_t result, uint32_t lifetime)
{
	uint8_t buf[UEIP_PCP_MAX];

	srv_sendto(s, &s->client, buf, ueip_pcp_encode_error(s->last, s->last_len, result,
							      lifetime, EPOCH, buf, sizeof(buf)));
}

/* An unsolicited MAP response (a withdrawal notice when lifetime is 0). */
static void
srv_notice(struct srv *s, uint16_t to_port, const uint8_t *nonce, uint8_t proto, uint16_t iport,
	   uint32_t epoch)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(to_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ueip_pcp_msg r = { .version = 2, .opcode = UEIP_PCP_OP_MAP, .response = 1,
				  .epoch = epoch, .protocol = proto, .internal_port = iport };
	uint8_t buf[UEIP_PCP_MAX];

	memcpy(r.nonce, nonce, UEIP_NONCE_LEN);
	ueip_pcp_v4_to_mapped(0xc6336407, &r.external);		/* 198.51.100.7 */
	srv_sendto(s, &to, buf, ueip_pcp_encode_response(&r, buf, sizeof(buf)));
}

static void
srv_announce(struct srv *s, uint16_t to_port, uint32_t epoch)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(to_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ueip_pcp_msg r = { .version = 2, .opcode = UEIP_PCP_OP_ANNOUNCE, .response = 1,
				  .epoch = epoch };
	uint8_t buf[UEIP_PCP_MAX];

	srv_sendto(s, &to, buf, ueip_pcp_encode_response(&r, buf, sizeof(buf)));
}

static uint16_t
free_udp_port(void)
{
	struct srv s;
	uint16_t port;

	srv_open(&s, "127.0.0.1");
	port = s.port;
	close(s.fd);
	return port;
}

static ueip_client *
client_open(const struct srv *s, uint16_t notice_port)
{
	char server[32];
	struct ueip_client_options o = { .server = server, .notice_port = notice_port ? notice_port : -1,
					 .irt_ms = IRT };
	ueip_client *c;

	snprintf(server, sizeof(server), "127.0.0.1:%u", s->port);
	assert_int_equal(ueip_client_open(&o, &c), 0);
	return c;
}

/* Events the client produced while a test was waiting for the server. */
static struct ueip_event held[UEIP_CLIENT_EVENTS_MAX];
static int nheld;

/* Drive the client until it yields an event or timeout_ms pass: 1 or 0. */
static int
next_event(ueip_client *c, struct ueip_event *ev, int timeout_ms)
{
	uint64_t until = mono_ms() + (uint64_t)timeout_ms;

	if (nheld) {
		*ev = held[0];
		memmove(&held[0], &held[1], sizeof(held[0]) * (size_t)--nheld);
		return 1;
	}
	for (;;) {
		int rc = ueip_client_process(c, ev);
		assert_true(rc >= 0);
		if (rc == 1)
			return 1;
		uint64_t now = mono_ms();
		if (now >= until)
			return 0;
		int t = ueip_client_timeout(c);
		if (t < 0 || (uint64_t)t > until - now)
			t = (int)(until - now);
		struct pollfd p = { .fd = ueip_client_fd(c), .events = POLLIN };
		poll(&p, 1, t);
	}
}

/* srv_recv while the client runs (its timers send); its events are held. */
static int
srv_recv_live(struct srv *s, ueip_client *c, struct ueip_pcp_msg *m, int timeout_ms)
{
	uint64_t until = mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct ueip_event ev;
		while (ueip_client_process(c, &ev) == 1) {
			assert_true(nheld < UEIP_CLIENT_EVENTS_MAX);
			held[nheld++] = ev;
		}
		if (srv_recv(s, m, 0) == 0)
			return 0;
		uint64_t now = mono_ms();
		if (now >= until)
			return -1;
		int t = ueip_client_timeout(c);
		if (t < 0 || (uint64_t)t > until - now)
			t = (int)(until - now);
		struct pollfd p[2] = { { .fd = ueip_client_fd(c), .events = POLLIN },
				       { .fd = s->fd, .events = POLLIN } };
		poll(p, 2, t);
	}
}

static void
srv_flush(struct srv *s)
{
	uint8_t buf[UEIP_PCP_MAX];

	while (recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void
expect_event(ueip_client *c, enum ueip_event_type type, struct ueip_event *ev, int timeout_ms)
{
	if (!next_event(c, ev, timeout_ms))
		fail_msg("no %s event within %d ms", ueip_event_name(type), timeout_ms);
	if (ev->type != type)
		fail_msg("expected %s, got %s (%s)", ueip_event_name(type),
			 ueip_event_name(ev->type), ev->why);
}

/* Map, answer from the server, and check the GRANTED event; returns the id. */
static int
grant_at(ueip_client *c, struct srv *s, uint8_t proto, uint16_t port, uint32_t lifetime,
	 uint32_t epoch, struct ueip_pcp_msg *req)
{
	struct ueip_map_request r = { .protocol = proto, .internal_port = port,
				      .lifetime = lifetime };
	struct ueip_event ev;
	int id = ueip_client_map(c, &r);

	assert_true(id > 0);
	assert_int_equal(srv_recv(s, req, 1000), 0);
	srv_answer(s, req, lifetime, epoch, "198.51.100.7", port);
	expect_event(c, UEIP_EV_GRANTED, &ev, 1000);
	assert_int_equal(ev.id, id);
	assert_string_equal(ev.external, "198.51.100.7");
	assert_int_equal(ev.lifetime, lifetime);
	return id;
}

static int
grant(ueip_client *c, struct srv *s, uint8_t proto, uint16_t port, uint32_t lifetime,
      struct ueip_pcp_msg *req)
{
	return grant_at(c, s, proto, port, lifetime, EPOCH, req);
}

static void
test_client_request_and_renew(void **state)
{
	struct srv s;
	ueip_client *c;
	struct ueip_pcp_msg req, ren;
	struct ueip_event ev;
	struct ueip_mapping_info info;
	struct in6_addr zero4, lo;
	static const uint8_t zero_nonce[UEIP_NONCE_LEN];
	uint64_t granted_at;
	int id;
	(void)state;

	srv_open(&s, "127.0.0.1");
	c = client_open(&s, 0);
	/* A dedicated address: MAP protocol 0, port 0, a random nonce, the
	 * client address field = our source, "no preference" as ::ffff:0.0.0.0. */
	id = grant(c, &s, 0, 0, 2, &req);
	granted_at = mono_ms();
	assert_int_equal(req.opcode, UEIP_PCP_OP_MAP);
	assert_int_equal(req.protocol, 0);
	assert_int_equal(req.internal_port, 0);
	assert_int_equal(req.lifetime, 2);
	assert_memory_not_equal(req.nonce, zero_nonce, UEIP_NONCE_LEN);
	ueip_pcp_v4_to_mapped(0, &zero4);
	ueip_pcp_v4_to_mapped(INADDR_LOOPBACK, &lo);
	assert_memory_equal(&req.client, &lo, sizeof(lo));
	assert_memory_equal(&req.external, &zero4, sizeof(zero4));
	assert_int_equal(req.external_port, 0);
	assert_int_equal(ntohs(s.client.sin_port), ueip_client_local_port(c));

	assert_int_equal(ueip_client_mapping(c, id, &info), 0);
	assert_int_equal(info.state, UEIP_MAP_GRANTED);
	assert_string_equal(info.external, "198.51.100.7");
	assert_memory_equal(info.nonce, req.nonce, UEIP_NONCE_LEN);
	assert_true(info.expires >= time(NULL) + 1);

	/* Renewal: between 1/2 and 5/8 of 2 s, same nonce, the assigned
	 * address suggested. */
	assert_int_equal(srv_recv_live(&s, c, &ren, 1500), 0);
	assert_int_equal(nheld, 0);
	assert_true(s.last_at - granted_at >= 950 && s.last_at - granted_at <= 1400);
	assert_memory_equal(ren.nonce, req.nonce, UEIP_NONCE_LEN);
	assert_int_equal(ren.lifetime, 2);
	uint32_t sugg;
	assert_int_equal(ueip_pcp_mapped_to_v4(&ren.external, &sugg), 1);
	assert_int_equal(sugg, 0xc6336407);
	srv_answer(&s, &ren, 2, EPOCH + 1, "198.51.100.7", 0);
	expect_event(c, UEIP_EV_RENEWED, &ev, 1000);
	assert_int_equal(ev.id, id);

	/* An answer at another address is reported as REACQUIRED. */
	assert_int_equal(srv_recv_live(&s, c, &ren, 1500), 0);
	srv_answer(&s, &ren, 2, EPOCH + 2, "198.51.100.8", 0);
	expect_event(c, UEIP_EV_REACQUIRED, &ev, 1000);
	assert_string_equal(ev.external, "198.51.100.8");
	ueip_client_free(c);
	close(s.fd);
}

static void
test_client_retransmit_deadline(void **state)
{
	struct srv s;
	ueip_client *c;
	struct ueip_pcp_msg req, first;
	struct ueip_event ev;
	struct ueip_map_request r = { .protocol = 17, .internal_port = 5000, .lifetime = 60,
				      .timeout_ms = 1000 };
	uint64_t t0, at[16];
	int n = 0, id;
	(void)state;

	srv_open(&s, "127.0.0.1");
	c = client_open(&s, 0);
	t0 = mono_ms();
	id = ueip_client_map(c, &r);
	assert_true(id > 0);
	/* The server stays silent; drive the client and log what arrives
	 * (polling both sockets, so arrival times are exact to ~1 ms). */
	for (;;) {
		if (ueip_client_process(c, &ev) == 1)
			break;
		int t = ueip_client_timeout(c);
		struct pollfd p[2] = { { .fd = ueip_client_fd(c), .events = POLLIN },
				       { .fd = s.fd, .events = POLLIN } };
		poll(p, 2, t < 0 || t > 50 ? 50 : t);
		while (n < 16 && srv_recv(&s, n ? &req : &first, 0) == 0) {
			at[n++] = s.last_at - t0;
			if (n > 1)
				assert_memory_equal(req.nonce, first.nonce, UEIP_NONCE_LEN);
		}
		assert_true(mono_ms() - t0 < 3000);
	}
	assert_int_equal(ev.type, UEIP_EV_TIMEOUT);
	assert_int_equal(ev.id, id);
	assert_true(mono_ms() - t0 >= 995 && mono_ms() - t0 <= 1100);
	/* IRT 100 ms, each RT = 2 * previous +-10 %: sends at 0, 90..110,
	 * 252..352, 544..884 ms; the next would fall after the 1 s deadline. */
	assert_int_equal(n, 4);
	assert_true(at[0] <= 20);
	if (!(at[1] >= 88 && at[1] <= 125) || !(at[2] >= 248 && at[2] <= 370) ||
	    !(at[3] >= 540 && at[3] <= 905))
		fail_msg("sends at 0, %" PRIu64 ", %" PRIu64 ", %" PRIu64 " ms", at[1], at[2],
			 at[3]);

	/* The blocking form says the same. */
	struct ueip_mapping_info info;
	r.timeout_ms = 250;
	assert_int_equal(ueip_client_map_wait(c, &r, &info), -ETIMEDOUT);
	assert_int_equal(ueip_client_icmp_error(c), 0);
	ueip_client_free(c);
	close(s.fd);
}

static void
test_client_refused(void **state)
{
	struct srv s;
	ueip_client *c;
	struct ueip_pcp_msg req;
	struct ueip_event ev;
	struct ueip_mapping_info info;
	uint8_t nonce[UEIP_NONCE_LEN] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2 };
	struct ueip_map_request r = { .protocol = 6, .internal_port = 8080, .nonce = nonce };
	int id;
	(void)state;

	srv_open(&s, "127.0.0.1");
	c = client_open(&s, 0);
	/* Asynchronous: REFUSED carries the result and the retry hint. */
	id = ueip_client_map(c, &r);
	assert_int_equal(srv_recv(&s, &req, 1000), 0);
	assert_memory_equal(req.nonce, nonce, UEIP_NONCE_LEN);	/* a given nonce is used as is */
	assert_int_equal(req.lifetime, 3600);			/* 0 = the default */
	srv_error(&s, UEIP_PCP_NOT_AUTHORIZED, 1800);
	expect_event(c, UEIP_EV_REFUSED, &ev, 1000);
	assert_int_equal(ev.id, id);
	assert_int_equal(ev.result, UEIP_PCP_NOT_AUTHORIZED);
	assert_int_equal(ev.lifetime, 1800);
	assert_int_equal(ueip_client_mapping(c, id, &info), 0);
	assert_int_equal(info.state, UEIP_MAP_FAILED);
	assert_int_equal(info.err, UEIP_EPCP(UEIP_PCP_NOT_AUTHORIZED));
	assert_int_equal(ueip_client_forget(c, id), 0);

	/* Blocking: the error response is already queued in the socket (the
	 * nonce is known), and map_wait returns the PCP code. */
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(ueip_client_local_port(c)),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	s.client = to;
	srv_error(&s, UEIP_PCP_USER_EX_QUOTA, 30);
	assert_int_equal(ueip_client_map_wait(c, &r, &info), UEIP_EPCP(UEIP_PCP_USER_EX_QUOTA));
	assert_string_equal(ueip_client_errname(UEIP_EPCP(info.result)), "USER_EX_QUOTA");
	assert_int_equal(srv_recv(&s, &req, 1000), 0);
	ueip_client_free(c);
	close(s.fd);
}

static void
test_client_withdrawal(void **state)
{
	struct srv s, stranger;
	ueip_client *c;
	struct ueip_pcp_msg req;
	struct ueip_event ev;
	struct ueip_mapping_info info;
	uint8_t other[UEIP_NONCE_LEN] = { 0 };
	uint16_t np = free_udp_port();
	int id, id2;
	(void)state;

	srv_open(&s, "127.0.0.1");
	srv_open(&stranger, "127.0.0.2");
	c = client_open(&s, np);
	assert_int_equal(ueip_client_notice_port(c), np);
	id = grant(c, &s, 0, 0, 3600, &req);

	/* Not ours: another nonce; and our nonce but from another address. */
	srv_notice(&s, np, other, 0, 0, EPOCH);
	srv_notice(&stranger, np, req.nonce, 0, 0, EPOCH);
	/* Garbage on the request port. */
	{
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_port = htons(ueip_client_local_port(c)),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		srv_sendto(&s, &to, (const uint8_t *)"\x02\x81garbage", 9);
	}
	assert_int_equal(next_event(c, &ev, 300), 0);
	assert_int_equal(ueip_client_mapping(c, id, &info), 0);
	assert_int_equal(info.state, UEIP_MAP_GRANTED);

	/* The operator withdraws: an unsolicited lifetime-0 MAP response with
	 * our nonce, protocol and port, to the notice port. */
	srv_notice(&s, np, req.nonce, 0, 0, EPOCH);
	expect_event(c, UEIP_EV_WITHDRAWN, &ev, 1000);
	assert_int_equal(ev.id, id);
	assert_string_equal(ev.external, "198.51.100.7");
	assert_int_equal(ueip_client_mapping(c, id, &info), UEIP_ENOTFOUND);

	/* The same on the request port, for a port mapping. */
	id2 = grant(c, &s, 6, 8080, 3600, &req);
	srv_notice(&s, ueip_client_local_port(c), req.nonce, 6, 8080, EPOCH);
	expect_event(c, UEIP_EV_WITHDRAWN, &ev, 1000);
	assert_int_equal(ev.id, id2);
	assert_int_equal(ev.internal_port, 8080);
	assert_true(id2 != id);				/* ids are not reused */
	ueip_client_free(c);
	close(s.fd);
	close(stranger.fd);
}

static void
test_client_announce_and_epoch(void **state)
{
	struct srv s;
	ueip_client *c;
	struct ueip_pcp_msg req, again, a1, a2;
	struct ueip_event ev;
	uint16_t np = free_udp_port();
	int id, id2;
	(void)state;

	srv_open(&s, "127.0.0.1");
	c = client_open(&s, np);
	id = grant(c, &s, 0, 0, 3600, &req);

	/* An unsolicited ANNOUNCE, even with a consistent epoch: servers send one only
	 * after losing state, so the mapping is asked for again with its nonce. */
	srv_announce(&s, np, EPOCH);
	expect_event(c, UEIP_EV_STATE_LOST, &ev, 1000);
	assert_int_equal(ev.announce, 1);
	assert_int_equal(srv_recv_live(&s, c, &again, 1500), 0);
	assert_memory_equal(again.nonce, req.nonce, UEIP_NONCE_LEN);
	srv_answer(&s, &again, 3600, EPOCH, "198.51.100.7", 0);
	expect_event(c, UEIP_EV_REACQUIRED, &ev, 1000);
	assert_int_equal(ev.id, id);

	/* The server restarted without its state: ANNOUNCE, epoch 0. */
	srv_announce(&s, np, 0);
	expect_event(c, UEIP_EV_STATE_LOST, &ev, 1000);
	assert_int_equal(ev.announce, 1);
	assert_int_equal(ev.epoch, 0);
	/* Re-requested with the same nonce within the 0..1 s spread. */
	assert_int_equal(srv_recv_live(&s, c, &again, 1500), 0);
	assert_memory_equal(again.nonce, req.nonce, UEIP_NONCE_LEN);
	assert_int_equal(again.lifetime, 3600);
	srv_answer(&s, &again, 3600, 1, "198.51.100.9", 0);
	expect_event(c, UEIP_EV_REACQUIRED, &ev, 1000);
	assert_int_equal(ev.id, id);
	assert_string_equal(ev.external, "198.51.100.9");

	/* Any response whose epoch is inconsistent means the same. A second
	 * mapping, at epoch 2 (consistent), then a MAP response for someone
	 * else's mapping whose epoch went back by 2 s: both of ours are asked
	 * for again. */
	id2 = grant_at(c, &s, 17, 5353, 3600, 2, &req);
	assert_true(id2 > id);
	srv_notice(&s, ueip_client_local_port(c), (const uint8_t *)"someone else", 6, 1, 0);
	expect_event(c, UEIP_EV_STATE_LOST, &ev, 1000);
	assert_int_equal(ev.announce, 0);
	/* Both come back (each retransmitted until answered), same nonces. */
	int seen0 = 0, seen17 = 0;
	while (!(seen0 && seen17)) {
		assert_int_equal(srv_recv_live(&s, c, &a1, 1500), 0);
		if (a1.protocol == 0) {
			assert_memory_equal(a1.nonce, again.nonce, UEIP_NONCE_LEN);
			seen0 = 1;
			a2 = a1;
		} else {
			assert_memory_equal(a1.nonce, req.nonce, UEIP_NONCE_LEN);
			seen17 = 1;
		}
	}
	/* An answer that itself shows the reset re-grants that mapping (and
	 * the state loss is not reported twice: the epoch is now recorded). */
	srv_answer(&s, &a2, 3600, 1, "198.51.100.7", 0);
	expect_event(c, UEIP_EV_REACQUIRED, &ev, 1000);
	assert_int_equal(ev.id, id);
	assert_int_equal(nheld, 0);
	ueip_client_free(c);
	close(s.fd);
}

static void
test_client_release_and_nonces(void **state)
{
	struct srv s;
	ueip_client *c;
	struct ueip_pcp_msg req, req2, rel;
	struct ueip_map_request dup = { .protocol = 0 };
	struct ueip_map_request bad = { .protocol = 0, .internal_port = 80 };
	uint32_t epoch = 0;
	int id, id2;
	(void)state;

	srv_open(&s, "127.0.0.1");
	c = client_open(&s, 0);
	id = grant(c, &s, 0, 0, 3600, &req);
	id2 = grant(c, &s, 6, 8080, 3600, &req2);
	/* Fresh nonces are random and differ per mapping. */
	assert_memory_not_equal(req.nonce, req2.nonce, UEIP_NONCE_LEN);
	/* One live mapping per protocol and port; protocol 0 means port 0. */
	assert_int_equal(ueip_client_map(c, &dup), UEIP_ECONFLICT);
	assert_int_equal(ueip_client_map(c, &bad), UEIP_EINVAL);

	/* Release: MAP lifetime 0 with the same nonce, protocol and port. The
	 * answer (lifetime 0, which would otherwise be a withdrawal) is
	 * queued before the call: the call must take it as the answer. */
	struct ueip_pcp_msg ans = req;
	ans.lifetime = 0;
	srv_answer(&s, &ans, 0, EPOCH, "198.51.100.7", 0);
	assert_int_equal(ueip_client_release_wait(c, id, 1000), 0);
	assert_int_equal(srv_recv(&s, &rel, 1000), 0);
	assert_int_equal(rel.lifetime, 0);
	assert_memory_equal(rel.nonce, req.nonce, UEIP_NONCE_LEN);
	assert_int_equal(rel.protocol, 0);
	struct ueip_mapping_info info;
	assert_int_equal(ueip_client_mapping(c, id, &info), UEIP_ENOTFOUND);

	/* No answer: -ETIMEDOUT, and the mapping is gone locally anyway. */
	assert_int_equal(ueip_client_release_wait(c, id2, 300), -ETIMEDOUT);
	assert_int_equal(srv_recv(&s, &rel, 100), 0);
	srv_flush(&s);			/* its retransmissions */
	assert_memory_equal(rel.nonce, req2.nonce, UEIP_NONCE_LEN);
	assert_int_equal(rel.internal_port, 8080);
	assert_int_equal(ueip_client_mapping(c, id2, &info), UEIP_ENOTFOUND);
	assert_int_equal(ueip_client_release_wait(c, id2, 300), UEIP_ENOTFOUND);

	/* Taking over a stored mapping (what `ueip public release` does when
	 * no agent runs) sends nothing until released, then its nonce. */
	uint8_t stored[UEIP_NONCE_LEN] = "stored-nonc";
	struct ueip_map_request take = { .protocol = 17, .internal_port = 53, .nonce = stored };
	int id3 = ueip_client_adopt(c, &take, "198.51.100.7", 53, 0);
	assert_true(id3 > 0);
	assert_int_equal(srv_recv(&s, &rel, 100), -1);
	assert_int_equal(ueip_client_release(c, id3, 1000), 0);
	assert_int_equal(srv_recv(&s, &rel, 1000), 0);
	assert_memory_equal(rel.nonce, stored, UEIP_NONCE_LEN);
	assert_int_equal(rel.lifetime, 0);

	/* ANNOUNCE request and its answer. */
	{
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_port = htons(ueip_client_local_port(c)),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct ueip_pcp_msg a = { .version = 2, .opcode = UEIP_PCP_OP_ANNOUNCE,
					  .response = 1, .epoch = EPOCH };
		uint8_t buf[UEIP_PCP_MAX];
		s.client = to;
		srv_sendto(&s, &to, buf, ueip_pcp_encode_response(&a, buf, sizeof(buf)));
	}
	assert_int_equal(ueip_client_announce_wait(c, 1000, &epoch), 0);
	assert_int_equal(epoch, EPOCH);

	/* Taking over with no lifetime left asks again at once, same nonce. */
	uint8_t stored2[UEIP_NONCE_LEN] = "another-one";
	struct ueip_map_request take2 = { .protocol = 6, .internal_port = 22, .nonce = stored2,
					  .lifetime = 120 };
	struct ueip_event ev;
	int id4 = ueip_client_adopt(c, &take2, "198.51.100.7", 22, 0);
	assert_true(id4 > id3);
	do	/* skip the retransmitted release of id3 */
		assert_int_equal(srv_recv_live(&s, c, &rel, 1000), 0);
	while (memcmp(rel.nonce, stored2, UEIP_NONCE_LEN) != 0);
	assert_int_equal(rel.lifetime, 120);
	srv_answer(&s, &rel, 120, EPOCH, "198.51.100.7", 22);
	do
		assert_int_equal(next_event(c, &ev, 1000), 1);
	while (ev.id != id4);
	assert_int_equal(ev.type, UEIP_EV_REACQUIRED);
	nheld = 0;
	ueip_client_free(c);
	close(s.fd);
}

static void
test_client_notice_port_in_use(void **state)
{
	struct srv s, squat;
	ueip_client *c;
	(void)state;

	srv_open(&s, "127.0.0.1");
	/* Someone holds the port without SO_REUSEADDR: the client warns and
	 * runs without a notice socket. */
	srv_open(&squat, "0.0.0.0");
	c = client_open(&s, squat.port);
	assert_int_equal(ueip_client_notice_port(c), 0);
	assert_true(ueip_client_fd(c) >= 0);
	ueip_client_free(c);
	/* Bad server text. */
	struct ueip_client_options o = { .server = "127.0.0.1:99999", .notice_port = -1 };
	assert_int_equal(ueip_client_open(&o, &c), UEIP_EINVAL);
	assert_null(c);
	o.server = "[::1]:5351x";
	assert_int_equal(ueip_client_open(&o, &c), UEIP_EINVAL);
	o.server = "[::1]";
	assert_int_equal(ueip_client_open(&o, &c), 0);
	assert_string_equal(ueip_client_server(c), "[::1]:5351");
	ueip_client_free(c);
	ueip_client_free(NULL);
	close(s.fd);
	close(squat.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rt_first_and_bounds),
		cmocka_unit_test(test_rt_schedule_default),
		cmocka_unit_test(test_renew_window),
		cmocka_unit_test(test_epoch_rules),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_port_spec_and_errors),
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_state_malformed),
		cmocka_unit_test(test_state_pid_alive),
		cmocka_unit_test(test_client_request_and_renew),
		cmocka_unit_test(test_client_retransmit_deadline),
		cmocka_unit_test(test_client_refused),
		cmocka_unit_test(test_client_withdrawal),
		cmocka_unit_test(test_client_announce_and_epoch),
		cmocka_unit_test(test_client_release_and_nonces),
		cmocka_unit_test(test_client_notice_port_in_use),
	};

	ueip_log_set_level(UEIP_LOG_ERR);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
