/*
 * http_server.c — see http_server.h.  libmicrohttpd parses HTTP (and form
 * bodies, with its post processor); this file collects bodies within their
 * bound, turns replies into responses, and enforces the request deadline.
 *
 * The deadline: libmicrohttpd's timeout counts idle time only, so a client
 * sending a header line every few seconds would hold its connection for
 * ever.  Each connection is watched from when it opens (or its previous
 * request was answered) until its request has fully arrived; a watchdog
 * thread shuts down the socket of one that takes longer than the deadline.
 * A connection is forgotten by the watchdog, under its lock, before
 * libmicrohttpd closes its socket, so the watchdog never touches a socket
 * number that has been reused.
 *
 * With workers: a thread that reads a complete request runs its handler at
 * once when fewer than `workers` handlers are running.  Otherwise the
 * request is queued and its connection suspended; each thread whose handler
 * ends runs the queued requests, oldest first, before it gives its place
 * up, and resumes their connections, on which libmicrohttpd then calls
 * handle() again to send the reply left there.  So a request is only handed
 * between threads when all places are taken, and there is always a thread
 * (one more than places) to read requests and answer quick ones.
 */
#include "common/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/iso_time.h"
#include "common/listen_address.h"

/* A connection as the watchdog sees it. */
typedef struct Watch
{
	struct Watch *next;
	int			fd;
	int64_t		since_ms;		/* opened, or its last request answered */
	bool		handling;		/* its request arrived: the handler has it */
	bool		cut;
} Watch;

/* One request being received, handled and answered. */
typedef struct Exchange
{
	char	   *body;
	size_t		len;
	bool		too_big;
	struct MHD_PostProcessor *post;
	HttpParams	form;			/* values malloc'd */
	char		client[64];
	HttpRequest request;
	HttpReply	reply;
	struct MHD_Connection *connection;
	bool		queued;			/* suspended: a worker has it, or has answered it */
	struct Exchange *next;		/* in the queue */
} Exchange;

struct HttpServer
{
	struct MHD_Daemon *mhd;
	HttpHandler handler;
	void	   *context;
	HttpLimits	limits;
	pthread_mutex_t lock;		/* watches */
	Watch	   *watches;
	pthread_t	watchdog;
	bool		stopping;
	pthread_mutex_t queue_lock; /* running, and the queue: oldest first */
	unsigned	running;		/* handlers running; the queue is empty unless all places are taken */
	Exchange   *first;
	Exchange   *last;
	bool		draining;		/* stopping: nothing more is queued */
};

static void
http_reply_free_body(HttpReply *reply)
{
	free(reply->body);
	reply->body = NULL;
}

void
http_reply_text(HttpReply *reply, int status, const char *content_type, const char *text, size_t len)
{
	http_reply_free_body(reply);
	reply->status = status;
	reply->content_type = content_type;
	reply->body = xmalloc(len + 1);
	memcpy(reply->body, text, len);
	reply->body[len] = '\0';
	reply->len = len;
}

void
http_reply_json(HttpReply *reply, int status, json_t *body)
{
	http_reply_free_body(reply);
	reply->status = status;
	reply->content_type = "application/json";
	reply->body = json_dumps(body, JSON_COMPACT);
	reply->len = reply->body ? strlen(reply->body) : 0;
	json_decref(body);
}

void
http_reply_error(HttpReply *reply, int status, const char *message)
{
	http_reply_json(reply, status, json_pack("{s:s, s:i}", "error", message, "status", status));
}

void
http_reply_header(HttpReply *reply, const char *name, const char *value)
{
	if (reply->nheaders == HTTP_MAX_HEADERS)
		return;
	reply->header_names[reply->nheaders] = xstrdup(name);
	reply->header_values[reply->nheaders] = xstrdup(value);
	reply->nheaders++;
}

const char *
http_header(const HttpRequest *request, const char *name)
{
	for (int i = 0; i < request->headers.count; i++)
		if (strcasecmp(request->headers.keys[i], name) == 0)
			return request->headers.values[i];
	return NULL;
}

const char *
http_param(const HttpParams *params, const char *name)
{
	for (int i = 0; i < params->count; i++)
		if (strcmp(params->keys[i], name) == 0)
			return params->values[i];
	return NULL;
}

const char *
http_query(const HttpRequest *request, const char *name)
{
	return http_param(&request->query, name);
}

static void
reply_free(HttpReply *reply)
{
	free(reply->body);
	for (int i = 0; i < reply->nheaders; i++)
	{
		free(reply->header_names[i]);
		free(reply->header_values[i]);
	}
}

static ssize_t
stream_read(void *cls, uint64_t position, char *buffer, size_t size)
{
	HttpStream *stream = cls;
	long		n = stream->read(stream->context, buffer, size);

	(void) position;
	return n > 0 ? (ssize_t) n : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
stream_end(void *cls)
{
	HttpStream *stream = cls;

	stream->end(stream->context);
	free(stream);
}

static struct MHD_Response *
response_of(HttpReply *reply)
{
	if (reply->stream.read)
	{
		HttpStream *stream = xmalloc(sizeof(*stream));
		struct MHD_Response *response;

		*stream = reply->stream;
		response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, stream, stream_end);
		if (response == NULL)
			stream_end(stream);
		return response;
	}
	return MHD_create_response_from_buffer(reply->len, reply->body ? reply->body : "", MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result
send_reply(struct MHD_Connection *connection, HttpReply *reply)
{
	struct MHD_Response *response;
	enum MHD_Result result;

	if (reply->drop)
	{
		if (reply->stream.end)
			reply->stream.end(reply->stream.context);
		reply_free(reply);
		return MHD_NO;
	}
	response = response_of(reply);
	if (response == NULL)
	{
		reply_free(reply);
		return MHD_NO;
	}
	MHD_add_response_header(response, "Content-Type", reply->content_type ? reply->content_type : "application/json");
	MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
	if (reply->location)
		MHD_add_response_header(response, "Location", reply->location);
	if (reply->cache_control)
		MHD_add_response_header(response, "Cache-Control", reply->cache_control);
	if (reply->allow)
		MHD_add_response_header(response, "Allow", reply->allow);
	if (reply->retry_after > 0)
	{
		char		seconds[16];

		snprintf(seconds, sizeof(seconds), "%d", reply->retry_after);
		MHD_add_response_header(response, "Retry-After", seconds);
	}
	for (int i = 0; i < reply->nheaders; i++)
		MHD_add_response_header(response, reply->header_names[i], reply->header_values[i]);
	result = MHD_queue_response(connection, (unsigned int) reply->status, response);
	MHD_destroy_response(response);
	reply_free(reply);
	return result;
}

static enum MHD_Result
too_big(struct MHD_Connection *connection, size_t max_body)
{
	HttpReply	reply = {0};
	char		message[80];

	snprintf(message, sizeof(message), "the body is larger than %zu bytes", max_body);
	http_reply_error(&reply, 413, message);
	return send_reply(connection, &reply);
}

static enum MHD_Result
collect_form(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
			 const char *content_type, const char *transfer_encoding, const char *data,
			 uint64_t offset, size_t size)
{
	HttpParams *form = cls;

	(void) kind;
	(void) filename;
	(void) content_type;
	(void) transfer_encoding;
	if (offset == 0)
	{
		if (form->count == HTTP_MAX_PARAMS)
		{
			form->truncated = true;
			return MHD_YES;
		}
		form->keys[form->count] = xstrdup(key);
		form->values[form->count] = xstrndup(data ? data : "", size);
		form->count++;
	}
	else if (form->count > 0 && !form->truncated)
	{
		/* a long value arrives in pieces */
		char	   *joined = xasprintf("%s%.*s", form->values[form->count - 1], (int) size, data);

		free((char *) form->values[form->count - 1]);
		form->values[form->count - 1] = joined;
	}
	return MHD_YES;
}

/* a query parameter or a header, as libmicrohttpd decoded it */
static enum MHD_Result
collect_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	HttpParams *query = cls;

	(void) kind;
	if (query->count == HTTP_MAX_PARAMS)
		query->truncated = true;
	else
	{
		query->keys[query->count] = key;
		query->values[query->count] = value ? value : "";
		query->count++;
	}
	return MHD_YES;
}

static Watch *
watch_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

static void
set_handling(HttpServer *server, struct MHD_Connection *connection, bool handling)
{
	Watch	   *watch = watch_of(connection);

	if (watch == NULL)
		return;
	pthread_mutex_lock(&server->lock);
	watch->handling = handling;
	if (!handling)
		watch->since_ms = monotonic_ms();
	pthread_mutex_unlock(&server->lock);
}

static void
client_address(struct MHD_Connection *connection, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info ? info->client_addr : NULL;

	snprintf(buf, size, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, buf, (socklen_t) size);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, buf, (socklen_t) size);
}

static void
run_handler(HttpServer *server, Exchange *ex)
{
	server->handler(server->context, &ex->request, &ex->reply);
	if (ex->reply.status == 0 && !ex->reply.drop)
		http_reply_error(&ex->reply, 500, "no reply");
}

/* The reply the handler left; the exchange no longer owns it. */
static enum MHD_Result
send_exchange_reply(struct MHD_Connection *connection, Exchange *ex)
{
	HttpReply	reply = ex->reply;

	memset(&ex->reply, 0, sizeof(ex->reply));
	return send_reply(connection, &reply);
}

typedef enum Turn
{
	TURN_RUN,					/* a place was free: run it now */
	TURN_QUEUED,				/* suspended until a running handler gets to it */
	TURN_REFUSED				/* the server is stopping */
} Turn;

static Turn
take_turn(HttpServer *server, Exchange *ex, struct MHD_Connection *connection)
{
	Turn		turn;

	pthread_mutex_lock(&server->queue_lock);
	if (server->draining)
		turn = TURN_REFUSED;
	else if (server->running < server->limits.workers)
	{
		server->running++;
		turn = TURN_RUN;
	}
	else
	{
		ex->connection = connection;
		ex->queued = true;
		ex->next = NULL;
		MHD_suspend_connection(connection);
		if (server->last)
			server->last->next = ex;
		else
			server->first = ex;
		server->last = ex;
		turn = TURN_QUEUED;
	}
	pthread_mutex_unlock(&server->queue_lock);
	return turn;
}

/* After a handler: runs what was queued meanwhile, then gives the place up. */
static void
end_turn(HttpServer *server)
{
	for (;;)
	{
		Exchange   *ex;

		pthread_mutex_lock(&server->queue_lock);
		ex = server->first;
		if (ex == NULL)
		{
			server->running--;
			pthread_mutex_unlock(&server->queue_lock);
			return;
		}
		server->first = ex->next;
		if (server->first == NULL)
			server->last = NULL;
		pthread_mutex_unlock(&server->queue_lock);
		run_handler(server, ex);
		MHD_resume_connection(ex->connection);
	}
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method, const char *version,
	   const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	HttpServer *server = cls;
	Exchange   *ex = *con_cls;

	(void) version;
	if (ex == NULL)
	{
		const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
		const char *type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Type");
		const char *expect = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Expect");
		bool		oversized = length && strtoull(length, NULL, 10) > server->limits.max_body;

		/*
		 * An announced oversized body is refused before a byte of it is read
		 * when the client waits for "100 Continue".  Otherwise it is already on
		 * its way: it is read and dropped (within the request deadline) and
		 * then refused, because closing on unread data would reset the
		 * connection and the client would never see the 413.
		 */
		if (oversized && expect && strcasecmp(expect, "100-continue") == 0)
			return too_big(connection, server->limits.max_body);
		*con_cls = ex = xcalloc(1, sizeof(*ex));
		ex->too_big = oversized;
		if (type && strncmp(type, MHD_HTTP_POST_ENCODING_FORM_URLENCODED,
							strlen(MHD_HTTP_POST_ENCODING_FORM_URLENCODED)) == 0)
			ex->post = MHD_create_post_processor(connection, 4096, collect_form, &ex->form);
		return MHD_YES;
	}
	if (ex->queued)
	{
		/* resumed: its worker has answered */
		ex->queued = false;
		return send_exchange_reply(connection, ex);
	}
	if (*upload_data_size > 0)
	{
		if (ex->too_big || ex->len + *upload_data_size > server->limits.max_body)
			ex->too_big = true; /* a chunked body that grew too big: answer at its end, discard the rest */
		else
		{
			ex->body = xrealloc(ex->body, ex->len + *upload_data_size + 1);
			memcpy(ex->body + ex->len, upload_data, *upload_data_size);
			ex->len += *upload_data_size;
			ex->body[ex->len] = '\0';
			if (ex->post)
				MHD_post_process(ex->post, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	set_handling(server, connection, true);
	if (ex->too_big)
		return too_big(connection, server->limits.max_body);

	ex->request.method = method;
	ex->request.path = url;
	ex->request.body = ex->body ? ex->body : "";
	ex->request.len = ex->len;
	ex->request.form = ex->form;
	client_address(connection, ex->client, sizeof(ex->client));
	ex->request.client = ex->client;
	MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_value, &ex->request.query);
	MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_value, &ex->request.headers);
	if (server->limits.workers > 0 && !(server->limits.quick && server->limits.quick(&ex->request)))
	{
		enum MHD_Result result;

		switch (take_turn(server, ex, connection))
		{
			case TURN_QUEUED:
				return MHD_YES;
			case TURN_REFUSED:
				http_reply_error(&ex->reply, 503, "shutting down");
				return send_exchange_reply(connection, ex);
			case TURN_RUN:
				break;
		}
		run_handler(server, ex);
		result = send_exchange_reply(connection, ex);
		end_turn(server);
		return result;
	}
	run_handler(server, ex);
	return send_exchange_reply(connection, ex);
}

static void
completed(void *cls, struct MHD_Connection *connection, void **con_cls, enum MHD_RequestTerminationCode code)
{
	HttpServer *server = cls;
	Exchange   *ex = *con_cls;

	(void) code;
	set_handling(server, connection, false);	/* the next request's clock starts */
	if (ex == NULL)
		return;
	/* a reply never sent (the server stopped first) */
	if (ex->reply.stream.end)
		ex->reply.stream.end(ex->reply.stream.context);
	reply_free(&ex->reply);
	if (ex->post)
		MHD_destroy_post_processor(ex->post);
	for (int i = 0; i < ex->form.count; i++)
	{
		free((char *) ex->form.keys[i]);
		free((char *) ex->form.values[i]);
	}
	free(ex->body);
	free(ex);
	*con_cls = NULL;
}

static void
connection_changed(void *cls, struct MHD_Connection *connection, void **socket_context,
				   enum MHD_ConnectionNotificationCode code)
{
	HttpServer *server = cls;

	pthread_mutex_lock(&server->lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
		Watch	   *watch = xcalloc(1, sizeof(*watch));

		watch->fd = info ? info->connect_fd : -1;
		watch->since_ms = monotonic_ms();
		watch->next = server->watches;
		server->watches = watch;
		*socket_context = watch;
	}
	else if (*socket_context)
	{
		for (Watch **at = &server->watches; *at; at = &(*at)->next)
			if (*at == *socket_context)
			{
				*at = (*at)->next;
				break;
			}
		free(*socket_context);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&server->lock);
}

static void *
watchdog(void *arg)
{
	HttpServer *server = arg;
	int64_t		deadline_ms = (int64_t) server->limits.deadline_seconds * 1000;

	for (;;)
	{
		int64_t		now;

		usleep(200 * 1000);
		now = monotonic_ms();
		pthread_mutex_lock(&server->lock);
		if (server->stopping)
		{
			pthread_mutex_unlock(&server->lock);
			return NULL;
		}
		for (Watch *watch = server->watches; watch; watch = watch->next)
			if (!watch->handling && !watch->cut && watch->fd >= 0 && now - watch->since_ms > deadline_ms)
			{
				/* its thread sees the end of the stream and closes the connection */
				shutdown(watch->fd, SHUT_RDWR);
				watch->cut = true;
			}
		pthread_mutex_unlock(&server->lock);
	}
}

HttpServer *
http_server_start(const char *address, const HttpLimits *limits, HttpHandler handler, void *context, char *error,
				  size_t error_size)
{
	struct sockaddr_storage sa;
	socklen_t	sa_len;
	HttpServer *server;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
		(limits->workers == 0 ? MHD_USE_THREAD_PER_CONNECTION : MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME);

	if (!listen_address_parse(address, &sa, &sa_len, error, error_size))
		return NULL;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	server = xcalloc(1, sizeof(*server));
	server->handler = handler;
	server->context = context;
	server->limits = *limits;
	pthread_mutex_init(&server->lock, NULL);
	pthread_mutex_init(&server->queue_lock, NULL);
	/*
	 * A thread per connection, unless the caller has workers: then a request
	 * waiting on the database holds up no other connection either, and the
	 * connection limits bound the threads.
	 */
	server->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, server,
								   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
								   MHD_OPTION_CONNECTION_LIMIT, limits->connections,
								   MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits->connections_per_ip,
								   MHD_OPTION_CONNECTION_TIMEOUT, limits->timeout_seconds,
								   MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits->connection_memory,
								   MHD_OPTION_NOTIFY_COMPLETED, completed, server,
								   MHD_OPTION_NOTIFY_CONNECTION, connection_changed, server,
								   MHD_OPTION_THREAD_POOL_SIZE, limits->workers > 0 ? limits->workers + 1 : 0,
								   MHD_OPTION_END);
	if (server->mhd == NULL)
	{
		snprintf(error, error_size, "cannot listen on %s (in use, or not an address of this machine?)", address);
		pthread_mutex_destroy(&server->lock);
		pthread_mutex_destroy(&server->queue_lock);
		free(server);
		return NULL;
	}
	if (limits->deadline_seconds > 0)
		pthread_create(&server->watchdog, NULL, watchdog, server);
	return server;
}

void
http_server_stop(HttpServer *server)
{
	if (server == NULL)
		return;
	if (server->limits.deadline_seconds > 0)
	{
		pthread_mutex_lock(&server->lock);
		server->stopping = true;
		pthread_mutex_unlock(&server->lock);
		pthread_join(server->watchdog, NULL);
	}
	if (server->limits.workers > 0)
	{
		/* requests still queued get 503: libmicrohttpd stops no suspended connection */
		Exchange   *queued;

		pthread_mutex_lock(&server->queue_lock);
		server->draining = true;
		queued = server->first;
		server->first = server->last = NULL;
		pthread_mutex_unlock(&server->queue_lock);
		while (queued)
		{
			Exchange   *ex = queued;

			queued = ex->next;
			http_reply_error(&ex->reply, 503, "shutting down");
			MHD_resume_connection(ex->connection);
		}
	}
	MHD_stop_daemon(server->mhd);
	pthread_mutex_destroy(&server->lock);
	pthread_mutex_destroy(&server->queue_lock);
	free(server);
}
