/*
 * log.c — structured logging: one compact JSON object per line on stderr.
 * A mutex keeps lines from different threads whole.
 */
#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static LogLevel min_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_set_level(LogLevel level)
{
	min_level = level;
}

bool
log_parse_level(const char *name, LogLevel *level)
{
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
	{
		if (strcmp(name, level_names[i]) == 0)
		{
			*level = (LogLevel) i;
			return true;
		}
	}
	return false;
}

bool
log_enabled(LogLevel level)
{
	return level >= min_level;
}

void
log_json(LogLevel level, const char *tag, const char *message, json_t *fields)
{
	struct timespec now;
	struct tm tm;
	char		stamp[80];
	json_t	   *line;
	char	   *text;

	if (!log_enabled(level))
	{
		json_decref(fields);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 now.tv_nsec / 1000000);

	line = json_object();
	json_object_set_new(line, "timestamp", json_string(stamp));
	json_object_set_new(line, "level", json_string(level_names[level]));
	json_object_set_new(line, "tag", json_string(tag));
	if (message)
		json_object_set_new(line, "message", json_string(message));
	if (fields)
	{
		json_object_update_missing(line, fields);
		json_decref(fields);
	}
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (text == NULL)
		return;
	pthread_mutex_lock(&log_lock);
	fputs(text, stderr);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	free(text);
}
