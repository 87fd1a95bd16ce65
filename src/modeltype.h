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

/* Bytes RecModelCreate would allocate for that shape (without the 1 GB check) */
extern uint64 RecModelShapeSize(int algorithm, uint32 flags, int factors,
								int32 n_users, int32 n_items, int64 n_seen,
								size_t options_len);

#endif							/* RECSYS_MODELTYPE_H */
