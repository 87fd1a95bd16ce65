/*
 * registry.h
 *		Reading a query the user wrote (a training source or a test query) as exactly
 *		one SELECT, and running it as the owner of a registry row.
 */
#ifndef RECSYS_REGISTRY_H
#define RECSYS_REGISTRY_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* One row of a source or test query, converted to the types recsys reads */
typedef struct RecSourceRow
{
	int64		user;
	int64		item;
	float		value;
	bool		user_null;
	bool		item_null;
	bool		value_null;		/* also true when the query has no value column */
	Oid			extra_type;		/* type of a fourth column, InvalidOid if none */
	bool		extra_null;
	Datum		extra;			/* the fourth column as it came (item features) */
	bool		time_null;		/* no 4th column asked for, none, or NULL */
	double		time;			/* the 4th column (RecRunSourceQueryTimed) */
} RecSourceRow;

typedef void (*RecSourceRowFn) (void *arg, const RecSourceRow *row);

/*
 * Runs query, which must be exactly one SELECT returning min_columns to
 * max_columns columns (user, item [, value], further ones ignored), and calls fn
 * for every row.  what names the query in messages ("source query").  Returns
 * the number of columns the query has.
 */
extern int	RecRunSourceQuery(const char *query, const char *what,
							  int min_columns, int max_columns,
							  RecSourceRowFn fn, void *arg);

/*
 * The same, and with want_time a 4th column (a timestamp, date or number) read
 * into the row's time: timestamps as microseconds, dates as the microseconds of
 * their midnight, numbers as they are
 */
extern int	RecRunSourceQueryTimed(const char *query, const char *what,
								   int min_columns, int max_columns, bool want_time,
								   RecSourceRowFn fn, void *arg);

/* What RecBeginAsOwner changed, for RecEndAsOwner to put back */
typedef struct RecAsOwner
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} RecAsOwner;

/*
 * Runs what follows as owner inside a security-restricted operation with
 * search_path as given, until RecEndAsOwner (an error is cleaned up by the
 * transaction abort)
 */
extern void RecBeginAsOwner(RecAsOwner *s, Oid owner, const char *search_path);
extern void RecEndAsOwner(RecAsOwner *s);

/* Shortens a name or other user text for an error message (palloc'd) */
extern char *RecMessageText(const char *s);
extern char *RecMessageTextLen(const char *s, int len);

/* The oid of relation recsys.relname (InvalidOid if missing_ok and absent) */
extern Oid	RecExtensionRelation(const char *relname, bool missing_ok);

/* The role that owns a relation */
extern Oid	RecRelationOwner(Oid relid);

struct RecModelHeader;

/* What recsys.tune needs to know of the registry row it will train into */
typedef struct RecRegistryTarget
{
	Oid			owner;			/* the row's owner, or the caller for a new name */
	char	   *search_path;	/* the caller's: recorded with the new version */
	TimestampTz snapshot_time;	/* of the source query */
	Jsonb	   *registry_options;	/* the row's eval_query, eval_k, eval_options,
									 * keep_history ({} for a new name) */
} RecRegistryTarget;

/* A model name argument: 22004 if NULL, 22023 if empty or too long */
extern char *RecModelNameArg(FunctionCallInfo fcinfo, int arg);

/* Checks the caller may train name (as recsys.train does) and fills t */
extern void RecRegistryPrepare(const char *name, RecRegistryTarget *t);

/*
 * Stores m as the new live version of name, status tuned, with metrics;
 * returns model_info with the version (also set in *version)
 */
extern Datum RecRegistryStoreTuned(const char *name, const RecRegistryTarget *t,
								   int algorithm, text *source, Jsonb *train_options,
								   struct RecModelHeader *m, Jsonb *metrics,
								   int64 *version);

#endif							/* RECSYS_REGISTRY_H */
