/*
 * vec.h
 *		The recsys.vec type: a dense float4 vector (on-disk layout and helpers).
 */
#ifndef RECSYS_VEC_H
#define RECSYS_VEC_H

#include "postgres.h"
#include "fmgr.h"

#define VEC_MAX_DIM 16000

typedef struct Vec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved for future use, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vec;

#define VEC_SIZE(_dim)		(offsetof(Vec, x) + sizeof(float) * (_dim))
#define DatumGetVec(x)		((Vec *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VEC_P(x)	DatumGetVec(PG_GETARG_DATUM(x))
#define PG_RETURN_VEC_P(x)	PG_RETURN_POINTER(x)

/* A zeroed vector of dim dimensions (dim already checked), palloc'd */
extern Vec *InitVec(int dim);

#endif							/* RECSYS_VEC_H */
