/*
 * sim_oauth.c — GHL's OAuth 2.0 endpoints.
 *
 * GET  /oauth/chooselocation (also /v2/...): the marketplace consent page,
 *      approved at once: redirects to redirect_uri?code=..., for the location
 *      named by the simulator-only location_id parameter (else the first).
 * POST /oauth/token (form-encoded): authorization_code and refresh_token
 *      grants.  Refresh tokens rotate and are single-use: using one twice
 *      answers 400 "Invalid grant: refresh token is invalid".
 */
#include "sim.h"
#include "common/alloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const all_scopes =
	"calendars.readonly calendars.write calendars/events.readonly calendars/events.write";

static bool
client_ok(const char *client_id, const char *client_secret)
{
	return client_id && client_secret && strcmp(client_id, store.config.client_id) == 0 &&
		strcmp(client_secret, store.config.client_secret) == 0;
}

void
oauth_choose_location(const SimRequest *request, SimResponse *response)
{
	const char *client_id = http_param(&request->query, "client_id");
	const char *redirect = http_param(&request->query, "redirect_uri");
	const char *scope = http_param(&request->query, "scope");
	const char *location_id = http_param(&request->query, "location_id");
	SimLocation *location = location_id ? store_location(location_id) : &store.locations[0];
	char	   *code;

	if (client_id == NULL || strcmp(client_id, store.config.client_id) != 0)
	{
		respond_error(response, 400, "Invalid client_id");
		return;
	}
	if (redirect == NULL || strncmp(redirect, "http", 4) != 0)
	{
		respond_error(response, 400, "Invalid redirect_uri");
		return;
	}
	if (location == NULL || store.nlocations == 0)
	{
		respond_error(response, 400, "Unknown location");
		return;
	}
	code = store_new_id();
	json_object_set_new(store.codes, code,
						json_pack("{s:s, s:s}", "location", location->id, "scope", scope ? scope : all_scopes));
	{
		/* the client's state comes back as it was sent (OAuth 2.0, RFC 6749 4.1.2) */
		const char *state = http_param(&request->query, "state");
		char	   *escaped = state ? curl_easy_escape(NULL, state, 0) : NULL;

		response->redirect = xasprintf("%s%scode=%s%s%s", redirect, strchr(redirect, '?') ? "&" : "?", code,
									   escaped ? "&state=" : "", escaped ? escaped : "");
		curl_free(escaped);
	}
	free(code);
	response->status = 302;
	response->body = xstrdup("");
	response->content_type = "text/plain";
}

void
oauth_token(const SimRequest *request, SimResponse *response)
{
	const char *grant = http_param(&request->form, "grant_type");
	json_t	   *grant_record;
	SimLocation *location;
	json_t	   *token;
	char	   *scope;

	if (request->content_type == NULL ||
		strncmp(request->content_type, "application/x-www-form-urlencoded", 33) != 0)
	{
		respond_error(response, 400, "Content-Type must be application/x-www-form-urlencoded");
		return;
	}
	if (http_param(&request->form, "client_id") == NULL)
	{
		respond_error(response, 400, "Missing parameter: client_id");
		return;
	}
	if (!client_ok(http_param(&request->form, "client_id"), http_param(&request->form, "client_secret")))
	{
		respond_error(response, 401, "Invalid client credentials");
		return;
	}
	if (grant && strcmp(grant, "authorization_code") == 0)
	{
		const char *code = http_param(&request->form, "code");

		grant_record = code ? json_object_get(store.codes, code) : NULL;
		if (grant_record == NULL)
		{
			respond_error(response, 400, "Invalid grant: authorization code is invalid");
			return;
		}
		json_incref(grant_record);
		json_object_del(store.codes, code);
	}
	else if (grant && strcmp(grant, "refresh_token") == 0)
	{
		const char *refresh = http_param(&request->form, "refresh_token");

		grant_record = refresh ? json_object_get(store.refresh_tokens, refresh) : NULL;
		if (grant_record == NULL)
		{
			respond_error(response, 400, "Invalid grant: refresh token is invalid");
			return;
		}
		location = store_location(json_string_value(json_object_get(grant_record, "location")));
		if (location && location->inactive)
		{
			/* recoverable: the same refresh token works once the location is active again */
			respond_error(response, 400, "Location is not active");
			return;
		}
		json_incref(grant_record);
		json_object_del(store.refresh_tokens, refresh);
	}
	else
	{
		respond_error(response, 400, "Invalid parameter: grant_type");
		return;
	}

	location = store_location(json_string_value(json_object_get(grant_record, "location")));
	scope = xstrdup(json_string_value(json_object_get(grant_record, "scope")) ?: all_scopes);
	json_decref(grant_record);
	if (location == NULL)
	{
		free(scope);
		respond_error(response, 400, "Location is not active");
		return;
	}
	token = store_issue_token(location, scope, store.config.token_ttl_s, "oauth", true);
	free(scope);
	if (strcmp(grant, "refresh_token") == 0)
		store.refresh_grants++;
	else
		store.code_grants++;
	respond_json(response, 200, token);
}
