/*
 * ann.h
 *		Approximate top-N for factor models: an inverted-file index over the item
 *		factors (k-means lists), built into the model as its ann_index section
 *		(model.h) and probed by the serving functions.
 *
 * Maximum inner product search is turned into nearest-centroid search by the
 * usual transform: item row a_i = [y_i, b_i] (b_i only with biases) becomes the
 * unit vector [a_i, sqrt(M^2 - |a_i|^2)] / M, M the largest |a_i|, so every item
 * has the same norm and inner products with a query [x, 1, 0] keep their order.
 * k-means (Lloyd, seeded, on a sample) partitions the transformed rows; a list's
 * stored centroid is the mean of its items' [y_i, b_i], so its inner product with
 * [x, 1] is the list's mean score: a query probes the lists of highest mean score
 * and ranks their items exactly.
 *
 * Plain C (no PostgreSQL headers): the numeric side runs on worker threads through
 * RecParallelFor.  ann_sql.c is the SQL side (build_index, the serving hook).
 */
#ifndef RECSYS_ANN_H
#define RECSYS_ANN_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"
#include "model.h"
#include "serving.h"
#include "solver.h"

/* users scored per chunk of the k-means and final assignments */
#define RECSYS_ANN_BLOCK	256

/*
 * One index build.  The caller fills the inputs, allocates every buffer (sizes
 * below) and then calls RecAnnSampleInit, RecAnnIterate `iterations` times (it may
 * check for a cancel between calls), RecAnnAssignAll and RecAnnWrite.
 */
typedef struct RecAnnBuild
{
	/* inputs */
	const float *Y;				/* n x k item factors */
	const float *bias;			/* n item biases, NULL without */
	int32_t		n;
	int			k;
	int			dim;			/* k, or k + 1 with biases */
	int32_t		lists;
	int64_t		ns;				/* training sample size, lists .. n */
	uint64_t	seed;
	int			threads;
	bool		vectors;		/* store the rows by list in the section */

	/* buffers the caller allocates */
	int32_t    *sample;			/* [n] scratch for the shuffle; the first ns are the sample */
	float	   *S;				/* [ns * (dim + 1)] transformed sample rows */
	float	   *C;				/* [lists * (dim + 1)] centroids */
	float	   *chalf;			/* [lists] |c|^2 / 2 */
	int32_t    *sassign;		/* [ns] the sample's lists */
	int32_t    *assign;			/* [n] every item's list */
	double	   *acc;			/* [lists * (dim + 1)] sums of a mean */
	int64_t    *count;			/* [lists] rows per list */
	float	  **rows;			/* [threads][RECSYS_ANN_BLOCK * (dim + 1)] */
	float	  **dots;			/* [threads][RECSYS_ANN_BLOCK * lists] */

	/* state */
	float		max_norm;		/* M */
	int			iterations;		/* done */
	int			phase;			/* 0: sample, 1: all items (which rows a chunk reads) */
} RecAnnBuild;

/* Picks and transforms the sample, sets max_norm and the first centroids */
extern void RecAnnSampleInit(RecAnnBuild *b);

/* One Lloyd iteration over the sample: assignment on threads, then the means */
extern int	RecAnnIterate(RecAnnBuild *b, const RecControl *ctl);

/* Assigns every item to its nearest centroid, on threads */
extern int	RecAnnAssignAll(RecAnnBuild *b, const RecControl *ctl);

/*
 * Writes the ann_index section (RecAnnWords(lists, dim, n, vectors) words) from the
 * assignment: header, mean rows per list, lists, items, assignment.
 */
extern void RecAnnWrite(const RecAnnBuild *b, int32_t probes, float build_ms,
						int32_t *words);

/*
 * Each list's radius (RecAnnIndex.radius): the largest distance of one of its
 * items' rows [y_i, b_i] from the list's stored mean.  A query q = [x, 1] then
 * scores no item of list c above q.mean_c + |q| radius_c.  The probe ranks
 * lists by q.mean_c + w |q| radius_c, w = RECSYS_ANN_RADIUS_WEIGHT: a list of
 * mixed norms whose mean score is low but which holds one long row is still
 * probed early, while the full bound (w = 1), loose in many dimensions, would
 * put every wide list first.
 */

/*
 * w above.  Measured recall@10 at 4 to 128 probes for w in 0 .. 1 on five
 * models: the planted 1M x 64 bench model (w 0: 0.981 at 8 probes, 0.25:
 * 0.996, 1: 0.997), trained iALS models of 16 and 32 factors (0.25 best or
 * within 0.002 of it), an explicit ALS model with biases (0.125-0.25 best; 1
 * far worse: 0.51 against 0.76 at 16 probes) and test/unit/ann_test.c's data
 * (0.25 best, 1 worst).
 */
#define RECSYS_ANN_RADIUS_WEIGHT	0.25f
extern void RecAnnRadii(const RecAnnIndex *ix, const float *Y, const float *bias, int k,
						float *radius);

/*
 * The best items for one user vector x (k floats) with base added to every
 * score: the `probes` lists of highest key (mean score plus a share of the
 * radius, RecAnnRadii; the mean score alone without radii) are ranked exactly, then
 * further lists in the same order while the heap is not full (so filters never
 * return fewer rows than the exact path).  cscore and corder are scratch of
 * ix->lists entries.  Returns false if a score was not finite.
 */
extern bool RecAnnSelect(TopNHeap *h, const RecAnnIndex *ix, const float *x, int k,
						 const float *Y, const float *item_bias, float base,
						 int32_t probes, const RecBlocked *b,
						 float *cscore, int32_t *corder);

/* recommend_all through the index: RecBatch's fields, plus the index's */
typedef struct RecAnnBatch
{
	const RecBatch *bt;			/* the model, filters, round and outputs */
	const RecAnnIndex *ix;
	int32_t		probes;
	float	  **cscore;			/* [thread][lists] */
	int32_t   **corder;			/* [thread][lists] */
} RecAnnBatch;

/* RecParallelFor body over a round's users (any chunk size) */
extern int	RecAnnBatchChunk(void *ctx, int thread, int64_t begin, int64_t end);

#endif							/* RECSYS_ANN_H */
