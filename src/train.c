/*
 * train.c
 *		The training aggregates (train_als, train_ials and every later row of the
 *		algorithm table): the aggregate state (dense id maps and compact triples),
 *		its transition, combine and (de)serialisation for parallel plans, and the
 *		one final function: interactions -> fit -> model.  recsys.train feeds the
 *		same state from C (train.h).
 *
 * Nothing here knows an algorithm beyond its table row (algorithms.h): the
 * options are options.c's, the interaction matrix interactions.c's, the fit
 * and the model it writes the row's.  The model depends only on the multiset of
 * input rows and the options: dense ids are relabelled in ascending raw-id
 * order and the interactions sorted before the fit sees them, whatever the plan
 * or the row order.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <sys/statvfs.h>
#ifdef __linux__
#include <sys/uio.h>
#endif

#include "catalog/pg_type.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "executor/execParallel.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/dsm_impl.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/dsa.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "algorithms.h"
#include "ann_sql.h"
#include "itemfeatures.h"
#include "interactions.h"
#include "model.h"
#include "modelio.h"
#include "modeltype.h"
#include "options.h"
#include "recsys.h"
#include "solver.h"
#include "train.h"

/*
 * Interactions are kept in chunks that double up to this many entries (8 MB
 * grouped by user, 12 MB as triples)
 */
#define FIRST_CHUNK_LEN		1024
#define MAX_CHUNK_LEN		(1 << 20)

/* Hash table entry: raw id to dense index */
typedef struct IdEntry
{
	int64		id;
	int32		dense;
	char		status;			/* used by simplehash */
} IdEntry;

/* 64-bit finaliser (MurmurHash3's fmix64), so sequential ids spread well */
static inline uint32
HashId(int64 id)
{
	uint64		h = (uint64) id;

	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32) h;
}

#define SH_PREFIX		idmap
#define SH_ELEMENT_TYPE IdEntry
#define SH_KEY_TYPE		int64
#define SH_KEY			id
#define SH_HASH_KEY(tb, key) HashId(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * Dense numbering of one side's raw ids, in order of first appearance.  Ids are
 * usually small non-negative serials: those are numbered through a directly
 * indexed array (one load per row), kept at most DIRECT_PER_ID entries per distinct
 * id so sparse ids cannot inflate it; every other id goes through the hash table.
 */
typedef struct IdMap
{
	idmap_hash *hash;			/* ids outside [0, direct_cap) */
	int32	   *direct;			/* [direct_cap]: raw id -> dense index, or -1 */
	int64		direct_cap;
	int64	   *raw;			/* dense index -> raw id */
	int32		n;
	int32		cap;
} IdMap;

#define DIRECT_PER_ID	8
#define DIRECT_SLACK	65536

/* The aggregate state */
typedef struct TrainState
{
	MemoryContext ctx;			/* holds everything below; child of aggcontext */
	const RecAlgorithm *alg;	/* its row of the algorithm table */
	bool		have_options;
	bool		consumed;		/* the final function has taken it apart */
	RecOptionsBuffer options;	/* alg's options struct */
	IdMap		users;
	IdMap		items;
	int64		last_user;		/* raw id of the last user looked up */
	int32		last_user_dense;	/* its dense index, -1 if none yet */
	float		value_floor;	/* values below it are refused (alg->negative_hint) */
	RecTripleChunk *run_chunk;	/* the last chunk, while the transition appends
								 * to the run of run_user at its end; else NULL */
	int32		run_user;
	RecTripleChunk *chunks;
	int32		n_chunks;
	int32		max_chunks;
	int32		own_chunks;		/* chunks the transition allocated (their sizes double) */
	bool		ungrouped;		/* input not grouped by user: new chunks hold triples */
	bool		off_grid;		/* a value without a half-step code came: new
								 * chunks keep values as float4 */
	RecTripleRun *runs;			/* presorted partial states (deserialised) */
	int32		n_runs;
	int32		max_runs;
	RecSegment *segments;
	int32		n_segments;
	int32		max_segments;
	int64		n;				/* interactions in all chunks and runs */
	RecFeatureStore *features;	/* item features, if alg takes them */
	struct SharedImage *shared; /* runs read in place from shared memory */
	int32		n_shared;
	int64		shared_bytes;	/* their images' size */
	int64		slack_bytes;	/* allocated before chunks on 2 MB boundaries,
								 * never touched (StateAllocChunk) */
} TrainState;

/*
 * A serialised state whose runs a state reads in place, in a parallel query's
 * shared memory (area) or in the leader's own memory (a LocalImage, by its
 * token): freed once the state is consumed (or at the end of the query, if it
 * never is)
 */
typedef struct SharedImage
{
	dsa_area   *area;			/* NULL: a local image */
	dsa_pointer image;
	uint64		bytes;			/* allocated at image (area only) */
	uint64		token;
} SharedImage;

/*
 * Serialised partial state (same cluster, so native layout is fine): this
 * header, then one of two layouts.  SERIAL_ROWS, for a state that travels as
 * a value (through the tuple queue) and wherever one cannot go as it is
 * (SERIAL_CHUNKS below): the users' and the items' raw ids in
 * ascending order (int64 each), then the interactions as rows presorted by
 * RecSortRows: row pointers (int64, n_users + 1), the values (float4, or
 * one-byte codes into the dictionary at the end when the state holds at most
 * 256 distinct values), the item ranks (int32, or uint16 when the state has at
 * most 65,536 items) and the dictionary (float4, n_codes).  Each array starts
 * 8-aligned.  The sender thus does the sorting, the state takes 6 bytes or
 * fewer per interaction in the usual case instead of 8, and the leader merges
 * the rows it receives (RecTripleRun) instead of sorting every interaction
 * again.
 */
typedef struct SerialHeader
{
	int32		algorithm;		/* RECSYS_ALG_* */
	bool		have_options;
	RecOptionsBuffer options;
	int32		n_users;
	int32		n_items;
	int64		n;
	int32		item_width;		/* bytes per item rank: 2 or 4 */
	int32		n_codes;		/* 0: values as float4; else codes, dictionary */
	int32		layout;			/* SERIAL_ROWS, or SERIAL_CHUNKS: */
	int64		n_grouped;		/* entries grouped by user (the rest: triples) */
	int64		n_user_runs;	/* their runs */
	int32		value_width;	/* SERIAL_CHUNKS, item_width 2: bytes per value, 4
								 * or 1 (half-step codes) */
} SerialHeader;

/*
 * SERIAL_CHUNKS, for a worker's state handed over in shared memory
 * (SerialShared): its chunks as they are.  Where no tuple queue is crossed,
 * compactness matters less than the work of a presort: the leader sorts all
 * the plan's interactions once, as the serial plan does, instead of each
 * process sorting its share into rows that the leader then merges (a
 * 20M-rating feed: about 70 ms sooner on two cores).  The header, the users'
 * and the items' raw ids in the state's dense order (int64 each), then the
 * entries grouped by user: as RecPair (n_grouped), or, when the state has at
 * most 65,536 items (item_width 2), their items in 16 bits and then their
 * values (6 bytes an entry instead of 8: a quarter less shared memory to
 * fill and to give back, 15 ms of the feed), or their half-step codes when
 * every chunk kept codes (value_width 1: 3 bytes an entry); their runs
 * (RecUserRun, n_user_runs; starts count from the first grouped entry); then the triples
 * (RecTriple, n - n_grouped), each array 8-aligned.  The leader's own state
 * is not serialised at all (LocalImage).
 */
#define SERIAL_ROWS		0
#define SERIAL_CHUNKS	1

/* Dictionary codes are one byte */
#define SERIAL_MAX_CODES	256

/* Items below this count are sent as 16-bit ranks */
#define SERIAL_NARROW_ITEMS	65536

/* Where the ids start in a serialised state (8-aligned) */
#define SERIAL_IDS_OFFSET	MAXALIGN(VARHDRSZ + sizeof(SerialHeader))

/*
 * A partial state handed over in dynamic shared memory instead: what the
 * tuple queue carries when train_serialfn could put the serialised state (the
 * bytea, header included) in the parallel query's shared memory area.  A state
 * of tens of MB otherwise crosses the tuple queue's 64 kB ring piece by piece,
 * the leader and the worker waking each other hundreds of times, while the
 * leader waits.  Only train_serialfn writes one: a role that is not a
 * superuser cannot build an aggregate over an internal state, so no other
 * function's bytes reach train_deserialfn.
 */
typedef struct SerialShared
{
	uint32		magic;			/* SERIAL_SHARED_MAGIC or SERIAL_LOCAL_MAGIC */
	int32		plan_node_id;	/* the Partial Aggregate that wrote it */
	dsa_pointer image;			/* the serialised state in the query's area */
	uint64		token;			/* or the leader's LocalImage */
	uint64		size;			/* its VARSIZE */
	uint64		room;			/* the bytes it occupies */
} SerialShared;

#define SERIAL_SHARED_MAGIC	0x52534853	/* "RSHS" */
#define SERIAL_LOCAL_MAGIC	0x52534c48	/* "RSLH" */

/*
 * A worker's partial state read by the leader straight from the worker's
 * memory (recsys.parallel_direct_read): what the tuple queue carries instead
 * of an image in shared memory.  Copying a worker's state into the query's
 * shared memory cost more than the copy itself: the kernel allocates, zeroes,
 * maps and finally frees each 4 kB shared page (a 20M-rating feed: 30 ms while
 * the leader waits, and 12 ms to give the pages back).  Here the worker only
 * lists where each array of its SERIAL_CHUNKS image is (ImagePiece, as
 * ChunkImagePieces finds them for a copy into shared memory too), and
 * waits, its memory intact, until the leader has copied them into an image of
 * its own with process_vm_readv (as fast as a memcpy, into pages the leader
 * owns) and said so through a handshake segment (RemoteHandshake).
 *
 * The worker waits where its state's memory context goes away, as its plan
 * ends: after its tuple has gone into the queue but before it detaches from
 * the queue.  PostgreSQL's tuple queue shows a sender's bytes to the
 * receiver once they pass a quarter of its 64 kB ring, or when the sender
 * detaches; the message is therefore padded past that (REMOTE_MESSAGE_MIN), or
 * the leader would wait for a message the worker waits to send.  Only an
 * aggregate without GROUP BY hands over this way: its Finalize Aggregate sits
 * right above the Gather and reads each state as it comes, while a grouped
 * plan may sort the Gather's output first, which would wait for the workers
 * to finish.  A worker interrupted while it waits (its leader's query failed,
 * a cancel) gives up unless the leader has begun to read; the leader then
 * fails.
 */
typedef struct ImagePiece
{
	uint64		offset;			/* where it goes in the image */
	uint64		address;		/* where it is in the worker's memory */
	uint64		bytes;
} ImagePiece;

typedef struct SerialRemote
{
	uint32		magic;			/* SERIAL_REMOTE_MAGIC */
	int32		pid;			/* the worker */
	int32		pgprocno;
	dsm_handle	handshake;		/* its RemoteHandshake */
	uint64		size;			/* the image's VARSIZE */
	int32		n_pieces;		/* ImagePiece entries after this */
	SerialHeader header;		/* the image's header (SERIAL_CHUNKS) */
} SerialRemote;

#define SERIAL_REMOTE_MAGIC	0x52535250	/* "RSRP" */
#define REMOTE_MESSAGE_MIN	(20 * 1024)

/* The handshake: a segment the worker creates, the leader attaches */
typedef struct RemoteHandshake
{
	pg_atomic_uint32 state;
} RemoteHandshake;

#define HANDOVER_WAITING	0	/* the worker waits, its memory intact */
#define HANDOVER_READING	1	/* the leader copies: the worker must wait */
#define HANDOVER_DONE		2	/* copied */
#define HANDOVER_ABANDONED	3	/* the worker gave up before the leader began */

/* The worker's side of a handover, in the state's context */
typedef struct RemoteHandover
{
	MemoryContextCallback wait;
	dsm_segment *seg;
	dsm_handle	handle;
	RemoteHandshake *hs;
	PGPROC	   *leader;
	int			leader_pid;
} RemoteHandover;

/*
 * The leader's own partial state, handed to its Finalize Aggregate the same
 * way: as a message naming it, in a memory context of its own under the
 * query's.  As a bytea of tens of MB it would be the first tuple the Finalize
 * Aggregate sees, and the executor copies a group's first tuple twice (for
 * projecting it), 45 ms of a 20M-rating feed.  Usually the state itself moves
 * there (its context reparented: nothing is copied); a state holding merged
 * states goes as a serialised image.  The entries live in this backend's
 * list; deleting one's context unlinks it.
 */
typedef struct LocalImage
{
	uint64		token;
	MemoryContext cxt;			/* holds this and the image */
	bytea	   *image;			/* a serialised state, or NULL: */
	struct TrainState *state;	/* the state itself, its context moved under cxt */
	MemoryContextCallback unlink;
	struct LocalImage *next;
} LocalImage;

static LocalImage *local_images = NULL;
static uint64 local_image_tokens = 0;

/* Smaller states fit the tuple queue's ring (64 kB) and go through it at once */
#define SERIAL_SHARED_MIN	(64 * 1024)

StaticAssertDecl(VARHDRSZ + sizeof(SerialShared) < SERIAL_IDS_OFFSET,
				 "a handover message is shorter than any serialised state");

/* Offsets of a serialised state's arrays from its start, and its size */
typedef struct SerialLayout
{
	uint64		rows;			/* row pointers */
	uint64		values;			/* values or codes */
	uint64		items;
	uint64		dict;
	uint64		size;
} SerialLayout;

/* The layout of a state of this shape */
static SerialLayout
SerialLayoutOf(int32 n_users, int32 n_items, int64 n, int item_width, int n_codes)
{
	SerialLayout l;

	l.rows = SERIAL_IDS_OFFSET + sizeof(int64) * ((uint64) n_users + n_items);
	if (n == 0)
	{
		l.values = l.items = l.dict = l.size = l.rows;
		return l;
	}
	l.values = l.rows + sizeof(int64) * ((uint64) n_users + 1);
	l.items = l.values + TYPEALIGN(8, (n_codes > 0 ? 1 : sizeof(float)) * (uint64) n);
	l.dict = l.items + TYPEALIGN(8, (uint64) item_width * n);
	l.size = l.dict + sizeof(float) * (uint64) n_codes;
	return l;
}

/* Offsets of a SERIAL_CHUNKS state's arrays from its start, and its size */
typedef struct ChunkLayout
{
	uint64		pairs;			/* item_width 4: the grouped entries as RecPair */
	uint64		items16;		/* item_width 2: their items, then */
	uint64		values;			/* their values or codes */
	uint64		user_runs;
	uint64		triples;
	uint64		size;
} ChunkLayout;

/* The layout of a SERIAL_CHUNKS state of this shape */
static ChunkLayout
ChunkLayoutOf(int32 n_users, int32 n_items, int64 n, int item_width, int value_width,
			  int64 n_grouped, int64 n_user_runs)
{
	ChunkLayout l;
	uint64		grouped = SERIAL_IDS_OFFSET + sizeof(int64) * ((uint64) n_users + n_items);

	StaticAssertStmt(sizeof(RecPair) % 8 == 0 && sizeof(RecUserRun) % 8 == 0,
					 "the arrays of a serialised state start 8-aligned");
	l.pairs = l.items16 = l.values = grouped;
	if (item_width == sizeof(uint16))
	{
		l.values = grouped + TYPEALIGN(8, sizeof(uint16) * (uint64) n_grouped);
		l.user_runs = l.values + TYPEALIGN(8, (uint64) value_width * n_grouped);
	}
	else
		l.user_runs = grouped + sizeof(RecPair) * (uint64) n_grouped;
	l.triples = l.user_runs + sizeof(RecUserRun) * (uint64) n_user_runs;
	l.size = l.triples + TYPEALIGN(8, sizeof(RecTriple) * (uint64) (n - n_grouped));
	return l;
}

/* ------------------------------------------------------------------ state */

/* The memory a state holds: its context's and the shared images it reads */
static int64
StateBytes(TrainState *st)
{
	return (int64) MemoryContextMemAllocated(st->ctx, true) - st->slack_bytes +
		st->shared_bytes;
}

/* Fails early when the state outgrows recsys.max_train_mb */
static void
CheckStateMemory(TrainState *st)
{
	int64		bytes = StateBytes(st);

	if ((int64) bytes > RecMaxTrainBytes())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s input needs more than %s (%d MB)",
						st->alg->aggregate, RecTrainMbSetting(), recsys_max_train_mb),
				 errdetail("The aggregate state holds %.1f MB after " INT64_FORMAT " interactions of %d users and %d items.",
						   bytes / (1024.0 * 1024.0), st->n, st->users.n, st->items.n),
				 errhint("Raise %s, or train on fewer rows.", RecTrainMbSetting())));
}

/* An empty id map with room for about n ids */
static void
IdMapInit(IdMap *m, MemoryContext ctx, int32 n)
{
	m->hash = idmap_create(ctx, 256, NULL);
	m->direct = NULL;
	m->direct_cap = 0;
	m->cap = Max(n, 256);
	m->raw = MemoryContextAllocExtended(ctx, sizeof(int64) * m->cap, MCXT_ALLOC_HUGE);
	m->n = 0;
}

/*
 * Extends the direct array to cover id if that keeps it within DIRECT_PER_ID
 * entries per distinct id; fills it from the ids numbered so far.
 */
static bool
IdMapGrowDirect(TrainState *st, IdMap *m, int64 id)
{
	int64		limit = DIRECT_PER_ID * ((int64) m->n + DIRECT_SLACK);
	int64		cap;

	if (id < 0 || id >= limit)
		return false;
	cap = Min(Max(m->direct_cap * 2, id + 1), limit);
	if (m->direct == NULL)
		m->direct = MemoryContextAllocExtended(st->ctx, sizeof(int32) * cap, MCXT_ALLOC_HUGE);
	else
		m->direct = repalloc_huge(m->direct, sizeof(int32) * cap);
	memset(m->direct + m->direct_cap, 0xff, sizeof(int32) * (cap - m->direct_cap));
	for (int32 d = 0; d < m->n; d++)
		if (m->raw[d] >= m->direct_cap && m->raw[d] < cap)
			m->direct[m->raw[d]] = d;
	m->direct_cap = cap;
	CheckStateMemory(st);
	return true;
}

/* Gives a new raw id the next dense index */
static int32
IdMapAdd(TrainState *st, IdMap *m, int64 id, const char *side)
{
	if (m->n == PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s input has more than %d distinct %s ids",
						st->alg->aggregate, PG_INT32_MAX - 1, side)));
	if (m->n == m->cap)
	{
		int32		cap = (m->cap > PG_INT32_MAX / 2) ? PG_INT32_MAX : m->cap * 2;

		m->raw = repalloc_huge(m->raw, sizeof(int64) * cap);
		m->cap = cap;
		CheckStateMemory(st);
	}
	m->raw[m->n] = id;
	return m->n++;
}

/* The lookup of an id the direct array does not cover yet */
static int32
IdMapLookupSlow(TrainState *st, IdMap *m, int64 id, const char *side)
{
	bool		found;
	IdEntry    *e;

	if (IdMapGrowDirect(st, m, id))
	{
		if (m->direct[id] < 0)
			m->direct[id] = IdMapAdd(st, m, id, side);
		return m->direct[id];
	}
	e = idmap_insert(m->hash, id, &found);
	if (!found)
		e->dense = IdMapAdd(st, m, id, side);
	return e->dense;
}

/* Dense index of a raw id, numbering new ids in order of appearance */
static inline int32
IdMapLookup(TrainState *st, IdMap *m, int64 id, const char *side)
{
	if ((uint64) id < (uint64) m->direct_cap)
	{
		int32		d = m->direct[id];

		if (d < 0)
			d = m->direct[id] = IdMapAdd(st, m, id, side);
		return d;
	}
	return IdMapLookupSlow(st, m, id, side);
}

/* A new empty state in its own context under aggcontext */
static TrainState *
StateCreate(MemoryContext aggcontext, const RecAlgorithm *alg, int32 n_users, int32 n_items)
{
	TrainState *st = MemoryContextAllocZero(aggcontext, sizeof(TrainState));

	st->ctx = AllocSetContextCreate(aggcontext, "recsys training state",
									ALLOCSET_DEFAULT_SIZES);
	st->alg = alg;
	st->value_floor = alg->negative_hint != NULL ? 0.0f : -FLT_MAX;
	RecDefaultOptions(alg->code, st->options.bytes);
	IdMapInit(&st->users, st->ctx, n_users);
	IdMapInit(&st->items, st->ctx, n_items);
	st->last_user_dense = -1;
	st->max_chunks = 16;
	st->chunks = MemoryContextAlloc(st->ctx, sizeof(RecTripleChunk) * st->max_chunks);
	/* outside st->ctx: the fit reads the features after the build drops the rest */
	if (alg->features)
		st->features = RecFeatureStoreCreate(aggcontext, alg->aggregate);
	return st;
}

/* Adds a chunk descriptor for t[0..len) of capacity cap; returns it */
static RecTripleChunk *
StateAddChunk(TrainState *st, RecTriple *t, int64 len, int64 cap, int32 segment)
{
	RecTripleChunk *c;

	st->run_chunk = NULL;		/* chunks may move */
	if (st->n_chunks == st->max_chunks)
	{
		st->max_chunks *= 2;
		st->chunks = repalloc_huge(st->chunks, sizeof(RecTripleChunk) * st->max_chunks);
	}
	c = &st->chunks[st->n_chunks++];
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->len = len;
	c->cap = cap;
	c->segment = segment;
	return c;
}

/* Adds a chunk grouped by user: pairs[0..len) of capacity cap, its runs */
static RecTripleChunk *
StateAddGroupedChunk(TrainState *st, RecPair *pairs, RecUserRun *user_runs, int32 n_user_runs,
					 int32 max_user_runs, int64 len, int64 cap, int32 segment)
{
	RecTripleChunk *c = StateAddChunk(st, NULL, len, cap, segment);

	c->pairs = pairs;
	c->user_runs = user_runs;
	c->n_user_runs = n_user_runs;
	c->max_user_runs = max_user_runs;
	return c;
}

/* A grouped chunk's items16 and values (or codes) as RecPair, into pairs[0 .. len) */
static void
ChunkPairsFromNarrow(const RecTripleChunk *c, RecPair *pairs)
{
	for (int64 j = 0; j < c->len; j++)
	{
		pairs[j].item = c->items16[j];
		pairs[j].value = RecChunkValue(c, j);
	}
}

/* Adds a run descriptor (its arrays already in memory the state keeps) */
static void
StateAddRun(TrainState *st, const RecTripleRun *run)
{
	if (st->n_runs == st->max_runs)
	{
		st->max_runs = Max(4, st->max_runs * 2);
		st->runs = st->runs == NULL ?
			MemoryContextAlloc(st->ctx, sizeof(RecTripleRun) * st->max_runs) :
			repalloc(st->runs, sizeof(RecTripleRun) * st->max_runs);
	}
	st->runs[st->n_runs++] = *run;
}

/*
 * bytes for a chunk's entries in the state's context.  A chunk of 2 MB or more
 * starts on a 2 MB boundary, so that transparent huge pages back all of it
 * (but a tail short of 2 MB): placed where malloc puts it, a quarter of an
 * 8 MB chunk fell outside the aligned 2 MB pages and was faulted in 4 kB at a
 * time (20-30 ms of CPU over the processes feeding 20M ratings).  The slack
 * before it is never touched; the state's size leaves it out.  Chunks are
 * never freed one by one.
 */
#define HUGE_PAGE_BYTES		((Size) 2 << 20)

static void *
StateAllocChunk(TrainState *st, Size bytes)
{
	char	   *p;

	if (bytes < HUGE_PAGE_BYTES)
	{
		p = MemoryContextAllocExtended(st->ctx, bytes, MCXT_ALLOC_HUGE);
		RecAdviseHugePages(p, bytes);
		return p;
	}
	p = MemoryContextAllocExtended(st->ctx, bytes + HUGE_PAGE_BYTES, MCXT_ALLOC_HUGE);
	p = (char *) TYPEALIGN(HUGE_PAGE_BYTES, p);
	st->slack_bytes += (int64) HUGE_PAGE_BYTES;
	RecAdviseHugePages(p, bytes);
	return p;
}

/* A fresh, untouched array of n interactions in the state's context */
static RecTriple *
StateAllocInteractions(TrainState *st, int64 n)
{
	return (RecTriple *) StateAllocChunk(st, sizeof(RecTriple) * Max(n, 1));
}

/*
 * Starts a new chunk for the transition: sizes double up to MAX_CHUNK_LEN.
 * Grouped by user, with room for a run per USER_RUN_ROOM entries on average,
 * until a chunk runs out of it: the input is then taken as not grouped, and
 * the chunks that follow hold triples.
 */
#define USER_RUN_ROOM	4

static pg_noinline RecTripleChunk *
StateNewChunk(TrainState *st)
{
	int64		cap = st->own_chunks >= 10 ? MAX_CHUNK_LEN :
		Min((int64) FIRST_CHUNK_LEN << st->own_chunks, MAX_CHUNK_LEN);
	RecTripleChunk *c;

	if (st->ungrouped)
		c = StateAddChunk(st, StateAllocInteractions(st, cap), 0, cap, -1);
	else
	{
		int32		max_user_runs = (int32) (cap / USER_RUN_ROOM + 1);
		RecUserRun *user_runs = MemoryContextAllocExtended(st->ctx,
														   sizeof(RecUserRun) * max_user_runs,
														   MCXT_ALLOC_HUGE);

		/*
		 * items in 16 bits while every index fits, values in one byte while
		 * each has a half-step code (new chunks after one did not)
		 */
		if (st->items.n > SERIAL_NARROW_ITEMS)
			c = StateAddGroupedChunk(st, StateAllocChunk(st, sizeof(RecPair) * cap),
									 user_runs, 0, max_user_runs, 0, cap, -1);
		else
		{
			Size		value_bytes = st->off_grid ? sizeof(float) : sizeof(uint8);
			char	   *block = StateAllocChunk(st, (sizeof(uint16) + value_bytes) * cap);

			c = StateAddGroupedChunk(st, NULL, user_runs, 0, max_user_runs, 0, cap, -1);
			c->items16 = (uint16 *) block;
			/* cap is even: float values start 4-aligned */
			if (st->off_grid)
				c->values = (float *) (block + sizeof(uint16) * cap);
			else
				c->codes = (uint8 *) (block + sizeof(uint16) * cap);
		}
	}
	st->own_chunks++;
	CheckStateMemory(st);
	return c;
}

/*
 * A new run of user's entries in grouped chunk c; returns the chunk the entry
 * goes to (a new one holding triples when c has no room for another run)
 */
static pg_noinline RecTripleChunk *
StateNewUserRun(TrainState *st, RecTripleChunk *c, int32 user)
{
	if (c->n_user_runs == c->max_user_runs)
	{
		c->cap = c->len;		/* full */
		st->ungrouped = true;
		return StateNewChunk(st);
	}
	c->user_runs[c->n_user_runs].user = user;
	c->user_runs[c->n_user_runs].start = (int32) c->len;
	c->n_user_runs++;
	return c;
}

/*
 * Appends an entry to a grouped chunk with room if the chunk keeps item and
 * value as they are (RecPair always; 16-bit items below 65,536; codes when the
 * value has one); false, nothing written, if not
 */
static inline bool
GroupedChunkAppend(RecTripleChunk *c, int32 item, float value)
{
	uint8		code;

	if (c->pairs != NULL)
	{
		c->pairs[c->len].item = item;
		c->pairs[c->len++].value = value;
		return true;
	}
	if ((uint32) item > PG_UINT16_MAX)
		return false;
	if (c->codes != NULL)
	{
		if (!RecHalfStepCode(value, &code))
			return false;
		c->codes[c->len] = code;
	}
	else
		c->values[c->len] = value;
	c->items16[c->len++] = (uint16) item;
	return true;
}

/* Appends one interaction (dense indexes already assigned) */
static inline void
StateAppend(TrainState *st, int32 user, int32 item, float value)
{
	RecTripleChunk *c = st->n_chunks > 0 ? &st->chunks[st->n_chunks - 1] : NULL;
	uint8		code;

	/* an index past 16 bits: this chunk is full, the next ones hold RecPair */
	if (c != NULL && c->items16 != NULL && (uint32) item > PG_UINT16_MAX)
		c->cap = c->len;
	/* a value without a code: the same, the next ones keep float4 values */
	if (!st->off_grid && !RecHalfStepCode(value, &code))
	{
		st->off_grid = true;
		if (c != NULL && c->codes != NULL)
			c->cap = c->len;
	}
	if (c == NULL || c->len == c->cap || c->segment >= 0)
		c = StateNewChunk(st);
	if (c->t == NULL &&
		(c->n_user_runs == 0 || c->user_runs[c->n_user_runs - 1].user != user))
		c = StateNewUserRun(st, c, user);
	if (c->t != NULL)
	{
		RecTriple  *t = &c->t[c->len++];

		t->user = user;
		t->item = item;
		t->value = value;
	}
	/* the chunk fits the entry: the checks above closed one that did not */
	else if (!GroupedChunkAppend(c, item, value))
		elog(ERROR, "training state chunk cannot keep its entry");
	st->n++;
	st->run_chunk = c->t == NULL && c->segment < 0 ? c : NULL;
	st->run_user = user;
}

/* Raises the error for a value the algorithm does not take */
static pg_noinline void
StateRefuseValue(TrainState *st, int64 user_id, int64 item_id, float value)
{
	if (isnan(value) || isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s value must be finite, got %s for user " INT64_FORMAT " and item " INT64_FORMAT,
						st->alg->value_name,
						isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity"),
						user_id, item_id)));
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s must not be negative, got %g for user " INT64_FORMAT " and item " INT64_FORMAT,
					st->alg->value_name, (double) value, user_id, item_id),
			 errhint("%s", st->alg->negative_hint)));
}

/* Checks one row's value, maps its ids and appends it */
static pg_attribute_always_inline void
StateAddRow(TrainState *st, int64 user_id, int64 item_id, float value)
{
	RecTripleChunk *c;
	int32		u,
				i;

	if (unlikely(!isfinite(value) || value < st->value_floor))
		StateRefuseValue(st, user_id, item_id, value);

	/* input is often grouped by user: skip the hash lookup for a repeat */
	if (st->last_user_dense >= 0 && st->last_user == user_id)
		u = st->last_user_dense;
	else
	{
		u = IdMapLookup(st, &st->users, user_id, "user");
		st->last_user = user_id;
		st->last_user_dense = u;
	}
	i = IdMapLookup(st, &st->items, item_id, "item");

	/* the usual row: the next entry of the current user's run */
	c = st->run_chunk;
	if (likely(c != NULL && st->run_user == u && c->len < c->cap &&
			   GroupedChunkAppend(c, i, value)))
	{
		st->n++;
		return;
	}
	StateAppend(st, u, i, value);
}

/*
 * One row of an aggregate that takes item features: features (when given)
 * describe the item, and the row is an interaction when user and value are
 * given too; a row with a NULL user and features registers a catalogue item.
 */
static void
StateAddFeatureRow(TrainState *st, bool user_null, int64 user_id, bool item_null,
				   int64 item_id, bool value_null, float value, bool features_null,
				   Datum features, bool text)
{
	if (item_null)
		return;
	if (!features_null)
	{
		int32		i = IdMapLookup(st, &st->items, item_id, "item");

		RecFeatureStoreAdd(st->features, i, item_id, features, text);
	}
	if (!user_null && !value_null)
		StateAddRow(st, user_id, item_id, value);
}

/*
 * The algorithm of the aggregate whose transition is running, found by the
 * aggregate's name in the algorithm table (train_transfn serves them all).
 */
static const RecAlgorithm *
CallingAggregateAlgorithm(FunctionCallInfo fcinfo)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);
	char	   *name = aggref ? get_func_name(aggref->aggfnoid) : NULL;
	const RecAlgorithm *alg = name ? RecAlgorithmByAggregate(name) : NULL;

	if (alg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("train_transfn serves only the training aggregates of recsys, not %s",
						name ? name : "a window or a direct call")));
	return alg;
}

/*
 * The state a transition's first row creates.  The context is checked here
 * once: a state (type internal) only ever comes from the aggregate that made
 * it.  Out of line, so that the per-row path takes no local's address (and
 * needs no stack protector).
 */
static pg_noinline TrainState *
TransitionStateCreate(FunctionCallInfo fcinfo, int code)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context",
			 code >= 0 ? RecAlgorithmByCode(code)->aggregate : "train_transfn");
	return StateCreate(aggcontext, code >= 0 ? RecAlgorithmByCode(code) :
					   CallingAggregateAlgorithm(fcinfo), 0, 0);
}

/*
 * Shared transition function: maps the ids and appends one row.  code is the
 * algorithm's (RECSYS_ALG_*), or -1 for train_transfn, which looks it up by the
 * aggregate's name; either only when the first row creates the state.
 */
static Datum
TrainTransition(FunctionCallInfo fcinfo, int code)
{
	TrainState *st;

	st = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);
	if (unlikely(st == NULL))
		st = TransitionStateCreate(fcinfo, code);

	if (PG_NARGS() > 4 && !PG_ARGISNULL(4) && !st->have_options)
	{
		RecParseOptions(st->alg->code, PG_GETARG_JSONB_P(4), st->options.bytes);
		st->have_options = true;
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_POINTER(st);

	StateAddRow(st, PG_GETARG_INT64(1), PG_GETARG_INT64(2), PG_GETARG_FLOAT4(3));
	PG_RETURN_POINTER(st);
}

/*
 * The usual row, appended without a call or a saved register: a state that
 * has its options, the row's user the one whose run ends the last chunk, an
 * item already numbered that fits the chunk, a value the algorithm takes;
 * false (nothing done) for every other row, which TrainTransition then takes.
 * The same outcome as TrainTransition's for the rows it appends.
 */
static pg_attribute_always_inline bool
TransitionAppendFast(FunctionCallInfo fcinfo)
{
	NullableDatum *args = fcinfo->args;
	TrainState *st = (TrainState *) DatumGetPointer(args[0].value);
	RecTripleChunk *c;
	int64		item_id;
	float		value;
	int32		i;

	if (args[0].isnull | args[1].isnull | args[2].isnull | args[3].isnull)
		return false;
	if (unlikely(!st->have_options) && PG_NARGS() > 4 && !args[4].isnull)
		return false;
	c = st->run_chunk;
	if (c == NULL || DatumGetInt64(args[1].value) != st->last_user ||
		st->run_user != st->last_user_dense)
		return false;
	item_id = DatumGetInt64(args[2].value);
	if ((uint64) item_id >= (uint64) st->items.direct_cap)
		return false;
	i = st->items.direct[item_id];
	value = DatumGetFloat4(args[3].value);
	/* NaN fails both, infinities one */
	if (i < 0 || !(value >= st->value_floor && value <= FLT_MAX))
		return false;
	if (c->len >= c->cap || !GroupedChunkAppend(c, i, value))
		return false;
	st->n++;
	return true;
}

PG_FUNCTION_INFO_V1(train_features_transfn);
/*
 * Transition function of the training aggregates that take item features
 * (user, item, value, features [, options]): train_content, train_hybrid
 */
Datum
train_features_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	TrainState *st;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "train_features_transfn called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);
	if (st == NULL)
	{
		const RecAlgorithm *alg = CallingAggregateAlgorithm(fcinfo);

		if (!alg->features)
			elog(ERROR, "train_features_transfn serves only aggregates that take features");
		st = StateCreate(aggcontext, alg, 0, 0);
	}
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5) && !st->have_options)
	{
		RecParseOptions(st->alg->code, PG_GETARG_JSONB_P(5), st->options.bytes);
		st->have_options = true;
	}
	StateAddFeatureRow(st, PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1),
					   PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2),
					   PG_ARGISNULL(3), PG_ARGISNULL(3) ? 0 : PG_GETARG_FLOAT4(3),
					   PG_ARGISNULL(4), PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4),
					   get_fn_expr_argtype(fcinfo->flinfo, 4) == TSVECTOROID);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(train_als_transfn);
/* Transition function of train_als (3 or 4 arguments) */
Datum
train_als_transfn(PG_FUNCTION_ARGS)
{
	if (likely(TransitionAppendFast(fcinfo)))
		PG_RETURN_DATUM(fcinfo->args[0].value);
	return TrainTransition(fcinfo, RECSYS_ALG_ALS);
}

PG_FUNCTION_INFO_V1(train_ials_transfn);
/* Transition function of train_ials (3 or 4 arguments) */
Datum
train_ials_transfn(PG_FUNCTION_ARGS)
{
	if (likely(TransitionAppendFast(fcinfo)))
		PG_RETURN_DATUM(fcinfo->args[0].value);
	return TrainTransition(fcinfo, RECSYS_ALG_IALS);
}

PG_FUNCTION_INFO_V1(train_transfn);
/*
 * Transition function of every training aggregate (3 or 4 arguments): the
 * algorithm is the table row of the aggregate's name (train_als and train_ials
 * keep their own functions, which their 0.1.0 definitions name)
 */
Datum
train_transfn(PG_FUNCTION_ARGS)
{
	if (likely(TransitionAppendFast(fcinfo)))
		PG_RETURN_DATUM(fcinfo->args[0].value);
	return TrainTransition(fcinfo, -1);
}

/* A segment of dst mapping indexes through first (if any) and then through second */
static int32
StateAddSegment(TrainState *dst, const RecSegment *first, const int32 *umap, int32 n_users,
				const int32 *imap, int32 n_items)
{
	RecSegment *seg;

	if (dst->n_segments == dst->max_segments)
	{
		dst->max_segments = Max(4, dst->max_segments * 2);
		dst->segments = dst->segments == NULL ?
			MemoryContextAlloc(dst->ctx, sizeof(RecSegment) * dst->max_segments) :
			repalloc(dst->segments, sizeof(RecSegment) * dst->max_segments);
	}
	seg = &dst->segments[dst->n_segments];
	seg->n_users = first ? first->n_users : n_users;
	seg->n_items = first ? first->n_items : n_items;
	seg->users = MemoryContextAllocExtended(dst->ctx, sizeof(int32) * Max(seg->n_users, 1),
											MCXT_ALLOC_HUGE);
	seg->items = MemoryContextAllocExtended(dst->ctx, sizeof(int32) * Max(seg->n_items, 1),
											MCXT_ALLOC_HUGE);
	for (int32 d = 0; d < seg->n_users; d++)
		seg->users[d] = umap[first ? first->users[d] : d];
	for (int32 d = 0; d < seg->n_items; d++)
		seg->items[d] = imap[first ? first->items[d] : d];
	return dst->n_segments++;
}

/* The address in block to of what p points to in its copy from (NULL stays) */
static void *
Rebase(const void *p, const char *from, char *to)
{
	return p == NULL ? NULL : to + ((const char *) p - from);
}

/*
 * Moves every interaction of src into dst in O(distinct ids): dst numbers src's ids,
 * and src's chunks join dst's list with maps from src's numbering to dst's; the
 * interactions themselves are neither rewritten nor (when own is true, src's
 * memory being ours to keep) copied.  With own, src is consumed.
 */
static void
StateAbsorb(TrainState *dst, TrainState *src, bool own)
{
	int32	   *umap = palloc_extended(sizeof(int32) * Max(src->users.n, 1), MCXT_ALLOC_HUGE);
	int32	   *imap = palloc_extended(sizeof(int32) * Max(src->items.n, 1), MCXT_ALLOC_HUGE);
	int32	   *segmap = palloc(sizeof(int32) * (src->n_segments + 1));

	for (int32 d = 0; d < src->users.n; d++)
		umap[d] = IdMapLookup(dst, &dst->users, src->users.raw[d], "user");
	for (int32 d = 0; d < src->items.n; d++)
		imap[d] = IdMapLookup(dst, &dst->items, src->items.raw[d], "item");

	/* segmap[s + 1]: dst's segment for src's segment s (-1: src's own numbering) */
	segmap[0] = -1;
	for (int32 c = 0; c < src->n_chunks; c++)
	{
		int32		s = src->chunks[c].segment;

		if (src->chunks[c].len > 0 && segmap[0] < 0 && s < 0)
			segmap[0] = StateAddSegment(dst, NULL, umap, src->users.n, imap, src->items.n);
	}
	for (int32 r = 0; r < src->n_runs; r++)
		if (segmap[0] < 0 && src->runs[r].segment < 0)
			segmap[0] = StateAddSegment(dst, NULL, umap, src->users.n, imap, src->items.n);
	for (int32 s = 0; s < src->n_segments; s++)
		segmap[s + 1] = StateAddSegment(dst, &src->segments[s], umap, 0, imap, 0);

	for (int32 c = 0; c < src->n_chunks; c++)
	{
		const RecTripleChunk *sc = &src->chunks[c];

		if (sc->len == 0)
			continue;

		/* full (cap = len): nothing is ever appended to a chunk that is not ours */
		if (sc->t != NULL)
		{
			RecTriple  *t = sc->t;

			if (!own)
			{
				t = StateAllocInteractions(dst, sc->len);
				memcpy(t, sc->t, sizeof(RecTriple) * sc->len);
			}
			StateAddChunk(dst, t, sc->len, sc->len, segmap[sc->segment + 1])->unchecked =
				sc->unchecked;
		}
		else
		{
			RecPair    *pairs = sc->pairs;
			RecUserRun *user_runs = sc->user_runs;
			RecTripleChunk *dc;

			if (!own)
			{
				pairs = MemoryContextAllocExtended(dst->ctx, sizeof(RecPair) * sc->len,
												   MCXT_ALLOC_HUGE);
				if (sc->pairs != NULL)
					memcpy(pairs, sc->pairs, sizeof(RecPair) * sc->len);
				else
					ChunkPairsFromNarrow(sc, pairs);
				user_runs = MemoryContextAllocExtended(dst->ctx,
													   sizeof(RecUserRun) * sc->n_user_runs,
													   MCXT_ALLOC_HUGE);
				memcpy(user_runs, sc->user_runs, sizeof(RecUserRun) * sc->n_user_runs);
			}
			dc = StateAddGroupedChunk(dst, pairs, user_runs, sc->n_user_runs, sc->n_user_runs,
									  sc->len, sc->len, segmap[sc->segment + 1]);
			if (own && pairs == NULL)
			{
				dc->items16 = sc->items16;
				dc->values = sc->values;
				dc->codes = sc->codes;
			}
			dc->unchecked = sc->unchecked;
		}
		dst->n += sc->len;
	}
	for (int32 r = 0; r < src->n_runs; r++)
	{
		RecTripleRun run = src->runs[r];

		if (!own)
		{
			/* one copy of the run's block, its arrays at the same offsets */
			char	   *blob = MemoryContextAllocExtended(dst->ctx, run.blob_bytes,
														  MCXT_ALLOC_HUGE);

			memcpy(blob, run.blob, run.blob_bytes);
			run.ptr = Rebase(run.ptr, run.blob, blob);
			run.items = Rebase(run.items, run.blob, blob);
			run.items16 = Rebase(run.items16, run.blob, blob);
			run.values = Rebase(run.values, run.blob, blob);
			run.codes = Rebase(run.codes, run.blob, blob);
			run.dict = Rebase(run.dict, run.blob, blob);
			run.blob = blob;
		}
		run.segment = segmap[run.segment + 1];
		StateAddRun(dst, &run);
		dst->n += run.n;
	}
	if (own && src->n_shared > 0)
	{
		/* dst now reads src's runs in place: it frees their images */
		dst->shared = dst->shared == NULL ?
			MemoryContextAlloc(dst->ctx, sizeof(SharedImage) * src->n_shared) :
			repalloc(dst->shared, sizeof(SharedImage) * (dst->n_shared + src->n_shared));
		memcpy(dst->shared + dst->n_shared, src->shared, sizeof(SharedImage) * src->n_shared);
		dst->n_shared += src->n_shared;
		dst->shared_bytes += src->shared_bytes;
		src->n_shared = 0;
		src->shared_bytes = 0;
	}
	if (!dst->have_options && src->have_options)
	{
		dst->options = src->options;
		dst->have_options = true;
	}
	dst->last_user_dense = -1;
	pfree(umap);
	pfree(imap);
	pfree(segmap);

	if (own)
	{
		/* keep src's interactions under dst's context; drop the rest of src */
		idmap_destroy(src->users.hash);
		idmap_destroy(src->items.hash);
		pfree(src->users.raw);
		pfree(src->items.raw);
		if (src->users.direct)
			pfree(src->users.direct);
		if (src->items.direct)
			pfree(src->items.direct);
		for (int32 s = 0; s < src->n_segments; s++)
		{
			pfree(src->segments[s].users);
			pfree(src->segments[s].items);
		}
		if (src->segments)
			pfree(src->segments);
		if (src->runs)
			pfree(src->runs);
		pfree(src->chunks);
		MemoryContextSetParent(src->ctx, dst->ctx);
		dst->slack_bytes += src->slack_bytes;
		pfree(src);
	}
	CheckStateMemory(dst);
}

PG_FUNCTION_INFO_V1(train_combinefn);
/* Combine function: merges two partial states (parallel aggregation) */
Datum
train_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	TrainState *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "train_combinefn called in non-aggregate context");
	a = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (TrainState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	/* a state deserialised into our aggcontext can be adopted as it is */
	if (a == NULL && MemoryContextGetParent(b->ctx) == aggcontext)
		PG_RETURN_POINTER(b);
	if (a == NULL)
		a = StateCreate(aggcontext, b->alg, b->users.n, b->items.n);
	StateAbsorb(a, b, MemoryContextGetParent(b->ctx) == aggcontext);
	PG_RETURN_POINTER(a);
}

/*
 * Turns a state's runs back into triple chunks, placed after the state's own
 * chunks, so that a source holds one kind only: a Finalize Aggregate gets
 * both when some states came as values (presorted rows: under 64 kB, or where
 * /dev/shm lacks room) and others in memory (chunks).  The runs' duplicates
 * then count as arriving after the chunks'.
 */
static void
StateRunsToChunks(TrainState *st)
{
	int32		n_runs = st->n_runs;

	st->n_runs = 0;
	for (int32 r = 0; r < n_runs; r++)
	{
		const RecTripleRun *run = &st->runs[r];
		RecTriple  *t = StateAllocInteractions(st, run->n);

		for (int32 row = 0; row < run->n_rows; row++)
			for (int64 j = run->ptr[row]; j < run->ptr[row + 1]; j++)
			{
				t[j].user = row;
				t[j].item = RecRunItem(run, j);
				t[j].value = RecRunValue(run, j);
			}
		if (run->n > 0)
			StateAddChunk(st, t, run->n, run->n, run->segment);
		CHECK_FOR_INTERRUPTS();
	}
	CheckStateMemory(st);
}

/* The state as the interaction build reads it (releasing it once read) */
static void StateSource(TrainState *st, RecTripleSource *src);

/*
 * The dictionary of a state's values when it has at most SERIAL_MAX_CODES
 * distinct ones (by their bits, in order of first appearance): returns their
 * number, or 0 when there are more.  Rewrites values[0..n) in place as one-byte
 * codes into it (byte j over the float j, read before: safe going forward).
 */
static int
SerialEncodeValues(float *values, int64 n, float *dict)
{
	/* open addressing over the bits, four times as many slots as codes */
	uint32		keys[4 * SERIAL_MAX_CODES];
	int16		slot_code[4 * SERIAL_MAX_CODES];
	int			n_codes = 0;
	uint8	   *codes = (uint8 *) values;

	memset(slot_code, 0xff, sizeof(slot_code));
	for (int pass = 0; pass < 2; pass++)
		for (int64 j = 0; j < n; j++)
		{
			uint32		bits;
			uint32		slot;

			memcpy(&bits, &values[j], sizeof(bits));
			slot = (bits * 0x9E3779B1u) >> 22;
			while (slot_code[slot] >= 0 && keys[slot] != bits)
				slot = (slot + 1) & (4 * SERIAL_MAX_CODES - 1);
			if (pass == 1)
				codes[j] = (uint8) slot_code[slot];
			else if (slot_code[slot] < 0)
			{
				if (n_codes == SERIAL_MAX_CODES)
					return 0;
				keys[slot] = bits;
				slot_code[slot] = (int16) n_codes;
				dict[n_codes++] = values[j];
			}
		}
	return n_codes;
}

/*
 * Whether /dev/shm (where POSIX shared memory lives on Linux) has room for
 * bytes more, four times over: the other processes of the plan hand their
 * states over too, and running out there is an error, not a fallback
 */
static bool
SharedMemoryRoom(Size bytes)
{
#ifdef __linux__
	struct statvfs vfs;

	if (dynamic_shared_memory_type != DSM_IMPL_POSIX || statvfs("/dev/shm", &vfs) != 0)
		return false;
	return (uint64) vfs.f_bavail * (uint64) vfs.f_frsize / 4 >= (uint64) bytes;
#else
	return false;
#endif
}

/*
 * Room of room bytes in the parallel query's shared memory area for a
 * worker's serialised state of at most size bytes: the address (*dp in
 * *area), or NULL where the state goes through the tuple queue instead:
 * recsys.parallel_shared_memory off, a small state, not a parallel worker
 * (the leader's own state has LocalImageAlloc, and a partial aggregate outside
 * a Gather has no area), or no room.
 */
static char *
SerialSharedAlloc(FunctionCallInfo fcinfo, uint64 room, uint64 size, dsa_area **area,
				  dsa_pointer *dp)
{
	AggState   *agg;

	if (!recsys_parallel_shared_memory || size < SERIAL_SHARED_MIN || !IsParallelWorker() ||
		fcinfo->context == NULL || !IsA(fcinfo->context, AggState))
		return NULL;
	agg = (AggState *) fcinfo->context;
	*area = agg->ss.ps.state->es_query_dsa;
	if (*area == NULL || !SharedMemoryRoom(room))
		return NULL;
	*dp = dsa_allocate_extended(*area, room, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
	if (!DsaPointerIsValid(*dp))
		return NULL;
	return (char *) dsa_get_address(*area, *dp);
}

/* MemoryContextCallback: a local image's context is going away */
static void
LocalImageUnlink(void *arg)
{
	LocalImage *li = (LocalImage *) arg;

	for (LocalImage **p = &local_images; *p != NULL; p = &(*p)->next)
		if (*p == li)
		{
			*p = li->next;
			break;
		}
}

/* The local image with this token, or NULL once it is gone */
static LocalImage *
LocalImageFind(uint64 token)
{
	for (LocalImage *li = local_images; li != NULL; li = li->next)
		if (li->token == token)
			return li;
	return NULL;
}

/* A new local image of room bytes (none: 0) in a context under parent */
static LocalImage *
LocalImageCreate(MemoryContext parent, uint64 room)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "recsys partial state",
											  ALLOCSET_SMALL_SIZES);
	LocalImage *li = MemoryContextAllocZero(cxt, sizeof(LocalImage));

	li->cxt = cxt;
	li->image = room > 0 ? MemoryContextAllocExtended(cxt, room, MCXT_ALLOC_HUGE) : NULL;
	li->token = ++local_image_tokens;
	li->unlink.func = LocalImageUnlink;
	li->unlink.arg = li;
	MemoryContextRegisterResetCallback(cxt, &li->unlink);
	li->next = local_images;
	local_images = li;
	return li;
}

/*
 * Room of room bytes for the leader's own serialised state of at most size
 * bytes (LocalImage; no room: for the state itself), or NULL where it goes as
 * a bytea instead: the setting off, a small state, a parallel worker, or no
 * Gather above (a partial aggregate runs under one in the leader while the
 * Gather's area is set)
 */
static LocalImage *
LocalImageAlloc(FunctionCallInfo fcinfo, uint64 room, uint64 size)
{
	EState	   *estate;

	if (!recsys_parallel_shared_memory || size < SERIAL_SHARED_MIN || IsParallelWorker() ||
		fcinfo->context == NULL || !IsA(fcinfo->context, AggState))
		return NULL;
	estate = ((AggState *) fcinfo->context)->ss.ps.state;
	if (estate->es_query_dsa == NULL)
		return NULL;
	return LocalImageCreate(estate->es_query_cxt, room);
}

/* Frees an image whose runs a state read in place (if it is still there) */
static void
SharedImageFree(const SharedImage *img)
{
	LocalImage *li;

	if (img->area != NULL)
		dsa_free(img->area, img->image);
	else if ((li = LocalImageFind(img->token)) != NULL)
		MemoryContextDelete(li->cxt);
}

/*
 * The message naming a serialised state of size bytes (SerialShared): at dp in
 * the query's area, or the leader's local image with this token
 */
static bytea *
SerialSharedMessage(FunctionCallInfo fcinfo, uint32 magic, dsa_pointer dp, uint64 token,
					uint64 size, uint64 room, const char *aggregate)
{
	SerialShared msg;
	bytea	   *out;

	memset(&msg, 0, sizeof(msg));
	msg.magic = magic;
	msg.plan_node_id = ((AggState *) fcinfo->context)->ss.ps.plan->plan_node_id;
	msg.image = dp;
	msg.token = token;
	msg.size = size;
	msg.room = room;
	out = palloc(VARHDRSZ + sizeof(msg));
	SET_VARSIZE(out, VARHDRSZ + sizeof(msg));
	memcpy(VARDATA(out), &msg, sizeof(msg));
	elog(DEBUG1, "partial %s state of " UINT64_FORMAT " bytes handed over in %s memory",
		 aggregate, size, magic == SERIAL_LOCAL_MAGIC ? "the leader's" : "shared");
	return out;
}

/* planstate_tree_walker: whether the tree holds the node with this plan_node_id */
static bool
HoldsPlanNode(PlanState *ps, void *context)
{
	if (ps == NULL)
		return false;
	if (ps->plan->plan_node_id == *(int *) context)
		return true;
	return planstate_tree_walker(ps, HoldsPlanNode, context);
}

typedef struct GatherSearch
{
	int			plan_node_id;
	bool		found;
	dsa_area   *area;
} GatherSearch;

/* planstate_tree_walker: the Gather (Merge) above the node, and its area */
static bool
FindGather(PlanState *ps, void *context)
{
	GatherSearch *g = (GatherSearch *) context;
	ParallelExecutorInfo *pei;

	if (ps == NULL)
		return false;
	if (IsA(ps, GatherState))
		pei = ((GatherState *) ps)->pei;
	else if (IsA(ps, GatherMergeState))
		pei = ((GatherMergeState *) ps)->pei;
	else
		return planstate_tree_walker(ps, FindGather, context);
	/* no Gather runs under another */
	if (!HoldsPlanNode(outerPlanState(ps), &g->plan_node_id))
		return false;
	g->found = true;
	g->area = pei != NULL ? pei->area : NULL;
	return true;
}

/*
 * The image a SerialShared message names, in the area of the Gather that runs
 * the message's Partial Aggregate under this (finalizing) aggregate; *area is
 * set to that area
 */
static bytea *
SharedStateImage(FunctionCallInfo fcinfo, const SerialShared *msg, dsa_area **area)
{
	GatherSearch g;
	bytea	   *image;

	memset(&g, 0, sizeof(g));
	g.plan_node_id = msg->plan_node_id;
	if (fcinfo->context != NULL && IsA(fcinfo->context, AggState))
		(void) FindGather(outerPlanState((AggState *) fcinfo->context), &g);
	if (!g.found || g.area == NULL)
		elog(ERROR, "training state handed over in shared memory outside its parallel plan");
	image = (bytea *) dsa_get_address(g.area, msg->image);
	if (VARSIZE(image) != msg->size || msg->room < msg->size)
		elog(ERROR, "training state of inconsistent size");
	*area = g.area;
	return image;
}

static void StateRelease(void *arg);

/* Whether a state can be handed over as it is (SERIAL_CHUNKS, LocalImage.state) */
static bool
StateKeepsChunksOnly(const TrainState *st)
{
	return st->n_runs == 0 && st->n_segments == 0 && st->n_shared == 0 && st->features == NULL;
}

/*
 * h (filled in for SERIAL_ROWS) made a SERIAL_CHUNKS header for st's chunks:
 * false where they do not fit one (user run starts are int32, counted from
 * the first grouped entry)
 */
static bool
ChunkHeaderOf(const TrainState *st, SerialHeader *h)
{
	h->layout = SERIAL_CHUNKS;
	h->value_width = sizeof(uint8);
	h->n_grouped = 0;
	h->n_user_runs = 0;
	for (int32 c = 0; c < st->n_chunks; c++)
		if (st->chunks[c].t == NULL && st->chunks[c].len > 0)
		{
			h->n_grouped += st->chunks[c].len;
			h->n_user_runs += st->chunks[c].n_user_runs;
			if (st->chunks[c].codes == NULL)
				h->value_width = sizeof(float);
		}
	return h->n_grouped <= PG_INT32_MAX;
}

/* Adds a piece of the image to a list unless it is empty */
static inline void
ImageAddPiece(ImagePiece *pieces, int32 *n, uint64 offset, const void *address,
			  uint64 bytes)
{
	if (bytes == 0)
		return;
	pieces[*n].offset = offset;
	pieces[*n].address = (uint64) (uintptr_t) address;
	pieces[*n].bytes = bytes;
	(*n)++;
}

/* The most pieces ChunkImagePieces lists for a state */
#define CHUNK_IMAGE_MAX_PIECES(st)	(3 + 2 * (st)->n_chunks)

/*
 * The arrays of st's SERIAL_CHUNKS image (header h, layout l) as pieces: where
 * each goes in the image and where its bytes are now.  A chunk kept narrower
 * than the image (codes before the first value off the half-step grid, 16-bit
 * items before the 65,537th item) and the runs, whose starts the image counts
 * from the first grouped entry, are written into new arrays in st's context.
 * Returns the number of pieces (at most CHUNK_IMAGE_MAX_PIECES).
 */
static int32
ChunkImagePieces(TrainState *st, const SerialHeader *h, const ChunkLayout *l,
				 ImagePiece *pieces)
{
	RecUserRun *runs = MemoryContextAllocExtended(st->ctx,
												  sizeof(RecUserRun) * Max(h->n_user_runs, 1),
												  MCXT_ALLOC_HUGE);
	int32		n_pieces = 0;
	int64		g = 0,
				r = 0,
				t = 0;

	ImageAddPiece(pieces, &n_pieces, SERIAL_IDS_OFFSET, st->users.raw,
				  sizeof(int64) * (uint64) h->n_users);
	ImageAddPiece(pieces, &n_pieces, SERIAL_IDS_OFFSET + sizeof(int64) * (uint64) h->n_users,
				  st->items.raw, sizeof(int64) * (uint64) h->n_items);
	for (int32 c = 0; c < st->n_chunks; c++)
	{
		const RecTripleChunk *ch = &st->chunks[c];

		if (ch->len == 0)
			continue;
		if (ch->t != NULL)
		{
			ImageAddPiece(pieces, &n_pieces, l->triples + sizeof(RecTriple) * (uint64) t, ch->t,
						  sizeof(RecTriple) * (uint64) ch->len);
			t += ch->len;
			continue;
		}
		if (h->item_width == sizeof(uint16))
		{
			/* at most 65,536 items: the transition kept every chunk narrow */
			if (ch->items16 == NULL)
				elog(ERROR, "training state with a wide chunk among at most 65536 items");
			ImageAddPiece(pieces, &n_pieces, l->items16 + sizeof(uint16) * (uint64) g,
						  ch->items16, sizeof(uint16) * (uint64) ch->len);
			if (h->value_width == sizeof(uint8))
				ImageAddPiece(pieces, &n_pieces, l->values + (uint64) g, ch->codes,
							  (uint64) ch->len);
			else
			{
				const float *values = ch->values;

				if (values == NULL)
				{
					float	   *wide = MemoryContextAllocExtended(st->ctx,
																  sizeof(float) * ch->len,
																  MCXT_ALLOC_HUGE);

					for (int64 j = 0; j < ch->len; j++)
						wide[j] = RecHalfStepValue(ch->codes[j]);
					values = wide;
				}
				ImageAddPiece(pieces, &n_pieces, l->values + sizeof(float) * (uint64) g,
							  values, sizeof(float) * (uint64) ch->len);
			}
		}
		else
		{
			const RecPair *pairs = ch->pairs;

			if (pairs == NULL)
			{
				RecPair    *wide = MemoryContextAllocExtended(st->ctx, sizeof(RecPair) * ch->len,
															  MCXT_ALLOC_HUGE);

				ChunkPairsFromNarrow(ch, wide);
				pairs = wide;
			}
			ImageAddPiece(pieces, &n_pieces, l->pairs + sizeof(RecPair) * (uint64) g, pairs,
						  sizeof(RecPair) * (uint64) ch->len);
		}
		for (int32 k = 0; k < ch->n_user_runs; k++, r++)
		{
			runs[r].user = ch->user_runs[k].user;
			runs[r].start = (int32) (g + ch->user_runs[k].start);
		}
		g += ch->len;
	}
	Assert(g == h->n_grouped && r == h->n_user_runs && g + t == h->n);
	ImageAddPiece(pieces, &n_pieces, l->user_runs, runs, sizeof(RecUserRun) * (uint64) r);
	Assert(n_pieces <= CHUNK_IMAGE_MAX_PIECES(st));
	return n_pieces;
}

/*
 * A worker's state as it is (SERIAL_CHUNKS) in the query's shared memory: the
 * message naming it, or NULL where it goes presorted instead (the setting
 * off, no area, a small state, one holding merged states, or no room)
 */
static bytea *
SerializeChunksShared(FunctionCallInfo fcinfo, TrainState *st, const SerialHeader *header)
{
	SerialHeader h = *header;
	ChunkLayout l;
	dsa_area   *area = NULL;
	dsa_pointer dp = InvalidDsaPointer;
	char	   *base;
	ImagePiece *pieces;
	int32		n_pieces;

	if (!StateKeepsChunksOnly(st) || !IsParallelWorker() || !ChunkHeaderOf(st, &h))
		return NULL;
	l = ChunkLayoutOf(h.n_users, h.n_items, h.n, h.item_width, h.value_width, h.n_grouped,
					  h.n_user_runs);
	if (l.size > RECSYS_MODEL_MAX_BYTES ||
		(base = SerialSharedAlloc(fcinfo, l.size, l.size, &area, &dp)) == NULL)
		return NULL;

	pieces = palloc(sizeof(ImagePiece) * CHUNK_IMAGE_MAX_PIECES(st));
	n_pieces = ChunkImagePieces(st, &h, &l, pieces);
	for (int32 p = 0; p < n_pieces; p++)
		memcpy(base + pieces[p].offset, (const void *) (uintptr_t) pieces[p].address,
			   pieces[p].bytes);
	pfree(pieces);
	memcpy(VARDATA(base), &h, sizeof(h));
	SET_VARSIZE(base, l.size);
	StateRelease(st);
	return SerialSharedMessage(fcinfo, SERIAL_SHARED_MAGIC, dp, 0, l.size, l.size,
							   st->alg->aggregate);
}

/*
 * The leader's own state handed to its Finalize Aggregate as it is: its
 * context moves under a LocalImage (so that the partial aggregate resetting
 * its memory leaves it alone) and the message names it.  NULL where it goes
 * serialised instead (see LocalImageAlloc).
 */
static bytea *
SerializeStateLocal(FunctionCallInfo fcinfo, TrainState *st)
{
	uint64		bytes = (uint64) StateBytes(st);
	LocalImage *li;

	/* a small state goes as a value, as a worker's through the tuple queue */
	if (!StateKeepsChunksOnly(st) ||
		(li = LocalImageAlloc(fcinfo, 0, (uint64) st->n * sizeof(RecPair))) == NULL)
		return NULL;
	li->state = MemoryContextAlloc(li->cxt, sizeof(TrainState));
	*li->state = *st;
	MemoryContextSetParent(st->ctx, li->cxt);
	st->consumed = true;
	return SerialSharedMessage(fcinfo, SERIAL_LOCAL_MAGIC, InvalidDsaPointer, li->token,
							   bytes, 0, st->alg->aggregate);
}

/*
 * Whether this worker's leader can read its memory: tried once per process
 * by reading the leader's pid from the leader (MyProcPid lies at the same
 * address in every backend).  Both are processes of one user, so where the
 * kernel lets one read the other (ptrace's access rules, Yama's scope, the
 * security modules), it lets the other read it too.
 */
static bool
RemoteReadAllowed(void)
{
#ifdef __linux__
	static int	allowed = -1;
	PGPROC	   *leader = MyProc != NULL ? MyProc->lockGroupLeader : NULL;

	if (leader == NULL || leader == MyProc)
		return false;
	if (allowed < 0)
	{
		int			got = 0;
		struct iovec local = {&got, sizeof(got)};
		struct iovec remote = {(void *) &MyProcPid, sizeof(got)};
		int			pid = leader->pid;

		allowed = pid != 0 && process_vm_readv(pid, &local, 1, &remote, 1, 0) == sizeof(got) &&
			got == pid;
	}
	return allowed == 1;
#else
	return false;
#endif
}

/*
 * MemoryContextCallback of a state handed over in the worker's memory: waits
 * until the leader has read it, or gives up while the leader has not begun
 * (the worker is being stopped or its transaction is failing, or the leader
 * is gone).  No error may escape: this runs as the state's context goes.
 */
static void
RemoteHandoverWait(void *arg)
{
	RemoteHandover *rh = (RemoteHandover *) arg;

	/* the segment goes only as the process exits: then nobody waits */
	if (dsm_find_mapping(rh->handle) != rh->seg)
		return;
	for (;;)
	{
		uint32		s = pg_atomic_read_u32(&rh->hs->state);

		if (s == HANDOVER_DONE || s == HANDOVER_ABANDONED)
			break;
		if (s == HANDOVER_WAITING &&
			(ProcDiePending || QueryCancelPending || !IsTransactionState() ||
			 rh->leader->pid != rh->leader_pid))
		{
			if (pg_atomic_compare_exchange_u32(&rh->hs->state, &s, HANDOVER_ABANDONED))
				break;
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	dsm_detach(rh->seg);
}

/*
 * A worker's state left where it is for the leader to read (SerialRemote):
 * the message, or NULL where it goes through shared memory instead (the
 * settings off, GROUP BY, a small state, one holding merged states, no
 * handshake segment, or a kernel that does not let the processes read each
 * other's memory)
 */
static bytea *
SerializeChunksRemote(FunctionCallInfo fcinfo, TrainState *st, const SerialHeader *header)
{
	SerialHeader h = *header;
	ChunkLayout l;
	SerialRemote msg;
	ImagePiece *pieces;
	RemoteHandover *rh;
	dsm_segment *seg;
	bytea	   *out;
	Size		out_size;
	int32		n_pieces;

	if (!recsys_parallel_shared_memory || !recsys_parallel_direct_read ||
		!IsParallelWorker() || fcinfo->context == NULL || !IsA(fcinfo->context, AggState) ||
		((AggState *) fcinfo->context)->aggstrategy != AGG_PLAIN ||
		!StateKeepsChunksOnly(st) || !ChunkHeaderOf(st, &h))
		return NULL;
	l = ChunkLayoutOf(h.n_users, h.n_items, h.n, h.item_width, h.value_width, h.n_grouped,
					  h.n_user_runs);
	if (l.size < SERIAL_SHARED_MIN || l.size > RECSYS_MODEL_MAX_BYTES || !RemoteReadAllowed())
		return NULL;

	seg = dsm_create(sizeof(RemoteHandshake), DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (seg == NULL)
		return NULL;
	/* mapped until this process exits, whatever happens to the query */
	dsm_pin_mapping(seg);

	out_size = Max(VARHDRSZ + sizeof(msg) + sizeof(ImagePiece) * (Size) CHUNK_IMAGE_MAX_PIECES(st),
				   REMOTE_MESSAGE_MIN);
	out = palloc0(out_size);
	SET_VARSIZE(out, out_size);
	pieces = (ImagePiece *) (VARDATA(out) + sizeof(msg));
	n_pieces = ChunkImagePieces(st, &h, &l, pieces);

	rh = MemoryContextAllocZero(st->ctx, sizeof(RemoteHandover));
	rh->seg = seg;
	rh->handle = dsm_segment_handle(seg);
	rh->hs = (RemoteHandshake *) dsm_segment_address(seg);
	pg_atomic_init_u32(&rh->hs->state, HANDOVER_WAITING);
	rh->leader = MyProc->lockGroupLeader;
	rh->leader_pid = rh->leader->pid;
	rh->wait.func = RemoteHandoverWait;
	rh->wait.arg = rh;
	MemoryContextRegisterResetCallback(st->ctx, &rh->wait);

	memset(&msg, 0, sizeof(msg));
	msg.magic = SERIAL_REMOTE_MAGIC;
	msg.pid = MyProcPid;
	msg.pgprocno = MyProc->pgprocno;
	msg.handshake = rh->handle;
	msg.size = l.size;
	msg.n_pieces = n_pieces;
	msg.header = h;
	memcpy(VARDATA(out), &msg, sizeof(msg));
	/* nothing reads the state after this; its memory stays until it is read */
	st->consumed = true;
	elog(DEBUG1, "partial %s state of " UINT64_FORMAT " bytes handed over in the worker's memory",
		 st->alg->aggregate, l.size);
	return out;
}

PG_FUNCTION_INFO_V1(train_serialfn);
/*
 * Serialises a partial state for the Finalize Aggregate (see SerialHeader): a
 * worker's as it is, in the query's shared memory, the leader's own by moving
 * it (LocalImage), and each as a message naming it; else its interactions
 * presorted into rows, as a bytea (or, failing the above for a large state,
 * in shared memory or the leader's memory).  Consumes the state: nothing
 * reads a partial state after it is serialised.
 */
Datum
train_serialfn(PG_FUNCTION_ARGS)
{
	TrainState *st = (TrainState *) PG_GETARG_POINTER(0);
	SerialHeader h;
	SerialLayout wide,
				l;
	bytea	   *out;
	char	   *base;
	char	   *shared = NULL;
	dsa_area   *area = NULL;
	dsa_pointer dp = InvalidDsaPointer;
	LocalImage *local;
	uint64		room;

	if (st->consumed)
		elog(ERROR, "training state used twice");
	memset(&h, 0, sizeof(h));
	h.algorithm = st->alg->code;
	h.have_options = st->have_options;
	h.options = st->options;
	h.n_users = st->users.n;
	h.n_items = st->items.n;
	h.n = st->n;
	h.item_width = st->items.n <= SERIAL_NARROW_ITEMS ? sizeof(uint16) : sizeof(int32);
	h.layout = SERIAL_ROWS;

	/* as it is: a worker's state in shared memory, the leader's in place */
	if ((out = SerializeChunksRemote(fcinfo, st, &h)) != NULL ||
		(out = SerializeChunksShared(fcinfo, st, &h)) != NULL ||
		(out = SerializeStateLocal(fcinfo, st)) != NULL)
		PG_RETURN_BYTEA_P(out);

	/* the size without a dictionary: the most it can take */
	l = SerialLayoutOf(h.n_users, h.n_items, h.n, h.item_width, 0);
	if (l.size > RECSYS_MODEL_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partial %s state of " INT64_FORMAT " interactions is too large to pass between parallel workers",
						st->alg->aggregate, st->n),
				 errdetail("It takes %llu bytes; a value holds at most %llu.",
						   (unsigned long long) l.size, (unsigned long long) RECSYS_MODEL_MAX_BYTES),
				 errhint("Run the training query with max_parallel_workers_per_gather = 0.")));

	/*
	 * room for the rows in full width, where RecSortRows puts them, compacted
	 * in place afterwards: in the query's shared memory (a worker's), in the
	 * leader's own image, or for a bytea.  Sorting straight into shared memory
	 * spares a worker a copy of its state on the way to the leader (15 ms of
	 * a 20M-rating feed); the slack at its end goes back with the rest.
	 */
	wide = SerialLayoutOf(h.n_users, h.n_items, h.n, sizeof(int32), 0);
	room = wide.size + sizeof(float) * SERIAL_MAX_CODES;
	local = LocalImageAlloc(fcinfo, room, l.size);
	if (local != NULL)
		base = (char *) local->image;
	else if ((shared = SerialSharedAlloc(fcinfo, room, l.size, &area, &dp)) != NULL)
		base = shared;
	else
		base = palloc_extended(room, MCXT_ALLOC_HUGE);
	out = (bytea *) base;
	if (st->n > 0)
	{
		RecTrainMemory tm;
		RecTripleSource src;
		RecRowsDest dst;
		int64	   *user_ids,
				   *item_ids,
				   *user_ptr;
		int32	   *user_items;
		float	   *user_values;
		float		dict[SERIAL_MAX_CODES];

		if (st->n_runs > 0)
			StateRunsToChunks(st);
		memset(&tm, 0, sizeof(tm));
		tm.aggregate = st->alg->aggregate;
		tm.n = st->n;
		tm.n_users = st->users.n;
		tm.n_items = st->items.n;
		tm.live = tm.peak = StateBytes(st) + (int64) wide.size;

		/*
		 * one thread: the plan's processes already presort side by side, and
		 * more threads than cores only slow every one of them down.  The rows
		 * are sorted straight into the bytea (or the leader's image).
		 */
		tm.threads = 1;
		dst.user_ptr = (int64 *) (base + wide.rows);
		dst.user_values = (float *) (base + wide.values);
		dst.user_items = (int32 *) (base + wide.items);
		StateSource(st, &src);
		RecSortRows(&tm, &src, &dst, &user_ids, &item_ids, &user_ptr, &user_items,
					&user_values);
		memcpy(base + SERIAL_IDS_OFFSET, user_ids, sizeof(int64) * h.n_users);
		memcpy(base + SERIAL_IDS_OFFSET + sizeof(int64) * h.n_users, item_ids,
			   sizeof(int64) * h.n_items);
		RecTrainFree(&tm, user_ids, h.n_users, sizeof(int64));
		RecTrainFree(&tm, item_ids, h.n_items, sizeof(int64));

		/* compact in place: codes over the values, items narrowed or moved down */
		h.n_codes = SerialEncodeValues(user_values, h.n, dict);
		l = SerialLayoutOf(h.n_users, h.n_items, h.n, h.item_width, h.n_codes);
		Assert(l.values == wide.values && l.items <= wide.items);
		if (h.item_width == sizeof(uint16))
		{
			uint16	   *narrow = (uint16 *) (base + l.items);

			for (int64 j = 0; j < h.n; j++)
				narrow[j] = (uint16) user_items[j];
		}
		else if (l.items != wide.items)
			memmove(base + l.items, user_items, sizeof(int32) * h.n);
		memcpy(base + l.dict, dict, sizeof(float) * h.n_codes);
	}
	memcpy(VARDATA(out), &h, sizeof(h));
	SET_VARSIZE(out, l.size);
	if (shared != NULL)
		PG_RETURN_BYTEA_P(SerialSharedMessage(fcinfo, SERIAL_SHARED_MAGIC, dp, 0, l.size, room,
											  st->alg->aggregate));
	if (local != NULL)
		PG_RETURN_BYTEA_P(SerialSharedMessage(fcinfo, SERIAL_LOCAL_MAGIC, InvalidDsaPointer,
											  local->token, l.size, room, st->alg->aggregate));
	PG_RETURN_BYTEA_P(out);
}

/* Whether a SERIAL_CHUNKS header's counts and widths can describe an image */
static bool
ChunkHeaderConsistent(const SerialHeader *h)
{
	return h->n_users >= 0 && h->n_items >= 0 && h->n >= 0 && h->n <= PG_INT64_MAX / 64 &&
		h->n_grouped >= 0 && h->n_grouped <= h->n && h->n_grouped <= PG_INT32_MAX &&
		h->n_user_runs >= 0 && h->n_user_runs <= h->n_grouped &&
		(h->n_grouped > 0) == (h->n_user_runs > 0) &&
		(h->item_width == sizeof(uint16) || h->item_width == sizeof(int32)) &&
		(h->item_width != sizeof(uint16) || h->n_items <= SERIAL_NARROW_ITEMS) &&
		(h->item_width != sizeof(uint16) ||
		 h->value_width == sizeof(uint8) || h->value_width == sizeof(float));
}

/*
 * A state from a SERIAL_CHUNKS image in shared memory (img), read in place:
 * the ids in the sender's dense order, so that its indexes stay valid, and
 * its chunks as they are: their runs' users are checked here, their entries'
 * indexes by the build as it reads them (RecTripleChunk.unchecked)
 */
static TrainState *
DeserializeChunks(MemoryContext aggcontext, bytea *in, const SerialHeader *h,
				  const SharedImage *img, int64 image_bytes)
{
	ChunkLayout l;
	const RecAlgorithm *alg;
	TrainState *st;
	RecPair    *pairs;
	RecUserRun *runs;
	RecTriple  *triples;
	int64		n_triples;

	if (!ChunkHeaderConsistent(h))
		elog(ERROR, "training state of inconsistent size");
	l = ChunkLayoutOf(h->n_users, h->n_items, h->n, h->item_width, h->value_width,
					  h->n_grouped, h->n_user_runs);
	if (VARSIZE(in) != l.size)
		elog(ERROR, "training state of inconsistent size");
	alg = RecAlgorithmByCode(h->algorithm);
	if (alg == NULL)
		elog(ERROR, "training state of unknown algorithm %d", h->algorithm);

	st = StateCreate(aggcontext, alg, h->n_users, h->n_items);
	st->have_options = h->have_options;
	st->options = h->options;
	for (int side = 0; side < 2; side++)
	{
		IdMap	   *m = side == 0 ? &st->users : &st->items;
		int32		count = side == 0 ? h->n_users : h->n_items;
		const char *ids = (const char *) in + SERIAL_IDS_OFFSET +
			(side == 0 ? 0 : sizeof(int64) * (uint64) h->n_users);

		for (int32 d = 0; d < count; d++)
		{
			int64		id;

			memcpy(&id, ids + sizeof(int64) * (uint64) d, sizeof(id));
			if (IdMapLookup(st, m, id, side == 0 ? "user" : "item") != d)
				elog(ERROR, "training state with repeated %s ids", side == 0 ? "user" : "item");
		}
	}

	/*
	 * every index in range (the build indexes arrays with them): the runs'
	 * users here, the entries' indexes as the build reads them (unchecked)
	 */
	pairs = (RecPair *) ((char *) in + l.pairs);
	runs = (RecUserRun *) ((char *) in + l.user_runs);
	triples = (RecTriple *) ((char *) in + l.triples);
	n_triples = h->n - h->n_grouped;
	for (int64 k = 0; k < h->n_user_runs; k++)
		if ((uint32) runs[k].user >= (uint32) h->n_users ||
			(k == 0 ? runs[k].start != 0 : runs[k].start <= runs[k - 1].start) ||
			runs[k].start >= h->n_grouped)
			elog(ERROR, "training state with inconsistent runs");

	/* full chunks (cap = len): nothing is ever appended to shared memory */
	if (h->n_grouped > 0)
	{
		RecTripleChunk *c = StateAddGroupedChunk(st, NULL, runs, (int32) h->n_user_runs,
												 (int32) h->n_user_runs, h->n_grouped,
												 h->n_grouped, -1);

		if (h->item_width == sizeof(uint16))
		{
			c->items16 = (uint16 *) ((char *) in + l.items16);
			if (h->value_width == sizeof(uint8))
				c->codes = (uint8 *) ((char *) in + l.values);
			else
				c->values = (float *) ((char *) in + l.values);
		}
		else
			c->pairs = pairs;
		c->unchecked = true;
	}
	if (n_triples > 0)
		StateAddChunk(st, triples, n_triples, n_triples, -1)->unchecked = true;
	st->n = h->n;
	st->shared = MemoryContextAlloc(st->ctx, sizeof(SharedImage));
	st->shared[0] = *img;
	st->n_shared = 1;
	st->shared_bytes = Max((int64) VARSIZE(in), image_bytes);
	CheckStateMemory(st);
	return st;
}

/*
 * A worker's state read from the worker's memory (SerialRemote) into an image
 * of the leader's own, then taken in as DeserializeChunks takes one from
 * shared memory.  Between claiming the worker's memory (HANDOVER_READING) and
 * saying it is done, nothing may fail: the worker waits for the word.
 */
static TrainState *
DeserializeRemote(FunctionCallInfo fcinfo, MemoryContext aggcontext, bytea *in)
{
	SerialRemote msg;
	const ImagePiece *pieces;
	ChunkLayout l;
	PGPROC	   *worker;
	dsm_segment *seg;
	RemoteHandshake *hs;
	LocalImage *li;
	SharedImage img;
	TrainState *st;
	uint32		expected = HANDOVER_WAITING;
	int			read_errno = 0;
	bool		complete = false;

	memcpy(&msg, VARDATA(in), sizeof(msg));
	if (msg.n_pieces < 0 ||
		VARSIZE(in) < VARHDRSZ + sizeof(msg) + sizeof(ImagePiece) * (uint64) msg.n_pieces ||
		msg.header.layout != SERIAL_CHUNKS || !ChunkHeaderConsistent(&msg.header))
		elog(ERROR, "training state of inconsistent size");
	l = ChunkLayoutOf(msg.header.n_users, msg.header.n_items, msg.header.n,
					  msg.header.item_width, msg.header.value_width, msg.header.n_grouped,
					  msg.header.n_user_runs);
	if (l.size != msg.size || l.size > RECSYS_MODEL_MAX_BYTES)
		elog(ERROR, "training state of inconsistent size");
	pieces = (const ImagePiece *) (VARDATA(in) + sizeof(msg));
	for (int32 p = 0; p < msg.n_pieces; p++)
		if (pieces[p].offset < SERIAL_IDS_OFFSET || pieces[p].bytes > l.size ||
			pieces[p].offset > l.size - pieces[p].bytes)
			elog(ERROR, "training state of inconsistent size");

	/* only a process of this leader's own parallel query */
	if (msg.pgprocno < 0 || msg.pgprocno >= (int32) ProcGlobal->allProcCount)
		elog(ERROR, "training state handed over outside its parallel plan");
	worker = &ProcGlobal->allProcs[msg.pgprocno];
	if (msg.pid == MyProcPid || worker->pid != msg.pid || worker->lockGroupLeader != MyProc)
		elog(ERROR, "training state handed over outside its parallel plan");

	/* everything that can fail before the worker's memory is claimed */
	li = LocalImageCreate(((AggState *) fcinfo->context)->ss.ps.state->es_query_cxt, l.size);
	RecAdviseHugePages(li->image, l.size);
	seg = dsm_attach(msg.handshake);
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("parallel worker %d stopped before its partial training state was read",
						msg.pid)));
	hs = (RemoteHandshake *) dsm_segment_address(seg);
	if (!pg_atomic_compare_exchange_u32(&hs->state, &expected, HANDOVER_READING))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("parallel worker %d stopped before its partial training state was read",
						msg.pid)));

#ifdef __linux__
	/* a piece at a time: a few dozen calls, each copying megabytes */
	complete = true;
	for (int32 p = 0; p < msg.n_pieces && complete; p++)
	{
		struct iovec local = {(char *) li->image + pieces[p].offset, pieces[p].bytes};
		struct iovec remote = {(void *) (uintptr_t) pieces[p].address, pieces[p].bytes};
		ssize_t		got = process_vm_readv(msg.pid, &local, 1, &remote, 1, 0);

		if (got != (ssize_t) pieces[p].bytes)
		{
			read_errno = got < 0 ? errno : EFAULT;
			complete = false;
		}
	}
#endif
	/* the worker's memory is no longer needed: let it go */
	pg_atomic_write_u32(&hs->state, HANDOVER_DONE);
	ProcSendSignal(msg.pgprocno);
	dsm_detach(seg);
	if (!complete)
	{
		errno = read_errno;
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not read the partial training state of parallel worker %d: %m",
						msg.pid),
				 errhint("SET recsys.parallel_direct_read = off hands the states over in shared memory.")));
	}

	memcpy(VARDATA(li->image), &msg.header, sizeof(msg.header));
	SET_VARSIZE(li->image, l.size);
	memset(&img, 0, sizeof(img));
	img.token = li->token;
	st = DeserializeChunks(aggcontext, li->image, &msg.header, &img,
						   (int64) MemoryContextMemAllocated(li->cxt, false));
	return st;
}

PG_FUNCTION_INFO_V1(train_deserialfn);
/*
 * Rebuilds a partial state from train_serialfn's bytea: the ids in their
 * ascending order (so the state's dense indexes are the sender's ranks) and
 * one run of presorted rows, kept in their compact form
 */
Datum
train_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	bytea	   *in = PG_GETARG_BYTEA_P(0);
	SharedImage img;
	bool		in_place = false;
	int64		image_bytes = 0;	/* the memory the image takes */
	SerialHeader h;
	SerialLayout l;
	const RecAlgorithm *alg;
	TrainState *st;
	RecTripleRun run;
	char	   *rows;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "train_deserialfn called in non-aggregate context");
	if (VARSIZE(in) >= VARHDRSZ + sizeof(SerialRemote) &&
		*(const uint32 *) VARDATA(in) == SERIAL_REMOTE_MAGIC &&
		fcinfo->context != NULL && IsA(fcinfo->context, AggState))
		PG_RETURN_POINTER(DeserializeRemote(fcinfo, aggcontext, in));
	if (VARSIZE(in) == VARHDRSZ + sizeof(SerialShared))
	{
		SerialShared msg;

		memcpy(&msg, VARDATA(in), sizeof(msg));
		memset(&img, 0, sizeof(img));
		if (msg.magic == SERIAL_SHARED_MAGIC)
		{
			in = SharedStateImage(fcinfo, &msg, &img.area);
			img.image = msg.image;
			img.bytes = msg.room;
			image_bytes = (int64) Min(msg.room, (uint64) PG_INT64_MAX);
			in_place = true;
		}
		else if (msg.magic == SERIAL_LOCAL_MAGIC)
		{
			LocalImage *li = LocalImageFind(msg.token);

			if (li != NULL && li->state != NULL)
			{
				/* the leader's own state, as it is: it moves into aggcontext */
				TrainState *st = MemoryContextAlloc(aggcontext, sizeof(TrainState));

				*st = *li->state;
				MemoryContextSetParent(st->ctx, aggcontext);
				MemoryContextDelete(li->cxt);
				PG_RETURN_POINTER(st);
			}
			if (li == NULL || VARSIZE(li->image) != msg.size)
				elog(ERROR, "training state handed over outside its parallel plan");
			in = li->image;
			img.token = msg.token;
			image_bytes = (int64) MemoryContextMemAllocated(li->cxt, false);
			in_place = true;
		}
	}
	if (VARSIZE(in) < SERIAL_IDS_OFFSET)
		elog(ERROR, "truncated training state");
	memcpy(&h, VARDATA(in), sizeof(h));
	if (h.layout == SERIAL_CHUNKS && in_place && img.area != NULL)
		PG_RETURN_POINTER(DeserializeChunks(aggcontext, in, &h, &img, image_bytes));
	if (h.n_users < 0 || h.layout != SERIAL_ROWS || h.n_items < 0 || h.n < 0 ||
		(h.item_width != sizeof(uint16) && h.item_width != sizeof(int32)) ||
		(h.item_width == sizeof(uint16) && h.n_items > SERIAL_NARROW_ITEMS) ||
		h.n_codes < 0 || h.n_codes > SERIAL_MAX_CODES)
		elog(ERROR, "training state of inconsistent size");
	l = SerialLayoutOf(h.n_users, h.n_items, h.n, h.item_width, h.n_codes);
	if (VARSIZE(in) != l.size)
		elog(ERROR, "training state of inconsistent size");

	alg = RecAlgorithmByCode(h.algorithm);
	if (alg == NULL)
		elog(ERROR, "training state of unknown algorithm %d", h.algorithm);
	st = StateCreate(aggcontext, alg, h.n_users, h.n_items);
	st->have_options = h.have_options;
	st->options = h.options;
	/* inserting in ascending order makes each dense index the sender's rank */
	for (int side = 0; side < 2; side++)
	{
		IdMap	   *m = side == 0 ? &st->users : &st->items;
		int32		count = side == 0 ? h.n_users : h.n_items;
		const char *ids = (const char *) in + SERIAL_IDS_OFFSET +
			(side == 0 ? 0 : sizeof(int64) * (uint64) h.n_users);
		int64		prev = 0;

		for (int32 d = 0; d < count; d++)
		{
			int64		id;

			memcpy(&id, ids + sizeof(int64) * (uint64) d, sizeof(id));
			if (d > 0 && id <= prev)
				elog(ERROR, "training state with unsorted %s ids", side == 0 ? "user" : "item");
			IdMapLookup(st, m, id, side == 0 ? "user" : "item");
			prev = id;
		}
	}
	if (h.n == 0)
	{
		if (in_place)
			SharedImageFree(&img);
		PG_RETURN_POINTER(st);
	}

	/*
	 * the rows as they are: read in place from shared memory (which lives
	 * until the end of the query, after the final function), else one copy
	 * out of the tuple the queue delivered
	 */
	memset(&run, 0, sizeof(run));
	run.blob_bytes = l.size - l.rows;
	if (in_place)
	{
		rows = (char *) in + l.rows;
		st->shared = MemoryContextAlloc(st->ctx, sizeof(SharedImage));
		st->shared[0] = img;
		st->n_shared = 1;
		st->shared_bytes = Max((int64) VARSIZE(in), image_bytes);
	}
	else
	{
		rows = MemoryContextAllocExtended(st->ctx, run.blob_bytes, MCXT_ALLOC_HUGE);
		memcpy(rows, (const char *) in + l.rows, run.blob_bytes);
	}
	run.blob = rows;
	run.ptr = (const int64 *) rows;
	if (h.n_codes > 0)
	{
		run.codes = (const uint8 *) (rows + (l.values - l.rows));
		run.dict = (const float *) (rows + (l.dict - l.rows));
		run.n_codes = h.n_codes;
	}
	else
		run.values = (const float *) (rows + (l.values - l.rows));
	if (h.item_width == sizeof(uint16))
		run.items16 = (const uint16 *) (rows + (l.items - l.rows));
	else
		run.items = (const int32 *) (rows + (l.items - l.rows));
	run.n_items = h.n_items;
	run.n_rows = h.n_users;
	run.n = h.n;
	run.segment = -1;
	if (run.ptr[0] != 0 || run.ptr[h.n_users] != h.n)
		elog(ERROR, "training state with inconsistent rows");
	for (int32 r = 0; r < h.n_users; r++)
		if (run.ptr[r + 1] < run.ptr[r])
			elog(ERROR, "training state with inconsistent rows");
	/* every item and code in range (the merge indexes arrays with them) */
	{
		uint32		max_item = 0;
		uint8		max_code = 0;

		if (run.items16)
			for (int64 j = 0; j < h.n; j++)
				max_item = Max(max_item, run.items16[j]);
		else
			for (int64 j = 0; j < h.n; j++)
				max_item = Max(max_item, (uint32) run.items[j]);
		if (run.codes)
			for (int64 j = 0; j < h.n; j++)
				max_code = Max(max_code, run.codes[j]);
		if (max_item >= (uint32) h.n_items || (run.codes && max_code >= h.n_codes))
			elog(ERROR, "training state with inconsistent rows");
	}
	StateAddRun(st, &run);
	st->n = h.n;
	CheckStateMemory(st);
	PG_RETURN_POINTER(st);
}

/* ----------------------------------------------------------- final function */

/*
 * Whether a worker's image read in place may have its pages given back at once
 * (RecDiscardShared): in a segment of the query's own (POSIX shared memory,
 * nothing reserved by min_dynamic_shared_memory, whose pages are meant to stay)
 */
static bool
SharedImageDiscardable(const SharedImage *img)
{
#ifdef __linux__
	return img->area != NULL && img->bytes > 0 &&
		dynamic_shared_memory_type == DSM_IMPL_POSIX && min_dynamic_shared_memory == 0;
#else
	return false;
#endif
}

/*
 * Frees the shared memory images whose runs st read in place; the pages of the
 * workers' images go back to the system now, on the build's threads, instead of
 * one by one on one thread as the query ends
 */
static void
StateFreeShared(TrainState *st)
{
	void	  **addresses = NULL;
	size_t	   *sizes = NULL;
	int			n = 0;

	for (int32 i = 0; i < st->n_shared; i++)
		if (SharedImageDiscardable(&st->shared[i]))
		{
			if (addresses == NULL)
			{
				addresses = palloc(sizeof(void *) * st->n_shared);
				sizes = palloc(sizeof(size_t) * st->n_shared);
			}
			addresses[n] = dsa_get_address(st->shared[i].area, st->shared[i].image);
			sizes[n++] = (size_t) st->shared[i].bytes;
		}
	if (n > 0)
	{
		RecControl	ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.interrupted = RecCancelRequested;
		/* a cancel or no memory stops it early: the rest goes with the segments */
		(void) RecDiscardShared(addresses, sizes, n, RecWorkThreads(), &ctl);
		pfree(addresses);
		pfree(sizes);
	}
	for (int32 i = 0; i < st->n_shared; i++)
		SharedImageFree(&st->shared[i]);
	st->n_shared = 0;
	st->shared_bytes = 0;
}

/* RecTripleSource.release: drops the state once the build has read it */
static void
StateRelease(void *arg)
{
	TrainState *st = (TrainState *) arg;

	StateFreeShared(st);
	MemoryContextDelete(st->ctx);
	st->consumed = true;
}

/* The state as the interaction build reads it (releasing it once read) */
static void
StateSource(TrainState *st, RecTripleSource *src)
{
	const IdMap *sides[2] = {&st->users, &st->items};
	RecIdList  *lists[2] = {&src->users, &src->items};

	memset(src, 0, sizeof(*src));
	for (int s = 0; s < 2; s++)
	{
		lists[s]->raw = sides[s]->raw;
		lists[s]->n = sides[s]->n;
		lists[s]->direct = sides[s]->direct;
		lists[s]->direct_cap = sides[s]->direct_cap;
		lists[s]->all_direct = sides[s]->hash->members == 0 && sides[s]->direct != NULL;
	}
	/* a source holds chunks or runs: a state with both gives up its runs */
	for (int32 c = 0; c < st->n_chunks && st->n_runs > 0; c++)
		if (st->chunks[c].len > 0)
			StateRunsToChunks(st);
	src->chunks = st->chunks;
	src->n_chunks = st->n_chunks;
	src->runs = st->runs;
	src->n_runs = st->n_runs;
	src->segments = st->segments;
	src->n_segments = st->n_segments;
	src->n = st->n;
	src->bytes = StateBytes(st);
	src->release = StateRelease;
	src->release_arg = st;
}

/*
 * The whole training run: the interactions (relabel, sort, deduplicate, CSR +
 * CSC), the algorithm's fit, the statistics every model carries and its final
 * checks.  Consumes the state (FINALFUNC_MODIFY = READ_WRITE).
 */
static RecModelHeader *
TrainModel(TrainState *st)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	MemoryContext work_cxt;
	const RecAlgorithm *alg = st->alg;
	const char *agg = alg->aggregate;
	char	   *options_json = RecOptionsJson(alg->code, st->options.bytes);
	RecTrainMemory tm;
	RecTripleSource src;
	RecInteractions data;
	RecFitInput in;
	RecFitOutput out;
	RecModelHeader *m;
	RecModelError err;
	const RecIndexOptions *index;
	uint64		total;
	int			threads = RecWorkThreads();
	int			status;
	instr_time	start,
				duration;

	memset(&tm, 0, sizeof(tm));
	tm.aggregate = agg;
	tm.n = st->n;
	tm.n_users = st->users.n;
	tm.n_items = st->items.n;
	tm.live = tm.peak = StateBytes(st);

	/* fail before building anything if the interactions and model cannot fit */
	RecCheckBuildMemory(&tm, st->users.n, st->items.n, st->n,
						alg->model_bytes(st->options.bytes, st->users.n, st->items.n,
										 st->n, strlen(options_json)));
	/* ... and the index options against the item count (the model's) */
	index = RecOptionsIndex(alg->code, st->options.bytes);
	if (index != NULL && index->enabled)
		RecAnnCheckOptions(index, st->items.n, "index option");

	/*
	 * OpenBLAS scratch for the fit's threads, mapped now on this thread: a
	 * failure is an error here instead of a worker retrying forever
	 */
	RecReserveBlas(threads, agg);
	RecBlasCheckCore();

	work_cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys training",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work_cxt);

	StateSource(st, &src);
	RecBuildInteractions(&tm, &src, alg->add_duplicates,
						 alg->item_ptr_only == NULL || !alg->item_ptr_only(st->options.bytes),
						 &data);

	memset(&in, 0, sizeof(in));
	in.algorithm = alg;
	in.data = &data;
	in.options = st->options.bytes;
	in.options_json = options_json;
	in.threads = threads;
	in.memory = &tm;
	in.model_context = result_cxt;
	in.features = st->features;
	memset(&out, 0, sizeof(out));

	INSTR_TIME_SET_CURRENT(start);
	status = alg->fit(&in, &out);
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	RecRaiseSolverStatus(status, agg);
	tm.peak = Max(tm.peak, tm.live + out.scratch_bytes);
	if (st->features != NULL)
	{
		RecFeatureStoreFree(st->features);
		st->features = NULL;
	}

	/* what every model records about its training */
	m = out.model;
	m->n_interactions = data.ratings.nnz;
	m->rating_min = data.value_min;
	m->rating_max = data.value_max;
	m->train_seconds = INSTR_TIME_GET_DOUBLE(duration);
	m->peak_bytes = tm.peak;
	if (!pg_strong_random(m->uuid, sizeof(m->uuid)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random model uuid")));
	m->uuid[6] = (m->uuid[6] & 0x0F) | 0x40;	/* RFC 4122 version 4 */
	m->uuid[8] = (m->uuid[8] & 0x3F) | 0x80;

	if (!isfinite(m->train_loss) || !isfinite(m->global_mean))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s diverged: the training loss is not finite", agg),
				 errhint("Increase the \"regularization\" option.")));
	if (RecModelCheckHeader(m, &total, &err) != RECSYS_MODEL_OK ||
		RecModelCheckPayload(m, &err) != RECSYS_MODEL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s produced an invalid model: %s", agg, err.msg),
				 errhint("Increase the \"regularization\" option.")));

	MemoryContextSwitchTo(result_cxt);
	MemoryContextDelete(work_cxt);

	/*
	 * option "index": the model's copy with build_index's index (ann_sql.h),
	 * once the interactions are gone
	 */
	if (index != NULL && index->enabled)
	{
		RecModelHeader *indexed;

		tm.live = (int64) VARSIZE(m);
		indexed = RecAnnBuildModel(m, index, "index option", &tm);
		pfree(m);
		m = indexed;
	}
	return m;
}

PG_FUNCTION_INFO_V1(train_finalfn);
/* Final function of every training aggregate: NULL for no rows, else the model */
Datum
train_finalfn(PG_FUNCTION_ARGS)
{
	TrainState *st = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "train_finalfn called in non-aggregate context");
	if (st == NULL || st->n == 0)
		PG_RETURN_NULL();
	if (st->consumed)
		elog(ERROR, "training state used twice");
	PG_RETURN_POINTER(TrainModel(st));
}

/* ------------------------------------------------- training from C (train.h) */

/*
 * A training run fed row by row from C instead of through the aggregate (how
 * recsys.train reads its source query); the state lives under ctx.
 */
RecTraining *
RecTrainingBegin(MemoryContext ctx, int algorithm, Jsonb *options)
{
	const RecAlgorithm *alg = RecAlgorithmByCode(algorithm);
	TrainState *st;

	if (alg == NULL)
		elog(ERROR, "unknown recsys algorithm code %d", algorithm);
	st = StateCreate(ctx, alg, 0, 0);
	if (options != NULL)
	{
		RecParseOptions(alg->code, options, st->options.bytes);
		st->have_options = true;
	}
	return (RecTraining *) st;
}

/* Adds one interaction; the same checks as the aggregate's transition */
void
RecTrainingAdd(RecTraining *t, int64 user_id, int64 item_id, float value)
{
	StateAddRow((TrainState *) t, user_id, item_id, value);
}

/*
 * One row of a source query whose fourth column (if any) may hold item
 * features: algorithms without features take it as RecTrainingAdd would.
 */
void
RecTrainingAddRow(RecTraining *t, bool user_null, int64 user_id, bool item_null,
				  int64 item_id, bool value_null, float value, Oid features_type,
				  bool features_null, Datum features)
{
	TrainState *st = (TrainState *) t;

	if (!st->alg->features)
	{
		if (!user_null && !item_null && !value_null)
			StateAddRow(st, user_id, item_id, value);
		return;
	}
	if (features_type != RecVecTypeOid() &&
		!(features_type == TSVECTOROID &&
		  (st->alg->code == RECSYS_ALG_CONTENT || st->alg->code == RECSYS_ALG_TEXT)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s needs a fourth column of item features of type %s, got %s",
						st->alg->aggregate,
						st->alg->code == RECSYS_ALG_HYBRID ? "recsys.vec" : "recsys.vec or tsvector",
						OidIsValid(features_type) ? format_type_be(features_type) : "none"),
				 errhint("Cast an embedding with ::text::recsys.vec.")));
	StateAddFeatureRow(st, user_null, user_id, item_null, item_id, value_null, value,
					   features_null, features, features_type == TSVECTOROID);
}

/* Trains the model (allocated in the current context); NULL if no rows came */
RecModelHeader *
RecTrainingFinish(RecTraining *t)
{
	TrainState *st = (TrainState *) t;

	if (st->n == 0)
		return NULL;
	if (st->consumed)
		elog(ERROR, "training state used twice");
	return TrainModel(st);
}
