/*
 * api_errors.c — errors as Django REST framework writes them:
 *
 *   400 {"field": ["..."]} or {"non_field_errors": ["..."]}   bad input, broken booking rule
 *   401 {"detail": "...", "code": "token_not_valid"}          no, bad or revoked token
 *   403 {"detail": "..."}                                     not allowed
 *   404 {"detail": "No encontrado."}
 *   409 {"detail": "..."}                                     still in use
 *   503 {"detail": "..."} + Retry-After                       database unavailable (retryable)
 *   500 {"detail": "..."}                                     anything else (logged)
 *
 * Database messages come in the request's language (lc_messages).  Only the
 * SQLSTATE, message and constraint are logged: a detail may quote a row,
 * and rows hold patient notes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "common/alloc.h"

void
api_reply_detail(ApiRequest *request, int status, const char *message_id)
{
	http_reply_json(request->reply, status, json_pack("{s:s}", "detail", api_message(request->language, message_id)));
}

/* Constraints that belong to one field of the input. */
static const struct
{
	const char *constraint;
	const char *field;
}			constraint_fields[] = {
	{"locations_ghl_location_id_key", "ghl_location_id"},
	{"locations_min_duration_range", "min_duration"},
	{"locations_max_duration_range", "max_duration"},
	{"time_zone_known", "timezone"},
};

static const char *
field_of(const char *constraint)
{
	if (constraint == NULL)
		return "non_field_errors";
	for (size_t i = 0; i < sizeof(constraint_fields) / sizeof(*constraint_fields); i++)
		if (strcmp(constraint_fields[i].constraint, constraint) == 0)
			return constraint_fields[i].field;
	return "non_field_errors";
}

static bool
starts_with(const char *text, const char *prefix)
{
	return text && strncmp(text, prefix, strlen(prefix)) == 0;
}

static void
unavailable(ApiRequest *request, const char *message_id)
{
	api_reply_detail(request, 503, message_id);
	request->reply->retry_after = 1;
}

void
api_reply_db_error(ApiRequest *request, const ApiResult *result)
{
	const char *state = result->sqlstate ? result->sqlstate : "";
	const char *message = result->message ? result->message : "";

	if (result->unavailable || starts_with(state, "08") || starts_with(state, "53") ||
		strcmp(state, "25006") == 0 || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
		strcmp(state, "57P03") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		unavailable(request, "The database is not available right now; try again shortly.");
	else if (strcmp(state, "57014") == 0)
		unavailable(request, "The request took too long.");
	else if (strcmp(state, "PT404") == 0)
		api_reply_detail(request, 404, "Not found.");
	else if (strcmp(state, "PT401") == 0)
		http_reply_json(request->reply, 401, json_pack("{s:s, s:s}", "detail", message, "code", "token_not_valid"));
	else if (strcmp(state, "42501") == 0)
	{
		/* our own refusals say what is wrong; PostgreSQL's say "permission denied for ..." */
		if (starts_with(message, "permission denied") || starts_with(message, "permiso denegado"))
			api_reply_detail(request, 403, "You do not have permission to perform this action.");
		else
			http_reply_json(request->reply, 403, json_pack("{s:s}", "detail", message));
	}
	else if (strcmp(state, "23503") == 0 && strcmp(request->http->method, "DELETE") == 0)
		api_reply_detail(request, 409, "The location still has calendars or citas: deactivate it (is_active = false) instead.");
	else if (starts_with(state, "23") || starts_with(state, "22") || strcmp(state, "428C9") == 0)
		http_reply_json(request->reply, 400, json_pack("{s:[s]}", field_of(result->constraint), message));
	else
	{
		log_error("API", "statement failed",
				  json_pack("{s:s, s:s, s:s, s:s?}", "path", request->http->path, "sqlstate", state,
							"error", message, "constraint", result->constraint));
		api_reply_detail(request, 500, "A server error occurred.");
	}
}
