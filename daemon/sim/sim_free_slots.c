/*
 * sim_free_slots.c — GET /calendars/{id}/free-slots: bookable start times
 * per local day, from the calendar's openHours, slot length and interval,
 * and appointments per slot.  Local time comes from the C library's time
 * zone database (TZ is switched under the store lock, which serializes it).
 */
#include "sim.h"
#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/iso_time.h"

static bool
open_on(json_t *entry, int weekday)
{
	size_t		i;
	json_t	   *day;

	json_array_foreach(json_object_get(entry, "daysOfTheWeek"), i, day)
		if (json_integer_value(day) == weekday)
		return true;
	return false;
}

/* Epoch seconds of a local wall-clock time (DST resolved by mktime). */
static time_t
local_epoch(const struct tm *day, int minute_of_day)
{
	struct tm	tm = *day;

	tm.tm_hour = minute_of_day / 60;
	tm.tm_min = minute_of_day % 60;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void
add_slots(json_t *result, json_t *calendar, const struct tm *day, int open, int close, int length, int step,
		  int64_t from_ms, int64_t to_ms, const char *user_id)
{
	const char *calendar_id = json_string_value(json_object_get(calendar, "id"));
	json_int_t	per_slot = json_integer_value(json_object_get(calendar, "appoinmentPerSlot"));
	int64_t		reach = calendar_buffers_ms(calendar);	/* its preBuffer and slotBuffer kept free */
	char		date[48];

	snprintf(date, sizeof(date), "%04d-%02d-%02d", day->tm_year + 1900, day->tm_mon + 1, day->tm_mday);
	for (int m = open; m + length <= close; m += step)
	{
		time_t		start = local_epoch(day, m);
		int64_t		start_ms = (int64_t) start * 1000;
		int64_t		end_ms = start_ms + (int64_t) length * 60000;
		struct tm	local;
		char		stamp[40];
		json_t	   *slots;

		if (start_ms < from_ms || start_ms >= to_ms)
			continue;
		if (appointments_overlapping("calendarId", calendar_id, start_ms - reach, end_ms + reach, NULL) >=
			(per_slot > 0 ? per_slot : 1))
			continue;
		if (user_id && appointments_overlapping("assignedUserId", user_id, start_ms, end_ms, NULL) > 0)
			continue;
		localtime_r(&start, &local);
		iso_time_format(start_ms, (int) local.tm_gmtoff, stamp, sizeof(stamp));
		slots = json_object_get(json_object_get(result, date), "slots");
		if (slots == NULL)
		{
			json_object_set_new(result, date, json_pack("{s:[]}", "slots"));
			slots = json_object_get(json_object_get(result, date), "slots");
		}
		json_array_append_new(slots, json_string(stamp));
	}
}

json_t *
free_slots(json_t *calendar, int64_t from_ms, int64_t to_ms, const char *timezone, const char *user_id)
{
	char	   *saved = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	json_t	   *result = json_object();
	int			length = (int) calendar_minutes(calendar, "slotDuration", "slotDurationUnit", 30);
	int			step = (int) calendar_minutes(calendar, "slotInterval", "slotIntervalUnit", length);
	time_t		first = (time_t) (from_ms / 1000);
	struct tm	day;

	setenv("TZ", timezone, 1);
	tzset();
	localtime_r(&first, &day);
	day.tm_hour = day.tm_min = day.tm_sec = 0;
	for (int guard = 0; guard < 40 && (int64_t) local_epoch(&day, 0) * 1000 < to_ms; guard++)
	{
		size_t		i;
		json_t	   *entry;

		json_array_foreach(json_object_get(calendar, "openHours"), i, entry)
		{
			size_t		j;
			json_t	   *hours;

			if (!open_on(entry, day.tm_wday))
				continue;
			json_array_foreach(json_object_get(entry, "hours"), j, hours)
			{
				int			open = (int) (json_integer_value(json_object_get(hours, "openHour")) * 60 +
										  json_integer_value(json_object_get(hours, "openMinute")));
				int			close = (int) (json_integer_value(json_object_get(hours, "closeHour")) * 60 +
										   json_integer_value(json_object_get(hours, "closeMinute")));

				if (close == 0)
					close = 1440;
				add_slots(result, calendar, &day, open, close, length, step > 0 ? step : length,
						  from_ms, to_ms, user_id);
			}
		}
		day.tm_mday++;
		day.tm_isdst = -1;
		mktime(&day);
		day.tm_hour = day.tm_min = day.tm_sec = 0;
	}
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	return result;
}
