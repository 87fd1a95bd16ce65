-- The serving kernels through SQL on vectors long enough for their vector paths
-- (24 and 128 dimensions; the other suites' models mostly have fewer than 16
-- factors): recommend's fused dot-and-select scan against brute force in double
-- precision, recommend_all cut into several rounds that are handed over while
-- the next is scored (every user, in user order, equal to recommend; the same on
-- one thread), a cancel in the middle of it, and the vec distances against
-- double sums over real[].
BEGIN;
SELECT plan(9);

CREATE TEMP TABLE r AS
	SELECT * FROM recsys.synthetic_ratings(6000, 300, 60000, rank => 6, seed => 5);
CREATE TEMP TABLE mo AS
	SELECT recsys.train_als(user_id, item_id, rating, '{"factors": 24, "iterations": 3}') AS m FROM r;
CREATE TEMP TABLE uf AS SELECT * FROM recsys.user_factors((SELECT m FROM mo));
CREATE TEMP TABLE itf AS SELECT * FROM recsys.item_factors((SELECT m FROM mo));
CREATE TEMP TABLE seen AS SELECT DISTINCT user_id, item_id FROM r;

-- brute force: mu + b_u + b_i + x.y in double for every unseen item of a user
CREATE FUNCTION pg_temp.brute(u bigint, n int) RETURNS TABLE (item_id bigint, score float8)
LANGUAGE sql AS $$
	SELECT i.id, (recsys.model_info((SELECT m FROM mo)) ->> 'global_mean')::float8
				 + coalesce(x.bias, 0) + coalesce(i.bias, 0)
				 + (SELECT sum(a::float8 * b) FROM unnest(x.factors::real[], i.factors::real[]) t(a, b))
	FROM uf x, itf i
	WHERE x.id = u AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.user_id = u AND s.item_id = i.id)
	ORDER BY 2 DESC, 1 LIMIT n
$$;

-- every returned score is the brute-force score of that item, and the list
-- holds the best scores (an item may trade places only with one within rounding)
SELECT is((SELECT count(*) FROM generate_series(1, 6000, 401) u,
				LATERAL (SELECT array_agg(s.score ORDER BY s.rn) AS got,
								array_agg(s.item_id ORDER BY s.rn) AS items
						 FROM recsys.recommend((SELECT m FROM mo), u, 10) WITH ORDINALITY AS s(item_id, score, rn)) g,
				LATERAL (SELECT array_agg(score ORDER BY score DESC) AS want FROM pg_temp.brute(u, 10)) w
			WHERE EXISTS (SELECT 1 FROM generate_subscripts(g.got, 1) j
						  WHERE abs(g.got[j] - w.want[j]) > 1e-4)
			   OR EXISTS (SELECT 1 FROM unnest(g.items) it
						  WHERE abs((SELECT b.score FROM pg_temp.brute(u, 300) b WHERE b.item_id = it)
									- g.got[array_position(g.items, it)]) > 1e-4)),
		  0::bigint, 'recommend (24 factors) ranks the unseen items as brute force in double does');

-- recommend_all: several rounds here (6000 users), each handed over while the next is scored
CREATE TEMP TABLE batch AS
	SELECT b.*, row_number() OVER () AS pos FROM recsys.recommend_all((SELECT m FROM mo), 5) b;
SELECT is((SELECT count(*) FROM batch), 6000 * 5::bigint, 'recommend_all: 5 rows for each of the 6000 users');
SELECT is((SELECT count(*) FROM (SELECT pos, user_id, rank, lag(user_id) OVER (ORDER BY pos) AS pu,
										lag(rank) OVER (ORDER BY pos) AS pr FROM batch) t
			WHERE pu IS NOT NULL AND NOT ((user_id = pu AND rank = pr + 1) OR (user_id > pu AND rank = 1))),
		  0::bigint, 'recommend_all emits users in id order, ranks 1 .. n, across its rounds');
SELECT is((SELECT count(*) FROM batch b
			LEFT JOIN LATERAL recsys.recommend((SELECT m FROM mo), b.user_id, 5) WITH ORDINALITY AS s(item_id, score, rn)
				ON s.rn = b.rank
			WHERE b.user_id % 10 = 0
			  AND (s.item_id IS NULL OR abs(b.score - s.score) > 1e-4
				   OR (b.item_id <> s.item_id AND abs(b.score - s.score) > 1e-5))),
		  0::bigint, 'recommend_all equals per-user recommend (every tenth user, 24 factors)');
SET LOCAL recsys.threads = 1;
SELECT results_eq(
	$$SELECT user_id, rank, item_id, score FROM recsys.recommend_all((SELECT m FROM mo), 5)$$,
	$$SELECT user_id, rank, item_id, score FROM batch ORDER BY pos$$,
	'recommend_all gives the same rows, in the same order, on one thread');
RESET recsys.threads;

-- a cancel while rounds are scored and handed over: the query stops promptly
CREATE TEMP TABLE cancel_run (seconds float8, state text);
CREATE FUNCTION pg_temp.timed(q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	INSERT INTO cancel_run VALUES (extract(epoch FROM clock_timestamp() - t0), 'finished');
EXCEPTION WHEN query_canceled THEN
	INSERT INTO cancel_run VALUES (extract(epoch FROM clock_timestamp() - t0), SQLSTATE);
END $$;
SET LOCAL statement_timeout = '150ms';
SELECT pg_temp.timed($$SELECT count(*) FROM recsys.recommend_all((SELECT m FROM mo), 300)$$);
SET LOCAL statement_timeout = 0;
SELECT is((SELECT state || ' within ' || CASE WHEN seconds < 1.5 THEN 'a second' ELSE seconds::text END
		   FROM cancel_run), '57014 within a second',
		  'statement_timeout cancels recommend_all between hand-overs, promptly');
SELECT is((SELECT count(*) FROM recsys.recommend_all((SELECT m FROM mo), 2, ARRAY[1, 2, 3]::bigint[])),
		  6::bigint, 'the backend serves again after the cancel');

-- vec distances on 128 dimensions (the vector paths) against double sums
CREATE TEMP TABLE v AS
	SELECT g, array_agg((sin(g * 7 + k) * (1 + k % 5))::real ORDER BY k) AS a,
			  array_agg((cos(g * 3 + k * 11) * (1 + k % 3))::real ORDER BY k) AS b
	FROM generate_series(1, 200) g, generate_series(1, 128 + (g % 3)) k GROUP BY g;
SELECT is((SELECT count(*) FROM v, LATERAL (
			SELECT sum(x::float8 * y) AS d, sum(x::float8 * x) AS na, sum(y::float8 * y) AS nb,
				   sum((x::float8 - y) ^ 2) AS l
			FROM unnest(a, b) t(x, y)) s
			WHERE abs((a::recsys.vec OPERATOR(recsys.<#>) b::recsys.vec) + s.d) > 1e-4 * greatest(1, abs(s.d))
			   OR abs((a::recsys.vec OPERATOR(recsys.<->) b::recsys.vec) - sqrt(s.l)) > 1e-4 * greatest(1, sqrt(s.l))
			   OR abs((a::recsys.vec OPERATOR(recsys.<=>) b::recsys.vec) - (1 - s.d / sqrt(s.na * s.nb))) > 1e-5),
		  0::bigint, '<#>, <-> and <=> on 128 .. 130 dimensions agree with double sums');
SELECT is((SELECT count(*) FROM v
			WHERE recsys.cosine_similarity(a::recsys.vec, a::recsys.vec) <> 1
			   OR (a::recsys.vec OPERATOR(recsys.<=>) b::recsys.vec) < 0
			   OR (a::recsys.vec OPERATOR(recsys.<=>) b::recsys.vec) > 2),
		  0::bigint, 'cosine of a vector with itself is 1 and distances stay in [0, 2]');

SELECT * FROM finish();
ROLLBACK;
