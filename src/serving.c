/*
 * serving.c
 *		Numeric code behind the serving functions: top-N selection over score rows
 *		(with exclusions, candidates, popularity fallback, cosine), the fold-in
 *		least-squares solves and the blocked SGEMM scorer of recommend_all.
 *
 * Plain C (no PostgreSQL headers): nothing here allocates, raises errors or
 * looks at a Datum.  RecBatchChunk runs on worker threads.  The SQL-facing side
 * is recommend.c; the model layout and its cache are model.h and cache.c.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "serving.h"
#include "solver.h"
#include "kernels.h"

/* Binary search in a sorted int32 array */
bool
RecSortedContains(const int32_t *a, int64_t n, int32_t x)
{
	int64_t		lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (a[mid] < x)
			lo = mid + 1;
		else if (a[mid] > x)
			hi = mid - 1;
		else
			return true;
	}
	return false;
}

/*
 * The score every path computes for one item, written once so single-user,
 * candidate and batch scoring round alike: dot + (base + b_i), base being
 * mu + b_u for explicit models and 0 for implicit ones.
 */
static inline float
ItemScore(float dot, const float *item_bias, int32_t i, float base)
{
	return item_bias ? dot + (base + item_bias[i]) : dot + base;
}

/* The score a new entry must reach (ties then go by index), -inf while not full */
static inline float
HeapFloor(const TopNHeap *h)
{
	return h->size < h->cap ? -INFINITY : h->score[0];
}

/* elements checked at once against the heap's floor */
#define SCAN_CHUNK	64

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang_analyzer__)
#define SCAN_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SCAN_CLONES
#endif

/*
 * s[j] = s[j] + (base + item_bias[j]) for one chunk: turns dot products into
 * scores in place, rounding exactly as ItemScore does.  The fixed trip count
 * lets the compiler vectorise it at -O2.
 */
SCAN_CLONES
static void
AddChunkOffsets(float *restrict s, const float *restrict item_bias, float base)
{
	if (item_bias)
		for (int j = 0; j < SCAN_CHUNK; j++)
			s[j] = s[j] + (base + item_bias[j]);
	else
		for (int j = 0; j < SCAN_CHUNK; j++)
			s[j] = s[j] + base;
}

/* Whether any of s[0 .. SCAN_CHUNK) reaches floor (one vectorised pass) */
SCAN_CLONES
static bool
ChunkReaches(const float *s, float floor)
{
	int			any = 0;

	for (int j = 0; j < SCAN_CHUNK; j++)
		any |= (s[j] >= floor);
	return any != 0;
}

/*
 * Pushes items first .. first + n - 1 whose dot products are dots[0 .. n-1]
 * (overwritten with the scores).  Once the heap is full, a chunk whose best
 * score is below the n-th best so far costs one vectorised pass.  With item_of,
 * row i stands for item item_of[i] (gathered candidates) as far as b is
 * concerned; the heap keeps row numbers.
 */
static void
SelectRow(TopNHeap *h, float *dots, const float *item_bias, float base,
		  int32_t first, int32_t n, const RecBlocked *b, const int32_t *item_of)
{
	for (int32_t j0 = 0; j0 < n; j0 += SCAN_CHUNK)
	{
		int32_t		end = n - j0 < SCAN_CHUNK ? n : j0 + SCAN_CHUNK;
		float		floor = HeapFloor(h);

		if (end - j0 == SCAN_CHUNK)
		{
			AddChunkOffsets(dots + j0, item_bias ? item_bias + first + j0 : NULL, base);
			if (h->size == h->cap && !ChunkReaches(dots + j0, floor))
				continue;
		}
		else
			for (int32_t j = j0; j < end; j++)
				dots[j] = ItemScore(dots[j], item_bias, first + j, base);
		for (int32_t j = j0; j < end; j++)
		{
			int32_t		i = first + j;
			float		s = dots[j];

			if (s < floor || !TopNWouldEnter(h, s, i))
				continue;
			if (b && RecIsBlocked(b, item_of ? item_of[i] : i))
				continue;
			TopNPush(h, s, i);
			floor = HeapFloor(h);
		}
	}
}

/* RecIsBlocked as the fused kernel's skip callback */
static bool
BlockedSkip(const void *arg, int32_t i)
{
	return RecIsBlocked((const RecBlocked *) arg, i);
}

/*
 * Ranks the whole catalogue for the user vector x with the fused kernel: one
 * pass over the item factors, no score array.  False if a score was not finite.
 */
bool
RecSelectFactors(TopNHeap *h, const float *Y, int k, const float *x,
				 const float *item_bias, float offset, int32_t n_items,
				 const RecBlocked *b)
{
	bool		any = b && (b->n_seen > 0 || b->n_exclude > 0);

	return KernDotTopN(h, Y, n_items, k, x, item_bias, offset,
					   any ? BlockedSkip : NULL, b);
}

/*
 * Offers items first + j, j in [from, to), of a row of dot products, one by one
 * (the body of BatchSelectRow for a block that may hold an entry)
 */
static inline void
SelectSpan(TopNHeap *h, const float *dots, const float *item_bias, float base,
		   int32_t first, int32_t from, int32_t to, const RecBlocked *b,
		   const int32_t *item_of, const int32_t *row_id)
{
	float		floor = HeapFloor(h);

	for (int32_t j = from; j < to; j++)
	{
		int32_t		i = first + j;
		int32_t		id = row_id ? row_id[i] : i;
		float		s = ItemScore(dots[j], item_bias, i, base);

		if (!(s >= floor) || !TopNWouldEnter(h, s, id))
			continue;
		if (b && RecIsBlocked(b, item_of ? item_of[id] : id))
			continue;
		TopNPush(h, s, id);
		floor = HeapFloor(h);
	}
}

/*
 * Offers the items of block c (KERN_BLOCK items from j0 = c * KERN_BLOCK) that
 * reach the heap's floor, found with one vector compare
 */
static inline void
SelectBlock(TopNHeap *h, const float *dots, const float *item_bias, const float *bias,
			float base, int32_t first, int32_t j0, const RecBlocked *b,
			const int32_t *item_of, const int32_t *row_id)
{
	float		floor = HeapFloor(h);
	uint64_t	bits = KernBlockAbove(dots + j0, bias ? bias + j0 : NULL, base, floor);

	while (bits)
	{
		int32_t		j = j0 + __builtin_ctzll(bits);
		int32_t		i = first + j;
		int32_t		id = row_id ? row_id[i] : i;
		float		sc = ItemScore(dots[j], item_bias, i, base);

		bits &= bits - 1;
		if (!(sc >= floor) || !TopNWouldEnter(h, sc, id))
			continue;
		if (b && RecIsBlocked(b, item_of ? item_of[id] : id))
			continue;
		TopNPush(h, sc, id);
		floor = HeapFloor(h);
	}
}

/*
 * SelectRow for recommend_all, without writing the scores back.  bmax[c] is
 * the largest item bias of block c of the row (KERN_BLOCK items; unused
 * without biases) and bound scratch for as many floats.  Every block gets the
 * bound dmax + (base + bmax): float sums round monotonically, so no score of
 * the block exceeds it (a NaN bound never skips).  The block with the best
 * bound goes first, so that the heap's floor rises at once, then the others in
 * order, skipping those whose bound is below the floor of a full heap.  The
 * heap keeps the best entries by (score desc, index asc) whatever order they
 * come in, so the result is the one SelectRow gives.  With row_id, row i is
 * entered as row_id[i] (rows in bound order, ids in index order).
 */
static void
BatchSelectRow(TopNHeap *h, const float *dots, const float *item_bias, float base,
			   int32_t first, int32_t n, const RecBlocked *b, const int32_t *item_of,
			   const float *bmax, float *bound, const int32_t *row_id)
{
	int32_t		blocks = n / KERN_BLOCK;
	const float *bias = item_bias ? item_bias + first : NULL;
	int32_t		best = -1;
	float		best_bound = -INFINITY;

	KernBlockMax(dots, blocks, bound);
	for (int32_t c = 0; c < blocks; c++)
	{
		float		v = bias ? bound[c] + (base + bmax[c]) : bound[c] + base;

		bound[c] = v;
		if (!(v <= best_bound))
		{
			best = c;
			best_bound = isnan(v) ? INFINITY : v;
		}
	}
	if (best >= 0)
		SelectBlock(h, dots, item_bias, bias, base, first, best * KERN_BLOCK, b, item_of,
					row_id);
	for (int32_t c = 0; c < blocks; c++)
	{
		if (c == best || (h->size == h->cap && bound[c] < h->score[0]))
			continue;
		SelectBlock(h, dots, item_bias, bias, base, first, c * KERN_BLOCK, b, item_of,
					row_id);
	}
	SelectSpan(h, dots, item_bias, base, first, blocks * KERN_BLOCK, n, b, item_of, row_id);
}

void
RecSelectDense(TopNHeap *h, float *dots, const float *item_bias, float offset,
			   int32_t n_items, const RecBlocked *b)
{
	SelectRow(h, dots, item_bias, offset, 0, n_items, b, NULL);
}

bool
RecSelectCandidates(TopNHeap *h, const float *x, const float *Y, int k,
					const float *item_bias, float offset,
					const int32_t *cand, int64_t n_cand, const RecBlocked *b)
{
	bool		finite = true;

	for (int64_t c = 0; c < n_cand; c++)
	{
		int32_t		i = cand[c];
		float		s = ItemScore(KernDot(x, Y + (int64_t) i * k, k), item_bias, i, offset);

		finite &= isfinite(s) != 0;
		if (TopNWouldEnter(h, s, i) && !RecIsBlocked(b, i))
			TopNPush(h, s, i);
	}
	return finite;
}

bool
RecSelectDenseCandidates(TopNHeap *h, const float *dots, const float *item_bias,
						 float offset, const int32_t *cand, int64_t n_cand,
						 const RecBlocked *b)
{
	bool		finite = true;
	float		floor = HeapFloor(h);

	for (int64_t c = 0; c < n_cand; c++)
	{
		int32_t		i = cand[c];
		float		s = ItemScore(dots[i], item_bias, i, offset);

		finite &= isfinite(s) != 0;
		if (s < floor || !TopNWouldEnter(h, s, i) || RecIsBlocked(b, i))
			continue;
		TopNPush(h, s, i);
		floor = HeapFloor(h);
	}
	return finite;
}

/* One pass with a single flag, so the compiler can vectorise it */
bool
RecAllFinite(const float *x, int64_t n)
{
	int			bad = 0;

	for (int64_t i = 0; i < n; i++)
		bad |= !(fabsf(x[i]) <= FLT_MAX);
	return bad == 0;
}

/*
 * The order is already best first, so the first cap unblocked items are the
 * answer: this touches O(n + blocked) items, not the catalogue.
 */
void
RecSelectPopular(TopNHeap *h, const int32_t *order, const int32_t *count,
				 int32_t n_items, const RecBlocked *b)
{
	for (int32_t r = 0; r < n_items && h->size < h->cap; r++)
	{
		int32_t		i = order[r];

		if (b && RecIsBlocked(b, i))
			continue;
		TopNPush(h, (float) count[i], i);
	}
}

void
RecSelectPopularCandidates(TopNHeap *h, const int32_t *count,
						   const int32_t *cand, int64_t n_cand, const RecBlocked *b)
{
	for (int64_t c = 0; c < n_cand; c++)
	{
		int32_t		i = cand[c];
		float		s = (float) count[i];

		if (TopNWouldEnter(h, s, i) && !RecIsBlocked(b, i))
			TopNPush(h, s, i);
	}
}

/* Rows with a zero norm have no direction: their cosine is taken as 0 */
void
RecSelectCosine(TopNHeap *h, const float *dots, const float *norms, int32_t n,
				int32_t self, const RecBlocked *b)
{
	float		ns = norms[self];
	float		floor = HeapFloor(h);

	for (int32_t j = 0; j < n; j++)
	{
		float		d = ns * norms[j];
		float		s = d > 0.0f ? dots[j] / d : 0.0f;

		if (j == self || s < floor || !TopNWouldEnter(h, s, j))
			continue;
		if (b && RecIsBlocked(b, j))
			continue;
		TopNPush(h, s, j);
		floor = HeapFloor(h);
	}
}

void
RecSelectCosineCandidates(TopNHeap *h, const float *M, int k, const float *norms,
						  int32_t self, const int32_t *cand, int64_t n_cand,
						  const RecBlocked *b)
{
	const float *x = M + (int64_t) self * k;
	float		ns = norms[self];

	for (int64_t c = 0; c < n_cand; c++)
	{
		int32_t		j = cand[c];
		float		d = ns * norms[j];
		float		s;

		if (j == self)
			continue;
		s = d > 0.0f ? KernDot(x, M + (int64_t) j * k, k) / d : 0.0f;
		if (TopNWouldEnter(h, s, j) && !(b && RecIsBlocked(b, j)))
			TopNPush(h, s, j);
	}
}

int64_t
RecIdsToIndexes(const int64_t *ids, int32_t n_ids, const int64_t *vals, int64_t n_vals,
				uint64_t *mark, int32_t *out)
{
	int64_t		n = 0;

	if (n_ids == 0)
		return 0;
	if (ids[n_ids - 1] - ids[0] == (int64_t) n_ids - 1)
	{
		/* sorted and unique, so the ids are ids[0] .. ids[0] + n_ids - 1 */
		uint64_t	span = (uint64_t) n_ids;

		for (int64_t j = 0; j < n_vals; j++)
		{
			uint64_t	i = (uint64_t) vals[j] - (uint64_t) ids[0];

			if (i < span)
				mark[i >> 6] |= UINT64_C(1) << (i & 63);
		}
	}
	else
	{
		for (int64_t j = 0; j < n_vals; j++)
		{
			int32_t		lo = 0,
						len = n_ids;

			/* branch-free lower bound: the loop runs log2(n_ids) times */
			while (len > 1)
			{
				int32_t		half = len / 2;

				lo = ids[lo + half - 1] < vals[j] ? lo + half : lo;
				len -= half;
			}
			if (ids[lo] == vals[j])
				mark[lo >> 6] |= UINT64_C(1) << (lo & 63);
		}
	}
	/* the marked indexes in order, clearing the marks on the way */
	for (int32_t w = 0; w <= (n_ids - 1) >> 6; w++)
	{
		uint64_t	bits = mark[w];

		mark[w] = 0;
		while (bits)
		{
			out[n++] = (w << 6) + __builtin_ctzll(bits);
			bits &= bits - 1;
		}
	}
	return n;
}

void
RecRowNorms(const float *M, int64_t n, int k, float *norms)
{
	for (int64_t r = 0; r < n; r++)
		norms[r] = sqrtf(KernNormSquared(M + r * k, k));
}

/*
 * Sorts (count desc, index asc) as one int64 key per item: the high half is
 * INT32_MAX - count, the low half the index.  key is scratch for n_items int64s.
 */
void
RecPopularityOrder(const int32_t *count, int32_t n_items, int32_t *order, int64_t *key)
{
	for (int32_t i = 0; i < n_items; i++)
	{
		int64_t		c = count[i] < 0 ? 0 : count[i];

		key[i] = ((int64_t) (INT32_MAX - c) << 32) | (int64_t) i;
	}
	qsort(key, (size_t) n_items, sizeof(int64_t), RecCompareInt64);
	for (int32_t i = 0; i < n_items; i++)
		order[i] = (int32_t) (key[i] & 0xFFFFFFFF);
}

/*
 * Solves the symmetric positive definite d x d system A z = rhs in place,
 * factored as the ALS fit factors its rows (RecCholeskyLower)
 */
static bool
SolveSpd(float *A, float *rhs, int d)
{
	int			info = 0;
	int			one = 1;

	if (RecCholeskyLower(A, d, d) != 0)
		return false;
	spotrs_("L", &d, &one, A, &d, rhs, &d, &info);
	return info == 0;
}

/*
 * Solves A z = rhs (d x d, both filled) for a fold-in, telling an overflow (a
 * non-finite number in the system or the solution) apart from a singular system.
 */
static int
SolveFoldIn(float *A, float *rhs, int d)
{
	if (!RecAllFinite(A, (int64_t) d * d) || !RecAllFinite(rhs, d))
		return RECSYS_FOLDIN_OVERFLOW;
	if (!SolveSpd(A, rhs, d))
		return RECSYS_FOLDIN_SINGULAR;
	if (!RecAllFinite(rhs, d))
		return RECSYS_FOLDIN_OVERFLOW;
	return RECSYS_FOLDIN_OK;
}

/*
 * The explicit fold-in system: A (d x d, full) and rhs as RecFoldInExplicit
 * describes, d = k + 1 with biases.  Also the system whose inverse splits a
 * folded-in score into terms (RecFoldInTermsExplicit).
 */
static int
ExplicitSystem(const float *Y, int k, const float *item_bias, float mu,
			   const int32_t *items, const float *values, int64_t n, float lambda,
			   float *A, float *rhs)
{
	int			d = item_bias ? k + 1 : k;
	float		reg = lambda * (float) n;

	memset(A, 0, sizeof(float) * ((int64_t) d * d));
	memset(rhs, 0, sizeof(float) * d);
	for (int64_t e = 0; e < n; e++)
	{
		const float *y = Y + (int64_t) items[e] * k;
		float		t = values[e] - mu - (item_bias ? item_bias[items[e]] : 0.0f);

		/* lower triangle of a a' with a = [y; 1], and a * t */
		for (int r = 0; r < k; r++)
		{
			for (int c = 0; c <= r; c++)
				A[(int64_t) r * d + c] += y[r] * y[c];
			rhs[r] += y[r] * t;
		}
		if (item_bias)
		{
			for (int c = 0; c < k; c++)
				A[(int64_t) k * d + c] += y[c];
			A[(int64_t) k * d + k] += 1.0f;
			rhs[k] += t;
		}
	}
	for (int r = 0; r < d; r++)
	{
		A[(int64_t) r * d + r] += reg;
		for (int c = 0; c < r; c++)
			A[(int64_t) c * d + r] = A[(int64_t) r * d + c];
	}
	return d;
}

int
RecFoldInExplicit(const float *Y, int k, const float *item_bias, float mu,
				  const int32_t *items, const float *values, int64_t n,
				  float lambda, float *x, float *bias, float *work)
{
	float	   *A = work;
	float	   *rhs;
	int			d = item_bias ? k + 1 : k;
	int			status;

	memset(x, 0, sizeof(float) * k);
	if (bias)
		*bias = 0.0f;
	if (n == 0)
		return RECSYS_FOLDIN_OK;

	rhs = work + (int64_t) d * d;
	ExplicitSystem(Y, k, item_bias, mu, items, values, n, lambda, A, rhs);
	if ((status = SolveFoldIn(A, rhs, d)) != RECSYS_FOLDIN_OK)
		return status;
	memcpy(x, rhs, sizeof(float) * k);
	if (bias && item_bias)
		*bias = rhs[k];
	return RECSYS_FOLDIN_OK;
}

/* The terms of an explicit fold-in score (serving.h): one solve with [y_i; 1] */
int
RecFoldInTermsExplicit(const float *Y, int k, const float *item_bias, float mu,
					   const int32_t *items, const float *values, int64_t n,
					   float lambda, int32_t target, float *terms, float *work)
{
	int			d = item_bias ? k + 1 : k;
	float	   *A = work;
	float	   *z = work + (int64_t) d * d;
	int			status;

	if (n == 0)
		return RECSYS_FOLDIN_OK;
	ExplicitSystem(Y, k, item_bias, mu, items, values, n, lambda, A, z);

	/* z = A^-1 [y_target; 1] (A is symmetric), then term_j = t_j a_j' z */
	memcpy(z, Y + (int64_t) target * k, sizeof(float) * k);
	if (item_bias)
		z[k] = 1.0f;
	if ((status = SolveFoldIn(A, z, d)) != RECSYS_FOLDIN_OK)
		return status;
	for (int64_t e = 0; e < n; e++)
	{
		float		t = values[e] - mu - (item_bias ? item_bias[items[e]] : 0.0f);
		float		a = KernDot(Y + (int64_t) items[e] * k, z, k) + (item_bias ? z[k] : 0.0f);

		terms[e] = t * a;
	}
	return RecAllFinite(terms, n) ? RECSYS_FOLDIN_OK : RECSYS_FOLDIN_OVERFLOW;
}

/*
 * The implicit fold-in system: A = Y'Y + sum d_i y_i y_i' + lambda_u I (k x k,
 * full) and rhs = sum (1 + d_i) p_i y_i, as RecFoldInImplicit describes.
 */
static void
ImplicitSystem(const float *Y, const float *gram, int k, const int32_t *items,
			   const float *values, int64_t n, const RecImplicitWeights *w,
			   float *A, float *rhs)
{
	double		sum_d = 0.0;
	float		lambda;

	for (int64_t e = 0; e < n; e++)
		sum_d += IalsConfidenceExcess(w->confidence, w->alpha, w->epsilon, values[e]);
	lambda = IalsRowLambda(w->lambda, w->reg_exponent, (double) w->n_items, sum_d);
	memcpy(A, gram, sizeof(float) * k * k);
	memset(rhs, 0, sizeof(float) * k);
	for (int r = 0; r < k; r++)
		A[(int64_t) r * k + r] += lambda;
	for (int64_t e = 0; e < n; e++)
	{
		const float *y = Y + (int64_t) items[e] * k;
		float		c = 1.0f + IalsConfidenceExcess(w->confidence, w->alpha, w->epsilon,
													values[e]);

		for (int r = 0; r < k; r++)
			for (int q = 0; q < k; q++)
				A[(int64_t) r * k + q] += (c - 1.0f) * y[r] * y[q];
		if (values[e] > 0.0f)
			KernAxpy(k, c, y, rhs);
	}
}

int
RecFoldInImplicit(const float *Y, const float *gram, int k,
				  const int32_t *items, const float *values, int64_t n,
				  const RecImplicitWeights *w, float *x, float *work)
{
	float	   *A = work;
	float	   *rhs = work + (int64_t) k * k;
	int			status;

	ImplicitSystem(Y, gram, k, items, values, n, w, A, rhs);
	if ((status = SolveFoldIn(A, rhs, k)) != RECSYS_FOLDIN_OK)
	{
		memset(x, 0, sizeof(float) * k);
		return status;
	}
	memcpy(x, rhs, sizeof(float) * k);
	return RECSYS_FOLDIN_OK;
}

/* The terms of an implicit fold-in score (serving.h): one solve with y_i */
int
RecFoldInTermsImplicit(const float *Y, const float *gram, int k,
					   const int32_t *items, const float *values, int64_t n,
					   const RecImplicitWeights *w, int32_t target, float *terms,
					   float *work)
{
	float	   *A = work;
	float	   *z = work + (int64_t) k * k;
	int			status;

	ImplicitSystem(Y, gram, k, items, values, n, w, A, z);

	/* z = A^-1 y_target (A is symmetric), then term_j = c_j p_j y_j' z */
	memcpy(z, Y + (int64_t) target * k, sizeof(float) * k);
	if ((status = SolveFoldIn(A, z, k)) != RECSYS_FOLDIN_OK)
		return status;
	for (int64_t e = 0; e < n; e++)
	{
		float		c = 1.0f + IalsConfidenceExcess(w->confidence, w->alpha, w->epsilon,
													values[e]);

		terms[e] = values[e] > 0.0f ? c * KernDot(Y + (int64_t) items[e] * k, z, k) : 0.0f;
	}
	return RecAllFinite(terms, n) ? RECSYS_FOLDIN_OK : RECSYS_FOLDIN_OVERFLOW;
}

/*
 * Whether batch row user u gets the popular items: unknown (-1), or on a model
 * whose scores are x.y alone a row of zeros (no preference to rank by)
 */
static inline bool
BatchCold(const RecBatch *bt, int32_t u)
{
	if (u < 0)
		return true;
	if (!bt->zero_fallback)
		return false;
	for (int d = 0; d < bt->k; d++)
		if (bt->X[(int64_t) u * bt->k + d] != 0.0f)
			return false;
	return true;
}

/* --- recommend_all with tiles in bound order ------------------------------------- */

/* Rounds a size up to a multiple of 16 bytes */
#define ALIGN16(x)	(((x) + 15) & ~(size_t) 15)

/* A row and the key it is sorted by */
typedef struct BatchKey
{
	double		key;
	int32_t		row;
} BatchKey;

/* qsort comparator: larger key first, then lower row; a NaN key sorts first */
static int
BatchKeyCmp(const void *a, const void *b)
{
	const BatchKey *x = (const BatchKey *) a;
	const BatchKey *y = (const BatchKey *) b;
	double		kx = isnan(x->key) ? INFINITY : x->key;
	double		ky = isnan(y->key) ? INFINITY : y->key;

	if (kx != ky)
		return kx > ky ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

/* qsort comparator for doubles, ascending */
static int
DoubleCmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* The Euclidean norm of a float vector, summed in double */
static double
NormDouble(const float *x, int k)
{
	double		s = 0.0;

	for (int d = 0; d < k; d++)
		s += (double) x[d] * x[d];
	return sqrt(s);
}

size_t
RecBatchSortBytes(int32_t n_items, int k, int tile)
{
	int32_t		n_tiles = (n_items + tile - 1) / tile;

	return ALIGN16(sizeof(double) * ((size_t) n_tiles * (RECSYS_BATCH_GRID + 2) + n_items)) +
		ALIGN16(sizeof(BatchKey) * (size_t) n_items) +
		ALIGN16(sizeof(float) * (size_t) n_items * (k + 1)) +
		ALIGN16(sizeof(int32_t) * (size_t) n_items);
}

/*
 * Sorts bt's rows (Y, item_bias, n_items, k and tile set) by nu |y_i| + b_i,
 * nu the median norm of (up to 1,024 of) the run's users, the score bound of a
 * typical user, so that the tiles a user needs come first; then the score
 * envelope of each tile: E_t(x) = max over its items of x |y_i| + b_i at
 * RECSYS_BATCH_GRID points of x up to the largest sampled norm.  E_t is convex,
 * so between grid points the chord bounds it, and beyond the last one its
 * largest slope does.
 */
void
RecBatchSort(RecBatch *bt, void *mem, const int32_t *users, int64_t n_users)
{
	int			k = bt->k;
	int32_t		n = bt->n_items;
	int32_t		n_tiles = (n + bt->tile - 1) / bt->tile;
	char	   *p = (char *) mem;
	double	   *env = (double *) p;
	double	   *tile_norm = env + (size_t) n_tiles * RECSYS_BATCH_GRID;
	double	   *tile_absb = tile_norm + n_tiles;
	double	   *norm = tile_absb + n_tiles;
	BatchKey   *keys;
	float	   *Ys;
	float	   *bias_s;
	int32_t    *row_src;
	double		sample[1024];
	int			n_sample = 0;
	double		nu,
				x_max = 0.0;
	int64_t		stride = n_users / 1024 + 1;

	p += ALIGN16(sizeof(double) * ((size_t) n_tiles * (RECSYS_BATCH_GRID + 2) + n));
	keys = (BatchKey *) p;
	p += ALIGN16(sizeof(BatchKey) * (size_t) n);
	Ys = (float *) p;
	bias_s = Ys + (size_t) n * k;
	p += ALIGN16(sizeof(float) * (size_t) n * (k + 1));
	row_src = (int32_t *) p;

	/* the sampled users' norms: their median orders the rows, their largest spans the grid */
	for (int64_t r = 0; r < n_users && n_sample < 1024; r += stride)
		if (users[r] >= 0)
		{
			double		x = NormDouble(bt->X + (int64_t) users[r] * k, k);

			if (isfinite(x))
			{
				sample[n_sample++] = x;
				x_max = x > x_max ? x : x_max;
			}
		}
	if (n_sample > 0)
	{
		qsort(sample, n_sample, sizeof(double), DoubleCmp);
		nu = sample[n_sample / 2];
	}
	else
		nu = 1.0;
	bt->grid_step = x_max > 0.0 ? x_max / (RECSYS_BATCH_GRID - 1) : 1.0;

	for (int32_t i = 0; i < n; i++)
	{
		norm[i] = NormDouble(bt->Y + (int64_t) i * k, k);
		keys[i].key = nu * norm[i] + (bt->item_bias ? bt->item_bias[i] : 0.0);
		keys[i].row = i;
	}
	qsort(keys, n, sizeof(BatchKey), BatchKeyCmp);

	bt->all_norm = 0.0;
	bt->all_absb = 0.0;
	for (int32_t t = 0; t < n_tiles; t++)
	{
		double	   *g = env + (size_t) t * RECSYS_BATCH_GRID;

		for (int j = 0; j < RECSYS_BATCH_GRID; j++)
			g[j] = -INFINITY;
		tile_norm[t] = 0.0;
		tile_absb[t] = 0.0;
	}
	for (int32_t s = 0; s < n; s++)
	{
		int32_t		i = keys[s].row;
		int32_t		t = s / bt->tile;
		double	   *g = env + (size_t) t * RECSYS_BATCH_GRID;
		double		b = bt->item_bias ? bt->item_bias[i] : 0.0;

		memcpy(Ys + (int64_t) s * k, bt->Y + (int64_t) i * k, sizeof(float) * k);
		bias_s[s] = (float) b;
		row_src[s] = i;
		/* NaN stays NaN in the maxima (a comparison alone would drop it) */
		for (int j = 0; j < RECSYS_BATCH_GRID; j++)
		{
			double		v = (j * bt->grid_step) * norm[i] + b;

			g[j] = isnan(v) || v > g[j] ? v : g[j];
		}
		if (isnan(norm[i]) || norm[i] > tile_norm[t])
			tile_norm[t] = norm[i];
		if (isnan(b) || fabs(b) > tile_absb[t])
			tile_absb[t] = fabs(b);
	}
	for (int32_t t = 0; t < n_tiles; t++)
	{
		if (!(tile_norm[t] <= bt->all_norm))
			bt->all_norm = tile_norm[t];
		if (!(tile_absb[t] <= bt->all_absb))
			bt->all_absb = tile_absb[t];
	}

	/*
	 * A float dot product of length k is within gamma_k = k u / (1 - k u) of
	 * |x||y| of the exact one (u = 2^-24), whatever the summation order; the
	 * two float adds of the score add 2 u of its terms.  Doubled for room.
	 */
	bt->rel = 2.0 * (k + 8) * ldexp(1.0, -24);
	bt->Ys = Ys;
	bt->bias_s = bt->item_bias ? bias_s : NULL;
	bt->row_src = row_src;
	bt->n_tiles = n_tiles;
	bt->env = env;
	bt->tile_norm = tile_norm;
	bt->tile_absb = tile_absb;
}

/*
 * A pool a little longer than n: each entry costs heap work on every user, and
 * a pool that overflows within the margin only sends that user to the full
 * scan (n + 2 measured fastest for n = 10 on the benchmark model)
 */
int
RecBatchPoolCap(int n)
{
	return n + 2 + n / 16;
}

size_t
RecBatchScratchBytes(int block, int k, int pcap)
{
	return ALIGN16(sizeof(TopNHeap) * block) +
		ALIGN16(sizeof(int64_t) * (size_t) block * pcap) +
		ALIGN16(sizeof(double) * block) +
		ALIGN16(sizeof(float) * ((size_t) block * (k + 1 + pcap))) +
		ALIGN16(sizeof(int) * block);
}

/*
 * The largest SGEMM score (float dot + (base + b_i)) user norm x can give an
 * item of tile t: the envelope's chord (or its largest slope beyond the grid)
 * plus base, plus the rounding margin.  NaN when anything is not finite, so the
 * caller's "bound < floor" never skips then.
 */
static inline double
TileBound(const RecBatch *bt, int32_t t, double x, float base)
{
	const double *g = bt->env + (size_t) t * RECSYS_BATCH_GRID;
	double		pos = x / bt->grid_step;
	double		v;

	if (pos < RECSYS_BATCH_GRID - 1)
	{
		int			j = (int) pos;

		v = g[j] + (g[j + 1] - g[j]) * (pos - j);
	}
	else
		v = g[RECSYS_BATCH_GRID - 1] +
			bt->tile_norm[t] * (x - (RECSYS_BATCH_GRID - 1) * bt->grid_step);
	return v + base + bt->rel * (x * bt->tile_norm[t] + fabs(base) + bt->tile_absb[t]) +
		1e-30;
}

/*
 * Sorted row s's score as the single-user scan computes it: KernDotTopN hands
 * rows to KernRowDots in windows of SCAN_ROWS from row 0, where groups of four
 * rows round alike and the last rows % 4 of the matrix go one by one; so the
 * row's group of four is scored again the same way.
 */
static inline float
ExactScore(const RecBatch *bt, int32_t row, const float *x, float base)
{
	int32_t		g = row & ~3;
	int			m = bt->n_items - g < 4 ? bt->n_items - g : 4;
	float		d[4];

	KernRowDots(bt->Y + (int64_t) g * bt->k, m, bt->k, x, d);
	return ItemScore(d[row - g], bt->item_bias, row, base);
}

/* What user u (an index, or -1 for an unknown user) may not be given in a batch */
static inline RecBlocked
BatchBlocked(const RecBatch *bt, int32_t u)
{
	RecBlocked	blocked = {NULL, 0, bt->exclude, bt->n_exclude};

	if (u >= 0 && bt->seen_ptr)
	{
		blocked.seen = bt->seen_items + bt->seen_ptr[u];
		blocked.n_seen = bt->seen_ptr[u + 1] - bt->seen_ptr[u];
	}
	return blocked;
}

/* A blocked check for KernDotTopN over rows that stand for item_of[row] */
typedef struct BatchSkip
{
	const RecBlocked *b;
	const int32_t *item_of;
} BatchSkip;

/* KernDotTopN's skip callback for BatchSkip */
static bool
BatchSkipRow(const void *arg, int32_t i)
{
	const BatchSkip *s = (const BatchSkip *) arg;

	return RecIsBlocked(s->b, s->item_of ? s->item_of[i] : i);
}

/*
 * Turns one user's pool (SGEMM scores) into its final n best (out, empty): the
 * n-th best pool score T and the pool's margin D (twice the largest difference
 * between an SGEMM score and the exact one) tell which entries could be in the
 * exact top n: those at or above T - D.  If the pool may have lost such an
 * entry (it is full and its last one reaches T - D), the user is ranked again
 * by the single-user scan over all rows.
 */
static void
BatchFinish(const RecBatch *bt, TopNHeap *pool, TopNHeap *out, const float *x,
			double xnorm, float base, const RecBlocked *blocked)
{
	int			size = TopNSortDesc(pool);
	double		thr = -INFINITY;

	if (size >= bt->n)
		thr = (double) pool->score[bt->n - 1] -
			4.0 * bt->rel * (xnorm * bt->all_norm + fabs(base) + bt->all_absb) - 1e-30;
	if (size == pool->cap && !((double) pool->score[size - 1] < thr))
	{
		bool		any = blocked->n_seen > 0 || blocked->n_exclude > 0;
		BatchSkip	skip = {blocked, bt->item_of};

		KernDotTopN(out, bt->Y, bt->n_items, bt->k, x, bt->item_bias, base,
					any ? BatchSkipRow : NULL, &skip);
		return;
	}
	for (int j = 0; j < size && (double) pool->score[j] >= thr; j++)
	{
		int32_t		row = (int32_t) pool->id[j];

		TopNPush(out, ExactScore(bt, row, x, base), row);
	}
}

/*
 * The known users of one chunk (rows xb, chunk rows qrow[q]) against the tiles
 * in bound order: per tile, the users whose bound reaches their pool's floor
 * are gathered and multiplied; then each pool is finished into the user's heap.
 */
static void
BatchSortedTiles(RecBatch *bt, int thread, int64_t begin, const float *xb, int known,
				 const int *qrow_in, TopNHeap *heaps)
{
	int			k = bt->k;
	float	   *cb = bt->cb[thread];
	float	   *bm = bt->bm ? bt->bm[thread] : NULL;
	char	   *p = (char *) bt->scratch[thread];
	TopNHeap   *pools = (TopNHeap *) p;
	int64_t    *pid;
	double	   *xnorm;
	float	   *base,
			   *xa,
			   *pscore;
	int		   *active;

	p += ALIGN16(sizeof(TopNHeap) * bt->block);
	pid = (int64_t *) p;
	p += ALIGN16(sizeof(int64_t) * (size_t) bt->block * bt->pcap);
	xnorm = (double *) p;
	p += ALIGN16(sizeof(double) * bt->block);
	base = (float *) p;
	xa = base + bt->block;
	pscore = xa + (size_t) bt->block * k;
	p += ALIGN16(sizeof(float) * ((size_t) bt->block * (k + 1 + bt->pcap)));
	active = (int *) p;

	for (int q = 0; q < known; q++)
	{
		int32_t		u = bt->users[begin + qrow_in[q]];

		xnorm[q] = NormDouble(xb + (int64_t) q * k, k);
		base[q] = bt->mu + (bt->user_bias ? bt->user_bias[u] : 0.0f);
		TopNInit(&pools[q], bt->pcap, pscore + (size_t) q * bt->pcap,
				 pid + (size_t) q * bt->pcap);
	}

	for (int32_t t = 0; t < bt->n_tiles; t++)
	{
		int32_t		t0 = t * bt->tile;
		int			tn = bt->n_items - t0 < bt->tile ? bt->n_items - t0 : bt->tile;
		int			na = 0;
		const float *xs = xb;

		for (int q = 0; q < known; q++)
			if (pools[q].size < pools[q].cap ||
				!(TileBound(bt, t, xnorm[q], base[q]) < (double) pools[q].score[0]))
				active[na++] = q;
		if (na == 0)
			continue;
		if (bt->pairs)
			bt->pairs[thread] += na;
		if (na < known)
		{
			for (int a = 0; a < na; a++)
				memcpy(xa + (int64_t) a * k, xb + (int64_t) active[a] * k, sizeof(float) * k);
			xs = xa;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, na, tn, k,
					1.0f, xs, k, bt->Ys + (int64_t) t0 * k, k, 0.0f, cb, tn);
		if (bm && bt->bias_s)
			KernBlockMax(bt->bias_s + t0, tn / KERN_BLOCK, bm);
		for (int a = 0; a < na; a++)
		{
			int			q = active[a];
			int32_t		u = bt->users[begin + qrow_in[q]];
			RecBlocked	blocked = BatchBlocked(bt, u);
			if (bm)
				BatchSelectRow(&pools[q], cb + (int64_t) a * tn, bt->bias_s, base[q], t0, tn,
							   &blocked, bt->item_of, bm, bm + tn / KERN_BLOCK + 1,
							   bt->row_src);
			else
				SelectSpan(&pools[q], cb + (int64_t) a * tn, bt->bias_s, base[q], t0, 0, tn,
						   &blocked, bt->item_of, bt->row_src);
		}
	}

	for (int q = 0; q < known; q++)
	{
		int32_t		u = bt->users[begin + qrow_in[q]];
		RecBlocked	blocked = BatchBlocked(bt, u);
		BatchFinish(bt, &pools[q], &heaps[qrow_in[q]], xb + (int64_t) q * k, xnorm[q],
					base[q], &blocked);
	}
}

/*
 * One chunk of recommend_all: users begin .. end - 1 of the round (at most
 * `block` of them).  Known users are gathered into xb and scored tile by tile
 * with one SGEMM each; every user's heap lives in its slice of the output.
 * Unknown users, and on an implicit model users whose row is zero (a content
 * user whose items have no features), get the popularity fallback, as
 * recommend gives them.  Runs on a worker thread.
 */
int
RecBatchChunk(void *ctx, int thread, int64_t begin, int64_t end)
{
	RecBatch   *bt = (RecBatch *) ctx;
	int			k = bt->k;
	float	   *xb = bt->xb[thread];
	float	   *cb = bt->cb[thread];
	TopNHeap   *heaps = bt->heaps[thread];
	float	   *bm = bt->bm ? bt->bm[thread] : NULL;
	int			nb = (int) (end - begin);
	int			known = 0;
	int			qrow[RECSYS_BATCH_MAX_BLOCK];	/* chunk row of each known user */

	if (nb > bt->block || nb > RECSYS_BATCH_MAX_BLOCK)
		return RECSYS_EINVAL;	/* chunking does not match the set-up */

	for (int r = 0; r < nb; r++)
	{
		int64_t		row = begin + r;
		int32_t		u = bt->users[row];
		bool		cold = BatchCold(bt, u);

		TopNInit(&heaps[r], bt->n, bt->out_score + row * bt->n, bt->out_item + row * bt->n);
		if (bt->out_fallback)
			bt->out_fallback[row] = cold;
		if (cold)
		{
			/* a known user's seen items stay excluded from the popular ones */
			RecBlocked	blocked = BatchBlocked(bt, u);

			if (bt->item_of)
				RecSelectPopularCandidates(&heaps[r], bt->item_count, bt->item_of,
										   bt->n_cand, &blocked);
			else
				RecSelectPopular(&heaps[r], bt->popular, bt->item_count, bt->n_items,
								 &blocked);
		}
		else
		{
			qrow[known] = r;
			memcpy(xb + (int64_t) known++ * k, bt->X + (int64_t) u * k, sizeof(float) * k);
		}
	}

	if (bt->Ys && known > 0)
		BatchSortedTiles(bt, thread, begin, xb, known, qrow, heaps);
	else if (bt->scan)
		for (int q = 0; q < known; q++)
		{
			int32_t		u = bt->users[begin + qrow[q]];
			RecBlocked	blocked = BatchBlocked(bt, u);
			BatchSkip	skip = {&blocked, bt->item_of};

			KernDotTopN(&heaps[qrow[q]], bt->Y, bt->n_items, k, xb + (int64_t) q * k,
						bt->item_bias, bt->mu + (bt->user_bias ? bt->user_bias[u] : 0.0f),
						blocked.n_seen > 0 || blocked.n_exclude > 0 ? BatchSkipRow : NULL,
						&skip);
		}
	for (int32_t t0 = 0; !bt->Ys && !bt->scan && known > 0 && t0 < bt->n_items; t0 += bt->tile)
	{
		int			tn = bt->n_items - t0 < bt->tile ? bt->n_items - t0 : bt->tile;
		int			q = 0;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, known, tn, k,
					1.0f, xb, k, bt->Y + (int64_t) t0 * k, k, 0.0f, cb, tn);
		/* the tile's largest item bias per block, for BatchSelectRow's bounds */
		if (bm && bt->item_bias)
			KernBlockMax(bt->item_bias + t0, tn / KERN_BLOCK, bm);
		for (int r = 0; r < nb; r++)
		{
			int32_t		u = bt->users[begin + r];
			RecBlocked	blocked;
			float		base;
			float	   *row;

			if (BatchCold(bt, u))
				continue;
			row = cb + (int64_t) q++ * tn;
			blocked = BatchBlocked(bt, u);
			base = bt->mu + (bt->user_bias ? bt->user_bias[u] : 0.0f);
			if (bm)
				BatchSelectRow(&heaps[r], row, bt->item_bias, base, t0, tn, &blocked,
							   bt->item_of, bm, bm + tn / KERN_BLOCK + 1, NULL);
			else
				SelectRow(&heaps[r], row, bt->item_bias, base, t0, tn, &blocked,
						  bt->item_of);
		}
	}

	for (int r = 0; r < nb; r++)
	{
		int			kept = TopNSortDesc(&heaps[r]);

		/* gathered rows back to items (popular picks already are items) */
		if (bt->item_of && !BatchCold(bt, bt->users[begin + r]))
			for (int j = 0; j < kept; j++)
				heaps[r].id[j] = bt->item_of[heaps[r].id[j]];
		bt->out_count[begin + r] = kept;
	}
	return 0;
}
