#!/usr/bin/env bash
# Read replicas: a physical streaming standby serves the primary's registry models.
# This script starts its own primary, clones it with pg_basebackup -R into a hot
# standby on another port, trains on the primary and checks that by-name serving on
# the standby (recommend, recommend_by_items, similar_items, predict, explain, model_info,
# recommend_all, evaluate, a tracked user's overlay) returns the primary's rows;
# then retrains on the primary and checks that a standby session that stayed open,
# with the old model in its per-backend cache, serves the new model at its next
# call; and that writing functions fail on the standby with the read-only error.
set -u
. "$(dirname "$0")/tap.bash"
plan 17

bindir=$("${PG_CONFIG:-pg_config}" --bindir)
dir=$(mktemp -d /tmp/recsys-replica.XXXXXX)
cd /tmp
pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"

pport=$((20000 + RANDOM % 20000))
sport=$((pport + 1))
export PGHOST=$dir PGUSER=postgres PGDATABASE=postgres
unset PGPASSWORD PGSERVICE PGPORT

opts="-c listen_addresses='' -c unix_socket_directories=$dir"
opts+=" -c fsync=off -c shared_buffers=16MB -c max_connections=20"
opts+=" -c max_parallel_workers_per_gather=0 -c wal_level=replica -c max_wal_senders=4"
[ -n "${TEST_DESTDIR:-}" ] && opts+=" -c extension_destdir=$TEST_DESTDIR"

start() {	# start DATADIR PORT
	pg "$bindir/pg_ctl" -D "$dir/$1" -l "$dir/$1.log" -w -t 60 -o "$opts -c port=$2" start >/dev/null
}
stop() { pg "$bindir/pg_ctl" -D "$dir/$1" -m immediate -w stop >/dev/null 2>&1; }
P() { psql -X -q -A -t -v ON_ERROR_STOP=1 -p "$pport" -c "$1" 2>&1; }
S() { psql -X -q -A -t -v ON_ERROR_STOP=1 -p "$sport" -c "$1" 2>&1; }
cleanup() {
	[ -n "${SB_PID:-}" ] && kill "$SB_PID" 2>/dev/null
	stop standby; stop primary
	[ -n "${KEEP:-}" ] && { grep -E "ERROR|WARNING|FATAL" "$dir/standby.log" | sed "s/^/# /"; }
	rm -rf "$dir"
}
trap cleanup EXIT

pg "$bindir/initdb" -A trust -U postgres --no-sync -D "$dir/primary" >"$dir/initdb.log" 2>&1 \
	|| { cat "$dir/initdb.log"; exit 1; }
start primary "$pport" || { cat "$dir/primary.log"; exit 1; }

P "CREATE EXTENSION recsys" >/dev/null
P "CREATE TABLE ratings AS SELECT * FROM recsys.synthetic_ratings(300, 200, 6000, rank => 4, seed => 21)" >/dev/null
P "CREATE TABLE plays AS SELECT user_id, item_id, rating AS plays
	FROM recsys.synthetic_ratings(80, 60, 1200, rank => 3, seed => 5, implicit => true)" >/dev/null
P "SELECT recsys.train('rep', 'als', 'SELECT user_id, item_id, rating FROM ratings', '{\"factors\": 6, \"iterations\": 5, \"seed\": 1}')" >/dev/null
P "SELECT recsys.train('knn', 'knn', 'SELECT user_id, item_id, rating FROM ratings')" >/dev/null
P "SELECT recsys.train('tracked', 'ials', 'SELECT user_id, item_id, plays FROM plays', '{\"factors\": 4, \"iterations\": 3}')" >/dev/null
P "SELECT recsys.track('tracked', 'plays', 'user_id', 'item_id', 'plays')" >/dev/null

pg "$bindir/pg_basebackup" -h "$dir" -p "$pport" -U postgres -D "$dir/standby" -R -X stream \
	>"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log"; exit 1; }
start standby "$sport" || { cat "$dir/standby.log"; exit 1; }

# waits until the standby has replayed everything the primary has written
catch_up() {
	local lsn
	lsn=$(P "SELECT pg_current_wal_lsn()")
	for _ in $(seq 300); do
		[ "$(S "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
		sleep 0.1
	done
	echo "# the standby did not catch up with $lsn"
	return 1
}
catch_up

# 1
is "$(S "SELECT pg_is_in_recovery()")" "t" "the standby is a hot standby in recovery"

# 2-9: by-name serving on the standby returns the primary's rows
for q in "SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('rep', 7, 5)" \
	"SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend_by_items('rep', ARRAY[1, 2, 3]::bigint[], n => 5)" \
	"SELECT string_agg(id || ':' || score, ',') FROM recsys.similar_items('knn', 4, 5)" \
	"SELECT recsys.predict('rep', 3, 4)" \
	"SELECT string_agg(item_id || ':' || contribution, ',') FROM recsys.explain('knn', 7, 5, 3)" \
	"SELECT recsys.model_info('rep') ->> 'uuid'" \
	"SELECT count(*) || ':' || sum(score) FROM recsys.recommend_all('rep', 3)" \
	"SELECT (recsys.evaluate('rep', 'SELECT user_id, item_id, rating FROM ratings WHERE user_id < 50', 5) ->> 'rmse')"; do
	p=$(P "$q")
	s=$(S "$q")
	name=$(printf '%s' "$q" | sed -n 's/.*recsys\.\([a-z_]*\)(.*/\1/p' | head -n 1)
	if [ -n "$p" ] && [ "$p" = "$s" ] && ! printf '%s' "$p" | grep -q ERROR; then
		ok 0 "standby $name returns the primary's result"
	else
		ok 1 "standby $name returns the primary's result"
		echo "#   primary: $p"
		echo "#   standby: $s"
	fi
done

# 10: a tracked user's overlay written on the primary is served on the standby
P "INSERT INTO plays VALUES (3, 1001, 1)" >/dev/null
catch_up
q="SELECT string_agg(item_id::text, ',') FROM recsys.recommend('tracked', 3, 5)"
p=$(P "$q")
is "$(S "$q")" "$p" "standby recommend serves the tracked overlay the primary wrote"

# a standby session that stays open: the old model is in its cache
coproc SB { psql -X -q -A -t -p "$sport" 2>&1; }
SB_PID=$SB_PID
# sb SQL: runs one statement in the open standby session, prints its output
sb() {
	local line out=
	printf '%s;\n\\echo __done__\n' "$1" >&"${SB[1]}"
	while IFS= read -r -t 30 line <&"${SB[0]}"; do
		[ "$line" = __done__ ] && break
		out+="${out:+$'\n'}$line"
	done
	printf '%s' "$out"
}
rec="SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('rep', 7, 5)"
before=$(sb "$rec")
# 11
is "$before" "$(P "$rec")" "an open standby session serves the model (now cached)"

# 12-14: retrain on the primary; the open session's next call serves the new model
P "UPDATE ratings SET rating = 6 - rating WHERE user_id % 2 = 0" >/dev/null
P "SELECT recsys.retrain('rep')" >/dev/null
catch_up
after=$(P "$rec")
ok $([ "$after" != "$before" ] && echo 0 || echo 1) "the retrained model recommends differently on the primary"
is "$(sb "$rec")" "$after" "the open standby session's next call serves the retrained model"
is "$(sb "SELECT recsys.model_info('rep') ->> 'uuid'")" "$(P "SELECT recsys.model_info('rep') ->> 'uuid'")" \
	"... and model_info in that session names the new model"

# 15: rollback on the primary reaches the open session too
P "SELECT recsys.rollback('rep')" >/dev/null
catch_up
is "$(sb "$rec")" "$before" "after a rollback on the primary the open session serves the old model again"

# 16-17: writing functions fail cleanly on the standby
like "$(psql -X -q -A -t -v VERBOSITY=verbose -p "$sport" -c "SELECT recsys.train('x', 'als', 'SELECT user_id, item_id, rating FROM ratings')" 2>&1)" \
	'ERROR: +25006: .*read-only transaction' "recsys.train on the standby fails with the read-only error"
is "$(S "SELECT 1")" "1" "the standby stays up"

exit $((tap_failed > 0))
