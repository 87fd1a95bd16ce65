/*
 * registry.h
 *		Reading a query the user wrote (a training source or a test query) as exactly
 *		one SELECT, and running it as the owner of a registry row.
 */
#ifndef RECSYS_REGISTRY_H
#define RECSYS_REGISTRY_H

#include "postgres.h"

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

#endif							/* RECSYS_REGISTRY_H */
