/*
 * cache.c
 *		The per-backend model cache and the registry look-up by name.
 *
 * Serving calls arrive with a recsys.model Datum that is usually a TOAST pointer
 * into recsys.models (or any table).  Detoasting a 30 MB model per call would
 * dominate a request, so the first call in a backend loads the model into its
 * own memory context (with the data serving derives from it: options, norms,
 * popularity order) and later calls find it again; old entries age out by LRU
 * within the budget recsys.model_cache_mb.  A model larger than the whole budget
 * is loaded for the call and freed with it.
 *
 * How a call finds its entry decides whose model it is served, and a model's
 * header is user input (the text and binary forms accept any uuid), so nothing a
 * value claims about itself is a key.  A value is matched by its bytes:
 *
 *	- A stored value (an on-disk TOAST pointer) by that pointer.  SQL cannot make
 *	  a TOAST pointer, and the value behind one is immutable while it exists, so a
 *	  pointer remembered at load names exactly the bytes that were loaded.  The
 *	  one way it can name other bytes is OID reuse after the value was deleted,
 *	  vacuumed and the OID counter wrapped; a hit therefore also fetches the
 *	  header slice (one TOAST chunk) and compares it whole with the cached header
 *	  (random uuid, timings, counts), and a registry read by name also keys on the
 *	  row version (xmin), so a replaced row never matches an old entry.
 *	- Any other value (in memory: a literal, a PL/pgSQL variable, a function
 *	  result) by comparing it in full with cached entries of the same size and
 *	  uuid.  Such a value is already in memory, so the comparison costs less than
 *	  having produced it, and no hash collision is assumed anywhere.
 *
 * A pointer that misses is detoasted and compared the same way, so a value
 * copied to another row (history, a user table) shares the loaded entry and
 * becomes one more pointer of it.  A forged value with another model's uuid is
 * therefore a different entry, loaded from its own bytes, in either order.
 *
 * This file does not interpret the factors: that is recommend.c and serving.c.
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "ann.h"
#include "blas.h"
#include "cache.h"
#include "modelio.h"
#include "modeltype.h"
#include "neighbours.h"
#include "recsys.h"
#include "registry.h"
#include "serving.h"
#include "solver.h"

/* defaults of the training options, used when a model's options omit them */
#define DEFAULT_REGULARIZATION	0.1
#define DEFAULT_ALPHA			10.0

/*
 * 0.1.0 models record neither "confidence" nor "regularization_exponent": they
 * were trained with c = 1 + alpha w and a plain lambda, so absent keys mean that
 */
#define DEFAULT_EPSILON			1.0
#define DEFAULT_REG_EXPONENT	0.0

/* cached entries, most recently used first, and their total bytes */
static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static Size model_cache_bytes = 0;

/* the serial number of the next load */
static uint64 next_serial = 1;

/* the registry look-up, planned once per backend */
static SPIPlanPtr model_by_name_plan = NULL;

/* the same with the row's owner (0.2.0 registries) */
static SPIPlanPtr model_owner_by_name_plan = NULL;


/*
 * Checks a CSR a serving call indexes with stored numbers (rows of `rows` from 0
 * to n_entries, entries naming one of `cols`), so that even a damaged value
 * cannot make a request read out of bounds.
 */
static void
CheckRows(const int64 *ptr, const int32 *idx, int32 rows, int32 cols, int64 n_entries,
		  const char *what)
{
	if (ptr[0] != 0 || ptr[rows] != n_entries)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid recsys.model value"),
				 errdetail("%s rows span %lld .. %lld, expected 0 .. %lld.", what,
						   (long long) ptr[0], (long long) ptr[rows],
						   (long long) n_entries)));
	for (int32 r = 0; r < rows; r++)
		if (ptr[r + 1] < ptr[r])
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid recsys.model value"),
					 errdetail("%s row %d ends before it starts.", what, r)));
	for (int64 e = 0; e < n_entries; e++)
		if (idx[e] < 0 || idx[e] >= cols)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid recsys.model value"),
					 errdetail("%s entry %lld names index %d of %d.", what,
							   (long long) e, idx[e], cols)));
}

/*
 * Checks the sections a serving call indexes with stored numbers (the seen
 * lists and the neighbour lists): the header and directory were checked when
 * the value was read (RecModelCheckStored), the payload is trusted otherwise.
 */
static void
CheckSections(const RecModelView *v)
{
	const RecModelHeader *h = v->h;

	if (h->options_len > 0 && v->options[h->options_len - 1] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid recsys.model value"),
				 errdetail("The options section is not NUL-terminated.")));
	for (int32 i = 0; i < h->n_items; i++)
		if (v->item_count[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid recsys.model value"),
					 errdetail("Item %d has a negative interaction count.", i)));
	if (v->seen_ptr != NULL)
		CheckRows(v->seen_ptr, v->seen_items, h->n_users, h->n_items, h->n_seen,
				  "Interaction");
	if (v->item_nbr_ptr != NULL)
		CheckRows(v->item_nbr_ptr, v->item_nbr_idx, h->n_items, h->n_items, v->n_item_nbr,
				  "Item-neighbour");
	if (v->user_nbr_ptr != NULL)
		CheckRows(v->user_nbr_ptr, v->user_nbr_idx, h->n_users, h->n_users, v->n_user_nbr,
				  "User-neighbour");
	if (v->feature_ptr != NULL)
	{
		if (v->n_terms > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid recsys.model value"),
					 errdetail("The vocabulary has %lld terms.", (long long) v->n_terms)));
		CheckRows(v->feature_ptr, v->feature_idx, h->n_items, (int32) v->n_terms, v->n_feature,
				  "Feature");
		CheckRows(v->term_ptr, v->term_items, (int32) v->n_terms, h->n_items, v->n_feature,
				  "Term");
	}
}

/* A numeric option from the model's options JSON, or the default */
static float
OptionNumber(Jsonb *options, const char *key, double dflt)
{
	JsonbValue	val;

	if (options == NULL || !JB_ROOT_IS_OBJECT(options) ||
		getKeyJsonValueFromContainer(&options->root, key, strlen(key), &val) == NULL ||
		val.type != jbvNumeric)
		return (float) dflt;
	return (float) DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													  NumericGetDatum(val.val.numeric)));
}

/* Whether the model's options JSON has key with the string value want */
static bool
OptionIsString(Jsonb *options, const char *key, const char *want)
{
	JsonbValue	val;

	if (options == NULL || !JB_ROOT_IS_OBJECT(options) ||
		getKeyJsonValueFromContainer(&options->root, key, strlen(key), &val) == NULL ||
		val.type != jbvString)
		return false;
	return val.val.string.len == (int) strlen(want) &&
		memcmp(val.val.string.val, want, val.val.string.len) == 0;
}

/*
 * Maps the values of a history given to serving (recommend_by_items, explain,
 * a tracked overlay) as training mapped the model's own: the stored seen values
 * already are (cache.h)
 */
void
RecModelMapValues(const RecModelEntry *e, float *values, int64 n)
{
	if (e->ease_values == REC_EASE_VALUES_RAW)
		return;
	for (int64 j = 0; j < n; j++)
		values[j] = RecEaseValue(e->ease_values, values[j]);
}

/* palloc for arrays that may exceed 1 GB on very large catalogues */
static void *
AllocArray(Size count, Size width)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, count * width);
}

/*
 * What recommend_by_items needs for a user-kNN model: the seen interactions by
 * item (a counting-sort transpose), each user's value norm, a zeroed score row
 * over users, and the longest neighbour row (how many neighbours a visitor gets).
 */
static void
DeriveVisitorData(RecModelEntry *e)
{
	const RecModelHeader *h = e->model;
	int64		n_seen = e->v.seen_ptr[h->n_users];
	int64	   *next;

	e->item_user_ptr = AllocArray((Size) h->n_items + 1, sizeof(int64));
	e->item_users = AllocArray(Max(n_seen, 1), sizeof(int32));
	e->item_user_values = AllocArray(Max(n_seen, 1), sizeof(float));
	e->user_value_norms = AllocArray(Max(h->n_users, 1), sizeof(float));
	e->user_scratch = MemoryContextAllocExtended(CurrentMemoryContext,
												 sizeof(float) * Max(h->n_users, 1),
												 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	next = AllocArray((Size) h->n_items + 1, sizeof(int64));

	memset(e->item_user_ptr, 0, sizeof(int64) * ((Size) h->n_items + 1));
	for (int64 p = 0; p < n_seen; p++)
		e->item_user_ptr[e->v.seen_items[p] + 1]++;
	for (int32 i = 0; i < h->n_items; i++)
		e->item_user_ptr[i + 1] += e->item_user_ptr[i];
	memcpy(next, e->item_user_ptr, sizeof(int64) * ((Size) h->n_items + 1));
	for (int32 u = 0; u < h->n_users; u++)
	{
		double		norm2 = 0;

		for (int64 p = e->v.seen_ptr[u]; p < e->v.seen_ptr[u + 1]; p++)
		{
			int64		q = next[e->v.seen_items[p]]++;

			e->item_users[q] = u;
			e->item_user_values[q] = e->v.seen_values[p];
			norm2 += (double) e->v.seen_values[p] * e->v.seen_values[p];
		}
		e->user_value_norms[u] = (float) sqrt(norm2);
		e->user_neighbours = Max(e->user_neighbours,
								 e->v.user_nbr_ptr[u + 1] - e->v.user_nbr_ptr[u]);
	}
	pfree(next);
}

/*
 * Computes what serving derives from a model, once per load: the solver options
 * fold-in needs, row norms for cosine, the popularity order for cold start, Y'Y
 * for implicit fold-in, and a score buffer for single requests.
 */
static void
DeriveServingData(RecModelEntry *e)
{
	const RecModelHeader *h = e->model;
	int			k = h->factors;
	Jsonb	   *options = NULL;
	int64	   *key;

	if (h->options_len > 1)
		options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													 CStringGetDatum(e->v.options)));
	e->lambda = OptionNumber(options, "regularization", DEFAULT_REGULARIZATION);
	e->alpha = OptionNumber(options, "alpha", DEFAULT_ALPHA);
	e->implicit.lambda = e->lambda;
	e->implicit.alpha = IalsEffectiveAlpha(e->alpha,
										   OptionNumber(options, "confidence_scale", 1.0));
	e->implicit.confidence = OptionIsString(options, "confidence", "log") ?
		IALS_CONFIDENCE_LOG : IALS_CONFIDENCE_LINEAR;
	e->implicit.epsilon = OptionNumber(options, "epsilon", DEFAULT_EPSILON);
	e->implicit.reg_exponent = OptionNumber(options, "regularization_exponent",
											DEFAULT_REG_EXPONENT);
	e->implicit.n_items = h->n_items;

	/* EASE models trained before option "values" existed saw raw values */
	e->ease_values = REC_EASE_VALUES_RAW;
	if (h->algorithm == RECSYS_ALG_EASE)
	{
		if (OptionIsString(options, "values", "binary"))
			e->ease_values = REC_EASE_VALUES_BINARY;
		else if (OptionIsString(options, "values", "log"))
			e->ease_values = REC_EASE_VALUES_LOG;
	}

	/* what only factor models need: row norms for cosine, Y'Y below */
	e->item_norms = e->user_norms = NULL;
	if (e->v.item_factors != NULL)
	{
		e->item_norms = AllocArray(Max(h->n_items, 1), sizeof(float));
		RecRowNorms(e->v.item_factors, h->n_items, k, e->item_norms);
		e->user_norms = AllocArray(Max(h->n_users, 1), sizeof(float));
		RecRowNorms(e->v.user_factors, h->n_users, k, e->user_norms);
	}

	e->popular = AllocArray(Max(h->n_items, 1), sizeof(int32));
	key = AllocArray(Max(h->n_items, 1), sizeof(int64));
	RecPopularityOrder(e->v.item_count, h->n_items, e->popular, key);
	pfree(key);

	/* Y'Y for implicit fold-in (a content model folds in by its profile sum) */
	e->gram = NULL;
	if (RecModelImplicit(h) && h->algorithm != RECSYS_ALG_CONTENT)
	{
		e->gram = palloc0(sizeof(float) * k * k);
		if (h->n_items > 0)
			cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, h->n_items,
						1.0f, e->v.item_factors, k, 0.0f, e->gram, k);
		for (int r = 0; r < k; r++)
			for (int c = 0; c < r; c++)
				e->gram[r * k + c] = e->gram[c * k + r];
	}

	/* the index's list radii: the probe ranks lists by an upper bound (ann.h) */
	e->ann_radius = NULL;
	if (e->v.ann != NULL)
	{
		RecAnnIndex ix;

		RecAnnView(e->v.ann, &ix);
		e->ann_radius = AllocArray(Max(ix.lists, 1), sizeof(float));
		RecAnnRadii(&ix, e->v.item_factors, e->v.item_bias, k, e->ann_radius);
	}

	e->scores = AllocArray(Max(h->n_items, 1), sizeof(float));

	/* item-item models' diversity pools find their entries' positions here */
	e->pool_pos = NULL;
	if (e->v.item_nbr_ptr != NULL)
	{
		e->pool_pos = AllocArray(Max(h->n_items, 1), sizeof(int32));
		memset(e->pool_pos, -1, sizeof(int32) * Max(h->n_items, 1));
	}

	/* user kNN serves visitors through the item -> users transpose of seen */
	e->item_user_ptr = NULL;
	e->item_users = NULL;
	e->item_user_values = NULL;
	e->user_value_norms = NULL;
	e->user_scratch = NULL;
	e->user_neighbours = 0;
	if (e->v.user_nbr_ptr != NULL)
		DeriveVisitorData(e);
}

/* Frees the least recently used entries until `need` more bytes fit the budget */
static void
EvictFor(Size need, Size budget)
{
	while (!dlist_is_empty(&cache_lru) && model_cache_bytes + need > budget)
	{
		RecModelEntry *old = dlist_tail_element(RecModelEntry, node, &cache_lru);

		dlist_delete(&old->node);
		model_cache_bytes -= old->bytes;
		MemoryContextDelete(old->cxt);
	}
}

/* A new context for one model, under the caller's so an error frees it */
static MemoryContext
NewModelContext(void)
{
	return AllocSetContextCreate(CurrentMemoryContext, "recsys model",
								 ALLOCSET_DEFAULT_SIZES);
}

/*
 * Checks that a detoasted value is at least a header of this format and as long
 * as that header says, before its bytes are compared or loaded.
 */
static void
CheckValueSize(const struct varlena *value)
{
	RecModelCheckStored((const RecModelHeader *) value, VARSIZE(value));
}

/*
 * Loads a model whose checked value was detoasted into cxt (a context of its
 * own): checks its sections, derives the serving data, then either moves the
 * context under CacheMemoryContext and keeps it, or leaves it to be freed with
 * the call when it would not fit the budget.
 */
static RecModelEntry *
LoadModel(MemoryContext cxt, struct varlena *value)
{
	MemoryContext old;
	RecModelEntry *e;
	Size		budget = (Size) recsys_model_cache_mb * 1024 * 1024;

	old = MemoryContextSwitchTo(cxt);
	e = palloc0(sizeof(RecModelEntry));
	e->cxt = cxt;
	e->serial = next_serial++;
	e->model = (RecModelHeader *) value;
	RecModelGetView(e->model, &e->v);
	CheckSections(&e->v);
	memcpy(e->uuid, e->model->uuid, sizeof(e->uuid));
	DeriveServingData(e);
	MemoryContextSwitchTo(old);
	e->bytes = MemoryContextMemAllocated(cxt, true);

	if (e->bytes <= budget)
	{
		EvictFor(e->bytes, budget);
		MemoryContextSetParent(cxt, CacheMemoryContext);
		dlist_push_head(&cache_lru, &e->node);
		model_cache_bytes += e->bytes;
		e->cached = true;
	}
	return e;
}

/* Marks a cached entry as used by this call: front of the LRU list, one more hit */
static RecModelEntry *
Touch(RecModelEntry *e)
{
	dlist_move_head(&cache_lru, &e->node);
	e->hits++;
	return e;
}

/* The cached entry with exactly these bytes, or NULL */
static RecModelEntry *
FindByContent(const struct varlena *value)
{
	const RecModelHeader *h = (const RecModelHeader *) value;
	dlist_iter	iter;

	dlist_foreach(iter, &cache_lru)
	{
		RecModelEntry *e = dlist_container(RecModelEntry, node, iter.cur);

		/* size and uuid first: a full comparison only for a likely match */
		if (VARSIZE(e->model) == VARSIZE(value) &&
			memcmp(e->uuid, h->uuid, sizeof(e->uuid)) == 0 &&
			memcmp(e->model, value, VARSIZE(value)) == 0)
			return e;
	}
	return NULL;
}

/* The cached entry remembered for a TOAST pointer and row version, or NULL */
static RecModelEntry *
FindByPointer(const varatt_external *ptr, TransactionId xmin, int *slot)
{
	dlist_iter	iter;

	dlist_foreach(iter, &cache_lru)
	{
		RecModelEntry *e = dlist_container(RecModelEntry, node, iter.cur);

		for (int a = 0; a < e->n_aliases; a++)
			if (e->aliases[a].xmin == xmin &&
				memcmp(&e->aliases[a].ptr, ptr, sizeof(*ptr)) == 0)
			{
				*slot = a;
				return e;
			}
	}
	return NULL;
}

/* The cached entry of a serial number (from an earlier call), or NULL */
static RecModelEntry *
FindBySerial(uint64 serial)
{
	dlist_iter	iter;

	dlist_foreach(iter, &cache_lru)
	{
		RecModelEntry *e = dlist_container(RecModelEntry, node, iter.cur);

		if (e->serial == serial)
			return e;
	}
	return NULL;
}

/* Remembers that a TOAST pointer (at a row version) holds an entry's bytes */
static void
AddAlias(RecModelEntry *e, const varatt_external *ptr, TransactionId xmin)
{
	int			a;

	if (!e->cached)
		return;
	if (e->n_aliases < RECSYS_MODEL_ALIASES)
		a = e->n_aliases++;
	else
	{
		a = e->next_alias;
		e->next_alias = (a + 1) % RECSYS_MODEL_ALIASES;
	}
	e->aliases[a].ptr = *ptr;
	e->aliases[a].xmin = xmin;
}

/*
 * True if the stored value behind a TOAST pointer still starts with the cached
 * entry's header: fetches the header slice only (one TOAST chunk) and compares
 * all of it, random uuid and training statistics included.
 */
static bool
HeaderSliceMatches(Datum datum, const RecModelEntry *e)
{
	struct varlena *slice;
	bool		match;

	slice = PG_DETOAST_DATUM_SLICE(datum, 0, sizeof(RecModelHeader) - VARHDRSZ);
	match = VARSIZE(slice) == sizeof(RecModelHeader) &&
		memcmp(VARDATA(slice), VARDATA(e->model),
			   sizeof(RecModelHeader) - VARHDRSZ) == 0;
	pfree(slice);
	return match;
}

/*
 * The entry for a model Datum; xmin is the registry row version of a by-name
 * read, InvalidTransactionId otherwise.  A stored value is found by its TOAST
 * pointer without reading more than its header slice; anything else, and a
 * pointer seen for the first time, by its full content.  Loads on a miss.
 */
static RecModelEntry *
Lookup(Datum datum, TransactionId xmin)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(datum);
	struct varlena *value;
	RecModelEntry *e;
	MemoryContext cxt;
	MemoryContext old;

	/* a lowered recsys.model_cache_mb takes effect at the next look-up */
	EvictFor(0, (Size) recsys_model_cache_mb * 1024 * 1024);

	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		varatt_external ptr;
		int			slot;

		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
		e = FindByPointer(&ptr, xmin, &slot);
		if (e != NULL)
		{
			if (HeaderSliceMatches(datum, e))
				return Touch(e);
			/* the OID was reused for another value: forget it */
			e->aliases[slot] = e->aliases[--e->n_aliases];
			e->next_alias = 0;
		}

		/* first sight of this pointer: read the value into a context of its own */
		cxt = NewModelContext();
		old = MemoryContextSwitchTo(cxt);
		value = detoast_attr(raw);
		MemoryContextSwitchTo(old);
		CheckValueSize(value);
		e = FindByContent(value);
		if (e != NULL)
		{
			/* the same bytes are cached already (a copy in another row) */
			MemoryContextDelete(cxt);
			AddAlias(e, &ptr, xmin);
			return Touch(e);
		}
		e = LoadModel(cxt, value);
		AddAlias(e, &ptr, xmin);
		return e;
	}

	/* in memory (possibly compressed or with a short header): compare the bytes */
	value = PG_DETOAST_DATUM(datum);
	CheckValueSize(value);
	e = FindByContent(value);
	if (e != NULL)
		return Touch(e);
	cxt = NewModelContext();
	old = MemoryContextSwitchTo(cxt);
	raw = MemoryContextAllocHuge(cxt, VARSIZE(value));
	memcpy(raw, value, VARSIZE(value));
	MemoryContextSwitchTo(old);
	return LoadModel(cxt, raw);
}

/* The entry for a model Datum (a value passed in, not read by name) */
RecModelEntry *
RecModelGet(Datum datum)
{
	return Lookup(datum, InvalidTransactionId);
}

/* What a scalar function remembers between rows of one query (in fn_extra) */
typedef struct RecModelMemo
{
	varatt_external ptr;		/* the last on-disk TOAST pointer seen */
	uint64		serial;			/* the entry it was found as */
} RecModelMemo;

/*
 * RecModelGet for scalar functions called once per row (predict): when the
 * argument is the same on-disk TOAST pointer as on the previous row of this
 * query, the model is known without fetching even the header slice.  A TOAST
 * pointer seen in one query names one immutable value for the whole query (the
 * query's snapshot keeps it from being vacuumed).  Not for set-returning
 * functions, which own fn_extra.
 */
RecModelEntry *
RecModelGetForRow(FmgrInfo *flinfo, Datum datum)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(datum);
	RecModelMemo *memo = (RecModelMemo *) flinfo->fn_extra;
	varatt_external ptr;
	RecModelEntry *e;

	if (!VARATT_IS_EXTERNAL_ONDISK(raw))
		return RecModelGet(datum);

	VARATT_EXTERNAL_GET_POINTER(ptr, raw);
	if (memo != NULL && memcmp(&memo->ptr, &ptr, sizeof(ptr)) == 0 &&
		(e = FindBySerial(memo->serial)) != NULL)
		return Touch(e);

	e = RecModelGet(datum);
	if (memo == NULL)
		memo = flinfo->fn_extra = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(RecModelMemo));
	memo->ptr = ptr;
	memo->serial = e->cached ? e->serial : 0;
	return e;
}

/*
 * The stored model of a registry name, as the table holds it (usually a TOAST
 * pointer, copied into the caller's context), the row version it was read from
 * if xmin is not NULL and the row's owner if owner is not NULL.  A name the
 * caller cannot see is 42704, or (Datum) 0 with missing_ok.  The query
 * qualifies its operator, so a caller's search_path cannot redirect it.
 */
static Datum
RegistryModel(text *name, TransactionId *xmin, Oid *owner, bool missing_ok)
{
	Datum		arg = PointerGetDatum(name);
	Datum		result;
	bool		isnull;
	int			rc;
	SPIPlanPtr *plan_slot;
	const char *sql;

	/*
	 * The owner only where asked for and where the registry has one: a 0.1.0
	 * schema (the library is updated before ALTER EXTENSION UPDATE) has none
	 */
	if (owner != NULL)
	{
		*owner = InvalidOid;
		if (get_attnum(get_relname_relid("models", get_namespace_oid("recsys", false)),
					   "owner") == InvalidAttrNumber)
			owner = NULL;
	}
	if (owner != NULL)
	{
		plan_slot = &model_owner_by_name_plan;
		sql = "SELECT r.model, r.xmin, r.owner::pg_catalog.oid FROM recsys.models AS r"
			" WHERE r.name OPERATOR(pg_catalog.=) $1";
	}
	else
	{
		plan_slot = &model_by_name_plan;
		sql = "SELECT r.model, r.xmin FROM recsys.models AS r"
			" WHERE r.name OPERATOR(pg_catalog.=) $1";
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (*plan_slot == NULL)
	{
		Oid			argtype = TEXTOID;
		SPIPlanPtr	plan;

		plan = SPI_prepare(sql, 1, &argtype);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan_slot = plan;
	}
	rc = SPI_execute_plan(*plan_slot, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0 && missing_ok)
	{
		SPI_finish();
		return (Datum) 0;
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", RecMessageTextLen(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name))),
				 errhint("Models are rows of recsys.models; recsys.train() creates one.")));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model \"%s\" is NULL", RecMessageTextLen(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)))));
	if (xmin != NULL)
		*xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 2, &isnull));
	if (owner != NULL)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3,
									  &isnull);

		*owner = isnull ? InvalidOid : DatumGetObjectId(d);
	}
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	return result;
}

/* The stored model of a registry name, not detoasted */
Datum
RecModelDatumByName(text *name)
{
	return RegistryModel(name, NULL, NULL, false);
}

/*
 * The entry for a registry name: the row's TOAST pointer and row version find a
 * cached model, so a by-name call costs the index look-up and a header slice.
 */
RecModelEntry *
RecModelGetByName(text *name)
{
	TransactionId xmin;
	Datum		model = RegistryModel(name, &xmin, NULL, false);

	return Lookup(model, xmin);
}

/*
 * RecModelGetByName that also returns the row's owner; with missing_ok a name
 * the caller cannot see returns NULL
 */
RecModelEntry *
RecModelGetByNameOwner(text *name, bool missing_ok, Oid *owner)
{
	TransactionId xmin;
	Datum		model = RegistryModel(name, &xmin, owner, missing_ok);

	if (model == (Datum) 0)
		return NULL;
	return Lookup(model, xmin);
}

/*
 * recsys.model_by_name(name text) returns recsys.model: the registry's model of
 * that name, for passing to functions that have no name overload.
 */
PG_FUNCTION_INFO_V1(model_by_name);
Datum
model_by_name(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(RecModelDatumByName(PG_GETARG_TEXT_PP(0)));
}

/*
 * recsys.model_cache() returns one row per model cached in this backend, most
 * recently used first: what the cache holds and how often it was reused.
 */
PG_FUNCTION_INFO_V1(model_cache);
Datum
model_cache(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	dlist_iter	iter;

	InitMaterializedSRF(fcinfo, 0);
	dlist_foreach(iter, &cache_lru)
	{
		RecModelEntry *e = dlist_container(RecModelEntry, node, iter.cur);
		pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));
		Datum		values[7];
		bool		nulls[7] = {0};

		memcpy(uuid->data, e->uuid, sizeof(e->uuid));
		values[0] = UUIDPGetDatum(uuid);
		values[1] = CStringGetTextDatum(RecModelAlgorithmName(e->model->algorithm));
		values[2] = Int32GetDatum(e->model->n_users);
		values[3] = Int32GetDatum(e->model->n_items);
		values[4] = Int32GetDatum(e->model->factors);
		values[5] = Int64GetDatum((int64) e->bytes);
		values[6] = Int64GetDatum((int64) e->hits);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
