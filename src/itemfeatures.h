/*
 * itemfeatures.h
 *		Item features collected while a content or hybrid model's training input
 *		is read: one dense vector per item, identical wherever the item appears,
 *		handed to the fit in the model's item order.
 */
#ifndef RECSYS_ITEMFEATURES_H
#define RECSYS_ITEMFEATURES_H

#include "postgres.h"

/* The features of one training run (opaque; lives in its own memory context) */
typedef struct RecFeatureStore RecFeatureStore;

/* An empty store under parent for the named training aggregate's messages */
extern RecFeatureStore *RecFeatureStoreCreate(MemoryContext parent, const char *aggregate);

/*
 * Records the features of an item (dense: the state's numbering of the item,
 * raw: its id) from a recsys.vec datum, or a tsvector when text; raises 22000
 * when the dimension differs from earlier rows', a value is not finite, a
 * tsvector has no lexemes, or the item already has other features.
 */
extern void RecFeatureStoreAdd(RecFeatureStore *fs, int32 dense, int64 raw, Datum features,
							   bool text);

/* Whether the features are tsvectors (else dense vectors) */
extern bool RecFeatureStoreIsText(const RecFeatureStore *fs);

/*
 * The tsvector of each of the model's items (item_ids sorted, n_items), NULL
 * for items without one; returns the number that have one
 */
extern int32 RecFeatureStoreTexts(const RecFeatureStore *fs, const int64 *item_ids,
								  int32 n_items, const void **out);

/* Dimension of the features (0 while none was added) */
extern int32 RecFeatureStoreDim(const RecFeatureStore *fs);

/* Items that have features */
extern int32 RecFeatureStoreCount(const RecFeatureStore *fs);

/*
 * Writes the features of the model's items (item_ids sorted, n_items of
 * them) into out[n_items * dim], rows of items without features zero, and
 * sets has[i]; returns the number of items that have features.
 */
extern int32 RecFeatureStoreMatrix(const RecFeatureStore *fs, const int64 *item_ids,
								   int32 n_items, float *out, bool *has);

/* Frees everything the store holds */
extern void RecFeatureStoreFree(RecFeatureStore *fs);

/* The oid of recsys.vec (the source query's features column is checked by it) */
extern Oid	RecVecTypeOid(void);

#endif							/* RECSYS_ITEMFEATURES_H */
