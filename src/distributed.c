/*
 * distributed.c
 *		The SQL pieces of distributed ALS (README "Scaling out: sharding"):
 *		recsys.solve_users and recsys.solve_items, aggregates that solve one user
 *		(or item) per group against the other side's factors broadcast as a model
 *		value, and recsys.factor_model, which assembles the factors the groups
 *		return into an ordinary model.
 *
 * The pattern is Spark's ALS: the interactions are partitioned by user on the
 * shards (and a copy by item); with GROUP BY the partition key, postgres_fdw
 * runs a whole group on the shard that holds it, so each shard solves its own
 * users against the broadcast item factors and returns only one row per user.
 * The driver, recsys.train_distributed (SQL, in the install script), alternates
 * the two sides.  Each row is solved by als.c's AlsSolveOneRow, the code a
 * single-node sweep runs, so from the same initial factors the two trainings
 * follow the same loss trajectory.  This file owns the SQL side only: argument
 * checks, mapping ids to indexes of the broadcast model, building results.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/value.h"
#include "funcapi.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ann_sql.h"
#include "model.h"
#include "modelio.h"
#include "modeltype.h"
#include "options.h"
#include "blas.h"
#include "solver.h"
#include "vec.h"

/* The rows of one group: the row's id and its (other id, value) pairs */
typedef struct SolveState
{
	int64		row_id;			/* the user (or item) the group solves */
	Datum		model;			/* the broadcast model, detoasted, in fn_mcxt */
	Jsonb	   *options;		/* NULL: defaults */
	int64		n;
	int64		cap;
	int64	   *other_ids;		/* [cap] */
	float	   *values;			/* [cap] */
} SolveState;

/* The last broadcast model a transition function saw, kept for the whole query */
typedef struct SolveModelCache
{
	Datum		arg;			/* the argument as passed (a Const's is stable) */
	struct varlena *copy;		/* its detoasted bytes, in fn_mcxt */
} SolveModelCache;

/* One (index, arrival) pair of a group, for sorting with duplicates resolved */
typedef struct SolveEntry
{
	int32		index;			/* into the other side of the model */
	int32		pad;
	int64		order;			/* arrival: the last one of an index wins */
	float		value;
} SolveEntry;

/*
 * The model argument of a row as a detoasted copy kept in fn_mcxt: the same
 * broadcast value arrives with every row (the same pointer, for the constant or
 * parameter it is meant to be), so it is copied once per query, not once per
 * group.  A value at the pointer seen last is taken to be the same model: the
 * argument must not vary from row to row.
 */
static Datum
SolveModelArg(FunctionCallInfo fcinfo, Datum arg)
{
	SolveModelCache *c = (SolveModelCache *) fcinfo->flinfo->fn_extra;
	struct varlena *v;

	if (c != NULL && c->arg == arg)
		return PointerGetDatum(c->copy);
	v = PG_DETOAST_DATUM_PACKED(arg);
	if (c != NULL && VARSIZE_ANY_EXHDR(v) == VARSIZE(c->copy) - VARHDRSZ &&
		memcmp(VARDATA_ANY(v), VARDATA(c->copy), VARSIZE_ANY_EXHDR(v)) == 0)
	{
		c->arg = arg;
		return PointerGetDatum(c->copy);
	}
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SolveModelCache));
		fcinfo->flinfo->fn_extra = c;
	}
	/* an earlier copy is not freed: states of groups not yet finished point to it */
	c->copy = MemoryContextAllocHuge(fcinfo->flinfo->fn_mcxt,
									 VARSIZE_ANY_EXHDR(v) + VARHDRSZ);
	SET_VARSIZE(c->copy, VARSIZE_ANY_EXHDR(v) + VARHDRSZ);
	memcpy(VARDATA(c->copy), VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	c->arg = arg;
	return PointerGetDatum(c->copy);
}

/*
 * recsys.solve_transfn(state, row_id, other_id, value, model, options): collects
 * a group's interactions.  Rows with a NULL id or value are skipped, as training
 * skips them; every row of a group must have the same row_id (the aggregate is
 * meant to run with GROUP BY it).
 */
PG_FUNCTION_INFO_V1(solve_transfn);
Datum
solve_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	SolveState *st;
	int64		row_id;
	float		value;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "solve_transfn called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : (SolveState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_POINTER(st);
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the model of solve_users and solve_items must not be NULL")));
	row_id = PG_GETARG_INT64(1);
	value = PG_GETARG_FLOAT4(3);
	if (!isfinite(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("value %g of row %lld is not finite", (double) value,
						(long long) row_id)));

	if (st == NULL)
	{
		old = MemoryContextSwitchTo(aggcxt);
		st = palloc0(sizeof(SolveState));
		st->row_id = row_id;
		st->cap = 16;
		st->other_ids = palloc(sizeof(int64) * st->cap);
		st->values = palloc(sizeof(float) * st->cap);
		if (!PG_ARGISNULL(5))
			st->options = DatumGetJsonbPCopy(PG_GETARG_DATUM(5));
		MemoryContextSwitchTo(old);
		st->model = SolveModelArg(fcinfo, PG_GETARG_DATUM(4));
	}
	else if (row_id != st->row_id)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("solve_users and solve_items solve one row per group, got rows %lld and %lld in one group",
						(long long) st->row_id, (long long) row_id),
				 errhint("Group by the first argument: GROUP BY user_id for solve_users, GROUP BY item_id for solve_items.")));

	if (st->n == st->cap)
	{
		if (st->cap >= (int64) (MaxAllocHugeSize / sizeof(int64) / 2))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("row %lld has too many interactions", (long long) row_id)));
		st->cap *= 2;
		st->other_ids = repalloc_huge(st->other_ids, sizeof(int64) * st->cap);
		st->values = repalloc_huge(st->values, sizeof(float) * st->cap);
	}
	st->other_ids[st->n] = PG_GETARG_INT64(2);
	st->values[st->n] = value;
	st->n++;
	PG_RETURN_POINTER(st);
}

/* qsort order of SolveEntry: by index, then by arrival */
static int
CompareSolveEntries(const void *a, const void *b)
{
	const SolveEntry *x = (const SolveEntry *) a;
	const SolveEntry *y = (const SolveEntry *) b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

/* The Gram matrices of a broadcast implicit model, computed once per query */
typedef struct SolveGramCache
{
	const RecModelHeader *model;	/* the model copy they belong to */
	float	   *gram[2];		/* [0]: of the user factors, [1]: of the items */
} SolveGramCache;

/*
 * G = F^T F of one side of the model (users or items), cached in the final
 * function's fn_extra for the model copy: every group of a query solves
 * against the same broadcast value
 */
static const float *
SolveGram(FunctionCallInfo fcinfo, const RecModelHeader *m, const RecModelView *v,
		  bool user_side)
{
	SolveGramCache *c = (SolveGramCache *) fcinfo->flinfo->fn_extra;
	int			k = m->factors;
	int			side = user_side ? 0 : 1;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SolveGramCache));
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->model != m)
	{
		/* a new model copy (earlier ones are never freed): start over */
		c->model = m;
		c->gram[0] = c->gram[1] = NULL;
	}
	if (c->gram[side] == NULL)
	{
		float	   *g = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
										   sizeof(float) * (Size) k * k);

		IalsGram(user_side ? v->user_factors : v->item_factors,
				 user_side ? m->n_users : m->n_items, k, g);
		c->gram[side] = g;
	}
	return c->gram[side];
}

/* Raises the error of a failed row solve */
static void
SolveError(int rc, const char *what, int64 row_id)
{
	if (rc == RECSYS_ENOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory solving %s %lld", what, (long long) row_id)));
	if (rc == RECSYS_ENOTPD)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the normal equations of %s %lld are not positive definite", what,
						(long long) row_id),
				 errhint("Use a positive \"regularization\".")));
	if (rc != RECSYS_OK)
		elog(ERROR, "solving %s %lld failed with status %d", what, (long long) row_id, rc);
}

/*
 * Solves the group against the other side of the broadcast model and returns
 * the recsys.factor_row (factors, bias, n, loss).  users: the group is a user
 * (the model's item side is fixed), else an item (the user side is fixed and the
 * loss counts the observed pairs, as in the solvers' item half).  An als model
 * gets the explicit solve (duplicates: the last value read wins, as train_als
 * keeps), an ials model the implicit one (duplicate weights add up, as in
 * train_ials), warm-started from the row's factors in the model.
 */
static Datum
SolveFinal(FunctionCallInfo fcinfo, bool users)
{
	SolveState *st = PG_ARGISNULL(0) ? NULL : (SolveState *) PG_GETARG_POINTER(0);
	const char *what = users ? "user" : "item";
	const char *other_what = users ? "item" : "user";
	const RecModelHeader *m;
	RecModelView v;
	bool		implicit;
	const int64 *other_ids;
	int32		n_other;
	SolveEntry *e;
	int32	   *index;
	float	   *values;
	int64		n = 0;
	Vec		   *x;
	float		bias = 0.0f;
	double		loss;
	int			rc;
	TupleDesc	desc;
	Datum		out[4];
	bool		nulls[4] = {false, false, false, false};

	if (st == NULL)
		PG_RETURN_NULL();
	m = RecModelFromDatum(st->model);
	if (m->algorithm != RECSYS_ALG_ALS && m->algorithm != RECSYS_ALG_IALS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("solve_%ss needs an als or ials model, got %s", what,
						RecModelAlgorithmName(m->algorithm))));
	implicit = m->algorithm == RECSYS_ALG_IALS;
	RecModelGetView(m, &v);
	other_ids = users ? v.item_ids : v.user_ids;
	n_other = users ? m->n_items : m->n_users;

	/* ids to sorted indexes of the model, duplicates resolved as training does */
	e = palloc_extended(sizeof(SolveEntry) * Max(st->n, 1), MCXT_ALLOC_HUGE);
	for (int64 j = 0; j < st->n; j++)
	{
		int32		idx = RecFindId(other_ids, n_other, st->other_ids[j]);

		if (idx < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s %lld of %s %lld is not in the model", other_what,
							(long long) st->other_ids[j], what, (long long) st->row_id),
					 errhint("The broadcast model must hold every %s of the interactions.",
							 other_what)));
		if (implicit && st->values[j] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("weight must not be negative, got %g for %s %lld and %s %lld",
							(double) st->values[j], what, (long long) st->row_id,
							other_what, (long long) st->other_ids[j]),
					 errhint("Implicit feedback weights count interactions; leave out or zero negative ones.")));
		e[j].index = idx;
		e[j].pad = 0;
		e[j].order = j;
		e[j].value = st->values[j];
	}
	qsort(e, st->n, sizeof(SolveEntry), CompareSolveEntries);
	index = palloc_extended(sizeof(int32) * Max(st->n, 1), MCXT_ALLOC_HUGE);
	values = palloc_extended(sizeof(float) * Max(st->n, 1), MCXT_ALLOC_HUGE);
	for (int64 j = 0; j < st->n; j++)
	{
		if (n > 0 && index[n - 1] == e[j].index)
		{
			/* a duplicate: weights add up (implicit), the last value wins (explicit) */
			values[n - 1] = implicit ? values[n - 1] + e[j].value : e[j].value;
			continue;
		}
		index[n] = e[j].index;
		values[n] = e[j].value;
		n++;
	}
	x = InitVec(m->factors);

	if (!implicit)
	{
		AlsOptions	opts;
		AlsRowInput in;

		RecParseOptions(RECSYS_ALG_ALS, st->options, &opts);
		if (opts.biases && v.user_bias == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"biases\" is true but the model has no biases"),
					 errhint("Assemble the model with recsys.factor_model and the same options.")));
		memset(&in, 0, sizeof(in));
		in.factors = m->factors;
		in.regularization = (float) opts.regularization;
		in.global_mean = m->global_mean;
		in.residuals = !users;
		in.n = n;
		in.other_index = index;
		in.values = values;
		in.other = users ? v.item_factors : v.user_factors;
		in.other_bias = opts.biases ? (users ? v.item_bias : v.user_bias) : NULL;
		rc = AlsSolveOneRow(&in, x->x, &bias, &loss);
	}
	else
	{
		IalsOptions opts;
		IalsParams	p;
		IalsRowInput in;
		const int64 *own_ids = users ? v.user_ids : v.item_ids;
		int32		own = RecFindId(own_ids, users ? m->n_users : m->n_items, st->row_id);
		float		residual;

		RecParseOptions(RECSYS_ALG_IALS, st->options, &opts);
		memset(&p, 0, sizeof(p));
		p.factors = m->factors;
		p.regularization = (float) opts.regularization;
		/* alpha over the scale train_ials records (train_distributed passes it) */
		p.alpha = IalsEffectiveAlpha(opts.alpha, opts.confidence_scale);
		p.cg_steps = (int) opts.cg_steps;
		p.solver = (int) opts.solver;
		p.confidence = (int) opts.confidence;
		p.epsilon = (float) opts.epsilon;
		p.reg_exponent = (float) opts.regularization_exponent;
		p.cg_tolerance = (float) opts.cg_tolerance;
		memset(&in, 0, sizeof(in));
		in.params = &p;
		in.observed = !users;
		in.n_other = (double) n_other;
		in.n = n;
		in.other_index = index;
		in.values = values;
		in.other = users ? v.item_factors : v.user_factors;
		in.gram = SolveGram(fcinfo, m, &v, !users);
		/* CG starts from the row's factors in the model (zeros for a new row) */
		if (own >= 0)
			memcpy(x->x, (users ? v.user_factors : v.item_factors) + (int64) own * m->factors,
				   sizeof(float) * m->factors);
		rc = IalsSolveOneRow(&in, x->x, &loss, &residual);
	}
	SolveError(rc, what, st->row_id);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "solve_%ss must return a composite type", what);
	desc = BlessTupleDesc(desc);
	out[0] = PointerGetDatum(x);
	out[1] = Float4GetDatum(bias);
	out[2] = Int32GetDatum((int32) Min(n, (int64) PG_INT32_MAX));
	out[3] = Float8GetDatum(loss);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, nulls)));
}

/* recsys.solve_users' final function: one user against the broadcast items */
PG_FUNCTION_INFO_V1(solve_users_final);
Datum
solve_users_final(PG_FUNCTION_ARGS)
{
	return SolveFinal(fcinfo, true);
}

/* recsys.solve_items' final function: one item against the broadcast users */
PG_FUNCTION_INFO_V1(solve_items_final);
Datum
solve_items_final(PG_FUNCTION_ARGS)
{
	return SolveFinal(fcinfo, false);
}

/* ------------------------------------------------------------ factor_model */

/* The elements of a one-dimensional array argument without NULLs, or 0 of them */
static Datum *
ArrayArg(FunctionCallInfo fcinfo, int arg, Oid elemtype, const char *name, int *n)
{
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	*n = 0;
	if (PG_ARGISNULL(arg))
		return NULL;
	a = PG_GETARG_ARRAYTYPE_P(arg);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, n);
	for (int i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL, element %d is", name, i + 1)));
	return elems;
}

/* Ids: at least one, strictly ascending (the model's sorted id arrays) */
static void
CheckIds(Datum *ids, int n, const char *name)
{
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must hold at least one id", name)));
	for (int i = 1; i < n; i++)
		if (DatumGetInt64(ids[i]) <= DatumGetInt64(ids[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s must be strictly ascending, got %lld after %lld", name,
							(long long) DatumGetInt64(ids[i]),
							(long long) DatumGetInt64(ids[i - 1]))));
}

/*
 * Writes one side's factors (n rows of k) from a vec[] argument, or the
 * deterministic initial factors of that side when the argument is NULL
 */
static void
FillFactors(FunctionCallInfo fcinfo, int arg, const char *name, float *dst, int n, int k,
			uint64 seed, uint64 stream, Oid vec_type)
{
	int			count;
	Datum	   *rows;

	if (PG_ARGISNULL(arg))
	{
		RecInitFactors(dst, n, k, seed, stream);
		return;
	}
	rows = ArrayArg(fcinfo, arg, vec_type, name, &count);
	if (count != n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d rows for %d ids", name, count, n)));
	for (int i = 0; i < n; i++)
	{
		Vec		   *x = DatumGetVec(rows[i]);

		if (x->dim != k)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s row %d has %d dimensions, the model has %d factors", name,
							i + 1, x->dim, k)));
		for (int j = 0; j < k; j++)
			if (!(fabsf(x->x[j]) <= RECSYS_MODEL_MAX_FACTOR))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("%s row %d has factor %g, the largest allowed magnitude is %g",
								name, i + 1, (double) x->x[j],
								(double) RECSYS_MODEL_MAX_FACTOR)));
		memcpy(dst + (int64) i * k, x->x, sizeof(float) * k);
	}
}

/* Writes one side's biases from a real[] argument, zeros when it is NULL */
static void
FillBiases(FunctionCallInfo fcinfo, int arg, const char *name, float *dst, int n)
{
	int			count;
	Datum	   *b;

	if (dst == NULL)
		return;
	memset(dst, 0, sizeof(float) * n);
	if (PG_ARGISNULL(arg))
		return;
	b = ArrayArg(fcinfo, arg, FLOAT4OID, name, &count);
	if (count != n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d values for %d ids", name, count, n)));
	for (int i = 0; i < n; i++)
	{
		float		f = DatumGetFloat4(b[i]);

		if (!(fabsf(f) <= RECSYS_MODEL_MAX_BIAS))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s value %d is %g, the largest allowed magnitude is %g", name,
							i + 1, (double) f, (double) RECSYS_MODEL_MAX_BIAS)));
		dst[i] = f;
	}
}

/* A float4 argument that must be finite, or dflt when NULL */
static float
FiniteArg(FunctionCallInfo fcinfo, int arg, const char *name, float dflt)
{
	float		f;

	if (PG_ARGISNULL(arg))
		return dflt;
	f = PG_GETARG_FLOAT4(arg);
	if (!(fabsf(f) <= RECSYS_MODEL_MAX_BIAS))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must be finite and at most %g in magnitude, got %g", name,
						(double) RECSYS_MODEL_MAX_BIAS, (double) f)));
	return f;
}

/*
 * recsys.factor_model(options, user_ids, item_ids, user_factors, item_factors,
 * user_bias, item_bias, item_counts, global_mean, rating_min, rating_max,
 * train_loss, iterations, algorithm) returns recsys.model: a factor model (als,
 * or ials) from its parts.  A NULL factor array gets the deterministic initial
 * factors training starts from (options.seed), NULL biases and counts are zeros;
 * the model keeps no interactions.  Not STRICT: options, user_ids, item_ids and
 * algorithm must not be NULL.
 */
PG_FUNCTION_INFO_V1(factor_model);
Datum
factor_model(PG_FUNCTION_ARGS)
{
	Oid			vec_type = get_fn_expr_argtype(fcinfo->flinfo, 3);
	RecOptionsBuffer opts;
	RecCommonOptions *common = (RecCommonOptions *) &opts;
	char	   *algorithm;
	int			alg;
	int			k;
	bool		biases = false;
	Datum	   *user_ids;
	Datum	   *item_ids;
	int			nu,
				ni,
				count;
	char	   *options_json;
	RecModelHeader *m;
	RecModelMutableView mv;
	Datum	   *counts;

	for (int arg = 0; arg < 3; arg++)
		if (PG_ARGISNULL(arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL",
							arg == 0 ? "options" : (arg == 1 ? "user_ids" : "item_ids"))));
	if (PG_ARGISNULL(13))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("algorithm must not be NULL")));
	algorithm = text_to_cstring(PG_GETARG_TEXT_PP(13));
	if (strcmp(algorithm, "als") == 0)
		alg = RECSYS_ALG_ALS;
	else if (strcmp(algorithm, "ials") == 0)
		alg = RECSYS_ALG_IALS;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factor_model makes als or ials models, got \"%s\"",
						RecEchoInput(algorithm, strlen(algorithm)))));
	if (!OidIsValid(vec_type))
		elog(ERROR, "could not determine the type of user_factors");
	vec_type = get_element_type(vec_type);
	RecParseOptions(alg, PG_GETARG_JSONB_P(0), &opts);
	common->keep_interactions = false;
	if (alg == RECSYS_ALG_ALS)
	{
		k = (int) ((AlsOptions *) &opts)->factors;
		biases = ((AlsOptions *) &opts)->biases;
	}
	else
	{
		k = (int) ((IalsOptions *) &opts)->factors;
		if (!PG_ARGISNULL(5) || !PG_ARGISNULL(6) ||
			(!PG_ARGISNULL(8) && PG_GETARG_FLOAT4(8) != 0.0f))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an ials model has no biases and a global mean of 0")));
	}
	options_json = RecOptionsJson(alg, &opts);

	user_ids = ArrayArg(fcinfo, 1, INT8OID, "user_ids", &nu);
	item_ids = ArrayArg(fcinfo, 2, INT8OID, "item_ids", &ni);
	CheckIds(user_ids, nu, "user_ids");
	CheckIds(item_ids, ni, "item_ids");
	/* an index the options ask for must fit the items (train_distributed's first step) */
	{
		const RecIndexOptions *index = RecOptionsIndex(alg, &opts);

		if (index != NULL && index->enabled)
			RecAnnCheckOptions(index, ni, "index option");
	}

	m = RecModelCreateForFactors(alg, biases ? RECSYS_MODEL_HAS_BIASES : 0,
								 k, nu, ni, 0, options_json);
	RecModelGetMutableView(m, &mv);
	for (int i = 0; i < nu; i++)
		mv.user_ids[i] = DatumGetInt64(user_ids[i]);
	for (int i = 0; i < ni; i++)
		mv.item_ids[i] = DatumGetInt64(item_ids[i]);
	FillFactors(fcinfo, 3, "user_factors", mv.user_factors, nu, k,
				(uint64) common->seed, 1, vec_type);
	FillFactors(fcinfo, 4, "item_factors", mv.item_factors, ni, k,
				(uint64) common->seed, 2, vec_type);
	FillBiases(fcinfo, 5, "user_bias", mv.user_bias, nu);
	FillBiases(fcinfo, 6, "item_bias", mv.item_bias, ni);
	memset(mv.item_count, 0, sizeof(int32) * ni);
	counts = ArrayArg(fcinfo, 7, INT4OID, "item_counts", &count);
	if (counts != NULL && count != ni)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("item_counts has %d values for %d ids", count, ni)));
	for (int i = 0; counts != NULL && i < ni; i++)
	{
		if (DatumGetInt32(counts[i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("item_counts must not be negative, got %d", DatumGetInt32(counts[i]))));
		mv.item_count[i] = DatumGetInt32(counts[i]);
		m->n_interactions += DatumGetInt32(counts[i]);
	}

	m->global_mean = FiniteArg(fcinfo, 8, "global_mean", 0.0f);
	m->rating_min = FiniteArg(fcinfo, 9, "rating_min", -RECSYS_MODEL_MAX_BIAS);
	m->rating_max = FiniteArg(fcinfo, 10, "rating_max", RECSYS_MODEL_MAX_BIAS);
	if (m->rating_min > m->rating_max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rating_min %g is greater than rating_max %g",
						(double) m->rating_min, (double) m->rating_max)));
	if (!PG_ARGISNULL(11))
	{
		double		loss = PG_GETARG_FLOAT8(11);

		if (!(fabs(loss) <= FLT_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("train_loss must be finite, got %g", loss)));
		m->train_loss = (float) loss;
	}
	if (!PG_ARGISNULL(12))
	{
		if (PG_GETARG_INT32(12) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("iterations must not be negative, got %d", PG_GETARG_INT32(12))));
		m->iterations = PG_GETARG_INT32(12);
	}
	if (!pg_strong_random(m->uuid, sizeof(m->uuid)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random model uuid")));
	m->uuid[6] = (m->uuid[6] & 0x0F) | 0x40;
	m->uuid[8] = (m->uuid[8] & 0x3F) | 0x80;
	PG_RETURN_POINTER(m);
}

/*
 * recsys.factor_gram_product(m) returns float8: <X^T X, Y^T Y>, the sum over
 * every (user, item) pair of (x_u . y_i)^2, computed from the two k x k Gram
 * matrices: the part of the implicit objective the per-row losses leave out.
 */
PG_FUNCTION_INFO_V1(factor_gram_product);
Datum
factor_gram_product(PG_FUNCTION_ARGS)
{
	const RecModelHeader *m = PG_GETARG_RECMODEL(0);
	RecModelView v;
	int			k;
	float	   *gx;
	float	   *gy;
	double		sum = 0.0;

	RecModelRequireFactors(m, "factor_gram_product");
	RecModelGetView(m, &v);
	k = m->factors;
	gx = palloc(sizeof(float) * (Size) k * k);
	gy = palloc(sizeof(float) * (Size) k * k);
	if (RecBlasReserve(1, NULL) != RECSYS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory reserving BLAS scratch")));
	IalsGram(v.user_factors, m->n_users, k, gx);
	IalsGram(v.item_factors, m->n_items, k, gy);
	/* in index order, as the single-node solver sums it */
	for (int64 i = 0; i < (int64) k * k; i++)
		sum += (double) gx[i] * (double) gy[i];
	PG_RETURN_FLOAT8(sum);
}

/*
 * The state of recsys.recommend_items: the group's user (from its last row, as
 * the options are) and the non-NULL seen items in arrival order, in a buffer
 * that doubles, so a user with many rows costs linear time.
 */
typedef struct RecommendItemsState
{
	bool		user_null;		/* the last row's user_id was NULL */
	int64		user_id;
	Jsonb	   *options;		/* the last row's options; NULL: none */
	int64		n;
	int64		cap;
	int64	   *seen;			/* [cap] */
} RecommendItemsState;

/*
 * recsys.recommend_items_transfn(state, user_id, seen_item, options): collects
 * a group's seen items.  The options are copied only when they change.
 */
PG_FUNCTION_INFO_V1(recommend_items_transfn);
Datum
recommend_items_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	RecommendItemsState *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "recommend_items_transfn called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : (RecommendItemsState *) PG_GETARG_POINTER(0);
	old = MemoryContextSwitchTo(aggcxt);
	if (st == NULL)
	{
		st = palloc0(sizeof(RecommendItemsState));
		st->cap = 16;
		st->seen = palloc(sizeof(int64) * st->cap);
	}
	st->user_null = PG_ARGISNULL(1);
	st->user_id = st->user_null ? 0 : PG_GETARG_INT64(1);
	if (PG_ARGISNULL(3))
	{
		if (st->options != NULL)
			pfree(st->options);
		st->options = NULL;
	}
	else
	{
		Jsonb	   *opts = PG_GETARG_JSONB_P(3);

		if (st->options == NULL || VARSIZE(st->options) != VARSIZE(opts) ||
			memcmp(st->options, opts, VARSIZE(opts)) != 0)
		{
			if (st->options != NULL)
				pfree(st->options);
			st->options = palloc(VARSIZE(opts));
			memcpy(st->options, opts, VARSIZE(opts));
		}
	}
	if (!PG_ARGISNULL(2))
	{
		if (st->n == st->cap)
		{
			if (st->cap >= (int64) MaxArraySize)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("user %lld has more than %d seen items for recommend_items",
								(long long) st->user_id, (int) MaxArraySize)));
			st->cap = Min(st->cap * 2, (int64) MaxArraySize);
			st->seen = repalloc_huge(st->seen, sizeof(int64) * st->cap);
		}
		st->seen[st->n++] = PG_GETARG_INT64(2);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/*
 * recsys.recommend_items_final(state): the group's recommendations, from
 * recsys.recommend_items_serve (SQL: it checks the options and calls
 * recsys.recommend by name); NULL for no rows or a NULL user.
 */
PG_FUNCTION_INFO_V1(recommend_items_final);
Datum
recommend_items_final(PG_FUNCTION_ARGS)
{
	RecommendItemsState *st;
	FmgrInfo   *serve = (FmgrInfo *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(call, 3);
	Datum		result;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "recommend_items_final called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (RecommendItemsState *) PG_GETARG_POINTER(0);
	if (st->user_null)
		PG_RETURN_NULL();
	if (serve == NULL)
	{
		Oid			argtypes[3] = {INT8OID, INT8ARRAYOID, JSONBOID};
		Oid			fn = LookupFuncName(list_make2(makeString("recsys"),
												   makeString("recommend_items_serve")),
										3, argtypes, false);

		serve = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(fn, serve, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = serve;
	}
	InitFunctionCallInfoData(*call, serve, 3, InvalidOid, NULL, NULL);
	call->args[0].value = Int64GetDatum(st->user_id);
	call->args[0].isnull = false;
	call->args[1].isnull = (st->n == 0);
	call->args[1].value = (Datum) 0;
	if (st->n > 0)
	{
		Datum	   *elems = palloc(sizeof(Datum) * st->n);

		for (int64 i = 0; i < st->n; i++)
			elems[i] = Int64GetDatum(st->seen[i]);
		call->args[1].value = PointerGetDatum(construct_array(elems, (int) st->n, INT8OID,
															  sizeof(int64), FLOAT8PASSBYVAL,
															  TYPALIGN_DOUBLE));
		pfree(elems);
	}
	call->args[2].value = PointerGetDatum(st->options);
	call->args[2].isnull = (st->options == NULL);
	result = FunctionCallInvoke(call);
	if (call->isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
