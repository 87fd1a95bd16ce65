/*
 * serve_bench.c
 *		Baselines for bench/30_serve.sh, measured outside the database on the same
 *		item matrix: one user's top 10 as a bare cblas_sgemv plus bounded-heap
 *		selection (p50 / p99 per call), and the machine's SGEMM rate on the shape
 *		recommend_all multiplies (users x k times k x items).
 *
 * Usage: serve_bench ITEMS USERS THREADS
 *	 ITEMS: one line per item, "bias f1 .. fk" (item id order)
 *	 USERS: one line per sampled user, "base f1 .. fk" (base = mu + b_u)
 * Prints one line: "sgemv_p50_us sgemv_p99_us gemm_gflops fused_p50_us
 * fused_cold_p50_us warm_gbs cold_gbs item_mb kernels"; the last is the kernel set
 * kernels.c picked for this CPU.
 *
 * Bandwidth is a streaming sum over a buffer the size of the item matrix: warm
 * (read again right away, so from whatever cache holds it, as back-to-back calls
 * of one backend see it) and cold (after streaming through FLUSH_BYTES of other
 * memory, so from DRAM).  bytes / bandwidth is the floor of any exact top-N that
 * reads every item's factors once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "../src/kernels.c"

extern void openblas_set_num_threads(int num_threads);

#define TOPN		10
#define GEMM_USERS	1024
#define FLUSH_BYTES (256u << 20)
#define BW_REPEATS	50

static volatile float bench_sink;

/*
 * Sum of buf[0 .. n): the bandwidth probe.  Eight independent sums and a
 * software prefetch 4 kB ahead, so that memory, not the adds, sets the pace.
 */
__attribute__((noinline))
static float
StreamSum(const float *buf, size_t n)
{
	float		s[8][16] = {{0}};
	size_t		i = 0;

	for (; i + 128 <= n; i += 128)
	{
		__builtin_prefetch(buf + i + 1024);
		__builtin_prefetch(buf + i + 1040);
		__builtin_prefetch(buf + i + 1056);
		__builtin_prefetch(buf + i + 1072);
		__builtin_prefetch(buf + i + 1088);
		__builtin_prefetch(buf + i + 1104);
		__builtin_prefetch(buf + i + 1120);
		__builtin_prefetch(buf + i + 1136);
		for (int a = 0; a < 8; a++)
			for (int j = 0; j < 16; j++)
				s[a][j] += buf[i + 16 * a + j];
	}
	for (; i < n; i++)
		s[0][0] += buf[i];
	for (int a = 1; a < 8; a++)
		for (int j = 0; j < 16; j++)
			s[0][j] += s[a][j];
	for (int j = 1; j < 16; j++)
		s[0][0] += s[0][j];
	return s[0][0];
}

/* x rounded to bfloat16 (nearest, ties to even) and back */
static float
RoundBf16(float x)
{
	uint32_t	u;

	memcpy(&u, &x, 4);
	u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000u;
	memcpy(&x, &u, 4);
	return x;
}

/* x rounded to IEEE half precision and back */
static float
RoundF16(float x)
{
	return (float) (_Float16) x;
}

/*
 * Recall@TOPN of the top-N ranked on item factors rounded by round() against the
 * exact top-N, over every sampled user: what a half-precision item matrix would
 * give up (it would halve the bytes the scan reads)
 */
static double
RoundedRecall(const float *Y, int n_items, int k, const float *X, int n_users,
			  const float *item_bias, const float *user_base, float (*round) (float))
{
	float	   *Yr = malloc(sizeof(float) * (size_t) n_items * k);
	long		hit = 0,
				total = 0;

	for (size_t i = 0; i < (size_t) n_items * k; i++)
		Yr[i] = round(Y[i]);
	for (int u = 0; u < n_users; u++)
	{
		float		es[TOPN],
					rs[TOPN];
		int64_t		ei[TOPN],
					ri[TOPN];
		TopNHeap	e,
					r;

		TopNInit(&e, TOPN, es, ei);
		TopNInit(&r, TOPN, rs, ri);
		KernDotTopN(&e, Y, n_items, k, X + (size_t) u * k, item_bias, user_base[u], NULL, NULL);
		KernDotTopN(&r, Yr, n_items, k, X + (size_t) u * k, item_bias, user_base[u], NULL, NULL);
		for (int a = 0; a < e.size; a++)
			for (int b = 0; b < r.size; b++)
				hit += ei[a] == ri[b];
		total += e.size;
	}
	free(Yr);
	return (double) hit / (total > 0 ? total : 1);
}

/* Reads all of buf, so that whatever was cached before is evicted */
static void
Flush(float *buf, size_t n)
{
	bench_sink = StreamSum(buf, n);
}

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

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
CompareDouble(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	float	   *item_bias,
			   *Y,
			   *user_base,
			   *X;
	int			k,
				ku;
	int			n_items,
				n_users;
	int			threads;
	int			calls;
	float	   *scores;
	double	   *lat;
	float		hs[TOPN];
	int64_t		hi[TOPN];
	double		checksum = 0;
	float	   *A,
			   *C;
	double		t,
				best = 1e30;
	double		warm_gbs,
				cold_gbs,
				fused_p50,
				fused_cold_p50;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s ITEMS USERS THREADS\n", argv[0]);
		return 2;
	}
	n_items = ReadRows(argv[1], &item_bias, &Y, &k);
	n_users = ReadRows(argv[2], &user_base, &X, &ku);
	threads = atoi(argv[3]);
	if (n_items < 1 || n_users < 1 || k != ku)
	{
		fprintf(stderr, "bad input: %d items, %d users, k %d / %d\n", n_items, n_users, k, ku);
		return 1;
	}

	/* single user: sgemv + bias + bounded heap, one BLAS thread like a backend */
	openblas_set_num_threads(1);
	scores = malloc(sizeof(float) * n_items);
	calls = n_users < 2000 ? 2000 : n_users;
	lat = malloc(sizeof(double) * calls);
	for (int c = 0; c < calls; c++)
	{
		int			u = c % n_users;
		const float *x = X + (size_t) u * k;
		TopNHeap	h;
		double		t0 = Now();

		cblas_sgemv(CblasRowMajor, CblasNoTrans, n_items, k, 1.0f, Y, k, x, 1, 0.0f,
					scores, 1);
		TopNInit(&h, TOPN, hs, hi);
		for (int i = 0; i < n_items; i++)
		{
			float		s = scores[i] + (user_base[u] + item_bias[i]);

			if (TopNWouldEnter(&h, s, i))
				TopNPush(&h, s, i);
		}
		TopNSortDesc(&h);
		lat[c] = (Now() - t0) * 1e6;
		checksum += hs[0];
	}
	qsort(lat, calls, sizeof(double), CompareDouble);

	/* streaming-sum bandwidth over a copy of the item matrix, warm and cold */
	{
		size_t		nf = (size_t) n_items * k;
		float	   *copy = malloc(sizeof(float) * nf);
		float	   *flush = malloc(FLUSH_BYTES);
		double		warm[BW_REPEATS],
					cold[BW_REPEATS];
		double	   *flat = malloc(sizeof(double) * calls);
		double	   *clat = malloc(sizeof(double) * BW_REPEATS);

		memcpy(copy, Y, sizeof(float) * nf);
		for (size_t i = 0; i < FLUSH_BYTES / sizeof(float); i++)
			flush[i] = (float) (i & 255);
		bench_sink = StreamSum(copy, nf);
		for (int r = 0; r < BW_REPEATS; r++)
		{
			double		t0 = Now();

			bench_sink = StreamSum(copy, nf);
			warm[r] = Now() - t0;
		}
		for (int r = 0; r < BW_REPEATS; r++)
		{
			double		t0;

			Flush(flush, FLUSH_BYTES / sizeof(float));
			t0 = Now();
			bench_sink = StreamSum(copy, nf);
			cold[r] = Now() - t0;
		}
		qsort(warm, BW_REPEATS, sizeof(double), CompareDouble);
		qsort(cold, BW_REPEATS, sizeof(double), CompareDouble);
		warm_gbs = sizeof(float) * nf / warm[BW_REPEATS / 2] / 1e9;
		cold_gbs = sizeof(float) * nf / cold[BW_REPEATS / 2] / 1e9;

		/* the fused kernel recommend uses, back to back (warm) and after a flush */
		for (int c = 0; c < calls; c++)
		{
			int			u = c % n_users;
			TopNHeap	h;
			double		t0 = Now();

			TopNInit(&h, TOPN, hs, hi);
			KernDotTopN(&h, Y, n_items, k, X + (size_t) u * k, item_bias, user_base[u],
						NULL, NULL);
			TopNSortDesc(&h);
			flat[c] = (Now() - t0) * 1e6;
			checksum += hs[0];
		}
		qsort(flat, calls, sizeof(double), CompareDouble);
		fused_p50 = flat[calls / 2];
		for (int c = 0; c < BW_REPEATS; c++)
		{
			int			u = c % n_users;
			TopNHeap	h;
			double		t0;

			Flush(flush, FLUSH_BYTES / sizeof(float));
			t0 = Now();
			TopNInit(&h, TOPN, hs, hi);
			KernDotTopN(&h, Y, n_items, k, X + (size_t) u * k, item_bias, user_base[u],
						NULL, NULL);
			TopNSortDesc(&h);
			clat[c] = (Now() - t0) * 1e6;
			checksum += hs[0];
		}
		qsort(clat, BW_REPEATS, sizeof(double), CompareDouble);
		fused_cold_p50 = clat[BW_REPEATS / 2];
		free(copy);
		free(flush);
		free(flat);
		free(clat);
	}

	/* SGEMM rate on recommend_all's shape, on all threads */
	openblas_set_num_threads(threads);
	A = malloc(sizeof(float) * GEMM_USERS * k);
	C = malloc(sizeof(float) * (size_t) GEMM_USERS * n_items);
	for (int r = 0; r < GEMM_USERS; r++)
		memcpy(A + (size_t) r * k, X + (size_t) (r % n_users) * k, sizeof(float) * k);
	for (int rep = 0; rep < 4; rep++)
	{
		double		t0 = Now();

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, GEMM_USERS, n_items, k,
					1.0f, A, k, Y, k, 0.0f, C, n_items);
		t = Now() - t0;
		if (t < best)
			best = t;
		checksum += C[rep];
	}

	fprintf(stderr, "recall@%d of half-precision item factors: fp16 %.4f, bf16 %.4f\n", TOPN,
			RoundedRecall(Y, n_items, k, X, n_users, item_bias, user_base, RoundF16),
			RoundedRecall(Y, n_items, k, X, n_users, item_bias, user_base, RoundBf16));
	printf("%.1f %.1f %.2f %.1f %.1f %.1f %.1f %.2f %s\n", lat[calls / 2],
		   lat[(int) (calls * 0.99)], 2.0 * GEMM_USERS * n_items * k / best / 1e9,
		   fused_p50, fused_cold_p50, warm_gbs, cold_gbs,
		   sizeof(float) * (double) n_items * k / 1e6, KernName());
	fprintf(stderr, "checksum %g\n", checksum);
	return 0;
}
