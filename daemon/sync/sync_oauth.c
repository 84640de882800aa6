/*
 * sync_oauth.c — GET /oauth/callback?code=...: where GHL sends the clinic
 * after it approves the app for a location (sub-account).  The code is
 * exchanged at GHL's token endpoint, the location is added if new, its
 * tokens are stored (encrypted), and the daemons are told: they take the
 * tokens and sync the location's calendars at once.  The answer is a small
 * HTML page a person reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "ghl_client.h"
#include "common/log.h"
#include "doorbells.h"
#include "sync_credentials.h"
#include "sync_http.h"

typedef struct Exchange
{
	json_t	   *json;
	long		status;
	char	   *error;
} Exchange;

static void
exchanged(GhlResponse *response, void *context)
{
	Exchange   *ex = context;

	ex->status = response->status;
	ex->json = json_incref(response->json);
	if (response->status != 200)
		ex->error = ghl_error_message(response);
}

/* Text safe inside HTML. */
static char *
html_escape(const char *text)
{
	size_t		len = 0;
	char	   *out = NULL;
	FILE	   *f = open_memstream(&out, &len);

	for (const char *p = text ? text : ""; *p; p++)
		switch (*p)
		{
			case '<':
				fputs("&lt;", f);
				break;
			case '>':
				fputs("&gt;", f);
				break;
			case '&':
				fputs("&amp;", f);
				break;
			case '"':
				fputs("&quot;", f);
				break;
			case '\'':
				fputs("&#39;", f);
				break;
			default:
				fputc(*p, f);
		}
	fclose(f);
	return out;
}

/* The page that ends an install; it links back to the front end (FRONTEND_URL), else to the status page. */
static void
page(HttpReply *reply, const Config *config, int status, const char *title, const char *message)
{
	char	   *t = html_escape(title);
	char	   *m = html_escape(message);
	char	   *back = html_escape(*config->frontend_url ? config->frontend_url : "/");
	char	   *html = xasprintf(
							 "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\">"
							 "<meta name=\"viewport\" content=\"width=device-width\"><title>Reflexo · %s</title>"
							 "<style>body{font:16px system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;"
							 "color:#1d2b36}h1{font-size:1.4em;color:%s}</style></head>"
							 "<body><h1>%s</h1><p>%s</p><p><a href=\"%s\">%s</a></p></body></html>",
							 t, status == 200 ? "#1b7f4b" : "#b3261e", t, m, back,
							 *config->frontend_url ? "Volver a Reflexo" : "Estado de la sincronización");

	http_reply_text(reply, status, "text/html; charset=utf-8", html, strlen(html));
	reply->cache_control = "no-store";
	free(html);
	free(back);
	free(t);
	free(m);
}

/* The redirect_uri GHL was given: REFLEXO_PUBLIC_URL, else this server's address. */
static char *
redirect_uri(const Config *config)
{
	char	   *uri;

	uri = xasprintf("%s%s/oauth/callback", *config->public_url ? "" : "http://",
				 *config->public_url ? config->public_url : config->http_addr);
	return uri;
}

void
oauth_callback(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	const Config *config = http->config;
	const char *code = http_query(request, "code");
	char	   *url,
			   *body,
			   *redirect;
	GhlCall		call = {.method = "POST", .content_type = "application/x-www-form-urlencoded", .not_idempotent = true};
	Exchange	ex = {0};
	OAuthGrant	grant;
	char		message[512];
	Db		   *db;

	if (code == NULL || *code == '\0')
	{
		page(reply, config, 400, "Falta el código de autorización",
			 http_query(request, "error") ? http_query(request, "error") :
			 "GHL no envió un código. Vuelva a instalar la aplicación desde GoHighLevel.");
		return;
	}
	if (*config->ghl_client_id == '\0' || *config->ghl_client_secret == '\0')
	{
		page(reply, config, 500, "Falta configuración", "GHL_CLIENT_ID y GHL_CLIENT_SECRET deben estar definidos.");
		return;
	}
	redirect = redirect_uri(config);
	body = oauth_form(config, "authorization_code", code, redirect);
	url = xasprintf("%s/oauth/token", config->ghl_api_base);
	call.url = url;
	call.body = body;
	if (!ghl_call(&call, config->request_timeout_ms, exchanged, &ex) || ex.status != 200 ||
		!oauth_grant_read(ex.json, &grant))
	{
		snprintf(message, sizeof(message), "GHL no aceptó el código (%s). Vuelva a instalar la aplicación.",
				 ex.error ? ex.error : "sin respuesta");
		log_error("ALERT", "OAuth install failed", json_pack("{s:s, s:s}", "alert", "oauth_install_failed",
															  "error", ex.error ? ex.error : "no answer"));
		page(reply, config, 502, "No se pudo conectar con GoHighLevel", message);
	}
	else if (grant.location_id == NULL || *grant.location_id == '\0')
		page(reply, config, 400, "Instale la aplicación en una subcuenta",
			 "Reflexo se conecta a una location (subcuenta) de GHL, no a la agencia.");
	else if ((db = db_pool_take(http->pool, HTTP_DB_WAIT_MS)) == NULL)
		page(reply, config, 503, "Base de datos ocupada", "Vuelva a intentarlo en un momento.");
	else
	{
		const char *params[1] = {grant.location_id};
		bool		ok = db_command(db, "SELECT reflexo.ensure_location($1)", 1, params) &&
			oauth_grant_save(db, config->token_key, grant.location_id, &grant, false) &&
			db_command(db, "SELECT pg_notify('" DOORBELL_CALENDARS "', $1)", 1, params);

		db_pool_give(http->pool, db);
		if (ok)
		{
			log_info("ALERT", "GHL location connected",
					 json_pack("{s:s, s:s, s:s?}", "alert", "oauth_installed", "location", grant.location_id,
							   "scope", grant.scope));
			snprintf(message, sizeof(message), "La location %s quedó conectada: sus calendarios se sincronizan "
					 "ahora y las citas viajan en ambos sentidos.", grant.location_id);
			page(reply, config, 200, "Reflexo está conectado a GoHighLevel", message);
		}
		else
			page(reply, config, 503, "No se pudieron guardar las credenciales",
				 "La base de datos no respondió. Vuelva a instalar la aplicación en un momento.");
	}
	memset(body, 0, strlen(body));
	free(body);
	free(url);
	free(redirect);
	free(ex.error);
	json_decref(ex.json);
}
