#!/usr/bin/env bash
# OpenBLAS opened when a process needs it.  The extension does not link OpenBLAS:
# a backend opens it as it loads recsys, a parallel worker only when it calls
# BLAS.  Checked here: the parallel workers feeding a training aggregate in a
# session that has used OpenBLAS do not map the library (their leader does),
# while a worker that does call BLAS (blas_info, predict, recommend under forced
# parallel plans) opens it and answers as the leader does.  Reading another
# process's memory map needs the server's user or root; without that the map
# checks skip.
set -u
. "$(dirname "$0")/tap.bash"
plan 9

db=recsys_blasopen_$$
q -d postgres "CREATE DATABASE $db" >/dev/null
trap 'q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
in_db() { q -d "$db" "$@"; }
in_db "CREATE EXTENSION recsys" >/dev/null
in_db "CREATE TABLE r AS SELECT user_id, item_id, rating FROM recsys.synthetic_ratings(300, 200, 6000, rank => 4, seed => 3)" >/dev/null
in_db "ANALYZE r" >/dev/null
in_db "CREATE TABLE m AS SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": 4, \"iterations\": 3}') AS m FROM r" >/dev/null

par="SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET jit = off;"
# lines of process $1's memory map naming OpenBLAS; empty if the map cannot be read
maps_blas() { local m; m=$(cat "/proc/$1/maps" 2>/dev/null) && [ -n "$m" ] && { printf '%s\n' "$m" | grep -c 'libopenblas' || true; }; }

# 1-4: a slow parallel feed (every row waits a little in the scan), its
# processes' maps read while it runs
app=recsys_blas_probe_$$
( PGAPPNAME=$app q -d "$db" "$par SELECT core FROM recsys.blas_info();
	SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": 4, \"iterations\": 1}') IS NOT NULL
	FROM r WHERE pg_sleep(0.002) IS NOT NULL" >/dev/null 2>&1 ) &
feeder=$!
leader=
workers=
for _ in $(seq 200); do
	sleep 0.05
	leader=$(q -d postgres "SELECT pid FROM pg_stat_activity WHERE application_name = '$app' AND backend_type = 'client backend' AND query LIKE '%train_als%'")
	[ -n "$leader" ] || continue
	workers=$(q -d postgres "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE leader_pid = $leader AND backend_type = 'parallel worker'")
	[ -n "$workers" ] && break
done
ok $([ -n "$workers" ] && echo 0 || echo 1) "a slow parallel feed runs with workers ($workers)"
# well past their start (libraries are loaded before the first row): the feed
# takes about 4 s
sleep 1
if [ -n "$leader" ] && [ -r "/proc/$leader/maps" ]; then
	ok $([ "$(maps_blas "$leader")" -ge 1 ] && echo 0 || echo 1) "... its leader has OpenBLAS mapped (the check sees it)"
	mapped=0
	seen=0
	for w in $workers; do
		n=$(maps_blas "$w")
		[ -n "$n" ] || continue
		seen=$((seen + 1))
		mapped=$((mapped + n))
	done
	ok $([ "$seen" -ge 1 ] && echo 0 || echo 1) "... the workers' maps were read ($seen)"
	is "$mapped" "0" "... and no worker feeding the aggregate maps OpenBLAS"
else
	for d in "its leader has OpenBLAS mapped" "the workers' maps were read" "no worker maps OpenBLAS"; do
		ok 0 "# SKIP cannot read the server's memory maps: $d"
	done
fi
wait "$feeder"

# 5-9: workers that call BLAS open it, and answer as the leader does
force="SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
info="SELECT library || ' ' || core || ' ' || max_threads FROM recsys.blas_info()"
leader_info=$(in_db "$info")
like "$leader_info" "openblas.* [0-9]+$" "blas_info in a backend: library, core and thread limit"
is "$(in_db "$force $info")" "$leader_info" "... the same from a parallel worker that opens OpenBLAS for it"
plan_text=$(in_db "$force EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM recsys.blas_info()")
like "$plan_text" "Workers Launched: 1" "... which ran in a worker"
pred="SELECT string_agg(round(recsys.predict(m.m, u, i)::numeric, 5)::text, ',' ORDER BY u, i) FROM m, generate_series(1, 5) u, generate_series(1, 5) i"
is "$(in_db "$force $pred")" "$(in_db "$pred")" "predict in a parallel worker equals the backend's"
rec="SELECT string_agg(item_id || ':' || round(score::numeric, 5), ',' ORDER BY item_id) FROM m, recsys.recommend(m.m, 7, 5)"
is "$(in_db "$force $rec")" "$(in_db "$rec")" "recommend in a parallel worker equals the backend's"
