/*
 * api_citas.c — /api/ghl/citas/ and /api/ghl/calendars/, over api.citas,
 * api.cancel_cita, api.retry_sync, api.cita_history, api.upcoming_citas and
 * api.calendars.  Times go out in
 * the location's UTC offset (2025-12-25T14:00:00-05:00), as the Django
 * service wrote them; they come in with any offset.  The guard, the
 * calendar and row-level security are the database's to judge.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "common/alloc.h"

static const char *const statuses[] = {"scheduled", "confirmed", "cancelled", "showed", "noshow", "invalid", NULL};

static const Field cita_fields[] = {
	{"title", FIELD_TEXT, false, false, 255, NULL, "pg_catalog.text"},
	{"contact_id", FIELD_TEXT, false, true, 100, NULL, "pg_catalog.text"},
	{"ghl_calendar_id", FIELD_TEXT, false, true, 100, NULL, "pg_catalog.text"},
	{"ghl_location_id", FIELD_TEXT, false, true, 100, NULL, "pg_catalog.text"},
	{"start_time", FIELD_TIME, true, false, 0, NULL, "pg_catalog.timestamptz"},
	{"end_time", FIELD_TIME, true, false, 0, NULL, "pg_catalog.timestamptz"},
	{"notes", FIELD_TEXT, false, true, 10000, NULL, "pg_catalog.text"},
	{"assigned_user_id", FIELD_TEXT, false, true, 100, NULL, "pg_catalog.text"},
	{"status", FIELD_CHOICE, false, false, 0, statuses, "reflexo.appointment_status"},
	/* the Django serializer's context: false stores a booking that breaks a rule, flagged, with warnings */
	{"strict_validation", FIELD_BOOL, false, false, 0, NULL, NULL},
};

#define NFIELDS ((int) (sizeof(cita_fields) / sizeof(*cita_fields)))

/*
 * A cita (c, a row of api.citas) of location l, as the front end reads it:
 * row_to_json writes compact JSON, which is answered as it comes.
 */
const char *const api_cita_json =
	"(SELECT pg_catalog.row_to_json(json_row) FROM (SELECT c.id, c.title, c.contact_id, c.ghl_calendar_id,"
	" reflexo.ghl_time(c.start_time, l.timezone) AS start_time, reflexo.ghl_time(c.end_time, l.timezone) AS end_time,"
	" c.notes, c.assigned_user_id, c.status, c.fecha, c.location_id, c.ghl_location_id, c.calendar_id,"
	" c.ghl_appointment_id, c.sync_state, c.origin, c.validation_flags, c.sync_error,"
	" reflexo.ghl_time(c.synced_at, l.timezone) AS synced_at, c.series_id,"
	" reflexo.ghl_time(c.created_at, l.timezone) AS created_at, reflexo.ghl_time(c.updated_at, l.timezone) AS updated_at) json_row)";


/* strict_validation of the body, as the request's setting of reflexo.strict_validation */
static const char *
requested_validation(json_t *values)
{
	const char *strict = json_string_value(json_object_get(values, "strict_validation"));

	return strict == NULL ? NULL : strcmp(strict, "true") == 0 ? "on" : "off";
}

/* GET /api/ghl/citas/?page=&page_size=&status=&desde=&hasta= */
static bool
plan_list(ApiRequest *request, ApiPlan *plan)
{
	static const Field status = {"status", FIELD_CHOICE, false, false, 0, statuses, NULL};
	static const Field desde = {"desde", FIELD_DATE, false, false, 0, NULL, NULL};
	static const Field hasta = {"hasta", FIELD_DATE, false, false, 0, NULL, NULL};
	bool		bad;

	if (!api_page(request, api_settings(), plan))
		return false;
	plan->params[0] = api_query_value(request, &status, &bad);
	if (bad)
		return false;
	plan->params[1] = api_query_value(request, &desde, &bad);
	if (bad)
		return false;
	plan->params[2] = api_query_value(request, &hasta, &bad);
	if (bad)
		return false;
	plan->params[3] = api_keep(request, xasprintf("%d", plan->page_size));
	plan->params[4] = api_keep(request, xasprintf("%lld", (long long) (plan->page - 1) * plan->page_size));
	plan->nparams = 5;
	plan->read_only = true;
	plan->operation = "list_citas";
	/*
	 * Location by location (a staff member's one, or an admin's every one):
	 * desde and hasta are local dates there, so they become instants once
	 * per location, and the citas between them come off the index on
	 * (location_id, starts_at) in order, at most a page's worth each.
	 */
#define LOCATIONS(desde, hasta) \
	" (SELECT l.id, l.timezone," \
	"   COALESCE(" desde "::pg_catalog.date::pg_catalog.timestamp AT TIME ZONE l.timezone, '-infinity') AS from_time," \
	"   COALESCE((" hasta "::pg_catalog.date + 1)::pg_catalog.timestamp AT TIME ZONE l.timezone, 'infinity') AS to_time" \
	"  FROM api.location_settings l OFFSET 0) l"
#define CITAS_OF_L(status) \
	" FROM api.citas c WHERE c.location_id = l.id AND c.start_time >= l.from_time AND c.start_time < l.to_time" \
	"   AND (" status "::reflexo.appointment_status IS NULL OR c.status = " status "::reflexo.appointment_status)"
	if (api_wants_csv(request))
	{
		/* every page, as CSV; COPY takes no parameters: the filters are settings (api_export.c) */
#define SETTING(name) "NULLIF(pg_catalog.current_setting('request.csv." name "'), '')"
		plan->csv = true;
		plan->operation = "export_citas";
		plan->sql = "COPY (SELECT c.id, c.title, c.contact_id, c.ghl_calendar_id,"
			" reflexo.ghl_time(c.start_time, l.timezone) AS start_time, reflexo.ghl_time(c.end_time, l.timezone) AS end_time,"
			" c.fecha, c.status, c.assigned_user_id, c.notes, c.ghl_location_id, c.ghl_appointment_id, c.sync_state,"
			" c.sync_error FROM" LOCATIONS(SETTING("desde"), SETTING("hasta")) ","
			" LATERAL (SELECT c.*" CITAS_OF_L(SETTING("status")) ") c ORDER BY c.start_time, c.id)"
			" TO STDOUT WITH (FORMAT csv, HEADER true)";
#undef SETTING
		return true;
	}
	plan->sql = api_sql(request,
					"SELECT " API_PAGE_RESULTS("%s", "c.start_time, c.id") ","
					" (SELECT pg_catalog.count(*) FROM" LOCATIONS("$2", "$3") ", LATERAL (SELECT 1" CITAS_OF_L("$1") ") c)"
					" FROM (SELECT c.*, l.timezone AS location_timezone FROM" LOCATIONS("$2", "$3") ","
					"   LATERAL (SELECT c.*" CITAS_OF_L("$1") " ORDER BY c.start_time, c.id LIMIT $4::pg_catalog.int8 + $5::pg_catalog.int8) c"
					"   ORDER BY c.start_time, c.id LIMIT $4::pg_catalog.int8 OFFSET $5::pg_catalog.int8) c,"
					"  LATERAL (SELECT c.location_timezone AS timezone) l",
					api_cita_json);
#undef CITAS_OF_L
#undef LOCATIONS
	return true;
}

static const char *
one_cita(ApiRequest *request, const char *rows)
{
	return api_sql(request, "%s SELECT %s FROM w c JOIN api.location_settings l ON l.id = c.location_id", rows, api_cita_json);
}

/* POST /api/ghl/citas/ */
static bool
plan_create(ApiRequest *request, ApiPlan *plan)
{
	json_t	   *values = api_validate(request, cita_fields, NFIELDS, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_keep(request, json_dumps(values, JSON_COMPACT));
	plan->nparams = 1;
	plan->sql = one_cita(request, api_sql(request, "WITH w AS (%s)",
									  (char *) api_keep(request, api_insert_sql("api.citas", cita_fields, NFIELDS, values, 1))));
	plan->status = 201;
	plan->operation = "create_cita";
	plan->strict_validation = requested_validation(values);
	json_decref(values);
	return true;
}

/* GET /api/ghl/citas/{id}/ */
static bool
plan_detail(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->read_only = true;
	plan->sql = one_cita(request, "WITH w AS (SELECT * FROM api.citas WHERE id = $1::pg_catalog.int8)");
	plan->operation = "get_cita";
	return true;
}

/* PUT (every required field) and PATCH (any) /api/ghl/citas/{id}/ */
static bool
plan_update(ApiRequest *request, ApiPlan *plan)
{
	json_t	   *values = api_validate(request, cita_fields, NFIELDS, strcmp(request->http->method, "PUT") == 0);

	if (values == NULL)
		return false;
	if (json_object_get(values, "ghl_location_id"))
	{
		/* a cita stays in its location; the database says so too (428C9) */
		json_object_del(values, "ghl_location_id");
	}
	plan->params[0] = api_id_text(request);
	plan->params[1] = api_keep(request, json_dumps(values, JSON_COMPACT));
	plan->nparams = 2;
	plan->sql = one_cita(request, api_sql(request, "WITH w AS (%s)",
									  (char *) api_keep(request, api_update_sql("api.citas", cita_fields, NFIELDS, values, 1, 2))));
	plan->operation = "update_cita";
	plan->strict_validation = requested_validation(values);
	json_decref(values);
	return true;
}

/* POST /api/ghl/citas/{id}/cancel/ */
static bool
plan_cancel(ApiRequest *request, ApiPlan *plan)
{
	if (json_object_size(request->body) > 0)
		return api_validate(request, NULL, 0, false) != NULL;	/* says which fields are unknown */
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->sql = one_cita(request, "WITH w AS (SELECT * FROM api.cancel_cita($1::pg_catalog.int8))");
	plan->operation = "cancel_cita";
	return true;
}

/* POST /api/ghl/citas/{id}/retry_sync/ (admins): a failed push gets a fresh set of attempts */
static bool
plan_retry_sync(ApiRequest *request, ApiPlan *plan)
{
	if (json_object_size(request->body) > 0)
		return api_validate(request, NULL, 0, false) != NULL;
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->sql = one_cita(request, "WITH w AS (SELECT * FROM api.retry_sync($1::pg_catalog.int8))");
	plan->operation = "retry_sync";
	return true;
}

/* GET /api/ghl/citas/{id}/history/: every change, oldest first; 404 if the cita is not the caller's */
static bool
plan_history(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "cita_history";
	plan->sql = "SELECT pg_catalog.json_agg(pg_catalog.json_build_object('id', h.id, 'cita_id', h.cita_id,"
		" 'operation', h.operation, 'origin', h.origin, 'actor', h.actor,"
		" 'changed_at', reflexo.ghl_time(h.changed_at, l.timezone),"
		" 'old_values', h.old_values, 'new_values', h.new_values) ORDER BY h.id)"
		" FROM api.cita_history h JOIN api.location_settings l ON l.id = h.location_id"
		" WHERE h.cita_id = $1::pg_catalog.int8 HAVING pg_catalog.count(*) > 0";
	return true;
}

/* GET /api/ghl/citas/upcoming/: the next 7 days (?days= up to 90), soonest first */
static bool
plan_upcoming(ApiRequest *request, ApiPlan *plan)
{
	static const Field days = {"days", FIELD_ID, false, false, 0, NULL, NULL};
	bool		bad;
	const char *n = api_query_value(request, &days, &bad);

	if (bad)
		return false;
	plan->params[0] = n ? n : "7";
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "upcoming_citas";
	plan->sql = api_sql(request,
					"SELECT COALESCE(pg_catalog.json_agg(%s ORDER BY c.start_time, c.id), '[]')"
					" FROM api.upcoming_citas(LEAST($1::pg_catalog.int4, 90)) c"
					" JOIN api.location_settings l ON l.id = c.location_id", api_cita_json);
	return true;
}

/* GET /api/ghl/calendars/?location_id=<GHL location id>: {calendars, total, success} */
static bool
plan_calendars(ApiRequest *request, ApiPlan *plan)
{
	static const Field location = {"location_id", FIELD_TEXT, false, false, 100, NULL, NULL};
	bool		bad;

	plan->params[0] = api_query_value(request, &location, &bad);
	if (bad)
		return false;
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "list_calendars";
	plan->sql = "SELECT pg_catalog.json_build_object('calendars', COALESCE(pg_catalog.json_agg("
		"pg_catalog.json_build_object('id', c.ghl_calendar_id, 'name', c.name, 'description', c.description,"
		" 'timezone', c.timezone, 'isActive', c.is_active, 'locationId', c.ghl_location_id) ORDER BY c.name, c.id), '[]'),"
		" 'total', pg_catalog.count(*), 'success', true)"
		" FROM api.calendars c WHERE c.ghl_calendar_id IS NOT NULL"
		" AND ($1::pg_catalog.text IS NULL OR c.ghl_location_id = $1::pg_catalog.text)";
	return true;
}

const Endpoint api_citas_endpoints[] = {
	{"/api/ghl/citas/", "GET", ACCESS_USER, plan_list, api_render_page, NULL, false},
	{"/api/ghl/citas/", "POST", ACCESS_USER, plan_create, NULL, NULL, false},
	{"/api/ghl/citas/upcoming/", "GET", ACCESS_USER, plan_upcoming, NULL, NULL, false},
	{"/api/ghl/citas/{id}/", "GET", ACCESS_USER, plan_detail, NULL, NULL, false},
	{"/api/ghl/citas/{id}/", "PUT", ACCESS_USER, plan_update, NULL, NULL, false},
	{"/api/ghl/citas/{id}/", "PATCH", ACCESS_USER, plan_update, NULL, NULL, false},
	{"/api/ghl/citas/{id}/cancel/", "POST", ACCESS_USER, plan_cancel, NULL, NULL, false},
	{"/api/ghl/citas/{id}/retry_sync/", "POST", ACCESS_USER, plan_retry_sync, NULL, NULL, false},
	{"/api/ghl/citas/{id}/history/", "GET", ACCESS_USER, plan_history, NULL, NULL, false},
	{"/api/ghl/calendars/", "GET", ACCESS_USER, plan_calendars, NULL, NULL, false},
};
const int	api_citas_count = sizeof(api_citas_endpoints) / sizeof(*api_citas_endpoints);
