/*
 * week_schedule.h — a weekly schedule of open intervals, in plain C.
 *
 * This is the model behind the reflexo.open_hours type.  It has no
 * PostgreSQL dependency so that the same parser and formatter run inside the
 * backend, in the unit tests and under the fuzzer.
 *
 * Text format (case-insensitive, blanks ignored between tokens):
 *
 *     schedule := "closed" | rule { ";" rule } [ ";" ]
 *     rule     := [ days ] interval { "," interval }
 *     days     := dayrange { "," dayrange }
 *     dayrange := day [ "-" day ]            mon-fri, fri-mon wraps the week
 *     day      := mon | tue | wed | thu | fri | sat | sun  (or the full name)
 *     interval := HH:MM "-" HH:MM            00:00 <= open < close <= 24:00
 *
 * A rule without days applies to every day.  Rules add up: intervals of the
 * same day are sorted and merged, so equal schedules have one canonical form.
 * An interval never crosses midnight; an overnight opening is written as two
 * intervals ("mon 22:00-24:00; tue 00:00-02:00"), and a booking that spans
 * midnight is inside the schedule when both parts are.
 */
#ifndef WEEK_SCHEDULE_H
#define WEEK_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_DAYS 7
#define WS_MAX_INTERVALS 16		/* per day, after merging */
#define WS_MINUTES_PER_DAY 1440

/* Day 0 is Monday, 6 is Sunday (ISO order). */
typedef struct WsInterval
{
	int16_t		open;			/* minutes after local midnight */
	int16_t		close;			/* exclusive; at most WS_MINUTES_PER_DAY */
} WsInterval;

typedef struct WeekSchedule
{
	uint8_t		count[WS_DAYS];
	WsInterval	intervals[WS_DAYS][WS_MAX_INTERVALS];
} WeekSchedule;

typedef struct WsError
{
	size_t		position;		/* byte offset where parsing stopped */
	const char *message;		/* untranslated English text */
} WsError;

/* Longest text ws_format can produce, including the terminating NUL. */
#define WS_TEXT_MAX 1600

extern void ws_clear(WeekSchedule *week);
extern bool ws_add(WeekSchedule *week, int day, int open, int close, WsError *err);
extern bool ws_parse(const char *text, size_t len, WeekSchedule *week, WsError *err);
extern size_t ws_format(const WeekSchedule *week, char *buf, size_t size);
extern size_t ws_format_day(const WeekSchedule *week, int day, char *buf, size_t size);
extern bool ws_is_valid(const WeekSchedule *week);
extern bool ws_equal(const WeekSchedule *a, const WeekSchedule *b);
extern int	ws_total_intervals(const WeekSchedule *week);
/* The English name of a day (0 = Monday), capitalized; parsing accepts it in any case. */
extern const char *ws_day_name(int day);

#endif							/* WEEK_SCHEDULE_H */
