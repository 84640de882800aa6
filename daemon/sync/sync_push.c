/*
 * sync_push.c — carrying outbox rows to GHL.
 *
 *   claim      reflexo.claim_outbox, in its own short transaction
 *   queue      per location, until its credentials and bucket allow
 *   send       POST/PUT/DELETE as the job's action says, Version 2021-04-15
 *   classify   2xx done; 401 invalid/expired token: refresh, then resend
 *              (no attempt spent); other 401: permanent; 429: pause the
 *              location, give the row back untried; 5xx, timeouts, no answer:
 *              retry with backoff; 404 on delete: already gone; other 4xx:
 *              permanent, with GHL's message
 *   flush      every result of the turn in one round trip
 *
 * An ambiguous create (timeout, lost answer) may have created the event in
 * GHL.  Every later attempt of a create therefore first lists the events of
 * its calendar around its start and adopts a match (same contact and start)
 * instead of creating a second one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/iso_time.h"
#include "common/alloc.h"
#include "common/log.h"
#include "sync.h"
#include "sync_stats.h"

typedef struct Sent
{
	Daemon	   *d;
	Job		   *job;
	bool		lookup;
} Sent;

static char *
column(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

void
job_free(Job *job)
{
	free(job->operation);
	free(job->action);
	free(job->ghl_location_id);
	free(job->ghl_calendar_id);
	free(job->ghl_appointment_id);
	free(job->contact_id);
	free(job->body);
	free(job->error);
	free(job->result_ghl_id);
	free(job);
}

void
daemon_record_operation(Daemon *d, const char *operation, bool success, double duration_ms, int attempt,
						int rate_remaining, bool rate_limited)
{
	json_t	   *op = json_pack("{s:s, s:b, s:f, s:i}", "operation", operation, "success", success,
							   "duration_ms", duration_ms, "attempt", attempt);

	if (rate_limited)
		json_object_set_new(op, "rate_limited", json_true());
	if (rate_remaining >= 0)
		json_object_set_new(op, "rate_limit_remaining", json_integer(rate_remaining));
	json_array_append_new(d->operations, op);
}

static void
enqueue(Location *loc, Job *job, bool front)
{
	if (front)
	{
		job->next = loc->queue_head;
		loc->queue_head = job;
		if (loc->queue_tail == NULL)
			loc->queue_tail = job;
	}
	else
	{
		job->next = NULL;
		if (loc->queue_tail)
			loc->queue_tail->next = job;
		else
			loc->queue_head = job;
		loc->queue_tail = job;
	}
	loc->queued++;
}

static Job *
dequeue(Location *loc)
{
	Job		   *job = loc->queue_head;

	loc->queue_head = job->next;
	if (loc->queue_head == NULL)
		loc->queue_tail = NULL;
	job->next = NULL;
	loc->queued--;
	return job;
}

/*
 * What each known location may take now: what its bucket holds less what is
 * already queued for it; one probe at a time until GHL's headers are known;
 * nothing while it is paused, out of credentials or out of its daily limit.
 * Sets *limited when a location's bucket, not its backlog, may be what ends
 * the claim short.
 */
static json_t *
location_quotas(Daemon *d, int64_t now, bool *limited)
{
	json_t	   *quotas = json_object();

	*limited = false;
	for (Location *loc = d->locations; loc; loc = loc->next)
	{
		char		key[24];
		int			quota;

		if (loc->id == 0)
			continue;
		if (loc->auth != AUTH_READY || now < loc->paused_until_ms || loc->daily_remaining == 0)
			quota = 0;			/* paused, broken or refreshing: its timers will wake us */
		else if (!loc->limits_known)
			quota = loc->inflight + loc->queued == 0 ? 1 : 0;
		else
		{
			quota = (int) token_bucket_available(&loc->bucket, now) - loc->queued;
			if (quota < d->config->claim_batch)
				*limited = true;
		}
		snprintf(key, sizeof(key), "%lld", (long long) loc->id);
		json_object_set_new(quotas, key, json_integer(quota > 0 ? quota : 0));
	}
	return quotas;
}

void
push_claim(Daemon *d)
{
	Config	   *c = d->config;
	int64_t		now = monotonic_ms();
	int			room = c->max_inflight - d->sending - d->queued;
	char		count[16],
				lease[32];
	const char *params[4] = {count, lease, c->daemon_id};
	json_t	   *quotas;
	bool		limited;
	int			asked;
	PGresult   *r;

	if (d->draining)
		return;
	if (room <= 0 || now < d->next_claim_ms)
	{
		d->sweep = true;		/* later: when answers free room, at most every CLAIM_SPACING_MS */
		return;
	}
	asked = room < c->claim_batch ? room : c->claim_batch;
	snprintf(count, sizeof(count), "%d", asked);
	snprintf(lease, sizeof(lease), "%d seconds", c->lease_seconds);
	quotas = location_quotas(d, now, &limited);
	params[3] = json_dumps(quotas, JSON_COMPACT);
	json_decref(quotas);
	/* a location not seen yet gets one probe: its limits are unknown */
	r = db_query(&d->worker,
				 "SELECT outbox_id, location_id, attempt, appointment_id, operation, action, ghl_location_id,"
				 " ghl_calendar_id, ghl_appointment_id, contact_id,"
				 " (extract(epoch FROM starts_at) * 1000)::int8, (extract(epoch FROM ends_at) * 1000)::int8,"
				 " body::text FROM reflexo.claim_outbox($1::int4, $2::interval, $3, 1, $4::jsonb)", 4, params);
	free((char *) params[3]);
	if (r == NULL)
	{
		d->last_claimed = -1;
		return;
	}
	d->last_claimed = PQntuples(r);
	/*
	 * More may be due: when the batch came back full, or when rate limits cut
	 * it short and tokens come back soon.  Look again, but not at every answer.
	 */
	if (d->last_claimed == asked || limited)
	{
		d->sweep = true;
		d->next_claim_ms = now + (d->last_claimed > 0 ? CLAIM_SPACING_MS : 5 * CLAIM_SPACING_MS);
	}
	for (int i = 0; i < PQntuples(r); i++)
	{
		Job		   *job = xcalloc(1, sizeof(*job));

		job->outbox_id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		job->location_id = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		job->attempt = atoi(PQgetvalue(r, i, 2));
		job->appointment_id = strtoll(PQgetvalue(r, i, 3), NULL, 10);
		job->operation = column(r, i, 4);
		job->action = column(r, i, 5);
		job->ghl_location_id = column(r, i, 6);
		job->ghl_calendar_id = column(r, i, 7);
		job->ghl_appointment_id = column(r, i, 8);
		job->contact_id = column(r, i, 9);
		job->starts_ms = PQgetisnull(r, i, 10) ? 0 : strtoll(PQgetvalue(r, i, 10), NULL, 10);
		job->ends_ms = PQgetisnull(r, i, 11) ? 0 : strtoll(PQgetvalue(r, i, 11), NULL, 10);
		job->body = column(r, i, 12);
		job->claimed_ms = monotonic_ms();
		job->rate_remaining = -1;
		job->location = location_for(d, job->ghl_location_id ? job->ghl_location_id : "");
		enqueue(job->location, job, false);
		d->queued++;
	}
	PQclear(r);
}

/* The name of what a job does, as the Django service's logs and metrics call it. */
static const char *
operation_name(const Job *job, bool lookup)
{
	if (lookup)
		return "find_appointment";
	if (strcmp(job->action, "skip") == 0)
		return "skip";
	if (strcmp(job->operation, "cancel") == 0 && strcmp(job->action, "update") == 0)
		return "cancel_appointment";
	if (strcmp(job->action, "create") == 0)
		return "create_appointment";
	if (strcmp(job->action, "delete") == 0)
		return "delete_appointment";
	return "update_appointment";
}

static const char *
stat_operation(const char *name)
{
	return strcmp(name, "find_appointment") == 0 ? "find"
		: strncmp(name, "create", 6) == 0 ? "create"
		: strncmp(name, "cancel", 6) == 0 ? "cancel"
		: strncmp(name, "delete", 6) == 0 ? "delete"
		: strcmp(name, "skip") == 0 ? "skip" : "update";
}

static void
job_finish(Daemon *d, Job *job, Outcome outcome, const char *error, int64_t retry_after_ms)
{
	static const StatResult results[] = {RESULT_SUCCESS, RESULT_SUCCESS, RESULT_RETRY, RESULT_DEAD, RESULT_RELEASED};
	const char *name = operation_name(job, false);
	bool		success = outcome == OUTCOME_DONE;
	char		remaining[16];
	json_t	   *details;

	job->outcome = outcome;
	job->error = error ? xstrdup(error) : NULL;
	job->retry_after_ms = retry_after_ms;
	job->next = d->finished;
	d->finished = job;
	d->nfinished++;

	stats_push(stat_operation(name), results[outcome], job->duration_ms);
	if (outcome == OUTCOME_RELEASE)
	{
		/* given back untried; a 429 was a call all the same, and metrics_ghl counts it */
		if (job->http_status == 429)
			daemon_record_operation(d, name, false, job->duration_ms, job->attempt, job->rate_remaining, true);
		return;
	}
	if (strcmp(name, "skip") != 0)
		daemon_record_operation(d, name, success, job->duration_ms, job->attempt, job->rate_remaining, false);
	snprintf(remaining, sizeof(remaining), "%d", job->rate_remaining);
	details = json_pack("{s:i, s:I, s:I, s:i}", "attempt", job->attempt, "outbox_id", (json_int_t) job->outbox_id,
						"local_appointment_id", (json_int_t) job->appointment_id, "status", (int) job->http_status);
	if (job->rate_remaining >= 0)
		json_object_set_new(details, "rate_limit_remaining", json_string(remaining));
	if (error)
		json_object_set_new(details, "error", json_string(error));
	if (outcome == OUTCOME_RETRYABLE)
		json_object_set_new(details, "retry", json_true());
	log_json(success ? LOG_INFO : (outcome == OUTCOME_PERMANENT ? LOG_ERROR : LOG_WARN), "GHL_OPERATION", NULL,
			 json_pack("{s:s, s:s, s:b, s:f, s:s?, s:s?, s:o}", "session_id", d->session_id, "operation", name,
					   "success", success, "duration_ms", job->duration_ms,
					   "appointment_id", job->result_ghl_id ? job->result_ghl_id : job->ghl_appointment_id,
					   "calendar_id", job->ghl_calendar_id, "details", details));
}

static void on_answer(GhlResponse *response, void *context);

static void
send_job(Daemon *d, Job *job)
{
	Location   *loc = job->location;
	bool		lookup = strcmp(job->action, "create") == 0 && job->attempt > 1 && !job->looked_up;
	char	   *url = NULL;
	GhlCall		call = {.bearer = loc->access, .version = GHL_VERSION_CALENDARS};
	Sent	   *sent = xmalloc(sizeof(*sent));
	const char *base = d->config->ghl_api_base;

	if (lookup)
	{
		char	   *location = url_escape(job->ghl_location_id);
		char	   *calendar = url_escape(job->ghl_calendar_id ? job->ghl_calendar_id : "");

		/* GHL lists events overlapping the window: a little around the start is enough */
		url = xasprintf("%s/calendars/events?locationId=%s&calendarId=%s&startTime=%lld&endTime=%lld",
					 base, location, calendar, (long long) (job->starts_ms - 60000),
					 (long long) (job->starts_ms + 60000));
		free(location);
		free(calendar);
		call.method = "GET";
	}
	else if (strcmp(job->action, "create") == 0)
	{
		url = xasprintf("%s/calendars/events/appointments", base);
		call.method = "POST";
		call.body = job->body;
		call.not_idempotent = true;
	}
	else
	{
		char	   *id = url_escape(job->ghl_appointment_id ? job->ghl_appointment_id : "");

		if (strcmp(job->action, "delete") == 0)
		{
			url = xasprintf("%s/calendars/events/%s", base, id);
			call.method = "DELETE";
			call.body = "{}";
		}
		else
		{
			url = xasprintf("%s/calendars/events/appointments/%s", base, id);
			call.method = "PUT";
			call.body = job->body;
		}
		free(id);
	}
	if (call.body)
		call.content_type = "application/json";
	call.url = url;
	sent->d = d;
	sent->job = job;
	sent->lookup = lookup;
	job->token_generation = loc->generation;
	if (ghl_client_send(d->ghl, &call, on_answer, sent))
	{
		loc->inflight++;
		d->sending++;
	}
	else
	{
		free(sent);
		job_finish(d, job, OUTCOME_RETRYABLE, "could not start the request", 0);
	}
	free(url);
}

/* Whether the loop should claim as soon as next_claim_ms allows. */
bool
push_wants_claim(const Daemon *d)
{
	return d->sweep && !d->draining && d->sending + d->queued < d->config->max_inflight;
}

/* Sends queued jobs while their location's credentials and bucket allow. */
void
push_dispatch(Daemon *d)
{
	int64_t		now = monotonic_ms();
	int64_t		stale = (int64_t) d->config->lease_seconds * 1000 / 2;

	for (Location *loc = d->locations; loc; loc = loc->next)
	{
		while (loc->queue_head && d->sending < d->config->max_inflight)
		{
			Job		   *job = loc->queue_head;

			if (now - job->claimed_ms > stale || loc->auth == AUTH_BROKEN)
			{
				/* waited half its lease, or nobody can send it: let the outbox hold it */
				dequeue(loc);
				d->queued--;
				loc->held_back |= loc->auth == AUTH_BROKEN;
				job_finish(d, job, OUTCOME_RELEASE, NULL, loc->auth == AUTH_BROKEN ? 60000 : 0);
				continue;
			}
			if (strcmp(job->action, "skip") == 0)
			{
				/* nothing to tell GHL, e.g. a booking cancelled before GHL ever saw it */
				dequeue(loc);
				d->queued--;
				job_finish(d, job, OUTCOME_DONE, NULL, 0);
				continue;
			}
			if (!location_sendable(loc, now) || !token_bucket_take(&loc->bucket, now))
				break;
			dequeue(loc);
			d->queued--;
			send_job(d, job);
		}
		if (loc->queue_head == NULL)
			fetch_dispatch(d, loc);		/* background reads wait for the pushes */
	}
	stats_gauge_inflight(d->sending, d->queued);
}

/* The GHL event among a listing that is this job's create, if any. */
static const char *
matching_event(const Job *job, json_t *events)
{
	size_t		i;
	json_t	   *event;

	json_array_foreach(events, i, event)
	{
		int64_t		start;

		if (iso_time_parse(json_string_value(json_object_get(event, "startTime")), &start, NULL) &&
			start == job->starts_ms &&
			strcmp(json_string_value(json_object_get(event, "contactId")) ?: "", job->contact_id ? job->contact_id : "") == 0 &&
			strcmp(json_string_value(json_object_get(event, "calendarId")) ?: "", job->ghl_calendar_id ? job->ghl_calendar_id : "") == 0)
			return json_string_value(json_object_get(event, "id"));
	}
	return NULL;
}

static void
on_answer(GhlResponse *response, void *context)
{
	Sent	   *sent = context;
	Daemon	   *d = sent->d;
	Job		   *job = sent->job;
	bool		lookup = sent->lookup;
	Location   *loc = job->location;
	long		status = response->status;
	char	   *message;

	free(sent);
	loc->inflight--;
	d->sending--;
	job->duration_ms = response->duration_ms;
	job->rate_remaining = response->rate_remaining;
	job->http_status = status;
	stats_ghl_status(status);
	location_seen_limits(d, loc, response);

	if (status >= 200 && status < 300)
	{
		if (lookup)
		{
			const char *found = matching_event(job, json_object_get(response->json, "events"));

			daemon_record_operation(d, "find_appointment", true, response->duration_ms, job->attempt,
									response->rate_remaining, false);
			if (found)
			{
				/* an earlier attempt did create it: adopt it, never create twice */
				job->result_ghl_id = xstrdup(found);
				job_finish(d, job, OUTCOME_DONE, NULL, 0);
				return;
			}
			job->looked_up = true;
			enqueue(loc, job, true);
			d->queued++;
			return;
		}
		if (strcmp(job->action, "create") == 0)
		{
			const char *id = json_string_value(json_object_get(response->json, "id"));

			if (id == NULL)
			{
				job_finish(d, job, OUTCOME_RETRYABLE, "GHL answered the create without an id", 0);
				return;
			}
			job->result_ghl_id = xstrdup(id);
		}
		job_finish(d, job, OUTCOME_DONE, NULL, 0);
		return;
	}

	message = ghl_error_message(response);
	if (status == 401 && token_rejected(message) && ++job->token_rejections <= 2)
	{
		/* resend after a refresh, without spending an attempt */
		if (job->token_generation == loc->generation)
			location_refresh(d, loc);
		enqueue(loc, job, true);
		d->queued++;
	}
	else if (status == 401 && token_rejected(message))
		job_finish(d, job, OUTCOME_RETRYABLE, "GHL rejects even a fresh token", 0);
	else if (status == 429)
		job_finish(d, job, OUTCOME_RELEASE, NULL, loc->paused_until_ms - monotonic_ms());
	else if (status == 0 || status >= 500 || status == 408)
		job_finish(d, job, OUTCOME_RETRYABLE, message, 0);
	else if (status == 404 && strcmp(job->action, "delete") == 0)
		job_finish(d, job, OUTCOME_DONE, NULL, 0);	/* already gone */
	else
	{
		char	   *error;

		error = xasprintf("GHL %ld: %s", status, message);
		job_finish(d, job, OUTCOME_PERMANENT, error, 0);
		if (status != 401)
			log_error("ALERT", "GHL refused an appointment; the outbox row is dead",
					  json_pack("{s:s, s:I, s:s}", "alert", "outbox_dead", "outbox_id", (json_int_t) job->outbox_id,
								"error", error));
		free(error);
	}
	free(message);
}

/* Gives back the leases of jobs not sent yet (shutdown). */
void
push_release_queued(Daemon *d)
{
	for (Location *loc = d->locations; loc; loc = loc->next)
		while (loc->queue_head)
		{
			Job		   *job = dequeue(loc);

			d->queued--;
			job_finish(d, job, OUTCOME_RELEASE, NULL, 0);
		}
}

/* Whether id is one of the outbox ids in the JSON array ids. */
static bool
listed(const json_t *ids, int64_t id)
{
	size_t		i;
	json_t	   *value;

	json_array_foreach(ids, i, value)
	{
		if (json_integer_value(value) == id)
			return true;
	}
	return false;
}

/*
 * Writes every result of the turn back in one round trip; keeps them all if it
 * cannot, and keeps those whose appointment another transaction holds locked
 * (the database does not wait for it) for the next turn.
 */
bool
push_flush(Daemon *d)
{
	static const char *const outcomes[] = {"", "done", "retryable", "permanent", "release"};
	json_t	   *results,
			   *locked;
	char	   *results_text,
			   *operations_text;
	const char *params[2];
	PGresult   *r;
	Job		  **link;

	if (d->nfinished == 0 && json_array_size(d->operations) == 0)
		return true;
	results = json_array();
	for (Job *job = d->finished; job; job = job->next)
	{
		json_t	   *r = json_pack("{s:I, s:i, s:s}", "outbox_id", (json_int_t) job->outbox_id,
								  "attempt", job->attempt, "outcome", outcomes[job->outcome]);

		if (job->result_ghl_id)
			json_object_set_new(r, "ghl_appointment_id", json_string(job->result_ghl_id));
		if (job->error)
			json_object_set_new(r, "error", json_string(job->error));
		if (job->retry_after_ms > 0)
			json_object_set_new(r, "retry_after_ms", json_integer(job->retry_after_ms));
		json_array_append_new(results, r);
	}
	results_text = json_dumps(results, JSON_COMPACT);
	operations_text = json_dumps(d->operations, JSON_COMPACT);
	json_decref(results);
	params[0] = results_text;
	params[1] = operations_text;
	r = db_query(&d->worker, "SELECT pg_catalog.array_to_json(reflexo.finish_outbox($1::jsonb)),"
				 " reflexo.record_ghl_operations($2::jsonb)", 2, params);
	free(results_text);
	free(operations_text);
	if (r == NULL)
		return false;
	locked = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	json_array_clear(d->operations);
	if (locked == NULL)
		return false;			/* which were recorded is unknown: send them all again (a second result is fenced) */
	for (link = &d->finished; *link;)
	{
		Job		   *job = *link;

		if (listed(locked, job->outbox_id))
		{
			if (!job->waited_for_lock)
				log_info("SYNC", "another transaction holds the appointment: its result waits",
						 json_pack("{s:I, s:I}", "outbox_id", (json_int_t) job->outbox_id,
								   "appointment_id", (json_int_t) job->appointment_id));
			job->waited_for_lock = true;
			link = &job->next;
			continue;
		}
		*link = job->next;
		d->nfinished--;
		job_free(job);
	}
	json_decref(locked);
	return true;
}
