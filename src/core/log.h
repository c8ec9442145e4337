/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: logging
 *
 * ueip_log_<level>(group, fmt, ...) formats a line and hands it to a sink.
 * core does no I/O, so the sink (which stamps the time and writes) is set by
 * the program; the default sink writes to stderr. Groups (ipam, set, ctl,
 * store, config) can be raised to debug at run time with ueip_log_set_group.
 * Every line should name its object: member, session key, pool, peer.
 */
#ifndef UEIP_CORE_LOG_H
#define UEIP_CORE_LOG_H

enum ueip_log_level { UEIP_LOG_ERR, UEIP_LOG_WARN, UEIP_LOG_INFO, UEIP_LOG_DEBUG };

typedef void ueip_log_sink_fn(enum ueip_log_level level, const char *group,
			      const char *line, void *arg);

void ueip_log_set_sink(ueip_log_sink_fn *sink, void *arg);
void ueip_log_set_level(enum ueip_log_level level);
/* Set one group's level ("*" for all); returns 0 or UEIP_EINVAL. */
int ueip_log_set_group(const char *group, enum ueip_log_level level);
int ueip_log_level_parse(const char *text, enum ueip_log_level *out);
int ueip_log_enabled(enum ueip_log_level level, const char *group);

void ueip_log(enum ueip_log_level level, const char *group, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define ueip_log_err(g, ...)   ueip_log(UEIP_LOG_ERR, g, __VA_ARGS__)
#define ueip_log_warn(g, ...)  ueip_log(UEIP_LOG_WARN, g, __VA_ARGS__)
#define ueip_log_info(g, ...)  ueip_log(UEIP_LOG_INFO, g, __VA_ARGS__)
#define ueip_log_debug(g, ...) \
	(ueip_log_enabled(UEIP_LOG_DEBUG, g) ? ueip_log(UEIP_LOG_DEBUG, g, __VA_ARGS__) : (void)0)

#endif
