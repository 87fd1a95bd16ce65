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

#include <stdbool.h>
#include <stdint.h>

extern float KernDot(const float *a, const float *b, int n);
extern float KernL2Squared(const float *a, const float *b, int n);
extern float KernNormSquared(const float *a, int n);
/* dot, |a|^2 and |b|^2 in one pass (cosine) */
extern void KernDotNorms(const float *a, const float *b, int n,
						 float *dot, float *na2, float *nb2);
extern void KernAxpy(int n, float alpha, const float *x, float *y);

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

#endif							/* RECSYS_KERNELS_H */
