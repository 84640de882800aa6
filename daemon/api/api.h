/*
 * api.h — reflexo-api: the Django service's HTTP API over schema api.
 *
 * A request travels: api_router.c finds its endpoint (and answers CORS,
 * 404, 405); api_auth.c verifies its bearer token; the endpoint's plan
 * (api_citas.c, api_locations.c, ...) validates the input and turns it into
 * one SQL statement with parameters, without touching the database (that
 * part is what the fuzzer drives); api_transaction.c runs it as PostgREST
 * would (role, claims, statement, one transaction, one round trip); the
 * endpoint renders the answer, and api_errors.c turns a database error into
 * the status and body a DRF front end expects.
 */
#ifndef REFLEXO_API_H
#define REFLEXO_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/db.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/settings.h"

/* ------------------------------------------------------------ settings */

typedef struct ApiSettings
{
	char	   *database_url;		/* DATABASE_URL: a login that can only become the API roles */
	char	   *jwt_secret;			/* JWT_SECRET: the secret given to reflexo.set_jwt_secret */
	char	   *http_addr;			/* REFLEXO_API_ADDR */
	char	   *public_url;			/* REFLEXO_API_PUBLIC_URL: base of pagination links */
	char	   *sync_url;			/* REFLEXO_SYNC_URL: where webhooks and the OAuth callback go */
	char	   *cors_allowed_origins;	/* CORS_ALLOWED_ORIGINS */
	bool		cors_allow_all;		/* CORS_ALLOW_ALL_ORIGINS */
	char	   *language;			/* REFLEXO_API_LANGUAGE: es or en, when the client names neither */
	int			db_connections;		/* REFLEXO_API_DB_CONNECTIONS */
	int			page_size;			/* REFLEXO_API_PAGE_SIZE */
	int			max_page_size;		/* REFLEXO_API_MAX_PAGE_SIZE */
	int			statement_timeout_ms;	/* REFLEXO_API_STATEMENT_TIMEOUT_MS */
	int			logins_at_once;		/* REFLEXO_API_LOGINS_AT_ONCE */
	int			logins_per_minute;	/* REFLEXO_API_LOGINS_PER_MINUTE: per client address */
	int			request_seconds;	/* REFLEXO_API_REQUEST_SECONDS: to receive a whole request */
	LogLevel	log_level;			/* REFLEXO_LOG_LEVEL */
} ApiSettings;

extern const SettingsTable *api_settings_table(void);
extern ApiSettings *api_settings_load(const char *env_file, char *error, size_t error_size);
extern void api_settings_free(ApiSettings *settings);

typedef struct ApiServer ApiServer;

/* ------------------------------------------------------------ a request */

typedef enum Language
{
	LANGUAGE_ES,
	LANGUAGE_EN
} Language;

typedef enum Access
{
	ACCESS_PUBLIC,				/* no token: login, health probes, forwarded GHL calls */
	ACCESS_USER					/* a valid access token of a staff or admin user */
} Access;

#define API_MAX_PARAMS 16
#define API_MAX_OWNED 64

/* The SQL a request becomes. */
typedef struct ApiPlan
{
	const char *sql;			/* yields one row with one json column (a page: and the count), or none */
	int			nparams;
	const char *params[API_MAX_PARAMS];
	bool		read_only;
	int			status;			/* on success: 200, 201 or 204 */
	bool		paged;			/* a page of rows and their count: answered with next and previous */
	bool		wants_status;	/* read response.status after it (api.login's refusals) */
	int			page;
	int			page_size;
	const char *operation;		/* for logs and metrics, e.g. create_cita */
	const char *strict_validation;	/* "on" or "off" for this request's bookings; NULL: the location's rule */
	bool		csv;			/* stream the rows as CSV (api_export.c): sql is a COPY */
} ApiPlan;

typedef struct ApiRequest
{
	const HttpRequest *http;
	HttpReply  *reply;
	Language	language;
	int64_t		id;				/* the {id} of the path */
	int64_t		sub_id;			/* its second {id}, e.g. a location's closure */
	json_t	   *body;			/* the JSON body, once parsed */
	const char *role;			/* reflexo_anon, reflexo_staff or reflexo_admin */
	char	   *claims;			/* the verified claims, as JSON text */
	const char *subject;		/* the user name, for logs */
	int			nowned;
	void	   *owned[API_MAX_OWNED];	/* freed with the request */
} ApiRequest;

/* Keeps a malloc'd pointer until the request ends; returns it. */
extern void *api_keep(ApiRequest *request, void *pointer);
extern void api_request_free(ApiRequest *request);

/* The outcome of a statement. */
typedef struct ApiResult
{
	bool		ok;
	bool		found;			/* a row came back */
	const char *json;			/* its json column (owned by the result) */
	const char *total;			/* a page's second column: how many rows match in all */
	const char *response_status;	/* response.status the statement set, or NULL */
	const char *sqlstate;
	const char *message;
	const char *detail;
	const char *hint;
	const char *constraint;
	bool		unavailable;	/* no connection, or it broke: retryable */
	json_t	   *warnings;		/* the statement's WARNINGs (a flexible booking's broken rules), or NULL */
	void	   *pg;				/* the PGresult behind it */
} ApiResult;

/* ------------------------------------------------------------ the parts */

/* api_router.c */
typedef bool (*PlanFunction) (ApiRequest *request, ApiPlan *plan);
typedef void (*RenderFunction) (ApiRequest *request, const ApiPlan *plan, const ApiResult *result);
typedef void (*ServeFunction) (ApiServer *server, ApiRequest *request);

typedef struct Endpoint
{
	const char *pattern;		/* {id} (at most API_PATH_IDS) matches a positive integer; the trailing slash is optional */
	const char *method;
	Access		access;
	PlanFunction plan;			/* input to SQL; false: it replied (400) */
	RenderFunction render;		/* NULL: api_render_json */
	ServeFunction serve;		/* instead of a plan: answered without a statement */
	bool		costly;			/* a password hash: admitted by the login gate (api_session.c) */
} Endpoint;

typedef enum RouteOutcome
{
	ROUTE_FOUND,
	ROUTE_NO_PATH,
	ROUTE_NO_METHOD
} RouteOutcome;

#define API_PATH_IDS 2

/* ids: the path's {id}s, in order */
extern RouteOutcome api_route(const char *method, const char *path, const Endpoint **endpoint,
							  int64_t ids[API_PATH_IDS], char *allow, size_t allow_size);

/*
 * Everything a request becomes before the database: route, access and
 * input.  False when it was answered already (404, 405, 400, 401...); the
 * fuzzer drives this.  needs_token tells the caller to verify one.
 */
extern bool api_prepare(ApiRequest *request, const char *jwt_secret, const Endpoint **endpoint, ApiPlan *plan);

/* api_auth.c: verifies "Bearer <token>"; false with the reason in *why. */
extern bool api_verify_token(const char *authorization, const char *secret, ApiRequest *request, const char **why);
/* An HS256 token of claims (for --check-config and tests). */
extern char *api_sign_token(json_t *claims, const char *secret);

/* api_input.c: the JSON body as an object, or a 400; and typed fields. */
typedef enum FieldKind
{
	FIELD_TEXT,					/* a string */
	FIELD_TIME,					/* an ISO 8601 time with its UTC offset */
	FIELD_DATE,					/* YYYY-MM-DD */
	FIELD_BOOL,
	FIELD_DURATION,				/* "HH:MM:SS" or "[D ]HH:MM:SS", as DRF writes durations */
	FIELD_CHOICE,				/* one of choices */
	FIELD_ID					/* a positive integer */
} FieldKind;

typedef struct Field
{
	const char *name;
	FieldKind	kind;
	bool		required;		/* on create and on PUT */
	bool		nullable;
	int			max_length;		/* for text; 0: none */
	const char *const *choices;
	const char *sql_type;		/* what the database takes it as; NULL: an option of the request, no column */
} Field;

extern bool api_read_body(ApiRequest *request);

/*
 * Validates the body against fields: unknown fields, missing required ones
 * (when complete: a create, or a PUT) and wrong types become one DRF 400
 * {"field": ["..."]}.  Returns the validated values as a JSON object of
 * strings (or nulls), holding only the fields given (a DRF update keeps
 * what it is not given, PUT too); NULL when it replied.
 */
extern json_t *api_validate(ApiRequest *request, const Field *fields, int nfields, bool complete);

/* The ?page= and ?page_size= of a listing; false when it replied (404). */
extern bool api_page(ApiRequest *request, const ApiSettings *settings, ApiPlan *plan);

/* A query parameter validated as a field kind; NULL if absent; *bad when it replied. */
extern const char *api_query_value(ApiRequest *request, const Field *field, bool *bad);

/* api_sql.c: statement text kept by the request; the {id} as a parameter */
extern const char *api_sql(ApiRequest *request, const char *format,...) __attribute__((format(printf, 2, 3)));
extern const char *api_id_text(ApiRequest *request);

/* api_sql.c: statements that write the fields given (constant SQL, values as one jsonb parameter). */
extern char *api_insert_sql(const char *relation, const Field *fields, int nfields, json_t *values, int param);
extern char *api_update_sql(const char *relation, const Field *fields, int nfields, json_t *values, int id_param,
							int values_param);

/* api_errors.c: DRF-shaped answers. */
extern void api_reply_detail(ApiRequest *request, int status, const char *message_id);
extern void api_reply_db_error(ApiRequest *request, const ApiResult *result);

/* api_messages.c: the DRF layer's own messages by language (message ids are English). */
extern const char *api_message(Language language, const char *message_id);
extern Language api_language(const char *accept_language, Language fallback);

/* api_transaction.c */
extern void api_run(ApiServer *server, ApiRequest *request, const ApiPlan *plan, ApiResult *result);
/*
 * Outside a pipeline (the CSV export's COPY): api_begin opens the request's
 * transaction (BEGIN, settings, token check); api_step runs one statement
 * of it.  On failure both fill result (unavailable when the connection
 * broke, which they close) and roll back; api_step then returns NULL, and
 * a COPY's PGRES_COPY_OUT result otherwise.
 */
extern bool api_begin(Db *db, const ApiRequest *request, const ApiPlan *plan, int timeout_ms, ApiResult *result);
extern PGresult *api_step(Db *db, const char *sql, int nparams, const char *const *params, ApiResult *result);
extern void api_result_free(ApiResult *result);

/* api_export.c: the CSV export of a listing */
extern bool api_wants_csv(const ApiRequest *request);
extern void api_export_csv(ApiServer *server, ApiRequest *request, const ApiPlan *plan, ApiResult *result);

/*
 * api_render.c: answers built from a result.  The database's JSON text is
 * answered as it comes, not parsed and written again.  A page's statement
 * returns two columns: its rows as a JSON array (API_PAGE_RESULTS of each
 * row's JSON, in order) and the count of all matching rows.
 */
#define API_PAGE_RESULTS(row_json, order) \
	"'[' || COALESCE(pg_catalog.string_agg((" row_json ")::pg_catalog.text, ',' ORDER BY " order "), '') || ']'"
extern void api_render_json(ApiRequest *request, const ApiPlan *plan, const ApiResult *result);
extern void api_render_page(ApiRequest *request, const ApiPlan *plan, const ApiResult *result);

/* api_server.c: the server and what endpoints may ask of it. */
extern const ApiSettings *api_settings(void);
extern ApiServer *api_server_new(ApiSettings *settings);	/* its database pool, no listener */
extern ApiServer *api_server_start(ApiSettings *settings, char *error, size_t error_size);
extern void api_server_stop(ApiServer *server);
extern bool api_server_ready(ApiServer *server);
extern DbPool *api_server_pool(ApiServer *server);
/* for the fuzzer and tests: settings without a server */
extern void api_use_settings(const ApiSettings *settings);

/* api_session.c: the login gate, so that logins cannot exhaust the database's CPU */
extern void api_login_gate_init(int at_once, int per_minute);
extern bool api_login_admit(const char *client, int *retry_after);
extern void api_login_done(void);

/* api_monitoring.c: what reflexo-api counts, for /metrics */
extern void api_count_request(const char *operation, int status, double duration_ms);

/* api_forward.c: GHL's calls, passed to reflexo-sync */
extern void api_forward(ApiServer *server, ApiRequest *request);

/* the endpoints, by file */
extern const Endpoint api_citas_endpoints[];
extern const int api_citas_count;
extern const Endpoint api_locations_endpoints[];
extern const int api_locations_count;
extern const Endpoint api_series_endpoints[];
extern const int api_series_count;
extern const Endpoint api_session_endpoints[];
extern const int api_session_count;
extern const Endpoint api_monitoring_endpoints[];
extern const int api_monitoring_count;

/* a cita or a location as the front end reads it (SQL over c, resp. s, and l) */
extern const char *const api_cita_json;
extern const char *const api_location_json;

#endif							/* REFLEXO_API_H */
