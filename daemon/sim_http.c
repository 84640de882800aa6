/*
 * sim_http.c — the simulator's HTTP side, on libmicrohttpd with a thread
 * per connection (so an injected hang holds only its own connection).
 * Bodies are bounded (413 beyond store.config.max_body); form bodies are
 * decoded by libmicrohttpd's post processor.
 */
#include "sim_http.h"

#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iso_time.h"
#include "log.h"

volatile sig_atomic_t sim_stopping = 0;

typedef struct Exchange
{
	char	   *body;
	size_t		len;
	bool		too_big;
	struct MHD_PostProcessor *post;
	int			nform;
	char	   *form_keys[SIM_MAX_PARAMS];
	char	   *form_values[SIM_MAX_PARAMS];
	int64_t		started_ms;
} Exchange;

static enum MHD_Result
collect_form(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
			 const char *content_type, const char *transfer_encoding, const char *data,
			 uint64_t off, size_t size)
{
	Exchange   *ex = cls;

	(void) kind;
	(void) filename;
	(void) content_type;
	(void) transfer_encoding;
	if (off == 0)
	{
		if (ex->nform == SIM_MAX_PARAMS)
			return MHD_YES;
		ex->form_keys[ex->nform] = strdup(key);
		ex->form_values[ex->nform] = strndup(data ? data : "", size);
		ex->nform++;
	}
	else if (ex->nform > 0)
	{
		/* a long value arrives in pieces */
		char	   *joined;

		if (asprintf(&joined, "%s%.*s", ex->form_values[ex->nform - 1], (int) size, data) >= 0)
		{
			free(ex->form_values[ex->nform - 1]);
			ex->form_values[ex->nform - 1] = joined;
		}
	}
	return MHD_YES;
}

static enum MHD_Result
collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	SimParams  *params = cls;

	(void) kind;
	if (params->count < SIM_MAX_PARAMS)
	{
		params->keys[params->count] = key;
		params->values[params->count] = value ? value : "";
		params->count++;
	}
	return MHD_YES;
}

static void
completed(void *cls, struct MHD_Connection *connection, void **con_cls, enum MHD_RequestTerminationCode code)
{
	Exchange   *ex = *con_cls;

	(void) cls;
	(void) connection;
	(void) code;
	if (ex == NULL)
		return;
	if (ex->post)
		MHD_destroy_post_processor(ex->post);
	for (int i = 0; i < ex->nform; i++)
	{
		free(ex->form_keys[i]);
		free(ex->form_values[i]);
	}
	free(ex->body);
	free(ex);
	*con_cls = NULL;
}

static void
add_rate_headers(struct MHD_Response *reply, const SimResponse *response)
{
	SimLocation *location;
	char		value[32];

	if (!response->rate_headers)
		return;
	pthread_mutex_lock(&store.lock);
	location = &store.locations[response->rate_location];
	snprintf(value, sizeof(value), "%d", store.config.daily_limit);
	MHD_add_response_header(reply, "X-RateLimit-Limit-Daily", value);
	snprintf(value, sizeof(value), "%lld", (long long) (store.config.daily_limit - location->daily_used));
	MHD_add_response_header(reply, "X-RateLimit-Daily-Remaining", value);
	snprintf(value, sizeof(value), "%d", store.config.rate_interval_ms);
	MHD_add_response_header(reply, "X-RateLimit-Interval-Milliseconds", value);
	snprintf(value, sizeof(value), "%d", store.config.rate_max);
	MHD_add_response_header(reply, "X-RateLimit-Max", value);
	snprintf(value, sizeof(value), "%d", (int) token_bucket_available(&location->bucket, monotonic_ms()));
	MHD_add_response_header(reply, "X-RateLimit-Remaining", value);
	pthread_mutex_unlock(&store.lock);
}

static enum MHD_Result
send_response(struct MHD_Connection *connection, SimResponse *response)
{
	const char *body = response->body ? response->body : "";
	struct MHD_Response *reply = MHD_create_response_from_buffer(strlen(body), (void *) body,
																MHD_RESPMEM_MUST_COPY);
	enum MHD_Result result;

	MHD_add_response_header(reply, "Content-Type", response->content_type ? response->content_type : "application/json");
	if (response->redirect)
		MHD_add_response_header(reply, "Location", response->redirect);
	add_rate_headers(reply, response);
	result = MHD_queue_response(connection, (unsigned int) response->status, reply);
	MHD_destroy_response(reply);
	return result;
}

static void
sleep_ms(int ms)
{
	for (int slept = 0; slept < ms && !sim_stopping; slept += 50)
		usleep(50 * 1000);
}

static void
log_exchange(const char *method, const char *url, int status, const char *outcome, Exchange *ex)
{
	LogLevel	level = strncmp(url, "/_sim", 5) == 0 ? LOG_DEBUG : LOG_INFO;

	if (!log_enabled(level))
		return;
	log_json(level, "HTTP", NULL,
			 json_pack("{s:s, s:s, s:i, s:s?, s:I}", "method", method, "path", url, "status", status,
					   "fault", outcome, "duration_ms", (json_int_t) (monotonic_ms() - ex->started_ms)));
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	Exchange   *ex = *con_cls;
	SimRequest	request;
	SimResponse response;
	FaultDecision fault;
	enum MHD_Result result;
	static const char *const fault_names[] = {NULL, "error", "429", "outage", "hang", "drop", "lost_response"};

	(void) cls;
	(void) version;
	if (ex == NULL)
	{
		const char *type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

		ex = calloc(1, sizeof(*ex));
		ex->started_ms = monotonic_ms();
		if (type && strncmp(type, MHD_HTTP_POST_ENCODING_FORM_URLENCODED,
							strlen(MHD_HTTP_POST_ENCODING_FORM_URLENCODED)) == 0)
			ex->post = MHD_create_post_processor(connection, 4096, collect_form, ex);
		*con_cls = ex;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (ex->len + *upload_data_size > store.config.max_body)
			ex->too_big = true;
		else
		{
			ex->body = realloc(ex->body, ex->len + *upload_data_size + 1);
			memcpy(ex->body + ex->len, upload_data, *upload_data_size);
			ex->len += *upload_data_size;
			ex->body[ex->len] = '\0';
			if (ex->post)
				MHD_post_process(ex->post, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	memset(&response, 0, sizeof(response));
	if (ex->too_big)
	{
		char		message[96];

		snprintf(message, sizeof(message), "request body larger than %zu bytes", store.config.max_body);
		respond_error(&response, 413, message);
		result = send_response(connection, &response);
		log_exchange(method, url, 413, NULL, ex);
		sim_response_free(&response);
		return result;
	}

	memset(&request, 0, sizeof(request));
	request.method = method;
	request.path = url;
	MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_query, &request.query);
	request.form.count = ex->nform;
	for (int i = 0; i < ex->nform; i++)
	{
		request.form.keys[i] = ex->form_keys[i];
		request.form.values[i] = ex->form_values[i];
	}
	request.authorization = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization");
	request.version = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Version");
	request.content_type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Type");
	request.ghl_signature = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "x-ghl-signature");
	request.wh_signature = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "x-wh-signature");
	request.body = ex->body;
	request.body_len = ex->len;

	faults_decide(&request, &fault);
	if (fault.latency_ms > 0)
		sleep_ms(fault.latency_ms);
	switch (fault.action)
	{
		case FAULT_HANG:
			sleep_ms(fault.hang_ms);
			log_exchange(method, url, 0, "hang", ex);
			return MHD_NO;
		case FAULT_DROP:
			log_exchange(method, url, 0, "drop", ex);
			return MHD_NO;
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
		log_exchange(method, url, response.status, "lost_response", ex);
		sim_response_free(&response);
		return MHD_NO;
	}
	result = send_response(connection, &response);
	log_exchange(method, url, response.status, fault_names[fault.action], ex);
	sim_response_free(&response);
	return result;
}

struct MHD_Daemon *
sim_http_start(const struct sockaddr *address)
{
	return MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
							0, NULL, NULL, handle, NULL,
							MHD_OPTION_SOCK_ADDR, address,
							MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
							MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 1000,
							MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
							MHD_OPTION_END);
}
