// SPDX-License-Identifier: Apache-2.0
/*
 * DOC: fuzz target — control requests
 *
 * Parses a control request and runs every argument getter the commands use
 * over it, as the control socket does before any command acts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctlmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const strs[] = { "supi", "dnn", "snssai", "ip-type", "address", "to", "from" };
	static const char *const ints[] = { "pdu-session-id", "limit", "epoch", "generation" };
	struct ueip_ctl_req req;
	char why[256], out[128];
	uint64_t v;

	if (ueip_ctl_parse((const char *)data, size, &req, why, sizeof(why)))
		return 0;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		ueip_ctl_get_str(req.args, strs[i], 1, sizeof(out), out, why, sizeof(why));
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		ueip_ctl_get_uint(req.args, ints[i], 0, 1, 15, &v, why, sizeof(why));
	char *answer = ueip_ctl_answer(UEIP_CTL_SUCCESS, req.command, json_incref(req.args));
	free(answer);
	ueip_ctl_req_deinit(&req);
	return 0;
}
