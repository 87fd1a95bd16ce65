#!/usr/bin/env bash
# Distributed ALS and implicit ALS (recsys.train_distributed) on three shard
# clusters started on this machine (test/cluster/shards.bash) against train_als and
# train_ials on the coordinator, same data (implicit counts), same options, in the
# same run: seconds per iteration of each, their ratio, the final losses and the
# bytes of the model broadcast each half-sweep.
# All four clusters share this machine's cores, so the ratio shows the cost of
# the distributed path (one SQL group per row, the broadcast, the round trips),
# not a speed-up.  Prints markdown; asserts nothing.  Sizes: SHARD_BENCH_*.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/cluster/tap.bash
. test/cluster/shards.bash

USERS=${SHARD_BENCH_USERS:-20000}
ITEMS=${SHARD_BENCH_ITEMS:-2000}
RATINGS=${SHARD_BENCH_RATINGS:-1000000}
FACTORS=${SHARD_BENCH_FACTORS:-32}
ITERS=${SHARD_BENCH_ITERATIONS:-3}
db=recsys_shard_bench_$$
cleanup() {
	shards_stop
	q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

shards_start 3 || { echo "could not start the shards"; exit 1; }
for i in 1 2 3; do
	shard_psql "$i" "CREATE EXTENSION recsys;
		CREATE TABLE ratings (user_id bigint, item_id bigint, rating real);
		CREATE TABLE ratings_by_item (user_id bigint, item_id bigint, rating real)" >/dev/null
done
q -d postgres "CREATE DATABASE $db" >/dev/null
q -d "$db" "CREATE EXTENSION postgres_fdw; CREATE EXTENSION recsys" >/dev/null
q -d "$db" "CREATE TABLE ratings (user_id bigint, item_id bigint, rating real) PARTITION BY HASH (user_id);
	CREATE TABLE ratings_by_item (user_id bigint, item_id bigint, rating real) PARTITION BY HASH (item_id)" >/dev/null
for i in 1 2 3; do
	q -d "$db" "CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '127.0.0.1', port '$(shard_port "$i")', dbname 'postgres',
					 extensions 'recsys', batch_size '1000');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard$i OPTIONS (user 'postgres', password 'pw');
		CREATE FOREIGN TABLE ratings_$i PARTITION OF ratings
			FOR VALUES WITH (MODULUS 3, REMAINDER $((i - 1))) SERVER shard$i OPTIONS (table_name 'ratings');
		CREATE FOREIGN TABLE ratings_by_item_$i PARTITION OF ratings_by_item
			FOR VALUES WITH (MODULUS 3, REMAINDER $((i - 1))) SERVER shard$i OPTIONS (table_name 'ratings_by_item')" >/dev/null
done
q -d "$db" "CREATE TABLE ratings_local AS SELECT user_id, item_id, rating
	FROM recsys.synthetic_ratings($USERS, $ITEMS, $RATINGS, rank => 8, seed => 3, implicit => true)" >/dev/null
q -d "$db" "INSERT INTO ratings SELECT * FROM ratings_local; INSERT INTO ratings_by_item SELECT * FROM ratings_local;
	ANALYZE ratings_local, ratings, ratings_by_item" >/dev/null

# run ALG AGGREGATE OPTIONS: "s_single s_distributed loss_single loss_distributed bytes"
run() {
	local alg=$1 agg=$2 opts=$3
	q -d "$db" "DO \$\$ DECLARE t0 timestamptz; s float8; d float8; ls float8; ld float8; bytes bigint; BEGIN
	t0 := clock_timestamp();
	SELECT (recsys.model_info(recsys.$agg(user_id, item_id, rating, '$opts')) ->> 'train_loss')::float8
		INTO ls FROM ratings_local;
	s := extract(epoch FROM clock_timestamp() - t0) / $ITERS;
	t0 := clock_timestamp();
	SELECT (recsys.model_info(m) ->> 'train_loss')::float8, length(m::text)
		INTO ld, bytes FROM recsys.train_distributed('ratings', 'ratings_by_item', 'rating', '$opts', '$alg') AS m;
	d := extract(epoch FROM clock_timestamp() - t0) / $ITERS;
	RAISE NOTICE 'result % % % % %', round(s::numeric, 3), round(d::numeric, 3), ls, ld, bytes;
	END \$\$" 2>&1 | sed -n 's/.*result //p'
}
ratio() { awk -v s="$1" -v d="$2" 'BEGIN { if (s > 0) printf "%.1f", d / s; else print "-" }'; }

read -r s d ls ld bytes <<<"$(run als train_als "{\"factors\": $FACTORS, \"iterations\": $ITERS, \"regularization\": 0.05, \"seed\": 1}")"
read -r is id ils ild ibytes <<<"$(run ials train_ials "{\"factors\": $FACTORS, \"iterations\": $ITERS, \"seed\": 1}")"
echo
echo "Distributed training on 3 local shards: $USERS users, $ITEMS items, $RATINGS interactions (implicit counts), $FACTORS factors, $ITERS iterations"
echo
echo "| training | s / iteration | ratio | loss after $ITERS |"
echo "| --- | --- | --- | --- |"
echo "| train_als, coordinator | $s | 1.0 | $ls |"
echo "| train_distributed als, 3 shards | $d | $(ratio "$s" "$d") | $ld |"
echo "| train_ials, coordinator | $is | 1.0 | $ils |"
echo "| train_distributed ials, 3 shards | $id | $(ratio "$is" "$id") | $ild |"
echo
echo "model broadcast to each shard per half-sweep: $bytes bytes of text"
