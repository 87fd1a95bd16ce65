/*
 * ratings.c
 *		The training aggregates recsys.train_als and recsys.train_ials: their options,
 *		the aggregate state (dense id maps and compact interaction triples), combine
 *		and (de)serialisation for parallel plans, and the final function that turns
 *		the state into CSR/CSC, calls the solver and builds the model.
 *
 * The numbers are learnt in als.c / ials.c (solver.h); the model format belongs to
 * model.c.  The model depends only on the multiset of input rows and the options:
 * dense ids are relabelled in ascending raw-id order and the interactions sorted
 * before the solver sees them, whatever the plan or the row order.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "model.h"
#include "modelio.h"
#include "modeltype.h"
#include "options.h"
#include "ratings.h"
#include "recsys.h"
#include "solver.h"
#include "kernels.h"

/* Which aggregates an option applies to */
#define FOR_ALS		0x1
#define FOR_IALS	0x2
#define FOR_BOTH	(FOR_ALS | FOR_IALS)

/* Effective training options (defaults filled in) */
typedef struct TrainOptions
{
	int64		factors;
	int64		iterations;
	double		regularization;
	double		alpha;
	int64		cg_steps;
	int64		solver;			/* IALS_SOLVER_* */
	bool		biases;
	int64		seed;
	bool		keep_interactions;
	bool		verbose;
} TrainOptions;

typedef enum OptionKind
{
	OPTION_INTEGER,
	OPTION_NUMBER,
	OPTION_BOOLEAN,
	OPTION_SOLVER
} OptionKind;

/* One accepted key of the options object */
typedef struct OptionSpec
{
	const char *name;
	OptionKind	kind;
	int			applies;		/* FOR_* */
	double		min;
	double		max;
	size_t		offset;			/* into TrainOptions */
} OptionSpec;

/* every option, in the order the effective options are written */
static const OptionSpec TrainOptionSpecs[] = {
	{"factors", OPTION_INTEGER, FOR_BOTH, 1, RECSYS_MAX_FACTORS, offsetof(TrainOptions, factors)},
	{"iterations", OPTION_INTEGER, FOR_BOTH, 0, 10000, offsetof(TrainOptions, iterations)},
	{"regularization", OPTION_NUMBER, FOR_BOTH, 0, 1e6, offsetof(TrainOptions, regularization)},
	{"alpha", OPTION_NUMBER, FOR_IALS, 0, 1e6, offsetof(TrainOptions, alpha)},
	{"cg_steps", OPTION_INTEGER, FOR_IALS, 1, 100, offsetof(TrainOptions, cg_steps)},
	{"solver", OPTION_SOLVER, FOR_IALS, 0, 0, offsetof(TrainOptions, solver)},
	{"biases", OPTION_BOOLEAN, FOR_ALS, 0, 0, offsetof(TrainOptions, biases)},
	{"seed", OPTION_INTEGER, FOR_BOTH, 0, 9007199254740991.0, offsetof(TrainOptions, seed)},
	{"keep_interactions", OPTION_BOOLEAN, FOR_BOTH, 0, 0, offsetof(TrainOptions, keep_interactions)},
	{"verbose", OPTION_BOOLEAN, FOR_BOTH, 0, 0, offsetof(TrainOptions, verbose)},
};

/* One input row after id mapping: 12 bytes */
typedef struct Interaction
{
	int32		user;			/* dense user index (arrival order) */
	int32		item;			/* dense item index (arrival order) */
	float		value;
} Interaction;

/* Interactions are kept in chunks that double up to this many entries (12 MB) */
#define FIRST_CHUNK_LEN		1024
#define MAX_CHUNK_LEN		(1 << 20)

/*
 * A run of interactions in one allocation.  A chunk taken over from another state
 * (train_combinefn) keeps that state's dense indexes; its segment says how they
 * map to this state's, so combining never rewrites or copies the interactions.
 */
typedef struct Chunk
{
	Interaction *t;
	int64		len;			/* entries used */
	int64		cap;			/* entries allocated; len == cap means full */
	int32		segment;		/* -1: this state's dense indexes; else segments[] */
} Chunk;

/* Dense index maps of chunks merged in from another state, into this state's */
typedef struct Segment
{
	int32	   *users;			/* [n_users]: the other state's dense user -> ours */
	int32	   *items;			/* [n_items] */
	int32		n_users;
	int32		n_items;
} Segment;

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
	int			algorithm;		/* RECSYS_ALG_* */
	bool		have_options;
	bool		consumed;		/* the final function has taken it apart */
	TrainOptions options;
	IdMap		users;
	IdMap		items;
	int64		last_user;		/* raw id of the last user looked up */
	int32		last_user_dense;	/* its dense index, -1 if none yet */
	Chunk	   *chunks;
	int32		n_chunks;
	int32		max_chunks;
	int32		own_chunks;		/* chunks the transition allocated (their sizes double) */
	Segment    *segments;
	int32		n_segments;
	int32		max_segments;
	int64		n;				/* interactions in all chunks */
} TrainState;

/* Serialised state header (same cluster, so native layout is fine) */
typedef struct SerialHeader
{
	int32		algorithm;
	bool		have_options;
	TrainOptions options;
	int32		n_users;
	int32		n_items;
	int64		n;
} SerialHeader;

/* ---------------------------------------------------------------- options */

/* Defaults of the options of one algorithm */
static void
DefaultOptions(int algorithm, TrainOptions *o)
{
	memset(o, 0, sizeof(*o));
	o->factors = 32;
	o->iterations = 15;
	o->regularization = 0.1;
	o->alpha = 10;
	o->cg_steps = 3;
	o->solver = IALS_SOLVER_CG;
	o->biases = (algorithm == RECSYS_ALG_ALS);
	o->seed = 42;
	o->keep_interactions = true;
	o->verbose = false;
}

/* SQL name of the aggregate that trains an algorithm */
static const char *
AggregateName(int algorithm)
{
	return algorithm == RECSYS_ALG_ALS ? "train_als" : "train_ials";
}

char *
RecEchoInput(const char *s, size_t len)
{
	int			cut;

	if (len <= RECSYS_ECHO_MAX)
		return pnstrdup(s, len);
	cut = pg_mbcliplen(s, (int) Min(len, (size_t) MaxAllocSize), RECSYS_ECHO_MAX);
	return psprintf("%.*s... (%zu bytes)", cut, s, len);
}

/* A JSON value as a user wrote it, shortened for an error message */
static char *
JsonValueText(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return v->val.boolean ? "true" : "false";
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																	NumericGetDatum(v->val.numeric)));

				return RecEchoInput(s, strlen(s));
			}
		case jbvString:
			{
				/* escape only the part that is shown */
				StringInfoData buf;
				size_t		len = v->val.string.len;
				int			cut = len <= RECSYS_ECHO_MAX ? (int) len :
					pg_mbcliplen(v->val.string.val, (int) len, RECSYS_ECHO_MAX);

				initStringInfo(&buf);
				escape_json(&buf, pnstrdup(v->val.string.val, cut));
				if ((size_t) cut < len)
					appendStringInfo(&buf, "... (%zu bytes)", len);
				return buf.data;
			}
		default:
			return "an array or object";
	}
}

/* Why an options object was refused: what ereport would say */
typedef struct OptionError
{
	char	   *msg;
	char	   *hint;			/* NULL if none */
} OptionError;

/* The message for an option value outside what the spec allows */
static char *
BadOption(const OptionSpec *spec, JsonbValue *v)
{
	switch (spec->kind)
	{
		case OPTION_INTEGER:
			return psprintf("option \"%s\" must be an integer between %.0f and %.0f, got %s",
							spec->name, spec->min, spec->max, JsonValueText(v));
		case OPTION_NUMBER:
			return psprintf("option \"%s\" must be a number between %g and %g, got %s",
							spec->name, spec->min, spec->max, JsonValueText(v));
		case OPTION_BOOLEAN:
			return psprintf("option \"%s\" must be true or false, got %s",
							spec->name, JsonValueText(v));
		case OPTION_SOLVER:
			return psprintf("option \"%s\" must be \"cg\" or \"cholesky\", got %s",
							spec->name, JsonValueText(v));
	}
	return psprintf("option \"%s\" is invalid", spec->name);
}

/*
 * Stores one option value after checking its type and range; returns NULL, or
 * the message if the value is refused.  Numbers are compared as float8 with
 * overflow turned into infinity, so a value of any size is refused as out of
 * range (22023), never as a float8 overflow.
 */
static char *
SetOption(const OptionSpec *spec, JsonbValue *v, TrainOptions *o)
{
	char	   *field = (char *) o + spec->offset;

	switch (spec->kind)
	{
		case OPTION_INTEGER:
		case OPTION_NUMBER:
			{
				Numeric		num;
				double		d;

				if (v->type != jbvNumeric)
					return BadOption(spec, v);
				num = v->val.numeric;
				d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   NumericGetDatum(num)));
				if (!(d >= spec->min && d <= spec->max))
					return BadOption(spec, v);
				/* below float8 range: readers of a model's options could not convert it */
				if (d == 0.0 && !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num),
																   DirectFunctionCall1(int4_numeric,
																					   Int32GetDatum(0)))))
					return psprintf("option \"%s\" must be 0 or at least %g in magnitude, got %s",
									spec->name, DBL_MIN, JsonValueText(v));
				if (spec->kind == OPTION_NUMBER)
				{
					*(double *) field = d;
					break;
				}
				if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num),
													  DirectFunctionCall2(numeric_trunc,
																		  NumericGetDatum(num),
																		  Int32GetDatum(0)))))
					return BadOption(spec, v);
				*(int64 *) field = DatumGetInt64(DirectFunctionCall1(numeric_int8,
																	 NumericGetDatum(num)));
				break;
			}
		case OPTION_BOOLEAN:
			if (v->type != jbvBool)
				return BadOption(spec, v);
			*(bool *) field = v->val.boolean;
			break;
		case OPTION_SOLVER:
			if (v->type == jbvString && v->val.string.len == 2 &&
				memcmp(v->val.string.val, "cg", 2) == 0)
				*(int64 *) field = IALS_SOLVER_CG;
			else if (v->type == jbvString && v->val.string.len == 8 &&
					 memcmp(v->val.string.val, "cholesky", 8) == 0)
				*(int64 *) field = IALS_SOLVER_CHOLESKY;
			else
				return BadOption(spec, v);
			break;
	}
	return NULL;
}

/*
 * Validates an options object and fills o (defaults for absent keys); present
 * (if not NULL) gets bit i set for each TrainOptionSpecs[i] given.  Returns false
 * with *err filled for the first thing refused.
 */
static bool
ReadOptions(Jsonb *jb, int algorithm, TrainOptions *o, uint32 *present,
			OptionError *err)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			mine = (algorithm == RECSYS_ALG_ALS) ? FOR_ALS : FOR_IALS;

	StaticAssertStmt(lengthof(TrainOptionSpecs) <= 32, "present is a 32-bit mask");
	DefaultOptions(algorithm, o);
	if (present)
		*present = 0;
	err->hint = NULL;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
	{
		err->msg = psprintf("options of %s must be a JSON object", AggregateName(algorithm));
		return false;
	}

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			spec = -1;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < lengthof(TrainOptionSpecs); i++)
			if (strlen(TrainOptionSpecs[i].name) == v.val.string.len &&
				memcmp(TrainOptionSpecs[i].name, v.val.string.val, v.val.string.len) == 0)
				spec = i;
		if (spec < 0)
		{
			err->msg = psprintf("unknown option \"%s\" for %s",
								RecEchoInput(v.val.string.val, v.val.string.len),
								AggregateName(algorithm));
			err->hint = psprintf("%s accepts %s.", AggregateName(algorithm),
								 algorithm == RECSYS_ALG_ALS ?
								 "factors, iterations, regularization, biases, seed, keep_interactions, verbose" :
								 "factors, iterations, regularization, alpha, cg_steps, solver, seed, keep_interactions, verbose");
			return false;
		}
		if (!(TrainOptionSpecs[spec].applies & mine))
		{
			err->msg = psprintf("option \"%s\" applies only to %s", TrainOptionSpecs[spec].name,
								AggregateName(algorithm == RECSYS_ALG_ALS ? RECSYS_ALG_IALS : RECSYS_ALG_ALS));
			return false;
		}
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if ((err->msg = SetOption(&TrainOptionSpecs[spec], &v, o)) != NULL)
			return false;
		if (present)
			*present |= (uint32) 1 << spec;
	}
	return true;
}

/* Validates the options argument of a training aggregate; 22023 if refused */
static void
ParseOptions(Jsonb *jb, int algorithm, TrainOptions *o)
{
	OptionError err;

	if (!ReadOptions(jb, algorithm, o, NULL, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", err.msg),
				 err.hint ? errhint("%s", err.hint) : 0));
}

/* Index of an option in TrainOptionSpecs */
static int
OptionIndex(const char *name)
{
	for (int i = 0; i < lengthof(TrainOptionSpecs); i++)
		if (strcmp(TrainOptionSpecs[i].name, name) == 0)
			return i;
	elog(ERROR, "no option \"%s\"", name);
	return -1;
}

bool
RecCheckModelOptions(const char *json, int algorithm, RecOptionFacts *facts,
					 char **message)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	TrainOptions o;
	uint32		present;
	OptionError err;

	if (!ReadOptions(jb, algorithm, &o, &present, &err))
	{
		*message = err.msg;
		return false;
	}
	facts->has_factors = (present & (1u << OptionIndex("factors"))) != 0;
	facts->factors = (int) o.factors;
	facts->has_biases = (present & (1u << OptionIndex("biases"))) != 0;
	facts->biases = o.biases;
	facts->has_keep_interactions = (present & (1u << OptionIndex("keep_interactions"))) != 0;
	facts->keep_interactions = o.keep_interactions;
	return true;
}

/* The effective options as normalised JSON text (what model_info shows) */
static char *
OptionsJson(int algorithm, const TrainOptions *o)
{
	StringInfoData buf;
	int			mine = (algorithm == RECSYS_ALG_ALS) ? FOR_ALS : FOR_IALS;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < lengthof(TrainOptionSpecs); i++)
	{
		const OptionSpec *spec = &TrainOptionSpecs[i];
		const char *field = (const char *) o + spec->offset;
		char		num[32];

		if (!(spec->applies & mine))
			continue;
		appendStringInfo(&buf, "%s\"%s\": ", first ? "" : ", ", spec->name);
		first = false;
		switch (spec->kind)
		{
			case OPTION_INTEGER:
				appendStringInfo(&buf, INT64_FORMAT, *(const int64 *) field);
				break;
			case OPTION_NUMBER:
				/* the solvers take float4: show the value they use */
				float_to_shortest_decimal_buf((float) *(const double *) field, num);
				appendStringInfoString(&buf, num);
				break;
			case OPTION_BOOLEAN:
				appendStringInfoString(&buf, *(const bool *) field ? "true" : "false");
				break;
			case OPTION_SOLVER:
				appendStringInfoString(&buf, *(const int64 *) field == IALS_SOLVER_CHOLESKY ?
									   "\"cholesky\"" : "\"cg\"");
				break;
		}
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetCString(DirectFunctionCall1(jsonb_out,
											   DirectFunctionCall1(jsonb_in,
																   CStringGetDatum(buf.data))));
}

/* ------------------------------------------------------------------ state */

/* Bytes a limit in MB stands for */
static int64
MaxTrainBytes(void)
{
	return (int64) recsys_max_train_mb * 1024 * 1024;
}

/* Fails early when the state outgrows recsys.max_train_mb */
static void
CheckStateMemory(TrainState *st)
{
	Size		bytes = MemoryContextMemAllocated(st->ctx, true);

	if ((int64) bytes > MaxTrainBytes())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s input needs more than %s (%d MB)",
						AggregateName(st->algorithm), RecTrainMbSetting(), recsys_max_train_mb),
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
						AggregateName(st->algorithm), PG_INT32_MAX - 1, side)));
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
StateCreate(MemoryContext aggcontext, int algorithm, int32 n_users, int32 n_items)
{
	TrainState *st = MemoryContextAllocZero(aggcontext, sizeof(TrainState));

	st->ctx = AllocSetContextCreate(aggcontext, "recsys training state",
									ALLOCSET_DEFAULT_SIZES);
	st->algorithm = algorithm;
	DefaultOptions(algorithm, &st->options);
	IdMapInit(&st->users, st->ctx, n_users);
	IdMapInit(&st->items, st->ctx, n_items);
	st->last_user_dense = -1;
	st->max_chunks = 16;
	st->chunks = MemoryContextAlloc(st->ctx, sizeof(Chunk) * st->max_chunks);
	return st;
}

/* Adds a chunk descriptor for t[0..len) of capacity cap; returns it */
static Chunk *
StateAddChunk(TrainState *st, Interaction *t, int64 len, int64 cap, int32 segment)
{
	Chunk	   *c;

	if (st->n_chunks == st->max_chunks)
	{
		st->max_chunks *= 2;
		st->chunks = repalloc_huge(st->chunks, sizeof(Chunk) * st->max_chunks);
	}
	c = &st->chunks[st->n_chunks++];
	c->t = t;
	c->len = len;
	c->cap = cap;
	c->segment = segment;
	return c;
}

/* A fresh, untouched array of n interactions in the state's context */
static Interaction *
StateAllocInteractions(TrainState *st, int64 n)
{
	Size		bytes = sizeof(Interaction) * Max(n, 1);
	Interaction *t = MemoryContextAllocExtended(st->ctx, bytes, MCXT_ALLOC_HUGE);

	RecAdviseHugePages(t, bytes);
	return t;
}

/* Starts a new chunk for the transition: sizes double up to MAX_CHUNK_LEN */
static pg_noinline Chunk *
StateNewChunk(TrainState *st)
{
	int64		cap = st->own_chunks >= 10 ? MAX_CHUNK_LEN :
		Min((int64) FIRST_CHUNK_LEN << st->own_chunks, MAX_CHUNK_LEN);
	Chunk	   *c = StateAddChunk(st, StateAllocInteractions(st, cap), 0, cap, -1);

	st->own_chunks++;
	CheckStateMemory(st);
	return c;
}

/* Appends one interaction (dense indexes already assigned) */
static inline void
StateAppend(TrainState *st, int32 user, int32 item, float value)
{
	Chunk	   *c = st->n_chunks > 0 ? &st->chunks[st->n_chunks - 1] : NULL;
	Interaction *t;

	if (c == NULL || c->len == c->cap || c->segment >= 0)
		c = StateNewChunk(st);
	t = &c->t[c->len++];
	t->user = user;
	t->item = item;
	t->value = value;
	st->n++;
}

/* Checks one row's value, maps its ids and appends it */
static void
StateAddRow(TrainState *st, int64 user_id, int64 item_id, float value)
{
	int32		u,
				i;

	if (isnan(value) || isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s value must be finite, got %s for user " INT64_FORMAT " and item " INT64_FORMAT,
						st->algorithm == RECSYS_ALG_ALS ? "rating" : "weight",
						isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity"),
						user_id, item_id)));
	if (st->algorithm == RECSYS_ALG_IALS && value < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("weight must not be negative, got %g for user " INT64_FORMAT " and item " INT64_FORMAT,
						(double) value, user_id, item_id),
				 errhint("Implicit feedback weights count interactions; leave out or zero negative ones.")));

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
	StateAppend(st, u, i, value);
}

/* Shared transition function: maps the ids and appends one row */
static Datum
TrainTransition(FunctionCallInfo fcinfo, int algorithm)
{
	MemoryContext aggcontext;
	TrainState *st;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", AggregateName(algorithm));
	st = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);
	if (st == NULL)
		st = StateCreate(aggcontext, algorithm, 0, 0);

	if (PG_NARGS() > 4 && !PG_ARGISNULL(4) && !st->have_options)
	{
		ParseOptions(PG_GETARG_JSONB_P(4), algorithm, &st->options);
		st->have_options = true;
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_POINTER(st);

	StateAddRow(st, PG_GETARG_INT64(1), PG_GETARG_INT64(2), PG_GETARG_FLOAT4(3));
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(train_als_transfn);
/* Transition function of train_als (3 or 4 arguments) */
Datum
train_als_transfn(PG_FUNCTION_ARGS)
{
	return TrainTransition(fcinfo, RECSYS_ALG_ALS);
}

PG_FUNCTION_INFO_V1(train_ials_transfn);
/* Transition function of train_ials (3 or 4 arguments) */
Datum
train_ials_transfn(PG_FUNCTION_ARGS)
{
	return TrainTransition(fcinfo, RECSYS_ALG_IALS);
}

/* A segment of dst mapping indexes through first (if any) and then through second */
static int32
StateAddSegment(TrainState *dst, const Segment *first, const int32 *umap, int32 n_users,
				const int32 *imap, int32 n_items)
{
	Segment    *seg;

	if (dst->n_segments == dst->max_segments)
	{
		dst->max_segments = Max(4, dst->max_segments * 2);
		dst->segments = dst->segments == NULL ?
			MemoryContextAlloc(dst->ctx, sizeof(Segment) * dst->max_segments) :
			repalloc(dst->segments, sizeof(Segment) * dst->max_segments);
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
	for (int32 s = 0; s < src->n_segments; s++)
		segmap[s + 1] = StateAddSegment(dst, &src->segments[s], umap, 0, imap, 0);

	for (int32 c = 0; c < src->n_chunks; c++)
	{
		const Chunk *sc = &src->chunks[c];
		Interaction *t = sc->t;

		if (sc->len == 0)
			continue;
		if (!own)
		{
			t = StateAllocInteractions(dst, sc->len);
			memcpy(t, sc->t, sizeof(Interaction) * sc->len);
		}
		/* full (cap = len): nothing is ever appended to a chunk that is not ours */
		StateAddChunk(dst, t, sc->len, sc->len, segmap[sc->segment + 1]);
		dst->n += sc->len;
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
		pfree(src->chunks);
		MemoryContextSetParent(src->ctx, dst->ctx);
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
		a = StateCreate(aggcontext, b->algorithm, b->users.n, b->items.n);
	StateAbsorb(a, b, MemoryContextGetParent(b->ctx) == aggcontext);
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(train_serialfn);
/* Serialises a partial state to bytea for a parallel worker's result */
Datum
train_serialfn(PG_FUNCTION_ARGS)
{
	TrainState *st = (TrainState *) PG_GETARG_POINTER(0);
	SerialHeader h;
	uint64		size;
	bytea	   *out;
	char	   *p;

	size = VARHDRSZ + sizeof(SerialHeader) +
		sizeof(int64) * ((uint64) st->users.n + st->items.n) +
		sizeof(Interaction) * (uint64) st->n;
	if (size > RECSYS_MODEL_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("partial %s state of " INT64_FORMAT " interactions is too large to pass between parallel workers",
						AggregateName(st->algorithm), st->n),
				 errdetail("It takes %llu bytes; a value holds at most %llu.",
						   (unsigned long long) size, (unsigned long long) RECSYS_MODEL_MAX_BYTES),
				 errhint("Run the training query with max_parallel_workers_per_gather = 0.")));

	memset(&h, 0, sizeof(h));
	h.algorithm = st->algorithm;
	h.have_options = st->have_options;
	h.options = st->options;
	h.n_users = st->users.n;
	h.n_items = st->items.n;
	h.n = st->n;

	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, st->users.raw, sizeof(int64) * st->users.n);
	p += sizeof(int64) * st->users.n;
	memcpy(p, st->items.raw, sizeof(int64) * st->items.n);
	p += sizeof(int64) * st->items.n;
	for (int32 c = 0; c < st->n_chunks; c++)
	{
		const Chunk *ch = &st->chunks[c];
		Interaction *t = (Interaction *) p;

		if (ch->segment < 0)
			memcpy(t, ch->t, sizeof(Interaction) * ch->len);
		else
		{
			/* merged in from another state: write in this state's numbering */
			const Segment *seg = &st->segments[ch->segment];

			for (int64 j = 0; j < ch->len; j++)
			{
				t[j].user = seg->users[ch->t[j].user];
				t[j].item = seg->items[ch->t[j].item];
				t[j].value = ch->t[j].value;
			}
		}
		p += sizeof(Interaction) * ch->len;
	}
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(train_deserialfn);
/* Rebuilds a partial state from train_serialfn's bytea */
Datum
train_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	bytea	   *in = PG_GETARG_BYTEA_P(0);
	const char *p = VARDATA(in);
	SerialHeader h;
	TrainState *st;
	Interaction *t;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "train_deserialfn called in non-aggregate context");
	if (VARSIZE(in) - VARHDRSZ < sizeof(h))
		elog(ERROR, "truncated training state");
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (h.n_users < 0 || h.n_items < 0 || h.n < 0 ||
		VARSIZE(in) - VARHDRSZ != sizeof(h) + sizeof(int64) * ((uint64) h.n_users + h.n_items) +
		sizeof(Interaction) * (uint64) h.n)
		elog(ERROR, "training state of inconsistent size");

	st = StateCreate(aggcontext, h.algorithm, h.n_users, h.n_items);
	st->have_options = h.have_options;
	st->options = h.options;
	/* inserting in dense order reproduces the same dense indexes */
	for (int32 d = 0; d < h.n_users; d++)
		IdMapLookup(st, &st->users, ((const int64 *) p)[d], "user");
	p += sizeof(int64) * h.n_users;
	for (int32 d = 0; d < h.n_items; d++)
		IdMapLookup(st, &st->items, ((const int64 *) p)[d], "item");
	p += sizeof(int64) * h.n_items;

	/*
	 * One copy of the interactions, described as full chunks of at most
	 * MAX_CHUNK_LEN entries so the final function's passes can check for
	 * interrupts between them.
	 */
	t = StateAllocInteractions(st, h.n);
	memcpy(t, p, sizeof(Interaction) * h.n);
	for (int64 j = 0; j < h.n; j += MAX_CHUNK_LEN)
	{
		int64		len = Min(h.n - j, MAX_CHUNK_LEN);

		StateAddChunk(st, t + j, len, len, -1);
	}
	st->n = h.n;
	CheckStateMemory(st);
	PG_RETURN_POINTER(st);
}

/* ----------------------------------------------------------- final function */

/* Memory accounting of one training run (recsys.max_train_mb and peak_bytes) */
typedef struct TrainMemory
{
	const char *aggregate;
	int64		live;
	int64		peak;
	int64		n;				/* interactions, for messages */
	int32		n_users;
	int32		n_items;
} TrainMemory;

/* Counts bytes about to be allocated; fails before allocating past the limit */
static void
Reserve(TrainMemory *tm, int64 bytes, const char *what)
{
	if (tm->live + bytes > MaxTrainBytes())
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
static void *
CountedAlloc(TrainMemory *tm, int64 n, size_t size, const char *what)
{
	int64		bytes = Max(n, 1) * (int64) size;

	void	   *p;

	Reserve(tm, bytes, what);
	p = palloc_extended(bytes, MCXT_ALLOC_HUGE);
	RecAdviseHugePages(p, bytes);
	return p;
}

/* pfree of a CountedAlloc array */
static void
CountedFree(TrainMemory *tm, void *p, int64 n, size_t size)
{
	tm->live -= Max(n, 1) * (int64) size;
	pfree(p);
}

/* qsort comparator for values */
static int
CompareFloat(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return (x > y) - (x < y);
}

/*
 * Sorted copy of a map's raw ids (the model's id section) and rank[dense], the
 * position of each dense index in that order.  Ids all held by the direct array
 * come out sorted by scanning it; others are sorted and searched.
 */
static void
RelabelIds(TrainMemory *tm, const IdMap *m, int64 **sorted, int32 **rank)
{
	int64	   *s = CountedAlloc(tm, m->n, sizeof(int64), "sorted ids");
	int32	   *r = CountedAlloc(tm, m->n, sizeof(int32), "id ranks");

	if (m->hash->members == 0 && m->direct != NULL)
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
 * Merges duplicate (user, item) entries of a CSR whose rows are sorted by item with
 * duplicates in arrival order; compacts it in place and returns the new nnz.
 * Explicit: the last value wins.  Implicit: weights add up, summed in ascending
 * order so the result does not depend on arrival order.
 */
static int64
MergeDuplicates(int32 n_rows, int64 *ptr, int32 *idx, float *val, bool add,
				const int64 *row_ids, const int64 *col_ids)
{
	int64		out = 0,
				begin = 0;

	for (int32 r = 0; r < n_rows; r++)
	{
		int64		end = ptr[r + 1];
		int64		j = begin;

		ptr[r] = out;
		while (j < end)
		{
			int64		k = j + 1;
			float		v;

			while (k < end && idx[k] == idx[j])
				k++;
			if (k - j == 1)
				v = val[j];
			else if (!add)
				v = val[k - 1];
			else
			{
				double		sum = 0;

				qsort(val + j, k - j, sizeof(float), CompareFloat);
				for (int64 q = j; q < k; q++)
					sum += val[q];
				v = (float) sum;
				if (isinf(v))
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("sum of the weights of user " INT64_FORMAT " and item " INT64_FORMAT " is out of range for real",
									row_ids[r], col_ids[idx[j]])));
			}
			idx[out] = idx[j];
			val[out] = v;
			out++;
			j = k;
		}
		begin = end;
	}
	ptr[n_rows] = out;
	return out;
}

/*
 * Rank arrays for every chunk's numbering: [0] is the state's own (user_rank,
 * item_rank), [s + 1] segment s's maps composed with them, so the passes relabel
 * interactions merged from other states with one lookup, as they do the others.
 */
static void
SegmentRanks(TrainMemory *tm, const TrainState *st, int32 *user_rank, int32 *item_rank,
			 int32 ***seg_user_rank, int32 ***seg_item_rank)
{
	int32	  **ur = palloc(sizeof(int32 *) * (st->n_segments + 1));
	int32	  **ir = palloc(sizeof(int32 *) * (st->n_segments + 1));

	ur[0] = user_rank;
	ir[0] = item_rank;
	for (int32 s = 0; s < st->n_segments; s++)
	{
		const Segment *seg = &st->segments[s];

		ur[s + 1] = CountedAlloc(tm, seg->n_users, sizeof(int32), "id ranks");
		ir[s + 1] = CountedAlloc(tm, seg->n_items, sizeof(int32), "id ranks");
		for (int32 d = 0; d < seg->n_users; d++)
			ur[s + 1][d] = user_rank[seg->users[d]];
		for (int32 d = 0; d < seg->n_items; d++)
			ir[s + 1][d] = item_rank[seg->items[d]];
	}
	*seg_user_rank = ur;
	*seg_item_rank = ir;
}

/* What the solver callbacks need */
typedef struct TrainProgress
{
	const char *aggregate;
	int			iterations;
} TrainProgress;

/* After every sweep (main thread, no worker running): the verbose NOTICE */
static void
TrainReportProgress(void *arg, int iteration, double loss, double seconds)
{
	TrainProgress *p = (TrainProgress *) arg;

	ereport(NOTICE,
			(errmsg("%s iteration %d of %d", p->aggregate, iteration, p->iterations),
			 errdetail("loss %.6g, %.3f s", loss, seconds)));
}

/* Raises the error that belongs to a solver status */
static void
ReportSolverStatus(int status, const char *aggregate)
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

/*
 * The final function's counting sorts, run over recsys.threads.  The input is cut
 * into ranges in input order; each range counts its keys into its own histogram,
 * the histograms become write positions (bucket by bucket, ranges in input order),
 * and each range scatters into its own positions.  Every bucket thus receives its
 * entries in input order, exactly where a single serial pass would put them,
 * whatever the number of threads.  Memory is allocated before the threads start;
 * they call nothing in PostgreSQL.
 */
typedef struct BucketPass
{
	/* the source: the state's chunks, or a compressed matrix (rows -> buckets) */
	const TrainState *st;		/* NULL for a matrix */
	const int64 *chunk_start;	/* [n_chunks + 1]: position of each chunk's first entry */
	int32	  **user_rank;		/* [segment + 1]: dense user -> rank */
	int32	  **item_rank;
	const int64 *ptr;			/* matrix: [rows + 1] */
	const int32 *idx;			/* matrix: bucket of each entry */
	const float *val;
	int64	   *range_begin;	/* [ranges + 1]: positions (chunks) or rows (matrix) */
	int			ranges;
	int32		n_buckets;
	int64	   *hist;			/* [ranges * n_buckets]: counts, then positions */
	bool		counting;		/* which half of the pass runs */
	bool		poll_inline;	/* the range runs on the backend's own thread */
	atomic_bool cancel;			/* set on the backend's thread, read by the ranges */
	int32	   *out_idx;		/* scatter: row (or user rank) of each entry */
	float	   *out_val;
} BucketPass;

/* Entries a range handles between two looks at the cancel flag */
#define PASS_POLL_BLOCK		65536

/* Below this many entries per range the threads cost more than they save */
#define PASS_MIN_RANGE		4096

/* RecControl.interrupted of a pass: also tells running ranges to stop */
static bool
BucketPassInterrupted(void *arg)
{
	BucketPass *p = (BucketPass *) arg;

	if (!RecCancelRequested(NULL))
		return false;
	atomic_store(&p->cancel, true);
	return true;
}

/* True if the range should stop (on the backend's thread: asks PostgreSQL itself) */
static inline bool
BucketPassStop(BucketPass *p)
{
	if (p->poll_inline)
		return BucketPassInterrupted(p);
	return atomic_load_explicit(&p->cancel, memory_order_relaxed);
}

/* One range of the state's interactions: bucket = item rank, entry = user rank */
static int
BucketPassChunks(BucketPass *p, int r)
{
	const TrainState *st = p->st;
	int64	   *h = p->hist + (int64) r * p->n_buckets;
	int64		pos = p->range_begin[r],
				end = p->range_begin[r + 1];
	int32		c = 0;

	while (c < st->n_chunks && p->chunk_start[c + 1] <= pos)
		c++;
	while (pos < end)
	{
		const Chunk *ch = &st->chunks[c];
		const Interaction *t = ch->t;
		const int32 *urank = p->user_rank[ch->segment + 1];
		const int32 *irank = p->item_rank[ch->segment + 1];
		int64		from = pos - p->chunk_start[c];
		int64		to = Min(end, p->chunk_start[c + 1]) - p->chunk_start[c];

		to = Min(to, from + PASS_POLL_BLOCK);
		if (BucketPassStop(p))
			return RECSYS_INTERRUPTED;
		if (p->counting)
			for (int64 j = from; j < to; j++)
				h[irank[t[j].item]]++;
		else
			for (int64 j = from; j < to; j++)
			{
				int64		q = h[irank[t[j].item]]++;

				p->out_idx[q] = urank[t[j].user];
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
			if (BucketPassStop(p))
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
		int			rc = p->st ? BucketPassChunks(p, (int) r) : BucketPassRows(p, (int) r);

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

	memset(&ctl, 0, sizeof(ctl));
	ctl.interrupted = BucketPassInterrupted;
	ctl.arg = p;
	atomic_store(&p->cancel, false);
	p->poll_inline = (p->ranges == 1 || recsys_threads == 1);
	status = RecParallelFor(recsys_threads, p->ranges, 1, BucketPassChunk, p, &ctl);
	ReportSolverStatus(status, agg);
}

/*
 * Prepares a pass over n entries: the number of ranges, the histograms (from
 * tm) and range_begin (filled by the caller).
 */
static void
BucketPassInit(TrainMemory *tm, BucketPass *p, int64 n, int32 n_buckets)
{
	memset(p, 0, sizeof(*p));
	p->ranges = (int) Max(1, Min((int64) recsys_threads, n / PASS_MIN_RANGE));
	p->n_buckets = n_buckets;
	p->hist = CountedAlloc(tm, (int64) p->ranges * n_buckets, sizeof(int64),
						   "the counting sort");
	p->range_begin = palloc(sizeof(int64) * (p->ranges + 1));
}

/* Releases what BucketPassInit took */
static void
BucketPassFree(TrainMemory *tm, BucketPass *p)
{
	CountedFree(tm, p->hist, (int64) p->ranges * p->n_buckets, sizeof(int64));
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
TransposeRows(TrainMemory *tm, const int64 *ptr, const int32 *idx, const float *val,
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

/*
 * Bytes the solver may need for scratch: per thread the gathered rows of the
 * longest row or column and a few k x k matrices.  An estimate for the early
 * memory check; the solver reports what it really used.
 */
static int64
EstimateSolverScratch(int64 longest, int k, int threads)
{
	int64		kk = (int64) k * k * sizeof(float);

	return (int64) threads * (longest * (k + 2) * (int64) sizeof(float) + 4 * kk) + 2 * kk;
}

/* Longest row of a CSR/CSC */
static int64
LongestRow(const int64 *ptr, int32 n)
{
	int64		longest = 0;

	for (int32 r = 0; r < n; r++)
		longest = Max(longest, ptr[r + 1] - ptr[r]);
	return longest;
}

/*
 * The whole training run: relabel, sort, deduplicate, CSR + CSC, solve, fill the
 * model.  Consumes the state (FINALFUNC_MODIFY = READ_WRITE).
 */
static RecModelHeader *
TrainModel(TrainState *st)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	MemoryContext work_cxt;
	const char *agg = AggregateName(st->algorithm);
	const TrainOptions *o = &st->options;
	bool		implicit = (st->algorithm == RECSYS_ALG_IALS);
	int			k = (int) o->factors;
	int32		nu = st->users.n,
				ni = st->items.n;
	int64		n = st->n,
				nnz;
	TrainMemory tm;
	int64	   *user_ids,
			   *item_ids;
	int32	   *user_rank,
			   *item_rank;
	int32	  **seg_user_rank,
			  **seg_item_rank;
	int64	   *item_ptr,
			   *user_ptr;
	int32	   *by_item_user,
			   *user_items,
			   *item_users;
	float	   *by_item_value,
			   *user_values,
			   *item_values;
	char	   *options_json;
	uint32		flags;
	uint64		model_bytes;
	RecModelHeader *m;
	RecModelLayout l;
	RecRatings r;
	RecFactors f;
	RecControl ctl;
	TrainProgress progress;
	float	   *bias_scratch = NULL;
	float		vmin,
				vmax;
	int64		scratch_estimate;
	int			threads = RecWorkThreads();
	int			status;
	instr_time	start,
				duration;
	RecModelError err;

	options_json = OptionsJson(st->algorithm, o);
	flags = (o->keep_interactions ? RECSYS_MODEL_HAS_INTERACTIONS : 0) |
		(!implicit && o->biases ? RECSYS_MODEL_HAS_BIASES : 0);

	memset(&tm, 0, sizeof(tm));
	tm.aggregate = agg;
	tm.n = n;
	tm.n_users = nu;
	tm.n_items = ni;
	tm.live = tm.peak = (int64) MemoryContextMemAllocated(st->ctx, true);

	/*
	 * Fail before building anything if the phases below cannot fit: relabelling
	 * and the by-item pass next to the state, the two passes' arrays, and CSR +
	 * CSC + the model (duplicates can only make them smaller).
	 */
	model_bytes = RecModelShapeSize(st->algorithm, flags, k, nu, ni,
									o->keep_interactions ? n : 0, strlen(options_json));
	{
		int64		ids = 12 * ((int64) nu + ni);
		int64		csr = 8 * (int64) (nu + 1) + 8 * n;
		int64		csc = 8 * (int64) (ni + 1) + 8 * n;
		int64		need = Max(tm.live + ids + csc,
							   Max(ids + csc + csr, ids + csr + csc + (int64) model_bytes));

		if (need > MaxTrainBytes())
		{
			tm.live = 0;
			Reserve(&tm, need, "its input, CSR/CSC copies and the model");
		}
	}

	/*
	 * OpenBLAS scratch for the solver's threads, mapped now on this thread: a
	 * failure is an error here instead of a worker retrying forever
	 */
	RecReserveBlas(threads, agg);

	work_cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys training",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work_cxt);

	/* dense indexes in ascending raw-id order */
	RelabelIds(&tm, &st->users, &user_ids, &user_rank);
	RelabelIds(&tm, &st->items, &item_ids, &item_rank);

	/* pass 1: counting sort by item, stable (arrival order within an item) */
	item_ptr = CountedAlloc(&tm, (int64) ni + 1, sizeof(int64), "item pointers");
	by_item_user = CountedAlloc(&tm, n, sizeof(int32), "the by-item pass");
	by_item_value = CountedAlloc(&tm, n, sizeof(float), "the by-item pass");
	SegmentRanks(&tm, st, user_rank, item_rank, &seg_user_rank, &seg_item_rank);
	{
		BucketPass	p;
		int64	   *chunk_start = palloc(sizeof(int64) * (st->n_chunks + 1));

		chunk_start[0] = 0;
		for (int32 c = 0; c < st->n_chunks; c++)
			chunk_start[c + 1] = chunk_start[c] + st->chunks[c].len;
		BucketPassInit(&tm, &p, n, ni);
		p.st = st;
		p.chunk_start = chunk_start;
		p.user_rank = seg_user_rank;
		p.item_rank = seg_item_rank;
		p.out_idx = by_item_user;
		p.out_val = by_item_value;
		for (int r = 0; r <= p.ranges; r++)
			p.range_begin[r] = n / p.ranges * r;
		p.range_begin[p.ranges] = n;
		BucketPassSort(&p, item_ptr, agg);
		BucketPassFree(&tm, &p);
		pfree(chunk_start);
	}

	/* the state is no longer needed: give its memory back */
	tm.live -= (int64) MemoryContextMemAllocated(st->ctx, true);
	MemoryContextDelete(st->ctx);
	st->consumed = true;
	for (int32 s = 0; s < st->n_segments; s++)
	{
		CountedFree(&tm, seg_user_rank[s + 1], st->segments[s].n_users, sizeof(int32));
		CountedFree(&tm, seg_item_rank[s + 1], st->segments[s].n_items, sizeof(int32));
	}
	CountedFree(&tm, user_rank, nu, sizeof(int32));
	CountedFree(&tm, item_rank, ni, sizeof(int32));

	/*
	 * pass 2: counting sort by user, visiting items in order, so every user's row
	 * is sorted by item and equal items keep arrival order
	 */
	user_ptr = CountedAlloc(&tm, (int64) nu + 1, sizeof(int64), "user pointers");
	user_items = CountedAlloc(&tm, n, sizeof(int32), "the CSR");
	user_values = CountedAlloc(&tm, n, sizeof(float), "the CSR");
	TransposeRows(&tm, item_ptr, by_item_user, by_item_value, ni, n, nu,
				  user_ptr, user_items, user_values, agg);
	CountedFree(&tm, by_item_user, n, sizeof(int32));
	CountedFree(&tm, by_item_value, n, sizeof(float));
	CHECK_FOR_INTERRUPTS();

	nnz = MergeDuplicates(nu, user_ptr, user_items, user_values, implicit,
						  user_ids, item_ids);
	vmin = vmax = user_values[0];
	for (int64 j = 1; j < nnz; j++)
	{
		vmin = Min(vmin, user_values[j]);
		vmax = Max(vmax, user_values[j]);
	}

	/* CSC by transposing the CSR: users come out sorted within each item */
	item_users = CountedAlloc(&tm, nnz, sizeof(int32), "the CSC");
	item_values = CountedAlloc(&tm, nnz, sizeof(float), "the CSC");
	TransposeRows(&tm, user_ptr, user_items, user_values, nu, nnz, ni,
				  item_ptr, item_users, item_values, agg);
	CHECK_FOR_INTERRUPTS();
	/* the model, in the caller's context: the solver writes into it directly */
	model_bytes = RecModelShapeSize(st->algorithm, flags, k, nu, ni,
									o->keep_interactions ? nnz : 0, strlen(options_json));
	Reserve(&tm, (int64) model_bytes, "the model");
	MemoryContextSwitchTo(result_cxt);
	/* the solver's initialisation writes every factor: no need to zero them */
	m = RecModelCreateForFactors(st->algorithm, flags, k, nu, ni,
								 o->keep_interactions ? nnz : 0, options_json);
	MemoryContextSwitchTo(work_cxt);
	RecModelComputeLayout(m, &l);
	memcpy((char *) m + l.user_ids, user_ids, sizeof(int64) * nu);
	memcpy((char *) m + l.item_ids, item_ids, sizeof(int64) * ni);
	for (int32 i = 0; i < ni; i++)
		((int32 *) ((char *) m + l.item_count))[i] = (int32) (item_ptr[i + 1] - item_ptr[i]);
	if (o->keep_interactions)
	{
		memcpy((char *) m + l.seen_ptr, user_ptr, sizeof(int64) * ((int64) nu + 1));
		memcpy((char *) m + l.seen_items, user_items, sizeof(int32) * nnz);
	}

	/* solve */
	scratch_estimate = EstimateSolverScratch(Max(LongestRow(user_ptr, nu),
												 LongestRow(item_ptr, ni)),
											 k, threads);
	Reserve(&tm, scratch_estimate, "solver scratch");
	tm.live -= scratch_estimate;

	r.n_users = nu;
	r.n_items = ni;
	r.nnz = nnz;
	r.user_ptr = user_ptr;
	r.user_items = user_items;
	r.user_values = user_values;
	r.item_ptr = item_ptr;
	r.item_users = item_users;
	r.item_values = item_values;

	memset(&f, 0, sizeof(f));
	f.user_factors = (float *) ((char *) m + l.user_factors);
	f.item_factors = (float *) ((char *) m + l.item_factors);
	if (flags & RECSYS_MODEL_HAS_BIASES)
	{
		f.user_bias = (float *) ((char *) m + l.user_bias);
		f.item_bias = (float *) ((char *) m + l.item_bias);
	}
	else if (!implicit)
	{
		/* explicit without biases: the solver keeps these at zero */
		bias_scratch = CountedAlloc(&tm, (int64) nu + ni, sizeof(float), "biases");
		memset(bias_scratch, 0, sizeof(float) * ((int64) nu + ni));
		f.user_bias = bias_scratch;
		f.item_bias = bias_scratch + nu;
	}

	progress.aggregate = agg;
	progress.iterations = (int) o->iterations;
	ctl.interrupted = RecCancelRequested;
	ctl.progress = o->verbose ? TrainReportProgress : NULL;
	ctl.arg = &progress;

	INSTR_TIME_SET_CURRENT(start);
	if (implicit)
	{
		IalsParams p;

		p.factors = k;
		p.iterations = (int) o->iterations;
		p.regularization = (float) o->regularization;
		p.alpha = (float) o->alpha;
		p.cg_steps = (int) o->cg_steps;
		p.solver = (int) o->solver;
		p.seed = (uint64) o->seed;
		p.threads = threads;
		status = IalsTrain(&r, &p, &f, &ctl);
	}
	else
	{
		AlsParams	p;

		p.factors = k;
		p.iterations = (int) o->iterations;
		p.regularization = (float) o->regularization;
		p.biases = o->biases;
		p.seed = (uint64) o->seed;
		p.threads = threads;
		status = AlsTrain(&r, &p, &f, &ctl);
	}
	INSTR_TIME_SET_CURRENT(duration);
	INSTR_TIME_SUBTRACT(duration, start);
	ReportSolverStatus(status, agg);
	tm.peak = Max(tm.peak, tm.live + f.scratch_bytes);

	/* statistics */
	m->iterations = f.iterations_done;
	m->n_interactions = nnz;
	m->global_mean = implicit ? 0.0f : f.global_mean;
	m->rating_min = vmin;
	m->rating_max = vmax;
	m->train_loss = (float) f.loss;
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
	{
		uint64		total;

		if (RecModelCheckHeader(m, &total, &err) != RECSYS_MODEL_OK ||
			RecModelCheckPayload(m, &err) != RECSYS_MODEL_OK)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s produced an invalid model: %s", agg, err.msg),
					 errhint("Increase the \"regularization\" option.")));
	}

	MemoryContextSwitchTo(result_cxt);
	MemoryContextDelete(work_cxt);
	return m;
}

PG_FUNCTION_INFO_V1(train_finalfn);
/* Final function of both aggregates: NULL for no rows, else the trained model */
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

/* ------------------------------------------------- training from C (ratings.h) */

/*
 * A training run fed row by row from C instead of through the aggregate (how
 * recsys.train reads its source query); the state lives under ctx.
 */
RecTraining *
RecTrainingBegin(MemoryContext ctx, int algorithm, Jsonb *options)
{
	TrainState *st = StateCreate(ctx, algorithm, 0, 0);

	if (options != NULL)
	{
		ParseOptions(options, algorithm, &st->options);
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

/* RECSYS_ALG_* of an algorithm name of recsys.train ("als", "ials"), 0 if unknown */
int
RecAlgorithmByName(const char *name)
{
	if (strcmp(name, "als") == 0)
		return RECSYS_ALG_ALS;
	if (strcmp(name, "ials") == 0)
		return RECSYS_ALG_IALS;
	return 0;
}
