/*
 * sync_check.c — reflexo-sync --check-config: the settings, then everything
 * the daemon will need, tried for real, one line each (it replaces the
 * Django service's test_ghl.py).  Nothing is written anywhere; tokens are used but
 * never printed.  Exit status 0 when every check passes, 1 otherwise.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ghl_client.h"
#include "common/alloc.h"
#include "common/listen_address.h"
#include "sync.h"
#include "sync_credentials.h"
#include "sync_webhook.h"
#include "common/webhook_signature.h"

typedef struct Check
{
	int			failures;
} Check;

static void
report(Check *check, bool ok, const char *what, const char *format, ...)
{
	va_list		args;

	printf("%-4s %-16s ", ok ? "ok" : "FAIL", what);
	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	putchar('\n');
	check->failures += !ok;
}

/* libpq's error message on one line */
static char *
one_line(const char *message)
{
	char	   *line = xstrdup(message ? message : "");

	for (char *c = line; *c; c++)
		if (*c == '\n')
			*c = c[1] ? ' ' : '\0';
	return line;
}

static PGresult *
query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		PQclear(r);
		return NULL;
	}
	return r;
}

typedef struct Probe
{
	long		status;
	int			calendars;
	int			rate_remaining;
	char	   *error;
} Probe;

static void
probe_done(GhlResponse *response, void *context)
{
	Probe	   *probe = context;
	json_t	   *calendars = json_object_get(response->json, "calendars");

	probe->status = response->status;
	probe->calendars = json_is_array(calendars) ? (int) json_array_size(calendars) : -1;
	probe->rate_remaining = response->rate_remaining;
	if (response->status != 200)
		probe->error = response->status ? ghl_error_message(response) : xstrdup(response->error_text);
}

/* GET /calendars/ for the location with its token: the call the daemon makes most. */
static void
check_ghl_location(Check *check, const Config *config, const char *ghl_id, const char *token)
{
	char	   *escaped = url_escape(ghl_id);
	char	   *url;
	Probe		probe = {0};
	GhlCall		call = {.method = "GET", .bearer = token, .version = GHL_VERSION_CALENDARS};

	url = xasprintf("%s/calendars/?locationId=%s", config->ghl_api_base, escaped);
	call.url = url;
	ghl_call(&call, config->request_timeout_ms, probe_done, &probe);
	if (probe.status == 200)
		report(check, true, "GHL", "%s: token works: %d calendar(s), %d request(s) left in GHL's window",
			   ghl_id, probe.calendars, probe.rate_remaining);
	else if (probe.status == 0)
		report(check, false, "GHL", "%s: %s does not answer: %s", ghl_id, config->ghl_api_base, probe.error);
	else
		report(check, false, "GHL", "%s: GHL answered %ld: %s%s", ghl_id, probe.status, probe.error,
			   probe.status == 401 && token_rejected(probe.error)
			   ? " (an expired OAuth token is refreshed by the daemon; a Private Integration Token must be replaced)"
			   : "");
	free(probe.error);
	free(url);
	free(escaped);
}

/*
 * Where a location's stored credentials came from, and whether the
 * environment's GHL_ACCESS_TOKEN is the one in use: the Django service read
 * it from .env on every start, reflexo-sync only stores it the first time.
 */
static void
report_source(const Config *config, const char *ghl_id, const char *kind, const char *token)
{
	bool		env_location = strcmp(ghl_id, config->ghl_location_id) == 0;
	bool		env_token = env_location && *config->ghl_access_token;

	if (strcmp(kind, "oauth") == 0)
		printf("note %-16s %s: from the GHL app install (OAuth; or GHL_REFRESH_TOKEN at a first start), "
			   "refreshed by reflexo-sync%s\n", "source", ghl_id,
			   env_token ? "; GHL_ACCESS_TOKEN in the environment is not used" : "");
	else if (env_token && strcmp(config->ghl_access_token, token) == 0)
		printf("note %-16s %s: Private Integration Token, the one in GHL_ACCESS_TOKEN\n", "source", ghl_id);
	else if (env_token)
		printf("warn %-16s %s: Private Integration Token stored earlier; GHL_ACCESS_TOKEN differs and is "
			   "ignored: run reflexo-sync --store-token to replace the stored one\n", "source", ghl_id);
	else
		printf("note %-16s %s: Private Integration Token stored earlier (GHL_ACCESS_TOKEN at a first start, "
			   "or --store-token)\n", "source", ghl_id);
}

static void
check_locations(Check *check, const Config *config, PGconn *conn)
{
	PGresult   *r = query(conn, "SELECT ghl_location_id, kind, access_token FROM reflexo.connected_locations()", 0, NULL);
	int			n = r ? PQntuples(r) : 0;

	if (r == NULL)
	{
		report(check, false, "credentials", "cannot read the stored credentials: %s", PQerrorMessage(conn));
		return;
	}
	if (n == 0 && *config->ghl_access_token && *config->ghl_location_id)
	{
		report(check, true, "credentials", "none stored yet; GHL_ACCESS_TOKEN will be stored for %s at start",
			   config->ghl_location_id);
		check_ghl_location(check, config, config->ghl_location_id, config->ghl_access_token);
	}
	else if (n == 0)
		report(check, false, "credentials", "no location is connected to GHL: set GHL_LOCATION_ID and "
			   "GHL_ACCESS_TOKEN, or install the GHL app (GET /oauth/callback)");
	for (int i = 0; i < n; i++)
	{
		const char *ghl_id = PQgetvalue(r, i, 0);
		char	   *token = credentials_decrypt(config->token_key, PQgetvalue(r, i, 2), ghl_id, "access");

		if (token == NULL)
		{
			report(check, false, "credentials", "%s: the stored token does not decrypt: REFLEXO_TOKEN_KEY is not "
				   "the key it was stored with (store it again with --store-token)", ghl_id);
			continue;
		}
		report(check, true, "credentials", "%s: %s token decrypts", ghl_id, PQgetvalue(r, i, 1));
		report_source(config, ghl_id, PQgetvalue(r, i, 1), token);
		check_ghl_location(check, config, ghl_id, token);
		explicit_bzero(token, strlen(token));
		free(token);
	}
	PQclear(r);
}

/*
 * reflexo 0.1.0 told operators to keep the JWT secret in a setting (ALTER
 * DATABASE ... SET), where pg_db_role_setting shows it to every role, and
 * anyone holding it can sign an admin token.  Says where, never what.
 */
static void
check_jwt_secret_setting(PGconn *conn)
{
	PGresult   *r = query(conn, "SELECT pg_catalog.string_agg(DISTINCT coalesce('database ' || d.datname, 'every database')"
						  " || coalesce(' for role ' || ro.rolname, ''), ', ')"
						  " FROM pg_catalog.pg_db_role_setting s"
						  " LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase"
						  " LEFT JOIN pg_catalog.pg_roles ro ON ro.oid = s.setrole,"
						  " pg_catalog.unnest(s.setconfig) c WHERE c LIKE 'reflexo.jwt\\_secret=%'", 0, NULL);

	if (r && !PQgetisnull(r, 0, 0))
		printf("warn %-16s a JWT secret is stored as a setting (%s), where every database role can read it "
			   "and sign an admin token: as a superuser, SELECT reflexo.set_jwt_secret('<a new secret>'), then "
			   "ALTER DATABASE ... RESET reflexo.jwt_secret (ALTER EXTENSION reflexo UPDATE moves it for you)\n",
			   "JWT secret", PQgetvalue(r, 0, 0));
	PQclear(r);
}

static void
check_database(Check *check, const Config *config)
{
	PGconn	   *conn = PQconnectdb(config->database_url);
	PGresult   *r;
	char	   *error;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		error = one_line(PQerrorMessage(conn));
		report(check, false, "database", "cannot connect (DATABASE_URL): %s", error);
		free(error);
		PQfinish(conn);
		return;
	}
	{
		char	   *server = db_server_description(conn);

		report(check, true, "database", "connected to database %s as %s on %s (server %d)", PQdb(conn),
			   PQuser(conn), server, PQserverVersion(conn));
		free(server);
	}
	r = query(conn, "SELECT extversion FROM pg_extension WHERE extname = 'reflexo'", 0, NULL);
	if (r == NULL || PQntuples(r) == 0)
	{
		report(check, false, "extension", "reflexo is not installed in %s: CREATE EXTENSION reflexo", PQdb(conn));
		PQclear(r);
		PQfinish(conn);
		return;
	}
	report(check, true, "extension", "reflexo %s", PQgetvalue(r, 0, 0));
	PQclear(r);
	check_jwt_secret_setting(conn);

	r = query(conn, "SELECT count(*) FILTER (WHERE NOT pg_catalog.has_function_privilege(p.oid, 'EXECUTE')),"
			  " pg_catalog.string_agg(p.proname, ', ') FILTER (WHERE NOT pg_catalog.has_function_privilege(p.oid, 'EXECUTE'))"
			  " FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'reflexo'::regnamespace AND p.proname IN"
			  " ('claim_outbox', 'finish_outbox', 'apply_ghl_webhook', 'upsert_ghl_calendars',"
			  "  'reconcile_ghl_events', 'save_ghl_credentials', 'ghl_credentials', 'record_ghl_operations',"
			  "  'connected_locations', 'connected_calendars')", 0, NULL);
	if (r && strcmp(PQgetvalue(r, 0, 0), "0") == 0)
		report(check, true, "privileges", "%s may do all the daemon does", PQuser(conn));
	else
		report(check, false, "privileges", "%s lacks rights (%s): GRANT reflexo_sync TO %s", PQuser(conn),
			   r && !PQgetisnull(r, 0, 1) ? PQgetvalue(r, 0, 1) : "functions", PQuser(conn));
	PQclear(r);

	r = query(conn, "SELECT pg_catalog.current_setting('shared_preload_libraries') ~ '(^|[ ,])reflexo($|[ ,])'", 0, NULL);
	if (r && strcmp(PQgetvalue(r, 0, 0), "t") != 0)
		printf("note %-16s shared_preload_libraries lacks reflexo: rule-break counts read NULL\n", "extension");
	PQclear(r);

	check_locations(check, config, conn);
	PQfinish(conn);
}

static void
check_webhook_keys(Check *check, const Config *config)
{
	EVP_PKEY   *ed25519 = *config->webhook_public_key ? key_from_file(config->webhook_public_key, false)
		: key_from_pem(ghl_ed25519_public_key_pem, false);
	EVP_PKEY   *rsa = *config->webhook_rsa_public_key ? key_from_file(config->webhook_rsa_public_key, false)
		: key_from_pem(ghl_rsa_public_key_pem, false);

	report(check, ed25519 && key_is_kind(ed25519, SIGNATURE_ED25519), "webhook keys", "Ed25519 %s%s",
		   *config->webhook_public_key ? config->webhook_public_key : "(GHL's published key)",
		   ed25519 && key_is_kind(ed25519, SIGNATURE_ED25519) ? "" : ": cannot read an Ed25519 public key");
	report(check, rsa && key_is_kind(rsa, SIGNATURE_RSA_SHA256), "webhook keys", "RSA %s%s",
		   *config->webhook_rsa_public_key ? config->webhook_rsa_public_key : "(GHL's published key)",
		   rsa && key_is_kind(rsa, SIGNATURE_RSA_SHA256) ? "" : ": cannot read an RSA public key");
	if (*config->ghl_webhook_secret == '\0')
		printf("note %-16s GHL_WEBHOOK_SECRET is empty: unsigned workflow webhooks are refused\n", "webhook keys");
	EVP_PKEY_free(ed25519);
	EVP_PKEY_free(rsa);
}

static void
check_http_address(Check *check, const Config *config)
{
	struct sockaddr_storage address;
	socklen_t	length;
	char		error[256];
	int			fd;
	int			one = 1;

	if (!listen_address_parse(config->http_addr, &address, &length, error, sizeof(error)))
	{
		report(check, false, "HTTP", "REFLEXO_HTTP_ADDR: %s", error);
		return;
	}
	fd = socket(address.ss_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd >= 0 && bind(fd, (struct sockaddr *) &address, length) == 0)
		report(check, true, "HTTP", "%s is free to listen on (webhooks: %s/webhooks/ghl)", config->http_addr,
			   *config->public_url ? config->public_url : config->http_addr);
	else
		report(check, false, "HTTP", "cannot listen on %s: %m (another reflexo-sync running?)", config->http_addr);
	if (fd >= 0)
		close(fd);
}

int
check_config(const Config *config)
{
	Check		check = {0};

	report(&check, true, "settings", "valid (reflexo-sync --help describes each)");
	if ((*config->ghl_client_id == '\0') != (*config->ghl_client_secret == '\0'))
		report(&check, false, "OAuth", "GHL_CLIENT_ID and GHL_CLIENT_SECRET go together");
	check_database(&check, config);
	check_webhook_keys(&check, config);
	check_http_address(&check, config);
	printf("%s\n", check.failures ? "reflexo-sync: configuration has problems (FAIL lines above)"
		   : "reflexo-sync: configuration ok");
	return check.failures ? 1 : 0;
}
