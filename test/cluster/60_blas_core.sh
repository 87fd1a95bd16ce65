#!/usr/bin/env bash
# OpenBLAS kernel families.  This script starts its own small cluster twice, with
# OPENBLAS_CORETYPE=Prescott (the SSE3 family OpenBLAS falls back to on CPUs it
# does not recognise) and then with the newest family the CPU supports (SkylakeX
# with AVX-512, Haswell with AVX2), and checks that recsys.blas_info() reports the
# core the server runs, that the first training under the old family says so once
# with the exact fix, and that the models trained under the two families agree
# within float tolerance.  Only core types the CPU can run are used; on a CPU
# without AVX2 there is nothing to compare and the script skips.
set -u
. "$(dirname "$0")/tap.bash"

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { printf '%s ' "$flags" | grep -qw -- "$1"; }
best=
if has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd && has avx2 && has fma; then
	best=SkylakeX
elif has avx2 && has fma; then
	best=Haswell
fi
if [ -z "$best" ]; then
	echo "1..0 # SKIP the CPU has no AVX2: one kernel tier only"
	exit 0
fi
plan 11

bindir=$("${PG_CONFIG:-pg_config}" --bindir)
dir=$(mktemp -d /tmp/recsys-blascore.XXXXXX)
cd /tmp
pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"

port=$((20000 + RANDOM % 20000))
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
unset PGPASSWORD PGSERVICE

opts="-c port=$port -c listen_addresses='' -c unix_socket_directories=$dir"
opts+=" -c fsync=off -c shared_buffers=16MB -c max_connections=10"
opts+=" -c max_parallel_workers_per_gather=0 -c cluster_name=15/blascore"
[ -n "${TEST_DESTDIR:-}" ] && opts+=" -c extension_destdir=$TEST_DESTDIR"

# starts the cluster with OPENBLAS_CORETYPE=$1 in the server's environment
start() {
	pg env OPENBLAS_CORETYPE="$1" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
		-o "$opts" start >/dev/null
}
stop() { pg "$bindir/pg_ctl" -D "$dir/data" -m "${1:-fast}" -w stop >/dev/null 2>&1; }
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@" 2>&1; }
cleanup() { stop immediate; rm -rf "$dir"; }
trap cleanup EXIT

pg "$bindir/initdb" -A trust -U postgres --no-sync -D "$dir/data" >"$dir/initdb.log" 2>&1 \
	|| { cat "$dir/initdb.log"; exit 1; }

train_sql="SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": 8, \"iterations\": 10, \"seed\": 5}') FROM r"

# 1-5: the fallback family
start Prescott || { cat "$dir/log"; exit 1; }
sql -c 'CREATE EXTENSION recsys' \
	-c "CREATE TABLE r AS SELECT * FROM recsys.synthetic_ratings(400, 300, 12000, rank => 4, seed => 11)" \
	-c 'CREATE TABLE models (core text PRIMARY KEY, m recsys.model)' >/dev/null
is "$(sql -c 'SELECT core || coalesce(suggested_core, '"'-'"') FROM recsys.blas_info()')" "Prescott$best" \
	"blas_info: the server runs Prescott, and $best is suggested"
out=$(sql -c "INSERT INTO models $(echo "$train_sql" | sed 's/^SELECT /SELECT '"'old'"', /')" \
	-c "SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": 2, \"iterations\": 1}') IS NOT NULL FROM r")
like "$out" "NOTICE: +OpenBLAS runs its Prescott kernels, but this CPU supports AVX" \
	'the first training under the fallback family says so'
like "$out" "HINT: +Add OPENBLAS_CORETYPE=$best to /etc/postgresql/15/blascore/environment and restart the server" \
	'... with the exact fix for this cluster'
is "$(printf '%s\n' "$out" | grep -c 'OpenBLAS runs')" "1" '... once per backend'
like "$(sql -c 'SELECT max_threads > 0 AND config LIKE '"'OpenBLAS %'"' AND library <> '"''"' FROM recsys.blas_info()')" '^t$' \
	'blas_info: library, configuration and thread limit'
stop

# 6-8: the CPU's own family
start "$best" || { cat "$dir/log"; exit 1; }
is "$(sql -c 'SELECT core || coalesce(suggested_core, '"'-'"') FROM recsys.blas_info()')" "$best-" \
	"blas_info: the server runs $best, nothing suggested"
out=$(sql -c "INSERT INTO models $(echo "$train_sql" | sed 's/^SELECT /SELECT '"'new'"', /')")
is "$out" "" "no notice under $best"

# the two models: same shape, factors and predictions within float tolerance
m="(SELECT m FROM models WHERE core = 'old')"
n="(SELECT m FROM models WHERE core = 'new')"
is "$(sql -c "SELECT recsys.model_info($m) ->> 'n_interactions' = recsys.model_info($n) ->> 'n_interactions'")" "t" \
	'both models saw the same interactions'

# 9-11
diff=$(sql -c "SELECT max(abs(a.v - b.v)) FROM
	(SELECT id, o, v FROM recsys.item_factors($m), unnest(factors::real[]) WITH ORDINALITY u(v, o)) a
	JOIN (SELECT id, o, v FROM recsys.item_factors($n), unnest(factors::real[]) WITH ORDINALITY u(v, o)) b USING (id, o)")
echo "# largest item-factor difference between Prescott and $best: $diff"
like "$(sql -c "SELECT $diff < 1e-3 AND $diff >= 0")" '^t$' 'item factors agree within 1e-3'
pdiff=$(sql -c "SELECT max(abs(recsys.predict($m, user_id, item_id) - recsys.predict($n, user_id, item_id))) FROM r")
echo "# largest prediction difference: $pdiff"
like "$(sql -c "SELECT $pdiff < 1e-3")" '^t$' 'predictions on every training pair agree within 1e-3'
rmse=$(sql -c "SELECT abs(sqrt(avg((recsys.predict($m, user_id, item_id) - rating) ^ 2)) -
	sqrt(avg((recsys.predict($n, user_id, item_id) - rating) ^ 2))) < 1e-5 FROM r")
is "$rmse" "t" 'training RMSE agrees to 1e-5'

exit $((tap_failed > 0))
