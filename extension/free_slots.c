/*
 * free_slots.c — reflexo.free_slots_between(), the bookable slots of a
 * calendar in a time range.
 *
 * Candidates start at the calendar's working-hours openings and every step
 * after them, on the wall clock of the location's time zone, so that a slot
 * reads "09:00" on the day DST starts as on any other.  A candidate is
 * offered only if the guard would accept a booking of it right now: the
 * wall time exists (not skipped by DST), the whole elapsed span lies inside
 * working hours and outside closures, and fewer appointments than the
 * calendar's capacity overlap it at any moment.  The therapist rule is not
 * applied: a calendar slot is not tied to a therapist.
 */
#include "postgres.h"
#include "reflexo.h"

#include "catalog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "local_time.h"
#include "saved_plan.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(reflexo_free_slots_between);

#define MAX_RANGE (INT64CONST(366) * USECS_PER_DAY)

typedef struct Busy
{
	TimestampTz from;
	TimestampTz to;
} Busy;

static SavedPlan busy_plan;

static int64
interval_usecs(Interval *span, const char *argument)
{
	if (span->month != 0 || span->day < 0 || span->day > 1 || span->time < 0 ||
		span->day * USECS_PER_DAY + span->time < USECS_PER_MINUTE ||
		span->day * USECS_PER_DAY + span->time > USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between one minute and one day", argument),
				 errdetail("Months are not a fixed length, and slots shorter than a minute make no sense."),
				 errhint("Give it in minutes or hours, e.g. '45 minutes'.")));
	return span->day * USECS_PER_DAY + span->time;
}

/* Active appointments of the calendar that overlap [from, to), from both indexes. */
static Busy *
fetch_busy(int64 calendar_id, int64 location_id, TimestampTz from, TimestampTz to, int *count)
{
	Oid			types[4] = {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[4] = {Int64GetDatum(calendar_id), Int64GetDatum(location_id),
	TimestampTzGetDatum(from), TimestampTzGetDatum(to)};
	Busy	   *busy;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(saved_plan(&busy_plan,
									"SELECT starts_at, ends_at FROM reflexo.appointments"
									" WHERE calendar_id = $1 AND starts_at < $4 AND ends_at > $3"
									" AND starts_at >= $3 - '1 day'::pg_catalog.interval"
									" AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])"
									" UNION ALL"
									" SELECT starts_at, ends_at FROM reflexo.appointments"
									" WHERE location_id = $2 AND calendar_id = $1 AND starts_at < $3 - '1 day'::pg_catalog.interval"
									" AND ends_at > $3 AND ends_at - starts_at > '1 day'::pg_catalog.interval"
									" AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])",
									4, types),
						 args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "free_slots: reading appointments failed");
	busy = palloc(sizeof(Busy) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		busy[i].from = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		busy[i].to = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	*count = (int) SPI_processed;
	SPI_finish();
	return busy;
}

static int
busy_by_start(const void *a, const void *b)
{
	TimestampTz x = ((const Busy *) a)->from;
	TimestampTz y = ((const Busy *) b)->from;

	return x < y ? -1 : x > y;
}

/* The first appointment (sorted by start) that starts at or after t. */
static int
first_starting_from(const Busy *busy, int count, TimestampTz t)
{
	int			lo = 0,
				hi = count;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (busy[mid].from < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The most appointments overlapping [from, to) at one moment.  busy is
 * sorted by start and none lasts longer than longest, so only those that
 * start in [from - longest, to) can overlap: a window found by binary search.
 */
static int
peak_overlap(const Busy *busy, int count, int64 longest, TimestampTz from, TimestampTz to)
{
	int			first = first_starting_from(busy, count, from - longest);
	int			peak = 0;

	/* the peak is reached at the slot's start or at some appointment's start */
	for (int i = first - 1; i < count && (i < first || busy[i].from < to); i++)
	{
		TimestampTz at = i < first ? from : busy[i].from;
		int			here = 0;

		if (at < from)
			continue;
		for (int j = first; j < count && busy[j].from <= at; j++)
			if (at < busy[j].to)
				here++;
		peak = Max(peak, here);
	}
	return peak;
}

/* Midnight of a wall-clock time's day (also before 2000, where it is negative). */
static Timestamp
start_of_day(Timestamp wall)
{
	Timestamp	day = wall / USECS_PER_DAY * USECS_PER_DAY;

	return day > wall ? day - USECS_PER_DAY : day;
}

static bool
in_working_hours(const WeekSchedule *week, TimestampTz from, TimestampTz to, pg_tz *tz)
{
	WallWalker	walker;
	WallSpan	span;
	Timestamp	gap;

	wall_walker_init(&walker, from, to, tz);
	while (wall_walker_next(&walker, &span))
		if (!week_covers(week, &span, &gap))
			return false;
	return true;
}

static bool
in_closure(List *closures, TimestampTz from, TimestampTz to, pg_tz *tz)
{
	WallWalker	walker;
	WallSpan	span;
	ListCell   *lc;

	wall_walker_init(&walker, from, to, tz);
	while (wall_walker_next(&walker, &span))
		foreach(lc, closures)
		{
			ClosureRow *closure = lfirst(lc);

			if (closure->closed_from < span.to && span.from < closure->closed_until)
				return true;
		}
	return false;
}

Datum
reflexo_free_slots_between(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		calendar_id = PG_GETARG_INT64(0);
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(2);
	int64		duration = interval_usecs(PG_GETARG_INTERVAL_P(3), "duration");
	int64		step = interval_usecs(PG_GETARG_INTERVAL_P(4), "step");
	CalendarRow calendar;
	LocationRow location;
	const WeekSchedule *week;
	pg_tz	   *tz;
	Busy	   *busy;
	int			nbusy;
	int64		longest = 0;
	List	   *closures;
	Timestamp	first_day,
				last_day;

	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to) || to <= from || to - from > MAX_RANGE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the range of free slots must be finite, non-empty and at most 366 days"),
				 errdetail("It runs from %s to %s.", instant_text(from), instant_text(to)),
				 errhint("Ask for a shorter range, e.g. one week.")));
	if (!fetch_calendar(calendar_id, &calendar) || !fetch_location(calendar.location_id, &location))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("calendar %lld does not exist", (long long) calendar_id),
				 errdetail("No calendar has id %lld.", (long long) calendar_id),
				 errhint("reflexo.calendars lists the calendars.")));

	InitMaterializedSRF(fcinfo, 0);
	if (!calendar.is_active || !location.is_active)
		return (Datum) 0;		/* nothing is bookable */

	week = calendar.has_hours ? &calendar.hours : &location.hours;
	tz = find_time_zone(location.time_zone);
	busy = fetch_busy(calendar_id, location.id, from, to, &nbusy);
	qsort(busy, nbusy, sizeof(Busy), busy_by_start);
	for (int i = 0; i < nbusy; i++)
		longest = Max(longest, busy[i].to - busy[i].from);
	first_day = start_of_day(to_wall_clock(from, tz)) - USECS_PER_DAY;
	last_day = start_of_day(to_wall_clock(to, tz)) + USECS_PER_DAY;
	closures = fetch_closures(location.id, calendar_id, first_day, last_day + USECS_PER_DAY);

	for (Timestamp day = first_day; day <= last_day; day += USECS_PER_DAY)
	{
		int			dow = wall_day_of_week(day);

		for (int i = 0; i < week->count[dow]; i++)
		{
			const WsInterval *iv = &week->intervals[dow][i];
			Timestamp	close = day + (int64) iv->close * USECS_PER_MINUTE;

			for (Timestamp wall = day + (int64) iv->open * USECS_PER_MINUTE; wall + duration <= close; wall += step)
			{
				TimestampTz start;
				Datum		values[2];
				bool		nulls[2] = {false, false};

				CHECK_FOR_INTERRUPTS();
				if (!from_wall_clock(wall, tz, &start) || start < from || start + duration > to)
					continue;
				if (!in_working_hours(week, start, start + duration, tz) ||
					in_closure(closures, start, start + duration, tz) ||
					peak_overlap(busy, nbusy, longest, start, start + duration) >= calendar.capacity)
					continue;
				values[0] = TimestampTzGetDatum(start);
				values[1] = TimestampTzGetDatum(start + duration);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
	return (Datum) 0;
}
