-- Versions and gated deploys: version ids, retrain with promote_if (a candidate
-- trained on shuffled labels is rejected and the live model stays; a better one
-- is promoted), deploy to every kept version serving exactly that model,
-- rollback as "deploy the previous version", and who may see or deploy versions.
BEGIN;
SELECT plan(48);

CREATE ROLE recsys_vowner;
CREATE ROLE recsys_vother;
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models, recsys.model_history
	TO recsys_vowner, recsys_vother;

-- implicit feedback with planted structure; the test rows are a fifth of the pairs
CREATE TABLE public.v_all AS
	SELECT * FROM recsys.synthetic_ratings(300, 120, 9000, rank => 4, seed => 11);
CREATE TABLE public.v_test AS
	SELECT user_id, item_id FROM public.v_all WHERE recsys.fold(user_id, item_id, 5) = 0;
-- what the model trains on: rows of v_source, refilled between retrains (first
-- a quarter of the training pairs only)
CREATE TABLE public.v_source (user_id bigint, item_id bigint);
INSERT INTO public.v_source
	SELECT user_id, item_id FROM public.v_all WHERE recsys.fold(user_id, item_id, 5) = 1;
GRANT SELECT, INSERT, DELETE ON public.v_source, public.v_test, public.v_all TO recsys_vowner;
CREATE TEMP TABLE v_kept (version bigint PRIMARY KEY, model text, recs text);
GRANT ALL ON v_kept TO PUBLIC;

SET ROLE recsys_vowner;
SELECT is(recsys.train('v', 'ials', 'SELECT user_id, item_id, 1 FROM public.v_source',
	'{"factors": 4, "iterations": 8, "eval_query": "SELECT user_id, item_id FROM public.v_test", "eval_k": 10}') ->> 'version',
	'1', 'a new name starts at version 1');
SELECT is((SELECT version || '/' || last_version || '/' || status FROM recsys.models WHERE name = 'v'),
		  '1/1/trained', 'the registry row records the live version, the last id and the status');
INSERT INTO v_kept SELECT 1, model::text,
	(SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('v', 7, 10))
	FROM recsys.models WHERE name = 'v';

-- shuffled labels: every user's items replaced by unrelated ones
DELETE FROM public.v_source;
INSERT INTO public.v_source
	SELECT user_id, (item_id * 37 + user_id * 11) % 120 + 1
	FROM public.v_all WHERE recsys.fold(user_id, item_id, 5) <> 0;
SELECT is(recsys.retrain('v', promote_if => '{"metric": "ndcg@10", "min_ratio": 0.98}') ->> 'status',
		  'rejected', 'a gated retrain on shuffled labels is rejected');
SELECT is((SELECT model::text FROM recsys.models WHERE name = 'v'),
		  (SELECT model FROM v_kept WHERE version = 1),
		  'the live model is unchanged bit for bit');
SELECT is((SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('v', 7, 10)),
		  (SELECT recs FROM v_kept WHERE version = 1),
		  'serving by name still gives the live model''s recommendations');
SELECT is((SELECT version || '/' || last_version FROM recsys.models WHERE name = 'v'), '1/2',
		  'the candidate used up version 2; version 1 stays live');
SELECT ok((SELECT status = 'rejected' AND NOT live AND reason LIKE 'ndcg@10 % of the candidate is below %'
				  AND (metrics ->> 'ndcg@10')::float8 <
					  0.98 * (SELECT (metrics ->> 'ndcg@10')::float8 FROM recsys.models WHERE name = 'v')
		   FROM recsys.model_versions('v') WHERE version = 2),
		  'the rejected candidate is listed with its metrics and the reason');
SELECT is((SELECT replaced_at FROM recsys.model_history WHERE name = 'v' AND version = 2), NULL,
		  'a rejected candidate was never live (replaced_at NULL)');
INSERT INTO v_kept SELECT 2, model::text, NULL FROM recsys.model_history WHERE name = 'v' AND version = 2;

-- a better source: all the training pairs
DELETE FROM public.v_source;
INSERT INTO public.v_source
	SELECT user_id, item_id FROM public.v_all WHERE recsys.fold(user_id, item_id, 5) <> 0;
UPDATE recsys.models SET options = options || '{"factors": 4, "iterations": 15}' WHERE name = 'v';
SELECT is(recsys.retrain('v', promote_if => '{"metric": "ndcg@10", "min_ratio": 0.98}') ->> 'status',
		  'promoted', 'a gated retrain that is not worse is promoted');
SELECT ok((SELECT (c.metrics ->> 'ndcg@10')::float8 > (p.metrics ->> 'ndcg@10')::float8
		   FROM recsys.model_versions('v') c, recsys.model_versions('v') p
		   WHERE c.version = 3 AND p.version = 1),
		  'the promoted version is better than the one it replaced');
SELECT is((SELECT version || '/' || last_version || '/' || status FROM recsys.models WHERE name = 'v'),
		  '3/3/promoted', 'version 3 is live with status promoted');
INSERT INTO v_kept SELECT 3, model::text,
	(SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('v', 7, 10))
	FROM recsys.models WHERE name = 'v';
-- an ungated retrain always goes live
SELECT is(recsys.retrain('v') ->> 'version', '4', 'an ungated retrain is version 4');
INSERT INTO v_kept SELECT 4, model::text,
	(SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('v', 7, 10))
	FROM recsys.models WHERE name = 'v';
SELECT results_eq($$SELECT version, live, status FROM recsys.model_versions('v')$$,
				  $$VALUES (1::bigint, false, 'trained'), (2, false, 'rejected'),
						   (3, false, 'promoted'), (4, true, 'trained')$$,
				  'model_versions lists every kept version, oldest first, one live');

-- deploy to every kept version: exactly that model serves, at once, in this backend
CREATE TEMP TABLE v_deployed (version bigint, deployed bigint, live_model text, served_uuid text);
GRANT ALL ON v_deployed TO PUBLIC;
DO $$
DECLARE
	k record;
BEGIN
	FOR k IN SELECT version FROM v_kept ORDER BY version LOOP
		INSERT INTO v_deployed
			SELECT k.version, (recsys.deploy('v', k.version) ->> 'version')::bigint, NULL, NULL;
		UPDATE v_deployed
			SET live_model = (SELECT model::text FROM recsys.models WHERE name = 'v'),
				served_uuid = recsys.model_info('v') ->> 'uuid'
			WHERE version = k.version;
	END LOOP;
END
$$;
SELECT is((SELECT count(*) FROM v_deployed AS d JOIN v_kept AS k USING (version)
		   WHERE d.deployed = k.version AND d.live_model = k.model
			 AND d.served_uuid = recsys.model_info(k.model::recsys.model) ->> 'uuid'),
		  4::bigint, 'deploy to each version makes its model live bit for bit and serves it by name');
-- the recommendations after a deploy are that version's (the cache follows the row)
SELECT is(recsys.deploy('v', 1) ->> 'version', '1', 'deploy back to version 1');
SELECT is((SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('v', 7, 10)),
		  (SELECT recs FROM v_kept WHERE version = 1), 'recommend serves version 1''s lists');
SELECT is(recsys.deploy('v', 3) ->> 'version', '3', 'deploy forward to version 3');
SELECT is((SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('v', 7, 10)),
		  (SELECT recs FROM v_kept WHERE version = 3), 'recommend serves version 3''s lists');
SELECT is((SELECT count(*) FROM recsys.model_versions('v')), 4::bigint,
		  'deploys keep every version (the live one moves to the history)');
SELECT is(recsys.deploy('v', 3) ->> 'version', '3', 'deploying the live version changes nothing');
SELECT is((SELECT status FROM recsys.models WHERE name = 'v'), 'promoted',
		  'the live row carries the deployed version''s status');

-- rollback: the highest kept version below the live one that was not rejected
SELECT is(recsys.rollback('v') ->> 'version', '1', 'rollback from 3 skips the rejected 2');
SELECT throws_ok($$SELECT recsys.rollback('v')$$, '55000',
				 'model "v" has no previous version to roll back to', 'nothing below version 1');
SELECT is(recsys.deploy('v', 4) ->> 'version', '4', 'deploy forward again to the newest');

-- new versions keep growing after deploys; keep_history trims the lowest ids
UPDATE recsys.models SET options = options || '{"keep_history": 2}' WHERE name = 'v';
SELECT is(recsys.retrain('v') ->> 'version', '5', 'the next training is version 5');
SELECT results_eq($$SELECT version FROM recsys.model_versions('v')$$,
				  $$VALUES (3::bigint), (4), (5)$$,
				  'keep_history 2 keeps the two highest versions besides the live one');
SELECT is(recsys.deploy('v', 3) ->> 'version', '3', 'deploy to an old kept version');
SELECT is(recsys.retrain('v') ->> 'version', '6', 'a retrain after it is version 6, not 4');

-- an error metric: lower is better (rmse of explicit ratings)
RESET ROLE;
CREATE TABLE public.v_ratings AS
	SELECT * FROM recsys.synthetic_ratings(200, 80, 5000, rank => 3, seed => 4);
CREATE TABLE public.v_rating_source AS SELECT * FROM public.v_ratings
	WHERE recsys.fold(user_id, item_id, 5) <> 0;
GRANT SELECT ON public.v_ratings TO recsys_vowner;
GRANT ALL ON public.v_rating_source TO recsys_vowner;
SET ROLE recsys_vowner;
SELECT lives_ok($$SELECT recsys.train('v_als', 'als', 'SELECT user_id, item_id, rating FROM public.v_rating_source',
	'{"factors": 3, "eval_query": "SELECT user_id, item_id, rating FROM public.v_ratings WHERE recsys.fold(user_id, item_id, 5) = 0"}')$$,
	'an explicit model with an eval_query');
SELECT is(recsys.retrain('v_als', promote_if => '{"metric": "rmse", "min_ratio": 1}') ->> 'status', 'promoted',
		  'rmse gate: the same data and seed give the same rmse, which passes min_ratio 1');
UPDATE public.v_rating_source SET rating = 6 - rating;
SELECT is(recsys.retrain('v_als', promote_if => '{"metric": "rmse", "min_ratio": 0.9}') ->> 'status', 'rejected',
		  'rmse gate: ratings turned upside down give a higher rmse, rejected even at min_ratio 0.9');
SELECT ok((SELECT reason LIKE 'rmse % of the candidate is above %' FROM recsys.model_versions('v_als') WHERE version = 3),
		  'the reason says the candidate''s rmse is above the bound');
SELECT is(recsys.retrain('v_als', promote_if => '{"metric": "rmse", "min_ratio": 0.01, "higher_is_better": true}') ->> 'status',
		  'promoted', 'higher_is_better overrides the direction (a larger rmse then wins)');

-- errors
SELECT throws_ok($$SELECT recsys.retrain('v', promote_if => '{"metric": "ndcg@10", "higher_is_better": 1}')$$,
				 '22023', NULL, 'higher_is_better not a boolean: 22023');
SELECT throws_ok($$SELECT recsys.deploy('v', 1)$$, '42704', 'model "v" has no version 1',
				 'a trimmed version cannot be deployed');
SELECT throws_ok($$SELECT recsys.deploy('nothing', 1)$$, '42704', 'model "nothing" does not exist',
				 'deploy of an unknown name: 42704');
SELECT throws_ok($$SELECT * FROM recsys.model_versions('nothing')$$, '42704', NULL,
				 'model_versions of an unknown name: 42704');
SELECT throws_ok($$SELECT recsys.retrain('v', promote_if => '{"metric": "ndcg@5"}')$$, '22023',
				 'promote_if metric "ndcg@5" is at k = 5 but the model is evaluated at eval_k = 10',
				 'a ranking metric at another k than eval_k: 22023 before training');
SELECT throws_ok($$SELECT recsys.retrain('v', promote_if => '{"metric": "ndcg@10", "min_ratio": "high"}')$$,
				 '22023', NULL, 'a min_ratio that is not a number: 22023');
SELECT throws_ok($$SELECT recsys.retrain('v', promote_if => '{"min_ratio": 1}')$$, '22023', NULL,
				 'promote_if without a metric: 22023');
SELECT throws_ok($$SELECT recsys.retrain('v', promote_if => '[1]')$$, '22023', NULL,
				 'promote_if not an object: 22023');
SELECT lives_ok($$SELECT recsys.train('v_noeval', 'ials', 'SELECT user_id, item_id, 1 FROM public.v_source',
	'{"factors": 2, "iterations": 1}')$$, 'a model without eval_query');
SELECT throws_ok($$SELECT recsys.retrain('v_noeval', promote_if => '{"metric": "ndcg@10"}')$$, '55000',
				 'model "v_noeval" has no eval_query to decide promote_if on',
				 'promote_if needs a stored eval_query: 55000');
SELECT is((SELECT version || '/' || last_version FROM recsys.models WHERE name = 'v'), '6/6',
		  'failed calls leave the versions as they were');

-- another role sees no versions of a model it does not own or read, and cannot deploy
RESET ROLE;
SET ROLE recsys_vother;
SELECT throws_ok($$SELECT * FROM recsys.model_versions('v')$$, '42704', NULL,
				 'another role cannot list the versions');
SELECT throws_ok($$SELECT recsys.deploy('v', 5)$$, '42704', NULL, 'nor deploy one');
RESET ROLE;
SET ROLE recsys_vowner;
SELECT recsys.share('v', 'recsys_vother');
RESET ROLE;
SET ROLE recsys_vother;
SELECT results_eq($$SELECT version, live FROM recsys.model_versions('v')$$,
				  $$VALUES (6::bigint, true)$$, 'a reader sees the live version only');
SELECT throws_ok($$SELECT recsys.deploy('v', 5)$$, '42501', NULL, 'a reader cannot deploy: 42501');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
