/*
 * reflexo.c — module entry point: settings and the message catalogue.
 */
#include "reflexo.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

int			reflexo_strict_validation = STRICT_VALIDATION_LOCATION;

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
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("reflexo");
}
