/*
 * evaluate.h
 *		recsys.evaluate for C callers (recsys.train evaluates on its eval_query).
 */
#ifndef RECSYS_EVALUATE_H
#define RECSYS_EVALUATE_H

#include "postgres.h"

#include "utils/jsonb.h"

/* metrics of model (a recsys.model datum) on the test query's rows */
extern Jsonb *RecEvaluate(Datum model, const char *test_query, int32 k, Jsonb *options);

/* raises 22023 unless options is a valid options object of evaluate */
extern void RecCheckEvalOptions(Jsonb *options);

#endif							/* RECSYS_EVALUATE_H */
