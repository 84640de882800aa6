/*
 * appointment_checks.c — the CHECK constraints of reflexo.appointments as C
 * functions: appointments_time_range and appointments_known_flags.
 *
 * They hold with triggers off too (session_replication_role = replica), where
 * the guard does not run.  Written in SQL, PostgreSQL rebuilt them from their
 * stored text on every statement that wrote the table: reading back a text[]
 * of nine labels and four timestamptz literals byte by byte was 4% of a
 * booking's insert.  A function call's stored text is a few tokens.
 */
#include "appointment_checks.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "validation_stats.h"

PG_FUNCTION_INFO_V1(appointment_times_in_range);
PG_FUNCTION_INFO_V1(known_validation_flags);

/* Both times in range; a NULL one is NOT NULL's to refuse. */
Datum
appointment_times_in_range(PG_FUNCTION_ARGS)
{
	for (int i = 0; i < 2; i++)
		if (!PG_ARGISNULL(i) && !appointment_time_in_range(PG_GETARG_TIMESTAMPTZ(i)))
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}

static bool
is_stored_flag(text *flag)
{
	const char *name = VARDATA_ANY(flag);
	size_t		len = VARSIZE_ANY_EXHDR(flag);

	for (int kind = 0; kind < NUM_VALIDATION_KINDS; kind++)
		if (kind != VALIDATION_IN_PAST &&	/* always refused, never stored */
			strlen(validation_kind_names[kind]) == len &&
			memcmp(validation_kind_names[kind], name, len) == 0)
			return true;
	return false;
}

/* Every element names a rule a stored appointment can break (no NULLs), as <@ would say. */
Datum
known_validation_flags(PG_FUNCTION_ARGS)
{
	ArrayType  *flags = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(flags, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i] || !is_stored_flag(DatumGetTextPP(elems[i])))
			PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(true);
}
