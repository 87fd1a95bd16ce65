/*
 * scoring.h
 *		Scores of the neighbourhood models (item kNN, user kNN, EASE): a user's
 *		score row from stored neighbour rows, the kNN-with-baseline prediction of
 *		one rating, selection from a score row, and the batch scorer that
 *		recommend_all and evaluate run on worker threads for these models.
 *
 * Plain C over arrays and sizes (no PostgreSQL headers), like serving.h, which
 * holds the factor models' counterparts and the shared selection.  Items and
 * users are dense indexes into the model's sorted id arrays.
 */
#ifndef RECSYS_SCORING_H
#define RECSYS_SCORING_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"
#include "serving.h"

/*
 * Stored neighbours, one row per item (or user): row r lists idx[ptr[r] ..
 * ptr[r+1]) with their weights.  For item rows of item kNN and EASE, row j lists
 * the items i that an interaction with j contributes to, with weight w(j -> i).
 */
typedef struct RecNeighbourRows
{
	const int64_t *ptr;
	const int32_t *idx;
	const float *weight;
} RecNeighbourRows;

/*
 * A user's history: items (sorted, unique) with their values.  For a known user
 * these are its row of the model's seen interactions.
 */
typedef struct RecHistory
{
	const int32_t *items;
	const float *values;
	int64_t		n;
} RecHistory;

/*
 * Item-neighbour score row: scores[i] += sum over j in hist of value_j * w(j -> i).
 * scores must hold n_items floats, zero where the caller wants a clean row.
 */
extern void RecScoreItemNeighbours(const RecNeighbourRows *items, const RecHistory *hist,
								   float *scores);

/*
 * User-neighbour score row of user u: scores[i] += sum over neighbours v of u of
 * sim(u, v) * value of v for i, reading the neighbours' histories from the
 * seen CSR (ptr, items, values).
 */
extern void RecScoreUserNeighbours(const RecNeighbourRows *users, int32_t u,
								   const int64_t *seen_ptr, const int32_t *seen_items,
								   const float *seen_values, float *scores);

/*
 * Neighbours of a history that is not a row of the model (a visitor): the top
 * `k` users by cosine between hist and each user's seen row, found through the
 * item -> users transpose (item_ptr, item_users, item_values); user_norms are
 * the users' value norms.  acc is scratch of n_users floats, zero on entry and
 * left zero.  Writes at most k (user, similarity) pairs best first; returns how
 * many.
 */
extern int	RecVisitorNeighbours(const RecHistory *hist, const int64_t *item_ptr,
								 const int32_t *item_users, const float *item_values,
								 const float *user_norms, int32_t n_users, int k,
								 float *acc, int32_t *out_users, float *out_sims);

/*
 * kNN with baselines (Koren): mu + b_u + b_i plus the similarity-weighted mean
 * of the neighbours' deviations from their own baselines.  For item kNN the
 * neighbours are the items of row i that the user rated (hist); for user kNN the
 * neighbours of u (row u of users) that rated i.  Falls back to the baseline
 * when no neighbour qualifies.
 */
extern float RecPredictItemBaseline(const RecNeighbourRows *items, const RecHistory *hist,
									int32_t u, int32_t i, float mu,
									const float *user_bias, const float *item_bias);
extern float RecPredictUserBaseline(const RecNeighbourRows *users, int32_t u, int32_t i,
									const int64_t *seen_ptr, const int32_t *seen_items,
									const float *seen_values, float mu,
									const float *user_bias, const float *item_bias);

/* The value hist holds for item i, or false if i is not in it */
extern bool RecHistoryValue(const RecHistory *hist, int32_t i, float *value);

/*
 * The listed items (sorted, unique) a score row reaches (a score of exactly zero
 * means no neighbour contributes) into the heap.  A neighbourhood model
 * recommends only what the history reaches.
 */
extern void RecSelectRowCandidates(TopNHeap *h, const float *scores, const int32_t *cand,
								   int64_t n_cand, const RecBlocked *b);

/*
 * The items a score row was written at, kept while scoring so that selection
 * reads only those instead of the whole catalogue.  mark holds (n_items + 63) /
 * 64 words, zero on entry; items has room for n_items + 1 entries (each item is
 * listed once; the extra slot is written, not counted).  RecTouchedClear zeroes
 * the marks and the touched scores again.
 */
typedef struct RecTouched
{
	uint64_t   *mark;
	int32_t    *items;
	int64_t		n;
} RecTouched;

/* RecScoreItemNeighbours and RecScoreUserNeighbours, listing what they touch */
extern void RecScoreItemNeighboursTouched(const RecNeighbourRows *items,
										  const RecHistory *hist, float *scores,
										  RecTouched *t);
extern void RecScoreUserNeighboursTouched(const RecNeighbourRows *users, int32_t u,
										  const int64_t *seen_ptr,
										  const int32_t *seen_items,
										  const float *seen_values, float *scores,
										  RecTouched *t);
/* The items a score row reaches, read from its touched list (no catalogue scan) */
extern void RecSelectTouched(TopNHeap *h, const float *scores, const RecTouched *t,
							 const RecBlocked *b);
extern void RecTouchedClear(RecTouched *t, float *scores);

/*
 * explain: the terms of a score, one per history entry, that sum to it.  Item
 * rows: terms[t] = value_t * w(item t -> target).  User neighbours (nbr, sims:
 * the user's neighbour row): each neighbour's term sim * r_v,target shared
 * among the history items the neighbour also has, in proportion to
 * value_t * r_v,t (see scoring.c).
 */
extern void RecTermsItemNeighbours(const RecNeighbourRows *items, const RecHistory *hist,
								   int32_t target, float *terms);
extern void RecTermsUserNeighbours(const RecHistory *hist, const int32_t *nbr,
								   const float *sims, int64_t n_nbr, int32_t target,
								   const int64_t *seen_ptr, const int32_t *seen_items,
								   const float *seen_values, float *terms);

/*
 * recommend_all and evaluate for neighbourhood models: each user's score row on
 * the worker's scratch, its best n unseen items kept in the output arrays the
 * same way RecBatch does for factor models.  All memory is allocated before the
 * threads start; run by RecParallelFor with any chunk size.
 */
typedef struct RecNeighbourBatch
{
	/* the model */
	int32_t		n_items;
	bool		by_user;		/* user kNN: rows of users; else rows of items */
	const struct RecModelView *text;	/* text content: score through its index */
	bool		text_center;	/* ... with centred profiles */
	struct RecTextScratch *text_scratch;	/* [threads] */
	RecNeighbourRows rows;
	const int64_t *seen_ptr;
	const int32_t *seen_items;
	const float *seen_values;
	const int32_t *popular;		/* cold start order */
	const int32_t *item_count;

	/* the request's filters, one for every user (as in RecBatch) */
	bool		exclude_seen;
	const int32_t *exclude;		/* sorted item indexes */
	int64_t		n_exclude;
	const int32_t *cand;		/* NULL: every item */
	int64_t		n_cand;

	/* this round */
	const int32_t *users;		/* user index per output row, -1 = unknown */
	int			n;				/* results per user */
	float	   *out_score;		/* [n_round_users * n] */
	int64_t    *out_item;		/* [n_round_users * n] item indexes */
	int		   *out_count;		/* [n_round_users] rows kept */
	bool	   *out_fallback;	/* [n_round_users] the popular items were kept */

	/* per-thread scratch */
	float	  **scores;			/* [thread] n_items floats, zero */
	RecTouched *touched;		/* [thread] marks zero, room for n_items + 1 */
} RecNeighbourBatch;

extern int	RecNeighbourBatchChunk(void *ctx, int thread, int64_t begin, int64_t end);

#endif							/* RECSYS_SCORING_H */
