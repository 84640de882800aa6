/*
 * sync_stats.c — counters and histograms in memory, under one mutex: the
 * main loop writes them, HTTP threads read them for /metrics.
 */
#include "sync_stats.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static const char *const operations[] = {"create", "update", "cancel", "delete", "find", "skip", "other"};
static const char *const results[NUM_RESULTS] = {"success", "retry", "dead", "released"};
static const char *const webhook_results[] = {"applied", "duplicate", "stale", "ignored", "rejected", "error"};
static const char *const reconcile_kinds[] = {"compared", "applied", "pushed_again", "duplicates", "failed_fetches"};
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

#define NOPS (sizeof(operations) / sizeof(*operations))
#define NHOOK (sizeof(webhook_results) / sizeof(*webhook_results))
#define NRECON (sizeof(reconcile_kinds) / sizeof(*reconcile_kinds))
#define NBUCKETS (sizeof(buckets) / sizeof(*buckets))
#define MAX_VALIDATION_KINDS 16

typedef struct Histogram
{
	uint64_t	counts[NBUCKETS];
	uint64_t	count;
	double		sum;
} Histogram;

static struct
{
	uint64_t	pushes[NOPS][NUM_RESULTS];
	Histogram	push_seconds;
	uint64_t	ghl_status[6];	/* 0 = no answer, 1xx..5xx */
	uint64_t	refresh_ok,
				refresh_failed,
				rate_limited,
				rate_low,
				auth_alerts,
				calendar_sync_ok,
				calendar_sync_failed;
	uint64_t	webhooks[NHOOK];
	Histogram	webhook_seconds;
	uint64_t	reconcile[NRECON];
	int			sending,
				queued;
	struct
	{
		char		kind[32];
		int64_t		rejected,
					flagged;
	}			validation[MAX_VALIDATION_KINDS];
	int			nvalidation;
	LoopState	loop;
} stats;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int
index_of(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return n - 1;
}

static void
observe(Histogram *h, double seconds)
{
	for (size_t i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			h->counts[i]++;
	h->count++;
	h->sum += seconds;
}

void
stats_push(const char *operation, StatResult result, double duration_ms)
{
	pthread_mutex_lock(&lock);
	stats.pushes[index_of(operations, NOPS, operation)][result]++;
	if (result != RESULT_RELEASED)
		observe(&stats.push_seconds, duration_ms / 1000.0);
	pthread_mutex_unlock(&lock);
}

void
stats_ghl_status(long status)
{
	pthread_mutex_lock(&lock);
	stats.ghl_status[status >= 100 && status < 600 ? status / 100 : 0]++;
	pthread_mutex_unlock(&lock);
}

#define BUMP(field) do { pthread_mutex_lock(&lock); stats.field++; pthread_mutex_unlock(&lock); } while (0)

void
stats_refresh(bool ok)
{
	if (ok)
		BUMP(refresh_ok);
	else
		BUMP(refresh_failed);
}

void
stats_rate_limited(void)
{
	BUMP(rate_limited);
}

void
stats_rate_low(void)
{
	BUMP(rate_low);
}

void
stats_auth_alert(void)
{
	BUMP(auth_alerts);
}

void
stats_calendar_sync(bool ok)
{
	if (ok)
		BUMP(calendar_sync_ok);
	else
		BUMP(calendar_sync_failed);
}

void
stats_webhook(const char *result, double duration_ms)
{
	pthread_mutex_lock(&lock);
	stats.webhooks[index_of(webhook_results, NHOOK, result)]++;
	observe(&stats.webhook_seconds, duration_ms / 1000.0);
	pthread_mutex_unlock(&lock);
}

void
stats_reconcile(const char *what, int64_t n)
{
	pthread_mutex_lock(&lock);
	stats.reconcile[index_of(reconcile_kinds, NRECON, what)] += (uint64_t) n;
	pthread_mutex_unlock(&lock);
}

void
stats_gauge_inflight(int sending, int queued)
{
	pthread_mutex_lock(&lock);
	stats.sending = sending;
	stats.queued = queued;
	pthread_mutex_unlock(&lock);
}

static void
write_histogram(FILE *out, const char *name, const char *help, const Histogram *h)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < NBUCKETS; i++)
		fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", name, buckets[i], (unsigned long long) h->counts[i]);
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long) h->count);
	fprintf(out, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long) h->count);
}

void
stats_loop(const LoopState *state)
{
	pthread_mutex_lock(&lock);
	stats.loop = *state;
	pthread_mutex_unlock(&lock);
}

LoopState
stats_loop_state(void)
{
	LoopState	state;

	pthread_mutex_lock(&lock);
	state = stats.loop;
	pthread_mutex_unlock(&lock);
	return state;
}

bool
stats_validation(const char *kind, int64_t rejected, int64_t flagged, int64_t *before_rejected,
				 int64_t *before_flagged)
{
	bool		known = false;
	int			i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < stats.nvalidation && strcmp(stats.validation[i].kind, kind) != 0; i++)
		;
	if (i < stats.nvalidation)
	{
		*before_rejected = stats.validation[i].rejected;
		*before_flagged = stats.validation[i].flagged;
		known = rejected >= *before_rejected && flagged >= *before_flagged;
	}
	else if (i < MAX_VALIDATION_KINDS)
	{
		snprintf(stats.validation[i].kind, sizeof(stats.validation[i].kind), "%s", kind);
		stats.nvalidation++;
	}
	if (i < MAX_VALIDATION_KINDS)
	{
		stats.validation[i].rejected = rejected;
		stats.validation[i].flagged = flagged;
	}
	pthread_mutex_unlock(&lock);
	return known;
}

static void
write_counter(FILE *out, const char *name, const char *help, uint64_t value)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long) value);
}

/* A counter split into success and failure. */
static void
write_outcomes(FILE *out, const char *name, const char *help, uint64_t success, uint64_t failure)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s{result=\"success\"} %llu\n%s{result=\"failure\"} %llu\n",
			name, help, name, name, (unsigned long long) success, name, (unsigned long long) failure);
}

void
stats_write_prometheus(FILE *out)
{
	static const char *const classes[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

	pthread_mutex_lock(&lock);
	fprintf(out, "# HELP reflexo_ghl_pushes_total Outbox rows pushed to GHL, by operation and result.\n"
			"# TYPE reflexo_ghl_pushes_total counter\n");
	for (size_t o = 0; o < NOPS; o++)
		for (int r = 0; r < NUM_RESULTS; r++)
			fprintf(out, "reflexo_ghl_pushes_total{operation=\"%s\",result=\"%s\"} %llu\n", operations[o],
					results[r], (unsigned long long) stats.pushes[o][r]);
	write_histogram(out, "reflexo_ghl_push_duration_seconds", "Time from sending a push to GHL's answer.",
					&stats.push_seconds);
	fprintf(out, "# HELP reflexo_ghl_responses_total GHL answers by status class (none: no answer).\n"
			"# TYPE reflexo_ghl_responses_total counter\n");
	for (int i = 0; i < 6; i++)
		fprintf(out, "reflexo_ghl_responses_total{class=\"%s\"} %llu\n", classes[i],
				(unsigned long long) stats.ghl_status[i]);
	write_outcomes(out, "reflexo_ghl_token_refreshes_total", "OAuth token refreshes by result.", stats.refresh_ok,
				   stats.refresh_failed);
	write_counter(out, "reflexo_ghl_rate_limited_total", "429 answers from GHL.", stats.rate_limited);
	write_counter(out, "reflexo_ghl_rate_limit_low_total", "Times fewer than 10 requests were left in GHL's window.",
				  stats.rate_low);
	write_counter(out, "reflexo_ghl_auth_alerts_total", "Credentials that need an operator (rejected or missing).",
				  stats.auth_alerts);
	write_outcomes(out, "reflexo_calendar_syncs_total", "Calendar syncs by result.", stats.calendar_sync_ok,
				   stats.calendar_sync_failed);
	fprintf(out, "# HELP reflexo_webhooks_total Webhooks received, by result.\n"
			"# TYPE reflexo_webhooks_total counter\n");
	for (size_t i = 0; i < NHOOK; i++)
		fprintf(out, "reflexo_webhooks_total{result=\"%s\"} %llu\n", webhook_results[i],
				(unsigned long long) stats.webhooks[i]);
	write_histogram(out, "reflexo_webhook_duration_seconds", "Time to verify and apply a webhook.",
					&stats.webhook_seconds);
	fprintf(out, "# HELP reflexo_reconcile_total Drift repaired or found by reconciliation.\n"
			"# TYPE reflexo_reconcile_total counter\n");
	for (size_t i = 0; i < NRECON; i++)
		fprintf(out, "reflexo_reconcile_total{kind=\"%s\"} %llu\n", reconcile_kinds[i],
				(unsigned long long) stats.reconcile[i]);
	fprintf(out, "# HELP reflexo_booking_rule_breaks_total Bookings that broke a rule since PostgreSQL started, "
			"by rule and outcome.\n# TYPE reflexo_booking_rule_breaks_total counter\n");
	for (int i = 0; i < stats.nvalidation; i++)
		fprintf(out, "reflexo_booking_rule_breaks_total{rule=\"%s\",outcome=\"rejected\"} %lld\n"
				"reflexo_booking_rule_breaks_total{rule=\"%s\",outcome=\"flagged\"} %lld\n",
				stats.validation[i].kind, (long long) stats.validation[i].rejected, stats.validation[i].kind,
				(long long) stats.validation[i].flagged);
	fprintf(out, "# HELP reflexo_sync_requests_in_flight GHL requests being sent now.\n"
			"# TYPE reflexo_sync_requests_in_flight gauge\nreflexo_sync_requests_in_flight %d\n"
			"# HELP reflexo_sync_jobs_waiting Claimed outbox rows waiting for their location's rate limit or token.\n"
			"# TYPE reflexo_sync_jobs_waiting gauge\nreflexo_sync_jobs_waiting %d\n",
			stats.sending, stats.queued);
	pthread_mutex_unlock(&lock);
}
