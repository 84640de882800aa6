/*
 * history.c — reflexo.appointment_history_trigger(), the AFTER row trigger
 * that records every business change of an appointment, from here or from
 * GHL: the old and new values of the columns that changed, the origin, the
 * actor (the JWT subject when called through the API, else the database
 * role; for GHL, what delivered the change), the transaction and the time.
 * Bookkeeping updates (sync state, GHL ids) are not business changes; the
 * outbox table records the sync side.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "appointment_change.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "saved_plan.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(appointment_history_trigger);

static SavedPlan insert_plan;

Datum
appointment_history_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	old_row = NULL,
				new_row = NULL;
	const char *operation;
	Oid			types[5];
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			ret;
	SavedUser	saved;

	require_row_trigger(fcinfo, "appointment_history_trigger", false);
	rel = trigger->tg_relation;
	desc = RelationGetDescr(rel);

	if (TRIGGER_FIRED_BY_INSERT(trigger->tg_event))
	{
		operation = "insert";
		new_row = trigger->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
	{
		operation = "delete";
		old_row = trigger->tg_trigtuple;
	}
	else
	{
		operation = "update";
		old_row = trigger->tg_trigtuple;
		new_row = trigger->tg_newtuple;
		if (!business_fields_changed(rel, old_row, new_row))
			return PointerGetDatum(NULL);
	}

	types[0] = INT8OID;
	args[0] = heap_getattr(new_row ? new_row : old_row, reflexo_catalog()->appt.id, desc, &(bool) {false});
	types[1] = TEXTOID;
	args[1] = CStringGetTextDatum(operation);
	types[2] = TEXTOID;
	args[2] = CStringGetTextDatum(change_from_ghl() ? "ghl" : "local");
	types[3] = types[4] = rel->rd_rel->reltype;
	args[3] = old_row ? heap_copy_tuple_as_datum(old_row, desc) : (Datum) 0;
	nulls[3] = old_row ? ' ' : 'n';
	args[4] = new_row ? heap_copy_tuple_as_datum(new_row, desc) : (Datum) 0;
	nulls[4] = new_row ? ' ' : 'n';

	become_owner(rel, &saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_plan(saved_plan(&insert_plan,
									  "INSERT INTO reflexo.appointment_history"
									  " (appointment_id, location_id, operation, origin, actor, old_values, new_values)"
									  " SELECT $1, COALESCE(($5).location_id, ($4).location_id),"
									  " $2::reflexo.history_operation, $3::reflexo.origin, reflexo.current_actor(),"
									  " c.old_values, c.new_values"
									  " FROM reflexo.row_changes(pg_catalog.to_jsonb($4), pg_catalog.to_jsonb($5)) c",
									  5, types),
						   args, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "history insert failed: %s", SPI_result_code_string(ret));
	SPI_finish();
	restore_user(&saved);
	return PointerGetDatum(NULL);
}
