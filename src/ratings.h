/*
 * ratings.h
 *		Training outside the aggregates: recsys.train feeds the rows of its source
 *		query to the same state and solver the training aggregates use.
 */
#ifndef RECSYS_RATINGS_H
#define RECSYS_RATINGS_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "model.h"

/* an opaque training run (the aggregate state) */
typedef struct RecTraining RecTraining;

extern RecTraining *RecTrainingBegin(MemoryContext ctx, int algorithm, Jsonb *options);
extern void RecTrainingAdd(RecTraining *t, int64 user_id, int64 item_id, float value);
extern RecModelHeader *RecTrainingFinish(RecTraining *t);

/* RECSYS_ALG_* of an algorithm name of recsys.train, 0 if unknown */
extern int	RecAlgorithmByName(const char *name);

#endif							/* RECSYS_RATINGS_H */
