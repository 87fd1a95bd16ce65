-- recsys as a trusted extension, tried by hostile ordinary roles: registry rows
-- are isolated by owner, stored queries run as their owner inside a
-- security-restricted operation, nothing a caller plants on its search_path runs
-- inside recsys, permissions are checked before any training.
BEGIN;
SELECT plan(63);

CREATE ROLE recsys_alice;
CREATE ROLE recsys_bob;
CREATE ROLE recsys_carol;
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models, recsys.model_history
	TO recsys_alice, recsys_bob;

-- every call of a logging function leaves a row: who ran it, and whether inside
-- a security-restricted operation (a temporary table cannot be created there)
CREATE TABLE public.sec_calls (who text, what text);
GRANT ALL ON public.sec_calls TO PUBLIC;
CREATE FUNCTION public.sec_log(what text) RETURNS integer
	LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.sec_calls VALUES (current_user, what);
	RETURN 1;
END $$;
CREATE FUNCTION public.sec_try_temp() RETURNS integer
	LANGUAGE plpgsql AS $$
BEGIN
	CREATE TEMP TABLE sec_tmp (x int);
	RETURN 1;
END $$;
CREATE FUNCTION public.sec_set_work_mem() RETURNS integer
	LANGUAGE sql AS $$ SELECT pg_catalog.length(pg_catalog.set_config('work_mem', '1234kB', false)) * 0 + 1 $$;

CREATE TABLE public.sec_ratings AS
	SELECT * FROM recsys.synthetic_ratings(60, 40, 900, rank => 3, seed => 5);
GRANT SELECT ON public.sec_ratings TO recsys_alice, recsys_bob;
CREATE TABLE public.sec_alice_only AS SELECT * FROM public.sec_ratings;
GRANT SELECT ON public.sec_alice_only TO recsys_alice;

-- ---------------------------------------------------------------- isolation
SET ROLE recsys_alice;
SELECT is(recsys.train('sec_a', 'als',
					   'SELECT user_id, item_id, rating FROM public.sec_alice_only -- her data',
					   '{"factors": 4, "iterations": 2, "keep_history": 3}') ->> 'n_users',
		  '60', 'alice trains a model (a source with a trailing -- comment works)');
SELECT is((SELECT owner::text FROM recsys.models WHERE name = 'sec_a'), 'recsys_alice',
		  'the row belongs to alice');
SELECT lives_ok($$SELECT recsys.retrain('sec_a')$$, 'alice retrains her model');
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'sec_a'), 1::bigint,
		  'alice sees her history');
RESET ROLE;

SET ROLE recsys_bob;
SELECT is((SELECT count(*) FROM recsys.models), 0::bigint, 'bob sees no row of alice''s');
SELECT is((SELECT count(*) FROM recsys.model_history), 0::bigint, 'bob sees none of her history');
SELECT throws_ok($$SELECT * FROM recsys.recommend('sec_a', 1, 5)$$, '42704', NULL,
				 'bob cannot serve alice''s model by name');
SELECT throws_ok($$SELECT recsys.model_info('sec_a')$$, '42704', NULL,
				 'bob cannot read its model_info');
SELECT throws_ok($$SELECT * FROM recsys.recommend_by_items('sec_a', ARRAY[1, 2]::bigint[])$$, '42704', NULL,
				 'bob cannot serve a history with alice''s model');
SELECT throws_ok($$SELECT recsys.model_by_name('sec_a')$$, '42704', NULL,
				 'bob cannot fetch the model value');
SELECT throws_ok($$SELECT recsys.evaluate('sec_a', 'SELECT 1, 1')$$, '42704', NULL,
				 'bob cannot evaluate it');
SELECT throws_ok($$SELECT recsys.retrain('sec_a')$$, '42704', 'model "sec_a" does not exist',
				 'bob cannot retrain it (it does not exist for him)');
SELECT throws_ok($$SELECT recsys.rollback('sec_a')$$, '42704', NULL, 'bob cannot roll it back');
SELECT throws_ok($$SELECT recsys.share('sec_a', 'recsys_bob')$$, '42704', NULL,
				 'bob cannot share it with himself');
SELECT is_empty($$DELETE FROM recsys.models WHERE name = 'sec_a' RETURNING name$$,
				'bob''s DELETE does not reach her row');
SELECT is_empty($$UPDATE recsys.models SET source = 'SELECT 1, 1, 1' WHERE name = 'sec_a' RETURNING name$$,
				'bob''s UPDATE does not reach her row');
SELECT is_empty($$DELETE FROM recsys.model_history WHERE name = 'sec_a' RETURNING name$$,
				'bob''s DELETE does not reach her history');
-- permissions are checked before anything runs: the source would log a call
SELECT throws_ok($$SELECT recsys.train('sec_a', 'als', 'SELECT public.sec_log(''bob-train''), 1, 1.0')$$,
				 '42501', 'permission denied for model "sec_a"',
				 'bob cannot replace alice''s model by training the same name');
SELECT is((SELECT count(*) FROM public.sec_calls WHERE what = 'bob-train'), 0::bigint,
		  '... and his source query never ran');
SELECT throws_ok($$INSERT INTO recsys.models (name, owner, model, source)
				   SELECT 'sec_forged', 'recsys_alice'::regrole, recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 1}'), 'SELECT 1, 1, 1'
				   FROM public.sec_ratings$$,
				 '42501', NULL, 'bob cannot plant a row owned by alice');
RESET ROLE;
SET ROLE recsys_carol;
SELECT throws_ok($$SELECT recsys.train('sec_c', 'als', 'SELECT public.sec_log(''carol-train''), 1, 1.0')$$,
				 '42501', NULL, 'a role without registry privileges cannot train into it');
SELECT is((SELECT count(*) FROM public.sec_calls WHERE what = 'carol-train'), 0::bigint,
		  '... checked before the source query runs');
RESET ROLE;

-- sharing: read and serve, nothing else
SET ROLE recsys_alice;
SELECT lives_ok($$SELECT recsys.share('sec_a', 'recsys_bob')$$, 'alice shares her model with bob');
RESET ROLE;
SET ROLE recsys_bob;
SELECT is((SELECT count(*) FROM recsys.recommend('sec_a', 1, 5)), 5::bigint,
		  'bob serves the shared model by name');
SELECT is(recsys.model_info('sec_a') ->> 'n_items', '40', 'bob reads its model_info');
SELECT throws_ok($$SELECT recsys.retrain('sec_a')$$, '42501', NULL, 'bob still cannot retrain it');
SELECT throws_ok($$SELECT recsys.rollback('sec_a')$$, '42501', NULL, 'bob still cannot roll it back');
SELECT throws_ok($$SELECT recsys.share('sec_a', 'recsys_carol')$$, '42501', NULL,
				 'bob cannot pass it on');
SELECT throws_ok($$SELECT recsys.train('sec_a', 'als', 'SELECT 1, 1, 1.0')$$, '42501', NULL,
				 'bob cannot replace it');
SELECT is_empty($$UPDATE recsys.models SET source = 'SELECT 1, 1, 1' WHERE name = 'sec_a' RETURNING name$$,
				'bob''s UPDATE of the shared row changes nothing');
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'sec_a'), 0::bigint,
		  'bob does not see the shared model''s history');
RESET ROLE;
SET ROLE recsys_carol;
SELECT is((SELECT count(*) FROM recsys.models), 0::bigint, 'carol sees nothing shared with bob');
RESET ROLE;
SET ROLE recsys_alice;
SELECT lives_ok($$SELECT recsys.unshare('sec_a', 'recsys_bob')$$, 'alice takes it back');
RESET ROLE;
SET ROLE recsys_bob;
SELECT throws_ok($$SELECT * FROM recsys.recommend('sec_a', 1, 5)$$, '42704', NULL,
				 'bob cannot serve it any more');
RESET ROLE;
SET ROLE recsys_alice;
SELECT lives_ok($$SELECT recsys.share('sec_a', 'public')$$, 'alice shares it with everyone');
RESET ROLE;
SET ROLE recsys_carol;
SELECT is((SELECT count(*) FROM recsys.recommend('sec_a', 1, 3)), 3::bigint,
		  'carol serves a model shared with PUBLIC');
RESET ROLE;
SET ROLE recsys_alice;
SELECT throws_ok($$SELECT recsys.share('sec_a', 'no_such_role_xyz')$$, '42704', NULL,
				 'sharing with an unknown role: 42704');
SELECT lives_ok($$SELECT recsys.unshare('sec_a', 'public')$$, 'alice unshares from PUBLIC');
RESET ROLE;

-- -------------------------------------------------- stored queries run as owner
SET ROLE recsys_alice;
SELECT lives_ok($$SELECT recsys.train('sec_who', 'als',
	'SELECT user_id, item_id, rating + public.sec_log(''source'') - 1 FROM public.sec_alice_only WHERE user_id < 5',
	'{"factors": 2, "iterations": 1}')$$, 'alice trains a model whose source logs its runner');
RESET ROLE;
DELETE FROM public.sec_calls;
SELECT lives_ok($$SELECT recsys.retrain('sec_who')$$, 'a superuser retrains alice''s model');
SELECT is((SELECT array_agg(DISTINCT who) FROM public.sec_calls WHERE what = 'source'), ARRAY['recsys_alice'],
		  '... and the stored query ran as alice, not as the superuser');

-- a stored query that needs more than its owner has fails, whoever retrains
SET ROLE recsys_bob;
INSERT INTO recsys.models (name, model, source, options, search_path)
	SELECT 'sec_bob', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 1}'),
		   'SELECT user_id, item_id, rating FROM public.sec_alice_only', '{}', 'public'
	FROM public.sec_ratings;
SELECT is((SELECT owner::text FROM recsys.models WHERE name = 'sec_bob'), 'recsys_bob',
		  'a row bob inserts directly belongs to bob');
RESET ROLE;
SELECT throws_ok($$SELECT recsys.retrain('sec_bob')$$, '42501', 'permission denied for table sec_alice_only',
				 'a superuser retraining bob''s row runs its query with bob''s rights');

-- a security-restricted operation: no temporary tables, no settings leak out
SET ROLE recsys_alice;
SELECT throws_ok($$SELECT recsys.train('sec_tmp', 'als', 'SELECT 1, 1, public.sec_try_temp()')$$,
				 '42501', NULL, 'the source query cannot create temporary objects');
SET work_mem = '4MB';
SELECT lives_ok($$SELECT recsys.train('sec_set', 'als',
	'SELECT user_id, item_id, rating + public.sec_set_work_mem() - 1 FROM public.sec_alice_only',
	'{"factors": 2, "iterations": 1}')$$, 'a source query that changes a setting trains');
SELECT is(current_setting('work_mem'), '4MB', '... and the setting does not leak out');
RESET work_mem;

-- one statement, a SELECT, never spliced
SELECT throws_ok($$SELECT recsys.train('sec_inj', 'als', 'SELECT 1,1,1) s(u,i,v); CREATE TABLE public.sec_injected(x int); SELECT (1')$$,
				 '42601', NULL, 'a source that tries to close the subquery is a syntax error');
SELECT hasnt_table('public', 'sec_injected', '... and creates nothing');
SELECT throws_ok($$SELECT recsys.train('sec_inj', 'als', 'SELECT 1, 1, 1; CREATE TABLE public.sec_injected(x int)')$$,
				 '22023', 'source query must be exactly one SELECT statement, got 2 statements',
				 'two statements are rejected before either runs');
SELECT hasnt_table('public', 'sec_injected', '... and create nothing');
SELECT throws_ok($$SELECT recsys.train('sec_inj', 'als', 'DELETE FROM public.sec_calls RETURNING 1, 1, 1')$$,
				 '22023', 'source query must be a SELECT statement', 'DELETE ... RETURNING is rejected');
SELECT throws_ok($$SELECT recsys.train('sec_inj', 'als', 'WITH d AS (DELETE FROM public.sec_calls RETURNING 1) SELECT 1, 1, 1 FROM d')$$,
				 '22023', 'source query must be a SELECT statement that does not modify data',
				 'a data-modifying WITH is rejected');
SELECT throws_ok($$SELECT recsys.train('sec_inj', 'als', 'SELECT 1, 1, 1 INTO public.sec_injected')$$,
				 '22023', 'source query must be a SELECT statement', 'SELECT INTO is rejected');
SELECT throws_ok($$SELECT recsys.train('sec_inj', 'als', 'SELECT 1.5, 1, 1.0')$$,
				 '22P02', 'user id must be a whole number, got 1.5 in column 1 of the source query',
				 'a fractional id is an error, not rounded');
SELECT throws_ok($$SELECT recsys.evaluate('sec_a', 'WITH d AS (DELETE FROM public.sec_calls RETURNING 1) SELECT 1, 1 FROM d')$$,
				 '22023', NULL, 'an evaluate test query cannot modify data either');
RESET ROLE;

-- --------------------------------------------- a planted search_path runs nothing
-- trojans in public and in recsys for every operator and function the old PL/pgSQL
-- bodies resolved through the caller's path
CREATE FUNCTION public.sec_trojan_num_int(numeric, integer) RETURNS boolean
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan <'); RETURN false; END $$;
CREATE FUNCTION public.sec_trojan_text_text(text, text) RETURNS boolean
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE FUNCTION public.sec_trojan_oid(oid, oid) RETURNS boolean
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan oid'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR public.< (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.sec_trojan_num_int);
CREATE OPERATOR public.> (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.sec_trojan_num_int);
CREATE OPERATOR public.<= (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.sec_trojan_num_int);
CREATE OPERATOR public.>= (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.sec_trojan_num_int);
CREATE OPERATOR public.<> (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.sec_trojan_num_int);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.sec_trojan_text_text);
CREATE OPERATOR recsys.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.sec_trojan_text_text);
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.sec_trojan_oid);
CREATE FUNCTION public.jsonb_typeof(jsonb) RETURNS text
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan jsonb_typeof'); RETURN pg_catalog.jsonb_typeof($1); END $$;
CREATE FUNCTION public.lower(text) RETURNS text
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan lower'); RETURN pg_catalog.lower($1); END $$;
CREATE FUNCTION public.left(text, integer) RETURNS text
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan left'); RETURN pg_catalog.left($1, $2); END $$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION public.model_by_name(text) RETURNS recsys.model
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan model_by_name'); RETURN recsys.model_by_name($1); END $$;
CREATE FUNCTION public.to_regrole(text) RETURNS regrole
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.sec_log('trojan to_regrole'); RETURN pg_catalog.to_regrole($1); END $$;
DELETE FROM public.sec_calls;

-- plain statements while the trojans are on the path: pgTAP's own functions
-- would resolve through it too
SET search_path = public, recsys, pg_catalog;
CREATE TEMP TABLE sec_out1 AS SELECT recsys.train('sec_path', 'als', 'SELECT user_id, item_id, rating FROM sec_ratings',
	'{"factors": 2, "iterations": 1, "keep_history": 2, "eval_k": 5,
	  "eval_query": "SELECT user_id, item_id, rating FROM sec_ratings LIMIT 50"}') AS r;
CREATE TEMP TABLE sec_out2 AS SELECT recsys.retrain('sec_path') AS r;
CREATE TEMP TABLE sec_out3 AS SELECT recsys.rollback('sec_path') AS r;
CREATE TEMP TABLE sec_out4 AS SELECT recsys.share('sec_path', 'recsys_bob') IS NULL AS s,
	recsys.unshare('sec_path', 'PUBLIC') IS NULL AS u;
CREATE TEMP TABLE sec_out5 AS SELECT recsys.model_info('sec_path'), recsys.predict('sec_path', 1, 1),
	recsys.user_vector('sec_path', 1), recsys.item_vector('sec_path', 1),
	(SELECT count(*) FROM recsys.user_factors('sec_path')) AS uf,
	(SELECT count(*) FROM recsys.item_factors('sec_path')) AS itf,
	(SELECT count(*) FROM recsys.recommend('sec_path', 1, 3)) AS rec, recsys.model_by_name('sec_path'),
	(SELECT count(*) FROM recsys.recommend_by_items('sec_path', ARRAY[1, 2]::bigint[])) AS by_items,
	recsys.evaluate('sec_path', 'SELECT user_id, item_id FROM sec_ratings LIMIT 20');
RESET search_path;
SELECT is((SELECT count(*) FROM pg_temp.sec_out5 WHERE rec = 3), 1::bigint,
		  'a superuser with trojans first on its search_path trains, retrains, rolls back, shares, serves and evaluates by name');
SELECT is((SELECT array_agg(DISTINCT what) FROM public.sec_calls WHERE what LIKE 'trojan%'), NULL,
		  'not one planted operator or function ran inside recsys');

-- ----------------------------------------------------------- names and nulls
SELECT throws_ok($$SELECT recsys.retrain(NULL)$$, '22004', 'model name must not be NULL',
				 'retrain(NULL) says the name is NULL');
SELECT throws_ok($$SELECT recsys.train('', 'als', 'SELECT public.sec_log(''empty-name''), 1, 1.0')$$,
				 '22023', NULL, 'an empty name is rejected');
SELECT throws_ok($$SELECT recsys.train(repeat('x', 300), 'als', 'SELECT 1, 1, 1.0')$$,
				 '22023', 'model name must be between 1 and 256 bytes long, got 300',
				 'an overlong name is rejected');
SELECT throws_ok($$SELECT recsys.train('sec_opts', 'als', 'SELECT public.sec_log(''bad-option''), 1, 1.0', '{"keep_history": 1e400}')$$,
				 '22023', NULL, 'an out-of-range registry option is 22023');
SELECT is((SELECT count(*) FROM public.sec_calls WHERE what IN ('empty-name', 'bad-option')), 0::bigint,
		  'names and options are checked before the source query runs');

-- ---------------------------------------------------- a long test query (item 1)
SELECT is(recsys.evaluate('sec_a',
						  (SELECT 'SELECT * FROM (VALUES ' || string_agg(format('(%s, %s)', g, g % 40 + 1), ', ') || ') AS v'
						   FROM generate_series(1, 600) AS g), 10) ->> 'test_rows',
		  '600', 'evaluate reads a test query of several KB (a 600-row VALUES list)');

SELECT * FROM finish();
ROLLBACK;
