/*
 * sim_auth.c — what GHL checks before an API call: a live Bearer token
 * with the right scope, a known Version header, and the location's rate
 * limits (a token bucket of rate_max per interval, and a daily quota).
 */
#include "sim.h"

#include <string.h>

#include "common/iso_time.h"

static const char *const known_versions[] = {"2021-04-15", "2021-07-28", "2023-02-21", "v3"};

static bool
has_scope(const char *granted, const char *wanted)
{
	size_t		n = strlen(wanted);

	for (const char *p = granted; p && *p;)
	{
		const char *end = strchr(p, ' ');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		if (len == n && strncmp(p, wanted, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Returns the token's location, or NULL with the error response filled in. */
SimLocation *
sim_authorize(const SimRequest *request, SimResponse *response, const char *scope)
{
	const char *auth = request->authorization;
	json_t	   *token;
	json_int_t	expires;
	SimLocation *location;
	bool		known_version = false;
	int64_t		today;

	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 ||
		(token = json_object_get(store.tokens, auth + 7)) == NULL)
	{
		store.unauthorized++;
		respond_error(response, 401, "Invalid JWT");
		return NULL;
	}
	expires = json_integer_value(json_object_get(token, "expires_at_ms"));
	if (expires != 0 && expires <= now_ms())
	{
		store.unauthorized++;
		respond_error(response, 401, "Invalid JWT");
		return NULL;
	}
	if (request->version == NULL)
	{
		respond_error(response, 401, "version header was not found.");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(known_versions) / sizeof(*known_versions); i++)
		known_version = known_version || strcmp(request->version, known_versions[i]) == 0;
	if (!known_version)
	{
		respond_error(response, 401, "version header is invalid");
		return NULL;
	}
	if (!has_scope(json_string_value(json_object_get(token, "scope")), scope))
	{
		respond_error(response, 401, "The token is not authorized for this scope.");
		return NULL;
	}

	location = store_location(json_string_value(json_object_get(token, "location")));
	if (location == NULL)
	{
		respond_error(response, 401, "Invalid JWT");
		return NULL;
	}
	location->requests++;
	response->rate_headers = true;
	response->rate_location = store_location_index(location);

	today = now_ms() / 86400000;
	if (location->day != today)
	{
		location->day = today;
		location->daily_used = 0;
	}
	if (location->daily_used >= store.config.daily_limit ||
		!token_bucket_take(&location->bucket, monotonic_ms()))
	{
		location->rate_limited++;
		respond_error(response, 429, "Too Many Requests");
		return NULL;
	}
	location->daily_used++;
	return location;
}
