/*
 * sim_faults.c — injected faults, set at start (--faults) or at run time
 * (POST /_sim/faults).  They apply to GHL API calls (and to /oauth/token
 * when "oauth" is true), optionally only to paths containing "path".
 *
 *   latency_ms, latency_jitter_ms  delay every matching request
 *   error_rate, error_status        answer a 5xx (default 503)
 *   burst_429                       the next N requests get 429
 *   timeout_rate, hang_ms           accept, then never answer (then close)
 *   drop_rate                       close the connection without answering
 *   lost_response_rate              make the change, then drop the answer
 *   outage_seconds                  503 for everything for that long
 *   seed                            reseed the random generator
 */
#include "sim.h"
#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"

typedef struct Faults
{
	int			latency_ms;
	int			latency_jitter_ms;
	double		error_rate;
	int			error_status;
	int			burst_429;
	double		timeout_rate;
	int			hang_ms;
	double		drop_rate;
	double		lost_response_rate;
	int64_t		outage_until_ms;
	char	   *path;
	bool		oauth;
} Faults;

static const Faults no_faults = {.error_status = 503, .hang_ms = 120000};
static Faults faults = {.error_status = 503, .hang_ms = 120000};
static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

void
sim_random_seed(uint64_t seed)
{
	pthread_mutex_lock(&faults_lock);
	rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
	pthread_mutex_unlock(&faults_lock);
}

static double
next_random(void)
{
	/* xorshift64*: plenty for fault dice, and reproducible from a seed */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double) ((rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

double
sim_random(void)
{
	double		r;

	pthread_mutex_lock(&faults_lock);
	r = next_random();
	pthread_mutex_unlock(&faults_lock);
	return r;
}

static bool
applies(const SimRequest *request)
{
	bool		api = strncmp(request->path, "/calendars", 10) == 0;
	bool		oauth = strcmp(request->path, "/oauth/token") == 0;

	if (!(api || (oauth && faults.oauth)))
		return false;
	return faults.path == NULL || strstr(request->path, faults.path) != NULL;
}

void
faults_decide(const SimRequest *request, FaultDecision *decision)
{
	bool		mutating;

	memset(decision, 0, sizeof(*decision));
	pthread_mutex_lock(&faults_lock);
	if (!applies(request))
	{
		pthread_mutex_unlock(&faults_lock);
		return;
	}
	mutating = strcmp(request->method, "GET") != 0;
	decision->latency_ms = faults.latency_ms +
		(faults.latency_jitter_ms > 0 ? (int) (next_random() * faults.latency_jitter_ms) : 0);
	decision->hang_ms = faults.hang_ms;
	if (faults.outage_until_ms > monotonic_ms())
	{
		decision->action = FAULT_OUTAGE;
		decision->status = 503;
	}
	else if (faults.burst_429 > 0)
	{
		faults.burst_429--;
		decision->action = FAULT_RATE_LIMIT;
		decision->status = 429;
	}
	else if (next_random() < faults.error_rate)
	{
		decision->action = FAULT_ERROR;
		decision->status = faults.error_status;
	}
	else if (next_random() < faults.timeout_rate)
		decision->action = FAULT_HANG;
	else if (next_random() < faults.drop_rate)
		decision->action = FAULT_DROP;
	else if (mutating && next_random() < faults.lost_response_rate)
		decision->action = FAULT_LOSE_RESPONSE;
	pthread_mutex_unlock(&faults_lock);
}

json_t *
faults_get(void)
{
	json_t	   *result;
	int64_t		remaining;

	pthread_mutex_lock(&faults_lock);
	remaining = faults.outage_until_ms - monotonic_ms();
	result = json_pack("{s:i, s:i, s:f, s:i, s:i, s:f, s:i, s:f, s:f, s:I, s:s?, s:b}",
					   "latency_ms", faults.latency_ms, "latency_jitter_ms", faults.latency_jitter_ms,
					   "error_rate", faults.error_rate, "error_status", faults.error_status,
					   "burst_429", faults.burst_429, "timeout_rate", faults.timeout_rate,
					   "hang_ms", faults.hang_ms, "drop_rate", faults.drop_rate,
					   "lost_response_rate", faults.lost_response_rate,
					   "outage_remaining_ms", (json_int_t) (remaining > 0 ? remaining : 0),
					   "path", faults.path, "oauth", faults.oauth);
	pthread_mutex_unlock(&faults_lock);
	return result;
}

static bool
read_rate(json_t *value, double *rate, const char *key, char *error, size_t size)
{
	if (!json_is_number(value) || json_number_value(value) < 0 || json_number_value(value) > 1)
	{
		snprintf(error, size, "%s must be a number from 0 to 1", key);
		return false;
	}
	*rate = json_number_value(value);
	return true;
}

static bool
read_int(json_t *value, int *out, int min, int max, const char *key, char *error, size_t size)
{
	if (!json_is_integer(value) || json_integer_value(value) < min || json_integer_value(value) > max)
	{
		snprintf(error, size, "%s must be a whole number from %d to %d", key, min, max);
		return false;
	}
	*out = (int) json_integer_value(value);
	return true;
}

/* Merges settings into the current faults; all or nothing. */
bool
faults_set(json_t *settings, char *error, size_t size)
{
	Faults		next;
	const char *key;
	json_t	   *value;
	bool		ok = true;

	if (!json_is_object(settings))
	{
		snprintf(error, size, "faults must be a JSON object");
		return false;
	}
	pthread_mutex_lock(&faults_lock);
	next = faults;
	next.path = faults.path ? xstrdup(faults.path) : NULL;
	json_object_foreach(settings, key, value)
	{
		int			seconds;

		if (!ok)
			break;
		if (strcmp(key, "latency_ms") == 0)
			ok = read_int(value, &next.latency_ms, 0, 600000, key, error, size);
		else if (strcmp(key, "latency_jitter_ms") == 0)
			ok = read_int(value, &next.latency_jitter_ms, 0, 600000, key, error, size);
		else if (strcmp(key, "error_rate") == 0)
			ok = read_rate(value, &next.error_rate, key, error, size);
		else if (strcmp(key, "error_status") == 0)
			ok = read_int(value, &next.error_status, 500, 599, key, error, size);
		else if (strcmp(key, "burst_429") == 0)
			ok = read_int(value, &next.burst_429, 0, 1000000, key, error, size);
		else if (strcmp(key, "timeout_rate") == 0)
			ok = read_rate(value, &next.timeout_rate, key, error, size);
		else if (strcmp(key, "hang_ms") == 0)
			ok = read_int(value, &next.hang_ms, 0, 3600000, key, error, size);
		else if (strcmp(key, "drop_rate") == 0)
			ok = read_rate(value, &next.drop_rate, key, error, size);
		else if (strcmp(key, "lost_response_rate") == 0)
			ok = read_rate(value, &next.lost_response_rate, key, error, size);
		else if (strcmp(key, "outage_seconds") == 0)
		{
			ok = read_int(value, &seconds, 0, 86400, key, error, size);
			next.outage_until_ms = seconds ? monotonic_ms() + (int64_t) seconds * 1000 : 0;
		}
		else if (strcmp(key, "path") == 0)
		{
			free(next.path);
			next.path = json_is_string(value) && *json_string_value(value)
				? xstrdup(json_string_value(value)) : NULL;
			ok = json_is_string(value) || json_is_null(value);
			if (!ok)
				snprintf(error, size, "path must be a string");
		}
		else if (strcmp(key, "oauth") == 0)
		{
			ok = json_is_boolean(value);
			next.oauth = json_is_true(value);
			if (!ok)
				snprintf(error, size, "oauth must be true or false");
		}
		else if (strcmp(key, "seed") == 0)
		{
			ok = json_is_integer(value);
			if (ok)
				rng = (uint64_t) json_integer_value(value) ?: 0x9E3779B97F4A7C15ULL;
			else
				snprintf(error, size, "seed must be a whole number");
		}
		else
		{
			snprintf(error, size, "unknown fault \"%.64s\"", key);
			ok = false;
		}
	}
	if (ok)
	{
		free(faults.path);
		faults = next;
	}
	else
		free(next.path);
	pthread_mutex_unlock(&faults_lock);
	return ok;
}

void
faults_reset(void)
{
	pthread_mutex_lock(&faults_lock);
	free(faults.path);
	faults = no_faults;
	pthread_mutex_unlock(&faults_lock);
}
