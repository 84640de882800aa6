/*
 * sim_control.c — the simulator's own API under /_sim/, for tests and
 * demos.  No token is needed; it listens where the simulator listens.
 *
 *   GET  /_sim/state                 appointments, request and 429 counts,
 *                                    duplicate creates, webhooks, faults,
 *                                    event listings at once (now, most)
 *   POST /_sim/reset                 back to the seed; no faults
 *   GET|POST /_sim/faults            see sim_faults.c
 *   GET|POST /_sim/webhooks          delivery settings (url, duplicate_rate,
 *                                    delay_ms, hold, retry_interval_ms,
 *                                    max_retries, retry_on, sign_rsa,
 *                                    for_api_changes)
 *   POST /_sim/webhooks/release      {"order": "fifo"|"reverse"} held ones
 *   GET  /_sim/keys                  the public keys webhooks are signed with
 *   POST /_sim/tokens                {"location_id", "ttl_seconds", "scope",
 *                                    "kind": "oauth"|"pit"} issue a token
 *   POST /_sim/tokens/expire         {"location_id"} expire its access tokens
 *   POST /_sim/locations/{id}        {"active": false} pause a location
 *   POST /_sim/calendars             {"locationId", ...CalendarDTO} add/replace
 *   DELETE /_sim/calendars/{id}      remove a calendar from GHL
 *   POST|PUT|DELETE /_sim/ghl/appointments[/{id}]
 *                                    change an appointment as a GHL user would,
 *                                    then send its webhook ("silent": true, or
 *                                    ?silent=true for DELETE, sends none)
 *   POST /_sim/inbox                 a webhook receiver that keeps what it gets
 *   GET|DELETE /_sim/inbox           what it got / forget it
 *   POST /_sim/inbox/config          {"fail_next": n, "status": 500}
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"

static json_t *
body_object(const SimRequest *request, SimResponse *response)
{
	json_error_t error;
	json_t	   *body = request->body_len ? json_loadb(request->body, request->body_len, 0, &error) : json_object();

	if (!json_is_object(body))
	{
		json_decref(body);
		respond_errors(response, 422, json_pack("[s]", "the body must be a JSON object"));
		return NULL;
	}
	return body;
}

static void
ok(SimResponse *response)
{
	respond_json(response, 200, json_pack("{s:b}", "ok", 1));
}

static bool
method_is(const SimRequest *request, const char *method)
{
	return strcmp(request->method, method) == 0;
}

static void
settings(const SimRequest *request, SimResponse *response, json_t *(*get) (void),
		 bool (*set) (json_t *, char *, size_t))
{
	json_t	   *body;
	char		error[160];

	if (method_is(request, "GET"))
	{
		respond_json(response, 200, get());
		return;
	}
	if ((body = body_object(request, response)) == NULL)
		return;
	if (!set(body, error, sizeof(error)))
		respond_errors(response, 422, json_pack("[s]", error));
	else
		respond_json(response, 200, get());
	json_decref(body);
}

static void
issue_token(const SimRequest *request, SimResponse *response)
{
	json_t	   *body = body_object(request, response);
	SimLocation *location;
	const char *kind;
	json_int_t	ttl;

	if (body == NULL)
		return;
	location = store_location(json_string_value(json_object_get(body, "location_id")));
	if (location == NULL && store.nlocations > 0 && !json_object_get(body, "location_id"))
		location = &store.locations[0];
	kind = json_string_value(json_object_get(body, "kind")) ?: "oauth";
	ttl = json_object_get(body, "ttl_seconds") ? json_integer_value(json_object_get(body, "ttl_seconds"))
		: store.config.token_ttl_s;
	if (location == NULL || (strcmp(kind, "oauth") != 0 && strcmp(kind, "pit") != 0) || ttl < 0)
		respond_errors(response, 422, json_pack("[s]", "need a known location_id, kind oauth or pit, ttl_seconds >= 0"));
	else
		respond_json(response, 200,
					 store_issue_token(location,
									   json_string_value(json_object_get(body, "scope")) ?:
									   "calendars.readonly calendars.write calendars/events.readonly calendars/events.write",
									   strcmp(kind, "pit") == 0 ? 0 : (int) ttl, kind, strcmp(kind, "oauth") == 0));
	json_decref(body);
}

static void
expire_tokens(const SimRequest *request, SimResponse *response)
{
	json_t	   *body = body_object(request, response);
	const char *location = body ? json_string_value(json_object_get(body, "location_id")) : NULL;
	const char *token;
	json_t	   *record;
	int			n = 0;

	if (body == NULL)
		return;
	json_object_foreach(store.tokens, token, record)
	{
		if (location == NULL || strcmp(location, json_string_value(json_object_get(record, "location")) ?: "") == 0)
		{
			json_object_set_new(record, "expires_at_ms", json_integer(1));
			n++;
		}
	}
	json_decref(body);
	respond_json(response, 200, json_pack("{s:i}", "expired", n));
}

static void
ghl_appointments(const SimRequest *request, SimResponse *response, char **seg, int n)
{
	json_t	   *body = NULL;
	json_t	   *event;
	SimLocation *location = NULL;
	bool		silent;

	if (n == 3 && method_is(request, "POST"))
	{
		json_t	   *calendar;

		if ((body = body_object(request, response)) == NULL)
			return;
		calendar = store_find_calendar(json_string_value(json_object_get(body, "calendarId")), &location);
		if (calendar == NULL)
		{
			respond_errors(response, 422, json_pack("[s]", "calendarId must be a calendar of the simulator"));
			json_decref(body);
			return;
		}
		silent = json_is_true(json_object_get(body, "silent"));
		json_object_set_new(body, "ignoreFreeSlotValidation", json_true());
		event = appointment_create(location, calendar, body, "booking_widget", response);
		if (event)
		{
			respond_json(response, 200, json_incref(event));
			if (!silent)
				webhooks_emit("AppointmentCreate", location->id, event);
		}
	}
	else if (n == 4 && method_is(request, "PUT"))
	{
		if ((body = body_object(request, response)) == NULL)
			return;
		event = json_object_get(store.appointments, seg[3]);
		silent = json_is_true(json_object_get(body, "silent"));
		json_object_set_new(body, "ignoreFreeSlotValidation", json_true());
		if (event == NULL)
			respond_error(response, 404, "Appointment not found");
		else if (appointment_update(event, body, response))
		{
			respond_json(response, 200, json_incref(event));
			if (!silent)
				webhooks_emit("AppointmentUpdate", json_string_value(json_object_get(event, "locationId")), event);
		}
	}
	else if (n == 4 && method_is(request, "DELETE"))
	{
		const char *quiet = http_param(&request->query, "silent");

		event = appointment_delete(seg[3]);
		if (event == NULL)
			respond_error(response, 404, "Appointment not found");
		else
		{
			respond_json(response, 200, json_incref(event));
			if (!(quiet && strcmp(quiet, "true") == 0))
				webhooks_emit("AppointmentDelete", json_string_value(json_object_get(event, "locationId")), event);
		}
	}
	else
		respond_error(response, 404, "Unknown simulator route");
	json_decref(body);
}

static void
calendars(const SimRequest *request, SimResponse *response, char **seg, int n)
{
	json_t	   *body;
	SimLocation *location = NULL;

	if (n == 3 && method_is(request, "DELETE"))
	{
		if (store_find_calendar(seg[2], &location) == NULL)
			respond_error(response, 404, "Calendar not found");
		else
		{
			json_object_del(location->calendars, seg[2]);
			ok(response);
		}
		return;
	}
	if (n != 2 || !method_is(request, "POST") || (body = body_object(request, response)) == NULL)
	{
		if (response->body == NULL)
			respond_error(response, 404, "Unknown simulator route");
		return;
	}
	location = store_location(json_string_value(json_object_get(body, "locationId")));
	if (location == NULL || !json_is_string(json_object_get(body, "id")) ||
		!json_is_string(json_object_get(body, "name")))
		respond_errors(response, 422, json_pack("[s]", "need locationId of a simulator location, id and name"));
	else
	{
		json_object_set(location->calendars, json_string_value(json_object_get(body, "id")), body);
		respond_json(response, 200, json_incref(body));
	}
	json_decref(body);
}

static void
inbox(const SimRequest *request, SimResponse *response, char **seg, int n)
{
	if (n == 3 && strcmp(seg[2], "config") == 0 && method_is(request, "POST"))
	{
		json_t	   *body = body_object(request, response);

		if (body == NULL)
			return;
		store.inbox_fail_next = (int) json_integer_value(json_object_get(body, "fail_next"));
		store.inbox_fail_status = (int) json_integer_value(json_object_get(body, "status")) ?: 500;
		json_decref(body);
		ok(response);
	}
	else if (n == 2 && method_is(request, "GET"))
		respond_json(response, 200, json_pack("{s:O}", "received", store.inbox));
	else if (n == 2 && method_is(request, "DELETE"))
	{
		json_array_clear(store.inbox);
		ok(response);
	}
	else if (n == 2 && method_is(request, "POST"))
	{
		char		stamp[40];

		iso_time_format_utc(now_ms(), stamp, sizeof(stamp));
		json_array_append_new(store.inbox,
							  json_pack("{s:s, s:s?, s:s?, s:s#}", "received_at", stamp,
										"x-ghl-signature", request->ghl_signature,
										"x-wh-signature", request->wh_signature,
										"body", request->body ? request->body : "", (int) request->body_len));
		if (store.inbox_fail_next > 0)
		{
			store.inbox_fail_next--;
			respond_error(response, store.inbox_fail_status, "inbox told to fail");
		}
		else
			ok(response);
	}
	else
		respond_error(response, 404, "Unknown simulator route");
}

void
control_route(const SimRequest *request, SimResponse *response, char **seg, int n)
{
	const char *what = n >= 2 ? seg[1] : "";

	if (n == 2 && strcmp(what, "state") == 0 && method_is(request, "GET"))
		respond_json(response, 200, store_state());
	else if (n == 2 && strcmp(what, "reset") == 0 && method_is(request, "POST"))
	{
		store_reset();
		faults_reset();
		webhooks_reset();
		listings_reset();
		ok(response);
	}
	else if (n == 2 && strcmp(what, "faults") == 0)
		settings(request, response, faults_get, faults_set);
	else if (n == 2 && strcmp(what, "webhooks") == 0)
		settings(request, response, webhooks_config, webhooks_configure);
	else if (n == 3 && strcmp(what, "webhooks") == 0 && strcmp(seg[2], "release") == 0 && method_is(request, "POST"))
	{
		json_t	   *body = body_object(request, response);

		if (body == NULL)
			return;
		webhooks_release(strcmp(json_string_value(json_object_get(body, "order")) ?: "fifo", "reverse") == 0);
		json_decref(body);
		ok(response);
	}
	else if (n == 2 && strcmp(what, "keys") == 0 && method_is(request, "GET"))
		respond_json(response, 200, json_pack("{s:s?, s:s?}", "ed25519", webhooks_public_key_path(false),
											  "rsa", webhooks_public_key_path(true)));
	else if (n == 2 && strcmp(what, "tokens") == 0 && method_is(request, "POST"))
		issue_token(request, response);
	else if (n == 3 && strcmp(what, "tokens") == 0 && strcmp(seg[2], "expire") == 0 && method_is(request, "POST"))
		expire_tokens(request, response);
	else if (n == 3 && strcmp(what, "locations") == 0 && method_is(request, "POST"))
	{
		SimLocation *location = store_location(seg[2]);
		json_t	   *body = body_object(request, response);

		if (body && location)
		{
			location->inactive = json_is_false(json_object_get(body, "active"));
			ok(response);
		}
		else if (body)
			respond_error(response, 404, "Unknown location");
		json_decref(body);
	}
	else if (n >= 2 && strcmp(what, "calendars") == 0)
		calendars(request, response, seg, n);
	else if (n >= 3 && strcmp(what, "ghl") == 0 && strcmp(seg[2], "appointments") == 0)
		ghl_appointments(request, response, seg, n);
	else if (n >= 2 && strcmp(what, "inbox") == 0)
		inbox(request, response, seg, n);
	else
		respond_error(response, 404, "Unknown simulator route");
}
