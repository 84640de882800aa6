/*
 * appointment_change.h — classifying a write to reflexo.appointments.
 *
 * A change is "business" when it touches what the clinic and GHL see (time,
 * calendar, therapist, contact, title, notes, status, location).  Only
 * business changes are checked, recorded in the history and pushed to GHL;
 * bookkeeping (sync state, GHL ids, remote timestamps) is none of those.
 */
#ifndef APPOINTMENT_CHANGE_H
#define APPOINTMENT_CHANGE_H

#include "postgres.h"

#include "access/htup.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

extern bool change_from_ghl(void);
extern char *change_actor(void);
extern bool columns_differ(Relation rel, HeapTuple old_tuple, HeapTuple new_tuple,
						   const AttrNumber *columns, int ncolumns);
extern bool business_fields_changed(Relation rel, HeapTuple old_tuple, HeapTuple new_tuple);
/* to_jsonb() of a row of rel, as the outbox and the history store it */
extern Jsonb *appointment_to_jsonb(Relation rel, HeapTuple row);
extern void require_row_trigger(FunctionCallInfo fcinfo, const char *name, bool before);

#endif							/* APPOINTMENT_CHANGE_H */
