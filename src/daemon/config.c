// SPDX-License-Identifier: Apache-2.0
/*
 * Two passes over the file. First libyaml's event stream becomes a small
 * tree of nodes (scalar, mapping, sequence) that remembers the line of every
 * value and key; duplicate keys, anchors, aliases, tags and the size limits
 * are refused while the tree is built. Then one declared schema (items[]
 * below) walks the tree: each item names its key, type, range, default,
 * flags and where its value lands (an offset into struct work, or into the
 * element of a list). Checks that span keys -- the key file, the member
 * list, pool sizes and overlaps, statics inside pools -- run last, on the
 * filled struct, and use the tree only to name lines. Everything is built in
 * a heap copy; the caller's struct is written only when all of it is good.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/err.h"
#include "daemon/config.h"

#define CONFIG_SIZE_MAX (1u << 20)	/* bytes of YAML */
#define CONFIG_NODES_MAX 100000
#define CONFIG_DEPTH_MAX 16		/* nested mappings and sequences */
#define CONFIG_MAP_KEYS_MAX 64		/* keys in one mapping */
#define CONFIG_KEY_LEN_MAX 64		/* characters of one key */
#define KEY_FILE_SIZE_MAX 4096
#define PATH_TEXT_MAX 160		/* key path as shown in messages */
#define SUN_PATH_LEN_MAX 107		/* sizeof(sockaddr_un.sun_path) - 1 */

/* ---- node tree ---------------------------------------------------------- */

enum cnode_kind { CN_SCALAR, CN_MAP, CN_SEQ };

struct cnode {
	enum cnode_kind kind;
	unsigned line;			/* where the value starts, 1-based */
	unsigned key_line;		/* where its key is (= line if it has none) */
	unsigned index;			/* position in the parent sequence */
	unsigned nchildren;
	int is_null;			/* plain "", "~" or "null" */
	char *key;			/* key in the parent mapping, or NULL */
	char *text;			/* scalar value, NUL-terminated, no NUL inside */
	size_t len;
	struct cnode *parent, *first, *last, *next;
	struct cnode *all_next;		/* every node, for freeing */
};

/* What the schema fills. cfg comes first: item offsets are config offsets. */
struct work {
	struct ueip_config cfg;
	char key_file[UEIP_PATH_MAX];
	const struct cnode *root;
	const struct cnode *member_nodes[UEIP_MEMBERS_MAX];
	const struct cnode *pool_nodes[UEIP_POOLS_MAX];
	const struct cnode *static_nodes[UEIP_STATICS_MAX];
	const struct cnode *public_pool_nodes[UEIP_PUBLIC_POOLS_MAX];
	const struct cnode *third_party_nodes[UEIP_THIRD_PARTY_MAX];
};

_Static_assert(offsetof(struct work, cfg) == 0, "schema offsets must be config offsets");

struct ctx {
	const char *name;		/* file name in messages */
	const char *basedir;		/* for a relative key_file; NULL = cwd */
	char *why;
	size_t why_size;
	struct cnode *all;
	unsigned nodes;
	struct work *w;
};

/* ---- messages ------------------------------------------------------------ */

/* Append text, with anything unprintable shown as '?', cut at max chars. */
static void
append_clean(char *buf, size_t size, const char *text, size_t max)
{
	size_t used = strlen(buf);

	for (size_t i = 0; text[i] && i < max && used + 1 < size; i++) {
		unsigned char ch = (unsigned char)text[i];
		buf[used++] = ch >= ' ' && ch <= '~' ? (char)ch : '?';
	}
	buf[used] = '\0';
}

/* "pools[1].ipv6" for a node; key, if given, is one more level below it. */
static void
node_path(const struct cnode *n, const char *key, char *buf, size_t size)
{
	const struct cnode *chain[CONFIG_DEPTH_MAX + 4];
	unsigned k = 0;
	char idx[16];

	buf[0] = '\0';
	for (; n && n->parent && k < sizeof(chain) / sizeof(chain[0]); n = n->parent)
		chain[k++] = n;
	while (k--) {
		if (chain[k]->key) {
			if (buf[0])
				append_clean(buf, size, ".", 1);
			append_clean(buf, size, chain[k]->key[0] ? chain[k]->key : "\"\"",
				     CONFIG_KEY_LEN_MAX);
		} else {
			snprintf(idx, sizeof(idx), "[%u]", chain[k]->index);
			append_clean(buf, size, idx, sizeof(idx));
		}
	}
	if (key) {
		if (buf[0])
			append_clean(buf, size, ".", 1);
		append_clean(buf, size, key, CONFIG_KEY_LEN_MAX);
	}
	if (!buf[0])
		append_clean(buf, size, "(top)", 5);
}

static int
vfail_raw(struct ctx *c, unsigned line, const char *where, const char *fmt, va_list ap)
{
	char msg[320];

	if (!c->why || c->why_size == 0)
		return UEIP_ECONFIG;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(c->why, c->why_size, "%s:%u: %s: %s", c->name, line, where, msg);
	return UEIP_ECONFIG;
}

__attribute__((format(printf, 4, 5))) static int
fail_raw(struct ctx *c, unsigned line, const char *where, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail_raw(c, line, where, fmt, ap);
	va_end(ap);
	return rc;
}

/* Error at line, about the key path of n (plus key below it, if given). */
__attribute__((format(printf, 5, 6))) static int
fail_path(struct ctx *c, unsigned line, const struct cnode *n, const char *key,
	  const char *fmt, ...)
{
	char path[PATH_TEXT_MAX];
	va_list ap;
	int rc;

	node_path(n, key, path, sizeof(path));
	va_start(ap, fmt);
	rc = vfail_raw(c, line, path, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * Error about the value n (n = NULL: a default from the schema). A mapping or
 * list is named by the line of its key: a block list starts a line later.
 */
__attribute__((format(printf, 3, 4))) static int
fail(struct ctx *c, const struct cnode *n, const char *fmt, ...)
{
	char path[PATH_TEXT_MAX];
	va_list ap;
	int rc;

	if (n)
		node_path(n, NULL, path, sizeof(path));
	else
		snprintf(path, sizeof(path), "(default)");
	va_start(ap, fmt);
	rc = vfail_raw(c, n ? (n->kind == CN_SCALAR ? n->line : n->key_line) : 0, path, fmt, ap);
	va_end(ap);
	return rc;
}

static int
fail_nomem(struct ctx *c)
{
	if (c->why && c->why_size)
		snprintf(c->why, c->why_size, "%s: out of memory", c->name);
	return UEIP_ENOMEM;
}

/* ---- building the tree from libyaml events --------------------------------- */

struct builder {
	struct ctx *c;
	struct cnode *root, *cur;
	char *pending_key;		/* read a key, waiting for its value */
	unsigned pending_line;
	unsigned depth, docs;
};

static unsigned
mark_line(const yaml_mark_t *mark)
{
	return mark->line >= UINT32_MAX - 1 ? UINT32_MAX : (unsigned)mark->line + 1;
}

static int
builder_fail(struct builder *b, unsigned line, const char *problem)
{
	return fail_path(b->c, line, b->cur, b->pending_key, "%s", problem);
}

static int
node_new(struct builder *b, enum cnode_kind kind, unsigned line, struct cnode **out)
{
	struct cnode *n;

	if (b->c->nodes >= CONFIG_NODES_MAX)
		return builder_fail(b, line, "more than 100000 values");
	n = calloc(1, sizeof(*n));
	if (!n)
		return fail_nomem(b->c);
	n->kind = kind;
	n->line = n->key_line = line;
	n->all_next = b->c->all;
	b->c->all = n;
	b->c->nodes++;
	*out = n;
	return 0;
}

static void
tree_free(struct ctx *c)
{
	struct cnode *n, *next;

	for (n = c->all; n; n = next) {
		next = n->all_next;
		free(n->key);
		free(n->text);
		free(n);
	}
	c->all = NULL;
	c->nodes = 0;
}

/* Hang n under the open collection (as the value of the pending key). */
static void
attach(struct builder *b, struct cnode *n)
{
	struct cnode *p = b->cur;

	if (!p) {
		b->root = n;
		return;
	}
	n->parent = p;
	if (p->kind == CN_MAP) {
		n->key = b->pending_key;
		n->key_line = b->pending_line;
		b->pending_key = NULL;
	} else {
		n->index = p->nchildren;
	}
	if (p->last)
		p->last->next = n;
	else
		p->first = n;
	p->last = n;
	p->nchildren++;
}

static char *
dup_text(const char *text, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		memcpy(s, text, len);
		s[len] = '\0';
	}
	return s;
}

static int
on_key(struct builder *b, const char *text, size_t len, unsigned line)
{
	const struct cnode *k;

	if (len > CONFIG_KEY_LEN_MAX)
		return builder_fail(b, line, "key longer than 64 characters");
	if (b->cur->nchildren >= CONFIG_MAP_KEYS_MAX)
		return builder_fail(b, line, "more than 64 keys in one mapping");
	b->pending_key = dup_text(text, len);
	if (!b->pending_key)
		return fail_nomem(b->c);
	b->pending_line = line;
	for (k = b->cur->first; k; k = k->next)
		if (strcmp(k->key, b->pending_key) == 0)
			return fail_path(b->c, line, b->cur, b->pending_key,
					 "duplicate key (first at line %u)", k->key_line);
	return 0;
}

static int
is_null_text(const char *text, size_t len)
{
	return len == 0 || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
	       strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

static int
on_scalar(struct builder *b, const yaml_event_t *ev, unsigned line)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct cnode *n;
	int rc;

	if (!text)
		text = "";
	if (memchr(text, '\0', len))
		return builder_fail(b, line, "NUL character in a value");
	if (b->cur && b->cur->kind == CN_MAP && !b->pending_key)
		return on_key(b, text, len, line);
	if ((rc = node_new(b, CN_SCALAR, line, &n)))
		return rc;
	n->text = dup_text(text, len);
	if (!n->text)
		return fail_nomem(b->c);
	n->len = len;
	n->is_null = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_null_text(n->text, len);
	attach(b, n);
	return 0;
}

static int
on_open(struct builder *b, enum cnode_kind kind, unsigned line)
{
	struct cnode *n;
	int rc;

	if (b->cur && b->cur->kind == CN_MAP && !b->pending_key)
		return builder_fail(b, line, "keys must be plain values");
	if (b->depth >= CONFIG_DEPTH_MAX)
		return builder_fail(b, line, "nested deeper than 16 levels");
	if ((rc = node_new(b, kind, line, &n)))
		return rc;
	attach(b, n);
	b->cur = n;
	b->depth++;
	return 0;
}

static int
on_close(struct builder *b)
{
	if (b->cur) {
		b->cur = b->cur->parent;
		b->depth--;
	}
	return 0;
}

/* Anchors, aliases and tags are refused: one meaning per value, no sharing. */
static int
plain_node(struct builder *b, const yaml_char_t *anchor, const yaml_char_t *tag, unsigned line)
{
	if (anchor)
		return builder_fail(b, line, "anchors are not supported");
	if (tag)
		return builder_fail(b, line, "tags are not supported");
	return 0;
}

static int
on_event(struct builder *b, const yaml_event_t *ev)
{
	unsigned line = mark_line(&ev->start_mark);
	int rc;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1)
			return builder_fail(b, line, "more than one YAML document");
		return 0;
	case YAML_ALIAS_EVENT:
		return builder_fail(b, line, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		rc = plain_node(b, ev->data.scalar.anchor, ev->data.scalar.tag, line);
		return rc ? rc : on_scalar(b, ev, line);
	case YAML_MAPPING_START_EVENT:
		rc = plain_node(b, ev->data.mapping_start.anchor, ev->data.mapping_start.tag, line);
		return rc ? rc : on_open(b, CN_MAP, line);
	case YAML_SEQUENCE_START_EVENT:
		rc = plain_node(b, ev->data.sequence_start.anchor, ev->data.sequence_start.tag,
				line);
		return rc ? rc : on_open(b, CN_SEQ, line);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		return on_close(b);
	default:
		return 0;
	}
}

static unsigned
line_at(const char *data, size_t len, size_t offset)
{
	unsigned line = 1;

	for (size_t i = 0; i < len && i < offset; i++)
		if (data[i] == '\n' && line < UINT32_MAX)
			line++;
	return line;
}

static int
syntax_fail(struct ctx *c, const yaml_parser_t *p, const char *data, size_t len)
{
	const char *problem = p->problem ? p->problem : "unreadable YAML";
	unsigned line;

	if (p->error == YAML_MEMORY_ERROR)
		return fail_nomem(c);
	if (p->error == YAML_READER_ERROR)
		line = line_at(data, len, p->problem_offset);
	else
		line = mark_line(&p->problem_mark);
	if (p->context)
		return fail_raw(c, line, "syntax error", "%s (%s)", problem, p->context);
	return fail_raw(c, line, "syntax error", "%s", problem);
}

static int
tree_build(struct ctx *c, const char *data, size_t len, struct cnode **root)
{
	struct builder b = { .c = c };
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		return fail_nomem(c);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!rc && !done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_fail(c, &parser, data, len);
			break;
		}
		rc = on_event(&b, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	free(b.pending_key);
	*root = b.root;
	return rc;
}

static const struct cnode *
map_get(const struct cnode *map, const char *key)
{
	if (!map || map->kind != CN_MAP)
		return NULL;
	for (const struct cnode *k = map->first; k; k = k->next)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

/* ---- value checks ---------------------------------------------------------- */

/* A check returns NULL when text is fine, or what is wrong with it. */
typedef const char *text_check_fn(const char *text);

static const char *
check_name(const char *text)
{
	for (const char *p = text; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return "may hold only letters, digits, '_' and '-'";
	return NULL;
}

/*
 * session.c owns the SUPI and DNN syntax; ask it through a key whose other
 * fields are known to be good, rather than keep a second copy of the rules.
 */
static int
key_check_with(const char *supi, const char *dnn)
{
	struct ueip_session_key key = { .snssai = "1", .psi = 1 };

	if (strlen(supi) >= sizeof(key.supi) || strlen(dnn) >= sizeof(key.dnn))
		return UEIP_EINVAL;
	memcpy(key.supi, supi, strlen(supi) + 1);
	memcpy(key.dnn, dnn, strlen(dnn) + 1);
	return ueip_session_key_check(&key);
}

static const char *
check_dnn(const char *text)
{
	if (key_check_with("imsi-001010000000001", text))
		return "not a DNN (dot-separated labels of letters, digits and '-')";
	return NULL;
}

static const char *
check_supi(const char *text)
{
	if (key_check_with(text, "internet"))
		return "not a SUPI (imsi-<5..15 digits> or nai-<printable>)";
	return NULL;
}

static const char *
check_snssai(const char *text)
{
	if (ueip_snssai_check(text))
		return "not an S-NSSAI (SST 0..255, or SST-SD with 6 hex digits)";
	return NULL;
}

static const char *
check_hostport(const char *text)
{
	char host[UEIP_HOSTPORT_MAX];
	uint16_t port;

	if (ueip_hostport_split(text, host, sizeof(host), &port))
		return "not host:port or [v6]:port with port 1..65535";
	return NULL;
}

static const char *
check_hostport_or_empty(const char *text)
{
	return text[0] ? check_hostport(text) : NULL;
}

/* A DNS-label-like name: letters, digits, '-'; it becomes part of reserved DNNs and nft names. */
static const char *
check_label(const char *text)
{
	size_t n = strlen(text);

	if (n == 0 || n > 63 || text[0] == '-' || text[n - 1] == '-')
		return "not a label (1..63 letters, digits and '-', not starting or ending with '-')";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)text[i]) && text[i] != '-')
			return "not a label (1..63 letters, digits and '-', not starting or ending with '-')";
	return NULL;
}

static const char *
check_path(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			return "contains control characters";
	return NULL;
}

static int
hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decode hex text into out (cap bytes). NULL, or what is wrong. */
static const char *
hex_decode(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	if (len % 2)
		return "odd number of hex digits";
	if (len / 2 > cap)
		return "too long";
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
		if (hi < 0 || lo < 0)
			return "not hex";
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*out_len = len / 2;
	return NULL;
}

static int
bits_equal(const struct ueip_addr *a, const struct ueip_addr *b, unsigned nbits)
{
	for (unsigned bit = 0; bit < nbits && bit < 128; bit++) {
		unsigned mask = 0x80u >> (bit % 8);
		if ((a->b[bit / 8] & mask) != (b->b[bit / 8] & mask))
			return 0;
	}
	return 1;
}

/* ---- the schema ------------------------------------------------------------ */

enum item_type {
	T_STR,		/* char[size]; length min..max; optional check */
	T_ENUM,		/* char[size]; one of choices[] */
	T_UINT,		/* unsigned of 1, 2, 4 or 8 bytes; value min..max */
	T_HEX,		/* uint8_t[size] and its size_t length at aux_off; bytes min..max */
	T_V4POOL,	/* "a.b.c.d/len" or "a.b.c.d-a.b.c.d" into the ueip_pool_def at off */
	T_V6POOL,	/* "prefix/len" into base and parent_len of the ueip_pool_def at off */
	T_ADDR,		/* v4 address or v6 prefix: ueip_addr at off, uint8_t length at aux_off */
	T_MAP,		/* mapping whose items land in the same struct */
	T_LIST,		/* sequence of mappings: element i at off + i * elem_size */
};

#define F_REQUIRED 0x01
#define F_RELOAD   0x02		/* may change on reload (a list: as a whole) */
#define F_ONEOF    0x04		/* exactly one of the F_ONEOF items of the mapping */
#define F_UNIQUE   0x08		/* differs across the elements of its list */
#define F_POW2     0x10		/* T_UINT: a power of two */

struct item {
	const char *name;
	enum item_type type;
	unsigned flags;
	uint64_t min, max;
	const char *def;		/* default, as text; NULL = none (zero / empty) */
	size_t off, size;		/* where the value lands, from the current base */
	size_t aux_off;
	text_check_fn *check;		/* T_STR */
	const char *const *choices;	/* T_ENUM, NULL-terminated */
	const struct item *sub;		/* T_MAP, T_LIST */
	size_t elem_size;		/* T_LIST */
	size_t count_off;		/* T_LIST: unsigned count, from the base */
	size_t nodes_off;		/* T_LIST: element nodes, from the base */
};

#define AT(type, field) .off = offsetof(type, field), .size = sizeof(((type *)0)->field)
#define LIST(field, elem_type, count, nodes) \
	AT(struct work, cfg.field), .elem_size = sizeof(elem_type), \
	.max = sizeof(((struct work *)0)->cfg.field) / sizeof(elem_type), \
	.count_off = offsetof(struct work, cfg.count), .nodes_off = offsetof(struct work, nodes)

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };

static const struct item member_items[] = {
	{ .name = "id", .type = T_STR, .flags = F_REQUIRED | F_UNIQUE, .min = 1,
	  .max = UEIP_MEMBER_ID_MAX - 1, .check = check_name,
	  AT(struct ueip_config_member, id) },
	{ .name = "address", .type = T_STR, .flags = F_REQUIRED, .min = 1,
	  .max = UEIP_HOSTPORT_MAX - 1, .check = check_hostport,
	  AT(struct ueip_config_member, address) },
	{ 0 }
};

static const struct item set_items[] = {
	{ .name = "id", .type = T_STR, .flags = F_REQUIRED, .min = 1, .max = UEIP_NAME_MAX - 1,
	  .check = check_name, AT(struct work, cfg.set_id) },
	{ .name = "member", .type = T_STR, .flags = F_REQUIRED, .min = 1,
	  .max = UEIP_MEMBER_ID_MAX - 1, .check = check_name, AT(struct work, cfg.member) },
	{ .name = "epoch", .type = T_UINT, .flags = F_RELOAD, .min = 1, .max = UINT64_MAX,
	  .def = "1", AT(struct work, cfg.epoch) },
	{ .name = "key", .type = T_HEX, .flags = F_ONEOF | F_RELOAD, .min = 16, .max = 64,
	  AT(struct work, cfg.key), .aux_off = offsetof(struct work, cfg.key_len) },
	/* lands outside cfg: must stay F_RELOAD (reload compares cfg only) */
	{ .name = "key_file", .type = T_STR, .flags = F_ONEOF | F_RELOAD, .min = 1,
	  .max = UEIP_PATH_MAX - 1, .check = check_path, AT(struct work, key_file) },
	{ .name = "members", .type = T_LIST, .flags = F_REQUIRED | F_RELOAD, .sub = member_items,
	  LIST(members, struct ueip_config_member, nmembers, member_nodes), .min = 1 },
	{ .name = "recovery_timeout_ms", .type = T_UINT, .flags = F_RELOAD, .min = 100,
	  .max = 600000, .def = "3000", AT(struct work, cfg.recovery_timeout_ms) },
	{ 0 }
};

static const struct item pool_items[] = {
	{ .name = "name", .type = T_STR, .flags = F_REQUIRED | F_UNIQUE, .min = 1,
	  .max = UEIP_NAME_MAX - 1, .check = check_name, AT(struct ueip_pool_def, name) },
	{ .name = "dnn", .type = T_STR, .flags = F_REQUIRED, .min = 1, .max = UEIP_DNN_MAX - 1,
	  .check = check_dnn, AT(struct ueip_pool_def, dnn) },
	{ .name = "snssai", .type = T_STR, .min = 1, .max = UEIP_SNSSAI_MAX - 1,
	  .check = check_snssai, AT(struct ueip_pool_def, snssai) },
	{ .name = "ipv4", .type = T_V4POOL, .flags = F_ONEOF, .off = 0,
	  .size = sizeof(struct ueip_pool_def) },
	{ .name = "ipv6", .type = T_V6POOL, .flags = F_ONEOF, .off = 0,
	  .size = sizeof(struct ueip_pool_def) },
	/* checked against the prefix and turned into size in pools_finish() */
	{ .name = "delegated_length", .type = T_UINT, .min = 1, .max = 128, .def = "64",
	  AT(struct ueip_pool_def, unit_len) },
	{ 0 }
};

static const struct item static_items[] = {
	{ .name = "supi", .type = T_STR, .flags = F_REQUIRED, .min = 1, .max = UEIP_SUPI_MAX - 1,
	  .check = check_supi, AT(struct ueip_config_static, supi) },
	{ .name = "dnn", .type = T_STR, .flags = F_REQUIRED, .min = 1, .max = UEIP_DNN_MAX - 1,
	  .check = check_dnn, AT(struct ueip_config_static, dnn) },
	{ .name = "address", .type = T_ADDR, .flags = F_REQUIRED | F_UNIQUE,
	  AT(struct ueip_config_static, address),
	  .aux_off = offsetof(struct ueip_config_static, prefix_len) },
	{ 0 }
};

static const struct item store_items[] = {
	{ .name = "path", .type = T_STR, .flags = F_REQUIRED, .min = 1, .max = UEIP_PATH_MAX - 1,
	  .check = check_path, AT(struct work, cfg.store_path) },
	{ 0 }
};

static const struct item control_items[] = {
	{ .name = "socket", .type = T_STR, .flags = F_REQUIRED, .min = 1, .max = SUN_PATH_LEN_MAX,
	  .check = check_path, AT(struct work, cfg.control_socket) },
	{ 0 }
};

static const struct item metrics_items[] = {
	{ .name = "address", .type = T_STR, .min = 1, .max = UEIP_HOSTPORT_MAX - 1,
	  .check = check_hostport, AT(struct work, cfg.metrics_address) },
	{ 0 }
};

static const struct item log_items[] = {
	{ .name = "level", .type = T_ENUM, .flags = F_RELOAD, .choices = log_levels,
	  .def = "info", AT(struct work, cfg.log_level) },
	{ 0 }
};

static const char *const booleans[] = { "true", "false", NULL };
static const char *const dp_backends[] = { "auto", "nft", "null", NULL };

static const struct item public_pool_items[] = {
	{ .name = "name", .type = T_STR, .flags = F_REQUIRED | F_UNIQUE, .min = 1,
	  .max = UEIP_NAME_MAX - 1, .check = check_label, AT(struct ueip_config_public_pool, name) },
	{ .name = "ipv4", .type = T_V4POOL, .flags = F_REQUIRED,
	  .off = offsetof(struct ueip_config_public_pool, def), .size = sizeof(struct ueip_pool_def) },
	{ 0 }
};

static const struct item prefix_items[] = {
	{ .name = "prefix", .type = T_V4POOL, .flags = F_REQUIRED,
	  .off = offsetof(struct ueip_config_prefix, def), .size = sizeof(struct ueip_pool_def) },
	{ 0 }
};

static const struct item pcp_items[] = {
	{ .name = "address", .type = T_STR, .min = 0, .max = UEIP_HOSTPORT_MAX - 1,
	  .check = check_hostport_or_empty, .def = "0.0.0.0:5351", AT(struct work, cfg.pcp_address) },
	{ 0 }
};

static const struct item shared_items[] = {
	{ .name = "pool", .type = T_STR, .flags = F_REQUIRED, .min = 1, .max = UEIP_NAME_MAX - 1,
	  .check = check_label, AT(struct work, cfg.shared_pool) },
	{ .name = "port_min", .type = T_UINT, .min = 1, .max = 65535, .def = "1024",
	  AT(struct work, cfg.shared_port_min) },
	{ .name = "port_max", .type = T_UINT, .min = 1, .max = 65535, .def = "65535",
	  AT(struct work, cfg.shared_port_max) },
	{ 0 }
};

static const struct item lifetime_items[] = {
	{ .name = "min", .type = T_UINT, .flags = F_RELOAD, .min = 1, .max = 86400 * 7, .def = "120",
	  AT(struct work, cfg.lifetime_min) },
	{ .name = "max", .type = T_UINT, .flags = F_RELOAD, .min = 1, .max = 86400 * 7, .def = "86400",
	  AT(struct work, cfg.lifetime_max) },
	{ .name = "default", .type = T_UINT, .flags = F_RELOAD, .min = 1, .max = 86400 * 7,
	  .def = "3600", AT(struct work, cfg.lifetime_default) },
	{ 0 }
};

static const struct item quota_items[] = {
	{ .name = "dedicated", .type = T_UINT, .flags = F_RELOAD, .min = 0, .max = 1, .def = "1",
	  AT(struct work, cfg.quota_dedicated) },
	{ .name = "ports", .type = T_UINT, .flags = F_RELOAD, .min = 0, .max = 65535, .def = "64",
	  AT(struct work, cfg.quota_ports) },
	{ 0 }
};

static const struct item rate_items[] = {
	{ .name = "per_ue", .type = T_UINT, .flags = F_RELOAD, .min = 1, .max = 10000000, .def = "50",
	  AT(struct work, cfg.rate_per_ue) },
	{ .name = "burst", .type = T_UINT, .flags = F_RELOAD, .min = 1, .max = 10000000, .def = "100",
	  AT(struct work, cfg.rate_burst) },
	{ 0 }
};

static const struct item public_items[] = {
	{ .name = "pcp", .type = T_MAP, .sub = pcp_items },
	{ .name = "pools", .type = T_LIST, .flags = F_RELOAD, .sub = public_pool_items,
	  LIST(public_pools, struct ueip_config_public_pool, npublic_pools, public_pool_nodes) },
	{ .name = "shared", .type = T_MAP, .sub = shared_items },
	{ .name = "lifetime", .type = T_MAP, .sub = lifetime_items },
	{ .name = "quota", .type = T_MAP, .sub = quota_items },
	{ .name = "rate", .type = T_MAP, .sub = rate_items },
	{ .name = "third_party", .type = T_LIST, .flags = F_RELOAD, .sub = prefix_items,
	  LIST(third_party, struct ueip_config_prefix, nthird_party, third_party_nodes) },
	{ .name = "keep_mappings", .type = T_ENUM, .flags = F_RELOAD, .choices = booleans,
	  .def = "true", AT(struct work, cfg.keep_mappings) },
	{ 0 }
};

static const struct item dataplane_items[] = {
	{ .name = "backend", .type = T_ENUM, .choices = dp_backends, .def = "auto",
	  AT(struct work, cfg.dp_backend) },
	{ .name = "table", .type = T_STR, .min = 1, .max = 31, .check = check_label, .def = "ueip",
	  AT(struct work, cfg.dp_table) },
	{ .name = "cleanup_on_stop", .type = T_ENUM, .flags = F_RELOAD, .choices = booleans,
	  .def = "true", AT(struct work, cfg.dp_cleanup) },
	{ 0 }
};

static const struct item top_items[] = {
	{ .name = "set", .type = T_MAP, .flags = F_REQUIRED, .sub = set_items },
	{ .name = "chunk_size", .type = T_UINT, .flags = F_POW2, .min = 64, .max = 16384,
	  .def = "256", AT(struct work, cfg.chunk_size) },
	{ .name = "quarantine_seconds", .type = T_UINT, .flags = F_RELOAD, .min = 0,
	  .max = 86400, .def = "60", AT(struct work, cfg.quarantine_seconds) },
	{ .name = "pools", .type = T_LIST, .flags = F_REQUIRED, .sub = pool_items,
	  LIST(pools, struct ueip_pool_def, npools, pool_nodes), .min = 1 },
	{ .name = "static", .type = T_LIST, .flags = F_RELOAD, .sub = static_items,
	  LIST(statics, struct ueip_config_static, nstatics, static_nodes) },
	{ .name = "store", .type = T_MAP, .flags = F_REQUIRED, .sub = store_items },
	{ .name = "control", .type = T_MAP, .flags = F_REQUIRED, .sub = control_items },
	{ .name = "metrics", .type = T_MAP, .sub = metrics_items },
	{ .name = "log", .type = T_MAP, .sub = log_items },
	{ .name = "public", .type = T_MAP, .sub = public_items },
	{ .name = "dataplane", .type = T_MAP, .sub = dataplane_items },
	{ 0 }
};

/* ---- converting scalars ------------------------------------------------------ */

static int
conv_str(struct ctx *c, const struct item *it, const char *text, size_t len,
	 const struct cnode *n, char *base)
{
	uint64_t max = it->max < it->size - 1 ? it->max : it->size - 1;
	const char *problem;

	if (len < it->min)
		return fail(c, n, "is empty");
	if (len > max)
		return fail(c, n, "longer than %" PRIu64 " characters", max);
	if (it->check && (problem = it->check(text)))
		return fail(c, n, "%s", problem);
	memcpy(base + it->off, text, len);
	base[it->off + len] = '\0';
	return 0;
}

static int
conv_enum(struct ctx *c, const struct item *it, const char *text, size_t len,
	  const struct cnode *n, char *base)
{
	char list[128] = "";

	for (const char *const *ch = it->choices; *ch; ch++) {
		if (strcmp(text, *ch) == 0 && len < it->size) {
			memcpy(base + it->off, text, len + 1);
			return 0;
		}
		if (list[0])
			append_clean(list, sizeof(list), ", ", 2);
		append_clean(list, sizeof(list), *ch, 32);
	}
	return fail(c, n, "must be one of %s", list);
}

static void
store_uint(char *dst, size_t size, uint64_t v)
{
	if (size == 1) {
		uint8_t x = (uint8_t)v;
		memcpy(dst, &x, 1);
	} else if (size == 2) {
		uint16_t x = (uint16_t)v;
		memcpy(dst, &x, 2);
	} else if (size == 4) {
		uint32_t x = (uint32_t)v;
		memcpy(dst, &x, 4);
	} else if (size == 8) {
		memcpy(dst, &v, 8);
	}
}

static int
conv_uint(struct ctx *c, const struct item *it, const char *text, size_t len,
	  const struct cnode *n, char *base)
{
	uint64_t v;
	char *end;

	if (len == 0 || len > 20 || strspn(text, "0123456789") != len)
		return fail(c, n, "not a non-negative integer");
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end)
		return fail(c, n, "out of range %" PRIu64 "..%" PRIu64, it->min, it->max);
	if (v < it->min || v > it->max)
		return fail(c, n, "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, v, it->min,
			    it->max);
	if ((it->flags & F_POW2) && (v & (v - 1)))
		return fail(c, n, "%" PRIu64 " is not a power of two", v);
	store_uint(base + it->off, it->size, v);
	return 0;
}

static int
conv_hex(struct ctx *c, const struct item *it, const char *text, size_t len,
	 const struct cnode *n, char *base)
{
	uint8_t buf[64];
	size_t got = 0;
	const char *problem = hex_decode(text, len, buf, sizeof(buf), &got);

	if (!problem && (got < it->min || got > it->max || got > it->size))
		problem = "wrong length";
	if (problem) {
		explicit_bzero(buf, sizeof(buf));
		return fail(c, n, "%s: needs %" PRIu64 "..%" PRIu64 " bytes as hex", problem,
			    it->min, it->max);
	}
	memcpy(base + it->off, buf, got);
	memcpy(base + it->aux_off, &got, sizeof(got));
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int
v4_parse(const char *text, size_t len, struct ueip_addr *out)
{
	char buf[UEIP_ADDR_STRLEN];

	if (len >= sizeof(buf))
		return UEIP_EMALFORMED;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (ueip_addr_parse(buf, out) || out->family != UEIP_AF_INET)
		return UEIP_EMALFORMED;
	return 0;
}

/* "a.b.c.d-a.b.c.d": first, size, and the longest prefix common to both ends. */
static int
v4_range_parse(const char *text, const char *dash, struct ueip_pool_def *d)
{
	struct ueip_addr lo, hi;
	uint32_t a, b;

	if (v4_parse(text, (size_t)(dash - text), &lo) ||
	    v4_parse(dash + 1, strlen(dash + 1), &hi))
		return UEIP_EMALFORMED;
	a = ueip_addr_v4(&lo);
	b = ueip_addr_v4(&hi);
	if (a > b)
		return UEIP_EINVAL;
	d->base = lo;
	d->size = (uint64_t)b - a + 1;
	d->parent_len = (uint8_t)(a == b ? 32 : __builtin_clz(a ^ b));
	return 0;
}

static int
conv_v4pool(struct ctx *c, const struct item *it, const char *text, const struct cnode *n,
	    char *base)
{
	struct ueip_pool_def *d = (struct ueip_pool_def *)(base + it->off);
	const char *dash = strchr(text, '-');
	struct ueip_addr a;
	uint8_t plen;
	int rc;

	if (strchr(text, '/')) {
		if (ueip_prefix_parse(text, &a, &plen) || a.family != UEIP_AF_INET)
			return fail(c, n, "not an IPv4 prefix (a.b.c.d/len, host bits zero)");
		d->base = a;
		d->parent_len = plen;
		d->size = 1ULL << (32 - plen);
	} else if (dash) {
		if ((rc = v4_range_parse(text, dash, d)))
			return fail(c, n, rc == UEIP_EINVAL ? "range ends before it starts" :
				    "not an IPv4 range (a.b.c.d-a.b.c.d)");
	} else {
		return fail(c, n, "not an IPv4 prefix (a.b.c.d/len) or range (a.b.c.d-a.b.c.d)");
	}
	d->unit_len = 32;
	return 0;
}

static int
conv_v6pool(struct ctx *c, const struct item *it, const char *text, const struct cnode *n,
	    char *base)
{
	struct ueip_pool_def *d = (struct ueip_pool_def *)(base + it->off);
	struct ueip_addr a;
	uint8_t plen;

	if (ueip_prefix_parse(text, &a, &plen) || a.family != UEIP_AF_INET6)
		return fail(c, n, "not a prefix (IPv6 address/length, host bits zero)");
	d->base = a;
	d->parent_len = plen;
	return 0;
}

static int
conv_addr(struct ctx *c, const struct item *it, const char *text, const struct cnode *n,
	  char *base)
{
	struct ueip_addr a;
	uint8_t plen = 32;

	if (strchr(text, '/')) {
		if (ueip_prefix_parse(text, &a, &plen) || a.family != UEIP_AF_INET6)
			return fail(c, n, "not an IPv4 address or an IPv6 prefix");
	} else if (ueip_addr_parse(text, &a)) {
		return fail(c, n, "not an IPv4 address or an IPv6 prefix");
	} else if (a.family == UEIP_AF_INET6) {
		return fail(c, n, "an IPv6 static needs its prefix length (2001:db8::/64)");
	}
	memcpy(base + it->off, &a, sizeof(a));
	memcpy(base + it->aux_off, &plen, sizeof(plen));
	return 0;
}

static int
conv_scalar(struct ctx *c, const struct item *it, const char *text, const struct cnode *n,
	    char *base)
{
	size_t len = strlen(text);

	switch (it->type) {
	case T_STR:
		return conv_str(c, it, text, len, n, base);
	case T_ENUM:
		return conv_enum(c, it, text, len, n, base);
	case T_UINT:
		return conv_uint(c, it, text, len, n, base);
	case T_HEX:
		return conv_hex(c, it, text, len, n, base);
	case T_V4POOL:
		return conv_v4pool(c, it, text, n, base);
	case T_V6POOL:
		return conv_v6pool(c, it, text, n, base);
	case T_ADDR:
		return conv_addr(c, it, text, n, base);
	default:
		return fail(c, n, "expected a single value");
	}
}

/* ---- walking the tree with the schema ------------------------------------------ */

static int apply_map(struct ctx *c, const struct item *items, const struct cnode *map,
		     char *base);

static const char *
kind_name(enum cnode_kind kind)
{
	return kind == CN_MAP ? "a mapping" : kind == CN_SEQ ? "a list" : "a single value";
}

static int
check_unique(struct ctx *c, const struct item *list, char *base, unsigned i)
{
	const struct cnode **nodes = (const struct cnode **)(base + list->nodes_off);
	const char *arr = base + list->off;

	for (const struct item *it = list->sub; it->name; it++) {
		const struct cnode *v = map_get(nodes[i], it->name), *w;
		if (!(it->flags & F_UNIQUE) || !v)
			continue;
		for (unsigned j = 0; j < i; j++) {
			if (!(w = map_get(nodes[j], it->name)))
				continue;
			if (memcmp(arr + i * list->elem_size + it->off,
				   arr + j * list->elem_size + it->off, it->size) == 0) {
				char other[PATH_TEXT_MAX];
				node_path(w, NULL, other, sizeof(other));
				return fail(c, v, "same as %s (line %u)", other, w->line);
			}
		}
	}
	return 0;
}

static int
conv_list(struct ctx *c, const struct item *it, const struct cnode *n, char *base)
{
	const struct cnode **nodes = (const struct cnode **)(base + it->nodes_off);
	unsigned i = 0;
	int rc;

	/* A null value ("static:" with every entry commented out) is an empty list. */
	if (n->kind != CN_SEQ && !(n->kind == CN_SCALAR && n->is_null))
		return fail(c, n, "expected a list, not %s", kind_name(n->kind));
	if (n->nchildren < it->min)
		return fail(c, n, "needs at least %" PRIu64 " entries", it->min);
	if (n->nchildren > it->max)
		return fail(c, n, "more than %" PRIu64 " entries", it->max);
	for (const struct cnode *e = n->first; e; e = e->next, i++) {
		if (e->kind != CN_MAP)
			return fail(c, e, "expected a mapping, not %s", kind_name(e->kind));
		nodes[i] = e;
		if ((rc = apply_map(c, it->sub, e, base + it->off + i * it->elem_size)))
			return rc;
		if ((rc = check_unique(c, it, base, i)))
			return rc;
	}
	memcpy(base + it->count_off, &i, sizeof(i));
	return 0;
}

static int
conv_node(struct ctx *c, const struct item *it, const struct cnode *n, char *base)
{
	if (it->type == T_MAP) {
		if (n->kind != CN_MAP)
			return fail(c, n, "expected a mapping, not %s", kind_name(n->kind));
		return apply_map(c, it->sub, n, base);
	}
	if (it->type == T_LIST)
		return conv_list(c, it, n, base);
	if (n->kind != CN_SCALAR)
		return fail(c, n, "expected a single value, not %s", kind_name(n->kind));
	/* a plain `null` is YAML's null, but the data-path backend named null is meant */
	if (n->is_null && !(it->type == T_ENUM && it->choices == dp_backends && strcmp(n->text, "null") == 0))
		return fail(c, n, "has no value");
	return conv_scalar(c, it, n->text, n, base);
}

static int
apply_default(struct ctx *c, const struct item *it, char *base)
{
	unsigned zero = 0;

	if (it->type == T_MAP)
		return apply_map(c, it->sub, NULL, base);
	if (it->type == T_LIST) {
		memcpy(base + it->count_off, &zero, sizeof(zero));
		return 0;
	}
	return it->def ? conv_scalar(c, it, it->def, NULL, base) : 0;
}

static int
fail_oneof(struct ctx *c, const struct item *items, const struct cnode *map)
{
	char names[128] = "";

	for (const struct item *it = items; it->name; it++) {
		if (!(it->flags & F_ONEOF))
			continue;
		if (names[0])
			append_clean(names, sizeof(names), ", ", 2);
		append_clean(names, sizeof(names), it->name, 32);
	}
	return fail_path(c, map->key_line, map, NULL, "needs one of %s", names);
}

static const struct item *
item_find(const struct item *items, const char *name)
{
	for (const struct item *it = items; it->name; it++)
		if (strcmp(it->name, name) == 0)
			return it;
	return NULL;
}

/*
 * Fill base from map (NULL: the mapping is absent, so defaults only). The
 * keys present go first, in file order, so the first error reported is the
 * first in the file; then the missing ones: required, or defaulted.
 */
static int
apply_map(struct ctx *c, const struct item *items, const struct cnode *map, char *base)
{
	const struct cnode *oneof = NULL;
	const struct item *it;
	int has_oneof = 0, rc;

	for (const struct cnode *k = map ? map->first : NULL; k; k = k->next) {
		if (!(it = item_find(items, k->key)))
			return fail_path(c, k->key_line, k, NULL, "unknown key");
		if ((it->flags & F_ONEOF) && oneof)
			return fail_path(c, k->key_line, k, NULL, "conflicts with %s (line %u)",
					 oneof->key, oneof->key_line);
		if (it->flags & F_ONEOF)
			oneof = k;
		if ((rc = conv_node(c, it, k, base)))
			return rc;
	}
	for (it = items; it->name; it++) {
		has_oneof |= !!(it->flags & F_ONEOF);
		if (map_get(map, it->name))
			continue;
		if ((it->flags & F_REQUIRED) && map)
			return fail_path(c, map->key_line, map, it->name, "required key missing");
		if ((rc = apply_default(c, it, base)))
			return rc;
	}
	if (map && has_oneof && !oneof)
		return fail_oneof(c, items, map);
	return 0;
}

/* ---- checks across keys ----------------------------------------------------------- */

static int
read_small_file(const char *path, char *buf, size_t cap, size_t *len)
{
	struct stat st;
	ssize_t got;
	int fd, err = 0;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	while (!err && *len < cap) {
		got = read(fd, buf + *len, cap - *len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			err = -errno;
		else if (got == 0)
			break;
		else
			*len += (size_t)got;
	}
	close(fd);
	return err;
}

static int
key_file_path(struct ctx *c, const struct cnode *n, char *out, size_t size)
{
	const char *file = c->w->key_file;
	int len;

	if (file[0] == '/' || !c->basedir)
		len = snprintf(out, size, "%s", file);
	else
		len = snprintf(out, size, "%s/%s", c->basedir, file);
	if (len < 0 || (size_t)len >= size)
		return fail(c, n, "path too long");
	return 0;
}

static int
key_file_load(struct ctx *c, const struct cnode *n)
{
	struct ueip_config *cfg = &c->w->cfg;
	char path[4096], text[KEY_FILE_SIZE_MAX + 1];
	size_t len = 0, start = 0, got = 0;
	const char *problem;
	int rc;

	if ((rc = key_file_path(c, n, path, sizeof(path))))
		return rc;
	rc = read_small_file(path, text, sizeof(text), &len);
	if (rc == -EINVAL)
		return fail(c, n, "%s: not a regular file", path);
	if (rc)
		return fail(c, n, "%s: %s", path, ueip_strerror(rc));
	if (len > KEY_FILE_SIZE_MAX)
		problem = "file too long";
	else {
		while (start < len && strchr(" \t\r\n", text[start]) && text[start])
			start++;
		while (len > start && strchr(" \t\r\n", text[len - 1]) && text[len - 1])
			len--;
		problem = hex_decode(text + start, len - start, cfg->key, sizeof(cfg->key), &got);
		if (!problem && (got < 16 || got > 64))
			problem = "wrong length";
	}
	explicit_bzero(text, sizeof(text));
	if (problem) {
		explicit_bzero(cfg->key, sizeof(cfg->key));
		return fail(c, n, "%s: %s: needs 16..64 bytes as hex", path, problem);
	}
	cfg->key_len = got;
	return 0;
}

static int
set_finish(struct ctx *c)
{
	const struct cnode *set = map_get(c->w->root, "set");
	struct ueip_config *cfg = &c->w->cfg;
	int rc;

	if (c->w->key_file[0] && (rc = key_file_load(c, map_get(set, "key_file"))))
		return rc;
	for (unsigned i = 0; i < cfg->nmembers; i++)
		if (strcmp(cfg->members[i].id, cfg->member) == 0)
			return 0;
	return fail(c, map_get(set, "member"), "%s is not in set.members", cfg->member);
}

/* v6 pools: the delegated length against the prefix, and the size it gives. */
static int
pool_size(struct ctx *c, struct ueip_pool_def *d, const struct cnode *e)
{
	const struct cnode *dl = map_get(e, "delegated_length");
	const struct cnode *where = dl ? dl : map_get(e, "ipv6");

	if (d->base.family == UEIP_AF_INET) {
		if (dl)
			return fail(c, dl, "only for ipv6 pools");
		d->unit_len = 32;
		return 0;
	}
	if (d->unit_len <= d->parent_len)
		return fail(c, where, "delegated length /%u must be longer than the prefix /%u",
			    d->unit_len, d->parent_len);
	if (d->unit_len - d->parent_len > 32)
		return fail(c, where, "/%u in /%u gives more than 2^32 prefixes", d->unit_len,
			    d->parent_len);
	d->size = 1ULL << (d->unit_len - d->parent_len);
	return 0;
}

static int
pools_overlap(const struct ueip_pool_def *a, const struct ueip_pool_def *b)
{
	if (a->base.family != b->base.family)
		return 0;
	if (a->base.family == UEIP_AF_INET) {
		uint64_t a0 = ueip_addr_v4(&a->base), b0 = ueip_addr_v4(&b->base);
		return a0 < b0 + b->size && b0 < a0 + a->size;
	}
	return bits_equal(&a->base, &b->base,
			  a->parent_len < b->parent_len ? a->parent_len : b->parent_len);
}

static const struct cnode *
pool_net_node(const struct cnode *e)
{
	const struct cnode *v = map_get(e, "ipv4");

	return v ? v : map_get(e, "ipv6");
}

static int
pools_finish(struct ctx *c)
{
	struct ueip_config *cfg = &c->w->cfg;
	int rc;

	for (unsigned i = 0; i < cfg->npools; i++) {
		struct ueip_pool_def *d = &cfg->pools[i];
		const struct cnode *net = pool_net_node(c->w->pool_nodes[i]);
		d->chunk_size = cfg->chunk_size;
		if ((rc = pool_size(c, d, c->w->pool_nodes[i])))
			return rc;
		for (unsigned j = 0; j < i; j++)
			if (pools_overlap(d, &cfg->pools[j]))
				return fail(c, net, "overlaps pools[%u] (%s, line %u)", j,
					    cfg->pools[j].name,
					    pool_net_node(c->w->pool_nodes[j])->line);
	}
	return 0;
}

/* 1: s is in pool d; -1: in d's prefix, but not a delegated prefix of d; 0: not. */
static int
static_in_pool(const struct ueip_config_static *s, const struct ueip_pool_def *d)
{
	uint64_t off;

	if (d->base.family != s->address.family || strcmp(d->dnn, s->dnn) != 0)
		return 0;
	if (d->base.family == UEIP_AF_INET)
		return ueip_addr_offset(&d->base, 32, &s->address, &off) == 0 && off < d->size;
	if (s->prefix_len < d->parent_len || !bits_equal(&d->base, &s->address, d->parent_len))
		return 0;
	return s->prefix_len == d->unit_len ? 1 : -1;
}

static int
static_place(struct ctx *c, const struct ueip_config_static *s, const struct cnode *e)
{
	const struct ueip_config *cfg = &c->w->cfg;
	const struct cnode *an = map_get(e, "address");
	int near = -1;

	for (unsigned p = 0; p < cfg->npools; p++) {
		int in = static_in_pool(s, &cfg->pools[p]);
		if (in == 1)
			return 0;
		if (in == -1)
			near = (int)p;
	}
	if (near >= 0)
		return fail(c, an, "prefix length must be /%u, the delegated length of pool %s",
			    cfg->pools[near].unit_len, cfg->pools[near].name);
	return fail(c, an, "outside every pool of dnn %s", s->dnn);
}

static int
statics_finish(struct ctx *c)
{
	const struct ueip_config *cfg = &c->w->cfg;
	int rc;

	for (unsigned i = 0; i < cfg->nstatics; i++) {
		const struct ueip_config_static *s = &cfg->statics[i];
		const struct cnode *e = c->w->static_nodes[i];
		for (unsigned j = 0; j < i; j++) {
			const struct ueip_config_static *o = &cfg->statics[j];
			if (o->address.family == s->address.family &&
			    strcmp(o->supi, s->supi) == 0 && strcmp(o->dnn, s->dnn) == 0)
				return fail(c, map_get(e, "supi"),
					    "second IPv%u static for this supi and dnn (first: "
					    "static[%u], line %u)", s->address.family, j,
					    c->w->static_nodes[j]->line);
		}
		if ((rc = static_place(c, s, e)))
			return rc;
	}
	return 0;
}

/* public: pools inside no UE pool and apart, shared pool named, bounds in order. */
static int
public_finish(struct ctx *c)
{
	struct ueip_config *cfg = &c->w->cfg;
	const struct cnode *pub = map_get(c->w->root, "public");
	const struct cnode *n;

	for (unsigned i = 0; i < cfg->npublic_pools; i++) {
		const struct ueip_pool_def *d = &cfg->public_pools[i].def;
		const struct cnode *at = map_get(c->w->public_pool_nodes[i], "ipv4");
		for (unsigned j = 0; j < cfg->npools; j++)
			if (pools_overlap(d, &cfg->pools[j]))
				return fail(c, at, "overlaps pools[%u] (%s)", j, cfg->pools[j].name);
		for (unsigned j = 0; j < i; j++)
			if (pools_overlap(d, &cfg->public_pools[j].def))
				return fail(c, at, "overlaps public.pools[%u] (%s)", j,
					    cfg->public_pools[j].name);
	}
	if (cfg->shared_pool[0]) {
		unsigned i = 0;
		while (i < cfg->npublic_pools && strcmp(cfg->public_pools[i].name, cfg->shared_pool))
			i++;
		n = map_get(map_get(pub, "shared"), "pool");
		if (i == cfg->npublic_pools)
			return fail(c, n, "%s is not in public.pools", cfg->shared_pool);
		if (cfg->shared_port_min > cfg->shared_port_max)
			return fail(c, map_get(map_get(pub, "shared"), "port_min"), "is above port_max");
	}
	n = map_get(pub, "lifetime");
	if (cfg->lifetime_min > cfg->lifetime_max)
		return fail(c, n ? n : pub, "min is above max");
	if (cfg->lifetime_default < cfg->lifetime_min || cfg->lifetime_default > cfg->lifetime_max)
		return fail(c, n ? n : pub, "default is outside min..max");
	return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

static int
config_parse(const char *name, const char *basedir, const char *data, size_t len,
	     struct ueip_config *cfg, char *why, size_t why_size)
{
	struct ctx c = { .name = name ? name : "(config)", .basedir = basedir,
			 .why = why, .why_size = why_size };
	struct cnode *root = NULL;
	int rc;

	if (why && why_size)
		why[0] = '\0';
	if (!cfg)
		return UEIP_EINVAL;
	if (strlen(c.name) >= UEIP_PATH_MAX)
		return fail_raw(&c, 1, "(file)", "file name longer than %d bytes",
				UEIP_PATH_MAX - 1);
	if (len > CONFIG_SIZE_MAX)
		return fail_raw(&c, 1, "(file)", "larger than %u bytes", CONFIG_SIZE_MAX);
	if (!data && len)
		return UEIP_EINVAL;
	if (!(c.w = calloc(1, sizeof(*c.w))))
		return fail_nomem(&c);
	rc = tree_build(&c, data ? data : "", len, &root);
	if (!rc && (!root || root->kind != CN_MAP))
		rc = fail_raw(&c, root ? root->line : 1, "(top)", "expected a mapping of settings");
	c.w->root = root;
	if (!rc)
		rc = apply_map(&c, top_items, root, (char *)c.w);
	if (!rc)
		rc = set_finish(&c);
	if (!rc)
		rc = pools_finish(&c);
	if (!rc)
		rc = statics_finish(&c);
	if (!rc)
		rc = public_finish(&c);
	if (!rc) {
		snprintf(c.w->cfg.file, sizeof(c.w->cfg.file), "%s", c.name);
		memcpy(cfg, &c.w->cfg, sizeof(*cfg));
	}
	tree_free(&c);
	explicit_bzero(c.w->cfg.key, sizeof(c.w->cfg.key));
	free(c.w);
	return rc;
}

int
ueip_config_parse(const char *name, const char *data, size_t len, struct ueip_config *cfg,
		  char *why, size_t why_size)
{
	return config_parse(name, NULL, data, len, cfg, why, why_size);
}

/* Read at most cap bytes of path into a new buffer; -errno or UEIP_ETOOBIG. */
static int
read_config_file(const char *path, char **out, size_t *len)
{
	size_t cap = CONFIG_SIZE_MAX + 1, used = 0;
	char *buf;
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (!(buf = malloc(cap))) {
		close(fd);
		return UEIP_ENOMEM;
	}
	while (!err && used < cap) {
		got = read(fd, buf + used, cap - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			err = -errno;
		else if (got == 0)
			break;
		else
			used += (size_t)got;
	}
	close(fd);
	if (!err && used > CONFIG_SIZE_MAX)
		err = UEIP_ETOOBIG;
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = used;
	return 0;
}

int
ueip_config_load(const char *path, struct ueip_config *cfg, char *why, size_t why_size)
{
	char dir[UEIP_PATH_MAX];
	const char *slash;
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (!path || !cfg)
		return UEIP_EINVAL;
	if (strlen(path) >= UEIP_PATH_MAX)
		return config_parse(path, NULL, NULL, 0, cfg, why, why_size);
	rc = read_config_file(path, &data, &len);
	if (rc == UEIP_ETOOBIG)
		rc = config_parse(path, NULL, NULL, CONFIG_SIZE_MAX + 1, cfg, why, why_size);
	if (rc) {
		if (rc != UEIP_ECONFIG && why && why_size)
			snprintf(why, why_size, "%s: %s", path, ueip_strerror(rc));
		return rc;
	}
	slash = strrchr(path, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	rc = config_parse(path, slash ? dir : NULL, data, len, cfg, why, why_size);
	free(data);
	return rc;
}

/* ---- reload ------------------------------------------------------------------------- */

static int items_equal(const struct item *items, const char *a, const char *b);

static int
leaf_equal(const struct item *it, const char *a, const char *b)
{
	const struct ueip_pool_def *pa, *pb;
	size_t la, lb;

	switch (it->type) {
	case T_STR:
	case T_ENUM:
		return strncmp(a + it->off, b + it->off, it->size) == 0;
	case T_HEX:
		memcpy(&la, a + it->aux_off, sizeof(la));
		memcpy(&lb, b + it->aux_off, sizeof(lb));
		return la == lb && la <= it->size && memcmp(a + it->off, b + it->off, la) == 0;
	case T_V4POOL:
	case T_V6POOL:
		pa = (const struct ueip_pool_def *)(a + it->off);
		pb = (const struct ueip_pool_def *)(b + it->off);
		return ueip_addr_equal(&pa->base, &pb->base) && pa->parent_len == pb->parent_len &&
		       pa->size == pb->size;
	case T_ADDR:
		return memcmp(a + it->off, b + it->off, sizeof(struct ueip_addr)) == 0 &&
		       a[it->aux_off] == b[it->aux_off];
	case T_MAP:
		return items_equal(it->sub, a, b);
	case T_LIST: {
		unsigned na, nb;
		memcpy(&na, a + it->count_off, sizeof(na));
		memcpy(&nb, b + it->count_off, sizeof(nb));
		if (na != nb || na > it->max)
			return 0;
		for (unsigned i = 0; i < na; i++)
			if (!items_equal(it->sub, a + it->off + i * it->elem_size,
					 b + it->off + i * it->elem_size))
				return 0;
		return 1;
	}
	default:
		return memcmp(a + it->off, b + it->off, it->size) == 0;
	}
}

static int
items_equal(const struct item *items, const char *a, const char *b)
{
	for (const struct item *it = items; it->name; it++)
		if (!leaf_equal(it, a, b))
			return 0;
	return 1;
}

/* First item without F_RELOAD that differs; its key path goes to path. */
static int
reload_walk(const struct item *items, const char *a, const char *b, char *path, size_t size)
{
	size_t mark = strlen(path);

	for (const struct item *it = items; it->name; it++) {
		if (mark)
			append_clean(path, size, ".", 1);
		append_clean(path, size, it->name, 32);
		if (it->type == T_MAP ? reload_walk(it->sub, a, b, path, size) :
		    !(it->flags & F_RELOAD) && !leaf_equal(it, a, b))
			return 1;
		path[mark] = '\0';
	}
	return 0;
}

int
ueip_config_reload_check(const struct ueip_config *old, const struct ueip_config *next,
			 char *why, size_t why_size)
{
	char path[PATH_TEXT_MAX] = "";

	if (!old || !next)
		return UEIP_EINVAL;
	if (!reload_walk(top_items, (const char *)old, (const char *)next, path, sizeof(path))) {
		/* public.pools: a reload may take pools out of service, not add or change one */
		for (unsigned i = 0; i < next->npublic_pools; i++) {
			const struct ueip_config_public_pool *p = &next->public_pools[i];
			unsigned j = 0;
			while (j < old->npublic_pools &&
			       (strcmp(old->public_pools[j].name, p->name) ||
				!ueip_addr_equal(&old->public_pools[j].def.base, &p->def.base) ||
				old->public_pools[j].def.size != p->def.size))
				j++;
			if (j == old->npublic_pools) {
				if (why && why_size)
					snprintf(why, why_size, "%s: public.pools[%u] (%s): adding or "
						 "changing a public pool needs a restart (removing one "
						 "does not)", next->file, i, p->name);
				return UEIP_ECONFIG;
			}
		}
		return 0;
	}
	if (why && why_size)
		snprintf(why, why_size, "%s: %s: cannot change on reload (restart ueipd)",
			 next->file, path);
	return UEIP_ECONFIG;
}
