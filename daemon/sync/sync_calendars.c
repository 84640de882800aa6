/*
 * sync_calendars.c — each connected location's calendars, from GHL into
 * reflexo.calendars (upsert_ghl_calendars: new and changed ones written, the
 * ones GHL no longer lists deactivated, never deleted).  At start, every
 * REFLEXO_CALENDAR_SYNC_SECONDS, and on NOTIFY reflexo_calendars (payload:
 * a GHL location id, or empty for all; api.sync_calendars sends it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "sync.h"
#include "sync_stats.h"

static void
fetched(Daemon *d, Location *loc, GhlResponse *response, void *arg)
{
	const char *params[2] = {loc->ghl_id, NULL};
	char	   *calendars;
	PGresult   *r = NULL;

	(void) arg;
	loc->calendars_queued = false;
	if (response->status == 200 && json_is_array(json_object_get(response->json, "calendars")))
	{
		calendars = json_dumps(json_object_get(response->json, "calendars"), JSON_COMPACT);
		params[1] = calendars;
		r = db_query(&d->worker, "SELECT count(*) FILTER (WHERE action = 'created'),"
					 " count(*) FILTER (WHERE action = 'updated'), count(*) FILTER (WHERE action = 'deactivated')"
					 " FROM reflexo.upsert_ghl_calendars($1, $2::jsonb)", 2, params);
		free(calendars);
	}
	stats_calendar_sync(r != NULL);
	if (r)
		log_info("CALENDAR_SYNC", "calendars synced",
				 json_pack("{s:s, s:i, s:i, s:i}", "location", loc->ghl_id, "created", atoi(PQgetvalue(r, 0, 0)),
						   "updated", atoi(PQgetvalue(r, 0, 1)), "deactivated", atoi(PQgetvalue(r, 0, 2))));
	else
	{
		char	   *message = ghl_error_message(response);

		log_warn("CALENDAR_SYNC", "calendar sync failed; kept what is stored",
				 json_pack("{s:s, s:i, s:s}", "location", loc->ghl_id, "status", (int) response->status,
						   "error", message));
		free(message);
	}
	PQclear(r);
}

void
calendars_schedule(Daemon *d, const char *ghl_location_id)
{
	const char *params[1] = {ghl_location_id ? ghl_location_id : ""};
	PGresult   *r = db_query(&d->worker,
							 "SELECT ghl_location_id FROM reflexo.connected_locations()"
							 " WHERE $1 = '' OR ghl_location_id = $1", 1, params);

	if (r == NULL)
		return;
	for (int i = 0; i < PQntuples(r); i++)
	{
		Location   *loc = location_for(d, PQgetvalue(r, i, 0));
		char	   *location = url_escape(loc->ghl_id);
		char	   *url;

		if (loc->calendars_queued)
		{
			free(location);
			continue;
		}
		url = xasprintf("%s/calendars/?locationId=%s", d->config->ghl_api_base, location);
		fetch_enqueue(loc, url, "get_calendars", fetched, NULL);
		loc->calendars_queued = true;
		free(url);
		free(location);
	}
	PQclear(r);
}
