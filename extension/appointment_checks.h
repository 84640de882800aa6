/*
 * appointment_checks.h — the CHECK constraints of reflexo.appointments, in C.
 */
#ifndef REFLEXO_APPOINTMENT_CHECKS_H
#define REFLEXO_APPOINTMENT_CHECKS_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * Every appointment, active or not, lies between 2000-01-01 and 2100-01-01
 * UTC: an infinite or absurd time could not be sent to GHL, and would make
 * every rule that walks the days of a booking walk for ever.
 */
#define APPOINTMENT_TIME_MIN ((TimestampTz) 0)	/* 2000-01-01 00:00 UTC, PostgreSQL's epoch */
#define APPOINTMENT_TIME_MAX ((TimestampTz) 36525 * USECS_PER_DAY)	/* 2100-01-01 00:00 UTC */

static inline bool
appointment_time_in_range(TimestampTz t)
{
	return t >= APPOINTMENT_TIME_MIN && t <= APPOINTMENT_TIME_MAX;
}

#endif							/* REFLEXO_APPOINTMENT_CHECKS_H */
