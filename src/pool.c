/*
 * pool.c
 *		The solvers' thread pool (RecParallelFor), their deterministic initial
 *		factors (RecInitFactors), and the huge-page advice for the large arrays
 *		training fills (RecAdviseHugePages).
 *
 * Plain C and pthreads: nothing here calls PostgreSQL.  The calling thread starts
 * the workers, then only waits and polls the interrupt callback; the workers take
 * chunks of the index range from an atomic counter until it runs out, a chunk fails
 * or a stop is requested.  Scratch memory belongs to the solvers, which allocate it
 * per thread before calling in here.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "solver.h"

/* how long the calling thread sleeps between two polls of ctl->interrupted */
#define POOL_POLL_NS	(20 * 1000 * 1000L)

#define POOL_MAX_THREADS	256

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
} PoolWorker;

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

/*
 * Runs fn over [0, n) in chunks on nthreads threads; see solver.h.  The calling
 * thread waits on a condition variable with short timeouts and polls
 * ctl->interrupted in between, outside any lock.
 */
int
RecParallelFor(int nthreads, int64_t n, int64_t chunk, RecChunkFn fn, void *ctx,
			   const RecControl *ctl)
{
	PoolShared	s;
	PoolWorker	workers[POOL_MAX_THREADS];
	pthread_t	tids[POOL_MAX_THREADS];
	sigset_t	all,
				saved;
	int			started = 0;
	int			create_failed = 0;
	bool		interrupted = false;
	int			t;

	if (n < 0 || chunk < 1 || fn == NULL || nthreads < 1)
		return RECSYS_EINVAL;
	if (n == 0)
		return PoolInterrupted(ctl) ? RECSYS_INTERRUPTED : RECSYS_OK;
	if (nthreads > POOL_MAX_THREADS)
		nthreads = POOL_MAX_THREADS;
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
		pthread_mutex_lock(&s.lock);
		s.running++;
		pthread_mutex_unlock(&s.lock);
		if (pthread_create(&tids[t], NULL, PoolWorkerMain, &workers[t]) != 0)
		{
			pthread_mutex_lock(&s.lock);
			s.running--;
			pthread_mutex_unlock(&s.lock);
			create_failed = 1;
			atomic_store(&s.stop, 1);
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);

	/* wait for the workers, polling for interrupts every POOL_POLL_NS */
	pthread_mutex_lock(&s.lock);
	while (s.running > 0)
	{
		struct timespec deadline;

		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += POOL_POLL_NS;
		if (deadline.tv_nsec >= 1000000000L)
		{
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s.done, &s.lock, &deadline);
		if (s.running == 0 || interrupted)
			continue;
		pthread_mutex_unlock(&s.lock);
		if (PoolInterrupted(ctl))
		{
			interrupted = true;
			atomic_store(&s.stop, 1);
		}
		pthread_mutex_lock(&s.lock);
	}
	pthread_mutex_unlock(&s.lock);

	for (t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	pthread_cond_destroy(&s.done);
	pthread_mutex_destroy(&s.lock);

	if (create_failed)
		return RECSYS_ETHREAD;
	if (interrupted)
		return RECSYS_INTERRUPTED;
	return atomic_load(&s.status);
}

/* splitmix64: a well-mixed 64-bit output for each successive state */
static inline uint64_t
SplitMix64(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * Fills f[rows * k] with values uniform in [-0.1, 0.1) / sqrt(k).  Row r is drawn
 * from a generator keyed by (seed, stream, r) alone, so the result does not depend
 * on how rows are split across threads or how many rows there are.
 */
void
RecInitFactors(float *f, int64_t rows, int k, uint64_t seed, uint64_t stream)
{
	double		scale = 0.2 / sqrt((double) (k > 0 ? k : 1));
	uint64_t	key;
	int64_t		r;

	key = seed;
	key = SplitMix64(&key) ^ (stream * UINT64_C(0xD1B54A32D192ED03));
	for (r = 0; r < rows; r++)
	{
		uint64_t	state = key ^ ((uint64_t) r * UINT64_C(0x8CB92BA72F3D8DD7));
		float	   *row = f + r * (int64_t) k;
		int			j;

		/* one mixing round so neighbouring rows do not start from related states */
		(void) SplitMix64(&state);
		for (j = 0; j < k; j++)
		{
			/* top 24 bits give a float in [0, 1) exactly */
			double		u = (double) (SplitMix64(&state) >> 40) * (1.0 / 16777216.0);

			row[j] = (float) ((u - 0.5) * scale);
		}
	}
}

/*
 * Asks the kernel to back the 2 MB-aligned interior of a large, not yet touched
 * array with transparent huge pages.  Training fills arrays of hundreds of MB
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

	if (bytes >= 4 * huge && end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#endif
}
