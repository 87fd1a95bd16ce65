/*
 * cache.h
 *		Per-backend cache of loaded models, and the registry look-up by name.
 *
 * A serving function hands its model argument (a Datum, possibly a TOAST
 * pointer) to RecModelGet, or a registry name to RecModelGetByName, and gets the
 * loaded model (detoasted, checked, with derived data).  An entry is found only
 * by the value's own bytes, never by what its header claims (see cache.c): a
 * stored value by its TOAST pointer plus a check of its header slice, any other
 * value by comparing its content.  The entry stays valid until the calling
 * function returns; do not keep it across calls.
 */
#ifndef RECSYS_CACHE_H
#define RECSYS_CACHE_H

#include "postgres.h"

#include "access/transam.h"
#include "fmgr.h"
#include "lib/ilist.h"

#include "model.h"
#include "serving.h"

/* TOAST pointers remembered per entry (values copied between tables, history) */
#define RECSYS_MODEL_ALIASES	4

/*
 * An on-disk TOAST pointer known to hold an entry's exact bytes.  A TOAST value
 * is immutable while it exists and its pointer cannot be made by SQL, so the
 * pointer names the content; xmin narrows it to one registry row version.
 */
typedef struct RecModelAlias
{
	varatt_external ptr;		/* the stored value's TOAST pointer */
	TransactionId xmin;			/* registry row version read by name, or
								 * InvalidTransactionId for a value passed in */
} RecModelAlias;

typedef struct RecModelEntry
{
	dlist_node	node;			/* in the LRU list, most recently used first */
	uint64		serial;			/* unique per load in this backend */
	uint8		uuid[16];		/* the model's uuid (shown, not a key: any
								 * value may claim any uuid) */
	int			n_aliases;		/* used slots of aliases */
	int			next_alias;		/* slot the next new alias replaces */
	RecModelAlias aliases[RECSYS_MODEL_ALIASES];
	MemoryContext cxt;			/* holds the entry and everything it points to */
	bool		cached;			/* kept; else freed with the calling function */
	Size		bytes;			/* memory of cxt, counted against the budget */
	uint64		hits;			/* look-ups served without loading */

	RecModelHeader *model;		/* the detoasted value */
	RecModelView v;				/* its sections */

	/* derived once per load */
	float		lambda;			/* options.regularization */
	float		alpha;			/* options.alpha (implicit) */
	RecImplicitWeights implicit;	/* what implicit fold-in reads of the options */
	int			ease_values;	/* EASE: options.values, REC_EASE_VALUES_*; else raw */
	float	   *item_norms;		/* [n_items] |y_i|, for cosine; NULL without factors */
	float	   *user_norms;		/* [n_users] |x_u|, for cosine; NULL without factors */
	int32	   *popular;		/* [n_items] item indexes by count desc, id asc */
	float	   *gram;			/* [k * k] Y'Y, implicit models only */
	float	   *ann_radius;		/* [lists] of the ann_index section, or NULL
								 * (RecAnnIndex.radius) */
	float	   *scores;			/* [n_items] scratch for one request's scores */
	int32	   *pool_pos;		/* [n_items] item-item models: the position of
								 * an item in a diversity pool, -1 between calls */

	/* user kNN only: what serving a visitor's history needs */
	int64	   *item_user_ptr;	/* [n_items + 1] the seen interactions by item */
	int32	   *item_users;		/* [n_seen] */
	float	   *item_user_values;	/* [n_seen] */
	float	   *user_value_norms;	/* [n_users] norm of each user's values */
	float	   *user_scratch;	/* [n_users] zero between calls */
	int64		user_neighbours;	/* the longest neighbour row */
} RecModelEntry;

/* A history's values as the model's training saw them (EASE's option "values") */
extern void RecModelMapValues(const RecModelEntry *e, float *values, int64 n);

/* The cached (or freshly loaded) model behind a recsys.model Datum */
extern RecModelEntry *RecModelGet(Datum model);

/* The same, remembering the last TOAST pointer in flinfo (per-row scalar functions) */
extern RecModelEntry *RecModelGetForRow(FmgrInfo *flinfo, Datum model);

/* The cached (or freshly loaded) model of a registry name; 42704 if none */
extern RecModelEntry *RecModelGetByName(text *name);

/*
 * The same, also giving the row's owner (the role whose overlays serving may
 * read, track.c); with missing_ok NULL for a name the caller cannot see
 */
extern RecModelEntry *RecModelGetByNameOwner(text *name, bool missing_ok, Oid *owner);

/* The stored recsys.model Datum (not detoasted) of a registry name; 42704 if none */
extern Datum RecModelDatumByName(text *name);

#endif							/* RECSYS_CACHE_H */
