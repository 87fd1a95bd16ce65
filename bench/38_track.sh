#!/usr/bin/env bash
# Real-time updates: recommend by name for users with an overlay (recsys.track
# folded in their latest click) against users without one, on the same
# 4,000-item, 64-factor implicit model, through prepared statements on one
# connection.  Every by-name call probes recsys.user_overlays once; a user with an
# overlay is ranked from the stored vector instead of the model's row.  Target:
# +50 us or less at p50.  Then pgbench -c 2 -T 30 over recommend by name while
# one more session inserts clicks into the tracked table (the trigger folds each
# clicked user in again), readers and the writer on the same few hundred users:
# TPS of both and their errors (target: zero).  Prints markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/track
mkdir -p "$out"
rm -f "$out"/lat_*

USERS=${TRACK_USERS:-20000}
ITEMS=${TRACK_ITEMS:-4000}
FACTORS=${TRACK_FACTORS:-64}
TRACKED=${TRACK_TRACKED:-2000}
CALLS=${TRACK_CALLS:-5000}
CONC_SECONDS=${TRACK_CONC_SECONDS:-30}
HOT=${TRACK_HOT_USERS:-200}
PSQL="psql -X -q -v ON_ERROR_STOP=1"

echo "building the $USERS x $ITEMS x $FACTORS model and $TRACKED overlays ..." >&2
$PSQL -c "SELECT recsys.untrack('bench_track')" >/dev/null 2>&1 || true
$PSQL -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench_track_plays" \
	-c "CREATE TABLE bench_track_plays AS
		SELECT user_id, item_id, rating AS plays
		FROM recsys.synthetic_ratings($USERS, $ITEMS, $((USERS * 25)), seed => 3, implicit => true)" \
	-c "CREATE INDEX ON bench_track_plays (user_id)" \
	-c "DELETE FROM recsys.models WHERE name = 'bench_track'" \
	-c "SELECT recsys.train('bench_track', 'ials', 'SELECT user_id, item_id, plays FROM bench_track_plays',
		'{\"factors\": $FACTORS, \"iterations\": 2}') IS NOT NULL" \
	-c "SELECT recsys.track('bench_track', 'bench_track_plays', 'user_id', 'item_id', 'plays')" \
	-c "INSERT INTO bench_track_plays SELECT u, (u * 7919) % $ITEMS + 1, 1 FROM generate_series(1, $TRACKED) u" \
	>/dev/null
# the cost of the trigger itself: one click for each of TRACKED users
ins_ms=$($PSQL -At -c "EXPLAIN (ANALYZE, FORMAT json) INSERT INTO bench_track_plays
	SELECT u, (u * 104729) % $ITEMS + 1, 1 FROM generate_series(1, $TRACKED) u" |
	sed -n 's/.*"Execution Time": \([0-9.]*\).*/\1/p')

cat >"$out/plain.sql" <<SQL
\\set uid random($((TRACKED + 1)), $USERS)
SELECT * FROM recsys.recommend('bench_track', :uid::bigint, 10);
SQL
cat >"$out/overlay.sql" <<SQL
\\set uid random(1, $TRACKED)
SELECT * FROM recsys.recommend('bench_track', :uid::bigint, 10);
SQL

percentiles() {
	cat "$@" | awk '{print $3}' | awk -v n="$(cat "$@" | wc -l)" 'NR > n * 0.05' | sort -n |
		awk '{a[NR] = $1} END {printf "%d %d\n", a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1]}'
}
latency() {
	pgbench -n -M prepared -c 1 -t "$CALLS" -f "$out/$1.sql" --log --log-prefix="$out/lat_$1" \
		>/dev/null 2>&1
	percentiles "$out"/lat_"$1".*
}
latency plain >/dev/null		# warm the cache and the CPU
rm -f "$out"/lat_*
read -r plain_p50 plain_p99 < <(latency plain)
read -r over_p50 over_p99 < <(latency overlay)

awk -v pp50="$plain_p50" -v pp99="$plain_p99" -v op50="$over_p50" -v op99="$over_p99" \
	-v ins="$ins_ms" -v T="$TRACKED" -v U="$USERS" -v I="$ITEMS" -v K="$FACTORS" '
BEGIN {
	printf "\nReal-time updates: %d users x %d items x %d factors, top 10 by name\n\n", U, I, K;
	print "| measure | no overlay | with overlay | extra |";
	print "| --- | ---: | ---: | ---: |";
	printf "| p50 (us) | %d | %d | %+d us (target <= +50 us) |\n", pp50, op50, op50 - pp50;
	printf "| p99 (us) | %d | %d | %+d us |\n", pp99, op99, op99 - pp99;
	printf "\nTrigger: %d single-row clicks (fold-in of each user'"'"'s ~25 items) in %.0f ms, %.0f us per row\n", T, ins, ins * 1000 / T;
}'

# readers and a writer on the same hot users, at the same time
cat >"$out/read_hot.sql" <<SQL
\\set uid random(1, $HOT)
SELECT * FROM recsys.recommend('bench_track', :uid::bigint, 10);
SQL
cat >"$out/click_hot.sql" <<SQL
\\set uid random(1, $HOT)
\\set iid random(1, $ITEMS)
INSERT INTO bench_track_plays VALUES (:uid, :iid, 1);
SQL
# errors: failed transactions, plus any client that aborted on an error
errors() {
	local failed aborted
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1")
	aborted=$(grep -c 'aborted in command' "$1" || true)
	echo $((${failed:-0} + aborted))
}
pgbench -n -M prepared -c 1 -T "$CONC_SECONDS" -f "$out/click_hot.sql" >"$out/click_hot.log" 2>&1 &
writer=$!
pgbench -n -M prepared -c 2 -j 2 -T "$CONC_SECONDS" -f "$out/read_hot.sql" >"$out/read_hot.log" 2>&1 || true
wait "$writer" || true
awk -v S="$CONC_SECONDS" -v H="$HOT" \
	-v rt="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out/read_hot.log")" \
	-v rn="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out/read_hot.log")" \
	-v re="$(errors "$out/read_hot.log")" \
	-v wt="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out/click_hot.log")" \
	-v wn="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out/click_hot.log")" \
	-v we="$(errors "$out/click_hot.log")" '
BEGIN {
	printf "\nConcurrent: %d s, recommend by name (pgbench -c 2) while one session inserts clicks (tracking trigger), both on %d users\n\n", S, H;
	print "| session | clients | transactions | TPS | errors |";
	print "| --- | ---: | ---: | ---: | ---: |";
	printf "| recommend by name | 2 | %d | %.0f | %d (target 0) |\n", rn, rt, re;
	printf "| INSERT into the tracked table | 1 | %d | %.0f | %d (target 0) |\n", wn, wt, we;
}'
$PSQL -c "SELECT recsys.untrack('bench_track')" >/dev/null
