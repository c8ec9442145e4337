// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the ueipd configuration parser: any bytes must give
 * 0 or UEIP_ECONFIG with a message, never a crash, a leak or a hang. Paths
 * are only read for set.key_file, relative to the cwd; a failed read is an
 * ordinary config error. Every accepted config is also checked for reload
 * against the previous accepted one, to cover the schema comparison.
 *
 * Seeds: tests/fuzz/corpus/config/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ueip_config cfg, prev;	/* large: keep them off the stack */
static int have_prev;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	int rc;

	rc = ueip_config_parse("fuzz.yaml", (const char *)data, size, &cfg, why, sizeof(why));
	if (rc != 0 && rc != UEIP_ECONFIG && rc != UEIP_ENOMEM)
		__builtin_trap();	/* only these codes are documented */
	if (rc == UEIP_ECONFIG && strncmp(why, "fuzz.yaml:", 10) != 0)
		__builtin_trap();	/* every error names the file */
	if (rc == 0) {
		if (have_prev)
			(void)ueip_config_reload_check(&prev, &cfg, why, sizeof(why));
		memcpy(&prev, &cfg, sizeof(prev));
		have_prev = 1;
	}
	return 0;
}
