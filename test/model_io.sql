-- recsys.model input and output: text and binary round trips, and every kind of
-- corruption rejected with the SQLSTATE of its path (22P02 text, 22P03 binary,
-- XX001 for a damaged stored value).
BEGIN;
SELECT plan(49);

CREATE TABLE io_ratings AS
SELECT u::bigint AS user_id, (i * 10)::bigint AS item_id, ((u * 7 + i * 3) % 5 + 1)::real AS rating
FROM generate_series(1, 3) u, generate_series(1, 4) i
WHERE (u + i) % 2 = 0 OR u = 1;

CREATE TABLE io_models (name text PRIMARY KEY, m recsys.model);
INSERT INTO io_models
SELECT 'als', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 2}') FROM io_ratings;
INSERT INTO io_models
SELECT 'ials', recsys.train_ials(user_id, item_id, rating, '{"factors": 3, "iterations": 2, "keep_interactions": false}') FROM io_ratings;

-- the binary form and the text form made from any bytes
CREATE FUNCTION pg_temp.bin(name text) RETURNS bytea
	LANGUAGE sql AS $$ SELECT recsys.model_send(m) FROM io_models WHERE io_models.name = $1 $$;
CREATE FUNCTION pg_temp.as_text(b bytea) RETURNS text
	LANGUAGE sql AS $$ SELECT 'recsys-model:v2:' || translate(encode(b, 'base64'), E'\n', '') $$;
-- big-endian integer fields
CREATE FUNCTION pg_temp.put32(b bytea, off int, v bigint) RETURNS bytea LANGUAGE sql AS $$
	SELECT overlay(b PLACING decode(lpad(to_hex(v & 4294967295), 8, '0'), 'hex') FROM off + 1 FOR 4) $$;
CREATE FUNCTION pg_temp.put64(b bytea, off int, v bigint) RETURNS bytea LANGUAGE sql AS $$
	SELECT overlay(b PLACING decode(lpad(to_hex(v), 16, '0'), 'hex') FROM off + 1 FOR 8) $$;
CREATE FUNCTION pg_temp.get32(b bytea, off int) RETURNS bigint LANGUAGE sql AS $$
	SELECT ('x' || encode(substring(b FROM off + 1 FOR 4), 'hex'))::bit(32)::bigint $$;
-- binary input goes through COPY ... (FORMAT binary): a bytea field's bytes are
-- read back by recsys.model's receive function
CREATE TABLE io_recv (m recsys.model);
CREATE FUNCTION pg_temp.recv(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := current_setting('data_directory') || '/recsys_model_io_test.bin';
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
	EXECUTE format('COPY io_recv FROM %L (FORMAT binary)', path);
	RETURN 'ok';
END $$;
-- where a section starts in the binary form (format v2: a 108-byte header, then
-- the directory of 24-byte entries: tag, element size, count, offset in the native
-- layout that has the 4-byte varlena word in front)
CREATE FUNCTION pg_temp.section_at(b bytea, tag int) RETURNS int LANGUAGE sql AS $$
	SELECT (('x' || encode(substring(b FROM 109 + 24 * i + 16 FOR 8), 'hex'))::bit(64)::bigint - 4)::int
	FROM generate_series(0, ('x' || encode(substring(b FROM 97 FOR 4), 'hex'))::bit(32)::int - 1) i
	WHERE ('x' || encode(substring(b FROM 109 + 24 * i FOR 4), 'hex'))::bit(32)::int = tag $$;
CREATE FUNCTION pg_temp.options_len(b bytea) RETURNS int LANGUAGE sql AS $$ SELECT pg_temp.get32(b, 92)::int $$;
CREATE FUNCTION pg_temp.options_at(b bytea) RETURNS int LANGUAGE sql AS $$ SELECT pg_temp.section_at(b, 1) $$;
CREATE FUNCTION pg_temp.user_ids_at(b bytea) RETURNS int LANGUAGE sql AS $$ SELECT pg_temp.section_at(b, 2) $$;

-- round trips
SELECT is((SELECT m::text::recsys.model::text FROM io_models WHERE name = 'als'),
		  (SELECT m::text FROM io_models WHERE name = 'als'), 'text -> model -> text is identical (explicit)');
SELECT is((SELECT m::text::recsys.model::text FROM io_models WHERE name = 'ials'),
		  (SELECT m::text FROM io_models WHERE name = 'ials'), 'text -> model -> text is identical (implicit)');
SELECT alike((SELECT m::text FROM io_models WHERE name = 'als'), 'recsys-model:v2:%', 'text form has the prefix');
SELECT is(pg_temp.as_text(pg_temp.bin('als')), (SELECT m::text FROM io_models WHERE name = 'als'),
		  'text form is the prefix and base64 of the binary form');
SELECT is(pg_temp.recv(pg_temp.bin('als')), 'ok', 'binary form is accepted by recv');
SELECT is((SELECT m::text FROM io_recv), (SELECT m::text FROM io_models WHERE name = 'als'),
		  'send -> recv gives the same model');
SELECT is(recsys.model_send((SELECT m FROM io_recv)), pg_temp.bin('als'), 'recv -> send gives the same bytes');
SELECT is(pg_temp.recv(pg_temp.bin('ials')), 'ok', 'implicit model binary form is accepted');
SELECT is(length(pg_temp.bin('als')) + 4, (recsys.model_info((SELECT m FROM io_models WHERE name = 'als')) ->> 'bytes')::int,
		  'binary form is the layout without the varlena header');
SELECT is(encode(substring(pg_temp.bin('als') FROM 1 FOR 8), 'hex'), '4d53535200020001',
		  'binary form starts big-endian: magic, version 2, algorithm 1');
SELECT is(('  ' || (SELECT m::text FROM io_models WHERE name = 'als') || E'\n')::recsys.model::text,
		  (SELECT m::text FROM io_models WHERE name = 'als'), 'surrounding whitespace is ignored');

-- text form errors (22P02)
SELECT throws_ok($$ SELECT 'hello'::recsys.model $$, '22P02', NULL, 'wrong prefix');
SELECT throws_ok($$ SELECT 'recsys-model:v3:AAAA'::recsys.model $$, '22P02', NULL, 'other version prefix');
SELECT throws_ok($$ SELECT ''::recsys.model $$, '22P02', NULL, 'empty string');
SELECT throws_ok($$ SELECT 'recsys-model:v2:'::recsys.model $$, '22P02', NULL, 'empty payload');
SELECT throws_ok($$ SELECT 'recsys-model:v2:AAA'::recsys.model $$, '22P02',
				 'invalid recsys.model value: base64 length 3 is not a multiple of 4', 'base64 length not a multiple of 4');
SELECT throws_ok($$ SELECT 'recsys-model:v2:AA*A'::recsys.model $$, '22P02',
				 'invalid recsys.model value: invalid base64 character at position 3', 'bad base64 character');
SELECT throws_ok($$ SELECT 'recsys-model:v2:A=AA'::recsys.model $$, '22P02', NULL, 'padding in the middle');
SELECT throws_ok($$ SELECT 'recsys-model:v2:AB=='::recsys.model $$, '22P02',
				 'invalid recsys.model value: non-canonical base64 padding at position 1', 'non-canonical padding bits');
SELECT throws_ok(format('SELECT %L::recsys.model', (SELECT m::text FROM io_models WHERE name = 'als') || 'AAAA'),
				 '22P02', NULL, 'trailing bytes');
SELECT throws_ok(format('SELECT %L::recsys.model', left((SELECT m::text FROM io_models WHERE name = 'als'), -8)),
				 '22P02', NULL, 'truncated text');
SELECT throws_ok(format('SELECT %L::recsys.model', replace((SELECT m::text FROM io_models WHERE name = 'als'), 'v2:', 'v2: ')),
				 '22P02', NULL, 'space inside the base64');

-- every corruption of the binary form, through recv (22P03) and text input (22P02)
CREATE TABLE io_bad (what text, b bytea, msg text);
INSERT INTO io_bad (what, b) VALUES
	('empty', ''::bytea),
	('truncated header', substring(pg_temp.bin('als') FROM 1 FOR 50)),
	('truncated by one byte', substring(pg_temp.bin('als') FROM 1 FOR length(pg_temp.bin('als')) - 1)),
	('one trailing byte', pg_temp.bin('als') || '\x00'::bytea),
	('wrong magic', set_byte(pg_temp.bin('als'), 0, 0)),
	('version 3', set_byte(pg_temp.bin('als'), 5, 3)),
	('unknown algorithm', set_byte(pg_temp.bin('als'), 7, 9)),
	('unknown flag', set_byte(pg_temp.bin('als'), 11, 71)),	-- 0x47: 0x40 is no flag
	('biases on an implicit model', set_byte(pg_temp.bin('ials'), 11, 1)),
	('factors 0', pg_temp.put32(pg_temp.bin('als'), 12, 0)),
	('factors 2000', pg_temp.put32(pg_temp.bin('als'), 12, 2000)),
	('huge n_users', pg_temp.put32(pg_temp.bin('als'), 16, 2147483647)),
	('negative n_items', pg_temp.put32(pg_temp.bin('als'), 20, -1)),
	('huge n_seen', pg_temp.put64(pg_temp.bin('als'), 36, 9223372036854775807)),
	('n_seen differs from n_interactions', pg_temp.put64(pg_temp.bin('als'), 28, 1)),
	('NaN global mean', pg_temp.put32(pg_temp.bin('als'), 60, 2143289344)),
	('rating_min above rating_max', pg_temp.put32(pg_temp.bin('als'), 64, 1120403456)),
	('infinite train_seconds', pg_temp.put64(pg_temp.bin('als'), 76, 9218868437227405312)),
	('negative peak_bytes', set_byte(pg_temp.bin('als'), 84, 255)),
	('huge options_len', pg_temp.put32(pg_temp.bin('als'), 92, 2147483647)),
	('reserved not zero', set_byte(pg_temp.bin('als'), 107, 1)),
	('no sections', pg_temp.put32(pg_temp.bin('als'), 96, 0)),
	('options not NUL-terminated', set_byte(pg_temp.bin('als'), pg_temp.options_at(pg_temp.bin('als')) + pg_temp.options_len(pg_temp.bin('als')) - 1, 32)),
	('NUL inside the options', set_byte(pg_temp.bin('als'), pg_temp.options_at(pg_temp.bin('als')) + 1, 0)),
	('options not JSON', set_byte(pg_temp.bin('als'), pg_temp.options_at(pg_temp.bin('als')), 91)),
	('user ids out of order', pg_temp.put64(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')), 99)),
	('NaN user factor', pg_temp.put32(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 8 * 3 + 8 * 4, 2143289344)),
	('infinite item factor', pg_temp.put32(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 8 * 3 + 8 * 4 + 24, 2139095040)),
	-- ials: no biases, no interactions: item_count follows the factors
	('negative item count', pg_temp.put32(pg_temp.bin('ials'), pg_temp.user_ids_at(pg_temp.bin('ials')) + 24 + 32 + 40 + 48, -1)),
	-- als: user_bias (3 floats, padded to 16), item_bias (16), item_count (16), seen_ptr (4 x 8), seen_items
	('seen_ptr not starting at 0', pg_temp.put64(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 24 + 32 + 24 + 32 + 16 + 16 + 16, 1)),
	('seen item out of range', pg_temp.put32(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 24 + 32 + 24 + 32 + 16 + 16 + 16 + 32, 4)),
	('seen items not increasing', pg_temp.put32(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 24 + 32 + 24 + 32 + 16 + 16 + 16 + 32, 3)),
	-- user_bias holds 12 bytes, then 4 bytes of padding
	('non-zero padding', set_byte(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 24 + 32 + 24 + 32 + 13, 1));

-- each must fail in both paths; record what the text path said
CREATE FUNCTION pg_temp.sqlstate_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
SELECT is_empty($$ SELECT what FROM io_bad WHERE pg_temp.sqlstate_of(format('SELECT recsys.model_info(%L::recsys.model)', pg_temp.as_text(b))) <> '22P02' $$,
				'every corruption is rejected by text input with 22P02');
SELECT is_empty($$ SELECT what FROM io_bad WHERE pg_temp.sqlstate_of(format('SELECT pg_temp.recv(%L::bytea)', b)) <> '22P03' $$,
				'every corruption is rejected by binary input with 22P03');
SELECT is((SELECT count(*) FROM io_recv), 2::bigint, 'nothing corrupted was stored');

-- a few messages say precisely what was wrong
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: bad magic number 0x00535352, expected 0x4D535352', what)
FROM io_bad WHERE what = 'wrong magic';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: unsupported model format version 3, this build reads versions 1 and 2', what)
FROM io_bad WHERE what = 'version 3';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: factors must be between 1 and 1024, got 2000', what)
FROM io_bad WHERE what = 'factors 2000';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: model truncated: ' || (length(b))::text || ' bytes, its header describes ' || (length(b) + 1)::text, what)
FROM io_bad WHERE what = 'truncated by one byte';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: user ids not strictly increasing at position 1 (2 after 99)', what)
FROM io_bad WHERE what = 'user ids out of order';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: a factor of user 1 is NaN, it must be finite and at most 1e+17 in magnitude', what)
FROM io_bad WHERE what = 'NaN user factor';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: seen item index 4 out of range 0..3', what)
FROM io_bad WHERE what = 'seen item out of range';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02', NULL, what)
FROM io_bad WHERE what = 'huge n_users';
SELECT throws_ok(format('SELECT %L::recsys.model', pg_temp.as_text(b)), '22P02',
				 'invalid recsys.model value: options are not a JSON object', what)
FROM io_bad WHERE what = 'options not JSON';

-- every single-byte flip of the header is either harmless or rejected, never a crash
SELECT is_empty($$
	SELECT o FROM generate_series(0, 107) o
	WHERE pg_temp.sqlstate_of(format('SELECT recsys.model_info(%L::recsys.model)',
									 pg_temp.as_text(set_byte(pg_temp.bin('als'), o, get_byte(pg_temp.bin('als'), o) # 128))))
		NOT IN ('22P02', 'no error') $$,
	'flipping any header byte gives 22P02 or a still-valid model');
-- the only header bytes whose flip still leaves a valid model are statistics
SELECT set_eq($$
	SELECT o FROM generate_series(0, 107) o
	WHERE pg_temp.sqlstate_of(format('SELECT %L::recsys.model',
									 pg_temp.as_text(set_byte(pg_temp.bin('als'), o, get_byte(pg_temp.bin('als'), o) # 1)))) = 'no error' $$,
	$$ SELECT o FROM generate_series(24, 27) o                 -- iterations
	   UNION ALL SELECT o FROM generate_series(44, 63) o         -- uuid, global_mean
	   UNION ALL SELECT o FROM generate_series(72, 91) o         -- train_loss, seconds, peak_bytes
	   UNION ALL SELECT 64 UNION ALL SELECT 65 UNION ALL SELECT 66 UNION ALL SELECT 67  -- rating_min low bits
	   UNION ALL SELECT o FROM generate_series(68, 71) o $$,
	'low-bit flips are accepted only in statistics fields');
-- the directory is fully determined by the header: any flip of it is refused
SELECT is_empty($$
	SELECT o FROM generate_series(108, 108 + 24 * 10 - 1) o
	WHERE pg_temp.sqlstate_of(format('SELECT %L::recsys.model',
									 pg_temp.as_text(set_byte(pg_temp.bin('als'), o, get_byte(pg_temp.bin('als'), o) # 1)))) <> '22P02' $$,
	'flipping the low bit of any directory byte is refused');

-- a stored value that was damaged on disk: the cheap header check (XX001).  A
-- bytea-like type with the model's alignment and binary-coercible casts let the
-- test write raw native bytes into a model value.
SET LOCAL client_min_messages = warning;
CREATE TYPE io_raw;
CREATE FUNCTION io_raw_in(cstring) RETURNS io_raw AS 'byteain' LANGUAGE internal IMMUTABLE STRICT;
CREATE FUNCTION io_raw_out(io_raw) RETURNS cstring AS 'byteaout' LANGUAGE internal IMMUTABLE STRICT;
CREATE TYPE io_raw (INPUT = io_raw_in, OUTPUT = io_raw_out, INTERNALLENGTH = VARIABLE,
					ALIGNMENT = double, STORAGE = external);
CREATE CAST (recsys.model AS io_raw) WITHOUT FUNCTION;
CREATE CAST (io_raw AS recsys.model) WITHOUT FUNCTION;
CREATE FUNCTION pg_temp.raw_model(b bytea) RETURNS recsys.model
	LANGUAGE sql AS $$ SELECT b::text::io_raw::recsys.model $$;
CREATE TABLE io_raw_bytes AS SELECT (m::io_raw)::text::bytea AS raw FROM io_models WHERE name = 'als';
SELECT is((SELECT pg_temp.raw_model(raw)::text FROM io_raw_bytes), (SELECT m::text FROM io_models WHERE name = 'als'),
		  'the raw native bytes are the model');
SELECT throws_ok($$ SELECT recsys.model_info(pg_temp.raw_model(set_byte(raw, 0, 0))) FROM io_raw_bytes $$, 'XX001', NULL,
				 'model_info: damaged magic is data_corrupted');
SELECT throws_ok($$ SELECT recsys.predict(pg_temp.raw_model(set_byte(raw, 4, 9)), 1, 10) FROM io_raw_bytes $$, 'XX001', NULL,
				 'predict: damaged version is data_corrupted');
SELECT throws_ok($$ SELECT recsys.user_vector(pg_temp.raw_model(substring(raw FROM 1 FOR length(raw) - 8)), 1) FROM io_raw_bytes $$, 'XX001', NULL,
				 'user_vector: truncated value is data_corrupted');
SELECT throws_ok($$ SELECT * FROM recsys.item_factors((SELECT pg_temp.raw_model(substring(raw FROM 1 FOR 40)) FROM io_raw_bytes)) $$, 'XX001', NULL,
				 'item_factors: value shorter than the header is data_corrupted');
SELECT throws_ok($$ SELECT recsys.model_info(pg_temp.raw_model(set_byte(raw, 22, 127))) FROM io_raw_bytes $$, 'XX001', NULL,
				 'model_info: huge n_items is data_corrupted');
SELECT throws_ok($$ SELECT pg_temp.raw_model(set_byte(raw, 12, 0))::text FROM io_raw_bytes $$, 'XX001', NULL,
				 'output: factors 0 is data_corrupted');
SELECT throws_ok($$ SELECT recsys.model_send(pg_temp.raw_model(set_byte(raw, 96, 1))) FROM io_raw_bytes $$, 'XX001', NULL,
				 'send: nonzero reserved field is data_corrupted');

-- a model stored in a table survives TOAST (storage external) unchanged
CREATE TABLE io_big AS
SELECT recsys.train_als(u, i, ((u + i) % 5 + 1)::real, '{"factors": 16, "iterations": 1}') AS m
FROM generate_series(1, 300) u, generate_series(1, 20) i;
SELECT is((SELECT m::text::recsys.model::text FROM io_big), (SELECT m::text FROM io_big), 'a toasted model round-trips');
SELECT is((SELECT (recsys.model_info(m) ->> 'bytes')::int FROM io_big), (SELECT length(recsys.model_send(m)) + 4 FROM io_big),
		  'model_info bytes of a toasted model');
SELECT is((SELECT attstorage FROM pg_attribute WHERE attrelid = 'io_big'::regclass AND attname = 'm'), 'e', 'storage is external');
SELECT is((SELECT typalign FROM pg_type WHERE oid = 'recsys.model'::regtype), 'd', 'alignment is double');

SELECT * FROM finish();
ROLLBACK;
