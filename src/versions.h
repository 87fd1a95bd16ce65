/*
 * versions.h
 *		The promote_if rule of recsys.retrain: which metric of the stored
 *		evaluation decides, and how much worse than the live model's the
 *		candidate's may be.
 */
#ifndef RECSYS_VERSIONS_H
#define RECSYS_VERSIONS_H

#include "postgres.h"

#include "utils/jsonb.h"

/* A parsed promote_if object */
typedef struct RecPromoteRule
{
	char	   *metric;			/* a key of evaluate's result: "ndcg@10", "rmse" */
	double		min_ratio;		/* candidate / live must reach this (inverted
								 * for an error metric) */
	bool		lower_is_better;	/* rmse, mae, popularity@k, gini@k, or as
									 * higher_is_better says */
	int32		k;				/* the @k of a ranking metric, 0 if none */
} RecPromoteRule;

/*
 * Reads promote_if ({"metric": text, "min_ratio": number, "higher_is_better":
 * bool}); anything else is 22023.  eval_k is the k the stored evaluation reports: a ranking metric at
 * another k is refused before anything is trained.
 */
extern void RecParsePromoteRule(Jsonb *promote_if, int32 eval_k, RecPromoteRule *rule);

/*
 * Whether the candidate's metrics pass the rule against the live model's on
 * the same query; *reason says why not (palloc'd), or is NULL when it passes.
 * A metric evaluate did not report is 22023.
 */
extern bool RecPromoteDecide(const RecPromoteRule *rule, Jsonb *candidate, Jsonb *live,
							 char **reason);

/* A numeric key of a metrics object: false if absent or null (22023 if not a number) */
extern bool RecMetricValue(Jsonb *metrics, const char *key, double *value);

/* Whether lower is better for a metric of evaluate: rmse, mae, popularity@k, gini@k */
extern bool RecMetricLowerIsBetter(const char *metric);

#endif							/* RECSYS_VERSIONS_H */
