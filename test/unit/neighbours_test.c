/*
 * neighbours_test.c
 *		TAP driver for the neighbourhood models' numeric core (knn.c, ease.c,
 *		neighbours.c): every similarity and every EASE weight against a
 *		double-precision brute force on small random data and edge cases, the
 *		options' effects, determinism across threads and chunks, cancellation,
 *		error codes; then timings (printed as TAP comments, never asserted).
 *
 * Built and run by `make unit`, against the plain-C sources and OpenBLAS, with
 * no PostgreSQL.  NEIGHBOURS_TEST_QUICK=1 skips the timings.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "neighbours.h"

static int	tests_run = 0;
static int	tests_failed = 0;

/* Prints one TAP result line */
static void
Ok(int pass, const char *fmt,...)
{
	va_list		ap;

	tests_run++;
	if (!pass)
		tests_failed++;
	printf("%s %d - ", pass ? "ok" : "not ok", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Seconds on a monotonic clock */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* splitmix64 */
static uint64_t
Rand64(uint64_t *s)
{
	uint64_t	z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) */
static double
RandUnit(uint64_t *s)
{
	return (double) (Rand64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * A test data set: the dense matrix (with a mask of stored entries) and the
 * RecRatings built from it.
 */
typedef struct Data
{
	int			n_users;
	int			n_items;
	double	   *x;				/* [n_users * n_items] values */
	char	   *m;				/* [n_users * n_items] 1 where stored */
	RecRatings	r;
	int64_t    *user_ptr;
	int32_t    *user_items;
	float	   *user_values;
	int64_t    *item_ptr;
	int32_t    *item_users;
	float	   *item_values;
} Data;

/* Builds the CSR and CSC of d from its dense matrix and mask */
static void
DataBuild(Data *d)
{
	int			NU = d->n_users,
				NI = d->n_items;
	int64_t		nnz = 0,
				e;
	int			u,
				i;

	for (u = 0; u < NU; u++)
		for (i = 0; i < NI; i++)
			nnz += d->m[(int64_t) u * NI + i];
	d->user_ptr = calloc(NU + 1, sizeof(int64_t));
	d->item_ptr = calloc(NI + 1, sizeof(int64_t));
	d->user_items = malloc(sizeof(int32_t) * (nnz + 1));
	d->user_values = malloc(sizeof(float) * (nnz + 1));
	d->item_users = malloc(sizeof(int32_t) * (nnz + 1));
	d->item_values = malloc(sizeof(float) * (nnz + 1));
	e = 0;
	for (u = 0; u < NU; u++)
	{
		for (i = 0; i < NI; i++)
			if (d->m[(int64_t) u * NI + i])
			{
				d->user_items[e] = i;
				d->user_values[e++] = (float) d->x[(int64_t) u * NI + i];
			}
		d->user_ptr[u + 1] = e;
	}
	e = 0;
	for (i = 0; i < NI; i++)
	{
		for (u = 0; u < NU; u++)
			if (d->m[(int64_t) u * NI + i])
			{
				d->item_users[e] = u;
				d->item_values[e++] = (float) d->x[(int64_t) u * NI + i];
			}
		d->item_ptr[i + 1] = e;
	}
	d->r.n_users = NU;
	d->r.n_items = NI;
	d->r.nnz = nnz;
	d->r.user_ptr = d->user_ptr;
	d->r.user_items = d->user_items;
	d->r.user_values = d->user_values;
	d->r.item_ptr = d->item_ptr;
	d->r.item_users = d->item_users;
	d->r.item_values = d->item_values;
}

/*
 * A random NU x NI set with the given density; values are integers 1..5 when
 * `ratings`, else uniform in (0.1, 2.1) floats (exact in float, so the brute
 * force sees the same values the solver does).
 */
static Data *
DataRandom(int NU, int NI, double density, bool ratings, uint64_t seed)
{
	Data	   *d = calloc(1, sizeof(Data));
	uint64_t	s = seed;
	int64_t		e;

	d->n_users = NU;
	d->n_items = NI;
	d->x = calloc((size_t) NU * NI + 1, sizeof(double));
	d->m = calloc((size_t) NU * NI + 1, 1);
	for (e = 0; e < (int64_t) NU * NI; e++)
		if (RandUnit(&s) < density)
		{
			d->m[e] = 1;
			d->x[e] = ratings ? (double) (1 + (int) (RandUnit(&s) * 5)) :
				(double) (float) (0.1 + 2.0 * RandUnit(&s));
		}
	DataBuild(d);
	return d;
}

/* Frees a data set */
static void
DataFree(Data *d)
{
	free(d->x);
	free(d->m);
	free(d->user_ptr);
	free(d->user_items);
	free(d->user_values);
	free(d->item_ptr);
	free(d->item_users);
	free(d->item_values);
	free(d);
}

/* An output buffer of the given capacity over n_rows rows */
static RecNeighbours
NbAlloc(int64_t n_rows, int64_t capacity)
{
	RecNeighbours nb;

	memset(&nb, 0, sizeof(nb));
	nb.ptr = calloc(n_rows + 1, sizeof(int64_t));
	nb.idx = malloc(sizeof(int32_t) * (capacity + 1));
	nb.weight = malloc(sizeof(float) * (capacity + 1));
	nb.capacity = capacity;
	return nb;
}

/* Frees an output buffer */
static void
NbFree(RecNeighbours *nb)
{
	free(nb->ptr);
	free(nb->idx);
	free(nb->weight);
}

/* True if two fits of n_rows rows are bit-identical */
static bool
NbEqual(const RecNeighbours *a, const RecNeighbours *b, int64_t n_rows)
{
	int64_t		n = a->ptr[n_rows];

	return memcmp(a->ptr, b->ptr, sizeof(int64_t) * (n_rows + 1)) == 0 &&
		memcmp(a->idx, b->idx, sizeof(int32_t) * n) == 0 &&
		memcmp(a->weight, b->weight, sizeof(float) * n) == 0;
}

/* Value and mask of row r, column c of the compared orientation */
static inline double
Val(const Data *d, int kind, int r, int c)
{
	return kind == REC_KNN_ITEM ? d->x[(int64_t) c * d->n_items + r] :
		d->x[(int64_t) r * d->n_items + c];
}

static inline int
Has(const Data *d, int kind, int r, int c)
{
	return kind == REC_KNN_ITEM ? d->m[(int64_t) c * d->n_items + r] :
		d->m[(int64_t) r * d->n_items + c];
}

/*
 * The similarity of row r to row c by the textbook formula in double, shrunk;
 * returns false if the pair gets no entry by the documented rules (before the
 * "> 0" rule, which the caller applies).
 */
static bool
BruteSim(const Data *d, const RecKnnParams *p, int r, int c, double *out)
{
	int			cols = p->kind == REC_KNN_ITEM ? d->n_users : d->n_items;
	int			n = 0,
				nr = 0,
				nc = 0;
	double		dot = 0,
				sr = 0,
				sc = 0,
				mr = 0,
				mc = 0,
				v;
	int			u;

	for (u = 0; u < cols; u++)
	{
		int			hr = Has(d, p->kind, r, u),
					hc = Has(d, p->kind, c, u);

		nr += hr;
		nc += hc;
		if (hr)
			sr += Val(d, p->kind, r, u) * Val(d, p->kind, r, u);
		if (hc)
			sc += Val(d, p->kind, c, u) * Val(d, p->kind, c, u);
		if (hr && hc)
		{
			n++;
			dot += Val(d, p->kind, r, u) * Val(d, p->kind, c, u);
			mr += Val(d, p->kind, r, u);
			mc += Val(d, p->kind, c, u);
		}
	}
	if (n == 0 || n < p->min_support)
		return false;
	switch (p->similarity)
	{
		case REC_SIM_COSINE:
			if (sr == 0 || sc == 0)
				return false;
			v = dot / (sqrt(sr) * sqrt(sc));
			break;
		case REC_SIM_ASYMMETRIC_COSINE:
			if (pow(sr, p->alpha) * pow(sc, 1.0 - p->alpha) == 0)
				return false;
			v = dot / (pow(sr, p->alpha) * pow(sc, 1.0 - p->alpha));
			break;
		case REC_SIM_JACCARD:
			v = (double) n / (double) (nr + nc - n);
			break;
		default:
			{
				double		sxy = 0,
							sxx = 0,
							syy = 0;

				mr /= n;
				mc /= n;
				for (u = 0; u < cols; u++)
					if (Has(d, p->kind, r, u) && Has(d, p->kind, c, u))
					{
						double		a = Val(d, p->kind, r, u) - mr;
						double		b = Val(d, p->kind, c, u) - mc;

						sxy += a * b;
						sxx += a * a;
						syy += b * b;
					}
				if (sxx <= 1e-12 || syy <= 1e-12)
					return false;
				v = sxy / sqrt(sxx * syy);
			}
			break;
	}
	v *= (double) n / ((double) n + p->shrinkage);
	*out = v;
	return true;
}

/*
 * Checks a kNN fit against the brute force: every weight (or, normalised, every
 * weight times the row's brute-force sum), the kept set (no better candidate
 * left out), the order, no self, no NaN, the count.  Returns the number of
 * violations and prints the first.
 */
static int
CheckKnn(const Data *d, const RecKnnParams *p, const RecNeighbours *nb)
{
	int			rows = p->kind == REC_KNN_ITEM ? d->n_items : d->n_users;
	double	   *sim = malloc(sizeof(double) * (rows + 1));
	char	   *ok = malloc(rows + 1);
	int			bad = 0;
	int			r;

	for (r = 0; r < rows; r++)
	{
		int64_t		b = nb->ptr[r],
					e = nb->ptr[r + 1],
					t;
		int			surely = 0,
					maybe = 0;
		double		kept_min = INFINITY,
					left_max = -INFINITY,
					sum = 0;
		int			c;

		for (c = 0; c < rows; c++)
		{
			ok[c] = c != r && BruteSim(d, p, r, c, &sim[c]);
			if (ok[c] && sim[c] > 1e-6)
				surely++;
			if (ok[c] && sim[c] > -1e-6)
				maybe++;
		}
		if (surely > p->neighbours)
			surely = p->neighbours;
		if (maybe > p->neighbours)
			maybe = p->neighbours;
		if (e - b < surely || e - b > maybe)
		{
			if (!bad++)
				printf("# row %d: %lld entries, expected %d..%d\n", r, (long long) (e - b),
					   surely, maybe);
			continue;
		}
		for (t = b; t < e; t++)
			if (nb->idx[t] >= 0 && nb->idx[t] < rows && ok[nb->idx[t]])
				sum += sim[nb->idx[t]];
		for (t = b; t < e; t++)
		{
			int32_t		c2 = nb->idx[t];
			float		w = nb->weight[t];
			double		want;

			if (c2 < 0 || c2 >= rows || c2 == r || !ok[c2] || !isfinite(w) || !(w > 0))
			{
				if (!bad++)
					printf("# row %d: bad entry idx %d weight %g\n", r, c2, w);
				continue;
			}
			want = p->normalize ? sim[c2] / sum : sim[c2];
			if (fabs(w - want) > 1e-4 * fmax(1.0, fabs(want)))
			{
				if (!bad++)
					printf("# row %d nbr %d: weight %.9g, brute force %.9g\n", r, c2, w, want);
			}
			if (t > b && (nb->weight[t - 1] < w ||
						  (nb->weight[t - 1] == w && nb->idx[t - 1] >= c2)))
			{
				if (!bad++)
					printf("# row %d: not sorted at %lld\n", r, (long long) (t - b));
			}
			if (sim[c2] < kept_min)
				kept_min = sim[c2];
			ok[c2] = 2;			/* kept */
		}
		for (c = 0; c < rows; c++)
			if (ok[c] == 1 && sim[c] > left_max)
				left_max = sim[c];
		if (e - b > 0 && left_max > kept_min + 1e-5 && left_max > 1e-6)
		{
			if (!bad++)
				printf("# row %d: left out %g but kept %g\n", r, left_max, kept_min);
		}
	}
	free(sim);
	free(ok);
	return bad;
}

/* Fits kNN on d with p; returns the status, fills *nb (caller frees) */
static int
FitKnn(const Data *d, const RecKnnParams *p, RecNeighbours *nb, const RecControl *ctl)
{
	int64_t		rows = p->kind == REC_KNN_ITEM ? d->n_items : d->n_users;

	*nb = NbAlloc(rows, RecKnnCapacity(&d->r, p));
	return RecKnnFit(&d->r, p, nb, ctl);
}

/* Default kNN options */
static RecKnnParams
KnnDefaults(int kind, int similarity)
{
	RecKnnParams p;

	memset(&p, 0, sizeof(p));
	p.kind = kind;
	p.similarity = similarity;
	p.neighbours = 100;
	p.min_support = 1;
	p.alpha = 0.5f;
	p.threads = 2;
	return p;
}

static const char *const sim_names[] = {"cosine", "pearson", "jaccard", "asymmetric_cosine"};
static const char *const kind_names[] = {"item", "user"};

/* Fits and checks one configuration; one TAP line */
static void
TestKnn(const char *what, const Data *d, const RecKnnParams *p)
{
	RecNeighbours nb;
	int			rc = FitKnn(d, p, &nb, NULL);
	int			bad = rc == RECSYS_OK ? CheckKnn(d, p, &nb) : -1;
	int64_t		rows = p->kind == REC_KNN_ITEM ? d->n_items : d->n_users;

	Ok(rc == RECSYS_OK && bad == 0 && nb.scratch_bytes == RecKnnScratchBytes(&d->r, p),
	   "knn %s %s %s (k %d, shrink %g, support %d%s): %lld entries match brute force",
	   what, kind_names[p->kind], sim_names[p->similarity], p->neighbours,
	   p->shrinkage, p->min_support, p->normalize ? ", normalised" : "",
	   (long long) nb.ptr[rows]);
	NbFree(&nb);
}

/* Interrupt callback: true from the `stop_at`-th call on, counting calls */
typedef struct Poll
{
	int			calls;
	int			stop_at;
} Poll;

static bool
PollInterrupted(void *arg)
{
	Poll	   *p = (Poll *) arg;

	return ++p->calls >= p->stop_at;
}

/* The kNN tests */
static void
KnnTests(void)
{
	Data	   *d = DataRandom(50, 30, 0.2, true, 1);
	Data	   *f = DataRandom(50, 30, 0.2, false, 2);
	int			kind,
				sim;

	/* every similarity on both kinds, integer ratings and float values */
	for (kind = 0; kind < 2; kind++)
		for (sim = 0; sim < 4; sim++)
		{
			RecKnnParams p = KnnDefaults(kind, sim);

			if (sim == REC_SIM_ASYMMETRIC_COSINE)
				p.alpha = 0.2f;
			TestKnn("ratings", d, &p);
			TestKnn("floats", f, &p);
		}

	/* options */
	{
		RecKnnParams p = KnnDefaults(REC_KNN_ITEM, REC_SIM_COSINE);

		p.neighbours = 3;
		TestKnn("top-3", d, &p);
		p.shrinkage = 10.0f;
		TestKnn("shrunk", d, &p);
		p.min_support = 3;
		TestKnn("min_support", d, &p);
		p.normalize = true;
		TestKnn("normalised", d, &p);
		p = KnnDefaults(REC_KNN_USER, REC_SIM_PEARSON);
		p.shrinkage = 5.0f;
		p.min_support = 2;
		p.neighbours = 5;
		TestKnn("pearson options", d, &p);
		p = KnnDefaults(REC_KNN_ITEM, REC_SIM_JACCARD);
		p.neighbours = 4;
		p.normalize = true;
		TestKnn("jaccard ties", d, &p);
	}

	/* asymmetric cosine with alpha 0.5 is cosine; alpha 0 and 1 stay finite */
	{
		RecKnnParams p = KnnDefaults(REC_KNN_ITEM, REC_SIM_ASYMMETRIC_COSINE);
		RecKnnParams q = KnnDefaults(REC_KNN_ITEM, REC_SIM_COSINE);
		RecNeighbours a,
					b;
		int64_t		t;
		double		diff = 0;
		bool		same_shape;

		FitKnn(f, &p, &a, NULL);
		FitKnn(f, &q, &b, NULL);
		same_shape = memcmp(a.ptr, b.ptr, sizeof(int64_t) * (f->n_items + 1)) == 0;
		for (t = 0; same_shape && t < a.ptr[f->n_items]; t++)
			diff = fmax(diff, fabs(a.weight[t] - b.weight[t]));
		Ok(same_shape && diff < 1e-6, "asymmetric cosine with alpha 0.5 equals cosine (max diff %g)", diff);
		NbFree(&a);
		NbFree(&b);
		p.alpha = 0.0f;
		TestKnn("alpha 0", f, &p);
		p.alpha = 1.0f;
		TestKnn("alpha 1", f, &p);
	}

	/* edge cases: one user, one item, empty rows, all-equal ratings */
	{
		Data	   *one_user = DataRandom(1, 30, 0.5, true, 3);
		Data	   *one_item = DataRandom(50, 1, 0.5, true, 4);
		Data	   *holes = DataRandom(50, 30, 0.2, true, 5);
		Data	   *flat = DataRandom(50, 30, 0.3, true, 6);
		Data	   *empty = DataRandom(0, 0, 0.0, true, 7);
		int64_t		e;
		int			u;

		/* users 10..19 and items 5..9 have no entries */
		for (u = 0; u < 50; u++)
		{
			int			i;

			for (i = 0; i < 30; i++)
				if ((u >= 10 && u < 20) || (i >= 5 && i < 10))
					holes->m[u * 30 + i] = 0;
		}
		free(holes->user_ptr);
		free(holes->user_items);
		free(holes->user_values);
		free(holes->item_ptr);
		free(holes->item_users);
		free(holes->item_values);
		DataBuild(holes);
		for (e = 0; e < 50 * 30; e++)
			flat->x[e] = 3.0;
		free(flat->user_ptr);
		free(flat->user_items);
		free(flat->user_values);
		free(flat->item_ptr);
		free(flat->item_users);
		free(flat->item_values);
		DataBuild(flat);

		for (kind = 0; kind < 2; kind++)
			for (sim = 0; sim < 4; sim++)
			{
				RecKnnParams p = KnnDefaults(kind, sim);

				TestKnn("one user", one_user, &p);
				TestKnn("one item", one_item, &p);
				TestKnn("empty rows", holes, &p);
				TestKnn("empty input", empty, &p);
			}
		{
			RecKnnParams p = KnnDefaults(REC_KNN_ITEM, REC_SIM_PEARSON);
			RecNeighbours nb;
			int			rc = FitKnn(flat, &p, &nb, NULL);

			Ok(rc == RECSYS_OK && nb.ptr[flat->n_items] == 0,
			   "pearson on all-equal ratings: undefined everywhere, no entries (%lld)",
			   (long long) nb.ptr[flat->n_items]);
			NbFree(&nb);
			p.kind = REC_KNN_USER;
			rc = FitKnn(flat, &p, &nb, NULL);
			Ok(rc == RECSYS_OK && nb.ptr[flat->n_users] == 0,
			   "user pearson on all-equal ratings: no entries");
			NbFree(&nb);
			p.similarity = REC_SIM_COSINE;
			TestKnn("all-equal", flat, &p);
		}
		DataFree(one_user);
		DataFree(one_item);
		DataFree(holes);
		DataFree(flat);
		DataFree(empty);
	}

	/* determinism: threads 1, 2, 4 and chunks 1, 3, automatic, bit for bit */
	for (kind = 0; kind < 2; kind++)
		for (sim = 0; sim < 4; sim++)
		{
			RecKnnParams p = KnnDefaults(kind, sim);
			RecNeighbours ref,
						nb;
			int64_t		rows = kind == REC_KNN_ITEM ? f->n_items : f->n_users;
			int			threads[] = {2, 4, 1, 4};
			int64_t		chunks[] = {1, 3, 0, 7};
			bool		same = true;
			int			v;

			p.neighbours = 5;
			p.threads = 1;
			FitKnn(f, &p, &ref, NULL);
			for (v = 0; v < 4; v++)
			{
				p.threads = threads[v];
				p.chunk = chunks[v];
				if (FitKnn(f, &p, &nb, NULL) != RECSYS_OK || !NbEqual(&ref, &nb, rows))
					same = false;
				NbFree(&nb);
			}
			Ok(same, "knn %s %s: identical for threads 1/2/4 and chunks 1/3/7/auto",
			   kind_names[kind], sim_names[sim]);
			NbFree(&ref);
		}

	/* errors and cancellation */
	{
		RecKnnParams p = KnnDefaults(REC_KNN_ITEM, REC_SIM_COSINE);
		RecNeighbours nb = NbAlloc(d->n_items, RecKnnCapacity(&d->r, &p));
		RecControl	ctl = {PollInterrupted, NULL, NULL};
		bool		all = true;
		int			stop;

		p.neighbours = 0;
		all &= RecKnnFit(&d->r, &p, &nb, NULL) == RECSYS_EINVAL;
		p.neighbours = 10;
		p.min_support = 0;
		all &= RecKnnFit(&d->r, &p, &nb, NULL) == RECSYS_EINVAL;
		p.min_support = 1;
		p.shrinkage = -1.0f;
		all &= RecKnnFit(&d->r, &p, &nb, NULL) == RECSYS_EINVAL;
		p.shrinkage = NAN;
		all &= RecKnnFit(&d->r, &p, &nb, NULL) == RECSYS_EINVAL;
		p.shrinkage = 0.0f;
		p.alpha = 1.5f;
		all &= RecKnnFit(&d->r, &p, &nb, NULL) == RECSYS_EINVAL;
		p.alpha = 0.5f;
		p.similarity = 9;
		all &= RecKnnFit(&d->r, &p, &nb, NULL) == RECSYS_EINVAL;
		p.similarity = REC_SIM_COSINE;
		nb.capacity = 10;
		all &= RecKnnFit(&d->r, &p, &nb, NULL) == RECSYS_EINVAL;
		Ok(all, "knn rejects out-of-range options and a short output with RECSYS_EINVAL");
		nb.capacity = RecKnnCapacity(&d->r, &p);

		for (stop = 1; stop <= 3; stop++)
		{
			Poll		poll = {0, stop};
			int			rc;

			ctl.arg = &poll;
			/* with threads the pool polls only on a timer: stop at the first poll */
			p.threads = stop == 1 ? 2 : 1;
			p.chunk = 1;
			rc = RecKnnFit(&d->r, &p, &nb, &ctl);
			Ok(rc == RECSYS_INTERRUPTED && poll.calls == stop && nb.ptr[d->n_items] == 0,
			   "knn stops at the poll that asks (stop at poll %d, %d thread%s): rc %d after %d polls",
			   stop, p.threads, p.threads > 1 ? "s" : "", rc, poll.calls);
		}
		NbFree(&nb);
	}
	DataFree(d);
	DataFree(f);
}

/*
 * The dense EASE weights by brute force in double: G = X^T X + lambda I,
 * P by Gauss-Jordan with partial pivoting, B[j,i] = -P[j,i] / P[i,i].  Also
 * returns G (with lambda) and diag(P).
 */
static void
BruteEase(const Data *d, double lambda, double *B, double *G, double *pd)
{
	int			n = d->n_items;
	double	   *a = malloc(sizeof(double) * n * 2 * n);
	int			i,
				j,
				u,
				c;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			double		s = i == j ? lambda : 0.0;

			for (u = 0; u < d->n_users; u++)
				if (d->m[u * n + i] && d->m[u * n + j])
					s += d->x[u * n + i] * d->x[u * n + j];
			G[i * n + j] = s;
		}
	/* [G | NI] -> [NI | P] */
	for (i = 0; i < n; i++)
		for (j = 0; j < 2 * n; j++)
			a[i * 2 * n + j] = j < n ? G[i * n + j] : (j - n == i ? 1.0 : 0.0);
	for (c = 0; c < n; c++)
	{
		int			piv = c;
		double		inv;

		for (i = c + 1; i < n; i++)
			if (fabs(a[i * 2 * n + c]) > fabs(a[piv * 2 * n + c]))
				piv = i;
		for (j = 0; j < 2 * n; j++)
		{
			double		t = a[c * 2 * n + j];

			a[c * 2 * n + j] = a[piv * 2 * n + j];
			a[piv * 2 * n + j] = t;
		}
		inv = 1.0 / a[c * 2 * n + c];
		for (j = 0; j < 2 * n; j++)
			a[c * 2 * n + j] *= inv;
		for (i = 0; i < n; i++)
			if (i != c && a[i * 2 * n + c] != 0.0)
			{
				double		f = a[i * 2 * n + c];

				for (j = 0; j < 2 * n; j++)
					a[i * 2 * n + j] -= f * a[c * 2 * n + j];
			}
	}
	for (i = 0; i < n; i++)
		pd[i] = a[i * 2 * n + n + i];
	for (j = 0; j < n; j++)
		for (i = 0; i < n; i++)
			B[j * n + i] = i == j ? 0.0 : -a[j * 2 * n + n + i] / pd[i];
	free(a);
}

/* Fits EASE on d; returns the status, fills *nb (caller frees) */
static int
FitEase(const Data *d, const RecEaseParams *p, RecNeighbours *nb, const RecControl *ctl)
{
	*nb = NbAlloc(d->n_items, RecEaseCapacity(d->n_items, p->neighbours));
	return RecEaseFit(&d->r, p, nb, ctl);
}

/* The dense B of a fit (absent entries are 0); NULL if a row lists itself */
static double *
EaseDense(const RecNeighbours *nb, int n)
{
	double	   *B = calloc((size_t) n * n + 1, sizeof(double));
	int			j;

	for (j = 0; j < n; j++)
	{
		int64_t		t;

		for (t = nb->ptr[j]; t < nb->ptr[j + 1]; t++)
		{
			if (nb->idx[t] == j || nb->idx[t] < 0 || nb->idx[t] >= n)
			{
				free(B);
				return NULL;
			}
			B[j * n + nb->idx[t]] = nb->weight[t];
		}
	}
	return B;
}

/* True if every row is sorted by weight desc, index asc, and finite */
static bool
EaseSorted(const RecNeighbours *nb, int n)
{
	int			j;

	for (j = 0; j < n; j++)
	{
		int64_t		t;

		for (t = nb->ptr[j]; t < nb->ptr[j + 1]; t++)
		{
			if (!isfinite(nb->weight[t]) || nb->weight[t] == 0.0f)
				return false;
			if (t > nb->ptr[j] && (nb->weight[t - 1] < nb->weight[t] ||
								   (nb->weight[t - 1] == nb->weight[t] &&
									nb->idx[t - 1] >= nb->idx[t])))
				return false;
		}
	}
	return true;
}

/* Compares an all-neighbours EASE fit on d with the brute force; TAP lines */
static void
TestEaseBrute(const char *what, const Data *d, float lambda, int block)
{
	int			n = d->n_items;
	RecEaseParams p = {lambda, 0, 2, block};
	RecNeighbours nb;
	double	   *Bb = malloc(sizeof(double) * n * n + 8);
	double	   *G = malloc(sizeof(double) * n * n + 8);
	double	   *pd = malloc(sizeof(double) * n + 8);
	double	   *Bs;
	double		scale = 0,
				err = 0,
				gnorm = 0,
				off = 0,
				dia = 0;
	int			rc = FitEase(d, &p, &nb, NULL);
	int			i,
				j,
				k;

	BruteEase(d, lambda, Bb, G, pd);
	Bs = rc == RECSYS_OK ? EaseDense(&nb, n) : NULL;
	if (Bs == NULL)
	{
		Ok(0, "ease %s: fit failed (rc %d) or a row lists itself", what, rc);
		goto done;
	}
	for (i = 0; i < n * n; i++)
	{
		scale = fmax(scale, fabs(Bb[i]));
		err = fmax(err, fabs(Bs[i] - Bb[i]));
		gnorm = fmax(gnorm, fabs(G[i]));
	}
	Ok(err <= 1e-4 * fmax(scale, 1e-3) && EaseSorted(&nb, n) &&
	   nb.scratch_bytes == RecEaseScratchBytes(n, &p),
	   "ease %s (%d items, block %d, lambda %g): B matches Gauss-Jordan in double "
	   "(max error %.2e of max |B| %.3g), rows sorted, no self", what, n, block,
	   lambda, err, scale);

	/* (G + lambda I) B - (G + lambda I) = -diag(1 / P_jj): zero off the diagonal */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			double		s = -G[i * n + j];

			for (k = 0; k < n; k++)
				s += G[i * n + k] * Bs[k * n + j];
			if (i != j)
				off = fmax(off, fabs(s));
			else
				dia = fmax(dia, fabs(s + 1.0 / pd[i]) * pd[i]);
		}
	Ok(off <= 1e-4 * gnorm * fmax(scale, 1.0) && dia <= 1e-3,
	   "ease %s: (G + lambda I) B - (G + lambda I) is -diag(1/P_jj) (off-diagonal %.2e, "
	   "diagonal rel. error %.2e)", what, off, dia);
done:
	free(Bs);
	free(Bb);
	free(G);
	free(pd);
	NbFree(&nb);
}

/* The EASE tests */
static void
EaseTests(void)
{
	Data	   *bin = DataRandom(80, 40, 0.2, true, 11);
	Data	   *val = DataRandom(60, 37, 0.25, false, 12);
	int64_t		e;

	for (e = 0; e < 80 * 40; e++)
		bin->x[e] = 1.0;
	free(bin->user_ptr);
	free(bin->user_items);
	free(bin->user_values);
	free(bin->item_ptr);
	free(bin->item_users);
	free(bin->item_values);
	DataBuild(bin);

	TestEaseBrute("binary", bin, 5.0f, 0);
	TestEaseBrute("binary", bin, 5.0f, 8);
	TestEaseBrute("binary", bin, 0.5f, 7);
	TestEaseBrute("values", val, 2.0f, 5);
	TestEaseBrute("values", val, 2.0f, 1);
	TestEaseBrute("values", val, 50.0f, 16);

	/* pruning keeps each row's largest |B| of the full fit, in weight order */
	{
		RecEaseParams full = {5.0f, 0, 2, 8};
		RecEaseParams top = {5.0f, 6, 2, 8};
		RecNeighbours a,
					b;
		int			n = bin->n_items;
		double	   *B;
		bool		good = true;
		int			j;

		FitEase(bin, &full, &a, NULL);
		FitEase(bin, &top, &b, NULL);
		B = EaseDense(&a, n);
		for (j = 0; j < n && B; j++)
		{
			double		kept_min = INFINITY;
			double		left_max = 0;
			int64_t		t;
			int			i;

			if (b.ptr[j + 1] - b.ptr[j] != 6)
				good = false;
			for (t = b.ptr[j]; t < b.ptr[j + 1]; t++)
			{
				if ((double) b.weight[t] != B[j * n + b.idx[t]])
					good = false;
				kept_min = fmin(kept_min, fabs(b.weight[t]));
			}
			for (i = 0; i < n; i++)
			{
				bool		kept = false;

				for (t = b.ptr[j]; t < b.ptr[j + 1]; t++)
					kept |= b.idx[t] == i;
				if (!kept && i != j)
					left_max = fmax(left_max, fabs(B[j * n + i]));
			}
			if (left_max > kept_min)
				good = false;
		}
		Ok(B && good && EaseSorted(&b, n) && b.ptr[n] == 6 * n,
		   "ease neighbours 6: each row keeps its 6 largest |B[j,i]|, sorted by weight");
		free(B);
		NbFree(&a);
		NbFree(&b);
	}

	/* determinism across thread counts (the block size fixes the arithmetic) */
	{
		RecEaseParams p = {3.0f, 0, 1, 8};
		RecNeighbours ref,
					nb;
		bool		same = true;
		int			threads[] = {2, 4, 3};
		int			v;

		FitEase(val, &p, &ref, NULL);
		for (v = 0; v < 3; v++)
		{
			p.threads = threads[v];
			if (FitEase(val, &p, &nb, NULL) != RECSYS_OK || !NbEqual(&ref, &nb, val->n_items))
				same = false;
			NbFree(&nb);
		}
		Ok(same, "ease: identical bit for bit for threads 1/2/3/4");
		NbFree(&ref);
	}

	/* edge cases and errors */
	{
		Data	   *one = DataRandom(20, 1, 0.5, true, 13);
		Data	   *empty = DataRandom(0, 0, 0.0, true, 14);
		Data	   *hole = DataRandom(30, 12, 0.3, true, 15);
		RecEaseParams p = {1.0f, 0, 2, 4};
		RecNeighbours nb;
		int			rc;
		int			u;

		rc = FitEase(one, &p, &nb, NULL);
		Ok(rc == RECSYS_OK && nb.ptr[1] == 0, "ease on one item: no neighbours");
		NbFree(&nb);
		rc = FitEase(empty, &p, &nb, NULL);
		Ok(rc == RECSYS_OK && nb.ptr[0] == 0, "ease on no items: empty");
		NbFree(&nb);

		/* item 3 has no users: lambda 0 makes G singular, lambda > 0 isolates it */
		for (u = 0; u < 30; u++)
			hole->m[u * 12 + 3] = 0;
		free(hole->user_ptr);
		free(hole->user_items);
		free(hole->user_values);
		free(hole->item_ptr);
		free(hole->item_users);
		free(hole->item_values);
		DataBuild(hole);
		p.regularization = 0.0f;
		rc = FitEase(hole, &p, &nb, NULL);
		Ok(rc == RECSYS_ENOTPD && nb.ptr[12] == 0,
		   "ease with lambda 0 and an item nobody has: RECSYS_ENOTPD (rc %d)", rc);
		NbFree(&nb);
		p.regularization = 1.0f;
		rc = FitEase(hole, &p, &nb, NULL);
		{
			bool		isolated = nb.ptr[4] == nb.ptr[3];
			int64_t		t;

			for (t = 0; t < nb.ptr[12]; t++)
				isolated &= nb.idx[t] != 3;
			Ok(rc == RECSYS_OK && isolated,
			   "ease: an item nobody has neither lists nor is listed");
		}
		NbFree(&nb);
		TestEaseBrute("with an empty item", hole, 1.0f, 4);

		p.regularization = -1.0f;
		nb = NbAlloc(12, RecEaseCapacity(12, 0));
		rc = RecEaseFit(&hole->r, &p, &nb, NULL);
		p.regularization = 1.0f;
		nb.capacity = 5;
		Ok(rc == RECSYS_EINVAL && RecEaseFit(&hole->r, &p, &nb, NULL) == RECSYS_EINVAL,
		   "ease rejects a negative lambda and a short output with RECSYS_EINVAL");
		NbFree(&nb);
		DataFree(one);
		DataFree(empty);
		DataFree(hole);
	}

	/* cancellation: the fit stops at the poll that asks, in every phase */
	{
		Data	   *big = DataRandom(300, 120, 0.1, true, 16);
		RecEaseParams p = {2.0f, 0, 1, 8};
		RecNeighbours nb = NbAlloc(120, RecEaseCapacity(120, 0));
		Poll		count = {0, 1 << 30};
		RecControl	ctl = {PollInterrupted, NULL, &count};
		bool		good = true;
		int			total;
		int			stop;
		int			tried = 0;

		good &= RecEaseFit(&big->r, &p, &nb, &ctl) == RECSYS_OK;
		total = count.calls;
		/*
		 * one thread polls before every task, so every poll of the full count is
		 * reached; two threads poll at least between steps (61 times for 15
		 * blocks) and otherwise on a timer, so only the first 40 are sure
		 */
		for (stop = 1; stop <= total; stop += 1 + total / 23)
		{
			Poll		poll = {0, stop};
			int			rc;

			ctl.arg = &poll;
			p.threads = stop % 2 == 0 && stop <= 40 ? 2 : 1;
			rc = RecEaseFit(&big->r, &p, &nb, &ctl);
			if (rc != RECSYS_INTERRUPTED || poll.calls != stop || nb.ptr[120] != 0)
			{
				if (good)
					printf("# stop at %d: rc %d after %d polls\n", stop, rc, poll.calls);
				good = false;
			}
			tried++;
		}
		Ok(good, "ease stops with RECSYS_INTERRUPTED at the poll that asks "
		   "(%d stop points over the %d polls of a full fit)", tried, total);
		NbFree(&nb);
		DataFree(big);
	}
	DataFree(bin);
	DataFree(val);
}

/*
 * A synthetic implicit set for timings: NU users, NI items, about `per_user`
 * items each drawn with a power-law popularity, value 1.
 */
static Data *
DataSynthetic(int NU, int NI, int per_user, uint64_t seed)
{
	Data	   *d = calloc(1, sizeof(Data));
	uint64_t	s = seed;
	char	   *mark = calloc(NI, 1);
	int32_t    *items = malloc(sizeof(int32_t) * NI);
	int64_t		cap = (int64_t) NU * per_user * 2 + 16;
	int64_t		e = 0;
	int			u;

	d->n_users = NU;
	d->n_items = NI;
	d->user_ptr = calloc(NU + 1, sizeof(int64_t));
	d->user_items = malloc(sizeof(int32_t) * cap);
	d->user_values = malloc(sizeof(float) * cap);
	for (u = 0; u < NU; u++)
	{
		int			m = 1 + (int) (RandUnit(&s) * 2 * per_user);
		int			c = 0,
					t;

		for (t = 0; t < m; t++)
		{
			/* popularity ~ 1 / (rank + 10) */
			int			i = (int) (pow(RandUnit(&s), 2.0) * NI);

			if (!mark[i])
			{
				mark[i] = 1;
				items[c++] = i;
			}
		}
		for (t = 0; t < NI && c > 0; t++)
			if (mark[t])
			{
				mark[t] = 0;
				d->user_items[e] = t;
				d->user_values[e++] = 1.0f;
				c--;
			}
		d->user_ptr[u + 1] = e;
	}
	d->r.nnz = e;
	/* the CSC by counting */
	d->item_ptr = calloc(NI + 1, sizeof(int64_t));
	d->item_users = malloc(sizeof(int32_t) * (e + 1));
	d->item_values = malloc(sizeof(float) * (e + 1));
	{
		int64_t    *next = calloc(NI + 1, sizeof(int64_t));
		int64_t		f;
		int			i;

		for (f = 0; f < e; f++)
			d->item_ptr[d->user_items[f] + 1]++;
		for (i = 0; i < NI; i++)
			d->item_ptr[i + 1] += d->item_ptr[i];
		memcpy(next, d->item_ptr, sizeof(int64_t) * NI);
		for (u = 0; u < NU; u++)
			for (f = d->user_ptr[u]; f < d->user_ptr[u + 1]; f++)
			{
				int64_t		at = next[d->user_items[f]]++;

				d->item_users[at] = u;
				d->item_values[at] = d->user_values[f];
			}
		free(next);
	}
	d->r.n_users = NU;
	d->r.n_items = NI;
	d->r.user_ptr = d->user_ptr;
	d->r.user_items = d->user_items;
	d->r.user_values = d->user_values;
	d->r.item_ptr = d->item_ptr;
	d->r.item_users = d->item_users;
	d->r.item_values = d->item_values;
	free(mark);
	free(items);
	return d;
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

/* Timings, printed as TAP comments */
static void
Timings(int threads)
{
	double		rate = GemmRate(threads);
	int			sizes[] = {2000, 5000};
	int			v;

	printf("# timings: %d threads, OPENBLAS_CORETYPE=%s, SGEMM %.1f GFLOP/s on those threads\n",
		   threads, getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)",
		   rate / 1e9);
	printf("# | fit | size | nnz | seconds | GFLOP | GFLOP/s | time / (flops at the SGEMM rate of %d threads) | scratch MB |\n",
		   threads);
	for (v = 0; v < 2; v++)
	{
		int			n = sizes[v];
		Data	   *d = DataSynthetic(4 * n, n, 40, 100 + v);
		RecEaseParams p = {200.0f, 100, threads, 0};
		RecNeighbours nb;
		int			rc = FitEase(d, &p, &nb, NULL);

		printf("# | ease k=100 | %d items x %d users | %lld | %.2f | %.1f | %.1f | %.2f | %.0f |%s\n",
			   n, d->n_users, (long long) d->r.nnz, nb.seconds, nb.flops / 1e9,
			   nb.flops / nb.seconds / 1e9, nb.seconds / (nb.flops / rate),
			   nb.scratch_bytes / 1048576.0, rc == RECSYS_OK ? "" : " FAILED");
		NbFree(&nb);
		DataFree(d);
	}
	{
		Data	   *d = DataSynthetic(20000, 5000, 50, 200);
		int			sims[] = {REC_SIM_COSINE, REC_SIM_PEARSON, REC_SIM_JACCARD};
		int			kind;

		for (kind = 0; kind < 2; kind++)
			for (v = 0; v < 3; v++)
			{
				RecKnnParams p = KnnDefaults(kind, sims[v]);
				RecNeighbours nb;
				int			rc;

				p.threads = threads;
				rc = FitKnn(d, &p, &nb, NULL);
				printf("# | knn %s %s k=100 | %d users x %d items | %lld | %.2f | | | | %.1f |%s\n",
					   kind_names[kind], sim_names[sims[v]], d->n_users, d->n_items,
					   (long long) d->r.nnz, nb.seconds, nb.scratch_bytes / 1048576.0,
					   rc == RECSYS_OK ? "" : " FAILED");
				NbFree(&nb);
			}
		DataFree(d);
	}
}

int
main(void)
{
	const char *quick = getenv("NEIGHBOURS_TEST_QUICK");

	/* as in a backend: OpenBLAS single-threaded, our threads do the splitting */
	RecPoolInit();
	KnnTests();
	EaseTests();
	printf("1..%d\n", tests_run);
	if (!(quick && *quick == '1'))
		Timings(2);
	return tests_failed == 0 ? 0 : 1;
}
