/*
 * sync_http.c — routing: each path has one handler and the methods it
 * takes; anything else is a JSON 404 or 405.  The Django service's paths are
 * kept beside the new ones.
 */
#include "sync_http.h"
#include "common/alloc.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"
#include "common/log.h"
#include "common/webhook_signature.h"

typedef void (*Endpoint) (SyncHttp *http, const HttpRequest *request, HttpReply *reply);

static const struct
{
	const char *path;
	const char *method;			/* GET also answers HEAD */
	Endpoint	endpoint;
	bool		operational;	/* shows locations, tokens' expiry, GHL's errors: REFLEXO_OPS_TOKEN */
}			routes[] = {
	{"/webhooks/ghl", "POST", webhook_endpoint, false},
	{"/api/webhooks/ghl/", "POST", webhook_endpoint, false},
	{"/api/webhooks/ghl", "POST", webhook_endpoint, false},
	{"/oauth/callback", "GET", oauth_callback, false},
	{"/oauth/install", "GET", oauth_install, true},	/* an operator starts an install */
	{"/api/ghl/oauth/callback/", "GET", oauth_callback, false},
	{"/healthz", "GET", status_healthz, false},
	{"/readyz", "GET", status_readyz, false},	/* its reasons only with the token */
	{"/metrics", "GET", status_metrics, true},
	{"/metrics.json", "GET", status_metrics_json, true},
	{"/api/ghl/metrics/", "GET", status_metrics_json, true},
	{"/status.json", "GET", status_json, true},
	{"/", "GET", status_page, true},
};

bool
sync_http_ops_allowed(const SyncHttp *http, const HttpRequest *request)
{
	const char *expected = http->config->ops_token;
	const char *authorization = http_header(request, "Authorization");
	const char *given = authorization && strncmp(authorization, "Bearer ", 7) == 0 ? authorization + 7
		: http_query(request, "token");

	if (*expected == '\0')
		return true;
	return given && strlen(given) == strlen(expected) && CRYPTO_memcmp(given, expected, strlen(expected)) == 0;
}

static void
route(void *context, const HttpRequest *request, HttpReply *reply)
{
	SyncHttp   *http = context;

	for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++)
	{
		if (strcmp(request->path, routes[i].path) != 0)
			continue;
		if (strcmp(request->method, routes[i].method) == 0 ||
			(strcmp(request->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
		{
			if (routes[i].operational && !sync_http_ops_allowed(http, request))
			{
				http_reply_error(reply, 401, "this needs the operations token (REFLEXO_OPS_TOKEN)");
				http_reply_header(reply, "WWW-Authenticate", "Bearer");
				return;
			}
			routes[i].endpoint(http, request, reply);
			return;
		}
		http_reply_error(reply, 405, strcmp(routes[i].method, "POST") == 0 ? "use POST" : "use GET");
		reply->allow = routes[i].method;
		return;
	}
	http_reply_error(reply, 404, "no such endpoint");
}

static EVP_PKEY *
load_key(const char *path, const char *fallback_pem, char *error, size_t error_size)
{
	EVP_PKEY   *key = *path ? key_from_file(path, false) : key_from_pem(fallback_pem, false);

	if (key == NULL)
		snprintf(error, error_size, "cannot read the public key %s", *path ? path : "(GHL's published key)");
	return key;
}

SyncHttp *
sync_http_start(Config *config, char *error, size_t error_size)
{
	SyncHttp   *http = xcalloc(1, sizeof(*http));
	HttpLimits	limits = {
		.max_body = 1024 * 1024,	/* GHL's appointment webhooks are a few kB */
		.connections = 1024,
		.connections_per_ip = 64,	/* one address cannot take every connection */
		.timeout_seconds = 10,		/* a silent client is cut off, not waited for */
		.deadline_seconds = 15,		/* and so is one trickling its request in */
		.connection_memory = 32 * 1024	/* request line and headers */
	};

	http->config = config;
	http->started_ms = monotonic_ms();
	http->keys.ed25519 = load_key(config->webhook_public_key, ghl_ed25519_public_key_pem, error, error_size);
	http->keys.rsa = http->keys.ed25519 ?
		load_key(config->webhook_rsa_public_key, ghl_rsa_public_key_pem, error, error_size) : NULL;
	http->keys.secret = config->ghl_webhook_secret;
	http->keys.max_age_seconds = config->webhook_max_age_seconds;
	if (http->keys.rsa && (!key_is_kind(http->keys.ed25519, SIGNATURE_ED25519) ||
						   !key_is_kind(http->keys.rsa, SIGNATURE_RSA_SHA256)))
		snprintf(error, error_size, "GHL_WEBHOOK_PUBLIC_KEY must be an Ed25519 key and "
				 "GHL_WEBHOOK_RSA_PUBLIC_KEY an RSA key");
	else if (http->keys.rsa)
	{
		http->pool = db_pool_new(config->database_url, config->http_db_connections, "http");
		http->server = http_server_start(config->http_addr, &limits, route, http, error, error_size);
	}
	if (http->server == NULL)
	{
		sync_http_stop(http);
		return NULL;
	}
	log_info("HTTP", "listening", json_pack("{s:s, s:i}", "address", config->http_addr, "database_connections",
											config->http_db_connections));
	return http;
}

void
sync_http_stop(SyncHttp *http)
{
	if (http == NULL)
		return;
	http_server_stop(http->server);
	db_pool_free(http->pool);
	EVP_PKEY_free(http->keys.ed25519);
	EVP_PKEY_free(http->keys.rsa);
	config_free(http->config);
	free(http);
}
