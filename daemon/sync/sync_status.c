/*
 * sync_status.c — what operators and their tools look at.
 *
 *   /healthz       the process: 200 while the main loop turns (503 if it has
 *                  not for 30 s); touches nothing else
 *   /readyz        200 only if the database answers, every location's
 *                  credentials work and the outbox is not stuck (a due
 *                  change waiting more than 5 minutes); else 503 and why
 *   /metrics       Prometheus text: the daemon's counters and histograms,
 *                  the outbox and webhook gauges from reflexo.health()
 *   /metrics.json  the Django service's document (reflexo.metrics())
 *   /status.json   reflexo.sync_status(): what the status page draws
 *   /              the status page (status_page.html, built in)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"
#include "sync_http.h"
#include "sync_stats.h"
#include "common/version.h"

#define LOOP_STALL_MS 30000
#define STUCK_SECONDS 300

extern const char status_page_html[];

/* One JSON value from the database, or NULL (no connection, or the query failed). */
static json_t *
query_json(SyncHttp *http, const char *sql)
{
	Db		   *db = db_pool_take(http->pool, HTTP_DB_WAIT_MS);
	PGresult   *r;
	json_t	   *value = NULL;

	if (db == NULL)
		return NULL;
	r = db_query(db, sql, 0, NULL);
	if (r && PQntuples(r) == 1)
		value = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	db_pool_give(http->pool, db);
	return value;
}

void
status_healthz(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	LoopState	loop = stats_loop_state();
	int64_t		age = monotonic_ms() - loop.turned_ms;
	bool		alive = loop.turned_ms > 0 && age < LOOP_STALL_MS;

	(void) request;
	http_reply_json(reply, alive ? 200 : 503,
					json_pack("{s:s, s:s, s:I, s:I}", "status", alive ? "ok" : "stalled", "version", REFLEXO_VERSION,
							  "uptime_seconds", (json_int_t) ((monotonic_ms() - http->started_ms) / 1000),
							  "loop_age_ms", (json_int_t) age));
	reply->cache_control = "no-store";
}

void
status_readyz(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	LoopState	loop = stats_loop_state();
	json_t	   *health = query_json(http, "SELECT reflexo.health()");
	json_t	   *outbox = json_object_get(health, "outbox");
	double		oldest = json_number_value(json_object_get(outbox, "oldest_pending_age_seconds"));
	json_t	   *problems = json_array();

	if (health == NULL)
		json_array_append_new(problems, json_string("the database does not answer"));
	if (loop.locations_broken > 0)
		json_array_append_new(problems, json_sprintf("%d location(s) without working GHL credentials (see the ALERT logs)",
													 loop.locations_broken));
	if (oldest > STUCK_SECONDS)
		json_array_append_new(problems, json_sprintf("the oldest waiting change is %.0f s old", oldest));
	if (monotonic_ms() - loop.turned_ms > LOOP_STALL_MS)
		json_array_append_new(problems, json_string("the sync loop is not turning"));
	if (sync_http_ops_allowed(http, request))
		http_reply_json(reply, json_array_size(problems) ? 503 : 200,
						json_pack("{s:b, s:o, s:O?}", "ready", json_array_size(problems) == 0, "problems", problems,
								  "outbox", outbox));
	else
	{
		/* a load balancer needs the status; the reasons name locations and are the operator's */
		http_reply_json(reply, json_array_size(problems) ? 503 : 200,
						json_pack("{s:b}", "ready", json_array_size(problems) == 0));
		json_decref(problems);
	}
	reply->cache_control = "no-store";
	json_decref(health);
}

static void
gauge(FILE *out, const char *name, const char *help, double value)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, value);
}

void
status_metrics(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *out = open_memstream(&text, &len);
	json_t	   *health = query_json(http, "SELECT reflexo.health()");
	json_t	   *outbox = json_object_get(health, "outbox");
	LoopState	loop = stats_loop_state();

	(void) request;
	fprintf(out, "# HELP reflexo_sync_build_info The running reflexo-sync.\n# TYPE reflexo_sync_build_info gauge\n"
			"reflexo_sync_build_info{version=\"%s\"} 1\n", REFLEXO_VERSION);
	stats_write_prometheus(out);
	gauge(out, "reflexo_database_up", "Whether the database answered this scrape.", health ? 1 : 0);
	gauge(out, "reflexo_locations", "GHL locations this daemon has seen.", loop.locations);
	gauge(out, "reflexo_locations_broken", "Locations whose GHL credentials need an operator.",
		  loop.locations_broken);
	gauge(out, "reflexo_sync_results_unrecorded",
		  "Push results GHL gave that are not written back yet: the database is away, or another "
		  "transaction holds their appointment.", loop.results_unrecorded);
	if (health)
	{
		gauge(out, "reflexo_outbox_pending", "Local changes waiting to be pushed.",
			  json_number_value(json_object_get(outbox, "pending")));
		gauge(out, "reflexo_outbox_leased", "Local changes being pushed now.",
			  json_number_value(json_object_get(outbox, "leased")));
		gauge(out, "reflexo_outbox_dead", "Local changes given up on (see reflexo.outbox.last_error).",
			  json_number_value(json_object_get(outbox, "dead")));
		gauge(out, "reflexo_outbox_oldest_pending_seconds", "Age of the oldest change not yet in GHL.",
			  json_number_value(json_object_get(outbox, "oldest_pending_age_seconds")));
		gauge(out, "reflexo_webhooks_waiting", "Webhooks kept until their calendar or location is known.",
			  json_number_value(json_object_get(json_object_get(health, "webhooks"), "waiting")));
	}
	fclose(out);
	http_reply_text(reply, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	reply->cache_control = "no-store";
	free(text);
	json_decref(health);
}

static void
reply_query(SyncHttp *http, HttpReply *reply, const char *sql)
{
	json_t	   *value = query_json(http, sql);

	if (value == NULL)
	{
		http_reply_error(reply, 503, "the database does not answer");
		reply->retry_after = 5;
		return;
	}
	http_reply_json(reply, 200, value);
	reply->cache_control = "no-store";
}

void
status_metrics_json(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	(void) request;
	reply_query(http, reply, "SELECT reflexo.metrics()");
}

void
status_json(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	(void) request;
	reply_query(http, reply, "SELECT reflexo.sync_status(60)");
}

void
status_page(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	(void) http;
	(void) request;
	http_reply_text(reply, 200, "text/html; charset=utf-8", status_page_html, strlen(status_page_html));
	reply->cache_control = "no-cache";
}
