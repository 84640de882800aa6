/*
 * log.h — one JSON object per line on stderr.
 *
 * Every line has "timestamp" (UTC, milliseconds), "level" and "tag"; callers
 * add fields as a jansson object.  Never put a token, secret, signature or
 * patient note into a log line.
 */
#ifndef REFLEXO_LOG_H
#define REFLEXO_LOG_H

#include <jansson.h>
#include <stdbool.h>

typedef enum LogLevel
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
} LogLevel;

extern void log_set_level(LogLevel level);
extern bool log_parse_level(const char *name, LogLevel *level);
extern bool log_enabled(LogLevel level);

/* Writes one line; takes ownership of fields (may be NULL). */
extern void log_json(LogLevel level, const char *tag, const char *message, json_t *fields);

#define log_info(tag, message, fields) log_json(LOG_INFO, (tag), (message), (fields))
#define log_warn(tag, message, fields) log_json(LOG_WARN, (tag), (message), (fields))
#define log_error(tag, message, fields) log_json(LOG_ERROR, (tag), (message), (fields))
#define log_debug(tag, message, fields) log_json(LOG_DEBUG, (tag), (message), (fields))

#endif							/* REFLEXO_LOG_H */
