/*
 * diversity.c
 *		Greedy maximal marginal relevance over a pool of top-scored items, and
 *		the item similarities of each model kind that it reads (diversity.h).
 *
 * Plain C (no PostgreSQL headers, no allocation): recommend.c selects the pool
 * with the ordinary top-N heap, hands it here with scratch and emits the order.
 * A diversity of 0 never reaches this file, so an ordinary list costs nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diversity.h"
#include "kernels.h"

/* Greedy MMR over the pool (diversity.h); O(n * n_pool) plus the similarity calls */
int
RecRerankMMR(const float *score, int32_t n_pool, int n, float diversity,
			 RecPoolSimilarityFn simfn, void *ctx, int32_t *order, float *work)
{
	float	   *rel = work;
	float	   *maxsim = work + n_pool;
	float	   *sim = work + 2 * (int64_t) n_pool;
	float		lo = score[0],
				hi = score[0];
	int			want = n < n_pool ? n : n_pool;

	if (want <= 0)
		return 0;
	for (int32_t c = 1; c < n_pool; c++)
	{
		lo = score[c] < lo ? score[c] : lo;
		hi = score[c] > hi ? score[c] : hi;
	}
	for (int32_t c = 0; c < n_pool; c++)
	{
		rel[c] = hi > lo ? (score[c] - lo) / (hi - lo) : 1.0f;
		maxsim[c] = 0.0f;
	}

	for (int step = 0; step < want; step++)
	{
		int32_t		best = -1;
		float		best_value = 0.0f;

		/* picked entries have rel = NAN and are skipped */
		for (int32_t c = 0; c < n_pool; c++)
		{
			float		value;

			if (isnan(rel[c]))
				continue;
			value = (1.0f - diversity) * rel[c] - diversity * maxsim[c];
			if (best < 0 || value > best_value)
			{
				best = c;
				best_value = value;
			}
		}
		order[step] = best;
		rel[best] = NAN;
		if (step + 1 == want)
			break;

		/* the most similar picked item of every entry still in the pool */
		simfn(ctx, best, sim);
		for (int32_t c = 0; c < n_pool; c++)
		{
			if (isnan(rel[c]))
				continue;
			if (step == 0 || sim[c] > maxsim[c])
				maxsim[c] = sim[c];
		}
	}
	return want;
}

/* Cosine of pool entry s's factors with every pool entry's: n_pool k-dots */
void
RecFactorPoolSimilarity(void *ctx, int32_t s, float *sim)
{
	const RecFactorPool *p = ctx;
	int64_t		is = p->items[s];
	const float *ys = p->Y + is * p->k;
	float		ns = p->norms[is];

	for (int32_t c = 0; c < p->n_pool; c++)
	{
		int64_t		ic = p->items[c];
		float		nc = p->norms[ic];

		sim[c] = (ns > 0.0f && nc > 0.0f) ?
			KernDot(ys, p->Y + ic * p->k, p->k) / (ns * nc) : 0.0f;
	}
}

/*
 * The pool position of item i, or -1: the bitmap says whether i is in the pool
 * (pos is only written, and read, for pool items), so a look-up is two loads
 * and no search.
 */
static inline int32_t
PoolPosition(const uint64_t *mark, const int32_t *pos, int32_t i)
{
	if ((mark[i >> 6] & ((uint64_t) 1 << (i & 63))) == 0)
		return -1;
	return pos[i];
}

/*
 * The pool's in-pool neighbour entries as an adjacency list: the pool's rows
 * are read once, each entry looked up in O(1), the entries found kept as
 * (a, b, weight) in the caller's scratch and then bucketed by both ends.
 */
void
RecNeighbourPoolBuild(const RecNeighbourRows *rows, const int64_t *items, int32_t n_pool,
					  const uint64_t *mark, const int32_t *pos, int32_t *found_a,
					  int32_t *found_b, float *found_w, RecNeighbourPool *adj)
{
	int64_t		found = 0;
	float		scale = 0.0f;

	memset(adj->adj_ptr, 0, sizeof(int64_t) * (n_pool + 1));
	for (int32_t a = 0; a < n_pool; a++)
		for (int64_t q = rows->ptr[items[a]]; q < rows->ptr[items[a] + 1]; q++)
		{
			int32_t		b = PoolPosition(mark, pos, rows->idx[q]);
			float		w = rows->weight[q];

			if (b < 0 || b == a)
				continue;
			found_a[found] = a;
			found_b[found] = b;
			found_w[found++] = w;
			adj->adj_ptr[a + 1]++;
			adj->adj_ptr[b + 1]++;
			scale = fabsf(w) > scale ? fabsf(w) : scale;
		}
	for (int32_t a = 0; a < n_pool; a++)
		adj->adj_ptr[a + 1] += adj->adj_ptr[a];

	/* adj_ptr[x] is the next free slot of x while filling, then shifted back */
	for (int64_t f = 0; f < found; f++)
	{
		float		w = scale > 0.0f ? found_w[f] / scale : 0.0f;
		int32_t		a = found_a[f];
		int32_t		b = found_b[f];

		adj->adj_pos[adj->adj_ptr[a]] = b;
		adj->adj_weight[adj->adj_ptr[a]++] = w;
		adj->adj_pos[adj->adj_ptr[b]] = a;
		adj->adj_weight[adj->adj_ptr[b]++] = w;
	}
	for (int32_t a = n_pool; a > 0; a--)
		adj->adj_ptr[a] = adj->adj_ptr[a - 1];
	adj->adj_ptr[0] = 0;
	adj->n_pool = n_pool;
}

/* Stored weights of pool entry s with every pool entry, from the adjacency list */
void
RecNeighbourPoolSimilarity(void *ctx, int32_t s, float *sim)
{
	const RecNeighbourPool *p = ctx;

	/* -inf: no stored weight yet; both directions of a pair keep the larger */
	for (int32_t c = 0; c < p->n_pool; c++)
		sim[c] = -INFINITY;
	for (int64_t q = p->adj_ptr[s]; q < p->adj_ptr[s + 1]; q++)
		if (p->adj_weight[q] > sim[p->adj_pos[q]])
			sim[p->adj_pos[q]] = p->adj_weight[q];
	for (int32_t c = 0; c < p->n_pool; c++)
		if (sim[c] == -INFINITY)
			sim[c] = 0.0f;
}

/* Picked entry s's stored row over the pool, scaled by its largest |weight| */
void
RecNeighbourPickSimilarity(void *ctx, int32_t s, float *sim)
{
	const RecNeighbourPicks *p = ctx;
	int64_t		q0 = p->rows.ptr[p->items[s]],
				q1 = p->rows.ptr[p->items[s] + 1];
	const int32_t *idx = p->rows.idx;
	const float *weight = p->rows.weight;
	float		scale = 0.0f;

	for (int64_t q = q0; q < q1; q++)
		scale = fabsf(weight[q]) > scale ? fabsf(weight[q]) : scale;
	memset(sim, 0, sizeof(float) * p->n_pool);
	if (scale == 0.0f)
		return;
	for (int64_t q = q0; q < q1; q++)
	{
		int32_t		b = p->pos[idx[q]];

		if (b >= 0)
			sim[b] = weight[q] / scale;
	}
}

/* Norms of the pool items' columns of the seen interactions */
void
RecSeenColumnNorms(const int64_t *item_ptr, const float *item_values, const int64_t *items,
				   int32_t n_pool, float *norms)
{
	for (int32_t c = 0; c < n_pool; c++)
	{
		double		s = 0.0;

		for (int64_t q = item_ptr[items[c]]; q < item_ptr[items[c] + 1]; q++)
			s += (double) item_values[q] * item_values[q];
		norms[c] = (float) sqrt(s);
	}
}

/* Cosine of pool entry s's interaction column with every pool entry's */
void
RecSeenPoolSimilarity(void *ctx, int32_t s, float *sim)
{
	const RecSeenPool *p = ctx;
	int64_t		is = p->items[s];

	/* item s's column spread over the users, every pool column dotted with it */
	for (int64_t q = p->item_ptr[is]; q < p->item_ptr[is + 1]; q++)
		p->scratch[p->item_users[q]] = p->item_values[q];
	for (int32_t c = 0; c < p->n_pool; c++)
	{
		int64_t		ic = p->items[c];
		float		dot = 0.0f;

		for (int64_t q = p->item_ptr[ic]; q < p->item_ptr[ic + 1]; q++)
			dot += p->item_values[q] * p->scratch[p->item_users[q]];
		sim[c] = (p->norms[s] > 0.0f && p->norms[c] > 0.0f) ?
			dot / (p->norms[s] * p->norms[c]) : 0.0f;
	}
	for (int64_t q = p->item_ptr[is]; q < p->item_ptr[is + 1]; q++)
		p->scratch[p->item_users[q]] = 0.0f;
}
