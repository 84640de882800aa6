/*
 * api_config.c — reflexo-api's settings (common/settings.h), with the
 * Django service's names where it had them (DATABASE_URL, CORS_*).
 */
#include <stddef.h>
#include <string.h>

#include "api.h"
#include "common/alloc.h"

#define AT(field) offsetof(ApiSettings, field)

static const Setting settings[] = {
	{"DATABASE_URL", SETTING_TEXT, AT(database_url), "", 0, 0,
	"PostgreSQL, as a libpq conninfo or URI; log in as reflexo_authenticator (or a login granted only it), "
	"which can do nothing but become the API roles", true},
	{"JWT_SECRET", SETTING_TEXT, AT(jwt_secret), NULL, 0, 0,
	"the secret the database signs tokens with (SELECT reflexo.set_jwt_secret(...)), at least 32 characters",
	true},
	{"REFLEXO_API_ADDR", SETTING_TEXT, AT(http_addr), "127.0.0.1:8000", 0, 0,
	"where the API listens: host:port, or [IPv6]:port", false},
	{"REFLEXO_API_PUBLIC_URL", SETTING_TEXT, AT(public_url), "", 0, 0,
	"the API's URL as clients see it, for the next/previous links of listings (default: from the Host header)",
	false},
	{"REFLEXO_SYNC_URL", SETTING_TEXT, AT(sync_url), "http://127.0.0.1:8001", 0, 0,
	"reflexo-sync's HTTP address: /api/webhooks/ghl/ and /api/ghl/oauth/callback/ are passed to it", false},
	{"CORS_ALLOWED_ORIGINS", SETTING_TEXT, AT(cors_allowed_origins), "", 0, 0,
	"browser origins allowed to call the API, comma-separated (e.g. http://localhost:3000)", false},
	{"CORS_ALLOW_ALL_ORIGINS", SETTING_BOOL, AT(cors_allow_all), "False", 0, 0,
	"True: any origin may call the API (tokens travel in headers, never cookies)", false},
	{"REFLEXO_API_LANGUAGE", SETTING_TEXT, AT(language), "es", 0, 0,
	"language of messages when a request's Accept-Language names neither es nor en: es or en", false},
	{"REFLEXO_API_DB_CONNECTIONS", SETTING_NUMBER, AT(db_connections), "8", 1, 256,
	"database connections, and as many requests running at once; more wait their turn, oldest first", false},
	{"REFLEXO_API_PAGE_SIZE", SETTING_NUMBER, AT(page_size), "10", 1, 1000, "citas per page by default", false},
	{"REFLEXO_API_MAX_PAGE_SIZE", SETTING_NUMBER, AT(max_page_size), "100", 1, 1000,
	"largest page a client may ask for with page_size", false},
	{"REFLEXO_API_STATEMENT_TIMEOUT_MS", SETTING_NUMBER, AT(statement_timeout_ms), "10000", 100, 300000,
	"longest a request's statement may run before it is cancelled (503)", false},
	{"REFLEXO_API_LOGINS_AT_ONCE", SETTING_NUMBER, AT(logins_at_once), "2", 1, 64,
	"logins hashed at the same time (each costs ~0.3 s of CPU); as many more wait up to 2 s, the rest get 429", false},
	{"REFLEXO_API_LOGINS_PER_MINUTE", SETTING_NUMBER, AT(logins_per_minute), "20", 1, 10000,
	"logins a client address may try per minute", false},
	{"REFLEXO_API_REQUEST_SECONDS", SETTING_NUMBER, AT(request_seconds), "15", 2, 300,
	"a request must have fully arrived this long after its connection opened (or its previous answer): "
	"slow senders cannot hold connections", false},
	{"REFLEXO_LOG_LEVEL", SETTING_LEVEL, AT(log_level), "info", 0, 0, "debug, info, warn or error", false},
};

static const SettingsTable table = {
	.program = "reflexo-api",
	.settings = settings,
	.count = sizeof(settings) / sizeof(*settings),
	.size = sizeof(ApiSettings)
};

const SettingsTable *
api_settings_table(void)
{
	return &table;
}

ApiSettings *
api_settings_load(const char *env_file, char *error, size_t size)
{
	ApiSettings *settings = settings_load(&table, env_file, error, size);

	if (settings == NULL)
		return NULL;
	if (strlen(settings->jwt_secret) < 32)
		snprintf(error, size, "JWT_SECRET must have at least 32 characters, as reflexo.set_jwt_secret requires");
	else if (strcmp(settings->language, "es") != 0 && strcmp(settings->language, "en") != 0)
		snprintf(error, size, "REFLEXO_API_LANGUAGE must be es or en, not \"%.40s\"", settings->language);
	else if (settings->max_page_size < settings->page_size)
		snprintf(error, size, "REFLEXO_API_MAX_PAGE_SIZE must be at least REFLEXO_API_PAGE_SIZE");
	else if (strncmp(settings->sync_url, "http://", 7) != 0 && strncmp(settings->sync_url, "https://", 8) != 0)
		snprintf(error, size, "REFLEXO_SYNC_URL must be an http(s) URL, not \"%.80s\"", settings->sync_url);
	else
	{
		size_t		len = strlen(settings->public_url);

		/* links append paths */
		if (len > 0 && settings->public_url[len - 1] == '/')
			settings->public_url[len - 1] = '\0';
		return settings;
	}
	api_settings_free(settings);
	return NULL;
}

void
api_settings_free(ApiSettings *settings)
{
	settings_free(&table, settings);
}
