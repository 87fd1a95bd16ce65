/*
 * diversity_test.c
 *		TAP checks of greedy MMR and the pool similarities (src/diversity.c) as
 *		plain C against brute force: the re-ranked order equals a direct greedy
 *		implementation over a dense similarity matrix, diversity 0 keeps the
 *		pool's order, the first pick is the best-scored, and the item-item pool
 *		graph gives max(w(a -> b), w(b -> a)) / the largest |w|, 0 where neither
 *		is stored.  Built and run by test/run with the other unit drivers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diversity.h"

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

/* a dense pool similarity as a callback */
typedef struct Dense
{
	int			n;
	const float *S;
} Dense;

static void
DenseSimilarity(void *ctx, int32_t s, float *sim)
{
	const Dense *d = ctx;

	memcpy(sim, d->S + (size_t) s * d->n, sizeof(float) * d->n);
}

/* the textbook greedy MMR over a dense matrix */
static int
BruteMMR(const float *score, int n_pool, int n, float lambda, const float *S, int *order)
{
	float		lo = score[0],
				hi = score[0];
	int			want = n < n_pool ? n : n_pool;
	char	   *taken = calloc(n_pool, 1);

	for (int c = 0; c < n_pool; c++)
	{
		lo = fminf(lo, score[c]);
		hi = fmaxf(hi, score[c]);
	}
	for (int step = 0; step < want; step++)
	{
		int			best = -1;
		float		best_v = 0;

		for (int c = 0; c < n_pool; c++)
		{
			float		rel = hi > lo ? (score[c] - lo) / (hi - lo) : 1.0f;
			float		maxsim = 0;
			float		v;

			if (taken[c])
				continue;
			for (int p = 0; p < step; p++)
				if (p == 0 || S[(size_t) order[p] * n_pool + c] > maxsim)
					maxsim = S[(size_t) order[p] * n_pool + c];
			v = (1 - lambda) * rel - lambda * maxsim;
			if (best < 0 || v > best_v)
			{
				best = c;
				best_v = v;
			}
		}
		order[step] = best;
		taken[best] = 1;
	}
	free(taken);
	return want;
}

int
main(void)
{
	unsigned	seed = 7;
	int			mismatches = 0,
				first_bad = 0,
				zero_bad = 0;

	for (int trial = 0; trial < 200; trial++)
	{
		int			n_pool = 5 + rand_r(&seed) % 120;
		int			n = 1 + rand_r(&seed) % 15;
		float		lambda = (float) (rand_r(&seed) % 11) / 10.0f;
		float	   *score = malloc(sizeof(float) * n_pool);
		float	   *S = malloc(sizeof(float) * n_pool * n_pool);
		float	   *work = malloc(sizeof(float) * 3 * n_pool);
		int32_t    *order = malloc(sizeof(int32_t) * n_pool);
		int		   *want = malloc(sizeof(int) * n_pool);
		Dense		d = {n_pool, S};
		int			got,
					exp;

		/* a pool is best first */
		score[0] = 10.0f;
		for (int c = 1; c < n_pool; c++)
			score[c] = score[c - 1] - (float) (rand_r(&seed) % 100) / 100.0f;
		for (int a = 0; a < n_pool; a++)
			for (int b = 0; b <= a; b++)
				S[(size_t) a * n_pool + b] = S[(size_t) b * n_pool + a] =
					a == b ? 1.0f : (float) (rand_r(&seed) % 201 - 100) / 100.0f;

		got = RecRerankMMR(score, n_pool, n, lambda, DenseSimilarity, &d, order, work);
		exp = BruteMMR(score, n_pool, n, lambda, S, want);
		if (got != exp)
			mismatches++;
		else
			for (int r = 0; r < got; r++)
				if (order[r] != want[r])
				{
					mismatches++;
					break;
				}
		if (order[0] != 0)
			first_bad++;
		RecRerankMMR(score, n_pool, n, 0.0f, DenseSimilarity, &d, order, work);
		for (int r = 0; r < got; r++)
			if (order[r] != r)
			{
				zero_bad++;
				break;
			}
		free(score);
		free(S);
		free(work);
		free(order);
		free(want);
	}
	ok(mismatches == 0, "MMR equals the textbook greedy over a dense similarity (200 random pools)");
	ok(first_bad == 0, "the first pick is the pool's best");
	ok(zero_bad == 0, "diversity 0 keeps the pool's order");

	/* item-item pool graph against a dense brute force */
	{
		int32_t		n_items = 40,
					n_pool = 12;
		int64_t		ptr[41];
		int32_t		idx[40 * 6];
		float		wt[40 * 6];
		float		W[40][40];
		int64_t		items[12];
		uint64_t	mark[1] = {0};
		int32_t		pos[40];
		int32_t		fa[12 * 6],
					fb[12 * 6];
		float		fw[12 * 6];
		int64_t		adj_ptr[13];
		int32_t		adj_pos[2 * 12 * 6];
		float		adj_weight[2 * 12 * 6];
		RecNeighbourPool p = {0, adj_ptr, adj_pos, adj_weight};
		RecNeighbourRows rows = {ptr, idx, wt};
		float		scale = 0,
					sim[12];
		int			bad = 0;

		memset(W, 0, sizeof(W));
		ptr[0] = 0;
		for (int i = 0; i < n_items; i++)
		{
			int			k = rand_r(&seed) % 7;

			ptr[i + 1] = ptr[i];
			for (int j = 0; j < k && ptr[i + 1] < 40 * 6; j++)
			{
				int			t = rand_r(&seed) % n_items;

				if (t == i || W[i][t] != 0)
					continue;
				W[i][t] = (float) (rand_r(&seed) % 200 - 100) / 10.0f;
				idx[ptr[i + 1]] = t;
				wt[ptr[i + 1]++] = W[i][t];
			}
			if (ptr[i + 1] - ptr[i] > 6)
				return 1;
		}
		for (int c = 0; c < n_pool; c++)
		{
			items[c] = c * 3;
			pos[c * 3] = c;
			mark[0] |= (uint64_t) 1 << (c * 3);
		}
		for (int a = 0; a < n_pool; a++)
			for (int b = 0; b < n_pool; b++)
				if (a != b)
					scale = fmaxf(scale, fabsf(W[items[a]][items[b]]));
		RecNeighbourPoolBuild(&rows, items, n_pool, mark, pos, fa, fb, fw, &p);
		for (int s = 0; s < n_pool; s++)
		{
			RecNeighbourPoolSimilarity(&p, s, sim);
			for (int c = 0; c < n_pool; c++)
			{
				float		f = W[items[s]][items[c]],
							r = W[items[c]][items[s]],
							want;

				if (c == s)
					continue;
				if (f != 0 && r != 0)
					want = fmaxf(f, r) / scale;
				else if (f != 0 || r != 0)
					want = (f != 0 ? f : r) / scale;
				else
					want = 0;
				if (fabsf(sim[c] - want) > 1e-6f)
					bad++;
			}
		}
		ok(bad == 0, "item-item pool similarity: the larger stored direction over the largest |w|, 0 if none");
	}
	/* recommend's item-item similarity to a pick against a dense brute force */
	{
		int32_t		n_items = 40,
					n_pool = 12;
		int64_t		ptr[41];
		int32_t		idx[40 * 6];
		float		wt[40 * 6];
		float		W[40][40];
		bool		stored[40][40];
		float		rowmax[40];
		int64_t		items[12];
		int32_t		pos[40];
		RecNeighbourPicks p = {{ptr, idx, wt}, items, pos, n_pool};
		float		sim[12];
		int			bad = 0;

		memset(W, 0, sizeof(W));
		memset(stored, 0, sizeof(stored));
		ptr[0] = 0;
		for (int i = 0; i < n_items; i++)
		{
			int			k = rand_r(&seed) % 7;

			rowmax[i] = 0;
			ptr[i + 1] = ptr[i];
			for (int j = 0; j < k && ptr[i + 1] < 40 * 6; j++)
			{
				int			t = rand_r(&seed) % n_items;

				if (t == i || stored[i][t])
					continue;
				stored[i][t] = true;
				W[i][t] = (float) (rand_r(&seed) % 200 - 100) / 10.0f;
				rowmax[i] = fmaxf(rowmax[i], fabsf(W[i][t]));
				idx[ptr[i + 1]] = t;
				wt[ptr[i + 1]++] = W[i][t];
			}
			if (ptr[i + 1] - ptr[i] > 6)
				return 1;
		}
		for (int i = 0; i < n_items; i++)
			pos[i] = -1;

		/* 50 pools of 12 distinct random items */
		for (int trial = 0; trial < 50; trial++)
		{
			for (int c = 0; c < n_pool; c++)
			{
				do
					items[c] = rand_r(&seed) % n_items;
				while (pos[items[c]] >= 0);
				pos[items[c]] = c;
			}
			for (int s = 0; s < n_pool; s++)
			{
				RecNeighbourPickSimilarity(&p, s, sim);
				for (int c = 0; c < n_pool; c++)
				{
					float		want = 0;

					if (c == s)
						continue;
					if (stored[items[s]][items[c]] && rowmax[items[s]] > 0)
						want = W[items[s]][items[c]] / rowmax[items[s]];
					if (sim[c] != want)
						bad++;
				}
			}
			for (int c = 0; c < n_pool; c++)
				pos[items[c]] = -1;
		}
		ok(bad == 0, "item-item similarity to a pick: its stored weight over its row's largest |w|, 0 if not listed");
	}
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
