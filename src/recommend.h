/*
 * recommend.h
 *		The batched top-N path of recommend_all, for other SQL-facing files that
 *		need the best items of many users at once (recsys.evaluate).
 */
#ifndef RECSYS_RECOMMEND_H
#define RECSYS_RECOMMEND_H

#include "cache.h"
#include "serving.h"

/*
 * Receives one round of RecBatchRun: round row r (0 .. count - 1) is the user
 * users[start + r], its results are row r of out (serving.h).
 */
typedef void (*RecBatchEmitFn) (void *arg, const RecBatchOut *out, int64 start, int64 count);

/*
 * The n best items of each of n_users users (model user indexes, -1 = unknown:
 * the most popular items), training items excluded when the model stores
 * them, scored on recsys.threads threads (SGEMM for factor models, sparse
 * score rows for neighbourhood models); honours cancellation.
 */
extern void RecBatchRun(RecModelEntry *e, const int32 *users, int64 n_users, int n,
						RecBatchEmitFn emit, void *arg);

#endif							/* RECSYS_RECOMMEND_H */
