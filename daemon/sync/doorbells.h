/*
 * doorbells.h — the database's NOTIFY channels (its type reflexo.doorbell),
 * named once for reflexo-sync.  A doorbell only says "look now": the tables
 * are the truth, and the daemon polls anyway.
 */
#ifndef REFLEXO_SYNC_DOORBELLS_H
#define REFLEXO_SYNC_DOORBELLS_H

#define DOORBELL_OUTBOX "reflexo_outbox"	/* a change is due */
#define DOORBELL_CALENDARS "reflexo_calendars"	/* sync the payload location's calendars now */
#define DOORBELL_CREDENTIALS "reflexo_credentials"	/* the payload location's tokens changed */
#define DOORBELL_RECONCILE "reflexo_reconcile"	/* reconcile now */

#endif							/* REFLEXO_SYNC_DOORBELLS_H */
