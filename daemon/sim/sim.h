/*
 * sim.h — ghl-sim, a local GoHighLevel: the types its modules share.
 *
 * sim_http.c turns an HTTP exchange (libmicrohttpd) into a SimRequest,
 * applies injected faults and rate limits, and asks sim_route() for a
 * SimResponse.  Everything behind sim_route() is plain code over the store,
 * which is what the fuzzer drives.  One mutex (store.lock) serializes all
 * access to the store; nothing blocks while holding it.
 */
#ifndef REFLEXO_SIM_H
#define REFLEXO_SIM_H

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/http_server.h"
#include "common/token_bucket.h"

#define SIM_MAX_LOCATIONS 64

typedef struct SimRequest
{
	const char *method;
	const char *path;			/* without the query string */
	HttpParams	query;
	HttpParams	form;			/* application/x-www-form-urlencoded body */
	const char *authorization;	/* headers, or NULL */
	const char *version;
	const char *content_type;
	const char *ghl_signature;
	const char *wh_signature;
	const char *body;
	size_t		body_len;
} SimRequest;

typedef struct SimResponse
{
	int			status;
	char	   *body;			/* malloc'd */
	const char *content_type;
	char	   *redirect;		/* malloc'd Location header for 302 */
	bool		rate_headers;	/* send X-RateLimit-* for rate_location */
	int			rate_location;
	bool		lose_response;	/* the change happened; drop the connection */
} SimResponse;

/* A GHL location (sub-account) and its per-location counters. */
typedef struct SimLocation
{
	char	   *id;
	char	   *name;
	char	   *timezone;
	json_t	   *calendars;		/* object: calendar id -> CalendarDTO */
	TokenBucket bucket;
	int64_t		day;			/* UTC day of daily_used */
	int64_t		daily_used;
	int64_t		requests;
	int64_t		rate_limited;
	bool		inactive;		/* SaaS paused: token refresh answers "Location is not active" */
} SimLocation;

typedef struct SimConfig
{
	char	   *client_id;
	char	   *client_secret;
	int			token_ttl_s;
	int			rate_max;		/* requests per rate_interval_ms per location */
	int			rate_interval_ms;
	int			daily_limit;
	size_t		max_body;
	char	   *webhook_url;
	bool		webhooks_for_api;	/* API changes also fire webhooks, as in GHL */
} SimConfig;

typedef struct SimStore
{
	pthread_mutex_t lock;
	SimConfig	config;
	json_t	   *seed;			/* what /_sim/reset restores */
	int			nlocations;
	SimLocation locations[SIM_MAX_LOCATIONS];
	json_t	   *appointments;	/* object: id -> CalendarEventDTO */
	json_t	   *deleted;		/* object: id -> last known event */
	json_t	   *tokens;			/* access token -> {location, scope, expires_at_ms, kind} */
	json_t	   *refresh_tokens; /* refresh token -> {location, scope} */
	json_t	   *codes;			/* authorization code -> {location, scope} */
	json_t	   *inbox;			/* webhooks received at /_sim/inbox */
	int			inbox_fail_next;
	int			inbox_fail_status;
	int64_t		unauthorized;
	int64_t		refresh_grants; /* successful /oauth/token refresh_token grants */
	int64_t		code_grants;	/* successful authorization_code grants */
} SimStore;

extern SimStore store;

/* sim_store.c */
extern bool store_load(json_t *seed, char *error, size_t error_size);
extern void store_reset(void);
extern SimLocation *store_location(const char *id);
extern int	store_location_index(const SimLocation *location);
extern json_t *store_find_calendar(const char *calendar_id, SimLocation **location);
/* A calendar's duration field (slotDuration, slotInterval) in minutes, its unit field saying mins or hours. */
extern int64_t calendar_minutes(json_t *calendar, const char *amount, const char *unit, int fallback);
/* preBuffer + slotBuffer in milliseconds: how far apart two of its appointments must be */
extern int64_t calendar_buffers_ms(json_t *calendar);
extern char *store_new_id(void);
extern json_t *store_issue_token(SimLocation *location, const char *scope, int ttl_s, const char *kind,
								 bool with_refresh);
extern json_t *store_state(void);
extern json_t *default_seed(const char *location_id);

/* sim_route.c */
extern void sim_route(const SimRequest *request, SimResponse *response);

/* sim_response.c */
extern void respond_json(SimResponse *response, int status, json_t *body);
extern void respond_error(SimResponse *response, int status, const char *message);
extern void respond_errors(SimResponse *response, int status, json_t *messages);
extern void sim_response_free(SimResponse *response);
extern void respond_no_route(SimResponse *response, const SimRequest *request);

/* sim_auth.c */
extern SimLocation *sim_authorize(const SimRequest *request, SimResponse *response, const char *scope);

/* sim_api.c: the GHL endpoints under /calendars */
extern void api_calendars(const SimRequest *request, SimResponse *response, char **segments, int nsegments);

/* sim_free_slots.c */
extern json_t *free_slots(json_t *calendar, int64_t from_ms, int64_t to_ms, const char *timezone,
						  const char *user_id);

/* sim_oauth.c */
extern void oauth_token(const SimRequest *request, SimResponse *response);
extern void oauth_choose_location(const SimRequest *request, SimResponse *response);

/* sim_control.c: /_sim/ */
extern void control_route(const SimRequest *request, SimResponse *response, char **segments, int nsegments);

/* sim_day_index.c: appointments by calendar or user and day */
extern void day_index_reset(void);
extern void day_index_add(json_t *event);
extern void day_index_remove(json_t *event);
/* ids ({id: true}) that may overlap [start, end), or NULL when the window is too wide: scan them all */
extern json_t *day_index_candidates(const char *field, const char *value, int64_t start, int64_t end);

/* sim_appointments.c: changes shared by the API and by GHL-side control calls */
extern json_t *appointment_create(SimLocation *location, json_t *calendar, json_t *input, const char *source,
								  SimResponse *response);
extern json_t *appointment_update(json_t *event, json_t *input, SimResponse *response);
extern json_t *appointment_delete(const char *id);
extern json_t *appointment_public(json_t *event, bool with_dates);
extern int	appointments_overlapping(const char *field, const char *value, int64_t start, int64_t end,
									 const char *skip);

/* sim_webhooks.c */
extern bool webhooks_start(const char *keys_dir);
extern void webhooks_stop(void);
extern void webhooks_emit(const char *type, const char *location_id, json_t *event);
extern json_t *webhooks_config(void);
extern bool webhooks_configure(json_t *settings, char *error, size_t error_size);
extern json_t *webhooks_state(void);
extern void webhooks_release(bool reverse);
extern void webhooks_reset(void);
extern const char *webhooks_public_key_path(bool rsa);

/* sim_faults.c */
typedef enum FaultAction
{
	FAULT_NONE,
	FAULT_ERROR,				/* answer fault.error_status */
	FAULT_RATE_LIMIT,			/* answer 429 */
	FAULT_OUTAGE,				/* answer 503 */
	FAULT_HANG,					/* accept, never answer, then close */
	FAULT_DROP,					/* close without answering */
	FAULT_LOSE_RESPONSE			/* do the change, then close without answering */
} FaultAction;

typedef struct FaultDecision
{
	FaultAction action;
	int			status;
	int			latency_ms;
	int			hang_ms;
} FaultDecision;

extern void faults_decide(const SimRequest *request, FaultDecision *decision);
extern json_t *faults_get(void);
extern bool faults_set(json_t *settings, char *error, size_t error_size);
extern void faults_reset(void);

/* sim_http.c: listings of events answered at once ({"now", "most_at_once"}) */
extern json_t *listings_state(void);
extern void listings_reset(void);
extern double sim_random(void);
extern void sim_random_seed(uint64_t seed);

#endif							/* REFLEXO_SIM_H */
