/*
 * sync_housekeeping.c — periodic work beside the pushes: watching the
 * booking rules' break counters, which the extension keeps per server.
 *
 * reflexo.validation_error_counts() counts bookings rejected (or stored
 * flagged) by each rule since PostgreSQL started.  Every five polling
 * periods (5 s by default) the daemon reads them: the totals become metrics, and a rise is an alert, as
 * the seed raised one per validation error kind.
 */
#include <stdlib.h>
#include <string.h>

#include "iso_time.h"
#include "log.h"
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

void
housekeeping_tick(Daemon *d)
{
	int64_t		now = monotonic_ms();

	if (now >= d->next_validation_check_ms)
	{
		d->next_validation_check_ms = now + 5 * d->config->poll_ms;
		check_validation_errors(d);
	}
}
