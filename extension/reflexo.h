/*
 * reflexo.h — declarations shared by the reflexo extension's C files.
 */
#ifndef REFLEXO_H
#define REFLEXO_H

#include "postgres.h"

/* reflexo.strict_validation: follow the location, or force strict/flexible. */
typedef enum StrictValidation
{
	STRICT_VALIDATION_LOCATION,
	STRICT_VALIDATION_ON,
	STRICT_VALIDATION_OFF
} StrictValidation;

extern int	reflexo_strict_validation;

#endif							/* REFLEXO_H */
