#!/usr/bin/env bash
# Deploys reach serving sessions at once: one session keeps serving a model by name
# (its backend caches the loaded model) while other sessions retrain, deploy and roll
# back; each next call of the serving session gives exactly the live version's lists.
set -u
. "$(dirname "$0")/tap.bash"
plan 5

db=recsys_deploy_$$
q -d postgres "CREATE DATABASE $db" >/dev/null
cleanup() { q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null; }
trap cleanup EXIT

q -d "$db" "CREATE EXTENSION recsys" >/dev/null
q -d "$db" "CREATE TABLE clicks AS SELECT user_id, item_id FROM recsys.synthetic_ratings(300, 120, 6000, rank => 4, seed => 3, implicit => true)" >/dev/null
# three versions with different factor counts, so their lists differ
q -d "$db" "SELECT recsys.train('dep', 'ials', 'SELECT user_id, item_id, 1 FROM clicks', '{\"factors\": 2}')" >/dev/null
q -d "$db" "UPDATE recsys.models SET options = '{\"factors\": 6}' WHERE name = 'dep'" >/dev/null
q -d "$db" "SELECT recsys.retrain('dep')" >/dev/null
q -d "$db" "UPDATE recsys.models SET options = '{\"factors\": 12}' WHERE name = 'dep'" >/dev/null
q -d "$db" "SELECT recsys.retrain('dep')" >/dev/null
lists() { q -d "$db" "SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend(recsys.model_by_name('dep') , 5, 10)"; }
v3=$(lists)
v1=$(q -d "$db" "SELECT string_agg(item_id || ':' || score, ',') FROM recsys.model_history h, recsys.recommend(h.model, 5, 10) WHERE h.version = 1")
v2=$(q -d "$db" "SELECT string_agg(item_id || ':' || score, ',') FROM recsys.model_history h, recsys.recommend(h.model, 5, 10) WHERE h.version = 2")
[ "$v1" != "$v3" ] && [ "$v2" != "$v3" ]
ok $? "the three versions recommend differently"

# one serving session; the deploys run in other sessions between its calls
out=$(psql -X -q -A -t -d "$db" <<SQL 2>&1
SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('dep', 5, 10);
\! psql -X -q -d $db -c "SELECT recsys.deploy('dep', 1)" >/dev/null
SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('dep', 5, 10);
\! psql -X -q -d $db -c "SELECT recsys.deploy('dep', 3)" >/dev/null
SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('dep', 5, 10);
\! psql -X -q -d $db -c "SELECT recsys.rollback('dep')" >/dev/null
SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('dep', 5, 10);
SELECT recsys.model_info('dep') ->> 'factors';
SQL
)
is "$(echo "$out" | sed -n 1p)" "$v3" "the serving session first serves version 3"
is "$(echo "$out" | sed -n 2p)" "$v1" "after another session deploys version 1, its next call serves version 1"
is "$(echo "$out" | sed -n 3p)" "$v3" "deployed forward to 3 again, it serves 3"
is "$(echo "$out" | sed -n 4p)/$(echo "$out" | sed -n 5p)" "$v2/6" "rolled back, it serves version 2 (6 factors)"
exit $((tap_failed > 0))
