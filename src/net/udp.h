/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: UDP endpoint with batched receive and send (PCP, NAT-PMP)
 *
 * One non-blocking IPv4 UDP socket watched by a uv_poll. When readable,
 * datagrams are taken with recvmmsg() in batches of UDP_BATCH (at most
 * UDP_TURN_MAX per loop turn, so one flood cannot starve the loop) and
 * handed to on_datagram() with the source and the local address they were
 * sent to (IP_PKTINFO), so a socket bound to 0.0.0.0 answers from the
 * address the client talked to, as PCP and NAT-PMP clients check.
 *
 * Answers are queued with udpnet_queue() and leave together with
 * sendmmsg() at udpnet_flush(), which the daemon calls after the loop
 * turn's store commit: nothing is answered before it is durable. The queue
 * is capped (UDP_QUEUE_MAX); beyond it an answer is dropped and counted,
 * as a router drops under overload; clients retransmit.
 */
#ifndef UEIP_NET_UDP_H
#define UEIP_NET_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define UDP_DATAGRAM_MAX 1100
#define UDP_BATCH 64
#define UDP_TURN_MAX 1024
#define UDP_QUEUE_MAX 65536

struct udpnet;

struct udp_peer {
	uint32_t addr;		/* host byte order */
	uint16_t port;
	uint32_t local;		/* the address the datagram was sent to (0 = unknown) */
};

typedef void udp_datagram_fn(void *arg, const struct udp_peer *from, const uint8_t *data, size_t len);

struct udp_stats {
	uint64_t received, sent, send_errors, queue_drops;
};

/* Bind host:port ("0.0.0.0:5351"). 0, UEIP_EINVAL (bad address), or -errno. */
int udpnet_new(uv_loop_t *loop, const char *hostport, udp_datagram_fn *fn, void *arg,
	       struct udpnet **out);
/* Queue one datagram (copied). 0, or UEIP_ETOOBIG / UEIP_EBUSY (queue full, dropped). */
int udpnet_queue(struct udpnet *u, const struct udp_peer *to, const uint8_t *data, size_t len);
/* Send everything queued. */
void udpnet_flush(struct udpnet *u);
size_t udpnet_queued(const struct udpnet *u);
void udpnet_stats(const struct udpnet *u, struct udp_stats *out);
/* Stop watching and close the socket (memory freed by udpnet_free after the loop ran). */
void udpnet_close(struct udpnet *u);
void udpnet_free(struct udpnet *u);

#endif
