// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/session.h"

static int
is_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* SUPI per TS 23.003: "imsi-" + 5..15 digits, or "nai-" + a printable NAI. */
static int
supi_check(const char *supi)
{
	if (strncmp(supi, "imsi-", 5) == 0)
		return is_digits(supi + 5, 5, 15);
	if (strncmp(supi, "nai-", 4) == 0 && supi[4]) {
		for (const char *p = supi + 4; *p; p++)
			if (*p <= ' ' || *p > '~')
				return 0;
		return 1;
	}
	return 0;
}

/* DNN: dot-separated labels of letters, digits and hyphens (TS 23.003 9.1). */
static int
dnn_check(const char *dnn)
{
	size_t label = 0;

	if (!dnn[0])
		return 0;
	for (const char *p = dnn; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-') || ++label > 63)
			return 0;
	}
	return label > 0;
}

int
ueip_snssai_check(const char *snssai)
{
	const char *dash = strchr(snssai, '-');
	size_t n = dash ? (size_t)(dash - snssai) : strlen(snssai);
	unsigned sst = 0;

	if (n == 0 || n > 3)
		return UEIP_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (snssai[i] < '0' || snssai[i] > '9')
			return UEIP_EINVAL;
		sst = sst * 10 + (unsigned)(snssai[i] - '0');
	}
	if (sst > 255)
		return UEIP_EINVAL;
	if (!dash)
		return 0;
	if (strlen(dash + 1) != 6)
		return UEIP_EINVAL;
	for (const char *p = dash + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
			return UEIP_EINVAL;
	return 0;
}

int
ueip_session_key_check(const struct ueip_session_key *key)
{
	if (!memchr(key->supi, 0, sizeof(key->supi)) || !supi_check(key->supi))
		return UEIP_EINVAL;
	if (!memchr(key->dnn, 0, sizeof(key->dnn)) || !dnn_check(key->dnn))
		return UEIP_EINVAL;
	if (!memchr(key->snssai, 0, sizeof(key->snssai)) || ueip_snssai_check(key->snssai))
		return UEIP_EINVAL;
	return key->psi >= 1 && key->psi <= 15 ? 0 : UEIP_EINVAL;
}

int
ueip_ip_type_parse(const char *text, enum ueip_ip_type *out)
{
	if (strcmp(text, "v4") == 0 || strcmp(text, "ipv4") == 0)
		*out = UEIP_IP_V4;
	else if (strcmp(text, "v6") == 0 || strcmp(text, "ipv6") == 0)
		*out = UEIP_IP_V6;
	else if (strcmp(text, "v4v6") == 0 || strcmp(text, "ipv4v6") == 0)
		*out = UEIP_IP_V4V6;
	else
		return UEIP_EINVAL;
	return 0;
}

const char *
ueip_ip_type_name(enum ueip_ip_type type)
{
	return type == UEIP_IP_V4 ? "v4" : type == UEIP_IP_V6 ? "v6" : "v4v6";
}

uint64_t
ueip_session_key_hash(const struct ueip_session_key *key)
{
	uint64_t h = ueip_hash_str(key->supi, strlen(key->supi));

	h = ueip_hash_combine(h, ueip_hash_str(key->dnn, strlen(key->dnn)));
	h = ueip_hash_combine(h, ueip_hash_str(key->snssai, strlen(key->snssai)));
	h = ueip_hash_combine(h, key->psi);
	return h == UEIP_MAP_EMPTY ? 0 : h;
}

int
ueip_session_key_equal(const struct ueip_session_key *a, const struct ueip_session_key *b)
{
	return a->psi == b->psi && strcmp(a->supi, b->supi) == 0 &&
	       strcmp(a->dnn, b->dnn) == 0 && strcmp(a->snssai, b->snssai) == 0;
}

void
ueip_session_key_format(const struct ueip_session_key *key, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/%s/%u", key->supi, key->dnn, key->snssai, key->psi);
}

void
ueip_sessions_init(struct ueip_sessions *t)
{
	ueip_map_init(&t->by_key);
	ueip_map_init(&t->by_unit);
	t->count = 0;
}

static int
free_session(struct ueip_session *s, void *arg)
{
	free(s);
	return 0;
}

void
ueip_sessions_deinit(struct ueip_sessions *t)
{
	ueip_sessions_each(t, free_session, NULL);
	ueip_map_deinit(&t->by_key);
	ueip_map_deinit(&t->by_unit);
	t->count = 0;
}

static struct ueip_session *
chain_head(const struct ueip_sessions *t, uint64_t hash)
{
	uint64_t value;

	return ueip_map_get(&t->by_key, hash, &value) ? (void *)(uintptr_t)value : NULL;
}

struct ueip_session *
ueip_sessions_find(const struct ueip_sessions *t, const struct ueip_session_key *key)
{
	for (struct ueip_session *s = chain_head(t, ueip_session_key_hash(key)); s; s = s->hash_next)
		if (ueip_session_key_equal(&s->key, key))
			return s;
	return NULL;
}

static uint64_t
holding_key(const struct ueip_holding *h)
{
	return ueip_unit_key(h->pool_id, h->index);
}

struct ueip_session *
ueip_sessions_by_unit(const struct ueip_sessions *t, uint64_t unit_key)
{
	uint64_t value;

	return ueip_map_get(&t->by_unit, unit_key, &value) ? (void *)(uintptr_t)value : NULL;
}

static int
unit_taken(const struct ueip_sessions *t, const struct ueip_holding *h)
{
	return h->present && ueip_map_get(&t->by_unit, holding_key(h), NULL);
}

int
ueip_sessions_insert(struct ueip_sessions *t, struct ueip_session *s)
{
	if (ueip_sessions_find(t, &s->key) || unit_taken(t, &s->v4) || unit_taken(t, &s->v6))
		return UEIP_ECONFLICT;
	s->key_hash = ueip_session_key_hash(&s->key);
	s->hash_next = chain_head(t, s->key_hash);
	if (ueip_map_put(&t->by_key, s->key_hash, (uint64_t)(uintptr_t)s))
		return UEIP_ENOMEM;
	if ((s->v4.present && ueip_map_put(&t->by_unit, holding_key(&s->v4), (uintptr_t)s)) ||
	    (s->v6.present && ueip_map_put(&t->by_unit, holding_key(&s->v6), (uintptr_t)s))) {
		ueip_sessions_remove(t, s);
		t->count++;
		return UEIP_ENOMEM;
	}
	t->count++;
	return 0;
}

void
ueip_sessions_remove(struct ueip_sessions *t, struct ueip_session *s)
{
	struct ueip_session *head = chain_head(t, s->key_hash);

	if (head == s) {
		if (s->hash_next)
			ueip_map_put(&t->by_key, s->key_hash, (uint64_t)(uintptr_t)s->hash_next);
		else
			ueip_map_del(&t->by_key, s->key_hash);
	} else {
		for (struct ueip_session *p = head; p; p = p->hash_next) {
			if (p->hash_next == s) {
				p->hash_next = s->hash_next;
				break;
			}
		}
	}
	if (s->v4.present && ueip_sessions_by_unit(t, holding_key(&s->v4)) == s)
		ueip_map_del(&t->by_unit, holding_key(&s->v4));
	if (s->v6.present && ueip_sessions_by_unit(t, holding_key(&s->v6)) == s)
		ueip_map_del(&t->by_unit, holding_key(&s->v6));
	s->hash_next = NULL;
	t->count--;
}

int
ueip_sessions_each(const struct ueip_sessions *t,
		   int (*fn)(struct ueip_session *s, void *arg), void *arg)
{
	uint64_t value;
	size_t pos = 0;

	/* Collect chain heads first: fn may free the session it is given. */
	while (ueip_map_next(&t->by_key, &pos, NULL, &value)) {
		struct ueip_session *s = (void *)(uintptr_t)value;
		while (s) {
			struct ueip_session *next = s->hash_next;
			int rc = fn(s, arg);
			if (rc)
				return rc;
			s = next;
		}
	}
	return 0;
}
