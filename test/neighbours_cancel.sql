-- Cancellation of the neighbourhood fits: statement_timeout stops EASE in its dense
-- phases and user kNN in its similarity pass promptly (the main thread polls
-- between blocks of work), and the backend stays usable.
BEGIN;
SELECT plan(6);

-- EASE over 10,000 items: the Cholesky factorisation and the inverse take seconds
CREATE TABLE ease_cancel AS
	SELECT g / 30 AS user_id, (abs(hashint4(g)) % 10000)::bigint AS item_id, 1::real AS value
	FROM generate_series(0, 499999) AS g;
-- user kNN over 40,000 users with 30 items each among 1,000: seconds of similarity work
CREATE TABLE knn_cancel AS
	SELECT g / 30 AS user_id, (abs(hashint4(g * 7)) % 1000)::bigint AS item_id, 1::real AS value
	FROM generate_series(0, 1199999) AS g;
CREATE TABLE nb_cancel_runs (run text, seconds float8, state text);

-- runs a training query, records how long it took and how it ended
CREATE FUNCTION pg_temp.timed(run text, q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	INSERT INTO nb_cancel_runs VALUES (run, extract(epoch FROM clock_timestamp() - t0), 'finished');
EXCEPTION WHEN query_canceled THEN
	INSERT INTO nb_cancel_runs VALUES (run, extract(epoch FROM clock_timestamp() - t0), SQLSTATE);
END $$;

SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('ease', $$ SELECT recsys.train_ease(user_id, item_id, value, '{"neighbours": 50}') FROM ease_cancel $$);
SET LOCAL statement_timeout = '1s';
SELECT pg_temp.timed('knn', $$ SELECT recsys.train_knn(user_id, item_id, value, '{"kind": "user"}') FROM knn_cancel $$);
SET LOCAL statement_timeout = 0;

SELECT is((SELECT state FROM nb_cancel_runs WHERE run = 'ease'), '57014', 'train_ease is canceled by statement_timeout');
SELECT cmp_ok((SELECT seconds FROM nb_cancel_runs WHERE run = 'ease'), '<', 2.5::float8,
			  'train_ease stops within a second of the timeout');
SELECT is((SELECT state FROM nb_cancel_runs WHERE run = 'knn'), '57014', 'train_knn is canceled by statement_timeout');
SELECT cmp_ok((SELECT seconds FROM nb_cancel_runs WHERE run = 'knn'), '<', 2.0::float8,
			  'train_knn stops within a second of the timeout');

-- the backend still works, and so does training
SELECT is((SELECT count(*) FROM ease_cancel), 500000::bigint, 'queries run after the cancels');
SELECT is(recsys.model_info((SELECT recsys.train_ease(user_id, item_id, value) FROM ease_cancel WHERE item_id < 200)) ->> 'algorithm',
		  'ease', 'training runs after the cancels');

SELECT * FROM finish();
ROLLBACK;
