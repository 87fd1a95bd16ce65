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
