/*
 * saved_plan.c — prepare an SPI statement once and keep it.
 *
 * The plan cache re-plans a kept plan when the relations it uses change.
 * Argument types are part of the key because a row type's OID changes when
 * the extension is dropped and created again in the same session.
 */
#include "saved_plan.h"

#include "miscadmin.h"

SPIPlanPtr
saved_plan(SavedPlan *saved, const char *query, int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;

	if (saved->plan != NULL && saved->nargs == nargs &&
		memcmp(saved->argtypes, argtypes, sizeof(Oid) * nargs) == 0)
		return saved->plan;
	if (saved->plan != NULL)
	{
		SPI_freeplan(saved->plan);
		saved->plan = NULL;
	}
	plan = SPI_prepare(query, nargs, (Oid *) argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	saved->plan = plan;
	saved->nargs = nargs;
	memcpy(saved->argtypes, argtypes, sizeof(Oid) * nargs);
	return plan;
}

/*
 * Run what follows as the owner of rel, as PostgreSQL's referential
 * integrity triggers do: a trigger's bookkeeping (outbox, history) must work
 * whoever changed the row, including API roles with no rights on the
 * bookkeeping tables.  Row-level security does not apply to the owner.  An
 * error restores the user with the (sub)transaction.
 */
void
become_owner(Relation rel, SavedUser *saved)
{
	GetUserIdAndSecContext(&saved->user, &saved->context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   saved->context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
}

void
restore_user(const SavedUser *saved)
{
	SetUserIdAndSecContext(saved->user, saved->context);
}
