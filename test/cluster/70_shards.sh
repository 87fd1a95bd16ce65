#!/usr/bin/env bash
# Sharding with PostgreSQL's own engine: three more clusters on this machine are
# the shards; a database of the main cluster is the coordinator, with ratings
# partitioned by hash of user_id (and a copy by item_id) over postgres_fdw
# foreign tables whose server has extensions 'recsys'.  Checks that the per-row
# ALS solves and the serving helpers run on the shards (EXPLAIN VERBOSE shows
# them in the remote SQL), that train_distributed follows train_als's loss
# trajectory and factors from the same initial factors, and that publish copies
# a model to every shard as the role of the caller's user mapping.
set -u
. "$(dirname "$0")/tap.bash"
. "$(dirname "$0")/shards.bash"
plan 26

db=recsys_shards_$$
app=recsys_shard_app
other=recsys_shard_other
cleanup() {
	shards_stop
	q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	q -d postgres "DROP ROLE IF EXISTS $app" >/dev/null
	q -d postgres "DROP ROLE IF EXISTS $other" >/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

shards_start 3
ok $? "three shard clusters start"

# each shard: the application role (password login: postgres_fdw requires it of
# a non-superuser), recsys, its partition of the ratings by user and by item
for i in 1 2 3; do
	shard_psql "$i" "CREATE ROLE $app LOGIN PASSWORD 'pw'" >/dev/null
	shard_psql "$i" "CREATE EXTENSION recsys" >/dev/null
	shard_psql "$i" "GRANT INSERT, UPDATE, DELETE ON recsys.models TO $app" >/dev/null
	shard_psql "$i" "GRANT CREATE ON SCHEMA public TO $app" >/dev/null
	SHARD_USER=$app shard_psql "$i" "CREATE TABLE ratings (user_id bigint, item_id bigint, rating real, PRIMARY KEY (user_id, item_id));
		CREATE TABLE ratings_by_item (user_id bigint, item_id bigint, rating real, PRIMARY KEY (item_id, user_id))" >/dev/null
done

# the coordinator: servers with extensions 'recsys', the application's own user mappings
q -d postgres "CREATE ROLE $app LOGIN PASSWORD 'pw'; CREATE ROLE $other LOGIN PASSWORD 'pw'" >/dev/null
q -d postgres "CREATE DATABASE $db OWNER $app" >/dev/null
q -d "$db" "CREATE EXTENSION postgres_fdw; CREATE EXTENSION recsys" >/dev/null
q -d "$db" "GRANT INSERT, UPDATE, DELETE ON recsys.models TO $app, $other" >/dev/null
for i in 1 2 3; do
	q -d "$db" "CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '127.0.0.1', port '$(shard_port "$i")', dbname 'postgres', extensions 'recsys');
		GRANT USAGE ON FOREIGN SERVER shard$i TO $app, $other" >/dev/null
done
as_app() { PGPASSWORD=pw PGUSER=$app q -d "$db" "$@"; }
as_other() { PGPASSWORD=pw PGUSER=$other q -d "$db" "$@"; }
for i in 1 2 3; do
	as_app "CREATE USER MAPPING FOR $app SERVER shard$i OPTIONS (user '$app', password 'pw')" >/dev/null
done
as_app "CREATE TABLE ratings (user_id bigint, item_id bigint, rating real) PARTITION BY HASH (user_id);
	CREATE TABLE ratings_by_item (user_id bigint, item_id bigint, rating real) PARTITION BY HASH (item_id)" >/dev/null
for i in 1 2 3; do
	as_app "CREATE FOREIGN TABLE ratings_$i PARTITION OF ratings
			FOR VALUES WITH (MODULUS 3, REMAINDER $((i - 1))) SERVER shard$i OPTIONS (table_name 'ratings');
		CREATE FOREIGN TABLE ratings_by_item_$i PARTITION OF ratings_by_item
			FOR VALUES WITH (MODULUS 3, REMAINDER $((i - 1))) SERVER shard$i OPTIONS (table_name 'ratings_by_item')" >/dev/null
done
# the same planted data on the shards (rows routed by hash) and, for the
# single-node comparison, in a local table
as_app "CREATE TABLE ratings_local AS
	SELECT user_id, item_id, rating FROM recsys.synthetic_ratings(900, 300, 18000, rank => 4, seed => 11)" >/dev/null
as_app "INSERT INTO ratings SELECT * FROM ratings_local; INSERT INTO ratings_by_item SELECT * FROM ratings_local" >/dev/null
# statistics of the foreign partitions, so the planner prices the shipped aggregates
as_app "ANALYZE ratings, ratings_by_item" >/dev/null
cores=$( (q -d "$db" "SELECT core FROM recsys.blas_info()"; for i in 1 2 3; do shard_psql "$i" "SELECT core FROM recsys.blas_info()"; done) | sort -u | tr '\n' ' ')
like "$cores" '^[A-Za-z0-9]+ $' "the coordinator and the shards run one OpenBLAS kernel ($cores)"
counts=$(for i in 1 2 3; do shard_psql "$i" "SELECT count(*) FROM ratings"; done | tr '\n' ' ')
total=$(as_app "SELECT count(*) FROM ratings_local")
like "$counts" '^[1-9][0-9]+ [1-9][0-9]+ [1-9][0-9]+ $' "every shard holds part of the $total ratings ($counts)"

# the same training single-node and distributed: loss after 1, 2 and 3 iterations
opts='"factors": 4, "regularization": 0.1, "seed": 5'
worst=0
for it in 1 2 3; do
	single=$(as_app "SELECT (recsys.model_info(recsys.train_als(user_id, item_id, rating, '{$opts, \"iterations\": $it}')) ->> 'train_loss')::float8 FROM ratings_local")
	dist=$(as_app "SELECT (recsys.model_info(recsys.train_distributed('ratings', 'ratings_by_item', 'rating', '{$opts, \"iterations\": $it}')) ->> 'train_loss')::float8")
	echo "# iteration $it: loss single-node $single, distributed $dist"
	rel=$(awk -v a="$single" -v b="$dist" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d / a < 1e-5) ? "ok" : "off" }')
	is "$rel" "ok" "iteration $it: the distributed loss equals the single-node loss within 1e-5 relative"
done

# implicit ALS the same way: train_ials against train_distributed(..., 'ials'), on
# the positive ratings as weights
as_app "CREATE TABLE plays_local AS SELECT * FROM ratings_local WHERE rating > 0;
	CREATE TABLE plays (LIKE ratings) PARTITION BY HASH (user_id);
	CREATE TABLE plays_by_item (LIKE ratings) PARTITION BY HASH (item_id)" >/dev/null
for i in 1 2 3; do
	SHARD_USER=$app shard_psql "$i" "CREATE TABLE plays (LIKE ratings); CREATE TABLE plays_by_item (LIKE ratings)" >/dev/null
	as_app "CREATE FOREIGN TABLE plays_$i PARTITION OF plays
			FOR VALUES WITH (MODULUS 3, REMAINDER $((i - 1))) SERVER shard$i OPTIONS (table_name 'plays');
		CREATE FOREIGN TABLE plays_by_item_$i PARTITION OF plays_by_item
			FOR VALUES WITH (MODULUS 3, REMAINDER $((i - 1))) SERVER shard$i OPTIONS (table_name 'plays_by_item')" >/dev/null
done
as_app "INSERT INTO plays SELECT * FROM plays_local; INSERT INTO plays_by_item SELECT * FROM plays_local;
	ANALYZE plays, plays_by_item" >/dev/null
iopts='"factors": 4, "alpha": 2, "seed": 5'
for it in 1 3; do
	single=$(as_app "SELECT (recsys.model_info(recsys.train_ials(user_id, item_id, rating, '{$iopts, \"iterations\": $it}')) ->> 'train_loss')::float8 FROM plays_local")
	dist=$(as_app "SELECT (recsys.model_info(recsys.train_distributed('plays', 'plays_by_item', 'rating', '{$iopts, \"iterations\": $it}', 'ials')) ->> 'train_loss')::float8")
	echo "# ials iteration $it: loss single-node $single, distributed $dist"
	rel=$(awk -v a="$single" -v b="$dist" 'BEGIN { d = a - b; if (d < 0) d = -d; print (a > 0 && d / a < 1e-5) ? "ok" : "off" }')
	is "$rel" "ok" "ials, iteration $it: the distributed loss equals the single-node loss within 1e-5 relative"
done

# after 3 iterations the factors themselves agree
as_app "CREATE TABLE models_cmp AS SELECT
	recsys.train_als(user_id, item_id, rating, '{$opts, \"iterations\": 3}') AS single,
	(SELECT recsys.train_distributed('ratings', 'ratings_by_item', 'rating', '{$opts, \"iterations\": 3}')) AS dist
	FROM ratings_local" >/dev/null
diff=$(as_app "SELECT max(abs(a.x - b.x)) FROM models_cmp,
	LATERAL (SELECT f.id, u.x, u.j FROM recsys.user_factors(single) f, unnest(f.factors::real[]) WITH ORDINALITY u(x, j)) a
	JOIN LATERAL (SELECT f.id, u.x, u.j FROM recsys.user_factors(dist) f, unnest(f.factors::real[]) WITH ORDINALITY u(x, j)) b
	USING (id, j)")
echo "# largest difference of a user factor: $diff"
ok "$(awk -v d="$diff" 'BEGIN { exit !(d != "" && d < 1e-4) }'; echo $?)" "the distributed user factors equal the single-node ones within 1e-4 (got $diff)"
diff=$(as_app "SELECT max(abs(a.b - b.b)) FROM models_cmp,
	LATERAL recsys.item_factors(single) a(id, b, f) JOIN LATERAL recsys.item_factors(dist) b(id, b, f) USING (id)")
ok "$(awk -v d="$diff" 'BEGIN { exit !(d != "" && d < 1e-4) }'; echo $?)" "... and so do the item biases (largest difference $diff)"
# option "index": the final model carries the index train_als would build
idx=$(as_app "SELECT recsys.model_info(recsys.train_distributed('ratings', 'ratings_by_item', 'rating', '{$opts, \"iterations\": 1, \"index\": {\"lists\": 7}}')) -> 'index' ->> 'lists'")
is "$idx" "7" "train_distributed with the index option returns a model with that index"

# the per-user solve is shipped: one Foreign Scan per shard, the aggregate and
# the broadcast model (a constant, as the driver passes it) in its SQL
plan_text=$(PGPASSWORD=pw PGUSER=$app psql -X -q -A -t -d "$db" 2>&1 <<'SQL'
SELECT dist AS m FROM models_cmp \gset
SET enable_partitionwise_aggregate = on;
EXPLAIN VERBOSE SELECT array_agg(s.id ORDER BY s.id), sum((s.r).loss)
FROM (SELECT t.user_id, recsys.solve_users(t.user_id, t.item_id, t.rating, :'m'::recsys.model, '{}')
      FROM ratings AS t GROUP BY t.user_id) AS s(id, r);
SQL
)
n=$(printf '%s\n' "$plan_text" | grep -c "Remote SQL: SELECT user_id, recsys.solve_users(user_id, item_id, rating, 'recsys-model:v2:")
is "$n" "3" "EXPLAIN VERBOSE: each of the 3 shards runs recsys.solve_users on the broadcast model"
n=$(printf '%s\n' "$plan_text" | grep -c 'Relations: Aggregate on')
is "$n" "3" "... as an aggregate pushed down whole, grouped by user_id (no rows gathered)"

# time per iteration, single node against the three shards (reported, not asserted)
t=$(as_app "DO \$\$ DECLARE t0 timestamptz; s float8; d float8; BEGIN
	t0 := clock_timestamp(); PERFORM recsys.train_als(user_id, item_id, rating, '{$opts, \"iterations\": 4}') FROM ratings_local;
	s := extract(epoch FROM clock_timestamp() - t0) / 4;
	t0 := clock_timestamp(); PERFORM recsys.train_distributed('ratings', 'ratings_by_item', 'rating', '{$opts, \"iterations\": 4}');
	d := extract(epoch FROM clock_timestamp() - t0) / 4;
	RAISE NOTICE 'seconds per iteration: single-node % distributed %', round(s::numeric, 4), round(d::numeric, 4);
	END \$\$" 2>&1)
echo "# $(printf '%s' "$t" | grep -o 'seconds per iteration.*')"

# publish: the distributed model into the registry, then onto every shard
as_app "INSERT INTO recsys.models (name, model) SELECT 'dist', dist FROM models_cmp" >/dev/null
out=$(as_app "SELECT recsys.publish('dist', ARRAY['shard1', 'shard2', 'shard3'])")
is "$out" "3" "publish copies the model to the three shards"
uuid=$(as_app "SELECT recsys.model_info(model) ->> 'uuid' FROM recsys.models WHERE name = 'dist'")
owners=$(for i in 1 2 3; do shard_psql "$i" "SELECT owner FROM recsys.models WHERE name = 'dist' AND recsys.model_info(model) ->> 'uuid' = '$uuid'"; done | sort -u)
is "$owners" "$app" "on each shard the copy belongs to the role of the user mapping"
as_app "UPDATE recsys.models SET version = 3, last_version = 3 WHERE name = 'dist'" >/dev/null
as_app "SELECT recsys.publish('dist', ARRAY['shard1', 'shard2', 'shard3'])" >/dev/null
versions=$(for i in 1 2 3; do shard_psql "$i" "SELECT version || '/' || last_version FROM recsys.models WHERE name = 'dist'"; done | sort -u)
is "$versions" "3/3" "publishing again updates the copies, which carry the coordinator's version id"
out=$(as_other "SELECT recsys.publish('dist', ARRAY['shard1'])" | grep -o 'does not exist')
is "$out" "does not exist" "another role cannot publish a model it cannot see"
as_app "SELECT recsys.share('dist', '$other')" >/dev/null
out=$(as_other "SELECT recsys.publish('dist', ARRAY['shard1'])" | grep -o 'permission denied for model "dist"')
is "$out" 'permission denied for model "dist"' "a reader of the model may not publish it"
# a name another role owns on a shard stays theirs: row-level security hides it
# from the mapped role, whose insert then collides with it
shard_psql 1 "INSERT INTO recsys.models (name, model) SELECT 'taken', model FROM recsys.models WHERE name = 'dist'" >/dev/null
as_app "INSERT INTO recsys.models (name, model) SELECT 'taken', model FROM recsys.models WHERE name = 'dist'" >/dev/null
out=$(as_app "SELECT recsys.publish('taken', ARRAY['shard1'])" | grep -o 'duplicate key value')
is "$out" "duplicate key value" "publish cannot overwrite a shard's model that another role owns"
out=$(shard_psql 1 "SELECT owner FROM recsys.models WHERE name = 'taken'")
is "$out" "postgres" "... which keeps its owner"

# serving on the shards: grouped by user_id, recommend_items runs remotely, and
# gives the rows recommend_all gives on the coordinator
plan_text=$(as_app "SET enable_partitionwise_aggregate = on;
	EXPLAIN VERBOSE SELECT user_id, recsys.recommend_items(user_id, NULL, '{\"model\": \"dist\", \"n\": 5}') FROM ratings GROUP BY user_id")
n=$(printf '%s\n' "$plan_text" | grep -cF 'Remote SQL: SELECT user_id, recsys.recommend_items(user_id, NULL::bigint, ')
is "$n" "3" "EXPLAIN VERBOSE: recommend_items runs on each shard for its own users"
sharded=$(as_app "SET enable_partitionwise_aggregate = on;
	SELECT md5(string_agg(user_id || ':' || array_to_string(r, ','), ';' ORDER BY user_id))
	FROM (SELECT user_id, recsys.recommend_items(user_id, NULL, '{\"model\": \"dist\", \"n\": 5}') AS r FROM ratings GROUP BY user_id) s")
local=$(as_app "SELECT md5(string_agg(user_id || ':' || items, ';' ORDER BY user_id)) FROM
	(SELECT user_id, string_agg(item_id::text, ',' ORDER BY rank) AS items FROM recsys.recommend_all('dist', 5) GROUP BY user_id) s")
is "$sharded" "$local" "the shards' recommendations equal recommend_all's on the coordinator"
seen=$(as_app "SET enable_partitionwise_aggregate = on;
	SELECT count(*) FROM (SELECT user_id, recsys.recommend_items(user_id, item_id, '{\"model\": \"dist\", \"n\": 5}') AS r
		FROM ratings GROUP BY user_id) s JOIN ratings_local l ON l.user_id = s.user_id AND l.item_id = ANY (s.r)")
is "$seen" "0" "with seen_item => item_id the shards leave out each user's own items"

# evaluation on the shards: per-user ndcg computed remotely, averaged here
plan_text=$(as_app "SET enable_partitionwise_aggregate = on;
	EXPLAIN VERBOSE SELECT user_id, recsys.ndcg_at_k(recsys.recommend_items(user_id, NULL, '{\"model\": \"dist\"}'), array_agg(item_id), 10)
	FROM ratings WHERE rating >= 4 GROUP BY user_id")
n=$(printf '%s\n' "$plan_text" | grep -cF 'Remote SQL: SELECT user_id, recsys.ndcg_at_k(recsys.recommend_items(user_id, NULL::bigint, ')
is "$n" "3" "EXPLAIN VERBOSE: per-user ndcg is computed on each shard"
sharded=$(as_app "SET enable_partitionwise_aggregate = on;
	SELECT round(avg(v)::numeric, 12) FROM (SELECT user_id, recsys.ndcg_at_k(recsys.recommend_items(user_id, NULL, '{\"model\": \"dist\"}'),
		array_agg(item_id), 10) AS v FROM ratings WHERE rating >= 4 GROUP BY user_id) s")
local=$(as_app "SELECT round(avg(v)::numeric, 12) FROM (SELECT user_id, recsys.ndcg_at_k(
		(SELECT array_agg(r.item_id ORDER BY r.rank) FROM recsys.recommend('dist', l.user_id, 10) r),
		array_agg(item_id), 10) AS v FROM ratings_local l WHERE rating >= 4 GROUP BY user_id) s")
like "$sharded" '^0\.[0-9]+$' "the shards' mean ndcg@10 is a number ($sharded)"
is "$sharded" "$local" "... equal to the same evaluation on the coordinator"
exit $((tap_failed > 0))
