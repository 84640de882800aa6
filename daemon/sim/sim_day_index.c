/*
 * sim_day_index.c — appointments by calendar (and by assigned user) and UTC
 * day, so that a slot check or a narrow listing looks at the few
 * appointments of those days instead of every appointment in the store.
 *
 * Keys are "<field>\x1f<value>\x1f<day>"; each holds {id: true}.  An
 * appointment is filed under every day it touches, or under "long" if it
 * spans more than MAX_INDEXED_DAYS (every lookup includes those).  Callers
 * hold the store lock, like every other access to the store.
 */
#include "common/alloc.h"
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/iso_time.h"

#define DAY_MS 86400000LL
/* wider windows than this are listed by a full scan */
#define MAX_INDEXED_DAYS 400

static json_t *days;

static const char *const fields[] = {"calendarId", "assignedUserId"};

static int64_t
day_of(int64_t ms)
{
	return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

#define LONG_DAY INT64_MIN

static char *
key_of(const char *field, const char *value, int64_t day)
{
	return day == LONG_DAY ? xasprintf("%s\x1f%s\x1flong", field, value)
		: xasprintf("%s\x1f%s\x1f%lld", field, value, (long long) day);
}

static bool
span_of(json_t *event, int64_t *first, int64_t *last)
{
	int64_t		start,
				end;

	if (!iso_time_parse(json_string_value(json_object_get(event, "startTime")), &start, NULL) ||
		!iso_time_parse(json_string_value(json_object_get(event, "endTime")), &end, NULL) || end <= start)
		return false;
	*first = day_of(start);
	*last = day_of(end - 1);
	if (*last - *first > MAX_INDEXED_DAYS)
		*first = *last = LONG_DAY;
	return true;
}

static void
file(json_t *event, bool add)
{
	const char *id = json_string_value(json_object_get(event, "id"));
	int64_t		first,
				last;

	if (id == NULL || !span_of(event, &first, &last))
		return;
	if (days == NULL)
		days = json_object();
	for (size_t f = 0; f < sizeof(fields) / sizeof(*fields); f++)
	{
		const char *value = json_string_value(json_object_get(event, fields[f]));

		if (value == NULL || *value == '\0')
			continue;
		for (int64_t day = first; day <= last; day++)
		{
			char	   *key = key_of(fields[f], value, day);
			json_t	   *ids = json_object_get(days, key);

			if (add)
			{
				if (ids == NULL)
					json_object_set_new(days, key, ids = json_object());
				json_object_set_new(ids, id, json_true());
			}
			else if (ids)
			{
				json_object_del(ids, id);
				if (json_object_size(ids) == 0)
					json_object_del(days, key);
			}
			free(key);
		}
	}
}

void
day_index_reset(void)
{
	json_decref(days);
	days = json_object();
}

void
day_index_add(json_t *event)
{
	file(event, true);
}

void
day_index_remove(json_t *event)
{
	file(event, false);
}

json_t *
day_index_candidates(const char *field, const char *value, int64_t start, int64_t end)
{
	json_t	   *ids;
	int64_t		first = day_of(start),
				last = day_of(end - 1);

	if (end <= start || last - first > MAX_INDEXED_DAYS || value == NULL)
		return NULL;
	ids = json_object();
	for (int64_t day = first - 1; day <= last; day++)
	{
		/* the day before the window stands for the long ones */
		char	   *key = key_of(field, value, day < first ? LONG_DAY : day);
		const char *id;
		json_t	   *flag;

		json_object_foreach(json_object_get(days, key), id, flag)
			json_object_set(ids, id, flag);
		free(key);
	}
	return ids;
}
