/*
 * api_export.c — GET /api/ghl/citas/?format=csv (or Accept: text/csv): the
 * filtered citas, every page, as CSV for the clinic's spreadsheets.
 *
 * PostgreSQL writes the CSV (COPY ... TO STDOUT, FORMAT csv: its quoting,
 * not ours) and the rows stream to the client as they come, chunked, so an
 * export of any size holds a few kilobytes here.  COPY takes no parameters:
 * the filters travel as parameters of set_config and the query reads them
 * back with current_setting.  The database connection is held until the
 * body is sent, or the client goes away (then the connection is closed,
 * which ends the COPY and its transaction).
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "common/alloc.h"
#include "common/iso_time.h"

/* an export may stream for longer than a request's statement may run */
#define EXPORT_TIMEOUT_FACTOR 10

typedef struct Export
{
	ApiServer  *server;
	Db		   *db;
	char	   *pending;		/* a row not yet handed over whole (PQfreemem) */
	int			pending_len;
	int			pending_at;
	bool		finished;		/* COPY done and committed */
	int64_t		deadline_ms;
} Export;

bool
api_wants_csv(const ApiRequest *request)
{
	const char *format = http_query(request->http, "format");
	const char *accept = http_header(request->http, "Accept");

	if (format)
		return strcmp(format, "csv") == 0;
	return accept && strncasecmp(accept, "text/csv", 8) == 0;
}

/*
 * The next row of COPY's output (its length); -1 at its end, -2 if it
 * failed; 0 when none has arrived and the caller would rather not wait.
 */
static int
next_row(Export *export, bool wait)
{
	for (;;)
	{
		int			n = PQgetCopyData(export->db->conn, &export->pending, 1);

		if (n != 0 || !wait)
			return n;
		{
			struct pollfd fd = {.fd = PQsocket(export->db->conn), .events = POLLIN};
			int64_t		left = export->deadline_ms - monotonic_ms();

			if (left <= 0 || poll(&fd, 1, (int) (left > 1000 ? 1000 : left)) < 0 ||
				!PQconsumeInput(export->db->conn))
				return -2;
		}
	}
}

/* COPY is over: its outcome, then COMMIT. */
static bool
finish(Export *export)
{
	ApiResult	result = {0};
	PGresult   *pg = PQgetResult(export->db->conn);
	bool		ok = pg && PQresultStatus(pg) == PGRES_COMMAND_OK;

	PQclear(pg);
	while ((pg = PQgetResult(export->db->conn)) != NULL)
		PQclear(pg);
	if (ok)
	{
		pg = api_step(export->db, "COMMIT", 0, NULL, &result);
		ok = pg != NULL;
		PQclear(pg);
	}
	api_result_free(&result);
	export->finished = ok;
	return ok;
}

static long
read_csv(void *context, char *buffer, size_t size)
{
	Export	   *export = context;
	size_t		filled = 0;

	while (filled < size)
	{
		size_t		take;

		if (export->pending == NULL)
		{
			int			n;

			if (export->finished || export->db->conn == NULL)
				break;
			/* with something to send, send it rather than wait for more */
			n = next_row(export, filled == 0);
			if (n == 0)
				break;
			if (n == -1)
			{
				if (!finish(export))
					return -1;
				break;
			}
			if (n < 0)
				return -1;
			export->pending_len = n;
			export->pending_at = 0;
		}
		take = (size_t) (export->pending_len - export->pending_at);
		if (take > size - filled)
			take = size - filled;
		memcpy(buffer + filled, export->pending + export->pending_at, take);
		filled += take;
		export->pending_at += (int) take;
		if (export->pending_at == export->pending_len)
		{
			PQfreemem(export->pending);
			export->pending = NULL;
		}
	}
	return (long) filled;
}

static void
end_csv(void *context)
{
	Export	   *export = context;

	if (export->pending)
		PQfreemem(export->pending);
	if (!export->finished)
		db_close(export->db);	/* ends the COPY and rolls its transaction back */
	db_pool_give(api_server_pool(export->server), export->db);
	free(export);
}

void
api_export_csv(ApiServer *server, ApiRequest *request, const ApiPlan *plan, ApiResult *result)
{
	int			timeout_ms = api_settings()->statement_timeout_ms * EXPORT_TIMEOUT_FACTOR;
	Db		   *db = db_pool_take(api_server_pool(server), 2000);
	PGresult   *pg = NULL;
	Export	   *export;

	if (db == NULL || !db_ready(db))
	{
		result->unavailable = true;
		if (db)
			db_pool_give(api_server_pool(server), db);
		return;
	}
	if (api_begin(db, request, plan, timeout_ms, result))
	{
		/* the filters, as the listing's $1..$3 */
		const char *filters[3] = {plan->params[0] ? plan->params[0] : "", plan->params[1] ? plan->params[1] : "",
		plan->params[2] ? plan->params[2] : ""};

		pg = api_step(db, "SELECT pg_catalog.set_config('request.csv.status', $1, true),"
					  " pg_catalog.set_config('request.csv.desde', $2, true),"
					  " pg_catalog.set_config('request.csv.hasta', $3, true)", 3, filters, result);
		if (pg)
		{
			PQclear(pg);
			pg = api_step(db, plan->sql, 0, NULL, result);
		}
	}
	if (pg == NULL)
	{
		result->ok = false;
		db_pool_give(api_server_pool(server), db);
		return;
	}
	PQclear(pg);
	export = xcalloc(1, sizeof(*export));
	export->server = server;
	export->db = db;
	export->deadline_ms = monotonic_ms() + timeout_ms;
	request->reply->status = 200;
	request->reply->content_type = "text/csv; charset=utf-8";
	http_reply_header(request->reply, "Content-Disposition", "attachment; filename=\"citas.csv\"");
	request->reply->stream = (HttpStream) {.read = read_csv, .end = end_csv, .context = export};
	result->ok = true;
}
