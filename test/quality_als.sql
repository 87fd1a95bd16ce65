-- Quality of explicit ALS on planted data whose truth is known: 3000 users, 1500 items,
-- 150k ratings, rank 8, noise 0.5, trained on the 80% where recsys.fold(...) <> 0.
BEGIN;
SELECT plan(5);
SET LOCAL recsys.threads = 2;

CREATE TEMP TABLE planted AS SELECT * FROM recsys.synthetic_ratings(3000, 1500, 150000, rank => 8, noise => 0.5);
CREATE TEMP TABLE train AS SELECT * FROM planted WHERE recsys.fold(user_id, item_id, 5) <> 0;
CREATE TEMP TABLE test AS SELECT * FROM planted WHERE recsys.fold(user_id, item_id, 5) = 0;

-- Held-out RMSE through recsys.predict.  The model is read into a PL/pgSQL variable
-- once, so every call sees it in memory.
CREATE FUNCTION pg_temp.heldout_rmse(opts jsonb) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	m recsys.model;
	result float8;
BEGIN
	SELECT recsys.train_als(user_id, item_id, rating, opts) INTO m FROM train;
	SELECT recsys.rmse(recsys.predict(m, user_id, item_id), rating) INTO result FROM test;
	RETURN result;
END $$;
CREATE TEMP TABLE result AS
	SELECT pg_temp.heldout_rmse('{"factors": 8, "iterations": 15, "regularization": 0.05}') AS rmse;

-- Baselines in SQL: the global mean, and biases (item, then user, each damped by 5
-- pseudo-ratings at the mean).
CREATE TEMP TABLE baseline AS
	WITH mu AS (SELECT avg(rating) AS mu FROM train),
	bi AS (SELECT item_id, sum(rating - mu) / (count(*) + 5) AS bi FROM train, mu GROUP BY item_id),
	bu AS (SELECT t.user_id, sum(t.rating - mu - coalesce(bi.bi, 0)) / (count(*) + 5) AS bu
		   FROM train t CROSS JOIN mu LEFT JOIN bi USING (item_id) GROUP BY t.user_id)
	SELECT (SELECT recsys.rmse(mu, rating) FROM test, mu) AS global_mean,
		   (SELECT recsys.rmse(mu + coalesce(bi, 0) + coalesce(bu, 0), rating)
			FROM test CROSS JOIN mu LEFT JOIN bi USING (item_id) LEFT JOIN bu USING (user_id)) AS biases;

SELECT diag(format('held-out RMSE %s, global-mean baseline %s, biases baseline %s',
	(SELECT round(rmse::numeric, 4) FROM result), round(global_mean::numeric, 4), round(biases::numeric, 4))) FROM baseline;
SELECT cmp_ok((SELECT rmse FROM result), '<=', 1.15 * 0.5::float8,
	'held-out RMSE within 15% of the planted noise (0.5)');
SELECT cmp_ok((SELECT rmse FROM result), '<', (SELECT 0.85::float8 * global_mean FROM baseline),
	'held-out RMSE clearly below the global-mean baseline (by 15%)');
SELECT cmp_ok((SELECT rmse FROM result), '<', (SELECT 0.85::float8 * biases FROM baseline),
	'held-out RMSE clearly below the biases-only baseline (by 15%)');
SELECT cmp_ok((SELECT biases FROM baseline), '<', (SELECT global_mean FROM baseline),
	'the biases baseline beats the global mean (the baselines are sound)');

-- More iterations never raise the training loss: the same seed, 1..6 iterations.
CREATE TEMP TABLE losses AS
	SELECT it, (recsys.model_info(recsys.train_als(user_id, item_id, rating,
		jsonb_build_object('factors', 8, 'iterations', it, 'regularization', 0.05)))->>'train_loss')::float8 AS loss
	FROM generate_series(1, 6) it, train GROUP BY it;
SELECT diag('training loss by iterations: ' || string_agg(round(loss::numeric, 1)::text, ', ' ORDER BY it)) FROM losses;
SELECT is((SELECT count(*) FROM losses a JOIN losses b ON b.it = a.it + 1 WHERE b.loss > a.loss * (1 + 1e-6)),
	0::bigint, 'the training loss does not go up from one iteration count to the next');

SELECT * FROM finish();
ROLLBACK;
