/*
 * sync_stats.h — reflexo-sync's own counters, for /metrics.  Bounded label
 * sets only: operations, results and status classes, never ids.
 */
#ifndef REFLEXO_SYNC_STATS_H
#define REFLEXO_SYNC_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum StatResult
{
	RESULT_SUCCESS,
	RESULT_RETRY,
	RESULT_DEAD,
	RESULT_RELEASED,
	NUM_RESULTS
} StatResult;

extern void stats_push(const char *operation, StatResult result, double duration_ms);
extern void stats_ghl_status(long status);
extern void stats_refresh(bool ok);
extern void stats_rate_limited(void);
extern void stats_rate_low(void);
extern void stats_auth_alert(void);
extern void stats_webhook(const char *result, double duration_ms);
extern void stats_reconcile(const char *what, int64_t n);
extern void stats_calendar_sync(bool ok);
extern void stats_gauge_inflight(int sending, int queued);

/*
 * Records the server's break counts of one booking rule; true, with the
 * previous counts, if they were known and did not go down (a restart resets them).
 */
extern bool stats_validation(const char *kind, int64_t rejected, int64_t flagged, int64_t *before_rejected,
							 int64_t *before_flagged);

/* The main loop's pulse, for /healthz and /readyz: when it last turned and what it knows. */
typedef struct LoopState
{
	int64_t		turned_ms;		/* monotonic */
	int			locations;
	int			locations_broken;	/* need an operator (credentials) */
	int			results_unrecorded; /* push results not written back yet */
	bool		database;		/* the worker connection is up */
} LoopState;

extern void stats_loop(const LoopState *state);
extern LoopState stats_loop_state(void);

/* Writes every counter in Prometheus text format. */
extern void stats_write_prometheus(FILE *out);

#endif							/* REFLEXO_SYNC_STATS_H */
