/*
 * ann_sql.h
 *		The SQL side of the approximate top-N index (ann.h): the per-call knobs
 *		and the hooks through which the serving functions use a model's index.
 */
#ifndef RECSYS_ANN_SQL_H
#define RECSYS_ANN_SQL_H

#include "fmgr.h"

#include "cache.h"
#include "interactions.h"
#include "options.h"
#include "serving.h"

/* Checks index options against a model of n_items items (22023), as the build will */
extern void RecAnnCheckOptions(const RecIndexOptions *given, int32 n_items, const char *what);

/*
 * A copy of factor model m (als or ials) with an inverted-file index built by
 * the options (defaults for the model's size filled in, checked against it:
 * 22023 naming `what`'s keys), replacing any index m had.  Everything but the
 * index section and its build time is m's, bit for bit, and so is the index
 * for the same options: build_index and training's "index" option both come
 * here.  With tm (training) the copy and the build's scratch are reserved in
 * it first.  Checks for a cancel between k-means iterations.
 */
extern RecModelHeader *RecAnnBuildModel(const RecModelHeader *m, const RecIndexOptions *given,
										const char *what, RecTrainMemory *tm);

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
