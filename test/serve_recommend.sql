-- recommend equals the brute-force ranking computed in SQL from user_factors /
-- item_factors, for explicit and implicit models, with every filter; plus the
-- semantics of exclusions, candidates, cold start and ordering.
BEGIN;
SELECT plan(34);

CREATE TEMP TABLE r AS
	SELECT * FROM recsys.synthetic_ratings(120, 90, 2500, rank => 4, seed => 7);
CREATE TEMP TABLE ri AS
	SELECT * FROM recsys.synthetic_ratings(120, 90, 2500, rank => 4, seed => 8, implicit => true);
CREATE TEMP TABLE models AS
	SELECT 'als'::text AS kind,
		   (SELECT recsys.train_als(user_id, item_id, rating,
									'{"factors": 6, "iterations": 6}') FROM r) AS m
	UNION ALL
	SELECT 'ials',
		   (SELECT recsys.train_ials(user_id, item_id, rating,
									 '{"factors": 6, "iterations": 6}') FROM ri);
CREATE TEMP TABLE seen AS
	SELECT 'als'::text AS kind, user_id, array_agg(DISTINCT item_id) AS items FROM r GROUP BY user_id
	UNION ALL
	SELECT 'ials', user_id, array_agg(DISTINCT item_id) FROM ri GROUP BY user_id;
-- "random" users: a fixed hash order, so the test is reproducible
CREATE TEMP TABLE sample AS
	SELECT kind, user_id FROM (
		SELECT kind, user_id, row_number() OVER (PARTITION BY kind ORDER BY hashint8(user_id)) AS k
		FROM seen) s
	WHERE k <= 15;

-- Rows where recommend differs from the brute force: a rank whose score is off,
-- or whose item differs from the brute force's unless the two are tied within
-- float tolerance (float4 BLAS vs float8 SQL may order near-ties differently),
-- or a row count that differs.
CREATE FUNCTION pg_temp.mismatches(m recsys.model, u bigint, n int, excl_seen bool,
								   cand bigint[], excl bigint[], seen bigint[])
RETURNS bigint LANGUAGE sql AS $$
	WITH info AS (SELECT (recsys.model_info(m) ->> 'global_mean')::float8 AS mu),
	x AS (SELECT factors, coalesce(bias, 0) AS bias FROM recsys.user_factors(m) WHERE id = u),
	allbf AS (
		SELECT i.id AS item_id,
			   info.mu + x.bias + coalesce(i.bias, 0) + recsys.dot(x.factors, i.factors) AS score
		FROM recsys.item_factors(m) i, x, info
		WHERE (NOT excl_seen OR i.id <> ALL (coalesce(seen, '{}')))
		  AND (cand IS NULL OR i.id = ANY (cand))
		  AND (excl IS NULL OR i.id <> ALL (excl))),
	bf AS (
		SELECT item_id, score, row_number() OVER (ORDER BY score DESC, item_id) AS rn
		FROM allbf ORDER BY score DESC, item_id LIMIT n),
	got AS (
		SELECT * FROM recsys.recommend(m, u, n, excl_seen, cand, excl)
			WITH ORDINALITY AS g(item_id, score, rn))
	SELECT count(*)
	FROM got g
	FULL JOIN bf b ON b.rn = g.rn
	LEFT JOIN allbf a ON a.item_id = g.item_id
	WHERE g.rn IS NULL OR b.rn IS NULL OR a.item_id IS NULL
	   OR abs(g.score - b.score) > 1e-4
	   OR (g.item_id <> b.item_id AND abs(a.score - b.score) > 1e-4)
$$;

CREATE FUNCTION pg_temp.total_mismatches(k text, n int, excl_seen bool,
										 cand bigint[], excl bigint[])
RETURNS bigint LANGUAGE sql AS $$
	SELECT sum(pg_temp.mismatches(mo.m, s.user_id, n, excl_seen, cand, excl, se.items))::bigint
	FROM sample s
	JOIN models mo ON mo.kind = s.kind
	JOIN seen se ON se.kind = s.kind AND se.user_id = s.user_id
	WHERE s.kind = k
$$;

-- some known items, an unknown id and a duplicate
CREATE TEMP TABLE lists AS
	SELECT ARRAY(SELECT g FROM generate_series(1, 90, 3) g) || ARRAY[100000, 4]::bigint[] AS cand,
		   ARRAY(SELECT g FROM generate_series(2, 90, 7) g)::bigint[] AS excl;

SELECT is(pg_temp.total_mismatches('als', 10, true, NULL, NULL), 0::bigint,
		  'explicit: top 10 unseen equals brute force');
SELECT is(pg_temp.total_mismatches('als', 10, false, NULL, NULL), 0::bigint,
		  'explicit: top 10 including seen equals brute force');
SELECT is(pg_temp.total_mismatches('als', 7, true, (SELECT cand FROM lists), NULL), 0::bigint,
		  'explicit: candidates equal brute force');
SELECT is(pg_temp.total_mismatches('als', 10, true, NULL, (SELECT excl FROM lists)), 0::bigint,
		  'explicit: exclude list equals brute force');
SELECT is(pg_temp.total_mismatches('als', 5, false, (SELECT cand FROM lists), (SELECT excl FROM lists)),
		  0::bigint, 'explicit: candidates and exclude together equal brute force');
SELECT is(pg_temp.total_mismatches('als', 1, true, NULL, NULL), 0::bigint,
		  'explicit: top 1 equals brute force');
SELECT is(pg_temp.total_mismatches('ials', 10, true, NULL, NULL), 0::bigint,
		  'implicit: top 10 unseen equals brute force');
SELECT is(pg_temp.total_mismatches('ials', 10, false, NULL, NULL), 0::bigint,
		  'implicit: top 10 including seen equals brute force');
SELECT is(pg_temp.total_mismatches('ials', 8, true, (SELECT cand FROM lists), (SELECT excl FROM lists)),
		  0::bigint, 'implicit: candidates and exclude equal brute force');
SELECT is(pg_temp.total_mismatches('ials', 500, true, NULL, NULL), 0::bigint,
		  'implicit: n beyond the catalogue equals brute force (every eligible item)');

-- exclusions hold for every user, not just the sample
SELECT is((SELECT count(*) FROM seen se, models mo,
				  LATERAL recsys.recommend(mo.m, se.user_id, 20) rec
		   WHERE mo.kind = se.kind AND rec.item_id = ANY (se.items)),
		  0::bigint, 'exclude_seen never returns a training item of the user');
SELECT is((SELECT count(*) FROM seen se, models mo, lists,
				  LATERAL recsys.recommend(mo.m, se.user_id, 20, false, exclude => lists.excl) rec
		   WHERE mo.kind = se.kind AND rec.item_id = ANY (lists.excl)),
		  0::bigint, 'exclude is honoured for every user');
SELECT is((SELECT count(*) FROM seen se, models mo, lists,
				  LATERAL recsys.recommend(mo.m, se.user_id, 20, candidates => lists.cand) rec
		   WHERE mo.kind = se.kind AND rec.item_id <> ALL (lists.cand)),
		  0::bigint, 'only candidates are returned');

-- candidates are applied before ranking: min(n, eligible) rows always come back
SELECT is((SELECT count(*) FROM models mo,
				  LATERAL recsys.recommend(mo.m, 1, 10, candidates => '{}') rec),
		  0::bigint, 'empty candidates: no rows');
SELECT is((SELECT count(*) FROM models mo,
				  LATERAL recsys.recommend(mo.m, 1, 10, candidates => '{-5, 100000}') rec),
		  0::bigint, 'candidates the model does not know: no rows');
SELECT is((SELECT count(*) FROM models mo, seen se,
				  LATERAL recsys.recommend(mo.m, se.user_id, 3, true, se.items[1:2] || ARRAY[1, 2, 3, 4, 5]::bigint[]) rec
		   WHERE mo.kind = 'als' AND se.kind = 'als' AND se.user_id = 1),
		  (SELECT least(3, count(*)) FROM unnest(ARRAY[1, 2, 3, 4, 5]::bigint[]) c, seen se
		   WHERE se.kind = 'als' AND se.user_id = 1 AND c <> ALL (se.items)),
		  'candidates mixed with seen items: min(n, eligible) rows');
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 100000, false)),
		  (SELECT count(DISTINCT item_id) FROM r),
		  'n beyond the catalogue without exclusions: every item');
SELECT is((SELECT count(DISTINCT item_id) FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 100000)),
		  (SELECT count(DISTINCT item_id) FROM r) - (SELECT cardinality(items) FROM seen WHERE kind = 'als' AND user_id = 1),
		  'n beyond the catalogue: every unseen item, each once');
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 100000)),
		  (SELECT count(DISTINCT item_id) FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 100000)),
		  'n beyond the catalogue: no item twice');
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 5,
												candidates => ARRAY[7, 7, 7, 9]::bigint[], exclude_seen => false)),
		  2::bigint, 'duplicate candidates count once');

-- ordering: best first, ties by item id
SELECT ok((SELECT bool_and(ok) FROM (
			SELECT lag(score) OVER w > score OR (lag(score) OVER w = score AND lag(item_id) OVER w < item_id)
				   OR lag(score) OVER w IS NULL AS ok
			FROM models mo, seen se, LATERAL recsys.recommend(mo.m, se.user_id, 30) WITH ORDINALITY AS rec(item_id, score, rn)
			WHERE mo.kind = se.kind
			WINDOW w AS (PARTITION BY mo.kind, se.user_id ORDER BY rn)) s),
		  'rows come best first, equal scores by ascending item id');

-- cold start: an unknown user gets the most popular items, scored by their
-- training count, with the same filters
CREATE TEMP TABLE popular AS
	SELECT item_id, count(DISTINCT user_id) AS cnt FROM r GROUP BY item_id;
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), -42, 8)$$,
	$$SELECT item_id, cnt::real FROM popular ORDER BY cnt DESC, item_id LIMIT 8$$,
	'unknown user: most popular items, score = training interactions');
SELECT results_eq(
	$$SELECT item_id FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), -42, 6,
										   candidates => (SELECT cand FROM lists), exclude => (SELECT excl FROM lists))$$,
	$$SELECT item_id FROM popular, lists WHERE item_id = ANY (cand) AND item_id <> ALL (excl)
	  ORDER BY cnt DESC, item_id LIMIT 6$$,
	'unknown user: candidates and exclude apply to the popular items');
SELECT results_eq(
	$$SELECT item_id FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), -42, 5,
										   exclude => (SELECT ARRAY(SELECT item_id FROM popular ORDER BY cnt DESC, item_id LIMIT 3)))$$,
	$$SELECT item_id FROM popular ORDER BY cnt DESC, item_id OFFSET 3 LIMIT 5$$,
	'unknown user: excluding the top items moves down the popularity list');

-- NULL arguments
SELECT results_eq(
	$$SELECT item_id, score, rank, fallback FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), NULL::bigint, 5)$$,
	$$SELECT item_id, score, rank, true FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), -42, 5)$$,
	'NULL user id: the popularity list of an unknown user, marked as a fallback');
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, NULL)),
		  0::bigint, 'NULL n: no rows');
SELECT is((SELECT count(*) FROM recsys.recommend(NULL::recsys.model, 1, 5)), 0::bigint,
		  'NULL model: no rows');
SELECT results_eq(
	$$SELECT * FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 3, 5, true, NULL, NULL)$$,
	$$SELECT * FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 3, 5)$$,
	'NULL candidates and exclude mean none');

-- a user vector ranks like the user: same items, scores without the user bias
SELECT results_eq(
	$$SELECT item_id FROM models mo, recsys.recommend_by_vector(mo.m, recsys.user_vector(mo.m, 5), 10)
	  WHERE kind = 'als'$$,
	$$SELECT item_id FROM models mo, recsys.recommend(mo.m, 5::bigint, 10, false) WHERE kind = 'als'$$,
	'explicit: recommend by the user''s vector ranks like recommend by id');
SELECT ok((SELECT max(abs(b.score - a.score - (SELECT bias FROM recsys.user_factors(mo.m) WHERE id = 5)))
		   FROM models mo,
				LATERAL recsys.recommend_by_vector(mo.m, recsys.user_vector(mo.m, 5), 10) WITH ORDINALITY a(item_id, score, rn),
				LATERAL recsys.recommend(mo.m, 5::bigint, 10, false) WITH ORDINALITY b(item_id, score, rn)
		   WHERE mo.kind = 'als' AND a.rn = b.rn) < 1e-4,
		  'explicit: vector scores are the user''s scores less the user bias');
SELECT results_eq(
	$$SELECT rec.* FROM models mo,
	  recsys.recommend_by_vector(mo.m, recsys.user_vector(mo.m, 5), 10, ARRAY[1, 2, 3, 4, 5, 6]::bigint[], ARRAY[2]::bigint[]) rec
	  WHERE kind = 'ials'$$,
	$$SELECT rec.item_id, rec.score, rec.rank FROM models mo,
	  recsys.recommend(mo.m, 5::bigint, 10, false, ARRAY[1, 2, 3, 4, 5, 6]::bigint[], ARRAY[2]::bigint[]) rec
	  WHERE kind = 'ials'$$,
	'implicit: recommend by vector with candidates and exclude equals recommend by id');
SELECT is((SELECT count(*) FROM recsys.recommend_by_vector((SELECT m FROM models WHERE kind = 'als'), NULL::recsys.vec, 5)),
		  0::bigint, 'NULL vector: no rows');

-- the application's request path: a LATERAL join per user
SELECT is((SELECT count(*) FROM (SELECT DISTINCT user_id FROM r WHERE user_id % 10 = 0) u
		   CROSS JOIN LATERAL recsys.recommend((SELECT m FROM models WHERE kind = 'als'), u.user_id, 3) rec),
		  (SELECT count(DISTINCT user_id) * 3 FROM r WHERE user_id % 10 = 0),
		  'LATERAL recommend: 3 rows for each user');
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 10)),
		  10::bigint, 'default exclude_seen keeps n rows when enough items are unseen');

SELECT * FROM finish();
ROLLBACK;
