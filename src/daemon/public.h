/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: public — routable addresses on request (seed 000)
 *
 * The PCP (RFC 6887) and NAT-PMP (RFC 6886) server of ueipd. A request from
 * a UE (its source must be the UE IP of a session this member controls) is
 * decoded, authorised, rate-limited and carried out against the mapping
 * table; the change joins the loop turn's store batch and data-path queue;
 * after the store commit, the data path is committed and the answers leave
 * (udpnet_flush). So an answer means: durable, and programmed.
 *
 * Mapping life:
 *
 *   (none) --MAP/PEER/NAT-PMP map, lifetime > 0--> ACTIVE
 *   ACTIVE --same request again--> ACTIVE (renewed; expiry written)
 *   ACTIVE --lifetime 0 from the client--> (none), answered
 *   ACTIVE --expiry | withdraw | session gone | pool removed--> (none),
 *           unsolicited notice (lifetime 0) sent and retransmitted
 *
 * Public addresses are ipam holdings (ipam_hold): a dedicated address per
 * UE session, and shared addresses this member holds for port mappings.
 * docs/public-design.md has the decisions.
 */
#ifndef UEIP_DAEMON_PUBLIC_H
#define UEIP_DAEMON_PUBLIC_H

#include <uv.h>

#include "daemon/config.h"
#include "daemon/ipam.h"
#include "dataplane/dp.h"
#include "store/store.h"

struct public;

/*
 * Load the mappings from the store into the table and the data path (one
 * commit), decide whether state was lost (then: new epoch, ANNOUNCE to the
 * clients that held mappings), open the UDP listener. cfg must outlive the
 * module (reload copies into it). 0, or an error with why filled.
 */
int public_new(const struct ueip_config *cfg, struct ueip_store *st, struct ipam *ipam,
	       struct ueip_dp *dp, const struct ipam_env *env, uv_loop_t *loop,
	       struct public **out, char *why, size_t why_size);
/* Close the listener (mappings stay durable). */
void public_close(struct public *p);
void public_free(struct public *p);
/* Expiry, notice retransmission. Call every ~100 ms. */
void public_tick(struct public *p);
/*
 * Apply the reloadable public settings of next to cfg (the config the module
 * runs on); mappings on public pools next no longer lists are withdrawn with
 * notice first, and the pool serves no more.
 */
void public_reload(struct public *p, struct ueip_config *cfg, const struct ueip_config *next);
/* ipam hook: a UE session left this member; its mappings end with notice. */
void public_on_session_gone(void *arg, const struct ueip_session *s);

void public_cmd_list(struct public *p, json_t *args, ipam_done_fn *done, void *ctx);
void public_cmd_withdraw(struct public *p, json_t *args, ipam_done_fn *done, void *ctx);
void public_cmd_stats(struct public *p, json_t *args, ipam_done_fn *done, void *ctx);
void public_metrics(struct public *p, struct ueip_buf *out);

#endif
