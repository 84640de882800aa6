/*
 * Unit tests of the connection pool's queue (daemon/common/db_pool.c):
 * requests waiting for a connection get one in arrival order, a request
 * that waits out its bound leaves the queue (and gets none), and one
 * given back while nobody waits is free again.  No database is needed:
 * taking and giving never connect.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/db.h"
#include "tap.h"

#define WAITERS 6

static DbPool *pool;
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int	order[WAITERS];
static int	served;
static int	hold_ms;		/* how long a served request keeps its connection */

static void *
wait_for_one(void *arg)
{
	int			me = (int) (intptr_t) arg;
	Db		   *db = db_pool_take(pool, 5000);

	pthread_mutex_lock(&order_lock);
	order[served++] = db ? me : -1;
	pthread_mutex_unlock(&order_lock);
	usleep((useconds_t) hold_ms * 1000);
	if (db)
		db_pool_give(pool, db);
	return NULL;
}

int
main(void)
{
	pthread_t	threads[WAITERS];
	Db		   *held;
	Db		   *other;
	bool		in_order = true;

	pool = db_pool_new("host=/nonexistent", 2, "test");
	held = db_pool_take(pool, 0);
	other = db_pool_take(pool, 0);
	tap_ok(held && other && held != other, "two connections of a pool of two are taken at once");
	tap_ok(db_pool_take(pool, 100) == NULL, "a third waits out its bound, then gets none");

	/* six requests queue up, 50 ms apart so their order is known */
	for (int i = 0; i < WAITERS; i++)
	{
		pthread_create(&threads[i], NULL, wait_for_one, (void *) (intptr_t) i);
		usleep(50 * 1000);
	}
	db_pool_give(pool, held);	/* passed from one waiter to the next, in turn */
	for (int i = 0; i < WAITERS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < WAITERS; i++)
		in_order = in_order && order[i] == i;
	tap_ok(served == WAITERS && in_order, "waiting requests are served in arrival order");
	if (!in_order)
		for (int i = 0; i < WAITERS; i++)
			printf("#   served %d: request %d\n", i, order[i]);

	held = db_pool_take(pool, 0);
	tap_ok(held != NULL, "the connection handed down the queue is free again at its end");

	/* no jumping the queue: a connection given back while someone waits is theirs */
	served = 0;
	hold_ms = 300;
	pthread_create(&threads[0], NULL, wait_for_one, (void *) (intptr_t) 0);
	usleep(100 * 1000);
	db_pool_give(pool, held);
	tap_ok(db_pool_take(pool, 0) == NULL, "a newcomer does not get a connection given back while a request waits");
	pthread_join(threads[0], NULL);
	tap_ok(served == 1 && order[0] == 0, "the waiting request got it");
	held = db_pool_take(pool, 0);
	db_pool_give(pool, held);
	db_pool_give(pool, other);
	db_pool_free(pool);
	return tap_done();
}
