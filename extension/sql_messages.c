/*
 * sql_messages.c — messages that the install script's PL/pgSQL raises
 * through reflexo.translate().  They are listed here so that xgettext puts
 * them in po/reflexo.pot with the C messages; pgtap/24_translated_sql checks
 * that every reflexo.translate('...') in the installed functions is one of
 * them (reflexo.translatable_messages() returns this list).
 */
#include "reflexo.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(reflexo_translatable_messages);

static const char *const messages[] = {
	gettext_noop("calendar %s does not exist or is not available"),
	gettext_noop("No calendar of your locations has ghl_calendar_id %s."),
	gettext_noop("GET /api/ghl/calendars/ lists the calendars you can book."),
	gettext_noop("location %s is not one of yours"),
	gettext_noop("GET /api/locations/settings/ lists the locations you work in."),
	gettext_noop("cita needs a calendar"),
	gettext_noop("Neither ghl_calendar_id nor a location with a default calendar was given."),
	gettext_noop("Give ghl_calendar_id, or ghl_location_id of a location with a default calendar."),
	gettext_noop("id, location_id and ghl_appointment_id of a cita cannot change"),
	gettext_noop("Book a new cita in the other location and cancel this one."),
	gettext_noop("the token was revoked"),
	gettext_noop("The user was deactivated, or their password, role or locations changed since the token was issued."),
	gettext_noop("Log in again."),
	gettext_noop("only admins may %s"),
	gettext_noop("retry a sync"),
	gettext_noop("manage closures"),
	gettext_noop("Ask an admin of the clinic."),
	gettext_noop("last_day comes before first_day"),
	gettext_noop("It is not an active calendar of location %s."),
	gettext_noop("GET /api/locations/settings/{id}/calendars/ lists them."),
	gettext_noop("password too short"),
	gettext_noop("A password needs at least 10 characters."),
	gettext_noop("Choose a longer password, e.g. a few words."),
	gettext_noop("manage therapists"),
	gettext_noop("invalid recurrence rule: %s"),
	gettext_noop("The rule was \"%s\"."),
	gettext_noop("Supported: FREQ=DAILY or WEEKLY, INTERVAL, BYDAY, and COUNT or UNTIL, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10."),
	gettext_noop("Book a shorter series, e.g. with COUNT."),
	gettext_noop("Book an active calendar of the appointment's location; reflexo.calendars lists them."),
	gettext_noop("it yields no session"),
	gettext_noop("Check the first start, BYDAY and UNTIL."),
	gettext_noop("%s of the %s sessions of the series cannot be booked"),
	gettext_noop(" (free: %s)"),
	gettext_noop("Move those sessions, or book what fits (all_or_nothing = false)."),
	gettext_noop("series %s not found"),
	gettext_noop("therapist %s does not work at location %s"),
	gettext_noop("GET /api/locations/settings/{id}/therapists/ lists them."),
	gettext_noop("closed_until must come after closed_from"),
	gettext_noop("\"%s\" is not KEY=VALUE"),
	gettext_noop("FREQ=%s is not supported"),
	gettext_noop("INTERVAL must be a whole number from 1 to 365"),
	gettext_noop("COUNT must be a whole number from 1 to %s"),
	gettext_noop("UNTIL must be a date (20261231) or a date-time (20261231T235959Z)"),
	gettext_noop("BYDAY takes MO, TU, WE, TH, FR, SA, SU, not \"%s\""),
	gettext_noop("only WKST=MO is supported"),
	gettext_noop("%s is not supported"),
	gettext_noop("FREQ is missing"),
	gettext_noop("give either COUNT or UNTIL"),
	gettext_noop("more than %s occurrences"),
};

/* SELECT * FROM reflexo.translatable_messages(): the list above. */
Datum
reflexo_translatable_messages(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (size_t i = 0; i < lengthof(messages); i++)
	{
		Datum		value = CStringGetTextDatum(messages[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
