/*
 * recsys.h
 *		Settings shared by the SQL-facing files of the extension.
 *
 * The numeric code (kernels, solvers) does not include this file: it takes its
 * parameters as arguments.
 */
#ifndef RECSYS_H
#define RECSYS_H

/*
 * Settings, defined in recsys.c: each the smaller of what the role set and the
 * administrator's ceiling
 */
extern int	recsys_threads;			/* recsys.threads, at most recsys.max_threads
									 * (use RecWorkThreads() to start threads) */
extern int	recsys_model_cache_mb;	/* recsys.model_cache_mb, at most
									 * recsys.model_cache_mb_limit */
extern int	recsys_max_train_mb;	/* recsys.max_train_mb, at most
									 * recsys.train_mb_limit */
extern bool recsys_parallel_shared_memory;	/* recsys.parallel_shared_memory */
extern bool recsys_parallel_direct_read;	/* recsys.parallel_direct_read */

/* RecControl.interrupted: true once a cancel or termination is pending */
extern bool RecCancelRequested(void *arg);

/* The setting that bounds recsys_max_train_mb now, for messages */
extern const char *RecTrainMbSetting(void);

/* Threads to start for one piece of work (NOTICE if recsys.threads was cut down) */
extern int	RecWorkThreads(void);

/* OpenBLAS scratch for `threads` callers, or ERROR out of memory naming `what` */
extern void RecReserveBlas(int threads, const char *what);
/* OpenBLAS opened in this process (a parallel worker opens it on first use), or ERROR 58P01 */
extern void RecBlasEnsure(void);

/* blasinfo.c: once per backend, a NOTICE when OpenBLAS runs kernels older than the CPU's */
extern void RecBlasCheckCore(void);

/* FATAL after RECSYS_STUCK: workers could not be stopped (see pool.c) */
extern void RecReportStuck(const char *what) pg_attribute_noreturn();

#endif							/* RECSYS_H */
