/*
 * interactions.c
 *		The interaction matrix a fit trains on, built from the training
 *		aggregate's triples: dense indexes relabelled in ascending raw-id order,
 *		duplicate (user, item) pairs merged, CSR by user and CSC by item by stable
 *		counting sorts over recsys.threads.  Also the memory account of a training
 *		run and the errors that solver statuses stand for.
 *
 * The model depends only on the multiset of input rows: whatever the plan, the
 * row order or the number of threads, the same rows give the same matrix.  The
 * aggregate state and its (de)serialisation are train.c's; what is learnt from
 * the matrix is the fits' (algorithms.c).
 */
#include "postgres.h"

#include <math.h>
#include <stdatomic.h>

#include "miscadmin.h"

#include "interactions.h"
#include "kernels.h"
#include "model.h"
#include "recsys.h"
#include "solver.h"

/* ------------------------------------------------------------ memory account */

/* Bytes a limit in MB stands for */
int64
RecMaxTrainBytes(void)
{
	return (int64) recsys_max_train_mb * 1024 * 1024;
}

/* Counts bytes about to be allocated; fails before allocating past the limit */
void
RecTrainReserve(RecTrainMemory *tm, int64 bytes, const char *what)
{
	if (tm->live + bytes > RecMaxTrainBytes())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s needs %.1f MB for %s, more than %s (%d MB)",
						tm->aggregate, (tm->live + bytes) / (1024.0 * 1024.0), what,
						RecTrainMbSetting(), recsys_max_train_mb),
				 errdetail("The input has " INT64_FORMAT " interactions of %d users and %d items.",
						   tm->n, tm->n_users, tm->n_items),
				 errhint("Raise %s, or train on fewer rows or factors.", RecTrainMbSetting())));
	tm->live += bytes;
	tm->peak = Max(tm->peak, tm->live);
}

/* palloc of a counted array of n elements of size bytes (huge allowed) */
void *
RecTrainAlloc(RecTrainMemory *tm, int64 n, size_t size, const char *what)
{
	int64		bytes = Max(n, 1) * (int64) size;
	void	   *p;

	RecTrainReserve(tm, bytes, what);
	p = palloc_extended(bytes, MCXT_ALLOC_HUGE);
	RecAdviseHugePages(p, bytes);
	return p;
}

/* pfree of a RecTrainAlloc array */
void
RecTrainFree(RecTrainMemory *tm, void *p, int64 n, size_t size)
{
	tm->live -= Max(n, 1) * (int64) size;
	pfree(p);
}

/* Raises the error that belongs to a solver status */
void
RecRaiseSolverStatus(int status, const char *aggregate)
{
	switch (status)
	{
		case RECSYS_OK:
			return;
		case RECSYS_INTERRUPTED:
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("%s was interrupted", aggregate)));
			break;
		case RECSYS_ENOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory in the %s solver", aggregate)));
			break;
		case RECSYS_ENOTPD:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s could not solve the normal equations: a matrix is not positive definite",
							aggregate),
					 errhint("Increase the \"regularization\" option.")));
			break;
		case RECSYS_STUCK:
			RecReportStuck(aggregate);
			break;
		case RECSYS_ETHREAD:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("%s could not start its solver threads", aggregate),
					 errhint("Lower recsys.threads (now %d).", recsys_threads)));
			break;
		default:
			elog(ERROR, "%s solver failed with status %d", aggregate, status);
	}
}

/* ------------------------------------------------------------ relabelling */

/* qsort comparator for values */
static int
CompareFloat(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return (x > y) - (x < y);
}

/*
 * Sorted copy of one side's raw ids (the model's id section) and rank[dense], the
 * position of each dense index in that order.  Ids all held by the direct array
 * come out sorted by scanning it; others are sorted and searched.
 */
static void
RelabelIds(RecTrainMemory *tm, const RecIdList *m, int64 **sorted, int32 **rank)
{
	int64	   *s = RecTrainAlloc(tm, m->n, sizeof(int64), "sorted ids");
	int32	   *r = RecTrainAlloc(tm, m->n, sizeof(int32), "id ranks");

	if (m->all_direct)
	{
		/* every id is in the direct array: reading it in id order sorts them */
		int32		next = 0;

		for (int64 id = 0; id < m->direct_cap; id++)
			if (m->direct[id] >= 0)
			{
				s[next] = id;
				r[m->direct[id]] = next++;
			}
		Assert(next == m->n);
		*sorted = s;
		*rank = r;
		return;
	}
	memcpy(s, m->raw, sizeof(int64) * m->n);
	qsort(s, m->n, sizeof(int64), RecCompareInt64);
	for (int32 d = 0; d < m->n; d++)
		r[d] = RecFindId(s, m->n, m->raw[d]);
	*sorted = s;
	*rank = r;
}

/*
 * Rank arrays for every chunk's numbering: [0] is the state's own (user_rank,
 * item_rank), [s + 1] segment s's maps composed with them, so the passes relabel
 * triples merged from other states with one lookup, as they do the others.
 */
static void
SegmentRanks(RecTrainMemory *tm, const RecTripleSource *src, int32 *user_rank,
			 int32 *item_rank, int32 ***seg_user_rank, int32 ***seg_item_rank)
{
	int32	  **ur = palloc(sizeof(int32 *) * (src->n_segments + 1));
	int32	  **ir = palloc(sizeof(int32 *) * (src->n_segments + 1));

	ur[0] = user_rank;
	ir[0] = item_rank;
	for (int32 s = 0; s < src->n_segments; s++)
	{
		const RecSegment *seg = &src->segments[s];

		ur[s + 1] = RecTrainAlloc(tm, seg->n_users, sizeof(int32), "id ranks");
		ir[s + 1] = RecTrainAlloc(tm, seg->n_items, sizeof(int32), "id ranks");
		for (int32 d = 0; d < seg->n_users; d++)
			ur[s + 1][d] = user_rank[seg->users[d]];
		for (int32 d = 0; d < seg->n_items; d++)
			ir[s + 1][d] = item_rank[seg->items[d]];
	}
	*seg_user_rank = ur;
	*seg_item_rank = ir;
}

/* ------------------------------------------------------------ counting sorts */

/* Threads of the build's passes: the account's, else recsys.threads */
static inline int
BuildThreads(const RecTrainMemory *tm)
{
	return tm->threads > 0 ? tm->threads : Max(recsys_threads, 1);
}

/*
 * How a pass whose ranges run on the build's threads stops on a cancel: the
 * backend's thread asks PostgreSQL (RecControl.interrupted) and raises the
 * flag, which the ranges on other threads read between blocks of entries; a
 * range on the backend's own thread (one range, or one thread) asks itself.
 */
typedef struct PassCancel
{
	atomic_bool cancel;
	bool		poll_inline;
} PassCancel;

/* RecControl.interrupted of a pass: also tells running ranges to stop */
static bool
PassInterrupted(void *arg)
{
	PassCancel *c = (PassCancel *) arg;

	if (!RecCancelRequested(NULL))
		return false;
	atomic_store(&c->cancel, true);
	return true;
}

/* True if a range should stop */
static inline bool
PassStop(PassCancel *c)
{
	if (c->poll_inline)
		return PassInterrupted(c);
	return atomic_load_explicit(&c->cancel, memory_order_relaxed);
}

/* Arms c, and ctl to run a pass of `ranges` ranges on `threads` threads */
static void
PassCancelInit(PassCancel *c, RecControl *ctl, int ranges, int threads)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->interrupted = PassInterrupted;
	ctl->arg = c;
	atomic_store(&c->cancel, false);
	c->poll_inline = (ranges == 1 || threads == 1);
}

/*
 * Cuts rows [0, n_rows) of a CSR (ptr, n entries) into `ranges` ranges of
 * whole rows holding about n / ranges entries each: range r is rows
 * [range_begin[r], range_begin[r + 1]).
 */
static void
RowRanges(const int64 *ptr, int32 n_rows, int64 n, int ranges, int32 *range_begin)
{
	int32		row = 0;

	for (int r = 0; r < ranges; r++)
	{
		int64		target = n / ranges * r;

		while (row < n_rows && ptr[row] < target)
			row++;
		range_begin[r] = row;
	}
	range_begin[ranges] = n_rows;
}

/*
 * The build's counting sorts, run over recsys.threads.  The input is cut
 * into ranges in input order; each range counts its keys into its own histogram,
 * the histograms become write positions (bucket by bucket, ranges in input order),
 * and each range scatters into its own positions.  Every bucket thus receives its
 * entries in input order, exactly where a single serial pass would put them,
 * whatever the number of threads.  Memory is allocated before the threads start;
 * they call nothing in PostgreSQL.
 */
typedef struct BucketPass
{
	/* the source: the state's chunks (users -> buckets), or a compressed matrix (rows -> buckets) */
	const RecTripleSource *src;	/* NULL for a matrix */
	const int64 *chunk_start;	/* [n_chunks + 1]: position of each chunk's first entry */
	int32	  **user_rank;		/* [segment + 1]: dense user -> rank */
	int32	  **item_rank;
	const int32 *n_users;		/* [segment + 1]: the bounds of unchecked chunks' */
	const int32 *n_items;		/* indexes */
	bool	   *bad;			/* [ranges]: an unchecked index was out of bounds */
	const int64 *ptr;			/* matrix: [rows + 1] */
	const int32 *idx;			/* matrix: bucket of each entry */
	const float *val;
	int64	   *range_begin;	/* [ranges + 1]: positions (chunks) or rows (matrix) */
	int			ranges;
	int			threads;		/* threads running the ranges */
	int32		n_buckets;
	int64	   *hist;			/* [ranges * n_buckets]: counts, then positions */
	bool		counting;		/* which half of the pass runs */
	PassCancel	stop;
	int32	   *out_idx;		/* scatter: row (or item rank) of each entry */
	float	   *out_val;
} BucketPass;

/* Entries a range handles between two looks at the cancel flag */
#define PASS_POLL_BLOCK		65536

/* Below this many entries per range the threads cost more than they save */
#define PASS_MIN_RANGE		4096

/*
 * An index of an unchecked chunk, within [0, n): itself, or 0 with the range
 * marked bad (the pass goes on, so that counts and positions agree, and the
 * build fails once it ends)
 */
static inline uint32
BucketPassIndex(int32 index, int32 n, bool *bad)
{
	if (likely((uint32) index < (uint32) n))
		return (uint32) index;
	*bad = true;
	return 0;
}

/* How a grouped chunk keeps its entries (each scatter loop is compiled for one) */
#define GROUPED_PAIRS		0	/* RecPair */
#define GROUPED_NARROW		1	/* items16 and values */
#define GROUPED_CODES		2	/* items16 and half-step codes */

/* Entries [from, e) of a grouped chunk kept as layout says to out_idx, out_val */
static pg_attribute_always_inline void
ScatterGrouped(const RecTripleChunk *ch, int layout, bool check, int64 from, int64 e,
			   const int32 *irank, int32 n_items, int32 *out_idx, float *out_val, bool *bad)
{
	for (int64 j = from; j < e; j++)
	{
		int32		item = layout == GROUPED_PAIRS ? ch->pairs[j].item : ch->items16[j];

		*out_idx++ = irank[check ? BucketPassIndex(item, n_items, bad) : item];
		*out_val++ = layout == GROUPED_PAIRS ? ch->pairs[j].value :
			layout == GROUPED_NARROW ? ch->values[j] : RecHalfStepValue(ch->codes[j]);
	}
}

/*
 * Entries [from, to) of a chunk grouped by user: each run's entries count
 * at once and scatter to consecutive positions
 */
static void
BucketPassGrouped(BucketPass *p, const RecTripleChunk *ch, int64 *h, const int32 *urank,
				  const int32 *irank, int64 from, int64 to, int32 n_items, bool *bad)
{
	int			layout = ch->pairs != NULL ? GROUPED_PAIRS :
		ch->codes != NULL ? GROUPED_CODES : GROUPED_NARROW;
	int32		lo = 0,
				hi = ch->n_user_runs - 1;

	/* the run holding entry from: the last one starting at or before it */
	while (lo < hi)
	{
		int32		mid = lo + (hi - lo + 1) / 2;

		if (ch->user_runs[mid].start <= from)
			lo = mid;
		else
			hi = mid - 1;
	}
	for (int32 k = lo; from < to; k++)
	{
		int64		e = Min(RecUserRunEnd(ch, k), to);
		int64	   *bucket = &h[urank[ch->user_runs[k].user]];

		if (p->counting)
			*bucket += e - from;
		else
		{
			int32	   *out_idx = p->out_idx + *bucket;
			float	   *out_val = p->out_val + *bucket;

			*bucket += e - from;
			if (layout == GROUPED_CODES && ch->unchecked)
				ScatterGrouped(ch, GROUPED_CODES, true, from, e, irank, n_items,
							   out_idx, out_val, bad);
			else if (layout == GROUPED_CODES)
				ScatterGrouped(ch, GROUPED_CODES, false, from, e, irank, n_items,
							   out_idx, out_val, bad);
			else if (layout == GROUPED_NARROW && ch->unchecked)
				ScatterGrouped(ch, GROUPED_NARROW, true, from, e, irank, n_items,
							   out_idx, out_val, bad);
			else if (layout == GROUPED_NARROW)
				ScatterGrouped(ch, GROUPED_NARROW, false, from, e, irank, n_items,
							   out_idx, out_val, bad);
			else if (ch->unchecked)
				ScatterGrouped(ch, GROUPED_PAIRS, true, from, e, irank, n_items,
							   out_idx, out_val, bad);
			else
				ScatterGrouped(ch, GROUPED_PAIRS, false, from, e, irank, n_items,
							   out_idx, out_val, bad);
		}
		from = e;
	}
}

/* One range of the state's interactions: bucket = user rank, entry = item rank */
static int
BucketPassChunks(BucketPass *p, int r)
{
	const RecTripleSource *src = p->src;
	int64	   *h = p->hist + (int64) r * p->n_buckets;
	int64		pos = p->range_begin[r],
				end = p->range_begin[r + 1];
	int32		c = 0;

	while (c < src->n_chunks && p->chunk_start[c + 1] <= pos)
		c++;
	while (pos < end)
	{
		const RecTripleChunk *ch = &src->chunks[c];
		const RecTriple *t = ch->t;
		const int32 *urank = p->user_rank[ch->segment + 1];
		const int32 *irank = p->item_rank[ch->segment + 1];
		int32		nu = p->n_users[ch->segment + 1],
					ni = p->n_items[ch->segment + 1];
		bool	   *bad = &p->bad[r];
		int64		from = pos - p->chunk_start[c];
		int64		to = Min(end, p->chunk_start[c + 1]) - p->chunk_start[c];

		to = Min(to, from + PASS_POLL_BLOCK);
		if (PassStop(&p->stop))
			return RECSYS_INTERRUPTED;
		if (t == NULL)
			BucketPassGrouped(p, ch, h, urank, irank, from, to, ni, bad);
		else if (ch->unchecked && p->counting)
			for (int64 j = from; j < to; j++)
				h[urank[BucketPassIndex(t[j].user, nu, bad)]]++;
		else if (ch->unchecked)
			for (int64 j = from; j < to; j++)
			{
				int64		q = h[urank[BucketPassIndex(t[j].user, nu, bad)]]++;

				p->out_idx[q] = irank[BucketPassIndex(t[j].item, ni, bad)];
				p->out_val[q] = t[j].value;
			}
		else if (p->counting)
			for (int64 j = from; j < to; j++)
				h[urank[t[j].user]]++;
		else
			for (int64 j = from; j < to; j++)
			{
				int64		q = h[urank[t[j].user]]++;

				p->out_idx[q] = irank[t[j].item];
				p->out_val[q] = t[j].value;
			}
		pos += to - from;
		if (pos == p->chunk_start[c + 1])
			c++;
	}
	return RECSYS_OK;
}

/* One range of rows of a compressed matrix: bucket = column, entry = row */
static int
BucketPassRows(BucketPass *p, int r)
{
	int64	   *h = p->hist + (int64) r * p->n_buckets;
	int64		done = 0;

	for (int64 row = p->range_begin[r]; row < p->range_begin[r + 1]; row++)
	{
		int64		from = p->ptr[row],
					to = p->ptr[row + 1];

		if (p->counting)
			for (int64 j = from; j < to; j++)
				h[p->idx[j]]++;
		else
			for (int64 j = from; j < to; j++)
			{
				int64		q = h[p->idx[j]]++;

				p->out_idx[q] = (int32) row;
				p->out_val[q] = p->val[j];
			}
		done += to - from;
		if (done >= PASS_POLL_BLOCK)
		{
			done = 0;
			if (PassStop(&p->stop))
				return RECSYS_INTERRUPTED;
		}
	}
	return RECSYS_OK;
}

/* RecParallelFor body: the ranges [begin, end) */
static int
BucketPassChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	BucketPass *p = (BucketPass *) ctx;

	for (int64 r = begin; r < end; r++)
	{
		int			rc = p->src ? BucketPassChunks(p, (int) r) : BucketPassRows(p, (int) r);

		if (rc != RECSYS_OK)
			return rc;
	}
	return RECSYS_OK;
}

/* Runs one half of a pass over all ranges; raises an interrupt or thread failure */
static void
BucketPassRun(BucketPass *p, const char *agg)
{
	RecControl	ctl;
	int			status;

	PassCancelInit(&p->stop, &ctl, p->ranges, p->threads);
	status = RecParallelFor(p->threads, p->ranges, 1, BucketPassChunk, p, &ctl);
	RecRaiseSolverStatus(status, agg);
}

/*
 * Prepares a pass over n entries: the number of ranges, the histograms (from
 * tm) and range_begin (filled by the caller).
 */
static void
BucketPassInit(RecTrainMemory *tm, BucketPass *p, int64 n, int32 n_buckets)
{
	memset(p, 0, sizeof(*p));
	p->threads = BuildThreads(tm);
	p->ranges = (int) Max(1, Min((int64) p->threads, n / PASS_MIN_RANGE));
	p->n_buckets = n_buckets;
	p->hist = RecTrainAlloc(tm, (int64) p->ranges * n_buckets, sizeof(int64),
						   "the counting sort");
	p->range_begin = palloc(sizeof(int64) * (p->ranges + 1));
}

/* Releases what BucketPassInit took */
static void
BucketPassFree(RecTrainMemory *tm, BucketPass *p)
{
	RecTrainFree(tm, p->hist, (int64) p->ranges * p->n_buckets, sizeof(int64));
	pfree(p->range_begin);
}

/*
 * Counts, turns the counts into positions (bucket starts in ptr[0..n_buckets]) and
 * scatters.
 */
static void
BucketPassSort(BucketPass *p, int64 *ptr, const char *agg)
{
	int64		pos = 0;

	memset(p->hist, 0, sizeof(int64) * p->ranges * (int64) p->n_buckets);
	p->counting = true;
	BucketPassRun(p, agg);
	for (int32 b = 0; b < p->n_buckets; b++)
	{
		ptr[b] = pos;
		for (int r = 0; r < p->ranges; r++)
		{
			int64	   *h = p->hist + (int64) r * p->n_buckets + b;
			int64		count = *h;

			*h = pos;
			pos += count;
		}
	}
	ptr[p->n_buckets] = pos;
	p->counting = false;
	BucketPassRun(p, agg);
}

/*
 * Transposes a compressed matrix of n_rows rows and nnz entries (columns idx, values
 * val) into out_ptr[n_cols + 1], out_idx[nnz], out_val[nnz]: each column lists its
 * rows in ascending order, entries of one row in their order in the row.
 */
static void
TransposeRows(RecTrainMemory *tm, const int64 *ptr, const int32 *idx, const float *val,
			  int32 n_rows, int64 nnz, int32 n_cols,
			  int64 *out_ptr, int32 *out_idx, float *out_val, const char *agg)
{
	BucketPass	p;
	int64		row = 0;

	BucketPassInit(tm, &p, nnz, n_cols);
	p.ptr = ptr;
	p.idx = idx;
	p.val = val;
	p.out_idx = out_idx;
	p.out_val = out_val;
	/* ranges of whole rows holding about nnz / ranges entries each */
	for (int r = 0; r < p.ranges; r++)
	{
		int64		target = nnz / p.ranges * r;

		while (row < n_rows && ptr[row] < target)
			row++;
		p.range_begin[r] = row;
	}
	p.range_begin[p.ranges] = n_rows;
	BucketPassSort(&p, out_ptr, agg);
	BucketPassFree(tm, &p);
}


/* ------------------------------------------------------------ the build */

/*
 * The early check: fails before building anything if the phases below cannot
 * fit (relabelling and the by-user pass next to the state, then CSR + CSC +
 * the model).
 */
void
RecCheckBuildMemory(RecTrainMemory *tm, int32 n_users, int32 n_items, int64 n,
					uint64 model_bytes)
{
	int64		ids = 12 * ((int64) n_users + n_items);
	int64		csr = 8 * (int64) (n_users + 1) + 8 * n;
	int64		csc = 8 * (int64) (n_items + 1) + 8 * n;
	int64		need = Max(tm->live + ids + csr,
						   Max(ids + csc + csr, ids + csr + csc + (int64) model_bytes));

	/* duplicates can only make the arrays and the model smaller */
	if (need > RecMaxTrainBytes())
	{
		tm->live = 0;
		RecTrainReserve(tm, need, "its input, CSR/CSC copies and the model");
	}
}

/*
 * Pass 1: the source's triples counting-sorted by user rank (stable: arrival
 * order within a user) into user_ptr, user_items (item ranks) and user_values.
 */
static void
SortSourceByUser(RecTrainMemory *tm, const RecTripleSource *src, int32 **seg_user_rank,
				 int32 **seg_item_rank, int64 *user_ptr, int32 *user_items,
				 float *user_values)
{
	BucketPass	p;
	int64		n = src->n;
	int64	   *chunk_start = palloc(sizeof(int64) * (src->n_chunks + 1));
	int32	   *n_users = palloc(sizeof(int32) * (src->n_segments + 1));
	int32	   *n_items = palloc(sizeof(int32) * (src->n_segments + 1));

	chunk_start[0] = 0;
	for (int32 c = 0; c < src->n_chunks; c++)
		chunk_start[c + 1] = chunk_start[c] + src->chunks[c].len;
	n_users[0] = src->users.n;
	n_items[0] = src->items.n;
	for (int32 s = 0; s < src->n_segments; s++)
	{
		n_users[s + 1] = src->segments[s].n_users;
		n_items[s + 1] = src->segments[s].n_items;
	}
	BucketPassInit(tm, &p, n, src->users.n);
	p.src = src;
	p.chunk_start = chunk_start;
	p.user_rank = seg_user_rank;
	p.item_rank = seg_item_rank;
	p.n_users = n_users;
	p.n_items = n_items;
	p.bad = palloc0(sizeof(bool) * p.ranges);
	p.out_idx = user_items;
	p.out_val = user_values;
	for (int r = 0; r <= p.ranges; r++)
		p.range_begin[r] = n / p.ranges * r;
	p.range_begin[p.ranges] = n;
	BucketPassSort(&p, user_ptr, tm->aggregate);
	for (int r = 0; r < p.ranges; r++)
		if (p.bad[r])
			elog(ERROR, "training state with inconsistent interactions");
	BucketPassFree(tm, &p);
	pfree(chunk_start);
	pfree(n_users);
	pfree(n_items);
	pfree(p.bad);
}

/*
 * Pass 2: every row sorted by item rank, stably, so equal items keep their
 * order of arrival.  A row that is already in order (input grouped by user
 * with ascending items, the usual layout of a table loaded per user) costs one
 * look; shorter rows are sorted by insertion, longer ones by a merge sort
 * through per-thread scratch.  Rows are independent: their ranges run on the
 * build's threads, with everything allocated before they start.
 */
typedef struct RowSortPass
{
	const int64 *ptr;			/* [n_rows + 1] */
	int32	   *items;
	float	   *values;
	int32	   *range_begin;	/* [ranges + 1]: rows */
	int			ranges;
	int32	   *scratch_items;	/* [threads * longest] */
	float	   *scratch_values;
	int64		longest;		/* entries of the longest row */
	PassCancel	stop;
} RowSortPass;

/* Rows up to this long are sorted by insertion; longer ones in runs this long */
#define ROW_SORT_RUN	16

/* Stable insertion sort of items[0..n) (with values) by item */
static inline void
InsertionSortRow(int32 *items, float *values, int64 n)
{
	for (int64 j = 1; j < n; j++)
	{
		int32		item = items[j];
		float		value = values[j];
		int64		q = j;

		while (q > 0 && items[q - 1] > item)
		{
			items[q] = items[q - 1];
			values[q] = values[q - 1];
			q--;
		}
		items[q] = item;
		values[q] = value;
	}
}

/*
 * Stable merge sort of one row of n entries: runs of ROW_SORT_RUN sorted by
 * insertion, then merged pairwise (the left run first on ties) back and forth
 * between the row and the scratch; the result ends in the row.
 */
static void
MergeSortRow(int32 *items, float *values, int64 n, int32 *tmp_items, float *tmp_values)
{
	int32	   *from_i = items,
			   *to_i = tmp_items;
	float	   *from_v = values,
			   *to_v = tmp_values;

	for (int64 j = 0; j < n; j += ROW_SORT_RUN)
		InsertionSortRow(items + j, values + j, Min(ROW_SORT_RUN, n - j));
	for (int64 width = ROW_SORT_RUN; width < n; width *= 2)
	{
		for (int64 lo = 0; lo < n; lo += 2 * width)
		{
			int64		mid = Min(lo + width, n),
						hi = Min(lo + 2 * width, n),
						a = lo,
						b = mid,
						o = lo;

			while (a < mid && b < hi)
			{
				bool		left = from_i[a] <= from_i[b];
				int64		q = left ? a++ : b++;

				to_i[o] = from_i[q];
				to_v[o++] = from_v[q];
			}
			for (; a < mid; a++, o++)
			{
				to_i[o] = from_i[a];
				to_v[o] = from_v[a];
			}
			for (; b < hi; b++, o++)
			{
				to_i[o] = from_i[b];
				to_v[o] = from_v[b];
			}
		}
		/* swap the roles of the two buffers */
		{
			int32	   *ti = from_i;
			float	   *tv = from_v;

			from_i = to_i;
			from_v = to_v;
			to_i = ti;
			to_v = tv;
		}
	}
	if (from_i != items)
	{
		memcpy(items, from_i, sizeof(int32) * n);
		memcpy(values, from_v, sizeof(float) * n);
	}
}

/* RecParallelFor body of the row sort: the row ranges [begin, end) */
static int
RowSortChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	RowSortPass *p = (RowSortPass *) ctx;
	int32	   *tmp_items = p->scratch_items + (int64) thread * p->longest;
	float	   *tmp_values = p->scratch_values + (int64) thread * p->longest;
	int64		done = 0;

	for (int64 r = begin; r < end; r++)
		for (int32 row = p->range_begin[r]; row < p->range_begin[r + 1]; row++)
		{
			int64		from = p->ptr[row],
						n = p->ptr[row + 1] - from;
			int32	   *items = p->items + from;
			float	   *values = p->values + from;
			int64		j = 1;

			while (j < n && items[j - 1] <= items[j])
				j++;
			if (j < n)
			{
				if (n <= ROW_SORT_RUN)
					InsertionSortRow(items, values, n);
				else
					MergeSortRow(items, values, n, tmp_items, tmp_values);
			}
			done += n;
			if (done >= PASS_POLL_BLOCK)
			{
				done = 0;
				if (PassStop(&p->stop))
					return RECSYS_INTERRUPTED;
			}
		}
	return RECSYS_OK;
}

/* Sorts every row of a CSR by item, stably (see RowSortPass) */
static void
SortRowsByItem(RecTrainMemory *tm, const int64 *ptr, int32 n_rows, int32 *items,
			   float *values)
{
	RowSortPass p;
	RecControl	ctl;
	int			threads = BuildThreads(tm);
	int64		n = ptr[n_rows];
	int			status;

	memset(&p, 0, sizeof(p));
	p.ptr = ptr;
	p.items = items;
	p.values = values;
	for (int32 r = 0; r < n_rows; r++)
		p.longest = Max(p.longest, ptr[r + 1] - ptr[r]);
	if (p.longest <= 1)
		return;
	p.ranges = (int) Max(1, Min((int64) threads * 4, n / PASS_MIN_RANGE));
	p.range_begin = palloc(sizeof(int32) * (p.ranges + 1));
	RowRanges(ptr, n_rows, n, p.ranges, p.range_begin);
	if (p.longest > ROW_SORT_RUN)
	{
		p.scratch_items = RecTrainAlloc(tm, (int64) threads * p.longest, sizeof(int32),
										"the row sort");
		p.scratch_values = RecTrainAlloc(tm, (int64) threads * p.longest, sizeof(float),
										 "the row sort");
	}
	PassCancelInit(&p.stop, &ctl, p.ranges, threads);
	status = RecParallelFor(threads, p.ranges, 1, RowSortChunk, &p, &ctl);
	if (p.scratch_items != NULL)
	{
		RecTrainFree(tm, p.scratch_items, (int64) threads * p.longest, sizeof(int32));
		RecTrainFree(tm, p.scratch_values, (int64) threads * p.longest, sizeof(float));
	}
	pfree(p.range_begin);
	RecRaiseSolverStatus(status, tm->aggregate);
}

/*
 * The merge of presorted runs into rows: the users' rank ranges, cut so that
 * each holds about the same number of entries, are merged on the build's threads.
 * Everything is allocated before the threads start; they call nothing in
 * PostgreSQL.
 */
typedef struct MergePass
{
	const RecTripleSource *src;
	int32	  **user_rank;		/* [segment + 1]: run row -> user rank */
	int32	  **item_rank;		/* [segment + 1]: run item -> item rank */
	const int64 *user_ptr;		/* [n_users + 1]: where each merged row starts */
	int32	   *range_begin;	/* [ranges + 1]: user ranks */
	int			ranges;
	int64	   *heads;			/* [ranges * 2 * n_runs]: merge scratch */
	int32	   *rows;			/* [ranges * 2 * n_runs]: each run's next row and
								 * the item rank of its next entry */
	PassCancel	stop;
	int32	   *out_items;
	float	   *out_values;
} MergePass;

/* The run's first row whose user rank is at least rank (ranks ascend by row) */
static int32
RunFirstRow(const int32 *urank, int32 n_rows, int32 rank)
{
	int32		lo = 0,
				hi = n_rows;

	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (urank[mid] < rank)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Merges the runs' rows of users [range_begin[r], range_begin[r + 1]): a user's
 * entries come out sorted by item rank, equal items in run order and, within a
 * run, in its order, which is the order of arrival the counting sorts keep.
 */
static int
MergePassRange(MergePass *p, int r)
{
	const RecTripleSource *src = p->src;
	int32		k = src->n_runs;
	int64	   *from = p->heads + (int64) r * 2 * k;
	int64	   *to = from + k;
	int32	   *next = p->rows + (int64) r * 2 * k;
	int32	   *head = next + k;	/* item rank of each run's next entry */
	int32		only = 0;
	int32		first = p->range_begin[r],
				last = p->range_begin[r + 1];
	int64		done = 0;

	for (int32 q = 0; q < k; q++)
		next[q] = RunFirstRow(p->user_rank[src->runs[q].segment + 1], src->runs[q].n_rows, first);
	for (int32 u = first; u < last; u++)
	{
		int64		out = p->user_ptr[u];
		int32		live = 0;

		/* the runs that have a row for u, their entries and first items */
		for (int32 q = 0; q < k; q++)
		{
			const RecTripleRun *run = &src->runs[q];
			int32		row = next[q];

			if (row < run->n_rows && p->user_rank[run->segment + 1][row] == u)
			{
				from[q] = run->ptr[row];
				to[q] = run->ptr[row + 1];
				next[q] = row + 1;
				if (from[q] < to[q])
				{
					head[q] = p->item_rank[run->segment + 1][RecRunItem(run, from[q])];
					only = q;
					live++;
				}
			}
			else
				from[q] = to[q] = 0;
		}
		/* a user whose rows all came from one process: a copy */
		if (live == 1)
		{
			const RecTripleRun *run = &src->runs[only];
			const int32 *irank = p->item_rank[run->segment + 1];

			if (run->items16)
				for (int64 j = from[only]; j < to[only]; j++)
					p->out_items[out++] = irank[run->items16[j]];
			else
				for (int64 j = from[only]; j < to[only]; j++)
					p->out_items[out++] = irank[run->items[j]];
			out = p->user_ptr[u];
			for (int64 j = from[only]; j < to[only]; j++)
				p->out_values[out++] = RecRunValue(run, j);
			live = 0;
		}
		/* repeatedly the smallest item rank, the earliest run on ties */
		while (live > 0)
		{
			int32		best = -1;

			for (int32 q = 0; q < k; q++)
				if (from[q] < to[q] && (best < 0 || head[q] < head[best]))
					best = q;
			p->out_items[out] = head[best];
			p->out_values[out] = RecRunValue(&src->runs[best], from[best]);
			out++;
			if (++from[best] == to[best])
				live--;
			else
				head[best] = p->item_rank[src->runs[best].segment + 1][RecRunItem(&src->runs[best], from[best])];
		}
		done += out - p->user_ptr[u];
		if (done >= PASS_POLL_BLOCK)
		{
			done = 0;
			if (PassStop(&p->stop))
				return RECSYS_INTERRUPTED;
		}
	}
	return RECSYS_OK;
}

/* RecParallelFor body of the merge: the ranges [begin, end) */
static int
MergePassChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	for (int64 r = begin; r < end; r++)
	{
		int			rc = MergePassRange((MergePass *) ctx, (int) r);

		if (rc != RECSYS_OK)
			return rc;
	}
	return RECSYS_OK;
}

/*
 * Rows from presorted runs: counts each user's entries over the runs, then
 * merges the runs' rows (MergePass) into user_ptr, user_items, user_values.
 */
static void
MergeRuns(RecTrainMemory *tm, const RecTripleSource *src, int32 **seg_user_rank,
		  int32 **seg_item_rank, int64 *user_ptr, int32 *user_items, float *user_values)
{
	int32		nu = src->users.n;
	int32		k = src->n_runs;
	MergePass	p;
	RecControl	ctl;
	int			status;

	memset(user_ptr, 0, sizeof(int64) * ((int64) nu + 1));
	for (int32 q = 0; q < k; q++)
	{
		const RecTripleRun *run = &src->runs[q];
		const int32 *urank = seg_user_rank[run->segment + 1];

		for (int32 row = 0; row < run->n_rows; row++)
			user_ptr[urank[row] + 1] += run->ptr[row + 1] - run->ptr[row];
	}
	for (int32 v = 0; v < nu; v++)
		user_ptr[v + 1] += user_ptr[v];
	CHECK_FOR_INTERRUPTS();

	memset(&p, 0, sizeof(p));
	p.src = src;
	p.user_rank = seg_user_rank;
	p.item_rank = seg_item_rank;
	p.user_ptr = user_ptr;
	p.out_items = user_items;
	p.out_values = user_values;
	p.ranges = (int) Max(1, Min((int64) BuildThreads(tm) * 4, src->n / PASS_MIN_RANGE));
	p.range_begin = palloc(sizeof(int32) * (p.ranges + 1));
	p.heads = palloc(sizeof(int64) * 2 * k * p.ranges);
	p.rows = palloc(sizeof(int32) * 2 * k * p.ranges);
	RowRanges(user_ptr, nu, src->n, p.ranges, p.range_begin);

	PassCancelInit(&p.stop, &ctl, p.ranges, BuildThreads(tm));
	status = RecParallelFor(BuildThreads(tm), p.ranges, 1, MergePassChunk, &p, &ctl);
	RecRaiseSolverStatus(status, tm->aggregate);
	pfree(p.range_begin);
	pfree(p.heads);
	pfree(p.rows);
}

/*
 * The rows of src before duplicates are merged (interactions.h): relabel, then
 * a counting sort by user and a sort of each row by item (chunks) or a merge
 * (runs).  Rows go to dst's arrays when it is given, else to new ones.
 */
void
RecSortRows(RecTrainMemory *tm, const RecTripleSource *src, const RecRowsDest *dst,
			int64 **user_ids_out, int64 **item_ids_out, int64 **user_ptr_out,
			int32 **user_items_out, float **user_values_out)
{
	int32		nu = src->users.n,
				ni = src->items.n;
	int64		n = src->n;
	int32		n_segments = src->n_segments;
	int32	   *seg_users = palloc(sizeof(int32) * (n_segments + 1));
	int32	   *seg_items = palloc(sizeof(int32) * (n_segments + 1));
	int64	   *user_ids,
			   *item_ids;
	int32	   *user_rank,
			   *item_rank;
	int32	  **seg_user_rank,
			  **seg_item_rank;
	int64	   *user_ptr;
	int32	   *user_items;
	float	   *user_values;
	bool		runs = src->n_runs > 0;

	Assert(n > 0);

	/* dense indexes in ascending raw-id order */
	RelabelIds(tm, &src->users, &user_ids, &user_rank);
	RelabelIds(tm, &src->items, &item_ids, &item_rank);
	SegmentRanks(tm, src, user_rank, item_rank, &seg_user_rank, &seg_item_rank);

	if (dst != NULL)
	{
		user_ptr = dst->user_ptr;
		user_items = dst->user_items;
		user_values = dst->user_values;
	}
	else
	{
		user_ptr = RecTrainAlloc(tm, (int64) nu + 1, sizeof(int64), "user pointers");
		user_items = RecTrainAlloc(tm, n, sizeof(int32), "the CSR");
		user_values = RecTrainAlloc(tm, n, sizeof(float), "the CSR");
	}
	if (runs)
		/* presorted runs: one merge, straight into the rows */
		MergeRuns(tm, src, seg_user_rank, seg_item_rank, user_ptr, user_items, user_values);
	else
		/* pass 1: counting sort by user, stable (arrival order within a user) */
		SortSourceByUser(tm, src, seg_user_rank, seg_item_rank, user_ptr, user_items,
						 user_values);

	/* the source is no longer needed: give its memory back */
	for (int32 s = 0; s < n_segments; s++)
	{
		seg_users[s] = src->segments[s].n_users;
		seg_items[s] = src->segments[s].n_items;
	}
	tm->live -= src->bytes;
	src->release(src->release_arg);
	for (int32 s = 0; s < n_segments; s++)
	{
		RecTrainFree(tm, seg_user_rank[s + 1], seg_users[s], sizeof(int32));
		RecTrainFree(tm, seg_item_rank[s + 1], seg_items[s], sizeof(int32));
	}
	RecTrainFree(tm, user_rank, nu, sizeof(int32));
	RecTrainFree(tm, item_rank, ni, sizeof(int32));
	pfree(seg_user_rank);
	pfree(seg_item_rank);
	pfree(seg_users);
	pfree(seg_items);

	/* pass 2 (chunks): each row sorted by item, equal items in arrival order */
	if (!runs)
		SortRowsByItem(tm, user_ptr, nu, user_items, user_values);
	CHECK_FOR_INTERRUPTS();
	*user_ids_out = user_ids;
	*item_ids_out = item_ids;
	*user_ptr_out = user_ptr;
	*user_items_out = user_items;
	*user_values_out = user_values;
}

/*
 * Merging duplicate (user, item) entries of a CSR whose rows are sorted by
 * item with duplicates in arrival order, on the build's threads: each range of
 * rows compacts its entries toward its own start, then the ranges move down
 * to close the gaps (only where duplicates were dropped).  Without add the
 * last value wins; with add the values add up, summed in ascending order so
 * the result does not depend on arrival order.  The same pass finds the value
 * range and, when asked, each item's count of entries.  Threads call nothing
 * in PostgreSQL: a sum out of range is recorded and raised afterwards.
 */
typedef struct DedupPass
{
	int64	   *ptr;			/* [n_rows + 1] */
	int32	   *idx;
	float	   *val;
	bool		add;
	int			ranges;
	int32	   *range_begin;	/* [ranges + 1]: rows */
	int64	   *range_entry;	/* [ranges + 1]: each range's first entry */
	int64	   *range_kept;		/* [ranges]: entries each range keeps */
	float	   *range_lo;		/* [ranges] */
	float	   *range_hi;
	int32	   *range_err_row;	/* [ranges]: first row whose sum overflows, or -1 */
	int32	   *range_err_col;
	int64	   *counts;			/* [ranges * n_cols]: kept entries per column, or NULL */
	int32		n_cols;
	PassCancel	stop;
} DedupPass;

/* RecParallelFor body of the merge: the row ranges [begin, end) */
static int
DedupChunk(void *ctx, int thread, int64_t begin_range, int64_t end_range)
{
	DedupPass  *p = (DedupPass *) ctx;
	int64	   *ptr = p->ptr;
	int32	   *idx = p->idx;
	float	   *val = p->val;

	for (int64 k = begin_range; k < end_range; k++)
	{
		int32		r0 = p->range_begin[k],
					r1 = p->range_begin[k + 1];
		int64		begin = p->range_entry[k],
					out = begin,
					done = 0;
		int64	   *counts = p->counts ? p->counts + k * (int64) p->n_cols : NULL;
		float		lo = INFINITY,
					hi = -INFINITY;

		p->range_err_row[k] = -1;
		for (int32 r = r0; r < r1; r++)
		{
			/* the next range rewrites its first row's pointer: read ours */
			int64		end = r + 1 == r1 ? p->range_entry[k + 1] : ptr[r + 1];
			int64		j = begin;

			ptr[r] = out;
			while (j < end)
			{
				int64		q = j + 1;
				float		v;

				while (q < end && idx[q] == idx[j])
					q++;
				if (q - j == 1)
					v = val[j];
				else if (!p->add)
					v = val[q - 1];
				else
				{
					double		sum = 0;

					qsort(val + j, q - j, sizeof(float), CompareFloat);
					for (int64 e = j; e < q; e++)
						sum += val[e];
					v = (float) sum;
					if (isinf(v))
					{
						p->range_err_row[k] = r;
						p->range_err_col[k] = idx[j];
						return RECSYS_OK;
					}
				}
				/* in place until the first duplicate: nothing moves */
				if (out != j || q - j > 1)
				{
					idx[out] = idx[j];
					val[out] = v;
				}
				if (counts)
					counts[idx[out]]++;
				lo = Min(lo, v);
				hi = Max(hi, v);
				out++;
				j = q;
			}
			done += end - begin;
			begin = end;
			if (done >= PASS_POLL_BLOCK)
			{
				done = 0;
				if (PassStop(&p->stop))
					return RECSYS_INTERRUPTED;
			}
		}
		p->range_kept[k] = out - p->range_entry[k];
		p->range_lo[k] = lo;
		p->range_hi[k] = hi;
	}
	return RECSYS_OK;
}

/*
 * Merges the duplicates of the CSR (see DedupPass) in place; returns the new
 * nnz, sets *vmin and *vmax to the smallest and largest value after merging
 * and, if col_ptr is not NULL, col_ptr[0..n_cols] to the columns' starts in
 * a CSC of the result.
 */
static int64
MergeDuplicates(RecTrainMemory *tm, int32 n_rows, int64 *ptr, int32 *idx, float *val,
				bool add, const int64 *row_ids, const int64 *col_ids, int32 n_cols,
				int64 *col_ptr, float *vmin, float *vmax)
{
	DedupPass	p;
	RecControl	ctl;
	int			threads = BuildThreads(tm);
	int64		n = ptr[n_rows],
				total = 0;
	int			status;
	float		lo = INFINITY,
				hi = -INFINITY;

	memset(&p, 0, sizeof(p));
	p.ptr = ptr;
	p.idx = idx;
	p.val = val;
	p.add = add;
	p.n_cols = n_cols;
	p.ranges = (int) Max(1, Min((int64) threads, n / PASS_MIN_RANGE));
	p.range_begin = palloc(sizeof(int32) * (p.ranges + 1));
	p.range_entry = palloc(sizeof(int64) * (p.ranges + 1));
	p.range_kept = palloc0(sizeof(int64) * p.ranges);
	p.range_lo = palloc(sizeof(float) * p.ranges);
	p.range_hi = palloc(sizeof(float) * p.ranges);
	p.range_err_row = palloc(sizeof(int32) * p.ranges);
	p.range_err_col = palloc(sizeof(int32) * p.ranges);
	RowRanges(ptr, n_rows, n, p.ranges, p.range_begin);
	for (int k = 0; k <= p.ranges; k++)
		p.range_entry[k] = ptr[p.range_begin[k]];
	if (col_ptr != NULL)
		p.counts = RecTrainAlloc(tm, (int64) p.ranges * n_cols, sizeof(int64), "item counts");
	if (p.counts != NULL)
		memset(p.counts, 0, sizeof(int64) * p.ranges * (int64) n_cols);

	PassCancelInit(&p.stop, &ctl, p.ranges, threads);
	status = RecParallelFor(threads, p.ranges, 1, DedupChunk, &p, &ctl);
	RecRaiseSolverStatus(status, tm->aggregate);

	/* the first range in row order with a sum out of range: the serial order's error */
	for (int k = 0; k < p.ranges; k++)
		if (p.range_err_row[k] >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("sum of the weights of user " INT64_FORMAT " and item " INT64_FORMAT " is out of range for real",
							row_ids[p.range_err_row[k]], col_ids[p.range_err_col[k]])));

	/* close the gaps the ranges left */
	for (int k = 0; k < p.ranges; k++)
	{
		int64		shift = p.range_entry[k] - total;

		if (shift != 0)
		{
			memmove(idx + total, idx + p.range_entry[k], sizeof(int32) * p.range_kept[k]);
			memmove(val + total, val + p.range_entry[k], sizeof(float) * p.range_kept[k]);
			for (int32 r = p.range_begin[k]; r < p.range_begin[k + 1]; r++)
				ptr[r] -= shift;
		}
		total += p.range_kept[k];
		lo = Min(lo, p.range_lo[k]);
		hi = Max(hi, p.range_hi[k]);
	}
	ptr[n_rows] = total;
	if (total == 0)
		lo = hi = 0;
	*vmin = lo;
	*vmax = hi;

	if (col_ptr != NULL)
	{
		col_ptr[0] = 0;
		for (int32 c = 0; c < n_cols; c++)
		{
			int64		count = 0;

			for (int k = 0; k < p.ranges; k++)
				count += p.counts[(int64) k * n_cols + c];
			col_ptr[c + 1] = col_ptr[c] + count;
		}
		RecTrainFree(tm, p.counts, (int64) p.ranges * n_cols, sizeof(int64));
	}
	pfree(p.range_begin);
	pfree(p.range_entry);
	pfree(p.range_kept);
	pfree(p.range_lo);
	pfree(p.range_hi);
	pfree(p.range_err_row);
	pfree(p.range_err_col);
	return total;
}

/*
 * Relabels, sorts, deduplicates and builds CSR + CSC (or only the CSC's column
 * pointers) from the source, releasing it once read (interactions.h).
 */
void
RecBuildInteractions(RecTrainMemory *tm, const RecTripleSource *src, bool add_duplicates,
					 bool by_item, RecInteractions *out)
{
	const char *agg = tm->aggregate;
	int32		nu = src->users.n,
				ni = src->items.n;
	int64		nnz;
	int64	   *user_ids,
			   *item_ids;
	int64	   *item_ptr,
			   *user_ptr;
	int32	   *user_items,
			   *item_users;
	float	   *user_values,
			   *item_values;
	float		vmin,
				vmax;

	RecSortRows(tm, src, NULL, &user_ids, &item_ids, &user_ptr, &user_items, &user_values);

	/* without the CSC, the columns' lengths only (the fit never reads the entries) */
	item_ptr = RecTrainAlloc(tm, (int64) ni + 1, sizeof(int64), "item pointers");
	nnz = MergeDuplicates(tm, nu, user_ptr, user_items, user_values, add_duplicates,
						  user_ids, item_ids, ni, by_item ? NULL : item_ptr, &vmin, &vmax);
	if (by_item)
	{
		/* CSC by transposing the CSR: users come out sorted within each item */
		item_users = RecTrainAlloc(tm, nnz, sizeof(int32), "the CSC");
		item_values = RecTrainAlloc(tm, nnz, sizeof(float), "the CSC");
		TransposeRows(tm, user_ptr, user_items, user_values, nu, nnz, ni,
					  item_ptr, item_users, item_values, agg);
	}
	else
	{
		item_users = NULL;
		item_values = NULL;
	}
	CHECK_FOR_INTERRUPTS();

	out->ratings.n_users = nu;
	out->ratings.n_items = ni;
	out->ratings.nnz = nnz;
	out->ratings.user_ptr = user_ptr;
	out->ratings.user_items = user_items;
	out->ratings.user_values = user_values;
	out->ratings.item_ptr = item_ptr;
	out->ratings.item_users = item_users;
	out->ratings.item_values = item_values;
	out->user_ids = user_ids;
	out->item_ids = item_ids;
	out->value_min = vmin;
	out->value_max = vmax;
}

/* Interactions per item: the length of each CSC column */
void
RecItemCounts(const RecRatings *r, int32 *count)
{
	for (int32 i = 0; i < r->n_items; i++)
		count[i] = (int32) (r->item_ptr[i + 1] - r->item_ptr[i]);
}
