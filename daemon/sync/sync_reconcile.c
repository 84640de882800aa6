/*
 * sync_reconcile.c — every REFLEXO_RECONCILE_SECONDS (and on NOTIFY
 * reflexo_reconcile), each active calendar's events in GHL over the window
 * (REFLEXO_RECONCILE_DAYS_BACK before now to REFLEXO_RECONCILE_DAYS_AHEAD
 * after) are compared with this database by reflexo.reconcile_ghl_events:
 * missed webhooks are applied, local appointments GHL lacks are pushed
 * again, duplicates in GHL are reported.  Only a complete answer (200 with
 * an events array) is compared: a failed fetch never reads as deletions.
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

static void
compared(Daemon *d, Location *loc, GhlResponse *response, void *arg)
{
	Window	   *w = arg;
	json_t	   *events = json_object_get(response->json, "events");
	char		from[24],
				to[24];
	char	   *list;
	char		listed[24];
	const char *params[5] = {w->calendar, from, to, NULL, listed};
	PGresult   *r;
	json_t	   *result;

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
	snprintf(from, sizeof(from), "%lld", (long long) w->from_ms);
	snprintf(to, sizeof(to), "%lld", (long long) w->to_ms);
	/* when the listing was asked for: what was pushed since may be missing from it */
	snprintf(listed, sizeof(listed), "%lld", (long long) (now_ms() - (int64_t) response->duration_ms));
	list = json_dumps(events, JSON_COMPACT);
	params[3] = list;
	r = db_query(&d->worker, "SELECT reflexo.reconcile_ghl_events($1, to_timestamp($2::float8 / 1000),"
				 " to_timestamp($3::float8 / 1000), $4::jsonb, to_timestamp($5::float8 / 1000))", 5, params);
	free(list);
	if (r == NULL)
	{
		stats_reconcile("failed_fetches", 1);
		return;
	}
	result = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	stats_reconcile("compared", 1);
	stats_reconcile("applied", json_integer_value(json_object_get(result, "applied")));
	stats_reconcile("pushed_again", json_integer_value(json_object_get(result, "pushed_again")));
	stats_reconcile("duplicates", (int64_t) json_array_size(json_object_get(result, "duplicates")));
	if (json_integer_value(json_object_get(result, "applied")) || json_integer_value(json_object_get(result, "pushed_again")))
		log_warn("RECONCILE", "drift repaired", json_pack("{s:s, s:O}", "location", loc->ghl_id, "result", result));
	else
		log_debug("RECONCILE", "in step", json_pack("{s:s, s:O}", "location", loc->ghl_id, "result", result));
	if (json_array_size(json_object_get(result, "duplicates")))
		log_warn("ALERT", "the same booking is in GHL more than once",
				 json_pack("{s:s, s:s, s:s, s:O}", "alert", "ghl_duplicates", "location", loc->ghl_id,
						   "calendar_id", w->calendar, "duplicates", json_object_get(result, "duplicates")));
	json_decref(result);
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
