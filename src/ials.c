/*
 * ials.c
 *		Implicit-feedback ALS (Hu, Koren and Volinsky 2008) with a warm-started
 *		conjugate-gradient solver or an exact Cholesky solver (IalsTrain).
 *
 * Every (user, item) pair counts: an observed weight w gives preference p = [w > 0]
 * and confidence c = 1 + d(w), d = alpha |w| (linear) or alpha log(1 + |w| / epsilon)
 * (log); an unobserved pair has p = 0 and c = 1.  The objective is
 *
 *		L = sum_(u,i all pairs) c_ui (p_ui - x_u . y_i)^2
 *			+ sum_u lambda_u |x_u|^2 + sum_i lambda_i |y_i|^2
 *
 * with lambda_u = lambda (n_items + sum_(i in u) d_ui)^nu, the row's total weight
 * in the loss to the power nu (Rendle et al., RecSys 2022: frequency-scaled
 * regularisation; nu = 0 is a plain lambda), and likewise lambda_i over n_users.
 * With Y fixed, user u's minimiser solves
 *
 *		(G + sum_(i in u) (c_ui - 1) y_i y_i^T + lambda_u I) x_u = sum_(i in u) c_ui p_ui y_i
 *
 * where G = Y^T Y is computed once per half-sweep (SSYRK) and shared by every row:
 * the unobserved pairs cost nothing beyond it.  The CG solver never forms the
 * matrix: A v = G v + lambda v + Y_u^T (d .* (Y_u v)), d = c - 1, on the user's rows
 * gathered into a contiguous block, starting from the current x_u, preconditioned
 * by A's diagonal (Jacobi: the confidences of heavy rows make A badly scaled) and
 * stopping when |b - A x| <= cg_tolerance |b| or after cg_steps steps.  A row with more entries than the block holds forms A explicitly
 * (SSYRK over slabs, cheaper than re-reading the rows each step) and runs the same
 * CG on it.  The Cholesky solver forms A for every row and solves exactly.
 *
 * The loss is evaluated without touching the unobserved pairs:
 *
 *		sum_(u,i all) (x_u . y_i)^2 = sum_u x_u^T G_Y x_u = <X^T X, Y^T Y>  (Frobenius)
 *
 * so L = <G_X, G_Y> + sum_(observed) [c (p - s)^2 - s^2] + lambda (|X|^2 + |Y|^2),
 * s = x_u . y_i, where the observed terms are summed while solving the item side
 * (and the regularisation term with each row's own lambda).
 * Rows only read the other side's factors, so results do not depend on the number
 * of threads.  Plain C: no PostgreSQL calls.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "solver.h"
#include "solverutil.h"

/*
 * Floats of gathered rows per thread (4 MB): a row with up to IALS_GATHER_FLOATS / k
 * entries runs CG on its gathered block, a longer one forms A explicitly in slabs of
 * that height.  CG on the block costs about 16 k flops per entry against 2 k^2 for
 * forming A, so the block is made as large as the caches reasonably allow.
 */
#ifndef IALS_GATHER_FLOATS		/* tests lower it to exercise the explicit path */
#define IALS_GATHER_FLOATS	(1 << 20)
#endif

/* how many rows ahead the gather prefetches */
#define IALS_PREFETCH	8

/* Per-thread scratch, allocated before the threads start */
typedef struct IalsScratch
{
	float	   *block;			/* [gather_max * k] gathered rows, column-major */
	float	   *d;				/* [gather_max] c - 1 */
	float	   *cp;				/* [gather_max] c * p */
	float	   *t;				/* [gather_max] block^T v */
	float	   *A;				/* [k * k] explicit matrix, lower triangle */
	float	   *b;				/* [k] right-hand side */
	float	   *r;				/* [k] CG residual */
	float	   *dir;			/* [k] CG search direction */
	float	   *Ad;				/* [k] A times the direction */
	float	   *x;				/* [k] the row's factors, copied to aligned memory */
	float	   *z;				/* [k] preconditioned residual */
	float	   *diag;			/* [k] inverse of A's diagonal (Jacobi) */
	float		lambda;			/* lambda of the row being solved */
} IalsScratch;

/* One half-sweep: the rows being solved and the fixed other side */
typedef struct IalsHalf
{
	int			k;
	float		lambda;			/* regularization, before the row's scaling */
	float		alpha;
	int			confidence;		/* IALS_CONFIDENCE_* */
	float		epsilon;
	float		reg_exponent;
	double		n_other;		/* rows of the other side (the unobserved weight) */
	int			cg_steps;
	float		cg_tolerance;
	int			solver;			/* IALS_SOLVER_* */
	int			gather_max;		/* rows the per-thread block holds */
	bool		solve;			/* false: only evaluate the loss terms */
	bool		observed;		/* add the observed-pair terms to row_loss */
	const int64_t *ptr;
	const int32_t *idx;
	const float *val;
	float	   *factors;		/* this side, [rows * k] */
	const float *other;			/* other side, [* k] */
	const float *gram;			/* G of the other side, [k * k], both triangles */
	double	   *row_loss;		/* [rows] */
	float	   *row_residual;	/* [rows] CG: |r| / |b| where the row's solve ended */
	IalsScratch *scratch;		/* [threads] */
} IalsHalf;

/* Gathers rows idx[from..from+m) of the other side into the block, with c - 1 and c p */
static void
IalsGather(const IalsHalf *h, IalsScratch *s, int64_t from, int m)
{
	int			k = h->k;
	int			j;

	for (j = 0; j < m; j++)
	{
		float		w = h->val[from + j];
		float		d = IalsConfidenceExcess(h->confidence, h->alpha, h->epsilon, w);

		/* the rows are scattered: ask for one IALS_PREFETCH rows ahead */
		if (j + IALS_PREFETCH < m)
			SolverPrefetchRow(h->other + (int64_t) h->idx[from + j + IALS_PREFETCH] * k, k);
		s->d[j] = d;
		s->cp[j] = w > 0.0f ? 1.0f + d : 0.0f;
		memcpy(s->block + (int64_t) j * k, h->other + (int64_t) h->idx[from + j] * k,
			   sizeof(float) * k);
	}
}

/* out = A v for the gathered (implicit) form: G v + lambda_r v + B (d .* (B^T v)) */
static void
IalsApplyGathered(const IalsHalf *h, IalsScratch *s, int m, const float *v, float *out)
{
	int			k = h->k;
	int			j;

	cblas_sgemv(CblasColMajor, CblasNoTrans, k, k, 1.0f, h->gram, k, v, 1, 0.0f, out, 1);
	cblas_saxpy(k, s->lambda, v, 1, out, 1);
	if (m > 0)
	{
		cblas_sgemv(CblasColMajor, CblasTrans, k, m, 1.0f, s->block, k, v, 1, 0.0f, s->t, 1);
		for (j = 0; j < m; j++)
			s->t[j] *= s->d[j];
		cblas_sgemv(CblasColMajor, CblasNoTrans, k, m, 1.0f, s->block, k, s->t, 1, 1.0f, out, 1);
	}
}

/*
 * Forms A = G + lambda_r I + sum (c - 1) y y^T (lower triangle) and b = sum c p y over
 * the row's entries, slab by slab: b from the plain rows, then each column scaled by
 * sqrt(c - 1) so that one rank update (RecSyrkLower) adds the confidence term.
 */
static void
IalsFormExplicit(const IalsHalf *h, IalsScratch *s, int64_t begin, int64_t end)
{
	int			k = h->k;
	int64_t		from;
	int			j;

	memcpy(s->A, h->gram, sizeof(float) * k * k);
	for (j = 0; j < k; j++)
		s->A[(int64_t) j * k + j] += s->lambda;
	memset(s->b, 0, sizeof(float) * k);
	for (from = begin; from < end; from += h->gather_max)
	{
		int			m = (int) (end - from < h->gather_max ? end - from : h->gather_max);

		IalsGather(h, s, from, m);
		cblas_sgemv(CblasColMajor, CblasNoTrans, k, m, 1.0f, s->block, k,
					s->cp, 1, 1.0f, s->b, 1);
		for (j = 0; j < m; j++)
		{
			float	   *col = s->block + (int64_t) j * k;
			float		scale = sqrtf(s->d[j]);
			int			l;

			for (l = 0; l < k; l++)
				col[l] *= scale;
		}
		RecSyrkLower(s->block, k, m, s->A, k, false);
	}
}

/*
 * Inverse of A's diagonal into s->diag: G_ll + lambda_r + sum_j d_j y_jl^2, from the
 * gathered block (m rows) or from the explicit matrix (m < 0)
 */
static void
IalsJacobi(const IalsHalf *h, IalsScratch *s, int m)
{
	int			k = h->k;
	int			j,
				l;

	if (m < 0)
	{
		for (l = 0; l < k; l++)
			s->diag[l] = s->A[(int64_t) l * k + l];
	}
	else
	{
		for (l = 0; l < k; l++)
			s->diag[l] = h->gram[(int64_t) l * k + l] + s->lambda;
		for (j = 0; j < m; j++)
		{
			const float *y = s->block + (int64_t) j * k;
			float		d = s->d[j];

			/* one accumulator per entry: the compiler vectorises over l */
			for (l = 0; l < k; l++)
				s->diag[l] += d * y[l] * y[l];
		}
	}
	for (l = 0; l < k; l++)
		s->diag[l] = s->diag[l] > 0.0f ? 1.0f / s->diag[l] : 1.0f;
}

/*
 * Jacobi-preconditioned conjugate gradient on A x = b from the current x, with A
 * applied either from the gathered block (m rows) or explicitly (m < 0).  Stops
 * when |r| <= cg_tolerance |b| (checked before every step, so a warm start that
 * is already good enough costs one product) or after cg_steps steps; returns the
 * relative residual |r| / |b| it stopped at (0 when b = 0 and r = 0).
 */
static float
IalsConjugateGradient(const IalsHalf *h, IalsScratch *s, int m, float *x)
{
	int			k = h->k;
	float	   *r = s->r;
	float	   *z = s->z;
	float	   *dir = s->dir;
	float	   *Ad = s->Ad;
	double		b2,
				rr,
				rz_old,
				stop2;
	int			step;
	int			l;

	IalsJacobi(h, s, m);
	b2 = cblas_dsdot(k, s->b, 1, s->b, 1);
	stop2 = (double) h->cg_tolerance * (double) h->cg_tolerance * b2;

	/* r = b - A x, z = M^-1 r */
	if (m >= 0)
		IalsApplyGathered(h, s, m, x, Ad);
	else
		cblas_ssymv(CblasColMajor, CblasLower, k, 1.0f, s->A, k, x, 1, 0.0f, Ad, 1);
	for (l = 0; l < k; l++)
	{
		r[l] = s->b[l] - Ad[l];
		z[l] = s->diag[l] * r[l];
		dir[l] = z[l];
	}
	rr = cblas_dsdot(k, r, 1, r, 1);
	rz_old = cblas_dsdot(k, r, 1, z, 1);

	for (step = 0; step < h->cg_steps; step++)
	{
		double		pAp,
					a,
					rz_new;

		if (rr <= stop2 || rr < 1e-30)
			break;
		if (m >= 0)
			IalsApplyGathered(h, s, m, dir, Ad);
		else
			cblas_ssymv(CblasColMajor, CblasLower, k, 1.0f, s->A, k, dir, 1, 0.0f, Ad, 1);
		pAp = cblas_dsdot(k, dir, 1, Ad, 1);
		if (!(pAp > 0.0) || !(rz_old > 0.0))
			break;
		a = rz_old / pAp;
		for (l = 0; l < k; l++)
		{
			x[l] += (float) a * dir[l];
			r[l] -= (float) a * Ad[l];
			z[l] = s->diag[l] * r[l];
		}
		rr = cblas_dsdot(k, r, 1, r, 1);
		rz_new = cblas_dsdot(k, r, 1, z, 1);
		for (l = 0; l < k; l++)
			dir[l] = z[l] + (float) (rz_new / rz_old) * dir[l];
		rz_old = rz_new;
	}
	if (b2 > 0.0)
		return (float) sqrt(rr / b2);
	return rr > 0.0 ? 1.0f : 0.0f;
}

/* Sum over the row's observed pairs of c (p - s)^2 - s^2, s = x . y */
static double
IalsObservedTerms(const IalsHalf *h, IalsScratch *s, int64_t begin, int64_t end,
				  const float *x, bool gathered)
{
	double		sum = 0.0;
	int64_t		from;

	for (from = begin; from < end; from += h->gather_max)
	{
		int			m = (int) (end - from < h->gather_max ? end - from : h->gather_max);
		int			j;

		if (!gathered)
			IalsGather(h, s, from, m);
		cblas_sgemv(CblasColMajor, CblasTrans, h->k, m, 1.0f, s->block, h->k,
					x, 1, 0.0f, s->t, 1);
		for (j = 0; j < m; j++)
		{
			double		sc = s->t[j];
			double		c = 1.0 + (double) s->d[j];
			double		pref = s->cp[j] > 0.0f ? 1.0 : 0.0;

			sum += c * (pref - sc) * (pref - sc) - sc * sc;
		}
	}
	return sum;
}

/*
 * Solves the row exactly: forms A and b and factors A (Cholesky), with a small
 * ridge if float rounding made it indefinite; the solution goes to x
 */
static int
IalsSolveExact(const IalsHalf *h, IalsScratch *s, int64_t begin, int64_t end, float *x)
{
	int			k = h->k;
	int			j;
	int			info = 0;
	int			one = 1;

	IalsFormExplicit(h, s, begin, end);
	info = RecCholeskyLower(s->A, k, k);
	if (info != 0)
	{
		/*
		 * A is positive definite in exact arithmetic, but when many rows of
		 * the other side are (nearly) equal, float rounding in the large
		 * eigenvalues can swamp lambda.  Factor again with a ridge of
		 * 1e-6, then 1e-5, then 1e-4 of the largest diagonal entry: a
		 * perturbation at the level of float rounding of the data's scale.
		 */
		float		ridge_scale = 1e-6f;
		int			attempt;

		for (attempt = 0; info != 0 && attempt < 3; attempt++)
		{
			float		dmax = 0.0f;

			IalsFormExplicit(h, s, begin, end);
			for (j = 0; j < k; j++)
				if (s->A[(int64_t) j * k + j] > dmax)
					dmax = s->A[(int64_t) j * k + j];
			for (j = 0; j < k; j++)
				s->A[(int64_t) j * k + j] += ridge_scale * dmax;
			info = RecCholeskyLower(s->A, k, k);
			ridge_scale *= 10.0f;
		}
		if (info != 0)
			return RECSYS_ENOTPD;
	}
	spotrs_("L", &k, &one, s->A, &k, s->b, &k, &info);
	if (info != 0)
		return RECSYS_ENOTPD;
	memcpy(x, s->b, sizeof(float) * k);
	return RECSYS_OK;
}

/* Solves (or only evaluates) one row; returns a status code */
static int
IalsRow(const IalsHalf *h, IalsScratch *s, int64_t row)
{
	int			k = h->k;
	int64_t		begin = h->ptr[row];
	int64_t		end = h->ptr[row + 1];
	int64_t		n = end - begin;
	float	   *x = s->x;
	bool		gathered = false;
	double		norm2 = 0.0;
	float		residual = 0.0f;
	int			j;

	/* the row's lambda, from its total confidence excess */
	if (h->reg_exponent != 0.0f)
	{
		double		sum_d = 0.0;
		int64_t		e;

		for (e = begin; e < end; e++)
			sum_d += IalsConfidenceExcess(h->confidence, h->alpha, h->epsilon, h->val[e]);
		s->lambda = IalsRowLambda(h->lambda, h->reg_exponent, h->n_other, sum_d);
	}
	else
		s->lambda = h->lambda;

	/* work on an aligned copy, so BLAS sees the same alignment for every row */
	memcpy(x, h->factors + row * k, sizeof(float) * k);
	if (h->solve)
	{
		if (h->solver == IALS_SOLVER_CHOLESKY)
		{
			int			rc = IalsSolveExact(h, s, begin, end, x);

			if (rc != RECSYS_OK)
				return rc;
		}
		else if (n <= h->gather_max)
		{
			IalsGather(h, s, begin, (int) n);
			/* BLAS returns at once for n = 0 without writing b: clear it */
			if (n == 0)
				memset(s->b, 0, sizeof(float) * k);
			else
				cblas_sgemv(CblasColMajor, CblasNoTrans, k, (int) n, 1.0f, s->block, k,
							s->cp, 1, 0.0f, s->b, 1);
			residual = IalsConjugateGradient(h, s, (int) n, x);
			gathered = true;
		}
		else
		{
			IalsFormExplicit(h, s, begin, end);
			residual = IalsConjugateGradient(h, s, -1, x);
		}

		/*
		 * A row CG left above the tolerance after cg_steps steps is solved
		 * exactly: with confidences of 10^6 and more A's condition number is
		 * beyond what float CG resolves in k steps.  The residual CG reached is
		 * still what the sweep reports.
		 */
		if (h->solver == IALS_SOLVER_CG && h->cg_tolerance > 0.0f &&
			residual > h->cg_tolerance)
		{
			int			rc = IalsSolveExact(h, s, begin, end, x);

			if (rc != RECSYS_OK)
				return rc;
			gathered = false;
		}
		for (j = 0; j < k; j++)
			if (!isfinite(x[j]))
				return RECSYS_ENOTPD;
		memcpy(h->factors + row * k, x, sizeof(float) * k);
		h->row_residual[row] = residual;
	}

	for (j = 0; j < k; j++)
		norm2 += (double) x[j] * (double) x[j];
	h->row_loss[row] = (double) s->lambda * norm2;
	if (h->observed && n > 0)
		h->row_loss[row] += IalsObservedTerms(h, s, begin, end, x, gathered);
	return RECSYS_OK;
}

/* RecParallelFor body: the rows [begin, end) of a half-sweep */
static int
IalsChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const IalsHalf *h = (const IalsHalf *) ctx;
	IalsScratch *s = &h->scratch[thread];
	int64_t		r;

	for (r = begin; r < end; r++)
	{
		int			rc = IalsRow(h, s, r);

		if (rc != RECSYS_OK)
			return rc;
	}
	return RECSYS_OK;
}

/* G = F^T F for the rows x k factor matrix F, both triangles filled */
void
IalsGram(const float *f, int64_t rows, int k, float *gram)
{
	int			a,
				b;

	memset(gram, 0, sizeof(float) * k * k);
	if (rows > 0)
		cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, k, (int) rows, 1.0f,
					f, k, 0.0f, gram, k);
	for (a = 0; a < k; a++)
		for (b = a + 1; b < k; b++)
			gram[(int64_t) b * k + a] = gram[(int64_t) a * k + b];
}

/* <A, B> for two k x k matrices, in double */
static double
IalsFrobenius(const float *a, const float *b, int k)
{
	double		s = 0.0;
	int64_t		i;

	for (i = 0; i < (int64_t) k * k; i++)
		s += (double) a[i] * (double) b[i];
	return s;
}

/*
 * How far the last sweep's CG solves were from converged: the largest relative
 * residual of either side and the rows stopped by cg_steps above cg_tolerance
 */
static void
IalsResidualSummary(const IalsParams *p, const float *user_residual, int32_t n_users,
					const float *item_residual, int32_t n_items, RecFactors *out)
{
	double		worst = 0.0;
	int64_t		above = 0;
	int32_t		i;

	for (i = 0; i < n_users; i++)
	{
		worst = user_residual[i] > worst ? user_residual[i] : worst;
		above += user_residual[i] > p->cg_tolerance;
	}
	for (i = 0; i < n_items; i++)
	{
		worst = item_residual[i] > worst ? item_residual[i] : worst;
		above += item_residual[i] > p->cg_tolerance;
	}
	out->cg_residual = worst;
	out->cg_unconverged = above;
}

/* Whether the solver parameters shared by training and one-row solves are usable */
static bool
IalsParamsValid(const IalsParams *p)
{
	return p->regularization >= 0.0f && isfinite(p->regularization) &&
		p->alpha >= 0.0f && isfinite(p->alpha) && p->cg_steps >= 1 &&
		(p->confidence == IALS_CONFIDENCE_LINEAR || p->confidence == IALS_CONFIDENCE_LOG) &&
		(p->confidence != IALS_CONFIDENCE_LOG || (p->epsilon > 0.0f && isfinite(p->epsilon))) &&
		p->reg_exponent >= 0.0f && p->reg_exponent <= 1.0f &&
		p->cg_tolerance >= 0.0f && p->cg_tolerance < 1.0f &&
		(p->solver == IALS_SOLVER_CG || p->solver == IALS_SOLVER_CHOLESKY);
}

/* Rows gathered per block: IALS_GATHER_FLOATS of them, at least 16 */
static int
IalsGatherMax(int k)
{
	int			gather_max = IALS_GATHER_FLOATS / k;

	return gather_max < 16 ? 16 : gather_max;
}

/* Bytes of one thread's scratch (IalsScratchLayout) */
static size_t
IalsScratchBytes(int k, int gather_max)
{
	return SolverFloats((int64_t) gather_max * k) + 3 * SolverFloats(gather_max) +
		SolverFloats((int64_t) k * k) + 7 * SolverFloats(k);
}

/* Points one thread's scratch into b, IalsScratchBytes(k, gather_max) bytes */
static void
IalsScratchLayout(IalsScratch *s, char *b, int k, int gather_max)
{
	memset(s, 0, sizeof(*s));
	s->block = (float *) b;
	b += SolverFloats((int64_t) gather_max * k);
	s->d = (float *) b;
	b += SolverFloats(gather_max);
	s->cp = (float *) b;
	b += SolverFloats(gather_max);
	s->t = (float *) b;
	b += SolverFloats(gather_max);
	s->A = (float *) b;
	b += SolverFloats((int64_t) k * k);
	s->b = (float *) b;
	b += SolverFloats(k);
	s->r = (float *) b;
	b += SolverFloats(k);
	s->dir = (float *) b;
	b += SolverFloats(k);
	s->Ad = (float *) b;
	b += SolverFloats(k);
	s->x = (float *) b;
	b += SolverFloats(k);
	s->z = (float *) b;
	b += SolverFloats(k);
	s->diag = (float *) b;
}

/* A half-sweep's solver settings from the parameters; the caller sets its data */
static void
IalsHalfInit(IalsHalf *h, const IalsParams *p, int gather_max)
{
	memset(h, 0, sizeof(*h));
	h->k = p->factors;
	h->lambda = p->regularization;
	h->alpha = p->alpha;
	h->confidence = p->confidence;
	h->epsilon = p->epsilon;
	h->reg_exponent = p->reg_exponent;
	h->cg_steps = p->cg_steps;
	h->cg_tolerance = p->cg_tolerance;
	h->solver = p->solver;
	h->gather_max = gather_max;
}

/*
 * Trains implicit ALS; see solver.h for the contract and the top of this file for
 * the objective.  The biases in out are not used (set to 0 if present).
 */
int
IalsTrain(const RecRatings *r, const IalsParams *p, RecFactors *out,
		  const RecControl *ctl)
{
	int			k = p->factors;
	int			threads = p->threads;
	IalsScratch *scratch = NULL;
	char	   *pool = NULL;
	double	   *user_loss = NULL;
	double	   *item_loss = NULL;
	float	   *user_residual = NULL;
	float	   *item_residual = NULL;
	float	   *gram_x = NULL;
	float	   *gram_y = NULL;
	size_t		per_thread;
	int			gather_max;
	IalsHalf	uh,
				ih;
	int			rc = RECSYS_OK;
	int			it;
	int			t;

	if (r == NULL || p == NULL || out == NULL || k < 1 || p->iterations < 0 ||
		!IalsParamsValid(p) ||
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

	out->iterations_done = 0;
	out->loss = 0.0;
	out->scratch_bytes = 0;
	out->global_mean = 0.0f;
	out->cg_residual = 0.0;
	out->cg_unconverged = 0;

	rc = RecInitFactorsParallel(out->user_factors, r->n_users, k, p->seed, 1, threads, ctl);
	if (rc == RECSYS_OK)
		rc = RecInitFactorsParallel(out->item_factors, r->n_items, k, p->seed, 2, threads, ctl);
	if (rc != RECSYS_OK)
		return rc;
	if (out->user_bias)
		memset(out->user_bias, 0, sizeof(float) * (size_t) r->n_users);
	if (out->item_bias)
		memset(out->item_bias, 0, sizeof(float) * (size_t) r->n_items);

	gather_max = IalsGatherMax(k);
	per_thread = IalsScratchBytes(k, gather_max);
	scratch = calloc(threads, sizeof(IalsScratch));
	pool = SolverAlloc(per_thread * threads);
	user_loss = SolverAlloc(sizeof(double) * ((size_t) r->n_users + 1));
	item_loss = SolverAlloc(sizeof(double) * ((size_t) r->n_items + 1));
	user_residual = calloc((size_t) r->n_users + 1, sizeof(float));
	item_residual = calloc((size_t) r->n_items + 1, sizeof(float));
	gram_x = SolverAlloc(sizeof(float) * k * k);
	gram_y = SolverAlloc(sizeof(float) * k * k);
	if (scratch == NULL || pool == NULL || user_loss == NULL || item_loss == NULL ||
		user_residual == NULL || item_residual == NULL || gram_x == NULL || gram_y == NULL)
	{
		rc = RECSYS_ENOMEM;
		goto done;
	}
	out->scratch_bytes = (int64_t) (per_thread * threads + threads * sizeof(IalsScratch) +
									(sizeof(double) + sizeof(float)) *
									((size_t) r->n_users + r->n_items + 2) +
									2 * SolverFloats((int64_t) k * k));
	for (t = 0; t < threads; t++)
		IalsScratchLayout(&scratch[t], pool + per_thread * t, k, gather_max);

	IalsHalfInit(&uh, p, gather_max);
	uh.scratch = scratch;
	ih = uh;
	uh.ptr = r->user_ptr;
	uh.idx = r->user_items;
	uh.val = r->user_values;
	uh.factors = out->user_factors;
	uh.other = out->item_factors;
	uh.gram = gram_y;
	uh.row_loss = user_loss;
	uh.row_residual = user_residual;
	uh.n_other = (double) r->n_items;
	uh.observed = false;
	ih.ptr = r->item_ptr;
	ih.idx = r->item_users;
	ih.val = r->item_values;
	ih.factors = out->item_factors;
	ih.other = out->user_factors;
	ih.gram = gram_x;
	ih.row_loss = item_loss;
	ih.row_residual = item_residual;
	ih.n_other = (double) r->n_users;
	ih.observed = true;

	if (p->iterations == 0)
	{
		/* no sweep: report the objective of the initial factors */
		uh.solve = ih.solve = false;
		IalsGram(out->user_factors, r->n_users, k, gram_x);
		IalsGram(out->item_factors, r->n_items, k, gram_y);
		rc = RecParallelFor(threads, r->n_users, SolverChunk(r->n_users, threads),
							IalsChunk, &uh, ctl);
		if (rc == RECSYS_OK)
			rc = RecParallelFor(threads, r->n_items, SolverChunk(r->n_items, threads),
								IalsChunk, &ih, ctl);
		if (rc == RECSYS_OK)
			out->loss = IalsFrobenius(gram_x, gram_y, k) +
				SolverOrderedSum(user_loss, r->n_users) +
				SolverOrderedSum(item_loss, r->n_items);
		goto done;
	}

	uh.solve = ih.solve = true;
	IalsGram(out->item_factors, r->n_items, k, gram_y);
	for (it = 0; it < p->iterations; it++)
	{
		double		start = SolverNow();

		rc = RecParallelFor(threads, r->n_users, SolverChunk(r->n_users, threads),
							IalsChunk, &uh, ctl);
		if (rc != RECSYS_OK)
			break;
		IalsGram(out->user_factors, r->n_users, k, gram_x);
		rc = RecParallelFor(threads, r->n_items, SolverChunk(r->n_items, threads),
							IalsChunk, &ih, ctl);
		if (rc != RECSYS_OK)
			break;
		/* G_Y of the new items: for the loss now and the next user half */
		IalsGram(out->item_factors, r->n_items, k, gram_y);
		out->loss = IalsFrobenius(gram_x, gram_y, k) +
			SolverOrderedSum(user_loss, r->n_users) +
			SolverOrderedSum(item_loss, r->n_items);
		out->iterations_done = it + 1;
		if (p->solver == IALS_SOLVER_CG)
			IalsResidualSummary(p, user_residual, r->n_users, item_residual, r->n_items, out);
		rc = SolverSweepDone(ctl, it + 1, out->loss, start);
		if (rc != RECSYS_OK)
			break;
	}

done:
	free(scratch);
	free(pool);
	free(user_loss);
	free(item_loss);
	free(user_residual);
	free(item_residual);
	free(gram_x);
	free(gram_y);
	return rc;
}

/*
 * Solves one row on its own, by the same IalsRow a sweep runs, so a row solved
 * here against the same other side, Gram matrix and starting factors is
 * bit-identical to IalsTrain's: the distributed training (distributed.c) solves
 * each user (or item) of a shard this way.  x holds the row's current factors
 * (CG starts from them) and receives the solution; *loss gets the row's share of
 * the objective without the <G_X, G_Y> term, *residual CG's relative residual.
 * Runs on the calling thread; returns a status code.
 */
int
IalsSolveOneRow(const IalsRowInput *in, float *x, double *loss, float *residual)
{
	const IalsParams *p = in ? in->params : NULL;
	int			k = p ? p->factors : 0;
	int64_t		ptr[2] = {0, in ? in->n : 0};
	int			gather_max;
	IalsScratch s;
	IalsHalf	h;
	char	   *pool;
	size_t		bytes;
	int			rc;

	if (in == NULL || p == NULL || x == NULL || loss == NULL || residual == NULL ||
		k < 1 || in->n < 0 || in->gram == NULL ||
		!IalsParamsValid(p) ||
		(in->n > 0 && (in->other_index == NULL || in->values == NULL || in->other == NULL)))
		return RECSYS_EINVAL;
	if (RecBlasReserve(1, NULL) != RECSYS_OK)
		return RECSYS_ENOMEM;

	/* the same block height as IalsTrain, so long rows take the same path */
	gather_max = IalsGatherMax(k);
	IalsHalfInit(&h, p, gather_max);
	h.n_other = in->n_other;
	h.solve = true;
	h.observed = in->observed;
	h.ptr = ptr;
	h.idx = in->other_index;
	h.val = in->values;
	h.factors = x;
	h.other = in->other;
	h.gram = in->gram;
	h.row_loss = loss;
	h.row_residual = residual;
	h.scratch = &s;

	/* the scratch of one thread, laid out as IalsTrain lays it out */
	bytes = IalsScratchBytes(k, gather_max);
	pool = SolverAlloc(bytes);
	if (pool == NULL)
		return RECSYS_ENOMEM;
	IalsScratchLayout(&s, pool, k, gather_max);

	*residual = 0.0f;
	rc = IalsRow(&h, &s, 0);
	free(pool);
	return rc;
}
