/*
 * bookkeeping_row.c — insert one row of a bookkeeping table straight into
 * the table and its indexes, as logical replication's apply worker does.
 *
 * The outbox and history triggers used to run a kept INSERT plan through
 * SPI.  Even kept, a plan starts an executor for every row: permission
 * checks, plan state, a snapshot pushed and popped, the portal's bookkeeping
 * around the insert.  That was most of each trigger's cost (SPI_execute_plan
 * was 9.5% of a booking's insert for the history and 12% for the outbox in a
 * profile of bench/insert's full variant).  Here the row goes through the
 * same steps an INSERT's own ModifyTable node takes for it: NOT NULL, the
 * heap, and every index, partial ones by their predicates.
 *
 * That is all those tables need: they have no triggers, no CHECK constraint,
 * no foreign key and no row-level security (pgTAP 03 keeps it so).  The
 * caller gives every value, its DEFAULTs included (the same pgTAP file checks
 * them against the table's); a column left unset is NULL.
 */
#include "bookkeeping_row.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"

void
bookkeeping_row_begin(BookkeepingRow *row, Oid relid)
{
	int			natts;

	row->rel = table_open(relid, RowExclusiveLock);
	natts = RelationGetDescr(row->rel)->natts;
	row->values = palloc0(sizeof(Datum) * natts);
	row->nulls = palloc(sizeof(bool) * natts);
	memset(row->nulls, true, sizeof(bool) * natts);
}

void
bookkeeping_row_set(BookkeepingRow *row, AttrNumber column, Datum value)
{
	row->values[column - 1] = value;
	row->nulls[column - 1] = false;
}

void
bookkeeping_row_set_identity(BookkeepingRow *row, AttrNumber column, Oid sequence)
{
	bookkeeping_row_set(row, column, Int64GetDatum(nextval_internal(sequence, false)));
}

void
bookkeeping_row_insert(BookkeepingRow *row)
{
	Relation	rel = row->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *target = makeNode(ResultRelInfo);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);

	/* no range table entry: nothing here checks permissions or fires triggers */
	InitResultRelInfo(target, rel, 0, NULL, 0);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(target, false);

	ExecClearTuple(slot);
	memcpy(slot->tts_values, row->values, sizeof(Datum) * desc->natts);
	memcpy(slot->tts_isnull, row->nulls, sizeof(bool) * desc->natts);
	ExecStoreVirtualTuple(slot);

	if (desc->constr != NULL)
		ExecConstraints(target, slot, estate);
	table_tuple_insert(rel, slot, estate->es_output_cid, 0, NULL);
	if (target->ri_NumIndices > 0)
#if PG_VERSION_NUM >= 160000
		(void) ExecInsertIndexTuples(target, slot, estate, false, false, NULL, NIL, false);
#else
		(void) ExecInsertIndexTuples(target, slot, estate, false, false, NULL, NIL);
#endif

	ExecCloseIndices(target);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);	/* the lock stays until the transaction ends */
}
