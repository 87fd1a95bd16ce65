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

/* Shortens a name or other user text for an error message (palloc'd) */
extern char *RecMessageText(const char *s);
extern char *RecMessageTextLen(const char *s, int len);

#endif							/* RECSYS_REGISTRY_H */
