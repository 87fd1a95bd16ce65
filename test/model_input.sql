-- recsys.model input accepts only what every reader can use: options that are a
-- JSON object of known keys with in-range values (scalars, and the "index"
-- option's object of scalars: what training writes),
-- at least one user and one item, zero mean for implicit models, factors and biases
-- small enough that every score is finite, counts that agree.  Each refusal is
-- checked through text input (22P02) and binary input (22P03); what is accepted
-- is checked to work with every reader.
BEGIN;
SELECT plan(48);

CREATE TABLE mi_ratings AS
SELECT u::bigint AS user_id, (i * 10)::bigint AS item_id, ((u * 7 + i * 3) % 5 + 1)::real AS rating
FROM generate_series(1, 3) u, generate_series(1, 4) i
WHERE (u + i) % 2 = 0 OR u = 1;

-- als: 3 users, 4 items, 2 factors, biases, interactions; ials: 3 factors, neither
CREATE TABLE mi_models (name text PRIMARY KEY, m recsys.model);
INSERT INTO mi_models
SELECT 'als', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 2}') FROM mi_ratings;
INSERT INTO mi_models
SELECT 'ials', recsys.train_ials(user_id, item_id, rating, '{"factors": 3, "iterations": 2, "keep_interactions": false}') FROM mi_ratings;

CREATE FUNCTION pg_temp.bin(name text) RETURNS bytea
	LANGUAGE sql AS $$ SELECT recsys.model_send(m) FROM mi_models WHERE mi_models.name = $1 $$;
CREATE FUNCTION pg_temp.as_text(b bytea) RETURNS text
	LANGUAGE sql AS $$ SELECT 'recsys-model:v2:' || translate(encode(b, 'base64'), E'\n', '') $$;
CREATE FUNCTION pg_temp.put32(b bytea, off int, v bigint) RETURNS bytea LANGUAGE sql AS $$
	SELECT overlay(b PLACING decode(lpad(to_hex(v & 4294967295), 8, '0'), 'hex') FROM off + 1 FOR 4) $$;
CREATE FUNCTION pg_temp.put64(b bytea, off int, v bigint) RETURNS bytea LANGUAGE sql AS $$
	SELECT overlay(b PLACING decode(lpad(to_hex(v), 16, '0'), 'hex') FROM off + 1 FOR 8) $$;
CREATE FUNCTION pg_temp.get32(b bytea, off int) RETURNS bigint LANGUAGE sql AS $$
	SELECT ('x' || encode(substring(b FROM off + 1 FOR 4), 'hex'))::bit(32)::bigint $$;
-- where a section starts in the binary form (format v2: a 108-byte header, then
-- the directory of 24-byte entries: tag, element size, count, offset in the native
-- layout that has the 4-byte varlena word in front)
CREATE FUNCTION pg_temp.section_at(b bytea, tag int) RETURNS int LANGUAGE sql AS $$
	SELECT (('x' || encode(substring(b FROM 109 + 24 * i + 16 FOR 8), 'hex'))::bit(64)::bigint - 4)::int
	FROM generate_series(0, ('x' || encode(substring(b FROM 97 FOR 4), 'hex'))::bit(32)::int - 1) i
	WHERE ('x' || encode(substring(b FROM 109 + 24 * i FOR 4), 'hex'))::bit(32)::int = tag $$;
CREATE FUNCTION pg_temp.get64(b bytea, off int) RETURNS bigint LANGUAGE sql AS $$
	SELECT ('x' || encode(substring(b FROM off + 1 FOR 8), 'hex'))::bit(64)::bigint $$;
CREATE FUNCTION pg_temp.options_len(b bytea) RETURNS int LANGUAGE sql AS $$ SELECT pg_temp.get32(b, 92)::int $$;
CREATE FUNCTION pg_temp.options_at(b bytea) RETURNS int LANGUAGE sql AS $$ SELECT pg_temp.section_at(b, 1) $$;
CREATE FUNCTION pg_temp.user_ids_at(b bytea) RETURNS int LANGUAGE sql AS $$ SELECT pg_temp.section_at(b, 2) $$;
-- the model with its options section replaced by the given bytes (NUL and padding
-- added, the options' count and every later section's offset moved in the directory)
CREATE FUNCTION pg_temp.with_options(b bytea, opts bytea) RETURNS bytea LANGUAGE sql AS $$
	WITH d AS (
		SELECT pg_temp.get32(b, 96)::int AS n,
			   ((pg_temp.options_at(b) + 4 + length(opts) + 1 + 7) / 8) * 8
			   - ((pg_temp.options_at(b) + 4 + pg_temp.options_len(b) + 7) / 8) * 8 AS shift)
	SELECT pg_temp.put32(substring(b FROM 1 FOR 108), 92, length(opts) + 1)
		   || (SELECT string_agg(CASE WHEN i = 0
									  THEN pg_temp.put64(substring(b FROM 109 + 24 * i FOR 24), 8, length(opts) + 1)
									  ELSE pg_temp.put64(substring(b FROM 109 + 24 * i FOR 24), 16,
														 pg_temp.get64(b, 108 + 24 * i + 16) + d.shift) END,
								 ''::bytea ORDER BY i)
			   FROM generate_series(0, d.n - 1) i)
		   || opts || '\x00'::bytea
		   || decode(repeat('00', ((pg_temp.options_at(b) + 4 + length(opts) + 1 + 7) / 8) * 8
								   - (pg_temp.options_at(b) + 4 + length(opts) + 1)), 'hex')
		   || substring(b FROM pg_temp.user_ids_at(b) + 1)
	FROM d $$;
CREATE FUNCTION pg_temp.options_of(b bytea) RETURNS text LANGUAGE sql AS $$
	SELECT convert_from(substring(b FROM pg_temp.options_at(b) + 1 FOR pg_temp.options_len(b) - 1), 'UTF8') $$;
-- binary input through COPY (FORMAT binary)
CREATE TABLE mi_recv (m recsys.model);
CREATE FUNCTION pg_temp.recv(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := current_setting('data_directory') || '/recsys_model_input_test.bin';
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
	EXECUTE format('COPY mi_recv FROM %L (FORMAT binary)', path);
	RETURN 'ok';
END $$;
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS TABLE (state text, msg text) LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN QUERY SELECT 'no error'::text, ''::text;
EXCEPTION WHEN OTHERS THEN
	RETURN QUERY SELECT SQLSTATE::text, SQLERRM::text;
END $$;

-- the helper rebuilds a model byte for byte from its own options
SELECT is(pg_temp.with_options(pg_temp.bin('als'), convert_to(pg_temp.options_of(pg_temp.bin('als')), 'UTF8')),
		  pg_temp.bin('als'), 'with_options(model, its own options) is the model');

-- ------------------------------------------------------------ refused values
-- (layout offsets: als sections from user_ids U: item_ids U+24, user_factors U+56,
-- item_factors U+80, user_bias U+112, item_bias U+128, item_count U+144; ials:
-- item_factors U+96, item_count U+144)
CREATE TABLE mi_bad (what text, b bytea, msg text);
INSERT INTO mi_bad (what, b, msg) VALUES
	('regularization 1e400', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"factors": 2, "regularization": 1e400}', 'UTF8')),
	 'option "regularization" must be a number between 0 and 1e+06, got 1000000000000000000000000000000000000000... (401 bytes)'),
	('regularization below float8', pg_temp.with_options(pg_temp.bin('ials'), convert_to('{"regularization": 1e-400}', 'UTF8')),
	 'option "regularization" must be 0 or at least 2.22507e-308 in magnitude, got 0.00000000000000000000000000000000000000... (402 bytes)'),
	('regularization -1', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"regularization": -1}', 'UTF8')),
	 'option "regularization" must be a number between 0 and 1e+06, got -1'),
	('alpha null', pg_temp.with_options(pg_temp.bin('ials'), convert_to('{"alpha": null}', 'UTF8')),
	 'option "alpha" must be a number between 0 and 1e+06, got null'),
	('\u0000 in a key', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"factors": 2, "x\u0000": 1}', 'UTF8')),
	 'options hold an escape sequence at offset 17'),
	('\u0000 in a value', pg_temp.with_options(pg_temp.bin('ials'), convert_to('{"solver": "\u0000"}', 'UTF8')),
	 'options hold an escape sequence at offset 12'),
	('an escaped key', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"f\u0061ctors": 2}', 'UTF8')),
	 'options hold an escape sequence at offset 3'),
	('invalid UTF-8', pg_temp.with_options(pg_temp.bin('als'), '\x7b226b223a2022ff227d'::bytea),
	 'options hold byte 0xFF at offset 7, only printable ASCII is allowed'),
	('a control character', pg_temp.with_options(pg_temp.bin('als'), '\x7b226b223a2022017d'::bytea),
	 'options hold byte 0x01 at offset 7, only printable ASCII is allowed'),
	('an unknown key', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"factors": 2, "bogus": 1}', 'UTF8')),
	 'unknown option "bogus" for train_als'),
	('an implicit-only key on als', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"alpha": 1}', 'UTF8')),
	 'option "alpha" applies only to train_ials, train_knn and train_hybrid'),
	('factors disagree', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"factors": 3}', 'UTF8')),
	 'option "factors" is 3 but the model has 2 factors'),
	('biases disagree', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"biases": false}', 'UTF8')),
	 'option "biases" is false but the model has biases'),
	('keep_interactions disagrees', pg_temp.with_options(pg_temp.bin('ials'), convert_to('{"keep_interactions": true}', 'UTF8')),
	 'option "keep_interactions" is true but the model does not keep its interactions'),
	('an array', pg_temp.with_options(pg_temp.bin('als'), convert_to('[1]', 'UTF8')),
	 'options are not a JSON object'),
	('empty options', pg_temp.with_options(pg_temp.bin('als'), ''::bytea),
	 'options are not a JSON object'),
	('an object where a number belongs', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"factors": {"a": 1}}', 'UTF8')),
	 'option "factors" must be an integer between 1 and 1024, got an array or object'),
	('an object in an object', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"index": {"lists": {"a": 1}}}', 'UTF8')),
	 'options value at offset 20 is not a number of at most 64 characters, a string, true, false, null or an object of those'),
	('an unknown index key', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"index": {"list": 3}}', 'UTF8')),
	 'unknown index option "list" (the options are lists, probes, iterations, sample, seed and store_vectors)'),
	('an index option out of range', pg_temp.with_options(pg_temp.bin('ials'), convert_to('{"index": {"seed": -1}}', 'UTF8')),
	 'index option "seed" must be between 0 and 2147483647, got -1'),
	('deep nesting', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"a": ' || repeat('[', 100000), 'UTF8')),
	 'options value at offset 6 is not a number of at most 64 characters, a string, true, false, null or an object of those'),
	('an exponent numeric cannot hold', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"regularization": 1e99999}', 'UTF8')),
	 'options value at offset 19 is not a number of at most 64 characters, a string, true, false, null or an object of those'),
	('a trailing comma', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"factors": 2,}', 'UTF8')),
	 'options are not a JSON object of scalars and objects of scalars (syntax error at offset 14)'),
	('trailing text', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"factors": 2} x', 'UTF8')),
	 'options are not a JSON object of scalars and objects of scalars (syntax error at offset 15)'),
	('an unterminated string', pg_temp.with_options(pg_temp.bin('als'), convert_to('{"a": "}', 'UTF8')),
	 'options are not a JSON object of scalars and objects of scalars (syntax error at offset 6)'),
	('no items', pg_temp.put32(pg_temp.bin('als'), 20, 0),
	 'a model has at least one user and one item, got 3 users and 0 items'),
	('no users', pg_temp.put32(pg_temp.bin('ials'), 16, 0),
	 'a model has at least one user and one item, got 0 users and 4 items'),
	('implicit with a mean', pg_temp.put32(pg_temp.bin('ials'), 60, 1065353216),
	 'an implicit model has global_mean 0, got 1'),
	('a huge mean', pg_temp.put32(pg_temp.bin('als'), 60, 2123789977),
	 'global_mean 1e+38 is beyond the limit 1e+37'),
	('a user factor of 2e17', pg_temp.put32(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 56, 1546756796),
	 'a factor of user 1 is 2e+17, it must be finite and at most 1e+17 in magnitude'),
	('an item factor of -2e17', pg_temp.put32(pg_temp.bin('ials'), pg_temp.user_ids_at(pg_temp.bin('ials')) + 96 + 12 + 8, -600726852),
	 'a factor of item 20 is -2e+17, it must be finite and at most 1e+17 in magnitude'),
	('an infinite item bias', pg_temp.put32(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 128 + 4, 2139095040),
	 'the bias of item 20 is Infinity, it must be finite and at most 1e+37 in magnitude'),
	('a user bias of 1e38', pg_temp.put32(pg_temp.bin('als'), pg_temp.user_ids_at(pg_temp.bin('als')) + 112, 2123789977),
	 'the bias of user 1 is 1e+38, it must be finite and at most 1e+37 in magnitude'),
	('item counts disagree with n_interactions',
	 pg_temp.put32(pg_temp.bin('ials'), pg_temp.user_ids_at(pg_temp.bin('ials')) + 144,
				   pg_temp.get32(pg_temp.bin('ials'), pg_temp.user_ids_at(pg_temp.bin('ials')) + 144) + 1),
	 'item interaction counts add up to 9, the header says 8'),
	('more interactions than pairs', pg_temp.put64(pg_temp.bin('ials'), 28, 13),
	 'interaction count 13 out of range 0..12');

SELECT is((SELECT count(*) FROM mi_bad), 35::bigint, 'thirty-five refused values');
SELECT is_empty($$ SELECT what, e.state FROM mi_bad, pg_temp.error_of(format('SELECT %L::recsys.model', pg_temp.as_text(b))) e
				   WHERE e.state <> '22P02' $$,
				'text input refuses every one with 22P02');
SELECT is_empty($$ SELECT what, e.state FROM mi_bad, pg_temp.error_of(format('SELECT pg_temp.recv(%L::bytea)', b)) e
				   WHERE e.state <> '22P03' $$,
				'binary input refuses every one with 22P03');
SELECT is((SELECT count(*) FROM mi_recv), 0::bigint, 'nothing refused was stored');
-- and each says why
SELECT is(e.msg, 'invalid recsys.model value: ' || mi_bad.msg, what)
FROM mi_bad, pg_temp.error_of(format('SELECT %L::recsys.model', pg_temp.as_text(b))) e
ORDER BY what;

-- ------------------------------------------------------------ accepted values
-- what is accepted works with every reader: model_info, serving (which reads
-- regularization and alpha from the options), evaluate (valid JSON), dump
-- (each gets its own uuid, the cache key: a copy with the trained model's uuid
-- would be served from the cache entry of another copy)
CREATE FUNCTION pg_temp.with_uuid(b bytea, n int) RETURNS bytea LANGUAGE sql AS $$ SELECT set_byte(b, 44, n) $$;
CREATE TABLE mi_good (what text, m recsys.model);
INSERT INTO mi_good VALUES
	('empty options', pg_temp.as_text(pg_temp.with_uuid(pg_temp.with_options(pg_temp.bin('als'), convert_to('{}', 'UTF8')), 1))::recsys.model),
	('spaced options', pg_temp.as_text(pg_temp.with_uuid(pg_temp.with_options(pg_temp.bin('ials'),
		convert_to(E' {\t"factors" : 3 ,\n "alpha": 2.5e1, "solver": "cholesky" } ', 'UTF8')), 2))::recsys.model),
	('small regularization', pg_temp.as_text(pg_temp.with_uuid(pg_temp.with_options(pg_temp.bin('ials'),
		convert_to('{"regularization": 5e-2}', 'UTF8')), 3))::recsys.model),
	('factors and biases at the limits', pg_temp.as_text(pg_temp.with_uuid(
		pg_temp.put32(pg_temp.put32(pg_temp.put32(pg_temp.put32(pg_temp.bin('als'),
			pg_temp.user_ids_at(pg_temp.bin('als')) + 56, 1538368188),      -- user 1: 1e17
			pg_temp.user_ids_at(pg_temp.bin('als')) + 80 + 4, -609115460),  -- item 10: -1e17
			pg_temp.user_ids_at(pg_temp.bin('als')) + 112, 2096152002),     -- user 1 bias: 1e37
			pg_temp.user_ids_at(pg_temp.bin('als')) + 128, -51331646),      -- item 10 bias: -1e37
		4))::recsys.model);
SELECT is((SELECT count(*) FROM mi_good), 4::bigint, 'four unusual but valid models are accepted');
SELECT is_empty($$ SELECT what FROM mi_good WHERE recsys.model_info(m) ->> 'n_items' <> '4' $$,
				'model_info works for each');
SELECT is((SELECT recsys.model_info(m) -> 'options' FROM mi_good WHERE what = 'spaced options'),
		  '{"alpha": 25, "factors": 3, "solver": "cholesky"}'::jsonb, 'model_info shows the options as JSON');
SELECT is_empty($$ SELECT what FROM mi_good WHERE m::text::recsys.model::text <> m::text $$,
				'each round-trips through text');
-- (a finite vector, or 22003 when the limits make the fold-in overflow; never NaN)
SELECT is_empty($$ SELECT what, e.state FROM mi_good,
					 pg_temp.error_of(format($q$ SELECT CASE WHEN recsys.norm(recsys.fold_in(%L::recsys.model, '{10, 20}', '{1, 2}')) < 1e38
													   THEN 1 ELSE 1 / 0 END $q$, m)) e
				   WHERE e.state NOT IN ('no error', '22003')
					  OR (e.state = '22003') <> (what = 'factors and biases at the limits') $$,
				'fold_in works for each (serving reads regularization and alpha from the options)');
SELECT is_empty($$ SELECT what, score FROM mi_good, recsys.recommend(m, 1::bigint, 4, false) r
				   WHERE score::text IN ('NaN', 'Infinity', '-Infinity') $$,
				'recommend gives finite scores for each, at the limits too');
SELECT is_empty($$ SELECT what FROM mi_good
				   WHERE jsonb_typeof(recsys.evaluate(m, 'SELECT 1, 10, 4.0 UNION ALL SELECT 2, 20, 5', 2) -> 'coverage') <> 'number' $$,
				'evaluate returns a JSON object with numbers for each');
SELECT is((SELECT recsys.evaluate(m, 'SELECT 1, 10, 4.0', 2) ->> 'rmse' IS NOT NULL FROM mi_good WHERE what = 'factors and biases at the limits'),
		  true, 'evaluate at the limits: rmse is a number');

SELECT * FROM finish();
ROLLBACK;
