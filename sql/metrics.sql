-- Evaluation metrics.
-- Rating error: rmse and mae are aggregates over (predicted, actual) pairs.
-- Errors -1, 0, -2: rmse = sqrt(5/3), mae = 1; the pair with a NULL is skipped.
SELECT round(recsys.rmse(p, a)::numeric, 4) AS rmse, round(recsys.mae(p, a)::numeric, 4) AS mae
FROM (VALUES (1.0, 2.0), (2.0, 2.0), (3.0, 5.0), (NULL, 4.0)) v(p, a);
SELECT recsys.rmse(p, a) IS NULL AS no_rows_is_null
FROM (VALUES (1.0, 2.0)) v(p, a) WHERE false;

-- Ranking metrics compare one user's recommendations (best first) with the items
-- that user actually liked.  Here items 2 and 5 of the top 5 are relevant, and a
-- third relevant item (9) was not recommended.
SELECT k,
       recsys.precision_at_k('{1,2,3,4,5}', '{2,5,9}', k) AS precision,
       round(recsys.recall_at_k('{1,2,3,4,5}', '{2,5,9}', k)::numeric, 4) AS recall,
       round(recsys.ndcg_at_k('{1,2,3,4,5}', '{2,5,9}', k)::numeric, 4) AS ndcg,
       round(recsys.average_precision_at_k('{1,2,3,4,5}', '{2,5,9}', k)::numeric, 4) AS ap,
       recsys.hit_rate_at_k('{1,2,3,4,5}', '{2,5,9}', k) AS hit
FROM generate_series(1, 5) k;

-- Repeated recommendations count once (at their first position); NULLs are ignored.
SELECT recsys.precision_at_k('{3,3,3,4}', '{3,4}', 2) AS repeats,
       recsys.precision_at_k('{NULL,5,NULL,6}', '{6}', 2) AS nulls;
-- Fewer than k recommendations: the missing positions are misses.
SELECT recsys.precision_at_k('{7}', '{7,8}', 10) AS precision, recsys.recall_at_k('{7}', '{7,8}', 10) AS recall;
-- Nothing relevant: every ranking metric is NULL, so avg() over users skips that user.
SELECT recsys.ndcg_at_k('{1,2}', '{}', 2) IS NULL AS ndcg_is_null,
       avg(recsys.recall_at_k(rec, rel, 2)) AS avg_recall
FROM (VALUES ('{1}'::bigint[], '{1}'::bigint[]), ('{1}', '{}')) v(rec, rel);

-- Typical use: one row per user with both lists, averaged.
SELECT round(avg(recsys.precision_at_k(rec, rel, 3))::numeric, 4) AS "precision@3",
       round(avg(recsys.ndcg_at_k(rec, rel, 3))::numeric, 4) AS "ndcg@3",
       round(avg(recsys.average_precision_at_k(rec, rel, 3))::numeric, 4) AS "map@3"
FROM (VALUES (1, '{10,11,12}'::bigint[], '{11}'::bigint[]),
             (2, '{10,13,14}', '{10,14,15}'),
             (3, '{12,10,11}', '{16}')) users(user_id, rec, rel);

-- k must be positive.
SELECT recsys.ndcg_at_k('{1}', '{1}', 0);
