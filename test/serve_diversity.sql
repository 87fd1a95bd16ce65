-- Diversity (maximal marginal relevance) and the fallback mark.  On planted
-- clusters (test/neighbours.sql's: 20 taste clusters of users and items) the
-- share of same-cluster pairs in a list falls as diversity rises, for every
-- model kind; the first item is always the top-scored one; diversity 0 is the
-- plain ranking; every item comes from the pool of max(10 n, 100) best with its
-- own score; recommend_all agrees with recommend; out-of-range values raise
-- 22023; item kNN and EASE lists equal a PL/pgSQL greedy MMR over the stored
-- neighbour rows that similar_items returns.  Popularity lists (unknown, NULL or history-less users) say so in
-- their fallback column.
BEGIN;
SELECT plan(25);

CREATE TEMP TABLE clus AS
	SELECT DISTINCT s.user_id::bigint, s.item_id::bigint, 1::real AS value
	FROM (SELECT g AS user_id,
				 CASE WHEN abs(hashint4(g * 31 + k)) % 100 < 85
					  THEN (g % 20) * 30 + abs(hashint4(g * 7919 + k)) % 30 + 1
					  ELSE abs(hashint4(g * 104729 + k)) % 600 + 1 END AS item_id
		  FROM generate_series(1, 2000) AS g, generate_series(1, 15) AS k) AS s;
CREATE TEMP TABLE models AS
	SELECT 'als'::text AS kind, (SELECT recsys.train_als(user_id, item_id,
									 CASE WHEN (item_id - 1) / 30 = user_id % 20 THEN 5 ELSE 1 END::real,
									 '{"factors": 20, "iterations": 8}') FROM clus) AS m
	UNION ALL SELECT 'ials', (SELECT recsys.train_ials(user_id, item_id, value,
									 '{"factors": 20, "iterations": 8}') FROM clus)
	UNION ALL SELECT 'item', (SELECT recsys.train_knn(user_id, item_id, value, '{"neighbours": 30}') FROM clus)
	UNION ALL SELECT 'user', (SELECT recsys.train_knn(user_id, item_id, value,
									 '{"kind": "user", "neighbours": 50}') FROM clus)
	UNION ALL SELECT 'ease', (SELECT recsys.train_ease(user_id, item_id, value,
									 '{"regularization": 50}') FROM clus);

-- 40 users' lists of 10 at five diversities
CREATE TEMP TABLE lists AS
	SELECT mo.kind, u AS user_id, d AS diversity, rec.*
	FROM models mo, generate_series(1, 40) u, unnest(ARRAY[0, 0.25, 0.5, 0.75, 1]::real[]) d,
		 recsys.recommend(mo.m, u::bigint, 10, diversity => d) rec;
-- intra-list similarity: the share of a list's pairs within one planted cluster
CREATE TEMP TABLE ils AS
	SELECT kind, diversity, avg(same) AS same_cluster
	FROM (SELECT a.kind, a.user_id, a.diversity,
				 avg(((a.item_id - 1) / 30 = (b.item_id - 1) / 30)::int) AS same
		  FROM lists a JOIN lists b USING (kind, user_id, diversity)
		  WHERE a.item_id < b.item_id GROUP BY 1, 2, 3) x
	GROUP BY 1, 2;
SELECT diag('same-cluster share of list pairs by diversity 0, .25, .5, .75, 1: ' ||
			string_agg(kind || ' ' || s, '; ' ORDER BY kind))
  FROM (SELECT kind, string_agg(round(same_cluster, 2)::text, ' ' ORDER BY diversity) AS s
		FROM ils GROUP BY kind) x;
SELECT ok((SELECT bool_and(same_cluster <= prev + 1e-9) AND min(same_cluster) FILTER (WHERE diversity = 1)
				  < max(same_cluster) FILTER (WHERE diversity = 0) - 0.2
		   FROM (SELECT *, lag(same_cluster, 1, 2) OVER (ORDER BY diversity) AS prev
				 FROM ils WHERE kind = k) x),
		  k || ': intra-list similarity falls monotonically as diversity rises')
  FROM unnest(ARRAY['als', 'ials', 'item', 'user', 'ease']) k ORDER BY k;

-- the first item is the top-scored one at every diversity
SELECT is((SELECT count(*) FROM lists a JOIN lists b USING (kind, user_id)
		   WHERE a.rank = 1 AND b.rank = 1 AND a.diversity = 0 AND b.item_id <> a.item_id),
		  0::bigint, 'the first item is always the top-scored one');
-- every list has n rows, ranked 1..n, no item twice
SELECT is((SELECT count(*) FROM (SELECT kind, user_id, diversity FROM lists GROUP BY 1, 2, 3
								  HAVING count(*) <> 10 OR count(DISTINCT item_id) <> 10
									  OR max(rank) <> 10) x),
		  0::bigint, 'every diverse list has n distinct items ranked 1..n');
-- items come from the pool (the best 100 for n = 10) with their own scores
SELECT is((SELECT count(*) FROM lists l JOIN models mo USING (kind)
		   LEFT JOIN LATERAL recsys.recommend(mo.m, l.user_id, 100) p ON p.item_id = l.item_id
		   WHERE p.item_id IS NULL OR p.score <> l.score),
		  0::bigint, 'diverse items come from the top max(10 n, 100) with the model''s score');
-- diversity 0 is today's ranking: the plain call, and a prefix of a longer list
SELECT is((SELECT count(*) FROM lists l JOIN models mo USING (kind)
		   LEFT JOIN LATERAL recsys.recommend(mo.m, l.user_id, 10) p ON p.rank = l.rank
		   WHERE l.diversity = 0 AND (p.item_id IS DISTINCT FROM l.item_id OR p.score <> l.score)),
		  0::bigint, 'diversity 0 equals the call without it');
SELECT is((SELECT count(*) FROM lists l JOIN models mo USING (kind)
		   LEFT JOIN LATERAL recsys.recommend(mo.m, l.user_id, 30) p ON p.rank = l.rank
		   WHERE l.diversity = 0 AND p.item_id IS DISTINCT FROM l.item_id),
		  0::bigint, 'diversity 0 is the best-first ranking (a prefix of a longer list)');

-- item-item models: a textbook greedy MMR in PL/pgSQL (real arithmetic like
-- the C code) over recommend's pool of 100, with sim(c, p) = w(p -> c) / the
-- largest |w| of p's stored row (similar_items lists the row), gives the list
CREATE FUNCTION pg_temp.mmr_reference(m recsys.model, u bigint, n int, d real)
RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	sc real[];
	rel real[];
	maxsim real[];
	picked bool[];
	lo real;
	hi real;
	best int;
	best_value real;
	v real;
	row_ids bigint[];
	row_w real[];
	row_max real;
	at int;
	out bigint[] := '{}';
BEGIN
	SELECT array_agg(item_id ORDER BY rank), array_agg(score ORDER BY rank)
	  INTO ids, sc FROM recsys.recommend(m, u, 100);
	SELECT min(x), max(x) INTO lo, hi FROM unnest(sc) x;
	FOR c IN 1 .. cardinality(ids) LOOP
		rel[c] := CASE WHEN hi > lo THEN (sc[c] - lo) / (hi - lo) ELSE 1::real END;
		maxsim[c] := 0;
		picked[c] := false;
	END LOOP;
	FOR step IN 1 .. least(n, cardinality(ids)) LOOP
		best := NULL;
		FOR c IN 1 .. cardinality(ids) LOOP
			CONTINUE WHEN picked[c];
			v := (1::real - d) * rel[c] - d * maxsim[c];
			IF best IS NULL OR v > best_value THEN
				best := c;
				best_value := v;
			END IF;
		END LOOP;
		picked[best] := true;
		out := out || ids[best];
		SELECT array_agg(id), array_agg(score), max(abs(score))
		  INTO row_ids, row_w, row_max FROM recsys.similar_items(m, ids[best], 100000);
		FOR c IN 1 .. cardinality(ids) LOOP
			CONTINUE WHEN picked[c];
			at := array_position(row_ids, ids[c]);
			v := CASE WHEN at IS NULL OR row_max = 0 THEN 0::real ELSE row_w[at] / row_max END;
			IF step = 1 OR v > maxsim[c] THEN
				maxsim[c] := v;
			END IF;
		END LOOP;
	END LOOP;
	RETURN out;
END
$$;
SELECT is((SELECT count(*) FROM models mo, generate_series(1, 12) u, unnest(ARRAY[0.3, 0.7]::real[]) d
		   WHERE mo.kind = k
			 AND pg_temp.mmr_reference(mo.m, u, 10, d) IS DISTINCT FROM
				 ARRAY(SELECT item_id FROM recsys.recommend(mo.m, u, 10, diversity => d) ORDER BY rank)),
		  0::bigint, k || ': diverse lists equal greedy MMR over the stored neighbour rows')
  FROM unnest(ARRAY['ease', 'item']) k ORDER BY k;

-- every path takes diversity: recommend_all agrees with recommend, by_items and
-- by_vector re-rank their own pools
SELECT is((SELECT count(*)
		   FROM models mo
		   CROSS JOIN LATERAL recsys.recommend_all(mo.m, 10, ARRAY(SELECT generate_series(1, 40)::bigint),
												   diversity => 0.5) a
		   LEFT JOIN lists l ON l.kind = mo.kind AND l.user_id = a.user_id AND l.rank = a.rank
							AND l.diversity = 0.5
		   WHERE l.item_id IS DISTINCT FROM a.item_id OR abs(l.score - a.score) > 1e-4),
		  0::bigint, 'recommend_all with diversity gives recommend''s lists (scores to SGEMM rounding)');
SELECT is((SELECT count(*) FROM models mo,
			recsys.recommend_by_items(mo.m, ARRAY[1, 2, 3, 31, 32], NULL, 10, diversity => 1) r),
		  50::bigint, 'recommend_by_items takes diversity');
SELECT ok((SELECT count(DISTINCT (item_id - 1) / 30) FROM models mo,
			recsys.recommend_by_vector(mo.m, recsys.user_vector(mo.m, 1), 10, diversity => 1) r
		   WHERE kind = 'als')
		  > (SELECT count(DISTINCT (item_id - 1) / 30) FROM models mo,
			recsys.recommend_by_vector(mo.m, recsys.user_vector(mo.m, 1), 10) r
		   WHERE kind = 'als'),
		  'recommend_by_vector with diversity spans more clusters');
SELECT throws_ok($$SELECT * FROM recsys.recommend((SELECT m FROM models WHERE kind = 'als'), 1, 10, diversity => 1.5)$$,
				 '22023', 'diversity must be between 0 and 1, got 1.5', 'diversity above 1');
SELECT throws_ok($$SELECT * FROM recsys.recommend_all((SELECT m FROM models WHERE kind = 'item'), 10, diversity => -0.1)$$,
				 '22023', NULL, 'diversity below 0');
SELECT throws_ok($$SELECT * FROM recsys.recommend_by_vector((SELECT m FROM models WHERE kind = 'als'), recsys.user_vector((SELECT m FROM models WHERE kind = 'als'), 1), 10, diversity => 'NaN')$$,
				 '22023', NULL, 'diversity NaN');

-- fallback marks the popularity lists
CREATE TEMP TABLE popular AS
	SELECT item_id, count(*) AS cnt FROM clus GROUP BY item_id;
SELECT is((SELECT count(*) FROM models mo, recsys.recommend(mo.m, 1, 5) r WHERE r.fallback),
		  0::bigint, 'a known user''s list is not a fallback');
SELECT results_eq(
	$$SELECT mo.kind, r.item_id, r.rank, r.fallback FROM models mo, recsys.recommend(mo.m, NULL, 5) r ORDER BY 1, 3$$,
	$$SELECT mo.kind, p.item_id, p.rank::int, true FROM models mo,
		(SELECT item_id, row_number() OVER (ORDER BY cnt DESC, item_id) AS rank FROM popular) p
	  WHERE p.rank <= 5 ORDER BY 1, 3$$,
	'a NULL user id gets the popularity list, marked as a fallback (every kind)');
SELECT is((SELECT count(*) FROM models mo, recsys.recommend(mo.m, 99999, 5) r WHERE r.fallback),
		  25::bigint, 'an unknown user''s list is a fallback');
SELECT is((SELECT count(*) FROM models mo, recsys.recommend_by_items(mo.m, ARRAY[99999]::bigint[], NULL, 5) r
		   WHERE r.fallback), 25::bigint, 'a history the model does not know gets a fallback list');
SELECT is((SELECT count(*) FROM models mo, recsys.recommend_by_items(mo.m, ARRAY[1, 2]::bigint[], NULL, 5) r
		   WHERE r.fallback), 0::bigint, 'a known history''s list is not a fallback');
SELECT is((SELECT array_agg(DISTINCT (user_id, fallback)::text ORDER BY (user_id, fallback)::text)
		   FROM models mo, recsys.recommend_all(mo.m, 3, ARRAY[1, 99999]) a),
		  ARRAY['(1,f)', '(99999,t)'], 'recommend_all marks the unknown users'' lists');
SELECT is((SELECT count(*) FROM models mo, recsys.recommend(mo.m, NULL, 5, diversity => 0.5) r
		   WHERE r.fallback AND r.rank = 1 AND r.item_id = (SELECT item_id FROM popular ORDER BY cnt DESC, item_id LIMIT 1)),
		  5::bigint, 'a diverse popularity list starts with the most popular item');

SELECT * FROM finish();
ROLLBACK;
