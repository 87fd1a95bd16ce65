-- Content models over text (train_content with tsvector features): TF-IDF
-- weights and cosines against the same computation in SQL over ts_stat and
-- unnest(tsvector), vocabulary filters, scoring through the inverted index,
-- serving and errors.
BEGIN;
SELECT plan(24);
SET LOCAL search_path = public, recsys;

CREATE TEMP TABLE docs (id bigint, body text);
INSERT INTO docs VALUES
	(1, 'Red apple pie with apple sauce and more apples'),
	(2, 'Green apple tart'),
	(3, 'Red cherry pie, cherry on top'),
	(4, 'Chocolate cake with cherries'),
	(5, 'Lemon tart with lemon curd'),
	(6, 'Apple crumble with cream'),
	(7, 'Chocolate mousse'),
	(8, 'Plain bread');
CREATE TEMP TABLE tsv AS SELECT id, to_tsvector('english', body) AS v FROM docs;
CREATE TEMP TABLE plays (user_id bigint, item_id bigint, value real);
INSERT INTO plays VALUES (1, 1, 2), (1, 3, 1), (2, 2, 1), (2, 5, 3), (3, 4, 1), (3, 7, 1), (4, 8, 1);
-- item 6 has no interactions: a catalogue row
CREATE TEMP TABLE source AS SELECT p.user_id, t.id AS item_id, p.value, t.v FROM tsv t LEFT JOIN plays p ON p.item_id = t.id;

-- TF-IDF in SQL: tf = number of positions, idf = ln((1 + n) / (1 + df)) + 1, rows L2-normalised
CREATE FUNCTION pg_temp.tfidf(min_df int, max_df float8, sublinear bool)
RETURNS TABLE (id bigint, lexeme text, w float8) LANGUAGE sql AS $$
	WITH n AS (SELECT count(*)::float8 AS n FROM pg_temp.tsv),
	df AS (SELECT word, ndoc FROM ts_stat('SELECT v FROM pg_temp.tsv')
		   WHERE ndoc >= min_df AND ndoc <= max_df * (SELECT n FROM n)),
	raw AS (SELECT t.id, u.lexeme,
				   (CASE WHEN sublinear THEN 1 + ln(cardinality(u.positions)) ELSE cardinality(u.positions) END)
				   * (ln((1 + (SELECT n FROM n)) / (1 + df.ndoc)) + 1) AS w
			FROM pg_temp.tsv t, unnest(t.v) u JOIN df ON df.word = u.lexeme)
	SELECT id, lexeme, w / sqrt(sum(w * w) OVER (PARTITION BY id)) FROM raw
$$;
CREATE FUNCTION pg_temp.cosines(min_df int, max_df float8, sublinear bool)
RETURNS TABLE (a bigint, b bigint, cosine float8) LANGUAGE sql AS $$
	SELECT x.id, y.id, sum(x.w * y.w) FROM pg_temp.tfidf(min_df, max_df, sublinear) x
	JOIN pg_temp.tfidf(min_df, max_df, sublinear) y ON x.lexeme = y.lexeme AND x.id <> y.id
	GROUP BY x.id, y.id
$$;

CREATE TEMP TABLE models AS
	SELECT 'plain' AS kind, recsys.train_content(user_id, item_id, value, v) AS m FROM source
	UNION ALL
	SELECT 'sublinear', recsys.train_content(user_id, item_id, value, v, '{"sublinear_tf": true}') FROM source
	UNION ALL
	SELECT 'filtered', recsys.train_content(user_id, item_id, value, v, '{"min_df": 2, "max_df": 0.3}') FROM source
	UNION ALL
	SELECT 'top3', recsys.train_content(user_id, item_id, value, v, '{"max_features": 3}') FROM source;

SELECT is((SELECT recsys.model_info(m) ->> 'algorithm' FROM models WHERE kind = 'plain'), 'content_text',
		  'a tsvector column trains a text content model');
SELECT is((SELECT (recsys.model_info(m) ->> 'vocabulary_size')::bigint FROM models WHERE kind = 'plain'),
		  (SELECT count(*) FROM ts_stat('SELECT v FROM pg_temp.tsv')), 'the vocabulary is every lexeme');
SELECT is((SELECT (recsys.model_info(m) ->> 'vocabulary_size')::bigint FROM models WHERE kind = 'filtered'),
		  (SELECT count(*) FROM ts_stat('SELECT v FROM pg_temp.tsv') WHERE ndoc >= 2 AND ndoc <= 0.3 * 8),
		  'min_df and max_df filter the vocabulary by document frequency');
SELECT is((SELECT (recsys.model_info(m) ->> 'vocabulary_size')::bigint FROM models WHERE kind = 'top3'), 3::bigint,
		  'max_features keeps that many terms');
SELECT is((SELECT (recsys.model_info(m) ->> 'n_items')::int FROM models WHERE kind = 'plain'), 8,
		  'the catalogue row registers item 6');

-- similar_items scores are the cosines of the TF-IDF vectors computed in SQL
SELECT cmp_ok((SELECT max(abs(s.score - c.cosine)) FROM models mo, docs d,
			   LATERAL recsys.similar_items(mo.m, d.id, 10) s
			   , pg_temp.cosines(1, 1, false) c WHERE c.a = d.id AND c.b = s.id AND mo.kind = 'plain'),
			  '<', 1e-6::float8, 'similar_items scores equal the SQL TF-IDF cosines');
SELECT is((SELECT count(*) FROM models mo, docs d, LATERAL recsys.similar_items(mo.m, d.id, 10) s WHERE mo.kind = 'plain'),
		  (SELECT count(*) FROM pg_temp.cosines(1, 1, false) WHERE cosine > 0),
		  'similar_items lists exactly the items sharing a term');
SELECT cmp_ok((SELECT max(abs(s.score - c.cosine)) FROM models mo, docs d,
			   LATERAL recsys.similar_items(mo.m, d.id, 10) s
			   , pg_temp.cosines(1, 1, true) c WHERE c.a = d.id AND c.b = s.id AND mo.kind = 'sublinear'),
			  '<', 1e-6::float8, 'with sublinear_tf the weights use 1 + ln(tf)');
SELECT cmp_ok((SELECT max(abs(s.score - c.cosine)) FROM models mo, docs d,
			   LATERAL recsys.similar_items(mo.m, d.id, 10) s
			   , pg_temp.cosines(2, 0.3, false) c WHERE c.a = d.id AND c.b = s.id AND mo.kind = 'filtered'),
			  '<', 1e-6::float8, 'filtered vocabularies weigh the kept terms only');
SELECT is((SELECT array_agg(s.id ORDER BY s.rank) FROM models mo, LATERAL recsys.similar_items(mo.m, 1, 3) s WHERE mo.kind = 'plain'),
		  (SELECT array_agg(b ORDER BY cosine DESC, b) FROM (SELECT b, cosine FROM pg_temp.cosines(1, 1, false) WHERE a = 1
		   ORDER BY cosine DESC, b LIMIT 3) s), 'similar_items ranks by cosine, the new item 6 included');

-- a user's profile: value-weighted sum of the unit vectors; scores are cosines to it
CREATE TEMP TABLE profile AS
	SELECT p.user_id, t.lexeme, sum(p.value * t.w) AS w FROM plays p JOIN pg_temp.tfidf(1, 1, false) t ON t.id = p.item_id
	GROUP BY p.user_id, t.lexeme;
CREATE TEMP TABLE expected AS
	SELECT p.user_id, t.id AS item_id, sum(p.w * t.w) / sqrt((SELECT sum(q.w * q.w) FROM profile q WHERE q.user_id = p.user_id)) AS score
	FROM profile p JOIN pg_temp.tfidf(1, 1, false) t USING (lexeme) GROUP BY p.user_id, t.id;
SELECT cmp_ok((SELECT max(abs(r.score - e.score)) FROM models mo, (VALUES (1), (2), (3)) u(id),
			   LATERAL recsys.recommend(mo.m, u.id, 10, exclude_seen => false) r
			   , expected e WHERE e.user_id = u.id AND e.item_id = r.item_id AND mo.kind = 'plain'),
			  '<', 1e-6::float8, 'recommend scores are cosines to the value-weighted profile');
SELECT is((SELECT count(*) FROM models mo, LATERAL recsys.recommend(mo.m, 1, 10, exclude_seen => false) WHERE mo.kind = 'plain'),
		  (SELECT count(*) FROM expected WHERE user_id = 1 AND score > 0),
		  'only items sharing a term with the profile are recommended');
SELECT is((SELECT array_agg(item_id ORDER BY user_id, rank) FROM models mo, LATERAL recsys.recommend_all(mo.m, 2, users => ARRAY[1, 2]::bigint[]) WHERE mo.kind = 'plain'),
		  (SELECT array_agg(item_id ORDER BY u, rank) FROM models mo, (VALUES (1), (2)) x(u), LATERAL recsys.recommend(mo.m, x.u, 2) WHERE mo.kind = 'plain'),
		  'recommend_all gives the lists recommend gives');
SELECT cmp_ok((SELECT max(abs(r.score - e.score)) FROM models mo,
			   LATERAL recsys.recommend_by_items(mo.m, ARRAY[1, 3]::bigint[], ARRAY[2, 1]::real[], 10) r
			   JOIN expected e ON e.user_id = 1 AND e.item_id = r.item_id WHERE mo.kind = 'plain'),
			  '<', 1e-6::float8, 'recommend_by_items of user 1''s history gives user 1''s scores');
SELECT cmp_ok((SELECT abs(sum(contribution) - (SELECT score FROM expected WHERE user_id = 1 AND item_id = 6))
			   FROM models mo, LATERAL recsys.explain(mo.m, 1, 6) WHERE mo.kind = 'plain'),
			  '<', 1e-6::float8, 'explain''s contributions add up to the score');
SELECT is((SELECT bool_and(fallback) FROM models mo, LATERAL recsys.recommend_by_items(mo.m, ARRAY[8]::bigint[], NULL, 3) WHERE mo.kind = 'filtered'),
		  true, 'a history whose items keep no term falls back to the popular items');
SELECT ok((SELECT m::text::recsys.model::text = m::text AND (SELECT count(*) FROM recsys.similar_items(m::text::recsys.model, 1, 10)) > 0
		   FROM models WHERE kind = 'plain'),
		  'a text content model survives its text form');

-- by name: recsys.train reads the tsvector column of its query
CREATE TABLE public.content_text_docs AS SELECT * FROM pg_temp.source;
CREATE TEMP TABLE trained AS
	SELECT recsys.train('docs-text', 'content', 'SELECT user_id, item_id, value, v FROM public.content_text_docs');
SELECT is((SELECT array_agg(id ORDER BY rank) FROM recsys.similar_items('docs-text', 1, 5)),
		  (SELECT array_agg(s.id ORDER BY s.rank) FROM models mo, LATERAL recsys.similar_items(mo.m, 1, 5) s WHERE mo.kind = 'plain'),
		  'recsys.train(name, ''content'', query) trains the same text model');

-- errors
SELECT throws_ok($$SELECT recsys.train_content(1, 1, 1, ''::tsvector)$$, '22000', 'train_content tsvector of item 1 has no lexemes',
				 'a tsvector with no lexemes');
SELECT throws_ok($$SELECT recsys.train_content(u, 1, 1, v) FROM (VALUES (1::bigint, 'a'::tsvector), (2, 'b'::tsvector)) t(u, v)$$,
				 '22000', 'train_content item 1 has different features on different rows', 'conflicting texts of one item');
SELECT throws_ok($$SELECT recsys.train_content(user_id, item_id, value, v, '{"min_df": 100}') FROM pg_temp.source$$,
				 '22023', NULL, 'a vocabulary filtered to nothing');
SELECT throws_ok($$SELECT recsys.train_content(user_id, item_id, value, v, '{"max_df": 0}') FROM pg_temp.source$$,
				 '22023', NULL, 'max_df out of range');
SELECT throws_ok($$SELECT * FROM recsys.user_factors((SELECT m FROM pg_temp.models WHERE kind = 'plain'))$$,
				 '0A000', NULL, 'a text model has no factors');
CREATE TEMP TABLE big AS SELECT to_tsvector('simple', string_agg(md5(i::text), ' ')) AS v FROM generate_series(1, 25000) i;
SET LOCAL recsys.max_train_mb = 16;
SELECT throws_ok($$SELECT recsys.train_content(1, g, 1, b.v) FROM generate_series(1, 30) g, pg_temp.big b$$,
				 '54000', NULL, 'texts beyond recsys.max_train_mb fail before they are all kept');
RESET recsys.max_train_mb;

SELECT * FROM finish();
ROLLBACK;
