// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/addr.h"
#include "net/metrics.h"

#define HEAD_MAX 8192
#define BODY_MAX (16u << 20)

struct metrics {
	uv_tcp_t listener;
	metrics_fill_fn *fill;
	void *arg;
};

struct mconn {
	uv_tcp_t tcp;
	struct metrics *m;
	char head[HEAD_MAX];
	size_t len;
	int answered;
};

static void
on_closed(uv_handle_t *h)
{
	free(h->data);
}

/*
 * The answer is a few kilobytes: it is written at once with uv_try_write, and
 * the connection closed. A client that does not take it whole gets a short
 * answer and retries on its next scrape; nothing is buffered for it.
 */
static void
respond(struct mconn *c, const char *status, const struct ueip_buf *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, body ? body->len : 0);
	uv_buf_t bufs[2] = { uv_buf_init(head, (unsigned)n),
			     uv_buf_init(body ? (char *)body->data : NULL, body ? (unsigned)body->len : 0) };
	size_t total = (size_t)n + (body ? body->len : 0);
	int done;

	c->answered = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
	done = uv_try_write((uv_stream_t *)&c->tcp, bufs, body && body->len ? 2 : 1);
	if (done < 0 || (size_t)done < total)
		ueip_log_debug("ctl", "metrics client did not take the whole answer at once");
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void
handle_head(struct mconn *c)
{
	struct ueip_buf body;

	if (strncmp(c->head, "GET ", 4) != 0) {
		respond(c, "400 Bad Request", NULL);
		return;
	}
	if (strncmp(c->head + 4, "/metrics ", 9) != 0 && strncmp(c->head + 4, "/metrics\r", 9) != 0) {
		respond(c, "404 Not Found", NULL);
		return;
	}
	ueip_buf_init(&body, BODY_MAX);
	c->m->fill(c->m->arg, &body);
	respond(c, "200 OK", &body);
	ueip_buf_deinit(&body);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mconn *c = h->data;

	buf->base = c->head + c->len;
	buf->len = sizeof(c->head) - 1 - c->len;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct mconn *c = s->data;

	if (c->answered)
		return;
	if (n < 0) {
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	c->len += (size_t)n;
	c->head[c->len] = '\0';
	if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n"))
		handle_head(c);
	else if (c->len >= sizeof(c->head) - 1)
		respond(c, "400 Bad Request", NULL);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct metrics *m = server->data;
	struct mconn *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	c->m = m;
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		uv_close((uv_handle_t *)&c->tcp, on_closed);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int
metrics_new(uv_loop_t *loop, const char *hostport, metrics_fill_fn *fill, void *arg, struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	char host[UEIP_HOSTPORT_MAX];
	struct sockaddr_storage sa;
	uint16_t port;
	int rc;

	*out = NULL;
	if (!m)
		return UEIP_ENOMEM;
	m->fill = fill;
	m->arg = arg;
	uv_tcp_init(loop, &m->listener);
	m->listener.data = m;
	*out = m;
	if (ueip_hostport_split(hostport, host, sizeof(host), &port) ||
	    (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) &&
	     uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa)))
		return UEIP_EINVAL;
	if ((rc = uv_tcp_bind(&m->listener, (struct sockaddr *)&sa, 0)) ||
	    (rc = uv_listen((uv_stream_t *)&m->listener, 16, on_connection))) {
		ueip_log_err("ctl", "cannot listen for metrics on %s: %s", hostport, uv_strerror(rc));
		return rc;
	}
	return 0;
}

void
metrics_close(struct metrics *m)
{
	if (m && !uv_is_closing((uv_handle_t *)&m->listener))
		uv_close((uv_handle_t *)&m->listener, NULL);
}

void
metrics_free(struct metrics *m)
{
	free(m);
}
