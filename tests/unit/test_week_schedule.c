/* Unit tests of the open_hours text format: parsing, canonical output, errors. */
#include "week_schedule.h"
#include "tap.h"

static const char *
canonical(const char *text)
{
	static char buf[WS_TEXT_MAX];
	WeekSchedule week;
	WsError		err;

	if (!ws_parse(text, strlen(text), &week, &err))
	{
		snprintf(buf, sizeof(buf), "error at %zu: %s", err.position, err.message);
		return buf;
	}
	ws_format(&week, buf, sizeof(buf));
	return buf;
}

static void
rejects(const char *text, size_t position, const char *fragment)
{
	WeekSchedule week;
	WsError		err = {0, NULL};
	bool		parsed = ws_parse(text, strlen(text), &week, &err);

	tap_ok(!parsed && err.position == position && err.message &&
		   strstr(err.message, fragment) != NULL,
		   "rejects '%s' at %zu with \"%s\"", text, position, fragment);
	if (parsed || err.position != position)
		printf("#   got: %s at %zu: %s\n", parsed ? "accepted" : "rejected",
			   err.position, err.message ? err.message : "");
}

int
main(void)
{
	WeekSchedule week;
	char		buf[WS_TEXT_MAX];

	tap_is_str(canonical("mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00"),
			   "mon-fri 08:00-13:00,14:00-20:00; sat 09:00-13:00", "the issue's example round-trips");
	tap_is_str(canonical("08:00-20:00"), "08:00-20:00", "a rule without days means every day");
	tap_is_str(canonical("  MON-Sun  8:00 - 20:00 ; "), "08:00-20:00",
			   "case, blanks, one-digit hours and a trailing semicolon are accepted");
	tap_is_str(canonical("mon 08:00-13:00,13:00-20:00"), "mon 08:00-20:00",
			   "touching intervals merge");
	tap_is_str(canonical("tue 10:00-12:00, 08:00-11:00"), "tue 08:00-12:00",
			   "overlapping intervals merge and sort");
	tap_is_str(canonical("mon-fri 09:00-17:00; wed 18:00-20:00"),
			   "mon-tue 09:00-17:00; wed 09:00-17:00,18:00-20:00; thu-fri 09:00-17:00",
			   "rules add up per day");
	tap_is_str(canonical("sat-mon 10:00-14:00"), "mon 10:00-14:00; sat-sun 10:00-14:00",
			   "a day range wraps around the week");
	tap_is_str(canonical("mon,wed,fri 07:00-09:00"),
			   "mon 07:00-09:00; wed 07:00-09:00; fri 07:00-09:00", "a list of days");
	tap_is_str(canonical("monday 22:00-24:00; Tuesday 00:00-02:00"),
			   "mon 22:00-24:00; tue 00:00-02:00", "full day names and 24:00 as a closing time");
	tap_is_str(canonical(""), "closed", "empty text is a closed schedule");
	tap_is_str(canonical(" Closed "), "closed", "'closed' is a closed schedule");
	tap_is_str(canonical("00:00-24:00"), "00:00-24:00", "open all day");

	rejects("mon-fri 08:00 13:00", 14, "expected \"-\"");
	rejects("funday 08:00-09:00", 0, "expected a day name");
	rejects("mon 22:00-02:00", 4, "overnight opening as two intervals");
	rejects("mon 08:00-08:00", 4, "must close after it opens");
	rejects("mon 25:00-26:00", 4, "out of range");
	rejects("mon 08:60-09:00", 4, "out of range");
	rejects("mon 24:00-24:00", 4, "24:00 can only close");
	rejects("mon 08:00-24:30", 10, "out of range");
	rejects("mon 8-9", 5, "expected \":\"");
	rejects("mon 08:0-09:00", 7, "two digits of minutes");
	rejects("mon 08:000-09:00", 9, "two digits of minutes");
	rejects("mon 08:00-09:00 tue 10:00-11:00", 16, "expected \";\"");
	rejects("mon", 3, "expected a time");
	rejects("closed mon 08:00-09:00", 7, "nothing after");
	rejects("mon 08:00-09:00;;", 16, "expected a time");
	rejects("mon 0123:00-09:00", 4, "expected a time");

	{
		char		many[WS_TEXT_MAX];
		size_t		n = 0;

		for (int i = 0; i < 17; i++)
			n += snprintf(many + n, sizeof(many) - n, "%s%02d:00-%02d:30", i ? "," : "mon ", i, i);
		rejects(many, 196, "too many");
	}

	ws_parse("mon 08:00-09:00", 15, &week, NULL);
	tap_is_int(ws_format(&week, buf, 5), 15, "ws_format reports the full length when truncating");
	tap_is_str(buf, "mon ", "ws_format truncates safely");
	tap_ok(ws_is_valid(&week), "a parsed schedule is valid");
	week.intervals[0][0].close = 1441;
	tap_ok(!ws_is_valid(&week), "a schedule closing after 24:00 is invalid");

	ws_parse("mon 08:00-13:00,14:00-20:00", 27, &week, NULL);
	ws_format_day(&week, 0, buf, sizeof(buf));
	tap_is_str(buf, "08:00-13:00, 14:00-20:00", "one day's hours for messages");
	return tap_done();
}
