/*
 * sim_appointments.c — creating, changing and deleting appointments, the
 * way GHL validates them; used by the API and by GHL-side control calls.
 */
#include "sim.h"
#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"

static const char *const statuses[] = {"new", "confirmed", "cancelled", "showed", "noshow", "invalid"};

static bool
known_status(const char *status)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(*statuses); i++)
		if (strcmp(status, statuses[i]) == 0)
			return true;
	return false;
}

/* Active appointments whose field (calendarId, assignedUserId) is value, overlapping [start, end). */
int
appointments_overlapping(const char *field, const char *value, int64_t start, int64_t end, const char *skip)
{
	json_t	   *candidates = day_index_candidates(field, value, start, end);
	const char *id;
	json_t	   *ignored;
	int			n = 0;

	json_object_foreach(candidates ? candidates : store.appointments, id, ignored)
	{
		json_t	   *event = json_object_get(store.appointments, id);
		int64_t		s,
					e;
		const char *status = json_string_value(json_object_get(event, "appointmentStatus"));

		if (event == NULL || (skip && strcmp(id, skip) == 0) ||
			strcmp(json_string_value(json_object_get(event, field)) ?: "", value) != 0 ||
			(status && (strcmp(status, "cancelled") == 0 || strcmp(status, "invalid") == 0)))
			continue;
		if (iso_time_parse(json_string_value(json_object_get(event, "startTime")), &s, NULL) &&
			iso_time_parse(json_string_value(json_object_get(event, "endTime")), &e, NULL) &&
			s < end && start < e)
			n++;
	}
	json_decref(candidates);
	return n;
}

static bool
slot_free(json_t *calendar, int64_t start, int64_t end, const char *skip, json_t *input, SimResponse *response)
{
	json_int_t	per_slot = json_integer_value(json_object_get(calendar, "appoinmentPerSlot"));
	int64_t		reach = calendar_buffers_ms(calendar);

	if (json_is_true(json_object_get(input, "ignoreFreeSlotValidation")))
		return true;
	if (appointments_overlapping("calendarId", json_string_value(json_object_get(calendar, "id")), start - reach,
								 end + reach, skip)
		< (per_slot > 0 ? per_slot : 1))
		return true;
	respond_error(response, 400, "The slot you have selected is no longer available.");
	return false;
}

/*
 * GHL's dateUpdated: milliseconds, UTC, and strictly increasing per
 * appointment (two changes within a millisecond still differ).  Only per
 * appointment: a busy sim must not stamp its changes ahead of the clock.
 */
static void
touch(json_t *event, const char *field_added)
{
	int64_t		now = now_ms();
	int64_t		last;
	char		stamp[40];

	if (iso_time_parse(json_string_value(json_object_get(event, "dateUpdated")), &last, NULL) && now <= last)
		now = last + 1;
	iso_time_format_utc(now, stamp, sizeof(stamp));
	if (field_added)
		json_object_set_new(event, field_added, json_string(stamp));
	json_object_set_new(event, "dateUpdated", json_string(stamp));
}

static bool
parse_times(json_t *input, json_t *calendar, const char *fallback_start, int64_t *start, int64_t *end,
			int *offset, json_t *errors)
{
	const char *start_text = json_string_value(json_object_get(input, "startTime")) ?: fallback_start;
	json_t	   *end_value = json_object_get(input, "endTime");

	if (!iso_time_parse(start_text, start, offset))
	{
		json_array_append_new(errors, json_string("startTime must be a valid ISO 8601 date string"));
		return false;
	}
	if (end_value && !json_is_null(end_value))
	{
		if (!iso_time_parse(json_string_value(end_value), end, NULL))
		{
			json_array_append_new(errors, json_string("endTime must be a valid ISO 8601 date string"));
			return false;
		}
	}
	else
		*end = *start + calendar_minutes(calendar, "slotDuration", "slotDurationUnit", 30) * 60000;
	if (*end <= *start)
	{
		json_array_append_new(errors, json_string("endTime must be after startTime"));
		return false;
	}
	return true;
}

static void
set_times(json_t *event, int64_t start, int64_t end, int offset)
{
	char		buf[40];

	iso_time_format(start, offset, buf, sizeof(buf));
	json_object_set_new(event, "startTime", json_string(buf));
	iso_time_format(end, offset, buf, sizeof(buf));
	json_object_set_new(event, "endTime", json_string(buf));
}

static const char *
default_user(json_t *calendar)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(calendar, "teamMembers"), 0), "userId"));
}

json_t *
appointment_create(SimLocation *location, json_t *calendar, json_t *input, const char *source,
				   SimResponse *response)
{
	json_t	   *errors = json_array();
	int64_t		start,
				end;
	int			offset;
	const char *status = json_string_value(json_object_get(input, "appointmentStatus"));
	const char *user = json_string_value(json_object_get(input, "assignedUserId")) ?: default_user(calendar);
	char	   *id;
	json_t	   *event;

	if (parse_times(input, calendar, NULL, &start, &end, &offset, errors) &&
		status && !known_status(status))
		json_array_append_new(errors, json_string("appointmentStatus must be one of the following values: "
												  "new, confirmed, cancelled, showed, noshow, invalid"));
	if (json_array_size(errors) == 0 && user == NULL)
		json_array_append_new(errors, json_string("Either userId or assignedUserId must be set"));
	if (json_array_size(errors) > 0)
	{
		respond_errors(response, 422, errors);
		return NULL;
	}
	json_decref(errors);
	if (!slot_free(calendar, start, end, NULL, input, response))
		return NULL;

	id = store_new_id();
	event = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:b, s:{s:s}}",
					  "id", id,
					  "title", json_string_value(json_object_get(input, "title")) ?: "",
					  "calendarId", json_object_get(calendar, "id"),
					  "locationId", location->id,
					  "contactId", json_string_value(json_object_get(input, "contactId")) ?: "",
					  "groupId", json_string_value(json_object_get(calendar, "groupId")) ?: "",
					  "appointmentStatus", status ?: (json_is_false(json_object_get(calendar, "autoConfirm")) ? "new" : "confirmed"),
					  "assignedUserId", user,
					  "users", user,
					  "notes", json_string_value(json_object_get(input, "notes")) ?: "",
					  "description", json_string_value(json_object_get(input, "description")) ?: "",
					  "address", json_string_value(json_object_get(input, "address")) ?: "",
					  "meetingLocationType", json_string_value(json_object_get(input, "meetingLocationType")) ?: "custom",
					  "isRecurring", 0,
					  "createdBy", "source", source);
	set_times(event, start, end, offset);
	touch(event, "dateAdded");
	json_object_set_new(store.appointments, id, event);
	day_index_add(event);
	free(id);
	return event;
}

json_t *
appointment_update(json_t *event, json_t *input, SimResponse *response)
{
	json_t	   *errors = json_array();
	const char *id = json_string_value(json_object_get(event, "id"));
	const char *calendar_id = json_string_value(json_object_get(input, "calendarId"))
		?: json_string_value(json_object_get(event, "calendarId"));
	SimLocation *location = NULL;
	json_t	   *calendar = store_find_calendar(calendar_id, &location);
	const char *status = json_string_value(json_object_get(input, "appointmentStatus"));
	int64_t		start,
				end;
	int			offset;
	json_t	   *merged = json_pack("{s:O, s:O}", "startTime",
								   json_object_get(input, "startTime") ?: json_object_get(event, "startTime"),
								   "endTime", json_object_get(input, "endTime") ?: json_object_get(event, "endTime"));
	const char *fields[] = {"title", "assignedUserId", "address", "description", "notes", "meetingLocationType"};

	if (calendar == NULL ||
		strcmp(location->id, json_string_value(json_object_get(event, "locationId")) ?: "") != 0)
		json_array_append_new(errors, json_string("calendarId must be a calendar of the appointment's location"));
	else if (parse_times(merged, calendar, NULL, &start, &end, &offset, errors) &&
			 status && !known_status(status))
		json_array_append_new(errors, json_string("appointmentStatus must be one of the following values: "
												  "new, confirmed, cancelled, showed, noshow, invalid"));
	json_decref(merged);
	if (json_array_size(errors) > 0)
	{
		respond_errors(response, 422, errors);
		return NULL;
	}
	json_decref(errors);
	if ((json_object_get(input, "startTime") || json_object_get(input, "endTime") ||
		 json_object_get(input, "calendarId")) &&
		!(status && strcmp(status, "cancelled") == 0) &&
		!slot_free(calendar, start, end, id, input, response))
		return NULL;

	day_index_remove(event);
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
		if (json_is_string(json_object_get(input, fields[i])))
			json_object_set(event, fields[i], json_object_get(input, fields[i]));
	if (json_is_string(json_object_get(input, "assignedUserId")))
		json_object_set_new(event, "users", json_pack("[O]", json_object_get(input, "assignedUserId")));
	if (status)
		json_object_set_new(event, "appointmentStatus", json_string(status));
	json_object_set_new(event, "calendarId", json_string(calendar_id));
	set_times(event, start, end, offset);
	touch(event, NULL);
	day_index_add(event);
	return event;
}

/* Removes the appointment; returns its last state (owned by store.deleted). */
json_t *
appointment_delete(const char *id)
{
	json_t	   *event = json_object_get(store.appointments, id);
	char	   *key;

	if (event == NULL)
		return NULL;
	key = xstrdup(id);
	day_index_remove(event);
	touch(event, NULL);
	json_object_set(store.deleted, key, event);
	json_object_del(store.appointments, key);
	event = json_object_get(store.deleted, key);
	free(key);
	return event;
}

/* The event as the API returns it: create and update answers have no dates (GHL v2). */
json_t *
appointment_public(json_t *event, bool with_dates)
{
	json_t	   *copy = json_deep_copy(event);

	if (!with_dates)
	{
		json_object_del(copy, "dateAdded");
		json_object_del(copy, "dateUpdated");
		json_object_del(copy, "users");
		json_object_del(copy, "notes");
		json_object_del(copy, "groupId");
		json_object_del(copy, "createdBy");
		json_object_del(copy, "description");
	}
	return copy;
}
