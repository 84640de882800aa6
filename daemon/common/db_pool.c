/*
 * db_pool.c — the HTTP threads' connections.  Each request takes one for
 * as long as it needs and gives it back; a request that cannot get one
 * within its wait is answered "busy" rather than queued without end.
 *
 * Waiting requests are served in arrival order: a connection given back
 * goes straight to the request that has waited longest, and only its
 * thread is woken.  (A shared condition variable would wake threads in no
 * particular order, and a request could lose every race and wait out its
 * whole bound while later ones went ahead: the tail of the latencies.)
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/db.h"
#include "common/alloc.h"

/* A request waiting for a connection; it lives on its thread's stack. */
typedef struct Waiter
{
	pthread_cond_t handed;
	Db		   *db;				/* set by db_pool_give */
	struct Waiter *next;
} Waiter;

struct DbPool
{
	pthread_mutex_t lock;
	int			size;
	Db		   *dbs;
	bool	   *busy;
	Waiter	   *first;			/* the queue, oldest first */
	Waiter	   *last;
};

DbPool *
db_pool_new(const char *conninfo, int size, const char *role)
{
	DbPool	   *pool = xcalloc(1, sizeof(*pool));

	pthread_mutex_init(&pool->lock, NULL);
	pool->size = size;
	pool->dbs = xcalloc((size_t) size, sizeof(Db));
	pool->busy = xcalloc((size_t) size, sizeof(bool));
	for (int i = 0; i < size; i++)
		db_init(&pool->dbs[i], conninfo, role);
	return pool;
}

static void
leave_queue(DbPool *pool, Waiter *waiter)
{
	Waiter	   *before = NULL;

	for (Waiter *w = pool->first; w; before = w, w = w->next)
		if (w == waiter)
		{
			if (before)
				before->next = w->next;
			else
				pool->first = w->next;
			if (pool->last == w)
				pool->last = before;
			return;
		}
}

Db *
db_pool_take(DbPool *pool, int wait_ms)
{
	struct timespec deadline;
	Waiter		waiter = {.db = NULL};

	pthread_mutex_lock(&pool->lock);
	/* a free connection is only taken directly when nobody is queued for one */
	for (int i = 0; i < pool->size && pool->first == NULL; i++)
		if (!pool->busy[i])
		{
			pool->busy[i] = true;
			pthread_mutex_unlock(&pool->lock);
			return &pool->dbs[i];
		}

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_cond_init(&waiter.handed, NULL);
	if (pool->last)
		pool->last->next = &waiter;
	else
		pool->first = &waiter;
	pool->last = &waiter;
	while (waiter.db == NULL)
		if (pthread_cond_timedwait(&waiter.handed, &pool->lock, &deadline) == ETIMEDOUT)
		{
			if (waiter.db == NULL)
				leave_queue(pool, &waiter);
			break;
		}
	pthread_mutex_unlock(&pool->lock);
	pthread_cond_destroy(&waiter.handed);
	return waiter.db;
}

void
db_pool_give(DbPool *pool, Db *db)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->first)
	{
		Waiter	   *next = pool->first;

		/* handed over still busy: no other thread can take it in between */
		pool->first = next->next;
		if (pool->first == NULL)
			pool->last = NULL;
		next->db = db;
		pthread_cond_signal(&next->handed);
	}
	else
		pool->busy[db - pool->dbs] = false;
	pthread_mutex_unlock(&pool->lock);
}

void
db_pool_free(DbPool *pool)
{
	if (pool == NULL)
		return;
	for (int i = 0; i < pool->size; i++)
	{
		db_close(&pool->dbs[i]);
		free(pool->dbs[i].conninfo);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool->dbs);
	free(pool->busy);
	free(pool);
}
