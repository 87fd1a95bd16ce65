/*
 * track.c
 *		Real-time updates: recsys.track and recsys.untrack, the row trigger they
 *		install on an interactions table, and the overlay read that by-name
 *		serving does.
 *
 * recsys.track(name, table, user_column, item_column, value_column) records the
 * tracking in recsys.tracked and creates a row trigger on the table.  Each
 * insert, update or delete refreshes the affected user's row of
 * recsys.user_overlays: their whole current history as the table holds it
 * (recomputed, not patched, so it is never off by a lost increment) and, for a
 * factor model, the vector fold-in gives for it.  recsys.recommend(name, ...)
 * reads that row with one primary-key probe and ranks the history in place of
 * the model's stored row; recsys.train/retrain of the name drop the overlays
 * that are older than the new model (registry.c).
 *
 * Who runs what (README "Security model"): the trigger fires as whatever role
 * inserted, but everything it does after finding its recsys.tracked row runs as
 * the model's owner inside a security-restricted operation with search_path
 * pg_catalog, pg_temp, like retrain: it reads the owner's model by name, reads
 * the user's rows of the table and writes the overlay under the row-level
 * security of recsys.user_overlays.  The statements are fixed text with quoted
 * identifiers and qualified operators; the inserting role controls only the
 * values of its row.  The trigger acts only if recsys.tracked has a row for
 * (its argument, its table) whose owner still owns the model and still has the
 * privileges of the table's owner, so a trigger someone else attaches to the
 * function does nothing, and a dropped model or column makes it do nothing
 * rather than fail the insert.
 *
 * Concurrency: the refresh first locks the user's overlay row (an upsert), then
 * reads the table with a new snapshot, so of two sessions inserting for one
 * user the second waits for the first to commit and then sees both rows.
 *
 * The scoring is recommend.c's; this file only keeps the overlay.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "algorithms.h"
#include "cache.h"
#include "modelio.h"
#include "modeltype.h"
#include "recommend.h"
#include "recsys.h"
#include "registry.h"
#include "track.h"
#include "vec.h"

/* the path every statement of the trigger runs with */
#define TRACK_SEARCH_PATH	"pg_catalog, pg_temp"

/* columns of recsys.user_overlays (install script), 1-based */
#define OVERLAY_NAME		1
#define OVERLAY_USER_ID		2
#define OVERLAY_OWNER		3
#define OVERLAY_UUID		4
#define OVERLAY_ITEM_IDS	5
#define OVERLAY_VALUES		6
#define OVERLAY_VECTOR		7
#define OVERLAY_BIAS		8
#define OVERLAY_NATTS		9

/* A row of recsys.tracked */
typedef struct Tracked
{
	char	   *name;			/* the model */
	Oid			source;			/* the interactions table */
	char	   *user_column;
	char	   *item_column;
	char	   *value_column;	/* NULL: every row counts 1 */
	Oid			owner;			/* the model's owner when it was tracked */
} Tracked;

/* One (item, value) of a user's rows, with its place in the scan */
typedef struct TrackPair
{
	int64		item;
	int32		pos;
	float		value;
} TrackPair;

/* ------------------------------------------------------------------ helpers */

/* The name of the trigger that tracks model name: short, stable, per name */
static char *
TriggerName(const char *name)
{
	uint64		h = hash_bytes_extended((const unsigned char *) name, strlen(name), 0);

	return psprintf("recsys_track_%016llx", (unsigned long long) h);
}

/* Whether a column type can hold ids (integers) or values (numbers) */
static bool
IsIdType(Oid type)
{
	type = getBaseType(type);
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

static bool
IsValueType(Oid type)
{
	type = getBaseType(type);
	return IsIdType(type) || type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID;
}

/* An id column's value (int2/int4/int8 or a domain over one) as int64 */
static int64
IdDatum(Datum d, Oid type)
{
	switch (getBaseType(type))
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

/* A value column's value as double (NaN for what real cannot hold) */
static double
ValueDatum(Datum d, Oid type)
{
	switch (getBaseType(type))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return (double) IdDatum(d, type);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
}

static int
CompareTrackPair(const void *a, const void *b)
{
	const TrackPair *x = a;
	const TrackPair *y = b;

	if (x->item != y->item)
		return (x->item > y->item) - (x->item < y->item);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* --------------------------------------------------------- serving: reading */

/* See track.h */
bool
RecOverlayFind(RecModelEntry *e, text *name, Oid owner, int64 user_id, RecOverlay *ov)
{
	Oid			relid = RecExtensionRelation("user_overlays", true);
	Oid			indexid = RecExtensionRelation("user_overlays_pkey", true);
	const RecModelHeader *m = e->model;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key[3];
	HeapTuple	tup;
	bool		found = false;

	/* a library newer than the installed script: nothing is tracked */
	if (!OidIsValid(relid) || !OidIsValid(indexid))
		return false;

	/*
	 * Read past the table's policies: the caller read the model row by name
	 * under the registry's, and the key includes the model's owner, so only
	 * overlays its owner wrote (the policy's WITH CHECK) can match.  name has
	 * the column's collation, the database default.
	 */
	rel = table_open(relid, AccessShareLock);
	ScanKeyEntryInitialize(&key[0], 0, OVERLAY_NAME, BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, PointerGetDatum(name));
	ScanKeyInit(&key[1], OVERLAY_USER_ID, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(user_id));
	ScanKeyInit(&key[2], OVERLAY_OWNER, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(owner));
	scan = systable_beginscan(rel, indexid, true, GetActiveSnapshot(), 3, key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		values[OVERLAY_NATTS];
		bool		nulls[OVERLAY_NATTS];
		ArrayType  *ids;
		ArrayType  *vals;
		int			n;
		int32	   *items;
		float	   *hvals;
		int64		used = 0;

		heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
		ids = DatumGetArrayTypeP(values[OVERLAY_ITEM_IDS - 1]);
		vals = DatumGetArrayTypeP(values[OVERLAY_VALUES - 1]);
		n = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
		if (ArrayGetNItems(ARR_NDIM(vals), ARR_DIMS(vals)) != n ||
			ARR_HASNULL(ids) || ARR_HASNULL(vals))
			elog(ERROR, "overlay of user " INT64_FORMAT " is malformed", user_id);

		/* ids are stored sorted and unique, so their indexes come out sorted */
		items = palloc(sizeof(int32) * Max(n, 1));
		hvals = palloc(sizeof(float) * Max(n, 1));
		for (int j = 0; j < n; j++)
		{
			int32		i = RecFindId(e->v.item_ids, m->n_items,
									  ((const int64 *) ARR_DATA_PTR(ids))[j]);

			if (i < 0)
				continue;
			items[used] = i;
			hvals[used] = ((const float *) ARR_DATA_PTR(vals))[j];
			used++;
		}
		RecModelMapValues(e, hvals, used);
		ov->hist.items = items;
		ov->hist.values = hvals;
		ov->hist.n = used;

		/* the stored vector only if folded in with exactly this model */
		ov->x = NULL;
		ov->bias = nulls[OVERLAY_BIAS - 1] ? 0.0f : DatumGetFloat4(values[OVERLAY_BIAS - 1]);
		if (!nulls[OVERLAY_VECTOR - 1] && !nulls[OVERLAY_UUID - 1] &&
			memcmp(DatumGetUUIDP(values[OVERLAY_UUID - 1])->data, m->uuid,
				   UUID_LEN) == 0)
		{
			Vec		   *x = (Vec *) PG_DETOAST_DATUM(values[OVERLAY_VECTOR - 1]);

			if (x->dim == m->factors)
			{
				float	   *copy = palloc(sizeof(float) * x->dim);

				memcpy(copy, x->x, sizeof(float) * x->dim);
				ov->x = copy;
			}
		}
		if (ov->x == NULL)
			ov->bias = 0.0f;
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* ------------------------------------------------------ the trigger: writing */

/*
 * The recsys.tracked row of model name, read past the table's policies (as its
 * owner, in a security-restricted operation: the trigger fires as any role).
 * false if there is none.
 */
static bool
TrackedLookup(const char *name, Tracked *t)
{
	Oid			relid = RecExtensionRelation("tracked", true);
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	RecAsOwner	as;
	bool		found = false;
	int			rc;

	if (!OidIsValid(relid))
		return false;
	RecBeginAsOwner(&as, RecRelationOwner(relid), TRACK_SEARCH_PATH);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT t.source::pg_catalog.oid, t.user_column::pg_catalog.text,"
							   " t.item_column::pg_catalog.text, t.value_column::pg_catalog.text,"
							   " t.owner::pg_catalog.oid"
							   " FROM recsys.tracked AS t WHERE t.name OPERATOR(pg_catalog.=) $1",
							   1, &argtype, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi_cxt = MemoryContextSwitchTo(cxt);
		bool		isnull;

		t->name = pstrdup(name);
		t->source = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		t->user_column = SPI_getvalue(tup, desc, 2);
		t->item_column = SPI_getvalue(tup, desc, 3);
		t->value_column = SPI_getvalue(tup, desc, 4);
		t->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
		MemoryContextSwitchTo(spi_cxt);
		found = true;
	}
	SPI_finish();
	RecEndAsOwner(&as);
	return found;
}

/*
 * Recomputes the overlay of one user of a tracked table; runs as the model's
 * owner (the caller switched).  The user's overlay row is locked first, so the
 * table is read after any concurrent refresh of the same user has committed.
 */
static void
RefreshOverlay(const Tracked *t, Relation rel, Datum user, Oid user_type)
{
	Oid			model_owner = InvalidOid;
	RecModelEntry *e;
	const RecModelHeader *m;
	text	   *name = cstring_to_text(t->name);
	int64		user_id = IdDatum(user, user_type);
	char	   *relname;
	char	   *sql;
	int			rc;
	int64		n_rows;
	TrackPair  *pairs;
	int64		used = 0;
	int64		n_known = 0;
	int64	   *ids;
	float	   *vals;
	int32	   *known_items;
	float	   *known_vals;
	bool		add;
	Vec		   *x = NULL;
	float		bias = 0.0f;
	pg_uuid_t  *uuid;

	/* the model as its owner reads it by name; gone or given away: nothing to do */
	RecReserveBlas(1, "recsys.track");
	e = RecModelGetByNameOwner(name, true, &model_owner);
	if (e == NULL || model_owner != t->owner)
		return;
	m = e->model;
	add = RecAlgorithmByCode(m->algorithm)->add_duplicates;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* lock the user's overlay row (creating it), then read with a new snapshot */
	{
		Oid			types[3] = {TEXTOID, INT8OID, OIDOID};
		Datum		args[3] = {PointerGetDatum(name), Int64GetDatum(user_id),
		ObjectIdGetDatum(t->owner)};

		rc = SPI_execute_with_args("INSERT INTO recsys.user_overlays AS o"
								   " (name, user_id, owner, item_ids, \"values\")"
								   " VALUES ($1, $2, $3::pg_catalog.regrole, '{}', '{}')"
								   " ON CONFLICT (name, user_id, owner) DO UPDATE"
								   " SET updated_at = pg_catalog.clock_timestamp()",
								   3, types, args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	}

	relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										 RelationGetRelationName(rel));
	sql = psprintf("SELECT s.%s, %s FROM %s AS s WHERE s.%s OPERATOR(pg_catalog.=) $1",
				   quote_identifier(t->item_column),
				   t->value_column ? psprintf("s.%s", quote_identifier(t->value_column)) : "1",
				   relname, quote_identifier(t->user_column));
	{
		Oid			base = getBaseType(user_type);

		rc = SPI_execute_with_args(sql, 1, &base, &user, NULL, false, 0);
	}
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));

	/* the rows as (item, value) pairs, grouped by item in scan order */
	n_rows = (int64) SPI_processed;
	pairs = palloc(sizeof(TrackPair) * Max(n_rows, 1));
	for (int64 r = 0; r < n_rows; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		inull,
					vnull;
		Datum		item = SPI_getbinval(tup, desc, 1, &inull);
		Datum		value = SPI_getbinval(tup, desc, 2, &vnull);
		double		v;

		/* as training skips rows with a NULL; a value real cannot hold is skipped too */
		if (inull || vnull)
			continue;
		v = ValueDatum(value, SPI_gettypeid(desc, 2));
		if (!isfinite(v) || fabs(v) > FLT_MAX)
			continue;
		pairs[used].item = IdDatum(item, SPI_gettypeid(desc, 1));
		pairs[used].pos = (int32) r;
		pairs[used].value = (float) v;
		used++;
	}
	qsort(pairs, used, sizeof(TrackPair), CompareTrackPair);

	/* one entry per item: values add up or the last one counts, as in training */
	ids = palloc(sizeof(int64) * Max(used, 1));
	vals = palloc(sizeof(float) * Max(used, 1));
	n_rows = 0;
	for (int64 j = 0; j < used; j++)
	{
		if (n_rows > 0 && ids[n_rows - 1] == pairs[j].item)
		{
			vals[n_rows - 1] = add ? vals[n_rows - 1] + pairs[j].value : pairs[j].value;
			continue;
		}
		ids[n_rows] = pairs[j].item;
		vals[n_rows] = pairs[j].value;
		n_rows++;
	}

	/* the vector fold-in gives for the items the model knows */
	known_items = palloc(sizeof(int32) * Max(n_rows, 1));
	known_vals = palloc(sizeof(float) * Max(n_rows, 1));
	for (int64 j = 0; j < n_rows; j++)
	{
		int32		i = RecFindId(e->v.item_ids, m->n_items, ids[j]);

		if (i < 0)
			continue;
		known_items[n_known] = i;
		known_vals[n_known] = vals[j];
		n_known++;
	}
	if (e->v.item_factors != NULL && n_known > 0)
	{
		RecHistory	hist = {known_items, known_vals, n_known};

		x = RecFoldInHistory(e, &hist, &bias);
	}

	uuid = palloc(sizeof(pg_uuid_t));
	memcpy(uuid->data, m->uuid, UUID_LEN);
	{
		Datum	   *id_datums = palloc(sizeof(Datum) * Max(n_rows, 1));
		Datum	   *val_datums = palloc(sizeof(Datum) * Max(n_rows, 1));
		Oid			types[8] = {TEXTOID, INT8OID, OIDOID, UUIDOID, INT8ARRAYOID,
		FLOAT4ARRAYOID, TEXTOID, FLOAT4OID};
		Datum		args[8];
		char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

		for (int64 j = 0; j < n_rows; j++)
		{
			id_datums[j] = Int64GetDatum(ids[j]);
			val_datums[j] = Float4GetDatum(vals[j]);
		}
		args[0] = PointerGetDatum(name);
		args[1] = Int64GetDatum(user_id);
		args[2] = ObjectIdGetDatum(t->owner);
		args[3] = UUIDPGetDatum(uuid);
		args[4] = PointerGetDatum(construct_array(id_datums, (int) n_rows, INT8OID, 8,
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[5] = PointerGetDatum(construct_array(val_datums, (int) n_rows, FLOAT4OID, 4,
												  true, TYPALIGN_INT));
		/* the vector as text, read back by recsys.vec's input (exact: %.9g) */
		if (x != NULL)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			appendStringInfoChar(&buf, '[');
			for (int k = 0; k < x->dim; k++)
				appendStringInfo(&buf, "%s%.9g", k > 0 ? "," : "", (double) x->x[k]);
			appendStringInfoChar(&buf, ']');
			args[6] = CStringGetTextDatum(buf.data);
		}
		else
			nulls[6] = 'n';
		args[7] = Float4GetDatum(bias);
		if (x == NULL || RecModelImplicit(m))
			nulls[7] = 'n';

		rc = SPI_execute_with_args("UPDATE recsys.user_overlays AS o"
								   " SET model_uuid = $4, item_ids = $5, \"values\" = $6,"
								   "  user_vector = $7::recsys.vec, user_bias = $8,"
								   "  updated_at = pg_catalog.clock_timestamp()"
								   " WHERE o.name OPERATOR(pg_catalog.=) $1"
								   " AND o.user_id OPERATOR(pg_catalog.=) $2"
								   " AND o.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $3",
								   8, types, args, nulls, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	}
	SPI_finish();
}

/*
 * recsys.track_trigger(): the AFTER ROW trigger recsys.track installs, its one
 * argument the model's name.  Refreshes the overlay of the user of the old
 * and/or new row as the model's owner; does nothing unless recsys.tracked
 * tracks that model from this very table.
 */
PG_FUNCTION_INFO_V1(track_trigger);
Datum
track_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	Tracked		t;
	AttrNumber	user_att;
	AttrNumber	item_att;
	Oid			user_type;
	HeapTuple	rows[2];
	int			n_rows = 0;
	RecAsOwner	as;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("recsys.track_trigger must be an AFTER ROW trigger with the model name as its argument"),
				 errhint("Use recsys.track() to install it.")));
	rel = td->tg_relation;

	/* only what the model's owner set up for this table */
	if (!TrackedLookup(td->tg_trigger->tgargs[0], &t) || t.source != RelationGetRelid(rel))
		return PointerGetDatum(NULL);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(t.owner)) ||
		!has_privs_of_role(t.owner, rel->rd_rel->relowner))
		return PointerGetDatum(NULL);
	user_att = get_attnum(RelationGetRelid(rel), t.user_column);
	item_att = get_attnum(RelationGetRelid(rel), t.item_column);
	if (user_att == InvalidAttrNumber || item_att == InvalidAttrNumber ||
		(t.value_column != NULL &&
		 get_attnum(RelationGetRelid(rel), t.value_column) == InvalidAttrNumber))
		return PointerGetDatum(NULL);
	user_type = TupleDescAttr(RelationGetDescr(rel), user_att - 1)->atttypid;
	if (!IsIdType(user_type))
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		rows[n_rows++] = td->tg_trigtuple;
		rows[n_rows++] = td->tg_newtuple;
	}
	else
		rows[n_rows++] = td->tg_trigtuple;

	RecBeginAsOwner(&as, t.owner, TRACK_SEARCH_PATH);
	for (int r = 0; r < n_rows; r++)
	{
		bool		isnull;
		Datum		user = heap_getattr(rows[r], user_att, RelationGetDescr(rel), &isnull);

		if (isnull)
			continue;
		/* an update that keeps the user refreshes it once */
		if (r == 1)
		{
			bool		old_null;
			Datum		old = heap_getattr(rows[0], user_att, RelationGetDescr(rel), &old_null);

			if (!old_null && IdDatum(old, user_type) == IdDatum(user, user_type))
				continue;
		}
		RefreshOverlay(&t, rel, user, user_type);
	}
	RecEndAsOwner(&as);
	return PointerGetDatum(NULL);
}

/* ------------------------------------------------------- track and untrack */

/* A non-NULL, non-empty model name argument */
static char *
TrackNameArg(FunctionCallInfo fcinfo)
{
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	return name;
}

/* A column argument: exists in relid and has a type recsys reads */
static char *
TrackColumnArg(FunctionCallInfo fcinfo, int arg, Oid relid, const char *role, bool ids)
{
	char	   *col;
	AttrNumber	att;
	Oid			type;

	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s_column must not be NULL", role)));
	col = NameStr(*PG_GETARG_NAME(arg));
	att = get_attnum(relid, col);
	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						col, get_rel_name(relid))));
	type = get_atttype(relid, att);
	if (ids ? !IsIdType(type) : !IsValueType(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" has type %s, must be %s", role, col,
						format_type_be(type),
						ids ? "smallint, integer or bigint" :
						"smallint, integer, bigint, real, double precision or numeric")));
	return pstrdup(col);
}

/*
 * recsys.track(name text, source regclass, user_column name, item_column name,
 * value_column name default null): keeps by-name serving of the model up to
 * date with the table's rows.  Only the model's owner may, and only on a table
 * whose owner's privileges it has.
 */
PG_FUNCTION_INFO_V1(track);
Datum
track(PG_FUNCTION_ARGS)
{
	char	   *name = TrackNameArg(fcinfo);
	Oid			relid;
	char		relkind;
	Oid			owner = InvalidOid;
	RecModelEntry *e;
	char	   *user_column;
	char	   *item_column;
	char	   *value_column = NULL;
	Oid			types[6] = {TEXTOID, OIDOID, NAMEOID, NAMEOID, NAMEOID, OIDOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int			rc;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source must not be NULL")));
	relid = PG_GETARG_OID(1);

	/* the model as the caller sees it, and who owns it */
	RecReserveBlas(1, "recsys.track");
	e = RecModelGetByNameOwner(cstring_to_text(name), false, &owner);
	(void) e;
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", RecMessageText(name)),
				 errdetail("Only its owner (or a member of the owning role) may track it.")));

	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", get_rel_name(relid))));

	/*
	 * The trigger reads the table as the model's owner: anything of the table's
	 * owner that reading runs (policies) must be code the model's owner could run
	 * anyway.
	 */
	if (!has_privs_of_role(owner, RecRelationOwner(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(relid)),
				 errdetail("The model's owner must have the privileges of the table's owner to track it.")));

	user_column = TrackColumnArg(fcinfo, 2, relid, "user", true);
	item_column = TrackColumnArg(fcinfo, 3, relid, "item", true);
	if (!PG_ARGISNULL(4))
		value_column = TrackColumnArg(fcinfo, 4, relid, "value", false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(name);
	args[1] = ObjectIdGetDatum(relid);
	args[2] = DirectFunctionCall1(namein, CStringGetDatum(user_column));
	args[3] = DirectFunctionCall1(namein, CStringGetDatum(item_column));
	if (value_column)
		args[4] = DirectFunctionCall1(namein, CStringGetDatum(value_column));
	else
		nulls[4] = 'n';
	args[5] = ObjectIdGetDatum(owner);
	rc = SPI_execute_with_args("INSERT INTO recsys.tracked AS t"
							   " (name, source, user_column, item_column, value_column, owner)"
							   " VALUES ($1, $2::pg_catalog.regclass, $3, $4, $5, $6::pg_catalog.regrole)"
							   " ON CONFLICT (name) DO NOTHING",
							   6, types, args, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" is already tracked", RecMessageText(name)),
				 errhint("recsys.untrack() it first; a model follows one table.")));

	/* created as the caller: CREATE TRIGGER checks its privilege on the table */
	rc = SPI_execute(psprintf("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s"
							  " FOR EACH ROW EXECUTE FUNCTION recsys.track_trigger(%s)",
							  quote_identifier(TriggerName(name)),
							  quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														 get_rel_name(relid)),
							  quote_literal_cstr(name)),
					 false, 0);
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * recsys.untrack(name text, source regclass default null): removes the trigger
 * (if its table still exists), the tracking and the model's overlays.
 */
PG_FUNCTION_INFO_V1(untrack);
Datum
untrack(PG_FUNCTION_ARGS)
{
	char	   *name = TrackNameArg(fcinfo);
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	Oid			source;
	Oid			owner;
	bool		isnull;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* as the caller: the policies show it only what it owns */
	rc = SPI_execute_with_args("SELECT t.source::pg_catalog.oid, t.owner::pg_catalog.oid"
							   " FROM recsys.tracked AS t WHERE t.name OPERATOR(pg_catalog.=) $1"
							   " FOR UPDATE",
							   1, &argtype, &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0 ||
		(!PG_ARGISNULL(1) &&
		 DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										&isnull)) != PG_GETARG_OID(1)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" is not tracked%s", RecMessageText(name),
						PG_ARGISNULL(1) ? "" : " from that table")));
	source = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
										   &isnull));
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", RecMessageText(name))));

	/* a dropped table took its trigger with it */
	if (get_rel_name(source) != NULL)
	{
		rc = SPI_execute(psprintf("DROP TRIGGER IF EXISTS %s ON %s",
								  quote_identifier(TriggerName(name)),
								  quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
															 get_rel_name(source))),
						 false, 0);
		if (rc != SPI_OK_UTILITY)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	}
	rc = SPI_execute_with_args("DELETE FROM recsys.tracked AS t WHERE t.name OPERATOR(pg_catalog.=) $1",
							   1, &argtype, &arg, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_with_args("DELETE FROM recsys.user_overlays AS o"
							   " WHERE o.name OPERATOR(pg_catalog.=) $1",
							   1, &argtype, &arg, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	PG_RETURN_VOID();
}
