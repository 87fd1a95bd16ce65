#!/usr/bin/env bash
# explain and diversity against plain recommend, on a 27,000-item model (64
# factors, MovieLens-20M's item count), all by name through prepared statements
# on one connection, in one run:
#   explain_by_items of a 20-item history (one fold-in system, one solve with the
#   item's vector, 20 dots) against recommend of a known user (one sgemv over
#   27,000 items) and recommend_by_items of the same history; target <= 3x;
#   explain of a known user by id (the model stores the training values: the
#   same fold-in decomposition over the user's stored history) against the
#   same recommend;
#   explain of a known user on an item kNN model of the same data against that
#   model's recommend;
#   recommend with diversity 0.3 (MMR over a pool of 100) against without;
#   target <= 2x.
# Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/explain
mkdir -p "$out"
rm -f "$out"/lat_*

USERS=${EXPLAIN_USERS:-20000}
ITEMS=${EXPLAIN_ITEMS:-27000}
FACTORS=${EXPLAIN_FACTORS:-64}
CALLS=${EXPLAIN_CALLS:-3000}
PSQL="psql -X -q -v ON_ERROR_STOP=1"

have=$($PSQL -At -c "SELECT count(*) FROM recsys.models WHERE name IN ('bench_explain', 'bench_explain_knn')
	AND (recsys.model_info(model) ->> 'n_items')::int = $ITEMS
	AND (recsys.model_info(model) ->> 'has_seen_values')::bool")
if [ "$have" != 2 ]; then
	echo "building the $USERS x $ITEMS models ..." >&2
	$PSQL -c "DROP TABLE IF EXISTS explain_ratings" \
		-c "CREATE UNLOGGED TABLE explain_ratings AS
			SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $((USERS * 25)), seed => 3)
			UNION ALL SELECT (i * 7919) % $USERS + 1, i, 3 FROM generate_series(1, $ITEMS) i" \
		-c "DELETE FROM recsys.models WHERE name IN ('bench_explain', 'bench_explain_knn')" \
		-c "INSERT INTO recsys.models (name, model)
			SELECT 'bench_explain', recsys.train_als(user_id, item_id, rating,
				'{\"factors\": $FACTORS, \"iterations\": 2}') FROM explain_ratings" \
		-c "INSERT INTO recsys.models (name, model)
			SELECT 'bench_explain_knn', recsys.train_knn(user_id, item_id, rating,
				'{\"neighbours\": 50}') FROM explain_ratings"
fi

# a 20-item history from random items, and the item to explain
hist=""
for j in $(seq 1 20); do hist="$hist\\set h$j random(1, $ITEMS)
"; done
arr=$(seq -s, 1 20 | sed 's/\([0-9]*\)/:h\1::bigint/g')
cat >"$out/recommend.sql" <<SQL
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_explain', :uid::bigint, 10);
SQL
cat >"$out/by_items.sql" <<SQL
$hist
SELECT * FROM recsys.recommend_by_items('bench_explain', ARRAY[$arr], NULL, 10);
SQL
cat >"$out/explain.sql" <<SQL
$hist\\set t random(1, $ITEMS)
SELECT * FROM recsys.explain_by_items('bench_explain', ARRAY[$arr], NULL, :t::bigint, 10);
SQL
cat >"$out/explain_user.sql" <<SQL
\\set uid random(1, $USERS)
\\set t random(1, $ITEMS)
SELECT * FROM recsys.explain('bench_explain', :uid::bigint, :t::bigint, 10);
SQL
cat >"$out/diverse.sql" <<SQL
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_explain', :uid::bigint, 10, diversity => 0.3);
SQL
cat >"$out/knn_recommend.sql" <<SQL
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_explain_knn', :uid::bigint, 10);
SQL
cat >"$out/knn_explain.sql" <<SQL
\\set uid random(1, $USERS)
\\set t random(1, $ITEMS)
SELECT * FROM recsys.explain('bench_explain_knn', :uid::bigint, :t::bigint, 10);
SQL
cat >"$out/knn_diverse.sql" <<SQL
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_explain_knn', :uid::bigint, 10, diversity => 0.3);
SQL

percentiles() {
	cat "$@" | awk '{print $3}' | awk -v n="$(cat "$@" | wc -l)" 'NR > n * 0.05' | sort -n |
		awk '{a[NR] = $1} END {printf "%d %d\n", a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1]}'
}
latency() {
	pgbench -n -M prepared -c 1 -t "$CALLS" -f "$out/$1.sql" --log --log-prefix="$out/lat_$1" \
		>/dev/null 2>&1
	percentiles "$out"/lat_"$1".*
}
latency recommend >/dev/null		# warm the caches and the CPU
latency knn_recommend >/dev/null
rm -f "$out"/lat_*
for s in recommend by_items explain explain_user diverse knn_recommend knn_explain knn_diverse; do
	read -r p50 p99 < <(latency $s)
	echo "$s $p50 $p99"
done >"$out/summary"

awk -v I="$ITEMS" -v K="$FACTORS" -v U="$USERS" '
{ p50[$1] = $2; p99[$1] = $3 }
END {
	printf "\nExplain and diversity: %d users x %d items (ALS, %d factors; item kNN, 50 neighbours), top 10 by name\n\n", U, I, K;
	print "| call | p50 (us) | p99 (us) | p50 ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| ALS recommend (known user) | %d | %d | 1 |\n", p50["recommend"], p99["recommend"];
	printf "| ALS recommend_by_items (20 items) | %d | %d | %.2fx |\n", p50["by_items"], p99["by_items"], p50["by_items"] / p50["recommend"];
	printf "| ALS explain_by_items (20 items) | %d | %d | %.2fx (target <= 3x) |\n", p50["explain"], p99["explain"], p50["explain"] / p50["recommend"];
	printf "| ALS explain (known user, by id) | %d | %d | %.2fx (target <= 3x) |\n", p50["explain_user"], p99["explain_user"], p50["explain_user"] / p50["recommend"];
	printf "| ALS recommend, diversity 0.3 | %d | %d | %.2fx (target <= 2x) |\n", p50["diverse"], p99["diverse"], p50["diverse"] / p50["recommend"];
	printf "| item kNN recommend (known user) | %d | %d | 1 |\n", p50["knn_recommend"], p99["knn_recommend"];
	printf "| item kNN explain (known user) | %d | %d | %.2fx (target <= 3x) |\n", p50["knn_explain"], p99["knn_explain"], p50["knn_explain"] / p50["knn_recommend"];
	printf "| item kNN recommend, diversity 0.3 | %d | %d | %.2fx (target <= 2x) |\n", p50["knn_diverse"], p99["knn_diverse"], p50["knn_diverse"] / p50["knn_recommend"];
}' "$out/summary"

# what storing the training values (for explain by id) adds to the ALS model:
# one directory entry and 4 bytes per interaction, 8-aligned
$PSQL -At -F ' ' -c "SELECT (i ->> 'bytes')::bigint, 24 + ((4 * (i ->> 'n_interactions')::bigint + 7) / 8) * 8
	FROM (SELECT recsys.model_info(model) AS i FROM recsys.models WHERE name = 'bench_explain') x" |
	awk '{ printf "\nALS model with its training values: %.2f MB, %.2f MB (+%.1f%%) more than without them\n",
		$1 / 1048576, $2 / 1048576, 100 * $2 / ($1 - $2) }'
