-- recsys.vec binary input (vec_recv), reached the way clients reach it: a binary
-- COPY whose field bytes are chosen by the test.  The COPY data is produced by
-- printf through COPY FROM PROGRAM, so no file is left behind (needs superuser).
BEGIN;
SELECT plan(19);
SET LOCAL search_path = recsys, public;

CREATE TABLE recv_any (v vec);
CREATE TABLE recv_3 (v vec(3));

-- Loads payload as the single field of a binary COPY into table target and
-- returns what arrived there.
CREATE FUNCTION pg_temp.recv(payload bytea, target text DEFAULT 'recv_any') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	copy_data bytea;
	escaped text;
	result text;
BEGIN
	copy_data := '\x5047434f50590aff0d0a00'::bytea		-- signature "PGCOPY\n\377\r\n\0"
		|| '\x0000000000000000'::bytea					-- flags, header extension length
		|| '\x0001'::bytea								-- one field
		|| int4send(length(payload)) || payload
		|| '\xffff'::bytea;								-- trailer
	SELECT string_agg('\' || ((b >> 6) & 7) || ((b >> 3) & 7) || (b & 7), '' ORDER BY i)
	  INTO escaped
	  FROM (SELECT i, get_byte(copy_data, i) AS b
			  FROM generate_series(0, length(copy_data) - 1) i) s;
	EXECUTE format('TRUNCATE %I', target);
	EXECUTE format('COPY %I FROM PROGRAM %L (FORMAT binary)', target, 'printf ''' || escaped || '''');
	EXECUTE format('SELECT string_agg(v::text, '';'') FROM %I', target) INTO result;
	RETURN result;
END
$$;

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

-- well-formed values
SELECT is(pg_temp.recv(vec_send('[1,-2,2.5]')), '[1,-2,2.5]', 'send then recv gives the value back');
SELECT is(pg_temp.recv(vec_send('[1,-2,2.5]'), 'recv_3'), '[1,-2,2.5]', 'recv into vec(3) accepts 3 dimensions');
SELECT is(pg_temp.recv('\x000100007f7fffff'::bytea), '[3.4028235e+38]', 'largest float4');
SELECT is(pg_temp.recv('\x0001000000000001'::bytea), '[1e-45]', 'smallest subnormal float4');
SELECT ok((SELECT bool_and(pg_temp.recv(vec_send(v)) = v::text)
			 FROM (VALUES ('[0.1,0.2,0.3]'::vec), ('[-0]'), ('[1e-38,-1e38,7]')) t(v)), 'send/recv round trips');

-- malformed buffers: 22P03, never a crash or a guess
SELECT throws_ok($$SELECT pg_temp.recv('\x'::bytea)$$, '22P03', 'invalid binary data for type vec', 'empty buffer');
SELECT throws_ok($$SELECT pg_temp.recv('\x000100'::bytea)$$, '22P03', 'invalid binary data for type vec', 'buffer shorter than the header');
SELECT is(pg_temp.error_detail($$SELECT pg_temp.recv('\x000100'::bytea)$$), 'The value has 3 bytes; its header alone takes 4.', 'short header: detail');
SELECT throws_ok($$SELECT pg_temp.recv('\x000300003f80000040000000'::bytea)$$, '22P03', 'invalid binary data for type vec', 'truncated: 3 dimensions, 2 sent');
SELECT is(pg_temp.error_detail($$SELECT pg_temp.recv('\x000300003f80000040000000'::bytea)$$),
		  'The header gives 3 dimensions, which take 16 bytes, but the value has 12.', 'truncated: detail');
SELECT throws_ok($$SELECT pg_temp.recv('\x000100003f80000040000000'::bytea)$$, '22P03', 'invalid binary data for type vec', 'lying: 1 dimension, 2 sent');
SELECT throws_ok($$SELECT pg_temp.recv('\x000000003f800000'::bytea)$$, '22P03', 'invalid binary data for type vec', 'zero dimensions');
SELECT throws_ok($$SELECT pg_temp.recv('\xffff00003f800000'::bytea)$$, '22P03', 'invalid binary data for type vec', 'negative dimensions');
SELECT is(pg_temp.error_detail($$SELECT pg_temp.recv('\x3e8100003f800000'::bytea)$$),
		  'The header gives 16001 dimensions; vec allows 1 to 16000.', '16001 dimensions claimed');
SELECT throws_ok($$SELECT pg_temp.recv('\x000100013f800000'::bytea)$$, '22P03', 'invalid binary data for type vec', 'reserved field not zero');
SELECT throws_ok($$SELECT pg_temp.recv('\x000200003f8000007fc00000'::bytea)$$, '22000', 'vec elements must be finite, got NaN or Infinity', 'NaN element');
SELECT throws_ok($$SELECT pg_temp.recv('\x00010000ff800000'::bytea)$$, '22000', 'vec elements must be finite, got NaN or Infinity', '-Infinity element');
SELECT throws_ok($$SELECT pg_temp.recv(vec_send('[1,2]'), 'recv_3')$$, '22000', 'expected 3 dimensions, not 2', 'recv into vec(3) checks the dimensions');
SELECT is(pg_temp.recv(vec_send(('[' || repeat('1,', 999) || '2]')::vec)), '[' || repeat('1,', 999) || '2]', '1000 dimensions round-trip through binary COPY');

SELECT * FROM finish();
ROLLBACK;
