/*
 * libFuzzer target for the open_hours text format.  Beyond "no crash", it
 * checks the canonical-form contract: whatever parses, formats to text that
 * parses back to the same schedule and formats to the same text again.
 */
#include "week_schedule.h"

#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	WeekSchedule week,
				again;
	WsError		err;
	char		text[WS_TEXT_MAX],
				text2[WS_TEXT_MAX];
	size_t		len;

	if (!ws_parse((const char *) data, size, &week, &err))
	{
		if (err.message == NULL || err.position > size)
			abort();
		return 0;
	}
	if (!ws_is_valid(&week))
		abort();
	len = ws_format(&week, text, sizeof(text));
	if (len >= sizeof(text))
		abort();
	if (!ws_parse(text, len, &again, &err) || !ws_equal(&week, &again))
		abort();
	ws_format(&again, text2, sizeof(text2));
	if (strcmp(text, text2) != 0)
		abort();
	return 0;
}
