-- Serving content (dense), text content and hybrid models at their edges:
-- recommend_all gives a content user whose items have no features the popular
-- items marked as a fallback, as recommend does; fold_in, recommend_by_items,
-- explain and similar_items take hostile input (unknown ids, empty arrays, NULL
-- elements, 100,000 ids, n out of range, NaN, infinite and extreme values) with
-- a clean error or the documented result; profiles do not overflow whatever the
-- values (a profile is normalised, so scaling every value changes nothing).
BEGIN;
SELECT plan(34);

CREATE TABLE ce_items (id bigint, body text, f recsys.vec);
INSERT INTO ce_items VALUES
	(1, 'red apple pie', '[1, 0.2, 0]'), (2, 'green apple tart', '[0.9, 0.1, 0.3]'),
	(3, 'red cherry pie', '[0.1, 1, 0]'), (4, 'chocolate cake', '[0, 0.8, 0.6]'),
	(5, 'lemon tart', '[0.2, 0, 1]'), (6, 'apple crumble', '[0.7, 0.7, 0]'),
	-- items with interactions but no features (and no text)
	(7, NULL, NULL), (8, NULL, NULL),
	-- catalogue items with the same text
	(9, 'plain bread', '[0.5, 0.5, 0.5]'), (10, 'plain bread', '[0.5, 0.5, 0.5]'),
	(11, 'plain bread', '[0.5, 0.5, 0.5]'), (12, 'plain bread', '[0.5, 0.5, 0.5]');
CREATE TABLE ce_plays (user_id bigint, item_id bigint, value real);
INSERT INTO ce_plays VALUES
	(1, 1, 2), (1, 3, 1), (2, 2, 1), (2, 5, 3), (3, 4, 1), (3, 6, 2), (4, 6, 1), (4, 2, 1),
	-- user 5 touched only the items without features; item 7 is the most popular
	(5, 7, 1), (5, 8, 1), (6, 7, 1), (7, 7, 1), (8, 7, 1), (8, 1, 1);
CREATE TABLE ce_source AS
	SELECT p.user_id, i.id AS item_id, p.value, i.f, to_tsvector('english', i.body) AS t
	FROM ce_items i LEFT JOIN ce_plays p ON p.item_id = i.id;
CREATE TABLE ce_models (kind text PRIMARY KEY, m recsys.model);
INSERT INTO ce_models SELECT 'content', recsys.train_content(user_id, item_id, value, f) FROM ce_source;
INSERT INTO ce_models SELECT 'centred', recsys.train_content(user_id, item_id, value, f, '{"center": true}') FROM ce_source;
INSERT INTO ce_models SELECT 'text', recsys.train_content(user_id, item_id, value, t) FROM ce_source;
INSERT INTO ce_models SELECT 'text_centred', recsys.train_content(user_id, item_id, value, t, '{"center": true}') FROM ce_source;
INSERT INTO ce_models SELECT 'hybrid', recsys.train_hybrid(user_id, item_id, value, f, '{"factors": 2, "iterations": 3}') FROM ce_source;
CREATE FUNCTION pg_temp.m(k text) RETURNS recsys.model LANGUAGE sql AS $$ SELECT m FROM ce_models WHERE kind = k $$;
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS TABLE (state text, msg text) LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN QUERY SELECT 'no error'::text, ''::text;
EXCEPTION WHEN OTHERS THEN
	RETURN QUERY SELECT SQLSTATE::text, SQLERRM::text;
END $$;
-- a list as (item, score, fallback) rows in rank order
CREATE FUNCTION pg_temp.by_items(k text, ids bigint[], vals real[], n int DEFAULT 8) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 5), fallback), ' ' ORDER BY rank)
	FROM recsys.recommend_by_items(pg_temp.m(k), ids, vals, n) $$;

-- ------------------------------------------------------------ recommend_all: zero profiles
SELECT is(recsys.norm(recsys.fold_in(pg_temp.m('content'), '{7, 8}', '{1, 1}')), 0::float8,
		  'the profile of items without features is zero');
SELECT is((SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend(pg_temp.m('content'), 5::bigint, 3)),
		  (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), true), ' ' ORDER BY rank)
		   FROM (SELECT item_id, count(*)::real AS score, row_number() OVER (ORDER BY count(*) DESC, item_id) AS rank
				 FROM ce_plays WHERE item_id NOT IN (7, 8) GROUP BY item_id ORDER BY 3 LIMIT 3) p),
		  'recommend gives that user the popular unseen items as a fallback');
SELECT is((SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend_all(pg_temp.m('content'), 3) WHERE user_id = 5),
		  (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend(pg_temp.m('content'), 5::bigint, 3)),
		  'recommend_all gives the same list with fallback true');
SELECT is((SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank)
		   FROM recsys.recommend_all(pg_temp.m('content'), 3, '{5}', candidates => '{1, 2, 7}')),
		  (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank)
		   FROM recsys.recommend(pg_temp.m('content'), 5::bigint, 3, candidates => '{1, 2, 7}')),
		  'and with candidates (the popular picks are items, not candidate rows)');
SELECT is((SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank)
		   FROM recsys.recommend_all(pg_temp.m('content'), 3, '{5}', exclude_seen => false)),
		  (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank)
		   FROM recsys.recommend(pg_temp.m('content'), 5::bigint, 3, false)),
		  'and without excluding the seen items');
SELECT is_empty($$ SELECT u FROM generate_series(1, 8) u
				   WHERE (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend_all(pg_temp.m('content'), 4) WHERE user_id = u)
						 IS DISTINCT FROM
						 (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend(pg_temp.m('content'), u::bigint, 4)) $$,
				'recommend_all equals recommend for every user of the content model, fallback column included');
SELECT is((SELECT array_agg(DISTINCT user_id ORDER BY user_id) FROM recsys.recommend_all(pg_temp.m('content'), 4) WHERE fallback),
		  (SELECT array_agg(user_id ORDER BY user_id) FROM (SELECT user_id FROM ce_source WHERE user_id IS NOT NULL
															GROUP BY user_id HAVING bool_and(f IS NULL)) z),
		  'exactly the users whose items all lack features fall back (5, 6 and 7)');
SELECT is_empty($$ SELECT u FROM generate_series(1, 8) u
				   WHERE (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend_all(pg_temp.m('text'), 4) WHERE user_id = u)
						 IS DISTINCT FROM
						 (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend(pg_temp.m('text'), u::bigint, 4)) $$,
				'the same for the text content model');
SELECT is((SELECT bool_and(fallback) FROM recsys.recommend_all(pg_temp.m('text'), 4) WHERE user_id = 5), true,
		  'whose user 5 (items without text) falls back too');
SELECT is_empty($$ SELECT u FROM generate_series(1, 8) u
				   WHERE (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend_all(pg_temp.m('hybrid'), 4) WHERE user_id = u)
						 IS DISTINCT FROM
						 (SELECT string_agg(format('%s:%s:%s', item_id, round(score::numeric, 4), fallback), ' ' ORDER BY rank) FROM recsys.recommend(pg_temp.m('hybrid'), u::bigint, 4)) $$,
				'and for the hybrid model, whose users all have factors');

-- ------------------------------------------------------------ hostile input
SELECT is(pg_temp.by_items(k, '{999999, -1}', NULL), pg_temp.by_items(k, '{}', NULL), k || ': unknown items are the empty history')
FROM unnest(ARRAY['content', 'text', 'hybrid']) k;
SELECT is_empty($$ SELECT k FROM unnest(ARRAY['content', 'text', 'hybrid']) k
				   WHERE (SELECT bool_and(fallback) FROM recsys.recommend_by_items(pg_temp.m(k), '{}', NULL, 3)) IS NOT TRUE $$,
				'the empty history gets the popular items as a fallback');
SELECT is_empty($$ SELECT k FROM unnest(ARRAY['content', 'text', 'hybrid']) k
				   WHERE pg_temp.by_items(k, array_cat(ARRAY(SELECT g::bigint FROM generate_series(1000, 100999) g), '{1, 3}'), NULL)
						 IS DISTINCT FROM pg_temp.by_items(k, '{1, 3}', NULL) $$,
				'100,002 ids of which two are known: the two decide');
SELECT is_empty($$ SELECT k, e.state FROM unnest(ARRAY['content', 'text', 'hybrid']) k,
					 pg_temp.error_of(format('SELECT * FROM recsys.recommend_by_items(%L::recsys.model, %L, NULL, 3)',
											 pg_temp.m(k), '{1, NULL}')) e
				   WHERE e.state <> '22004' $$,
				'a NULL item id is 22004');
SELECT is_empty($$ SELECT k, v, e.state FROM unnest(ARRAY['content', 'text', 'hybrid']) k,
					 unnest(ARRAY['NaN', 'Infinity', '-Infinity']) v,
					 pg_temp.error_of(format('SELECT * FROM recsys.recommend_by_items(%L::recsys.model, %L, %L, 3)',
											 pg_temp.m(k), '{1, 3}', format('{1, %s}', v))) e
				   WHERE e.state <> '22000' $$,
				'a NaN or infinite value is 22000');
SELECT is_empty($$ SELECT k, n, e.state FROM unnest(ARRAY['content', 'text', 'hybrid']) k, unnest(ARRAY[-1, 100001, 2147483647]) n,
					 pg_temp.error_of(format('SELECT * FROM recsys.recommend_by_items(%L::recsys.model, %L, NULL, %s)', pg_temp.m(k), '{1}', n)) e
				   WHERE e.state <> '22023' $$,
				'n out of 0..100000 is 22023');
SELECT is((SELECT count(*) FROM recsys.recommend_by_items(pg_temp.m('text'), '{1}', NULL, 100000)),
		  (SELECT count(DISTINCT a.item_id) FROM ce_source a, unnest(a.t) x, ce_source b, unnest(b.t) y
			 WHERE b.item_id = 1 AND a.item_id <> 1 AND x.lexeme = y.lexeme),
		  'n = 100000 on a text model returns every item that shares a term with the history');
SELECT is((SELECT e.state FROM pg_temp.error_of(format('SELECT recsys.fold_in(%L::recsys.model, %L, %L)',
															pg_temp.m('text'), '{1}', '{1}')) e),
		  '0A000', 'fold_in of a text content model (no factors) is 0A000');
SELECT is(recsys.norm(recsys.fold_in(pg_temp.m(k), '{999999}', '{1}')), 0::float8, k || ': fold_in of unknown items is the zero vector')
FROM unnest(ARRAY['content', 'hybrid']) k;
SELECT is_empty($$ SELECT k FROM unnest(ARRAY['content', 'text', 'hybrid']) k
				   WHERE EXISTS (SELECT FROM recsys.similar_items(pg_temp.m(k), 999999, 3))
					  OR EXISTS (SELECT FROM recsys.similar_items(pg_temp.m(k), NULL, 3))
					  OR EXISTS (SELECT FROM recsys.explain(pg_temp.m(k), 999999::bigint, 1::bigint))
					  OR EXISTS (SELECT FROM recsys.explain(pg_temp.m(k), 1::bigint, 999999::bigint)) $$,
				'similar_items of an unknown or NULL item and explain of an unknown user or item give no rows');
SELECT is_empty($$ SELECT k, e.state FROM unnest(ARRAY['content', 'text', 'hybrid']) k,
					 LATERAL (SELECT * FROM pg_temp.error_of(format('SELECT * FROM recsys.similar_items(%L::recsys.model, 1, 2147483647)', pg_temp.m(k)))
							  UNION ALL
							  SELECT * FROM pg_temp.error_of(format('SELECT * FROM recsys.explain(%L::recsys.model, 1::bigint, 2::bigint, -1)', pg_temp.m(k)))) e
				   WHERE e.state <> '22023' $$,
				'similar_items and explain refuse n out of range with 22023');
SELECT is((SELECT count(*) FROM recsys.similar_items(pg_temp.m('text'), 1, 3, NULL, ARRAY(SELECT generate_series(1, 100000)::bigint))),
		  0::bigint, 'similar_items excluding 100,000 ids (the whole catalogue) gives no rows');

-- ------------------------------------------------------------ extreme values
SELECT is(recsys.fold_in(pg_temp.m('content'), '{1, 6}', '{3e38, 3e38}')::text, recsys.fold_in(pg_temp.m('content'), '{1, 6}', '{1, 1}')::text,
		  'a content profile of values near the real limit is the profile of equal small values');
SELECT is(recsys.fold_in(pg_temp.m('content'), '{1, 6}', '{1e-45, 1e-45}')::text, recsys.fold_in(pg_temp.m('content'), '{1, 6}', '{1, 1}')::text,
		  'and of the smallest values');
SELECT is(pg_temp.by_items(k, '{1, 2, 6}', '{3.4e38, 3.4e38, 3.4e38}'), pg_temp.by_items(k, '{1, 2, 6}', '{2, 2, 2}'),
		  k || ': recommend_by_items with values near the real limit ranks as with equal small values')
FROM unnest(ARRAY['content', 'text']) k;
SELECT is(pg_temp.by_items(k, '{1, 2, 6}', '{3.4e38, -3.4e38, -3.4e38}'), pg_temp.by_items(k, '{1, 2, 6}', '{1, -1, -1}'),
		  k || ': centred, values whose differences exceed the real range rank as small ones')
FROM unnest(ARRAY['centred', 'text_centred']) k;

-- centred weights over items of the same text cancel: the residue of rounding
-- has no direction, so the history is a zero profile, not a noise of cosines of +-1
SELECT is((SELECT string_agg(format('%s:%s', item_id, fallback), ' ' ORDER BY rank)
		   FROM recsys.recommend_by_items(pg_temp.m('text_centred'), '{9, 10, 11}', '{0.1, 0.2, 0.7}', 3)),
		  (SELECT string_agg(format('%s:%s', item_id, fallback), ' ' ORDER BY rank)
		   FROM recsys.recommend_by_items(pg_temp.m('text_centred'), '{}', NULL, 3)),
		  'a centred text history that cancels gets the popular items as a fallback');

-- a model trained on values near the limit serves what one trained on small values does
CREATE TABLE ce_huge AS
	SELECT 'text' AS kind, recsys.train_content(user_id, item_id, CASE WHEN value IS NULL THEN NULL ELSE 3e38::real END, t) AS m FROM ce_source
	UNION ALL
	SELECT 'text_small', recsys.train_content(user_id, item_id, CASE WHEN value IS NULL THEN NULL ELSE 1::real END, t) FROM ce_source;
SELECT is((SELECT string_agg(format('%s:%s', item_id, round(score::numeric, 5)), ' ' ORDER BY rank) FROM ce_huge, recsys.recommend(m, 4::bigint, 5) WHERE kind = 'text'),
		  (SELECT string_agg(format('%s:%s', item_id, round(score::numeric, 5)), ' ' ORDER BY rank) FROM ce_huge, recsys.recommend(m, 4::bigint, 5) WHERE kind = 'text_small'),
		  'a text model trained on values of 3e38 recommends as one trained on 1s');
SELECT is((SELECT string_agg(format('%s:%s', item_id, round(contribution::numeric, 5)), ' ' ORDER BY rank) FROM ce_huge, recsys.explain(m, 4::bigint, 1::bigint) WHERE kind = 'text'),
		  (SELECT string_agg(format('%s:%s', item_id, round(contribution::numeric, 5)), ' ' ORDER BY rank) FROM ce_huge, recsys.explain(m, 4::bigint, 1::bigint) WHERE kind = 'text_small'),
		  'and explains the same finite shares');

SELECT * FROM finish();
ROLLBACK;
