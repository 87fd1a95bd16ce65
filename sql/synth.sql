-- Synthetic ratings with a planted truth, and the deterministic split.
-- Three users, six items, two ratings each: ids start at 1, rows come by user then item.
SELECT user_id, item_id, round(rating::numeric, 2) AS rating
FROM recsys.synthetic_ratings(3, 6, 6);

-- The same call always gives the same rows; another seed gives others.
SELECT count(*) AS identical
FROM recsys.synthetic_ratings(3, 6, 6) a
JOIN recsys.synthetic_ratings(3, 6, 6) b USING (user_id, item_id, rating);
SELECT (SELECT array_agg(item_id) FROM recsys.synthetic_ratings(3, 6, 6, seed => 1)) =
       (SELECT array_agg(item_id) FROM recsys.synthetic_ratings(3, 6, 6, seed => 2)) AS same_items;

-- Explicit ratings sit on a 1..5 scale; noise => 0 gives the planted score itself.
SELECT count(*) AS ratings, round(avg(rating)::numeric, 1) AS mean,
       min(rating) >= 1 AND max(rating) <= 5 AS within_1_5
FROM recsys.synthetic_ratings(200, 100, 2000, noise => 0);

-- Implicit mode: positive whole counts.
SELECT count(*) AS interactions, min(rating) AS min_count,
       bool_and(rating = floor(rating)) AS whole
FROM recsys.synthetic_ratings(200, 100, 2000, implicit => true);

-- The planner knows how many rows to expect.
EXPLAIN SELECT * FROM recsys.synthetic_ratings(1000, 500, 50000);

-- Errors name the argument and the limit.
SELECT * FROM recsys.synthetic_ratings(0, 10, 10);
SELECT * FROM recsys.synthetic_ratings(10, 10, 101);
SELECT * FROM recsys.synthetic_ratings(10, 10, 10, rank => 2000);
SELECT * FROM recsys.synthetic_ratings(10, 10, 10, noise => 'NaN');
SELECT * FROM recsys.synthetic_ratings(10, 10, 10, noise => 1e308);
-- The work is bounded by n_ratings: users past the n_ratings-th are never visited.
SELECT * FROM recsys.synthetic_ratings(2147483647, 2, 1);

-- fold: a fold number in [0, folds) per (user, item); fold <> 0 is an 80% train set.
SELECT recsys.fold(1, 1, 5) AS f11, recsys.fold(1, 2, 5) AS f12, recsys.fold(2, 1, 5) AS f21;
SELECT recsys.fold(1, 1, 5) = recsys.fold(1, 1, 5, 42) AS default_seed_is_42;
SELECT f, count(*) FROM (SELECT recsys.fold(u, i, 5) AS f
                         FROM generate_series(1, 100) u, generate_series(1, 100) i) s
GROUP BY f ORDER BY f;
SELECT round(avg((recsys.fold(user_id, item_id, 5) <> 0)::int), 2) AS train_share
FROM recsys.synthetic_ratings(1000, 500, 20000);
SELECT recsys.fold(1, NULL, 5) IS NULL AS null_in_null_out;
SELECT recsys.fold(1, 1, 0);
