#!/usr/bin/env bash
# Partial training states handed from parallel workers to the leader in the
# workers' own memory (recsys.parallel_direct_read; see 46_parallel_direct_read.sh)
# or in the query's dynamic shared memory instead of through the tuple queue
# (recsys.parallel_shared_memory, on by default), and the leader's own state to
# its Finalize Aggregate as a message naming it in the leader's memory.  Each
# handover shows as a DEBUG1 line; the models must equal the serial plan's byte for byte with it
# on and off, under plain, grouped (sorted and hashed), limited and correlated
# plans; a cancelled training and a LIMIT that stops early leave no shared memory
# segment behind.
set -u
. "$(dirname "$0")/tap.bash"
plan 44

db=recsys_handover_$$
q -d postgres "CREATE DATABASE $db" >/dev/null
trap 'q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
in_db() { q -d "$db" "$@"; }
in_db "CREATE EXTENSION recsys" >/dev/null
in_db "CREATE TABLE r AS SELECT user_id, item_id, rating FROM recsys.synthetic_ratings(3000, 800, 120000, rank => 4, seed => 7)" >/dev/null
in_db "CREATE TABLE tiny AS SELECT * FROM r WHERE user_id < 40" >/dev/null
in_db "ANALYZE r" >/dev/null
in_db "ANALYZE tiny" >/dev/null

# forced parallel plans, JIT off (its own DEBUG1 lines), messages shown
par="SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET jit = off; SET client_min_messages = debug1;"
ser="SET max_parallel_workers_per_gather = 0;"
payload() { echo "md5(substring(recsys.model_send($1) FROM 101))"; }
train="recsys.train_als(user_id, item_id, rating, '{\"factors\": 6, \"iterations\": 2}')"
handovers() { printf '%s\n' "$1" | grep -c 'state of [0-9]* bytes handed over in shared memory'; }
leader_handovers() { printf '%s\n' "$1" | grep -c "state of [0-9]* bytes handed over in the leader's memory"; }
direct() { printf '%s\n' "$1" | grep -c "state of [0-9]* bytes handed over in the worker's memory"; }
segments() { ls /dev/shm 2>/dev/null | grep -c '^PostgreSQL\.'; }

serial=$(in_db "$ser SELECT $(payload "$train") FROM r")
out=$(in_db "$par SELECT $(payload "$train") FROM r")
n=$(($(handovers "$out") + $(leader_handovers "$out") + $(direct "$out")))
ok $([ "$n" -ge 1 ] && echo 0 || echo 1) "a parallel training hands its partial states over ($n)"
is "$(printf '%s\n' "$out" | tail -n 1)" "$serial" "... and its model equals the serial plan's"
plan_text=$(in_db "$par EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT $train FROM r")
like "$plan_text" "Workers Launched: [12]" "... with workers really running"
out=$(in_db "$par SET max_parallel_workers = 0; SELECT $(payload "$train") FROM r")
is "$(leader_handovers "$out")" "1" "no worker launched: the leader's own state named in its memory, once"
is "$(printf '%s\n' "$out" | tail -n 1)" "$serial" "... and the model is the serial plan's"

out=$(in_db "$par SET recsys.parallel_shared_memory = off; SELECT $(payload "$train") FROM r")
is "$(handovers "$out")" "0" "recsys.parallel_shared_memory off: the states go through the tuple queue"
is "$(direct "$out")" "0" "... none read from a worker's memory"
is "$(leader_handovers "$out")" "0" "... the leader's too"
is "$(printf '%s\n' "$out" | tail -n 1)" "$serial" "... and the model is the same"

out=$(in_db "$par SELECT $(payload "$train") FROM tiny")
is "$(handovers "$out")" "0" "states smaller than the tuple queue's ring go through it"
is "$(leader_handovers "$out")" "0" "... and the leader's small state goes as a value"
is "$(printf '%s\n' "$out" | tail -n 1)" "$(in_db "$ser SELECT $(payload "$train") FROM tiny")" "... and the model equals the serial plan's"

out=$(in_db "$par SET parallel_leader_participation = off; SELECT $(payload "$train") FROM r")
is "$(printf '%s\n' "$out" | tail -n 1)" "$serial" "without the leader scanning: the workers' states alone, the same model"
ok $([ "$(direct "$out")" -ge 1 ] && echo 0 || echo 1) "... read from the workers' memory"
out=$(in_db "$par SET parallel_leader_participation = off; SET recsys.parallel_direct_read = off; SELECT $(payload "$train") FROM r")
ok $([ "$(handovers "$out")" -ge 1 ] && echo 0 || echo 1) "... or, recsys.parallel_direct_read off, in shared memory"
is "$(leader_handovers "$out")" "0" "... and no state of the leader's"

# rows not grouped by user (each state's chunks hold triples once runs of one
# user stop paying), and grouped for half the users, then not (runs and triples
# in one state): the states go over as they are, the model is the same
in_db "CREATE TABLE shuffled AS SELECT * FROM r ORDER BY md5(user_id || ':' || item_id);
ANALYZE shuffled" >/dev/null
in_db "CREATE TABLE mixed AS SELECT * FROM r ORDER BY user_id >= 1500,
CASE WHEN user_id < 1500 THEN user_id END, md5(user_id || ':' || item_id);
ANALYZE mixed" >/dev/null
for t in shuffled mixed; do
	out=$(in_db "$par SELECT $(payload "$train") FROM $t")
	n=$(($(handovers "$out") + $(leader_handovers "$out") + $(direct "$out")))
	ok $([ "$n" -ge 1 ] && echo 0 || echo 1) "$t rows: states handed over as they are ($n)"
	is "$(printf '%s\n' "$out" | tail -n 1)" "$serial" "... and the model is the serial plan's on the same rows"
done

# grouped by user, over 200,000 items: every process's state starts with 16-bit
# items and switches to 32 bits midway, and a state that saw more than 65,536
# items goes over with 32-bit items (others in 16)
in_db "CREATE TABLE wide AS SELECT u AS user_id, (u * 7919 + k * 104729) % 200000 AS item_id,
((u + k) % 5 + 1)::real AS rating FROM generate_series(1, 3000) u, generate_series(1, 200) k
ORDER BY u, k;
ANALYZE wide" >/dev/null
out=$(in_db "$par SELECT $(payload "$train") FROM wide")
n=$(($(handovers "$out") + $(leader_handovers "$out") + $(direct "$out")))
ok $([ "$n" -ge 1 ] && echo 0 || echo 1) "200,000 items: states handed over as they are ($n)"
is "$(printf '%s\n' "$out" | tail -n 1)" "$(in_db "$ser SELECT $(payload "$train") FROM wide")" \
	"... and the model is the serial plan's"
# the serial plan's states switch too: check the model against the table
# itself, each interaction once, under its own item
in_db "CREATE TABLE own AS SELECT user_id, array_agg(item_id) AS items FROM wide GROUP BY 1" >/dev/null
out=$(in_db "$par SELECT (recsys.model_info(m)->>'n_interactions')::bigint = (SELECT count(*) FROM wide)
	AND (recsys.model_info(m)->>'n_items')::bigint = (SELECT count(DISTINCT item_id) FROM wide),
	(SELECT count(*) FROM own, recsys.recommend(m, own.user_id, 1000, candidates => own.items)),
	(SELECT count(*) FROM own, recsys.recommend(m, own.user_id, 1000, exclude_seen => false,
		candidates => own.items))
	FROM (SELECT recsys.train_als(user_id, item_id, rating, '{\"factors\": 2, \"iterations\": 1}') AS m
	FROM wide) s")
is "$(printf '%s\n' "$out" | tail -n 1)" "t|0|600000" \
	"... holding each row once under its own item (a user's own items are all seen)"

# half-star ratings (the half-step grid 0 .. 127.5) are kept as one-byte codes
# until a value off the grid comes (2.25 every 500 users, -0, 128); each state
# then switches to float4 midway.  The same rows with an off-grid value first
# hold float4 from the start: the serial models must be equal byte for byte,
# and the parallel plans' (states all codes, or switching, in workers) too
in_db "CREATE TABLE half AS SELECT u AS user_id, (u * 37 + k * 11) % 800 AS item_id,
CASE WHEN u = 2990 AND k = 1 THEN '-0'::real WHEN u = 2995 AND k = 1 THEN 128
WHEN u = 2980 AND k = 1 THEN 127.5 WHEN u % 500 = 499 AND k % 3 = 0 THEN 2.25
ELSE ((u * k) % 10 + 1) * 0.5 END::real AS rating
FROM generate_series(1, 3000) u, generate_series(1, 40) k ORDER BY u, k;
CREATE TABLE half_first AS SELECT * FROM half ORDER BY user_id % 500 = 499 DESC, user_id, item_id;
CREATE TABLE half_grid AS SELECT * FROM half WHERE user_id % 500 <> 499 AND user_id < 2900
ORDER BY user_id, item_id;
CREATE TABLE half_off AS SELECT user_id, item_id, rating + 0.01::real AS rating FROM half_grid
ORDER BY user_id, item_id;
ANALYZE half; ANALYZE half_first; ANALYZE half_grid; ANALYZE half_off" >/dev/null
half_serial=$(in_db "$ser SELECT $(payload "$train") FROM half")
is "$half_serial" "$(in_db "$ser SELECT $(payload "$train") FROM half_first")" \
	"half-star ratings kept as codes, then float4: the model of the same rows kept as float4"
out=$(in_db "$par SELECT $(payload "$train") FROM half")
is "$(printf '%s\n' "$out" | tail -n 1)" "$half_serial" "... and the parallel plan's"
out=$(in_db "$par SET parallel_leader_participation = off; SELECT $(payload "$train") FROM half")
is "$(printf '%s\n' "$out" | tail -n 1)" "$half_serial" "... and the workers' alone"
out=$(in_db "$par SELECT $(payload "$train") FROM half_grid")
is "$(printf '%s\n' "$out" | tail -n 1)" "$(in_db "$ser SELECT $(payload "$train") FROM half_grid")" \
	"every rating on the grid: the parallel plan's model is the serial plan's"
# one byte a rating instead of four: the training's peak memory shows it
peak="(recsys.model_info(recsys.train_als(user_id, item_id, rating, '{\"factors\": 2, \"iterations\": 0}'))->>'peak_bytes')::bigint"
is "$(in_db "$ser SELECT (SELECT $peak FROM half_off) - (SELECT $peak FROM half_grid) >= (SELECT count(*) FROM half_grid)")" "t" \
	"... and its state holds a rating in one byte (peak memory at least a byte a rating less)"

# grouped: Finalize GroupAggregate over Sort over Gather, and Finalize HashAggregate
group="SELECT user_id % 3 AS g, $(payload "$train") AS p FROM r GROUP BY 1 ORDER BY 1"
serial_groups=$(in_db "$ser $group" | tr '\n' ' ')
out=$(in_db "$par SET enable_hashagg = off; $group")
ok $([ $(($(handovers "$out") + $(leader_handovers "$out"))) -ge 2 ] && echo 0 || echo 1) \
	"grouped by sorting: states handed over in shared and the leader's memory"
is "$(printf '%s\n' "$out" | grep -v '^DEBUG' | tr '\n' ' ')" "$serial_groups" "... and each group's model equals the serial plan's"
out=$(in_db "$par SET enable_sort = off; $group")
ok $([ $(($(handovers "$out") + $(leader_handovers "$out"))) -ge 2 ] && echo 0 || echo 1) \
	"grouped by hashing: states handed over in shared and the leader's memory"
is "$(printf '%s\n' "$out" | grep -v '^DEBUG' | tr '\n' ' ')" "$serial_groups" "grouped by hashing: each group's model equals the serial plan's"

# a LIMIT that stops before every group is finalised, and a correlated subquery
# that runs the parallel training once per outer row
before=$(segments)
limited="SELECT g, m IS NOT NULL FROM (SELECT user_id % 5 AS g, $train AS m FROM r GROUP BY 1) s LIMIT 1"
out=$(in_db "$par $limited")
like "$(printf '%s\n' "$out" | grep -v '^DEBUG')" "^[0-4]\|t$" "a LIMIT that stops early returns its row"
# no worker to launch: the leader scans alone, its every state named in its memory
out=$(in_db "$par SET max_parallel_workers = 0; SET enable_sort = off; $limited")
like "$(printf '%s\n' "$out" | grep -v '^DEBUG')" "^[0-4]\|t$" "the leader alone, hashed, a LIMIT: its row"
is "$(leader_handovers "$out")" "5" "... after the leader named all five states in its memory and finalised one"
out=$(in_db "$par SET max_parallel_workers = 0; SET enable_hashagg = off; $limited")
like "$(printf '%s\n' "$out" | grep -v '^DEBUG')" "^[0-4]\|t$" "the leader alone, sorted, a LIMIT: its row"
corr="SELECT k, (SELECT $(payload "$train") FROM r WHERE r.user_id % 2 = s.k) FROM generate_series(0, 1) s(k)"
is "$(in_db "$par $corr" | grep -v '^DEBUG' | tr '\n' ' ')" "$(in_db "$ser $corr" | tr '\n' ' ')" \
	"a training in a correlated subquery, run again per outer row: the serial plan's models"

# partitionwise: partial aggregates under an Append, with no Gather (the states
# pass as values in one process), under a Parallel Append, and by the leader
# alone; duplicates of equal value, since which of two different explicit
# ratings a parallel scan sees last is not defined
in_db "CREATE TABLE pt (user_id bigint, item_id bigint, rating real) PARTITION BY RANGE (user_id);
CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (1500);
CREATE TABLE pt2 PARTITION OF pt FOR VALUES FROM (1500) TO (MAXVALUE);
INSERT INTO pt SELECT * FROM r;
INSERT INTO pt SELECT * FROM r WHERE (user_id + item_id) % 11 = 0;
ANALYZE pt" >/dev/null
pw="SET enable_partitionwise_aggregate = on;"
serial_pt=$(in_db "$ser SELECT $(payload "$train") FROM pt")
out=$(in_db "$ser $pw SELECT $(payload "$train") FROM pt")
is "$(printf '%s\n' "$out" | tail -n 1)" "$serial_pt" "partial aggregates per partition, no Gather: the plain plan's model"
out=$(in_db "$par $pw SELECT $(payload "$train") FROM pt")
is "$(printf '%s\n' "$out" | tail -n 1)" "$serial_pt" "... under a Parallel Append: the same model"
out=$(in_db "$par $pw SET max_parallel_workers = 0; SELECT $(payload "$train") FROM pt")
is "$(printf '%s\n' "$out" | tail -n 1)" "$serial_pt" "... the leader alone: the same model"

# cancelled mid-way (a statement timeout while the workers scan or the leader trains)
out=$(in_db "$par SET statement_timeout = '150ms'; SELECT $(payload "recsys.train_als(user_id, item_id, rating, '{\"factors\": 64, \"iterations\": 50}')") FROM r")
like "$out" "canceling statement due to statement timeout" "a cancelled parallel training stops"
is "$(in_db "SELECT count(*) FROM r")" "120000" "... and the session goes on"
sleep 1
is "$(segments)" "$before" "no shared memory segment is left behind by a LIMIT or a cancel"

out=$(in_db "SELECT count(*) FROM recsys.synthetic_ratings(1, 1, 1); SET recsys.parallel_shared_memory = maybe")
like "$out" "requires a Boolean value" "recsys.parallel_shared_memory takes a Boolean"
exit $((tap_failed > 0))
