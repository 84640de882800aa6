/* Unit tests of the GHL answer's header values (daemon/ghl_client.c). */
#include "sync/ghl_client.h"
#include "tap.h"

static void
count(const char *text, bool ok, long expected)
{
	long		value = -7;
	bool		got = ghl_parse_count(text, &value);

	tap_ok(got == ok && (!ok || value == expected), "count \"%s\" is %s", text ? text : "(null)",
		   ok ? "read" : "refused");
}

int
main(void)
{
	time_t		now = 1784000000;	/* 2026-07-14T03:33:20Z */

	count("42", true, 42);
	count(" 0 ", true, 0);
	count("100", true, 100);
	count("-5", false, 0);
	count("1e3", false, 0);
	count("12abc", false, 0);
	count("", false, 0);
	count(NULL, false, 0);
	count("99999999999999999999", false, 0);

	tap_ok(ghl_parse_retry_after("10", now) == 10000, "Retry-After in seconds");
	tap_ok(ghl_parse_retry_after("Tue, 14 Jul 2026 03:33:50 GMT", now) == 30000, "Retry-After as an HTTP date");
	tap_ok(ghl_parse_retry_after("Tue, 14 Jul 2026 03:00:00 GMT", now) == 0, "a date in the past means now");
	tap_ok(ghl_parse_retry_after("999999999", now) == 86400000, "at most a day, in seconds");
	tap_ok(ghl_parse_retry_after("Tue, 14 Jul 9999 03:33:50 GMT", now) == 86400000, "or as a date");
	tap_ok(ghl_parse_retry_after("soon", now) == -1, "nonsense is ignored");
	tap_ok(ghl_parse_retry_after(NULL, now) == -1, "so is nothing");
	return tap_done();
}
