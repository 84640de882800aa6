/*
 * sim_http.c — the simulator's HTTP side: the daemons' HTTP server
 * (common/http_server.c: a thread per connection, so an injected hang holds
 * only its own connection; bodies bounded, form bodies decoded), injected
 * faults, and GHL's rate-limit headers on the answers.
 */
#include "sim_http.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/iso_time.h"
#include "common/log.h"

volatile sig_atomic_t sim_stopping = 0;

static void
add_rate_headers(HttpReply *reply, const SimResponse *response)
{
	SimLocation *location;
	char		value[32];

	if (!response->rate_headers)
		return;
	pthread_mutex_lock(&store.lock);
	location = &store.locations[response->rate_location];
	snprintf(value, sizeof(value), "%d", store.config.daily_limit);
	http_reply_header(reply, "X-RateLimit-Limit-Daily", value);
	snprintf(value, sizeof(value), "%lld", (long long) (store.config.daily_limit - location->daily_used));
	http_reply_header(reply, "X-RateLimit-Daily-Remaining", value);
	snprintf(value, sizeof(value), "%d", store.config.rate_interval_ms);
	http_reply_header(reply, "X-RateLimit-Interval-Milliseconds", value);
	snprintf(value, sizeof(value), "%d", store.config.rate_max);
	http_reply_header(reply, "X-RateLimit-Max", value);
	snprintf(value, sizeof(value), "%d", (int) token_bucket_available(&location->bucket, monotonic_ms()));
	http_reply_header(reply, "X-RateLimit-Remaining", value);
	pthread_mutex_unlock(&store.lock);
}

/* Hands the simulator's answer to the server, which frees what it is given. */
static void
give_reply(HttpReply *reply, SimResponse *response)
{
	const char *body = response->body ? response->body : "";

	http_reply_text(reply, response->status, response->content_type ? response->content_type : "application/json",
					body, strlen(body));
	if (response->redirect)
		http_reply_header(reply, "Location", response->redirect);
	add_rate_headers(reply, response);
}

static void
sleep_ms(int ms)
{
	for (int slept = 0; slept < ms && !sim_stopping; slept += 50)
		usleep(50 * 1000);
}

static void
log_exchange(const char *method, const char *url, int status, const char *outcome, int64_t started_ms)
{
	LogLevel	level = strncmp(url, "/_sim", 5) == 0 ? LOG_DEBUG : LOG_INFO;

	if (!log_enabled(level))
		return;
	log_json(level, "HTTP", NULL,
			 json_pack("{s:s, s:s, s:i, s:s?, s:I}", "method", method, "path", url, "status", status,
					   "fault", outcome, "duration_ms", (json_int_t) (monotonic_ms() - started_ms)));
}

/*
 * Listings of a calendar's events being answered at once, and the most so
 * far: each is a whole listing the client holds, and reflexo-sync bounds how
 * many (TAP 026 reads this).
 */
static pthread_mutex_t listings_lock = PTHREAD_MUTEX_INITIALIZER;
static int	listings_now;
static int	listings_most;

static bool
is_listing(const HttpRequest *http)
{
	return strcmp(http->method, "GET") == 0 && strcmp(http->path, "/calendars/events") == 0;
}

static void
count_listing(int change)
{
	pthread_mutex_lock(&listings_lock);
	listings_now += change;
	if (listings_now > listings_most)
		listings_most = listings_now;
	pthread_mutex_unlock(&listings_lock);
}

json_t *
listings_state(void)
{
	json_t	   *state;

	pthread_mutex_lock(&listings_lock);
	state = json_pack("{s:i, s:i}", "now", listings_now, "most_at_once", listings_most);
	pthread_mutex_unlock(&listings_lock);
	return state;
}

void
listings_reset(void)
{
	pthread_mutex_lock(&listings_lock);
	listings_most = listings_now;
	pthread_mutex_unlock(&listings_lock);
}

static void
answer(const HttpRequest *http, HttpReply *reply)
{
	int64_t		started_ms = monotonic_ms();
	SimRequest	request = {0};
	SimResponse response = {0};
	FaultDecision fault;
	static const char *const fault_names[] = {NULL, "error", "429", "outage", "hang", "drop", "lost_response"};

	request.method = http->method;
	request.path = http->path;
	request.query = http->query;
	request.form = http->form;
	request.authorization = http_header(http, "Authorization");
	request.version = http_header(http, "Version");
	request.content_type = http_header(http, "Content-Type");
	request.ghl_signature = http_header(http, "x-ghl-signature");
	request.wh_signature = http_header(http, "x-wh-signature");
	request.body = http->len ? http->body : NULL;
	request.body_len = http->len;

	faults_decide(&request, &fault);
	if (fault.latency_ms > 0)
		sleep_ms(fault.latency_ms);
	switch (fault.action)
	{
		case FAULT_HANG:
			sleep_ms(fault.hang_ms);
			log_exchange(http->method, http->path, 0, "hang", started_ms);
			reply->drop = true;
			return;
		case FAULT_DROP:
			log_exchange(http->method, http->path, 0, "drop", started_ms);
			reply->drop = true;
			return;
		case FAULT_ERROR:
		case FAULT_OUTAGE:
		case FAULT_RATE_LIMIT:
			respond_error(&response, fault.status, fault.status == 429 ? "Too Many Requests" : "Service Unavailable");
			break;
		default:
			pthread_mutex_lock(&store.lock);
			sim_route(&request, &response);
			pthread_mutex_unlock(&store.lock);
			break;
	}
	if (fault.action == FAULT_LOSE_RESPONSE && response.status < 300)
	{
		log_exchange(http->method, http->path, response.status, "lost_response", started_ms);
		reply->drop = true;
	}
	else
	{
		give_reply(reply, &response);
		log_exchange(http->method, http->path, response.status, fault_names[fault.action], started_ms);
	}
	sim_response_free(&response);
}

static void
handle(void *context, const HttpRequest *http, HttpReply *reply)
{
	bool		listing = is_listing(http);

	(void) context;
	if (listing)
		count_listing(1);
	answer(http, reply);
	if (listing)
		count_listing(-1);
}

HttpServer *
sim_http_start(const char *address, char *error, size_t error_size)
{
	HttpLimits	limits = {
		.max_body = store.config.max_body,
		.connections = 1000,
		.timeout_seconds = 60,
		/*
		 * Request line, headers and read buffer (bodies are collected apart).
		 * libmicrohttpd maps pools over 32 kB with mmap and unmaps them when
		 * the connection closes: with a connection per create (reflexo-sync
		 * never reuses one for a create), that was most of the simulator's time.
		 */
		.connection_memory = 32 * 1024
	};

	return http_server_start(address, &limits, handle, NULL, error, error_size);
}
