-- The registry (recsys.models, train, retrain, name overloads) and the model
-- cache: a replaced model is served on the next call, hits do not reload, the
-- budget is honoured.
BEGIN;
SELECT plan(31);

CREATE TEMP TABLE ratings AS
	SELECT * FROM recsys.synthetic_ratings(80, 60, 1500, rank => 4, seed => 11);

SELECT has_table('recsys', 'models', 'the registry table exists');
SELECT ok((SELECT count(*) = 1 FROM pg_extension e
		   WHERE e.extname = 'recsys' AND 'recsys.models'::regclass = ANY (e.extconfig)),
		  'recsys.models is dumped by pg_dump (extension config table)');

-- train by name
SELECT is(recsys.train('movies', 'als', 'SELECT user_id, item_id, rating FROM ratings',
					   '{"factors": 5, "iterations": 4, "seed": 1}') ->> 'algorithm',
		  'als', 'recsys.train returns the model_info');
SELECT is((SELECT source FROM recsys.models WHERE name = 'movies'),
		  'SELECT user_id, item_id, rating FROM ratings', 'the source query is stored');
SELECT is((SELECT options ->> 'factors' FROM recsys.models WHERE name = 'movies'), '5',
		  'the options are stored');
SELECT is(recsys.model_info('movies') ->> 'n_users', '80', 'model_info by name');
SELECT is((SELECT count(*) FROM recsys.item_factors('movies')), 60::bigint, 'item_factors by name');
SELECT is((SELECT count(*) FROM recsys.user_factors('movies')), 80::bigint, 'user_factors by name');
SELECT is(recsys.user_vector('movies', 3)::real[], recsys.user_vector(recsys.model_by_name('movies'), 3)::real[],
		  'user_vector by name');
SELECT is(recsys.item_vector('movies', 3)::real[], recsys.item_vector(recsys.model_by_name('movies'), 3)::real[],
		  'item_vector by name');
SELECT is(recsys.predict('movies', 3, 4), recsys.predict(recsys.model_by_name('movies'), 3, 4),
		  'predict by name');

-- every serving function by name equals it by value
SELECT results_eq($$SELECT * FROM recsys.recommend('movies', 3, 5)$$,
				  $$SELECT * FROM recsys.recommend((SELECT model FROM recsys.models WHERE name = 'movies'), 3, 5)$$,
				  'recommend by name equals by value');
SELECT results_eq($$SELECT * FROM recsys.recommend_by_vector('movies', recsys.user_vector('movies', 3), 5)$$,
				  $$SELECT * FROM recsys.recommend_by_vector(recsys.model_by_name('movies'), recsys.user_vector('movies', 3), 5)$$,
				  'recommend by vector by name equals by value');
SELECT results_eq($$SELECT * FROM recsys.recommend_all('movies', 3, ARRAY[1, 2, 3]::bigint[])$$,
				  $$SELECT * FROM recsys.recommend_all(recsys.model_by_name('movies'), 3, ARRAY[1, 2, 3]::bigint[])$$,
				  'recommend_all by name equals by value');
SELECT results_eq($$SELECT * FROM recsys.similar_items('movies', 4, 5)$$,
				  $$SELECT * FROM recsys.similar_items(recsys.model_by_name('movies'), 4, 5)$$,
				  'similar_items by name equals by value');
SELECT results_eq($$SELECT * FROM recsys.similar_users('movies', 4, 5)$$,
				  $$SELECT * FROM recsys.similar_users(recsys.model_by_name('movies'), 4, 5)$$,
				  'similar_users by name equals by value');
SELECT is(recsys.fold_in('movies', ARRAY[1, 2, 3], ARRAY[5, 3, 1]::real[])::real[],
		  recsys.fold_in(recsys.model_by_name('movies'), ARRAY[1, 2, 3], ARRAY[5, 3, 1]::real[])::real[],
		  'fold_in by name equals by value');

-- the cache: a second call is a hit, not a reload
SELECT is((SELECT hits FROM recsys.model_cache()
		   WHERE uuid = (recsys.model_info('movies') ->> 'uuid')::uuid) > 0, true,
		  'repeated calls reuse the cached model');

-- retrain picks up new data; the same backend serves the new model next call
CREATE TEMP TABLE before AS SELECT * FROM recsys.recommend('movies', 3, 5, false);
INSERT INTO ratings SELECT user_id + 1000, item_id, rating
	FROM recsys.synthetic_ratings(80, 60, 1500, rank => 4, seed => 12);
SELECT is(recsys.retrain('movies') ->> 'n_users', '160', 'retrain re-runs the stored query');
SELECT results_eq($$SELECT * FROM recsys.recommend('movies', 3, 5, false)$$,
				  $$SELECT * FROM recsys.recommend((SELECT model FROM recsys.models WHERE name = 'movies'), 3, 5, false)$$,
				  'after retrain the name serves the new model');
SELECT isnt((SELECT array_agg(score ORDER BY item_id) FROM recsys.recommend('movies', 3, 5, false)),
			(SELECT array_agg(score ORDER BY item_id) FROM before),
			'after retrain the scores are the new model''s');

-- an UPDATE of the row is seen by the next call as well
UPDATE recsys.models SET model = (SELECT recsys.train_ials(user_id, item_id, 1, '{"factors": 3, "iterations": 2}') FROM ratings)
	WHERE name = 'movies';
SELECT is(recsys.model_info('movies') ->> 'algorithm', 'ials', 'UPDATE replaces the model');
SELECT results_eq($$SELECT * FROM recsys.recommend('movies', 3, 5)$$,
				  $$SELECT * FROM recsys.recommend((SELECT model FROM recsys.models WHERE name = 'movies'), 3, 5)$$,
				  'after UPDATE the name serves the new model');

-- the budget: with 0 MB nothing is kept, but calls still work
SET LOCAL recsys.model_cache_mb = 0;
SELECT is((SELECT count(*) FROM recsys.recommend('movies', 3, 5)), 5::bigint,
		  'a model larger than the budget is served');
SELECT is((SELECT count(*) FROM recsys.model_cache() WHERE uuid = (recsys.model_info('movies') ->> 'uuid')::uuid),
		  0::bigint, 'a model larger than the budget is not kept');
SET LOCAL recsys.model_cache_mb = 256;
SELECT is((SELECT count(*) FROM recsys.recommend('movies', 3, 5)), 5::bigint, 'serving after the budget grows');
SELECT is((SELECT sum(bytes) FROM recsys.model_cache()) <= 256 * 1024 * 1024, true,
		  'the cache stays within recsys.model_cache_mb');

-- errors
SELECT throws_ok($$SELECT * FROM recsys.recommend('no such model', 1, 5)$$, '42704',
				 'model "no such model" does not exist', 'unknown name: 42704 naming it');
SELECT throws_ok($$SELECT recsys.model_info('nope')$$, '42704', NULL, 'unknown name in an accessor: 42704');
SELECT throws_ok($$SELECT recsys.train('x', 'svd', 'SELECT 1, 2, 3.0')$$, '22023', NULL,
				 'unknown algorithm: 22023');
INSERT INTO recsys.models(name, model) SELECT 'manual', model FROM recsys.models WHERE name = 'movies';
SELECT throws_ok($$SELECT recsys.retrain('manual')$$, '55000', NULL,
				 'retrain of a model without a stored query: 55000');

SELECT * FROM finish();
ROLLBACK;
