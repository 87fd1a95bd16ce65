-- recsys.evaluate: rating and ranking metrics of a model on held-out interactions.

CREATE FUNCTION recsys.evaluate(m recsys.model, test_query text, k integer DEFAULT 10,
								options jsonb DEFAULT '{}')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'evaluate'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.evaluate(recsys.model, text, integer, jsonb) IS
	'runs test_query (user, item [, rating or weight]) and returns jsonb metrics: rmse and mae (explicit models), precision, recall, ndcg, map and hit_rate at k of each known test user''s top k (training items excluded), coverage, users, test_rows, unknown_users';

CREATE FUNCTION recsys.evaluate(name text, test_query text, k integer DEFAULT 10,
								options jsonb DEFAULT '{}')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'evaluate_by_name'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.evaluate(text, text, integer, jsonb) IS
	'evaluate the named model in recsys.models';
