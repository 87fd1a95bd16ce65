-- Models survive pg_dump: a database with a registry, a history row, a model column
-- (with an approximate top-N index) and a vec column is dumped with pg_dump and restored with psql into a new
-- database; the restored values are identical and serve the same recommendations.
-- Not inside one transaction: it creates and drops databases.
SELECT plan(7);
CREATE EXTENSION IF NOT EXISTS dblink;

CREATE FUNCTION pg_temp.conninfo(db text) RETURNS text LANGUAGE sql AS $$
	SELECT format('dbname=%s port=%s host=%s', db, current_setting('port'),
				  split_part(current_setting('unix_socket_directories'), ',', 1))
$$;

DROP DATABASE IF EXISTS recsys_dump_src;
DROP DATABASE IF EXISTS recsys_dump_dst;
CREATE DATABASE recsys_dump_src;
CREATE DATABASE recsys_dump_dst;

SELECT dblink_exec(pg_temp.conninfo('recsys_dump_src'), $sql$
	CREATE EXTENSION recsys;
	CREATE TABLE ratings AS SELECT * FROM recsys.synthetic_ratings(300, 100, 6000);
	SELECT recsys.train('m', 'als', 'SELECT user_id, item_id, rating FROM ratings',
						'{"factors": 4, "iterations": 3}');
	SELECT recsys.retrain('m');
	CREATE TABLE kept AS
		SELECT 1 AS id, recsys.build_index(recsys.train_ials(user_id, item_id, greatest(rating, 0),
															 '{"factors": 3}'), '{"lists": 5}') AS model,
			   '[1,-2.5,3e-3]'::recsys.vec(3) AS v
		FROM ratings;
$sql$);

-- pg_dump | psql, run by the server (the test runs as a superuser)
DO $$
DECLARE
	dir text := split_part(current_setting('unix_socket_directories'), ',', 1);
	port text := current_setting('port');
BEGIN
	EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
		format('pg_dump -h %s -p %s recsys_dump_src | psql -X -q -v ON_ERROR_STOP=1 -h %s -p %s recsys_dump_dst >/dev/null',
			   dir, port, dir, port));
END $$;

CREATE TEMP TABLE snap AS
	SELECT 'src' AS side, * FROM dblink(pg_temp.conninfo('recsys_dump_src'), $q$
		SELECT (SELECT string_agg(name || ':' || model::text, ',' ORDER BY name) FROM recsys.models),
			   (SELECT string_agg(model::text, ',' ORDER BY replaced_at) FROM recsys.model_history),
			   (SELECT model::text || v::text FROM kept),
			   (SELECT string_agg(item_id || '/' || score, ',' ORDER BY score DESC, item_id)
				FROM recsys.recommend('m', 7, 5)),
			   (SELECT count(*) FROM recsys.models)$q$)
		AS t(registry text, history text, kept text, recs text, n bigint)
	UNION ALL
	SELECT 'dst', * FROM dblink(pg_temp.conninfo('recsys_dump_dst'), $q$
		SELECT (SELECT string_agg(name || ':' || model::text, ',' ORDER BY name) FROM recsys.models),
			   (SELECT string_agg(model::text, ',' ORDER BY replaced_at) FROM recsys.model_history),
			   (SELECT model::text || v::text FROM kept),
			   (SELECT string_agg(item_id || '/' || score, ',' ORDER BY score DESC, item_id)
				FROM recsys.recommend('m', 7, 5)),
			   (SELECT count(*) FROM recsys.models)$q$)
		AS t(registry text, history text, kept text, recs text, n bigint);

SELECT is((SELECT n FROM snap WHERE side = 'dst'), 1::bigint, 'the registry row is restored');
SELECT is((SELECT registry FROM snap WHERE side = 'dst'), (SELECT registry FROM snap WHERE side = 'src'),
	'the registered model is restored bit for bit');
SELECT ok((SELECT history IS NOT NULL FROM snap WHERE side = 'src'), 'the source has a history row');
SELECT is((SELECT history FROM snap WHERE side = 'dst'), (SELECT history FROM snap WHERE side = 'src'),
	'the model history is restored bit for bit');
SELECT is((SELECT kept FROM snap WHERE side = 'dst'), (SELECT kept FROM snap WHERE side = 'src'),
	'a model column and a vec(3) column in a user table are restored');
SELECT ok((SELECT recs IS NOT NULL FROM snap WHERE side = 'dst'), 'the restored model serves');
SELECT is((SELECT recs FROM snap WHERE side = 'dst'), (SELECT recs FROM snap WHERE side = 'src'),
	'and serves the same recommendations');

DROP DATABASE recsys_dump_src;
DROP DATABASE recsys_dump_dst;
SELECT * FROM finish();
