/*
 * recsys install script, assembled from sql/install/NN_*.sql (one file per component).
 */
\echo Use "CREATE EXTENSION recsys" to load this file. \quit
-- recsys.vec: a dense float4 vector with typmod vec(n), its operators, operator
-- classes, casts and aggregates.  Every function here is a pure function of its
-- arguments: IMMUTABLE, PARALLEL SAFE, and STRICT unless it is an aggregate step
-- that has to see NULLs.

CREATE TYPE vec;

CREATE FUNCTION vec_in(cstring, oid, integer) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_out(vec) RETURNS cstring
	AS 'MODULE_PATHNAME', 'vec_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_recv(internal, oid, integer) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_send(vec) RETURNS bytea
	AS 'MODULE_PATHNAME', 'vec_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME', 'vec_typmod_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME', 'vec_typmod_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE vec (
	INPUT = vec_in,
	OUTPUT = vec_out,
	RECEIVE = vec_recv,
	SEND = vec_send,
	TYPMOD_IN = vec_typmod_in,
	TYPMOD_OUT = vec_typmod_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = external
);

COMMENT ON TYPE vec IS 'dense float4 vector of 1 to 16000 dimensions, written [1,2.5,-3]; vec(n) fixes the dimension count';
COMMENT ON FUNCTION vec_in(cstring, oid, integer) IS 'text input of vec: [1,2.5,-3e-2]';
COMMENT ON FUNCTION vec_out(vec) IS 'text output of vec, the shortest form of each element that reads back exactly';
COMMENT ON FUNCTION vec_recv(internal, oid, integer) IS 'binary input of vec: int16 dimensions, int16 zero, float4 elements (big-endian)';
COMMENT ON FUNCTION vec_send(vec) IS 'binary output of vec: int16 dimensions, int16 zero, float4 elements (big-endian)';
COMMENT ON FUNCTION vec_typmod_in(cstring[]) IS 'reads the modifier of vec(n): n dimensions, 1 to 16000';
COMMENT ON FUNCTION vec_typmod_out(integer) IS 'prints the modifier of vec(n)';

-- Length coercion: ::vec(3) and vec(3) columns check the dimension count.
CREATE FUNCTION vec(vec, integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vec(vec, integer, boolean) IS 'checks a vec against the dimension count of vec(n) (the cast behind ::vec(n))';
CREATE CAST (vec AS vec) WITH FUNCTION vec(vec, integer, boolean) AS IMPLICIT;
COMMENT ON CAST (vec AS vec) IS 'enforces the dimension count of vec(n)';

-- Casts from and to arrays.  One C function serves the four array element types.
CREATE FUNCTION array_to_vec(real[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vec(double precision[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vec(numeric[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vec(integer[], integer, boolean) RETURNS vec
	AS 'MODULE_PATHNAME', 'array_to_vec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_to_float4_array(vec) RETURNS real[]
	AS 'MODULE_PATHNAME', 'vec_to_float4_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_to_float8_array(vec) RETURNS double precision[]
	AS 'MODULE_PATHNAME', 'vec_to_float8_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION array_to_vec(real[], integer, boolean) IS 'cast real[] to vec: one-dimensional, no NULLs, finite elements';
COMMENT ON FUNCTION array_to_vec(double precision[], integer, boolean) IS 'cast double precision[] to vec: one-dimensional, no NULLs, finite elements within float4 range';
COMMENT ON FUNCTION array_to_vec(numeric[], integer, boolean) IS 'cast numeric[] to vec: one-dimensional, no NULLs, finite elements within float4 range';
COMMENT ON FUNCTION array_to_vec(integer[], integer, boolean) IS 'cast integer[] to vec: one-dimensional, no NULLs (large integers round to the nearest float4)';
COMMENT ON FUNCTION vec_to_float4_array(vec) IS 'cast vec to real[]';
COMMENT ON FUNCTION vec_to_float8_array(vec) IS 'cast vec to double precision[]';

CREATE CAST (real[] AS vec) WITH FUNCTION array_to_vec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS vec) WITH FUNCTION array_to_vec(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS vec) WITH FUNCTION array_to_vec(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS vec) WITH FUNCTION array_to_vec(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (vec AS real[]) WITH FUNCTION vec_to_float4_array(vec) AS ASSIGNMENT;
CREATE CAST (vec AS double precision[]) WITH FUNCTION vec_to_float8_array(vec) AS ASSIGNMENT;

COMMENT ON CAST (real[] AS vec) IS 'a one-dimensional real[] without NULLs becomes a vec';
COMMENT ON CAST (double precision[] AS vec) IS 'a one-dimensional double precision[] without NULLs becomes a vec (elements narrowed to float4)';
COMMENT ON CAST (numeric[] AS vec) IS 'a one-dimensional numeric[] without NULLs becomes a vec (elements narrowed to float4)';
COMMENT ON CAST (integer[] AS vec) IS 'a one-dimensional integer[] without NULLs becomes a vec';
COMMENT ON CAST (vec AS real[]) IS 'the elements of a vec as real[]';
COMMENT ON CAST (vec AS double precision[]) IS 'the elements of a vec as double precision[]';

-- Distances and similarity (float8 results)
CREATE FUNCTION l2_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION negative_inner_product(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dot(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_dot' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_similarity(vec, vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_cosine_similarity' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION norm(vec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'vec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION l2_distance(vec, vec) IS 'Euclidean distance (the <-> operator)';
COMMENT ON FUNCTION negative_inner_product(vec, vec) IS 'minus the inner product, so ascending order is best first (the <#> operator)';
COMMENT ON FUNCTION cosine_distance(vec, vec) IS '1 - cosine similarity, NaN if either vector is zero (the <=> operator)';
COMMENT ON FUNCTION dot(vec, vec) IS 'inner product';
COMMENT ON FUNCTION cosine_similarity(vec, vec) IS 'cosine of the angle between two vectors, in [-1, 1]; NaN if either vector is zero';
COMMENT ON FUNCTION norm(vec) IS 'Euclidean length';

-- Vector-valued functions
-- NORMALIZE is an SQL keyword: unqualified normalize(x) always means
-- pg_catalog.normalize(text), so the vec version is called recsys.normalize(v);
-- l2_normalize(v) is the same function under a name that needs no schema.
CREATE FUNCTION "normalize"(vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dims(vec) RETURNS integer
	AS 'MODULE_PATHNAME', 'vec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION subvec(vec, start integer, count integer) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_subvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_add(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_sub(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_sub' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_mul(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_mul' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_concat(vec, vec) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_concat' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION "normalize"(vec) IS 'the vector scaled to length 1; the zero vector is returned unchanged (call it as recsys.normalize)';
COMMENT ON FUNCTION l2_normalize(vec) IS 'the vector scaled to length 1; the zero vector is returned unchanged (same as recsys.normalize)';
COMMENT ON FUNCTION dims(vec) IS 'number of dimensions';
COMMENT ON FUNCTION subvec(vec, integer, integer) IS 'count elements from position start (1-based), clipped to the vector like substring(); empty is an error';
COMMENT ON FUNCTION vec_add(vec, vec) IS 'element-wise sum (the + operator)';
COMMENT ON FUNCTION vec_sub(vec, vec) IS 'element-wise difference (the - operator)';
COMMENT ON FUNCTION vec_mul(vec, vec) IS 'element-wise product (the * operator)';
COMMENT ON FUNCTION vec_concat(vec, vec) IS 'concatenation (the || operator)';

CREATE OPERATOR <-> (LEFTARG = vec, RIGHTARG = vec, FUNCTION = l2_distance, COMMUTATOR = '<->');
CREATE OPERATOR <#> (LEFTARG = vec, RIGHTARG = vec, FUNCTION = negative_inner_product, COMMUTATOR = '<#>');
CREATE OPERATOR <=> (LEFTARG = vec, RIGHTARG = vec, FUNCTION = cosine_distance, COMMUTATOR = '<=>');
CREATE OPERATOR + (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_add, COMMUTATOR = +);
CREATE OPERATOR - (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_sub);
CREATE OPERATOR * (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_mul, COMMUTATOR = *);
CREATE OPERATOR || (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_concat);

COMMENT ON OPERATOR <->(vec, vec) IS 'Euclidean distance';
COMMENT ON OPERATOR <#>(vec, vec) IS 'negative inner product (ascending order = largest inner product first)';
COMMENT ON OPERATOR <=>(vec, vec) IS 'cosine distance, 1 - cosine similarity; NaN if either vector is zero';
COMMENT ON OPERATOR +(vec, vec) IS 'element-wise sum';
COMMENT ON OPERATOR -(vec, vec) IS 'element-wise difference';
COMMENT ON OPERATOR *(vec, vec) IS 'element-wise product';
COMMENT ON OPERATOR ||(vec, vec) IS 'concatenation';

-- Comparison: element by element, then the shorter vector first
CREATE FUNCTION vec_lt(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vec_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_le(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vec_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_eq(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vec_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_ne(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vec_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_ge(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vec_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_gt(vec, vec) RETURNS boolean
	AS 'MODULE_PATHNAME', 'vec_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_cmp(vec, vec) RETURNS integer
	AS 'MODULE_PATHNAME', 'vec_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_hash(vec) RETURNS integer
	AS 'MODULE_PATHNAME', 'vec_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_hash_extended(vec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'vec_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vec_lt(vec, vec) IS 'less than (the < operator)';
COMMENT ON FUNCTION vec_le(vec, vec) IS 'less than or equal (the <= operator)';
COMMENT ON FUNCTION vec_eq(vec, vec) IS 'equal: same dimensions and elements (the = operator)';
COMMENT ON FUNCTION vec_ne(vec, vec) IS 'not equal (the <> operator)';
COMMENT ON FUNCTION vec_ge(vec, vec) IS 'greater than or equal (the >= operator)';
COMMENT ON FUNCTION vec_gt(vec, vec) IS 'greater than (the > operator)';
COMMENT ON FUNCTION vec_cmp(vec, vec) IS 'btree order of vec: -1, 0 or 1';
COMMENT ON FUNCTION vec_hash(vec) IS 'hash consistent with = (for hash joins, hash aggregation and hash indexes)';
COMMENT ON FUNCTION vec_hash_extended(vec, bigint) IS 'seeded 64-bit hash consistent with = (for hash partitioning)';

CREATE OPERATOR < (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_lt,
	COMMUTATOR = >, NEGATOR = >=, RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR <= (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_le,
	COMMUTATOR = >=, NEGATOR = >, RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR = (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_eq,
	COMMUTATOR = =, NEGATOR = <>, RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR <> (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_ne,
	COMMUTATOR = <>, NEGATOR = =, RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR >= (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_ge,
	COMMUTATOR = <=, NEGATOR = <, RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR > (LEFTARG = vec, RIGHTARG = vec, FUNCTION = vec_gt,
	COMMUTATOR = <, NEGATOR = <=, RESTRICT = scalargtsel, JOIN = scalargtjoinsel);

COMMENT ON OPERATOR <(vec, vec) IS 'less than: element by element, then fewer dimensions first';
COMMENT ON OPERATOR <=(vec, vec) IS 'less than or equal';
COMMENT ON OPERATOR =(vec, vec) IS 'equal: same dimensions and elements (-0 equals 0)';
COMMENT ON OPERATOR <>(vec, vec) IS 'not equal';
COMMENT ON OPERATOR >=(vec, vec) IS 'greater than or equal';
COMMENT ON OPERATOR >(vec, vec) IS 'greater than';

CREATE OPERATOR CLASS vec_btree_ops DEFAULT FOR TYPE vec USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 vec_cmp(vec, vec);
COMMENT ON OPERATOR CLASS vec_btree_ops USING btree IS 'btree order of vec: ORDER BY, DISTINCT, GROUP BY, UNIQUE indexes, merge joins';
COMMENT ON OPERATOR FAMILY vec_btree_ops USING btree IS 'btree operators of vec';

CREATE OPERATOR CLASS vec_hash_ops DEFAULT FOR TYPE vec USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 vec_hash(vec),
	FUNCTION 2 vec_hash_extended(vec, bigint);
COMMENT ON OPERATOR CLASS vec_hash_ops USING hash IS 'hashing of vec: hash joins, hash aggregation, hash indexes and partitions';
COMMENT ON OPERATOR FAMILY vec_hash_ops USING hash IS 'hash operators of vec';

-- Aggregates: an internal state (row count, float8 sums) with combine and
-- serialize/deserialize functions, so a parallel plan aggregates in the workers.
CREATE FUNCTION vec_accum(internal, vec) RETURNS internal
	AS 'MODULE_PATHNAME', 'vec_accum' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'vec_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION vec_agg_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'vec_agg_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_agg_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'vec_agg_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_sum_final(internal) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_sum_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vec_avg_final(internal) RETURNS vec
	AS 'MODULE_PATHNAME', 'vec_avg_final' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vec_accum(internal, vec) IS 'sum/avg transition: adds one vec to the running float8 sums (NULLs skipped)';
COMMENT ON FUNCTION vec_combine(internal, internal) IS 'sum/avg combine: adds two partial states';
COMMENT ON FUNCTION vec_agg_serialize(internal) IS 'sum/avg state to bytea, for parallel workers';
COMMENT ON FUNCTION vec_agg_deserialize(bytea, internal) IS 'sum/avg state from bytea, for parallel workers';
COMMENT ON FUNCTION vec_sum_final(internal) IS 'sum final function: the sums as a vec';
COMMENT ON FUNCTION vec_avg_final(internal) IS 'avg final function: the sums divided by the row count, as a vec';

CREATE AGGREGATE sum(vec) (
	SFUNC = vec_accum,
	STYPE = internal,
	FINALFUNC = vec_sum_final,
	COMBINEFUNC = vec_combine,
	SERIALFUNC = vec_agg_serialize,
	DESERIALFUNC = vec_agg_deserialize,
	PARALLEL = SAFE
);
CREATE AGGREGATE avg(vec) (
	SFUNC = vec_accum,
	STYPE = internal,
	FINALFUNC = vec_avg_final,
	COMBINEFUNC = vec_combine,
	SERIALFUNC = vec_agg_serialize,
	DESERIALFUNC = vec_agg_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE sum(vec) IS 'element-wise sum (summed in float8); NULL rows are skipped, no rows give NULL';
COMMENT ON AGGREGATE avg(vec) IS 'element-wise mean (summed in float8); NULL rows are skipped, no rows give NULL';
-- recsys.model: a trained model as one SQL value, and its accessors (src/model.c).

CREATE TYPE recsys.model;

CREATE FUNCTION recsys.model_in(cstring) RETURNS recsys.model
	AS 'MODULE_PATHNAME', 'model_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.model_in(cstring) IS
	'text input of recsys.model: recsys-model:v1: followed by base64, fully validated';

CREATE FUNCTION recsys.model_out(recsys.model) RETURNS cstring
	AS 'MODULE_PATHNAME', 'model_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.model_out(recsys.model) IS
	'text output of recsys.model: recsys-model:v1: followed by base64 of the binary form';

CREATE FUNCTION recsys.model_recv(internal) RETURNS recsys.model
	AS 'MODULE_PATHNAME', 'model_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.model_recv(internal) IS
	'binary input of recsys.model (portable big-endian form), fully validated';

CREATE FUNCTION recsys.model_send(recsys.model) RETURNS bytea
	AS 'MODULE_PATHNAME', 'model_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.model_send(recsys.model) IS
	'binary output of recsys.model (portable big-endian form)';

CREATE TYPE recsys.model (
	INPUT = recsys.model_in,
	OUTPUT = recsys.model_out,
	RECEIVE = recsys.model_recv,
	SEND = recsys.model_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = external
);
COMMENT ON TYPE recsys.model IS
	'a trained recommendation model: ids, factors, biases, options and training statistics';

CREATE FUNCTION recsys.model_info(m recsys.model) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'model_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.model_info(recsys.model) IS
	'what a model holds: algorithm, options, counts, training statistics, size and uuid';

CREATE FUNCTION recsys.user_factors(m recsys.model)
	RETURNS TABLE (id bigint, bias real, factors recsys.vec)
	AS 'MODULE_PATHNAME', 'user_factors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	ROWS 1000;
COMMENT ON FUNCTION recsys.user_factors(recsys.model) IS
	'one row per user of the model, in id order: id, bias (NULL without biases), factor vector';

CREATE FUNCTION recsys.item_factors(m recsys.model)
	RETURNS TABLE (id bigint, bias real, factors recsys.vec)
	AS 'MODULE_PATHNAME', 'item_factors' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	ROWS 1000;
COMMENT ON FUNCTION recsys.item_factors(recsys.model) IS
	'one row per item of the model, in id order: id, bias (NULL without biases), factor vector';

CREATE FUNCTION recsys.user_vector(m recsys.model, user_id bigint) RETURNS recsys.vec
	AS 'MODULE_PATHNAME', 'user_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.user_vector(recsys.model, bigint) IS
	'factor vector of one user, NULL if the model does not know the user';

CREATE FUNCTION recsys.item_vector(m recsys.model, item_id bigint) RETURNS recsys.vec
	AS 'MODULE_PATHNAME', 'item_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.item_vector(recsys.model, bigint) IS
	'factor vector of one item, NULL if the model does not know the item';

CREATE FUNCTION recsys.predict(m recsys.model, user_id bigint, item_id bigint) RETURNS real
	AS 'MODULE_PATHNAME', 'predict' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.predict(recsys.model, bigint, bigint) IS
	'predicted value of (user, item): explicit mu + b_u + b_i + x_u.y_i clipped to the training range, implicit x_u.y_i';
-- Training aggregates: recsys.train_als (explicit ratings) and recsys.train_ials
-- (implicit feedback), with their support functions (src/ratings.c).

CREATE FUNCTION recsys.train_als_transfn(internal, bigint, bigint, real) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_als_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_als_transfn(internal, bigint, bigint, real) IS
	'transition function of recsys.train_als: appends one rating';

CREATE FUNCTION recsys.train_als_transfn(internal, bigint, bigint, real, jsonb) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_als_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_als_transfn(internal, bigint, bigint, real, jsonb) IS
	'transition function of recsys.train_als with options: appends one rating';

CREATE FUNCTION recsys.train_ials_transfn(internal, bigint, bigint, real) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_ials_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_ials_transfn(internal, bigint, bigint, real) IS
	'transition function of recsys.train_ials: appends one weight';

CREATE FUNCTION recsys.train_ials_transfn(internal, bigint, bigint, real, jsonb) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_ials_transfn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_ials_transfn(internal, bigint, bigint, real, jsonb) IS
	'transition function of recsys.train_ials with options: appends one weight';

CREATE FUNCTION recsys.train_combinefn(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_combinefn' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_combinefn(internal, internal) IS
	'combine function of the training aggregates: merges two partial states';

CREATE FUNCTION recsys.train_serialfn(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'train_serialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_serialfn(internal) IS
	'serialises a partial training state for parallel aggregation';

CREATE FUNCTION recsys.train_deserialfn(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'train_deserialfn' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_deserialfn(bytea, internal) IS
	'rebuilds a partial training state from its serialised form';

-- VOLATILE: every trained model gets a fresh random uuid
CREATE FUNCTION recsys.train_finalfn(internal) RETURNS recsys.model
	AS 'MODULE_PATHNAME', 'train_finalfn' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION recsys.train_finalfn(internal) IS
	'final function of the training aggregates: builds CSR/CSC, runs the solver, returns the model';

CREATE AGGREGATE recsys.train_als(user_id bigint, item_id bigint, rating real) (
	SFUNC = recsys.train_als_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_als(bigint, bigint, real) IS
	'trains an explicit-rating model (biased ALS, weighted-lambda) with default options';

CREATE AGGREGATE recsys.train_als(user_id bigint, item_id bigint, rating real, options jsonb) (
	SFUNC = recsys.train_als_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_als(bigint, bigint, real, jsonb) IS
	'trains an explicit-rating model (biased ALS, weighted-lambda); options as jsonb';

CREATE AGGREGATE recsys.train_ials(user_id bigint, item_id bigint, weight real) (
	SFUNC = recsys.train_ials_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_ials(bigint, bigint, real) IS
	'trains an implicit-feedback model (Hu-Koren-Volinsky ALS) with default options';

CREATE AGGREGATE recsys.train_ials(user_id bigint, item_id bigint, weight real, options jsonb) (
	SFUNC = recsys.train_ials_transfn,
	STYPE = internal,
	FINALFUNC = recsys.train_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = recsys.train_combinefn,
	SERIALFUNC = recsys.train_serialfn,
	DESERIALFUNC = recsys.train_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.train_ials(bigint, bigint, real, jsonb) IS
	'trains an implicit-feedback model (Hu-Koren-Volinsky ALS); options as jsonb';
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
/*
 * Evaluation metrics: rating-error aggregates and per-user ranking metrics at k.
 */

-- rmse and mae keep float8[3] = {pairs, sum of errors, compensation}; strict
-- transition functions skip rows where predicted or actual is NULL.
CREATE FUNCTION recsys.rmse_accum(float8[], float8, float8)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'rmse_accum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.rmse_accum(float8[], float8, float8) IS
'transition function of recsys.rmse: adds (predicted - actual)^2';

CREATE FUNCTION recsys.mae_accum(float8[], float8, float8)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'mae_accum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.mae_accum(float8[], float8, float8) IS
'transition function of recsys.mae: adds |predicted - actual|';

CREATE FUNCTION recsys.error_combine(float8[], float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'error_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.error_combine(float8[], float8[]) IS
'combine function of recsys.rmse and recsys.mae (parallel aggregation)';

CREATE FUNCTION recsys.rmse_final(float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'rmse_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.rmse_final(float8[]) IS
'final function of recsys.rmse: sqrt(sum / n), NULL for no pairs';

CREATE FUNCTION recsys.mae_final(float8[])
RETURNS float8
AS 'MODULE_PATHNAME', 'mae_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.mae_final(float8[]) IS
'final function of recsys.mae: sum / n, NULL for no pairs';

CREATE AGGREGATE recsys.rmse(predicted float8, actual float8) (
	SFUNC = recsys.rmse_accum,
	STYPE = float8[],
	INITCOND = '{0,0,0}',
	COMBINEFUNC = recsys.error_combine,
	FINALFUNC = recsys.rmse_final,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE recsys.rmse(float8, float8) IS
'root mean squared error sqrt(avg((predicted - actual)^2)) over the rows where both are not NULL; NULL for none';

CREATE AGGREGATE recsys.mae(predicted float8, actual float8) (
	SFUNC = recsys.mae_accum,
	STYPE = float8[],
	INITCOND = '{0,0,0}',
	COMBINEFUNC = recsys.error_combine,
	FINALFUNC = recsys.mae_final,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE recsys.mae(float8, float8) IS
'mean absolute error avg(|predicted - actual|) over the rows where both are not NULL; NULL for none';

-- Ranking metrics: the first k distinct non-NULL elements of recommended against the
-- distinct non-NULL elements of relevant; NULL when nothing is relevant.
CREATE FUNCTION recsys.precision_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'precision_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.precision_at_k(bigint[], bigint[], int) IS
'relevant items among the first k distinct recommendations, divided by k; NULL if relevant is empty';

CREATE FUNCTION recsys.recall_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'recall_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.recall_at_k(bigint[], bigint[], int) IS
'relevant items among the first k distinct recommendations, divided by the number of relevant items; NULL if relevant is empty';

CREATE FUNCTION recsys.ndcg_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'ndcg_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.ndcg_at_k(bigint[], bigint[], int) IS
'normalised discounted cumulative gain at k: binary relevance, gain 1/log2(position + 1), ideal over min(k, |relevant|) hits; NULL if relevant is empty';

CREATE FUNCTION recsys.average_precision_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'average_precision_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.average_precision_at_k(bigint[], bigint[], int) IS
'sum of the precision at each relevant position of the top k, divided by min(k, |relevant|); avg() over users is MAP@k; NULL if relevant is empty';

CREATE FUNCTION recsys.hit_rate_at_k(recommended bigint[], relevant bigint[], k int)
RETURNS float8
AS 'MODULE_PATHNAME', 'hit_rate_at_k'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION recsys.hit_rate_at_k(bigint[], bigint[], int) IS
'1 if any of the first k distinct recommendations is relevant, else 0; NULL if relevant is empty';
-- The model registry: named models in a table, training into it by name (with the
-- replaced model kept in recsys.model_history for rollback), and a name overload
-- for every model accessor.

CREATE TABLE recsys.models (
	name		text PRIMARY KEY,
	model		recsys.model NOT NULL,
	source		text,
	options		jsonb,
	trained_at	timestamptz DEFAULT now(),
	metrics		jsonb
);
COMMENT ON TABLE recsys.models IS
	'named models: serving functions accept a name from this table wherever they accept a model; source and options let recsys.retrain() rebuild the row';
COMMENT ON COLUMN recsys.models.name IS 'the name serving functions look the model up by';
COMMENT ON COLUMN recsys.models.model IS 'the trained model';
COMMENT ON COLUMN recsys.models.source IS 'query whose first three columns (user, item, value) trained the model (recsys.train)';
COMMENT ON COLUMN recsys.models.options IS 'options given to recsys.train: the training options plus eval_query, eval_k, eval_options, keep_history';
COMMENT ON COLUMN recsys.models.trained_at IS 'when the row was last trained or written';
COMMENT ON COLUMN recsys.models.metrics IS 'recsys.evaluate of the model on options.eval_query when recsys.train stored it, else NULL';

-- rows are user data: pg_dump writes them, CREATE EXTENSION on restore does not
SELECT pg_catalog.pg_extension_config_dump('recsys.models', '');

CREATE TABLE recsys.model_history (
	name		text NOT NULL,
	model		recsys.model NOT NULL,
	source		text,
	options		jsonb,
	trained_at	timestamptz,
	metrics		jsonb,
	replaced_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_history_name_replaced_at ON recsys.model_history (name, replaced_at DESC);
COMMENT ON TABLE recsys.model_history IS
	'models that recsys.train or recsys.retrain replaced, newest last per name (at most options.keep_history of them, default 5); recsys.rollback(name) restores the newest';
COMMENT ON COLUMN recsys.model_history.name IS 'the registry name the model was stored under';
COMMENT ON COLUMN recsys.model_history.model IS 'the replaced model, unchanged';
COMMENT ON COLUMN recsys.model_history.source IS 'its recsys.models.source';
COMMENT ON COLUMN recsys.model_history.options IS 'its recsys.models.options';
COMMENT ON COLUMN recsys.model_history.trained_at IS 'its recsys.models.trained_at';
COMMENT ON COLUMN recsys.model_history.metrics IS 'its recsys.models.metrics';
COMMENT ON COLUMN recsys.model_history.replaced_at IS 'when a new model replaced it';
SELECT pg_catalog.pg_extension_config_dump('recsys.model_history', '');

-- a trusted extension's objects belong to the bootstrap superuser: give the
-- installing role the registry; it can GRANT SELECT to serving roles
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models TO @extowner@;
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.model_history TO @extowner@;

CREATE FUNCTION recsys.model_by_name(name text) RETURNS recsys.model
	AS 'MODULE_PATHNAME', 'model_by_name'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys.model_by_name(text) IS
	'the model stored under this name in recsys.models (42704 if there is none)';

CREATE FUNCTION recsys.train(name text, algorithm text, source_query text,
							 options jsonb DEFAULT '{}')
	RETURNS jsonb
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
DECLARE
	m				recsys.model;
	query			text;
	opts			jsonb := COALESCE(train.options, '{}'::jsonb);
	eval_query		text;
	eval_k			integer := 10;
	eval_options	jsonb := '{}';
	keep			integer := 5;
	result_metrics	jsonb;
	prev			recsys.models%ROWTYPE;
BEGIN
	IF train.name IS NULL THEN
		RAISE EXCEPTION 'model name must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF train.algorithm IS NULL OR train.algorithm NOT IN ('als', 'ials') THEN
		RAISE EXCEPTION 'unknown algorithm "%"', train.algorithm
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ''als'' (explicit ratings) or ''ials'' (implicit feedback).';
	END IF;
	IF train.source_query IS NULL THEN
		RAISE EXCEPTION 'source_query must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF pg_catalog.jsonb_typeof(opts) <> 'object' THEN
		RAISE EXCEPTION 'options of recsys.train must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- registry options: stored with the row, not passed to the training aggregate
	IF opts ? 'eval_query' THEN
		IF pg_catalog.jsonb_typeof(opts -> 'eval_query') <> 'string' THEN
			RAISE EXCEPTION 'option "eval_query" must be a string (a test query), got %',
				opts -> 'eval_query'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		eval_query := opts ->> 'eval_query';
	END IF;
	IF opts ? 'eval_k' THEN
		IF (CASE WHEN pg_catalog.jsonb_typeof(opts -> 'eval_k') = 'number'
				THEN (opts ->> 'eval_k')::numeric NOT BETWEEN 1 AND 100000
					 OR (opts ->> 'eval_k')::numeric <> pg_catalog.trunc((opts ->> 'eval_k')::numeric)
				ELSE true END) THEN
			RAISE EXCEPTION 'option "eval_k" must be an integer between 1 and 100000, got %',
				opts -> 'eval_k'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		eval_k := (opts ->> 'eval_k')::integer;
	END IF;
	IF opts ? 'eval_options' THEN
		IF pg_catalog.jsonb_typeof(opts -> 'eval_options') <> 'object' THEN
			RAISE EXCEPTION 'option "eval_options" must be a JSON object (options of recsys.evaluate), got %',
				opts -> 'eval_options'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		eval_options := opts -> 'eval_options';
	END IF;
	IF (opts ? 'eval_k' OR opts ? 'eval_options') AND eval_query IS NULL THEN
		RAISE EXCEPTION 'options "eval_k" and "eval_options" need "eval_query"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF opts ? 'keep_history' THEN
		IF (CASE WHEN pg_catalog.jsonb_typeof(opts -> 'keep_history') = 'number'
				THEN (opts ->> 'keep_history')::numeric NOT BETWEEN 0 AND 1000
					 OR (opts ->> 'keep_history')::numeric <> pg_catalog.trunc((opts ->> 'keep_history')::numeric)
				ELSE true END) THEN
			RAISE EXCEPTION 'option "keep_history" must be an integer between 0 and 1000, got %',
				opts -> 'keep_history'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		keep := (opts ->> 'keep_history')::integer;
	END IF;

	-- the query's first three columns are user, item, value, whatever their names
	query := pg_catalog.regexp_replace(train.source_query, '[[:space:];]+$', '');
	EXECUTE pg_catalog.format(
		'SELECT recsys.%I(s.u::bigint, s.i::bigint, s.v::real, $1) FROM (%s) AS s(u, i, v)',
		'train_' || train.algorithm, query)
		INTO m
		USING opts - ARRAY['eval_query', 'eval_k', 'eval_options', 'keep_history'];
	IF m IS NULL THEN
		RAISE EXCEPTION 'source query of model "%" returned no interactions', train.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF eval_query IS NOT NULL THEN
		result_metrics := recsys.evaluate(m, eval_query, eval_k, eval_options);
	END IF;

	-- Swap under the registry row's lock, so that concurrent trainings of one name
	-- each move the model they replace into the history.  A name that does not
	-- exist yet is inserted; losing that race to a concurrent insert means the
	-- row now exists, and the loop takes the locking path.
	LOOP
		SELECT * INTO prev FROM recsys.models AS r WHERE r.name = train.name FOR UPDATE;
		IF FOUND THEN
			IF keep > 0 THEN
				INSERT INTO recsys.model_history
					(name, model, source, options, trained_at, metrics, replaced_at)
					VALUES (prev.name, prev.model, prev.source, prev.options,
							prev.trained_at, prev.metrics, pg_catalog.clock_timestamp());
			END IF;
			DELETE FROM recsys.model_history AS h
				WHERE h.name = train.name
				  AND h.ctid NOT IN (SELECT k.ctid FROM recsys.model_history AS k
									 WHERE k.name = train.name
									 ORDER BY k.replaced_at DESC LIMIT keep);
			UPDATE recsys.models AS r
				SET model = m, source = train.source_query, options = opts,
					trained_at = pg_catalog.clock_timestamp(), metrics = result_metrics
				WHERE r.name = train.name;
			EXIT;
		END IF;
		INSERT INTO recsys.models AS r (name, model, source, options, trained_at, metrics)
			VALUES (train.name, m, train.source_query, opts, pg_catalog.clock_timestamp(),
					result_metrics)
			ON CONFLICT ON CONSTRAINT models_pkey DO NOTHING;
		EXIT WHEN FOUND;
	END LOOP;
	RETURN recsys.model_info(m);
END
$$;
COMMENT ON FUNCTION recsys.train(text, text, text, jsonb) IS
	'trains a model (algorithm ''als'' or ''ials'') on a query whose first three columns are user, item, value, evaluates it on options.eval_query if given, and stores it under name in recsys.models (the model it replaces goes to recsys.model_history); returns its model_info';

CREATE FUNCTION recsys.retrain(name text) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
DECLARE
	algorithm	text;
	source		text;
	options		jsonb;
BEGIN
	SELECT recsys.model_info(r.model) ->> 'algorithm', r.source, r.options
		INTO algorithm, source, options
		FROM recsys.models AS r
		WHERE r.name = retrain.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', retrain.name
			USING ERRCODE = 'undefined_object';
	END IF;
	IF source IS NULL THEN
		RAISE EXCEPTION 'model "%" has no stored source query', retrain.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Train it with recsys.train() to record the query it is built from.';
	END IF;
	RETURN recsys.train(retrain.name, algorithm, source, options);
END
$$;
COMMENT ON FUNCTION recsys.retrain(text) IS
	'retrains the named model from its stored source query and options, evaluating it again if they name an eval_query (what a pg_cron job calls); returns the new model_info';

CREATE FUNCTION recsys.rollback(name text) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $$
DECLARE
	target	CONSTANT text := $1;
	prev	record;
BEGIN
	PERFORM FROM recsys.models AS r WHERE r.name = target FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', target
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT h.ctid AS row_id, h.model, h.source, h.options, h.trained_at, h.metrics
		INTO prev
		FROM recsys.model_history AS h
		WHERE h.name = target
		ORDER BY h.replaced_at DESC
		LIMIT 1
		FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no previous version to roll back to', target
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'recsys.train and recsys.retrain keep the models they replace in recsys.model_history.';
	END IF;
	UPDATE recsys.models AS r
		SET model = prev.model, source = prev.source, options = prev.options,
			trained_at = prev.trained_at, metrics = prev.metrics
		WHERE r.name = target;
	DELETE FROM recsys.model_history AS h WHERE h.ctid = prev.row_id;
	RETURN recsys.model_info(prev.model);
END
$$;
COMMENT ON FUNCTION recsys.rollback(text) IS
	'puts the newest recsys.model_history entry of the name back into recsys.models (the current model is discarded) and removes it from the history; returns its model_info';

-- name overloads of the model accessors
CREATE FUNCTION recsys.model_info(name text) RETURNS jsonb
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	AS $$ SELECT recsys.model_info(recsys.model_by_name($1)) $$;
COMMENT ON FUNCTION recsys.model_info(text) IS 'model_info of the named model in recsys.models';

CREATE FUNCTION recsys.user_factors(name text)
	RETURNS TABLE(id bigint, bias real, factors recsys.vec)
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	AS $$ SELECT * FROM recsys.user_factors(recsys.model_by_name($1)) $$;
COMMENT ON FUNCTION recsys.user_factors(text) IS 'user_factors of the named model in recsys.models';

CREATE FUNCTION recsys.item_factors(name text)
	RETURNS TABLE(id bigint, bias real, factors recsys.vec)
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	AS $$ SELECT * FROM recsys.item_factors(recsys.model_by_name($1)) $$;
COMMENT ON FUNCTION recsys.item_factors(text) IS 'item_factors of the named model in recsys.models';

CREATE FUNCTION recsys.user_vector(name text, user_id bigint) RETURNS recsys.vec
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	AS $$ SELECT recsys.user_vector(recsys.model_by_name($1), $2) $$;
COMMENT ON FUNCTION recsys.user_vector(text, bigint) IS 'user_vector of the named model in recsys.models';

CREATE FUNCTION recsys.item_vector(name text, item_id bigint) RETURNS recsys.vec
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	AS $$ SELECT recsys.item_vector(recsys.model_by_name($1), $2) $$;
COMMENT ON FUNCTION recsys.item_vector(text, bigint) IS 'item_vector of the named model in recsys.models';

CREATE FUNCTION recsys.predict(name text, user_id bigint, item_id bigint) RETURNS real
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	AS $$ SELECT recsys.predict(recsys.model_by_name($1), $2, $3) $$;
COMMENT ON FUNCTION recsys.predict(text, bigint, bigint) IS 'predict with the named model in recsys.models';
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
-- recsys.evaluate: rating and ranking metrics of a model on held-out interactions.

CREATE FUNCTION recsys.evaluate(m recsys.model, test_query text, k integer DEFAULT 10,
								options jsonb DEFAULT '{}')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'evaluate'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.evaluate(recsys.model, text, integer, jsonb) IS
	'runs test_query (user, item [, rating or weight]) and returns jsonb metrics: rmse and mae (explicit models), precision, recall, ndcg, map and hit_rate at k of each known test user''s top k (training items excluded), coverage, users, test_rows, unknown_users';

CREATE FUNCTION recsys.evaluate(name text, test_query text, k integer DEFAULT 10,
								options jsonb DEFAULT '{}')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'evaluate_by_name'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION recsys.evaluate(text, text, integer, jsonb) IS
	'evaluate the named model in recsys.models';
