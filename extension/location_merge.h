/*
 * location_merge.h — the ordered scan of a reflexo table by an array of
 * locations (see location_merge.c).
 */
#ifndef REFLEXO_LOCATION_MERGE_H
#define REFLEXO_LOCATION_MERGE_H

extern void location_merge_init(void);

#endif
