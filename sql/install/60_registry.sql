-- The model registry: named models in a table, training into it by name, and a
-- name overload for every model accessor.

CREATE TABLE recsys.models (
	name		text PRIMARY KEY,
	model		recsys.model NOT NULL,
	source		text,
	options		jsonb,
	trained_at	timestamptz DEFAULT now()
);
COMMENT ON TABLE recsys.models IS
	'named models: serving functions accept a name from this table wherever they accept a model; source and options let recsys.retrain() rebuild the row';
COMMENT ON COLUMN recsys.models.name IS 'the name serving functions look the model up by';
COMMENT ON COLUMN recsys.models.model IS 'the trained model';
COMMENT ON COLUMN recsys.models.source IS 'query whose first three columns (user, item, value) trained the model (recsys.train)';
COMMENT ON COLUMN recsys.models.options IS 'training options used by recsys.train and recsys.retrain';
COMMENT ON COLUMN recsys.models.trained_at IS 'when the row was last trained or written';

-- rows are user data: pg_dump writes them, CREATE EXTENSION on restore does not
SELECT pg_catalog.pg_extension_config_dump('recsys.models', '');

-- a trusted extension's objects belong to the bootstrap superuser: give the
-- installing role the registry; it can GRANT SELECT to serving roles
GRANT SELECT, INSERT, UPDATE, DELETE ON recsys.models TO @extowner@;

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
	m		recsys.model;
	query	text;
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

	-- the query's first three columns are user, item, value, whatever their names
	query := pg_catalog.regexp_replace(train.source_query, '[[:space:];]+$', '');
	EXECUTE pg_catalog.format(
		'SELECT recsys.%I(s.u::bigint, s.i::bigint, s.v::real, $1) FROM (%s) AS s(u, i, v)',
		'train_' || train.algorithm, query)
		INTO m
		USING COALESCE(train.options, '{}'::jsonb);
	IF m IS NULL THEN
		RAISE EXCEPTION 'source query of model "%" returned no interactions', train.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	INSERT INTO recsys.models AS r (name, model, source, options, trained_at)
		VALUES (train.name, m, train.source_query,
				COALESCE(train.options, '{}'::jsonb), pg_catalog.now())
		ON CONFLICT ON CONSTRAINT models_pkey DO UPDATE
		SET model = EXCLUDED.model, source = EXCLUDED.source,
			options = EXCLUDED.options, trained_at = EXCLUDED.trained_at;
	RETURN recsys.model_info(m);
END
$$;
COMMENT ON FUNCTION recsys.train(text, text, text, jsonb) IS
	'trains a model (algorithm ''als'' or ''ials'') on a query whose first three columns are user, item, value, and stores it under name in recsys.models; returns its model_info';

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
	'retrains the named model from its stored source query and options (what a pg_cron job calls); returns the new model_info';

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
