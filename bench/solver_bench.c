/*
 * solver_bench.c
 *		Standalone driver for the training solvers (als.c, ials.c, pool.c): measures
 *		the machine's SGEMM rate, plants a low-rank rating set, trains on it and
 *		prints speed, quality and the solver's invariants (loss never rising for
 *		explicit ALS, identical factors on 1 and 2 threads, prompt interrupts).
 *
 * Build (bench/20_train.sh does this):
 *	gcc -O2 -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread \
 *		-o bench/out/solver_bench bench/solver_bench.c src/als.c src/ials.c src/pool.c \
 *		src/kernels.c \
 *		-lopenblas -lpthread -lm
 *
 * The implicit solver's explicit-matrix path (rows longer than its gather block) only
 * runs on popular rows; build with -DIALS_GATHER_FLOATS=1024 to make small sets take
 * it and run --only checks again.
 *
 * Usage: solver_bench [--users N] [--items N] [--ratings N] [--factors K]
 *		[--rank R] [--noise S] [--iters N] [--threads T] [--cg-steps N]
 *		[--lambda L] [--alpha A] [--item-exponent E] [--candidates N]
 *		[--only gemm|rowsolve|als|ials|checks] [--seed N]
 *
 * FLOP count of one explicit ALS sweep (what "ratio to GEMM" divides by):
 *		sum_u [n_u (k+1)^2 + (k+1)^3 / 3] + sum_i [n_i (k+1)^2 + (k+1)^3 / 3]
 * i.e. the multiply-adds of forming each normal matrix (SSYRK, counted as 2 flops
 * per multiply-add over the half it computes) plus a Cholesky factorisation per row
 * (k+1 because of the bias column; k without biases).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "kernels.h"
#include "solver.h"

typedef struct Options
{
	int			users;
	int			items;
	long		ratings;
	int			factors;
	int			rank;
	double		noise;
	int			iters;
	int			threads;
	int			cg_steps;
	double		lambda;
	double		alpha;
	double		item_exponent;
	int			candidates;
	const char *only;
	unsigned long seed;
} Options;

typedef struct Dataset
{
	RecRatings	r;
	/* held-out pairs */
	long		n_test;
	int32_t    *test_user;
	int32_t    *test_item;
	float	   *test_value;
	/* planted truth */
	float	   *truth_user;
	float	   *truth_item;
} Dataset;

/* CPU seconds of the whole process (all threads): insensitive to other load */
static double
CpuNow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* xoshiro-free small PRNG: splitmix64 */
static uint64_t
Next(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double
Uniform(uint64_t *s)
{
	return (Next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double
Gauss(uint64_t *s)
{
	double		u1 = Uniform(s),
				u2 = Uniform(s);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Cumulative power-law weights (i + offset)^-exponent, for inverse-CDF sampling */
static double *
PowerLawCdf(int n, double exponent, double offset)
{
	double	   *cdf = malloc(sizeof(double) * n);
	double		acc = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		acc += pow(i + offset, -exponent);
		cdf[i] = acc;
	}
	for (i = 0; i < n; i++)
		cdf[i] /= acc;
	return cdf;
}

static int
SampleCdf(const double *cdf, int n, double u)
{
	int			lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
CmpU64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* A stable, fixed hash of the pair: 1 in 10 pairs is held out */
static int
HeldOut(int32_t u, int32_t i)
{
	uint64_t	s = ((uint64_t) u << 32) ^ (uint64_t) i ^ 0x5bd1e995ULL;

	return Next(&s) % 10 == 0;
}

/*
 * Plants rank-`rank` user and item factors and biases; explicit ratings are
 * 3 + b_u + b_i + x_u.y_i + N(0, noise^2) (not clipped, so the noise floor is exactly
 * `noise`); implicit weights pick, among --candidates (32) popularity-sampled candidates, the one
 * the user prefers most (Gumbel-perturbed); the weight is how often the pair was drawn.
 * Item popularity follows a power law; users are equally active.
 */
static void
Plant(const Options *o, bool implicit, Dataset *d)
{
	uint64_t	s = o->seed * 7919 + (implicit ? 1 : 0);
	int			R = o->rank;
	float	   *U = malloc(sizeof(float) * o->users * R);
	float	   *V = malloc(sizeof(float) * o->items * R);
	float	   *bu = malloc(sizeof(float) * o->users);
	float	   *bi = malloc(sizeof(float) * o->items);
	double	   *item_cdf = PowerLawCdf(o->items, o->item_exponent, 10.0);
	double	   *user_cdf = PowerLawCdf(o->users, 0.0, 1.0);
	uint64_t   *keys = malloc(sizeof(uint64_t) * o->ratings);
	float	   *vals;
	long		n,
				m,
				e;
	int64_t    *uptr,
			   *iptr;
	int32_t    *uitems,
			   *iusers;
	float	   *uvals,
			   *ivals;
	long		ntrain = 0,
				ntest = 0;

	/* entries N(0, s^2) with R s^4 = 0.5: the planted x.y has variance 0.5 */
	for (e = 0; e < (long) o->users * R; e++)
		U[e] = Gauss(&s) * pow(0.5 / R, 0.25);
	for (e = 0; e < (long) o->items * R; e++)
		V[e] = Gauss(&s) * pow(0.5 / R, 0.25) * (implicit ? 2.0 : 1.0);
	for (e = 0; e < o->users; e++)
		bu[e] = 0.3 * Gauss(&s);
	for (e = 0; e < o->items; e++)
		bi[e] = 0.3 * Gauss(&s);

	/* a random permutation so popularity is not correlated with the index */
	{
		int		   *perm = malloc(sizeof(int) * o->items);
		int			i;

		for (i = 0; i < o->items; i++)
			perm[i] = i;
		for (i = o->items - 1; i > 0; i--)
		{
			int			j = Next(&s) % (i + 1),
						t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (n = 0; n < o->ratings; n++)
		{
			int			u = SampleCdf(user_cdf, o->users, Uniform(&s));
			int			item;

			if (implicit)
			{
				double		best = -1e300;
				int			c;

				item = 0;
				for (c = 0; c < o->candidates; c++)
				{
					int			cand = perm[SampleCdf(item_cdf, o->items, Uniform(&s))];
					double		sc = 0.0;
					int			l;

					for (l = 0; l < R; l++)
						sc += U[(long) u * R + l] * V[(long) cand * R + l];
					sc -= log(-log(Uniform(&s) + 1e-300));
					if (sc > best)
					{
						best = sc;
						item = cand;
					}
				}
			}
			else
				item = perm[SampleCdf(item_cdf, o->items, Uniform(&s))];
			keys[n] = ((uint64_t) u << 32) | (uint32_t) item;
		}
		free(perm);
	}
	qsort(keys, o->ratings, sizeof(uint64_t), CmpU64);

	/* values per distinct pair (implicit: the multiplicity adds to the weight) */
	vals = malloc(sizeof(float) * o->ratings);
	for (n = 0, m = 0; n < o->ratings; m++)
	{
		long		run = n;
		int32_t		u = keys[n] >> 32,
					i = (int32_t) (keys[n] & 0xffffffff);
		double		v;

		while (run < o->ratings && keys[run] == keys[n])
			run++;
		if (implicit)
			v = (double) (run - n);
		else
		{
			int			l;

			v = 3.0 + bu[u] + bi[i] + o->noise * Gauss(&s);
			for (l = 0; l < R; l++)
				v += U[(long) u * R + l] * V[(long) i * R + l];
		}
		keys[m] = keys[n];
		vals[m] = (float) v;
		n = run;
	}

	/* split: train CSR (sorted by user then item), held-out triples */
	d->r.n_users = o->users;
	d->r.n_items = o->items;
	uptr = calloc(o->users + 1, sizeof(int64_t));
	iptr = calloc(o->items + 1, sizeof(int64_t));
	for (e = 0; e < m; e++)
		if (HeldOut(keys[e] >> 32, keys[e] & 0xffffffff))
			ntest++;
		else
			ntrain++;
	uitems = malloc(sizeof(int32_t) * ntrain);
	uvals = malloc(sizeof(float) * ntrain);
	iusers = malloc(sizeof(int32_t) * ntrain);
	ivals = malloc(sizeof(float) * ntrain);
	d->test_user = malloc(sizeof(int32_t) * ntest);
	d->test_item = malloc(sizeof(int32_t) * ntest);
	d->test_value = malloc(sizeof(float) * ntest);
	d->n_test = 0;
	n = 0;
	for (e = 0; e < m; e++)
	{
		int32_t		u = keys[e] >> 32,
					i = keys[e] & 0xffffffff;

		if (HeldOut(u, i))
		{
			d->test_user[d->n_test] = u;
			d->test_item[d->n_test] = i;
			d->test_value[d->n_test++] = vals[e];
			continue;
		}
		uitems[n] = i;
		uvals[n] = vals[e];
		uptr[u + 1]++;
		iptr[i + 1]++;
		n++;
	}
	for (e = 0; e < o->users; e++)
		uptr[e + 1] += uptr[e];
	for (e = 0; e < o->items; e++)
		iptr[e + 1] += iptr[e];
	/* CSC by a stable counting sort: users stay sorted within each item */
	{
		int64_t    *fill = malloc(sizeof(int64_t) * o->items);
		int32_t		u;

		memcpy(fill, iptr, sizeof(int64_t) * o->items);
		for (u = 0; u < o->users; u++)
			for (e = uptr[u]; e < uptr[u + 1]; e++)
			{
				int64_t		at = fill[uitems[e]]++;

				iusers[at] = u;
				ivals[at] = uvals[e];
			}
		free(fill);
	}
	d->r.nnz = ntrain;
	d->r.user_ptr = uptr;
	d->r.user_items = uitems;
	d->r.user_values = uvals;
	d->r.item_ptr = iptr;
	d->r.item_users = iusers;
	d->r.item_values = ivals;
	d->truth_user = U;
	d->truth_item = V;
	free(bu);
	free(bi);
	free(item_cdf);
	free(user_cdf);
	free(keys);
	free(vals);
}

static void
FreeDataset(Dataset *d)
{
	free((void *) d->r.user_ptr);
	free((void *) d->r.user_items);
	free((void *) d->r.user_values);
	free((void *) d->r.item_ptr);
	free((void *) d->r.item_users);
	free((void *) d->r.item_values);
	free(d->test_user);
	free(d->test_item);
	free(d->test_value);
	free(d->truth_user);
	free(d->truth_item);
}

/* best-of-3 SGEMM rate in GFLOP/s for n x n x n at the given OpenBLAS threads */
static double
GemmRate(int n, int threads)
{
	float	   *a = malloc(sizeof(float) * n * n);
	float	   *b = malloc(sizeof(float) * n * n);
	float	   *c = malloc(sizeof(float) * n * n);
	double		best = 1e30;
	long		i;
	int			rep;

	for (i = 0; i < (long) n * n; i++)
	{
		a[i] = (float) ((i % 13) - 6) * 0.01f;
		b[i] = (float) ((i % 7) - 3) * 0.01f;
	}
	openblas_set_num_threads(threads);
	for (rep = 0; rep < 4; rep++)
	{
		double		t = Now();

		cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
					0.0f, c, n);
		t = Now() - t;
		if (rep > 0 && t < best)	/* the first run warms up the threads */
			best = t;
	}
	openblas_set_num_threads(1);
	free(a);
	free(b);
	free(c);
	return 2.0 * n * (double) n * n / best / 1e9;
}

/*
 * One ALS row's two dense steps at k factors, best of 5 rounds of 2,000 rows,
 * with the kernels' own routines and with OpenBLAS's: ns per gathered row of
 * the rank update (m = 150 rows, a typical user) and us per (k+1) x (k+1)
 * Cholesky factorisation.  Prints one markdown line each, with the kernel set.
 */
static void
RowSolveRates(int k)
{
	int			m = 150,
				n = k + 1,
				rows = 2000;
	float	   *B = malloc(sizeof(float) * (size_t) k * m);
	float	   *A = malloc(sizeof(float) * (size_t) n * n);
	float	   *M = malloc(sizeof(float) * (size_t) n * n);
	double		best[4] = {1e30, 1e30, 1e30, 1e30};

	for (int i = 0; i < k * m; i++)
		B[i] = (float) ((i * 7919) % 1000) / 1000.0f - 0.5f;
	/* a positive definite matrix: B B^T bordered, plus m on the diagonal */
	memset(M, 0, sizeof(float) * (size_t) n * n);
	cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, k, m, 1.0f, B, k, 0.0f, M, n);
	for (int j = 0; j < n; j++)
		M[(size_t) j * n + j] += (float) m;
	for (int round = 0; round < 5; round++)
		for (int way = 0; way < 4; way++)
		{
			double		t = Now();
			int			info = 0;

			for (int r = 0; r < rows; r++)
			{
				if (way == 0)
					(void) KernSyrkLower(B, k, m, A, n, true);
				else if (way == 1)
					cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, k, m, 1.0f, B, k,
								0.0f, A, n);
				else
				{
					memcpy(A, M, sizeof(float) * (size_t) n * n);
					if (way == 2)
						info = KernCholeskyLower(A, n, n);
					else
						spotrf_("L", &n, A, &n, &info);
				}
			}
			t = (Now() - t) / rows;
			if (t < best[way])
				best[way] = t;
		}
	/* the factorisations' time includes copying the matrix in, for both */
	if (KernSyrkLower(B, k, m, A, n, true))
		printf("| ALS row: rank update, k = %d, %d rows, %s kernels vs SSYRK (ns per row) | %.1f | %.1f | %.2f |\n",
			   k, m, KernName(), best[0] / m * 1e9, best[1] / m * 1e9, best[0] / best[1]);
	memcpy(A, M, sizeof(float) * (size_t) n * n);
	if (KernCholeskyLower(A, n, n) >= 0)
		printf("| ALS row: Cholesky %d x %d, %s kernels vs SPOTRF (us) | %.2f | %.2f | %.2f |\n",
			   n, n, KernName(), best[2] * 1e6, best[3] * 1e6, best[2] / best[3]);
	free(B);
	free(A);
	free(M);
}

/* progress callback: records losses and seconds per sweep */
typedef struct Progress
{
	int			n;
	double		loss[1000];
	double		seconds[1000];
	bool		print;
	double		interrupt_at;	/* Now() after which interrupted() says yes */
	double		interrupt_seen;
} Progress;

static void
OnProgress(void *arg, int iteration, double loss, double seconds)
{
	Progress   *p = arg;

	if (p->n < 1000)
	{
		p->loss[p->n] = loss;
		p->seconds[p->n] = seconds;
		p->n++;
	}
	if (p->print)
		fprintf(stderr, "  sweep %d: loss %.6g, %.3f s\n", iteration, loss, seconds);
}

static bool
OnInterrupt(void *arg)
{
	Progress   *p = arg;

	if (p->interrupt_at > 0 && Now() >= p->interrupt_at)
	{
		if (p->interrupt_seen == 0)
			p->interrupt_seen = Now();
		return true;
	}
	return false;
}

static double
AlsFlops(const RecRatings *r, int k, bool biases)
{
	double		dim = biases ? k + 1 : k;

	return 2.0 * r->nnz * dim * dim + (r->n_users + r->n_items) * dim * dim * dim / 3.0;
}

typedef struct Trained
{
	float	   *uf,
			   *itf,
			   *ub,
			   *ib;
	RecFactors	out;
} Trained;

static void
Alloc(Trained *t, const RecRatings *r, int k)
{
	t->uf = malloc(sizeof(float) * r->n_users * (size_t) k);
	t->itf = malloc(sizeof(float) * r->n_items * (size_t) k);
	t->ub = malloc(sizeof(float) * r->n_users);
	t->ib = malloc(sizeof(float) * r->n_items);
	/* as the extension's model memory (model.c): huge pages where THP allows */
	RecAdviseHugePages(t->uf, sizeof(float) * r->n_users * (size_t) k);
	RecAdviseHugePages(t->itf, sizeof(float) * r->n_items * (size_t) k);
	memset(&t->out, 0, sizeof(t->out));
	t->out.user_factors = t->uf;
	t->out.item_factors = t->itf;
	t->out.user_bias = t->ub;
	t->out.item_bias = t->ib;
}

static void
Release(Trained *t)
{
	free(t->uf);
	free(t->itf);
	free(t->ub);
	free(t->ib);
}

static bool
Same(const Trained *a, const Trained *b, const RecRatings *r, int k)
{
	return memcmp(a->uf, b->uf, sizeof(float) * r->n_users * (size_t) k) == 0 &&
		memcmp(a->itf, b->itf, sizeof(float) * r->n_items * (size_t) k) == 0 &&
		memcmp(a->ub, b->ub, sizeof(float) * r->n_users) == 0 &&
		memcmp(a->ib, b->ib, sizeof(float) * r->n_items) == 0 &&
		a->out.loss == b->out.loss;
}

static double
HeldOutRmse(const Dataset *d, const Trained *t, int k)
{
	double		se = 0.0;
	long		e;

	for (e = 0; e < d->n_test; e++)
	{
		int			u = d->test_user[e],
					i = d->test_item[e],
					l;
		double		pred = t->out.global_mean + t->ub[u] + t->ib[i];

		for (l = 0; l < k; l++)
			pred += t->uf[(long) u * k + l] * t->itf[(long) i * k + l];
		se += (pred - d->test_value[e]) * (pred - d->test_value[e]);
	}
	return sqrt(se / d->n_test);
}

static bool
Monotone(const Progress *p)
{
	int			i;

	for (i = 1; i < p->n; i++)
		if (p->loss[i] > p->loss[i - 1])
			return false;
	return true;
}

/*
 * Held-out recall@10 over users with held-out items (at most 2000 users), for the
 * trained factors (scores) or, with t NULL, for ranking by training popularity.
 */
static double
Recall10(const Dataset *d, const Trained *t, int k)
{
	const RecRatings *r = &d->r;
	int		   *pop = calloc(r->n_items, sizeof(int));
	double	   *score = malloc(sizeof(double) * r->n_items);
	char	   *seen = calloc(r->n_items, 1);
	double		sum = 0.0;
	int			users = 0;
	long		e = 0;
	int			i;

	for (i = 0; i < r->n_items; i++)
		pop[i] = (int) (r->item_ptr[i + 1] - r->item_ptr[i]);
	while (e < d->n_test && users < 2000)
	{
		int			u = d->test_user[e];
		long		f = e;
		int			top[10],
					hits = 0,
					nrel,
					a;

		while (f < d->n_test && d->test_user[f] == u)
			f++;
		nrel = (int) (f - e);
		for (i = 0; i < r->n_items; i++)
		{
			int			l;

			if (t == NULL)
				score[i] = pop[i];
			else
			{
				score[i] = 0;
				for (l = 0; l < k; l++)
					score[i] += t->uf[(long) u * k + l] * t->itf[(long) i * k + l];
			}
		}
		for (a = r->user_ptr[u]; a < r->user_ptr[u + 1]; a++)
			seen[r->user_items[a]] = 1;
		for (a = 0; a < 10; a++)
		{
			int			best = -1;

			for (i = 0; i < r->n_items; i++)
				if (!seen[i] && (best < 0 || score[i] > score[best]))
					best = i;
			top[a] = best;
			if (best >= 0)
				seen[best] = 1;
		}
		for (a = 0; a < 10; a++)
		{
			long		g;

			for (g = e; g < f; g++)
				if (d->test_item[g] == top[a])
					hits++;
		}
		memset(seen, 0, r->n_items);
		sum += (double) hits / (nrel < 10 ? nrel : 10);
		users++;
		e = f;
	}
	free(pop);
	free(score);
	free(seen);
	return users ? sum / users : 0.0;
}

static double g_lambda = 0.05, g_alpha = 10.0;

static int
RunAls(const Dataset *d, int k, int iters, int threads, bool biases, Trained *t,
	   Progress *pr)
{
	AlsParams	p = {.factors = k,.iterations = iters,.regularization = (float) g_lambda,
	.biases = biases,.seed = 42,.threads = threads};
	RecControl	ctl = {OnInterrupt, OnProgress, pr};

	return AlsTrain(&d->r, &p, &t->out, &ctl);
}

static int
RunIals(const Dataset *d, int k, int iters, int threads, int solver, int cg,
		Trained *t, Progress *pr)
{
	IalsParams	p = {.factors = k,.iterations = iters,.regularization = (float) g_lambda,
		.alpha = (float) g_alpha,.cg_steps = cg,.solver = solver,.seed = 42,.threads = threads};
	RecControl	ctl = {OnInterrupt, OnProgress, pr};

	return IalsTrain(&d->r, &p, &t->out, &ctl);
}

/*
 * Brute-force check on a small set: the reported loss equals the objective summed
 * over every pair, and the item side (solved last, exactly) has zero gradient.
 * Returns the worst relative error.
 */
static double
BruteForceCheck(const Dataset *d, const Trained *t, int k, bool implicit,
				double lambda, double alpha)
{
	const RecRatings *r = &d->r;
	double		loss = 0.0,
				worst;
	double	   *dense = calloc((size_t) r->n_users * r->n_items, sizeof(double));
	char	   *has = calloc((size_t) r->n_users * r->n_items, 1);
	double	   *grad = malloc(sizeof(double) * (k + 1));
	double		gmax = 0.0,
				scale = 0.0;
	int			u,
				i,
				l;
	long		e;

	for (u = 0; u < r->n_users; u++)
		for (e = r->user_ptr[u]; e < r->user_ptr[u + 1]; e++)
		{
			dense[(long) u * r->n_items + r->user_items[e]] = r->user_values[e];
			has[(long) u * r->n_items + r->user_items[e]] = 1;
		}
	for (i = 0; i < r->n_items; i++)
	{
		int			ni = (int) (r->item_ptr[i + 1] - r->item_ptr[i]);

		memset(grad, 0, sizeof(double) * (k + 1));
		for (u = 0; u < r->n_users; u++)
		{
			double		s = 0.0,
						c,
						pref,
						res;
			long		at = (long) u * r->n_items + i;

			for (l = 0; l < k; l++)
				s += (double) t->uf[(long) u * k + l] * t->itf[(long) i * k + l];
			if (implicit)
			{
				c = has[at] ? 1.0 + alpha * fabs(dense[at]) : 1.0;
				pref = has[at] && dense[at] > 0 ? 1.0 : 0.0;
				loss += c * (pref - s) * (pref - s);
				for (l = 0; l < k; l++)
				{
					grad[l] += 2 * c * (s - pref) * t->uf[(long) u * k + l];
					scale += fabs(2 * c * pref * t->uf[(long) u * k + l]);
				}
			}
			else if (has[at])
			{
				res = dense[at] - t->out.global_mean - t->ub[u] - t->ib[i] - s;
				loss += res * res;
				for (l = 0; l < k; l++)
					grad[l] -= 2 * res * t->uf[(long) u * k + l];
				grad[k] -= 2 * res;
				for (l = 0; l < k; l++)
					scale += fabs(2 * dense[at] * t->uf[(long) u * k + l]);
			}
		}
		for (l = 0; l < k; l++)
		{
			double		y = t->itf[(long) i * k + l];

			grad[l] += 2 * lambda * (implicit ? 1 : ni) * y;
			loss += lambda * (implicit ? 1 : ni) * y * y;
		}
		if (!implicit)
		{
			grad[k] += 2 * lambda * ni * t->ib[i];
			loss += lambda * ni * t->ib[i] * t->ib[i];
		}
		for (l = 0; l <= k; l++)
			if (fabs(grad[l]) > gmax)
				gmax = fabs(grad[l]);
	}
	for (u = 0; u < r->n_users; u++)
	{
		int			nu = (int) (r->user_ptr[u + 1] - r->user_ptr[u]);

		for (l = 0; l < k; l++)
			loss += lambda * (implicit ? 1 : nu) * t->uf[(long) u * k + l] * t->uf[(long) u * k + l];
		if (!implicit)
			loss += lambda * nu * t->ub[u] * t->ub[u];
	}
	worst = fabs(loss - t->out.loss) / loss;
	fprintf(stderr, "brute force: loss %.8g reported %.8g; max |grad| %.3g (scale %.3g)\n",
			loss, t->out.loss, gmax, scale / r->n_items);
	/* gradient relative to the typical size of a row's right-hand side */
	if (gmax / (scale / r->n_items + 1e-30) > worst)
		worst = gmax / (scale / r->n_items + 1e-30);
	free(dense);
	free(has);
	free(grad);
	return worst;
}

static double
Mean(const double *a, int from, int n)
{
	double		s = 0;
	int			i;

	for (i = from; i < n; i++)
		s += a[i];
	return n > from ? s / (n - from) : 0;
}

int
main(int argc, char **argv)
{
	Options		o = {3000, 1500, 300000, 16, 8, 0.5, 15, 2, 3, 0.05, 10.0, 0.9, 32, "", 42};
	double		gemm1 = 0,
				gemmT = 0;
	int			a;
	int			failures = 0;

	for (a = 1; a + 1 < argc; a += 2)
	{
		if (!strcmp(argv[a], "--users"))
			o.users = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--items"))
			o.items = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--ratings"))
			o.ratings = atol(argv[a + 1]);
		else if (!strcmp(argv[a], "--factors"))
			o.factors = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--rank"))
			o.rank = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--noise"))
			o.noise = atof(argv[a + 1]);
		else if (!strcmp(argv[a], "--iters"))
			o.iters = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--threads"))
			o.threads = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--cg-steps"))
			o.cg_steps = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--lambda"))
			o.lambda = atof(argv[a + 1]);
		else if (!strcmp(argv[a], "--alpha"))
			o.alpha = atof(argv[a + 1]);
		else if (!strcmp(argv[a], "--candidates"))
			o.candidates = atoi(argv[a + 1]);
		else if (!strcmp(argv[a], "--item-exponent"))
			o.item_exponent = atof(argv[a + 1]);
		else if (!strcmp(argv[a], "--only"))
			o.only = argv[a + 1];
		else if (!strcmp(argv[a], "--seed"))
			o.seed = strtoul(argv[a + 1], NULL, 10);
		else
		{
			fprintf(stderr, "unknown option %s\n", argv[a]);
			return 2;
		}
	}
	openblas_set_num_threads(1);
	g_lambda = o.lambda;
	g_alpha = o.alpha;

	if (!*o.only || !strcmp(o.only, "gemm") || !strcmp(o.only, "als"))
	{
		gemm1 = GemmRate(2048, 1);
		gemmT = GemmRate(2048, o.threads);
		printf("| SGEMM 2048^3, 1 thread | %.1f GFLOP/s |\n", gemm1);
		printf("| SGEMM 2048^3, %d threads | %.1f GFLOP/s |\n", o.threads, gemmT);
	}

	if (!*o.only || !strcmp(o.only, "rowsolve"))
		RowSolveRates(o.factors);

	if (!*o.only || !strcmp(o.only, "als"))
	{
		Dataset		d;
		Trained		t;
		Progress	pr = {0};
		double		start = Now(),
					cpu,
					flops,
					sweep,
					rmse;
		int			rc;

		Plant(&o, false, &d);
		fprintf(stderr, "explicit set: %d users, %d items, %ld train, %ld held out (%.1f s)\n",
				o.users, o.items, (long) d.r.nnz, d.n_test, Now() - start);
		Alloc(&t, &d.r, o.factors);
		pr.print = true;
		cpu = CpuNow();
		rc = RunAls(&d, o.factors, o.iters, o.threads, true, &t, &pr);
		cpu = (CpuNow() - cpu) / (pr.n > 0 ? pr.n : 1);
		flops = AlsFlops(&d.r, o.factors, true);
		sweep = Mean(pr.seconds, pr.n > 1 ? 1 : 0, pr.n);
		rmse = HeldOutRmse(&d, &t, o.factors);
		printf("| ALS k=%d, %ld ratings, %d threads: s/sweep | %.3f |\n",
			   o.factors, (long) d.r.nnz, o.threads, sweep);
		printf("| ALS CPU s/sweep (all threads) | %.3f |\n", cpu);
		printf("| ALS FLOP per sweep | %.3g |\n", flops);
		printf("| ALS time / (FLOP / GEMM rate at %d threads) | %.2f |\n",
			   o.threads, sweep / (flops / (gemmT * 1e9)));
		printf("| ALS held-out RMSE (noise %.2f) | %.4f |\n", o.noise, rmse);
		printf("| ALS loss never rises | %s |\n", Monotone(&pr) ? "yes" : "NO");
		printf("| ALS scratch bytes | %lld |\n", (long long) t.out.scratch_bytes);
		if (rc != RECSYS_OK || !Monotone(&pr) || rmse > 1.15 * o.noise)
		{
			printf("ALS FAILED (rc %d)\n", rc);
			failures++;
		}
		Release(&t);
		FreeDataset(&d);
	}

	if (!*o.only || !strcmp(o.only, "ials"))
	{
		Dataset		d;
		Trained		t;
		Progress	pr = {0};
		double		start = Now(),
					cpu,
					sweep;
		int			rc;

		Plant(&o, true, &d);
		fprintf(stderr, "implicit set: %d users, %d items, %ld train, %ld held out (%.1f s)\n",
				o.users, o.items, (long) d.r.nnz, d.n_test, Now() - start);
		Alloc(&t, &d.r, o.factors);
		pr.print = true;
		cpu = CpuNow();
		rc = RunIals(&d, o.factors, o.iters, o.threads, IALS_SOLVER_CG, o.cg_steps, &t, &pr);
		cpu = (CpuNow() - cpu) / (pr.n > 0 ? pr.n : 1);
		sweep = Mean(pr.seconds, pr.n > 1 ? 1 : 0, pr.n);
		printf("| iALS CG-%d k=%d, %ld interactions, %d threads: s/sweep | %.3f |\n",
			   o.cg_steps, o.factors, (long) d.r.nnz, o.threads, sweep);
		printf("| iALS CPU s/sweep (all threads) | %.3f |\n", cpu);
		printf("| iALS scratch bytes | %lld |\n", (long long) t.out.scratch_bytes);
		if (rc != RECSYS_OK)
		{
			printf("iALS FAILED (rc %d)\n", rc);
			failures++;
		}
		if (d.r.nnz <= 2000000)
		{
			double		rec = Recall10(&d, &t, o.factors),
						pop = Recall10(&d, NULL, o.factors);

			printf("| iALS held-out recall@10 (popularity) | %.4f (%.4f) |\n", rec, pop);
			/* this plant tilts choices less than recsys.synthetic_ratings does */
			if (!(rec >= 1.5 * pop))
			{
				printf("iALS recall FAILED\n");
				failures++;
			}
		}
		Release(&t);
		FreeDataset(&d);
	}

	if (!*o.only || !strcmp(o.only, "checks"))
	{
		Options		small = o;
		Dataset		d,
					di;
		Trained		a1,
					a2;
		Progress	pr = {0};
		int			rc1,
					rc2,
					solver;
		bool		same;

		small.users = 3000;
		small.items = 1500;
		small.ratings = 150000;
		Plant(&small, false, &d);
		Plant(&small, true, &di);

		/* determinism: 1 and 2 threads give the same bits */
		Alloc(&a1, &d.r, o.factors);
		Alloc(&a2, &d.r, o.factors);
		rc1 = RunAls(&d, o.factors, 5, 1, true, &a1, &pr);
		rc2 = RunAls(&d, o.factors, 5, 2, true, &a2, &pr);
		same = rc1 == 0 && rc2 == 0 && Same(&a1, &a2, &d.r, o.factors);
		printf("| ALS 1 vs 2 threads bit-identical | %s |\n", same ? "yes" : "NO");
		failures += !same;
		rc1 = RunAls(&d, o.factors, 5, 1, false, &a1, &pr);
		rc2 = RunAls(&d, o.factors, 5, 3, false, &a2, &pr);
		same = rc1 == 0 && rc2 == 0 && Same(&a1, &a2, &d.r, o.factors);
		printf("| ALS (no biases) 1 vs 3 threads bit-identical | %s |\n", same ? "yes" : "NO");
		failures += !same;
		/* zero iterations: the initial factors, biases 0, a finite loss */
		rc1 = RunAls(&d, o.factors, 0, 2, true, &a1, &pr);
		printf("| ALS 0 iterations: loss of initial factors | %.6g |\n", a1.out.loss);
		failures += rc1 != 0 || a1.ub[0] != 0.0f || !isfinite(a1.out.loss) ||
			a1.out.iterations_done != 0;
		Release(&a1);
		Release(&a2);

		for (solver = 0; solver < 2; solver++)
		{
			double		rec;

			Alloc(&a1, &di.r, o.factors);
			Alloc(&a2, &di.r, o.factors);
			rc1 = RunIals(&di, o.factors, 5, 1, solver, 3, &a1, &pr);
			rc2 = RunIals(&di, o.factors, 5, 2, solver, 3, &a2, &pr);
			same = rc1 == 0 && rc2 == 0 && Same(&a1, &a2, &di.r, o.factors);
			rec = Recall10(&di, &a1, o.factors);
			printf("| iALS %s 1 vs 2 threads bit-identical | %s |\n",
				   solver ? "cholesky" : "cg", same ? "yes" : "NO");
			printf("| iALS %s recall@10 after 5 sweeps | %.4f |\n",
				   solver ? "cholesky" : "cg", rec);
			failures += !same;
			Release(&a1);
			Release(&a2);
		}

		/* the exact solver's loss never rises either */
		{
			Progress	pc = {0};

			Alloc(&a1, &di.r, o.factors);
			rc1 = RunIals(&di, o.factors, 10, 2, IALS_SOLVER_CHOLESKY, 3, &a1, &pc);
			printf("| iALS cholesky loss never rises | %s |\n", Monotone(&pc) ? "yes" : "NO");
			failures += rc1 != 0 || !Monotone(&pc);
			Release(&a1);
		}

		/* brute force on a tiny set: loss formula and exact item solves */
		{
			Options		tiny = o;
			Dataset		dt;
			double		err;

			tiny.users = 60;
			tiny.items = 40;
			tiny.ratings = 800;
			Plant(&tiny, false, &dt);
			Alloc(&a1, &dt.r, 6);
			rc1 = RunAls(&dt, 6, 3, 2, true, &a1, &pr);
			err = BruteForceCheck(&dt, &a1, 6, false, g_lambda, g_alpha);
			printf("| ALS brute-force loss and gradient, relative error | %.2g |\n", err);
			failures += rc1 != 0 || !(err < 1e-4);
			Release(&a1);
			FreeDataset(&dt);
			Plant(&tiny, true, &dt);
			Alloc(&a1, &dt.r, 6);
			rc1 = RunIals(&dt, 6, 3, 2, IALS_SOLVER_CHOLESKY, 3, &a1, &pr);
			err = BruteForceCheck(&dt, &a1, 6, true, g_lambda, g_alpha);
			printf("| iALS brute-force loss and gradient, relative error | %.2g |\n", err);
			failures += rc1 != 0 || !(err < 1e-4);
			Release(&a1);
			FreeDataset(&dt);
		}

		/* interrupts: a long run stops promptly once interrupted() says so */
		{
			Progress	pi = {0};
			double		stopped;
			int			rc;

			Alloc(&a1, &d.r, 64);
			pi.interrupt_at = Now() + 0.3;
			rc = RunAls(&d, 64, 1000, 2, true, &a1, &pi);
			stopped = Now();
			printf("| interrupt: status %d, stopped %.0f ms after the request |\n",
				   rc, (stopped - pi.interrupt_seen) * 1000);
			failures += rc != RECSYS_INTERRUPTED || stopped - pi.interrupt_seen > 0.2;
			Release(&a1);
		}
		FreeDataset(&d);
		FreeDataset(&di);
	}

	printf("%s\n", failures ? "FAILURES" : "all checks passed");
	return failures ? 1 : 0;
}
