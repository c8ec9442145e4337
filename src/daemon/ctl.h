/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: control socket
 *
 * A Unix stream socket speaking Kea-style JSON (proto/ctlmsg.h). A client
 * sends one request per line (or one request and then shuts its side down,
 * as socat and Kea's tools do); answers come back one per line, in request
 * order even when a later request finishes first. A line longer than
 * UEIP_CTL_MAX is answered with an error and the connection is closed.
 * Every command is counted, and every error by command and kind, for
 * /metrics.
 */
#ifndef UEIP_DAEMON_CTL_H
#define UEIP_DAEMON_CTL_H

#include <uv.h>

#include "daemon/ipam.h"
#include "daemon/public.h"

struct ctl;

int ctl_new(uv_loop_t *loop, const char *path, struct ipam *ipam, struct ctl **out);
/* Route the public-* commands to pub (NULL: they answer "not configured"). */
void ctl_set_public(struct ctl *ctl, struct public *pub);
void ctl_close(struct ctl *ctl);
void ctl_free(struct ctl *ctl);
void ctl_metrics(struct ctl *ctl, struct ueip_buf *out);

#endif
