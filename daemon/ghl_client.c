/*
 * ghl_client.c — libcurl multi wrapper: request bodies are copied, response
 * bodies and the X-RateLimit-* headers collected, JSON parsed with jansson.
 */
#include "ghl_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iso_time.h"

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
ghl_client_new(int timeout_ms)
{
	GhlClient  *client = calloc(1, sizeof(*client));

	client->multi = curl_multi_init();
	client->timeout_ms = timeout_ms;
	curl_multi_setopt(client->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(client->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
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
	grown = realloc(t->response.body, t->response.body_len + len + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + t->response.body_len, data, len);
	t->response.body = grown;
	t->response.body_len += len;
	grown[t->response.body_len] = '\0';
	return len;
}

static bool
header_value(const char *line, size_t len, const char *name, long *value)
{
	size_t		n = strlen(name);
	char		digits[32];
	size_t		k = 0;

	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	for (size_t i = n + 1; i < len && k < sizeof(digits) - 1; i++)
		if (line[i] >= '0' && line[i] <= '9')
			digits[k++] = line[i];
		else if (k > 0)
			break;
	digits[k] = '\0';
	if (k == 0)
		return false;
	*value = strtol(digits, NULL, 10);
	return true;
}

static size_t
collect_header(char *line, size_t size, size_t n, void *user)
{
	Transfer   *t = user;
	size_t		len = size * n;
	long		v;

	if (header_value(line, len, "X-RateLimit-Remaining", &v))
		t->response.rate_remaining = (int) v;
	else if (header_value(line, len, "X-RateLimit-Max", &v))
		t->response.rate_max = (int) v;
	else if (header_value(line, len, "X-RateLimit-Interval-Milliseconds", &v))
		t->response.rate_interval_ms = (int) v;
	else if (header_value(line, len, "X-RateLimit-Daily-Remaining", &v))
		t->response.daily_remaining = (int) v;
	else if (header_value(line, len, "Retry-After", &v))
		t->response.retry_after_ms = v * 1000;
	return len;
}

bool
ghl_client_send(GhlClient *client, const GhlCall *call, GhlCallback callback, void *context)
{
	Transfer   *t = calloc(1, sizeof(*t));
	char	   *header;

	t->easy = curl_easy_init();
	if (t->easy == NULL)
	{
		free(t);
		return false;
	}
	t->callback = callback;
	t->context = context;
	t->response.rate_remaining = t->response.rate_max = t->response.rate_interval_ms = -1;
	t->response.daily_remaining = -1;
	t->response.retry_after_ms = -1;
	t->started_ms = monotonic_ms();

	t->headers = curl_slist_append(t->headers, "Accept: application/json");
	if (call->bearer && asprintf(&header, "Authorization: Bearer %s", call->bearer) >= 0)
	{
		t->headers = curl_slist_append(t->headers, header);
		free(header);
	}
	if (call->version && asprintf(&header, "Version: %s", call->version) >= 0)
	{
		t->headers = curl_slist_append(t->headers, header);
		free(header);
	}
	if (call->content_type && asprintf(&header, "Content-Type: %s", call->content_type) >= 0)
	{
		t->headers = curl_slist_append(t->headers, header);
		free(header);
	}
	curl_easy_setopt(t->easy, CURLOPT_URL, call->url);
	curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, call->method);
	if (call->body)
	{
		t->body = strdup(call->body);
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
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long) client->timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_SHARE, client->share);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, collect_header);
	curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->response.error_text);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "reflexo-sync/0.1.0");
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

int
ghl_client_inflight(GhlClient *client)
{
	return client->inflight;
}

void
ghl_client_wait(GhlClient *client, struct curl_waitfd *extra, unsigned int nextra, int timeout_ms)
{
	int			ready;

	curl_multi_poll(client->multi, extra, nextra, timeout_ms, &ready);
}

void
ghl_client_wakeup(GhlClient *client)
{
	curl_multi_wakeup(client->multi);
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
		t->response.error = msg->data.result;
		if (t->response.error == CURLE_OK)
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->response.status);
		else if (t->response.error_text[0] == '\0')
			snprintf(t->response.error_text, sizeof(t->response.error_text), "%s",
					 curl_easy_strerror(t->response.error));
		t->response.duration_ms = (double) (monotonic_ms() - t->started_ms);
		if (t->response.body)
			t->response.json = json_loadb(t->response.body, t->response.body_len, 0, NULL);
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
		return strdup(response->error_text[0] ? response->error_text : "no answer");
	if (json_is_string(message))
		text = strdup(json_string_value(message));
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
		text = strdup(json_string_value(json_object_get(response->json, "error")));
	else if (json_is_string(json_object_get(response->json, "detail")))
		text = strdup(json_string_value(json_object_get(response->json, "detail")));
	if (text == NULL && asprintf(&text, "HTTP %ld", response->status) < 0)
		abort();
	return text;
}

char *
url_escape(const char *text)
{
	char	   *escaped = curl_easy_escape(NULL, text, 0);
	char	   *copy = strdup(escaped ? escaped : "");

	curl_free(escaped);
	return copy;
}
