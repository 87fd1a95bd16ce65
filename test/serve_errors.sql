-- Every bad-input path of the serving functions, with its SQLSTATE.
BEGIN;
SELECT plan(28);

CREATE TEMP TABLE mo AS
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') AS m
	FROM recsys.synthetic_ratings(40, 30, 400, seed => 3);
INSERT INTO recsys.models(name, model) SELECT 'err', m FROM mo;

-- n out of range: 22023; n = 0 is no rows, not an error
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM mo), 1, 0)), 0::bigint,
		  'recommend n = 0 returns no rows');
SELECT throws_ok($$SELECT * FROM recsys.recommend((SELECT m FROM mo), 1, -3)$$, '22023', NULL, 'recommend n < 0');
SELECT throws_ok($$SELECT * FROM recsys.recommend((SELECT m FROM mo), 1, 100001)$$, '22023',
				 'n must be between 0 and 100000, got 100001', 'recommend huge n');
SELECT throws_ok($$SELECT * FROM recsys.recommend('err', 1, 2147483647)$$, '22023', NULL, 'recommend by name huge n');
SELECT is((SELECT count(*) FROM recsys.recommend_by_vector((SELECT m FROM mo), recsys.user_vector((SELECT m FROM mo), 1), 0)),
		  0::bigint, 'recommend_by_vector n = 0 returns no rows');
SELECT is((SELECT count(*) FROM recsys.recommend_all((SELECT m FROM mo), 0)), 0::bigint,
		  'recommend_all n = 0 returns no rows');
SELECT throws_ok($$SELECT * FROM recsys.recommend_all('err', 100001)$$, '22023', NULL, 'recommend_all huge n');
SELECT is((SELECT count(*) FROM recsys.similar_items((SELECT m FROM mo), 1, 0)), 0::bigint,
		  'similar_items n = 0 returns no rows');
SELECT throws_ok($$SELECT * FROM recsys.similar_users('err', 1, -1)$$, '22023', NULL, 'similar_users n < 0');

-- NULL elements: 22004
SELECT throws_ok($$SELECT * FROM recsys.recommend((SELECT m FROM mo), 1, 5, candidates => ARRAY[1, NULL]::bigint[])$$,
				 '22004', 'candidates must not contain NULL elements', 'NULL in candidates');
SELECT throws_ok($$SELECT * FROM recsys.recommend('err', 1, 5, exclude => ARRAY[NULL]::bigint[])$$,
				 '22004', 'exclude must not contain NULL elements', 'NULL in exclude');
SELECT throws_ok($$SELECT * FROM recsys.recommend_by_vector((SELECT m FROM mo), recsys.user_vector((SELECT m FROM mo), 1), 5, ARRAY[NULL]::bigint[])$$,
				 '22004', NULL, 'NULL in candidates of recommend by vector');
SELECT throws_ok($$SELECT * FROM recsys.recommend_all((SELECT m FROM mo), 5, ARRAY[1, NULL]::bigint[])$$,
				 '22004', 'users must not contain NULL elements', 'NULL in users');
SELECT throws_ok($$SELECT recsys.fold_in((SELECT m FROM mo), ARRAY[1, NULL]::bigint[], ARRAY[1, 2]::real[])$$,
				 '22004', NULL, 'NULL in fold_in item_ids');
SELECT throws_ok($$SELECT recsys.fold_in((SELECT m FROM mo), ARRAY[1, 2]::bigint[], ARRAY[1, NULL]::real[])$$,
				 '22004', NULL, 'NULL in fold_in values');

-- vectors of the wrong dimension: 22000
SELECT throws_ok($$SELECT * FROM recsys.recommend_by_vector((SELECT m FROM mo), '[1,2,3]'::recsys.vec, 5)$$,
				 '22000', 'different vector dimensions 3 and 4', 'vector with fewer dimensions than factors');
SELECT throws_ok($$SELECT * FROM recsys.recommend_by_vector('err', '[1,2,3,4,5]'::recsys.vec, 5)$$,
				 '22000', NULL, 'vector with more dimensions than factors, by name');

-- fold_in input
SELECT throws_ok($$SELECT recsys.fold_in((SELECT m FROM mo), ARRAY[1, 2]::bigint[], ARRAY[1]::real[])$$,
				 '22023', 'item_ids and values must have the same length', 'fold_in length mismatch');
SELECT throws_ok($$SELECT recsys.fold_in((SELECT m FROM mo), ARRAY[1]::bigint[], ARRAY['NaN']::real[])$$,
				 '22000', NULL, 'fold_in NaN value');
SELECT throws_ok($$SELECT recsys.fold_in('err', ARRAY[1]::bigint[], ARRAY['-Infinity']::real[])$$,
				 '22000', NULL, 'fold_in infinite value');

-- unknown names: 42704 naming the model
SELECT throws_ok($$SELECT * FROM recsys.recommend_by_vector('nope', '[1,2,3,4]'::recsys.vec)$$, '42704',
				 'model "nope" does not exist', 'recommend by vector, unknown name');
SELECT throws_ok($$SELECT * FROM recsys.recommend_all('nope')$$, '42704', NULL, 'recommend_all, unknown name');
SELECT throws_ok($$SELECT * FROM recsys.similar_items('nope', 1)$$, '42704', NULL, 'similar_items, unknown name');
SELECT throws_ok($$SELECT recsys.fold_in('nope', '{1}', '{1}')$$, '42704', NULL, 'fold_in, unknown name');
SELECT throws_ok($$SELECT recsys.retrain('nope')$$, '42704', 'model "nope" does not exist', 'retrain, unknown name');

-- big, odd-shaped and empty lists are fine
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM mo), 1, 5,
				candidates => ARRAY(SELECT generate_series(-100000, 100000))::bigint[])), 5::bigint,
		  'a candidate list of 200001 ids, mostly unknown');
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM mo), 1, 5, false, '{{1,2},{3,4}}'::bigint[])), 4::bigint,
		  'a two-dimensional candidate array is read as its elements');
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM mo), 1, 5, exclude => '{}')), 5::bigint,
		  'an empty exclude list excludes nothing');

SELECT * FROM finish();
ROLLBACK;
