/*
 * tap.h — a minimal Test Anything Protocol emitter for C unit tests.
 * Each check prints "ok N - name" or "not ok N - name" plus what was
 * expected and what was got, so prove(1) can run the binaries directly.
 */
#ifndef REFLEXO_TAP_H
#define REFLEXO_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int	tap_run;
static int	tap_failed;

static inline bool
tap_ok(bool pass, const char *fmt, ...)
{
	va_list		ap;

	printf("%s %d - ", pass ? "ok" : "not ok", ++tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass)
		tap_failed++;
	return pass;
}

static inline bool
tap_is_str(const char *got, const char *expected, const char *name)
{
	bool		pass = got && expected && strcmp(got, expected) == 0;

	tap_ok(pass, "%s", name);
	if (!pass)
		printf("#   expected: '%s'\n#        got: '%s'\n",
			   expected ? expected : "(null)", got ? got : "(null)");
	return pass;
}

static inline bool
tap_is_int(long long got, long long expected, const char *name)
{
	bool		pass = got == expected;

	tap_ok(pass, "%s", name);
	if (!pass)
		printf("#   expected: %lld\n#        got: %lld\n", expected, got);
	return pass;
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_run);
	return tap_failed ? 1 : 0;
}

#endif							/* REFLEXO_TAP_H */
