/*
 * week_schedule.c — parse, normalise and format weekly schedules.
 *
 * Plain C with no allocation: the parser writes into a caller-provided
 * WeekSchedule and reports the first error with its byte offset.
 */
#include "week_schedule.h"

#include <stdio.h>
#include <string.h>

/* Marks an error message for the translation catalogue; callers translate it. */
#define N_(message) message

static const char *const day_short[WS_DAYS] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun"
};
/* marked for the extension's message catalogue: guard.c names days with them */
#ifndef gettext_noop
#define gettext_noop(text) (text)
#endif
static const char *const day_long[WS_DAYS] = {
	gettext_noop("Monday"), gettext_noop("Tuesday"), gettext_noop("Wednesday"), gettext_noop("Thursday"),
	gettext_noop("Friday"), gettext_noop("Saturday"), gettext_noop("Sunday")
};

const char *
ws_day_name(int day)
{
	return (day >= 0 && day < WS_DAYS) ? day_long[day] : "?";
}

void
ws_clear(WeekSchedule *week)
{
	memset(week, 0, sizeof(*week));
}

static bool
fail(WsError *err, size_t position, const char *message)
{
	if (err)
	{
		err->position = position;
		err->message = message;
	}
	return false;
}

/* Adds [open, close) to a day, keeping its intervals sorted and merged. */
bool
ws_add(WeekSchedule *week, int day, int open, int close, WsError *err)
{
	WsInterval	all[WS_MAX_INTERVALS + 1];
	int			count = week->count[day];
	int			n = 0;
	int			i;

	if (open < 0 || close > WS_MINUTES_PER_DAY || open >= close)
		return fail(err, 0, N_("an interval must close after it opens, within one day"));

	/* insert in order of opening time */
	for (i = count; i > 0 && week->intervals[day][i - 1].open > open; i--)
		all[i] = week->intervals[day][i - 1];
	all[i].open = (int16_t) open;
	all[i].close = (int16_t) close;
	while (--i >= 0)
		all[i] = week->intervals[day][i];

	/* merge overlapping and touching intervals */
	for (i = 0; i <= count; i++)
	{
		if (n > 0 && all[i].open <= all[n - 1].close)
		{
			if (all[i].close > all[n - 1].close)
				all[n - 1].close = all[i].close;
		}
		else
			all[n++] = all[i];
	}

	if (n > WS_MAX_INTERVALS)
		return fail(err, 0, N_("too many separate intervals in one day (at most 16)"));
	memcpy(week->intervals[day], all, sizeof(WsInterval) * n);
	week->count[day] = (uint8_t) n;
	return true;
}

typedef struct Cursor
{
	const char *text;
	size_t		len;
	size_t		pos;
} Cursor;

static void
skip_blanks(Cursor *c)
{
	while (c->pos < c->len &&
		   (c->text[c->pos] == ' ' || c->text[c->pos] == '\t' ||
			c->text[c->pos] == '\n' || c->text[c->pos] == '\r'))
		c->pos++;
}

static bool
at_end(Cursor *c)
{
	skip_blanks(c);
	return c->pos >= c->len;
}

static bool
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
word_equals(const char *word, size_t n, const char *name)
{
	if (strlen(name) != n)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		ch = word[i];
		char		expected = name[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char) (ch - 'A' + 'a');
		if (expected >= 'A' && expected <= 'Z')
			expected = (char) (expected - 'A' + 'a');
		if (ch != expected)
			return false;
	}
	return true;
}

static bool
parse_day(Cursor *c, int *day, WsError *err)
{
	size_t		start;

	skip_blanks(c);
	start = c->pos;
	while (c->pos < c->len && is_alpha(c->text[c->pos]))
		c->pos++;
	for (int d = 0; d < WS_DAYS; d++)
	{
		if (word_equals(c->text + start, c->pos - start, day_short[d]) ||
			word_equals(c->text + start, c->pos - start, day_long[d]))
		{
			*day = d;
			return true;
		}
	}
	return fail(err, start, N_("expected a day name (mon, tue, wed, thu, fri, sat or sun)"));
}

/* days := dayrange { "," dayrange }; sets one flag per day. */
static bool
parse_days(Cursor *c, bool days[WS_DAYS], WsError *err)
{
	for (;;)
	{
		int			first,
					last;

		if (!parse_day(c, &first, err))
			return false;
		last = first;
		skip_blanks(c);
		if (c->pos < c->len && c->text[c->pos] == '-')
		{
			c->pos++;
			if (!parse_day(c, &last, err))
				return false;
		}
		for (int d = first;; d = (d + 1) % WS_DAYS)
		{
			days[d] = true;
			if (d == last)
				break;
		}
		skip_blanks(c);
		/* a comma continues the day list only if a day name follows */
		if (c->pos < c->len && c->text[c->pos] == ',')
		{
			size_t		save = c->pos;

			c->pos++;
			skip_blanks(c);
			if (c->pos < c->len && is_alpha(c->text[c->pos]))
				continue;
			c->pos = save;
		}
		return true;
	}
}

/* time := H[H]:MM, returned in minutes; 24:00 is allowed only when closing. */
static bool
parse_time(Cursor *c, bool closing, int *minutes, WsError *err)
{
	size_t		start;
	int			hour = 0,
				minute = 0,
				digits = 0;

	skip_blanks(c);
	start = c->pos;
	while (c->pos < c->len && is_digit(c->text[c->pos]) && digits < 3)
	{
		hour = hour * 10 + (c->text[c->pos++] - '0');
		digits++;
	}
	if (digits == 0 || digits > 2)
		return fail(err, start, N_("expected a time such as 08:00"));
	if (c->pos >= c->len || c->text[c->pos] != ':')
		return fail(err, c->pos, N_("expected \":\" between hours and minutes"));
	c->pos++;
	if (c->pos + 2 > c->len || !is_digit(c->text[c->pos]) || !is_digit(c->text[c->pos + 1]))
		return fail(err, c->pos, N_("expected two digits of minutes"));
	minute = (c->text[c->pos] - '0') * 10 + (c->text[c->pos + 1] - '0');
	c->pos += 2;
	if (c->pos < c->len && is_digit(c->text[c->pos]))
		return fail(err, c->pos, N_("expected two digits of minutes"));
	if (hour > 24 || minute > 59)
		return fail(err, start, N_("time of day out of range"));
	if (hour == 24 && minute != 0)
		return fail(err, start, N_("time of day out of range"));
	if (hour == 24 && !closing)
		return fail(err, start, N_("24:00 can only close an interval"));
	*minutes = hour * 60 + minute;
	return true;
}

/* intervals := interval { "," interval }, added to every flagged day. */
static bool
parse_intervals(Cursor *c, const bool days[WS_DAYS], WeekSchedule *week, WsError *err)
{
	for (;;)
	{
		int			open,
					close;
		size_t		start;

		skip_blanks(c);
		start = c->pos;
		if (!parse_time(c, false, &open, err))
			return false;
		skip_blanks(c);
		if (c->pos >= c->len || c->text[c->pos] != '-')
			return fail(err, c->pos, N_("expected \"-\" between opening and closing times"));
		c->pos++;
		if (!parse_time(c, true, &close, err))
			return false;
		if (close <= open)
			return fail(err, start,
						N_("an interval must close after it opens; write an overnight opening as two intervals, e.g. \"mon 22:00-24:00; tue 00:00-02:00\""));
		for (int d = 0; d < WS_DAYS; d++)
		{
			if (days[d] && !ws_add(week, d, open, close, err))
				return fail(err, start, err ? err->message : NULL);
		}
		skip_blanks(c);
		if (c->pos < c->len && c->text[c->pos] == ',')
		{
			c->pos++;
			continue;
		}
		return true;
	}
}

bool
ws_parse(const char *text, size_t len, WeekSchedule *week, WsError *err)
{
	Cursor		c = {text, len, 0};

	ws_clear(week);
	if (at_end(&c))
		return true;
	if (c.len - c.pos >= 6 && word_equals(c.text + c.pos, 6, "closed"))
	{
		c.pos += 6;
		if (at_end(&c))
			return true;
		return fail(err, c.pos, N_("expected nothing after \"closed\""));
	}

	for (;;)
	{
		bool		days[WS_DAYS] = {false};

		skip_blanks(&c);
		if (c.pos < c.len && is_alpha(c.text[c.pos]))
		{
			if (!parse_days(&c, days, err))
				return false;
		}
		else
		{
			for (int d = 0; d < WS_DAYS; d++)
				days[d] = true;
		}
		if (!parse_intervals(&c, days, week, err))
			return false;
		if (at_end(&c))
			return true;
		if (c.text[c.pos] != ';')
			return fail(err, c.pos, N_("expected \";\" between rules or \",\" between intervals"));
		c.pos++;
		if (at_end(&c))
			return true;
	}
}

typedef struct Out
{
	char	   *buf;
	size_t		size;
	size_t		len;
} Out;

static void
put(Out *o, const char *s)
{
	size_t		n = strlen(s);

	if (o->size > 0 && o->len < o->size - 1)
	{
		size_t		room = o->size - 1 - o->len;
		size_t		k = n < room ? n : room;

		memcpy(o->buf + o->len, s, k);
		o->buf[o->len + k] = '\0';
	}
	o->len += n;
}

static void
put_intervals(Out *o, const WeekSchedule *week, int day, const char *separator)
{
	for (int i = 0; i < week->count[day]; i++)
	{
		char		piece[32];
		const WsInterval *iv = &week->intervals[day][i];

		snprintf(piece, sizeof(piece), "%02d:%02d-%02d:%02d",
				 iv->open / 60, iv->open % 60, iv->close / 60, iv->close % 60);
		if (i > 0)
			put(o, separator);
		put(o, piece);
	}
}

static bool
same_day(const WeekSchedule *week, int a, int b)
{
	return week->count[a] == week->count[b] &&
		memcmp(week->intervals[a], week->intervals[b],
			   sizeof(WsInterval) * week->count[a]) == 0;
}

/* Writes the canonical text; returns its length (like snprintf). */
size_t
ws_format(const WeekSchedule *week, char *buf, size_t size)
{
	Out			o = {buf, size, 0};
	bool		every_day = true;
	bool		first = true;

	if (size > 0)
		buf[0] = '\0';
	if (ws_total_intervals(week) == 0)
	{
		put(&o, "closed");
		return o.len;
	}
	for (int d = 1; d < WS_DAYS; d++)
		every_day = every_day && same_day(week, 0, d);
	if (every_day)
	{
		put_intervals(&o, week, 0, ",");
		return o.len;
	}
	for (int d = 0; d < WS_DAYS; d++)
	{
		int			last = d;

		if (week->count[d] == 0)
			continue;
		while (last + 1 < WS_DAYS && same_day(week, d, last + 1))
			last++;
		if (!first)
			put(&o, "; ");
		put(&o, day_short[d]);
		if (last > d)
		{
			put(&o, "-");
			put(&o, day_short[last]);
		}
		put(&o, " ");
		put_intervals(&o, week, d, ",");
		first = false;
		d = last;
	}
	return o.len;
}

/* One day's intervals for messages, e.g. "08:00-13:00, 14:00-20:00". */
size_t
ws_format_day(const WeekSchedule *week, int day, char *buf, size_t size)
{
	Out			o = {buf, size, 0};

	if (size > 0)
		buf[0] = '\0';
	put_intervals(&o, week, day, ", ");
	return o.len;
}

/* True when the schedule is in canonical form (what ws_add produces). */
bool
ws_is_valid(const WeekSchedule *week)
{
	for (int d = 0; d < WS_DAYS; d++)
	{
		if (week->count[d] > WS_MAX_INTERVALS)
			return false;
		for (int i = 0; i < week->count[d]; i++)
		{
			const WsInterval *iv = &week->intervals[d][i];

			if (iv->open < 0 || iv->close > WS_MINUTES_PER_DAY || iv->open >= iv->close)
				return false;
			if (i > 0 && iv->open <= week->intervals[d][i - 1].close)
				return false;
		}
	}
	return true;
}

bool
ws_equal(const WeekSchedule *a, const WeekSchedule *b)
{
	for (int d = 0; d < WS_DAYS; d++)
		if (a->count[d] != b->count[d] ||
			memcmp(a->intervals[d], b->intervals[d], sizeof(WsInterval) * a->count[d]) != 0)
			return false;
	return true;
}

int
ws_total_intervals(const WeekSchedule *week)
{
	int			n = 0;

	for (int d = 0; d < WS_DAYS; d++)
		n += week->count[d];
	return n;
}
