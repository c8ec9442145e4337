// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/ctlmsg.h"

int
ueip_ctl_parse(const char *data, size_t len, struct ueip_ctl_req *req, char *why, size_t why_size)
{
	json_error_t jerr;
	json_t *root, *cmd, *args;

	memset(req, 0, sizeof(*req));
	if (len > UEIP_CTL_MAX) {
		snprintf(why, why_size, "request of %zu bytes exceeds %d", len, UEIP_CTL_MAX);
		return UEIP_ETOOBIG;
	}
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(why, why_size, "invalid JSON at line %d column %d: %s",
			 jerr.line, jerr.column, jerr.text);
		return UEIP_EMALFORMED;
	}
	cmd = json_object_get(root, "command");
	args = json_object_get(root, "arguments");
	if (!json_is_object(root) || !json_is_string(cmd) ||
	    json_string_length(cmd) == 0 || json_string_length(cmd) >= UEIP_CTL_CMD_MAX ||
	    strlen(json_string_value(cmd)) != json_string_length(cmd)) {
		snprintf(why, why_size, "request must be an object with a string 'command'");
		json_decref(root);
		return UEIP_EMALFORMED;
	}
	if (args && !json_is_object(args)) {
		snprintf(why, why_size, "'arguments' must be an object");
		json_decref(root);
		return UEIP_EMALFORMED;
	}
	snprintf(req->command, sizeof(req->command), "%s", json_string_value(cmd));
	req->args = args ? json_incref(args) : json_object();
	json_decref(root);
	return req->args ? 0 : UEIP_ENOMEM;
}

void
ueip_ctl_req_deinit(struct ueip_ctl_req *req)
{
	json_decref(req->args);
	req->args = NULL;
}

int
ueip_ctl_get_str(json_t *args, const char *name, int required, size_t max,
		 char *out, char *why, size_t why_size)
{
	json_t *v = json_object_get(args, name);
	size_t n;

	out[0] = '\0';
	if (!v) {
		if (!required)
			return UEIP_ENOTFOUND;
		snprintf(why, why_size, "missing argument '%s'", name);
		return UEIP_EINVAL;
	}
	if (!json_is_string(v)) {
		snprintf(why, why_size, "argument '%s' must be a string", name);
		return UEIP_EINVAL;
	}
	n = json_string_length(v);
	if (n >= max || strlen(json_string_value(v)) != n) {
		snprintf(why, why_size, "argument '%s' is longer than %zu or holds NUL", name, max - 1);
		return UEIP_EINVAL;
	}
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

int
ueip_ctl_get_uint(json_t *args, const char *name, int required, uint64_t min, uint64_t max,
		  uint64_t *out, char *why, size_t why_size)
{
	json_t *v = json_object_get(args, name);
	json_int_t i;

	if (!v) {
		if (!required)
			return UEIP_ENOTFOUND;
		snprintf(why, why_size, "missing argument '%s'", name);
		return UEIP_EINVAL;
	}
	if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 ||
	    (uint64_t)i < min || (uint64_t)i > max) {
		snprintf(why, why_size, "argument '%s' must be an integer in %llu..%llu", name,
			 (unsigned long long)min, (unsigned long long)max);
		return UEIP_EINVAL;
	}
	*out = (uint64_t)i;
	return 0;
}

char *
ueip_ctl_line(const json_t *root)
{
	char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER), *line;
	size_t n;

	if (!out)
		return NULL;
	n = strlen(out);
	line = realloc(out, n + 2);
	if (!line) {
		free(out);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

char *
ueip_ctl_answer(enum ueip_ctl_result result, const char *text, json_t *arguments)
{
	json_t *root = json_object();
	char *line;

	if (!root) {
		json_decref(arguments);
		return NULL;
	}
	json_object_set_new(root, "result", json_integer(result));
	json_object_set_new(root, "text", json_string(text ? text : ""));
	if (arguments)
		json_object_set_new(root, "arguments", arguments);
	line = ueip_ctl_line(root);
	json_decref(root);
	return line;
}

enum ueip_ctl_result
ueip_ctl_result_of(int err)
{
	switch (err) {
	case 0:
		return UEIP_CTL_SUCCESS;
	case UEIP_ENOTFOUND:
		return UEIP_CTL_EMPTY;
	case UEIP_EINUSE:
	case UEIP_ECONFLICT:
	case UEIP_EBUSY:
	case UEIP_ERECOVERING:
	case UEIP_ESTATICOTHER:
	case UEIP_ECONTROLLER:
		return UEIP_CTL_CONFLICT;
	default:
		return UEIP_CTL_ERROR;
	}
}
