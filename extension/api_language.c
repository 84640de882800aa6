/*
 * api_language.c — the language of an API request's messages.
 *
 *   reflexo.api_set_language(language text) → text
 *       'en…' gives English (lc_messages C), anything else Spanish (the
 *       locale in reflexo.spanish_locale), for the rest of the transaction;
 *       returns the lc_messages now in effect.  lc_messages is for
 *       superusers to set; this function lets the API roles choose between
 *       these two values only.  A server without the Spanish locale answers
 *       in English rather than failing the request (and says so in its log,
 *       once per session).
 *
 *   reflexo.translate(message text) → text
 *       the message in the current lc_messages, from the extension's
 *       catalogue: how PL/pgSQL functions raise translated errors.  Every
 *       message SQL asks to translate is listed in sql_messages.c.
 */
#include "reflexo.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(reflexo_api_set_language);
PG_FUNCTION_INFO_V1(reflexo_translate);

char	   *reflexo_spanish_locale = NULL;

static bool
set_messages_locale(const char *locale, int elevel)
{
	return set_config_option("lc_messages", locale, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
							 true, elevel, false) > 0;
}

Datum
reflexo_api_set_language(PG_FUNCTION_ARGS)
{
	char	   *language = text_to_cstring(PG_GETARG_TEXT_PP(0));
	static bool warned = false;

	if (pg_strncasecmp(language, "en", 2) != 0 && reflexo_spanish_locale && *reflexo_spanish_locale)
	{
		if (set_messages_locale(reflexo_spanish_locale, DEBUG1))
			PG_RETURN_TEXT_P(cstring_to_text(reflexo_spanish_locale));
		if (!warned)
			ereport(LOG,
					(errmsg("locale \"%s\" is not available: API messages are in English",
							reflexo_spanish_locale),
					 errhint("Generate it (locale-gen on Debian), or set reflexo.spanish_locale to one that exists.")));
		warned = true;
	}
	set_messages_locale("C", ERROR);
	PG_RETURN_TEXT_P(cstring_to_text("C"));
}

Datum
reflexo_translate(PG_FUNCTION_ARGS)
{
	char	   *message = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_TEXT_P(cstring_to_text(_(message)));
}
