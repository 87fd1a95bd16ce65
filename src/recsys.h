/*
 * recsys.h
 *		Settings shared by the SQL-facing files of the extension.
 *
 * The numeric code (kernels, solvers) does not include this file: it takes its
 * parameters as arguments.
 */
#ifndef RECSYS_H
#define RECSYS_H

/* GUCs, defined in recsys.c */
extern int	recsys_threads;			/* recsys.threads: solver and batch threads */
extern int	recsys_model_cache_mb;	/* recsys.model_cache_mb: per-backend model cache */
extern int	recsys_max_train_mb;	/* recsys.max_train_mb: training memory ceiling */

/* RecControl.interrupted: true once a cancel or termination is pending */
extern bool RecCancelRequested(void *arg);

#endif							/* RECSYS_H */
