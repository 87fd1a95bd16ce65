-- Parallel training: both aggregates run as Partial Aggregate under Gather when
-- parallelism is forced, and give exactly the model a serial plan gives.  Each
-- process presorts its partial state into rows before passing it on and the
-- leader merges the rows; the second half checks that merge with many workers,
-- ids outside the directly indexed range, rows of one worker only, duplicates
-- that meet in the merge, and processes whose partial state is empty.  The last
-- part covers the compact forms a partial state travels in (16-bit or 32-bit
-- item ranks, values as dictionary codes or as floats) and the sort of long
-- rows whose items arrive out of order, with duplicates that must keep their
-- order of arrival.
BEGIN;
SELECT plan(29);

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

-- many processes (more runs to merge); ids negative, huge and sparse (the hash
-- path); users whose rows come from several processes with items interleaved
CREATE TABLE par_sparse AS
SELECT ((g % 997) * 1000003 - 500000000)::bigint AS user_id,
	   (((g * 31) % 613) * 7919 - 3000000000)::bigint AS item_id,
	   ((g * 13) % 9 + 1)::real AS rating
FROM generate_series(0, 39999) g;
-- explicit ratings with duplicates inside each block of rows: a worker's scan
-- takes whole blocks, so "the last one wins" is decided inside one process (the
-- copies 12,000 rows apart, which may meet in the merge, repeat the same values)
CREATE TABLE par_dups AS
SELECT (g / 4 % 3000)::bigint AS user_id, ((g / 8) % 500)::bigint AS item_id,
	   (g % 5 + 1)::real AS rating
FROM generate_series(0, 39999) g ORDER BY g;
-- only the first rows have a value: the processes that scan later blocks end
-- with a partial state that holds no interaction
CREATE TABLE par_nulls AS
SELECT (g % 50)::bigint AS user_id, (g % 37)::bigint AS item_id,
	   CASE WHEN g < 200 THEN (g % 5 + 1)::real END AS rating
FROM generate_series(0, 59999) g;
ANALYZE par_sparse;
ANALYZE par_dups;
ANALYZE par_nulls;

SET LOCAL max_parallel_workers_per_gather = 6;
SET LOCAL max_parallel_workers = 6;
SET LOCAL parallel_leader_participation = on;
SELECT matches(pg_temp.plan_of($$ SELECT recsys.train_als(user_id, item_id, rating) FROM par_sparse $$),
			   'Partial Aggregate \(actual rows=1 loops=([4-7])\)', 'with 6 workers planned, 4 or more processes build partial states');
INSERT INTO par_models
SELECT 'sparse_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_sparse;
INSERT INTO par_models
SELECT 'knn_parallel', recsys.train_knn(user_id, item_id, rating) FROM par_sparse;
INSERT INTO par_models
SELECT 'dups_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_dups;
INSERT INTO par_models
SELECT 'nulls_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_nulls;

SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO par_models
SELECT 'sparse_serial', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_sparse;
INSERT INTO par_models
SELECT 'knn_serial', recsys.train_knn(user_id, item_id, rating) FROM par_sparse;
INSERT INTO par_models
SELECT 'dups_serial', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_dups;
INSERT INTO par_models
SELECT 'nulls_serial', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_nulls;

SELECT is(pg_temp.payload(pg_temp.m('sparse_parallel')), pg_temp.payload(pg_temp.m('sparse_serial')),
		  'sparse, negative and huge ids over many processes: the same model byte for byte');
SELECT is((SELECT array_agg(id ORDER BY id) FROM recsys.item_factors(pg_temp.m('sparse_parallel'))),
		  (SELECT array_agg(DISTINCT item_id ORDER BY item_id) FROM par_sparse),
		  '... whose item ids are every distinct item, ascending');
SELECT is(pg_temp.payload(pg_temp.m('knn_parallel')), pg_temp.payload(pg_temp.m('knn_serial')),
		  'train_knn: the parallel model equals the serial one byte for byte');
SELECT is(recsys.model_info(pg_temp.m('dups_parallel')) ->> 'n_interactions',
		  (SELECT count(*)::text FROM (SELECT DISTINCT user_id, item_id FROM par_dups) d),
		  'explicit duplicates: one interaction per (user, item) after the merge');
SELECT is(pg_temp.payload(pg_temp.m('dups_parallel')), pg_temp.payload(pg_temp.m('dups_serial')),
		  'explicit duplicates within a process: the parallel model equals the serial one');
SELECT is(pg_temp.payload(pg_temp.m('nulls_parallel')), pg_temp.payload(pg_temp.m('nulls_serial')),
		  'mostly NULL values (empty partial states): the same model byte for byte');
SELECT is(recsys.model_info(pg_temp.m('nulls_parallel')) ->> 'n_interactions',
		  (SELECT count(*)::text FROM (SELECT DISTINCT user_id, item_id FROM par_nulls WHERE rating IS NOT NULL) d),
		  '... of the rows with a value');

-- partial states in full width: each process holds more than 65,536 items (32-bit
-- ranks) and more than 256 distinct values (floats, no dictionary)
CREATE TABLE par_wide AS
SELECT (g % 5000)::bigint AS user_id, (g * 7)::bigint AS item_id, ((g % 1000) / 7.0)::real AS rating
FROM generate_series(0, 299999) g;
-- long rows (400 entries) whose items arrive out of order, each item twice or
-- more with different values: a row is sorted by a merge sort, and for an
-- explicit duplicate the value that arrived last must win
CREATE TABLE par_long AS
SELECT (g / 400)::bigint AS user_id, (((g % 400) * 37 + (g / 400) * 11) % 250)::bigint AS item_id,
	   ((g % 400) % 7 + 1)::real AS rating, g AS seq
FROM generate_series(0, 59999) g;
CREATE TABLE par_long_last AS
SELECT DISTINCT ON (user_id, item_id) user_id, item_id, rating FROM par_long ORDER BY user_id, item_id, seq DESC;
-- the same long rows with one value per pair, so that any split among processes
-- gives the same model
CREATE TABLE par_long_same AS
SELECT user_id, item_id, (user_id % 5 + item_id % 3 + 1)::real AS rating FROM par_long ORDER BY seq;
ANALYZE par_wide;
ANALYZE par_long_same;

SET LOCAL max_parallel_workers_per_gather = 2;
SELECT matches(pg_temp.plan_of($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 0}') FROM par_wide $$),
			   'Partial Aggregate \(actual rows=1 loops=[23]\)', 'par_wide: more than one process builds a partial state');
INSERT INTO par_models
SELECT 'wide_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 1}') FROM par_wide;
INSERT INTO par_models
SELECT 'long_parallel', recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_long_same;
SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO par_models
SELECT 'wide_serial', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 1}') FROM par_wide;
INSERT INTO par_models
SELECT 'long_serial', recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_long_same;

SELECT is(pg_temp.payload(pg_temp.m('wide_parallel')), pg_temp.payload(pg_temp.m('wide_serial')),
		  'more than 65,536 items and 256 values per process: the same model byte for byte');
SELECT is(recsys.model_info(pg_temp.m('wide_parallel')) ->> 'rating_max',
		  (SELECT max(rating)::text FROM par_wide), '... whose largest rating came through as it was');
SELECT is(pg_temp.payload(pg_temp.m('long_parallel')), pg_temp.payload(pg_temp.m('long_serial')),
		  'long rows in arbitrary item order: the same model byte for byte');
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}' ORDER BY seq) FROM par_long)),
		  pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM par_long_last)),
		  'long unordered rows with duplicates: the value that arrived last wins');
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}' ORDER BY seq DESC) FROM par_long)),
		  pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}')
						   FROM (SELECT DISTINCT ON (user_id, item_id) user_id, item_id, rating FROM par_long
								 ORDER BY user_id, item_id, seq) first)),
		  '... and in reverse order the first one does');
SELECT is(recsys.model_info((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 1}') FROM par_long)) ->> 'n_interactions',
		  (SELECT count(*)::text FROM par_long_last), '... one interaction per pair');

-- without a sweep the build keeps only the by-item counts: the loss of the
-- initial factors, recomputed here from them and the counts of the data, is
-- the one the model reports, in both plans
CREATE FUNCTION pg_temp.zero_loss(m recsys.model) RETURNS float8 LANGUAGE sql AS $$
	WITH u AS (SELECT id, factors::real[] AS f FROM recsys.user_factors(m)),
		 i AS (SELECT id, factors::real[] AS f FROM recsys.item_factors(m)),
		 mu AS (SELECT (recsys.model_info(m) ->> 'global_mean')::float8 AS mu),
		 norm AS (SELECT 'u' AS side, id, (SELECT sum(x::float8 * x) FROM unnest(f) x) AS n2 FROM u
				  UNION ALL SELECT 'i', id, (SELECT sum(x::float8 * x) FROM unnest(f) x) FROM i)
	SELECT (SELECT sum((r.rating - mu.mu - (SELECT sum(a::float8 * b) FROM unnest(u.f, i.f) t(a, b))) ^ 2)
			FROM par_ratings r JOIN u ON u.id = r.user_id JOIN i ON i.id = r.item_id, mu)
		 + 0.1 * (SELECT sum(n2 * cnt) FROM norm
				  JOIN (SELECT 'u' AS side, user_id AS id, count(*) AS cnt FROM par_ratings GROUP BY user_id
						UNION ALL SELECT 'i', item_id, count(*) FROM par_ratings GROUP BY item_id) c USING (side, id))
$$;
SET LOCAL max_parallel_workers_per_gather = 2;
INSERT INTO par_models
SELECT 'zero_parallel', recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 0, "regularization": 0.1}') FROM par_ratings;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT cmp_ok(abs((recsys.model_info(pg_temp.m('zero_parallel')) ->> 'train_loss')::float8 / pg_temp.zero_loss(pg_temp.m('zero_parallel')) - 1),
			  '<', 1e-5::float8, 'zero iterations: the reported loss is that of the initial factors and the counts');
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 6, "iterations": 0, "regularization": 0.1}') FROM par_ratings)),
		  pg_temp.payload(pg_temp.m('zero_parallel')), '... the same model in the serial plan');

SELECT * FROM finish();
ROLLBACK;
