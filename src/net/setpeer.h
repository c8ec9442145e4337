/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: set peer transport
 *
 * Each member keeps one outgoing TCP connection to every other member (its
 * requests travel there, the answers come back on it) and accepts the
 * others' connections (their requests arrive there, and are answered on
 * them). A connection starts with HELLO both ways: the client sends its id,
 * set id, epoch, incarnation and a nonce, MACed with the set key; the server
 * checks the id is a configured member of the same set and answers with its
 * own HELLO. From then on frames are MACed with the per-connection key and
 * carry sequence numbers 1, 2, 3...; anything else closes the connection
 * with a log line naming the peer. Outgoing connections are retried every
 * second while down.
 *
 *   DOWN --connect--> CONNECTING --tcp up, HELLO sent--> HELLO_WAIT
 *   HELLO_WAIT --valid HELLO--> UP --error/EOF--> DOWN (retry timer)
 */
#ifndef UEIP_DAEMON_SETPEER_H
#define UEIP_DAEMON_SETPEER_H

#include <uv.h>

#include "proto/setframe.h"

struct setpeer;		/* one known member (other than us) */
struct setconn;		/* one TCP connection */
struct setnet;

struct setnet_hooks {
	/* A request or answer arrived on conn from peer. */
	void (*on_frame)(void *arg, struct setpeer *peer, struct setconn *conn, struct ueip_setmsg *msg);
	/* Our outgoing connection to peer is up (HELLO done) or went down. */
	void (*on_out_up)(void *arg, struct setpeer *peer, uint64_t peer_epoch);
	void (*on_out_down)(void *arg, struct setpeer *peer);
	/* An incoming connection from peer closed. */
	void (*on_in_down)(void *arg, struct setpeer *peer, struct setconn *conn);
	void *arg;
};

struct setnet_params {
	const char *set_id;
	const char *self_id;
	const char *listen;		/* host:port */
	const uint8_t *key;
	size_t key_len;
	uint64_t (*epoch)(void *arg);	/* our current epoch, for HELLO */
	void *epoch_arg;
	uint64_t incarnation;
};

int setnet_new(uv_loop_t *loop, const struct setnet_params *p, const struct setnet_hooks *hooks,
	       struct setnet **out);
void setnet_free(struct setnet *net);
/* Close every connection and handle (before the loop's last run). */
void setnet_close_all(struct setnet *net);
/* Add or update a member (id, host:port); starts connecting. Returns the peer or NULL. */
struct setpeer *setnet_peer_set(struct setnet *net, const char *id, const char *address);
struct setpeer *setnet_peer_find(struct setnet *net, const char *id);
/* Forget a member no longer in the set (closes its connections). */
void setnet_peer_drop(struct setnet *net, struct setpeer *peer);
const char *setpeer_id(const struct setpeer *peer);
const char *setpeer_address(const struct setpeer *peer);
int setpeer_is_up(const struct setpeer *peer);
/* Visit every known peer. */
void setnet_each_peer(struct setnet *net, void (*fn)(struct setpeer *peer, void *arg), void *arg);

/*
 * Frame building: begin returns a buffer with the header written; append
 * fields with ueip_set_put_*; send seals and queues it. On a peer whose
 * outgoing connection is down, send returns UEIP_EUNREACHABLE and drops the
 * frame (callers keep what must be retried durably).
 */
struct ueip_buf *setnet_begin(struct setnet *net, unsigned type);
int setnet_send_request(struct setnet *net, struct setpeer *peer);
int setnet_send_reply(struct setnet *net, struct setconn *conn);
struct setpeer *setconn_peer(const struct setconn *conn);
/* Connection ids let deferred answers find their connection again (0 = none). */
uint64_t setconn_id(const struct setconn *conn);
struct setconn *setnet_conn_find(struct setnet *net, uint64_t id);

#endif
