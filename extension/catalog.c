/*
 * catalog.c — resolve the extension's relations, indexes, columns and enum
 * labels once per backend, and read locations, calendars and closures.
 *
 * Names are resolved lazily and cached; a relcache invalidation of any of
 * our relations (or a full reset) throws the cache away, so DROP/CREATE
 * EXTENSION or ALTER TABLE in another session is picked up safely.
 */
#include "catalog.h"
#include "reflexo.h"

#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "open_hours.h"
#include "row_places.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

typedef struct LocationColumns
{
	AttrNumber	id,
				is_active,
				timezone,
				open_hours,
				min_duration,
				max_duration,
				strict_validation,
				staff_flexible,
				default_calendar_id;
} LocationColumns;

typedef struct CalendarColumns
{
	AttrNumber	id,
				location_id,
				ghl_calendar_id,
				name,
				is_active,
				capacity,
				open_hours,
				buffer_before,	/* 0.2.0: 0 before the update */
				buffer_after,
				min_notice,
				booking_horizon,
				max_per_day;
} CalendarColumns;

typedef struct TherapistColumns
{
	AttrNumber	location_id,
				ghl_user_id,
				name,
				open_hours;
} TherapistColumns;

typedef struct ClosureColumns
{
	AttrNumber	calendar_id,
				closed_from,
				closed_until,
				reason,
				ghl_user_id;	/* 0.2.0: 0 before the update */
} ClosureColumns;

static ReflexoCatalog catalog;
static LocationColumns loc_cols;
static CalendarColumns cal_cols;
static ClosureColumns clo_cols;
static TherapistColumns ther_cols;
static bool catalog_valid = false;
static bool callback_registered = false;

static void
invalidate_catalog(Datum arg pg_attribute_unused(), Oid relid)
{
	row_places_forget(relid);
	if (!catalog_valid)
		return;
	if (relid == InvalidOid ||
		relid == catalog.locations || relid == catalog.calendars ||
		relid == catalog.appointments || relid == catalog.closures ||
		relid == catalog.outbox || relid == catalog.appointment_history ||
		(OidIsValid(catalog.therapists) && relid == catalog.therapists))
		catalog_valid = false;
}

static Oid
relation_in(Oid schema, const char *name)
{
	Oid			relid = get_relname_relid(name, schema);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"reflexo.%s\" does not exist", name),
				 errhint("The reflexo extension is damaged; reinstall it with DROP EXTENSION and CREATE EXTENSION.")));
	return relid;
}

static AttrNumber
column_of(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", name, get_rel_name(relid)),
				 errhint("The reflexo extension is damaged; reinstall it with DROP EXTENSION and CREATE EXTENSION.")));
	return attnum;
}

static bool
column_is_not_null(Oid relid, AttrNumber column)
{
	HeapTuple	tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(column));
	bool		not_null;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u", column, relid);
	not_null = ((Form_pg_attribute) GETSTRUCT(tuple))->attnotnull;
	ReleaseSysCache(tuple);
	return not_null;
}

/* The sequence behind an identity column. */
static Oid
identity_sequence(Oid relid, AttrNumber column)
{
#if PG_VERSION_NUM >= 170000
	Relation	rel = relation_open(relid, AccessShareLock);
	Oid			sequence = getIdentitySequence(rel, column, false);

	relation_close(rel, AccessShareLock);
	return sequence;
#else
	return getIdentitySequence(relid, column, false);
#endif
}

static Oid
enum_label(Oid schema, const char *type_name, const char *label)
{
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum(type_name), ObjectIdGetDatum(schema));
	HeapTuple	tuple;
	Oid			result;

	if (!OidIsValid(typid))
		elog(ERROR, "type reflexo.%s does not exist", type_name);
	tuple = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(typid), CStringGetDatum(label));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "enum reflexo.%s has no label \"%s\"", type_name, label);
	result = ((Form_pg_enum) GETSTRUCT(tuple))->oid;
	ReleaseSysCache(tuple);
	return result;
}

const ReflexoCatalog *
reflexo_catalog(void)
{
	Oid			schema;

	if (catalog_valid)
		return &catalog;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(invalidate_catalog, (Datum) 0);
		callback_registered = true;
	}

	schema = get_namespace_oid("reflexo", false);
	catalog.locations = relation_in(schema, "locations");
	catalog.calendars = relation_in(schema, "calendars");
	catalog.appointments = relation_in(schema, "appointments");
	catalog.closures = relation_in(schema, "closures");
	catalog.locations_pkey = relation_in(schema, "locations_pkey");
	catalog.calendars_pkey = relation_in(schema, "calendars_pkey");
	catalog.closures_location_until_idx = relation_in(schema, "closures_location_until_idx");
	/* added in 0.2.0: the new library may run before ALTER EXTENSION UPDATE */
	catalog.therapists = get_relname_relid("therapists", schema);
	catalog.therapists_pkey = get_relname_relid("therapists_pkey", schema);
	catalog.appointments_calendar_active_idx = relation_in(schema, "appointments_calendar_active_idx");
	catalog.appointments_user_active_idx = relation_in(schema, "appointments_user_active_idx");
	catalog.appointments_long_active_idx = relation_in(schema, "appointments_long_active_idx");
	catalog.status_cancelled = enum_label(schema, "appointment_status", "cancelled");
	catalog.status_invalid = enum_label(schema, "appointment_status", "invalid");
	catalog.origin_local = enum_label(schema, "origin", "local");
	catalog.origin_ghl = enum_label(schema, "origin", "ghl");
	catalog.sync_pending = enum_label(schema, "sync_state", "pending");
	catalog.sync_synced = enum_label(schema, "sync_state", "synced");
	catalog.outbox_pending = enum_label(schema, "outbox_state", "pending");
	catalog.outbox_operations[0] = enum_label(schema, "outbox_operation", "create");
	catalog.outbox_operations[1] = enum_label(schema, "outbox_operation", "update");
	catalog.outbox_operations[2] = enum_label(schema, "outbox_operation", "cancel");
	catalog.outbox_operations[3] = enum_label(schema, "outbox_operation", "delete");
	catalog.history_insert = enum_label(schema, "history_operation", "insert");
	catalog.history_update = enum_label(schema, "history_operation", "update");
	catalog.history_delete = enum_label(schema, "history_operation", "delete");

	catalog.appt.id = column_of(catalog.appointments, "id");
	catalog.appt.location_id = column_of(catalog.appointments, "location_id");
	catalog.appt.calendar_id = column_of(catalog.appointments, "calendar_id");
	catalog.appt.ghl_appointment_id = column_of(catalog.appointments, "ghl_appointment_id");
	catalog.appt.contact_id = column_of(catalog.appointments, "contact_id");
	catalog.appt.assigned_user_id = column_of(catalog.appointments, "assigned_user_id");
	catalog.appt.title = column_of(catalog.appointments, "title");
	catalog.appt.notes = column_of(catalog.appointments, "notes");
	catalog.appt.status = column_of(catalog.appointments, "status");
	catalog.appt.starts_at = column_of(catalog.appointments, "starts_at");
	catalog.appt.ends_at = column_of(catalog.appointments, "ends_at");
	catalog.appt.sync_state = column_of(catalog.appointments, "sync_state");
	catalog.appt.origin = column_of(catalog.appointments, "origin");
	catalog.appt.local_changed_at = column_of(catalog.appointments, "local_changed_at");
	catalog.appt.validation_flags = column_of(catalog.appointments, "validation_flags");
	catalog.appt.updated_at = column_of(catalog.appointments, "updated_at");
	/* added in 0.2.0: the new library may run before ALTER EXTENSION UPDATE */
	catalog.appt.synced_at = get_attnum(catalog.appointments, "synced_at");
	catalog.appt.sync_error = get_attnum(catalog.appointments, "sync_error");

	catalog.outbox = relation_in(schema, "outbox");
	catalog.outbox_col.id = column_of(catalog.outbox, "id");
	catalog.outbox_col.appointment_id = column_of(catalog.outbox, "appointment_id");
	catalog.outbox_col.location_id = column_of(catalog.outbox, "location_id");
	catalog.outbox_col.operation = column_of(catalog.outbox, "operation");
	catalog.outbox_col.payload = column_of(catalog.outbox, "payload");
	catalog.outbox_payload_required = column_is_not_null(catalog.outbox, catalog.outbox_col.payload);
	catalog.outbox_col.ghl_appointment_id = column_of(catalog.outbox, "ghl_appointment_id");
	catalog.outbox_col.state = column_of(catalog.outbox, "state");
	catalog.outbox_col.attempts = column_of(catalog.outbox, "attempts");
	catalog.outbox_col.next_attempt_at = column_of(catalog.outbox, "next_attempt_at");
	catalog.outbox_col.created_txid = column_of(catalog.outbox, "created_txid");
	catalog.outbox_col.created_at = column_of(catalog.outbox, "created_at");
	catalog.outbox_col.updated_at = column_of(catalog.outbox, "updated_at");
	catalog.outbox_id_sequence = identity_sequence(catalog.outbox, catalog.outbox_col.id);

	catalog.appointment_history = relation_in(schema, "appointment_history");
	catalog.history_col.id = column_of(catalog.appointment_history, "id");
	catalog.history_col.appointment_id = column_of(catalog.appointment_history, "appointment_id");
	catalog.history_col.location_id = column_of(catalog.appointment_history, "location_id");
	catalog.history_col.operation = column_of(catalog.appointment_history, "operation");
	catalog.history_col.origin = column_of(catalog.appointment_history, "origin");
	catalog.history_col.actor = column_of(catalog.appointment_history, "actor");
	catalog.history_col.txid = column_of(catalog.appointment_history, "txid");
	catalog.history_col.changed_at = column_of(catalog.appointment_history, "changed_at");
	catalog.history_col.old_values = column_of(catalog.appointment_history, "old_values");
	catalog.history_col.new_values = column_of(catalog.appointment_history, "new_values");
	catalog.history_id_sequence = identity_sequence(catalog.appointment_history, catalog.history_col.id);

	loc_cols.id = column_of(catalog.locations, "id");
	loc_cols.is_active = column_of(catalog.locations, "is_active");
	loc_cols.timezone = column_of(catalog.locations, "timezone");
	loc_cols.open_hours = column_of(catalog.locations, "open_hours");
	loc_cols.min_duration = column_of(catalog.locations, "min_duration");
	/* added in 0.2.0: the new library may run before ALTER EXTENSION UPDATE */
	loc_cols.max_duration = get_attnum(catalog.locations, "max_duration");
	loc_cols.strict_validation = column_of(catalog.locations, "strict_validation");
	loc_cols.staff_flexible = get_attnum(catalog.locations, "staff_flexible");	/* 0.2.0 */
	loc_cols.default_calendar_id = column_of(catalog.locations, "default_calendar_id");

	cal_cols.id = column_of(catalog.calendars, "id");
	cal_cols.location_id = column_of(catalog.calendars, "location_id");
	cal_cols.ghl_calendar_id = column_of(catalog.calendars, "ghl_calendar_id");
	cal_cols.name = column_of(catalog.calendars, "name");
	cal_cols.is_active = column_of(catalog.calendars, "is_active");
	cal_cols.capacity = column_of(catalog.calendars, "capacity");
	cal_cols.open_hours = column_of(catalog.calendars, "open_hours");
	cal_cols.buffer_before = get_attnum(catalog.calendars, "buffer_before");	/* 0.2.0 */
	cal_cols.buffer_after = get_attnum(catalog.calendars, "buffer_after");
	cal_cols.min_notice = get_attnum(catalog.calendars, "min_notice");
	cal_cols.booking_horizon = get_attnum(catalog.calendars, "booking_horizon");
	cal_cols.max_per_day = get_attnum(catalog.calendars, "max_per_day");

	if (OidIsValid(catalog.therapists))
	{
		ther_cols.location_id = column_of(catalog.therapists, "location_id");
		ther_cols.ghl_user_id = column_of(catalog.therapists, "ghl_user_id");
		ther_cols.name = column_of(catalog.therapists, "name");
		ther_cols.open_hours = column_of(catalog.therapists, "open_hours");
	}

	clo_cols.calendar_id = column_of(catalog.closures, "calendar_id");
	clo_cols.closed_from = column_of(catalog.closures, "closed_from");
	clo_cols.closed_until = column_of(catalog.closures, "closed_until");
	clo_cols.reason = column_of(catalog.closures, "reason");
	clo_cols.ghl_user_id = get_attnum(catalog.closures, "ghl_user_id");	/* 0.2.0 */

	catalog_valid = true;
	return &catalog;
}

bool
status_is_active(Datum status)
{
	Oid			label = DatumGetObjectId(status);

	return label != catalog.status_cancelled && label != catalog.status_invalid;
}

/*
 * Starts an index scan.  With want_index_tuples the caller may read each
 * entry's columns (scan->xs_itup) before deciding to visit the heap.
 */
IndexScanDesc
begin_index_scan(Relation heap, Relation index, Snapshot snapshot, ScanKey keys, int nkeys,
				 bool want_index_tuples)
{
	IndexScanDesc scan;

#if PG_VERSION_NUM >= 180000
	scan = index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	scan = index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
	scan->xs_want_itup = want_index_tuples;
	index_rescan(scan, keys, nkeys, NULL, 0);
	return scan;
}

/* A table opened to read one row by primary key. */
typedef struct RowById
{
	Relation	heap;
	TupleTableSlot *slot;
} RowById;

/* The row in slot has the values of keys (key i compares heap column columns[i]). */
static bool
slot_has_keys(TupleTableSlot *slot, ScanKey keys, const AttrNumber *columns, int nkeys)
{
	for (int i = 0; i < nkeys; i++)
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, columns[i], &isnull);

		if (isnull || !DatumGetBool(FunctionCall2Coll(&keys[i].sk_func, keys[i].sk_collation,
													  value, keys[i].sk_argument)))
			return false;
	}
	return true;
}

/*
 * Reads into slot the row of heap whose primary key pkey has the values of
 * keys; false if there is none.  It is looked for where it was last found
 * first (row_places.c), then down the index.
 */
static bool
find_by_primary_key(Relation heap, Oid pkey, ScanKey keys, const AttrNumber *columns, int nkeys,
					const RowPlaceKey *place, TupleTableSlot *slot)
{
	Relation	index;
	IndexScanDesc scan;
	bool		found;

	if (row_place_fetch(heap, place, GetActiveSnapshot(), slot) &&
		slot_has_keys(slot, keys, columns, nkeys))
		return true;
	index = index_open(pkey, AccessShareLock);
	scan = begin_index_scan(heap, index, GetActiveSnapshot(), keys, nkeys, false);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(index, AccessShareLock);
	if (found)
		row_place_remember(place, &slot->tts_tid);
	return found;
}

/* Reads the row of relid whose primary key (pkey, on id_column) is id; false if there is none. */
static bool
open_row_by_id(Oid relid, Oid pkey, AttrNumber id_column, int64 id, RowById *row)
{
	RowPlaceKey place = row_place_key(relid, id, NULL);
	ScanKeyData key;

	row->heap = table_open(relid, AccessShareLock);
	row->slot = table_slot_create(row->heap, NULL);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
	return find_by_primary_key(row->heap, pkey, &key, &id_column, 1, &place, row->slot);
}

static void
close_row(RowById *row)
{
	ExecDropSingleTupleTableSlot(row->slot);
	table_close(row->heap, AccessShareLock);
}

static int64
interval_microseconds(Interval *span)
{
	return span->time + (int64) span->day * USECS_PER_DAY +
		(int64) span->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

bool
fetch_location(int64 id, LocationRow *row)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	RowById		found;
	bool		exists = open_row_by_id(cat->locations, cat->locations_pkey, loc_cols.id, id, &found);

	if (exists)
	{
		TupleTableSlot *slot = found.slot;
		bool		isnull;
		Datum		value;

		row->id = id;
		row->is_active = DatumGetBool(slot_getattr(slot, loc_cols.is_active, &isnull));
		row->time_zone = TextDatumGetCString(slot_getattr(slot, loc_cols.timezone, &isnull));
		open_hours_to_week(DatumGetOpenHoursP(slot_getattr(slot, loc_cols.open_hours, &isnull)),
						   &row->hours);
		row->min_duration = interval_microseconds(DatumGetIntervalP(slot_getattr(slot, loc_cols.min_duration, &isnull)));
		row->max_duration = loc_cols.max_duration == InvalidAttrNumber ? 0 :
			interval_microseconds(DatumGetIntervalP(slot_getattr(slot, loc_cols.max_duration, &isnull)));
		row->strict_validation = DatumGetBool(slot_getattr(slot, loc_cols.strict_validation, &isnull));
		row->staff_flexible = loc_cols.staff_flexible != InvalidAttrNumber &&
			DatumGetBool(slot_getattr(slot, loc_cols.staff_flexible, &isnull));
		value = slot_getattr(slot, loc_cols.default_calendar_id, &isnull);
		row->has_default_calendar = !isnull;
		row->default_calendar_id = isnull ? 0 : DatumGetInt64(value);
	}
	close_row(&found);
	return exists;
}

static Interval
interval_or_zero(TupleTableSlot *slot, AttrNumber column, bool *present)
{
	bool		isnull = true;
	Datum		value = column != InvalidAttrNumber ? slot_getattr(slot, column, &isnull) : (Datum) 0;
	Interval	zero = {0};

	*present = !isnull;
	return isnull ? zero : *DatumGetIntervalP(value);
}

/* GHL's booking settings of a calendar (columns of 0.2.0: absent before the update). */
static void
read_booking_settings(TupleTableSlot *slot, CalendarRow *row)
{
	bool		present;
	Interval	span;
	Datum		value;
	bool		isnull = true;

	span = interval_or_zero(slot, cal_cols.buffer_before, &present);
	row->buffer_before = interval_microseconds(&span);
	span = interval_or_zero(slot, cal_cols.buffer_after, &present);
	row->buffer_after = interval_microseconds(&span);
	row->min_notice = interval_or_zero(slot, cal_cols.min_notice, &present);
	row->horizon = interval_or_zero(slot, cal_cols.booking_horizon, &row->has_horizon);
	if (cal_cols.max_per_day != InvalidAttrNumber)
		value = slot_getattr(slot, cal_cols.max_per_day, &isnull);
	row->max_per_day = isnull ? 0 : DatumGetInt32(value);
}

/*
 * When a local booking made now may start: not before the calendar's minimum
 * notice (GHL allowBookingAfter) and not after its horizon (allowBookingFor),
 * DT_NOBEGIN and DT_NOEND when it has none.  Months and days count on the
 * session's calendar, as timestamptz + interval does.
 */
void
booking_window(const CalendarRow *calendar, TimestampTz now, TimestampTz *earliest, TimestampTz *latest)
{
	const Interval *notice = &calendar->min_notice;

	*earliest = notice->month == 0 && notice->day == 0 && notice->time == 0 ? DT_NOBEGIN :
		DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
												IntervalPGetDatum(notice)));
	*latest = !calendar->has_horizon ? DT_NOEND :
		DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
												IntervalPGetDatum(&calendar->horizon)));
}

bool
fetch_calendar(int64 id, CalendarRow *row)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	RowById		found;
	bool		exists = open_row_by_id(cat->calendars, cat->calendars_pkey, cal_cols.id, id, &found);

	if (exists)
	{
		TupleTableSlot *slot = found.slot;
		bool		isnull;
		Datum		hours;
		Datum		ghl_id;

		row->id = id;
		row->location_id = DatumGetInt64(slot_getattr(slot, cal_cols.location_id, &isnull));
		ghl_id = slot_getattr(slot, cal_cols.ghl_calendar_id, &isnull);
		row->ghl_calendar_id = isnull ? NULL : TextDatumGetCString(ghl_id);
		row->name = TextDatumGetCString(slot_getattr(slot, cal_cols.name, &isnull));
		row->is_active = DatumGetBool(slot_getattr(slot, cal_cols.is_active, &isnull));
		row->capacity = DatumGetInt32(slot_getattr(slot, cal_cols.capacity, &isnull));
		hours = slot_getattr(slot, cal_cols.open_hours, &isnull);
		row->has_hours = !isnull;
		if (!isnull)
			open_hours_to_week(DatumGetOpenHoursP(hours), &row->hours);
		read_booking_settings(slot, row);
	}
	close_row(&found);
	return exists;
}

/*
 * A therapist of the location (reflexo.therapists), by GHL user id; false
 * when the location does not list them (then no hours of their own apply).
 */
bool
fetch_therapist(int64 location_id, text *ghl_user_id, TherapistRow *row)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	AttrNumber	columns[2] = {ther_cols.location_id, ther_cols.ghl_user_id};
	RowPlaceKey place;
	Relation	heap;
	TupleTableSlot *slot;
	ScanKeyData keys[2];
	bool		found;

	if (!OidIsValid(cat->therapists) || !OidIsValid(cat->therapists_pkey))
		return false;
	place = row_place_key(cat->therapists, location_id, ghl_user_id);
	heap = table_open(cat->therapists, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(location_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(ghl_user_id));
	keys[1].sk_collation = TupleDescAttr(RelationGetDescr(heap), ther_cols.ghl_user_id - 1)->attcollation;
	found = find_by_primary_key(heap, cat->therapists_pkey, keys, columns, 2, &place, slot);
	if (found)
	{
		bool		isnull;
		Datum		hours;

		row->name = TextDatumGetCString(slot_getattr(slot, ther_cols.name, &isnull));
		hours = slot_getattr(slot, ther_cols.open_hours, &isnull);
		row->has_hours = !isnull;
		if (!isnull)
			open_hours_to_week(DatumGetOpenHoursP(hours), &row->hours);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, AccessShareLock);
	return found;
}

bool
text_datum_equals(Datum a, text *b)
{
	text	   *ta = DatumGetTextPP(a);

	return VARSIZE_ANY_EXHDR(ta) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(ta), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)) == 0;
}

/*
 * Closures of the location, of this one calendar, or time off of this
 * therapist (when not NULL), that overlap the local wall-clock range
 * [from, until).  Returns a List of ClosureRow pointers.
 */
List *
fetch_closures(int64 location_id, int64 calendar_id, text *therapist, Timestamp from, Timestamp until)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	Relation	heap = table_open(cat->closures, AccessShareLock);
	Relation	index = index_open(cat->closures_location_until_idx, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ScanKeyData keys[2];
	IndexScanDesc scan;
	List	   *result = NIL;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(location_id));
	ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, F_TIMESTAMP_GT, TimestampGetDatum(from));
	scan = begin_index_scan(heap, index, GetActiveSnapshot(), keys, 2, false);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull,
					no_calendar,
					no_user = true;
		Datum		calendar = slot_getattr(slot, clo_cols.calendar_id, &no_calendar);
		Datum		user = clo_cols.ghl_user_id != InvalidAttrNumber ?
			slot_getattr(slot, clo_cols.ghl_user_id, &no_user) : (Datum) 0;
		Timestamp	closed_from = DatumGetTimestamp(slot_getattr(slot, clo_cols.closed_from, &isnull));
		ClosureSubject subject = !no_calendar ? CLOSURE_CALENDAR :
			!no_user ? CLOSURE_THERAPIST : CLOSURE_LOCATION;
		ClosureRow *closure;

		if (subject == CLOSURE_CALENDAR && DatumGetInt64(calendar) != calendar_id)
			continue;
		if (subject == CLOSURE_THERAPIST && (therapist == NULL || !text_datum_equals(user, therapist)))
			continue;
		if (closed_from >= until)
			continue;
		closure = palloc(sizeof(ClosureRow));
		closure->closed_from = closed_from;
		closure->closed_until = DatumGetTimestamp(slot_getattr(slot, clo_cols.closed_until, &isnull));
		closure->reason = TextDatumGetCString(slot_getattr(slot, clo_cols.reason, &isnull));
		closure->subject = subject;
		result = lappend(result, closure);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return result;
}
