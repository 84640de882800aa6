/*
 * api_transaction.c — a request runs as PostgREST runs one: one
 * transaction holding the request's settings (messages' language,
 * statement timeout, read-only for reads, the verified claims in
 * request.jwt.claims, then the role from the token), the token check
 * (reflexo.api_pre_request), and the one statement, its values always
 * parameters.  libpq's pipeline mode sends them all in one round trip;
 * the statements before a Sync form one implicit transaction, so an error
 * anywhere undoes everything and leaves the connection clean.  Each
 * statement text is prepared once per connection (in the same pipeline the
 * first time it is used), so requests are planned from cache.
 *
 * A serialization failure or deadlock (40001, 40P01) means a concurrent
 * booking won a race the guard reports that way: the whole request is run
 * again, a few times, before it is answered 503.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "common/alloc.h"
#include "common/iso_time.h"

#define ATTEMPTS 3

static const char prelude[] =
	"SELECT pg_catalog.set_config('statement_timeout', $1, true),"
	" pg_catalog.set_config('TimeZone', 'UTC', true),"
	" pg_catalog.set_config('transaction_read_only', $2, true),"
	" pg_catalog.set_config('request.jwt.claims', $3, true),"
	" pg_catalog.set_config('role', $4, true)";
/* as the request's role, after the prelude */
static const char pre_request[] = "SELECT reflexo.api_set_language($1), reflexo.api_pre_request()";
static const char response_status[] = "SELECT pg_catalog.current_setting('response.status', true)";
/* a request's own choice of strict or flexible validation (the guard decides who may) */
static const char validation[] = "SELECT pg_catalog.set_config('reflexo.strict_validation', $1, true)";

/* What was sent, in order: each statement, and the prepares among them. */
typedef enum Sent
{
	SENT_PREPARE,
	SENT_SETUP,					/* prelude, pre_request: their rows do not matter */
	SENT_MAIN,
	SENT_STATUS
} Sent;

typedef struct Pipeline
{
	int			n;
	Sent		sent[8];
	char		names[8][DB_STATEMENT_NAME];	/* of the prepares */
} Pipeline;

/* libpq's notice receiver while a request runs: its WARNINGs go into the answer */
static void
collect_warning(void *arg, const PGresult *notice)
{
	json_t	  **warnings = arg;
	const char *severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *message = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);

	if (warnings == NULL || severity == NULL || strcmp(severity, "WARNING") != 0 || message == NULL)
		return;				/* between requests, or not a warning */
	if (*warnings == NULL)
		*warnings = json_array();
	json_array_append_new(*warnings, json_string(message));
}

/*
 * Sends one statement, prepared on this connection the first time its text
 * is seen (statements are planned once per connection, not per request).
 */
static bool
send_statement(Db *db, Pipeline *pipeline, Sent kind, const char *sql, int nparams, const char *const *params)
{
	char		name[DB_STATEMENT_NAME];
	bool		prepared;
	const char *known = db_statement(db, sql, name, &prepared);

	if (known && !prepared)
	{
		if (!PQsendPrepare(db->conn, known, sql, nparams, NULL))
			return false;
		snprintf(pipeline->names[pipeline->n], DB_STATEMENT_NAME, "%s", known);
		pipeline->sent[pipeline->n++] = SENT_PREPARE;
	}
	pipeline->sent[pipeline->n++] = kind;
	return known ? PQsendQueryPrepared(db->conn, known, nparams, params, NULL, NULL, 0)
		: PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

static void
fail_from(ApiResult *result, PGresult *pg)
{
	result->ok = false;
	result->sqlstate = PQresultErrorField(pg, PG_DIAG_SQLSTATE);
	result->message = PQresultErrorField(pg, PG_DIAG_MESSAGE_PRIMARY);
	result->detail = PQresultErrorField(pg, PG_DIAG_MESSAGE_DETAIL);
	result->hint = PQresultErrorField(pg, PG_DIAG_MESSAGE_HINT);
	result->constraint = PQresultErrorField(pg, PG_DIAG_CONSTRAINT_NAME);
}

/* Sends the pipeline; false if the connection refused it. */
/* The prelude's parameters for a request; timeout holds the text values[0] points to. */
static void
prelude_values(const ApiRequest *request, const ApiPlan *plan, int timeout_ms, char timeout[16], const char *values[4])
{
	snprintf(timeout, 16, "%d", timeout_ms);
	values[0] = timeout;
	values[1] = plan->read_only ? "on" : "off";
	values[2] = request->claims ? request->claims : "{\"role\": \"reflexo_anon\"}";
	values[3] = request->role;
}

static const char *
language_of(const ApiRequest *request)
{
	return request->language == LANGUAGE_EN ? "en" : "es";
}

static bool
send_pipeline(Db *db, Pipeline *pipeline, const ApiSettings *settings, const ApiRequest *request,
			  const ApiPlan *plan)
{
	char		timeout[16];
	const char *values[4];
	const char *language = language_of(request);

	prelude_values(request, plan, settings->statement_timeout_ms, timeout, values);
	return send_statement(db, pipeline, SENT_SETUP, prelude, 4, values) &&
		send_statement(db, pipeline, SENT_SETUP, pre_request, 1, &language) &&
		(plan->strict_validation == NULL ||
		 send_statement(db, pipeline, SENT_SETUP, validation, 1, &plan->strict_validation)) &&
		send_statement(db, pipeline, SENT_MAIN, plan->sql, plan->nparams, plan->params) &&
		(!plan->wants_status || send_statement(db, pipeline, SENT_STATUS, response_status, 0, NULL)) &&
		PQpipelineSync(db->conn);
}

/*
 * Reads every result up to the Sync, statement by statement; the first
 * error decides.  Prepares that succeeded are recorded on the connection.
 * A server that stops answering is given up at deadline_ms (the connection
 * closes), so no request thread waits for it longer.
 */
static void
read_pipeline(Db *db, const Pipeline *pipeline, ApiResult *result, PGresult **kept, int64_t deadline_ms)
{
	int			index = 0;

	result->ok = true;
	for (;;)
	{
		PGresult   *pg = db_await(db, deadline_ms) ? PQgetResult(db->conn) : NULL;
		Sent		kind = index < pipeline->n ? pipeline->sent[index] : SENT_SETUP;

		if (pg == NULL)
		{
			if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
				return;
			index++;			/* the end of one statement's results */
			continue;
		}
		switch (PQresultStatus(pg))
		{
			case PGRES_PIPELINE_SYNC:
				PQclear(pg);
				return;
			case PGRES_TUPLES_OK:
			case PGRES_COMMAND_OK:
				if (kind == SENT_PREPARE)
					db_statement_ready(db, pipeline->names[index]);
				else if (kind == SENT_MAIN)
				{
					result->found = PQntuples(pg) > 0 && PQnfields(pg) > 0;
					result->json = result->found && !PQgetisnull(pg, 0, 0) ? PQgetvalue(pg, 0, 0) : NULL;
					result->total = result->found && PQnfields(pg) > 1 && !PQgetisnull(pg, 0, 1) ? PQgetvalue(pg, 0, 1) : NULL;
					kept[0] = pg;
					continue;
				}
				else if (kind == SENT_STATUS && PQntuples(pg) > 0 && !PQgetisnull(pg, 0, 0) && *PQgetvalue(pg, 0, 0))
				{
					result->response_status = PQgetvalue(pg, 0, 0);
					kept[1] = pg;
					continue;
				}
				break;
			case PGRES_FATAL_ERROR:
				if (result->ok)
				{
					fail_from(result, pg);
					kept[2] = pg;
					continue;
				}
				break;
			default:			/* PGRES_PIPELINE_ABORTED after an error */
				break;
		}
		PQclear(pg);
	}
}

void
api_run(ApiServer *server, ApiRequest *request, const ApiPlan *plan, ApiResult *result)
{
	const ApiSettings *settings = api_settings();

	for (int attempt = 1; attempt <= ATTEMPTS; attempt++)
	{
		Db		   *db = db_pool_take(api_server_pool(server), 2000);
		PGresult   *kept[3] = {NULL, NULL, NULL};

		api_result_free(result);
		memset(result, 0, sizeof(*result));
		if (db == NULL || !db_ready(db))
		{
			result->unavailable = true;
			if (db)
				db_pool_give(api_server_pool(server), db);
			return;
		}
		if (PQpipelineStatus(db->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(db->conn))
			db_close(db);
		else
		{
			Pipeline	pipeline = {0};

			PQsetNoticeReceiver(db->conn, collect_warning, &result->warnings);
			if (send_pipeline(db, &pipeline, settings, request, plan))
				read_pipeline(db, &pipeline, result, kept,
							  monotonic_ms() + settings->statement_timeout_ms + 15000);
			if (db->conn)
				PQsetNoticeReceiver(db->conn, collect_warning, NULL);
			if (db->conn)
				db_statements_settle(db);
		}
		if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		{
			/* the server went away (a restart, a failover): nothing was committed */
			for (int i = 0; i < 3; i++)
				PQclear(kept[i]);
			json_decref(result->warnings);
			memset(result, 0, sizeof(*result));
			result->unavailable = true;
			db_close(db);
			db_pool_give(api_server_pool(server), db);
			return;
		}
		/* a statement prepared before the extension changed its result's type: prepare anew */
		if (!result->ok && result->sqlstate && strcmp(result->sqlstate, "0A000") == 0)
			db_close(db);
		db_pool_give(api_server_pool(server), db);
		result->pg = xcalloc(3, sizeof(PGresult *));
		memcpy(result->pg, kept, sizeof(kept));
		if (result->ok || result->sqlstate == NULL || attempt == ATTEMPTS ||
			(strcmp(result->sqlstate, "40001") != 0 && strcmp(result->sqlstate, "40P01") != 0 &&
			 strcmp(result->sqlstate, "0A000") != 0))
			return;
		usleep((useconds_t) (random() % 20000 * attempt));	/* let the winner commit */
	}
}

/*
 * The CSV export's way: COPY cannot travel in a pipeline, so its request's
 * transaction is opened statement by statement, with the same settings and
 * token check.  A failure fills result (keeping its PGresult) and rolls back.
 */
PGresult *
api_step(Db *db, const char *sql, int nparams, const char *const *params, ApiResult *result)
{
	PGresult   *pg;

	if (db->conn == NULL || !PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0) ||
		!db_await(db, monotonic_ms() + DB_ANSWER_MS) || (pg = PQgetResult(db->conn)) == NULL)
	{
		db_close(db);
		result->unavailable = true;
		return NULL;
	}
	if (PQresultStatus(pg) == PGRES_COPY_OUT)
		return pg;				/* its rows follow (PQgetCopyData) */
	for (PGresult *more; (more = PQgetResult(db->conn)) != NULL;)
		PQclear(more);
	if (PQresultStatus(pg) == PGRES_TUPLES_OK || PQresultStatus(pg) == PGRES_COMMAND_OK)
		return pg;
	fail_from(result, pg);
	result->pg = xcalloc(3, sizeof(PGresult *));
	((PGresult **) result->pg)[2] = pg;
	{
		ApiResult	rollback = {0};

		PQclear(api_step(db, "ROLLBACK", 0, NULL, &rollback));
		api_result_free(&rollback);
	}
	return NULL;
}

bool
api_begin(Db *db, const ApiRequest *request, const ApiPlan *plan, int timeout_ms, ApiResult *result)
{
	char		timeout[16];
	const char *values[4];
	const char *language = language_of(request);
	PGresult   *pg;

	memset(result, 0, sizeof(*result));
	if (PQpipelineStatus(db->conn) != PQ_PIPELINE_OFF && !PQexitPipelineMode(db->conn))
	{
		db_close(db);
		result->unavailable = true;
		return false;
	}
	prelude_values(request, plan, timeout_ms, timeout, values);
	if ((pg = api_step(db, "BEGIN", 0, NULL, result)) == NULL)
		return false;
	PQclear(pg);
	if ((pg = api_step(db, prelude, 4, values, result)) == NULL)
		return false;
	PQclear(pg);
	if ((pg = api_step(db, pre_request, 1, &language, result)) == NULL)
		return false;
	PQclear(pg);
	result->ok = true;
	return true;
}

void
api_result_free(ApiResult *result)
{
	PGresult  **kept = result->pg;

	if (kept)
	{
		for (int i = 0; i < 3; i++)
			PQclear(kept[i]);
		free(kept);
	}
	json_decref(result->warnings);
	memset(result, 0, sizeof(*result));
}
