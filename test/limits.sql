-- Resource limits of a trusted extension: administrators set the ceilings
-- (recsys.max_threads, recsys.train_mb_limit, recsys.model_cache_mb_limit), any role
-- may lower its own settings (recsys.threads, recsys.max_train_mb,
-- recsys.model_cache_mb) but never take more than the ceiling; and no setting can
-- make more threads call OpenBLAS at once than the linked build supports.
BEGIN;
SELECT plan(21);

-- the library defines its settings when it loads
SELECT recsys.dims('[1]'::recsys.vec);

CREATE TABLE lim_ratings AS SELECT * FROM recsys.synthetic_ratings(400, 200, 8000, seed => 5);
ANALYZE lim_ratings;
SET LOCAL max_parallel_workers_per_gather = 0;

-- peak_bytes of a model counts the solver's per-thread scratch, so it tells how
-- many threads trained it
CREATE FUNCTION pg_temp.peak_with(threads int, factors int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	m recsys.model;
BEGIN
	PERFORM set_config('recsys.threads', threads::text, true);
	SELECT recsys.train_als(user_id, item_id, rating, jsonb_build_object('factors', factors, 'iterations', 1))
		INTO m FROM lim_ratings;
	RETURN (recsys.model_info(m) ->> 'peak_bytes')::bigint;
END $$;

-- 1-4: the OpenBLAS limit (Debian's build: MAX_THREADS=64, so 63 threads)
SELECT cmp_ok((SELECT max_val::int FROM pg_settings WHERE name = 'recsys.max_threads'), '<', 256,
			  'recsys.max_threads stops below 256, at what the linked OpenBLAS supports');
SELECT throws_ok($$ SET recsys.max_threads = 256 $$, '22023', NULL,
				 'not even a superuser can allow more threads than OpenBLAS supports');
SELECT set_config('recsys.max_threads', max_val, true) FROM pg_settings WHERE name = 'recsys.max_threads';
SELECT lives_ok($$ SELECT pg_temp.peak_with(256, 128) $$,
				'recsys.threads = 256 with 128 factors trains (on more data it used to crash inside OpenBLAS)');
SELECT is(pg_temp.peak_with(256, 128),
		  pg_temp.peak_with((SELECT max_val::int FROM pg_settings WHERE name = 'recsys.max_threads'), 128),
		  '... on recsys.max_threads threads');
SELECT isnt(pg_temp.peak_with(2, 128), pg_temp.peak_with(1, 128),
			'(peak_bytes does tell thread counts apart)');
RESET recsys.max_threads;

-- a role without privileges, and what it sees
CREATE ROLE recsys_limits_user;
GRANT USAGE ON SCHEMA recsys TO recsys_limits_user;
GRANT SELECT ON lim_ratings TO recsys_limits_user;
CREATE TABLE lim_models AS
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 1}') AS m FROM lim_ratings;
GRANT SELECT ON lim_models TO recsys_limits_user;

-- runs q as recsys_limits_user; returns its first column as text, 'ok' for no
-- value, or the SQLSTATE and message of its error
CREATE FUNCTION pg_temp.as_user(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	SET LOCAL ROLE recsys_limits_user;
	BEGIN
		IF q ~* '^\s*(SET|RESET|ALTER)\s' THEN
			EXECUTE q;
		ELSE
			EXECUTE q INTO result;
		END IF;
		result := coalesce(result, 'ok');
	EXCEPTION WHEN OTHERS THEN
		result := SQLSTATE || ': ' || SQLERRM;
	END;
	RESET ROLE;
	RETURN result;
END $$;

-- 6-9: the ceilings are out of an ordinary role's reach, even through ALTER ROLE
SELECT alike(pg_temp.as_user($$ SET recsys.max_threads = 8 $$), '42501: %',
			'a role cannot SET recsys.max_threads');
SELECT alike(pg_temp.as_user($$ SET recsys.train_mb_limit = 100000 $$), '42501: %',
			'a role cannot SET recsys.train_mb_limit');
SELECT alike(pg_temp.as_user($$ SET recsys.model_cache_mb_limit = 100000 $$), '42501: %',
			'a role cannot SET recsys.model_cache_mb_limit');
SELECT alike(pg_temp.as_user($$ ALTER ROLE recsys_limits_user SET recsys.train_mb_limit = 100000 $$),
			'42501: %', 'a role cannot ALTER ROLE itself SET recsys.train_mb_limit');

-- 10-12: threads: what the role asks for, at most the ceiling
SET LOCAL recsys.max_threads = 1;
SELECT is(pg_temp.as_user($$ SET recsys.threads = 8 $$), 'ok', 'a role may SET recsys.threads');
SELECT is(pg_temp.as_user($$ SELECT current_setting('recsys.threads') $$), '8',
		  'recsys.threads shows what the role asked for');
SELECT is(pg_temp.as_user($$ SELECT pg_temp.peak_with(8, 128) $$)::bigint, pg_temp.peak_with(1, 128),
		  'a role asking for 8 threads trains on recsys.max_threads = 1');
RESET recsys.max_threads;

-- 13-16: training memory: the role may lower recsys.max_train_mb, not raise it past the ceiling
SET LOCAL recsys.train_mb_limit = 16;
SELECT is(pg_temp.as_user($$ SET recsys.max_train_mb = 100000 $$), 'ok', 'a role may SET recsys.max_train_mb');
SELECT alike(pg_temp.as_user($$ SELECT recsys.train_als(u, 1, 1, '{"factors": 1024}') IS NULL FROM generate_series(1, 5000) u $$),
			'54000: train_als needs % MB for %, more than recsys.train_mb_limit (16 MB)',
			'the administrator''s 16 MB still hold, and the error names the ceiling');
RESET recsys.train_mb_limit;
SELECT is(pg_temp.as_user($$ SET recsys.max_train_mb = 16 $$), 'ok', 'a role may lower recsys.max_train_mb');
SELECT alike(pg_temp.as_user($$ SELECT recsys.train_als(u, 1, 1, '{"factors": 1024}') IS NULL FROM generate_series(1, 5000) u $$),
			'54000: train_als needs % MB for %, more than recsys.max_train_mb (16 MB)',
			'a role can lower its own training memory');

-- 17-21: the model cache: the role's budget, at most the ceiling
SET LOCAL recsys.model_cache_mb_limit = 0;
SELECT is(pg_temp.as_user($$ SET recsys.model_cache_mb = 1024 $$), 'ok', 'a role may SET recsys.model_cache_mb');
SELECT is(pg_temp.as_user($$ SELECT count(*) FROM lim_models, recsys.recommend(m, 3, 5) $$), '5',
		  'serving works with a zero cache ceiling');
SELECT is((SELECT count(*) FROM recsys.model_cache() c, lim_models
		   WHERE c.uuid = (recsys.model_info(m) ->> 'uuid')::uuid), 0::bigint,
		  'with recsys.model_cache_mb_limit = 0 the role''s 1024 MB keep nothing');
RESET recsys.model_cache_mb_limit;
SET LOCAL recsys.model_cache_mb = 256;
SELECT is((SELECT count(*) FROM lim_models, recsys.recommend(m, 3, 5)), 5::bigint, 'serving with the defaults');
SELECT is((SELECT count(*) FROM recsys.model_cache() c, lim_models
		   WHERE c.uuid = (recsys.model_info(m) ->> 'uuid')::uuid), 1::bigint,
		  '(with the default ceiling the model is kept)');

SELECT * FROM finish();
ROLLBACK;
