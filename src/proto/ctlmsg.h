/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: control messages (Kea-style JSON)
 *
 * A request is {"command": "<name>", "arguments": {...}}; the answer is
 * {"result": r, "text": "...", "arguments": {...}} with r one of the
 * UEIP_CTL_* results (Kea's: 0 success, 1 error, 2 unsupported, 3 empty,
 * 4 conflict). ueip_ctl_parse() takes at most UEIP_CTL_MAX bytes and rejects
 * anything but that shape; the getters validate one argument each and say
 * which argument was wrong in `why`.
 */
#ifndef UEIP_PROTO_CTLMSG_H
#define UEIP_PROTO_CTLMSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define UEIP_CTL_MAX (64 * 1024)
#define UEIP_CTL_CMD_MAX 32
#define UEIP_CTL_ANSWER_MAX (64u << 20)	/* an answer larger than this is not sent */

enum ueip_ctl_result {
	UEIP_CTL_SUCCESS = 0,
	UEIP_CTL_ERROR = 1,
	UEIP_CTL_UNSUPPORTED = 2,
	UEIP_CTL_EMPTY = 3,
	UEIP_CTL_CONFLICT = 4,
};

struct ueip_ctl_req {
	char command[UEIP_CTL_CMD_MAX];
	json_t *args;		/* owned; an empty object when absent */
};

/* 0, UEIP_ETOOBIG or UEIP_EMALFORMED (why says what, with line/column for JSON errors). */
int ueip_ctl_parse(const char *data, size_t len, struct ueip_ctl_req *req, char *why, size_t why_size);
void ueip_ctl_req_deinit(struct ueip_ctl_req *req);

/* Getters: 0, UEIP_ENOTFOUND when absent and optional, UEIP_EINVAL (why filled). */
int ueip_ctl_get_str(json_t *args, const char *name, int required, size_t max,
		     char *out, char *why, size_t why_size);
int ueip_ctl_get_uint(json_t *args, const char *name, int required, uint64_t min, uint64_t max,
		      uint64_t *out, char *why, size_t why_size);

/* Build an answer; takes ownership of arguments (may be NULL). Returns a malloc'd
 * single-line JSON text terminated by "\n", or NULL on out of memory. */
char *ueip_ctl_answer(enum ueip_ctl_result result, const char *text, json_t *arguments);
/* root as one compact JSON line ending in "\n" (malloc'd), or NULL on out of memory,
 * nesting deeper than 64 or a line over UEIP_CTL_ANSWER_MAX. */
char *ueip_ctl_line(const json_t *root);
/* Map an ueip error code to a control result. */
enum ueip_ctl_result ueip_ctl_result_of(int err);

#endif
