-- Beyond plain accuracy: recsys.evaluate's propensity, beyond_accuracy and
-- cold_items options, recsys.evaluate_users' per-user rows, and recsys.split.
-- A tiny implicit model whose lists are every unseen item (k exceeds them), so
-- the list-based numbers do not depend on the factors and are exact.

-- training: user 1 {1,2}, 2 {1,2,3}, 3 {1,4}, 4 {1,5}; counts 4, 2, 1, 1, 1
CREATE TABLE tiny_train (user_id bigint, item_id bigint, v real);
INSERT INTO tiny_train VALUES (1, 1, 1), (1, 2, 1), (2, 1, 1), (2, 2, 1), (2, 3, 1),
	(3, 1, 1), (3, 4, 1), (4, 1, 1), (4, 5, 1);
CREATE TABLE tiny_test (user_id bigint, item_id bigint);
INSERT INTO tiny_test VALUES (1, 3), (2, 4), (3, 2), (4, 2), (4, 9);
CREATE TABLE tiny AS
	SELECT recsys.train_ials(user_id, item_id, v, '{"factors": 2, "iterations": 3}') AS m FROM tiny_train;

-- the beyond-accuracy keys: novelty 11/6, popularity 7/6, Gini 14/55, coverage 4/5
SELECT key, round(value::numeric, 6) AS value
FROM tiny, jsonb_each_text(recsys.evaluate(m, 'SELECT * FROM tiny_test', 10, '{"beyond_accuracy": true}'))
WHERE key IN ('novelty@10', 'popularity@10', 'gini@10', 'coverage', 'users')
ORDER BY key;

-- one row per scored user; the lists have 3, 2, 3, 3 items, user 4 has two test
-- items (one the model never saw)
SELECT user_id, n_test, n_recommended, round(novelty::numeric, 4) AS novelty,
	   round(popularity::numeric, 4) AS popularity, diversity IS NOT NULL AS has_diversity,
	   ips_recall IS NULL AS no_ips
FROM tiny, recsys.evaluate_users(m, 'SELECT * FROM tiny_test', 10, '{"beyond_accuracy": true}')
ORDER BY user_id;

-- cold items: only item 9, which no training row has
SELECT e ->> 'users' AS users, e ->> 'recall@10' AS recall, e ->> 'test_rows' AS test_rows
FROM (SELECT recsys.evaluate(m, 'SELECT * FROM tiny_test', 10, '{"cold_items": true}') AS e FROM tiny) s;

-- propensity keys appear with the option
SELECT key FROM tiny, jsonb_object_keys(recsys.evaluate(m, 'SELECT * FROM tiny_test', 10,
	'{"propensity": "popularity"}')) key WHERE key LIKE 'ips%' OR key = 'gamma' ORDER BY key;

-- splits: user 1's last two by time; the latest third overall
CREATE TABLE timed (user_id bigint, item_id bigint, v real, at date);
INSERT INTO timed VALUES (1, 1, 1, '2024-01-01'), (1, 2, 1, '2024-01-03'), (1, 3, 1, '2024-01-02'),
	(1, 4, 1, '2024-01-05'), (2, 1, 1, '2024-01-04'), (2, 2, 1, '2024-01-06');
SELECT * FROM recsys.split('SELECT user_id, item_id, v, at FROM timed', 'last', '{"k": 2}')
ORDER BY user_id, item_id;
SELECT * FROM recsys.split('SELECT user_id, item_id, v, at FROM timed', 'time', '{"test_fraction": 0.34}')
ORDER BY user_id, item_id;

-- errors (terse: the messages without their call stack)
\set VERBOSITY terse
SELECT recsys.evaluate(m, 'SELECT * FROM tiny_test', 10, '{"propensity": "popularity", "gamma": 12}') FROM tiny;
SELECT recsys.evaluate(m, 'SELECT * FROM tiny_test', 10, '{"beyond_accuracy": "yes"}') FROM tiny;
SELECT * FROM recsys.split('SELECT * FROM timed', 'last', '{"k": 0}');

\set VERBOSITY default
DROP TABLE tiny_train, tiny_test, tiny, timed;
