/*
 * sync_http.h — reflexo-sync's HTTP endpoints: GHL webhooks, the OAuth
 * install callback, health, metrics and the status page.  They run in the
 * HTTP server's threads with their own database connections and their own
 * copy of the configuration (HTTP settings take effect at restart).
 */
#ifndef REFLEXO_SYNC_HTTP_H
#define REFLEXO_SYNC_HTTP_H

#include "common/http_server.h"
#include "sync_config.h"
#include "common/db.h"
#include "sync_webhook.h"

typedef struct SyncHttp
{
	Config	   *config;
	DbPool	   *pool;
	WebhookKeys keys;
	HttpServer *server;
	int64_t		started_ms;
} SyncHttp;

/* sync_oauth.c */
extern void oauth_install(SyncHttp *http, const HttpRequest *request, HttpReply *reply);

/* Whether a request may see operational data: REFLEXO_OPS_TOKEN is unset, or given. */
extern bool sync_http_ops_allowed(const SyncHttp *http, const HttpRequest *request);

/* Starts the endpoints (the configuration is taken); NULL, with error, if it cannot. */
extern SyncHttp *sync_http_start(Config *config, char *error, size_t error_size);
extern void sync_http_stop(SyncHttp *http);

/* sync_webhook_endpoint.c, sync_oauth.c, sync_status.c */
extern void webhook_endpoint(SyncHttp *http, const HttpRequest *request, HttpReply *reply);
extern void oauth_callback(SyncHttp *http, const HttpRequest *request, HttpReply *reply);
extern void status_healthz(SyncHttp *http, const HttpRequest *request, HttpReply *reply);
extern void status_readyz(SyncHttp *http, const HttpRequest *request, HttpReply *reply);
extern void status_metrics(SyncHttp *http, const HttpRequest *request, HttpReply *reply);
extern void status_metrics_json(SyncHttp *http, const HttpRequest *request, HttpReply *reply);
extern void status_json(SyncHttp *http, const HttpRequest *request, HttpReply *reply);
extern void status_page(SyncHttp *http, const HttpRequest *request, HttpReply *reply);

/* How long a request waits for a database connection before it is answered "busy". */
#define HTTP_DB_WAIT_MS 5000

#endif							/* REFLEXO_SYNC_HTTP_H */
