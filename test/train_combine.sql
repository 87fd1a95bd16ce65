-- Combining partial training states: a worker's state joins the leader's with a map
-- from its dense ids to the leader's, and the final function applies the map.  The
-- model must equal the serial one whether the workers saw disjoint or overlapping
-- ids, ids on the hash path (negative, huge) or the direct array, or no rows at all.
BEGIN;
SELECT plan(9);

-- disjoint: rows in user order, so each process's blocks hold other users and, as
-- items follow users, other items too
CREATE TABLE comb_disjoint AS
SELECT (g / 20)::bigint AS user_id, ((g / 20) * 7 + g % 20)::bigint AS item_id,
	   ((g * 7) % 5 + 1)::real AS rating
FROM generate_series(0, 59999) g;
-- ids far outside the direct array (negative and beyond 2^40) mixed with serials
CREATE TABLE comb_hashed AS
SELECT CASE WHEN g % 3 = 0 THEN -((g % 997) + 1)
			WHEN g % 3 = 1 THEN (1::bigint << 40) + g % 1499
			ELSE (g % 2003)::bigint END AS user_id,
	   CASE WHEN g % 2 = 0 THEN (g % 401)::bigint ELSE -(1::bigint << 50) - g % 333 END AS item_id,
	   ((g % 3) + 1)::real AS plays
FROM generate_series(0, 59999) g;
-- rows a filter keeps only at the start of the table: other processes see none, and
-- rows with a NULL rating: states that exist but hold no interaction
CREATE TABLE comb_sparse AS
SELECT g AS seq, (g % 37)::bigint AS user_id, (g % 11)::bigint AS item_id,
	   CASE WHEN g < 300 THEN ((g % 5) + 1)::real END AS rating
FROM generate_series(0, 59999) g;
ANALYZE comb_disjoint;
ANALYZE comb_hashed;
ANALYZE comb_sparse;

CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END $$;
-- the model without its header (uuid, timings)
CREATE FUNCTION pg_temp.payload(m recsys.model) RETURNS bytea
	LANGUAGE sql AS $$ SELECT substring(recsys.model_send(m) FROM 101) $$;

CREATE TABLE comb_models (name text PRIMARY KEY, m recsys.model);

SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;

SELECT matches(pg_temp.plan_of($$ SELECT recsys.train_als(user_id, item_id, rating) FROM comb_disjoint $$),
			   'Partial Aggregate \(actual rows=1 loops=[23]\)', 'disjoint ids: more than one process builds a partial state');
SELECT matches(pg_temp.plan_of($$ SELECT recsys.train_als(user_id, item_id, rating) FROM comb_sparse WHERE seq < 300 OR rating IS NULL $$),
			   'Partial Aggregate \(actual rows=1 loops=[23]\)', 'sparse rows: more than one process builds a partial state');

INSERT INTO comb_models
SELECT 'disjoint_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM comb_disjoint;
INSERT INTO comb_models
SELECT 'hashed_parallel', recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 2}') FROM comb_hashed;
INSERT INTO comb_models
SELECT 'filtered_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM comb_sparse WHERE seq < 300;
INSERT INTO comb_models
SELECT 'nulls_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM comb_sparse;

SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO comb_models
SELECT 'disjoint_serial', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM comb_disjoint;
INSERT INTO comb_models
SELECT 'hashed_serial', recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 2}') FROM comb_hashed;
INSERT INTO comb_models
SELECT 'filtered_serial', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM comb_sparse WHERE seq < 300;

CREATE FUNCTION pg_temp.m(name text) RETURNS recsys.model
	LANGUAGE sql AS $$ SELECT m FROM comb_models WHERE comb_models.name = $1 $$;

SELECT is(pg_temp.payload(pg_temp.m('disjoint_parallel')), pg_temp.payload(pg_temp.m('disjoint_serial')),
		  'disjoint ids: the parallel model equals the serial one byte for byte');
SELECT is(pg_temp.payload(pg_temp.m('hashed_parallel')), pg_temp.payload(pg_temp.m('hashed_serial')),
		  'negative and huge ids with duplicates: the parallel model equals the serial one');
SELECT is((recsys.model_info(pg_temp.m('hashed_parallel')) ->> 'n_users')::int,
		  (SELECT count(DISTINCT user_id)::int FROM comb_hashed),
		  'hashed ids: every distinct user is numbered once across the states');
SELECT is((recsys.model_info(pg_temp.m('hashed_parallel')) ->> 'n_interactions')::bigint,
		  (SELECT count(*) FROM (SELECT DISTINCT user_id, item_id FROM comb_hashed) d),
		  'hashed ids: duplicates from different states are merged');
SELECT is(pg_temp.payload(pg_temp.m('filtered_parallel')), pg_temp.payload(pg_temp.m('filtered_serial')),
		  'processes that saw no rows do not change the model');
SELECT is(pg_temp.payload(pg_temp.m('nulls_parallel')), pg_temp.payload(pg_temp.m('filtered_serial')),
		  'states holding only skipped (NULL) rows do not change the model');
SELECT is((recsys.model_info(pg_temp.m('nulls_parallel')) ->> 'n_interactions')::int, 300,
		  'only the rows with a rating are counted');

SELECT * FROM finish();
ROLLBACK;
