/*
 * train.h
 *		Training outside the aggregates: recsys.train feeds the rows of its source
 *		query to the same state and pipeline the training aggregates use.
 */
#ifndef RECSYS_TRAIN_H
#define RECSYS_TRAIN_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "model.h"

/* an opaque training run (the aggregate state) */
typedef struct RecTraining RecTraining;

/*
 * A run of the algorithm (RECSYS_ALG_*, a row of the algorithm table) with its
 * options checked now (NULL: defaults); its state lives under ctx.
 */
extern RecTraining *RecTrainingBegin(MemoryContext ctx, int algorithm, Jsonb *options);

/* One interaction, with the checks of the aggregate's transition */
extern void RecTrainingAdd(RecTraining *t, int64 user_id, int64 item_id, float value);

/*
 * One row of a source query (NULL flags per column); features_type is the
 * type of its fourth column, InvalidOid when it has three.  Algorithms that take
 * item features read it (recsys.vec), the others ignore it.
 */
extern void RecTrainingAddRow(RecTraining *t, bool user_null, int64 user_id,
							  bool item_null, int64 item_id, bool value_null,
							  float value, Oid features_type, bool features_null,
							  Datum features);

/* The model (in the current context), NULL if no rows came; consumes the run */
extern RecModelHeader *RecTrainingFinish(RecTraining *t);

#endif							/* RECSYS_TRAIN_H */
