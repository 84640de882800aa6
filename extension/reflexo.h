/*
 * reflexo.h — settings shared by the reflexo extension's C files.
 */
#ifndef REFLEXO_H
#define REFLEXO_H

#include "postgres.h"

/*
 * This extension's messages come from its own catalogue (po/<lang>.po, installed
 * as reflexo-<major>.mo), not the server's: ereport and _() look them up in
 * this text domain.  elog.h sets TEXTDOMAIN to NULL, hence the redefinition.
 */
#undef TEXTDOMAIN
#define TEXTDOMAIN PG_TEXTDOMAIN("reflexo")
#undef _
#define _(x) dgettext(TEXTDOMAIN, x)
#undef ngettext
#define ngettext(singular, plural, n) dngettext(TEXTDOMAIN, singular, plural, n)

/* reflexo.strict_validation: follow the location, or force strict/flexible. */
typedef enum StrictValidation
{
	STRICT_VALIDATION_LOCATION,
	STRICT_VALIDATION_ON,
	STRICT_VALIDATION_OFF
} StrictValidation;

/* reflexo.change_origin: who is changing appointments right now. */
typedef enum ChangeOrigin
{
	CHANGE_ORIGIN_LOCAL,
	CHANGE_ORIGIN_GHL
} ChangeOrigin;

extern int	reflexo_strict_validation;

/* api_identity.c: an API request of a staff member (not an admin, not a plain database session) */
extern bool api_request_is_staff(void);
/* api_identity.c: a claim of the request's JWT as text (->> 'key'), NULL if none */
extern char *api_request_claim(const char *key);
extern int	reflexo_change_origin;
extern char *reflexo_change_source;
extern char *reflexo_spanish_locale;

#endif							/* REFLEXO_H */
