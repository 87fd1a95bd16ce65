/*
 * Evaluation metrics: rating-error aggregates and per-user ranking metrics at k.
 */

-- rmse and mae keep float8[3] = {pairs, sum of errors, compensation}; strict
-- transition functions skip rows where predicted or actual is NULL.
CREATE FUNCTION recsys.rmse_accum(float8[], float8, float8)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'rmse_accum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.rmse_accum(float8[], float8, float8) IS
'transition function of recsys.rmse: adds (predicted - actual)^2';

CREATE FUNCTION recsys.mae_accum(float8[], float8, float8)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'mae_accum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.mae_accum(float8[], float8, float8) IS
'transition function of recsys.mae: adds |predicted - actual|';

CREATE FUNCTION recsys.error_combine(float8[], float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'error_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.error_combine(float8[], float8[]) IS
'combine function of recsys.rmse and recsys.mae (parallel aggregation)';

CREATE FUNCTION recsys.rmse_final(float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'rmse_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.rmse_final(float8[]) IS
'final function of recsys.rmse: sqrt(sum / n), NULL for no pairs';

CREATE FUNCTION recsys.mae_final(float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'mae_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.mae_final(float8[]) IS
'final function of recsys.mae: sum / n, NULL for no pairs';

CREATE AGGREGATE recsys.rmse(predicted float8, actual float8) (
	SFUNC = recsys.rmse_accum,
	STYPE = float8[],
	INITCOND = '{0,0,0}',
	COMBINEFUNC = recsys.error_combine,
	FINALFUNC = recsys.rmse_final,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE recsys.rmse(float8, float8) IS
'root mean squared error sqrt(avg((predicted - actual)^2)) over the rows where both are not NULL; NULL for none';

CREATE AGGREGATE recsys.mae(predicted float8, actual float8) (
	SFUNC = recsys.mae_accum,
	STYPE = float8[],
	INITCOND = '{0,0,0}',
	COMBINEFUNC = recsys.error_combine,
	FINALFUNC = recsys.mae_final,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE recsys.mae(float8, float8) IS
'mean absolute error avg(|predicted - actual|) over the rows where both are not NULL; NULL for none';

-- Ranking metrics: the first k distinct non-NULL elements of recommended against the
-- distinct non-NULL elements of relevant; NULL when nothing is relevant.
CREATE FUNCTION recsys.precision_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'precision_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.precision_at_k(bigint[], bigint[], int) IS
'relevant items among the first k distinct recommendations, divided by k; NULL if relevant is empty';

CREATE FUNCTION recsys.recall_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'recall_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.recall_at_k(bigint[], bigint[], int) IS
'relevant items among the first k distinct recommendations, divided by the number of relevant items; NULL if relevant is empty';

CREATE FUNCTION recsys.ndcg_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'ndcg_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.ndcg_at_k(bigint[], bigint[], int) IS
'normalised discounted cumulative gain at k: binary relevance, gain 1/log2(position + 1), ideal over min(k, |relevant|) hits; NULL if relevant is empty';

CREATE FUNCTION recsys.average_precision_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'average_precision_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.average_precision_at_k(bigint[], bigint[], int) IS
'sum of the precision at each relevant position of the top k, divided by min(k, |relevant|); avg() over users is MAP@k; NULL if relevant is empty';

CREATE FUNCTION recsys.hit_rate_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'hit_rate_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.hit_rate_at_k(bigint[], bigint[], int) IS
'1 if any of the first k distinct recommendations is relevant, else 0; NULL if relevant is empty';
