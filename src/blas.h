/*
 * blas.h
 *		The one place that includes OpenBLAS: CBLAS, the Fortran LAPACK routines we
 *		call, thread control, and the limits every thread that calls BLAS lives by.
 *
 * The extension does not link OpenBLAS: it opens it the first time a process
 * needs it (RecBlasOpen; RECSYS_BLAS_DLOPEN, set by the Makefile), and every
 * call goes through the table of its entry points (the macros at the end).  A
 * backend opens it as it loads recsys; a parallel worker only when it calls BLAS,
 * so the workers that feed a training aggregate do not pay for loading it (its
 * ~14,000 symbol relocations: 5 ms in an idle backend, 13 ms in a worker starting
 * beside a scan).  The benches and unit drivers link it as usual.
 *
 * OpenBLAS is kept single-threaded in every process (RecBlasOpen): the solvers
 * parallelise over users on their own threads and call BLAS from each of them.
 * Each BLAS call takes a scratch buffer from a table of fixed size in OpenBLAS
 * (memory.c; sized from its build-time MAX_THREADS) and maps it the first time
 * that slot is used.  Two consequences, both handled in pool.c:
 *	- more threads calling BLAS at once than the table has slots corrupts
 *	  OpenBLAS's state and crashes: RecBlasThreadLimit() is the most threads that
 *	  may call it at once, and recsys.max_threads never exceeds it;
 *	- a slot whose mapping fails is retried forever, on the worker thread, deaf to
 *	  cancels: RecBlasReserve() maps the slots the coming work needs on the calling
 *	  thread first, where a failure is an ordinary out-of-memory error.
 */
#ifndef RECSYS_BLAS_H
#define RECSYS_BLAS_H

#include <stdbool.h>
#include <stddef.h>

#include <cblas.h>

/* LAPACK (Fortran calling convention; OpenBLAS implements these natively) */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a,
					const int *lda, float *b, const int *ldb, int *info);
extern void strtri_(const char *uplo, const char *diag, const int *n, float *a,
					const int *lda, int *info);
extern void slauum_(const char *uplo, const int *n, float *a, const int *lda, int *info);

/* thread control and build information, exported by OpenBLAS */
extern void openblas_set_num_threads(int num_threads);
extern int	openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

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
 * pool.c: RecPoolInit, once per process (from _PG_init), installs what the
 * thread pool needs and opens OpenBLAS (RecBlasOpen); RecPoolInitSignals only
 * the former, for a process that opens OpenBLAS when it first needs it.
 */
extern void RecPoolInit(void);
extern void RecPoolInitSignals(void);

/*
 * Opens OpenBLAS once per process (later calls return at once): sets it to one
 * thread and reads its thread limit from openblas_get_config().  NULL on
 * success, else why it could not be opened (then every later call says the
 * same, and BLAS must not be called).  Any thread may call it.
 */
extern const char *RecBlasOpen(void);

/* The file OpenBLAS was opened from (NULL before it is, or if unknown) */
extern const char *RecBlasLibraryPath(void);

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

/*
 * pool.c: the two steps of a small symmetric solve that recsys does with its own
 * kernels where the kernel set has them (kernels.c: AVX-512, AVX2) and with
 * OpenBLAS otherwise.  RecSyrkLower: A += B B^T (first: A = B B^T) on the lower
 * triangle of the column-major A (leading dimension lda), B k x m column-major.
 * RecCholeskyLower: A = L L^T in place on the lower triangle, as SPOTRF("L"):
 * 0, or j + 1 when pivot j is not positive.
 */
extern void RecSyrkLower(const float *B, int k, int m, float *A, int lda, bool first);
extern int	RecCholeskyLower(float *A, int n, int lda);

#ifdef RECSYS_BLAS_DLOPEN

/* The entry points of the opened library (pool.c) */
typedef struct RecBlasTable
{
	int			ready;			/* set last, with release order */
	__typeof__(cblas_sgemm) *sgemm;
	__typeof__(cblas_sgemv) *sgemv;
	__typeof__(cblas_ssyrk) *ssyrk;
	__typeof__(cblas_ssymv) *ssymv;
	__typeof__(cblas_strsm) *strsm;
	__typeof__(cblas_strmm) *strmm;
	__typeof__(cblas_saxpy) *saxpy;
	__typeof__(cblas_sdot) *sdot;
	__typeof__(cblas_dsdot) *dsdot;
	__typeof__(spotrf_) *spotrf;
	__typeof__(spotrs_) *spotrs;
	__typeof__(strtri_) *strtri;
	__typeof__(slauum_) *slauum;
	__typeof__(openblas_set_num_threads) *set_num_threads;
	__typeof__(openblas_get_num_threads) *get_num_threads;
	__typeof__(openblas_get_config) *get_config;
	__typeof__(openblas_get_corename) *get_corename;
	__typeof__(blas_memory_alloc) *memory_alloc;
	__typeof__(blas_memory_free) *memory_free;
	int			(*thread_shutdown) (void);	/* NULL when the build has none */
} RecBlasTable;

extern RecBlasTable rec_blas;

/* Opens the library where a path missed RecBlasOpen: aborts if it cannot */
extern const RecBlasTable *RecBlasTableSlow(void);

static inline const RecBlasTable *
RecBlas(void)
{
	if (__builtin_expect(__atomic_load_n(&rec_blas.ready, __ATOMIC_ACQUIRE), 1))
		return &rec_blas;
	return RecBlasTableSlow();
}

/* every call below goes through the table */
#define cblas_sgemm (*RecBlas()->sgemm)
#define cblas_sgemv (*RecBlas()->sgemv)
#define cblas_ssyrk (*RecBlas()->ssyrk)
#define cblas_ssymv (*RecBlas()->ssymv)
#define cblas_strsm (*RecBlas()->strsm)
#define cblas_strmm (*RecBlas()->strmm)
#define cblas_saxpy (*RecBlas()->saxpy)
#define cblas_sdot (*RecBlas()->sdot)
#define cblas_dsdot (*RecBlas()->dsdot)
#define spotrf_ (*RecBlas()->spotrf)
#define spotrs_ (*RecBlas()->spotrs)
#define strtri_ (*RecBlas()->strtri)
#define slauum_ (*RecBlas()->slauum)
#define openblas_set_num_threads (*RecBlas()->set_num_threads)
#define openblas_get_num_threads (*RecBlas()->get_num_threads)
#define openblas_get_config (*RecBlas()->get_config)
#define openblas_get_corename (*RecBlas()->get_corename)
#define blas_memory_alloc (*RecBlas()->memory_alloc)
#define blas_memory_free (*RecBlas()->memory_free)

#endif							/* RECSYS_BLAS_DLOPEN */

#endif							/* RECSYS_BLAS_H */
