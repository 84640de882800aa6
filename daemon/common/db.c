/*
 * db.c — connections that come back, and waits that end.  A failed query on
 * a broken connection closes it; db_ready() reconnects after a backoff
 * (0.5 s doubling to 30 s, +/-25% jitter) so several daemons do not stampede
 * a restarting server.  No wait for the database is unbounded: every answer
 * is awaited with poll() up to DB_ANSWER_MS (a black-holed connection, which
 * TCP may not notice for many minutes, is then given up and reopened), or
 * until the interrupt descriptor (the daemon's signals) becomes readable.
 */
#include "common/db.h"
#include "common/alloc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/iso_time.h"
#include "common/log.h"

static const char *program = "reflexo";
static int	interrupt_fd = -1;

void
db_set_interrupt(int fd)
{
	interrupt_fd = fd;
}

void
db_set_program(const char *name)
{
	program = name;
}

void
db_init(Db *db, const char *conninfo, const char *role)
{
	memset(db, 0, sizeof(*db));
	db->conninfo = xstrdup(conninfo);
	db->role = role;
}

#define MAX_STATEMENTS 256

struct DbStatement
{
	uint64_t	hash;
	char	   *sql;
	bool		ready;			/* its prepare succeeded */
};

void
db_close(Db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	PQclear(db->answer);
	db->answer = NULL;
	db->prepared = 0;
	for (int i = 0; i < db->nstatements; i++)
		free(db->statements[i].sql);
	free(db->statements);
	db->statements = NULL;
	db->nstatements = 0;
}

static uint64_t
text_hash(const char *text)
{
	uint64_t	hash = 14695981039346656037ULL;	/* FNV-1a */

	for (; *text; text++)
		hash = (hash ^ (unsigned char) *text) * 1099511628211ULL;
	return hash;
}

const char *
db_statement(Db *db, const char *sql, char name[DB_STATEMENT_NAME], bool *prepared)
{
	uint64_t	hash = text_hash(sql);

	for (int i = 0; i < db->nstatements; i++)
		if (db->statements[i].hash == hash && strcmp(db->statements[i].sql, sql) == 0)
		{
			snprintf(name, DB_STATEMENT_NAME, "r%d", i);
			*prepared = db->statements[i].ready;
			return name;
		}
	*prepared = false;
	if (db->nstatements == MAX_STATEMENTS)
		return NULL;
	if (db->statements == NULL)
		db->statements = xcalloc(MAX_STATEMENTS, sizeof(*db->statements));
	db->statements[db->nstatements].hash = hash;
	db->statements[db->nstatements].sql = xstrdup(sql);
	db->statements[db->nstatements].ready = false;
	snprintf(name, DB_STATEMENT_NAME, "r%d", db->nstatements++);
	return name;
}

void
db_statement_ready(Db *db, const char *name)
{
	int			i = atoi(name + 1);

	if (i >= 0 && i < db->nstatements)
		db->statements[i].ready = true;
}

void
db_statements_settle(Db *db)
{
	/* a pipeline stops at its first error: statements not ready are the last ones */
	while (db->nstatements > 0 && !db->statements[db->nstatements - 1].ready)
		free(db->statements[--db->nstatements].sql);
}

static double
jitter(void)
{
	return 0.75 + (double) (random() % 1000) / 2000.0;
}

/*
 * The next try: 0.5 s, doubling up to 5 s (with jitter).  A failover makes a
 * database unreachable for seconds, not minutes; a longer wait would only
 * keep the daemon away from the new primary.
 */
static void
retry_later(Db *db)
{
	db->backoff_ms = db->backoff_ms ? (db->backoff_ms * 2 > 5000 ? 5000 : db->backoff_ms * 2) : 500;
	db->retry_at_ms = monotonic_ms() + (int64_t) (db->backoff_ms * jitter());
}

char *
db_server_description(PGconn *conn)
{
	PGresult   *r = PQexec(conn, "SELECT pg_catalog.pg_is_in_recovery()");
	bool		known = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	char	   *text = xasprintf("%s:%s, %s", PQhost(conn), PQport(conn),
								 !known ? "of unknown role" : strcmp(PQgetvalue(r, 0, 0), "t") == 0 ?
								 "a standby: read-only" : "the primary");

	PQclear(r);
	return text;
}

static void
lost(Db *db, const char *why)
{
	log_warn("DATABASE", "database connection lost",
			 json_pack("{s:s, s:s}", "connection", db->role, "error", why ? why : ""));
	db_close(db);
	retry_later(db);
}

bool
db_ready(Db *db)
{
	char		application_name[64];
	const char *keys[] = {"application_name", "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "connect_timeout", "options", "dbname", NULL};
	const char *values[10];

	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	if (db->conn)
		lost(db, PQerrorMessage(db->conn));
	if (monotonic_ms() < db->retry_at_ms)
		return false;

	snprintf(application_name, sizeof(application_name), "%s %s", program, db->role);
	values[0] = application_name;
	/* a dead peer is noticed within about 25 s, idle or not */
	values[1] = "1";
	values[2] = "10";
	values[3] = "5";
	values[4] = "3";
	values[5] = "15000";
	values[6] = "10";
	values[7] = "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000";
	values[8] = db->conninfo;
	values[9] = NULL;
	db->conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(db->conn) != CONNECTION_OK)
	{
		char	   *error = xstrdup(PQerrorMessage(db->conn));

		/* the first line is enough, and holds no password */
		error[strcspn(error, "\n")] = '\0';
		log_warn("DATABASE", "cannot connect to the database",
				 json_pack("{s:s, s:s}", "connection", db->role, "error", error));
		free(error);
		db_close(db);
		retry_later(db);
		return false;
	}
	db->backoff_ms = 0;
	db->fresh = true;
	/* which server: with several hosts in DATABASE_URL, the primary libpq found */
	log_info("DATABASE", "connected", json_pack("{s:s, s:s?, s:s?}", "connection", db->role, "host", PQhost(db->conn),
												"port", PQport(db->conn)));
	return true;
}

/* Logs a failed result; closes the connection if it broke.  Always false. */
static bool
db_fail(Db *db, PGresult *result, const char *what)
{
	const char *state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
	const char *message = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		lost(db, db->conn ? PQerrorMessage(db->conn) : "no connection");
	else
		log_error("DATABASE", "query failed",
				  json_pack("{s:s, s:s, s:s, s:s}", "connection", db->role, "query", what,
							"sqlstate", state ? state : "", "error", message ? message : PQerrorMessage(db->conn)));
	PQclear(result);
	return false;
}

bool
db_await(Db *db, int64_t deadline_ms)
{
	while (PQisBusy(db->conn))
	{
		struct pollfd fds[2] = {{.fd = PQsocket(db->conn), .events = POLLIN}, {.fd = interrupt_fd, .events = POLLIN}};
		int64_t		left = deadline_ms - monotonic_ms();
		int			n;

		if (left <= 0)
		{
			lost(db, "the database did not answer in time: giving the connection up");
			return false;
		}
		n = poll(fds, interrupt_fd >= 0 ? 2 : 1, (int) (left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
		{
			lost(db, strerror(errno));
			return false;
		}
		if (n > 0 && interrupt_fd >= 0 && (fds[1].revents & POLLIN))
		{
			lost(db, "a signal came while waiting for the database: giving the connection up");
			return false;
		}
		if (n > 0 && !PQconsumeInput(db->conn))
		{
			lost(db, PQerrorMessage(db->conn));
			return false;
		}
	}
	return true;
}

/*
 * The result of what was just sent (the last one, for one statement), or
 * NULL with the connection closed when sending failed or no answer came.
 */
static PGresult *
answer(Db *db, bool sent)
{
	int64_t		deadline = monotonic_ms() + DB_ANSWER_MS;
	PGresult   *result = NULL;
	PGresult   *next;

	if (!sent)
	{
		lost(db, PQerrorMessage(db->conn));
		return NULL;
	}
	for (;;)
	{
		if (!db_await(db, deadline))
		{
			PQclear(result);
			return NULL;
		}
		if ((next = PQgetResult(db->conn)) == NULL)
			break;
		PQclear(result);
		result = next;
	}
	return result;
}

PGresult *
db_query(Db *db, const char *sql, int nparams, const char *const *values)
{
	PGresult   *result;

	if (!db_ready(db))
		return NULL;
	result = answer(db, PQsendQueryParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0));
	if (result == NULL)
		return NULL;
	if (PQresultStatus(result) != PGRES_TUPLES_OK && PQresultStatus(result) != PGRES_COMMAND_OK)
	{
		db_fail(db, result, sql);
		return NULL;
	}
	return result;
}

bool
db_send(Db *db, const char *sql, int nparams, const char *const *values)
{
	if (!db_ready(db))
		return false;
	if (!PQsendQueryParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0))
	{
		lost(db, PQerrorMessage(db->conn));
		return false;
	}
	db->sent = sql;
	db->answer_by_ms = monotonic_ms() + DB_ANSWER_MS;
	return true;
}

bool
db_finished(Db *db, PGresult **result)
{
	PGresult   *next;

	*result = NULL;
	if (db->conn == NULL)
		return true;			/* lost since */
	if (!PQconsumeInput(db->conn))
	{
		lost(db, PQerrorMessage(db->conn));
		return true;
	}
	while (!PQisBusy(db->conn))
	{
		if ((next = PQgetResult(db->conn)) == NULL)
		{
			next = db->answer;
			db->answer = NULL;
			if (PQresultStatus(next) != PGRES_TUPLES_OK && PQresultStatus(next) != PGRES_COMMAND_OK)
				db_fail(db, next, db->sent);
			else
				*result = next;
			return true;
		}
		PQclear(db->answer);
		db->answer = next;
	}
	if (monotonic_ms() >= db->answer_by_ms)
	{
		lost(db, "the database did not answer in time: giving the connection up");
		return true;
	}
	return false;
}

PGresult *
db_exec_prepared(Db *db, unsigned id, const char *sql, int nparams, const char *const *values)
{
	char		name[16];
	PGresult   *result;

	if (!db_ready(db))
		return NULL;
	snprintf(name, sizeof(name), "reflexo_%u", id);
	if (!(db->prepared & (1u << id)))
	{
		result = answer(db, PQsendPrepare(db->conn, name, sql, nparams, NULL));
		if (result == NULL)
			return NULL;
		if (PQresultStatus(result) != PGRES_COMMAND_OK)
		{
			if (PQstatus(db->conn) != CONNECTION_OK)
			{
				lost(db, PQerrorMessage(db->conn));
				PQclear(result);
				return NULL;
			}
			return result;		/* the caller reads the error */
		}
		PQclear(result);
		db->prepared |= 1u << id;
	}
	result = answer(db, PQsendQueryPrepared(db->conn, name, nparams, values, NULL, NULL, 0));
	if (result == NULL)
		return NULL;
	if (PQstatus(db->conn) != CONNECTION_OK)
	{
		lost(db, PQerrorMessage(db->conn));
		PQclear(result);
		return NULL;
	}
	return result;
}

bool
db_command(Db *db, const char *sql, int nparams, const char *const *values)
{
	PGresult   *result = db_query(db, sql, nparams, values);

	PQclear(result);
	return result != NULL;
}

int
db_socket(Db *db)
{
	return db->conn ? PQsocket(db->conn) : -1;
}

/* Hands each NOTIFY received to the handler; false if the connection broke. */
bool
db_notifications(Db *db, NotifyHandler handler, void *context)
{
	PGnotify   *notify;

	if (db->conn == NULL)
		return false;
	if (!PQconsumeInput(db->conn))
	{
		lost(db, PQerrorMessage(db->conn));
		return false;
	}
	while ((notify = PQnotifies(db->conn)) != NULL)
	{
		handler(context, notify->relname, notify->extra);
		PQfreemem(notify);
	}
	return true;
}
