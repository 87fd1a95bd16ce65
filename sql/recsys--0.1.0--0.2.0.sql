/*
 * recsys 0.1.0 -> 0.2.0: hardening as a trusted extension (owned registry rows with
 * row-level security, stored queries run as their owner, pinned search_path).
 * CREATE EXTENSION recsys installs 0.1.0 and then runs this script.
 */
\echo Use "ALTER EXTENSION recsys UPDATE" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Registry rows have an owner; row-level security lets a role see and change only
-- the rows it owns (or, for reading, that their owner shared with it).
-- ---------------------------------------------------------------------------

ALTER TABLE recsys.models
	ADD COLUMN owner regrole,
	ADD COLUMN readers regrole[] NOT NULL DEFAULT '{}',
	ADD COLUMN search_path text;
ALTER TABLE recsys.model_history
	ADD COLUMN owner regrole,
	ADD COLUMN search_path text;

-- rows from 0.1.0 belong to the role that installed the extension; they were
-- trained with PostgreSQL's default search_path as far as anyone can tell
UPDATE recsys.models
	SET owner = $owner$@extowner@$owner$::regrole,
		search_path = '"$user", public'
	WHERE source IS NOT NULL;
UPDATE recsys.models SET owner = $owner$@extowner@$owner$::regrole WHERE owner IS NULL;
UPDATE recsys.model_history
	SET owner = $owner$@extowner@$owner$::regrole,
		search_path = '"$user", public';

ALTER TABLE recsys.models
	ALTER COLUMN owner SET DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER::text)),
	ALTER COLUMN owner SET NOT NULL;
ALTER TABLE recsys.model_history
	ALTER COLUMN owner SET DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER::text)),
	ALTER COLUMN owner SET NOT NULL;

COMMENT ON COLUMN recsys.models.owner IS
	'the role that created the row: only roles with its privileges see, train, retrain, roll back, share or delete it; train and retrain run the stored queries as this role';
COMMENT ON COLUMN recsys.models.readers IS
	'roles the owner shared the model with (recsys.share): they may read and serve it by name; ''-'' stands for PUBLIC';
COMMENT ON COLUMN recsys.models.search_path IS
	'the search_path recsys.train ran the source query with; retrain uses it again';
COMMENT ON COLUMN recsys.model_history.owner IS 'its recsys.models.owner';
COMMENT ON COLUMN recsys.model_history.search_path IS 'its recsys.models.search_path';

ALTER TABLE recsys.models ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.model_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY models_owner ON recsys.models
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY models_reader ON recsys.models FOR SELECT
	USING (EXISTS (SELECT FROM pg_catalog.unnest(readers) AS r(role)
				   WHERE r.role::pg_catalog.oid OPERATOR(pg_catalog.=) 0::pg_catalog.oid
					  OR pg_catalog.pg_has_role(r.role, 'USAGE')));
CREATE POLICY model_history_owner ON recsys.model_history
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
COMMENT ON POLICY models_owner ON recsys.models IS
	'the owner (and members of the owning role) may do everything with a row';
COMMENT ON POLICY models_reader ON recsys.models IS
	'roles the owner shared the row with (readers) may read it';
COMMENT ON POLICY model_history_owner ON recsys.model_history IS
	'history rows are seen and changed by the owner of the model only';

-- Table privileges: everyone may look (row-level security shows each role its own
-- and shared rows), the installing role may write and decides who else may, by
-- GRANT: its privileges carry the grant option.
REVOKE ALL ON recsys.models, recsys.model_history FROM @extowner@;
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models, recsys.model_history
	TO @extowner@ WITH GRANT OPTION;
GRANT SELECT ON recsys.models TO PUBLIC;

-- every role may use the extension's types and functions (what each may do with
-- the registry is the policies' and the table privileges' business)
GRANT USAGE ON SCHEMA recsys TO PUBLIC;

-- ---------------------------------------------------------------------------
-- train and retrain in C (src/registry.c): permissions checked before training,
-- the source and eval queries parsed as exactly one SELECT and run as the row's
-- owner inside a security-restricted operation.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION recsys.train(name text, algorithm text, source_query text,
										options jsonb DEFAULT '{}')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'registry_train'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.train(text, text, text, jsonb) IS
	'trains a model (algorithm ''als'' or ''ials'') on a query whose first three columns are user, item, value, as the owner of the registry row (the caller for a new name), evaluates it on options.eval_query if given, and stores it under name in recsys.models (the model it replaces goes to recsys.model_history); returns its model_info';

CREATE OR REPLACE FUNCTION recsys.retrain(name text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'registry_retrain'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.retrain(text) IS
	'retrains the named model from its stored source query, options and search_path, running the queries as the row''s owner (what a pg_cron job calls); returns the new model_info';

CREATE OR REPLACE FUNCTION recsys.rollback(name text) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target		CONSTANT text := $1;
	row_owner	regrole;
	prev		record;
BEGIN
	SELECT r.owner INTO row_owner FROM recsys.models AS r WHERE r.name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', pg_catalog.left(target, 64)
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_catalog.pg_has_role(row_owner, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for model "%"', pg_catalog.left(target, 64)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Only its owner (or a member of the owning role) may roll it back.';
	END IF;
	PERFORM FROM recsys.models AS r WHERE r.name = target FOR UPDATE;
	SELECT h.ctid AS row_id, h.model, h.source, h.options, h.trained_at, h.metrics,
		   h.search_path
		INTO prev
		FROM recsys.model_history AS h
		WHERE h.name = target
		ORDER BY h.replaced_at DESC
		LIMIT 1
		FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no previous version to roll back to', pg_catalog.left(target, 64)
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'recsys.train and recsys.retrain keep the models they replace in recsys.model_history.';
	END IF;
	UPDATE recsys.models AS r
		SET model = prev.model, source = prev.source, options = prev.options,
			trained_at = prev.trained_at, metrics = prev.metrics,
			search_path = prev.search_path
		WHERE r.name = target;
	DELETE FROM recsys.model_history AS h WHERE h.ctid = prev.row_id;
	RETURN recsys.model_info(prev.model);
END
$$;

-- ---------------------------------------------------------------------------
-- Sharing a model with other roles
-- ---------------------------------------------------------------------------

CREATE FUNCTION recsys.share(name text, role text) RETURNS void
	AS 'MODULE_PATHNAME', 'registry_share'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.share(text, text) IS
	'lets role (or PUBLIC) read the named model and serve it by name; only its owner may share it';

CREATE FUNCTION recsys.unshare(name text, role text) RETURNS void
	AS 'MODULE_PATHNAME', 'registry_unshare'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.unshare(text, text) IS
	'takes back recsys.share: role (or PUBLIC) no longer reads the named model';

-- ---------------------------------------------------------------------------
-- The name overloads of the model accessors: SQL-standard bodies, resolved when
-- created, so no caller's search_path can change what they call.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION recsys.model_info(name text) RETURNS jsonb
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN recsys.model_info(recsys.model_by_name($1));

CREATE OR REPLACE FUNCTION recsys.user_factors(name text)
	RETURNS TABLE(id bigint, bias real, factors recsys.vec)
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT f.id, f.bias, f.factors FROM recsys.user_factors(recsys.model_by_name($1)) AS f;
END;

CREATE OR REPLACE FUNCTION recsys.item_factors(name text)
	RETURNS TABLE(id bigint, bias real, factors recsys.vec)
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	SELECT f.id, f.bias, f.factors FROM recsys.item_factors(recsys.model_by_name($1)) AS f;
END;

CREATE OR REPLACE FUNCTION recsys.user_vector(name text, user_id bigint) RETURNS recsys.vec
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN recsys.user_vector(recsys.model_by_name($1), $2);

CREATE OR REPLACE FUNCTION recsys.item_vector(name text, item_id bigint) RETURNS recsys.vec
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN recsys.item_vector(recsys.model_by_name($1), $2);

CREATE OR REPLACE FUNCTION recsys.predict(name text, user_id bigint, item_id bigint) RETURNS real
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN recsys.predict(recsys.model_by_name($1), $2, $3);

-- ---------------------------------------------------------------------------
-- Neighbourhood models: train_knn (item or user kNN) and train_ease, on the same
-- state and final function as the factor models; one transition function serves
-- every training aggregate (it finds its algorithm from the aggregate's name).
-- ---------------------------------------------------------------------------

CREATE FUNCTION recsys.train_transfn(internal, bigint, bigint, real) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_transfn(internal, bigint, bigint, real) IS
	'transition function of the training aggregates: appends one interaction';
CREATE FUNCTION recsys.train_transfn(internal, bigint, bigint, real, jsonb) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_transfn(internal, bigint, bigint, real, jsonb) IS
	'transition function of the training aggregates with options: appends one interaction';

CREATE AGGREGATE recsys.train_knn(user_id bigint, item_id bigint, value real) (
	SFUNC = recsys.train_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_knn(bigint, bigint, real) IS
	'trains an item-based neighbourhood model (cosine, 100 neighbours) with default options';
CREATE AGGREGATE recsys.train_knn(user_id bigint, item_id bigint, value real, options jsonb) (
	SFUNC = recsys.train_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_knn(bigint, bigint, real, jsonb) IS
	'trains an item- or user-based neighbourhood model (kind, similarity, neighbours, shrinkage, min_support, normalize, alpha)';

CREATE AGGREGATE recsys.train_ease(user_id bigint, item_id bigint, value real) (
	SFUNC = recsys.train_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_ease(bigint, bigint, real) IS
	'trains an EASE item-item model (closed form) with default options';
CREATE AGGREGATE recsys.train_ease(user_id bigint, item_id bigint, value real, options jsonb) (
	SFUNC = recsys.train_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_ease(bigint, bigint, real, jsonb) IS
	'trains an EASE item-item model (regularization, neighbours, max_items)';

-- a visitor known only by their history, for every model kind
CREATE FUNCTION recsys.recommend_by_items(m recsys.model, item_ids bigint[],
										  "values" real[] DEFAULT NULL, n integer DEFAULT 10,
										  candidates bigint[] DEFAULT NULL,
										  exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_by_items'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend_by_items(recsys.model, bigint[], real[], integer, bigint[], bigint[]) IS
	'the n best items for a history of items (values default to 1), the history itself excluded: folded in for factor models, scored directly for neighbourhood models';

CREATE FUNCTION recsys.recommend_by_items(name text, item_ids bigint[],
										  "values" real[] DEFAULT NULL, n integer DEFAULT 10,
										  candidates bigint[] DEFAULT NULL,
										  exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_by_items_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend_by_items(text, bigint[], real[], integer, bigint[], bigint[]) IS
	'recommend_by_items with the named model in recsys.models';

COMMENT ON FUNCTION recsys.train(text, text, text, jsonb) IS
	'trains a model (algorithm ''als'', ''ials'', ''knn'' or ''ease'') on a query whose first three columns are user, item, value, as the owner of the registry row (the caller for a new name), evaluates it on options.eval_query if given, and stores it under name in recsys.models (the model it replaces goes to recsys.model_history); returns its model_info';
COMMENT ON TYPE recsys.model IS
	'a trained model (factor, neighbourhood or EASE): format v2, a header and a section directory; text form recsys-model:v2: + base64 (v1 values of 0.1.0 are still read)';

-- ---------------------------------------------------------------------------
-- Serving for drivers and products: recommend(m, vec, ...) becomes
-- recommend_by_vector, so recommend($1, $2, $3) with untyped parameters resolves;
-- every serving set-returning function returns a rank column (1 = best) and
-- takes n = 0 (no rows); similar_items, similar_users and recommend_all take the
-- candidates and exclude filters (and recommend_all exclude_seen); a planner
-- support function estimates the rows from a constant n.  Result columns and
-- argument lists change, so each function is dropped and created again.
-- ---------------------------------------------------------------------------

CREATE FUNCTION recsys.serving_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'serving_support'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.serving_support(internal) IS
	'planner support of the serving functions: estimates their rows from a constant n (n, or n per user for recommend_all)';

DROP FUNCTION recsys.recommend(recsys.model, recsys.vec, integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend(text, recsys.vec, integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend(recsys.model, bigint, integer, boolean, bigint[], bigint[]);
DROP FUNCTION recsys.recommend(text, bigint, integer, boolean, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_by_items(recsys.model, bigint[], real[], integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_by_items(text, bigint[], real[], integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_all(recsys.model, integer, bigint[]);
DROP FUNCTION recsys.recommend_all(text, integer, bigint[]);
DROP FUNCTION recsys.similar_items(recsys.model, bigint, integer);
DROP FUNCTION recsys.similar_items(text, bigint, integer);
DROP FUNCTION recsys.similar_users(recsys.model, bigint, integer);
DROP FUNCTION recsys.similar_users(text, bigint, integer);

CREATE FUNCTION recsys.recommend(m recsys.model, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_user'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend(recsys.model, bigint, integer, boolean, bigint[], bigint[]) IS
	'the user''s n best items, best first (rank 1): unseen (exclude_seen), among candidates, not in exclude; an unknown user gets the most popular items';

CREATE FUNCTION recsys.recommend(name text, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_user_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend(text, bigint, integer, boolean, bigint[], bigint[]) IS
	'recommend with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_by_vector(m recsys.model, user_vector recsys.vec,
										   n integer DEFAULT 10,
										   candidates bigint[] DEFAULT NULL,
										   exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_vector'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_vector(recsys.model, recsys.vec, integer, bigint[], bigint[]) IS
	'the n best items for a user vector (e.g. from fold_in), best first (rank 1), among candidates, not in exclude (0.1.0: recommend(m, vec, ...))';

CREATE FUNCTION recsys.recommend_by_vector(name text, user_vector recsys.vec,
										   n integer DEFAULT 10,
										   candidates bigint[] DEFAULT NULL,
										   exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_vector_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_vector(text, recsys.vec, integer, bigint[], bigint[]) IS
	'recommend_by_vector with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_by_items(m recsys.model, item_ids bigint[],
										  "values" real[] DEFAULT NULL, n integer DEFAULT 10,
										  candidates bigint[] DEFAULT NULL,
										  exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_by_items'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_items(recsys.model, bigint[], real[], integer, bigint[], bigint[]) IS
	'the n best items for a history of items (values default to 1), best first (rank 1), the history itself excluded: folded in for factor models, scored directly for neighbourhood models';

CREATE FUNCTION recsys.recommend_by_items(name text, item_ids bigint[],
										  "values" real[] DEFAULT NULL, n integer DEFAULT 10,
										  candidates bigint[] DEFAULT NULL,
										  exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_by_items_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_items(text, bigint[], real[], integer, bigint[], bigint[]) IS
	'recommend_by_items with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_all(m recsys.model, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL,
									 exclude_seen boolean DEFAULT true,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_all'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10000 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_all(recsys.model, integer, bigint[], boolean, bigint[], bigint[]) IS
	'the n best items of every user (or of the listed users), unseen (exclude_seen), among candidates, not in exclude, scored in blocks with SGEMM on recsys.threads threads';

CREATE FUNCTION recsys.recommend_all(name text, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL,
									 exclude_seen boolean DEFAULT true,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_all_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10000 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_all(text, integer, bigint[], boolean, bigint[], bigint[]) IS
	'recommend_all with the named model in recsys.models';

CREATE FUNCTION recsys.similar_items(m recsys.model, item_id bigint, n integer DEFAULT 10,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'similar_items'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.similar_items(recsys.model, bigint, integer, bigint[], bigint[]) IS
	'the n items most similar to the item (cosine of the factors, or the stored neighbours of a neighbourhood model), best first (rank 1), among candidates, not in exclude, itself excluded';

CREATE FUNCTION recsys.similar_items(name text, item_id bigint, n integer DEFAULT 10,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'similar_items_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.similar_items(text, bigint, integer, bigint[], bigint[]) IS
	'similar_items with the named model in recsys.models';

CREATE FUNCTION recsys.similar_users(m recsys.model, user_id bigint, n integer DEFAULT 10,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'similar_users'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.similar_users(recsys.model, bigint, integer, bigint[], bigint[]) IS
	'the n users most similar to the user (cosine of the factors, or the stored neighbours of a user-based model), best first (rank 1), among candidates, not in exclude (user ids), itself excluded';

CREATE FUNCTION recsys.similar_users(name text, user_id bigint, n integer DEFAULT 10,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'similar_users_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.similar_users(text, bigint, integer, bigint[], bigint[]) IS
	'similar_users with the named model in recsys.models';

-- synthetic_ratings learns realistic implicit shapes: a popularity
-- exponent, log-normal user activity and heavy-tailed counts.  The new arguments
-- come last with defaults that reproduce 0.1.0's rows, so every old call form
-- (positional or named) still works and returns the same rows.
DROP FUNCTION recsys.synthetic_ratings(int, int, bigint, int, float8, bigint, bool);
CREATE FUNCTION recsys.synthetic_ratings(
	n_users int,
	n_items int,
	n_ratings bigint,
	rank int DEFAULT 8,
	noise float8 DEFAULT 0.5,
	seed bigint DEFAULT 42,
	implicit bool DEFAULT false,
	popularity_exponent float8 DEFAULT 1,
	user_activity float8 DEFAULT 0,
	count_exponent float8 DEFAULT 0)
RETURNS TABLE (user_id bigint, item_id bigint, rating real)
AS 'MODULE_PATHNAME', 'synthetic_ratings'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
ROWS 100000
SUPPORT recsys.synthetic_ratings_support;

COMMENT ON FUNCTION recsys.synthetic_ratings(int, int, bigint, int, float8, bigint, bool, float8, float8, float8) IS
'synthetic ratings with a planted low-rank truth: distinct (user_id, item_id) pairs, ids from 1, explicit ratings on a 1..5 scale or implicit positive counts; item popularity (rank + 10)^-popularity_exponent, user activity log-normal with sigma user_activity (0: equal), implicit counts geometric (count_exponent 0) or Pareto-tailed with that exponent (play-count-like, into the hundreds of thousands); deterministic per seed';

-- Serving for products: a diversity argument (greedy maximal marginal
-- relevance) on every ranking function, and a fallback column on those that can
-- fall back to the popularity list (recommend, recommend_by_items, recommend_all),
-- so an application tells a personalised list from a popular one.  recommend with
-- a NULL user id returns the popularity list.  One signature change for both.
DROP FUNCTION recsys.recommend(recsys.model, bigint, integer, boolean, bigint[], bigint[]);
DROP FUNCTION recsys.recommend(text, bigint, integer, boolean, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_by_vector(recsys.model, recsys.vec, integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_by_vector(text, recsys.vec, integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_by_items(recsys.model, bigint[], real[], integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_by_items(text, bigint[], real[], integer, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_all(recsys.model, integer, bigint[], boolean, bigint[], bigint[]);
DROP FUNCTION recsys.recommend_all(text, integer, bigint[], boolean, bigint[], bigint[]);

CREATE FUNCTION recsys.recommend(m recsys.model, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL,
								 diversity real DEFAULT 0)
	RETURNS TABLE(item_id bigint, score real, rank integer, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_user'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend(recsys.model, bigint, integer, boolean, bigint[], bigint[], real) IS
	'the user''s n best items, best first (rank 1): unseen (exclude_seen), among candidates, not in exclude, re-ranked by maximal marginal relevance for diversity in (0, 1]; an unknown or NULL user gets the most popular items (fallback true)';

CREATE FUNCTION recsys.recommend(name text, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL,
								 diversity real DEFAULT 0)
	RETURNS TABLE(item_id bigint, score real, rank integer, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_user_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend(text, bigint, integer, boolean, bigint[], bigint[], real) IS
	'recommend with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_by_vector(m recsys.model, user_vector recsys.vec,
										   n integer DEFAULT 10,
										   candidates bigint[] DEFAULT NULL,
										   exclude bigint[] DEFAULT NULL,
										   diversity real DEFAULT 0)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_vector'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_vector(recsys.model, recsys.vec, integer, bigint[], bigint[], real) IS
	'the n best items for a user vector (e.g. from fold_in), best first (rank 1), among candidates, not in exclude, re-ranked for diversity (0.1.0: recommend(m, vec, ...))';

CREATE FUNCTION recsys.recommend_by_vector(name text, user_vector recsys.vec,
										   n integer DEFAULT 10,
										   candidates bigint[] DEFAULT NULL,
										   exclude bigint[] DEFAULT NULL,
										   diversity real DEFAULT 0)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_vector_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_vector(text, recsys.vec, integer, bigint[], bigint[], real) IS
	'recommend_by_vector with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_by_items(m recsys.model, item_ids bigint[],
										  "values" real[] DEFAULT NULL, n integer DEFAULT 10,
										  candidates bigint[] DEFAULT NULL,
										  exclude bigint[] DEFAULT NULL,
										  diversity real DEFAULT 0)
	RETURNS TABLE(item_id bigint, score real, rank integer, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_by_items'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_items(recsys.model, bigint[], real[], integer, bigint[], bigint[], real) IS
	'the n best items for a history of items (values default to 1), best first (rank 1), the history itself excluded: folded in for factor models, scored directly for neighbourhood models; re-ranked for diversity; an empty history (or one that reaches nothing) gets the most popular items (fallback true)';

CREATE FUNCTION recsys.recommend_by_items(name text, item_ids bigint[],
										  "values" real[] DEFAULT NULL, n integer DEFAULT 10,
										  candidates bigint[] DEFAULT NULL,
										  exclude bigint[] DEFAULT NULL,
										  diversity real DEFAULT 0)
	RETURNS TABLE(item_id bigint, score real, rank integer, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_by_items_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_items(text, bigint[], real[], integer, bigint[], bigint[], real) IS
	'recommend_by_items with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_all(m recsys.model, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL,
									 exclude_seen boolean DEFAULT true,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL,
									 diversity real DEFAULT 0)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_all'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10000 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_all(recsys.model, integer, bigint[], boolean, bigint[], bigint[], real) IS
	'the n best items of every user (or of the listed users), unseen (exclude_seen), among candidates, not in exclude, scored in blocks with SGEMM on recsys.threads threads, re-ranked for diversity; unknown users get the most popular items (fallback true)';

CREATE FUNCTION recsys.recommend_all(name text, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL,
									 exclude_seen boolean DEFAULT true,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL,
									 diversity real DEFAULT 0)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_all_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10000 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_all(text, integer, bigint[], boolean, bigint[], bigint[], real) IS
	'recommend_all with the named model in recsys.models';

-- explain: the terms of an item's score, one per history item, that
-- sum to the score (formulas per model kind: README, "Why this item").
CREATE FUNCTION recsys.explain(m recsys.model, user_id bigint, item_id bigint,
							   n integer DEFAULT 10)
	RETURNS TABLE(item_id bigint, contribution real, rank integer)
	AS 'MODULE_PATHNAME', 'explain'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.explain(recsys.model, bigint, bigint, integer) IS
	'the n items of the user''s history that contributed most to item_id''s score, best first (rank 1); the contributions sum to the score (a biased factor model adds a row with a NULL item_id for mu + b_i); no rows for an unknown user or item';

CREATE FUNCTION recsys.explain(name text, user_id bigint, item_id bigint,
							   n integer DEFAULT 10)
	RETURNS TABLE(item_id bigint, contribution real, rank integer)
	AS 'MODULE_PATHNAME', 'explain_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.explain(text, bigint, bigint, integer) IS
	'explain with the named model in recsys.models';

CREATE FUNCTION recsys.explain_by_items(m recsys.model, item_ids bigint[], "values" real[],
										item_id bigint, n integer DEFAULT 10)
	RETURNS TABLE(item_id bigint, contribution real, rank integer)
	AS 'MODULE_PATHNAME', 'explain_by_items'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.explain_by_items(recsys.model, bigint[], real[], bigint, integer) IS
	'explain for a history of items (values NULL: every one is 1), as recommend_by_items scores it';

CREATE FUNCTION recsys.explain_by_items(name text, item_ids bigint[], "values" real[],
										item_id bigint, n integer DEFAULT 10)
	RETURNS TABLE(item_id bigint, contribution real, rank integer)
	AS 'MODULE_PATHNAME', 'explain_by_items_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.explain_by_items(text, bigint[], real[], bigint, integer) IS
	'explain_by_items with the named model in recsys.models';

-- ---------------------------------------------------------------------------
-- Real-time updates (src/track.c): recsys.track installs a row trigger on an
-- interactions table; every insert, update or delete recomputes that user's
-- overlay (their history now and, for factor models, its folded-in vector) as
-- the model's owner, and recommend(name, user_id, ...) reads it in place of the
-- model's row.  train/retrain of the name drop the overlays older than the new
-- model.
-- ---------------------------------------------------------------------------

CREATE TABLE recsys.tracked (
	name			text PRIMARY KEY,
	source			regclass NOT NULL,
	user_column		name NOT NULL,
	item_column		name NOT NULL,
	value_column	name,
	owner			regrole NOT NULL
);
COMMENT ON TABLE recsys.tracked IS
	'models recsys.track keeps up to date from an interactions table (one table per model); rows are written by recsys.track and recsys.untrack';
COMMENT ON COLUMN recsys.tracked.name IS 'the model (recsys.models.name)';
COMMENT ON COLUMN recsys.tracked.source IS 'the interactions table whose trigger refreshes the overlays';
COMMENT ON COLUMN recsys.tracked.user_column IS 'its user id column';
COMMENT ON COLUMN recsys.tracked.item_column IS 'its item id column';
COMMENT ON COLUMN recsys.tracked.value_column IS 'its value column, or NULL: every row counts 1';
COMMENT ON COLUMN recsys.tracked.owner IS 'the model''s owner: the role the trigger reads the table and writes the overlays as';
SELECT pg_catalog.pg_extension_config_dump('recsys.tracked', '');

CREATE TABLE recsys.user_overlays (
	name			text NOT NULL,
	user_id			bigint NOT NULL,
	owner			regrole NOT NULL,
	model_uuid		uuid,
	item_ids		bigint[] NOT NULL,
	"values"		real[] NOT NULL,
	user_vector		recsys.vec,
	user_bias		real,
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	PRIMARY KEY (name, user_id, owner)
);
COMMENT ON TABLE recsys.user_overlays IS
	'per-user state of tracked models (recsys.track): recommend(name, user_id, ...) ranks a user''s overlay instead of the model''s row for them';
COMMENT ON COLUMN recsys.user_overlays.name IS 'the model (recsys.models.name)';
COMMENT ON COLUMN recsys.user_overlays.user_id IS 'the user';
COMMENT ON COLUMN recsys.user_overlays.owner IS 'the model''s owner, who wrote the row; serving reads only overlays of the model''s current owner';
COMMENT ON COLUMN recsys.user_overlays.model_uuid IS 'the model version user_vector was folded in with (model_info uuid); another version folds the history in again';
COMMENT ON COLUMN recsys.user_overlays.item_ids IS 'the user''s items in the tracked table now, ascending: excluded from recommendations (exclude_seen)';
COMMENT ON COLUMN recsys.user_overlays."values" IS 'their values, combined per item as training combines them';
COMMENT ON COLUMN recsys.user_overlays.user_vector IS 'fold_in of the history (factor models), NULL for neighbourhood models';
COMMENT ON COLUMN recsys.user_overlays.user_bias IS 'the folded-in user bias (explicit models)';
COMMENT ON COLUMN recsys.user_overlays.updated_at IS 'when the trigger last recomputed the row';
SELECT pg_catalog.pg_extension_config_dump('recsys.user_overlays', '');

ALTER TABLE recsys.tracked ENABLE ROW LEVEL SECURITY;
ALTER TABLE recsys.user_overlays ENABLE ROW LEVEL SECURITY;

-- a role sees and writes only the rows of models it owns (as their owner); a
-- row may only name a model whose owner is its owner
CREATE POLICY tracked_owner ON recsys.tracked
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE')
				AND EXISTS (SELECT FROM recsys.models AS m
							WHERE m.name OPERATOR(pg_catalog.=) tracked.name
							  AND m.owner::pg_catalog.oid OPERATOR(pg_catalog.=) tracked.owner::pg_catalog.oid));
CREATE POLICY user_overlays_owner ON recsys.user_overlays
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE')
				AND EXISTS (SELECT FROM recsys.models AS m
							WHERE m.name OPERATOR(pg_catalog.=) user_overlays.name
							  AND m.owner::pg_catalog.oid OPERATOR(pg_catalog.=) user_overlays.owner::pg_catalog.oid));
COMMENT ON POLICY tracked_owner ON recsys.tracked IS
	'the model''s owner (and members of the owning role) see and change its tracking; a row must name a model of its owner';
COMMENT ON POLICY user_overlays_owner ON recsys.user_overlays IS
	'the model''s owner (and members) see and change its overlays; by-name serving reads them for every role the model is shared with';

-- the trigger writes as the model's owner, so every owner may write (its own rows)
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.tracked, recsys.user_overlays TO PUBLIC;

CREATE FUNCTION recsys.track_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME', 'track_trigger'
	LANGUAGE C;
COMMENT ON FUNCTION recsys.track_trigger() IS
	'the row trigger recsys.track installs: recomputes the user''s overlay as the model''s owner; does nothing on a table the model is not tracked from';

CREATE FUNCTION recsys.track(name text, source regclass, user_column name,
							 item_column name, value_column name DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'track'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.track(text, regclass, name, name, name) IS
	'keeps by-name serving of the model up to date with the table: a trigger recomputes each changed user''s overlay (history, folded-in vector); only the model''s owner may';

CREATE FUNCTION recsys.untrack(name text, source regclass DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'untrack'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.untrack(text, regclass) IS
	'stops recsys.track of the model: drops the trigger (if its table still exists), the tracking and the overlays';

-- Content-based and hybrid models: the training aggregates that take item
-- features (a row with a NULL user and features registers a catalogue item)
CREATE FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, recsys.vec)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'train_features_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, recsys.vec) IS
	'transition function of the training aggregates with item features: records the item''s features and appends the interaction (if the row has a user and a value)';
CREATE FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, recsys.vec, jsonb)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'train_features_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, recsys.vec, jsonb) IS
	'transition function of the training aggregates with item features and options';

CREATE AGGREGATE recsys.train_content(user_id bigint, item_id bigint, value real,
									  features recsys.vec) (
	SFUNC = recsys.train_features_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE recsys.train_content(bigint, bigint, real, recsys.vec) IS
	'trains a content-based model: unit item feature vectors, users'' profiles as value-weighted sums of their items'' vectors, scores by cosine';
CREATE AGGREGATE recsys.train_content(user_id bigint, item_id bigint, value real,
									  features recsys.vec, options jsonb) (
	SFUNC = recsys.train_features_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE recsys.train_content(bigint, bigint, real, recsys.vec, jsonb) IS
	'trains a content-based model with options (center: weigh items by the value minus the user''s mean)';

CREATE AGGREGATE recsys.train_hybrid(user_id bigint, item_id bigint, value real,
									 features recsys.vec) (
	SFUNC = recsys.train_features_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE recsys.train_hybrid(bigint, bigint, real, recsys.vec) IS
	'trains a hybrid model: implicit ALS plus a ridge map from item features to factors, which places items without interactions';
CREATE AGGREGATE recsys.train_hybrid(user_id bigint, item_id bigint, value real,
									 features recsys.vec, options jsonb) (
	SFUNC = recsys.train_features_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE recsys.train_hybrid(bigint, bigint, real, recsys.vec, jsonb) IS
	'trains a hybrid model with options (train_ials''s, explicit, feature_regularization, cold_threshold)';

COMMENT ON FUNCTION recsys.train(text, text, text, jsonb) IS
	'trains a model (algorithm ''als'', ''ials'', ''knn'', ''ease'', ''content'' or ''hybrid'') on a query whose first three columns are user, item, value (and, for content and hybrid, a fourth of item features), as the owner of the registry row (the caller for a new name), evaluates it on options.eval_query if given, and stores it under name in recsys.models (the model it replaces goes to recsys.model_history); returns its model_info';

-- train_content over text: TF-IDF of a tsvector per item
CREATE FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, tsvector)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'train_features_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, tsvector) IS
	'transition function of train_content over text: records the item''s tsvector and appends the interaction (if the row has a user and a value)';
CREATE FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, tsvector, jsonb)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'train_features_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_features_transfn(internal, bigint, bigint, real, tsvector, jsonb) IS
	'transition function of train_content over text with options';
CREATE AGGREGATE recsys.train_content(user_id bigint, item_id bigint, value real,
									  features tsvector) (
	SFUNC = recsys.train_features_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE recsys.train_content(bigint, bigint, real, tsvector) IS
	'trains a content-based model over item text: L2-normalised TF-IDF vectors of the lexemes (smoothed idf), profiles summed from the kept interactions, scores by cosine through an inverted index';
CREATE AGGREGATE recsys.train_content(user_id bigint, item_id bigint, value real,
									  features tsvector, options jsonb) (
	SFUNC = recsys.train_features_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE recsys.train_content(bigint, bigint, real, tsvector, jsonb) IS
	'trains a content-based model over item text with options (min_df, max_df, max_features, sublinear_tf, center)';

-- Planted item features for content and hybrid models: the item factors of
-- synthetic_ratings (same seed and rank) through a random projection, plus noise
CREATE FUNCTION recsys.synthetic_item_features(
	n_items int,
	dim int,
	rank int DEFAULT 8,
	noise float8 DEFAULT 0.5,
	seed bigint DEFAULT 42)
RETURNS TABLE (item_id bigint, features recsys.vec)
AS 'MODULE_PATHNAME', 'synthetic_item_features'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
ROWS 1000;
COMMENT ON FUNCTION recsys.synthetic_item_features(int, int, int, float8, bigint) IS
	'synthetic item features correlated with synthetic_ratings'' planted item factors (same seed and rank): the factors times a seeded random rank x dim projection, scaled to unit variance per feature, plus N(0, noise^2) noise; item ids 1..n_items';

-- Evaluation: debiased and beyond-accuracy metrics, per-user rows, splits.

COMMENT ON FUNCTION recsys.evaluate(recsys.model, text, integer, jsonb) IS
	'runs test_query (user, item [, rating or weight]) and returns jsonb metrics: rmse and mae (explicit models), precision, recall, ndcg, map and hit_rate at k of each known test user''s top k (training items excluded), coverage, users, test_rows, unknown_users; options relevance_threshold, propensity (ips_precision, ips_recall, ips_ndcg), gamma, beyond_accuracy (novelty, diversity, popularity, gini) and cold_items';
COMMENT ON FUNCTION recsys.evaluate(text, text, integer, jsonb) IS
	'evaluate the named model in recsys.models';

CREATE FUNCTION recsys.evaluate_users(m recsys.model, test_query text, k integer DEFAULT 10,
									  options jsonb DEFAULT '{}')
	RETURNS TABLE(user_id bigint, n_test bigint, n_recommended integer,
				  "precision" float8, recall float8, ndcg float8, map float8, hit_rate float8,
				  ips_precision float8, ips_recall float8, ips_ndcg float8,
				  novelty float8, diversity float8, popularity float8)
	AS 'MODULE_PATHNAME', 'evaluate_users'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE ROWS 1000;
COMMENT ON FUNCTION recsys.evaluate_users(recsys.model, text, integer, jsonb) IS
	'the per-user rows recsys.evaluate averages: one row per scored test user with its number of relevant test items, list length and metrics at k (ips_* with propensity, novelty, diversity and popularity with beyond_accuracy, else NULL); avg() of a column equals evaluate''s value';

CREATE FUNCTION recsys.evaluate_users(name text, test_query text, k integer DEFAULT 10,
									  options jsonb DEFAULT '{}')
	RETURNS TABLE(user_id bigint, n_test bigint, n_recommended integer,
				  "precision" float8, recall float8, ndcg float8, map float8, hit_rate float8,
				  ips_precision float8, ips_recall float8, ips_ndcg float8,
				  novelty float8, diversity float8, popularity float8)
	AS 'MODULE_PATHNAME', 'evaluate_users_by_name'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE ROWS 1000;
COMMENT ON FUNCTION recsys.evaluate_users(text, text, integer, jsonb) IS
	'evaluate_users of the named model in recsys.models';

-- recsys.split runs the user's query, which names the caller's tables, with
-- the caller's search_path; everything else runs with a pinned one.  The outer
-- SQL function hands the caller's path to the worker, whose SET clause pins
-- pg_catalog for its own code and restores the path when it returns.
CREATE FUNCTION recsys.split_rows(source_query text, method text, options jsonb,
								  query_search_path text)
	RETURNS TABLE(user_id bigint, item_id bigint, value real, is_test boolean)
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	query		text;
	key			text;
	fraction	float8 := 0.2;
	k			bigint := 1;
	seed		bigint := 42;
	allowed		text[];
BEGIN
	IF jsonb_typeof(split_rows.options) <> 'object' THEN
		RAISE EXCEPTION 'options of split must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF split_rows.method = 'random' THEN
		allowed := ARRAY['test_fraction', 'seed'];
	ELSIF split_rows.method = 'time' THEN
		allowed := ARRAY['test_fraction'];
	ELSIF split_rows.method = 'last' THEN
		allowed := ARRAY['k'];
	ELSE
		RAISE EXCEPTION 'split method must be "random", "last" or "time", got "%"',
			"left"(split_rows.method, 40)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR key IN SELECT jsonb_object_keys(split_rows.options) LOOP
		IF NOT (key = ANY (allowed)) THEN
			RAISE EXCEPTION 'unknown option "%" for split method "%"', "left"(key, 40), split_rows.method
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Method "%s" accepts %s.', split_rows.method,
									array_to_string(allowed, ', '));
		END IF;
	END LOOP;
	IF split_rows.options ? 'test_fraction' THEN
		IF jsonb_typeof(split_rows.options -> 'test_fraction') <> 'number'
		   OR NOT ((split_rows.options ->> 'test_fraction')::numeric > 0
				   AND (split_rows.options ->> 'test_fraction')::numeric < 1) THEN
			RAISE EXCEPTION 'option "test_fraction" must be a number between 0 and 1 (exclusive), got %',
				"left"((split_rows.options -> 'test_fraction')::text, 40)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		fraction := (split_rows.options ->> 'test_fraction')::float8;
	END IF;
	IF split_rows.options ? 'k' THEN
		IF jsonb_typeof(split_rows.options -> 'k') <> 'number'
		   OR (split_rows.options ->> 'k')::numeric <> trunc((split_rows.options ->> 'k')::numeric)
		   OR NOT ((split_rows.options ->> 'k')::numeric BETWEEN 1 AND 2147483647) THEN
			RAISE EXCEPTION 'option "k" must be an integer between 1 and 2147483647, got %',
				"left"((split_rows.options -> 'k')::text, 40)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		k := (split_rows.options ->> 'k')::bigint;
	END IF;
	IF split_rows.options ? 'seed' THEN
		IF jsonb_typeof(split_rows.options -> 'seed') <> 'number'
		   OR (split_rows.options ->> 'seed')::numeric <> trunc((split_rows.options ->> 'seed')::numeric)
		   OR NOT ((split_rows.options ->> 'seed')::numeric BETWEEN -2147483648 AND 2147483647) THEN
			RAISE EXCEPTION 'option "seed" must be an integer between -2147483648 and 2147483647, got %',
				"left"((split_rows.options -> 'seed')::text, 40)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		seed := (split_rows.options ->> 'seed')::bigint;
	END IF;

	-- columns by position: user, item, value [, time]; rows without a user or
	-- an item are dropped (training and evaluate ignore them too).  The text
	-- around the user's query is schema-qualified: it is parsed with the
	-- caller's search_path, which the SET clause takes back on return.
	query := regexp_replace(split_rows.source_query, '[[:space:];]+$', '');
	PERFORM set_config('search_path', split_rows.query_search_path, true);
	IF split_rows.method = 'random' THEN
		-- a pair's side depends on the pair and the seed only: duplicates stay together
		RETURN QUERY EXECUTE format(
			'SELECT s.u::pg_catalog.int8, s.i::pg_catalog.int8, s.v::pg_catalog.float4,
					recsys.fold(s.u::pg_catalog.int8, s.i::pg_catalog.int8, 1000000, $2::pg_catalog.int4)
						OPERATOR(pg_catalog.<) $1
			 FROM (%s) AS s(u, i, v)
			 WHERE s.u IS NOT NULL AND s.i IS NOT NULL', query)
			USING round(fraction * 1000000)::integer, seed;
	ELSIF split_rows.method = 'last' THEN
		-- each user's k latest rows (ties: larger item, then larger value) are
		-- the test rows; users with at most k rows keep them all for training
		RETURN QUERY EXECUTE format(
			'SELECT r.u, r.i, r.v, r.n OPERATOR(pg_catalog.>) $1 AND r.pos OPERATOR(pg_catalog.<=) $1
			 FROM (SELECT s.u::pg_catalog.int8 AS u, s.i::pg_catalog.int8 AS i, s.v::pg_catalog.float4 AS v,
						  pg_catalog.row_number() OVER (PARTITION BY s.u::pg_catalog.int8
								ORDER BY s.t DESC NULLS LAST, s.i::pg_catalog.int8 DESC,
										 s.v::pg_catalog.float4 DESC NULLS LAST) AS pos,
						  pg_catalog.count(*) OVER (PARTITION BY s.u::pg_catalog.int8) AS n
				   FROM (%s) AS s(u, i, v, t)
				   WHERE s.u IS NOT NULL AND s.i IS NOT NULL) AS r', query)
			USING k;
	ELSE
		-- the latest round(test_fraction * rows) rows by time, ties by larger
		-- user, item, value: a global cut
		RETURN QUERY EXECUTE format(
			'SELECT r.u, r.i, r.v,
					r.pos::pg_catalog.float8 OPERATOR(pg_catalog.<=) pg_catalog.round(r.n::pg_catalog.float8 OPERATOR(pg_catalog.*) $1)
			 FROM (SELECT s.u::pg_catalog.int8 AS u, s.i::pg_catalog.int8 AS i, s.v::pg_catalog.float4 AS v,
						  pg_catalog.row_number() OVER (
								ORDER BY s.t DESC NULLS LAST, s.u::pg_catalog.int8 DESC,
										 s.i::pg_catalog.int8 DESC, s.v::pg_catalog.float4 DESC NULLS LAST) AS pos,
						  pg_catalog.count(*) OVER () AS n
				   FROM (%s) AS s(u, i, v, t)
				   WHERE s.u IS NOT NULL AND s.i IS NOT NULL) AS r', query)
			USING fraction;
	END IF;
END
$$;
COMMENT ON FUNCTION recsys.split_rows(text, text, jsonb, text) IS
	'the worker of recsys.split: runs source_query with query_search_path (recsys.split passes the caller''s)';

CREATE FUNCTION recsys.split(source_query text, method text DEFAULT 'random',
							 options jsonb DEFAULT '{}')
	RETURNS TABLE(user_id bigint, item_id bigint, value real, is_test boolean)
	LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
AS $$
	SELECT s.user_id, s.item_id, s.value, s.is_test
	FROM recsys.split_rows($1, $2, $3, pg_catalog.current_setting('search_path')) AS s
$$;
COMMENT ON FUNCTION recsys.split(text, text, jsonb) IS
	'the rows of a query (user, item, value [, time]) marked is_test: method random (options test_fraction 0.2, seed 42: by recsys.fold of the pair), last (option k 1: each user''s k latest rows, users with more than k rows only) or time (option test_fraction 0.2: the latest rows overall); deterministic; runs the query as the caller with the caller''s search_path';

-- ---------------------------------------------------------------------------
-- Versions and gated deploys: every model a name was trained into is a version
-- with an id that only grows (recsys.models.last_version counts them); the live
-- one is the row of recsys.models, the others the name's rows of
-- recsys.model_history (at most options.keep_history of them).  retrain can
-- gate a candidate on a metric (src/registry.c, src/versions.c); deploy makes
-- any kept version live.
-- ---------------------------------------------------------------------------

ALTER TABLE recsys.models
	ADD COLUMN version bigint NOT NULL DEFAULT 1,
	ADD COLUMN last_version bigint NOT NULL DEFAULT 1,
	ADD COLUMN status text NOT NULL DEFAULT 'trained';
ALTER TABLE recsys.model_history
	ADD COLUMN version bigint,
	ADD COLUMN status text NOT NULL DEFAULT 'trained',
	ADD COLUMN reason text,
	ALTER COLUMN replaced_at DROP NOT NULL;

-- rows from before versions: numbered per name and owner in the order they
-- were replaced, the live model after all of them
UPDATE recsys.model_history AS h SET version = n.version
	FROM (SELECT k.ctid AS row_id,
				 pg_catalog.row_number() OVER (PARTITION BY k.name, k.owner
											   ORDER BY k.replaced_at, k.trained_at) AS version
		  FROM recsys.model_history AS k) AS n
	WHERE h.ctid OPERATOR(pg_catalog.=) n.row_id;
UPDATE recsys.models AS r
	SET version = COALESCE((SELECT pg_catalog.max(h.version) FROM recsys.model_history AS h
							WHERE h.name OPERATOR(pg_catalog.=) r.name
							  AND h.owner::pg_catalog.oid OPERATOR(pg_catalog.=) r.owner::pg_catalog.oid),
						   0) + 1;
UPDATE recsys.models SET last_version = version;

ALTER TABLE recsys.model_history ALTER COLUMN version SET NOT NULL;
ALTER TABLE recsys.models
	ADD CONSTRAINT models_version_check CHECK (version >= 1 AND last_version >= version),
	ADD CONSTRAINT models_status_check CHECK (status IN ('trained', 'promoted', 'rejected', 'tuned'));
ALTER TABLE recsys.model_history
	ADD CONSTRAINT model_history_status_check CHECK (status IN ('trained', 'promoted', 'rejected', 'tuned'));
-- a role can only write history rows it owns, so its ids never collide with another's
CREATE UNIQUE INDEX model_history_name_owner_version
	ON recsys.model_history (name, owner, version);

COMMENT ON COLUMN recsys.models.version IS
	'the id of the live version: ids grow by one with every model trained into the name (recsys.model_versions lists them)';
COMMENT ON COLUMN recsys.models.last_version IS
	'the highest version id given out for the name, live or not (the next training gets last_version + 1)';
COMMENT ON COLUMN recsys.models.status IS
	'how the live version came to be: trained (train, retrain), promoted (a retrain whose promote_if rule held), tuned (recsys.tune), rejected (a rejected candidate deployed by hand)';
COMMENT ON COLUMN recsys.model_history.version IS 'the version id (see recsys.models.version)';
COMMENT ON COLUMN recsys.model_history.status IS
	'trained, promoted, tuned, or rejected: a retrain candidate that failed its promote_if rule and never went live';
COMMENT ON COLUMN recsys.model_history.reason IS
	'for a rejected candidate: the rule and the two metric values that failed it';
COMMENT ON COLUMN recsys.model_history.replaced_at IS
	'when the version last stopped being live; NULL for a rejected candidate that never was';

DROP FUNCTION recsys.retrain(text);
CREATE FUNCTION recsys.retrain(name text, promote_if jsonb DEFAULT NULL) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'registry_retrain'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.retrain(text, jsonb) IS
	'retrains the named model from its stored source query, options and search_path as the row''s owner; with promote_if {"metric": ..., "min_ratio": ...} the candidate goes live only if its metric on the stored eval_query holds against the live model''s on the same query, else it is kept as a rejected version; returns the new model_info with version and status';

CREATE FUNCTION recsys.model_versions(name text)
	RETURNS TABLE(version bigint, trained_at timestamptz, algorithm text, options jsonb,
				  metrics jsonb, live boolean, status text, reason text,
				  replaced_at timestamptz)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target		CONSTANT text := $1;
	live_row	record;
BEGIN
	SELECT r.version, r.trained_at, r.model, r.options, r.metrics, r.status, r.owner
		INTO live_row
		FROM recsys.models AS r WHERE r.name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', pg_catalog.left(target, 64)
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN QUERY
		SELECT live_row.version, live_row.trained_at,
			   recsys.model_info(live_row.model) ->> 'algorithm', live_row.options,
			   live_row.metrics, true, live_row.status, NULL::text, NULL::timestamptz
		UNION ALL
		SELECT h.version, h.trained_at, recsys.model_info(h.model) ->> 'algorithm',
			   h.options, h.metrics, false, h.status, h.reason, h.replaced_at
		FROM recsys.model_history AS h
		WHERE h.name = target AND h.owner::oid = live_row.owner::oid
		ORDER BY 1;
END
$$;
COMMENT ON FUNCTION recsys.model_versions(text) IS
	'the kept versions of the named model, oldest first: id, when trained, algorithm, options, metrics (its eval_query''s or, tuned, its validation metrics), whether it is live, status (trained, promoted, rejected, tuned), why it was rejected; the owner sees every version, a reader only the live one';

CREATE FUNCTION recsys.deploy(name text, version bigint) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target		CONSTANT text := $1;
	wanted		CONSTANT bigint := $2;
	live_row	record;
	chosen		record;
BEGIN
	SELECT r.owner, r.version INTO live_row FROM recsys.models AS r WHERE r.name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', pg_catalog.left(target, 64)
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_catalog.pg_has_role(live_row.owner, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for model "%"', pg_catalog.left(target, 64)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Only its owner (or a member of the owning role) may deploy its versions.';
	END IF;
	SELECT r.owner, r.version INTO live_row
		FROM recsys.models AS r WHERE r.name = target FOR UPDATE;
	IF live_row.version = wanted THEN
		RETURN recsys.model_info(target)
			|| pg_catalog.jsonb_build_object('version', wanted, 'live', true);
	END IF;
	SELECT h.ctid AS row_id, h.model, h.source, h.options, h.trained_at, h.metrics,
		   h.search_path, h.status
		INTO chosen
		FROM recsys.model_history AS h
		WHERE h.name = target AND h.owner::oid = live_row.owner::oid AND h.version = wanted
		FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no version %', pg_catalog.left(target, 64), wanted
			USING ERRCODE = 'undefined_object',
				  HINT = 'recsys.model_versions(name) lists the kept versions.';
	END IF;
	-- the live version becomes a kept one, the chosen one takes its place
	INSERT INTO recsys.model_history
		(name, owner, model, source, options, trained_at, metrics, search_path,
		 replaced_at, version, status)
		SELECT r.name, r.owner, r.model, r.source, r.options, r.trained_at, r.metrics,
			   r.search_path, pg_catalog.clock_timestamp(), r.version, r.status
		FROM recsys.models AS r WHERE r.name = target;
	UPDATE recsys.models AS r
		SET model = chosen.model, source = chosen.source, options = chosen.options,
			trained_at = chosen.trained_at, metrics = chosen.metrics,
			search_path = chosen.search_path, version = wanted, status = chosen.status
		WHERE r.name = target;
	DELETE FROM recsys.model_history AS h WHERE h.ctid = chosen.row_id;
	RETURN recsys.model_info(chosen.model)
		|| pg_catalog.jsonb_build_object('version', wanted, 'live', true);
END
$$;
COMMENT ON FUNCTION recsys.deploy(text, bigint) IS
	'makes a kept version of the named model live (forward or back): the live one becomes a kept version, serving by name uses the deployed one at once; only the owner may; returns its model_info with version';

CREATE OR REPLACE FUNCTION recsys.rollback(name text) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target		CONSTANT text := $1;
	live_row	record;
	previous	bigint;
BEGIN
	SELECT r.owner, r.version INTO live_row FROM recsys.models AS r WHERE r.name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', pg_catalog.left(target, 64)
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_catalog.pg_has_role(live_row.owner, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for model "%"', pg_catalog.left(target, 64)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Only its owner (or a member of the owning role) may roll it back.';
	END IF;
	-- the previous version: below the live one, and once live or meant to be
	-- (a rejected candidate never was); the live one stays kept, so deploy can
	-- bring it back
	SELECT r.owner, r.version INTO live_row
		FROM recsys.models AS r WHERE r.name = target FOR UPDATE;
	SELECT pg_catalog.max(h.version) INTO previous
		FROM recsys.model_history AS h
		WHERE h.name = target AND h.owner::oid = live_row.owner::oid
		  AND h.version < live_row.version AND h.status <> 'rejected';
	IF previous IS NULL THEN
		RAISE EXCEPTION 'model "%" has no previous version to roll back to', pg_catalog.left(target, 64)
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'recsys.train and recsys.retrain keep the models they replace in recsys.model_history.';
	END IF;
	RETURN recsys.deploy(target, previous);
END
$$;
COMMENT ON FUNCTION recsys.rollback(text) IS
	'deploys the previous version of the named model: the highest kept version below the live one that was not rejected (the live one stays kept, so recsys.deploy can go forward again); returns its model_info';

-- ---------------------------------------------------------------------------
-- Hyperparameter search (src/tune.c): recsys.tune trains trials on a split of
-- the source rows, records them in recsys.tuning_trials and registers the best
-- configuration, retrained on all rows, as a new version of the model.
-- ---------------------------------------------------------------------------

CREATE TABLE recsys.tuning_trials (
	name		text NOT NULL,
	owner		regrole NOT NULL
		DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER::text)),
	version		bigint NOT NULL,
	trial		integer NOT NULL,
	algorithm	text NOT NULL,
	options		jsonb NOT NULL,
	metrics		jsonb,
	score		double precision,
	seconds		double precision NOT NULL,
	error		text,
	best		boolean NOT NULL DEFAULT false,
	tuned_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (name, owner, version, trial)
);
COMMENT ON TABLE recsys.tuning_trials IS
	'every trial of recsys.tune: the configuration it trained on the training side of the split and its metrics on the validation side; rows of one search share name and version (the version it registered)';
COMMENT ON COLUMN recsys.tuning_trials.name IS 'the model (recsys.models.name) the search registered';
COMMENT ON COLUMN recsys.tuning_trials.owner IS 'the model''s owner: only roles with its privileges see the rows';
COMMENT ON COLUMN recsys.tuning_trials.version IS 'the version the search registered (recsys.model_versions)';
COMMENT ON COLUMN recsys.tuning_trials.trial IS 'the trial''s number in its search, from 1';
COMMENT ON COLUMN recsys.tuning_trials.algorithm IS 'the algorithm it trained';
COMMENT ON COLUMN recsys.tuning_trials.options IS 'the options it drew from the search space (the others kept their defaults)';
COMMENT ON COLUMN recsys.tuning_trials.metrics IS 'recsys.evaluate''s metrics on the validation rows; NULL if the trial failed';
COMMENT ON COLUMN recsys.tuning_trials.score IS 'the value of the search''s metric; NULL if failed or undefined';
COMMENT ON COLUMN recsys.tuning_trials.seconds IS 'wall-clock time of training and validation';
COMMENT ON COLUMN recsys.tuning_trials.error IS 'why the trial failed (out of memory, over recsys.max_train_mb, refused data), or NULL';
COMMENT ON COLUMN recsys.tuning_trials.best IS 'the trial whose configuration was registered';
COMMENT ON COLUMN recsys.tuning_trials.tuned_at IS 'when the search ran (its transaction''s start)';
SELECT pg_catalog.pg_extension_config_dump('recsys.tuning_trials', '');

ALTER TABLE recsys.tuning_trials ENABLE ROW LEVEL SECURITY;
CREATE POLICY tuning_trials_owner ON recsys.tuning_trials
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE'));
COMMENT ON POLICY tuning_trials_owner ON recsys.tuning_trials IS
	'trials are seen and changed by the model''s owner (and members of the owning role) only';
-- recsys.tune writes as the caller, who must also be allowed to train (the
-- registry's privileges); the rows themselves are each owner's
GRANT SELECT, INSERT, DELETE ON recsys.tuning_trials TO PUBLIC;

CREATE FUNCTION recsys.tune(name text, source_query text, search jsonb DEFAULT '{}')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'tune'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.tune(text, text, jsonb) IS
	'random or grid search over algorithms and options on a train/validation split of the source query (run once, as the model''s owner); records every trial in recsys.tuning_trials and registers the best configuration, retrained on all rows, as a new live version (status tuned) with its validation metrics; returns its model_info with version, trial and score';

CREATE FUNCTION recsys.blas_info(OUT library text, OUT core text, OUT config text,
								 OUT max_threads integer, OUT cpu_avx2 boolean,
								 OUT cpu_avx512 boolean, OUT suggested_core text)
	RETURNS record
	AS 'MODULE_PATHNAME', 'blas_info'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.blas_info() IS
	'the OpenBLAS this backend runs: library file, kernel family (core), build configuration, most threads that may call it, the CPU''s AVX2/AVX-512, and the OPENBLAS_CORETYPE to set when the core is older than the CPU (NULL when it is not)';

-- the neighbourhood models' defaults from bench/60_defaults.sh
COMMENT ON AGGREGATE recsys.train_knn(bigint, bigint, real) IS
	'trains an item-based neighbourhood model (Jaccard, 100 neighbours, shrinkage 100) with default options';
COMMENT ON AGGREGATE recsys.train_ease(bigint, bigint, real) IS
	'trains an EASE item-item model (closed form; binary values, lambda 1000, 200 neighbours) with default options';
COMMENT ON AGGREGATE recsys.train_ease(bigint, bigint, real, jsonb) IS
	'trains an EASE item-item model (regularization, neighbours, max_items, values)';

-- ---------------------------------------------------------------------------
-- Sharding (README "Scaling out: sharding"): interactions partitioned by hash of
-- user_id over postgres_fdw foreign tables.  recsys.publish copies a registry
-- model to every shard; grouped by the partition key, the serving helpers and
-- the per-row ALS solves run on the shards (postgres_fdw's extensions 'recsys'
-- option ships them) and only their results come back.
-- ---------------------------------------------------------------------------

CREATE TYPE recsys.factor_row AS (factors recsys.vec, bias real, n integer, loss double precision);
COMMENT ON TYPE recsys.factor_row IS
	'what recsys.solve_users and recsys.solve_items return per row: its factors, its bias (0 without biases), its distinct interactions and its share of the ALS objective';

CREATE FUNCTION recsys.solve_transfn(internal, bigint, bigint, real, recsys.model, jsonb)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'solve_transfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.solve_transfn(internal, bigint, bigint, real, recsys.model, jsonb) IS
	'transition function of recsys.solve_users and recsys.solve_items: collects the interactions of one group';

CREATE FUNCTION recsys.solve_users_final(internal) RETURNS recsys.factor_row
	AS 'MODULE_PATHNAME', 'solve_users_final'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.solve_users_final(internal) IS
	'final function of recsys.solve_users: the ALS solve of one user against the item factors of the model';

CREATE FUNCTION recsys.solve_items_final(internal) RETURNS recsys.factor_row
	AS 'MODULE_PATHNAME', 'solve_items_final'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.solve_items_final(internal) IS
	'final function of recsys.solve_items: the ALS solve of one item against the user factors of the model';

CREATE AGGREGATE recsys.solve_users(user_id bigint, item_id bigint, value real,
									items recsys.model, options jsonb) (
	SFUNC = recsys.solve_transfn,
	STYPE = internal,
	FINALFUNC = recsys.solve_users_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.solve_users(bigint, bigint, real, recsys.model, jsonb) IS
	'one explicit ALS user solve per group (GROUP BY user_id) against the item factors, item biases and global mean of the model (a constant or parameter: the same value for every row), with the als options given; the step recsys.train_distributed runs on each shard';

CREATE AGGREGATE recsys.solve_items(item_id bigint, user_id bigint, value real,
									users recsys.model, options jsonb) (
	SFUNC = recsys.solve_transfn,
	STYPE = internal,
	FINALFUNC = recsys.solve_items_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.solve_items(bigint, bigint, real, recsys.model, jsonb) IS
	'one explicit ALS item solve per group (GROUP BY item_id) against the user factors and biases of the model (a constant or parameter: the same value for every row); its loss adds the item''s squared residuals';

CREATE FUNCTION recsys.factor_model(options jsonb, user_ids bigint[], item_ids bigint[],
									user_factors recsys.vec[] DEFAULT NULL,
									item_factors recsys.vec[] DEFAULT NULL,
									user_bias real[] DEFAULT NULL,
									item_bias real[] DEFAULT NULL,
									item_counts integer[] DEFAULT NULL,
									global_mean real DEFAULT 0,
									rating_min real DEFAULT NULL,
									rating_max real DEFAULT NULL,
									train_loss double precision DEFAULT NULL,
									iterations integer DEFAULT 0,
									algorithm text DEFAULT 'als')
	RETURNS recsys.model
	AS 'MODULE_PATHNAME', 'factor_model'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.factor_model(jsonb, bigint[], bigint[], recsys.vec[], recsys.vec[], real[], real[], integer[], real, real, real, double precision, integer, text) IS
	'a factor model (algorithm als or ials, with that algorithm''s options) from its parts: ascending ids, one factor vector per id (NULL: the initial factors training starts from with options.seed), biases and item counts (NULL: zeros; ials has no biases and a global mean of 0); it keeps no interactions';

CREATE FUNCTION recsys.factor_gram_product(m recsys.model) RETURNS double precision
	AS 'MODULE_PATHNAME', 'factor_gram_product'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.factor_gram_product(recsys.model) IS
	'the sum over every (user, item) pair of the squared score x_u . y_i, from the Gram matrices of the two factor sides: the unobserved pairs'' part of the implicit ALS objective, which recsys.train_distributed adds to the per-row losses';

CREATE FUNCTION recsys.train_distributed(by_user regclass, by_item regclass,
										 value_column name DEFAULT 'rating',
										 options jsonb DEFAULT '{}',
										 algorithm text DEFAULT 'als')
	RETURNS recsys.model
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	SET enable_partitionwise_aggregate = on
AS $$
DECLARE
	opts		jsonb := COALESCE(options, '{}');
	iterations	integer;
	report		boolean;
	users		bigint[];
	items		bigint[];
	user_f		recsys.vec[];
	item_f		recsys.vec[];
	user_b		real[];
	item_b		real[];
	counts		integer[];
	mu			real;
	vmin		real;
	vmax		real;
	user_loss	double precision;
	item_loss	double precision;
	loss		double precision;
	m			recsys.model;
	started		timestamptz;
	explicit	boolean;
	scale		real;
BEGIN
	IF by_user IS NULL OR by_item IS NULL OR value_column IS NULL OR algorithm IS NULL THEN
		RAISE EXCEPTION 'by_user, by_item, value_column and algorithm must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF algorithm NOT IN ('als', 'ials') THEN
		RAISE EXCEPTION 'train_distributed trains als or ials, got "%"', pg_catalog.left(algorithm, 64)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	explicit := algorithm = 'als';
	-- the user ids and the mean, min and max value, summed per user on the shards
	EXECUTE format(
		'SELECT pg_catalog.array_agg(s.u ORDER BY s.u),
				(pg_catalog.sum(s.total) OPERATOR(pg_catalog./) pg_catalog.sum(s.n))::pg_catalog.float4,
				pg_catalog.min(s.lo), pg_catalog.max(s.hi)
		 FROM (SELECT t.user_id, pg_catalog.sum(t.%1$I::pg_catalog.float4::pg_catalog.float8),
					  pg_catalog.count(t.%1$I), pg_catalog.min(t.%1$I::pg_catalog.float4),
					  pg_catalog.max(t.%1$I::pg_catalog.float4)
			   FROM %2$s AS t
			   WHERE t.item_id IS NOT NULL AND t.%1$I IS NOT NULL
			   GROUP BY t.user_id) AS s(u, total, n, lo, hi)
		 WHERE s.u IS NOT NULL', value_column, by_user)
		INTO users, mu, vmin, vmax;
	EXECUTE format(
		'SELECT pg_catalog.array_agg(s.i ORDER BY s.i)
		 FROM (SELECT t.item_id FROM %2$s AS t
			   WHERE t.user_id IS NOT NULL AND t.%1$I IS NOT NULL
			   GROUP BY t.item_id) AS s(i)
		 WHERE s.i IS NOT NULL', value_column, by_item)
		INTO items;
	IF users IS NULL OR items IS NULL THEN
		RAISE EXCEPTION 'train_distributed found no interactions in %', by_user
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- the initial model: train_als's initial factors for these ids (checks the options)
	IF NOT explicit THEN
		mu := 0;
	END IF;
	m := recsys.factor_model(opts, users, items, global_mean => mu,
							 rating_min => vmin, rating_max => vmax, algorithm => algorithm);
	-- implicit: alpha is scaled by the mean confidence excess of the interactions,
	-- as train_ials scales it, unless options.confidence_scale gives the scale
	IF NOT explicit
	   AND COALESCE((recsys.model_info(m) -> 'options' ->> 'confidence_scale')::float8, 0) <= 0 THEN
		EXECUTE format(
			'SELECT (pg_catalog.sum(s.total) OPERATOR(pg_catalog./) pg_catalog.sum(s.n))::pg_catalog.float4
			 FROM (SELECT t.user_id,
						  pg_catalog.sum(CASE WHEN $1
								THEN pg_catalog.ln(1::pg_catalog.float8 OPERATOR(pg_catalog.+)
									pg_catalog.abs(t.%1$I::pg_catalog.float4)::pg_catalog.float8
									OPERATOR(pg_catalog./) $2)::pg_catalog.float4
								ELSE pg_catalog.abs(t.%1$I::pg_catalog.float4) END::pg_catalog.float8),
						  pg_catalog.count(t.%1$I)
				   FROM %2$s AS t
				   WHERE t.user_id IS NOT NULL AND t.item_id IS NOT NULL AND t.%1$I IS NOT NULL
				   GROUP BY t.user_id) AS s(u, total, n)', value_column, by_user)
			INTO scale
			USING (recsys.model_info(m) -> 'options' ->> 'confidence') = 'log',
				  (recsys.model_info(m) -> 'options' ->> 'epsilon')::pg_catalog.float8;
		IF scale IS NULL OR NOT scale > 0 THEN
			scale := 1;
		END IF;
		opts := opts || pg_catalog.jsonb_build_object('confidence_scale', scale);
		m := recsys.factor_model(opts, users, items, global_mean => mu,
								 rating_min => vmin, rating_max => vmax, algorithm => algorithm);
	END IF;
	iterations := (recsys.model_info(m) -> 'options' ->> 'iterations')::integer;
	report := (recsys.model_info(m) -> 'options' ->> 'verbose')::boolean;

	FOR it IN 1 .. iterations LOOP
		started := pg_catalog.clock_timestamp();
		-- each shard solves its users against the broadcast item factors
		EXECUTE format(
			'SELECT pg_catalog.array_agg(s.id ORDER BY s.id),
					pg_catalog.array_agg((s.r).factors ORDER BY s.id),
					pg_catalog.array_agg((s.r).bias ORDER BY s.id),
					pg_catalog.sum((s.r).loss)
			 FROM (SELECT t.user_id,
						  recsys.solve_users(t.user_id, t.item_id, t.%1$I::pg_catalog.float4, $1, $2)
				   FROM %2$s AS t
				   WHERE t.user_id IS NOT NULL
				   GROUP BY t.user_id) AS s(id, r)', value_column, by_user)
			INTO users, user_f, user_b, user_loss
			USING m, opts;
		IF NOT explicit THEN
			user_b := NULL;
		END IF;
		m := recsys.factor_model(opts, users, items, user_f, item_f, user_b, item_b,
								 counts, mu, vmin, vmax, algorithm => algorithm);
		-- then its items (the copy by item) against the broadcast user factors
		EXECUTE format(
			'SELECT pg_catalog.array_agg(s.id ORDER BY s.id),
					pg_catalog.array_agg((s.r).factors ORDER BY s.id),
					pg_catalog.array_agg((s.r).bias ORDER BY s.id),
					pg_catalog.array_agg((s.r).n ORDER BY s.id),
					pg_catalog.sum((s.r).loss)
			 FROM (SELECT t.item_id,
						  recsys.solve_items(t.item_id, t.user_id, t.%1$I::pg_catalog.float4, $1, $2)
				   FROM %2$s AS t
				   WHERE t.item_id IS NOT NULL
				   GROUP BY t.item_id) AS s(id, r)', value_column, by_item)
			INTO items, item_f, item_b, counts, item_loss
			USING m, opts;
		IF NOT explicit THEN
			item_b := NULL;
		END IF;
		m := recsys.factor_model(opts, users, items, user_f, item_f, user_b, item_b,
								 counts, mu, vmin, vmax, NULL, it, algorithm);
		loss := user_loss + item_loss;
		IF NOT explicit THEN
			-- the unobserved pairs' part of the implicit objective
			loss := loss + recsys.factor_gram_product(m);
		END IF;
		m := recsys.factor_model(opts, users, items, user_f, item_f, user_b, item_b,
								 counts, mu, vmin, vmax, loss, it, algorithm);
		IF report THEN
			RAISE NOTICE 'train_distributed iteration % of %', it, iterations
				USING DETAIL = pg_catalog.format('loss %s, %s s', loss,
					pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()
						OPERATOR(pg_catalog.-) started)::pg_catalog.numeric, 3));
		END IF;
	END LOOP;
	-- option "index": the index train_als would build, once, on the final model
	IF opts OPERATOR(pg_catalog.?) 'index' THEN
		m := recsys.build_index(m, opts OPERATOR(pg_catalog.->) 'index');
	END IF;
	RETURN m;
END
$$;
COMMENT ON FUNCTION recsys.train_distributed(regclass, regclass, name, jsonb, text) IS
	'ALS (algorithm als, or ials for implicit feedback) over interactions partitioned by user (by_user) and a copy partitioned by item (by_item), both with columns user_id, item_id and value_column: each iteration solves the users on their shards against the item factors broadcast as a model value, then the items against the user factors (GROUP BY the partition key, shipped by postgres_fdw); from the same options it follows train_als''s (or train_ials''s) loss trajectory; returns the model';

CREATE FUNCTION recsys.publish(name text, servers text[]) RETURNS integer
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target		CONSTANT text := $1;
	row_owner	regrole;
	m			recsys.model;
	opts		jsonb;
	live		bigint;
	server		text;
	changed		bigint;
	published	integer := 0;
BEGIN
	SELECT r.owner, r.model, r.options, r.version INTO row_owner, m, opts, live
		FROM recsys.models AS r WHERE r.name = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', pg_catalog.left(target, 64)
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_catalog.pg_has_role(row_owner, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for model "%"', pg_catalog.left(target, 64)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Only its owner (or a member of the owning role) may publish it.';
	END IF;
	FOREACH server IN ARRAY servers LOOP
		IF server IS NULL THEN
			RAISE EXCEPTION 'servers must not contain NULL'
				USING ERRCODE = 'null_value_not_allowed';
		END IF;
		-- the shard's registry, reached through the caller's user mapping: its
		-- row-level security decides what the mapped role may write there
		EXECUTE format('CREATE FOREIGN TABLE pg_temp.recsys_publish_target
						(name text, model recsys.model, options jsonb, trained_at timestamptz,
						 version bigint, last_version bigint)
						SERVER %I OPTIONS (schema_name %L, table_name %L)',
					   server, 'recsys', 'models');
		-- the copy carries the coordinator's version id
		UPDATE pg_temp.recsys_publish_target AS r
			SET model = m, options = opts, trained_at = pg_catalog.now(), version = live,
				last_version = GREATEST(r.last_version, live)
			WHERE r.name = target;
		GET DIAGNOSTICS changed = ROW_COUNT;
		IF changed = 0 THEN
			INSERT INTO pg_temp.recsys_publish_target
				(name, model, options, trained_at, version, last_version)
				VALUES (target, m, opts, pg_catalog.now(), live, live);
		END IF;
		DROP FOREIGN TABLE pg_temp.recsys_publish_target;
		published := published + 1;
	END LOOP;
	RETURN published;
END
$$;
COMMENT ON FUNCTION recsys.publish(text, text[]) IS
	'copies the live version of the named model (the caller must have its owner''s privileges), with its version id, into recsys.models on each postgres_fdw server given, through the caller''s user mappings, as the role each mapping logs in as (the shards'' row-level security applies); returns the number of servers';

-- Serving and evaluating on the shards: an aggregate grouped by user_id is what
-- postgres_fdw ships whole to the shard that holds the user (it ships no
-- set-returning or stable function call, and aggregates carry no volatility).
-- The model is named in a jsonb argument: postgres_fdw does not ship a call with
-- a text constant argument, whose collation it cannot vouch for.
CREATE FUNCTION recsys.recommend_items_transfn(state internal, user_id bigint,
											   seen_item bigint, options jsonb)
	RETURNS internal
	LANGUAGE C PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'recommend_items_transfn';
COMMENT ON FUNCTION recsys.recommend_items_transfn(internal, bigint, bigint, jsonb) IS
	'transition function of recsys.recommend_items: keeps the group''s user, options and seen items';

CREATE FUNCTION recsys.recommend_items_serve(user_id bigint, seen bigint[], options jsonb)
	RETURNS bigint[]
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	opts	CONSTANT jsonb := COALESCE(options, '{}');
	n		integer;
	result	bigint[];
BEGIN
	IF user_id IS NULL THEN
		RETURN NULL;
	END IF;
	IF pg_catalog.jsonb_typeof(opts -> 'model') IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'option "model" of recommend_items must name a model'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF opts ? 'n' AND (pg_catalog.jsonb_typeof(opts -> 'n') IS DISTINCT FROM 'number'
					   OR (opts ->> 'n')::numeric NOT BETWEEN 0 AND 100000
					   OR (opts ->> 'n')::numeric <> pg_catalog.trunc((opts ->> 'n')::numeric)) THEN
		RAISE EXCEPTION 'option "n" of recommend_items must be an integer between 0 and 100000, got %',
			pg_catalog.left(opts ->> 'n', 64)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	n := COALESCE((opts ->> 'n')::integer, 10);
	SELECT pg_catalog.array_agg(r.item_id ORDER BY r.rank) INTO result
		FROM recsys.recommend(opts ->> 'model', recommend_items_serve.user_id, n, true,
							  NULL::bigint[], seen) AS r;
	RETURN COALESCE(result, '{}'::bigint[]);
END
$$;
COMMENT ON FUNCTION recsys.recommend_items_serve(bigint, bigint[], jsonb) IS
	'what recsys.recommend_items returns for one user: recsys.recommend by name (options.model, options.n, default 10), best first, leaving out the seen items';

CREATE FUNCTION recsys.recommend_items_final(state internal)
	RETURNS bigint[]
	LANGUAGE C STABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'recommend_items_final';
COMMENT ON FUNCTION recsys.recommend_items_final(internal) IS
	'final function of recsys.recommend_items: recsys.recommend_items_serve for the group''s user';

CREATE AGGREGATE recsys.recommend_items(user_id bigint, seen_item bigint, options jsonb) (
	SFUNC = recsys.recommend_items_transfn,
	STYPE = internal,
	FINALFUNC = recsys.recommend_items_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.recommend_items(bigint, bigint, jsonb) IS
	'the item ids recsys.recommend returns for the group''s user (GROUP BY user_id) with the model named by options.model and options.n (default 10), best first, leaving out the group''s non-NULL seen_item values: grouped by the partition key, postgres_fdw runs it on the shard that holds the user';

-- Approximate top-N: recsys.build_index returns a factor model
-- with an inverted-file index over its item factors (format v2 section "ANN
-- index"); recommend, recommend_by_vector and recommend_all probe it when the
-- model has one, with a per-call probes count and exact => true for the exact
-- path.  One signature change for the three.
CREATE FUNCTION recsys.build_index(m recsys.model, options jsonb DEFAULT '{}')
	RETURNS recsys.model
	AS 'MODULE_PATHNAME', 'build_index'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.build_index(recsys.model, jsonb) IS
	'the factor model m with an approximate top-N index over its item factors (k-means lists of the inner-product-to-cosine transformed rows; options lists, probes, iterations, sample, seed, store_vectors; train_als and train_ials build the same index with their option "index"), replacing any index m had; serving probes it unless called with exact => true';

DROP FUNCTION recsys.recommend(recsys.model, bigint, integer, boolean, bigint[], bigint[], real);
DROP FUNCTION recsys.recommend(text, bigint, integer, boolean, bigint[], bigint[], real);
DROP FUNCTION recsys.recommend_by_vector(recsys.model, recsys.vec, integer, bigint[], bigint[], real);
DROP FUNCTION recsys.recommend_by_vector(text, recsys.vec, integer, bigint[], bigint[], real);
DROP FUNCTION recsys.recommend_all(recsys.model, integer, bigint[], boolean, bigint[], bigint[], real);
DROP FUNCTION recsys.recommend_all(text, integer, bigint[], boolean, bigint[], bigint[], real);

CREATE FUNCTION recsys.recommend(m recsys.model, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL,
								 diversity real DEFAULT 0,
								 probes integer DEFAULT NULL,
								 exact boolean DEFAULT false)
	RETURNS TABLE(item_id bigint, score real, rank integer, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_user'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend(recsys.model, bigint, integer, boolean, bigint[], bigint[], real, integer, boolean) IS
	'the user''s n best items, best first (rank 1): unseen (exclude_seen), among candidates, not in exclude, re-ranked by maximal marginal relevance for diversity in (0, 1]; an unknown or NULL user gets the most popular items (fallback true); a model with an index (build_index) ranks the items of its probes best lists (NULL: the index''s default) unless exact';

CREATE FUNCTION recsys.recommend(name text, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL,
								 diversity real DEFAULT 0,
								 probes integer DEFAULT NULL,
								 exact boolean DEFAULT false)
	RETURNS TABLE(item_id bigint, score real, rank integer, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_user_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend(text, bigint, integer, boolean, bigint[], bigint[], real, integer, boolean) IS
	'recommend with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_by_vector(m recsys.model, user_vector recsys.vec,
										   n integer DEFAULT 10,
										   candidates bigint[] DEFAULT NULL,
										   exclude bigint[] DEFAULT NULL,
										   diversity real DEFAULT 0,
										   probes integer DEFAULT NULL,
										   exact boolean DEFAULT false)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_vector'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_vector(recsys.model, recsys.vec, integer, bigint[], bigint[], real, integer, boolean) IS
	'the n best items for a user vector (e.g. from fold_in), best first (rank 1), among candidates, not in exclude, re-ranked for diversity; through the model''s index (probes lists) unless exact (0.1.0: recommend(m, vec, ...))';

CREATE FUNCTION recsys.recommend_by_vector(name text, user_vector recsys.vec,
										   n integer DEFAULT 10,
										   candidates bigint[] DEFAULT NULL,
										   exclude bigint[] DEFAULT NULL,
										   diversity real DEFAULT 0,
										   probes integer DEFAULT NULL,
										   exact boolean DEFAULT false)
	RETURNS TABLE(item_id bigint, score real, rank integer)
	AS 'MODULE_PATHNAME', 'recommend_vector_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_by_vector(text, recsys.vec, integer, bigint[], bigint[], real, integer, boolean) IS
	'recommend_by_vector with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_all(m recsys.model, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL,
									 exclude_seen boolean DEFAULT true,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL,
									 diversity real DEFAULT 0,
									 probes integer DEFAULT NULL,
									 exact boolean DEFAULT false)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_all'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10000 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_all(recsys.model, integer, bigint[], boolean, bigint[], bigint[], real, integer, boolean) IS
	'the n best items of every user (or of the listed users), unseen (exclude_seen), among candidates, not in exclude, scored in blocks with SGEMM on recsys.threads threads (through the model''s index, probes lists per user, unless exact or with candidates), re-ranked for diversity; unknown users get the most popular items (fallback true)';

CREATE FUNCTION recsys.recommend_all(name text, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL,
									 exclude_seen boolean DEFAULT true,
									 candidates bigint[] DEFAULT NULL,
									 exclude bigint[] DEFAULT NULL,
									 diversity real DEFAULT 0,
									 probes integer DEFAULT NULL,
									 exact boolean DEFAULT false)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real, fallback boolean)
	AS 'MODULE_PATHNAME', 'recommend_all_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10000 SUPPORT recsys.serving_support;
COMMENT ON FUNCTION recsys.recommend_all(text, integer, bigint[], boolean, bigint[], bigint[], real, integer, boolean) IS
	'recommend_all with the named model in recsys.models';

-- build_index by name: the registry row's live model gains the index in place
-- (as the caller: row-level security lets only the owner's roles update it)
CREATE FUNCTION recsys.build_index(name text, options jsonb DEFAULT '{}')
	RETURNS jsonb
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	info jsonb;
BEGIN
	IF name IS NULL OR options IS NULL THEN
		RAISE EXCEPTION 'build_index: name and options must not be NULL' USING ERRCODE = '22004';
	END IF;
	-- the row's training options gain "index", so that retrain builds it again
	UPDATE recsys.models AS m SET model = recsys.build_index(m.model, build_index.options),
			options = COALESCE(m.options, '{}'::jsonb)
				OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('index', build_index.options)
		WHERE m.name OPERATOR(pg_catalog.=) build_index.name
		RETURNING recsys.model_info(m.model) OPERATOR(pg_catalog.->) 'index' INTO info;
	IF NOT FOUND THEN
		-- a row the caller may read but not change: a reader of someone's model
		IF EXISTS (SELECT FROM recsys.models AS m WHERE m.name OPERATOR(pg_catalog.=) build_index.name) THEN
			RAISE EXCEPTION 'permission denied to build the index of model "%"', name USING ERRCODE = '42501',
				HINT = 'Only the model''s owner may build its index.';
		END IF;
		RAISE EXCEPTION 'model "%" does not exist', name USING ERRCODE = '42704';
	END IF;
	RETURN info;
END $$;
COMMENT ON FUNCTION recsys.build_index(text, jsonb) IS
	'builds the approximate top-N index into the named registry model (its owner only; the live model is replaced in place, later calls serve through it) and records the options as the row''s training option "index", so retrain builds the same index; returns model_info''s index entry';
