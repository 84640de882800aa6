/*
 * sync_db_pool.c — the HTTP threads' connections.  Each request takes one
 * for as long as it needs and gives it back; a request that cannot get one
 * within its wait is answered "busy" rather than queued without end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/db.h"
#include "common/alloc.h"

struct DbPool
{
	pthread_mutex_t lock;
	pthread_cond_t freed;
	int			size;
	Db		   *dbs;
	bool	   *busy;
};

DbPool *
db_pool_new(const char *conninfo, int size, const char *role)
{
	DbPool	   *pool = xcalloc(1, sizeof(*pool));

	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->freed, NULL);
	pool->size = size;
	pool->dbs = xcalloc((size_t) size, sizeof(Db));
	pool->busy = xcalloc((size_t) size, sizeof(bool));
	for (int i = 0; i < size; i++)
		db_init(&pool->dbs[i], conninfo, role);
	return pool;
}

Db *
db_pool_take(DbPool *pool, int wait_ms)
{
	struct timespec deadline;
	Db		   *db = NULL;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pool->lock);
	for (;;)
	{
		for (int i = 0; i < pool->size && db == NULL; i++)
			if (!pool->busy[i])
			{
				pool->busy[i] = true;
				db = &pool->dbs[i];
			}
		if (db || pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&pool->lock);
	return db;
}

void
db_pool_give(DbPool *pool, Db *db)
{
	pthread_mutex_lock(&pool->lock);
	pool->busy[db - pool->dbs] = false;
	pthread_cond_signal(&pool->freed);
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
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool->dbs);
	free(pool->busy);
	free(pool);
}
