-- Real-time updates (recsys.track): a click stored in the tracked table is in the
-- next by-name recommend, exactly as a fold-in (factor models) or a history score
-- (neighbourhood models) of the user's rows predicts; retrain drops the overlays;
-- untrack removes everything; a dropped model or table never breaks an insert;
-- a hostile role can neither read nor forge overlays nor run code as the owner.
BEGIN;
SELECT plan(41);

CREATE ROLE trk_alice;
CREATE ROLE trk_bob;
CREATE ROLE trk_carol;
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models, recsys.model_history
	TO trk_alice, trk_bob;
GRANT CREATE ON SCHEMA public TO trk_alice, trk_bob;

SET ROLE trk_alice;
CREATE TABLE public.trk_plays (user_id bigint, item_id integer, plays real);
INSERT INTO public.trk_plays
	SELECT user_id, item_id, rating FROM recsys.synthetic_ratings(80, 60, 1600, rank => 4,
		seed => 11, implicit => true);
CREATE INDEX ON public.trk_plays (user_id);
CREATE TABLE public.trk_clicks AS SELECT user_id, item_id::bigint AS item_id FROM public.trk_plays;
SELECT recsys.train('trk_ials', 'ials', 'SELECT user_id, item_id, plays FROM public.trk_plays',
					'{"factors": 4, "iterations": 4}') IS NOT NULL AS trained \gset
SELECT recsys.train('trk_knn', 'knn', 'SELECT user_id, item_id, 1 FROM public.trk_clicks',
					'{"neighbours": 20}') IS NOT NULL AS trained \gset
SELECT recsys.train('trk_als', 'als', 'SELECT user_id, item_id, plays FROM public.trk_plays',
					'{"factors": 4, "iterations": 4}') IS NOT NULL AS trained \gset

-- ------------------------------------------------------------ factor model
SELECT lives_ok($$SELECT recsys.track('trk_ials', 'public.trk_plays', 'user_id', 'item_id', 'plays')$$,
				'alice tracks her implicit model from the plays table');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.trk_plays'::regclass
		   AND NOT tgisinternal), 1::bigint, 'track installs one trigger');
SELECT throws_ok($$SELECT recsys.track('trk_ials', 'public.trk_plays', 'user_id', 'item_id')$$,
				 '42710', NULL, 'a model follows one table');

-- user 1's best unseen item, then a click on it
SELECT item_id AS top FROM recsys.recommend('trk_ials', 1, 1) \gset
INSERT INTO public.trk_plays VALUES (1, :top, 3);
SELECT is((SELECT count(*) FROM recsys.user_overlays WHERE name = 'trk_ials' AND user_id = 1),
		  1::bigint, 'the insert wrote user 1''s overlay');
SELECT ok(NOT EXISTS (SELECT FROM recsys.recommend('trk_ials', 1, 10) WHERE item_id = :top),
		  'the next recommend excludes the clicked item');
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_ials', 1, 10)$$,
	$$SELECT item_id, score FROM recsys.recommend_by_items('trk_ials',
		(SELECT array_agg(item_id::bigint) FROM public.trk_plays WHERE user_id = 1),
		(SELECT array_agg(plays) FROM public.trk_plays WHERE user_id = 1), 10)$$,
	'recommend is recommend_by_items of the user''s rows now');
SELECT ok((SELECT recsys.l2_distance(o.user_vector,
			recsys.fold_in('trk_ials', (SELECT array_agg(item_id::bigint) FROM public.trk_plays WHERE user_id = 1),
								   (SELECT array_agg(plays) FROM public.trk_plays WHERE user_id = 1)))
		   FROM recsys.user_overlays AS o WHERE o.name = 'trk_ials' AND o.user_id = 1) < 1e-5,
		  'the stored vector is fold_in of the history');
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_ials', 1, 10)$$,
	$$SELECT item_id, score FROM recsys.recommend_by_vector('trk_ials',
		(SELECT user_vector FROM recsys.user_overlays WHERE name = 'trk_ials' AND user_id = 1), 10,
		exclude => (SELECT array_agg(item_id::bigint) FROM public.trk_plays WHERE user_id = 1))$$,
	'recommend ranks the folded-in vector with the history excluded');
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_ials', 1, 3, candidates => ARRAY[1, 2, 3, 4, 5, 6]::bigint[])$$,
	$$SELECT item_id, score FROM recsys.recommend_by_items('trk_ials',
		(SELECT array_agg(item_id::bigint) FROM public.trk_plays WHERE user_id = 1),
		(SELECT array_agg(plays) FROM public.trk_plays WHERE user_id = 1), 3,
		candidates => ARRAY[1, 2, 3, 4, 5, 6]::bigint[])$$,
	'candidates apply to a tracked user as to any');
SELECT ok(EXISTS (SELECT FROM recsys.recommend('trk_ials', 1, 100, exclude_seen => false)
				  WHERE item_id = :top), 'exclude_seen => false keeps the clicked item');
SELECT isnt((SELECT array_agg(item_id) FROM recsys.recommend('trk_ials', 2, 5)),
			NULL, 'an untracked user is served from the model');
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_ials', 2, 10)$$,
	$$SELECT item_id, score FROM recsys.recommend(recsys.model_by_name('trk_ials'), 2, 10)$$,
	'an untracked user is served exactly as before');

-- deletes and updates recompute the history
DELETE FROM public.trk_plays WHERE user_id = 1 AND item_id = :top;
SELECT ok(NOT (ARRAY[:top::bigint] <@ (SELECT item_ids FROM recsys.user_overlays WHERE name = 'trk_ials' AND user_id = 1)),
		  'a delete takes the item out of the overlay');
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_ials', 1, 10)$$,
	$$SELECT item_id, score FROM recsys.recommend_by_items('trk_ials',
		(SELECT array_agg(item_id::bigint) FROM public.trk_plays WHERE user_id = 1),
		(SELECT array_agg(plays) FROM public.trk_plays WHERE user_id = 1), 10)$$,
	'after the delete recommend follows the history again');
UPDATE public.trk_plays SET user_id = 3 WHERE user_id = 2 AND item_id = (SELECT min(item_id) FROM public.trk_plays WHERE user_id = 2);
SELECT is((SELECT count(*) FROM recsys.user_overlays WHERE name = 'trk_ials' AND user_id IN (2, 3)),
		  2::bigint, 'an update that moves a row refreshes the old and the new user');

-- explicit model: fold-in with its bias
SELECT lives_ok($$SELECT recsys.track('trk_als', 'public.trk_plays', 'user_id', 'item_id', 'plays')$$,
				'a second model may follow the same table');
INSERT INTO public.trk_plays VALUES (5, 7, 4);
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_als', 5, 10)$$,
	$$SELECT item_id, score FROM recsys.recommend_by_items('trk_als',
		(SELECT array_agg(item_id::bigint ORDER BY ctid) FROM public.trk_plays WHERE user_id = 5),
		(SELECT array_agg(plays ORDER BY ctid) FROM public.trk_plays WHERE user_id = 5), 10)$$,
	'explicit model: recommend is recommend_by_items of the rows (bias folded in)');

-- retrain drops the overlays the new model already reflects
SELECT recsys.retrain('trk_ials') IS NOT NULL AS retrained \gset
SELECT is((SELECT count(*) FROM recsys.user_overlays WHERE name = 'trk_ials'), 0::bigint,
		  'retrain drops the model''s overlays');
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_ials', 1, 10)$$,
	$$SELECT item_id, score FROM recsys.recommend(recsys.model_by_name('trk_ials'), 1, 10)$$,
	'after retrain the user is served from the new model');
SELECT isnt((SELECT count(*) FROM recsys.user_overlays WHERE name = 'trk_als'), 0::bigint,
			'other models keep theirs');

-- ------------------------------------------------------ neighbourhood model
SELECT lives_ok($$SELECT recsys.track('trk_knn', 'public.trk_clicks', 'user_id', 'item_id')$$,
				'alice tracks an item-kNN model from a click table (no value column)');
SELECT item_id AS ktop FROM recsys.recommend('trk_knn', 4, 1) \gset
INSERT INTO public.trk_clicks VALUES (4, :ktop), (4, :ktop);
SELECT ok(NOT EXISTS (SELECT FROM recsys.recommend('trk_knn', 4, 10) WHERE item_id = :ktop),
		  'the clicked item is excluded');
SELECT results_eq(
	$$SELECT item_id, score FROM recsys.recommend('trk_knn', 4, 10)$$,
	$$SELECT item_id, score FROM recsys.recommend_by_items('trk_knn',
		(SELECT array_agg(item_id) FROM public.trk_clicks WHERE user_id = 4), NULL, 10)$$,
	'item-kNN: recommend is recommend_by_items of the updated history');
SELECT ok((SELECT user_vector IS NULL FROM recsys.user_overlays WHERE name = 'trk_knn' AND user_id = 4),
		  'a neighbourhood overlay stores the history only');

-- ---------------------------------------------------------------- sharing
SELECT recsys.share('trk_ials', 'trk_carol');
INSERT INTO public.trk_plays VALUES (6, 9, 2);
CREATE TEMP TABLE trk_alice_sees AS SELECT item_id, score FROM recsys.recommend('trk_ials', 6, 10);
GRANT SELECT ON trk_alice_sees TO trk_carol;
RESET ROLE;

SET ROLE trk_carol;
SELECT results_eq($$SELECT item_id, score FROM recsys.recommend('trk_ials', 6, 10)$$,
				  $$SELECT item_id, score FROM trk_alice_sees$$,
				  'a role the model is shared with is served the overlay by name');
SELECT is((SELECT count(*) FROM recsys.user_overlays), 0::bigint,
		  'but cannot read the overlay table');
RESET ROLE;

-- ------------------------------------------------------------ hostile role
SET ROLE trk_alice;
GRANT INSERT, SELECT ON public.trk_plays TO trk_bob;
RESET ROLE;
SET ROLE trk_bob;
SELECT is((SELECT count(*) FROM recsys.user_overlays) + (SELECT count(*) FROM recsys.tracked),
		  0::bigint, 'bob sees no overlay and no tracking of alice''s');
SELECT throws_ok($$INSERT INTO recsys.user_overlays (name, user_id, owner, item_ids, "values")
				   VALUES ('trk_ials', 6, 'trk_alice', '{1}', '{1}')$$,
				 '42501', NULL, 'bob cannot forge an overlay as alice');
SELECT throws_ok($$INSERT INTO recsys.user_overlays (name, user_id, owner, item_ids, "values")
				   VALUES ('trk_ials', 6, 'trk_bob', '{1}', '{1}')$$,
				 '42501', NULL, 'nor one as himself for her model');
SELECT throws_ok($$SELECT recsys.track('trk_ials', 'public.trk_plays', 'user_id', 'item_id')$$,
				 '42704', NULL, 'bob cannot track a model he cannot see');
SELECT throws_ok($$SELECT recsys.untrack('trk_ials')$$, '42704', NULL,
				 'nor untrack it');
-- his own table with the tracking function attached, naming her model
CREATE TABLE public.trk_bob_plays (user_id bigint, item_id integer, plays real);
CREATE TRIGGER forged AFTER INSERT ON public.trk_bob_plays
	FOR EACH ROW EXECUTE FUNCTION recsys.track_trigger('trk_ials');
SELECT lives_ok($$INSERT INTO public.trk_bob_plays VALUES (6, 1, 1e30)$$,
				'a trigger bob attaches to the function does nothing');
-- the insert he may do into her table: the overlay is written as alice
SELECT lives_ok($$INSERT INTO public.trk_plays VALUES (7, 3, 1)$$,
				'bob inserts into the tracked table he may write');
RESET ROLE;
SELECT is((SELECT string_agg(DISTINCT owner::text, ',') FROM recsys.user_overlays WHERE name = 'trk_ials'),
		  'trk_alice', 'every overlay was written as alice, none as bob');
SELECT is((SELECT item_ids FROM recsys.user_overlays WHERE name = 'trk_ials' AND user_id = 6),
		  (SELECT array_agg(DISTINCT item_id::bigint ORDER BY item_id::bigint) FROM public.trk_plays WHERE user_id = 6),
		  'bob''s forged trigger left user 6''s overlay alone');

-- ------------------------------------------- dropped model, dropped table
SET ROLE trk_alice;
DELETE FROM recsys.models WHERE name = 'trk_als';
SELECT lives_ok($$INSERT INTO public.trk_plays VALUES (8, 4, 1)$$,
				'an insert after the tracked model was deleted still works');
SELECT lives_ok($$SELECT recsys.untrack('trk_als')$$, 'the deleted model is untracked');
DROP TABLE public.trk_clicks;
SELECT lives_ok($$SELECT recsys.untrack('trk_knn')$$,
				'a model whose table was dropped is untracked');
SELECT lives_ok($$SELECT recsys.untrack('trk_ials', 'public.trk_plays')$$, 'untrack');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.trk_plays'::regclass
		   AND NOT tgisinternal), 0::bigint, 'untrack drops the trigger');
SELECT is((SELECT count(*) FROM recsys.user_overlays) + (SELECT count(*) FROM recsys.tracked),
		  0::bigint, 'and the overlays and tracking');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
