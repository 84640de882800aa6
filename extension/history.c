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
#include "nodes/makefuncs.h"
#include "saved_plan.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(appointment_history_trigger);

static SavedPlan insert_plan;

/* Sync bookkeeping, left out of an update's changes: the outbox records that side. */
static const char *const bookkeeping_columns[] = {
	"updated_at", "sync_state", "local_changed_at", "ghl_updated_at"
};

/*
 * to_jsonb() of a row of rel.  to_jsonb reads its argument's type from the
 * call expression, so the FmgrInfo carries one naming the table's row type.
 */
static Jsonb *
row_to_jsonb(Relation rel, HeapTuple row)
{
	static FmgrInfo to_jsonb_fn;
	static Oid	fn_row_type = InvalidOid;
	Oid			row_type = rel->rd_rel->reltype;

	if (fn_row_type != row_type)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		Param	   *arg = makeNode(Param);

		arg->paramkind = PARAM_EXTERN;
		arg->paramid = 1;
		arg->paramtype = row_type;
		arg->paramtypmod = -1;
		arg->location = -1;
		fmgr_info(F_TO_JSONB, &to_jsonb_fn);
		fmgr_info_set_expr((Node *) makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(arg), InvalidOid,
												  InvalidOid, COERCE_EXPLICIT_CALL), &to_jsonb_fn);
		MemoryContextSwitchTo(old);
		fn_row_type = row_type;
	}
	return DatumGetJsonbP(FunctionCall1(&to_jsonb_fn, heap_copy_tuple_as_datum(row, RelationGetDescr(rel))));
}

static bool
is_bookkeeping(Form_pg_attribute att)
{
	for (size_t i = 0; i < lengthof(bookkeeping_columns); i++)
		if (strcmp(NameStr(att->attname), bookkeeping_columns[i]) == 0)
			return true;
	return false;
}

/*
 * The columns an update changed, other than bookkeeping, as two JSON objects:
 * their values before and after (as to_jsonb writes them).  NULL for both if
 * none changed.
 */
static void
changed_values(Relation rel, HeapTuple old_row, HeapTuple new_row, Datum *old_values, Datum *new_values)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Jsonb	   *old_json = NULL,
			   *new_json = NULL;
	JsonbParseState *old_state = NULL,
			   *new_state = NULL;
	JsonbValue *old_object,
			   *new_object;
	int			changed = 0;

	pushJsonbValue(&old_state, WJB_BEGIN_OBJECT, NULL);
	pushJsonbValue(&new_state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	column = i + 1;
		JsonbValue	key;

		if (att->attisdropped || is_bookkeeping(att) ||
			!columns_differ(rel, old_row, new_row, &column, 1))
			continue;
		if (old_json == NULL)
		{
			old_json = row_to_jsonb(rel, old_row);
			new_json = row_to_jsonb(rel, new_row);
		}
		key.type = jbvString;
		key.val.string.val = NameStr(att->attname);
		key.val.string.len = strlen(NameStr(att->attname));
		pushJsonbValue(&old_state, WJB_KEY, &key);
		pushJsonbValue(&old_state, WJB_VALUE,
					   getKeyJsonValueFromContainer(&old_json->root, key.val.string.val, key.val.string.len, NULL));
		pushJsonbValue(&new_state, WJB_KEY, &key);
		pushJsonbValue(&new_state, WJB_VALUE,
					   getKeyJsonValueFromContainer(&new_json->root, key.val.string.val, key.val.string.len, NULL));
		changed++;
	}
	old_object = pushJsonbValue(&old_state, WJB_END_OBJECT, NULL);
	new_object = pushJsonbValue(&new_state, WJB_END_OBJECT, NULL);
	*old_values = changed ? JsonbPGetDatum(JsonbValueToJsonb(old_object)) : (Datum) 0;
	*new_values = changed ? JsonbPGetDatum(JsonbValueToJsonb(new_object)) : (Datum) 0;
}

Datum
appointment_history_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	old_row = NULL,
				new_row = NULL,
				row;
	const char *operation;
	Oid			types[7] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
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
	row = new_row ? new_row : old_row;

	args[0] = heap_getattr(row, reflexo_catalog()->appt.id, desc, &(bool) {false});
	args[1] = heap_getattr(row, reflexo_catalog()->appt.location_id, desc, &(bool) {false});
	args[2] = CStringGetTextDatum(operation);
	args[3] = CStringGetTextDatum(change_from_ghl() ? "ghl" : "local");
	args[4] = CStringGetTextDatum(change_actor());
	if (old_row && new_row)
		changed_values(rel, old_row, new_row, &args[5], &args[6]);
	else
	{
		/* a new or deleted appointment: all of it */
		args[5] = old_row ? JsonbPGetDatum(row_to_jsonb(rel, old_row)) : (Datum) 0;
		args[6] = new_row ? JsonbPGetDatum(row_to_jsonb(rel, new_row)) : (Datum) 0;
	}
	nulls[5] = args[5] ? ' ' : 'n';
	nulls[6] = args[6] ? ' ' : 'n';

	become_owner(rel, &saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_plan(saved_plan(&insert_plan,
									  "INSERT INTO reflexo.appointment_history"
									  " (appointment_id, location_id, operation, origin, actor, old_values, new_values)"
									  " VALUES ($1, $2, $3::reflexo.history_operation, $4::reflexo.origin, $5, $6, $7)",
									  7, types),
						   args, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "history insert failed: %s", SPI_result_code_string(ret));
	SPI_finish();
	restore_user(&saved);
	return PointerGetDatum(NULL);
}
