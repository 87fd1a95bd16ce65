-- Raw ids are numbered through a directly indexed array when they are small
-- non-negative serials and through a hash table otherwise; an id can move from the
-- second to the first as the array grows.  Whatever path an id takes, the model must
-- be the one the same rows give in any other order.
BEGIN;
SELECT plan(5);

-- 70,000 users with serial ids, plus users far outside the array's reach at first
-- (600000, 2^40, -5) that reappear after the array has grown past 600000
CREATE TEMP TABLE rows AS
	SELECT g AS seq, u AS user_id, (u % 50) AS item_id, (1 + u % 5)::real AS weight
	FROM (SELECT g, CASE WHEN g = 1 THEN 600000
						 WHEN g = 2 THEN 1099511627776
						 WHEN g = 3 THEN -5
						 WHEN g > 70003 THEN (ARRAY[600000, 1099511627776, -5])[g - 70003]
						 ELSE g - 3 END AS u
		  FROM generate_series(1, 70006) g) s;
UPDATE rows SET item_id = item_id + 100 WHERE seq > 70003;

CREATE TEMP TABLE models AS
	SELECT (SELECT recsys.train_ials(user_id, item_id, weight ORDER BY seq) FROM rows) AS fwd,
		   (SELECT recsys.train_ials(user_id, item_id, weight ORDER BY seq DESC) FROM rows) AS rev;

SELECT is((SELECT (recsys.model_info(fwd)->>'n_users')::int FROM models), 70003,
	'every distinct user id is numbered once, whichever path it took');
SELECT is((SELECT (recsys.model_info(fwd)->>'n_interactions')::int FROM models), 70006,
	'the reappearing users keep both of their interactions');
SELECT is((SELECT array_agg(id ORDER BY id) FROM models, recsys.user_factors(fwd) WHERE id > 69999 OR id < 1),
	ARRAY[-5, 70000, 600000, 1099511627776]::bigint[],
	'negative, serial and huge ids all come back');
SELECT ok((SELECT bool_and(a.factors OPERATOR(recsys.=) b.factors)
		   FROM models, recsys.user_factors(fwd) a JOIN recsys.user_factors(rev) b USING (id)),
	'input order does not change the factors');
SELECT is((SELECT count(*) FROM models, recsys.user_factors(fwd) a
		   JOIN recsys.user_factors(rev) b USING (id)), 70003::bigint,
	'both orders know the same users');

SELECT * FROM finish();
ROLLBACK;
