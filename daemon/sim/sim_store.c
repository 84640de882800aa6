/*
 * sim_store.c — the simulator's state: locations and their calendars,
 * appointments, tokens, authorization codes, and the webhook inbox.
 * Entities are kept as jansson objects, in GHL's own shapes.
 */
#include "sim.h"
#include "common/alloc.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"

SimStore	store = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
clear_locations(void)
{
	for (int i = 0; i < store.nlocations; i++)
	{
		free(store.locations[i].id);
		free(store.locations[i].name);
		free(store.locations[i].timezone);
		json_decref(store.locations[i].calendars);
	}
	store.nlocations = 0;
}

static void
replace(json_t **slot, json_t *value)
{
	json_decref(*slot);
	*slot = value;
}

/* A new random id shaped like GHL's: 20 letters and digits. */
char *
store_new_id(void)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char bytes[20];
	char	   *id = xmalloc(21);

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
	{
		for (size_t i = 0; i < sizeof(bytes); i++)
			bytes[i] = (unsigned char) (sim_random() * 256);
	}
	for (int i = 0; i < 20; i++)
		id[i] = alphabet[bytes[i] % (sizeof(alphabet) - 1)];
	id[20] = '\0';
	return id;
}

json_t *
store_issue_token(SimLocation *location, const char *scope, int ttl_s, const char *kind, bool with_refresh)
{
	char	   *id = store_new_id();
	char	   *access;
	json_t	   *result;

	/* looks like a GHL token, says which kind it is, and is unique */
	access = xasprintf("%s-%s-%s", strcmp(kind, "pit") == 0 ? "pit" : "sim", location->id, id);
	free(id);
	json_object_set_new(store.tokens, access,
						json_pack("{s:s, s:s, s:I, s:s}", "location", location->id, "scope", scope,
								  "expires_at_ms", ttl_s > 0 ? now_ms() + (json_int_t) ttl_s * 1000 : (json_int_t) 0,
								  "kind", kind));
	result = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}",
					   "access_token", access, "token_type", "Bearer", "expires_in", ttl_s,
					   "scope", scope, "userType", "Location", "locationId", location->id,
					   "companyId", "SimCompany0000000001", "userId", "SimUser00000000000001");
	free(access);
	if (with_refresh)
	{
		char	   *refresh_id = store_new_id();
		char	   *refresh;

		refresh = xasprintf("sim-refresh-%s", refresh_id);
		free(refresh_id);
		json_object_set_new(store.refresh_tokens, refresh,
							json_pack("{s:s, s:s}", "location", location->id, "scope", scope));
		json_object_set_new(result, "refresh_token", json_string(refresh));
		free(refresh);
	}
	return result;
}

static const char *const all_scopes =
	"calendars.readonly calendars.write calendars/events.readonly calendars/events.write";

/* Loads locations, calendars and tokens from a seed document. */
bool
store_load(json_t *seed, char *error, size_t error_size)
{
	json_t	   *locations = json_object_get(seed, "locations");
	json_t	   *location;
	size_t		index;

	if (!json_is_array(locations) || json_array_size(locations) == 0)
	{
		snprintf(error, error_size, "the seed needs a non-empty \"locations\" array");
		return false;
	}
	if (json_array_size(locations) > SIM_MAX_LOCATIONS)
	{
		snprintf(error, error_size, "at most %d locations", SIM_MAX_LOCATIONS);
		return false;
	}
	clear_locations();
	replace(&store.appointments, json_object());
	day_index_reset();
	replace(&store.deleted, json_object());
	replace(&store.tokens, json_object());
	replace(&store.refresh_tokens, json_object());
	replace(&store.codes, json_object());
	replace(&store.inbox, json_array());
	store.inbox_fail_next = 0;
	store.unauthorized = 0;
	store.refresh_grants = store.code_grants = 0;

	json_array_foreach(locations, index, location)
	{
		SimLocation *loc = &store.locations[store.nlocations];
		const char *id = json_string_value(json_object_get(location, "id"));
		json_t	   *calendars = json_object_get(location, "calendars");
		json_t	   *calendar;
		json_t	   *token;
		size_t		i;

		if (id == NULL || *id == '\0')
		{
			snprintf(error, error_size, "location %zu has no \"id\"", index + 1);
			return false;
		}
		memset(loc, 0, sizeof(*loc));
		loc->id = xstrdup(id);
		loc->name = xstrdup(json_string_value(json_object_get(location, "name")) ?: id);
		loc->timezone = xstrdup(json_string_value(json_object_get(location, "timezone")) ?: "America/Lima");
		loc->calendars = json_object();
		token_bucket_init(&loc->bucket, store.config.rate_max, store.config.rate_interval_ms, monotonic_ms());
		store.nlocations++;

		json_array_foreach(calendars, i, calendar)
		{
			const char *calendar_id = json_string_value(json_object_get(calendar, "id"));
			json_t	   *copy;

			if (calendar_id == NULL)
			{
				snprintf(error, error_size, "calendar %zu of location %s has no \"id\"", i + 1, id);
				return false;
			}
			copy = json_deep_copy(calendar);
			json_object_set_new(copy, "locationId", json_string(id));
			json_object_set_new(loc->calendars, calendar_id, copy);
		}
		json_array_foreach(json_object_get(location, "tokens"), i, token)
		{
			const char *access = json_string_value(json_object_get(token, "access_token"));
			const char *refresh = json_string_value(json_object_get(token, "refresh_token"));
			const char *kind = json_string_value(json_object_get(token, "kind")) ?: "oauth";
			const char *scope = json_string_value(json_object_get(token, "scope")) ?: all_scopes;
			json_int_t	ttl = json_integer_value(json_object_get(token, "expires_in"));

			if (access)
				json_object_set_new(store.tokens, access,
									json_pack("{s:s, s:s, s:I, s:s}", "location", id, "scope", scope,
											  "expires_at_ms", ttl > 0 ? now_ms() + ttl * 1000 : (json_int_t) 0,
											  "kind", kind));
			if (refresh)
				json_object_set_new(store.refresh_tokens, refresh,
									json_pack("{s:s, s:s}", "location", id, "scope", scope));
		}
	}
	if (store.seed != seed)
	{
		json_incref(seed);
		replace(&store.seed, seed);
	}
	return true;
}

void
store_reset(void)
{
	char		error[256];

	if (store.seed)
		store_load(store.seed, error, sizeof(error));
}

SimLocation *
store_location(const char *id)
{
	for (int i = 0; id && i < store.nlocations; i++)
		if (strcmp(store.locations[i].id, id) == 0)
			return &store.locations[i];
	return NULL;
}

int
store_location_index(const SimLocation *location)
{
	return (int) (location - store.locations);
}

json_t *
store_find_calendar(const char *calendar_id, SimLocation **location)
{
	for (int i = 0; calendar_id && i < store.nlocations; i++)
	{
		json_t	   *calendar = json_object_get(store.locations[i].calendars, calendar_id);

		if (calendar)
		{
			if (location)
				*location = &store.locations[i];
			return calendar;
		}
	}
	return NULL;
}

/* Appointments that share calendar, contact and start: what a lost create retried blindly leaves behind. */
static json_t *
duplicate_creates(void)
{
	json_t	   *groups = json_object();
	json_t	   *result = json_array();
	const char *id;
	json_t	   *event;
	const char *key;
	json_t	   *ids;

	json_object_foreach(store.appointments, id, event)
	{
		int64_t		start;
		char	   *group;

		if (!iso_time_parse(json_string_value(json_object_get(event, "startTime")), &start, NULL))
			continue;
		group = xasprintf("%s|%s|%lld", json_string_value(json_object_get(event, "calendarId")) ?: "",
					 json_string_value(json_object_get(event, "contactId")) ?: "", (long long) start);
		if (!json_object_get(groups, group))
			json_object_set_new(groups, group, json_array());
		json_array_append_new(json_object_get(groups, group), json_string(id));
		free(group);
	}
	json_object_foreach(groups, key, ids)
	{
		if (json_array_size(ids) > 1)
		{
			json_t	   *first = json_object_get(store.appointments, json_string_value(json_array_get(ids, 0)));

			json_array_append_new(result, json_pack("{s:O, s:O, s:O, s:O}",
													"calendarId", json_object_get(first, "calendarId"),
													"contactId", json_object_get(first, "contactId"),
													"startTime", json_object_get(first, "startTime"),
													"ids", ids));
		}
	}
	json_decref(groups);
	return result;
}

json_t *
store_state(void)
{
	json_t	   *locations = json_array();
	json_t	   *requests = json_object();
	json_t	   *limited = json_object();
	json_t	   *appointments = json_array();
	const char *id;
	json_t	   *event;

	for (int i = 0; i < store.nlocations; i++)
	{
		SimLocation *loc = &store.locations[i];
		json_t	   *calendars = json_array();
		const char *calendar_id;
		json_t	   *calendar;

		json_object_foreach(loc->calendars, calendar_id, calendar)
			json_array_append(calendars, calendar);
		json_array_append_new(locations, json_pack("{s:s, s:s, s:s, s:o}", "id", loc->id, "name", loc->name,
												   "timezone", loc->timezone, "calendars", calendars));
		json_object_set_new(requests, loc->id, json_integer(loc->requests));
		json_object_set_new(limited, loc->id, json_integer(loc->rate_limited));
	}
	json_object_foreach(store.appointments, id, event)
		json_array_append(appointments, event);

	return json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:I, s:{s:I, s:I}, s:o, s:o, s:o, s:o}",
					 "locations", locations,
					 "appointments", appointments,
					 "appointment_count", (json_int_t) json_object_size(store.appointments),
					 "deleted", json_deep_copy(store.deleted),
					 "requests", requests,
					 "rate_limited", limited,
					 "unauthorized", (json_int_t) store.unauthorized,
					 "oauth", "refresh_grants", (json_int_t) store.refresh_grants,
					 "code_grants", (json_int_t) store.code_grants,
					 "duplicate_creates", duplicate_creates(),
					 "webhooks", webhooks_state(),
					 "faults", faults_get(),
					 "listings", listings_state());
}

/* The demo clinic: one location with two physiotherapy calendars. */
json_t *
default_seed(const char *location_id)
{
	json_t	   *hours = json_loads("[{\"daysOfTheWeek\":[1,2,3,4,5],\"hours\":["
								   "{\"openHour\":8,\"openMinute\":0,\"closeHour\":13,\"closeMinute\":0},"
								   "{\"openHour\":14,\"openMinute\":0,\"closeHour\":20,\"closeMinute\":0}]},"
								   "{\"daysOfTheWeek\":[6],\"hours\":["
								   "{\"openHour\":9,\"openMinute\":0,\"closeHour\":13,\"closeMinute\":0}]}]",
								   0, NULL);
	json_t	   *calendars = json_array();

	json_array_append_new(calendars,
						  json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:s, s:i, s:O, s:[{s:s, s:f, s:b}]}",
									"id", "SimCalFisio000000001", "name", "Fisioterapia",
									"description", "Sesiones de fisioterapia", "calendarType", "round_robin",
									"isActive", 1, "slotDuration", 60, "slotDurationUnit", "mins",
									"appoinmentPerSlot", 1, "openHours", hours,
									"teamMembers", "userId", "SimTherapist00000001", "priority", 0.5,
									"isPrimary", 1));
	json_array_append_new(calendars,
						  json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:s, s:i, s:O, s:[{s:s, s:f, s:b}]}",
									"id", "SimCalEvaluacion0001", "name", "Evaluación",
									"description", "Primera evaluación", "calendarType", "round_robin",
									"isActive", 1, "slotDuration", 30, "slotDurationUnit", "mins",
									"appoinmentPerSlot", 2, "openHours", hours,
									"teamMembers", "userId", "SimTherapist00000002", "priority", 0.5,
									"isPrimary", 1));
	json_decref(hours);
	return json_pack("{s:[{s:s, s:s, s:s, s:o}]}", "locations", "id", location_id,
					 "name", "Reflexo Perú - Demo", "timezone", "America/Lima", "calendars", calendars);
}

int64_t
calendar_buffers_ms(json_t *calendar)
{
	return (calendar_minutes(calendar, "preBuffer", "preBufferUnit", 0) +
			calendar_minutes(calendar, "slotBuffer", "slotBufferUnit", 0)) * 60000;
}

int64_t
calendar_minutes(json_t *calendar, const char *amount, const char *unit, int fallback)
{
	json_int_t	n = json_integer_value(json_object_get(calendar, amount));
	const char *u = json_string_value(json_object_get(calendar, unit));

	if (n <= 0)
		n = fallback;
	return u && strcmp(u, "hours") == 0 ? n * 60 : n;
}
