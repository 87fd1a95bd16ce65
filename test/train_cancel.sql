-- Cancellation: statement_timeout stops a long training run promptly (the solver
-- polls for interrupts while its threads work) and the backend stays usable.
BEGIN;
SELECT plan(8);

-- 1000 users x 50 items; with 64 factors one explicit sweep takes about 0.1 s, so
-- 2000 sweeps would run for minutes
CREATE TABLE cancel_ratings AS
SELECT (g / 50)::bigint AS user_id, ((g % 50) * 20 + (g / 50) % 20)::bigint AS item_id, ((g % 5) + 1)::real AS rating
FROM generate_series(0, 49999) g;
CREATE TABLE cancel_runs (run text, seconds float8, state text);

-- runs a training query under a 1 s statement_timeout, records how long it took
CREATE FUNCTION pg_temp.timed(run text, q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	INSERT INTO cancel_runs VALUES (run, extract(epoch FROM clock_timestamp() - t0), 'finished');
EXCEPTION WHEN query_canceled THEN
	INSERT INTO cancel_runs VALUES (run, extract(epoch FROM clock_timestamp() - t0), SQLSTATE);
END $$;

SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('als', $$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 64, "iterations": 2000}') FROM cancel_ratings $$);
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('ials', $$ SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 64, "iterations": 10000}') FROM cancel_ratings $$);
SET LOCAL recsys.threads = 1;
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('als one thread', $$ SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 64, "iterations": 2000}') FROM cancel_ratings $$);
SET LOCAL statement_timeout = 0;

SELECT is((SELECT state FROM cancel_runs WHERE run = 'als'), '57014', 'train_als is canceled by statement_timeout');
SELECT cmp_ok((SELECT seconds FROM cancel_runs WHERE run = 'als'), '<', 2.0::float8, 'train_als stops within a second of the timeout');
SELECT is((SELECT state FROM cancel_runs WHERE run = 'ials'), '57014', 'train_ials is canceled by statement_timeout');
SELECT cmp_ok((SELECT seconds FROM cancel_runs WHERE run = 'ials'), '<', 2.0::float8, 'train_ials stops within a second of the timeout');
SELECT is((SELECT state FROM cancel_runs WHERE run = 'als one thread'), '57014', 'canceled with recsys.threads = 1');
SELECT cmp_ok((SELECT seconds FROM cancel_runs WHERE run = 'als one thread'), '<', 2.0::float8, 'and promptly');

-- the backend still works, and so does training
SELECT is((SELECT count(*) FROM cancel_ratings), 50000::bigint, 'queries run after the cancel');
SELECT is(recsys.model_info((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}') FROM cancel_ratings)) ->> 'iterations',
		  '2', 'training runs after the cancel');

SELECT * FROM finish();
ROLLBACK;
