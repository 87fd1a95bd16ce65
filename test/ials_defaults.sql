-- The defaults and the options behind them: on the planted shapes of
-- bench/60_defaults.sh train_ials's defaults reach 90% of the best NDCG@10 of
-- that study's grid and beat popularity, and so do train_knn's and train_ease's;
-- README's examples beat popularity; log confidence, the confidence scale and the
-- frequency-scaled regularisation match a hand computation in training and in
-- fold-in; CG with a tolerance reaches the Cholesky loss where 3 fixed steps do
-- not; EASE's values (binary by default) train on counts to 1e7 and serve a given
-- history as training saw it; every new option's range.
BEGIN;
SELECT plan(64);
SET LOCAL recsys.threads = 2;
SET LOCAL max_parallel_workers_per_gather = 0;

-- the shapes of bench/60_defaults.sh, with the best NDCG@10 of its grid (README,
-- Getting good results, has the table)
CREATE TEMP TABLE shape (name text, gen text, best float8, knn_best float8);
INSERT INTO shape VALUES
	('binary', 'SELECT user_id, item_id, 1::real FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)', 0.1587, 0.1199),
	('counts', 'SELECT * FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)', 0.1595, 0.1102),
	('plays', 'SELECT * FROM recsys.synthetic_ratings(4000, 4000, 150000, rank => 16, seed => 7, implicit => true, user_activity => 1, count_exponent => 1)', 0.1231, 0.0778),
	('sparse', 'SELECT * FROM recsys.synthetic_ratings(6000, 12000, 150000, rank => 16, seed => 7, implicit => true, popularity_exponent => 1.2, user_activity => 1.5, count_exponent => 0.8)', 0.1325, 0.0824);

-- the rows of a shape, split as the study splits them
CREATE TEMP TABLE rows (shape text, user_id bigint, item_id bigint, weight real, test bool);
CREATE FUNCTION pg_temp.load(s text, gen text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('INSERT INTO rows SELECT %L, t.user_id, t.item_id, t.w, recsys.fold(t.user_id, t.item_id, 5) = 0 FROM (%s) AS t(user_id, item_id, w)', s, gen);
END $$;
SELECT pg_temp.load(name, gen) FROM shape;
CREATE INDEX ON rows (shape, user_id, item_id);
ANALYZE rows;

-- NDCG@10 of a model of shape s trained by train_<alg> with opts, by recsys.evaluate
CREATE FUNCTION pg_temp.ndcg_of(alg text, s text, opts jsonb) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	r float8;
BEGIN
	EXECUTE format('SELECT (recsys.evaluate(m, %L, 10) ->> %L)::float8 FROM (SELECT recsys.train_%s(user_id, item_id, weight, %L) AS m FROM rows WHERE shape = %L AND NOT test) t',
				   format('SELECT user_id, item_id FROM rows WHERE shape = %L AND test', s), 'ndcg@10', alg, opts, s)
		INTO r;
	RETURN r;
END $$;
CREATE FUNCTION pg_temp.ndcg(s text, opts jsonb) RETURNS float8 LANGUAGE sql AS $$
	SELECT pg_temp.ndcg_of('ials', s, opts)
$$;
-- NDCG@10 of popularity: the 10 most interacted training items the user has not seen
CREATE FUNCTION pg_temp.popularity(s text) RETURNS float8 LANGUAGE sql AS $$
	WITH train AS (SELECT user_id, item_id FROM rows WHERE shape = s AND NOT test),
	popular AS (SELECT item_id, count(*) AS n FROM train GROUP BY item_id),
	relevant AS (SELECT user_id, array_agg(item_id) AS items FROM rows
				 WHERE shape = s AND test AND user_id IN (SELECT user_id FROM train) GROUP BY user_id)
	SELECT avg(recsys.ndcg_at_k(top.items, r.items, 10))
	FROM relevant r, LATERAL (
		SELECT array_agg(item_id ORDER BY n DESC, item_id) AS items FROM (
			SELECT p.item_id, p.n FROM popular p
			WHERE NOT EXISTS (SELECT 1 FROM train t WHERE t.user_id = r.user_id AND t.item_id = p.item_id)
			ORDER BY p.n DESC, p.item_id LIMIT 10) s) top
$$;

CREATE TEMP TABLE result AS
	SELECT name, best, knn_best, pg_temp.popularity(name) AS popularity, pg_temp.ndcg(name, '{}') AS defaults,
		   pg_temp.ndcg_of('knn', name, '{}') AS knn
	FROM shape;
SELECT diag(format('%s: popularity %s; train_ials defaults %s, best of the grid %s (%s%%); train_knn defaults %s, best %s (%s%%)', name,
				   round(popularity::numeric, 4), round(defaults::numeric, 4), best,
				   round((100 * defaults / best)::numeric, 1), round(knn::numeric, 4), knn_best,
				   round((100 * knn / knn_best)::numeric, 1)))
FROM result ORDER BY name;

-- train_ials: at least 90% of the grid's best (measured: 95.4% to 99.1%), and 1.5
-- times popularity (measured: 1.76 to 2.35 times)
SELECT cmp_ok(defaults, '>=', 0.9 * best, format('%s: the defaults reach 90%% of the study''s best NDCG@10', name))
FROM result ORDER BY name;
SELECT cmp_ok(defaults, '>=', 1.5 * popularity, format('%s: the defaults beat popularity by a factor of 1.5', name))
FROM result ORDER BY name;
-- train_knn: the same (measured: 91.0% to 99.4% of its grid's best), and 1.1 times
-- popularity (measured: 1.14 to 1.67 times; sparse, a long catalogue with few
-- very active users, is the closest)
SELECT cmp_ok(knn, '>=', 0.9 * knn_best, format('%s: train_knn''s defaults reach 90%% of the study''s best NDCG@10', name))
FROM result ORDER BY name;
SELECT cmp_ok(knn, '>=', 1.1 * popularity, format('%s: train_knn''s defaults beat popularity by a factor of 1.1', name))
FROM result ORDER BY name;

-- README's examples (the tutorial's plays model, Training models' play_model and
-- the registry's shop model, Getting good results' counts in seconds) beat
-- popularity on the two heavy-tailed shapes
CREATE TEMP TABLE readme AS
	SELECT e.what, e.opts, r.name, r.popularity, pg_temp.ndcg(r.name, e.opts) AS ndcg
	FROM (VALUES ('the tutorial''s plays model', '{"factors": 32, "iterations": 10}'::jsonb),
				 ('play_model and the registry example', '{"factors": 64, "iterations": 15}'),
				 ('epsilon for weights in seconds', '{"factors": 64, "epsilon": 10}')) AS e(what, opts),
		 result AS r
	WHERE r.name IN ('plays', 'sparse');
SELECT diag(format('README %s on %s: %s (popularity %s)', what, name, round(ndcg::numeric, 4), round(popularity::numeric, 4)))
FROM readme ORDER BY what, name;
SELECT cmp_ok(ndcg, '>=', 1.5 * popularity, format('README: %s beats popularity on %s', what, name))
FROM readme ORDER BY what, name;

-- train_ease: its defaults (binary values) beat popularity by a factor of 1.3 on
-- counts and the heavy-tailed shapes (measured: 1.95 counts, 1.89 plays, 1.47 heavy;
-- sparse's 12,000 items are left to the study: a 576 MB dense matrix), and counts
-- up to 1e7 train: before the "values" option they entered the float Gram matrix
-- raw, and with 0.2.0's first defaults (lambda 250, every neighbour) its Cholesky
-- factorisation failed on heavy ("not positive definite")
INSERT INTO rows SELECT 'heavy', t.user_id, t.item_id, t.w, recsys.fold(t.user_id, t.item_id, 5) = 0
	FROM recsys.synthetic_ratings(3000, 1500, 60000, rank => 16, seed => 7, implicit => true, popularity_exponent => 1.2,
								  user_activity => 1.5, count_exponent => 0.8) AS t(user_id, item_id, w);
ANALYZE rows;
CREATE TEMP TABLE ease AS
	SELECT name, pg_temp.popularity(name) AS popularity, pg_temp.ndcg_of('ease', name, '{}') AS ndcg
	FROM (VALUES ('counts'), ('plays'), ('heavy')) AS v(name);
SELECT diag(format('train_ease defaults on %s: %s (popularity %s)', name, round(ndcg::numeric, 4), round(popularity::numeric, 4)))
FROM ease ORDER BY name;
SELECT cmp_ok((SELECT max(weight) FROM rows WHERE shape = 'heavy'), '>=', 1e7::real, 'heavy: counts reach 1e7');
SELECT cmp_ok(ndcg, '>=', 1.3 * popularity, format('%s: train_ease''s defaults beat popularity by a factor of 1.3', name))
FROM ease ORDER BY name;
-- EASE's values: binary is training on the signs, log on sign(w) ln(1 + |w|);
-- recommend_by_items maps a history's values the same way
CREATE TEMP TABLE ease_values AS
	SELECT recsys.train_ease(user_id, item_id, weight, '{"neighbours": 20}') AS bin,
		   recsys.train_ease(user_id, item_id, sign(weight)::real, '{"neighbours": 20, "values": "raw"}') AS bin_raw,
		   recsys.train_ease(user_id, item_id, weight, '{"neighbours": 20, "values": "log"}') AS log,
		   recsys.train_ease(user_id, item_id, ln(1 + weight)::real, '{"neighbours": 20, "values": "raw"}') AS log_raw
	FROM rows WHERE shape = 'heavy' AND NOT test;
CREATE FUNCTION pg_temp.weights(m recsys.model) RETURNS TABLE (i bigint, j bigint, w real) LANGUAGE sql AS $$
	SELECT g, s.id, s.score FROM generate_series(1, 1500) AS g, recsys.similar_items(m, g, 20) AS s
$$;
SELECT is((SELECT count(*) FROM ease_values, pg_temp.weights(bin) AS a FULL JOIN pg_temp.weights(bin_raw) AS b USING (i, j)
		   WHERE a.w IS DISTINCT FROM b.w), 0::bigint, 'values binary: the weights of training on the signs');
SELECT cmp_ok((SELECT max(abs(a.w - b.w)) FROM ease_values, pg_temp.weights(log) AS a JOIN pg_temp.weights(log_raw) AS b USING (i, j)),
			  '<', 1e-4::real, 'values log: the weights of training on ln(1 + w)');
SELECT is((SELECT count(*) FROM (SELECT DISTINCT user_id FROM rows WHERE shape = 'heavy' AND NOT test AND user_id <= 60) AS u, ease_values
		   WHERE ARRAY(SELECT item_id FROM recsys.recommend(bin, u.user_id, 10))
				 <> ARRAY(SELECT item_id FROM recsys.recommend_by_items(bin,
							ARRAY(SELECT item_id FROM rows WHERE shape = 'heavy' AND NOT test AND user_id = u.user_id ORDER BY item_id),
							ARRAY(SELECT weight FROM rows WHERE shape = 'heavy' AND NOT test AND user_id = u.user_id ORDER BY item_id), 10))),
		  0::bigint, 'recommend_by_items with a user''s raw counts is recommend for that user (values binary)');
SELECT throws_ok('SELECT recsys.train_ease(1, 1, 1, ''{"values": "sqrt"}'')', '22023',
				 'option "values" must be "binary", "log" or "raw", got "sqrt"', 'EASE values sqrt');

-- CG on heavy-tailed counts with linear confidence (c up to 4.5e5): with
-- the default tolerance it reaches the Cholesky loss within 1%, 3 fixed steps do not
CREATE FUNCTION pg_temp.loss(opts jsonb) RETURNS float8 LANGUAGE sql AS $$
	SELECT (recsys.model_info(recsys.train_ials(user_id, item_id, weight, opts)) ->> 'train_loss')::float8
	FROM rows WHERE shape = 'plays' AND NOT test
$$;
CREATE TEMP TABLE losses AS SELECT
	pg_temp.loss('{"confidence": "linear", "confidence_scale": 1, "alpha": 1, "regularization_exponent": 0, "regularization": 10, "solver": "cholesky"}') AS cholesky,
	pg_temp.loss('{"confidence": "linear", "confidence_scale": 1, "alpha": 1, "regularization_exponent": 0, "regularization": 10}') AS tolerance,
	pg_temp.loss('{"confidence": "linear", "confidence_scale": 1, "alpha": 1, "regularization_exponent": 0, "regularization": 10, "cg_steps": 3, "cg_tolerance": 0}') AS fixed3,
	pg_temp.loss('{"solver": "cholesky"}') AS default_cholesky,
	pg_temp.loss('{}') AS default_cg;
SELECT diag(format('plays, linear confidence: loss Cholesky %s, CG with tolerance %s, 3 fixed CG steps %s; defaults: Cholesky %s, CG %s',
				   cholesky, tolerance, fixed3, default_cholesky, default_cg)) FROM losses;
SELECT cmp_ok((SELECT abs(tolerance - cholesky) / cholesky FROM losses), '<', 0.01::float8,
			  'CG with cg_tolerance reaches the Cholesky loss within 1% (confidences to 4.5e5)');
SELECT cmp_ok((SELECT (fixed3 - cholesky) / cholesky FROM losses), '>', 0.01::float8,
			  '3 fixed CG steps stop more than 1% above it');
SELECT cmp_ok((SELECT abs(default_cg - default_cholesky) / default_cholesky FROM losses), '<', 0.01::float8,
			  'with the defaults, CG reaches the Cholesky loss within 1% on heavy-tailed counts');
SELECT cmp_ok((SELECT abs(pg_temp.loss('{"cg_steps": 3}') - default_cholesky) / default_cholesky FROM losses), '<', 0.01::float8,
			  'a cap of 3 steps with the default tolerance still converges (rows above it are solved exactly)');

-- log confidence, the confidence scale and the row-scaled lambda by hand: one
-- user, one item, one factor, one exact sweep from the seeded initial factors
-- (iterations 0 returns them).  d = alpha ln(1 + w / epsilon) / scale, c = 1 + d,
-- lambda_u = lambda (n_items + d)^nu: x1 = c y0 / (c y0^2 + lambda_u),
-- y1 = c x1 / (c x1^2 + lambda_i).  With the default scale (the mean of
-- ln(1 + w / epsilon) over the training pairs: here ln 4) d is alpha itself; fold-in
-- divides by the model's scale, never by one computed from its own input
CREATE TEMP TABLE one AS SELECT 1::bigint AS u, 1::bigint AS i, 12::real AS w;
CREATE FUNCTION pg_temp.hand(extra jsonb, scale float8)
RETURNS TABLE (x1 float8, y1 float8, trained_x float8, trained_y float8, fold_hand float8,
			   fold_model float8, fold3_hand float8, fold3_model float8, model_scale float8)
LANGUAGE sql AS $$
WITH opts AS (SELECT '{"factors": 1, "solver": "cholesky", "confidence": "log", "alpha": 2, "epsilon": 4, "regularization": 0.5, "regularization_exponent": 0.7}'::jsonb || extra AS o),
m0 AS (SELECT recsys.train_ials(u, i, w, o || '{"iterations": 0}') AS m FROM one, opts),
m1 AS (SELECT recsys.train_ials(u, i, w, o || '{"iterations": 1}') AS m FROM one, opts),
k AS (SELECT 2 * ln(1 + 12 / 4.0) / scale AS d, 0.5 * power(1 + 2 * ln(1 + 12 / 4.0) / scale, 0.7) AS lam,
			 2 * ln(1 + 3 / 4.0) / scale AS d3, 0.5 * power(1 + 2 * ln(1 + 3 / 4.0) / scale, 0.7) AS lam3),
y0 AS (SELECT (recsys.item_vector(m, 1)::real[])[1]::float8 AS y0 FROM m0),
x1 AS (SELECT (1 + d) * y0 / ((1 + d) * y0 * y0 + lam) AS x1 FROM y0, k),
y1 AS (SELECT (1 + d) * x1 / ((1 + d) * x1 * x1 + lam) AS y1 FROM x1, k)
SELECT x1, y1,
	   (SELECT (recsys.user_vector(m, 1)::real[])[1]::float8 FROM m1),
	   (SELECT (recsys.item_vector(m, 1)::real[])[1]::float8 FROM m1),
	   (SELECT (1 + d) * y1 / ((1 + d) * y1 * y1 + lam) FROM k),
	   (SELECT (recsys.fold_in(m, ARRAY[1::bigint], ARRAY[12::real])::real[])[1]::float8 FROM m1),
	   (SELECT (1 + d3) * y1 / ((1 + d3) * y1 * y1 + lam3) FROM k),
	   (SELECT (recsys.fold_in(m, ARRAY[1::bigint], ARRAY[3::real])::real[])[1]::float8 FROM m1),
	   (SELECT (recsys.model_info(m) -> 'options' ->> 'confidence_scale')::float8 FROM m1)
FROM x1, y1
$$;
CREATE TEMP TABLE hand AS
	SELECT 'default scale' AS form, * FROM pg_temp.hand('{}', ln(4))
	UNION ALL SELECT 'confidence_scale 1', * FROM pg_temp.hand('{"confidence_scale": 1}', 1)
	UNION ALL SELECT 'confidence_scale 2.5', * FROM pg_temp.hand('{"confidence_scale": 2.5}', 2.5);
SELECT cmp_ok(abs(trained_x - x1) / abs(x1), '<', 1e-5::float8,
			  form || ': the trained user factor is the hand computation') FROM hand ORDER BY form;
SELECT cmp_ok(abs(trained_y - y1) / abs(y1), '<', 1e-5::float8,
			  form || ': the trained item factor is the hand computation') FROM hand ORDER BY form;
SELECT cmp_ok(abs(fold_model - fold_hand) / abs(fold_hand), '<', 1e-5::float8,
			  form || ': fold-in uses the same confidence and lambda as training') FROM hand ORDER BY form;
SELECT cmp_ok(abs(fold3_model - fold3_hand) / abs(fold3_hand), '<', 1e-5::float8,
			  form || ': fold-in of another weight divides by the model''s scale') FROM hand ORDER BY form;
SELECT cmp_ok((SELECT abs(model_scale - ln(4)) FROM hand WHERE form = 'default scale'), '<', 1e-6::float8,
			  'model_info shows the scale training computed: the mean of ln(1 + w / epsilon)');
SELECT is((SELECT model_scale FROM hand WHERE form = 'confidence_scale 2.5'), 2.5::float8,
		  'a given confidence_scale is the one the model records');
-- the scale is the mean over every training pair: two pairs of weights 1 and e - 1
SELECT cmp_ok((SELECT abs((recsys.model_info(recsys.train_ials(u, i, w::real, '{"iterations": 1}')) -> 'options' ->> 'confidence_scale')::float8
						  - (ln(2) + 1) / 2)
			   FROM (VALUES (1, 1, 1::float8), (2, 2, exp(1) - 1)) AS t(u, i, w)), '<', 1e-6::float8,
			  'the default scale is the mean of ln(1 + w / epsilon) over the pairs');

-- the new options' ranges and error paths
CREATE FUNCTION pg_temp.ials(o text) RETURNS text LANGUAGE sql AS
	$$ SELECT format('SELECT recsys.train_ials(u, i, w, %L) FROM one', o) $$;
SELECT throws_ok(pg_temp.ials('{"confidence": "sqrt"}'), '22023', 'option "confidence" must be "linear" or "log", got "sqrt"', 'confidence sqrt');
SELECT throws_ok(pg_temp.ials('{"epsilon": 0}'), '22023', 'option "epsilon" must be a number between 1e-06 and 1e+09, got 0', 'epsilon 0');
SELECT throws_ok(pg_temp.ials('{"epsilon": -1}'), '22023', 'option "epsilon" must be a number between 1e-06 and 1e+09, got -1', 'epsilon negative');
SELECT throws_ok(pg_temp.ials('{"regularization_exponent": 1.5}'), '22023', 'option "regularization_exponent" must be a number between 0 and 1, got 1.5', 'regularization_exponent 1.5');
SELECT throws_ok(pg_temp.ials('{"confidence_scale": -1}'), '22023', 'option "confidence_scale" must be a number between 0 and 1e+38, got -1', 'confidence_scale negative');
SELECT throws_ok(pg_temp.ials('{"cg_tolerance": 0.6}'), '22023', 'option "cg_tolerance" must be a number between 0 and 0.5, got 0.6', 'cg_tolerance 0.6');
SELECT throws_ok(pg_temp.ials('{"cg_steps": 1025}'), '22023', 'option "cg_steps" must be an integer between 1 and 1024, got 1025', 'cg_steps 1025');
SELECT throws_ok('SELECT recsys.train_als(u, i, w, ''{"confidence": "log"}'') FROM one', '22023',
				 'option "confidence" applies only to train_ials and train_hybrid', 'confidence in train_als');
SELECT throws_ok('SELECT recsys.train_ials(u, i, -w, ''{"confidence": "log"}'') FROM one', '22000', NULL,
				 'a negative weight is still refused with log confidence');
SELECT lives_ok(pg_temp.ials('{"confidence": "linear", "epsilon": 1e-6, "confidence_scale": 0, "regularization_exponent": 0, "cg_tolerance": 0, "cg_steps": 1}'),
				'the smallest values of every new option are accepted');

-- synthetic_ratings' implicit shapes and their argument checks
SELECT cmp_ok((SELECT max(weight) FROM rows WHERE shape = 'plays'), '>', 1e5::real,
			  'count_exponent 1: counts reach the hundreds of thousands');
SELECT cmp_ok((SELECT max(n)::float8 / percentile_disc(0.5) WITHIN GROUP (ORDER BY n)
			   FROM (SELECT count(*) AS n FROM rows WHERE shape = 'sparse' GROUP BY user_id) a), '>', 10::float8,
			  'user_activity 1.5: the most active user has over 10 times the median user''s rows');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 50, implicit => true, count_exponent => 0.3)', '22023',
				 'argument "count_exponent" must be 0 or between 0.5 and 10, got 0.3', 'count_exponent below its range');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 50, user_activity => 5)', '22023',
				 'argument "user_activity" must be between 0 and 4, got 5', 'user_activity above its range');
SELECT throws_ok('SELECT * FROM recsys.synthetic_ratings(10, 10, 50, popularity_exponent => -1)', '22023',
				 'argument "popularity_exponent" must be between 0 and 4, got -1', 'popularity_exponent negative');

SELECT * FROM finish();
ROLLBACK;
