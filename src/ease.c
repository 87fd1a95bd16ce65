/*
 * ease.c
 *		EASE item-item weights (Steck, "Embarrassingly Shallow Autoencoders",
 *		WWW 2019) pruned to a neighbour CSR (RecEaseFit): the numeric core of
 *		train_ease.
 *
 *		G = X^T X + lambda I,	P = G^-1,	B = I - P diag(1 / diag P)
 *
 * All the dense work happens in place in one n x n column-major float matrix A,
 * of which only the lower triangle is ever meaningful until the last phase:
 *
 *	1. Gram: column i of A gets G[i.., i] from the sparse interactions (for each
 *	   user of item i, the user's items from i on), accumulated in double; the
 *	   strict upper triangle is set to zero and stays zero until phase 5.
 *	2. Cholesky G = L L^T, right-looking by blocks of nb columns: SPOTRF on the
 *	   diagonal block, STRSM on the panel below it, SSYRK + SGEMM on the trailing
 *	   columns.
 *	3. W = L^-1 in place, by block columns from the right (LAPACK's STRTRI order):
 *	   W21 = -W22 L21 L11^-1 with the panel copied aside first, then STRTRI on the
 *	   diagonal block.  One SGEMM per row block reads W22's diagonal block whole,
 *	   relying on its zero upper triangle.
 *	4. P = W^T W in place, by block rows from the top (LAPACK's SLAUUM order).
 *	5. P's lower triangle mirrored into the upper, so that column j is all of P's
 *	   row j; then each row j of B, B[j,i] = -P[j,i] / P[i,i], is pruned to its
 *	   largest |B[j,i]| (neighbours.c).
 *
 * Each phase is a sequence of steps; within a step the blocks are independent and
 * run on the pool's threads with single-threaded BLAS, one block per task, so the
 * BLAS calls made, and therefore every bit of the result, do not depend on the
 * thread count.  Between steps the main thread polls for a cancel: one task is at
 * most an nb x nb x n GEMM (about 30 ms at n = 20,000, nb = 256 on one core).
 * This is the same operation count as SPOTRF + SPOTRI (n^3 in all) without a
 * monolithic call that could not be interrupted, and with half the memory of an
 * out-of-place inverse.  Plain C: nothing here calls PostgreSQL.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "neighbours.h"
#include "solverutil.h"

/* output rows per pruning task */
#define EASE_PRUNE_CHUNK	4

/* One fit: the matrix, its block size, the current step, and the scratch */
typedef struct EaseJob
{
	const RecRatings *r;
	int			n;				/* items = order of A */
	int			nb;				/* block size */
	float		lambda;
	float	   *a;				/* [n * n] column-major, the matrix of every phase */
	float	   *panel;			/* [n * nb] phase 3: the panel being replaced */
	float	   *diag;			/* [nb * nb] phase 4: the new diagonal block */
	float	   *pdiag;			/* [n] phase 5: diag(P) */
	double	   *acc;			/* [threads][acc_stride] phase 1 accumulators */
	uint64_t   *cand;			/* [threads][cand_stride] phase 5 candidates */
	uint64_t   *tmp;			/* [threads][cand_stride] phase 5 sort scratch */
	int64_t		acc_stride;		/* doubles per thread */
	int64_t		cand_stride;	/* keys per thread */
	int			k0;				/* first column of the current step's block */
	int			kb;				/* its width */
	int			tasks;			/* blocks in the current step */
	int64_t		stride;			/* output slot per row */
	RecNeighbours *out;
} EaseJob;

/* Element (i, j) of the n x n column-major matrix A */
static inline float *
At(const EaseJob *job, int i, int j)
{
	return job->a + (int64_t) j * job->n + i;
}

/* Block size actually used for n items */
static int
EaseBlock(int32_t n_items, const RecEaseParams *p)
{
	int			nb = p->block > 0 ? p->block : REC_EASE_BLOCK_DEFAULT;

	if (nb > n_items)
		nb = n_items > 0 ? n_items : 1;
	return nb;
}

/* Threads a fit really uses */
static int
EaseThreads(const RecEaseParams *p)
{
	return p->threads < 1 ? 1 :
		(p->threads > RECSYS_MAX_THREADS ? RECSYS_MAX_THREADS : p->threads);
}

/* Output slots per row: neighbours, or all other items */
static int64_t
EaseStride(int32_t n_items, int32_t neighbours)
{
	int64_t		others = n_items > 0 ? (int64_t) n_items - 1 : 0;

	return neighbours <= 0 || neighbours > others ? others : neighbours;
}

/* Entries idx/weight must hold for RecEaseFit over n_items with `neighbours` */
int64_t
RecEaseCapacity(int32_t n_items, int32_t neighbours)
{
	if (n_items < 0)
		return 0;
	return (int64_t) n_items * EaseStride(n_items, neighbours);
}

/* Bytes of the matrix A: a separate allocation, rounded like SolverAlloc's */
static size_t
EaseMatrixBytes(int32_t n)
{
	return SolverFloats((int64_t) n * n);
}

/* Bytes of everything else: panel, diagonal block, diag(P), per-thread arrays */
static size_t
EaseSmallBytes(int32_t n, int nb, int threads)
{
	return SolverFloats((int64_t) n * nb) + SolverFloats((int64_t) nb * nb) +
		SolverFloats(n) + (size_t) threads * 3 * SolverFloats(2 * (int64_t) n);
}

/* Bytes RecEaseFit allocates itself (the n_items^2 matrix dominates) */
int64_t
RecEaseScratchBytes(int32_t n_items, const RecEaseParams *p)
{
	if (n_items <= 0 || p == NULL)
		return 0;
	return (int64_t) (EaseMatrixBytes(n_items) +
					  EaseSmallBytes(n_items, EaseBlock(n_items, p), EaseThreads(p)));
}

/*
 * Floating-point operations of RecEaseFit on r: the Gram's lower triangle (a
 * multiply and an add per pair of a user's items, i <= j), then LAPACK's counts
 * for POTRF, TRTRI and LAUUM (n^3 / 3 each, plus lower-order terms).
 */
double
RecEaseFlops(const RecRatings *r)
{
	double		n = r->n_items;
	double		gram = 0.0;
	int32_t		u;

	for (u = 0; u < r->n_users; u++)
	{
		double		m = (double) (r->user_ptr[u + 1] - r->user_ptr[u]);

		gram += m * (m + 1.0);
	}
	return gram +
		(n * n * n / 3.0 + n * n / 2.0 + n / 6.0) +	/* POTRF */
		(n * n * n / 3.0 + 2.0 * n / 3.0) +	/* TRTRI */
		(n * n * n / 3.0 + n * n / 2.0 + n / 6.0);	/* LAUUM */
}

/* Polls the cancel callback between steps, on the main thread */
static bool
EaseInterrupted(const RecControl *ctl)
{
	return ctl != NULL && ctl->interrupted != NULL && ctl->interrupted(ctl->arg);
}

/* After a phase that succeeded: progress(phase, 0, its seconds), on the main thread */
static void
EaseProgress(const RecControl *ctl, int rc, int phase, double *phase_start)
{
	double		now = SolverNow();

	if (rc == RECSYS_OK && ctl != NULL && ctl->progress != NULL)
		ctl->progress(ctl->arg, phase, 0.0, now - *phase_start);
	*phase_start = now;
}

/* Position of item i in user u's sorted items (it is there: i lists u) */
static int64_t
EaseFindItem(const RecRatings *r, int32_t u, int32_t i)
{
	int64_t		lo = r->user_ptr[u];
	int64_t		hi = r->user_ptr[u + 1] - 1;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (r->user_items[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Phase 1, columns [begin, end): column i of A gets G[i.., i] + lambda on the
 * diagonal, zeros above.  The sums run over item i's users in order, so
 * G[j, i] is summed exactly as G[i, j] would be: G is exactly symmetric.
 */
static int
EaseGramChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const EaseJob *job = (const EaseJob *) ctx;
	const RecRatings *r = job->r;
	double	   *acc = job->acc + thread * job->acc_stride;
	int			n = job->n;
	int64_t		i;

	for (i = begin; i < end; i++)
	{
		float	   *col = At(job, 0, (int) i);
		int64_t		e;
		int			j;

		for (e = r->item_ptr[i]; e < r->item_ptr[i + 1]; e++)
		{
			int32_t		u = r->item_users[e];
			double		x = r->item_values[e];
			int64_t		f;

			for (f = EaseFindItem(r, u, (int32_t) i); f < r->user_ptr[u + 1]; f++)
				acc[r->user_items[f]] += x * (double) r->user_values[f];
		}
		acc[i] += (double) job->lambda;
		memset(col, 0, sizeof(float) * (size_t) i);
		for (j = (int) i; j < n; j++)
		{
			col[j] = (float) acc[j];
			acc[j] = 0.0;
		}
	}
	return RECSYS_OK;
}

/* Phase 2a, one row block of the panel below the step's diagonal block: A21 L11^-T */
static int
EaseCholPanelChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const EaseJob *job = (const EaseJob *) ctx;
	int64_t		t;

	for (t = begin; t < end; t++)
	{
		int			i0 = job->k0 + job->kb + (int) t * job->nb;
		int			ib = job->n - i0 < job->nb ? job->n - i0 : job->nb;

		cblas_strsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
					ib, job->kb, 1.0f, At(job, job->k0, job->k0), job->n,
					At(job, i0, job->k0), job->n);
	}
	return RECSYS_OK;
}

/* Phase 2b, one block column of the trailing matrix: A22 -= A21 A21^T (lower) */
static int
EaseCholUpdateChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const EaseJob *job = (const EaseJob *) ctx;
	int			n = job->n;
	int64_t		t;

	for (t = begin; t < end; t++)
	{
		int			j0 = job->k0 + job->kb + (int) t * job->nb;
		int			jb = n - j0 < job->nb ? n - j0 : job->nb;

		cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, jb, job->kb, -1.0f,
					At(job, j0, job->k0), n, 1.0f, At(job, j0, j0), n);
		if (j0 + jb < n)
			cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, n - j0 - jb, jb, job->kb,
						-1.0f, At(job, j0 + jb, job->k0), n, At(job, j0, job->k0), n,
						1.0f, At(job, j0 + jb, j0), n);
	}
	return RECSYS_OK;
}

/*
 * Phase 3, one row block I below the step's block column (heaviest first):
 * W[I, k] = -(W[I, r0..I] panel[r0..I, k]) L11^-1, where W's diagonal block at
 * I has a zero upper triangle, so one SGEMM covers the triangular product.
 */
static int
EaseInverseChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const EaseJob *job = (const EaseJob *) ctx;
	int			n = job->n;
	int			r0 = job->k0 + job->kb;
	int64_t		t;

	for (t = begin; t < end; t++)
	{
		int			i0 = r0 + (job->tasks - 1 - (int) t) * job->nb;
		int			ib = n - i0 < job->nb ? n - i0 : job->nb;

		cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, ib, job->kb, i0 + ib - r0,
					1.0f, At(job, i0, r0), n, job->panel + r0, n,
					0.0f, At(job, i0, job->k0), n);
		cblas_strsm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
					ib, job->kb, -1.0f, At(job, job->k0, job->k0), n,
					At(job, i0, job->k0), n);
	}
	return RECSYS_OK;
}

/*
 * Phase 4, step at block row I = [k0, k0 + kb): task 0 computes the new
 * diagonal block W[I,I]^T W[I,I] + W[below,I]^T W[below,I] aside (it is read by
 * the other tasks until the step ends); task 1 + J computes block (I, J) of P,
 * W[I,I]^T W[I,J] + W[below,I]^T W[below,J], in place.
 */
static int
EaseProductChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const EaseJob *job = (const EaseJob *) ctx;
	int			n = job->n;
	int			i0 = job->k0;
	int			ib = job->kb;
	int			rest = n - i0 - ib;
	int64_t		t;

	for (t = begin; t < end; t++)
	{
		if (t == 0)
		{
			int			info = 0;
			int			c;

			for (c = 0; c < ib; c++)
				memcpy(job->diag + (int64_t) c * job->nb, At(job, i0, i0 + c),
					   sizeof(float) * (size_t) ib);
			slauum_("L", &ib, job->diag, &job->nb, &info);
			if (info != 0)
				return RECSYS_EINVAL;
			if (rest > 0)
				cblas_ssyrk(CblasColMajor, CblasLower, CblasTrans, ib, rest, 1.0f,
							At(job, i0 + ib, i0), n, 1.0f, job->diag, job->nb);
		}
		else
		{
			int			j0 = (int) (t - 1) * job->nb;

			cblas_strmm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
						ib, job->nb, 1.0f, At(job, i0, i0), n, At(job, i0, j0), n);
			if (rest > 0)
				cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, ib, job->nb, rest,
							1.0f, At(job, i0 + ib, i0), n, At(job, i0 + ib, j0), n,
							1.0f, At(job, i0, j0), n);
		}
	}
	return RECSYS_OK;
}

/* Phase 5a, block column J: mirrors P's lower triangle into rows above J's diagonal */
static int
EaseMirrorChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const EaseJob *job = (const EaseJob *) ctx;
	int			n = job->n;
	int64_t		t;

	for (t = begin; t < end; t++)
	{
		int			j0 = (int) t * job->nb;
		int			j1 = j0 + job->nb < n ? j0 + job->nb : n;
		int			rt;

		/* tiles of 32 rows: the 32 source columns stay in cache across c */
		for (rt = 0; rt < j1; rt += 32)
		{
			int			c;

			for (c = j0 > rt + 1 ? j0 : rt + 1; c < j1; c++)
			{
				float	   *dst = At(job, 0, c);
				int			rend = rt + 32 < c ? rt + 32 : c;
				int			row;

				for (row = rt; row < rend; row++)
					dst[row] = *At(job, c, row);
			}
		}
	}
	return RECSYS_OK;
}

/*
 * Phase 5b, output rows [begin, end): B[j, i] = -P[j, i] / P[i, i].  All of a row
 * is sorted by weight; a pruned row is first selected by |B| (candidates packed
 * with |B|, so the selection compares plain integers), then repacked with the
 * signed weights of the kept entries and sorted.
 */
static int
EasePruneChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const EaseJob *job = (const EaseJob *) ctx;
	uint64_t   *cand = job->cand + thread * job->cand_stride;
	uint64_t   *tmp = job->tmp + thread * job->cand_stride;
	float	   *w = (float *) tmp;	/* the row's weights, before tmp sorts */
	bool		all = job->stride >= job->n - 1;
	int			n = job->n;
	int64_t		j;

	for (j = begin; j < end; j++)
	{
		const float *col = At(job, 0, (int) j);
		int64_t		n_cand = 0;
		int64_t		kept;
		int64_t		t;
		int			i;

		/* a plain loop of divisions: vectorised */
		for (i = 0; i < n; i++)
			w[i] = -col[i] / job->pdiag[i];
		w[j] = 0.0f;
		for (i = 0; i < n; i++)
		{
			if (w[i] == 0.0f)
				continue;
			if (!isfinite(w[i]))
				return RECSYS_ENOTPD;
			cand[n_cand++] = RecPackNeighbour(all ? w[i] : fabsf(w[i]), i);
		}
		if (!all && n_cand > job->stride)
		{
			kept = RecKeepBest(cand, n_cand, job->stride, tmp);
			for (t = 0; t < kept; t++)
			{
				int32_t		at = (int32_t) (uint32_t) cand[t];

				cand[t] = RecPackNeighbour(-col[at] / job->pdiag[at], at);
			}
			n_cand = kept;
		}
		kept = RecKeepBest(cand, n_cand, n_cand, tmp);
		RecUnpackNeighbours(cand, kept, job->out->idx + j * job->stride,
							job->out->weight + j * job->stride);
		job->out->ptr[j + 1] = kept;
	}
	return RECSYS_OK;
}

/* Blocks of nb in [from, n) */
static int
EaseBlocks(const EaseJob *job, int from)
{
	return from >= job->n ? 0 : (job->n - from + job->nb - 1) / job->nb;
}

/* Phase 2: blocked Cholesky of A's lower triangle, in place */
static int
EaseCholesky(EaseJob *job, int threads, const RecControl *ctl)
{
	int			n = job->n;
	int			k0;
	int			rc;

	for (k0 = 0; k0 < n; k0 += job->nb)
	{
		int			info = 0;

		if (EaseInterrupted(ctl))
			return RECSYS_INTERRUPTED;
		job->k0 = k0;
		job->kb = n - k0 < job->nb ? n - k0 : job->nb;
		spotrf_("L", &job->kb, At(job, k0, k0), &job->n, &info);
		if (info != 0)
			return RECSYS_ENOTPD;
		job->tasks = EaseBlocks(job, k0 + job->kb);
		if (job->tasks == 0)
			break;
		rc = RecParallelFor(threads, job->tasks, 1, EaseCholPanelChunk, job, ctl);
		if (rc == RECSYS_OK && !EaseInterrupted(ctl))
			rc = RecParallelFor(threads, job->tasks, 1, EaseCholUpdateChunk, job, ctl);
		else if (rc == RECSYS_OK)
			rc = RECSYS_INTERRUPTED;
		if (rc != RECSYS_OK)
			return rc;
	}
	return RECSYS_OK;
}

/* Phase 3: W = L^-1 in A's lower triangle, block columns from the right */
static int
EaseInverse(EaseJob *job, int threads, const RecControl *ctl)
{
	int			n = job->n;
	int			k0;
	int			rc;

	for (k0 = (n - 1) / job->nb * job->nb; k0 >= 0; k0 -= job->nb)
	{
		int			r0;
		int			info = 0;

		if (EaseInterrupted(ctl))
			return RECSYS_INTERRUPTED;
		job->k0 = k0;
		job->kb = n - k0 < job->nb ? n - k0 : job->nb;
		r0 = k0 + job->kb;
		job->tasks = EaseBlocks(job, r0);
		if (job->tasks > 0)
		{
			int			c;

			/* the panel L21 is overwritten by W21 but read by every row block */
			for (c = 0; c < job->kb; c++)
				memcpy(job->panel + (int64_t) c * n + r0, At(job, r0, k0 + c),
					   sizeof(float) * (size_t) (n - r0));
			rc = RecParallelFor(threads, job->tasks, 1, EaseInverseChunk, job, ctl);
			if (rc != RECSYS_OK)
				return rc;
		}
		strtri_("L", "N", &job->kb, At(job, k0, k0), &job->n, &info);
		if (info != 0)
			return RECSYS_ENOTPD;
	}
	return RECSYS_OK;
}

/* Phase 4: P = W^T W in A's lower triangle, block rows from the top */
static int
EaseProduct(EaseJob *job, int threads, const RecControl *ctl)
{
	int			n = job->n;
	int			k0;
	int			rc;

	for (k0 = 0; k0 < n; k0 += job->nb)
	{
		int			c;

		if (EaseInterrupted(ctl))
			return RECSYS_INTERRUPTED;
		job->k0 = k0;
		job->kb = n - k0 < job->nb ? n - k0 : job->nb;
		job->tasks = 1 + k0 / job->nb;
		rc = RecParallelFor(threads, job->tasks, 1, EaseProductChunk, job, ctl);
		if (rc != RECSYS_OK)
			return rc;
		for (c = 0; c < job->kb; c++)
			memcpy(At(job, k0 + c, k0 + c), job->diag + (int64_t) c * job->nb + c,
				   sizeof(float) * (size_t) (job->kb - c));
	}
	return RECSYS_OK;
}

/*
 * EASE weights pruned to a neighbour CSR; see neighbours.h.  Allocates the n x n
 * matrix and the rest of its scratch (RecEaseScratchBytes) before any thread
 * starts; out->flops gets RecEaseFlops(r).
 */
int
RecEaseFit(const RecRatings *r, const RecEaseParams *p, RecNeighbours *out,
		   const RecControl *ctl)
{
	EaseJob		job;
	int			threads;
	int			n;
	char	   *small = NULL;
	double		start = SolverNow();
	double		phase_start = start;
	int			rc = RECSYS_OK;
	int			i;

	if (r == NULL || p == NULL || out == NULL || out->ptr == NULL ||
		r->n_items < 0 || r->n_users < 0 || r->nnz < 0 || p->block < 0 ||
		!(p->regularization >= 0.0f) || !isfinite(p->regularization))
		return RECSYS_EINVAL;
	n = r->n_items;
	memset(&job, 0, sizeof(job));
	job.r = r;
	job.n = n;
	job.nb = EaseBlock(n, p);
	job.lambda = p->regularization;
	job.out = out;
	job.stride = EaseStride(n, p->neighbours);
	if (out->capacity < (int64_t) n * job.stride ||
		((int64_t) n * job.stride > 0 && (out->idx == NULL || out->weight == NULL)))
		return RECSYS_EINVAL;
	threads = EaseThreads(p);
	/* OpenBLAS scratch for the threads and this one, before any thread starts */
	if (RecBlasReserve(threads, NULL) != RECSYS_OK)
		return RECSYS_ENOMEM;
	out->ptr[0] = 0;
	out->scratch_bytes = 0;
	out->flops = RecEaseFlops(r);
	if (n == 0)
		goto done;

	/* the matrix: every element is written by the Gram phase, so no zeroing */
	if (posix_memalign((void **) &job.a, SOLVER_ALIGN, EaseMatrixBytes(n)) != 0)
		job.a = NULL;
	small = SolverAlloc(EaseSmallBytes(n, job.nb, threads));
	if (job.a == NULL || small == NULL)
	{
		rc = RECSYS_ENOMEM;
		goto done;
	}
	RecAdviseHugePages(job.a, EaseMatrixBytes(n));
	out->scratch_bytes = RecEaseScratchBytes(n, p);
	{
		char	   *b = small;

		job.panel = (float *) b;
		b += SolverFloats((int64_t) n * job.nb);
		job.diag = (float *) b;
		b += SolverFloats((int64_t) job.nb * job.nb);
		job.pdiag = (float *) b;
		b += SolverFloats(n);
		job.acc_stride = job.cand_stride = SolverFloats(2 * (int64_t) n) / 8;
		job.acc = (double *) b;
		b += (size_t) threads * SolverFloats(2 * (int64_t) n);
		job.cand = (uint64_t *) b;
		b += (size_t) threads * SolverFloats(2 * (int64_t) n);
		job.tmp = (uint64_t *) b;
	}

	/* 1: the Gram matrix, one column per task (a popular item's column is long) */
	rc = RecParallelFor(threads, n, 1, EaseGramChunk, &job, ctl);
	EaseProgress(ctl, rc, 1, &phase_start);
	if (rc == RECSYS_OK)
		rc = EaseCholesky(&job, threads, ctl);
	EaseProgress(ctl, rc, 2, &phase_start);
	if (rc == RECSYS_OK)
		rc = EaseInverse(&job, threads, ctl);
	EaseProgress(ctl, rc, 3, &phase_start);
	if (rc == RECSYS_OK)
		rc = EaseProduct(&job, threads, ctl);
	EaseProgress(ctl, rc, 4, &phase_start);
	if (rc != RECSYS_OK)
		goto done;

	/* 5: diag(P) must be positive for B to exist; then mirror and prune */
	for (i = 0; i < n; i++)
	{
		job.pdiag[i] = *At(&job, i, i);
		if (!(job.pdiag[i] > 0.0f) || !isfinite(job.pdiag[i]))
		{
			rc = RECSYS_ENOTPD;
			goto done;
		}
	}
	if (EaseInterrupted(ctl))
	{
		rc = RECSYS_INTERRUPTED;
		goto done;
	}
	rc = RecParallelFor(threads, EaseBlocks(&job, 0), 1, EaseMirrorChunk, &job, ctl);
	if (rc == RECSYS_OK && EaseInterrupted(ctl))
		rc = RECSYS_INTERRUPTED;
	if (rc == RECSYS_OK)
		rc = RecParallelFor(threads, n, EASE_PRUNE_CHUNK, EasePruneChunk, &job, ctl);
	if (rc == RECSYS_OK)
		RecCompactNeighbours(out, n, job.stride);
	EaseProgress(ctl, rc, 5, &phase_start);

done:
	if (rc != RECSYS_OK)
		memset(out->ptr, 0, sizeof(int64_t) * ((size_t) n + 1));
	if (rc == RECSYS_STUCK)
		return rc;				/* parked workers may still read it: the process exits */
	free(job.a);
	free(small);
	out->seconds = SolverNow() - start;
	return rc;
}
