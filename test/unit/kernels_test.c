/*
 * kernels_test.c
 *		TAP checks of the dense kernels (src/kernels.c) and of the selection built on
 *		them (src/serving.c): every kernel set this CPU has (AVX-512, AVX2, portable)
 *		against double-precision brute force, the fused dot-and-select scan and
 *		recommend_all's blocked selection against a plain heap over all scores
 *		(same items, same order, ties by index), the short-vector sums that
 *		must round exactly as an in-order loop, the fused cosine (its double
 *		fallback, zero vectors), reads of vectors at odd addresses, and the rank
 *		update and Cholesky factorisation of the ALS normal matrix.
 *
 * Plain C, no PostgreSQL; built and run by make unit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blas.h"
#include "kernels.h"
#include "serving.h"
#include "solver.h"

static int	tests = 0;
static int	failed = 0;

/* One TAP line */
static void
ok(int cond, const char *what, const char *set)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s (%s)\n", cond ? "" : "not ", tests, what, set);
}

/* A deterministic pseudo-random float in [-0.5, 0.5) */
static float
Rand(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return (float) ((*state >> 8) & 0xFFFF) / 65536.0f - 0.5f;
}

/* Relative error of x against the reference r (absolute below 1) */
static double
Err(double x, double r)
{
	return fabs(x - r) / (fabs(r) > 1.0 ? fabs(r) : 1.0);
}

/* The distance kernels against double sums, every length 0 .. 300 and 16000 */
static void
CheckDistances(const char *set)
{
	static float a[16000],
				b[16000],
				y[16000];
	unsigned	st = 7;
	double		worst = 0.0;
	int			axpy_ok = 1;
	int			lens[302];

	for (int i = 0; i < 16000; i++)
	{
		a[i] = Rand(&st);
		b[i] = Rand(&st);
	}
	for (int n = 0; n <= 300; n++)
		lens[n] = n;
	lens[301] = 16000;
	for (int t = 0; t < 302; t++)
	{
		int			n = lens[t];
		double		d = 0,
					l = 0,
					na = 0,
					nb = 0;
		float		fd,
					fa,
					fb;

		for (int i = 0; i < n; i++)
		{
			d += (double) a[i] * b[i];
			l += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
			na += (double) a[i] * a[i];
			nb += (double) b[i] * b[i];
		}
		KernDotNorms(a, b, n, &fd, &fa, &fb);
		worst = fmax(worst, Err(KernDot(a, b, n), d));
		worst = fmax(worst, Err(KernL2Squared(a, b, n), l));
		worst = fmax(worst, Err(KernNormSquared(a, n), na));
		worst = fmax(worst, fmax(Err(fd, d), fmax(Err(fa, na), Err(fb, nb))));
		memcpy(y, b, sizeof(float) * n);
		KernAxpy(n, 0.75f, a, y);
		for (int i = 0; i < n; i++)
			axpy_ok &= fabsf(y[i] - (b[i] + 0.75f * a[i])) <= 1e-6f;
	}
	ok(worst < 1e-5, "dot, L2, norm and dot+norms agree with double sums for n = 0 .. 300, 16000", set);
	ok(axpy_ok, "axpy is y + alpha x element by element", set);
}

/* Below 16 elements the sums are the in-order loop's, bit for bit */
static void
CheckShortSums(const char *set)
{
	unsigned	st = 11;
	int			same = 1;
	int			fused = strcmp(set, "portable") != 0;

	for (int t = 0; t < 2000; t++)
	{
		float		a[15],
					b[15],
					d = 0.0f,
					na = 0.0f,
					l = 0.0f,
					fd,
					fa,
					fb;
		int			n = 1 + t % 15;

		for (int i = 0; i < n; i++)
		{
			a[i] = Rand(&st);
			b[i] = Rand(&st);
			d = fused ? fmaf(a[i], b[i], d) : d + a[i] * b[i];
			na = fused ? fmaf(a[i], a[i], na) : na + a[i] * a[i];
			l = fused ? fmaf(a[i] - b[i], a[i] - b[i], l) : l + (a[i] - b[i]) * (a[i] - b[i]);
		}
		KernDotNorms(a, b, n, &fd, &fa, &fb);
		same &= KernDot(a, b, n) == d && KernNormSquared(a, n) == na &&
			KernL2Squared(a, b, n) == l && fd == d && fa == na;
	}
	ok(same, "sums of fewer than 16 elements are the in-order loop's exactly", set);
}

/* The cosine similarity in double, NaN for a zero vector, clamped to [-1, 1] */
static double
RefCosine(const float *a, const float *b, int n)
{
	double		d = 0,
				x = 0,
				y = 0,
				sim;

	for (int i = 0; i < n; i++)
	{
		d += (double) a[i] * b[i];
		x += (double) a[i] * a[i];
		y += (double) b[i] * b[i];
	}
	if (x == 0.0 || y == 0.0)
		return NAN;
	sim = d / sqrt(x * y);
	return sim > 1.0 ? 1.0 : (sim < -1.0 ? -1.0 : sim);
}

/*
 * KernCosine against double sums, and equal to the cosine of its own three sums
 * (KernDotNorms) where those are normal floats: the fused kernel rounds as the
 * separate steps did.  Then the cases its float sums cannot hold: elements whose
 * squares overflow (1e30) or fall below the normal range (1e-25), zero vectors
 * (NaN), parallel vectors (exactly 1, never past it).
 */
static void
CheckCosine(const char *set)
{
	static float a[400],
				b[400];
	unsigned	st = 13;
	double		worst = 0.0;
	int			same = 1,
				edges = 1;

	for (int i = 0; i < 400; i++)
	{
		a[i] = Rand(&st);
		b[i] = Rand(&st);
	}
	for (int n = 1; n <= 400; n++)
	{
		float		fd,
					fa,
					fb;
		double		c = KernCosine(a, b, n);
		double		sep;

		KernDotNorms(a, b, n, &fd, &fa, &fb);
		sep = (double) fd / sqrt((double) fa * fb);
		sep = sep > 1.0 ? 1.0 : (sep < -1.0 ? -1.0 : sep);
		same &= c == sep;
		worst = fmax(worst, Err(c, RefCosine(a, b, n)));
	}
	ok(worst < 1e-5, "cosine similarity agrees with double sums for n = 1 .. 400", set);
	ok(same, "the fused cosine is the cosine of the three float sums, bit for bit", set);

	for (int n = 1; n <= 40; n++)
	{
		float		big[40],
					tiny[40],
					zero[40] = {0},
					other[40];
		double		r;

		for (int i = 0; i < n; i++)
		{
			big[i] = 1e30f * (i % 3 == 0 ? -1.0f : 1.0f) * (1.0f + 0.01f * i);
			tiny[i] = 1e-25f * (1.0f + 0.03f * i);
			other[i] = Rand(&st);
		}
		r = RefCosine(big, other, n);
		edges &= Err(KernCosine(big, other, n), r) < 1e-6 && !isnan(r);
		edges &= KernCosine(big, big, n) == 1.0;
		r = RefCosine(tiny, other, n);
		edges &= Err(KernCosine(tiny, other, n), r) < 1e-6 && !isnan(r);
		edges &= Err(KernCosine(tiny, big, n), RefCosine(tiny, big, n)) < 1e-6;
		edges &= isnan(KernCosine(zero, other, n)) && isnan(KernCosine(other, zero, n)) &&
			isnan(KernCosine(zero, zero, n));
		edges &= KernCosine(other, other, n) <= 1.0 && KernCosine(other, other, n) > 0.999999;
	}
	ok(edges, "cosine: overflowing and subnormal sums redone in double, NaN for zero vectors, parallel is 1", set);
}

/*
 * The distance kernels read the elements of a stored vec with a 1-byte header
 * in place, at an odd address.  For n = 1 .. 33 and every misalignment, the
 * vector is copied to that offset with NaN bit patterns just before and after
 * it, the last element against a page that cannot be read: a kernel that read
 * one byte too early, too late or past the end gives a different answer, a NaN
 * or a crash, instead of the aligned answer exactly.
 */
static void
CheckUnaligned(const char *set)
{
	static float a[40],
				b[40];
	long		page = sysconf(_SC_PAGESIZE);
	char	   *mem = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned	st = 17;
	int			same = 1;
	const float nan = NAN;

	if (mem == MAP_FAILED || mprotect(mem + 2 * page, page, PROT_NONE) != 0)
	{
		ok(0, "unaligned reads: no guard page could be set up", set);
		return;
	}
	for (int i = 0; i < 40; i++)
	{
		a[i] = Rand(&st);
		b[i] = Rand(&st);
	}
	for (int n = 1; n <= 33; n++)
		for (int off = 0; off < 4; off++)
		{
			/* ua ends right at the guard page; ub sits in the page before it */
			char	   *pa = mem + 2 * page - 4 * n - (off ? 4 - off : 0);
			char	   *pb = mem + page + 64 + off;
			const KernUFloat *ua = (const KernUFloat *) pa;
			const KernUFloat *ub = (const KernUFloat *) pb;
			float		fd,
						fa,
						fb,
						gd,
						ga,
						gb;

			memset(mem, 0xFF, 2 * page);	/* NaN bit patterns all around */
			memcpy(pa - 4, &nan, 4);
			memcpy(pa, a, 4 * n);
			memcpy(pb - 4, &nan, 4);
			memcpy(pb, b, 4 * n);
			memcpy(pb + 4 * n, &nan, 4);
			KernDotNorms(ua, ub, n, &fd, &fa, &fb);
			KernDotNorms(a, b, n, &gd, &ga, &gb);
			same &= KernDot(ua, ub, n) == KernDot(a, b, n);
			same &= KernL2Squared(ua, ub, n) == KernL2Squared(a, b, n);
			same &= KernNormSquared(ua, n) == KernNormSquared(a, n);
			same &= KernNormSquared(ub, n) == KernNormSquared(b, n);
			same &= fd == gd && fa == ga && fb == gb;
			same &= KernCosine(ua, ub, n) == KernCosine(a, b, n);
			same &= KernCosine(ub, ua, n) == KernCosine(b, a, n);
			same &= !isnan(KernCosine(ua, ub, n));
		}
	munmap(mem, 4 * page);
	ok(same, "every distance kernel reads n = 1 .. 33 elements at any byte offset exactly as aligned ones", set);
}

/* Row dot products, block maxima and block thresholds */
static void
CheckBlocks(const char *set)
{
	static float Y[130 * 80],
				x[80],
				out[130],
				s[4 * KERN_BLOCK],
				bias[4 * KERN_BLOCK],
				mx[4];
	unsigned	st = 5;
	double		worst = 0.0;
	int			max_ok = 1,
				above_ok = 1;

	for (int i = 0; i < 130 * 80; i++)
		Y[i] = Rand(&st);
	for (int i = 0; i < 80; i++)
		x[i] = Rand(&st);
	for (int k = 1; k <= 80; k++)
		for (int rows = 1; rows <= 130; rows += 43)
		{
			KernRowDots(Y, rows, k, x, out);
			for (int r = 0; r < rows; r++)
			{
				double		d = 0.0;

				for (int c = 0; c < k; c++)
					d += (double) Y[r * k + c] * x[c];
				worst = fmax(worst, Err(out[r], d));
			}
		}
	ok(worst < 1e-5, "row dot products agree with double sums for k = 1 .. 80", set);

	for (int i = 0; i < 4 * KERN_BLOCK; i++)
	{
		s[i] = Rand(&st);
		bias[i] = Rand(&st);
	}
	s[KERN_BLOCK + 17] = NAN;
	KernBlockMax(s, 4, mx);
	for (int c = 0; c < 4; c++)
	{
		float		m = -INFINITY;

		for (int j = 0; j < KERN_BLOCK; j++)
			m = fmaxf(m, s[c * KERN_BLOCK + j]);
		max_ok &= c == 1 ? isnan(mx[c]) : mx[c] == m;
	}
	ok(max_ok, "block maxima, NaN for a block holding a NaN", set);
	for (int c = 0; c < 4; c++)
		for (int with_bias = 0; with_bias < 2; with_bias++)
		{
			const float *bb = with_bias ? bias + c * KERN_BLOCK : NULL;
			float		floor = 0.1f * (float) c - 0.1f;
			uint64_t	bits = KernBlockAbove(s + c * KERN_BLOCK, bb, 0.25f, floor);

			for (int j = 0; j < KERN_BLOCK; j++)
			{
				float		v = s[c * KERN_BLOCK + j] + (bb ? 0.25f + bb[j] : 0.25f);

				above_ok &= ((bits >> j) & 1) == (uint64_t) (v >= floor);
			}
		}
	ok(above_ok, "block thresholds mark exactly the scores that reach the floor", set);
}

/* skip callback of the fused scan: every third row */
static bool
SkipThird(const void *arg, int32_t i)
{
	(void) arg;
	return i % 3 == 0;
}

/* The reference: every score through a plain heap, in index order */
static int
BruteTopN(const float *Y, int n, int k, const float *x, const float *bias, float base,
		  bool skip, int cap, float *score, int64_t *id)
{
	TopNHeap	h;

	TopNInit(&h, cap, score, id);
	for (int i = 0; i < n; i++)
	{
		float		d = KernDot(Y + (size_t) i * k, x, k);
		float		v = bias ? d + (base + bias[i]) : d + base;

		if (!(skip && i % 3 == 0))
			TopNPush(&h, v, i);
	}
	return TopNSortDesc(&h);
}

/*
 * The fused scan against the reference, with duplicate rows (exact ties, which
 * go by index), biases or none, a skip callback, and a row of infinities
 */
static void
CheckFusedScan(const char *set)
{
	int			n = 1000;
	int			ks[] = {4, 16, 20, 64, 100};
	unsigned	st = 3;
	int			same = 1,
				finite_ok = 1;

	for (int t = 0; t < 5; t++)
	{
		int			k = ks[t];
		float	   *Y = malloc(sizeof(float) * n * k);
		float	   *bias = malloc(sizeof(float) * n);
		float	   *x = malloc(sizeof(float) * k);

		for (int i = 0; i < n * k; i++)
			Y[i] = Rand(&st);
		for (int i = 0; i < n; i++)
			bias[i] = Rand(&st);
		for (int i = 0; i < k; i++)
			x[i] = Rand(&st);
		/* copies of rows: their scores tie exactly */
		for (int i = 500; i < 520; i++)
		{
			memcpy(Y + (size_t) i * k, Y + (size_t) (i - 500) * k, sizeof(float) * k);
			bias[i] = bias[i - 500];
		}
		for (int variant = 0; variant < 4; variant++)
		{
			bool		use_bias = variant & 1;
			bool		skip = variant & 2;
			float		rs[50],
						fs[50];
			int64_t		ri[50],
						fi[50];
			TopNHeap	h;
			int			kept,
						rkept;

			for (int cap = 1; cap <= 50; cap += 49)
			{
				rkept = BruteTopN(Y, n, k, x, use_bias ? bias : NULL, 0.5f, skip, cap, rs, ri);
				TopNInit(&h, cap, fs, fi);
				finite_ok &= KernDotTopN(&h, Y, n, k, x, use_bias ? bias : NULL, 0.5f,
										 skip ? SkipThird : NULL, NULL);
				kept = TopNSortDesc(&h);
				same &= kept == rkept;
				for (int j = 0; j < kept && j < rkept; j++)
					same &= fi[j] == ri[j] && fabsf(fs[j] - rs[j]) <= 1e-5f;
			}
		}
		/* a row that overflows: reported */
		{
			float		fs[5];
			int64_t		fi[5];
			TopNHeap	h;

			for (int c = 0; c < k; c++)
				Y[(size_t) 700 * k + c] = x[c] > 0 ? 3e38f : -3e38f;
			Y[(size_t) 700 * k] = INFINITY;
			TopNInit(&h, 5, fs, fi);
			finite_ok &= !KernDotTopN(&h, Y, n, k, x, NULL, 0.0f, NULL, NULL);
		}
		free(Y);
		free(bias);
		free(x);
	}
	ok(same, "fused dot-and-select equals a heap over every score (ties by index, skips, biases)", set);
	ok(finite_ok, "fused dot-and-select reports a score that is not finite", set);
}

/*
 * recommend_all's numeric core (RecBatchChunk) against the fused single-user
 * scan, on a model built to make tile skipping matter: item norms fall with
 * the index, most users have huge norms (so the row order puts a tail item
 * with a tiny vector and a huge bias last) and the others have that item first,
 * forty copies of one item that come next for those (ties that overflow the
 * pool, so the full scan takes over), unknown users and
 * seen items.  Passes: tiles in row order with and without block bounds
 * (scores within rounding of the scan's: another summation order, so near ties
 * may swap) and tiles in bound order with and without block bounds (identical
 * to the scan, bit for bit, ties by index, while user x tile products are
 * skipped).
 */
static void
CheckBatch(const char *set)
{
	int			n_users = 300,
				n_items = 1000,
				k = 20,
				n = 10,
				threads = 2,
				tail = 990,
				twin = 99;
	float	   *X = malloc(sizeof(float) * n_users * k);
	float	   *Y = malloc(sizeof(float) * n_items * k);
	float	   *ub = malloc(sizeof(float) * n_users);
	float	   *ib = malloc(sizeof(float) * n_items);
	int32_t    *users = malloc(sizeof(int32_t) * n_users);
	int64_t    *seen_ptr = malloc(sizeof(int64_t) * (n_users + 1));
	int32_t    *seen = malloc(sizeof(int32_t) * n_users * 2);
	int32_t		popular[1000];
	int32_t		count[1000];
	unsigned	st = 9;
	RecBatch	bt;
	int			same[4] = {1, 1, 1, 1};
	int			tail_first = 1;
	int64_t		pairs[2] = {0, 0};
	int64_t		all_pairs = 0;
	size_t		bytes;

	for (int i = 0; i < n_users * k; i++)
		X[i] = Rand(&st);
	for (int i = 0; i < n_items; i++)
		for (int d = 0; d < k; d++)
			Y[i * k + d] = Rand(&st) / (1.0f + i / 50.0f);
	for (int i = 0; i < n_users; i++)
	{
		ub[i] = Rand(&st);
		users[i] = i % 7 == 3 ? -1 : i;
		/* user i has seen items i % 50 and 500 + i % 50 */
		seen_ptr[i] = 2 * i;
		seen[2 * i] = i % 50;
		seen[2 * i + 1] = 500 + i % 50;
	}
	seen_ptr[n_users] = 2 * n_users;
	/* most users huge, so the tail item sorts last; users r % 10 == 1 are not */
	for (int r = 0; r < n_users; r++)
		for (int d = 0; d < k; d++)
			X[r * k + d] *= r % 10 == 1 ? 1.0f : 1000.0f;
	for (int d = 0; d < k; d++)
		Y[tail * k + d] *= 1e-3f;
	for (int i = 0; i < n_items; i++)
	{
		ib[i] = Rand(&st);
		popular[i] = i;
		count[i] = n_items - i;
	}
	ib[tail] = 50.0f;
	ib[twin] = 40.0f;			/* the small users' next nine: a tie wider than the pool */
	for (int i = twin + 1; i < twin + 41; i++)
	{
		memcpy(Y + i * k, Y + twin * k, sizeof(float) * k);
		ib[i] = ib[twin];
	}
	RecBlasReserve(threads, &bytes);
	for (int pass = 0; pass < 4; pass++)
	{
		bool		sorted = pass >= 2;

		memset(&bt, 0, sizeof(bt));
		bt.k = k;
		bt.n_items = n_items;
		bt.X = X;
		bt.Y = Y;
		bt.user_bias = ub;
		bt.item_bias = ib;
		bt.mu = 3.0f;
		bt.seen_ptr = seen_ptr;
		bt.seen_items = seen;
		bt.popular = popular;
		bt.item_count = count;
		bt.users = users;
		bt.n = n;
		bt.out_score = malloc(sizeof(float) * n_users * n);
		bt.out_item = malloc(sizeof(int64_t) * n_users * n);
		bt.out_count = malloc(sizeof(int) * n_users);
		bt.block = 64;
		bt.tile = 100;			/* not a multiple of the block: tails in every tile */
		bt.xb = malloc(sizeof(float *) * threads);
		bt.cb = malloc(sizeof(float *) * threads);
		bt.heaps = malloc(sizeof(TopNHeap *) * threads);
		bt.bm = pass % 2 == 0 ? malloc(sizeof(float *) * threads) : NULL;
		for (int t = 0; t < threads; t++)
		{
			bt.xb[t] = malloc(sizeof(float) * bt.block * k);
			bt.cb[t] = malloc(sizeof(float) * bt.block * bt.tile);
			bt.heaps[t] = malloc(sizeof(TopNHeap) * bt.block);
			if (bt.bm)
				bt.bm[t] = malloc(sizeof(float) * RECSYS_BATCH_BOUNDS(bt.tile));
		}
		if (sorted)
		{
			RecBatchSort(&bt, malloc(RecBatchSortBytes(n_items, k, bt.tile)), users, n_users);
			bt.pcap = RecBatchPoolCap(n);
			bt.scratch = malloc(sizeof(void *) * threads);
			for (int t = 0; t < threads; t++)
				bt.scratch[t] = malloc(RecBatchScratchBytes(bt.block, k, bt.pcap));
			pairs[0] = pairs[1] = 0;
			bt.pairs = pairs;
		}
		if (RecParallelFor(threads, n_users, bt.block, RecBatchChunk, &bt, NULL) != 0)
			same[pass] = 0;
		for (int r = 0; r < n_users; r++)
		{
			float		fs[10];
			int64_t		fi[10];
			TopNHeap	h;
			int			kept;

			TopNInit(&h, n, fs, fi);
			if (users[r] < 0)
				RecSelectPopular(&h, popular, count, n_items, NULL);
			else
			{
				RecBlocked	b = {seen + seen_ptr[r], 2, NULL, 0};

				RecSelectFactors(&h, Y, k, X + (size_t) r * k, ib, 3.0f + ub[r], n_items, &b);
				all_pairs += sorted ? (n_items + bt.tile - 1) / bt.tile : 0;
			}
			kept = TopNSortDesc(&h);
			same[pass] &= bt.out_count[r] == kept;
			for (int j = 0; j < kept; j++)
				same[pass] &= sorted ?
					bt.out_item[r * n + j] == fi[j] && bt.out_score[r * n + j] == fs[j] :
					fabsf(bt.out_score[r * n + j] - fs[j]) <= 1e-5f * (1.0f + fabsf(fs[j]));
			/* huge users rank by direction: the tail item is not their first */
			if (users[r] >= 0)
				tail_first &= (bt.out_item[r * n] == tail) == (r % 10 == 1);
		}
		if (sorted)
		{
			all_pairs -= pairs[0] + pairs[1];
			printf("# %s pass %d: %lld user x tile products of %lld\n", set, pass,
				   (long long) (pairs[0] + pairs[1]),
				   (long long) (pairs[0] + pairs[1] + all_pairs / (pass - 1)));
		}
	}
	ok(same[0] && same[1], "recommend_all with tiles in row order: scores within rounding of the scan's (ties may swap)",
	   set);
	ok(same[2] && same[3], "recommend_all with tiles in bound order equals the scan bit for bit (tail item, huge users, ties)",
	   set);
	ok(tail_first, "a tail item (tiny vector, huge bias, sorted last) is the first of every small user only",
	   set);
	ok(all_pairs > 0, "tiles in bound order skip user x tile products", set);
}

/*
 * Dot products with scattered rows (the training objective's): each equal bit
 * for bit to the row dot product of the same row at the same position of a
 * gathered copy, close to the double sum, and never reading past the last row
 * (Y ends at a page no one may read)
 */
static void
CheckGatherDots(const char *set)
{
	enum
	{
		NROWS = 300, MAXK = 80, MAXN = 131
	};
	static float G[MAXN * MAXK],
				x[MAXK],
				out[MAXN],
				ref[MAXN];
	static int32_t idx[MAXN];
	long		page = sysconf(_SC_PAGESIZE);
	size_t		bytes = sizeof(float) * NROWS * MAXK;
	size_t		span = (bytes + page - 1) / page * page;
	char	   *map = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned	st = 11;
	int			same = 1;
	double		worst = 0.0;

	if (map == MAP_FAILED || mprotect(map + span, page, PROT_NONE) != 0)
	{
		ok(0, "scattered row dot products: no guard page", set);
		return;
	}
	for (int i = 0; i < MAXK; i++)
		x[i] = Rand(&st);
	for (int k = 1; k <= MAXK; k++)
	{
		/* the k-column matrix ends exactly at the guard page */
		float	   *Y = (float *) (map + span) - (size_t) NROWS * k;

		for (int i = 0; i < NROWS * k; i++)
			Y[i] = Rand(&st);
		for (int n = 1; n <= MAXN; n += (n < 9 ? 1 : 41))
		{
			for (int j = 0; j < n; j++)
			{
				st = st * 1103515245u + 12345u;
				/* the last row often, repeats allowed */
				idx[j] = (j % 3 == 0) ? NROWS - 1 : (int32_t) ((st >> 8) % NROWS);
				memcpy(G + (size_t) j * k, Y + (size_t) idx[j] * k, sizeof(float) * k);
			}
			KernGatherDots(Y, idx, n, k, x, out);
			KernRowDots(G, n, k, x, ref);
			if (memcmp(out, ref, sizeof(float) * n) != 0)
				same = 0;
			for (int j = 0; j < n; j++)
			{
				double		d = 0.0;

				for (int c = 0; c < k; c++)
					d += (double) Y[(size_t) idx[j] * k + c] * x[c];
				worst = fmax(worst, Err(out[j], d));
			}
		}
	}
	munmap(map, span + page);
	ok(same, "scattered row dot products equal the gathered rows' bit for bit, k = 1 .. 80", set);
	ok(worst < 1e-5, "scattered row dot products agree with double sums", set);
}

/*
 * KernUniform: the values the plain splitmix64 loop gives, bit for bit, for
 * lengths around the vector width and a few states (the initial factors of a
 * model must not depend on the CPU)
 */
static void
CheckUniform(const char *set)
{
	static const int lengths[] = {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200};
	static const uint64_t states[] = {0, 1, UINT64_C(0x9E3779B97F4A7C15),
	UINT64_C(0xFFFFFFFFFFFFFFFF), UINT64_C(0x123456789ABCDEF0)};
	float		got[201],
				want[201];
	int			bad = 0;

	for (int a = 0; a < (int) (sizeof(states) / sizeof(states[0])); a++)
		for (int b = 0; b < (int) (sizeof(lengths) / sizeof(lengths[0])); b++)
		{
			int			n = lengths[b];
			uint64_t	state = states[a];
			double		scale = 0.2 / sqrt((double) (n > 0 ? n : 1));

			for (int j = 0; j < n; j++)
			{
				uint64_t	z = (state += UINT64_C(0x9E3779B97F4A7C15));
				double		u;

				z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
				z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
				z ^= z >> 31;
				u = (double) (z >> 40) * (1.0 / 16777216.0);
				want[j] = (float) ((u - 0.5) * scale);
			}
			got[n] = 12345.0f;
			KernUniform(states[a], n, scale, got);
			bad += memcmp(got, want, sizeof(float) * n) != 0 || got[n] != 12345.0f;
		}
	ok(bad == 0, "uniform draws equal the plain splitmix64 loop's bit for bit, nothing past n written", set);
}

/*
 * KernSyrkLower: where the set has its own rank update, A's lower triangle
 * equals fmaf summed over B's columns in order, bit for bit, after a first call
 * and after a second one that adds to it; nothing outside A's k x k block is
 * written (A's padding rows and columns past k keep their sentinel).  Where the
 * set has none it says so and writes nothing.
 */
static void
CheckSyrk(const char *set)
{
	const int	ks[] = {1, 3, 8, 15, 16, 17, 33, 64, 65, 100};
	const int	ms[] = {1, 7, 145, 512};
	unsigned	state = 77;
	int			exact_bad = 0,
				outside_bad = 0,
				declined = 0,
				done = 0;

	for (int a = 0; a < (int) (sizeof(ks) / sizeof(ks[0])); a++)
		for (int b = 0; b < (int) (sizeof(ms) / sizeof(ms[0])); b++)
		{
			int			k = ks[a],
						m = ms[b],
						lda = k + 3;
			float	   *B1 = malloc(sizeof(float) * (size_t) k * m);
			float	   *B2 = malloc(sizeof(float) * (size_t) k * m);
			float	   *A = malloc(sizeof(float) * (size_t) lda * (k + 2));
			float	   *R = malloc(sizeof(float) * (size_t) lda * (k + 2));

			for (int i = 0; i < k * m; i++)
			{
				B1[i] = Rand(&state);
				B2[i] = Rand(&state);
			}
			for (int i = 0; i < lda * (k + 2); i++)
				A[i] = R[i] = 1000.0f + (float) i;
			if (!KernSyrkLower(B1, k, m, A, lda, true))
			{
				declined++;
				for (int i = 0; i < lda * (k + 2); i++)
					outside_bad += A[i] != R[i];
				goto next;
			}
			(void) KernSyrkLower(B2, k, m, A, lda, false);
			done++;
			for (int c = 0; c < k; c++)
				for (int r = c; r < k; r++)
				{
					float		acc = 0.0f;

					for (int j = 0; j < m; j++)
						acc = fmaf(B1[(size_t) j * k + r], B1[(size_t) j * k + c], acc);
					for (int j = 0; j < m; j++)
						acc = fmaf(B2[(size_t) j * k + r], B2[(size_t) j * k + c], acc);
					R[(size_t) c * lda + r] = acc;
				}
			for (int c = 0; c < k + 2; c++)
				for (int r = 0; r < lda; r++)
				{
					size_t		at = (size_t) c * lda + r;

					if (c < k && r < k && r >= c)
						exact_bad += memcmp(&A[at], &R[at], sizeof(float)) != 0;
					else if (c >= k || r >= k)
						outside_bad += A[at] != R[at];
				}
next:
			free(B1);
			free(B2);
			free(A);
			free(R);
		}
	if (done == 0)
		ok(declined > 0 && outside_bad == 0,
		   "syrk: the set has no rank update of its own, says so and writes nothing", set);
	else
	{
		ok(declined == 0 && exact_bad == 0,
		   "syrk: lower triangle = in-order fmaf sums, bit for bit, k 1..100, 1..512 columns, twice", set);
		ok(outside_bad == 0, "syrk: nothing written past k rows or columns", set);
	}
}

/*
 * KernCholeskyLower: where the set has its own factorisation, L L^T of the
 * factor equals the symmetric positive definite input to float accuracy (in
 * double, relative to its largest entry) for n 1 .. 130, L's diagonal is
 * positive, nothing outside the lower triangle of the n x n block is written;
 * a matrix whose pivot p is negative (or NaN) reports p + 1, as SPOTRF does.
 * Where the set has none it says so and writes nothing.
 */
static void
CheckCholesky(const char *set)
{
	const int	ns[] = {1, 2, 15, 16, 17, 31, 33, 64, 65, 100, 130};
	unsigned	state = 91;
	int			recon_bad = 0,
				outside_bad = 0,
				pivot_bad = 0,
				declined = 0,
				done = 0;

	for (int a = 0; a < (int) (sizeof(ns) / sizeof(ns[0])); a++)
	{
		int			n = ns[a],
					lda = n + 2,
					m = n + 3;
		float	   *B = malloc(sizeof(float) * (size_t) n * m);
		float	   *A = malloc(sizeof(float) * (size_t) lda * (n + 1));
		float	   *S = malloc(sizeof(float) * (size_t) lda * (n + 1));
		double		big = 0.0,
					worst = 0.0;
		int			info;

		for (int i = 0; i < n * m; i++)
			B[i] = Rand(&state);
		for (int i = 0; i < lda * (n + 1); i++)
			A[i] = 1000.0f + (float) i;
		for (int c = 0; c < n; c++)
			for (int r = 0; r < n; r++)
			{
				double		v = r == c ? 0.5 : 0.0;

				for (int t = 0; t < m; t++)
					v += (double) B[(size_t) t * n + r] * B[(size_t) t * n + c];
				A[(size_t) c * lda + r] = (float) v;
				if (fabs(v) > big)
					big = fabs(v);
			}
		memcpy(S, A, sizeof(float) * (size_t) lda * (n + 1));
		info = KernCholeskyLower(A, n, lda);
		if (info < 0)
		{
			declined++;
			outside_bad += memcmp(A, S, sizeof(float) * (size_t) lda * (n + 1)) != 0;
			goto next;
		}
		done++;
		if (info != 0)
			recon_bad++;
		for (int c = 0; c < n && info == 0; c++)
			for (int r = c; r < n; r++)
			{
				double		v = 0.0;

				for (int p = 0; p <= c; p++)
					v += (double) A[(size_t) p * lda + r] * A[(size_t) p * lda + c];
				if (fabs(v - S[(size_t) c * lda + r]) > worst)
					worst = fabs(v - S[(size_t) c * lda + r]);
			}
		for (int c = 0; c < n && info == 0; c++)
			recon_bad += !(A[(size_t) c * lda + c] > 0.0f);
		if (worst > 1e-5 * big)
			recon_bad++;
		for (int c = 0; c < n + 1; c++)
			for (int r = 0; r < lda; r++)
				if (c >= n || r >= n || r < c)
					outside_bad += memcmp(&A[(size_t) c * lda + r], &S[(size_t) c * lda + r],
										  sizeof(float)) != 0;

		/* a negative, then a NaN, pivot at p (the leading block stays positive) */
		for (int kind = 0; kind < 2 && n >= 2; kind++)
		{
			int			p = n / 2;

			memcpy(A, S, sizeof(float) * (size_t) lda * (n + 1));
			for (int r = p; r < n; r++)
				A[(size_t) p * lda + r] = 0.0f;
			A[(size_t) p * lda + p] = kind == 0 ? -1.0f : NAN;
			pivot_bad += KernCholeskyLower(A, n, lda) != p + 1;
		}
next:
		free(B);
		free(A);
		free(S);
	}
	if (done == 0)
		ok(declined > 0 && outside_bad == 0,
		   "cholesky: the set has no factorisation of its own, says so and writes nothing", set);
	else
	{
		ok(declined == 0 && recon_bad == 0,
		   "cholesky: L L^T equals the input to float accuracy, n 1..130, positive diagonal", set);
		ok(outside_bad == 0, "cholesky: nothing written outside the lower triangle", set);
		ok(pivot_bad == 0, "cholesky: a negative or NaN pivot p reports p + 1", set);
	}
}

int
main(void)
{
	const char *sets[] = {"avx512", "avx2", "portable"};

	RecPoolInit();
	for (int s = 0; s < 3; s++)
	{
		if (!KernSelect(sets[s]))
		{
			printf("ok %d # skip %s: not on this CPU\n", ++tests, sets[s]);
			continue;
		}
		CheckDistances(sets[s]);
		CheckShortSums(sets[s]);
		CheckCosine(sets[s]);
		CheckUnaligned(sets[s]);
		CheckBlocks(sets[s]);
		CheckFusedScan(sets[s]);
		CheckBatch(sets[s]);
		CheckGatherDots(sets[s]);
		CheckUniform(sets[s]);
		CheckSyrk(sets[s]);
		CheckCholesky(sets[s]);
	}
	printf("1..%d\n", tests);
	return failed != 0;
}
