/*
 * api_session.c — POST /api/architect/login/ {username, password} →
 * {access, refresh}, as djangorestframework-simplejwt answers it, and
 * POST /api/architect/refresh/ {refresh} → a new pair, over api.login and
 * api.refresh.
 *
 * A login costs a PBKDF2 hash (~0.3 s of one core at 600,000 iterations),
 * known user or not.  The login gate bounds them twice: a client address
 * may try logins_per_minute, and at most logins_at_once are hashed at the
 * same time; as many more wait, up to 2 s, and the rest get 429 with
 * Retry-After at once.  So floods of logins cannot take the database's CPU
 * from the bookings, nor the places of requests running at once (a
 * waiting login holds one: api_server.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "common/iso_time.h"
#include "common/token_bucket.h"

#define CLIENTS 512

typedef struct Client
{
	char		address[64];
	TokenBucket bucket;
	int64_t		used_ms;
} Client;

static struct
{
	pthread_mutex_t lock;
	pthread_cond_t freed;
	int			busy;
	int			waiting;
	int			at_once;
	int			per_minute;
	Client		clients[CLIENTS];
}			gate = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER, .at_once = 2, .per_minute = 20};

void
api_login_gate_init(int at_once, int per_minute)
{
	pthread_mutex_lock(&gate.lock);
	gate.at_once = at_once;
	gate.per_minute = per_minute;
	pthread_mutex_unlock(&gate.lock);
}

/* The client's bucket; the least recently used one is taken over when all are in use. */
static Client *
client_of(const char *address, int64_t now)
{
	Client	   *oldest = &gate.clients[0];

	for (int i = 0; i < CLIENTS; i++)
	{
		Client	   *c = &gate.clients[i];

		if (strcmp(c->address, address) == 0)
			return c;
		if (c->used_ms < oldest->used_ms)
			oldest = c;
	}
	snprintf(oldest->address, sizeof(oldest->address), "%s", address);
	token_bucket_init(&oldest->bucket, gate.per_minute, 60000, now);
	return oldest;
}

bool
api_login_admit(const char *client, int *retry_after)
{
	int64_t		now = monotonic_ms();
	struct timespec deadline;
	Client	   *c;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	pthread_mutex_lock(&gate.lock);
	c = client_of(client, now);
	c->used_ms = now;
	if (!token_bucket_take(&c->bucket, now))
	{
		int64_t		wait = token_bucket_wait_ms(&c->bucket, now);

		pthread_mutex_unlock(&gate.lock);
		*retry_after = (int) (wait / 1000 + 1);
		return false;
	}
	if (gate.busy >= gate.at_once && gate.waiting >= gate.at_once)
	{
		pthread_mutex_unlock(&gate.lock);
		*retry_after = 1;
		return false;
	}
	gate.waiting++;
	while (gate.busy >= gate.at_once)
		if (pthread_cond_timedwait(&gate.freed, &gate.lock, &deadline) != 0)
			break;
	gate.waiting--;
	if (gate.busy >= gate.at_once)
	{
		pthread_mutex_unlock(&gate.lock);
		*retry_after = 1;
		return false;
	}
	gate.busy++;
	pthread_mutex_unlock(&gate.lock);
	return true;
}

void
api_login_done(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.busy--;
	pthread_cond_signal(&gate.freed);
	pthread_mutex_unlock(&gate.lock);
}

static bool
plan_login(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {
		{"username", FIELD_TEXT, true, false, 150, NULL, NULL},
		{"password", FIELD_TEXT, true, false, 1024, NULL, NULL},
	};
	json_t	   *values = api_validate(request, fields, 2, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_sql(request, "%s", json_string_value(json_object_get(values, "username")));
	plan->params[1] = api_sql(request, "%s", json_string_value(json_object_get(values, "password")));
	plan->nparams = 2;
	plan->operation = "login";
	plan->wants_status = true;
	plan->sql = "SELECT api.login($1, $2)";
	json_decref(values);
	return true;
}

static bool
plan_refresh(ApiRequest *request, ApiPlan *plan)
{
	static const Field fields[] = {{"refresh", FIELD_TEXT, true, false, 8192, NULL, NULL}};
	json_t	   *values = api_validate(request, fields, 1, true);

	if (values == NULL)
		return false;
	plan->params[0] = api_sql(request, "%s", json_string_value(json_object_get(values, "refresh")));
	plan->nparams = 1;
	plan->operation = "refresh";
	plan->wants_status = true;
	plan->sql = "SELECT api.refresh($1)";
	json_decref(values);
	return true;
}

/* api.login answers refusals with response.status: as simplejwt words them */
static void
render_tokens(ApiRequest *request, const ApiPlan *plan, const ApiResult *result)
{
	int			status = result->response_status ? atoi(result->response_status) : 200;

	if (status == 200)
	{
		api_render_json(request, plan, result);
		return;
	}
	if (status == 429)
	{
		api_reply_detail(request, 429, "Too many failed logins; try again later.");
		request->reply->retry_after = 60;
		return;
	}
	http_reply_json(request->reply, 401,
					json_pack("{s:s, s:s}", "detail",
							  api_message(request->language, strcmp(plan->operation, "login") == 0
										  ? "No active account found with the given credentials"
										  : "Token is invalid or expired"),
							  "code", strcmp(plan->operation, "login") == 0 ? "no_active_account" : "token_not_valid"));
}

const Endpoint api_session_endpoints[] = {
	{"/api/architect/login/", "POST", ACCESS_PUBLIC, plan_login, render_tokens, NULL, true},
	{"/api/architect/refresh/", "POST", ACCESS_PUBLIC, plan_refresh, render_tokens, NULL, false},
};
const int	api_session_count = sizeof(api_session_endpoints) / sizeof(*api_session_endpoints);
