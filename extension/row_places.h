/*
 * row_places.h — where rows of the small tables the guard reads on every
 * booking (locations, calendars, therapists) were last found, so that the
 * next read goes straight to the row instead of down the primary key.
 */
#ifndef REFLEXO_ROW_PLACES_H
#define REFLEXO_ROW_PLACES_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "storage/itemptr.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

/* A row's primary key: an id, or an id and a text (hashed; a collision only costs a miss). */
typedef struct RowPlaceKey
{
	Oid			relid;
	int64		id;
	uint32		text_hash;
} RowPlaceKey;

extern RowPlaceKey row_place_key(Oid relid, int64 id, const text *name);

/*
 * Stores in slot the tuple at the remembered place of key if it is visible
 * to snapshot; false when there is none.  The caller must check that the
 * tuple still has the key: the place may now hold another row.
 */
extern bool row_place_fetch(Relation heap, const RowPlaceKey *key, Snapshot snapshot,
							TupleTableSlot *slot);
extern void row_place_remember(const RowPlaceKey *key, ItemPointer tid);

/* Forgets the places in relid (InvalidOid: in every relation). */
extern void row_places_forget(Oid relid);

#endif							/* REFLEXO_ROW_PLACES_H */
