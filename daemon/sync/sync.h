/*
 * sync.h — reflexo-sync's state and the modules of its main loop.
 *
 * One thread runs the loop (sync_main.c): it waits on the GHL sockets, the
 * LISTEN connection and a signalfd; claims outbox rows (sync_push.c); holds
 * them per location until the location's token bucket and credentials
 * allow (sync_locations.c); sends them with libcurl (ghl_client.c); and
 * writes all results back in one round trip per turn.  No transaction is
 * open while a request is in flight.
 */
#ifndef REFLEXO_SYNC_H
#define REFLEXO_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ghl_client.h"
#include "sync_config.h"
#include "common/db.h"
#include "common/token_bucket.h"

#define GHL_VERSION_CALENDARS "2021-04-15"

/* under load, one claim per this many ms: each answer frees room, but a claim per answer would cost more than it gives */
#define CLAIM_SPACING_MS 10

typedef enum Outcome
{
	OUTCOME_NONE,
	OUTCOME_DONE,				/* GHL has it */
	OUTCOME_RETRYABLE,			/* try again after a backoff */
	OUTCOME_PERMANENT,			/* GHL refused it: dead */
	OUTCOME_RELEASE				/* not tried (rate limit, shutdown): give the lease back */
} Outcome;

typedef struct Location Location;
typedef struct Daemon Daemon;
typedef struct Fetch Fetch;
typedef struct Comparison Comparison;

typedef struct Job
{
	struct Job *next;
	int64_t		outbox_id;
	int			attempt;
	int64_t		appointment_id;
	int64_t		location_id;
	char	   *operation;		/* create, update, cancel, delete: what changed */
	char	   *action;			/* create, update, delete, skip: what to do in GHL */
	char	   *ghl_location_id;
	char	   *ghl_calendar_id;
	char	   *ghl_appointment_id;
	char	   *contact_id;
	int64_t		starts_ms;
	int64_t		ends_ms;
	char	   *body;
	Location   *location;
	int64_t		claimed_ms;
	unsigned	token_generation;
	int			token_rejections;	/* 401s for this job; bounded so a revoked grant cannot loop */
	bool		looked_up;
	bool		waited_for_lock;	/* its result waited for another transaction's lock */
	/* the result */
	Outcome		outcome;
	char	   *error;
	char	   *result_ghl_id;
	int64_t		retry_after_ms;
	double		duration_ms;
	int			rate_remaining;
	long		http_status;
} Job;

typedef enum AuthState
{
	AUTH_READY,
	AUTH_REFRESHING,			/* our refresh is in flight */
	AUTH_WAITING,				/* another daemon holds the refresh lock, or a retry is due */
	AUTH_SAVING,				/* GHL gave a new pair that is not stored yet: storing it again */
	AUTH_BROKEN					/* needs an operator: re-authorize or rotate the token */
} AuthState;

struct Location
{
	Location   *next;
	char	   *ghl_id;
	int64_t		id;
	char		kind[8];		/* oauth or private */
	char	   *access;
	char	   *refresh;
	int64_t		expires_at_ms;	/* 0: unknown or never */
	unsigned	generation;		/* bumped whenever access changes */
	AuthState	auth;
	int64_t		auth_retry_ms;
	bool		holds_lock;
	bool		env_token_checked;	/* GHL_ACCESS_TOKEN compared with the stored token once */
	struct
	{
		char	   *access;
		char	   *refresh;
		char	   *scope;
		int64_t		expires_at_ms;
		int			attempts;
	}			unsaved;		/* AUTH_SAVING: GHL's refresh tokens are single-use, so never drop it */
	char	   *broken_reason;
	bool		held_back;		/* rows given back while broken: call them back once it works */
	TokenBucket bucket;
	int64_t		paused_until_ms;
	bool		limits_known;	/* GHL's X-RateLimit-* headers seen: until then, one request at a time */
	int			daily_remaining;
	bool		low_alerted;
	Job		   *queue_head;
	Job		   *queue_tail;
	int			queued;
	int			inflight;
	Fetch	   *fetch_head;		/* background reads: calendars, reconciliation */
	Fetch	   *fetch_tail;
	bool		calendars_queued;
};

struct Daemon
{
	Config	   *config;
	Db			listen;
	Db			worker;
	Db			reconciler;		/* reconciliation's comparisons, without holding the loop */
	GhlClient  *ghl;
	Location   *locations;
	Job		   *finished;		/* results not yet written back */
	int			nfinished;
	json_t	   *operations;		/* GHL calls not yet recorded in reflexo.ghl_operation_stats */
	int			queued;			/* claimed, waiting in location queues */
	int			sending;		/* with GHL now */
	int			fetching;		/* of which background reads */
	bool		sweep;			/* look at the outbox now */
	char	   *calendars_for;	/* sync calendars of this location ("" all), asked by NOTIFY */
	int64_t		next_calendar_sync_ms;
	int64_t		next_reconcile_ms;
	bool		reconcile_now;	/* asked by NOTIFY reflexo_reconcile */
	Comparison *comparisons_head;	/* listings waiting to be compared */
	Comparison *comparisons_tail;
	Comparison *comparing;		/* the one the reconciler connection runs */
	int			comparisons;	/* waiting or running */
	bool		draining;
	bool		once;
	int			last_claimed;
	int64_t		next_claim_ms;	/* under load, claims are spaced out */
	int64_t		next_validation_check_ms;
	int64_t		next_prune_ms;
	char		session_id[9];
};

/*
 * A background GET for a location (its calendars, a reconciliation window),
 * sent when the location has no pushes waiting and its bucket allows.
 */
typedef void (*FetchDone) (Daemon *d, Location *loc, GhlResponse *response, void *arg);

struct Fetch
{
	Fetch	   *next;
	char	   *url;
	const char *operation;		/* for logs and statistics */
	FetchDone	done;
	void	   *arg;			/* freed with free() after done */
	int			token_rejections;
};

/* sync_fetch.c */
extern void fetch_enqueue(Location *loc, const char *url, const char *operation, FetchDone done, void *arg);
extern void fetch_dispatch(Daemon *d, Location *loc);
extern void fetches_free(Daemon *d);

/* sync_calendars.c, sync_reconcile.c */
extern void calendars_schedule(Daemon *d, const char *ghl_location_id);
extern void reconcile_schedule(Daemon *d);
extern void reconcile_tick(Daemon *d);
extern int	reconcile_socket(Daemon *d);
extern void reconcile_free(Daemon *d);

/* sync_push.c */
extern void push_claim(Daemon *d);
extern bool push_wants_claim(const Daemon *d);
extern void push_dispatch(Daemon *d);
extern bool push_flush(Daemon *d);
extern void push_release_queued(Daemon *d);
extern void job_free(Job *job);
/* One GHL call for the per-minute statistics; rate_limited: GHL answered 429. */
extern void daemon_record_operation(Daemon *d, const char *operation, bool success, double duration_ms,
									int attempt, int rate_remaining, bool rate_limited);

/* sync_housekeeping.c */
extern void housekeeping_tick(Daemon *d);

/* sync_check.c: --check-config; the exit status */
extern int	check_config(const Config *config);

/* sync_locations.c */
extern Location *location_for(Daemon *d, const char *ghl_id);
extern bool location_bootstrap(Daemon *d, bool replace);
extern void location_refresh(Daemon *d, Location *loc);
extern void location_credentials_changed(Daemon *d, const char *ghl_id);
extern void location_tick(Daemon *d);
extern void location_seen_limits(Daemon *d, Location *loc, const GhlResponse *response);
extern void locations_free(Daemon *d);
extern bool location_sendable(Location *loc, int64_t now);

#endif							/* REFLEXO_SYNC_H */
