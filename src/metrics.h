/*
 * metrics.h
 *		The formulas behind recsys's evaluation metrics, shared by the SQL metric
 *		functions (metrics.c) and recsys.evaluate (evaluate.c) so both compute
 *		exactly the same numbers.
 *
 * Plain C over a prepared ranking (no PostgreSQL headers): turning arrays into
 * a RecRankedHits is the caller's business.
 */
#ifndef RECSYS_METRICS_H
#define RECSYS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The top k of one user's recommendations read against the relevant set: whether
 * each ranked position is a hit, and the sizes the metrics divide by.  n_relevant
 * is at least 1 (with nothing relevant the metrics are undefined: NULL in SQL).
 */
typedef struct RecRankedHits
{
	int32_t		k;				/* the cut-off asked for */
	int32_t		n_ranked;		/* distinct recommendations kept, <= k */
	int32_t		n_hits;			/* of those, how many are relevant */
	int64_t		n_relevant;		/* distinct relevant items */
	const bool *hit;			/* [n_ranked] position j (0-based) is relevant */
} RecRankedHits;

/* hits / k (missing positions count as misses) */
extern double RecPrecisionAtK(const RecRankedHits *rh);

/* hits / |relevant| */
extern double RecRecallAtK(const RecRankedHits *rh);

/* DCG / ideal DCG, binary relevance, gain 1 / log2(position + 1) */
extern double RecNdcgAtK(const RecRankedHits *rh);

/* sum of precision@p at each hit position p, / min(k, |relevant|) */
extern double RecAveragePrecisionAtK(const RecRankedHits *rh);

/* 1 if any of the top k is relevant, else 0 */
extern double RecHitRateAtK(const RecRankedHits *rh);

/*
 * Inverse-propensity-scored variants (recsys.evaluate's "propensity" option):
 * w[j] is the normalised weight of the item at ranked position j (read at hits
 * only).  With every weight 1 they equal precision, recall and nDCG.
 */

/* sum of hit weights / k */
extern double RecIpsPrecisionAtK(const RecRankedHits *rh, const double *w);

/* sum of hit weights / |relevant| */
extern double RecIpsRecallAtK(const RecRankedHits *rh, const double *w);

/* sum of hit weights / log2(position + 1), / the ideal DCG of RecNdcgAtK */
extern double RecIpsNdcgAtK(const RecRankedHits *rh, const double *w);

/*
 * Gini coefficient of n non-negative counts (sorted in place, ascending):
 * sum over i = 1..n of (2i - n - 1) x_(i) / (n sum x); false when they sum to 0
 */
extern bool RecGini(int64_t *x, int64_t n, double *gini);

/*
 * Rating-error sums, as the float8[3] state of recsys.rmse and recsys.mae keeps
 * them: the number of pairs, a sum of per-pair errors and its Neumaier
 * compensation term.
 */
#define REC_ERROR_STATE_N		0
#define REC_ERROR_STATE_SUM		1
#define REC_ERROR_STATE_COMP	2
#define REC_ERROR_STATE_LEN		3

/* One more pair's error term: (p - a)^2 for rmse, |p - a| for mae */
extern void RecErrorAccum(double *state, double term);

/* Adds another state's pairs and sums into state (the combine step) */
extern void RecErrorCombine(double *state, const double *other);

/* Mean error term of a state; false when no pair was seen */
extern bool RecErrorMean(const double *state, double *mean);

#endif							/* RECSYS_METRICS_H */
