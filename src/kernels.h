/*
 * kernels.h
 *		Dense float kernels (dot, distances, norms, axpy) and the top-N selection heap
 *		shared by vec.c, the solvers and the serving code.
 *
 * Plain C, no PostgreSQL headers.  The distance kernels are compiled for several
 * instruction sets and chosen at run time (see kernels.c), so one build is fast on
 * every x86-64 CPU without -march=native.
 */
#ifndef RECSYS_KERNELS_H
#define RECSYS_KERNELS_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A float that may sit at any address: the distance kernels read their input
 * through it, so vec.c can hand them the elements of a stored vec with a 1-byte
 * varlena header in place (they start at an odd address).  Plain float arrays
 * convert to it implicitly.
 */
typedef float KernUFloat __attribute__((aligned(1)));

/*
 * true when |s| is a normal, finite float: a float sum that can be trusted (else
 * the distance functions redo it in double)
 */
static inline bool
KernSumTrusted(float s)
{
	return fabsf(s) >= FLT_MIN && fabsf(s) <= FLT_MAX;
}

extern float KernDot(const KernUFloat *a, const KernUFloat *b, int n);
extern float KernL2Squared(const KernUFloat *a, const KernUFloat *b, int n);
extern float KernNormSquared(const KernUFloat *a, int n);
/* dot, |a|^2 and |b|^2 in one pass (cosine) */
extern void KernDotNorms(const KernUFloat *a, const KernUFloat *b, int n,
						 float *dot, float *na2, float *nb2);
/* cosine similarity in [-1, 1] (NaN for a zero vector), exact for finite input */
extern double KernCosine(const KernUFloat *a, const KernUFloat *b, int n);
extern void KernAxpy(int n, float alpha, const float *x, float *y);
/* out[r] = Y_r . x for the rows x k row-major matrix Y */
extern void KernRowDots(const float *Y, int rows, int k, const float *x, float *out);
/* out[j] = Y_idx[j] . x for j < n: the rows idx names, scattered */
extern void KernGatherDots(const float *Y, const int32_t *idx, int n, int k, const float *x,
						   float *out);
/*
 * A += B B^T (first: A = B B^T) on the lower triangle of the column-major A
 * (leading dimension lda) for the k x m column-major B (leading dimension k),
 * each entry summed over B's columns in order; false (nothing done) where the
 * kernel set has no rank update of its own, and the caller uses SSYRK
 */
extern bool KernSyrkLower(const float *B, int k, int m, float *A, int lda, bool first);
/*
 * A = L L^T in place on the lower triangle of the column-major A (leading
 * dimension lda; the upper part is not read), as LAPACK's SPOTRF("L"): 0, j + 1
 * when pivot j is not positive or NaN, or -1 (nothing done) where the kernel set
 * has no factorisation of its own, and the caller uses SPOTRF
 */
extern int	KernCholeskyLower(float *A, int n, int lda);
/* elements per block of KernBlockMax */
#define KERN_BLOCK	64
/* out[b] = the largest of x[b * KERN_BLOCK .. (b + 1) * KERN_BLOCK); NaN if one is */
extern void KernBlockMax(const float *x, int blocks, float *out);
/* bit j set when x[j] + (base + bias[j]) >= floor, j < KERN_BLOCK (bias may be NULL) */
extern uint64_t KernBlockAbove(const float *x, const float *bias, float base, float floor);
/* splitmix64: a well-mixed 64-bit output for each successive state */
static inline uint64_t
KernSplitMix64(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * out[j] = (float) ((u_j - 0.5) * scale) for j < n, u_j the top 24 bits of the
 * (j + 1)-th output of KernSplitMix64 from state, as a double in [0, 1): the
 * same values, bit for bit, with every kernel set
 */
extern void KernUniform(uint64_t state, int n, double scale, float *out);

/* the kernel set chosen for this CPU: "avx512", "avx2" or "portable" */
extern const char *KernName(void);
/* switches to the named kernel set if the CPU has it (tests, benchmarks) */
extern bool KernSelect(const char *name);

/* qsort/bsearch comparators for plain integer arrays (ascending) */
extern int	RecCompareInt64(const void *a, const void *b);
extern int	RecCompareInt32(const void *a, const void *b);

/*
 * Bounded heap keeping the best `cap` (score, id) pairs: higher score is better,
 * equal scores prefer the smaller id, so results are deterministic.  The caller
 * provides storage for cap entries.
 */
typedef struct TopNHeap
{
	int			cap;
	int			size;
	float	   *score;
	int64_t    *id;
} TopNHeap;

extern void TopNInit(TopNHeap *h, int cap, float *score_buf, int64_t *id_buf);
/* true if (score, id) would enter the heap */
static inline bool
TopNWouldEnter(const TopNHeap *h, float score, int64_t id)
{
	if (h->size < h->cap)
		return true;
	return score > h->score[0] || (score == h->score[0] && id < h->id[0]);
}
extern void TopNPush(TopNHeap *h, float score, int64_t id);
/* Sorts the kept entries best first, in place (score desc, id asc); returns size */
extern int	TopNSortDesc(TopNHeap *h);

/* true if row i must not be returned (asked only for rows that would enter) */
typedef bool (*KernSkipFn) (const void *arg, int32_t i);

/*
 * Fused dot-and-select: offers s_i = Y_i . x + (base + bias[i]) of every row of
 * the row-major n x k matrix Y to h (bias may be NULL), without a score array.
 * False if some score was not finite.
 */
extern bool KernDotTopN(TopNHeap *h, const float *Y, int32_t n, int k, const float *x,
						const float *bias, float base, KernSkipFn skip, const void *arg);

#endif							/* RECSYS_KERNELS_H */
