/*
 * sync_locations.c — per GHL location: its credentials and its rate limits.
 *
 * Credentials live in reflexo.ghl_tokens, encrypted (token_crypto.c); the
 * environment's GHL_ACCESS_TOKEN/GHL_REFRESH_TOKEN only seed an empty row.
 *
 * Refreshing is single-flight per location across every daemon: a session
 * advisory lock (not a transaction: nothing stays open while GHL answers),
 * then a re-read, since another daemon may have refreshed just before.  GHL
 * refresh tokens are single-use, so the new pair is committed before the new
 * access token is used; a refresh is only tried for an expired or invalid
 * token, never for scope or version errors.  Private Integration Tokens are
 * never refreshed: a rejection is an alert for the operator.
 *
 * Rate limits: a token bucket per location (100 per 10 s until GHL's
 * X-RateLimit-* headers say otherwise), lowered to what GHL reports left,
 * and a pause after a 429 for as long as GHL asks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"
#include "common/alloc.h"
#include "common/log.h"
#include "sync.h"
#include "sync_credentials.h"
#include "sync_stats.h"

/* the refresh lock is pg_advisory_lock(21062, location id); 21062 is "RF" */
#define REFRESH_LOCK "21062"
#define REFRESH_SKEW_MS (5 * 60 * 1000)

static void
record_operation(Daemon *d, const char *operation, bool success, double duration_ms)
{
	stats_refresh(success);
	daemon_record_operation(d, operation, success, duration_ms, 1, -1, false);
	log_json(success ? LOG_INFO : LOG_ERROR, "GHL_OPERATION", NULL,
			 json_pack("{s:s, s:s, s:b, s:f}", "session_id", d->session_id, "operation", operation,
					   "success", success, "duration_ms", duration_ms));
}

static char *
decrypt_field(Daemon *d, PGresult *r, int column, const char *ghl_id, const char *field, bool *failed)
{
	char	   *plain;

	if (PQgetisnull(r, 0, column))
		return NULL;
	plain = credentials_decrypt(d->config->token_key, PQgetvalue(r, 0, column), ghl_id, field);
	if (plain == NULL)
		*failed = true;
	return plain;
}

static void
broken(Location *loc, const char *reason)
{
	if (loc->auth == AUTH_BROKEN && loc->broken_reason && strcmp(loc->broken_reason, reason) == 0)
		return;
	free(loc->broken_reason);
	loc->broken_reason = xstrdup(reason);
	loc->auth = AUTH_BROKEN;
	loc->auth_retry_ms = monotonic_ms() + 60000;	/* look again in a minute: an operator may have fixed it */
	stats_auth_alert();
	log_error("ALERT", reason, json_pack("{s:s, s:s}", "alert", "ghl_credentials", "location", loc->ghl_id));
}

static void
set_tokens(Location *loc, const char *kind, char *access, char *refresh, int64_t expires_at_ms)
{
	bool		changed = loc->access == NULL || access == NULL || strcmp(loc->access, access) != 0;

	snprintf(loc->kind, sizeof(loc->kind), "%s", kind);
	free(loc->access);
	free(loc->refresh);
	loc->access = access;
	loc->refresh = refresh;
	loc->expires_at_ms = expires_at_ms;
	if (changed)
		loc->generation++;
	loc->auth = AUTH_READY;
}

/*
 * The Django service took a new token from .env; here the database is the
 * truth once a token is stored.  A Private Integration Token in the
 * environment that is not the stored one is therefore not used: say so,
 * once, and how to store it.  (OAuth tokens rotate: the environment's first
 * pair is always older than what is stored, and says nothing.)
 */
static void
warn_if_env_token_ignored(Daemon *d, Location *loc, const char *stored)
{
	const Config *c = d->config;

	if (loc->env_token_checked || strcmp(loc->ghl_id, c->ghl_location_id) != 0)
		return;
	loc->env_token_checked = true;
	if (*c->ghl_access_token && *c->ghl_refresh_token == '\0' && strcmp(c->ghl_access_token, stored) != 0)
		log_warn("ALERT", "GHL_ACCESS_TOKEN differs from the token stored for the location and is not used: "
				 "to replace the stored one, run reflexo-sync --store-token with it",
				 json_pack("{s:s, s:s}", "alert", "ghl_token_ignored", "location", loc->ghl_id));
}

/* Reads the location's credentials; false if the database could not answer. */
static bool
load_credentials(Daemon *d, Location *loc)
{
	const char *params[1] = {loc->ghl_id};
	PGresult   *r = db_query(&d->worker,
							 "SELECT location_id, kind, access_token, refresh_token,"
							 " (extract(epoch FROM expires_at) * 1000)::int8"
							 " FROM reflexo.ghl_credentials($1)", 1, params);
	bool		failed = false;
	char	   *access,
			   *refresh;

	if (r == NULL)
		return false;
	if (PQntuples(r) == 0)
	{
		PQclear(r);
		broken(loc, "the location is not in reflexo.locations");
		return true;
	}
	loc->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	if (PQgetisnull(r, 0, 1))
	{
		PQclear(r);
		broken(loc, "no GHL credentials for the location: connect it through /oauth/callback, "
			   "or set GHL_ACCESS_TOKEN and GHL_LOCATION_ID");
		return true;
	}
	access = decrypt_field(d, r, 2, loc->ghl_id, "access", &failed);
	refresh = decrypt_field(d, r, 3, loc->ghl_id, "refresh", &failed);
	if (failed || access == NULL)
	{
		free(access);
		free(refresh);
		PQclear(r);
		broken(loc, "cannot decrypt the location's GHL credentials: was REFLEXO_TOKEN_KEY changed?");
		return true;
	}
	warn_if_env_token_ignored(d, loc, access);
	set_tokens(loc, PQgetvalue(r, 0, 1), access, refresh,
			   PQgetisnull(r, 0, 4) ? 0 : strtoll(PQgetvalue(r, 0, 4), NULL, 10));
	PQclear(r);
	return true;
}

Location *
location_for(Daemon *d, const char *ghl_id)
{
	Location   *loc;

	for (loc = d->locations; loc; loc = loc->next)
		if (strcmp(loc->ghl_id, ghl_id) == 0)
			return loc;
	loc = xcalloc(1, sizeof(*loc));
	loc->ghl_id = xstrdup(ghl_id);
	loc->daily_remaining = -1;
	token_bucket_init(&loc->bucket, d->config->rate_limit, d->config->rate_interval_ms, monotonic_ms());
	loc->next = d->locations;
	d->locations = loc;
	if (!load_credentials(d, loc))
	{
		loc->auth = AUTH_WAITING;
		loc->auth_retry_ms = monotonic_ms() + 1000;
	}
	return loc;
}

/*
 * Stores GHL_ACCESS_TOKEN/GHL_REFRESH_TOKEN for GHL_LOCATION_ID: at start only
 * if nothing is stored yet; with replace (--store-token), always.  False if
 * the database could not take them.
 */
bool
location_bootstrap(Daemon *d, bool replace)
{
	Config	   *c = d->config;
	const char *params[1] = {c->ghl_location_id};
	PGresult   *r;
	bool		ok = true;

	if (*c->ghl_location_id == '\0' || *c->ghl_access_token == '\0')
		return !replace;
	r = db_query(&d->worker, "SELECT reflexo.ensure_location($1), "
				 "EXISTS (SELECT 1 FROM reflexo.ghl_credentials($1) WHERE kind IS NOT NULL)", 1, params);
	if (r == NULL)
		return false;
	if (replace || strcmp(PQgetvalue(r, 0, 1), "f") == 0)
	{
		bool		pit = *c->ghl_refresh_token == '\0';

		ok = credentials_save(&d->worker, c->token_key, c->ghl_location_id, pit ? "private" : "oauth",
							  c->ghl_access_token, pit ? NULL : c->ghl_refresh_token, 0, NULL, false);
		if (ok)
			log_info("AUTH", "stored the configured GHL credentials, encrypted",
					 json_pack("{s:s, s:s}", "location", c->ghl_location_id, "kind", pit ? "private" : "oauth"));
	}
	PQclear(r);
	return ok;
}

/* a secret's bytes are wiped before they are freed */
static void
free_secret(char *secret)
{
	if (secret)
		memset(secret, 0, strlen(secret));
	free(secret);
}

static void
forget_unsaved(Location *loc)
{
	free_secret(loc->unsaved.access);
	free_secret(loc->unsaved.refresh);
	free(loc->unsaved.scope);
	memset(&loc->unsaved, 0, sizeof(loc->unsaved));
}

static void
unlock_refresh(Daemon *d, Location *loc)
{
	char		key[24];
	const char *params[1] = {key};

	if (!loc->holds_lock)
		return;
	snprintf(key, sizeof(key), "%lld", (long long) loc->id);
	db_command(&d->worker, "SELECT pg_advisory_unlock(" REFRESH_LOCK ", $1::int4)", 1, params);
	loc->holds_lock = false;
}

typedef struct Refresh
{
	Daemon	   *d;
	Location   *loc;
} Refresh;

static void
refreshed(GhlResponse *response, void *context)
{
	Refresh    *rc = context;
	Daemon	   *d = rc->d;
	Location   *loc = rc->loc;
	json_t	   *json = response->json;
	OAuthGrant	grant;

	free(rc);
	d->sending--;
	stats_ghl_status(response->status);
	if (response->status == 200 && oauth_grant_read(json, &grant))
	{
		/*
		 * The old refresh token is spent: nothing may use the new pair before
		 * it is stored, and it must not be dropped if storing fails.  Then it
		 * is kept here, the refresh lock stays ours, and storing is tried
		 * again (location_tick) until the database takes it.
		 */
		if (!oauth_grant_save(&d->worker, d->config->token_key, loc->ghl_id, &grant, true))
		{
			forget_unsaved(loc);
			loc->unsaved.access = xstrdup(grant.access);
			loc->unsaved.refresh = xstrdup(grant.refresh);
			loc->unsaved.scope = grant.scope ? xstrdup(grant.scope) : NULL;
			loc->unsaved.expires_at_ms = grant.expires_at_ms;
			loc->auth = AUTH_SAVING;
			loc->auth_retry_ms = monotonic_ms() + 1000;
			record_operation(d, "refresh_token", true, response->duration_ms);
			log_warn("ALERT", "GHL refreshed the token but it could not be stored yet; retrying",
					 json_pack("{s:s, s:s}", "alert", "token_save_pending", "location", loc->ghl_id));
			return;
		}
		unlock_refresh(d, loc);
		set_tokens(loc, "oauth", xstrdup(grant.access), xstrdup(grant.refresh), grant.expires_at_ms);
		record_operation(d, "refresh_token", true, response->duration_ms);
		log_info("ALERT", "GHL token refreshed",
				 json_pack("{s:s, s:s, s:I}", "alert", "token_refreshed", "location", loc->ghl_id,
						   "expires_in", (json_int_t) grant.expires_in));
		return;
	}

	unlock_refresh(d, loc);
	record_operation(d, "refresh_token", false, response->duration_ms);
	{
		char	   *message = ghl_error_message(response);

		if (response->status == 400 && strstr(message, "Location is not active"))
		{
			/* recoverable: the same refresh token works once the location is active again */
			log_error("ALERT", "GHL token refresh failed: the location is not active",
					  json_pack("{s:s, s:s}", "alert", "token_refresh_failed", "location", loc->ghl_id));
			loc->auth = AUTH_WAITING;
			loc->auth_retry_ms = monotonic_ms() + 5 * 60000;
		}
		else if (response->status >= 400 && response->status < 500 && response->status != 429)
		{
			char	   *reason;

			reason = xasprintf("GHL refused to refresh the token (%s): re-authorize the location", message);
			broken(loc, reason);
			free(reason);
		}
		else
		{
			log_warn("ALERT", "GHL token refresh failed; retrying",
					 json_pack("{s:s, s:s, s:s}", "alert", "token_refresh_failed", "location", loc->ghl_id,
							   "error", message));
			loc->auth = AUTH_WAITING;
			loc->auth_retry_ms = monotonic_ms() + 10000;
		}
		free(message);
	}
}

/* Starts a refresh of an expired or rejected access token, once per location. */
void
location_refresh(Daemon *d, Location *loc)
{
	char		key[24];
	const char *params[1] = {key};
	PGresult   *r;
	char	   *previous;
	char	   *body;
	char	   *url;
	GhlCall		call = {.method = "POST", .content_type = "application/x-www-form-urlencoded", .not_idempotent = true};
	Refresh    *rc;

	if (loc->auth == AUTH_REFRESHING || loc->auth == AUTH_BROKEN || loc->auth == AUTH_SAVING)
		return;
	if (strcmp(loc->kind, "oauth") != 0 || loc->refresh == NULL)
	{
		broken(loc, "GHL rejected the Private Integration Token: rotate it in GHL and store the new one");
		return;
	}
	if (*d->config->ghl_client_id == '\0')
	{
		broken(loc, "the GHL token expired and GHL_CLIENT_ID/GHL_CLIENT_SECRET are not set to refresh it");
		return;
	}
	snprintf(key, sizeof(key), "%lld", (long long) loc->id);
	r = db_query(&d->worker, "SELECT pg_try_advisory_lock(" REFRESH_LOCK ", $1::int4)", 1, params);
	if (r == NULL || strcmp(PQgetvalue(r, 0, 0), "t") != 0)
	{
		/* another daemon is refreshing: read its result in a moment */
		PQclear(r);
		loc->auth = AUTH_WAITING;
		loc->auth_retry_ms = monotonic_ms() + 500;
		return;
	}
	PQclear(r);
	loc->holds_lock = true;

	previous = xstrdup(loc->access ? loc->access : "");
	if (!load_credentials(d, loc) || loc->auth == AUTH_BROKEN || strcmp(previous, loc->access) != 0)
	{
		/* someone refreshed before we got the lock (or we cannot tell): use what is stored */
		free(previous);
		unlock_refresh(d, loc);
		if (loc->auth != AUTH_BROKEN && loc->access)
			loc->auth = AUTH_READY;
		return;
	}
	free(previous);

	body = oauth_form(d->config, "refresh_token", loc->refresh, NULL);
	url = xasprintf("%s/oauth/token", d->config->ghl_api_base);
	call.url = url;
	call.body = body;
	rc = xmalloc(sizeof(*rc));
	rc->d = d;
	rc->loc = loc;
	if (ghl_client_send(d->ghl, &call, refreshed, rc))
	{
		loc->auth = AUTH_REFRESHING;
		d->sending++;
	}
	else
	{
		free(rc);
		unlock_refresh(d, loc);
		loc->auth = AUTH_WAITING;
		loc->auth_retry_ms = monotonic_ms() + 1000;
	}
	memset(body, 0, strlen(body));
	free(body);
	free(url);
}

/* The location works again: the rows it gave back need not wait out their pause. */
static void
wake_held_back(Daemon *d, Location *loc)
{
	char		id[24];
	const char *params[1] = {id};

	snprintf(id, sizeof(id), "%lld", (long long) loc->id);
	if (db_command(&d->worker, "SELECT reflexo.wake_outbox($1)", 1, params))
		loc->held_back = false;
}

/*
 * Someone stored new credentials (another daemon's refresh, --store-token, an
 * OAuth install): read them at the next tick, unless our own refresh is busy.
 */
void
location_credentials_changed(Daemon *d, const char *ghl_id)
{
	for (Location *loc = d->locations; loc; loc = loc->next)
		if (strcmp(loc->ghl_id, ghl_id) == 0 && loc->auth != AUTH_REFRESHING && loc->auth != AUTH_SAVING)
		{
			loc->auth = AUTH_WAITING;
			loc->auth_retry_ms = 0;
		}
}

/* Stores a refreshed pair the database could not take before; backs off up to 10 s. */
static void
save_unsaved(Daemon *d, Location *loc)
{
	OAuthGrant	grant = {.access = loc->unsaved.access, .refresh = loc->unsaved.refresh,
	.scope = loc->unsaved.scope, .expires_at_ms = loc->unsaved.expires_at_ms};

	if (!oauth_grant_save(&d->worker, d->config->token_key, loc->ghl_id, &grant, true))
	{
		int64_t		wait = 1000LL << (loc->unsaved.attempts < 5 ? loc->unsaved.attempts : 5);

		loc->unsaved.attempts++;
		loc->auth_retry_ms = monotonic_ms() + (wait < 10000 ? wait : 10000);
		return;
	}
	unlock_refresh(d, loc);
	set_tokens(loc, "oauth", loc->unsaved.access, loc->unsaved.refresh, loc->unsaved.expires_at_ms);
	loc->unsaved.access = loc->unsaved.refresh = NULL;	/* set_tokens owns them now */
	forget_unsaved(loc);
	log_info("ALERT", "GHL token refreshed (stored after retrying)",
			 json_pack("{s:s, s:s}", "alert", "token_refreshed", "location", loc->ghl_id));
}

/* Timers: retries of waiting locations, and refreshes before expiry. */
void
location_tick(Daemon *d)
{
	int64_t		mono = monotonic_ms();
	int64_t		wall = now_ms();

	for (Location *loc = d->locations; loc; loc = loc->next)
	{
		if (loc->auth == AUTH_SAVING)
		{
			if (mono >= loc->auth_retry_ms)
				save_unsaved(d, loc);
			continue;
		}
		if ((loc->auth == AUTH_WAITING || loc->auth == AUTH_BROKEN) && mono >= loc->auth_retry_ms)
		{
			unsigned	generation = loc->generation;

			if (!load_credentials(d, loc))
				loc->auth_retry_ms = mono + 1000;
			else if (loc->auth == AUTH_READY && loc->held_back)
				wake_held_back(d, loc);
			else if (loc->auth == AUTH_READY && loc->generation == generation && loc->kind[0] == 'o' &&
					 loc->expires_at_ms && loc->expires_at_ms <= wall)
				location_refresh(d, loc);
		}
		if (loc->auth == AUTH_READY && strcmp(loc->kind, "oauth") == 0 && loc->expires_at_ms &&
			loc->expires_at_ms - wall < REFRESH_SKEW_MS)
			location_refresh(d, loc);
	}
}

bool
location_sendable(Location *loc, int64_t now)
{
	return loc->auth == AUTH_READY && now >= loc->paused_until_ms && loc->daily_remaining != 0 &&
		(loc->limits_known || loc->inflight == 0);
}

/* Follows GHL's X-RateLimit-* headers and 429s. */
void
location_seen_limits(Daemon *d, Location *loc, const GhlResponse *response)
{
	int64_t		now = monotonic_ms();

	if (response->rate_max > 0 && response->rate_interval_ms > 0 &&
		(response->rate_max != (int) loc->bucket.capacity ||
		 response->rate_interval_ms != (int) loc->bucket.interval_ms))
	{
		double		available = token_bucket_available(&loc->bucket, now);

		token_bucket_init(&loc->bucket, response->rate_max, response->rate_interval_ms, now);
		token_bucket_set(&loc->bucket, available, now);
	}
	if (response->rate_remaining >= 0)
	{
		/* what GHL has left, less our requests it has not counted yet */
		if (!loc->limits_known)
			d->sweep = true;	/* its probe is back: claim its share now, not at the next poll */
		loc->limits_known = true;
		token_bucket_set(&loc->bucket, response->rate_remaining - loc->inflight, now);
		if (response->rate_remaining < 10 && !loc->low_alerted)
		{
			loc->low_alerted = true;
			stats_rate_low();
			log_warn("ALERT", "fewer than 10 GHL requests left in the rate-limit window",
					 json_pack("{s:s, s:s, s:i}", "alert", "rate_limit_low", "location", loc->ghl_id,
							   "rate_limit_remaining", response->rate_remaining));
		}
		else if (response->rate_remaining >= 20)
			loc->low_alerted = false;
	}
	if (response->daily_remaining >= 0)
		loc->daily_remaining = response->daily_remaining;
	if (response->status == 429)
	{
		int64_t		wait = response->retry_after_ms >= 0 ? response->retry_after_ms : (int64_t) loc->bucket.interval_ms;

		/* jitter, so that several daemons do not come back at the same instant */
		wait += wait * (random() % 250) / 1000;
		loc->paused_until_ms = now + wait;
		token_bucket_set(&loc->bucket, 0, now);
		if (loc->daily_remaining == 0)
			loc->paused_until_ms = now + 3600000;
		stats_rate_limited();
		log_warn("RATE_LIMIT", "GHL answered 429: pausing the location",
				 json_pack("{s:s, s:s, s:I}", "session_id", d->session_id, "location", loc->ghl_id,
						   "pause_ms", (json_int_t) wait));
	}
}

/* Frees every location; their fetch queues must be empty (fetches_free). */
void
locations_free(Daemon *d)
{
	while (d->locations)
	{
		Location   *loc = d->locations;

		d->locations = loc->next;
		if (loc->access)
			memset(loc->access, 0, strlen(loc->access));
		if (loc->refresh)
			memset(loc->refresh, 0, strlen(loc->refresh));
		free(loc->access);
		free(loc->refresh);
		if (loc->unsaved.refresh)
			log_error("ALERT", "stopping with a refreshed GHL token pair never stored: re-authorize the location",
					  json_pack("{s:s, s:s}", "alert", "ghl_credentials", "location", loc->ghl_id));
		forget_unsaved(loc);
		free(loc->ghl_id);
		free(loc->broken_reason);
		free(loc);
	}
}
