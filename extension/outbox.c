/*
 * outbox.c — reflexo.appointment_outbox(), the AFTER row trigger that makes
 * every local change of an appointment an outbox row in the same
 * transaction, and rings the reflexo_outbox doorbell.
 *
 * Changes applied from GHL write nothing (they would echo back), nor do
 * bookkeeping updates.  Several changes of one appointment in one
 * transaction collapse into one row:
 *
 *     earlier \ later   update    cancel    delete
 *     create            create    create    (no row: GHL never knew it)
 *     update            update    cancel    delete
 *     cancel            update    cancel    delete
 *
 * A delete's payload is the appointment as it was; other changes carry none:
 * claim_outbox reads the appointment as it is when it is pushed.  The
 * doorbell is a NOTIFY with a constant payload; PostgreSQL delivers it once
 * per transaction, at commit, and never on rollback.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "appointment_change.h"
#include "bookkeeping_row.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "saved_plan.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(appointment_outbox);

#define DOORBELL_CHANNEL "reflexo_outbox"	/* a label of reflexo.doorbell */

/*
 * Appointments this transaction has already written an outbox row for.  A
 * hint only: an aborted subtransaction may have taken the row back, which
 * the lookup then finds out.
 */
static HTAB *enqueued = NULL;
static bool callback_registered = false;

static SavedPlan find_plan,
			update_plan,
			delete_plan;

static void
forget_enqueued(XactEvent event, void *arg pg_attribute_unused())
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		enqueued = NULL;		/* its memory goes with TopTransactionContext */
}

/* Returns true if the appointment may already have a row from this transaction. */
static bool
remember_enqueued(int64 appointment_id)
{
	bool		found;

	if (!callback_registered)
	{
		RegisterXactCallback(forget_enqueued, NULL);
		callback_registered = true;
	}
	if (enqueued == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(int64);
		ctl.hcxt = TopTransactionContext;
		enqueued = hash_create("reflexo outbox enqueued", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	hash_search(enqueued, &appointment_id, HASH_ENTER, &found);
	return found;
}

typedef enum Operation
{
	OP_NONE,
	OP_CREATE,
	OP_UPDATE,
	OP_CANCEL,
	OP_DELETE
} Operation;

static const char *const operation_names[] = {"", "create", "update", "cancel", "delete"};

static Operation
operation_from_name(const char *name)
{
	for (int op = OP_CREATE; op <= OP_DELETE; op++)
		if (strcmp(name, operation_names[op]) == 0)
			return (Operation) op;
	elog(ERROR, "unknown outbox operation \"%s\"", name);
}

static Operation
collapse(Operation earlier, Operation later)
{
	if (earlier == OP_CREATE)
		return later == OP_DELETE ? OP_NONE : OP_CREATE;
	return later;
}

static bool
is_active(Relation rel, HeapTuple tuple)
{
	bool		isnull;
	Datum		status = heap_getattr(tuple, reflexo_catalog()->appt.status, RelationGetDescr(rel), &isnull);

	return !isnull && status_is_active(status);
}

static int64
int64_column(Relation rel, HeapTuple tuple, AttrNumber column)
{
	bool		isnull;

	return DatumGetInt64(heap_getattr(tuple, column, RelationGetDescr(rel), &isnull));
}

/*
 * Only a delete's row keeps a copy of the appointment (the others are pushed
 * as it is when claimed); a database not yet updated to 0.2.0 wants one in
 * every row.
 */
static bool
keeps_payload(Operation op)
{
	return op == OP_DELETE || reflexo_catalog()->outbox_payload_required;
}

/* A new outbox row, pending from now, as the table's DEFAULTs would fill it. */
static void
insert_outbox_row(Relation rel, HeapTuple row, Operation op)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	const OutboxColumns *col = &cat->outbox_col;
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	bool		ghl_null;
	Datum		ghl_id = heap_getattr(row, cat->appt.ghl_appointment_id, RelationGetDescr(rel), &ghl_null);
	BookkeepingRow entry;

	bookkeeping_row_begin(&entry, cat->outbox);
	bookkeeping_row_set_identity(&entry, col->id, cat->outbox_id_sequence);
	bookkeeping_row_set(&entry, col->appointment_id, Int64GetDatum(int64_column(rel, row, cat->appt.id)));
	bookkeeping_row_set(&entry, col->location_id, Int64GetDatum(int64_column(rel, row, cat->appt.location_id)));
	bookkeeping_row_set(&entry, col->operation, ObjectIdGetDatum(cat->outbox_operations[op - OP_CREATE]));
	if (keeps_payload(op))
		bookkeeping_row_set(&entry, col->payload, JsonbPGetDatum(appointment_to_jsonb(rel, row)));
	if (!ghl_null)
		bookkeeping_row_set(&entry, col->ghl_appointment_id, ghl_id);
	bookkeeping_row_set(&entry, col->state, ObjectIdGetDatum(cat->outbox_pending));
	bookkeeping_row_set(&entry, col->attempts, Int32GetDatum(0));
	bookkeeping_row_set(&entry, col->next_attempt_at, now);
	bookkeeping_row_set(&entry, col->created_txid, FullTransactionIdGetDatum(GetTopFullTransactionId()));
	bookkeeping_row_set(&entry, col->created_at, now);
	bookkeeping_row_set(&entry, col->updated_at, now);
	bookkeeping_row_insert(&entry);
}

/*
 * Merges op into the pending row this transaction already wrote for the
 * appointment, if there is one (see the table at the top); false if none.
 */
static bool
merge_into_pending(Relation rel, HeapTuple row, int64 appointment_id, Operation op)
{
	const AppointmentColumns *col = &reflexo_catalog()->appt;
	Oid			find_types[1] = {INT8OID};
	Datum		find_args[1] = {Int64GetDatum(appointment_id)};
	bool		isnull;
	int64		outbox_id;
	Operation	merged;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_plan(saved_plan(&find_plan,
									  "SELECT id, operation::text FROM reflexo.outbox"
									  " WHERE appointment_id OPERATOR(pg_catalog.=) $1"
									  " AND created_txid OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id()"
									  " AND state OPERATOR(pg_catalog.=) 'pending' FOR UPDATE",
									  1, find_types),
						   find_args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "outbox lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
	{
		SPI_finish();
		return false;
	}
	outbox_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	merged = collapse(operation_from_name(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)), op);

	if (merged == OP_NONE)
	{
		Oid			types[1] = {INT8OID};
		Datum		args[1] = {Int64GetDatum(outbox_id)};

		ret = SPI_execute_plan(saved_plan(&delete_plan,
										  "DELETE FROM reflexo.outbox WHERE id OPERATOR(pg_catalog.=) $1",
										  1, types),
							   args, NULL, false, 0);
	}
	else
	{
		bool		ghl_null;
		Datum		ghl_id = heap_getattr(row, col->ghl_appointment_id, RelationGetDescr(rel), &ghl_null);
		bool		with_payload = keeps_payload(merged);
		Oid			types[4] = {INT8OID, TEXTOID, JSONBOID, TEXTOID};
		Datum		args[4] = {Int64GetDatum(outbox_id), CStringGetTextDatum(operation_names[merged]),
			with_payload ? JsonbPGetDatum(appointment_to_jsonb(rel, row)) : (Datum) 0, ghl_id};
		char		nulls[4] = {' ', ' ', with_payload ? ' ' : 'n', ghl_null ? 'n' : ' '};

		ret = SPI_execute_plan(saved_plan(&update_plan,
										  "UPDATE reflexo.outbox SET operation = $2::reflexo.outbox_operation,"
										  " payload = $3,"
										  " ghl_appointment_id = COALESCE($4, ghl_appointment_id),"
										  " updated_at = pg_catalog.now()"
										  " WHERE id OPERATOR(pg_catalog.=) $1",
										  4, types),
							   args, nulls, false, 0);
	}
	if (ret < 0)
		elog(ERROR, "outbox update failed: %s", SPI_result_code_string(ret));
	SPI_finish();
	return true;
}

static void
enqueue(Relation rel, HeapTuple row, Operation op)
{
	int64		appointment_id = int64_column(rel, row, reflexo_catalog()->appt.id);

	if (remember_enqueued(appointment_id) && merge_into_pending(rel, row, appointment_id, op))
		return;
	insert_outbox_row(rel, row, op);
}

Datum
appointment_outbox(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	Relation	rel;
	Operation	op;
	HeapTuple	row;

	require_row_trigger(fcinfo, "appointment_outbox", false);
	if (change_from_ghl())
		return PointerGetDatum(NULL);
	rel = trigger->tg_relation;

	if (TRIGGER_FIRED_BY_INSERT(trigger->tg_event))
	{
		op = OP_CREATE;
		row = trigger->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigger->tg_event))
	{
		op = OP_DELETE;
		row = trigger->tg_trigtuple;
	}
	else
	{
		if (!business_fields_changed(rel, trigger->tg_trigtuple, trigger->tg_newtuple))
			return PointerGetDatum(NULL);
		row = trigger->tg_newtuple;
		op = is_active(rel, trigger->tg_trigtuple) && !is_active(rel, row) ? OP_CANCEL : OP_UPDATE;
	}

	{
		SavedUser	saved;

		become_owner(rel, &saved);
		enqueue(rel, row, op);
		restore_user(&saved);
	}
	Async_Notify(DOORBELL_CHANNEL, "");
	return PointerGetDatum(NULL);
}
