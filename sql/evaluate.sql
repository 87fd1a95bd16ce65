-- Measuring and operating a model: recsys.evaluate on held-out ratings, training
-- into the registry with an evaluation, the model history and rollback, and a
-- materialized view as the alternative to the registry.
-- Metric values depend on the last bits of the BLAS kernels, so they are shown as
-- comparisons and coarse roundings; counts are exact.

-- planted ratings, 80% to train and 20% to test
CREATE TABLE ratings AS
	SELECT * FROM recsys.synthetic_ratings(400, 200, 16000, seed => 21);
CREATE TABLE ratings_test AS
	SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) = 0;
SELECT count(*) AS test_rows, count(DISTINCT user_id) AS test_users,
	   count(*) FILTER (WHERE rating >= 4) AS relevant_rows
FROM ratings_test;

-- train on the other 80%, evaluate on the test rows: every key of the result
SELECT recsys.train('movies', 'als',
	'SELECT user_id, item_id, rating FROM ratings WHERE recsys.fold(user_id, item_id, 5) <> 0',
	'{"factors": 8, "iterations": 10}') ->> 'n_users' AS trained_users;
CREATE TABLE ev AS
	SELECT recsys.evaluate('movies', 'SELECT user_id, item_id, rating FROM ratings_test', 10) AS e;
SELECT key, jsonb_typeof(value) AS type FROM ev, jsonb_each(e) ORDER BY key;

-- counts are exact: users with at least one test rating >= 4, all rows, no strangers
SELECT e ->> 'users' AS users, e ->> 'test_rows' AS test_rows,
	   e ->> 'unknown_users' AS unknown_users FROM ev;
-- the planted structure is recovered: rating error well under the ratings' spread
SELECT round((e ->> 'rmse')::numeric, 1) BETWEEN 0.4 AND 0.9 AS rmse_ok,
	   (e ->> 'mae')::float8 < (e ->> 'rmse')::float8 AS mae_below_rmse,
	   (SELECT round(stddev(rating)::numeric, 1) FROM ratings_test) AS rating_stddev
FROM ev;
-- ranking metrics lie in [0, 1], and hit rate >= precision, recall > 0
SELECT (e ->> 'ndcg@10')::float8 BETWEEN 0.01 AND 1 AS ndcg_positive,
	   (e ->> 'hit_rate@10')::float8 >= (e ->> 'precision@10')::float8 AS hit_rate_ge_precision,
	   (e ->> 'recall@10')::float8 > 0 AS recall_positive,
	   (e ->> 'map@10')::float8 <= (e ->> 'hit_rate@10')::float8 AS map_le_hit_rate,
	   (e ->> 'coverage')::float8 BETWEEN 0.05 AND 1 AS coverage_ok
FROM ev;

-- the same numbers by hand: recommend per user, array_agg, the metric functions
WITH rel AS (SELECT user_id, array_agg(item_id) AS rel FROM ratings_test
			 WHERE rating >= 4 GROUP BY user_id),
rec AS (SELECT rel.user_id, rel.rel,
			   (SELECT array_agg(item_id ORDER BY score DESC, item_id)
				FROM recsys.recommend('movies', rel.user_id, 10)) AS rec
		FROM rel)
SELECT count(*) AS users,
	   abs(avg(recsys.ndcg_at_k(rec, rel, 10)) - (SELECT (e ->> 'ndcg@10')::float8 FROM ev)) < 1e-9 AS ndcg_same,
	   abs(avg(recsys.precision_at_k(rec, rel, 10)) - (SELECT (e ->> 'precision@10')::float8 FROM ev)) < 1e-9 AS precision_same,
	   abs(avg(recsys.average_precision_at_k(rec, rel, 10)) - (SELECT (e ->> 'map@10')::float8 FROM ev)) < 1e-9 AS map_same
FROM rec;
SELECT abs(recsys.rmse(recsys.predict('movies', user_id, item_id), rating)
		   - (SELECT (e ->> 'rmse')::float8 FROM ev)) < 1e-9 AS rmse_same
FROM ratings_test;

-- two columns (no rating): every test item is relevant, no rmse/mae; k in the keys
SELECT string_agg(key, ', ' ORDER BY key) AS keys
FROM jsonb_object_keys(recsys.evaluate('movies', 'SELECT user_id, item_id FROM ratings_test', 5)) key;
-- a stricter relevance threshold leaves fewer users with something to find
SELECT (recsys.evaluate('movies', 'SELECT user_id, item_id, rating FROM ratings_test', 10,
						'{"relevance_threshold": 4.5}') ->> 'users')::int
	   < (SELECT (e ->> 'users')::int FROM ev) AS fewer_users;

-- train with an evaluation: the registry records source, options and metrics
SELECT recsys.train('movies', 'als',
	'SELECT user_id, item_id, rating FROM ratings WHERE recsys.fold(user_id, item_id, 5) <> 0',
	'{"factors": 8, "iterations": 10, "eval_query": "SELECT user_id, item_id, rating FROM ratings_test", "eval_k": 10}')
	->> 'n_users' AS trained_users;
SELECT name, source, options ->> 'eval_k' AS eval_k, metrics ->> 'users' AS eval_users,
	   metrics ?& ARRAY['rmse', 'ndcg@10', 'coverage'] AS has_metrics
FROM recsys.models WHERE name = 'movies';
-- the model it replaced is in the history (the first one, trained without eval_query)
SELECT name, metrics IS NULL AS had_no_metrics, replaced_at >= trained_at AS replaced_after
FROM recsys.model_history WHERE name = 'movies';

-- a bad retrain (here: a source that lost most of its rows) and its rollback
CREATE TABLE good AS SELECT model::text AS m FROM recsys.models WHERE name = 'movies';
UPDATE recsys.models SET source = 'SELECT user_id, item_id, rating FROM ratings WHERE user_id <= 20'
WHERE name = 'movies';
SELECT recsys.retrain('movies') ->> 'n_users' AS retrained_users;
SELECT (metrics ->> 'unknown_users')::int > 300 AS most_test_users_unknown
FROM recsys.models WHERE name = 'movies';
SELECT recsys.rollback('movies') ->> 'n_users' AS restored_users;
SELECT model::text = (SELECT m FROM good) AS bit_for_bit, metrics ->> 'users' AS eval_users
FROM recsys.models WHERE name = 'movies';
SELECT count(*) AS history_left FROM recsys.model_history WHERE name = 'movies';
-- one more step back: the first model, trained without an evaluation
SELECT recsys.rollback('movies') ->> 'n_users' AS restored_users;
SELECT metrics IS NULL AS no_metrics FROM recsys.models WHERE name = 'movies';

-- errors
SELECT recsys.evaluate('movies', 'SELECT user_id, item_id FROM ratings_test', 0);
SELECT recsys.evaluate('movies', 'SELECT user_id FROM ratings_test');
SELECT recsys.evaluate('movies', 'SELECT user_id, now() FROM ratings_test');
SELECT recsys.evaluate('movies', 'SELECT 1, 2', 10, '{"threshold": 4}');
SELECT recsys.evaluate('nothing', 'SELECT 1, 2');
SELECT recsys.rollback('movies');
SELECT recsys.rollback('nothing');
SELECT recsys.train('movies', 'als', 'SELECT 1, 2, 3.0', '{"eval_k": 10}');

-- the alternative to the registry: a materialized view defined by the aggregate
CREATE MATERIALIZED VIEW movie_model AS
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 8, "iterations": 5}') AS m
	FROM ratings;
CREATE TABLE mv_before AS SELECT recsys.model_info(m) ->> 'uuid' AS uuid FROM movie_model;
SELECT recsys.model_info(m) ->> 'n_users' AS users FROM movie_model;
INSERT INTO ratings SELECT user_id + 400, item_id, rating FROM ratings WHERE user_id <= 10;
REFRESH MATERIALIZED VIEW movie_model;
-- refreshing retrains over the current rows (new users) and serves at once
SELECT recsys.model_info(m) ->> 'n_users' AS users,
	   recsys.model_info(m) ->> 'uuid' <> (SELECT uuid FROM mv_before) AS new_model
FROM movie_model;
SELECT count(*) AS recommended FROM movie_model, recsys.recommend(m, 401, 5);
SELECT (recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM ratings_test', 10) ->> 'unknown_users')::int
	   AS unknown_users FROM movie_model;
-- with a key column and a unique index, readers need not wait for a refresh
CREATE MATERIALIZED VIEW movie_model_online AS
	SELECT 1 AS id, recsys.train_als(user_id, item_id, rating, '{"factors": 8, "iterations": 5}') AS m
	FROM ratings;
CREATE UNIQUE INDEX ON movie_model_online (id);
DELETE FROM ratings WHERE user_id > 400;
REFRESH MATERIALIZED VIEW CONCURRENTLY movie_model_online;
SELECT recsys.model_info(m) ->> 'n_users' AS users FROM movie_model_online;

DROP MATERIALIZED VIEW movie_model, movie_model_online;
DELETE FROM recsys.model_history WHERE name = 'movies';
DELETE FROM recsys.models WHERE name = 'movies';
DROP TABLE ratings, ratings_test, ev, good, mv_before;
