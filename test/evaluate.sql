-- recsys.evaluate against the metric functions applied by hand in SQL: the same
-- recommendations (recsys.recommend per user), the same relevant sets, the same
-- formulas; and its options, keys and every error path.
BEGIN;
SELECT plan(52);

-- planted explicit ratings, 80/20 split; a few test rows of users and items the
-- model never saw, and one duplicated test row
CREATE TEMP TABLE ratings AS
	SELECT * FROM recsys.synthetic_ratings(300, 150, 9000, seed => 11);
CREATE TEMP TABLE train_r AS
	SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) <> 0;
CREATE TEMP TABLE test_r AS
	SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) = 0
	UNION ALL VALUES (100001, 1, 5.0::real), (100002, 2, 4.5), (100002, 3, 1.0), (1, 999999, 5.0)
	UNION ALL (SELECT * FROM ratings WHERE recsys.fold(user_id, item_id, 5) = 0 AND rating >= 4 LIMIT 1);
CREATE TEMP TABLE mdl AS
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 6}') AS m FROM train_r;
INSERT INTO recsys.models (name, model) SELECT 'ev', m FROM mdl;

-- evaluate(m, query, k) next to the hand computation with relevant = rating >= t
CREATE FUNCTION pg_temp.hand(m recsys.model, k int, relevant_sql text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	result jsonb;
BEGIN
	EXECUTE format($q$
		WITH rel AS (%s),
		per_user AS (
			SELECT rel.rel,
				   (SELECT array_agg(r.item_id ORDER BY r.score DESC, r.item_id)
					FROM recsys.recommend($1, rel.user_id, $2) r) AS rec
			FROM rel WHERE recsys.user_vector($1, rel.user_id) IS NOT NULL)
		SELECT jsonb_build_object(
			'precision', avg(recsys.precision_at_k(rec, rel, $2)),
			'recall', avg(recsys.recall_at_k(rec, rel, $2)),
			'ndcg', avg(recsys.ndcg_at_k(rec, rel, $2)),
			'map', avg(recsys.average_precision_at_k(rec, rel, $2)),
			'hit_rate', avg(recsys.hit_rate_at_k(rec, rel, $2)),
			'users', count(*),
			'coverage', (SELECT count(DISTINCT i) FROM per_user, unnest(rec) i)::float8
						/ (recsys.model_info($1) ->> 'n_items')::int)
		FROM per_user$q$, relevant_sql)
		INTO result USING m, k;
	RETURN result;
END
$$;

-- whether every ranking metric and the coverage agree within 1e-6
CREATE FUNCTION pg_temp.agree(e jsonb, h jsonb, k int) RETURNS text
LANGUAGE sql AS $$
	SELECT coalesce(string_agg(format('%s: evaluate %s, by hand %s', key, e ->> (key || '@' || k), h ->> key), '; '), 'agree')
	FROM unnest(ARRAY['precision', 'recall', 'ndcg', 'map', 'hit_rate']) key
	WHERE NOT abs((e ->> (key || '@' || k))::float8 - (h ->> key)::float8) < 1e-6
	UNION ALL
	SELECT 'coverage ' || (e ->> 'coverage') || ' vs ' || (h ->> 'coverage')
	WHERE NOT abs((e ->> 'coverage')::float8 - (h ->> 'coverage')::float8) < 1e-6
	LIMIT 1
$$;

CREATE TEMP TABLE ev AS
	SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 10) AS e,
		   pg_temp.hand(m, 10, 'SELECT user_id, array_agg(item_id) AS rel FROM test_r WHERE rating >= 4 GROUP BY user_id') AS h
	FROM mdl;

-- explicit model, three columns
SELECT is((SELECT pg_temp.agree(e, h, 10) FROM ev), 'agree',
		  'explicit: precision, recall, ndcg, map, hit_rate @10 and coverage equal the metric functions by hand');
SELECT is((SELECT (e ->> 'users')::bigint FROM ev), (SELECT (h ->> 'users')::bigint FROM ev),
		  'users: known test users with at least one rating >= 4');
SELECT ok((SELECT (e ->> 'users')::int BETWEEN 100 AND 300 FROM ev), 'a sizeable number of users is evaluated');
SELECT ok((SELECT abs((e ->> 'rmse')::float8 - recsys.rmse(recsys.predict(m, user_id, item_id), rating)) < 1e-9
		   FROM ev, mdl, test_r GROUP BY e),
		  'rmse equals recsys.rmse(recsys.predict(m, u, i), rating) over every test row');
SELECT ok((SELECT abs((e ->> 'mae')::float8 - recsys.mae(recsys.predict(m, user_id, item_id), rating)) < 1e-9
		   FROM ev, mdl, test_r GROUP BY e),
		  'mae equals recsys.mae(recsys.predict(m, u, i), rating)');
SELECT is((SELECT (e ->> 'test_rows')::bigint FROM ev), (SELECT count(*) FROM test_r),
		  'test_rows counts the rows of the test query');
SELECT is((SELECT (e ->> 'unknown_users')::int FROM ev), 2, 'unknown_users: test users the model does not know');
SELECT set_eq($$SELECT jsonb_object_keys(e) FROM ev$$,
			  ARRAY['rmse', 'mae', 'precision@10', 'recall@10', 'ndcg@10', 'map@10', 'hit_rate@10',
					'coverage', 'users', 'test_rows', 'unknown_users'],
			  'explicit model with ratings: every key, k in the metric names');
SELECT ok((SELECT bool_and((e ->> key)::float8 BETWEEN 0 AND 1) FROM ev,
			unnest(ARRAY['precision@10', 'recall@10', 'ndcg@10', 'map@10', 'hit_rate@10', 'coverage']) key),
		  'ranking metrics and coverage lie in [0, 1]');
SELECT ok((SELECT (e ->> 'ndcg@10')::float8 > 0 AND (e ->> 'recall@10')::float8 > 0 FROM ev),
		  'the planted structure is found: ndcg and recall are positive');

-- the planted model ranks better than the most popular items for everyone
SELECT ok((SELECT (e ->> 'ndcg@10')::float8 > (
			SELECT avg(recsys.ndcg_at_k(pop.items, rel.rel, 10))
			FROM (SELECT user_id, array_agg(item_id) rel FROM test_r WHERE rating >= 4 GROUP BY user_id) rel
			JOIN (SELECT DISTINCT user_id FROM train_r) known USING (user_id),
				 (SELECT array_agg(item_id ORDER BY n DESC, item_id) items
				  FROM (SELECT item_id, count(*) n FROM train_r GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10) p) pop)
		   FROM ev),
		  'explicit ndcg@10 beats recommending the ten most popular items to everyone');

-- relevance_threshold, other k, the name overload
SELECT is((SELECT pg_temp.agree(recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r', 5,
											   '{"relevance_threshold": 3}'),
								pg_temp.hand(m, 5, 'SELECT user_id, array_agg(item_id) AS rel FROM test_r WHERE rating >= 3 GROUP BY user_id'), 5)
		   FROM mdl), 'agree', 'relevance_threshold 3 and k = 5 agree with the hand computation');
SELECT is(recsys.evaluate('ev', 'SELECT user_id, item_id, rating FROM test_r', 10), (SELECT e FROM ev),
		  'the name overload gives the same result');
SELECT is((SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM test_r;  ', 10) FROM mdl), (SELECT e FROM ev),
		  'a trailing semicolon is accepted');
SELECT is((SELECT recsys.evaluate(m, 'SELECT user_id::int, item_id::numeric, rating::float8 FROM test_r', 10) FROM mdl),
		  (SELECT e FROM ev), 'columns are cast to bigint, bigint, real, whatever their names and types');

-- two columns: every test item is relevant, no rating metrics
CREATE TEMP TABLE ev2 AS
	SELECT recsys.evaluate(m, 'SELECT user_id, item_id FROM test_r', 10) AS e,
		   pg_temp.hand(m, 10, 'SELECT user_id, array_agg(item_id) AS rel FROM test_r GROUP BY user_id') AS h
	FROM mdl;
SELECT is((SELECT pg_temp.agree(e, h, 10) FROM ev2), 'agree', 'two columns: every test item is relevant');
SELECT is((SELECT e ?| ARRAY['rmse', 'mae'] FROM ev2), false, 'two columns: no rmse or mae');
SELECT is((SELECT (e ->> 'users')::bigint FROM ev2), (SELECT (h ->> 'users')::bigint FROM ev2),
		  'two columns: every known test user is evaluated');

-- training items are excluded: evaluating on the training rows finds nothing
SELECT is((SELECT recsys.evaluate(m, 'SELECT user_id, item_id FROM train_r', 10) ->> 'hit_rate@10' FROM mdl), '0',
		  'training items are never recommended, so evaluating on them hits nothing');
SELECT ok((SELECT (recsys.evaluate(recsys.train_als(user_id, item_id, rating,
				'{"factors": 6, "iterations": 6, "keep_interactions": false}'),
				'SELECT user_id, item_id FROM train_r', 10) ->> 'hit_rate@10')::float8 > 0 FROM train_r),
		  'a model trained without keep_interactions cannot exclude them');

-- implicit model: ranking metrics only, every test item relevant
CREATE TEMP TABLE plays AS
	SELECT * FROM recsys.synthetic_ratings(300, 150, 9000, seed => 12, implicit => true);
CREATE TEMP TABLE imdl AS
	SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 6, "iterations": 6}') AS m
	FROM plays WHERE recsys.fold(user_id, item_id, 5) <> 0;
CREATE TEMP TABLE ev3 AS
	SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM plays WHERE recsys.fold(user_id, item_id, 5) = 0', 10) AS e,
		   pg_temp.hand(m, 10, 'SELECT user_id, array_agg(item_id) AS rel FROM plays WHERE recsys.fold(user_id, item_id, 5) = 0 GROUP BY user_id') AS h
	FROM imdl;
SELECT is((SELECT pg_temp.agree(e, h, 10) FROM ev3), 'agree', 'implicit: agrees with the hand computation, every test item relevant');
SELECT set_eq($$SELECT jsonb_object_keys(e) FROM ev3$$,
			  ARRAY['precision@10', 'recall@10', 'ndcg@10', 'map@10', 'hit_rate@10',
					'coverage', 'users', 'test_rows', 'unknown_users'],
			  'implicit model: no rmse or mae');
SELECT is((SELECT pg_temp.agree(recsys.evaluate(m, 'SELECT user_id, item_id, rating FROM plays WHERE recsys.fold(user_id, item_id, 5) = 0',
											   10, '{"relevance_threshold": 5}'),
								pg_temp.hand(m, 10, 'SELECT user_id, array_agg(item_id) AS rel FROM plays WHERE recsys.fold(user_id, item_id, 5) = 0 AND rating >= 5 GROUP BY user_id'), 10)
		   FROM imdl), 'agree', 'implicit with an explicit relevance_threshold applies it to the weights');
SELECT ok((SELECT (e ->> 'precision@10')::float8 > 0.05 FROM ev3), 'implicit: precision@10 well above chance (10/150 items)');

-- edge cases
SELECT is((SELECT recsys.evaluate(m, 'SELECT 1::bigint, 2::bigint WHERE false', 10) FROM mdl),
		  '{"users": 0, "coverage": 0, "map@10": null, "ndcg@10": null, "recall@10": null, "test_rows": 0, "hit_rate@10": null, "precision@10": null, "unknown_users": 0}'::jsonb,
		  'an empty test query: no users, NULL metrics');
SELECT is((SELECT recsys.evaluate(m, 'SELECT NULL::bigint, 1, 5.0 UNION ALL SELECT 1, NULL, 5.0', 10) ->> 'test_rows' FROM mdl), '2',
		  'rows with a NULL user or item are counted in test_rows and otherwise skipped');
SELECT is((SELECT recsys.evaluate(m, 'SELECT NULL::bigint, 1, 5.0 UNION ALL SELECT 1, NULL, 5.0', 10) ->> 'rmse' FROM mdl), NULL,
		  'no rated pair: rmse is null');
SELECT ok((SELECT recsys.evaluate(m, 'SELECT 1, 5, NULL::real', 10) ->> 'users' = '0'
				  AND recsys.evaluate(m, 'SELECT 1, 5, NULL::real', 10) -> 'mae' = 'null' FROM mdl),
		  'a NULL rating is neither an error nor relevant');
SELECT is((SELECT (recsys.evaluate(m, 'SELECT user_id, item_id FROM test_r', 1000) ->> 'users')::bigint FROM mdl),
		  (SELECT (e ->> 'users')::bigint FROM ev2), 'k larger than the catalogue works');
SELECT ok((SELECT (recsys.evaluate(m, 'SELECT user_id, item_id FROM test_r', 1000) ->> 'precision@1000')::float8 < 0.02 FROM mdl),
		  'precision divides by k even when fewer items exist');
SELECT is((SELECT (recsys.evaluate(m, 'SELECT user_id, item_id FROM test_r', 1000) ->> 'recall@1000')::float8
		   FROM mdl) < 1.0, true, 'relevant test items that are training items or unknown can never be found');

-- errors
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT user_id, item_id FROM test_r', 0) FROM mdl$$,
				 '22023', 'k must be between 1 and 100000, got 0', 'k = 0: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT user_id, item_id FROM test_r', -3) FROM mdl$$,
				 '22023', 'k must be between 1 and 100000, got -3', 'k < 0: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT user_id, item_id FROM test_r', 100001) FROM mdl$$,
				 '22023', 'k must be between 1 and 100000, got 100001', 'k too large: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT user_id FROM test_r') FROM mdl$$,
				 '22023', 'test query must return 2 or 3 columns (user, item [, value]), got 1', 'one column: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT user_id, item_id, rating, rating FROM test_r') FROM mdl$$,
				 '22023', 'test query must return 2 or 3 columns (user, item [, value]), got 4', 'four columns: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT user_id, gen_random_uuid() FROM test_r') FROM mdl$$,
				 '22023', 'column 2 (item) of the test query has type uuid, which cannot be cast to bigint',
				 'an item column that cannot be cast: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2, ARRAY[1]') FROM mdl$$,
				 '22023', 'column 3 (value) of the test query has type integer[], which cannot be cast to real',
				 'a value column that cannot be cast: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, ''x''::text') FROM mdl$$,
				 '22P02', NULL, 'text that is not a number fails like a cast');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELEC 1, 2') FROM mdl$$,
				 '42601', NULL, 'a syntax error: 42601');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2; SELECT 3, 4') FROM mdl$$,
				 '22023', 'test query must be exactly one SELECT statement, got 2 statements', 'two statements: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'DELETE FROM test_r') FROM mdl$$,
				 '22023', 'test query must be a SELECT statement', 'a statement without rows: 22023');
SELECT is((SELECT count(*) FROM test_r) > 0, true, 'and nothing was deleted');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2, ''NaN''::real') FROM mdl$$,
				 '22000', 'test value must be finite, got NaN for user 1 and item 2', 'a NaN rating: 22000');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2, ''-Infinity''::float8') FROM mdl$$,
				 '22000', 'test value must be finite, got -Infinity for user 1 and item 2', 'an infinite rating: 22000');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2, 1e300') FROM mdl$$,
				 '22003', NULL, 'a value out of real range fails like a cast');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"relevance": 4}') FROM mdl$$,
				 '22023', 'unknown option "relevance" for evaluate', 'unknown option: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '{"relevance_threshold": "4"}') FROM mdl$$,
				 '22023', 'option "relevance_threshold" must be a number', 'relevance_threshold not a number: 22023');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2', 10, '[1]') FROM mdl$$,
				 '22023', 'options of evaluate must be a JSON object', 'options not an object: 22023');
SELECT throws_ok($$SELECT recsys.evaluate('no such model', 'SELECT 1, 2')$$,
				 '42704', 'model "no such model" does not exist', 'unknown name: 42704');
SELECT ok((SELECT recsys.evaluate(NULL::recsys.model, 'SELECT 1, 2') IS NULL
			AND recsys.evaluate(m, NULL) IS NULL AND recsys.evaluate(m, 'SELECT 1, 2', NULL) IS NULL FROM mdl),
		  'NULL arguments give NULL');
SELECT throws_ok($$SELECT recsys.evaluate(m, 'SELECT 1, 2, ''x''::text') FROM mdl$$,
				 '22P02', NULL, 'a text rating that is not a number fails like a cast');

SELECT * FROM finish();
ROLLBACK;
