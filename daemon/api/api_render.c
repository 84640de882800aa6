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
	else if (result->warnings)
	{
		/* a flexible booking says which rules it breaks, in words */
		json_t	   *value = json_loads(result->json, JSON_DECODE_ANY, NULL);

		if (json_is_object(value))
			json_object_set(value, "warnings", result->warnings);
		http_reply_json(request->reply, plan->status, value);
	}
	else
		http_reply_text(request->reply, plan->status, "application/json", result->json, strlen(result->json));
}

/* A Host header fit to be put in a link (else none is put). */
static bool
plain_host(const char *host)
{
	return host && *host && strlen(host) < 256 &&
		strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == strlen(host);
}

/* The request's URL with page set to page, as JSON text (a string, or null when there is no such page). */
static void
put_page_link(FILE *out, ApiRequest *request, int page)
{
	const ApiSettings *settings = api_settings();
	const HttpParams *query = &request->http->query;
	const char *host = http_header(request->http, "Host");
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *url;
	json_t	   *link;
	char		separator = '?';

	if (page < 1 || (*settings->public_url == '\0' && !plain_host(host)))
	{
		fputs("null", out);
		return;
	}
	url = open_memstream(&text, &len);
	if (*settings->public_url)
		fputs(settings->public_url, url);
	else
		fprintf(url, "http://%s", host);
	fputs(request->http->path, url);
	for (int i = 0; i < query->count; i++)
	{
		char	   *key,
				   *value;

		if (strcmp(query->keys[i], "page") == 0)
			continue;
		key = curl_easy_escape(NULL, query->keys[i], 0);
		value = curl_easy_escape(NULL, query->values[i], 0);
		fprintf(url, "%c%s=%s", separator, key ? key : "", value ? value : "");
		separator = '&';
		curl_free(key);
		curl_free(value);
	}
	if (page > 1)
		fprintf(url, "%cpage=%d", separator, page);
	fclose(url);
	link = json_string(text);
	json_dumpf(link, out, JSON_ENCODE_ANY);
	json_decref(link);
	free(text);
}

void
api_render_page(ApiRequest *request, const ApiPlan *plan, const ApiResult *result)
{
	long long	count = result->total ? atoll(result->total) : 0;
	long long	last = count == 0 ? 1 : (count + plan->page_size - 1) / plan->page_size;
	char	   *body = NULL;
	size_t		len = 0;
	FILE	   *out;

	if (result->json == NULL || result->total == NULL)
	{
		api_reply_detail(request, 500, "A server error occurred.");
		return;
	}
	if (plan->page > last)
	{
		api_reply_detail(request, 404, "Invalid page.");
		return;
	}
	out = open_memstream(&body, &len);
	fprintf(out, "{\"count\":%lld,\"next\":", count);
	put_page_link(out, request, plan->page < last ? plan->page + 1 : 0);
	fputs(",\"previous\":", out);
	put_page_link(out, request, plan->page - 1);
	fprintf(out, ",\"results\":%s}", result->json);
	fclose(out);
	http_reply_text(request->reply, 200, "application/json", body, len);
	free(body);
}
