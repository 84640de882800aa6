/*
 * free_slots.c — reflexo.free_slots_between(), the bookable slots of a
 * calendar in a time range.
 *
 * Candidates start at the calendar's working-hours openings and every step
 * after them, on the wall clock of the location's time zone, so that a slot
 * reads "09:00" on the day DST starts as on any other.  A candidate is
 * offered only if the guard would accept a booking of it right now: the
 * wall time exists (not skipped by DST), it starts within the calendar's
 * minimum notice and booking horizon, the whole elapsed span lies inside
 * working hours and outside closures, fewer appointments than the
 * calendar's capacity overlap it at any moment (its buffers included), and
 * its day has room under the calendar's appointments per day.
 *
 * Asked for one therapist, a slot must also lie in their working hours and
 * outside their time off, and they must have no other appointment then.
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

static int	busy_by_start(const void *a, const void *b);

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

static SavedPlan calendar_busy_plan;
static SavedPlan therapist_busy_plan;
static SavedPlan day_starts_plan;

/* Runs a saved query whose rows are (starts_at, ends_at); returns them. */
static Busy *
fetch_spans(SavedPlan *saved, const char *query, int nargs, Oid *types, Datum *args, int *count)
{
	Busy	   *busy;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(saved_plan(saved, query, nargs, types), args, NULL, true, 0) != SPI_OK_SELECT)
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

/* Active appointments of the calendar that overlap [from, to), from both indexes. */
static Busy *
fetch_busy(int64 calendar_id, int64 location_id, TimestampTz from, TimestampTz to, int *count)
{
	Oid			types[4] = {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[4] = {Int64GetDatum(calendar_id), Int64GetDatum(location_id),
	TimestampTzGetDatum(from), TimestampTzGetDatum(to)};

	return fetch_spans(&calendar_busy_plan,
					   "SELECT starts_at, ends_at FROM reflexo.appointments"
					   " WHERE calendar_id = $1 AND starts_at < $4 AND ends_at > $3"
					   " AND starts_at >= $3 - '1 day'::pg_catalog.interval"
					   " AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])"
					   " UNION ALL"
					   " SELECT starts_at, ends_at FROM reflexo.appointments"
					   " WHERE location_id = $2 AND calendar_id = $1 AND starts_at < $3 - '1 day'::pg_catalog.interval"
					   " AND ends_at > $3 AND ends_at - starts_at > '1 day'::pg_catalog.interval"
					   " AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])",
					   4, types, args, count);
}

/* Active appointments of the therapist, on any calendar of the location, that overlap [from, to). */
static Busy *
fetch_therapist_busy(int64 location_id, text *therapist, TimestampTz from, TimestampTz to, int *count)
{
	Oid			types[4] = {INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[4] = {Int64GetDatum(location_id), PointerGetDatum(therapist),
	TimestampTzGetDatum(from), TimestampTzGetDatum(to)};

	return fetch_spans(&therapist_busy_plan,
					   "SELECT starts_at, ends_at FROM reflexo.appointments"
					   " WHERE location_id = $1 AND assigned_user_id = $2 AND starts_at < $4 AND ends_at > $3"
					   " AND starts_at >= $3 - '1 day'::pg_catalog.interval"
					   " AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])"
					   " UNION ALL"
					   " SELECT starts_at, ends_at FROM reflexo.appointments"
					   " WHERE location_id = $1 AND assigned_user_id = $2 AND starts_at < $3 - '1 day'::pg_catalog.interval"
					   " AND ends_at > $3 AND ends_at - starts_at > '1 day'::pg_catalog.interval"
					   " AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])",
					   4, types, args, count);
}

/* Active appointments of the calendar that start in [from, to), for its appointments per day. */
static Busy *
fetch_day_starts(int64 calendar_id, TimestampTz from, TimestampTz to, int *count)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[3] = {Int64GetDatum(calendar_id), TimestampTzGetDatum(from), TimestampTzGetDatum(to)};

	return fetch_spans(&day_starts_plan,
					   "SELECT starts_at, ends_at FROM reflexo.appointments"
					   " WHERE calendar_id = $1 AND starts_at >= $2 AND starts_at < $3 AND ends_at IS NOT NULL"
					   " AND status <> ALL ('{cancelled,invalid}'::reflexo.appointment_status[])",
					   3, types, args, count);
}

/* Sorted by start, and the longest of them. */
static int64
sort_busy(Busy *busy, int count)
{
	int64		longest = 0;

	qsort(busy, count, sizeof(Busy), busy_by_start);
	for (int i = 0; i < count; i++)
		longest = Max(longest, busy[i].to - busy[i].from);
	return longest;
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

/* What a candidate slot is checked against. */
typedef struct SlotRules
{
	CalendarRow calendar;
	LocationRow location;
	const WeekSchedule *week;
	pg_tz	   *tz;
	TimestampTz earliest;		/* minimum notice */
	TimestampTz latest;			/* booking horizon */
	Busy	   *busy;			/* the calendar's, widened by its buffers */
	int			nbusy;
	int64		longest;
	Busy	   *day_starts;		/* for appointments per day */
	int			nday_starts;
	List	   *closures;		/* the location's, the calendar's and the therapist's */
	bool		has_therapist;
	bool		therapist_hours;
	TherapistRow therapist;
	Busy	   *therapist_busy;
	int			ntherapist_busy;
	int64		therapist_longest;
} SlotRules;

static bool
slot_is_free(const SlotRules *r, TimestampTz start, TimestampTz end)
{
	if (start < r->earliest || start > r->latest)
		return false;
	if (!in_working_hours(r->week, start, end, r->tz) ||
		(r->therapist_hours && !in_working_hours(&r->therapist.hours, start, end, r->tz)) ||
		in_closure(r->closures, start, end, r->tz))
		return false;
	if (peak_overlap(r->busy, r->nbusy, r->longest, start - r->calendar.buffer_before,
					 end + r->calendar.buffer_after) >= r->calendar.capacity)
		return false;
	if (r->calendar.max_per_day > 0)
	{
		TimestampTz day_from,
					day_to;

		local_day_bounds(start, r->tz, &day_from, &day_to);
		if (first_starting_from(r->day_starts, r->nday_starts, day_to) -
			first_starting_from(r->day_starts, r->nday_starts, day_from) >= r->calendar.max_per_day)
			return false;
	}
	return !r->has_therapist ||
		peak_overlap(r->therapist_busy, r->ntherapist_busy, r->therapist_longest, start, end) == 0;
}

Datum
reflexo_free_slots_between(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		calendar_id;
	TimestampTz from,
				to,
				now = GetCurrentTransactionStartTimestamp();
	int64		duration,
				step,
				reach;
	text	   *therapist = PG_ARGISNULL(5) ? NULL : PG_GETARG_TEXT_PP(5);
	SlotRules	r = {0};
	Timestamp	first_day,
				last_day;
	TimestampTz day_from,
				day_to,
				unused;

	for (int i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
		{
			InitMaterializedSRF(fcinfo, 0);
			return (Datum) 0;	/* as a strict function would answer */
		}
	calendar_id = PG_GETARG_INT64(0);
	from = PG_GETARG_TIMESTAMPTZ(1);
	to = PG_GETARG_TIMESTAMPTZ(2);
	duration = interval_usecs(PG_GETARG_INTERVAL_P(3), "duration");
	step = interval_usecs(PG_GETARG_INTERVAL_P(4), "step");
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to) || to <= from || to - from > MAX_RANGE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the range of free slots must be finite, non-empty and at most 366 days"),
				 errdetail("It runs from %s to %s.", instant_text(from), instant_text(to)),
				 errhint("Ask for a shorter range, e.g. one week.")));
	if (!fetch_calendar(calendar_id, &r.calendar) || !fetch_location(r.calendar.location_id, &r.location))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("calendar %lld does not exist", (long long) calendar_id),
				 errdetail("No calendar has id %lld.", (long long) calendar_id),
				 errhint("reflexo.calendars lists the calendars.")));

	InitMaterializedSRF(fcinfo, 0);
	if (!r.calendar.is_active || !r.location.is_active)
		return (Datum) 0;		/* nothing is bookable */

	r.week = r.calendar.has_hours ? &r.calendar.hours : &r.location.hours;
	r.tz = find_time_zone(r.location.time_zone);
	booking_window(&r.calendar, now, &r.earliest, &r.latest);
	reach = r.calendar.buffer_before + r.calendar.buffer_after;
	r.busy = fetch_busy(calendar_id, r.location.id, from - reach, to + reach, &r.nbusy);
	for (int i = 0; i < r.nbusy; i++)
	{
		r.busy[i].from -= r.calendar.buffer_before;
		r.busy[i].to += r.calendar.buffer_after;
	}
	r.longest = sort_busy(r.busy, r.nbusy);
	first_day = wall_start_of_day(to_wall_clock(from, r.tz)) - USECS_PER_DAY;
	last_day = wall_start_of_day(to_wall_clock(to, r.tz)) + USECS_PER_DAY;
	if (r.calendar.max_per_day > 0)
	{
		local_day_bounds(from, r.tz, &day_from, &unused);
		local_day_bounds(to, r.tz, &unused, &day_to);
		r.day_starts = fetch_day_starts(calendar_id, day_from, day_to, &r.nday_starts);
		(void) sort_busy(r.day_starts, r.nday_starts);
	}
	if (therapist)
	{
		r.has_therapist = true;
		r.therapist_hours = fetch_therapist(r.location.id, therapist, &r.therapist) && r.therapist.has_hours;
		r.therapist_busy = fetch_therapist_busy(r.location.id, therapist, from, to, &r.ntherapist_busy);
		r.therapist_longest = sort_busy(r.therapist_busy, r.ntherapist_busy);
	}
	r.closures = fetch_closures(r.location.id, calendar_id, therapist, first_day, last_day + USECS_PER_DAY);

	for (Timestamp day = first_day; day <= last_day; day += USECS_PER_DAY)
	{
		int			dow = wall_day_of_week(day);

		for (int i = 0; i < r.week->count[dow]; i++)
		{
			const WsInterval *iv = &r.week->intervals[dow][i];
			Timestamp	close = day + (int64) iv->close * USECS_PER_MINUTE;

			for (Timestamp wall = day + (int64) iv->open * USECS_PER_MINUTE; wall + duration <= close; wall += step)
			{
				TimestampTz start;
				Datum		values[2];
				bool		nulls[2] = {false, false};

				CHECK_FOR_INTERRUPTS();
				if (!from_wall_clock(wall, r.tz, &start) || start < from || start + duration > to ||
					!slot_is_free(&r, start, start + duration))
					continue;
				values[0] = TimestampTzGetDatum(start);
				values[1] = TimestampTzGetDatum(start + duration);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
	return (Datum) 0;
}
