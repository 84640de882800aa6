/*
 * local_time.c — converting instants to a zone's wall clock, DST-correct.
 *
 * Uses PostgreSQL's own copy of the IANA time zone database (pg_tzset), so
 * the rules are the ones the server itself applies to timestamptz.
 */
#include "local_time.h"
#include "reflexo.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

PG_FUNCTION_INFO_V1(reflexo_is_valid_time_zone);

#define USECS_PER_MINUTE_I64 INT64CONST(60000000)
/* seconds between the Unix epoch (1970) and PostgreSQL's (2000) */
#define EPOCH_SHIFT_SECS ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static pg_time_t
to_unix_seconds(TimestampTz t)
{
	return (pg_time_t) (floor_div(t, USECS_PER_SEC) + EPOCH_SHIFT_SECS);
}

/* The zone named, or NULL when PostgreSQL does not know it. */
static pg_tz *
try_time_zone(const char *name)
{
	pg_tz	   *tz;

	if (name == NULL || name[0] == '\0' || strlen(name) > TZ_STRLEN_MAX)
		return NULL;
	tz = pg_tzset(name);
	if (tz == NULL || !pg_tz_acceptable(tz))
		return NULL;
	return tz;
}

/* The zone named, or an error that says which name was not recognised. */
pg_tz *
find_time_zone(const char *name)
{
	pg_tz	   *tz = try_time_zone(name);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Use an IANA time zone name such as \"America/Lima\"; see pg_timezone_names.")));
	return tz;
}

/* Does PostgreSQL know this IANA zone?  Backs the reflexo.time_zone domain. */
Datum
reflexo_is_valid_time_zone(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(try_time_zone(name) != NULL);
}

Timestamp
to_wall_clock(TimestampTz instant, pg_tz *tz)
{
	pg_time_t	secs = to_unix_seconds(instant);
	struct pg_tm *tm = pg_localtime(&secs, tz);

	return instant + (int64) tm->tm_gmtoff * USECS_PER_SEC;
}

/*
 * The instant a zone's clock shows wall, if it ever does: false for a wall
 * time skipped by a DST change.  A repeated one gives the first instant.
 */
bool
from_wall_clock(Timestamp wall, pg_tz *tz, TimestampTz *instant)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;

	if (timestamp2tm(wall, NULL, &tm, &fsec, NULL, NULL) != 0)
		return false;
	offset = DetermineTimeZoneOffset(&tm, tz);
	*instant = wall + (int64) offset * USECS_PER_SEC;
	if (to_wall_clock(*instant - USECS_PER_HOUR, tz) == wall)
		*instant -= USECS_PER_HOUR;		/* the earlier of a repeated hour */
	return to_wall_clock(*instant, tz) == wall;
}

/* Midnight of a wall-clock time's day (also before 2000, where it is negative). */
Timestamp
wall_start_of_day(Timestamp wall)
{
	Timestamp	day = wall / USECS_PER_DAY * USECS_PER_DAY;

	return day > wall ? day - USECS_PER_DAY : day;
}

/*
 * The instants at which the local day of instant begins and ends.  A
 * midnight skipped by DST is taken as the offset before the change gives it,
 * which is when the day really begins.
 */
void
local_day_bounds(TimestampTz instant, pg_tz *tz, TimestampTz *from, TimestampTz *to)
{
	Timestamp	day = wall_start_of_day(to_wall_clock(instant, tz));

	(void) from_wall_clock(day, tz, from);
	(void) from_wall_clock(day + USECS_PER_DAY, tz, to);
}

void
wall_walker_init(WallWalker *walker, TimestampTz start, TimestampTz end, pg_tz *tz)
{
	walker->next = start;
	walker->end = end;
	walker->tz = tz;
}

/*
 * The next stretch of [start, end) during which the UTC offset is constant,
 * as wall-clock time.  Returns false when the range is exhausted.
 */
bool
wall_walker_next(WallWalker *walker, WallSpan *span)
{
	pg_time_t	now_secs,
				probe,
				boundary;
	long int	offset,
				before_offset,
				after_offset;
	int			before_dst,
				after_dst,
				found;
	TimestampTz stop = walker->end;

	if (walker->next >= walker->end)
		return false;

	now_secs = to_unix_seconds(walker->next);
	offset = pg_localtime(&now_secs, walker->tz)->tm_gmtoff;

	probe = now_secs;
	found = pg_next_dst_boundary(&probe, &before_offset, &before_dst,
								 &boundary, &after_offset, &after_dst, walker->tz);
	if (found == 1 && boundary <= now_secs)
	{
		/* a transition exactly now: look for the one after it */
		probe = now_secs + 1;
		found = pg_next_dst_boundary(&probe, &before_offset, &before_dst,
									 &boundary, &after_offset, &after_dst, walker->tz);
	}
	if (found == 1)
	{
		TimestampTz change = (TimestampTz) (boundary - EPOCH_SHIFT_SECS) * USECS_PER_SEC;

		if (change > walker->next && change < stop)
			stop = change;
	}

	span->from = walker->next + (int64) offset * USECS_PER_SEC;
	span->to = stop + (int64) offset * USECS_PER_SEC;
	walker->next = stop;
	return true;
}

int
wall_day_of_week(Timestamp wall)
{
	int64		day = floor_div(wall, USECS_PER_DAY);

	/* 2000-01-01, day 0, was a Saturday: Monday-based index 5 */
	return (int) (((day % 7) + 7 + 5) % 7);
}

/*
 * Is every instant of the span inside an open interval?  Walks interval by
 * interval, so a span crossing midnight needs both days to be open.  On
 * failure *gap is the first wall-clock instant that is closed.
 */
bool
week_covers(const WeekSchedule *week, const WallSpan *span, Timestamp *gap)
{
	Timestamp	cursor = span->from;

	while (cursor < span->to)
	{
		int64		day = floor_div(cursor, USECS_PER_DAY);
		int64		minute_of_day = (cursor - day * USECS_PER_DAY) / USECS_PER_MINUTE_I64;
		int			dow = wall_day_of_week(cursor);
		int			i;

		for (i = 0; i < week->count[dow]; i++)
		{
			const WsInterval *iv = &week->intervals[dow][i];

			if (iv->open <= minute_of_day && minute_of_day < iv->close)
				break;
		}
		if (i == week->count[dow])
		{
			*gap = cursor;
			return false;
		}
		cursor = day * USECS_PER_DAY + week->intervals[dow][i].close * USECS_PER_MINUTE_I64;
	}
	return true;
}

/* "14:00" */
void
format_wall_time(Timestamp wall, char *buf, size_t size)
{
	int64		in_day = wall - floor_div(wall, USECS_PER_DAY) * USECS_PER_DAY;
	int			minutes = (int) (in_day / USECS_PER_MINUTE_I64);

	snprintf(buf, size, "%02d:%02d", minutes / 60, minutes % 60);
}

/* "2026-03-10" */
void
format_wall_date(Timestamp wall, char *buf, size_t size)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(wall, NULL, &tm, &fsec, NULL, NULL) != 0)
	{
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
}

/*
 * An instant as the session writes it, in palloc'd memory: unlike
 * timestamptz_to_str's static buffer, two of them fit in one message.
 */
char *
instant_text(TimestampTz instant)
{
	return pstrdup(timestamptz_to_str(instant));
}

PG_FUNCTION_INFO_V1(reflexo_ghl_time);

/*
 * ghl_time(instant, zone): the instant as GHL writes times, local time with
 * its UTC offset, e.g. 2026-03-10T14:00:00-05:00 (whole seconds); NULL for
 * an instant GHL cannot be told (infinite, or past year 9999), so that a
 * caller building many requests can set that one aside instead of failing.
 */
Datum
reflexo_ghl_time(PG_FUNCTION_ARGS)
{
	TimestampTz instant = PG_GETARG_TIMESTAMPTZ(0);
	pg_tz	   *tz = find_time_zone(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	pg_time_t	secs;
	long		offset;
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[64];

	if (TIMESTAMP_NOT_FINITE(instant))
		PG_RETURN_NULL();
	secs = to_unix_seconds(instant);
	offset = pg_localtime(&secs, tz)->tm_gmtoff;
	if (timestamp2tm(instant + (int64) offset * USECS_PER_SEC, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		PG_RETURN_NULL();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
			 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 offset < 0 ? '-' : '+', labs(offset) / 3600, labs(offset) % 3600 / 60);
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}
