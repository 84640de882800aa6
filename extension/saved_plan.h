/*
 * saved_plan.h — SPI plans prepared once per backend and kept.
 */
#ifndef SAVED_PLAN_H
#define SAVED_PLAN_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/rel.h"

typedef struct SavedPlan
{
	SPIPlanPtr	plan;
	Oid			argtypes[FUNC_MAX_ARGS];
	int			nargs;
} SavedPlan;

extern SPIPlanPtr saved_plan(SavedPlan *saved, const char *query, int nargs, const Oid *argtypes);

typedef struct SavedUser
{
	Oid			user;
	int			context;
} SavedUser;

extern void become_owner(Relation rel, SavedUser *saved);
extern void restore_user(const SavedUser *saved);

#endif							/* SAVED_PLAN_H */
