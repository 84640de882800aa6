/*
 * api_forward.c — one base URL for everything the Django service served:
 * GHL's webhooks (POST /api/webhooks/ghl/) and the OAuth install callback
 * (GET /api/ghl/oauth/callback/) stay reflexo-sync's job, so reflexo-api
 * passes them to it (REFLEXO_SYNC_URL) with libcurl: the same path and
 * query, the raw body, the headers that sign it, and back the status,
 * type, redirect and body.  reflexo-sync verifies and answers; when it
 * does not answer, GHL gets a 503 and retries.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/alloc.h"

#define MAX_ANSWER (1 << 20)

typedef struct Answer
{
	char	   *body;
	size_t		len;
	bool		too_big;
} Answer;

static size_t
collect(char *data, size_t size, size_t count, void *context)
{
	Answer	   *answer = context;
	size_t		n = size * count;

	if (answer->len + n > MAX_ANSWER)
	{
		answer->too_big = true;
		return 0;
	}
	answer->body = xrealloc(answer->body, answer->len + n + 1);
	memcpy(answer->body + answer->len, data, n);
	answer->len += n;
	answer->body[answer->len] = '\0';
	return n;
}

/* The request's URL at reflexo-sync: its path and its query, encoded again. */
static char *
sync_url(const ApiRequest *request)
{
	const HttpParams *query = &request->http->query;
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *out = open_memstream(&text, &len);

	fprintf(out, "%s%s", api_settings()->sync_url, request->http->path);
	for (int i = 0; i < query->count; i++)
	{
		char	   *key = curl_easy_escape(NULL, query->keys[i], 0);
		char	   *value = curl_easy_escape(NULL, query->values[i], 0);

		fprintf(out, "%c%s=%s", i == 0 ? '?' : '&', key ? key : "", value ? value : "");
		curl_free(key);
		curl_free(value);
	}
	fclose(out);
	return text;
}

static struct curl_slist *
passed_headers(const ApiRequest *request)
{
	static const char *const names[] = {"Content-Type", "x-ghl-signature", "x-wh-signature", "x-webhook-secret"};
	struct curl_slist *headers = curl_slist_append(NULL, "Expect:");

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
	{
		const char *value = http_header(request->http, names[i]);

		if (value)
		{
			char	   *line = xasprintf("%s: %s", names[i], value);

			headers = curl_slist_append(headers, line);
			free(line);
		}
	}
	return headers;
}

void
api_forward(ApiServer *server, ApiRequest *request)
{
	CURL	   *curl = curl_easy_init();
	struct curl_slist *headers = passed_headers(request);
	char	   *url = sync_url(request);
	Answer		answer = {0};
	long		status = 0;
	char	   *type = NULL,
			   *location = NULL;

	(void) server;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(request->http->method, "POST") == 0)
	{
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->http->body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) request->http->len);
	}
	if (curl_easy_perform(curl) == CURLE_OK && !answer.too_big)
	{
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
		curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location);
		/* reflexo-sync answers JSON, or HTML for the OAuth callback (the reply outlives curl's strings) */
		http_reply_text(request->reply, (int) status,
						type && strncmp(type, "text/html", 9) == 0 ? "text/html; charset=utf-8" : "application/json",
						answer.body ? answer.body : "", answer.len);
		if (location)
			http_reply_header(request->reply, "Location", location);
		{
			curl_off_t	retry_after = 0;

			/* reflexo-sync's "retry later" (a busy database) reaches GHL */
			if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
				request->reply->retry_after = (int) retry_after;
		}
	}
	else
	{
		api_reply_detail(request, 503, "GHL's webhooks and OAuth callback are served by reflexo-sync, which does not answer.");
		request->reply->retry_after = 10;
	}
	free(answer.body);
	free(url);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
}
