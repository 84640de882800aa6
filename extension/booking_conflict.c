/*
 * booking_conflict.c — the overlap and capacity rules, safe under concurrency.
 *
 * Locking protocol.  A transaction that makes an appointment occupy a slot
 * (insert, move, or reactivate) first takes a transaction-scoped exclusive
 * lock on the calendar, then one on (location, therapist).  They are
 * heavyweight locks of the advisory class in a key space of our own (field4
 * distinguishes them from pg_advisory_lock), so they cost one lock-table
 * entry, are released at commit or abort, and take part in deadlock
 * detection.  The global order — calendar before therapist — keeps
 * single-row bookings deadlock-free.  Cancelling never locks: it only frees.
 *
 * Once the locks are held, every transaction that could add a conflicting
 * row is either finished or queued behind us.  The search then reads with a
 * fresh snapshot, taken after CommandCounterIncrement so that rows written
 * earlier by the same statement count too, and so sees every committed rival.
 *
 * Under REPEATABLE READ and SERIALIZABLE the transaction's own snapshot may
 * predate a rival's commit.  Letting the booking pass would break the rule;
 * reporting a conflict the transaction cannot see would be a lie.  As
 * ri_triggers.c does for foreign keys, each row found is checked against the
 * transaction snapshot, and when only invisible rows are in the way the
 * booking fails with a serialization failure (40001) so the client retries.
 *
 * A calendar's buffers (GHL preBuffer and slotBuffer) keep free time before
 * and after each of its appointments: two of them conflict when their
 * widened intervals overlap.  The calendar's appointments per day are
 * counted under the same calendar lock.
 *
 * Searches are bounded: the partial indexes hold active appointments only,
 * the main ones are searched from one day before the new start, and the few
 * appointments longer than a day sit in their own index.
 */
#include "booking_conflict.h"

#include "access/itup.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"

#define LOCK_CLASS_CALENDAR 0x5243	/* "RC" */
#define LOCK_CLASS_THERAPIST 0x5254 /* "RT" */

/* An active appointment overlapping the requested interval. */
typedef struct Occupant
{
	int64		id;
	TimestampTz starts_at;
	TimestampTz ends_at;
	bool		visible;		/* to the transaction snapshot */
	bool		same_calendar;	/* counts for the calendar's capacity */
	bool		same_therapist; /* counts for the therapist's one-at-a-time */
	char	   *title;
} Occupant;

typedef enum OccupantFilter
{
	MATCH_CALENDAR,				/* the scan's keys already select the calendar */
	MATCH_THERAPIST,			/* ... or the therapist */
	MATCH_EITHER				/* the location's rows: keep those of either */
} OccupantFilter;

static void
lock_key(uint64 key, uint16 lock_class)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (key >> 32), (uint32) key, lock_class);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

static uint64
therapist_key(int64 location_id, text *therapist)
{
	return hash_bytes_extended((const unsigned char *) VARDATA_ANY(therapist),
							   VARSIZE_ANY_EXHDR(therapist), (uint64) location_id);
}

void
lock_booking(const BookingRequest *request)
{
	lock_key((uint64) request->calendar_id, LOCK_CLASS_CALENDAR);
	if (request->therapist != NULL)
		lock_key(therapist_key(request->location_id, request->therapist), LOCK_CLASS_THERAPIST);
}

/* How far apart, besides not overlapping, two appointments of the calendar must be. */
static int64
buffer_reach(const BookingRequest *request)
{
	return request->buffer_before + request->buffer_after;
}

/*
 * Appends to *occupants the rows an index scan returns that really overlap
 * the request and pass the filter.  The scan reads with the latest snapshot;
 * xact, when given, decides each row's visibility to the transaction.
 */
static void
collect_occupants(const BookingRequest *request, Oid index_oid, ScanKey keys, int nkeys,
				  OccupantFilter filter, Snapshot latest, Snapshot xact, List **occupants)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	const AppointmentColumns *col = &cat->appt;
	Relation	heap = request->appointments;
	Relation	index = index_open(index_oid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	IndexScanDesc scan;
	int64		reach = filter == MATCH_THERAPIST ? 0 : buffer_reach(request);

	/* text keys compare under the index column's collation */
	for (int i = 0; i < nkeys; i++)
		keys[i].sk_collation = index->rd_indcollation[keys[i].sk_attno - 1];

	scan = begin_index_scan(heap, index, latest, keys, nkeys, true);
	while (index_getnext_tid(scan, ForwardScanDirection) != NULL)
	{
		bool		isnull;
		int64		id;
		TimestampTz ends_at,
					starts_at;
		bool		same_calendar = filter == MATCH_CALENDAR;
		bool		same_therapist = filter == MATCH_THERAPIST;
		Occupant   *occupant;

		/*
		 * The last index column is ends_at.  An entry that ends before the
		 * request starts cannot overlap whatever its visibility (a HOT chain
		 * never changes an indexed column), so skip it without the heap.
		 */
		ends_at = DatumGetTimestampTz(index_getattr(scan->xs_itup, scan->xs_itupdesc->natts,
													scan->xs_itupdesc, &isnull));
		if (ends_at <= request->starts_at - reach)
			continue;
		if (!index_fetch_heap(scan, slot))
			continue;			/* no version visible to the latest snapshot */

		id = DatumGetInt64(slot_getattr(slot, col->id, &isnull));
		ends_at = DatumGetTimestampTz(slot_getattr(slot, col->ends_at, &isnull));
		starts_at = DatumGetTimestampTz(slot_getattr(slot, col->starts_at, &isnull));
		if (request->has_self && id == request->self_id)
			continue;
		if (ends_at <= request->starts_at - reach || starts_at >= request->ends_at + reach)
			continue;
		if (filter == MATCH_EITHER)
		{
			Datum		user;
			bool		overlaps = ends_at > request->starts_at && starts_at < request->ends_at;

			same_calendar = DatumGetInt64(slot_getattr(slot, col->calendar_id, &isnull)) == request->calendar_id;
			user = slot_getattr(slot, col->assigned_user_id, &isnull);
			same_therapist = overlaps && request->therapist != NULL && !isnull &&
				text_datum_equals(user, request->therapist);
			if (!same_calendar && !same_therapist)
				continue;
		}

		occupant = palloc(sizeof(Occupant));
		occupant->id = id;
		occupant->starts_at = starts_at;
		occupant->ends_at = ends_at;
		occupant->title = TextDatumGetCString(slot_getattr(slot, col->title, &isnull));
		occupant->visible = xact == NULL || table_tuple_satisfies_snapshot(heap, slot, xact);
		occupant->same_calendar = same_calendar;
		occupant->same_therapist = same_therapist;
		*occupants = lappend(*occupants, occupant);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
}

/* Appointments of up to one day of the calendar (therapist == false) or of the therapist. */
static List *
find_occupants(const BookingRequest *request, bool therapist, Snapshot latest, Snapshot xact)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	TimestampTz horizon = request->starts_at - USECS_PER_DAY;
	List	   *occupants = NIL;
	ScanKeyData keys[4];

	/* they start in (start - 1 day, end), widened by the buffers for the calendar */
	if (!therapist)
	{
		int64		reach = buffer_reach(request);

		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(request->calendar_id));
		ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(horizon - reach));
		ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_TIMESTAMPTZ_LT,
					TimestampTzGetDatum(request->ends_at + reach));
		collect_occupants(request, cat->appointments_calendar_active_idx, keys, 3, MATCH_CALENDAR,
						  latest, xact, &occupants);
	}
	else
	{
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(request->location_id));
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(request->therapist));
		ScanKeyInit(&keys[2], 3, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(horizon));
		ScanKeyInit(&keys[3], 3, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, TimestampTzGetDatum(request->ends_at));
		collect_occupants(request, cat->appointments_user_active_idx, keys, 4, MATCH_THERAPIST,
						  latest, xact, &occupants);
	}
	return occupants;
}

/*
 * Appointments longer than a day that started a day or more before, of the
 * calendar or of the therapist: one scan serves both rules.
 */
static List *
find_long_occupants(const BookingRequest *request, Snapshot latest, Snapshot xact)
{
	List	   *occupants = NIL;
	ScanKeyData keys[2];

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(request->location_id));
	ScanKeyInit(&keys[1], 2, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE,
				TimestampTzGetDatum(request->starts_at - USECS_PER_DAY));
	collect_occupants(request, reflexo_catalog()->appointments_long_active_idx, keys, 2, MATCH_EITHER,
					  latest, xact, &occupants);
	return occupants;
}

/*
 * occupants plus the long ones that count for the same rule and that
 * find_occupants() did not already find (its calendar search reaches back
 * further by the buffers)
 */
static List *
with_long(const BookingRequest *request, List *occupants, List *longs, bool therapist)
{
	TimestampTz found_from = request->starts_at - USECS_PER_DAY - (therapist ? 0 : buffer_reach(request));
	ListCell   *lc;

	foreach(lc, longs)
	{
		Occupant   *o = lfirst(lc);

		if ((therapist ? o->same_therapist : o->same_calendar) && o->starts_at <= found_from)
			occupants = lappend(occupants, o);
	}
	return occupants;
}

typedef struct Edge
{
	TimestampTz at;
	int			delta;			/* +1 an occupant starts, -1 one ends */
	Occupant   *occupant;
} Edge;

static int
edge_order(const void *a, const void *b)
{
	const Edge *x = a;
	const Edge *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->delta - y->delta; /* ends before starts: intervals are half-open */
}

/*
 * The most occupants at any one instant of the request (counting only the
 * visible ones if asked), and one occupant present at that instant.
 */
static int
peak_occupancy(const BookingRequest *request, List *occupants, int64 before, int64 after,
			   bool visible_only, Occupant **witness)
{
	Edge	   *edges = palloc(sizeof(Edge) * 2 * Max(list_length(occupants), 1));
	int			n = 0,
				current = 0,
				peak = 0;
	ListCell   *lc;

	foreach(lc, occupants)
	{
		Occupant   *o = lfirst(lc);

		if (visible_only && !o->visible)
			continue;
		edges[n++] = (Edge) {Max(o->starts_at - before, request->starts_at - before), +1, o};
		edges[n++] = (Edge) {Min(o->ends_at + after, request->ends_at + after), -1, o};
	}
	qsort(edges, n, sizeof(Edge), edge_order);
	for (int i = 0; i < n; i++)
	{
		current += edges[i].delta;
		if (current > peak)
		{
			peak = current;
			if (witness)
				*witness = edges[i].occupant;
		}
	}
	pfree(edges);
	return peak;
}

/* The calendar's rule counts appointments with their buffers; the therapist's without. */
static bool
check_rule(const BookingRequest *request, List *occupants, int capacity,
		   ConflictKind kind, Conflict *conflict)
{
	Occupant   *witness = NULL;
	Occupant   *visible_witness = NULL;
	int64		before = kind == CONFLICT_CALENDAR_FULL ? request->buffer_before : 0;
	int64		after = kind == CONFLICT_CALENDAR_FULL ? request->buffer_after : 0;

	if (peak_occupancy(request, occupants, before, after, false, &witness) < capacity)
		return false;
	conflict->kind = kind;
	conflict->after_snapshot =
		peak_occupancy(request, occupants, before, after, true, &visible_witness) < capacity;
	if (!conflict->after_snapshot)
		witness = visible_witness;
	conflict->id = witness->id;
	conflict->title = witness->title;
	conflict->starts_at = witness->starts_at;
	conflict->ends_at = witness->ends_at;
	return true;
}

/*
 * The calendar's appointments per day: those starting on the request's local
 * day, besides the request itself, are counted (all, and those the
 * transaction snapshot sees).
 */
static bool
check_day(const BookingRequest *request, Snapshot latest, Snapshot xact, Conflict *conflict)
{
	const ReflexoCatalog *cat = reflexo_catalog();
	const AppointmentColumns *col = &cat->appt;
	Relation	heap = request->appointments;
	Relation	index = index_open(cat->appointments_calendar_active_idx, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ScanKeyData keys[3];
	IndexScanDesc scan;
	int			all = 0,
				visible = 0;
	bool		isnull,
				seen;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(request->calendar_id));
	ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE, TimestampTzGetDatum(request->day_from));
	ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, TimestampTzGetDatum(request->day_to));
	scan = begin_index_scan(heap, index, latest, keys, 3, false);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		if (request->has_self && DatumGetInt64(slot_getattr(slot, col->id, &isnull)) == request->self_id)
			continue;
		all++;
		seen = xact == NULL || table_tuple_satisfies_snapshot(heap, slot, xact);
		visible += seen;
		if (seen || all == 1)	/* one of them to name, visible if any is */
		{
			conflict->id = DatumGetInt64(slot_getattr(slot, col->id, &isnull));
			conflict->title = TextDatumGetCString(slot_getattr(slot, col->title, &isnull));
			conflict->starts_at = DatumGetTimestampTz(slot_getattr(slot, col->starts_at, &isnull));
			conflict->ends_at = DatumGetTimestampTz(slot_getattr(slot, col->ends_at, &isnull));
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	if (all < request->max_per_day)
		return false;
	conflict->kind = CONFLICT_DAY_FULL;
	conflict->after_snapshot = visible < request->max_per_day;
	conflict->day_count = all;
	return true;
}

/*
 * Fills *conflict with the first rule the request would break: the
 * calendar's capacity, its appointments per day, then the therapist's
 * one-at-a-time.  The caller must
 * hold lock_booking()'s locks for the answer to stay true until commit.
 */
void
find_booking_conflict(const BookingRequest *request, Conflict *conflict)
{
	Snapshot	latest,
				xact = NULL;
	List	   *longs;

	memset(conflict, 0, sizeof(*conflict));
	conflict->kind = CONFLICT_NONE;

	CommandCounterIncrement();
	latest = RegisterSnapshot(GetLatestSnapshot());
	if (IsolationUsesXactSnapshot())
		xact = RegisterSnapshot(GetTransactionSnapshot());

	longs = find_long_occupants(request, latest, xact);
	if (!check_rule(request, with_long(request, find_occupants(request, false, latest, xact), longs, false),
					request->capacity, CONFLICT_CALENDAR_FULL, conflict) &&
		(request->max_per_day <= 0 || !check_day(request, latest, xact, conflict)) &&
		request->therapist != NULL)
		check_rule(request, with_long(request, find_occupants(request, true, latest, xact), longs, true), 1,
				   CONFLICT_THERAPIST_BUSY, conflict);

	if (xact)
		UnregisterSnapshot(xact);
	UnregisterSnapshot(latest);
}
