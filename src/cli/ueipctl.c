// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: ueipctl — the operator's command line for one ueipd
 *
 * One run is one exchange on the daemon's Unix control socket: the command
 * line becomes a request line {"command": ..., "arguments": {...}}, the
 * daemon sends one answer line {"result": r, "text": ..., "arguments": ...}
 * (src/proto/ctlmsg.h), and ueipctl prints it and exits with a status drawn
 * from r.
 *
 * Flow: parse_options() -> args_build() (key=value words, aliases, the
 * member=/after= forms, --args) -> exchange() (connect, send, read one line;
 * every wait is bounded by one deadline, the answer by ANSWER_MAX) ->
 * answer_parse() -> a printer chosen from the command table, or the indented
 * JSON with --json. Nothing in the answer is trusted: a missing or mistyped
 * field prints as '-', control characters print as '?'.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "proto/ctlmsg.h"

#define DEFAULT_SOCKET "/tmp/ueip/smf1.sock"
#define DEFAULT_TIMEOUT_MS 10000
#define ANSWER_MAX (16u * 1024 * 1024)
#define CELL_MAX 32

enum exit_status {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_EMPTY = 3,
	EXIT_CONFLICT = 4,
};

typedef void printer_fn(json_t *args);

struct command {
	const char *name;
	const char *args;
	const char *help;
	printer_fn *print;
};

struct options {
	const char *socket;
	const char *raw_args;
	int json;
	int help;
	int64_t timeout_ms;
	const char *command;
	char **words;		/* key=value words after the command */
	int nwords;
};

struct buf {
	char *data;
	size_t len, cap;
};

static printer_fn print_kv, print_session_list, print_pool_stats, print_set_status, print_list,
	print_public_list;

static const struct command commands[] = {
	{ "session-create", "supi=SUPI dnn=DNN snssai=SST[-SD] pdu=1..15 [type=v4|v6|v4v6] [address=STATIC]",
	  "allocate addresses for a PDU session", print_kv },
	{ "session-release", "supi=SUPI dnn=DNN snssai=SST[-SD] pdu=1..15",
	  "release a session's addresses", print_kv },
	{ "session-get", "supi=SUPI dnn=DNN snssai=SST[-SD] pdu=1..15",
	  "show one session", print_kv },
	{ "session-list", "[limit=1..10000] [after=SUPI/DNN/SNSSAI/PSI]",
	  "list sessions, paged (100 by default)", print_session_list },
	{ "session-transfer", "supi=SUPI dnn=DNN snssai=SST[-SD] pdu=1..15 to=MEMBER",
	  "hand control of a session to another member", print_kv },
	{ "session-adopt", "supi=SUPI dnn=DNN snssai=SST[-SD] pdu=1..15 from=MEMBER type=v4|v6|v4v6\n"
			   "                    alloc-id=HEX [ipv4=ADDR] [ipv6-prefix=PREFIX] [generation=N]\n"
			   "                    [static=true]   (or --args with the arguments session-get showed)",
	  "take over a session of a failed member", print_kv },
	{ "pool-stats", "", "pool usage per member", print_pool_stats },
	{ "set-status", "", "members, epoch, reachability, recovery and hand-off state", print_set_status },
	{ "set-members", "member=ID@HOST:PORT [member=...] [epoch=N]",
	  "change the membership (new epoch); list every member, this one included", print_kv },
	{ "set-audit", "", "reconcile this member's chunks against its peers", print_kv },
	{ "public-list", "[ue=ADDR] [address=PUBLIC-ADDR] [limit=N]",
	  "public addresses and port mappings granted over PCP/NAT-PMP", print_public_list },
	{ "public-withdraw", "ue=ADDR | address=PUBLIC-ADDR",
	  "take a UE's public address (or every mapping on an address) back; the UE is told", print_public_list },
	{ "public-stats", "", "public mappings, results, notices, data path", print_kv },
	{ "list-commands", "", "the commands this daemon knows", print_list },
	{ "version-get", "", "the daemon's version", print_kv },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Keys whose values stay strings even when they are all digits. */
static const char *const string_keys[] = {
	"supi", "dnn", "snssai", "ip-type", "address", "alloc-id", "to", "from", "ipv4", "ipv6-prefix", "id",
};

static const struct {
	const char *alias, *key;
} aliases[] = {
	{ "pdu", "pdu-session-id" },
	{ "psi", "pdu-session-id" },
	{ "type", "ip-type" },
};

/* ---- usage ---- */

static void
usage(FILE *f)
{
	fprintf(f, "Usage: ueipctl [-s SOCKET] [--json] [--timeout SEC] [--args JSON] COMMAND [key=value ...]\n"
		   "\n"
		   "Sends one command to ueipd over its control socket and prints the answer.\n"
		   "\n"
		   "Options:\n"
		   "  -s, --socket PATH   the daemon's control socket (default $UEIP_SOCKET, else "
		   DEFAULT_SOCKET ")\n"
		   "  -j, --json          print the answer as JSON, indented\n"
		   "  -t, --timeout SEC   wait at most SEC seconds for the answer (default 10)\n"
		   "  -a, --args JSON     an arguments object to start from ('-' reads it from stdin);\n"
		   "                      key=value words are added to it\n"
		   "  -h, --help          this text\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		fprintf(f, "  %-17s %s\n", commands[i].name, commands[i].help);
		if (commands[i].args[0])
			fprintf(f, "                    %s\n", commands[i].args);
	}
	fprintf(f, "\n"
		   "Values of digits only become integers, true/false booleans, others strings\n"
		   "(supi, dnn, snssai, alloc-id, address stay strings). pdu= stands for\n"
		   "pdu-session-id=, type= for ip-type=.\n"
		   "\n"
		   "Exit status: 0 success, 3 not found or empty, 4 conflict or busy,\n"
		   "1 any other error (refused, unsupported, no daemon, no answer in time).\n");
}

static void
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "ueipctl: <message>" on stderr. */
static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ueipctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- options ---- */

static int
parse_timeout(const char *text, int64_t *out_ms)
{
	char *end;
	double sec;

	errno = 0;
	sec = strtod(text, &end);
	if (errno || end == text || *end || !(sec > 0 && sec <= 86400)) {
		fail("--timeout wants seconds in (0, 86400], not '%s'", text);
		return -1;
	}
	*out_ms = (int64_t)(sec * 1000 + 0.5);
	if (*out_ms == 0)
		*out_ms = 1;
	return 0;
}

static const char *
default_socket(void)
{
	const char *env = getenv("UEIP_SOCKET");

	return env && env[0] ? env : DEFAULT_SOCKET;
}

/* 0, or -1 after saying what was wrong. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "args", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .socket = default_socket(), .timeout_ms = DEFAULT_TIMEOUT_MS };
	while ((c = getopt_long(argc, argv, "+s:jt:a:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'j': o->json = 1; break;
		case 'a': o->raw_args = optarg; break;
		case 'h': o->help = 1; break;
		case 't':
			if (parse_timeout(optarg, &o->timeout_ms))
				return -1;
			break;
		default:
			return -1;	/* getopt said why */
		}
	}
	for (int i = optind; i < argc; i++)
		if ((i == optind && strcmp(argv[i], "help") == 0) || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			o->help = 1;
	if (optind < argc)
		o->command = argv[optind++];
	o->words = argv + optind;
	o->nwords = argc - optind;
	return 0;
}

static const struct command *
command_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* ---- arguments ---- */

static int
is_string_key(const char *key)
{
	for (size_t i = 0; i < sizeof(string_keys) / sizeof(string_keys[0]); i++)
		if (strcmp(string_keys[i], key) == 0)
			return 1;
	return 0;
}

static const char *
key_alias(const char *key)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].alias, key) == 0)
			return aliases[i].key;
	return key;
}

static int
all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* The JSON value of a word's value; NULL when it is not UTF-8. */
static json_t *
typed_value(const char *key, const char *value)
{
	long long n;
	char *end;

	if (is_string_key(key))
		return json_string(value);
	if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
		return json_boolean(value[0] == 't');
	if (all_digits(value)) {
		errno = 0;
		n = strtoll(value, &end, 10);
		if (!errno && !*end)
			return json_integer(n);
	}
	return json_string(value);
}

/* member=ID@HOST:PORT appends {"id", "address"} to "members". */
static int
add_member(json_t *args, const char *value)
{
	const char *at = strchr(value, '@');
	json_t *list = json_object_get(args, "members"), *e;

	if (!at || at == value || !at[1]) {
		fail("member=%s: want member=ID@HOST:PORT", value);
		return -1;
	}
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(args, "members", list);
	}
	e = json_object();
	json_object_set_new(e, "id", json_stringn(value, (size_t)(at - value)));
	json_object_set_new(e, "address", json_string(at + 1));
	if (!json_is_string(json_object_get(e, "id")) || !json_is_string(json_object_get(e, "address"))) {
		json_decref(e);
		fail("member=%s is not valid UTF-8", value);
		return -1;
	}
	return json_array_append_new(list, e);
}

/* Cut the last '/'-separated field off s; NULL when there is none. */
static char *
cut_last(char *s)
{
	char *slash = strrchr(s, '/');

	if (!slash)
		return NULL;
	*slash = '\0';
	return slash + 1;
}

/* after=SUPI/DNN/SNSSAI/PSI becomes "from": {supi, dnn, snssai, pdu-session-id}. */
static int
add_after(json_t *args, const char *value)
{
	char *copy = strdup(value), *psi, *snssai, *dnn;
	json_t *from;
	int rc = -1;

	if (!copy)
		return -1;
	if (!(psi = cut_last(copy)) || !(snssai = cut_last(copy)) || !(dnn = cut_last(copy)) ||
	    !copy[0] || !all_digits(psi) || strlen(psi) > 2) {
		fail("after=%s: want after=SUPI/DNN/SNSSAI/PSI, as the 'next:' line shows it", value);
	} else {
		from = json_object();
		json_object_set_new(from, "supi", json_string(copy));
		json_object_set_new(from, "dnn", json_string(dnn));
		json_object_set_new(from, "snssai", json_string(snssai));
		json_object_set_new(from, "pdu-session-id", json_integer(strtol(psi, NULL, 10)));
		rc = json_object_set_new(args, "from", from);
	}
	free(copy);
	return rc;
}

static int
add_word(json_t *args, const char *command, const char *word)
{
	const char *eq = strchr(word, '=');
	char key[64];
	json_t *v;

	if (!eq || eq == word || (size_t)(eq - word) >= sizeof(key)) {
		fail("'%s' is not key=value", word);
		return -1;
	}
	memcpy(key, word, (size_t)(eq - word));
	key[eq - word] = '\0';
	if (strcmp(command, "set-members") == 0 && strcmp(key, "member") == 0)
		return add_member(args, eq + 1);
	if (strcmp(command, "session-list") == 0 && strcmp(key, "after") == 0)
		return add_after(args, eq + 1);
	if (!(v = typed_value(key_alias(key), eq + 1))) {
		fail("the value of %s is not valid UTF-8", key);
		return -1;
	}
	return json_object_set_new(args, key_alias(key), v);
}

/* --args: the text, or stdin for "-". */
static json_t *
load_raw_args(const char *text)
{
	json_error_t err;
	json_t *v;

	if (strcmp(text, "-") == 0)
		v = json_loadf(stdin, 0, &err);
	else
		v = json_loads(text, 0, &err);
	if (!v) {
		fail("--args: invalid JSON at line %d column %d: %s", err.line, err.column, err.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		fail("--args must be a JSON object");
		json_decref(v);
		return NULL;
	}
	return v;
}

/* The arguments object of the request; NULL after saying what was wrong. */
static json_t *
args_build(const struct options *o)
{
	json_t *args = o->raw_args ? load_raw_args(o->raw_args) : json_object();

	if (!args)
		return NULL;
	for (int i = 0; i < o->nwords; i++) {
		if (add_word(args, o->command, o->words[i])) {
			json_decref(args);
			return NULL;
		}
	}
	return args;
}

/* One request line, "\n" included; NULL after saying why. Takes args. */
static char *
request_line(const char *command, json_t *args)
{
	json_t *root = json_object();
	char *line;

	json_object_set_new(root, "command", json_string(command));
	json_object_set_new(root, "arguments", args);
	line = ueip_ctl_line(root);
	json_decref(root);
	if (!line || strlen(line) > UEIP_CTL_MAX) {
		fail(line ? "the request exceeds %d bytes" : "out of memory", UEIP_CTL_MAX);
		free(line);
		return NULL;
	}
	return line;
}

/* ---- the exchange ---- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events: 0, -ETIMEDOUT or -errno. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rc;

	while ((left = deadline - now_ms()) > 0) {
		rc = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
	return -ETIMEDOUT;
}

static int
connect_once(int fd, const struct sockaddr_un *sa, int64_t deadline)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	if (errno == EAGAIN) {		/* listen backlog full: try again shortly */
		poll(NULL, 0, 10);
		return now_ms() < deadline ? -EAGAIN : -ETIMEDOUT;
	}
	if (errno != EINPROGRESS)
		return -errno;
	if ((err = wait_fd(fd, POLLOUT, deadline)))
		return err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

/* A connected non-blocking socket in *out: 0, or a negative errno. */
static int
connect_socket(const char *path, int64_t deadline, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	while ((rc = connect_once(fd, &sa, deadline)) == -EAGAIN || rc == -EINTR)
		;
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

static int
send_all(int fd, const char *data, size_t len, int64_t deadline)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
			return -errno;
		} else if (n < 0 && errno == EAGAIN && (rc = wait_fd(fd, POLLOUT, deadline))) {
			return rc;
		}
	}
	return 0;
}

/* Make room for at least one more read; -EMSGSIZE past ANSWER_MAX. */
static int
buf_reserve(struct buf *b)
{
	size_t cap;
	char *grown;

	if (b->cap - b->len >= 4096)
		return 0;
	if (b->cap > ANSWER_MAX)
		return -EMSGSIZE;
	cap = b->cap ? b->cap * 2 : 65536;
	if (cap > ANSWER_MAX + 4096)
		cap = ANSWER_MAX + 4096;
	if (!(grown = realloc(b->data, cap)))
		return -ENOMEM;
	b->data = grown;
	b->cap = cap;
	return 0;
}

/* Read up to the first newline (or EOF) into b: 0 or a negative errno. */
static int
read_line(int fd, struct buf *b, int64_t deadline)
{
	const char *nl;
	ssize_t n;
	int rc;

	for (;;) {
		if ((rc = buf_reserve(b)) || (rc = wait_fd(fd, POLLIN, deadline)))
			return rc;
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n == 0)
			return b->len ? 0 : -ECONNRESET;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n < 0)
			continue;
		if ((nl = memchr(b->data + b->len, '\n', (size_t)n))) {
			b->len += (size_t)n;
			return (size_t)(nl - b->data) > ANSWER_MAX ? -EMSGSIZE : 0;
		}
		b->len += (size_t)n;
		if (b->len > ANSWER_MAX)
			return -EMSGSIZE;
	}
}

static void
exchange_fail(const char *path, const char *stage, int rc, int64_t timeout_ms)
{
	if (rc == -ETIMEDOUT)
		fail("%s %s: no answer within %.3g s", stage, path, (double)timeout_ms / 1000);
	else if (rc == -EMSGSIZE)
		fail("%s %s: the answer exceeds %u bytes", stage, path, ANSWER_MAX);
	else if (rc == -ECONNRESET || rc == -EPIPE)
		fail("%s %s: the daemon closed the connection without answering", stage, path);
	else if (rc == -ENAMETOOLONG)
		fail("%s %s: a socket path has at most %zu bytes", stage, path,
		     sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	else if (rc == -ENOENT || rc == -ECONNREFUSED)
		fail("%s %s: %s (is ueipd running? see -s or $UEIP_SOCKET)", stage, path, strerror(-rc));
	else
		fail("%s %s: %s", stage, path, strerror(-rc));
}

/* Send the request line, read the answer line into answer: 0 or -1 after saying why. */
static int
exchange(const struct options *o, const char *request, struct buf *answer)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	int fd = -1, rc;

	if ((rc = connect_socket(o->socket, deadline, &fd))) {
		exchange_fail(o->socket, "cannot connect to", rc, o->timeout_ms);
		return -1;
	}
	rc = send_all(fd, request, strlen(request), deadline);
	if (rc == 0)
		shutdown(fd, SHUT_WR);
	if (rc == 0 && (rc = read_line(fd, answer, deadline)))
		exchange_fail(o->socket, "reading the answer from", rc, o->timeout_ms);
	else if (rc)
		exchange_fail(o->socket, "sending to", rc, o->timeout_ms);
	close(fd);
	return rc ? -1 : 0;
}

/* The answer object, checked for an integer "result"; NULL after saying why. */
static json_t *
answer_parse(const char *path, const struct buf *b)
{
	const char *nl = memchr(b->data, '\n', b->len);
	size_t len = nl ? (size_t)(nl - b->data) : b->len;
	json_error_t err;
	json_t *root = json_loadb(b->data, len, 0, &err);

	if (!root) {
		fail("malformed answer from %s: %s (line %d column %d)", path, err.text, err.line, err.column);
		return NULL;
	}
	if (!json_is_object(root) || !json_is_integer(json_object_get(root, "result"))) {
		fail("malformed answer from %s: not an object with an integer 'result'", path);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* ---- printing ---- */

/* Write s with control characters shown as '?'. */
static void
put_safe(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

static void
put_str(const char *s)
{
	put_safe(s, strlen(s));
}

/* A scalar as table text: strings, integers, yes/no; '-' for anything else. */
static const char *
cell_text(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, size, "%g", json_real_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "yes" : "no";
	return "-";
}

static void print_value(json_t *v);

static void
print_array(json_t *list)
{
	size_t i;
	json_t *e;

	if (json_array_size(list) == 0) {
		fputs("(none)", stdout);
		return;
	}
	json_array_foreach(list, i, e) {
		if (i)
			fputs(", ", stdout);
		print_value(e);
	}
}

static void
print_value(json_t *v)
{
	char buf[CELL_MAX];
	char *text;

	if (json_is_boolean(v)) {
		fputs(json_is_true(v) ? "true" : "false", stdout);
	} else if (json_is_array(v)) {
		print_array(v);
	} else if (json_is_object(v)) {
		text = json_dumps(v, JSON_COMPACT);
		put_str(text ? text : "{...}");
		free(text);
	} else {
		put_str(cell_text(v, buf, sizeof(buf)));
	}
}

/* key: value, one a line, values aligned. */
static void
print_kv(json_t *args)
{
	const char *key;
	size_t width = 0;
	json_t *v;

	if (!json_is_object(args)) {
		print_value(args);
		putchar('\n');
		return;
	}
	json_object_foreach(args, key, v)
		if (strlen(key) > width)
			width = strlen(key);
	json_object_foreach(args, key, v) {
		put_str(key);
		printf(":%*s ", (int)(width - strlen(key)), "");
		print_value(v);
		putchar('\n');
	}
}

static void
print_list(json_t *args)
{
	size_t i;
	json_t *e;

	if (!json_is_array(args))
		return print_kv(args);
	json_array_foreach(args, i, e) {
		print_value(e);
		putchar('\n');
	}
}

/* ---- tables ---- */

struct table {
	size_t ncols, nrows, cap;
	char **cells;		/* nrows * ncols, owned */
	int failed;
};

static void
table_add(struct table *t, const char *const *row)
{
	char **grown;

	if (t->failed)
		return;
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		if (!(grown = realloc(t->cells, t->cap * t->ncols * sizeof(*grown)))) {
			t->failed = 1;
			return;
		}
		t->cells = grown;
	}
	for (size_t c = 0; c < t->ncols; c++)
		if (!(t->cells[t->nrows * t->ncols + c] = strdup(row[c] ? row[c] : "-")))
			t->failed = 1;
	t->nrows++;
}

/* Print with columns two spaces apart, then free the cells. */
static void
table_print(struct table *t)
{
	size_t width[16] = { 0 }, c, r, n;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols && c < 16; c++)
			if (t->cells[r * t->ncols + c] && (n = strlen(t->cells[r * t->ncols + c])) > width[c])
				width[c] = n;
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols && c < 16; c++) {
			const char *cell = t->cells[r * t->ncols + c] ? t->cells[r * t->ncols + c] : "-";
			put_str(cell);
			if (c + 1 < t->ncols)
				printf("%*s", (int)(width[c] - strlen(cell) + 2), "");
		}
		putchar('\n');
	}
	if (t->failed)
		fail("out of memory: the table is incomplete");
	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
}

/* One row of cells from the fields of an object, named by keys. */
static void
table_add_object(struct table *t, json_t *o, const char *const *keys)
{
	char bufs[16][CELL_MAX];
	const char *row[16];

	for (size_t c = 0; c < t->ncols && c < 16; c++)
		row[c] = cell_text(json_object_get(o, keys[c]), bufs[c], CELL_MAX);
	table_add(t, row);
}

/* ---- session-list ---- */

static void
print_next(json_t *next)
{
	char buf[CELL_MAX];

	if (!json_is_object(next))
		return;
	fputs("next: after=", stdout);
	put_str(cell_text(json_object_get(next, "supi"), buf, sizeof(buf)));
	putchar('/');
	put_str(cell_text(json_object_get(next, "dnn"), buf, sizeof(buf)));
	putchar('/');
	put_str(cell_text(json_object_get(next, "snssai"), buf, sizeof(buf)));
	putchar('/');
	put_str(cell_text(json_object_get(next, "pdu-session-id"), buf, sizeof(buf)));
	putchar('\n');
}

static void
print_session_list(json_t *args)
{
	static const char *const head[] = { "SUPI", "DNN", "S-NSSAI", "PSI", "TYPE", "IPV4", "IPV6-PREFIX", "STATIC" };
	static const char *const keys[] = { "supi", "dnn", "snssai", "pdu-session-id", "ip-type", "ipv4",
					    "ipv6-prefix", "static" };
	struct table t = { .ncols = 8 };
	size_t i;
	json_t *e;

	table_add(&t, head);
	json_array_foreach(json_object_get(args, "sessions"), i, e)
		table_add_object(&t, e, keys);
	table_print(&t);
	print_next(json_object_get(args, "next"));
}

/* ---- public-list, public-withdraw ---- */

static void
print_public_list(json_t *args)
{
	static const char *const head[] = { "UE", "SUPI", "KIND", "PROTO", "INT-PORT", "EXTERNAL",
					    "EXT-PORT", "LIFETIME-LEFT", "VIA" };
	static const char *const keys[] = { "ue", "supi", "kind", "protocol", "internal_port", "external",
					    "external_port", "lifetime_left", "via" };
	struct table t = { .ncols = 9 };
	json_t *list = json_object_get(args, "mappings"), *e;
	size_t i;

	if (!list && (list = json_object_get(args, "withdrawn")))
		fputs("withdrawn (the UE was sent a notice):\n", stdout);
	table_add(&t, head);
	json_array_foreach(list, i, e)
		table_add_object(&t, e, keys);
	table_print(&t);
}

/* ---- pool-stats ---- */

static void
print_pool_header(json_t *pool)
{
	char b[4][CELL_MAX];

	fputs("pool ", stdout);
	put_str(cell_text(json_object_get(pool, "pool"), b[0], CELL_MAX));
	fputs(": dnn ", stdout);
	put_str(cell_text(json_object_get(pool, "dnn"), b[0], CELL_MAX));
	putchar(' ');
	put_str(cell_text(json_object_get(pool, "family"), b[1], CELL_MAX));
	putchar(' ');
	put_str(cell_text(json_object_get(pool, "base"), b[1], CELL_MAX));
	printf(", %s units in %s chunks\n", cell_text(json_object_get(pool, "units"), b[2], CELL_MAX),
	       cell_text(json_object_get(pool, "chunks"), b[3], CELL_MAX));
}

static void
print_pool_stats(json_t *args)
{
	static const char *const head[] = { "MEMBER", "OWNED-CHUNKS", "OWNED", "USED", "QUARANTINED",
					    "STATIC", "FREE" };
	static const char *const keys[] = { "member", "owned-chunks", "owned", "used", "quarantined",
					    "static", "free" };
	char b[3][CELL_MAX];
	size_t i, m;
	json_t *pool, *e;

	printf("member %s, epoch %s, %s sessions\n",
	       cell_text(json_object_get(args, "member"), b[0], CELL_MAX),
	       cell_text(json_object_get(args, "epoch"), b[1], CELL_MAX),
	       cell_text(json_object_get(args, "sessions"), b[2], CELL_MAX));
	json_array_foreach(json_object_get(args, "pools"), i, pool) {
		struct table t = { .ncols = 7 };
		putchar('\n');
		print_pool_header(pool);
		table_add(&t, head);
		json_array_foreach(json_object_get(pool, "members"), m, e)
			table_add_object(&t, e, keys);
		table_print(&t);
	}
}

/* ---- set-status ---- */

static long long
int_of(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void
print_handoff(json_t *h)
{
	if (!json_is_object(h)) {
		puts("-");
		return;
	}
	if (!json_is_true(json_object_get(h, "active")) && int_of(h, "total-chunks") == 0)
		puts("idle");
	else if (json_is_true(json_object_get(h, "active")))
		printf("active, %lld chunks to send; %lld of %lld chunks move\n", int_of(h, "chunks-to-send"),
		       int_of(h, "moved-chunks"), int_of(h, "total-chunks"));
	else
		printf("idle; last moved %lld of %lld chunks, settled in %lld ms\n", int_of(h, "moved-chunks"),
		       int_of(h, "total-chunks"), int_of(h, "last-duration-ms"));
}

static void
print_recovery(json_t *r)
{
	if (!json_is_object(r)) {
		puts("-");
		return;
	}
	if (json_is_true(json_object_get(r, "running"))) {
		puts("running");
		return;
	}
	printf("idle; last %s in %lld ms, %lld freed, %lld added\n",
	       json_is_true(json_object_get(r, "last-complete")) ? "complete" : "partial",
	       int_of(r, "last-duration-ms"), int_of(r, "last-freed"), int_of(r, "last-added"));
}

static void
print_set_status(json_t *args)
{
	static const char *const scalars[] = { "set", "member", "state", "epoch", "incarnation",
					       "sessions", "lent", "outbox" };
	static const char *const head[] = { "ID", "ADDRESS", "SELF", "REACHABLE", "RECONCILING" };
	static const char *const keys[] = { "id", "address", "self", "reachable", "reconciling" };
	struct table t = { .ncols = 5 };
	char buf[CELL_MAX];
	size_t i;
	json_t *e;

	for (i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		printf("%-12s", scalars[i]);
		put_str(cell_text(json_object_get(args, scalars[i]), buf, sizeof(buf)));
		putchar('\n');
	}
	printf("%-12s", "hand-off");
	print_handoff(json_object_get(args, "handoff"));
	printf("%-12s", "recovery");
	print_recovery(json_object_get(args, "recovery"));
	putchar('\n');
	table_add(&t, head);
	json_array_foreach(json_object_get(args, "members"), i, e)
		table_add_object(&t, e, keys);
	table_print(&t);
}

/* ---- the answer ---- */

static int
exit_status(json_int_t result)
{
	switch (result) {
	case UEIP_CTL_SUCCESS:	return EXIT_OK;
	case UEIP_CTL_EMPTY:	return EXIT_EMPTY;
	case UEIP_CTL_CONFLICT:	return EXIT_CONFLICT;
	default:		return EXIT_FAIL;
	}
}

/* "ueipctl: <first line of text>" on stderr. */
static void
report_text(json_t *root)
{
	const char *text = json_string_value(json_object_get(root, "text"));
	size_t n;

	if (!text || !text[0]) {
		fail("the daemon answered %" JSON_INTEGER_FORMAT " without a text",
		     json_integer_value(json_object_get(root, "result")));
		return;
	}
	n = strcspn(text, "\r\n");
	fputs("ueipctl: ", stderr);
	for (size_t i = 0; i < n; i++)
		fputc((unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i], stderr);
	fputc('\n', stderr);
}

/* A success without arguments: its text is all there is to show. */
static void
print_text(json_t *root)
{
	const char *text = json_string_value(json_object_get(root, "text"));

	if (text) {
		put_str(text);
		putchar('\n');
	}
}

static void
print_answer(const struct options *o, json_t *root)
{
	const struct command *cmd = command_find(o->command);
	json_t *args = json_object_get(root, "arguments");

	if (o->json) {
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (json_integer_value(json_object_get(root, "result")) == UEIP_CTL_SUCCESS) {
		if (args)
			(cmd ? cmd->print : print_kv)(args);
		else
			print_text(root);
	}
}

static int
run(const struct options *o)
{
	struct buf answer = { 0 };
	json_t *args, *root;
	char *request;
	int status;

	if (!(args = args_build(o)) || !(request = request_line(o->command, args)))
		return EXIT_FAIL;
	if (exchange(o, request, &answer) || !(root = answer_parse(o->socket, &answer))) {
		free(request);
		free(answer.data);
		return EXIT_FAIL;
	}
	status = exit_status(json_integer_value(json_object_get(root, "result")));
	print_answer(o, root);
	if (status != EXIT_OK)
		report_text(root);
	json_decref(root);
	free(request);
	free(answer.data);
	return status;
}

int
main(int argc, char **argv)
{
	struct options o;
	int status;

	if (parse_options(argc, argv, &o)) {
		fputs("Try 'ueipctl help'.\n", stderr);
		return EXIT_FAIL;
	}
	if (o.help) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!o.command) {
		usage(stderr);
		return EXIT_FAIL;
	}
	status = run(&o);
	if (fflush(stdout) || ferror(stdout)) {
		fail("cannot write the output: %s", strerror(errno));
		return EXIT_FAIL;
	}
	return status;
}
