#!/usr/bin/env bash
# The study behind train_ials's defaults: a grid over the implicit
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
#   small   1000 x 800, 25k, Pareto counts of exponent 1, activity 1
#   large   20000 x 6000, 600k, Pareto counts of exponent 1, popularity exponent 1,
#           activity 1
# The grid: train_ials with its confidence scale (alpha divided by the mean of
# ln(1 + w) over the training pairs, the default), alpha x regularisation form x
# lambda around the best region, then the same forms unscaled ("confidence_scale":
# 1, the best region of an earlier grid over linear and log confidence, alpha
# 0.1..30, lambda 0.001..300 and exponents 0, 0.5, 1, and that grid's best setting
# on each of the first four shapes) and 0.1.0's defaults and README's old examples; train_knn (item and user; neighbours 50/100/200,
# shrinkage 0/100, cosine/jaccard); train_ease (values binary/log/raw,
# regularization 100..2000, neighbours all or 200).
# Prints one markdown table per shape (algorithm, setting -> NDCG@10, its share of
# the best of its algorithm on that shape, seconds) with the popularity row and
# each algorithm's defaults' row, then a summary per algorithm: each shape's best,
# the defaults' share of it and the defaults against popularity.  Sizes are fixed
# so the numbers repeat; about 10 minutes on 2 idle cores.  DEFAULTS_BENCH_QUICK=1 runs
# a reduced grid.  Asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -At)
"${PSQL[@]}" -c 'CREATE EXTENSION IF NOT EXISTS recsys' >/dev/null

SHAPES=(binary counts plays sparse small large)
declare -A GEN=(
	[binary]="SELECT user_id, item_id, 1::real FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)"
	[counts]="SELECT * FROM recsys.synthetic_ratings(3000, 1500, 120000, rank => 16, seed => 7, implicit => true, user_activity => 1)"
	[plays]="SELECT * FROM recsys.synthetic_ratings(4000, 4000, 150000, rank => 16, seed => 7, implicit => true, user_activity => 1, count_exponent => 1)"
	[sparse]="SELECT * FROM recsys.synthetic_ratings(6000, 12000, 150000, rank => 16, seed => 7, implicit => true, popularity_exponent => 1.2, user_activity => 1.5, count_exponent => 0.8)"
	[small]="SELECT * FROM recsys.synthetic_ratings(1000, 800, 25000, rank => 16, seed => 7, implicit => true, user_activity => 1, count_exponent => 1)"
	[large]="SELECT * FROM recsys.synthetic_ratings(20000, 6000, 600000, rank => 16, seed => 7, implicit => true, user_activity => 1, popularity_exponent => 1, count_exponent => 1)"
)

SETTINGS=()
# train_ials, scaled confidence (the default "confidence_scale": 0)
for alpha in 10 15 20 25 30; do
	for reg in 1.5 2 2.25 2.5 3; do
		SETTINGS+=("ials {\"alpha\":$alpha,\"regularization\":$reg}")
	done
done
for alpha in 10 20; do
	for reg in '"regularization_exponent":0,"regularization":100' '"regularization_exponent":0,"regularization":200' \
		'"regularization_exponent":1,"regularization":0.02' '"regularization_exponent":1,"regularization":0.04'; do
		SETTINGS+=("ials {\"alpha\":$alpha,$reg}")
	done
done
# unscaled
for alpha in 3 10 30; do
	for reg in '"regularization":1.5' '"regularization":2' '"regularization":2.5' \
		'"regularization_exponent":1,"regularization":0.02' '"regularization_exponent":1,"regularization":0.03' \
		'"regularization_exponent":0,"regularization":30' '"regularization_exponent":0,"regularization":100'; do
		SETTINGS+=("ials {\"confidence_scale\":1,\"alpha\":$alpha,$reg}")
	done
done
# the best setting of each shape in the earlier grid (all unscaled)
SETTINGS+=('ials {"confidence_scale":1,"alpha":30,"regularization":2.5}'
	'ials {"confidence_scale":1,"alpha":5,"regularization":2}'
	'ials {"confidence_scale":1,"alpha":5,"regularization_exponent":1,"regularization":0.03}'
	'ials {"confidence_scale":1,"alpha":5,"regularization":1.5}')
SETTINGS+=('ials {"confidence":"linear","confidence_scale":1,"alpha":10,"regularization_exponent":0,"regularization":0.1,"cg_steps":3,"cg_tolerance":0}'
	'ials {"confidence":"linear","confidence_scale":1,"alpha":1,"regularization_exponent":0,"regularization":10}'
	'ials {"confidence":"linear","confidence_scale":1,"alpha":40,"regularization_exponent":0,"regularization":0.1}')
# the neighbourhood models
for kind in item user; do
	for k in 50 100 200; do
		for shrink in 0 100; do
			for sim in cosine jaccard; do
				SETTINGS+=("knn {\"kind\":\"$kind\",\"neighbours\":$k,\"shrinkage\":$shrink,\"similarity\":\"$sim\"}")
			done
		done
	done
done
for reg in 100 250 500 1000 2000; do
	SETTINGS+=("ease {\"values\":\"binary\",\"regularization\":$reg,\"neighbours\":200}")
done
for reg in 250 1000; do
	SETTINGS+=("ease {\"values\":\"binary\",\"regularization\":$reg,\"neighbours\":0}")
	SETTINGS+=("ease {\"values\":\"log\",\"regularization\":$reg,\"neighbours\":200}")
	SETTINGS+=("ease {\"values\":\"raw\",\"regularization\":$reg,\"neighbours\":200}")
done
if [ -n "${DEFAULTS_BENCH_QUICK:-}" ]; then
	SHAPES=(binary plays)
	SETTINGS=('ials {"confidence_scale":1,"confidence":"linear","alpha":1,"regularization_exponent":0,"regularization":10}'
		'ials {"alpha":10,"regularization":2}'
		'knn {"kind":"user","neighbours":50,"shrinkage":10,"similarity":"cosine"}'
		'ease {"regularization":50,"neighbours":200}')
fi
ALGORITHMS=(ials knn ease)
for alg in "${ALGORITHMS[@]}"; do
	SETTINGS+=("$alg {}")	# the defaults
done

ndcg() {	# shape, algorithm, options -> "ndcg seconds"
	# a setting the algorithm refuses (EASE keeping every weight of a long catalogue
	# is larger than a value can hold, raw values that are not positive definite in
	# float4) prints "error" and its message
	"${PSQL[@]}" 2>/tmp/60_defaults.$$.err <<-SQL || echo "error -"
	SET max_parallel_workers_per_gather = 0;
	SELECT round(((recsys.evaluate(m, 'SELECT user_id, item_id FROM study_$1_test', 10)) ->> 'ndcg@10')::numeric, 4)
		|| ' ' || round((recsys.model_info(m) ->> 'train_seconds')::numeric, 2)
	FROM (SELECT recsys.train_$2(user_id, item_id, weight, '$3'::jsonb) AS m FROM study_$1_train) t;
	SQL
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "error" || b == 0 || b == "") print "-"; else printf "%.3f", a / b}'; }

declare -A BEST BEST_SETTING DEFAULT POP DESC RESULT SECONDS_OF
for shape in "${SHAPES[@]}"; do
	"${PSQL[@]}" <<-SQL >/dev/null
	SET client_min_messages = warning;
	DROP TABLE IF EXISTS study_${shape}, study_${shape}_train, study_${shape}_test;
	CREATE TABLE study_${shape} AS SELECT t.* FROM (${GEN[$shape]}) AS t(user_id, item_id, weight);
	CREATE TABLE study_${shape}_train AS SELECT * FROM study_${shape} WHERE recsys.fold(user_id, item_id, 5) <> 0;
	CREATE TABLE study_${shape}_test AS SELECT * FROM study_${shape} WHERE recsys.fold(user_id, item_id, 5) = 0;
	CREATE INDEX ON study_${shape}_train (user_id, item_id);
	ANALYZE study_${shape}_train, study_${shape}_test;
	SQL
	DESC[$shape]=$("${PSQL[@]}" -c "SELECT format('%s users, %s items, %s pairs; weights median %s, p99 %s, max %s', count(DISTINCT user_id), count(DISTINCT item_id), count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY weight), percentile_disc(0.99) WITHIN GROUP (ORDER BY weight), max(weight)) FROM study_${shape}")
	# popularity: the 10 most interacted training items the user has not seen
	POP[$shape]=$("${PSQL[@]}" <<-SQL
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
	for alg in "${ALGORITHMS[@]}"; do BEST[$alg,$shape]=0; BEST_SETTING[$alg,$shape]=-; done
	for line in "${SETTINGS[@]}"; do
		alg=${line%% *} s=${line#* }
		read -r n secs <<<"$(ndcg "$shape" "$alg" "$s")"
		[ "$n" = error ] && secs="($(head -c 120 /tmp/60_defaults.$$.err | head -1 | tr '|' '/'))"
		RESULT[$shape,$line]=$n
		SECONDS_OF[$shape,$line]=$secs
		[ "$s" = '{}' ] && DEFAULT[$alg,$shape]=$n
		if [ "$s" != '{}' ] && [ "$n" != error ] && awk -v a="$n" -v b="${BEST[$alg,$shape]}" 'BEGIN{exit !(a > b)}'; then
			BEST[$alg,$shape]=$n
			BEST_SETTING[$alg,$shape]=$s
		fi
	done
done

for shape in "${SHAPES[@]}"; do
	echo
	echo "### $shape: ${DESC[$shape]}"
	echo
	echo "| algorithm | setting | NDCG@10 | / best of the algorithm | train s |"
	echo "| --- | --- | ---: | ---: | ---: |"
	echo "| popularity | | ${POP[$shape]} | | |"
	for line in "${SETTINGS[@]}"; do
		alg=${line%% *} s=${line#* }
		label="\`$s\`"
		[ "$s" = '{}' ] && label='**defaults**'
		n=${RESULT[$shape,$line]}
		echo "| $alg | $label | $n | $(ratio "$n" "${BEST[$alg,$shape]}") | ${SECONDS_OF[$shape,$line]} |"
	done
done

for alg in "${ALGORITHMS[@]}"; do
	echo
	echo "### Summary: train_$alg's defaults against each shape's best of its grid"
	echo
	echo "| shape | popularity | best of the grid | best setting | defaults | defaults / best | defaults / popularity |"
	echo "| --- | ---: | ---: | --- | ---: | ---: | ---: |"
	for shape in "${SHAPES[@]}"; do
		echo "| $shape | ${POP[$shape]} | ${BEST[$alg,$shape]} | \`${BEST_SETTING[$alg,$shape]}\` | ${DEFAULT[$alg,$shape]} | $(ratio "${DEFAULT[$alg,$shape]}" "${BEST[$alg,$shape]}") | $(ratio "${DEFAULT[$alg,$shape]}" "${POP[$shape]}") |"
	done
	echo
	echo "train_$alg defaults: $("${PSQL[@]}" -c "SELECT recsys.model_info(recsys.train_$alg(1, 1, 1::real)) -> 'options'")"
done
rm -f /tmp/60_defaults.$$.err
