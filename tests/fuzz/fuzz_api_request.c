/*
 * libFuzzer target for reflexo-api's request mapping (api_router.c and the
 * endpoints' plans): route, token, body and query into one statement with
 * parameters, without a database.  The input is an HTTP request as text:
 *
 *   METHOD /path?query
 *   Header: value
 *   ...
 *   <empty line>
 *   body
 *
 * "Authorization: Bearer VALID" is replaced by a token the harness signs
 * (staff of location 1), so the plans behind the token are reached.  Every
 * request must end answered (a 4xx) or planned, never crash or leak.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ApiSettings settings = {
	.public_url = "", .sync_url = "http://127.0.0.1:8001", .cors_allowed_origins = "", .language = "es",
	.page_size = 10, .max_page_size = 100,
};
static const char secret[] = "fuzz-secret-that-is-longer-than-32-characters";
static char *valid_token;

/* "k=v&k2=v2": the harness's own split (libmicrohttpd decodes real requests) */
static void
split_query(char *query, HttpParams *params)
{
	for (char *pair = strtok(query, "&"); pair && params->count < HTTP_MAX_PARAMS; pair = strtok(NULL, "&"))
	{
		char	   *eq = strchr(pair, '=');

		if (eq)
			*eq = '\0';
		params->keys[params->count] = pair;
		params->values[params->count] = eq ? eq + 1 : "";
		params->count++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	char	   *line,
			   *rest,
			   *query;
	HttpRequest http = {.client = "127.0.0.1"};
	HttpReply	reply = {0};
	ApiRequest	request = {.http = &http, .reply = &reply, .language = LANGUAGE_ES};
	const Endpoint *endpoint = NULL;
	ApiPlan		plan;

	if (valid_token == NULL)
	{
		json_t	   *claims = json_pack("{s:s, s:s, s:s, s:i, s:[i], s:i, s:I}", "role", "reflexo_staff", "sub", "fuzz",
									   "typ", "access", "uid", 1, "location_ids", 1, "ver", 1,
									   "exp", (json_int_t) time(NULL) + 86400);

		valid_token = api_sign_token(claims, secret);
		json_decref(claims);
		api_use_settings(&settings);
	}
	memcpy(text, data, size);
	text[size] = '\0';
	rest = text;
	line = strsep(&rest, "\n");
	http.method = strsep(&line, " ");
	http.path = line ? line : "/";
	query = strchr(http.path, '?');
	if (query)
	{
		*query++ = '\0';
		split_query(query, &http.query);
	}
	while (rest && (line = strsep(&rest, "\n")) && *line && http.headers.count < HTTP_MAX_PARAMS)
	{
		char	   *colon = strchr(line, ':');

		if (colon == NULL)
			continue;
		*colon++ = '\0';
		while (*colon == ' ')
			colon++;
		http.headers.keys[http.headers.count] = line;
		http.headers.values[http.headers.count] = strcmp(colon, "Bearer VALID") == 0 ? valid_token : colon;
		http.headers.count++;
	}
	http.body = rest ? rest : "";
	http.len = rest ? size - (size_t) (rest - text) : 0;

	if (api_prepare(&request, secret, &endpoint, &plan))
	{
		if (endpoint == NULL || (endpoint->plan && plan.sql == NULL) || plan.nparams > API_MAX_PARAMS)
			abort();			/* planned without a statement */
	}
	else if (reply.status < 400 || reply.status >= 500)
		abort();				/* refused without saying why */
	free(reply.body);
	for (int i = 0; i < reply.nheaders; i++)
	{
		free(reply.header_names[i]);
		free(reply.header_values[i]);
	}
	api_request_free(&request);
	free(text);
	return 0;
}
