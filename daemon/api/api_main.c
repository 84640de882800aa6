/*
 * api_main.c — reflexo-api: options, signals, and --check-config.
 *
 * SIGTERM and SIGINT stop it: the server finishes the requests in flight
 * (their connections' threads are joined) and exits.  Settings are read at
 * start; restart to apply new ones (systemd restarts in well under a
 * second, and no request is half-done: each is one transaction).
 */
#include <curl/curl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "common/alloc.h"
#include "common/version.h"

static const char usage[] =
	"Usage: reflexo-api [OPTION]...\n"
	"Serves the clinic's HTTP API at the Django service's URLs (/api/ghl/citas/,\n"
	"/api/locations/settings/, /api/architect/login/, ...) over the database's\n"
	"schema api, each request run as PostgREST would run it.\n"
	"\n"
	"  --env-file FILE   read settings from FILE (KEY=VALUE lines) where the\n"
	"                    environment does not set them\n"
	"  --check-config    check the settings, the database login, the JWT secret\n"
	"                    against the database's, and reflexo-sync, one line\n"
	"                    each, then exit (0: all ok)\n"
	"  --env-example     print every setting as an env file, then exit\n"
	"  --help            show this help and exit\n"
	"  --version         show the version and exit\n"
	"\n"
	"Settings (environment variables):\n";

static int	failures;

static void
report(bool ok, const char *what, const char *format,...) __attribute__((format(printf, 3, 4)));

static void
report(bool ok, const char *what, const char *format,...)
{
	va_list		args;

	printf("%-4s %-14s ", ok ? "ok" : "FAIL", what);
	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	putchar('\n');
	failures += !ok;
}

static char *
first_line(const char *message)
{
	char	   *line = xstrdup(message ? message : "");

	line[strcspn(line, "\n")] = '\0';
	return line;
}

/*
 * Whether the database signs with our JWT_SECRET: a refresh token we sign
 * for no user is "no longer valid" if it does, "invalid" if not.
 */
static void
check_secret(ApiServer *server, const ApiSettings *settings)
{
	json_t	   *claims = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I}", "role", "reflexo_anon", "sub", "check-config",
								   "typ", "refresh", "uid", 0, "ver", 0, "exp", (json_int_t) time(NULL) + 60);
	char	   *token = api_sign_token(claims, settings->jwt_secret);
	ApiRequest	request = {.role = "reflexo_anon", .language = LANGUAGE_EN};
	ApiPlan		plan = {.sql = "SELECT api.refresh($1)", .nparams = 1, .params = {token}};
	ApiResult	result = {0};

	api_run(server, &request, &plan, &result);
	if (!result.ok)
		report(false, "JWT secret", "cannot ask the database: %s", result.message ? result.message : "unavailable");
	else if (result.json && strstr(result.json, "no longer valid"))
		report(true, "JWT secret", "the database signs with JWT_SECRET");
	else
		report(false, "JWT secret", "JWT_SECRET is not the database's secret: logins would give tokens this API "
			   "refuses (set both with the same value: SELECT reflexo.set_jwt_secret(...))");
	api_result_free(&result);
	free(token);
	json_decref(claims);
}

static void
check_login(const ApiSettings *settings)
{
	PGconn	   *conn = PQconnectdb(settings->database_url);
	PGresult   *r;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *error = first_line(PQerrorMessage(conn));

		report(false, "database", "cannot connect (DATABASE_URL): %s", error);
		free(error);
		PQfinish(conn);
		return;
	}
	r = PQexec(conn, "SELECT r.rolsuper, pg_catalog.pg_has_role(current_user, 'reflexo_staff', 'MEMBER')"
			   " AND pg_catalog.pg_has_role(current_user, 'reflexo_admin', 'MEMBER')"
			   " AND pg_catalog.pg_has_role(current_user, 'reflexo_anon', 'MEMBER'),"
			   " NOT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
			   "   WHERE n.nspname = 'reflexo' AND c.relkind = 'r' AND pg_catalog.has_table_privilege(c.oid, 'SELECT')),"
			   " (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'reflexo')"
			   " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		report(false, "database", "cannot read the login's roles: %s", PQerrorMessage(conn));
	else
	{
		char	   *server = db_server_description(conn);

		report(true, "database", "connected to %s as %s on %s, reflexo %s", PQdb(conn), PQuser(conn), server,
			   PQgetisnull(r, 0, 3) ? "not installed" : PQgetvalue(r, 0, 3));
		free(server);
		bool		least = strcmp(PQgetvalue(r, 0, 0), "f") == 0 && strcmp(PQgetvalue(r, 0, 1), "t") == 0 &&
			strcmp(PQgetvalue(r, 0, 2), "t") == 0;

		report(least, "login", least ? "%s can become the API roles and read no table"
			   : "%s must be a member of reflexo_anon, reflexo_staff and reflexo_admin and nothing more "
			   "(use reflexo_authenticator), never a superuser", PQuser(conn));
	}
	PQclear(r);
	PQfinish(conn);
}

static void
check_sync(const ApiSettings *settings)
{
	CURL	   *curl = curl_easy_init();
	char	   *url = xasprintf("%s/healthz", settings->sync_url);
	long		status = 0;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 3000L);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	/* not a failure: reflexo-sync may start after the API */
	printf("%-4s %-14s %s %s\n", status == 200 ? "ok" : "note", "reflexo-sync", settings->sync_url,
		   status == 200 ? "answers: GHL's webhooks and OAuth callback reach it"
		   : "does not answer now: GHL's webhooks get 503 until it does");
	free(url);
	curl_easy_cleanup(curl);
}

static int
check_config(ApiSettings *settings)
{
	ApiServer  *server;
	char		error[256];
	HttpLimits	probe = {.max_body = 1, .connections = 1, .timeout_seconds = 1, .connection_memory = 4096};
	HttpServer *http = http_server_start(settings->http_addr, &probe, NULL, NULL, error, sizeof(error));

	report(true, "settings", "valid (reflexo-api --help describes each)");
	report(http != NULL, "HTTP", http ? "%s is free to listen on" : "%s", http ? settings->http_addr : error);
	http_server_stop(http);
	check_login(settings);
	api_use_settings(settings);
	server = api_server_new(settings);
	check_secret(server, settings);
	api_server_stop(server);
	check_sync(settings);
	printf("%s\n", failures ? "reflexo-api: configuration has problems (FAIL lines above)"
		   : "reflexo-api: configuration ok");
	return failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
	enum
	{
		OPT_ENV_FILE = 1000, OPT_CHECK_CONFIG, OPT_ENV_EXAMPLE, OPT_HELP, OPT_VERSION
	};
	static const struct option options[] = {
		{"env-file", required_argument, NULL, OPT_ENV_FILE}, {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
		{"env-example", no_argument, NULL, OPT_ENV_EXAMPLE}, {"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION}, {NULL, 0, NULL, 0}
	};
	const char *env_file = NULL;
	bool		checking = false;
	int			opt;
	char		error[512];
	ApiSettings *settings;
	ApiServer  *server;
	sigset_t	stop;
	int			signal_number;

	alloc_init();
	db_set_program("reflexo-api");
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
		switch (opt)
		{
			case OPT_ENV_FILE:
				env_file = optarg;
				break;
			case OPT_CHECK_CONFIG:
				checking = true;
				break;
			case OPT_ENV_EXAMPLE:
				settings_env_example(api_settings_table(), stdout);
				return 0;
			case OPT_HELP:
				fputs(usage, stdout);
				settings_help(api_settings_table(), stdout);
				return 0;
			case OPT_VERSION:
				printf("reflexo-api %s\n", REFLEXO_VERSION);
				return 0;
			default:
				fputs(usage, stderr);
				return 2;
		}
	if (optind < argc)
	{
		fprintf(stderr, "reflexo-api: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	settings = api_settings_load(env_file, error, sizeof(error));
	if (settings == NULL)
	{
		if (checking)
			printf("FAIL %-14s %s\n", "settings", error);
		else
			log_error("CONFIG", "invalid configuration", json_pack("{s:s}", "error", error));
		return 2;
	}
	log_set_level(settings->log_level);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (checking)
	{
		int			rc = check_config(settings);

		api_settings_free(settings);
		curl_global_cleanup();
		return rc;
	}

	/* the server's threads inherit this mask: only the main thread takes the signals */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	server = api_server_start(settings, error, sizeof(error));
	if (server == NULL)
	{
		log_error("API", "cannot start", json_pack("{s:s}", "error", error));
		api_settings_free(settings);
		curl_global_cleanup();
		return 1;
	}
	sigwait(&stop, &signal_number);
	log_info("API", "stopping", json_pack("{s:s}", "signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"));
	api_server_stop(server);
	api_settings_free(settings);
	curl_global_cleanup();
	return 0;
}
