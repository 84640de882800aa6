/*
 * sim_response.c — GHL's response bodies and error shapes.
 *
 *   400 {"statusCode":400,"message":"..."}
 *   401 {"statusCode":401,"message":"...","error":"Unauthorized"}
 *   403 {"statusCode":403,"message":"...","error":"Forbidden"}
 *   422 {"statusCode":422,"message":["...", ...],"error":"Unprocessable Entity"}
 */
#include "sim.h"
#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
respond_json(SimResponse *response, int status, json_t *body)
{
	free(response->body);
	response->status = status;
	response->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	response->content_type = "application/json";
	json_decref(body);
	if (response->body == NULL)
	{
		/* a body that could not be built is our bug, not the client's */
		response->status = 500;
		response->body = xstrdup("{\"statusCode\":500,\"message\":\"Internal Server Error\"}");
	}
}

/* Request text safe to echo in a message: printable ASCII, at most max bytes. */
static char *
sanitized(const char *text, size_t max)
{
	size_t		n = text ? strnlen(text, max) : 0;
	char	   *copy = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		copy[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
	copy[n] = '\0';
	return copy;
}

/* 404 for a route GHL does not have, NestJS style: "Cannot GET /path". */
void
respond_no_route(SimResponse *response, const SimRequest *request)
{
	char	   *method = sanitized(request->method, 16);
	char	   *path = sanitized(request->path, 120);
	char		message[160];

	snprintf(message, sizeof(message), "Cannot %s %s", method, path);
	respond_error(response, 404, message);
	free(method);
	free(path);
}

static const char *
reason_of(int status)
{
	switch (status)
	{
		case 401:
			return "Unauthorized";
		case 403:
			return "Forbidden";
		case 413:
			return "Payload Too Large";
		case 422:
			return "Unprocessable Entity";
		case 429:
			return NULL;
		case 500:
			return "Internal Server Error";
		case 502:
			return "Bad Gateway";
		case 503:
			return "Service Unavailable";
		case 504:
			return "Gateway Timeout";
		default:
			return NULL;
	}
}

void
respond_error(SimResponse *response, int status, const char *message)
{
	json_t	   *body = json_pack("{s:i, s:s}", "statusCode", status, "message", message);
	const char *reason = reason_of(status);

	if (reason)
		json_object_set_new(body, "error", json_string(reason));
	respond_json(response, status, body);
}

/* Validation errors: message is an array, as GHL's 422s are. */
void
respond_errors(SimResponse *response, int status, json_t *messages)
{
	json_t	   *body = json_pack("{s:i, s:o}", "statusCode", status, "message", messages);
	const char *reason = reason_of(status);

	if (reason)
		json_object_set_new(body, "error", json_string(reason));
	respond_json(response, status, body);
}

void
sim_response_free(SimResponse *response)
{
	free(response->body);
	free(response->redirect);
	response->body = NULL;
	response->redirect = NULL;
}
