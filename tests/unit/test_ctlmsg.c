// SPDX-License-Identifier: Apache-2.0
/*
 * proto/ctlmsg: the control socket accepts exactly {"command": ..,
 * "arguments": {..}} and says why anything else was refused; getters name
 * the argument at fault; an answer is one JSON line a client can read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "proto/ctlmsg.h"

static int
parse(const char *text, struct ueip_ctl_req *req, char *why, size_t why_size)
{
	why[0] = '\0';
	return ueip_ctl_parse(text, strlen(text), req, why, why_size);
}

static void
test_parse_good(void **state)
{
	struct ueip_ctl_req req;
	char why[256];

	(void)state;
	assert_int_equal(parse("{\"command\": \"lease-get\", \"arguments\": {\"supi\": "
			       "\"imsi-001010000000001\", \"psi\": 5}}", &req, why, sizeof(why)), 0);
	assert_string_equal(req.command, "lease-get");
	assert_non_null(req.args);
	assert_true(json_is_object(req.args));
	assert_string_equal(json_string_value(json_object_get(req.args, "supi")),
			    "imsi-001010000000001");
	assert_int_equal(json_integer_value(json_object_get(req.args, "psi")), 5);
	ueip_ctl_req_deinit(&req);
	assert_null(req.args);
	ueip_ctl_req_deinit(&req);	/* twice is harmless */

	/* Without arguments: an empty object, never NULL. */
	assert_int_equal(parse(" {\"command\":\"status\"}\n", &req, why, sizeof(why)), 0);
	assert_string_equal(req.command, "status");
	assert_true(json_is_object(req.args));
	assert_int_equal(json_object_size(req.args), 0);
	ueip_ctl_req_deinit(&req);

	/* Not NUL-terminated: only len bytes count. */
	{
		const char text[] = "{\"command\":\"status\"}garbage";
		assert_int_equal(ueip_ctl_parse(text, 20, &req, why, sizeof(why)), 0);
		assert_string_equal(req.command, "status");
		ueip_ctl_req_deinit(&req);
	}

	/* A command of 31 bytes fits. */
	assert_int_equal(parse("{\"command\":\"abcdefghijabcdefghijabcdefghij1\"}", &req, why,
			       sizeof(why)), 0);
	assert_int_equal(strlen(req.command), UEIP_CTL_CMD_MAX - 1);
	ueip_ctl_req_deinit(&req);
}

static void
expect_malformed(const char *text, const char *why_has)
{
	struct ueip_ctl_req req;
	char why[256];
	int rc = parse(text, &req, why, sizeof(why));

	if (rc != UEIP_EMALFORMED)
		fail_msg("%s: got %d (%s), want UEIP_EMALFORMED", text, rc, why);
	assert_null(req.args);
	if (!strstr(why, why_has))
		fail_msg("%s: why '%s' does not mention '%s'", text, why, why_has);
	ueip_ctl_req_deinit(&req);	/* safe after a failure */
}

static void
test_parse_bad_shape(void **state)
{
	(void)state;
	expect_malformed("{}", "command");
	expect_malformed("{\"arguments\": {}}", "command");
	expect_malformed("{\"command\": 5}", "command");
	expect_malformed("{\"command\": \"\"}", "command");
	expect_malformed("{\"command\": null}", "command");
	expect_malformed("{\"command\": \"abcdefghijabcdefghijabcdefghij12\"}", "command");
	expect_malformed("{\"command\": \"a\\u0000b\"}", "line");	/* NUL never gets in */
	expect_malformed("[\"command\", \"status\"]", "command");
	expect_malformed("\"status\"", "expected");	/* not even a document */
	expect_malformed("{\"command\": \"status\", \"arguments\": [1, 2]}", "arguments");
	expect_malformed("{\"command\": \"status\", \"arguments\": \"x\"}", "arguments");
	expect_malformed("{\"command\": \"status\", \"arguments\": null}", "arguments");
	expect_malformed("{\"command\": \"status\", \"arguments\": 3}", "arguments");
}

static void
test_parse_invalid_json(void **state)
{
	struct ueip_ctl_req req;
	char why[256];

	(void)state;
	/* The error is on line 2: the client is told where. */
	assert_int_equal(parse("{\"command\": \"status\",\n  \"arguments\": {,}}", &req, why,
			       sizeof(why)), UEIP_EMALFORMED);
	assert_non_null(strstr(why, "line 2"));
	assert_non_null(strstr(why, "column"));
	assert_null(req.args);

	expect_malformed("", "line");
	expect_malformed("{\"command\": \"status\"", "line");
	expect_malformed("{\"command\": \"status\"} {}", "line");	/* two documents */
	expect_malformed("{'command': 'status'}", "line");
	/* Duplicate keys are ambiguous: refused. */
	expect_malformed("{\"command\": \"status\", \"command\": \"shutdown\"}", "line");
	expect_malformed("{\"command\": \"x\", \"arguments\": {\"a\": 1, \"a\": 2}}", "line");

	/* A tiny why buffer is still NUL-terminated. */
	memset(why, 'x', sizeof(why));
	assert_int_equal(ueip_ctl_parse("{", 1, &req, why, 8), UEIP_EMALFORMED);
	assert_true(strlen(why) < 8);
}

static void
test_parse_size_limit(void **state)
{
	struct ueip_ctl_req req;
	char why[256];
	const char *head = "{\"command\":\"status\"}";
	char *big = malloc(UEIP_CTL_MAX + 2);

	(void)state;
	assert_non_null(big);
	/* Exactly UEIP_CTL_MAX bytes (padded with spaces) is accepted. */
	memset(big, ' ', UEIP_CTL_MAX + 1);
	memcpy(big, head, strlen(head));
	big[UEIP_CTL_MAX + 1] = '\0';
	assert_int_equal(ueip_ctl_parse(big, UEIP_CTL_MAX, &req, why, sizeof(why)), 0);
	assert_string_equal(req.command, "status");
	ueip_ctl_req_deinit(&req);
	/* One more is refused before parsing. */
	assert_int_equal(ueip_ctl_parse(big, UEIP_CTL_MAX + 1, &req, why, sizeof(why)),
			 UEIP_ETOOBIG);
	assert_null(req.args);
	assert_non_null(strstr(why, "exceeds"));
	free(big);
}

static json_t *
args_of(const char *json)
{
	json_error_t err;
	json_t *j = json_loads(json, JSON_ALLOW_NUL, &err);

	assert_non_null(j);
	return j;
}

static void
test_get_str(void **state)
{
	json_t *a = args_of("{\"dnn\": \"internet\", \"n\": 5, \"z\": \"a\\u0000b\", "
			    "\"seven\": \"1234567\", \"eight\": \"12345678\", \"nul\": null}");
	char out[16], why[128];

	(void)state;
	assert_int_equal(ueip_ctl_get_str(a, "dnn", 1, sizeof(out), out, why, sizeof(why)), 0);
	assert_string_equal(out, "internet");

	/* Missing: required is an error naming it, optional is ENOTFOUND. */
	why[0] = '\0';
	assert_int_equal(ueip_ctl_get_str(a, "supi", 1, sizeof(out), out, why, sizeof(why)),
			 UEIP_EINVAL);
	assert_non_null(strstr(why, "supi"));
	assert_string_equal(out, "");
	assert_int_equal(ueip_ctl_get_str(a, "supi", 0, sizeof(out), out, why, sizeof(why)),
			 UEIP_ENOTFOUND);

	/* Wrong type (even when optional). */
	why[0] = '\0';
	assert_int_equal(ueip_ctl_get_str(a, "n", 0, sizeof(out), out, why, sizeof(why)),
			 UEIP_EINVAL);
	assert_non_null(strstr(why, "'n'"));
	assert_int_equal(ueip_ctl_get_str(a, "nul", 0, sizeof(out), out, why, sizeof(why)),
			 UEIP_EINVAL);

	/* Length: max counts the NUL. */
	assert_int_equal(ueip_ctl_get_str(a, "seven", 1, 8, out, why, sizeof(why)), 0);
	assert_string_equal(out, "1234567");
	why[0] = '\0';
	assert_int_equal(ueip_ctl_get_str(a, "eight", 1, 8, out, why, sizeof(why)), UEIP_EINVAL);
	assert_non_null(strstr(why, "eight"));
	assert_string_equal(out, "");
	/* An embedded NUL would truncate silently: refused. */
	assert_int_equal(ueip_ctl_get_str(a, "z", 1, sizeof(out), out, why, sizeof(why)),
			 UEIP_EINVAL);
	json_decref(a);
}

static void
test_get_uint(void **state)
{
	json_t *a = args_of("{\"psi\": 5, \"neg\": -1, \"str\": \"5\", \"real\": 5.0, "
			    "\"bool\": true, \"zero\": 0, \"big\": 9223372036854775807}");
	uint64_t v = 77;
	char why[128];

	(void)state;
	assert_int_equal(ueip_ctl_get_uint(a, "psi", 1, 1, 15, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 5);

	v = 77;
	why[0] = '\0';
	assert_int_equal(ueip_ctl_get_uint(a, "limit", 1, 0, 10, &v, why, sizeof(why)),
			 UEIP_EINVAL);
	assert_non_null(strstr(why, "limit"));
	assert_int_equal(ueip_ctl_get_uint(a, "limit", 0, 0, 10, &v, why, sizeof(why)),
			 UEIP_ENOTFOUND);
	assert_int_equal(v, 77);	/* untouched on failure */

	static const char *const wrong[] = { "neg", "str", "real", "bool" };
	for (size_t i = 0; i < sizeof(wrong) / sizeof(*wrong); i++) {
		why[0] = '\0';
		assert_int_equal(ueip_ctl_get_uint(a, wrong[i], 0, 0, UINT64_MAX, &v, why,
						   sizeof(why)), UEIP_EINVAL);
		assert_non_null(strstr(why, wrong[i]));
		assert_int_equal(v, 77);
	}

	/* Range is inclusive at both ends. */
	assert_int_equal(ueip_ctl_get_uint(a, "psi", 1, 5, 5, &v, why, sizeof(why)), 0);
	assert_int_equal(ueip_ctl_get_uint(a, "psi", 1, 6, 15, &v, why, sizeof(why)), UEIP_EINVAL);
	assert_non_null(strstr(why, "6..15"));
	assert_int_equal(ueip_ctl_get_uint(a, "psi", 1, 0, 4, &v, why, sizeof(why)), UEIP_EINVAL);
	assert_int_equal(ueip_ctl_get_uint(a, "zero", 1, 1, 15, &v, why, sizeof(why)), UEIP_EINVAL);
	assert_int_equal(ueip_ctl_get_uint(a, "zero", 1, 0, 15, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ueip_ctl_get_uint(a, "big", 1, 0, UINT64_MAX, &v, why, sizeof(why)), 0);
	assert_int_equal(v, 9223372036854775807ULL);
	json_decref(a);
}

static void
test_answer(void **state)
{
	json_t *args = json_pack("{s:s, s:i}", "address", "10.0.0.1", "psi", 5);
	char *line;
	json_t *back;
	json_error_t err;
	size_t n;

	(void)state;
	assert_non_null(args);
	/* Text with a newline and quotes must not break the line. */
	line = ueip_ctl_answer(UEIP_CTL_SUCCESS, "ok \"done\"\nnext", args);
	assert_non_null(line);
	n = strlen(line);
	assert_true(n > 1);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1));	/* one line */
	back = json_loads(line, 0, &err);
	assert_non_null(back);
	assert_int_equal(json_integer_value(json_object_get(back, "result")), UEIP_CTL_SUCCESS);
	assert_string_equal(json_string_value(json_object_get(back, "text")), "ok \"done\"\nnext");
	assert_string_equal(json_string_value(json_object_get(json_object_get(back, "arguments"),
							      "address")), "10.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(back, "arguments"),
							    "psi")), 5);
	json_decref(back);
	free(line);

	/* No arguments, no text. */
	line = ueip_ctl_answer(UEIP_CTL_EMPTY, NULL, NULL);
	assert_non_null(line);
	n = strlen(line);
	assert_int_equal(line[n - 1], '\n');
	back = json_loads(line, 0, &err);
	assert_non_null(back);
	assert_int_equal(json_integer_value(json_object_get(back, "result")), UEIP_CTL_EMPTY);
	assert_string_equal(json_string_value(json_object_get(back, "text")), "");
	assert_null(json_object_get(back, "arguments"));
	json_decref(back);
	free(line);
}

static void
test_result_of(void **state)
{
	(void)state;
	assert_int_equal(ueip_ctl_result_of(0), UEIP_CTL_SUCCESS);
	assert_int_equal(ueip_ctl_result_of(UEIP_ENOTFOUND), UEIP_CTL_EMPTY);
	assert_int_equal(ueip_ctl_result_of(UEIP_EINUSE), UEIP_CTL_CONFLICT);
	assert_int_equal(ueip_ctl_result_of(UEIP_ECONFLICT), UEIP_CTL_CONFLICT);
	assert_int_equal(ueip_ctl_result_of(UEIP_ECONTROLLER), UEIP_CTL_CONFLICT);
	assert_int_equal(ueip_ctl_result_of(UEIP_EEXHAUSTED), UEIP_CTL_ERROR);
	assert_int_equal(ueip_ctl_result_of(UEIP_EMALFORMED), UEIP_CTL_ERROR);
	assert_int_equal(ueip_ctl_result_of(-5), UEIP_CTL_ERROR);
}

/* ueip_ctl_line writes one line that reads back as the same value, for every kind of value. */
static void
test_line_matches_jansson(void **state)
{
	static const char *const docs[] = {
		"{}", "[]", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
		"{\"s\":\"quote \\\" backslash \\\\ tab \\t nl \\n nul-free \\u0001 \\u001f\"}",
		"{\"u\":\"caf\\u00e9 \\ud83d\\ude00 \\u2028\"}", "[-9223372036854775807,0,42]",
		"[1.5,-0.25,1e+300,3.0]", "{\"z\":1,\"a\":2,\"m\":3}", "[[[[[\"deep\"]]]]]",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *v = json_loads(docs[i], JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		char *ours = ueip_ctl_line(v);
		assert_non_null(ours);
		size_t n = strlen(ours);
		assert_true(n >= 3 && ours[n - 1] == '\n' && !memchr(ours, '\n', n - 1));
		json_t *back = json_loadb(ours, n - 1, JSON_DECODE_ANY, NULL);
		assert_non_null(back);
		assert_true(json_equal(v, back));
		free(ours);
		json_decref(back);
		json_decref(v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad_shape),
		cmocka_unit_test(test_parse_invalid_json),
		cmocka_unit_test(test_parse_size_limit),
		cmocka_unit_test(test_get_str),
		cmocka_unit_test(test_get_uint),
		cmocka_unit_test(test_line_matches_jansson),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_result_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
