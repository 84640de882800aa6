/*
 * api_server.c — reflexo-api's HTTP side: every request through
 * api_prepare (route, token, input), the login gate, the database
 * (api_transaction.c) and its renderer; CORS for browsers (the Django
 * service's CORS_ALLOWED_ORIGINS / CORS_ALLOW_ALL_ORIGINS); one JSON log
 * line per request with the Django service's fields, and a VALIDATION_ERROR line for
 * each booking the rules refused.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "common/alloc.h"
#include "common/iso_time.h"

struct ApiServer
{
	ApiSettings *settings;
	DbPool	   *pool;
	HttpServer *http;
	char		session_id[9];
};

static const ApiSettings *current_settings;

const ApiSettings *
api_settings(void)
{
	return current_settings;
}

void
api_use_settings(const ApiSettings *settings)
{
	current_settings = settings;
}

DbPool *
api_server_pool(ApiServer *server)
{
	return server->pool;
}

/* Whether a browser page from origin may read our answers. */
static bool
origin_allowed(const ApiSettings *settings, const char *origin)
{
	size_t		len;

	if (origin == NULL || *origin == '\0')
		return false;
	if (settings->cors_allow_all)
		return true;
	len = strlen(origin);
	for (const char *item = settings->cors_allowed_origins; *item; item += strcspn(item, ","), item += *item == ',')
	{
		size_t		n;

		item += strspn(item, " ");
		n = strcspn(item, ", ");
		if (n == len && strncasecmp(item, origin, len) == 0)
			return true;
	}
	return false;
}

static void
add_cors(const ApiSettings *settings, ApiRequest *request, bool preflight)
{
	const char *origin = http_header(request->http, "Origin");

	if (!origin_allowed(settings, origin))
		return;
	/* bearer tokens, never cookies: no credentials, so "*" is safe when every origin is allowed */
	http_reply_header(request->reply, "Access-Control-Allow-Origin", settings->cors_allow_all ? "*" : origin);
	http_reply_header(request->reply, "Vary", "Origin");
	http_reply_header(request->reply, "Access-Control-Expose-Headers", "Retry-After, Content-Language");
	if (preflight)
	{
		http_reply_header(request->reply, "Access-Control-Allow-Methods", "DELETE, GET, OPTIONS, PATCH, POST, PUT");
		http_reply_header(request->reply, "Access-Control-Allow-Headers",
						  "accept, accept-language, authorization, content-type");
		http_reply_header(request->reply, "Access-Control-Max-Age", "86400");
	}
}

/* OPTIONS: a CORS preflight, or which methods a path allows. */
static void
answer_options(ApiRequest *request)
{
	const Endpoint *endpoint;
	int64_t		ids[API_PATH_IDS];
	char		allow[128];

	if (api_route("OPTIONS", request->http->path, &endpoint, ids, allow, sizeof(allow)) == ROUTE_NO_PATH)
	{
		api_reply_detail(request, 404, "Not found.");
		return;
	}
	http_reply_json(request->reply, 200, json_object());
	http_reply_header(request->reply, "Allow", allow);
}

static void
log_request(ApiServer *server, ApiRequest *request, const ApiPlan *plan, const ApiResult *result, double ms)
{
	int			status = request->reply->status;
	const char *operation = plan->operation ? plan->operation : request->http->path;
	json_t	   *details;

	if (!log_enabled(status >= 500 ? LOG_WARN : LOG_INFO))
		return;
	details = json_pack("{s:s, s:s, s:i, s:s?, s:s}", "method", request->http->method,
									"path", request->http->path, "status", status, "user", request->subject,
									"client", request->http->client);

	if (result->sqlstate)
		json_object_set_new(details, "sqlstate", json_string(result->sqlstate));
	log_json(status >= 500 ? LOG_WARN : LOG_INFO, "API_REQUEST", NULL,
			 json_pack("{s:s, s:s, s:b, s:f, s:o, s:o}", "session_id", server->session_id, "operation", operation,
					   "success", status < 400, "duration_ms", ms,
					   "appointment_id", request->id && strstr(operation, "cita") ? json_integer(request->id) : json_null(),
					   "details", details));
	/* a booking the rules refused: what the Django service logged as VALIDATION_ERROR (never the notes) */
	if (result->sqlstate && strstr(operation, "cita") &&
		(strcmp(result->sqlstate, "23P01") == 0 || strcmp(result->sqlstate, "23514") == 0 ||
		 strcmp(result->sqlstate, "23503") == 0 || strcmp(result->sqlstate, "23502") == 0))
		log_json(LOG_INFO, "VALIDATION_ERROR", NULL,
				 json_pack("{s:s, s:s, s:b, s:o, s:s?, s:{s:s, s:s?, s:s?, s:s?}}", "session_id", server->session_id,
						   "operation", operation, "success", false,
						   "appointment_id", request->id ? json_integer(request->id) : json_null(),
						   "user", request->subject,
						   "details", "sqlstate", result->sqlstate, "constraint", result->constraint,
						   "message", result->message, "client", request->http->client));
}

static void
handle(void *context, const HttpRequest *http, HttpReply *reply)
{
	ApiServer  *server = context;
	const ApiSettings *settings = server->settings;
	int64_t		started = monotonic_ms();
	ApiRequest	request = {.http = http, .reply = reply};
	ApiResult	result = {0};
	ApiPlan		plan = {0};
	const Endpoint *endpoint = NULL;
	int			retry_after;

	request.language = api_language(http_header(http, "Accept-Language"),
									strcmp(settings->language, "en") == 0 ? LANGUAGE_EN : LANGUAGE_ES);
	if (strcmp(http->method, "OPTIONS") == 0)
		answer_options(&request);
	else if (api_prepare(&request, settings->jwt_secret, &endpoint, &plan))
	{
		if (endpoint->serve)
			endpoint->serve(server, &request);
		else if (endpoint->costly && !api_login_admit(http->client, &retry_after))
		{
			char		text[160];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(text, sizeof(text),
					 api_message(request.language, "Request was throttled. Expected available in %d seconds."),
					 retry_after);
#pragma GCC diagnostic pop
			http_reply_json(reply, 429, json_pack("{s:s}", "detail", text));
			reply->retry_after = retry_after;
		}
		else if (plan.csv)
		{
			api_export_csv(server, &request, &plan, &result);
			if (!result.ok)
				api_reply_db_error(&request, &result);
		}
		else
		{
			api_run(server, &request, &plan, &result);
			if (endpoint->costly)
				api_login_done();
			if (!result.ok)
				api_reply_db_error(&request, &result);
			else
				(endpoint->render ? endpoint->render : api_render_json) (&request, &plan, &result);
		}
	}
	add_cors(settings, &request, strcmp(http->method, "OPTIONS") == 0);
	http_reply_header(reply, "Content-Language", request.language == LANGUAGE_EN ? "en" : "es");
	api_count_request(plan.operation ? plan.operation : endpoint && endpoint->serve ? "probe" : "refused",
					  reply->status, (double) (monotonic_ms() - started));
	log_request(server, &request, &plan, &result, (double) (monotonic_ms() - started));
	api_result_free(&result);
	api_request_free(&request);
}

/* Requests answered without taking a place: nothing in them waits (http_server.h). */
static bool
answered_at_once(const HttpRequest *http)
{
	return strcmp(http->method, "OPTIONS") == 0 ||
		(strcmp(http->method, "GET") == 0 && (strcmp(http->path, "/healthz") == 0 || strcmp(http->path, "/metrics") == 0));
}

bool
api_server_ready(ApiServer *server)
{
	ApiRequest	request = {.role = "reflexo_anon", .language = LANGUAGE_EN};
	ApiPlan		plan = {.sql = "SELECT '{}'::pg_catalog.json", .read_only = true};
	ApiResult	result = {0};
	bool		ready;

	api_run(server, &request, &plan, &result);
	ready = result.ok && result.found;
	api_result_free(&result);
	return ready;
}

ApiServer *
api_server_new(ApiSettings *settings)
{
	ApiServer  *server = xcalloc(1, sizeof(*server));
	unsigned char session[4] = {0};

	RAND_bytes(session, sizeof(session));
	snprintf(server->session_id, sizeof(server->session_id), "%02x%02x%02x%02x", session[0], session[1], session[2],
			 session[3]);
	server->settings = settings;
	api_use_settings(settings);
	api_login_gate_init(settings->logins_at_once, settings->logins_per_minute);
	server->pool = db_pool_new(settings->database_url, settings->db_connections, "api");
	return server;
}

ApiServer *
api_server_start(ApiSettings *settings, char *error, size_t error_size)
{
	ApiServer  *server = api_server_new(settings);
	HttpLimits	limits = {
		.max_body = 1024 * 1024,
		.connections = 1024,
		.connections_per_ip = 128,
		.timeout_seconds = 10,		/* a silent client is cut off */
		.deadline_seconds = (unsigned) settings->request_seconds,	/* and so is one trickling its request in */
		.connection_memory = 32 * 1024,
		/*
		 * As many requests running at once as database connections, so one
		 * that runs finds a connection free, on one thread more than that:
		 * a request is run by the thread that read it unless every place is
		 * taken, and then waits in one queue, oldest first, without a thread
		 * (with a thread per client connection, waiting for the pool and
		 * being woken cost a third of the server's CPU).  Probes and
		 * preflights need no place, so the spare thread answers them even
		 * while the database holds every other one.
		 */
		.workers = (unsigned) settings->db_connections,
		.quick = answered_at_once
	};

	server->http = http_server_start(settings->http_addr, &limits, handle, server, error, error_size);
	if (server->http == NULL)
	{
		api_server_stop(server);
		return NULL;
	}
	log_info("API", "listening", json_pack("{s:s, s:s, s:i}", "session_id", server->session_id,
										   "address", settings->http_addr, "database_connections",
										   settings->db_connections));
	return server;
}

void
api_server_stop(ApiServer *server)
{
	if (server == NULL)
		return;
	http_server_stop(server->http);
	db_pool_free(server->pool);
	free(server);
}
