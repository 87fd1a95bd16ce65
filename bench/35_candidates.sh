#!/usr/bin/env bash
# Candidate lists: recommend with a 3,600-id candidate list against the unfiltered
# call on the same 4,000-item model (64 factors), both by name through prepared
# statements on one connection.  Scoring c candidates costs c dot products plus
# the list's handling (one look-up per id, no sort), so the ratio should stay near
# 1 (target <= 1.2x).  The list is a constant of the prepared statement, as an
# application's bound array parameter would be, so its text is parsed once.
# Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/candidates
mkdir -p "$out"
rm -f "$out"/lat_*

USERS=${CAND_USERS:-20000}
ITEMS=${CAND_ITEMS:-4000}
FACTORS=${CAND_FACTORS:-64}
CALLS=${CAND_CALLS:-5000}
PSQL="psql -X -q -v ON_ERROR_STOP=1"

have=$($PSQL -At -c "SELECT count(*) FROM recsys.models WHERE name = 'bench_cand'
	AND (recsys.model_info(model) ->> 'n_items')::int = $ITEMS
	AND (recsys.model_info(model) ->> 'factors')::int = $FACTORS")
if [ "$have" != 1 ]; then
	echo "building the $USERS x $ITEMS x $FACTORS model ..." >&2
	$PSQL -c "DELETE FROM recsys.models WHERE name = 'bench_cand'" \
		-c "INSERT INTO recsys.models (name, model)
			SELECT 'bench_cand', recsys.train_als(user_id, item_id, rating,
				'{\"factors\": $FACTORS, \"iterations\": 2}')
			FROM (SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $((USERS * 25)), seed => 2)
				  UNION ALL SELECT (i * 7919) % $USERS + 1, i, 3 FROM generate_series(1, $ITEMS) i) r"
fi
# 3,600 of the 4,000 items (every tenth left out), in a shuffled order
cand=$($PSQL -At -c "SELECT array_agg(i ORDER BY hashint8(i)) FROM generate_series(1, $ITEMS) i WHERE i % 10 <> 0")
ncand=$($PSQL -At -c "SELECT cardinality('$cand'::bigint[])")

cat >"$out/plain.sql" <<SQL
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_cand', :uid::bigint, 10);
SQL
cat >"$out/cand.sql" <<SQL
\\set uid random(1, $USERS)
SELECT * FROM recsys.recommend('bench_cand', :uid::bigint, 10, candidates => '$cand'::bigint[]);
SQL

percentiles() {
	cat "$@" | awk '{print $3}' | awk -v n="$(cat "$@" | wc -l)" 'NR > n * 0.05' | sort -n |
		awk '{a[NR] = $1} END {printf "%d %d\n", a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1]}'
}
latency() {
	pgbench -n -M prepared -c 1 -t "$CALLS" -f "$out/$1.sql" --log --log-prefix="$out/lat_$1" \
		>/dev/null 2>&1
	percentiles "$out"/lat_"$1".*
}
latency plain >/dev/null		# warm the cache and the CPU
rm -f "$out"/lat_*
read -r plain_p50 plain_p99 < <(latency plain)
read -r cand_p50 cand_p99 < <(latency cand)

awk -v pp50="$plain_p50" -v pp99="$plain_p99" -v cp50="$cand_p50" -v cp99="$cand_p99" \
	-v c="$ncand" -v U="$USERS" -v I="$ITEMS" -v K="$FACTORS" '
BEGIN {
	printf "\nCandidates: %d users x %d items x %d factors, top 10 by name\n\n", U, I, K;
	print "| measure | unfiltered | with candidates | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| p50 (us) | %d | %d (%d ids) | %.2fx (target <= 1.2x) |\n", pp50, cp50, c, cp50 / pp50;
	printf "| p99 (us) | %d | %d | %.2fx |\n", pp99, cp99, cp99 / pp99;
}'
