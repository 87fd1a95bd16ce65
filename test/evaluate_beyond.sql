-- recsys.evaluate's propensity, beyond_accuracy and cold_items options and
-- recsys.evaluate_users: inverse-propensity-scored metrics against the same
-- formulas written in SQL, beyond-accuracy measures against values worked out
-- by hand on a tiny model, per-user rows that average to evaluate's numbers,
-- and every error path of the new options.
BEGIN;
SELECT plan(48);

-- planted explicit ratings, 80/20 split, plus a relevant test row of an item
-- the model never saw (its propensity is clipped)
CREATE TEMP TABLE ratings AS
	SELECT * FROM recsys.synthetic_ratings(300, 150, 9000, seed => 11);
CREATE TEMP TABLE train_r AS
	SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) <> 0;
CREATE TEMP TABLE test_r AS
	SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) = 0
	UNION ALL VALUES (1::bigint, 999999::bigint, 5.0::real);
CREATE TEMP TABLE mdl AS
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 6}') AS m FROM train_r;
INSERT INTO recsys.models (name, model) SELECT 'evx', m FROM mdl;
-- training popularity: distinct training users per item
CREATE TEMP TABLE counts AS
	SELECT item_id, count(DISTINCT user_id)::float8 AS n FROM train_r GROUP BY item_id;

-- ------------------------------------------------------------------ IPS
-- the IPS metrics of every scored user, in SQL: p_i = (max(n_i, 1) / n_max)^gamma,
-- w_i = 1 / p_i, normalised by its mean over the scored users' relevant pairs
CREATE FUNCTION pg_temp.ips_hand(m recsys.model, k int, gamma float8)
RETURNS TABLE(user_id bigint, ips_precision float8, ips_recall float8, ips_ndcg float8)
LANGUAGE sql AS $$
	WITH rel AS (SELECT t.user_id, array_agg(DISTINCT t.item_id) AS rel
				 FROM test_r t WHERE t.rating >= 4 GROUP BY t.user_id),
	scored AS (SELECT rel.user_id, rel.rel,
					  (SELECT array_agg(r.item_id ORDER BY r.score DESC, r.item_id)
					   FROM recsys.recommend(m, rel.user_id, k) r) AS rec
			   FROM rel WHERE recsys.user_vector(m, rel.user_id) IS NOT NULL),
	w AS (SELECT i.item_id,
				 power((SELECT max(n) FROM counts) / greatest(coalesce(c.n, 0), 1), gamma) AS w
		  FROM (SELECT DISTINCT item_id FROM test_r UNION SELECT item_id FROM counts) i
		  LEFT JOIN counts c USING (item_id)),
	wbar AS (SELECT avg(w.w) AS wbar FROM scored, unnest(scored.rel) r(item_id) JOIN w USING (item_id)),
	hits AS (SELECT s.user_id, h.pos, w.w / (SELECT wbar FROM wbar) AS wn
			 FROM scored s, unnest(s.rec) WITH ORDINALITY h(item_id, pos) JOIN w USING (item_id)
			 WHERE h.item_id = ANY (s.rel))
	SELECT s.user_id,
		   coalesce(sum(h.wn), 0) / k,
		   coalesce(sum(h.wn), 0) / cardinality(s.rel),
		   coalesce(sum(h.wn / (ln(h.pos + 1) / ln(2))), 0)
			 / (SELECT sum(1 / (ln(p + 1) / ln(2))) FROM generate_series(1, least(k, cardinality(s.rel))) p)
	FROM scored s LEFT JOIN hits h USING (user_id)
	GROUP BY s.user_id, s.rel
$$;

CREATE TEMP TABLE ips AS
	SELECT g.gamma,
		   recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 10,
						   jsonb_build_object('propensity', 'popularity', 'gamma', g.gamma)) AS e
	FROM mdl, (VALUES (0.5::float8), (1.0)) g(gamma);

SELECT ok((SELECT bool_and(abs((e ->> (key || '@10'))::float8 - h.v) < 1e-9)
		   FROM ips, mdl, unnest(ARRAY['ips_precision', 'ips_recall', 'ips_ndcg']) key,
				LATERAL (SELECT CASE key WHEN 'ips_precision' THEN avg(x.ips_precision)
										 WHEN 'ips_recall' THEN avg(x.ips_recall)
										 ELSE avg(x.ips_ndcg) END AS v
						 FROM pg_temp.ips_hand(m, 10, ips.gamma) x) h),
		  'ips_precision, ips_recall and ips_ndcg @10 equal the SQL computation at gamma 0.5 and 1');
SELECT is((SELECT (e ->> 'gamma')::float8 FROM ips WHERE gamma = 0.5), 0.5::float8,
		  'the result names the gamma used (default 0.5)');
SELECT is((SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 10,
								  '{"propensity": "popularity"}') ->> 'ips_ndcg@10' FROM mdl),
		  (SELECT e ->> 'ips_ndcg@10' FROM ips WHERE gamma = 0.5),
		  'gamma defaults to 0.5');

-- per user, through evaluate_users
SELECT is((SELECT count(*) FROM mdl, recsys.evaluate_users(m, 'SELECT user_id, item_id, rating FROM test_r', 10,
								'{"propensity": "popularity", "gamma": 1}') u
		   FULL JOIN pg_temp.ips_hand(m, 10, 1) h USING (user_id)
		   WHERE NOT (abs(u.ips_precision - h.ips_precision) < 1e-9
					  AND abs(u.ips_recall - h.ips_recall) < 1e-9
					  AND abs(u.ips_ndcg - h.ips_ndcg) < 1e-9)
			  OR u.ips_ndcg IS NULL OR h.ips_ndcg IS NULL),
		  0::bigint, 'evaluate_users: every user''s IPS metrics equal the SQL computation');

-- weights matter: rarely-seen hits weigh more than popular ones
SELECT ok((SELECT (e ->> 'ips_recall@10')::float8 <> (e ->> 'recall@10')::float8
				  AND (e ->> 'ips_ndcg@10')::float8 <> (e ->> 'ndcg@10')::float8 FROM ips WHERE gamma = 1),
		  'at gamma 1 the IPS metrics differ from the plain ones');
SELECT ok((SELECT abs((e ->> 'ips_precision@10')::float8 - (e ->> 'precision@10')::float8) < 1e-12
				  AND abs((e ->> 'ips_recall@10')::float8 - (e ->> 'recall@10')::float8) < 1e-12
				  AND abs((e ->> 'ips_ndcg@10')::float8 - (e ->> 'ndcg@10')::float8) < 1e-12
		   FROM (SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 10,
										'{"propensity": "popularity", "gamma": 0}') AS e FROM mdl) s),
		  'at gamma 0 every weight is 1: the IPS metrics are precision, recall, ndcg');
SELECT ok((SELECT NOT (e ? 'ips_ndcg@10') AND NOT (e ? 'gamma')
		   FROM (SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 10,
										'{"propensity": "none"}') AS e FROM mdl) s),
		  'propensity "none" (and no option) reports no IPS keys');

-- ------------------------------------------------ evaluate_users = evaluate
CREATE FUNCTION pg_temp.users_agree(m recsys.model, q text, k int, opts jsonb) RETURNS text
LANGUAGE sql AS $$
	WITH e AS (SELECT recsys.evaluate(m, q, k, opts) AS e),
	u AS (SELECT count(*) AS n, avg(u.precision) AS "precision", avg(u.recall) AS recall,
				 avg(u.ndcg) AS ndcg, avg(u.map) AS map, avg(u.hit_rate) AS hit_rate,
				 avg(u.ips_precision) AS ips_precision, avg(u.ips_recall) AS ips_recall,
				 avg(u.ips_ndcg) AS ips_ndcg, avg(u.novelty) AS novelty,
				 avg(u.diversity) AS diversity, avg(u.popularity) AS popularity
		  FROM recsys.evaluate_users(m, q, k, opts) u),
	pairs AS (SELECT key, (e.e ->> (key || '@' || k))::float8 AS ev, (to_jsonb(u) ->> key)::float8 AS uv
			  FROM e, u, unnest(ARRAY['precision', 'recall', 'ndcg', 'map', 'hit_rate', 'ips_precision',
									  'ips_recall', 'ips_ndcg', 'novelty', 'diversity', 'popularity']) key)
	SELECT coalesce((SELECT string_agg(format('%s: evaluate %s, avg %s', key, ev, uv), '; ')
					 FROM pairs WHERE NOT (abs(ev - uv) < 1e-12 OR (ev IS NULL AND uv IS NULL))),
					CASE WHEN (SELECT (e ->> 'users')::bigint FROM e) = (SELECT n FROM u) THEN 'agree'
						 ELSE 'users differ' END)
$$;
SELECT is((SELECT pg_temp.users_agree(m, 'SELECT user_id, item_id, rating FROM test_r', 10, '{}') FROM mdl),
		  'agree', 'avg() of every evaluate_users column equals evaluate, row count equals users');
SELECT is((SELECT pg_temp.users_agree(m, 'SELECT user_id, item_id, rating FROM test_r', 5,
									  '{"propensity": "popularity", "beyond_accuracy": true, "relevance_threshold": 3}') FROM mdl),
		  'agree', 'the same with every option on, k = 5 and another threshold');
SELECT is((SELECT pg_temp.users_agree(m, 'SELECT user_id, item_id FROM test_r', 20, '{"beyond_accuracy": true}') FROM mdl),
		  'agree', 'the same for a two-column query at k = 20');
SELECT is((SELECT count(*) FROM mdl, recsys.evaluate_users(m, 'SELECT user_id, item_id, rating FROM test_r', 10) u
		   WHERE u.ips_ndcg IS NOT NULL OR u.novelty IS NOT NULL OR u.diversity IS NOT NULL OR u.popularity IS NOT NULL),
		  0::bigint, 'optional columns are NULL unless their option is on');
SELECT is((SELECT array_agg(u.n_test ORDER BY u.user_id) FROM mdl,
				  recsys.evaluate_users(m, 'SELECT user_id, item_id, rating FROM test_r', 10) u),
		  (SELECT array_agg(n ORDER BY user_id) FROM
			 (SELECT user_id, count(DISTINCT item_id) AS n FROM test_r WHERE rating >= 4
			  AND user_id IN (SELECT user_id FROM train_r) GROUP BY user_id) s),
		  'n_test: each scored user''s distinct relevant test items, users ascending');
SELECT is((SELECT array_agg(u.user_id ORDER BY u.user_id) FROM
				  recsys.evaluate_users('evx', 'SELECT user_id, item_id, rating FROM test_r', 10) u),
		  (SELECT array_agg(u.user_id ORDER BY u.user_id) FROM mdl,
				  recsys.evaluate_users(m, 'SELECT user_id, item_id, rating FROM test_r', 10) u),
		  'evaluate_users by name scores the same users');
-- a business column: a GROUP BY over the per-user rows
SELECT is((SELECT sum(s.n * s.r) / sum(s.n) FROM
			 (SELECT count(*) AS n, avg(u.recall) AS r
			  FROM recsys.evaluate_users('evx', 'SELECT user_id, item_id, rating FROM test_r', 10) u
			  GROUP BY u.user_id % 3) s)::numeric(20, 12),
		  ((SELECT recsys.evaluate('evx', 'SELECT user_id, item_id, rating FROM test_r', 10)) ->> 'recall@10')::numeric(20, 12),
		  'segments of users GROUP BY: their weighted mean is evaluate''s recall');

-- ------------------------------------------------ beyond accuracy, by hand
-- 4 users, 5 items; training: u1 {1,2}, u2 {1,2,3}, u3 {1,4}, u4 {1,5}; counts
-- n = 4, 2, 1, 1, 1; at k = 10 each list is every unseen item:
-- u1 {3,4,5}, u2 {4,5}, u3 {2,3,5}, u4 {2,3,4}
CREATE TEMP TABLE tiny_train (user_id bigint, item_id bigint, v real);
INSERT INTO tiny_train VALUES (1, 1, 1), (1, 2, 1), (2, 1, 1), (2, 2, 1), (2, 3, 1),
	(3, 1, 1), (3, 4, 1), (4, 1, 1), (4, 5, 1);
CREATE TEMP TABLE tiny_test (user_id bigint, item_id bigint);
INSERT INTO tiny_test VALUES (1, 3), (2, 4), (3, 2), (4, 2);
CREATE TEMP TABLE tiny AS
	SELECT recsys.train_ials(user_id, item_id, v, '{"factors": 2, "iterations": 3}') AS m FROM tiny_train;
CREATE TEMP TABLE tiny_e AS
	SELECT recsys.evaluate(m, 'SELECT * FROM tiny_test', 10, '{"beyond_accuracy": true}') AS e FROM tiny;

SELECT is((SELECT array_agg(n_recommended ORDER BY user_id) FROM tiny,
				  recsys.evaluate_users(m, 'SELECT * FROM tiny_test', 10, '{"beyond_accuracy": true}')),
		  ARRAY[3, 2, 3, 3], 'the tiny lists are every unseen item');
-- novelty: -log2(n / 4) is 2 for n = 1, 1 for n = 2: users 2, 2, 5/3, 5/3
SELECT ok((SELECT abs((e ->> 'novelty@10')::float8 - 11.0 / 6) < 1e-12 FROM tiny_e),
		  'novelty@10 = mean of 2, 2, 5/3, 5/3 = 11/6');
SELECT is((SELECT array_agg(round(novelty::numeric, 12) ORDER BY user_id) FROM tiny,
				  recsys.evaluate_users(m, 'SELECT * FROM tiny_test', 10, '{"beyond_accuracy": true}')),
		  ARRAY[2, 2, round(5 / 3.0, 12), round(5 / 3.0, 12)]::numeric[], 'per-user novelty 2, 2, 5/3, 5/3');
SELECT ok((SELECT abs((e ->> 'popularity@10')::float8 - 7.0 / 6) < 1e-12 FROM tiny_e),
		  'popularity@10 = mean of 1, 1, 4/3, 4/3 = 7/6');
-- exposure 0, 2, 3, 3, 3: sum over ranks (2i - 6) x = 14, / (5 * 11)
SELECT ok((SELECT abs((e ->> 'gini@10')::float8 - 14.0 / 55) < 1e-12 FROM tiny_e),
		  'gini@10 of exposure (0, 2, 3, 3, 3) = 14/55');
SELECT ok((SELECT abs((e ->> 'coverage')::float8 - 0.8) < 1e-12 FROM tiny_e), 'coverage 4/5');
-- intra-list diversity: mean over each list's pairs of 1 - cosine of the factors
SELECT ok((SELECT abs((e ->> 'diversity@10')::float8 - (
			  SELECT avg(d) FROM (
				SELECT l.user_id, avg(1 - recsys.cosine_similarity(a.factors, b.factors)) AS d
				FROM (VALUES (1, ARRAY[3, 4, 5]), (2, ARRAY[4, 5]), (3, ARRAY[2, 3, 5]), (4, ARRAY[2, 3, 4])) l(user_id, items),
					 unnest(l.items) x(i), unnest(l.items) y(j),
					 recsys.item_factors(tiny.m) a, recsys.item_factors(tiny.m) b
				WHERE x.i < y.j AND a.id = x.i AND b.id = y.j
				GROUP BY l.user_id) s)) < 1e-6 FROM tiny_e, tiny),
		  'diversity@10 = mean over lists of mean pairwise (1 - cosine of item factors)');
SELECT ok((SELECT (e ->> 'diversity@10')::float8 BETWEEN 0 AND 2 FROM tiny_e), 'diversity lies in [0, 2]');

-- item-item models: the stored similarity; a list whose items share no stored
-- neighbour has diversity 1
CREATE TEMP TABLE knn AS
	SELECT recsys.train_knn(user_id, item_id, rating, '{"kind": "item", "neighbours": 20}') AS m FROM train_r;
SELECT ok((SELECT (e ->> 'diversity@10')::float8 BETWEEN 0 AND 2 AND (e ->> 'novelty@10')::float8 > 0
		   FROM (SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 10,
										'{"beyond_accuracy": true}') AS e FROM knn) s),
		  'item kNN: diversity and novelty are reported');
SELECT is((SELECT pg_temp.users_agree(m, 'SELECT user_id, item_id, rating FROM test_r', 10,
									  '{"beyond_accuracy": true, "propensity": "popularity"}') FROM knn),
		  'agree', 'item kNN: evaluate_users averages to evaluate');

-- on planted implicit data a one-factor model collapses onto the popular items:
-- IPS discounts its hits more than those of an eight-factor model, and its
-- lists are less novel, less diverse and more concentrated
CREATE TEMP TABLE plays AS
	SELECT * FROM recsys.synthetic_ratings(2000, 1000, 60000, implicit => true, seed => 5);
CREATE TEMP TABLE pe AS
	SELECT f, recsys.evaluate(m, 'SELECT user_id, item_id FROM plays WHERE recsys.fold(user_id, item_id, 5) = 0', 10,
							  '{"propensity": "popularity", "beyond_accuracy": true}') AS e
	FROM (SELECT 1 AS f, recsys.train_ials(user_id, item_id, rating, '{"factors": 1}') AS m
		  FROM plays WHERE recsys.fold(user_id, item_id, 5) <> 0
		  UNION ALL
		  SELECT 8, recsys.train_ials(user_id, item_id, rating, '{"factors": 8}')
		  FROM plays WHERE recsys.fold(user_id, item_id, 5) <> 0) s;
SELECT ok((SELECT (e ->> 'ips_recall@10')::float8 / (e ->> 'recall@10')::float8 FROM pe WHERE f = 1)
		  < (SELECT (e ->> 'ips_recall@10')::float8 / (e ->> 'recall@10')::float8 FROM pe WHERE f = 8),
		  'IPS discounts the popularity-collapsed model''s recall more');
SELECT ok((SELECT (a.e ->> 'novelty@10')::float8 < (b.e ->> 'novelty@10')::float8
				  AND (a.e ->> 'popularity@10')::float8 > (b.e ->> 'popularity@10')::float8
				  AND (a.e ->> 'gini@10')::float8 > (b.e ->> 'gini@10')::float8
				  AND (a.e ->> 'diversity@10')::float8 < (b.e ->> 'diversity@10')::float8
				  AND (a.e ->> 'coverage')::float8 < (b.e ->> 'coverage')::float8
		   FROM pe a, pe b WHERE a.f = 1 AND b.f = 8),
		  'its lists are less novel, more popular, less diverse, more concentrated (Gini), cover less');

-- ------------------------------------------------------------ cold items
-- items 1..15 never reach training: the model has never seen them
CREATE TEMP TABLE warm AS
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 4}') AS m
	FROM train_r WHERE item_id > 15;
CREATE TEMP TABLE cold_e AS
	SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 10, '{"cold_items": true}') AS e FROM warm;
SELECT is((SELECT (e ->> 'users')::bigint FROM cold_e),
		  (SELECT count(DISTINCT user_id) FROM test_r
		   WHERE item_id NOT IN (SELECT item_id FROM train_r WHERE item_id > 15) AND rating >= 4
			 AND user_id IN (SELECT user_id FROM train_r WHERE item_id > 15)),
		  'cold_items: users are the known users with a relevant test item the model never saw');
SELECT is((SELECT array_agg(u.n_test ORDER BY u.user_id) FROM warm,
				  recsys.evaluate_users(m, 'SELECT user_id, item_id, rating FROM test_r', 10, '{"cold_items": true}') u),
		  (SELECT array_agg(n ORDER BY user_id) FROM
			 (SELECT user_id, count(DISTINCT item_id) AS n FROM test_r
			  WHERE item_id NOT IN (SELECT item_id FROM train_r WHERE item_id > 15) AND rating >= 4
				AND user_id IN (SELECT user_id FROM train_r WHERE item_id > 15)
			  GROUP BY user_id) s),
		  'cold_items: n_test counts only the absent items');
SELECT is((SELECT (e ->> 'recall@10')::float8 FROM cold_e), 0::float8,
		  'a collaborative model never recommends an item it has not seen: recall 0');
SELECT ok((SELECT abs((e ->> 'rmse')::float8 - (SELECT recsys.rmse(recsys.predict(m, user_id, item_id), rating)
												 FROM test_r WHERE item_id <= 15 OR item_id = 999999)) < 1e-9
		   FROM cold_e, warm),
		  'cold_items: rmse is over the rows of absent items only');
SELECT is((SELECT (e ->> 'test_rows')::bigint FROM cold_e), (SELECT count(*) FROM test_r),
		  'test_rows still counts every row');
SELECT is((SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r WHERE item_id BETWEEN 16 AND 150',
								  10, '{"cold_items": true}') ->> 'users' FROM warm),
		  '0', 'no absent item in the test: nobody is scored');
SELECT is((SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r WHERE item_id BETWEEN 16 AND 150',
								  10, '{"cold_items": true}') ->> 'ndcg@10' FROM warm),
		  NULL, 'and the ranking metrics are null');

-- ---------------------------------------------------------------- errors
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"propensity": "pop"}') FROM mdl$$,
				 '22023', 'option "propensity" must be "popularity" or "none", got "pop"', 'bad propensity: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"propensity": null}') FROM mdl$$,
				 '22023', 'option "propensity" must be "popularity" or "none", got null', 'JSON null propensity: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"propensity": "popularity", "gamma": 10.5}') FROM mdl$$,
				 '22023', 'option "gamma" must be between 0 and 10, got 10.5', 'gamma too large: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"propensity": "popularity", "gamma": -0.1}') FROM mdl$$,
				 '22023', 'option "gamma" must be between 0 and 10, got -0.1', 'negative gamma: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"propensity": "popularity", "gamma": "1"}') FROM mdl$$,
				 '22023', 'option "gamma" must be a number', 'gamma a string: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"gamma": 1}') FROM mdl$$,
				 '22023', 'option "gamma" needs "propensity": "popularity"', 'gamma alone: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"beyond_accuracy": "yes"}') FROM mdl$$,
				 '22023', 'option "beyond_accuracy" must be true or false, got "yes"', 'beyond_accuracy not boolean: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"cold_items": 1}') FROM mdl$$,
				 '22023', 'option "cold_items" must be true or false, got 1', 'cold_items not boolean: 22023');
SELECT throws_ok($$SELECT * FROM recsys.evaluate_users('evx', 'SELECT 1, 2', 0)$$,
				 '22023', 'k must be between 1 and 100000, got 0', 'evaluate_users k = 0: 22023');
SELECT throws_ok($$SELECT * FROM recsys.evaluate_users('evx', 'SELECT 1, 2', 10, '{"bogus": 1}')$$,
				 '22023', 'unknown option "bogus" for evaluate', 'evaluate_users unknown option: 22023');
SELECT throws_ok($$SELECT * FROM recsys.evaluate_users('no such model', 'SELECT 1, 2', 10)$$,
				 '42704', NULL, 'evaluate_users of an unknown name: 42704');
SELECT throws_ok($$SELECT * FROM recsys.evaluate_users('evx', 'DELETE FROM test_r RETURNING user_id, item_id', 10)$$,
				 '22023', NULL, 'evaluate_users reads only a SELECT');
SELECT is((SELECT count(*) FROM recsys.evaluate_users('evx', NULL, 10)), 0::bigint,
		  'evaluate_users with a NULL argument returns no rows');
SELECT throws_ok($$SELECT recsys.train('evx2', 'als', 'SELECT user_id, item_id, rating FROM train_r',
					'{"eval_query": "SELECT 1, 2", "eval_options": {"propensity": 1}}')$$,
				 '22023', NULL, 'recsys.train checks eval_options with the new keys too');

-- another role cannot see the registry row, so cannot evaluate it by name
CREATE ROLE recsys_evx_bob;
SET ROLE recsys_evx_bob;
SELECT throws_ok($$SELECT * FROM recsys.evaluate_users('evx', 'SELECT 1, 2', 10)$$,
				 '42704', NULL, 'another role cannot evaluate_users a model it cannot see');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
