/*
 * api_identity.c — who an API request is, for the row-level security
 * policies: evaluated once per statement each, so they must be cheap.
 *
 *   reflexo.api_is_admin()              the requesting role has reflexo_admin
 *   reflexo.api_location_ids()          a staff request's JWT location_ids
 *   reflexo.api_visible_location_ids()  every location for admins, else the above
 *
 * The requesting role is the one SET ROLE chose (PostgREST's SET LOCAL ROLE),
 * which SECURITY DEFINER functions do not change, else the session's user.
 * Written in C so that a policy costs microseconds instead of a SQL
 * function call with its own GUC state, and so that listing the locations
 * needs no SECURITY DEFINER.
 */
#include "reflexo.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(reflexo_api_is_admin);
PG_FUNCTION_INFO_V1(reflexo_api_location_ids);
PG_FUNCTION_INFO_V1(reflexo_api_visible_location_ids);

static Oid
requesting_role(void)
{
	Oid			role = GetCurrentRoleId();

	return OidIsValid(role) ? role : GetSessionUserId();
}

static bool
requesting_role_has(const char *role_name)
{
	Oid			role = get_role_oid(role_name, true);

	return OidIsValid(role) && has_privs_of_role(requesting_role(), role);
}

static int64
location_id_of(JsonbValue *element)
{
	if (element->type == jbvNumeric)
		return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(element->val.numeric)));
	if (element->type == jbvString)
		return DatumGetInt64(DirectFunctionCall1(int8in, CStringGetDatum(pnstrdup(element->val.string.val,
																				  element->val.string.len))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the JWT claim location_ids must be an array of location ids")));
	return 0;
}

/* The claim called key of the request's JWT (PostgREST's request.jwt.claims), NULL if none. */
static JsonbValue *
claim(const char *key)
{
	const char *claims = GetConfigOption("request.jwt.claims", true, false);
	Jsonb	   *json;

	if (claims == NULL || *claims == '\0')
		return NULL;
	json = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));
	return JB_ROOT_IS_OBJECT(json) ? getKeyJsonValueFromContainer(&json->root, key, strlen(key), NULL) : NULL;
}

char *
api_request_claim(const char *key)
{
	JsonbValue *value = claim(key);
	Jsonb	   *json;

	if (value == NULL || value->type == jbvNull)
		return NULL;
	if (value->type == jbvString)
		return pnstrdup(value->val.string.val, value->val.string.len);
	json = JsonbValueToJsonb(value);	/* as ->> writes a number, a boolean, an object or an array */
	return JsonbToCString(NULL, &json->root, VARSIZE(json));
}

/* The JWT's location_ids for a staff request, else an empty array. */
static ArrayType *
claimed_location_ids(void)
{
	JsonbValue *ids;
	Datum	   *values = NULL;
	int			n = 0;

	if (requesting_role_has("reflexo_staff"))
	{
		ids = claim("location_ids");
		if (ids != NULL && ids->type == jbvBinary && JsonContainerIsArray(ids->val.binary.data))
		{
			JsonbContainer *array = ids->val.binary.data;
			int			count = JsonContainerSize(array);

			values = palloc(sizeof(Datum) * Max(count, 1));
			for (int i = 0; i < count; i++)
				values[n++] = Int64GetDatum(location_id_of(getIthJsonbValueFromContainer(array, i)));
		}
	}
	return construct_array(values, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* Every location's id (an admin sees them all), read past row-level security. */
static ArrayType *
all_location_ids(void)
{
	Relation	rel = table_open(reflexo_catalog()->locations, AccessShareLock);
	AttrNumber	id_column = attnameAttNum(rel, "id", false);
	TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ArrayBuildState *ids = initArrayResult(INT8OID, CurrentMemoryContext, false);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		id = slot_getattr(slot, id_column, &isnull);

		accumArrayResult(ids, id, isnull, INT8OID, CurrentMemoryContext);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return DatumGetArrayTypeP(makeArrayResult(ids, CurrentMemoryContext));
}

bool
api_request_is_staff(void)
{
	return requesting_role_has("reflexo_staff") && !requesting_role_has("reflexo_admin");
}

Datum
reflexo_api_is_admin(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(requesting_role_has("reflexo_admin"));
}

Datum
reflexo_api_location_ids(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(claimed_location_ids());
}

Datum
reflexo_api_visible_location_ids(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(requesting_role_has("reflexo_admin") ? all_location_ids() : claimed_location_ids());
}
