#!/usr/bin/env bash
# Content-based and hybrid models against baselines measured in the same run:
#  - dense features: CT_ITEMS items (default 100,000) with CT_DIM-dimensional features
#    (default 384, the size of common sentence embeddings; recsys.synthetic_item_features)
#    and CT_INTERACTIONS implicit interactions (default 5,000,000) of CT_USERS users:
#    train_content and train_hybrid against train_ials (same factors and iterations as
#    the hybrid's ALS) on the same interactions; recommend top-10 p50 of each against
#    the iALS model's;
#  - text: CT_TEXTS short texts (default 100,000; 8 words drawn from 5,000): TF-IDF
#    training (train_content over tsvector, with the same interactions) against
#    SELECT count(*) FROM (SELECT unnest(tsv) ...) over the same tsvectors, and its
#    recommend top-10 p50.
# The catalogue enters as rows with a NULL user (its features once per item) and the
# interactions as rows with NULL features, the form the README recommends.  Prints
# markdown; asserts nothing.  Every size is a variable (full size by default).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out/content
mkdir -p "$out"
rm -f "$out"/lat_*

ITEMS=${CT_ITEMS:-100000}
DIM=${CT_DIM:-384}
USERS=${CT_USERS:-100000}
INTERACTIONS=${CT_INTERACTIONS:-5000000}
TEXTS=${CT_TEXTS:-100000}
FACTORS=${CT_FACTORS:-64}
ITERS=${CT_ITERATIONS:-5}
CALLS=${CT_CALLS:-1000}
THREADS=${CT_THREADS:-2}
CACHE_MB=${CT_CACHE_MB:-2048}	# a 384-dim content model of 100,000 users and items is ~350 MB
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
SERIAL=(-c 'SET max_parallel_workers_per_gather = 0' -c "SET recsys.threads = $THREADS")
"${PSQL[@]}" -c 'CREATE EXTENSION IF NOT EXISTS recsys'

# the OpenBLAS kernel the backend picks (the ridge map and iALS use it): the core
# OpenBLAS chooses under the postmaster's OPENBLAS_CORETYPE (unset: detected)
BLAS_LIBS=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
printf '#include <stdio.h>\nextern char *openblas_get_corename(void);\nint main(void) { puts(openblas_get_corename()); return 0; }\n' >"$out/corename.c"
gcc -O2 -o "$out/corename" "$out/corename.c" $BLAS_LIBS
coretype=$("${PSQL[@]}" -At -c "SELECT coalesce(substring(encode(pg_read_binary_file(
	'/proc/' || split_part(pg_read_file('postmaster.pid'), E'\n', 1) || '/environ'), 'escape')
	FROM 'OPENBLAS_CORETYPE=([A-Za-z0-9_]*)'), 'unset')" 2>/dev/null || echo unknown)
case "$coretype" in
unset) core="$(env -u OPENBLAS_CORETYPE "$out/corename") (detected; postmaster OPENBLAS_CORETYPE unset)" ;;
unknown) core="$("$out/corename") (the shell's; the postmaster's environment was not readable)" ;;
*) core="$(env OPENBLAS_CORETYPE="$coretype" "$out/corename") (postmaster OPENBLAS_CORETYPE=$coretype)" ;;
esac

echo "Generating $INTERACTIONS interactions, $ITEMS x $DIM features, $TEXTS texts..." >&2
"${PSQL[@]}" "${SERIAL[@]}" -c "SET client_min_messages = warning" \
	-c "DROP TABLE IF EXISTS ct_rows, ct_items, ct_texts" \
	-c "CREATE UNLOGGED TABLE ct_rows AS SELECT * FROM recsys.synthetic_ratings($USERS, $ITEMS, $INTERACTIONS, 8, 0.5, 42, true)" \
	-c "CREATE UNLOGGED TABLE ct_items AS SELECT * FROM recsys.synthetic_item_features($ITEMS, $DIM, 8, 0.5, 42)" \
	-c "CREATE UNLOGGED TABLE ct_texts AS SELECT i AS item_id, to_tsvector('simple', string_agg('w' || ((hashint8(i * 16 + k) & 2147483647) % 5000), ' ')) AS tsv
		FROM generate_series(1, $TEXTS) i, generate_series(1, 8) k GROUP BY i" \
	-c "VACUUM ANALYZE ct_rows" -c "VACUUM ANALYZE ct_items" -c "VACUUM ANALYZE ct_texts"

# One session per training: wall seconds and model_info
train() {
	local name=$1 select=$2
	"${PSQL[@]}" -At "${SERIAL[@]}" -f - 2>&1 <<SQL
CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;
DELETE FROM recsys.models WHERE name = '$name';
INSERT INTO recsys.models (name, model) $select;
SELECT 'wall ' || extract(epoch FROM clock_timestamp() - t0) FROM t;
SELECT 'info ' || recsys.model_info('$name')::text;
SQL
}
field() { sed -n "s/^$1 //p" | head -n 1; }
info_field() { grep '^info ' | sed -n "s/.*\"$1\": \"\{0,1\}\([0-9.e+-]*\).*/\1/p" | head -n 1; }
catalogue="SELECT NULL::bigint AS user_id, item_id, NULL::real AS rating, features FROM ct_items
	UNION ALL SELECT user_id, item_id, rating, NULL::recsys.vec FROM ct_rows"
opts="{\"factors\": $FACTORS, \"iterations\": $ITERS}"

echo "Training..." >&2
ials_out=$(train ct_ials "SELECT 'ct_ials', recsys.train_ials(user_id, item_id, rating, '$opts') FROM ct_rows")
content_out=$(train ct_content "SELECT 'ct_content', recsys.train_content(user_id, item_id, rating, features) FROM ($catalogue) s")
hybrid_out=$(train ct_hybrid "SELECT 'ct_hybrid', recsys.train_hybrid(user_id, item_id, rating, features, '$opts') FROM ($catalogue) s")
text_out=$(train ct_text "SELECT 'ct_text', recsys.train_content(user_id, item_id, rating, tsv) FROM (
	SELECT NULL::bigint AS user_id, item_id, NULL::real AS rating, tsv FROM ct_texts
	UNION ALL SELECT user_id, item_id, rating, NULL::tsvector FROM ct_rows WHERE item_id <= $TEXTS) s")
for m in ials content hybrid text; do
	eval "printf '%s\n' \"\$${m}_out\"" >"$out/train_$m.out"
done
unnest_s=$("${PSQL[@]}" -At "${SERIAL[@]}" -c "CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0" \
	-c "SELECT count(*) FROM (SELECT unnest(tsv) FROM ct_texts) s" \
	-c "SELECT extract(epoch FROM clock_timestamp() - t0) FROM t" | tail -n 1)

# recommend top 10 for random known users, prepared, one client
percentile50() {
	cat "$@" | awk '{print $3}' | awk -v n="$(cat "$@" | wc -l)" 'NR > n * 0.05' | sort -n |
		awk '{a[NR] = $1} END {printf "%d\n", a[int(NR * 0.5) + 1]}'
}
latency() {
	printf '\\set uid random(1, %d)\nSELECT * FROM recsys.recommend('"'"'%s'"'"', :uid::bigint, 10);\n' "$USERS" "$1" >"$out/$1.sql"
	PGOPTIONS="-c recsys.model_cache_mb=$CACHE_MB" \
		pgbench -n -M prepared -c 1 -t "$CALLS" -f "$out/$1.sql" --log --log-prefix="$out/lat_$1" \
		>"$out/pgbench_$1.out" 2>&1
	percentile50 "$out"/lat_"$1".*
}
echo "Serving latencies ($CALLS calls each)..." >&2
p_ials=$(latency ct_ials)
p_content=$(latency ct_content)
p_hybrid=$(latency ct_hybrid)
p_text=$(latency ct_text)

w() { echo "$1" | field wall; }
i() { echo "$1" | info_field "$2"; }
awk -v I="$ITEMS" -v D="$DIM" -v U="$USERS" -v N="$(i "$ials_out" n_interactions)" -v F="$FACTORS" -v IT="$ITERS" \
	-v T="$THREADS" -v core="$core" -v TX="$TEXTS" -v V="$(i "$text_out" vocabulary_size)" \
	-v wi="$(w "$ials_out")" -v wc="$(w "$content_out")" -v wh="$(w "$hybrid_out")" -v wt="$(w "$text_out")" \
	-v fi="$(i "$ials_out" train_seconds)" -v fc="$(i "$content_out" train_seconds)" \
	-v fh="$(i "$hybrid_out" train_seconds)" -v ft="$(i "$text_out" train_seconds)" \
	-v un="$unnest_s" -v pi="$p_ials" -v pc="$p_content" -v ph="$p_hybrid" -v pt="$p_text" -v calls="$CALLS" \
	-v bi="$(i "$ials_out" bytes)" -v bc="$(i "$content_out" bytes)" -v bh="$(i "$hybrid_out" bytes)" \
	-v bt="$(i "$text_out" bytes)" -v cache="$CACHE_MB" '
BEGIN {
	printf "\nContent and hybrid: %d items x %d-dim features, %d users, %d interactions; %d threads; OpenBLAS core %s\n\n", I, D, U, N, T, core;
	print "| measure | model | baseline | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| train_content, whole aggregate incl. feeding (s) | %.2f | %.2f (train_ials, %d factors, %d iterations) | %.2fx |\n", wc, wi, F, IT, wc / wi;
	printf "| train_content, fit only (s) | %.2f | %.2f | %.2fx |\n", fc, fi, fc / fi;
	printf "| train_hybrid, whole aggregate (s) | %.2f | %.2f | %.2fx |\n", wh, wi, wh / wi;
	printf "| train_hybrid, fit only (ALS + ridge map) (s) | %.2f | %.2f | %.2fx |\n", fh, fi, fh / fi;
	printf "| recommend top 10, content, p50 (us) | %d | %d (iALS) | %.2fx |\n", pc, pi, pc / pi;
	printf "| recommend top 10, hybrid, p50 (us) | %d | %d (iALS) | %.2fx |\n", ph, pi, ph / pi;
	printf "| model size, content / hybrid (MB) | %.0f / %.0f | %.0f (iALS) | %.1fx / %.1fx |\n", bc / 1048576, bh / 1048576, bi / 1048576, bc / bi, bh / bi;
	printf "\nText: %d tsvectors of 8 words from 5,000 (vocabulary %d)\n\n", TX, V;
	print "| measure | model | baseline | ratio |";
	print "| --- | ---: | ---: | ---: |";
	printf "| TF-IDF train_content, whole aggregate (s) | %.2f | %.3f (count of unnest(tsv)) | %.1fx |\n", wt, un, wt / un;
	printf "| TF-IDF fit only (s) | %.2f | %.3f | %.1fx |\n", ft, un, ft / un;
	printf "| recommend top 10, text, p50 (us) | %d | %d (iALS) | %.2fx |\n", pt, pi, pt / pi;
	printf "| model size, text (MB) | %.1f | | |\n", bt / 1048576;
	printf "\n(latencies through libpq, prepared, one client, %d calls, first 5%% dropped, recsys.model_cache_mb %d)\n", calls, cache;
}'
