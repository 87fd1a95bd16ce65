-- Scheduled retraining with pg_cron: a job that calls recsys.retrain replaces the
-- registry's model (the old one goes to the history), and a job that fails shows
-- our error in cron.job_run_details.
--
-- Not one transaction: pg_cron only runs jobs it can see committed, and its
-- background worker commits the new model in its own transaction.  Everything
-- this file creates is dropped at the end.  pg_cron 1.4 schedules by the minute,
-- so the wait is up to about a minute (at most 130 s before giving up).
SELECT plan(10);

CREATE TABLE cron_ratings AS
	SELECT * FROM recsys.synthetic_ratings(60, 30, 600, seed => 5);
SELECT lives_ok($$SELECT recsys.train('cron_test', 'als',
	'SELECT user_id, item_id, rating FROM cron_ratings', '{"factors": 2, "iterations": 2}')$$,
	'a model registered by recsys.train');
CREATE TABLE cron_before AS
	SELECT recsys.model_info(model) ->> 'uuid' AS uuid, trained_at, model::text AS model_text
	FROM recsys.models WHERE name = 'cron_test';

CREATE TABLE cron_jobs (jobname text PRIMARY KEY, jobid bigint);
INSERT INTO cron_jobs VALUES
	('recsys-test-retrain',
	 cron.schedule('recsys-test-retrain', '* * * * *', $$SELECT recsys.retrain('cron_test')$$)),
	('recsys-test-missing',
	 cron.schedule('recsys-test-missing', '* * * * *', $$SELECT recsys.retrain('cron_test_missing')$$));
SELECT is((SELECT count(*) FROM cron.job j JOIN cron_jobs c USING (jobid)), 2::bigint,
		  'both jobs are scheduled');

-- each statement of the loop sees what the cron worker committed meanwhile
DO $$
DECLARE
	deadline	timestamptz := clock_timestamp() + interval '130 seconds';
BEGIN
	LOOP
		EXIT WHEN (SELECT count(DISTINCT d.jobid) FROM cron.job_run_details d
				   JOIN cron_jobs c USING (jobid)
				   WHERE d.status IN ('succeeded', 'failed')) = 2
			   OR clock_timestamp() > deadline;
		PERFORM pg_sleep(1);
	END LOOP;
END
$$;

SELECT is((SELECT d.status FROM cron.job_run_details d JOIN cron_jobs c USING (jobid)
		   WHERE c.jobname = 'recsys-test-retrain' AND d.status IN ('succeeded', 'failed')
		   ORDER BY d.start_time LIMIT 1),
		  'succeeded', 'the scheduled recsys.retrain succeeded');
SELECT isnt((SELECT recsys.model_info(model) ->> 'uuid' FROM recsys.models WHERE name = 'cron_test'),
			(SELECT uuid FROM cron_before), 'the registry holds a new model');
SELECT ok((SELECT r.trained_at > b.trained_at FROM recsys.models r, cron_before b WHERE r.name = 'cron_test'),
		  'trained later than the first one');
SELECT ok(EXISTS (SELECT FROM recsys.model_history h, cron_before b
				  WHERE h.name = 'cron_test' AND h.model::text = b.model_text),
		  'the history holds the model the job replaced');
SELECT is((SELECT d.status FROM cron.job_run_details d JOIN cron_jobs c USING (jobid)
		   WHERE c.jobname = 'recsys-test-missing' AND d.status IN ('succeeded', 'failed')
		   ORDER BY d.start_time LIMIT 1),
		  'failed', 'a job retraining an unknown model fails');
SELECT matches((SELECT d.return_message FROM cron.job_run_details d JOIN cron_jobs c USING (jobid)
				WHERE c.jobname = 'recsys-test-missing' AND d.status = 'failed'
				ORDER BY d.start_time LIMIT 1),
			   'model "cron_test_missing" does not exist',
			   'its return_message is our error');

SELECT ok(cron.unschedule('recsys-test-retrain'), 'unschedule the retrain job');
SELECT ok(cron.unschedule('recsys-test-missing'), 'unschedule the failing job');

DELETE FROM cron.job_run_details WHERE jobid IN (SELECT jobid FROM cron_jobs);
DELETE FROM recsys.model_history WHERE name = 'cron_test';
DELETE FROM recsys.models WHERE name = 'cron_test';
DROP TABLE cron_jobs, cron_before, cron_ratings;

SELECT * FROM finish();
