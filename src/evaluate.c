/*
 * evaluate.c
 *		recsys.evaluate: measures a model on held-out interactions in one call.
 *
 * It runs the caller's test query (user, item [, value]), predicts every test
 * rating for rmse and mae (explicit models), recommends the top k for every test
 * user the model knows through the batched SGEMM path of recommend_all, and
 * scores those lists against each user's relevant test items with the same
 * formulas as the SQL metric functions (metrics.h).  The result is one jsonb
 * object.  This file owns only the orchestration: scoring is recommend.c and
 * serving.c, the formulas metrics.c, predictions model.c.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "cache.h"
#include "evaluate.h"
#include "metrics.h"
#include "modeltype.h"
#include "options.h"
#include "recommend.h"
#include "recsys.h"
#include "registry.h"

/* Options of recsys.evaluate */
typedef struct EvalOptions
{
	bool		has_threshold;	/* relevance_threshold given */
	double		threshold;		/* test value >= this is relevant */
} EvalOptions;

/* One test interaction; value is NaN where the query gave NULL or had no column */
typedef struct TestRow
{
	int64		user;
	int64		item;
	float		value;
} TestRow;

/* The rows of the test query with non-NULL user and item */
typedef struct TestSet
{
	TestRow    *rows;
	int64		n;				/* rows kept */
	int64		cap;			/* rows allocated */
	int64		returned;		/* rows the query returned */
	bool		has_value;		/* the query has a third column */
} TestSet;

/* The five ranking metrics in the order they are summed and reported */
#define EVAL_N_METRICS	5
static const char *const MetricNames[EVAL_N_METRICS] = {
	"precision", "recall", "ndcg", "map", "hit_rate"
};
static double (*const MetricFormulas[EVAL_N_METRICS]) (const RecRankedHits *) = {
	RecPrecisionAtK, RecRecallAtK, RecNdcgAtK, RecAveragePrecisionAtK, RecHitRateAtK
};

/*
 * What the ranking pass accumulates: per evaluated user (in RecBatchRun's
 * order) its relevant items, and over all users the metric sums and the items
 * recommended at least once.  Relevant items the model does not know count in
 * n_relevant but can never be hit, so only the known ones are listed.
 */
typedef struct EvalRanking
{
	int32		k;				/* the cut-off asked for */
	const int64 *n_relevant;	/* [users] distinct relevant items, known or not */
	const int64 *rel_ptr;		/* [users + 1] offsets into rel_items */
	const int32 *rel_items;		/* each user's known relevant item indexes, sorted */
	bool	   *hit;			/* [k] scratch */
	bool	   *covered;		/* [n_items] recommended to someone */
	double		sums[EVAL_N_METRICS];
} EvalRanking;

/* Reads the options object; unknown keys and bad values raise 22023 */
static void
ParseEvalOptions(Jsonb *jb, EvalOptions *o)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	o->has_threshold = false;
	o->threshold = 4.0;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of evaluate must be a JSON object")));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		double		d;

		if (tok != WJB_KEY)
			continue;
		if (v.val.string.len != strlen("relevance_threshold") ||
			memcmp(v.val.string.val, "relevance_threshold", v.val.string.len) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for evaluate",
							RecEchoInput(v.val.string.val, v.val.string.len)),
					 errhint("evaluate accepts relevance_threshold.")));
		tok = JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"relevance_threshold\" must be a number")));
		/* a number beyond float8 becomes infinity here and is refused below */
		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											   NumericGetDatum(v.val.numeric)));
		if (isnan(d) || isinf(d))
		{
			char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																NumericGetDatum(v.val.numeric)));

			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"relevance_threshold\" must be a finite float8, got %s",
							RecEchoInput(s, strlen(s)))));
		}
		o->has_threshold = true;
		o->threshold = d;
	}
}

/* Row callback of the test query: keeps rows with a user and an item */
static void
TestSetRow(void *arg, const RecSourceRow *row)
{
	TestSet    *ts = (TestSet *) arg;
	TestRow    *t;

	ts->returned++;
	if (row->user_null || row->item_null)
		return;
	if (!row->value_null && (isnan(row->value) || isinf(row->value)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("test value must be finite, got %g for user " INT64_FORMAT " and item " INT64_FORMAT,
						(double) row->value, row->user, row->item)));
	if (ts->n == ts->cap)
	{
		ts->cap *= 2;
		ts->rows = repalloc_huge(ts->rows, sizeof(TestRow) * ts->cap);
	}
	t = &ts->rows[ts->n++];
	t->user = row->user;
	t->item = row->item;
	t->value = row->value_null ? NAN : row->value;
}

/*
 * Runs the test query (exactly one SELECT, registry.c) and keeps its rows:
 * rows with a NULL user or item are dropped, a NULL value is kept as NaN, a
 * non-finite value raises 22000.
 */
static void
ReadTestSet(const char *query, TestSet *ts)
{
	ts->cap = 1024;
	ts->rows = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(TestRow) * ts->cap);
	ts->n = 0;
	ts->returned = 0;
	ts->has_value = RecRunSourceQuery(query, "test query", 2, 3, TestSetRow, ts) == 3;
}

/* qsort comparator: by user, then by item */
static int
CompareTestRow(const void *a, const void *b)
{
	const TestRow *x = a;
	const TestRow *y = b;

	if (x->user != y->user)
		return (x->user > y->user) - (x->user < y->user);
	return (x->item > y->item) - (x->item < y->item);
}

/*
 * Scores one round of recommendations: each user's top k against its relevant
 * items, every formula added to its sum, the recommended items marked covered.
 */
static void
EvalEmit(void *arg, const RecBatchOut *bt, int64 start, int64 count)
{
	EvalRanking *ev = (EvalRanking *) arg;

	for (int64 r = 0; r < count; r++)
	{
		int64		user = start + r;
		const int32 *rel = ev->rel_items + ev->rel_ptr[user];
		int64		n_rel = ev->rel_ptr[user + 1] - ev->rel_ptr[user];
		RecRankedHits rh;

		rh.k = ev->k;
		rh.n_ranked = bt->out_count[r];
		rh.n_hits = 0;
		rh.n_relevant = ev->n_relevant[user];
		for (int j = 0; j < rh.n_ranked; j++)
		{
			int32		i = (int32) bt->out_item[r * bt->n + j];

			ev->covered[i] = true;
			ev->hit[j] = RecSortedContains(rel, n_rel, i);
			rh.n_hits += ev->hit[j] ? 1 : 0;
		}
		rh.hit = ev->hit;
		for (int m = 0; m < EVAL_N_METRICS; m++)
			ev->sums[m] += MetricFormulas[m] (&rh);
	}
}

/*
 * Appends "key": number to a JSON object under construction.  JSON has no NaN
 * or infinity: a valid model and finite test values cannot produce one (model.h
 * bounds every prediction, test values are float4), so one is an error naming
 * the metric rather than invalid JSON.
 */
static void
AppendNumber(StringInfo buf, const char *key, double d)
{
	char		num[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(d))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("evaluate: %s is out of range for type double precision", key)));
	double_to_shortest_decimal_buf(d, num);
	appendStringInfo(buf, "%s\"%s\": %s", buf->len > 1 ? ", " : "", key, num);
}

/* Appends "key": null */
static void
AppendNull(StringInfo buf, const char *key)
{
	appendStringInfo(buf, "%s\"%s\": null", buf->len > 1 ? ", " : "", key);
}

/* Checks the options object of evaluate (recsys.train checks eval_options early) */
void
RecCheckEvalOptions(Jsonb *options)
{
	EvalOptions opts;

	ParseEvalOptions(options, &opts);
}

/*
 * Rating and ranking metrics of the model on the test query's rows, as jsonb
 * (evaluate.h).
 */
Jsonb *
RecEvaluate(Datum model, const char *test_query, int32 k, Jsonb *options)
{
	EvalOptions opts;
	TestSet		ts;
	RecModelEntry *e;
	const RecModelHeader *m;
	const RecModelView *v;
	bool		explicit_model;
	bool		threshold_applies;
	double		rmse_state[REC_ERROR_STATE_LEN] = {0};
	double		mae_state[REC_ERROR_STATE_LEN] = {0};
	int32	   *users;
	int64	   *n_relevant;
	int64	   *rel_ptr;
	int32	   *rel_items;
	int64		n_eval = 0;
	int64		n_rel_total = 0;
	int64		unknown_users = 0;
	int64		n_covered = 0;
	int64		rel_last_item = 0;
	EvalRanking ev;
	StringInfoData buf;

	if (k < 1 || k > RECSYS_MAX_TOPN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d, got %d", RECSYS_MAX_TOPN, k)));
	ParseEvalOptions(options, &opts);
	ReadTestSet(test_query, &ts);
	qsort(ts.rows, ts.n, sizeof(TestRow), CompareTestRow);

	RecReserveBlas(1, "evaluate");	/* loading a model may call BLAS */
	e = RecModelGet(model);
	m = e->model;
	v = &e->v;
	explicit_model = m->algorithm == RECSYS_ALG_ALS ||
		(m->algorithm == RECSYS_ALG_HYBRID && (m->flags & RECSYS_MODEL_EXPLICIT));
	threshold_applies = ts.has_value && (explicit_model || opts.has_threshold);

	/*
	 * One pass over the rows grouped by user: rating errors of every row with a
	 * value, and each known user's relevant items (rows are sorted by item id
	 * within a user, so duplicates are adjacent and the item indexes, which
	 * follow id order, come out sorted).
	 */
	users = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(ts.n, 1));
	n_relevant = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(ts.n, 1));
	rel_ptr = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * (ts.n + 1));
	rel_items = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(ts.n, 1));
	rel_ptr[0] = 0;
	for (int64 first = 0, next; first < ts.n; first = next)
	{
		int64		user = ts.rows[first].user;
		int32		u = RecFindId(v->user_ids, m->n_users, user);
		int64		rel_start = n_rel_total;
		int64		n_rel = 0;

		CHECK_FOR_INTERRUPTS();
		for (next = first; next < ts.n && ts.rows[next].user == user; next++)
		{
			const TestRow *row = &ts.rows[next];
			bool		has_value = !isnan(row->value);
			int32		i = RecFindId(v->item_ids, m->n_items, row->item);

			if (explicit_model && has_value)
			{
				double		err = (double) RecModelPredict(v, u, i) - (double) row->value;

				RecErrorAccum(rmse_state, err * err);
				RecErrorAccum(mae_state, fabs(err));
			}
			if (threshold_applies && !(has_value && row->value >= opts.threshold))
				continue;
			if (n_rel > 0 && rel_last_item == row->item)
				continue;		/* a duplicate test row counts once */
			rel_last_item = row->item;
			n_rel++;
			if (i >= 0)
				rel_items[n_rel_total++] = i;
		}
		if (u < 0)
		{
			unknown_users++;
			n_rel_total = rel_start;
			continue;
		}
		if (n_rel == 0)
			continue;			/* nothing relevant: no ranking metric */
		users[n_eval] = u;
		n_relevant[n_eval++] = n_rel;
		rel_ptr[n_eval] = n_rel_total;
	}

	/* the top k of every evaluated user, scored round by round */
	memset(&ev, 0, sizeof(ev));
	ev.k = k;
	ev.n_relevant = n_relevant;
	ev.rel_ptr = rel_ptr;
	ev.rel_items = rel_items;
	ev.hit = palloc(sizeof(bool) * k);
	ev.covered = MemoryContextAllocExtended(CurrentMemoryContext,
											sizeof(bool) * m->n_items,
											MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	RecBatchRun(e, users, n_eval, k, EvalEmit, &ev);
	for (int32 i = 0; i < m->n_items; i++)
		n_covered += ev.covered[i] ? 1 : 0;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (explicit_model && ts.has_value)
	{
		double		mean;

		if (RecErrorMean(rmse_state, &mean))
			AppendNumber(&buf, "rmse", sqrt(mean));
		else
			AppendNull(&buf, "rmse");
		if (RecErrorMean(mae_state, &mean))
			AppendNumber(&buf, "mae", mean);
		else
			AppendNull(&buf, "mae");
	}
	for (int j = 0; j < EVAL_N_METRICS; j++)
	{
		char	   *key = psprintf("%s@%d", MetricNames[j], k);

		if (n_eval > 0)
			AppendNumber(&buf, key, ev.sums[j] / (double) n_eval);
		else
			AppendNull(&buf, key);
	}
	/* model input refuses a model without items; this keeps 0/0 out regardless */
	if (m->n_items > 0)
		AppendNumber(&buf, "coverage", (double) n_covered / (double) m->n_items);
	else
		AppendNull(&buf, "coverage");
	appendStringInfo(&buf, ", \"users\": " INT64_FORMAT ", \"test_rows\": " INT64_FORMAT
					 ", \"unknown_users\": " INT64_FORMAT "}",
					 n_eval, ts.returned, unknown_users);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* recsys.evaluate(m recsys.model, test_query text, k int, options jsonb) */
PG_FUNCTION_INFO_V1(evaluate);
Datum
evaluate(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(RecEvaluate(PG_GETARG_DATUM(0), text_to_cstring(PG_GETARG_TEXT_PP(1)),
								  PG_GETARG_INT32(2), PG_GETARG_JSONB_P(3)));
}

/* recsys.evaluate(name text, test_query text, k int, options jsonb) */
PG_FUNCTION_INFO_V1(evaluate_by_name);
Datum
evaluate_by_name(PG_FUNCTION_ARGS)
{
	/* an unknown name fails before the test query runs */
	Datum		model = RecModelDatumByName(PG_GETARG_TEXT_PP(0));

	PG_RETURN_JSONB_P(RecEvaluate(model, text_to_cstring(PG_GETARG_TEXT_PP(1)),
								  PG_GETARG_INT32(2), PG_GETARG_JSONB_P(3)));
}
