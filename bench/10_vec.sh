#!/usr/bin/env bash
# recsys.vec distance operators against baselines measured in the same run:
#  - SELECT count(*) of the same table (the cost of just reading the rows),
#  - the same distances over real[] columns with a SQL function,
# then the kernels alone (bench/kernels_bench.c) against scalar loops and the
# memory bandwidth of memcpy.  Prints markdown tables; asserts nothing.
# Serial plans (max_parallel_workers_per_gather = 0) so ns/row is per row of one CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${VEC_BENCH_ROWS:-1000000}
DIM=${VEC_BENCH_DIM:-128}
ARRAY_ROWS=${VEC_BENCH_ARRAY_ROWS:-100000}   # the real[] SQL baseline is slow: fewer rows
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

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

# The kernels alone, built as the extension builds kernels.c, against -O2 scalar loops
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O3 -fopenmp-simd -Isrc -c src/kernels.c -o "$tmp/kernels.o"
gcc -O2 -Isrc bench/kernels_bench.c "$tmp/kernels.o" -o "$tmp/kernels_bench" -lm
echo
echo "Kernels alone (bench/kernels_bench.c; scalar loops compiled with gcc -O2)"
echo
"$tmp/kernels_bench"
