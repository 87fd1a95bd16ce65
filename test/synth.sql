-- recsys.synthetic_ratings and recsys.fold: shape, determinism, the planted structure,
-- and every argument error.
BEGIN;
SELECT plan(71);

-- A small explicit set: 1000 users x 1000 items, 20 ratings per user.
CREATE TEMP TABLE ex AS SELECT * FROM recsys.synthetic_ratings(1000, 1000, 20000);

-- ---------------------------------------------------------------- shape
SELECT is((SELECT count(*) FROM ex), 20000::bigint, 'exactly n_ratings rows');
SELECT is((SELECT count(DISTINCT (user_id, item_id)) FROM ex), 20000::bigint,
	'no (user, item) pair twice');
SELECT ok((SELECT min(user_id) = 1 AND max(user_id) = 1000 AND count(DISTINCT user_id) = 1000 FROM ex),
	'user ids are 1..n_users, every user present');
SELECT ok((SELECT min(item_id) >= 1 AND max(item_id) <= 1000 FROM ex), 'item ids within 1..n_items');
SELECT ok((SELECT bool_and(n = 20) FROM (SELECT count(*) n FROM ex GROUP BY user_id) s),
	'every user has n_ratings / n_users ratings');
SELECT ok((SELECT bool_and(rating IS NOT NULL AND rating = rating) FROM ex), 'no NULL or NaN rating');
SELECT results_eq(
	$$SELECT user_id, item_id FROM recsys.synthetic_ratings(7, 5, 23) ORDER BY user_id, item_id$$,
	$$SELECT user_id, item_id FROM recsys.synthetic_ratings(7, 5, 23)$$,
	'rows come ordered by user, then item');
-- 23 = 7 * 3 + 2: the first two users get 4 items, the others 3
SELECT results_eq(
	$$SELECT user_id, count(*) FROM recsys.synthetic_ratings(7, 5, 23) GROUP BY 1 ORDER BY 1$$,
	$$VALUES (1::bigint, 4::bigint), (2, 4), (3, 3), (4, 3), (5, 3), (6, 3), (7, 3)$$,
	'the remainder goes one each to the first users');

-- a complete matrix and a 90% dense one: the exact sampler completes the users
SELECT results_eq(
	$$SELECT user_id, item_id FROM recsys.synthetic_ratings(30, 20, 600)$$,
	$$SELECT u::bigint, i::bigint FROM generate_series(1, 30) u, generate_series(1, 20) i ORDER BY 1, 2$$,
	'n_ratings = n_users * n_items gives every pair once');
SELECT is((SELECT count(DISTINCT (user_id, item_id)) FROM recsys.synthetic_ratings(50, 40, 1800)),
	1800::bigint, '90% dense explicit: distinct pairs, exact count');
SELECT is((SELECT count(DISTINCT (user_id, item_id)) FROM recsys.synthetic_ratings(50, 40, 1800, implicit => true)),
	1800::bigint, '90% dense implicit: distinct pairs, exact count');
SELECT is((SELECT count(*) FROM recsys.synthetic_ratings(1, 1, 1)), 1::bigint, 'one user, one item');

-- ---------------------------------------------------------------- determinism
SELECT is((SELECT md5(string_agg(format('%s,%s,%s', user_id, item_id, rating), ';' ORDER BY user_id, item_id))
		   FROM recsys.synthetic_ratings(1000, 1000, 20000)),
		  (SELECT md5(string_agg(format('%s,%s,%s', user_id, item_id, rating), ';' ORDER BY user_id, item_id)) FROM ex),
	'same arguments, same rows');
SELECT ok((SELECT count(*) FROM (SELECT user_id, item_id FROM recsys.synthetic_ratings(1000, 1000, 20000, seed => 43)
								 INTERSECT SELECT user_id, item_id FROM ex) s) < 15000,
	'another seed draws other pairs');
SELECT isnt((SELECT md5(string_agg(rating::text, ';' ORDER BY user_id, item_id)) FROM recsys.synthetic_ratings(30, 20, 600, seed => 1)),
			(SELECT md5(string_agg(rating::text, ';' ORDER BY user_id, item_id)) FROM recsys.synthetic_ratings(30, 20, 600, seed => 2)),
	'another seed plants other ratings on the same (complete) pairs');
-- the first users do not depend on how many users follow (each user has its own stream)
SELECT results_eq(
	$$SELECT * FROM recsys.synthetic_ratings(10, 1000, 200)$$,
	$$SELECT * FROM ex WHERE user_id <= 10 ORDER BY user_id, item_id$$,
	'a user''s rows do not depend on n_users');

-- ---------------------------------------------------------------- popularity
-- power law: the top 10% of items hold well over 10% of the ratings (about half here)
SELECT cmp_ok((SELECT sum(n) FILTER (WHERE rk <= 100)::float8 / sum(n)
			   FROM (SELECT count(*) n, row_number() OVER (ORDER BY count(*) DESC) rk FROM ex GROUP BY item_id) s),
	'>', 0.40::float8, 'top 10% of items hold more than 40% of the ratings');
SELECT cmp_ok((SELECT sum(n) FILTER (WHERE rk > 500)::float8 / sum(n)
			   FROM (SELECT count(*) n, row_number() OVER (ORDER BY count(*) DESC) rk FROM ex GROUP BY item_id) s),
	'<', 0.30::float8, 'the less popular half of the items holds less than 30%');
-- the most popular items are not simply the first ids (ranks are a seeded permutation)
SELECT cmp_ok((SELECT count(*) FROM (SELECT item_id FROM ex GROUP BY item_id ORDER BY count(*) DESC LIMIT 20) s
			   WHERE item_id <= 20), '<', 10::bigint, 'popularity is not ordered by item id');

-- ---------------------------------------------------------------- planted structure
-- Explicit pairs do not depend on the noise, so the same seed with noise 0 gives the
-- planted score of every pair: the difference is exactly the added noise.
CREATE TEMP TABLE clean AS SELECT * FROM recsys.synthetic_ratings(1000, 1000, 20000, noise => 0);
SELECT is((SELECT count(*) FROM clean JOIN ex USING (user_id, item_id)), 20000::bigint,
	'the noise level does not change which pairs are drawn');
SELECT ok((SELECT stddev(e.rating - c.rating) BETWEEN 0.49 AND 0.51 AND abs(avg(e.rating - c.rating)) < 0.01
		   FROM ex e JOIN clean c USING (user_id, item_id)),
	'rating - planted score has mean 0 and standard deviation = noise (0.5)');
SELECT ok((SELECT bool_and(rating BETWEEN 1 AND 5) FROM clean), 'planted scores lie in [1, 5]');
SELECT cmp_ok((SELECT avg((rating IN (1, 5))::int) FROM clean), '<', 0.01::numeric,
	'the planted score rarely reaches the clip (under 1% of pairs)');
SELECT ok((SELECT abs(avg(rating) - 3) < 0.1 FROM clean), 'planted scores centre on 3');
-- Item means differ far more than noise alone would make them: with >= 30 ratings an
-- item mean carries noise of sd <= 0.5/sqrt(30) = 0.09; the planted item bias has sd 0.25.
SELECT cmp_ok((SELECT stddev(m) FROM (SELECT avg(rating) m FROM ex GROUP BY item_id HAVING count(*) >= 30) s),
	'>', 0.18::float8, 'per-item mean ratings vary far more than the noise');
SELECT cmp_ok((SELECT stddev(m) FROM (SELECT avg(rating) m FROM ex GROUP BY user_id) s),
	'>', 0.18::float8, 'per-user mean ratings vary far more than the noise (0.5/sqrt(20) = 0.11)');
-- Beyond biases: on a complete noise-free matrix, what double centring leaves is the
-- planted x_u . y_i (sd 0.6), not nothing.
CREATE TEMP TABLE full_clean AS SELECT * FROM recsys.synthetic_ratings(200, 100, 20000, noise => 0);
CREATE TEMP TABLE interaction AS
	SELECT f.user_id, f.item_id,
		   f.rating - avg(f.rating) OVER (PARTITION BY f.user_id) - avg(f.rating) OVER (PARTITION BY f.item_id)
		   + avg(f.rating) OVER () AS d
	FROM full_clean f;
SELECT ok((SELECT stddev(d) BETWEEN 0.5 AND 0.7 FROM interaction),
	'the interaction part of the planted score has sd about 0.6');
-- ... and it is low rank: with rank 1 the centred scores are (x_u - mean x)(y_i - mean y),
-- so every 2x2 minor is 0 (up to float4 rounding and the rare clipped pair)
CREATE TEMP TABLE r1 AS SELECT * FROM recsys.synthetic_ratings(30, 20, 600, rank => 1, noise => 0);
CREATE TEMP TABLE r1d AS
	SELECT user_id, item_id,
		   rating - avg(rating) OVER (PARTITION BY user_id) - avg(rating) OVER (PARTITION BY item_id)
		   + avg(rating) OVER () AS d
	FROM r1;
SELECT cmp_ok((SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(a.d * b.d - c.d * e.d))
			   FROM r1d a JOIN r1d b ON b.user_id = a.user_id + 1 AND b.item_id = a.item_id + 1
			   JOIN r1d c ON c.user_id = a.user_id AND c.item_id = b.item_id
			   JOIN r1d e ON e.user_id = b.user_id AND e.item_id = a.item_id),
	'<', 0.02::float8, 'rank 1: the 2x2 minors of the centred planted scores vanish');
SELECT cmp_ok((SELECT avg(abs(a.d * b.d - c.d * e.d))
			   FROM interaction a JOIN interaction b ON b.user_id = a.user_id + 1 AND b.item_id = a.item_id + 1
			   JOIN interaction c ON c.user_id = a.user_id AND c.item_id = b.item_id
			   JOIN interaction e ON e.user_id = b.user_id AND e.item_id = a.item_id),
	'>', 0.1::float8, 'rank 8: 2x2 minors do not vanish');

-- ---------------------------------------------------------------- implicit mode
-- The planted factors are the same in both modes for one seed, so the complete
-- noise-free explicit matrix above (200 x 100) gives the preference of every pair.
CREATE TEMP TABLE im AS SELECT * FROM recsys.synthetic_ratings(200, 100, 4000, implicit => true);
CREATE TEMP TABLE ex_same AS SELECT * FROM recsys.synthetic_ratings(200, 100, 4000);
SELECT is((SELECT count(DISTINCT (user_id, item_id)) FROM im), 4000::bigint, 'implicit: exact count, distinct pairs');
SELECT ok((SELECT bool_and(rating >= 1 AND rating = floor(rating)) FROM im), 'implicit values are positive counts');
SELECT cmp_ok((SELECT max(rating) FROM im), '>', 5::real, 'implicit counts spread out');
-- the popularity-only explicit draw sees average preference ~0; the implicit draw
-- prefers what the user likes (measured on the planted interaction d)
SELECT cmp_ok((SELECT avg(d) FROM im JOIN interaction USING (user_id, item_id))
			  - (SELECT avg(d) FROM ex_same JOIN interaction USING (user_id, item_id)),
	'>', 0.25::float8, 'implicit: chosen items have a clearly higher planted preference than popularity alone gives');
SELECT cmp_ok((SELECT corr(ln(rating), d) FROM im JOIN interaction USING (user_id, item_id)),
	'>', 0.3::float8, 'implicit: counts grow with the planted preference');
SELECT cmp_ok((SELECT sum(n) FILTER (WHERE rk <= 10)::float8 / sum(n)
			   FROM (SELECT count(*) n, row_number() OVER (ORDER BY count(*) DESC) rk FROM im GROUP BY item_id) s),
	'>', 0.15::float8, 'implicit: popularity still skewed (uniform would give 10%)');

-- ---------------------------------------------------------------- planner and NULLs
CREATE FUNCTION pg_temp.plan_rows(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
	RETURN (j->0->'Plan'->>'Plan Rows')::float8;
END $$;
SELECT is(pg_temp.plan_rows('SELECT * FROM recsys.synthetic_ratings(1000, 500, 123456)'), 123456::float8,
	'the planner estimates n_ratings rows');
SELECT is((SELECT count(*) FROM recsys.synthetic_ratings(10, 10, NULL)), 0::bigint, 'NULL argument: no rows');

-- ---------------------------------------------------------------- argument errors
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(0, 10, 10)', '22023',
	'argument "n_users" must be at least 1, got 0', 'n_users 0');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(-5, 10, 10)', '22023',
	'argument "n_users" must be at least 1, got -5', 'n_users negative');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 0, 10)', '22023',
	'argument "n_items" must be at least 1, got 0', 'n_items 0');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 0)', '22023',
	'argument "n_ratings" must be between 1 and n_users * n_items = 100, got 0', 'n_ratings 0');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 101)', '22023',
	'argument "n_ratings" must be between 1 and n_users * n_items = 100, got 101', 'n_ratings above n_users * n_items');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(2147483647, 2147483647, 9223372036854775807)', '22023',
	'argument "n_ratings" must be between 1 and n_users * n_items = 4611686014132420609, got 9223372036854775807',
	'huge sizes are checked without overflow');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 10, rank => 0)', '22023',
	'argument "rank" must be between 1 and 1024, got 0', 'rank 0');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 10, rank => 1025)', '22023',
	'argument "rank" must be between 1 and 1024, got 1025', 'rank 1025');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 10, noise => -0.1)', '22023',
	'argument "noise" must be between 0 and 1e+06, got -0.1', 'negative noise');
SELECT throws_ok($$SELECT * FROM recsys.synthetic_ratings(10, 10, 10, noise => 'NaN')$$, '22023',
	'argument "noise" must be between 0 and 1e+06, got NaN', 'NaN noise');
SELECT throws_ok($$SELECT * FROM recsys.synthetic_ratings(10, 10, 10, noise => 'Infinity')$$, '22023',
	'argument "noise" must be between 0 and 1e+06, got Infinity', 'infinite noise');
-- a noise that would overflow real is refused, not turned into infinite ratings
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 10, noise => 1e308)', '22023',
	'argument "noise" must be between 0 and 1e+06, got 1e+308', 'noise 1e308');
SELECT ok((SELECT bool_and(rating::float8 BETWEEN -1e8 AND 1e8)
		   FROM recsys.synthetic_ratings(50, 50, 2500, noise => 1e6)),
	'the largest noise still gives finite ratings');
-- the work is bounded: users past the n_ratings-th have no rows and are not visited,
-- and long calls poll for interrupts, so a statement_timeout stops them at once
CREATE TEMP TABLE synth_runs (run text, seconds float8, state text, rows bigint);
CREATE FUNCTION pg_temp.timed(run text, q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	n bigint;
BEGIN
	EXECUTE q INTO n;
	INSERT INTO synth_runs VALUES (run, extract(epoch FROM clock_timestamp() - t0), 'finished', n);
EXCEPTION WHEN query_canceled THEN
	INSERT INTO synth_runs VALUES (run, extract(epoch FROM clock_timestamp() - t0), SQLSTATE, NULL);
END $$;
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('one rating', 'SELECT count(*) FROM recsys.synthetic_ratings(2147483647, 2, 1)');
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('five ratings', 'SELECT count(DISTINCT user_id) FROM recsys.synthetic_ratings(2147483647, 3, 5)');
SET LOCAL statement_timeout = '300ms';
SELECT pg_temp.timed('many users', 'SELECT count(*) FROM recsys.synthetic_ratings(2147483647, 2, 4294967294)');
SET LOCAL statement_timeout = '300ms';
SELECT pg_temp.timed('one big user', 'SELECT count(*) FROM recsys.synthetic_ratings(1, 2000000, 2000000, rank => 1, implicit => true)');
SET LOCAL statement_timeout = 0;
SELECT is((SELECT state || ' ' || rows FROM synth_runs WHERE run = 'one rating'), 'finished 1',
	'2^31 - 1 users and one rating: one row, within a second');
SELECT is((SELECT state || ' ' || rows FROM synth_runs WHERE run = 'five ratings'), 'finished 5',
	'fewer ratings than users: one rating each for the first n_ratings users');
SELECT is((SELECT state FROM synth_runs WHERE run = 'many users'), '57014',
	'a generation over 2^31 users is canceled by statement_timeout');
SELECT cmp_ok((SELECT seconds FROM synth_runs WHERE run = 'many users'), '<', 1.3::float8,
	'and stops within a second of it');
SELECT is((SELECT state FROM synth_runs WHERE run = 'one big user'), '57014',
	'one user drawing 2 million implicit items is canceled by statement_timeout');
SELECT cmp_ok((SELECT seconds FROM synth_runs WHERE run = 'one big user'), '<', 1.3::float8,
	'and stops within a second of it');
-- a generator bigger than 1 GB is refused up front
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(1, 2147483647, 1)', '54000',
	'synthetic_ratings of 2147483647 items at rank 8 would need 155647 MB, more than the 1024 MB it may use',
	'huge catalogue: 54000');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 300000, 10, rank => 1024)', '54000', NULL,
	'rank 1024 over 300000 items: 54000');

-- ---------------------------------------------------------------- fold
CREATE TEMP TABLE pairs AS
	SELECT u::bigint AS user_id, i::bigint AS item_id, recsys.fold(u, i, 5) AS f
	FROM generate_series(1, 500) u, generate_series(1, 200) i;
SELECT ok((SELECT bool_and(f BETWEEN 0 AND 4) FROM pairs), 'fold is in [0, folds)');
-- 100000 pairs into 5 folds: 20000 expected each, sd 126; chi-square with 4 degrees
-- of freedom exceeds 18.5 with probability 0.001
SELECT cmp_ok((SELECT sum((n - 20000.0) ^ 2 / 20000.0)::float8 FROM (SELECT count(*) n FROM pairs GROUP BY f) s),
	'<', 18.5::float8, 'fold splits uniformly (chi-square)');
SELECT is((SELECT count(DISTINCT f) FROM pairs), 5::bigint, 'every fold is used');
SELECT ok((SELECT bool_and(recsys.fold(user_id, item_id, 5) = f) FROM pairs), 'fold is deterministic');
SELECT is((SELECT recsys.fold(7, 9, 5, 42)), (SELECT f FROM pairs WHERE user_id = 7 AND item_id = 9),
	'the default seed is 42');
SELECT cmp_ok((SELECT avg((recsys.fold(user_id, item_id, 5, 7) <> f)::int) FROM pairs),
	'>', 0.75::numeric, 'another seed reassigns about 4/5 of the pairs');
-- the fold of (u, i) is not tied to the user or the item alone
SELECT cmp_ok((SELECT min(k) FROM (SELECT count(DISTINCT f) k FROM pairs GROUP BY user_id) s),
	'=', 5::bigint, 'every user has pairs in every fold');
SELECT ok((SELECT recsys.fold(1, 2, 5) <> recsys.fold(2, 1, 5) OR recsys.fold(1, 3, 5) <> recsys.fold(3, 1, 5)
			  OR recsys.fold(1, 4, 5) <> recsys.fold(4, 1, 5)), 'user and item are not interchangeable');
SELECT is((SELECT count(*) FROM pairs WHERE recsys.fold(user_id, item_id, 1) <> 0), 0::bigint, 'one fold is fold 0');
SELECT ok((SELECT recsys.fold(-9223372036854775808, 9223372036854775807, 2147483647, -2147483648)
		   BETWEEN 0 AND 2147483646), 'extreme ids, folds and seed');
SELECT is(recsys.fold(1, NULL, 5), NULL, 'NULL in, NULL out');
SELECT throws_ok('SELECT recsys.fold(1, 2, 0)', '22023', 'argument "folds" must be at least 1, got 0', 'folds 0');
SELECT throws_ok('SELECT recsys.fold(1, 2, -3)', '22023', 'argument "folds" must be at least 1, got -3', 'folds negative');

SELECT * FROM finish();
ROLLBACK;
