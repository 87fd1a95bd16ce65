#!/usr/bin/env bash
# Partial training states read by the leader straight from its parallel
# workers' memory (recsys.parallel_direct_read, on by default): each layout a
# state can have goes over this way and gives the serial plan's model byte for
# byte; GROUP BY and the setting off go through shared memory; a worker waits
# (wait event Extension) until the leader has read it, also when the leader is
# slow; and a leader that fails, is cancelled or times out, or a waiting worker
# that is terminated or cancelled, ends the query with an error, not a hang,
# leaving no worker, no shared memory segment and the session usable.
set -u
. "$(dirname "$0")/tap.bash"
plan 34

db=recsys_direct_$$
q -d postgres "CREATE DATABASE $db" >/dev/null
trap 'q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
in_db() { q -d "$db" "$@"; }
in_db "CREATE EXTENSION recsys" >/dev/null
in_db "CREATE TABLE r AS SELECT user_id, item_id, rating FROM recsys.synthetic_ratings(3000, 800, 120000, rank => 4, seed => 11);
CREATE TABLE shuffled AS SELECT * FROM r ORDER BY md5(user_id || ':' || item_id);
CREATE TABLE mixed AS SELECT user_id, item_id, CASE WHEN user_id % 300 = 299 AND item_id % 3 = 0
THEN -1 ELSE greatest(0.5, least(5, round(rating * 2) / 2)) END::real AS rating FROM r;
CREATE TABLE half AS SELECT user_id, item_id, greatest(0.5, least(5, round(rating * 2) / 2))::real AS rating FROM r;
CREATE TABLE wide AS SELECT u AS user_id, (u * 7919 + k * 104729) % 200000 AS item_id,
((u + k) % 5 + 1)::real AS rating FROM generate_series(1, 3000) u, generate_series(1, 40) k ORDER BY u, k;
ANALYZE r; ANALYZE shuffled; ANALYZE half; ANALYZE mixed; ANALYZE wide" >/dev/null

par="SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET jit = off; SET client_min_messages = debug1;"
ser="SET max_parallel_workers_per_gather = 0;"
payload() { echo "md5(substring(recsys.model_send($1) FROM 101))"; }
train="recsys.train_als(user_id, item_id, rating, '{\"factors\": 6, \"iterations\": 2}')"
direct() { printf '%s\n' "$1" | grep -c "state of [0-9]* bytes handed over in the worker's memory"; }
shared() { printf '%s\n' "$1" | grep -c 'state of [0-9]* bytes handed over in shared memory'; }
segments() { ls /dev/shm 2>/dev/null | grep -c '^PostgreSQL\.'; }
workers() { q -d postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND datname = '$db'"; }
before=$(segments)

# every layout: float values (r), half-step codes (half), codes until a value
# off the grid, then floats (mixed), triples (shuffled), 16-bit items, then 32
# (wide); the leader alone reading (no leader participation)
for t in r half mixed shuffled wide; do
	serial=$(in_db "$ser SELECT $(payload "$train") FROM $t")
	out=$(in_db "$par SET parallel_leader_participation = off; SELECT $(payload "$train") FROM $t")
	# (a worker that starts late may find too few rows left to hand over in memory)
	ok $([ "$(direct "$out")" -ge 1 ] && [ "$(shared "$out")" -eq 0 ] && echo 0 || echo 1) \
		"$t: the workers' states read from their memory, none in shared memory"
	is "$(printf '%s\n' "$out" | tail -n 1)" "$serial" "... and the model is the serial plan's"
done
out=$(in_db "$par SELECT $(payload "$train") FROM r")
is "$(printf '%s\n' "$out" | tail -n 1)" "$(in_db "$ser SELECT $(payload "$train") FROM r")" \
	"with the leader scanning too: the model is the serial plan's"

out=$(in_db "$par SET parallel_leader_participation = off; SET recsys.parallel_direct_read = off; SELECT $(payload "$train") FROM r")
ok $([ "$(direct "$out")" -eq 0 ] && [ "$(shared "$out")" -ge 1 ] && echo 0 || echo 1) \
	"recsys.parallel_direct_read off: the states go in shared memory"
out=$(in_db "$par SET parallel_leader_participation = off; SET recsys.parallel_shared_memory = off; SELECT $(payload "$train") FROM r")
is "$(direct "$out")/$(shared "$out")" "0/0" "recsys.parallel_shared_memory off: as values, not read from the workers either"
out=$(in_db "$par SET parallel_leader_participation = off; SELECT user_id % 2, $(payload "$train") FROM r GROUP BY 1 ORDER BY 1")
is "$(direct "$out")" "0" "GROUP BY: never read from a worker's memory (a Sort may sit over the Gather)"
is "$(printf '%s\n' "$out" | grep -v '^DEBUG' | tr '\n' ' ')" \
	"$(in_db "$ser SELECT user_id % 2, $(payload "$train") FROM r GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
	"... and each group's model is the serial plan's"

# two trainings in one query: each worker hands two states over, waits for both
two="SELECT $(payload "$train"), $(payload "recsys.train_ials(user_id, item_id, abs(rating), '{\"factors\": 4, \"iterations\": 1}')") FROM r"
out=$(in_db "$par SET parallel_leader_participation = off; $two")
ok $([ "$(direct "$out")" -ge 2 ] && [ $(($(direct "$out") % 2)) -eq 0 ] && echo 0 || echo 1) \
	"two trainings in one query: each worker's two states read from its memory"
is "$(printf '%s\n' "$out" | tail -n 1)" "$(in_db "$ser $two")" "... and both models are the serial plan's"

# a leader slow to read: it sleeps 10 ms per row it scans, so the workers finish
# first and wait for it
in_db "CREATE FUNCTION slow_in(leader int) RETURNS bool LANGUAGE plpgsql PARALLEL SAFE AS
\$\$ BEGIN IF pg_backend_pid() = leader THEN PERFORM pg_sleep(0.01); END IF; RETURN true; END \$\$" >/dev/null
slow_query() {
	printf '%s\n' "$par" "SET client_min_messages = warning;" "$1" "SELECT pg_backend_pid() AS lp \\gset" \
		"SELECT $(payload "$train") FROM r WHERE slow_in(:lp);" "SELECT 'session alive';"
}
waiting() { q -d postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND datname = '$db' AND wait_event_type = 'Extension'"; }
wait_for_waiting() {
	for _ in $(seq 100); do
		[ "$(waiting)" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}
run_slow() { slow_query "$1" | timeout 120 psql -X -At -d "$db" > "$2" 2>&1 & }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
run_slow "" "$tmp/slow"
wait_for_waiting
ok $? "a worker that has handed its state over waits for the leader (wait event Extension)"
wait
is "$(grep -v '^SET' "$tmp/slow" | tr '\n' ' ')" "$(in_db "$ser SELECT $(payload "$train") FROM r") session alive " \
	"... and once the slow leader reads it, the model is the serial plan's"

# a waiting worker terminated, or cancelled: the query fails, the session goes on
for how in terminate cancel; do
	run_slow "" "$tmp/$how"
	wait_for_waiting
	q -d postgres "SELECT count(pg_${how}_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND datname = '$db'" >/dev/null
	wait
	like "$(cat "$tmp/$how")" "ERROR" "a waiting worker ${how}d: the leader's query fails"
	like "$(cat "$tmp/$how")" "session alive" "... and its session goes on"
done

# the leader cancelled, and timed out, while its workers wait
run_slow "" "$tmp/leader"
wait_for_waiting
q -d postgres "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = '$db' AND query LIKE '%slow_in%' AND pid <> pg_backend_pid()" >/dev/null
wait
like "$(cat "$tmp/leader")" "canceling statement due to user request" "the leader cancelled while its workers wait: the query stops"
like "$(cat "$tmp/leader")" "session alive" "... and the session goes on"
run_slow "SET statement_timeout = '1s';" "$tmp/timeout"
wait
like "$(cat "$tmp/timeout")" "canceling statement due to statement timeout" "a statement timeout while the workers wait: the query stops"

# the leader fails after reading both workers' states: its memory limit,
# crossed by the interactions it builds from them
in_db "CREATE TABLE big AS SELECT user_id, item_id, greatest(0.5, least(5, round(rating * 2) / 2))::real AS rating
FROM recsys.synthetic_ratings(20000, 30000, 1500000, rank => 2, seed => 3);
ANALYZE big" >/dev/null
out=$(in_db "$par SET parallel_leader_participation = off; SET recsys.max_train_mb = 16;
SELECT recsys.train_als(user_id, item_id, rating, '{\"iterations\": 0}') IS NOT NULL FROM big" 2>&1)
like "$out" "train_als needs [0-9.]+ MB for its input" "the leader over its memory limit with the workers' states read: the query fails"
ok $([ "$(direct "$out")" -ge 1 ] && echo 0 || echo 1) "... after the workers handed their states over"
out=$(in_db "$par SET parallel_leader_participation = off;
SELECT (recsys.model_info(recsys.train_als(user_id, item_id, rating, '{\"iterations\": 0}'))->>'n_interactions')::bigint = count(DISTINCT (user_id, item_id)) FROM big" 2>&1)
is "$(printf '%s\n' "$out" | tail -n 1)" "t" "... and with the limit back, the same training holds every interaction"

# statement timeouts at many points of a parallel feed: each query ends
for ms in 30 60 90 120 150 200 250 300 400 500; do
	printf '%s\n' "$par" "SET statement_timeout = '${ms}ms';" \
		"SELECT recsys.train_als(user_id, item_id, rating, '{\"iterations\": 0}') IS NOT NULL FROM big;" |
		timeout 60 psql -X -At -d "$db" >/dev/null 2>&1
	echo $? >> "$tmp/timeouts"
done
is "$(grep -c '^124$' "$tmp/timeouts")" "0" "statement timeouts at 30 .. 500 ms into a parallel feed: no query hangs"

sleep 1
is "$(workers)" "0" "no parallel worker is left behind"
is "$(segments)" "$before" "no shared memory segment is left behind"
is "$(in_db "SELECT count(*) FROM r")" "120000" "the database answers"

out=$(in_db "SELECT count(*) FROM recsys.synthetic_ratings(1, 1, 1); SET recsys.parallel_direct_read = maybe")
like "$out" "requires a Boolean value" "recsys.parallel_direct_read takes a Boolean"
exit $((tap_failed > 0))
