-- The final function's counting sorts run on recsys.threads threads, each over its
-- own range of the input: whatever the thread count, the model must be the one a
-- single thread builds, byte for byte (duplicates merged in arrival order, weights
-- summed, ids relabelled in ascending order).
BEGIN;
SELECT plan(12);

-- OpenBLAS's own threads (its pthread build starts one per CPU as it loads, each
-- spinning a tenth of a second) are stopped once recsys is loaded; the solvers'
-- threads end with their work
SELECT is((SELECT count(*) FROM recsys.blas_info() WHERE library IS NOT NULL), 1::bigint,
		  'recsys and its OpenBLAS are loaded');
SELECT is((SELECT count(*) FROM pg_ls_dir('/proc/' || pg_backend_pid() || '/task')), 1::bigint,
		  'the backend runs a single thread after loading OpenBLAS');

-- 60,000 rows, so every thread count below gets several ranges; duplicates of
-- one (user, item) pair lie far apart in the input, across range boundaries
CREATE TABLE thr_ratings AS
SELECT (g % 997)::bigint AS user_id, ((g * 31) % 613)::bigint AS item_id,
	   ((g * 7) % 5 + 1)::real AS rating
FROM generate_series(0, 59999) g;
CREATE TABLE thr_plays AS
SELECT (g % 1500)::bigint AS user_id, ((g * 7919) % 700)::bigint AS item_id,
	   ((g % 3) + 0.25)::real AS plays
FROM generate_series(0, 59999) g;
-- sparse and negative ids, numbered through the hash table rather than directly
CREATE TABLE thr_sparse AS
SELECT ((g % 800) * 1000000007 - 5000000000)::bigint AS user_id,
	   (((g * 13) % 400) * -987654321)::bigint AS item_id, ((g % 4) + 1)::real AS rating
FROM generate_series(0::bigint, 39999) g;
ANALYZE thr_ratings;
ANALYZE thr_plays;
ANALYZE thr_sparse;

CREATE FUNCTION pg_temp.payload(m recsys.model) RETURNS bytea
	LANGUAGE sql AS $$ SELECT substring(recsys.model_send(m) FROM 101) $$;
-- trains with a given number of threads on a serial plan
CREATE FUNCTION pg_temp.trained(q text, threads int) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	m recsys.model;
BEGIN
	PERFORM set_config('recsys.threads', threads::text, true);
	EXECUTE q INTO m;
	RETURN pg_temp.payload(m);
END $$;

SET LOCAL max_parallel_workers_per_gather = 0;
-- more threads than CPUs: their ceiling (a superuser setting) defaults to the CPUs
SET LOCAL recsys.max_threads = 8;

SELECT is(pg_temp.trained($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 1}') FROM thr_ratings $$, 2),
		  pg_temp.trained($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 1}') FROM thr_ratings $$, 1),
		  'train_als: 2 threads build the model 1 thread builds');
SELECT is(pg_temp.trained($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 0}') FROM thr_ratings $$, 5),
		  pg_temp.trained($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 0}') FROM thr_ratings $$, 1),
		  'train_als: 5 threads build the model 1 thread builds');
SELECT is(pg_temp.trained($$ SELECT recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 1}') FROM thr_plays $$, 3),
		  pg_temp.trained($$ SELECT recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 1}') FROM thr_plays $$, 1),
		  'train_ials (duplicates summed): 3 threads build the model 1 thread builds');
SELECT is(pg_temp.trained($$ SELECT recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 1}' ORDER BY md5(user_id::text || item_id || plays)) FROM thr_plays $$, 2),
		  pg_temp.trained($$ SELECT recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 1}') FROM thr_plays $$, 1),
		  'train_ials: shuffled input on 2 threads gives the model of ordered input on 1');
SELECT is(pg_temp.trained($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 3, "iterations": 1}') FROM thr_sparse $$, 2),
		  pg_temp.trained($$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 3, "iterations": 1}') FROM thr_sparse $$, 1),
		  'train_als: sparse and negative ids, 2 threads build the model 1 thread builds');

-- ids come out ascending whichever way they were numbered
SET LOCAL recsys.threads = 2;
CREATE TEMP TABLE thr_models AS
SELECT 'direct'::text AS name, recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 0}') AS m FROM thr_ratings
UNION ALL
SELECT 'sparse', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 0}') FROM thr_sparse;
SELECT is((SELECT array_agg(id) FROM recsys.user_factors((SELECT m FROM thr_models WHERE name = 'direct'))),
		  (SELECT array_agg(DISTINCT user_id ORDER BY user_id) FROM thr_ratings),
		  'small ids: the model lists every user once, ascending');
SELECT is((SELECT array_agg(id) FROM recsys.item_factors((SELECT m FROM thr_models WHERE name = 'sparse'))),
		  (SELECT array_agg(DISTINCT item_id ORDER BY item_id) FROM thr_sparse),
		  'sparse ids: the model lists every item once, ascending');
SELECT is(recsys.model_info((SELECT m FROM thr_models WHERE name = 'direct')) ->> 'n_interactions',
		  (SELECT count(*)::text FROM (SELECT DISTINCT user_id, item_id FROM thr_ratings) d),
		  'duplicates split between ranges are merged');

-- a parallel plan on 2 threads: merged partial states through the threaded passes
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE TEMP TABLE thr_par AS
SELECT pg_temp.payload(recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 1}')) AS p FROM thr_plays;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is((SELECT p FROM thr_par),
		  pg_temp.trained($$ SELECT recsys.train_ials(user_id, item_id, plays, '{"factors": 4, "iterations": 1}') FROM thr_plays $$, 1),
		  'train_ials: a parallel plan on 2 threads builds the serial 1-thread model');

SELECT is((SELECT count(*) FROM pg_ls_dir('/proc/' || pg_backend_pid() || '/task')), 1::bigint,
		  'and again after training on several threads');
SELECT * FROM finish();
ROLLBACK;
