/*
 * validation_stats.c — shared-memory counters of broken booking rules.
 *
 * One pair of 64-bit atomics per rule: bookings rejected, and bookings
 * stored flagged (flexible mode or changes from GHL).  Atomics need no lock;
 * the counters start at zero with the server, like pg_stat_* counters.
 */
#include "validation_stats.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(validation_error_counts);

const char *const validation_kind_names[NUM_VALIDATION_KINDS] = {
	"overlap", "outside_hours", "closure", "too_short", "too_long", "calendar_unavailable",
	"too_soon", "too_far", "day_full", "in_past"
};

typedef struct ValidationCounters
{
	pg_atomic_uint64 rejected[NUM_VALIDATION_KINDS];
	pg_atomic_uint64 flagged[NUM_VALIDATION_KINDS];
} ValidationCounters;

static ValidationCounters *counters = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(ValidationCounters)));
}

static void
startup_shmem(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	counters = ShmemInitStruct("reflexo validation counters", sizeof(ValidationCounters), &found);
	if (!found)
	{
		for (int i = 0; i < NUM_VALIDATION_KINDS; i++)
		{
			pg_atomic_init_u64(&counters->rejected[i], 0);
			pg_atomic_init_u64(&counters->flagged[i], 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while shared_preload_libraries are loading. */
void
validation_stats_request_shmem(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = request_shmem;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = startup_shmem;
}

void
count_validation(ValidationKind kind, bool rejected)
{
	if (counters == NULL)
		return;
	pg_atomic_fetch_add_u64(rejected ? &counters->rejected[kind] : &counters->flagged[kind], 1);
}

/* validation_error_counts(): one row per rule; NULL counts when not preloaded. */
Datum
validation_error_counts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < NUM_VALIDATION_KINDS; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, counters == NULL, counters == NULL};

		values[0] = CStringGetTextDatum(validation_kind_names[i]);
		values[1] = counters ? Int64GetDatum((int64) pg_atomic_read_u64(&counters->rejected[i])) : 0;
		values[2] = counters ? Int64GetDatum((int64) pg_atomic_read_u64(&counters->flagged[i])) : 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
