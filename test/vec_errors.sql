-- recsys.vec: every rejected input raises the documented SQLSTATE and message,
-- and the details point at the offending text.
BEGIN;
SELECT plan(88);
SET LOCAL search_path = recsys, public;

-- The DETAIL line of the error a query raises (NULL if it succeeds)
CREATE FUNCTION pg_temp.error_detail(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE query;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN detail;
END
$$;

-- text input: syntax (22P02) with the position and the offending text
SELECT throws_ok($$SELECT '[1,,2]'::vec$$, '22P02', 'invalid input syntax for type vec: "[1,,2]"', '[1,,2] is malformed');
SELECT is(pg_temp.error_detail($$SELECT '[1,,2]'::vec$$), 'Expected a number at position 4, found ",".', '[1,,2]: position of the empty element');
SELECT throws_ok($$SELECT '[1,2'::vec$$, '22P02', 'invalid input syntax for type vec: "[1,2"', '[1,2 is malformed');
SELECT is(pg_temp.error_detail($$SELECT '[1,2'::vec$$), 'Expected "," or "]" at position 5, found end of input.', '[1,2: missing bracket at the end');
SELECT throws_ok($$SELECT '1,2]'::vec$$, '22P02', 'invalid input syntax for type vec: "1,2]"', '1,2] is malformed');
SELECT is(pg_temp.error_detail($$SELECT '1,2]'::vec$$), 'Expected "[" at position 1, found "1".', '1,2]: missing opening bracket');
SELECT throws_ok($$SELECT '[1 2]'::vec$$, '22P02', 'invalid input syntax for type vec: "[1 2]"', '[1 2] is malformed');
SELECT is(pg_temp.error_detail($$SELECT '[1 2]'::vec$$), 'Expected "," or "]" at position 4, found "2".', '[1 2]: missing comma');
SELECT throws_ok($$SELECT '[a]'::vec$$, '22P02', 'invalid input syntax for type vec: "[a]"', '[a] is malformed');
SELECT is(pg_temp.error_detail($$SELECT '[a]'::vec$$), 'Expected a number at position 2, found "a".', '[a]: not a number');
SELECT is(pg_temp.error_detail($$SELECT '[1, 2,  abc3, 4]'::vec$$), 'Expected a number at position 9, found "abc3".', 'the offending word is quoted whole');
SELECT is(pg_temp.error_detail($$SELECT '[é]'::vec$$), 'Expected a number at position 2, found "é".', 'multibyte text is quoted whole');
SELECT is(pg_temp.error_detail($$SELECT '[1,é,x]'::vec$$), 'Expected a number at position 4, found "é".', 'positions count characters, not bytes');
SELECT throws_ok($$SELECT ''::vec$$, '22P02', 'invalid input syntax for type vec: ""', 'empty string');
SELECT throws_ok($$SELECT '   '::vec$$, '22P02', NULL, 'blank string');
SELECT throws_ok($$SELECT '['::vec$$, '22P02', NULL, 'lone bracket');
SELECT throws_ok($$SELECT '[1,]'::vec$$, '22P02', NULL, 'trailing comma');
SELECT throws_ok($$SELECT '[,1]'::vec$$, '22P02', NULL, 'leading comma');
SELECT throws_ok($$SELECT '[[1]]'::vec$$, '22P02', NULL, 'nested brackets');
SELECT throws_ok($$SELECT '[1]]'::vec$$, '22P02', NULL, 'two closing brackets');
SELECT throws_ok($$SELECT '[1] [2]'::vec$$, '22P02', NULL, 'two vectors');
SELECT throws_ok($$SELECT '[1;2]'::vec$$, '22P02', NULL, 'wrong separator');
SELECT throws_ok($$SELECT '[0x10]'::vec$$, '22P02', NULL, 'hexadecimal is not accepted');
SELECT throws_ok($$SELECT '[1e]'::vec$$, '22P02', NULL, 'exponent without digits');
SELECT throws_ok($$SELECT '[-]'::vec$$, '22P02', NULL, 'sign alone');
SELECT throws_ok($$SELECT '[.]'::vec$$, '22P02', NULL, 'point alone');
SELECT throws_ok($$SELECT '[1.2.3]'::vec$$, '22P02', NULL, 'two decimal points');
SELECT throws_ok($$SELECT '[1,nanx]'::vec$$, '22P02', NULL, 'a word starting with nan is a syntax error');
SELECT throws_ok($$SELECT '[1,2]x'::vec$$, '22P02', NULL, 'text after the closing bracket');
SELECT throws_ok($$SELECT '{1,2}'::vec$$, '22P02', NULL, 'array braces are not a vec');
SELECT ok(length((SELECT m FROM (SELECT pg_temp.error_detail(format('SELECT %L::vec', '[' || repeat('1', 5000) || 'x]')) AS m) s)) < 200,
	'a long offending token is shortened in the message');

-- text input: empty, NaN/Infinity (22000), out of range (22003), too many dimensions (54000)
SELECT throws_ok($$SELECT '[]'::vec$$, '22000', 'vec must have at least 1 dimension', '[] has no dimensions');
SELECT throws_ok($$SELECT ' [ ] '::vec$$, '22000', 'vec must have at least 1 dimension', '[ ] has no dimensions');
SELECT throws_ok($$SELECT '[nan]'::vec$$, '22000', 'vec elements must be finite, got "nan"', 'NaN is rejected');
SELECT throws_ok($$SELECT '[1, NaN]'::vec$$, '22000', 'vec elements must be finite, got "NaN"', 'NaN in any case is rejected');
SELECT is(pg_temp.error_detail($$SELECT '[1, NaN]'::vec$$), 'Element 2, at position 5.', 'NaN: element and position');
SELECT throws_ok($$SELECT '[inf]'::vec$$, '22000', 'vec elements must be finite, got "inf"', 'inf is rejected');
SELECT throws_ok($$SELECT '[-Infinity]'::vec$$, '22000', 'vec elements must be finite, got "-Infinity"', '-Infinity is rejected');
SELECT throws_ok($$SELECT '[+INF,1]'::vec$$, '22000', 'vec elements must be finite, got "+INF"', '+INF is rejected');
SELECT throws_ok($$SELECT '[1e39]'::vec$$, '22003', '"1e39" is out of range for type vec', '1e39 overflows float4');
SELECT throws_ok($$SELECT '[1,-3.5e38]'::vec$$, '22003', '"-3.5e38" is out of range for type vec', '-3.5e38 overflows float4');
SELECT throws_ok($$SELECT '[1e-50]'::vec$$, '22003', '"1e-50" is out of range for type vec', '1e-50 underflows float4 to zero');
SELECT throws_ok($$SELECT '[1e999999999999]'::vec$$, '22003', '"1e999999999999" is out of range for type vec', 'an enormous exponent');
SELECT throws_ok(format('SELECT %L::vec', '[' || repeat('0.5,', 16000) || '1]'), '54000',
	'vec cannot have more than 16000 dimensions, got 16001', '16001 dimensions');
SELECT throws_ok(format('SELECT %L::vec', '[' || repeat('1,', 99999) || '1]'), '54000',
	'vec cannot have more than 16000 dimensions, got 100000', '100000 dimensions: the count is exact');

-- typmod
SELECT throws_ok($$SELECT '[1,2]'::vec(3)$$, '22000', 'expected 3 dimensions, not 2', 'cast to vec(3) checks the dimensions');
SELECT throws_ok($$SELECT '[1,2,3]'::vec::vec(2)$$, '22000', 'expected 2 dimensions, not 3', 'vec to vec(2) checks the dimensions');
SELECT throws_ok($$SELECT ARRAY[1,2]::vec(3)$$, '22000', 'expected 3 dimensions, not 2', 'array cast to vec(3) checks the dimensions');
CREATE TABLE typmod_t (v vec(3));
SELECT throws_ok($$INSERT INTO typmod_t VALUES ('[1,2,3,4]')$$, '22000', 'expected 3 dimensions, not 4', 'insert into vec(3) checks the dimensions');
SELECT throws_ok($$INSERT INTO typmod_t SELECT '[1,2]'::vec$$, '22000', 'expected 3 dimensions, not 2', 'insert of a vec expression into vec(3) checks');
SELECT throws_ok($$INSERT INTO typmod_t VALUES (ARRAY[1.5,2.5]::real[])$$, '22000', 'expected 3 dimensions, not 2', 'insert of an array into vec(3) checks');
INSERT INTO typmod_t VALUES ('[1,2,3]');
SELECT throws_ok($$UPDATE typmod_t SET v = v || '[4]'$$, '22000', 'expected 3 dimensions, not 4', 'update of vec(3) checks');
SELECT throws_ok($$SELECT '[1]'::vec(0)$$, '22023', 'dimensions for type vec must be at least 1, got 0', 'vec(0)');
SELECT throws_ok($$SELECT '[1]'::vec(16001)$$, '22023', 'dimensions for type vec cannot exceed 16000, got 16001', 'vec(16001)');
SELECT throws_ok($$SELECT '[1]'::vec(1, 2)$$, '22023', 'type vec takes one modifier, got 2', 'vec(1, 2)');

-- dimension mismatch in every binary operator, function and aggregate
SELECT throws_ok($$SELECT '[1,2,3]'::vec <-> '[1,2,3,4]'$$, '22000', 'different vector dimensions 3 and 4', '<->');
SELECT throws_ok($$SELECT '[1,2,3]'::vec <#> '[1,2,3,4]'$$, '22000', 'different vector dimensions 3 and 4', '<#>');
SELECT throws_ok($$SELECT '[1,2,3]'::vec <=> '[1,2,3,4]'$$, '22000', 'different vector dimensions 3 and 4', '<=>');
SELECT throws_ok($$SELECT '[1,2,3]'::vec + '[1,2,3,4]'$$, '22000', 'different vector dimensions 3 and 4', '+');
SELECT throws_ok($$SELECT '[1,2,3]'::vec - '[1,2,3,4]'$$, '22000', 'different vector dimensions 3 and 4', '-');
SELECT throws_ok($$SELECT '[1,2,3]'::vec * '[1,2,3,4]'$$, '22000', 'different vector dimensions 3 and 4', '*');
SELECT throws_ok($$SELECT dot('[1,2,3]', '[1,2,3,4]')$$, '22000', 'different vector dimensions 3 and 4', 'dot');
SELECT throws_ok($$SELECT cosine_similarity('[1,2,3]', '[1,2,3,4]')$$, '22000', 'different vector dimensions 3 and 4', 'cosine_similarity');
SELECT throws_ok($$SELECT l2_distance('[1,2,3]', '[1,2,3,4]')$$, '22000', 'different vector dimensions 3 and 4', 'l2_distance');
SELECT throws_ok($$SELECT sum(v) FROM (VALUES ('[1,2,3]'::vec), ('[1,2,3,4]')) t(v)$$, '22000', 'different vector dimensions 3 and 4', 'sum');
SELECT throws_ok($$SELECT avg(v) FROM (VALUES ('[1,2,3]'::vec), (NULL), ('[1,2,3,4]')) t(v)$$, '22000', 'different vector dimensions 3 and 4', 'avg');

-- arithmetic that leaves the float4 range
SELECT throws_ok($$SELECT '[1,3e38]'::vec + '[1,3e38]'$$, '22003', 'value out of range: overflow', '+ overflows');
SELECT throws_ok($$SELECT '[-3e38]'::vec - '[3e38]'$$, '22003', 'value out of range: overflow', '- overflows');
SELECT throws_ok($$SELECT '[1e20]'::vec * '[1e20]'$$, '22003', 'value out of range: overflow', '* overflows');
SELECT throws_ok($$SELECT '[1e-30]'::vec * '[1e-30]'$$, '22003', 'value out of range: underflow', '* underflows');
SELECT throws_ok($$SELECT sum(v) FROM (VALUES ('[3e38]'::vec), ('[3e38]')) t(v)$$, '22003',
	'element 1 of the result (6e+38) is out of range for type vec', 'sum beyond float4');
SELECT throws_ok(format('SELECT %L::vec || %L::vec', '[' || repeat('1,', 9999) || '1]', '[' || repeat('1,', 5999) || '1,2]'), '54000',
	'vec cannot have more than 16000 dimensions, got 16001', '|| beyond 16000 dimensions');
SELECT throws_ok($$SELECT subvec('[1,2,3]', 4, 1)$$, '22000', 'vec must have at least 1 dimension', 'subvec past the end');
SELECT throws_ok($$SELECT subvec('[1,2,3]', -5, 3)$$, '22000', 'vec must have at least 1 dimension', 'subvec before the start');
SELECT throws_ok($$SELECT subvec('[1,2,3]', 1, -1)$$, '22011', 'subvec count must not be negative, got -1', 'subvec with a negative count');

-- arrays: NULL elements (22004), several dimensions (2202E), empty, non-finite, out of range
SELECT throws_ok($$SELECT ARRAY[1,NULL,3]::real[]::vec$$, '22004', 'vec elements cannot be null, array element 2 is null', 'real[] with a NULL');
SELECT throws_ok($$SELECT ARRAY[NULL,1]::float8[]::vec$$, '22004', 'vec elements cannot be null, array element 1 is null', 'double precision[] with a NULL');
SELECT throws_ok($$SELECT ARRAY[1,NULL]::numeric[]::vec$$, '22004', 'vec elements cannot be null, array element 2 is null', 'numeric[] with a NULL');
SELECT throws_ok($$SELECT ARRAY[1,2,NULL]::int[]::vec$$, '22004', 'vec elements cannot be null, array element 3 is null', 'integer[] with a NULL');
SELECT throws_ok($$SELECT ARRAY[[1,2],[3,4]]::real[]::vec$$, '2202E', 'array must be one-dimensional to become a vec, got 2 dimensions', 'two-dimensional real[]');
SELECT throws_ok($$SELECT ARRAY[[[1]]]::int[]::vec$$, '2202E', 'array must be one-dimensional to become a vec, got 3 dimensions', 'three-dimensional integer[]');
SELECT throws_ok($$SELECT '{}'::float8[]::vec$$, '22000', 'vec must have at least 1 dimension', 'empty array');
SELECT throws_ok($$SELECT ARRAY['NaN']::real[]::vec$$, '22000', 'vec elements must be finite, array element 1 is NaN', 'real[] with NaN');
SELECT throws_ok($$SELECT ARRAY[1,'-Infinity']::float8[]::vec$$, '22000', 'vec elements must be finite, array element 2 is infinite', 'double precision[] with -Infinity');
SELECT throws_ok($$SELECT ARRAY[1,'NaN']::numeric[]::vec$$, '22000', 'vec elements must be finite, array element 2 is NaN', 'numeric[] with NaN');
SELECT throws_ok($$SELECT ARRAY[1e300]::float8[]::vec$$, '22003', 'array element 1 (1e+300) is out of range for type vec', 'double precision beyond float4');
SELECT throws_ok($$SELECT ARRAY[1, 1e-300]::float8[]::vec$$, '22003', 'array element 2 (1e-300) is out of range for type vec', 'double precision below float4');
SELECT throws_ok($$SELECT ARRAY[1e39]::numeric[]::vec$$, '22003', NULL, 'numeric beyond float4');

SELECT * FROM finish();
ROLLBACK;
