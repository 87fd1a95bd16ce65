-- fold_in recovers a training user's vector; recommend_all equals per-user
-- recommend; similar_items / similar_users equal brute-force cosine.
BEGIN;
SELECT plan(17);

-- one value per (user, item), so "the user's interactions" is unambiguous
CREATE TEMP TABLE r AS
	SELECT DISTINCT ON (user_id, item_id) user_id, item_id, rating
	FROM recsys.synthetic_ratings(150, 100, 4000, rank => 4, noise => 0.3, seed => 21)
	ORDER BY user_id, item_id;
CREATE TEMP TABLE ri AS
	SELECT DISTINCT ON (user_id, item_id) user_id, item_id, rating
	FROM recsys.synthetic_ratings(150, 100, 4000, rank => 4, seed => 22, implicit => true)
	ORDER BY user_id, item_id;
CREATE TEMP TABLE models AS
	SELECT 'als'::text AS kind,
		   (SELECT recsys.train_als(user_id, item_id, rating,
									'{"factors": 6, "iterations": 30, "regularization": 0.05}') FROM r) AS m
	UNION ALL
	SELECT 'ials',
		   (SELECT recsys.train_ials(user_id, item_id, rating,
									 '{"factors": 6, "iterations": 30, "cg_steps": 6}') FROM ri);
CREATE TEMP TABLE folded AS
	SELECT 'als'::text AS kind, user_id,
		   recsys.fold_in((SELECT m FROM models WHERE kind = 'als'), array_agg(item_id), array_agg(rating)) AS v
	FROM r WHERE user_id % 5 = 0 GROUP BY user_id
	UNION ALL
	SELECT 'ials', user_id,
		   recsys.fold_in((SELECT m FROM models WHERE kind = 'ials'), array_agg(item_id), array_agg(rating))
	FROM ri WHERE user_id % 5 = 0 GROUP BY user_id;

-- fold-in solves the user step of training, so it lands on the trained vector
SELECT cmp_ok((SELECT min(recsys.cosine_similarity(f.v, recsys.user_vector(mo.m, f.user_id)))
			   FROM folded f JOIN models mo USING (kind) WHERE kind = 'als'),
			  '>', 0.95::float8, 'explicit: fold-in of a training user''s ratings has cosine > 0.95 with the trained vector');
SELECT cmp_ok((SELECT min(recsys.cosine_similarity(f.v, recsys.user_vector(mo.m, f.user_id)))
			   FROM folded f JOIN models mo USING (kind) WHERE kind = 'ials'),
			  '>', 0.95::float8, 'implicit: fold-in of a training user''s interactions has cosine > 0.95 with the trained vector');
SELECT cmp_ok((SELECT avg(overlap) FROM (
				SELECT f.kind, f.user_id,
					   (SELECT count(*) FROM recsys.recommend_by_vector(mo.m, f.v, 10) a
						JOIN recsys.recommend(mo.m, f.user_id, 10, false) b USING (item_id)) AS overlap
				FROM folded f JOIN models mo USING (kind)) s),
			  '>=', 8::numeric, 'recommendations from the folded-in vector overlap the user''s heavily (>= 8 of 10 on average)');
SELECT is(recsys.fold_in((SELECT m FROM models WHERE kind = 'als'), '{}', '{}')::real[],
		  array_fill(0::real, ARRAY[6]), 'fold-in of nothing is the zero vector');
SELECT is(recsys.fold_in((SELECT m FROM models WHERE kind = 'als'), ARRAY[1, 99999], ARRAY[4, 5]::real[])::real[],
		  recsys.fold_in((SELECT m FROM models WHERE kind = 'als'), ARRAY[1], ARRAY[4]::real[])::real[],
		  'items the model does not know are ignored');
SELECT is(recsys.fold_in((SELECT m FROM models WHERE kind = 'als'), ARRAY[1, 2, 1], ARRAY[1, 3, 5]::real[])::real[],
		  recsys.fold_in((SELECT m FROM models WHERE kind = 'als'), ARRAY[2, 1], ARRAY[3, 5]::real[])::real[],
		  'explicit: a repeated item keeps its last rating');
SELECT is(recsys.fold_in((SELECT m FROM models WHERE kind = 'ials'), ARRAY[1, 2, 1], ARRAY[1, 3, 2]::real[])::real[],
		  recsys.fold_in((SELECT m FROM models WHERE kind = 'ials'), ARRAY[1, 2], ARRAY[3, 3]::real[])::real[],
		  'implicit: a repeated item adds its weights');
SELECT is(recsys.fold_in((SELECT m FROM models WHERE kind = 'als'), NULL, ARRAY[1]::real[])::real[], NULL,
		  'fold_in of NULL is NULL');

-- recommend_all equals per-user recommend
CREATE TEMP TABLE batch AS
	SELECT mo.kind, b.* FROM models mo, LATERAL recsys.recommend_all(mo.m, 7) b;
SELECT is((SELECT count(*) FROM batch WHERE kind = 'als'), (SELECT count(DISTINCT user_id) * 7 FROM r),
		  'recommend_all: n rows for every user');
SELECT is((SELECT count(*) FROM (
			SELECT b.kind, b.user_id, b.rank, b.item_id, b.score, s.item_id AS s_item, s.score AS s_score
			FROM batch b
			JOIN models mo USING (kind)
			LEFT JOIN LATERAL recsys.recommend(mo.m, b.user_id, 7) WITH ORDINALITY AS s(item_id, score, rn)
				ON s.rn = b.rank
			WHERE b.user_id % 7 = 0) x
		   WHERE s_item IS NULL OR abs(score - s_score) > 1e-4 OR (item_id <> s_item AND abs(score - s_score) > 1e-5)),
		  0::bigint, 'recommend_all equals per-user recommend (rank, item, score) for a sample of users');
SET LOCAL recsys.threads = 1;
SELECT results_eq(
	$$SELECT user_id, rank, item_id, score FROM recsys.recommend_all((SELECT m FROM models WHERE kind = 'ials'), 4) ORDER BY 1, 2$$,
	$$SELECT user_id, rank, item_id, score FROM batch WHERE kind = 'ials' AND rank <= 4 ORDER BY 1, 2$$,
	'recommend_all gives the same rows on one thread as on several');
RESET recsys.threads;
SELECT results_eq(
	$$SELECT user_id, rank, item_id FROM recsys.recommend_all((SELECT m FROM models WHERE kind = 'als'), 3, ARRAY[5, -1, 5, 2]::bigint[])$$,
	$$SELECT u, rn::int, item_id FROM unnest(ARRAY[-1, 2, 5]::bigint[]) u,
	  LATERAL recsys.recommend((SELECT m FROM models WHERE kind = 'als'), u, 3) WITH ORDINALITY AS s(item_id, score, rn)
	  ORDER BY u, rn$$,
	'recommend_all over a user list: sorted, each once, unknown users get the popular items');
SELECT is((SELECT count(*) FROM recsys.recommend_all((SELECT m FROM models WHERE kind = 'als'), 3, '{}')),
		  0::bigint, 'recommend_all over an empty list: no rows');

-- similar_items / similar_users equal brute-force cosine
CREATE FUNCTION pg_temp.similar_mismatches(m recsys.model, items bool, self bigint, n int)
RETURNS bigint LANGUAGE sql AS $$
	WITH f AS (SELECT id, factors FROM recsys.item_factors(m) WHERE items
			   UNION ALL SELECT id, factors FROM recsys.user_factors(m) WHERE NOT items),
	allbf AS (
		SELECT f.id, coalesce(recsys.cosine_similarity(f.factors, s.factors), 0) AS score
		FROM f, f s WHERE s.id = self AND f.id <> self),
	bf AS (SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rn
		   FROM allbf ORDER BY score DESC, id LIMIT n),
	got AS (SELECT * FROM recsys.similar_items(m, self, n) WITH ORDINALITY g(id, score, rn) WHERE items
			UNION ALL
			SELECT * FROM recsys.similar_users(m, self, n) WITH ORDINALITY g(id, score, rn) WHERE NOT items)
	SELECT count(*) FROM got g FULL JOIN bf b ON b.rn = g.rn LEFT JOIN allbf a ON a.id = g.id
	WHERE g.rn IS NULL OR b.rn IS NULL OR a.id IS NULL OR abs(g.score - b.score) > 1e-5
	   OR (g.id <> b.id AND abs(a.score - b.score) > 1e-5)
$$;
SELECT is((SELECT sum(pg_temp.similar_mismatches(mo.m, true, i, 8))::bigint
		   FROM models mo, generate_series(1, 100, 9) i),
		  0::bigint, 'similar_items equals brute-force cosine, itself excluded');
SELECT is((SELECT sum(pg_temp.similar_mismatches(mo.m, false, u, 8))::bigint
		   FROM models mo, generate_series(1, 150, 13) u),
		  0::bigint, 'similar_users equals brute-force cosine, itself excluded');
SELECT is((SELECT count(*) FROM recsys.similar_items((SELECT m FROM models WHERE kind = 'als'), 1, 1000)),
		  (SELECT count(DISTINCT item_id) - 1 FROM r), 'similar_items with n beyond the catalogue: every other item');
SELECT is((SELECT count(*) FROM recsys.similar_items((SELECT m FROM models WHERE kind = 'als'), -7, 5)),
		  0::bigint, 'similar_items of an unknown item: no rows');

SELECT * FROM finish();
ROLLBACK;
