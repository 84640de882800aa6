/*
 * sync_reconcile.c — every REFLEXO_RECONCILE_SECONDS (and on NOTIFY
 * reflexo_reconcile), each active calendar's events in GHL over the window
 * (REFLEXO_RECONCILE_DAYS_BACK before now to REFLEXO_RECONCILE_DAYS_AHEAD
 * after) are compared with this database by reflexo.reconcile_ghl_events:
 * missed webhooks are applied, local appointments GHL lacks are pushed
 * again, duplicates in GHL are reported.  Only a complete answer (200 with
 * an events array) is compared: a failed fetch never reads as deletions.
 *
 * A comparison applies changes and may wait for locks: it runs on its own
 * connection, one at a time, while the loop goes on pushing.  Listings
 * waiting for it count among the background reads at once (sync_fetch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"
#include "common/alloc.h"
#include "common/log.h"
#include "sync.h"
#include "sync_stats.h"

typedef struct Window
{
	char		calendar[128];
	int64_t		from_ms;
	int64_t		to_ms;
} Window;

struct Comparison
{
	Comparison *next;
	char		location[64];
	char		calendar[128];
	char		from[24];
	char		to[24];
	char		listed[24];		/* when the listing was asked for: what was pushed since may be missing from it */
	char	   *events;
};

static void
comparison_free(Comparison *c)
{
	free(c->events);
	free(c);
}

static void
compared(Daemon *d, Location *loc, GhlResponse *response, void *arg)
{
	Window	   *w = arg;
	json_t	   *events = json_object_get(response->json, "events");
	Comparison *c;

	if (response->status != 200 || !json_is_array(events))
	{
		char	   *message = ghl_error_message(response);

		stats_reconcile("failed_fetches", 1);
		log_warn("RECONCILE", "could not list the calendar's events; nothing concluded",
				 json_pack("{s:s, s:s, s:i, s:s}", "location", loc->ghl_id, "calendar_id", w->calendar,
						   "status", (int) response->status, "error", message));
		free(message);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	snprintf(c->location, sizeof(c->location), "%s", loc->ghl_id);
	snprintf(c->calendar, sizeof(c->calendar), "%s", w->calendar);
	snprintf(c->from, sizeof(c->from), "%lld", (long long) w->from_ms);
	snprintf(c->to, sizeof(c->to), "%lld", (long long) w->to_ms);
	snprintf(c->listed, sizeof(c->listed), "%lld", (long long) (now_ms() - (int64_t) response->duration_ms));
	c->events = json_dumps(events, JSON_COMPACT);
	if (d->comparisons_tail)
		d->comparisons_tail->next = c;
	else
		d->comparisons_head = c;
	d->comparisons_tail = c;
	d->comparisons++;
}

/* What a comparison found: statistics, and a log line when it repaired or found something. */
static void
concluded(const Comparison *c, PGresult *r)
{
	json_t	   *result;

	if (r == NULL)
	{
		stats_reconcile("failed_fetches", 1);
		return;
	}
	result = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	stats_reconcile("compared", 1);
	stats_reconcile("applied", json_integer_value(json_object_get(result, "applied")));
	stats_reconcile("pushed_again", json_integer_value(json_object_get(result, "pushed_again")));
	stats_reconcile("duplicates", (int64_t) json_array_size(json_object_get(result, "duplicates")));
	if (json_integer_value(json_object_get(result, "applied")) || json_integer_value(json_object_get(result, "pushed_again")))
		log_warn("RECONCILE", "drift repaired", json_pack("{s:s, s:O}", "location", c->location, "result", result));
	else
		log_debug("RECONCILE", "in step", json_pack("{s:s, s:O}", "location", c->location, "result", result));
	if (json_array_size(json_object_get(result, "duplicates")))
		log_warn("ALERT", "the same booking is in GHL more than once",
				 json_pack("{s:s, s:s, s:s, s:O}", "alert", "ghl_duplicates", "location", c->location,
						   "calendar_id", c->calendar, "duplicates", json_object_get(result, "duplicates")));
	json_decref(result);
}

void
reconcile_tick(Daemon *d)
{
	PGresult   *r;

	if (d->comparing)
	{
		if (!db_finished(&d->reconciler, &r))
			return;
		concluded(d->comparing, r);
		PQclear(r);
		comparison_free(d->comparing);
		d->comparing = NULL;
		d->comparisons--;
	}
	if (d->comparisons_head && db_ready(&d->reconciler))
	{
		Comparison *c = d->comparisons_head;
		const char *params[5] = {c->calendar, c->from, c->to, c->events, c->listed};

		d->comparisons_head = c->next;
		if (d->comparisons_head == NULL)
			d->comparisons_tail = NULL;
		if (db_send(&d->reconciler, "SELECT reflexo.reconcile_ghl_events($1, to_timestamp($2::float8 / 1000),"
					" to_timestamp($3::float8 / 1000), $4::jsonb, to_timestamp($5::float8 / 1000))", 5, params))
			d->comparing = c;
		else
		{
			stats_reconcile("failed_fetches", 1);
			comparison_free(c);
			d->comparisons--;
		}
	}
}

int
reconcile_socket(Daemon *d)
{
	return d->comparing ? db_socket(&d->reconciler) : -1;
}

void
reconcile_free(Daemon *d)
{
	while (d->comparisons_head)
	{
		Comparison *c = d->comparisons_head;

		d->comparisons_head = c->next;
		comparison_free(c);
	}
	if (d->comparing)
		comparison_free(d->comparing);
	d->comparing = NULL;
	d->comparisons_tail = NULL;
	d->comparisons = 0;
}

/* A listing of this calendar still waiting its turn: one is enough, however often reconciling is asked for. */
static bool
already_queued(const Location *loc, const char *calendar)
{
	for (const Fetch *f = loc->fetch_head; f; f = f->next)
		if (f->done == compared && strcmp(((const Window *) f->arg)->calendar, calendar) == 0)
			return true;
	return false;
}

void
reconcile_schedule(Daemon *d)
{
	PGresult   *r = db_query(&d->worker,
							 "SELECT ghl_location_id, ghl_calendar_id FROM reflexo.connected_calendars()", 0, NULL);
	int64_t		now = now_ms();

	if (r == NULL)
		return;
	for (int i = 0; i < PQntuples(r); i++)
	{
		Location   *loc = location_for(d, PQgetvalue(r, i, 0));
		Window	   *w;
		char	   *location;
		char	   *calendar;
		char	   *url;

		if (already_queued(loc, PQgetvalue(r, i, 1)))
			continue;
		w = xcalloc(1, sizeof(*w));
		location = url_escape(loc->ghl_id);
		calendar = url_escape(PQgetvalue(r, i, 1));
		snprintf(w->calendar, sizeof(w->calendar), "%s", PQgetvalue(r, i, 1));
		w->from_ms = now - (int64_t) d->config->reconcile_days_back * 86400000;
		w->to_ms = now + (int64_t) d->config->reconcile_days_ahead * 86400000;
		url = xasprintf("%s/calendars/events?locationId=%s&calendarId=%s&startTime=%lld&endTime=%lld",
					 d->config->ghl_api_base, location, calendar, (long long) w->from_ms, (long long) w->to_ms);
		fetch_enqueue(loc, url, "list_events", compared, w);
		free(url);
		free(location);
		free(calendar);
	}
	log_debug("RECONCILE", "reconciliation started", json_pack("{s:i}", "calendars", PQntuples(r)));
	PQclear(r);
}
