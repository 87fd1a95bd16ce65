-- Serving: top-N recommendations, similar items and users, fold-in, batch
-- recommendations, each by model value (IMMUTABLE: the answer depends only on
-- the arguments) and by registry name (STABLE: it reads recsys.models).

CREATE FUNCTION recsys.recommend(m recsys.model, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_user'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend(recsys.model, bigint, integer, boolean, bigint[], bigint[]) IS
	'the user''s n best items, best first: unseen (exclude_seen), among candidates, not in exclude; an unknown user gets the most popular items';

CREATE FUNCTION recsys.recommend(name text, user_id bigint, n integer DEFAULT 10,
								 exclude_seen boolean DEFAULT true,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_user_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend(text, bigint, integer, boolean, bigint[], bigint[]) IS
	'recommend with the named model in recsys.models';

CREATE FUNCTION recsys.recommend(m recsys.model, user_vector recsys.vec, n integer DEFAULT 10,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_vector'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend(recsys.model, recsys.vec, integer, bigint[], bigint[]) IS
	'the n best items for a user vector (e.g. from fold_in), best first, among candidates, not in exclude';

CREATE FUNCTION recsys.recommend(name text, user_vector recsys.vec, n integer DEFAULT 10,
								 candidates bigint[] DEFAULT NULL,
								 exclude bigint[] DEFAULT NULL)
	RETURNS TABLE(item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_vector_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.recommend(text, recsys.vec, integer, bigint[], bigint[]) IS
	'recommend for a user vector with the named model in recsys.models';

CREATE FUNCTION recsys.recommend_all(m recsys.model, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_all'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 10000;
COMMENT ON FUNCTION recsys.recommend_all(recsys.model, integer, bigint[]) IS
	'the n best unseen items of every user (or of the listed users), scored in blocks with SGEMM on recsys.threads threads';

CREATE FUNCTION recsys.recommend_all(name text, n integer DEFAULT 10,
									 users bigint[] DEFAULT NULL)
	RETURNS TABLE(user_id bigint, rank integer, item_id bigint, score real)
	AS 'MODULE_PATHNAME', 'recommend_all_by_name'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10000;
COMMENT ON FUNCTION recsys.recommend_all(text, integer, bigint[]) IS
	'recommend_all with the named model in recsys.models';

CREATE FUNCTION recsys.similar_items(m recsys.model, item_id bigint, n integer DEFAULT 10)
	RETURNS TABLE(id bigint, score real)
	AS 'MODULE_PATHNAME', 'similar_items'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.similar_items(recsys.model, bigint, integer) IS
	'the n items whose factors have the highest cosine similarity to the item''s, itself excluded';

CREATE FUNCTION recsys.similar_items(name text, item_id bigint, n integer DEFAULT 10)
	RETURNS TABLE(id bigint, score real)
	AS 'MODULE_PATHNAME', 'similar_items_by_name'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.similar_items(text, bigint, integer) IS
	'similar_items with the named model in recsys.models';

CREATE FUNCTION recsys.similar_users(m recsys.model, user_id bigint, n integer DEFAULT 10)
	RETURNS TABLE(id bigint, score real)
	AS 'MODULE_PATHNAME', 'similar_users'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.similar_users(recsys.model, bigint, integer) IS
	'the n users whose factors have the highest cosine similarity to the user''s, itself excluded';

CREATE FUNCTION recsys.similar_users(name text, user_id bigint, n integer DEFAULT 10)
	RETURNS TABLE(id bigint, score real)
	AS 'MODULE_PATHNAME', 'similar_users_by_name'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION recsys.similar_users(text, bigint, integer) IS
	'similar_users with the named model in recsys.models';

CREATE FUNCTION recsys.fold_in(m recsys.model, item_ids bigint[], "values" real[])
	RETURNS recsys.vec
	AS 'MODULE_PATHNAME', 'fold_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.fold_in(recsys.model, bigint[], real[]) IS
	'the user vector the model would learn from these interactions, solved against the fixed item factors without retraining';

CREATE FUNCTION recsys.fold_in(name text, item_ids bigint[], "values" real[])
	RETURNS recsys.vec
	AS 'MODULE_PATHNAME', 'fold_in_by_name'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.fold_in(text, bigint[], real[]) IS
	'fold_in with the named model in recsys.models';

CREATE FUNCTION recsys.model_cache()
	RETURNS TABLE(uuid uuid, algorithm text, n_users integer, n_items integer,
				  factors integer, bytes bigint, hits bigint)
	AS 'MODULE_PATHNAME', 'model_cache'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 4;
COMMENT ON FUNCTION recsys.model_cache() IS
	'the models cached in this backend, most recently used first, with their memory and reuse count';
