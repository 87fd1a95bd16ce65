#!/usr/bin/env bash
# The upgrade path: a database on 0.1.0 with registry models (and history) runs
# ALTER EXTENSION recsys UPDATE and keeps serving, retraining and rolling back
# the models it had; the rows belong to the role that installed the extension.
set -u
. "$(dirname "$0")/tap.bash"
plan 15

db=recsys_upgrade_$$
q -d postgres "CREATE ROLE recsys_old_owner LOGIN PASSWORD 'pw'" >/dev/null
q -d postgres "CREATE DATABASE $db OWNER recsys_old_owner" >/dev/null
cleanup() {
	q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	q -d postgres "DROP ROLE IF EXISTS recsys_old_owner" >/dev/null
}
trap cleanup EXIT
as_owner() { PGPASSWORD=pw PGUSER=recsys_old_owner q -d "$db" "$1"; }

out=$(as_owner "CREATE EXTENSION recsys VERSION '0.1.0'")
is "$out" "" "0.1.0 installs as it was released"
as_owner "CREATE TABLE ratings AS SELECT * FROM recsys.synthetic_ratings(60, 40, 900, rank => 3, seed => 3)" >/dev/null
as_owner "SELECT recsys.train('old', 'als', 'SELECT user_id, item_id, rating FROM ratings;', '{\"factors\": 4, \"iterations\": 3, \"seed\": 1}')" >/dev/null
first=$(as_owner "SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('old', 7, 5)")
as_owner "SELECT recsys.retrain('old')" >/dev/null
before=$(as_owner "SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('old', 7, 5)")
history=$(as_owner "SELECT count(*) FROM recsys.model_history")
is "$history" "1" "the 0.1.0 database has a model and one history entry"

out=$(as_owner "ALTER EXTENSION recsys UPDATE")
is "$out" "" "ALTER EXTENSION recsys UPDATE runs as the database owner"
out=$(as_owner "SELECT extversion FROM pg_extension WHERE extname = 'recsys'")
is "$out" "0.2.0" "the extension is at 0.2.0"
after=$(as_owner "SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('old', 7, 5)")
is "$after" "$before" "the old model serves the same recommendations"
out=$(as_owner "SELECT owner || ' ' || search_path FROM recsys.models WHERE name = 'old'")
is "$out" 'recsys_old_owner "$user", public' "the old row belongs to the installer, with the default search_path"
out=$(as_owner "SELECT owner FROM recsys.model_history")
is "$out" "recsys_old_owner" "so does its history"
out=$(as_owner "SELECT string_agg(version || ':' || live || ':' || status, ',') FROM recsys.model_versions('old')")
is "$out" "1:false:trained,2:true:trained" "0.1.0's rows get version ids: the history first, the live model last"
out=$(as_owner "SELECT version || '/' || last_version FROM recsys.models WHERE name = 'old'")
is "$out" "2/2" "the live row records its version and the last id"
out=$(as_owner "SELECT recsys.retrain('old') ->> 'n_users'")
is "$out" "60" "the old row retrains from its stored source (with its trailing semicolon)"
out=$(as_owner "SELECT version FROM recsys.models WHERE name = 'old'")
is "$out" "3" "... as version 3"
out=$(as_owner "SELECT recsys.rollback('old') ->> 'n_items'")
is "$out" "40" "... and rolls back"
out=$(as_owner "SELECT (recsys.rollback('old') ->> 'version') || ' ' || (SELECT string_agg(item_id || ':' || score, ',') FROM recsys.recommend('old', 7, 5))")
is "$out" "1 $first" "... to the model 0.1.0 stored in the history, which serves as it did"
out=$(q -d "$db" "SELECT count(*) FROM pg_extension e, pg_depend d WHERE d.refobjid = e.oid AND e.extname = 'recsys' AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'")
fresh=$(q -d postgres "SELECT count(*) FROM pg_extension e, pg_depend d WHERE d.refobjid = e.oid AND e.extname = 'recsys' AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'")
is "$out" "$fresh" "an upgraded database has the same functions as a fresh install"
out=$(as_owner "SELECT recsys.share('old', 'public')")
is "$out" "" "the installer can share its upgraded model"
