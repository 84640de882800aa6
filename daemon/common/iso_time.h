/*
 * iso_time.h — ISO 8601 times as GHL writes them, and epoch milliseconds.
 */
#ifndef REFLEXO_ISO_TIME_H
#define REFLEXO_ISO_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "2026-03-10T14:00:00-05:00", "...Z", "...+0530", optional ".123" fraction. */
extern bool iso_time_parse(const char *text, int64_t *epoch_ms, int *offset_seconds);

/* Formats epoch_ms at a fixed UTC offset: "2026-03-10T14:00:00-05:00". */
extern void iso_time_format(int64_t epoch_ms, int offset_seconds, char *buf, size_t size);

/* Formats epoch_ms in UTC with milliseconds: "2026-03-10T19:00:00.000Z". */
extern void iso_time_format_utc(int64_t epoch_ms, char *buf, size_t size);

extern int64_t now_ms(void);
extern int64_t monotonic_ms(void);

#endif							/* REFLEXO_ISO_TIME_H */
