-- The exact (Cholesky) implicit solver on degenerate data: 1000 users of only 20
-- distinct kinds (same items, same weights), so the other side's factors span a
-- low-rank space and, at 24+ factors, float rounding in the normal matrix swamps the
-- default lambda.  Training must still succeed, with finite factors and a loss that
-- the extra iterations do not raise.
BEGIN;
SELECT plan(5);

CREATE TEMP TABLE degenerate AS
	SELECT (g / 50)::bigint AS user_id, ((g % 50) * 20 + (g / 50) % 20)::bigint AS item_id,
		   ((g % 5) + 1)::real AS weight
	FROM generate_series(0, 49999) g;

CREATE TEMP TABLE models AS
	SELECT f, it, recsys.train_ials(user_id, item_id, weight,
			jsonb_build_object('factors', f, 'iterations', it, 'solver', 'cholesky')) AS m
	FROM degenerate, (VALUES (32, 1), (64, 1), (64, 4)) v(f, it)
	GROUP BY f, it;

SELECT is((SELECT count(*) FROM models WHERE m IS NOT NULL), 3::bigint,
	'32 and 64 factors train with the exact solver');
SELECT ok((SELECT bool_and(recsys.norm(factors) < 1e6 AND recsys.norm(factors) = recsys.norm(factors))
		   FROM models, recsys.user_factors(m)),
	'every user vector is finite');
SELECT ok((SELECT bool_and(recsys.norm(factors) < 1e6 AND recsys.norm(factors) = recsys.norm(factors))
		   FROM models, recsys.item_factors(m)),
	'every item vector is finite');
SELECT cmp_ok((SELECT (recsys.model_info(m)->>'train_loss')::float8 FROM models WHERE f = 64 AND it = 4), '<=',
	(SELECT (recsys.model_info(m)->>'train_loss')::float8 FROM models WHERE f = 64 AND it = 1),
	'more sweeps do not raise the loss');
-- users of one kind have identical data, so the exact solve gives them one vector
SELECT is((SELECT count(DISTINCT factors::text) FROM models, recsys.user_factors(m)
		   WHERE f = 64 AND it = 4 AND id % 20 = 3), 1::bigint,
	'users with identical data get identical vectors');

SELECT * FROM finish();
ROLLBACK;
