/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: metrics listener
 *
 * A minimal HTTP/1.0 responder for Prometheus: GET /metrics answers the text
 * exposition format (version 0.0.4); anything else gets 404 or 400. A request
 * head larger than 8 KiB is refused. The body is produced by a callback.
 */
#ifndef UEIP_DAEMON_METRICS_H
#define UEIP_DAEMON_METRICS_H

#include <uv.h>

#include "proto/setframe.h"

struct metrics;
typedef void metrics_fill_fn(void *arg, struct ueip_buf *out);

int metrics_new(uv_loop_t *loop, const char *hostport, metrics_fill_fn *fill, void *arg,
		struct metrics **out);
void metrics_close(struct metrics *m);
void metrics_free(struct metrics *m);

#endif
