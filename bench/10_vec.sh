#!/usr/bin/env bash
# recsys.vec distance operators against baselines measured in the same run:
#  - SELECT count(*) of the same table (the cost of just reading the rows),
#  - the same distances over real[] columns with a SQL function,
# then per row and per call against pgvector where it is installed (skipped when
# not), then the kernels alone (bench/kernels_bench.c) against -O2 scalar loops and
# the memory bandwidth of memcpy.  Prints markdown tables; asserts nothing.
# Serial plans (max_parallel_workers_per_gather = 0) so ns/row is per row of one CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${VEC_BENCH_ROWS:-1000000}
DIM=${VEC_BENCH_DIM:-128}
ARRAY_ROWS=${VEC_BENCH_ARRAY_ROWS:-100000}   # the real[] SQL baseline is slow: fewer rows
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# run alone (not from bench/run) the piece creates the extension itself
"${PSQL[@]}" -c 'CREATE EXTENSION IF NOT EXISTS recsys' >/dev/null
echo "Building ${ROWS} pairs of ${DIM}-dimensional vectors..." >&2
"${PSQL[@]}" <<SQL
DROP TABLE IF EXISTS bench_vec_pairs, bench_real_pairs, bench_vec_base;
-- 2000 random base vectors; each row pairs two of them (distinct stored values)
CREATE TABLE bench_vec_base AS
SELECT i, array_agg((random() - 0.5)::real ORDER BY k) AS x
  FROM generate_series(0, 1999) i, generate_series(1, ${DIM}) k GROUP BY i;
CREATE TABLE bench_vec_pairs AS
SELECT g AS id, a.x::recsys.vec AS a, b.x::recsys.vec AS b
  FROM generate_series(1, ${ROWS}) g
  JOIN bench_vec_base a ON a.i = g % 2000
  JOIN bench_vec_base b ON b.i = (g * 7 + 3) % 2000;
CREATE TABLE bench_real_pairs AS
SELECT id, a::real[] AS a, b::real[] AS b FROM bench_vec_pairs WHERE id <= ${ARRAY_ROWS};
VACUUM ANALYZE bench_vec_pairs;
VACUUM ANALYZE bench_real_pairs;

-- the SQL-function baselines over real[]
CREATE OR REPLACE FUNCTION bench_dot(a real[], b real[]) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS \$\$ SELECT -sum(x::float8 * y) FROM unnest(a, b) u(x, y) \$\$;
CREATE OR REPLACE FUNCTION bench_cos(a real[], b real[]) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS \$\$ SELECT 1 - sum(x::float8 * y) / sqrt(sum(x::float8 * x) * sum(y::float8 * y)) FROM unnest(a, b) u(x, y) \$\$;
CREATE OR REPLACE FUNCTION bench_l2(a real[], b real[]) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS \$\$ SELECT sqrt(sum((x::float8 - y) ^ 2)) FROM unnest(a, b) u(x, y) \$\$;
SQL

# Best of 3 wall-clock milliseconds of one query (psql \timing), serial plan
best_ms() {
	local out
	out=$("${PSQL[@]}" -c 'SET max_parallel_workers_per_gather = 0' -c '\timing on' \
		-c "$1" -c "$1" -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
	echo "$out" | sort -g | head -n 1
}

# warm the cache once
"${PSQL[@]}" -c 'SELECT count(*) FROM bench_vec_pairs' -c 'SELECT count(*) FROM bench_real_pairs' >/dev/null

count_ms=$(best_ms 'SELECT count(*) FROM bench_vec_pairs')
count_ns=$(echo "$count_ms * 1000000 / $ROWS" | bc -l)
array_count_ms=$(best_ms 'SELECT count(*) FROM bench_real_pairs')

echo
echo "recsys.vec distances: ${ROWS} rows of two ${DIM}-d vectors (real[] baseline on ${ARRAY_ROWS} rows), serial, best of 3"
echo
echo "| query | ns/row | vs count(*) | real[] SQL function ns/row | vec speed-up over real[] |"
echo "| --- | ---: | ---: | ---: | ---: |"
printf "| \`SELECT count(*)\` | %.0f | 1.00 | %.0f | |\n" "$count_ns" \
	"$(echo "$array_count_ms * 1000000 / $ARRAY_ROWS" | bc -l)"
for op in '<#>:bench_dot' '<=>:bench_cos' '<->:bench_l2'; do
	sym=${op%%:*}
	fn=${op##*:}
	vec_ms=$(best_ms "SELECT sum(a OPERATOR(recsys.$sym) b) FROM bench_vec_pairs")
	arr_ms=$(best_ms "SELECT sum($fn(a, b)) FROM bench_real_pairs")
	vec_ns=$(echo "$vec_ms * 1000000 / $ROWS" | bc -l)
	arr_ns=$(echo "$arr_ms * 1000000 / $ARRAY_ROWS" | bc -l)
	printf "| \`sum(a %s b)\` | %.0f | %.2f | %.0f | %.1fx |\n" "$sym" "$vec_ns" \
		"$(echo "$vec_ns / $count_ns" | bc -l)" "$arr_ns" "$(echo "$arr_ns / $vec_ns" | bc -l)"
done

"${PSQL[@]}" -c 'DROP TABLE bench_vec_pairs, bench_real_pairs, bench_vec_base' \
	-c 'DROP FUNCTION bench_dot(real[], real[]), bench_cos(real[], real[]), bench_l2(real[], real[])'

# --- per call: the operators against pgvector's, where pgvector is installed -------
# Small tables that stay in shared buffers: DIM dimensions (a 4-byte header, read
# in place) and SHORT_DIM dimensions (short enough for a 1-byte header in the row).
# Per row: one operator over the rows less count(*).  Per call: CALLS operators per
# row less one, over CALLS - 1: the cost of one more call on a row already read
# (fmgr, argument access, kernel, result).  One repetition runs every query of both
# extensions back to back, after an untimed warm-up round; REPEATS repetitions.
CALL_ROWS=${VEC_BENCH_CALL_ROWS:-20000}
# kernels.c built as the extension builds it; the set the server picks on this CPU
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O3 -ffp-contract=off -fno-math-errno -Isrc -c src/kernels.c -o "$tmp/kernels.o"
printf '#include <stdio.h>\n#include "kernels.h"\nint main(void) { puts(KernName()); return 0; }\n' >"$tmp/set.c"
gcc -Isrc "$tmp/set.c" "$tmp/kernels.o" -o "$tmp/set" -lm
kernel_set=$("$tmp/set")
REPEATS=${VEC_BENCH_REPEATS:-25}
CALLS=${VEC_BENCH_CALLS:-32}
SHORT_DIM=${VEC_BENCH_SHORT_DIM:-20}
"${PSQL[@]}" <<SQL
DROP TABLE IF EXISTS bench_call_base, bench_call_vec, bench_call_pgv, bench_short_vec, bench_short_pgv;
CREATE TABLE bench_call_base AS SELECT i, array_agg((random() - 0.5)::real ORDER BY k) AS x
  FROM generate_series(0, 1999) i, generate_series(1, ${DIM}) k GROUP BY i;
CREATE TABLE bench_call_vec AS SELECT g AS id, a.x::recsys.vec AS a, b.x::recsys.vec AS b
  FROM generate_series(1, ${CALL_ROWS}) g
  JOIN bench_call_base a ON a.i = g % 2000 JOIN bench_call_base b ON b.i = (g * 7 + 3) % 2000;
CREATE TABLE bench_short_vec AS SELECT id, a[1:${SHORT_DIM}]::recsys.vec AS a, b[1:${SHORT_DIM}]::recsys.vec AS b
  FROM (SELECT id, a::real[] AS a, b::real[] AS b FROM bench_call_vec) t;
VACUUM ANALYZE bench_call_vec;
VACUUM ANALYZE bench_short_vec;
SQL
# pgvector: the installed one, or created for this run in a schema of its own (an
# extension_destdir install does not show in pg_available_extensions: just try)
pgv_schema=$("${PSQL[@]}" -At -c "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'vector'")
pgv_created=0
if [ -z "$pgv_schema" ] && "${PSQL[@]}" -c 'CREATE SCHEMA bench_pgvector' \
	-c 'CREATE EXTENSION vector SCHEMA bench_pgvector' >/dev/null 2>&1; then
	pgv_schema=bench_pgvector
	pgv_created=1
fi
"${PSQL[@]}" -c 'DROP SCHEMA IF EXISTS bench_pgvector' >/dev/null 2>&1 || true
have_pgvector=0
if [ -n "$pgv_schema" ]; then
	have_pgvector=1
	"${PSQL[@]}" <<SQL
CREATE TABLE bench_call_pgv AS SELECT id, a::real[]::${pgv_schema}.vector AS a, b::real[]::${pgv_schema}.vector AS b
  FROM bench_call_vec;
CREATE TABLE bench_short_pgv AS SELECT id, a::real[]::${pgv_schema}.vector AS a, b::real[]::${pgv_schema}.vector AS b
  FROM bench_short_vec;
VACUUM ANALYZE bench_call_pgv;
VACUUM ANALYZE bench_short_pgv;
SQL
	pgv_version=$("${PSQL[@]}" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
fi
# the stored size of one vector of each table (the short ones should have a 1-byte header)
short_bytes=$("${PSQL[@]}" -At -c 'SELECT pg_column_size(a) FROM bench_short_vec LIMIT 1')
long_bytes=$("${PSQL[@]}" -At -c 'SELECT pg_column_size(a) FROM bench_call_vec LIMIT 1')
# CALLS calls of operator $1 per row, summed
many() {
	local t=""
	for _ in $(seq "$CALLS"); do t="$t + (a $1 b)"; done
	echo "${t# + }"
}
# Per-repetition milliseconds of: count, 1 call, CALLS calls per row, on table $3
# (recsys) and $4 (pgvector), all interleaved; prints one line per repetition
call_times() {
	local op_vec=$1 op_pgv=$2 args=(-c 'SET max_parallel_workers_per_gather = 0' -c '\timing on')
	local qs=("SELECT count(*) FROM $3" "SELECT sum(a $op_vec b) FROM $3"
		"SELECT sum($(many "$op_vec")) FROM $3")
	if [ "$have_pgvector" = 1 ]; then
		qs+=("SELECT count(*) FROM $4" "SELECT sum(a $op_pgv b) FROM $4"
			"SELECT sum($(many "$op_pgv")) FROM $4")
	fi
	# one untimed round first: plans cached, buffers and CPU caches warm
	for q in "${qs[@]}"; do args+=(-c "$q"); done
	for _ in $(seq "$REPEATS"); do
		for q in "${qs[@]}"; do args+=(-c "$q"); done
	done
	"${PSQL[@]}" "${args[@]}" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
		awk -v m="${#qs[@]}" 'NR > m { printf "%s%s", $1, ((NR % m) ? " " : "\n") }'
}
# One table row from call_times' lines.  Per row from the fastest run of each query
# (a small difference: the fastest runs are the ones the machine left alone).  Per
# call the median over the repetitions, each repetition's figure from its own
# queries run back to back, and the call ratio the median of the repetitions' own
# ratios (noise that slows a whole repetition cancels); beside it the ratio from
# the fastest run of each query.
summarise() {
	awk -v s="$1" -v n="$CALL_ROWS" -v k="$CALLS" -v pgv="$have_pgvector" '
		function median(a, len,    i, j, t) {
			for (i = 2; i <= len; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return len % 2 ? a[(len + 1) / 2] : (a[len / 2] + a[len / 2 + 1]) / 2
		}
		{
			for (i = 1; i <= NF; i++)
				if (NR == 1 || $i < b[i]) b[i] = $i
			c[NR] = ($3 - $2) * 1e6 / n / (k - 1)
			if (pgv) {
				pc[NR] = ($6 - $5) * 1e6 / n / (k - 1)
				cr[NR] = c[NR] / pc[NR]
			}
		}
		END {
			r = (b[2] - b[1]) * 1e6 / n
			if (pgv) {
				pr = (b[5] - b[4]) * 1e6 / n
				printf "| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.2f |\n", s, r, pr, r / pr,
					median(c, NR), median(pc, NR), median(cr, NR), (b[3] - b[2]) / (b[6] - b[5])
			}
			else
				printf "| %s | %.1f | %.1f |\n", s, r, median(c, NR)
		}'
}
echo
if [ "$have_pgvector" = 1 ]; then
	echo "Per row and per call against pgvector ${pgv_version} (same data, ${CALL_ROWS} rows in shared buffers, ${CALLS} calls per row for per call, ${REPEATS} interleaved repetitions: per row from the fastest runs, per call the medians (p50) of the repetitions, its ratio the median of their own ratios, then the fastest runs' ratio; recsys kernel set ${kernel_set})"
	echo
	echo "| operator | recsys ns/row | pgvector ns/row | row ratio | recsys ns/call p50 | pgvector ns/call p50 | call ratio p50 | call ratio, fastest runs |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
else
	echo "Per row and per call (${CALL_ROWS} rows in shared buffers, ${CALLS} calls per row for per call, ${REPEATS} repetitions: per row from the fastest runs, per call their median; recsys kernel set ${kernel_set}); pgvector is not installed: its comparison is skipped"
	echo
	echo "| operator | recsys ns/row | recsys ns/call p50 |"
	echo "| --- | ---: | ---: |"
fi
for sym in '<=>' '<#>' '<->'; do
	call_times "OPERATOR(recsys.$sym)" "OPERATOR(${pgv_schema:-public}.$sym)" bench_call_vec bench_call_pgv |
		summarise "\`$sym\` ${DIM}-d (${long_bytes} B)"
done
call_times "OPERATOR(recsys.<=>)" "OPERATOR(${pgv_schema:-public}.<=>)" bench_short_vec bench_short_pgv |
	summarise "\`<=>\` ${SHORT_DIM}-d (${short_bytes} B, 1-byte header)"
"${PSQL[@]}" -c 'DROP TABLE IF EXISTS bench_call_vec, bench_call_base, bench_call_pgv, bench_short_vec, bench_short_pgv'
if [ "$pgv_created" = 1 ]; then
	"${PSQL[@]}" -c 'DROP SCHEMA bench_pgvector CASCADE' >/dev/null 2>&1
fi

# The kernels alone, built as the extension builds kernels.c, against -O2 scalar loops
gcc -O2 -Isrc bench/kernels_bench.c "$tmp/kernels.o" -o "$tmp/kernels_bench" -lm
echo
echo "Kernels alone (bench/kernels_bench.c; scalar loops compiled with gcc -O2)"
echo
"$tmp/kernels_bench"
