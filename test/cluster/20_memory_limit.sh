#!/usr/bin/env bash
# Training when OpenBLAS cannot get memory.  OpenBLAS maps a scratch buffer (128 MB
# of address space in Debian's 0.3 build) the first time each slot of its buffer
# table is used, and retries a failing mapping forever, on the thread that called
# BLAS: a solver thread used to spin there, deaf to cancel, terminate and
# statement_timeout.  recsys now maps the slots on the backend's own thread before
# any worker starts and fails with out of memory (53200) when it cannot.
#
# This script starts its own small cluster twice under an address-space limit
# (ulimit -v): first what a backend has mapped once recsys is loaded plus 96 MB,
# less than one buffer, so that a worker's first BLAS call is the one that cannot
# map (the old code hung there every time); then plus 1 GB, room for a training
# on two threads.  It checks that the first training (and an EASE fit, whose dense
# matrix cannot be had either) fails at once with 53200,
# that the session and the cluster stay up, and that cancel and terminate stop a
# training under the second limit within seconds.
set -u
. "$(dirname "$0")/tap.bash"
plan 15

bindir=$("${PG_CONFIG:-pg_config}" --bindir)
dir=$(mktemp -d /tmp/recsys-memlimit.XXXXXX)
cd /tmp
pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"

# the cluster listens only on a socket in its own directory: any port will do
port=$((20000 + RANDOM % 20000))
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
unset PGPASSWORD PGSERVICE

opts="-c port=$port -c listen_addresses='' -c unix_socket_directories=$dir"
opts+=" -c fsync=off -c shared_buffers=16MB -c max_connections=10"
opts+=" -c max_parallel_workers_per_gather=0"
[ -n "${TEST_DESTDIR:-}" ] && opts+=" -c extension_destdir=$TEST_DESTDIR"

# starts the cluster, under `ulimit -v $1` (kB) if given
start() {
	( [ -n "${1:-}" ] && ulimit -v "$1"
	  pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -o "$opts" start >/dev/null )
}
# psql on this cluster: unaligned tuples only, errors included
sql() { psql -X -q -A -t "$@" 2>&1; }
stop() { pg "$bindir/pg_ctl" -D "$dir/data" -m "${1:-fast}" -w stop >/dev/null 2>&1; }
cleanup() {
	stop immediate
	[ -n "${bg:-}" ] && kill "$bg" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

pg "$bindir/initdb" -A trust -U postgres --no-sync -D "$dir/data" >"$dir/initdb.log" 2>&1 \
	|| { cat "$dir/initdb.log"; exit 1; }

# what a backend maps once recsys is loaded, measured without a limit
start || { cat "$dir/log"; exit 1; }
sql -c 'CREATE EXTENSION recsys' \
	-c "CREATE TABLE r AS SELECT * FROM recsys.synthetic_ratings(2000, 500, 20000, seed => 3)" \
	-c 'VACUUM ANALYZE r' >/dev/null
# (after a pause: OpenBLAS's own idle thread maps its buffer as it starts)
base_kb=$(sql -c "SELECT recsys.dims('[1]'::recsys.vec)" -c 'SELECT pg_sleep(1)' \
	-c "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmSize:\s*(\d+)')" | tail -n 1)
stop
echo "# a backend maps ${base_kb} kB with recsys loaded"
start $((base_kb + 96 * 1024)) || { cat "$dir/log"; exit 1; }

# 1-4: no room for the workers' OpenBLAS buffers: out of memory at once, not a hang
t0=$(date +%s)
out=$(timeout 20 psql -X -A -t -v VERBOSITY=verbose \
	-c 'SET recsys.threads = 2' \
	-c "SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": 16, \"iterations\": 2}') IS NOT NULL FROM r" \
	-c "SELECT 'still here'" 2>&1)
rc=$?
ok $([ $rc -ne 124 ] && echo 0 || echo 1) 'training that cannot map OpenBLAS scratch returns (no hang)'
ok $([ $(($(date +%s) - t0)) -le 10 ] && echo 0 || echo 1) '... within seconds'
like "$out" 'ERROR: +53200: out of memory' '... with ERROR 53200 out of memory'
like "$out" 'still here' 'the session goes on after the error'

# 5: the cluster is up and serves a new session
is "$(sql -c 'SELECT 1')" '1' 'the cluster stays up'

# 6-7: EASE under the same limit: its dense scratch and BLAS buffers cannot be had
t0=$(date +%s)
out=$(timeout 20 psql -X -A -t -v VERBOSITY=verbose \
	-c 'SET recsys.threads = 2' \
	-c "SELECT recsys.train_ease(user_id, item_id, rating) IS NOT NULL FROM r" \
	-c "SELECT 'still here'" 2>&1)
rc=$?
ok $([ $rc -ne 124 ] && [ $(($(date +%s) - t0)) -le 10 ] && echo 0 || echo 1) 'train_ease under the limit returns within seconds'
like "$out" 'ERROR: +53200: out of memory' '... with out of memory'
like "$out" 'still here' '... and the session goes on'

# room for a training on two threads from here on (with a wide margin: a training
# that ran out of memory here would end before cancel or terminate reach it)
stop immediate
start $((base_kb + 1024 * 1024)) || { cat "$dir/log"; exit 1; }

# runs a long training in the background on two threads; sets $bg and $bgpid
start_training() {
	psql -X -A -t -v VERBOSITY=verbose -c 'SET application_name = long_training' \
		-c 'SET recsys.threads = 2' \
		-c "SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": 32, \"iterations\": 10000}') IS NOT NULL FROM r" \
		>"$dir/bg.out" 2>&1 &
	bg=$!
	bgpid=
	for _ in $(seq 100); do
		bgpid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'long_training' AND query LIKE '%train_als%' AND state = 'active'")
		[ -n "$bgpid" ] && break
		sleep 0.1
	done
	[ -n "$bgpid" ] || { echo "# the training did not start:"; sed 's/^/#   /' "$dir/bg.out"; bgpid=0; }
	sleep 1		# well inside the solver's sweeps
}

# waits up to $1 seconds for the background psql; true if it ended
wait_training() {
	for _ in $(seq $(($1 * 10))); do
		kill -0 "$bg" 2>/dev/null || { wait "$bg"; bg=; return 0; }
		sleep 0.1
	done
	return 1
}

# 6-7: cancel stops a training under the limit within seconds
start_training
is "$(sql -c "SELECT pg_cancel_backend($bgpid)")" 't' 'cancel sent to a training under the limit'
[ "$tap_failed" -eq 0 ] || sed 's/^/#   /' "$dir/bg.out"
wait_training 5
ok $? 'pg_cancel_backend stops it within 5 s'
like "$(cat "$dir/bg.out")" '57014' '... with SQLSTATE 57014'

# 8-10: terminate ends a training under the limit; the cluster is not restarted
start_training
is "$(sql -c "SELECT pg_terminate_backend($bgpid)")" 't' 'terminate sent to a training under the limit'
[ "$tap_failed" -eq 0 ] || sed 's/^/#   /' "$dir/bg.out"
wait_training 5
ok $? 'pg_terminate_backend ends it within 5 s'
is "$(sql -c 'SELECT 1')" '1' 'the cluster stays up after the termination'
grep -qE 'terminated by signal|server processes terminated|reinitializing' "$dir/log"
ok $((! $?)) 'no backend crashed and the postmaster did not reinitialize'

exit $((tap_failed > 0))
