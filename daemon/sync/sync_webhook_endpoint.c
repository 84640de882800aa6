/*
 * sync_webhook_endpoint.c — POST /webhooks/ghl: check the request
 * (sync_webhook.c), apply it with reflexo.apply_ghl_webhook, and answer 2xx
 * only once that has committed.
 *
 *   200  applied, duplicate (seen before), stale (older than what is here)
 *        or ignored (kept for later, or not an appointment event)
 *   400  not JSON, or a webhook the database finds malformed (its message)
 *   401  unsigned, a signature that does not verify, or outside the window
 *   413  too big (http_server.c)
 *   429  not applied now: no database, or the database refused it for a
 *        reason other than the body (logged as an error); GHL retries a 429
 *        under every retry policy it has documented (Retry-After)
 *
 * A deadlock or serialization failure against our own push is retried here
 * first: it is a race of ours, and GHL waits minutes before delivering again.
 *
 * A refused request writes nothing.  Logs carry the event, its webhookId
 * and the outcome, never the signature or the body.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/iso_time.h"
#include "common/log.h"
#include "sync_http.h"
#include "sync_stats.h"

#define STATEMENT_APPLY_WEBHOOK 0

static bool
transient(const char *sqlstate)
{
	return sqlstate && (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0 ||
						strcmp(sqlstate, "23505") == 0 || strcmp(sqlstate, "55P03") == 0);
}

static void
log_webhook(const char *event, const char *webhook_id, const char *appointment, const char *calendar,
			const char *result, const char *via, int status, double ms, const char *reason)
{
	bool		success = status == 200;
	char		operation[64];

	if (!log_enabled(success ? LOG_INFO : LOG_WARN))
		return;
	snprintf(operation, sizeof(operation), "webhook_%s", event ? event : "unknown");
	log_json(success ? LOG_INFO : LOG_WARN, "WEBHOOK_EVENT", NULL,
			 json_pack("{s:s, s:b, s:f, s:s?, s:s?, s:{s:s?, s:s?, s:s?, s:i, s:s?}}",
					   "operation", operation, "success", success, "duration_ms", ms,
					   "appointment_id", appointment, "calendar_id", calendar, "details",
					   "webhook_id", webhook_id, "result", result, "verified_by", via, "status", status,
					   "reason", reason));
}

/*
 * GHL signs every marketplace app's webhooks with the same key: a body that
 * names an app (appId) must name ours, the part of GHL_CLIENT_ID before its
 * first '-', as GHL's own SDK checks.  Without a client id (a Private
 * Integration Token) or an appId there is nothing to compare.
 */
static bool
for_another_app(const Config *config, json_t *body)
{
	const char *app = json_string_value(json_object_get(body, "appId"));
	size_t		ours = strcspn(config->ghl_client_id, "-");

	return app && *app && ours > 0 && (strlen(app) != ours || strncmp(app, config->ghl_client_id, ours) != 0);
}

/*
 * A rejected or malformed webhook counts in the database's webhook metrics
 * too (metrics_webhooks, the Django service's document), when a connection
 * is free at once: a flood of forged requests is not worth waiting for.
 */
static void
count_rejected(SyncHttp *http, const char *event)
{
	const char *params[1] = {event ? event : "unknown"};
	Db		   *db = db_pool_take(http->pool, 0);

	if (db == NULL)
		return;
	db_command(db, "SELECT reflexo.record_webhook_failure($1)", 1, params);
	db_pool_give(http->pool, db);
}

static const char *
appointment_field(json_t *body, const char *field)
{
	json_t	   *appointment = json_object_get(body, "appointment");

	if (appointment == NULL)
		appointment = json_object_get(body, "data");
	return json_string_value(json_object_get(appointment, field));
}

void
webhook_endpoint(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	int64_t		started = monotonic_ms();
	WebhookHeaders headers = {
		.ghl_signature = http_header(request, "x-ghl-signature"),
		.wh_signature = http_header(request, "x-wh-signature"),
		.secret = http_header(request, "x-webhook-secret")
	};
	WebhookVerdict verdict;
	const char *event,
			   *webhook_id;
	const char *params[1] = {request->body};
	Db		   *db;
	PGresult   *r;
	double		ms;

	webhook_check(&http->keys, &headers, request->body, request->len, now_ms(), &verdict);
	if (verdict.status != 0)
	{
		stats_webhook("rejected", (double) (monotonic_ms() - started));
		log_webhook(NULL, NULL, NULL, NULL, "rejected", verdict.via, verdict.status,
					(double) (monotonic_ms() - started), verdict.reason);
		http_reply_error(reply, verdict.status, verdict.reason);
		count_rejected(http, NULL);
		return;
	}
	event = json_string_value(json_object_get(verdict.body, "type"));
	webhook_id = json_string_value(json_object_get(verdict.body, "webhookId"));
	if (for_another_app(http->config, verdict.body))
	{
		/* GHL's, but another app's business: nothing to store, nothing to retry */
		ms = (double) (monotonic_ms() - started);
		stats_webhook("ignored", ms);
		log_webhook(event, webhook_id, NULL, NULL, "ignored", verdict.via, 200, ms, "another app's webhook");
		http_reply_json(reply, 200, json_pack("{s:s, s:s?}", "result", "ignored", "webhookId", webhook_id));
		json_decref(verdict.body);
		return;
	}

	db = db_pool_take(http->pool, HTTP_DB_WAIT_MS);
	r = db ? db_exec_prepared(db, STATEMENT_APPLY_WEBHOOK, "SELECT reflexo.apply_ghl_webhook($1::jsonb)", 1, params)
		: NULL;
	/* a race with our own push (a deadlock, a serialization failure) is ours to retry, not GHL's */
	for (int retry = 0; retry < 3 && r && transient(PQresultErrorField(r, PG_DIAG_SQLSTATE)); retry++)
	{
		PQclear(r);
		usleep((useconds_t) (10000 * (retry + 1)));
		r = db_exec_prepared(db, STATEMENT_APPLY_WEBHOOK, "SELECT reflexo.apply_ghl_webhook($1::jsonb)", 1, params);
	}
	ms = (double) (monotonic_ms() - started);
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
	{
		const char *result = PQgetvalue(r, 0, 0);

		stats_webhook(result, ms);
		log_webhook(event, webhook_id, appointment_field(verdict.body, "id"),
					appointment_field(verdict.body, "calendarId"), result, verdict.via, 200, ms, NULL);
		http_reply_json(reply, 200, json_pack("{s:s, s:s?}", "result", result, "webhookId", webhook_id));
	}
	else if (r && strncmp(PQresultErrorField(r, PG_DIAG_SQLSTATE) ?: "", "22", 2) == 0)
	{
		/*
		 * A data exception (class 22): GHL's, but not a webhook we can read,
		 * and sending it again will not change that; say what is wrong.
		 * Nothing was applied.
		 */
		const char *message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

		stats_webhook("rejected", ms);
		log_webhook(event, webhook_id, NULL, NULL, "malformed", verdict.via, 400, ms, message);
		http_reply_json(reply, 400, json_pack("{s:s, s:i, s:s?}", "error", message ? message : "malformed webhook",
											  "status", 400, "hint", PQresultErrorField(r, PG_DIAG_MESSAGE_HINT)));
		PQclear(r);
		r = NULL;
		db_command(db, "SELECT reflexo.record_webhook_failure($1)", 1, (const char *const[]) {event ? event : "unknown"});
	}
	else if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && db->conn && PQstatus(db->conn) == CONNECTION_OK)
	{
		/* the database answered, and refused: nothing was applied; GHL delivers it again */
		const char *message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

		stats_webhook("error", ms);
		log_webhook(event, webhook_id, NULL, NULL, "error", verdict.via, 429, ms, message);
		log_error("WEBHOOK", "applying a webhook failed",
				  json_pack("{s:s?, s:s?, s:s?}", "webhook_id", webhook_id, "sqlstate",
							PQresultErrorField(r, PG_DIAG_SQLSTATE), "error", message));
		http_reply_error(reply, 429, "the webhook could not be applied now; it was not stored");
		reply->retry_after = 60;
	}
	else
	{
		/* no database to apply it in: GHL should come back later */
		stats_webhook("error", ms);
		log_webhook(event, webhook_id, NULL, NULL, "error", verdict.via, 429, ms,
					db ? "database unavailable" : "no database connection free");
		http_reply_error(reply, 429, "the database cannot take the webhook now; retry later");
		reply->retry_after = 60;
	}
	PQclear(r);
	if (db)
		db_pool_give(http->pool, db);
	json_decref(verdict.body);
}
