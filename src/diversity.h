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
 * Item-item models (item kNN, EASE): an item's similarity to a picked item p
 * is the weight p's stored neighbour row gives it, divided by the largest
 * |weight| of that row (so p's nearest neighbour is 1 for every model kind,
 * EASE weights having no natural scale), 0 for an item the row does not list.
 * Each pick reads its own row once, its entries' pool positions one load each
 * from pos (the model's item -> pool position array, -1 outside the pool: the
 * caller sets the pool's entries before and puts -1 back after), so a list
 * costs O(n * row length) whatever the pool's and the catalogue's size.
 */
typedef struct RecNeighbourPool
{
	RecNeighbourRows rows;
	const int64_t *items;		/* pool item indexes */
	const int32_t *pos;			/* [n_items] pool position or -1 */
	int32_t		n_pool;
} RecNeighbourPool;

extern void RecNeighbourPoolSimilarity(void *ctx, int32_t s, float *sim);

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
