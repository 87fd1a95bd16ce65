-- The solvers seen through the aggregates: the factors do not depend on
-- recsys.threads, an exact solver never raises the loss, zero iterations return
-- the seeded initial factors, and a singular system is reported as an error.
BEGIN;
SELECT plan(13);

CREATE TEMP TABLE sr AS SELECT * FROM recsys.synthetic_ratings(600, 300, 20000, rank => 4, noise => 0.3, seed => 7);
CREATE TEMP TABLE sp AS SELECT * FROM recsys.synthetic_ratings(600, 300, 20000, rank => 4, seed => 7, implicit => true);

-- the model bytes after the header (the header holds a random uuid and timings)
CREATE FUNCTION pg_temp.payload(m recsys.model) RETURNS bytea
	LANGUAGE sql AS $$ SELECT substring(recsys.model_send(m) FROM 101) $$;

CREATE FUNCTION pg_temp.trained(agg text, tab text, opts jsonb, threads int) RETURNS recsys.model
LANGUAGE plpgsql AS $$
DECLARE
	m recsys.model;
BEGIN
	PERFORM set_config('recsys.threads', threads::text, true);
	EXECUTE format('SELECT recsys.%I(user_id, item_id, rating, %L) FROM %I', agg, opts, tab) INTO m;
	RETURN m;
END $$;

-- 1-6: the same factors, bit for bit, on 1, 2 and 3 threads (their ceiling, a
-- superuser setting, defaults to the CPUs)
SET LOCAL recsys.max_threads = 8;
CREATE TEMP TABLE by_threads AS
SELECT c.name, t.threads, pg_temp.payload(pg_temp.trained(c.agg, c.tab, c.opts, t.threads)) AS payload
FROM (VALUES ('als', 'train_als', 'sr', '{"factors": 12, "iterations": 4}'::jsonb),
			 ('als without biases', 'train_als', 'sr', '{"factors": 12, "iterations": 4, "biases": false}'),
			 ('ials cg', 'train_ials', 'sp', '{"factors": 12, "iterations": 4}'),
			 ('ials cholesky', 'train_ials', 'sp', '{"factors": 12, "iterations": 4, "solver": "cholesky"}')) c(name, agg, tab, opts),
	 (VALUES (1), (2), (3)) t(threads);

SELECT is((SELECT count(DISTINCT payload) FROM by_threads WHERE name = 'als'), 1::bigint,
		  'train_als: identical factors on 1, 2 and 3 threads');
SELECT is((SELECT count(DISTINCT payload) FROM by_threads WHERE name = 'als without biases'), 1::bigint,
		  'train_als without biases: identical factors on 1, 2 and 3 threads');
SELECT is((SELECT count(DISTINCT payload) FROM by_threads WHERE name = 'ials cg'), 1::bigint,
		  'train_ials (cg): identical factors on 1, 2 and 3 threads');
SELECT is((SELECT count(DISTINCT payload) FROM by_threads WHERE name = 'ials cholesky'), 1::bigint,
		  'train_ials (cholesky): identical factors on 1, 2 and 3 threads');
SELECT isnt((SELECT payload FROM by_threads WHERE name = 'ials cg' AND threads = 1),
			(SELECT payload FROM by_threads WHERE name = 'ials cholesky' AND threads = 1),
			'the cg and cholesky solvers are different computations');
SELECT isnt((SELECT payload FROM by_threads WHERE name = 'als' AND threads = 1),
			(SELECT payload FROM by_threads WHERE name = 'als without biases' AND threads = 1),
			'biases change the model');

-- 7: the exact implicit solver never raises the objective (each half-sweep minimises it)
CREATE TEMP TABLE ials_losses AS
SELECT it, (recsys.model_info(recsys.train_ials(user_id, item_id, rating,
		jsonb_build_object('factors', 8, 'iterations', it, 'solver', 'cholesky')))->>'train_loss')::float8 AS loss
FROM generate_series(1, 6) it, sp GROUP BY it;
SELECT is((SELECT count(*) FROM ials_losses a JOIN ials_losses b ON b.it = a.it + 1 WHERE b.loss > a.loss * (1 + 1e-6)),
		  0::bigint, 'train_ials with the cholesky solver: the loss does not go up with more iterations');

-- 8-10: zero iterations give the seeded initial factors, small, with biases 0
CREATE TEMP TABLE zero AS
SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 8, "iterations": 0}') AS m FROM sr;
SELECT is((SELECT count(*) FROM zero, recsys.user_factors(m) WHERE bias <> 0), 0::bigint,
		  'zero iterations: every user bias is 0');
SELECT cmp_ok((SELECT max(abs(x)) FROM zero, recsys.item_factors(m), unnest(factors::real[]) x), '<=', (0.1 / sqrt(8))::real,
			  'zero iterations: initial factors are small (within 0.1/sqrt(k))');
SELECT is((SELECT pg_temp.payload(m) FROM zero),
		  (SELECT pg_temp.payload(recsys.train_als(user_id, item_id, rating, '{"factors": 8, "iterations": 0}')) FROM sr),
		  'zero iterations: the initial factors are a function of the seed');

-- 11: a loss is reported for the initial factors too, and it is larger than after training
SELECT cmp_ok((SELECT (recsys.model_info(m)->>'train_loss')::float8 FROM zero), '>',
			  (SELECT (recsys.model_info(recsys.train_als(user_id, item_id, rating, '{"factors": 8, "iterations": 2}'))->>'train_loss')::float8 FROM sr),
			  'two sweeps lower the objective of the initial factors');

-- 12-13: without regularisation, a user with one rating has a singular system
CREATE TEMP TABLE singular (user_id bigint, item_id bigint, rating real);
INSERT INTO singular VALUES (1, 1, 4), (1, 2, 3), (2, 1, 5);
SELECT throws_ok($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "regularization": 0}') FROM singular $$,
				 '22000', 'train_als could not solve the normal equations: a matrix is not positive definite',
				 'regularization 0 with a singular system raises 22000');
SELECT lives_ok($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "regularization": 0.01}') FROM singular $$,
				'the same data trains with some regularization');

SELECT * FROM finish();
ROLLBACK;
