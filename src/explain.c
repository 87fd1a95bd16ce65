/*
 * explain.c
 *		recsys.explain and recsys.explain_by_items: which of a user's items made
 *		an item's score, as terms that sum to it, for every model kind.
 *
 * SQL-facing only: the history comes from the model's seen interactions and
 * their values (a known user) or the arguments (a visitor, through recommend.c), the terms
 * from the plain-C scorers that own each kind's score (scoring.c for the
 * neighbourhood models, serving.c's fold-in for the factor models).  What the
 * terms mean for each kind is in the README's serving chapter.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"

#include "algorithms.h"
#include "blas.h"
#include "cache.h"
#include "content.h"
#include "modelio.h"
#include "recommend.h"
#include "recsys.h"
#include "scoring.h"
#include "serving.h"
#include "kernels.h"

/*
 * The terms of item i's score over hist into terms (hist->n floats); *baseline
 * receives the part no history item carries (mu + b_i of a biased factor
 * model, else 0).  u is the user's index for a known user, -1 for a visitor.
 */
static void
ScoreTerms(RecModelEntry *e, int32 u, const RecHistory *hist, int32 i, float *terms,
		   float *baseline)
{
	const RecModelHeader *m = e->model;

	*baseline = 0.0f;
	if (m->algorithm == RECSYS_ALG_CONTENT)
		RecContentTerms(&e->v, hist->items, hist->values, hist->n, i, terms);
	else if (e->v.feature_ptr != NULL)
		RecTextTermsHistory(&e->v, hist, i, terms);
	else if (e->v.item_factors != NULL)
	{
		int			k = m->factors;
		float	   *work = palloc(sizeof(float) * (k + 1) * (k + 2));
		int			status;

		if (RecModelImplicit(m))
			status = RecFoldInTermsImplicit(e->v.item_factors, e->gram, k, hist->items,
											hist->values, hist->n, &e->implicit, i,
											terms, work);
		else
			status = RecFoldInTermsExplicit(e->v.item_factors, k, e->v.item_bias,
											m->global_mean, hist->items, hist->values,
											hist->n, e->lambda, i, terms, work);
		if (status == RECSYS_FOLDIN_OVERFLOW)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("values are too large to explain: the terms overflow type real")));
		if (status != RECSYS_FOLDIN_OK)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("fold-in system is not positive definite"),
					 errdetail("The model's regularization is %g.", (double) e->lambda)));
		*baseline = m->global_mean + (e->v.item_bias ? e->v.item_bias[i] : 0.0f);
	}
	else if (e->v.item_nbr_ptr != NULL)
	{
		RecNeighbourRows rows = {e->v.item_nbr_ptr, e->v.item_nbr_idx, e->v.item_nbr_weight};

		RecTermsItemNeighbours(&rows, hist, i, terms);
	}
	else if (e->v.user_nbr_ptr != NULL && u >= 0)
	{
		int64		p = e->v.user_nbr_ptr[u];

		RecTermsUserNeighbours(hist, e->v.user_nbr_idx + p, e->v.user_nbr_weight + p,
							   e->v.user_nbr_ptr[u + 1] - p, i, e->v.seen_ptr,
							   e->v.seen_items, e->v.seen_values, terms);
	}
	else if (e->v.user_nbr_ptr != NULL)
	{
		/* a visitor: the neighbours recommend_by_items finds for the history */
		int			k = (int) Max(1, e->user_neighbours);
		int32	   *users = palloc(sizeof(int32) * k);
		float	   *sims = palloc(sizeof(float) * k);
		int			kept;

		kept = RecVisitorNeighbours(hist, e->item_user_ptr, e->item_users,
									e->item_user_values, e->user_value_norms, m->n_users,
									k, e->user_scratch, users, sims);
		RecTermsUserNeighbours(hist, users, sims, kept, i, e->v.seen_ptr, e->v.seen_items,
							   e->v.seen_values, terms);
	}
	else
		elog(ERROR, "model has neither factors nor neighbours");
}

/*
 * explain(m, user_id, item_id, n) and explain_by_items(m, item_ids, values,
 * item_id, n): the n history items with the largest terms of the item's score,
 * best first (ties by item id), terms of exactly 0 left out; then, for a
 * factor model whose score has a baseline (mu + b_i), one row with a NULL
 * item_id and rank carrying it.  An unknown user or item, or an empty history,
 * returns no rows.
 */
static Datum
Explain(FunctionCallInfo fcinfo, bool by_name, bool by_items)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			item_arg = by_items ? 3 : 2;
	int			n_arg = item_arg + 1;
	RecModelEntry *e;
	const RecModelHeader *m;
	RecHistory	hist;
	int32		u = -1;
	int32		i;
	int			n;
	float	   *terms;
	float		baseline;
	TopNHeap	heap;
	int			rows;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(item_arg) || PG_ARGISNULL(n_arg))
		return (Datum) 0;
	n = PG_GETARG_INT32(n_arg);
	if (n < 0 || n > RECSYS_MAX_TOPN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be between 0 and %d, got %d", RECSYS_MAX_TOPN, n)));

	/* the model, with this thread's OpenBLAS scratch mapped for the solve */
	RecReserveBlas(1, "explain");
	e = by_name ? RecModelGetByName(PG_GETARG_TEXT_PP(0)) : RecModelGet(PG_GETARG_DATUM(0));
	m = e->model;
	i = RecFindId(e->v.item_ids, m->n_items, PG_GETARG_INT64(item_arg));

	if (by_items)
		hist = RecHistoryArg(fcinfo, e, 1, 2);
	else
	{
		/*
		 * The terms need the values of the user's interactions: a model trained
		 * with "keep_interactions": false has none, and factor models trained
		 * before 0.2.0 kept which items a user had but not the values.
		 */
		if (e->v.seen_ptr == NULL || e->v.seen_values == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("this %s model does not store the values of its training interactions",
							RecAlgorithmByCode(m->algorithm)->name),
					 errhint("Retrain it with \"keep_interactions\": true, or pass the user's interactions to explain_by_items(m, item_ids, values, item_id).")));
		u = RecFindId(e->v.user_ids, m->n_users, PG_GETARG_INT64(1));
		hist.n = 0;
		if (u >= 0)
		{
			hist.items = e->v.seen_items + e->v.seen_ptr[u];
			hist.values = e->v.seen_values + e->v.seen_ptr[u];
			hist.n = e->v.seen_ptr[u + 1] - e->v.seen_ptr[u];
		}
	}
	if (n == 0 || i < 0 || hist.n == 0)
		return (Datum) 0;

	terms = palloc(sizeof(float) * hist.n);
	ScoreTerms(e, u, &hist, i, terms, &baseline);

	/* the largest terms, ties by item index (= by id) */
	TopNInit(&heap, (int) Min((int64) n, hist.n), palloc(sizeof(float) * Min(n, hist.n)),
			 palloc(sizeof(int64_t) * Min(n, hist.n)));
	for (int64 t = 0; t < hist.n; t++)
		if (terms[t] != 0.0f && TopNWouldEnter(&heap, terms[t], hist.items[t]))
			TopNPush(&heap, terms[t], hist.items[t]);
	rows = TopNSortDesc(&heap);
	for (int r = 0; r < rows; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int64GetDatum(e->v.item_ids[heap.id[r]]);
		values[1] = Float4GetDatum(heap.score[r]);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (baseline != 0.0f)
	{
		Datum		values[3] = {0, Float4GetDatum(baseline), 0};
		bool		nulls[3] = {true, false, true};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* recsys.explain(m recsys.model, user_id bigint, item_id bigint, n int) */
PG_FUNCTION_INFO_V1(explain);
Datum
explain(PG_FUNCTION_ARGS)
{
	return Explain(fcinfo, false, false);
}

/* recsys.explain(name text, user_id bigint, item_id bigint, n int) */
PG_FUNCTION_INFO_V1(explain_by_name);
Datum
explain_by_name(PG_FUNCTION_ARGS)
{
	return Explain(fcinfo, true, false);
}

/* recsys.explain_by_items(m recsys.model, item_ids bigint[], values real[], item_id bigint, n int) */
PG_FUNCTION_INFO_V1(explain_by_items);
Datum
explain_by_items(PG_FUNCTION_ARGS)
{
	return Explain(fcinfo, false, true);
}

/* recsys.explain_by_items(name text, item_ids bigint[], values real[], item_id bigint, n int) */
PG_FUNCTION_INFO_V1(explain_by_items_by_name);
Datum
explain_by_items_by_name(PG_FUNCTION_ARGS)
{
	return Explain(fcinfo, true, true);
}
