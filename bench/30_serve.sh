#!/usr/bin/env bash
# Serving benchmark: single-user top 10 through SQL (by name, by value, and the
# pgvector-style ORDER BY <#> LIMIT 10) against the memory-bandwidth floor of reading
# the item factors (streaming bandwidth measured here, warm and cold, by
# bench/serve_bench.c, which also times the fused scan alone and the former bare
# cblas_sgemv + selection); pgbench with 2 clients; recommend_all for every user
# against the GEMM FLOP time at the measured rate (wall clock and CPU), and its
# numeric core against the bare GEMM per OpenBLAS kernel (bench/batch_bench.c).
# The OpenBLAS core the backend runs is printed with every BLAS-bound figure.
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

# --- the C baselines, on the backend's OpenBLAS kernel -----------------------------
# The postmaster's environment (backends inherit it): OPENBLAS_CORETYPE or "unset"
backend_coretype=$($PSQL -At -c "SELECT coalesce(substring(encode(pg_read_binary_file(
	'/proc/' || split_part(pg_read_file('postmaster.pid'), E'\n', 1) || '/environ'), 'escape')
	FROM 'OPENBLAS_CORETYPE=([A-Za-z0-9_]*)'), 'unset')" 2>/dev/null || echo unknown)
with_backend_blas() {
	case "$backend_coretype" in
	unset) env -u OPENBLAS_CORETYPE "$@" ;;
	unknown) "$@" ;;
	*) env OPENBLAS_CORETYPE="$backend_coretype" "$@" ;;
	esac
}
BLAS_CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
cc -O3 -ffp-contract=off -Isrc $BLAS_CFLAGS bench/serve_bench.c -o "$out/serve_bench" $BLAS_LIBS -lm
printf '#include <stdio.h>\nextern char *openblas_get_corename(void);\nint main(void) { puts(openblas_get_corename()); return 0; }\n' >"$out/corename.c"
cc -O2 -o "$out/corename" "$out/corename.c" $BLAS_LIBS
core=$(with_backend_blas "$out/corename")
read -r bare_p50 bare_p99 gemm_gflops fused_p50 fused_cold_p50 warm_gbs cold_gbs item_mb kernels \
	< <(with_backend_blas "$out/serve_bench" "$out/items.txt" "$out/users.txt" "$THREADS" 2>"$out/serve_bench.err")
# recommend_all's numeric core (RecBatchChunk on the pool) against the bare GEMM, on
# the backend's kernel, on Haswell's, on Prescott's (the generic SSE3 one OpenBLAS
# falls back to on a CPU it does not know) and on the CPU's own, one run each
gcc -O2 -Isrc $BLAS_CFLAGS bench/batch_bench.c src/serving.c src/pool.c src/kernels.c \
	-o "$out/batch_bench" $BLAS_LIBS -lpthread -lm
BATCH_USERS=${SERVE_BATCH_USERS:-20000}
batch_lines=""
for ct in backend Haswell Prescott unset; do
	args=("$out/batch_bench" "$out/items.txt" "$out/users.txt" "$BATCH_USERS" "$THREADS")
	case "$ct" in
	backend) line=$(with_backend_blas "${args[@]}" 2>"$out/batch.err") ;;
	unset) line=$(env -u OPENBLAS_CORETYPE "${args[@]}" 2>"$out/batch.err") ;;
	*) line=$(env OPENBLAS_CORETYPE="$ct" "${args[@]}" 2>"$out/batch.err") ;;
	esac
	# the share of user x tile products multiplied (the rest skipped by their bound)
	share=$(sed -n 's/^user x tile products multiplied: \([0-9.]*\)%.*/\1/p' "$out/batch.err")
	line="$line ${share:-100}"
	# one line per distinct kernel
	case "$batch_lines" in *"${line%% *} "*) ;; *) batch_lines="$batch_lines$line"$'\n' ;; esac
done

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

# --- recommend_all for every user: wall clock and the backend's CPU (all threads),
# best of 3 runs (each the least disturbed by the machine's other load)
all_runs=$(
	echo "SELECT count(*) FROM recsys.recommend('bench', 1, 1);	-- load the model into this backend"
	echo "CREATE TEMP TABLE t (t0 timestamptz, c0 text[]);"
	for r in 1 2 3; do
		cat <<'SQL'
TRUNCATE t;
INSERT INTO t SELECT clock_timestamp(), (string_to_array(pg_read_file('/proc/self/stat'), ' '))[14:15];
SELECT count(*) FROM recsys.recommend_all('bench', 10);
SELECT extract(epoch FROM clock_timestamp() - t0),
	((s[14]::bigint + s[15]::bigint) - (c0[1]::bigint + c0[2]::bigint)) / 100.0
FROM t, string_to_array(pg_read_file('/proc/self/stat'), ' ') s;
SQL
	done
)
all_out=$(printf '%s\n' "$all_runs" | $PSQL -At)
all_rows=$(echo "$all_out" | sed -n 2p)
all_seconds=$(echo "$all_out" | grep '|' | cut -d'|' -f1 | sort -g | head -1)
all_cpu=$(echo "$all_out" | grep '|' | cut -d'|' -f2 | sort -g | head -1)

awk -v bp50="$bare_p50" -v bp99="$bare_p99" -v gf="$gemm_gflops" \
	-v np50="$name_p50" -v np99="$name_p99" -v vp50="$value_p50" -v vp99="$value_p99" \
	-v gp50="$vec_p50" -v gp99="$vec_p99" -v tps="$tps" -v xacts="$xacts" -v failed="${failed:-0}" \
	-v secs="$all_seconds" -v cpu="$all_cpu" -v rows="$all_rows" -v U="$USERS" -v I="$ITEMS" -v K="$FACTORS" -v T="$THREADS" \
	-v fp50="$fused_p50" -v fcp50="$fused_cold_p50" -v wbw="$warm_gbs" -v cbw="$cold_gbs" -v mb="$item_mb" \
	-v core="$core" -v kern="$kernels" -v bl="$(printf '%s' "$batch_lines" | head -n 1)" -v BU="$BATCH_USERS" '
BEGIN {
	# the backend kernel'"'"'s GEMM: the better of the two rates measured here (noise
	# only slows a run down), and its CPU seconds per FLOP from batch_bench
	split(bl, b, " ");
	if (b[2] > gf)
		gf = b[2];
	flop_s = 2.0 * U * I * K / (gf * 1e9);
	flop_cpu = b[6] * U / BU;
	wfloor = mb * 1e3 / wbw;	# microseconds to read the item factors once, warm
	cfloor = mb * 1e3 / cbw;	# ... and from DRAM
	printf "\nServing: %d users x %d items x %d factors, %d threads; OpenBLAS core %s (the backend'"'"'s), kernels.c set %s\n\n", U, I, K, T, core, kern;
	printf "Bandwidth floor of an exact top-N: reading %.2f MB of item factors at the streaming bandwidth measured here: warm %.1f GB/s = %.0f us, cold (DRAM) %.1f GB/s = %.0f us\n\n", mb, wbw, wfloor, cbw, cfloor;
	print "| measure | recsys | baseline | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| top-10 by name, p50 (us) | %d | %.0f (warm bandwidth floor) | %.2fx (target <= 1.5x) |\n", np50, wfloor, np50 / wfloor;
	printf "| top-10 by name, p50 against the cold floor | %d | %.0f (cold bandwidth floor) | %.2fx |\n", np50, cfloor, np50 / cfloor;
	printf "| top-10 by name, p99 (us) | %d | %.0f (sgemv + heap in C, p99) | %.2fx |\n", np99, bp99, np99 / bp99;
	printf "| fused scan alone in C, p50 warm / cold (us) | %.0f / %.0f | %.0f / %.0f (floors) | %.2fx / %.2fx |\n", fp50, fcp50, wfloor, cfloor, fp50 / wfloor, fcp50 / cfloor;
	printf "| sgemv + heap in C (the former path), p50 (us) | %.0f | %.0f (fused scan) | %.2fx |\n", bp50, fp50, bp50 / fp50;
	printf "| top-10 by value, p50 / p99 (us) | %d / %d | | name adds %+d us at p50 |\n", vp50, vp99, np50 - vp50;
	printf "| pgvector-style ORDER BY <#> LIMIT 10, p50 / p99 (us) | %d / %d | | %.1fx the SRF by name |\n", gp50, gp99, gp50 / np50;
	printf "| pgbench -c 2 -T 30, by name (calls/s) | %.0f | %d calls, %d failed | |\n", tps, xacts, failed;
	printf "| recommend_all, all users top 10, wall (s) | %.2f | %.2f (GEMM FLOPs at %.1f GFLOP/s, %s) | %.2fx (target <= 1.5x) |\n", secs, flop_s, gf, core, secs / flop_s;
	printf "| recommend_all, backend CPU, all threads (s) | %.2f | %.2f (CPU seconds of the same GEMM FLOPs, %s) | %.2fx (target <= 1.5x) |\n", cpu, flop_cpu, core, cpu / flop_cpu;
	printf "\n(%d rows from recommend_all, best of 3 runs for wall and for CPU; latencies are per call through libpq, prepared, one client)\n", rows;
}'
echo
echo "Half-precision item factors (not a model option yet; measured on this model, the sampled users): $(sed -n 's/^recall@/recall@/p' "$out/serve_bench.err")"
echo
echo "recommend_all's numeric core in C (bench/batch_bench.c: RecBatchChunk on the pool, ${BATCH_USERS} users) against the same SGEMM calls alone, per OpenBLAS kernel, best of interleaved runs"
echo
echo "| OpenBLAS core | GEMM GFLOP/s | GEMM s | batch s | wall ratio | GEMM CPU s | batch CPU s | CPU ratio | user x tile products multiplied |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s' "$batch_lines" | awk 'NF == 9 { printf "| %s | %.1f | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx | %.1f%% |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
