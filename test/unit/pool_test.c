/*
 * pool_test.c
 *		TAP checks of the solver thread pool (src/pool.c) as plain C, for what a
 *		backend cannot easily show: a worker that never returns, threads that
 *		cannot be started, OpenBLAS scratch that cannot be mapped.  Built and run
 *		by test/run with the other unit drivers.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "solver.h"

static int	tests = 0;
static int	failed = 0;

static void
ok(int cond, const char *what)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* interrupted() that turns true 0.2 s after `since` */
static double since;

static bool
InterruptSoon(void *arg)
{
	return Now() - since > 0.2;
}

/* a chunk: counts its items (and those run on the main thread), taking 1 ms */
static atomic_long done_items;
static atomic_long done_on_main;
static pthread_t main_thread;

static int
CountChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	struct timespec ms = {0, 1000 * 1000L};

	nanosleep(&ms, NULL);
	atomic_fetch_add(&done_items, end - begin);
	if (pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&done_on_main, end - begin);
	return RECSYS_OK;
}

/* a chunk that never returns and ignores every stop request */
static atomic_long spins;

static int
SpinChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	if (begin == 0)
		for (;;)
			atomic_fetch_add(&spins, 1);
	return RECSYS_OK;
}

/* bytes of address space the process has mapped */
static rlim_t
MappedBytes(void)
{
	FILE	   *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;

	if (f == NULL || fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	if (f)
		fclose(f);
	return (rlim_t) pages * sysconf(_SC_PAGESIZE);
}

/* sets the soft address-space limit to `extra` bytes above what is mapped now */
static void
LimitAddressSpace(rlim_t extra, struct rlimit *saved)
{
	struct rlimit lim;

	getrlimit(RLIMIT_AS, saved);
	lim = *saved;
	lim.rlim_cur = MappedBytes() + extra;
	setrlimit(RLIMIT_AS, &lim);
}

int
main(void)
{
	RecControl	ctl = {InterruptSoon, NULL, NULL};
	struct rlimit saved;
	double		t;
	long		before;
	int			rc;

	printf("1..11\n");
	main_thread = pthread_self();

	/*
	 * 1-2: no stack for the threads: the calling thread does the work (first,
	 * while glibc has no stacks of finished threads cached for reuse: before
	 * RecPoolInit stops OpenBLAS's threads)
	 */
	LimitAddressSpace(2 << 20, &saved);
	atomic_store(&done_items, 0);
	atomic_store(&done_on_main, 0);
	rc = RecParallelFor(4, 100, 1, CountChunk, NULL, NULL);
	setrlimit(RLIMIT_AS, &saved);
	ok(rc == RECSYS_OK, "threads that cannot be started are done without");
	ok(atomic_load(&done_items) == 100 && atomic_load(&done_on_main) == 100,
	   "... on the calling thread, every item once");

	/* 3: the limit read from OpenBLAS's build */
	RecPoolInit();
	ok(RecBlasBuildThreads() > 1 ?
	   RecBlasThreadLimit() == RecBlasBuildThreads() - 1 ||
	   (RecBlasThreadLimit() == RECSYS_MAX_THREADS && RecBlasBuildThreads() > RECSYS_MAX_THREADS) :
	   RecBlasThreadLimit() >= 1 && RecBlasThreadLimit() <= RECSYS_MAX_THREADS,
	   "at most MAX_THREADS - 1 threads call OpenBLAS at once");

	/* 4-5: a well-behaved run stops within a chunk of the interrupt */
	since = Now() + 1e9;
	atomic_store(&done_items, 0);
	atomic_store(&done_on_main, 0);
	rc = RecParallelFor(3, 300, 1, CountChunk, NULL, NULL);
	ok(rc == RECSYS_OK && atomic_load(&done_items) == 300 && atomic_load(&done_on_main) == 0,
	   "3 threads run every item once, none on the calling thread");
	since = Now();
	rc = RecParallelFor(2, 1000000, 1, CountChunk, NULL, &ctl);
	t = Now() - since;
	ok(rc == RECSYS_INTERRUPTED && t < 1.0, "an interrupt stops the workers within a chunk");

	/* 6: no room for OpenBLAS's scratch: an error, at once */
	LimitAddressSpace(64 << 20, &saved);
	t = Now();
	rc = RecBlasReserve(2, NULL);
	setrlimit(RLIMIT_AS, &saved);
	ok(rc == RECSYS_ENOMEM && Now() - t < 1.0,
	   "RecBlasReserve reports out of memory when the scratch cannot be mapped");

	/*
	 * 7-8: initial factors drawn on threads (rows in chunks of 4096, more rows
	 * than one chunk) are the single-threaded values bit for bit
	 */
	{
		static float one[9001 * 7],
					many[9001 * 7];
		int			same = 1;

		RecInitFactors(one, 9001, 7, 42, 2);
		for (int th = 1; th <= 3; th++)
		{
			memset(many, 0, sizeof(many));
			rc = RecInitFactorsParallel(many, 9001, 7, 42, 2, th, NULL);
			same &= rc == RECSYS_OK && memcmp(one, many, sizeof(one)) == 0;
		}
		ok(same, "initial factors on 1, 2 and 3 threads equal the serial draw");
		rc = RecInitFactorsParallel(many, 9001, 7, 42, 1, 2, NULL);
		ok(rc == RECSYS_OK && memcmp(one, many, sizeof(one)) != 0,
		   "... and another stream draws other values");
	}

	/* 9-11: a worker that never returns: given up on after the grace, and parked */
	since = Now();
	rc = RecParallelFor(2, 4, 1, SpinChunk, NULL, &ctl);
	t = Now() - since;
	ok(rc == RECSYS_STUCK, "a worker that ignores the stop request makes RecParallelFor return RECSYS_STUCK");
	ok(t > 4.0 && t < 8.0, "... about 5 s after the interrupt");
	before = atomic_load(&spins);
	usleep(200 * 1000);
	ok(atomic_load(&spins) == before, "... with the stuck worker parked, no longer running");

	/* the parked worker goes with the process */
	return failed > 0;
}
