/*
 * options.c
 *		The options of the training aggregates: one spec array per algorithm (the
 *		keys it accepts, their kinds, ranges and defaults), parsing and checking a
 *		jsonb options object against it, writing the effective options back as
 *		JSON (what a model records and model_info shows), and checking the options
 *		text a model carries by exactly the same rules.
 *
 * A new algorithm declares its options struct in options.h and its spec array
 * here; the algorithm table (algorithms.c) says which array is whose.  What an
 * option means is its fit's business: nothing here knows what "alpha" does.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "algorithms.h"
#include "neighbours.h"
#include "model.h"
#include "options.h"
#include "solver.h"

/* every options struct fits the buffer the aggregate state keeps it in */
StaticAssertDecl(sizeof(AlsOptions) <= RECSYS_OPTIONS_MAX_BYTES, "AlsOptions too large");
StaticAssertDecl(sizeof(IalsOptions) <= RECSYS_OPTIONS_MAX_BYTES, "IalsOptions too large");
StaticAssertDecl(sizeof(KnnOptions) <= RECSYS_OPTIONS_MAX_BYTES, "KnnOptions too large");
StaticAssertDecl(sizeof(EaseOptions) <= RECSYS_OPTIONS_MAX_BYTES, "EaseOptions too large");
StaticAssertDecl(sizeof(ContentOptions) <= RECSYS_OPTIONS_MAX_BYTES, "ContentOptions too large");
StaticAssertDecl(sizeof(HybridOptions) <= RECSYS_OPTIONS_MAX_BYTES, "HybridOptions too large");

/*
 * The spec arrays, in the order an unknown key's hint lists them.  The JSON a
 * model records is normalised by jsonb, so this order does not reach it.
 */
const RecOptionSpec AlsOptionSpecs[] = {
	{"factors", RECSYS_OPTION_INTEGER, 1, RECSYS_MAX_FACTORS, 32, NULL, offsetof(AlsOptions, factors)},
	{"iterations", RECSYS_OPTION_INTEGER, 0, 10000, 15, NULL, offsetof(AlsOptions, iterations)},
	{"regularization", RECSYS_OPTION_NUMBER, 0, 1e6, 0.1, NULL, offsetof(AlsOptions, regularization)},
	{"biases", RECSYS_OPTION_BOOLEAN, 0, 0, 1, NULL, offsetof(AlsOptions, biases)},
	{"index", RECSYS_OPTION_INDEX, 0, 0, 0, NULL, offsetof(AlsOptions, index)},
	RECSYS_COMMON_OPTION_SPECS(AlsOptions),
};

/* the iALS solvers, indexed by IALS_SOLVER_* */
static const char *const IalsSolverChoices[] = {"cg", "cholesky", NULL};

StaticAssertDecl(IALS_SOLVER_CG == 0 && IALS_SOLVER_CHOLESKY == 1,
				 "IalsSolverChoices is indexed by IALS_SOLVER_*");

/* how a weight becomes a confidence, indexed by IALS_CONFIDENCE_* */
static const char *const IalsConfidenceChoices[] = {"linear", "log", NULL};

StaticAssertDecl(IALS_CONFIDENCE_LINEAR == 0 && IALS_CONFIDENCE_LOG == 1,
				 "IalsConfidenceChoices is indexed by IALS_CONFIDENCE_*");

/*
 * Defaults from bench/60_defaults.sh (README, Getting good results): within a
 * few percent of the best NDCG@10 of its grid on every shape it generates.
 */
const RecOptionSpec IalsOptionSpecs[] = {
	{"factors", RECSYS_OPTION_INTEGER, 1, RECSYS_MAX_FACTORS, 32, NULL, offsetof(IalsOptions, factors)},
	{"iterations", RECSYS_OPTION_INTEGER, 0, 10000, 15, NULL, offsetof(IalsOptions, iterations)},
	{"regularization", RECSYS_OPTION_NUMBER, 0, 1e6, 2.25, NULL, offsetof(IalsOptions, regularization)},
	{"alpha", RECSYS_OPTION_NUMBER, 0, 1e6, 20, NULL, offsetof(IalsOptions, alpha)},
	{"confidence", RECSYS_OPTION_CHOICE, 0, 0, IALS_CONFIDENCE_LOG, IalsConfidenceChoices,
	 offsetof(IalsOptions, confidence)},
	{"epsilon", RECSYS_OPTION_NUMBER, 1e-6, 1e9, 1, NULL, offsetof(IalsOptions, epsilon)},
	{"confidence_scale", RECSYS_OPTION_NUMBER, 0, 1e38, 0, NULL, offsetof(IalsOptions, confidence_scale)},
	{"regularization_exponent", RECSYS_OPTION_NUMBER, 0, 1, 0.5, NULL,
	 offsetof(IalsOptions, regularization_exponent)},
	{"cg_steps", RECSYS_OPTION_INTEGER, 1, 1024, 32, NULL, offsetof(IalsOptions, cg_steps)},
	{"cg_tolerance", RECSYS_OPTION_NUMBER, 0, 0.5, 1e-4, NULL, offsetof(IalsOptions, cg_tolerance)},
	{"solver", RECSYS_OPTION_CHOICE, 0, 0, IALS_SOLVER_CG, IalsSolverChoices, offsetof(IalsOptions, solver)},
	{"index", RECSYS_OPTION_INDEX, 0, 0, 0, NULL, offsetof(IalsOptions, index)},
	RECSYS_COMMON_OPTION_SPECS(IalsOptions),
};

/* kNN's choices, indexed by KNN_KIND_* and KNN_SIMILARITY_* */
static const char *const KnnKindChoices[] = {"item", "user", NULL};
static const char *const KnnSimilarityChoices[] = {
	"cosine", "pearson", "jaccard", "asymmetric_cosine", NULL
};

/*
 * train_knn: defaults from bench/60_defaults.sh, item-based Jaccard with 100
 * neighbours shrunk by 100 co-occurrences (within a few percent of the best of
 * its grid on every shape there, where cosine without shrinkage was not)
 */
const RecOptionSpec KnnOptionSpecs[] = {
	{"kind", RECSYS_OPTION_CHOICE, 0, 0, KNN_KIND_ITEM, KnnKindChoices, offsetof(KnnOptions, kind)},
	{"similarity", RECSYS_OPTION_CHOICE, 0, 0, KNN_SIMILARITY_JACCARD, KnnSimilarityChoices,
	offsetof(KnnOptions, similarity)},
	{"alpha", RECSYS_OPTION_NUMBER, 0, 1, 0.5, NULL, offsetof(KnnOptions, alpha)},
	{"neighbours", RECSYS_OPTION_INTEGER, 1, 100000, 100, NULL, offsetof(KnnOptions, neighbours)},
	{"shrinkage", RECSYS_OPTION_NUMBER, 0, 1e6, 100, NULL, offsetof(KnnOptions, shrinkage)},
	{"min_support", RECSYS_OPTION_INTEGER, 1, PG_INT32_MAX, 1, NULL, offsetof(KnnOptions, min_support)},
	{"normalize", RECSYS_OPTION_BOOLEAN, 0, 0, 0, NULL, offsetof(KnnOptions, normalize)},
	RECSYS_COMMON_OPTION_SPECS(KnnOptions),
};

/* how a value enters EASE's X, indexed by REC_EASE_VALUES_* */
static const char *const EaseValuesChoices[] = {"binary", "log", "raw", NULL};

StaticAssertDecl(REC_EASE_VALUES_BINARY == 0 && REC_EASE_VALUES_LOG == 1 &&
				 REC_EASE_VALUES_RAW == 2,
				 "EaseValuesChoices is indexed by REC_EASE_VALUES_*");

/*
 * train_ease: lambda and values from bench/60_defaults.sh (binary values beat
 * log and raw ones on every shape there); neighbours and max_items 0 mean "all".
 */
const RecOptionSpec EaseOptionSpecs[] = {
	{"regularization", RECSYS_OPTION_NUMBER, 0, 1e6, 1000, NULL, offsetof(EaseOptions, regularization)},
	{"neighbours", RECSYS_OPTION_INTEGER, 0, PG_INT32_MAX, 200, NULL, offsetof(EaseOptions, neighbours)},
	{"max_items", RECSYS_OPTION_INTEGER, 0, PG_INT32_MAX, 0, NULL, offsetof(EaseOptions, max_items)},
	{"values", RECSYS_OPTION_CHOICE, 0, 0, REC_EASE_VALUES_BINARY, EaseValuesChoices, offsetof(EaseOptions, values)},
	RECSYS_COMMON_OPTION_SPECS(EaseOptions),
};

/* train_content: how profiles weigh a user's items, and TF-IDF over text */
const RecOptionSpec ContentOptionSpecs[] = {
	{"center", RECSYS_OPTION_BOOLEAN, 0, 0, 0, NULL, offsetof(ContentOptions, center)},
	{"min_df", RECSYS_OPTION_INTEGER, 1, PG_INT32_MAX, 1, NULL, offsetof(ContentOptions, min_df)},
	{"max_df", RECSYS_OPTION_NUMBER, 1e-9, 1, 1, NULL, offsetof(ContentOptions, max_df)},
	{"max_features", RECSYS_OPTION_INTEGER, 0, PG_INT32_MAX, 0, NULL,
	 offsetof(ContentOptions, max_features)},
	{"sublinear_tf", RECSYS_OPTION_BOOLEAN, 0, 0, 0, NULL, offsetof(ContentOptions, sublinear_tf)},
	RECSYS_COMMON_OPTION_SPECS(ContentOptions),
};

/* train_hybrid: train_ials's keys and defaults, then the map's */
const RecOptionSpec HybridOptionSpecs[] = {
	{"factors", RECSYS_OPTION_INTEGER, 1, RECSYS_MAX_FACTORS, 32, NULL, offsetof(HybridOptions, ials.factors)},
	{"iterations", RECSYS_OPTION_INTEGER, 0, 10000, 15, NULL, offsetof(HybridOptions, ials.iterations)},
	{"regularization", RECSYS_OPTION_NUMBER, 0, 1e6, 2.25, NULL, offsetof(HybridOptions, ials.regularization)},
	{"alpha", RECSYS_OPTION_NUMBER, 0, 1e6, 20, NULL, offsetof(HybridOptions, ials.alpha)},
	{"confidence", RECSYS_OPTION_CHOICE, 0, 0, IALS_CONFIDENCE_LOG, IalsConfidenceChoices,
	 offsetof(HybridOptions, ials.confidence)},
	{"epsilon", RECSYS_OPTION_NUMBER, 1e-6, 1e9, 1, NULL, offsetof(HybridOptions, ials.epsilon)},
	{"confidence_scale", RECSYS_OPTION_NUMBER, 0, 1e38, 0, NULL, offsetof(HybridOptions, ials.confidence_scale)},
	{"regularization_exponent", RECSYS_OPTION_NUMBER, 0, 1, 0.5, NULL,
	 offsetof(HybridOptions, ials.regularization_exponent)},
	{"cg_steps", RECSYS_OPTION_INTEGER, 1, 1024, 32, NULL, offsetof(HybridOptions, ials.cg_steps)},
	{"cg_tolerance", RECSYS_OPTION_NUMBER, 0, 0.5, 1e-4, NULL, offsetof(HybridOptions, ials.cg_tolerance)},
	{"solver", RECSYS_OPTION_CHOICE, 0, 0, IALS_SOLVER_CG, IalsSolverChoices,
	 offsetof(HybridOptions, ials.solver)},
	{"explicit", RECSYS_OPTION_BOOLEAN, 0, 0, 0, NULL, offsetof(HybridOptions, explicit_feedback)},
	{"feature_regularization", RECSYS_OPTION_NUMBER, 1e-6, 1e9, 1, NULL,
	 offsetof(HybridOptions, feature_regularization)},
	{"cold_threshold", RECSYS_OPTION_INTEGER, 0, PG_INT32_MAX, 5, NULL,
	 offsetof(HybridOptions, cold_threshold)},
	RECSYS_COMMON_OPTION_SPECS_AT(HybridOptions, ials.common),
};

static const RecAlgorithm *AlgorithmRow(int algorithm);

/* Defaults of the index options (options.h) */
void
RecIndexOptionsDefault(RecIndexOptions *o)
{
	memset(o, 0, sizeof(*o));
	o->vectors = true;
	o->iterations = 10;
	o->seed = 42;
}

/*
 * An integral index option value in lo .. hi into *out; NULL or the message.
 * *too_large is set when the value passes hi and hi is the format's limit
 * (limit_is_hard).
 */
static char *
IndexIntOption(JsonbValue *v, const char *what, const char *key, int64 lo, int64 hi,
			   bool limit_is_hard, int64 *out, bool *too_large)
{
	double		d;

	if (v->type != jbvNumeric)
		return psprintf("%s \"%s\" must be a number, got %s", what, key, RecJsonValueText(v));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (!isfinite(d) || d != floor(d))
		return psprintf("%s \"%s\" must be an integer, got %s", what, key, RecJsonValueText(v));
	if (limit_is_hard && d > (double) hi)
	{
		*too_large = true;
		return psprintf("%s \"%s\" is %s, the limit is " INT64_FORMAT, what, key,
						RecJsonValueText(v), hi);
	}
	if (d < (double) lo || d > (double) hi)
		return psprintf("%s \"%s\" must be between " INT64_FORMAT " and " INT64_FORMAT ", got %s",
						what, key, lo, hi, RecJsonValueText(v));
	*out = (int64) d;
	return NULL;
}

/* Reads and checks an object of index options (options.h) */
char *
RecIndexOptionsRead(JsonbContainer *obj, const char *what, RecIndexOptions *o,
					bool *too_large)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;

	RecIndexOptionsDefault(o);
	*too_large = false;
	if (!JsonContainerIsObject(obj) || JsonContainerIsScalar(obj))
		return psprintf("%ss must be a JSON object", what);
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		char	   *msg = NULL;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "lists") == 0)
			msg = IndexIntOption(&v, what, key, 1, RECSYS_ANN_MAX_LISTS, true, &o->lists, too_large);
		else if (strcmp(key, "probes") == 0)
			msg = IndexIntOption(&v, what, key, 1, RECSYS_ANN_MAX_LISTS, false, &o->probes, too_large);
		else if (strcmp(key, "iterations") == 0)
			msg = IndexIntOption(&v, what, key, 0, RECSYS_INDEX_MAX_ITERATIONS, false,
								 &o->iterations, too_large);
		else if (strcmp(key, "sample") == 0)
			msg = IndexIntOption(&v, what, key, 1, PG_INT32_MAX, false, &o->sample, too_large);
		else if (strcmp(key, "seed") == 0)
			msg = IndexIntOption(&v, what, key, 0, RECSYS_INDEX_MAX_SEED, false, &o->seed, too_large);
		else if (strcmp(key, "store_vectors") == 0)
		{
			if (v.type != jbvBool)
				msg = psprintf("%s \"store_vectors\" must be true or false, got %s", what,
							   RecJsonValueText(&v));
			else
				o->vectors = v.val.boolean;
		}
		else
			msg = psprintf("unknown %s \"%s\" (the options are lists, probes, iterations, sample, seed and store_vectors)",
						   what, RecEchoInput(key, strlen(key)));
		if (msg != NULL)
			return msg;
	}
	return NULL;
}

/* The options struct's index options, found through the spec array's INDEX row */
const RecIndexOptions *
RecOptionsIndex(int algorithm, const void *opts)
{
	const RecAlgorithm *alg = AlgorithmRow(algorithm);

	for (int i = 0; alg->options[i].name != NULL; i++)
		if (alg->options[i].kind == RECSYS_OPTION_INDEX)
			return (const RecIndexOptions *) ((const char *) opts + alg->options[i].offset);
	return NULL;
}

/* Keys in a spec array: the rows before its NULL name */
int
RecOptionCount(const RecOptionSpec *specs)
{
	int			n = 0;

	while (specs[n].name != NULL)
		n++;
	return n;
}

/* The table row of an algorithm code; an internal error if there is none */
static const RecAlgorithm *
AlgorithmRow(int algorithm)
{
	const RecAlgorithm *alg = RecAlgorithmByCode(algorithm);

	if (alg == NULL)
		elog(ERROR, "unknown recsys algorithm code %d", algorithm);
	return alg;
}

/* A user's value as an error message may repeat it (options.h) */
char *
RecEchoInput(const char *s, size_t len)
{
	int			cut;

	if (len <= RECSYS_ECHO_MAX)
		return pnstrdup(s, len);
	cut = pg_mbcliplen(s, (int) Min(len, (size_t) MaxAllocSize), RECSYS_ECHO_MAX);
	return psprintf("%.*s... (%zu bytes)", cut, s, len);
}

/* A JSON value as a user wrote it, shortened for an error message */
char *
RecJsonValueText(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return v->val.boolean ? "true" : "false";
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																	NumericGetDatum(v->val.numeric)));

				return RecEchoInput(s, strlen(s));
			}
		case jbvString:
			{
				/* escape only the part that is shown */
				StringInfoData buf;
				size_t		len = v->val.string.len;
				int			cut = len <= RECSYS_ECHO_MAX ? (int) len :
					pg_mbcliplen(v->val.string.val, (int) len, RECSYS_ECHO_MAX);

				initStringInfo(&buf);
				escape_json(&buf, pnstrdup(v->val.string.val, cut));
				if ((size_t) cut < len)
					appendStringInfo(&buf, "... (%zu bytes)", len);
				return buf.data;
			}
		default:
			return "an array or object";
	}
}

/* Why an options object was refused: what ereport would say */
typedef struct OptionError
{
	char	   *msg;
	char	   *hint;			/* NULL if none */
} OptionError;

/*
 * Appends words as an English list: "a", "a or b", "a, b or c" (conjunction
 * "or"/"and"); each word is written through fmt.
 */
static void
AppendList(StringInfo buf, const char *const *words, int n, const char *fmt,
		   const char *conjunction)
{
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, i == n - 1 ? conjunction : ", ");
		appendStringInfo(buf, fmt, words[i]);
	}
}

/* The message for an option value outside what the spec allows */
static char *
BadOption(const RecOptionSpec *spec, JsonbValue *v)
{
	switch (spec->kind)
	{
		case RECSYS_OPTION_INTEGER:
			return psprintf("option \"%s\" must be an integer between %.0f and %.0f, got %s",
							spec->name, spec->min, spec->max, RecJsonValueText(v));
		case RECSYS_OPTION_NUMBER:
			return psprintf("option \"%s\" must be a number between %g and %g, got %s",
							spec->name, spec->min, spec->max, RecJsonValueText(v));
		case RECSYS_OPTION_BOOLEAN:
			return psprintf("option \"%s\" must be true or false, got %s",
							spec->name, RecJsonValueText(v));
		case RECSYS_OPTION_CHOICE:
			{
				StringInfoData buf;
				int			n = 0;

				while (spec->choices[n] != NULL)
					n++;
				initStringInfo(&buf);
				appendStringInfo(&buf, "option \"%s\" must be ", spec->name);
				AppendList(&buf, spec->choices, n, "\"%s\"", " or ");
				appendStringInfo(&buf, ", got %s", RecJsonValueText(v));
				return buf.data;
			}
		case RECSYS_OPTION_INDEX:
			return psprintf("option \"%s\" must be an object of build_index options, got %s",
							spec->name, RecJsonValueText(v));
	}
	return psprintf("option \"%s\" is invalid", spec->name);
}

/* Writes a spec's default into its field */
static void
SetDefault(const RecOptionSpec *spec, void *opts)
{
	char	   *field = (char *) opts + spec->offset;

	switch (spec->kind)
	{
		case RECSYS_OPTION_INTEGER:
		case RECSYS_OPTION_CHOICE:
			*(int64 *) field = (int64) spec->default_value;
			break;
		case RECSYS_OPTION_NUMBER:
			*(double *) field = spec->default_value;
			break;
		case RECSYS_OPTION_BOOLEAN:
			*(bool *) field = spec->default_value != 0;
			break;
		case RECSYS_OPTION_INDEX:
			RecIndexOptionsDefault((RecIndexOptions *) field);
			break;
	}
}

/*
 * Stores one option value after checking its type and range; returns NULL, or
 * the message if the value is refused.  Numbers are compared as float8 with
 * overflow turned into infinity, so a value of any size is refused as out of
 * range (22023), never as a float8 overflow.
 */
static char *
SetOption(const RecOptionSpec *spec, JsonbValue *v, void *opts)
{
	char	   *field = (char *) opts + spec->offset;

	switch (spec->kind)
	{
		case RECSYS_OPTION_INTEGER:
		case RECSYS_OPTION_NUMBER:
			{
				Numeric		num;
				double		d;

				if (v->type != jbvNumeric)
					return BadOption(spec, v);
				num = v->val.numeric;
				d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   NumericGetDatum(num)));
				if (!(d >= spec->min && d <= spec->max))
					return BadOption(spec, v);
				/* below float8 range: readers of a model's options could not convert it */
				if (d == 0.0 && !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num),
																   DirectFunctionCall1(int4_numeric,
																					   Int32GetDatum(0)))))
					return psprintf("option \"%s\" must be 0 or at least %g in magnitude, got %s",
									spec->name, DBL_MIN, RecJsonValueText(v));
				if (spec->kind == RECSYS_OPTION_NUMBER)
				{
					*(double *) field = d;
					break;
				}
				if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num),
													  DirectFunctionCall2(numeric_trunc,
																		  NumericGetDatum(num),
																		  Int32GetDatum(0)))))
					return BadOption(spec, v);
				*(int64 *) field = DatumGetInt64(DirectFunctionCall1(numeric_int8,
																	 NumericGetDatum(num)));
				break;
			}
		case RECSYS_OPTION_BOOLEAN:
			if (v->type != jbvBool)
				return BadOption(spec, v);
			*(bool *) field = v->val.boolean;
			break;
		case RECSYS_OPTION_CHOICE:
			if (v->type != jbvString)
				return BadOption(spec, v);
			for (int c = 0; spec->choices[c] != NULL; c++)
				if (strlen(spec->choices[c]) == v->val.string.len &&
					memcmp(spec->choices[c], v->val.string.val, v->val.string.len) == 0)
				{
					*(int64 *) field = c;
					return NULL;
				}
			return BadOption(spec, v);
		case RECSYS_OPTION_INDEX:
			{
				RecIndexOptions *o = (RecIndexOptions *) field;
				bool		too_large;
				char	   *msg;

				if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
					return BadOption(spec, v);
				msg = RecIndexOptionsRead(v->val.binary.data, "index option", o, &too_large);
				if (msg != NULL)
					return msg;
				o->enabled = true;
				break;
			}
	}
	return NULL;
}

/* Index of the spec named key[len] in an algorithm's array, -1 if it has none */
static int
FindSpec(const RecAlgorithm *alg, const char *key, size_t len)
{
	for (int i = 0; alg->options[i].name != NULL; i++)
		if (strlen(alg->options[i].name) == len &&
			memcmp(alg->options[i].name, key, len) == 0)
			return i;
	return -1;
}

/*
 * The error for a key alg does not accept: if other algorithms of the table
 * accept it, which ones; else the keys alg accepts.
 */
static void
UnknownOption(const RecAlgorithm *alg, const char *key, size_t len, OptionError *err)
{
	const char *others[RECSYS_MAX_ALGORITHMS];
	int			n_others = 0;
	StringInfoData buf;

	for (int a = 0; a < RecAlgorithmCount; a++)
	{
		bool		listed = false;

		/* an aggregate may serve two rows (train_content: vectors and text) */
		for (int o = 0; o < n_others; o++)
			listed |= strcmp(others[o], RecAlgorithms[a].aggregate) == 0;
		if (&RecAlgorithms[a] != alg && FindSpec(&RecAlgorithms[a], key, len) >= 0 &&
			!listed && strcmp(RecAlgorithms[a].aggregate, alg->aggregate) != 0 &&
			n_others < RECSYS_MAX_ALGORITHMS)
			others[n_others++] = RecAlgorithms[a].aggregate;
	}
	initStringInfo(&buf);
	if (n_others > 0)
	{
		appendStringInfo(&buf, "option \"%s\" applies only to ", pnstrdup(key, len));
		AppendList(&buf, others, n_others, "%s", " and ");
		err->msg = buf.data;
		return;
	}
	err->msg = psprintf("unknown option \"%s\" for %s", RecEchoInput(key, len),
						alg->aggregate);
	appendStringInfo(&buf, "%s accepts ", alg->aggregate);
	for (int i = 0; alg->options[i].name != NULL; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", alg->options[i].name);
	appendStringInfoChar(&buf, '.');
	err->hint = buf.data;
}

/*
 * Validates an options object and fills opts (defaults for absent keys); present
 * (if not NULL, one per spec of alg) is set for each key given.  Returns false
 * with *err filled for the first thing refused.
 */
static bool
ReadOptions(Jsonb *jb, const RecAlgorithm *alg, void *opts, bool *present,
			OptionError *err)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	RecDefaultOptions(alg->code, opts);
	if (present)
		memset(present, 0, sizeof(bool) * RecOptionCount(alg->options));
	err->hint = NULL;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
	{
		err->msg = psprintf("options of %s must be a JSON object", alg->aggregate);
		return false;
	}

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			spec;

		if (tok != WJB_KEY)
			continue;
		spec = FindSpec(alg, v.val.string.val, v.val.string.len);
		if (spec < 0)
		{
			UnknownOption(alg, v.val.string.val, v.val.string.len, err);
			return false;
		}
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if ((err->msg = SetOption(&alg->options[spec], &v, opts)) != NULL)
			return false;
		if (present)
			present[spec] = true;
	}
	return true;
}

/* Fills an algorithm's options struct with the default of every key */
void
RecDefaultOptions(int algorithm, void *opts)
{
	const RecAlgorithm *alg = AlgorithmRow(algorithm);

	memset(opts, 0, alg->options_size);
	for (int i = 0; alg->options[i].name != NULL; i++)
		SetDefault(&alg->options[i], opts);
}

/* Validates the options argument of a training aggregate; 22023 if refused */
void
RecParseOptions(int algorithm, Jsonb *jb, void *opts)
{
	OptionError err;

	if (!ReadOptions(jb, AlgorithmRow(algorithm), opts, NULL, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", err.msg),
				 err.hint ? errhint("%s", err.hint) : 0));
}

/*
 * Checks a model's options text by the rules of its algorithm's spec array and
 * reports the keys its header duplicates (options.h)
 */
bool
RecCheckModelOptions(const char *json, int algorithm, RecOptionFacts *facts,
					 char **message)
{
	const RecAlgorithm *alg = RecAlgorithmByCode(algorithm);
	Jsonb	   *jb;
	RecOptionsBuffer opts;
	bool	   *present;
	OptionError err;
	int			spec;

	if (alg == NULL)
	{
		*message = psprintf("unknown algorithm code %d", algorithm);
		return false;
	}
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	present = palloc(sizeof(bool) * RecOptionCount(alg->options));
	if (!ReadOptions(jb, alg, &opts, present, &err))
	{
		*message = err.msg;
		return false;
	}

	/* the keys the header duplicates, wherever (and whether) alg has them */
	memset(facts, 0, sizeof(*facts));
	if ((spec = FindSpec(alg, "factors", 7)) >= 0 && present[spec])
	{
		facts->has_factors = true;
		facts->factors = (int) *(const int64 *) (opts.bytes + alg->options[spec].offset);
	}
	if ((spec = FindSpec(alg, "biases", 6)) >= 0 && present[spec])
	{
		facts->has_biases = true;
		facts->biases = *(const bool *) (opts.bytes + alg->options[spec].offset);
	}
	if ((spec = FindSpec(alg, "keep_interactions", 17)) >= 0 && present[spec])
	{
		facts->has_keep_interactions = true;
		facts->keep_interactions = *(const bool *) (opts.bytes + alg->options[spec].offset);
	}
	if ((spec = FindSpec(alg, "explicit", 8)) >= 0 && present[spec])
	{
		facts->has_explicit = true;
		facts->explicit_feedback = *(const bool *) (opts.bytes + alg->options[spec].offset);
	}
	return true;
}

/* The effective options as normalised JSON text (what model_info shows) */
char *
RecOptionsJson(int algorithm, const void *opts)
{
	const RecAlgorithm *alg = AlgorithmRow(algorithm);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; alg->options[i].name != NULL; i++)
	{
		const RecOptionSpec *spec = &alg->options[i];
		const char *field = (const char *) opts + spec->offset;
		char		num[32];

		/* no index asked for: no key, so such models record what they always did */
		if (spec->kind == RECSYS_OPTION_INDEX && !((const RecIndexOptions *) field)->enabled)
			continue;
		appendStringInfo(&buf, "%s\"%s\": ", buf.len > 1 ? ", " : "", spec->name);
		switch (spec->kind)
		{
			case RECSYS_OPTION_INTEGER:
				appendStringInfo(&buf, INT64_FORMAT, *(const int64 *) field);
				break;
			case RECSYS_OPTION_NUMBER:
				/* the fits take float4: show the value they use */
				float_to_shortest_decimal_buf((float) *(const double *) field, num);
				appendStringInfoString(&buf, num);
				break;
			case RECSYS_OPTION_BOOLEAN:
				appendStringInfoString(&buf, *(const bool *) field ? "true" : "false");
				break;
			case RECSYS_OPTION_CHOICE:
				appendStringInfo(&buf, "\"%s\"", spec->choices[*(const int64 *) field]);
				break;
			case RECSYS_OPTION_INDEX:
				{
					/* the keys given (0: the model-size default, left out) */
					const RecIndexOptions *o = (const RecIndexOptions *) field;

					appendStringInfo(&buf, "{\"iterations\": " INT64_FORMAT ", \"seed\": " INT64_FORMAT
									 ", \"store_vectors\": %s", o->iterations, o->seed,
									 o->vectors ? "true" : "false");
					if (o->lists > 0)
						appendStringInfo(&buf, ", \"lists\": " INT64_FORMAT, o->lists);
					if (o->probes > 0)
						appendStringInfo(&buf, ", \"probes\": " INT64_FORMAT, o->probes);
					if (o->sample > 0)
						appendStringInfo(&buf, ", \"sample\": " INT64_FORMAT, o->sample);
					appendStringInfoChar(&buf, '}');
					break;
				}
		}
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetCString(DirectFunctionCall1(jsonb_out,
											   DirectFunctionCall1(jsonb_in,
																   CStringGetDatum(buf.data))));
}
