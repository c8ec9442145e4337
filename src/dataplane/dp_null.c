// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: the null data path
 *
 * Programs nothing. The generic part (dp.c) already records every mapping,
 * so ueip_dp_each() and the stats show what would be installed; this
 * backend only counts the changes it was handed and logs them at debug
 * level (group "dp"). Never fails: control-plane-only deployments and
 * tests without root run on it.
 */
#include <stdlib.h>

#include "core/err.h"
#include "core/log.h"
#include "dataplane/dp.h"

struct null_state {
	uint64_t adds, dels, applies;
};

static int
null_open(const struct ueip_dp_config *cfg, void **state, char *why, size_t why_size)
{
	struct null_state *s = calloc(1, sizeof(*s));

	if (!s)
		return UEIP_ENOMEM;
	*state = s;
	ueip_log_info("dp", "null data path: mappings are recorded, not programmed (table %s)",
		      cfg->table);
	return 0;
}

static void
null_close(void *state, int cleanup)
{
	struct null_state *s = state;

	if (s)
		ueip_log_debug("dp", "null data path closed after %llu commits (+%llu -%llu)",
			       (unsigned long long)s->applies, (unsigned long long)s->adds,
			       (unsigned long long)s->dels);
	free(s);
}

static int
null_apply(void *state, const struct ueip_dp_mapping *m, const uint8_t *add, size_t n, char *why,
	   size_t why_size)
{
	struct null_state *s = state;
	size_t adds = 0;

	for (size_t i = 0; i < n; i++) {
		adds += add[i] != 0;
		if (ueip_log_enabled(UEIP_LOG_DEBUG, "dp"))
			ueip_log_debug("dp", "null: %s kind %u proto %u %08x:%u <-> %08x:%u remote "
				       "%08x:%u filters %u", add[i] ? "add" : "del", m[i].kind,
				       m[i].proto, m[i].internal, m[i].internal_port, m[i].external,
				       m[i].external_port, m[i].remote, m[i].remote_port,
				       m[i].nfilters);
	}
	s->adds += adds;
	s->dels += n - adds;
	s->applies++;
	return 0;
}

const struct ueip_dp_ops ueip_dp_null_ops = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.apply = null_apply,
};
