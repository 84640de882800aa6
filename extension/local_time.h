/*
 * local_time.h — instants seen as a location's wall clock, DST included.
 *
 * Working hours and closures are wall-clock rules ("08:00-20:00 in Lima"),
 * while appointments are instants.  A booking [start, end) is walked as one
 * or more wall-clock spans, split wherever the zone's UTC offset changes, so
 * a DST jump or repeated hour is judged by the local times it really covers.
 * Wall-clock values are PostgreSQL Timestamps (timestamp without time zone).
 */
#ifndef LOCAL_TIME_H
#define LOCAL_TIME_H

#include "postgres.h"

#include "pgtime.h"
#include "utils/timestamp.h"
#include "week_schedule.h"

typedef struct WallSpan
{
	Timestamp	from;
	Timestamp	to;				/* exclusive */
} WallSpan;

typedef struct WallWalker
{
	TimestampTz next;
	TimestampTz end;
	pg_tz	   *tz;
} WallWalker;

extern pg_tz *find_time_zone(const char *name);
extern Timestamp to_wall_clock(TimestampTz instant, pg_tz *tz);
extern bool from_wall_clock(Timestamp wall, pg_tz *tz, TimestampTz *instant);
extern void wall_walker_init(WallWalker *walker, TimestampTz start, TimestampTz end, pg_tz *tz);
extern bool wall_walker_next(WallWalker *walker, WallSpan *span);
extern bool week_covers(const WeekSchedule *week, const WallSpan *span, Timestamp *gap);
extern int	wall_day_of_week(Timestamp wall);
extern Timestamp wall_start_of_day(Timestamp wall);
extern void local_day_bounds(TimestampTz instant, pg_tz *tz, TimestampTz *from, TimestampTz *to);
extern void format_wall_time(Timestamp wall, char *buf, size_t size);
extern void format_wall_date(Timestamp wall, char *buf, size_t size);
extern char *instant_text(TimestampTz instant);

#endif							/* LOCAL_TIME_H */
