#!/usr/bin/env bash
# Neighbourhood models (train_knn, train_ease) against baselines measured in the same run:
#  - item-kNN (cosine, 100 neighbours) on a MovieLens-20M-shaped implicit set (138,000
#    users x 27,000 items, 20,000,000 interactions, recsys.synthetic_ratings seed 42)
#    plus 2,000 users with exactly 100 interactions each (copies of 100 items of
#    existing users): training time against one iALS iteration (64 factors) on the
#    same rows; recommend top-10 p50/p99 for random known users and for the
#    100-interaction users, against the iALS model (64 factors) on the same catalogue;
#  - EASE (neighbours 200) on 100,000 users x 20,000 items x 5,000,000 interactions:
#    the fit's seconds against FLOP / GEMM rate with FLOP = n^3/3 (Cholesky) +
#    2 n^3/3 (inverse) + sum over users of |I_u|^2 (Gram), the rate measured here by
#    bench/solver_bench.c with the OpenBLAS kernel the backend uses; peak memory
#    (model_info's peak_bytes and the backend's VmHWM from /proc).
# Which OpenBLAS kernel the backend runs is read from the postmaster's environment
# (OPENBLAS_CORETYPE; the cluster's start script may not pass the shell's through)
# and, if perf works, confirmed by sampling the backend during the EASE fit.
# Data sets are generated once and kept in bench/data/ as COPY binary files.  Prints
# markdown; asserts nothing.  Sizes can be lowered with NB_BENCH_* for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/neighbours
mkdir -p bench/data "$out"
rm -f "$out"/lat_*

USERS=${NB_BENCH_USERS:-138000}
ITEMS=${NB_BENCH_ITEMS:-27000}
INTERACTIONS=${NB_BENCH_INTERACTIONS:-20000000}
SHORT_USERS=${NB_BENCH_SHORT_USERS:-2000}		# users added with HISTORY interactions
HISTORY=${NB_BENCH_HISTORY:-100}
NEIGHBOURS=${NB_BENCH_NEIGHBOURS:-100}
FACTORS=${NB_BENCH_FACTORS:-64}
IALS_ITERS=${NB_BENCH_IALS_ITERATIONS:-3}
EASE_USERS=${NB_BENCH_EASE_USERS:-100000}
EASE_ITEMS=${NB_BENCH_EASE_ITEMS:-20000}
EASE_INTERACTIONS=${NB_BENCH_EASE_INTERACTIONS:-5000000}
EASE_NEIGHBOURS=${NB_BENCH_EASE_NEIGHBOURS:-200}
CALLS=${NB_BENCH_CALLS:-3000}
THREADS=${NB_BENCH_THREADS:-2}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
SERIAL=(-c 'SET max_parallel_workers_per_gather = 0' -c "SET recsys.threads = $THREADS")
# bench/run creates the extension; this lets the piece run alone in a fresh cluster
"${PSQL[@]}" -c 'CREATE EXTENSION IF NOT EXISTS recsys'

# --- 1. the backend's OpenBLAS kernel and the GEMM rate on that kernel ---------------
# The postmaster's environment (backends inherit it): OPENBLAS_CORETYPE or "unset"
backend_coretype=$("${PSQL[@]}" -At -c "SELECT coalesce(substring(encode(pg_read_binary_file(
	'/proc/' || split_part(pg_read_file('postmaster.pid'), E'\n', 1) || '/environ'), 'escape')
	FROM 'OPENBLAS_CORETYPE=([A-Za-z0-9_]*)'), 'unset')" 2>/dev/null || echo unknown)
# run a command with the backend's OPENBLAS_CORETYPE (the shell's if unknown)
with_backend_blas() {
	case "$backend_coretype" in
	unset) env -u OPENBLAS_CORETYPE "$@" ;;
	unknown) "$@" ;;
	*) env OPENBLAS_CORETYPE="$backend_coretype" "$@" ;;
	esac
}
BLAS_CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
gcc -O2 -Isrc $BLAS_CFLAGS -o bench/out/solver_bench bench/solver_bench.c \
	src/als.c src/ials.c src/pool.c src/kernels.c $BLAS_LIBS -lpthread -lm
printf '#include <stdio.h>\nextern char *openblas_get_corename(void);\nint main(void) { puts(openblas_get_corename()); return 0; }\n' >"$out/corename.c"
gcc -O2 -o "$out/corename" "$out/corename.c" $BLAS_LIBS
core_backend=$(with_backend_blas "$out/corename")
core_shell=$("$out/corename")
gemm_rate() {		# GFLOP/s of SGEMM 2048^3 on THREADS threads
	"$@" bench/out/solver_bench --only gemm --threads "$THREADS" |
		sed -n "s/^| SGEMM 2048^3, $THREADS threads\{0,1\} | \([0-9.]*\) .*/\1/p"
}
gemm_backend=$(gemm_rate with_backend_blas)
gemm_shell=$(gemm_rate env)

# --- 2. the data sets: generated once, then loaded from bench/data -----------------
load_set() {
	local table=$1 file=$2 users=$3 items=$4 n=$5
	"${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS $table" \
		-c "CREATE UNLOGGED TABLE $table (user_id bigint, item_id bigint, rating real)"
	if [ ! -s "$file" ]; then
		echo "Generating $table ($n rows, kept in $file)..." >&2
		"${PSQL[@]}" -c "INSERT INTO $table SELECT * FROM recsys.synthetic_ratings($users, $items, $n, 8, 0.5, 42, true)" \
			-c "\\copy $table TO '$file.tmp' WITH (FORMAT binary)"
		mv "$file.tmp" "$file"
	else
		"${PSQL[@]}" -c "\\copy $table FROM '$file' WITH (FORMAT binary)"
	fi
}
echo "Loading the ${USERS} x ${ITEMS} set..." >&2
load_set nb_knn_rows "bench/data/implicit_${USERS}x${ITEMS}_${INTERACTIONS}.copy" "$USERS" "$ITEMS" "$INTERACTIONS"
# users USERS+1 .. USERS+SHORT_USERS: HISTORY items (a fixed pseudo-random choice) of
# user (j * 67) % USERS + 1, with that user's values
"${PSQL[@]}" -c "INSERT INTO nb_knn_rows
	SELECT $USERS + j, item_id, rating FROM (
		SELECT j, r.item_id, r.rating,
			   row_number() OVER (PARTITION BY j ORDER BY (r.item_id * 7919 + j) % 1000003, r.item_id) AS k
		FROM generate_series(1, $SHORT_USERS) j JOIN nb_knn_rows r ON r.user_id = (j * 67) % $USERS + 1) x
	WHERE k <= $HISTORY" -c "VACUUM ANALYZE nb_knn_rows"
load_set nb_ease_rows "bench/data/implicit_${EASE_USERS}x${EASE_ITEMS}_${EASE_INTERACTIONS}.copy" \
	"$EASE_USERS" "$EASE_ITEMS" "$EASE_INTERACTIONS"
"${PSQL[@]}" -c "VACUUM ANALYZE nb_ease_rows"

# --- 3. training -------------------------------------------------------------------
# One session per training: wall seconds, model_info, the backend's VmHWM (kB)
# before and after, the verbose NOTICEs (on stderr, merged)
train() {
	local name=$1 agg=$2 table=$3 opts=$4
	"${PSQL[@]}" -At "${SERIAL[@]}" -f - 2>&1 <<SQL
SELECT 'pid ' || pg_backend_pid();
SELECT 'hwm0 ' || substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*([0-9]+)');
CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;
DELETE FROM recsys.models WHERE name = '$name';
INSERT INTO recsys.models (name, model) SELECT '$name', recsys.$agg(user_id, item_id, rating, '$opts') FROM $table;
SELECT 'wall ' || extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'hwm1 ' || substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*([0-9]+)');
SELECT 'info ' || recsys.model_info('$name')::text;
SQL
}
field() { sed -n "s/^$1 //p" | head -n 1; }
info_field() {
	grep '^info ' | sed -n "s/.*\"$1\": \"\{0,1\}\([0-9.e+-]*\).*/\1/p" | head -n 1
}

echo "Training item-kNN ($NEIGHBOURS neighbours)..." >&2
knn_out=$(train bench_knn train_knn nb_knn_rows "{\"neighbours\": $NEIGHBOURS}")
knn_wall=$(echo "$knn_out" | field wall)
knn_fit=$(echo "$knn_out" | info_field train_seconds)
knn_peak=$(echo "$knn_out" | info_field peak_bytes)
knn_nnz=$(echo "$knn_out" | info_field n_interactions)
knn_users=$(echo "$knn_out" | info_field n_users)
knn_items=$(echo "$knn_out" | info_field n_items)
knn_bytes=$(echo "$knn_out" | info_field bytes)
knn_hwm=$(( $(echo "$knn_out" | field hwm1) - $(echo "$knn_out" | field hwm0) ))

echo "Training iALS ($FACTORS factors, $IALS_ITERS iterations)..." >&2
ials_out=$(train bench_nb_ials train_ials nb_knn_rows \
	"{\"factors\": $FACTORS, \"iterations\": $IALS_ITERS, \"verbose\": true}")
ials_wall=$(echo "$ials_out" | field wall)
ials_fit=$(echo "$ials_out" | info_field train_seconds)
# mean seconds of iterations 2.. (the first one warms caches), from the NOTICE details
ials_iter=$(echo "$ials_out" | sed -n 's/.*loss [^,]*, \([0-9.]*\) s.*/\1/p' | tail -n +2 |
	awk '{ s += $1; n++ } END { if (n) printf "%.3f", s / n; else print "n/a" }')

# co-occurrence pairs of the kNN fit: sum over users of |I_u|^2
knn_pairs=$("${PSQL[@]}" -At "${SERIAL[@]}" -c "SELECT sum(n::float8 * n) FROM (SELECT count(*) n FROM nb_knn_rows GROUP BY user_id) x")

# --- 4. serving latency (pgbench, prepared, one client) ----------------------------
cat >"$out/knn_any.sql" <<EOF
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_knn', :uid::bigint, 10);
EOF
cat >"$out/ials_any.sql" <<EOF
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_nb_ials', :uid::bigint, 10);
EOF
cat >"$out/knn_short.sql" <<EOF
\\set uid random($((USERS + 1)), $((USERS + SHORT_USERS)))
SELECT * FROM recsys.recommend('bench_knn', :uid::bigint, 10);
EOF
cat >"$out/ials_short.sql" <<EOF
\\set uid random($((USERS + 1)), $((USERS + SHORT_USERS)))
SELECT * FROM recsys.recommend('bench_nb_ials', :uid::bigint, 10);
EOF
# p50 and p99 in microseconds of a pgbench per-transaction log, first 5% dropped (warm-up)
percentiles() {
	cat "$@" | awk '{print $3}' | awk -v n="$(cat "$@" | wc -l)" 'NR > n * 0.05' | sort -n |
		awk '{a[NR] = $1} END {printf "%d %d\n", a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1]}'
}
latency() {
	pgbench -n -M prepared -c 1 -t "$CALLS" -f "$out/$1.sql" --log --log-prefix="$out/lat_$1" \
		>"$out/pgbench_$1.out" 2>&1
	percentiles "$out"/lat_"$1".*
}
echo "Serving latencies ($CALLS calls each)..." >&2
read -r knn_any_p50 knn_any_p99 < <(latency knn_any)
read -r ials_any_p50 ials_any_p99 < <(latency ials_any)
read -r knn_short_p50 knn_short_p99 < <(latency knn_short)
read -r ials_short_p50 ials_short_p99 < <(latency ials_short)
short_len=$("${PSQL[@]}" -At -c "SELECT round(avg(n), 1) FROM (SELECT count(*) n FROM nb_knn_rows
	WHERE user_id > $USERS GROUP BY user_id) x")

# --- 5. EASE -------------------------------------------------------------------------
ease_gram=$("${PSQL[@]}" -At "${SERIAL[@]}" -c "SELECT sum(n::float8 * n) FROM (SELECT count(*) n FROM nb_ease_rows GROUP BY user_id) x")
echo "Training EASE (neighbours $EASE_NEIGHBOURS)..." >&2
train bench_ease train_ease nb_ease_rows "{\"neighbours\": $EASE_NEIGHBOURS, \"verbose\": true}" \
	>"$out/ease.out" &
ease_job=$!
# the kernel the backend really runs: perf samples of the fit, if perf works here
core_perf="perf not available"
if command -v perf >/dev/null 2>&1; then
	for _ in $(seq 100); do
		grep -q '^pid ' "$out/ease.out" 2>/dev/null && break
		sleep 0.1
	done
	ease_pid=$(field pid <"$out/ease.out")
	sleep "${NB_BENCH_PERF_DELAY:-9}"	# past feeding and the Gram phase: sample the factorisation
	core_perf="perf record failed"
	if [ -n "$ease_pid" ] && perf record -q -F 99 -p "$ease_pid" -o "$out/ease.perf" -- sleep 4 \
		>/dev/null 2>&1; then
		core_perf=$(perf report -i "$out/ease.perf" --no-children --sort symbol --stdio -g none 2>/dev/null |
			grep -m 1 'sgemm_kernel_' |
			sed -n 's/^ *\([0-9.]*%\).*\(sgemm_kernel_[A-Za-z0-9_]*\).*/\2 in \1 of the samples/p' || true)
		core_perf=${core_perf:-"no BLAS kernel in the samples"}
	fi
fi
wait "$ease_job"
ease_out=$(cat "$out/ease.out")
ease_fit=$(echo "$ease_out" | info_field train_seconds)
ease_wall=$(echo "$ease_out" | field wall)
ease_peak=$(echo "$ease_out" | info_field peak_bytes)
ease_n=$(echo "$ease_out" | info_field n_items)
ease_nnz=$(echo "$ease_out" | info_field n_interactions)
ease_hwm0=$(echo "$ease_out" | field hwm0)
ease_hwm1=$(echo "$ease_out" | field hwm1)
# the five phases' seconds, from the verbose NOTICEs (Gram, Cholesky, L^-1, W^T W, weights)
read -r ph1 ph2 ph3 ph4 ph5 <<<"$(echo "$ease_out" | sed -n 's/.*loss [^,]*, \([0-9.]*\) s.*/\1/p' | tr '\n' ' ')"

awk -v U="$knn_users" -v I="$knn_items" -v N="$knn_nnz" -v K="$NEIGHBOURS" -v F="$FACTORS" -v T="$THREADS" \
	-v kwall="$knn_wall" -v kfit="$knn_fit" -v kpeak="$knn_peak" -v kbytes="$knn_bytes" -v khwm="$knn_hwm" \
	-v pairs="$knn_pairs" -v iwall="$ials_wall" -v ifit="$ials_fit" -v iiter="$ials_iter" -v IT="$IALS_ITERS" \
	-v ka50="$knn_any_p50" -v ka99="$knn_any_p99" -v ia50="$ials_any_p50" -v ia99="$ials_any_p99" \
	-v ks50="$knn_short_p50" -v ks99="$knn_short_p99" -v is50="$ials_short_p50" -v is99="$ials_short_p99" \
	-v SU="$SHORT_USERS" -v slen="$short_len" -v calls="$CALLS" \
	-v cb="$core_backend" -v cs="$core_shell" -v ct="$backend_coretype" -v cp="$core_perf" \
	-v gb="$gemm_backend" -v gs="$gemm_shell" \
	-v EU="$EASE_USERS" -v EN="$ease_n" -v ENNZ="$ease_nnz" -v EK="$EASE_NEIGHBOURS" -v gram="$ease_gram" \
	-v efit="$ease_fit" -v ewall="$ease_wall" -v epeak="$ease_peak" -v h0="$ease_hwm0" -v h1="$ease_hwm1" \
	-v p1="$ph1" -v p2="$ph2" -v p3="$ph3" -v p4="$ph4" -v p5="$ph5" '
BEGIN {
	printf "\nOpenBLAS kernel in the backend: %s (postmaster OPENBLAS_CORETYPE %s; perf samples of the EASE fit: %s); the shell'"'"'s: %s\n", cb, ct, cp, cs;
	printf "SGEMM 2048^3 on %d threads: %.1f GFLOP/s with the backend'"'"'s kernel (%s), %.1f with the shell'"'"'s (%s)\n", T, gb, cb, gs, cs;

	printf "\nItem-kNN: %d users x %d items, %d interactions, cosine, %d neighbours, %d threads\n\n", U, I, N, K, T;
	print "| measure | item-kNN | baseline | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| training, fit only (s) | %.2f | %.3f (one iALS iteration, %d factors, same rows) | %.1f iALS iterations |\n", kfit, iiter, F, kfit / iiter;
	printf "| training, whole aggregate incl. feeding (s) | %.2f | %.2f (train_ials, %d iterations) | %.2fx |\n", kwall, iwall, IT, kwall / iwall;
	printf "| co-occurrence pairs (sum over users of n_u^2) per fit second (M/s) | %.0f | | |\n", pairs / kfit / 1e6;
	printf "| peak training memory: peak_bytes / backend VmHWM growth (MB) | %.0f / %.0f | | model %.0f MB |\n", kpeak / 1048576, khwm / 1024, kbytes / 1048576;
	printf "| recommend top 10, random known users, p50 (us) | %d | %d (iALS %d factors) | %.2fx |\n", ka50, ia50, F, ka50 / ia50;
	printf "| recommend top 10, random known users, p99 (us) | %d | %d | %.2fx |\n", ka99, ia99, ka99 / ia99;
	printf "| recommend top 10, users with %.0f interactions, p50 (us) | %d | %d | %.2fx (target < 1000 us: %s) |\n", slen, ks50, is50, ks50 / is50, ks50 < 1000 ? "met" : "NOT MET";
	printf "| recommend top 10, users with %.0f interactions, p99 (us) | %d | %d | %.2fx |\n", slen, ks99, is99, ks99 / is99;

	n = EN; chol = n * n * n / 3; inv = 2 * n * n * n / 3; flop = chol + inv + gram;
	base = flop / (gb * 1e9);
	printf "\nEASE: %d users x %d items, %d interactions, neighbours %d, %d threads\n\n", EU, EN, ENNZ, EK, T;
	print "| measure | seconds | baseline | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| 1 Gram (sparse, %.3g FLOP) | %.2f | | |\n", gram, p1;
	printf "| 2 Cholesky (n^3/3 FLOP) | %.2f | %.2f | %.1f GFLOP/s |\n", p2, chol / (gb * 1e9), chol / p2 / 1e9;
	printf "| 3 W = L^-1 (n^3/3) | %.2f | %.2f | %.1f GFLOP/s |\n", p3, chol / (gb * 1e9), chol / p3 / 1e9;
	printf "| 4 P = W^T W (n^3/3) | %.2f | %.2f | %.1f GFLOP/s |\n", p4, chol / (gb * 1e9), chol / p4 / 1e9;
	printf "| 5 B and top-%d per item | %.2f | | |\n", EK, p5;
	printf "| **fit vs FLOP / GEMM rate** (%.3g FLOP at %.1f GFLOP/s, %s) | %.2f | %.2f | **%.2fx** (target <= 3x: %s) |\n", flop, gb, cb, efit, base, efit / base, efit / base <= 3 ? "met" : "NOT MET";
	if (cs != cb)
		printf "| the same against the shell'"'"'s %s rate (%.1f GFLOP/s) | %.2f | %.2f | %.2fx |\n", cs, gs, efit, flop / (gs * 1e9), efit / (flop / (gs * 1e9));
	printf "| whole aggregate incl. feeding (s) | %.2f | | |\n", ewall;
	printf "| peak memory: peak_bytes / backend VmHWM (MB) | %.0f / %.0f | %.0f (the dense n x n matrix) | %.2fx / %.2fx |\n", epeak / 1048576, h1 / 1024, n * n * 4 / 1048576, epeak / (n * n * 4), h1 * 1024 / (n * n * 4);
	printf "\n(latencies per call through libpq, prepared, one client, %d calls, first 5%% dropped; VmHWM of the training backend, %.0f MB before training)\n", calls, h0 / 1024;
}'
