-- Option values of any size: a number beyond float8 is an out-of-range option
-- (22023) like any other, never a float8 overflow (22003), and every message that
-- repeats a user's key or value shows at most 40 bytes of it.
BEGIN;
SELECT plan(14);

CREATE TABLE ov_ratings AS
SELECT u::bigint AS user_id, i::bigint AS item_id, ((u + i) % 5 + 1)::real AS rating
FROM generate_series(1, 5) u, generate_series(1, 4) i;

-- the SQLSTATE and message of a statement
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS TABLE (state text, msg text) LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN QUERY SELECT 'no error'::text, ''::text;
EXCEPTION WHEN OTHERS THEN
	RETURN QUERY SELECT SQLSTATE::text, SQLERRM::text;
END $$;

-- every option of both aggregates, with values far beyond any range
CREATE TABLE ov_cases AS
SELECT agg, opt, val, e.state, e.msg
FROM (VALUES ('als', 'factors'), ('als', 'iterations'), ('als', 'regularization'), ('als', 'seed'),
			 ('als', 'biases'), ('als', 'keep_interactions'), ('als', 'verbose'),
			 ('ials', 'factors'), ('ials', 'iterations'), ('ials', 'regularization'), ('ials', 'alpha'),
			 ('ials', 'cg_steps'), ('ials', 'solver'), ('ials', 'seed'), ('ials', 'keep_interactions'),
			 ('ials', 'confidence'), ('ials', 'epsilon'), ('ials', 'regularization_exponent'), ('ials', 'cg_tolerance'),
			 ('ials', 'confidence_scale'), ('ials', 'verbose')) o(agg, opt),
	 (VALUES ('1e400'), ('-1e400'), ('1' || repeat('0', 400)), ('1e-400'), ('0.' || repeat('1', 400)),
			 ('"' || repeat('x', 1000) || '"'), ('123456789012345678901234567890')) v(val),
	 LATERAL pg_temp.error_of(format('SELECT recsys.train_%s(user_id, item_id, rating, %L::jsonb) FROM ov_ratings',
									 agg, format('{"%s": %s}', opt, val))) e;

SELECT is_empty($$ SELECT agg, opt, val FROM ov_cases WHERE state = '22003' $$,
				'no option value raises a float8 overflow (22003)');
SELECT is_empty($$ SELECT agg, opt, left(val, 20), state FROM ov_cases
				   WHERE state NOT IN ('22023', 'no error') $$,
				'every refused option value is 22023');
SELECT is_empty($$ SELECT agg, opt, left(val, 20) FROM ov_cases
				   WHERE (val IN ('1e400', '-1e400') OR val LIKE '1000%' OR val LIKE '"%') AND state <> '22023' $$,
				'every huge number and every long string is refused');
SELECT is_empty($$ SELECT agg, opt, length(msg) FROM ov_cases WHERE length(msg) > 160 $$,
				'no message is longer than 160 characters, whatever the value');
SELECT is((SELECT msg FROM ov_cases WHERE agg = 'als' AND opt = 'regularization' AND val = '1e400'),
		  'option "regularization" must be a number between 0 and 1e+06, got 1000000000000000000000000000000000000000... (401 bytes)',
		  'a huge number is shown cut, with its length');
SELECT is((SELECT msg FROM ov_cases WHERE agg = 'ials' AND opt = 'alpha' AND val = '-1e400'),
		  'option "alpha" must be a number between 0 and 1e+06, got -100000000000000000000000000000000000000... (402 bytes)',
		  'a huge negative number too');
SELECT is((SELECT msg FROM ov_cases WHERE agg = 'ials' AND opt = 'solver' AND val LIKE '"%'),
		  'option "solver" must be "cg" or "cholesky", got "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"... (1000 bytes)',
		  'a long string is shown cut, with its length');
SELECT is((SELECT msg FROM ov_cases WHERE agg = 'als' AND opt = 'seed' AND val = '123456789012345678901234567890'),
		  'option "seed" must be an integer between 0 and 9007199254740991, got 123456789012345678901234567890',
		  'a value of up to 40 characters is shown whole');
SELECT is((SELECT msg FROM ov_cases WHERE agg = 'ials' AND opt = 'regularization' AND val = '1e-400'),
		  'option "regularization" must be 0 or at least 2.22507e-308 in magnitude, got 0.00000000000000000000000000000000000000... (402 bytes)',
		  'a positive value below float8 range is refused too (a model holding it could not be read)');

-- an unknown key of any length
SELECT is((SELECT msg FROM pg_temp.error_of(format('SELECT recsys.train_als(user_id, item_id, rating, %L::jsonb) FROM ov_ratings',
												  format('{"%s": 1}', repeat('k', 5000))))),
		  'unknown option "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk... (5000 bytes)" for train_als',
		  'an unknown key is shown cut');
-- a multibyte key is cut on a character boundary
SELECT is((SELECT msg FROM pg_temp.error_of(format('SELECT recsys.train_als(user_id, item_id, rating, %L::jsonb) FROM ov_ratings',
												  format('{"a%s": 1}', repeat('é', 100))))),
		  'unknown option "a' || repeat('é', 19) || '... (201 bytes)" for train_als',
		  'cut on a character boundary');

-- evaluate's options
CREATE TABLE ov_model AS SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 2}') AS m FROM ov_ratings;
SELECT throws_ok($$ SELECT recsys.evaluate(m, 'SELECT 1, 2, 3', 10, '{"relevance_threshold": 1e400}') FROM ov_model $$,
				 '22023', 'option "relevance_threshold" must be a finite float8, got 1000000000000000000000000000000000000000... (401 bytes)',
				 'evaluate: a threshold beyond float8 is 22023');
SELECT throws_ok(format($$ SELECT recsys.evaluate(m, 'SELECT 1, 2, 3', 10, '{"%s": 1}') FROM ov_model $$, repeat('t', 3000)),
				 '22023', 'unknown option "tttttttttttttttttttttttttttttttttttttttt... (3000 bytes)" for evaluate',
				 'evaluate: an unknown key is shown cut');
SELECT is((SELECT state FROM pg_temp.error_of($$ SELECT recsys.evaluate(m, 'SELECT 1, 2, 3', 10, '{"relevance_threshold": 1e-400}') FROM ov_model $$)),
		  'no error', 'evaluate: a threshold below float8 range is 0');

SELECT * FROM finish();
ROLLBACK;
