#!/usr/bin/env bash
# Serving benchmark: single-user top 10 through SQL (by name, by value, and the
# pgvector-style ORDER BY <#> LIMIT 10) against a bare cblas_sgemv + selection over
# the same item matrix measured here by bench/serve_bench.c; pgbench with 2 clients;
# recommend_all for every user against the GEMM FLOP time at the measured rate.
#
# The model has MovieLens-20M's shape (138,000 users x 27,000 items x 64 factors),
# trained on SERVE_RATINGS synthetic ratings (default 2,000,000; serving cost does not
# depend on how many ratings trained it), or on SERVE_RATINGS_CSV (user,item,rating
# lines, no header) if that names a file.  Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/serve
mkdir -p "$out"
rm -f "$out"/lat_*

USERS=${SERVE_USERS:-138000}
ITEMS=${SERVE_ITEMS:-27000}
RATINGS=${SERVE_RATINGS:-2000000}
FACTORS=${SERVE_FACTORS:-64}
CALLS=${SERVE_CALLS:-3000}
THREADS=$(nproc)
PSQL="psql -X -q -v ON_ERROR_STOP=1"

# --- the model -------------------------------------------------------------------
have=$($PSQL -At -c "SELECT count(*) FROM recsys.models WHERE name = 'bench'
	AND (recsys.model_info(model) ->> 'n_users')::int = $USERS
	AND (recsys.model_info(model) ->> 'n_items')::int = $ITEMS
	AND (recsys.model_info(model) ->> 'factors')::int = $FACTORS")
if [ "$have" != 1 ]; then
	echo "building the $USERS x $ITEMS x $FACTORS model ..." >&2
	$PSQL -c "DROP TABLE IF EXISTS serve_ratings" \
		-c "CREATE UNLOGGED TABLE serve_ratings (user_id bigint, item_id bigint, rating real)"
	if [ -n "${SERVE_RATINGS_CSV:-}" ] && [ -f "$SERVE_RATINGS_CSV" ]; then
		$PSQL -c "\\copy serve_ratings FROM '$SERVE_RATINGS_CSV' WITH (FORMAT csv)"
	else
		$PSQL -c "INSERT INTO serve_ratings
			SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $RATINGS, seed => 1)"
	fi
	# every user and every item at least once, so the matrices have the full shape
	$PSQL -c "INSERT INTO serve_ratings
		SELECT u, (u * 7919) % $ITEMS + 1, 3 FROM generate_series(1::bigint, $USERS) u
		UNION ALL SELECT (i * 104729) % $USERS + 1, i, 3 FROM generate_series(1::bigint, $ITEMS) i"
	nice $PSQL -c "DELETE FROM recsys.models WHERE name = 'bench'" \
		-c "INSERT INTO recsys.models (name, model)
			SELECT 'bench', recsys.train_als(user_id, item_id, rating,
				'{\"factors\": $FACTORS, \"iterations\": 2}') FROM serve_ratings"
fi

# item and user factors as tables (the pgvector way) and as text (the C baseline)
$PSQL -c "DROP TABLE IF EXISTS serve_items, serve_users" \
	-c "CREATE TABLE serve_items AS SELECT id, factors FROM recsys.item_factors('bench')" \
	-c "CREATE TABLE serve_users AS SELECT id, factors FROM recsys.user_factors('bench')" \
	-c "ALTER TABLE serve_users ADD PRIMARY KEY (id)" \
	-c "VACUUM ANALYZE serve_items, serve_users"
$PSQL -At -c "SELECT coalesce(bias, 0) || ' ' || array_to_string(factors::real[], ' ')
	FROM recsys.item_factors('bench') ORDER BY id" >"$out/items.txt"
$PSQL -At -c "SELECT (recsys.model_info('bench') ->> 'global_mean')::real + coalesce(bias, 0)
	|| ' ' || array_to_string(factors::real[], ' ')
	FROM recsys.user_factors('bench') WHERE id % 67 = 0 ORDER BY id" >"$out/users.txt"

# --- the C baseline --------------------------------------------------------------
BLAS_CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
cc -O3 -fopenmp-simd -Isrc $BLAS_CFLAGS bench/serve_bench.c -o "$out/serve_bench" $BLAS_LIBS -lm
read -r bare_p50 bare_p99 gemm_gflops < <("$out/serve_bench" "$out/items.txt" "$out/users.txt" "$THREADS" 2>/dev/null)

# --- single-user latency through SQL (prepared statements, one connection) -------
cat >"$out/by_name.sql" <<EOF
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench', :uid::bigint, 10);
EOF
cat >"$out/by_value.sql" <<EOF
\\set uid random(1, $USERS)
SELECT r.* FROM recsys.models m, recsys.recommend(m.model, :uid::bigint, 10) r WHERE m.name = 'bench';
EOF
cat >"$out/pgvector.sql" <<EOF
\\set uid random(1, $USERS)
SELECT id FROM serve_items ORDER BY factors OPERATOR(recsys.<#>) (SELECT factors FROM serve_users WHERE id = :uid) LIMIT 10;
EOF

# p50 and p99 in microseconds of a pgbench per-transaction log, first 5% dropped (warm-up)
percentiles() {
	cat "$@" | awk '{print $3}' | awk -v n="$(cat "$@" | wc -l)" 'NR > n * 0.05' | sort -n |
		awk '{a[NR] = $1} END {printf "%d %d\n", a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1]}'
}
latency() {
	local name=$1 calls=$2
	pgbench -n -M prepared -c 1 -t "$calls" -f "$out/$name.sql" --log --log-prefix="$out/lat_$name" \
		>/dev/null 2>&1
	percentiles "$out"/lat_"$name".*
}
read -r name_p50 name_p99 < <(latency by_name "$CALLS")
read -r value_p50 value_p99 < <(latency by_value "$CALLS")
read -r vec_p50 vec_p99 < <(latency pgvector $((CALLS / 10)))

# --- throughput: 2 clients for 30 s ----------------------------------------------
pgbench -n -M prepared -c 2 -j 2 -T "${SERVE_SECONDS:-30}" -f "$out/by_name.sql" >"$out/pgbench.out" 2>&1 || true
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out/pgbench.out" | head -1)
xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out/pgbench.out")

# --- recommend_all for every user --------------------------------------------------
all_seconds=$($PSQL -At <<'SQL'
SELECT count(*) FROM recsys.recommend('bench', 1, 1);	-- load the model into this backend
CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;
SELECT count(*) FROM recsys.recommend_all('bench', 10);
SELECT extract(epoch FROM clock_timestamp() - t0) FROM t;
SQL
)
all_rows=$(echo "$all_seconds" | sed -n 2p)
all_seconds=$(echo "$all_seconds" | sed -n 3p)

awk -v bp50="$bare_p50" -v bp99="$bare_p99" -v gf="$gemm_gflops" \
	-v np50="$name_p50" -v np99="$name_p99" -v vp50="$value_p50" -v vp99="$value_p99" \
	-v gp50="$vec_p50" -v gp99="$vec_p99" -v tps="$tps" -v xacts="$xacts" -v failed="${failed:-0}" \
	-v secs="$all_seconds" -v rows="$all_rows" -v U="$USERS" -v I="$ITEMS" -v K="$FACTORS" -v T="$THREADS" '
BEGIN {
	flop_s = 2.0 * U * I * K / (gf * 1e9);
	printf "\nServing: %d users x %d items x %d factors, %d threads\n\n", U, I, K, T;
	print "| measure | recsys | baseline | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| top-10 by name, p50 (us) | %d | %.0f (sgemv + heap in C) | %.2fx (target <= 2x + 50 us = %.0f) |\n", np50, bp50, np50 / bp50, 2 * bp50 + 50;
	printf "| top-10 by name, p99 (us) | %d | %.0f | %.2fx |\n", np99, bp99, np99 / bp99;
	printf "| top-10 by value, p50 / p99 (us) | %d / %d | | name adds %+d us at p50 |\n", vp50, vp99, np50 - vp50;
	printf "| pgvector-style ORDER BY <#> LIMIT 10, p50 / p99 (us) | %d / %d | | %.1fx the SRF by name |\n", gp50, gp99, gp50 / np50;
	printf "| pgbench -c 2 -T 30, by name (calls/s) | %.0f | %d calls, %d failed | |\n", tps, xacts, failed;
	printf "| recommend_all, all users top 10 (s) | %.2f | %.2f (GEMM FLOPs at %.1f GFLOP/s) | %.2fx (target <= 2x) |\n", secs, flop_s, gf, secs / flop_s;
	printf "\n(%d rows from recommend_all; latencies are per call through libpq, prepared, one client)\n", rows;
}'
