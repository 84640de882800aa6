/*
 * open_hours.h — the reflexo.open_hours base type.
 *
 * On disk it is a varlena holding, for each day from Monday to Sunday, the
 * number of intervals, followed by all (open, close) minute pairs in day
 * order.  Values are always in the canonical form of week_schedule.c, so
 * byte equality is schedule equality.
 */
#ifndef OPEN_HOURS_H
#define OPEN_HOURS_H

#include "postgres.h"

#include "fmgr.h"
#include "week_schedule.h"

typedef struct OpenHours
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		count[WS_DAYS];
	uint8		padding;
	int16		minutes[FLEXIBLE_ARRAY_MEMBER];
} OpenHours;

#define DatumGetOpenHoursP(X)	((OpenHours *) PG_DETOAST_DATUM(X))
#define PG_GETARG_OPEN_HOURS_P(n) DatumGetOpenHoursP(PG_GETARG_DATUM(n))

extern void open_hours_to_week(const OpenHours *hours, WeekSchedule *week);

#endif							/* OPEN_HOURS_H */
