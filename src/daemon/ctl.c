// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "daemon/ctl.h"
#include "proto/ctlmsg.h"

typedef void ctl_handler_fn(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);

#define ERR_SLOTS 32	/* ueip codes -1001.. map to 1..31; slot 0 = any other */

typedef void ctl_public_fn(struct public *pub, json_t *args, ipam_done_fn *done, void *ctx);

struct ctl_command {
	const char *name;
	ctl_handler_fn *fn;
	ctl_public_fn *pub_fn;		/* commands of the public module */
	const char *help;
	uint64_t requests;
	uint64_t errors[ERR_SLOTS];
};

static void cmd_list_commands(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);
static void cmd_version_get(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx);

static struct ctl_command commands[] = {
	{ .name = "session-create", .fn = ipam_cmd_session_create, .help = "allocate addresses for a PDU session" },
	{ .name = "session-release", .fn = ipam_cmd_session_release, .help = "release a session's addresses" },
	{ .name = "session-get", .fn = ipam_cmd_session_get, .help = "show one session" },
	{ .name = "session-list", .fn = ipam_cmd_session_list, .help = "list sessions, paged" },
	{ .name = "session-transfer", .fn = ipam_cmd_session_transfer, .help = "hand control of a session to another member" },
	{ .name = "session-adopt", .fn = ipam_cmd_session_adopt, .help = "take over a session of a failed member" },
	{ .name = "pool-stats", .fn = ipam_cmd_pool_stats, .help = "pool usage per member" },
	{ .name = "set-status", .fn = ipam_cmd_set_status, .help = "members, epoch, reachability, recovery and hand-off state" },
	{ .name = "set-members", .fn = ipam_cmd_set_members, .help = "change the membership (new epoch)" },
	{ .name = "set-audit", .fn = ipam_cmd_set_audit, .help = "reconcile this member's chunks against its peers" },
	{ .name = "public-list", .pub_fn = public_cmd_list, .help = "public mappings (PCP/NAT-PMP)" },
	{ .name = "public-withdraw", .pub_fn = public_cmd_withdraw, .help = "withdraw a UE's public address or mappings, with notice" },
	{ .name = "public-stats", .pub_fn = public_cmd_stats, .help = "public mapping figures" },
	{ .name = "list-commands", .fn = cmd_list_commands, .help = "the commands this daemon knows" },
	{ .name = "version-get", .fn = cmd_version_get, .help = "the daemon's version" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

struct slot {
	struct slot *next;
	struct conn *conn;
	char *answer;		/* NULL until done */
	struct ctl_command *cmd;
};

struct conn {
	uv_pipe_t pipe;
	struct ctl *ctl;
	char *buf;
	size_t len, cap;
	struct slot *head, *tail;
	unsigned npending;
	int eof, closed, handle_closed, dirty;
	struct conn *next_dirty;
	uv_shutdown_t shutdown;
};

struct ctl {
	uv_pipe_t listener;
	struct ipam *ipam;
	struct public *pub;
	char path[256];
	uint64_t bad_requests, unknown_commands;
	uv_prepare_t flusher;
	struct conn *dirty;
};

static void conn_maybe_free(struct conn *c);
static void conn_finish(struct conn *c);
static void on_flush(uv_prepare_t *h);

static void
cmd_list_commands(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	json_t *list = json_array();

	for (size_t i = 0; i < NCOMMANDS; i++)
		json_array_append_new(list, json_string(commands[i].name));
	done(ctx, 0, list, "commands");
}

static void
cmd_version_get(struct ipam *ipam, json_t *args, ipam_done_fn *done, void *ctx)
{
	json_t *r = json_object();

	json_object_set_new(r, "version", json_string(UEIP_VERSION));
	json_object_set_new(r, "set-protocol", json_integer(UEIP_SET_VERSION));
	done(ctx, 0, r, "ueipd " UEIP_VERSION);
}

/* ---- writing answers in order ---- */

static void
on_written(uv_write_t *req, int status)
{
	free(req->data);
	free(req);
}

/* Write every answer that is ready at the head of the queue, in one write. */
static void
conn_flush(struct conn *c)
{
	size_t total = 0, off = 0;
	uv_write_t *req;
	char *block;

	for (struct slot *s = c->head; s && s->answer; s = s->next)
		total += strlen(s->answer);
	block = total && !c->closed ? malloc(total) : NULL;
	while (c->head && c->head->answer) {
		struct slot *s = c->head;
		size_t n = strlen(s->answer);
		c->head = s->next;
		if (!c->head)
			c->tail = NULL;
		if (block)
			memcpy(block + off, s->answer, n);
		off += n;
		free(s->answer);
		free(s);
	}
	if (!block)
		return;
	uv_buf_t b = uv_buf_init(block, (unsigned)total);
	if (!(req = malloc(sizeof(*req)))) {
		free(block);
		return;
	}
	req->data = block;
	if (uv_write(req, (uv_stream_t *)&c->pipe, &b, 1, on_written)) {
		free(block);
		free(req);
	}
}

/*
 * Answers finish in bursts (a whole store batch at once): a connection with a
 * finished answer is flushed once, from the prepare phase of the next loop
 * turn, so a burst leaves in one write per connection.
 */
static void
conn_mark_dirty(struct conn *c)
{
	struct ctl *ctl = c->ctl;

	if (c->dirty)
		return;
	c->dirty = 1;
	c->next_dirty = ctl->dirty;
	ctl->dirty = c;
	uv_prepare_start(&ctl->flusher, on_flush);
}

static void
on_flush(uv_prepare_t *h)
{
	struct ctl *ctl = h->data;
	struct conn *list = ctl->dirty;

	ctl->dirty = NULL;
	uv_prepare_stop(h);
	while (list) {
		struct conn *c = list;
		list = c->next_dirty;
		c->dirty = 0;
		conn_flush(c);
		if (c->eof && !c->npending)
			conn_finish(c);
		conn_maybe_free(c);
	}
}

static int
err_slot(int rc)
{
	return rc <= -1001 && rc > -1001 - (ERR_SLOTS - 1) ? -rc - 1000 : 0;
}

static void
slot_done(void *ctx, int rc, json_t *result, const char *text)
{
	struct slot *s = ctx;
	struct conn *c = s->conn;
	json_t *args = result;

	if (rc) {
		s->cmd->errors[err_slot(rc)]++;
		if (!args)
			args = json_object();
		if (json_is_object(args))
			json_object_set_new(args, "error", json_string(ueip_errname(rc)));
	}
	s->answer = ueip_ctl_answer(ueip_ctl_result_of(rc), text, args);
	if (!s->answer)
		s->answer = strdup("{\"result\":1,\"text\":\"out of memory\"}\n");
	c->npending--;
	conn_mark_dirty(c);
}

static void
answer_now(struct conn *c, enum ueip_ctl_result result, const char *text)
{
	struct slot *s = calloc(1, sizeof(*s));
	static struct ctl_command none = { .name = "(none)" };

	if (!s)
		return;
	s->conn = c;
	s->cmd = &none;
	s->answer = ueip_ctl_answer(result, text, NULL);
	if (c->tail)
		c->tail->next = s;
	else
		c->head = s;
	c->tail = s;
	conn_flush(c);
}

static void
handle_request(struct conn *c, const char *data, size_t len)
{
	struct ueip_ctl_req req;
	char why[256];
	struct slot *s;
	size_t i;

	if (ueip_ctl_parse(data, len, &req, why, sizeof(why))) {
		c->ctl->bad_requests++;
		ueip_log_warn("ctl", "bad control request: %s", why);
		return answer_now(c, UEIP_CTL_ERROR, why);
	}
	for (i = 0; i < NCOMMANDS && strcmp(commands[i].name, req.command); i++)
		;
	if (i == NCOMMANDS) {
		c->ctl->unknown_commands++;
		snprintf(why, sizeof(why), "'%s' command not supported", req.command);
		ueip_ctl_req_deinit(&req);
		return answer_now(c, UEIP_CTL_UNSUPPORTED, why);
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		ueip_ctl_req_deinit(&req);
		return;
	}
	s->conn = c;
	s->cmd = &commands[i];
	commands[i].requests++;
	if (c->tail)
		c->tail->next = s;
	else
		c->head = s;
	c->tail = s;
	c->npending++;
	if (!commands[i].pub_fn)
		commands[i].fn(c->ctl->ipam, req.args, slot_done, s);
	else if (c->ctl->pub)
		commands[i].pub_fn(c->ctl->pub, req.args, slot_done, s);
	else
		slot_done(s, UEIP_ENOTFOUND, NULL, "the public module is not configured (no public: pools)");
	ueip_ctl_req_deinit(&req);
}

/* ---- reading ---- */

static void
on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	c->handle_closed = 1;
	conn_maybe_free(c);
}

static void
conn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	conn_close(req->data);
}

/* Close after every queued answer went out. */
static void
conn_finish(struct conn *c)
{
	if (c->closed)
		return;
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, on_shutdown))
		conn_close(c);
}

static void
conn_maybe_free(struct conn *c)
{
	if (!c->closed || !c->handle_closed || c->npending || c->dirty)
		return;
	while (c->head) {
		struct slot *s = c->head;
		c->head = s->next;
		free(s->answer);
		free(s);
	}
	free(c->buf);
	free(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	if (c->cap - c->len < 4096 && c->cap < UEIP_CTL_MAX + 4096) {
		size_t cap = c->cap ? c->cap * 2 : 8192;
		char *grown = realloc(c->buf, cap);
		if (grown) {
			c->buf = grown;
			c->cap = cap;
		}
	}
	buf->base = c->buf + c->len;
	buf->len = c->cap - c->len;
}

static void
consume_lines(struct conn *c)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(c->buf + start, '\n', c->len - start))) {
		size_t n = (size_t)(nl - (c->buf + start));
		if (n > 0 && !(n == 1 && c->buf[start] == '\r'))
			handle_request(c, c->buf + start, n);
		start += n + 1;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
}

static void
on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = stream->data;

	if (n == UV_EOF) {
		if (c->len)
			handle_request(c, c->buf, c->len);
		c->len = 0;
		c->eof = 1;
		uv_read_stop(stream);
		if (!c->npending)
			conn_finish(c);
		return;
	}
	if (n < 0)
		return conn_close(c);
	c->len += (size_t)n;
	consume_lines(c);
	if (c->len > UEIP_CTL_MAX) {
		ueip_log_warn("ctl", "control request over %d bytes; closing the connection", UEIP_CTL_MAX);
		answer_now(c, UEIP_CTL_ERROR, "request too large");
		c->len = 0;
		c->eof = 1;
		uv_read_stop(stream);
		if (!c->npending)
			conn_finish(c);
	}
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct ctl *ctl = server->data;
	struct conn *c;

	if (status < 0 || !(c = calloc(1, sizeof(*c))))
		return;
	c->ctl = ctl;
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe)) {
		c->closed = 1;
		uv_close((uv_handle_t *)&c->pipe, on_closed);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int
ctl_new(uv_loop_t *loop, const char *path, struct ipam *ipam, struct ctl **out)
{
	struct ctl *ctl = calloc(1, sizeof(*ctl));
	int rc;

	*out = NULL;
	if (!ctl)
		return UEIP_ENOMEM;
	ctl->ipam = ipam;
	uv_prepare_init(loop, &ctl->flusher);
	ctl->flusher.data = ctl;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	uv_pipe_init(loop, &ctl->listener, 0);
	ctl->listener.data = ctl;
	unlink(path);
	if ((rc = uv_pipe_bind(&ctl->listener, path)) ||
	    (rc = uv_listen((uv_stream_t *)&ctl->listener, 128, on_connection))) {
		ueip_log_err("ctl", "cannot listen on %s: %s", path, uv_strerror(rc));
		uv_close((uv_handle_t *)&ctl->listener, NULL);
		*out = ctl;
		return rc;
	}
	*out = ctl;
	return 0;
}

void
ctl_set_public(struct ctl *ctl, struct public *pub)
{
	ctl->pub = pub;
}

void
ctl_close(struct ctl *ctl)
{
	if (ctl && !uv_is_closing((uv_handle_t *)&ctl->flusher)) {
		on_flush(&ctl->flusher);
		uv_close((uv_handle_t *)&ctl->flusher, NULL);
	}
	if (ctl && !uv_is_closing((uv_handle_t *)&ctl->listener)) {
		uv_close((uv_handle_t *)&ctl->listener, NULL);
		unlink(ctl->path);
	}
}

void
ctl_free(struct ctl *ctl)
{
	free(ctl);
}

static void
metric_line(struct ueip_buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
metric_line(struct ueip_buf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		ueip_set_put_bytes(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void
ctl_metrics(struct ctl *ctl, struct ueip_buf *out)
{
	metric_line(out, "# HELP ueip_requests_total Control requests by command.\n"
			 "# TYPE ueip_requests_total counter\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		metric_line(out, "ueip_requests_total{command=\"%s\"} %llu\n", commands[i].name,
			    (unsigned long long)commands[i].requests);
	metric_line(out, "# HELP ueip_request_errors_total Failed control requests by command and error.\n"
			 "# TYPE ueip_request_errors_total counter\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		for (int e = 0; e < ERR_SLOTS; e++)
			if (commands[i].errors[e])
				metric_line(out, "ueip_request_errors_total{command=\"%s\",error=\"%s\"} %llu\n",
					    commands[i].name, e ? ueip_errname(-1000 - e) : "OTHER",
					    (unsigned long long)commands[i].errors[e]);
	metric_line(out, "ueip_request_errors_total{command=\"(none)\",error=\"UEIP_EMALFORMED\"} %llu\n",
		    (unsigned long long)ctl->bad_requests);
	metric_line(out, "ueip_request_errors_total{command=\"(unknown)\",error=\"UNSUPPORTED\"} %llu\n",
		    (unsigned long long)ctl->unknown_commands);
}
