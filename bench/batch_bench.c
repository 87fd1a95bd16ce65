/*
 * batch_bench.c
 *		recommend_all's numeric core outside the database: RecBatchChunk
 *		(serving.c) on the pool's threads (pool.c) over every user of a factor
 *		model, against the time the same GEMM FLOPs take at the SGEMM rate
 *		measured here on the same shapes and threads.  bench/30_serve.sh runs it
 *		once per OpenBLAS kernel, so the ratio is known for each.
 *
 * Usage: batch_bench ITEMS USERS N_USERS THREADS
 *	 ITEMS: one line per item, "bias f1 .. fk"; USERS: sample rows "base f1 .. fk",
 *	 repeated to N_USERS users.
 * Prints one line: "core gemm_gflops gemm_s batch_s ratio gemm_cpu_s batch_cpu_s
 * cpu_ratio" (wall-clock and CPU seconds, best of REPS interleaved runs); on
 * stderr the share of user x tile products multiplied (tiles in bound order;
 * NO_SORT=1: every tile in row order), and with CHECK=1 the count of list
 * entries that differ from the single-user scan's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "kernels.h"
#include "serving.h"
#include "solver.h"

extern char *openblas_get_corename(void);

static int BLOCK = 256;
static int TILE = 1024;
#define TOPN	10
#define REPS	5

/* Reads rows of 1 + k floats; returns the number of rows, sets *k */
static int
ReadRows(const char *path, float **lead, float **factors, int *k)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	int			rows = 0,
				alloc = 1024;

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	*k = 0;
	*lead = malloc(sizeof(float) * alloc);
	*factors = NULL;
	while (getline(&line, &cap, f) > 0)
	{
		char	   *p = line;
		char	   *end;
		int			c = 0;
		float		v[1025];

		while (c < 1025)
		{
			v[c] = strtof(p, &end);
			if (end == p)
				break;
			p = end;
			c++;
		}
		if (c < 2)
			continue;
		if (*k == 0)
		{
			*k = c - 1;
			*factors = malloc(sizeof(float) * alloc * *k);
		}
		if (rows == alloc)
		{
			alloc *= 2;
			*lead = realloc(*lead, sizeof(float) * alloc);
			*factors = realloc(*factors, sizeof(float) * alloc * *k);
		}
		(*lead)[rows] = v[0];
		memcpy(*factors + (size_t) rows * *k, v + 1, sizeof(float) * *k);
		rows++;
	}
	free(line);
	fclose(f);
	return rows;
}

/* The smaller of two doubles */
static inline double
Min2(double x, double y)
{
	return x < y ? x : y;
}

/* Wall-clock seconds */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of this process (all threads): what the work costs, time slices aside */
static double
Cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The GEMM alone, block by block as RecBatchChunk multiplies (no selection) */
typedef struct GemmOnly
{
	const float *X;
	const float *Y;
	int			k;
	int			n_items;
	float	  **cb;
} GemmOnly;

/* One chunk of GemmOnly: the same SGEMM calls RecBatchChunk makes */
static int
GemmChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	GemmOnly   *g = (GemmOnly *) ctx;

	for (int32_t t0 = 0; t0 < g->n_items; t0 += TILE)
	{
		int			tn = g->n_items - t0 < TILE ? g->n_items - t0 : TILE;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) (end - begin), tn, g->k,
					1.0f, g->X + begin * g->k, g->k, g->Y + (int64_t) t0 * g->k, g->k,
					0.0f, g->cb[thread], tn);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	float	   *item_bias,
			   *Y,
			   *base,
			   *Xs,
			   *X,
			   *user_bias;
	int			k,
				ku,
				n_items,
				n_sample,
				n_users,
				threads;
	RecBatch	bt;
	GemmOnly	g;
	int32_t    *users;
	double		gemm_s = 1e30,
				batch_s = 1e30,
				gemm_cpu = 1e30,
				batch_cpu = 1e30;
	size_t		bytes;

	if (argc != 5)
	{
		fprintf(stderr, "usage: %s ITEMS USERS N_USERS THREADS\n", argv[0]);
		return 2;
	}
	n_items = ReadRows(argv[1], &item_bias, &Y, &k);
	n_sample = ReadRows(argv[2], &base, &Xs, &ku);
	n_users = atoi(argv[3]);
	threads = atoi(argv[4]);
	if (n_items < 1 || n_sample < 1 || k != ku || n_users < 1 || threads < 1)
	{
		fprintf(stderr, "bad input\n");
		return 1;
	}
	if (getenv("BLOCK"))
		BLOCK = atoi(getenv("BLOCK"));
	if (getenv("TILE"))
		TILE = atoi(getenv("TILE"));
	RecPoolInit();
	if (RecBlasReserve(threads, &bytes) != 0)
		return 1;
	X = malloc(sizeof(float) * (size_t) n_users * k);
	user_bias = malloc(sizeof(float) * n_users);
	users = malloc(sizeof(int32_t) * n_users);
	for (int u = 0; u < n_users; u++)
	{
		memcpy(X + (size_t) u * k, Xs + (size_t) (u % n_sample) * k, sizeof(float) * k);
		user_bias[u] = base[u % n_sample];
		users[u] = u;
	}

	memset(&bt, 0, sizeof(bt));
	bt.k = k;
	bt.n_items = n_items;
	bt.X = X;
	bt.Y = Y;
	bt.user_bias = user_bias;
	bt.item_bias = item_bias;
	bt.mu = 0.0f;
	bt.users = users;
	bt.n = TOPN;
	bt.out_score = malloc(sizeof(float) * (size_t) n_users * TOPN);
	bt.out_item = malloc(sizeof(int64_t) * (size_t) n_users * TOPN);
	bt.out_count = malloc(sizeof(int) * n_users);
	bt.block = BLOCK;
	bt.tile = n_items < TILE ? n_items : TILE;
	bt.xb = malloc(sizeof(float *) * threads);
	bt.cb = malloc(sizeof(float *) * threads);
	bt.heaps = malloc(sizeof(TopNHeap *) * threads);
	bt.bm = getenv("NO_BOUNDS") ? NULL : malloc(sizeof(float *) * threads);
	for (int t = 0; t < threads; t++)
	{
		if (bt.bm)
			bt.bm[t] = malloc(sizeof(float) * RECSYS_BATCH_BOUNDS(bt.tile));
		bt.xb[t] = malloc(sizeof(float) * BLOCK * k);
		bt.cb[t] = malloc(sizeof(float) * (size_t) BLOCK * bt.tile);
		bt.heaps[t] = malloc(sizeof(TopNHeap) * BLOCK);
	}
	/* tiles in bound order, as recommend_all runs (NO_SORT: every tile in row order) */
	if (!getenv("NO_SORT"))
	{
		RecBatchSort(&bt, malloc(RecBatchSortBytes(n_items, k, bt.tile)), users, n_users);
		bt.pcap = RecBatchPoolCap(TOPN);
		bt.scratch = malloc(sizeof(void *) * threads);
		for (int t = 0; t < threads; t++)
			bt.scratch[t] = malloc(RecBatchScratchBytes(BLOCK, k, bt.pcap));
		bt.pairs = calloc(threads, sizeof(int64_t));
	}
	g.X = X;
	g.Y = Y;
	g.k = k;
	g.n_items = n_items;
	g.cb = bt.cb;

	/* interleaved repeats, best of each: the two share the machine's noise */
	for (int r = 0; r < REPS; r++)
	{
		double		t0 = Now(),
					c0 = Cpu();

		if (RecParallelFor(threads, n_users, BLOCK, GemmChunk, &g, NULL) != 0)
			return 1;
		gemm_s = Min2(gemm_s, Now() - t0);
		gemm_cpu = Min2(gemm_cpu, Cpu() - c0);
		t0 = Now();
		c0 = Cpu();
		if (RecParallelFor(threads, n_users, BLOCK, RecBatchChunk, &bt, NULL) != 0)
			return 1;
		batch_s = Min2(batch_s, Now() - t0);
		batch_cpu = Min2(batch_cpu, Cpu() - c0);
	}
	printf("%s %.1f %.3f %.3f %.2f %.3f %.3f %.2f\n", openblas_get_corename(),
		   2.0 * n_users * n_items * k / gemm_s / 1e9, gemm_s, batch_s, batch_s / gemm_s,
		   gemm_cpu, batch_cpu, batch_cpu / gemm_cpu);
	fprintf(stderr, "check %g %lld\n", bt.out_score[0], (long long) bt.out_item[0]);
	if (bt.pairs)
	{
		int64_t		done = 0;

		for (int t = 0; t < threads; t++)
			done += bt.pairs[t];
		fprintf(stderr, "user x tile products multiplied: %.1f%% of all\n",
				100.0 * done / ((double) REPS * n_users * bt.n_tiles));
	}
	/* CHECK: every list against the single-user fused scan, bit for bit */
	if (getenv("CHECK"))
	{
		long		diff = 0,
					items = 0;

		for (int u = 0; u < n_users; u++)
		{
			float		fs[TOPN];
			int64_t		fi[TOPN];
			TopNHeap	h;
			int			kept;

			TopNInit(&h, TOPN, fs, fi);
			KernDotTopN(&h, Y, n_items, k, X + (size_t) u * k, item_bias, 0.0f + user_bias[u],
						NULL, NULL);
			kept = TopNSortDesc(&h);
			diff += kept != bt.out_count[u];
			for (int j = 0; j < kept; j++)
			{
				diff += fi[j] != bt.out_item[(size_t) u * TOPN + j] ||
					fs[j] != bt.out_score[(size_t) u * TOPN + j];
				items += fi[j] != bt.out_item[(size_t) u * TOPN + j];
			}
		}
		fprintf(stderr, "entries that differ from the single-user scan's: %ld of %ld (%ld in the item)\n",
				diff, (long) n_users * TOPN, items);
	}
	return 0;
}
