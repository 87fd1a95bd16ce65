#!/usr/bin/env bash
# Hyperparameter search benchmark: on synthetic implicit feedback (default 3,000
# users x 1,500 items x 150,000 clicks) and synthetic ratings of the same shape,
# a held-out fifth of the pairs is the test set.  Each algorithm is trained with
# its defaults on the rest and measured on the test set; then recsys.tune runs a
# 30-trial random search on the same rows (splitting them again for its own
# validation) and the model it registers is measured on the same test set.
# Prints the metrics, the ratio tuned / best default, and the search's time as a
# multiple of one default training.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${TUNE_USERS:-3000}
ITEMS=${TUNE_ITEMS:-1500}
ROWS=${TUNE_ROWS:-150000}
TRIALS=${TUNE_TRIALS:-30}
PSQL="psql -X -q -v ON_ERROR_STOP=1"

$PSQL -At -F ' ' >bench/out/tune.txt 2>bench/out/tune.notices <<SQL
DROP TABLE IF EXISTS tune_clicks, tune_ratings;
CREATE UNLOGGED TABLE tune_clicks AS
	SELECT user_id, item_id, 1 AS clicks
	FROM recsys.synthetic_ratings($USERS, $ITEMS, $ROWS, seed => 5, implicit => true);
CREATE UNLOGGED TABLE tune_ratings AS
	SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $ROWS, rank => 6, seed => 5);
DELETE FROM recsys.tuning_trials WHERE name LIKE 'bench_tune%';
DELETE FROM recsys.model_history WHERE name LIKE 'bench_tune%';
DELETE FROM recsys.models WHERE name LIKE 'bench_tune%';
CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;

-- defaults, implicit: every algorithm with a default search space
CREATE TEMP TABLE trained AS
	SELECT a, recsys.train('bench_tune_' || a, a,
		'SELECT user_id, item_id, clicks FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) <> 0') AS info
	FROM unnest(ARRAY['ials', 'knn', 'ease']) a;
UPDATE t SET t0 = clock_timestamp();
CREATE TEMP TABLE one AS SELECT recsys.train_ials(user_id, item_id, clicks) AS m FROM tune_clicks
	WHERE recsys.fold(user_id, item_id, 5) <> 0;
SELECT 'default_ials_seconds', 1, extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'default', a, recsys.evaluate('bench_tune_' || a,
	'SELECT user_id, item_id FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'ndcg@10'
FROM unnest(ARRAY['ials', 'knn', 'ease']) a;

-- the search, implicit
UPDATE t SET t0 = clock_timestamp();
SELECT 'tune_seconds', recsys.tune('bench_tune',
	'SELECT user_id, item_id, clicks FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) <> 0',
	'{"trials": $TRIALS, "metric": "ndcg@10", "seed": 1}') ->> 'algorithm',
	extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'tuned', recsys.model_info('bench_tune') ->> 'algorithm',
	recsys.evaluate('bench_tune', 'SELECT user_id, item_id FROM tune_clicks WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'ndcg@10';

-- explicit: als defaults against an rmse search
UPDATE t SET t0 = clock_timestamp();
SELECT 'default_als', recsys.train('bench_tune_als', 'als',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) <> 0') IS NOT NULL,
	extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'default_rmse', recsys.evaluate('bench_tune_als',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'rmse';
UPDATE t SET t0 = clock_timestamp();
SELECT 'tune_als_seconds', recsys.tune('bench_tune_rmse',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) <> 0',
	'{"trials": $TRIALS, "metric": "rmse", "seed": 1}') ->> 'factors',
	extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'tuned_rmse', recsys.evaluate('bench_tune_rmse',
	'SELECT user_id, item_id, rating FROM tune_ratings WHERE recsys.fold(user_id, item_id, 5) = 0', 10) ->> 'rmse';
SQL

awk -v U="$USERS" -v I="$ITEMS" -v R="$ROWS" -v N="$TRIALS" '
$1 == "default" && NF == 3 { d[$2] = $3; if ($3 > best) { best = $3; besta = $2 } }
$1 == "default_ials_seconds" { dsec = $3 }
$1 == "tune_seconds" { talg = $2; tsec = $3 }
$1 == "tuned" { tuned = $3; talg = $2 }
$1 == "default_als" { asec = $3 }
$1 == "default_rmse" { drmse = $2 }
$1 == "tune_als_seconds" { tfac = $2; tasec = $3 }
$1 == "tuned_rmse" { trmse = $2 }
END {
	printf "\nHyperparameter search: %d users x %d items x %d rows, %d-trial random search, test = a held-out fifth\n\n", U, I, R, N;
	print "| measure | defaults | tuned | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| implicit ndcg@10 on the test set (ials / knn / ease defaults: %.4f / %.4f / %.4f) | %.4f (%s) | %.4f (%s) | %.2fx |\n", d["ials"], d["knn"], d["ease"], best, besta, tuned, talg, tuned / best;
	printf "| implicit search time, s | %.2f (one default ials training) | %.1f | %.0fx |\n", dsec, tsec, tsec / dsec;
	printf "| explicit rmse on the test set (als) | %.4f | %.4f (factors %s) | %.2fx |\n", drmse, trmse, tfac, trmse / drmse;
	printf "| explicit search time, s | %.2f (one default als training) | %.1f | %.0fx |\n", asec, tasec, tasec / asec;
}' bench/out/tune.txt
