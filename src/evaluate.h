/*
 * evaluate.h
 *		recsys.evaluate for C callers (recsys.train evaluates on its eval_query,
 *		recsys.tune on its validation rows).
 */
#ifndef RECSYS_EVALUATE_H
#define RECSYS_EVALUATE_H

#include "postgres.h"

#include "utils/jsonb.h"

/* One held-out interaction; value is NaN where the source has none */
typedef struct RecTestRow
{
	int64		user;
	int64		item;
	float		value;
} RecTestRow;

/* metrics of model (a recsys.model datum) on the test query's rows */
extern Jsonb *RecEvaluate(Datum model, const char *test_query, int32 k, Jsonb *options);

/* the same on rows in memory (sorted in place); returned: rows before filtering */
extern Jsonb *RecEvaluateRows(Datum model, RecTestRow *rows, int64 n, int64 returned,
							  bool has_value, int32 k, Jsonb *options);

/* raises 22023 unless options is a valid options object of evaluate */
extern void RecCheckEvalOptions(Jsonb *options);

#endif							/* RECSYS_EVALUATE_H */
