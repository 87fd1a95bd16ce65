/*
 * kernels.c
 *		Dense float kernels (dot products, distances, norms, axpy) and the bounded
 *		top-N heap used by the vec type, the solvers and the serving code.
 *
 * The loops are written plainly, with one accumulator and `#pragma omp simd
 * reduction`, so the compiler vectorises them without -ffast-math (the Makefile
 * builds this file with -O3 -fopenmp-simd).  Every distance kernel is compiled
 * three times by target_clones: for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA)
 * and the baseline; the dynamic loader picks the best one for the CPU at load
 * time, so one build is fast everywhere and nobody needs -march=native.
 *
 * Plain C: no PostgreSQL headers, no allocation, safe to call from any thread.
 */
#include <math.h>
#include <stddef.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang_analyzer__)
#define KERNEL_CLONES \
	__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL_CLONES
#endif

/* Inner product of a and b */
KERNEL_CLONES
float
KernDot(const float *a, const float *b, int n)
{
	float		s = 0.0f;

#pragma omp simd reduction(+:s)
	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* Squared Euclidean distance between a and b */
KERNEL_CLONES
float
KernL2Squared(const float *a, const float *b, int n)
{
	float		s = 0.0f;

#pragma omp simd reduction(+:s)
	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		s += d * d;
	}
	return s;
}

/* Squared Euclidean norm of a */
KERNEL_CLONES
float
KernNormSquared(const float *a, int n)
{
	float		s = 0.0f;

#pragma omp simd reduction(+:s)
	for (int i = 0; i < n; i++)
		s += a[i] * a[i];
	return s;
}

/* a·b, |a|² and |b|² in one pass over both vectors (cosine distance) */
KERNEL_CLONES
void
KernDotNorms(const float *a, const float *b, int n,
			 float *dot, float *na2, float *nb2)
{
	float		ab = 0.0f;
	float		aa = 0.0f;
	float		bb = 0.0f;

#pragma omp simd reduction(+:ab,aa,bb)
	for (int i = 0; i < n; i++)
	{
		ab += a[i] * b[i];
		aa += a[i] * a[i];
		bb += b[i] * b[i];
	}
	*dot = ab;
	*na2 = aa;
	*nb2 = bb;
}

/* y += alpha * x */
KERNEL_CLONES
void
KernAxpy(int n, float alpha, const float *x, float *y)
{
#pragma omp simd
	for (int i = 0; i < n; i++)
		y[i] += alpha * x[i];
}

/*
 * Top-N heap.  The kept entries form a binary min-heap ordered by "worse": the
 * root is the entry that leaves first.  An entry is worse than another when its
 * score is lower, or the scores are equal and its id is larger.
 */

/* true if entry i of h is worse than entry j */
static inline bool
TopNWorse(const TopNHeap *h, int i, int j)
{
	if (h->score[i] != h->score[j])
		return h->score[i] < h->score[j];
	return h->id[i] > h->id[j];
}

/* Swaps entries i and j of h */
static inline void
TopNSwap(TopNHeap *h, int i, int j)
{
	float		s = h->score[i];
	int64_t		id = h->id[i];

	h->score[i] = h->score[j];
	h->id[i] = h->id[j];
	h->score[j] = s;
	h->id[j] = id;
}

/* Restores the heap order below entry i, considering the first size entries */
static void
TopNSiftDown(TopNHeap *h, int i, int size)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			worst = i;

		if (l < size && TopNWorse(h, l, worst))
			worst = l;
		if (r < size && TopNWorse(h, r, worst))
			worst = r;
		if (worst == i)
			return;
		TopNSwap(h, i, worst);
		i = worst;
	}
}

/* Prepares an empty heap keeping at most cap entries in the caller's buffers */
void
TopNInit(TopNHeap *h, int cap, float *score_buf, int64_t *id_buf)
{
	h->cap = cap < 0 ? 0 : cap;
	h->size = 0;
	h->score = score_buf;
	h->id = id_buf;
}

/*
 * Offers (score, id) to the heap; it is kept if it is among the best cap seen so
 * far.  NaN scores are never kept, so they cannot break the ordering.
 */
void
TopNPush(TopNHeap *h, float score, int64_t id)
{
	if (isnan(score) || h->cap <= 0)
		return;

	if (h->size < h->cap)
	{
		int			i = h->size++;

		h->score[i] = score;
		h->id[i] = id;
		/* sift up while the parent is better than the new entry */
		while (i > 0)
		{
			int			parent = (i - 1) / 2;

			if (!TopNWorse(h, i, parent))
				break;
			TopNSwap(h, i, parent);
			i = parent;
		}
		return;
	}

	if (!TopNWouldEnter(h, score, id))
		return;
	h->score[0] = score;
	h->id[0] = id;
	TopNSiftDown(h, 0, h->size);
}

/*
 * Sorts the kept entries best first (score descending, id ascending) by heap
 * sort: the worst entry is moved to the end, repeatedly.  Afterwards the buffers
 * are a sorted array, not a heap: push nothing more.  Returns the entry count.
 */
int
TopNSortDesc(TopNHeap *h)
{
	for (int end = h->size - 1; end > 0; end--)
	{
		TopNSwap(h, 0, end);
		TopNSiftDown(h, 0, end);
	}
	return h->size;
}

/* qsort/bsearch comparator for int64_t arrays */
int
RecCompareInt64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* qsort/bsearch comparator for int32_t arrays */
int
RecCompareInt32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}
