/* Unit tests of ISO 8601 parsing and formatting (daemon/common/iso_time.c). */
#include "common/iso_time.h"
#include "tap.h"

static void
parses(const char *text, long long epoch_ms, int offset)
{
	int64_t		got = 0;
	int			got_offset = 99;
	bool		ok = iso_time_parse(text, &got, &got_offset);

	tap_ok(ok && got == epoch_ms && got_offset == offset, "parses %s", text);
	if (!ok || got != epoch_ms || got_offset != offset)
		printf("#   expected %lld %+d, got %s %lld %+d\n", epoch_ms, offset, ok ? "" : "failure",
			   (long long) got, got_offset);
}

int
main(void)
{
	char		buf[64];
	int64_t		ms;

	parses("2026-03-10T14:00:00-05:00", 1773169200000LL, -18000);
	parses("2026-03-10T19:00:00Z", 1773169200000LL, 0);
	parses("2026-03-10T19:00:00.000Z", 1773169200000LL, 0);
	parses("2026-03-10T19:00:00.5Z", 1773169200500LL, 0);
	parses("2026-03-11T00:30:00+0530", 1773169200000LL, 19800);
	parses("1970-01-01T00:00:00Z", 0, 0);
	tap_ok(!iso_time_parse("2026-03-10 14:00", &ms, NULL), "a time without seconds and zone is refused");
	tap_ok(!iso_time_parse("2026-03-10T14:00:00", &ms, NULL), "a naive time is refused");
	tap_ok(!iso_time_parse("2026-03-10T14:00:00-05:00 ", &ms, NULL), "trailing text is refused");
	tap_ok(!iso_time_parse("2026-03-10T14:00:00.Z", &ms, NULL), "an empty fraction is refused");
	tap_ok(!iso_time_parse(NULL, &ms, NULL), "NULL is refused");
	tap_ok(!iso_time_parse("2026-02-30T10:00:00-05:00", &ms, NULL), "a day that does not exist is refused");
	tap_ok(!iso_time_parse("2026-03-10T24:30:00Z", &ms, NULL), "so is an hour past midnight");
	parses("2028-02-29T10:00:00Z", 1835431200000LL, 0);

	iso_time_format(1773169200000LL, -18000, buf, sizeof(buf));
	tap_is_str(buf, "2026-03-10T14:00:00-05:00", "formats at an offset, as GHL writes times");
	iso_time_format(1773169200000LL, 19800, buf, sizeof(buf));
	tap_is_str(buf, "2026-03-11T00:30:00+05:30", "positive offsets too");
	iso_time_format_utc(1773169200123LL, buf, sizeof(buf));
	tap_is_str(buf, "2026-03-10T19:00:00.123Z", "UTC with milliseconds");
	return tap_done();
}
