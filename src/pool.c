/*
 * pool.c
 *		The solvers' thread pool (RecParallelFor), OpenBLAS opened (RecBlasOpen)
 *		and the limits and scratch that every thread calling it depends on
 *		(RecBlasThreadLimit, RecBlasReserve), the solvers' deterministic initial
 *		factors (RecInitFactors), the huge-page advice for the large arrays
 *		training fills (RecAdviseHugePages), and shared pages given back early
 *		(RecDiscardShared).
 *
 * Plain C and pthreads: nothing here calls PostgreSQL.  The calling thread starts
 * the workers, then only waits and polls the interrupt callback; the workers take
 * chunks of the index range from an atomic counter until it runs out, a chunk fails
 * or a stop is requested.  Scratch memory belongs to the solvers, which allocate it
 * per thread before calling in here; OpenBLAS's own scratch is reserved by
 * RecBlasReserve on the calling thread before any worker starts.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "kernels.h"
#include "solver.h"

/* how long the calling thread sleeps between two polls of ctl->interrupted */
#define POOL_POLL_NS	(20 * 1000 * 1000L)

/*
 * How long workers may take to stop once a stop was requested after an
 * interrupt: a chunk is a few milliseconds of work, so a worker that has not
 * returned after this long is stuck (in practice: inside OpenBLAS's allocator,
 * which retries a failing mmap forever) and RecParallelFor gives up on it.
 */
#define POOL_STOP_GRACE_NS	(5 * 1000 * 1000 * 1000L)

/* Signal that parks a stuck worker for good (see PoolFreezeWorker) */
#define POOL_FREEZE_SIGNAL	(SIGRTMIN + 7)

/* What the workers share: the range, the counter and the stop/outcome flags */
typedef struct PoolShared
{
	RecChunkFn	fn;
	void	   *ctx;
	int64_t		n;
	int64_t		chunk;
	atomic_int_fast64_t next;	/* first index not yet handed out */
	atomic_int	stop;			/* set on interrupt or on a failing chunk */
	atomic_int	status;			/* first non-zero status a chunk returned */
	pthread_mutex_t lock;
	pthread_cond_t done;		/* signalled by each worker as it exits */
	int			running;		/* workers not yet finished (under lock) */
} PoolShared;

typedef struct PoolWorker
{
	PoolShared *shared;
	int			thread;
	atomic_int	finished;		/* set as the worker leaves PoolWorkerMain */
} PoolWorker;

/* ------------------------------------------------------- OpenBLAS limits */

/*
 * When the build does not say its MAX_THREADS (OpenBLAS before 0.3.10): its
 * buffer table never has fewer than 50 slots, OpenBLAS's own idle threads may
 * hold up to half of them, and one stays for the calling thread.
 */
#define POOL_BLAS_FALLBACK_THREADS	24

/* OpenBLAS 0.3's BUFFER_SIZE on x86-64 and arm64, until a mapping is measured */
#define POOL_BLAS_BUFFER_GUESS	((size_t) 128 << 20)

static int	blas_build_threads = 0; /* MAX_THREADS of the build, 0 if unknown */
static int	blas_thread_limit = 1;	/* RecBlasThreadLimit() */
static int	blas_slots_reserved = 0;	/* slots RecBlasReserve has seen mapped */
static size_t blas_buffer_bytes = POOL_BLAS_BUFFER_GUESS;	/* one slot's mapping */
static bool blas_buffer_measured = false;	/* blas_buffer_bytes was seen, not guessed */
static size_t blas_probe_factor = 2;	/* probe mappings of this many buffers */

/* true on pool worker threads: only they park on POOL_FREEZE_SIGNAL */
static __thread volatile sig_atomic_t pool_is_worker = 0;

/* workers parked by PoolFreezeWorker, for the calling thread to wait on */
static atomic_int pool_frozen = 0;

/*
 * POOL_FREEZE_SIGNAL handler: a stuck worker sleeps here until the process
 * exits, with every signal blocked, so it never again touches memory that the
 * backend frees on its way out.  Async-signal-safe.  On any other thread the
 * signal is ignored.
 */
static void
PoolFreezeHandler(int sig)
{
	sigset_t	all;

	if (!pool_is_worker)
		return;
	atomic_fetch_add(&pool_frozen, 1);
	sigfillset(&all);
	for (;;)
		sigsuspend(&all);
}

#ifdef RECSYS_BLAS_DLOPEN
RecBlasTable rec_blas;

/*
 * Loads the library.  RTLD_LOCAL: its symbols stay out of the backend's scope.
 * RTLD_DEEPBIND: its ~14,000 symbol relocations (its kernel tables) look in the
 * library and its own dependencies first instead of in every object the backend
 * has loaded before (the server's executable, the JIT's LLVM, ...): loading
 * recsys in a backend took 6 ms with the library linked, 3 ms opened this way.
 * The library allocates and frees its own memory only, so binding its malloc to
 * the C library's is safe beside an allocator preloaded into the server.
 */
static const char *
BlasLoad(char *err, size_t size)
{
	RecBlasTable t;
	const char *missing = NULL;
	void	   *blas_handle;	/* never closed: the process keeps the library */

	memset(&t, 0, sizeof(t));
	blas_handle = dlopen(RECSYS_BLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (blas_handle == NULL)
	{
		const char *why = dlerror();

		snprintf(err, size, "could not open %s: %s", RECSYS_BLAS_LIBRARY,
				 why ? why : "unknown error");
		return err;
	}
#define BLAS_SYM(field, name) \
	do { \
		if (missing == NULL && \
			(*(void **) &t.field = dlsym(blas_handle, name)) == NULL) \
			missing = name; \
	} while (0)
	BLAS_SYM(sgemm, "cblas_sgemm");
	BLAS_SYM(sgemv, "cblas_sgemv");
	BLAS_SYM(ssyrk, "cblas_ssyrk");
	BLAS_SYM(ssymv, "cblas_ssymv");
	BLAS_SYM(strsm, "cblas_strsm");
	BLAS_SYM(strmm, "cblas_strmm");
	BLAS_SYM(saxpy, "cblas_saxpy");
	BLAS_SYM(sdot, "cblas_sdot");
	BLAS_SYM(dsdot, "cblas_dsdot");
	BLAS_SYM(spotrf, "spotrf_");
	BLAS_SYM(spotrs, "spotrs_");
	BLAS_SYM(strtri, "strtri_");
	BLAS_SYM(slauum, "slauum_");
	BLAS_SYM(set_num_threads, "openblas_set_num_threads");
	BLAS_SYM(get_num_threads, "openblas_get_num_threads");
	BLAS_SYM(get_config, "openblas_get_config");
	BLAS_SYM(get_corename, "openblas_get_corename");
	BLAS_SYM(memory_alloc, "blas_memory_alloc");
	BLAS_SYM(memory_free, "blas_memory_free");
#undef BLAS_SYM
	if (missing != NULL)
	{
		snprintf(err, size, "%s does not export %s: recsys needs OpenBLAS",
				 RECSYS_BLAS_LIBRARY, missing);
		return err;
	}
	/* exported by the pthread build only */
	*(void **) &t.thread_shutdown = dlsym(blas_handle, "blas_thread_shutdown_");
	t.ready = 0;
	rec_blas = t;
	__atomic_store_n(&rec_blas.ready, 1, __ATOMIC_RELEASE);
	return NULL;
}
#endif

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static const char *blas_open_error = NULL;
#ifdef RECSYS_BLAS_DLOPEN
static char blas_open_message[512];
#endif

/*
 * Once per process: OpenBLAS opened, on one thread, its thread limit from the
 * "MAX_THREADS=n" of its build configuration.  OpenBLAS's pthread build starts
 * a thread per CPU as it is loaded, and each spins (sched_yield) for about 2^28
 * cycles before it sleeps: 0.1 s of a CPU in every process that opens it, taken
 * from the scan of a parallel training on a machine with few cores.  recsys
 * never lets OpenBLAS use them (the solvers run BLAS on their own threads), so
 * they are stopped at once.
 */
static void
BlasOpenOnce(void)
{
	const char *config;
	const char *at;

#ifdef RECSYS_BLAS_DLOPEN
	blas_open_error = BlasLoad(blas_open_message, sizeof(blas_open_message));
	if (blas_open_error != NULL)
		return;
	openblas_set_num_threads(1);
	if (rec_blas.thread_shutdown != NULL)
		(void) rec_blas.thread_shutdown();
#else
	openblas_set_num_threads(1);
	if (blas_thread_shutdown_ != NULL)
		(void) blas_thread_shutdown_();
#endif

	config = openblas_get_config();
	at = config ? strstr(config, "MAX_THREADS=") : NULL;
	blas_build_threads = 0;
	if (at != NULL)
	{
		long		n = strtol(at + strlen("MAX_THREADS="), NULL, 10);

		if (n > 0 && n <= 1 << 20)
			blas_build_threads = (int) n;
	}

	/*
	 * OpenBLAS's table has 2 * MAX_THREADS slots; its own idle threads (at most
	 * MAX_THREADS - 1) hold one each for their lifetime, which leaves MAX_THREADS
	 * + 1: MAX_THREADS - 1 workers, the calling thread and a spare.
	 */
	if (blas_build_threads > 0)
		blas_thread_limit = blas_build_threads - 1;
	else
		blas_thread_limit = POOL_BLAS_FALLBACK_THREADS;
	if (blas_thread_limit < 1)
		blas_thread_limit = 1;
	if (blas_thread_limit > RECSYS_MAX_THREADS)
		blas_thread_limit = RECSYS_MAX_THREADS;
}

/* See blas.h */
const char *
RecBlasOpen(void)
{
	pthread_once(&blas_once, BlasOpenOnce);
	return blas_open_error;
}

#ifdef RECSYS_BLAS_DLOPEN
/*
 * A BLAS call before any RecBlasOpen on this path: open now.  Every path that
 * calls BLAS opens it first on the backend's thread, where a failure is an
 * ERROR; reaching this with a library that cannot be opened is a bug, and no
 * thread can go on without it.
 */
const RecBlasTable *
RecBlasTableSlow(void)
{
	const char *err = RecBlasOpen();

	if (err != NULL)
	{
		fprintf(stderr, "recsys: %s\n", err);
		abort();
	}
	return &rec_blas;
}
#endif

/* See blas.h */
const char *
RecBlasLibraryPath(void)
{
#ifdef RECSYS_BLAS_DLOPEN
	Dl_info		info;

	if (__atomic_load_n(&rec_blas.ready, __ATOMIC_ACQUIRE) &&
		dladdr(*(void **) &rec_blas.get_corename, &info) != 0 && info.dli_fname != NULL)
		return info.dli_fname;
#endif
	return NULL;
}

/* See blas.h */
void
RecSyrkLower(const float *B, int k, int m, float *A, int lda, bool first)
{
	if (!KernSyrkLower(B, k, m, A, lda, first))
		cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, k, m, 1.0f, B, k,
					first ? 0.0f : 1.0f, A, lda);
}

/* See blas.h */
int
RecCholeskyLower(float *A, int n, int lda)
{
	int			info = KernCholeskyLower(A, n, lda);

	if (info < 0)
	{
		info = 0;
		spotrf_("L", &n, A, &lda, &info);
	}
	return info;
}

/* The handler that parks stuck workers: once per process */
void
RecPoolInitSignals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = PoolFreezeHandler;
	sigfillset(&sa.sa_mask);
	sigaction(POOL_FREEZE_SIGNAL, &sa, NULL);
}

/* The handler and OpenBLAS, opened now */
void
RecPoolInit(void)
{
	RecPoolInitSignals();
	(void) RecBlasOpen();
}

/* The most threads that may call BLAS at once (opens OpenBLAS; 1 if it cannot) */
int
RecBlasThreadLimit(void)
{
	(void) RecBlasOpen();
	return blas_thread_limit;
}

/* MAX_THREADS of OpenBLAS's build, 0 if its configuration does not say */
int
RecBlasBuildThreads(void)
{
	(void) RecBlasOpen();
	return blas_build_threads;
}

/* The process's mapped and resident bytes (0 if /proc is not readable) */
static void
PoolMemory(size_t *mapped, size_t *resident)
{
	FILE	   *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0,
				rss = 0;

	if (f != NULL)
	{
		if (fscanf(f, "%lu %lu", &size, &rss) != 2)
			size = rss = 0;
		fclose(f);
	}
	*mapped = (size_t) size * (size_t) sysconf(_SC_PAGESIZE);
	*resident = (size_t) rss * (size_t) sysconf(_SC_PAGESIZE);
}

/*
 * Reserves OpenBLAS scratch for `threads` concurrent callers; see blas.h.
 *
 * OpenBLAS hands out the lowest free slot of its table and maps a slot's buffer
 * the first time the slot is used, keeping it for the life of the process; the
 * mapped slots are therefore always the first ones.  Holding threads + 1 buffers
 * at once here (one per worker, one for this thread) makes that many slots
 * mapped, so no worker ever maps one.  Before each slot OpenBLAS would have to
 * map, the same size is mapped and unmapped here: if that fails, so would
 * OpenBLAS, which would then retry forever.
 *
 * The size is learnt from the first mapping seen.  Until then the probe is twice
 * a 0.3 BUFFER_SIZE: builds without NO_WARMUP map twice the buffer for a moment
 * and touch it to pick a cache-friendly offset.  A first mapping that left the
 * resident size alone shows a NO_WARMUP build (Debian's), and from then on the
 * probe is the buffer itself.
 */
int
RecBlasReserve(int threads, size_t *bytes_each)
{
	void	   *held[RECSYS_MAX_THREADS + 2];
	long		page = sysconf(_SC_PAGESIZE);
	int			slots = threads + 1;
	int			n;
	int			rc = RECSYS_OK;

	/* the callers open it first, where a failure is reported as such */
	if (RecBlasOpen() != NULL)
		return RECSYS_ENOMEM;
	if (slots < 2)
		slots = 2;
	if (slots > blas_thread_limit + 1)
		slots = blas_thread_limit + 1;
	if (bytes_each)
		*bytes_each = blas_buffer_bytes;
	if (slots <= blas_slots_reserved)
		return RECSYS_OK;

	for (n = 0; n < slots; n++)
	{
		size_t		mapped = 0,
					resident = 0;

		if (n >= blas_slots_reserved)
		{
			size_t		probe = blas_probe_factor * blas_buffer_bytes + (size_t) page;
			void	   *p = mmap(NULL, probe, PROT_READ | PROT_WRITE,
								 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
			{
				rc = RECSYS_ENOMEM;
				break;
			}
			munmap(p, probe);
			PoolMemory(&mapped, &resident);
		}
		held[n] = blas_memory_alloc(0);
		if (held[n] == NULL)
		{
			/* the table is full: only possible beyond blas_thread_limit */
			rc = RECSYS_ENOMEM;
			break;
		}
		if (mapped > 0 && !blas_buffer_measured)
		{
			size_t		mapped_after,
						resident_after;

			/* a slot mapped just now: learn its size and how it was mapped */
			PoolMemory(&mapped_after, &resident_after);
			if (mapped_after > mapped && mapped_after - mapped <= ((size_t) 1 << 30))
			{
				blas_buffer_bytes = mapped_after - mapped;
				blas_buffer_measured = true;
				if (resident_after < resident + blas_buffer_bytes / 4)
					blas_probe_factor = 1;
			}
		}
	}
	/* the slots held are mapped now, whether or not all could be */
	if (n > blas_slots_reserved)
		blas_slots_reserved = n;
	while (n > 0)
		blas_memory_free(held[--n]);
	if (bytes_each)
		*bytes_each = blas_buffer_bytes;
	return rc;
}

/* Records a chunk's failure (the first one wins) and stops the other workers */
static void
PoolFail(PoolShared *s, int status)
{
	int			expected = RECSYS_OK;

	atomic_compare_exchange_strong(&s->status, &expected, status);
	atomic_store(&s->stop, 1);
}

/* Worker body: take chunks until the range is exhausted or a stop is requested */
static void *
PoolWorkerMain(void *arg)
{
	PoolWorker *w = (PoolWorker *) arg;
	PoolShared *s = w->shared;
	sigset_t	freeze;

	/* every signal stays blocked (see RecParallelFor) except the one parking us */
	pool_is_worker = 1;
	sigemptyset(&freeze);
	sigaddset(&freeze, POOL_FREEZE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &freeze, NULL);

	while (!atomic_load(&s->stop))
	{
		int64_t		begin = atomic_fetch_add(&s->next, s->chunk);
		int64_t		end;
		int			rc;

		if (begin >= s->n)
			break;
		end = begin + s->chunk < s->n ? begin + s->chunk : s->n;
		rc = s->fn(s->ctx, w->thread, begin, end);
		if (rc != RECSYS_OK)
			PoolFail(s, rc);
	}

	pthread_mutex_lock(&s->lock);
	s->running--;
	pthread_cond_signal(&s->done);
	pthread_mutex_unlock(&s->lock);
	atomic_store(&w->finished, 1);
	return NULL;
}

/* True if the caller's interrupt callback asks us to stop */
static bool
PoolInterrupted(const RecControl *ctl)
{
	return ctl != NULL && ctl->interrupted != NULL && ctl->interrupted(ctl->arg);
}

/* Runs the range on the calling thread, polling for interrupts between chunks */
static int
PoolRunInline(int64_t n, int64_t chunk, RecChunkFn fn, void *ctx,
			  const RecControl *ctl)
{
	int64_t		begin;

	for (begin = 0; begin < n; begin += chunk)
	{
		int64_t		end = begin + chunk < n ? begin + chunk : n;
		int			rc;

		if (PoolInterrupted(ctl))
			return RECSYS_INTERRUPTED;
		rc = fn(ctx, 0, begin, end);
		if (rc != RECSYS_OK)
			return rc;
	}
	return RECSYS_OK;
}

/* Nanoseconds on the monotonic clock */
static int64_t
PoolNowNs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/*
 * Parks the workers that have not finished (see PoolFreezeHandler) and waits a
 * moment for them to get there.  Their stacks, the pool's lock and OpenBLAS
 * slots stay taken for the rest of the process, which is about to exit.
 */
static void
PoolFreezeStuck(PoolWorker *workers, const pthread_t *tids, int started)
{
	int			expect = 0;
	int64_t		until = PoolNowNs() + 1000 * 1000 * 1000L;
	int			t;

	atomic_store(&pool_frozen, 0);
	for (t = 0; t < started; t++)
		if (!atomic_load(&workers[t].finished) &&
			pthread_kill(tids[t], POOL_FREEZE_SIGNAL) == 0)
			expect++;
	while (atomic_load(&pool_frozen) < expect && PoolNowNs() < until)
	{
		struct timespec pause = {0, 1000 * 1000L};

		nanosleep(&pause, NULL);
	}
}

/*
 * Runs fn over [0, n) in chunks on nthreads threads; see solver.h.  The calling
 * thread waits on a condition variable with short timeouts and polls
 * ctl->interrupted in between, outside any lock.  A thread that cannot be
 * started leaves its share to the others (to the calling thread if none
 * started).  Once interrupted, workers get POOL_STOP_GRACE_NS to return; those
 * that have not are parked for good and RECSYS_STUCK is returned, after which
 * the process must exit (the caller raises FATAL).
 */
int
RecParallelFor(int nthreads, int64_t n, int64_t chunk, RecChunkFn fn, void *ctx,
			   const RecControl *ctl)
{
	return RecParallelForIdle(nthreads, n, chunk, fn, ctx, ctl, NULL, NULL);
}

/*
 * RecParallelFor with the caller's idle work (solver.h): between polls, while
 * idle reports more, the calling thread runs it instead of waiting.
 */
int
RecParallelForIdle(int nthreads, int64_t n, int64_t chunk, RecChunkFn fn, void *ctx,
				   const RecControl *ctl, bool (*idle) (void *idle_arg), void *idle_arg)
{
	PoolShared	s;
	PoolWorker	workers[RECSYS_MAX_THREADS];
	pthread_t	tids[RECSYS_MAX_THREADS];
	sigset_t	all,
				saved;
	int			started = 0;
	bool		interrupted = false;
	bool		stuck = false;
	int64_t		interrupted_at = 0;
	int			t;

	if (n < 0 || chunk < 1 || fn == NULL || nthreads < 1)
		return RECSYS_EINVAL;
	if (n == 0)
		return PoolInterrupted(ctl) ? RECSYS_INTERRUPTED : RECSYS_OK;
	if (nthreads > RECSYS_MAX_THREADS)
		nthreads = RECSYS_MAX_THREADS;
	/* never more threads than chunks */
	if ((n + chunk - 1) / chunk < nthreads)
		nthreads = (int) ((n + chunk - 1) / chunk);
	if (nthreads == 1)
		return PoolRunInline(n, chunk, fn, ctx, ctl);

	s.fn = fn;
	s.ctx = ctx;
	s.n = n;
	s.chunk = chunk;
	atomic_init(&s.next, 0);
	atomic_init(&s.stop, 0);
	atomic_init(&s.status, RECSYS_OK);
	s.running = 0;
	if (pthread_mutex_init(&s.lock, NULL) != 0)
		return RECSYS_ETHREAD;
	{
		/* the condition variable waits on CLOCK_MONOTONIC, immune to clock steps */
		pthread_condattr_t ca;

		if (pthread_condattr_init(&ca) != 0)
		{
			pthread_mutex_destroy(&s.lock);
			return RECSYS_ETHREAD;
		}
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (pthread_cond_init(&s.done, &ca) != 0)
		{
			pthread_condattr_destroy(&ca);
			pthread_mutex_destroy(&s.lock);
			return RECSYS_ETHREAD;
		}
		pthread_condattr_destroy(&ca);
	}

	/*
	 * New threads inherit the creator's signal mask: block everything while
	 * creating them so that signals keep going to the backend's own thread.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	for (t = 0; t < nthreads; t++)
	{
		workers[t].shared = &s;
		workers[t].thread = t;
		atomic_init(&workers[t].finished, 0);
		pthread_mutex_lock(&s.lock);
		s.running++;
		pthread_mutex_unlock(&s.lock);
		if (pthread_create(&tids[t], NULL, PoolWorkerMain, &workers[t]) != 0)
		{
			/* out of memory for a stack or over a process limit: do without */
			pthread_mutex_lock(&s.lock);
			s.running--;
			pthread_mutex_unlock(&s.lock);
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);

	if (started == 0)
	{
		pthread_cond_destroy(&s.done);
		pthread_mutex_destroy(&s.lock);
		return PoolRunInline(n, chunk, fn, ctx, ctl);
	}

	/* wait for the workers, polling for interrupts every POOL_POLL_NS */
	pthread_mutex_lock(&s.lock);
	while (s.running > 0)
	{
		struct timespec deadline;

		/* the caller's own work first, as long as it has some (not once stopping) */
		if (!interrupted && idle != NULL)
		{
			bool		more;

			pthread_mutex_unlock(&s.lock);
			more = idle(idle_arg);
			if (PoolInterrupted(ctl))
			{
				interrupted = true;
				interrupted_at = PoolNowNs();
				atomic_store(&s.stop, 1);
				more = false;
			}
			pthread_mutex_lock(&s.lock);
			if (more || s.running == 0)
				continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += POOL_POLL_NS;
		if (deadline.tv_nsec >= 1000000000L)
		{
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s.done, &s.lock, &deadline);
		if (s.running == 0)
			continue;
		if (interrupted)
		{
			if (PoolNowNs() - interrupted_at < POOL_STOP_GRACE_NS)
				continue;
			stuck = true;
			break;
		}
		pthread_mutex_unlock(&s.lock);
		if (PoolInterrupted(ctl))
		{
			interrupted = true;
			interrupted_at = PoolNowNs();
			atomic_store(&s.stop, 1);
		}
		pthread_mutex_lock(&s.lock);
	}
	pthread_mutex_unlock(&s.lock);

	if (stuck)
	{
		/* the pool's lock, condition and stack frame are left to the parked */
		PoolFreezeStuck(workers, tids, started);
		return RECSYS_STUCK;
	}

	for (t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	pthread_cond_destroy(&s.done);
	pthread_mutex_destroy(&s.lock);

	if (interrupted)
		return RECSYS_INTERRUPTED;
	return atomic_load(&s.status);
}

/* The rows [begin, end) of RecInitFactors's matrix */
static void
InitFactorRows(float *f, int64_t begin, int64_t end, int k, uint64_t key)
{
	double		scale = 0.2 / sqrt((double) (k > 0 ? k : 1));
	int64_t		r;

	for (r = begin; r < end; r++)
	{
		uint64_t	state = key ^ ((uint64_t) r * UINT64_C(0x8CB92BA72F3D8DD7));

		/* one mixing round so neighbouring rows do not start from related states */
		(void) KernSplitMix64(&state);
		/* top 24 bits give a float in [0, 1) exactly */
		KernUniform(state, k, scale, f + r * (int64_t) k);
	}
}

static uint64_t
InitFactorKey(uint64_t seed, uint64_t stream)
{
	uint64_t	key = seed;

	return KernSplitMix64(&key) ^ (stream * UINT64_C(0xD1B54A32D192ED03));
}

/*
 * Fills f[rows * k] with values uniform in [-0.1, 0.1) / sqrt(k).  Row r is drawn
 * from a generator keyed by (seed, stream, r) alone, so the result does not depend
 * on how rows are split across threads or how many rows there are.
 */
void
RecInitFactors(float *f, int64_t rows, int k, uint64_t seed, uint64_t stream)
{
	InitFactorRows(f, 0, rows, k, InitFactorKey(seed, stream));
}

typedef struct InitFactorsJob
{
	float	   *f;
	int			k;
	uint64_t	key;
} InitFactorsJob;

static int
InitFactorsChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const InitFactorsJob *job = (const InitFactorsJob *) ctx;

	InitFactorRows(job->f, begin, end, job->k, job->key);
	return RECSYS_OK;
}

/* RecInitFactors on nthreads threads: the same values */
int
RecInitFactorsParallel(float *f, int64_t rows, int k, uint64_t seed, uint64_t stream,
					   int nthreads, const RecControl *ctl)
{
	InitFactorsJob job = {f, k, InitFactorKey(seed, stream)};

	return RecParallelFor(nthreads, rows, 4096, InitFactorsChunk, &job, ctl);
}

/*
 * Asks the kernel to back the whole 2 MB pages inside a not yet touched array
 * with transparent huge pages.  Training fills arrays of hundreds of MB
 * right after allocating them; with 4 kB pages a fifth of that time went to page
 * faults.  Advice only: where THP is off or the call fails nothing changes.
 */
void
RecAdviseHugePages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t) 2 << 20;
	uintptr_t	start = ((uintptr_t) p + huge - 1) & ~(huge - 1);
	uintptr_t	end = ((uintptr_t) p + bytes) & ~(huge - 1);

	if (end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#endif
}

/* Pages of a shared image given back per piece of RecDiscardShared's work */
#define POOL_DISCARD_BYTES	((uintptr_t) 4 << 20)

typedef struct PoolDiscardPiece
{
	uintptr_t	start;			/* page aligned */
	uintptr_t	end;
} PoolDiscardPiece;

static int
PoolDiscardChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	const PoolDiscardPiece *pieces = (const PoolDiscardPiece *) ctx;

	/* a failure leaves the pages to be freed with their segment */
	for (int64_t c = begin; c < end; c++)
		(void) madvise((void *) pieces[c].start, pieces[c].end - pieces[c].start, MADV_REMOVE);
	return RECSYS_OK;
}

/*
 * Gives the whole pages of the n shared memory ranges [p[i], p[i] + bytes[i])
 * back to the system now, on `threads` threads: the caller has read them and
 * will not again (their contents become zeros).  A worker's state image read
 * by the build is 40 MB or more of 4 kB shared pages, which the query's end
 * would otherwise unmap and free one by one on one thread (20 ms for two
 * images of 42 MB).  The pieces alternate between the ranges, so that threads
 * work on different segments (punching one file's pages serialises on it).
 * Linux only; elsewhere, and where the system refuses, the pages stay until
 * then.  Returns a status code (RecParallelFor's, or RECSYS_ENOMEM).
 */
int
RecDiscardShared(void *const *p, const size_t *bytes, int n, int threads,
				 const RecControl *ctl)
{
#ifdef MADV_REMOVE
	long		page = sysconf(_SC_PAGESIZE);
	uintptr_t	mask;
	PoolDiscardPiece *pieces;
	int64_t		n_pieces = 0;
	int64_t		round;
	int			rc;

	if (page <= 0 || n <= 0)
		return RECSYS_OK;
	mask = (uintptr_t) page - 1;
	for (int i = 0; i < n; i++)
		if (p[i] != NULL && bytes[i] > 2 * (size_t) page)
			n_pieces += (int64_t) ((bytes[i] + POOL_DISCARD_BYTES - 1) / POOL_DISCARD_BYTES);
	if (n_pieces == 0)
		return RECSYS_OK;
	pieces = malloc(sizeof(PoolDiscardPiece) * (size_t) n_pieces);
	if (pieces == NULL)
		return RECSYS_ENOMEM;
	n_pieces = 0;
	for (round = 0;; round++)
	{
		bool		more = false;

		for (int i = 0; i < n; i++)
		{
			uintptr_t	start,
						end,
						from;

			if (p[i] == NULL || bytes[i] <= 2 * (size_t) page)
				continue;
			start = ((uintptr_t) p[i] + mask) & ~mask;
			end = ((uintptr_t) p[i] + bytes[i]) & ~mask;
			from = start + (uintptr_t) round * POOL_DISCARD_BYTES;
			if (from >= end)
				continue;
			pieces[n_pieces].start = from;
			pieces[n_pieces].end = end - from > POOL_DISCARD_BYTES ? from + POOL_DISCARD_BYTES : end;
			n_pieces++;
			more = true;
		}
		if (!more)
			break;
	}
	rc = RecParallelFor(threads, n_pieces, 1, PoolDiscardChunk, pieces, ctl);
	free(pieces);
	return rc;
#else
	return RECSYS_OK;
#endif
}
