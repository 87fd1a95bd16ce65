/*
 * knn.c
 *		Item-item and user-user similarities, top-k per row (RecKnnFit): the
 *		numeric core of train_knn.  The similarity rules are in neighbours.h.
 *
 * One code path serves both kinds: the "rows" are the items (columns of the CSC)
 * or the users (rows of the CSR), and the "other" side is the orientation that
 * reaches a row's co-occurring rows.  Row r is compared with every row sharing an
 * entry with it by a sparse-times-sparse product: for each entry (r, u) of r, for
 * each entry (c, u) of u through the other orientation, accumulate into a dense
 * per-thread array indexed by c, remembering which c were touched.  Pearson takes
 * a second identical pass for the deviations from the pair's co-rated means (two
 * passes, not sum xy - sum x sum y / n, so all-equal ratings give exactly zero
 * variance).  Then the row's candidates are filtered, shrunk, and the best k kept.
 *
 * Rows are independent and each is accumulated in one fixed order, in double, by
 * whichever thread takes it, so the result is bit-identical for every thread
 * count and chunk size.  Scratch is allocated before the threads start; nothing
 * here calls PostgreSQL.  Not here: the option parsing and the model sections.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neighbours.h"
#include "solverutil.h"

/* rows per work chunk unless the caller sets one: a popular row costs ~ms */
#define KNN_CHUNK	8

/* The rows being compared, seen from one side of the interaction matrix */
typedef struct KnnSide
{
	int64_t		n_rows;
	const int64_t *row_ptr;		/* a row's entries over the other side */
	const int32_t *row_idx;
	const float *row_val;
	const int64_t *other_ptr;	/* an other-side index's rows */
	const int32_t *other_idx;
	const float *other_val;
} KnnSide;

/* Per-thread scratch: dense accumulators over the rows plus the touched list */
typedef struct KnnScratch
{
	int32_t    *count;			/* [n_rows] co-occurrences with the current row */
	double	   *dot;			/* [n_rows] sum x y (cosine), or sum x (pearson) */
	double	   *sy;				/* pearson: sum y, then its mean */
	double	   *sxx;			/* pearson: sum (x - mx)^2 */
	double	   *syy;			/* pearson: sum (y - my)^2 */
	double	   *sxy;			/* pearson: sum (x - mx)(y - my) */
	int32_t    *touched;		/* [n_rows] the rows with count > 0 */
	uint64_t   *cand;			/* [n_rows] packed candidates */
	uint64_t   *tmp;			/* [n_rows] sort scratch */
} KnnScratch;

/* Everything a chunk needs */
typedef struct KnnJob
{
	KnnSide		side;
	const RecKnnParams *p;
	int64_t		stride;			/* output slot per row: min(k, n_rows - 1) */
	const double *pow_row;		/* cosine: |x|^(2 alpha) of the listing row */
	const double *pow_nbr;		/* cosine: |y|^(2 (1 - alpha)) of a neighbour */
	KnnScratch *scratch;		/* [threads] */
	RecNeighbours *out;
} KnnJob;

/* The rows-and-other orientation for p->kind */
static KnnSide
KnnSideOf(const RecRatings *r, int kind)
{
	KnnSide		s;

	if (kind == REC_KNN_ITEM)
	{
		s.n_rows = r->n_items;
		s.row_ptr = r->item_ptr;
		s.row_idx = r->item_users;
		s.row_val = r->item_values;
		s.other_ptr = r->user_ptr;
		s.other_idx = r->user_items;
		s.other_val = r->user_values;
	}
	else
	{
		s.n_rows = r->n_users;
		s.row_ptr = r->user_ptr;
		s.row_idx = r->user_items;
		s.row_val = r->user_values;
		s.other_ptr = r->item_ptr;
		s.other_idx = r->item_users;
		s.other_val = r->item_values;
	}
	return s;
}

/* True if the options are in range */
static bool
KnnParamsValid(const RecRatings *r, const RecKnnParams *p)
{
	if (r == NULL || p == NULL || r->n_users < 0 || r->n_items < 0 || r->nnz < 0)
		return false;
	if (p->kind != REC_KNN_ITEM && p->kind != REC_KNN_USER)
		return false;
	if (p->similarity < REC_SIM_COSINE || p->similarity > REC_SIM_ASYMMETRIC_COSINE)
		return false;
	if (p->neighbours < 1 || p->min_support < 1 || p->chunk < 0)
		return false;
	if (!(p->shrinkage >= 0.0f) || !isfinite(p->shrinkage))
		return false;
	if (!(p->alpha >= 0.0f && p->alpha <= 1.0f))
		return false;
	return true;
}

/* Output slots per row: k, but never more than the other rows */
static int64_t
KnnStride(int64_t n_rows, int neighbours)
{
	int64_t		others = n_rows > 0 ? n_rows - 1 : 0;

	return neighbours < others ? neighbours : others;
}

/* Entries idx/weight must hold for RecKnnFit on r with p */
int64_t
RecKnnCapacity(const RecRatings *r, const RecKnnParams *p)
{
	int64_t		n_rows;

	if (!KnnParamsValid(r, p))
		return 0;
	n_rows = p->kind == REC_KNN_ITEM ? r->n_items : r->n_users;
	return n_rows * KnnStride(n_rows, p->neighbours);
}

/* Threads a fit really uses */
static int
KnnThreads(const RecKnnParams *p)
{
	return p->threads < 1 ? 1 :
		(p->threads > RECSYS_MAX_THREADS ? RECSYS_MAX_THREADS : p->threads);
}

/* Bytes of one thread's scratch over n_rows rows */
static size_t
KnnScratchPerThread(int64_t n_rows, int similarity)
{
	size_t		doubles = similarity == REC_SIM_PEARSON ? 5 :
		(similarity == REC_SIM_JACCARD ? 0 : 1);
	size_t		row = SolverFloats(n_rows);	/* int32 arrays: same size as floats */
	size_t		wide = SolverFloats(2 * n_rows);	/* double and uint64 arrays */

	return 2 * row + (doubles + 2) * wide;
}

/* Bytes RecKnnFit allocates itself for r with p (reported in scratch_bytes) */
int64_t
RecKnnScratchBytes(const RecRatings *r, const RecKnnParams *p)
{
	int64_t		n_rows;
	int			threads;
	size_t		bytes;

	if (!KnnParamsValid(r, p))
		return 0;
	n_rows = p->kind == REC_KNN_ITEM ? r->n_items : r->n_users;
	if (n_rows == 0)
		return 0;
	threads = KnnThreads(p);
	bytes = KnnScratchPerThread(n_rows, p->similarity) * threads +
		sizeof(KnnScratch) * threads;
	if (p->similarity == REC_SIM_COSINE || p->similarity == REC_SIM_ASYMMETRIC_COSINE)
		bytes += 2 * SolverFloats(2 * (n_rows + 1));
	return (int64_t) bytes;
}

/*
 * Accumulates row r against every row sharing an entry with it: count and
 * sum x y (or, for Pearson, sum x and sum y).  Returns the touched count.
 */
static int64_t
KnnAccumulate(const KnnJob *job, KnnScratch *s, int64_t r)
{
	const KnnSide *sd = &job->side;
	bool		pearson = job->p->similarity == REC_SIM_PEARSON;
	bool		values = job->p->similarity != REC_SIM_JACCARD;
	int64_t		n_touched = 0;
	int64_t		e;

	for (e = sd->row_ptr[r]; e < sd->row_ptr[r + 1]; e++)
	{
		int32_t		u = sd->row_idx[e];
		double		x = sd->row_val[e];
		int64_t		f;

		for (f = sd->other_ptr[u]; f < sd->other_ptr[u + 1]; f++)
		{
			int32_t		c = sd->other_idx[f];

			if (s->count[c]++ == 0)
				s->touched[n_touched++] = c;
			if (pearson)
			{
				s->dot[c] += x;
				s->sy[c] += sd->other_val[f];
			}
			else if (values)
				s->dot[c] += x * (double) sd->other_val[f];
		}
	}
	return n_touched;
}

/*
 * Pearson's second pass: the sums of deviations from the pair's co-rated means,
 * which the first pass left as sums in dot (x) and sy (y).
 */
static void
KnnPearsonDeviations(const KnnJob *job, KnnScratch *s, int64_t r, int64_t n_touched)
{
	const KnnSide *sd = &job->side;
	int64_t		t;
	int64_t		e;

	for (t = 0; t < n_touched; t++)
	{
		int32_t		c = s->touched[t];

		s->dot[c] /= (double) s->count[c];
		s->sy[c] /= (double) s->count[c];
	}
	for (e = sd->row_ptr[r]; e < sd->row_ptr[r + 1]; e++)
	{
		int32_t		u = sd->row_idx[e];
		double		x = sd->row_val[e];
		int64_t		f;

		for (f = sd->other_ptr[u]; f < sd->other_ptr[u + 1]; f++)
		{
			int32_t		c = sd->other_idx[f];
			double		dx = x - s->dot[c];
			double		dy = (double) sd->other_val[f] - s->sy[c];

			s->sxx[c] += dx * dx;
			s->syy[c] += dy * dy;
			s->sxy[c] += dx * dy;
		}
	}
}

/*
 * The similarity of row r to row c from the accumulators, shrunk; false if the
 * pair gets no entry (undefined, not finite, below min_support or not > 0).
 */
static bool
KnnSimilarity(const KnnJob *job, const KnnScratch *s, int64_t r, int32_t c,
			  float *sim)
{
	const RecKnnParams *p = job->p;
	int32_t		n = s->count[c];
	double		v;
	float		f;

	if (n < p->min_support)
		return false;
	switch (p->similarity)
	{
		case REC_SIM_PEARSON:
			if (!(s->sxx[c] > 0.0) || !(s->syy[c] > 0.0))
				return false;
			v = s->sxy[c] / sqrt(s->sxx[c] * s->syy[c]);
			break;
		case REC_SIM_JACCARD:
			{
				const int64_t *ptr = job->side.row_ptr;
				int64_t		uni = (ptr[r + 1] - ptr[r]) + (ptr[c + 1] - ptr[c]) - n;

				v = (double) n / (double) uni;
			}
			break;
		default:				/* cosine and asymmetric cosine */
			{
				double		den = job->pow_row[r] * job->pow_nbr[c];

				if (!(den > 0.0))
					return false;
				v = s->dot[c] / den;
			}
			break;
	}
	if (p->shrinkage > 0.0f)
		v *= (double) n / ((double) n + (double) p->shrinkage);
	f = (float) v;
	if (!(f > 0.0f) || !isfinite(f))
		return false;
	*sim = f;
	return true;
}

/* Computes, selects and writes row r into its output slot; resets the scratch */
static void
KnnRow(const KnnJob *job, KnnScratch *s, int64_t r)
{
	bool		pearson = job->p->similarity == REC_SIM_PEARSON;
	int64_t		n_touched = KnnAccumulate(job, s, r);
	int64_t		n_cand = 0;
	int64_t		kept;
	int64_t		t;
	int32_t    *idx = job->out->idx + r * job->stride;
	float	   *weight = job->out->weight + r * job->stride;

	if (pearson)
		KnnPearsonDeviations(job, s, r, n_touched);

	for (t = 0; t < n_touched; t++)
	{
		int32_t		c = s->touched[t];
		float		sim;

		if (c != r && KnnSimilarity(job, s, r, c, &sim))
			s->cand[n_cand++] = RecPackNeighbour(sim, c);
		/* leave the accumulators zero for the next row */
		s->count[c] = 0;
		if (s->dot)
			s->dot[c] = 0.0;
		if (pearson)
			s->sy[c] = s->sxx[c] = s->syy[c] = s->sxy[c] = 0.0;
	}

	kept = RecKeepBest(s->cand, n_cand, job->stride, s->tmp);
	RecUnpackNeighbours(s->cand, kept, idx, weight);
	if (job->p->normalize && kept > 0)
		RecNormalizeNeighbours(idx, weight, kept);
	/* a weight the normalisation rounded to zero is dropped (it sorts last) */
	while (kept > 0 && !(weight[kept - 1] > 0.0f))
		kept--;
	job->out->ptr[r + 1] = kept;
}

/* RecParallelFor body: rows [begin, end) */
static int
KnnChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const KnnJob *job = (const KnnJob *) ctx;
	KnnScratch *s = &job->scratch[thread];
	int64_t		r;

	for (r = begin; r < end; r++)
		KnnRow(job, s, r);
	return RECSYS_OK;
}

/*
 * Top-k similar rows per item or user; see neighbours.h.  Allocates its scratch
 * (RecKnnScratchBytes) before starting threads, fills out->ptr, idx and weight.
 */
int
RecKnnFit(const RecRatings *r, const RecKnnParams *p, RecNeighbours *out,
		  const RecControl *ctl)
{
	KnnJob		job;
	int			threads;
	int64_t		n_rows;
	int64_t		chunk;
	size_t		per_thread;
	char	   *pool = NULL;
	double	   *pows = NULL;
	double		start = SolverNow();
	int			rc = RECSYS_OK;
	int			t;

	if (!KnnParamsValid(r, p) || out == NULL || out->ptr == NULL)
		return RECSYS_EINVAL;
	memset(&job, 0, sizeof(job));
	job.side = KnnSideOf(r, p->kind);
	job.p = p;
	job.out = out;
	n_rows = job.side.n_rows;
	job.stride = KnnStride(n_rows, p->neighbours);
	if (out->capacity < n_rows * job.stride ||
		(n_rows * job.stride > 0 && (out->idx == NULL || out->weight == NULL)))
		return RECSYS_EINVAL;
	threads = KnnThreads(p);
	out->scratch_bytes = 0;
	out->flops = 0.0;
	out->ptr[0] = 0;
	if (n_rows == 0)
		goto done;

	/* scratch: the per-thread accumulators, then the norms' powers */
	per_thread = KnnScratchPerThread(n_rows, p->similarity);
	job.scratch = calloc(threads, sizeof(KnnScratch));
	pool = SolverAlloc(per_thread * threads);
	if (p->similarity == REC_SIM_COSINE || p->similarity == REC_SIM_ASYMMETRIC_COSINE)
		pows = SolverAlloc(2 * SolverFloats(2 * (n_rows + 1)));
	if (job.scratch == NULL || pool == NULL ||
		(pows == NULL && (p->similarity == REC_SIM_COSINE ||
						  p->similarity == REC_SIM_ASYMMETRIC_COSINE)))
	{
		rc = RECSYS_ENOMEM;
		goto done;
	}
	out->scratch_bytes = RecKnnScratchBytes(r, p);
	for (t = 0; t < threads; t++)
	{
		char	   *b = pool + per_thread * t;
		KnnScratch *s = &job.scratch[t];
		size_t		row = SolverFloats(n_rows);
		size_t		wide = SolverFloats(2 * n_rows);

		s->count = (int32_t *) b;
		b += row;
		s->touched = (int32_t *) b;
		b += row;
		s->cand = (uint64_t *) b;
		b += wide;
		s->tmp = (uint64_t *) b;
		b += wide;
		if (p->similarity == REC_SIM_JACCARD)
			continue;
		s->dot = (double *) b;
		b += wide;
		if (p->similarity != REC_SIM_PEARSON)
			continue;
		s->sy = (double *) b;
		b += wide;
		s->sxx = (double *) b;
		b += wide;
		s->syy = (double *) b;
		b += wide;
		s->sxy = (double *) b;
	}

	/* the norms' powers, |x|^(2 alpha) for a listing row, |y|^(2(1-alpha)) else */
	if (pows)
	{
		double		alpha = p->similarity == REC_SIM_COSINE ? 0.5 : (double) p->alpha;
		int64_t		i;

		job.pow_row = pows;
		job.pow_nbr = pows + SolverFloats(2 * (n_rows + 1)) / sizeof(double);
		for (i = 0; i < n_rows; i++)
		{
			double		sq = 0.0;
			int64_t		e;

			for (e = job.side.row_ptr[i]; e < job.side.row_ptr[i + 1]; e++)
				sq += (double) job.side.row_val[e] * (double) job.side.row_val[e];
			((double *) job.pow_row)[i] = alpha == 0.5 ? sqrt(sq) : pow(sq, alpha);
			((double *) job.pow_nbr)[i] = alpha == 0.5 ? sqrt(sq) : pow(sq, 1.0 - alpha);
		}
	}

	/* a cancel already pending stops here; while threads run the pool polls */
	if (ctl != NULL && ctl->interrupted != NULL && ctl->interrupted(ctl->arg))
	{
		rc = RECSYS_INTERRUPTED;
		goto done;
	}
	chunk = p->chunk > 0 ? p->chunk : KNN_CHUNK;
	rc = RecParallelFor(threads, n_rows, chunk, KnnChunk, &job, ctl);
	if (rc == RECSYS_OK)
		RecCompactNeighbours(out, n_rows, job.stride);

done:
	if (rc != RECSYS_OK)
		memset(out->ptr, 0, sizeof(int64_t) * (size_t) (n_rows + 1));
	if (rc == RECSYS_STUCK)
		return rc;				/* parked workers may still write it: the process exits */
	free(job.scratch);
	free(pool);
	free(pows);
	out->seconds = SolverNow() - start;
	return rc;
}

/* Baselines of kNN with baselines (neighbours.h): alternating, in double */
void
RecBaselines(const RecRatings *r, int epochs, float reg_users, float reg_items,
			 float *mu, float *user_bias, float *item_bias)
{
	double		sum = 0;

	for (int64_t p = 0; p < r->nnz; p++)
		sum += r->user_values[p];
	*mu = r->nnz > 0 ? (float) (sum / (double) r->nnz) : 0.0f;
	memset(user_bias, 0, sizeof(float) * r->n_users);
	memset(item_bias, 0, sizeof(float) * r->n_items);
	for (int e = 0; e < epochs; e++)
	{
		for (int32_t i = 0; i < r->n_items; i++)
		{
			double		acc = 0;

			for (int64_t p = r->item_ptr[i]; p < r->item_ptr[i + 1]; p++)
				acc += r->item_values[p] - *mu - user_bias[r->item_users[p]];
			item_bias[i] = (float) (acc / (reg_items + (double) (r->item_ptr[i + 1] - r->item_ptr[i])));
		}
		for (int32_t u = 0; u < r->n_users; u++)
		{
			double		acc = 0;

			for (int64_t p = r->user_ptr[u]; p < r->user_ptr[u + 1]; p++)
				acc += r->user_values[p] - *mu - item_bias[r->user_items[p]];
			user_bias[u] = (float) (acc / (reg_users + (double) (r->user_ptr[u + 1] - r->user_ptr[u])));
		}
	}
}
