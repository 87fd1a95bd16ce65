#!/usr/bin/env bash
# Approximate top-N (recsys.build_index): recall@10 against the exact answer and
# throughput against the exact path, measured in the same run, for several probe
# counts; index build time and size.
#
# The model is made directly in C by a bench-only helper (ann_bench_model in the
# recsys library, declared here as pg_temp; not part of the extension's SQL):
# ANN_ITEMS items (default 1,000,000) x ANN_FACTORS (64) with planted topics, Zipf
# popularity and item norms that fall with popularity rank, and ANN_USERS users
# mixing two topics.  Training a million-item model on this 2-core machine would
# take longer than the whole bench.  Quick run: ANN_ITEMS=100000 bench/80_ann.sh.
# Throughput is pgbench with 2 clients for ANN_SECONDS (default 20) per row, by
# name (the per-backend cache holds the model), random users.  pgvector's HNSW is
# compared only where the vector extension is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/ann
mkdir -p "$out"

ITEMS=${ANN_ITEMS:-1000000}
USERS=${ANN_USERS:-10000}
FACTORS=${ANN_FACTORS:-64}
TOPICS=${ANN_TOPICS:-1000}
SECONDS_EACH=${ANN_SECONDS:-20}
RECALL_USERS=${ANN_RECALL_USERS:-300}
PROBES=${ANN_PROBES:-"4 8 16 32 64 128"}
export PGOPTIONS="-c recsys.model_cache_mb=3000"
PSQL="psql -X -q -v ON_ERROR_STOP=1"

# --- the model and its index -----------------------------------------------------
$PSQL <<SQL
CREATE FUNCTION pg_temp.ann_bench_model(int, int, int, int, bigint) RETURNS recsys.model
	AS '\$libdir/recsys', 'ann_bench_model' LANGUAGE C STRICT;
DELETE FROM recsys.models WHERE name IN ('ann_bench', 'ann_bench_ix', 'ann_bench_gather');
INSERT INTO recsys.models (name, model)
	SELECT 'ann_bench', pg_temp.ann_bench_model($USERS, $ITEMS, $FACTORS, $TOPICS, 1);
SQL
build_ms=$($PSQL -At <<'SQL'
\timing on
INSERT INTO recsys.models (name, model)
	SELECT 'ann_bench_ix', recsys.build_index(model) FROM recsys.models WHERE name = 'ann_bench';
SQL
)
build_ms=$(echo "$build_ms" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
# the same lists without the stored vectors: probes read the model's own rows
$PSQL -c "INSERT INTO recsys.models (name, model)
	SELECT 'ann_bench_gather', recsys.build_index(model, '{\"store_vectors\": false}')
	FROM recsys.models WHERE name = 'ann_bench'"
info=$($PSQL -At -c "SELECT recsys.model_info(model) -> 'index' FROM recsys.models WHERE name = 'ann_bench_ix'")
model_bytes=$($PSQL -At -c "SELECT recsys.model_info(model) ->> 'bytes' FROM recsys.models WHERE name = 'ann_bench'")
lists=$(echo "$info" | sed 's/.*"lists": \([0-9]*\).*/\1/')
default_probes=$(echo "$info" | sed 's/.*"probes": \([0-9]*\).*/\1/')

# --- recall@10 against the exact answer, per probe count --------------------------
recall() {
	$PSQL -At <<SQL
SELECT round(avg(hits) / 10.0, 4) FROM (
	SELECT u, (SELECT count(*) FROM recsys.recommend('ann_bench_ix', u, 10, probes => $1) a
		JOIN recsys.recommend('ann_bench_ix', u, 10, exact => true) b USING (item_id)) AS hits
	FROM generate_series(1, $USERS, greatest($USERS / $RECALL_USERS, 1)) u) s;
SQL
}

# --- throughput: pgbench, 2 clients, random users ---------------------------------
tps() {
	local model=${2:-ann_bench_ix}
	echo "\\set u random(1, $USERS)" >"$out/q.sql"
	echo "SELECT count(*) FROM recsys.recommend('$model', :u, 10, $1);" >>"$out/q.sql"
	$PSQL -At -c "SELECT count(*) FROM recsys.recommend('$model', 1, 10, $1)" >/dev/null
	pgbench -n -M prepared -c 2 -j 2 -T "$SECONDS_EACH" -f "$out/q.sql" >"$out/pgbench.out" 2>&1 || true
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out/pgbench.out" | head -1
}

exact_tps=$(tps "exact => true")
echo "| path | probes | recall@10 | calls/s (2 clients) | ratio to exact |"
echo "|---|---:|---:|---:|---:|"
printf "| exact | all | 1.0000 | %.1f | 1.0x |\n" "$exact_tps"
for p in $PROBES; do
	[ "$p" -le "$lists" ] || continue
	r=$(recall "$p")
	t=$(tps "probes => $p")
	awk -v p="$p" -v r="$r" -v t="$t" -v e="$exact_tps" -v d="$default_probes" \
		'BEGIN { printf "| index%s | %d | %s | %.1f | %.1fx |\n", (p == d ? " (default)" : ""), p, r, t, t / e }'
done
if ! echo " $PROBES " | grep -q " $default_probes "; then
	r=$(recall "$default_probes")
	t=$(tps "probes => $default_probes")
	awk -v p="$default_probes" -v r="$r" -v t="$t" -v e="$exact_tps" \
		'BEGIN { printf "| index (default) | %d | %s | %.1f | %.1fx |\n", p, r, t, t / e }'
fi
t=$(tps "probes => $default_probes" ann_bench_gather)
awk -v p="$default_probes" -v t="$t" -v e="$exact_tps" \
	'BEGIN { printf "| index without stored vectors (default) | %d | (same lists) | %.1f | %.1fx |\n", p, t, t / e }'
gather_info=$($PSQL -At -c "SELECT recsys.model_info(model) -> 'index' ->> 'bytes' FROM recsys.models WHERE name = 'ann_bench_gather'")
echo
echo "index without stored vectors: $gather_info bytes."
echo "$ITEMS items x $FACTORS factors, $USERS users, $TOPICS planted topics; model $model_bytes bytes without the index."
echo "exact path: sgemv in OpenBLAS, core $($PSQL -At -c "SELECT core FROM recsys.blas_info()")."
echo "index: $info; build_index took $build_ms ms through SQL (recsys.threads = $($PSQL -At -c "LOAD 'recsys'" -c "SHOW recsys.threads"))."

# --- pgvector's HNSW, where installed ----------------------------------------------
# (installed: CREATE EXTENSION works, also from an extension_destdir install)
if $PSQL -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null 2>&1; then
	# the same items and users as vectors, an HNSW index for inner product, and the
	# same recall and pgbench measurement per ef_search
	$PSQL -c "DROP TABLE IF EXISTS ann_items, ann_users" \
		-c "CREATE TABLE ann_items AS SELECT id, factors::real[]::vector($FACTORS) AS v FROM recsys.item_factors('ann_bench')" \
		-c "CREATE TABLE ann_users AS SELECT id, factors::real[]::vector($FACTORS) AS v FROM recsys.user_factors('ann_bench')" \
		-c "ALTER TABLE ann_users ADD PRIMARY KEY (id)" -c "VACUUM ANALYZE ann_items, ann_users"
	t0=$(date +%s.%N)
	$PSQL -c "SET maintenance_work_mem = '4GB'" -c "SET max_parallel_maintenance_workers = 0" \
		-c "CREATE INDEX ann_items_hnsw ON ann_items USING hnsw (v vector_ip_ops) WITH (m = 16, ef_construction = 64)"
	t1=$(date +%s.%N)
	echo
	echo "| pgvector HNSW (m 16, ef_construction 64) | ef_search | recall@10 | calls/s (2 clients) | ratio to exact |"
	echo "|---|---:|---:|---:|---:|"
	for ef in ${ANN_EF:-10 20 40 100 200}; do
		r=$($PSQL -At -c "SET hnsw.ef_search = $ef" -c "SET max_parallel_workers_per_gather = 0" -c "
SELECT round(avg(hits) / 10.0, 4) FROM (
	SELECT u, (SELECT count(*) FROM (SELECT i.id FROM ann_items i
			ORDER BY i.v <#> (SELECT v FROM ann_users WHERE id = u) LIMIT 10) a
		JOIN recsys.recommend('ann_bench_ix', u, 10, exact => true) b ON b.item_id = a.id) AS hits
	FROM generate_series(1, $USERS, greatest($USERS / $RECALL_USERS, 1)) u) s")
		echo "\\set u random(1, $USERS)" >"$out/hnsw.sql"
		echo "SELECT count(*) FROM (SELECT id FROM ann_items ORDER BY v <#> (SELECT v FROM ann_users WHERE id = :u) LIMIT 10) t;" >>"$out/hnsw.sql"
		PGOPTIONS="$PGOPTIONS -c hnsw.ef_search=$ef -c max_parallel_workers_per_gather=0" \
			pgbench -n -M prepared -c 2 -j 2 -T "$SECONDS_EACH" -f "$out/hnsw.sql" >"$out/pgbench.out" 2>&1 || true
		t=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out/pgbench.out" | head -1)
		awk -v ef="$ef" -v r="$r" -v t="$t" -v e="$exact_tps" \
			'BEGIN { printf "| hnsw | %d | %s | %.1f | %.1fx |\n", ef, r, t, t / e }'
	done
	echo
	echo "HNSW build: $(echo "$t1 - $t0" | bc) s, $($PSQL -At -c "SELECT pg_size_pretty(pg_relation_size('ann_items_hnsw'))")."
else
	echo "(pgvector is not installed here: HNSW comparison skipped)"
fi
