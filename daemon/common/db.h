/*
 * db.h — database connections of the daemons (libpq): connect with
 * keepalives, reconnect with backoff and jitter, and notice lost connections.
 */
#ifndef REFLEXO_DB_H
#define REFLEXO_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Db
{
	PGconn	   *conn;
	char	   *conninfo;
	const char *role;			/* "listen", "worker", "http": for logs and application_name */
	int64_t		retry_at_ms;
	int			backoff_ms;
	bool		fresh;			/* connected since the owner last looked */
	unsigned	prepared;		/* bit i: statement i of db_exec_prepared is prepared here */
	int			nstatements;	/* statements prepared here by their text (db_statement) */
	struct DbStatement *statements;
	/* a statement sent by db_send: what has arrived of its answer, and until when to wait */
	const char *sent;
	PGresult   *answer;
	int64_t		answer_by_ms;
} Db;

/*
 * Which server a connection reached, for --check-config: "127.0.0.1:5432,
 * the primary" (or "..., a standby: read-only").  With several hosts in
 * DATABASE_URL (a failover formation), libpq picks; this says which.  Malloc'd.
 */
extern char *db_server_description(PGconn *conn);

/* The program's name, first in every connection's application_name. */
extern void db_set_program(const char *name);
extern void db_init(Db *db, const char *conninfo, const char *role);
extern void db_close(Db *db);
extern bool db_ready(Db *db);
extern PGresult *db_query(Db *db, const char *sql, int nparams, const char *const *values);
extern bool db_command(Db *db, const char *sql, int nparams, const char *const *values);

/*
 * Runs a statement prepared once per connection (id, 0-31, names it) and
 * returns its result even when it failed, for a caller that answers by
 * SQLSTATE; NULL when there is no connection (then, or if the connection
 * broke, it is closed for a later reconnect).
 */
extern PGresult *db_exec_prepared(Db *db, unsigned id, const char *sql, int nparams, const char *const *values);
/*
 * Statements prepared on this connection, by their text, for pipelines
 * (which send PQsendPrepare and PQsendQueryPrepared themselves).  The name
 * of sql on this connection (NULL when no more can be kept: send it
 * unnamed); *prepared says whether it exists already, else the caller
 * prepares it in this pipeline and, once its prepare succeeded, says so
 * with db_statement_ready.  db_statements_settle forgets those whose
 * prepare never ran or failed.  A closed connection forgets them all.
 */
#define DB_STATEMENT_NAME 16
extern const char *db_statement(Db *db, const char *sql, char name[DB_STATEMENT_NAME], bool *prepared);
extern void db_statement_ready(Db *db, const char *name);
extern void db_statements_settle(Db *db);
/*
 * No wait for an answer lasts longer than this: the server's own
 * statement_timeout (30 s) is the rule, this the bound when the server or
 * the network stops answering at all.
 */
#define DB_ANSWER_MS 45000
/*
 * A statement whose answer the caller does not wait for (its loop has other
 * work): db_send sends it (false, the connection closed, if it could not);
 * db_finished reads what has arrived without waiting and says whether the
 * answer is complete.  Then *result is the result, the caller's to PQclear,
 * or NULL if the statement failed (logged; a broken connection is closed,
 * as is one that gave no answer within DB_ANSWER_MS).  Wait on db_socket
 * meanwhile.
 */
extern bool db_send(Db *db, const char *sql, int nparams, const char *const *values);
extern bool db_finished(Db *db, PGresult **result);
/* Waits until a result is ready, up to deadline_ms (monotonic_ms()); false, with the connection closed, if none came. */
extern bool db_await(Db *db, int64_t deadline_ms);
/* A descriptor whose readiness (a pending signal) ends any wait for the database at once. */
extern void db_set_interrupt(int fd);
extern int	db_socket(Db *db);
typedef void (*NotifyHandler) (void *context, const char *channel, const char *payload);
extern bool db_notifications(Db *db, NotifyHandler handler, void *context);

/* A fixed set of connections shared by threads: take one, use it, give it back. */
typedef struct DbPool DbPool;

extern DbPool *db_pool_new(const char *conninfo, int size, const char *role);
extern Db  *db_pool_take(DbPool *pool, int wait_ms);
extern void db_pool_give(DbPool *pool, Db *db);
extern void db_pool_free(DbPool *pool);

#endif							/* REFLEXO_DB_H */
