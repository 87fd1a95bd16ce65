/*
 * kernels_bench.c
 *		Times the recsys distance kernels (src/kernels.c, built as the extension
 *		builds it) against plain scalar loops compiled with -O2, and both against
 *		the memory bandwidth measured with memcpy in the same run.
 *
 * Prints a markdown table.  bench/10_vec.sh compiles and runs it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

#define SMALL_DIM	128			/* the vectors of the SQL benchmark */
#define SMALL_PAIRS 4096		/* 4 MB of pairs, cycled through */
#define SMALL_CALLS (20 * 1000 * 1000)
#define BIG_N		(32 * 1024 * 1024)	/* two 128 MB arrays: far beyond cache */
#define REPEATS		3

static volatile float sink;

/* Wall-clock seconds */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The smaller of two doubles */
static inline double
Min2(double x, double y)
{
	return x < y ? x : y;
}

/* Plain scalar loops, as a C programmer would write them (no pragmas) */
__attribute__((noinline)) static float
ScalarDot(const float *a, const float *b, int n)
{
	float		s = 0.0f;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

__attribute__((noinline)) static float
ScalarL2Squared(const float *a, const float *b, int n)
{
	float		s = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		s += d * d;
	}
	return s;
}

/* The kernels behind a plain float signature, for the table below */
static float
KernDotF(const float *a, const float *b, int n)
{
	return KernDot(a, b, n);
}

static float
KernL2SquaredF(const float *a, const float *b, int n)
{
	return KernL2Squared(a, b, n);
}

/* Cosine similarity as <=> computes it: sums, the checks and the division */
static float
KernCosineF(const float *a, const float *b, int n)
{
	return (float) KernCosine(a, b, n);
}

/* The same with a scalar loop: float sums, then d / sqrt(x y) in double */
__attribute__((noinline)) static float
ScalarCosine(const float *a, const float *b, int n)
{
	float		d = 0.0f,
				na = 0.0f,
				nb = 0.0f;

	for (int i = 0; i < n; i++)
	{
		d += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return (float) (d / sqrt((double) na * nb));
}

typedef float (*PairFn) (const float *, const float *, int);

/* Best of REPEATS: seconds for SMALL_CALLS calls over the cached pairs */
static double
TimeSmall(PairFn fn, const float *a, const float *b)
{
	double		best = 1e30;

	for (int r = 0; r < REPEATS; r++)
	{
		double		t0 = Now();
		float		acc = 0.0f;

		for (long c = 0; c < SMALL_CALLS; c++)
		{
			size_t		p = (size_t) (c % SMALL_PAIRS) * SMALL_DIM;

			acc += fn(a + p, b + p, SMALL_DIM);
		}
		sink = acc;
		best = Min2(best, Now() - t0);
	}
	return best;
}

/* Best of REPEATS: seconds for one call over BIG_N elements */
static double
TimeBig(PairFn fn, const float *a, const float *b)
{
	double		best = 1e30;

	for (int r = 0; r < REPEATS; r++)
	{
		double		t0 = Now();

		sink = fn(a, b, BIG_N);
		best = Min2(best, Now() - t0);
	}
	return best;
}

int
main(void)
{
	float	   *sa = malloc(sizeof(float) * SMALL_PAIRS * SMALL_DIM);
	float	   *sb = malloc(sizeof(float) * SMALL_PAIRS * SMALL_DIM);
	float	   *ba = malloc(sizeof(float) * (size_t) BIG_N);
	float	   *bb = malloc(sizeof(float) * (size_t) BIG_N);
	double		memcpy_s = 1e30;
	double		memcpy_gbs;
	struct
	{
		const char *name;
		PairFn		kern;
		PairFn		scalar;
	}			cases[] = {
		{"dot (<#>)", KernDotF, ScalarDot},
		{"L2 squared (<->)", KernL2SquaredF, ScalarL2Squared},
		{"cosine (<=>)", KernCosineF, ScalarCosine},
	};

	srand(42);
	for (size_t i = 0; i < (size_t) SMALL_PAIRS * SMALL_DIM; i++)
	{
		sa[i] = (float) rand() / RAND_MAX - 0.5f;
		sb[i] = (float) rand() / RAND_MAX - 0.5f;
	}
	for (size_t i = 0; i < (size_t) BIG_N; i++)
	{
		ba[i] = (float) (i % 1000) * 1e-3f;
		bb[i] = (float) (i % 777) * 1e-3f;
	}

	/* memory bandwidth: bytes a large memcpy reads plus writes, as STREAM's copy counts */
	for (int r = 0; r < REPEATS; r++)
	{
		double		t0 = Now();

		memcpy(bb, ba, sizeof(float) * (size_t) BIG_N);
		memcpy_s = Min2(memcpy_s, Now() - t0);
	}
	memcpy_gbs = 2.0 * sizeof(float) * (double) BIG_N / memcpy_s / 1e9;
	for (size_t i = 0; i < (size_t) BIG_N; i++)
		bb[i] = (float) (i % 777) * 1e-3f;

	printf("Kernel set in use: %s; CPU features: avx512f=%s avx2=%s fma=%s\n\n",
		   KernName(), __builtin_cpu_supports("avx512f") ? "yes" : "no",
		   __builtin_cpu_supports("avx2") ? "yes" : "no",
		   __builtin_cpu_supports("fma") ? "yes" : "no");
	printf("memcpy of %d MB: %.1f GB/s (read + written)\n\n",
		   (int) (sizeof(float) * (size_t) BIG_N >> 20), memcpy_gbs);
	printf("| kernel | 128-d kernel ns/call | 128-d scalar ns/call | speed-up | %d MB stream kernel GB/s | scalar GB/s | kernel / memcpy |\n",
		   (int) (2 * sizeof(float) * (size_t) BIG_N >> 20));
	printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		double		ks = TimeSmall(cases[c].kern, sa, sb) / SMALL_CALLS * 1e9;
		double		ss = TimeSmall(cases[c].scalar, sa, sb) / SMALL_CALLS * 1e9;
		double		kb = 2.0 * sizeof(float) * BIG_N / TimeBig(cases[c].kern, ba, bb) / 1e9;
		double		sbw = 2.0 * sizeof(float) * BIG_N / TimeBig(cases[c].scalar, ba, bb) / 1e9;

		printf("| %s | %.1f | %.1f | %.1fx | %.1f | %.1f | %.2f |\n",
			   cases[c].name, ks, ss, ss / ks, kb, sbw, kb / memcpy_gbs);
	}
	return 0;
}
