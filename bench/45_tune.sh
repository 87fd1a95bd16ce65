#!/usr/bin/env bash
# Hyperparameter search benchmark.  Two implicit shapes (default 3,000 users x 1,500
# items x 150,000 clicks, and a sparse 2,000 x 1,000 x 12,000) and explicit ratings of
# the first shape; in each a held-out fifth of the pairs is the test set.  Every
# algorithm is trained with its defaults on the rest and measured on the test set;
# then recsys.tune runs a 30-trial random search on the same rows (splitting them
# again for its own validation) and the model it registers is measured on the same
# test set.  Prints the metrics, the ratio tuned / best default, and the search's
# time as a multiple of one default training.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${TUNE_USERS:-3000}
ITEMS=${TUNE_ITEMS:-1500}
ROWS=${TUNE_ROWS:-150000}
TRIALS=${TUNE_TRIALS:-30}
PSQL="psql -X -q -v ON_ERROR_STOP=1"
: >bench/out/tune.txt
: >bench/out/tune.notices

# implicit: shape label, users, items, rows
implicit() {
	$PSQL -At -F ' ' >>bench/out/tune.txt 2>>bench/out/tune.notices <<SQL
DROP TABLE IF EXISTS tune_clicks;
CREATE UNLOGGED TABLE tune_clicks AS
	SELECT user_id, item_id, 1 AS clicks
	FROM recsys.synthetic_ratings($2, $3, $4, rank => 4, seed => 5, implicit => true);
DELETE FROM recsys.tuning_trials WHERE name LIKE 'bench_tune%';
DELETE FROM recsys.model_history WHERE name LIKE 'bench_tune%';
DELETE FROM recsys.models WHERE name LIKE 'bench_tune%';
CREATE TEMP TABLE trained AS
	SELECT a, recsys.train('bench_tune_' || a, a,
		'SELECT user_id, item_id, clicks FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) <> 0') AS info
	FROM unnest(ARRAY['ials', 'knn', 'ease']) a;
CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;
CREATE TEMP TABLE one AS SELECT recsys.train_ials(user_id, item_id, clicks) AS m FROM tune_clicks
	WHERE recsys.fold(user_id, item_id, 5) <> 0;
SELECT '$1', 'default_seconds', extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT '$1', 'default_' || a, recsys.evaluate('bench_tune_' || a,
	'SELECT user_id, item_id FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'ndcg@10'
FROM unnest(ARRAY['ials', 'knn', 'ease']) a;
UPDATE t SET t0 = clock_timestamp();
CREATE TEMP TABLE tuned AS SELECT recsys.tune('bench_tune',
	'SELECT user_id, item_id, clicks FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) <> 0',
	'{"trials": $TRIALS, "metric": "ndcg@10", "seed": 1}') AS info;
SELECT '$1', 'tune_seconds', extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT '$1', 'tuned', recsys.evaluate('bench_tune',
	'SELECT user_id, item_id FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'ndcg@10';
SELECT '$1', 'tuned_config', algorithm || replace(options::text, ' ', '')
FROM recsys.tuning_trials WHERE name = 'bench_tune' AND best;
SQL
}
implicit dense "$USERS" "$ITEMS" "$ROWS"
implicit sparse 2000 1000 12000

# explicit: als defaults against an rmse search
$PSQL -At -F ' ' >>bench/out/tune.txt 2>>bench/out/tune.notices <<SQL
DROP TABLE IF EXISTS tune_ratings;
CREATE UNLOGGED TABLE tune_ratings AS
	SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $ROWS, rank => 6, seed => 5);
DELETE FROM recsys.tuning_trials WHERE name LIKE 'bench_tune%';
DELETE FROM recsys.model_history WHERE name LIKE 'bench_tune%';
DELETE FROM recsys.models WHERE name LIKE 'bench_tune%';
CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;
CREATE TEMP TABLE d AS SELECT recsys.train('bench_tune_als', 'als',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) <> 0') AS info;
SELECT 'explicit', 'default_seconds', extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'explicit', 'default_als', recsys.evaluate('bench_tune_als',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'rmse';
UPDATE t SET t0 = clock_timestamp();
CREATE TEMP TABLE tuned AS SELECT recsys.tune('bench_tune',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) <> 0',
	'{"trials": $TRIALS, "metric": "rmse", "seed": 1}') AS info;
SELECT 'explicit', 'tune_seconds', extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'explicit', 'tuned', recsys.evaluate('bench_tune',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'rmse';
SELECT 'explicit', 'tuned_config', algorithm || replace(options::text, ' ', '')
FROM recsys.tuning_trials WHERE name = 'bench_tune' AND best;
SQL

awk -v U="$USERS" -v I="$ITEMS" -v R="$ROWS" -v N="$TRIALS" '
{ v[$1, $2] = $3 }
function best_default(s,   b, a, x) {
	b = -1;
	split("ials knn ease", a, " ");
	for (x = 1; x <= 3; x++) if (v[s, "default_" a[x]] > b) { b = v[s, "default_" a[x]]; bestalg = a[x] }
	return b;
}
END {
	printf "\nHyperparameter search: %d-trial random search (seed 1), test set a held-out fifth the search never sees\n\n", N;
	print "| data | metric on the test set: defaults (ials / knn / ease or als) | tuned (configuration) | tuned / best default | search s | search / one default training |";
	print "| --- | --- | --- | ---: | ---: | ---: |";
	split("dense sparse", shapes, " ");
	label["dense"] = sprintf("implicit %d x %d x %d", U, I, R);
	label["sparse"] = "implicit 2000 x 1000 x 12000";
	for (i = 1; i <= 2; i++) {
		s = shapes[i]; b = best_default(s);
		printf "| %s | nDCG@10 %.4f / %.4f / %.4f | %.4f (%s) | %.2fx (%.2fx ials defaults) | %.1f | %.0fx |\n", label[s],
			v[s, "default_ials"], v[s, "default_knn"], v[s, "default_ease"], v[s, "tuned"], v[s, "tuned_config"],
			v[s, "tuned"] / b, v[s, "tuned"] / v[s, "default_ials"], v[s, "tune_seconds"], v[s, "tune_seconds"] / v[s, "default_seconds"];
	}
	printf "| explicit %d x %d x %d, rank 6 | RMSE %.4f | %.4f (%s) | %.2fx | %.1f | %.0fx |\n", U, I, R,
		v["explicit", "default_als"], v["explicit", "tuned"], v["explicit", "tuned_config"],
		v["explicit", "tuned"] / v["explicit", "default_als"], v["explicit", "tune_seconds"],
		v["explicit", "tune_seconds"] / v["explicit", "default_seconds"];
}' bench/out/tune.txt
