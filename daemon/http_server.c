/*
 * http_server.c — see http_server.h.  libmicrohttpd parses HTTP; this file
 * collects bodies within their bound and turns replies into responses.
 */
#include "http_server.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen_address.h"

struct HttpServer
{
	struct MHD_Daemon *mhd;
	HttpHandler handler;
	void	   *context;
	HttpLimits	limits;
};

typedef struct Upload
{
	char	   *body;
	size_t		len;
	bool		too_big;
} Upload;

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
	reply->body = malloc(len + 1);
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

const char *
http_header(const HttpRequest *request, const char *name)
{
	return MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, name);
}

const char *
http_query(const HttpRequest *request, const char *name)
{
	return MHD_lookup_connection_value(request->connection, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result
send_reply(struct MHD_Connection *connection, HttpReply *reply)
{
	struct MHD_Response *response = MHD_create_response_from_buffer(reply->len, reply->body ? reply->body : "",
																	MHD_RESPMEM_MUST_COPY);
	enum MHD_Result result;

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
	result = MHD_queue_response(connection, (unsigned int) reply->status, response);
	MHD_destroy_response(response);
	free(reply->body);
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
handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method, const char *version,
	   const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	HttpServer *server = cls;
	Upload	   *upload = *con_cls;
	HttpRequest request;
	HttpReply	reply = {0};

	(void) version;
	if (upload == NULL)
	{
		const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");

		/* refuse an announced oversized body before reading it */
		if (length && strtoull(length, NULL, 10) > server->limits.max_body)
			return too_big(connection, server->limits.max_body);
		*con_cls = upload = calloc(1, sizeof(*upload));
		return upload ? MHD_YES : MHD_NO;
	}
	if (*upload_data_size > 0)
	{
		if (upload->too_big || upload->len + *upload_data_size > server->limits.max_body)
		{
			/* a chunked body that grew too big: answer now, discard the rest */
			upload->too_big = true;
			*upload_data_size = 0;
			return MHD_YES;
		}
		upload->body = realloc(upload->body, upload->len + *upload_data_size + 1);
		if (upload->body == NULL)
			return MHD_NO;
		memcpy(upload->body + upload->len, upload_data, *upload_data_size);
		upload->len += *upload_data_size;
		upload->body[upload->len] = '\0';
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (upload->too_big)
		return too_big(connection, server->limits.max_body);

	request.method = method;
	request.path = url;
	request.body = upload->body ? upload->body : "";
	request.len = upload->len;
	request.connection = connection;
	server->handler(server->context, &request, &reply);
	if (reply.status == 0)
		http_reply_error(&reply, 500, "no reply");
	return send_reply(connection, &reply);
}

static void
completed(void *cls, struct MHD_Connection *connection, void **con_cls, enum MHD_RequestTerminationCode code)
{
	Upload	   *upload = *con_cls;

	(void) cls;
	(void) connection;
	(void) code;
	if (upload)
	{
		free(upload->body);
		free(upload);
		*con_cls = NULL;
	}
}

HttpServer *
http_server_start(const char *address, const HttpLimits *limits, HttpHandler handler, void *context, char *error,
				  size_t error_size)
{
	struct sockaddr_storage sa;
	socklen_t	sa_len;
	HttpServer *server;

	if (!listen_address_parse(address, &sa, &sa_len, error, error_size))
		return NULL;
	server = calloc(1, sizeof(*server));
	server->handler = handler;
	server->context = context;
	server->limits = *limits;
	/*
	 * A thread per connection: a request waiting on the database holds up no
	 * other connection (a shared pool thread would), and the connection limits
	 * bound the threads.
	 */
	server->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
								   0, NULL, NULL, handle, server,
								   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
								   MHD_OPTION_CONNECTION_LIMIT, limits->connections,
								   MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits->connections_per_ip,
								   MHD_OPTION_CONNECTION_TIMEOUT, limits->timeout_seconds,
								   MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits->connection_memory,
								   MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
								   MHD_OPTION_END);
	if (server->mhd == NULL)
	{
		snprintf(error, error_size, "cannot listen on %s (in use, or not an address of this machine?)", address);
		free(server);
		return NULL;
	}
	return server;
}

void
http_server_stop(HttpServer *server)
{
	if (server == NULL)
		return;
	MHD_stop_daemon(server->mhd);
	free(server);
}
