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
