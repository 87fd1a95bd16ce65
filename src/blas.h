/*
 * blas.h
 *		The one place that includes OpenBLAS: CBLAS, the Fortran LAPACK routines we
 *		call, and thread control.
 *
 * OpenBLAS is kept single-threaded in every backend (set in _PG_init): the solvers
 * parallelise over users on their own threads and call BLAS from each of them.
 */
#ifndef RECSYS_BLAS_H
#define RECSYS_BLAS_H

#include <cblas.h>

/* LAPACK (Fortran calling convention; OpenBLAS implements these natively) */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a,
					const int *lda, float *b, const int *ldb, int *info);

/* thread control, exported by OpenBLAS */
extern void openblas_set_num_threads(int num_threads);
extern int	openblas_get_num_threads(void);

#endif							/* RECSYS_BLAS_H */
