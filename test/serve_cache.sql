-- The model cache serves every value from its own bytes.  A model's uuid is user
-- input (the text and binary forms accept any), so a forged value carrying another
-- model's uuid must never be served in that model's place, nor that model in the
-- forged one's: by value (stored or in memory), per row (predict) and by registry
-- name, in either order, in one backend.  Also: names quoted in messages are cut.
BEGIN;
SELECT plan(32);

CREATE TEMP TABLE cf_ratings AS
	SELECT * FROM recsys.synthetic_ratings(60, 40, 1000, rank => 4, seed => 5);
CREATE TEMP TABLE cf_models (name text PRIMARY KEY, m recsys.model);
INSERT INTO cf_models
	SELECT 'a', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3, "seed": 1}')
	FROM cf_ratings;
INSERT INTO cf_models
	SELECT 'b', recsys.train_als(user_id, item_id, rating, '{"factors": 4, "iterations": 3, "seed": 2}')
	FROM cf_ratings;

-- a stored model by name (a TOAST pointer) and the same bytes rebuilt in memory
CREATE FUNCTION pg_temp.stored(name text) RETURNS recsys.model
	LANGUAGE sql STABLE AS $$ SELECT m FROM cf_models WHERE cf_models.name = $1 $$;
CREATE FUNCTION pg_temp.in_memory(name text) RETURNS recsys.model
	LANGUAGE sql STABLE AS $$ SELECT (m::text)::recsys.model FROM cf_models WHERE cf_models.name = $1 $$;
-- empties this backend's cache: a budget of 0 evicts every entry at the next look-up
CREATE FUNCTION pg_temp.empty_cache() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('recsys.model_cache_mb', '0', true);
	PERFORM recsys.recommend(pg_temp.stored('b'), 1, 1);
	PERFORM set_config('recsys.model_cache_mb', '256', true);
END $$;
-- the error message of a statement
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLERRM;
END $$;

-- what a and b serve, each loaded from its own bytes before any forgery exists
CREATE TEMP TABLE want AS
	SELECT name, r.item_id, r.score FROM cf_models, recsys.recommend(m, 3, 5, false) r;
CREATE TEMP TABLE want_p AS
	SELECT name, recsys.predict(m, 3, 7) AS p FROM cf_models;
SELECT isnt((SELECT array_agg(score ORDER BY score DESC, item_id) FROM want WHERE name = 'a'),
			(SELECT array_agg(score ORDER BY score DESC, item_id) FROM want WHERE name = 'b'),
			'models a and b serve different scores');
SELECT isnt((SELECT p FROM want_p WHERE name = 'a'), (SELECT p FROM want_p WHERE name = 'b'),
			'models a and b predict differently');

-- the forgery: b's bytes with a's uuid (binary offset 44), through the text form
INSERT INTO cf_models
	SELECT 'forged', ('recsys-model:v2:' ||
					  translate(encode(overlay(recsys.model_send(b.m)
											   PLACING substring(recsys.model_send(a.m) FROM 45 FOR 16)
											   FROM 45 FOR 16), 'base64'), E'\n', ''))::recsys.model
	FROM cf_models a, cf_models b WHERE a.name = 'a' AND b.name = 'b';
SELECT is(recsys.model_info(pg_temp.stored('forged')) ->> 'uuid',
		  recsys.model_info(pg_temp.stored('a')) ->> 'uuid', 'the forged value claims a''s uuid');
SELECT results_eq($$SELECT * FROM recsys.item_factors(pg_temp.stored('forged'))$$,
				  $$SELECT * FROM recsys.item_factors(pg_temp.stored('b'))$$,
				  'the forged value holds b''s factors');

-- by value, stored values: a then the forgery, and the forgery then a
SELECT pg_temp.empty_cache();
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.stored('a'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'stored a, served first: a''s scores');
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.stored('forged'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'b' ORDER BY score DESC, item_id$$,
				  'stored forgery after a: served from its own bytes (b''s scores)');
SELECT is((SELECT count(*) FROM recsys.model_cache()
		   WHERE uuid = (recsys.model_info(pg_temp.stored('a')) ->> 'uuid')::uuid), 2::bigint,
		  'a and the forgery are two cache entries under one uuid');
SELECT pg_temp.empty_cache();
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.stored('forged'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'b' ORDER BY score DESC, item_id$$,
				  'stored forgery, served first: b''s scores');
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.stored('a'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'stored a after the forgery: a''s scores');

-- by value, values in memory (compared by content), both orders
SELECT pg_temp.empty_cache();
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.in_memory('a'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'a in memory, served first: a''s scores');
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.in_memory('forged'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'b' ORDER BY score DESC, item_id$$,
				  'forgery in memory after a: b''s scores');
SELECT pg_temp.empty_cache();
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.in_memory('forged'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'b' ORDER BY score DESC, item_id$$,
				  'forgery in memory, served first: b''s scores');
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.in_memory('a'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'a in memory after the forgery: a''s scores');
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.stored('a'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'stored a after the in-memory forgery: a''s scores');

-- the same bytes from another row share the entry (no second load)
CREATE TEMP TABLE cf_copy AS SELECT m FROM cf_models WHERE name = 'a';
SELECT is((SELECT count(*) FROM recsys.recommend((SELECT m FROM cf_copy), 3, 5, false)), 5::bigint,
		  'a copy of a stored in another table is served');
SELECT is((SELECT count(*) FROM recsys.model_cache()
		   WHERE uuid = (recsys.model_info(pg_temp.stored('a')) ->> 'uuid')::uuid), 2::bigint,
		  'the copy shares a''s entry: still two entries under a''s uuid');

-- per row (predict remembers the last stored value between rows of a query)
SELECT pg_temp.empty_cache();
SELECT is((SELECT array_agg(p ORDER BY name)
		   FROM (SELECT name, recsys.predict(m, 3, 7) AS p FROM cf_models WHERE name <> 'b') s),
		  ARRAY[(SELECT p FROM want_p WHERE name = 'a'), (SELECT p FROM want_p WHERE name = 'b')],
		  'predict over rows of a and the forgery: each row its own model');
SELECT is((SELECT array_agg(p ORDER BY name)
		   FROM (SELECT name, recsys.predict(m, 3, 7) AS p
				 FROM (SELECT * FROM cf_models WHERE name <> 'b' ORDER BY name DESC) o) s),
		  ARRAY[(SELECT p FROM want_p WHERE name = 'a'), (SELECT p FROM want_p WHERE name = 'b')],
		  'predict over rows of the forgery and a: each row its own model');
SELECT is(recsys.predict(pg_temp.in_memory('forged'), 3, 7), (SELECT p FROM want_p WHERE name = 'b'),
		  'predict of the forgery in memory: b''s prediction');

-- by registry name: the row updated to the forgery and back
SELECT pg_temp.empty_cache();
INSERT INTO recsys.models (name, model) SELECT 'cache forgery', m FROM cf_models WHERE name = 'a';
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend('cache forgery', 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'by name, the row holds a: a''s scores');
UPDATE recsys.models SET model = (SELECT m FROM cf_models WHERE name = 'forged') WHERE name = 'cache forgery';
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend('cache forgery', 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'b' ORDER BY score DESC, item_id$$,
				  'by name, after an UPDATE to the forgery: b''s scores');
SELECT is(recsys.predict('cache forgery', 3, 7), (SELECT p FROM want_p WHERE name = 'b'),
		  'predict by name after the UPDATE: b''s prediction');
UPDATE recsys.models SET model = (SELECT m FROM cf_models WHERE name = 'a') WHERE name = 'cache forgery';
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend('cache forgery', 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'by name, after an UPDATE back to a: a''s scores');
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.stored('forged'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'b' ORDER BY score DESC, item_id$$,
				  'the stored forgery after a by name: b''s scores');
SELECT pg_temp.empty_cache();
UPDATE recsys.models SET model = (SELECT m FROM cf_models WHERE name = 'forged') WHERE name = 'cache forgery';
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend('cache forgery', 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'b' ORDER BY score DESC, item_id$$,
				  'by name, the forgery served first: b''s scores');
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend(pg_temp.stored('a'), 3, 5, false)$$,
				  $$SELECT item_id, score FROM want WHERE name = 'a' ORDER BY score DESC, item_id$$,
				  'stored a after the forgery by name: a''s scores');
SELECT is(recsys.predict(pg_temp.stored('a'), 3, 7), (SELECT p FROM want_p WHERE name = 'a'),
		  'predict of a after the forgery by name: a''s prediction');

-- names quoted in messages are cut to 64 characters
SELECT throws_ok($$SELECT * FROM recsys.recommend(repeat('x', 100000), 1, 10)$$, '42704',
				 'model "' || repeat('x', 64) || '..." does not exist',
				 'a long unknown name is quoted cut to 64 characters');
SELECT throws_ok($$SELECT * FROM recsys.recommend(repeat('é', 65), 1, 10)$$, '42704',
				 'model "' || left(repeat('é', 65), 64) || '..." does not exist',
				 'names are cut at a character, not a byte');
SELECT throws_ok($$SELECT * FROM recsys.recommend(repeat('y', 64), 1, 10)$$, '42704',
				 'model "' || repeat('y', 64) || '" does not exist',
				 'a name of 64 characters is quoted whole');
SELECT ok(length(pg_temp.error_of(format('SELECT * FROM recsys.recommend(%L::text, 1, 10)',
										 (SELECT m::text FROM cf_models WHERE name = 'a')))) < 100,
		  'a model''s text form passed as a name is not echoed whole');
SELECT ok(length(pg_temp.error_of(format('SELECT recsys.model_info(%L::text)',
										 repeat('z', 100000)))) < 100,
		  'an accessor by name does not echo a long name whole');

SELECT * FROM finish();
ROLLBACK;
