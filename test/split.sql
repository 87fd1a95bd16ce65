-- recsys.split: random (by recsys.fold), leave-last-k per user and a global
-- time cut; the fractions, the time order each promises, determinism, the
-- caller's search_path for the query, and every error.
BEGIN;
SELECT plan(30);

-- planted ratings with a time per row: a hash of the pair spread over 100,000
-- minutes, so some times tie; a few rows without user, item or time
CREATE TEMP TABLE ev AS
	SELECT user_id, item_id, rating,
		   timestamptz '2024-01-01' + recsys.fold(user_id, item_id, 100000, 7) * interval '1 minute' AS ts
	FROM recsys.synthetic_ratings(200, 100, 6000, seed => 3);
INSERT INTO ev VALUES (NULL, 1, 3, now()), (1, NULL, 3, now());
INSERT INTO ev VALUES (500, 1, 3, NULL), (500, 2, 3, timestamptz '2020-01-01'), (500, 3, 3, timestamptz '2021-01-01');

-- ------------------------------------------------------------- leave last k
CREATE TEMP TABLE s_last AS
	SELECT * FROM recsys.split('SELECT user_id, item_id, rating, ts FROM ev', 'last', '{"k": 2}');
CREATE TEMP TABLE s_joined AS
	SELECT s.*, e.ts FROM s_last s JOIN ev e USING (user_id, item_id);
SELECT is((SELECT count(*) FROM s_last), (SELECT count(*) FROM ev WHERE user_id IS NOT NULL AND item_id IS NOT NULL),
		  'last: every row with a user and an item comes back once');
SELECT is((SELECT count(*) FROM (SELECT user_id FROM s_last GROUP BY user_id
								 HAVING count(*) FILTER (WHERE is_test) <> 2) s), 0::bigint,
		  'last: every user (all have more than 2 rows) has exactly 2 test rows');
SELECT is((SELECT count(*) FROM s_joined t JOIN s_joined r USING (user_id)
		   WHERE t.is_test AND NOT r.is_test AND t.ts < r.ts), 0::bigint,
		  'last: no test interaction precedes any of its user''s training interactions');
SELECT is((SELECT count(*) FROM s_joined t
		   WHERE t.is_test AND t.ts <> (SELECT max(ts) FROM s_joined r WHERE r.user_id = t.user_id)
			 AND t.ts < (SELECT min(ts) FROM s_joined r WHERE r.user_id = t.user_id AND r.is_test)), 0::bigint,
		  'last: test rows are the latest');
SELECT is((SELECT array_agg(item_id ORDER BY item_id) FROM s_last WHERE user_id = 500 AND is_test),
		  ARRAY[2, 3]::bigint[], 'last: a NULL time counts as the oldest');
SELECT is((SELECT count(*) FROM recsys.split('SELECT user_id, item_id, rating, ts FROM ev WHERE user_id = 500', 'last', '{"k": 3}')
		   WHERE is_test), 0::bigint, 'last: a user with at most k rows keeps them all for training');
SELECT is((SELECT count(*) FROM recsys.split('SELECT user_id, item_id, rating, ts FROM ev', 'last') WHERE is_test),
		  (SELECT count(DISTINCT user_id) FROM ev WHERE item_id IS NOT NULL),
		  'last: k defaults to 1, one test row per user');
-- ties at the cut are broken by item id: deterministic
SELECT is((SELECT count(*) FROM (
			 (SELECT * FROM recsys.split('SELECT user_id, item_id, rating, ts FROM ev', 'last', '{"k": 2}')
			  EXCEPT SELECT * FROM s_last)
			 UNION ALL
			 (SELECT * FROM s_last EXCEPT
			  SELECT * FROM recsys.split('SELECT user_id, item_id, rating, ts FROM ev ORDER BY random()', 'last', '{"k": 2}'))) d),
		  0::bigint, 'last: the same split whatever order the query returns rows in');

-- ---------------------------------------------------------------- time cut
CREATE TEMP TABLE s_time AS
	SELECT s.*, e.ts FROM recsys.split('SELECT user_id, item_id, rating, ts FROM ev', 'time', '{"test_fraction": 0.1}') s
	JOIN ev e USING (user_id, item_id);
SELECT is((SELECT count(*) FILTER (WHERE is_test) FROM s_time), round(0.1 * 6003)::bigint,
		  'time: round(test_fraction * rows) test rows');
SELECT ok((SELECT min(ts) FILTER (WHERE is_test) >= max(ts) FILTER (WHERE NOT is_test) FROM s_time),
		  'time: every test row is at or after every training row');
SELECT is((SELECT count(*) FILTER (WHERE is_test) FROM recsys.split('SELECT user_id, item_id, rating, ts FROM ev', 'time')),
		  round(0.2 * 6003)::bigint, 'time: test_fraction defaults to 0.2');

-- ------------------------------------------------------------------ random
CREATE TEMP TABLE s_rand AS
	SELECT * FROM recsys.split('SELECT user_id, item_id, rating FROM ev', 'random', '{"test_fraction": 0.25}');
SELECT ok((SELECT abs(avg(is_test::int) - 0.25) < 4 * sqrt(0.25 * 0.75 / 6003) FROM s_rand),
		  'random: the test share is 0.25 within four standard deviations');
SELECT is((SELECT count(*) FROM s_rand WHERE is_test <> (recsys.fold(user_id, item_id, 1000000) < 250000)), 0::bigint,
		  'random: a row is test exactly when recsys.fold(user, item, 1000000, seed) < fraction * 1000000');
SELECT ok((SELECT count(*) FROM s_rand a JOIN recsys.split('SELECT user_id, item_id, rating FROM ev', 'random',
												 '{"test_fraction": 0.25, "seed": 9}') b USING (user_id, item_id)
		   WHERE a.is_test <> b.is_test) > 0, 'random: another seed gives another split');
SELECT is((SELECT count(*) FROM s_rand a JOIN recsys.split('SELECT user_id, item_id, rating FROM ev', 'random',
												 '{"test_fraction": 0.25}') b USING (user_id, item_id)
		   WHERE a.is_test <> b.is_test), 0::bigint, 'random: deterministic');
SELECT is((SELECT count(*) FROM recsys.split('SELECT user_id, item_id, rating FROM ev UNION ALL SELECT user_id, item_id, 1 FROM ev', 'random')
		   GROUP BY user_id, item_id HAVING count(DISTINCT is_test) > 1), NULL,
		  'random: duplicate pairs land on the same side');
SELECT ok((SELECT abs(avg(is_test::int) - 0.2) < 4 * sqrt(0.2 * 0.8 / 6003)
		   FROM recsys.split('SELECT user_id, item_id, rating FROM ev')), 'random is the default method, 0.2 the default fraction');

-- a train/test round trip: train on the training side, evaluate on the test side
SELECT ok((SELECT (recsys.evaluate(m, 'SELECT user_id, item_id FROM s_last WHERE is_test', 10) ->> 'users')::int = 201
		   FROM (SELECT recsys.train_als(user_id, item_id, value, '{"factors": 4, "iterations": 3}') AS m
				 FROM s_last WHERE NOT is_test) t),
		  'the split feeds training and evaluate');

-- the query runs with the caller's search_path
CREATE SCHEMA split_s;
CREATE TABLE split_s.mine AS SELECT 1::bigint AS u, 2::bigint AS i, 3::real AS v;
SET LOCAL search_path = split_s, public;
SELECT is((SELECT count(*) FROM recsys.split('SELECT u, i, v FROM mine')), 1::bigint,
		  'unqualified names in the query resolve on the caller''s search_path');
RESET search_path;
SELECT is(current_setting('search_path'), (SELECT setting FROM pg_settings WHERE name = 'search_path'),
		  'and the search_path is unchanged afterwards');

-- ----------------------------------------------------------------- errors
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3', 'shuffle')$$, '22023',
				 'split method must be "random", "last" or "time", got "shuffle"', 'unknown method: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3', 'random', '{"k": 1}')$$, '22023',
				 'unknown option "k" for split method "random"', 'an option of another method: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3', 'random', '{"test_fraction": 1}')$$, '22023',
				 'option "test_fraction" must be a number between 0 and 1 (exclusive), got 1', 'fraction 1: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3', 'time', '{"test_fraction": "0.1"}')$$, '22023',
				 'option "test_fraction" must be a number between 0 and 1 (exclusive), got "0.1"', 'fraction a string: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3, 4', 'last', '{"k": 0}')$$, '22023',
				 'option "k" must be an integer between 1 and 2147483647, got 0', 'k 0: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3, 4', 'last', '{"k": 1.5}')$$, '22023',
				 'option "k" must be an integer between 1 and 2147483647, got 1.5', 'k 1.5: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3', 'random', '{"seed": 1e20}')$$, '22023',
				 NULL, 'seed out of range: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3', 'random', '[]')$$, '22023',
				 'options of split must be a JSON object', 'options an array: 22023');
SELECT throws_ok($$SELECT * FROM recsys.split('SELECT 1, 2, 3', 'last')$$, '42P10', NULL,
				 'last without a time column: 42P10');
SELECT is((SELECT count(*) FROM recsys.split(NULL, 'random')), 0::bigint, 'a NULL argument gives no rows');

SELECT * FROM finish();
ROLLBACK;
