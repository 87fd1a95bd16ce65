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
 * Detoasts a stored model and checks magic, version, header limits and that its
 * size matches the header (XX001 data_corrupted otherwise).  The payload is
 * trusted: values only enter through validated input or training.
 */
extern const RecModelHeader *RecModelFromDatum(Datum d);

/* Copies just the header of a stored model (a slice, no full detoast), checked */
extern void RecModelPeekHeader(Datum d, RecModelHeader *out);

#define PG_GETARG_RECMODEL(n)	RecModelFromDatum(PG_GETARG_DATUM(n))

/*
 * A zeroed model of the given shape with magic, version, counts, flags and options
 * filled in and VARSIZE set; the caller fills the sections and statistics.  Large
 * shapes fail with 54000 (a value holds at most 1 GB).
 */
extern RecModelHeader *RecModelCreate(int algorithm, uint32 flags, int factors,
									  int32 n_users, int32 n_items, int64 n_seen,
									  const char *options);

/*
 * As RecModelCreate, but the user and item factor sections are left unwritten (and
 * the allocation advised onto huge pages): for a caller that writes every factor
 * itself, as training does, saving a pass over the largest sections.
 */
extern RecModelHeader *RecModelCreateForFactors(int algorithm, uint32 flags, int factors,
												int32 n_users, int32 n_items, int64 n_seen,
												const char *options);

/* Bytes RecModelCreate would allocate for that shape (without the 1 GB check) */
extern uint64 RecModelShapeSize(int algorithm, uint32 flags, int factors,
								int32 n_users, int32 n_items, int64 n_seen,
								size_t options_len);

/*
 * What recsys.predict returns for user index u and item index i of a model's
 * view (-1 for an id the model does not know).
 */
extern float RecModelPredict(const RecModelView *v, int32 u, int32 i);

#endif							/* RECSYS_MODELTYPE_H */
