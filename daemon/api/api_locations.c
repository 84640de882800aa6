/*
 * api_locations.c — /api/locations/settings/, over api.location_settings,
 * api.set_default_calendar, api.location_calendars, api.sync_calendars,
 * api.retry_failed_syncs and the closures (api.closures, api.add_closure,
 * api.remove_closure).
 * Staff read their own locations; only admins write (the database says so:
 * 403).  default_calendar_id is the GHL calendar id, as the Django service
 * kept it; durations read as DRF writes them ("00:15:00", "1 00:00:00").
 */
#include <string.h>

#include "api.h"

static const Field location_fields[] = {
	{"ghl_location_id", FIELD_TEXT, true, false, 100, NULL, "pg_catalog.text"},
	{"name", FIELD_TEXT, true, false, 255, NULL, "pg_catalog.text"},
	{"timezone", FIELD_TEXT, false, false, 64, NULL, "reflexo.time_zone"},
	{"is_active", FIELD_BOOL, false, false, 0, NULL, "pg_catalog.bool"},
	{"open_hours", FIELD_TEXT, false, false, 500, NULL, "reflexo.open_hours"},
	{"min_duration", FIELD_DURATION, false, false, 0, NULL, "pg_catalog.interval"},
	{"max_duration", FIELD_DURATION, false, false, 0, NULL, "pg_catalog.interval"},
	{"strict_validation", FIELD_BOOL, false, false, 0, NULL, "pg_catalog.bool"},
	{"staff_flexible", FIELD_BOOL, false, false, 0, NULL, "pg_catalog.bool"},
};

#define NFIELDS ((int) (sizeof(location_fields) / sizeof(*location_fields)))

/* an interval with months (GHL's "3 months" notice) as days and time, a month counting 30 days */
#define IN_DAYS(x) "pg_catalog.justify_hours(pg_catalog.make_interval(secs => pg_catalog.date_part('epoch', " x ")))"

#define DURATION(x) \
	"CASE WHEN pg_catalog.date_part('day', " x ") > 0 THEN pg_catalog.date_part('day', " x ")::pg_catalog.text || ' ' ELSE '' END" \
	" || pg_catalog.to_char(" x ", 'HH24:MI:SS')"

/* A location (s, a row of api.location_settings), as the front end reads it (compact, as api_cita_json). */
const char *const api_location_json =
	"(SELECT pg_catalog.row_to_json(json_row) FROM (SELECT s.id, s.ghl_location_id, s.name, s.timezone, s.is_active,"
	" (SELECT dc.ghl_calendar_id FROM api.calendars dc WHERE dc.id = s.default_calendar_id) AS default_calendar_id,"
	" s.open_hours::pg_catalog.text AS open_hours,"
	" " DURATION("pg_catalog.justify_hours(s.min_duration)") " AS min_duration,"
	" " DURATION("pg_catalog.justify_hours(s.max_duration)") " AS max_duration,"
	" s.strict_validation, s.staff_flexible,"
	" reflexo.ghl_time(s.created_at, s.timezone) AS created_at, reflexo.ghl_time(s.updated_at, s.timezone) AS updated_at) json_row)";

/* GET /api/locations/settings/ */
static bool
plan_list(ApiRequest *request, ApiPlan *plan)
{
	if (!api_page(request, api_settings(), plan))
		return false;
	plan->params[0] = api_sql(request, "%d", plan->page_size);
	plan->params[1] = api_sql(request, "%lld", (long long) (plan->page - 1) * plan->page_size);
	plan->nparams = 2;
	plan->read_only = true;
	plan->operation = "list_locations";
	plan->sql = api_sql(request,
						"SELECT " API_PAGE_RESULTS("%s", "s.id") ", (SELECT pg_catalog.count(*) FROM api.location_settings)"
						" FROM (SELECT * FROM api.location_settings ORDER BY id LIMIT $1::pg_catalog.int8 OFFSET $2::pg_catalog.int8) s",
						api_location_json);
	return true;
}

static const char *
one_location(ApiRequest *request, const char *rows)
{
	return api_sql(request, "%s SELECT %s FROM w s", rows, api_location_json);
}

/* POST /api/locations/settings/ (admins) */
static bool
plan_create(ApiRequest *request, ApiPlan *plan)
{
	json_t	   *values = api_validate(request, location_fields, NFIELDS, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_keep(request, json_dumps(values, JSON_COMPACT));
	plan->nparams = 1;
	plan->sql = one_location(request, api_sql(request, "WITH w AS (%s)",
											  (char *) api_keep(request, api_insert_sql("api.location_settings",
																				  location_fields, NFIELDS, values, 1))));
	plan->status = 201;
	plan->operation = "create_location";
	json_decref(values);
	return true;
}

/* GET /api/locations/settings/{id}/ */
static bool
plan_detail(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "get_location";
	plan->sql = one_location(request, "WITH w AS (SELECT * FROM api.location_settings WHERE id = $1::pg_catalog.int8)");
	return true;
}

/* PUT and PATCH /api/locations/settings/{id}/ (admins) */
static bool
plan_update(ApiRequest *request, ApiPlan *plan)
{
	json_t	   *values = api_validate(request, location_fields, NFIELDS, strcmp(request->http->method, "PUT") == 0);

	if (values == NULL)
		return false;
	plan->params[0] = api_id_text(request);
	plan->params[1] = api_keep(request, json_dumps(values, JSON_COMPACT));
	plan->nparams = 2;
	plan->sql = one_location(request, api_sql(request, "WITH w AS (%s)",
											  (char *) api_keep(request, api_update_sql("api.location_settings",
																				  location_fields, NFIELDS, values, 1, 2))));
	plan->operation = "update_location";
	json_decref(values);
	return true;
}

/* DELETE /api/locations/settings/{id}/ (admins): 204; 409 while calendars or citas hold it */
static bool
plan_delete(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->status = 204;
	plan->operation = "delete_location";
	plan->sql = "WITH w AS (DELETE FROM api.location_settings s WHERE s.id = $1::pg_catalog.int8 RETURNING s.id)"
		" SELECT pg_catalog.json_build_object('id', id) FROM w";
	return true;
}

/* POST /api/locations/settings/{id}/set_default_calendar/ {"calendar_id": "cal_123"} (admins) */
static bool
plan_set_default_calendar(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {{"calendar_id", FIELD_TEXT, true, false, 100, NULL, "pg_catalog.text"}};
	json_t	   *values = api_validate(request, fields, 1, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_id_text(request);
	plan->params[1] = api_sql(request, "%s", json_string_value(json_object_get(values, "calendar_id")));
	plan->nparams = 2;
	plan->operation = "set_default_calendar";
	plan->sql = one_location(request, "WITH w AS (SELECT * FROM api.set_default_calendar($1::pg_catalog.int8, $2))");
	json_decref(values);
	return true;
}

/* GET /api/locations/settings/{id}/calendars/: {calendars, total, success}, as /api/ghl/calendars/ */
static bool
plan_calendars(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "location_calendars";
	plan->sql = "SELECT pg_catalog.json_build_object('calendars', COALESCE(pg_catalog.json_agg("
		"pg_catalog.json_build_object('id', c.ghl_calendar_id, 'name', c.name, 'description', c.description,"
		" 'timezone', c.timezone, 'isActive', c.is_active, 'locationId', c.ghl_location_id, 'isDefault', c.is_default,"
		" 'capacity', c.capacity, 'openHours', c.open_hours, 'slotDuration', " DURATION("c.slot_duration") ","
		" 'bufferBefore', " DURATION("c.buffer_before") ", 'bufferAfter', " DURATION("c.buffer_after") ","
		" 'minNotice', " DURATION(IN_DAYS("c.min_notice")) ","
		" 'bookingHorizon', " DURATION(IN_DAYS("c.booking_horizon")) ", 'maxPerDay', c.max_per_day)"
		" ORDER BY c.name, c.id) FILTER (WHERE c.id IS NOT NULL), '[]'),"
		" 'total', pg_catalog.count(c.id), 'success', true)"
		" FROM reflexo.api_visible_location($1::pg_catalog.int8) s"
		" LEFT JOIN api.location_calendars($1::pg_catalog.int8) c ON true";
	return true;
}

/* GET /api/locations/settings/active_locations/ */
static bool
plan_active(ApiRequest *request, ApiPlan *plan)
{
	plan->read_only = true;
	plan->operation = "active_locations";
	plan->sql = api_sql(request, "SELECT COALESCE(pg_catalog.json_agg(%s ORDER BY s.name, s.id), '[]')"
						" FROM api.active_locations s", api_location_json);
	return true;
}

/* POST /api/locations/settings/{id}/sync_calendars/: reflexo-sync fetches them from GHL now */
static bool
plan_sync_calendars(ApiRequest *request, ApiPlan *plan)
{
	if (json_object_size(request->body) > 0)
		return api_validate(request, NULL, 0, false) != NULL;
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->status = 202;
	plan->operation = "sync_calendars";
	plan->sql = "SELECT api.sync_calendars($1::pg_catalog.int8)";
	return true;
}

/* POST /api/locations/settings/{id}/retry_sync/ (admins): every failed push of the location again */
static bool
plan_retry_syncs(ApiRequest *request, ApiPlan *plan)
{
	if (json_object_size(request->body) > 0)
		return api_validate(request, NULL, 0, false) != NULL;
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->operation = "retry_failed_syncs";
	plan->sql = "SELECT api.retry_failed_syncs($1::pg_catalog.int8)";
	return true;
}

/* A closure (cl, a row of api.closures) of location s; local wall-clock times. */
#define CLOSURE_JSON \
	"pg_catalog.json_build_object('id', cl.id, 'ghl_calendar_id', cl.ghl_calendar_id, 'ghl_user_id', cl.ghl_user_id," \
	" 'closed_from', cl.closed_from, 'closed_until', cl.closed_until, 'reason', cl.reason," \
	" 'created_at', reflexo.ghl_time(cl.created_at, s.timezone))"

/* GET /api/locations/settings/{id}/closures/: upcoming and past, soonest first */
static bool
plan_closures(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "list_closures";
	plan->sql = "SELECT COALESCE(pg_catalog.json_agg(" CLOSURE_JSON " ORDER BY cl.closed_from, cl.id)"
		" FILTER (WHERE cl.id IS NOT NULL), '[]')"
		" FROM reflexo.api_visible_location($1::pg_catalog.int8) s"
		" LEFT JOIN api.closures cl ON cl.location_id = s.id";
	return true;
}

/* A therapist (t, a row of api.therapists) of location s. */
#define THERAPIST_JSON \
	"pg_catalog.json_build_object('ghl_user_id', t.ghl_user_id, 'name', t.name, 'open_hours', t.open_hours," \
	" 'updated_at', reflexo.ghl_time(t.updated_at, s.timezone))"

/* GET /api/locations/settings/{id}/therapists/ */
static bool
plan_therapists(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "list_therapists";
	plan->sql = "SELECT COALESCE(pg_catalog.json_agg(" THERAPIST_JSON " ORDER BY t.name, t.ghl_user_id)"
		" FILTER (WHERE t.ghl_user_id IS NOT NULL), '[]')"
		" FROM reflexo.api_visible_location($1::pg_catalog.int8) s"
		" LEFT JOIN api.therapists t ON t.location_id = s.id";
	return true;
}

/* POST /api/locations/settings/{id}/therapists/ {ghl_user_id[, name, open_hours]} (admins): add, or set name and hours */
static bool
plan_set_therapist(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {
		{"ghl_user_id", FIELD_TEXT, true, false, 100, NULL, NULL},
		{"name", FIELD_TEXT, false, true, 255, NULL, NULL},
		{"open_hours", FIELD_TEXT, false, true, 500, NULL, NULL},
	};
	json_t	   *values = api_validate(request, fields, 3, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_id_text(request);
	for (int i = 0; i < 3; i++)
	{
		const char *value = json_string_value(json_object_get(values, fields[i].name));

		plan->params[i + 1] = value ? api_sql(request, "%s", value) : NULL;
	}
	plan->nparams = 4;
	plan->operation = "set_therapist";
	plan->sql = "SELECT " THERAPIST_JSON " FROM api.set_therapist($1::pg_catalog.int8, $2, $3, $4) t,"
		" reflexo.api_visible_location($1::pg_catalog.int8) s";
	json_decref(values);
	return true;
}

/* POST /api/locations/settings/{id}/time_off/ {ghl_user_id, closed_from, closed_until, reason} (admins): 201 */
static bool
plan_add_time_off(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {
		{"ghl_user_id", FIELD_TEXT, true, false, 100, NULL, NULL},
		{"closed_from", FIELD_TIME, true, false, 0, NULL, NULL},
		{"closed_until", FIELD_TIME, true, false, 0, NULL, NULL},
		{"reason", FIELD_TEXT, true, false, 500, NULL, NULL},
	};
	json_t	   *values = api_validate(request, fields, 4, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_id_text(request);
	for (int i = 0; i < 4; i++)
		plan->params[i + 1] = api_sql(request, "%s", json_string_value(json_object_get(values, fields[i].name)));
	plan->nparams = 5;
	plan->status = 201;
	plan->operation = "add_time_off";
	plan->sql = "SELECT api.add_time_off($1::pg_catalog.int8, $2, $3::pg_catalog.timestamptz,"
		" $4::pg_catalog.timestamptz, $5)";
	json_decref(values);
	return true;
}

/* POST /api/locations/settings/{id}/closures/ {first_day, reason[, last_day, ghl_calendar_id]} (admins): 201 */
static bool
plan_add_closure(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {
		{"first_day", FIELD_DATE, true, false, 0, NULL, NULL},
		{"last_day", FIELD_DATE, false, true, 0, NULL, NULL},
		{"reason", FIELD_TEXT, true, false, 500, NULL, NULL},
		{"ghl_calendar_id", FIELD_TEXT, false, true, 100, NULL, NULL},
	};
	json_t	   *values = api_validate(request, fields, 4, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_id_text(request);
	for (int i = 0; i < 4; i++)
	{
		const char *value = json_string_value(json_object_get(values, fields[i].name));

		plan->params[i + 1] = value ? api_sql(request, "%s", value) : NULL;
	}
	plan->nparams = 5;
	plan->status = 201;
	plan->operation = "add_closure";
	plan->sql = "SELECT api.add_closure($1::pg_catalog.int8, $2::pg_catalog.date, $4, $3::pg_catalog.date, $5)";
	json_decref(values);
	return true;
}

/* DELETE /api/locations/settings/{id}/closures/{closure id}/ (admins): 204 */
static bool
plan_remove_closure(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->params[1] = api_sql(request, "%lld", (long long) request->sub_id);
	plan->nparams = 2;
	plan->status = 204;
	plan->operation = "remove_closure";
	plan->sql = "SELECT api.remove_closure($1::pg_catalog.int8, $2::pg_catalog.int8)";
	return true;
}

const Endpoint api_locations_endpoints[] = {
	{"/api/locations/settings/", "GET", ACCESS_USER, plan_list, api_render_page, NULL, false},
	{"/api/locations/settings/", "POST", ACCESS_USER, plan_create, NULL, NULL, false},
	{"/api/locations/settings/active_locations/", "GET", ACCESS_USER, plan_active, NULL, NULL, false},
	{"/api/locations/settings/{id}/", "GET", ACCESS_USER, plan_detail, NULL, NULL, false},
	{"/api/locations/settings/{id}/", "PUT", ACCESS_USER, plan_update, NULL, NULL, false},
	{"/api/locations/settings/{id}/", "PATCH", ACCESS_USER, plan_update, NULL, NULL, false},
	{"/api/locations/settings/{id}/", "DELETE", ACCESS_USER, plan_delete, NULL, NULL, false},
	{"/api/locations/settings/{id}/set_default_calendar/", "POST", ACCESS_USER, plan_set_default_calendar, NULL, NULL, false},
	{"/api/locations/settings/{id}/calendars/", "GET", ACCESS_USER, plan_calendars, NULL, NULL, false},
	{"/api/locations/settings/{id}/sync_calendars/", "POST", ACCESS_USER, plan_sync_calendars, NULL, NULL, false},
	{"/api/locations/settings/{id}/retry_sync/", "POST", ACCESS_USER, plan_retry_syncs, NULL, NULL, false},
	{"/api/locations/settings/{id}/closures/", "GET", ACCESS_USER, plan_closures, NULL, NULL, false},
	{"/api/locations/settings/{id}/closures/", "POST", ACCESS_USER, plan_add_closure, NULL, NULL, false},
	{"/api/locations/settings/{id}/closures/{id}/", "DELETE", ACCESS_USER, plan_remove_closure, NULL, NULL, false},
	{"/api/locations/settings/{id}/therapists/", "GET", ACCESS_USER, plan_therapists, NULL, NULL, false},
	{"/api/locations/settings/{id}/therapists/", "POST", ACCESS_USER, plan_set_therapist, NULL, NULL, false},
	{"/api/locations/settings/{id}/time_off/", "POST", ACCESS_USER, plan_add_time_off, NULL, NULL, false},
};
const int	api_locations_count = sizeof(api_locations_endpoints) / sizeof(*api_locations_endpoints);
