#!/usr/bin/env bash
# The study behind train_ials's defaults (issue 10): a grid over the implicit
# options on several shapes of planted implicit data, each setting trained on the
# 80% where recsys.fold(user_id, item_id, 5) <> 0 and scored by recsys.evaluate's
# NDCG@10 on the other 20% (seen items excluded), next to popularity (the most
# interacted training items the user has not seen) scored the same way.
#
# Shapes (recsys.synthetic_ratings, implicit, rank 16, seed 7):
#   binary  3000 users x 1500 items, 120k pairs, every weight 1 (a rating set used
#           as implicit feedback), user activity sigma 1
#   counts  3000 x 1500, 120k, geometric counts (synthetic_ratings' 0.1.0 implicit
#           data), user activity sigma 1
#   plays   4000 x 4000, 150k, Pareto counts of exponent 1 (max in the hundreds of
#           thousands, as real play counts), popularity exponent 1, activity 1
#   sparse  6000 x 12000, 150k, Pareto counts of exponent 0.8, popularity exponent
#           1.2, activity sigma 1.5 (a long catalogue, few very active users)
# Prints one markdown table per shape (setting -> NDCG@10, seconds) with the
# popularity row and the defaults' row, then a summary: each shape's best, the
# defaults' share of it.  Sizes are fixed so the numbers repeat; about 5 minutes
# on 2 cores.  DEFAULTS_BENCH_QUICK=1 runs a reduced grid.  Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
"${PSQL[@]}" -c 'CREATE EXTENSION IF NOT EXISTS recsys' >/dev/null

SHAPES=(binary counts plays sparse)
declare -A GEN=(
	[binary]="SELECT user_id, item_id, 1::real FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)"
	[counts]="SELECT * FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)"
	[plays]="SELECT * FROM recsys.synthetic_ratings(4000, 4000, 150000, rank => 16, seed => 7, implicit => true, user_activity => 1, count_exponent => 1)"
	[sparse]="SELECT * FROM recsys.synthetic_ratings(6000, 12000, 150000, rank => 16, seed => 7, implicit => true, popularity_exponent => 1.2, user_activity => 1.5, count_exponent => 0.8)"
)

# the grid: log confidence x alpha x regularisation form x lambda (a first, coarser
# grid over linear and log confidence, alpha 0.1..10, lambda 0.001..100 and
# exponents 0, 0.5, 1 found log confidence ahead on every shape and every
# regularisation collapsing to popularity past a threshold: this grid is the
# neighbourhood of the best), then 0.1.0's defaults and README's old examples
SETTINGS=()
for alpha in 3 10 30; do
	for reg in '"regularization_exponent":1,"regularization":0.01' '"regularization_exponent":1,"regularization":0.02' \
		'"regularization_exponent":1,"regularization":0.03' '"regularization_exponent":1,"regularization":0.05' \
		'"regularization_exponent":0.5,"regularization":1' '"regularization_exponent":0.5,"regularization":1.5' \
		'"regularization_exponent":0.5,"regularization":2' '"regularization_exponent":0.5,"regularization":2.5' \
		'"regularization_exponent":0,"regularization":30' '"regularization_exponent":0,"regularization":100' \
		'"regularization_exponent":0,"regularization":300'; do
		SETTINGS+=("{\"confidence\":\"log\",\"alpha\":$alpha,$reg}")
	done
done
# finer around the two best regions of the grid above
for alpha in 5 20; do
	for reg in '"regularization_exponent":0.5,"regularization":1.5' '"regularization_exponent":0.5,"regularization":2' \
		'"regularization_exponent":0.5,"regularization":2.5' '"regularization_exponent":1,"regularization":0.03'; do
		SETTINGS+=("{\"confidence\":\"log\",\"alpha\":$alpha,$reg}")
	done
done
SETTINGS+=('{"confidence":"log","alpha":10,"regularization_exponent":0.5,"regularization":1.75}'
	'{"confidence":"log","alpha":10,"regularization_exponent":0.5,"regularization":2.25}'
	'{"confidence":"log","alpha":10,"regularization_exponent":1,"regularization":0.025}'
	'{"confidence":"log","alpha":10,"regularization_exponent":1,"regularization":0.04}')
SETTINGS+=('{"confidence":"linear","alpha":10,"regularization_exponent":0,"regularization":0.1,"cg_steps":3,"cg_tolerance":0}'
	'{"confidence":"linear","alpha":1,"regularization_exponent":0,"regularization":10}'
	'{"confidence":"linear","alpha":40,"regularization_exponent":0,"regularization":0.1}')
if [ -n "${DEFAULTS_BENCH_QUICK:-}" ]; then
	SETTINGS=('{"confidence":"linear","alpha":1,"regularization_exponent":0,"regularization":10}'
		'{"confidence":"log","alpha":3,"regularization_exponent":1,"regularization":0.01}')
fi
SETTINGS+=('{}')	# the defaults

ndcg() {	# shape, options -> "ndcg seconds"
	"${PSQL[@]}" <<-SQL
	SET max_parallel_workers_per_gather = 0;
	SELECT round(((recsys.evaluate(m, 'SELECT user_id, item_id FROM study_$1_test', 10)) ->> 'ndcg@10')::numeric, 4)
		|| ' ' || round((recsys.model_info(m) ->> 'train_seconds')::numeric, 2)
	FROM (SELECT recsys.train_ials(user_id, item_id, weight, '$2'::jsonb) AS m FROM study_$1_train) t;
	SQL
}

declare -A BEST BEST_SETTING DEFAULT POP
for shape in "${SHAPES[@]}"; do
	"${PSQL[@]}" <<-SQL >/dev/null
	DROP TABLE IF EXISTS study_${shape}, study_${shape}_train, study_${shape}_test;
	CREATE TABLE study_${shape} AS SELECT t.* FROM (${GEN[$shape]}) AS t(user_id, item_id, weight);
	CREATE TABLE study_${shape}_train AS SELECT * FROM study_${shape} WHERE recsys.fold(user_id, item_id, 5) <> 0;
	CREATE TABLE study_${shape}_test AS SELECT * FROM study_${shape} WHERE recsys.fold(user_id, item_id, 5) = 0;
	CREATE INDEX ON study_${shape}_train (user_id, item_id);
	ANALYZE study_${shape}_train, study_${shape}_test;
	SQL
	desc=$("${PSQL[@]}" -c "SELECT format('%s users, %s items, %s pairs; weights median %s, p99 %s, max %s', count(DISTINCT user_id), count(DISTINCT item_id), count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY weight), percentile_disc(0.99) WITHIN GROUP (ORDER BY weight), max(weight)) FROM study_${shape}")
	# popularity: the 10 most interacted training items the user has not seen
	pop=$("${PSQL[@]}" <<-SQL
	WITH popular AS (SELECT item_id, count(*) AS n FROM study_${shape}_train GROUP BY item_id),
	relevant AS (SELECT user_id, array_agg(item_id) AS items FROM study_${shape}_test
				 WHERE user_id IN (SELECT user_id FROM study_${shape}_train) GROUP BY user_id)
	SELECT round(avg(recsys.ndcg_at_k(top.items, r.items, 10))::numeric, 4)
	FROM relevant r, LATERAL (
		SELECT array_agg(item_id ORDER BY n DESC, item_id) AS items FROM (
			SELECT p.item_id, p.n FROM popular p
			WHERE NOT EXISTS (SELECT 1 FROM study_${shape}_train t WHERE t.user_id = r.user_id AND t.item_id = p.item_id)
			ORDER BY p.n DESC, p.item_id LIMIT 10) s) top;
	SQL
	)
	POP[$shape]=$pop
	echo
	echo "### $shape: $desc"
	echo
	echo "| setting | NDCG@10 | train s |"
	echo "| --- | ---: | ---: |"
	echo "| popularity | $pop | |"
	BEST[$shape]=0
	for s in "${SETTINGS[@]}"; do
		read -r n secs <<<"$(ndcg "$shape" "$s")"
		label=$s
		[ "$s" = '{}' ] && { label='**defaults**'; DEFAULT[$shape]=$n; }
		echo "| \`$label\` | $n | $secs |"
		if [ "$s" != '{}' ] && awk -v a="$n" -v b="${BEST[$shape]}" 'BEGIN{exit !(a > b)}'; then
			BEST[$shape]=$n
			BEST_SETTING[$shape]=$s
		fi
	done
done

echo
echo "### Summary: the defaults against each shape's best"
echo
echo "| shape | popularity | best of the grid | best setting | defaults | defaults / best |"
echo "| --- | ---: | ---: | --- | ---: | ---: |"
for shape in "${SHAPES[@]}"; do
	ratio=$(awk -v a="${DEFAULT[$shape]}" -v b="${BEST[$shape]}" 'BEGIN{printf "%.3f", a / b}')
	echo "| $shape | ${POP[$shape]} | ${BEST[$shape]} | \`${BEST_SETTING[$shape]}\` | ${DEFAULT[$shape]} | $ratio |"
done
echo
echo "defaults: $("${PSQL[@]}" -c "SELECT recsys.model_info(recsys.train_ials(1, 1, 1::real)) -> 'options'")"
