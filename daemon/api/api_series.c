/*
 * api_series.c — treatment series and free slots: /api/ghl/series/ over
 * api.book_series, api.series, api.cancel_series and api.move_series, and
 * /api/ghl/free_slots/ over api.free_slots.  The series' rules (RRULE,
 * all-or-nothing, alternatives) are the database's; a refused series is a
 * 409 whose body names each refused session and the free times nearest it.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/alloc.h"

/* A series (s, a row of api.series) and its citas, as the front end reads them. */
#define SERIES_JSON \
	"pg_catalog.json_build_object('id', s.id, 'ghl_calendar_id', s.ghl_calendar_id," \
	" 'ghl_location_id', s.ghl_location_id, 'assigned_user_id', s.assigned_user_id, 'contact_id', s.contact_id," \
	" 'title', s.title, 'start_time', reflexo.ghl_time(s.first_start, s.timezone), 'rrule', s.rrule," \
	" 'duration_minutes', (pg_catalog.date_part('epoch', s.duration) / 60)::pg_catalog.int4," \
	" 'all_or_nothing', s.all_or_nothing, 'citas', (SELECT COALESCE(pg_catalog.json_agg(%s ORDER BY c.start_time), '[]')" \
	"   FROM api.series_citas(s.id) c JOIN api.location_settings l ON l.id = c.location_id))"

/*
 * The sessions a series could not book (o.r -> 'refused' of reflexo.try_series),
 * with their times and their free alternatives' in the offset of zone z.
 */
#define REFUSED_JSON \
	"(SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"   'start_time', reflexo.ghl_time((f ->> 'starts_at')::pg_catalog.timestamptz, z.timezone)," \
	"   'end_time', reflexo.ghl_time((f ->> 'ends_at')::pg_catalog.timestamptz, z.timezone)," \
	"   'error', f -> 'error', 'sqlstate', f -> 'sqlstate', 'constraint', f -> 'constraint'," \
	"   'alternatives', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"     'start_time', reflexo.ghl_time((a ->> 'starts_at')::pg_catalog.timestamptz, z.timezone)," \
	"     'end_time', reflexo.ghl_time((a ->> 'ends_at')::pg_catalog.timestamptz, z.timezone))), '[]')" \
	"     FROM pg_catalog.jsonb_array_elements(f -> 'alternatives') a))), '[]')" \
	"  FROM pg_catalog.jsonb_array_elements(o.r -> 'refused') f)"

/* POST /api/ghl/series/: 201 with the series and its citas, or 409 with what was refused */
static bool
plan_book(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {
		{"ghl_calendar_id", FIELD_TEXT, true, false, 100, NULL, NULL},
		{"start_time", FIELD_TIME, true, false, 0, NULL, NULL},
		{"rrule", FIELD_TEXT, true, false, 500, NULL, NULL},
		{"duration_minutes", FIELD_ID, false, true, 0, NULL, NULL},
		{"assigned_user_id", FIELD_TEXT, false, true, 100, NULL, NULL},
		{"contact_id", FIELD_TEXT, false, true, 100, NULL, NULL},
		{"title", FIELD_TEXT, false, false, 255, NULL, NULL},
		{"notes", FIELD_TEXT, false, true, 10000, NULL, NULL},
		{"all_or_nothing", FIELD_BOOL, false, false, 0, NULL, NULL},
	};
	const int	n = (int) (sizeof(fields) / sizeof(*fields));
	json_t	   *values = api_validate(request, fields, n, true);

	if (values == NULL)
		return false;
	for (int i = 0; i < n; i++)
	{
		const char *value = json_string_value(json_object_get(values, fields[i].name));

		plan->params[i] = value ? api_sql(request, "%s", value) : NULL;
	}
	if (plan->params[6] == NULL)
		plan->params[6] = "";
	if (plan->params[8] == NULL)
		plan->params[8] = "true";
	plan->nparams = n;
	plan->wants_status = true;
	plan->operation = "book_series";
	plan->sql = api_sql(request,
						"WITH o AS (SELECT api.book_series($1, $2::pg_catalog.timestamptz, $3, $4::pg_catalog.int4,"
						"  $5, $6, $7, $8, $9::pg_catalog.bool) AS r)"
						" SELECT CASE WHEN (o.r ->> 'booked')::pg_catalog.bool"
						"  THEN (SELECT " SERIES_JSON "::pg_catalog.jsonb || pg_catalog.jsonb_build_object('refused', " REFUSED_JSON ")"
						"        FROM api.series_by_id((o.r ->> 'series_id')::pg_catalog.int8) s)"
						"  ELSE pg_catalog.jsonb_build_object('non_field_errors', pg_catalog.jsonb_build_array("
						"        pg_catalog.format(reflexo.translate('%%s of the %%s sessions of the series cannot be booked'),"
						"          pg_catalog.jsonb_array_length(o.r -> 'refused'), o.r ->> 'occurrences')),"
						"        'refused', " REFUSED_JSON ") END"
						" FROM o, (SELECT c.timezone FROM api.calendars c"
						"  WHERE c.ghl_calendar_id = $1 OR c.id::pg_catalog.text = $1 LIMIT 1) z",
						api_cita_json);
	json_decref(values);
	return true;
}

/* api.book_series says 201 or 409 in response.status */
static void
render_booked(ApiRequest *request, const ApiPlan *plan, const ApiResult *result)
{
	ApiPlan		answered = *plan;

	answered.status = result->response_status ? atoi(result->response_status) : 201;
	api_render_json(request, &answered, result);
}

/* GET /api/ghl/series/{id}/ */
static bool
plan_detail(ApiRequest *request, ApiPlan *plan)
{
	plan->params[0] = api_id_text(request);
	plan->nparams = 1;
	plan->read_only = true;
	plan->operation = "get_series";
	plan->sql = api_sql(request, "SELECT " SERIES_JSON " FROM api.series s WHERE s.id = $1::pg_catalog.int8",
						api_cita_json);
	return true;
}

/* POST /api/ghl/series/{id}/cancel/ {desde?}: this session (starting at desde) and all following, or all */
static bool
plan_cancel(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {{"desde", FIELD_TIME, false, true, 0, NULL, NULL}};
	json_t	   *values = api_validate(request, fields, 1, false);

	if (values == NULL)
		return false;
	plan->params[0] = api_id_text(request);
	plan->params[1] = json_string_value(json_object_get(values, "desde")) ?
		api_sql(request, "%s", json_string_value(json_object_get(values, "desde"))) : NULL;
	plan->nparams = 2;
	plan->operation = "cancel_series";
	plan->sql = "SELECT pg_catalog.json_build_object('cancelled',"
		" api.cancel_series($1::pg_catalog.int8, $2::pg_catalog.timestamptz))";
	json_decref(values);
	return true;
}

/* POST /api/ghl/series/{id}/move/ {desde, start_time}: the session at desde to start_time, and all following alike */
static bool
plan_move(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {
		{"desde", FIELD_TIME, true, false, 0, NULL, NULL},
		{"start_time", FIELD_TIME, true, false, 0, NULL, NULL},
	};
	json_t	   *values = api_validate(request, fields, 2, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_id_text(request);
	plan->params[1] = api_sql(request, "%s", json_string_value(json_object_get(values, "desde")));
	plan->params[2] = api_sql(request, "%s", json_string_value(json_object_get(values, "start_time")));
	plan->nparams = 3;
	plan->operation = "move_series";
	plan->sql = "SELECT pg_catalog.json_build_object('moved', api.move_series($1::pg_catalog.int8,"
		" $2::pg_catalog.timestamptz, $3::pg_catalog.timestamptz))";
	json_decref(values);
	return true;
}

/* GET /api/ghl/free_slots/?ghl_calendar_id=&desde=&hasta=[&duration_minutes=][&assigned_user_id=] */
static bool
plan_free_slots(ApiRequest *request, ApiPlan *plan)
{
	static const Field query[] = {
		{"ghl_calendar_id", FIELD_TEXT, true, false, 100, NULL, NULL},
		{"desde", FIELD_TIME, true, false, 0, NULL, NULL},
		{"hasta", FIELD_TIME, true, false, 0, NULL, NULL},
		{"duration_minutes", FIELD_ID, false, false, 0, NULL, NULL},
		{"assigned_user_id", FIELD_TEXT, false, false, 100, NULL, NULL},
	};
	bool		bad;

	for (int i = 0; i < 5; i++)
	{
		plan->params[i] = api_query_value(request, &query[i], &bad);
		if (bad)
			return false;
		if (plan->params[i] == NULL && query[i].required)
		{
			http_reply_json(request->reply, 400, json_pack("{s:[s]}", query[i].name,
														   api_message(request->language, "This field is required.")));
			return false;
		}
	}
	plan->nparams = 5;
	plan->read_only = true;
	plan->operation = "free_slots";
	plan->sql = "SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object("
		" 'start_time', reflexo.ghl_time(f.start_time, l.timezone), 'end_time', reflexo.ghl_time(f.end_time, l.timezone))"
		" ORDER BY f.start_time), '[]')"
		" FROM api.free_slots($1, $2::pg_catalog.timestamptz, $3::pg_catalog.timestamptz, $4::pg_catalog.int4, $5) f,"
		" (SELECT c.timezone FROM api.calendars c WHERE c.ghl_calendar_id = $1 OR c.id::pg_catalog.text = $1 LIMIT 1) l";
	return true;
}

const Endpoint api_series_endpoints[] = {
	{"/api/ghl/series/", "POST", ACCESS_USER, plan_book, render_booked, NULL, false},
	{"/api/ghl/series/{id}/", "GET", ACCESS_USER, plan_detail, NULL, NULL, false},
	{"/api/ghl/series/{id}/cancel/", "POST", ACCESS_USER, plan_cancel, NULL, NULL, false},
	{"/api/ghl/series/{id}/move/", "POST", ACCESS_USER, plan_move, NULL, NULL, false},
	{"/api/ghl/free_slots/", "GET", ACCESS_USER, plan_free_slots, NULL, NULL, false},
};
const int	api_series_count = sizeof(api_series_endpoints) / sizeof(*api_series_endpoints);
