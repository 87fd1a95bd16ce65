/*
 * interactions.h
 *		The interaction matrix every fit trains on, built from the training
 *		aggregate's compact triples: ids relabelled in ascending raw order,
 *		duplicates merged, CSR and CSC by counting sort over recsys.threads.  Also
 *		the memory account of a training run (recsys.max_train_mb) and the error a
 *		solver status stands for, which both the build and the fits use.
 *
 * The triples' storage types are declared here because the build reads them;
 * the aggregate state that fills them is train.c's.
 */
#ifndef RECSYS_INTERACTIONS_H
#define RECSYS_INTERACTIONS_H

#include "postgres.h"

#include "solver.h"

/* ------------------------------------------------------------ memory account */

/*
 * Memory of one training run, counted against recsys.max_train_mb: live bytes
 * and their peak (the model's peak_bytes), with what messages need.
 */
typedef struct RecTrainMemory
{
	const char *aggregate;		/* SQL name, for messages */
	int64		live;
	int64		peak;
	int64		n;				/* interactions, for messages */
	int32		n_users;
	int32		n_items;
	int			threads;		/* threads of the build's passes; 0: recsys.threads */
} RecTrainMemory;

/* recsys.max_train_mb in bytes */
extern int64 RecMaxTrainBytes(void);

/* Counts bytes about to be allocated; 54000 before allocating past the limit */
extern void RecTrainReserve(RecTrainMemory *tm, int64 bytes, const char *what);

/* palloc of n elements of size bytes (huge allowed), counted; max(n, 1) elements */
extern void *RecTrainAlloc(RecTrainMemory *tm, int64 n, size_t size, const char *what);

/* pfree of a RecTrainAlloc array of the same n and size */
extern void RecTrainFree(RecTrainMemory *tm, void *p, int64 n, size_t size);

/* Raises the error that belongs to a solver status (RECSYS_*); returns on OK */
extern void RecRaiseSolverStatus(int status, const char *aggregate);

/* ------------------------------------------------------------ the triples */

/* One input row after id mapping: 12 bytes */
typedef struct RecTriple
{
	int32		user;			/* dense user index (arrival order) */
	int32		item;			/* dense item index (arrival order) */
	float		value;
} RecTriple;

/* An entry of a chunk grouped by user: 8 bytes */
typedef struct RecPair
{
	int32		item;
	float		value;
} RecPair;

/* Where a user's entries start in a chunk grouped by user */
typedef struct RecUserRun
{
	int32		user;
	int32		start;			/* entries before it in the chunk */
} RecUserRun;

/*
 * Values on the half-step grid 0, 0.5, 1, ..., 127.5 (star ratings, counts)
 * are kept in one byte, code 2v, where a layout allows it: RecHalfStepCode
 * gives a value's code if it has one, the very same bits coming back from
 * RecHalfStepValue (so -0 has none)
 */
static inline bool
RecHalfStepCode(float value, uint8 *code)
{
	if (value >= 0.0f && value <= 127.5f)
	{
		int			c = (int) (value * 2.0f);
		float		back = (float) c * 0.5f;
		uint32		a,
					b;

		memcpy(&a, &value, sizeof(a));
		memcpy(&b, &back, sizeof(b));
		if (a == b)
		{
			*code = (uint8) c;
			return true;
		}
	}
	return false;
}

static inline float
RecHalfStepValue(uint8 code)
{
	return (float) code * 0.5f;
}

/*
 * Interactions in one allocation, as triples or grouped by user: pairs (or,
 * while every item index fits 16 bits, a column of items16 and one of values,
 * or of their half-step codes while every value has one), and the user of each
 * run of consecutive entries (input grouped by user, the usual layout of a
 * table loaded per user or of a parallel worker's share of one, takes 3, 6 or
 * 8 bytes per interaction that way instead of 12, and sorting it by user
 * counts runs, not entries).  A chunk taken over from
 * another state keeps that state's dense indexes; its segment says how they
 * map to this state's, so combining never rewrites or copies the interactions.
 */
typedef struct RecTripleChunk
{
	RecTriple  *t;				/* the triples, or NULL: */
	RecPair    *pairs;			/* [cap] item and value of each entry, or NULL: */
	uint16	   *items16;		/* [cap] the items (every one below 65,536),
								 * 6 bytes an entry instead of 8, and */
	float	   *values;			/* [cap] their values, or NULL: */
	uint8	   *codes;			/* [cap] their half-step codes */
	RecUserRun *user_runs;		/* [max_user_runs]: runs in entry order */
	int32		n_user_runs;
	int32		max_user_runs;
	int64		len;			/* entries used */
	int64		cap;			/* entries allocated; len == cap means full */
	int32		segment;		/* -1: the state's dense indexes; else segments[] */
	bool		unchecked;		/* written by another process: the build checks
								 * every index as it reads it (its runs' users
								 * were checked when it arrived) */
} RecTripleChunk;

/* The entry after a grouped chunk's run k */
static inline int64
RecUserRunEnd(const RecTripleChunk *c, int32 k)
{
	return k + 1 < c->n_user_runs ? c->user_runs[k + 1].start : c->len;
}

/* Value of entry j of a grouped chunk */
static inline float
RecChunkValue(const RecTripleChunk *c, int64 j)
{
	if (c->pairs != NULL)
		return c->pairs[j].value;
	return c->codes != NULL ? RecHalfStepValue(c->codes[j]) : c->values[j];
}

/* Dense index maps of chunks merged in from another state, into the state's */
typedef struct RecSegment
{
	int32	   *users;			/* [n_users]: the other state's dense user -> ours */
	int32	   *items;			/* [n_items] */
	int32		n_users;
	int32		n_items;
} RecSegment;

/*
 * Interactions already sorted into rows (a parallel worker's partial state,
 * presorted by train_serialfn): row r holds the interactions of the r-th user in
 * the producing state's ascending raw-id order, sorted by that state's item
 * rank, equal items in arrival order, duplicates not merged.  Row and item
 * indexes are the producing state's ranks; a run kept by the state that
 * produced it (segment -1) uses its dense indexes, which are those ranks.
 * Stored compactly as it came through the tuple queue: item ranks in 16 bits
 * when the producer had at most 65,536 items, values as one-byte codes into a
 * dictionary when it had at most 256 distinct values (read them with
 * RecRunItem and RecRunValue).  All arrays lie in one block (blob).
 */
typedef struct RecTripleRun
{
	const int64 *ptr;			/* [n_rows + 1] */
	const int32 *items;			/* [n]: item of each entry, or NULL: */
	const uint16 *items16;		/* [n]: the same in 16 bits */
	const float *values;		/* [n]: value of each entry, or NULL: */
	const uint8 *codes;			/* [n]: index into dict */
	const float *dict;			/* [n_codes] */
	int32		n_codes;
	int32		n_items;		/* the producer's items: every item rank is below */
	int32		n_rows;
	int64		n;
	int32		segment;		/* -1: the state's dense indexes; else segments[] */
	const char *blob;			/* the block holding the arrays above */
	uint64		blob_bytes;
} RecTripleRun;

/* Item rank of entry j of a run */
static inline int32
RecRunItem(const RecTripleRun *run, int64 j)
{
	return run->items16 ? (int32) run->items16[j] : run->items[j];
}

/* Value of entry j of a run */
static inline float
RecRunValue(const RecTripleRun *run, int64 j)
{
	return run->codes ? run->dict[run->codes[j]] : run->values[j];
}

/* One side's ids as the state numbered them (in order of first appearance) */
typedef struct RecIdList
{
	const int64 *raw;			/* [n]: dense index -> raw id */
	int32		n;
	const int32 *direct;		/* [direct_cap]: raw id -> dense index or -1 */
	int64		direct_cap;
	bool		all_direct;		/* every id is in direct[] (it then sorts them) */
} RecIdList;

/* What the build reads: the aggregate state, seen from outside */
typedef struct RecTripleSource
{
	RecIdList	users;
	RecIdList	items;
	const RecTripleChunk *chunks;
	int32		n_chunks;
	const RecTripleRun *runs;	/* runs and chunks are not mixed in one source */
	int32		n_runs;
	const RecSegment *segments;
	int32		n_segments;
	int64		n;				/* triples in all chunks or runs */
	int64		bytes;			/* memory the source holds (counted in live) */

	/*
	 * Called once the build no longer reads the source (after its first pass):
	 * frees it, so its bytes leave the account before the CSR is built.
	 */
	void		(*release) (void *arg);
	void	   *release_arg;
} RecTripleSource;

/* ------------------------------------------------------------ the build */

/*
 * The deduplicated interactions over dense indexes in ascending raw-id order.
 * Arrays are RecTrainAlloc'd in the current memory context; ratings points into
 * them.
 */
typedef struct RecInteractions
{
	RecRatings	ratings;		/* CSR by user and CSC by item (solver.h) */
	int64	   *user_ids;		/* [n_users]: raw ids, ascending */
	int64	   *item_ids;		/* [n_items] */
	float		value_min;		/* smallest value after merging */
	float		value_max;		/* largest */
} RecInteractions;

/*
 * Fails (54000) before anything is built if the build cannot fit next to the
 * state (tm->live) and a model of model_bytes: relabelling and the first pass
 * beside the state, then CSR + CSC + the model.
 */
extern void RecCheckBuildMemory(RecTrainMemory *tm, int32 n_users, int32 n_items,
								int64 n, uint64 model_bytes);

/*
 * Builds the interactions of src (which must hold at least one triple) and
 * releases src once it is read.  Duplicate (user, item) values add up (summed
 * in ascending order) when add_duplicates, else the last one in arrival order
 * wins.  Without by_item the CSC has its column pointers only (item_users and
 * item_values NULL), for a fit that reads no more of it.  Checks for
 * interrupts; counts everything in tm.
 */
extern void RecBuildInteractions(RecTrainMemory *tm, const RecTripleSource *src,
								 bool add_duplicates, bool by_item,
								 RecInteractions *out);

/* Where RecSortRows puts the rows when the caller provides the arrays */
typedef struct RecRowsDest
{
	int64	   *user_ptr;		/* [n_users + 1] */
	int32	   *user_items;		/* [n] */
	float	   *user_values;	/* [n] */
} RecRowsDest;

/*
 * The first half of the build: src's interactions as rows, users and items
 * relabelled in ascending raw-id order (*user_ids, *item_ids), each row sorted
 * by item with equal items in arrival order and duplicates kept (*user_ptr,
 * *user_items, *user_values: dst's arrays, or RecTrainAlloc'd when dst is
 * NULL).  Chunks are counting-sorted by user and each row then sorted by item;
 * runs (already sorted) are merged.  Releases src once it is read.
 * train_serialfn presorts a parallel worker's partial state with it, straight
 * into the bytea it sends.
 */
extern void RecSortRows(RecTrainMemory *tm, const RecTripleSource *src,
						const RecRowsDest *dst, int64 **user_ids, int64 **item_ids,
						int64 **user_ptr, int32 **user_items, float **user_values);

/* count[i] = interactions of item i (the model's popularity section) */
extern void RecItemCounts(const RecRatings *r, int32 *count);

#endif							/* RECSYS_INTERACTIONS_H */
