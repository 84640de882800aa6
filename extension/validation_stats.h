/*
 * validation_stats.h — counts of broken booking rules, by kind, in shared
 * memory.  Counting must survive the rollback of the rejected transaction,
 * so it cannot live in a table.  Needs shared_preload_libraries = 'reflexo';
 * without it nothing is counted and the counts read as NULL.
 */
#ifndef VALIDATION_STATS_H
#define VALIDATION_STATS_H

#include "postgres.h"

/* The rules that can be broken; also the names stored in validation_flags. */
typedef enum ValidationKind
{
	VALIDATION_OVERLAP,
	VALIDATION_OUTSIDE_HOURS,
	VALIDATION_CLOSURE,
	VALIDATION_TOO_SHORT,
	VALIDATION_TOO_LONG,
	VALIDATION_CALENDAR_UNAVAILABLE,
	VALIDATION_TOO_SOON,		/* inside the calendar's minimum notice */
	VALIDATION_TOO_FAR,			/* beyond its booking horizon */
	VALIDATION_DAY_FULL,		/* its appointments per day reached */
	VALIDATION_IN_PAST,			/* staff booking the past: always refused, never stored */
	NUM_VALIDATION_KINDS
} ValidationKind;

extern const char *const validation_kind_names[NUM_VALIDATION_KINDS];

extern void validation_stats_request_shmem(void);
extern void count_validation(ValidationKind kind, bool rejected);

#endif							/* VALIDATION_STATS_H */
