/*
 * http_server.h — the daemons' HTTP servers (reflexo-sync, reflexo-api,
 * ghl-sim) on libmicrohttpd, with every resource bounded: bodies (413
 * before a byte of an oversized body is read), headers (the per-connection
 * memory limit), connections (in all and per client address) and time: a
 * connection idle for the timeout is closed, and so is one whose request
 * has not fully arrived within the request deadline, however steadily its
 * bytes trickle in (a slow sender cannot hold a connection).
 *
 * By default each connection has its own thread (the connection limits
 * bound them), so a handler may block (on the database, say) without
 * holding up others.  With HttpLimits.workers, workers + 1 threads serve
 * all connections (epoll), at most `workers` of them in handlers at once:
 * a request that finds every place taken waits in one queue, oldest first,
 * for the next handler to end.  A busy server so hands few requests from
 * thread to thread, and one thread is always free to take new connections
 * and answer requests the quick test accepts (probes, preflights) even
 * while every handler waits on the database; a connection's later requests
 * wait while its own thread is in a handler.
 */
#ifndef REFLEXO_HTTP_SERVER_H
#define REFLEXO_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_PARAMS 64
#define HTTP_MAX_HEADERS 12

/* Name/value pairs in arrival order (a query string, a form body). */
typedef struct HttpParams
{
	int			count;
	bool		truncated;		/* more than HTTP_MAX_PARAMS arrived */
	const char *keys[HTTP_MAX_PARAMS];
	const char *values[HTTP_MAX_PARAMS];
} HttpParams;

typedef struct HttpRequest
{
	const char *method;
	const char *path;			/* decoded, without the query string */
	const char *body;			/* NUL-terminated; may hold NULs before len */
	size_t		len;
	HttpParams	query;
	HttpParams	form;			/* an application/x-www-form-urlencoded body */
	HttpParams	headers;		/* names in any case (http_header) */
	const char *client;			/* the peer's address, e.g. 127.0.0.1 or ::1 */
} HttpRequest;

/*
 * A body produced while it is sent (chunked): read fills buffer with up to
 * size bytes and returns how many, 0 at the end, -1 on a failure (the
 * connection is then closed mid-body, so the client sees it incomplete).
 * end is called once, whether the body was sent whole, failed, or the
 * client went away.  Both run on the connection's thread.
 */
typedef struct HttpStream
{
	long		(*read) (void *context, char *buffer, size_t size);
	void		(*end) (void *context);
	void	   *context;
} HttpStream;

typedef struct HttpReply
{
	int			status;
	const char *content_type;
	char	   *body;			/* malloc'd; freed by the server */
	size_t		len;
	const char *location;		/* a redirect, or NULL */
	const char *cache_control;	/* or NULL */
	const char *allow;			/* with a 405 */
	int			retry_after;	/* seconds, with a 429 or 503; 0: none */
	bool		drop;			/* close the connection without answering */
	HttpStream	stream;			/* instead of body, when stream.read is set */
	int			nheaders;		/* any other headers (http_reply_header) */
	char	   *header_names[HTTP_MAX_HEADERS];
	char	   *header_values[HTTP_MAX_HEADERS];
} HttpReply;

typedef void (*HttpHandler) (void *context, const HttpRequest *request, HttpReply *reply);

typedef struct HttpLimits
{
	size_t		max_body;
	unsigned	connections;
	unsigned	connections_per_ip; /* 0: no limit */
	unsigned	timeout_seconds;	/* idle time */
	unsigned	deadline_seconds;	/* to receive a whole request; 0: none */
	size_t		connection_memory;	/* request line and headers must fit */
	unsigned	workers;		/* 0: a thread per connection; else handlers running at once */
	bool		(*quick) (const HttpRequest *request);	/* with workers: answered without one (must not block) */
} HttpLimits;

typedef struct HttpServer HttpServer;

/* Listens on host:port (IPv4 or [IPv6]); NULL (with a message in error) if it cannot. */
extern HttpServer *http_server_start(const char *address, const HttpLimits *limits, HttpHandler handler,
									 void *context, char *error, size_t error_size);
extern void http_server_stop(HttpServer *server);

/* A header's value (the name in any case), or NULL. */
extern const char *http_header(const HttpRequest *request, const char *name);
extern const char *http_query(const HttpRequest *request, const char *name);
extern const char *http_param(const HttpParams *params, const char *name);

/* Replies with a JSON body (the reference is taken) or an error {"error": message}. */
extern void http_reply_json(HttpReply *reply, int status, json_t *body);
extern void http_reply_error(HttpReply *reply, int status, const char *message);
extern void http_reply_text(HttpReply *reply, int status, const char *content_type, const char *text, size_t len);
/* Adds a header (both strings are copied); beyond HTTP_MAX_HEADERS it is dropped. */
extern void http_reply_header(HttpReply *reply, const char *name, const char *value);

#endif							/* REFLEXO_HTTP_SERVER_H */
