/*
 * track.h
 *		Real-time updates (recsys.track): the per-user overlay that by-name serving
 *		reads in place of the model's stored row for a user.
 */
#ifndef RECSYS_TRACK_H
#define RECSYS_TRACK_H

#include "postgres.h"

#include "cache.h"
#include "scoring.h"

/* A tracked user's current state, as serving uses it */
typedef struct RecOverlay
{
	RecHistory	hist;			/* the user's history now: sorted item indexes of
								 * the model and their values (unknown items
								 * dropped) */
	const float *x;				/* [factors] the vector folded in with this very
								 * model, or NULL (neighbourhood model, or the
								 * overlay was computed with another version) */
	float		bias;			/* the folded-in user bias with x (explicit) */
} RecOverlay;

/*
 * The overlay of user_id for the model e read by name (name, its registry
 * owner): one probe of the primary key of recsys.user_overlays.  false if the
 * user has none.  The caller has already read the model row by name under the
 * registry's row-level security, which is what entitles it to the overlay.
 */
extern bool RecOverlayFind(RecModelEntry *e, text *name, Oid owner, int64 user_id,
						   RecOverlay *ov);

#endif							/* RECSYS_TRACK_H */
