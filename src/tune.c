/*
 * tune.c
 *		recsys.tune: a random or grid search over algorithms and their options on
 *		a train/validation split of a source query, every trial recorded in
 *		recsys.tuning_trials, the best configuration retrained on all the rows
 *		and registered as a new version of the model.
 *
 * The source query runs once, as the model's owner inside a security-restricted
 * operation (registry.c), and its rows are kept in memory: the split, every
 * trial's training and its validation all read that copy.  A trial is one
 * ordinary training run (train.c, so recsys.max_train_mb applies to each) and
 * an evaluation of the held-out rows by recsys.evaluate's own code (so every
 * metric evaluate reports can be the objective).  A trial that fails for want of memory or on
 * the data is rolled back on its own and recorded with its error; a cancel ends
 * the whole search, and since the registry and the trials table are written
 * only at the end, in the caller's transaction, a cancelled search leaves both
 * as they were.
 *
 * Everything random (the split and the sampled configurations) comes from one
 * generator seeded by search.seed, so a search repeats exactly.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"

#include "algorithms.h"
#include "cache.h"
#include "evaluate.h"
#include "model.h"
#include "modeltype.h"
#include "options.h"
#include "recommend.h"
#include "recsys.h"
#include "registry.h"
#include "serving.h"
#include "train.h"
#include "versions.h"

/* most trials one search may run */
#define TUNE_MAX_TRIALS		1000

/* trials of a random search when search.trials is absent */
#define TUNE_DEFAULT_TRIALS	20

/* draws a random search makes for a configuration it has not tried yet */
#define TUNE_MAX_DRAWS		50

/*
 * The default search space of each algorithm, as a search.space entry would
 * give it (README "Choosing and shipping a model"); an algorithm of the table
 * without one is tried with its defaults unless search.space names options.
 * explicit: rated data, chosen by default for rmse and mae.
 */
typedef struct DefaultSpace
{
	const char *algorithm;
	bool		explicit_ratings;
	const char *space;
} DefaultSpace;

static const DefaultSpace DefaultSpaces[] = {
	{"als", true,
	"{\"factors\": [8, 16, 32, 64], \"regularization\": {\"min\": 0.01, \"max\": 10, \"log\": true}}"},
	{"ials", false,
	"{\"factors\": [8, 16, 32, 64], \"regularization\": {\"min\": 0.1, \"max\": 10, \"log\": true},"
	" \"alpha\": {\"min\": 1, \"max\": 100, \"log\": true}}"},
	{"knn", false,
	"{\"neighbours\": [10, 25, 50, 100, 200, 400], \"shrinkage\": [0, 10, 100],"
	" \"similarity\": [\"cosine\", \"jaccard\"]}"},
	{"ease", false,
	"{\"regularization\": {\"min\": 10, \"max\": 5000, \"log\": true}}"},
};

/* One row of the source query */
typedef struct TuneRow
{
	int64		user;
	int64		item;
	float		value;
	bool		valid;			/* held out for validation */
	double		time;			/* the 4th column, or 0 */
	bool		has_time;
} TuneRow;

/* All the rows, in the order the query returned them */
typedef struct TuneRows
{
	TuneRow    *rows;
	int64		n;
	int64		cap;
	int64		returned;		/* rows the query returned, NULLs included */
	int			n_columns;
} TuneRows;

/* One dimension of an algorithm's space: a list of values or a range */
typedef struct Dimension
{
	char	   *key;
	bool		is_range;
	int			n_values;		/* list: its values */
	JsonbValue *values;
	double		min;			/* range */
	double		max;
	bool		log;
	bool		integer;
} Dimension;

/* One algorithm to search and its dimensions */
typedef struct AlgorithmSpace
{
	const RecAlgorithm *alg;
	int			n_dims;
	Dimension  *dims;
	int64		grid_size;		/* product of the list sizes */
	bool		exhausted;		/* random search found nothing new */
} AlgorithmSpace;

/* How the rows are split */
typedef enum SplitBy
{
	SPLIT_RANDOM,
	SPLIT_TIME,
	SPLIT_USER_LAST
} SplitBy;

/* The parsed search object */
typedef struct TuneSpec
{
	int			n_algs;
	AlgorithmSpace *algs;
	bool		grid;
	int			trials;
	char	   *metric;			/* "ndcg@10", "rmse" */
	int32		k;				/* the cut-off of the ranking metrics */
	bool		lower_is_better;
	bool		needs_ratings;	/* rmse or mae: explicit algorithms only */
	Jsonb	   *eval_options;	/* what evaluate is given for each trial */
	SplitBy		split_by;
	double		test_fraction;
	int32		last_k;
	uint64		seed;
} TuneSpec;

/* One trial: what it trained and how it scored */
typedef struct Trial
{
	const RecAlgorithm *alg;
	Jsonb	   *options;
	Jsonb	   *metrics;		/* NULL if it failed */
	bool		has_score;
	double		score;
	double		seconds;
	char	   *error;			/* why it failed, or NULL */
} Trial;

/* --------------------------------------------------------------- randomness */

/* splitmix64: one step of the generator, also the hash of the random split */
static uint64
SplitMix(uint64 x)
{
	x += UINT64CONST(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

/* A uniform double in [0, 1) from the generator state */
static double
NextUniform(uint64 *state)
{
	*state = SplitMix(*state);
	return (double) (*state >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------ parsing */

/* The value of key in a JSON object, or NULL */
static JsonbValue *
Key(Jsonb *obj, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
}

/* A JSON number as a double (NaN if it is not one) */
static double
NumberOf(JsonbValue *v)
{
	if (v == NULL || v->type != jbvNumeric)
		return NAN;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

/* An integer key of the search object within [min, max], or dflt */
static int64
IntKey(Jsonb *obj, const char *key, int64 min, int64 max, int64 dflt, const char *where)
{
	JsonbValue *v = Key(obj, key);
	double		d;

	if (v == NULL)
		return dflt;
	d = NumberOf(v);
	if (!(d >= (double) min && d <= (double) max) || d != rint(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" must be an integer between " INT64_FORMAT " and " INT64_FORMAT ", got %s",
						where, key, min, max, RecJsonValueText(v))));
	return (int64) d;
}

/* A JSON object within a JSON value, or a 22023 naming what it should be */
static Jsonb *
ObjectOf(JsonbValue *v, const char *what)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object, got %s", what, RecJsonValueText(v))));
	return JsonbValueToJsonb(v);
}

/* Refuses keys of obj that are not in allowed (NULL-terminated) */
static void
CheckKeys(Jsonb *obj, const char *const *allowed, const char *what)
{
	JsonbIterator *it = JsonbIteratorInit(&obj->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; allowed[i] != NULL; i++)
			if (v.val.string.len == strlen(allowed[i]) &&
				memcmp(v.val.string.val, allowed[i], v.val.string.len) == 0)
				known = true;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in %s", RecEchoInput(v.val.string.val,
																	 v.val.string.len), what)));
	}
}

/* The option spec of key in an algorithm's table, or NULL */
static const RecOptionSpec *
OptionSpec(const RecAlgorithm *alg, const char *key)
{
	for (const RecOptionSpec *s = alg->options; s->name != NULL; s++)
		if (strcmp(s->name, key) == 0)
			return s;
	return NULL;
}

/* Options object {key: value} as jsonb */
static Jsonb *
SingleOption(const char *key, JsonbValue *value)
{
	JsonbParseState *state = NULL;
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	pushJsonbValue(&state, WJB_KEY, &k);
	pushJsonbValue(&state, WJB_VALUE, value);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* Checks that the algorithm's options accept key = value (22023 otherwise) */
static void
CheckOptionValue(const RecAlgorithm *alg, const char *key, JsonbValue *value)
{
	RecOptionsBuffer buf;

	RecParseOptions(alg->code, SingleOption(key, value), &buf);
}

/* A double as a JSON number value */
static JsonbValue
NumberValue(double d)
{
	JsonbValue	v;
	char		text[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(d, text);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	return v;
}

/*
 * One dimension of a space: a list of values (each checked against the
 * algorithm's options), a range {"min", "max", "log", "integer"} of a numeric
 * option, or a single value (a list of one).
 */
static void
ParseDimension(const RecAlgorithm *alg, const char *key, JsonbValue *v, Dimension *d)
{
	const RecOptionSpec *spec = OptionSpec(alg, key);
	char	   *where = psprintf("search space of \"%s\"", alg->name);

	if (spec == NULL || strcmp(key, "verbose") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown option \"%s\" in the %s", RecMessageText(key), where)));
	memset(d, 0, sizeof(*d));
	d->key = pstrdup(key);
	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken tok;
		int			n = JsonContainerSize(v->val.binary.data);

		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" in the %s has an empty list of values", key, where)));
		d->values = palloc(sizeof(JsonbValue) * n);
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			CheckOptionValue(alg, key, &e);
			d->values[d->n_values++] = e;
		}
		return;
	}
	if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		static const char *const range_keys[] = {"min", "max", "log", "integer", NULL};
		Jsonb	   *r = JsonbValueToJsonb(v);
		JsonbValue *lg = Key(r, "log");
		JsonbValue *in = Key(r, "integer");
		JsonbValue	end;

		CheckKeys(r, range_keys, psprintf("the range of option \"%s\"", key));
		if (spec->kind != RECSYS_OPTION_INTEGER && spec->kind != RECSYS_OPTION_NUMBER)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" of \"%s\" is not numeric: give a list of values, not a range",
							key, alg->name)));
		d->is_range = true;
		d->min = NumberOf(Key(r, "min"));
		d->max = NumberOf(Key(r, "max"));
		d->log = lg != NULL && lg->type == jbvBool && lg->val.boolean;
		d->integer = spec->kind == RECSYS_OPTION_INTEGER ||
			(in != NULL && in->type == jbvBool && in->val.boolean);
		if ((lg != NULL && lg->type != jbvBool) || (in != NULL && in->type != jbvBool))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"log\" and \"integer\" of the range of option \"%s\" must be true or false", key)));
		if (!isfinite(d->min) || !isfinite(d->max) || d->min > d->max ||
			(d->log && d->min <= 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the range of option \"%s\" in the %s needs finite numbers min <= max%s",
							key, where, d->log ? ", both above 0 for a log range" : "")));
		end = NumberValue(d->integer ? ceil(d->min) : d->min);
		CheckOptionValue(alg, key, &end);
		end = NumberValue(d->integer ? floor(d->max) : d->max);
		CheckOptionValue(alg, key, &end);
		if (d->integer && ceil(d->min) > floor(d->max))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the range of integer option \"%s\" holds no integer", key)));
		return;
	}
	/* a single value */
	CheckOptionValue(alg, key, v);
	d->values = palloc(sizeof(JsonbValue));
	d->values[0] = *v;
	d->n_values = 1;
}

/* The space of one algorithm: the default one with search.space's keys over it */
static void
ParseAlgorithmSpace(const RecAlgorithm *alg, Jsonb *override, AlgorithmSpace *as)
{
	Jsonb	   *space = NULL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap;

	for (int i = 0; i < lengthof(DefaultSpaces); i++)
		if (strcmp(DefaultSpaces[i].algorithm, alg->name) == 0)
			space = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													   CStringGetDatum(DefaultSpaces[i].space)));
	if (space == NULL)
		space = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (override != NULL)
		space = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(space),
												   JsonbPGetDatum(override)));

	memset(as, 0, sizeof(*as));
	as->alg = alg;
	cap = Max(JsonContainerSize(&space->root), 1);
	as->dims = palloc(sizeof(Dimension) * cap);
	as->grid_size = 1;
	it = JsonbIteratorInit(&space->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		Dimension  *d;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		d = &as->dims[as->n_dims++];
		ParseDimension(alg, key, &v, d);
		if (!d->is_range)
			as->grid_size = Min(as->grid_size * d->n_values, (int64) TUNE_MAX_TRIALS + 1);
	}
}

/*
 * The metric named by search.metric: any key evaluate reports, with the
 * evaluate option it needs (propensity for ips_*, beyond_accuracy for
 * novelty, diversity, popularity and gini).  rmse, mae, popularity and gini
 * are better lower.
 */
static void
ParseMetric(TuneSpec *spec, const char *metric, const char **needs_option)
{
	static const char *const at_k[] = {
		"precision", "recall", "ndcg", "map", "hit_rate",
		"ips_precision", "ips_recall", "ips_ndcg",
		"novelty", "diversity", "popularity", "gini"
	};
	const char *at = strrchr(metric, '@');

	spec->metric = pstrdup(metric);
	spec->k = 10;
	*needs_option = NULL;
	spec->needs_ratings = strcmp(metric, "rmse") == 0 || strcmp(metric, "mae") == 0;
	spec->lower_is_better = spec->needs_ratings;
	if (spec->needs_ratings || strcmp(metric, "coverage") == 0)
		return;
	if (at != NULL)
	{
		char	   *end;
		long		k = strtol(at + 1, &end, 10);
		size_t		len = at - metric;

		for (int i = 0; i < lengthof(at_k); i++)
			if (strlen(at_k[i]) == len && strncmp(metric, at_k[i], len) == 0 &&
				at[1] != '\0' && *end == '\0' && k >= 1 && k <= RECSYS_MAX_TOPN)
			{
				spec->k = (int32) k;
				if (strncmp(metric, "ips_", 4) == 0)
					*needs_option = "propensity";
				else if (i >= 8)
					*needs_option = "beyond_accuracy";
				spec->lower_is_better = strncmp(metric, "popularity", len) == 0 ||
					strncmp(metric, "gini", len) == 0;
				return;
			}
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("search \"metric\" \"%s\" is not a metric tune can optimise", RecMessageText(metric)),
			 errhint("Use rmse or mae (explicit ratings), coverage, or at k (such as ndcg@10) precision, recall, ndcg, map, hit_rate, ips_precision, ips_recall, ips_ndcg, novelty, diversity, popularity or gini.")));
}

/*
 * The evaluate options of every trial: search.evaluate (checked as evaluate
 * checks its options), search.relevance_threshold, and the option the metric
 * needs.
 */
static Jsonb *
EvalOptionsOf(Jsonb *search, JsonbValue *threshold, const char *needs_option)
{
	JsonbValue *given = Key(search, "evaluate");
	Jsonb	   *options;
	StringInfoData extra;

	if (given != NULL)
		options = ObjectOf(given, "search \"evaluate\"");
	else
		options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	initStringInfo(&extra);
	appendStringInfoChar(&extra, '{');
	if (threshold != NULL)
		appendStringInfo(&extra, "\"relevance_threshold\": %s", RecJsonValueText(threshold));
	if (needs_option != NULL && strcmp(needs_option, "propensity") == 0)
		appendStringInfo(&extra, "%s\"propensity\": \"popularity\"", extra.len > 1 ? ", " : "");
	if (needs_option != NULL && strcmp(needs_option, "beyond_accuracy") == 0)
		appendStringInfo(&extra, "%s\"beyond_accuracy\": true", extra.len > 1 ? ", " : "");
	appendStringInfoChar(&extra, '}');
	options = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(options),
												 DirectFunctionCall1(jsonb_in,
																	 CStringGetDatum(extra.data))));
	RecCheckEvalOptions(options);
	return options;
}

/* Reads the search object (README "Choosing and shipping a model"); 22023 on anything wrong */
static void
ParseSearch(Jsonb *search, TuneSpec *spec)
{
	static const char *const keys[] = {
		"algorithms", "space", "method", "trials", "metric", "split", "seed",
		"relevance_threshold", "evaluate", NULL
	};
	static const char *const split_keys[] = {"by", "test_fraction", "k", NULL};
	JsonbValue *v;
	Jsonb	   *space = NULL;
	bool		explicit_metric;
	const char *needs_option;
	JsonbValue *threshold;

	memset(spec, 0, sizeof(*spec));
	if (!JB_ROOT_IS_OBJECT(search) || JB_ROOT_IS_SCALAR(search))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search of recsys.tune must be a JSON object")));
	CheckKeys(search, keys, "the search of recsys.tune");

	/* the objective */
	if ((v = Key(search, "metric")) != NULL)
	{
		if (v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("search \"metric\" must be a string such as \"ndcg@10\", got %s",
							RecJsonValueText(v))));
		ParseMetric(spec, pnstrdup(v->val.string.val, v->val.string.len), &needs_option);
	}
	else
		ParseMetric(spec, "ndcg@10", &needs_option);
	explicit_metric = spec->needs_ratings;

	/* the method and the budget */
	spec->grid = false;
	if ((v = Key(search, "method")) != NULL)
	{
		if (v->type == jbvString && v->val.string.len == 4 &&
			memcmp(v->val.string.val, "grid", 4) == 0)
			spec->grid = true;
		else if (!(v->type == jbvString && v->val.string.len == 6 &&
				   memcmp(v->val.string.val, "random", 6) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("search \"method\" must be \"random\" or \"grid\", got %s",
							RecJsonValueText(v))));
	}
	spec->trials = (int) IntKey(search, "trials", 1, TUNE_MAX_TRIALS,
								spec->grid ? TUNE_MAX_TRIALS : TUNE_DEFAULT_TRIALS, "search");
	spec->seed = (uint64) IntKey(search, "seed", 0, PG_INT64_MAX, 42, "search");
	if ((threshold = Key(search, "relevance_threshold")) != NULL &&
		!isfinite(NumberOf(threshold)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search \"relevance_threshold\" must be a finite number, got %s",
						RecJsonValueText(threshold))));
	spec->eval_options = EvalOptionsOf(search, threshold, needs_option);

	/* the split */
	spec->split_by = SPLIT_RANDOM;
	spec->test_fraction = 0.2;
	spec->last_k = 1;
	if ((v = Key(search, "split")) != NULL)
	{
		Jsonb	   *split = ObjectOf(v, "search \"split\"");
		JsonbValue *by = Key(split, "by");
		JsonbValue *f = Key(split, "test_fraction");

		CheckKeys(split, split_keys, "search \"split\"");
		if (by != NULL)
		{
			char	   *s = by->type == jbvString ?
				pnstrdup(by->val.string.val, by->val.string.len) : "";

			if (strcmp(s, "random") == 0)
				spec->split_by = SPLIT_RANDOM;
			else if (strcmp(s, "time") == 0)
				spec->split_by = SPLIT_TIME;
			else if (strcmp(s, "user_last") == 0)
				spec->split_by = SPLIT_USER_LAST;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("split \"by\" must be \"random\", \"time\" or \"user_last\", got %s",
								RecJsonValueText(by))));
		}
		if (f != NULL)
		{
			spec->test_fraction = NumberOf(f);
			if (!(spec->test_fraction > 0 && spec->test_fraction < 1))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("split \"test_fraction\" must be a number above 0 and below 1, got %s",
								RecJsonValueText(f))));
			if (spec->split_by == SPLIT_USER_LAST)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("split \"test_fraction\" does not apply to \"user_last\": give \"k\"")));
		}
		if (Key(split, "k") != NULL && spec->split_by != SPLIT_USER_LAST)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("split \"k\" applies to \"user_last\" only")));
		spec->last_k = (int32) IntKey(split, "k", 1, 1000000, 1, "split");
	}

	/* the space overrides, by algorithm name */
	if ((v = Key(search, "space")) != NULL)
		space = ObjectOf(v, "search \"space\"");

	/* the algorithms: as given, or those with a default space that fit the metric */
	if ((v = Key(search, "algorithms")) != NULL)
	{
		JsonbIterator *it;
		JsonbValue	e;
		JsonbIteratorToken tok;
		int			n;

		if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
			(n = JsonContainerSize(v->val.binary.data)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("search \"algorithms\" must be a non-empty array of algorithm names, got %s",
							RecJsonValueText(v)),
					 errhint("%s", RecAlgorithmHint())));
		spec->algs = palloc(sizeof(AlgorithmSpace) * n);
		it = JsonbIteratorInit(v->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			const RecAlgorithm *alg;
			char	   *name;
			JsonbValue *over;

			if (tok != WJB_ELEM)
				continue;
			name = e.type == jbvString ? pnstrdup(e.val.string.val, e.val.string.len) : NULL;
			alg = name ? RecAlgorithmByName(name) : NULL;
			if (alg == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown algorithm %s in search \"algorithms\"", RecJsonValueText(&e)),
						 errhint("%s", RecAlgorithmHint())));
			if (alg->features)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("tune cannot search \"%s\": it needs item features, and tune reads user, item, value and time only",
								name),
						 errhint("Train \"%s\" with recsys.train and compare it with recsys.evaluate.", name)));
			for (int i = 0; i < spec->n_algs; i++)
				if (spec->algs[i].alg == alg)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("algorithm \"%s\" is named twice in search \"algorithms\"", name)));
			if (explicit_metric && alg->code != RECSYS_ALG_ALS)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("metric \"%s\" needs rating predictions, which \"%s\" does not make",
								spec->metric, name),
						 errhint("Search \"als\" for rmse or mae, or choose a ranking metric such as ndcg@10.")));
			over = space ? Key(space, name) : NULL;
			ParseAlgorithmSpace(alg, over ? ObjectOf(over, psprintf("search space of \"%s\"", name)) : NULL,
								&spec->algs[spec->n_algs++]);
		}
	}
	else
	{
		spec->algs = palloc(sizeof(AlgorithmSpace) * lengthof(DefaultSpaces));
		for (int i = 0; i < lengthof(DefaultSpaces); i++)
		{
			const RecAlgorithm *alg = RecAlgorithmByName(DefaultSpaces[i].algorithm);
			JsonbValue *over;

			if (alg == NULL || DefaultSpaces[i].explicit_ratings != explicit_metric)
				continue;
			over = space ? Key(space, alg->name) : NULL;
			ParseAlgorithmSpace(alg, over ? ObjectOf(over, psprintf("search space of \"%s\"", alg->name)) : NULL,
								&spec->algs[spec->n_algs++]);
		}
	}

	/* space keys must name searched algorithms */
	if (space != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&space->root);
		JsonbValue	e;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			bool		found = false;

			if (tok != WJB_KEY)
				continue;
			for (int i = 0; i < spec->n_algs; i++)
				if (strlen(spec->algs[i].alg->name) == e.val.string.len &&
					memcmp(spec->algs[i].alg->name, e.val.string.val, e.val.string.len) == 0)
					found = true;
			if (!found)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("search \"space\" names \"%s\", which is not among the searched algorithms",
								RecEchoInput(e.val.string.val, e.val.string.len))));
		}
	}

	/* a grid is every combination: ranges have none */
	if (spec->grid)
	{
		int64		total = 0;

		for (int i = 0; i < spec->n_algs; i++)
		{
			for (int j = 0; j < spec->algs[i].n_dims; j++)
				if (spec->algs[i].dims[j].is_range)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("grid search needs a list of values for option \"%s\" of \"%s\", not a range",
									spec->algs[i].dims[j].key, spec->algs[i].alg->name)));
			total += spec->algs[i].grid_size;
		}
		if (total > spec->trials)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the grid has " INT64_FORMAT " combinations, more than trials = %d", total, spec->trials),
					 errhint("Give fewer values, or a random search.")));
		spec->trials = (int) total;
	}
}

/* ------------------------------------------------------------------ configurations */

/* The options of one configuration: for each dimension, the value it takes */
static Jsonb *
BuildOptions(const AlgorithmSpace *as, const JsonbValue *chosen)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int j = 0; j < as->n_dims; j++)
	{
		JsonbValue	k;

		k.type = jbvString;
		k.val.string.val = as->dims[j].key;
		k.val.string.len = strlen(as->dims[j].key);
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, (JsonbValue *) &chosen[j]);
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* A random value of a range: uniform, or uniform in log; 4 significant digits */
static JsonbValue
DrawRange(const Dimension *d, uint64 *state)
{
	double		u = NextUniform(state);
	double		x;

	if (d->integer)
	{
		double		lo = ceil(d->min);
		double		hi = floor(d->max);

		if (d->log)
			x = floor(exp(log(Max(lo, 1e-300)) + u * (log(hi + 1) - log(Max(lo, 1e-300)))));
		else
			x = lo + floor(u * (hi - lo + 1));
		x = Min(Max(x, lo), hi);
	}
	else
	{
		char		text[32];

		x = d->log ? exp(log(d->min) + u * (log(d->max) - log(d->min))) :
			d->min + u * (d->max - d->min);
		snprintf(text, sizeof(text), "%.4g", x);
		x = Min(Max(strtod(text, NULL), d->min), d->max);
	}
	return NumberValue(x);
}

/* Whether an earlier trial of the same algorithm had these options */
static bool
TriedBefore(const Trial *trials, int n, const RecAlgorithm *alg, Jsonb *options)
{
	for (int t = 0; t < n; t++)
		if (trials[t].alg == alg &&
			compareJsonbContainers(&trials[t].options->root, &options->root) == 0)
			return true;
	return false;
}

/*
 * The configuration of trial t: the grid's t-th combination (algorithms in the
 * order given, the first dimension slowest); for a random search, first each
 * algorithm with its defaults (so the search never ends worse than them on the
 * validation rows), then a random draw for the algorithms in turn that no
 * earlier trial made.  NULL when a random search has
 * no configuration left to try.
 */
static Jsonb *
NextConfiguration(TuneSpec *spec, int t, const Trial *trials, uint64 *state,
				  const RecAlgorithm **alg)
{
	if (spec->grid)
	{
		int64		index = t;

		for (int i = 0; i < spec->n_algs; i++)
		{
			AlgorithmSpace *as = &spec->algs[i];
			JsonbValue *chosen;

			if (index >= as->grid_size)
			{
				index -= as->grid_size;
				continue;
			}
			chosen = palloc(sizeof(JsonbValue) * Max(as->n_dims, 1));
			for (int j = as->n_dims - 1; j >= 0; j--)
			{
				chosen[j] = as->dims[j].values[index % as->dims[j].n_values];
				index /= as->dims[j].n_values;
			}
			*alg = as->alg;
			return BuildOptions(as, chosen);
		}
		return NULL;
	}

	/* a random search starts with every algorithm's defaults */
	if (t < spec->n_algs)
	{
		*alg = spec->algs[t].alg;
		return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	}
	for (int attempt = 0; attempt < spec->n_algs; attempt++)
	{
		AlgorithmSpace *as = &spec->algs[(t + attempt) % spec->n_algs];

		if (as->exhausted)
			continue;
		for (int draw = 0; draw < TUNE_MAX_DRAWS; draw++)
		{
			JsonbValue *chosen = palloc(sizeof(JsonbValue) * Max(as->n_dims, 1));
			Jsonb	   *options;

			for (int j = 0; j < as->n_dims; j++)
			{
				Dimension  *d = &as->dims[j];

				if (d->is_range)
					chosen[j] = DrawRange(d, state);
				else
					chosen[j] = d->values[(int) (NextUniform(state) * d->n_values)];
			}
			options = BuildOptions(as, chosen);
			if (!TriedBefore(trials, t, as->alg, options))
			{
				*alg = as->alg;
				return options;
			}
		}
		as->exhausted = true;
	}
	return NULL;
}

/* ------------------------------------------------------------------ rows and split */

/* Row callback of the source query: keeps rows with a user, an item and a value */
static void
TuneRowIn(void *arg, const RecSourceRow *row)
{
	TuneRows   *tr = (TuneRows *) arg;
	TuneRow    *r;

	tr->returned++;
	if (row->user_null || row->item_null || row->value_null)
		return;
	if (!row->time_null && isnan(row->time))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("time (column 4) of the source query must not be NaN (user " INT64_FORMAT ", item " INT64_FORMAT ")",
						row->user, row->item)));
	if (tr->n == tr->cap)
	{
		tr->cap *= 2;
		tr->rows = repalloc_huge(tr->rows, sizeof(TuneRow) * tr->cap);
	}
	r = &tr->rows[tr->n++];
	r->user = row->user;
	r->item = row->item;
	r->value = row->value;
	r->valid = false;
	r->has_time = !row->time_null;
	r->time = row->time;
	if ((tr->n & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();
}

/* qsort of row pointers: by time (rows without one first), then user, item */
static int
CompareByTime(const void *a, const void *b)
{
	const TuneRow *x = *(TuneRow *const *) a;
	const TuneRow *y = *(TuneRow *const *) b;

	if (x->has_time != y->has_time)
		return x->has_time ? 1 : -1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

/* qsort of row pointers: by user, then as CompareByTime */
static int
CompareByUserTime(const void *a, const void *b)
{
	const TuneRow *x = *(TuneRow *const *) a;
	const TuneRow *y = *(TuneRow *const *) b;

	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	return CompareByTime(a, b);
}

/*
 * Marks the validation rows: random (a hash of user, item and seed below
 * test_fraction, so repeated pairs fall on one side), time (the rows at or
 * after the time that leaves test_fraction of the rows after it) or user_last
 * (each user's last k rows by time, for users with more than k).  Returns how
 * many were held out.
 */
static int64
SplitRows(TuneRows *tr, const TuneSpec *spec)
{
	int64		n_valid = 0;
	TuneRow   **order;

	if (spec->split_by == SPLIT_RANDOM)
	{
		for (int64 i = 0; i < tr->n; i++)
		{
			TuneRow    *r = &tr->rows[i];
			uint64		h = SplitMix((uint64) r->user ^ SplitMix((uint64) r->item ^ SplitMix(spec->seed)));

			r->valid = (double) (h >> 11) * (1.0 / 9007199254740992.0) < spec->test_fraction;
			n_valid += r->valid ? 1 : 0;
		}
		return n_valid;
	}

	if (tr->n_columns < 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("split by \"%s\" needs a 4th column (the time of each row) in the source query",
						spec->split_by == SPLIT_TIME ? "time" : "user_last")));
	order = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(TuneRow *) * Max(tr->n, 1));
	for (int64 i = 0; i < tr->n; i++)
		order[i] = &tr->rows[i];
	if (spec->split_by == SPLIT_TIME)
	{
		int64		want = (int64) ceil(spec->test_fraction * (double) tr->n);
		TuneRow    *cut;

		qsort(order, tr->n, sizeof(TuneRow *), CompareByTime);
		if (want < 1 || want >= tr->n)
			return 0;
		cut = order[tr->n - want];
		if (!cut->has_time)
			return 0;
		for (int64 i = 0; i < tr->n; i++)
		{
			TuneRow    *r = order[i];

			r->valid = r->has_time && r->time >= cut->time;
			n_valid += r->valid ? 1 : 0;
		}
		return n_valid;
	}

	/* user_last */
	qsort(order, tr->n, sizeof(TuneRow *), CompareByUserTime);
	for (int64 first = 0, next; first < tr->n; first = next)
	{
		for (next = first; next < tr->n && order[next]->user == order[first]->user; next++)
			;
		if (next - first <= spec->last_k)
			continue;
		for (int64 i = next - spec->last_k; i < next; i++)
		{
			order[i]->valid = true;
			n_valid++;
		}
	}
	return n_valid;
}

/* ------------------------------------------------------------------ validation */

/*
 * The metrics of a model on the validation rows: what recsys.evaluate reports
 * for them as a test set, with the search's evaluate options.
 */
static Jsonb *
ValidationMetrics(Datum model, const TuneRow *valid, int64 n, const TuneSpec *spec)
{
	RecTestRow *rows = MemoryContextAllocHuge(CurrentMemoryContext,
											  sizeof(RecTestRow) * Max(n, 1));

	for (int64 i = 0; i < n; i++)
	{
		rows[i].user = valid[i].user;
		rows[i].item = valid[i].item;
		rows[i].value = valid[i].value;
	}
	return RecEvaluateRows(model, rows, n, n, true, spec->k, spec->eval_options);
}

/* ------------------------------------------------------------------ trials */

/* Trains the algorithm with options on the rows (all, or the training side) */
static RecModelHeader *
TrainOn(const RecAlgorithm *alg, Jsonb *options, const TuneRows *tr, bool training_side_only)
{
	RecTraining *t = RecTrainingBegin(CurrentMemoryContext, alg->code, options);

	for (int64 i = 0; i < tr->n; i++)
	{
		const TuneRow *r = &tr->rows[i];

		if (training_side_only && r->valid)
			continue;
		RecTrainingAdd(t, r->user, r->item, r->value);
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return RecTrainingFinish(t);
}

/* Whether a trial's error is the trial's own (recorded) rather than the search's */
static bool
TrialError(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_INSUFFICIENT_RESOURCES ||
		sqlerrcode == ERRCODE_DATA_EXCEPTION ||
		sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE;
}

/*
 * Runs one trial in a subtransaction of its own: trains on the training side,
 * scores on the validation rows.  An error of the trial's own (out of memory,
 * over recsys.max_train_mb, refused data) is recorded in it; any other (a
 * cancel) ends the search.
 */
static void
RunTrial(Trial *trial, const TuneRows *tr, const TuneRow *valid, int64 n_valid,
		 const TuneSpec *spec)
{
	MemoryContext outer = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	MemoryContext work = AllocSetContextCreate(outer, "recsys tune trial", ALLOCSET_DEFAULT_SIZES);
	instr_time	start;
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(start);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(work);
	PG_TRY();
	{
		RecModelHeader *m = TrainOn(trial->alg, trial->options, tr, true);
		Jsonb	   *metrics;

		if (m == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the training side of the split has no interactions")));
		metrics = ValidationMetrics(PointerGetDatum(m), valid, n_valid, spec);
		MemoryContextSwitchTo(outer);
		trial->metrics = DatumGetJsonbPCopy(JsonbPGetDatum(metrics));
		trial->has_score = RecMetricValue(trial->metrics, spec->metric, &trial->score);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(outer);
		edata = CopyErrorData();
		if (!TrialError(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(outer);
		CurrentResourceOwner = owner;
		trial->error = pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextDelete(work);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	trial->seconds = INSTR_TIME_GET_DOUBLE(elapsed);
}

/* Whether trial a scores better than b (a failed or unscored trial never does) */
static bool
Better(const Trial *a, const Trial *b, const TuneSpec *spec)
{
	if (!a->has_score)
		return false;
	if (b == NULL || !b->has_score)
		return true;
	return spec->lower_is_better ? a->score < b->score : a->score > b->score;
}

/* Writes the trials into recsys.tuning_trials as the caller (its policies apply) */
static void
RecordTrials(const char *name, Oid owner, int64 version, const Trial *trials, int n, int best)
{
	Oid			types[11] = {TEXTOID, REGROLEOID, INT8OID, INT4OID, TEXTOID, JSONBOID,
	JSONBOID, FLOAT8OID, FLOAT8OID, TEXTOID, BOOLOID};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int t = 0; t < n; t++)
	{
		Datum		values[11];
		char		nulls[11];
		int			rc;

		memset(nulls, ' ', sizeof(nulls));
		values[0] = CStringGetTextDatum(name);
		values[1] = ObjectIdGetDatum(owner);
		values[2] = Int64GetDatum(version);
		values[3] = Int32GetDatum(t + 1);
		values[4] = CStringGetTextDatum(trials[t].alg->name);
		values[5] = JsonbPGetDatum(trials[t].options);
		values[6] = trials[t].metrics ? JsonbPGetDatum(trials[t].metrics) : (Datum) 0;
		nulls[6] = trials[t].metrics ? ' ' : 'n';
		values[7] = Float8GetDatum(trials[t].score);
		nulls[7] = trials[t].has_score ? ' ' : 'n';
		values[8] = Float8GetDatum(trials[t].seconds);
		values[9] = trials[t].error ? CStringGetTextDatum(trials[t].error) : (Datum) 0;
		nulls[9] = trials[t].error ? ' ' : 'n';
		values[10] = BoolGetDatum(t == best);
		rc = SPI_execute_with_args("INSERT INTO recsys.tuning_trials"
								   " (name, owner, version, trial, algorithm, options, metrics,"
								   "  score, seconds, error, best)"
								   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
								   11, types, values, nulls, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "recording a trial failed: %s", SPI_result_code_string(rc));
	}
	SPI_finish();
}

/*
 * recsys.tune(name text, source_query text, search jsonb) returns jsonb: the
 * search (README "Choosing and shipping a model"); returns the registered
 * version's model_info with the best trial, its score and the metric.
 */
PG_FUNCTION_INFO_V1(tune);
Datum
tune(PG_FUNCTION_ARGS)
{
	char	   *name = RecModelNameArg(fcinfo, 0);
	text	   *source;
	Jsonb	   *search;
	TuneSpec	spec;
	RecRegistryTarget target;
	RecAsOwner	as;
	TuneRows	tr;
	TuneRow    *valid;
	int64		n_valid;
	int64		n_train;
	Trial	   *trials;
	int			n_trials = 0;
	int			best = -1;
	uint64		state;
	RecModelHeader *final;
	int64		version;
	Datum		info;
	char	   *extra;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source_query must not be NULL")));
	source = PG_GETARG_TEXT_PP(1);
	search = PG_ARGISNULL(2) ?
		DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"))) : PG_GETARG_JSONB_P(2);

	/* everything is checked before the source query runs */
	ParseSearch(search, &spec);
	RecRegistryPrepare(name, &target);
	if (pg_class_aclcheck(RecExtensionRelation("tuning_trials", false), GetUserId(),
						  ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "tuning_trials");

	/* the source query, once, as the owner */
	tr.cap = 1024;
	tr.n = 0;
	tr.returned = 0;
	tr.rows = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(TuneRow) * tr.cap);
	RecBeginAsOwner(&as, target.owner, target.search_path);
	tr.n_columns = RecRunSourceQueryTimed(text_to_cstring(source), "source query", 3, INT_MAX,
										  true, TuneRowIn, &tr);
	RecEndAsOwner(&as);
	if (tr.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source query of model \"%s\" returned no interactions",
						RecMessageText(name))));

	/* the split, and the validation rows sorted for scoring */
	n_valid = SplitRows(&tr, &spec);
	n_train = tr.n - n_valid;
	if (n_valid == 0 || n_train == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the split leaves %s empty (" INT64_FORMAT " rows)",
						n_valid == 0 ? "the validation side" : "the training side", tr.n),
				 errhint("Change split.test_fraction or split.k, or give more rows.")));
	valid = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(TuneRow) * n_valid);
	for (int64 i = 0, j = 0; i < tr.n; i++)
		if (tr.rows[i].valid)
			valid[j++] = tr.rows[i];

	/* the trials */
	trials = palloc0(sizeof(Trial) * spec.trials);
	state = SplitMix(spec.seed ^ UINT64CONST(0x5DEECE66D));
	for (int t = 0; t < spec.trials; t++)
	{
		Trial	   *trial = &trials[n_trials];

		CHECK_FOR_INTERRUPTS();
		trial->options = NextConfiguration(&spec, t, trials, &state, &trial->alg);
		if (trial->options == NULL)
			break;
		RunTrial(trial, &tr, valid, n_valid, &spec);
		n_trials++;
		if (trial->error != NULL)
			ereport(NOTICE,
					(errmsg("trial %d/%d: %s %s failed after %.2f s: %s", n_trials, spec.trials,
							trial->alg->name,
							JsonbToCString(NULL, &trial->options->root, VARSIZE(trial->options)),
							trial->seconds, trial->error)));
		else
			ereport(NOTICE,
					(errmsg("trial %d/%d: %s %s %s = %s (%.2f s)", n_trials, spec.trials,
							trial->alg->name,
							JsonbToCString(NULL, &trial->options->root, VARSIZE(trial->options)),
							spec.metric,
							trial->has_score ? psprintf("%.6g", trial->score) : "null",
							trial->seconds)));
		if (Better(trial, best >= 0 ? &trials[best] : NULL, &spec))
			best = n_trials - 1;
	}
	if (best < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no trial of the search produced a %s score", spec.metric),
				 n_trials > 0 && trials[0].error ?
				 errdetail("The first trial failed: %s", trials[0].error) :
				 errdetail("No validation user was known to the trained models.")));

	/* the best configuration on all the rows, registered as the new live version */
	CHECK_FOR_INTERRUPTS();
	final = TrainOn(trials[best].alg, trials[best].options, &tr, false);
	info = RecRegistryStoreTuned(name, &target, trials[best].alg->code, source,
								 trials[best].options, final, trials[best].metrics, &version);
	RecordTrials(name, target.owner, version, trials, n_trials, best);

	extra = psprintf("{\"trial\": %d, \"trials\": %d, \"metric\": \"%s\", \"score\": %s}",
					 best + 1, n_trials, spec.metric,
					 DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(trials[best].score))));
	PG_RETURN_DATUM(DirectFunctionCall2(jsonb_concat, info,
										DirectFunctionCall1(jsonb_in, CStringGetDatum(extra))));
}
