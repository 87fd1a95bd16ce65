#!/usr/bin/env bash
# A non-superuser database owner installs recsys (it is a trusted extension) and
# shares the registry the way README says; the database owner cannot turn a
# superuser's call into its own superuser rights; two application roles are
# isolated from each other.
set -u
. "$(dirname "$0")/tap.bash"
plan 16

db=recsys_inst_$$
super() { q -d "$db" "$1"; }
as() { local role=$1; shift; PGPASSWORD=pw PGUSER=$role q -d "$db" "$1"; }

q -d postgres "CREATE ROLE recsys_inst LOGIN PASSWORD 'pw'" >/dev/null
q -d postgres "CREATE ROLE recsys_app LOGIN PASSWORD 'pw'" >/dev/null
q -d postgres "CREATE ROLE recsys_analyst LOGIN PASSWORD 'pw'" >/dev/null
q -d postgres "CREATE DATABASE $db OWNER recsys_inst" >/dev/null
cleanup() {
	q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	q -d postgres "DROP ROLE IF EXISTS recsys_inst, recsys_app, recsys_analyst" >/dev/null
}
trap cleanup EXIT

out=$(as recsys_inst "CREATE EXTENSION recsys")
is "$out" "" "the database owner (not a superuser) installs recsys"
as recsys_inst "CREATE TABLE ratings AS SELECT * FROM recsys.synthetic_ratings(50, 30, 600, rank => 3)" >/dev/null
as recsys_inst "GRANT SELECT ON ratings TO recsys_analyst" >/dev/null
out=$(as recsys_inst "SELECT recsys.train('movies', 'als', 'SELECT user_id, item_id, rating FROM ratings', '{\"factors\": 4, \"iterations\": 2}') ->> 'n_users'")
is "$out" "50" "the installer trains into the registry"

# README's sharing recipe: serving for one role, training for another
out=$(as recsys_inst "SELECT recsys.share('movies', 'recsys_app')")
is "$out" "" "the installer shares its model with the application role"
out=$(as recsys_app "SELECT count(*) FROM recsys.recommend('movies', 1, 5)")
is "$out" "5" "the application role serves it by name"
out=$(as recsys_app "SELECT recsys.train('mine', 'als', 'SELECT 1, 1, 1.0')")
like "$out" "permission denied for table models" "the application role may not write the registry"
out=$(as recsys_inst "GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models, recsys.model_history TO recsys_analyst")
is "$out" "" "the installer grants registry privileges (it holds them with grant option)"
out=$(super "SELECT has_table_privilege('recsys_analyst', 'recsys.models', 'INSERT')")
is "$out" "t" "... and the grant took effect"
out=$(as recsys_analyst "SELECT recsys.train('analyst_model', 'ials', 'SELECT user_id, item_id, 1 FROM ratings', '{\"factors\": 4, \"iterations\": 2}') ->> 'n_items'")
is "$out" "30" "the analyst trains a model of its own"
out=$(as recsys_inst "SELECT count(*) FROM recsys.models WHERE name = 'analyst_model'")
is "$out" "0" "the installer does not see the analyst's model"
out=$(as recsys_analyst "SELECT string_agg(name, ',' ORDER BY name) FROM recsys.models")
is "$out" "analyst_model" "the analyst sees only its own model"
out=$(as recsys_app "SELECT count(*) FROM recsys.recommend('analyst_model', 1, 5)")
like "$out" "does not exist" "the application role cannot serve a model not shared with it"

# the database owner plants trojans for the comparisons the 0.1.0 train body
# made; a superuser then trains with options that used to reach them
as recsys_inst "CREATE FUNCTION public.escalate(numeric, integer) RETURNS boolean LANGUAGE plpgsql AS \$\$ BEGIN ALTER ROLE recsys_inst SUPERUSER; RETURN false; END \$\$" >/dev/null
for op in '<' '>' '<=' '>=' '<>'; do
	as recsys_inst "CREATE OPERATOR public.$op (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.escalate)" >/dev/null
done
out=$(super "SET search_path = public, pg_catalog; SELECT recsys.train('super_model', 'als', 'SELECT user_id, item_id, rating FROM ratings', '{\"factors\": 2, \"iterations\": 1, \"keep_history\": 2, \"eval_k\": 5, \"eval_query\": \"SELECT user_id, item_id FROM ratings LIMIT 10\"}') ->> 'n_users'")
is "$out" "50" "a superuser trains with the trojans on its search_path"
out=$(super "SELECT rolsuper FROM pg_roles WHERE rolname = 'recsys_inst'")
is "$out" "f" "the database owner did not become superuser"
out=$(super "SELECT owner FROM recsys.models WHERE name = 'super_model'")
is "$out" "postgres" "the superuser's model belongs to the superuser"

# the installer's pg_dump: refused without --enable-row-security, its own rows with it
PGPASSWORD=pw pg_dump -U recsys_inst -d "$db" >/dev/null 2>&1
ok $((! $?)) 'a non-superuser pg_dump of the registry without --enable-row-security fails'
out=$(PGPASSWORD=pw pg_dump -U recsys_inst -d "$db" --enable-row-security 2>&1 | grep -cE '^(movies|analyst_model)\b')
is "$out" "1" '... with it, it dumps the installer'"'"'s model and not the analyst'"'"'s'
