/*
 * reflexo.c — module entry point: settings, shared memory and the message
 * catalogue.
 */
#include "reflexo.h"

#include "fmgr.h"
#include "location_merge.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "validation_stats.h"

PG_MODULE_MAGIC;

int			reflexo_strict_validation = STRICT_VALIDATION_LOCATION;
int			reflexo_change_origin = CHANGE_ORIGIN_LOCAL;
char	   *reflexo_change_source = NULL;
static int	reflexo_outbox_max_attempts = 25;
static int	reflexo_outbox_backoff_cap = 3600;
static char *reflexo_obsolete_jwt_secret = NULL;
static int	reflexo_jwt_access_seconds = 3600;
static int	reflexo_jwt_refresh_seconds = 7 * 24 * 3600;
static int	reflexo_password_iterations = 600000;
static int	reflexo_login_max_failures = 5;
static int	reflexo_login_lockout_seconds = 900;
static int	reflexo_ghl_clock_skew = 30;

static const struct config_enum_entry strict_validation_options[] = {
	{"location", STRICT_VALIDATION_LOCATION, false},
	{"on", STRICT_VALIDATION_ON, false},
	{"off", STRICT_VALIDATION_OFF, false},
	{"true", STRICT_VALIDATION_ON, true},
	{"false", STRICT_VALIDATION_OFF, true},
	{"yes", STRICT_VALIDATION_ON, true},
	{"no", STRICT_VALIDATION_OFF, true},
	{"1", STRICT_VALIDATION_ON, true},
	{"0", STRICT_VALIDATION_OFF, true},
	{NULL, 0, false}
};

static const struct config_enum_entry change_origin_options[] = {
	{"local", CHANGE_ORIGIN_LOCAL, false},
	{"ghl", CHANGE_ORIGIN_GHL, false},
	{NULL, 0, false}
};

void		_PG_init(void);

void
_PG_init(void)
{
	pg_bindtextdomain(TEXTDOMAIN);

	DefineCustomEnumVariable("reflexo.strict_validation",
							 gettext_noop("Whether overlap and working-hours violations reject a booking."),
							 gettext_noop("\"location\" follows each location's strict_validation setting; "
										  "\"off\" stores violating bookings flagged, with a warning; "
										  "\"on\" rejects them everywhere."),
							 &reflexo_strict_validation,
							 STRICT_VALIDATION_LOCATION,
							 strict_validation_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	/*
	 * Only superusers (in practice: reflexo.apply_ghl_webhook, a SECURITY
	 * DEFINER function) may say that a change comes from GHL, because such
	 * changes skip the rules and are not pushed back.
	 */
	DefineCustomEnumVariable("reflexo.change_origin",
							 gettext_noop("Where the appointment changes of this transaction come from."),
							 gettext_noop("Set to \"ghl\" only while applying a change received from GHL."),
							 &reflexo_change_origin,
							 CHANGE_ORIGIN_LOCAL,
							 change_origin_options,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomStringVariable("reflexo.change_source",
							   gettext_noop("What delivered the GHL change being applied, for the history."),
							   NULL,
							   &reflexo_change_source,
							   "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	DefineCustomIntVariable("reflexo.outbox_max_attempts",
							gettext_noop("Attempts after which a failing outbox row is dead."),
							NULL,
							&reflexo_outbox_max_attempts,
							25, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("reflexo.outbox_backoff_cap",
							gettext_noop("Longest wait between two attempts of an outbox row."),
							NULL,
							&reflexo_outbox_backoff_cap,
							3600, 1, 7 * 24 * 3600,
							PGC_SUSET, 0, NULL, NULL, NULL);

	/*
	 * 0.1.0 read the JWT secret from here, and ALTER DATABASE ... SET put it
	 * where every role can read it.  Now ignored (reflexo.jwt_keys holds the
	 * secret); still defined so that old settings load without a warning and
	 * ALTER DATABASE ... RESET can remove them.
	 */
	DefineCustomStringVariable("reflexo.jwt_secret",
							   gettext_noop("Obsolete and ignored: the JWT secret is set with reflexo.set_jwt_secret()."),
							   NULL,
							   &reflexo_obsolete_jwt_secret,
							   "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("reflexo.jwt_access_seconds",
							gettext_noop("Lifetime of an access token from api.login."),
							NULL,
							&reflexo_jwt_access_seconds,
							3600, 60, 24 * 3600,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("reflexo.jwt_refresh_seconds",
							gettext_noop("Lifetime of a refresh token from api.login."),
							NULL,
							&reflexo_jwt_refresh_seconds,
							7 * 24 * 3600, 300, 90 * 24 * 3600,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("reflexo.password_iterations",
							gettext_noop("PBKDF2-SHA256 iterations of new password hashes."),
							NULL,
							&reflexo_password_iterations,
							600000, 1000, 10000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("reflexo.login_max_failures",
							gettext_noop("Failed logins in a row after which a user is locked out for a while."),
							NULL,
							&reflexo_login_max_failures,
							5, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("reflexo.login_lockout_seconds",
							gettext_noop("How long a user is locked out after too many failed logins."),
							NULL,
							&reflexo_login_lockout_seconds,
							900, 1, 7 * 24 * 3600,
							PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("reflexo.ghl_clock_skew",
							gettext_noop("Seconds by which GHL's clock may lag this server's: a GHL change dated that much "
										 "before a local change still wins over it."),
							NULL,
							&reflexo_ghl_clock_skew,
							30, 0, 3600,
							PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("reflexo.spanish_locale",
							   gettext_noop("Locale of the API's Spanish messages (reflexo.api_set_language)."),
							   NULL,
							   &reflexo_spanish_locale,
							   "es_PE.UTF-8",
							   PGC_SUSET, 0, NULL, NULL, NULL);

	location_merge_init();

	MarkGUCPrefixReserved("reflexo");

	if (process_shared_preload_libraries_in_progress)
		validation_stats_request_shmem();
}
