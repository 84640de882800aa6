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
#include "access/xact.h"
#include "appointment_change.h"
#include "bookkeeping_row.h"
#include "catalog.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(appointment_history_trigger);

/* Sync bookkeeping, left out of an update's changes: the outbox records that side. */
static const char *const bookkeeping_columns[] = {
	"updated_at", "sync_state", "local_changed_at", "ghl_updated_at"
};

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
			old_json = appointment_to_jsonb(rel, old_row);
			new_json = appointment_to_jsonb(rel, new_row);
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
	const ReflexoCatalog *cat = reflexo_catalog();
	const HistoryColumns *col = &cat->history_col;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	old_row = NULL,
				new_row = NULL,
				row;
	Oid			operation;
	Datum		old_values,
				new_values;
	BookkeepingRow entry;

	require_row_trigger(fcinfo, "appointment_history_trigger", false);
	rel = trigger->tg_relation;
	desc = RelationGetDescr(rel);

	if (TRIGGER_FIRED_BY_INSERT(trigger->tg_event))
	{
		operation = cat->history_insert;
		new_row = trigger->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
	{
		operation = cat->history_delete;
		old_row = trigger->tg_trigtuple;
	}
	else
	{
		operation = cat->history_update;
		old_row = trigger->tg_trigtuple;
		new_row = trigger->tg_newtuple;
		if (!business_fields_changed(rel, old_row, new_row))
			return PointerGetDatum(NULL);
	}
	row = new_row ? new_row : old_row;

	if (old_row && new_row)
		changed_values(rel, old_row, new_row, &old_values, &new_values);
	else
	{
		/* a new or deleted appointment: all of it */
		old_values = old_row ? JsonbPGetDatum(appointment_to_jsonb(rel, old_row)) : (Datum) 0;
		new_values = new_row ? JsonbPGetDatum(appointment_to_jsonb(rel, new_row)) : (Datum) 0;
	}

	bookkeeping_row_begin(&entry, cat->appointment_history);
	bookkeeping_row_set_identity(&entry, col->id, cat->history_id_sequence);
	bookkeeping_row_set(&entry, col->appointment_id, heap_getattr(row, cat->appt.id, desc, &(bool) {false}));
	bookkeeping_row_set(&entry, col->location_id, heap_getattr(row, cat->appt.location_id, desc, &(bool) {false}));
	bookkeeping_row_set(&entry, col->operation, ObjectIdGetDatum(operation));
	bookkeeping_row_set(&entry, col->origin, ObjectIdGetDatum(change_from_ghl() ? cat->origin_ghl : cat->origin_local));
	bookkeeping_row_set(&entry, col->actor, CStringGetTextDatum(change_actor()));
	bookkeeping_row_set(&entry, col->txid, FullTransactionIdGetDatum(GetTopFullTransactionId()));
	bookkeeping_row_set(&entry, col->changed_at, TimestampTzGetDatum(GetCurrentTimestamp()));
	if (old_values)
		bookkeeping_row_set(&entry, col->old_values, old_values);
	if (new_values)
		bookkeeping_row_set(&entry, col->new_values, new_values);
	bookkeeping_row_insert(&entry);
	return PointerGetDatum(NULL);
}
