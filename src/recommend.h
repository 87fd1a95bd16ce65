/*
 * recommend.h
 *		The batched top-N path of recommend_all, for other SQL-facing files that
 *		need the best items of many users at once (recsys.evaluate).
 */
#ifndef RECSYS_RECOMMEND_H
#define RECSYS_RECOMMEND_H

#include "cache.h"
#include "scoring.h"
#include "serving.h"
#include "vec.h"

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

/*
 * A batch request's filters, the same for every user (recommend_all): training
 * items excluded or not, candidates (sorted, unique item indexes; NULL for the
 * whole catalogue) and items never returned (sorted item indexes).
 */
typedef struct RecBatchFilter
{
	bool		exclude_seen;
	const int32 *cand;
	int64		n_cand;
	const int32 *exclude;
	int64		n_exclude;
	const struct RecAnnRequest *ann;	/* the index or not (ann_sql.h); NULL: exact */
} RecBatchFilter;

/* RecBatchRun with a request's filters applied before ranking */
extern void RecBatchRunFiltered(RecModelEntry *e, const int32 *users, int64 n_users, int n,
								const RecBatchFilter *filter, RecBatchEmitFn emit,
								void *arg);

/*
 * A history argument pair (item_ids bigint[], values real[] or none when
 * values_arg < 0) as sorted, unique item indexes of the model with their
 * values, unknown items dropped, repeated ones merged as training merges them
 */
extern RecHistory RecHistoryArg(FunctionCallInfo fcinfo, RecModelEntry *e, int items_arg,
								int values_arg);

/*
 * The user vector (and explicit bias in *bias) training would learn from a
 * history with the item side fixed; the fold_in of recsys.fold_in (track.c)
 */
extern Vec *RecFoldInHistory(RecModelEntry *e, const RecHistory *hist, float *bias);
#endif							/* RECSYS_RECOMMEND_H */
