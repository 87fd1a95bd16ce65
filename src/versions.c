/*
 * versions.c
 *		The promote_if rule of a gated recsys.retrain: parsing it and deciding a
 *		candidate against the live model.
 *
 * The registry side of versions (ids, the live row, rejected candidates kept in
 * recsys.model_history) is registry.c's and the install script's (deploy,
 * rollback, model_versions); this file only judges two metrics objects, which
 * both come from recsys.evaluate of the stored eval_query run once for the
 * candidate and once for the live model.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "options.h"
#include "registry.h"
#include "versions.h"

/* largest min_ratio accepted: a rule no model could pass is a mistake */
#define MAX_MIN_RATIO	10.0

/*
 * Whether lower is better for a metric of evaluate: the errors (rmse, mae) and
 * the exposure measures of beyond_accuracy (popularity@k, the mean popularity
 * of what is recommended, and gini@k, the inequality of exposure)
 */
bool
RecMetricLowerIsBetter(const char *metric)
{
	return strcmp(metric, "rmse") == 0 || strcmp(metric, "mae") == 0 ||
		strncmp(metric, "popularity@", strlen("popularity@")) == 0 ||
		strncmp(metric, "gini@", strlen("gini@")) == 0;
}

/* The value of key in a JSON object, or NULL */
static JsonbValue *
ObjectKey(Jsonb *obj, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
}

/* A numeric key of a metrics object (versions.h) */
bool
RecMetricValue(Jsonb *metrics, const char *key, double *value)
{
	JsonbValue *v;

	if (metrics == NULL || (v = ObjectKey(metrics, key)) == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metric \"%s\" is not a number", RecMessageText(key))));
	*value = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
												NumericGetDatum(v->val.numeric)));
	return isfinite(*value);
}

/* Reads promote_if (versions.h) */
void
RecParsePromoteRule(Jsonb *promote_if, int32 eval_k, RecPromoteRule *rule)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const char *at;
	bool		has_direction = false;
	bool		higher_is_better = true;

	memset(rule, 0, sizeof(*rule));
	rule->min_ratio = 1.0;
	if (!JB_ROOT_IS_OBJECT(promote_if) || JB_ROOT_IS_SCALAR(promote_if))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("promote_if must be a JSON object such as {\"metric\": \"ndcg@10\", \"min_ratio\": 0.98}")));

	it = JsonbIteratorInit(&promote_if->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "metric") == 0)
		{
			if (v.type != jbvString || v.val.string.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("promote_if \"metric\" must be the name of a metric of recsys.evaluate, got %s",
								RecJsonValueText(&v))));
			rule->metric = pnstrdup(v.val.string.val, v.val.string.len);
		}
		else if (strcmp(key, "min_ratio") == 0)
		{
			double		d = NAN;

			if (v.type == jbvNumeric)
				d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   NumericGetDatum(v.val.numeric)));
			if (!(d > 0 && d <= MAX_MIN_RATIO))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("promote_if \"min_ratio\" must be a number above 0 and at most %g, got %s",
								MAX_MIN_RATIO, RecJsonValueText(&v))));
			rule->min_ratio = d;
		}
		else if (strcmp(key, "higher_is_better") == 0)
		{
			if (v.type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("promote_if \"higher_is_better\" must be true or false, got %s",
								RecJsonValueText(&v))));
			has_direction = true;
			higher_is_better = v.val.boolean;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in promote_if", RecMessageText(key)),
					 errhint("promote_if accepts metric, min_ratio and higher_is_better.")));
	}
	if (rule->metric == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("promote_if needs \"metric\" (for example \"ndcg@10\" or \"rmse\")")));

	/* a ranking metric at a k the stored evaluation does not report */
	at = strrchr(rule->metric, '@');
	if (at != NULL)
	{
		char	   *end;
		long		k = strtol(at + 1, &end, 10);

		if (at[1] == '\0' || *end != '\0' || k < 1 || k > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("promote_if metric \"%s\" must end in @k with k a positive integer",
							RecMessageText(rule->metric))));
		rule->k = (int32) k;
		if (rule->k != eval_k)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("promote_if metric \"%s\" is at k = %d but the model is evaluated at eval_k = %d",
							RecMessageText(rule->metric), rule->k, eval_k),
					 errhint("Train the model with options.eval_k = %d, or name the metric at @%d.",
							 rule->k, eval_k)));
	}
	rule->lower_is_better = has_direction ? !higher_is_better :
		RecMetricLowerIsBetter(rule->metric);
}

/*
 * Decides the candidate (versions.h).  Higher-is-better metrics pass when
 * candidate >= min_ratio x live; lower-is-better ones when candidate <= live /
 * min_ratio.  A
 * live model without the metric (no user evaluated) loses to any candidate
 * that has it; a candidate without it is rejected.
 */
bool
RecPromoteDecide(const RecPromoteRule *rule, Jsonb *candidate, Jsonb *live, char **reason)
{
	double		c = 0;
	double		l = 0;
	bool		has_c;
	bool		has_l;

	*reason = NULL;
	if (candidate == NULL || ObjectKey(candidate, rule->metric) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("promote_if metric \"%s\" is not reported by recsys.evaluate for this model",
						RecMessageText(rule->metric)),
				 errhint("The candidate's metrics are: %s.",
						 candidate ? JsonbToCString(NULL, &candidate->root, VARSIZE(candidate)) : "none")));
	has_c = RecMetricValue(candidate, rule->metric, &c);
	has_l = RecMetricValue(live, rule->metric, &l);
	if (!has_c)
	{
		*reason = psprintf("%s of the candidate is null (no test user could be evaluated)",
						   rule->metric);
		return false;
	}
	if (!has_l)
		return true;
	if (rule->lower_is_better ? c * rule->min_ratio <= l : c >= rule->min_ratio * l)
		return true;
	if (rule->lower_is_better)
		*reason = psprintf("%s %g of the candidate is above %g, the live model's %g / min_ratio %g",
						   rule->metric, c, l / rule->min_ratio, l, rule->min_ratio);
	else
		*reason = psprintf("%s %g of the candidate is below %g, min_ratio %g x the live model's %g",
						   rule->metric, c, rule->min_ratio * l, rule->min_ratio, l);
	return false;
}
