#!/usr/bin/env bash
# Training speed against baselines measured in the same run:
#  - the machine's SGEMM rate (bench/solver_bench.c, OpenBLAS at 1 and 2 threads);
#  - explicit ALS on a MovieLens-20M-shaped synthetic set (138,000 users, 27,000
#    items, 20,000,000 ratings, 64 factors): seconds per iteration, and their ratio to
#    (FLOP per sweep / GEMM rate) with FLOP = sum over rows of n (k+1)^2 + (k+1)^3 / 3;
#  - implicit ALS, CG with 3 steps, on a 10,000,000-interaction implicit set of the
#    same shape: seconds per iteration;
#  - feeding the aggregate ("iterations": 0) against count(*) over the same table,
#    once with a serial plan and once with the default (parallel) plan, each ratio
#    against count(*) under the same settings, and the two plans against each other;
#    then the same rows with their ratings rounded to half stars (0.5 .. 5, as
#    MovieLens rates), which the state keeps in one byte each;
#  - peak training memory per interaction (model_info's peak_bytes).
# The data sets are generated once with recsys.synthetic_ratings and kept in
# bench/data/ as COPY binary files, so later runs only load them.  Prints markdown;
# asserts nothing.  Sizes can be lowered with TRAIN_BENCH_* for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${TRAIN_BENCH_USERS:-138000}
ITEMS=${TRAIN_BENCH_ITEMS:-27000}
RATINGS=${TRAIN_BENCH_RATINGS:-20000000}
IMPLICIT=${TRAIN_BENCH_IMPLICIT:-10000000}
FACTORS=${TRAIN_BENCH_FACTORS:-64}
ITERS=${TRAIN_BENCH_ITERATIONS:-5}
THREADS=${TRAIN_BENCH_THREADS:-2}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
mkdir -p bench/data bench/out

# 1. the GEMM rate, from the standalone driver (the OpenBLAS the extension opens),
# on the kernels the server runs: the server's OPENBLAS_CORETYPE (test/virtualenv
# sets it in the cluster's environment only) does not reach this shell, and
# OpenBLAS's own choice may be another core (Haswell's kernels where the server
# runs SkylakeX's: half the rate)
BLAS_CFLAGS=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
gcc -O2 -Isrc $BLAS_CFLAGS -o bench/out/solver_bench bench/solver_bench.c \
	src/als.c src/ials.c src/pool.c src/kernels.c $BLAS_LIBS -lpthread -lm
server_core=$("${PSQL[@]}" -At -c "SELECT core FROM recsys.blas_info()" 2>/dev/null || true)
on_core=(env ${server_core:+OPENBLAS_CORETYPE="$server_core"})
gemm=$("${on_core[@]}" bench/out/solver_bench --only gemm --threads "$THREADS")
# an ALS row's two dense steps, recsys's kernels against OpenBLAS's routines
rowsolve=$("${on_core[@]}" bench/out/solver_bench --only rowsolve --factors "$FACTORS" |
	grep '^| ALS row' || true)
server_core=${server_core:-OpenBLAS\'s choice}
gemm1=$(echo "$gemm" | sed -n 's/^| SGEMM 2048^3, 1 thread | \([0-9.]*\) .*/\1/p')
gemmT=$(echo "$gemm" | sed -n "s/^| SGEMM 2048^3, $THREADS threads | \([0-9.]*\) .*/\1/p")

# 2. the data sets: generated once, then loaded from bench/data
load_set() {
	local table=$1 file=$2 n=$3 implicit=$4
	"${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS $table" \
		-c "CREATE TABLE $table (user_id bigint, item_id bigint, rating real)"
	if [ ! -s "$file" ]; then
		echo "Generating $table ($n rows, kept in $file)..." >&2
		"${PSQL[@]}" -c "INSERT INTO $table SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $n, 8, 0.5, 42, $implicit)" \
			-c "\\copy $table TO '$file.tmp' WITH (FORMAT binary)"
		mv "$file.tmp" "$file"
	else
		"${PSQL[@]}" -c "\\copy $table FROM '$file' WITH (FORMAT binary)"
	fi
	"${PSQL[@]}" -c "VACUUM ANALYZE $table"
}
tag="${USERS}x${ITEMS}"
load_set bench_explicit "bench/data/explicit_${tag}_${RATINGS}.copy" "$RATINGS" false
load_set bench_implicit "bench/data/implicit_${tag}_${IMPLICIT}.copy" "$IMPLICIT" true

# Best of 3 wall-clock milliseconds of one query (psql \timing); serial plan unless
# the second argument is "default" (the server's parallel settings)
best_ms() {
	local plan='SET max_parallel_workers_per_gather = 0'
	if [ "${2:-serial}" = default ]; then
		plan='RESET max_parallel_workers_per_gather'
	fi
	"${PSQL[@]}" -c "$plan" -c "SET recsys.threads = $THREADS" \
		-c '\timing on' -c "$1" -c "$1" -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
		sort -g | head -n 1
}

# Trains with "verbose": prints the per-iteration seconds (NOTICEs) and model_info
train() {
	local agg=$1 table=$2 opts=$3
	"${PSQL[@]}" -At -c 'SET max_parallel_workers_per_gather = 0' -c "SET recsys.threads = $THREADS" \
		-c "SELECT recsys.model_info(recsys.$agg(user_id, item_id, rating, '$opts')) FROM $table" 2>&1
}

# mean seconds of iterations 2.. (the first one warms caches), from the NOTICE details
iteration_seconds() {
	sed -n 's/.*loss [^,]*, \([0-9.]*\) s.*/\1/p' | tail -n +2 |
		awk '{ s += $1; n++ } END { if (n) printf "%.3f", s / n; else print "n/a" }'
}
info_field() {
	grep '^{' | sed -n "s/.*\"$1\": \"\{0,1\}\([0-9.e+-]*\).*/\1/p" | head -n 1
}

echo "Training explicit ALS (${ITERS} iterations, ${FACTORS} factors, ${THREADS} threads)..." >&2
als_out=$(train train_als bench_explicit "{\"factors\": $FACTORS, \"iterations\": $ITERS, \"regularization\": 0.05, \"verbose\": true, \"keep_interactions\": false}")
als_sweep=$(echo "$als_out" | iteration_seconds)
als_nnz=$(echo "$als_out" | info_field n_interactions)
als_users=$(echo "$als_out" | info_field n_users)
als_items=$(echo "$als_out" | info_field n_items)
als_peak=$(echo "$als_out" | info_field peak_bytes)
als_flop=$(awk -v n="$als_nnz" -v u="$als_users" -v i="$als_items" -v k="$FACTORS" \
	'BEGIN { d = k + 1; printf "%.4g", 2 * n * d * d + (u + i) * d * d * d / 3 }')
als_ratio=$(awk -v t="$als_sweep" -v f="$als_flop" -v g="$gemmT" 'BEGIN { printf "%.2f", t / (f / (g * 1e9)) }')

echo "Training implicit ALS, CG 3 steps..." >&2
ials_out=$(train train_ials bench_implicit "{\"factors\": $FACTORS, \"iterations\": $ITERS, \"cg_steps\": 3, \"cg_tolerance\": 0, \"alpha\": 10, \"verbose\": true, \"keep_interactions\": false}")
ials_sweep=$(echo "$ials_out" | iteration_seconds)
ials_nnz=$(echo "$ials_out" | info_field n_interactions)
ials_peak=$(echo "$ials_out" | info_field peak_bytes)

# Before a timed block: the table just written (gigabytes of dirty pages) is
# flushed first, so that the kernel's write-back does not run beside the timed
# queries (back-to-back runs of this script measured the parallel feed at up to
# 2.18x count(*) with it running, 1.89-1.93x after it).  Both sides of every
# ratio are timed after it.
settle() {
	"${PSQL[@]}" -c CHECKPOINT >/dev/null 2>&1 || true
	sync
}

echo "Feeding the aggregate..." >&2
settle
feed_query="SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": $FACTORS, \"iterations\": 0, \"keep_interactions\": false}') IS NOT NULL FROM bench_explicit"
count_ms=$(best_ms "SELECT count(*) FROM bench_explicit")
feed_ms=$(best_ms "$feed_query")
count_par_ms=$(best_ms "SELECT count(*) FROM bench_explicit" default)
feed_par_ms=$(best_ms "$feed_query" default)
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench_half" \
	-c "CREATE TABLE bench_half AS SELECT user_id, item_id, greatest(0.5, least(5, round(rating * 2) / 2))::real AS rating FROM bench_explicit" \
	-c "VACUUM ANALYZE bench_half"
settle
half_query=${feed_query/FROM bench_explicit/FROM bench_half}
half_count_ms=$(best_ms "SELECT count(*) FROM bench_half")
half_ms=$(best_ms "$half_query")
half_count_par_ms=$(best_ms "SELECT count(*) FROM bench_half" default)
half_par_ms=$(best_ms "$half_query" default)

cat <<EOF

| training ($USERS users, $ITEMS items, $FACTORS factors, $THREADS threads) | measured | baseline | ratio |
| --- | ---: | ---: | ---: |
| SGEMM 2048^3 rate, 1 / $THREADS threads (GFLOP/s; core $server_core, as the server's) | $gemm1 / $gemmT | | |
${rowsolve:+$rowsolve
}| explicit ALS, $als_nnz ratings: s/iteration vs FLOP/GEMM rate ($als_flop FLOP) | $als_sweep | $(awk -v f="$als_flop" -v g="$gemmT" 'BEGIN { printf "%.3f", f / (g * 1e9) }') | $als_ratio |
| implicit ALS CG-3, $ials_nnz interactions: s/iteration | $ials_sweep | | |
| feeding train_als ("iterations": 0) vs count(*), serial plan, ms | $feed_ms | $count_ms | $(awk -v a="$feed_ms" -v b="$count_ms" 'BEGIN { printf "%.2f", a / b }') |
| feeding train_als ("iterations": 0) vs count(*), default (parallel) plan, ms | $feed_par_ms | $count_par_ms | $(awk -v a="$feed_par_ms" -v b="$count_par_ms" 'BEGIN { printf "%.2f", a / b }') |
| feeding train_als ("iterations": 0), default (parallel) plan vs serial plan, ms | $feed_par_ms | $feed_ms | $(awk -v a="$feed_par_ms" -v b="$feed_ms" 'BEGIN { printf "%.2f", a / b }') |
| the same rows in half stars: feeding vs count(*), serial plan, ms | $half_ms | $half_count_ms | $(awk -v a="$half_ms" -v b="$half_count_ms" 'BEGIN { printf "%.2f", a / b }') |
| the same rows in half stars: feeding vs count(*), default (parallel) plan, ms | $half_par_ms | $half_count_par_ms | $(awk -v a="$half_par_ms" -v b="$half_count_par_ms" 'BEGIN { printf "%.2f", a / b }') |
| peak training memory per interaction, explicit / implicit (bytes) | $(awk -v p="$als_peak" -v n="$als_nnz" 'BEGIN { printf "%.0f", p / n }') / $(awk -v p="$ials_peak" -v n="$ials_nnz" 'BEGIN { printf "%.0f", p / n }') | | |
EOF
