-- recsys.vec aggregates in parallel: sum(vec) and avg(vec) run as Partial
-- Aggregate in the workers under Gather, and give exactly the serial result.
-- (A table created in this transaction is still scanned in parallel: the
-- workers share the transaction's snapshot.)
BEGIN;
SELECT plan(8);
SET LOCAL search_path = recsys, public;

-- The text of a query's plan (COSTS OFF)
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END
$$;

-- 200k vectors of 4 dimensions whose elements are multiples of 1/8 (plus a few
-- NULL rows): every float8 partial sum is exact, so any order of summation, serial
-- or parallel, gives the same bits.
CREATE TABLE par_vecs AS
SELECT i, CASE WHEN i % 1000 = 0 THEN NULL
			   ELSE ARRAY[((i * 37) % 2001 - 1000) / 8.0, ((i * 11) % 401 - 200) / 4.0, i % 7, -(i % 3)]::float8[]::vec
		  END AS v
  FROM generate_series(1, 200000) i;

-- the serial answer, and the same sums done by SQL over the elements
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TABLE par_serial AS SELECT sum(v) AS s, avg(v) AS a FROM par_vecs;
SELECT is((SELECT s FROM par_serial),
		  (SELECT ARRAY[sum(x[1]), sum(x[2]), sum(x[3]), sum(x[4])]::vec FROM (SELECT v::float8[] AS x FROM par_vecs) t),
		  'serial sum(vec) equals the element-wise SQL sums');
SELECT is((SELECT a FROM par_serial),
		  (SELECT ARRAY[avg(x[1]), avg(x[2]), avg(x[3]), avg(x[4])]::vec FROM (SELECT v::float8[] AS x FROM par_vecs) t),
		  'serial avg(vec) equals the element-wise SQL averages');

SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;

SELECT matches(pg_temp.plan_of('SELECT sum(v) FROM par_vecs'),
			   'Gather.*Partial Aggregate.*Parallel Seq Scan', 'sum(vec) runs as Partial Aggregate under Gather');
SELECT matches(pg_temp.plan_of('SELECT avg(v) FROM par_vecs'),
			   'Gather.*Partial Aggregate.*Parallel Seq Scan', 'avg(vec) runs as Partial Aggregate under Gather');
SELECT is((SELECT sum(v) FROM par_vecs), (SELECT s FROM par_serial), 'parallel sum(vec) equals the serial result');
SELECT is((SELECT avg(v) FROM par_vecs), (SELECT a FROM par_serial), 'parallel avg(vec) equals the serial result');

-- the workers alone: every partial state is serialized, deserialized and combined
SET LOCAL parallel_leader_participation = off;
SELECT is((SELECT sum(v) FROM par_vecs), (SELECT s FROM par_serial), 'sum(vec) from the workers alone equals the serial result');
SELECT is((SELECT avg(v) FROM par_vecs WHERE i % 2 = 0),
		  (SELECT ARRAY[avg(x[1]), avg(x[2]), avg(x[3]), avg(x[4])]::vec FROM (SELECT v::float8[] AS x FROM par_vecs WHERE i % 2 = 0) t),
		  'filtered avg(vec) from the workers equals the SQL averages');

SELECT * FROM finish();
ROLLBACK;
