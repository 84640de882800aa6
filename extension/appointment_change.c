/*
 * appointment_change.c — what a write to reflexo.appointments changes, and
 * who makes it.
 */
#include "appointment_change.h"

#include "access/htup_details.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "reflexo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(reflexo_current_actor);

/* True while reflexo.apply_ghl_webhook applies a change received from GHL. */
bool
change_from_ghl(void)
{
	return reflexo_change_origin == CHANGE_ORIGIN_GHL;
}

/*
 * Who makes the change: "ghl:<what delivered it>" for a change from GHL, else
 * the API request's JWT subject, else the session's database role.
 */
char *
change_actor(void)
{
	char	   *subject;

	if (change_from_ghl())
		return psprintf("ghl:%s", reflexo_change_source && reflexo_change_source[0] ?
						reflexo_change_source : "unknown");
	subject = api_request_claim("sub");
	return subject ? subject : GetUserNameFromId(GetSessionUserId(), false);
}

Datum
reflexo_current_actor(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(change_actor()));
}

bool
columns_differ(Relation rel, HeapTuple old_tuple, HeapTuple new_tuple,
			   const AttrNumber *columns, int ncolumns)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < ncolumns; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, columns[i] - 1);
		bool		old_null,
					new_null;
		Datum		old_value = heap_getattr(old_tuple, columns[i], desc, &old_null);
		Datum		new_value = heap_getattr(new_tuple, columns[i], desc, &new_null);

		if (old_null != new_null)
			return true;
		if (!old_null && !datum_image_eq(old_value, new_value, att->attbyval, att->attlen))
			return true;
	}
	return false;
}

bool
business_fields_changed(Relation rel, HeapTuple old_tuple, HeapTuple new_tuple)
{
	const AppointmentColumns *col = &reflexo_catalog()->appt;
	const AttrNumber business[] = {
		col->location_id, col->calendar_id, col->contact_id, col->assigned_user_id,
		col->title, col->notes, col->status, col->starts_at, col->ends_at
	};

	return columns_differ(rel, old_tuple, new_tuple, business, lengthof(business));
}

/* Refuses to run other than as the kind of row trigger the function is. */
void
require_row_trigger(FunctionCallInfo fcinfo, const char *name, bool before)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", name)));
	if (!TRIGGER_FIRED_FOR_ROW(trigger->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event) ||
		(before ? !TRIGGER_FIRED_BEFORE(trigger->tg_event) : !TRIGGER_FIRED_AFTER(trigger->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired %s FOR EACH ROW", name, before ? "BEFORE" : "AFTER")));
}

/*
 * to_jsonb() of a row of rel.  to_jsonb reads its argument's type from the
 * call expression, so the FmgrInfo carries one naming the table's row type.
 */
Jsonb *
appointment_to_jsonb(Relation rel, HeapTuple row)
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
