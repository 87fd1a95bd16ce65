/*
 * blas.h
 *		The one place that includes OpenBLAS: CBLAS, the Fortran LAPACK routines we
 *		call, thread control, and the limits every thread that calls BLAS lives by.
 *
 * OpenBLAS is kept single-threaded in every backend (RecPoolInit, from _PG_init):
 * the solvers parallelise over users on their own threads and call BLAS from each
 * of them.  Each BLAS call takes a scratch buffer from a table of fixed size in
 * OpenBLAS (memory.c; sized from its build-time MAX_THREADS) and maps it the first
 * time that slot is used.  Two consequences, both handled in pool.c:
 *	- more threads calling BLAS at once than the table has slots corrupts
 *	  OpenBLAS's state and crashes: RecBlasThreadLimit() is the most threads that
 *	  may call it at once, and recsys.max_threads never exceeds it;
 *	- a slot whose mapping fails is retried forever, on the worker thread, deaf to
 *	  cancels: RecBlasReserve() maps the slots the coming work needs on the calling
 *	  thread first, where a failure is an ordinary out-of-memory error.
 */
#ifndef RECSYS_BLAS_H
#define RECSYS_BLAS_H

#include <stddef.h>

#include <cblas.h>

/* LAPACK (Fortran calling convention; OpenBLAS implements these natively) */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a,
					const int *lda, float *b, const int *ldb, int *info);

/* thread control and build information, exported by OpenBLAS */
extern void openblas_set_num_threads(int num_threads);
extern int	openblas_get_num_threads(void);
extern char *openblas_get_config(void);

/*
 * Stops OpenBLAS's own threads (driver/others/blas_server.c, exported by its
 * pthread build; weak, so that a build without it links too).  OpenBLAS starts
 * them again should a call ever ask for more than one thread.
 */
extern int	blas_thread_shutdown_(void) __attribute__((weak));

/* OpenBLAS's scratch-buffer table (driver/others/memory.c), exported by libopenblas */
extern void *blas_memory_alloc(int procpos);
extern void blas_memory_free(void *buffer);

/*
 * pool.c: once per process (from _PG_init) sets OpenBLAS to one thread and reads
 * its thread limit from openblas_get_config().
 */
extern void RecPoolInit(void);

/* The most threads that may call BLAS at once (at least 1): MAX_THREADS - 1 */
extern int	RecBlasThreadLimit(void);

/* The MAX_THREADS the linked OpenBLAS was built with, or 0 if it does not say */
extern int	RecBlasBuildThreads(void);

/*
 * Makes sure OpenBLAS's scratch for `threads` threads calling BLAS at once (plus
 * one spare) is mapped, testing each new mapping first so that a failure is
 * reported here rather than retried forever inside OpenBLAS.  Call on the
 * backend's thread before starting workers or calling BLAS; costs nothing once the
 * slots are reserved.  Returns RECSYS_OK or RECSYS_ENOMEM; *bytes_each (if not
 * NULL) receives the size of one slot's mapping.
 */
extern int	RecBlasReserve(int threads, size_t *bytes_each);

#endif							/* RECSYS_BLAS_H */
