#!/usr/bin/env bash
# Evaluation benchmark: recsys.evaluate over every test user of an 80/20 split of
# synthetic ratings (default 100,000 users x 5,000 items x 2,000,000 ratings, 32
# factors) plain and with the propensity and beyond_accuracy options, and
# recsys.evaluate_users, against recommend_all for the same users and k (the
# batched top-N they are built on), and against the hand-written SQL evaluation
# (recommend per user + array_agg + the metric functions) on a sample of users,
# scaled up.  Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${EVAL_USERS:-100000}
ITEMS=${EVAL_ITEMS:-5000}
RATINGS=${EVAL_RATINGS:-2000000}
FACTORS=${EVAL_FACTORS:-32}
SAMPLE=${EVAL_SQL_SAMPLE:-2000}
THREADS=$(nproc)
PSQL="psql -X -q -v ON_ERROR_STOP=1"

have=$($PSQL -At -c "SELECT count(*) FROM recsys.models WHERE name = 'bench_eval'
	AND (recsys.model_info(model) ->> 'n_users')::int = $USERS
	AND (recsys.model_info(model) ->> 'factors')::int = $FACTORS" 2>/dev/null || echo 0)
if [ "$have" != 1 ]; then
	echo "building the $USERS x $ITEMS x $FACTORS model ..." >&2
	$PSQL -c "DROP TABLE IF EXISTS eval_ratings" \
		-c "CREATE UNLOGGED TABLE eval_ratings AS
			SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $RATINGS, seed => 2)" \
		-c "CREATE UNLOGGED TABLE eval_test_new AS
			SELECT user_id, item_id, rating FROM eval_ratings WHERE recsys.fold(user_id, item_id, 5) = 0" \
		-c "DROP TABLE IF EXISTS eval_test" -c "ALTER TABLE eval_test_new RENAME TO eval_test" \
		-c "ANALYZE eval_ratings, eval_test"
	nice $PSQL -c "DELETE FROM recsys.model_history WHERE name = 'bench_eval'" \
		-c "DELETE FROM recsys.models WHERE name = 'bench_eval'" \
		-c "SELECT recsys.train('bench_eval', 'als',
			'SELECT user_id, item_id, rating FROM eval_ratings WHERE recsys.fold(user_id, item_id, 5) <> 0',
			'{\"factors\": $FACTORS, \"iterations\": 3}')" >/dev/null
fi

# one backend: load the model, then time each path with clock_timestamp()
$PSQL -At -F ' ' >bench/out/evaluate.txt <<SQL
SELECT count(*) FROM recsys.recommend('bench_eval', 1, 1);
CREATE TEMP TABLE users AS SELECT array_agg(DISTINCT user_id) AS u FROM eval_test;
CREATE TEMP TABLE sample AS SELECT user_id, array_agg(item_id) AS rel FROM eval_test
	WHERE user_id <= $SAMPLE GROUP BY user_id;

CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;
CREATE TEMP TABLE e AS SELECT recsys.evaluate('bench_eval', 'SELECT user_id, item_id FROM eval_test', 10) AS e;
SELECT 'evaluate', extract(epoch FROM clock_timestamp() - t0), (SELECT e ->> 'users' FROM e),
	   (SELECT e ->> 'test_rows' FROM e) FROM t;

UPDATE t SET t0 = clock_timestamp();
CREATE TEMP TABLE e2 AS SELECT recsys.evaluate('bench_eval', 'SELECT user_id, item_id FROM eval_test', 10,
	'{"propensity": "popularity", "beyond_accuracy": true}') AS e;
SELECT 'evaluate_all_options', extract(epoch FROM clock_timestamp() - t0), (SELECT e ->> 'users' FROM e2) FROM t;

UPDATE t SET t0 = clock_timestamp();
CREATE TEMP TABLE eu AS SELECT count(*) AS n, avg(ndcg) AS ndcg
	FROM recsys.evaluate_users('bench_eval', 'SELECT user_id, item_id FROM eval_test', 10);
SELECT 'evaluate_users', extract(epoch FROM clock_timestamp() - t0), (SELECT n FROM eu) FROM t;

UPDATE t SET t0 = clock_timestamp();
CREATE TEMP TABLE ra AS
	SELECT count(*) AS n FROM recsys.recommend_all('bench_eval', 10, (SELECT u FROM users));
SELECT 'recommend_all', extract(epoch FROM clock_timestamp() - t0), (SELECT n FROM ra) FROM t;

UPDATE t SET t0 = clock_timestamp();
CREATE TEMP TABLE hand AS
	SELECT avg(recsys.ndcg_at_k(rec, rel, 10)) AS ndcg, count(*) AS n
	FROM (SELECT rel, (SELECT array_agg(item_id ORDER BY score DESC, item_id)
					   FROM recsys.recommend('bench_eval', s.user_id, 10)) AS rec
		  FROM sample s) x;
SELECT 'sql_by_hand', extract(epoch FROM clock_timestamp() - t0), (SELECT n FROM hand) FROM t;
SQL

awk -v U="$USERS" -v I="$ITEMS" -v K="$FACTORS" -v T="$THREADS" '
$1 == "evaluate" { ev = $2; users = $3; rows = $4 }
$1 == "evaluate_all_options" { eo = $2; eo_users = $3 }
$1 == "evaluate_users" { eu = $2; eu_users = $3 }
$1 == "recommend_all" { ra = $2; ra_rows = $3 }
$1 == "sql_by_hand" { sq = $2; sq_users = $3 }
END {
	printf "\nEvaluation: %d users x %d items x %d factors, k = 10, %d threads\n\n", U, I, K, T;
	print "| measure | seconds | users | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| recsys.evaluate (%d test rows) | %.2f | %d | %.2fx recommend_all |\n", rows, ev, users, ev / ra;
	printf "| recsys.evaluate with propensity and beyond_accuracy | %.2f | %d | %.2fx recommend_all |\n", eo, eo_users, eo / ra;
	printf "| recsys.evaluate_users, count and avg over its rows | %.2f | %d | %.2fx recommend_all |\n", eu, eu_users, eu / ra;
	printf "| recommend_all, same users, top 10 | %.2f | %d | 1.00x |\n", ra, ra_rows / 10;
	printf "| SQL by hand: recommend per user + ndcg_at_k, %d users | %.2f | %d | scaled to %d users: %.1f s = %.0fx evaluate |\n", sq_users, sq, sq_users, users, sq / sq_users * users, sq / sq_users * users / ev;
}' bench/out/evaluate.txt
