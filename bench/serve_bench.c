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
 * Prints one line: "sgemv_p50_us sgemv_p99_us gemm_gflops".
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

	printf("%.1f %.1f %.2f\n", lat[calls / 2], lat[(int) (calls * 0.99)],
		   2.0 * GEMM_USERS * n_items * k / best / 1e9);
	fprintf(stderr, "checksum %g\n", checksum);
	return 0;
}
