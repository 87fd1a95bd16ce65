-- explain and explain_by_items: the terms of an item's score over the user's
-- history sum to the score recommend gives (a known user of a neighbourhood
-- model) or recommend_by_items gives (any history, every model kind: a factor
-- model's folded-in user); ordering, n, unknown users and items, the baseline
-- row of a biased factor model, the name overloads and the error paths.
BEGIN;
SELECT plan(22);

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
SELECT throws_ok($$SELECT * FROM recsys.explain((SELECT m FROM models WHERE kind = 'als'), 3, 16)$$,
				 '0A000', NULL, 'explain of a known user needs stored values: factor models point to explain_by_items');

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
