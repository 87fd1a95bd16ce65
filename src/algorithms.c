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

#include "algorithms.h"
#include "interactions.h"
#include "model.h"
#include "modeltype.h"
#include "options.h"
#include "recsys.h"
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

/* Model flags of explicit ALS options */
static uint32
AlsFlags(const AlsOptions *o)
{
	return (o->common.keep_interactions ? RECSYS_MODEL_HAS_INTERACTIONS : 0) |
		(o->biases ? RECSYS_MODEL_HAS_BIASES : 0);
}

/* Model flags of implicit ALS options (never biases) */
static uint32
IalsFlags(const IalsOptions *o)
{
	return o->common.keep_interactions ? RECSYS_MODEL_HAS_INTERACTIONS : 0;
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
 * with its ids, item popularity and (by flags) seen interactions written; the
 * factor sections are left for the solver to write.  Also reserves the solver's
 * estimated scratch (an early check: the solver reports what it used).
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

	scratch = EstimateSolverScratch(Max(LongestRow(r->user_ptr, nu),
										LongestRow(r->item_ptr, ni)),
									k, in->threads);
	RecTrainReserve(in->memory, scratch, "solver scratch");
	in->memory->live -= scratch;
	return m;
}

/* The fit of train_als: explicit ALS with weighted-lambda (als.c) */
static int
FitAls(const RecFitInput *in, RecFitOutput *out)
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

/* The fit of train_ials: implicit ALS, Hu-Koren-Volinsky (ials.c) */
static int
FitIals(const RecFitInput *in, RecFitOutput *out)
{
	const IalsOptions *o = (const IalsOptions *) in->options;
	RecModelLayout l;
	RecModelHeader *m = CreateFactorModel(in, IalsFlags(o), (int) o->factors, &l);
	RecFactors	f;
	RecControl	ctl;
	FitProgress progress;
	IalsParams	p;
	int			status;

	memset(&f, 0, sizeof(f));
	f.user_factors = (float *) ((char *) m + l.user_factors);
	f.item_factors = (float *) ((char *) m + l.item_factors);
	FitControl(in, (int) o->iterations, &ctl, &progress);

	p.factors = (int) o->factors;
	p.iterations = (int) o->iterations;
	p.regularization = (float) o->regularization;
	p.alpha = (float) o->alpha;
	p.cg_steps = (int) o->cg_steps;
	p.solver = (int) o->solver;
	p.seed = (uint64) o->common.seed;
	p.threads = in->threads;
	status = IalsTrain(&in->data->ratings, &p, &f, &ctl);

	m->iterations = f.iterations_done;
	m->global_mean = 0.0f;
	m->train_loss = (float) f.loss;
	out->model = m;
	out->scratch_bytes = f.scratch_bytes;
	return status;
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
		.fit = FitAls,
		.sections = RECSYS_SECTION_USER_FACTORS | RECSYS_SECTION_ITEM_FACTORS |
		RECSYS_SECTION_BIASES | RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN,
		.scorer = RECSYS_SCORER_FACTORS,
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
		.fit = FitIals,
		.sections = RECSYS_SECTION_USER_FACTORS | RECSYS_SECTION_ITEM_FACTORS |
		RECSYS_SECTION_POPULARITY | RECSYS_SECTION_SEEN,
		.scorer = RECSYS_SCORER_FACTORS,
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
