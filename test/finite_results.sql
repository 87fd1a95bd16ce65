-- No NaN or infinity leaves recsys: every vec, score, prediction and metric computed
-- from finite input is finite, or the call raises 22003 naming the input.  Valid
-- models are bounded (model.h) so that nothing computed from them alone can
-- overflow; what a caller passes in (fold-in values, a profile vector, metric
-- inputs) is checked where it could.
BEGIN;
SELECT plan(28);

CREATE TABLE fr_ratings AS
SELECT u::bigint AS user_id, (i * 10)::bigint AS item_id, ((u * 7 + i * 3) % 5 + 1)::real AS rating
FROM generate_series(1, 3) u, generate_series(1, 4) i
WHERE (u + i) % 2 = 0 OR u = 1;
CREATE TABLE fr_models (name text PRIMARY KEY, m recsys.model);
INSERT INTO fr_models
SELECT 'als', recsys.train_als(user_id, item_id, rating, '{"factors": 2, "iterations": 2}') FROM fr_ratings;
INSERT INTO fr_models
-- linear confidence: with the default log confidence no finite weight overflows
SELECT 'ials', recsys.train_ials(user_id, item_id, rating, '{"factors": 3, "iterations": 2, "confidence": "linear"}') FROM fr_ratings;

-- the als model with user 1's first factor and item 10's second at +-1e17 and their
-- biases at +-1e37: the largest values a model may hold (and its own uuid)
CREATE FUNCTION pg_temp.put32(b bytea, off int, v bigint) RETURNS bytea LANGUAGE sql AS $$
	SELECT overlay(b PLACING decode(lpad(to_hex(v & 4294967295), 8, '0'), 'hex') FROM off + 1 FOR 4) $$;
-- where a section starts in the binary form (format v2: a 108-byte header, then
-- the directory of 24-byte entries: tag, element size, count, offset in the native
-- layout that has the 4-byte varlena word in front)
CREATE FUNCTION pg_temp.section_at(b bytea, tag int) RETURNS int LANGUAGE sql AS $$
	SELECT (('x' || encode(substring(b FROM 109 + 24 * i + 16 FOR 8), 'hex'))::bit(64)::bigint - 4)::int
	FROM generate_series(0, ('x' || encode(substring(b FROM 97 FOR 4), 'hex'))::bit(32)::int - 1) i
	WHERE ('x' || encode(substring(b FROM 109 + 24 * i FOR 4), 'hex'))::bit(32)::int = tag $$;
CREATE FUNCTION pg_temp.user_ids_at(b bytea) RETURNS int LANGUAGE sql AS $$ SELECT pg_temp.section_at(b, 2) $$;
CREATE FUNCTION pg_temp.at_limits(b bytea) RETURNS recsys.model LANGUAGE sql AS $$
	SELECT ('recsys-model:v2:' || translate(encode(set_byte(
		pg_temp.put32(pg_temp.put32(pg_temp.put32(pg_temp.put32(b,
			pg_temp.user_ids_at(b) + 56, 1538368188),      -- user 1, factor 1: 1e17
			pg_temp.user_ids_at(b) + 80 + 4, -609115460),  -- item 10, factor 2: -1e17
			pg_temp.user_ids_at(b) + 112, 2096152002),     -- user 1 bias: 1e37
			pg_temp.user_ids_at(b) + 128, -51331646),      -- item 10 bias: -1e37
		44, 77), 'base64'), E'\n', ''))::recsys.model $$;
INSERT INTO fr_models SELECT 'limits', pg_temp.at_limits(recsys.model_send(m)) FROM fr_models WHERE name = 'als';

-- true if a real is neither NaN nor infinite
CREATE FUNCTION pg_temp.finite(x float8) RETURNS bool LANGUAGE sql AS $$
	SELECT x IS NOT NULL AND x NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) $$;
CREATE FUNCTION pg_temp.finite_vec(v recsys.vec) RETURNS bool LANGUAGE sql AS $$
	SELECT bool_and(pg_temp.finite(x)) FROM unnest(v::float8[]) x $$;

-- ---------------------------------------------------------------- fold_in
SELECT throws_ok($$ SELECT recsys.fold_in(m, '{10, 20}', '{3e38, 3e38}') FROM fr_models WHERE name = 'als' $$,
				 '22003', 'values are too large for fold-in: the user vector would overflow type real',
				 'explicit fold_in of huge values: 22003, not a vector of NaN');
SELECT throws_ok($$ SELECT recsys.fold_in(m, '{10, 20}', '{3e38, 3e38}') FROM fr_models WHERE name = 'ials' $$,
				 '22003', 'values are too large for fold-in: the user vector would overflow type real',
				 'implicit fold_in of huge values: 22003');
SELECT throws_ok($$ SELECT recsys.fold_in(m, '{10, 10}', '{3e38, 3e38}') FROM fr_models WHERE name = 'ials' $$,
				 '22003', NULL, 'implicit fold_in whose repeated weights add up beyond real: 22003');
SELECT throws_ok($$ SELECT recsys.fold_in(m, '{10}', '{-3e38}') FROM fr_models WHERE name = 'als' $$,
				 '22003', NULL, 'one huge negative rating: 22003');
SELECT ok((SELECT pg_temp.finite_vec(recsys.fold_in(m, '{10, 20}', '{1e6, -1e6}')) FROM fr_models WHERE name = 'als'),
		  'large but representable values fold in to a finite vector');
SELECT ok((SELECT pg_temp.finite_vec(recsys.fold_in(m, '{10, 20}', '{1e6, 1e6}')) FROM fr_models WHERE name = 'ials'),
		  'implicit too');

-- ---------------------------------------------------------------- recommend by vector
SELECT throws_ok($$ SELECT * FROM recsys.recommend_by_vector((SELECT m FROM fr_models WHERE name = 'als'), '[3e38,3e38]'::recsys.vec, 3) $$,
				 '22003', 'user_vector is too large for this model: scores overflow type real',
				 'recommend by a huge vector: 22003, not Infinity scores');
SELECT throws_ok($$ SELECT * FROM recsys.recommend_by_vector((SELECT m FROM fr_models WHERE name = 'limits'), '[1,1e30]'::recsys.vec, 1) $$,
				 '22003', NULL, 'one item''s score overflowing is enough, even below the top n');
SELECT throws_ok($$ SELECT * FROM recsys.recommend_by_vector((SELECT m FROM fr_models WHERE name = 'limits'), '[1,1e30]'::recsys.vec, 3, '{10}') $$,
				 '22003', NULL, 'with candidates: 22003 when a candidate''s score overflows');
SELECT throws_ok($$ SELECT * FROM recsys.recommend_by_vector((SELECT m FROM fr_models WHERE name = 'limits'), '[1,1e30]'::recsys.vec, 1, NULL, '{10}') $$,
				 '22003', NULL, 'the whole catalogue is scored: an excluded item''s overflow is 22003 too');
SELECT is((SELECT count(*) FROM recsys.recommend_by_vector((SELECT m FROM fr_models WHERE name = 'als'), '[1e15,-1e15]'::recsys.vec, 4)
		   WHERE pg_temp.finite(score)), 4::bigint,
		  'a large vector whose scores fit is served');
SELECT is((SELECT count(*) FROM recsys.recommend_by_vector((SELECT m FROM fr_models WHERE name = 'limits'), '[1,1e30]'::recsys.vec, 3, '{20, 30, 40}')
		   WHERE pg_temp.finite(score)), 3::bigint,
		  'candidates whose scores fit are served even if another item would overflow');

-- ---------------------------------------------------------------- a model at the limits
SELECT ok(pg_temp.finite((SELECT recsys.predict(m, 1, 10) FROM fr_models WHERE name = 'limits')), 'predict is finite');
SELECT ok((SELECT bool_and(pg_temp.finite(score)) AND count(*) = 4
		   FROM recsys.recommend((SELECT m FROM fr_models WHERE name = 'limits'), 1::bigint, 4, false)),
		  'recommend by user: four finite scores');
SELECT ok((SELECT bool_and(pg_temp.finite(score)) AND count(*) > 0
		   FROM recsys.recommend_all((SELECT m FROM fr_models WHERE name = 'limits'), 4)),
		  'recommend_all: every score finite');
SELECT ok((SELECT bool_and(pg_temp.finite(score)) AND count(*) = 3
		   FROM recsys.similar_items((SELECT m FROM fr_models WHERE name = 'limits'), 10, 3)),
		  'similar_items: finite cosines');
SELECT ok((SELECT bool_and(pg_temp.finite(score)) AND count(*) = 2
		   FROM recsys.similar_users((SELECT m FROM fr_models WHERE name = 'limits'), 1, 2)),
		  'similar_users: finite cosines');
SELECT ok((SELECT pg_temp.finite_vec(recsys.user_vector(m, 1)) AND pg_temp.finite_vec(recsys.item_vector(m, 10))
		   FROM fr_models WHERE name = 'limits'),
		  'user_vector and item_vector are finite');
SELECT ok((SELECT bool_and(pg_temp.finite(bias) AND pg_temp.finite_vec(factors))
		   FROM recsys.user_factors((SELECT m FROM fr_models WHERE name = 'limits'))),
		  'user_factors are finite');
SELECT ok((SELECT pg_temp.finite((recsys.evaluate(m, 'SELECT 1, 10, 5.0 UNION ALL SELECT 2, 20, 1', 2) ->> 'rmse')::float8)
		   FROM fr_models WHERE name = 'limits'),
		  'evaluate: rmse is a finite number');

-- ---------------------------------------------------------------- vec aggregates
SELECT throws_ok($$ SELECT recsys.sum(v) FROM (VALUES ('[3e38]'::recsys.vec), ('[3e38]')) s(v) $$,
				 '22003', NULL, 'sum(vec) beyond real: 22003');
SELECT is((SELECT recsys.avg(v)::text FROM (VALUES ('[3e38]'::recsys.vec), ('[3e38]')) s(v)), '[3e+38]',
		  'avg(vec) of huge elements is exact (sums are kept in float8)');

-- ---------------------------------------------------------------- metrics
SELECT throws_ok($$ SELECT recsys.rmse(p, a) FROM (VALUES (1e200::float8, -1e200::float8)) v(p, a) $$,
				 '22003', 'the squared error of predicted 1e+200 and actual -1e+200 is out of range for type double precision',
				 'rmse: a squared error beyond float8 is 22003, not Infinity');
SELECT throws_ok($$ SELECT recsys.mae(p, a) FROM (VALUES (1.7e308::float8, -1.7e308::float8)) v(p, a) $$,
				 '22003', 'the absolute error of predicted 1.7e+308 and actual -1.7e+308 is out of range for type double precision',
				 'mae: an error beyond float8 is 22003');
SELECT throws_ok($$ SELECT recsys.rmse(p, a) FROM (VALUES (1.3e154::float8, 0::float8), (1.3e154, 0)) v(p, a) $$,
				 '22003', 'the sum of squared errors is out of range for type double precision',
				 'rmse: a sum beyond float8 is 22003');
SELECT throws_ok($$ SELECT recsys.mae(p, a) FROM (VALUES (1e308::float8, -0.5e308::float8), (1e308, -0.5e308)) v(p, a) $$,
				 '22003', NULL, 'mae: a sum beyond float8 is 22003');
SELECT cmp_ok((SELECT abs(recsys.rmse(p, a) / 1e150 - 1) FROM (VALUES (1e150::float8, 0::float8), (1e150, 0)) v(p, a)),
			  '<', 1e-12::float8, 'rmse of large errors that fit is right');
SELECT is((SELECT recsys.mae(p, a) FROM (VALUES (1::float8, 'Infinity'::float8)) v(p, a)), 'Infinity'::float8,
		  'an infinite input still gives Infinity, as avg does');

SELECT * FROM finish();
ROLLBACK;
