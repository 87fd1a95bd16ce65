-- Parallel training: both aggregates run as Partial Aggregate under Gather when
-- parallelism is forced, and give exactly the model a serial plan gives.
BEGIN;
SELECT plan(12);

CREATE TABLE par_ratings AS
SELECT (g / 40)::bigint AS user_id, ((g % 40) * 13 + (g / 40) % 13)::bigint AS item_id,
	   ((g * 7) % 5 + 1)::real AS rating
FROM generate_series(0, 59999) g;
-- implicit with duplicates spread over the table, so workers see parts of a sum
CREATE TABLE par_plays AS
SELECT (g % 1500)::bigint AS user_id, ((g * 7919) % 700)::bigint AS item_id, ((g % 3) + 1)::real AS plays
FROM generate_series(0, 59999) g;
ANALYZE par_ratings;
ANALYZE par_plays;

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
CREATE FUNCTION pg_temp.payload(m recsys.model) RETURNS bytea
	LANGUAGE sql AS $$ SELECT substring(recsys.model_send(m) FROM 101) $$;

CREATE TABLE par_models (name text PRIMARY KEY, m recsys.model);

SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;

SELECT alike(pg_temp.plan_of($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 3}') FROM par_ratings $$),
			 '%Finalize Aggregate%Gather%Partial Aggregate%Parallel Seq Scan on par_ratings%',
			 'train_als: Partial Aggregate under Gather');
SELECT alike(pg_temp.plan_of($$ SELECT recsys.train_ials(user_id, item_id, plays, '{"factors": 6, "iterations": 3}') FROM par_plays $$),
			 '%Finalize Aggregate%Gather%Partial Aggregate%Parallel Seq Scan on par_plays%',
			 'train_ials: Partial Aggregate under Gather');
SELECT matches(pg_temp.plan_of($$ SELECT recsys.train_als(user_id, item_id, rating) FROM par_ratings $$),
			   'Workers Launched: [12]', 'parallel workers really run');
SELECT matches(pg_temp.plan_of($$ SELECT recsys.train_ials(user_id, item_id, plays, '{"factors": 2}') FROM par_plays $$),
			   'Partial Aggregate \(actual rows=1 loops=[23]\)', 'more than one process builds a partial state');

INSERT INTO par_models
SELECT 'als_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 3}') FROM par_ratings;
INSERT INTO par_models
SELECT 'ials_parallel', recsys.train_ials(user_id, item_id, plays, '{"factors": 6, "iterations": 3}') FROM par_plays;

SET LOCAL max_parallel_workers_per_gather = 0;
SELECT unalike(pg_temp.plan_of($$ SELECT recsys.train_als(user_id, item_id, rating) FROM par_ratings $$),
			   '%Gather%', 'serial plan without Gather');
INSERT INTO par_models
SELECT 'als_serial', recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 3}') FROM par_ratings;
INSERT INTO par_models
SELECT 'ials_serial', recsys.train_ials(user_id, item_id, plays, '{"factors": 6, "iterations": 3}') FROM par_plays;
INSERT INTO par_models
SELECT 'als_shuffled', recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 3}' ORDER BY md5(item_id::text || user_id)) FROM par_ratings;

CREATE FUNCTION pg_temp.m(name text) RETURNS recsys.model
	LANGUAGE sql AS $$ SELECT m FROM par_models WHERE par_models.name = $1 $$;

SELECT is(pg_temp.payload(pg_temp.m('als_parallel')), pg_temp.payload(pg_temp.m('als_serial')),
		  'train_als: the parallel model equals the serial one byte for byte');
SELECT is(pg_temp.payload(pg_temp.m('ials_parallel')), pg_temp.payload(pg_temp.m('ials_serial')),
		  'train_ials (with duplicates): the parallel model equals the serial one byte for byte');
SELECT is(pg_temp.payload(pg_temp.m('als_shuffled')), pg_temp.payload(pg_temp.m('als_serial')),
		  'train_als: shuffled input gives the same model');
SELECT is((SELECT array_agg(factors::text ORDER BY id) FROM recsys.item_factors(pg_temp.m('als_parallel'))),
		  (SELECT array_agg(factors::text ORDER BY id) FROM recsys.item_factors(pg_temp.m('als_serial'))),
		  'train_als: item_factors are equal');
SELECT is((SELECT array_agg(factors::text ORDER BY id) FROM recsys.user_factors(pg_temp.m('ials_parallel'))),
		  (SELECT array_agg(factors::text ORDER BY id) FROM recsys.user_factors(pg_temp.m('ials_serial'))),
		  'train_ials: user_factors are equal');
SELECT is(recsys.model_info(pg_temp.m('ials_parallel')) ->> 'n_interactions',
		  (SELECT count(*)::text FROM (SELECT DISTINCT user_id, item_id FROM par_plays) d),
		  'train_ials: duplicates split across workers are merged');
SELECT is(recsys.model_info(pg_temp.m('ials_parallel')) ->> 'rating_max',
		  (SELECT max(s)::text FROM (SELECT sum(plays) s FROM par_plays GROUP BY user_id, item_id) d),
		  'train_ials: their weights add up across workers');

SELECT * FROM finish();
ROLLBACK;
