/*
 * sync_config.c — one table describes every setting: its variable, default,
 * range and meaning.  Loading validates everything and reports the first
 * problem precisely; nothing is half-applied (SIGHUP swaps whole configs).
 */
#include "sync_config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "webhook_signature.h"

typedef enum Kind
{
	TEXT,
	NUMBER,
	KEY,
	LEVEL
} Kind;

typedef struct Setting
{
	const char *name;
	Kind		kind;
	size_t		offset;
	const char *fallback;		/* NULL: required */
	long		min,
				max;
	const char *help;
} Setting;

#define AT(field) offsetof(Config, field)

static const Setting settings[] = {
	{"DATABASE_URL", TEXT, AT(database_url), "", 0, 0,
	"PostgreSQL to sync, as a libpq conninfo or URI (empty: libpq's PG* variables)"},
	{"GHL_API_BASE", TEXT, AT(ghl_api_base), "https://services.leadconnectorhq.com", 0, 0,
	"GHL's API; point it at ghl-sim (http://127.0.0.1:8090) to run without GHL"},
	{"GHL_CLIENT_ID", TEXT, AT(ghl_client_id), "", 0, 0, "OAuth app client id (refresh and /oauth/callback)"},
	{"GHL_CLIENT_SECRET", TEXT, AT(ghl_client_secret), "", 0, 0, "OAuth app client secret"},
	{"GHL_ACCESS_TOKEN", TEXT, AT(ghl_access_token), "", 0, 0,
	"first access token (or a Private Integration Token, pit-...) for GHL_LOCATION_ID; "
	"stored encrypted at first start, then the database is the truth"},
	{"GHL_REFRESH_TOKEN", TEXT, AT(ghl_refresh_token), "", 0, 0, "first refresh token for GHL_LOCATION_ID"},
	{"GHL_LOCATION_ID", TEXT, AT(ghl_location_id), "", 0, 0, "the GHL location the tokens above belong to"},
	{"GHL_WEBHOOK_SECRET", TEXT, AT(ghl_webhook_secret), "", 0, 0,
	"shared secret for GHL workflow webhooks (header x-webhook-secret); empty: not accepted"},
	{"GHL_WEBHOOK_PUBLIC_KEY", TEXT, AT(webhook_public_key), "", 0, 0,
	"PEM file of the Ed25519 key for x-ghl-signature (empty: GHL's published key)"},
	{"GHL_WEBHOOK_RSA_PUBLIC_KEY", TEXT, AT(webhook_rsa_public_key), "", 0, 0,
	"PEM file of the RSA key for x-wh-signature (empty: GHL's published key)"},
	{"REFLEXO_HTTP_ADDR", TEXT, AT(http_addr), "127.0.0.1:8000", 0, 0,
	"where the HTTP server (webhooks, OAuth callback, health, metrics, status) listens"},
	{"REFLEXO_PUBLIC_URL", TEXT, AT(public_url), "", 0, 0,
	"this daemon's URL as GHL sees it, for the OAuth redirect (default http://REFLEXO_HTTP_ADDR)"},
	{"REFLEXO_TOKEN_KEY", KEY, AT(token_key), NULL, 0, 0,
	"32-byte key (base64 or hex) that encrypts GHL tokens at rest; make one with: openssl rand -base64 32"},
	{"REFLEXO_DAEMON_ID", TEXT, AT(daemon_id), "", 0, 0, "name of this daemon in outbox leases (default host:pid)"},
	{"REFLEXO_MAX_INFLIGHT", NUMBER, AT(max_inflight), "64", 1, 10000, "GHL requests in flight at most"},
	{"REFLEXO_CLAIM_BATCH", NUMBER, AT(claim_batch), "64", 1, 1000,
	"outbox rows claimed at a time, at most (never more than REFLEXO_MAX_INFLIGHT allows)"},
	{"REFLEXO_LEASE_SECONDS", NUMBER, AT(lease_seconds), "90", 10, 3600,
	"how long a claimed row is ours before another daemon may take it"},
	{"REFLEXO_POLL_MS", NUMBER, AT(poll_ms), "1000", 50, 2000,
	"look at the outbox at least this often, even without a NOTIFY"},
	{"REFLEXO_REQUEST_TIMEOUT_MS", NUMBER, AT(request_timeout_ms), "30000", 100, 300000, "deadline of a GHL request"},
	{"REFLEXO_RATE_LIMIT", NUMBER, AT(rate_limit), "100", 1, 100000,
	"GHL requests per interval per location before the headers say otherwise"},
	{"REFLEXO_RATE_INTERVAL_MS", NUMBER, AT(rate_interval_ms), "10000", 100, 3600000, "that interval"},
	{"REFLEXO_DAILY_LIMIT", NUMBER, AT(daily_limit), "200000", 1, 100000000, "GHL requests per day per location"},
	{"REFLEXO_CALENDAR_SYNC_SECONDS", NUMBER, AT(calendar_sync_seconds), "300", 0, 86400,
	"calendar sync period (0: only at start and on api.sync_calendars)"},
	{"REFLEXO_RECONCILE_SECONDS", NUMBER, AT(reconcile_seconds), "900", 0, 86400,
	"reconciliation period (0: never)"},
	{"REFLEXO_RECONCILE_DAYS_BACK", NUMBER, AT(reconcile_days_back), "1", 0, 365, "reconcile from this many days ago"},
	{"REFLEXO_RECONCILE_DAYS_AHEAD", NUMBER, AT(reconcile_days_ahead), "60", 1, 730, "to this many days ahead"},
	{"REFLEXO_WEBHOOK_MAX_AGE_SECONDS", NUMBER, AT(webhook_max_age_seconds), "7200", 60, 604800,
	"webhooks whose timestamp is older (or further ahead) than this are refused; covers GHL's retries"},
	{"REFLEXO_HTTP_DB_CONNECTIONS", NUMBER, AT(http_db_connections), "8", 1, 64,
	"database connections of the HTTP side (webhooks, status); requests beyond them wait up to 5 s"},
	{"REFLEXO_LOG_LEVEL", LEVEL, AT(log_level), "info", 0, 0, "debug, info, warn or error"},
};

#define NSETTINGS (sizeof(settings) / sizeof(*settings))

typedef struct FileValues
{
	int			count;
	char	   *keys[256];
	char	   *values[256];
} FileValues;

static void
free_file_values(FileValues *values)
{
	for (int i = 0; i < values->count; i++)
	{
		free(values->keys[i]);
		free(values->values[i]);
	}
}

static char *
trim(char *s)
{
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return s;
}

/* KEY=VALUE lines, as in .env files: # comments, optional export and quotes. */
static bool
read_env_file(const char *path, FileValues *values, char *error, size_t size)
{
	FILE	   *f = fopen(path, "r");
	char		line[4096];
	int			number = 0;

	if (f == NULL)
	{
		snprintf(error, size, "cannot read env file %s: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *text = trim(line);
		char	   *eq;
		char	   *value;
		size_t		len;

		number++;
		if (*text == '\0' || *text == '#')
			continue;
		if (strncmp(text, "export ", 7) == 0)
			text = trim(text + 7);
		eq = strchr(text, '=');
		if (eq == NULL || eq == text)
		{
			snprintf(error, size, "%s:%d: expected KEY=VALUE", path, number);
			fclose(f);
			return false;
		}
		*eq = '\0';
		value = trim(eq + 1);
		len = strlen(value);
		if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0])
		{
			value[len - 1] = '\0';
			value++;
		}
		if (values->count == 256)
			break;
		values->keys[values->count] = strdup(trim(text));
		values->values[values->count] = strdup(value);
		values->count++;
	}
	fclose(f);
	return true;
}

static const char *
lookup(const FileValues *file, const char *name)
{
	const char *value = getenv(name);

	if (value)
		return value;
	for (int i = file->count - 1; i >= 0; i--)
		if (strcmp(file->keys[i], name) == 0)
			return file->values[i];
	return NULL;
}

static bool
decode_key(const char *text, unsigned char key[32])
{
	size_t		len = strlen(text);

	if (len == 64)
	{
		for (int i = 0; i < 32; i++)
		{
			unsigned int byte;

			if (!isxdigit((unsigned char) text[2 * i]) || !isxdigit((unsigned char) text[2 * i + 1]) ||
				sscanf(text + 2 * i, "%2x", &byte) != 1)
				return false;
			key[i] = (unsigned char) byte;
		}
		return true;
	}
	{
		size_t		n;
		unsigned char *bytes = base64_decode(text, &n);
		bool		ok = bytes && n == 32;

		if (ok)
			memcpy(key, bytes, 32);
		free(bytes);
		return ok;
	}
}

Config *
config_load(const char *env_file, char *error, size_t size)
{
	FileValues	file = {0};
	Config	   *config = calloc(1, sizeof(*config));

	if (env_file && !read_env_file(env_file, &file, error, size))
	{
		free(config);
		free_file_values(&file);
		return NULL;
	}
	for (size_t i = 0; i < NSETTINGS; i++)
	{
		const Setting *s = &settings[i];
		const char *value = lookup(&file, s->name);
		char	   *field = (char *) config + s->offset;

		if (value == NULL || (*value == '\0' && s->kind != TEXT))
			value = s->fallback;
		if (value == NULL)
		{
			snprintf(error, size, "%s is not set: %s", s->name, s->help);
			goto fail;
		}
		switch (s->kind)
		{
			case TEXT:
				*(char **) field = strdup(value);
				break;
			case NUMBER:
				{
					char	   *end;
					long		n;

					errno = 0;
					n = strtol(value, &end, 10);
					if (*value == '\0' || *end != '\0' || errno != 0 || n < s->min || n > s->max)
					{
						snprintf(error, size, "%s must be a whole number from %ld to %ld, not \"%.40s\"",
								 s->name, s->min, s->max, value);
						goto fail;
					}
					*(int *) field = (int) n;
					break;
				}
			case KEY:
				if (!decode_key(value, (unsigned char *) field))
				{
					snprintf(error, size, "%s must be 32 bytes in base64 (44 characters) or hex (64)", s->name);
					goto fail;
				}
				break;
			case LEVEL:
				if (!log_parse_level(value, (LogLevel *) field))
				{
					snprintf(error, size, "%s must be debug, info, warn or error, not \"%.40s\"", s->name, value);
					goto fail;
				}
				break;
		}
	}
	if (strncmp(config->ghl_api_base, "http://", 7) != 0 && strncmp(config->ghl_api_base, "https://", 8) != 0)
	{
		snprintf(error, size, "GHL_API_BASE must be an http(s) URL, not \"%.80s\"", config->ghl_api_base);
		goto fail;
	}
	if ((*config->ghl_access_token || *config->ghl_refresh_token) && *config->ghl_location_id == '\0')
	{
		snprintf(error, size, "GHL_LOCATION_ID must be set to say which location GHL_ACCESS_TOKEN belongs to");
		goto fail;
	}
	if (*config->ghl_refresh_token && (*config->ghl_client_id == '\0' || *config->ghl_client_secret == '\0'))
	{
		snprintf(error, size, "GHL_CLIENT_ID and GHL_CLIENT_SECRET are needed to use GHL_REFRESH_TOKEN");
		goto fail;
	}
	{
		/* strip a trailing slash so paths can be appended */
		size_t		len = strlen(config->ghl_api_base);

		if (len > 0 && config->ghl_api_base[len - 1] == '/')
			config->ghl_api_base[len - 1] = '\0';
	}
	if (*config->daemon_id == '\0')
	{
		char		host[256] = "reflexo-sync";

		gethostname(host, sizeof(host) - 1);
		free(config->daemon_id);
		if (asprintf(&config->daemon_id, "%s:%d", host, (int) getpid()) < 0)
			abort();
	}
	if (*config->public_url == '\0')
	{
		free(config->public_url);
		if (asprintf(&config->public_url, "http://%s", config->http_addr) < 0)
			abort();
	}
	free_file_values(&file);
	return config;

fail:
	free_file_values(&file);
	config_free(config);
	return NULL;
}

void
config_free(Config *config)
{
	if (config == NULL)
		return;
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].kind == TEXT)
			free(*(char **) ((char *) config + settings[i].offset));
	memset(config->token_key, 0, sizeof(config->token_key));
	free(config);
}

const char *
config_help(void)
{
	static char *text = NULL;
	size_t		len = 0;
	FILE	   *out;

	if (text)
		return text;
	out = open_memstream(&text, &len);
	for (size_t i = 0; i < NSETTINGS; i++)
		fprintf(out, "  %-32s %s%s%s%s\n", settings[i].name, settings[i].help,
				settings[i].fallback && *settings[i].fallback ? " (default " : "",
				settings[i].fallback && *settings[i].fallback ? settings[i].fallback : "",
				settings[i].fallback && *settings[i].fallback ? ")" : "");
	fclose(out);
	return text;
}
