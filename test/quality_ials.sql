-- Quality of implicit ALS on planted data: 2000 users, 1000 items, 60k implicit
-- interactions (counts), trained on the 80% where recsys.fold(...) <> 0.  Each user's
-- top 10 is computed here in SQL from the factors, without the user's training items.
BEGIN;
SELECT plan(3);
SET LOCAL recsys.threads = 2;

CREATE TEMP TABLE planted AS SELECT * FROM recsys.synthetic_ratings(2000, 1000, 60000, rank => 8, implicit => true);
CREATE TEMP TABLE train AS SELECT * FROM planted WHERE recsys.fold(user_id, item_id, 5) <> 0;
CREATE TEMP TABLE relevant AS
	SELECT user_id, array_agg(item_id) AS items FROM planted
	WHERE recsys.fold(user_id, item_id, 5) = 0 GROUP BY user_id;
CREATE INDEX ON train (user_id, item_id);
ANALYZE train;
ANALYZE relevant;

-- popularity: the most-interacted training items the user has not seen
CREATE TEMP TABLE popularity AS SELECT item_id, count(*) AS n FROM train GROUP BY item_id;
CREATE TEMP TABLE pop_recall AS
	SELECT avg(recsys.recall_at_k(top.items, r.items, 10)) AS recall
	FROM relevant r, LATERAL (
		SELECT array_agg(item_id ORDER BY n DESC, item_id) AS items FROM (
			SELECT p.item_id, p.n FROM popularity p
			WHERE NOT EXISTS (SELECT 1 FROM train t WHERE t.user_id = r.user_id AND t.item_id = p.item_id)
			ORDER BY p.n DESC, p.item_id LIMIT 10) s) top;

-- the model: score x_u . y_i over the items the user has not seen
CREATE FUNCTION pg_temp.model_recall(opts jsonb) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	m recsys.model;
	result float8;
BEGIN
	SELECT recsys.train_ials(user_id, item_id, rating, opts) INTO m FROM train;
	CREATE TEMP TABLE uf AS SELECT * FROM recsys.user_factors(m);
	CREATE TEMP TABLE itf AS SELECT * FROM recsys.item_factors(m);
	SELECT avg(recsys.recall_at_k(top.items, r.items, 10)) INTO result
	FROM relevant r JOIN uf ON uf.id = r.user_id, LATERAL (
		SELECT array_agg(id ORDER BY score DESC, id) AS items FROM (
			SELECT i.id, recsys.dot(i.factors, uf.factors) AS score FROM itf i
			WHERE NOT EXISTS (SELECT 1 FROM train t WHERE t.user_id = r.user_id AND t.item_id = i.id)
			ORDER BY 2 DESC, 1 LIMIT 10) s) top;
	DROP TABLE uf;
	DROP TABLE itf;
	RETURN result;
END $$;
CREATE TEMP TABLE model_recall AS
	SELECT pg_temp.model_recall('{"factors": 8, "iterations": 15}') AS cg,
		   pg_temp.model_recall('{"factors": 8, "iterations": 15, "solver": "cholesky"}') AS cholesky;

SELECT diag(format('held-out recall@10: popularity %s, implicit ALS CG %s, Cholesky %s',
	(SELECT round(recall::numeric, 4) FROM pop_recall), round(cg::numeric, 4), round(cholesky::numeric, 4))) FROM model_recall;
SELECT cmp_ok((SELECT cg FROM model_recall), '>=', (SELECT 2 * recall FROM pop_recall),
	'held-out recall@10 of implicit ALS (CG) is at least twice that of popularity');
SELECT cmp_ok((SELECT cholesky FROM model_recall), '>=', (SELECT 2 * recall FROM pop_recall),
	'held-out recall@10 of implicit ALS (Cholesky) is at least twice that of popularity');
SELECT cmp_ok((SELECT abs(cg - cholesky) / cholesky FROM model_recall), '<', 0.1::float8,
	'CG and Cholesky reach held-out recall@10 within 10% of each other');

SELECT * FROM finish();
ROLLBACK;
