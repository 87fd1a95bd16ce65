-- recsys.tune: the search finds the planted rank, every trial is recorded, the
-- best configuration is registered as a version trained on all rows, a search
-- repeats exactly with its seed, a cancel leaves the registry and the trials as
-- they were, failed trials are recorded, the splits hold out what they say, bad
-- search objects are 22023 and other roles see nothing.
BEGIN;
SELECT plan(55);

CREATE ROLE recsys_tuner;
CREATE ROLE recsys_tune_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models, recsys.model_history
	TO recsys_tuner, recsys_tune_other;

-- explicit ratings with a planted rank of 6 (little noise, dense enough that a
-- larger model only overfits)
CREATE TABLE public.tn_ratings AS
	SELECT * FROM recsys.synthetic_ratings(800, 400, 80000, rank => 6, noise => 0.25, seed => 2);
-- implicit clicks with a time column: each user's clicks in item order
CREATE TABLE public.tn_clicks AS
	SELECT user_id, item_id, 1 AS clicks,
		   timestamptz '2026-01-01' + (user_id * 7 + item_id) * interval '1 minute' AS ts
	FROM recsys.synthetic_ratings(300, 150, 9000, rank => 4, seed => 5, implicit => true);
GRANT SELECT ON public.tn_ratings, public.tn_clicks TO recsys_tuner, recsys_tune_other;

SET ROLE recsys_tuner;

-- the planted rank is the best number of factors
SELECT is(recsys.tune('tn_als', 'SELECT user_id, item_id, rating FROM public.tn_ratings',
	'{"metric": "rmse", "method": "grid", "space": {"als": {"factors": [2, 4, 6, 9, 12], "regularization": 0.05}}}')
	->> 'factors', '6', 'a grid over factors picks the planted rank (6)');
SELECT results_eq($$SELECT trial, algorithm, (options ->> 'factors')::int, best FROM recsys.tuning_trials
					WHERE name = 'tn_als' ORDER BY trial$$,
				  $$VALUES (1, 'als', 2, false), (2, 'als', 4, false), (3, 'als', 6, true),
						   (4, 'als', 9, false), (5, 'als', 12, false)$$,
				  'every grid point is a trial, in order, the planted one marked best');
SELECT ok((SELECT bool_and(score = (metrics ->> 'rmse')::float8 AND metrics ? 'ndcg@10'
						   AND seconds >= 0 AND error IS NULL AND owner = 'recsys_tuner'::regrole
						   AND version = 1)
		   FROM recsys.tuning_trials WHERE name = 'tn_als'),
		  'each trial has its metrics, score (the rmse), time, owner and the version it led to');
SELECT is((SELECT score FROM recsys.tuning_trials WHERE name = 'tn_als' AND best),
		  (SELECT min(score) FROM recsys.tuning_trials WHERE name = 'tn_als'),
		  'the best trial has the lowest rmse');
SELECT ok((SELECT m.status = 'tuned' AND m.version = 1
				  AND m.options = '{"factors": 6, "regularization": 0.05}'
				  AND m.metrics = t.metrics
				  AND m.source = 'SELECT user_id, item_id, rating FROM public.tn_ratings'
		   FROM recsys.models m, recsys.tuning_trials t
		   WHERE m.name = 'tn_als' AND t.name = 'tn_als' AND t.best),
		  'the registry row is the tuned version with the best options, validation metrics and the source');
SELECT is((recsys.model_info('tn_als') ->> 'n_interactions')::bigint,
		  (SELECT count(*) FROM public.tn_ratings),
		  'the registered model is trained on all the rows, not the training side');
SELECT is(recsys.retrain('tn_als') ->> 'factors', '6', 'retrain rebuilds the tuned configuration');

-- a second search of the same name is the next version; its trials are apart
SELECT is(recsys.tune('tn_als', 'SELECT user_id, item_id, rating FROM public.tn_ratings',
	'{"metric": "rmse", "trials": 3, "seed": 9}') ->> 'version', '3', 'a new search registers version 3');
SELECT is((SELECT count(*) FROM recsys.tuning_trials WHERE name = 'tn_als' AND version = 3), 3::bigint,
		  'its three trials are recorded under version 3');
SELECT is((SELECT string_agg(version::text || status, ',' ORDER BY version) FROM recsys.model_versions('tn_als')),
		  '1tuned,2trained,3tuned', 'model_versions shows the tuned versions');

-- determinism: the same seed repeats the search; another seed draws other options
SELECT lives_ok($$SELECT recsys.tune('tn_d1', 'SELECT user_id, item_id, clicks FROM public.tn_clicks',
	'{"trials": 6, "seed": 4}')$$, 'a random search over the default algorithms');
SELECT lives_ok($$SELECT recsys.tune('tn_d2', 'SELECT user_id, item_id, clicks FROM public.tn_clicks',
	'{"trials": 6, "seed": 4}')$$, 'the same search again');
SELECT lives_ok($$SELECT recsys.tune('tn_d3', 'SELECT user_id, item_id, clicks FROM public.tn_clicks',
	'{"trials": 6, "seed": 5}')$$, 'with another seed');
SELECT results_eq($$SELECT trial, algorithm, options, score, best FROM recsys.tuning_trials WHERE name = 'tn_d1' ORDER BY trial$$,
				  $$SELECT trial, algorithm, options, score, best FROM recsys.tuning_trials WHERE name = 'tn_d2' ORDER BY trial$$,
				  'the same seed gives the same trials, options and scores');
SELECT is((SELECT model::text FROM recsys.models WHERE name = 'tn_d1') = (SELECT model::text FROM recsys.models WHERE name = 'tn_d2'),
		  false, 'the registered models differ only in their uuids and timings ...');
SELECT is((SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('tn_d1', 3, 10)),
		  (SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('tn_d2', 3, 10)),
		  '... and recommend the same');
SELECT isnt((SELECT string_agg(options::text, ',' ORDER BY trial) FROM recsys.tuning_trials WHERE name = 'tn_d1'),
			(SELECT string_agg(options::text, ',' ORDER BY trial) FROM recsys.tuning_trials WHERE name = 'tn_d3'),
			'another seed draws other configurations');
SELECT is((SELECT array_agg(DISTINCT algorithm ORDER BY algorithm) FROM recsys.tuning_trials WHERE name = 'tn_d1'),
		  ARRAY['ease', 'ials', 'knn'], 'by default the implicit algorithms take turns');

-- splits: what is held out
SELECT lives_ok($$SELECT recsys.tune('tn_last', 'SELECT user_id, item_id, clicks, ts FROM public.tn_clicks',
	'{"trials": 1, "algorithms": ["ease"], "split": {"by": "user_last", "k": 2}}')$$, 'split by user_last');
SELECT is((SELECT (metrics ->> 'test_rows')::bigint FROM recsys.tuning_trials WHERE name = 'tn_last'),
		  (SELECT 2 * count(*) FROM (SELECT FROM public.tn_clicks GROUP BY user_id HAVING count(*) > 2) c),
		  'user_last k 2 holds out two rows of every user with more than two');
SELECT lives_ok($$SELECT recsys.tune('tn_time', 'SELECT user_id, item_id, clicks, ts FROM public.tn_clicks',
	'{"trials": 1, "algorithms": ["knn"], "split": {"by": "time", "test_fraction": 0.25}}')$$, 'split by time');
SELECT is((SELECT (metrics ->> 'test_rows')::bigint FROM recsys.tuning_trials WHERE name = 'tn_time'),
		  (SELECT count(*) FROM public.tn_clicks
		   WHERE ts >= (SELECT ts FROM public.tn_clicks ORDER BY ts DESC
						OFFSET ceil(0.25 * (SELECT count(*) FROM public.tn_clicks)) - 1 LIMIT 1)),
		  'a time split holds out the rows from the cut on (a quarter of them)');
SELECT lives_ok($$SELECT recsys.tune('tn_rand', 'SELECT user_id, item_id, clicks FROM public.tn_clicks',
	'{"trials": 1, "algorithms": ["knn"], "split": {"test_fraction": 0.3}}')$$, 'a random split');
SELECT ok((SELECT (metrics ->> 'test_rows')::float8 / 9000 BETWEEN 0.27 AND 0.33
		   FROM recsys.tuning_trials WHERE name = 'tn_rand'),
		  'a random split holds out about test_fraction of the rows');

-- a trial over recsys.max_train_mb fails alone and is recorded with its error
SET recsys.max_train_mb = 16;
SELECT is(recsys.tune('tn_mem', 'SELECT user_id, item_id, 1 FROM recsys.synthetic_ratings(500, 3000, 20000, seed => 9)',
	'{"method": "grid", "algorithms": ["ease"], "space": {"ease": {"regularization": 100, "neighbours": 0, "max_items": [0, 100]}}}')
	-> 'trial', '2'::jsonb, 'the trial within the memory limit wins');
SELECT ok((SELECT error LIKE '%recsys.max_train_mb%' AND score IS NULL AND metrics IS NULL
		   FROM recsys.tuning_trials WHERE name = 'tn_mem' AND trial = 1),
		  'the trial over recsys.max_train_mb is recorded with its error');
RESET recsys.max_train_mb;

-- a cancel mid-search leaves the registry and the trials as they were
CREATE TEMP TABLE tn_before AS
	SELECT (SELECT count(*) FROM recsys.tuning_trials) AS trials,
		   (SELECT string_agg(version::text, ',') FROM recsys.model_versions('tn_als')) AS versions,
		   (SELECT model::text FROM recsys.models WHERE name = 'tn_als') AS model;
CREATE FUNCTION pg_temp.cancelled(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'finished';
EXCEPTION WHEN query_canceled THEN
	RETURN SQLSTATE;
END $$;
SET LOCAL statement_timeout = '1500ms';
CREATE TEMP TABLE tn_cancel AS SELECT pg_temp.cancelled($$SELECT recsys.tune('tn_als',
	'SELECT user_id, item_id, rating FROM public.tn_ratings',
	'{"metric": "rmse", "trials": 500, "space": {"als": {"factors": {"min": 20, "max": 40}, "iterations": 10}}}')$$) AS state;
SET LOCAL statement_timeout = 0;
SELECT is((SELECT state FROM tn_cancel), '57014', 'statement_timeout cancels the search');
SELECT is((SELECT count(*) FROM recsys.tuning_trials), (SELECT trials FROM tn_before),
		  'no trial of the cancelled search is recorded');
SELECT ok((SELECT (SELECT string_agg(version::text, ',') FROM recsys.model_versions('tn_als')) = b.versions
				  AND (SELECT model::text FROM recsys.models WHERE name = 'tn_als') = b.model
		   FROM tn_before b), 'the registry is unchanged');

-- bad search objects: 22023 before anything runs
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"trials": 0}')$$, '22023', NULL, 'trials 0');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"algorithms": ["svd"]}')$$, '22023', NULL, 'unknown algorithm');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"space": {"ials": {"factors": [0]}}}')$$,
				 '22023', 'option "factors" must be an integer between 1 and 1024, got 0', 'an option value out of range');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"space": {"ials": {"bogus": [1]}}}')$$,
				 '22023', 'unknown option "bogus" in the search space of "ials"', 'an unknown option');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"method": "grid"}')$$,
				 '22023', 'grid search needs a list of values for option "alpha" of "ials", not a range', 'a grid with a range');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"metric": "rmse", "algorithms": ["ials"]}')$$,
				 '22023', NULL, 'rmse of an implicit algorithm');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"split": {"by": "week"}}')$$, '22023', NULL, 'an unknown split');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT user_id, item_id, clicks FROM public.tn_clicks', '{"split": {"by": "time"}}')$$,
				 '22023', 'split by "time" needs a 4th column (the time of each row) in the source query',
				 'a time split without a time column');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"seed": -1, "foo": 1}')$$, '22023', NULL, 'an unknown key');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', NULL, '{}')$$, '22004', NULL, 'a NULL source query');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3.0, ''NaN''::float8', '{"split": {"by": "time"}}')$$,
				 '22000', NULL, 'a NaN time: 22000');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3.0, ''x''::text', '{"split": {"by": "time"}}')$$,
				 '22023', NULL, 'a time column of another type: 22023');

-- the objective is evaluate's own: a trial's metrics equal recsys.evaluate of the
-- same configuration trained on the training side, on the held-out rows
SELECT ok(recsys.tune('tn_eq', 'SELECT user_id, item_id, clicks, ts FROM public.tn_clicks',
	'{"method": "grid", "algorithms": ["ials"], "split": {"by": "user_last", "k": 1}, "space": {"ials": {"factors": [4], "iterations": 4, "alpha": [10], "regularization": [2]}}}') IS NOT NULL,
	'a one-trial search by user_last runs');
CREATE TEMP TABLE tn_held AS
	SELECT user_id, item_id, clicks, ts,
		   row_number() OVER (PARTITION BY user_id ORDER BY ts DESC) = 1
		   AND count(*) OVER (PARTITION BY user_id) > 1 AS held
	FROM public.tn_clicks;
CREATE TEMP TABLE tn_side AS
	SELECT recsys.train_ials(user_id, item_id, clicks,
			(SELECT options FROM recsys.tuning_trials WHERE name = 'tn_eq')) AS m
	FROM tn_held WHERE NOT held;
SELECT ok((SELECT bool_and(abs((t.metrics ->> key)::float8 - (e ->> key)::float8) < 1e-9)
		   FROM recsys.tuning_trials t,
				tn_side s,
				recsys.evaluate(s.m, 'SELECT user_id, item_id, clicks FROM pg_temp.tn_held WHERE held', 10) e,
				unnest(ARRAY['precision@10', 'recall@10', 'ndcg@10', 'map@10', 'hit_rate@10', 'coverage', 'users']) key
		   WHERE t.name = 'tn_eq'),
		  'the trial''s validation metrics equal evaluate of the training side on the held-out rows');

-- any metric evaluate reports: ips_* turn on propensity, beyond-accuracy ones
-- turn on beyond_accuracy, popularity and gini are better lower
SELECT ok(recsys.tune('tn_ips', 'SELECT user_id, item_id, clicks FROM public.tn_clicks',
	'{"metric": "ips_ndcg@10", "trials": 3, "seed": 4, "algorithms": ["ials"]}') IS NOT NULL, 'an ips_ndcg@10 search runs');
SELECT ok((SELECT bool_and(score = (metrics ->> 'ips_ndcg@10')::float8 AND metrics ? 'gamma')
		   FROM recsys.tuning_trials WHERE name = 'tn_ips'),
		  'its trials are scored by ips_ndcg@10 with propensities');
SELECT ok(recsys.tune('tn_gini', 'SELECT user_id, item_id, clicks FROM public.tn_clicks',
	'{"metric": "gini@5", "trials": 3, "seed": 4, "algorithms": ["ials", "knn"]}') IS NOT NULL, 'a gini@5 search runs');
SELECT is((SELECT score FROM recsys.tuning_trials WHERE name = 'tn_gini' AND best),
		  (SELECT min(score) FROM recsys.tuning_trials WHERE name = 'tn_gini'),
		  'gini is better lower: the best trial has the least concentrated exposure');
SELECT ok(recsys.tune('tn_nov', 'SELECT user_id, item_id, clicks FROM public.tn_clicks',
	'{"trials": 2, "seed": 4, "algorithms": ["ials"], "evaluate": {"beyond_accuracy": true, "propensity": "popularity", "gamma": 1}}') IS NOT NULL,
	'search.evaluate passes options to every trial''s evaluation');
SELECT ok((SELECT bool_and(metrics ? 'novelty@10' AND metrics ? 'ips_recall@10' AND (metrics ->> 'gamma')::float8 = 1
						   AND score = (metrics ->> 'ndcg@10')::float8)
		   FROM recsys.tuning_trials WHERE name = 'tn_nov'),
		  'its trials carry the extra metrics and are still scored by ndcg@10');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"evaluate": {"gamma": 2}}')$$,
				 '22023', NULL, 'evaluate options are checked as evaluate checks them');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"evaluate": [1]}')$$,
				 '22023', NULL, 'search.evaluate must be an object');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"metric": "novelty@0"}')$$,
				 '22023', NULL, 'a metric at k 0');
SELECT throws_ok($$SELECT recsys.tune('tn_bad', 'SELECT 1, 2, 3', '{"algorithms": ["hybrid"]}')$$,
				 '0A000', NULL, 'an algorithm that needs item features cannot be searched');

-- other roles: cannot tune into the model, see none of its trials
RESET ROLE;
SET ROLE recsys_tune_other;
SELECT throws_ok($$SELECT recsys.tune('tn_als', 'SELECT user_id, item_id, rating FROM public.tn_ratings', '{"metric": "rmse", "trials": 1}')$$,
				 '42501', NULL, 'another role cannot tune someone else''s model');
SELECT is((SELECT count(*) FROM recsys.tuning_trials), 0::bigint, 'and sees none of the trials');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
