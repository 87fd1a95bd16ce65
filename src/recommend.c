/*
 * recommend.c
 *		The serving functions of SQL: recommend, recommend_by_vector,
 *		recommend_by_items, recommend_all, similar_items, similar_users and
 *		fold_in, each by model value and by registry name, and the planner
 *		support function that tells the planner how many rows they return.
 *
 * This layer only adapts: it fetches and checks arguments, turns id lists into
 * sorted item indexes, takes the model from cache.c and calls the plain-C
 * scoring in serving.c, then builds the result.  Results are small (at most n
 * rows per user), so the set-returning functions fill a tuplestore in one call
 * and hold no model pointer between calls.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "algorithms.h"
#include "ann.h"
#include "ann_sql.h"
#include "blas.h"
#include "cache.h"
#include "content.h"
#include "modelio.h"
#include "diversity.h"
#include "modeltype.h"
#include "recommend.h"
#include "recsys.h"
#include "scoring.h"
#include "serving.h"
#include "solver.h"
#include "track.h"
#include "vec.h"
#include "kernels.h"

/* recommend_all: users per SGEMM block, items per tile, result rows per round */
#define BATCH_BLOCK_USERS	256
#define BATCH_TILE_ITEMS	1024
#define BATCH_ROUND_ROWS	(1 << 22)
/* recommend_all: pool entries (RecBatchPoolCap per user) of one block at most */
#define BATCH_POOL_ENTRIES	(1 << 20)
/* recommend_all: rounds a long run is cut into, for the overlapped hand-over */
#define BATCH_MIN_ROUNDS	8
/*
 * recommend_all: below this many users each is ranked by the single-user scan;
 * sorting the item rows for the tile path costs about as much as 60 such scans
 */
#define BATCH_SCAN_USERS	64

/* candidate lists longer than n_items / this are scored with one sgemv over all items */
#define DENSE_CANDIDATES_SHARE	4

/*
 * The model argument (position 0), by value or by registry name.  Loading a model
 * and scoring call BLAS on this thread: its OpenBLAS scratch is mapped first.
 */
static RecModelEntry *
ModelArg(FunctionCallInfo fcinfo, bool by_name)
{
	RecModelEntry *e;

	RecReserveBlas(1, "serving");
	if (by_name)
		e = RecModelGetByName(PG_GETARG_TEXT_PP(0));
	else
		e = RecModelGet(PG_GETARG_DATUM(0));
	return e;
}

/* The model argument by registry name, and the row's owner (whose overlays apply) */
static RecModelEntry *
NamedModelArg(FunctionCallInfo fcinfo, Oid *owner)
{
	RecReserveBlas(1, "serving");
	return RecModelGetByNameOwner(PG_GETARG_TEXT_PP(0), false, owner);
}

/* Checks a requested result count; 0 asks for no rows */
static int
CheckTopN(int32 n)
{
	if (n < 0 || n > RECSYS_MAX_TOPN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 0 and %d, got %d", RECSYS_MAX_TOPN, n)));
	return n;
}

/*
 * The elements of a bigint[] argument as a plain array (no copy); raises 22004
 * naming the argument if any element is NULL.
 */
static const int64 *
BigintArrayValues(ArrayType *a, const char *argname, int *count)
{
	if (ARR_ELEMTYPE(a) != INT8OID)
		elog(ERROR, "%s must be a bigint array", argname);
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULL elements", argname)));
	*count = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return (const int64 *) ARR_DATA_PTR(a);
}

/*
 * Maps the ids of a bigint[] argument to sorted, unique indexes into ids
 * (a model's sorted id array); ids the model does not know are dropped.  Costs
 * one look-up per id and a pass over n_ids / 64 mark words, no sort.
 */
static int32 *
IdsToIndexes(ArrayType *a, const char *argname, const int64 *ids, int32 n_ids,
			 int64 *n_out)
{
	int			count;
	const int64 *vals = BigintArrayValues(a, argname, &count);
	int32	   *idx = palloc(sizeof(int32) * Max(Min((int64) count, (int64) n_ids), 1));
	uint64	   *mark = palloc0(sizeof(uint64) * (((int64) n_ids + 63) / 64 + 1));

	*n_out = RecIdsToIndexes(ids, n_ids, vals, count, mark, idx);
	pfree(mark);
	return idx;
}

/* A heap for up to cap results (cap >= 1) */
static void
HeapAlloc(TopNHeap *h, int cap)
{
	TopNInit(h, cap, palloc(sizeof(float) * cap), palloc(sizeof(int64_t) * cap));
}

/*
 * Writes one (id, score, rank) row, or (id, score, rank, fallback) where the
 * function's result has the fallback column
 */
static void
EmitRow(FunctionCallInfo fcinfo, int64 id, float score, int rank, bool fallback)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = Int64GetDatum(id);
	values[1] = Float4GetDatum(score);
	values[2] = Int32GetDatum(rank);
	values[3] = BoolGetDatum(fallback);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Writes the heap best first as (id, score, rank) rows, rank 1 the best */
static void
EmitRows(FunctionCallInfo fcinfo, TopNHeap *h, const int64 *ids)
{
	int			rows = TopNSortDesc(h);

	for (int r = 0; r < rows; r++)
		EmitRow(fcinfo, ids[h->id[r]], h->score[r], r + 1, false);
}

/* The diversity argument: 0 (also for NULL) up to 1 */
static float
DiversityArg(FunctionCallInfo fcinfo, int argno)
{
	float		d;

	if (PG_ARGISNULL(argno))
		return 0.0f;
	d = PG_GETARG_FLOAT4(argno);
	if (!(d >= 0.0f && d <= 1.0f))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("diversity must be between 0 and 1, got %g", (double) d)));
	return d;
}

/* How many candidates a list of n keeps before re-ranking: n, or the MMR pool */
static int
PoolSize(int n, float diversity)
{
	if (diversity <= 0.0f)
		return n;
	return (int) Min(RecDiversityPool(n), (int64) MaxAllocSize / (4 * sizeof(float)));
}

/*
 * The order in which a ranked list of rows items (best first) is returned as a
 * list of n: as it is for diversity 0, else greedy MMR with the model's item
 * similarity (diversity.h): cosine of the factors, the stored weights of an
 * item-item model, the cosine of the seen interactions for user kNN.
 */
static int
DiversifyOrder(RecModelEntry *e, const float *score, const int64 *items, int rows, int n,
			   float diversity, int32 *order)
{
	int			want = Min(rows, n);
	float	   *work;

	if (diversity <= 0.0f || rows <= 1)
	{
		for (int r = 0; r < want; r++)
			order[r] = r;
		return want;
	}
	work = palloc(sizeof(float) * 3 * rows);
	if (e->v.item_factors != NULL)
	{
		RecFactorPool p = {e->v.item_factors, e->model->factors, e->item_norms, items, rows};

		return RecRerankMMR(score, rows, n, diversity, RecFactorPoolSimilarity, &p, order,
							work);
	}
	if (e->v.item_nbr_ptr != NULL)
	{
		RecNeighbourPicks p = {{e->v.item_nbr_ptr, e->v.item_nbr_idx, e->v.item_nbr_weight},
		items, e->pool_pos, rows};
		int			kept;

		/* pool_pos holds this pool only while MMR (plain C, no error) runs */
		for (int r = 0; r < rows; r++)
			e->pool_pos[items[r]] = r;
		kept = RecRerankMMR(score, rows, n, diversity, RecNeighbourPickSimilarity, &p,
							order, work);
		for (int r = 0; r < rows; r++)
			e->pool_pos[items[r]] = -1;
		return kept;
	}
	if (e->item_user_ptr != NULL)
	{
		RecSeenPool p;
		float	   *norms = palloc(sizeof(float) * rows);

		RecSeenColumnNorms(e->item_user_ptr, e->item_user_values, items, rows, norms);
		p.item_ptr = e->item_user_ptr;
		p.item_users = e->item_users;
		p.item_values = e->item_user_values;
		p.items = items;
		p.norms = norms;
		p.scratch = e->user_scratch;
		p.n_pool = rows;
		return RecRerankMMR(score, rows, n, diversity, RecSeenPoolSimilarity, &p, order,
							work);
	}
	for (int r = 0; r < want; r++)
		order[r] = r;
	return want;
}

/*
 * Writes a list of n from the heap (holding the best PoolSize(n, diversity)
 * candidates): best first, or re-ranked for diversity, each row with the
 * model's own score, rank 1 the first and the fallback mark.
 */
static void
EmitList(FunctionCallInfo fcinfo, RecModelEntry *e, TopNHeap *h, int n, float diversity,
		 bool fallback)
{
	int			rows = TopNSortDesc(h);
	int32	   *order = palloc(sizeof(int32) * Max(rows, 1));
	int			kept = DiversifyOrder(e, h->score, h->id, rows, n, diversity, order);

	for (int r = 0; r < kept; r++)
		EmitRow(fcinfo, e->v.item_ids[h->id[order[r]]], h->score[order[r]], r + 1, fallback);
}

/*
 * Scratch for listing the items a neighbourhood score row touches (scoring.h),
 * so that selection reads those and not the whole catalogue.
 */
static RecTouched *
TouchedAlloc(const RecModelEntry *e)
{
	RecTouched *t = palloc(sizeof(RecTouched));
	int64		n_items = e->model->n_items;

	t->mark = palloc0(sizeof(uint64) * ((n_items + 63) / 64 + 1));
	t->items = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * (n_items + 1));
	t->n = 0;
	return t;
}

/* The request's candidates and exclude arguments as item indexes */
static void
FilterArgs(FunctionCallInfo fcinfo, const RecModelEntry *e, int cand_arg, int exclude_arg,
		   int32 **cand, int64 *n_cand, RecBlocked *blocked)
{
	*cand = NULL;
	*n_cand = 0;
	if (!PG_ARGISNULL(cand_arg))
		*cand = IdsToIndexes(PG_GETARG_ARRAYTYPE_P(cand_arg), "candidates",
							 e->v.item_ids, e->model->n_items, n_cand);
	if (!PG_ARGISNULL(exclude_arg))
		blocked->exclude = IdsToIndexes(PG_GETARG_ARRAYTYPE_P(exclude_arg), "exclude",
										e->v.item_ids, e->model->n_items,
										&blocked->n_exclude);
}

/* What a model is, for messages: "item-based knn", "ease", "als", ... */
static const char *
ModelKindName(const RecModelEntry *e)
{
	const char *name = RecAlgorithmByCode(e->model->algorithm)->name;

	if (e->v.item_factors != NULL)
		return name;
	return psprintf("%s%s", e->v.user_nbr_ptr != NULL ? "user-based " :
					(e->model->algorithm == RECSYS_ALG_EASE ? "" : "item-based "), name);
}

/*
 * Ranks a user vector x against the catalogue or the candidates with the
 * request's exclusions; base is added to every score (mu + b_u for explicit).
 * Returns false if some score overflowed float4 (the ranking is then void):
 * the model's limits (model.h) rule that out for its own user vectors, not for
 * a caller's vector.
 */
static bool
RankVector(TopNHeap *h, RecModelEntry *e, const float *x, float base,
		   const int32 *cand, int64 n_cand, bool use_cand, const RecBlocked *blocked,
		   const RecAnnRequest *ann)
{
	const RecModelHeader *m = e->model;

	/* --- approximate top-N hook (ann_sql.h): the model's index, if it has one --- */
	if (!use_cand && RecAnnUsable(e, ann, x))
		return RecAnnRank(h, e, x, base, ann, blocked);

	/*
	 * A short list: one dot product per candidate.  A list covering more than
	 * 1 / DENSE_CANDIDATES_SHARE of the catalogue: one streaming pass of dot
	 * products over all items is cheaper than that many scattered ones, and then
	 * only the candidates are read.
	 */
	if (use_cand && n_cand * DENSE_CANDIDATES_SHARE < (int64) m->n_items)
		return RecSelectCandidates(h, x, e->v.item_factors, m->factors, e->v.item_bias,
								   base, cand, n_cand, blocked);
	if (use_cand)
	{
		KernRowDots(e->v.item_factors, m->n_items, m->factors, x, e->scores);
		return RecSelectDenseCandidates(h, e->scores, e->v.item_bias, base, cand, n_cand,
										blocked);
	}

	/*
	 * The whole catalogue: dot products and selection fused in one pass over the
	 * item matrix (memory-bound; no BLAS call, no score array)
	 */
	return RecSelectFactors(h, e->v.item_factors, m->factors, x, e->v.item_bias, base,
							m->n_items, blocked);
}

/* A known user's training interactions as a history (the model's seen row) */
static RecHistory
UserHistory(const RecModelEntry *e, int32 u)
{
	RecHistory	hist;

	hist.items = e->v.seen_items + e->v.seen_ptr[u];
	hist.values = e->v.seen_values + e->v.seen_ptr[u];
	hist.n = e->v.seen_ptr[u + 1] - e->v.seen_ptr[u];
	return hist;
}

/*
 * A known user's score row of a neighbourhood model into the entry's scratch
 * (cleared first): from its items' rows (item kNN, EASE) or its neighbours'
 * histories (user kNN).  With t, the items written are listed there too.
 */
static void
ScoreKnownUser(RecModelEntry *e, int32 u, RecTouched *t)
{
	memset(e->scores, 0, sizeof(float) * e->model->n_items);
	if (e->v.feature_ptr != NULL)
	{
		RecHistory	hist = UserHistory(e, u);

		RecTextScoreHistory(&e->v, &hist, e->scores, t);
	}
	else if (e->v.item_nbr_ptr != NULL)
	{
		RecNeighbourRows rows = {e->v.item_nbr_ptr, e->v.item_nbr_idx, e->v.item_nbr_weight};
		RecHistory	hist = UserHistory(e, u);

		if (t)
			RecScoreItemNeighboursTouched(&rows, &hist, e->scores, t);
		else
			RecScoreItemNeighbours(&rows, &hist, e->scores);
	}
	else
	{
		RecNeighbourRows rows = {e->v.user_nbr_ptr, e->v.user_nbr_idx, e->v.user_nbr_weight};

		if (t)
			RecScoreUserNeighboursTouched(&rows, u, e->v.seen_ptr, e->v.seen_items,
										  e->v.seen_values, e->scores, t);
		else
			RecScoreUserNeighbours(&rows, u, e->v.seen_ptr, e->v.seen_items,
								   e->v.seen_values, e->scores);
	}
}

/*
 * Ranks a neighbourhood model's score row (the entry's scratch, its touched
 * items in t): the items the history reaches, or, when it reaches none, the
 * most popular ones (and then returns true: a fallback).
 */
static bool
SelectNeighbourScores(TopNHeap *h, RecModelEntry *e, const RecTouched *t,
					  const int32 *cand, int64 n_cand, bool use_cand,
					  const RecBlocked *blocked)
{
	if (use_cand)
		RecSelectRowCandidates(h, e->scores, cand, n_cand, blocked);
	else
		RecSelectTouched(h, e->scores, t, blocked);
	if (h->size > 0)
		return false;
	if (use_cand)
		RecSelectPopularCandidates(h, e->v.item_count, cand, n_cand, blocked);
	else
		RecSelectPopular(h, e->popular, e->v.item_count, e->model->n_items, blocked);
	return true;
}

/*
 * A factor model's vector that carries no preference (all zero, from a history
 * of items without features or factors, or a content user whose items have
 * none) on a model whose scores are x . y alone ranks every item 0: the popular
 * items instead, true when it did so (a fallback)
 */
static bool
ZeroVectorFallback(TopNHeap *h, RecModelEntry *e, const float *x, const int32 *cand,
				   int64 n_cand, bool use_cand, const RecBlocked *blocked)
{
	const RecModelHeader *m = e->model;

	if (!RecModelImplicit(m))
		return false;
	for (int d = 0; d < m->factors; d++)
		if (x[d] != 0.0f)
			return false;
	if (use_cand)
		RecSelectPopularCandidates(h, e->v.item_count, cand, n_cand, blocked);
	else
		RecSelectPopular(h, e->popular, e->v.item_count, m->n_items, blocked);
	return true;
}

static Vec *FoldInHistory(RecModelEntry *e, const RecHistory *hist, float *bias);
static bool ScoreHistory(RecModelEntry *e, const RecHistory *hist, RecTouched *t);

/*
 * Ranks a history (a visitor's, or a tracked user's overlay) as
 * recommend_by_items does: factor models rank the folded-in vector (x when the
 * caller already has it, with bias), neighbourhood models score the history; an
 * empty history gets the popular items.  True when the list is a fallback.
 */
static bool
RankHistory(TopNHeap *h, RecModelEntry *e, const RecHistory *hist, const float *x,
			float bias, const int32 *cand, int64 n_cand, bool use_cand,
			const RecBlocked *blocked, const RecAnnRequest *ann)
{
	const RecModelHeader *m = e->model;
	bool		finite;
	bool		fallback = false;

	if (hist->n == 0)
	{
		if (use_cand)
			RecSelectPopularCandidates(h, e->v.item_count, cand, n_cand, blocked);
		else
			RecSelectPopular(h, e->popular, e->v.item_count, m->n_items, blocked);
		return true;
	}
	if (e->v.item_factors != NULL)
	{
		if (x == NULL)
			x = FoldInHistory(e, hist, &bias)->x;
		if (ZeroVectorFallback(h, e, x, cand, n_cand, use_cand, blocked))
			return true;
		finite = RankVector(h, e, x, m->global_mean + bias, cand, n_cand, use_cand, blocked,
							ann);
	}
	else
	{
		RecTouched *t = use_cand ? NULL : TouchedAlloc(e);

		if (!ScoreHistory(e, hist, t))
			elog(ERROR, "model has neither factors nor neighbours");
		finite = RecAllFinite(e->scores, m->n_items);
		if (finite)
			fallback = SelectNeighbourScores(h, e, t, cand, n_cand, use_cand, blocked);
	}
	if (!finite)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("scores of the history are not finite: its values are too large")));
	return fallback;
}

/*
 * recommend(m, user_id, n, exclude_seen, candidates, exclude, diversity): the
 * user's best n items; an unknown or NULL user gets the most popular ones
 * (score = training count), marked as a fallback.
 */
static Datum
RecommendUser(FunctionCallInfo fcinfo, bool by_name)
{
	RecModelEntry *e;
	const RecModelHeader *m;
	int64		user_id;
	int			n;
	bool		exclude_seen;
	int32		u;
	int32	   *cand = NULL;
	int64		n_cand = 0;
	bool		use_cand = !PG_ARGISNULL(4);
	RecBlocked	blocked = {0};
	TopNHeap	heap;
	int			cap;
	float		diversity;
	bool		fallback = false;
	Oid			owner = InvalidOid;
	RecOverlay	ov;
	bool		tracked = false;
	RecAnnRequest ann;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return (Datum) 0;
	/* no user id (a visitor nobody knows yet): the cold-start list */
	user_id = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	n = CheckTopN(PG_GETARG_INT32(2));
	exclude_seen = PG_GETARG_BOOL(3);
	diversity = DiversityArg(fcinfo, 6);
	ann = RecAnnRequestArgs(fcinfo, 7, 8);

	e = by_name ? NamedModelArg(fcinfo, &owner) : ModelArg(fcinfo, false);
	m = e->model;
	if (n == 0)
		return (Datum) 0;
	FilterArgs(fcinfo, e, 4, 5, &cand, &n_cand, &blocked);

	u = PG_ARGISNULL(1) ? -1 : RecFindId(e->v.user_ids, m->n_users, user_id);
	if (u >= 0 && exclude_seen && e->v.seen_ptr)
	{
		blocked.seen = e->v.seen_items + e->v.seen_ptr[u];
		blocked.n_seen = e->v.seen_ptr[u + 1] - e->v.seen_ptr[u];
	}

	/* a user recsys.track follows: their history now instead of the model's row */
	if (by_name && !PG_ARGISNULL(1) &&
		RecOverlayFind(e, PG_GETARG_TEXT_PP(0), owner, user_id, &ov))
	{
		tracked = true;
		blocked.seen = exclude_seen ? ov.hist.items : NULL;
		blocked.n_seen = exclude_seen ? ov.hist.n : 0;
	}

	cap = (int) Min((int64) PoolSize(n, diversity), use_cand ? n_cand : (int64) m->n_items);
	if (cap == 0)
		return (Datum) 0;
	HeapAlloc(&heap, cap);

	if (tracked)
		fallback = RankHistory(&heap, e, &ov.hist, ov.x, ov.bias, cand, n_cand, use_cand,
							   &blocked, &ann);
	else if (u >= 0 && e->v.user_factors != NULL)
	{
		float		base = m->global_mean + (e->v.user_bias ? e->v.user_bias[u] : 0.0f);
		const float *x = e->v.user_factors + (int64) u * m->factors;

		fallback = ZeroVectorFallback(&heap, e, x, cand, n_cand, use_cand, &blocked);
		if (!fallback && !RankVector(&heap, e, x, base, cand, n_cand, use_cand, &blocked, &ann))
			elog(ERROR, "scores of user " INT64_FORMAT " are not finite", user_id);
	}
	else if (u >= 0)
	{
		RecTouched *t = use_cand ? NULL : TouchedAlloc(e);

		ScoreKnownUser(e, u, t);
		fallback = SelectNeighbourScores(&heap, e, t, cand, n_cand, use_cand, &blocked);
	}
	else
	{
		fallback = true;
		if (use_cand)
			RecSelectPopularCandidates(&heap, e->v.item_count, cand, n_cand, &blocked);
		else
			RecSelectPopular(&heap, e->popular, e->v.item_count, m->n_items, &blocked);
	}

	EmitList(fcinfo, e, &heap, n, diversity, fallback);
	return (Datum) 0;
}

/*
 * predict of a neighbourhood model: kNN with baselines where the model stores
 * baselines (kNN), else the recommend score of the pair (EASE); an unknown user
 * or item gets the baseline (or 0).
 */
static float
NeighbourPredict(RecModelEntry *e, int32 u, int32 i)
{
	const RecModelView *v = &e->v;

	if (v->user_bias != NULL)
	{
		if (v->item_nbr_ptr != NULL)
		{
			RecNeighbourRows rows = {v->item_nbr_ptr, v->item_nbr_idx, v->item_nbr_weight};
			RecHistory	hist = {NULL, NULL, 0};

			if (u >= 0)
				hist = UserHistory(e, u);
			return RecPredictItemBaseline(&rows, &hist, u, i, v->h->global_mean,
										  v->user_bias, v->item_bias);
		}
		else
		{
			RecNeighbourRows rows = {v->user_nbr_ptr, v->user_nbr_idx, v->user_nbr_weight};

			return RecPredictUserBaseline(&rows, u, i, v->seen_ptr, v->seen_items,
										  v->seen_values, v->h->global_mean,
										  v->user_bias, v->item_bias);
		}
	}
	if (u < 0 || i < 0)
		return 0.0f;
	ScoreKnownUser(e, u, NULL);
	return e->scores[i];
}

/*
 * recsys.predict(m, user_id, item_id): the model's prediction for one pair.  Called
 * once per row of a test set, so the model comes from the cache without fetching
 * anything when consecutive rows carry the same stored value.
 */
PG_FUNCTION_INFO_V1(predict);
Datum
predict(PG_FUNCTION_ARGS)
{
	RecModelEntry *e;
	const RecModelView *v;
	int32		u,
				i;

	RecReserveBlas(1, "predict");	/* loading a model may call BLAS */
	e = RecModelGetForRow(fcinfo->flinfo, PG_GETARG_DATUM(0));
	v = &e->v;

	u = RecFindId(v->user_ids, v->h->n_users, PG_GETARG_INT64(1));
	i = RecFindId(v->item_ids, v->h->n_items, PG_GETARG_INT64(2));
	if (v->item_factors != NULL)
		PG_RETURN_FLOAT4(RecModelPredict(v, u, i));
	PG_RETURN_FLOAT4(NeighbourPredict(e, u, i));
}

/* recsys.recommend(m recsys.model, user_id bigint, ...) */
PG_FUNCTION_INFO_V1(recommend_user);
Datum
recommend_user(PG_FUNCTION_ARGS)
{
	return RecommendUser(fcinfo, false);
}

/* recsys.recommend(name text, user_id bigint, ...) */
PG_FUNCTION_INFO_V1(recommend_user_by_name);
Datum
recommend_user_by_name(PG_FUNCTION_ARGS)
{
	return RecommendUser(fcinfo, true);
}

/* Euclidean norm of a vector argument, in double (for messages) */
static double
VecNorm(const Vec *x)
{
	double		s = 0.0;

	for (int j = 0; j < x->dim; j++)
		s += (double) x->x[j] * x->x[j];
	return sqrt(s);
}

/* Checks that a vector argument has the model's dimension */
static void
CheckVectorDims(const Vec *x, const RecModelHeader *m)
{
	if (x->dim != m->factors)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", x->dim, m->factors),
				 errdetail("The model has %d factors.", m->factors)));
}

/*
 * recommend_by_vector(m, user_vector, n, candidates, exclude): the best n items
 * for an ad-hoc profile; explicit models score mu + b_i + x.y (no user bias is
 * known).  0.1.0 called it recommend(m, vec, ...).
 */
static Datum
RecommendVector(FunctionCallInfo fcinfo, bool by_name)
{
	RecModelEntry *e;
	const RecModelHeader *m;
	Vec		   *x;
	int			n;
	int32	   *cand = NULL;
	int64		n_cand = 0;
	bool		use_cand = !PG_ARGISNULL(3);
	RecBlocked	blocked = {0};
	TopNHeap	heap;
	int			cap;
	float		diversity;
	RecAnnRequest ann;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;
	x = PG_GETARG_VEC_P(1);
	n = CheckTopN(PG_GETARG_INT32(2));
	diversity = DiversityArg(fcinfo, 5);
	ann = RecAnnRequestArgs(fcinfo, 6, 7);

	e = ModelArg(fcinfo, by_name);
	m = e->model;
	RecModelRequireFactors(e->model, "recommend_by_vector");
	CheckVectorDims(x, m);
	if (n == 0)
		return (Datum) 0;
	FilterArgs(fcinfo, e, 3, 4, &cand, &n_cand, &blocked);

	cap = (int) Min((int64) PoolSize(n, diversity), use_cand ? n_cand : (int64) m->n_items);
	if (cap == 0)
		return (Datum) 0;
	HeapAlloc(&heap, cap);
	if (!ZeroVectorFallback(&heap, e, x->x, cand, n_cand, use_cand, &blocked) &&
		!RankVector(&heap, e, x->x, m->global_mean, cand, n_cand, use_cand, &blocked, &ann))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("user_vector is too large for this model: scores overflow type real"),
				 errdetail("The vector's norm is %g.", VecNorm(x))));
	EmitList(fcinfo, e, &heap, n, diversity, false);
	return (Datum) 0;
}

/*
 * recsys.recommend_by_vector(m recsys.model, user_vector vec, ...); the symbol
 * keeps its 0.1.0 name, which the 0.1.0 script refers to
 */
PG_FUNCTION_INFO_V1(recommend_vector);
Datum
recommend_vector(PG_FUNCTION_ARGS)
{
	return RecommendVector(fcinfo, false);
}

/* recsys.recommend_by_vector(name text, user_vector vec, ...) */
PG_FUNCTION_INFO_V1(recommend_vector_by_name);
Datum
recommend_vector_by_name(PG_FUNCTION_ARGS)
{
	return RecommendVector(fcinfo, true);
}

/*
 * similar_items of a text content model: the cosine of the items' TF-IDF
 * vectors, over the items sharing a term with it (the inverted index)
 */
static Datum
SimilarText(FunctionCallInfo fcinfo, RecModelEntry *e, int64 id, int n)
{
	const RecModelHeader *m = e->model;
	int32		self = RecFindId(e->v.item_ids, m->n_items, id);
	int32	   *cand = NULL;
	int64		n_cand = 0;
	RecBlocked	blocked = {0};
	RecTouched *t;
	TopNHeap	heap;

	if (n == 0 || self < 0 || m->n_items < 2)
		return (Datum) 0;
	if (!PG_ARGISNULL(3))
		cand = IdsToIndexes(PG_GETARG_ARRAYTYPE_P(3), "candidates", e->v.item_ids, m->n_items,
							&n_cand);
	if (!PG_ARGISNULL(4))
		blocked.exclude = IdsToIndexes(PG_GETARG_ARRAYTYPE_P(4), "exclude", e->v.item_ids,
									   m->n_items, &blocked.n_exclude);
	memset(e->scores, 0, sizeof(float) * m->n_items);
	t = TouchedAlloc(e);
	RecTextSimilar(&e->v, self, e->scores, t);
	e->scores[self] = 0.0f;
	HeapAlloc(&heap, Min(n, m->n_items - 1));
	if (cand != NULL)
		RecSelectRowCandidates(&heap, e->scores, cand, n_cand, &blocked);
	else
		RecSelectTouched(&heap, e->scores, t, &blocked);
	EmitRows(fcinfo, &heap, e->v.item_ids);
	return (Datum) 0;
}

/*
 * similar_items / similar_users (m, id, n, candidates, exclude): the n rows of
 * the item (or user) matrix with the highest cosine similarity to the given
 * one, or a neighbourhood model's stored neighbours of it, among candidates and
 * not in exclude (both item ids for similar_items, user ids for similar_users),
 * itself never.  An unknown id returns no rows.
 */
static Datum
Similar(FunctionCallInfo fcinfo, bool by_name, bool items)
{
	RecModelEntry *e;
	const RecModelHeader *m;
	int64		id;
	int			n;
	const int64 *ids;
	const float *M;
	const float *norms;
	int32		rows;
	int32		self;
	int32	   *cand = NULL;
	int64		n_cand = 0;
	RecBlocked	blocked = {0};
	TopNHeap	heap;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;
	id = PG_GETARG_INT64(1);
	n = CheckTopN(PG_GETARG_INT32(2));
	e = ModelArg(fcinfo, by_name);
	m = e->model;
	ids = items ? e->v.item_ids : e->v.user_ids;
	M = items ? e->v.item_factors : e->v.user_factors;
	norms = items ? e->item_norms : e->user_norms;
	rows = items ? m->n_items : m->n_users;

	if (M == NULL && items && e->v.feature_ptr != NULL)
		return SimilarText(fcinfo, e, id, n);
	if (M == NULL && (items ? e->v.item_nbr_ptr : e->v.user_nbr_ptr) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this %s model has no %s similarities",
						ModelKindName(e), items ? "item" : "user"),
				 errhint("Train an item-based model for similar_items, a user-based one for similar_users.")));
	self = RecFindId(ids, rows, id);
	if (n == 0 || self < 0 || rows < 2)
		return (Datum) 0;
	if (!PG_ARGISNULL(3))
		cand = IdsToIndexes(PG_GETARG_ARRAYTYPE_P(3), "candidates", ids, rows, &n_cand);
	if (!PG_ARGISNULL(4))
		blocked.exclude = IdsToIndexes(PG_GETARG_ARRAYTYPE_P(4), "exclude", ids, rows,
									   &blocked.n_exclude);

	if (M == NULL)
	{
		const int64 *nbr_ptr = items ? e->v.item_nbr_ptr : e->v.user_nbr_ptr;
		const int32 *nbr_idx = items ? e->v.item_nbr_idx : e->v.user_nbr_idx;
		const float *nbr_weight = items ? e->v.item_nbr_weight : e->v.user_nbr_weight;
		int			rank = 0;

		/* the stored neighbours, already best first, those the request allows */
		for (int64 p = nbr_ptr[self]; p < nbr_ptr[self + 1] && rank < n; p++)
		{
			int32		j = nbr_idx[p];

			if (j == self || (cand != NULL && !RecSortedContains(cand, n_cand, j)) ||
				RecIsBlocked(&blocked, j))
				continue;
			EmitRow(fcinfo, ids[j], nbr_weight[p], ++rank, false);
		}
		return (Datum) 0;
	}

	HeapAlloc(&heap, Min(n, rows - 1));
	if (cand != NULL)
		RecSelectCosineCandidates(&heap, M, m->factors, norms, self, cand, n_cand, &blocked);
	else
	{
		float	   *dots = items ? e->scores : MemoryContextAllocHuge(CurrentMemoryContext,
																	  sizeof(float) * rows);

		cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, m->factors, 1.0f, M, m->factors,
					M + (int64) self * m->factors, 1, 0.0f, dots, 1);
		RecSelectCosine(&heap, dots, norms, rows, self, &blocked);
	}
	EmitRows(fcinfo, &heap, ids);
	return (Datum) 0;
}

/* recsys.similar_items(m recsys.model, item_id bigint, n int, candidates, exclude) */
PG_FUNCTION_INFO_V1(similar_items);
Datum
similar_items(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, false, true);
}

/* recsys.similar_items(name text, item_id bigint, n int, candidates, exclude) */
PG_FUNCTION_INFO_V1(similar_items_by_name);
Datum
similar_items_by_name(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, true, true);
}

/* recsys.similar_users(m recsys.model, user_id bigint, n int, candidates, exclude) */
PG_FUNCTION_INFO_V1(similar_users);
Datum
similar_users(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, false, false);
}

/* recsys.similar_users(name text, user_id bigint, n int, candidates, exclude) */
PG_FUNCTION_INFO_V1(similar_users_by_name);
Datum
similar_users_by_name(PG_FUNCTION_ARGS)
{
	return Similar(fcinfo, true, false);
}

/* (item index, position in the argument, value) of one fold-in interaction */
typedef struct FoldInPair
{
	int32		item;
	int32		pos;
	float		value;
} FoldInPair;

static int
CompareFoldInPair(const void *a, const void *b)
{
	const FoldInPair *x = a;
	const FoldInPair *y = b;

	if (x->item != y->item)
		return (x->item > y->item) - (x->item < y->item);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * A history argument pair (item_ids, values) as sorted item indexes with their
 * values: items the model does not know are ignored, a repeated item keeps its
 * last value or (models whose training adds duplicates) adds its values, as the
 * training aggregates do.  values_arg < 0 means no values (every one is 1).
 * (recommend.h)
 */
RecHistory
RecHistoryArg(FunctionCallInfo fcinfo, RecModelEntry *e, int items_arg, int values_arg)
{
	const RecModelHeader *m = e->model;
	int			n_item_ids;
	const int64 *item_ids = BigintArrayValues(PG_GETARG_ARRAYTYPE_P(items_arg), "item_ids",
											  &n_item_ids);
	const float *values = NULL;
	FoldInPair *pairs;
	int32	   *items;
	float	   *vals;
	bool		add = RecAlgorithmByCode(m->algorithm)->add_duplicates;
	int64		n = 0;
	int64		used = 0;
	RecHistory	hist;

	if (values_arg >= 0 && !PG_ARGISNULL(values_arg))
	{
		ArrayType  *value_arr = PG_GETARG_ARRAYTYPE_P(values_arg);
		int			n_values;

		if (ARR_ELEMTYPE(value_arr) != FLOAT4OID)
			elog(ERROR, "values must be a real array");
		if (array_contains_nulls(value_arr))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("values must not contain NULL elements")));
		n_values = ArrayGetNItems(ARR_NDIM(value_arr), ARR_DIMS(value_arr));
		values = (const float *) ARR_DATA_PTR(value_arr);
		if (n_item_ids != n_values)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("item_ids and values must have the same length"),
					 errdetail("item_ids has %d elements, values has %d.",
							   n_item_ids, n_values)));
		for (int j = 0; j < n_values; j++)
			if (isnan(values[j]) || isinf(values[j]))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("values must be finite, element %d is %g", j + 1,
								(double) values[j])));
	}

	/* known items, grouped by item in argument order */
	pairs = palloc(sizeof(FoldInPair) * Max(n_item_ids, 1));
	for (int j = 0; j < n_item_ids; j++)
	{
		int32		i = RecFindId(e->v.item_ids, m->n_items, item_ids[j]);

		if (i < 0)
			continue;
		pairs[n].item = i;
		pairs[n].pos = j;
		pairs[n].value = values ? values[j] : 1.0f;
		n++;
	}
	qsort(pairs, n, sizeof(FoldInPair), CompareFoldInPair);
	items = palloc(sizeof(int32) * Max(n, 1));
	vals = palloc(sizeof(float) * Max(n, 1));
	for (int64 j = 0; j < n; j++)
	{
		if (used > 0 && items[used - 1] == pairs[j].item)
		{
			if (add)
				vals[used - 1] += pairs[j].value;
			else
				vals[used - 1] = pairs[j].value;
			continue;
		}
		items[used] = pairs[j].item;
		vals[used] = pairs[j].value;
		used++;
	}
	RecModelMapValues(e, vals, used);
	hist.items = items;
	hist.values = vals;
	hist.n = used;
	return hist;
}

/*
 * The user vector training would learn from a history with the item side held
 * fixed (and, for explicit models, its bias in *bias).  Raises 22003 if it would
 * overflow, 22000 if the system is singular.
 */
static Vec *
FoldInHistory(RecModelEntry *e, const RecHistory *hist, float *bias)
{
	const RecModelHeader *m = e->model;
	int			k = m->factors;
	Vec		   *result = InitVec(k);
	float	   *work = palloc(sizeof(float) * (k + 1) * (k + 2));
	int			status;

	*bias = 0.0f;
	if (m->algorithm == RECSYS_ALG_CONTENT)
	{
		RecContentProfile(&e->v, hist->items, hist->values, hist->n, result->x);
		pfree(work);
		return result;
	}
	if (RecModelImplicit(m))
		status = RecFoldInImplicit(e->v.item_factors, e->gram, k, hist->items, hist->values,
								   hist->n, &e->implicit, result->x, work);
	else
		status = RecFoldInExplicit(e->v.item_factors, k, e->v.item_bias, m->global_mean,
								   hist->items, hist->values, hist->n, e->lambda,
								   result->x, bias, work);
	if (status == RECSYS_FOLDIN_OVERFLOW)
	{
		double		largest = 0.0;

		for (int64 j = 0; j < hist->n; j++)
			largest = Max(largest, fabs((double) hist->values[j]));
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("values are too large for fold-in: the user vector would overflow type real"),
				 errdetail("The largest absolute value is %g.", largest)));
	}
	if (status != RECSYS_FOLDIN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fold-in system is not positive definite"),
				 errdetail("The model's regularization is %g.", (double) e->lambda)));
	return result;
}

/* FoldInHistory for other files (recommend.h) */
Vec *
RecFoldInHistory(RecModelEntry *e, const RecHistory *hist, float *bias)
{
	return FoldInHistory(e, hist, bias);
}

/*
 * fold_in(m, item_ids, values): the user vector training would learn from these
 * interactions with the item side held fixed.
 */
static Datum
FoldIn(FunctionCallInfo fcinfo, bool by_name)
{
	RecModelEntry *e = ModelArg(fcinfo, by_name);
	RecHistory	hist;
	float		bias;

	RecModelRequireFactors(e->model, "fold_in");
	hist = RecHistoryArg(fcinfo, e, 1, 2);
	PG_RETURN_POINTER(FoldInHistory(e, &hist, &bias));
}

/* recsys.fold_in(m recsys.model, item_ids bigint[], values real[]) returns vec */
PG_FUNCTION_INFO_V1(fold_in);
Datum
fold_in(PG_FUNCTION_ARGS)
{
	return FoldIn(fcinfo, false);
}

/* recsys.fold_in(name text, item_ids bigint[], values real[]) returns vec */
PG_FUNCTION_INFO_V1(fold_in_by_name);
Datum
fold_in_by_name(PG_FUNCTION_ARGS)
{
	return FoldIn(fcinfo, true);
}

/*
 * The score row of a history for a neighbourhood model into the entry's scratch
 * (cleared first); false for a model without stored neighbours to score from.
 */
static bool
ScoreHistory(RecModelEntry *e, const RecHistory *hist, RecTouched *t)
{
	const RecModelHeader *m = e->model;

	memset(e->scores, 0, sizeof(float) * m->n_items);
	if (e->v.feature_ptr != NULL)
	{
		RecTextScoreHistory(&e->v, hist, e->scores, t);
		return true;
	}
	if (e->v.item_nbr_ptr != NULL)
	{
		RecNeighbourRows rows = {e->v.item_nbr_ptr, e->v.item_nbr_idx, e->v.item_nbr_weight};

		RecScoreItemNeighboursTouched(&rows, hist, e->scores, t);
		return true;
	}
	if (e->v.user_nbr_ptr != NULL)
	{
		int			k = (int) Max(1, e->user_neighbours);
		int32	   *users = palloc(sizeof(int32) * k);
		float	   *sims = palloc(sizeof(float) * k);
		int			kept;
		RecNeighbourRows rows;
		int64		ptr[2];

		/* the visitor's neighbours, then the user-kNN score with them */
		kept = RecVisitorNeighbours(hist, e->item_user_ptr, e->item_users, e->item_user_values,
									e->user_value_norms, m->n_users, k, e->user_scratch,
									users, sims);
		ptr[0] = 0;
		ptr[1] = kept;
		rows.ptr = ptr;
		rows.idx = users;
		rows.weight = sims;
		RecScoreUserNeighboursTouched(&rows, 0, e->v.seen_ptr, e->v.seen_items,
									  e->v.seen_values, e->scores, t);
		return true;
	}
	return false;
}

/*
 * recommend_by_items(m, item_ids, values, n, candidates, exclude): the best n
 * items for a visitor known only by a history, the history itself excluded.
 * Factor models fold the history in and rank the vector; neighbourhood models
 * score the history directly.  An empty (or wholly unknown) history gets the
 * most popular items.
 */
static Datum
RecommendByItems(FunctionCallInfo fcinfo, bool by_name)
{
	RecModelEntry *e;
	const RecModelHeader *m;
	RecHistory	hist;
	int			n;
	int32	   *cand = NULL;
	int64		n_cand = 0;
	bool		use_cand = !PG_ARGISNULL(4);
	RecBlocked	blocked = {0};
	TopNHeap	heap;
	int			cap;
	float		diversity;
	bool		fallback = false;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		return (Datum) 0;
	n = CheckTopN(PG_GETARG_INT32(3));
	diversity = DiversityArg(fcinfo, 6);
	e = ModelArg(fcinfo, by_name);
	m = e->model;
	hist = RecHistoryArg(fcinfo, e, 1, 2);
	if (n == 0)
		return (Datum) 0;
	FilterArgs(fcinfo, e, 4, 5, &cand, &n_cand, &blocked);
	blocked.seen = hist.items;
	blocked.n_seen = hist.n;

	cap = (int) Min((int64) PoolSize(n, diversity), use_cand ? n_cand : (int64) m->n_items);
	if (cap == 0)
		return (Datum) 0;
	HeapAlloc(&heap, cap);

	fallback = RankHistory(&heap, e, &hist, NULL, 0.0f, cand, n_cand, use_cand, &blocked,
						   NULL);
	EmitList(fcinfo, e, &heap, n, diversity, fallback);
	return (Datum) 0;
}

/* recsys.recommend_by_items(m recsys.model, item_ids bigint[], values real[], ...) */
PG_FUNCTION_INFO_V1(recommend_by_items);
Datum
recommend_by_items(PG_FUNCTION_ARGS)
{
	return RecommendByItems(fcinfo, false);
}

/* recsys.recommend_by_items(name text, item_ids bigint[], values real[], ...) */
PG_FUNCTION_INFO_V1(recommend_by_items_by_name);
Datum
recommend_by_items_by_name(PG_FUNCTION_ARGS)
{
	return RecommendByItems(fcinfo, true);
}

/*
 * Runs a batch scorer over the users in rounds: each round split in chunks
 * across the threads, then handed to emit.  Memory is bounded by the round, not
 * by the number of users.
 */
static void
BatchRounds(int threads, const int32 *users, int64 n_users, int64 round, int chunk,
			RecChunkFn fn, void *ctx, const int32 **round_users, const RecBatchOut *out,
			RecBatchEmitFn emit, void *arg)
{
	RecControl	ctl = {RecCancelRequested, NULL, NULL};

	for (int64 start = 0; start < n_users; start += round)
	{
		int64		count = Min(round, n_users - start);
		int			rc;

		CHECK_FOR_INTERRUPTS();
		*round_users = users + start;
		rc = RecParallelFor(threads, count, chunk, fn, ctx, &ctl);
		if (rc == RECSYS_STUCK)
			RecReportStuck("batch scoring");
		if (rc == RECSYS_INTERRUPTED)
		{
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("batch scoring was interrupted")));
		}
		if (rc != RECSYS_OK)
			ereport(ERROR,
					(errcode(rc == RECSYS_ENOMEM ? ERRCODE_OUT_OF_MEMORY :
							 ERRCODE_INTERNAL_ERROR),
					 errmsg("batch scoring failed with solver status %d", rc)));
		emit(arg, out, start, count);
	}
}

/*
 * The neighbourhood models' side of RecBatchRun: every user's sparse score row
 * on a per-thread scratch row.
 */
static void
NeighbourBatchRun(RecModelEntry *e, const int32 *users, int64 n_users, int n,
				  const RecBatchFilter *f, int threads, RecBatchEmitFn emit, void *arg)
{
	const RecModelHeader *m = e->model;
	int64		round = Min(n_users, Max((int64) 1, (int64) BATCH_ROUND_ROWS / n));
	RecNeighbourBatch bt;
	RecBatchOut out;

	memset(&bt, 0, sizeof(bt));
	bt.n_items = m->n_items;
	bt.by_user = e->v.item_nbr_ptr == NULL;
	if (e->v.feature_ptr != NULL)
	{
		bt.text = &e->v;
		bt.text_center = RecContentCentred(&e->v);
		bt.text_scratch = palloc(sizeof(RecTextScratch) * threads);
		for (int t = 0; t < threads; t++)
			RecTextScratchAlloc(&e->v, &bt.text_scratch[t]);
	}
	else if (bt.by_user)
	{
		bt.rows.ptr = e->v.user_nbr_ptr;
		bt.rows.idx = e->v.user_nbr_idx;
		bt.rows.weight = e->v.user_nbr_weight;
	}
	else
	{
		bt.rows.ptr = e->v.item_nbr_ptr;
		bt.rows.idx = e->v.item_nbr_idx;
		bt.rows.weight = e->v.item_nbr_weight;
	}
	bt.seen_ptr = e->v.seen_ptr;
	bt.seen_items = e->v.seen_items;
	bt.seen_values = e->v.seen_values;
	bt.popular = e->popular;
	bt.item_count = e->v.item_count;
	bt.exclude_seen = f->exclude_seen;
	bt.exclude = f->exclude;
	bt.n_exclude = f->n_exclude;
	bt.cand = f->cand;
	bt.n_cand = f->n_cand;
	bt.n = n;
	bt.out_score = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * round * n);
	bt.out_item = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64_t) * round * n);
	bt.out_count = palloc(sizeof(int) * round);
	bt.out_fallback = palloc(sizeof(bool) * round);
	bt.scores = palloc(sizeof(float *) * threads);
	bt.touched = palloc(sizeof(RecTouched) * threads);
	for (int t = 0; t < threads; t++)
	{
		bt.scores[t] = MemoryContextAllocExtended(CurrentMemoryContext,
												  sizeof(float) * m->n_items,
												  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		bt.touched[t].mark = palloc0(sizeof(uint64) * (((int64) m->n_items + 63) / 64 + 1));
		bt.touched[t].items = MemoryContextAllocHuge(CurrentMemoryContext,
													 sizeof(int32) * ((int64) m->n_items + 1));
		bt.touched[t].n = 0;
	}
	out.n = n;
	out.out_score = bt.out_score;
	out.out_item = bt.out_item;
	out.out_count = bt.out_count;
	out.out_fallback = bt.out_fallback;
	BatchRounds(threads, users, n_users, round, 16, RecNeighbourBatchChunk, &bt, &bt.users,
				&out, emit, arg);
}

/*
 * recommend_all's factor rounds with the hand-over overlapped: while the
 * workers score round r into one set of output arrays, this thread hands round
 * r - 1 from the other set to emit (result building, tuplestore), a slice at a
 * time from RecParallelFor's idle hook.  An error raised by emit is caught,
 * stops the workers, and is raised again once they have returned: no
 * PostgreSQL error ever unwinds through the pool.
 */
typedef struct BatchPipe
{
	RecBatchEmitFn emit;
	void	   *arg;
	int			n;				/* results per user */
	float	   *score[2];		/* the two rounds' output arrays */
	int64_t    *item[2];
	int		   *count[2];
	bool	   *fallback[2];	/* which users got the popular items */
	int			pending;		/* the set being handed over, -1 = none */
	int64		start;			/* its first user */
	int64		rows;			/* its users */
	int64		done;			/* of which handed over */
	ErrorData  *error;			/* what emit raised, or NULL */
	MemoryContext cxt;			/* where the error is copied */
} BatchPipe;

/* users handed to emit per idle call: short, so interrupts are polled often */
#define BATCH_EMIT_SLICE	256

/* Hands one slice of the pending round to emit; true while some is left */
static bool
BatchPipeIdle(void *arg)
{
	BatchPipe  *p = (BatchPipe *) arg;
	MemoryContext old = CurrentMemoryContext;
	RecBatchOut out;
	int64		cnt;

	if (p->pending < 0 || p->error != NULL || p->done >= p->rows)
		return false;
	cnt = Min((int64) BATCH_EMIT_SLICE, p->rows - p->done);
	out.n = p->n;
	out.out_score = p->score[p->pending] + p->done * p->n;
	out.out_item = p->item[p->pending] + p->done * p->n;
	out.out_count = p->count[p->pending] + p->done;
	out.out_fallback = p->fallback[p->pending] + p->done;
	PG_TRY();
	{
		p->emit(p->arg, &out, p->start + p->done, cnt);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(p->cxt);
		p->error = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	p->done += cnt;
	return p->error == NULL && p->done < p->rows;
}

/* The pool's interrupt poll: a cancel, or an error that emit raised */
static bool
BatchPipeStop(void *arg)
{
	BatchPipe  *p = (BatchPipe *) arg;

	return p->error != NULL || RecCancelRequested(NULL);
}

/* Raises what emit raised, if anything */
static void
BatchPipeRethrow(BatchPipe *p)
{
	if (p->error != NULL)
		ReThrowError(p->error);
}

/*
 * Runs RecBatchChunk over the users in rounds of `round`, overlapping each
 * round's scoring with the hand-over of the previous one (BatchPipe).  bt's
 * output arrays are the first set; the second is allocated here.
 */
static void
BatchRoundsOverlapped(int threads, const int32 *users, int64 n_users, int64 round,
					  RecBatch *bt, RecBatchEmitFn emit, void *arg)
{
	BatchPipe	p;
	RecControl	ctl = {BatchPipeStop, NULL, NULL};
	int			cur = 0;

	memset(&p, 0, sizeof(p));
	p.emit = emit;
	p.arg = arg;
	p.n = bt->n;
	p.score[0] = bt->out_score;
	p.item[0] = bt->out_item;
	p.count[0] = bt->out_count;
	p.fallback[0] = bt->out_fallback;
	p.score[1] = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * round * bt->n);
	p.item[1] = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64_t) * round * bt->n);
	p.count[1] = palloc(sizeof(int) * round);
	p.fallback[1] = palloc(sizeof(bool) * round);
	p.pending = -1;
	p.cxt = CurrentMemoryContext;
	ctl.arg = &p;

	for (int64 start = 0; start < n_users || p.pending >= 0; start += round)
	{
		int64		count = start < n_users ? Min(round, n_users - start) : 0;
		int			rc = RECSYS_OK;

		CHECK_FOR_INTERRUPTS();
		if (count > 0)
		{
			bt->users = users + start;
			bt->out_score = p.score[cur];
			bt->out_item = p.item[cur];
			bt->out_count = p.count[cur];
			bt->out_fallback = p.fallback[cur];
			rc = RecParallelForIdle(threads, count, bt->block, RecBatchChunk, bt, &ctl,
									BatchPipeIdle, &p);
		}
		BatchPipeRethrow(&p);
		if (rc == RECSYS_STUCK)
			RecReportStuck("batch scoring");
		if (rc == RECSYS_INTERRUPTED)
		{
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("batch scoring was interrupted")));
		}
		if (rc != RECSYS_OK)
			ereport(ERROR,
					(errcode(rc == RECSYS_ENOMEM ? ERRCODE_OUT_OF_MEMORY :
							 ERRCODE_INTERNAL_ERROR),
					 errmsg("batch scoring failed with solver status %d", rc)));

		/* what the workers left of the previous round, then this one is pending */
		while (BatchPipeIdle(&p))
			CHECK_FOR_INTERRUPTS();
		BatchPipeRethrow(&p);
		if (count > 0)
		{
			p.pending = cur;
			p.start = start;
			p.rows = count;
			p.done = 0;
			cur = 1 - cur;
		}
		else
			p.pending = -1;
	}
}

/* The n best unseen items of each of n_users users (recommend.h) */
void
RecBatchRun(RecModelEntry *e, const int32 *users, int64 n_users, int n,
			RecBatchEmitFn emit, void *arg)
{
	RecBatchFilter f = {true, NULL, 0, NULL, 0};

	RecBatchRunFiltered(e, users, n_users, n, &f, emit, arg);
}

/*
 * The n best items of each of n_users users that the filter allows (recommend.h);
 * for factor models blocks of users against tiles of the item matrix with
 * SGEMM, candidates gathered into a matrix of their own first so that a list
 * of c items costs c columns, not the catalogue.
 */
void
RecBatchRunFiltered(RecModelEntry *e, const int32 *users, int64 n_users, int n,
					const RecBatchFilter *f, RecBatchEmitFn emit, void *arg)
{
	const RecModelHeader *m = e->model;
	int			threads = RecWorkThreads();
	int			block;
	int64		round;
	int32		n_rows;
	RecBatch	bt;

	if (n_users == 0 || m->n_items == 0 || n == 0 || (f->cand && f->n_cand == 0))
		return;
	n = Min(n, m->n_items);
	if (e->v.item_factors == NULL)
	{
		NeighbourBatchRun(e, users, n_users, n, f, threads, emit, arg);
		return;
	}
	/* the workers' OpenBLAS scratch, before any of them starts */
	RecReserveBlas(threads, "batch scoring");

	/*
	 * Blocks small enough that every thread gets work; rounds bounded in rows,
	 * and at least BATCH_MIN_ROUNDS of them when that leaves every thread a few
	 * blocks, so that handing a round over overlaps scoring the next one.
	 */
	block = (int) Min((int64) BATCH_BLOCK_USERS, (n_users + threads - 1) / threads);
	/* long lists: fewer users per block, so that a block's pools stay bounded */
	block = Max(1, Min(block, BATCH_POOL_ENTRIES / RecBatchPoolCap(n)));
	round = Max((int64) block, ((int64) BATCH_ROUND_ROWS / n) / block * block);
	round = Min(round, Max((int64) block * threads * 4,
						   (n_users / BATCH_MIN_ROUNDS + block - 1) / block * block));
	round = Min(round, n_users);

	memset(&bt, 0, sizeof(bt));
	bt.k = m->factors;
	bt.n_items = m->n_items;
	bt.X = e->v.user_factors;
	bt.Y = e->v.item_factors;
	bt.user_bias = e->v.user_bias;
	bt.item_bias = e->v.item_bias;
	bt.mu = m->global_mean;
	bt.seen_ptr = f->exclude_seen ? e->v.seen_ptr : NULL;
	bt.seen_items = e->v.seen_items;
	bt.popular = e->popular;
	bt.item_count = e->v.item_count;
	bt.zero_fallback = RecModelImplicit(m);
	bt.exclude = f->exclude;
	bt.n_exclude = f->n_exclude;
	if (f->cand)
	{
		/* the candidates' rows (and biases) in index order, so ties still go by id */
		float	   *Yc = MemoryContextAllocHuge(CurrentMemoryContext,
												sizeof(float) * f->n_cand * bt.k);
		float	   *bc = NULL;

		if (e->v.item_bias)
			bc = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * f->n_cand);
		for (int64 c = 0; c < f->n_cand; c++)
		{
			memcpy(Yc + c * bt.k, e->v.item_factors + (int64) f->cand[c] * bt.k,
				   sizeof(float) * bt.k);
			if (bc)
				bc[c] = e->v.item_bias[f->cand[c]];
		}
		bt.Y = Yc;
		bt.item_bias = bc;
		bt.n_items = (int32) f->n_cand;
		bt.item_of = f->cand;
		bt.n_cand = f->n_cand;
	}
	n_rows = bt.n_items;
	bt.n = n;
	bt.block = block;
	bt.tile = Min(n_rows, BATCH_TILE_ITEMS);
	bt.out_score = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * round * n);
	bt.out_item = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64_t) * round * n);
	bt.out_count = palloc(sizeof(int) * round);
	bt.out_fallback = palloc(sizeof(bool) * round);
	bt.xb = palloc(sizeof(float *) * threads);
	bt.cb = palloc(sizeof(float *) * threads);
	bt.heaps = palloc(sizeof(TopNHeap *) * threads);
	bt.bm = palloc(sizeof(float *) * threads);
	for (int t = 0; t < threads; t++)
	{
		bt.xb[t] = palloc(sizeof(float) * block * bt.k);
		bt.cb[t] = MemoryContextAllocHuge(CurrentMemoryContext,
										  sizeof(float) * block * bt.tile);
		bt.heaps[t] = palloc(sizeof(TopNHeap) * block);
		bt.bm[t] = palloc(sizeof(float) * RECSYS_BATCH_BOUNDS(bt.tile));
	}
	/* --- approximate top-N hook (ann_sql.h): each user probes the index --- */
	if (!f->cand && RecAnnUsable(e, f->ann, NULL))
	{
		RecAnnIndex ix;
		RecAnnBatch ab;
		RecBatchOut out;

		out.n = n;
		out.out_score = bt.out_score;
		out.out_item = bt.out_item;
		out.out_count = bt.out_count;
		out.out_fallback = NULL;
		RecAnnView(e->v.ann, &ix);
		ix.radius = e->ann_radius;
		ab.bt = &bt;
		ab.ix = &ix;
		ab.probes = f->ann->probes > 0 ? f->ann->probes : ix.probes;
		ab.cscore = palloc(sizeof(float *) * threads);
		ab.corder = palloc(sizeof(int32 *) * threads);
		for (int t = 0; t < threads; t++)
		{
			ab.cscore[t] = palloc(sizeof(float) * ix.lists);
			ab.corder[t] = palloc(sizeof(int32) * ix.lists);
		}
		BatchRounds(threads, users, n_users, round, block, RecAnnBatchChunk, &ab, &bt.users,
					&out, emit, arg);
		return;
	}

	/* few users: each one ranked by the single-user scan, as recommend does */
	if (n_users < BATCH_SCAN_USERS)
	{
		bt.scan = true;
		BatchRoundsOverlapped(threads, users, n_users, round, &bt, emit, arg);
		return;
	}

	/*
	 * Tiles in bound order (a sorted copy of the item rows), so that each user
	 * skips the SGEMM of the tiles that cannot reach its n-th best, and the
	 * scores come out as recommend computes them (serving.h)
	 */
	RecBatchSort(&bt, MemoryContextAllocHuge(CurrentMemoryContext,
											 RecBatchSortBytes(bt.n_items, bt.k, bt.tile)),
				 users, n_users);
	bt.pcap = RecBatchPoolCap(n);
	bt.scratch = palloc(sizeof(void *) * threads);
	for (int t = 0; t < threads; t++)
		bt.scratch[t] = MemoryContextAllocHuge(CurrentMemoryContext,
											   RecBatchScratchBytes(block, bt.k, bt.pcap));
	BatchRoundsOverlapped(threads, users, n_users, round, &bt, emit, arg);
}

/* Where recommend_all's rounds go: the SRF's tuplestore */
typedef struct RecommendAllSink
{
	ReturnSetInfo *rsinfo;
	RecModelEntry *e;
	const int64 *user_ids;		/* output ids, ascending */
	const int32 *users;			/* their indexes, -1 = unknown */
	int			n;				/* rows per user (the batch keeps the pool) */
	float		diversity;
	int32	   *order;			/* [pool] scratch for the re-ranked order */
	MemoryContext scratch;		/* re-ranking's, reset per user */
} RecommendAllSink;

/*
 * Writes one round of recommend_all as (user_id, rank, item_id, score,
 * fallback) rows, each user's pool re-ranked first when diversity asks for it
 */
static void
RecommendAllEmit(void *arg, const RecBatchOut *bt, int64 start, int64 count)
{
	RecommendAllSink *sink = (RecommendAllSink *) arg;

	for (int64 r = 0; r < count; r++)
	{
		const float *score = bt->out_score + r * bt->n;
		const int64 *item = bt->out_item + r * bt->n;
		bool		fallback = bt->out_fallback ? bt->out_fallback[r] :
			sink->users[start + r] < 0;
		int			kept;
		MemoryContext old = MemoryContextSwitchTo(sink->scratch);

		kept = DiversifyOrder(sink->e, score, item, bt->out_count[r], sink->n,
							  sink->diversity, sink->order);
		MemoryContextSwitchTo(old);
		for (int j = 0; j < kept; j++)
		{
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};

			values[0] = Int64GetDatum(sink->user_ids[start + r]);
			values[1] = Int32GetDatum(j + 1);
			values[2] = Int64GetDatum(sink->e->v.item_ids[item[sink->order[j]]]);
			values[3] = Float4GetDatum(score[sink->order[j]]);
			values[4] = BoolGetDatum(fallback);
			tuplestore_putvalues(sink->rsinfo->setResult, sink->rsinfo->setDesc,
								 values, nulls);
		}
		MemoryContextReset(sink->scratch);
	}
}

/*
 * recommend_all(m, n, users, exclude_seen, candidates, exclude, diversity): the
 * best n items of every user (or of the listed users, unknown ones getting the
 * popular items, marked as a fallback), in user id order, with one set of
 * filters for every user; with diversity each user's pool is re-ranked by MMR.
 */
static Datum
RecommendAll(FunctionCallInfo fcinfo, bool by_name)
{
	RecModelEntry *e;
	const RecModelHeader *m;
	int			n;
	int64	   *user_ids;		/* output ids, ascending */
	int32	   *users;			/* their indexes, -1 = unknown */
	int64		n_users;
	RecommendAllSink sink;

	RecBatchFilter filter = {true, NULL, 0, NULL, 0};
	RecBlocked	blocked = {0};
	int32	   *cand;
	float		diversity;
	int			pool;
	RecAnnRequest ann;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
		return (Datum) 0;
	n = CheckTopN(PG_GETARG_INT32(1));
	diversity = DiversityArg(fcinfo, 6);
	ann = RecAnnRequestArgs(fcinfo, 7, 8);
	filter.ann = &ann;
	pool = PoolSize(n, diversity);
	e = ModelArg(fcinfo, by_name);
	m = e->model;
	if (n == 0)
		return (Datum) 0;
	filter.exclude_seen = PG_GETARG_BOOL(3);
	FilterArgs(fcinfo, e, 4, 5, &cand, &filter.n_cand, &blocked);
	filter.cand = cand;
	filter.exclude = blocked.exclude;
	filter.n_exclude = blocked.n_exclude;

	if (PG_ARGISNULL(2))
	{
		n_users = m->n_users;
		user_ids = (int64 *) e->v.user_ids;
		users = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(n_users, 1));
		for (int32 u = 0; u < n_users; u++)
			users[u] = u;
	}
	else
	{
		int			count;
		const int64 *vals = BigintArrayValues(PG_GETARG_ARRAYTYPE_P(2), "users", &count);

		user_ids = palloc(sizeof(int64) * Max(count, 1));
		memcpy(user_ids, vals, sizeof(int64) * count);
		qsort(user_ids, count, sizeof(int64), RecCompareInt64);
		n_users = 0;
		for (int j = 0; j < count; j++)
			if (n_users == 0 || user_ids[n_users - 1] != user_ids[j])
				user_ids[n_users++] = user_ids[j];
		users = palloc(sizeof(int32) * Max(n_users, 1));
		for (int64 j = 0; j < n_users; j++)
			users[j] = RecFindId(e->v.user_ids, m->n_users, user_ids[j]);
	}

	sink.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	sink.e = e;
	sink.user_ids = user_ids;
	sink.users = users;
	sink.n = n;
	sink.diversity = diversity;
	sink.order = palloc(sizeof(int32) * pool);
	sink.scratch = AllocSetContextCreate(CurrentMemoryContext, "recommend_all diversity",
										 ALLOCSET_DEFAULT_SIZES);
	RecBatchRunFiltered(e, users, n_users, pool, &filter, RecommendAllEmit, &sink);
	MemoryContextDelete(sink.scratch);
	return (Datum) 0;
}

/* recsys.recommend_all(m recsys.model, n int, users bigint[], exclude_seen, candidates, exclude) */
PG_FUNCTION_INFO_V1(recommend_all);
Datum
recommend_all(PG_FUNCTION_ARGS)
{
	return RecommendAll(fcinfo, false);
}

/* recsys.recommend_all(name text, n int, users bigint[], exclude_seen, candidates, exclude) */
PG_FUNCTION_INFO_V1(recommend_all_by_name);
Datum
recommend_all_by_name(PG_FUNCTION_ARGS)
{
	return RecommendAll(fcinfo, true);
}

/* recommend_all's row estimate per requested row when the users are not known */
#define SUPPORT_DEFAULT_USERS	1000

/* The value of argument argno of a planner call if it is a non-NULL constant */
static Const *
ConstArg(List *args, int argno)
{
	Node	   *arg;

	if (list_length(args) <= argno)
		return NULL;
	arg = (Node *) list_nth(args, argno);
	if (!IsA(arg, Const) || ((Const *) arg)->constisnull)
		return NULL;
	return (Const *) arg;
}

/*
 * recsys.serving_support(internal): the planner support function of the
 * serving set-returning functions.  Answers SupportRequestRows from a constant
 * n: n rows (recommend, recommend_by_vector, recommend_by_items, similar_*),
 * n per listed user for recommend_all with a constant users array and n times
 * a default number of users otherwise.  Anything else keeps the declared ROWS.
 */
PG_FUNCTION_INFO_V1(serving_support);
Datum
serving_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestRows *req;
	List	   *args;
	char	   *name;
	int			n_arg;
	Const	   *n;
	double		rows;

	if (!IsA(rawreq, SupportRequestRows))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestRows *) rawreq;
	if (req->node == NULL || !IsA(req->node, FuncExpr))
		PG_RETURN_POINTER(NULL);
	args = ((FuncExpr *) req->node)->args;
	name = get_func_name(req->funcid);
	if (name == NULL)
		PG_RETURN_POINTER(NULL);

	/* where n is: the arguments are positional and complete by now */
	if (strcmp(name, "recommend_all") == 0)
		n_arg = 1;
	else if (strcmp(name, "recommend_by_items") == 0)
		n_arg = 3;
	else if (strcmp(name, "recommend") == 0 || strcmp(name, "recommend_by_vector") == 0 ||
			 strcmp(name, "similar_items") == 0 || strcmp(name, "similar_users") == 0)
		n_arg = 2;
	else if (strcmp(name, "explain") == 0)
		n_arg = 3;
	else if (strcmp(name, "explain_by_items") == 0)
		n_arg = 4;
	else
		PG_RETURN_POINTER(NULL);
	if ((n = ConstArg(args, n_arg)) == NULL || n->consttype != INT4OID)
		PG_RETURN_POINTER(NULL);
	rows = Max(DatumGetInt32(n->constvalue), 0);

	if (n_arg == 1)
	{
		Const	   *users = ConstArg(args, 2);

		if (users != NULL)
		{
			ArrayType  *a = DatumGetArrayTypeP(users->constvalue);

			rows *= ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
		}
		else
			rows *= SUPPORT_DEFAULT_USERS;
	}
	req->rows = rows;
	PG_RETURN_POINTER(req);
}
