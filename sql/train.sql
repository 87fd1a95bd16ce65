-- Training models with recsys.train_als / recsys.train_ials, and what a model holds.
-- (Only values that do not depend on floating-point details are shown.)
CREATE TABLE ratings (user_id bigint, item_id bigint, rating real);
INSERT INTO ratings VALUES
	(1, 10, 5), (1, 20, 3), (1, 30, 4),
	(2, 10, 4), (2, 40, 1),
	(3, 20, 2), (3, 30, 5), (3, 40, 2),
	(4, 10, 5), (4, 30, 4);

-- explicit ratings: one aggregate call returns the model
CREATE TABLE movie_model AS
SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 5}') AS m FROM ratings;

SELECT key, value FROM movie_model, jsonb_each(recsys.model_info(m))
WHERE key NOT IN ('uuid', 'train_loss', 'train_seconds', 'peak_bytes')
ORDER BY key;

-- the factors, one row per user / item (the vectors have 2 dimensions)
SELECT id, bias IS NOT NULL AS has_bias, recsys.dims(factors) FROM recsys.user_factors((SELECT m FROM movie_model));
SELECT id, recsys.dims(factors) FROM recsys.item_factors((SELECT m FROM movie_model));
SELECT recsys.user_vector(m, 99) IS NULL AS unknown_user FROM movie_model;

-- predictions stay within the rating range seen in training; an unknown user and
-- item get the global mean (3.5 here)
SELECT recsys.predict(m, 1, 40) BETWEEN 1 AND 5 AS in_range,
	   recsys.predict(m, 99, 99) AS unknown
FROM movie_model;

-- a model is a value: text form (base64 of the portable binary form) round-trips
SELECT left(m::text, 16) AS prefix, m::text::recsys.model::text = m::text AS round_trip FROM movie_model;

-- zero rows: NULL, like other aggregates; rows with a NULL are skipped
SELECT recsys.train_als(user_id, item_id, rating) IS NULL AS no_rows FROM ratings WHERE false;
SELECT recsys.model_info(recsys.train_als(user_id, item_id, rating, '{"factors": 2}')) -> 'n_interactions' AS n
FROM (SELECT * FROM ratings UNION ALL SELECT NULL, 10, 1 UNION ALL SELECT 1, NULL, 1 UNION ALL SELECT 1, 10, NULL) r;

-- duplicates: a rating keeps the last value seen, implicit weights add up
SELECT recsys.model_info(recsys.train_als(u, i, r ORDER BY seq)) -> 'rating_max' AS last_rating
FROM (VALUES (1, 1, 2, 1), (1, 1, 4, 2), (2, 1, 3, 3)) v(u, i, r, seq);
SELECT recsys.model_info(recsys.train_ials(u, i, w)) -> 'rating_max' AS summed_weight,
	   recsys.model_info(recsys.train_ials(u, i, w)) -> 'n_interactions' AS n
FROM (VALUES (1, 1, 2), (1, 1, 4), (2, 1, 3)) v(u, i, w);

-- implicit feedback and its options; confidence_scale is what training computed,
-- the mean of ln(1 + rating) (shown rounded next to SQL's)
SELECT o - 'confidence_scale' AS options, round((o ->> 'confidence_scale')::numeric, 4) AS confidence_scale,
	   (SELECT round(avg(ln(1 + rating))::numeric, 4) FROM ratings) AS mean_log
FROM (SELECT recsys.model_info(recsys.train_ials(user_id, item_id, rating, '{"factors": 3, "alpha": 40, "solver": "cg"}')) -> 'options' AS o
	  FROM ratings) t;

-- verbose: one NOTICE per iteration (loss and seconds are in its DETAIL)
\set VERBOSITY terse
SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 3, "verbose": true}') IS NOT NULL AS trained
FROM ratings;

-- errors
SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 0}') FROM ratings;
SELECT recsys.train_als(user_id, item_id, rating, '{"alpha": 40}') FROM ratings;
SELECT recsys.train_ials(user_id, item_id, rating, '{"iterations": "ten"}') FROM ratings;
SELECT recsys.train_ials(user_id, item_id, rating, '{"factor": 8}') FROM ratings;
SELECT recsys.train_als(1, 2, 'NaN');
SELECT recsys.train_ials(1, 2, -1);
SELECT 'recsys-model:v1:AAAA'::recsys.model;
SET recsys.max_train_mb = 16;
SELECT recsys.train_als(u, 1, 1, '{"factors": 1024}') FROM generate_series(1, 5000) u;
RESET recsys.max_train_mb;
\set VERBOSITY default
DROP TABLE movie_model, ratings;
