-- Filters on every serving path (candidates, exclude, exclude_seen) against brute
-- force, for every model kind: similar_items / similar_users (cosine of the
-- factors, or the stored neighbours, filtered), recommend_all (the same rows as
-- recommend per user with the same filters), recommend with candidates (the
-- unfiltered ranking restricted to them); plus rank, n = 0 and the planner's row
-- estimate.
BEGIN;
SELECT plan(29);

CREATE TEMP TABLE r AS
	SELECT * FROM recsys.synthetic_ratings(80, 60, 1500, rank => 4, seed => 11);
CREATE TEMP TABLE models AS
	SELECT 'als'::text AS kind, (SELECT recsys.train_als(user_id, item_id, rating,
									 '{"factors": 6, "iterations": 6}') FROM r) AS m
	-- lambda below the default: on 1,500 interactions the default collapses the
	-- factors towards one direction, where cosines tie to float precision
	UNION ALL SELECT 'ials', (SELECT recsys.train_ials(user_id, item_id, rating,
									 '{"factors": 6, "iterations": 6, "regularization": 0.5}') FROM r)
	UNION ALL SELECT 'item', (SELECT recsys.train_knn(user_id, item_id, rating,
									 '{"neighbours": 15}') FROM r)
	UNION ALL SELECT 'user', (SELECT recsys.train_knn(user_id, item_id, rating,
									 '{"kind": "user", "neighbours": 15}') FROM r)
	UNION ALL SELECT 'ease', (SELECT recsys.train_ease(user_id, item_id, rating,
									 '{"neighbours": 15}') FROM r);
-- one business filter for items and one for users
CREATE TEMP TABLE f AS
	SELECT ARRAY(SELECT i FROM generate_series(1, 60) i WHERE i % 3 <> 0) || ARRAY[10000] AS cand,
		   ARRAY[1, 2, 4, 5]::bigint[] AS excl,
		   ARRAY(SELECT u FROM generate_series(1, 80) u WHERE u % 2 = 0) AS ucand,
		   ARRAY[2, 4, 6]::bigint[] AS uexcl;

-- similar_items of a factor model: brute-force cosine over the filtered items
CREATE FUNCTION pg_temp.cosine_items(m recsys.model, q bigint, n int, cand bigint[], excl bigint[])
RETURNS bigint[] LANGUAGE sql AS $$
	SELECT array_agg(id ORDER BY s DESC, id) FROM (
		SELECT i.id, recsys.cosine_similarity(i.factors, x.factors) AS s
		FROM recsys.item_factors(m) i, recsys.item_factors(m) x
		WHERE x.id = q AND i.id <> q AND (cand IS NULL OR i.id = ANY (cand))
		  AND (excl IS NULL OR i.id <> ALL (excl))
		ORDER BY 2 DESC, 1 LIMIT n) t
$$;
CREATE FUNCTION pg_temp.cosine_users(m recsys.model, q bigint, n int, cand bigint[], excl bigint[])
RETURNS bigint[] LANGUAGE sql AS $$
	SELECT array_agg(id ORDER BY s DESC, id) FROM (
		SELECT i.id, recsys.cosine_similarity(i.factors, x.factors) AS s
		FROM recsys.user_factors(m) i, recsys.user_factors(m) x
		WHERE x.id = q AND i.id <> q AND (cand IS NULL OR i.id = ANY (cand))
		  AND (excl IS NULL OR i.id <> ALL (excl))
		ORDER BY 2 DESC, 1 LIMIT n) t
$$;

-- neighbourhood models: the stored neighbours (the unfiltered list, all of them),
-- filtered, in their stored order
CREATE FUNCTION pg_temp.stored(m recsys.model, items bool, q bigint, n int, cand bigint[], excl bigint[])
RETURNS bigint[] LANGUAGE sql AS $$
	SELECT array_agg(id ORDER BY rank) FROM (
		SELECT s.id, row_number() OVER (ORDER BY s.rank) AS rank
		FROM (SELECT * FROM recsys.similar_items(m, q, 100000) WHERE items
			  UNION ALL SELECT * FROM recsys.similar_users(m, q, 100000) WHERE NOT items) s
		WHERE (cand IS NULL OR s.id = ANY (cand)) AND (excl IS NULL OR s.id <> ALL (excl))
		ORDER BY s.rank LIMIT n) t
$$;
SELECT is((SELECT cardinality(pg_temp.cosine_items(mo.m, 1, 5, f.cand, f.excl))
			 FROM models mo, f WHERE mo.kind = 'als')
		  + (SELECT cardinality(pg_temp.stored(mo.m, true, 1, 5, f.cand, f.excl))
			 FROM models mo, f WHERE mo.kind = 'item'), 10,
		  'the brute forces are not vacuous: 5 ids each');
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 60, 7) q
			WHERE (SELECT array_agg(id ORDER BY rank) FROM recsys.similar_items(mo.m, q, 5, f.cand, f.excl))
				  IS DISTINCT FROM pg_temp.cosine_items(mo.m, q, 5, f.cand, f.excl)
			  AND mo.kind IN ('als', 'ials')), 0::bigint,
		  'similar_items with candidates and exclude equals brute-force cosine (als, ials)');
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 60, 7) q
			WHERE (SELECT array_agg(id ORDER BY rank) FROM recsys.similar_items(mo.m, q, 5))
				  IS DISTINCT FROM pg_temp.cosine_items(mo.m, q, 5, NULL, NULL)
			  AND mo.kind IN ('als', 'ials')), 0::bigint,
		  'similar_items without filters equals brute-force cosine (als, ials)');
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 80, 9) q
			WHERE (SELECT array_agg(id ORDER BY rank) FROM recsys.similar_users(mo.m, q, 5, f.ucand, f.uexcl))
				  IS DISTINCT FROM pg_temp.cosine_users(mo.m, q, 5, f.ucand, f.uexcl)
			  AND mo.kind IN ('als', 'ials')), 0::bigint,
		  'similar_users with candidates and exclude equals brute-force cosine (als, ials)');
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 80, 9) q
			WHERE (SELECT array_agg(id ORDER BY rank) FROM recsys.similar_users(mo.m, q, 5))
				  IS DISTINCT FROM pg_temp.cosine_users(mo.m, q, 5, NULL, NULL)
			  AND mo.kind IN ('als', 'ials')), 0::bigint,
		  'similar_users without filters equals brute-force cosine (als, ials)');

SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 60, 7) q
			WHERE (SELECT array_agg(id ORDER BY rank) FROM recsys.similar_items(mo.m, q, 5, f.cand, f.excl))
				  IS DISTINCT FROM pg_temp.stored(mo.m, true, q, 5, f.cand, f.excl)
			  AND mo.kind IN ('item', 'ease')), 0::bigint,
		  'similar_items with filters of item kNN and EASE: the stored neighbours, filtered');
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 80, 9) q
			WHERE (SELECT array_agg(id ORDER BY rank) FROM recsys.similar_users(mo.m, q, 5, f.ucand, f.uexcl))
				  IS DISTINCT FROM pg_temp.stored(mo.m, false, q, 5, f.ucand, f.uexcl)
			  AND mo.kind = 'user'), 0::bigint,
		  'similar_users with filters of user kNN: the stored neighbours, filtered');
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 60, 7) q,
				LATERAL recsys.similar_items(mo.m, q, 10, f.cand, f.excl) s
			WHERE mo.kind IN ('als', 'ials')
			  AND (s.id = q OR s.id <> ALL (f.cand) OR s.id = ANY (f.excl))), 0::bigint,
		  'similar_items never returns the item itself, a non-candidate or an excluded item');
SELECT throws_ok($$SELECT * FROM recsys.similar_users((SELECT m FROM models WHERE kind = 'item'), 1, 5, ARRAY[1])$$,
				 '0A000', NULL, 'similar_users of item kNN is still 0A000 with filters');

-- recommend with candidates: the unfiltered ranking restricted to the candidates
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 80, 5) u
			WHERE (SELECT array_agg(item_id ORDER BY rank) FROM recsys.recommend(mo.m, u, 8, true, f.cand, f.excl))
				  IS DISTINCT FROM
				  (SELECT array_agg(item_id ORDER BY rank) FROM (
					SELECT item_id, rank FROM recsys.recommend(mo.m, u, 100000)
					WHERE item_id = ANY (f.cand) AND item_id <> ALL (f.excl) ORDER BY rank LIMIT 8) t)
			  AND mo.kind IN ('item', 'user', 'ease')), 0::bigint,
		  'recommend with candidates of neighbourhood models: the full ranking restricted to them');
SELECT is((SELECT count(*) FROM models mo, f, generate_series(1, 80, 5) u,
				LATERAL (SELECT array_agg(item_id ORDER BY rank) AS got,
								array_agg(score ORDER BY rank) AS s
						 FROM recsys.recommend(mo.m, u, 8, true, f.cand, f.excl)) a,
				LATERAL (SELECT array_agg(item_id ORDER BY rank) AS want,
								array_agg(score ORDER BY rank) AS s FROM (
					SELECT item_id, score, rank FROM recsys.recommend(mo.m, u, 100000)
					WHERE item_id = ANY (f.cand) AND item_id <> ALL (f.excl) ORDER BY rank LIMIT 8) t) b
			WHERE mo.kind IN ('als', 'ials')
			  AND (cardinality(a.got) <> cardinality(b.want)
				   OR EXISTS (SELECT FROM generate_subscripts(a.got, 1) k
							  WHERE a.got[k] <> b.want[k] AND abs(a.s[k] - b.s[k]) > 1e-5
								 OR abs(a.s[k] - b.s[k]) > 1e-4))), 0::bigint,
		  'recommend with candidates of factor models: the full ranking restricted to them (scores within 1e-4)');

-- recommend_all: the same rows as recommend per user with the same filters
CREATE FUNCTION pg_temp.batch_mismatches(m recsys.model, n int, users bigint[], excl_seen bool,
										 cand bigint[], excl bigint[])
RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM (
		(SELECT user_id, rank, item_id FROM recsys.recommend_all(m, n, users, excl_seen, cand, excl)
		 EXCEPT
		 SELECT u, s.rank, s.item_id FROM unnest(users) u,
			 LATERAL recsys.recommend(m, u, n, excl_seen, cand, excl) s)
		UNION ALL
		(SELECT u, s.rank, s.item_id FROM unnest(users) u,
			 LATERAL recsys.recommend(m, u, n, excl_seen, cand, excl) s
		 EXCEPT
		 SELECT user_id, rank, item_id FROM recsys.recommend_all(m, n, users, excl_seen, cand, excl))) d
$$;
SELECT is(pg_temp.batch_mismatches(mo.m, 7, ARRAY(SELECT generate_series(1, 85)), true, f.cand, f.excl),
		  0::bigint, 'recommend_all with candidates and exclude equals recommend per user: ' || mo.kind)
  FROM models mo, f ORDER BY mo.kind;
SELECT is(pg_temp.batch_mismatches(mo.m, 7, ARRAY(SELECT generate_series(1, 85)), false, NULL, f.excl),
		  0::bigint, 'recommend_all with exclude_seen false and exclude equals recommend per user: ' || mo.kind)
  FROM models mo, f ORDER BY mo.kind;
SELECT is((SELECT count(*) FROM models mo, f,
				LATERAL recsys.recommend_all(mo.m, 5, NULL, true, f.cand, f.excl) b
			WHERE b.item_id <> ALL (f.cand) OR b.item_id = ANY (f.excl)
			   OR EXISTS (SELECT FROM r WHERE r.user_id = b.user_id AND r.item_id = b.item_id)),
		  0::bigint, 'recommend_all with filters never returns a non-candidate, an excluded or a seen item');
SELECT is((SELECT count(*) FROM models mo, recsys.recommend_all(mo.m, 5, candidates => '{}')),
		  0::bigint, 'recommend_all with an empty candidate list returns no rows');

-- n = 0 and the planner's estimate
SELECT is((SELECT count(*) FROM models mo, recsys.similar_users(mo.m, 3, 0) WHERE mo.kind = 'user')
		  + (SELECT count(*) FROM models mo, recsys.recommend_by_items(mo.m, ARRAY[1, 2], NULL, 0)),
		  0::bigint, 'n = 0 returns no rows from similar_users and recommend_by_items');
CREATE FUNCTION pg_temp.plan_rows(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	j json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
	RETURN (j -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END
$$;
SELECT is(pg_temp.plan_rows($$SELECT * FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 7)$$),
		  7::float8, 'the planner estimates n rows for recommend');
SELECT is(pg_temp.plan_rows($$SELECT * FROM recsys.recommend_by_items((SELECT m FROM models WHERE kind = 'ease'), ARRAY[1], n => 3)$$),
		  3::float8, '... for recommend_by_items (n given by name)');
SELECT is(pg_temp.plan_rows($$SELECT * FROM recsys.similar_items((SELECT m FROM models WHERE kind = 'item'), 1, 4, ARRAY[1, 2])$$),
		  4::float8, '... for similar_items');
SELECT is(pg_temp.plan_rows($$SELECT * FROM recsys.recommend_by_vector((SELECT m FROM models WHERE kind = 'als'), '[1,2,3,4,5,6]', 6)$$),
		  6::float8, '... for recommend_by_vector');
SELECT is(pg_temp.plan_rows($$SELECT * FROM recsys.recommend_all((SELECT m FROM models WHERE kind = 'als'), 5, ARRAY[1, 2, 3])$$),
		  15::float8, '... and n per listed user for recommend_all');
ROLLBACK;
