/*
 * recsys.c
 *		Module entry point: PG_MODULE_MAGIC, settings (GUCs) and _PG_init, and the
 *		main-thread side of the thread and OpenBLAS limits (RecWorkThreads,
 *		RecReserveBlas, RecReportStuck).
 *
 * Resource settings come in pairs: a ceiling that only a superuser (or a role
 * granted SET on it) may change, and the setting any role may lower below it.
 * The value the rest of the extension reads is the smaller of the two, kept up to
 * date by assign hooks, so no SET by an ordinary role can raise it above the
 * administrator's ceiling.  Everything else lives in the file that owns it (see
 * DESIGN §2).
 */
#include "postgres.h"

#include <limits.h>
#include <unistd.h>

#include "access/parallel.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "blas.h"
#include "recsys.h"
#include "solver.h"

PG_MODULE_MAGIC;

/* effective values, read by the rest of the extension (recsys.h) */
int			recsys_threads = 1;
int			recsys_model_cache_mb = 256;
int			recsys_max_train_mb = 1024;
bool		recsys_parallel_shared_memory = true;
bool		recsys_parallel_direct_read = true;

/* the settings themselves: what a role asked for, and the ceilings */
static int	threads_setting = 1;
static int	max_threads_setting = 1;
static int	model_cache_mb_setting = 256;
static int	model_cache_mb_limit_setting = 256;
static int	max_train_mb_setting = 1024;
static int	train_mb_limit_setting = 1024;

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

/*
 * The number of threads work may use now: recsys.threads, at most
 * recsys.max_threads (itself never above what the linked OpenBLAS supports).  The
 * first time in a session that a request is cut down, a NOTICE says so.
 */
int
RecWorkThreads(void)
{
	static int	noticed_setting = 0;
	static int	noticed_limit = 0;
	int			threads;

	RecBlasEnsure();
	threads = Min(Max(recsys_threads, 1), RecBlasThreadLimit());

	if (threads < threads_setting &&
		(noticed_setting != threads_setting || noticed_limit != threads))
	{
		noticed_setting = threads_setting;
		noticed_limit = threads;
		ereport(NOTICE,
				(errmsg_plural("using %d thread: recsys.threads is %d, recsys.max_threads is %d",
							   "using %d threads: recsys.threads is %d, recsys.max_threads is %d",
							   threads, threads, threads_setting, max_threads_setting),
				 max_threads_setting < RecBlasThreadLimit() ?
				 errdetail("recsys.max_threads caps recsys.threads; a superuser may raise it up to %d, the most the linked OpenBLAS supports.",
						   RecBlasThreadLimit()) :
				 errdetail("The linked OpenBLAS (built for MAX_THREADS=%d) supports at most %d threads calling it at once.",
						   RecBlasBuildThreads(), RecBlasThreadLimit())));
	}
	return threads;
}

/*
 * The setting that bounds training memory now: recsys.max_train_mb, or the
 * administrator's recsys.train_mb_limit when that is lower
 */
const char *
RecTrainMbSetting(void)
{
	return max_train_mb_setting > train_mb_limit_setting ?
		"recsys.train_mb_limit" : "recsys.max_train_mb";
}

/*
 * Opens OpenBLAS in this process if it is not yet (a parallel worker opens it
 * when it first needs it), or fails
 */
void
RecBlasEnsure(void)
{
	const char *err = RecBlasOpen();

	if (err != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("recsys cannot use OpenBLAS: %s", err),
				 errhint("Install OpenBLAS (on Debian: the package libopenblas0).")));
}

/*
 * Maps OpenBLAS's scratch for `threads` threads calling it at once (blas.h), or
 * fails with out of memory: on this thread, before any worker could hang in
 * OpenBLAS's allocator instead.
 */
void
RecReserveBlas(int threads, const char *what)
{
	size_t		bytes = 0;

	RecBlasEnsure();
	if (RecBlasReserve(threads, &bytes) != RECSYS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("%s could not map OpenBLAS scratch for %d threads (%zu MB of address space each).",
						   what, threads, bytes >> 20),
				 errhint("Lower recsys.threads, or raise the server's memory limits.")));
}

/*
 * After RECSYS_STUCK: worker threads did not stop within seconds of a cancel or
 * termination and were parked for good, so this process cannot go on.  FATAL
 * ends the session cleanly; the postmaster does not restart the cluster.
 */
void
RecReportStuck(const char *what)
{
	ereport(FATAL,
			(errcode(ProcDiePending ? ERRCODE_ADMIN_SHUTDOWN : ERRCODE_QUERY_CANCELED),
			 errmsg("terminating connection because the threads of %s did not stop after an interrupt",
					what),
			 errdetail("A worker thread was stuck, most likely waiting for memory inside OpenBLAS.")));
}

/* Number of online CPUs, at least 1 */
static int
OnlineCpus(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n < 1) ? 1 : (n > RECSYS_MAX_THREADS ? RECSYS_MAX_THREADS : (int) n);
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
 * Assign hooks: each keeps the effective value (the smaller of the setting and its
 * ceiling) in step with the one that changes; guc.c stores newval after the hook
 * returns, so the other half is read from its variable.
 */
static void
AssignThreads(int newval, void *extra)
{
	recsys_threads = Min(newval, max_threads_setting);
}

static void
AssignMaxThreads(int newval, void *extra)
{
	recsys_threads = Min(threads_setting, newval);
}

static void
AssignModelCacheMb(int newval, void *extra)
{
	recsys_model_cache_mb = Min(newval, model_cache_mb_limit_setting);
}

static void
AssignModelCacheMbLimit(int newval, void *extra)
{
	recsys_model_cache_mb = Min(model_cache_mb_setting, newval);
}

static void
AssignMaxTrainMb(int newval, void *extra)
{
	recsys_max_train_mb = Min(newval, train_mb_limit_setting);
}

static void
AssignTrainMbLimit(int newval, void *extra)
{
	recsys_max_train_mb = Min(max_train_mb_setting, newval);
}

/*
 * Module load: OpenBLAS on one thread and its limits (pool.c), then the settings.
 * Each ceiling is defined before the setting under it, so that the setting's
 * assign hook sees the ceiling's boot value.
 */
void
_PG_init(void)
{
	int			blas_limit;
	int			default_threads;
	int			default_train_mb = DefaultMaxTrainMb();

	/*
	 * A backend opens OpenBLAS now, for the ceiling of recsys.max_threads.  A
	 * parallel worker opens it only if it calls BLAS (RecBlasEnsure): the
	 * workers feeding a training aggregate never do, and loading it was 13 ms
	 * of a worker's start beside a running scan.  Its settings come from its
	 * leader, whose ceiling was this library's.
	 */
	RecPoolInitSignals();
	if (IsParallelWorker())
		blas_limit = RECSYS_MAX_THREADS;
	else
	{
		(void) RecBlasOpen();
		blas_limit = RecBlasThreadLimit();
	}
	default_threads = Min(OnlineCpus(), blas_limit);

	DefineCustomIntVariable("recsys.max_threads",
							"Most threads training solvers and batch scoring may use (ceiling of recsys.threads).",
							"Defaults to the number of CPUs; never above what the linked OpenBLAS supports.",
							&max_threads_setting,
							default_threads, 1, blas_limit,
							PGC_SUSET, 0,
							NULL, AssignMaxThreads, NULL);

	DefineCustomIntVariable("recsys.threads",
							"Threads used by training solvers and batch scoring.",
							"At most recsys.max_threads are used; defaults to the number of CPUs.",
							&threads_setting,
							default_threads, 1, RECSYS_MAX_THREADS,
							PGC_USERSET, 0,
							NULL, AssignThreads, NULL);

	DefineCustomIntVariable("recsys.model_cache_mb_limit",
							"Most memory each backend may use to cache loaded models (ceiling of recsys.model_cache_mb).",
							"Defaults to a quarter of physical memory.",
							&model_cache_mb_limit_setting,
							default_train_mb, 0, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_MB,
							NULL, AssignModelCacheMbLimit, NULL);

	DefineCustomIntVariable("recsys.model_cache_mb",
							"Memory each backend may use to cache loaded models.",
							"At most recsys.model_cache_mb_limit is used.",
							&model_cache_mb_setting,
							256, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, AssignModelCacheMb, NULL);

	DefineCustomIntVariable("recsys.train_mb_limit",
							"Most memory a training aggregate may use (ceiling of recsys.max_train_mb).",
							"Defaults to a quarter of physical memory.",
							&train_mb_limit_setting,
							default_train_mb, 16, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_MB,
							NULL, AssignTrainMbLimit, NULL);

	DefineCustomIntVariable("recsys.max_train_mb",
							"Memory a training aggregate may use before it fails.",
							"At most recsys.train_mb_limit is used; defaults to a quarter of physical memory.",
							&max_train_mb_setting,
							default_train_mb, 16, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, AssignMaxTrainMb, NULL);

	DefineCustomBoolVariable("recsys.parallel_shared_memory",
							 "Hand partial training states to a parallel training's leader in shared memory, not as values.",
							 "Workers' states go in the query's dynamic shared memory, the leader's own stays in its memory. Off: as values through the tuple queue, as states under 64 kB always go.",
							 &recsys_parallel_shared_memory,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("recsys.parallel_direct_read",
							 "Let a parallel training's leader read each worker's partial state from the worker's memory.",
							 "With recsys.parallel_shared_memory on, where the kernel lets the processes read each other's memory: the worker waits until the leader has copied its state, and nothing goes through shared memory. Off: workers' states go in the query's dynamic shared memory.",
							 &recsys_parallel_direct_read,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("recsys");
}
