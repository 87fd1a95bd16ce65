/*
 * ann_test.c
 *		TAP checks of the inverted-file index's probe (src/ann.c): list radii
 *		against double-precision distances, q.c + |q| r as a true upper bound of
 *		every score in the list, a planted case where the mean score alone
 *		probes the wrong list and the probe's key (with its radius term) does
 *		not, recall on skewed norms with and without radii, every list probed
 *		giving the exact top n, and the same seed building the same bytes.
 *
 * Plain C, no PostgreSQL; built and run by make unit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann.h"
#include "blas.h"
#include "kernels.h"
#include "serving.h"
#include "solver.h"

static int	tests = 0;
static int	failed = 0;

/* One TAP line */
static void
ok(int cond, const char *what)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

/* A standard normal deviate from a 64-bit LCG (Box-Muller) */
static double
Gauss(uint64_t *s)
{
	double		u1,
				u2;

	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	u1 = ((double) (*s >> 11) + 1.0) / 9007199254740993.0;
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	u2 = (double) (*s >> 11) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

#define N_ITEMS		6000
#define K			16
#define TOPICS		40
#define LISTS		80
#define N_QUERIES	200
#define TOP			10

static float Y[N_ITEMS * K];
static float Q[N_QUERIES * K];

/*
 * Items around topic centres with norms falling as a power of a random rank
 * (as trained factors' do with popularity); queries mix two topics
 */
static void
MakeData(void)
{
	static float centre[TOPICS * K];
	uint64_t	s = 12345;

	for (int j = 0; j < TOPICS * K; j++)
		centre[j] = (float) Gauss(&s);
	for (int i = 0; i < N_ITEMS; i++)
	{
		int			t = (int) ((s >> 33) % TOPICS);
		double		scale = pow((double) ((i * 7919) % N_ITEMS) + 10.0, -0.4);

		Gauss(&s);
		for (int j = 0; j < K; j++)
			Y[i * K + j] = (float) (scale * (centre[t * K + j] + 0.7 * Gauss(&s)));
	}
	for (int q = 0; q < N_QUERIES; q++)
	{
		int			t1 = (int) ((s >> 33) % TOPICS);
		int			t2;

		Gauss(&s);
		t2 = (int) ((s >> 33) % TOPICS);
		for (int j = 0; j < K; j++)
			Q[q * K + j] = (float) (centre[t1 * K + j] + 0.5 * centre[t2 * K + j] +
									0.5 * Gauss(&s));
	}
}

/* Builds the index over Y into a fresh words array (the caller frees it) */
static int32_t *
Build(uint64_t seed)
{
	RecAnnBuild b;
	RecControl	ctl = {NULL, NULL, NULL};
	int			d = K + 1;
	int32_t    *words;

	memset(&b, 0, sizeof(b));
	b.Y = Y;
	b.n = N_ITEMS;
	b.k = K;
	b.dim = K;
	b.lists = LISTS;
	b.ns = N_ITEMS;
	b.seed = seed;
	b.threads = 2;
	b.vectors = true;
	b.sample = malloc(sizeof(int32_t) * N_ITEMS);
	b.S = malloc(sizeof(float) * N_ITEMS * d);
	b.C = malloc(sizeof(float) * LISTS * d);
	b.chalf = malloc(sizeof(float) * LISTS);
	b.sassign = malloc(sizeof(int32_t) * N_ITEMS);
	b.assign = malloc(sizeof(int32_t) * N_ITEMS);
	b.acc = malloc(sizeof(double) * LISTS * d);
	b.count = malloc(sizeof(int64_t) * LISTS);
	b.rows = malloc(sizeof(float *) * 2);
	b.dots = malloc(sizeof(float *) * 2);
	for (int t = 0; t < 2; t++)
	{
		b.rows[t] = malloc(sizeof(float) * RECSYS_ANN_BLOCK * d);
		b.dots[t] = malloc(sizeof(float) * RECSYS_ANN_BLOCK * LISTS);
	}
	RecAnnSampleInit(&b);
	for (int it = 0; it < 10; it++)
		if (RecAnnIterate(&b, &ctl) != RECSYS_OK)
			return NULL;
	if (RecAnnAssignAll(&b, &ctl) != RECSYS_OK)
		return NULL;
	words = calloc(RecAnnWords(LISTS, K, N_ITEMS, true), sizeof(int32_t));
	RecAnnWrite(&b, 4, 1.0f, words);
	free(b.sample);
	free(b.S);
	free(b.C);
	free(b.chalf);
	free(b.sassign);
	free(b.assign);
	free(b.acc);
	free(b.count);
	for (int t = 0; t < 2; t++)
	{
		free(b.rows[t]);
		free(b.dots[t]);
	}
	free(b.rows);
	free(b.dots);
	return words;
}

/* The exact top TOP item indexes of query q, best first (ties by index) */
static void
ExactTop(const float *x, int32_t *top)
{
	float		best[TOP];

	for (int t = 0; t < TOP; t++)
	{
		best[t] = -INFINITY;
		top[t] = -1;
	}
	for (int i = 0; i < N_ITEMS; i++)
	{
		float		s = KernDot(x, Y + (int64_t) i * K, K);
		int			t = TOP - 1;

		if (!(s > best[t]))
			continue;
		while (t > 0 && s > best[t - 1])
		{
			best[t] = best[t - 1];
			top[t] = top[t - 1];
			t--;
		}
		best[t] = s;
		top[t] = i;
	}
}

/* The index's top TOP of x with probes lists */
static void
IndexTop(const RecAnnIndex *ix, const float *x, int32_t probes, int64_t *items)
{
	static float cscore[LISTS];
	static int32_t corder[LISTS];
	float		scores[TOP];
	TopNHeap	h;
	RecBlocked	none = {NULL, 0, NULL, 0};

	TopNInit(&h, TOP, scores, items);
	RecAnnSelect(&h, ix, x, K, Y, NULL, 0.0f, probes, &none, cscore, corder);
	TopNSortDesc(&h);
}

/* Recall@TOP of the index over every query */
static double
Recall(const RecAnnIndex *ix, int32_t probes)
{
	int			hits = 0;

	for (int q = 0; q < N_QUERIES; q++)
	{
		int32_t		exact[TOP];
		int64_t		got[TOP];

		ExactTop(Q + q * K, exact);
		IndexTop(ix, Q + q * K, probes, got);
		for (int a = 0; a < TOP; a++)
			for (int b = 0; b < TOP; b++)
				hits += got[a] == exact[b];
	}
	return (double) hits / (N_QUERIES * TOP);
}

/* The planted case: a long row in the list of lower mean score */
static void
CheckPlanted(void)
{
	/* k = 2; list 0: two rows (0.6, 0); list 1: (4, 0), (-2, 0), (-2, 0) */
	static const float y[10] = {0.6f, 0, 0.6f, 0, 4, 0, -2, 0, -2, 0};
	static const float x[2] = {1, 0};
	int32_t		words[RECSYS_ANN_HEADER_WORDS + 2 * 2 + 3 + 2 * 5];
	int32_t    *p = words + RECSYS_ANN_HEADER_WORDS;
	RecAnnIndex ix;
	float		radius[2];
	float		cscore[2],
				score[1];
	int32_t		corder[2];
	int64_t		item[1];
	TopNHeap	h;
	RecBlocked	none = {NULL, 0, NULL, 0};
	static const float cent[4] = {0.6f, 0, 0, 0};

	memset(words, 0, sizeof(words));
	words[RECSYS_ANN_W_MAGIC] = (int32_t) RECSYS_ANN_MAGIC;
	words[RECSYS_ANN_W_LISTS] = 2;
	words[RECSYS_ANN_W_DIM] = 2;
	words[RECSYS_ANN_W_PROBES] = 1;
	words[RECSYS_ANN_W_N_ITEMS] = 5;
	memcpy(p, cent, sizeof(cent));
	p += 4;
	p[0] = 0, p[1] = 2, p[2] = 5;	/* list_ptr */
	p += 3;
	for (int i = 0; i < 5; i++)
		p[i] = i;				/* items */
	p += 5;
	p[0] = p[1] = 0;			/* assign */
	p[2] = p[3] = p[4] = 1;
	RecAnnView(words, &ix);
	RecAnnRadii(&ix, y, NULL, 2, radius);
	ok(radius[0] == 0.0f && radius[1] == 4.0f, "planted radii: 0 and 4");

	TopNInit(&h, 1, score, item);
	RecAnnSelect(&h, &ix, x, 2, y, NULL, 0.0f, 1, &none, cscore, corder);
	TopNSortDesc(&h);
	ok(item[0] == 0, "ranked by mean score, one probe misses the long row (the key without radii)");
	ix.radius = radius;
	TopNInit(&h, 1, score, item);
	RecAnnSelect(&h, &ix, x, 2, y, NULL, 0.0f, 1, &none, cscore, corder);
	TopNSortDesc(&h);
	/* keys 0.6 and 0 + w |q| 4 = 1 */
	ok(item[0] == 2 && score[0] == 4.0f, "ranked by mean score plus a quarter of |q| r, one probe finds it");
}

int
main(void)
{
	int32_t    *words,
			   *again;
	RecAnnIndex ix;
	static float radius[LISTS];
	double		worst_radius = 0.0,
				worst_bound = 0.0;
	bool		all_exact = true;
	double		with_r,
				without_r;

	CheckPlanted();
	MakeData();
	words = Build(42);
	again = Build(42);
	ok(words != NULL && again != NULL, "two builds ran");
	if (words == NULL || again == NULL)
		return 1;
	/* word 9 is the build time, given the same here */
	ok(memcmp(words, again, sizeof(int32_t) * RecAnnWords(LISTS, K, N_ITEMS, true)) == 0,
	   "the same seed builds the same bytes");
	RecAnnView(words, &ix);
	RecAnnRadii(&ix, Y, NULL, K, radius);

	/* radii against double distances from the stored means */
	for (int c = 0; c < LISTS; c++)
	{
		double		r = 0.0;

		for (int32_t p = ix.list_ptr[c]; p < ix.list_ptr[c + 1]; p++)
		{
			double		d2 = 0.0;

			for (int j = 0; j < K; j++)
			{
				double		e = (double) Y[(int64_t) ix.items[p] * K + j] -
					(double) ix.centroids[c * K + j];

				d2 += e * e;
			}
			r = fmax(r, sqrt(d2));
		}
		worst_radius = fmax(worst_radius, fabs(r - radius[c]) / fmax(r, 1e-6));
	}
	ok(worst_radius < 1e-5, "every radius is the largest distance from the list's mean");

	/* the key bounds every score of its list (up to float rounding) */
	for (int q = 0; q < N_QUERIES; q++)
	{
		const float *x = Q + q * K;
		double		qn = sqrt((double) KernNormSquared(x, K));

		for (int c = 0; c < LISTS; c++)
		{
			double		key = (double) KernDot(x, ix.centroids + c * K, K) + qn * radius[c];

			for (int32_t p = ix.list_ptr[c]; p < ix.list_ptr[c + 1]; p++)
			{
				double		s = KernDot(x, Y + (int64_t) ix.items[p] * K, K);

				worst_bound = fmax(worst_bound, (s - key) / (qn * ix.max_norm));
			}
		}
	}
	ok(worst_bound < 1e-5, "q.c + |q| r bounds every score of the list");

	/* every list probed: the exact top, with or without radii */
	ix.radius = radius;
	for (int q = 0; q < N_QUERIES && all_exact; q++)
	{
		int32_t		exact[TOP];
		int64_t		got[TOP];

		ExactTop(Q + q * K, exact);
		IndexTop(&ix, Q + q * K, LISTS, got);
		for (int t = 0; t < TOP; t++)
			all_exact &= got[t] == exact[t];
	}
	ok(all_exact, "probes = every list gives the exact top 10 of every query");

	/* recall at a few probes: the radius term does better on skewed norms */
	with_r = Recall(&ix, 8) + Recall(&ix, 16);
	ix.radius = NULL;
	without_r = Recall(&ix, 8) + Recall(&ix, 16);
	printf("# recall@10 at 8 and 16 of %d lists, summed: %.3f with the radius term, %.3f by the mean score\n",
		   LISTS, with_r, without_r);
	ok(with_r > without_r, "ranking lists with the radius term finds more of the top 10 than by mean score");
	free(words);
	free(again);
	printf("1..%d\n", tests);
	return failed > 0;
}
