/*
 * ghl_client.c — libcurl multi wrapper: request bodies are copied, response
 * bodies collected, the X-RateLimit-* headers read with libcurl's header API
 * and JSON parsed with jansson.
 */
#include "ghl_client.h"
#include "common/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/iso_time.h"
#include "common/version.h"

typedef struct Transfer Transfer;

struct GhlClient
{
	CURLM	   *multi;
	int			timeout_ms;
	int			inflight;
	CURLSH	   *share;
	Transfer   *transfers;		/* in flight, for cleanup */
};

struct Transfer
{
	Transfer   *prev,
			   *next;
	CURL	   *easy;
	struct curl_slist *headers;
	char	   *body;
	GhlCallback callback;
	void	   *context;
	GhlResponse response;
	int64_t		started_ms;
};

static void
unlink_transfer(GhlClient *client, Transfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		client->transfers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	client->inflight--;
}

GhlClient *
ghl_client_new(int timeout_ms, int max_connections)
{
	GhlClient  *client = xcalloc(1, sizeof(*client));

	client->multi = curl_multi_init();
	client->timeout_ms = timeout_ms;
	curl_multi_setopt(client->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);

	/*
	 * Every GHL request goes to one host.  Over HTTP/1.1 a connection carries
	 * one request at a time, and a create always opens its own (see
	 * CURLOPT_FRESH_CONNECT below), so a cap under REFLEXO_MAX_INFLIGHT left
	 * the rest of the requests the daemon had started waiting inside libcurl,
	 * holding their memory and their leases.
	 */
	curl_multi_setopt(client->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) max_connections);
	/* DNS answers and TLS sessions are shared by all transfers */
	client->share = curl_share_init();
	curl_share_setopt(client->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(client->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return client;
}

static void
free_transfer(Transfer *t)
{
	curl_slist_free_all(t->headers);
	free(t->body);
	free(t->response.body);
	json_decref(t->response.json);
	free(t);
}

void
ghl_client_free(GhlClient *client)
{
	if (client == NULL)
		return;
	while (client->transfers)
	{
		Transfer   *t = client->transfers;

		unlink_transfer(client, t);
		curl_multi_remove_handle(client->multi, t->easy);
		curl_easy_cleanup(t->easy);
		free_transfer(t);
	}
	curl_multi_cleanup(client->multi);
	curl_share_cleanup(client->share);
	free(client);
}

static size_t
collect_body(char *data, size_t size, size_t n, void *user)
{
	Transfer   *t = user;
	size_t		len = size * n;
	char	   *grown;

	if (t->response.body_len + len > (8 << 20))
		return 0;				/* refuse absurd answers */
	grown = xrealloc(t->response.body, t->response.body_len + len + 1);
	memcpy(grown + t->response.body_len, data, len);
	t->response.body = grown;
	t->response.body_len += len;
	grown[t->response.body_len] = '\0';
	return len;
}

bool
ghl_parse_count(const char *text, long *value)
{
	char	   *end;
	long		v;

	if (text == NULL)
		return false;
	while (*text == ' ' || *text == '\t')
		text++;
	if (*text < '0' || *text > '9')
		return false;
	errno = 0;
	v = strtol(text, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno != 0 || *end != '\0' || v > INT32_MAX)
		return false;
	*value = v;
	return true;
}

int64_t
ghl_parse_retry_after(const char *text, time_t now)
{
	const int64_t max_seconds = 86400;	/* no server may park us longer than a day */
	long		seconds;
	time_t		when;

	if (!ghl_parse_count(text, &seconds))
	{
		/* or an HTTP date */
		when = text ? curl_getdate(text, NULL) : -1;
		if (when < 0)
			return -1;
		seconds = when > now ? (long) ((int64_t) when - now < max_seconds ? when - now : max_seconds) : 0;
	}
	return (seconds < max_seconds ? seconds : max_seconds) * 1000;
}

/* An integer header of the final answer, or -1. */
static long
header_count(CURL *easy, const char *name)
{
	struct curl_header *h;
	long		value;

	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !ghl_parse_count(h->value, &value))
		return -1;
	return value;
}

static void
read_limits(CURL *easy, GhlResponse *response)
{
	struct curl_header *h;

	response->rate_remaining = (int) header_count(easy, "X-RateLimit-Remaining");
	response->rate_max = (int) header_count(easy, "X-RateLimit-Max");
	response->rate_interval_ms = (int) header_count(easy, "X-RateLimit-Interval-Milliseconds");
	response->daily_remaining = (int) header_count(easy, "X-RateLimit-Daily-Remaining");
	response->retry_after_ms = -1;
	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		response->retry_after_ms = ghl_parse_retry_after(h->value, time(NULL));
}

/* A transfer ready to run: the request, and where its answer goes. */
static Transfer *
prepare(const GhlCall *call, int timeout_ms, CURLSH *share)
{
	Transfer   *t = xcalloc(1, sizeof(*t));
	char	   *header;

	t->easy = curl_easy_init();
	if (t->easy == NULL)
	{
		free(t);
		return NULL;
	}
	t->started_ms = monotonic_ms();
	t->headers = curl_slist_append(t->headers, "Accept: application/json");
	if (call->bearer)
	{
		header = xasprintf("Authorization: Bearer %s", call->bearer);
		t->headers = curl_slist_append(t->headers, header);
		free(header);
	}
	if (call->version)
	{
		header = xasprintf("Version: %s", call->version);
		t->headers = curl_slist_append(t->headers, header);
		free(header);
	}
	if (call->content_type)
	{
		header = xasprintf("Content-Type: %s", call->content_type);
		t->headers = curl_slist_append(t->headers, header);
		free(header);
	}
	curl_easy_setopt(t->easy, CURLOPT_URL, call->url);
	curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, call->method);
	if (call->body)
	{
		t->body = xstrdup(call->body);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long) strlen(t->body));
	}
	else if (strcmp(call->method, "GET") == 0)
		curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
	/*
	 * libcurl silently resends a request whose reused connection dies before
	 * any byte of the answer; GHL may have acted on the first one, so a create
	 * would be doubled and a rotated refresh token spent twice.  A fresh
	 * connection is never retried that way: the caller sees the failure and
	 * decides (creates look up before trying again).
	 */
	if (call->not_idempotent)
		curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (share)
		curl_easy_setopt(t->easy, CURLOPT_SHARE, share);
	/* GHL's answers are a few kB; libcurl's default 16 kB per transfer is most of the daemon's memory */
	curl_easy_setopt(t->easy, CURLOPT_BUFFERSIZE, 4096L);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->response.error_text);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "reflexo-sync/" REFLEXO_VERSION);
	return t;
}

/* The answer, once the transfer is over. */
static void
finish(Transfer *t, CURLcode code)
{
	t->response.error = code;
	read_limits(t->easy, &t->response);
	if (code == CURLE_OK)
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->response.status);
	else if (t->response.error_text[0] == '\0')
		snprintf(t->response.error_text, sizeof(t->response.error_text), "%s", curl_easy_strerror(code));
	t->response.duration_ms = (double) (monotonic_ms() - t->started_ms);
	if (t->response.body)
		t->response.json = json_loadb(t->response.body, t->response.body_len, 0, NULL);
}

bool
ghl_call(const GhlCall *call, int timeout_ms, GhlCallback callback, void *context)
{
	Transfer   *t = prepare(call, timeout_ms, NULL);

	if (t == NULL)
		return false;
	finish(t, curl_easy_perform(t->easy));
	callback(&t->response, context);
	curl_easy_cleanup(t->easy);
	free_transfer(t);
	return true;
}

bool
ghl_client_send(GhlClient *client, const GhlCall *call, GhlCallback callback, void *context)
{
	Transfer   *t = prepare(call, client->timeout_ms, client->share);

	if (t == NULL)
		return false;
	t->callback = callback;
	t->context = context;
	if (curl_multi_add_handle(client->multi, t->easy) != CURLM_OK)
	{
		curl_easy_cleanup(t->easy);
		free_transfer(t);
		return false;
	}
	t->next = client->transfers;
	if (t->next)
		t->next->prev = t;
	client->transfers = t;
	client->inflight++;
	return true;
}

void
ghl_client_wait(GhlClient *client, struct curl_waitfd *extra, unsigned int nextra, int timeout_ms)
{
	int			ready;

	curl_multi_poll(client->multi, extra, nextra, timeout_ms, &ready);
}

void
ghl_client_dispatch(GhlClient *client)
{
	int			running;
	int			left;
	CURLMsg    *msg;

	curl_multi_perform(client->multi, &running);
	while ((msg = curl_multi_info_read(client->multi, &left)) != NULL)
	{
		Transfer   *t;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		finish(t, msg->data.result);
		curl_multi_remove_handle(client->multi, t->easy);
		curl_easy_cleanup(t->easy);
		unlink_transfer(client, t);
		t->callback(&t->response, t->context);
		free_transfer(t);
	}
}

char *
ghl_error_message(const GhlResponse *response)
{
	json_t	   *message = json_object_get(response->json, "message");
	char	   *text = NULL;

	if (response->status == 0)
		return xstrdup(response->error_text[0] ? response->error_text : "no answer");
	if (json_is_string(message))
		text = xstrdup(json_string_value(message));
	else if (json_is_array(message))
	{
		size_t		i;
		json_t	   *item;
		size_t		len = 0;
		FILE	   *out = open_memstream(&text, &len);

		json_array_foreach(message, i, item)
			fprintf(out, "%s%s", i ? "; " : "", json_is_string(item) ? json_string_value(item) : "?");
		fclose(out);
	}
	else if (json_is_string(json_object_get(response->json, "error")))
		text = xstrdup(json_string_value(json_object_get(response->json, "error")));
	else if (json_is_string(json_object_get(response->json, "detail")))
		text = xstrdup(json_string_value(json_object_get(response->json, "detail")));
	return text ? text : xasprintf("HTTP %ld", response->status);
}

char *
url_escape(const char *text)
{
	char	   *escaped = curl_easy_escape(NULL, text, 0);
	char	   *copy = xstrdup(escaped ? escaped : "");

	curl_free(escaped);
	return copy;
}

/* Whether GHL's 401 message says the token is expired or invalid (never a scope or Version problem). */
bool
token_rejected(const char *message)
{
	return strcasestr(message, "scope") == NULL && strcasestr(message, "version") == NULL &&
		(strcasestr(message, "jwt") || strcasestr(message, "token"));
}
