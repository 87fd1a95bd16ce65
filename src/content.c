/*
 * content.c
 *		Content-based and hybrid models: the fits of train_content (dense item
 *		features, cosine to a user's profile) and train_hybrid (ALS factors plus a
 *		ridge map from features to factors that places items nobody has touched),
 *		and the profile of a visitor's history that serving asks a content model for.
 *
 * Both write ordinary factor models, so every function that serves factors
 * serves them: a content model's item factors are its L2-normalised feature
 * vectors and its user factors the normalised profiles, so x_u . y_i is the
 * cosine of the two; a hybrid model's item factors are ALS's, with the mapped
 * factors F W in place of (or blended into) those of items with few
 * interactions.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "algorithms.h"
#include "blas.h"
#include "content.h"
#include "itemfeatures.h"
#include "interactions.h"
#include "model.h"
#include "modeltype.h"
#include "options.h"
#include "recsys.h"

/* users between interrupt checks while profiles are summed */
#define PROFILE_BATCH	1024

/* ------------------------------------------------------------ plain C */

/* Scales x[0..n) to unit length; leaves a zero vector as it is */
static void
Normalise(float *x, int n)
{
	double		ss = 0.0;

	for (int d = 0; d < n; d++)
		ss += (double) x[d] * x[d];
	if (ss > 0.0)
	{
		float		inv = (float) (1.0 / sqrt(ss));

		for (int d = 0; d < n; d++)
			x[d] *= inv;
	}
}

/*
 * The profile of a history over unit item vectors Y (k columns): the sum of
 * w_j y_j, w_j the value (minus the mean of the values when centred), then
 * normalised.
 */
static void
Profile(const float *Y, int k, const int32 *items, const float *values, int64 n,
		bool center, float *x)
{
	double		mean = 0.0;

	memset(x, 0, sizeof(float) * k);
	if (center && n > 0)
	{
		for (int64 j = 0; j < n; j++)
			mean += values[j];
		mean /= n;
	}
	for (int64 j = 0; j < n; j++)
	{
		float		w = (float) (values[j] - mean);

		if (w != 0.0f)
			cblas_saxpy(k, w, Y + (int64) items[j] * k, 1, x, 1);
	}
	Normalise(x, k);
}

/*
 * The ridge map W [(dim + 1) x k] from features (plus a constant column) to
 * factors, fitted on the rows of the items in train[0..n): W = (F'F + lambda I)^-1
 * F'Y.  Returns false when the Cholesky factorisation fails.
 */
static bool
RidgeMap(const float *F, int dim, const float *Y, int k, const int32 *train, int32 n,
		 float lambda, float *Ft, float *Yt, float *G, float *B, float *W)
{
	int			D = dim + 1;
	int			info = 0;

	for (int32 r = 0; r < n; r++)
	{
		memcpy(Ft + (int64) r * D, F + (int64) train[r] * dim, sizeof(float) * dim);
		Ft[(int64) r * D + dim] = 1.0f;
		memcpy(Yt + (int64) r * k, Y + (int64) train[r] * k, sizeof(float) * k);
	}
	/* G = Ft'Ft (upper triangle, row-major) + lambda I; B = Ft'Yt */
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, D, n, 1.0f, Ft, D, 0.0f, G, D);
	for (int d = 0; d < D; d++)
		G[(int64) d * D + d] += lambda;
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, k, n, 1.0f, Ft, D, Yt, k,
				0.0f, B, k);

	/* row-major upper is column-major lower; W column-major: W[j * D + d] */
	spotrf_("L", &D, G, &D, &info);
	if (info != 0)
		return false;
	for (int d = 0; d < D; d++)
		for (int j = 0; j < k; j++)
			W[(int64) j * D + d] = B[(int64) d * k + j];
	spotrs_("L", &D, &k, G, &D, W, &D, &info);
	return info == 0;
}

/* The mapped factors of one item: y[j] = [f, 1] . W[:, j] */
static void
MapItem(const float *f, int dim, const float *W, int k, float *y)
{
	int			D = dim + 1;

	for (int j = 0; j < k; j++)
	{
		const float *w = W + (int64) j * D;
		double		s = w[dim];

		for (int d = 0; d < dim; d++)
			s += (double) w[d] * f[d];
		y[j] = (float) s;
	}
}

/* ------------------------------------------------------------ train_content */

/* Model flags of train_content options */
static uint32
ContentFlags(const ContentOptions *o)
{
	return o->common.keep_interactions ?
		RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES : 0;
}

/*
 * Model bytes of train_content: the dimension is not known before the rows are
 * read, so this counts one; the fit reserves the real size
 */
uint64
RecContentModelBytes(const void *options, int32 n_users, int32 n_items, int64 nnz,
					 size_t options_len)
{
	const ContentOptions *o = (const ContentOptions *) options;

	return RecModelShapeSize(RECSYS_ALG_CONTENT, ContentFlags(o), 1, n_users, n_items,
							 o->common.keep_interactions ? nnz : 0, options_len);
}

/* The dimension of a run's features; an error when no row had any */
static int32
RequireFeatures(const RecFitInput *in)
{
	int32		dim = in->features ? RecFeatureStoreDim(in->features) : 0;

	if (dim == 0 && in->features != NULL && RecFeatureStoreIsText(in->features))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s needs recsys.vec features, got tsvector", in->algorithm->aggregate)));
	if (dim == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs item features, but every row's features were NULL",
						in->algorithm->aggregate)));
	return dim;
}

/*
 * A factor model with k columns for the input in the model context, its ids,
 * popularity and (by flags) seen interactions written
 */
static RecModelHeader *
CreateModel(const RecFitInput *in, int code, uint32 flags, int k, RecModelMutableView *v)
{
	const RecInteractions *d = in->data;
	const RecRatings *r = &d->ratings;
	int64		n_seen = (flags & RECSYS_MODEL_HAS_INTERACTIONS) ? r->nnz : 0;
	RecModelHeader *m;
	MemoryContext old;

	RecTrainReserve(in->memory,
					(int64) RecModelShapeSize(code, flags, k, r->n_users, r->n_items, n_seen,
											  strlen(in->options_json)),
					"the model");
	old = MemoryContextSwitchTo(in->model_context);
	m = RecModelCreateForFactors(code, flags, k, r->n_users, r->n_items, n_seen,
								 in->options_json);
	MemoryContextSwitchTo(old);
	RecModelGetMutableView(m, v);
	memcpy(v->user_ids, d->user_ids, sizeof(int64) * r->n_users);
	memcpy(v->item_ids, d->item_ids, sizeof(int64) * r->n_items);
	RecItemCounts(r, v->item_count);
	if (flags & RECSYS_MODEL_HAS_INTERACTIONS)
	{
		memcpy(v->seen_ptr, r->user_ptr, sizeof(int64) * ((int64) r->n_users + 1));
		memcpy(v->seen_items, r->user_items, sizeof(int32) * r->nnz);
	}
	if (flags & RECSYS_MODEL_HAS_SEEN_VALUES)
		memcpy(v->seen_values, r->user_values, sizeof(float) * r->nnz);
	return m;
}

/*
 * The fit of train_content over dense features: unit item vectors, and per user
 * the unit profile of their value-weighted items (centred when asked)
 */
int
RecFitContent(const RecFitInput *in, RecFitOutput *out)
{
	const ContentOptions *o = (const ContentOptions *) in->options;
	const RecRatings *r = &in->data->ratings;
	int32		dim;
	RecModelMutableView v;
	RecModelHeader *m;
	bool	   *has;

	if (in->features != NULL && RecFeatureStoreIsText(in->features))
		return RecFitText(in, out);
	if (in->algorithm->code == RECSYS_ALG_TEXT && in->features != NULL &&
		RecFeatureStoreCount(in->features) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("content_text needs tsvector features, got recsys.vec"),
				 errhint("Use 'content' for vectors.")));
	dim = RequireFeatures(in);
	m = CreateModel(in, RECSYS_ALG_CONTENT, ContentFlags(o), dim, &v);
	has = RecTrainAlloc(in->memory, r->n_items, sizeof(bool), "item flags");

	RecFeatureStoreMatrix(in->features, v.item_ids, r->n_items, v.item_factors, has);
	for (int32 i = 0; i < r->n_items; i++)
		Normalise(v.item_factors + (int64) i * dim, dim);

	for (int32 u = 0; u < r->n_users; u++)
	{
		int64		b = r->user_ptr[u];

		if (u % PROFILE_BATCH == 0)
			CHECK_FOR_INTERRUPTS();
		Profile(v.item_factors, dim, r->user_items + b, r->user_values + b,
				r->user_ptr[u + 1] - b, o->center, v.user_factors + (int64) u * dim);
	}
	m->iterations = 1;
	m->global_mean = 0.0f;
	m->train_loss = 0.0f;
	out->model = m;
	out->scratch_bytes = 0;
	return RECSYS_OK;
}

/* ------------------------------------------------------------ train_hybrid */

/* Model bytes of train_hybrid: those of its ALS */
uint64
RecHybridModelBytes(const void *options, int32 n_users, int32 n_items, int64 nnz,
					size_t options_len)
{
	const HybridOptions *o = (const HybridOptions *) options;

	return RecModelShapeSize(RECSYS_ALG_HYBRID,
							 o->ials.common.keep_interactions ?
							 RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES : 0,
							 (int) o->ials.factors, n_users, n_items,
							 o->ials.common.keep_interactions ? nnz : 0, options_len);
}

/*
 * The fit of train_hybrid: implicit (or explicit) ALS as train_ials (train_als)
 * fits it, then the ridge map from features to the factors of the items that
 * have both, which gives factors to items without interactions and blends into
 * those of items with fewer than cold_threshold
 */
int
RecFitHybrid(const RecFitInput *in, RecFitOutput *out)
{
	const HybridOptions *o = (const HybridOptions *) in->options;
	const RecRatings *r = &in->data->ratings;
	int32		dim = RequireFeatures(in);
	RecFitInput sub = *in;
	AlsOptions als;
	RecModelMutableView v;
	RecModelHeader *m;
	int			k = (int) o->ials.factors;
	int			D = dim + 1;
	float	   *F,
			   *Ft,
			   *Yt,
			   *G,
			   *B,
			   *W;
	bool	   *has;
	int32	   *train;
	int32		n_train = 0;
	int			status;

	if (o->explicit_feedback)
	{
		memset(&als, 0, sizeof(als));
		als.common = o->ials.common;
		als.factors = o->ials.factors;
		als.iterations = o->ials.iterations;
		als.regularization = o->ials.regularization;
		als.biases = false;
		sub.options = &als;
		status = RecFitAls(&sub, out);
	}
	else
	{
		if (in->data->value_min < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s weights must not be negative, got %g",
							in->algorithm->aggregate, (double) in->data->value_min),
					 errhint("Implicit feedback weights count interactions; set \"explicit\" to true for ratings.")));
		sub.options = &o->ials;
		status = RecFitIals(&sub, out);
	}
	if (status != RECSYS_OK)
		return status;
	m = out->model;
	if (o->explicit_feedback)
		m->flags |= RECSYS_MODEL_EXPLICIT;
	RecModelGetMutableView(m, &v);

	F = RecTrainAlloc(in->memory, (int64) r->n_items * dim, sizeof(float), "item features");
	has = RecTrainAlloc(in->memory, r->n_items, sizeof(bool), "item flags");
	RecFeatureStoreMatrix(in->features, v.item_ids, r->n_items, F, has);
	train = RecTrainAlloc(in->memory, r->n_items, sizeof(int32), "mapped items");
	for (int32 i = 0; i < r->n_items; i++)
		if (has[i] && v.item_count[i] > 0)
			train[n_train++] = i;
	if (n_train == 0)
	{
		ereport(WARNING,
				(errmsg("%s found no item with both features and interactions: items without interactions get no factors",
						in->algorithm->aggregate)));
		return RECSYS_OK;
	}

	Ft = RecTrainAlloc(in->memory, (int64) n_train * D, sizeof(float), "the map's input");
	Yt = RecTrainAlloc(in->memory, (int64) n_train * k, sizeof(float), "the map's targets");
	G = RecTrainAlloc(in->memory, (int64) D * D, sizeof(float), "the map's system");
	B = RecTrainAlloc(in->memory, (int64) D * k, sizeof(float), "the map's system");
	W = RecTrainAlloc(in->memory, (int64) D * k, sizeof(float), "the map");
	CHECK_FOR_INTERRUPTS();
	if (!RidgeMap(F, dim, v.item_factors, k, train, n_train,
				  (float) o->feature_regularization, Ft, Yt, G, B, W))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s could not fit the map from features to factors: the system is not positive definite",
						in->algorithm->aggregate),
				 errhint("Increase the \"feature_regularization\" option.")));
	CHECK_FOR_INTERRUPTS();

	for (int32 i = 0; i < r->n_items; i++)
	{
		float	   *y = v.item_factors + (int64) i * k;
		int32		c = v.item_count[i];
		float		mapped[RECSYS_MAX_FACTORS];

		if (i % PROFILE_BATCH == 0)
			CHECK_FOR_INTERRUPTS();
		if (!has[i] || (c > 0 && c >= o->cold_threshold))
			continue;
		MapItem(F + (int64) i * dim, dim, W, k, mapped);
		if (c == 0)
			memcpy(y, mapped, sizeof(float) * k);
		else
		{
			/* the fewer interactions, the more the features decide */
			float		a = (float) c / (float) o->cold_threshold;

			for (int j = 0; j < k; j++)
				y[j] = a * y[j] + (1.0f - a) * mapped[j];
		}
	}
	return RECSYS_OK;
}

/* ------------------------------------------------------------ serving */

/* Whether a content model's options ask for centred profiles */
bool
RecContentCentred(const RecModelView *v)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(v->options)));
	JsonbValue	val;

	return JB_ROOT_IS_OBJECT(jb) &&
		getKeyJsonValueFromContainer(&jb->root, "center", 6, &val) != NULL &&
		val.type == jbvBool && val.val.boolean;
}

/* A content model's profile of a history (content.h) */
void
RecContentProfile(const RecModelView *v, const int32 *items, const float *values, int64 n,
				  float *x)
{
	Profile(v->item_factors, v->h->factors, items, values, n, RecContentCentred(v), x);
}

/* Each history item's share of a content model's score for target (content.h) */
void
RecContentTerms(const RecModelView *v, const int32 *items, const float *values, int64 n,
				int32 target, float *terms)
{
	int			k = v->h->factors;
	bool		center = RecContentCentred(v);
	float	   *x = palloc(sizeof(float) * k);
	double		mean = 0.0;
	double		ss = 0.0;
	float		inv;

	/* the profile before normalisation, whose norm divides every term */
	memset(x, 0, sizeof(float) * k);
	if (center && n > 0)
	{
		for (int64 j = 0; j < n; j++)
			mean += values[j];
		mean /= n;
	}
	for (int64 j = 0; j < n; j++)
		cblas_saxpy(k, (float) (values[j] - mean), v->item_factors + (int64) items[j] * k, 1,
					x, 1);
	for (int d = 0; d < k; d++)
		ss += (double) x[d] * x[d];
	inv = ss > 0.0 ? (float) (1.0 / sqrt(ss)) : 0.0f;
	for (int64 j = 0; j < n; j++)
		terms[j] = (float) (values[j] - mean) * inv *
			cblas_sdot(k, v->item_factors + (int64) items[j] * k, 1,
					   v->item_factors + (int64) target * k, 1);
	pfree(x);
}

/* Scratch for the text scorer (content.h) */
void
RecTextScratchAlloc(const RecModelView *v, RecTextScratch *s)
{
	int64		n = Max(v->n_terms, 1);

	s->acc = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * n,
										MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	s->mark = palloc0(sizeof(uint64) * ((n + 63) / 64 + 1));
	s->terms = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int32) * n,
										  MCXT_ALLOC_HUGE);
}

/* A text content model's score row of a history (content.h) */
void
RecTextScoreHistory(const RecModelView *v, const RecHistory *hist, float *scores,
					RecTouched *t)
{
	RecTextScratch s;

	RecTextScratchAlloc(v, &s);
	RecTextScore(v, hist, RecContentCentred(v), &s, scores, t);
	pfree(s.acc);
	pfree(s.mark);
	pfree(s.terms);
}

/* The terms of a text content model's score (content.h) */
void
RecTextTermsHistory(const RecModelView *v, const RecHistory *hist, int32 target, float *terms)
{
	RecTextScratch s;

	RecTextScratchAlloc(v, &s);
	RecTextTerms(v, hist, RecContentCentred(v), target, &s, terms);
	pfree(s.acc);
	pfree(s.mark);
	pfree(s.terms);
}

/* user_factors and user_vector of a content model: its profiles are not factors */
void
RecContentRejectUserFactors(const RecModelHeader *h, const char *function)
{
	if (h->algorithm == RECSYS_ALG_CONTENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not available for a content model: it has item features and user profiles, not factors",
						function),
				 errhint("Use item_vector for an item's normalised features, or fold_in for the profile of a history.")));
}
