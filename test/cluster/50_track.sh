#!/usr/bin/env bash
# recsys.track under concurrency: two sessions insert for the same user at the
# same time, the first holding its transaction open.  The trigger locks the
# user's overlay row before it reads the table, so the second waits for the first
# to commit and then sees both rows: no update is lost.
set -u
. "$(dirname "$0")/tap.bash"
plan 3

db=recsys_track_$$
q -d postgres "CREATE DATABASE $db" >/dev/null
cleanup() { q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null; }
trap cleanup EXIT

q -d "$db" "CREATE EXTENSION recsys" >/dev/null
q -d "$db" "CREATE TABLE plays AS SELECT user_id, item_id, rating AS plays
	FROM recsys.synthetic_ratings(60, 50, 900, rank => 3, seed => 7, implicit => true)" >/dev/null
q -d "$db" "SELECT recsys.train('conc', 'ials', 'SELECT user_id, item_id, plays FROM plays',
	'{\"factors\": 4, \"iterations\": 3}')" >/dev/null
q -d "$db" "SELECT recsys.track('conc', 'plays', 'user_id', 'item_id', 'plays')" >/dev/null

# session A inserts item 1001 and keeps its transaction open for 2 s; session B
# inserts item 1002 for the same user meanwhile and commits at once
psql -X -q -d "$db" -c "BEGIN" -c "INSERT INTO plays VALUES (1, 1001, 1)" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null 2>&1 &
a=$!
sleep 0.5
psql -X -q -d "$db" -c "INSERT INTO plays VALUES (1, 1002, 1)" >/dev/null 2>&1
b=$?
wait $a
ok $? "session A commits"
ok $b "session B commits"
got=$(q -d "$db" "SELECT item_ids @> ARRAY[1001, 1002]::bigint[]
	FROM recsys.user_overlays WHERE name = 'conc' AND user_id = 1")
is "$got" "t" "the overlay holds both sessions' items"
exit $((tap_failed > 0))
