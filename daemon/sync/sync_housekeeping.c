/*
 * sync_housekeeping.c — periodic work beside the pushes: calendar syncs,
 * reconciliation, retention (reflexo.prune, hourly, one daemon at a time),
 * and watching the booking rules' break counters, which the extension
 * keeps per server.
 *
 * reflexo.validation_error_counts() counts bookings rejected (or stored
 * flagged) by each rule since PostgreSQL started.  Every five polling
 * periods (5 s by default) the daemon reads them: the totals become metrics, and a rise is an alert, as
 * the Django service raised one per validation error kind.
 */
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"
#include "common/log.h"
#include "sync.h"
#include "sync_stats.h"

static void
check_validation_errors(Daemon *d)
{
	PGresult   *r = db_query(&d->worker,
							 "SELECT kind, rejected, flagged FROM reflexo.validation_error_counts()"
							 " WHERE rejected IS NOT NULL", 0, NULL);

	if (r == NULL)
		return;
	for (int i = 0; i < PQntuples(r); i++)
	{
		const char *kind = PQgetvalue(r, i, 0);
		int64_t		rejected = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		int64_t		flagged = strtoll(PQgetvalue(r, i, 2), NULL, 10);
		int64_t		before_rejected,
					before_flagged;

		/* lower than before: PostgreSQL restarted and its counters with it */
		if (stats_validation(kind, rejected, flagged, &before_rejected, &before_flagged) &&
			(rejected > before_rejected || flagged > before_flagged))
			log_warn("ALERT", "bookings broke a booking rule",
					 json_pack("{s:s, s:s, s:I, s:I}", "alert", "validation_errors", "kind", kind,
							   "rejected", (json_int_t) (rejected - before_rejected),
							   "flagged", (json_int_t) (flagged - before_flagged)));
	}
	PQclear(r);
}

static void
prune(Daemon *d)
{
	/* several daemons may share the database: one prunes, the others skip */
	PGresult   *r = db_query(&d->worker, "SELECT reflexo.prune() WHERE pg_try_advisory_xact_lock(21063)", 0, NULL);

	if (r && PQntuples(r) == 1)
		log_info("RETENTION", "old rows pruned", json_loads(PQgetvalue(r, 0, 0), 0, NULL));
	PQclear(r);
}

void
housekeeping_tick(Daemon *d)
{
	int64_t		now = monotonic_ms();
	const Config *c = d->config;

	if (!db_ready(&d->worker))
		return;
	if (now >= d->next_validation_check_ms)
	{
		d->next_validation_check_ms = now + 5 * c->poll_ms;
		check_validation_errors(d);
	}
	if (d->calendars_for || now >= d->next_calendar_sync_ms)
	{
		bool		periodic = now >= d->next_calendar_sync_ms;

		calendars_schedule(d, periodic ? "" : d->calendars_for);
		free(d->calendars_for);
		d->calendars_for = NULL;
		if (periodic)
			d->next_calendar_sync_ms = c->calendar_sync_seconds > 0 ? now + (int64_t) c->calendar_sync_seconds * 1000
				: INT64_MAX;
	}
	if (d->next_reconcile_ms == 0 && c->reconcile_seconds > 0)
	{
		/* the first pass soon after start: webhooks may have been missed while we were down */
		int			first = c->reconcile_seconds < 30 ? c->reconcile_seconds : 30;

		d->next_reconcile_ms = now + (int64_t) first * 1000;
	}
	if (d->reconcile_now || (c->reconcile_seconds > 0 && now >= d->next_reconcile_ms))
	{
		d->reconcile_now = false;
		reconcile_schedule(d);
		if (c->reconcile_seconds > 0)
			d->next_reconcile_ms = now + (int64_t) c->reconcile_seconds * 1000;
	}
	if (now >= d->next_prune_ms)
	{
		if (d->next_prune_ms != 0)
			prune(d);
		d->next_prune_ms = now + 3600 * 1000;
	}
}
