/*
 * booking_conflict.h — find what a booking would collide with, race-free.
 */
#ifndef BOOKING_CONFLICT_H
#define BOOKING_CONFLICT_H

#include "postgres.h"

#include "utils/rel.h"
#include "utils/timestamp.h"

typedef struct BookingRequest
{
	Relation	appointments;
	bool		has_self;		/* updating an existing row */
	int64		self_id;
	int64		location_id;
	int64		calendar_id;
	int32		capacity;
	text	   *therapist;		/* assigned_user_id, or NULL */
	TimestampTz starts_at;
	TimestampTz ends_at;
	int64		buffer_before;	/* the calendar's free time kept around each appointment */
	int64		buffer_after;
	int32		max_per_day;	/* the calendar's; 0: no limit */
	TimestampTz day_from;		/* the local day the request starts on */
	TimestampTz day_to;
} BookingRequest;

typedef enum ConflictKind
{
	CONFLICT_NONE,
	CONFLICT_CALENDAR_FULL,		/* the calendar's capacity is reached */
	CONFLICT_DAY_FULL,			/* the calendar's appointments per day are reached */
	CONFLICT_THERAPIST_BUSY		/* the same therapist is booked elsewhere */
} ConflictKind;

typedef struct Conflict
{
	ConflictKind kind;
	bool		after_snapshot; /* only rows committed after our snapshot conflict */
	int64		id;				/* one appointment in the way */
	char	   *title;
	TimestampTz starts_at;
	TimestampTz ends_at;
	int			day_count;		/* CONFLICT_DAY_FULL: appointments already that day */
} Conflict;

extern void lock_booking(const BookingRequest *request);
extern void find_booking_conflict(const BookingRequest *request, Conflict *conflict);

#endif							/* BOOKING_CONFLICT_H */
