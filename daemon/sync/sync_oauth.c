/*
 * sync_oauth.c — connecting a GHL location through the app's OAuth install.
 *
 * GET /oauth/install (an operator's: REFLEXO_OPS_TOKEN) sends the browser to
 * GHL's consent page with a state this daemon signed (HMAC-SHA256 with
 * REFLEXO_TOKEN_KEY, valid 15 minutes).  GET /oauth/callback?code=&state= is
 * where GHL sends it back: the code is exchanged at GHL's token endpoint (at
 * most two exchanges at once), the location's tokens are stored (encrypted)
 * and the daemons are told; they sync its calendars at once.  A new location
 * is added only with a valid state; without one (an install started in
 * GHL's marketplace, or anyone calling the URL) only a location already in
 * the database is reconnected.  The answer is a small HTML page a person
 * reads.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#define STATE_SECONDS (15 * 60)
#define EXCHANGES_AT_ONCE 2

/* "<expiry>.<hex HMAC of it>": who holds REFLEXO_TOKEN_KEY started this install */
static void
state_sign(const Config *config, long long expires, char *out, size_t size)
{
	char		text[64];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t		used;

	snprintf(text, sizeof(text), "reflexo-oauth-state:%lld", expires);
	HMAC(EVP_sha256(), config->token_key, 32, (const unsigned char *) text, strlen(text), mac, &len);
	used = (size_t) snprintf(out, size, "%lld.", expires);
	for (unsigned int i = 0; i < len && used + 2 < size; i++, used += 2)
		snprintf(out + used, size - used, "%02x", mac[i]);
}

static bool
state_valid(const Config *config, const char *state)
{
	char		expected[160];
	long long	expires;

	if (state == NULL || sscanf(state, "%lld.", &expires) != 1 || expires < (long long) time(NULL) ||
		expires > (long long) time(NULL) + STATE_SECONDS)
		return false;
	state_sign(config, expires, expected, sizeof(expected));
	return strlen(state) == strlen(expected) && CRYPTO_memcmp(state, expected, strlen(expected)) == 0;
}

/* GET /oauth/install: to GHL's consent page, with a state the callback will trust. */
void
oauth_install(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	const Config *config = http->config;
	char		state[160];
	char	   *redirect,
			   *redirect_escaped,
			   *client,
			   *location;

	(void) request;
	if (*config->ghl_client_id == '\0' || *config->ghl_client_secret == '\0')
	{
		page(reply, config, 500, "Falta configuración", "GHL_CLIENT_ID y GHL_CLIENT_SECRET deben estar definidos.");
		return;
	}
	state_sign(config, (long long) time(NULL) + STATE_SECONDS, state, sizeof(state));
	redirect = redirect_uri(config);
	redirect_escaped = url_escape(redirect);
	client = url_escape(config->ghl_client_id);
	location = xasprintf("%s/oauth/chooselocation?response_type=code&redirect_uri=%s&client_id=%s&scope=%s&state=%s",
						 config->ghl_oauth_url, redirect_escaped, client,
						 "calendars.readonly%20calendars.write%20calendars%2Fevents.readonly%20calendars%2Fevents.write",
						 state);
	http_reply_text(reply, 302, "text/plain; charset=utf-8", "", 0);
	http_reply_header(reply, "Location", location);
	reply->cache_control = "no-store";
	free(location);
	free(client);
	free(redirect_escaped);
	free(redirect);
}

/* At most EXCHANGES_AT_ONCE code exchanges (each a blocking call to GHL) at a time. */
static pthread_mutex_t exchanges_lock = PTHREAD_MUTEX_INITIALIZER;
static int	exchanges;

static bool
exchange_begin(void)
{
	bool		ok;

	pthread_mutex_lock(&exchanges_lock);
	ok = exchanges < EXCHANGES_AT_ONCE;
	exchanges += ok;
	pthread_mutex_unlock(&exchanges_lock);
	return ok;
}

static void
exchange_end(void)
{
	pthread_mutex_lock(&exchanges_lock);
	exchanges--;
	pthread_mutex_unlock(&exchanges_lock);
}

/* Whether the database knows the location (ghl_credentials has a row for every known one). */
static int
location_known(Db *db, const char *ghl_location_id)
{
	const char *params[1] = {ghl_location_id};
	PGresult   *r = db_query(db, "SELECT count(*) FROM reflexo.ghl_credentials($1)", 1, params);
	int			known = r ? strcmp(PQgetvalue(r, 0, 0), "0") != 0 : -1;

	PQclear(r);
	return known;
}

/* GET /oauth/callback?code=&state=: the code for tokens, and the tokens stored. */
static void
oauth_exchange(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
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
	else if (!state_valid(config, http_query(request, "state")) && location_known(db, grant.location_id) != 1)
	{
		/* no install of ours, and not a location of ours: nobody enrols a sub-account by calling this URL */
		db_pool_give(http->pool, db);
		log_warn("ALERT", "OAuth install refused: a new location needs an install started in Reflexo",
				 json_pack("{s:s, s:s}", "alert", "oauth_install_refused", "location", grant.location_id));
		snprintf(message, sizeof(message), "La location %s no está registrada en Reflexo. Un administrador debe "
				 "iniciar la instalación desde Reflexo (/oauth/install) o registrar la location primero.",
				 grant.location_id);
		page(reply, config, 403, "Location no registrada", message);
	}
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

void
oauth_callback(SyncHttp *http, const HttpRequest *request, HttpReply *reply)
{
	if (!exchange_begin())
	{
		page(reply, http->config, 503, "Demasiadas instalaciones a la vez", "Vuelva a intentarlo en un momento.");
		reply->retry_after = 5;
		return;
	}
	oauth_exchange(http, request, reply);
	exchange_end();
}
