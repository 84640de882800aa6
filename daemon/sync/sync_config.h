/*
 * sync_config.h — reflexo-sync's configuration, from the environment (the
 * Django service's variable names) and an optional env file.
 */
#ifndef REFLEXO_SYNC_CONFIG_H
#define REFLEXO_SYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"
#include "common/settings.h"

typedef struct Config
{
	char	   *database_url;		/* DATABASE_URL: libpq conninfo or URI */
	char	   *ghl_api_base;		/* GHL_API_BASE */
	char	   *ghl_client_id;		/* GHL_CLIENT_ID */
	char	   *ghl_client_secret;	/* GHL_CLIENT_SECRET */
	char	   *ghl_access_token;	/* GHL_ACCESS_TOKEN: bootstrap only */
	char	   *ghl_refresh_token;	/* GHL_REFRESH_TOKEN: bootstrap only */
	char	   *ghl_location_id;	/* GHL_LOCATION_ID */
	char	   *ghl_webhook_secret; /* GHL_WEBHOOK_SECRET */
	char	   *webhook_public_key;	/* GHL_WEBHOOK_PUBLIC_KEY: Ed25519 PEM file */
	char	   *webhook_rsa_public_key; /* GHL_WEBHOOK_RSA_PUBLIC_KEY: RSA PEM file */
	char	   *http_addr;			/* REFLEXO_HTTP_ADDR */
	char	   *public_url;			/* REFLEXO_PUBLIC_URL: for the OAuth redirect */
	char	   *frontend_url;		/* FRONTEND_URL: where the OAuth result page links back to */
	char	   *ops_token;			/* REFLEXO_OPS_TOKEN: guards metrics and status; empty: open */
	char	   *ghl_oauth_url;		/* GHL_OAUTH_URL: where GHL's consent page (chooselocation) is */
	unsigned char token_key[32];	/* REFLEXO_TOKEN_KEY: AES-256 key, base64 or hex */
	char	   *daemon_id;			/* REFLEXO_DAEMON_ID: lease owner */
	int			max_inflight;		/* REFLEXO_MAX_INFLIGHT */
	int			claim_batch;		/* REFLEXO_CLAIM_BATCH */
	int			lease_seconds;		/* REFLEXO_LEASE_SECONDS */
	int			poll_ms;			/* REFLEXO_POLL_MS, at most 2000 */
	int			request_timeout_ms; /* REFLEXO_REQUEST_TIMEOUT_MS */
	int			rate_limit;			/* REFLEXO_RATE_LIMIT per REFLEXO_RATE_INTERVAL_MS */
	int			rate_interval_ms;
	int			daily_limit;		/* REFLEXO_DAILY_LIMIT */
	int			calendar_sync_seconds;	/* REFLEXO_CALENDAR_SYNC_SECONDS */
	int			reconcile_seconds;	/* REFLEXO_RECONCILE_SECONDS */
	int			reconcile_days_back;	/* REFLEXO_RECONCILE_DAYS_BACK */
	int			reconcile_days_ahead;	/* REFLEXO_RECONCILE_DAYS_AHEAD */
	int			webhook_max_age_seconds;	/* REFLEXO_WEBHOOK_MAX_AGE_SECONDS */
	int			http_db_connections;	/* REFLEXO_HTTP_DB_CONNECTIONS */
	LogLevel	log_level;			/* REFLEXO_LOG_LEVEL */
} Config;

/*
 * Reads the environment, then env_file (if given) for what the environment
 * does not set.  On a problem returns NULL and describes it in error.
 */
extern Config *config_load(const char *env_file, char *error, size_t error_size);
extern void config_free(Config *config);

/* The settings table: --help and --env-example print it. */
extern const SettingsTable *config_table(void);

#endif							/* REFLEXO_SYNC_CONFIG_H */
