/*
 * scoring.c
 *		Scoring for the neighbourhood models (item kNN, user kNN, EASE): score rows
 *		from stored neighbour rows, neighbours of a visitor's history, the
 *		kNN-with-baseline prediction and the batch scorer behind recommend_all and
 *		evaluate for these models.
 *
 * Plain C (no PostgreSQL headers): nothing here allocates, raises errors or
 * looks at a Datum; RecNeighbourBatchChunk runs on worker threads.  The factor
 * models' scoring and the selection into a top-N heap are serving.c; the
 * SQL-facing side is recommend.c.
 */
#include <math.h>
#include <string.h>

#include "scoring.h"
#include "textscore.h"
#include "solver.h"

/*
 * Row j of every history item, scaled by the item's value, added into the score
 * row.  Sparse rows: the cost is the history length times the neighbours kept.
 */
void
RecScoreItemNeighbours(const RecNeighbourRows *items, const RecHistory *hist,
					   float *scores)
{
	for (int64_t t = 0; t < hist->n; t++)
	{
		int32_t		j = hist->items[t];
		float		v = hist->values[t];

		for (int64_t p = items->ptr[j]; p < items->ptr[j + 1]; p++)
			scores[items->idx[p]] += v * items->weight[p];
	}
}

/* The neighbours' histories, each scaled by its similarity to u */
void
RecScoreUserNeighbours(const RecNeighbourRows *users, int32_t u,
					   const int64_t *seen_ptr, const int32_t *seen_items,
					   const float *seen_values, float *scores)
{
	for (int64_t p = users->ptr[u]; p < users->ptr[u + 1]; p++)
	{
		int32_t		v = users->idx[p];
		float		sim = users->weight[p];

		for (int64_t q = seen_ptr[v]; q < seen_ptr[v + 1]; q++)
			scores[seen_items[q]] += sim * seen_values[q];
	}
}

/*
 * Cosine of the visitor with every user that shares an item, accumulated through
 * the item -> users transpose, then the best k by similarity (ties by user
 * index).  Only users touched are visited when selecting and cleared after.
 */
int
RecVisitorNeighbours(const RecHistory *hist, const int64_t *item_ptr,
					 const int32_t *item_users, const float *item_values,
					 const float *user_norms, int32_t n_users, int k,
					 float *acc, int32_t *out_users, float *out_sims)
{
	double		norm2 = 0;
	float		norm;
	int			kept = 0;

	for (int64_t t = 0; t < hist->n; t++)
	{
		int32_t		j = hist->items[t];
		float		x = hist->values[t];

		norm2 += (double) x * x;
		for (int64_t p = item_ptr[j]; p < item_ptr[j + 1]; p++)
			acc[item_users[p]] += x * item_values[p];
	}
	norm = (float) sqrt(norm2);

	/* a small insertion-sorted list: k is the model's neighbour count */
	for (int32_t v = 0; v < n_users; v++)
	{
		float		sim;
		int			pos;

		if (acc[v] == 0.0f)
			continue;
		sim = (norm > 0 && user_norms[v] > 0) ? acc[v] / (norm * user_norms[v]) : 0.0f;
		acc[v] = 0.0f;
		if (!(sim > 0.0f) || (kept == k && sim <= out_sims[kept - 1]))
			continue;
		pos = kept < k ? kept++ : k - 1;
		while (pos > 0 && out_sims[pos - 1] < sim)
		{
			out_sims[pos] = out_sims[pos - 1];
			out_users[pos] = out_users[pos - 1];
			pos--;
		}
		out_sims[pos] = sim;
		out_users[pos] = v;
	}
	return kept;
}

/* Binary search of i in a history */
bool
RecHistoryValue(const RecHistory *hist, int32_t i, float *value)
{
	int64_t		lo = 0,
				hi = hist->n - 1;

	while (lo <= hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (hist->items[mid] < i)
			lo = mid + 1;
		else if (hist->items[mid] > i)
			hi = mid - 1;
		else
		{
			*value = hist->values[mid];
			return true;
		}
	}
	return false;
}

/* mu + b_u + b_i, with absent biases counting as zero */
static inline float
Baseline(float mu, const float *user_bias, const float *item_bias, int32_t u, int32_t i)
{
	return mu + (user_bias && u >= 0 ? user_bias[u] : 0.0f) +
		(item_bias && i >= 0 ? item_bias[i] : 0.0f);
}

/*
 * Item kNN: the neighbours of i (row i) that the user rated, each contributing
 * its deviation from the user's baseline for it.
 */
float
RecPredictItemBaseline(const RecNeighbourRows *items, const RecHistory *hist,
					   int32_t u, int32_t i, float mu,
					   const float *user_bias, const float *item_bias)
{
	float		base = Baseline(mu, user_bias, item_bias, u, i);
	double		num = 0,
				den = 0;

	if (u < 0 || i < 0)
		return base;
	for (int64_t p = items->ptr[i]; p < items->ptr[i + 1]; p++)
	{
		int32_t		j = items->idx[p];
		float		r;

		if (!RecHistoryValue(hist, j, &r))
			continue;
		num += (double) items->weight[p] * (r - Baseline(mu, user_bias, item_bias, u, j));
		den += fabs((double) items->weight[p]);
	}
	return den > 0 ? base + (float) (num / den) : base;
}

/* User kNN: the neighbours of u (row u) that rated i, deviations from their baselines */
float
RecPredictUserBaseline(const RecNeighbourRows *users, int32_t u, int32_t i,
					   const int64_t *seen_ptr, const int32_t *seen_items,
					   const float *seen_values, float mu,
					   const float *user_bias, const float *item_bias)
{
	float		base = Baseline(mu, user_bias, item_bias, u, i);
	double		num = 0,
				den = 0;

	if (u < 0 || i < 0)
		return base;
	for (int64_t p = users->ptr[u]; p < users->ptr[u + 1]; p++)
	{
		int32_t		v = users->idx[p];
		RecHistory	hv = {seen_items + seen_ptr[v], seen_values + seen_ptr[v],
		seen_ptr[v + 1] - seen_ptr[v]};
		float		r;

		if (!RecHistoryValue(&hv, i, &r))
			continue;
		num += (double) users->weight[p] * (r - Baseline(mu, user_bias, item_bias, v, i));
		den += fabs((double) users->weight[p]);
	}
	return den > 0 ? base + (float) (num / den) : base;
}


/* Appends i to the touched list the first time it is seen (no branch) */
static inline void
Touch(RecTouched *t, int32_t i)
{
	uint64_t	bit = UINT64_C(1) << (i & 63);
	uint64_t	word = t->mark[i >> 6];

	t->items[t->n] = i;
	t->n += (word & bit) == 0;
	t->mark[i >> 6] = word | bit;
}

void
RecScoreItemNeighboursTouched(const RecNeighbourRows *items, const RecHistory *hist,
							  float *scores, RecTouched *t)
{
	for (int64_t k = 0; k < hist->n; k++)
	{
		int32_t		j = hist->items[k];
		float		v = hist->values[k];

		for (int64_t p = items->ptr[j]; p < items->ptr[j + 1]; p++)
		{
			scores[items->idx[p]] += v * items->weight[p];
			Touch(t, items->idx[p]);
		}
	}
}

void
RecScoreUserNeighboursTouched(const RecNeighbourRows *users, int32_t u,
							  const int64_t *seen_ptr, const int32_t *seen_items,
							  const float *seen_values, float *scores, RecTouched *t)
{
	for (int64_t p = users->ptr[u]; p < users->ptr[u + 1]; p++)
	{
		int32_t		v = users->idx[p];
		float		sim = users->weight[p];

		for (int64_t q = seen_ptr[v]; q < seen_ptr[v + 1]; q++)
		{
			scores[seen_items[q]] += sim * seen_values[q];
			Touch(t, seen_items[q]);
		}
	}
}

/*
 * The heap orders (score, index) totally, so visiting the touched items in the
 * order they were first reached gives what a scan in index order gives.
 */
void
RecSelectTouched(TopNHeap *h, const float *scores, const RecTouched *t,
				 const RecBlocked *b)
{
	for (int64_t k = 0; k < t->n; k++)
	{
		int32_t		i = t->items[k];

		if (scores[i] != 0.0f && TopNWouldEnter(h, scores[i], i) && !RecIsBlocked(b, i))
			TopNPush(h, scores[i], i);
	}
}

void
RecTouchedClear(RecTouched *t, float *scores)
{
	for (int64_t k = 0; k < t->n; k++)
	{
		int32_t		i = t->items[k];

		scores[i] = 0.0f;
		t->mark[i >> 6] = 0;
	}
	t->n = 0;
}

/* The same among the listed items (sorted, unique) */
void
RecSelectRowCandidates(TopNHeap *h, const float *scores, const int32_t *cand,
					   int64_t n_cand, const RecBlocked *b)
{
	for (int64_t c = 0; c < n_cand; c++)
	{
		int32_t		i = cand[c];

		if (scores[i] != 0.0f && TopNWouldEnter(h, scores[i], i) && !RecIsBlocked(b, i))
			TopNPush(h, scores[i], i);
	}
}

/*
 * One chunk of users: for each, its score row on this thread's scratch, the best
 * n items the request allows into its slice of the output, the row cleared for
 * the next.
 */
int
RecNeighbourBatchChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	RecNeighbourBatch *bt = (RecNeighbourBatch *) ctx;
	float	   *scores = bt->scores[thread];
	RecTouched *touched = &bt->touched[thread];

	for (int64_t row = begin; row < end; row++)
	{
		int32_t		u = bt->users[row];
		TopNHeap	heap;
		RecBlocked	blocked = {NULL, 0, bt->exclude, bt->n_exclude};

		TopNInit(&heap, bt->n, bt->out_score + row * bt->n, bt->out_item + row * bt->n);
		if (u >= 0)
		{
			RecHistory	hist;

			hist.items = bt->seen_items + bt->seen_ptr[u];
			hist.values = bt->seen_values + bt->seen_ptr[u];
			hist.n = bt->seen_ptr[u + 1] - bt->seen_ptr[u];
			if (bt->text)
				RecTextScore(bt->text, &hist, bt->text_center, &bt->text_scratch[thread],
							 scores, touched);
			else if (bt->by_user)
				RecScoreUserNeighboursTouched(&bt->rows, u, bt->seen_ptr, bt->seen_items,
											  bt->seen_values, scores, touched);
			else
				RecScoreItemNeighboursTouched(&bt->rows, &hist, scores, touched);
			if (bt->exclude_seen)
			{
				blocked.seen = hist.items;
				blocked.n_seen = hist.n;
			}
			if (bt->cand)
				RecSelectRowCandidates(&heap, scores, bt->cand, bt->n_cand, &blocked);
			else
				RecSelectTouched(&heap, scores, touched, &blocked);
			RecTouchedClear(touched, scores);
		}
		/* an unknown user, or nothing reached: the most popular items */
		bt->out_fallback[row] = heap.size == 0;
		if (heap.size == 0)
		{
			if (bt->cand)
				RecSelectPopularCandidates(&heap, bt->item_count, bt->cand, bt->n_cand,
										   &blocked);
			else
				RecSelectPopular(&heap, bt->popular, bt->item_count, bt->n_items, &blocked);
		}
		bt->out_count[row] = TopNSortDesc(&heap);
	}
	return RECSYS_OK;
}

/*
 * Terms of an item-neighbour score: terms[t] = value_t * w(item t -> target),
 * 0 where row t does not list target.  Their sum is RecScoreItemNeighbours'
 * score of target.
 */
void
RecTermsItemNeighbours(const RecNeighbourRows *items, const RecHistory *hist,
					   int32_t target, float *terms)
{
	for (int64_t t = 0; t < hist->n; t++)
	{
		int32_t		j = hist->items[t];

		terms[t] = 0.0f;
		for (int64_t p = items->ptr[j]; p < items->ptr[j + 1]; p++)
			if (items->idx[p] == target)
			{
				terms[t] = hist->values[t] * items->weight[p];
				break;
			}
	}
}

/* Position of item i in a sorted row of items, or -1 */
static int64_t
RowPosition(const int32_t *items, int64_t n, int32_t i)
{
	int64_t		lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (items[mid] == i)
			return mid;
		if (items[mid] < i)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Terms of a user-neighbour score over the user's own items: each neighbour
 * v's term sim(u, v) * r_v,target is shared among the items u and v both have,
 * in proportion to r_u,j * r_v,j (their part of the two users' overlap), evenly
 * if those products sum to 0, over all of u's items if they share none.  The
 * terms sum to the score.
 */
void
RecTermsUserNeighbours(const RecHistory *hist, const int32_t *nbr, const float *sims,
					   int64_t n_nbr, int32_t target, const int64_t *seen_ptr,
					   const int32_t *seen_items, const float *seen_values, float *terms)
{
	for (int64_t t = 0; t < hist->n; t++)
		terms[t] = 0.0f;
	for (int64_t p = 0; p < n_nbr; p++)
	{
		int32_t		v = nbr[p];
		const int32_t *vi = seen_items + seen_ptr[v];
		const float *vv = seen_values + seen_ptr[v];
		int64_t		vn = seen_ptr[v + 1] - seen_ptr[v];
		int64_t		at = RowPosition(vi, vn, target);
		float		share;
		double		overlap = 0.0;
		int64_t		shared = 0;

		if (at < 0 || vv[at] == 0.0f || sims[p] == 0.0f)
			continue;
		share = sims[p] * vv[at];

		/* both rows are sorted: one merge for the overlap, one to hand it out */
		for (int64_t a = 0, b = 0; a < hist->n && b < vn;)
		{
			if (hist->items[a] < vi[b])
				a++;
			else if (hist->items[a] > vi[b])
				b++;
			else
			{
				overlap += (double) hist->values[a] * vv[b];
				shared++;
				a++, b++;
			}
		}
		if (shared == 0)
		{
			for (int64_t t = 0; t < hist->n; t++)
				terms[t] += share / (float) hist->n;
			continue;
		}
		for (int64_t a = 0, b = 0; a < hist->n && b < vn;)
		{
			if (hist->items[a] < vi[b])
				a++;
			else if (hist->items[a] > vi[b])
				b++;
			else
			{
				terms[a] += overlap != 0.0 ?
					(float) (share * ((double) hist->values[a] * vv[b] / overlap)) :
					share / (float) shared;
				a++, b++;
			}
		}
	}
}
