/*
 * registry.c
 *		The registry's training entry points, recsys.train and recsys.retrain, and
 *		the one way recsys runs a query a user wrote (a training source or a test
 *		query): parsed on its own as exactly one SELECT, planned and executed
 *		directly, its rows converted column by column.  Nothing the user wrote is
 *		ever pasted into a larger statement.
 *
 * Who runs what (README "Security model"): a registry row belongs to the role that
 * created it.  train and retrain check, before any work, that the caller has the
 * privileges of that owner; they then run the stored source query and the
 * evaluation query as the owner, inside a security-restricted operation and a GUC
 * nest level of their own, with the search_path recorded when the row was trained
 * (as REFRESH MATERIALIZED VIEW runs a view's query as the view's owner).  So a
 * pg_cron job of a superuser that retrains a row runs that row's query with no
 * more rights than the row's owner has.  The registry itself is written as the
 * caller, under the row-level security policies of recsys.models.
 *
 * The numbers are learnt by train.c (the algorithms by algorithms.c); evaluation is evaluate.c.  Row visibility
 * (who sees which rows) is the policies' job, defined in the install script.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_coerce.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "algorithms.h"
#include "evaluate.h"
#include "model.h"
#include "options.h"
#include "modeltype.h"
#include "registry.h"
#include "serving.h"
#include "train.h"
#include "versions.h"

/* recsys.model_info, the value train and retrain return */
extern Datum model_info(PG_FUNCTION_ARGS);

/* longest piece of user text quoted in a message, in characters */
#define MESSAGE_TEXT_CHARS	64

/* longest model name the registry accepts, in bytes */
#define MODEL_NAME_MAX		256

/* search_path of rows trained before 0.2.0 recorded one (PostgreSQL's default) */
#define DEFAULT_SEARCH_PATH "\"$user\", public"

/* Registry options: stored with the row, never passed to the training aggregate */
static const char *const RegistryOptionKeys[] = {
	"eval_query", "eval_k", "eval_options", "keep_history"
};

/* How one column of a user's query becomes an id (int64) or a value (float4) */
typedef enum ColumnKind
{
	COLUMN_INT2,
	COLUMN_INT4,
	COLUMN_INT8,
	COLUMN_NUMERIC,
	COLUMN_FLOAT4,
	COLUMN_FLOAT8,
	COLUMN_CAST,				/* a cast function to the target type */
	COLUMN_IO					/* through the text forms */
} ColumnKind;

typedef struct ColumnReader
{
	ColumnKind	kind;
	Oid			target;			/* INT8OID or FLOAT4OID */
	int			position;		/* 1-based, for messages */
	const char *role;			/* "user", "item", "value" */
	FmgrInfo	cast;			/* COLUMN_CAST */
	int			cast_nargs;
	FmgrInfo	output;			/* COLUMN_IO: the column type's output */
	FmgrInfo	input;			/* COLUMN_IO: the target's input */
	Oid			input_param;
} ColumnReader;

/* The executor's destination for a user's query: converts rows, calls back */
typedef struct SourceReceiver
{
	DestReceiver pub;
	const char *what;
	int			min_columns;
	int			max_columns;
	int			n_columns;		/* columns the query returns */
	ColumnReader columns[3];
	Oid			extra_type;		/* the fourth column's type, if any */
	bool		want_time;		/* read a 4th column as the row's time */
	Oid			time_type;		/* its base type */
	MemoryContext row_cxt;		/* conversions of one row */
	RecSourceRowFn fn;
	void	   *arg;
} SourceReceiver;

/* What train() keeps between its steps */
typedef struct TrainRequest
{
	char	   *name;
	int			algorithm;		/* RECSYS_ALG_* */
	text	   *source;
	Jsonb	   *options;		/* as given: training plus registry options */
	Jsonb	   *train_options;	/* the training options alone */
	char	   *eval_query;		/* NULL: no evaluation */
	int32		eval_k;
	Jsonb	   *eval_options;
	int32		keep_history;
	char	   *search_path;	/* the path the source query runs with */
	Oid			owner;			/* the row's owner, the role the queries run as */
	TimestampTz snapshot_time;	/* when the source query's snapshot was taken */
	Jsonb	   *promote_if;		/* retrain's gate, NULL: always promote */
	const char *status;			/* the new version's status (trained, tuned) */
} TrainRequest;

/* A registry row as train/retrain need it before training */
typedef struct RegistryRow
{
	bool		found;
	Oid			owner;
	char	   *source;			/* NULL if none stored */
	Jsonb	   *options;
	char	   *search_path;
	int			algorithm;
} RegistryRow;

/* ---------------------------------------------------------------- messages */

/*
 * User text of len bytes in a message: at most MESSAGE_TEXT_CHARS characters,
 * followed by "..." when it was longer, so a huge name or value never fills a
 * message or the server log.
 */
char *
RecMessageTextLen(const char *s, int len)
{
	int			keep = pg_mbcharcliplen(s, len, MESSAGE_TEXT_CHARS);

	if (keep >= len)
		return pnstrdup(s, len);
	return psprintf("%.*s...", keep, s);
}

/* The same for a NUL-terminated string */
char *
RecMessageText(const char *s)
{
	return RecMessageTextLen(s, strlen(s));
}

/* ---------------------------------------------------- reading a user's query */

/* Chooses how a column of type type becomes target (an id or a value) */
static void
ColumnReaderInit(ColumnReader *c, Oid type, Oid target, int position,
				 const char *role, const char *what)
{
	Oid			base = getBaseType(type);
	Oid			funcid;
	CoercionPathType path;

	c->target = target;
	c->position = position;
	c->role = role;
	switch (base)
	{
		case INT2OID:
			c->kind = COLUMN_INT2;
			return;
		case INT4OID:
			c->kind = COLUMN_INT4;
			return;
		case INT8OID:
			c->kind = COLUMN_INT8;
			return;
		case NUMERICOID:
			c->kind = COLUMN_NUMERIC;
			return;
		case FLOAT4OID:
			c->kind = COLUMN_FLOAT4;
			return;
		case FLOAT8OID:
			c->kind = COLUMN_FLOAT8;
			return;
	}

	/* any other type the user could cast explicitly: by its cast or text form */
	path = find_coercion_pathway(target, base, COERCION_EXPLICIT, &funcid);
	if (path == COERCION_PATH_FUNC && OidIsValid(funcid))
	{
		c->kind = COLUMN_CAST;
		fmgr_info(funcid, &c->cast);
		c->cast_nargs = get_func_nargs(funcid);
	}
	else if (path == COERCION_PATH_COERCEVIAIO)
	{
		Oid			output;
		Oid			input;
		bool		varlena;

		c->kind = COLUMN_IO;
		getTypeOutputInfo(base, &output, &varlena);
		fmgr_info(output, &c->output);
		getTypeInputInfo(target, &input, &c->input_param);
		fmgr_info(input, &c->input);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column %d (%s) of the %s has type %s, which cannot be cast to %s",
						position, role, what, format_type_be(type),
						format_type_be(target))));
}

/* An id column's value as int64: integral and in range, or an error */
static int64
ReadId(ColumnReader *c, Datum d, const char *what)
{
	double		f;

	switch (c->kind)
	{
		case COLUMN_INT2:
			return DatumGetInt16(d);
		case COLUMN_INT4:
			return DatumGetInt32(d);
		case COLUMN_INT8:
			return DatumGetInt64(d);
		case COLUMN_NUMERIC:
			{
				Datum		whole = DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0));

				if (!DatumGetBool(DirectFunctionCall2(numeric_eq, d, whole)))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							 errmsg("%s id must be a whole number, got %s in column %d of the %s",
									c->role,
									RecMessageText(DatumGetCString(DirectFunctionCall1(numeric_out, d))),
									c->position, what)));
				return DatumGetInt64(DirectFunctionCall1(numeric_int8, d));
			}
		case COLUMN_FLOAT4:
			f = DatumGetFloat4(d);
			break;
		case COLUMN_FLOAT8:
			f = DatumGetFloat8(d);
			break;
		case COLUMN_CAST:
			if (c->cast_nargs >= 3)
				return DatumGetInt64(FunctionCall3(&c->cast, d, Int32GetDatum(-1),
												   BoolGetDatum(true)));
			return DatumGetInt64(FunctionCall1(&c->cast, d));
		case COLUMN_IO:
			return DatumGetInt64(InputFunctionCall(&c->input, OutputFunctionCall(&c->output, d),
												   c->input_param, -1));
	}

	/* a float id: whole and within bigint */
	if (isnan(f) || isinf(f) || f != rint(f))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("%s id must be a whole number, got %g in column %d of the %s",
						c->role, f, c->position, what)));
	if (!FLOAT8_FITS_IN_INT64(f))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s id %g in column %d of the %s is out of range for bigint",
						c->role, f, c->position, what)));
	return (int64) f;
}

/* A value column's value as float4 (finite checks are the caller's) */
static float
ReadValue(ColumnReader *c, Datum d, const char *what)
{
	double		f;

	switch (c->kind)
	{
		case COLUMN_INT2:
			return (float) DatumGetInt16(d);
		case COLUMN_INT4:
			return (float) DatumGetInt32(d);
		case COLUMN_INT8:
			return (float) DatumGetInt64(d);
		case COLUMN_NUMERIC:
			return DatumGetFloat4(DirectFunctionCall1(numeric_float4, d));
		case COLUMN_FLOAT4:
			return DatumGetFloat4(d);
		case COLUMN_FLOAT8:
			f = DatumGetFloat8(d);
			if (isfinite(f) && fabs(f) > FLT_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("value %g in column %d of the %s is out of range for real",
								f, c->position, what)));
			return (float) f;
		case COLUMN_CAST:
			if (c->cast_nargs >= 3)
				return DatumGetFloat4(FunctionCall3(&c->cast, d, Int32GetDatum(-1),
													BoolGetDatum(true)));
			return DatumGetFloat4(FunctionCall1(&c->cast, d));
		case COLUMN_IO:
			return DatumGetFloat4(InputFunctionCall(&c->input, OutputFunctionCall(&c->output, d),
													c->input_param, -1));
	}
	return 0;					/* keep the compiler quiet */
}

/* Receiver start-up: the query's columns are known; check them, pick readers */
static void
SourceStartup(DestReceiver *self, int operation, TupleDesc desc)
{
	SourceReceiver *r = (SourceReceiver *) self;
	static const char *const roles[3] = {"user", "item", "value"};
	int			n = desc->natts;

	if (n < r->min_columns || n > r->max_columns)
	{
		if (r->max_columns > 3)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must return at least %d columns (user, item, value), got %d",
							r->what, r->min_columns, n)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must return %d or %d columns (user, item [, value]), got %d",
						r->what, r->min_columns, r->max_columns, n)));
	}
	r->n_columns = n;
	r->extra_type = n >= 4 ? getBaseType(TupleDescAttr(desc, 3)->atttypid) : InvalidOid;
	for (int c = 0; c < Min(n, 3); c++)
		ColumnReaderInit(&r->columns[c], TupleDescAttr(desc, c)->atttypid,
						 c < 2 ? INT8OID : FLOAT4OID, c + 1, roles[c], r->what);
	if (r->want_time && n >= 4)
	{
		Oid			type = TupleDescAttr(desc, 3)->atttypid;

		r->time_type = getBaseType(type);
		switch (r->time_type)
		{
			case TIMESTAMPTZOID:
			case TIMESTAMPOID:
			case DATEOID:
			case INT2OID:
			case INT4OID:
			case INT8OID:
			case NUMERICOID:
			case FLOAT4OID:
			case FLOAT8OID:
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column 4 (time) of the %s has type %s; it must be a timestamp, a date or a number",
								r->what, format_type_be(type))));
		}
	}
}

/* The 4th column as a number that orders rows in time (timestamps: microseconds) */
static double
ReadTime(Oid type, Datum d)
{
	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			return (double) DatumGetInt64(d);
		case DATEOID:
			return (double) DatumGetDateADT(d) * (double) USECS_PER_DAY;
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
	}
	return 0;					/* keep the compiler quiet */
}

/* One row: convert the first three columns and hand them to the callback */
static bool
SourceReceive(TupleTableSlot *slot, DestReceiver *self)
{
	SourceReceiver *r = (SourceReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->row_cxt);
	RecSourceRow row;

	slot_getsomeattrs(slot, Min(r->n_columns, 4));
	row.user_null = slot->tts_isnull[0];
	row.item_null = slot->tts_isnull[1];
	row.value_null = r->n_columns < 3 || slot->tts_isnull[2];
	row.user = row.user_null ? 0 : ReadId(&r->columns[0], slot->tts_values[0], r->what);
	row.item = row.item_null ? 0 : ReadId(&r->columns[1], slot->tts_values[1], r->what);
	row.value = row.value_null ? 0 : ReadValue(&r->columns[2], slot->tts_values[2], r->what);
	row.extra_type = r->extra_type;
	row.extra_null = r->n_columns < 4 || slot->tts_isnull[3];
	row.extra = row.extra_null ? (Datum) 0 : slot->tts_values[3];
	row.time_null = !r->want_time || r->n_columns < 4 || slot->tts_isnull[3];
	row.time = row.time_null ? 0 : ReadTime(r->time_type, slot->tts_values[3]);
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->row_cxt);

	r->fn(r->arg, &row);
	return true;
}

static void
SourceShutdown(DestReceiver *self)
{
}

static void
SourceDestroy(DestReceiver *self)
{
}

/*
 * Runs a user's query; see registry.h.  It is parsed alone: anything but a single
 * SELECT (several statements, a utility or data-modifying statement, SELECT INTO,
 * a data-modifying WITH) is rejected before it runs.  The plan may be parallel.
 */
int
RecRunSourceQuery(const char *query, const char *what, int min_columns,
				  int max_columns, RecSourceRowFn fn, void *arg)
{
	return RecRunSourceQueryTimed(query, what, min_columns, max_columns, false, fn, arg);
}

/* RecRunSourceQuery that also reads a 4th column as the row's time (registry.h) */
int
RecRunSourceQueryTimed(const char *query, const char *what, int min_columns,
					   int max_columns, bool want_time, RecSourceRowFn fn, void *arg)
{
	List	   *raw;
	RawStmt    *stmt;
	List	   *queries;
	Query	   *q;
	PlannedStmt *plan;
	QueryDesc  *qd;
	SourceReceiver r;

	raw = pg_parse_query(query);
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be exactly one SELECT statement, got %d statements",
						what, list_length(raw))));
	stmt = linitial_node(RawStmt, raw);
	if (!IsA(stmt->stmt, SelectStmt) || ((SelectStmt *) stmt->stmt)->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a SELECT statement", what)));

	queries = pg_analyze_and_rewrite_fixedparams(stmt, query, NULL, 0, NULL);
	if (list_length(queries) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single SELECT statement", what)));
	q = linitial_node(Query, queries);
	if (q->commandType != CMD_SELECT || q->utilityStmt != NULL || q->hasModifyingCTE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a SELECT statement that does not modify data", what)));
	plan = pg_plan_query(q, query, CURSOR_OPT_PARALLEL_OK, NULL);

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = SourceReceive;
	r.pub.rStartup = SourceStartup;
	r.pub.rShutdown = SourceShutdown;
	r.pub.rDestroy = SourceDestroy;
	r.pub.mydest = DestNone;
	r.what = what;
	r.min_columns = min_columns;
	r.max_columns = max_columns;
	r.want_time = want_time;
	r.fn = fn;
	r.arg = arg;
	r.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "recsys source row",
									  ALLOCSET_SMALL_SIZES);

	/* the query sees what the calling statement has done so far */
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();
	qd = CreateQueryDesc(plan, query, GetActiveSnapshot(), InvalidSnapshot,
						 &r.pub, NULL, NULL, 0);
	ExecutorStart(qd, 0);
	ExecutorRun(qd, ForwardScanDirection, 0, true);
	ExecutorFinish(qd);
	ExecutorEnd(qd);
	FreeQueryDesc(qd);
	PopActiveSnapshot();
	MemoryContextDelete(r.row_cxt);
	return r.n_columns;
}

/* ------------------------------------------------------ running as the owner */

/* What BeginAsOwner changed, for EndAsOwner to put back (registry.h) */
typedef RecAsOwner AsOwner;

/*
 * From here on, run as owner inside a security-restricted operation, with
 * search_path as given; settings the queries change end with EndAsOwner.  An
 * error on the way is cleaned up by the (sub)transaction abort, as for REFRESH
 * MATERIALIZED VIEW.
 */
static void
BeginAsOwner(AsOwner *s, Oid owner, const char *search_path)
{
	GetUserIdAndSecContext(&s->save_userid, &s->save_sec_context);
	SetUserIdAndSecContext(owner, s->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	s->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

static void
EndAsOwner(AsOwner *s)
{
	AtEOXact_GUC(false, s->save_nestlevel);
	SetUserIdAndSecContext(s->save_userid, s->save_sec_context);
}

/* BeginAsOwner for other files (track.c) */
void
RecBeginAsOwner(RecAsOwner *s, Oid owner, const char *search_path)
{
	BeginAsOwner(s, owner, search_path);
}

/* EndAsOwner for other files */
void
RecEndAsOwner(RecAsOwner *s)
{
	EndAsOwner(s);
}

/* ---------------------------------------------------------- registry rows */

/* The oid of relation relname in schema recsys (InvalidOid if missing_ok and absent) */
Oid
RecExtensionRelation(const char *relname, bool missing_ok)
{
	Oid			nsp = get_namespace_oid("recsys", false);
	Oid			relid = get_relname_relid(relname, nsp);

	if (!OidIsValid(relid) && !missing_ok)
		elog(ERROR, "relation recsys.%s does not exist", relname);
	return relid;
}

/* The oid of type recsys.model */
static Oid
ModelTypeOid(void)
{
	Oid			nsp = get_namespace_oid("recsys", false);

	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("model"),
						   ObjectIdGetDatum(nsp));
}

/* The role that owns relation relid */
Oid
RecRelationOwner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * The registry row of name as the caller sees it, or, with past_policies, read
 * past the row-level security policies (as the table's owner, in a
 * security-restricted operation) so that train can tell a name that is free from
 * one that belongs to a role the caller cannot see.  Everything returned is in
 * CurrentMemoryContext.
 */
static void
RegistryLookup(const char *name, bool past_policies, RegistryRow *row)
{
	Oid			relid = RecExtensionRelation("models", false);
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	MemoryContext cxt = CurrentMemoryContext;
	AsOwner		as;
	int			rc;

	memset(row, 0, sizeof(*row));
	if (past_policies)
		BeginAsOwner(&as, RecRelationOwner(relid), "pg_catalog, pg_temp");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT r.owner::pg_catalog.oid, r.source, r.options,"
							   " r.search_path, r.model"
							   " FROM recsys.models AS r"
							   " WHERE r.name OPERATOR(pg_catalog.=) $1",
							   1, &argtype, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		MemoryContext spi_cxt = MemoryContextSwitchTo(cxt);

		row->found = true;
		d = SPI_getbinval(tup, desc, 1, &isnull);
		row->owner = isnull ? InvalidOid : DatumGetObjectId(d);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		row->source = isnull ? NULL : TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		row->options = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		row->search_path = isnull ? NULL : TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		if (!isnull)
		{
			/* the algorithm is in the header: no need to read the whole model */
			RecModelHeader h;

			RecModelPeekHeader(d, &h);
			row->algorithm = h.algorithm;
		}
		MemoryContextSwitchTo(spi_cxt);
	}
	SPI_finish();
	if (past_policies)
		EndAsOwner(&as);
}

/*
 * Checks, before anything runs, that the caller may train the row of that name:
 * it may write the registry and, if the row exists, has its owner's privileges.
 */
static void
CheckMayTrain(const char *name, const RegistryRow *row)
{
	Oid			user = GetUserId();
	Oid			models = RecExtensionRelation("models", false);
	Oid			history = RecExtensionRelation("model_history", false);
	AclMode		needed[3] = {ACL_SELECT, ACL_INSERT, ACL_UPDATE};

	for (int i = 0; i < 3; i++)
		if (pg_class_aclcheck(models, user, needed[i]) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "models");
	if (pg_class_aclcheck(history, user, ACL_INSERT) != ACLCHECK_OK ||
		pg_class_aclcheck(history, user, ACL_DELETE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "model_history");

	if (row->found && !has_privs_of_role(user, row->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", RecMessageText(name)),
				 errdetail("Only its owner (or a member of the owning role) may train it.")));
	if (row->found && !SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(row->owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of model \"%s\" no longer exists", RecMessageText(name)),
				 errhint("A superuser can give the row a new owner: UPDATE recsys.models SET owner = ... WHERE name = ....")));
}

static void DropOlderOverlays(const TrainRequest *rq);

/* Executes one registry statement through SPI as the caller */
static void
RegistryExecute(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
				int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "registry statement failed: %s", SPI_result_code_string(rc));
}

/*
 * Stores the trained model as a new version of the request's name and returns
 * its id (one more than the highest given out).  Live: it replaces the live row,
 * which moves into recsys.model_history; not live (a rejected candidate): it goes
 * straight into the history with its reason and the live row stays.  Either way
 * the history keeps the keep_history highest versions.  Runs as the caller, so
 * the table privileges and row-level security apply.  Concurrent trainings of
 * one name are serialised by the live row's lock; a name inserted concurrently
 * by someone else is retried once through the locking path.
 */
static int64
StoreVersion(const TrainRequest *rq, Datum model, Jsonb *metrics, bool live,
			 const char *reason)
{
	Oid			model_type = ModelTypeOid();
	Datum		name = CStringGetTextDatum(rq->name);
	Datum		search_path = CStringGetTextDatum(rq->search_path);
	Datum		status = CStringGetTextDatum(rq->status);
	int64		version = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int attempt = 0; attempt < 2; attempt++)
	{
		Oid			lock_types[1] = {TEXTOID};
		int			rc;

		rc = SPI_execute_with_args("SELECT r.last_version FROM recsys.models AS r"
								   " WHERE r.name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
								   1, lock_types, &name, NULL, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
		{
			bool		isnull;
			Oid			keep_types[2] = {TEXTOID, INT4OID};
			Datum		keep_args[2] = {name, Int32GetDatum(rq->keep_history)};
			Oid			upd_types[8] = {TEXTOID, model_type, TEXTOID, JSONBOID, JSONBOID,
			TEXTOID, INT8OID, TEXTOID};
			Datum		upd_args[8];
			char		upd_nulls[8] = {' ', ' ', ' ', ' ', metrics ? ' ' : 'n', ' ', ' ', ' '};

			version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull)) + 1;
			upd_args[0] = name;
			upd_args[1] = model;
			upd_args[2] = PointerGetDatum(rq->source);
			upd_args[3] = JsonbPGetDatum(rq->options);
			upd_args[4] = PointerGetDatum(metrics);
			upd_args[5] = search_path;
			upd_args[6] = Int64GetDatum(version);
			upd_args[7] = live ? status : CStringGetTextDatum(reason);

			if (live)
			{
				if (rq->keep_history > 0)
					RegistryExecute("INSERT INTO recsys.model_history"
									" (name, owner, model, source, options, trained_at, metrics,"
									"  search_path, replaced_at, version, status)"
									" SELECT r.name, r.owner, r.model, r.source, r.options,"
									"  r.trained_at, r.metrics, r.search_path,"
									"  pg_catalog.clock_timestamp(), r.version, r.status"
									" FROM recsys.models AS r"
									" WHERE r.name OPERATOR(pg_catalog.=) $1",
									1, keep_types, keep_args, NULL, SPI_OK_INSERT);
				RegistryExecute("UPDATE recsys.models AS r"
								" SET model = $2, source = $3, options = $4, metrics = $5,"
								"  search_path = $6, trained_at = pg_catalog.clock_timestamp(),"
								"  version = $7, last_version = $7, status = $8"
								" WHERE r.name OPERATOR(pg_catalog.=) $1",
								8, upd_types, upd_args, upd_nulls, SPI_OK_UPDATE);
				DropOlderOverlays(rq);
			}
			else
			{
				/* a rejected candidate: kept unless no history is kept at all */
				if (rq->keep_history > 0)
					RegistryExecute("INSERT INTO recsys.model_history"
									" (name, owner, model, source, options, trained_at, metrics,"
									"  search_path, replaced_at, version, status, reason)"
									" SELECT r.name, r.owner, $2, $3, $4,"
									"  pg_catalog.clock_timestamp(), $5, $6, NULL, $7,"
									"  'rejected', $8"
									" FROM recsys.models AS r"
									" WHERE r.name OPERATOR(pg_catalog.=) $1",
									8, upd_types, upd_args, upd_nulls, SPI_OK_INSERT);
				RegistryExecute("UPDATE recsys.models AS r SET last_version = $7"
								" WHERE r.name OPERATOR(pg_catalog.=) $1",
								8, upd_types, upd_args, upd_nulls, SPI_OK_UPDATE);
			}
			/* the keep_history highest versions of the owner's history stay */
			RegistryExecute("DELETE FROM recsys.model_history AS h"
							" USING recsys.models AS r"
							" WHERE r.name OPERATOR(pg_catalog.=) $1"
							" AND h.name OPERATOR(pg_catalog.=) $1"
							" AND h.owner::pg_catalog.oid OPERATOR(pg_catalog.=) r.owner::pg_catalog.oid"
							" AND NOT h.version OPERATOR(pg_catalog.=) ANY (ARRAY("
							"  SELECT k.version FROM recsys.model_history AS k"
							"  WHERE k.name OPERATOR(pg_catalog.=) $1"
							"  AND k.owner::pg_catalog.oid OPERATOR(pg_catalog.=) r.owner::pg_catalog.oid"
							"  ORDER BY k.version DESC LIMIT $2))",
							2, keep_types, keep_args, NULL, SPI_OK_DELETE);
			SPI_finish();
			return version;
		}
		else
		{
			Oid			ins_types[8] = {TEXTOID, REGROLEOID, model_type, TEXTOID, JSONBOID,
			JSONBOID, TEXTOID, TEXTOID};
			Datum		ins_args[8] = {name, ObjectIdGetDatum(rq->owner), model,
				PointerGetDatum(rq->source), JsonbPGetDatum(rq->options),
			PointerGetDatum(metrics), search_path, status};
			char		ins_nulls[8] = {' ', ' ', ' ', ' ', ' ', metrics ? ' ' : 'n', ' ', ' '};

			/*
			 * A new row (a gate needs a live model, so it is live).  Its ids
			 * follow those its owner's history of the name still holds (rows
			 * left when an earlier row of the name was deleted).
			 */
			rc = SPI_execute_with_args("INSERT INTO recsys.models AS r"
									   " (name, owner, model, source, options, metrics,"
									   "  search_path, trained_at, version, last_version, status)"
									   " SELECT $1, $2, $3, $4, $5, $6, $7,"
									   "  pg_catalog.clock_timestamp(), v.next, v.next, $8"
									   " FROM (SELECT COALESCE(pg_catalog.max(h.version), 0)"
									   "   OPERATOR(pg_catalog.+) 1 AS next"
									   "  FROM recsys.model_history AS h"
									   "  WHERE h.name OPERATOR(pg_catalog.=) $1"
									   "  AND h.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $2::pg_catalog.oid) AS v"
									   " ON CONFLICT (name) DO NOTHING RETURNING r.version",
									   8, ins_types, ins_args, ins_nulls, false, 0);
			if (rc != SPI_OK_INSERT_RETURNING)
				elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
			if (SPI_processed > 0)
			{
				bool		isnull;

				version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));
				DropOlderOverlays(rq);
				SPI_finish();
				return version;
			}
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_OBJECT),
			 errmsg("model \"%s\" already exists and belongs to another role",
					RecMessageText(rq->name))));
	return version;				/* keep the compiler quiet */
}

/*
 * Drops the overlays (recsys.track) of the name that the new model already
 * reflects: those last recomputed before its source query's snapshot.  Newer
 * ones (a click during training) stay; serving folds them in again with the new
 * model.  As the caller, under the overlays' row-level security.
 */
static void
DropOlderOverlays(const TrainRequest *rq)
{
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		args[2] = {CStringGetTextDatum(rq->name), TimestampTzGetDatum(rq->snapshot_time)};

	if (!OidIsValid(get_relname_relid("user_overlays", get_namespace_oid("recsys", false))))
		return;
	RegistryExecute("DELETE FROM recsys.user_overlays AS o"
					" WHERE o.name OPERATOR(pg_catalog.=) $1"
					" AND o.updated_at OPERATOR(pg_catalog.<) $2",
					2, types, args, NULL, SPI_OK_DELETE);
}

/* ----------------------------------------------------------- train/retrain */

/* A new empty JSON object */
static Jsonb *
EmptyObject(void)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
}

/* The value of key in options, or NULL */
static JsonbValue *
OptionValue(Jsonb *options, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&options->root, JB_FOBJECT, &k);
}

/* An option of recsys.train that must be an integer in [min, max] */
static int32
RegistryIntOption(Jsonb *options, const char *key, int32 min, int32 max, int32 dflt)
{
	JsonbValue *v = OptionValue(options, key);

	if (v == NULL)
		return dflt;
	if (v->type == jbvNumeric)
	{
		Datum		num = NumericGetDatum(v->val.numeric);
		Datum		whole = DirectFunctionCall2(numeric_trunc, num, Int32GetDatum(0));

		if (DatumGetBool(DirectFunctionCall2(numeric_eq, num, whole)) &&
			DatumGetBool(DirectFunctionCall2(numeric_ge, num,
											 NumericGetDatum(int64_to_numeric(min)))) &&
			DatumGetBool(DirectFunctionCall2(numeric_le, num,
											 NumericGetDatum(int64_to_numeric(max)))))
			return DatumGetInt32(DirectFunctionCall1(numeric_int4, num));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" must be an integer between %d and %d, got %s",
					key, min, max, RecJsonValueText(v))));
	return dflt;				/* keep the compiler quiet */
}

/* Splits recsys.train's options into the registry's and the training ones */
static void
ParseTrainOptions(TrainRequest *rq)
{
	JsonbValue *v;
	Datum		rest;

	if (!JB_ROOT_IS_OBJECT(rq->options) || JB_ROOT_IS_SCALAR(rq->options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of recsys.train must be a JSON object")));

	rq->eval_query = NULL;
	if ((v = OptionValue(rq->options, "eval_query")) != NULL)
	{
		if (v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"eval_query\" must be a string (a test query), got %s",
							RecJsonValueText(v))));
		rq->eval_query = pnstrdup(v->val.string.val, v->val.string.len);
	}
	rq->eval_k = RegistryIntOption(rq->options, "eval_k", 1, RECSYS_MAX_TOPN, 10);
	rq->keep_history = RegistryIntOption(rq->options, "keep_history", 0, 1000, 5);
	rq->eval_options = EmptyObject();
	if ((v = OptionValue(rq->options, "eval_options")) != NULL)
	{
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"eval_options\" must be a JSON object (options of recsys.evaluate)")));
		rq->eval_options = JsonbValueToJsonb(v);
		RecCheckEvalOptions(rq->eval_options);
	}
	if (rq->eval_query == NULL &&
		(OptionValue(rq->options, "eval_k") != NULL ||
		 OptionValue(rq->options, "eval_options") != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"eval_k\" and \"eval_options\" need \"eval_query\"")));

	rest = JsonbPGetDatum(rq->options);
	for (int i = 0; i < lengthof(RegistryOptionKeys); i++)
		rest = DirectFunctionCall2(jsonb_delete, rest,
								   CStringGetTextDatum(RegistryOptionKeys[i]));
	rq->train_options = DatumGetJsonbP(rest);
}

/* Row callback of the source query: one interaction into the training state */
static void
TrainRow(void *arg, const RecSourceRow *row)
{
	RecTrainingAddRow((RecTraining *) arg, row->user_null, row->user, row->item_null,
					  row->item, row->value_null, row->value, row->extra_type,
					  row->extra_null, row->extra);
}

/*
 * The live model of name as the caller sees it (a TOAST pointer into
 * recsys.models, copied into the current context), for a gate to evaluate
 */
static Datum
LiveModel(const char *name)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	MemoryContext cxt = CurrentMemoryContext;
	Datum		model;
	bool		isnull;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT r.model FROM recsys.models AS r"
							   " WHERE r.name OPERATOR(pg_catalog.=) $1",
							   1, &argtype, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "the live model of \"%s\" disappeared", RecMessageText(name));
	model = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	MemoryContextSwitchTo(cxt);
	model = datumCopy(model, false, -1);
	SPI_finish();
	return model;
}

/* model_info of m with the version it was stored as, its status and reason */
static Datum
VersionInfo(RecModelHeader *m, int64 version, const char *status, const char *reason)
{
	Datum		info = DirectFunctionCall1(model_info, PointerGetDatum(m));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"version\": " INT64_FORMAT ", \"status\": ", version);
	escape_json(&buf, status);
	if (reason != NULL)
	{
		appendStringInfoString(&buf, ", \"reason\": ");
		escape_json(&buf, reason);
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall2(jsonb_concat, info,
							   DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * The whole of train and retrain once the request is complete: check, train as
 * the owner, evaluate as the owner (with a gate: the live model too, on the
 * same query), store as the caller.  Returns model_info with the version.
 */
static Datum
RunTraining(TrainRequest *rq, const RegistryRow *row)
{
	MemoryContext cxt = CurrentMemoryContext;
	RecTraining *t;
	RecModelHeader *m;
	Jsonb	   *metrics = NULL;
	AsOwner		as;
	char	   *source = text_to_cstring(rq->source);
	RecPromoteRule rule;
	Datum		live_model = (Datum) 0;
	char	   *reason = NULL;
	bool		promote = true;
	int64		version;

	rq->owner = row->found ? row->owner : GetUserId();
	CheckMayTrain(rq->name, row);
	ParseTrainOptions(rq);
	if (rq->status == NULL)
		rq->status = "trained";
	if (rq->promote_if != NULL)
	{
		if (rq->eval_query == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no eval_query to decide promote_if on",
							RecMessageText(rq->name)),
					 errhint("Train it with options.eval_query (a held-out test query).")));
		RecParsePromoteRule(rq->promote_if, rq->eval_k, &rule);
		live_model = LiveModel(rq->name);
	}

	/* training options are checked before the source query runs */
	t = RecTrainingBegin(cxt, rq->algorithm, rq->train_options);

	/* the statement's snapshot (the transaction's under repeatable read) */
	rq->snapshot_time = IsolationUsesXactSnapshot() ? GetCurrentTransactionStartTimestamp() :
		GetCurrentStatementStartTimestamp();
	BeginAsOwner(&as, rq->owner, rq->search_path);
	RecRunSourceQuery(source, "source query", 3, INT_MAX, TrainRow, t);
	m = RecTrainingFinish(t);
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source query of model \"%s\" returned no interactions",
						RecMessageText(rq->name))));
	if (rq->eval_query != NULL)
		metrics = RecEvaluate(PointerGetDatum(m), rq->eval_query, rq->eval_k,
							  rq->eval_options);
	if (rq->promote_if != NULL)
	{
		Jsonb	   *live_metrics = RecEvaluate(live_model, rq->eval_query, rq->eval_k,
											   rq->eval_options);

		promote = RecPromoteDecide(&rule, metrics, live_metrics, &reason);
		if (promote)
			rq->status = "promoted";
	}
	EndAsOwner(&as);

	version = StoreVersion(rq, PointerGetDatum(m), metrics, promote, reason);
	if (!promote)
		ereport(NOTICE,
				(errmsg("model \"%s\": candidate version " INT64_FORMAT " rejected, the live version stays",
						RecMessageText(rq->name), version),
				 errdetail("%s", reason)));
	return VersionInfo(m, version, promote ? rq->status : "rejected", reason);
}

/* The model name argument: not NULL, not empty, not too long */
static char *
ModelNameArg(FunctionCallInfo fcinfo, int arg)
{
	char	   *name;

	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (name[0] == '\0' || strlen(name) > MODEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must be between 1 and %d bytes long, got %zu",
						MODEL_NAME_MAX, strlen(name))));
	return name;
}

/*
 * recsys.train(name text, algorithm text, source_query text, options jsonb)
 * returns jsonb: trains the algorithm on the query's rows as the row's owner,
 * evaluates it on options.eval_query, stores it under name; returns model_info.
 */
PG_FUNCTION_INFO_V1(registry_train);
Datum
registry_train(PG_FUNCTION_ARGS)
{
	TrainRequest rq;
	RegistryRow row;
	char	   *algorithm;
	const RecAlgorithm *alg;

	memset(&rq, 0, sizeof(rq));
	rq.name = ModelNameArg(fcinfo, 0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("algorithm must not be NULL"),
				 errhint("%s", RecAlgorithmHint())));
	algorithm = text_to_cstring(PG_GETARG_TEXT_PP(1));
	alg = RecAlgorithmByName(algorithm);
	if (alg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown algorithm \"%s\"", RecMessageText(algorithm)),
				 errhint("%s", RecAlgorithmHint())));
	rq.algorithm = alg->code;
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source_query must not be NULL")));
	rq.source = PG_GETARG_TEXT_PP(2);
	rq.options = PG_ARGISNULL(3) ? EmptyObject() : PG_GETARG_JSONB_P(3);

	/* the caller's search_path: the query runs, now and on retrain, with it */
	rq.search_path = GetConfigOptionByName("search_path", NULL, false);

	RegistryLookup(rq.name, true, &row);
	PG_RETURN_DATUM(RunTraining(&rq, &row));
}

/*
 * recsys.retrain(name text, promote_if jsonb) returns jsonb: train again from
 * the stored source query, options and search_path, as the row's owner; with
 * promote_if, the new version goes live only if the rule holds.
 */
PG_FUNCTION_INFO_V1(registry_retrain);
Datum
registry_retrain(PG_FUNCTION_ARGS)
{
	TrainRequest rq;
	RegistryRow row;

	memset(&rq, 0, sizeof(rq));
	rq.name = ModelNameArg(fcinfo, 0);
	/* as the caller sees the registry: a row it may not see does not exist */
	RegistryLookup(rq.name, false, &row);
	if (!row.found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", RecMessageText(rq.name)),
				 errhint("Models are rows of recsys.models; recsys.train() creates one.")));
	if (row.source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no stored source query", RecMessageText(rq.name)),
				 errhint("Train it with recsys.train() to record the query it is built from.")));
	rq.algorithm = row.algorithm;
	rq.source = cstring_to_text(row.source);
	rq.options = row.options != NULL ? row.options : EmptyObject();
	rq.search_path = row.search_path != NULL ? row.search_path : pstrdup(DEFAULT_SEARCH_PATH);
	rq.promote_if = PG_NARGS() > 1 && !PG_ARGISNULL(1) ? PG_GETARG_JSONB_P(1) : NULL;
	PG_RETURN_DATUM(RunTraining(&rq, &row));
}

/* ------------------------------------------------------------ recsys.tune */

/* The model name argument of another file's function (ModelNameArg) */
char *
RecModelNameArg(FunctionCallInfo fcinfo, int arg)
{
	return ModelNameArg(fcinfo, arg);
}

/*
 * Checks that the caller may train name, as train does, and says as whom the
 * queries run and which registry options (eval_query, eval_k, eval_options,
 * keep_history) the row already has; the search_path is the caller's.
 */
void
RecRegistryPrepare(const char *name, RecRegistryTarget *t)
{
	RegistryRow row;

	RegistryLookup(name, true, &row);
	CheckMayTrain(name, &row);
	t->owner = row.found ? row.owner : GetUserId();
	t->search_path = GetConfigOptionByName("search_path", NULL, false);
	t->snapshot_time = IsolationUsesXactSnapshot() ? GetCurrentTransactionStartTimestamp() :
		GetCurrentStatementStartTimestamp();
	t->registry_options = EmptyObject();
	if (row.found && row.options != NULL && JB_ROOT_IS_OBJECT(row.options) &&
		!JB_ROOT_IS_SCALAR(row.options))
	{
		for (int i = 0; i < lengthof(RegistryOptionKeys); i++)
		{
			JsonbValue *v = OptionValue(row.options, RegistryOptionKeys[i]);
			JsonbParseState *state = NULL;
			JsonbValue	key;
			JsonbValue *pair;

			if (v == NULL)
				continue;
			key.type = jbvString;
			key.val.string.val = (char *) RegistryOptionKeys[i];
			key.val.string.len = strlen(RegistryOptionKeys[i]);
			pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
			pushJsonbValue(&state, WJB_KEY, &key);
			pushJsonbValue(&state, WJB_VALUE, v);
			pair = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
			t->registry_options = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
																	 JsonbPGetDatum(t->registry_options),
																	 JsonbPGetDatum(JsonbValueToJsonb(pair))));
		}
	}
}

/*
 * Stores a model recsys.tune chose as the new live version of name (status
 * tuned) with its validation metrics; its options are the training options it
 * was trained with plus the row's registry options.  Returns model_info with
 * the version.
 */
Datum
RecRegistryStoreTuned(const char *name, const RecRegistryTarget *t, int algorithm,
					  text *source, Jsonb *train_options, RecModelHeader *m,
					  Jsonb *metrics, int64 *version)
{
	TrainRequest rq;

	memset(&rq, 0, sizeof(rq));
	rq.name = pstrdup(name);
	rq.algorithm = algorithm;
	rq.source = source;
	rq.options = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
													JsonbPGetDatum(train_options),
													JsonbPGetDatum(t->registry_options)));
	ParseTrainOptions(&rq);
	rq.search_path = t->search_path;
	rq.owner = t->owner;
	rq.snapshot_time = t->snapshot_time;
	rq.status = "tuned";
	*version = StoreVersion(&rq, PointerGetDatum(m), metrics, true, NULL);
	return VersionInfo(m, *version, rq.status, NULL);
}

/*
 * recsys.share(name, role) and recsys.unshare(name, role): add role (or 'public')
 * to the readers of the named model, or take it out.  Only a role with the
 * owner's privileges may; the caller sees the row as its policies let it.
 */
static void
ChangeReaders(FunctionCallInfo fcinfo, bool add)
{
	char	   *name = ModelNameArg(fcinfo, 0);
	char	   *role = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			grantee = InvalidOid;
	RegistryRow row;
	Oid			types[3] = {TEXTOID, REGROLEOID, BOOLOID};
	Datum		values[3];

	if (pg_strcasecmp(role, "public") != 0 &&
		!OidIsValid(grantee = get_role_oid(role, true)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", RecMessageText(role))));
	RegistryLookup(name, false, &row);
	if (!row.found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", RecMessageText(name))));
	if (!has_privs_of_role(GetUserId(), row.owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", RecMessageText(name)),
				 errdetail("Only its owner (or a member of the owning role) may %s it.",
						   add ? "share" : "unshare")));

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(grantee);
	values[2] = BoolGetDatum(add);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RegistryExecute("UPDATE recsys.models AS r SET readers ="
					" CASE WHEN NOT $3 THEN pg_catalog.array_remove(r.readers, $2)"
					"  WHEN $2 OPERATOR(pg_catalog.=) ANY (r.readers) THEN r.readers"
					"  ELSE pg_catalog.array_append(r.readers, $2) END"
					" WHERE r.name OPERATOR(pg_catalog.=) $1",
					3, types, values, NULL, SPI_OK_UPDATE);
	SPI_finish();
}

/* recsys.share(name text, role text) */
PG_FUNCTION_INFO_V1(registry_share);
Datum
registry_share(PG_FUNCTION_ARGS)
{
	ChangeReaders(fcinfo, true);
	PG_RETURN_VOID();
}

/* recsys.unshare(name text, role text) */
PG_FUNCTION_INFO_V1(registry_unshare);
Datum
registry_unshare(PG_FUNCTION_ARGS)
{
	ChangeReaders(fcinfo, false);
	PG_RETURN_VOID();
}
