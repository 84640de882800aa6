/*
 * api_citas.c — writes through api.citas, the Django service's citas (the
 * view's INSTEAD OF trigger, api.citas_write).
 *
 * The calendar named by ghl_calendar_id is looked up as the caller sees it
 * (row-level security: the caller's locations), with its location; the
 * appointment is written (the guard checks the rules); and the cita is
 * returned as the view shows it, built from the written row rather than read
 * back through the view (pgTAP 18 compares the two).  The function belongs
 * to reflexo_api and runs as it, so row-level security applies to every
 * statement here.
 */
#include "reflexo.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "local_time.h"
#include "saved_plan.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(api_citas_write);

/* The columns of api.citas this trigger reads or fills. */
typedef enum CitaColumn
{
	CITA_ID,
	CITA_TITLE,
	CITA_CONTACT_ID,
	CITA_START_TIME,
	CITA_END_TIME,
	CITA_NOTES,
	CITA_ASSIGNED_USER_ID,
	CITA_STATUS,
	CITA_LOCATION_ID,
	CITA_CALENDAR_ID,
	CITA_GHL_APPOINTMENT_ID,
	CITA_SYNC_STATE,
	CITA_ORIGIN,
	CITA_VALIDATION_FLAGS,
	CITA_CREATED_AT,
	CITA_UPDATED_AT,
	CITA_SYNC_ERROR,
	CITA_SYNCED_AT,
	CITA_SERIES_ID,
	/* the columns above come from the written appointment, in this order; these do not */
	CITA_GHL_CALENDAR_ID,
	CITA_GHL_LOCATION_ID,
	CITA_FECHA,
	NUM_CITA_COLUMNS
} CitaColumn;

static const char *const cita_names[NUM_CITA_COLUMNS] = {
	"id", "title", "contact_id", "start_time", "end_time", "notes", "assigned_user_id", "status",
	"location_id", "calendar_id", "ghl_appointment_id", "sync_state", "origin", "validation_flags",
	"created_at", "updated_at", "sync_error", "synced_at", "series_id",
	"ghl_calendar_id", "ghl_location_id", "fecha"
};

#define WRITTEN_COLUMNS \
	"id, title, contact_id, starts_at, ends_at, notes, assigned_user_id, status, location_id, calendar_id," \
	" ghl_appointment_id, sync_state, origin, validation_flags, created_at, updated_at, sync_error, synced_at," \
	" series_id"

/* Where each column is in the view (its attribute numbers), found once per view. */
static Oid	view_seen = InvalidOid;
static AttrNumber view_column[NUM_CITA_COLUMNS];

static SavedPlan calendar_by_ghl_id_plan,
			calendar_by_id_plan,
			location_visible_plan,
			default_location_plan,
			insert_plan,
			update_plan;

/* A calendar as the cita shows it. */
typedef struct CitaCalendar
{
	bool		found;
	int64		id;
	int64		location_id;
	Datum		ghl_calendar_id;
	Datum		ghl_location_id;
	char	   *timezone;
} CitaCalendar;

static void
find_view_columns(Relation view)
{
	if (view_seen == RelationGetRelid(view))
		return;
	for (int i = 0; i < NUM_CITA_COLUMNS; i++)
	{
		view_column[i] = SPI_fnumber(RelationGetDescr(view), cita_names[i]);
		if (view_column[i] <= 0)
			elog(ERROR, "api.citas has no column \"%s\"", cita_names[i]);
	}
	view_seen = RelationGetRelid(view);
}

static Datum
cita_value(Relation view, HeapTuple row, CitaColumn column, bool *isnull)
{
	return heap_getattr(row, view_column[column], RelationGetDescr(view), isnull);
}

static Oid
cita_type(Relation view, CitaColumn column)
{
	return TupleDescAttr(RelationGetDescr(view), view_column[column] - 1)->atttypid;
}

static bool
cita_column_changed(Relation view, HeapTuple old_row, HeapTuple new_row, CitaColumn column)
{
	Form_pg_attribute att = TupleDescAttr(RelationGetDescr(view), view_column[column] - 1);
	bool		old_null,
				new_null;
	Datum		old_value = cita_value(view, old_row, column, &old_null);
	Datum		new_value = cita_value(view, new_row, column, &new_null);

	if (old_null || new_null)
		return old_null != new_null;
	return !datumIsEqual(old_value, new_value, att->attbyval, att->attlen);
}

/* Runs a kept plan; its rows are in SPI_tuptable. */
static uint64
run(SavedPlan *saved, const char *query, int nargs, const Oid *types, Datum *values, const char *nulls,
	bool read_only)
{
	int			rc = SPI_execute_plan(saved_plan(saved, query, nargs, types), values, nulls, read_only, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", query, SPI_result_code_string(rc));
	return SPI_processed;
}

/* The calendar (and its location) of SPI_tuptable's first row, copied out of SPI's memory. */
static void
read_calendar(CitaCalendar *cal, MemoryContext upper)
{
	HeapTuple	row = SPI_tuptable->vals[0];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	MemoryContext old = MemoryContextSwitchTo(upper);
	bool		isnull;

	cal->found = true;
	cal->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	cal->location_id = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
	cal->ghl_calendar_id = datumCopy(SPI_getbinval(row, desc, 3, &isnull), false, -1);
	cal->ghl_location_id = datumCopy(SPI_getbinval(row, desc, 4, &isnull), false, -1);
	cal->timezone = TextDatumGetCString(SPI_getbinval(row, desc, 5, &isnull));
	MemoryContextSwitchTo(old);
}

#define CALENDAR_COLUMNS \
	"SELECT c.id, c.location_id, c.ghl_calendar_id, l.ghl_location_id, l.timezone" \
	"  FROM reflexo.calendars c JOIN reflexo.locations l ON l.id = c.location_id"

static void
calendar_by_ghl_id(CitaCalendar *cal, Datum ghl_calendar_id, MemoryContext upper)
{
	Oid			type = TEXTOID;

	if (run(&calendar_by_ghl_id_plan, CALENDAR_COLUMNS " WHERE c.ghl_calendar_id = $1", 1, &type,
			&ghl_calendar_id, NULL, true) > 0)
		read_calendar(cal, upper);
}

static void
calendar_by_id(CitaCalendar *cal, int64 id, MemoryContext upper)
{
	Oid			type = INT8OID;
	Datum		value = Int64GetDatum(id);

	if (run(&calendar_by_id_plan, CALENDAR_COLUMNS " WHERE c.id = $1", 1, &type, &value, NULL, true) > 0)
		read_calendar(cal, upper);
}

static void
refuse_location(const char *location)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("location %s is not one of yours", location),
			 errhint("GET /api/locations/settings/ lists the locations you work in.")));
}

/*
 * The location a cita without a calendar goes to: the one ghl_location_id
 * names, else the caller's only location.  0 if neither.
 */
static int64
default_location(Datum ghl_location_id, bool ghl_location_null)
{
	Oid			type = TEXTOID;
	bool		isnull;

	if (run(&default_location_plan,
			"SELECT l.id FROM reflexo.locations l"
			" WHERE l.ghl_location_id = $1"
			"    OR ($1 IS NULL AND pg_catalog.cardinality(reflexo.api_location_ids()) = 1"
			"        AND l.id = (reflexo.api_location_ids())[1])",
			1, &type, &ghl_location_id, ghl_location_null ? "n" : " ", true) == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
check_location_visible(int64 location_id)
{
	Oid			type = INT8OID;
	Datum		value = Int64GetDatum(location_id);

	if (run(&location_visible_plan, "SELECT FROM reflexo.locations l WHERE l.id = $1", 1, &type, &value,
			NULL, true) == 0)
		refuse_location(psprintf(INT64_FORMAT, location_id));
}

Datum
api_citas_write(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	MemoryContext upper = CurrentMemoryContext;
	Relation	view;
	HeapTuple	row;
	bool		is_update;
	CitaCalendar cal = {0};
	int64		location_id = 0;
	Oid			types[9];
	Datum		args[9];
	char		nulls[9];
	Datum		values[NUM_CITA_COLUMNS];
	bool		isnull[NUM_CITA_COLUMNS];
	int			natts = RelationGetDescr(trigger->tg_relation)->natts;
	Datum	   *out = palloc(sizeof(Datum) * natts);
	bool	   *out_null = palloc(sizeof(bool) * natts);
	HeapTuple	written;
	int64		calendar_id;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_INSTEAD(trigger->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigger->tg_event) || TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
		elog(ERROR, "api.citas_write must be the INSTEAD OF INSERT OR UPDATE row trigger of api.citas");
	view = trigger->tg_relation;
	is_update = TRIGGER_FIRED_BY_UPDATE(trigger->tg_event);
	row = is_update ? trigger->tg_newtuple : trigger->tg_trigtuple;
	find_view_columns(view);
	for (int i = 0; i < NUM_CITA_COLUMNS; i++)
		values[i] = cita_value(view, row, (CitaColumn) i, &isnull[i]);

	if (is_update && (cita_column_changed(view, trigger->tg_trigtuple, row, CITA_ID) ||
					  cita_column_changed(view, trigger->tg_trigtuple, row, CITA_LOCATION_ID) ||
					  cita_column_changed(view, trigger->tg_trigtuple, row, CITA_GHL_APPOINTMENT_ID)))
		ereport(ERROR,
				(errcode(ERRCODE_GENERATED_ALWAYS),
				 errmsg("id, location_id and ghl_appointment_id of a cita cannot change"),
				 errhint("Book a new cita in the other location and cancel this one.")));

	SPI_connect();
	if (!isnull[CITA_GHL_CALENDAR_ID])
	{
		calendar_by_ghl_id(&cal, values[CITA_GHL_CALENDAR_ID], upper);
		if (!cal.found)
		{
			char	   *name = TextDatumGetCString(values[CITA_GHL_CALENDAR_ID]);

			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("calendar %s does not exist or is not available", name),
					 errdetail("No calendar of your locations has ghl_calendar_id %s.", name),
					 errhint("GET /api/ghl/calendars/ lists the calendars you can book.")));
		}
		location_id = cal.location_id;
	}
	else if (!isnull[CITA_LOCATION_ID])
	{
		location_id = DatumGetInt64(values[CITA_LOCATION_ID]);
		check_location_visible(location_id);
	}
	else if (!is_update)
	{
		location_id = default_location(values[CITA_GHL_LOCATION_ID], isnull[CITA_GHL_LOCATION_ID]);
		if (location_id == 0 && !isnull[CITA_GHL_LOCATION_ID])
			refuse_location(TextDatumGetCString(values[CITA_GHL_LOCATION_ID]));
		if (location_id == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("cita needs a calendar"),
					 errdetail("Neither ghl_calendar_id nor a location with a default calendar was given."),
					 errhint("Give ghl_calendar_id, or ghl_location_id of a location with a default calendar.")));
	}

	/* the write: $1 the location (INSERT) or the cita (UPDATE), $2 the calendar, then the fields */
	types[0] = INT8OID;
	types[1] = INT8OID;
	args[0] = Int64GetDatum(is_update ? DatumGetInt64(values[CITA_ID]) : location_id);
	nulls[0] = is_update ? (isnull[CITA_ID] ? 'n' : ' ') : (location_id == 0 ? 'n' : ' ');
	args[1] = Int64GetDatum(cal.id);
	nulls[1] = cal.found ? ' ' : 'n';
	{
		const CitaColumn fields[] = {CITA_TITLE, CITA_CONTACT_ID, CITA_ASSIGNED_USER_ID, CITA_NOTES,
			CITA_STATUS, CITA_START_TIME, CITA_END_TIME};

		for (int i = 0; i < (int) lengthof(fields); i++)
		{
			types[2 + i] = cita_type(view, fields[i]);
			args[2 + i] = values[fields[i]];
			nulls[2 + i] = isnull[fields[i]] ? 'n' : ' ';
		}
	}
	if (is_update)
		run(&update_plan,
			"UPDATE reflexo.appointments a"
			"   SET calendar_id = COALESCE($2, a.calendar_id), title = COALESCE($3, ''), contact_id = $4,"
			"       assigned_user_id = $5, notes = $6, status = $7, starts_at = $8, ends_at = $9"
			" WHERE a.id = $1 RETURNING " WRITTEN_COLUMNS,
			9, types, args, nulls, false);
	else
		run(&insert_plan,
			"INSERT INTO reflexo.appointments (location_id, calendar_id, title, contact_id, assigned_user_id,"
			"                                  notes, status, starts_at, ends_at)"
			" VALUES ($1, $2, COALESCE($3, ''), $4, $5, $6, COALESCE($7, 'scheduled'), $8, $9)"
			" RETURNING " WRITTEN_COLUMNS,
			9, types, args, nulls, false);
	if (SPI_processed == 0)
	{
		/* the cita is gone (deleted meanwhile): nothing was written */
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	/* the cita as api.citas shows it: the written row's columns (copied out of SPI's memory)... */
	written = SPI_copytuple(SPI_tuptable->vals[0]);
	for (int i = 0; i < natts; i++)
		out_null[i] = true;
	for (int i = 0; i < CITA_GHL_CALENDAR_ID; i++)
		out[view_column[i] - 1] = SPI_getbinval(written, SPI_tuptable->tupdesc, i + 1, &out_null[view_column[i] - 1]);
	calendar_id = DatumGetInt64(out[view_column[CITA_CALENDAR_ID] - 1]);

	/* ... and its calendar's and location's */
	if (!cal.found || cal.id != calendar_id)
	{
		cal.found = false;
		calendar_by_id(&cal, calendar_id, upper);
	}
	if (cal.found)
	{
		Timestamp	wall = to_wall_clock(DatumGetTimestampTz(out[view_column[CITA_START_TIME] - 1]),
										 find_time_zone(cal.timezone));

		out[view_column[CITA_GHL_CALENDAR_ID] - 1] = cal.ghl_calendar_id;
		out_null[view_column[CITA_GHL_CALENDAR_ID] - 1] = false;
		out[view_column[CITA_GHL_LOCATION_ID] - 1] = cal.ghl_location_id;
		out_null[view_column[CITA_GHL_LOCATION_ID] - 1] = false;
		out[view_column[CITA_FECHA] - 1] = DirectFunctionCall1(timestamp_date, TimestampGetDatum(wall));
		out_null[view_column[CITA_FECHA] - 1] = false;
	}
	MemoryContextSwitchTo(upper);
	row = heap_form_tuple(RelationGetDescr(view), out, out_null);
	SPI_finish();
	return PointerGetDatum(row);
}
