-- recsys.vec: operators agree with brute force over real[], I/O round-trips,
-- comparison and hashing are consistent, and the planner can use them.
BEGIN;
SELECT plan(49);
SET LOCAL search_path = recsys, public;

-- The text of a query's plan (COSTS OFF)
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
	result text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		result := result || line || E'\n';
	END LOOP;
	RETURN result;
END
$$;

-- Random pairs of equal dimension, stored as real[] and as vec; float4 values
-- over a wide range of magnitudes (and some exact zeros).
SELECT setseed(0.17);
CREATE TABLE pairs AS
SELECT id, a, b, a::vec AS va, b::vec AS vb
  FROM (SELECT id,
			   array_agg(CASE WHEN random() < 0.05 THEN 0 ELSE ((random() - 0.5) * 20)::real END ORDER BY k) AS a,
			   array_agg(((random() - 0.5) * power(10, (random() * 6 - 3)))::real ORDER BY k) AS b
		  FROM (SELECT id, 1 + (id * 7) % 40 AS dim FROM generate_series(1, 300) id) d,
			   LATERAL generate_series(1, dim) k
		 GROUP BY id) s;

-- brute-force sums over the arrays, in float8
CREATE TABLE brute AS
SELECT id,
	   sum((x - y)::float8 ^ 2) AS l2sq,
	   sum(x::float8 * y) AS dot,
	   sum(abs(x::float8 * y)) AS absdot,
	   sum(x::float8 ^ 2) AS na2,
	   sum(y::float8 ^ 2) AS nb2
  FROM pairs, LATERAL unnest(a, b) AS u(x, y)
 GROUP BY id;

SELECT ok(bool_and(abs((va <-> vb) - sqrt(l2sq)) <= 1e-5 * sqrt(l2sq) + 1e-30), '<-> agrees with the brute-force Euclidean distance')
  FROM pairs JOIN brute USING (id);
SELECT ok(bool_and(abs((va <#> vb) + dot) <= 1e-5 * absdot + 1e-30), '<#> agrees with minus the brute-force inner product')
  FROM pairs JOIN brute USING (id);
SELECT ok(bool_and(abs((va <=> vb) - (1 - dot / sqrt(na2 * nb2))) <= 1e-5), '<=> agrees with the brute-force cosine distance')
  FROM pairs JOIN brute USING (id) WHERE na2 > 0 AND nb2 > 0;
SELECT ok(bool_and(abs(norm(va) - sqrt(na2)) <= 1e-5 * sqrt(na2)), 'norm agrees with the brute-force length')
  FROM pairs JOIN brute USING (id);
SELECT ok(bool_and(dot(va, vb) = -(va <#> vb) AND l2_distance(va, vb) = (va <-> vb)
				   AND abs(cosine_similarity(va, vb) - (1 - (va <=> vb))) < 1e-12
				   AND negative_inner_product(va, vb) = (va <#> vb) AND cosine_distance(va, vb) = (va <=> vb)),
		  'functions and operators agree')
  FROM pairs JOIN brute USING (id) WHERE na2 > 0 AND nb2 > 0;
SELECT ok(bool_and((va <-> vb) = (vb <-> va) AND (va <#> vb) = (vb <#> va)), '<-> and <#> are symmetric') FROM pairs;
SELECT ok(bool_and(cosine_similarity(va, vb) BETWEEN -1 AND 1), 'cosine similarity stays in [-1, 1]')
  FROM pairs JOIN brute USING (id) WHERE na2 > 0 AND nb2 > 0;
SELECT ok(bool_and(abs(norm(l2_normalize(va)) - 1) < 1e-6 AND (recsys.normalize(va) <=> va) < 1e-6), 'normalize gives length 1, same direction')
  FROM pairs JOIN brute USING (id) WHERE na2 > 0;
SELECT ok(bool_and(va <-> va = 0 AND abs(va <=> va) < 1e-6), 'a vector is at distance 0 from itself')
  FROM pairs JOIN brute USING (id) WHERE na2 > 0;

-- element-wise operators are exactly float4 arithmetic
SELECT ok(bool_and((va + vb)::real[] = ARRAY(SELECT x + y FROM unnest(a, b) u(x, y))), '+ is element-wise real addition') FROM pairs;
SELECT ok(bool_and((va - vb)::real[] = ARRAY(SELECT x - y FROM unnest(a, b) u(x, y))), '- is element-wise real subtraction') FROM pairs;
SELECT ok(bool_and((va * vb)::real[] = ARRAY(SELECT x * y FROM unnest(a, b) u(x, y))), '* is element-wise real multiplication')
  FROM pairs WHERE NOT EXISTS (SELECT FROM unnest(a, b) u(x, y) WHERE abs(x::float8 * y) BETWEEN 1e-300 AND 1e-37);
SELECT ok(bool_and((va || vb)::real[] = a || b AND dims(va || vb) = 2 * cardinality(a)), '|| concatenates') FROM pairs;
SELECT ok(bool_and(dims(va) = cardinality(a)), 'dims counts the elements') FROM pairs;
SELECT ok(bool_and(subvec(va, 2, 3)::real[] = a[2:4]), 'subvec is an array slice') FROM pairs WHERE cardinality(a) >= 4;
SELECT ok(bool_and(subvec(va, -1, 3)::real[] = a[1:1] AND subvec(va, 2, 1000)::real[] = a[2:]), 'subvec clips like substring')
  FROM pairs WHERE cardinality(a) >= 2;

-- I/O round trips
SELECT ok(bool_and(va::text::vec::real[] = a AND vb::text::vec::real[] = b), 'text output reads back exactly') FROM pairs;
SELECT ok(bool_and(v::text::vec::real[] = arr), 'text round trip is exact across the float4 range')
  FROM (SELECT arr, arr::vec AS v
		  FROM (SELECT ARRAY[((random() - 0.5) * power(10, random() * 76 - 38))::real,
							 ((random() - 0.5) * power(10, random() * 76 - 38))::real] AS arr
				  FROM generate_series(1, 2000)) s) t;
SELECT is('[1.17549435e-38, 1.4e-45, 3.40282347e+38, -0.1, 16777217]'::vec::text,
		  '[1.1754944e-38,1e-45,3.4028235e+38,-0.1,1.6777216e+07]', 'shortest output of extreme and rounded values');
SELECT ok(bool_and(array_to_string(a, ',') IS NOT NULL AND length(va::text) <= 2 + 16 * cardinality(a)), 'output stays within its buffer bound') FROM pairs;
SELECT ok(bool_and(length(vec_send(va)) = 4 + 4 * cardinality(a)), 'binary form is 4 + 4·dims bytes') FROM pairs;
SELECT is(vec_send('[1,-2]'), '\x000200003f800000c0000000'::bytea, 'binary form: int16 dims, int16 zero, big-endian float4');
SELECT is(('[' || repeat('0.25,', 15999) || '1]')::vec::text, '[' || repeat('0.25,', 15999) || '1]', '16000 dimensions round-trip');

-- casts
SELECT ok(bool_and(a::vec::float8[]::vec = va AND a::float8[]::numeric[]::vec = va AND va::float8[] = a::float8[]), 'casts via float8[] and numeric[] keep float4 values') FROM pairs;
SELECT is(ARRAY[1, -2, 16777217]::int[]::vec::text, '[1,-2,1.6777216e+07]', 'integer[] rounds to the nearest float4');
SELECT is('[1,2]'::vec::real[], '{1,2}'::real[], 'vec to real[]');
SELECT is(('{1,2}'::real[])[1:2]::vec::text, '[1,2]', 'array lower bound does not matter');
SELECT is((SELECT array_agg(x) FROM unnest('[0.5,1.5]'::vec::float8[]) x), '{0.5,1.5}'::float8[], 'vec to double precision[]');

-- comparison is a total order consistent with real[] comparison; hashing agrees with =
INSERT INTO pairs (id, a, b, va, vb)
SELECT 1000 + id, a[1:1], b, a[1:1]::vec, vb FROM pairs WHERE id <= 40    -- prefixes
UNION ALL
SELECT 2000 + id, a, b, va, vb FROM pairs WHERE id <= 40;                   -- duplicates
UPDATE pairs SET va = ('[' || replace(replace(va::text, '[', ''), ']', '') || ',0]')::vec,
				 a = a || 0::real WHERE id BETWEEN 41 AND 50;
SELECT ok(bool_and((p.va < q.va) = (p.a < q.a) AND (p.va = q.va) = (p.a = q.a) AND (p.va > q.va) = (p.a > q.a)
				   AND (p.va <= q.va) = (p.a <= q.a) AND (p.va >= q.va) = (p.a >= q.a) AND (p.va <> q.va) = (p.a <> q.a)),
		  'comparison operators agree with real[] comparison')
  FROM pairs p, pairs q WHERE p.id % 5 = 0 AND q.id % 3 = 0;
SELECT ok(bool_and(sign(vec_cmp(p.va, q.va)) = -sign(vec_cmp(q.va, p.va)) AND (vec_cmp(p.va, q.va) = 0) = (p.va = q.va)),
		  'vec_cmp is antisymmetric and 0 exactly for equal vectors')
  FROM pairs p, pairs q WHERE p.id % 5 = 0 AND q.id % 3 = 0;
SELECT ok(bool_and(vec_hash(p.va) = vec_hash(q.va)), 'equal vectors hash alike')
  FROM pairs p JOIN pairs q ON p.va = q.va;
SELECT ok(vec_hash('[0,-0]') = vec_hash('[-0,0]') AND vec_hash_extended('[-0]', 7) = vec_hash_extended('[0]', 7), '-0 and 0 hash alike');
SELECT ok(bool_and((vec_hash_extended(va, 0) & 4294967295) = (vec_hash(va)::bigint & 4294967295)), 'extended hash with seed 0 matches the 32-bit hash') FROM pairs;
SELECT is((SELECT array_agg(id ORDER BY va, id) FROM pairs), (SELECT array_agg(id ORDER BY a, id) FROM pairs), 'ORDER BY vec sorts like ORDER BY real[]');
SELECT is((SELECT count(DISTINCT va) FROM pairs), (SELECT count(DISTINCT a) FROM pairs), 'DISTINCT counts like real[]');
SET LOCAL enable_sort = off;
SELECT matches(pg_temp.plan_of('SELECT va, count(*) FROM pairs GROUP BY va'), 'HashAggregate', 'GROUP BY vec can hash');
SELECT is((SELECT count(*) FROM (SELECT va FROM pairs GROUP BY va) g), (SELECT count(DISTINCT a) FROM pairs), 'hashed GROUP BY finds the distinct vectors');
RESET enable_sort;
SET LOCAL enable_hashagg = off;
SELECT is((SELECT count(*) FROM (SELECT va FROM pairs GROUP BY va) g), (SELECT count(DISTINCT a) FROM pairs), 'sorted GROUP BY finds the distinct vectors');
RESET enable_hashagg;

SET LOCAL enable_mergejoin = off;
SET LOCAL enable_nestloop = off;
SELECT matches(pg_temp.plan_of('SELECT count(*) FROM pairs p JOIN pairs q ON p.va = q.va'), 'Hash Join', 'the hash opclass drives a hash join');
SELECT is((SELECT count(*) FROM pairs p JOIN pairs q ON p.va = q.va), (SELECT count(*) FROM pairs p JOIN pairs q ON p.a = q.a), 'hash join matches real[] equality');
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = on;
SELECT matches(pg_temp.plan_of('SELECT count(*) FROM pairs p JOIN pairs q ON p.va = q.va'), 'Merge Join', 'the btree opclass drives a merge join');
SELECT is((SELECT count(*) FROM pairs p JOIN pairs q ON p.va = q.va), (SELECT count(*) FROM pairs p JOIN pairs q ON p.a = q.a), 'merge join matches real[] equality');
RESET enable_mergejoin;
RESET enable_hashjoin;
RESET enable_nestloop;

SELECT throws_ok('CREATE UNIQUE INDEX ON pairs (va)', '23505', NULL, 'a UNIQUE index rejects duplicate vectors');
DELETE FROM pairs WHERE id >= 1000;
CREATE UNIQUE INDEX pairs_va ON pairs (va);
SELECT throws_ok($$INSERT INTO pairs (id, va) SELECT 9999, va FROM pairs WHERE id = 1$$, '23505', NULL, 'the UNIQUE index rejects a duplicate insert');
SET LOCAL enable_seqscan = off;
SELECT is((SELECT id FROM pairs WHERE va = (SELECT va FROM pairs WHERE id = 7)), 7, 'btree index lookup by vec');
CREATE INDEX pairs_vb_hash ON pairs USING hash (vb);
SELECT is((SELECT count(*)::int FROM pairs WHERE vb = (SELECT vb FROM pairs WHERE id = 7)), 1, 'hash index lookup by vec');
RESET enable_seqscan;

-- NULLs and the zero vector
SELECT ok(num_nulls('[1]'::vec <-> NULL, NULL <#> '[1]'::vec, '[1]'::vec <=> NULL, '[1]'::vec + NULL, NULL - '[1]'::vec,
					'[1]'::vec * NULL, '[1]'::vec || NULL, dot(NULL, '[1]'), cosine_similarity('[1]', NULL),
					l2_distance(NULL, NULL), norm(NULL), l2_normalize(NULL), dims(NULL), subvec(NULL, 1, 1),
					subvec('[1]', NULL, 1), NULL::vec::real[], NULL::real[]::vec, vec_cmp(NULL, '[1]'), vec_hash(NULL)) = 19,
		  'every function returns NULL for a NULL argument');
SELECT ok(cosine_similarity('[0,0]', '[1,2]') = 'NaN' AND ('[1,2]'::vec <=> '[0,0]') = 'NaN' AND ('[0]'::vec <=> '[0]') = 'NaN',
		  'cosine with a zero vector is NaN');
SELECT is((SELECT array_agg(v::text ORDER BY v <=> '[1,1]') FROM (VALUES ('[0,0]'::vec), ('[1,0]'), ('[1,1]')) t(v)),
		  '{"[1,1]","[1,0]","[0,0]"}', 'NaN cosine distances sort after all numbers');

SELECT * FROM finish();
ROLLBACK;
