// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

const char *
ueip_strerror(int code)
{
	switch (code) {
#define UEIP_ERR_TEXT(name, value, text) case value: return text;
	UEIP_ERRORS(UEIP_ERR_TEXT)
#undef UEIP_ERR_TEXT
	case 0:
		return "success";
	default:
		if (code < 0 && code > -1000)
			return strerror(-code);
		return "unknown error";
	}
}

const char *
ueip_errname(int code)
{
	switch (code) {
#define UEIP_ERR_NAME(name, value, text) case value: return #name;
	UEIP_ERRORS(UEIP_ERR_NAME)
#undef UEIP_ERR_NAME
	case 0:
		return "OK";
	default:
		return code < 0 && code > -1000 ? "ERRNO" : "UNKNOWN";
	}
}

void
ueip_require_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "ueip: start-up invariant failed: %s (%s:%d)\n", what, file, line);
	abort();
}
