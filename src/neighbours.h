/*
 * neighbours.h
 *		The plain-C contract of the neighbourhood models: item-/user-kNN
 *		similarities (knn.c), EASE item-item weights (ease.c), and the neighbour
 *		CSR both write (selection and compaction helpers in neighbours.c).
 *
 * Plain C like solver.h: no PostgreSQL headers, no elog, threads through
 * RecParallelFor, failures as RECSYS_* status codes, cancellable through
 * RecControl.interrupted.  Results never depend on the thread count or the chunk
 * size: every output row is computed by one thread in a fixed order.
 *
 * Output format ("neighbour CSR" over dense indexes): row r lists its neighbours
 * idx[ptr[r] .. ptr[r+1]) with weight[] in the same positions, sorted by weight
 * descending, then index ascending.  A row never lists itself, holds no weight
 * that is zero, NaN or infinite, and may hold fewer than the requested count.
 * The caller allocates ptr[n_rows + 1] and idx/weight with the capacity that
 * RecKnnCapacity / RecEaseCapacity return, and checks the scratch estimate
 * (RecKnnScratchBytes / RecEaseScratchBytes) against its memory limit first.
 */
#ifndef RECSYS_NEIGHBOURS_H
#define RECSYS_NEIGHBOURS_H

#include <stdbool.h>
#include <stdint.h>

#include "solver.h"

/* A neighbour CSR, allocated by the caller and filled by a fit function */
typedef struct RecNeighbours
{
	int64_t    *ptr;			/* [n_rows + 1], set by the fit */
	int32_t    *idx;			/* [capacity] neighbour indexes */
	float	   *weight;			/* [capacity] their weights */
	int64_t		capacity;		/* entries idx and weight have room for */
	int64_t		scratch_bytes;	/* out: peak scratch the fit allocated itself */
	double		flops;			/* out: floating-point operations done (EASE) */
	double		seconds;		/* out: wall-clock time of the fit */
} RecNeighbours;

/* kNN: which side the rows are */
#define REC_KNN_ITEM	0		/* rows are items, compared over their users */
#define REC_KNN_USER	1		/* rows are users, compared over their items */

/* kNN similarity functions */
#define REC_SIM_COSINE				0
#define REC_SIM_PEARSON				1
#define REC_SIM_JACCARD				2
#define REC_SIM_ASYMMETRIC_COSINE	3

/*
 * kNN options.  For rows r and c with value vectors x and y (over the other side,
 * missing entries are absent, not zero), co-occurrence count n = |supp x ∩ supp y|:
 *
 *	cosine				x.y / (|x| |y|), norms over all of each row's values
 *	pearson				over the n co-rated entries only, with means over those
 *						entries (as Surprise): sum (x-mx)(y-my) / sqrt(sum (x-mx)^2
 *						sum (y-my)^2)
 *	jaccard				n / (n_x + n_y - n) on the stored pattern (values ignored)
 *	asymmetric_cosine	x.y / (|x|^(2 alpha) |y|^(2 (1 - alpha))), x the listing
 *						row; alpha = 0.5 is cosine
 *
 * then sim * n / (n + shrinkage).  Pairs with n < min_support or an undefined
 * similarity (a zero norm, zero variance over the co-rated entries) get no entry.
 * Kept: the `neighbours` pairs of largest similarity among those with similarity
 * > 0 (ties: smaller index first); negative Pearson correlations are never kept.
 * With `normalize` each row's kept weights are then scaled to sum to 1.
 */
typedef struct RecKnnParams
{
	int			kind;			/* REC_KNN_* */
	int			similarity;		/* REC_SIM_* */
	int			neighbours;		/* k >= 1: kept per row */
	float		shrinkage;		/* >= 0 */
	int			min_support;	/* >= 1 */
	float		alpha;			/* asymmetric cosine, in [0, 1] */
	bool		normalize;
	int			threads;		/* >= 1 (capped at RECSYS_MAX_THREADS) */
	int64_t		chunk;			/* rows per work chunk; 0: automatic */
} RecKnnParams;

/* EASE options */
#define REC_EASE_BLOCK_DEFAULT	256

/*
 * How an interaction's value enters EASE's X (option "values"): its sign
 * (binary), sign(w) log(1 + |w|) (log) or w itself (raw).  Training writes the
 * model's seen values so, and serving maps the values of a history it is given
 * the same way.
 */
#define REC_EASE_VALUES_BINARY	0
#define REC_EASE_VALUES_LOG		1
#define REC_EASE_VALUES_RAW		2

static inline float
RecEaseValue(int values, float w)
{
	if (values == REC_EASE_VALUES_BINARY)
		return (float) ((w > 0.0f) - (w < 0.0f));
	if (values == REC_EASE_VALUES_LOG)
		return copysignf((float) log1p(fabs((double) w)), w);
	return w;
}

typedef struct RecEaseParams
{
	float		regularization; /* lambda >= 0 added to the Gram diagonal */
	int32_t		neighbours;		/* kept per row by |weight|; <= 0 or >= n_items - 1:
								 * all */
	int			threads;		/* >= 1 (capped at RECSYS_MAX_THREADS) */
	int			block;			/* Cholesky/inverse block; 0: REC_EASE_BLOCK_DEFAULT
								 * (rounding differs with it, threads never) */
} RecEaseParams;

/* Entries idx/weight must hold for RecKnnFit on r with p */
extern int64_t RecKnnCapacity(const RecRatings *r, const RecKnnParams *p);

/* Bytes RecKnnFit allocates itself for r with p (reported in scratch_bytes) */
extern int64_t RecKnnScratchBytes(const RecRatings *r, const RecKnnParams *p);

/*
 * Top-k similar rows per item (REC_KNN_ITEM, n_items rows) or user (REC_KNN_USER,
 * n_users rows); see RecKnnParams.  Returns RECSYS_OK, RECSYS_EINVAL,
 * RECSYS_ENOMEM, RECSYS_INTERRUPTED or RECSYS_STUCK (see solver.h; its scratch
 * is then left allocated, as workers may still touch it).  No BLAS.
 */
extern int	RecKnnFit(const RecRatings *r, const RecKnnParams *p, RecNeighbours *out,
					  const RecControl *ctl);

/* Entries idx/weight must hold for RecEaseFit over n_items with `neighbours` */
extern int64_t RecEaseCapacity(int32_t n_items, int32_t neighbours);

/* Bytes RecEaseFit allocates itself (the n_items^2 matrix dominates) */
extern int64_t RecEaseScratchBytes(int32_t n_items, const RecEaseParams *p);

/* Floating-point operations of RecEaseFit on r: Gram + Cholesky + inverse */
extern double RecEaseFlops(const RecRatings *r);

/*
 * EASE (Steck 2019): G = X^T X + lambda I, P = G^-1, B = I - P diag(1/diag P).
 * Scores are s_ui = sum_j x_uj B[j,i], so row j of the output lists the items i
 * that item j contributes to, with weight B[j,i] = -P[j,i] / P[i,i]; each row
 * keeps its `neighbours` largest |B[j,i]|, sorted by weight descending.  Returns
 * RECSYS_ENOTPD when G + lambda I is not positive definite, else as RecKnnFit;
 * reserves OpenBLAS scratch for its threads itself (RecBlasReserve).
 * ctl->progress, if set, is called after each phase with iteration = the phase
 * (1 Gram, 2 Cholesky, 3 triangular inverse, 4 P = W^T W, 5 weights and pruning),
 * loss = 0 and the phase's seconds.
 */
extern int	RecEaseFit(const RecRatings *r, const RecEaseParams *p, RecNeighbours *out,
					   const RecControl *ctl);

/*
 * Baselines for kNN with baselines (Koren 2010, section 2.1): mu the mean value,
 * then `epochs` alternating regularised least-squares passes
 *		b_i = sum_u (r_ui - mu - b_u) / (reg_items + n_i)
 *		b_u = sum_i (r_ui - mu - b_i) / (reg_users + n_u)
 * Plain loops over the CSC and CSR; user_bias[n_users], item_bias[n_items].
 */
extern void RecBaselines(const RecRatings *r, int epochs, float reg_users, float reg_items,
						 float *mu, float *user_bias, float *item_bias);

/*
 * Shared by knn.c and ease.c (neighbours.c).  A candidate neighbour is packed in
 * one uint64: the high half orders weights descending, the low half is the
 * index, so ascending packed order is "weight desc, index asc", a strict order.
 */
extern uint64_t RecPackNeighbour(float weight, int32_t idx);
extern float RecUnpackWeight(uint64_t packed);

/*
 * Keeps the best k of cand[0..n) (largest weight, then smallest index), sorted;
 * tmp has room for n keys.  To rank by |weight|, pack |weight| and repack after.
 */
extern int64_t RecKeepBest(uint64_t *cand, int64_t n, int64_t k, uint64_t *tmp);

/* Writes the n sorted candidates to idx/weight */
extern void RecUnpackNeighbours(const uint64_t *cand, int64_t n, int32_t *idx,
								float *weight);

/* Scales weights to sum |w| = 1, keeping the order rule; false if the sum is 0 */
extern bool RecNormalizeNeighbours(int32_t *idx, float *weight, int64_t n);

/* Moves row r's count[r] = ptr[r+1] entries from slot r * stride to CSR order */
extern void RecCompactNeighbours(RecNeighbours *out, int64_t n_rows, int64_t stride);

#endif							/* RECSYS_NEIGHBOURS_H */
