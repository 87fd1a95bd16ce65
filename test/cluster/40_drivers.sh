#!/usr/bin/env bash
# What a driver sends: every parameter untyped ($1, $2, $3 with type 0), as
# node-postgres, psycopg's default mode and pgbench -M extended/prepared do.  Since
# 0.2.0 recommend has one form per model argument (the vector form is
# recommend_by_vector), so recsys.recommend($1, $2, $3) resolves instead of failing
# with 42725 "function is not unique".
set -u
. "$(dirname "$0")/tap.bash"
plan 7

db=recsys_drivers_$$
q -d postgres "CREATE DATABASE $db" >/dev/null
dir=$(mktemp -d /tmp/recsys-drivers.XXXXXX)
cleanup() {
	q -d postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

q -d "$db" "CREATE EXTENSION recsys" >/dev/null
q -d "$db" "INSERT INTO recsys.models(name, model)
	SELECT 'drv', recsys.train_als(user_id, item_id, rating, '{\"factors\": 4, \"iterations\": 3}')
	FROM recsys.synthetic_ratings(50, 40, 600, seed => 4)" >/dev/null

out=$(q -d "$db" "SELECT count(*) FROM pg_proc WHERE proname = 'recommend'
	AND pronamespace = 'recsys'::regnamespace")
is "$out" "2" "recommend has one form by value and one by name"

# all three arguments as pgbench variables: in extended mode each is a parameter
cat >"$dir/recommend.sql" <<'SQL'
\set uid random(1, 60)
SELECT item_id, score, rank FROM recsys.recommend(:model, :uid, :n);
SQL
for mode in extended prepared; do
	out=$(pgbench -n -M $mode -c 2 -j 2 -t 200 -D model=drv -D n=5 -f "$dir/recommend.sql" "$db" 2>&1)
	ok $? "pgbench -M $mode over recommend(\$1, \$2, \$3) with untyped parameters runs"
	like "$out" "number of transactions actually processed: 400/400" "... and every call succeeds (-M $mode)"
done

# PREPARE with unknown parameter types, as a driver's Parse message does
out=$(q -d "$db" "PREPARE r(unknown, unknown, unknown) AS SELECT count(*) FROM recsys.recommend(\$1, \$2, \$3);
	EXECUTE r('drv', 7, 4)")
is "$out" "4" "PREPARE (unknown, unknown, unknown) over recommend resolves and returns n rows"

out=$(q -d "$db" "PREPARE v(unknown, unknown, unknown) AS SELECT count(*) FROM recsys.recommend_by_vector(\$1, \$2, \$3);
	EXECUTE v('drv', '[0.5, 1, -1, 2]', 3)")
is "$out" "3" "recommend_by_vector takes an untyped vector parameter"
exit $((tap_failed > 0))
