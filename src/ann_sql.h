/*
 * ann_sql.h
 *		The SQL side of the approximate top-N index (ann.h): the per-call knobs
 *		and the hooks through which the serving functions use a model's index.
 */
#ifndef RECSYS_ANN_SQL_H
#define RECSYS_ANN_SQL_H

#include "fmgr.h"

#include "cache.h"
#include "serving.h"

/* A call's choice between the index and the exact path */
typedef struct RecAnnRequest
{
	bool		exact;			/* exact => true: never the index */
	int32		probes;			/* lists to probe; 0: the index's default */
} RecAnnRequest;

/*
 * The probes and exact arguments of a serving call (argument numbers; an
 * argument beyond PG_NARGS or NULL takes its default).  Raises 22023 for
 * probes below 1; probes above the index's list count mean every list.
 */
extern RecAnnRequest RecAnnRequestArgs(FunctionCallInfo fcinfo, int probes_arg, int exact_arg);

/*
 * True when a ranking of user vector x (norm bound given, or < 0 for a model's
 * own vector) goes through e's index: it has one, the call did not ask for the
 * exact path, and no score can overflow.
 */
extern bool RecAnnUsable(const RecModelEntry *e, const RecAnnRequest *req, const float *x);

/*
 * Ranks x through the index (RecAnnUsable was true) with base added to every
 * score and the request's exclusions; false if a score was not finite.
 */
extern bool RecAnnRank(TopNHeap *h, RecModelEntry *e, const float *x, float base,
					   const RecAnnRequest *req, const RecBlocked *blocked);

#endif							/* RECSYS_ANN_SQL_H */
