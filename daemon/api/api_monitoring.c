/*
 * api_monitoring.c — the Django service's monitoring endpoints over
 * api.metrics*, api.health, and reflexo-api's own probes:
 *
 *   GET /healthz   the process answers
 *   GET /readyz    and it reaches the database (503 otherwise)
 *   GET /metrics   Prometheus text: requests by operation and status class,
 *                  their durations, login refusals
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/iso_time.h"

#define OPERATIONS 32

static const double buckets_ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

#define NBUCKETS ((int) (sizeof(buckets_ms) / sizeof(*buckets_ms)))

typedef struct Counter
{
	const char *operation;
	long long	by_class[6];	/* 1xx..5xx, by status / 100 */
	long long	buckets[NBUCKETS + 1];
	double		sum_ms;
	long long	count;
} Counter;

static struct
{
	pthread_mutex_t lock;
	int			n;
	Counter		counters[OPERATIONS];
}			stats = {.lock = PTHREAD_MUTEX_INITIALIZER};

void
api_count_request(const char *operation, int status, double duration_ms)
{
	Counter    *c = NULL;

	pthread_mutex_lock(&stats.lock);
	for (int i = 0; i < stats.n && c == NULL; i++)
		if (strcmp(stats.counters[i].operation, operation) == 0)
			c = &stats.counters[i];
	if (c == NULL && stats.n < OPERATIONS)
	{
		c = &stats.counters[stats.n++];
		c->operation = operation;	/* operations are string constants */
	}
	if (c)
	{
		int			b = 0;

		c->by_class[status / 100 >= 1 && status / 100 <= 5 ? status / 100 : 0]++;
		while (b < NBUCKETS && duration_ms > buckets_ms[b])
			b++;
		c->buckets[b]++;
		c->sum_ms += duration_ms;
		c->count++;
	}
	pthread_mutex_unlock(&stats.lock);
}

static void
serve_healthz(ApiServer *server, ApiRequest *request)
{
	(void) server;
	http_reply_json(request->reply, 200, json_pack("{s:s}", "status", "ok"));
}

static void
serve_readyz(ApiServer *server, ApiRequest *request)
{
	bool		ready = api_server_ready(server);

	http_reply_json(request->reply, ready ? 200 : 503,
					json_pack("{s:s, s:b}", "status", ready ? "ready" : "database unavailable", "database", ready));
	if (!ready)
		request->reply->retry_after = 1;
}

static void
serve_metrics(ApiServer *server, ApiRequest *request)
{
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *out = open_memstream(&text, &len);

	(void) server;
	fputs("# HELP reflexo_api_requests_total Requests answered, by operation and status class.\n"
		  "# TYPE reflexo_api_requests_total counter\n", out);
	pthread_mutex_lock(&stats.lock);
	for (int i = 0; i < stats.n; i++)
		for (int k = 1; k <= 5; k++)
			if (stats.counters[i].by_class[k])
				fprintf(out, "reflexo_api_requests_total{operation=\"%s\",status=\"%dxx\"} %lld\n",
						stats.counters[i].operation, k, stats.counters[i].by_class[k]);
	fputs("# HELP reflexo_api_request_duration_seconds Time to answer a request, by operation.\n"
		  "# TYPE reflexo_api_request_duration_seconds histogram\n", out);
	for (int i = 0; i < stats.n; i++)
	{
		const Counter *c = &stats.counters[i];
		long long	cumulative = 0;

		for (int b = 0; b < NBUCKETS; b++)
		{
			cumulative += c->buckets[b];
			fprintf(out, "reflexo_api_request_duration_seconds_bucket{operation=\"%s\",le=\"%g\"} %lld\n",
					c->operation, buckets_ms[b] / 1000.0, cumulative);
		}
		fprintf(out, "reflexo_api_request_duration_seconds_bucket{operation=\"%s\",le=\"+Inf\"} %lld\n",
				c->operation, c->count);
		fprintf(out, "reflexo_api_request_duration_seconds_sum{operation=\"%s\"} %.6f\n", c->operation,
				c->sum_ms / 1000.0);
		fprintf(out, "reflexo_api_request_duration_seconds_count{operation=\"%s\"} %lld\n", c->operation, c->count);
	}
	pthread_mutex_unlock(&stats.lock);
	fclose(out);
	http_reply_text(request->reply, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

static bool
plan_function(ApiRequest *request, ApiPlan *plan, const char *function, const char *operation)
{
	plan->read_only = true;
	plan->operation = operation;
	plan->sql = api_sql(request, "SELECT %s()::pg_catalog.json", function);
	return true;
}

static bool
plan_metrics(ApiRequest *request, ApiPlan *plan)
{
	return plan_function(request, plan, "api.metrics", "metrics");
}

static bool
plan_metrics_ghl(ApiRequest *request, ApiPlan *plan)
{
	return plan_function(request, plan, "api.metrics_ghl", "metrics_ghl");
}

static bool
plan_metrics_webhooks(ApiRequest *request, ApiPlan *plan)
{
	return plan_function(request, plan, "api.metrics_webhooks", "metrics_webhooks");
}

static bool
plan_health(ApiRequest *request, ApiPlan *plan)
{
	return plan_function(request, plan, "api.health", "health");
}

const Endpoint api_monitoring_endpoints[] = {
	{"/api/ghl/metrics/", "GET", ACCESS_USER, plan_metrics, NULL, NULL, false},
	{"/api/ghl/metrics/ghl/", "GET", ACCESS_USER, plan_metrics_ghl, NULL, NULL, false},
	{"/api/ghl/metrics/webhooks/", "GET", ACCESS_USER, plan_metrics_webhooks, NULL, NULL, false},
	{"/api/ghl/health/", "GET", ACCESS_USER, plan_health, NULL, NULL, false},
	{"/api/webhooks/ghl/", "POST", ACCESS_PUBLIC, NULL, NULL, api_forward, false},
	{"/api/ghl/oauth/callback/", "GET", ACCESS_PUBLIC, NULL, NULL, api_forward, false},
	{"/healthz", "GET", ACCESS_PUBLIC, NULL, NULL, serve_healthz, false},
	{"/readyz", "GET", ACCESS_PUBLIC, NULL, NULL, serve_readyz, false},
	{"/metrics", "GET", ACCESS_PUBLIC, NULL, NULL, serve_metrics, false},
};
const int	api_monitoring_count = sizeof(api_monitoring_endpoints) / sizeof(*api_monitoring_endpoints);
