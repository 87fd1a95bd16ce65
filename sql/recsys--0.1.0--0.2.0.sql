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
-- Serving for drivers and products (issue 12): recommend(m, vec, ...) becomes
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

-- synthetic_ratings learns realistic implicit shapes (issue 10): a popularity
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

-- Serving for products (issue 12): a diversity argument (greedy maximal marginal
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

-- explain (issue 12): the terms of an item's score, one per history item, that
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

-- the neighbourhood models' defaults from bench/60_defaults.sh (issue 10)
COMMENT ON AGGREGATE recsys.train_knn(bigint, bigint, real) IS
	'trains an item-based neighbourhood model (Jaccard, 100 neighbours, shrinkage 100) with default options';
COMMENT ON AGGREGATE recsys.train_ease(bigint, bigint, real) IS
	'trains an EASE item-item model (closed form; binary values, lambda 1000, 200 neighbours) with default options';
COMMENT ON AGGREGATE recsys.train_ease(bigint, bigint, real, jsonb) IS
	'trains an EASE item-item model (regularization, neighbours, max_items, values)';
