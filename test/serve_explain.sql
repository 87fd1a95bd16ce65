-- explain and explain_by_items: the terms of an item's score over the user's
-- history sum to the score recommend gives (a known user of a neighbourhood
-- model) or recommend_by_items gives (any history, every model kind: a factor
-- model's folded-in user); a factor model explains a known user by id from the
-- training values it stores, exactly as explain_by_items of that history;
-- ordering, n, unknown users and items, the baseline row of a biased factor
-- model, the name overloads and the error paths.
BEGIN;
SELECT plan(29);

CREATE TEMP TABLE r AS
	SELECT * FROM recsys.synthetic_ratings(80, 60, 1500, rank => 4, seed => 11);
CREATE TEMP TABLE models AS
	SELECT 'als'::text AS kind, (SELECT recsys.train_als(user_id, item_id, rating,
									 '{"factors": 6, "iterations": 6}') FROM r) AS m
	UNION ALL SELECT 'ials', (SELECT recsys.train_ials(user_id, item_id, rating,
									 '{"factors": 6, "iterations": 6}') FROM r)
	UNION ALL SELECT 'item', (SELECT recsys.train_knn(user_id, item_id, rating,
									 '{"neighbours": 15}') FROM r)
	UNION ALL SELECT 'user', (SELECT recsys.train_knn(user_id, item_id, rating,
									 '{"kind": "user", "neighbours": 15}') FROM r)
	UNION ALL SELECT 'ease', (SELECT recsys.train_ease(user_id, item_id, rating,
									 '{"neighbours": 15}') FROM r);
-- the first 12 users' histories
CREATE TEMP TABLE h AS
	SELECT user_id, array_agg(item_id ORDER BY item_id) AS items,
		   array_agg(rating ORDER BY item_id) AS vals
	FROM r WHERE user_id <= 12 GROUP BY user_id;

-- every kind: the contributions of a history sum to recommend_by_items' score
-- of each of its top 5 items (relative error of float sums in a different order)
CREATE TEMP TABLE by_items AS
	SELECT mo.kind, h.user_id, rec.item_id, rec.score,
		   (SELECT sum(contribution) FROM recsys.explain_by_items(mo.m, h.items, h.vals, rec.item_id, 100000)) AS total
	FROM models mo, h, recsys.recommend_by_items(mo.m, h.items, h.vals, 5) rec;
SELECT is((SELECT count(*) FROM by_items WHERE kind = k
			 AND abs(total - score) <= 1e-4 * greatest(1, abs(score))), 60::bigint,
		  k || ': explain_by_items sums to the recommend_by_items score')
  FROM unnest(ARRAY['als', 'ials', 'item', 'user', 'ease']) k ORDER BY k;

-- neighbourhood models: explain of a known user sums to recommend's score
CREATE TEMP TABLE by_user AS
	SELECT mo.kind, h.user_id, rec.item_id, rec.score,
		   (SELECT sum(contribution) FROM recsys.explain(mo.m, h.user_id, rec.item_id, 100000)) AS total
	FROM models mo, h, recsys.recommend(mo.m, h.user_id, 5) rec
	WHERE mo.kind IN ('item', 'user', 'ease');
SELECT is((SELECT count(*) FROM by_user WHERE kind = k
			 AND abs(total - score) <= 1e-4 * greatest(1, abs(score))), 60::bigint,
		  k || ': explain sums to the recommend score of a known user')
  FROM unnest(ARRAY['item', 'user', 'ease']) k ORDER BY k;

-- factor models by user id: the stored training values give explain_by_items'
-- rows exactly, and the terms sum to the score of the folded-in user (the
-- recommend_by_items score of the user's training history)
SELECT is((SELECT count(*) FROM models mo, h, recsys.recommend_by_items(mo.m, h.items, h.vals, 5) rec
		   WHERE mo.kind = k
			 AND ARRAY(SELECT e FROM recsys.explain(mo.m, h.user_id, rec.item_id, 100000) e)
				 = ARRAY(SELECT e FROM recsys.explain_by_items(mo.m, h.items, h.vals, rec.item_id, 100000) e)
			 AND abs((SELECT sum(contribution) FROM recsys.explain(mo.m, h.user_id, rec.item_id, 100000)) - rec.score)
				 <= 1e-4 * greatest(1, abs(rec.score))),
		  60::bigint, k || ': explain by user id equals explain_by_items of the stored history and sums to its score')
  FROM unnest(ARRAY['als', 'ials']) k ORDER BY k;
SELECT ok((SELECT count(*) FROM models mo, recsys.explain(mo.m, 3, 16, 100000) e
		   WHERE mo.kind = 'ials') = (SELECT count(*) FROM r WHERE user_id = 3 AND rating > 0),
		  'ials by user id: one term per positive training value of the user');
SELECT is((SELECT (recsys.model_info(m) ->> 'has_seen_values')::bool FROM models WHERE kind = k),
		  true, k || ': the model stores the values of its training interactions')
  FROM unnest(ARRAY['als', 'ials']) k ORDER BY k;

-- each factor term against the model's own fold-in, perturbed: iALS's term of
-- item j (c_j p_j y_i' A_u^-1 y_j) is what the folded-in score loses when w_j
-- is negated (same confidence |w_j|, p_j = 0); explicit ALS's (t_j a~_i' M_u^-1
-- a_j, t_j = r_j - mu - b_j) is t_j times the score's change when r_j rises by 1
-- (M_u does not depend on the values)
CREATE TEMP TABLE perturbed AS
	SELECT mo.kind, x.v, e.contribution,
		   (SELECT score FROM recsys.recommend_by_items(mo.m, h.items, h.vals, 1,
														candidates => ARRAY[t.item_id])) AS base,
		   (SELECT score FROM recsys.recommend_by_items(mo.m, h.items,
				ARRAY(SELECT CASE WHEN o <> x.j THEN w WHEN mo.kind = 'ials' THEN -w ELSE w + 1 END::real
					  FROM unnest(h.vals) WITH ORDINALITY y(w, o) ORDER BY o),
				1, candidates => ARRAY[t.item_id])) AS changed,
		   (SELECT bias FROM recsys.item_factors(mo.m) f WHERE f.id = x.item) AS b_j,
		   (recsys.model_info(mo.m) ->> 'global_mean')::real AS mu
	FROM models mo CROSS JOIN h
	CROSS JOIN LATERAL (SELECT item_id FROM recsys.recommend_by_items(mo.m, h.items, h.vals, 1)) t
	CROSS JOIN LATERAL unnest(h.items, h.vals) WITH ORDINALITY x(item, v, j)
	LEFT JOIN LATERAL recsys.explain_by_items(mo.m, h.items, h.vals, t.item_id, 100000) e
		ON e.item_id = x.item
	WHERE mo.kind IN ('als', 'ials') AND h.user_id <= 6;
SELECT ok((SELECT count(*) >= 50 AND bool_and(abs(coalesce(contribution, 0) -
				CASE WHEN kind = 'ials' THEN base - changed ELSE (v - mu - b_j) * (changed - base) END)
				<= 1e-4 * greatest(1, abs(base)))
		   FROM perturbed WHERE kind = k),
		  k || ': every term equals the change of the folded-in score it stands for')
  FROM unnest(ARRAY['als', 'ials']) k ORDER BY k;

-- for item-item models each term is value x stored weight: brute force in SQL
SELECT results_eq(
	$$SELECT e.item_id, e.contribution FROM models mo, recsys.explain(mo.m, 3, 16, 100) e
	  WHERE kind = 'item' ORDER BY 1$$,
	$$SELECT r.item_id, (r.rating * s.score)::real FROM models mo, r,
		LATERAL recsys.similar_items(mo.m, r.item_id, 100000) s
	  WHERE mo.kind = 'item' AND r.user_id = 3 AND s.id = 16 ORDER BY 1$$,
	'item kNN: the contribution of a history item is its value times its stored weight to the item');

-- ordering: best first, ties by item id, ranks 1.., every item from the history
SELECT is((SELECT count(*) FROM (
			SELECT e.*, lag(e.contribution) OVER (PARTITION BY mo.kind ORDER BY e.rank) AS prev,
				   lag(e.item_id) OVER (PARTITION BY mo.kind ORDER BY e.rank) AS prev_item,
				   row_number() OVER (PARTITION BY mo.kind ORDER BY e.rank) AS rn
			FROM models mo, h, recsys.explain_by_items(mo.m, h.items, h.vals, 16, 100) e
			WHERE h.user_id = 3 AND e.item_id IS NOT NULL) x
		   WHERE rank <> rn OR prev < contribution OR (prev = contribution AND prev_item > item_id)
			  OR item_id <> ALL ((SELECT items FROM h WHERE user_id = 3)::bigint[]) OR contribution = 0),
		  0::bigint, 'contributions come best first, ties by item id, ranked 1.., from the history, none zero');
SELECT results_eq(
	$$SELECT e.* FROM models mo, h, recsys.explain_by_items(mo.m, h.items, h.vals, 16, 3) e
	  WHERE h.user_id = 3 AND kind = 'ease'$$,
	$$SELECT e.* FROM models mo, h, recsys.explain_by_items(mo.m, h.items, h.vals, 16, 100) e
	  WHERE h.user_id = 3 AND kind = 'ease' AND e.rank <= 3$$,
	'n keeps the n largest contributions');

-- a biased factor model carries mu + b_i in one row without an item or rank
SELECT is((SELECT count(*) FROM models mo, h, recsys.explain_by_items(mo.m, h.items, h.vals, 16, 2) e
		   WHERE kind = 'als' AND h.user_id = 3 AND e.item_id IS NULL AND e.rank IS NULL),
		  1::bigint, 'explicit ALS: one baseline row (item_id and rank NULL), after the n items');
SELECT is((SELECT count(*) FROM models mo, h, recsys.explain_by_items(mo.m, h.items, h.vals, 16, 2) e
		   WHERE kind <> 'als' AND h.user_id = 3 AND e.item_id IS NULL),
		  0::bigint, 'no baseline row for the other kinds');
SELECT is((SELECT count(*) FROM models mo, h, recsys.explain_by_items(mo.m, h.items, h.vals, 16, 2) e
		   WHERE kind = 'als' AND h.user_id = 3), 3::bigint, 'n = 2 plus the baseline row');

-- nothing to explain: no rows
SELECT is((SELECT count(*) FROM models mo, recsys.explain(mo.m, 99999, 16) e WHERE kind = 'item'),
		  0::bigint, 'unknown user: no rows');
SELECT is((SELECT count(*) FROM models mo, recsys.explain(mo.m, 3, 99999) e WHERE kind = 'item'),
		  0::bigint, 'unknown item: no rows');
SELECT is((SELECT count(*) FROM models mo, recsys.explain(mo.m, 3, 16, 0) e WHERE kind = 'item'),
		  0::bigint, 'n = 0: no rows');
SELECT is((SELECT count(*) FROM models mo, recsys.explain_by_items(mo.m, ARRAY[]::bigint[], NULL, 16) e),
		  0::bigint, 'empty history: no rows');
SELECT throws_ok($$SELECT * FROM recsys.explain((SELECT m FROM models WHERE kind = 'item'), 3, 16, -1)$$,
				 '22023', NULL, 'explain n < 0');
SELECT throws_ok($$SELECT * FROM recsys.explain((SELECT recsys.train_als(user_id, item_id, rating,
					'{"factors": 4, "iterations": 2, "keep_interactions": false}') FROM r), 3, 16)$$,
				 '0A000', 'this als model does not store the values of its training interactions',
				 'explain by user id of a model without its interactions: 0A000');

-- the name overloads read the registry
INSERT INTO recsys.models (name, model) SELECT 'explain_test', m FROM models WHERE kind = 'ease';
SELECT results_eq($$SELECT * FROM recsys.explain('explain_test', 3, 16, 5)$$,
				  $$SELECT e.* FROM models mo, recsys.explain(mo.m, 3, 16, 5) e WHERE kind = 'ease'$$,
				  'explain by name equals explain by value');
SELECT results_eq($$SELECT * FROM recsys.explain_by_items('explain_test', ARRAY[1, 2, 3], NULL, 16)$$,
				  $$SELECT e.* FROM models mo, recsys.explain_by_items(mo.m, ARRAY[1, 2, 3], NULL, 16) e WHERE kind = 'ease'$$,
				  'explain_by_items by name equals by value');

SELECT * FROM finish();
ROLLBACK;
