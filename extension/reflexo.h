/*
 * reflexo.h — settings shared by the reflexo extension's C files.
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

/* reflexo.change_origin: who is changing appointments right now. */
typedef enum ChangeOrigin
{
	CHANGE_ORIGIN_LOCAL,
	CHANGE_ORIGIN_GHL
} ChangeOrigin;

extern int	reflexo_strict_validation;
extern int	reflexo_change_origin;

#endif							/* REFLEXO_H */
