/*
 * api_router.c — the Django service's URLs, and everything a request
 * becomes before the database: its endpoint (404, 405 with Allow), its
 * token (401) and its plan (400).  No database, no server: the fuzzer
 * drives api_prepare() with any method, path, query and body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static const struct
{
	const Endpoint *endpoints;
	const int  *count;
}			groups[] = {
	{api_session_endpoints, &api_session_count},
	{api_citas_endpoints, &api_citas_count},
	{api_locations_endpoints, &api_locations_count},
	{api_series_endpoints, &api_series_count},
	{api_monitoring_endpoints, &api_monitoring_count},
};

/* "/api/ghl/citas/{id}/" against a path; each {id} takes a positive integer of at most 18 digits. */
static bool
matches(const char *pattern, const char *path, int64_t ids[API_PATH_IDS])
{
	size_t		plen = strlen(path);
	int			nids = 0;

	/* the trailing slash is optional, as Django's APPEND_SLASH would have it */
	if (plen > 1 && path[plen - 1] == '/')
		plen--;
	while (*pattern)
	{
		if (strncmp(pattern, "{id}", 4) == 0)
		{
			size_t		digits = 0;

			while (digits < plen && path[digits] >= '0' && path[digits] <= '9')
				digits++;
			if (digits == 0 || digits > 18 || path[0] == '0' || nids == API_PATH_IDS)
				return false;
			ids[nids++] = strtoll(path, NULL, 10);
			pattern += 4;
			path += digits;
			plen -= digits;
			continue;
		}
		if (*pattern == '/' && pattern[1] == '\0' && plen == 0)
			return true;		/* the pattern's trailing slash, left out */
		if (plen == 0 || *pattern != *path)
			return false;
		pattern++;
		path++;
		plen--;
	}
	return plen == 0;
}

RouteOutcome
api_route(const char *method, const char *path, const Endpoint **endpoint, int64_t ids[API_PATH_IDS], char *allow,
		  size_t allow_size)
{
	bool		path_found = false;

	*endpoint = NULL;
	snprintf(allow, allow_size, "OPTIONS");
	for (size_t g = 0; g < sizeof(groups) / sizeof(*groups); g++)
		for (int i = 0; i < *groups[g].count; i++)
		{
			const Endpoint *e = &groups[g].endpoints[i];
			int64_t		found_ids[API_PATH_IDS] = {0};

			if (!matches(e->pattern, path, found_ids))
				continue;
			path_found = true;
			if (strlen(allow) + strlen(e->method) + 3 < allow_size)
			{
				strcat(allow, ", ");
				strcat(allow, e->method);
			}
			if (strcmp(e->method, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(e->method, "GET") == 0))
			{
				*endpoint = e;
				memcpy(ids, found_ids, sizeof(found_ids));
			}
		}
	if (*endpoint)
		return ROUTE_FOUND;
	return path_found ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}

bool
api_prepare(ApiRequest *request, const char *jwt_secret, const Endpoint **endpoint, ApiPlan *plan)
{
	char		allow[128];
	const char *why;
	int64_t		ids[API_PATH_IDS] = {0};
	RouteOutcome route = api_route(request->http->method, request->http->path, endpoint, ids, allow, sizeof(allow));

	memset(plan, 0, sizeof(*plan));
	plan->status = 200;
	request->id = ids[0];
	request->sub_id = ids[1];
	switch (route)
	{
		case ROUTE_NO_PATH:
			api_reply_detail(request, 404, "Not found.");
			return false;
		case ROUTE_NO_METHOD:
			{
				char		text[160];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
				snprintf(text, sizeof(text), api_message(request->language, "Method \"%s\" not allowed."),
						 request->http->method);
#pragma GCC diagnostic pop
				http_reply_json(request->reply, 405, json_pack("{s:s}", "detail", text));
				http_reply_header(request->reply, "Allow", allow);
				return false;
			}
		case ROUTE_FOUND:
			break;
	}
	request->role = "reflexo_anon";
	if ((*endpoint)->access == ACCESS_USER &&
		!api_verify_token(http_header(request->http, "Authorization"), jwt_secret, request, &why))
	{
		bool		missing = strcmp(why, "Authentication credentials were not provided.") == 0;

		http_reply_json(request->reply, 401, json_pack("{s:s, s:s}", "detail", api_message(request->language, why),
													   "code", missing ? "not_authenticated" : "token_not_valid"));
		http_reply_header(request->reply, "WWW-Authenticate", "Bearer realm=\"api\"");
		return false;
	}
	if ((*endpoint)->plan == NULL)
		return true;			/* served without the database (api_server.c) */
	if (!api_read_body(request))
		return false;
	return (*endpoint)->plan(request, plan);
}
