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
