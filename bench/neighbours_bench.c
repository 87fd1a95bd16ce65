/*
 * neighbours_bench.c
 *		Times RecEaseFit phase by phase against the machine's SGEMM rate and
 *		against OpenBLAS's own monolithic SPOTRF + SPOTRI on the same matrix, and
 *		the longest gap between two cancel polls; times RecKnnFit on a synthetic
 *		set.  Prints markdown tables.
 *
 *	usage: neighbours_bench ease N_ITEMS [THREADS [BLOCK [N_USERS]]]
 *		   neighbours_bench knn N_USERS N_ITEMS PER_USER [THREADS]
 *
 * Built by `make bench/neighbours_bench` against the plain-C sources; no
 * PostgreSQL.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "neighbours.h"

extern void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

/* Seconds on a monotonic clock */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* splitmix64 -> uniform [0, 1) */
static double
RandUnit(uint64_t *s)
{
	uint64_t	z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return (double) ((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * An implicit set of n_users users with 1..2*per_user draws each from a skewed
 * popularity (item = floor(u^2 n_items)), as CSR + CSC with value 1
 */
static RecRatings
Synthetic(int n_users, int n_items, int per_user, uint64_t seed)
{
	RecRatings	r;
	uint64_t	s = seed;
	char	   *mark = calloc(n_items, 1);
	int64_t		cap = (int64_t) n_users * per_user * 2 + 16;
	int64_t    *uptr = calloc(n_users + 1, sizeof(int64_t));
	int32_t    *uitems = malloc(sizeof(int32_t) * cap);
	float	   *uvals = malloc(sizeof(float) * cap);
	int64_t    *iptr = calloc(n_items + 1, sizeof(int64_t));
	int64_t    *next = calloc(n_items + 1, sizeof(int64_t));
	int32_t    *iusers;
	float	   *ivals;
	int64_t		e = 0,
				f;
	int			u,
				i;

	for (u = 0; u < n_users; u++)
	{
		int			m = 1 + (int) (RandUnit(&s) * 2 * per_user);
		int			t;

		for (t = 0; t < m; t++)
			mark[(int) (pow(RandUnit(&s), 2.0) * n_items)] = 1;
		for (i = 0; i < n_items; i++)
			if (mark[i])
			{
				mark[i] = 0;
				uitems[e] = i;
				uvals[e++] = 1.0f;
			}
		uptr[u + 1] = e;
	}
	iusers = malloc(sizeof(int32_t) * (e + 1));
	ivals = malloc(sizeof(float) * (e + 1));
	for (f = 0; f < e; f++)
		iptr[uitems[f] + 1]++;
	for (i = 0; i < n_items; i++)
		iptr[i + 1] += iptr[i];
	memcpy(next, iptr, sizeof(int64_t) * n_items);
	for (u = 0; u < n_users; u++)
		for (f = uptr[u]; f < uptr[u + 1]; f++)
		{
			int64_t		at = next[uitems[f]]++;

			iusers[at] = u;
			ivals[at] = uvals[f];
		}
	free(mark);
	free(next);
	r.n_users = n_users;
	r.n_items = n_items;
	r.nnz = e;
	r.user_ptr = uptr;
	r.user_items = uitems;
	r.user_values = uvals;
	r.item_ptr = iptr;
	r.item_users = iusers;
	r.item_values = ivals;
	return r;
}

/* Poll and progress bookkeeping */
typedef struct Watch
{
	double		last;			/* time of the previous poll */
	double		max_gap;		/* longest time between two polls */
	int			polls;
	double		phase[6];
} Watch;

static bool
WatchPoll(void *arg)
{
	Watch	   *w = arg;
	double		now = Now();

	if (now - w->last > w->max_gap)
		w->max_gap = now - w->last;
	w->last = now;
	w->polls++;
	return false;
}

static void
WatchProgress(void *arg, int phase, double loss, double seconds)
{
	Watch	   *w = arg;

	if (phase >= 1 && phase <= 5)
		w->phase[phase] = seconds;
}

/* One thread's share of the SGEMM rate measurement: its own 2048^3 product */
typedef struct GemmJob
{
	int			n;
	float	   *buf;			/* [threads][3 n^2] */
} GemmJob;

static int
GemmChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	GemmJob    *g = ctx;
	int			n = g->n;
	float	   *a = g->buf + (int64_t) begin * 3 * n * n;

	cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
				a + (int64_t) n * n, n, 0.0f, a + 2 * (int64_t) n * n, n);
	return RECSYS_OK;
}

/*
 * The machine's SGEMM rate in flop/s on `threads` threads at once, each a
 * single-threaded 2048^3 product (as the solvers run BLAS), best of three
 */
static double
GemmRate(int threads)
{
	GemmJob		g;
	double		best = 1e30;
	int64_t		i;

	g.n = 2048;
	g.buf = malloc(sizeof(float) * 3 * (size_t) g.n * g.n * threads);
	for (i = 0; i < 3 * (int64_t) g.n * g.n * threads; i++)
		g.buf[i] = (float) (i % 7) * 0.1f;
	for (i = 0; i < 3; i++)
	{
		double		t = Now();

		RecParallelFor(threads, threads, 1, GemmChunk, &g, NULL);
		t = Now() - t;
		best = t < best ? t : best;
	}
	free(g.buf);
	return 2.0 * g.n * g.n * (double) g.n * threads / best;
}

/*
 * OpenBLAS's SPOTRF + SPOTRI on G + lambda I (built densely here) with `threads`
 * OpenBLAS threads: the monolithic route, for comparison.  Returns seconds.
 */
static double
Monolithic(const RecRatings *r, float lambda, int threads)
{
	int			n = r->n_items;
	float	   *a = calloc((size_t) n * n, sizeof(float));
	double		t;
	int			info = 0;
	int			u;

	for (u = 0; u < r->n_users; u++)
	{
		int64_t		e,
					f;

		for (e = r->user_ptr[u]; e < r->user_ptr[u + 1]; e++)
			for (f = e; f < r->user_ptr[u + 1]; f++)
				a[(int64_t) r->user_items[e] * n + r->user_items[f]] +=
					r->user_values[e] * r->user_values[f];
	}
	for (u = 0; u < n; u++)
		a[(int64_t) u * n + u] += lambda;
	openblas_set_num_threads(threads);
	t = Now();
	spotrf_("L", &n, a, &n, &info);
	if (info == 0)
		spotri_("L", &n, a, &n, &info);
	t = Now() - t;
	openblas_set_num_threads(1);
	free(a);
	return info == 0 ? t : -1.0;
}

/* The EASE benchmark */
static void
BenchEase(int n_items, int threads, int block, int n_users)
{
	RecRatings	r = Synthetic(n_users, n_items, 40, 7);
	RecEaseParams p = {200.0f, 100, threads, block};
	RecNeighbours nb;
	Watch		w;
	RecControl	ctl = {WatchPoll, WatchProgress, &w};
	double		rate1 = GemmRate(1);
	double		rate = GemmRate(threads);
	double		dense = 3.0 * n_items * (double) n_items * n_items / 3.0;
	double		mono1,
				monoT;
	int			rc;

	memset(&w, 0, sizeof(w));
	memset(&nb, 0, sizeof(nb));
	nb.capacity = RecEaseCapacity(n_items, p.neighbours);
	nb.ptr = calloc(n_items + 1, sizeof(int64_t));
	nb.idx = malloc(sizeof(int32_t) * nb.capacity);
	nb.weight = malloc(sizeof(float) * nb.capacity);
	w.last = Now();
	rc = RecEaseFit(&r, &p, &nb, &ctl);
	mono1 = Monolithic(&r, p.regularization, 1);
	monoT = threads > 1 ? Monolithic(&r, p.regularization, threads) : mono1;

	printf("EASE, %d items x %d users, %lld interactions, %d threads, block %d, "
		   "OPENBLAS_CORETYPE=%s, SGEMM %.1f GFLOP/s on 1 thread, %.1f on %d%s\n\n",
		   n_items, n_users, (long long) r.nnz, threads,
		   block ? block : REC_EASE_BLOCK_DEFAULT,
		   getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)",
		   rate1 / 1e9, rate / 1e9, threads, rc == RECSYS_OK ? "" : " (FIT FAILED)");
	printf("| part | seconds | GFLOP/s |\n|---|---|---|\n");
	printf("| 1 Gram (sparse) | %.2f | |\n", w.phase[1]);
	printf("| 2 Cholesky | %.2f | %.1f |\n", w.phase[2],
		   n_items * (double) n_items * n_items / 3.0 / w.phase[2] / 1e9);
	printf("| 3 W = L^-1 | %.2f | %.1f |\n", w.phase[3],
		   n_items * (double) n_items * n_items / 3.0 / w.phase[3] / 1e9);
	printf("| 4 P = W^T W | %.2f | %.1f |\n", w.phase[4],
		   n_items * (double) n_items * n_items / 3.0 / w.phase[4] / 1e9);
	printf("| 5 weights, top-100 | %.2f | |\n", w.phase[5]);
	printf("| **RecEaseFit total** | **%.2f** | %.1f |\n", nb.seconds, nb.flops / nb.seconds / 1e9);
	printf("| FLOP count / SGEMM rate on %d threads | %.2f | ratio %.2f |\n", threads,
		   nb.flops / rate, nb.seconds / (nb.flops / rate));
	printf("| OpenBLAS SPOTRF+SPOTRI, 1 thread | %.2f | %.1f |\n", mono1, dense / mono1 / 1e9);
	if (threads > 1)
		printf("| OpenBLAS SPOTRF+SPOTRI, %d threads | %.2f | %.1f |\n", threads, monoT,
			   dense / monoT / 1e9);
	printf("\nscratch %.0f MB (estimate %.0f MB), %d polls, longest gap between polls %.0f ms\n",
		   nb.scratch_bytes / 1048576.0, RecEaseScratchBytes(n_items, &p) / 1048576.0,
		   w.polls, w.max_gap * 1e3);
}

/* The kNN benchmark */
static void
BenchKnn(int n_users, int n_items, int per_user, int threads)
{
	RecRatings	r = Synthetic(n_users, n_items, per_user, 9);
	const char *sims[] = {"cosine", "pearson", "jaccard", "asymmetric_cosine"};
	int			kind,
				sim;

	printf("kNN, %d users x %d items, %lld interactions, k = 100, %d threads\n\n",
		   n_users, n_items, (long long) r.nnz, threads);
	printf("| kind | similarity | seconds | entries | scratch MB | longest poll gap ms |\n");
	printf("|---|---|---|---|---|---|\n");
	for (kind = 0; kind < 2; kind++)
		for (sim = 0; sim < 4; sim++)
		{
			RecKnnParams p = {kind, sim, 100, 0.0f, 1, 0.3f, false, threads, 0};
			int64_t		rows = kind == REC_KNN_ITEM ? n_items : n_users;
			RecNeighbours nb;
			Watch		w;
			RecControl	ctl = {WatchPoll, NULL, &w};
			int			rc;

			memset(&w, 0, sizeof(w));
			memset(&nb, 0, sizeof(nb));
			nb.capacity = RecKnnCapacity(&r, &p);
			nb.ptr = calloc(rows + 1, sizeof(int64_t));
			nb.idx = malloc(sizeof(int32_t) * (nb.capacity + 1));
			nb.weight = malloc(sizeof(float) * (nb.capacity + 1));
			w.last = Now();
			rc = RecKnnFit(&r, &p, &nb, &ctl);
			printf("| %s | %s | %.2f | %lld | %.1f | %.0f |%s\n",
				   kind == REC_KNN_ITEM ? "item" : "user", sims[sim], nb.seconds,
				   (long long) nb.ptr[rows], nb.scratch_bytes / 1048576.0, w.max_gap * 1e3,
				   rc == RECSYS_OK ? "" : " FAILED");
			free(nb.ptr);
			free(nb.idx);
			free(nb.weight);
		}
}

int
main(int argc, char **argv)
{
	RecPoolInit();
	if (argc >= 3 && strcmp(argv[1], "ease") == 0)
	{
		int			n = atoi(argv[2]);

		BenchEase(n, argc > 3 ? atoi(argv[3]) : 2, argc > 4 ? atoi(argv[4]) : 0,
				  argc > 5 ? atoi(argv[5]) : 4 * n);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "knn") == 0)
	{
		BenchKnn(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 2);
		return 0;
	}
	fprintf(stderr, "usage: %s ease N_ITEMS [THREADS [BLOCK [N_USERS]]]\n"
			"       %s knn N_USERS N_ITEMS PER_USER [THREADS]\n", argv[0], argv[0]);
	return 2;
}
