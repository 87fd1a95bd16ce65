-- The serving kernels through SQL on vectors long enough for their vector paths
-- (24 and 128 dimensions; the other suites' models mostly have fewer than 16
-- factors): recommend's fused dot-and-select scan against brute force in double
-- precision, recommend_all cut into several rounds that are handed over while
-- the next is scored (every user, in user order, equal to recommend bit for bit;
-- the same on one thread), its tile skipping on a crafted model, a cancel in the
-- middle of it, and the vec distances against double sums over real[].
BEGIN;
SELECT plan(17);

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
			  AND (s.item_id IS DISTINCT FROM b.item_id OR s.score IS DISTINCT FROM b.score)),
		  0::bigint, 'recommend_all equals per-user recommend, items and scores exactly (every tenth user, 24 factors)');
SET LOCAL recsys.threads = 1;
SELECT results_eq(
	$$SELECT user_id, rank, item_id, score FROM recsys.recommend_all((SELECT m FROM mo), 5)$$,
	$$SELECT user_id, rank, item_id, score FROM batch ORDER BY pos$$,
	'recommend_all gives the same rows, in the same order, on one thread');
RESET recsys.threads;

-- recommend_all skips the tiles of items that cannot reach a user's n-th best:
-- a model built so that skipping on a wrong bound would show.  3,000 items (three
-- tiles) whose norms fall with the id; most users have huge norms, so the order
-- by bound puts item 2990 (a tiny vector, bias 50) last, yet it is the best item
-- of every user whose id ends in 1 (normal norms); items 100 .. 140 are copies of
-- item 1 (vector and bias): for the users who rank it first, a tie wider than
-- recommend_all's pool (the exact scan then takes over), in id order.
CREATE TEMP TABLE craft AS
	SELECT recsys.factor_model('{"factors": 16}',
		(SELECT array_agg(u ORDER BY u) FROM generate_series(1, 400) u),
		(SELECT array_agg(i ORDER BY i) FROM generate_series(1, 3000) i),
		(SELECT array_agg(f ORDER BY u) FROM (
			SELECT u, (SELECT array_agg((sin(u * 13 + d * 7) * CASE WHEN u % 10 = 1 THEN 1 ELSE 1000 END)::real
							ORDER BY d) FROM generate_series(1, 16) d)::recsys.vec AS f
			FROM generate_series(1, 400) u) x),
		(SELECT array_agg(f ORDER BY i) FROM (
			SELECT i, (SELECT array_agg((sin(j * 3 + d * 5) / (1 + j / 100.0)
										 * CASE WHEN i = 2990 THEN 1e-3 ELSE 1 END)::real
							ORDER BY d) FROM generate_series(1, 16) d)::recsys.vec AS f
			FROM generate_series(1, 3000) i,
				 LATERAL (SELECT CASE WHEN i BETWEEN 100 AND 140 THEN 1 ELSE i END AS j) c) x),
		(SELECT array_agg((cos(u)::real) ORDER BY u) FROM generate_series(1, 400) u),
		(SELECT array_agg(CASE WHEN i = 2990 THEN 50 WHEN i BETWEEN 100 AND 140 THEN cos(11)
							  ELSE cos(i * 11) END::real ORDER BY i) FROM generate_series(1, 3000) i),
		global_mean => 3) AS m;
CREATE TEMP TABLE craft_all AS SELECT * FROM recsys.recommend_all((SELECT m FROM craft), 10);
SELECT is((SELECT count(*) FROM craft_all), 4000::bigint, 'recommend_all: 10 rows for each of 400 crafted users');
SELECT is((SELECT count(*) FROM generate_series(1, 400) u,
				LATERAL (SELECT array_agg(item_id ORDER BY rank) AS i, array_agg(score ORDER BY rank) AS s
						 FROM craft_all WHERE user_id = u) a,
				LATERAL (SELECT array_agg(item_id ORDER BY rank) AS i, array_agg(score ORDER BY rank) AS s
						 FROM recsys.recommend((SELECT m FROM craft), u, 10)) r
			WHERE a.i IS DISTINCT FROM r.i OR a.s IS DISTINCT FROM r.s),
		  0::bigint, 'crafted model: recommend_all equals recommend for every user, items, order and scores exactly');
-- a call for fewer than 64 users ranks each by the single-user scan: the same rows
SELECT is((SELECT count(*) FROM (
			(SELECT user_id, rank, item_id, score FROM recsys.recommend_all((SELECT m FROM craft), 10,
					(SELECT array_agg(u) FROM generate_series(1, 400, 11) u))
			 EXCEPT SELECT user_id, rank, item_id, score FROM craft_all WHERE user_id % 11 = 1)
			UNION ALL
			(SELECT user_id, rank, item_id, score FROM craft_all WHERE user_id % 11 = 1
			 EXCEPT SELECT user_id, rank, item_id, score FROM recsys.recommend_all((SELECT m FROM craft), 10,
					(SELECT array_agg(u) FROM generate_series(1, 400, 11) u)))) d),
		  0::bigint, 'recommend_all for 37 users (one scan each) equals the tiled run for all users, scores exactly');
SELECT is((SELECT count(*) FROM craft_all WHERE rank = 1 AND (item_id = 2990) <> (user_id % 10 = 1)),
		  0::bigint, 'the item sorted last is first for exactly the users of normal norm');
SELECT is((SELECT count(*) || ' users, ' || count(*) FILTER (WHERE items <> ARRAY[1, 100, 101, 102, 103, 104, 105, 106, 107, 108]::bigint[]) || ' otherwise'
		   FROM (SELECT array_agg(item_id ORDER BY rank) AS items FROM craft_all
				 GROUP BY user_id HAVING min(item_id) FILTER (WHERE rank = 1) = 1) t),
		  (SELECT count(DISTINCT user_id) || ' users, 0 otherwise' FROM craft_all WHERE rank = 1 AND item_id = 1),
		  'users who rank item 1 first get its copies next, in id order');
SELECT ok((SELECT count(*) FROM craft_all WHERE rank = 1 AND item_id = 1) > 0,
		  'some users rank item 1 first');
SELECT is((SELECT count(*) FROM (
			SELECT user_id, rank, item_id, score FROM recsys.recommend_all((SELECT m FROM craft), 3000, ARRAY[1, 2, 11]::bigint[])
			EXCEPT SELECT u, r.rank, r.item_id, r.score FROM unnest(ARRAY[1, 2, 11]::bigint[]) u,
				LATERAL recsys.recommend((SELECT m FROM craft), u, 3000) r) d),
		  0::bigint, 'a list of the whole catalogue: recommend_all equals recommend exactly');
-- with candidates and an exclude list: the lists a double-precision brute force gives
SELECT is((SELECT count(*) FROM generate_series(1, 400, 7) u,
				LATERAL (SELECT array_agg(item_id ORDER BY rank) AS i FROM recsys.recommend_all(
							(SELECT m FROM craft), 5, ARRAY[u]::bigint[],
							candidates => (SELECT array_agg(c) FROM generate_series(2, 3000, 2) c),
							exclude => ARRAY[100, 102, 2990]::bigint[])) a,
				LATERAL (SELECT array_agg(id ORDER BY sc DESC, id) AS i FROM (
							SELECT i.id, 3 + x.bias + i.bias
									 + (SELECT sum(p::float8 * q) FROM unnest(x.factors::real[], i.factors::real[]) t(p, q)) AS sc
							FROM recsys.user_factors((SELECT m FROM craft)) x,
								 recsys.item_factors((SELECT m FROM craft)) i
							WHERE x.id = u AND i.id % 2 = 0 AND i.id NOT IN (100, 102, 2990)
							ORDER BY 2 DESC, 1 LIMIT 5) b) w
			WHERE a.i IS DISTINCT FROM w.i),
		  0::bigint, 'crafted model with candidates and exclude: the brute-force lists');

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
