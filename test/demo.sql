-- The recsys tutorial, end to end on synthetic data.  `make demo` runs this file in a
-- throwaway cluster; README.md walks through the same statements.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;

\echo '== 1. Install, and load some interactions'
CREATE EXTENSION IF NOT EXISTS recsys;
-- 20,000 users rating 4,000 movies: 600,000 ratings on a 1..5 scale with a planted
-- low-rank taste structure and a power-law popularity, as in real catalogues
CREATE TABLE ratings AS
  SELECT * FROM recsys.synthetic_ratings(20000, 4000, 600000, seed => 1);
-- play counts of the same users (implicit feedback)
CREATE TABLE plays AS
  SELECT user_id, item_id, rating AS plays
  FROM recsys.synthetic_ratings(20000, 4000, 300000, seed => 2, implicit => true);
-- a business table the recommendations join to
CREATE TABLE products AS
  SELECT id, format('Movie #%s', id) AS title, (id % 10 <> 0) AS in_stock,
         (4.99 + id % 5)::numeric(6,2) AS price
  FROM generate_series(1, 4000) id;
SELECT count(*) AS ratings, count(DISTINCT user_id) AS users,
       count(DISTINCT item_id) AS items, round(avg(rating)::numeric, 2) AS mean_rating
  FROM ratings;

\echo '== 2. Split: a deterministic 80/20 hash split with recsys.fold'
CREATE VIEW ratings_train AS
  SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) <> 0;
CREATE VIEW ratings_test AS
  SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) = 0;
SELECT (SELECT count(*) FROM ratings_train) AS train_rows,
       (SELECT count(*) FROM ratings_test) AS test_rows;

\echo '== 3. Train an explicit model with one aggregate (parallel scan, threads)'
CREATE TABLE movie_model AS
  SELECT recsys.train_als(user_id, item_id, rating,
           '{"factors": 32, "iterations": 10, "regularization": 0.05}') AS m
  FROM ratings_train;
SELECT info->>'algorithm' AS algorithm, info->'n_users' AS users, info->'n_items' AS items,
       info->'n_interactions' AS interactions,
       round((info->>'train_seconds')::numeric, 2) AS seconds,
       pg_size_pretty((info->>'bytes')::bigint) AS size
  FROM (SELECT recsys.model_info(m) AS info FROM movie_model) s;

\echo '== 4. Evaluate on the held-out fifth: rating and ranking metrics'
SELECT key, CASE WHEN key IN ('users', 'test_rows', 'unknown_users') THEN value
                 ELSE round(value::numeric, 4)::text END AS value
  FROM movie_model,
       jsonb_each_text(recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM ratings_test', 10))
 ORDER BY key;
-- the same kind of number by hand: predictions against held-out ratings
SELECT round(recsys.rmse(recsys.predict(m, user_id, item_id), rating)::numeric, 4) AS rmse_by_hand
  FROM movie_model, ratings_test;

\echo '== 5. Register models by name (the registry is dumped with the database)'
SELECT recsys.train('movies', 'als', 'SELECT user_id, item_id, rating FROM ratings',
         '{"factors": 32, "iterations": 10, "regularization": 0.05}') ->> 'n_interactions'
       AS movies_interactions;
SELECT recsys.train('plays', 'ials', 'SELECT user_id, item_id, plays FROM plays',
         '{"factors": 32, "iterations": 10}') ->> 'n_interactions'
       AS plays_interactions;
SELECT name, model_info->>'algorithm' AS algorithm, trained_at IS NOT NULL AS trained
  FROM (SELECT name, recsys.model_info(model) AS model_info, trained_at FROM recsys.models) s
 ORDER BY name;

\echo '== 6. Serve: top 5 unseen movies in stock for user 42, joined to the business table'
SELECT p.id, p.title, p.price, round(r.score::numeric, 3) AS predicted_rating
  FROM recsys.recommend('movies', 42, 5,
         candidates => (SELECT array_agg(id) FROM products WHERE in_stock)) r
  JOIN products p ON p.id = r.item_id
 ORDER BY r.score DESC, p.id;

\echo '== 7. More like this: movies similar to movie 1'
SELECT s.id, p.title, round(s.score::numeric, 3) AS cosine
  FROM recsys.similar_items('movies', 1, 5) s JOIN products p ON p.id = s.id
 ORDER BY s.score DESC, s.id;

\echo '== 8. A new visitor rates three movies: fold in, recommend, no retraining'
SELECT r.item_id, p.title, round(r.score::numeric, 3) AS score
  FROM recsys.recommend_by_vector('movies',
         recsys.fold_in('movies', ARRAY[1, 7, 9], ARRAY[5, 4, 1]::real[]), 5,
         exclude => ARRAY[1, 7, 9]::bigint[]) r
  JOIN products p ON p.id = r.item_id
 ORDER BY r.score DESC, r.item_id;

\echo '== 9. Implicit feedback: what user 42 might play next'
SELECT r.item_id, p.title, round(r.score::numeric, 3) AS score
  FROM recsys.recommend('plays', 42, 5) r JOIN products p ON p.id = r.item_id
 ORDER BY r.score DESC, r.item_id;

\echo '== 10. Nightly batch: top 3 for every user, in one statement'
CREATE TABLE nightly_recs AS SELECT * FROM recsys.recommend_all('movies', 3);
SELECT count(*) AS rows, count(DISTINCT user_id) AS users FROM nightly_recs;

\echo '== 11. Vectors: item factors as recsys.vec, searched with the distance operators'
CREATE TABLE movie_vectors AS
  SELECT id, factors FROM recsys.item_factors('movies');
SELECT recsys.dims(factors) AS dims, round(recsys.norm(factors)::numeric, 3) AS norm
  FROM movie_vectors WHERE id = 1;
-- the nearest movies to movie 1 by cosine distance: the same as similar_items above
SELECT v.id, round((v.factors OPERATOR(recsys.<=>) q.factors)::numeric, 3) AS cosine_distance
  FROM movie_vectors v, movie_vectors q
 WHERE q.id = 1 AND v.id <> 1
 ORDER BY v.factors OPERATOR(recsys.<=>) q.factors, v.id
 LIMIT 5;
-- a taste profile: the average of what a user liked, as a vector, then recommend from it
SELECT r.item_id, round(r.score::numeric, 3) AS score
  FROM recsys.recommend_by_vector('movies',
         (SELECT recsys.avg(v.factors) FROM movie_vectors v
            JOIN ratings t ON t.item_id = v.id WHERE t.user_id = 42 AND t.rating >= 4), 3) r
 ORDER BY r.score DESC, r.item_id;

\echo '== 12. Retrain on a schedule with pg_cron (every night at 03:00)'
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT cron.schedule('retrain-movies', '0 3 * * *', $$SELECT recsys.retrain('movies')$$) > 0
       AS scheduled;
SELECT jobname, schedule, command FROM cron.job ORDER BY jobid;
-- retrain now by hand: the previous model goes to recsys.model_history
SELECT recsys.retrain('movies') ->> 'n_interactions' AS retrained_interactions;
SELECT name, count(*) AS previous_models FROM recsys.model_history GROUP BY name;
-- and back, bit for bit, if the new one were bad
SELECT recsys.rollback('movies') IS NOT NULL AS rolled_back;

\echo '== 14. Content and cold start: genres as text, and 400 new movies nobody has played'
-- each movie's genres: the three strongest of 12 synthetic features (correlated with the
-- planted tastes behind the plays); movies 4001..4400 are new: no plays yet
CREATE TABLE movie_genres AS
  SELECT f.item_id AS id, string_agg(g.genre, ' ' ORDER BY g.x DESC) AS genres, f.features
    FROM recsys.synthetic_item_features(4400, 12, seed => 2) f,
         LATERAL (SELECT (ARRAY['action', 'comedy', 'drama', 'horror', 'romance', 'thriller',
                                'documentary', 'animation', 'western', 'musical', 'fantasy',
                                'mystery'])[u.d] AS genre, u.x
                    FROM unnest(f.features::real[]) WITH ORDINALITY AS u(x, d)
                   ORDER BY u.x DESC LIMIT 3) g
   GROUP BY f.item_id, f.features;
SELECT id, genres FROM movie_genres WHERE id IN (1, 2, 4001) ORDER BY id;
-- text: TF-IDF over the genres; rows with no play (user NULL) register the new movies
SELECT recsys.train('movies-text', 'content',
         $$SELECT p.user_id, g.id, p.plays, to_tsvector('english', g.genres)
             FROM movie_genres g LEFT JOIN plays p ON p.item_id = g.id$$)
       ->> 'vocabulary_size' AS vocabulary_size;
SELECT s.id, g.genres, round(s.score::numeric, 3) AS cosine
  FROM recsys.similar_items('movies-text', 4001, 5) s JOIN movie_genres g ON g.id = s.id
 ORDER BY s.rank, s.id;
-- hybrid: implicit ALS, and factors for the new movies mapped from their features
SELECT recsys.train('plays-hybrid', 'hybrid',
         $$SELECT NULL::bigint, id, NULL::real, features FROM movie_genres
           UNION ALL SELECT user_id, item_id, plays, NULL FROM plays$$,
         '{"factors": 16}')
       ->> 'n_items' AS items;
-- the new movies user 42 is most likely to play, before anyone has played them
SELECT r.item_id, g.genres, round(r.score::numeric, 3) AS score
  FROM recsys.recommend('plays-hybrid', 42, 5,
         candidates => ARRAY(SELECT generate_series(4001, 4400)::bigint)) r
  JOIN movie_genres g ON g.id = r.item_id
 ORDER BY r.rank;
