/*
 * modeltype.h
 *		Backend helpers for recsys.model values, defined in model.c: reading a model
 *		from a Datum with the cheap header check, and allocating one to fill.
 */
#ifndef RECSYS_MODELTYPE_H
#define RECSYS_MODELTYPE_H

#include "postgres.h"
#include "fmgr.h"

#include "model.h"

/*
 * Detoasts a stored model and checks magic, version, header limits, the section
 * directory (v2) and that its size matches them (XX001 data_corrupted
 * otherwise), so RecModelGetView is safe on the result.  The payload is
 * trusted: values only enter through validated input or training.  A v1 value
 * (stored by 0.1.0) is returned as it is: the view reads both versions.
 */
extern const RecModelHeader *RecModelFromDatum(Datum d);

/*
 * Checks the header and directory of a detoasted value of varsize bytes as
 * RecModelFromDatum does (XX001 data_corrupted)
 */
extern void RecModelCheckStored(const RecModelHeader *h, Size varsize);

/*
 * Copies just the header of a stored model (a slice, no full detoast), checked
 * with its directory; dir (RECSYS_MODEL_MAX_SECTIONS entries) gets the
 * directory if not NULL (nothing for a v1 value)
 */
extern void RecModelPeekHeader(Datum d, RecModelHeader *out);
extern void RecModelPeekDirectory(Datum d, RecModelHeader *out, RecModelSection *dir);

#define PG_GETARG_RECMODEL(n)	RecModelFromDatum(PG_GETARG_DATUM(n))

/*
 * A zeroed v2 model of any algorithm's shape (shape->options_len is ignored: the
 * options text gives it) with header, directory and options filled in and
 * VARSIZE set; the caller fills the other sections (RecModelGetMutableView) and
 * the statistics.  Large shapes fail with 54000 (a value holds at most 1 GB).
 */
extern RecModelHeader *RecModelCreateShape(const RecModelShape *shape, const char *options);

/* Bytes RecModelCreateShape would allocate (UINT64_MAX beyond any value's size) */
extern uint64 RecModelShapeBytes(const RecModelShape *shape, size_t options_len);

/*
 * Raises feature_not_supported (0A000) naming the function and the algorithm
 * when a model has no factors: the guard of every serving function that so far
 * reads factors only.
 */
extern void RecModelRequireFactors(const RecModelHeader *h, const char *function);

/*
 * A factor model (als, ials): RecModelCreateShape with factors, n_seen entries
 * of seen items and no seen values, the user and item factor sections left
 * unwritten (and the allocation advised onto huge pages) for the training fit,
 * which writes every factor, saving a pass over the largest sections.
 */
extern RecModelHeader *RecModelCreateForFactors(int algorithm, uint32 flags, int factors,
												int32 n_users, int32 n_items, int64 n_seen,
												const char *options);

/* Bytes RecModelCreateForFactors would allocate for that shape (without the 1 GB check) */
extern uint64 RecModelShapeSize(int algorithm, uint32 flags, int factors,
								int32 n_users, int32 n_items, int64 n_seen,
								size_t options_len);

/*
 * What recsys.predict returns for user index u and item index i of a model's
 * view (-1 for an id the model does not know).
 */
extern float RecModelPredict(const RecModelView *v, int32 u, int32 i);

#endif							/* RECSYS_MODELTYPE_H */
