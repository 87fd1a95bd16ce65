-- The distance functions read a stored vec in place.  A row keeps a vec of up to
-- 30 dimensions with a 1-byte header, so its floats sit at any byte offset; the
-- rows below put vectors of 1 .. 33 dimensions after text of 0 .. 3 bytes (every
-- misalignment) and check that the stored values give exactly what the same
-- values built in memory (4-byte header, aligned) give, that both agree with
-- double sums over real[], and the edges: sums that overflow float or fall below
-- its normal range, zero vectors, identical vectors, and ties in ORDER BY.
BEGIN;
SELECT plan(9);

-- kind 0: ordinary values; 1: elements near 1e30 (squares overflow float);
-- 2: elements near 1e-25 (squares below its normal range); 3: a is zero;
-- 4: a equals b.  pad puts a and b at every offset modulo 4.
CREATE TEMP TABLE src AS
SELECT d, r, kind,
	   array_agg(CASE kind WHEN 1 THEN (1e30 * (1.5 + sin(d * 31 + r * 7 + k)))::real
						   WHEN 2 THEN (1e-25 * (1.5 + sin(d * 31 + r * 7 + k)))::real
						   WHEN 3 THEN 0::real
						   ELSE sin(d * 31 + r * 7 + k)::real END ORDER BY k) AS a,
	   array_agg(CASE kind WHEN 4 THEN sin(d * 31 + r * 7 + k)::real
						   ELSE cos(d * 17 + r * 3 + 2 * k)::real END ORDER BY k) AS b
  FROM generate_series(1, 33) d, generate_series(1, 10) r,
	   LATERAL (SELECT CASE WHEN r <= 6 THEN 0 ELSE r - 6 END AS kind) t,
	   LATERAL generate_series(1, d) k
 GROUP BY d, r, kind;
CREATE TEMP TABLE sv (id serial, d int, kind int, pad1 text, a recsys.vec, pad2 text, b recsys.vec);
INSERT INTO sv (d, kind, pad1, a, pad2, b)
SELECT d, kind, repeat('x', r % 4), a::recsys.vec, repeat('y', (r / 4) % 4), b::recsys.vec
  FROM src ORDER BY d, r;

-- every result of the stored row and of the same values in memory
CREATE TEMP VIEW cmp AS
SELECT s.id, s.d, s.kind, s.a, s.b, m.a AS ma, m.b AS mb
  FROM sv s, LATERAL (SELECT (s.a::real[])::recsys.vec AS a, (s.b::real[])::recsys.vec AS b) m;

SELECT is((SELECT count(*) FROM sv
			WHERE pg_column_size(a) <> CASE WHEN d <= 30 THEN 5 ELSE 8 END + 4 * d
			   OR pg_column_size(b) <> CASE WHEN d <= 30 THEN 5 ELSE 8 END + 4 * d),
		  0::bigint, 'rows hold vectors of up to 30 dimensions with a 1-byte header, longer ones with 4 bytes');

SELECT is((SELECT count(*) FROM cmp
			WHERE (a OPERATOR(recsys.<=>) b) IS DISTINCT FROM (ma OPERATOR(recsys.<=>) mb)
			   OR (a OPERATOR(recsys.<#>) b) IS DISTINCT FROM (ma OPERATOR(recsys.<#>) mb)
			   OR (a OPERATOR(recsys.<->) b) IS DISTINCT FROM (ma OPERATOR(recsys.<->) mb)
			   OR recsys.dot(a, b) IS DISTINCT FROM recsys.dot(ma, mb)
			   OR recsys.cosine_similarity(a, b) IS DISTINCT FROM recsys.cosine_similarity(ma, mb)),
		  0::bigint, 'stored vectors of 1 .. 33 dimensions at every offset give exactly the in-memory results');

-- mixed: one stored operand, one in memory, in both orders
SELECT is((SELECT count(*) FROM cmp
			WHERE (a OPERATOR(recsys.<=>) mb) IS DISTINCT FROM (ma OPERATOR(recsys.<=>) b)
			   OR (mb OPERATOR(recsys.<->) a) IS DISTINCT FROM (a OPERATOR(recsys.<->) mb)
			   OR (a OPERATOR(recsys.<#>) mb) IS DISTINCT FROM (ma OPERATOR(recsys.<#>) mb)),
		  0::bigint, 'one stored and one in-memory operand give the same results');

-- double sums over real[] for the rows whose a is not zero (the inner product's
-- float sum may lose digits to cancellation: its error is relative to |a| |b|)
CREATE TEMP VIEW ref AS
SELECT s.id, s.d, s.kind, s.a, s.b,
	   (SELECT sum(x::float8 * y) FROM unnest(s.a::real[], s.b::real[]) u(x, y)) AS dot,
	   (SELECT sqrt(sum(x::float8 * x)) FROM unnest(s.a::real[]) u(x)) AS na,
	   (SELECT sqrt(sum(y::float8 * y)) FROM unnest(s.b::real[]) u(y)) AS nb,
	   (SELECT sqrt(sum((x::float8 - y) ^ 2)) FROM unnest(s.a::real[], s.b::real[]) u(x, y)) AS l2
  FROM sv s;
SELECT is((SELECT count(*) FROM ref
			WHERE kind <> 3
			  AND (abs((a OPERATOR(recsys.<=>) b) - (1 - greatest(-1, least(1, dot / (na * nb))))) > 1e-6
				   OR abs((a OPERATOR(recsys.<#>) b) + dot) > 1e-6 * greatest(1, na * nb)
				   OR abs((a OPERATOR(recsys.<->) b) - l2) > 1e-6 * greatest(1, l2))),
		  0::bigint, 'stored vectors agree with double sums, huge and tiny elements included');

SELECT is((SELECT count(*) FROM ref
			WHERE kind = 3
			  AND NOT ((a OPERATOR(recsys.<=>) b) = 'NaN'::float8
					   AND recsys.cosine_similarity(a, b) = 'NaN'::float8
					   AND recsys.cosine_similarity(b, a) = 'NaN'::float8
					   AND (a OPERATOR(recsys.<#>) b) = 0
					   AND abs((a OPERATOR(recsys.<->) b) - nb) <= 1e-6 * greatest(1, nb))),
		  0::bigint, 'a stored zero vector: cosine NaN, inner product 0, L2 the other''s norm');

SELECT is((SELECT count(*) FROM sv
			WHERE kind = 4 AND (a OPERATOR(recsys.<=>) b) <> 0),
		  0::bigint, 'identical stored vectors are at cosine distance exactly 0');

SELECT is((SELECT count(*) FROM sv
			WHERE kind <> 3 AND ((a OPERATOR(recsys.<=>) b) < 0 OR (a OPERATOR(recsys.<=>) b) > 2)),
		  0::bigint, 'cosine distance of stored vectors stays within [0, 2]');

-- ties: duplicated vectors, ranked against one query, in the same order stored or not
CREATE TEMP TABLE dup AS
SELECT g AS id, (SELECT array_agg(round(sin(g % 5 + k)::numeric, 1)::real ORDER BY k)
				   FROM generate_series(1, 7) k)::recsys.vec AS v
  FROM generate_series(1, 40) g;
SELECT is((SELECT array_agg(id ORDER BY v OPERATOR(recsys.<=>) '[1,0,1,0,1,0,1]', id) FROM dup),
		  (SELECT array_agg(id ORDER BY (v::real[])::recsys.vec OPERATOR(recsys.<=>) '[1,0,1,0,1,0,1]', id) FROM dup),
		  'ties among stored 7-d vectors order as the in-memory values do');

-- a stored vector against one of another dimension count is still refused
SELECT throws_ok($$SELECT (SELECT a FROM sv WHERE d = 3 LIMIT 1) OPERATOR(recsys.<=>) (SELECT a FROM sv WHERE d = 4 LIMIT 1)$$,
				 '22000', 'different vector dimensions 3 and 4',
				 'stored vectors of 3 and 4 dimensions: different dimensions');

SELECT * FROM finish();
ROLLBACK;
