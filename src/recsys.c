/*
 * recsys.c
 *		Module entry point: PG_MODULE_MAGIC, settings (GUCs) and _PG_init.
 *
 * Everything else lives in the file that owns it (see DESIGN §2).
 */
#include "postgres.h"

#include <limits.h>
#include <unistd.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "blas.h"
#include "recsys.h"

PG_MODULE_MAGIC;

int			recsys_threads = 1;
int			recsys_model_cache_mb = 256;
int			recsys_max_train_mb = 1024;

void		_PG_init(void);

/*
 * RecControl.interrupted for solver and batch threads: polled on the main thread
 * while workers run, so it only reads the flags the signal handlers set.  A cancel
 * or termination stops the work; other pending interrupts wait until it is done.
 */
bool
RecCancelRequested(void *arg)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

/* Number of online CPUs, at least 1 */
static int
OnlineCpus(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n < 1) ? 1 : (n > 256 ? 256 : (int) n);
}

/* A quarter of physical memory in MB, at least 256 */
static int
DefaultMaxTrainMb(void)
{
	long		pages = sysconf(_SC_PHYS_PAGES);
	long		page_size = sysconf(_SC_PAGESIZE);
	double		mb;

	if (pages <= 0 || page_size <= 0)
		return 1024;
	mb = (double) pages * (double) page_size / (1024.0 * 1024.0) / 4.0;
	if (mb < 256)
		mb = 256;
	if (mb > INT_MAX / 2)
		mb = INT_MAX / 2;
	return (int) mb;
}

/*
 * Module load: keep OpenBLAS on one thread (its pthread build would otherwise use
 * every CPU in every backend and parallel worker) and define the settings.
 */
void
_PG_init(void)
{
	openblas_set_num_threads(1);

	DefineCustomIntVariable("recsys.threads",
							"Threads used by training solvers and batch scoring.",
							"Defaults to the number of CPUs.",
							&recsys_threads,
							OnlineCpus(), 1, 256,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("recsys.model_cache_mb",
							"Memory each backend may use to cache loaded models.",
							NULL,
							&recsys_model_cache_mb,
							256, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("recsys.max_train_mb",
							"Memory a training aggregate may use before it fails.",
							"Defaults to a quarter of physical memory.",
							&recsys_max_train_mb,
							DefaultMaxTrainMb(), 16, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("recsys");
}
