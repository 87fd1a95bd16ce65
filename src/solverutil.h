/*
 * solverutil.h
 *		Small helpers shared by the solvers (als.c, ials.c): wall-clock time,
 *		per-thread scratch carved out of one aligned allocation, and an ordered sum.
 *
 * Plain C, no PostgreSQL headers; everything here runs on the calling thread.
 */
#ifndef RECSYS_SOLVERUTIL_H
#define RECSYS_SOLVERUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "solver.h"

/* scratch buffers start on cache-line boundaries, so every thread sees the same
 * alignment and BLAS takes the same code path whichever thread runs a row */
#define SOLVER_ALIGN	64

/* Seconds on a monotonic clock */
static inline double
SolverNow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Bytes of n floats, rounded up to the scratch alignment */
static inline size_t
SolverFloats(int64_t n)
{
	return ((size_t) n * sizeof(float) + SOLVER_ALIGN - 1) & ~(size_t) (SOLVER_ALIGN - 1);
}

/* An aligned, zeroed allocation of `bytes` (NULL on failure or if bytes is 0) */
static inline void *
SolverAlloc(size_t bytes)
{
	void	   *p = NULL;

	if (bytes == 0)
		return NULL;
	bytes = (bytes + SOLVER_ALIGN - 1) & ~(size_t) (SOLVER_ALIGN - 1);
	if (posix_memalign(&p, SOLVER_ALIGN, bytes) != 0)
		return NULL;
	memset(p, 0, bytes);
	return p;
}

/* Hints the cache to load the k floats at row (a scattered row about to be read) */
static inline void
SolverPrefetchRow(const float *row, int k)
{
	const char *p = (const char *) row;
	const char *end = (const char *) (row + k);

	for (; p < end; p += SOLVER_ALIGN)
		__builtin_prefetch(p, 0, 3);
}

/* Sum of a[0..n) in index order, so the result never depends on the threads */
static inline double
SolverOrderedSum(const double *a, int64_t n)
{
	double		s = 0.0;
	int64_t		i;

	for (i = 0; i < n; i++)
		s += a[i];
	return s;
}

/* Rows per chunk: enough chunks to balance skewed rows, small enough to poll often */
static inline int64_t
SolverChunk(int64_t rows, int threads)
{
	int64_t		c = rows / ((int64_t) (threads > 0 ? threads : 1) * 64);

	if (c < 1)
		c = 1;
	if (c > 64)
		c = 64;
	return c;
}

/* After a sweep, on the main thread: report progress, then stop if a cancel is pending */
static inline int
SolverSweepDone(const RecControl *ctl, int iteration, double loss, double start)
{
	if (ctl && ctl->progress)
		ctl->progress(ctl->arg, iteration, loss, SolverNow() - start);
	if (ctl && ctl->interrupted && ctl->interrupted(ctl->arg))
		return RECSYS_INTERRUPTED;
	return RECSYS_OK;
}

#endif							/* RECSYS_SOLVERUTIL_H */
