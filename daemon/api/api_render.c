/*
 * api_render.c — answers from a statement's json: as it is, or as a DRF
 * page, {count, next, previous, results}, with absolute links that keep
 * the request's other query parameters.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/alloc.h"

void
api_render_json(ApiRequest *request, const ApiPlan *plan, const ApiResult *result)
{
	if (!result->found || result->json == NULL)
		api_reply_detail(request, 404, "Not found.");
	else if (plan->status == 204)
		http_reply_text(request->reply, 204, "application/json", "", 0);
	else
	{
		/* PostgreSQL's json text has spaces around every colon: answered compact, as every other answer */
		json_t	   *value = json_loads(result->json, JSON_DECODE_ANY, NULL);

		/* a flexible booking says which rules it breaks, in words */
		if (result->warnings && json_is_object(value))
			json_object_set(value, "warnings", result->warnings);
		http_reply_json(request->reply, plan->status, value);
	}
}

/* A Host header fit to be put in a link (else none is put). */
static bool
plain_host(const char *host)
{
	return host && *host && strlen(host) < 256 &&
		strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == strlen(host);
}

/* The request's URL with page set to page, or JSON null when there is no such page. */
static json_t *
page_link(ApiRequest *request, int page)
{
	const ApiSettings *settings = api_settings();
	const HttpParams *query = &request->http->query;
	const char *host = http_header(request->http, "Host");
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *out;
	json_t	   *link;
	char		separator = '?';

	if (*settings->public_url == '\0' && !plain_host(host))
		return json_null();
	out = open_memstream(&text, &len);
	if (*settings->public_url)
		fputs(settings->public_url, out);
	else
		fprintf(out, "http://%s", host);
	fputs(request->http->path, out);
	for (int i = 0; i < query->count; i++)
	{
		char	   *key,
				   *value;

		if (strcmp(query->keys[i], "page") == 0)
			continue;
		key = curl_easy_escape(NULL, query->keys[i], 0);
		value = curl_easy_escape(NULL, query->values[i], 0);
		fprintf(out, "%c%s=%s", separator, key ? key : "", value ? value : "");
		separator = '&';
		curl_free(key);
		curl_free(value);
	}
	if (page > 1)
		fprintf(out, "%cpage=%d", separator, page);
	fclose(out);
	link = json_string(text);
	free(text);
	return link;
}

void
api_render_page(ApiRequest *request, const ApiPlan *plan, const ApiResult *result)
{
	json_t	   *data = result->json ? json_loads(result->json, 0, NULL) : NULL;
	json_int_t	count = json_integer_value(json_object_get(data, "count"));
	json_t	   *results = json_object_get(data, "results");
	json_int_t	last = count == 0 ? 1 : (count + plan->page_size - 1) / plan->page_size;

	if (data == NULL || !json_is_array(results))
		api_reply_detail(request, 500, "A server error occurred.");
	else if (plan->page > last)
		api_reply_detail(request, 404, "Invalid page.");
	else
		http_reply_json(request->reply, 200,
						json_pack("{s:I, s:o, s:o, s:O}", "count", count,
								  "next", plan->page < last ? page_link(request, plan->page + 1) : json_null(),
								  "previous", plan->page > 1 ? page_link(request, plan->page - 1) : json_null(),
								  "results", results));
	json_decref(data);
}
