/*
 * itemfeatures.c
 *		The item features of a content or hybrid training run: checked and
 *		kept per item as the rows arrive, then laid out in the model's item
 *		order for the fit (itemfeatures.h).
 *
 * An item may carry its features on every one of its rows; they must be the
 * same each time, so the first copy is kept and later ones are compared to it.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/memutils.h"
#include "tsearch/ts_type.h"
#include "utils/syscache.h"

#include "itemfeatures.h"
#include "interactions.h"
#include "model.h"
#include "recsys.h"
#include "vec.h"

struct RecFeatureStore
{
	MemoryContext ctx;
	const char *aggregate;		/* for messages */
	int32		dim;			/* 0 until the first vector */
	int32	   *slot;			/* [slot_cap]: state's item index -> row, or -1 */
	int32		slot_cap;
	int64	   *raw;			/* [cap]: raw item id of each row */
	float	   *values;			/* [cap * dim] */
	bool		text;			/* tsvectors instead of vectors */
	void	  **texts;			/* [cap]: copies of the tsvectors */
	int64		text_bytes;		/* their total size */
	int32		n;				/* rows used */
	int32		cap;
};

/* An empty store in its own context under parent */
RecFeatureStore *
RecFeatureStoreCreate(MemoryContext parent, const char *aggregate)
{
	MemoryContext ctx = AllocSetContextCreate(parent, "recsys item features",
											  ALLOCSET_DEFAULT_SIZES);
	RecFeatureStore *fs = MemoryContextAllocZero(ctx, sizeof(RecFeatureStore));

	fs->ctx = ctx;
	fs->aggregate = aggregate;
	return fs;
}

/* Fails when the features outgrow recsys.max_train_mb */
static void
CheckFeatureMemory(RecFeatureStore *fs)
{
	Size		bytes = MemoryContextMemAllocated(fs->ctx, true);

	if ((int64) bytes > RecMaxTrainBytes())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s item features need more than %s (%d MB)",
						fs->aggregate, RecTrainMbSetting(), recsys_max_train_mb),
				 errdetail("%d items have %d-dimensional features so far.", fs->n, fs->dim),
				 errhint("Raise %s, or train on fewer items.", RecTrainMbSetting())));
}

/* Room for the state's item index dense and one more row */
static void
Grow(RecFeatureStore *fs, int32 dense)
{
	if (dense >= fs->slot_cap)
	{
		int32		cap = Max(Max(fs->slot_cap * 2, dense + 1), 1024);

		if (fs->slot == NULL)
			fs->slot = MemoryContextAllocExtended(fs->ctx, sizeof(int32) * cap, MCXT_ALLOC_HUGE);
		else
			fs->slot = repalloc_huge(fs->slot, sizeof(int32) * cap);
		memset(fs->slot + fs->slot_cap, 0xff, sizeof(int32) * (cap - fs->slot_cap));
		fs->slot_cap = cap;
	}
	if (fs->n == fs->cap)
	{
		int32		cap = Max(fs->cap * 2, 256);

		/* a text store keeps pointers; dim is 0 there */
		Size		width = fs->text ? sizeof(void *) : sizeof(float) * (Size) fs->dim;

		if (fs->raw == NULL)
		{
			fs->raw = MemoryContextAllocExtended(fs->ctx, sizeof(int64) * cap, MCXT_ALLOC_HUGE);
			fs->values = MemoryContextAllocExtended(fs->ctx, width * cap, MCXT_ALLOC_HUGE);
		}
		else
		{
			fs->raw = repalloc_huge(fs->raw, sizeof(int64) * cap);
			fs->values = repalloc_huge(fs->values, width * cap);
		}
		fs->texts = (void **) fs->values;
		fs->cap = cap;
		CheckFeatureMemory(fs);
	}
}

/* Records an item's tsvector (RecFeatureStoreAdd with text) */
static void
AddText(RecFeatureStore *fs, int32 dense, int64 raw, Datum d)
{
	TSVector	tsv = DatumGetTSVector(d);
	int32		row;

	if (fs->n == 0)
		fs->text = true;
	if (tsv->size == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s tsvector of item " INT64_FORMAT " has no lexemes", fs->aggregate, raw),
				 errhint("Give the item some text, or leave its features NULL.")));
	if (dense < fs->slot_cap && fs->slot[dense] >= 0)
	{
		const TSVectorData *old = fs->texts[fs->slot[dense]];

		if (VARSIZE(old) != VARSIZE(tsv) || memcmp(old, tsv, VARSIZE(tsv)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s item " INT64_FORMAT " has different features on different rows",
							fs->aggregate, raw),
					 errhint("An item's features must be the same on every row that names it.")));
		if ((Pointer) tsv != DatumGetPointer(d))
			pfree(tsv);
		return;
	}
	Grow(fs, dense);
	row = fs->n++;
	fs->slot[dense] = row;
	fs->raw[row] = raw;
	/* a tsvector may be large: count every one before keeping it */
	fs->text_bytes += VARSIZE(tsv);
	if (fs->text_bytes > RecMaxTrainBytes())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s item texts need more than %s (%d MB)",
						fs->aggregate, RecTrainMbSetting(), recsys_max_train_mb),
				 errdetail("%d items have tsvectors of " INT64_FORMAT " bytes so far.",
						   fs->n, fs->text_bytes),
				 errhint("Raise %s, or train on fewer items.", RecTrainMbSetting())));
	fs->texts[row] = MemoryContextAllocExtended(fs->ctx, VARSIZE(tsv), MCXT_ALLOC_HUGE);
	memcpy(fs->texts[row], tsv, VARSIZE(tsv));
	/* a detoasted copy would otherwise stay until the end of training */
	if ((Pointer) tsv != DatumGetPointer(d))
		pfree(tsv);
}

/* Records an item's features (itemfeatures.h) */
void
RecFeatureStoreAdd(RecFeatureStore *fs, int32 dense, int64 raw, Datum features, bool text)
{
	Vec		   *v;
	int32		row;

	if (text)
	{
		AddText(fs, dense, raw, features);
		return;
	}
	v = DatumGetVec(features);

	if (fs->dim == 0)
	{
		if (v->dim > RECSYS_MAX_FACTORS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s item features have %d dimensions, at most %d are supported",
							fs->aggregate, v->dim, RECSYS_MAX_FACTORS),
					 errhint("Reduce the features' dimension, for example by a projection.")));
		fs->dim = v->dim;
	}
	else if (v->dim != fs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s features of item " INT64_FORMAT " have %d dimensions, earlier rows had %d",
						fs->aggregate, raw, v->dim, fs->dim)));
	for (int32 d = 0; d < v->dim; d++)
		if (!isfinite(v->x[d]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s features of item " INT64_FORMAT " must be finite",
							fs->aggregate, raw)));

	if (dense < fs->slot_cap && fs->slot[dense] >= 0)
	{
		/* seen before: must be the very same vector */
		if (memcmp(fs->values + (Size) fs->slot[dense] * fs->dim, v->x,
				   sizeof(float) * fs->dim) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s item " INT64_FORMAT " has different features on different rows",
							fs->aggregate, raw),
					 errhint("An item's features must be the same on every row that names it.")));
	}
	else
	{
		Grow(fs, dense);
		row = fs->n++;
		fs->slot[dense] = row;
		fs->raw[row] = raw;
		memcpy(fs->values + (Size) row * fs->dim, v->x, sizeof(float) * fs->dim);
	}
	/* a detoasted copy would otherwise stay until the end of training */
	if ((Pointer) v != DatumGetPointer(features))
		pfree(v);
}

bool
RecFeatureStoreIsText(const RecFeatureStore *fs)
{
	return fs->text;
}

/* The tsvectors in the model's item order (itemfeatures.h) */
int32
RecFeatureStoreTexts(const RecFeatureStore *fs, const int64 *item_ids, int32 n_items,
					 const void **out)
{
	memset(out, 0, sizeof(void *) * n_items);
	for (int32 row = 0; row < fs->n; row++)
	{
		int32		i = RecFindId(item_ids, n_items, fs->raw[row]);

		if (i < 0)
			elog(ERROR, "item " INT64_FORMAT " with features is not in the model", fs->raw[row]);
		out[i] = fs->texts[row];
	}
	return fs->n;
}

int32
RecFeatureStoreDim(const RecFeatureStore *fs)
{
	return fs->dim;
}

int32
RecFeatureStoreCount(const RecFeatureStore *fs)
{
	return fs->n;
}

/* The features in the model's item order (itemfeatures.h) */
int32
RecFeatureStoreMatrix(const RecFeatureStore *fs, const int64 *item_ids, int32 n_items,
					  float *out, bool *has)
{
	int32		found = 0;

	memset(out, 0, sizeof(float) * (Size) n_items * fs->dim);
	memset(has, 0, sizeof(bool) * n_items);
	for (int32 row = 0; row < fs->n; row++)
	{
		int32		i = RecFindId(item_ids, n_items, fs->raw[row]);

		/* every item with features was numbered by the state, so it is there */
		if (i < 0)
			elog(ERROR, "item " INT64_FORMAT " with features is not in the model", fs->raw[row]);
		memcpy(out + (Size) i * fs->dim, fs->values + (Size) row * fs->dim,
			   sizeof(float) * fs->dim);
		has[i] = true;
		found++;
	}
	return found;
}

void
RecFeatureStoreFree(RecFeatureStore *fs)
{
	MemoryContextDelete(fs->ctx);
}

/* The oid of recsys.vec */
Oid
RecVecTypeOid(void)
{
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("vec"),
						   ObjectIdGetDatum(get_namespace_oid("recsys", false)));
}
