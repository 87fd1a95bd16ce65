/*
 * cache.h
 *		Per-backend cache of loaded models, keyed by the model's uuid, and the
 *		registry look-up by name.
 *
 * A serving function hands its model argument (a Datum, possibly a TOAST
 * pointer) to RecModelGet, which reads only the header slice to find a cached
 * copy, and loads (detoasts, checks, derives) the model on a miss.  The entry
 * stays valid until the calling function returns; do not keep it across calls.
 */
#ifndef RECSYS_CACHE_H
#define RECSYS_CACHE_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/ilist.h"

#include "model.h"

typedef struct RecModelEntry
{
	dlist_node	node;			/* in the LRU list, most recently used first */
	uint8		uuid[16];		/* the model's uuid: the cache key */
	MemoryContext cxt;			/* holds the entry and everything it points to */
	bool		cached;			/* kept; else freed with the calling function */
	Size		bytes;			/* memory of cxt, counted against the budget */
	uint64		hits;			/* look-ups served without loading */

	RecModelHeader *model;		/* the detoasted value */
	RecModelView v;				/* its sections */

	/* derived once per load */
	float		lambda;			/* options.regularization */
	float		alpha;			/* options.alpha (implicit) */
	float	   *item_norms;		/* [n_items] |y_i|, for cosine */
	float	   *user_norms;		/* [n_users] |x_u|, for cosine */
	int32	   *popular;		/* [n_items] item indexes by count desc, id asc */
	float	   *gram;			/* [k * k] Y'Y, implicit models only */
	float	   *scores;			/* [n_items] scratch for one request's scores */
} RecModelEntry;

/* The cached (or freshly loaded) model behind a recsys.model Datum */
extern RecModelEntry *RecModelGet(Datum model);

/* The same, remembering the last TOAST pointer in flinfo (per-row scalar functions) */
extern RecModelEntry *RecModelGetForRow(FmgrInfo *flinfo, Datum model);

/* The stored recsys.model Datum (not detoasted) of a registry name; 42704 if none */
extern Datum RecModelDatumByName(text *name);

#endif							/* RECSYS_CACHE_H */
