/*
 * sync_config.c — reflexo-sync's settings table (common/settings.h) and the
 * checks that span several settings.  SIGHUP swaps whole configs.
 */
#include "sync_config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"

#define AT(field) offsetof(Config, field)

static const Setting settings[] = {
	{"DATABASE_URL", SETTING_TEXT, AT(database_url), "", 0, 0,
	"PostgreSQL to sync, as a libpq conninfo or URI (empty: libpq's PG* variables); "
	"log in as a login granted only reflexo_sync (CREATE ROLE sync LOGIN PASSWORD '...' IN ROLE reflexo_sync)", true},
	{"GHL_API_BASE", SETTING_TEXT, AT(ghl_api_base), "https://services.leadconnectorhq.com", 0, 0,
	"GHL's API; point it at ghl-sim (http://127.0.0.1:8090) to run without GHL", false},
	{"GHL_CLIENT_ID", SETTING_TEXT, AT(ghl_client_id), "", 0, 0, "OAuth app client id (marketplace.gohighlevel.com), for refreshes and /oauth/callback; the app needs "
	"the scopes calendars.readonly calendars.write calendars/events.readonly calendars/events.write "
	"and the redirect URL REFLEXO_PUBLIC_URL/oauth/callback", false},
	{"GHL_CLIENT_SECRET", SETTING_TEXT, AT(ghl_client_secret), "", 0, 0, "OAuth app client secret", true},
	{"GHL_ACCESS_TOKEN", SETTING_TEXT, AT(ghl_access_token), "", 0, 0,
	"first access token (or a Private Integration Token, pit-...) for GHL_LOCATION_ID; "
	"stored encrypted at first start, then the database is the truth", true},
	{"GHL_REFRESH_TOKEN", SETTING_TEXT, AT(ghl_refresh_token), "", 0, 0, "first refresh token for GHL_LOCATION_ID", true},
	{"GHL_LOCATION_ID", SETTING_TEXT, AT(ghl_location_id), "", 0, 0, "the GHL location the tokens above belong to", false},
	{"GHL_WEBHOOK_SECRET", SETTING_TEXT, AT(ghl_webhook_secret), "", 0, 0,
	"shared secret for GHL workflow webhooks (header x-webhook-secret); empty: not accepted", true},
	{"GHL_WEBHOOK_PUBLIC_KEY", SETTING_TEXT, AT(webhook_public_key), "", 0, 0,
	"PEM file of the Ed25519 key for x-ghl-signature (empty: GHL's published key)", false},
	{"GHL_WEBHOOK_RSA_PUBLIC_KEY", SETTING_TEXT, AT(webhook_rsa_public_key), "", 0, 0,
	"PEM file of the RSA key for x-wh-signature (empty: GHL's published key)", false},
	{"REFLEXO_HTTP_ADDR", SETTING_TEXT, AT(http_addr), "127.0.0.1:8001", 0, 0,
	"where the HTTP server (webhooks, OAuth callback, health, metrics, status) listens", false},
	{"GHL_OAUTH_URL", SETTING_TEXT, AT(ghl_oauth_url), "https://marketplace.gohighlevel.com", 0, 0,
	"where GHL's consent page (/oauth/chooselocation) is; /oauth/install sends an admin there", false},
	{"REFLEXO_PUBLIC_URL", SETTING_TEXT, AT(public_url), "", 0, 0,
	"this daemon's URL as GHL sees it, for the OAuth redirect (default http://REFLEXO_HTTP_ADDR)", false},
	{"FRONTEND_URL", SETTING_TEXT, AT(frontend_url), "", 0, 0,
	"the clinic's front end, e.g. http://localhost:3000: the page that ends a GHL app install links back to it",
	false},
	{"REFLEXO_OPS_TOKEN", SETTING_TEXT, AT(ops_token), "", 0, 0,
	"a token that /metrics, /metrics.json, /status.json, the status page and /readyz's reasons then ask for "
	"(Authorization: Bearer, or ?token= in a browser); empty: open to whoever reaches REFLEXO_HTTP_ADDR", true},
	{"REFLEXO_TOKEN_KEY", SETTING_KEY, AT(token_key), NULL, 0, 0,
	"32-byte key (base64 or hex) that encrypts GHL tokens at rest; make one with: openssl rand -base64 32; "
	"keep it safe: without it the stored tokens cannot be read", true},
	{"REFLEXO_DAEMON_ID", SETTING_TEXT, AT(daemon_id), "", 0, 0, "name of this daemon in outbox leases (default host:pid)", false},
	{"REFLEXO_MAX_INFLIGHT", SETTING_NUMBER, AT(max_inflight), "64", 1, 10000,
	"GHL requests in flight at most, and connections to GHL open at most", false},
	{"REFLEXO_CLAIM_BATCH", SETTING_NUMBER, AT(claim_batch), "64", 1, 1000,
	"outbox rows claimed at a time, at most (never more than REFLEXO_MAX_INFLIGHT allows)", false},
	{"REFLEXO_LEASE_SECONDS", SETTING_NUMBER, AT(lease_seconds), "90", 10, 3600,
	"how long a claimed row is ours before another daemon may take it", false},
	{"REFLEXO_POLL_MS", SETTING_NUMBER, AT(poll_ms), "1000", 50, 2000,
	"look at the outbox at least this often, even without a NOTIFY", false},
	{"REFLEXO_REQUEST_TIMEOUT_MS", SETTING_NUMBER, AT(request_timeout_ms), "30000", 100, 300000,
	"deadline of a GHL request; at most half of REFLEXO_LEASE_SECONDS, so no row is claimed again while in flight", false},
	{"REFLEXO_RATE_LIMIT", SETTING_NUMBER, AT(rate_limit), "100", 1, 100000,
	"GHL requests per interval per location before its X-RateLimit headers say otherwise (GHL's 100 per 10 s)", false},
	{"REFLEXO_RATE_INTERVAL_MS", SETTING_NUMBER, AT(rate_interval_ms), "10000", 100, 3600000, "that interval", false},
	{"REFLEXO_DAILY_LIMIT", SETTING_NUMBER, AT(daily_limit), "200000", 1, 100000000, "GHL requests per day per location (GHL's 200,000)", false},
	{"REFLEXO_CALENDAR_SYNC_SECONDS", SETTING_NUMBER, AT(calendar_sync_seconds), "300", 0, 86400,
	"calendar sync period (0: only at start and on api.sync_calendars)", false},
	{"REFLEXO_RECONCILE_SECONDS", SETTING_NUMBER, AT(reconcile_seconds), "900", 0, 86400,
	"reconciliation period (0: never)", false},
	{"REFLEXO_RECONCILE_DAYS_BACK", SETTING_NUMBER, AT(reconcile_days_back), "1", 0, 365, "reconcile from this many days ago", false},
	{"REFLEXO_RECONCILE_DAYS_AHEAD", SETTING_NUMBER, AT(reconcile_days_ahead), "60", 1, 730, "to this many days ahead", false},
	{"REFLEXO_WEBHOOK_MAX_AGE_SECONDS", SETTING_NUMBER, AT(webhook_max_age_seconds), "7200", 60, 604800,
	"webhooks whose timestamp is older (or further ahead) than this are refused; covers GHL's retries", false},
	{"REFLEXO_HTTP_DB_CONNECTIONS", SETTING_NUMBER, AT(http_db_connections), "8", 1, 64,
	"database connections of the HTTP side (webhooks, status); requests beyond them wait up to 5 s", false},
	{"REFLEXO_LOG_LEVEL", SETTING_LEVEL, AT(log_level), "info", 0, 0, "debug, info, warn or error", false},
};

static const SettingsTable table = {
	.program = "reflexo-sync",
	.settings = settings,
	.count = sizeof(settings) / sizeof(*settings),
	.size = sizeof(Config)
};

Config *
config_load(const char *env_file, char *error, size_t size)
{
	Config	   *config = settings_load(&table, env_file, error, size);

	if (config == NULL)
		return NULL;
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
	if ((int64_t) config->request_timeout_ms * 2 > (int64_t) config->lease_seconds * 1000)
	{
		/* a row still in flight when its lease ends is claimed again: sent twice */
		snprintf(error, size, "REFLEXO_REQUEST_TIMEOUT_MS (%d) must be at most half of REFLEXO_LEASE_SECONDS (%d s), "
				 "so that no row is claimed again while its request is in flight",
				 config->request_timeout_ms, config->lease_seconds);
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
		config->daemon_id = xasprintf("%s:%d", host, (int) getpid());
	}
	if (*config->public_url == '\0')
	{
		free(config->public_url);
		config->public_url = xasprintf("http://%s", config->http_addr);
	}
	return config;

fail:
	config_free(config);
	return NULL;
}

void
config_free(Config *config)
{
	settings_free(&table, config);
}

const SettingsTable *
config_table(void)
{
	return &table;
}
