-- Training aggregates: what the input rows mean (NULLs, NaN, duplicates, order, ids),
-- options and their errors, memory limits.
BEGIN;
SELECT plan(87);

-- planted rank-2 ratings on a small grid
CREATE TABLE tr AS
SELECT u::bigint AS user_id, i::bigint AS item_id,
	   round(3 + sin(u) * cos(i) + cos(u * 0.7) * sin(i * 1.3))::real AS rating,
	   row_number() OVER () AS seq
FROM generate_series(1, 40) u, generate_series(1, 25) i
WHERE (u * 31 + i * 17) % 7 < 4;

-- everything of a model that training decides (ids, factors, biases, counts, seen
-- items, options): the binary form after the header
CREATE FUNCTION pg_temp.payload(m recsys.model) RETURNS bytea
	LANGUAGE sql AS $$ SELECT substring(recsys.model_send(m) FROM 101) $$;
CREATE FUNCTION pg_temp.info(m recsys.model, key text) RETURNS text
	LANGUAGE sql AS $$ SELECT recsys.model_info(m) ->> key $$;

CREATE TABLE tm (name text PRIMARY KEY, m recsys.model);
INSERT INTO tm SELECT 'als', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3}') FROM tr;
INSERT INTO tm SELECT 'ials', recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3}') FROM tr;
CREATE FUNCTION pg_temp.m(name text) RETURNS recsys.model
	LANGUAGE sql AS $$ SELECT m FROM tm WHERE tm.name = $1 $$;

-- zero rows, NULL rows
SELECT is((SELECT recsys.train_als(user_id, item_id, rating) FROM tr WHERE false)::text, NULL, 'train_als of zero rows is NULL');
SELECT is((SELECT recsys.train_ials(user_id, item_id, rating, '{}') FROM tr WHERE false)::text, NULL, 'train_ials of zero rows is NULL');
SELECT is((SELECT recsys.train_als(NULL::bigint, item_id, rating) FROM tr)::text, NULL, 'only NULL users: NULL');
SELECT is((SELECT recsys.train_ials(user_id, item_id, NULL::real) FROM tr)::text, NULL, 'only NULL weights: NULL');
SELECT is_empty($$ SELECT recsys.train_als(user_id, item_id, rating) FROM tr WHERE false GROUP BY user_id $$, 'grouped: no groups, no rows');
CREATE TABLE tr_nulls AS
SELECT user_id, item_id, rating FROM tr
UNION ALL SELECT NULL, 1, 5 UNION ALL SELECT 1, NULL, 5 UNION ALL SELECT 1, 1, NULL
UNION ALL SELECT 999, NULL, 1 UNION ALL SELECT NULL, 999, 1 UNION ALL SELECT 999, 999, NULL;
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3}') FROM tr_nulls)),
		  pg_temp.payload(pg_temp.m('als')), 'train_als skips rows with a NULL: same model as without them');
SELECT is(pg_temp.payload((SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3}') FROM tr_nulls)),
		  pg_temp.payload(pg_temp.m('ials')), 'train_ials skips rows with a NULL: same model as without them');

-- NaN and infinity
SELECT throws_ok($$ SELECT recsys.train_als(user_id, item_id, CASE WHEN seq = 7 THEN 'NaN' ELSE rating END) FROM tr $$,
				 '22000', NULL, 'train_als: NaN rating');
SELECT throws_ok($$ SELECT recsys.train_als(1, 2, 'Infinity'::real) $$, '22000',
				 'rating value must be finite, got Infinity for user 1 and item 2', 'train_als: infinite rating');
SELECT throws_ok($$ SELECT recsys.train_als(1, 2, '-Infinity'::real, '{}') $$, '22000', NULL, 'train_als: -Infinity');
SELECT throws_ok($$ SELECT recsys.train_ials(1, 2, 'NaN'::real) $$, '22000',
				 'weight value must be finite, got NaN for user 1 and item 2', 'train_ials: NaN weight');
SELECT throws_ok($$ SELECT recsys.train_ials(1, 2, 'Infinity'::real) $$, '22000', NULL, 'train_ials: infinite weight');
SELECT throws_ok($$ SELECT recsys.train_ials(1, 2, -1) $$, '22000',
				 'weight must not be negative, got -1 for user 1 and item 2', 'train_ials: negative weight');
-- the same in the middle of a user's rows, each item seen before (the usual row's path)
SELECT throws_ok($$ SELECT recsys.train_als(1, i % 3, CASE WHEN i = 6 THEN 'Infinity'::real ELSE 1 END) FROM generate_series(1, 9) i $$,
				 '22000', 'rating value must be finite, got Infinity for user 1 and item 0', 'train_als: Infinity amid a user''s rows (one-byte values)');
SELECT throws_ok($$ SELECT recsys.train_als(1, i % 3, CASE WHEN i = 6 THEN 'Infinity'::real ELSE 1.3 END) FROM generate_series(1, 9) i $$,
				 '22000', 'rating value must be finite, got Infinity for user 1 and item 0', 'train_als: Infinity amid a user''s rows (float4 values)');
SELECT throws_ok($$ SELECT recsys.train_als(1, i % 3, CASE WHEN i = 6 THEN '-Infinity' ELSE 1.3 END) FROM generate_series(1, 9) i $$,
				 '22000', 'rating value must be finite, got -Infinity for user 1 and item 0', 'train_als: -Infinity amid a user''s rows');
SELECT throws_ok($$ SELECT recsys.train_als(1, i % 3, CASE WHEN i = 6 THEN 'NaN'::real ELSE 2.2 END) FROM generate_series(1, 9) i $$,
				 '22000', 'rating value must be finite, got NaN for user 1 and item 0', 'train_als: NaN amid a user''s rows');
SELECT throws_ok($$ SELECT recsys.train_ials(1, i % 3, CASE WHEN i = 6 THEN -1 ELSE 2 END) FROM generate_series(1, 9) i $$,
				 '22000', 'weight must not be negative, got -1 for user 1 and item 0', 'train_ials: negative weight amid a user''s rows');
SELECT throws_ok($$ SELECT recsys.train_ials(1, i % 3, CASE WHEN i = 6 THEN '-0.5' ELSE 2.7 END) FROM generate_series(1, 9) i $$,
				 '22000', 'weight must not be negative, got -0.5 for user 1 and item 0', 'train_ials: ... amid float4 values');
SELECT isnt((SELECT recsys.train_ials(u, 1, 0) FROM generate_series(1, 3) u)::text, NULL, 'zero weights are accepted');
SELECT isnt((SELECT recsys.train_als(u, 1, -3) FROM generate_series(1, 3) u)::text, NULL, 'negative ratings are accepted');

-- duplicates: explicit keeps the last value seen, implicit adds the weights up
CREATE TABLE dup AS
SELECT user_id, item_id, rating, seq FROM tr
UNION ALL SELECT 1, 2, 9, 100000      -- (1,2) is also in tr: a later 9
UNION ALL SELECT 2, 3, 0.5, -1;       -- (2,3) earlier than its tr row
SELECT is((SELECT count(*) FROM tr WHERE (user_id, item_id) IN ((1, 2), (2, 3))), 2::bigint, 'the duplicated pairs exist in tr');
CREATE TABLE dup_last AS
SELECT DISTINCT ON (user_id, item_id) user_id, item_id, rating FROM dup ORDER BY user_id, item_id, seq DESC;
CREATE TABLE dup_sum AS
SELECT user_id, item_id, sum(rating)::real AS rating FROM dup GROUP BY user_id, item_id;
INSERT INTO tm SELECT 'dup_als', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3}' ORDER BY seq) FROM dup;
INSERT INTO tm SELECT 'dup_ials', recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3}' ORDER BY seq) FROM dup;
SELECT is(pg_temp.info(pg_temp.m('dup_als'), 'n_interactions')::bigint, (SELECT count(*) FROM tr), 'explicit: duplicates count once');
SELECT is(pg_temp.info(pg_temp.m('dup_als'), 'rating_max')::real, 9::real, 'explicit: the later 9 wins');
SELECT is(pg_temp.info(pg_temp.m('dup_als'), 'rating_min')::real, (SELECT min(rating) FROM tr), 'explicit: the earlier 0.5 lost');
SELECT is(pg_temp.payload(pg_temp.m('dup_als')),
		  pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3}') FROM dup_last)),
		  'explicit: same model as training on the last value of each pair');
SELECT is(pg_temp.info((SELECT recsys.train_als(user_id, item_id, rating ORDER BY seq DESC) FROM dup), 'rating_min')::real,
		  0.5::real, 'explicit: in reverse order the 0.5 comes last and wins');
SELECT is(pg_temp.info(pg_temp.m('dup_ials'), 'n_interactions')::bigint, (SELECT count(*) FROM tr), 'implicit: duplicates count once');
SELECT is(pg_temp.info(pg_temp.m('dup_ials'), 'rating_max')::real, (SELECT max(rating) FROM dup_sum), 'implicit: weights add up');
SELECT is(pg_temp.payload(pg_temp.m('dup_ials')),
		  pg_temp.payload((SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3}') FROM dup_sum)),
		  'implicit: same model as training on the summed weights');
SELECT is(pg_temp.payload((SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3}' ORDER BY seq DESC) FROM dup)),
		  pg_temp.payload(pg_temp.m('dup_ials')), 'implicit: the order of duplicates does not matter');
SELECT is(pg_temp.info((SELECT recsys.train_ials(1, 1, w) FROM (VALUES (0.1::real), (0.2), (0.3)) v(w)), 'rating_max')::real,
		  0.6::real, 'implicit: 0.1 + 0.2 + 0.3 summed exactly enough to be 0.6 as real');
SELECT throws_ok($$ SELECT recsys.train_ials(1, 1, 3e38::real) FROM generate_series(1, 2) $$, '22003', NULL,
				 'implicit: a sum beyond real is an error');
-- the value range is the merged values', even where the first entry is merged away
SELECT is(pg_temp.info((SELECT recsys.train_ials(u, i, w) FROM (VALUES (1, 1, 1::real), (1, 1, 1), (1, 2, 5), (2, 1, 5)) v(u, i, w)),
					   'rating_min')::real, 2::real, 'implicit: the smallest value is the smallest sum, not a summand');
SELECT is(pg_temp.info((SELECT recsys.train_als(u, i, r ORDER BY s) FROM (VALUES (1, 1, 0.5::real, 1), (1, 1, 9, 2), (1, 2, 3, 3), (2, 1, 4, 4)) v(u, i, r, s)),
					   'rating_min')::real, 3::real, 'explicit: a value that lost to a later one is not the smallest');
-- duplicates merged on several threads: an overflowing sum in each half of the
-- rows, the first in row order is the one reported
SET LOCAL recsys.threads = 2;
SELECT throws_ok($$ SELECT recsys.train_ials(u, i, CASE WHEN u IN (700, 2500) AND i = 3 THEN 3e38 ELSE 1 END::real)
					FROM generate_series(1, 3000) u, generate_series(1, 20) i, generate_series(1, CASE WHEN i = 3 THEN 2 ELSE 1 END) d $$,
				 '22003', 'sum of the weights of user 700 and item 3 is out of range for real',
				 'implicit: of two sums out of range on two threads, the first user''s is reported');
SELECT is(pg_temp.payload((SELECT recsys.train_ials(u, i, (u % 3 + 1)::real, '{"factors": 4, "iterations": 2}')
						   FROM generate_series(1, 3000) u, generate_series(1, 20) i, generate_series(1, CASE WHEN (u + i) % 7 = 0 THEN 3 ELSE 1 END) d)),
		  pg_temp.payload((SELECT recsys.train_ials(u, i, ((u % 3 + 1) * CASE WHEN (u + i) % 7 = 0 THEN 3 ELSE 1 END)::real, '{"factors": 4, "iterations": 2}')
						   FROM generate_series(1, 3000) u, generate_series(1, 20) i)),
		  'implicit: duplicates all over 60,000 rows merged on two threads give the summed model');
RESET recsys.threads;

-- row order and id values do not change the model
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3}' ORDER BY md5(seq::text)) FROM tr)),
		  pg_temp.payload(pg_temp.m('als')), 'explicit: shuffled rows give the same model');
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3}' ORDER BY item_id DESC, user_id) FROM tr)),
		  pg_temp.payload(pg_temp.m('als')), 'explicit: rows by item give the same model');
SELECT is(pg_temp.payload((SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 4, "iterations": 3}' ORDER BY md5(seq::text)) FROM tr)),
		  pg_temp.payload(pg_temp.m('ials')), 'implicit: shuffled rows give the same model');
-- storage: rows that arrive grouped by user are kept as runs (8 bytes a row),
-- others as triples, and a state switches to triples when runs turn short; the
-- chunks double from 1,024 rows, so runs cross chunk ends.  Every order gives the
-- grouped order's model, and the last of duplicates wins across the switch.
CREATE TABLE grp AS
SELECT u::bigint AS user_id, ((u * 13 + i * 7) % 400)::bigint AS item_id,
	   ((u + i) % 9 + 1)::real AS rating, row_number() OVER (ORDER BY u, i) AS seq
FROM generate_series(1, 300) u, generate_series(1, 60) i;
CREATE FUNCTION pg_temp.grp_model(order_by text) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE m recsys.model;
BEGIN
	EXECUTE format('SELECT recsys.train_als(user_id, item_id, rating, %L ORDER BY %s) FROM grp',
				   '{"factors": 4, "iterations": 2}', order_by) INTO m;
	RETURN pg_temp.payload(m);
END $$;
SELECT is(pg_temp.grp_model('md5(seq::text)'), pg_temp.grp_model('seq'),
		  'rows shuffled (kept as triples) give the model of rows grouped by user (kept as runs)');
SELECT is(pg_temp.grp_model('seq > 6000, CASE WHEN seq > 6000 THEN md5(seq::text) END, seq'), pg_temp.grp_model('seq'),
		  'grouped rows, then shuffled ones (runs, then triples): the same model');
SELECT is(pg_temp.grp_model('seq <= 6000, CASE WHEN seq <= 6000 THEN md5(seq::text) END, seq'), pg_temp.grp_model('seq'),
		  'shuffled rows, then grouped ones (triples after the switch): the same model');
SELECT is(pg_temp.grp_model('seq % 2, seq'), pg_temp.grp_model('seq'),
		  'every user twice, in two grouped halves: the same model');
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 2}'
														 ORDER BY part, CASE WHEN part = 1 THEN md5(k::text) END, k)
						   FROM (SELECT user_id, item_id, CASE WHEN seq % 97 = 0 THEN 0.5 ELSE rating END AS rating,
										(seq > 6000)::int AS part, seq AS k FROM grp
								 UNION ALL
								 SELECT user_id, item_id, rating, 2, seq FROM grp WHERE seq % 97 = 0) d)),
		  pg_temp.grp_model('seq'),
		  'pairs stored in runs, or as triples, and again after the switch: the later value wins');

SELECT is((SELECT array_agg(id) FROM recsys.user_factors(
			(SELECT recsys.train_als(u, 1, 1) FROM unnest(ARRAY[9223372036854775807, -9223372036854775808, 0, -1, 5]) u))),
		  ARRAY[-9223372036854775808, -1, 0, 5, 9223372036854775807]::bigint[], 'extreme bigint ids, sorted');
SELECT is(recsys.predict((SELECT recsys.train_ials(u, -u, 1, '{"factors": 2}') FROM generate_series(1, 10) u), -3, 3), 0::real,
		  'a pair of known ids the model never saw together still predicts');

-- options: the first non-NULL options argument counts
SELECT is(pg_temp.info((SELECT recsys.train_als(user_id, item_id, rating,
							CASE WHEN seq = 1 THEN NULL WHEN seq = 2 THEN '{"factors": 3}' ELSE '{"factors": 5}' END::jsonb ORDER BY seq) FROM tr),
					   'factors'), '3', 'the first non-NULL options are used');
SELECT is(pg_temp.info((SELECT recsys.train_als(user_id, item_id, rating, NULL) FROM tr), 'options')::jsonb,
		  '{"factors": 32, "iterations": 15, "regularization": 0.1, "biases": true, "seed": 42, "keep_interactions": true, "verbose": false}',
		  'NULL options: the defaults');
SELECT is(pg_temp.info((SELECT recsys.train_als(user_id, item_id, rating, '{"iterations": 0}') FROM tr), 'iterations'), '0',
		  'iterations 0 is allowed');
SELECT isnt(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3, "seed": 7}') FROM tr)),
			pg_temp.payload(pg_temp.m('als')), 'the seed changes the model');
SELECT is(pg_temp.payload((SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3, "seed": 42.0}') FROM tr)),
		  pg_temp.payload(pg_temp.m('als')), 'an integral number written as 42.0 is accepted');
SELECT is(pg_temp.info((SELECT recsys.train_ials(user_id, item_id, rating, '{"factors": 2, "iterations": 1, "solver": "cholesky", "alpha": 0, "cg_steps": 100, "regularization": 0, "confidence_scale": 1e38}') FROM tr), 'options')::jsonb,
		  '{"factors": 2, "iterations": 1, "regularization": 0, "alpha": 0, "confidence": "log", "epsilon": 1, "confidence_scale": 1e38, "regularization_exponent": 0.5, "cg_steps": 100, "cg_tolerance": 0.0001, "solver": "cholesky", "seed": 42, "keep_interactions": true, "verbose": false}',
		  'implicit options at their limits');

-- options: every error names the key and what is allowed
CREATE FUNCTION pg_temp.als_options(o text) RETURNS text LANGUAGE sql AS
	$$ SELECT format('SELECT recsys.train_als(user_id, item_id, rating, %L) FROM tr', o) $$;
CREATE FUNCTION pg_temp.ials_options(o text) RETURNS text LANGUAGE sql AS
	$$ SELECT format('SELECT recsys.train_ials(user_id, item_id, rating, %L) FROM tr', o) $$;
SELECT throws_ok(pg_temp.als_options('{"factors": 0}'), '22023', 'option "factors" must be an integer between 1 and 1024, got 0', 'factors 0');
SELECT throws_ok(pg_temp.als_options('{"factors": 1025}'), '22023', 'option "factors" must be an integer between 1 and 1024, got 1025', 'factors 1025');
SELECT throws_ok(pg_temp.als_options('{"factors": 2.5}'), '22023', 'option "factors" must be an integer between 1 and 1024, got 2.5', 'factors 2.5');
SELECT throws_ok(pg_temp.als_options('{"factors": "8"}'), '22023', 'option "factors" must be an integer between 1 and 1024, got "8"', 'factors as a string');
SELECT throws_ok(pg_temp.als_options('{"factors": null}'), '22023', 'option "factors" must be an integer between 1 and 1024, got null', 'factors null');
SELECT throws_ok(pg_temp.als_options('{"factors": [8]}'), '22023', 'option "factors" must be an integer between 1 and 1024, got an array or object', 'factors array');
SELECT throws_ok(pg_temp.ials_options('{"iterations": -1}'), '22023', 'option "iterations" must be an integer between 0 and 10000, got -1', 'iterations -1');
SELECT throws_ok(pg_temp.als_options('{"iterations": 10001}'), '22023', 'option "iterations" must be an integer between 0 and 10000, got 10001', 'iterations 10001');
SELECT throws_ok(pg_temp.als_options('{"regularization": -0.1}'), '22023', 'option "regularization" must be a number between 0 and 1e+06, got -0.1', 'regularization negative');
SELECT throws_ok(pg_temp.ials_options('{"regularization": true}'), '22023', 'option "regularization" must be a number between 0 and 1e+06, got true', 'regularization boolean');
SELECT throws_ok(pg_temp.ials_options('{"alpha": 1e7}'), '22023', 'option "alpha" must be a number between 0 and 1e+06, got 10000000', 'alpha too large');
SELECT throws_ok(pg_temp.ials_options('{"cg_steps": 0}'), '22023', 'option "cg_steps" must be an integer between 1 and 1024, got 0', 'cg_steps 0');
SELECT throws_ok(pg_temp.ials_options('{"solver": "qr"}'), '22023', 'option "solver" must be "cg" or "cholesky", got "qr"', 'solver qr');
SELECT throws_ok(pg_temp.ials_options('{"solver": 1}'), '22023', 'option "solver" must be "cg" or "cholesky", got 1', 'solver as a number');
SELECT throws_ok(pg_temp.als_options('{"biases": "true"}'), '22023', 'option "biases" must be true or false, got "true"', 'biases as a string');
SELECT throws_ok(pg_temp.als_options('{"seed": -1}'), '22023', 'option "seed" must be an integer between 0 and 9007199254740991, got -1', 'seed -1');
SELECT throws_ok(pg_temp.als_options('{"seed": 9007199254740992}'), '22023', NULL, 'seed 2^53');
SELECT throws_ok(pg_temp.ials_options('{"keep_interactions": 1}'), '22023', 'option "keep_interactions" must be true or false, got 1', 'keep_interactions 1');
SELECT throws_ok(pg_temp.als_options('{"verbose": "yes"}'), '22023', 'option "verbose" must be true or false, got "yes"', 'verbose "yes"');
SELECT throws_ok(pg_temp.als_options('{"factor": 8}'), '22023', 'unknown option "factor" for train_als', 'unknown key');
SELECT throws_ok(pg_temp.als_options('{"threads": 2}'), '22023', 'unknown option "threads" for train_als', 'threads is a setting, not an option');
SELECT throws_ok(pg_temp.als_options('{"alpha": 10}'), '22023', 'option "alpha" applies only to train_ials, train_knn and train_hybrid', 'alpha in train_als');
SELECT throws_ok(pg_temp.als_options('{"cg_steps": 3}'), '22023', 'option "cg_steps" applies only to train_ials and train_hybrid', 'cg_steps in train_als');
SELECT throws_ok(pg_temp.als_options('{"solver": "cg"}'), '22023', 'option "solver" applies only to train_ials and train_hybrid', 'solver in train_als');
SELECT throws_ok(pg_temp.ials_options('{"biases": true}'), '22023', 'option "biases" applies only to train_als', 'biases in train_ials');
SELECT throws_ok(pg_temp.als_options('[1]'), '22023', 'options of train_als must be a JSON object', 'options array');
SELECT throws_ok(pg_temp.ials_options('3'), '22023', 'options of train_ials must be a JSON object', 'options scalar');
SELECT throws_ok(pg_temp.ials_options('null'), '22023', 'options of train_ials must be a JSON object', 'options JSON null');

-- memory: recsys.max_train_mb
SET LOCAL recsys.max_train_mb = 16;
SELECT throws_ok($$ SELECT recsys.train_als(u, 1, 1, '{"factors": 1024}') FROM generate_series(1, 5000) u $$,
				 '54000', NULL, 'a model too large for max_train_mb fails before training');
SELECT throws_like($$ SELECT recsys.train_als(u, 1, 1, '{"factors": 1024}') FROM generate_series(1, 5000) u $$,
				   'train_als needs % MB for %, more than recsys.max_train_mb (16 MB)', 'the error names the size and the setting');
-- (1.1 is off the half-step grid: 6 bytes a row; values on it take 3)
SELECT throws_like($$ SELECT recsys.train_ials(u / 50, u % 1000, 1.1, '{"iterations": 0}') FROM generate_series(1, 2000000) u $$,
				   'train_ials input needs more than recsys.max_train_mb (16 MB)', 'input larger than max_train_mb fails while it is read');
SELECT throws_like($$ SELECT recsys.train_ials(u / 50, u % 1000, 1 + u % 4, '{"iterations": 0}') FROM generate_series(1, 6000000) u $$,
				   'train_ials input needs more than recsys.max_train_mb (16 MB)', '... also when its values are kept in one byte');
RESET recsys.max_train_mb;
SELECT ok(pg_temp.info(pg_temp.m('als'), 'peak_bytes')::bigint
		  >= pg_temp.info(pg_temp.m('als'), 'bytes')::bigint + 16 * pg_temp.info(pg_temp.m('als'), 'n_interactions')::bigint,
		  'peak_bytes counts the model, CSR and CSC');
SELECT ok(pg_temp.info(pg_temp.m('als'), 'peak_bytes')::bigint < 2000000, 'peak_bytes of a tiny model is small');

SELECT * FROM finish();
ROLLBACK;
