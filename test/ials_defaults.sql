-- train_ials's defaults and the options behind them (issue 10): on the planted
-- shapes of bench/60_defaults.sh the defaults reach 90% of the best NDCG@10 of
-- that study's grid and beat popularity; README's examples beat popularity; log
-- confidence and the frequency-scaled regularisation match a hand computation in
-- training and in fold-in; CG with a tolerance reaches the Cholesky loss where 3
-- fixed steps do not; every new option's range.
BEGIN;
SELECT plan(32);
SET LOCAL recsys.threads = 2;
SET LOCAL max_parallel_workers_per_gather = 0;

-- the shapes of bench/60_defaults.sh, with the best NDCG@10 of its grid (README,
-- Getting good results, has the table)
CREATE TEMP TABLE shape (name text, gen text, best float8);
INSERT INTO shape VALUES
	('binary', 'SELECT user_id, item_id, 1::real FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)', 0.1567),
	('counts', 'SELECT * FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)', 0.1594),
	('plays', 'SELECT * FROM recsys.synthetic_ratings(4000, 4000, 150000, rank => 16, seed => 7, implicit => true, user_activity => 1, count_exponent => 1)', 0.1231),
	('sparse', 'SELECT * FROM recsys.synthetic_ratings(6000, 12000, 150000, rank => 16, seed => 7, implicit => true, popularity_exponent => 1.2, user_activity => 1.5, count_exponent => 0.8)', 0.1321);

-- the rows of a shape, split as the study splits them
CREATE TEMP TABLE rows (shape text, user_id bigint, item_id bigint, weight real, test bool);
CREATE FUNCTION pg_temp.load(s text, gen text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('INSERT INTO rows SELECT %L, t.user_id, t.item_id, t.w, recsys.fold(t.user_id, t.item_id, 5) = 0 FROM (%s) AS t(user_id, item_id, w)', s, gen);
END $$;
SELECT pg_temp.load(name, gen) FROM shape;
CREATE INDEX ON rows (shape, user_id, item_id);
ANALYZE rows;

-- NDCG@10 of a model of shape s trained with opts, by recsys.evaluate
CREATE FUNCTION pg_temp.ndcg(s text, opts jsonb) RETURNS float8 LANGUAGE sql AS $$
	SELECT (recsys.evaluate(m, format('SELECT user_id, item_id FROM rows WHERE shape = %L AND test', s), 10) ->> 'ndcg@10')::float8
	FROM (SELECT recsys.train_ials(user_id, item_id, weight, opts) AS m FROM rows WHERE shape = s AND NOT test) t
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
	SELECT name, best, pg_temp.popularity(name) AS popularity, pg_temp.ndcg(name, '{}') AS defaults
	FROM shape;
SELECT diag(format('%s: popularity %s, defaults %s, best of the grid %s (%s%%)', name,
				   round(popularity::numeric, 4), round(defaults::numeric, 4), best,
				   round((100 * defaults / best)::numeric, 1)))
FROM result ORDER BY name;

-- 1-8: at least 90% of the grid's best, and 1.5 times popularity (measured:
-- the defaults are 1.77 to 2.25 times popularity on these shapes)
SELECT cmp_ok(defaults, '>=', 0.9 * best, format('%s: the defaults reach 90%% of the study''s best NDCG@10', name))
FROM result ORDER BY name;
SELECT cmp_ok(defaults, '>=', 1.5 * popularity, format('%s: the defaults beat popularity by a factor of 1.5', name))
FROM result ORDER BY name;

-- 9-10: README's examples (Quick start's plays model, Getting good results' raw
-- counts) beat popularity on the plays shape
SELECT cmp_ok(pg_temp.ndcg('plays', '{"factors": 32, "iterations": 10}'), '>=',
			  1.5 * (SELECT popularity FROM result WHERE name = 'plays'),
			  'README: the plays example beats popularity');
SELECT cmp_ok(pg_temp.ndcg('plays', '{"factors": 64, "confidence": "log", "epsilon": 10}'), '>=',
			  1.5 * (SELECT popularity FROM result WHERE name = 'plays'),
			  'README: the raw-counts example (log confidence, epsilon 10) beats popularity');

-- 11-14: CG on heavy-tailed counts with linear confidence (c up to 4.5e5): with
-- the default tolerance it reaches the Cholesky loss within 1%, 3 fixed steps do not
CREATE FUNCTION pg_temp.loss(opts jsonb) RETURNS float8 LANGUAGE sql AS $$
	SELECT (recsys.model_info(recsys.train_ials(user_id, item_id, weight, opts)) ->> 'train_loss')::float8
	FROM rows WHERE shape = 'plays' AND NOT test
$$;
CREATE TEMP TABLE losses AS SELECT
	pg_temp.loss('{"confidence": "linear", "alpha": 1, "regularization_exponent": 0, "regularization": 10, "solver": "cholesky"}') AS cholesky,
	pg_temp.loss('{"confidence": "linear", "alpha": 1, "regularization_exponent": 0, "regularization": 10}') AS tolerance,
	pg_temp.loss('{"confidence": "linear", "alpha": 1, "regularization_exponent": 0, "regularization": 10, "cg_steps": 3, "cg_tolerance": 0}') AS fixed3,
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

-- 15-18: log confidence and the row-scaled lambda by hand: one user, one item, one
-- factor, one exact sweep from the seeded initial factors (iterations 0 returns them).
-- d = alpha ln(1 + w / epsilon), c = 1 + d, lambda_u = lambda (n_items + d)^nu:
-- x1 = c y0 / (c y0^2 + lambda_u), y1 = c x1 / (c x1^2 + lambda_i)
CREATE TEMP TABLE one AS SELECT 1::bigint AS u, 1::bigint AS i, 12::real AS w;
CREATE TEMP TABLE hand AS
WITH opts AS (SELECT '{"factors": 1, "solver": "cholesky", "confidence": "log", "alpha": 2, "epsilon": 4, "regularization": 0.5, "regularization_exponent": 0.7}'::jsonb AS o),
m0 AS (SELECT recsys.train_ials(u, i, w, o || '{"iterations": 0}') AS m FROM one, opts),
m1 AS (SELECT recsys.train_ials(u, i, w, o || '{"iterations": 1}') AS m FROM one, opts),
k AS (SELECT 2 * ln(1 + 12 / 4.0) AS d, 0.5 * power(1 + 2 * ln(1 + 12 / 4.0), 0.7) AS lam),
y0 AS (SELECT (recsys.item_vector(m, 1)::real[])[1]::float8 AS y0 FROM m0),
x1 AS (SELECT (1 + d) * y0 / ((1 + d) * y0 * y0 + lam) AS x1 FROM y0, k),
y1 AS (SELECT (1 + d) * x1 / ((1 + d) * x1 * x1 + lam) AS y1 FROM x1, k)
SELECT x1, y1,
	   (SELECT (recsys.user_vector(m, 1)::real[])[1]::float8 FROM m1) AS trained_x,
	   (SELECT (recsys.item_vector(m, 1)::real[])[1]::float8 FROM m1) AS trained_y,
	   (SELECT (1 + d) * y1 / ((1 + d) * y1 * y1 + lam) FROM k) AS fold_hand,
	   (SELECT (recsys.fold_in(m, ARRAY[1::bigint], ARRAY[12::real])::real[])[1]::float8 FROM m1) AS fold_model,
	   (SELECT (1 + 2 * ln(1 + 3 / 4.0)) * y1 / ((1 + 2 * ln(1 + 3 / 4.0)) * y1 * y1 + 0.5 * power(1 + 2 * ln(1 + 3 / 4.0), 0.7))) AS fold3_hand,
	   (SELECT (recsys.fold_in(m, ARRAY[1::bigint], ARRAY[3::real])::real[])[1]::float8 FROM m1) AS fold3_model
FROM x1, y1;
SELECT cmp_ok((SELECT abs(trained_x - x1) / abs(x1) FROM hand), '<', 1e-5::float8,
			  'log confidence: the trained user factor is the hand computation');
SELECT cmp_ok((SELECT abs(trained_y - y1) / abs(y1) FROM hand), '<', 1e-5::float8,
			  'log confidence: the trained item factor is the hand computation');
SELECT cmp_ok((SELECT abs(fold_model - fold_hand) / abs(fold_hand) FROM hand), '<', 1e-5::float8,
			  'fold-in uses the same confidence and lambda as training');
SELECT cmp_ok((SELECT abs(fold3_model - fold3_hand) / abs(fold3_hand) FROM hand), '<', 1e-5::float8,
			  'fold-in of another weight matches the hand computation');

-- 19-27: the new options' ranges and error paths
CREATE FUNCTION pg_temp.ials(o text) RETURNS text LANGUAGE sql AS
	$$ SELECT format('SELECT recsys.train_ials(u, i, w, %L) FROM one', o) $$;
SELECT throws_ok(pg_temp.ials('{"confidence": "sqrt"}'), '22023', 'option "confidence" must be "linear" or "log", got "sqrt"', 'confidence sqrt');
SELECT throws_ok(pg_temp.ials('{"epsilon": 0}'), '22023', 'option "epsilon" must be a number between 1e-06 and 1e+09, got 0', 'epsilon 0');
SELECT throws_ok(pg_temp.ials('{"epsilon": -1}'), '22023', 'option "epsilon" must be a number between 1e-06 and 1e+09, got -1', 'epsilon negative');
SELECT throws_ok(pg_temp.ials('{"regularization_exponent": 1.5}'), '22023', 'option "regularization_exponent" must be a number between 0 and 1, got 1.5', 'regularization_exponent 1.5');
SELECT throws_ok(pg_temp.ials('{"cg_tolerance": 0.6}'), '22023', 'option "cg_tolerance" must be a number between 0 and 0.5, got 0.6', 'cg_tolerance 0.6');
SELECT throws_ok(pg_temp.ials('{"cg_steps": 1025}'), '22023', 'option "cg_steps" must be an integer between 1 and 1024, got 1025', 'cg_steps 1025');
SELECT throws_ok('SELECT recsys.train_als(u, i, w, ''{"confidence": "log"}'') FROM one', '22023',
				 'option "confidence" applies only to train_ials and train_hybrid', 'confidence in train_als');
SELECT throws_ok('SELECT recsys.train_ials(u, i, -w, ''{"confidence": "log"}'') FROM one', '22000', NULL,
				 'a negative weight is still refused with log confidence');
SELECT lives_ok(pg_temp.ials('{"confidence": "linear", "epsilon": 1e-6, "regularization_exponent": 0, "cg_tolerance": 0, "cg_steps": 1}'),
				'the smallest values of every new option are accepted');

-- 28-32: synthetic_ratings' implicit shapes and their argument checks
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
