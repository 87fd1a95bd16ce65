-- What recsys.train and recsys.retrain record (source, options, metrics), the model
-- history they keep, its retention, and recsys.rollback.
BEGIN;
SELECT plan(41);

CREATE TEMP TABLE ratings AS
	SELECT * FROM recsys.synthetic_ratings(120, 60, 2400, seed => 3);
CREATE TEMP TABLE uuids (step text PRIMARY KEY, uuid text, model_text text);

SELECT ok((SELECT 'recsys.model_history'::regclass = ANY (e.extconfig) FROM pg_extension e
		   WHERE e.extname = 'recsys'),
		  'recsys.model_history is dumped by pg_dump (extension config table)');

-- a first training: a new row, nothing in the history, no metrics asked for
SELECT lives_ok($$SELECT recsys.train('h', 'als',
	'SELECT user_id, item_id, rating FROM ratings WHERE recsys.fold(user_id, item_id, 4) <> 0',
	'{"factors": 4, "iterations": 3}')$$, 'train a new name');
INSERT INTO uuids SELECT 'first', recsys.model_info(model) ->> 'uuid', model::text
	FROM recsys.models WHERE name = 'h';
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'h'), 0::bigint,
		  'a new name has no history');
SELECT is((SELECT metrics FROM recsys.models WHERE name = 'h'), NULL,
		  'without eval_query the metrics column is NULL');
SELECT ok((SELECT trained_at <= clock_timestamp() AND trained_at >= now() FROM recsys.models WHERE name = 'h'),
		  'trained_at is the time of training');

-- training again with an evaluation: the old model moves to the history
SELECT lives_ok($$SELECT recsys.train('h', 'als',
	'SELECT user_id, item_id, rating FROM ratings WHERE recsys.fold(user_id, item_id, 4) <> 0',
	'{"factors": 4, "iterations": 3, "eval_query": "SELECT user_id, item_id, rating FROM ratings WHERE recsys.fold(user_id, item_id, 4) = 0", "eval_k": 5, "eval_options": {"relevance_threshold": 3.5}}')$$,
	'train with eval_query, eval_k and eval_options');
INSERT INTO uuids SELECT 'second', recsys.model_info(model) ->> 'uuid', model::text
	FROM recsys.models WHERE name = 'h';
SELECT isnt((SELECT uuid FROM uuids WHERE step = 'second'), (SELECT uuid FROM uuids WHERE step = 'first'),
			'the registry holds a new model');
SELECT is((SELECT metrics FROM recsys.models WHERE name = 'h'),
		  (SELECT recsys.evaluate(model,
			'SELECT user_id, item_id, rating FROM ratings WHERE recsys.fold(user_id, item_id, 4) = 0',
			5, '{"relevance_threshold": 3.5}') FROM recsys.models WHERE name = 'h'),
		  'the metrics column is recsys.evaluate of the new model on eval_query with eval_k and eval_options');
SELECT ok((SELECT metrics ? 'ndcg@5' AND metrics ? 'rmse' FROM recsys.models WHERE name = 'h'),
		  'eval_k sets the k of the recorded metrics');
SELECT is((SELECT options ->> 'eval_k' FROM recsys.models WHERE name = 'h'), '5',
		  'the registry options keep eval_k (retrain evaluates again)');
SELECT is((SELECT recsys.model_info(model) -> 'options' ?| ARRAY['eval_query', 'eval_k', 'eval_options']
		   FROM recsys.models WHERE name = 'h'), false,
		  'the training aggregate never sees the registry options');
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'h'), 1::bigint,
		  'the replaced model is in the history');
SELECT is((SELECT model::text FROM recsys.model_history WHERE name = 'h'),
		  (SELECT model_text FROM uuids WHERE step = 'first'),
		  'the history holds the replaced model unchanged');
SELECT ok((SELECT h.options = '{"factors": 4, "iterations": 3}' AND h.metrics IS NULL
				  AND h.source LIKE '%<> 0' AND h.replaced_at >= h.trained_at
		   FROM recsys.model_history h WHERE name = 'h'),
		  'the history row carries the replaced row''s source, options, trained_at and metrics');

-- retrain keeps doing the same
SELECT is(recsys.retrain('h') ->> 'n_users', (SELECT count(DISTINCT user_id)::text FROM ratings
	WHERE recsys.fold(user_id, item_id, 4) <> 0), 'retrain from the stored source');
INSERT INTO uuids SELECT 'third', recsys.model_info(model) ->> 'uuid', model::text
	FROM recsys.models WHERE name = 'h';
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'h'), 2::bigint,
		  'retrain adds the replaced model to the history');
SELECT ok((SELECT metrics IS NOT NULL FROM recsys.models WHERE name = 'h'),
		  'retrain evaluates again with the stored eval_query');

-- rollback: the previous version comes back bit for bit and leaves the history
SELECT is(recsys.rollback('h') ->> 'uuid', (SELECT uuid FROM uuids WHERE step = 'second'),
		  'rollback returns the model_info of the restored model');
SELECT is((SELECT model::text FROM recsys.models WHERE name = 'h'),
		  (SELECT model_text FROM uuids WHERE step = 'second'),
		  'rollback restores the previous model bit for bit');
SELECT ok((SELECT options ? 'eval_query' AND metrics IS NOT NULL FROM recsys.models WHERE name = 'h'),
		  'rollback restores the previous options and metrics');
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'h'), 2::bigint,
		  'rollback moves the restored entry out of the history and the live one in');
SELECT is((SELECT count(*) FROM recsys.model_history h, uuids u
		   WHERE h.name = 'h' AND u.step = 'third' AND h.model::text = u.model_text), 1::bigint,
		  'the model rolled back from is kept (recsys.deploy can bring it back)');
SELECT is(recsys.rollback('h') ->> 'uuid', (SELECT uuid FROM uuids WHERE step = 'first'),
		  'a second rollback goes one more step back');
SELECT is((SELECT model::text FROM recsys.models WHERE name = 'h'),
		  (SELECT model_text FROM uuids WHERE step = 'first'),
		  'the first model is back bit for bit');
SELECT ok((SELECT metrics IS NULL AND NOT options ? 'eval_query' FROM recsys.models WHERE name = 'h'),
		  'with its own options and (absent) metrics');
SELECT throws_ok($$SELECT recsys.rollback('h')$$, '55000',
				 'model "h" has no previous version to roll back to',
				 'rollback with an empty history: 55000 naming the model');
SELECT throws_ok($$SELECT recsys.rollback('no such model')$$, '42704',
				 'model "no such model" does not exist', 'rollback of an unknown name: 42704');
SELECT is(recsys.rollback(NULL), NULL, 'rollback(NULL) is NULL');
SELECT is(recsys.model_info('h') ->> 'uuid', (SELECT uuid FROM uuids WHERE step = 'first'),
		  'serving by name sees the rolled-back model');

-- retention: keep_history N keeps the N most recently replaced models
SELECT lives_ok($$SELECT recsys.train('h', 'als', 'SELECT user_id, item_id, rating FROM ratings',
	'{"factors": 2, "iterations": 1, "keep_history": 2}')$$, 'train with keep_history 2');
DELETE FROM uuids;
DO $$
BEGIN
	FOR step IN 1..4 LOOP
		INSERT INTO uuids SELECT step::text, recsys.model_info(model) ->> 'uuid', model::text
			FROM recsys.models WHERE name = 'h';
		PERFORM recsys.retrain('h');
	END LOOP;
END
$$;
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'h'), 2::bigint,
		  'keep_history 2: two models in the history');
SELECT set_eq($$SELECT recsys.model_info(model) ->> 'uuid' FROM recsys.model_history WHERE name = 'h'$$,
			  $$SELECT uuid FROM uuids WHERE step IN ('3', '4')$$,
			  'the two most recently replaced are kept');
SELECT is(recsys.rollback('h') ->> 'uuid', (SELECT uuid FROM uuids WHERE step = '4'),
		  'rollback takes the most recently replaced');
SELECT lives_ok($$SELECT recsys.train('h', 'als', 'SELECT user_id, item_id, rating FROM ratings',
	'{"factors": 2, "iterations": 1, "keep_history": 0}')$$, 'train with keep_history 0');
SELECT is((SELECT count(*) FROM recsys.model_history WHERE name = 'h'), 0::bigint,
		  'keep_history 0 keeps no history');

-- registry options are checked before training
SELECT throws_ok($$SELECT recsys.train('h', 'als', 'SELECT 1, 2, 3.0', '{"eval_k": 0, "eval_query": "SELECT 1, 2"}')$$,
				 '22023', 'option "eval_k" must be an integer between 1 and 100000, got 0',
				 'eval_k 0: 22023');
SELECT throws_ok($$SELECT recsys.train('h', 'als', 'SELECT 1, 2, 3.0', '{"eval_k": "ten", "eval_query": "SELECT 1, 2"}')$$,
				 '22023', 'option "eval_k" must be an integer between 1 and 100000, got "ten"',
				 'eval_k not a number: 22023');
SELECT throws_ok($$SELECT recsys.train('h', 'als', 'SELECT 1, 2, 3.0', '{"eval_query": 5}')$$,
				 '22023', 'option "eval_query" must be a string (a test query), got 5',
				 'eval_query not a string: 22023');
SELECT throws_ok($$SELECT recsys.train('h', 'als', 'SELECT 1, 2, 3.0', '{"eval_k": 5}')$$,
				 '22023', 'options "eval_k" and "eval_options" need "eval_query"',
				 'eval_k without eval_query: 22023');
SELECT throws_ok($$SELECT recsys.train('h', 'als', 'SELECT 1, 2, 3.0', '{"keep_history": -1}')$$,
				 '22023', 'option "keep_history" must be an integer between 0 and 1000, got -1',
				 'keep_history -1: 22023');
SELECT throws_ok($$SELECT recsys.train('h', 'als', 'SELECT user_id, item_id, rating FROM ratings',
					'{"factors": 2, "eval_query": "SELECT user_id FROM ratings"}')$$,
				 '22023', 'test query must return 2 or 3 columns (user, item [, value]), got 1',
				 'a bad eval_query fails the training (the registry is unchanged)');

SELECT * FROM finish();
ROLLBACK;
