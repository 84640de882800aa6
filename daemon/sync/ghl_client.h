/*
 * ghl_client.h — asynchronous HTTP calls to GHL with the libcurl multi
 * interface: many requests in flight on kept-alive connections (HTTP/2 when
 * the server offers it), each with a deadline.  Completions are delivered
 * by ghl_client_dispatch() in the calling thread.
 */
#ifndef REFLEXO_GHL_CLIENT_H
#define REFLEXO_GHL_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct GhlResponse
{
	long		status;			/* 0 when no HTTP answer came */
	CURLcode	error;
	char		error_text[CURL_ERROR_SIZE];
	char	   *body;
	size_t		body_len;
	json_t	   *json;			/* parsed body, or NULL */
	int			rate_remaining; /* X-RateLimit-Remaining, -1 if absent */
	int			rate_max;		/* X-RateLimit-Max */
	int			rate_interval_ms;	/* X-RateLimit-Interval-Milliseconds */
	int			daily_remaining;	/* X-RateLimit-Daily-Remaining */
	int64_t		retry_after_ms; /* Retry-After, -1 if absent */
	double		duration_ms;
} GhlResponse;

typedef void (*GhlCallback) (GhlResponse *response, void *context);

typedef struct GhlClient GhlClient;

typedef struct GhlCall
{
	const char *method;			/* GET, POST, PUT, DELETE */
	const char *url;
	const char *bearer;			/* token, or NULL */
	const char *version;		/* Version header, or NULL */
	const char *content_type;
	const char *body;			/* copied */
	bool		not_idempotent; /* a create or a token refresh: see ghl_client.c */
} GhlCall;

/* max_connections: to GHL's one host, as many as requests may be in flight */
extern GhlClient *ghl_client_new(int timeout_ms, int max_connections);
extern void ghl_client_free(GhlClient *client);
extern bool ghl_client_send(GhlClient *client, const GhlCall *call, GhlCallback callback, void *context);

/* One call, waited for in the calling thread (which may be any thread). */
extern bool ghl_call(const GhlCall *call, int timeout_ms, GhlCallback callback, void *context);

/* Waits up to timeout_ms for GHL sockets or the extra descriptors. */
extern void ghl_client_wait(GhlClient *client, struct curl_waitfd *extra, unsigned int nextra, int timeout_ms);
extern void ghl_client_dispatch(GhlClient *client);

/* GHL's error text: message (joined if an array), else error, else detail, else the status. */
extern char *ghl_error_message(const GhlResponse *response);
extern bool token_rejected(const char *message);

extern char *url_escape(const char *text);

/* A header's non-negative integer ("42"), strictly; false for anything else. */
extern bool ghl_parse_count(const char *text, long *value);

/* Retry-After (seconds or an HTTP date) in milliseconds from now, at most a day; -1 if unreadable. */
extern int64_t ghl_parse_retry_after(const char *text, time_t now);

#endif							/* REFLEXO_GHL_CLIENT_H */
