/*
 * Synthetic data with a planted truth, and the deterministic train/test split.
 */

CREATE FUNCTION recsys.synthetic_ratings_support(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'synthetic_ratings_support'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.synthetic_ratings_support(internal) IS
'planner support for recsys.synthetic_ratings: estimates n_ratings rows when it is a constant';

-- IMMUTABLE: the rows are a pure function of the arguments (own generators, no
-- random(), no settings read), the same way the built-in float functions are.
CREATE FUNCTION recsys.synthetic_ratings(
	n_users int,
	n_items int,
	n_ratings bigint,
	rank int DEFAULT 8,
	noise float8 DEFAULT 0.5,
	seed bigint DEFAULT 42,
	implicit bool DEFAULT false)
RETURNS TABLE (user_id bigint, item_id bigint, rating real)
AS 'MODULE_PATHNAME', 'synthetic_ratings'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
ROWS 100000
SUPPORT recsys.synthetic_ratings_support;

COMMENT ON FUNCTION recsys.synthetic_ratings(int, int, bigint, int, float8, bigint, bool) IS
'synthetic ratings with a planted low-rank truth and power-law item popularity: distinct (user_id, item_id) pairs, ids from 1, explicit ratings on a 1..5 scale or implicit positive counts; deterministic per seed';

CREATE FUNCTION recsys.fold(user_id bigint, item_id bigint, folds int, seed int DEFAULT 42)
RETURNS int
AS 'MODULE_PATHNAME', 'recsys_fold'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.fold(bigint, bigint, int, int) IS
'deterministic fold number in [0, folds) from a hash of (seed, user_id, item_id): WHERE recsys.fold(user_id, item_id, 5) <> 0 is an 80% train set';
