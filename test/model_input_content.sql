-- recsys.model input of content, text content (TF-IDF) and hybrid models: values
-- crafted from trained ones with one section broken (vocabulary out of order or
-- without its NUL, idf NaN, weights NaN, above 1 or not a unit row, postings past
-- the items, counts that disagree, truncation, flags and means these kinds cannot
-- have, an explicit flag the options deny) are refused through text input (22P02)
-- and binary input (22P03) with the reason, never stored; what was trained goes
-- through both unchanged.
BEGIN;
SELECT plan(15);

CREATE TABLE mc_docs (id bigint, body text);
INSERT INTO mc_docs VALUES
	(1, 'red apple pie'), (2, 'green apple tart'), (3, 'red cherry pie'),
	(4, 'chocolate cake'), (5, 'lemon tart'), (6, 'apple crumble');
CREATE TABLE mc_plays (user_id bigint, item_id bigint, value real);
INSERT INTO mc_plays VALUES (1, 1, 2), (1, 3, 1), (2, 2, 1), (2, 5, 3), (3, 4, 1), (4, 6, 1);
CREATE TABLE mc_models (name text PRIMARY KEY, m recsys.model);
INSERT INTO mc_models
SELECT 'text', recsys.train_content(p.user_id, d.id, p.value, to_tsvector('english', d.body))
FROM mc_docs d LEFT JOIN mc_plays p ON p.item_id = d.id;
INSERT INTO mc_models
SELECT 'hybrid', recsys.train_hybrid(p.user_id, d.id, p.value,
									 format('[%s, %s, 1]', d.id, d.id % 3)::recsys.vec,
									 '{"factors": 2, "iterations": 3}')
FROM mc_docs d LEFT JOIN mc_plays p ON p.item_id = d.id;
INSERT INTO mc_models
SELECT 'hybrid_explicit', recsys.train_hybrid(p.user_id, d.id, p.value,
											  format('[%s, %s, 1]', d.id, d.id % 3)::recsys.vec,
											  '{"factors": 2, "iterations": 3, "explicit": true}')
FROM mc_docs d LEFT JOIN mc_plays p ON p.item_id = d.id;
INSERT INTO mc_models
SELECT 'content', recsys.train_content(p.user_id, d.id, p.value, format('[%s, %s, 1]', d.id, d.id % 3)::recsys.vec)
FROM mc_docs d LEFT JOIN mc_plays p ON p.item_id = d.id;

-- the binary form: a 108-byte header, then directory entries of 24 bytes (tag,
-- element size, count, offset counted with the 4-byte varlena word in front)
CREATE FUNCTION pg_temp.bin(name text) RETURNS bytea
	LANGUAGE sql AS $$ SELECT recsys.model_send(m) FROM mc_models WHERE mc_models.name = $1 $$;
CREATE FUNCTION pg_temp.as_text(b bytea) RETURNS text
	LANGUAGE sql AS $$ SELECT 'recsys-model:v2:' || translate(encode(b, 'base64'), E'\n', '') $$;
CREATE FUNCTION pg_temp.put(b bytea, off int, v bytea) RETURNS bytea LANGUAGE sql AS $$
	SELECT overlay(b PLACING v FROM off + 1 FOR length(v)) $$;
CREATE FUNCTION pg_temp.get64(b bytea, off int) RETURNS bigint LANGUAGE sql AS $$
	SELECT ('x' || encode(substring(b FROM off + 1 FOR 8), 'hex'))::bit(64)::bigint $$;
-- the directory entry of a tag, and where its section starts in the binary form
CREATE FUNCTION pg_temp.entry_at(b bytea, tag int) RETURNS int LANGUAGE sql AS $$
	SELECT 108 + 24 * i
	FROM generate_series(0, ('x' || encode(substring(b FROM 97 FOR 4), 'hex'))::bit(32)::int - 1) i
	WHERE ('x' || encode(substring(b FROM 109 + 24 * i FOR 4), 'hex'))::bit(32)::int = tag $$;
CREATE FUNCTION pg_temp.section_at(b bytea, tag int) RETURNS int LANGUAGE sql AS $$
	SELECT (pg_temp.get64(b, pg_temp.entry_at(b, tag) + 16) - 4)::int $$;
-- the model with element e of section tag replaced by the given bytes
CREATE FUNCTION pg_temp.set_elem(b bytea, tag int, e int, v bytea) RETURNS bytea LANGUAGE sql AS $$
	SELECT pg_temp.put(b, pg_temp.section_at(b, tag) + e * length(v), v) $$;
-- the float4 at a byte offset (a normal number, as TF-IDF weights are)
CREATE FUNCTION pg_temp.f4(b bytea, off int) RETURNS float8 LANGUAGE sql AS $$
	SELECT (1 - 2 * (get_byte(b, off) >> 7))
		   * (1 + (((get_byte(b, off + 1) & 127) << 16) | (get_byte(b, off + 2) << 8) | get_byte(b, off + 3)) / 8388608.0)
		   * 2 ^ ((((get_byte(b, off) & 127) << 1) | (get_byte(b, off + 1) >> 7)) - 127) $$;
CREATE TABLE mc_recv (m recsys.model);
CREATE FUNCTION pg_temp.recv(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := current_setting('data_directory') || '/recsys_model_input_content_test.bin';
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, path);
	EXECUTE format('COPY mc_recv FROM %L (FORMAT binary)', path);
	RETURN 'ok';
END $$;
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS TABLE (state text, msg text) LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN QUERY SELECT 'no error'::text, ''::text;
EXCEPTION WHEN OTHERS THEN
	RETURN QUERY SELECT SQLSTATE::text, SQLERRM::text;
END $$;

-- the text model's vocabulary, in order: what the vocabulary cases rely on
SELECT is(substring(pg_temp.bin('text') FROM pg_temp.section_at(pg_temp.bin('text'), 22) + 1
					 FOR pg_temp.get64(pg_temp.bin('text'), pg_temp.entry_at(pg_temp.bin('text'), 22) + 8)::int),
		  (SELECT string_agg(convert_to(w, 'UTF8') || '\x00'::bytea, ''::bytea ORDER BY w COLLATE "C")
		   FROM unnest(ARRAY['appl', 'cake', 'cherri', 'chocol', 'crumbl', 'green', 'lemon', 'pie', 'red', 'tart']) w),
		  'the vocabulary section holds the lexemes in byte order, each NUL-terminated');

-- ------------------------------------------------------------ refused values
-- (tags: 19 feature rows, 20 feature indexes, 21 feature values, 22 vocabulary,
-- 23 idf, 26 term rows, 27 term items, 28 term values; 4 user and 5 item factors)
CREATE TABLE mc_bad (what text, b bytea, msg text);
INSERT INTO mc_bad (what, b, msg) VALUES
	('vocabulary out of order', pg_temp.set_elem(pg_temp.bin('text'), 22, 0, convert_to('z', 'UTF8')),
	 'vocabulary term 1 is not after the one before'),
	('vocabulary with a duplicate term', pg_temp.set_elem(pg_temp.bin('text'), 22, 0, convert_to('cake', 'UTF8')),
	 'vocabulary term 1 is not after the one before'),
	('vocabulary with an empty term', pg_temp.set_elem(pg_temp.bin('text'), 22, 0, '\x00'::bytea),
	 'vocabulary term 0 is empty'),
	('vocabulary without its final NUL',
	 pg_temp.put(pg_temp.bin('text'), pg_temp.section_at(pg_temp.bin('text'), 22) + 55, convert_to('x', 'UTF8')),
	 'vocabulary does not end in a NUL'),
	('vocabulary offset out of range',
	 pg_temp.put(pg_temp.bin('text'), pg_temp.entry_at(pg_temp.bin('text'), 22) + 16, int8send(1::bigint << 40)),
	 'section vocabulary at offset 1099511627776 is beyond the largest model size'),
	('idf NaN', pg_temp.set_elem(pg_temp.bin('text'), 23, 2, float4send('NaN')),
	 'idf of term 2 must be positive and finite'),
	('idf infinite', pg_temp.set_elem(pg_temp.bin('text'), 23, 0, float4send('Infinity')),
	 'idf of term 0 must be positive and finite'),
	('idf count disagrees with the vocabulary',
	 pg_temp.put(pg_temp.bin('text'), pg_temp.entry_at(pg_temp.bin('text'), 23) + 8, int8send(11)),
	 'section term rows has 11 elements, the header''s counts give 12'),
	('a NaN weight', pg_temp.set_elem(pg_temp.bin('text'), 21, 0, float4send('NaN')),
	 'feature weight 0 must be positive and at most 1'),
	('a weight above 1', pg_temp.set_elem(pg_temp.bin('text'), 21, 1, float4send(1.5)),
	 'feature weight 1 must be positive and at most 1'),
	('a negative weight', pg_temp.set_elem(pg_temp.bin('text'), 21, 1, float4send(-0.5)),
	 'feature weight 1 must be positive and at most 1'),
	('a row that is not a unit vector', pg_temp.set_elem(pg_temp.bin('text'), 21, 0, float4send(0.001)),
	 NULL),
	('a term past the vocabulary', pg_temp.set_elem(pg_temp.bin('text'), 20, 0, int4send(10)),
	 'feature index 10 out of range 0..9'),
	('item rows past the entries', pg_temp.set_elem(pg_temp.bin('text'), 19, 6, int8send(99)),
	 'feature rows must run from 0 to 15'),
	('a posting past the items', pg_temp.set_elem(pg_temp.bin('text'), 27, 0, int4send(6)),
	 'term rows are not the transpose of the feature rows at item 1'),
	('a posting at the largest item index', pg_temp.set_elem(pg_temp.bin('text'), 27, 0, int4send(2147483647)),
	 'term rows are not the transpose of the feature rows at item 1'),
	('a negative posting', pg_temp.set_elem(pg_temp.bin('text'), 27, 0, int4send(-1)),
	 'term rows are not the transpose of the feature rows at item 1'),
	('a posting weight that differs', pg_temp.set_elem(pg_temp.bin('text'), 28, 0, float4send(0.25)),
	 'term rows are not the transpose of the feature rows at item 1'),
	('term rows past the entries', pg_temp.set_elem(pg_temp.bin('text'), 26, 10, int8send(16)),
	 'term rows must run from 0 to 15'),
	('term entries fewer than item entries',
	 pg_temp.put(pg_temp.bin('text'), pg_temp.entry_at(pg_temp.bin('text'), 27) + 8, int8send(14)),
	 'section term items has 14 elements, the header''s counts give 15'),
	('a text model truncated', substring(pg_temp.bin('text') FROM 1 FOR length(pg_temp.bin('text')) - 8),
	 format('model truncated: %s bytes, its header describes %s', length(pg_temp.bin('text')) - 8, length(pg_temp.bin('text')))),
	('a text model with factors', pg_temp.put(pg_temp.bin('text'), 12, int4send(2)),
	 'a content_text model has no factors, got factors 2'),
	('a text model with a mean', pg_temp.put(pg_temp.bin('text'), 60, float4send(1)),
	 'a content_text model without biases has global_mean 0, got 1'),
	('an explicit content model', pg_temp.put(pg_temp.bin('content'), 8, int4send(6 | 16)),
	 'a content model cannot have the explicit flag'),
	('a content item that is not a unit vector', pg_temp.set_elem(pg_temp.bin('content'), 5, 0, float4send(2)),
	 NULL),
	('a NaN hybrid factor', pg_temp.set_elem(pg_temp.bin('hybrid'), 5, 3, float4send('NaN')),
	 'a factor of item 2 is NaN, it must be finite and at most 1e+17 in magnitude'),
	('an implicit hybrid model with a mean', pg_temp.put(pg_temp.bin('hybrid'), 60, float4send(2.5)),
	 'an implicit model has global_mean 0, got 2.5'),
	('a hybrid model with biases', pg_temp.put(pg_temp.bin('hybrid'), 8, int4send(6 | 1)),
	 'an implicit model cannot have biases'),
	('an explicit flag the options deny', pg_temp.put(pg_temp.bin('hybrid'), 8, int4send(6 | 16)),
	 'option "explicit" is false but the model is explicit'),
	('an implicit flag the options deny',
	 pg_temp.put(pg_temp.put(pg_temp.bin('hybrid_explicit'), 8, int4send(6)), 60, float4send(0)),
	 'option "explicit" is true but the model is implicit'),
	('a hybrid model truncated in its directory', substring(pg_temp.bin('hybrid') FROM 1 FOR 300),
	 'model truncated: 300 bytes, the header and its directory of 9 sections need 324'),
	('an unknown algorithm', pg_temp.put(pg_temp.bin('text'), 6, '\x0008'::bytea),
	 'unknown algorithm code 8');

SELECT is((SELECT count(*) FROM mc_bad), 32::bigint, 'thirty-two refused values');
SELECT is_empty($$ SELECT what, e.state FROM mc_bad, pg_temp.error_of(format('SELECT %L::recsys.model', pg_temp.as_text(b))) e
				   WHERE e.state <> '22P02' $$,
				'text input refuses every one with 22P02');
SELECT is_empty($$ SELECT what, e.state FROM mc_bad, pg_temp.error_of(format('SELECT pg_temp.recv(%L::bytea)', b)) e
				   WHERE e.state <> '22P03' $$,
				'binary input refuses every one with 22P03');
SELECT is((SELECT count(*) FROM mc_recv), 0::bigint, 'nothing refused was stored');
-- and each says why (the same through both paths)
SELECT is_empty($$ SELECT what, t.msg FROM mc_bad, pg_temp.error_of(format('SELECT %L::recsys.model', pg_temp.as_text(b))) t
				   WHERE mc_bad.msg IS NOT NULL AND t.msg <> 'invalid recsys.model value: ' || mc_bad.msg $$,
				'text input says why');
SELECT is_empty($$ SELECT what, r.msg FROM mc_bad, pg_temp.error_of(format('SELECT pg_temp.recv(%L::bytea)', b)) r
				   WHERE mc_bad.msg IS NOT NULL AND r.msg <> 'invalid recsys.model value: ' || mc_bad.msg $$,
				'binary input says why');
SELECT matches((SELECT e.msg FROM mc_bad, pg_temp.error_of(format('SELECT %L::recsys.model', pg_temp.as_text(b))) e
				WHERE what = 'a row that is not a unit vector'),
			   '^invalid recsys.model value: the feature row of item 1 has squared norm 0\.[0-9]+, it must be a unit vector or zero$',
			   'a TF-IDF row must be a unit vector');
SELECT matches((SELECT e.msg FROM mc_bad, pg_temp.error_of(format('SELECT %L::recsys.model', pg_temp.as_text(b))) e
				WHERE what = 'a content item that is not a unit vector'),
			   '^invalid recsys.model value: the feature vector of item 1 has squared norm [1-9][0-9.]*, it must be a unit vector or zero$',
			   'a content model''s item features must be a unit vector');

-- ------------------------------------------------------------ accepted values
SELECT is_empty($$ SELECT name FROM mc_models WHERE pg_temp.as_text(pg_temp.bin(name))::recsys.model::text <> m::text $$,
				'each trained kind goes through text input unchanged');
SELECT is_empty($$ SELECT name, e.state FROM mc_models, pg_temp.error_of(format('SELECT pg_temp.recv(%L::bytea)', pg_temp.bin(name))) e
				   WHERE e.state <> 'no error' $$,
				'and through binary input');
SELECT is((SELECT count(*) FROM mc_recv), 4::bigint, 'the four were stored');
SELECT is_empty($$ SELECT a.name FROM mc_models a JOIN mc_recv b ON recsys.model_send(b.m) = recsys.model_send(a.m)
				   GROUP BY a.name HAVING count(*) <> 1
				   UNION ALL SELECT name FROM mc_models WHERE NOT EXISTS
					 (SELECT 1 FROM mc_recv b WHERE recsys.model_send(b.m) = recsys.model_send(mc_models.m)) $$,
				'byte for byte');
SELECT is_empty($$ SELECT a.name FROM mc_models a JOIN mc_recv b ON recsys.model_send(b.m) = recsys.model_send(a.m)
				   WHERE (SELECT array_agg(row(item_id, score, fallback) ORDER BY rank) FROM recsys.recommend(a.m, 1::bigint, 6))
						 IS DISTINCT FROM
						 (SELECT array_agg(row(item_id, score, fallback) ORDER BY rank) FROM recsys.recommend(b.m, 1::bigint, 6)) $$,
				'a stored copy serves what the trained model serves');
-- a row refused for its norm is one training can never write: its sum of squares is 1
SELECT is_empty($$ SELECT i FROM generate_series(0, 5) i,
					 LATERAL (SELECT pg_temp.get64(pg_temp.bin('text'), pg_temp.section_at(pg_temp.bin('text'), 19) + 8 * i) AS a,
									 pg_temp.get64(pg_temp.bin('text'), pg_temp.section_at(pg_temp.bin('text'), 19) + 8 * i + 8) AS z) r,
					 LATERAL (SELECT sum(pg_temp.f4(pg_temp.bin('text'), pg_temp.section_at(pg_temp.bin('text'), 21) + 4 * e::int) ^ 2) AS ss
							  FROM generate_series(r.a, r.z - 1) e) s
				   WHERE abs(ss - 1) > 1e-6 $$,
				'every trained TF-IDF row is a unit vector to float precision');

SELECT * FROM finish();
ROLLBACK;
