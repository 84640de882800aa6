/*
 * iso_time.c — parse and format ISO 8601 times with glibc's strptime and
 * timegm, which handle the calendar; we only step over a fractional part.
 */
#include "common/iso_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool
iso_time_parse(const char *text, int64_t *epoch_ms, int *offset_seconds)
{
	struct tm tm,
				written;
	const char *rest;
	int			millis = 0;
	long		offset;
	time_t		utc;

	if (text == NULL)
		return false;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return false;
	if (*rest == '.')
	{
		int			digits = 0;

		for (rest++; isdigit((unsigned char) *rest); rest++, digits++)
			if (digits < 3)
				millis = millis * 10 + (*rest - '0');
		if (digits == 0)
			return false;
		for (; digits < 3; digits++)
			millis *= 10;
	}
	/* %z accepts Z, +hh:mm and +hhmm; it sets tm_gmtoff */
	tm.tm_gmtoff = 0;
	rest = strptime(rest, "%z", &tm);
	if (rest == NULL || *rest != '\0')
		return false;
	offset = tm.tm_gmtoff;		/* timegm() resets it */
	if (offset < -18 * 3600 || offset > 18 * 3600)
		return false;
	written = tm;
	utc = timegm(&tm);
	if (utc == (time_t) -1 && !(tm.tm_year == 69 && tm.tm_mday == 31))
		return false;
	/* timegm() moves 2026-02-30 to March: a day that does not exist is not a time */
	if (tm.tm_mday != written.tm_mday || tm.tm_mon != written.tm_mon || tm.tm_year != written.tm_year ||
		tm.tm_hour != written.tm_hour || tm.tm_min != written.tm_min || tm.tm_sec != written.tm_sec)
		return false;
	*epoch_ms = ((int64_t) utc - offset) * 1000 + millis;
	if (offset_seconds)
		*offset_seconds = (int) offset;
	return true;
}

void
iso_time_format(int64_t epoch_ms, int offset_seconds, char *buf, size_t size)
{
	time_t		local = (time_t) (epoch_ms / 1000) + offset_seconds;
	struct tm	tm;
	int			off = abs(offset_seconds);

	gmtime_r(&local, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 offset_seconds < 0 ? '-' : '+', off / 3600, off % 3600 / 60);
}

void
iso_time_format_utc(int64_t epoch_ms, char *buf, size_t size)
{
	time_t		secs = (time_t) (epoch_ms / 1000);
	struct tm	tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int) (epoch_ms % 1000));
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
