/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: libueip — the PCP client a UE application links against
 *
 * A ueip_client talks PCP (RFC 6887) to one server (the UE's ueipd, or any
 * PCP server) from an ephemeral UDP port on the UE's address, and listens
 * on UDP 5350 for unsolicited notices. It holds up to UEIP_CLIENT_MAPS_MAX
 * mappings, each named by a small integer id:
 *
 *   - a dedicated public address: MAP protocol 0, port 0;
 *   - a port mapping: MAP for one protocol and internal port.
 *
 * Every mapping has a random 96-bit nonce (getrandom) kept for its whole
 * life: renewals, re-requests after the server lost its state, and the
 * release (lifetime 0) all carry it.
 *
 * Life of a mapping (timers run inside ueip_client_process):
 *
 *            map()                    success answer
 *   (new) ---------> REQUESTING -----------------------> GRANTED
 *                      |  ^  retransmit at RT            |    ^
 *      error answer    |  |  (§8.1.1: IRT 3 s, x2 up     |    | renewal answered
 *      -> REFUSED  <---+  |   to MRT 1024 s, +-10 %)     |    | (RENEWED, or
 *      deadline        |  |                  at 1/2..5/8 |    |  REACQUIRED if the
 *      -> TIMEOUT  <---+  |                 of lifetime  v    |  address changed)
 *                         |                           RENEWING
 *                         |   server lost state          |  retransmit at RT
 *                         +--- (epoch §8.5, ANNOUNCE) <--+  until expiry
 *                         +--- lifetime ran out (EXPIRED) <--+
 *
 *   GRANTED/RENEWING --unsolicited MAP, lifetime 0, our nonce--> WITHDRAWN (gone)
 *   any --release()--> RELEASING --answer or deadline--> RELEASED (gone)
 *
 * After EXPIRED or a state loss the mapping is requested again with the
 * same nonce and no deadline (MRD 0); its next grant is REACQUIRED.
 *
 * Epoch (RFC 6887 §8.5): every response from the server (solicited or not)
 * goes through ueip_epoch_check. An epoch that went back more than 1 s, or
 * moved much more or less than the client's clock, means the server lost
 * its mapping state: STATE_LOST is reported and every granted mapping is
 * requested again (after a random 0..1 s, so that a restarted server is
 * not hit by all its UEs at once). An ANNOUNCE with a consistent epoch is
 * reported and changes nothing (RFC 6887 §14.1.1).
 *
 * Two ways to drive it:
 *
 *   - in an application's own poll loop: poll ueip_client_fd() for input
 *     with the timeout from ueip_client_timeout(), then call
 *     ueip_client_process() until it returns 0; each call that returns 1
 *     hands back one event;
 *   - blocking: ueip_client_map_wait(), ueip_client_release_wait(),
 *     ueip_client_announce_wait() run the same machinery until their own
 *     request ends. Events of that mapping are consumed by the call; other
 *     events (notices, other mappings) stay queued for process().
 *
 * Errors: 0 or a negative code: -errno, a ueip code (core/err.h), or
 * UEIP_EPCP(result) when the server refused with a PCP result code;
 * ueip_client_strerror() names all of them. The library logs through
 * ueip_log (group "agent"); it never writes to stdout and never exits.
 *
 * The agent state file (ueip_state_*) is here too, so that an application
 * can read what the `ueip` command holds (/run/ueip/public.json).
 *
 * Not thread-safe: one client is used from one thread.
 */
#ifndef UEIP_AGENT_LIBUEIP_H
#define UEIP_AGENT_LIBUEIP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ueip_client ueip_client;

#define UEIP_CLIENT_MAPS_MAX 16
#define UEIP_CLIENT_EVENTS_MAX 32		/* queued events; the oldest is dropped beyond */
#define UEIP_NONCE_LEN 12
#define UEIP_ADDRSTRLEN 46			/* INET6_ADDRSTRLEN */

/* RFC 6887 §8.1.1 retransmission constants, in ms. */
#define UEIP_PCP_IRT_MS 3000u
#define UEIP_PCP_MRT_MS 1024000u

/* A server's refusal: -2000 - PCP result code (below every ueip code). */
#define UEIP_EPCP_BASE (-2000)
#define UEIP_EPCP(result) (UEIP_EPCP_BASE - (int)(result))
#define UEIP_IS_EPCP(code) ((code) <= UEIP_EPCP_BASE && (code) > UEIP_EPCP_BASE - 256)
#define UEIP_EPCP_RESULT(code) (UEIP_EPCP_BASE - (code))

struct ueip_client_options {
	const char *server;	/* "host", "host:port", "[v6]:port", "v6"; port 5351 by default */
	const char *local;	/* UE address to bind; NULL: the route's source address */
	int notice_port;	/* unsolicited notices: 0 = 5350, -1 = don't listen, >0 = that port */
	uint32_t irt_ms;	/* initial retransmission time; 0 = 3000 (RFC 6887). Tests only. */
};

/*
 * Open a client: resolve the server, bind and connect the request socket,
 * bind the notice socket (SO_REUSEADDR; EADDRINUSE or EACCES only logs a
 * warning and the client runs without it). *out is owned by the caller:
 * ueip_client_free(). Returns 0, UEIP_EINVAL (bad server or local text),
 * UEIP_EUNREACHABLE (name does not resolve), UEIP_ENOMEM, or -errno from
 * socket/bind/connect.
 */
int ueip_client_open(const struct ueip_client_options *opts, ueip_client **out);
/* Close sockets and forget every mapping (it does not release them). NULL is fine. */
void ueip_client_free(ueip_client *c);

/* "10.77.0.1:5351", "[2001:db8::1]:5351"; borrowed, lives as long as c. */
const char *ueip_client_server(const ueip_client *c);
/* Local UDP port of the request socket; notice port, or 0 when not listening. */
uint16_t ueip_client_local_port(const ueip_client *c);
uint16_t ueip_client_notice_port(const ueip_client *c);
/* -ECONNREFUSED once an ICMP port unreachable came back (no PCP server there?), else 0. */
int ueip_client_icmp_error(const ueip_client *c);

/* ------------------------------------------------------------------ */
/* Mappings                                                            */

struct ueip_map_request {
	uint8_t protocol;		/* IANA number; 0 = all (then internal_port must be 0) */
	uint16_t internal_port;
	uint32_t lifetime;		/* requested, s; 0 = 3600 */
	uint32_t timeout_ms;		/* overall deadline for the first answer; 0 = none (MRD 0) */
	const uint8_t *nonce;		/* NULL = fresh random; else UEIP_NONCE_LEN octets, to
					 * take over a mapping this UE made before (state file) */
	const char *suggest;		/* suggested external address, or NULL */
	uint16_t suggest_port;		/* suggested external port, or 0 */
};

enum ueip_map_state {
	UEIP_MAP_REQUESTING,
	UEIP_MAP_GRANTED,
	UEIP_MAP_RENEWING,
	UEIP_MAP_RELEASING,
	UEIP_MAP_FAILED,		/* refused or no answer: result/err say which */
};

struct ueip_mapping_info {
	int id;
	enum ueip_map_state state;
	uint8_t protocol;
	uint16_t internal_port;
	uint8_t nonce[UEIP_NONCE_LEN];
	char external[UEIP_ADDRSTRLEN];	/* "" until granted */
	uint16_t external_port;
	uint32_t lifetime;		/* granted, s */
	int64_t expires;		/* unix time, s; 0 until granted */
	uint32_t epoch;			/* server epoch of the last answer */
	int result;			/* PCP result of the last answer */
	int err;			/* FAILED: UEIP_EPCP(result) or -ETIMEDOUT */
};

/*
 * Start a MAP request (asynchronous). Returns the mapping id (>= 0), or
 * UEIP_EINVAL (protocol 0 with a port, bad suggestion), UEIP_ETOOBIG (all
 * UEIP_CLIENT_MAPS_MAX ids in use), UEIP_ECONFLICT (a live mapping of
 * this client already has that protocol and port), -errno (getrandom).
 * The first transmission leaves before the call returns.
 */
int ueip_client_map(ueip_client *c, const struct ueip_map_request *req);
/*
 * Release (MAP lifetime 0, same nonce), asynchronous: RELEASED follows on
 * the answer, or after timeout_ms (0 = 10 s) without one. A mapping that
 * was never granted is dropped at once (RELEASED, nothing sent).
 * Returns 0 or UEIP_ENOTFOUND.
 */
int ueip_client_release(ueip_client *c, int id, uint32_t timeout_ms);
/*
 * Take over a mapping granted earlier (to this UE, e.g. by an agent that
 * has exited; its nonce from the state file) as GRANTED, sending nothing:
 * to release it, or to renew it from now on. req->nonce is required;
 * external/external_port are what was assigned; lifetime_left (s) sets
 * the renewal timer (0: request it again, no deadline, at the next
 * ueip_client_process; REACQUIRED follows). Returns the id or what
 * ueip_client_map returns.
 */
int ueip_client_adopt(ueip_client *c, const struct ueip_map_request *req, const char *external,
		      uint16_t external_port, uint32_t lifetime_left);
/* Drop a mapping without telling the server (0 or UEIP_ENOTFOUND). */
int ueip_client_forget(ueip_client *c, int id);
/* A copy of a mapping's state: 0 or UEIP_ENOTFOUND. */
int ueip_client_mapping(const ueip_client *c, int id, struct ueip_mapping_info *out);
/* Send an ANNOUNCE request; ANNOUNCE (or TIMEOUT with id -1) follows. 0 or -errno. */
int ueip_client_announce(ueip_client *c, uint32_t timeout_ms);

/* ------------------------------------------------------------------ */
/* Events and the poll loop                                            */

#define UEIP_EVENTS(X)                                                          \
	X(GRANTED,    "granted")    /* first grant of a mapping */                \
	X(RENEWED,    "renewed")    /* renewal answered, same address and port */ \
	X(REACQUIRED, "reacquired") /* granted again after a loss or a change */  \
	X(REFUSED,    "refused")    /* error answer: result, lifetime = retry hint */ \
	X(TIMEOUT,    "timeout")    /* no answer before the deadline */           \
	X(WITHDRAWN,  "withdrawn")  /* the server ended the mapping (lifetime 0) */ \
	X(EXPIRED,    "expired")    /* lifetime ran out unrenewed; re-requesting */ \
	X(RELEASED,   "released")   /* release done (answered = 0 if no answer) */ \
	X(STATE_LOST, "state-lost") /* server lost state; granted mappings re-requested */ \
	X(ANNOUNCE,   "announce")   /* an ANNOUNCE (answer or unsolicited), epoch consistent */

enum ueip_event_type {
#define UEIP_EV_ENUM(name, text) UEIP_EV_##name,
	UEIP_EVENTS(UEIP_EV_ENUM)
#undef UEIP_EV_ENUM
};

struct ueip_event {
	enum ueip_event_type type;
	int id;				/* mapping id; -1 for client-wide events */
	int result;			/* PCP result code of the message, if any */
	uint32_t epoch;			/* server epoch of the message, if any */
	uint32_t lifetime;		/* granted lifetime, or a refusal's retry hint */
	char external[UEIP_ADDRSTRLEN];	/* the mapping's external address */
	uint16_t external_port;
	uint8_t protocol;
	uint16_t internal_port;
	uint8_t announce;		/* STATE_LOST: 1 if an ANNOUNCE said so */
	uint8_t answered;		/* RELEASED: 1 if the server answered */
	const char *why;		/* static text for people */
};

/* "granted", "renewed", ... (UEIP_EVENTS). */
const char *ueip_event_name(enum ueip_event_type type);

/* The fd to poll for input (an epoll fd over both sockets). */
int ueip_client_fd(const ueip_client *c);
/* ms until process() must run even without input; -1 = no timer. */
int ueip_client_timeout(const ueip_client *c);
/*
 * Read what arrived, run due timers, and hand back one event.
 * Returns 1 (*ev filled; call again), 0 (nothing more now), or -errno
 * for a failure of the request socket. Malformed or foreign datagrams are
 * logged and dropped; they never change state.
 */
int ueip_client_process(ueip_client *c, struct ueip_event *ev);

/* ------------------------------------------------------------------ */
/* Blocking calls                                                      */

/*
 * Map and wait for the first answer (req->timeout_ms is the deadline; 0
 * here means 10 s). Returns the id (>= 0, *out filled, the mapping stays
 * and is renewed by process()), UEIP_EPCP(result) (refused; *out has the
 * result and retry hint, the mapping is dropped), -ETIMEDOUT, or what
 * ueip_client_map returns.
 */
int ueip_client_map_wait(ueip_client *c, const struct ueip_map_request *req,
			 struct ueip_mapping_info *out);
/* Release and wait: 0 (answered), -ETIMEDOUT (no answer in timeout_ms, 0 =
 * 10 s; the mapping is dropped anyway), UEIP_EPCP(result), UEIP_ENOTFOUND. */
int ueip_client_release_wait(ueip_client *c, int id, uint32_t timeout_ms);
/* ANNOUNCE and wait: 0 and *epoch, UEIP_EPCP(result), -ETIMEDOUT. */
int ueip_client_announce_wait(ueip_client *c, uint32_t timeout_ms, uint32_t *epoch);

/* Text for any code of this library, including UEIP_EPCP(); never NULL. */
const char *ueip_client_strerror(int code);
/* PCP result name ("NOT_AUTHORIZED") for a UEIP_EPCP code; else ueip_errname(). */
const char *ueip_client_errname(int code);

/* ------------------------------------------------------------------ */
/* Pure helpers (no I/O, no clock): the rules above, testable alone.   */

/*
 * RFC 6887 §8.1.1: the next retransmission timeout. prev_ms 0 gives the
 * first, RT = (1 + RAND) * IRT; then RT = (1 + RAND) * MIN(2 * prev, MRT),
 * RAND uniform in [-0.1, +0.1] taken from rnd.
 */
uint32_t ueip_pcp_rt_next(uint32_t prev_ms, uint32_t irt_ms, uint32_t rnd);
/* RFC 6887 §11.2.1: renew after a uniform 1/2..5/8 of the lifetime (rnd). */
uint64_t ueip_pcp_renew_after_ms(uint32_t lifetime_s, uint32_t rnd);

/* RFC 6887 §8.5 epoch validation; zero-initialised = no response seen yet. */
struct ueip_epoch_track {
	int have;
	uint32_t server;		/* prev_server_time, s */
	uint64_t client_ms;		/* prev_client_time, ms (any monotonic clock) */
};
/* 1 if the epoch is consistent, 0 if the server lost state. Records it either way. */
int ueip_epoch_check(struct ueip_epoch_track *t, uint32_t server_epoch, uint64_t now_ms);

/* How a decoded response relates to one mapping of ours. */
enum ueip_rsp_class {
	UEIP_RSP_OTHER,			/* not about this mapping */
	UEIP_RSP_ANSWER,		/* success answer to our pending request */
	UEIP_RSP_REFUSED,		/* error answer to our pending request */
	UEIP_RSP_WITHDRAWN,		/* unsolicited lifetime 0 for our mapping */
	UEIP_RSP_STALE,			/* about this mapping but nothing pending: ignore */
};
struct ueip_pcp_msg;
/*
 * Classify a MAP response against a mapping (nonce, protocol, internal
 * port). pending: a request of ours is outstanding; releasing: it asked
 * for lifetime 0 (then a lifetime-0 answer is the release's answer, not a
 * withdrawal). A success with lifetime 0 for a mapping that is not being
 * released is a withdrawal, solicited or not.
 */
enum ueip_rsp_class ueip_pcp_classify(const uint8_t nonce[UEIP_NONCE_LEN], uint8_t protocol,
				      uint16_t internal_port, int pending, int releasing,
				      const struct ueip_pcp_msg *rsp);

/* ------------------------------------------------------------------ */
/* Agent state file (JSON, written atomically: temp file + rename)     */

#define UEIP_STATE_DEFAULT "/run/ueip/public.json"

struct ueip_state {
	long pid;			/* agent that holds the mapping; 0 = none */
	unsigned long long pid_start;	/* its start time (/proc/PID/stat field 22) */
	char server[80];		/* as given: "10.77.0.1:5351" */
	char address[UEIP_ADDRSTRLEN];	/* external address */
	uint16_t external_port;
	uint32_t lifetime;
	int64_t expires;		/* unix s */
	uint8_t nonce[UEIP_NONCE_LEN];
	uint8_t protocol;
	uint16_t internal_port;
	char state[16];			/* granted | withdrawn | released | expired | refused */
	char last_event[128];
	int64_t updated;		/* unix s */
};

/*
 * Write *st to path atomically (path.XXXXXX in the same directory, fsync,
 * rename); creates the directory (mkdir -p, 0755) when missing.
 * Returns 0, UEIP_EINVAL (path too long) or -errno.
 */
int ueip_state_write(const char *path, const struct ueip_state *st);
/*
 * Read and validate a state file. Returns 0, -ENOENT, UEIP_EMALFORMED
 * (why says which key), UEIP_ETOOBIG (over 64 KiB) or -errno.
 */
int ueip_state_read(const char *path, struct ueip_state *st, char *why, size_t why_size);
/* 1 if st->pid runs and is the process that wrote the file (start time matches). */
int ueip_state_pid_alive(const struct ueip_state *st);
/* Start time of a process (/proc/PID/stat field 22), 0 if unknown. */
unsigned long long ueip_proc_start_time(long pid);

/* Parse "tcp:8080", "udp:53", "17:53" (protocol name or number, port). 0 or UEIP_EINVAL. */
int ueip_parse_port_spec(const char *text, uint8_t *protocol, uint16_t *port);
/* "tcp", "udp", "sctp", "all" (0) or the number as text; buf for numbers. */
const char *ueip_protocol_name(uint8_t protocol, char *buf, size_t size);

#endif
