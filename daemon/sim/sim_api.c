/*
 * sim_api.c — GHL's calendar and appointment endpoints (v2, Version
 * 2021-04-15), with GHL's status codes and body shapes:
 *
 *   GET    /calendars/?locationId=            {"calendars": [...]}
 *   GET    /calendars/{id}                    {"calendar": {...}}
 *   GET    /calendars/{id}/free-slots         {"2026-03-10": {"slots": [...]}, ...}
 *   GET    /calendars/events?...              {"events": [...]}   (epoch-ms window)
 *   POST   /calendars/events/appointments     200, the appointment, flat, no dates
 *   GET    /calendars/events/appointments/{id} {"event": {...}}
 *   PUT    /calendars/events/appointments/{id} 200, flat, partial update
 *   DELETE /calendars/events/{id}             201 {"succeeded": true}, body {}
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"

#define SCOPE_CAL_READ "calendars.readonly"
#define SCOPE_EVENTS_READ "calendars/events.readonly"
#define SCOPE_EVENTS_WRITE "calendars/events.write"

static bool
is_epoch_ms(const char *text, int64_t *value)
{
	char	   *end;

	if (text == NULL || *text == '\0')
		return false;
	for (const char *p = text; *p; p++)
		if (!isdigit((unsigned char) *p))
			return false;
	errno = 0;
	*value = strtoll(text, &end, 10);
	/* up to the end of year 9999, like any date GHL stores */
	return errno == 0 && *end == '\0' && *value <= 253402300799999LL;
}

static bool
same_location(SimLocation *token_location, const char *location_id, SimResponse *response)
{
	if (location_id && strcmp(location_id, token_location->id) == 0)
		return true;
	respond_error(response, 403, "The token does not have access to this location.");
	return false;
}

static json_t *
json_body(const SimRequest *request, SimResponse *response)
{
	json_error_t error;
	json_t	   *body;

	if (request->body_len == 0)
	{
		respond_error(response, 400, "Bad Request");
		return NULL;
	}
	body = json_loadb(request->body, request->body_len, JSON_REJECT_DUPLICATES, &error);
	if (body == NULL || !json_is_object(body))
	{
		json_decref(body);
		respond_error(response, 400, "Bad Request");
		return NULL;
	}
	return body;
}

static void
emit(const char *type, SimLocation *location, json_t *event)
{
	if (store.config.webhooks_for_api)
		webhooks_emit(type, location->id, event);
}

static void
list_calendars(const SimRequest *request, SimResponse *response, SimLocation *location)
{
	const char *location_id = http_param(&request->query, "locationId");
	const char *group = http_param(&request->query, "groupId");
	const char *drafted = http_param(&request->query, "showDrafted");
	json_t	   *list = json_array();
	const char *id;
	json_t	   *calendar;

	if (location_id == NULL)
	{
		json_decref(list);
		respond_errors(response, 422, json_pack("[s]", "locationId should not be empty"));
		return;
	}
	if (!same_location(location, location_id, response))
	{
		json_decref(list);
		return;
	}
	json_object_foreach(location->calendars, id, calendar)
	{
		if (group && strcmp(group, json_string_value(json_object_get(calendar, "groupId")) ?: "") != 0)
			continue;
		if (drafted && strcmp(drafted, "false") == 0 && json_is_false(json_object_get(calendar, "isActive")))
			continue;
		json_array_append(list, calendar);
	}
	respond_json(response, 200, json_pack("{s:o}", "calendars", list));
}

static void
list_events(const SimRequest *request, SimResponse *response, SimLocation *location)
{
	const char *location_id = http_param(&request->query, "locationId");
	const char *calendar_id = http_param(&request->query, "calendarId");
	const char *user_id = http_param(&request->query, "userId");
	const char *group_id = http_param(&request->query, "groupId");
	int64_t		from,
				to;
	json_t	   *events;
	json_t	   *candidates;
	const char *id;
	json_t	   *event,
			   *ignored;

	if (location_id == NULL)
	{
		respond_error(response, 400, "locationId is required");
		return;
	}
	if (!calendar_id && !user_id && !group_id)
	{
		respond_error(response, 400, "Either of calendarId, userId or groupId is required");
		return;
	}
	if (!is_epoch_ms(http_param(&request->query, "startTime"), &from) ||
		!is_epoch_ms(http_param(&request->query, "endTime"), &to))
	{
		respond_error(response, 400, "startTime and endTime are required, in milliseconds since the epoch");
		return;
	}
	if (!same_location(location, location_id, response))
		return;

	events = json_array();
	candidates = calendar_id ? day_index_candidates("calendarId", calendar_id, from, to)
		: user_id ? day_index_candidates("assignedUserId", user_id, from, to) : NULL;
	json_object_foreach(candidates ? candidates : store.appointments, id, ignored)
	{
		int64_t		s,
					e;
		json_t	   *calendar;

		if ((event = json_object_get(store.appointments, id)) == NULL)
			continue;
		if (strcmp(json_string_value(json_object_get(event, "locationId")) ?: "", location->id) != 0)
			continue;
		if (calendar_id && strcmp(calendar_id, json_string_value(json_object_get(event, "calendarId")) ?: "") != 0)
			continue;
		if (user_id && strcmp(user_id, json_string_value(json_object_get(event, "assignedUserId")) ?: "") != 0)
			continue;
		calendar = json_object_get(location->calendars, json_string_value(json_object_get(event, "calendarId")) ?: "");
		if (group_id && strcmp(group_id, json_string_value(json_object_get(calendar, "groupId")) ?: "") != 0)
			continue;
		if (!iso_time_parse(json_string_value(json_object_get(event, "startTime")), &s, NULL) ||
			!iso_time_parse(json_string_value(json_object_get(event, "endTime")), &e, NULL) ||
			e <= from || s >= to)
			continue;
		json_array_append_new(events, appointment_public(event, true));
	}
	json_decref(candidates);
	respond_json(response, 200, json_pack("{s:o}", "events", events));
}

static void
create_appointment(const SimRequest *request, SimResponse *response, SimLocation *location)
{
	json_t	   *input = json_body(request, response);
	json_t	   *missing;
	const char *required[] = {"calendarId", "locationId", "contactId", "startTime"};
	json_t	   *calendar;
	SimLocation *calendar_location = NULL;
	json_t	   *event;

	if (input == NULL)
		return;
	missing = json_array();
	for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++)
	{
		const char *value = json_string_value(json_object_get(input, required[i]));

		if (value == NULL || *value == '\0')
		{
			char		message[64];

			snprintf(message, sizeof(message), "%s should not be empty", required[i]);
			json_array_append_new(missing, json_string(message));
		}
	}
	if (json_array_size(missing) > 0)
	{
		respond_errors(response, 422, missing);
		json_decref(input);
		return;
	}
	json_decref(missing);
	if (!same_location(location, json_string_value(json_object_get(input, "locationId")), response))
	{
		json_decref(input);
		return;
	}
	calendar = store_find_calendar(json_string_value(json_object_get(input, "calendarId")), &calendar_location);
	if (calendar == NULL || calendar_location != location)
	{
		respond_error(response, 400, "Calendar not found");
		json_decref(input);
		return;
	}
	event = appointment_create(location, calendar, input, "third_party", response);
	json_decref(input);
	if (event == NULL)
		return;
	respond_json(response, 200, appointment_public(event, false));
	emit("AppointmentCreate", location, event);
}

static json_t *
find_event(const char *id, SimLocation *location, SimResponse *response)
{
	json_t	   *event = json_object_get(store.appointments, id);

	if (event == NULL)
	{
		respond_error(response, 404, "Appointment not found");
		return NULL;
	}
	if (!same_location(location, json_string_value(json_object_get(event, "locationId")), response))
		return NULL;
	return event;
}

static void
update_appointment(const SimRequest *request, SimResponse *response, SimLocation *location, const char *id)
{
	json_t	   *input = json_body(request, response);
	json_t	   *event;

	if (input == NULL)
		return;
	event = find_event(id, location, response);
	if (event && appointment_update(event, input, response))
	{
		respond_json(response, 200, appointment_public(event, false));
		emit("AppointmentUpdate", location, event);
	}
	json_decref(input);
}

static void
delete_event(const SimRequest *request, SimResponse *response, SimLocation *location, const char *id)
{
	json_t	   *input = json_body(request, response);
	json_t	   *last;

	if (input == NULL)
		return;
	json_decref(input);
	if (find_event(id, location, response) == NULL)
		return;
	last = appointment_delete(id);
	respond_json(response, 201, json_pack("{s:b}", "succeeded", 1));
	emit("AppointmentDelete", location, last);
}

static void
get_free_slots(const SimRequest *request, SimResponse *response, SimLocation *location, json_t *calendar)
{
	int64_t		from,
				to;
	json_t	   *errors = json_array();
	const char *zone = http_param(&request->query, "timezone");

	if (!is_epoch_ms(http_param(&request->query, "startDate"), &from))
		json_array_append_new(errors, json_string("startDate must be a number conforming to the specified constraints"));
	if (!is_epoch_ms(http_param(&request->query, "endDate"), &to))
		json_array_append_new(errors, json_string("endDate must be a number conforming to the specified constraints"));
	if (json_array_size(errors) == 0 && (to < from || to - from > 31LL * 86400000))
		json_array_append_new(errors, json_string("Date range can not be more than 31 days"));
	if (json_array_size(errors) > 0)
	{
		respond_errors(response, 422, errors);
		return;
	}
	json_decref(errors);
	respond_json(response, 200, free_slots(calendar, from, to, zone ? zone : location->timezone,
										   http_param(&request->query, "userId")));
}

void
api_calendars(const SimRequest *request, SimResponse *response, char **seg, int n)
{
	const char *method = request->method;
	SimLocation *location;
	bool		events = n >= 2 && strcmp(seg[1], "events") == 0;
	bool		appointments = events && n >= 3 && strcmp(seg[2], "appointments") == 0;
	const char *scope = strcmp(method, "GET") == 0
		? (events ? SCOPE_EVENTS_READ : SCOPE_CAL_READ) : SCOPE_EVENTS_WRITE;

	/* refuse unknown routes before charging the rate limit */
	if (!((n == 1 && strcmp(method, "GET") == 0) ||
		  (events && n == 2 && strcmp(method, "GET") == 0) ||
		  (appointments && n == 3 && strcmp(method, "POST") == 0) ||
		  (appointments && n == 4 && (strcmp(method, "GET") == 0 || strcmp(method, "PUT") == 0)) ||
		  (events && !appointments && n == 3 && strcmp(method, "DELETE") == 0) ||
		  (!events && n == 2 && strcmp(method, "GET") == 0) ||
		  (!events && n == 3 && strcmp(seg[2], "free-slots") == 0 && strcmp(method, "GET") == 0)))
	{
		respond_no_route(response, request);
		return;
	}
	if ((location = sim_authorize(request, response, scope)) == NULL)
		return;

	if (n == 1)
		list_calendars(request, response, location);
	else if (events && n == 2)
		list_events(request, response, location);
	else if (appointments && n == 3)
		create_appointment(request, response, location);
	else if (appointments && strcmp(method, "GET") == 0)
	{
		json_t	   *event = find_event(seg[3], location, response);

		if (event)
			respond_json(response, 200, json_pack("{s:o}", "event", appointment_public(event, true)));
	}
	else if (appointments)
		update_appointment(request, response, location, seg[3]);
	else if (events)
		delete_event(request, response, location, seg[2]);
	else
	{
		json_t	   *calendar = json_object_get(location->calendars, seg[1]);

		if (calendar == NULL)
			respond_error(response, 404, "Calendar not found");
		else if (n == 2)
			respond_json(response, 200, json_pack("{s:O}", "calendar", calendar));
		else
			get_free_slots(request, response, location, calendar);
	}
}
