-- pg_cancel_backend from another session stops a training run promptly, and the
-- cancelled session stays usable.  The training runs in a second session opened with
-- dblink; this session cancels it and times how long it takes to stop.
BEGIN;
SELECT plan(7);
CREATE EXTENSION IF NOT EXISTS dblink;

SELECT dblink_connect('trainer', format('dbname=%s port=%s host=%s', current_database(),
	current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
CREATE TEMP TABLE trainer AS
	SELECT pid FROM dblink('trainer', 'SELECT pg_backend_pid()') AS t(pid int);

-- several seconds of work: 1M ratings, 64 factors, 50 sweeps
SELECT dblink_send_query('trainer', $q$
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 64, "iterations": 50}')
	FROM recsys.synthetic_ratings(20000, 4000, 1000000)
$q$);
SELECT pg_sleep(1.5);
SELECT is(dblink_is_busy('trainer'), 1, 'the training run is still under way after 1.5 s');

CREATE TEMP TABLE cancelled AS SELECT clock_timestamp() AS at, pg_cancel_backend(pid) AS sent FROM trainer;
DO $$
BEGIN
	FOR i IN 1..1000 LOOP
		EXIT WHEN dblink_is_busy('trainer') = 0;
		PERFORM pg_sleep(0.01);
	END LOOP;
END $$;
SELECT ok(sent, 'pg_cancel_backend reached the training session') FROM cancelled;
-- collect the (failed) result; with fail => false the error is reported as a NOTICE
SET LOCAL client_min_messages = warning;
CREATE TEMP TABLE outcome AS SELECT * FROM dblink_get_result('trainer', false) AS t(m text);
RESET client_min_messages;
SELECT cmp_ok(extract(epoch FROM clock_timestamp() - at)::float8, '<', 1.0::float8,
	'the training stopped within a second of the cancel') FROM cancelled;
SELECT is(dblink_error_message('trainer'), 'ERROR:  canceling statement due to user request',
	'the cancelled statement reports the cancel');

SELECT is((SELECT count(*) FROM outcome), 0::bigint, 'and returns no model');
SELECT count(*) FROM dblink_get_result('trainer', false) AS t(m text);

-- the session that was training still works, and trains again
SELECT is((SELECT x FROM dblink('trainer', 'SELECT 41 + 1') AS t(x int)), 42,
	'the cancelled session answers the next query');
SELECT is((SELECT n FROM dblink('trainer', $q$
	SELECT (recsys.model_info(recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}'))->>'n_interactions')::int
	FROM recsys.synthetic_ratings(200, 100, 2000)$q$) AS t(n int)), 2000,
	'and trains a model again');

SELECT dblink_disconnect('trainer');
SELECT * FROM finish();
ROLLBACK;
