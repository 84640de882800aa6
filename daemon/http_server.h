/*
 * http_server.h — reflexo-sync's HTTP side on libmicrohttpd, with every
 * resource bounded: bodies (413 before a byte of an oversized body is
 * read), headers (the per-connection memory limit), connections (in all
 * and per client address) and time (a connection idle for the timeout is
 * closed, so slow clients cannot hold the threads).
 *
 * Each connection has its own thread (the connection limits bound them), so
 * a handler may block (on the database, say) without holding up others.
 */
#ifndef REFLEXO_HTTP_SERVER_H
#define REFLEXO_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct HttpRequest
{
	const char *method;
	const char *path;
	const char *body;			/* NUL-terminated; may hold NULs before len */
	size_t		len;
	void	   *connection;		/* for the lookups below */
} HttpRequest;

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
} HttpReply;

typedef void (*HttpHandler) (void *context, const HttpRequest *request, HttpReply *reply);

typedef struct HttpLimits
{
	size_t		max_body;
	unsigned	connections;
	unsigned	connections_per_ip;
	unsigned	timeout_seconds;
	size_t		connection_memory;	/* request line and headers must fit */
} HttpLimits;

typedef struct HttpServer HttpServer;

/* Listens on host:port; NULL (with a message in error) if it cannot. */
extern HttpServer *http_server_start(const char *address, const HttpLimits *limits, HttpHandler handler,
									 void *context, char *error, size_t error_size);
extern void http_server_stop(HttpServer *server);

extern const char *http_header(const HttpRequest *request, const char *name);
extern const char *http_query(const HttpRequest *request, const char *name);

/* Replies with a JSON body (the reference is taken) or an error {"error": message}. */
extern void http_reply_json(HttpReply *reply, int status, json_t *body);
extern void http_reply_error(HttpReply *reply, int status, const char *message);
extern void http_reply_text(HttpReply *reply, int status, const char *content_type, const char *text, size_t len);

#endif							/* REFLEXO_HTTP_SERVER_H */
