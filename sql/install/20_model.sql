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
