/*
 * algorithms.c
 *		The algorithm table (one row per algorithm: names, code, options, how
 *		duplicates merge, the model it writes and its fit) and the fits of the
 *		factor models, which adapt the interactions and options to the plain-C
 *		solvers of als.c and ials.c and write what they learn into a model.
 *
 * A fit runs on the backend's thread between the interaction build and the
 * model's final checks (train.c); its solver does the numbers on its own
 * threads.  The model format is model.c's; option parsing is options.c's.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "algorithms.h"
#include "interactions.h"
#include "model.h"
#include "neighbours.h"
#include "modeltype.h"
#include "options.h"
#include "recsys.h"
#include "serving.h"
#include "solver.h"

/* ------------------------------------------------------------ helpers of fits */

/* What the verbose NOTICE of a sweep needs */
typedef struct FitProgress
{
	const char *aggregate;
	int			iterations;
} FitProgress;

/* After every sweep (main thread, no worker running): the verbose NOTICE */
static void
FitReportProgress(void *arg, int iteration, double loss, double seconds)
{
	FitProgress *p = (FitProgress *) arg;

	ereport(NOTICE,
			(errmsg("%s iteration %d of %d", p->aggregate, iteration, p->iterations),
			 errdetail("loss %.6g, %.3f s", loss, seconds)));
}

/*
 * The control of a solver running `iterations` sweeps: interrupts polled on the
 * backend's thread, a NOTICE per sweep when verbose.
 */
static void
FitControl(const RecFitInput *in, int iterations, RecControl *ctl, FitProgress *progress)
{
	const RecCommonOptions *common = (const RecCommonOptions *) in->options;

	progress->aggregate = in->algorithm->aggregate;
	progress->iterations = iterations;
	ctl->interrupted = RecCancelRequested;
	ctl->progress = common->verbose ? FitReportProgress : NULL;
	ctl->arg = progress;
}

/* ------------------------------------------------------------ factor models */

/* Longest row of a CSR/CSC */
static int64
LongestRow(const int64 *ptr, int32 n)
{
	int64		longest = 0;

	for (int32 r = 0; r < n; r++)
		longest = Max(longest, ptr[r + 1] - ptr[r]);
	return longest;
}

/*
 * Bytes the solver may need for scratch: per thread the gathered rows of the
 * longest row or column and a few k x k matrices.  An estimate for the early
 * memory check; the solver reports what it really used.
 */
static int64
EstimateSolverScratch(int64 longest, int k, int threads)
{
	int64		kk = (int64) k * k * sizeof(float);

	return (int64) threads * (longest * (k + 2) * (int64) sizeof(float) + 4 * kk) + 2 * kk;
}

/*
 * Model flags of explicit ALS options.  Kept interactions keep their values
 * too: explain by user id decomposes the fold-in of the user's training
 * values (4 bytes per interaction).
 */
static uint32
AlsFlags(const AlsOptions *o)
{
	return (o->common.keep_interactions ?
			RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES : 0) |
		(o->biases ? RECSYS_MODEL_HAS_BIASES : 0);
}

/* Model flags of implicit ALS options (never biases; values as for ALS) */
static uint32
IalsFlags(const IalsOptions *o)
{
	return o->common.keep_interactions ?
		RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES : 0;
}

/* Model bytes of train_als for an input of that size */
static uint64
AlsModelBytes(const void *options, int32 n_users, int32 n_items, int64 nnz,
			  size_t options_len)
{
	const AlsOptions *o = (const AlsOptions *) options;

	return RecModelShapeSize(RECSYS_ALG_ALS, AlsFlags(o), (int) o->factors, n_users, n_items,
							 o->common.keep_interactions ? nnz : 0, options_len);
}

/* Model bytes of train_ials for an input of that size */
static uint64
IalsModelBytes(const void *options, int32 n_users, int32 n_items, int64 nnz,
			   size_t options_len)
{
	const IalsOptions *o = (const IalsOptions *) options;

	return RecModelShapeSize(RECSYS_ALG_IALS, IalsFlags(o), (int) o->factors, n_users, n_items,
							 o->common.keep_interactions ? nnz : 0, options_len);
}

/*
 * A factor model of k factors for the input, allocated in the model context
 * with its ids, item popularity and (by flags) seen interactions and their
 * values written; the factor sections are left for the solver to write.
 * Also reserves the solver's estimated scratch (an early check: the solver
 * reports what it used).
 */
static RecModelHeader *
CreateFactorModel(const RecFitInput *in, uint32 flags, int k, RecModelLayout *l)
{
	const RecInteractions *d = in->data;
	const RecRatings *r = &d->ratings;
	int32		nu = r->n_users,
				ni = r->n_items;
	int64		n_seen = (flags & RECSYS_MODEL_HAS_INTERACTIONS) ? r->nnz : 0;
	int64		scratch;
	RecModelHeader *m;
	MemoryContext old;

	RecTrainReserve(in->memory,
					(int64) RecModelShapeSize(in->algorithm->code, flags, k, nu, ni, n_seen,
											  strlen(in->options_json)),
					"the model");
	/* the solver's initialisation writes every factor: no need to zero them */
	old = MemoryContextSwitchTo(in->model_context);
	m = RecModelCreateForFactors(in->algorithm->code, flags, k, nu, ni, n_seen,
								 in->options_json);
	MemoryContextSwitchTo(old);

	RecModelComputeLayout(m, l);
	memcpy((char *) m + l->user_ids, d->user_ids, sizeof(int64) * nu);
	memcpy((char *) m + l->item_ids, d->item_ids, sizeof(int64) * ni);
	RecItemCounts(r, (int32 *) ((char *) m + l->item_count));
	if (flags & RECSYS_MODEL_HAS_INTERACTIONS)
	{
		memcpy((char *) m + l->seen_ptr, r->user_ptr, sizeof(int64) * ((int64) nu + 1));
		memcpy((char *) m + l->seen_items, r->user_items, sizeof(int32) * r->nnz);
	}
	if (flags & RECSYS_MODEL_HAS_SEEN_VALUES)
		memcpy((char *) m + l->seen_values, r->user_values, sizeof(float) * r->nnz);

	scratch = EstimateSolverScratch(Max(LongestRow(r->user_ptr, nu),
										LongestRow(r->item_ptr, ni)),
									k, in->threads);
	RecTrainReserve(in->memory, scratch, "solver scratch");
	in->memory->live -= scratch;
	return m;
}

/*
 * ALS without a sweep only evaluates the loss of the initial factors, whose
 * item half needs each item's count alone (AlsTrain)
 */
static bool
AlsItemPtrOnly(const void *options)
{
	return ((const AlsOptions *) options)->iterations == 0;
}

/* The fit of train_als: explicit ALS with weighted-lambda (als.c) */
int
RecFitAls(const RecFitInput *in, RecFitOutput *out)
{
	const AlsOptions *o = (const AlsOptions *) in->options;
	const RecRatings *r = &in->data->ratings;
	uint32		flags = AlsFlags(o);
	RecModelLayout l;
	RecModelHeader *m = CreateFactorModel(in, flags, (int) o->factors, &l);
	RecFactors	f;
	RecControl	ctl;
	FitProgress progress;
	AlsParams	p;
	int			status;

	memset(&f, 0, sizeof(f));
	f.user_factors = (float *) ((char *) m + l.user_factors);
	f.item_factors = (float *) ((char *) m + l.item_factors);
	if (flags & RECSYS_MODEL_HAS_BIASES)
	{
		f.user_bias = (float *) ((char *) m + l.user_bias);
		f.item_bias = (float *) ((char *) m + l.item_bias);
	}
	else
	{
		/* without biases the solver keeps these at zero */
		float	   *bias_scratch = RecTrainAlloc(in->memory, (int64) r->n_users + r->n_items,
												 sizeof(float), "biases");

		memset(bias_scratch, 0, sizeof(float) * ((int64) r->n_users + r->n_items));
		f.user_bias = bias_scratch;
		f.item_bias = bias_scratch + r->n_users;
	}
	FitControl(in, (int) o->iterations, &ctl, &progress);

	p.factors = (int) o->factors;
	p.iterations = (int) o->iterations;
	p.regularization = (float) o->regularization;
	p.biases = o->biases;
	p.seed = (uint64) o->common.seed;
	p.threads = in->threads;
	status = AlsTrain(r, &p, &f, &ctl);

	m->iterations = f.iterations_done;
	m->global_mean = f.global_mean;
	m->train_loss = (float) f.loss;
	out->model = m;
	out->scratch_bytes = f.scratch_bytes;
	return status;
}

/*
 * With cg_tolerance 0 (a fixed number of CG steps, nothing solved exactly), a
 * relative residual above this after the last sweep is reported even without
 * verbose: the factors are then far from the solution of their equations
 */
#define IALS_RESIDUAL_WARNING	0.1

/*
 * The confidence scale a model records: the option when it is positive, else
 * the mean over the interactions of what alpha multiplies (log(1 + |w| / epsilon)
 * or |w|), 1 when that mean is 0.  Rounded to float4 as the options JSON shows
 * it, so that serving, which reads it back, divides alpha by the same number.
 */
static float
IalsConfidenceScale(const IalsOptions *o, const RecRatings *r)
{
	double		sum = 0.0;
	float		mean;

	if (o->confidence_scale > 0.0)
		return (float) o->confidence_scale;
	for (int64 e = 0; e < r->nnz; e++)
	{
		if ((e & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		sum += IalsConfidenceExcess((int) o->confidence, 1.0f, (float) o->epsilon,
									r->user_values[e]);
	}
	/* the option's range holds it: only absurd linear weights reach 1e38 */
	mean = r->nnz > 0 ? (float) Min(sum / (double) r->nnz, 1e38) : 0.0f;
	return mean > 0.0f ? mean : 1.0f;
}

/* The fit of train_ials: implicit ALS, Hu-Koren-Volinsky (ials.c) */
int
RecFitIals(const RecFitInput *in, RecFitOutput *out)
{
	const IalsOptions *o = (const IalsOptions *) in->options;
	IalsOptions scaled = *o;
	RecFitInput with_scale = *in;
	RecModelLayout l;
	RecModelHeader *m;
	RecFactors	f;
	RecControl	ctl;
	FitProgress progress;
	IalsParams	p;
	int			status;

	/*
	 * The model records the scale it was trained with: fold-in divides by it.
	 * train_hybrid runs this fit on the ials part of its own options, which
	 * come first in them, and records its whole options object.
	 */
	scaled.confidence_scale = IalsConfidenceScale(o, &in->data->ratings);
	if (in->algorithm->code == RECSYS_ALG_HYBRID)
	{
		HybridOptions hybrid = *(const HybridOptions *) in->options;

		StaticAssertStmt(offsetof(HybridOptions, ials) == 0,
						 "RecFitHybrid passes its options' ials part as the whole");
		hybrid.ials.confidence_scale = scaled.confidence_scale;
		with_scale.options_json = RecOptionsJson(in->algorithm->code, &hybrid);
	}
	else
		with_scale.options_json = RecOptionsJson(in->algorithm->code, &scaled);
	m = CreateFactorModel(&with_scale, IalsFlags(o), (int) o->factors, &l);

	memset(&f, 0, sizeof(f));
	f.user_factors = (float *) ((char *) m + l.user_factors);
	f.item_factors = (float *) ((char *) m + l.item_factors);
	FitControl(in, (int) o->iterations, &ctl, &progress);

	p.factors = (int) o->factors;
	p.iterations = (int) o->iterations;
	p.regularization = (float) o->regularization;
	p.alpha = IalsEffectiveAlpha(o->alpha, scaled.confidence_scale);
	p.cg_steps = (int) o->cg_steps;
	p.solver = (int) o->solver;
	p.seed = (uint64) o->common.seed;
	p.threads = in->threads;
	p.confidence = (int) o->confidence;
	p.epsilon = (float) o->epsilon;
	p.reg_exponent = (float) o->regularization_exponent;
	p.cg_tolerance = (float) o->cg_tolerance;
	status = IalsTrain(&in->data->ratings, &p, &f, &ctl);

	/* how far the last sweep's CG solves ended from converged */
	if (status == RECSYS_OK && p.solver == IALS_SOLVER_CG && f.iterations_done > 0)
	{
		int64		rows = (int64) in->data->ratings.n_users + in->data->ratings.n_items;

		if (o->common.verbose)
			ereport(NOTICE,
					(errmsg("%s conjugate gradient: largest relative residual %.3g in the last sweep",
							in->algorithm->aggregate, f.cg_residual),
					 errdetail(INT64_FORMAT " of " INT64_FORMAT " rows were above cg_tolerance = %g after cg_steps = %d steps%s.",
							   f.cg_unconverged, rows, (double) p.cg_tolerance, p.cg_steps,
							   p.cg_tolerance > 0.0f ? " and were solved exactly" : "")));
		else if (f.cg_residual > IALS_RESIDUAL_WARNING && p.cg_tolerance == 0.0f)
			ereport(WARNING,
					(errmsg("%s conjugate gradient did not converge: largest relative residual %.3g in the last sweep",
							in->algorithm->aggregate, f.cg_residual),
					 errdetail(INT64_FORMAT " of " INT64_FORMAT " rows stopped at cg_steps = %d with cg_tolerance 0.",
							   f.cg_unconverged, rows, p.cg_steps),
					 errhint("Set \"cg_tolerance\" above 0, so that rows CG leaves above it are solved exactly.")));
	}

	m->iterations = f.iterations_done;
	m->global_mean = 0.0f;
	m->train_loss = (float) f.loss;
	out->model = m;
	out->scratch_bytes = f.scratch_bytes;
	return status;
}

/* ------------------------------------------------------------ neighbourhood models */

/* passes of the baseline estimate of kNN with baselines, and its regularisation */
#define KNN_BASELINE_EPOCHS		10
#define KNN_BASELINE_REG_USERS	15.0f
#define KNN_BASELINE_REG_ITEMS	10.0f

/* The neighbourhood models score from the seen interactions: they always keep them */
static void
RequireInteractions(const RecFitInput *in)
{
	const RecCommonOptions *common = (const RecCommonOptions *) in->options;

	if (!common->keep_interactions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"keep_interactions\" must be true for %s",
						in->algorithm->aggregate),
				 errdetail("Its scores are computed from each user's interactions.")));
}

/*
 * The shape of a neighbourhood model: interactions with their values always,
 * n_neighbours entries in the user-neighbour CSR (flag RECSYS_MODEL_USER_NEIGHBOURS)
 * or else the item-neighbour one.
 */
static RecModelShape
NeighbourShape(int algorithm, uint32 flags, int32 n_users, int32 n_items, int64 n_seen,
			   int64 n_neighbours, size_t options_len)
{
	RecModelShape shape;

	memset(&shape, 0, sizeof(shape));
	shape.algorithm = algorithm;
	shape.flags = flags | RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES;
	shape.n_users = n_users;
	shape.n_items = n_items;
	shape.n_seen = n_seen;
	if (flags & RECSYS_MODEL_USER_NEIGHBOURS)
		shape.n_user_neighbours = n_neighbours;
	else
		shape.n_item_neighbours = n_neighbours;
	shape.options_len = options_len;
	return shape;
}

/*
 * Allocates a neighbourhood model for the input and writes everything but its
 * statistics: ids, popularity, seen interactions with values, the neighbour
 * CSR (ptr over n_rows rows) and, if given, the baselines.
 */
static RecModelHeader *
WriteNeighbourModel(const RecFitInput *in, uint32 flags, const RecNeighbours *nb,
					int32 n_rows, const float *user_bias, const float *item_bias)
{
	const RecInteractions *d = in->data;
	const RecRatings *r = &d->ratings;
	int64		n_nbr = nb->ptr[n_rows];
	RecModelShape shape = NeighbourShape(in->algorithm->code, flags, r->n_users, r->n_items,
										 r->nnz, n_nbr, strlen(in->options_json) + 1);
	RecModelHeader *m;
	RecModelMutableView v;
	MemoryContext old;

	RecTrainReserve(in->memory, (int64) RecModelShapeBytes(&shape, shape.options_len),
					"the model");
	old = MemoryContextSwitchTo(in->model_context);
	m = RecModelCreateShape(&shape, in->options_json);
	MemoryContextSwitchTo(old);
	RecModelGetMutableView(m, &v);

	memcpy(v.user_ids, d->user_ids, sizeof(int64) * r->n_users);
	memcpy(v.item_ids, d->item_ids, sizeof(int64) * r->n_items);
	RecItemCounts(r, v.item_count);
	memcpy(v.seen_ptr, r->user_ptr, sizeof(int64) * ((int64) r->n_users + 1));
	memcpy(v.seen_items, r->user_items, sizeof(int32) * r->nnz);
	memcpy(v.seen_values, r->user_values, sizeof(float) * r->nnz);
	if (flags & RECSYS_MODEL_HAS_BIASES)
	{
		memcpy(v.user_bias, user_bias, sizeof(float) * r->n_users);
		memcpy(v.item_bias, item_bias, sizeof(float) * r->n_items);
	}
	if (flags & RECSYS_MODEL_USER_NEIGHBOURS)
	{
		memcpy(v.user_nbr_ptr, nb->ptr, sizeof(int64) * ((int64) n_rows + 1));
		memcpy(v.user_nbr_idx, nb->idx, sizeof(int32) * n_nbr);
		memcpy(v.user_nbr_weight, nb->weight, sizeof(float) * n_nbr);
	}
	else
	{
		memcpy(v.item_nbr_ptr, nb->ptr, sizeof(int64) * ((int64) n_rows + 1));
		memcpy(v.item_nbr_idx, nb->idx, sizeof(int32) * n_nbr);
		memcpy(v.item_nbr_weight, nb->weight, sizeof(float) * n_nbr);
	}
	return m;
}

/* Output arrays of a neighbour fit: capacity entries over n_rows rows, counted */
static void
AllocNeighbours(const RecFitInput *in, RecNeighbours *nb, int32 n_rows, int64 capacity,
				int64 scratch)
{
	memset(nb, 0, sizeof(*nb));
	nb->ptr = RecTrainAlloc(in->memory, (int64) n_rows + 1, sizeof(int64), "neighbour rows");
	nb->idx = RecTrainAlloc(in->memory, capacity, sizeof(int32), "neighbours");
	nb->weight = RecTrainAlloc(in->memory, capacity, sizeof(float), "neighbour weights");
	nb->capacity = capacity;
	/* the fit allocates its own scratch: check it fits before it starts */
	RecTrainReserve(in->memory, scratch, "neighbour scratch");
	in->memory->live -= scratch;
}

/* Model flags of train_knn options */
static uint32
KnnFlags(const KnnOptions *o)
{
	return RECSYS_MODEL_HAS_BIASES |
		(o->kind == KNN_KIND_USER ? RECSYS_MODEL_USER_NEIGHBOURS : 0);
}

/* Model bytes of train_knn for an input of that size (every row full) */
static uint64
KnnModelBytes(const void *options, int32 n_users, int32 n_items, int64 nnz,
			  size_t options_len)
{
	const KnnOptions *o = (const KnnOptions *) options;
	int32		rows = o->kind == KNN_KIND_USER ? n_users : n_items;
	int64		k = Min(o->neighbours, (int64) Max(rows - 1, 0));
	RecModelShape shape = NeighbourShape(RECSYS_ALG_KNN, KnnFlags(o), n_users, n_items, nnz,
										 (int64) rows * k, options_len);

	return RecModelShapeBytes(&shape, options_len);
}

/* The fit of train_knn: top-k similarities (knn.c) and the baselines */
static int
FitKnn(const RecFitInput *in, RecFitOutput *out)
{
	const KnnOptions *o = (const KnnOptions *) in->options;
	const RecRatings *r = &in->data->ratings;
	int32		n_rows = o->kind == KNN_KIND_USER ? r->n_users : r->n_items;
	RecKnnParams p;
	RecNeighbours nb;
	RecControl	ctl;
	FitProgress progress;
	float	   *user_bias,
			   *item_bias;
	float		mu;
	int			status;

	RequireInteractions(in);
	memset(&p, 0, sizeof(p));
	p.kind = o->kind == KNN_KIND_USER ? REC_KNN_USER : REC_KNN_ITEM;
	p.similarity = (int) o->similarity;	/* the choice lists share one order */
	p.neighbours = (int) o->neighbours;
	p.shrinkage = (float) o->shrinkage;
	p.min_support = (int) o->min_support;
	p.alpha = (float) o->alpha;
	p.normalize = o->normalize;
	p.threads = in->threads;
	AllocNeighbours(in, &nb, n_rows, RecKnnCapacity(r, &p), RecKnnScratchBytes(r, &p));
	FitControl(in, 1, &ctl, &progress);
	status = RecKnnFit(r, &p, &nb, &ctl);
	out->scratch_bytes = nb.scratch_bytes;
	if (status != RECSYS_OK)
		return status;

	user_bias = RecTrainAlloc(in->memory, r->n_users, sizeof(float), "baselines");
	item_bias = RecTrainAlloc(in->memory, r->n_items, sizeof(float), "baselines");
	RecBaselines(r, KNN_BASELINE_EPOCHS, KNN_BASELINE_REG_USERS, KNN_BASELINE_REG_ITEMS,
				 &mu, user_bias, item_bias);
	out->model = WriteNeighbourModel(in, KnnFlags(o), &nb, n_rows, user_bias, item_bias);
	out->model->global_mean = mu;
	out->model->iterations = 1;
	return RECSYS_OK;
}

/* Dense EASE scratch for n items, and the message when it does not fit */
static void
CheckEaseSize(const RecFitInput *in, const EaseOptions *o, int32 n_items,
			  const RecEaseParams *p)
{
	int64		scratch = RecEaseScratchBytes(n_items, p);
	int64		entries = RecEaseCapacity(n_items, p->neighbours);
	int64		limit = RecMaxTrainBytes();

	if (in->memory->live + scratch + entries * 8 > limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("train_ease over %d items needs %lld MB, more than the training memory limit of %lld MB",
						n_items, (long long) ((in->memory->live + scratch + entries * 8) >> 20),
						(long long) (limit >> 20)),
				 errhint("Set the option \"max_items\" to train on the most popular items only, or raise recsys.max_train_mb.")));
	if (entries * 8 > (int64) MaxAllocSize / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("train_ease over %d items keeping %s would make a model of %lld MB, more than a value can hold",
						n_items, o->neighbours > 0 ? "that many neighbours" : "every weight",
						(long long) ((entries * 8) >> 20)),
				 errhint("Set the option \"neighbours\" to keep the largest weights of each item only, or \"max_items\".")));
}

/* Model bytes of train_ease for an input of that size */
static uint64
EaseModelBytes(const void *options, int32 n_users, int32 n_items, int64 nnz,
			   size_t options_len)
{
	const EaseOptions *o = (const EaseOptions *) options;
	int32		kept = o->max_items > 0 ? (int32) Min(o->max_items, (int64) n_items) : n_items;
	RecModelShape shape = NeighbourShape(RECSYS_ALG_EASE, 0, n_users, n_items, nnz,
										 RecEaseCapacity(kept, (int32) Min(o->neighbours, (int64) PG_INT32_MAX)),
										 options_len);

	return RecModelShapeBytes(&shape, options_len);
}

/*
 * The interactions restricted to the `keep` most popular items (count desc,
 * index asc), as a matrix over those items only; kept[] maps its item indexes
 * back to the model's.
 */
static RecRatings
PopularItemsOnly(const RecFitInput *in, int32 keep, int32 **kept_out)
{
	const RecRatings *r = &in->data->ratings;
	int32	   *count = RecTrainAlloc(in->memory, r->n_items, sizeof(int32), "item counts");
	int32	   *order = RecTrainAlloc(in->memory, r->n_items, sizeof(int32), "item order");
	int64	   *key = RecTrainAlloc(in->memory, r->n_items, sizeof(int64), "item order");
	int32	   *map = RecTrainAlloc(in->memory, r->n_items, sizeof(int32), "item map");
	int32	   *kept = RecTrainAlloc(in->memory, keep, sizeof(int32), "kept items");
	int64	   *uptr = RecTrainAlloc(in->memory, (int64) r->n_users + 1, sizeof(int64), "rows");
	int64	   *iptr = RecTrainAlloc(in->memory, (int64) keep + 1, sizeof(int64), "columns");
	int64		nnz = 0;
	int32	   *uitems,
			   *iusers;
	float	   *uvals,
			   *ivals;
	RecRatings	sub;

	RecItemCounts(r, count);
	RecPopularityOrder(count, r->n_items, order, key);
	for (int32 i = 0; i < r->n_items; i++)
		map[i] = -1;
	for (int32 j = 0; j < keep; j++)
		kept[j] = order[j];
	/* ascending model order, so the sub-matrix keeps its rows sorted */
	qsort(kept, keep, sizeof(int32), RecCompareInt32);
	for (int32 j = 0; j < keep; j++)
		map[kept[j]] = j;
	for (int32 j = 0; j < keep; j++)
		nnz += r->item_ptr[kept[j] + 1] - r->item_ptr[kept[j]];

	uitems = RecTrainAlloc(in->memory, nnz, sizeof(int32), "interactions");
	uvals = RecTrainAlloc(in->memory, nnz, sizeof(float), "interactions");
	iusers = RecTrainAlloc(in->memory, nnz, sizeof(int32), "interactions");
	ivals = RecTrainAlloc(in->memory, nnz, sizeof(float), "interactions");
	uptr[0] = 0;
	for (int32 u = 0, q = 0; u < r->n_users; u++)
	{
		for (int64 p = r->user_ptr[u]; p < r->user_ptr[u + 1]; p++)
			if (map[r->user_items[p]] >= 0)
			{
				uitems[q] = map[r->user_items[p]];
				uvals[q++] = r->user_values[p];
			}
		uptr[u + 1] = q;
	}
	iptr[0] = 0;
	for (int32 j = 0, q = 0; j < keep; j++)
	{
		for (int64 p = r->item_ptr[kept[j]]; p < r->item_ptr[kept[j] + 1]; p++)
		{
			iusers[q] = r->item_users[p];
			ivals[q++] = r->item_values[p];
		}
		iptr[j + 1] = q;
	}
	sub.n_users = r->n_users;
	sub.n_items = keep;
	sub.nnz = nnz;
	sub.user_ptr = uptr;
	sub.user_items = uitems;
	sub.user_values = uvals;
	sub.item_ptr = iptr;
	sub.item_users = iusers;
	sub.item_values = ivals;
	*kept_out = kept;
	return sub;
}

/*
 * The interactions with their values as EASE's X holds them, in copies; the
 * input itself unless the values are raw.  The model keeps these values: by-name
 * serving scores a user's row with what training saw.
 */
static const RecInteractions *
EaseInteractions(const RecFitInput *in, int64 values)
{
	const RecRatings *r = &in->data->ratings;
	RecInteractions *d;
	float	   *uv,
			   *iv;

	if (values == REC_EASE_VALUES_RAW)
		return in->data;
	d = RecTrainAlloc(in->memory, 1, sizeof(RecInteractions), "interactions");
	uv = RecTrainAlloc(in->memory, Max(r->nnz, 1), sizeof(float), "interactions");
	iv = RecTrainAlloc(in->memory, Max(r->nnz, 1), sizeof(float), "interactions");
	for (int64 e = 0; e < r->nnz; e++)
	{
		if ((e & 0xFFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		uv[e] = RecEaseValue((int) values, r->user_values[e]);
		iv[e] = RecEaseValue((int) values, r->item_values[e]);
	}
	*d = *in->data;
	d->ratings.user_values = uv;
	d->ratings.item_values = iv;
	return d;
}

/* The fit of train_ease: the closed form of ease.c, over the kept items */
static int
FitEase(const RecFitInput *orig, RecFitOutput *out)
{
	const EaseOptions *o = (const EaseOptions *) orig->options;
	RecFitInput valued = *orig;
	const RecFitInput *in = &valued;
	const RecRatings *r;
	RecRatings	sub;
	int32	   *kept = NULL;
	RecEaseParams p;
	RecNeighbours nb;
	RecNeighbours full;
	RecControl	ctl;
	FitProgress progress;
	int			status;

	RequireInteractions(in);
	valued.data = EaseInteractions(orig, o->values);
	r = &in->data->ratings;
	sub = *r;
	if (o->max_items > 0 && o->max_items < r->n_items)
		sub = PopularItemsOnly(in, (int32) o->max_items, &kept);

	memset(&p, 0, sizeof(p));
	p.regularization = (float) o->regularization;
	p.neighbours = (int32) Min(o->neighbours, (int64) PG_INT32_MAX);
	p.threads = in->threads;
	CheckEaseSize(in, o, sub.n_items, &p);
	AllocNeighbours(in, &nb, sub.n_items, RecEaseCapacity(sub.n_items, p.neighbours),
					RecEaseScratchBytes(sub.n_items, &p));
	FitControl(in, 5, &ctl, &progress);
	status = RecEaseFit(&sub, &p, &nb, &ctl);
	out->scratch_bytes = nb.scratch_bytes;
	if (status != RECSYS_OK)
		return status;

	if (kept != NULL)
	{
		/* back to the model's item indexes; items not kept have empty rows */
		full.ptr = RecTrainAlloc(in->memory, (int64) r->n_items + 1, sizeof(int64),
								 "neighbour rows");
		full.idx = nb.idx;
		full.weight = nb.weight;
		for (int64 q = 0; q < nb.ptr[sub.n_items]; q++)
			nb.idx[q] = kept[nb.idx[q]];
		full.ptr[0] = 0;
		for (int32 i = 0, j = 0; i < r->n_items; i++)
		{
			int64		len = 0;

			if (j < sub.n_items && kept[j] == i)
			{
				len = nb.ptr[j + 1] - nb.ptr[j];
				j++;
			}
			full.ptr[i + 1] = full.ptr[i] + len;
		}
		nb = full;
	}
	out->model = WriteNeighbourModel(in, 0, &nb, r->n_items, NULL, NULL);
	out->model->iterations = 1;
	out->model->global_mean = 0.0f;
	return RECSYS_OK;
}

/* ------------------------------------------------------------ the table */

const RecAlgorithm RecAlgorithms[] = {
	{
		.name = "als",
		.code = RECSYS_ALG_ALS,
		.aggregate = "train_als",
		.summary = "explicit ratings",
		.options = AlsOptionSpecs,
		.options_size = sizeof(AlsOptions),
		.add_duplicates = false,
		.value_name = "rating",
		.negative_hint = NULL,
		.model_bytes = AlsModelBytes,
		.fit = RecFitAls,
		.sections = RECSYS_SECTION_USER_FACTORS | RECSYS_SECTION_ITEM_FACTORS |
		RECSYS_SECTION_BIASES | RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN,
		.scorer = RECSYS_SCORER_FACTORS,
		.item_ptr_only = AlsItemPtrOnly,
	},
	{
		.name = "ials",
		.code = RECSYS_ALG_IALS,
		.aggregate = "train_ials",
		.summary = "implicit feedback",
		.options = IalsOptionSpecs,
		.options_size = sizeof(IalsOptions),
		.add_duplicates = true,
		.value_name = "weight",
		.negative_hint = "Implicit feedback weights count interactions; leave out or zero negative ones.",
		.model_bytes = IalsModelBytes,
		.fit = RecFitIals,
		.sections = RECSYS_SECTION_USER_FACTORS | RECSYS_SECTION_ITEM_FACTORS |
		RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN,
		.scorer = RECSYS_SCORER_FACTORS,
	},
	{
		.name = "knn",
		.code = RECSYS_ALG_KNN,
		.aggregate = "train_knn",
		.summary = "item or user neighbours",
		.options = KnnOptionSpecs,
		.options_size = sizeof(KnnOptions),
		.add_duplicates = false,
		.value_name = "value",
		.negative_hint = NULL,
		.model_bytes = KnnModelBytes,
		.fit = FitKnn,
		.sections = RECSYS_SECTION_BIASES | RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN |
		RECSYS_SECTION_ITEM_NEIGHBOURS | RECSYS_SECTION_USER_NEIGHBOURS,
		.scorer = RECSYS_SCORER_ITEM_NEIGHBOURS,
	},
	{
		.name = "ease",
		.code = RECSYS_ALG_EASE,
		.aggregate = "train_ease",
		.summary = "item-item closed form",
		.options = EaseOptionSpecs,
		.options_size = sizeof(EaseOptions),
		.add_duplicates = true,
		.value_name = "value",
		.negative_hint = NULL,
		.model_bytes = EaseModelBytes,
		.fit = FitEase,
		.sections = RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN |
		RECSYS_SECTION_ITEM_NEIGHBOURS,
		.scorer = RECSYS_SCORER_ITEM_NEIGHBOURS,
	},
	{
		.name = "content",
		.code = RECSYS_ALG_CONTENT,
		.aggregate = "train_content",
		.summary = "item features, cosine to the user's profile",
		.options = ContentOptionSpecs,
		.options_size = sizeof(ContentOptions),
		.add_duplicates = false,
		.value_name = "value",
		.negative_hint = NULL,
		.model_bytes = RecContentModelBytes,
		.fit = RecFitContent,
		.sections = RECSYS_SECTION_USER_FACTORS | RECSYS_SECTION_ITEM_FACTORS |
		RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN,
		.scorer = RECSYS_SCORER_FACTORS,
		.features = true,
	},
	{
		/* train_content over tsvector features writes these models */
		.name = "content_text",
		.code = RECSYS_ALG_TEXT,
		.aggregate = "train_content",
		.summary = "TF-IDF of item text, cosine to the user's profile",
		.options = ContentOptionSpecs,
		.options_size = sizeof(ContentOptions),
		.add_duplicates = false,
		.value_name = "value",
		.negative_hint = NULL,
		.model_bytes = RecContentModelBytes,
		.fit = RecFitContent,
		.sections = RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN,
		.scorer = RECSYS_SCORER_ITEM_NEIGHBOURS,
		.features = true,
	},
	{
		.name = "hybrid",
		.code = RECSYS_ALG_HYBRID,
		.aggregate = "train_hybrid",
		.summary = "ALS with factors of new items mapped from features",
		.options = HybridOptionSpecs,
		.options_size = sizeof(HybridOptions),
		.add_duplicates = true,
		.value_name = "weight",
		.negative_hint = NULL,
		.model_bytes = RecHybridModelBytes,
		.fit = RecFitHybrid,
		.sections = RECSYS_SECTION_USER_FACTORS | RECSYS_SECTION_ITEM_FACTORS |
		RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN,
		.scorer = RECSYS_SCORER_FACTORS,
		.features = true,
	},
};
const int	RecAlgorithmCount = lengthof(RecAlgorithms);

StaticAssertDecl(lengthof(RecAlgorithms) <= RECSYS_MAX_ALGORITHMS,
				 "raise RECSYS_MAX_ALGORITHMS");

/* The row recsys.train's algorithm argument names, NULL if none */
const RecAlgorithm *
RecAlgorithmByName(const char *name)
{
	for (int a = 0; a < RecAlgorithmCount; a++)
		if (strcmp(RecAlgorithms[a].name, name) == 0)
			return &RecAlgorithms[a];
	return NULL;
}

/* The row of a RECSYS_ALG_* code (a model header's algorithm), NULL if none */
const RecAlgorithm *
RecAlgorithmByCode(int code)
{
	for (int a = 0; a < RecAlgorithmCount; a++)
		if (RecAlgorithms[a].code == code)
			return &RecAlgorithms[a];
	return NULL;
}

/* The row of a training aggregate's SQL name ("train_als"), NULL if none */
const RecAlgorithm *
RecAlgorithmByAggregate(const char *aggregate)
{
	for (int a = 0; a < RecAlgorithmCount; a++)
		if (strcmp(RecAlgorithms[a].aggregate, aggregate) == 0)
			return &RecAlgorithms[a];
	return NULL;
}

/* "Use 'als' (explicit ratings) or 'ials' (implicit feedback)." from the table */
char *
RecAlgorithmHint(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "Use ");
	for (int a = 0; a < RecAlgorithmCount; a++)
	{
		if (a > 0)
			appendStringInfoString(&buf, a == RecAlgorithmCount - 1 ? " or " : ", ");
		appendStringInfo(&buf, "'%s' (%s)", RecAlgorithms[a].name, RecAlgorithms[a].summary);
	}
	appendStringInfoChar(&buf, '.');
	return buf.data;
}
