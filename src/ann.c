/*
 * ann.c
 *		The inverted-file index of factor models (ann.h): k-means over the
 *		transformed item rows, the ann_index section, and the probe that ranks
 *		the items of the best lists.
 *
 * Plain C (no PostgreSQL headers): nothing here allocates, raises errors or
 * looks at a Datum, so the assignment chunks and the batch probe run on worker
 * threads.  Every result depends only on the inputs and the seed: the parallel
 * parts write disjoint rows and the means are summed on the calling thread in
 * item order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ann.h"
#include "blas.h"

/* splitmix64: the seeded stream of the sample and the reseeds */
static uint64_t
SplitMix(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* |[y_i, b_i]|^2 */
static float
RowNorm2(const RecAnnBuild *b, int32_t i)
{
	float		s = KernNormSquared(b->Y + (int64_t) i * b->k, b->k);

	if (b->bias)
		s += b->bias[i] * b->bias[i];
	return s;
}

/* The transformed row of item i, dim + 1 floats of norm 1 (about) */
static void
Transform(const RecAnnBuild *b, int32_t i, float *out)
{
	float		inv = 1.0f / b->max_norm;
	float		n2 = RowNorm2(b, i) * inv * inv;
	const float *y = b->Y + (int64_t) i * b->k;

	for (int j = 0; j < b->k; j++)
		out[j] = y[j] * inv;
	if (b->bias)
		out[b->k] = b->bias[i] * inv;
	out[b->dim] = n2 < 1.0f ? sqrtf(1.0f - n2) : 0.0f;
}

/* |c|^2 / 2 of every centroid: the nearest is the largest c.p - |c|^2 / 2 */
static void
CentroidHalves(RecAnnBuild *b)
{
	int			d = b->dim + 1;

	for (int32_t c = 0; c < b->lists; c++)
		b->chalf[c] = 0.5f * KernNormSquared(b->C + (int64_t) c * d, d);
}

void
RecAnnSampleInit(RecAnnBuild *b)
{
	int			d = b->dim + 1;
	float		m2 = 0.0f;
	uint64_t	state = b->seed;

	for (int32_t i = 0; i < b->n; i++)
	{
		float		s = RowNorm2(b, i);

		if (s > m2)
			m2 = s;
	}
	b->max_norm = m2 > 0.0f ? sqrtf(m2) : 1.0f;

	/* the first ns of a seeded shuffle; the first lists of them seed the centroids */
	for (int32_t i = 0; i < b->n; i++)
		b->sample[i] = i;
	for (int64_t j = 0; j < b->ns; j++)
	{
		int64_t		r = j + (int64_t) (SplitMix(&state) % (uint64_t) (b->n - j));
		int32_t		t = b->sample[j];

		b->sample[j] = b->sample[r];
		b->sample[r] = t;
	}
	for (int32_t c = 0; c < b->lists; c++)
		Transform(b, b->sample[c], b->C + (int64_t) c * d);
	/* the sample in item order: reads of Y ascend */
	qsort(b->sample, (size_t) b->ns, sizeof(int32_t), RecCompareInt32);
	for (int64_t j = 0; j < b->ns; j++)
		Transform(b, b->sample[j], b->S + j * d);
	CentroidHalves(b);
	b->iterations = 0;
}

/*
 * RecParallelFor body: the nearest centroid of rows begin .. end - 1 (at most
 * RECSYS_ANN_BLOCK) of the sample (phase 0) or of all items (phase 1), one
 * SGEMM of the block against every centroid.
 */
static int
AssignChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	RecAnnBuild *b = (RecAnnBuild *) ctx;
	int			d = b->dim + 1;
	int			nb = (int) (end - begin);
	const float *rows;
	float	   *dots = b->dots[thread];
	int32_t    *out = b->phase == 0 ? b->sassign : b->assign;

	if (nb > RECSYS_ANN_BLOCK)
		return RECSYS_EINVAL;
	if (b->phase == 0)
		rows = b->S + begin * d;
	else
	{
		for (int r = 0; r < nb; r++)
			Transform(b, (int32_t) (begin + r), b->rows[thread] + (int64_t) r * d);
		rows = b->rows[thread];
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, b->lists, d, 1.0f,
				rows, d, b->C, d, 0.0f, dots, b->lists);
	for (int r = 0; r < nb; r++)
	{
		const float *row = dots + (int64_t) r * b->lists;
		int32_t		best = 0;
		float		best_s = row[0] - b->chalf[0];

		for (int32_t c = 1; c < b->lists; c++)
		{
			float		s = row[c] - b->chalf[c];

			if (s > best_s)
			{
				best_s = s;
				best = c;
			}
		}
		out[begin + r] = best;
	}
	return RECSYS_OK;
}

int
RecAnnIterate(RecAnnBuild *b, const RecControl *ctl)
{
	int			d = b->dim + 1;
	int			rc;
	uint64_t	state = b->seed ^ (0xA5A5A5A5ull + (uint64_t) b->iterations);

	b->phase = 0;
	rc = RecParallelFor(b->threads, b->ns, RECSYS_ANN_BLOCK, AssignChunk, b, ctl);
	if (rc != RECSYS_OK)
		return rc;

	/* the means, in sample order on this thread */
	memset(b->acc, 0, sizeof(double) * b->lists * d);
	memset(b->count, 0, sizeof(int64_t) * b->lists);
	for (int64_t j = 0; j < b->ns; j++)
	{
		double	   *a = b->acc + (int64_t) b->sassign[j] * d;
		const float *p = b->S + j * d;

		for (int t = 0; t < d; t++)
			a[t] += p[t];
		b->count[b->sassign[j]]++;
	}
	for (int32_t c = 0; c < b->lists; c++)
	{
		float	   *cc = b->C + (int64_t) c * d;

		if (b->count[c] == 0)
		{
			/* an empty list starts again from a sample point */
			memcpy(cc, b->S + (int64_t) (SplitMix(&state) % (uint64_t) b->ns) * d,
				   sizeof(float) * d);
			continue;
		}
		for (int t = 0; t < d; t++)
			cc[t] = (float) (b->acc[(int64_t) c * d + t] / (double) b->count[c]);
	}
	CentroidHalves(b);
	b->iterations++;
	return RECSYS_OK;
}

int
RecAnnAssignAll(RecAnnBuild *b, const RecControl *ctl)
{
	b->phase = 1;
	return RecParallelFor(b->threads, b->n, RECSYS_ANN_BLOCK, AssignChunk, b, ctl);
}

/* Stores a float in an int32 word of the section */
static int32_t
FloatWord(float f)
{
	int32_t		w;

	memcpy(&w, &f, sizeof(w));
	return w;
}

void
RecAnnWrite(const RecAnnBuild *b, int32_t probes, float build_ms, int32_t *words)
{
	RecAnnIndex ix;
	int			dim = b->dim;
	int32_t    *cursor = b->sassign;	/* the sample's lists are no longer needed */
	float	   *cent;
	int32_t    *ptr;
	int32_t    *items;
	int32_t    *assign;

	memset(words, 0, sizeof(int32_t) * RECSYS_ANN_HEADER_WORDS);
	words[RECSYS_ANN_W_MAGIC] = (int32_t) RECSYS_ANN_MAGIC;
	words[RECSYS_ANN_W_LISTS] = b->lists;
	words[RECSYS_ANN_W_DIM] = dim;
	words[RECSYS_ANN_W_PROBES] = probes;
	words[RECSYS_ANN_W_N_ITEMS] = b->n;
	words[RECSYS_ANN_W_ITERATIONS] = b->iterations;
	words[RECSYS_ANN_W_SAMPLE] = (int32_t) b->ns;
	words[RECSYS_ANN_W_SEED] = (int32_t) (b->seed & 0x7FFFFFFF);
	words[RECSYS_ANN_W_MAX_NORM] = FloatWord(b->max_norm);
	words[RECSYS_ANN_W_BUILD_MS] = FloatWord(build_ms);
	words[RECSYS_ANN_W_VECTORS] = b->vectors ? 1 : 0;
	RecAnnView(words, &ix);
	cent = (float *) ix.centroids;
	ptr = (int32_t *) ix.list_ptr;
	items = (int32_t *) ix.items;
	assign = (int32_t *) ix.assign;

	/* lists by counting sort: items ascend within each list */
	memset(ptr, 0, sizeof(int32_t) * (b->lists + 1));
	for (int32_t i = 0; i < b->n; i++)
		ptr[b->assign[i] + 1]++;
	for (int32_t c = 0; c < b->lists; c++)
		ptr[c + 1] += ptr[c];
	memcpy(cursor, ptr, sizeof(int32_t) * b->lists);
	for (int32_t i = 0; i < b->n; i++)
		items[cursor[b->assign[i]]++] = i;
	memcpy(assign, b->assign, sizeof(int32_t) * b->n);
	if (ix.vectors)
		for (int32_t p = 0; p < b->n; p++)
		{
			float	   *row = (float *) ix.vectors + (int64_t) p * dim;

			memcpy(row, b->Y + (int64_t) items[p] * b->k, sizeof(float) * b->k);
			if (b->bias)
				row[b->k] = b->bias[items[p]];
		}

	/* each list's mean [y_i, b_i]: its inner product with [x, 1] is the mean score */
	memset(b->acc, 0, sizeof(double) * b->lists * dim);
	for (int32_t i = 0; i < b->n; i++)
	{
		double	   *a = b->acc + (int64_t) b->assign[i] * dim;
		const float *y = b->Y + (int64_t) i * b->k;

		for (int t = 0; t < b->k; t++)
			a[t] += y[t];
		if (b->bias)
			a[b->k] += b->bias[i];
	}
	for (int32_t c = 0; c < b->lists; c++)
	{
		int32_t		cnt = ptr[c + 1] - ptr[c];

		for (int t = 0; t < dim; t++)
			cent[(int64_t) c * dim + t] =
				cnt > 0 ? (float) (b->acc[(int64_t) c * dim + t] / cnt) : 0.0f;
	}
}

void
RecAnnRadii(const RecAnnIndex *ix, const float *Y, const float *bias, int k, float *radius)
{
	for (int32_t c = 0; c < ix->lists; c++)
		radius[c] = 0.0f;
	/* items in order: Y is read once front to back, the means stay in cache */
	for (int32_t i = 0; i < ix->n_items; i++)
	{
		int32_t		c = ix->assign[i];
		const float *cent = ix->centroids + (int64_t) c * ix->dim;
		float		d2 = KernL2Squared(Y + (int64_t) i * k, cent, k);
		float		r;

		if (bias)
			d2 += (bias[i] - cent[k]) * (bias[i] - cent[k]);
		r = sqrtf(d2);
		if (r > radius[c])
			radius[c] = r;
	}
}

/* rows ahead of the one being scored that RankList prefetches */
#define ANN_PREFETCH	6

/* List a ranks before list b: higher centroid score, then lower number */
static inline bool
ListBefore(const float *cs, int32_t a, int32_t b)
{
	return cs[a] > cs[b] || (cs[a] == cs[b] && a < b);
}

/* Restores the heap below position i (the root holds the list ranked last) */
static void
SiftDown(int32_t *heap, int32_t size, int32_t i, const float *cs)
{
	for (;;)
	{
		int32_t		l = 2 * i + 1,
					m = i;

		if (l < size && ListBefore(cs, heap[m], heap[l]))
			m = l;
		if (l + 1 < size && ListBefore(cs, heap[m], heap[l + 1]))
			m = l + 1;
		if (m == i)
			return;
		{
			int32_t		t = heap[i];

			heap[i] = heap[m];
			heap[m] = t;
		}
		i = m;
	}
}

/*
 * The best m of the lists into order[0 .. m-1], best first: a heap of m whose
 * root is its worst member, then sorted in place by popping.
 */
static void
BestLists(const float *cs, int32_t lists, int32_t m, int32_t *order)
{
	for (int32_t c = 0; c < m; c++)
		order[c] = c;
	for (int32_t i = m / 2 - 1; i >= 0; i--)
		SiftDown(order, m, i, cs);
	for (int32_t c = m; c < lists; c++)
		if (ListBefore(cs, c, order[0]))
		{
			order[0] = c;
			SiftDown(order, m, 0, cs);
		}
	for (int32_t size = m - 1; size > 0; size--)
	{
		int32_t		t = order[0];

		order[0] = order[size];
		order[size] = t;
		SiftDown(order, size, 0, cs);
	}
}

/* Ranks the items of one list into the heap; false if a score was not finite */
static bool
RankList(TopNHeap *h, const RecAnnIndex *ix, int32_t c, const float *x, int k,
		 const float *Y, const float *item_bias, float base, const RecBlocked *b)
{
	bool		finite = true;
	int32_t		end = ix->list_ptr[c + 1];

	if (ix->vectors)
	{
		/* the list's rows in a row: one stream, the bias in the last column */
		for (int32_t p = ix->list_ptr[c]; p < end; p++)
		{
			const float *row = ix->vectors + (int64_t) p * ix->dim;
			int32_t		i = ix->items[p];
			float		s = KernDot(x, row, k);

			s = item_bias ? s + (base + row[k]) : s + base;
			if (!isfinite(s))
				finite = false;
			if (TopNWouldEnter(h, s, i) && !RecIsBlocked(b, i))
				TopNPush(h, s, i);
		}
		return finite;
	}
	for (int32_t p = ix->list_ptr[c]; p < end; p++)
	{
		int32_t		i = ix->items[p];
		float		s;

		/* rows are scattered: fetch a few ahead, every cache line of the row */
		if (p + ANN_PREFETCH < end)
		{
			const char *next = (const char *) (Y + (int64_t) ix->items[p + ANN_PREFETCH] * k);

			for (int off = 0; off < k * (int) sizeof(float); off += 64)
				__builtin_prefetch(next + off);
		}
		s = KernDot(x, Y + (int64_t) i * k, k);
		/* the formula of the exact path (serving.c's ItemScore) */
		s = item_bias ? s + (base + item_bias[i]) : s + base;
		if (!isfinite(s))
			finite = false;
		if (TopNWouldEnter(h, s, i) && !RecIsBlocked(b, i))
			TopNPush(h, s, i);
	}
	return finite;
}

/*
 * The key each list is probed by for query x: its mean's score plus a share of
 * the bound's margin |q| r (ann.h), q = [x, 1] with biases; false when a key is
 * not finite (all keys are computed all the same).  The probe and the
 * calibration both rank lists by it.
 */
static bool
ListKeys(const RecAnnIndex *ix, const float *x, int k, float *cscore)
{
	float		qnorm = 0.0f;
	bool		finite = true;

	if (ix->radius)
		qnorm = sqrtf(KernNormSquared(x, k) + (ix->dim > k ? 1.0f : 0.0f));
	for (int32_t c = 0; c < ix->lists; c++)
	{
		const float *cent = ix->centroids + (int64_t) c * ix->dim;

		cscore[c] = KernDot(x, cent, k) + (ix->dim > k ? cent[k] : 0.0f);
		if (ix->radius)
			cscore[c] += RECSYS_ANN_RADIUS_WEIGHT * qnorm * ix->radius[c];
		finite &= isfinite(cscore[c]);
	}
	return finite;
}

bool
RecAnnSelect(TopNHeap *h, const RecAnnIndex *ix, const float *x, int k,
			 const float *Y, const float *item_bias, float base, int32_t probes,
			 const RecBlocked *b, float *cscore, int32_t *corder)
{
	bool		finite = true;
	int32_t		c;

	if (probes > ix->lists)
		probes = ix->lists;
	if (probes < 1)
		probes = 1;
	if (!ListKeys(ix, x, k, cscore))
		return false;
	BestLists(cscore, ix->lists, probes, corder);
	for (c = 0; c < probes; c++)
		finite &= RankList(h, ix, corder[c], x, k, Y, item_bias, base, b);
	if (h->size < h->cap && probes < ix->lists)
	{
		/* filters left too few: the further lists, best first, until it fills */
		BestLists(cscore, ix->lists, ix->lists, corder);
		for (c = probes; c < ix->lists && h->size < h->cap; c++)
			finite &= RankList(h, ix, corder[c], x, k, Y, item_bias, base, b);
	}
	return finite;
}

int
RecAnnBatchChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	RecAnnBatch *ab = (RecAnnBatch *) ctx;
	const RecBatch *bt = ab->bt;

	for (int64_t row = begin; row < end; row++)
	{
		int32_t		u = bt->users[row];
		RecBlocked	blocked = {NULL, 0, bt->exclude, bt->n_exclude};
		TopNHeap	heap;

		TopNInit(&heap, bt->n, bt->out_score + row * bt->n, bt->out_item + row * bt->n);
		if (u < 0)
			RecSelectPopular(&heap, bt->popular, bt->item_count, bt->n_items, &blocked);
		else
		{
			float		base = bt->mu + (bt->user_bias ? bt->user_bias[u] : 0.0f);

			if (bt->seen_ptr)
			{
				blocked.seen = bt->seen_items + bt->seen_ptr[u];
				blocked.n_seen = bt->seen_ptr[u + 1] - bt->seen_ptr[u];
			}
			/* a model's own user vectors give finite scores (model.h's limits) */
			(void) RecAnnSelect(&heap, ab->ix, bt->X + (int64_t) u * bt->k, bt->k, bt->Y,
								bt->item_bias, base, ab->probes, &blocked,
								ab->cscore[thread], ab->corder[thread]);
		}
		bt->out_count[row] = TopNSortDesc(&heap);
	}
	return RECSYS_OK;
}

void
RecAnnCalibSample(int32_t n_users, int32_t s, uint64_t seed, int32_t *users)
{
	uint64_t	state = seed ^ 0x5CA1AB1Eull;
	int32_t		taken = 0;

	/* user u is taken with chance (still needed) / (still left): s in all */
	for (int32_t u = 0; u < n_users && taken < s; u++)
	{
		uint64_t	left = (uint64_t) (n_users - u);

		if (SplitMix(&state) % left < (uint64_t) (s - taken))
			users[taken++] = u;
	}
}

int
RecAnnCalibChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	RecAnnCalib *cb = (RecAnnCalib *) ctx;
	const RecAnnIndex *ix = cb->ix;
	int			k = cb->k;
	int			nb = (int) (end - begin);
	float	   *xb = cb->xb[thread];
	float	   *dots = cb->dots[thread];
	float	   *cscore = cb->cscore[thread];
	int32_t    *corder = cb->corder[thread];
	int32_t    *lrank = cb->lrank[thread];
	float		base[RECSYS_ANN_CALIB_BLOCK];
	RecBlocked	blocked[RECSYS_ANN_CALIB_BLOCK];
	TopNHeap	heap[RECSYS_ANN_CALIB_BLOCK];

	if (nb > RECSYS_ANN_CALIB_BLOCK)
		return RECSYS_EINVAL;
	for (int r = 0; r < nb; r++)
	{
		int32_t		u = cb->users[begin + r];

		memcpy(xb + (int64_t) r * k, cb->X + (int64_t) u * k, sizeof(float) * k);
		base[r] = cb->mu + (cb->user_bias ? cb->user_bias[u] : 0.0f);
		memset(&blocked[r], 0, sizeof(RecBlocked));
		if (cb->seen_ptr)
		{
			blocked[r].seen = cb->seen_items + cb->seen_ptr[u];
			blocked[r].n_seen = cb->seen_ptr[u + 1] - cb->seen_ptr[u];
		}
		TopNInit(&heap[r], cb->top, cb->hscore[thread] + r * cb->top,
				 cb->hitem[thread] + r * cb->top);
	}

	/*
	 * The exact top of each user, scored with the exact path's formula: the
	 * block's users against a chunk of items at a time, so the item rows are
	 * read once per block rather than once per user
	 */
	for (int32_t first = 0; first < ix->n_items; first += RECSYS_ANN_CALIB_ITEMS)
	{
		int32_t		m = ix->n_items - first < RECSYS_ANN_CALIB_ITEMS ?
			ix->n_items - first : RECSYS_ANN_CALIB_ITEMS;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, m, k, 1.0f,
					xb, k, cb->Y + (int64_t) first * k, k, 0.0f, dots, m);
		for (int r = 0; r < nb; r++)
		{
			const float *row = dots + (int64_t) r * m;
			TopNHeap   *h = &heap[r];

			for (int32_t j = 0; j < m; j++)
			{
				int32_t		i = first + j;
				float		s = cb->item_bias ? row[j] + (base[r] + cb->item_bias[i]) :
					row[j] + base[r];

				if (TopNWouldEnter(h, s, i) && !RecIsBlocked(&blocked[r], i))
					TopNPush(h, s, i);
			}
		}
	}

	for (int r = 0; r < nb; r++)
	{
		const float *x = xb + (int64_t) r * k;
		int32_t    *pos = cb->pos + (begin + r) * cb->top;
		int			got = TopNSortDesc(&heap[r]);

		/* the user's probe order, keyed as RecAnnSelect keys it */
		(void) ListKeys(ix, x, k, cscore);
		BestLists(cscore, ix->lists, ix->lists, corder);
		for (int32_t c = 0; c < ix->lists; c++)
			lrank[corder[c]] = c;
		for (int j = 0; j < cb->top; j++)
			pos[j] = j < got ? lrank[ix->assign[(int32_t) heap[r].id[j]]] : -1;
	}
	return RECSYS_OK;
}

int32_t
RecAnnCalibPick(int32_t *pos, int64_t n, int32_t lists, double target, float *recall)
{
	int64_t		first = 0,
				total,
				need,
				hits;
	int32_t		probes;

	qsort(pos, (size_t) n, sizeof(int32_t), RecCompareInt32);
	while (first < n && pos[first] < 0)
		first++;
	total = n - first;
	if (total == 0)
	{
		*recall = 1.0f;
		return 1;
	}
	/* the fewest hits whose share reaches the target */
	need = (int64_t) ceil(target * (double) total);
	while (need > 1 && (double) (need - 1) / (double) total >= target)
		need--;
	if (need < 1)
		need = 1;
	if (need > total)
		need = total;
	probes = pos[first + need - 1] + 1;
	if (probes > lists)
		probes = lists;
	/* every entry of a list before that one is found, ties included */
	hits = need;
	while (first + hits < n && pos[first + hits] < probes)
		hits++;
	*recall = (float) ((double) hits / (double) total);
	return probes;
}
