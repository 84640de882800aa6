/*
 * bookkeeping_row.h — write a row of a bookkeeping table (the outbox, the
 * appointment history) from a trigger, without the SQL executor.
 */
#ifndef REFLEXO_BOOKKEEPING_ROW_H
#define REFLEXO_BOOKKEEPING_ROW_H

#include "postgres.h"

#include "utils/rel.h"

/* A row being built: every column NULL until set. */
typedef struct BookkeepingRow
{
	Relation	rel;
	Datum	   *values;
	bool	   *nulls;
} BookkeepingRow;

extern void bookkeeping_row_begin(BookkeepingRow *row, Oid relid);
extern void bookkeeping_row_set(BookkeepingRow *row, AttrNumber column, Datum value);
/* The next value of the identity sequence, as DEFAULT would give it. */
extern void bookkeeping_row_set_identity(BookkeepingRow *row, AttrNumber column, Oid sequence);
/* Inserts the row into the table and its indexes, and closes the table. */
extern void bookkeeping_row_insert(BookkeepingRow *row);

#endif							/* REFLEXO_BOOKKEEPING_ROW_H */
