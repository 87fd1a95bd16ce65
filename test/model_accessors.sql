-- The model accessors: model_info, user/item_factors, user/item_vector, predict,
-- checked against each other and against the training data.
BEGIN;
SELECT plan(43);

CREATE TABLE acc_ratings AS
SELECT u::bigint * 3 AS user_id, (i * 10 + 5)::bigint AS item_id,
	   ((u * 7 + i * 3) % 5 + 1)::real AS rating
FROM generate_series(1, 12) u, generate_series(1, 9) i
WHERE (u * i) % 4 <> 1;

CREATE TABLE acc_models (name text PRIMARY KEY, m recsys.model);
INSERT INTO acc_models
SELECT 'als', recsys.train_als(user_id, item_id, rating, '{"factors": 3, "iterations": 4}') FROM acc_ratings
UNION ALL
SELECT 'als2', recsys.train_als(user_id, item_id, rating, '{"factors": 3, "iterations": 4}') FROM acc_ratings
UNION ALL
SELECT 'nobias', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 3, "biases": false}') FROM acc_ratings
UNION ALL
SELECT 'ials', recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3}') FROM acc_ratings
UNION ALL
SELECT 'noseen', recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3, "keep_interactions": false}') FROM acc_ratings;
CREATE FUNCTION pg_temp.m(name text) RETURNS recsys.model
	LANGUAGE sql AS $$ SELECT m FROM acc_models WHERE acc_models.name = $1 $$;
CREATE FUNCTION pg_temp.info(name text) RETURNS jsonb
	LANGUAGE sql AS $$ SELECT recsys.model_info(m) FROM acc_models WHERE acc_models.name = $1 $$;

-- model_info
SELECT set_eq($$ SELECT jsonb_object_keys(pg_temp.info('als')) $$,
			  ARRAY['algorithm', 'options', 'n_users', 'n_items', 'n_interactions', 'factors', 'iterations',
					'train_loss', 'train_seconds', 'peak_bytes', 'bytes', 'uuid', 'global_mean',
					'rating_min', 'rating_max', 'has_interactions', 'has_seen_values', 'format_version'],
			  'model_info has every documented key');
SELECT is(pg_temp.info('als') ->> 'algorithm', 'als', 'algorithm of train_als');
SELECT is(pg_temp.info('ials') ->> 'algorithm', 'ials', 'algorithm of train_ials');
SELECT is((pg_temp.info('als') ->> 'n_users')::bigint, (SELECT count(DISTINCT user_id) FROM acc_ratings), 'n_users');
SELECT is((pg_temp.info('als') ->> 'n_items')::bigint, (SELECT count(DISTINCT item_id) FROM acc_ratings), 'n_items');
SELECT is((pg_temp.info('als') ->> 'n_interactions')::bigint, (SELECT count(*) FROM acc_ratings), 'n_interactions');
SELECT is((pg_temp.info('als') ->> 'factors')::int, 3, 'factors');
SELECT is((pg_temp.info('als') ->> 'iterations')::int, 4, 'iterations run');
SELECT is(pg_temp.info('als') -> 'options',
		  '{"factors": 3, "iterations": 4, "regularization": 0.1, "biases": true, "seed": 42, "keep_interactions": true, "verbose": false}'::jsonb,
		  'options of train_als: given values and defaults');
SELECT is((pg_temp.info('ials') -> 'options') - 'confidence_scale',
		  '{"factors": 4, "iterations": 3, "regularization": 2.25, "alpha": 20, "confidence": "log", "epsilon": 1, "regularization_exponent": 0.5, "cg_steps": 32, "cg_tolerance": 0.0001, "solver": "cg", "seed": 42, "keep_interactions": true, "verbose": false}'::jsonb,
		  'options of train_ials: given values and defaults');
SELECT cmp_ok(abs((pg_temp.info('ials') -> 'options' ->> 'confidence_scale')::float8
				  - (SELECT avg(ln(1 + abs(rating))) FROM acc_ratings)), '<', 1e-6::float8,
			  'options of train_ials: the confidence scale training computed, the mean of ln(1 + w)');
SELECT is((pg_temp.info('als') ->> 'rating_min')::real, (SELECT min(rating) FROM acc_ratings), 'rating_min');
SELECT is((pg_temp.info('als') ->> 'rating_max')::real, (SELECT max(rating) FROM acc_ratings), 'rating_max');
SELECT ok(abs((pg_temp.info('als') ->> 'global_mean')::float8 - (SELECT avg(rating) FROM acc_ratings)) < 1e-5,
		  'global_mean is the mean rating');
SELECT is((pg_temp.info('ials') ->> 'global_mean')::float8, 0::float8, 'implicit models have no global mean');
SELECT is((pg_temp.info('als') ->> 'bytes')::int, (SELECT length(recsys.model_send(pg_temp.m('als'))) + 4), 'bytes');
SELECT ok((pg_temp.info('als') ->> 'peak_bytes')::bigint >= (pg_temp.info('als') ->> 'bytes')::bigint,
		  'peak_bytes counts the model itself');
SELECT ok((pg_temp.info('als') ->> 'train_seconds')::float8 >= 0, 'train_seconds');
SELECT ok((pg_temp.info('als') ->> 'train_loss')::float8 > 0, 'train_loss');
SELECT alike(pg_temp.info('als') ->> 'uuid', '________-____-4___-____-____________', 'uuid is a version-4 uuid');
SELECT isnt(pg_temp.info('als') ->> 'uuid', pg_temp.info('als2') ->> 'uuid', 'every training gets a new uuid');
SELECT is((pg_temp.info('als') ->> 'has_interactions')::boolean, true, 'has_interactions by default');
SELECT is((pg_temp.info('noseen') ->> 'has_interactions')::boolean, false, 'keep_interactions false');
-- (the options differ too, "keep_interactions": false being one byte longer: each
-- options section is its JSON text and a NUL, 8-aligned)
CREATE FUNCTION pg_temp.options_bytes(name text) RETURNS int LANGUAGE sql AS
	$$ SELECT (length((pg_temp.info(name) -> 'options')::text) + 1 + 7) / 8 * 8 $$;
SELECT is((pg_temp.info('ials') ->> 'bytes')::int - (pg_temp.info('noseen') ->> 'bytes')::int,
		  3 * 24 + 8 * (((pg_temp.info('ials') ->> 'n_users')::int + 1)) + 2 * ((4 * (pg_temp.info('ials') ->> 'n_interactions')::int + 7) / 8) * 8
		  + pg_temp.options_bytes('ials') - pg_temp.options_bytes('noseen'),
		  'the seen interactions take three directory entries, (n_users + 1) * 8 and twice n_interactions * 4 bytes (items and values, 8-aligned)');
SELECT is(recsys.model_info(NULL), NULL, 'model_info(NULL) is NULL');

-- factors
SELECT is((SELECT array_agg(id) FROM recsys.user_factors(pg_temp.m('als'))),
		  (SELECT array_agg(DISTINCT user_id ORDER BY user_id) FROM acc_ratings), 'user_factors: every user, ascending');
SELECT is((SELECT array_agg(id) FROM recsys.item_factors(pg_temp.m('als'))),
		  (SELECT array_agg(DISTINCT item_id ORDER BY item_id) FROM acc_ratings), 'item_factors: every item, ascending');
SELECT is((SELECT min(recsys.dims(factors)) || ',' || max(recsys.dims(factors)) FROM recsys.item_factors(pg_temp.m('ials'))),
		  '4,4', 'factor vectors have the model''s dimension');
SELECT is((SELECT count(*) FROM recsys.user_factors(pg_temp.m('als')) WHERE bias IS NULL), 0::bigint, 'explicit models have biases');
SELECT is((SELECT count(*) FROM recsys.item_factors(pg_temp.m('ials')) WHERE bias IS NOT NULL), 0::bigint, 'implicit models: bias is NULL');
SELECT is((SELECT count(*) FROM recsys.item_factors(pg_temp.m('nobias')) WHERE bias IS NOT NULL), 0::bigint, 'biases false: bias is NULL');
SELECT is((SELECT count(*) FROM recsys.user_factors(pg_temp.m('als')) f
		   WHERE recsys.user_vector(pg_temp.m('als'), f.id) OPERATOR(recsys.=) f.factors), 12::bigint, 'user_vector is the user''s row');
SELECT is((SELECT count(*) FROM recsys.item_factors(pg_temp.m('ials')) f
		   WHERE recsys.item_vector(pg_temp.m('ials'), f.id) OPERATOR(recsys.=) f.factors), 9::bigint, 'item_vector is the item''s row');
SELECT ok(recsys.user_vector(pg_temp.m('als'), 4) IS NULL, 'user_vector of an unknown user is NULL');
SELECT ok(recsys.item_vector(pg_temp.m('als'), -1) IS NULL, 'item_vector of an unknown item is NULL');

-- predict against the formula, on every pair plus unknown users and items
CREATE FUNCTION pg_temp.clip(x float8, m recsys.model) RETURNS float8 LANGUAGE sql AS $$
	SELECT least(greatest(x, (recsys.model_info(m) ->> 'rating_min')::float8), (recsys.model_info(m) ->> 'rating_max')::float8) $$;
CREATE TABLE acc_pairs AS
SELECT u.id AS user_id, i.id AS item_id FROM
	(SELECT id FROM recsys.user_factors(pg_temp.m('als')) UNION ALL SELECT 1000) u,
	(SELECT id FROM recsys.item_factors(pg_temp.m('als')) UNION ALL SELECT 2000) i;
CREATE FUNCTION pg_temp.expected(m recsys.model, user_id bigint, item_id bigint) RETURNS float8 LANGUAGE sql AS $$
	SELECT CASE WHEN recsys.model_info(m) ->> 'algorithm' = 'ials' THEN
			coalesce(recsys.dot(uf.factors, itf.factors), 0)
		ELSE pg_temp.clip((recsys.model_info(m) ->> 'global_mean')::float8 + coalesce(uf.bias, 0) + coalesce(itf.bias, 0)
						  + coalesce(recsys.dot(uf.factors, itf.factors), 0), m) END
	FROM (SELECT 1) one
	LEFT JOIN recsys.user_factors(m) uf ON uf.id = user_id
	LEFT JOIN recsys.item_factors(m) itf ON itf.id = item_id $$;
SELECT is_empty($$ SELECT * FROM acc_pairs
				   WHERE abs(recsys.predict(pg_temp.m('als'), user_id, item_id) - pg_temp.expected(pg_temp.m('als'), user_id, item_id)) > 1e-5 $$,
				'explicit predict is mu + b_u + b_i + x.y clipped, known terms only for unknown ids');
SELECT is_empty($$ SELECT * FROM acc_pairs
				   WHERE abs(recsys.predict(pg_temp.m('nobias'), user_id, item_id) - pg_temp.expected(pg_temp.m('nobias'), user_id, item_id)) > 1e-5 $$,
				'explicit predict without biases is mu + x.y clipped');
SELECT is_empty($$ SELECT * FROM acc_pairs
				   WHERE abs(recsys.predict(pg_temp.m('ials'), user_id, item_id) - pg_temp.expected(pg_temp.m('ials'), user_id, item_id)) > 1e-5 $$,
				'implicit predict is x.y, 0 for unknown ids');
SELECT is(recsys.predict(pg_temp.m('ials'), 1000, 15), 0::real, 'implicit predict of an unknown user is 0');
SELECT is(recsys.predict(pg_temp.m('als'), 1000, 2000),
		  pg_temp.clip((pg_temp.info('als') ->> 'global_mean')::real, pg_temp.m('als'))::real,
		  'explicit predict of unknown user and item is the global mean');
SELECT is_empty($$ SELECT * FROM acc_pairs
				   WHERE recsys.predict(pg_temp.m('als'), user_id, item_id) NOT BETWEEN 1 AND 5 $$,
				'explicit predictions stay within the training range');
SELECT ok((SELECT sqrt(avg((recsys.predict(pg_temp.m('als'), user_id, item_id) - rating) ^ 2)) FROM acc_ratings)
		  < (SELECT stddev_pop(rating) FROM acc_ratings),
		  'explicit predictions fit the training data better than the mean');
SELECT is(recsys.predict(NULL, 1, 1), NULL, 'predict is strict');

SELECT * FROM finish();
ROLLBACK;
