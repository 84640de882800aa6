/*
 * libFuzzer target for ghl-sim's request handling: routing, auth, every
 * GHL endpoint, the control API, JSON bodies and times.  The input is split
 * on newlines into method, path, query ("k=v&k=v"), an authorization flag,
 * the Version header, Content-Type, and the body (the rest).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
setup(void)
{
	static bool ready = false;
	char		error[256];
	char		keys[] = "/tmp/reflexo-fuzz-keys-XXXXXX";
	json_t	   *seed;

	if (ready)
		return;
	if (mkdtemp(keys) == NULL)
		abort();
	store.config = (SimConfig) {
		.client_id = "id", .client_secret = "secret", .token_ttl_s = 3600, .rate_max = 1000000000,
			.rate_interval_ms = 1000, .daily_limit = 1000000000, .max_body = 1 << 20
	};
	seed = default_seed("FuzzLocation");
	json_object_set_new(json_array_get(json_object_get(seed, "locations"), 0), "tokens",
						json_pack("[{s:s, s:s, s:i}]", "access_token", "fuzz", "refresh_token", "fuzz-refresh",
								  "expires_in", 3600));
	if (!store_load(seed, error, sizeof(error)) || !webhooks_start(keys))
		abort();
	json_decref(seed);
	ready = true;
}

static char *
next_line(char **cursor, char *end)
{
	char	   *start = *cursor;
	char	   *nl;

	if (start >= end)
		return "";
	nl = memchr(start, '\n', (size_t) (end - start));
	if (nl == NULL)
	{
		*cursor = end;
		return start;
	}
	*nl = '\0';
	*cursor = nl + 1;
	return start;
}

static void
split_params(char *text, HttpParams *params)
{
	char	   *save = NULL;

	for (char *pair = strtok_r(text, "&", &save); pair && params->count < HTTP_MAX_PARAMS;
		 pair = strtok_r(NULL, "&", &save))
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
	char	   *cursor = text;
	char	   *end = text + size;
	SimRequest	request;
	SimResponse response;
	char	   *query;

	setup();
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&request, 0, sizeof(request));
	memset(&response, 0, sizeof(response));
	request.method = next_line(&cursor, end);
	request.path = next_line(&cursor, end);
	query = next_line(&cursor, end);
	request.authorization = strcmp(next_line(&cursor, end), "1") == 0 ? "Bearer fuzz" : NULL;
	request.version = next_line(&cursor, end);
	request.content_type = next_line(&cursor, end);
	request.body = cursor;
	request.body_len = (size_t) (end - cursor);
	split_params(query, &request.query);
	if (request.content_type && strcmp(request.content_type, "application/x-www-form-urlencoded") == 0)
	{
		char	   *form = strndup(request.body, request.body_len);

		split_params(form, &request.form);
		sim_route(&request, &response);
		free(form);
	}
	else
		sim_route(&request, &response);

	if (response.status < 100 || response.status > 599 || response.body == NULL)
		abort();
	sim_response_free(&response);
	/* keep the store and the webhook queue from growing without bound */
	if (json_object_size(store.appointments) > 200)
		store_reset();
	webhooks_reset();
	free(text);
	return 0;
}
