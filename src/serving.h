/*
 * serving.h
 *		The numeric side of serving: top-N selection with the items a request
 *		excludes, cosine neighbours, fold-in solves and the batch scorer that
 *		recommend_all runs on worker threads.
 *
 * Plain C over arrays and sizes (no PostgreSQL headers): recommend.c turns SQL
 * arguments and the cached model into these calls.  Items and users are dense
 * indexes into the model's sorted id arrays, so "smaller index" is "smaller id"
 * and the TopNHeap's tie-break by id works on indexes directly.
 */
#ifndef RECSYS_SERVING_H
#define RECSYS_SERVING_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"

/* largest n a top-N call accepts */
#define RECSYS_MAX_TOPN		100000

/*
 * Items a request must not return: the user's training items and the caller's
 * exclude list, both as sorted item indexes (either may be empty).  Only
 * consulted for a score that would enter the heap, so its cost is per heap
 * entry, not per catalogue item.
 */
typedef struct RecBlocked
{
	const int32_t *seen;
	int64_t		n_seen;
	const int32_t *exclude;
	int64_t		n_exclude;
} RecBlocked;

extern bool RecSortedContains(const int32_t *a, int64_t n, int32_t x);

static inline bool
RecIsBlocked(const RecBlocked *b, int32_t item)
{
	return (b->n_seen > 0 && RecSortedContains(b->seen, b->n_seen, item)) ||
		(b->n_exclude > 0 && RecSortedContains(b->exclude, b->n_exclude, item));
}

/*
 * Scores of a whole catalogue row (dot + (offset + item_bias[i])) into the heap;
 * dots is scratch and is overwritten with the scores.
 */
extern void RecSelectDense(TopNHeap *h, float *dots, const float *item_bias,
						   float offset, int32_t n_items, const RecBlocked *b);

/*
 * The whole catalogue for user vector x (Y: n_items x k item factors) in one
 * fused pass of dot products and selection, without BLAS or a score array;
 * false if a score was not finite
 */
extern bool RecSelectFactors(TopNHeap *h, const float *Y, int k, const float *x,
							 const float *item_bias, float offset, int32_t n_items,
							 const RecBlocked *b);

/* Scores only the listed items (sorted, unique) with one dot product each; false if a score was not finite */
extern bool RecSelectCandidates(TopNHeap *h, const float *x, const float *Y, int k,
								const float *item_bias, float offset,
								const int32_t *cand, int64_t n_cand,
								const RecBlocked *b);

/*
 * The same from a whole catalogue row of dot products already computed (one
 * sgemv), reading only the listed items: the cheaper way once a list covers a
 * good part of the catalogue.  false if a listed score was not finite.
 */
extern bool RecSelectDenseCandidates(TopNHeap *h, const float *dots, const float *item_bias,
									 float offset, const int32_t *cand, int64_t n_cand,
									 const RecBlocked *b);

/* Cold start: the most popular items; order lists all items by count desc, id asc */
extern void RecSelectPopular(TopNHeap *h, const int32_t *order, const int32_t *count,
							 int32_t n_items, const RecBlocked *b);
/* Cold start restricted to candidates (sorted, unique) */
extern void RecSelectPopularCandidates(TopNHeap *h, const int32_t *count,
									   const int32_t *cand, int64_t n_cand,
									   const RecBlocked *b);

/*
 * Cosine neighbours of row self: dots[j] / (norms[j] * norms[self]), self and
 * the blocked rows (b may be NULL) excluded.
 */
extern void RecSelectCosine(TopNHeap *h, const float *dots, const float *norms,
							int32_t n, int32_t self, const RecBlocked *b);
/*
 * The same among the listed rows only (sorted, unique), with one dot product of
 * row self of M (n x k) against each of them.
 */
extern void RecSelectCosineCandidates(TopNHeap *h, const float *M, int k,
									  const float *norms, int32_t self,
									  const int32_t *cand, int64_t n_cand,
									  const RecBlocked *b);

/*
 * Maps ids to indexes into a sorted, unique id array: writes the indexes of the
 * known ones, sorted and unique, to out (room for min(n_vals, n_ids)) and returns
 * how many.  mark is scratch of (n_ids + 63) / 64 zeroed words, left zeroed.
 * Contiguous ids (ids[i] = ids[0] + i) take one subtraction per id, others a
 * binary search; the output comes from a scan of the marks, not a sort.
 */
extern int64_t RecIdsToIndexes(const int64_t *ids, int32_t n_ids, const int64_t *vals,
							   int64_t n_vals, uint64_t *mark, int32_t *out);

/*
 * True if every one of x[0 .. n-1] is finite.  A score computed from finite
 * numbers is finite exactly when nothing overflowed on the way (an infinity
 * cannot turn finite again), so this is the overflow check of a whole request.
 */
extern bool RecAllFinite(const float *x, int64_t n);

/* Euclidean norms of the n rows of a row-major n x k matrix */
extern void RecRowNorms(const float *M, int64_t n, int k, float *norms);

/* Item indexes sorted by count descending, then index ascending (key: scratch) */
extern void RecPopularityOrder(const int32_t *count, int32_t n_items, int32_t *order,
							   int64_t *key);

/* Outcomes of a fold-in solve */
#define RECSYS_FOLDIN_OK		0
#define RECSYS_FOLDIN_SINGULAR	1	/* the system is not positive definite */
#define RECSYS_FOLDIN_OVERFLOW	2	/* the system or its solution is beyond float4 */

/*
 * Fold-in of one explicit-feedback user: solves, for the unknowns z = [x; b_u]
 * (or just x without biases),
 *		(sum_i a_i a_i' + lambda * n * I) z = sum_i a_i (r_i - mu - b_i),
 *		a_i = [y_i; 1]
 * the same regularised least-squares step an ALS sweep makes for a user.  work
 * holds (k+1)*(k+2) floats.  Returns a RECSYS_FOLDIN_* status; x is zero unless
 * it is RECSYS_FOLDIN_OK.
 */
extern int	RecFoldInExplicit(const float *Y, int k, const float *item_bias, float mu,
							  const int32_t *items, const float *values, int64_t n,
							  float lambda, float *x, float *bias, float *work);

/*
 * The options of an implicit model that fold-in needs: the same confidence and
 * regularisation as training (ials.c, solver.h's IalsConfidenceExcess and
 * IalsRowLambda)
 */
typedef struct RecImplicitWeights
{
	float		lambda;			/* options.regularization */
	float		alpha;			/* options.alpha */
	int			confidence;		/* options.confidence: IALS_CONFIDENCE_* */
	float		epsilon;		/* options.epsilon (log confidence) */
	float		reg_exponent;	/* options.regularization_exponent */
	int32_t		n_items;		/* items of the model: the unobserved weight */
} RecImplicitWeights;

/*
 * Fold-in of one implicit-feedback user (Hu, Koren, Volinsky): solves exactly
 *		(Y'Y + sum_i d_i y_i y_i' + lambda_u I) x = sum_i (1 + d_i) p_i y_i,
 *		d_i = c_i - 1 as training computes it, p_i = [w_i > 0],
 *		lambda_u = lambda (n_items + sum_i d_i)^exponent
 * with gram = Y'Y (k x k) precomputed.  work holds k*(k+1) floats.  Returns a
 * RECSYS_FOLDIN_* status as RecFoldInExplicit does.
 */
extern int	RecFoldInImplicit(const float *Y, const float *gram, int k,
							  const int32_t *items, const float *values, int64_t n,
							  const RecImplicitWeights *w, float *x, float *work);

/*
 * The terms of a folded-in user's score for item target, one per history
 * entry, that sum to the score less its baseline (mu + b_target):
 *		score - mu - b_target = a_target' A^-1 rhs = sum_j t_j a_target' A^-1 a_j
 * with A, rhs, a_j and t_j = r_j - mu - b_j of RecFoldInExplicit, and
 *		score = y_target' A^-1 rhs = sum_j c_j p_j y_target' A^-1 y_j
 * with those of RecFoldInImplicit.  One solve with y_target (explain needs one
 * item, not the user vector).  work holds as much as the fold-in's.  Returns a
 * RECSYS_FOLDIN_* status.
 */
extern int	RecFoldInTermsExplicit(const float *Y, int k, const float *item_bias, float mu,
								   const int32_t *items, const float *values, int64_t n,
								   float lambda, int32_t target, float *terms,
								   float *work);
extern int	RecFoldInTermsImplicit(const float *Y, const float *gram, int k,
								   const int32_t *items, const float *values, int64_t n,
								   const RecImplicitWeights *w, int32_t target,
								   float *terms, float *work);

/*
 * One round of a batch scorer's results: round row r's out_count[r] best items
 * are the item indexes out_item[r * n ..] with scores out_score[r * n ..], best
 * first; out_fallback[r] tells a popularity list (NULL: exactly the unknown
 * users got one).
 */
typedef struct RecBatchOut
{
	int			n;
	const float *out_score;
	const int64_t *out_item;
	const int  *out_count;
	const bool *out_fallback;
} RecBatchOut;

/*
 * recommend_all: blocks of users scored against tiles of the item matrix with
 * SGEMM, each user's best n kept in a heap whose storage is that user's slice of
 * the output arrays.  Set up by the caller (all memory allocated before threads
 * start), run by RecParallelFor with chunk = block users.
 */
typedef struct RecBatch
{
	/* the model */
	int			k;
	int32_t		n_items;
	const float *X;				/* user factors, n_users x k */
	const float *Y;				/* item factors, n_items x k */
	const float *user_bias;		/* NULL for implicit models */
	const float *item_bias;
	float		mu;
	const int64_t *seen_ptr;	/* NULL: nothing to exclude */
	const int32_t *seen_items;
	const int32_t *popular;		/* cold start order */
	const int32_t *item_count;
	bool		zero_fallback;	/* scores are x.y alone: a zero user row gets the
								 * popular items (an implicit model) */

	/*
	 * The request's filters, one for every user: exclude (sorted item indexes)
	 * is never returned; with cand (sorted, unique item indexes) Y, item_bias
	 * and n_items above are the candidates' rows gathered in that order, and
	 * item_of = cand maps a gathered row back to its item.
	 */
	const int32_t *exclude;
	int64_t		n_exclude;
	const int32_t *item_of;		/* NULL: rows are the whole catalogue */
	int64_t		n_cand;

	/* this round */
	const int32_t *users;		/* user index per output row block, -1 = unknown */
	int			n;				/* results per user */
	float	   *out_score;		/* [n_round_users * n] */
	int64_t    *out_item;		/* [n_round_users * n] item indexes */
	int		   *out_count;		/* [n_round_users] rows kept */
	bool	   *out_fallback;	/* [n_round_users] got the popular items (may
								 * be NULL) */

	/* per-thread scratch, sized for `block` users and `tile` items */
	int			block;
	int			tile;
	float	  **xb;				/* [thread] block x k gathered user rows */
	float	  **cb;				/* [thread] block x tile scores */
	TopNHeap  **heaps;			/* [thread] block heaps */
	float	  **bm;				/* [thread] RECSYS_BATCH_BOUNDS(tile) floats, or
								 * NULL: no block bounds (slower selection) */

	/*
	 * Tiles in bound order (RecBatchSort), or Ys = NULL: tiles in row order,
	 * every tile multiplied.  Ys and bias_s are Y and item_bias with the rows
	 * sorted by an estimate of their best score; row_src[i] is sorted row i's
	 * row of Y.  A user whose n-th best so far is above a tile's score bound
	 * (Cauchy-Schwarz per item, with a margin for float rounding) skips the
	 * tile's SGEMM.  Selection runs on SGEMM dot products into a pool of pcap;
	 * the pool's leaders are then scored again exactly as the single-user scan
	 * (KernDotTopN over Y) scores them, so the result does not depend on how
	 * the SGEMM kernel rounds at a given position of a tile.
	 */
	const float *Ys;
	/*
	 * scan: each known user ranked alone by the single-user scan (KernDotTopN
	 * over Y, the same scores), for a call of few users, where sorting the
	 * rows would cost more than the scans it saves; Ys is then NULL
	 */
	bool		scan;
	const float *bias_s;
	const int32_t *row_src;
	int32_t		n_tiles;
	const double *env;			/* [n_tiles * RECSYS_BATCH_GRID] largest
								 * x |y_i| + b_i of the tile at x = j * grid_step */
	const double *tile_norm;	/* [n_tiles] largest |y_i| of the tile */
	const double *tile_absb;	/* [n_tiles] largest |b_i| of the tile */
	double		grid_step;
	double		all_norm;		/* largest |y_i| */
	double		all_absb;		/* largest |b_i| */
	double		rel;			/* relative rounding margin of a score */
	int			pcap;			/* pool entries per user (RecBatchPoolCap) */
	void	  **scratch;		/* [thread] RecBatchScratchBytes(block, k, pcap) */
	int64_t    *pairs;			/* [thread] user x tile pairs multiplied, or
								 * NULL: not counted */
} RecBatch;

/* largest RecBatch.block */
#define RECSYS_BATCH_MAX_BLOCK	1024

/* points of a tile's score envelope (RecBatch.env) */
#define RECSYS_BATCH_GRID	32

/* bytes RecBatchSort needs for n_items rows of k factors in tiles of `tile` */
extern size_t RecBatchSortBytes(int32_t n_items, int k, int tile);
/* sorts bt's rows into tiles by bound, in mem (RecBatchSortBytes); users: the run's */
extern void RecBatchSort(RecBatch *bt, void *mem, const int32_t *users, int64_t n_users);
/* pool entries per user for n results */
extern int	RecBatchPoolCap(int n);
/* bytes of one thread's RecBatch.scratch */
extern size_t RecBatchScratchBytes(int block, int k, int pcap);

/* floats of a RecBatch.bm scratch for tiles of `tile` items (bias maxima, bounds) */
#define RECSYS_BATCH_BOUNDS(tile)	(2 * ((tile) / KERN_BLOCK + 1))

extern int	RecBatchChunk(void *ctx, int thread, int64_t begin, int64_t end);

#endif							/* RECSYS_SERVING_H */
