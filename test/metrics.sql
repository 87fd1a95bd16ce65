-- Evaluation metrics: hand-computed examples (the arithmetic is in the comments), edge
-- cases, a brute-force SQL reference on random lists, and the error aggregates.
BEGIN;
SELECT plan(80);

-- float8 comparison to 12 decimals
CREATE FUNCTION pg_temp.near(got float8, want float8, what text) RETURNS text LANGUAGE sql AS $$
	SELECT ok(abs(got - want) < 1e-12, what || ' (got ' || coalesce(got::text, 'NULL') || ', want ' || want || ')')
$$;

-- ---------------------------------------------------------------- example A
-- recommended 1,2,3,4,5; relevant {2,5,9}; k = 5.  Hits at positions 2 and 5.
--   precision = 2/5 = 0.4                       recall = 2/3
--   DCG  = 1/log2(3) + 1/log2(6)
--   IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4)     (min(5, 3) = 3 ideal hits)
--   AP   = (1/2 + 2/5) / min(5, 3) = 0.9 / 3 = 0.3
SELECT pg_temp.near(recsys.precision_at_k('{1,2,3,4,5}', '{2,5,9}', 5), 0.4, 'A precision@5');
SELECT pg_temp.near(recsys.recall_at_k('{1,2,3,4,5}', '{2,5,9}', 5), 2.0 / 3, 'A recall@5');
SELECT pg_temp.near(recsys.ndcg_at_k('{1,2,3,4,5}', '{2,5,9}', 5),
	(1 / log(2, 3) + 1 / log(2, 6))::float8 / (1 + 1 / log(2, 3) + 1 / log(2, 4))::float8, 'A ndcg@5');
SELECT pg_temp.near(recsys.average_precision_at_k('{1,2,3,4,5}', '{2,5,9}', 5), 0.3, 'A AP@5');
SELECT pg_temp.near(recsys.hit_rate_at_k('{1,2,3,4,5}', '{2,5,9}', 5), 1, 'A hit rate@5');
-- the same lists at k = 3: the top 3 are 1,2,3, one hit at position 2
--   precision = 1/3, recall = 1/3, DCG = 1/log2(3), IDCG as above, AP = (1/2) / 3 = 1/6
SELECT pg_temp.near(recsys.precision_at_k('{1,2,3,4,5}', '{2,5,9}', 3), 1.0 / 3, 'A precision@3');
SELECT pg_temp.near(recsys.recall_at_k('{1,2,3,4,5}', '{2,5,9}', 3), 1.0 / 3, 'A recall@3');
SELECT pg_temp.near(recsys.ndcg_at_k('{1,2,3,4,5}', '{2,5,9}', 3),
	(1 / log(2, 3))::float8 / (1 + 1 / log(2, 3) + 1 / log(2, 4))::float8, 'A ndcg@3');
SELECT pg_temp.near(recsys.average_precision_at_k('{1,2,3,4,5}', '{2,5,9}', 3), 1.0 / 6, 'A AP@3');
-- k = 1: the top 1 is item 1, a miss
SELECT pg_temp.near(recsys.hit_rate_at_k('{1,2,3,4,5}', '{2,5,9}', 1), 0, 'A hit rate@1');
SELECT pg_temp.near(recsys.ndcg_at_k('{1,2,3,4,5}', '{2,5,9}', 1), 0, 'A ndcg@1');

-- ---------------------------------------------------------------- example B: fewer than k
-- recommended 7 only; relevant {7,8}; k = 10.  One hit at position 1.
--   precision = 1/10 (the 9 missing positions are misses)    recall = 1/2
--   DCG = 1, IDCG = 1 + 1/log2(3) (min(10, 2) = 2)            AP = 1 / min(10, 2) = 0.5
SELECT pg_temp.near(recsys.precision_at_k('{7}', '{7,8}', 10), 0.1, 'B precision@10, one recommendation');
SELECT pg_temp.near(recsys.recall_at_k('{7}', '{7,8}', 10), 0.5, 'B recall@10');
SELECT pg_temp.near(recsys.ndcg_at_k('{7}', '{7,8}', 10), 1 / (1 + 1 / log(2, 3))::float8, 'B ndcg@10');
SELECT pg_temp.near(recsys.average_precision_at_k('{7}', '{7,8}', 10), 0.5, 'B AP@10');
SELECT pg_temp.near(recsys.hit_rate_at_k('{7}', '{7,8}', 10), 1, 'B hit rate@10');

-- ---------------------------------------------------------------- example C: duplicates
-- recommended 3,3,3,4; relevant {3,4}; k = 2.  Duplicates count once, at their first
-- position, so the top 2 is 3,4: two hits.  Counting repeats would make it 3,3.
--   precision = 2/2 = 1, recall = 1, DCG = IDCG, AP = (1/1 + 2/2) / 2 = 1
SELECT pg_temp.near(recsys.precision_at_k('{3,3,3,4}', '{3,4}', 2), 1, 'C precision@2 with repeats');
SELECT pg_temp.near(recsys.recall_at_k('{3,3,3,4}', '{3,4}', 2), 1, 'C recall@2 with repeats');
SELECT pg_temp.near(recsys.ndcg_at_k('{3,3,3,4}', '{3,4}', 2), 1, 'C ndcg@2 with repeats');
SELECT pg_temp.near(recsys.average_precision_at_k('{3,3,3,4}', '{3,4}', 2), 1, 'C AP@2 with repeats');
-- a repeated relevant item is one relevant item: recall = 1/1, not 1/3
SELECT pg_temp.near(recsys.recall_at_k('{4}', '{4,4,4}', 1), 1, 'C repeated relevant item counts once');
-- a repeat of a miss does not push the later hit down: 9,9,4 with {4}, k=2 -> top 2 = 9,4
--   precision = 1/2, DCG = 1/log2(3), IDCG = 1, AP = (1/2) / 1
SELECT pg_temp.near(recsys.ndcg_at_k('{9,9,4}', '{4}', 2), (1 / log(2, 3))::float8, 'C repeat of a miss takes no position');
SELECT pg_temp.near(recsys.average_precision_at_k('{9,9,4}', '{4}', 2), 0.5, 'C AP with a repeated miss');

-- ---------------------------------------------------------------- example D: NULLs
-- recommended NULL,5,NULL,6; relevant {6,NULL}; k = 2.  NULLs are ignored and take no
-- position: the top 2 is 5,6, one hit at position 2; relevant is {6}.
--   precision = 1/2, recall = 1/1, DCG = 1/log2(3), IDCG = 1 (min(2,1) = 1), AP = (1/2)/1
SELECT pg_temp.near(recsys.precision_at_k('{NULL,5,NULL,6}', '{6,NULL}', 2), 0.5, 'D precision with NULL elements');
SELECT pg_temp.near(recsys.recall_at_k('{NULL,5,NULL,6}', '{6,NULL}', 2), 1, 'D recall with NULL elements');
SELECT pg_temp.near(recsys.ndcg_at_k('{NULL,5,NULL,6}', '{6,NULL}', 2), (1 / log(2, 3))::float8, 'D ndcg with NULL elements');
SELECT pg_temp.near(recsys.average_precision_at_k('{NULL,5,NULL,6}', '{6,NULL}', 2), 0.5, 'D AP with NULL elements');
SELECT pg_temp.near(recsys.hit_rate_at_k('{NULL,NULL}', '{6}', 2), 0, 'D only NULL recommendations: no hit');

-- ---------------------------------------------------------------- nothing relevant: NULL
SELECT is(recsys.precision_at_k('{1,2}', '{}', 2), NULL, 'empty relevant: precision NULL');
SELECT is(recsys.recall_at_k('{1,2}', '{}', 2), NULL, 'empty relevant: recall NULL');
SELECT is(recsys.ndcg_at_k('{1,2}', '{}', 2), NULL, 'empty relevant: ndcg NULL');
SELECT is(recsys.average_precision_at_k('{1,2}', '{}', 2), NULL, 'empty relevant: AP NULL');
SELECT is(recsys.hit_rate_at_k('{1,2}', '{}', 2), NULL, 'empty relevant: hit rate NULL');
SELECT is(recsys.recall_at_k('{1,2}', '{NULL,NULL}', 2), NULL, 'relevant of only NULLs: NULL');
SELECT is((SELECT avg(recsys.recall_at_k(rec, rel, 2)) FROM (VALUES ('{1}'::bigint[], '{1}'::bigint[]),
			('{1}', '{}')) v(rec, rel)), 1::float8, 'avg() over users leaves users with nothing relevant out');

-- ---------------------------------------------------------------- no recommendations, no hits
SELECT pg_temp.near(recsys.precision_at_k('{}', '{1}', 5), 0, 'empty recommended: precision 0');
SELECT pg_temp.near(recsys.recall_at_k('{}', '{1}', 5), 0, 'empty recommended: recall 0');
SELECT pg_temp.near(recsys.ndcg_at_k('{}', '{1}', 5), 0, 'empty recommended: ndcg 0');
SELECT pg_temp.near(recsys.average_precision_at_k('{}', '{1}', 5), 0, 'empty recommended: AP 0');
SELECT pg_temp.near(recsys.hit_rate_at_k('{}', '{1}', 5), 0, 'empty recommended: hit rate 0');
SELECT pg_temp.near(recsys.ndcg_at_k('{4,5,6}', '{1,2}', 3), 0, 'no hit: ndcg 0');
-- perfect ranking: every relevant item first
SELECT pg_temp.near(recsys.ndcg_at_k('{2,1,7,8}', '{1,2}', 4), 1, 'relevant first: ndcg 1');
SELECT pg_temp.near(recsys.average_precision_at_k('{2,1,7,8}', '{1,2}', 4), 1, 'relevant first: AP 1');
-- more relevant items than k: the ideal is k hits, so a top k of hits scores 1
SELECT pg_temp.near(recsys.ndcg_at_k('{1,2}', '{1,2,3,4,5}', 2), 1, 'k hits out of more relevant: ndcg 1');
SELECT pg_temp.near(recsys.average_precision_at_k('{1,2}', '{1,2,3,4,5}', 2), 1, 'k hits out of more relevant: AP 1');
SELECT pg_temp.near(recsys.recall_at_k('{1,2}', '{1,2,3,4,5}', 2), 0.4, 'k hits out of 5 relevant: recall 2/5');
-- a huge k and extreme ids
SELECT pg_temp.near(recsys.precision_at_k('{-9223372036854775808,9223372036854775807}',
	'{9223372036854775807}', 2147483647), 1.0 / 2147483647, 'extreme ids and k');

-- ---------------------------------------------------------------- NULL arguments and errors
SELECT is(recsys.precision_at_k(NULL, '{1}', 5), NULL, 'NULL recommended: NULL');
SELECT is(recsys.ndcg_at_k('{1}', NULL, 5), NULL, 'NULL relevant: NULL');
SELECT is(recsys.recall_at_k('{1}', '{1}', NULL), NULL, 'NULL k: NULL');
SELECT throws_ok($$SELECT recsys.precision_at_k('{1}', '{1}', 0)$$, '22023', 'argument "k" must be at least 1, got 0', 'precision k 0');
SELECT throws_ok($$SELECT recsys.recall_at_k('{1}', '{1}', -1)$$, '22023', 'argument "k" must be at least 1, got -1', 'recall k -1');
SELECT throws_ok($$SELECT recsys.ndcg_at_k('{1}', '{1}', 0)$$, '22023', 'argument "k" must be at least 1, got 0', 'ndcg k 0');
SELECT throws_ok($$SELECT recsys.average_precision_at_k('{1}', '{1}', 0)$$, '22023', 'argument "k" must be at least 1, got 0', 'AP k 0');
SELECT throws_ok($$SELECT recsys.hit_rate_at_k('{1}', '{1}', 0)$$, '22023', 'argument "k" must be at least 1, got 0', 'hit rate k 0');
SELECT throws_ok($$SELECT recsys.hit_rate_at_k('{}', '{}', 0)$$, '22023', 'argument "k" must be at least 1, got 0', 'k is checked even with nothing relevant');
SELECT throws_ok($$SELECT recsys.precision_at_k('{{1,2},{3,4}}', '{1}', 2)$$, '22023',
	'argument "recommended" must be a one-dimensional array, got 2 dimensions', 'two-dimensional recommended');
SELECT throws_ok($$SELECT recsys.recall_at_k('{1}', '{{1}}', 2)$$, '22023',
	'argument "relevant" must be a one-dimensional array, got 2 dimensions', 'two-dimensional relevant');

-- ---------------------------------------------------------------- brute force on random lists
-- 400 random cases (ids 0..20, some NULLs and repeats, k 1..12) against the definitions
-- written out in SQL.
SELECT setseed(0.25);
CREATE TEMP TABLE cases AS
	SELECT c, 1 + c % 12 AS k,
		   ARRAY(SELECT CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 21)::bigint END
				 FROM generate_series(1, c % 17) WHERE c > 0) AS rec,
		   ARRAY(SELECT floor(random() * 21)::bigint FROM generate_series(1, c % 7) WHERE c > 0) AS rel
	FROM generate_series(1, 400) c;
CREATE TEMP TABLE reference AS
	WITH firsts AS (
		SELECT c, item, min(ord) AS first_at
		FROM cases, unnest(rec) WITH ORDINALITY u(item, ord)
		WHERE item IS NOT NULL GROUP BY c, item),
	ranked AS (
		SELECT f.c, f.item, row_number() OVER (PARTITION BY f.c ORDER BY f.first_at) AS pos
		FROM firsts f),
	top AS (
		SELECT r.c, r.pos, (r.item = ANY (cs.rel))::int AS hit
		FROM ranked r JOIN cases cs USING (c) WHERE r.pos <= cs.k),
	scored AS (
		SELECT c, pos, hit, sum(hit) OVER (PARTITION BY c ORDER BY pos) AS hits_so_far FROM top)
	SELECT cs.c, cs.k, n.rel_n,
		   coalesce((SELECT sum(hit) FROM scored s WHERE s.c = cs.c), 0)::float8 AS hits,
		   coalesce((SELECT sum(hit / (ln(pos + 1) / ln(2))) FROM scored s WHERE s.c = cs.c), 0)::float8 AS dcg,
		   (SELECT sum(1 / (ln(j + 1) / ln(2))) FROM generate_series(1, least(cs.k, n.rel_n)) j)::float8 AS idcg,
		   coalesce((SELECT sum(hit * hits_so_far::float8 / pos) FROM scored s WHERE s.c = cs.c), 0)::float8 AS ap_sum
	FROM cases cs, LATERAL (SELECT count(DISTINCT x) AS rel_n FROM unnest(cs.rel) x) n;
SELECT cmp_ok((SELECT count(*) FROM reference WHERE rel_n = 0), '>', 10::bigint, 'the random cases include empty relevant sets');
SELECT is((SELECT count(*) FROM cases JOIN reference USING (c)
		   WHERE (rel_n = 0 AND recsys.precision_at_k(rec, rel, cases.k) IS NOT NULL)
			  OR (rel_n > 0 AND abs(recsys.precision_at_k(rec, rel, cases.k) - hits / cases.k) > 1e-12)),
	0::bigint, 'precision@k equals the SQL definition on 400 random cases');
SELECT is((SELECT count(*) FROM cases JOIN reference USING (c)
		   WHERE (rel_n = 0 AND recsys.recall_at_k(rec, rel, cases.k) IS NOT NULL)
			  OR (rel_n > 0 AND abs(recsys.recall_at_k(rec, rel, cases.k) - hits / rel_n) > 1e-12)),
	0::bigint, 'recall@k equals the SQL definition');
SELECT is((SELECT count(*) FROM cases JOIN reference USING (c)
		   WHERE (rel_n = 0 AND recsys.ndcg_at_k(rec, rel, cases.k) IS NOT NULL)
			  OR (rel_n > 0 AND abs(recsys.ndcg_at_k(rec, rel, cases.k) - dcg / idcg) > 1e-12)),
	0::bigint, 'ndcg@k equals the SQL definition');
SELECT is((SELECT count(*) FROM cases JOIN reference USING (c)
		   WHERE (rel_n = 0 AND recsys.average_precision_at_k(rec, rel, cases.k) IS NOT NULL)
			  OR (rel_n > 0 AND abs(recsys.average_precision_at_k(rec, rel, cases.k) - ap_sum / least(cases.k, rel_n)) > 1e-12)),
	0::bigint, 'AP@k equals the SQL definition');
SELECT is((SELECT count(*) FROM cases JOIN reference USING (c)
		   WHERE (rel_n = 0 AND recsys.hit_rate_at_k(rec, rel, cases.k) IS NOT NULL)
			  OR (rel_n > 0 AND recsys.hit_rate_at_k(rec, rel, cases.k) <> (hits > 0)::int)),
	0::bigint, 'hit rate@k equals the SQL definition');
SELECT ok((SELECT bool_and(recsys.ndcg_at_k(rec, rel, k) BETWEEN 0 AND 1
						   AND recsys.average_precision_at_k(rec, rel, k) BETWEEN 0 AND 1)
		   FROM cases WHERE cardinality(rel) > 0), 'ndcg and AP lie in [0, 1]');

-- ---------------------------------------------------------------- rmse and mae
-- predicted 1,2,3 against actual 2,2,5: errors -1, 0, -2
--   rmse = sqrt((1 + 0 + 4) / 3) = sqrt(5/3)      mae = (1 + 0 + 2) / 3 = 1
CREATE TEMP TABLE pa(p float8, a float8);
INSERT INTO pa VALUES (1, 2), (2, 2), (3, 5);
SELECT pg_temp.near((SELECT recsys.rmse(p, a) FROM pa), sqrt(5.0 / 3), 'rmse of three pairs');
SELECT pg_temp.near((SELECT recsys.mae(p, a) FROM pa), 1, 'mae of three pairs');
INSERT INTO pa VALUES (NULL, 4), (4, NULL), (NULL, NULL);
SELECT pg_temp.near((SELECT recsys.rmse(p, a) FROM pa), sqrt(5.0 / 3), 'rmse skips pairs with a NULL');
SELECT pg_temp.near((SELECT recsys.mae(p, a) FROM pa), 1, 'mae skips pairs with a NULL');
SELECT is((SELECT recsys.rmse(p, a) FROM pa WHERE false), NULL, 'rmse of no rows is NULL');
SELECT is((SELECT recsys.mae(p, a) FROM pa WHERE p IS NULL OR a IS NULL), NULL, 'mae of only NULL pairs is NULL');
SELECT is((SELECT recsys.rmse(x, x) FROM generate_series(1, 10) x), 0::float8, 'perfect predictions: rmse 0');
SELECT is((SELECT recsys.mae(p, a) FROM (VALUES (1::float8, 'Infinity'::float8)) v(p, a)), 'Infinity'::float8, 'an infinite error gives Infinity');
SELECT ok((SELECT recsys.rmse(p, a) = 'NaN'::float8 FROM (VALUES (1::float8, 'NaN'::float8), (1, 2)) v(p, a)), 'a NaN propagates');
-- compensated sum: one error of 1e16 then a thousand errors of 1.  A plain double sum
-- loses every 1 (1e16 + 1 rounds back to 1e16); the mean must be (1e16 + 1000) / 1001.
SELECT is((SELECT recsys.mae(p, 0) FROM (SELECT 1e16::float8 AS p UNION ALL SELECT 1 FROM generate_series(1, 1000)) s),
	((1e16 + 1000) / 1001)::float8, 'mae sums without losing small errors');
-- predict() returns real: real arguments are accepted
SELECT pg_temp.near((SELECT recsys.rmse(p::real, a::real) FROM pa), sqrt(5.0 / 3), 'rmse over real columns');
SELECT throws_ok($$SELECT recsys.rmse_accum('{1,2}', 1, 2)$$, '22023',
	'error aggregate state must be a float8 array of 3 elements without NULLs', 'a malformed state is rejected');

-- parallel aggregation gives the serial answer
CREATE TABLE metrics_par AS
	SELECT rating AS a, rating + (recsys.fold(user_id, item_id, 7) - 3) * 0.1 AS p
	FROM recsys.synthetic_ratings(2000, 500, 100000);
ANALYZE metrics_par;
CREATE TEMP TABLE serial AS SELECT recsys.rmse(p, a) AS rmse, recsys.mae(p, a) AS mae,
	sqrt(avg((p - a) ^ 2)) AS rmse_sql, avg(abs(p - a)) AS mae_sql FROM metrics_par;
SELECT ok((SELECT abs(rmse - rmse_sql) < 1e-12 AND abs(mae - mae_sql) < 1e-12 FROM serial), 'rmse and mae equal their SQL definitions');
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE FUNCTION pg_temp.plan_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP result := result || line || E'\n'; END LOOP;
	RETURN result;
END $$;
SELECT matches(pg_temp.plan_text('SELECT recsys.rmse(p, a), recsys.mae(p, a) FROM metrics_par'),
	'Partial Aggregate', 'the error aggregates run as partial aggregates under Gather');
SELECT ok((SELECT abs(recsys.rmse(p, a) - (SELECT rmse FROM serial)) < 1e-12
			  AND abs(recsys.mae(p, a) - (SELECT mae FROM serial)) < 1e-12 FROM metrics_par),
	'parallel rmse and mae equal the serial ones');

SELECT * FROM finish();
ROLLBACK;
