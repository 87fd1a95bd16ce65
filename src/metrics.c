/*
 * metrics.c
 *		Evaluation metrics: the rating-error aggregates recsys.rmse and recsys.mae, and
 *		the per-user ranking metrics precision, recall, nDCG, average precision and
 *		hit rate at k.
 *
 * The ranking metrics share one reading of their arguments: the ranked list is the
 * first k distinct non-NULL elements of `recommended` (a repeated item counts at its
 * first position only), and the relevant set is the distinct non-NULL elements of
 * `relevant`.  With nothing relevant every ranking metric is NULL, so that avg() over
 * users leaves such users out.  The formulas are in README (evaluation).
 *
 * The formulas themselves are plain C (metrics.h), shared with recsys.evaluate.
 * This file does not produce recommendations or read models (evaluate.c does).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "metrics.h"
#include "kernels.h"

PG_FUNCTION_INFO_V1(rmse_accum);
PG_FUNCTION_INFO_V1(mae_accum);
PG_FUNCTION_INFO_V1(error_combine);
PG_FUNCTION_INFO_V1(rmse_final);
PG_FUNCTION_INFO_V1(mae_final);
PG_FUNCTION_INFO_V1(precision_at_k);
PG_FUNCTION_INFO_V1(recall_at_k);
PG_FUNCTION_INFO_V1(ndcg_at_k);
PG_FUNCTION_INFO_V1(average_precision_at_k);
PG_FUNCTION_INFO_V1(hit_rate_at_k);

/* An element of `recommended` and where it stood */
typedef struct PositionedItem
{
	int64		item;
	int32		position;
} PositionedItem;

/* Adds x to sum with Neumaier's compensation (a non-finite sum stays as it is) */
static inline void
NeumaierAdd(double *sum, double *comp, double x)
{
	double		t = *sum + x;

	if (isinf(t) || isnan(t))
	{
		*sum = t;
		return;
	}
	if (fabs(*sum) >= fabs(x))
		*comp += (*sum - t) + x;
	else
		*comp += (x - t) + *sum;
	*sum = t;
}

void
RecErrorAccum(double *state, double term)
{
	state[REC_ERROR_STATE_N] += 1.0;
	NeumaierAdd(&state[REC_ERROR_STATE_SUM], &state[REC_ERROR_STATE_COMP], term);
}

void
RecErrorCombine(double *state, const double *other)
{
	state[REC_ERROR_STATE_N] += other[REC_ERROR_STATE_N];
	NeumaierAdd(&state[REC_ERROR_STATE_SUM], &state[REC_ERROR_STATE_COMP],
				other[REC_ERROR_STATE_SUM]);
	state[REC_ERROR_STATE_COMP] += other[REC_ERROR_STATE_COMP];
}

bool
RecErrorMean(const double *state, double *mean)
{
	double		sum = state[REC_ERROR_STATE_SUM];

	if (state[REC_ERROR_STATE_N] <= 0.0)
		return false;
	if (!isinf(sum) && !isnan(sum))
		sum += state[REC_ERROR_STATE_COMP];
	*mean = sum / state[REC_ERROR_STATE_N];
	return true;
}

/* The float8[3] error state of an aggregate, checked */
static double *
ErrorState(ArrayType *state)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] != REC_ERROR_STATE_LEN ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("error aggregate state must be a float8 array of %d elements without NULLs",
						REC_ERROR_STATE_LEN)));
	return (double *) ARR_DATA_PTR(state);
}

/*
 * The state to update: the argument itself inside an aggregate (it belongs to the
 * aggregate), a copy otherwise.
 */
static ArrayType *
WritableErrorState(FunctionCallInfo fcinfo, int argno)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return PG_GETARG_ARRAYTYPE_P(argno);
	return PG_GETARG_ARRAYTYPE_P_COPY(argno);
}

/*
 * Adds one pair's error term to an aggregate's state.  A NaN or infinite input
 * gives a NaN or infinite result, as avg() does; finite inputs whose error term
 * or running sum overflows float8 raise 22003 naming the pair instead.
 */
static void
AccumPair(double *st, const char *what, double predicted, double actual, double term)
{
	double		before = st[REC_ERROR_STATE_SUM];

	if (isfinite(predicted) && isfinite(actual) && !isfinite(term))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the %s of predicted %g and actual %g is out of range for type double precision",
						what, predicted, actual)));
	RecErrorAccum(st, term);
	if (isfinite(term) && isfinite(before) && !isfinite(st[REC_ERROR_STATE_SUM]))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the sum of %ss is out of range for type double precision", what),
				 errdetail("It overflowed when adding the pair predicted %g, actual %g.",
						   predicted, actual)));
}

/* Transition of recsys.rmse: one more squared error */
Datum
rmse_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = WritableErrorState(fcinfo, 0);
	double		p = PG_GETARG_FLOAT8(1);
	double		a = PG_GETARG_FLOAT8(2);
	double		e = p - a;

	AccumPair(ErrorState(state), "squared error", p, a, e * e);
	PG_RETURN_ARRAYTYPE_P(state);
}

/* Transition of recsys.mae: one more absolute error */
Datum
mae_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = WritableErrorState(fcinfo, 0);
	double		p = PG_GETARG_FLOAT8(1);
	double		a = PG_GETARG_FLOAT8(2);

	AccumPair(ErrorState(state), "absolute error", p, a, fabs(p - a));
	PG_RETURN_ARRAYTYPE_P(state);
}

/* Combine function of both error aggregates: counts and compensated sums add up */
Datum
error_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state = WritableErrorState(fcinfo, 0);
	double	   *st = ErrorState(state);
	const double *other = ErrorState(PG_GETARG_ARRAYTYPE_P(1));
	bool		finite = isfinite(st[REC_ERROR_STATE_SUM]) &&
		isfinite(other[REC_ERROR_STATE_SUM]);

	RecErrorCombine(st, other);
	if (finite && !isfinite(st[REC_ERROR_STATE_SUM]))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the sum of errors is out of range for type double precision")));
	PG_RETURN_ARRAYTYPE_P(state);
}

/* Final function of recsys.rmse: sqrt(sum (p - a)^2 / n), NULL without pairs */
Datum
rmse_final(PG_FUNCTION_ARGS)
{
	double		mean;

	if (!RecErrorMean(ErrorState(PG_GETARG_ARRAYTYPE_P(0)), &mean))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(sqrt(mean));
}

/* Final function of recsys.mae: sum |p - a| / n, NULL without pairs */
Datum
mae_final(PG_FUNCTION_ARGS)
{
	double		mean;

	if (!RecErrorMean(ErrorState(PG_GETARG_ARRAYTYPE_P(0)), &mean))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(mean);
}

/* qsort comparator: by item, then by position */
static int
ComparePositionedItem(const void *a, const void *b)
{
	const PositionedItem *x = a;
	const PositionedItem *y = b;

	if (x->item != y->item)
		return (x->item > y->item) - (x->item < y->item);
	return (x->position > y->position) - (x->position < y->position);
}

/* The non-NULL elements of a one-dimensional bigint[] argument */
static int64 *
ItemArray(ArrayType *arr, const char *argname, int *n_out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int64	   *items;
	int			m = 0;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be a one-dimensional array, got %d dimensions",
						argname, ARR_NDIM(arr))));
	deconstruct_array(arr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	items = palloc(sizeof(int64) * Max(n, 1));
	for (int j = 0; j < n; j++)
		if (!nulls[j])
			items[m++] = DatumGetInt64(elems[j]);
	*n_out = m;
	return items;
}

/*
 * Reads (recommended, relevant, k) into rh; false when nothing is relevant (every
 * ranking metric is then NULL).  k <= 0 raises 22023.
 */
static bool
ReadRanking(FunctionCallInfo fcinfo, RecRankedHits *rh)
{
	int32		k = PG_GETARG_INT32(2);
	int			n_rec;
	int			n_rel;
	int64	   *rec;
	int64	   *rel;
	int64		n_distinct = 0;
	PositionedItem *byitem;
	bool	   *first;
	bool	   *hit;

	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"k\" must be at least 1, got %d", k)));
	rec = ItemArray(PG_GETARG_ARRAYTYPE_P(0), "recommended", &n_rec);
	rel = ItemArray(PG_GETARG_ARRAYTYPE_P(1), "relevant", &n_rel);

	/* the relevant set: sorted, duplicates dropped */
	qsort(rel, n_rel, sizeof(int64), RecCompareInt64);
	for (int j = 0; j < n_rel; j++)
		if (j == 0 || rel[j] != rel[j - 1])
			rel[n_distinct++] = rel[j];
	rh->k = k;
	rh->n_relevant = n_distinct;
	if (n_distinct == 0)
		return false;

	/* keep the first occurrence of each recommended item */
	byitem = palloc_extended(sizeof(PositionedItem) * Max(n_rec, 1), MCXT_ALLOC_HUGE);
	first = palloc0(sizeof(bool) * Max(n_rec, 1));
	for (int j = 0; j < n_rec; j++)
	{
		byitem[j].item = rec[j];
		byitem[j].position = j;
	}
	qsort(byitem, n_rec, sizeof(PositionedItem), ComparePositionedItem);
	for (int j = 0; j < n_rec; j++)
		if (j == 0 || byitem[j].item != byitem[j - 1].item)
			first[byitem[j].position] = true;

	/* the top k of those, in order, each looked up in the relevant set */
	hit = palloc(sizeof(bool) * Min(Max(n_rec, 1), k));
	rh->n_ranked = 0;
	rh->n_hits = 0;
	for (int j = 0; j < n_rec && rh->n_ranked < k; j++)
	{
		bool		is_hit;

		if (!first[j])
			continue;
		is_hit = bsearch(&rec[j], rel, n_distinct, sizeof(int64), RecCompareInt64) != NULL;
		hit[rh->n_ranked++] = is_hit;
		rh->n_hits += is_hit ? 1 : 0;
	}
	rh->hit = hit;
	return true;
}

/* The SQL side of one ranking metric: NULL without relevant items, else formula */
static Datum
RankingMetric(FunctionCallInfo fcinfo, double (*formula) (const RecRankedHits *))
{
	RecRankedHits rh;

	if (!ReadRanking(fcinfo, &rh))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(formula(&rh));
}

/* The ideal DCG of min(k, |relevant|) hits at the first positions */
static double
IdealDcg(const RecRankedHits *rh)
{
	double		ideal = 0.0;
	int64		n_ideal = Min((int64) rh->k, rh->n_relevant);

	for (int64 j = 0; j < n_ideal; j++)
		ideal += 1.0 / log2(j + 2.0);
	return ideal;
}

double
RecPrecisionAtK(const RecRankedHits *rh)
{
	return (double) rh->n_hits / rh->k;
}

double
RecRecallAtK(const RecRankedHits *rh)
{
	return (double) rh->n_hits / (double) rh->n_relevant;
}

/*
 * DCG = sum over hits at 1-based position p of 1 / log2(p + 1); the ideal puts
 * min(k, |relevant|) hits first.
 */
double
RecNdcgAtK(const RecRankedHits *rh)
{
	double		dcg = 0.0;

	for (int32 j = 0; j < rh->n_ranked; j++)
		if (rh->hit[j])
			dcg += 1.0 / log2(j + 2.0);
	return dcg / IdealDcg(rh);
}

double
RecAveragePrecisionAtK(const RecRankedHits *rh)
{
	double		sum = 0.0;
	int32		hits = 0;

	for (int32 j = 0; j < rh->n_ranked; j++)
		if (rh->hit[j])
			sum += (double) ++hits / (j + 1);
	return sum / (double) Min((int64) rh->k, rh->n_relevant);
}

double
RecHitRateAtK(const RecRankedHits *rh)
{
	return rh->n_hits > 0 ? 1.0 : 0.0;
}

double
RecIpsPrecisionAtK(const RecRankedHits *rh, const double *w)
{
	double		sum = 0.0;

	for (int32 j = 0; j < rh->n_ranked; j++)
		if (rh->hit[j])
			sum += w[j];
	return sum / rh->k;
}

double
RecIpsRecallAtK(const RecRankedHits *rh, const double *w)
{
	double		sum = 0.0;

	for (int32 j = 0; j < rh->n_ranked; j++)
		if (rh->hit[j])
			sum += w[j];
	return sum / (double) rh->n_relevant;
}

double
RecIpsNdcgAtK(const RecRankedHits *rh, const double *w)
{
	double		dcg = 0.0;

	for (int32 j = 0; j < rh->n_ranked; j++)
		if (rh->hit[j])
			dcg += w[j] / log2(j + 2.0);
	return dcg / IdealDcg(rh);
}

/* qsort comparator of int64 counts, ascending */
static int
CompareCount(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

bool
RecGini(int64_t *x, int64_t n, double *gini)
{
	double		total = 0.0;
	double		weighted = 0.0;

	qsort(x, n, sizeof(int64_t), CompareCount);
	for (int64 i = 0; i < n; i++)
	{
		total += (double) x[i];
		/* 1-based rank i + 1: weight 2 (i + 1) - n - 1 */
		weighted += (2.0 * (double) (i + 1) - (double) n - 1.0) * (double) x[i];
	}
	if (total <= 0.0)
		return false;
	*gini = weighted / ((double) n * total);
	return true;
}

/* recsys.precision_at_k: hits in the top k / k (missing positions count as misses) */
Datum
precision_at_k(PG_FUNCTION_ARGS)
{
	return RankingMetric(fcinfo, RecPrecisionAtK);
}

/* recsys.recall_at_k: hits in the top k / |relevant| */
Datum
recall_at_k(PG_FUNCTION_ARGS)
{
	return RankingMetric(fcinfo, RecRecallAtK);
}

/* recsys.ndcg_at_k: normalised discounted cumulative gain, binary relevance */
Datum
ndcg_at_k(PG_FUNCTION_ARGS)
{
	return RankingMetric(fcinfo, RecNdcgAtK);
}

/* recsys.average_precision_at_k: its avg() over users is MAP@k */
Datum
average_precision_at_k(PG_FUNCTION_ARGS)
{
	return RankingMetric(fcinfo, RecAveragePrecisionAtK);
}

/* recsys.hit_rate_at_k: 1 if any of the top k is relevant, else 0 */
Datum
hit_rate_at_k(PG_FUNCTION_ARGS)
{
	return RankingMetric(fcinfo, RecHitRateAtK);
}
