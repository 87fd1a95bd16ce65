/*
 * diversity.h
 *		Diverse top-N lists: greedy maximal marginal relevance (Carbonell and
 *		Goldstein) over a pool of the best-scored candidates, and the item
 *		similarities it reads for each model kind.
 *
 * Plain C over arrays and sizes (no PostgreSQL headers), like serving.h.  The
 * pool is a list of item indexes best first; similarities are asked for one
 * selected pool entry against the whole pool at a time, so a model kind only
 * has to say how similar one item is to a list of others.
 */
#ifndef RECSYS_DIVERSITY_H
#define RECSYS_DIVERSITY_H

#include <stdbool.h>
#include <stdint.h>

#include "scoring.h"

/* Pool of a diverse list of n: the best max(10 n, 100) candidates by score */
static inline int64_t
RecDiversityPool(int n)
{
	int64_t		p = (int64_t) n * 10;

	return p < 100 ? 100 : p;
}

/*
 * Writes sim[c], the similarity of pool entry c to pool entry s, for every c of
 * the pool (sim[s] is not read).
 */
typedef void (*RecPoolSimilarityFn) (void *ctx, int32_t s, float *sim);

/*
 * Greedy MMR: the first pick is the pool's best (pool order is score desc, id
 * asc), each next one maximises
 *		(1 - diversity) * rel(c) - diversity * max over picked p of sim(c, p)
 * with rel the score scaled to [0, 1] over the pool; ties go to the earlier
 * pool entry.  Writes the picked pool positions to order and returns how many
 * (min(n, n_pool)).  work holds 3 * n_pool floats.
 */
extern int	RecRerankMMR(const float *score, int32_t n_pool, int n, float diversity,
						 RecPoolSimilarityFn sim, void *ctx, int32_t *order, float *work);

/* Factor models: cosine of the item factors (0 for a zero row) */
typedef struct RecFactorPool
{
	const float *Y;				/* item factors, n_items x k */
	int			k;
	const float *norms;			/* [n_items] |y_i| */
	const int64_t *items;		/* pool item indexes */
	int32_t		n_pool;
} RecFactorPool;

extern void RecFactorPoolSimilarity(void *ctx, int32_t s, float *sim);

/*
 * Item-item models (item kNN, EASE): the stored weight between two pool items,
 * the larger of w(a -> b) and w(b -> a) where both are stored, 0 where neither
 * is, divided by the largest absolute weight among the pool's pairs (EASE
 * weights have no natural scale).  Built once per list: the pool's rows are
 * read once and their in-pool entries kept as an adjacency list.
 */
typedef struct RecNeighbourPool
{
	int32_t		n_pool;
	int64_t    *adj_ptr;		/* [n_pool + 1] */
	int32_t    *adj_pos;		/* pool positions */
	float	   *adj_weight;		/* scaled weights */
} RecNeighbourPool;

/*
 * Fills adj (adj_ptr: n_pool + 1; adj_pos, adj_weight: twice the pool rows'
 * total length) with the in-pool entries of the pool's rows.  mark has the pool
 * items' bits set (one bit per catalogue item) and pos[i] is the pool position
 * of a pool item i (other entries are never read); found_a, found_b and
 * found_w are scratch of the pool rows' total length.
 */
extern void RecNeighbourPoolBuild(const RecNeighbourRows *rows, const int64_t *items,
								  int32_t n_pool, const uint64_t *mark, const int32_t *pos,
								  int32_t *found_a, int32_t *found_b, float *found_w,
								  RecNeighbourPool *adj);
extern void RecNeighbourPoolSimilarity(void *ctx, int32_t s, float *sim);

/*
 * recommend's diversity on item-item models: an item's similarity to a picked
 * item p is the weight p's stored neighbour row gives it, divided by the
 * largest |weight| of that row (so p's nearest neighbour is 1 for every model
 * kind), 0 for an item the row does not list.  Each pick reads its own row
 * once, its entries' pool positions one load each from pos (the model's item ->
 * pool position array, -1 outside the pool: the caller sets the pool's entries
 * before and puts -1 back after), so a list costs O(n * row length) whatever
 * the pool's and the catalogue's size.  (RecNeighbourPool above reads every
 * pool row for a symmetric similarity; evaluate's list diversity uses it.)
 */
typedef struct RecNeighbourPicks
{
	RecNeighbourRows rows;
	const int64_t *items;		/* pool item indexes */
	const int32_t *pos;			/* [n_items] pool position or -1 */
	int32_t		n_pool;
} RecNeighbourPicks;

extern void RecNeighbourPickSimilarity(void *ctx, int32_t s, float *sim);

/*
 * User kNN: cosine of two items' columns of the seen interactions (the users
 * who interacted with both, weighted by their values), read through the item
 * -> users transpose; scratch holds n_users floats, zero on entry and left zero.
 */
typedef struct RecSeenPool
{
	const int64_t *item_ptr;
	const int32_t *item_users;
	const float *item_values;
	const int64_t *items;		/* pool item indexes */
	const float *norms;			/* [n_pool] the pool items' column norms */
	float	   *scratch;
	int32_t		n_pool;
} RecSeenPool;

extern void RecSeenColumnNorms(const int64_t *item_ptr, const float *item_values,
							   const int64_t *items, int32_t n_pool, float *norms);
extern void RecSeenPoolSimilarity(void *ctx, int32_t s, float *sim);

#endif							/* RECSYS_DIVERSITY_H */
