/*
 * evaluate.c
 *		recsys.evaluate and recsys.evaluate_users: measure a model on held-out
 *		interactions in one call.
 *
 * It runs the caller's test query (user, item [, value]), predicts every test
 * rating for rmse and mae (explicit models), recommends the top k for every test
 * user the model knows through the batched SGEMM path of recommend_all, and
 * scores those lists against each user's relevant test items with the same
 * formulas as the SQL metric functions (metrics.h).  Options add
 * inverse-propensity-scored metrics, beyond-accuracy measures of the lists
 * (novelty, intra-list diversity, popularity, Gini of exposure) and a cold-item
 * view.  evaluate returns the means as one jsonb object; evaluate_users the
 * per-user rows those means average.  This file owns only the orchestration:
 * scoring is recommend.c and serving.c, the formulas metrics.c, item
 * similarities diversity.c, predictions model.c.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "cache.h"
#include "diversity.h"
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
	bool		propensity;		/* "propensity": "popularity" */
	bool		has_gamma;		/* gamma given */
	double		gamma;			/* exponent of the popularity propensities */
	bool		beyond;			/* "beyond_accuracy": true */
	bool		cold_items;		/* "cold_items": true */
} EvalOptions;

/* Largest gamma accepted: (count_max)^gamma stays far inside float8 */
#define EVAL_MAX_GAMMA	10.0

/* The rows of the test query with non-NULL user and item */
typedef struct TestSet
{
	RecTestRow    *rows;
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

/* The inverse-propensity-scored metrics, likewise */
#define EVAL_N_IPS		3
static const char *const IpsNames[EVAL_N_IPS] = {
	"ips_precision", "ips_recall", "ips_ndcg"
};
static double (*const IpsFormulas[EVAL_N_IPS]) (const RecRankedHits *, const double *) = {
	RecIpsPrecisionAtK, RecIpsRecallAtK, RecIpsNdcgAtK
};

/*
 * One scored user's numbers: what recsys.evaluate_users returns as a row and
 * what recsys.evaluate averages.  The optional ones are valid only when their
 * option is on and their has_ flag is set.
 */
typedef struct EvalUser
{
	int64		user_id;
	int64		n_test;			/* distinct relevant test items, |R| */
	int32		n_recommended;	/* length of the list, <= k */
	double		metric[EVAL_N_METRICS];
	double		ips[EVAL_N_IPS];
	bool		has_novelty;	/* the list is not empty */
	double		novelty;		/* mean -log2(popularity share) of the list */
	double		popularity;		/* mean training interactions of the list */
	bool		has_diversity;	/* at least two items and a similarity */
	double		diversity;		/* mean pairwise 1 - similarity of the list */
} EvalUser;

/* Receives every scored user, in ascending user id order */
typedef void (*EvalUserFn) (void *arg, const EvalUser *row);

/*
 * What the ranking pass accumulates: per evaluated user (in RecBatchRun's
 * order) its relevant items, and over all users the metric sums and how often
 * each item was recommended.  Relevant items the model does not know count in
 * n_relevant but can never be hit, so only the known ones are listed.
 */
typedef struct EvalRanking
{
	RecModelEntry *e;
	const EvalOptions *opts;
	int32		k;				/* the cut-off asked for */
	const int32 *users;			/* [users] model user indexes */
	const int64 *n_relevant;	/* [users] distinct relevant items, known or not */
	const int64 *rel_ptr;		/* [users + 1] offsets into rel_items */
	const int32 *rel_items;		/* each user's known relevant item indexes, sorted */
	bool	   *hit;			/* [k] scratch */
	double	   *weight;			/* [k] scratch: normalised weights by position */
	float	   *sim;			/* [k] scratch: similarities to one list item */
	int64	   *exposure;		/* [n_items] lists each item is in */
	double		count_max;		/* largest training count, at least 1 */
	double		weight_mean;	/* mean propensity weight of the relevant pairs */
	double		n_train_users;	/* users of the model, at least 1 */
	MemoryContext list_cxt;		/* per-list scratch of the similarities */
	uint64	   *mark;			/* item-item models: the list's item bits */
	int32	   *pos;			/* item-item models: list positions by item */
	double		sums[EVAL_N_METRICS];
	double		ips_sums[EVAL_N_IPS];
	double		novelty_sum;
	double		popularity_sum;
	int64		n_novelty;		/* users with a non-empty list */
	double		diversity_sum;
	int64		n_diversity;	/* users with a diversity */
	EvalUserFn	per_user;		/* NULL: sums only */
	void	   *per_user_arg;
} EvalRanking;

/* What RecEvaluateRun reports besides the per-user rows */
typedef struct EvalTotals
{
	bool		has_rating;		/* rmse and mae apply */
	bool		has_rmse;
	double		rmse;
	bool		has_mae;
	double		mae;
	int64		n_eval;			/* users scored */
	int64		test_rows;		/* rows the test query returned */
	int64		unknown_users;
	int32		n_items;		/* items of the model */
	EvalRanking ev;				/* the sums */
} EvalTotals;

/* Whether a JSON key equals name */
static bool
KeyIs(const JsonbValue *key, const char *name)
{
	return key->val.string.len == strlen(name) &&
		memcmp(key->val.string.val, name, key->val.string.len) == 0;
}

/* A finite number option, else 22023 naming it */
static double
NumberOption(const char *name, JsonbValue *v)
{
	double		d;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", name)));
	/* a number beyond float8 becomes infinity here and is refused below */
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (isnan(d) || isinf(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a finite float8, got %s",
						name, RecJsonValueText(v))));
	return d;
}

/* A boolean option, else 22023 naming it */
static bool
BoolOption(const char *name, JsonbValue *v)
{
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be true or false, got %s", name, RecJsonValueText(v))));
	return v->val.boolean;
}

/* Reads the options object; unknown keys and bad values raise 22023 */
static void
ParseEvalOptions(Jsonb *jb, EvalOptions *o)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	memset(o, 0, sizeof(*o));
	o->threshold = 4.0;
	o->gamma = 0.5;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of evaluate must be a JSON object")));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	key;

		if (tok != WJB_KEY)
			continue;
		key = v;
		tok = JsonbIteratorNext(&it, &v, true);
		if (KeyIs(&key, "relevance_threshold"))
		{
			o->has_threshold = true;
			o->threshold = NumberOption("relevance_threshold", &v);
		}
		else if (KeyIs(&key, "propensity"))
		{
			bool		popularity = v.type == jbvString && KeyIs(&v, "popularity");

			if (!popularity && !(v.type == jbvString && KeyIs(&v, "none")))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"propensity\" must be \"popularity\" or \"none\", got %s",
								RecJsonValueText(&v))));
			o->propensity = popularity;
		}
		else if (KeyIs(&key, "gamma"))
		{
			o->has_gamma = true;
			o->gamma = NumberOption("gamma", &v);
			if (o->gamma < 0.0 || o->gamma > EVAL_MAX_GAMMA)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"gamma\" must be between 0 and %g, got %s",
								EVAL_MAX_GAMMA, RecJsonValueText(&v))));
		}
		else if (KeyIs(&key, "beyond_accuracy"))
			o->beyond = BoolOption("beyond_accuracy", &v);
		else if (KeyIs(&key, "cold_items"))
			o->cold_items = BoolOption("cold_items", &v);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for evaluate",
							RecEchoInput(key.val.string.val, key.val.string.len)),
					 errhint("evaluate accepts relevance_threshold, propensity, gamma, beyond_accuracy and cold_items.")));
	}
	if (o->has_gamma && !o->propensity)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"gamma\" needs \"propensity\": \"popularity\"")));
}

/* Row callback of the test query: keeps rows with a user and an item */
static void
TestSetRow(void *arg, const RecSourceRow *row)
{
	TestSet    *ts = (TestSet *) arg;
	RecTestRow    *t;

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
		ts->rows = repalloc_huge(ts->rows, sizeof(RecTestRow) * ts->cap);
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
	ts->rows = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(RecTestRow) * ts->cap);
	ts->n = 0;
	ts->returned = 0;
	ts->has_value = RecRunSourceQuery(query, "test query", 2, 3, TestSetRow, ts) == 3;
}

/* qsort comparator: by user, then by item */
static int
CompareTestRow(const void *a, const void *b)
{
	const RecTestRow *x = a;
	const RecTestRow *y = b;

	if (x->user != y->user)
		return (x->user > y->user) - (x->user < y->user);
	return (x->item > y->item) - (x->item < y->item);
}

/*
 * Mean pairwise dissimilarity of one list: 1 - sim(a, b) over its pairs, sim
 * being the item similarity of recommend's diversity (diversity.h): cosine of
 * the item factors, the stored weight of an item-item model scaled by the
 * list's largest, the cosine of the interaction columns for user kNN.  False
 * for fewer than two items or a model without any of them.
 */
static bool
ListDiversity(EvalRanking *ev, const int64 *items, int32 n, double *out)
{
	RecModelEntry *e = ev->e;
	RecPoolSimilarityFn fn;
	void	   *ctx;
	RecFactorPool fp;
	RecNeighbourPool np;
	RecSeenPool sp;
	MemoryContext old;
	double		sum = 0.0;

	if (n < 2)
		return false;
	old = MemoryContextSwitchTo(ev->list_cxt);
	if (e->v.item_factors != NULL)
	{
		fp.Y = e->v.item_factors;
		fp.k = e->model->factors;
		fp.norms = e->item_norms;
		fp.items = items;
		fp.n_pool = n;
		fn = RecFactorPoolSimilarity;
		ctx = &fp;
	}
	else if (e->v.item_nbr_ptr != NULL)
	{
		RecNeighbourRows nbr = {e->v.item_nbr_ptr, e->v.item_nbr_idx, e->v.item_nbr_weight};
		int64		length = 0;

		for (int32 r = 0; r < n; r++)
		{
			ev->pos[items[r]] = r;
			ev->mark[items[r] >> 6] |= (uint64) 1 << (items[r] & 63);
			length += nbr.ptr[items[r] + 1] - nbr.ptr[items[r]];
		}
		length = Max(length, 1);
		np.adj_ptr = palloc(sizeof(int64) * (n + 1));
		np.adj_pos = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * 2 * length);
		np.adj_weight = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * 2 * length);
		RecNeighbourPoolBuild(&nbr, items, n, ev->mark, ev->pos,
							  MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * length),
							  MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * length),
							  MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * length),
							  &np);
		/* clear the bits again for the next list */
		for (int32 r = 0; r < n; r++)
			ev->mark[items[r] >> 6] = 0;
		fn = RecNeighbourPoolSimilarity;
		ctx = &np;
	}
	else if (e->item_user_ptr != NULL)
	{
		float	   *norms = palloc(sizeof(float) * n);

		RecSeenColumnNorms(e->item_user_ptr, e->item_user_values, items, n, norms);
		sp.item_ptr = e->item_user_ptr;
		sp.item_users = e->item_users;
		sp.item_values = e->item_user_values;
		sp.items = items;
		sp.norms = norms;
		sp.scratch = e->user_scratch;
		sp.n_pool = n;
		fn = RecSeenPoolSimilarity;
		ctx = &sp;
	}
	else
	{
		MemoryContextSwitchTo(old);
		return false;
	}
	for (int32 s = 0; s + 1 < n; s++)
	{
		fn(ctx, s, ev->sim);
		for (int32 c = s + 1; c < n; c++)
			sum += 1.0 - (double) ev->sim[c];
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(ev->list_cxt);
	*out = sum / ((double) n * (n - 1) / 2.0);
	return true;
}

/* Training interactions of item index i, at least 1 (the clip of the formulas) */
static inline double
ClippedCount(const EvalRanking *ev, int32 i)
{
	return (double) Max(ev->e->v.item_count[i], 1);
}

/*
 * Inverse propensity of an item seen count times in training: p = (count /
 * count_max)^gamma with count clipped to at least 1, so w = 1 / p lies in
 * [1, count_max^gamma]
 */
static inline double
PropensityWeight(double count, double count_max, double gamma)
{
	return pow(count_max / Max(count, 1.0), gamma);
}

/*
 * Scores one round of recommendations: each user's top k against its relevant
 * items, every formula added to its sum, the recommended items' exposure
 * counted, and the user's row handed to per_user if there is one.
 */
static void
EvalEmit(void *arg, const RecBatchOut *bt, int64 start, int64 count)
{
	EvalRanking *ev = (EvalRanking *) arg;
	const RecModelView *v = &ev->e->v;

	for (int64 r = 0; r < count; r++)
	{
		int64		user = start + r;
		const int32 *rel = ev->rel_items + ev->rel_ptr[user];
		int64		n_rel = ev->rel_ptr[user + 1] - ev->rel_ptr[user];
		const int64 *list = bt->out_item + r * bt->n;
		RecRankedHits rh;
		EvalUser	row;

		CHECK_FOR_INTERRUPTS();
		memset(&row, 0, sizeof(row));
		rh.k = ev->k;
		rh.n_ranked = bt->out_count[r];
		rh.n_hits = 0;
		rh.n_relevant = ev->n_relevant[user];
		for (int j = 0; j < rh.n_ranked; j++)
		{
			int32		i = (int32) list[j];

			ev->exposure[i]++;
			ev->hit[j] = RecSortedContains(rel, n_rel, i);
			rh.n_hits += ev->hit[j] ? 1 : 0;
			if (ev->opts->propensity)
				ev->weight[j] = PropensityWeight(ClippedCount(ev, i), ev->count_max,
												 ev->opts->gamma) / ev->weight_mean;
		}
		rh.hit = ev->hit;
		row.user_id = v->user_ids[ev->users[user]];
		row.n_test = rh.n_relevant;
		row.n_recommended = rh.n_ranked;
		for (int m = 0; m < EVAL_N_METRICS; m++)
		{
			row.metric[m] = MetricFormulas[m] (&rh);
			ev->sums[m] += row.metric[m];
		}
		if (ev->opts->propensity)
			for (int m = 0; m < EVAL_N_IPS; m++)
			{
				row.ips[m] = IpsFormulas[m] (&rh, ev->weight);
				ev->ips_sums[m] += row.ips[m];
			}
		if (ev->opts->beyond && rh.n_ranked > 0)
		{
			double		novelty = 0.0;
			double		popularity = 0.0;

			for (int j = 0; j < rh.n_ranked; j++)
			{
				novelty -= log2(ClippedCount(ev, (int32) list[j]) / ev->n_train_users);
				popularity += (double) v->item_count[list[j]];
			}
			row.has_novelty = true;
			row.novelty = novelty / rh.n_ranked;
			row.popularity = popularity / rh.n_ranked;
			ev->novelty_sum += row.novelty;
			ev->popularity_sum += row.popularity;
			ev->n_novelty++;
			row.has_diversity = ListDiversity(ev, list, rh.n_ranked, &row.diversity);
			if (row.has_diversity)
			{
				ev->diversity_sum += row.diversity;
				ev->n_diversity++;
			}
		}
		if (ev->per_user)
			ev->per_user(ev->per_user_arg, &row);
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

/* Appends "key@k": sum / n, or null when n is 0 */
static void
AppendMean(StringInfo buf, const char *name, int32 k, double sum, int64 n)
{
	char	   *key = psprintf("%s@%d", name, k);

	if (n > 0)
		AppendNumber(buf, key, sum / (double) n);
	else
		AppendNull(buf, key);
}

/* Checks the options object of evaluate (recsys.train checks eval_options early) */
void
RecCheckEvalOptions(Jsonb *options)
{
	EvalOptions opts;

	ParseEvalOptions(options, &opts);
}

/* Whether item index i (-1: unknown) had no training interaction */
static inline bool
ItemIsCold(const RecModelView *v, int32 i)
{
	return i < 0 || v->item_count[i] == 0;
}

/*
 * The whole evaluation: reads the test query (or takes the given rows, which
 * it sorts in place), groups its rows by user, scores
 * rating errors, ranks every known user's top k and hands each scored user to
 * per_user (if not NULL); the totals and sums land in *t.
 */
static void
RecEvaluateRun(Datum model, const char *test_query, const TestSet *given, int32 k,
			   Jsonb *options, EvalOptions *opts, EvalUserFn per_user, void *per_user_arg,
			   EvalTotals *t)
{
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
	int64		rel_last_item = 0;
	double		weight_sum = 0.0;
	int64		n_weighted = 0;
	EvalRanking *ev = &t->ev;

	if (k < 1 || k > RECSYS_MAX_TOPN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d, got %d", RECSYS_MAX_TOPN, k)));
	ParseEvalOptions(options, opts);
	if (given != NULL)
		ts = *given;
	else
		ReadTestSet(test_query, &ts);
	qsort(ts.rows, ts.n, sizeof(RecTestRow), CompareTestRow);

	RecReserveBlas(1, "evaluate");	/* loading a model may call BLAS */
	e = RecModelGet(model);
	m = e->model;
	v = &e->v;
	explicit_model = m->algorithm == RECSYS_ALG_ALS ||
		(m->algorithm == RECSYS_ALG_HYBRID && (m->flags & RECSYS_MODEL_EXPLICIT));
	threshold_applies = ts.has_value && (explicit_model || opts->has_threshold);
	memset(t, 0, sizeof(*t));
	t->has_rating = explicit_model && ts.has_value;
	t->test_rows = ts.returned;
	t->n_items = m->n_items;

	memset(ev, 0, sizeof(*ev));
	ev->e = e;
	ev->opts = opts;
	ev->k = k;
	ev->count_max = 1.0;
	for (int32 i = 0; i < m->n_items; i++)
		ev->count_max = Max(ev->count_max, (double) v->item_count[i]);
	ev->n_train_users = Max((double) m->n_users, 1.0);

	/*
	 * One pass over the rows grouped by user: rating errors of every row with a
	 * value, and each known user's relevant items (rows are sorted by item id
	 * within a user, so duplicates are adjacent and the item indexes, which
	 * follow id order, come out sorted).  With cold_items only rows of items
	 * without training interactions take part.
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
		double		user_weight = 0.0;
		bool		kept = false;

		CHECK_FOR_INTERRUPTS();
		for (next = first; next < ts.n && ts.rows[next].user == user; next++)
		{
			const RecTestRow *row = &ts.rows[next];
			bool		has_value = !isnan(row->value);
			int32		i = RecFindId(v->item_ids, m->n_items, row->item);

			if (opts->cold_items && !ItemIsCold(v, i))
				continue;
			kept = true;
			if (explicit_model && has_value)
			{
				double		err = (double) RecModelPredict(v, u, i) - (double) row->value;

				RecErrorAccum(rmse_state, err * err);
				RecErrorAccum(mae_state, fabs(err));
			}
			if (threshold_applies && !(has_value && row->value >= opts->threshold))
				continue;
			if (n_rel > 0 && rel_last_item == row->item)
				continue;		/* a duplicate test row counts once */
			rel_last_item = row->item;
			n_rel++;
			if (opts->propensity)
				user_weight += PropensityWeight(i >= 0 ? (double) v->item_count[i] : 0.0,
												ev->count_max, opts->gamma);
			if (i >= 0)
				rel_items[n_rel_total++] = i;
		}
		if (u < 0)
		{
			/* with cold_items, only users with a row of a cold item count */
			if (kept)
				t->unknown_users++;
			n_rel_total = rel_start;
			continue;
		}
		if (n_rel == 0)
			continue;			/* nothing relevant: no ranking metric */
		users[n_eval] = u;
		n_relevant[n_eval++] = n_rel;
		rel_ptr[n_eval] = n_rel_total;
		weight_sum += user_weight;
		n_weighted += n_rel;
	}
	if (explicit_model && ts.has_value)
	{
		double		mean;

		t->has_rmse = RecErrorMean(rmse_state, &mean);
		if (t->has_rmse)
			t->rmse = sqrt(mean);
		t->has_mae = RecErrorMean(mae_state, &mean);
		if (t->has_mae)
			t->mae = mean;
	}

	/* the top k of every evaluated user, scored round by round */
	ev->users = users;
	ev->n_relevant = n_relevant;
	ev->rel_ptr = rel_ptr;
	ev->rel_items = rel_items;
	ev->weight_mean = n_weighted > 0 ? weight_sum / (double) n_weighted : 1.0;
	ev->hit = palloc(sizeof(bool) * k);
	ev->weight = palloc(sizeof(double) * k);
	ev->sim = palloc(sizeof(float) * k);
	ev->exposure = MemoryContextAllocExtended(CurrentMemoryContext,
											  sizeof(int64) * Max(m->n_items, 1),
											  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	if (opts->beyond)
	{
		ev->list_cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys evaluate list",
											 ALLOCSET_SMALL_SIZES);
		if (v->item_factors == NULL && v->item_nbr_ptr != NULL)
		{
			ev->mark = palloc0(sizeof(uint64) * (((int64) m->n_items + 63) / 64 + 1));
			ev->pos = MemoryContextAllocHuge(CurrentMemoryContext,
											 sizeof(int32) * Max(m->n_items, 1));
		}
	}
	ev->per_user = per_user;
	ev->per_user_arg = per_user_arg;
	RecBatchRun(e, users, n_eval, k, EvalEmit, ev);
	t->n_eval = n_eval;
}

/*
 * Rating and ranking metrics of the model on the test query's rows or on the
 * given rows, as jsonb: what recsys.evaluate returns.
 */
static Jsonb *
EvaluateMeans(Datum model, const char *test_query, const TestSet *given, int32 k,
			  Jsonb *options)
{
	EvalOptions opts;
	EvalTotals	t;
	EvalRanking *ev = &t.ev;
	int64		n_covered = 0;
	StringInfoData buf;

	RecEvaluateRun(model, test_query, given, k, options, &opts, NULL, NULL, &t);
	for (int32 i = 0; i < t.n_items; i++)
		n_covered += ev->exposure[i] > 0 ? 1 : 0;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (t.has_rating)
	{
		if (t.has_rmse)
			AppendNumber(&buf, "rmse", t.rmse);
		else
			AppendNull(&buf, "rmse");
		if (t.has_mae)
			AppendNumber(&buf, "mae", t.mae);
		else
			AppendNull(&buf, "mae");
	}
	for (int j = 0; j < EVAL_N_METRICS; j++)
		AppendMean(&buf, MetricNames[j], k, ev->sums[j], t.n_eval);
	if (opts.propensity)
		for (int j = 0; j < EVAL_N_IPS; j++)
			AppendMean(&buf, IpsNames[j], k, ev->ips_sums[j], t.n_eval);
	if (opts.beyond)
	{
		double		gini;

		AppendMean(&buf, "novelty", k, ev->novelty_sum, ev->n_novelty);
		AppendMean(&buf, "diversity", k, ev->diversity_sum, ev->n_diversity);
		AppendMean(&buf, "popularity", k, ev->popularity_sum, ev->n_novelty);
		if (t.n_items > 0 && RecGini(ev->exposure, t.n_items, &gini))
			AppendNumber(&buf, psprintf("gini@%d", k), gini);
		else
			AppendNull(&buf, psprintf("gini@%d", k));
	}
	/* model input refuses a model without items; this keeps 0/0 out regardless */
	if (t.n_items > 0)
		AppendNumber(&buf, "coverage", (double) n_covered / (double) t.n_items);
	else
		AppendNull(&buf, "coverage");
	if (opts.propensity)
		AppendNumber(&buf, "gamma", opts.gamma);
	appendStringInfo(&buf, ", \"users\": " INT64_FORMAT ", \"test_rows\": " INT64_FORMAT
					 ", \"unknown_users\": " INT64_FORMAT "}",
					 t.n_eval, t.test_rows, t.unknown_users);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* Metrics of the model on the test query's rows (evaluate.h) */
Jsonb *
RecEvaluate(Datum model, const char *test_query, int32 k, Jsonb *options)
{
	return EvaluateMeans(model, test_query, NULL, k, options);
}

/*
 * Metrics of the model on rows already in memory (evaluate.h): returned
 * counts the rows the source gave before any were dropped, has_value whether
 * they carry values.  Sorts rows in place.
 */
Jsonb *
RecEvaluateRows(Datum model, RecTestRow *rows, int64 n, int64 returned, bool has_value,
				int32 k, Jsonb *options)
{
	TestSet		ts;

	ts.rows = rows;
	ts.n = n;
	ts.cap = n;
	ts.returned = returned;
	ts.has_value = has_value;
	return EvaluateMeans(model, NULL, &ts, k, options);
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

/* Columns of recsys.evaluate_users */
#define EVAL_USERS_COLUMNS	14

/* Where evaluate_users puts its rows, and which optional columns are on */
typedef struct EvalUsersOut
{
	ReturnSetInfo *rsinfo;
	const EvalOptions *opts;
} EvalUsersOut;

/* One row of recsys.evaluate_users */
static void
EvalUsersRow(void *arg, const EvalUser *row)
{
	EvalUsersOut *out = (EvalUsersOut *) arg;
	Datum		values[EVAL_USERS_COLUMNS];
	bool		nulls[EVAL_USERS_COLUMNS];
	int			c = 0;

	memset(nulls, 0, sizeof(nulls));
	values[c++] = Int64GetDatum(row->user_id);
	values[c++] = Int64GetDatum(row->n_test);
	values[c++] = Int32GetDatum(row->n_recommended);
	for (int m = 0; m < EVAL_N_METRICS; m++)
		values[c++] = Float8GetDatum(row->metric[m]);
	for (int m = 0; m < EVAL_N_IPS; m++)
	{
		nulls[c] = !out->opts->propensity;
		values[c++] = Float8GetDatum(row->ips[m]);
	}
	nulls[c] = !row->has_novelty;
	values[c++] = Float8GetDatum(row->novelty);
	nulls[c] = !row->has_diversity;
	values[c++] = Float8GetDatum(row->diversity);
	nulls[c] = !row->has_novelty;
	values[c++] = Float8GetDatum(row->popularity);
	Assert(c == EVAL_USERS_COLUMNS);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
}

/* recsys.evaluate_users for a model datum: one row per scored user */
static Datum
EvaluateUsers(FunctionCallInfo fcinfo, Datum model)
{
	EvalOptions opts;
	EvalTotals	t;
	EvalUsersOut out;
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int32		k = PG_GETARG_INT32(2);
	Jsonb	   *options = PG_GETARG_JSONB_P(3);

	InitMaterializedSRF(fcinfo, 0);
	out.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	out.opts = &opts;
	if (out.rsinfo->setDesc->natts != EVAL_USERS_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("evaluate_users must return %d columns", EVAL_USERS_COLUMNS)));
	RecEvaluateRun(model, query, NULL, k, options, &opts, EvalUsersRow, &out, &t);
	return (Datum) 0;
}

/* recsys.evaluate_users(m recsys.model, test_query text, k int, options jsonb) */
PG_FUNCTION_INFO_V1(evaluate_users);
Datum
evaluate_users(PG_FUNCTION_ARGS)
{
	return EvaluateUsers(fcinfo, PG_GETARG_DATUM(0));
}

/* recsys.evaluate_users(name text, test_query text, k int, options jsonb) */
PG_FUNCTION_INFO_V1(evaluate_users_by_name);
Datum
evaluate_users_by_name(PG_FUNCTION_ARGS)
{
	/* an unknown name fails before the test query runs, as for evaluate */
	return EvaluateUsers(fcinfo, RecModelDatumByName(PG_GETARG_TEXT_PP(0)));
}
