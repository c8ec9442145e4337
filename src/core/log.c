// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"

#define LOG_GROUPS_MAX 16

static struct {
	char name[16];
	enum ueip_log_level level;
} log_groups[LOG_GROUPS_MAX];
static int log_ngroups;
static enum ueip_log_level log_level = UEIP_LOG_INFO;
static ueip_log_sink_fn *log_sink;
static void *log_sink_arg;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
ueip_log_set_sink(ueip_log_sink_fn *sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

void
ueip_log_set_level(enum ueip_log_level level)
{
	log_level = level;
	log_ngroups = 0;
}

int
ueip_log_set_group(const char *group, enum ueip_log_level level)
{
	if (strcmp(group, "*") == 0) {
		ueip_log_set_level(level);
		return 0;
	}
	for (int i = 0; i < log_ngroups; i++) {
		if (strcmp(log_groups[i].name, group) == 0) {
			log_groups[i].level = level;
			return 0;
		}
	}
	if (log_ngroups == LOG_GROUPS_MAX || strlen(group) >= sizeof(log_groups[0].name))
		return UEIP_EINVAL;
	snprintf(log_groups[log_ngroups].name, sizeof(log_groups[0].name), "%s", group);
	log_groups[log_ngroups++].level = level;
	return 0;
}

int
ueip_log_level_parse(const char *text, enum ueip_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(text, level_names[i]) == 0) {
			*out = (enum ueip_log_level)i;
			return 0;
		}
	}
	return UEIP_EINVAL;
}

int
ueip_log_enabled(enum ueip_log_level level, const char *group)
{
	for (int i = 0; i < log_ngroups; i++)
		if (strcmp(log_groups[i].name, group) == 0)
			return level <= log_groups[i].level;
	return level <= log_level;
}

void
ueip_log(enum ueip_log_level level, const char *group, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!ueip_log_enabled(level, group))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_sink)
		log_sink(level, group, line, log_sink_arg);
	else
		fprintf(stderr, "%s [%s] %s\n", level_names[level], group, line);
}
