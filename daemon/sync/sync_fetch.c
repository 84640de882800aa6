/*
 * sync_fetch.c — background GETs per location.  They share the location's
 * credentials and token bucket with the pushes but never go ahead of them:
 * a location sends a fetch only when it has no push waiting.  An expired
 * token is refreshed and the fetch sent again; a 429 pauses the location
 * (location_seen_limits) and the fetch waits; any other answer goes to the
 * fetch's done callback.
 */
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"
#include "common/alloc.h"
#include "common/log.h"
#include "sync.h"
#include "sync_stats.h"

/*
 * A background read brings a whole listing into memory (a calendar's events
 * over the reconcile window), kept until it is compared: this many at once,
 * sent or waiting for their comparison, however many calendars reconcile
 * together, keeps the daemon's memory flat.
 */
#define FETCHES_AT_ONCE 8

typedef struct Sent
{
	Daemon	   *d;
	Location   *loc;
	Fetch	   *fetch;
	unsigned	generation;
} Sent;

static void
push_front(Location *loc, Fetch *fetch)
{
	fetch->next = loc->fetch_head;
	loc->fetch_head = fetch;
	if (loc->fetch_tail == NULL)
		loc->fetch_tail = fetch;
}

void
fetch_enqueue(Location *loc, const char *url, const char *operation, FetchDone done, void *arg)
{
	Fetch	   *fetch = xcalloc(1, sizeof(*fetch));

	fetch->url = xstrdup(url);
	fetch->operation = operation;
	fetch->done = done;
	fetch->arg = arg;
	if (loc->fetch_tail)
		loc->fetch_tail->next = fetch;
	else
		loc->fetch_head = fetch;
	loc->fetch_tail = fetch;
}

static void
fetch_free(Fetch *fetch)
{
	free(fetch->url);
	free(fetch->arg);
	free(fetch);
}

static void
fetch_free_all(Location *loc)
{
	while (loc->fetch_head)
	{
		Fetch	   *fetch = loc->fetch_head;

		loc->fetch_head = fetch->next;
		fetch_free(fetch);
	}
	loc->fetch_tail = NULL;
}

/* Drops every queued fetch of every location (at exit). */
void
fetches_free(Daemon *d)
{
	for (Location *loc = d->locations; loc; loc = loc->next)
		fetch_free_all(loc);
}

static void
answered(GhlResponse *response, void *context)
{
	Sent	   *sent = context;
	Daemon	   *d = sent->d;
	Location   *loc = sent->loc;
	Fetch	   *fetch = sent->fetch;
	char	   *message = NULL;

	loc->inflight--;
	d->sending--;
	d->fetching--;
	stats_ghl_status(response->status);
	location_seen_limits(d, loc, response);
	daemon_record_operation(d, fetch->operation, response->status == 200, response->duration_ms, 1,
							response->rate_remaining, response->status == 429);
	log_json(response->status == 200 ? LOG_DEBUG : LOG_WARN, "GHL_OPERATION", NULL,
			 json_pack("{s:s, s:s, s:b, s:f, s:{s:s, s:i}}", "session_id", d->session_id, "operation",
					   fetch->operation, "success", response->status == 200, "duration_ms", response->duration_ms,
					   "details", "location", loc->ghl_id, "status", (int) response->status));
	if (response->status == 401 && token_rejected(message = ghl_error_message(response)) &&
		++fetch->token_rejections <= 2)
	{
		if (sent->generation == loc->generation)
			location_refresh(d, loc);
		push_front(loc, fetch);
	}
	else if (response->status == 429)
		push_front(loc, fetch);
	else
	{
		fetch->done(d, loc, response, fetch->arg);
		fetch_free(fetch);
	}
	free(message);
	free(sent);
}

void
fetch_dispatch(Daemon *d, Location *loc)
{
	int64_t		now = monotonic_ms();

	while (loc->fetch_head && d->sending < d->config->max_inflight &&
		   d->fetching + d->comparisons < FETCHES_AT_ONCE && location_sendable(loc, now) &&
		   token_bucket_take(&loc->bucket, now))
	{
		Fetch	   *fetch = loc->fetch_head;
		Sent	   *sent = xmalloc(sizeof(*sent));
		GhlCall		call = {.method = "GET", .url = fetch->url, .bearer = loc->access,
			.version = GHL_VERSION_CALENDARS};

		loc->fetch_head = fetch->next;
		if (loc->fetch_head == NULL)
			loc->fetch_tail = NULL;
		fetch->next = NULL;
		*sent = (Sent) {.d = d, .loc = loc, .fetch = fetch, .generation = loc->generation};
		if (!ghl_client_send(d->ghl, &call, answered, sent))
		{
			free(sent);
			push_front(loc, fetch);
			return;
		}
		loc->inflight++;
		d->sending++;
		d->fetching++;
	}
}
