/*
 * ann_sql.c
 *		recsys.build_index, which returns a factor model with an approximate
 *		top-N index (ann.h), and the hooks recommend.c calls to serve through it.
 *
 * The k-means runs in plain C (ann.c) on recsys.threads threads; this file
 * parses the options, allocates every buffer before threads start, checks for
 * a cancel between iterations and makes the new model value.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "ann.h"
#include "ann_sql.h"
#include "cache.h"
#include "model.h"
#include "modelio.h"
#include "modeltype.h"
#include "options.h"
#include "recsys.h"

/*
 * Fills in the defaults that depend on the model's n_items items and checks
 * the given values against it (22023): what RecIndexOptionsRead could not.
 */
static void
AnnResolveOptions(RecIndexOptions *o, int32 n_items, const char *what)
{
	int64		max_lists = Min((int64) n_items, RECSYS_ANN_MAX_LISTS);

	if (o->lists > max_lists)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"lists\" must be between 1 and %lld (the model's items), got %lld",
						what, (long long) max_lists, (long long) o->lists)));
	/* about sqrt(n) lists of about sqrt(n) items */
	if (o->lists == 0)
		o->lists = Max(1, Min(max_lists, (int64) llround(sqrt((double) n_items))));
	if (o->probes > o->lists)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"probes\" must be between 1 and %lld (the lists), got %lld",
						what, (long long) o->lists, (long long) o->probes)));
	if (o->probes == 0)
	{
		/*
		 * Only where no calibration runs (a model without users): probe lists
		 * holding about max(n / 64, 4096) items; small catalogues are scanned
		 * whole or nearly (cheap either way), and at a million items 1/64 of
		 * them measured recall@10 0.999 at about 100 times the exact path's
		 * throughput (bench/80_ann.sh).  Otherwise the calibration replaces it.
		 */
		double		share = Max(1.0 / 64.0, Min(1.0, 4096.0 / (double) n_items));

		o->probes = Max(1, Min(o->lists, (int64) ceil(share * (double) o->lists)));
	}
	if (o->sample != 0 && (o->sample < o->lists || o->sample > n_items))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"sample\" must be between %lld (the lists) and %d (the model's items), got %lld",
						what, (long long) o->lists, n_items, (long long) o->sample)));
	if (o->sample == 0)
		o->sample = Min((int64) n_items, Max(o->lists * 64, Min((int64) n_items, 65536)));
}

void
RecAnnCheckOptions(const RecIndexOptions *given, int32 n_items, const char *what)
{
	RecIndexOptions o = *given;

	AnnResolveOptions(&o, n_items, what);
}

/* Users a calibration samples */
static int32
AnnCalibUsers(const RecModelHeader *m)
{
	return Min(m->n_users, RECSYS_ANN_CALIB_USERS);
}

/* Scratch bytes of a calibration over lists lists (AnnCalibrate's allocations) */
static int64
AnnCalibBytes(const RecModelHeader *m, int64 lists)
{
	int64		s = AnnCalibUsers(m);

	return (int64) sizeof(int32) * (s + s * RECSYS_ANN_CALIB_TOP) +
		(int64) sizeof(float) * lists +
		(int64) RecWorkThreads() *
		((int64) (sizeof(float) + 2 * sizeof(int32)) * lists +
		 (int64) sizeof(float) * RECSYS_ANN_CALIB_BLOCK * (m->factors + RECSYS_ANN_CALIB_ITEMS) +
		 (int64) (sizeof(float) + sizeof(int64)) * RECSYS_ANN_CALIB_BLOCK * RECSYS_ANN_CALIB_TOP);
}

/*
 * Sets the default probes of the index just written into out (view ov) to the
 * fewest that reach recall@10 target on a seeded sample of the model's users
 * (ann.h), and records the calibration in the section's header.
 */
static void
AnnCalibrate(RecModelHeader *out, const RecModelView *ov, const RecAnnBuild *b, double target)
{
	int32	   *words = (int32 *) ov->ann;
	RecAnnIndex ix;
	RecAnnCalib cb;
	RecControl	ctl = {RecCancelRequested, NULL, NULL};
	int32		ns = AnnCalibUsers(out);
	int			threads = b->threads;
	float	   *radius;
	int32	   *users;
	float		recall;
	int32		probes;
	int			rc = RECSYS_OK;
	instr_time	start,
				elapsed;

	INSTR_TIME_SET_CURRENT(start);
	RecAnnView(words, &ix);
	/* the radii the serving cache derives (cache.c): the probe order as served */
	radius = palloc(sizeof(float) * ix.lists);
	RecAnnRadii(&ix, ov->item_factors, ov->item_bias, out->factors, radius);
	ix.radius = radius;

	memset(&cb, 0, sizeof(cb));
	cb.ix = &ix;
	cb.X = ov->user_factors;
	cb.user_bias = ov->user_bias;
	cb.mu = out->global_mean;
	cb.Y = ov->item_factors;
	cb.item_bias = ov->item_bias;
	cb.k = out->factors;
	cb.seen_ptr = ov->seen_ptr;
	cb.seen_items = ov->seen_items;
	cb.top = Min(out->n_items, RECSYS_ANN_CALIB_TOP);
	users = palloc(sizeof(int32) * ns);
	RecAnnCalibSample(out->n_users, ns, b->seed, users);
	cb.users = users;
	cb.pos = palloc(sizeof(int32) * ns * cb.top);
	cb.cscore = palloc(sizeof(float *) * threads);
	cb.corder = palloc(sizeof(int32 *) * threads);
	cb.lrank = palloc(sizeof(int32 *) * threads);
	cb.xb = palloc(sizeof(float *) * threads);
	cb.dots = palloc(sizeof(float *) * threads);
	cb.hscore = palloc(sizeof(float *) * threads);
	cb.hitem = palloc(sizeof(int64 *) * threads);
	for (int t = 0; t < threads; t++)
	{
		cb.cscore[t] = palloc(sizeof(float) * ix.lists);
		cb.corder[t] = palloc(sizeof(int32) * ix.lists);
		cb.lrank[t] = palloc(sizeof(int32) * ix.lists);
		cb.xb[t] = palloc(sizeof(float) * RECSYS_ANN_CALIB_BLOCK * cb.k);
		cb.dots[t] = palloc(sizeof(float) * RECSYS_ANN_CALIB_BLOCK * RECSYS_ANN_CALIB_ITEMS);
		cb.hscore[t] = palloc(sizeof(float) * RECSYS_ANN_CALIB_BLOCK * cb.top);
		cb.hitem[t] = palloc(sizeof(int64) * RECSYS_ANN_CALIB_BLOCK * cb.top);
	}

	/* a block of users per thread at a time: a cancel is seen between steps */
	RecReserveBlas(threads, "index calibration");
	for (int32 first = 0; first < ns && rc == RECSYS_OK; first += threads * RECSYS_ANN_CALIB_BLOCK)
	{
		int32		n = Min(threads * RECSYS_ANN_CALIB_BLOCK, ns - first);
		RecAnnCalib step = cb;

		CHECK_FOR_INTERRUPTS();
		step.users = users + first;
		step.pos = cb.pos + (int64) first * cb.top;
		rc = RecParallelFor(threads, n, RECSYS_ANN_CALIB_BLOCK, RecAnnCalibChunk, &step, &ctl);
	}
	if (rc == RECSYS_STUCK)
		RecReportStuck("index calibration");
	if (rc == RECSYS_INTERRUPTED)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("index calibration was interrupted")));
	}
	if (rc != RECSYS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("index calibration failed with solver status %d", rc)));

	probes = RecAnnCalibPick(cb.pos, (int64) ns * cb.top, ix.lists, target, &recall);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	words[RECSYS_ANN_W_PROBES] = probes;
	{
		float		t = (float) target;
		float		ms = (float) INSTR_TIME_GET_MILLISEC(elapsed);

		memcpy(&words[RECSYS_ANN_W_TARGET], &t, sizeof(float));
		memcpy(&words[RECSYS_ANN_W_RECALL], &recall, sizeof(float));
		memcpy(&words[RECSYS_ANN_W_CALIB_MS], &ms, sizeof(float));
	}
	words[RECSYS_ANN_W_CALIB_USERS] = ns;

	for (int t = 0; t < threads; t++)
	{
		pfree(cb.cscore[t]);
		pfree(cb.corder[t]);
		pfree(cb.lrank[t]);
		pfree(cb.xb[t]);
		pfree(cb.dots[t]);
		pfree(cb.hscore[t]);
		pfree(cb.hitem[t]);
	}
	pfree(cb.cscore);
	pfree(cb.corder);
	pfree(cb.lrank);
	pfree(cb.xb);
	pfree(cb.dots);
	pfree(cb.hscore);
	pfree(cb.hitem);
	pfree(cb.pos);
	pfree(users);
	pfree(radius);
}

RecModelHeader *
RecAnnBuildModel(const RecModelHeader *m, const RecIndexOptions *given, const char *what,
				 RecTrainMemory *tm)
{
	RecModelView v;
	RecModelShape shape;
	RecModelHeader *out;
	RecModelView ov;
	RecIndexOptions o = *given;
	RecAnnBuild b;
	RecControl	ctl = {RecCancelRequested, NULL, NULL};
	int			d;
	int			rc = RECSYS_OK;
	uint64		bytes;
	double		target;
	instr_time	start,
				elapsed;

	/* the format allows the index in the collaborative factor models only */
	if (m->algorithm != RECSYS_ALG_ALS && m->algorithm != RECSYS_ALG_IALS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("build_index needs an als or ials model, not %s",
						RecModelAlgorithmName(m->algorithm))));
	RecModelGetView(m, &v);
	AnnResolveOptions(&o, m->n_items, what);
	target = given->target_recall > 0.0 ? given->target_recall : RECSYS_INDEX_DEFAULT_TARGET;
	INSTR_TIME_SET_CURRENT(start);

	/* the new value first: its size is known, and too large fails before any work */
	RecModelShapeOf(m, &shape);
	shape.flags |= RECSYS_MODEL_HAS_ANN_INDEX;
	memset(&b, 0, sizeof(b));
	b.k = m->factors;
	b.dim = b.k + (v.item_bias ? 1 : 0);
	shape.n_ann = (int64) RecAnnWords((uint64) o.lists, (uint64) b.dim, (uint64) m->n_items,
									  o.vectors);
	bytes = RecModelShapeBytes(&shape, strlen(v.options));
	if (bytes > RECSYS_MODEL_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the model with its index would take more than the %llu bytes a value can hold",
						(unsigned long long) RECSYS_MODEL_MAX_BYTES),
				 o.vectors ? errhint("Use \"store_vectors\": false: the index then reads the model's own rows.") : 0));
	d = b.dim + 1;
	if (tm != NULL)
	{
		/* training: the copy and the k-means buffers count against its limit */
		RecTrainReserve(tm, (int64) bytes, "the index");
		RecTrainReserve(tm, (int64) sizeof(float) * (o.sample * d + (int64) RecWorkThreads() *
													 RECSYS_ANN_BLOCK * (o.lists + d)) +
						(int64) sizeof(int32) * (2 * (int64) m->n_items + o.sample) +
		/* the means (float and their double sums), half norms and counts */
						(int64) (sizeof(float) + sizeof(double)) * o.lists * d +
						(int64) (sizeof(float) + sizeof(int64)) * o.lists,
						"the index build");
		if (given->probes == 0)
			RecTrainReserve(tm, AnnCalibBytes(m, o.lists), "the index calibration");
	}
	out = RecModelCreateShape(&shape, v.options);
	RecModelCopySections(m, out, (uint32) 1 << RECSYS_TAG_ANN_INDEX);
	memcpy(&out->iterations, &m->iterations,
		   offsetof(RecModelHeader, options_len) - offsetof(RecModelHeader, iterations));
	out->n_seen = m->n_seen;

	/* every buffer before threads start */
	b.Y = v.item_factors;
	b.bias = v.item_bias;
	b.n = m->n_items;
	b.lists = (int32) o.lists;
	b.ns = o.sample;
	b.seed = (uint64) o.seed;
	b.vectors = o.vectors;
	b.threads = RecWorkThreads();
	b.sample = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * b.n);
	b.S = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * b.ns * d);
	b.C = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * b.lists * d);
	b.chalf = palloc(sizeof(float) * b.lists);
	b.sassign = MemoryContextAllocHuge(CurrentMemoryContext,
									   sizeof(int32) * Max(b.ns, b.lists));
	b.assign = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * b.n);
	b.acc = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * b.lists * d);
	b.count = palloc(sizeof(int64) * b.lists);
	b.rows = palloc(sizeof(float *) * b.threads);
	b.dots = palloc(sizeof(float *) * b.threads);
	for (int t = 0; t < b.threads; t++)
	{
		b.rows[t] = palloc(sizeof(float) * RECSYS_ANN_BLOCK * d);
		b.dots[t] = MemoryContextAllocHuge(CurrentMemoryContext,
										   sizeof(float) * RECSYS_ANN_BLOCK * b.lists);
	}
	RecReserveBlas(b.threads, "index build");

	RecAnnSampleInit(&b);
	for (int it = 0; it < o.iterations && rc == RECSYS_OK; it++)
	{
		CHECK_FOR_INTERRUPTS();
		rc = RecAnnIterate(&b, &ctl);
	}
	CHECK_FOR_INTERRUPTS();
	if (rc == RECSYS_OK)
		rc = RecAnnAssignAll(&b, &ctl);
	if (rc == RECSYS_STUCK)
		RecReportStuck("index build");
	if (rc == RECSYS_INTERRUPTED)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("index build was interrupted")));
	}
	if (rc != RECSYS_OK)
		ereport(ERROR,
				(errcode(rc == RECSYS_ENOMEM ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
				 errmsg("index build failed with solver status %d", rc)));

	RecModelGetView(out, &ov);
	RecAnnWrite(&b, (int32) o.probes, 0.0f, (int32 *) ov.ann);
	if (given->probes == 0 && m->n_users > 0)
		AnnCalibrate(out, &ov, &b, target);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	{
		float		ms = (float) INSTR_TIME_GET_MILLISEC(elapsed);

		memcpy((int32 *) ov.ann + RECSYS_ANN_W_BUILD_MS, &ms, sizeof(ms));
	}

	/* the scratch goes now: a training's caller keeps working in this context */
	pfree(b.sample);
	pfree(b.S);
	pfree(b.C);
	pfree(b.chalf);
	pfree(b.sassign);
	pfree(b.assign);
	pfree(b.acc);
	pfree(b.count);
	for (int t = 0; t < b.threads; t++)
	{
		pfree(b.rows[t]);
		pfree(b.dots[t]);
	}
	pfree(b.rows);
	pfree(b.dots);
	return out;
}

PG_FUNCTION_INFO_V1(build_index);
/*
 * recsys.build_index(m recsys.model, options jsonb): m with an inverted-file
 * index over its item factors (replacing one it had)
 */
Datum
build_index(PG_FUNCTION_ARGS)
{
	RecModelEntry *e = RecModelGet(PG_GETARG_DATUM(0));
	Jsonb	   *jb = PG_GETARG_JSONB_P(1);
	RecIndexOptions o;
	bool		too_large;
	char	   *msg;

	/* the same reader as train_als's "index" option, with build_index's codes */
	msg = RecIndexOptionsRead(&jb->root, "build_index option", &o, &too_large);
	if (msg != NULL)
		ereport(ERROR,
				(errcode(too_large ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", msg)));
	PG_RETURN_POINTER(RecAnnBuildModel(e->model, &o, "build_index option", NULL));
}

RecAnnRequest
RecAnnRequestArgs(FunctionCallInfo fcinfo, int probes_arg, int exact_arg)
{
	RecAnnRequest r = {false, 0};

	if (probes_arg < PG_NARGS() && !PG_ARGISNULL(probes_arg))
	{
		int32		p = PG_GETARG_INT32(probes_arg);

		if (p < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("probes must be at least 1, got %d", p)));
		r.probes = p;
	}
	if (exact_arg < PG_NARGS() && !PG_ARGISNULL(exact_arg))
		r.exact = PG_GETARG_BOOL(exact_arg);
	return r;
}

bool
RecAnnUsable(const RecModelEntry *e, const RecAnnRequest *req, const float *x)
{
	RecAnnIndex ix;

	if (req == NULL || req->exact || e->v.ann == NULL)
		return false;
	if (x != NULL)
	{
		/* a caller's vector: |x.y + b| <= |[x, 1]| M must stay far from overflow */
		double		n2 = 1.0;

		for (int j = 0; j < e->model->factors; j++)
			n2 += (double) x[j] * x[j];
		RecAnnView(e->v.ann, &ix);
		/* ... and its norm must be a float: the probe's list key uses it */
		if (!(sqrt(n2) * (double) ix.max_norm < 1e37) || !(n2 < FLT_MAX))
			return false;
	}
	return true;
}

bool
RecAnnRank(TopNHeap *h, RecModelEntry *e, const float *x, float base,
		   const RecAnnRequest *req, const RecBlocked *blocked)
{
	RecAnnIndex ix;
	float	   *cscore;
	int32	   *corder;
	bool		finite;

	RecAnnView(e->v.ann, &ix);
	ix.radius = e->ann_radius;
	cscore = palloc(sizeof(float) * ix.lists);
	corder = palloc(sizeof(int32) * ix.lists);
	finite = RecAnnSelect(h, &ix, x, e->model->factors, e->v.item_factors, e->v.item_bias,
						  base, req->probes > 0 ? req->probes : ix.probes, blocked,
						  cscore, corder);
	pfree(cscore);
	pfree(corder);
	return finite;
}

/* A standard normal deviate from the seeded stream (Box-Muller) */
static double
BenchGauss(uint64 *state)
{
	double		u1,
				u2;

	*state += UINT64CONST(0x9E3779B97F4A7C15);
	u1 = ((double) ((*state * UINT64CONST(0xBF58476D1CE4E5B9)) >> 11) + 1.0) / 9007199254740993.0;
	*state += UINT64CONST(0x9E3779B97F4A7C15);
	u2 = (double) ((*state * UINT64CONST(0x94D049BB133111EB)) >> 11) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* A uniform deviate in [0, 1) from the seeded stream */
static double
BenchUniform(uint64 *state)
{
	uint64		z;

	*state += UINT64CONST(0x9E3779B97F4A7C15);
	z = *state;
	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return (double) ((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

PG_FUNCTION_INFO_V1(ann_bench_model);
/*
 * Bench helper, not part of the extension's SQL interface (bench/80_ann.sh
 * declares it with CREATE FUNCTION as a superuser): an implicit factor model of
 * n_users x n_items x factors made directly, since training one of a million
 * items takes too long on a small machine.  Planted structure: items belong to
 * `topics` topics of skewed sizes, a row is its topic's centre plus noise; item
 * popularity is Zipf over a random order and an item's norm falls with its
 * popularity rank (rank + 10)^-0.2 as trained factors' norms do; users mix two
 * topics.  Deterministic per seed.
 */
Datum
ann_bench_model(PG_FUNCTION_ARGS)
{
	int32		nu = PG_GETARG_INT32(0);
	int32		ni = PG_GETARG_INT32(1);
	int32		k = PG_GETARG_INT32(2);
	int32		topics = PG_GETARG_INT32(3);
	uint64		state = (uint64) PG_GETARG_INT64(4);
	char		options[64];
	RecModelHeader *m;
	RecModelMutableView mv;
	float	   *centre;
	int32	   *rank;
	int64		total = 0;
	double		scale = 1.0 / sqrt((double) k);

	if (nu < 1 || ni < 1 || nu > 10000000 || ni > 10000000 || k < 1 ||
		k > RECSYS_MAX_FACTORS || topics < 1 || topics > ni)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ann_bench_model: sizes out of range")));
	snprintf(options, sizeof(options), "{\"factors\": %d}", k);
	m = RecModelCreateForFactors(RECSYS_ALG_IALS, 0, k, nu, ni, 0, options);
	RecModelGetMutableView(m, &mv);

	centre = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * topics * k);
	for (int64 j = 0; j < (int64) topics * k; j++)
		centre[j] = (float) BenchGauss(&state);
	/* a random popularity order */
	rank = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * ni);
	for (int32 i = 0; i < ni; i++)
		rank[i] = i;
	for (int32 i = ni - 1; i > 0; i--)
	{
		int32		r = (int32) (BenchUniform(&state) * (i + 1));
		int32		t = rank[i];

		rank[i] = rank[r];
		rank[r] = t;
	}
	for (int32 i = 0; i < ni; i++)
	{
		/* skewed topic sizes: topic t has about (t + 1)^2 - t^2 shares */
		int32		t = (int32) (topics * BenchUniform(&state) * BenchUniform(&state));
		double		s = pow((rank[i] + 10.0) / 10.0, -0.2) * scale;
		float	   *y = mv.item_factors + (int64) i * k;

		for (int j = 0; j < k; j++)
			y[j] = (float) (s * (centre[(int64) t * k + j] + 0.7 * BenchGauss(&state)));
		mv.item_ids[i] = i + 1;
		mv.item_count[i] = (int32) Max(1.0, 1e5 / (rank[i] + 10.0));
		total += mv.item_count[i];
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (int32 u = 0; u < nu; u++)
	{
		int32		t1 = (int32) (topics * BenchUniform(&state) * BenchUniform(&state));
		int32		t2 = (int32) (topics * BenchUniform(&state));
		float	   *x = mv.user_factors + (int64) u * k;

		for (int j = 0; j < k; j++)
			x[j] = (float) (scale * (centre[(int64) t1 * k + j] +
									 0.5 * centre[(int64) t2 * k + j] +
									 0.5 * BenchGauss(&state)));
		mv.user_ids[u] = u + 1;
	}
	m->n_interactions = Min(total, (int64) nu * ni);
	if (m->n_interactions != total)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ann_bench_model: too few users for the popularity counts")));
	PG_RETURN_POINTER(m);
}
