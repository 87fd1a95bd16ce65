-- Serving recommendations to an application: the registry, the request path
-- with business filters, similar items, fold-in, batch and cold start.
-- Scores are rounded: the last bits depend on the CPU's BLAS kernels.

-- a small shop: products, users and their ratings
CREATE TABLE products AS
	SELECT id, 'product ' || id AS title, 5 + id % 4 * 10 AS price, id % 3 <> 0 AS in_stock
	FROM generate_series(1, 40) id;
CREATE TABLE users AS
	SELECT id, 'user' || id || '@example.com' AS email,
		   CASE WHEN id % 20 = 0 THEN 'vip' ELSE 'regular' END AS segment
	FROM generate_series(1, 60) id;
CREATE TABLE ratings AS
	SELECT user_id, item_id, rating FROM recsys.synthetic_ratings(60, 40, 900, seed => 5);

-- train and store under a name
INSERT INTO recsys.models(name, model)
	SELECT 'movies', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 10}')
	FROM ratings;
SELECT name, info ->> 'algorithm' AS algorithm, info ->> 'n_users' AS users,
	   info ->> 'n_items' AS items, trained_at IS NOT NULL AS stamped
FROM recsys.models, recsys.model_info(model) info;

-- the request path: top 10 unseen items, only those in stock, with business columns
SELECT p.title, p.price, round(r.score::numeric, 1) AS score
  FROM recsys.recommend('movies', 42, 10,
		 candidates => (SELECT array_agg(id) FROM products WHERE in_stock)) r
  JOIN products p ON p.id = r.item_id
 ORDER BY r.score DESC, p.id;
-- every row is in stock and none was rated by user 42
SELECT count(*) AS n, bool_and(p.in_stock) AS all_in_stock,
	   bool_and(NOT EXISTS (SELECT FROM ratings x WHERE x.user_id = 42 AND x.item_id = r.item_id)) AS all_unseen
  FROM recsys.recommend('movies', 42, 10,
		 candidates => (SELECT array_agg(id) FROM products WHERE in_stock)) r
  JOIN products p ON p.id = r.item_id;
-- a filter that leaves fewer items than asked for returns them all
SELECT count(*) FROM recsys.recommend('movies', 42, 10, candidates => ARRAY[1, 2, 4, 5, 7]);
-- an exclude list (say, items already in the cart)
SELECT count(*) AS n, bool_or(item_id IN (3, 6, 9)) AS any_excluded
  FROM recsys.recommend('movies', 42, 30, exclude => ARRAY[3, 6, 9]);

-- items like item 7 (cosine of the item factors, item 7 itself excluded)
SELECT count(*) AS n, bool_or(id = 7) AS includes_itself, bool_and(score BETWEEN -1 AND 1.0001) AS cosines
  FROM recsys.similar_items('movies', 7, 5);
-- ... only those in stock and not in the cart: the filters apply before ranking,
-- so 5 rows still come back
SELECT count(*) AS n, bool_and(p.in_stock) AS all_in_stock, bool_or(s.id IN (3, 6)) AS any_in_cart,
	   array_agg(s.rank ORDER BY s.rank) AS ranks
  FROM recsys.similar_items('movies', 7, 5,
		 candidates => (SELECT array_agg(id) FROM products WHERE in_stock),
		 exclude => ARRAY[3, 6]) s
  JOIN products p ON p.id = s.id;

-- a visitor without an account: fold in what they rated, then recommend
SELECT recsys.dims(recsys.fold_in('movies', ARRAY[1, 7, 9], ARRAY[5, 4, 1]::real[])) AS dims;
SELECT count(*) AS n, bool_or(item_id IN (1, 7, 9)) AS includes_rated
  FROM recsys.recommend_by_vector('movies', recsys.fold_in('movies', ARRAY[1, 7, 9], ARRAY[5, 4, 1]::real[]), 10,
						exclude => ARRAY[1, 7, 9]);

-- every result carries its rank, 1 the best
SELECT array_agg(rank ORDER BY rank) AS ranks FROM recsys.recommend('movies', 42, 5);

-- nightly batch: top 20 for every user
CREATE TABLE nightly_recs AS SELECT * FROM recsys.recommend_all('movies', 20);
SELECT count(DISTINCT user_id) AS users, min(rank) AS first, max(rank) AS last, count(*) AS rows
  FROM nightly_recs;
-- the batch agrees with the request path
SELECT count(*) AS disagreements
  FROM nightly_recs b
  JOIN LATERAL recsys.recommend('movies', b.user_id, 20) WITH ORDINALITY AS s(item_id, score, rank)
	ON s.rank = b.rank
 WHERE s.item_id <> b.item_id AND abs(s.score - b.score) > 1e-5;

-- the batch with the request's filters: one list for every user
SELECT count(DISTINCT user_id) AS users, count(*) AS rows,
	   bool_and(p.in_stock) AS all_in_stock, bool_or(b.item_id IN (3, 6)) AS any_excluded
  FROM recsys.recommend_all('movies', 5,
		 candidates => (SELECT array_agg(id) FROM products WHERE in_stock),
		 exclude => ARRAY[3, 6]) b
  JOIN products p ON p.id = b.item_id;

-- the planner knows how many rows come back: n (n per user for a users array)
EXPLAIN SELECT * FROM recsys.recommend('movies', 42, 7);
EXPLAIN SELECT * FROM recsys.recommend_all('movies', 5, ARRAY[1, 2, 3]);

-- untyped parameters (what drivers and pgbench send) resolve: recommend has one form
PREPARE top3 AS SELECT item_id, rank FROM recsys.recommend($1, $2, $3);
EXECUTE top3('movies', 42, 3);
DEALLOCATE top3;

-- three picks for each VIP user
SELECT u.email, count(r.item_id) AS picks
  FROM users u CROSS JOIN LATERAL recsys.recommend('movies', u.id, 3) r
 WHERE u.segment = 'vip'
 GROUP BY u.email ORDER BY u.email;

-- a user the model has never seen gets the most popular items, scored by
-- their number of training interactions
SELECT r.item_id, r.score = c.cnt AS score_is_count
  FROM recsys.recommend('movies', 999, 3) WITH ORDINALITY AS r(item_id, score, rank)
  JOIN (SELECT item_id, count(DISTINCT user_id) AS cnt FROM ratings GROUP BY item_id) c USING (item_id)
 ORDER BY r.rank;
SELECT array_agg(item_id ORDER BY cnt DESC, item_id) AS most_popular
  FROM (SELECT item_id, count(DISTINCT user_id) AS cnt FROM ratings
		GROUP BY item_id ORDER BY cnt DESC, item_id LIMIT 3) s;

-- no user id at all (a first visit): the same popularity list; the fallback
-- column tells the application that the list is not personalised
SELECT item_id, rank, fallback FROM recsys.recommend('movies', NULL, 3);
SELECT bool_and(NOT fallback) AS personalised FROM recsys.recommend('movies', 42, 3);

-- why was an item recommended: the user's items whose terms of its score are
-- largest; with the baseline row (mu + b_i, item_id NULL) they sum to the score
-- the model gives the folded-in user, the same as recommend_by_items'
SELECT count(*) <= 4 AS at_most_3_plus_baseline, bool_and(item_id IS NULL OR rank BETWEEN 1 AND 3) AS ranked
  FROM recsys.explain_by_items('movies',
		 (SELECT array_agg(item_id ORDER BY item_id) FROM ratings WHERE user_id = 42),
		 (SELECT array_agg(rating ORDER BY item_id) FROM ratings WHERE user_id = 42),
		 (SELECT item_id FROM recsys.recommend('movies', 42, 1)), 3);
-- by user id: the model keeps each user's training values, so explain(m, user,
-- item) is explain_by_items over the user's stored history, and its terms sum to
-- the score of the folded-in user
SELECT count(*) AS rows_equal
  FROM recsys.explain('movies', 42, 1, 100) e
  JOIN recsys.explain_by_items('movies',
		 (SELECT array_agg(item_id ORDER BY item_id) FROM ratings WHERE user_id = 42),
		 (SELECT array_agg(rating ORDER BY item_id) FROM ratings WHERE user_id = 42), 1, 100) b
	ON e.item_id IS NOT DISTINCT FROM b.item_id AND e.contribution = b.contribution
   AND e.rank IS NOT DISTINCT FROM b.rank;
SELECT count(*) AS explain_rows FROM recsys.explain('movies', 42, 1, 100);
SELECT abs(e.total - r.score) < 1e-3 AS sums_to_score
  FROM (SELECT sum(contribution) AS total
		  FROM recsys.explain_by_items('movies', ARRAY[1, 7, 9], ARRAY[5, 4, 1]::real[],
									   (SELECT item_id FROM recsys.recommend_by_items('movies', ARRAY[1, 7, 9], ARRAY[5, 4, 1]::real[], 1)), 100)) e,
	   recsys.recommend_by_items('movies', ARRAY[1, 7, 9], ARRAY[5, 4, 1]::real[], 1) r;

-- a diverse list: the first item is the same, the rest trade score for variety
SELECT (SELECT item_id FROM recsys.recommend('movies', 42, 5, diversity => 0.5) WHERE rank = 1)
	 = (SELECT item_id FROM recsys.recommend('movies', 42, 5) WHERE rank = 1) AS same_first,
	   (SELECT count(*) FROM recsys.recommend('movies', 42, 5, diversity => 0.5)) AS n;
SELECT * FROM recsys.recommend('movies', 42, 5, diversity => 1.5);

-- train from a query and retrain on a schedule (this is what pg_cron would run)
SELECT recsys.train('shop', 'ials', 'SELECT user_id, item_id, 1 FROM ratings WHERE rating >= 3',
					'{"factors": 4, "iterations": 5}') ->> 'algorithm' AS trained;
INSERT INTO ratings VALUES (1000, 1, 5), (1000, 2, 4);
SELECT recsys.retrain('shop') ->> 'n_users' AS users_after_retrain;
SELECT count(*) FROM recsys.recommend('shop', 1000, 5);

-- errors name what was wrong
SELECT * FROM recsys.recommend('no such model', 42);
SELECT * FROM recsys.recommend('movies', 42, 0);		-- no rows, not an error
SELECT * FROM recsys.recommend('movies', 42, -1);
SELECT * FROM recsys.recommend('movies', 42, 5, candidates => ARRAY[1, NULL]);
SELECT * FROM recsys.recommend_by_vector('movies', '[1,2,3]'::recsys.vec, 5);
SELECT recsys.fold_in('movies', ARRAY[1, 2], ARRAY[5]::real[]);
SELECT recsys.train('x', 'svd', 'SELECT 1, 2, 3');

DROP TABLE nightly_recs, ratings, users, products;
DELETE FROM recsys.models;
DELETE FROM recsys.model_history;
