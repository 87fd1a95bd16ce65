/*
 * als.c
 *		Explicit alternating least squares with biases and weighted-lambda
 *		regularisation (AlsTrain).
 *
 * The model is r ~ mu + b_u + b_i + x_u . y_i, fitted by minimising
 *
 *		L = sum_(u,i) (r_ui - mu - b_u - b_i - x_u . y_i)^2
 *			+ lambda * sum_u n_u (|x_u|^2 + b_u^2) + lambda * sum_i n_i (|y_i|^2 + b_i^2)
 *
 * where n_u, n_i count the ratings of the row and mu is the mean rating (fixed).
 * A half-sweep fixes one side and solves every row of the other side exactly: for
 * user u, z = [x_u; b_u] solves (A_u^T A_u + lambda n_u I) z = A_u^T t_u, where the
 * rows of A_u are [y_i, 1] over the items u rated and t_ui = r_ui - mu - b_i.  Each
 * such update minimises L over its block, so L never increases from sweep to sweep.
 * Without biases the systems are k x k and the biases stay 0.
 *
 * The rated rows are gathered into a contiguous slab (at most ALS_SLAB rows at a
 * time, so a popular item's thousands of rows stay in cache), the normal matrix is
 * accumulated by a rank update and the right-hand side with SGEMV, factorised by
 * Cholesky, and solved by two triangular substitutions written here: for a 65 x 65
 * system SPOTRS costs more in call overhead than the arithmetic.  The rank update
 * and the factorisation are the kernels' own where the kernel set has them
 * (RecSyrkLower, RecCholeskyLower: register tiles, 22 against SSYRK's 38 ns per
 * gathered row and 2.0 against SPOTRF's 5.0 us for 65 x 65 with AVX-512), OpenBLAS's
 * otherwise.  The bias adds a border to the matrix (see AlsSolveRow), so the rank
 * update always runs on k columns: k = 64 suits its tiles far better than 65.  In
 * the item half-sweep an item's gathered rows stay in a scratch block of up to
 * ALS_KEEP_FLOATS for its residuals, so the loss costs no second gather.  Rows are
 * solved independently on the pool's threads, in chunks of about equal work, and
 * each reads only the other side's factors, so the result is bit-identical
 * whatever the number of threads.
 * Plain C: no PostgreSQL calls.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "kernels.h"
#include "solver.h"
#include "solverutil.h"

/* rows gathered at a time: 512 rows of 65 floats is 130 kB, inside L2 */
#define ALS_SLAB	512

/* how many rows ahead the gather prefetches */
#define ALS_PREFETCH	16

/* a row's fixed cost (SPOTRF, the solve, the calls) in ratings' worth of SSYRK */
#define ALS_ROW_COST	128

/* chunks per thread and half-sweep: enough to even out the threads' finish */
#define ALS_CHUNKS_PER_THREAD	256

/* the longest row kept gathered between its solve and its residuals: 4 MB at k = 64 */
#define ALS_KEEP_FLOATS	(16384 * 64)

/* Per-thread scratch, allocated before the threads start */
typedef struct AlsScratch
{
	float	   *block;			/* [keep * k]: gathered rows as columns, k x m */
	float	   *target;			/* [keep] */
	float	   *pred;			/* [ALS_SLAB] */
	float	   *ones;			/* [ALS_SLAB] all 1: column sums of the block */
	float	   *colsum;			/* [k] sum of the gathered rows (bias border) */
	float	   *A;				/* [dim * dim] normal matrix, lower triangle */
	float	   *rhs;			/* [dim] right-hand side, then the solution */
} AlsScratch;

/* One half-sweep: the rows being solved and the fixed other side */
typedef struct AlsHalf
{
	int			k;
	int			dim;			/* k + 1 with biases, else k */
	float		lambda;
	float		mu;
	bool		solve;			/* false: only evaluate the loss terms */
	bool		residuals;		/* add the squared residuals to row_loss */
	int64_t		keep;			/* rows of the scratch block: a row this long is
								 * gathered once for its solve and its residuals */
	const int64_t *ptr;
	const int64_t *chunks;		/* [n_chunks + 1] row bounds of the work chunks */
	const int32_t *order;		/* [n_chunks]: the chunks, heaviest first */
	const int32_t *idx;
	const float *val;
	float	   *factors;		/* this side, [rows * k] */
	float	   *bias;			/* this side, NULL without biases */
	const float *other;			/* other side, [* k] */
	const float *other_bias;	/* NULL without biases */
	double	   *row_loss;		/* [rows]: this row's share of L */
	AlsScratch *scratch;		/* [threads] */
} AlsHalf;

/* The smaller of two counts */
static inline int64_t
Min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * Copies rows idx[from..from+m) of the other side, and their targets, to column
 * `at` onwards of the scratch block
 */
static void
AlsGather(const AlsHalf *h, AlsScratch *s, int64_t from, int m, int64_t at)
{
	int			k = h->k;
	float	   *dst = s->block + at * k;
	float	   *target = s->target + at;
	int			j;

	for (j = 0; j < m; j++)
	{
		int32_t		o = h->idx[from + j];
		const float *src = h->other + (int64_t) o * k;
		float		t = h->val[from + j] - h->mu;

		/* the rows are scattered: ask for one ALS_PREFETCH rows ahead */
		if (j + ALS_PREFETCH < m)
			SolverPrefetchRow(h->other + (int64_t) h->idx[from + j + ALS_PREFETCH] * k, k);
		memcpy(dst + (int64_t) j * k, src, sizeof(float) * k);
		if (h->other_bias)
			t -= h->other_bias[o];
		target[j] = t;
	}
}

/* Eight partial sums added pairwise, in a fixed order */
static inline double
AlsPairwise8(const double *part)
{
	return ((part[0] + part[1]) + (part[2] + part[3])) +
		((part[4] + part[5]) + (part[6] + part[7]));
}

/*
 * Squared residuals of a slab of m ratings val (other side's rows idx) against
 * the predictions pred and bias b: target val - mu - other_bias[idx] in float,
 * as the solve's gather computes it, the squares in eight partial sums (entry
 * j into sum j mod 8) added pairwise, so that the additions do not wait on one
 * another (20M ratings: 4 ms less of an objective of 40 on two threads)
 */
static inline double
AlsSlabSquares(const float *restrict val, const int32_t *restrict idx,
			   const float *restrict other_bias, float mu, const float *restrict pred,
			   float b, int m)
{
	double		part[8] = {0.0};
	int			j = 0;

	if (other_bias)
		for (; j + 8 <= m; j += 8)
			for (int q = 0; q < 8; q++)
			{
				float		t = (val[j + q] - mu) - other_bias[idx[j + q]];
				double		e = (double) t - (double) pred[j + q] - (double) b;

				part[q] += e * e;
			}
	else
		for (; j + 8 <= m; j += 8)
			for (int q = 0; q < 8; q++)
			{
				float		t = val[j + q] - mu;
				double		e = (double) t - (double) pred[j + q] - (double) b;

				part[q] += e * e;
			}
	for (; j < m; j++)
	{
		float		t = val[j] - mu;
		double		e;

		if (other_bias)
			t -= other_bias[idx[j]];
		e = (double) t - (double) pred[j] - (double) b;
		part[j & 7] += e * e;
	}
	return AlsPairwise8(part);
}

/*
 * Sum of squared residuals of a row's ratings against its factors x and bias b.
 * With `gathered` the whole row is still in the scratch block from its solve;
 * otherwise the other side's rows are read where they are.
 */
static double
AlsResiduals(const AlsHalf *h, AlsScratch *s, int64_t begin, int64_t end,
			 const float *x, float b, bool gathered)
{
	double		sum = 0.0;
	int64_t		from;

	if (!gathered)
	{
		/*
		 * the other side's rows where they are: copying each into the scratch
		 * block for one SGEMV cost more than the dot products themselves
		 */
		for (from = begin; from < end; from += ALS_SLAB)
		{
			int			m = (int) (end - from < ALS_SLAB ? end - from : ALS_SLAB);

			KernGatherDots(h->other, h->idx + from, m, h->k, x, s->pred);
			sum += AlsSlabSquares(h->val + from, h->idx + from, h->other_bias, h->mu,
								  s->pred, b, m);
		}
		return sum;
	}
	for (from = begin; from < end; from += ALS_SLAB)
	{
		int			m = (int) (end - from < ALS_SLAB ? end - from : ALS_SLAB);
		int64_t		at = from - begin;
		const float *target = s->target + at;
		int			j;

		/* pred = block^T x */
		cblas_sgemv(CblasColMajor, CblasTrans, h->k, m, 1.0f, s->block + at * h->k, h->k,
					x, 1, 0.0f, s->pred, 1);
		for (j = 0; j < m; j++)
		{
			double		e = (double) target[j] - (double) s->pred[j] - (double) b;

			sum += e * e;
		}
	}
	return sum;
}

/*
 * Solves L L^T z = rhs in place, with L the lower Cholesky factor SPOTRF left in
 * the column-major n x n matrix a: forward substitution by columns (an axpy per
 * column), then back substitution by dot products, each split over four partial
 * sums so the additions do not wait on one another.  The same code on every
 * thread, so the result does not depend on which thread solves the row.
 */
static void
AlsCholeskySolve(const float *restrict a, int n, float *restrict z)
{
	int			i,
				j;

	for (j = 0; j < n; j++)
	{
		const float *col = a + (int64_t) j * n;
		float		zj = z[j] / col[j];

		z[j] = zj;
		for (i = j + 1; i + 3 < n; i += 4)
		{
			z[i] -= col[i] * zj;
			z[i + 1] -= col[i + 1] * zj;
			z[i + 2] -= col[i + 2] * zj;
			z[i + 3] -= col[i + 3] * zj;
		}
		for (; i < n; i++)
			z[i] -= col[i] * zj;
	}
	for (j = n - 1; j >= 0; j--)
	{
		const float *col = a + (int64_t) j * n;
		float		s0 = 0.0f,
					s1 = 0.0f,
					s2 = 0.0f,
					s3 = 0.0f;

		for (i = j + 1; i + 3 < n; i += 4)
		{
			s0 += col[i] * z[i];
			s1 += col[i + 1] * z[i + 1];
			s2 += col[i + 2] * z[i + 2];
			s3 += col[i + 3] * z[i + 3];
		}
		for (; i < n; i++)
			s0 += col[i] * z[i];
		z[j] = (z[j] - ((s0 + s1) + (s2 + s3))) / col[j];
	}
}

/*
 * Builds and solves row r's normal equations.  With biases the (k+1) x (k+1)
 * matrix is bordered: [Y^T Y + reg I, Y^T 1; 1^T Y, n + reg], so the rank update
 * works on the k gathered factor columns only, and the border comes from
 * one SGEMV against a vector of ones.  A row of at most h->keep ratings stays
 * gathered in the scratch block for AlsResiduals.  Leaves [x; b] in s->rhs.
 */
static int
AlsSolveRow(const AlsHalf *h, AlsScratch *s, int64_t begin, int64_t end)
{
	int			k = h->k;
	int			dim = h->dim;
	int64_t		n = end - begin;
	bool		keep = n <= h->keep;
	float		reg = h->lambda * (float) n;
	double		tsum = 0.0;
	int64_t		from;
	int			j;

	for (from = begin; from < end; from += ALS_SLAB)
	{
		int			m = (int) (end - from < ALS_SLAB ? end - from : ALS_SLAB);
		float		beta = from == begin ? 0.0f : 1.0f;
		int64_t		at = keep ? from - begin : 0;
		const float *block = s->block + at * k;
		const float *target = s->target + at;

		AlsGather(h, s, from, m, at);
		/* A[0:k, 0:k] += B B^T (lower), rhs[0:k] += B t, with B the k x m slab */
		RecSyrkLower(block, k, m, s->A, dim, beta == 0.0f);
		cblas_sgemv(CblasColMajor, CblasNoTrans, k, m, 1.0f, block, k,
					target, 1, beta, s->rhs, 1);
		if (h->bias)
		{
			cblas_sgemv(CblasColMajor, CblasNoTrans, k, m, 1.0f, block, k,
						s->ones, 1, beta, s->colsum, 1);
			for (j = 0; j < m; j++)
				tsum += target[j];
		}
	}
	if (h->bias)
	{
		/* the border: row k of the lower triangle, and the bias's own entry */
		for (j = 0; j < k; j++)
			s->A[(int64_t) j * dim + k] = s->colsum[j];
		s->A[(int64_t) k * dim + k] = (float) n;
		s->rhs[k] = (float) tsum;
	}
	for (j = 0; j < dim; j++)
		s->A[(int64_t) j * dim + j] += reg;

	if (RecCholeskyLower(s->A, dim, dim) != 0)
		return RECSYS_ENOTPD;
	AlsCholeskySolve(s->A, dim, s->rhs);
	for (j = 0; j < dim; j++)
		if (!isfinite(s->rhs[j]))
			return RECSYS_ENOTPD;
	return RECSYS_OK;
}

/* Solves (or only evaluates) one row; returns a status code */
static int
AlsRow(const AlsHalf *h, AlsScratch *s, int64_t r)
{
	int			k = h->k;
	int64_t		begin = h->ptr[r];
	int64_t		end = h->ptr[r + 1];
	int64_t		n = end - begin;
	float	   *x = h->factors + r * k;
	float	   *z = s->rhs;
	float		b;
	double		norm2 = 0.0;
	int			j;

	if (n == 0)
	{
		/* no ratings: the regularised minimum is zero */
		if (h->solve)
		{
			memset(x, 0, sizeof(float) * k);
			if (h->bias)
				h->bias[r] = 0.0f;
		}
		h->row_loss[r] = 0.0;
		return RECSYS_OK;
	}

	if (h->solve)
	{
		int			rc = AlsSolveRow(h, s, begin, end);

		if (rc != RECSYS_OK)
			return rc;
		memcpy(x, z, sizeof(float) * k);
		if (h->bias)
			h->bias[r] = z[k];
	}
	else
		memcpy(z, x, sizeof(float) * k);	/* the residuals read the row from z */
	b = h->bias ? h->bias[r] : 0.0f;

	{
		double		part[4] = {0.0};

		for (j = 0; j + 4 <= k; j += 4)
			for (int q = 0; q < 4; q++)
				part[q] += (double) z[j + q] * (double) z[j + q];
		for (; j < k; j++)
			part[j & 3] += (double) z[j] * (double) z[j];
		norm2 = (part[0] + part[1]) + (part[2] + part[3]);
	}
	norm2 += (double) b * (double) b;
	h->row_loss[r] = (double) h->lambda * (double) n * norm2;
	if (h->residuals)
		h->row_loss[r] += AlsResiduals(h, s, begin, end, z, b,
									   h->solve && n <= h->keep);
	return RECSYS_OK;
}

/*
 * The sum of the ratings (for their mean) in a fixed order on the threads:
 * blocks of ALS_SUM_BLOCK values, each in eight interleaved partial sums (one
 * chain of additions would wait on each one) added pairwise, then the blocks'
 * sums in block order
 */
#define ALS_SUM_BLOCK	(1 << 16)

typedef struct AlsSumPass
{
	const float *values;
	int64_t		n;
	double	   *block_sum;
} AlsSumPass;

static int
AlsSumChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const AlsSumPass *p = (const AlsSumPass *) ctx;

	for (int64_t b = begin; b < end; b++)
	{
		const float *v = p->values + b * ALS_SUM_BLOCK;
		int64_t		n = p->n - b * ALS_SUM_BLOCK < ALS_SUM_BLOCK ?
			p->n - b * ALS_SUM_BLOCK : ALS_SUM_BLOCK;
		double		part[8] = {0.0};
		int64_t		e;

		for (e = 0; e + 8 <= n; e += 8)
			for (int q = 0; q < 8; q++)
				part[q] += v[e + q];
		for (; e < n; e++)
			part[0] += v[e];
		p->block_sum[b] = AlsPairwise8(part);
	}
	return RECSYS_OK;
}

static int
AlsSum(const float *values, int64_t n, int threads, const RecControl *ctl, double *sum)
{
	AlsSumPass	p;
	int64_t		blocks = (n + ALS_SUM_BLOCK - 1) / ALS_SUM_BLOCK;
	int			rc;

	*sum = 0.0;
	if (blocks == 0)
		return RECSYS_OK;
	p.values = values;
	p.n = n;
	p.block_sum = malloc(sizeof(double) * (size_t) blocks);
	if (p.block_sum == NULL)
		return RECSYS_ENOMEM;
	rc = RecParallelFor(threads, blocks, 1, AlsSumChunk, &p, ctl);
	if (rc == RECSYS_OK)
		*sum = SolverOrderedSum(p.block_sum, blocks);
	free(p.block_sum);
	return rc;
}

/* RecParallelFor body: the work chunks [begin, end) of a half-sweep */
static int
AlsChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const AlsHalf *h = (const AlsHalf *) ctx;
	AlsScratch *s = &h->scratch[thread];
	int64_t		c;

	for (c = begin; c < end; c++)
	{
		int32_t		chunk = h->order[c];
		int64_t		r;

		for (r = h->chunks[chunk]; r < h->chunks[chunk + 1]; r++)
		{
			int			rc = AlsRow(h, s, r);

			if (rc != RECSYS_OK)
				return rc;
		}
	}
	return RECSYS_OK;
}

/*
 * Splits rows [0, rows) into runs of consecutive rows of about equal work (ratings
 * plus a fixed cost per row for its factorisation) and orders them: the runs of
 * more than twice the usual work (a popular item alone) first, heaviest first, so
 * they start early instead of keeping one thread busy after the others ran out of
 * work, then the rest in row order.  `chunks` has room for rows + 1 bounds, `order`
 * and `work` for rows entries; returns the chunk count.  Only the order in which
 * rows are solved changes, never a result.
 */
static int32_t
AlsPlanChunks(const int64_t *ptr, int64_t rows, int threads, int64_t *chunks,
			  int32_t *order, int64_t *work)
{
	int64_t		total = ptr[rows] - ptr[0] + rows * ALS_ROW_COST;
	int64_t		target = total / ((int64_t) (threads < 64 ? threads : 64) *
								  ALS_CHUNKS_PER_THREAD) + 1;
	int64_t		acc = 0;
	int32_t		n = 0;
	int32_t		heavy = 0;
	int64_t		r;
	int32_t		c;

	chunks[0] = 0;
	for (r = 0; r < rows; r++)
	{
		acc += ptr[r + 1] - ptr[r] + ALS_ROW_COST;
		if (acc >= target || r == rows - 1)
		{
			work[n] = acc;
			chunks[++n] = r + 1;
			acc = 0;
		}
	}
	/*
	 * the heavy runs first, sorted by insertion: each has more than twice the
	 * target work, so there are fewer than half as many of them as chunks
	 */
	for (c = 0; c < n; c++)
		if (work[c] > 2 * target)
		{
			int32_t		at = heavy++;

			while (at > 0 && work[order[at - 1]] < work[c])
			{
				order[at] = order[at - 1];
				at--;
			}
			order[at] = c;
		}
	for (c = 0; c < n; c++)
		if (work[c] <= 2 * target)
			order[heavy++] = c;
	return n;
}

/* Runs one half-sweep over its planned chunks; returns a status code */
static int
AlsHalfSweep(AlsHalf *h, int32_t n_chunks, int threads, const RecControl *ctl)
{
	return RecParallelFor(threads, n_chunks, 1, AlsChunk, h, ctl);
}

/*
 * Trains explicit ALS; see solver.h for the contract and the top of this file for
 * the objective.  out->loss is L after the last sweep (or of the initial factors).
 */
int
AlsTrain(const RecRatings *r, const AlsParams *p, RecFactors *out,
		 const RecControl *ctl)
{
	int			k = p->factors;
	int			dim;
	int			threads = p->threads;
	bool		biases = p->biases && out->user_bias && out->item_bias;
	AlsScratch *scratch = NULL;
	char	   *pool = NULL;
	double	   *user_loss = NULL;
	double	   *item_loss = NULL;
	char	   *plan = NULL;
	int64_t		cap[2];
	int32_t		n_chunks[2];
	int64_t		keep = ALS_SLAB;
	size_t		per_thread;
	size_t		plan_bytes = 0;
	double		mean = 0.0;
	AlsHalf		uh,
				ih;
	int			rc = RECSYS_OK;
	int			it;
	int64_t		e;
	int			t;

	if (r == NULL || p == NULL || out == NULL || k < 1 || p->iterations < 0 ||
		!(p->regularization >= 0.0f) || !isfinite(p->regularization) ||
		r->n_users < 0 || r->n_items < 0 || r->nnz < 0 ||
		out->user_factors == NULL || out->item_factors == NULL)
		return RECSYS_EINVAL;
	if (threads < 1)
		threads = 1;
	if (threads > RECSYS_MAX_THREADS)
		threads = RECSYS_MAX_THREADS;

	/* OpenBLAS scratch for the threads and this one, before any thread starts */
	if (RecBlasReserve(threads, NULL) != RECSYS_OK)
		return RECSYS_ENOMEM;
	dim = biases ? k + 1 : k;

	out->iterations_done = 0;
	out->loss = 0.0;
	out->scratch_bytes = 0;

	rc = AlsSum(r->user_values, r->nnz, threads, ctl, &mean);
	if (rc != RECSYS_OK)
		return rc;
	out->global_mean = r->nnz > 0 ? (float) (mean / (double) r->nnz) : 0.0f;

	rc = RecInitFactorsParallel(out->user_factors, r->n_users, k, p->seed, 1, threads, ctl);
	if (rc == RECSYS_OK)
		rc = RecInitFactorsParallel(out->item_factors, r->n_items, k, p->seed, 2, threads, ctl);
	if (rc != RECSYS_OK)
		return rc;
	if (out->user_bias)
		memset(out->user_bias, 0, sizeof(float) * (size_t) r->n_users);
	if (out->item_bias)
		memset(out->item_bias, 0, sizeof(float) * (size_t) r->n_items);

	/*
	 * the scratch block holds the longest item row, up to ALS_KEEP_FLOATS, in whole
	 * slabs: the item half-sweep then sums its residuals without gathering again.
	 * Without a sweep nothing is gathered: no block (it was 8 MB to zero on two
	 * threads before the objective of the initial factors).
	 */
	for (e = 0; e < r->n_items && p->iterations > 0; e++)
	{
		int64_t		n = r->item_ptr[e + 1] - r->item_ptr[e];

		if (n > keep)
			keep = n;
	}
	if (keep > ALS_KEEP_FLOATS / k)
		keep = ALS_KEEP_FLOATS / k;
	keep = (keep + ALS_SLAB - 1) / ALS_SLAB * ALS_SLAB;

	/* the work chunks of both sides (see AlsPlanChunks for their number) */
	cap[0] = Min64(r->n_users, (int64_t) (threads < 64 ? threads : 64) * ALS_CHUNKS_PER_THREAD);
	cap[1] = Min64(r->n_items, (int64_t) (threads < 64 ? threads : 64) * ALS_CHUNKS_PER_THREAD);
	for (t = 0; t < 2; t++)
		plan_bytes += sizeof(int64_t) * 2 * (size_t) (cap[t] + 1) +
			sizeof(int32_t) * (size_t) (cap[t] + 1);

	/* scratch: per-row loss terms and one set of buffers per thread */
	per_thread = SolverFloats(keep * k) + SolverFloats(keep) + 2 * SolverFloats(ALS_SLAB) +
		SolverFloats(k) + SolverFloats((int64_t) dim * dim) + SolverFloats(dim);
	scratch = calloc(threads, sizeof(AlsScratch));
	pool = SolverAlloc(per_thread * threads);
	user_loss = SolverAlloc(sizeof(double) * ((size_t) r->n_users + 1));
	item_loss = SolverAlloc(sizeof(double) * ((size_t) r->n_items + 1));
	plan = SolverAlloc(plan_bytes);
	if (scratch == NULL || pool == NULL || user_loss == NULL || item_loss == NULL ||
		plan == NULL)
	{
		rc = RECSYS_ENOMEM;
		goto done;
	}
	out->scratch_bytes = (int64_t) (per_thread * threads + threads * sizeof(AlsScratch) +
									sizeof(double) * ((size_t) r->n_users + r->n_items + 2) +
									plan_bytes);
	for (t = 0; t < threads; t++)
	{
		char	   *b = pool + per_thread * t;
		int			j;

		scratch[t].block = (float *) b;
		b += SolverFloats(keep * k);
		scratch[t].target = (float *) b;
		b += SolverFloats(keep);
		scratch[t].pred = (float *) b;
		b += SolverFloats(ALS_SLAB);
		scratch[t].ones = (float *) b;
		for (j = 0; j < ALS_SLAB; j++)
			scratch[t].ones[j] = 1.0f;
		b += SolverFloats(ALS_SLAB);
		scratch[t].colsum = (float *) b;
		b += SolverFloats(k);
		scratch[t].A = (float *) b;
		b += SolverFloats((int64_t) dim * dim);
		scratch[t].rhs = (float *) b;
	}

	/* user half: solve users against items; item half: the reverse, plus residuals */
	memset(&uh, 0, sizeof(uh));
	uh.k = k;
	uh.dim = dim;
	uh.lambda = p->regularization;
	uh.mu = out->global_mean;
	uh.scratch = scratch;
	ih = uh;
	uh.ptr = r->user_ptr;
	uh.idx = r->user_items;
	uh.val = r->user_values;
	uh.factors = out->user_factors;
	uh.bias = biases ? out->user_bias : NULL;
	uh.other = out->item_factors;
	uh.other_bias = biases ? out->item_bias : NULL;
	uh.row_loss = user_loss;
	uh.residuals = false;
	uh.keep = ALS_SLAB;			/* no residuals here: reuse one slab, hot in cache */
	ih.ptr = r->item_ptr;
	ih.idx = r->item_users;
	ih.val = r->item_values;
	ih.factors = out->item_factors;
	ih.bias = biases ? out->item_bias : NULL;
	ih.other = out->user_factors;
	ih.other_bias = biases ? out->user_bias : NULL;
	ih.row_loss = item_loss;
	ih.residuals = true;
	ih.keep = keep;
	{
		char	   *b = plan;
		int64_t    *work;

		uh.chunks = (int64_t *) b;
		b += sizeof(int64_t) * (size_t) (cap[0] + 1);
		uh.order = (int32_t *) b;
		b += sizeof(int32_t) * (size_t) (cap[0] + 1);
		work = (int64_t *) b;
		b += sizeof(int64_t) * (size_t) (cap[0] + 1);
		n_chunks[0] = AlsPlanChunks(r->user_ptr, r->n_users, threads,
									(int64_t *) uh.chunks, (int32_t *) uh.order, work);
		ih.chunks = (int64_t *) b;
		b += sizeof(int64_t) * (size_t) (cap[1] + 1);
		ih.order = (int32_t *) b;
		b += sizeof(int32_t) * (size_t) (cap[1] + 1);
		work = (int64_t *) b;
		n_chunks[1] = AlsPlanChunks(r->item_ptr, r->n_items, threads,
									(int64_t *) ih.chunks, (int32_t *) ih.order, work);
	}

	if (p->iterations == 0)
	{
		/*
		 * no sweep: report the objective of the initial factors.  The residuals
		 * are summed in the user half, which gathers item rows: the smaller
		 * side, so the rows it reads again and again stay in cache.
		 */
		uh.solve = ih.solve = false;
		uh.residuals = true;
		ih.residuals = false;
		rc = AlsHalfSweep(&uh, n_chunks[0], threads, ctl);
		if (rc == RECSYS_OK)
			rc = AlsHalfSweep(&ih, n_chunks[1], threads, ctl);
		if (rc == RECSYS_OK)
			out->loss = SolverOrderedSum(user_loss, r->n_users) +
				SolverOrderedSum(item_loss, r->n_items);
		goto done;
	}

	uh.solve = ih.solve = true;
	for (it = 0; it < p->iterations; it++)
	{
		double		start = SolverNow();

		rc = AlsHalfSweep(&uh, n_chunks[0], threads, ctl);
		if (rc != RECSYS_OK)
			break;
		rc = AlsHalfSweep(&ih, n_chunks[1], threads, ctl);
		if (rc != RECSYS_OK)
			break;
		out->loss = SolverOrderedSum(user_loss, r->n_users) +
			SolverOrderedSum(item_loss, r->n_items);
		out->iterations_done = it + 1;
		rc = SolverSweepDone(ctl, it + 1, out->loss, start);
		if (rc != RECSYS_OK)
			break;
	}

done:
	free(scratch);
	free(pool);
	free(user_loss);
	free(item_loss);
	free(plan);
	return rc;
}

/*
 * Solves one row on its own, by the same AlsRow a sweep runs, so a row solved
 * here against the same other side is bit-identical to AlsTrain's: the
 * distributed training (distributed.c) solves each user (or item) of a shard
 * this way against factors broadcast from the coordinator.  Writes x[k], *bias
 * (0 without biases) and *loss, the row's share of the objective.  Runs on the
 * calling thread; returns a status code.
 */
int
AlsSolveOneRow(const AlsRowInput *in, float *x, float *bias, double *loss)
{
	int			k = in->factors;
	int64_t		ptr[2] = {0, in->n};
	int64_t		keep = ALS_SLAB;
	AlsScratch	s;
	AlsHalf		h;
	char	   *pool;
	char	   *b;
	size_t		bytes;
	float		row_bias = 0.0f;
	int			rc;
	int			j;

	if (in == NULL || x == NULL || bias == NULL || loss == NULL || k < 1 || in->n < 0 ||
		!(in->regularization >= 0.0f) || !isfinite(in->regularization) ||
		(in->n > 0 && (in->other_index == NULL || in->values == NULL || in->other == NULL)))
		return RECSYS_EINVAL;
	if (RecBlasReserve(1, NULL) != RECSYS_OK)
		return RECSYS_ENOMEM;

	/* the item side keeps the gathered row for its residuals, as AlsTrain does */
	if (in->residuals && in->n > keep)
		keep = Min64(in->n, ALS_KEEP_FLOATS / k);
	keep = (keep + ALS_SLAB - 1) / ALS_SLAB * ALS_SLAB;

	memset(&h, 0, sizeof(h));
	h.k = k;
	h.dim = in->other_bias ? k + 1 : k;
	h.lambda = in->regularization;
	h.mu = in->global_mean;
	h.solve = true;
	h.residuals = in->residuals;
	h.keep = in->residuals ? keep : ALS_SLAB;
	h.ptr = ptr;
	h.idx = in->other_index;
	h.val = in->values;
	h.factors = x;
	h.bias = in->other_bias ? &row_bias : NULL;
	h.other = in->other;
	h.other_bias = in->other_bias;
	h.row_loss = loss;
	h.scratch = &s;

	bytes = SolverFloats(keep * k) + SolverFloats(keep) + 2 * SolverFloats(ALS_SLAB) +
		SolverFloats(k) + SolverFloats((int64_t) h.dim * h.dim) + SolverFloats(h.dim);
	pool = SolverAlloc(bytes);
	if (pool == NULL)
		return RECSYS_ENOMEM;
	b = pool;
	s.block = (float *) b;
	b += SolverFloats(keep * k);
	s.target = (float *) b;
	b += SolverFloats(keep);
	s.pred = (float *) b;
	b += SolverFloats(ALS_SLAB);
	s.ones = (float *) b;
	for (j = 0; j < ALS_SLAB; j++)
		s.ones[j] = 1.0f;
	b += SolverFloats(ALS_SLAB);
	s.colsum = (float *) b;
	b += SolverFloats(k);
	s.A = (float *) b;
	b += SolverFloats((int64_t) h.dim * h.dim);
	s.rhs = (float *) b;

	rc = AlsRow(&h, &s, 0);
	*bias = row_bias;
	free(pool);
	return rc;
}
