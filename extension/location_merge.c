/*
 * location_merge.c — reads rows in the order of an index's second column when
 * its first is compared with an array: row-level security's "location_id =
 * ANY (the caller's locations)" under "ORDER BY starts_at" becomes one scan of
 * the (location_id, starts_at) index per location, merged.
 *
 * PostgreSQL 15 reads "= ANY (array)" from such an index in (location_id,
 * starts_at) order only, so it fetches every matching row and sorts them, even
 * when the array holds one location: the first page of a week's citas costs
 * the whole week.  This custom scan costs one index descent per element and
 * then a row per row returned.  It is offered for the extension's own tables,
 * in plain SELECTs; reflexo.location_merge_scan = off withdraws it.
 *
 * Every restriction of the table stays the scan's filter, so a row it returns
 * meets them all whatever the keys; the keys only choose where to read.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "lib/binaryheap.h"
#include "location_merge.h"
#include "nodes/extensible.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sortsupport.h"

#define SCAN_NAME "Reflexo Location Merge"

static bool location_merge_scan = true;
static set_rel_pathlist_hook_type previous_hook = NULL;

/* The executor's state: one index scan per array element, merged by a heap. */
typedef struct MergeState
{
	CustomScanState css;
	Relation	index;
	List	   *keys;			/* ExprStates: the array, then each bound */
	Oid		   *key_ops;		/* their operators */
	AttrNumber	order_column;	/* the table column of the index's second */
	SortSupportData order;
	MemoryContext scan_context; /* the scans of one start, freed at rescan */
	bool		started;
	int			nscans;
	IndexScanDesc *scans;
	TupleTableSlot **slots;
	Datum	   *heads;			/* each scan's current order value */
	bool	   *heads_null;
	binaryheap *heap;			/* scan numbers, the smallest head first */
	int			returned;		/* the scan whose row was returned last, or -1 */
} MergeState;

static Plan *plan_merge(PlannerInfo *root, RelOptInfo *rel, CustomPath *path, List *tlist, List *clauses,
						List *custom_plans);
static Node *create_merge_state(CustomScan *cscan);
static void begin_merge(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *exec_merge(CustomScanState *node);
static void end_merge(CustomScanState *node);
static void rescan_merge(CustomScanState *node);
static void explain_merge(CustomScanState *node, List *ancestors, ExplainState *es);

static const CustomPathMethods path_methods = {.CustomName = SCAN_NAME, .PlanCustomPath = plan_merge};
static const CustomScanMethods scan_methods = {.CustomName = SCAN_NAME, .CreateCustomScanState = create_merge_state};
static const CustomExecMethods exec_methods = {
	.CustomName = SCAN_NAME,
	.BeginCustomScan = begin_merge,
	.ExecCustomScan = exec_merge,
	.EndCustomScan = end_merge,
	.ReScanCustomScan = rescan_merge,
	.ExplainCustomScan = explain_merge,
};

/* ---------------------------------------------------------------- planning */

/* An expression whose value is fixed for the scan: no column, nothing volatile. */
static bool
fixed_for_scan(Node *node)
{
	return !contain_var_clause(node) && !contain_volatile_functions(node);
}

static bool
is_column(Node *node, Index relid, AttrNumber column)
{
	if (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node && IsA(node, Var) && (Index) ((Var *) node)->varno == relid && ((Var *) node)->varattno == column &&
		((Var *) node)->varlevelsup == 0;
}

/*
 * A restriction "column op value" (or "value op column") usable as a key of
 * the index's column col: returns the value and sets *op to the operator with
 * the column on its left, or returns NULL.
 */
static Node *
key_of(RestrictInfo *rinfo, RelOptInfo *rel, IndexOptInfo *index, int col, Oid *op)
{
	OpExpr	   *clause = (OpExpr *) rinfo->clause;
	Node	   *left,
			   *right;

	if (!IsA(clause, OpExpr) || list_length(clause->args) != 2 || rinfo->pseudoconstant ||
		!restriction_is_securely_promotable(rinfo, rel))
		return NULL;
	left = linitial(clause->args);
	right = lsecond(clause->args);
	*op = clause->opno;
	if (!is_column(left, rel->relid, index->indexkeys[col]))
	{
		Node	   *swap = left;

		left = right;
		right = swap;
		*op = get_commutator(clause->opno);
	}
	if (!OidIsValid(*op) || !is_column(left, rel->relid, index->indexkeys[col]) || !fixed_for_scan(right) ||
		get_op_opfamily_strategy(*op, index->opfamily[col]) == 0)
		return NULL;
	return right;
}

/*
 * "first column = ANY (value)" among the restrictions: the value, and its
 * operator in *op.  Only an operator between two values of one type: it also
 * tells the array's repeated elements apart, which must be read once.
 */
static Node *
array_key_of(RestrictInfo *rinfo, RelOptInfo *rel, IndexOptInfo *index, Oid *op)
{
	ScalarArrayOpExpr *clause = (ScalarArrayOpExpr *) rinfo->clause;
	int			strategy;
	Oid			left,
				right;

	if (!IsA(clause, ScalarArrayOpExpr) || !clause->useOr || rinfo->pseudoconstant ||
		!restriction_is_securely_promotable(rinfo, rel) ||
		!is_column(linitial(clause->args), rel->relid, index->indexkeys[0]) || !fixed_for_scan(lsecond(clause->args)) ||
		get_op_opfamily_strategy(clause->opno, index->opfamily[0]) != BTEqualStrategyNumber)
		return NULL;
	get_op_opfamily_properties(clause->opno, index->opfamily[0], false, &strategy, &left, &right);
	if (left != right)
		return NULL;
	*op = clause->opno;
	return lsecond(clause->args);
}

/* Whether the query's first sort key is the index's second column, ascending, as the index keeps it. */
static bool
orders_by(PlannerInfo *root, RelOptInfo *rel, IndexOptInfo *index)
{
	PathKey    *key = linitial(root->query_pathkeys);
	ListCell   *lc;

	if (key->pk_strategy != BTLessStrategyNumber || key->pk_nulls_first || index->reverse_sort[1] ||
		index->nulls_first[1] || key->pk_opfamily != index->sortopfamily[1])
		return false;
	foreach(lc, key->pk_eclass->ec_members)
	{
		EquivalenceMember *member = lfirst(lc);

		if (is_column((Node *) member->em_expr, rel->relid, index->indexkeys[1]))
			return true;
	}
	return false;
}

/* Offers the merge for a B-tree on (a, b) of a reflexo table read WHERE a = ANY (…) ORDER BY b. */
static void
offer_merge(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	ListCell   *lc;

	if (previous_hook)
		previous_hook(root, rel, rti, rte);
	if (!location_merge_scan || rel->reloptkind != RELOPT_BASEREL || rte->rtekind != RTE_RELATION ||
		rte->relkind != RELKIND_RELATION || rte->inh || rte->tablesample || root->query_pathkeys == NIL ||
		root->parse->commandType != CMD_SELECT || root->parse->rowMarks != NIL || rel->baserestrictinfo == NIL ||
		!bms_is_empty(rel->lateral_relids))
		return;
	foreach(lc, rel->indexlist)
	{
		IndexOptInfo *index = lfirst(lc);
		List	   *keys = NIL,
				   *ops = NIL,
				   *index_clauses = NIL;
		ListCell   *rc;
		IndexPath  *scan;
		CustomPath *merge;
		char	   *schema;

		if (index->relam != BTREE_AM_OID || index->nkeycolumns < 2 || index->indexkeys[0] == 0 ||
			index->indexkeys[1] == 0 || (index->indpred != NIL && !index->predOK) || !orders_by(root, rel, index))
			continue;
		/*
		 * The array first, then the bounds of the second column.  A plain
		 * equality on the first column (a location chosen) already reads in
		 * order: no merge then.
		 */
		foreach(rc, rel->baserestrictinfo)
		{
			RestrictInfo *rinfo = lfirst(rc);
			Oid			op,
						equal_op;
			Node	   *array = array_key_of(rinfo, rel, index, &op);

			if (key_of(rinfo, rel, index, 0, &equal_op) &&
				get_op_opfamily_strategy(equal_op, index->opfamily[0]) == BTEqualStrategyNumber)
				return;
			if (array && keys == NIL)
			{
				IndexClause *ic = makeNode(IndexClause);

				ic->rinfo = rinfo;
				ic->indexquals = list_make1(rinfo);
				ic->indexcol = 0;
				keys = list_make1(array);
				ops = list_make2_oid(index->indexoid, op);
				index_clauses = lappend(index_clauses, ic);
			}
		}
		if (keys == NIL)
			continue;
		foreach(rc, rel->baserestrictinfo)
		{
			RestrictInfo *rinfo = lfirst(rc);
			Oid			op;
			Node	   *bound = key_of(rinfo, rel, index, 1, &op);

			if (bound)
			{
				IndexClause *ic = makeNode(IndexClause);

				ic->rinfo = rinfo;
				ic->indexquals = list_make1(rinfo);
				ic->indexcol = 1;
				keys = lappend(keys, bound);
				ops = lappend_oid(ops, op);
				index_clauses = lappend(index_clauses, ic);
			}
		}
		schema = get_namespace_name(get_rel_namespace(rte->relid));
		if (schema == NULL || strcmp(schema, "reflexo") != 0)
			return;

		/* it reads what an index scan with the same keys reads, and compares each row once more */
		scan = create_index_path(root, index, index_clauses, NIL, NIL, NIL, ForwardScanDirection, false, NULL, 1.0,
								 false);
		merge = makeNode(CustomPath);
		merge->path.pathtype = T_CustomScan;
		merge->path.parent = rel;
		merge->path.pathtarget = rel->reltarget;
		merge->path.rows = rel->rows;
		merge->path.startup_cost = scan->path.startup_cost;
		merge->path.total_cost = scan->path.total_cost + cpu_operator_cost * scan->path.rows;
		merge->path.pathkeys = list_make1(linitial(root->query_pathkeys));
#if PG_VERSION_NUM >= 150000
		merge->flags = CUSTOMPATH_SUPPORT_PROJECTION;
#endif
		merge->custom_private = list_make2(keys, ops);
		merge->methods = &path_methods;
		add_path(rel, &merge->path);
		return;
	}
}

static Plan *
plan_merge(PlannerInfo *root pg_attribute_unused(), RelOptInfo *rel, CustomPath *path, List *tlist, List *clauses,
		   List *custom_plans pg_attribute_unused())
{
	CustomScan *cscan = makeNode(CustomScan);

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = rel->relid;
	cscan->flags = path->flags;
	cscan->custom_exprs = copyObject(linitial(path->custom_private));
	cscan->custom_private = list_make1(copyObject(lsecond(path->custom_private)));
	cscan->methods = &scan_methods;
	return &cscan->scan.plan;
}

/* ---------------------------------------------------------------- execution */

static Node *
create_merge_state(CustomScan *cscan)
{
	MergeState *state = palloc0(sizeof(MergeState));

	NodeSetTag(state, T_CustomScanState);
	state->css.methods = &exec_methods;
	state->css.flags = cscan->flags;
#if PG_VERSION_NUM >= 160000
	state->css.slotOps = &TTSOpsBufferHeapTuple;
#endif
	return (Node *) state;
}

static void
begin_merge(CustomScanState *node, EState *estate, int eflags pg_attribute_unused())
{
	MergeState *state = (MergeState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *ops = linitial(cscan->custom_private);
	ListCell   *lc;
	int			i = 0;

	state->index = index_open(linitial_oid(ops), AccessShareLock);
	state->keys = ExecInitExprList(cscan->custom_exprs, &node->ss.ps);
	state->key_ops = palloc(sizeof(Oid) * list_length(cscan->custom_exprs));
	for_each_from(lc, ops, 1)
		state->key_ops[i++] = lfirst_oid(lc);
	state->order_column = state->index->rd_index->indkey.values[1];
	state->order.ssup_cxt = CurrentMemoryContext;
	state->order.ssup_collation = state->index->rd_indcollation[1];
	state->order.ssup_attno = 2;
	PrepareSortSupportFromIndexRel(state->index, BTLessStrategyNumber, &state->order);
	state->scan_context = AllocSetContextCreate(estate->es_query_cxt, "location merge", ALLOCSET_SMALL_SIZES);
	state->returned = -1;
}

/* Heap order: the scan with the smaller head first (binaryheap keeps the largest on top). */
static int
compare_heads(Datum a, Datum b, void *arg)
{
	MergeState *state = arg;
	int			i = DatumGetInt32(a),
				j = DatumGetInt32(b);

	return -ApplySortComparator(state->heads[i], state->heads_null[i], state->heads[j], state->heads_null[j],
								&state->order);
}

/* Reads scan i's next row; false when it has no more. */
static bool
advance(MergeState *state, int i)
{
	if (!index_getnext_slot(state->scans[i], ForwardScanDirection, state->slots[i]))
		return false;
	state->heads[i] = slot_getattr(state->slots[i], state->order_column, &state->heads_null[i]);
	return true;
}

static void
stop_scans(MergeState *state)
{
	for (int i = 0; i < state->nscans; i++)
	{
		index_endscan(state->scans[i]);
		ExecDropSingleTupleTableSlot(state->slots[i]);
	}
	state->nscans = 0;
	state->heap = NULL;
	state->started = false;
	state->returned = -1;
	MemoryContextReset(state->scan_context);
}

/* Evaluates the keys and starts one index scan per distinct, non-null element of the array. */
static void
start_scans(MergeState *state)
{
	EState	   *estate = state->css.ss.ps.state;
	Relation	table = state->css.ss.ss_currentRelation;
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	MemoryContext old = MemoryContextSwitchTo(state->scan_context);
	int			nkeys = list_length(state->keys);
	ScanKeyData *scan_keys = palloc(sizeof(ScanKeyData) * nkeys);
	FmgrInfo	equal;
	ArrayType  *array;
	Datum		value;
	Datum	   *elements;
	bool	   *nulls;
	bool		isnull;
	int			nelements,
				strategy,
				k = 0;
	Oid			left,
				right;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	ListCell   *lc;

	state->started = true;
	/* key 0 is the array's element, set per scan below; the others are the bounds */
	foreach(lc, state->keys)
	{
		value = ExecEvalExpr(lfirst(lc), econtext, &isnull);
		if (isnull)
		{
			/* compared with NULL: no row qualifies */
			MemoryContextSwitchTo(old);
			return;
		}
		get_op_opfamily_properties(state->key_ops[k], state->index->rd_opfamily[k == 0 ? 0 : 1], false, &strategy,
								   &left, &right);
		ScanKeyEntryInitialize(&scan_keys[k], 0, k == 0 ? 1 : 2, strategy, right,
							   state->index->rd_indcollation[k == 0 ? 0 : 1], get_opcode(state->key_ops[k]), value);
		k++;
	}
	array = DatumGetArrayTypeP(scan_keys[0].sk_argument);
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign, &elements, &nulls, &nelements);
	fmgr_info(get_opcode(state->key_ops[0]), &equal);
	state->scans = palloc(sizeof(IndexScanDesc) * nelements);
	state->slots = palloc(sizeof(TupleTableSlot *) * nelements);
	state->heads = palloc(sizeof(Datum) * nelements);
	state->heads_null = palloc(sizeof(bool) * nelements);
	state->heap = binaryheap_allocate(Max(nelements, 1), compare_heads, state);
	for (int e = 0; e < nelements; e++)
	{
		bool		seen = nulls[e];
		int			i = state->nscans;

		for (int d = 0; d < e && !seen; d++)
			seen = !nulls[d] && DatumGetBool(FunctionCall2Coll(&equal, state->index->rd_indcollation[0],
																 elements[d], elements[e]));
		if (seen)
			continue;
		scan_keys[0].sk_argument = elements[e];
		state->scans[i] = index_beginscan(table, state->index, estate->es_snapshot, nkeys, 0);
		index_rescan(state->scans[i], scan_keys, nkeys, NULL, 0);
		state->slots[i] = table_slot_create(table, NULL);
		state->nscans++;
		if (advance(state, i))
			binaryheap_add_unordered(state->heap, Int32GetDatum(i));
	}
	binaryheap_build(state->heap);
	MemoryContextSwitchTo(old);
}

/* The next row in order: the smallest head, after moving on the scan that gave the last one. */
static TupleTableSlot *
next_row(ScanState *ss)
{
	MergeState *state = (MergeState *) ss;

	if (!state->started)
		start_scans(state);
	else if (state->returned >= 0)
	{
		if (advance(state, state->returned))
			binaryheap_replace_first(state->heap, Int32GetDatum(state->returned));
		else
			(void) binaryheap_remove_first(state->heap);
	}
	if (state->heap == NULL || binaryheap_empty(state->heap))
	{
		state->returned = -1;
		return ExecClearTuple(ss->ss_ScanTupleSlot);
	}
	state->returned = DatumGetInt32(binaryheap_first(state->heap));
	/* the scan slot is virtual to the executor (PostgreSQL 15 gives a custom scan no other): every column read */
	slot_getallattrs(state->slots[state->returned]);
	return state->slots[state->returned];
}

/* The keys only choose where to read; the quals, checked by ExecScan, decide. */
static bool
recheck_row(ScanState *ss pg_attribute_unused(), TupleTableSlot *slot pg_attribute_unused())
{
	return true;
}

static TupleTableSlot *
exec_merge(CustomScanState *node)
{
	return ExecScan(&node->ss, next_row, recheck_row);
}

static void
end_merge(CustomScanState *node)
{
	MergeState *state = (MergeState *) node;

	stop_scans(state);
	index_close(state->index, NoLock);
}

static void
rescan_merge(CustomScanState *node)
{
	MergeState *state = (MergeState *) node;

	stop_scans(state);
	ExecScanReScan(&node->ss);
}

static void
explain_merge(CustomScanState *node, List *ancestors pg_attribute_unused(), ExplainState *es)
{
	MergeState *state = (MergeState *) node;

	ExplainPropertyText("Index", RelationGetRelationName(state->index), es);
}

void
location_merge_init(void)
{
	DefineCustomBoolVariable("reflexo.location_merge_scan",
							 gettext_noop("Whether a reflexo table read by an array of locations may be read in the "
										  "order of its index, one scan per location, merged."),
							 NULL,
							 &location_merge_scan,
							 true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&scan_methods);
	previous_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = offer_merge;
}
