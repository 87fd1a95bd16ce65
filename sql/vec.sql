-- recsys.vec: what a user sees.  (pgTAP files test/vec_*.sql check the properties.)
SET search_path = recsys, public;

-- Text form: brackets, commas, optional spaces; output is the shortest decimal
-- form of each float4 that reads back exactly.
SELECT '[1,2.5,-3e-2]'::vec;
SELECT ' [ 1 ,  2 ] '::vec;
SELECT '[0.1, 1e-45, 3.4028235e38, -0, 123456789]'::vec;
SELECT dims('[1,2,3]'::vec);

-- vec(n) fixes the dimension count, on casts and on inserts
CREATE TABLE items (id int PRIMARY KEY, embedding vec(3));
INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[1,1,0]'), (4, '[0,0,0]');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'items'::regclass AND attname = 'embedding';
INSERT INTO items VALUES (5, '[1,2]');
SELECT '[1,2]'::vec(3);
SELECT '[1,2,3]'::vec(3);
SELECT '[1]'::vec(0);
SELECT '[1]'::vec(16001);

-- Distances: <-> Euclidean, <#> negative inner product, <=> cosine distance
SELECT id, embedding <-> '[1,1,1]' AS l2,
       embedding <#> '[1,1,1]' AS neg_ip,
       embedding <=> '[1,1,1]' AS cosine
  FROM items ORDER BY id;
-- the zero vector has no direction: its cosine distance is NaN, which sorts last
SELECT id FROM items ORDER BY embedding <=> '[1,0.5,0]';
SELECT dot('[1,2,3]', '[4,5,6]'), cosine_similarity('[1,2]', '[2,4]'),
       l2_distance('[0,0]', '[3,4]'), norm('[3,4]');
SELECT cosine_similarity('[0,0]', '[1,1]');

-- Vector-valued functions and operators
SELECT recsys.normalize('[3,4]'), l2_normalize('[0,0]');
SELECT subvec('[1,2,3,4,5]', 2, 3), subvec('[1,2,3,4,5]', 4, 10), subvec('[1,2,3,4,5]', -1, 3);
SELECT '[1,2]'::vec + '[10,20]', '[1,2]'::vec - '[10,20]', '[1,2]'::vec * '[10,20]', '[1,2]'::vec || '[3]';

-- Comparison: element by element, then fewer dimensions first
SELECT '[1,2]'::vec < '[1,3]', '[1,2]'::vec < '[1,2,0]', '[0]'::vec = '[-0]', '[1,2]'::vec <> '[1,2]';
SELECT v FROM (VALUES ('[2]'::vec), ('[1,5]'), ('[1]'), ('[1,2,3]'), ('[1]')) t(v) ORDER BY v;
SELECT DISTINCT v FROM (VALUES ('[1,2]'::vec), ('[1,2]'), ('[-0,1]'), ('[0,1]')) t(v) ORDER BY v;

-- Aggregates (NULL rows skipped; no rows give NULL)
SELECT sum(embedding), avg(embedding) FROM items;
SELECT sum(v), avg(v) FROM (VALUES ('[1,2]'::vec), (NULL), ('[3,4]')) t(v);
SELECT sum(embedding) IS NULL AS empty_sum FROM items WHERE false;

-- Casts between vec and arrays
SELECT ARRAY[1,2,3]::vec, ARRAY[1.5,2.5]::numeric[]::vec,
       '{0.5,1}'::real[]::vec, '{0.1,2}'::float8[]::vec;
SELECT '[1,2.5]'::vec::real[], '[0.1]'::vec::float8[];
INSERT INTO items VALUES (5, ARRAY[0.5,0.5,0.5]);
SELECT embedding FROM items WHERE id = 5;

-- NULL in, NULL out
SELECT '[1]'::vec <-> NULL, dims(NULL::vec), NULL::vec + '[1]';

-- Bad input: each error says what is wrong and where
SELECT '[]'::vec;
SELECT '[1,,2]'::vec;
SELECT '[1,2'::vec;
SELECT '1,2]'::vec;
SELECT '[1 2]'::vec;
SELECT '[a]'::vec;
SELECT '[1,2]x'::vec;
SELECT '[nan]'::vec;
SELECT '[1,-inf]'::vec;
SELECT '[1e39]'::vec;
SELECT '[1e-50]'::vec;
SELECT dims(('[' || repeat('0,', 15999) || '0]')::vec);
SELECT ('[' || repeat('0,', 16000) || '0]')::vec;
SELECT '[1,2]'::vec <-> '[1,2,3]';
SELECT '[1,2]'::vec + '[1,2,3]';
SELECT sum(v) FROM (VALUES ('[1,2]'::vec), ('[1,2,3]')) t(v);
SELECT '[3e38]'::vec + '[3e38]';
SELECT '[1e-30]'::vec * '[1e-30]';
SELECT subvec('[1,2,3]', 4, 1);
SELECT subvec('[1,2,3]', 1, -1);
SELECT ARRAY[1,NULL,3]::vec;
SELECT ARRAY[[1,2],[3,4]]::vec;
SELECT '{}'::real[]::vec;
SELECT ARRAY['NaN']::float8[]::vec;
SELECT ARRAY[1e300]::float8[]::vec;
SELECT ARRAY[1e39]::numeric[]::vec;

DROP TABLE items;
