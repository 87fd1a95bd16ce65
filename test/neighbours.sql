-- Neighbourhood models (train_knn item and user, train_ease): quality on planted
-- clusters, equality with brute force in SQL, serving through every function,
-- determinism, options and error paths.
BEGIN;
SELECT plan(58);

-- ------------------------------------------------------------ planted clusters
-- 2,000 users in 20 taste clusters, 600 items in the same 20 clusters (30 each):
-- 85% of a user's 15 interactions are items of its own cluster.  The true
-- neighbours of an item are the items of its cluster.
CREATE TEMP TABLE clus AS
	SELECT DISTINCT s.user_id, s.item_id, 1::real AS value
	FROM (SELECT g AS user_id,
				 CASE WHEN abs(hashint4(g * 31 + k)) % 100 < 85
					  THEN (g % 20) * 30 + abs(hashint4(g * 7919 + k)) % 30 + 1
					  ELSE abs(hashint4(g * 104729 + k)) % 600 + 1 END AS item_id
		  FROM generate_series(1, 2000) AS g, generate_series(1, 15) AS k) AS s;
CREATE TEMP TABLE clus_train AS SELECT * FROM clus WHERE recsys.fold(user_id, item_id, 5) <> 0;
CREATE TEMP TABLE clus_test AS SELECT * FROM clus WHERE recsys.fold(user_id, item_id, 5) = 0;
CREATE TEMP TABLE models AS
	SELECT 'item' AS kind, recsys.train_knn(user_id, item_id, value, '{"neighbours": 10, "similarity": "cosine", "shrinkage": 0}') AS m
	FROM clus_train
	UNION ALL
	SELECT 'user', recsys.train_knn(user_id, item_id, value, '{"kind": "user", "neighbours": 50, "similarity": "cosine", "shrinkage": 0}')
	FROM clus_train
	UNION ALL
	SELECT 'ease', recsys.train_ease(user_id, item_id, value, '{"regularization": 50}')
	FROM clus_train;

-- precision of every item's 10 neighbours against its planted cluster
CREATE TEMP TABLE nb_precision AS
	SELECT md.kind, avg(((s.id - 1) / 30 = (i.item_id - 1) / 30)::int) AS precision
	FROM models AS md,
		 (SELECT DISTINCT item_id FROM clus_train) AS i,
		 recsys.similar_items(md.m, i.item_id, 10) AS s
	WHERE md.kind IN ('item', 'ease')
	GROUP BY md.kind;
SELECT diag('neighbour precision@10 against the planted clusters: ' ||
			string_agg(kind || ' ' || round(precision, 3), ', ' ORDER BY kind)) FROM nb_precision;
SELECT ok((SELECT precision > 0.9 FROM nb_precision WHERE kind = 'item'),
		  'item kNN recovers the planted neighbours (precision@10 > 0.9)');
SELECT ok((SELECT precision > 0.9 FROM nb_precision WHERE kind = 'ease'),
		  'EASE''s strongest weights are the planted neighbours (precision@10 > 0.9)');

-- held-out recall@10 against popularity
CREATE TEMP TABLE recall AS
	SELECT md.kind, (recsys.evaluate(md.m, 'SELECT user_id, item_id FROM clus_test', 10)
					 ->> 'recall@10')::float8 AS recall
	FROM models AS md;
INSERT INTO recall
	SELECT 'popularity', avg(recsys.recall_at_k(
		ARRAY(SELECT p.item_id FROM (SELECT item_id, count(*) AS c FROM clus_train GROUP BY 1) AS p
			  WHERE NOT EXISTS (SELECT FROM clus_train AS t
								WHERE t.user_id = tu.user_id AND t.item_id = p.item_id)
			  ORDER BY p.c DESC, p.item_id LIMIT 10),
		tu.items, 10))
	FROM (SELECT user_id, array_agg(item_id) AS items FROM clus_test GROUP BY 1) AS tu;
SELECT diag('held-out recall@10: ' || string_agg(kind || ' ' || round(recall::numeric, 4), ', ' ORDER BY kind))
FROM recall;
SELECT ok((SELECT recall FROM recall WHERE kind = 'item') >
		  2 * (SELECT recall FROM recall WHERE kind = 'popularity'),
		  'item kNN more than doubles popularity''s held-out recall@10');
SELECT ok((SELECT recall FROM recall WHERE kind = 'user') >
		  2 * (SELECT recall FROM recall WHERE kind = 'popularity'),
		  'user kNN more than doubles popularity''s held-out recall@10');
SELECT ok((SELECT recall FROM recall WHERE kind = 'ease') >
		  2 * (SELECT recall FROM recall WHERE kind = 'popularity'),
		  'EASE more than doubles popularity''s held-out recall@10');

-- ------------------------------------------------------------ brute force
-- small explicit ratings: 40 users x 15 items, about half rated, values 1..5
CREATE TEMP TABLE small AS
	SELECT u AS user_id, i AS item_id, (1 + abs(hashint4(u * 97 + i)) % 5)::real AS rating
	FROM generate_series(1, 40) AS u, generate_series(1, 15) AS i
	WHERE abs(hashint4(u * 13 + i * 7)) % 2 = 0;
CREATE TEMP TABLE small_models AS
	SELECT 'cosine' AS sim, recsys.train_knn(user_id, item_id, rating, '{"neighbours": 100, "similarity": "cosine", "shrinkage": 0}') AS m FROM small
	UNION ALL
	SELECT 'pearson', recsys.train_knn(user_id, item_id, rating, '{"neighbours": 100, "similarity": "pearson", "shrinkage": 0}') FROM small
	UNION ALL
	SELECT 'jaccard', recsys.train_knn(user_id, item_id, rating, '{"neighbours": 100, "similarity": "jaccard", "shrinkage": 0}') FROM small
	UNION ALL
	SELECT 'shrunk', recsys.train_knn(user_id, item_id, rating, '{"neighbours": 100, "similarity": "cosine", "shrinkage": 10}') FROM small
	UNION ALL
	SELECT 'user', recsys.train_knn(user_id, item_id, rating, '{"neighbours": 100, "kind": "user", "similarity": "cosine", "shrinkage": 0}') FROM small;

-- the similarities as SQL computes them, per ordered pair of items
CREATE TEMP TABLE sql_sims AS
	WITH norms AS (SELECT item_id, sqrt(sum(rating * rating)) AS n, count(*) AS c FROM small GROUP BY 1),
	pairs AS (
		SELECT a.item_id AS i, b.item_id AS j, count(*) AS n,
			   sum(a.rating * b.rating) AS dot,
			   avg(a.rating) AS ma, avg(b.rating) AS mb,
			   array_agg(a.rating) AS xa, array_agg(b.rating) AS xb
		FROM small AS a JOIN small AS b ON a.user_id = b.user_id AND a.item_id <> b.item_id
		GROUP BY 1, 2)
	SELECT p.i, p.j,
		   p.dot / (na.n * nb.n) AS cosine,
		   p.dot / (na.n * nb.n) * p.n / (p.n + 10.0) AS shrunk,
		   p.n::float8 / (na.c + nb.c - p.n) AS jaccard,
		   (SELECT sum((x - p.ma) * (y - p.mb)) /
				   NULLIF(sqrt(sum((x - p.ma) ^ 2) * sum((y - p.mb) ^ 2)), 0)
			FROM unnest(p.xa, p.xb) AS t(x, y)) AS pearson
	FROM pairs AS p JOIN norms AS na ON na.item_id = p.i JOIN norms AS nb ON nb.item_id = p.j;
CREATE TEMP TABLE stored_sims AS
	SELECT sm.sim, i.item_id AS i, s.id AS j, s.score
	FROM small_models AS sm, (SELECT DISTINCT item_id FROM small) AS i,
		 recsys.similar_items(sm.m, i.item_id, 100) AS s
	WHERE sm.sim <> 'user';

SELECT is((SELECT count(*) FROM stored_sims WHERE sim = 'cosine'),
		  (SELECT count(*) FROM sql_sims WHERE cosine > 0), 'cosine: every co-rated pair is stored');
SELECT ok((SELECT max(abs(s.score - q.cosine)) < 1e-5 FROM stored_sims AS s JOIN sql_sims AS q USING (i, j)
		   WHERE s.sim = 'cosine'), 'cosine similarities equal SQL''s');
SELECT is((SELECT count(*) FROM stored_sims WHERE sim = 'pearson'),
		  (SELECT count(*) FROM sql_sims WHERE pearson > 0),
		  'pearson: exactly the pairs with a positive correlation are stored');
SELECT ok((SELECT max(abs(s.score - q.pearson)) < 1e-4 FROM stored_sims AS s JOIN sql_sims AS q USING (i, j)
		   WHERE s.sim = 'pearson'), 'pearson similarities (over co-rated users) equal SQL''s');
SELECT ok((SELECT max(abs(s.score - q.jaccard)) < 1e-5 FROM stored_sims AS s JOIN sql_sims AS q USING (i, j)
		   WHERE s.sim = 'jaccard'), 'jaccard similarities equal SQL''s');
SELECT ok((SELECT max(abs(s.score - q.shrunk)) < 1e-5 FROM stored_sims AS s JOIN sql_sims AS q USING (i, j)
		   WHERE s.sim = 'shrunk'), 'shrinkage scales by n / (n + shrinkage)');
SELECT ok((SELECT bool_and(s.i <> s.j) FROM stored_sims AS s), 'no item is its own neighbour');

-- user kNN: cosine between users' rating rows
SELECT ok((WITH un AS (SELECT user_id, sqrt(sum(rating * rating)) AS n FROM small GROUP BY 1),
			   q AS (SELECT a.user_id AS u, b.user_id AS v, sum(a.rating * b.rating) / (ua.n * ub.n) AS c
					 FROM small AS a JOIN small AS b ON a.item_id = b.item_id AND a.user_id <> b.user_id
						  JOIN un AS ua ON ua.user_id = a.user_id JOIN un AS ub ON ub.user_id = b.user_id
					 GROUP BY a.user_id, b.user_id, ua.n, ub.n)
		   SELECT max(abs(s.score - q.c)) < 1e-5
		   FROM small_models AS sm, (SELECT DISTINCT user_id FROM small) AS us,
				recsys.similar_users(sm.m, us.user_id, 100) AS s, q
		   WHERE sm.sim = 'user' AND q.u = us.user_id AND q.v = s.id),
		  'user kNN similarities equal SQL''s cosine between users');

-- recommend = the SQL ranking from the stored neighbours, for every user
CREATE TEMP TABLE sql_rank AS
	WITH sc AS (
		SELECT h.user_id, s.j AS item_id, sum(h.rating * s.score) AS score
		FROM small AS h JOIN stored_sims AS s ON s.sim = 'cosine' AND s.i = h.item_id
		WHERE NOT EXISTS (SELECT FROM small AS x WHERE x.user_id = h.user_id AND x.item_id = s.j)
		GROUP BY 1, 2)
	SELECT user_id, (array_agg(item_id ORDER BY score DESC, item_id))[1:3] AS items FROM sc GROUP BY 1;
SELECT is((SELECT count(*) FROM sql_rank AS q, small_models AS sm
		   WHERE sm.sim = 'cosine'
			 AND q.items <> ARRAY(SELECT r.item_id FROM recsys.recommend(sm.m, q.user_id, 3) AS r)),
		  0::bigint, 'item kNN recommend equals the SQL ranking from its stored neighbours (every user)');
SELECT is((SELECT count(*) FROM sql_rank AS q, small_models AS sm
		   WHERE sm.sim = 'cosine'
			 AND q.items[1:2] <> ARRAY(SELECT r.item_id FROM recsys.recommend(sm.m, q.user_id, 2,
											candidates => ARRAY[q.items[1], q.items[2], 999]) AS r)),
		  0::bigint, '... and with candidates');
SELECT is((SELECT count(*) FROM sql_rank AS q, small_models AS sm
		   WHERE sm.sim = 'cosine'
			 AND q.items[2:3] <> ARRAY(SELECT r.item_id FROM recsys.recommend(sm.m, q.user_id, 2,
											exclude => ARRAY[q.items[1]]) AS r)),
		  0::bigint, '... and with exclude');
SELECT ok((SELECT count(*) > 0 FROM small_models AS sm, recsys.recommend(sm.m, 1, 15, exclude_seen => false) AS r
		   WHERE sm.sim = 'cosine' AND r.item_id IN (SELECT item_id FROM small WHERE user_id = 1)),
		  'exclude_seen => false returns seen items too');
SELECT is((SELECT array_agg(r.item_id ORDER BY r.item_id) FROM small_models AS sm,
				  recsys.recommend_all(sm.m, 3) AS r WHERE sm.sim = 'cosine' AND r.user_id = 7),
		  (SELECT array_agg(x ORDER BY x) FROM sql_rank, unnest(items) AS x WHERE user_id = 7),
		  'recommend_all gives a user the same items as recommend');
SELECT is((SELECT array_agg(r.item_id) FROM small_models AS sm,
				  recsys.recommend_by_items(sm.m, ARRAY(SELECT item_id FROM small WHERE user_id = 5 ORDER BY item_id),
											ARRAY(SELECT rating FROM small WHERE user_id = 5 ORDER BY item_id), 3) AS r
		   WHERE sm.sim = 'cosine'),
		  (SELECT items FROM sql_rank WHERE user_id = 5),
		  'recommend_by_items with a user''s history equals recommend for that user');

-- EASE against its normal equations: (G + lambda I) B = G off the diagonal
CREATE TEMP TABLE ease_small AS
	SELECT recsys.train_ease(user_id, item_id, 1, '{"regularization": 10, "neighbours": 0}') AS m FROM small;
SELECT ok((WITH g AS (SELECT a.item_id AS i, b.item_id AS j, count(*)::float8 AS v
					  FROM small AS a JOIN small AS b USING (user_id) GROUP BY 1, 2),
			   gl AS (SELECT i, j, v + CASE WHEN i = j THEN 10 ELSE 0 END AS v FROM g),
			   b AS (SELECT j.item_id AS j, s.id AS k, s.score AS w
					 FROM ease_small AS e, (SELECT DISTINCT item_id FROM small) AS j,
						  recsys.similar_items(e.m, j.item_id, 100) AS s),
			   lhs AS (SELECT gl.i, b.k, sum(gl.v * b.w) AS v FROM gl JOIN b ON b.j = gl.j GROUP BY 1, 2)
		   SELECT max(abs(lhs.v - g.v)) / max(g.v) < 1e-4
		   FROM lhs JOIN g ON g.i = lhs.i AND g.j = lhs.k WHERE lhs.i <> lhs.k),
		  'EASE weights solve (G + lambda I) B = G off the diagonal');
SELECT is((SELECT count(*) FROM ease_small AS e, (SELECT DISTINCT item_id FROM small) AS j,
				  recsys.similar_items(e.m, j.item_id, 100) AS s),
		  15::bigint * 14, 'EASE keeps every weight with neighbours 0');
SELECT is((SELECT max(c) FROM (SELECT count(*) AS c FROM ease_small AS e0,
		   (SELECT recsys.train_ease(user_id, item_id, 1, '{"neighbours": 4}') AS m FROM small) AS e,
		   (SELECT DISTINCT item_id FROM small) AS j, recsys.similar_items(e.m, j.item_id, 100) AS s
		   GROUP BY j.item_id) AS t), 4::bigint, 'neighbours prunes EASE rows to the top k');

-- ------------------------------------------------------------ predict
SELECT ok((SELECT abs(recsys.predict(sm.m, -1, 99999) - (recsys.model_info(sm.m) ->> 'global_mean')::real) < 1e-6
		   FROM small_models AS sm WHERE sm.sim = 'pearson'),
		  'predict of an unknown user and item is the global mean');
SELECT ok((SELECT recsys.rmse(recsys.predict(sm.m, s.user_id, s.item_id), s.rating) <
				  (SELECT recsys.rmse((SELECT avg(rating) FROM small)::real, rating) FROM small)
		   FROM small_models AS sm, small AS s WHERE sm.sim = 'pearson'),
		  'kNN with baselines fits the ratings better than the global mean');
SELECT ok((SELECT bool_and(isfinite) FROM (SELECT recsys.predict(sm.m, u, i)::float8 < 'Infinity' AS isfinite
		   FROM small_models AS sm, generate_series(0, 41) AS u, generate_series(0, 16) AS i) AS t),
		  'predict is finite for every pair, known or not');

-- ------------------------------------------------------------ serving surfaces
SELECT throws_ok($$SELECT * FROM models AS md, recsys.similar_users(md.m, 1, 5) WHERE md.kind = 'item'$$,
				 '0A000', NULL, 'an item kNN model has no user similarities: 0A000');
SELECT throws_ok($$SELECT * FROM models AS md, recsys.similar_items(md.m, 1, 5) WHERE md.kind = 'user'$$,
				 '0A000', NULL, 'a user kNN model has no item similarities: 0A000');
SELECT throws_ok($$SELECT * FROM models AS md, recsys.user_factors(md.m) WHERE md.kind = 'ease'$$,
				 '0A000', NULL, 'user_factors of EASE: 0A000');
SELECT throws_ok($$SELECT recsys.fold_in(md.m, '{1}', '{1}') FROM models AS md WHERE md.kind = 'item'$$,
				 '0A000', NULL, 'fold_in of a kNN model: 0A000');
SELECT is((SELECT count(*) FROM models AS md, recsys.recommend(md.m, -5, 10) AS r WHERE md.kind = 'user'),
		  10::bigint, 'an unknown user gets the popular items');
SELECT is((SELECT count(*) FROM models AS md, recsys.recommend_by_items(md.m, ARRAY[1, 2, 3]::bigint[]) AS r
		   WHERE md.kind = 'user'), 10::bigint, 'a visitor''s history is served by user kNN');
SELECT ok((SELECT bool_and(r.item_id NOT IN (1, 2, 3)) FROM models AS md,
				  recsys.recommend_by_items(md.m, ARRAY[1, 2, 3]::bigint[]) AS r),
		  'recommend_by_items never returns the history');
SELECT ok((SELECT avg(((r.item_id - 1) / 30 = 0)::int) > 0.8 FROM models AS md,
				  recsys.recommend_by_items(md.m, ARRAY[1, 2, 3, 4, 5]::bigint[]) AS r),
		  'a visitor with cluster-0 items gets cluster-0 items from every model kind');

-- the registry trains and serves every kind by name
SELECT is(recsys.train('nb_ease', 'ease', 'SELECT user_id, item_id, 1 FROM clus_train',
					   '{"regularization": 50, "max_items": 100}') ->> 'algorithm',
		  'ease', 'recsys.train trains EASE');
SELECT ok((SELECT bool_and(r.item_id IN (SELECT item_id FROM (SELECT item_id, count(*) AS c FROM clus_train
															   GROUP BY 1 ORDER BY c DESC, item_id LIMIT 100) AS t))
		   FROM recsys.recommend('nb_ease', 7, 20) AS r),
		  'with max_items only the most popular items are recommended');
SELECT is(recsys.train('nb_knn', 'knn', 'SELECT user_id, item_id, 1 FROM clus_train',
					   '{"kind": "user"}') ->> 'kind', 'user', 'recsys.train trains user kNN');
SELECT lives_ok($$SELECT recsys.retrain('nb_knn')$$, '... and retrains it');
SELECT is((SELECT count(*) FROM recsys.recommend('nb_knn', 3, 5)), 5::bigint, '... and serves it by name');

-- ------------------------------------------------------------ determinism
SET LOCAL recsys.threads = 1;
CREATE TEMP TABLE det1 AS SELECT recsys.train_knn(user_id, item_id, value, '{"kind": "user", "similarity": "pearson"}') AS u,
	recsys.train_ease(user_id, item_id, value) AS e FROM clus_train WHERE user_id <= 400;
SET LOCAL recsys.threads = 2;
CREATE TEMP TABLE det2 AS SELECT recsys.train_knn(user_id, item_id, value, '{"kind": "user", "similarity": "pearson"}') AS u,
	recsys.train_ease(user_id, item_id, value) AS e FROM clus_train WHERE user_id <= 400;
RESET recsys.threads;
SELECT is((SELECT md5(string_agg(s.id || ':' || s.score, ',' ORDER BY g, s.score DESC, s.id))
		   FROM det1, generate_series(1, 400) AS g, recsys.similar_users(det1.u, g, 100) AS s),
		  (SELECT md5(string_agg(s.id || ':' || s.score, ',' ORDER BY g, s.score DESC, s.id))
		   FROM det2, generate_series(1, 400) AS g, recsys.similar_users(det2.u, g, 100) AS s),
		  'user kNN is the same on 1 and 2 threads');
SELECT is((SELECT md5(string_agg(s.id || ':' || s.score, ',' ORDER BY g, s.score DESC, s.id))
		   FROM det1, generate_series(1, 600) AS g, recsys.similar_items(det1.e, g, 1000) AS s),
		  (SELECT md5(string_agg(s.id || ':' || s.score, ',' ORDER BY g, s.score DESC, s.id))
		   FROM det2, generate_series(1, 600) AS g, recsys.similar_items(det2.e, g, 1000) AS s),
		  'EASE is the same on 1 and 2 threads');

-- ------------------------------------------------------------ edge cases and errors
SELECT ok((SELECT recsys.train_knn(user_id, item_id, value) IS NULL FROM clus WHERE false),
		  'no rows: NULL, as the other training aggregates');
SELECT is((SELECT count(*) FROM (SELECT recsys.train_knn(1, i, 1) AS m FROM generate_series(1, 3) AS i) AS t,
				  recsys.recommend(t.m, 1, 5)), 0::bigint, 'one user: nothing unseen to recommend');
SELECT is((SELECT count(*) FROM (SELECT recsys.train_knn(u, 1, 1) AS m FROM generate_series(1, 3) AS u) AS t,
				  recsys.similar_items(t.m, 1, 5)), 0::bigint, 'one item: no neighbours');
SELECT is((SELECT count(*) FROM (SELECT recsys.train_knn(user_id, item_id, 3, '{"similarity": "pearson"}') AS m
								 FROM small) AS t,
				  (SELECT DISTINCT item_id FROM small) AS i, recsys.similar_items(t.m, i.item_id, 5)),
		  0::bigint, 'all-equal ratings: Pearson is undefined, no neighbour is stored');
SELECT is((SELECT count(*) FROM (SELECT recsys.train_knn(user_id, item_id, 3, '{"similarity": "pearson"}') AS m
								 FROM small) AS t, recsys.recommend(t.m, 1, 3)),
		  3::bigint, '... and recommend falls back to the popular items');
SELECT throws_ok($$SELECT recsys.train_knn(1, 1, 1, '{"kind": "items"}')$$, '22023', NULL, 'kind must be item or user');
SELECT throws_ok($$SELECT recsys.train_knn(1, 1, 1, '{"similarity": "dice"}')$$, '22023', NULL, 'an unknown similarity: 22023');
SELECT throws_ok($$SELECT recsys.train_knn(1, 1, 1, '{"neighbours": 0}')$$, '22023', NULL, 'neighbours must be at least 1');
SELECT throws_ok($$SELECT recsys.train_knn(1, 1, 1, '{"shrinkage": -1}')$$, '22023', NULL, 'shrinkage must not be negative');
SELECT throws_ok($$SELECT recsys.train_ease(1, 1, 1, '{"regularization": -1}')$$, '22023', NULL, 'EASE regularization must not be negative');
SELECT throws_ok($$SELECT recsys.train_ease(1, 1, 1, '{"factors": 8}')$$, '22023', NULL, 'an option of another algorithm: 22023');
SELECT throws_ok($$SELECT recsys.train_knn(1, 1, 1, '{"alpha": 2}')$$, '22023', NULL, 'alpha must be between 0 and 1');
SELECT throws_ok($$SELECT recsys.train_knn(1, 1, 1, '{"min_support": 0}')$$, '22023', NULL, 'min_support must be at least 1');
SELECT throws_ok($$SELECT recsys.train_knn(1, 1, 1, '{"normalize": "yes"}')$$, '22023', NULL, 'normalize must be a boolean');
SELECT throws_ok($$SELECT recsys.train_ease(1, 1, 1, '{"neighbours": -1}')$$, '22023', NULL, 'EASE neighbours must not be negative');
SELECT throws_ok($$SELECT recsys.train_ease(1, 1, 1, '{"max_items": -1}')$$, '22023', NULL, 'max_items must not be negative');
SELECT is((SELECT count(*) FROM (SELECT recsys.train_ease(u, 1, 1) AS m FROM generate_series(1, 3) AS u) AS t,
				  recsys.similar_items(t.m, 1, 5)), 0::bigint, 'EASE over one item: no weights');
SELECT is((SELECT count(*) FROM models AS md, (SELECT recsys.train_knn(user_id, item_id, value, '{"similarity": "asymmetric_cosine", "alpha": 0.5, "shrinkage": 0}') AS m
																  FROM clus_train) AS a,
				  (SELECT DISTINCT item_id FROM clus_train WHERE item_id <= 50) AS i,
				  recsys.similar_items(a.m, i.item_id, 10) AS x
				  FULL JOIN recsys.similar_items(md.m, i.item_id, 10) AS y ON x.id = y.id
		   WHERE md.kind = 'item' AND (x.id IS NULL OR y.id IS NULL OR abs(x.score - y.score) > 1e-6)),
		  0::bigint, 'asymmetric cosine with alpha 0.5 is cosine');

SELECT * FROM finish();
ROLLBACK;
