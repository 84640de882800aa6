/*
 * row_places.c — remember the TID at which a row was found by its primary
 * key, and fetch it from there next time.
 *
 * The place is only a hint; what makes it safe is the check on each use.
 * The tuple there must be visible to the caller's snapshot and still carry
 * the key (the caller checks that): a primary key has at most one visible
 * version per snapshot, so that tuple is exactly the row an index scan
 * would return, under any isolation level.  An updated row's old version
 * fails the visibility check, and the index is searched again.  Fetching
 * by TID takes the same predicate lock on the tuple as an index scan's heap
 * fetch, so serializable transactions still see a conflict with a writer of
 * that row.
 *
 * A place beyond the table's end (VACUUM truncates empty pages at the end)
 * must not be read at all: that is an error, not a miss.  Counting a table's
 * blocks is a system call, so the count is kept until this backend takes in
 * any shared invalidation message.  That is enough: VACUUM announces a
 * truncation with one before it truncates, while it holds a lock that keeps
 * us out, and taking our lock afterwards takes the message in.  Our own
 * TRUNCATE gives the table a new file, and the relcache callback forgets it.
 * A place beyond a count that may have grown since is counted again.
 */
#include "row_places.h"

#include "access/tableam.h"
#include "common/hashfn.h"
#include "storage/bufmgr.h"
#include "storage/sinval.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/* More than the locations, calendars and therapists of any clinic. */
#define MAX_PLACES 8192
#define MAX_SIZED_RELATIONS 4

typedef struct RowPlace
{
	RowPlaceKey key;
	ItemPointerData tid;
} RowPlace;

/* The number of blocks of a relation, as counted with no invalidation taken in since. */
typedef struct RelationSize
{
	Oid			relid;
	uint64		invalidations;	/* SharedInvalidMessageCounter then */
	BlockNumber blocks;
} RelationSize;

static HTAB *places = NULL;
/* The relations places are kept for: a relcache callback fires for every relation. */
static Oid	place_relations[MAX_SIZED_RELATIONS];
static RelationSize sizes[MAX_SIZED_RELATIONS];
static int	next_size = 0;

RowPlaceKey
row_place_key(Oid relid, int64 id, const text *name)
{
	RowPlaceKey key;

	memset(&key, 0, sizeof(key));	/* padding is hashed too */
	key.relid = relid;
	key.id = id;
	key.text_hash = name == NULL ? 0 :
		hash_bytes((const unsigned char *) VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	return key;
}

/* The blocks of heap (locked by the caller); counted again when recount. */
static BlockNumber
relation_blocks(Relation heap, bool recount)
{
	Oid			relid = RelationGetRelid(heap);
	RelationSize *size = NULL;

	for (int i = 0; i < MAX_SIZED_RELATIONS && size == NULL; i++)
		if (sizes[i].relid == relid)
			size = &sizes[i];
	if (size != NULL && !recount && size->invalidations == SharedInvalidMessageCounter)
		return size->blocks;
	if (size == NULL)
	{
		size = &sizes[next_size];
		next_size = (next_size + 1) % MAX_SIZED_RELATIONS;
	}
	size->relid = relid;
	size->invalidations = SharedInvalidMessageCounter;
	size->blocks = RelationGetNumberOfBlocks(heap);
	return size->blocks;
}

bool
row_place_fetch(Relation heap, const RowPlaceKey *key, Snapshot snapshot, TupleTableSlot *slot)
{
	RowPlace   *place;
	ItemPointerData tid;

	if (places == NULL)
		return false;
	place = hash_search(places, key, HASH_FIND, NULL);
	if (place == NULL)
		return false;
	tid = place->tid;
	if (ItemPointerGetBlockNumber(&tid) >= relation_blocks(heap, false) &&
		ItemPointerGetBlockNumber(&tid) >= relation_blocks(heap, true))
		return false;
	return table_tuple_fetch_row_version(heap, &tid, snapshot, slot);
}

static bool
has_places_in(Oid relid)
{
	for (int i = 0; i < MAX_SIZED_RELATIONS; i++)
		if (relid == InvalidOid ? place_relations[i] != InvalidOid : place_relations[i] == relid)
			return true;
	return false;
}

void
row_place_remember(const RowPlaceKey *key, ItemPointer tid)
{
	RowPlace   *place;

	if (places == NULL || hash_get_num_entries(places) >= MAX_PLACES)
	{
		HASHCTL		ctl = {.keysize = sizeof(RowPlaceKey),.entrysize = sizeof(RowPlace)};

		if (places != NULL)
			hash_destroy(places);
		places = hash_create("reflexo row places", 256, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	place = hash_search(places, key, HASH_ENTER, NULL);
	place->tid = *tid;
	if (has_places_in(key->relid))
		return;
	for (int i = 0; i < MAX_SIZED_RELATIONS; i++)
		if (place_relations[i] == InvalidOid)
		{
			place_relations[i] = key->relid;
			return;
		}
	/* more relations than expected: forget them all rather than lose track */
	row_places_forget(InvalidOid);
}

void
row_places_forget(Oid relid)
{
	HASH_SEQ_STATUS status;
	RowPlace   *place;

	for (int i = 0; i < MAX_SIZED_RELATIONS; i++)
		if (relid == InvalidOid || sizes[i].relid == relid)
			sizes[i].relid = InvalidOid;
	if (places == NULL || !has_places_in(relid))
		return;
	hash_seq_init(&status, places);
	while ((place = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || place->key.relid == relid)
			hash_search(places, &place->key, HASH_REMOVE, NULL);
	for (int i = 0; i < MAX_SIZED_RELATIONS; i++)
		if (relid == InvalidOid || place_relations[i] == relid)
			place_relations[i] = InvalidOid;
}
