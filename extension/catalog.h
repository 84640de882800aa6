/*
 * catalog.h — where the extension's tables, indexes and columns are, and
 * typed reads of the rows the guard needs.
 */
#ifndef REFLEXO_CATALOG_H
#define REFLEXO_CATALOG_H

#include "postgres.h"

#include "access/genam.h"
#include "nodes/pg_list.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"
#include "week_schedule.h"

typedef struct AppointmentColumns
{
	AttrNumber	id,
				location_id,
				calendar_id,
				ghl_appointment_id,
				contact_id,
				assigned_user_id,
				title,
				notes,
				status,
				starts_at,
				ends_at,
				sync_state,
				origin,
				validation_flags,
				local_changed_at,
				updated_at,
				synced_at,		/* 0 before ALTER EXTENSION UPDATE to 0.2.0 */
				sync_error;		/* likewise */
} AppointmentColumns;

/* The columns of reflexo.outbox a new row is given (the others start NULL). */
typedef struct OutboxColumns
{
	AttrNumber	id,
				appointment_id,
				location_id,
				operation,
				payload,
				ghl_appointment_id,
				state,
				attempts,
				next_attempt_at,
				created_txid,
				created_at,
				updated_at;
} OutboxColumns;

typedef struct HistoryColumns
{
	AttrNumber	id,
				appointment_id,
				location_id,
				operation,
				origin,
				actor,
				txid,
				changed_at,
				old_values,
				new_values;
} HistoryColumns;

typedef struct ReflexoCatalog
{
	Oid			locations,
				calendars,
				appointments,
				closures,
				therapists,		/* InvalidOid before ALTER EXTENSION UPDATE to 0.2.0 */
				outbox,
				appointment_history,
				outbox_id_sequence,
				history_id_sequence;
	Oid			locations_pkey,
				calendars_pkey,
				therapists_pkey,	/* likewise */
				closures_location_until_idx,
				appointments_calendar_active_idx,
				appointments_user_active_idx,
				appointments_long_active_idx;
	Oid			status_cancelled,
				status_invalid,
				origin_local,
				origin_ghl,
				sync_pending,
				sync_synced,
				outbox_pending;
	Oid			outbox_operations[4];	/* create, update, cancel, delete */
	Oid			history_insert,
				history_update,
				history_delete;
	AppointmentColumns appt;
	OutboxColumns outbox_col;
	bool		outbox_payload_required;	/* NOT NULL before ALTER EXTENSION UPDATE to 0.2.0 */
	HistoryColumns history_col;
} ReflexoCatalog;

typedef struct LocationRow
{
	int64		id;
	bool		is_active;
	char	   *time_zone;
	WeekSchedule hours;
	int64		min_duration;	/* microseconds */
	int64		max_duration;	/* microseconds; 0 = no limit (a database not yet updated to 0.2.0) */
	bool		strict_validation;
	bool		staff_flexible;	/* staff may ask for flexible validation (0.2.0) */
	bool		has_default_calendar;
	int64		default_calendar_id;
} LocationRow;

typedef struct CalendarRow
{
	int64		id;
	int64		location_id;
	char	   *ghl_calendar_id;	/* NULL until GHL knows it */
	char	   *name;
	bool		is_active;
	int32		capacity;
	bool		has_hours;
	WeekSchedule hours;
	/* GHL's booking settings (0.2.0; zero before the update) */
	int64		buffer_before;	/* microseconds */
	int64		buffer_after;	/* microseconds */
	Interval	min_notice;
	bool		has_horizon;
	Interval	horizon;
	int32		max_per_day;	/* 0: no limit */
} CalendarRow;

typedef struct TherapistRow
{
	char	   *name;
	bool		has_hours;
	WeekSchedule hours;
} TherapistRow;

/* Who a closure keeps from working. */
typedef enum ClosureSubject
{
	CLOSURE_LOCATION,
	CLOSURE_CALENDAR,
	CLOSURE_THERAPIST			/* time off */
} ClosureSubject;

typedef struct ClosureRow
{
	Timestamp	closed_from;
	Timestamp	closed_until;
	char	   *reason;
	ClosureSubject subject;
} ClosureRow;

extern const ReflexoCatalog *reflexo_catalog(void);
extern bool fetch_location(int64 id, LocationRow *row);
extern bool fetch_calendar(int64 id, CalendarRow *row);
extern void booking_window(const CalendarRow *calendar, TimestampTz now,
						   TimestampTz *earliest, TimestampTz *latest);
extern bool text_datum_equals(Datum a, text *b);
extern bool fetch_therapist(int64 location_id, text *ghl_user_id, TherapistRow *row);
extern List *fetch_closures(int64 location_id, int64 calendar_id, text *therapist,
							Timestamp from, Timestamp until);
extern IndexScanDesc begin_index_scan(Relation heap, Relation index, Snapshot snapshot,
									  ScanKey keys, int nkeys, bool want_index_tuples);
extern bool status_is_active(Datum status);

#endif							/* REFLEXO_CATALOG_H */
