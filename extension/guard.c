/*
 * guard.c — reflexo.appointment_guard(), the BEFORE INSERT OR UPDATE row
 * trigger on reflexo.appointments that enforces the booking rules:
 *
 *   a time not finite, or outside 2000-2099 (any row)    23514
 *   calendar unknown, inactive or of another location   23503
 *   ends at or before it starts; shorter than minimum   23514
 *   or longer than maximum
 *   staff booking a time already past                     23514
 *   inside the calendar's minimum notice, or beyond its   23514
 *   booking horizon
 *   outside the calendar's or the therapist's working     23514
 *   hours, in a closure or the therapist's time off
 *   over the calendar's capacity (buffers included), its  23P01 (40001 if
 *   appointments per day, or therapist busy              only a rival the
 *                                                        snapshot can't see)
 *
 * Local changes in flexible mode turn the hours and overlap rules into
 * warnings; changes from GHL never fail on a rule, because GHL is the source
 * of truth for them.  A rule that does not reject records its name in
 * validation_flags.  Every broken rule is counted (validation_stats.c).
 * Rows that do not occupy a slot (cancelled, invalid) are not checked, and
 * an update that moves nothing is not re-checked.
 *
 * The trigger also stamps each business change (appointment_change.h) with
 * its origin: local changes become sync_state 'pending' with
 * local_changed_at = now(); changes from GHL are 'synced'.  Bookkeeping
 * updates keep their origin and are neither checked nor stamped.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "appointment_change.h"
#include "appointment_checks.h"
#include "booking_conflict.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "local_time.h"
#include "reflexo.h"
#include "utils/array.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "validation_stats.h"

PG_FUNCTION_INFO_V1(appointment_guard);
PG_FUNCTION_INFO_V1(touch_updated_at);

/* How a broken rule is handled. */
typedef enum Enforcement
{
	ENFORCE_REJECT,				/* strict: raise the error */
	ENFORCE_WARN,				/* flexible: warn, store, flag */
	ENFORCE_RECORD				/* from GHL: store and flag */
} Enforcement;

/* The appointment being written, and what the checks learn about it. */
typedef struct Booking
{
	Relation	rel;
	HeapTuple	tuple;
	bool		from_ghl;
	bool		has_id;
	int64		id;
	bool		has_location;
	int64		location_id;
	bool		has_calendar;
	int64		calendar_id;
	text	   *therapist;
	TimestampTz starts_at;
	TimestampTz ends_at;
	LocationRow location;
	CalendarRow calendar;
	bool		has_therapist_row;	/* the location lists the therapist */
	TherapistRow therapist_row;
	pg_tz	   *tz;
	bool		flags[NUM_VALIDATION_KINDS];
} Booking;

static Datum
column(Booking *b, AttrNumber attnum, bool *isnull)
{
	return heap_getattr(b->tuple, attnum, RelationGetDescr(b->rel), isnull);
}

static void
read_booking(Booking *b, Relation rel, HeapTuple tuple)
{
	const AppointmentColumns *col = &reflexo_catalog()->appt;
	bool		isnull;
	Datum		value;

	memset(b, 0, sizeof(*b));
	b->rel = rel;
	b->tuple = tuple;
	b->from_ghl = change_from_ghl();
	value = column(b, col->id, &isnull);
	b->has_id = !isnull;
	b->id = isnull ? 0 : DatumGetInt64(value);
	value = column(b, col->location_id, &isnull);
	b->has_location = !isnull;
	b->location_id = isnull ? 0 : DatumGetInt64(value);
	value = column(b, col->calendar_id, &isnull);
	b->has_calendar = !isnull;
	b->calendar_id = isnull ? 0 : DatumGetInt64(value);
	value = column(b, col->assigned_user_id, &isnull);
	b->therapist = isnull ? NULL : DatumGetTextPP(value);
	value = column(b, col->starts_at, &isnull);
	b->starts_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(value);
	value = column(b, col->ends_at, &isnull);
	b->ends_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(value);
}

static bool
occupies_slot(Relation rel, HeapTuple tuple)
{
	bool		isnull;
	Datum		status = heap_getattr(tuple, reflexo_catalog()->appt.status,
									  RelationGetDescr(rel), &isnull);

	return !isnull && status_is_active(status);
}

/* Did an update change anything that the rules look at? */
static bool
booking_moved(Relation rel, HeapTuple old_tuple, HeapTuple new_tuple)
{
	const AppointmentColumns *col = &reflexo_catalog()->appt;
	const AttrNumber watched[] = {
		col->location_id, col->calendar_id, col->assigned_user_id, col->starts_at, col->ends_at
	};

	return !occupies_slot(rel, old_tuple) ||
		columns_differ(rel, old_tuple, new_tuple, watched, lengthof(watched));
}

static Enforcement
enforcement_for(Booking *b)
{
	if (b->from_ghl)
		return ENFORCE_RECORD;
	switch (reflexo_strict_validation)
	{
		case STRICT_VALIDATION_ON:
			return ENFORCE_REJECT;
		case STRICT_VALIDATION_OFF:
			/* a flexible booking asked for by staff: where an admin allows it */
			if (b->location.strict_validation && !b->location.staff_flexible && api_request_is_staff())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only admins may book with flexible validation at location %lld",
								(long long) b->location_id),
						 errhint("An admin may allow it to staff (staff_flexible on the location), "
								 "or book within the rules.")));
			return ENFORCE_WARN;
		default:
			return b->location.strict_validation ? ENFORCE_REJECT : ENFORCE_WARN;
	}
}

/* "14:00" in the location's zone. */
static char *
local_hhmm(Booking *b, TimestampTz t)
{
	char		buf[16];

	format_wall_time(to_wall_clock(t, b->tz), buf, sizeof(buf));
	return pstrdup(buf);
}

static char *
local_date(Booking *b, TimestampTz t)
{
	char		buf[32];

	format_wall_date(to_wall_clock(t, b->tz), buf, sizeof(buf));
	return pstrdup(buf);
}

/* The calendar as reflexo.calendars.id (for details, read by operators). */
static char *
calendar_id_text(const Booking *b)
{
	return psprintf(INT64_FORMAT, b->calendar_id);
}

/* The calendar as the clinic knows it: GHL's id (as the Django service named it), else ours. */
static char *
calendar_label(const Booking *b)
{
	if (b->calendar.id == b->calendar_id && b->calendar.ghl_calendar_id)
		return pstrdup(b->calendar.ghl_calendar_id);
	return calendar_id_text(b);
}

static void
calendar_unavailable(Booking *b, const char *detail)
{
	count_validation(VALIDATION_CALENDAR_UNAVAILABLE, true);
	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("calendar %s does not exist or is not available", calendar_label(b)),
			 errdetail_internal("%s", detail),
			 errhint("Book an active calendar of the appointment's location; "
					 "reflexo.calendars lists them, and syncing calendars from GHL refreshes them."),
			 errtableconstraint(b->rel, "appointments_calendar_available")));
}

/* Resolves calendar and location (filling defaults) and checks availability. */
static void
check_calendar(Booking *b)
{
	if (!b->has_calendar)
	{
		if (!b->has_location || !fetch_location(b->location_id, &b->location) ||
			!b->location.has_default_calendar)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("appointment needs a calendar"),
					 errdetail("Neither calendar_id nor a default calendar of the location is set."),
					 errhint("Give calendar_id, or set the location's default calendar."),
					 errtablecol(b->rel, reflexo_catalog()->appt.calendar_id)));
		b->calendar_id = b->location.default_calendar_id;
		b->has_calendar = true;
	}
	if (!fetch_calendar(b->calendar_id, &b->calendar))
		calendar_unavailable(b, psprintf(_("No calendar has id %s."), calendar_id_text(b)));
	if (!b->has_location)
	{
		b->location_id = b->calendar.location_id;
		b->has_location = true;
	}
	if (b->calendar.location_id != b->location_id)
		calendar_unavailable(b, psprintf(_("Calendar %s belongs to location %lld, not to location %lld."),
										 calendar_id_text(b), (long long) b->calendar.location_id,
										 (long long) b->location_id));
	if (b->location.id != b->location_id && !fetch_location(b->location_id, &b->location))
		calendar_unavailable(b, psprintf(_("Location %lld does not exist."), (long long) b->location_id));
	b->tz = find_time_zone(b->location.time_zone);

	if (b->calendar.is_active && b->location.is_active)
		return;
	if (b->from_ghl)
	{
		b->flags[VALIDATION_CALENDAR_UNAVAILABLE] = true;
		count_validation(VALIDATION_CALENDAR_UNAVAILABLE, false);
		return;
	}
	if (!b->calendar.is_active)
		calendar_unavailable(b, psprintf(_("Calendar %s (\"%s\") is inactive."),
										 calendar_id_text(b), b->calendar.name));
	calendar_unavailable(b, psprintf(_("Location %lld is inactive."), (long long) b->location_id));
}

/* A duration for messages: "10 minutes", "24 hours", or "90 seconds" when not whole. */
static char *
interval_text(int64 microseconds)
{
	if (microseconds >= USECS_PER_HOUR && microseconds % USECS_PER_HOUR == 0)
	{
		int			hours = (int) (microseconds / USECS_PER_HOUR);

		return psprintf(ngettext("%d hour", "%d hours", hours), hours);
	}
	if (microseconds % USECS_PER_MINUTE == 0)
	{
		int			minutes = (int) (microseconds / USECS_PER_MINUTE);

		return psprintf(ngettext("%d minute", "%d minutes", minutes), minutes);
	}
	return psprintf(_("%.0f seconds"), (double) microseconds / USECS_PER_SEC);
}

/* In range, as the CHECK constraint appointments_time_range says, but with the times in the message. */
static void
check_time_range(Relation rel, HeapTuple tuple)
{
	const AppointmentColumns *col = &reflexo_catalog()->appt;
	bool		starts_null,
				ends_null;
	TimestampTz starts_at = DatumGetTimestampTz(heap_getattr(tuple, col->starts_at, RelationGetDescr(rel),
															 &starts_null));
	TimestampTz ends_at = DatumGetTimestampTz(heap_getattr(tuple, col->ends_at, RelationGetDescr(rel),
														   &ends_null));

	if ((starts_null || appointment_time_in_range(starts_at)) &&
		(ends_null || appointment_time_in_range(ends_at)))
		return;					/* NOT NULL rejects a missing time */
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("appointment time out of range"),
			 errdetail("It starts at %s and ends at %s; appointments start and end between "
					   "2000-01-01 and 2100-01-01 (UTC).",
					   starts_null ? "NULL" : instant_text(starts_at),
					   ends_null ? "NULL" : instant_text(ends_at)),
			 errhint("Check the dates: infinity and far-off years are not appointment times."),
			 errtableconstraint(rel, "appointments_time_range")));
}

/* A booking longer than the location's max_duration: refused, or flagged from GHL. */
static bool
check_max_duration(Booking *b, int64 lasts)
{
	count_validation(VALIDATION_TOO_LONG, !b->from_ghl);
	if (b->from_ghl)
	{
		b->flags[VALIDATION_TOO_LONG] = true;
		return false;
	}
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("the maximum duration is %s", interval_text(b->location.max_duration)),
			 errdetail("The appointment lasts %s; location %lld allows at most %s.",
					   interval_text(lasts), (long long) b->location_id,
					   interval_text(b->location.max_duration)),
			 errhint("Shorten the appointment, or raise the location's max_duration."),
			 errtableconstraint(b->rel, "appointments_max_duration")));
	return false;
}

/*
 * Ends after it starts, and lasts at least the location's minimum and at
 * most its maximum.  False when the booking is too broken for the hours and
 * overlap rules to mean anything (only changes from GHL get that far).
 */
static bool
check_duration(Booking *b)
{
	int64		lasts = b->ends_at - b->starts_at;
	int			minimum_minutes = (int) (b->location.min_duration / USECS_PER_MINUTE);

	if (b->ends_at <= b->starts_at || lasts < b->location.min_duration)
		count_validation(VALIDATION_TOO_SHORT, !b->from_ghl);
	if (b->ends_at <= b->starts_at)
	{
		if (b->from_ghl)
		{
			b->flags[VALIDATION_TOO_SHORT] = true;
			return false;		/* no interval to check further */
		}
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("appointment must end after it starts"),
				 errdetail("It starts at %s and ends at %s.",
						   instant_text(b->starts_at), instant_text(b->ends_at)),
				 errhint("Set ends_at later than starts_at."),
				 errtableconstraint(b->rel, "appointments_positive_duration")));
	}
	if (b->location.max_duration > 0 && lasts > b->location.max_duration)
		return check_max_duration(b, lasts);
	if (lasts >= b->location.min_duration)
		return true;
	if (b->from_ghl)
	{
		b->flags[VALIDATION_TOO_SHORT] = true;
		return true;
	}
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg_plural("the minimum duration is %d minute",
						   "the minimum duration is %d minutes",
						   minimum_minutes, minimum_minutes),
			 errdetail_plural("The appointment lasts %s; location %lld requires at least %d minute.",
							  "The appointment lasts %s; location %lld requires at least %d minutes.",
							  minimum_minutes, interval_text(lasts), (long long) b->location_id, minimum_minutes),
			 errhint("Make the appointment longer."),
			 errtableconstraint(b->rel, "appointments_min_duration")));
	return true;
}

/* Raises or warns, by enforcement; errors abort, warnings flag the row. */
static void
report(Booking *b, Enforcement how, ValidationKind kind, int sqlstate, const char *constraint,
	   const char *message, const char *detail, const char *hint)
{
	b->flags[kind] = true;
	count_validation(kind, how == ENFORCE_REJECT);
	if (how == ENFORCE_RECORD)
		return;
	ereport(how == ENFORCE_REJECT ? ERROR : WARNING,
			(errcode(sqlstate),
			 errmsg_internal("%s", message),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint),
			 errtableconstraint(b->rel, constraint)));
}

static const char *
flexible_hint(Enforcement how, const char *strict_hint)
{
	return how == ENFORCE_REJECT ? strict_hint : _("The appointment was stored and flagged.");
}

/* A setting's length for messages: "2 days", "1 month", "36 hours"... */
static char *
span_text(const Interval *span)
{
	StringInfoData out;

	initStringInfo(&out);
	if (span->month != 0)
		appendStringInfo(&out, ngettext("%d month", "%d months", span->month), span->month);
	if (span->day != 0)
		appendStringInfo(&out, "%s%s", out.len ? " " : "",
						 psprintf(ngettext("%d day", "%d days", span->day), span->day));
	if (span->time != 0 || out.len == 0)
		appendStringInfo(&out, "%s%s", out.len ? " " : "", interval_text(span->time));
	return out.data;
}

/* "It starts 2037-03-10 10:00 (America/Lima); it is now ..." */
static char *
start_and_now(Booking *b, TimestampTz now)
{
	return psprintf(_("It starts %s %s (%s); it is now %s %s."),
					local_date(b, b->starts_at), local_hhmm(b, b->starts_at), b->location.time_zone,
					local_date(b, now), local_hhmm(b, now));
}

/*
 * When a local booking may start: not in the past for staff (an admin may
 * record what happened), and within the calendar's minimum notice and
 * booking horizon (GHL allowBookingAfter and allowBookingFor), counted from
 * the transaction's start.  GHL's own bookings are only flagged.
 */
static void
check_booking_window(Booking *b, Enforcement how)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	const CalendarRow *cal = &b->calendar;
	TimestampTz earliest,
				latest;

	if (b->starts_at < now && !b->from_ghl && api_request_is_staff())
	{
		count_validation(VALIDATION_IN_PAST, true);
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("the appointment starts in the past"),
				 errdetail_internal("%s", start_and_now(b, now)),
				 errhint("Book a time from now on; an admin can record a past appointment."),
				 errtableconstraint(b->rel, "appointments_not_in_past")));
	}
	booking_window(cal, now, &earliest, &latest);
	if (b->starts_at < earliest)
		report(b, how, VALIDATION_TOO_SOON, ERRCODE_CHECK_VIOLATION, "appointments_min_notice",
			   psprintf(_("calendar \"%s\" needs %s notice"), cal->name, span_text(&cal->min_notice)),
			   start_and_now(b, now),
			   flexible_hint(how, _("Choose a later time, or lower the calendar's minimum notice in GHL.")));
	if (b->starts_at > latest)
		report(b, how, VALIDATION_TOO_FAR, ERRCODE_CHECK_VIOLATION, "appointments_booking_horizon",
			   psprintf(_("calendar \"%s\" takes bookings at most %s ahead"), cal->name,
						span_text(&cal->horizon)),
			   start_and_now(b, now),
			   flexible_hint(how, _("Choose an earlier time, or widen the calendar's booking window in GHL.")));
}

/*
 * Inside a week's working hours: the calendar's (else the location's), or
 * the therapist's when therapist_name is given.
 */
static void
check_week(Booking *b, Enforcement how, const WeekSchedule *week, const char *therapist_name)
{
	WallWalker	walker;
	WallSpan	span;
	Timestamp	gap;

	wall_walker_init(&walker, b->starts_at, b->ends_at, b->tz);
	while (wall_walker_next(&walker, &span))
	{
		int			dow;
		char		hours[WS_TEXT_MAX];
		char	   *when;
		const char *day;

		if (week_covers(week, &span, &gap))
			continue;
		dow = wall_day_of_week(gap);
		day = _(ws_day_name(dow));
		ws_format_day(week, dow, hours, sizeof(hours));
		when = psprintf(_("The appointment runs %s %s-%s (%s)."),
						local_date(b, b->starts_at), local_hhmm(b, b->starts_at),
						local_hhmm(b, b->ends_at), b->location.time_zone);
		if (therapist_name)
			report(b, how, VALIDATION_OUTSIDE_HOURS, ERRCODE_CHECK_VIOLATION,
				   "appointments_within_therapist_hours",
				   hours[0]
				   ? psprintf(_("outside the therapist's working hours: %s %s"), day, hours)
				   : psprintf(_("the therapist does not work on %s"), day),
				   hours[0]
				   ? psprintf(_("%s Therapist %s works on %s %s."), when, therapist_name, day, hours)
				   : psprintf(_("%s Therapist %s does not work on %s."), when, therapist_name, day),
				   flexible_hint(how, _("Choose a time inside the therapist's hours, or another therapist.")));
		else
			report(b, how, VALIDATION_OUTSIDE_HOURS, ERRCODE_CHECK_VIOLATION,
				   "appointments_within_open_hours",
				   hours[0]
				   ? psprintf(_("outside working hours: %s %s"), day, hours)
				   : psprintf(_("outside working hours: closed on %s"), day),
				   hours[0]
				   ? psprintf(_("%s Calendar \"%s\" is open on %s %s."), when, b->calendar.name, day, hours)
				   : psprintf(_("%s Calendar \"%s\" is closed on %s."), when, b->calendar.name, day),
				   flexible_hint(how, _("Choose a time inside working hours, or set "
										"reflexo.strict_validation = off to store it flagged.")));
		return;
	}
}

static const char *
closure_message(const ClosureRow *closure)
{
	switch (closure->subject)
	{
		case CLOSURE_LOCATION:
			return psprintf(_("the location is closed: %s"), closure->reason);
		case CLOSURE_CALENDAR:
			return psprintf(_("the calendar is closed: %s"), closure->reason);
		case CLOSURE_THERAPIST:
			break;
	}
	return psprintf(_("the therapist is away: %s"), closure->reason);
}

/*
 * Inside the calendar's (else location's) open hours and the therapist's,
 * and outside closures and the therapist's time off.
 */
static void
check_hours(Booking *b, Enforcement how)
{
	WallWalker	walker;
	WallSpan	span;
	List	   *closures;
	Timestamp	first = to_wall_clock(b->starts_at, b->tz);
	Timestamp	last = to_wall_clock(b->ends_at, b->tz);

	check_week(b, how, b->calendar.has_hours ? &b->calendar.hours : &b->location.hours, NULL);
	if (b->has_therapist_row && b->therapist_row.has_hours)
		check_week(b, how, &b->therapist_row.hours,
				   b->therapist_row.name[0] ? b->therapist_row.name : text_to_cstring(b->therapist));

	/* the wall-clock range spanned, widened by an hour for DST repeats */
	closures = fetch_closures(b->location_id, b->calendar_id, b->therapist,
							  Min(first, last) - USECS_PER_HOUR, Max(first, last) + USECS_PER_HOUR);
	if (closures == NIL)
		return;
	wall_walker_init(&walker, b->starts_at, b->ends_at, b->tz);
	while (wall_walker_next(&walker, &span))
	{
		ListCell   *lc;

		foreach(lc, closures)
		{
			ClosureRow *closure = lfirst(lc);
			char	   *from,
					   *until;

			if (span.from >= closure->closed_until || closure->closed_from >= span.to)
				continue;
			from = DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(closure->closed_from)));
			until = DatumGetCString(DirectFunctionCall1(timestamp_out, TimestampGetDatum(closure->closed_until)));
			report(b, how, VALIDATION_CLOSURE, ERRCODE_CHECK_VIOLATION, "appointments_not_in_closure",
				   closure_message(closure),
				   psprintf(_("Closed from %s until %s (%s)."), from, until, b->location.time_zone),
				   flexible_hint(how, _("Choose another day, or set reflexo.strict_validation = off "
										"to store it flagged.")));
			return;
		}
	}
}

/* "14:00 - 15:00", with dates when it does not start and end the same day. */
static char *
local_span(Booking *b, TimestampTz from, TimestampTz to)
{
	char	   *from_date = local_date(b, from);
	char	   *to_date = local_date(b, to);

	if (strcmp(from_date, to_date) == 0)
		return psprintf("%s - %s", local_hhmm(b, from), local_hhmm(b, to));
	return psprintf("%s %s - %s %s", from_date, local_hhmm(b, from), to_date, local_hhmm(b, to));
}

/* Not over the calendar's capacity, and the therapist is free. */
static void
check_overlap(Booking *b, Enforcement how)
{
	BookingRequest request = {
		.appointments = b->rel,
		.has_self = b->has_id,
		.self_id = b->id,
		.location_id = b->location_id,
		.calendar_id = b->calendar_id,
		.capacity = b->calendar.capacity,
		.therapist = b->therapist,
		.starts_at = b->starts_at,
		.ends_at = b->ends_at,
		.buffer_before = b->calendar.buffer_before,
		.buffer_after = b->calendar.buffer_after,
		.max_per_day = b->calendar.max_per_day,
	};
	Conflict	conflict;
	char	   *who;
	char	   *when;
	char	   *detail;

	if (request.max_per_day > 0)
		local_day_bounds(b->starts_at, b->tz, &request.day_from, &request.day_to);
	lock_booking(&request);
	find_booking_conflict(&request, &conflict);
	if (conflict.kind == CONFLICT_NONE)
		return;

	who = conflict.title[0] ? conflict.title : psprintf(_("appointment %lld"), (long long) conflict.id);
	when = psprintf("%s %s-%s (%s)", local_date(b, conflict.starts_at),
					local_hhmm(b, conflict.starts_at), local_hhmm(b, conflict.ends_at),
					b->location.time_zone);
	if (strcmp(local_date(b, conflict.starts_at), local_date(b, conflict.ends_at)) != 0)
		when = psprintf("%s (%s)", local_span(b, conflict.starts_at, conflict.ends_at),
						b->location.time_zone);
	if (conflict.kind == CONFLICT_CALENDAR_FULL &&
		(conflict.ends_at <= b->starts_at || conflict.starts_at >= b->ends_at))
		detail = psprintf(_("Calendar \"%s\" keeps %s free before and %s after each appointment; "
							"appointment %lld runs %s."),
						  b->calendar.name, interval_text(b->calendar.buffer_before),
						  interval_text(b->calendar.buffer_after), (long long) conflict.id, when);
	else if (conflict.kind == CONFLICT_CALENDAR_FULL)
		detail = psprintf(ngettext("Calendar \"%s\" allows %d appointment at a time; appointment %lld runs %s.",
								   "Calendar \"%s\" allows %d appointments at a time; appointment %lld runs %s.",
								   b->calendar.capacity),
						  b->calendar.name, b->calendar.capacity, (long long) conflict.id, when);
	else if (conflict.kind == CONFLICT_DAY_FULL)
		detail = psprintf(ngettext("Calendar \"%s\" takes %d appointment a day; %s already has %d.",
								   "Calendar \"%s\" takes %d appointments a day; %s already has %d.",
								   b->calendar.max_per_day),
						  b->calendar.name, b->calendar.max_per_day, local_date(b, b->starts_at),
						  conflict.day_count);
	else
		detail = psprintf(_("Therapist %s already has appointment %lld at %s in this location."),
						  text_to_cstring(b->therapist), (long long) conflict.id, when);

	if (conflict.after_snapshot && how == ENFORCE_REJECT)
		ereport(ERROR,	/* not a broken rule yet: the retry will tell */
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent booking"),
				 errdetail_internal("%s %s", detail,
									_("It was committed after this transaction's snapshot was taken.")),
				 errhint("Retry the transaction."),
				 errtableconstraint(b->rel, conflict.kind == CONFLICT_DAY_FULL ?
									"appointments_max_per_day" : "appointments_no_overlap")));

	if (conflict.kind == CONFLICT_DAY_FULL)
	{
		report(b, how, VALIDATION_DAY_FULL, ERRCODE_EXCLUSION_VIOLATION, "appointments_max_per_day",
			   psprintf(_("calendar \"%s\" is full on %s"), b->calendar.name, local_date(b, b->starts_at)),
			   detail,
			   flexible_hint(how, _("Choose another day or calendar.")));
		return;
	}
	report(b, how, VALIDATION_OVERLAP, ERRCODE_EXCLUSION_VIOLATION, "appointments_no_overlap",
		   psprintf(_("schedule conflict with: %s (%s)"), who,
					local_span(b, conflict.starts_at, conflict.ends_at)),
		   detail,
		   flexible_hint(how, _("Choose another time or calendar, or set reflexo.strict_validation = off "
								"to store it flagged.")));
}

static Datum
flags_array(const bool flags[NUM_VALIDATION_KINDS])
{
	Datum		elems[NUM_VALIDATION_KINDS];
	int			n = 0;

	for (int i = 0; i < NUM_VALIDATION_KINDS; i++)
		if (flags[i])
			elems[n++] = CStringGetTextDatum(validation_kind_names[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Column values the trigger replaces in the row being written. */
typedef struct TupleEdit
{
	int			n;
	int			columns[12];
	Datum		values[12];
	bool		nulls[12];
} TupleEdit;

static void
edit_set(TupleEdit *edit, AttrNumber column, Datum value)
{
	Assert(edit->n < lengthof(edit->columns));
	edit->columns[edit->n] = column;
	edit->values[edit->n] = value;
	edit->nulls[edit->n] = false;
	edit->n++;
}

static void
edit_set_null(TupleEdit *edit, AttrNumber column)
{
	edit_set(edit, column, (Datum) 0);
	edit->nulls[edit->n - 1] = true;
}

static Datum
edited(Relation rel, HeapTuple tuple, TupleEdit *edit)
{
	if (edit->n == 0)
		return PointerGetDatum(tuple);
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, RelationGetDescr(rel), edit->n,
													 edit->columns, edit->values, edit->nulls));
}

/* Records who made a business change, and whether GHL still has to hear of it. */
static void
stamp_change(TupleEdit *edit)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	bool		from_ghl = change_from_ghl();

	edit_set(edit, cat->appt.origin, ObjectIdGetDatum(from_ghl ? cat->origin_ghl : cat->origin_local));
	edit_set(edit, cat->appt.sync_state, ObjectIdGetDatum(from_ghl ? cat->sync_synced : cat->sync_pending));
	if (!from_ghl)
		edit_set(edit, cat->appt.local_changed_at,
				 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
	else if (cat->appt.synced_at != InvalidAttrNumber && cat->appt.sync_error != InvalidAttrNumber)
	{
		/* the row is GHL's state as of now */
		edit_set(edit, cat->appt.synced_at, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
		edit_set_null(edit, cat->appt.sync_error);
	}
}

Datum
appointment_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	const ReflexoCatalog *cat;
	Relation	rel;
	HeapTuple	tuple;
	bool		is_update;
	Booking		b;
	Enforcement how;
	TupleEdit	edit = {0};

	require_row_trigger(fcinfo, "appointment_guard", true);
	if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
		return PointerGetDatum(trigger->tg_trigtuple);
	cat = reflexo_catalog();
	rel = trigger->tg_relation;
	is_update = TRIGGER_FIRED_BY_UPDATE(trigger->tg_event);
	tuple = is_update ? trigger->tg_newtuple : trigger->tg_trigtuple;

	if (is_update)
	{
		edit_set(&edit, cat->appt.updated_at, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
		if (!business_fields_changed(rel, trigger->tg_trigtuple, tuple))
			return edited(rel, tuple, &edit);	/* bookkeeping only */
	}
	stamp_change(&edit);
	check_time_range(rel, tuple);

	if (!occupies_slot(rel, tuple))
	{
		/* cancelled or invalid: frees its slot and breaks no rule */
		edit_set(&edit, cat->appt.validation_flags, flags_array((bool[NUM_VALIDATION_KINDS]) {false}));
		return edited(rel, tuple, &edit);
	}
	if (is_update && !booking_moved(rel, trigger->tg_trigtuple, tuple))
		return edited(rel, tuple, &edit);

	read_booking(&b, rel, tuple);
	if (b.starts_at == DT_NOBEGIN || b.ends_at == DT_NOBEGIN)
		return edited(rel, tuple, &edit);	/* NOT NULL will reject it */

	check_calendar(&b);
	if (b.therapist)
		b.has_therapist_row = fetch_therapist(b.location_id, b.therapist, &b.therapist_row);
	how = enforcement_for(&b);
	if (check_duration(&b))
	{
		check_booking_window(&b, how);
		check_hours(&b, how);
		check_overlap(&b, how);
	}

	edit_set(&edit, cat->appt.location_id, Int64GetDatum(b.location_id));
	edit_set(&edit, cat->appt.calendar_id, Int64GetDatum(b.calendar_id));
	edit_set(&edit, cat->appt.validation_flags, flags_array(b.flags));
	return edited(rel, tuple, &edit);
}

/* BEFORE UPDATE row trigger: keeps updated_at at the transaction's time. */
Datum
touch_updated_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	int			attnum;
	Datum		now;
	bool		isnull = false;

	require_row_trigger(fcinfo, "touch_updated_at", true);
	if (!TRIGGER_FIRED_BY_UPDATE(trigger->tg_event))
		return PointerGetDatum(trigger->tg_trigtuple);
	attnum = SPI_fnumber(RelationGetDescr(trigger->tg_relation), "updated_at");
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" has no column \"updated_at\"",
						RelationGetRelationName(trigger->tg_relation))));
	now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return PointerGetDatum(heap_modify_tuple_by_cols(trigger->tg_newtuple,
													 RelationGetDescr(trigger->tg_relation),
													 1, &attnum, &now, &isnull));
}
