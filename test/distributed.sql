-- The pieces of distributed ALS on one node: recsys.factor_model assembles a
-- model (its initial factors are train_als's), solve_users and solve_items
-- grouped by id reproduce a train_als (and a train_ials) sweep, and every argument error has its
-- SQLSTATE.  test/cluster/70_shards.sh runs the same over three shards.
BEGIN;
SELECT plan(38);

CREATE TABLE dist_ratings AS
SELECT user_id, item_id, rating FROM recsys.synthetic_ratings(120, 40, 1500, rank => 3, seed => 9);
CREATE TABLE dist_ids AS
SELECT (SELECT array_agg(DISTINCT user_id ORDER BY user_id) FROM dist_ratings) AS users,
	   (SELECT array_agg(DISTINCT item_id ORDER BY item_id) FROM dist_ratings) AS items,
	   (SELECT avg(rating::float8)::real FROM dist_ratings) AS mu;
CREATE TABLE dist_models AS
SELECT recsys.factor_model('{"factors": 3, "seed": 4}', users, items, global_mean => mu) AS init,
	   (SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 3, "seed": 4, "iterations": 0}') FROM dist_ratings) AS zero,
	   (SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 3, "seed": 4, "iterations": 1}') FROM dist_ratings) AS one
FROM dist_ids;

-- factor_model: the initial factors are train_als's (iterations 0 returns them)
SELECT is((SELECT count(*) FROM dist_models,
		   recsys.item_factors(init) a JOIN recsys.item_factors(zero) b USING (id)
		   WHERE a.factors::real[] = b.factors::real[]), 40::bigint,
		  'factor_model with NULL item factors starts from train_als''s initial item factors');
SELECT is((SELECT count(*) FROM dist_models,
		   recsys.user_factors(init) a JOIN recsys.user_factors(zero) b USING (id)
		   WHERE a.factors::real[] = b.factors::real[]), 120::bigint,
		  '... and user factors');
SELECT is(recsys.model_info(init) ->> 'algorithm', 'als', 'factor_model makes an als model')
FROM dist_models;
SELECT is((recsys.model_info(init) -> 'options' ->> 'keep_interactions')::boolean, false,
		  'it keeps no interactions')
FROM dist_models;

-- one user half-sweep by solve_users equals train_als's first one
CREATE TABLE dist_users AS
SELECT user_id, recsys.solve_users(user_id, item_id, rating, (SELECT init FROM dist_models), '{"factors": 3, "seed": 4}') AS r
FROM dist_ratings GROUP BY user_id;
SELECT cmp_ok((SELECT max(abs(a.x - b.x)) FROM dist_models,
			   LATERAL (SELECT u.user_id AS id, x, j FROM dist_users u, unnest(((u.r).factors)::real[]) WITH ORDINALITY v(x, j)) a
			   JOIN LATERAL (SELECT f.id, x, j FROM recsys.user_factors(one) f, unnest(f.factors::real[]) WITH ORDINALITY v(x, j)) b
			   USING (id, j)), '<', 1e-5::real,
			  'solve_users grouped by user_id gives train_als''s user factors after one sweep');
SELECT cmp_ok((SELECT max(abs((u.r).bias - f.bias)) FROM dist_users u, dist_models, recsys.user_factors(one) f
			   WHERE f.id = u.user_id), '<', 1e-5::real, '... and user biases');
SELECT is((SELECT sum((r).n) FROM dist_users), 1500::bigint, 'n counts each user''s ratings');

-- then the item half against those users: the loss adds up to train_als's
CREATE TABLE dist_half AS
SELECT recsys.factor_model('{"factors": 3, "seed": 4}', users, items,
		   (SELECT array_agg((r).factors ORDER BY user_id) FROM dist_users), NULL,
		   (SELECT array_agg((r).bias ORDER BY user_id) FROM dist_users), NULL, NULL, mu) AS m
FROM dist_ids;
CREATE TABLE dist_items AS
SELECT item_id, recsys.solve_items(item_id, user_id, rating, (SELECT m FROM dist_half), '{"factors": 3, "seed": 4}') AS r
FROM dist_ratings GROUP BY item_id;
SELECT cmp_ok(abs((SELECT sum((r).loss) FROM dist_users) + (SELECT sum((r).loss) FROM dist_items)
				  - (recsys.model_info(one) ->> 'train_loss')::float8)
			  / (recsys.model_info(one) ->> 'train_loss')::float8, '<', 1e-5::float8,
			  'the users'' and items'' losses add up to train_als''s loss after one sweep')
FROM dist_models;
SELECT cmp_ok((SELECT max(abs((i.r).bias - f.bias)) FROM dist_items i, dist_models, recsys.item_factors(one) f
			   WHERE f.id = i.item_id), '<', 1e-5::real,
			  'solve_items gives train_als''s item biases after one sweep');

-- implicit: the same with an ials model; CG starts from the row's factors in it
CREATE TABLE dist_imodels AS
SELECT recsys.factor_model('{"factors": 3, "seed": 4, "alpha": 5, "confidence_scale": 1}', users, items, algorithm => 'ials') AS init,
	   (SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 3, "seed": 4, "alpha": 5, "confidence_scale": 1, "iterations": 1}') FROM dist_ratings) AS one
FROM dist_ids;
CREATE TABLE dist_iusers AS
SELECT user_id, recsys.solve_users(user_id, item_id, rating, (SELECT init FROM dist_imodels), '{"factors": 3, "seed": 4, "alpha": 5, "confidence_scale": 1}') AS r
FROM dist_ratings GROUP BY user_id;
SELECT cmp_ok((SELECT max(abs(a.x - b.x)) FROM dist_imodels,
			   LATERAL (SELECT u.user_id AS id, x, j FROM dist_iusers u, unnest(((u.r).factors)::real[]) WITH ORDINALITY v(x, j)) a
			   JOIN LATERAL (SELECT f.id, x, j FROM recsys.user_factors(one) f, unnest(f.factors::real[]) WITH ORDINALITY v(x, j)) b
			   USING (id, j)), '<', 1e-5::real,
			  'solve_users on an ials model gives train_ials''s user factors after one sweep');
CREATE TABLE dist_ihalf AS
SELECT recsys.factor_model('{"factors": 3, "seed": 4, "alpha": 5, "confidence_scale": 1}', users, items,
		   (SELECT array_agg((r).factors ORDER BY user_id) FROM dist_iusers), algorithm => 'ials') AS m
FROM dist_ids;
CREATE TABLE dist_iitems AS
SELECT item_id, recsys.solve_items(item_id, user_id, rating, (SELECT m FROM dist_ihalf), '{"factors": 3, "seed": 4, "alpha": 5, "confidence_scale": 1}') AS r
FROM dist_ratings GROUP BY item_id;
SELECT cmp_ok((SELECT max(abs(a.x - b.x)) FROM dist_imodels,
			   LATERAL (SELECT i.item_id AS id, x, j FROM dist_iitems i, unnest(((i.r).factors)::real[]) WITH ORDINALITY v(x, j)) a
			   JOIN LATERAL (SELECT f.id, x, j FROM recsys.item_factors(one) f, unnest(f.factors::real[]) WITH ORDINALITY v(x, j)) b
			   USING (id, j)), '<', 1e-5::real,
			  '... and solve_items its item factors');
SELECT cmp_ok(abs((SELECT sum((r).loss) FROM dist_iusers) + (SELECT sum((r).loss) FROM dist_iitems)
				  + recsys.factor_gram_product(recsys.factor_model('{"factors": 3, "seed": 4, "alpha": 5, "confidence_scale": 1}', users, items,
						(SELECT array_agg((r).factors ORDER BY user_id) FROM dist_iusers),
						(SELECT array_agg((r).factors ORDER BY item_id) FROM dist_iitems), algorithm => 'ials'))
				  - (recsys.model_info(one) ->> 'train_loss')::float8)
			  / (recsys.model_info(one) ->> 'train_loss')::float8, '<', 1e-5::float8,
			  'the rows'' losses plus factor_gram_product add up to train_ials''s loss')
FROM dist_imodels, dist_ids;
SELECT throws_ok($$ SELECT recsys.solve_users(user_id, item_id, -1, (SELECT init FROM dist_imodels), '{}') FROM dist_ratings GROUP BY user_id $$,
				 '22000', NULL, 'a negative implicit weight is refused, as train_ials refuses it');
SELECT throws_ok($$ SELECT recsys.factor_model('{}', '{1}', '{1}', algorithm => 'ease') $$,
				 '22023', NULL, 'factor_model makes als and ials models only');
SELECT throws_ok($$ SELECT recsys.factor_model('{}', '{1}', '{1}', global_mean => 3, algorithm => 'ials') $$,
				 '22023', NULL, 'an ials model has a global mean of 0');

-- the assembled model serves
SELECT is((SELECT count(*) FROM recsys.recommend(recsys.factor_model('{"factors": 3}', users, items), (users)[1], 5)),
		  5::bigint, 'a factor_model value serves recommend')
FROM dist_ids;

-- errors
SELECT throws_ok($$ SELECT recsys.solve_users(user_id, item_id, rating, (SELECT init FROM dist_models), '{}') FROM dist_ratings $$,
				 '22000', NULL, 'solve_users over several users in one group is refused');
SELECT throws_ok($$ SELECT recsys.solve_users(user_id, item_id + 100000, rating, (SELECT init FROM dist_models), '{}') FROM dist_ratings GROUP BY user_id $$,
				 '22000', NULL, 'an item the broadcast model does not hold is refused');
SELECT throws_ok($$ SELECT recsys.solve_users(user_id, item_id, rating, NULL::recsys.model, '{}') FROM dist_ratings GROUP BY user_id $$,
				 '22004', NULL, 'a NULL model is refused');
SELECT throws_ok($$ SELECT recsys.solve_users(user_id, item_id, 'NaN'::real, (SELECT init FROM dist_models), '{}') FROM dist_ratings GROUP BY user_id $$,
				 '22000', NULL, 'a NaN value is refused');
SELECT throws_ok($$ SELECT recsys.solve_users(user_id, item_id, rating, (SELECT init FROM dist_models), '{"factors": 0}') FROM dist_ratings GROUP BY user_id $$,
				 '22023', NULL, 'options are checked as train_als checks them');
SELECT throws_ok($$ SELECT recsys.solve_users(user_id, item_id, rating,
					 (SELECT recsys.train_knn(user_id, item_id, rating) FROM dist_ratings), '{}')
					 FROM dist_ratings GROUP BY user_id $$,
				 '0A000', NULL, 'a model without factors is not supported');
SELECT throws_ok($$ SELECT recsys.factor_model('{}', NULL, '{1}') $$, '22004', NULL, 'NULL user_ids are refused');
SELECT throws_ok($$ SELECT recsys.factor_model('{}', '{}', '{1}') $$, '22023', NULL, 'empty user_ids are refused');
SELECT throws_ok($$ SELECT recsys.factor_model('{}', '{2,1}', '{1}') $$, '22000', NULL, 'unsorted ids are refused');
SELECT throws_ok($$ SELECT recsys.factor_model('{"factors": 2}', '{1}', '{1}', ARRAY['[1,2,3]'::recsys.vec]) $$,
				 '22000', NULL, 'a factor vector of the wrong dimension is refused');
SELECT throws_ok($$ SELECT recsys.factor_model('{"factors": 2}', '{1,2}', '{1}', ARRAY['[1,2]'::recsys.vec]) $$,
				 '22000', NULL, 'a factor array shorter than the ids is refused');
SELECT throws_ok($$ SELECT recsys.factor_model('{"factors": 2}', '{1}', '{1}', NULL, NULL, NULL, ARRAY[1e38]::real[]) $$,
				 '22000', NULL, 'an out-of-range bias is refused');
SELECT throws_ok($$ SELECT recsys.factor_model('{}', '{1}', '{1}', rating_min => 5, rating_max => 1) $$,
				 '22023', NULL, 'rating_min above rating_max is refused');
SELECT throws_ok($$ SELECT recsys.factor_model('{"factors": 2, "index": {"lists": 5}}', '{1,2}', '{1,2,3}') $$,
				 '22023', NULL, 'an index option with more lists than items is refused before any iteration');
SELECT throws_ok($$ SELECT recsys.publish('no such model', ARRAY['nowhere']) $$,
				 '42704', NULL, 'publish of a model the caller cannot see says it does not exist');

-- recommend_items: what recsys.recommend by name returns for each group's user
SELECT ok(recsys.train('dist_serve', 'als',
					   'SELECT user_id, item_id, rating FROM dist_ratings',
					   '{"factors": 3, "seed": 4, "iterations": 3}') IS NOT NULL,
		  'a registry model to serve from');
SELECT is((SELECT count(*) FROM (
			SELECT user_id, recsys.recommend_items(user_id, NULL, '{"model": "dist_serve", "n": 5}') AS r
			FROM dist_ratings GROUP BY user_id) s
		   WHERE r IS DISTINCT FROM (SELECT array_agg(item_id ORDER BY rank)
									 FROM recsys.recommend('dist_serve', s.user_id, 5, true))),
		  0::bigint, 'recommend_items with no seen items gives recommend''s rows, in rank order, for every user');
SELECT is((SELECT count(*) FROM (
			SELECT user_id, array_agg(item_id) AS seen,
				   recsys.recommend_items(user_id, item_id, '{"model": "dist_serve", "n": 5}') AS r
			FROM dist_ratings GROUP BY user_id) s
		   WHERE r IS DISTINCT FROM (SELECT array_agg(item_id ORDER BY rank)
									 FROM recsys.recommend('dist_serve', s.user_id, 5, true, NULL, s.seen))
			  OR r && s.seen),
		  0::bigint, 'with the group''s items as seen items, it leaves exactly those out');
-- a large group (every item 5,000 times over, NULLs among them): all items are seen
SELECT is((SELECT recsys.recommend_items(7, i, '{"model": "dist_serve"}')
		   FROM (SELECT CASE WHEN g % 97 = 0 THEN NULL ELSE (g % 40) + 1 END::bigint AS i
				 FROM generate_series(1, 200000) g) s),
		  '{}'::bigint[], 'a group of 200,000 rows that covers every item leaves nothing to recommend');
SELECT is((SELECT recsys.recommend_items(u, i, '{"model": "dist_serve"}')
		   FROM (SELECT 7::bigint AS u, 1::bigint AS i WHERE false) s),
		  NULL::bigint[], 'no rows: NULL');
SELECT is(recsys.recommend_items(NULL, 1, '{"model": "dist_serve"}'), NULL::bigint[], 'a NULL user: NULL');
SELECT throws_ok($$ SELECT recsys.recommend_items(7, 1, NULL) $$, '22023', NULL,
				 'recommend_items without a model name is refused');

SELECT * FROM finish();
ROLLBACK;
