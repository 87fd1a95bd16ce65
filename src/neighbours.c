/*
 * neighbours.c
 *		What the neighbourhood fits (knn.c, ease.c) share: candidate neighbours
 *		packed into sortable 64-bit keys, the selection of a row's best k, the
 *		normalisation of a row's weights, and the compaction of per-row slots into
 *		the neighbour CSR.
 *
 * Everything here works on one row at a time and runs on whichever thread owns
 * that row; it allocates nothing.  The orders used are strict total orders (the
 * index breaks every tie), so the kept set and its order are unique and do not
 * depend on the selection algorithm's path.
 */
#include <math.h>
#include <string.h>

#include "neighbours.h"

/* below this many entries a row is sorted by insertion */
#define NB_INSERTION_SORT	48

/* radix digit width for the LSD sort of packed keys */
#define NB_RADIX_BITS	11
#define NB_RADIX_SIZE	(1 << NB_RADIX_BITS)

/* Maps float bits to an unsigned key that orders like the float (for non-NaN) */
static inline uint32_t
FloatOrderKey(float f)
{
	uint32_t	bits;

	memcpy(&bits, &f, sizeof(bits));
	return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

/* Inverse of FloatOrderKey */
static inline float
FloatFromOrderKey(uint32_t key)
{
	uint32_t	bits = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
	float		f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/*
 * Packs (weight, idx): the high half is the complement of the weight's order key,
 * so ascending packed order is weight descending, then idx ascending.
 */
uint64_t
RecPackNeighbour(float weight, int32_t idx)
{
	return ((uint64_t) (~FloatOrderKey(weight)) << 32) | (uint32_t) idx;
}

/* The weight of a packed candidate */
float
RecUnpackWeight(uint64_t packed)
{
	return FloatFromOrderKey(~(uint32_t) (packed >> 32));
}

/* Sorts a[0..n) ascending by insertion (short or nearly sorted runs) */
static void
InsertionSort(uint64_t *a, int64_t n)
{
	int64_t		i;

	for (i = 1; i < n; i++)
	{
		uint64_t	v = a[i];
		int64_t		j = i;

		while (j > 0 && a[j - 1] > v)
		{
			a[j] = a[j - 1];
			j--;
		}
		a[j] = v;
	}
}

/* Restores the max-heap order of a[0..n) below entry i (HeapSort) */
static void
SiftDown(uint64_t *a, int64_t i, int64_t n)
{
	for (;;)
	{
		int64_t		l = 2 * i + 1;
		int64_t		big = i;
		uint64_t	t;

		if (l < n && a[l] > a[big])
			big = l;
		if (l + 1 < n && a[l + 1] > a[big])
			big = l + 1;
		if (big == i)
			return;
		t = a[i];
		a[i] = a[big];
		a[big] = t;
		i = big;
	}
}

/* Sorts a[0..n) ascending in O(n log n) whatever the input */
static void
HeapSort(uint64_t *a, int64_t n)
{
	int64_t		i;

	for (i = n / 2 - 1; i >= 0; i--)
		SiftDown(a, i, n);
	for (i = n - 1; i > 0; i--)
	{
		uint64_t	t = a[0];

		a[0] = a[i];
		a[i] = t;
		SiftDown(a, 0, i);
	}
}

/*
 * Rearranges a[0..n) so that a[0..k) hold its k smallest values (in no order):
 * quickselect with a median-of-three pivot, falling back to a heap sort of the
 * remaining range if the partitions stop shrinking (a hostile input).
 */
static void
SelectSmallest(uint64_t *a, int64_t n, int64_t k)
{
	int64_t		lo = 0;
	int64_t		hi = n - 1;
	int			budget = 2 * 64;

	while (hi - lo > NB_INSERTION_SORT)
	{
		uint64_t	x = a[lo];
		uint64_t	y = a[lo + (hi - lo) / 2];
		uint64_t	z = a[hi];
		uint64_t	pivot;
		int64_t		i = lo;
		int64_t		j = hi;

		if (--budget < 0)
		{
			HeapSort(a + lo, hi - lo + 1);
			return;
		}
		/* the median of x, y, z */
		pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
		while (i <= j)
		{
			uint64_t	t;

			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j)
			{
				t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		/* now a[lo..j] <= pivot <= a[i..hi], and j < i */
		if (k <= j)
			hi = j;
		else if (k > i)
			lo = i;
		else
			return;
	}
	InsertionSort(a + lo, hi - lo + 1);
}

/*
 * Sorts a[0..n) ascending as plain integers: LSD radix sort on 11-bit digits,
 * skipping digits every key shares (the high bits of small indexes), insertion
 * sort for short rows.  tmp has room for n keys.
 */
static void
RadixSort(uint64_t *a, int64_t n, uint64_t *tmp)
{
	uint32_t	count[NB_RADIX_SIZE];
	uint64_t   *src = a;
	uint64_t   *dst = tmp;
	int			shift;
	int64_t		i;

	if (n <= NB_INSERTION_SORT)
	{
		InsertionSort(a, n);
		return;
	}
	for (shift = 0; shift < 64; shift += NB_RADIX_BITS)
	{
		uint32_t	sum = 0;
		uint64_t   *t;
		int			d;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & (NB_RADIX_SIZE - 1)]++;
		if (count[(src[0] >> shift) & (NB_RADIX_SIZE - 1)] == (uint32_t) n)
			continue;			/* one digit value: this pass would not move anything */
		for (d = 0; d < NB_RADIX_SIZE; d++)
		{
			uint32_t	c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & (NB_RADIX_SIZE - 1)]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, sizeof(uint64_t) * (size_t) n);
}

/*
 * Keeps the best k of the n packed candidates in cand[0..k), sorted weight
 * descending then index ascending: the k smallest packed values (quickselect),
 * then sorted (radix).  tmp has room for n keys.  Returns min(n, k).
 */
int64_t
RecKeepBest(uint64_t *cand, int64_t n, int64_t k, uint64_t *tmp)
{
	if (k < 0)
		k = 0;
	if (n > k)
		SelectSmallest(cand, n, k);
	else
		k = n;
	RadixSort(cand, k, tmp);
	return k;
}

/* Writes the n sorted candidates to idx/weight */
void
RecUnpackNeighbours(const uint64_t *cand, int64_t n, int32_t *idx, float *weight)
{
	int64_t		i;

	for (i = 0; i < n; i++)
	{
		idx[i] = (int32_t) (uint32_t) cand[i];
		weight[i] = RecUnpackWeight(cand[i]);
	}
}

/*
 * Scales a sorted row's weights so that sum |w| = 1 (the sum taken in row order,
 * in double).  Scaling by a positive factor keeps the order but may create ties,
 * which are then put back in index order.  Returns false (row unchanged) if the
 * sum is zero or not finite.
 */
bool
RecNormalizeNeighbours(int32_t *idx, float *weight, int64_t n)
{
	double		sum = 0.0;
	int64_t		i;

	for (i = 0; i < n; i++)
		sum += fabs((double) weight[i]);
	if (!(sum > 0.0) || !isfinite(sum))
		return false;
	for (i = 0; i < n; i++)
		weight[i] = (float) ((double) weight[i] / sum);
	/* equal weights after rounding: restore index order among them */
	for (i = 1; i < n; i++)
	{
		float		w = weight[i];
		int32_t		x = idx[i];
		int64_t		j = i;

		while (j > 0 && weight[j - 1] == w && idx[j - 1] > x)
		{
			weight[j] = weight[j - 1];
			idx[j] = idx[j - 1];
			j--;
		}
		weight[j] = w;
		idx[j] = x;
	}
	return true;
}

/*
 * Turns per-row slots into the CSR: on entry row r's ptr[r + 1] entries sit at
 * r * stride; on return ptr holds offsets and the rows are contiguous.  Rows only
 * move towards the front, in row order, so memmove in place is safe.
 */
void
RecCompactNeighbours(RecNeighbours *out, int64_t n_rows, int64_t stride)
{
	int64_t		at = 0;
	int64_t		r;

	out->ptr[0] = 0;
	for (r = 0; r < n_rows; r++)
	{
		int64_t		count = out->ptr[r + 1];
		int64_t		from = r * stride;

		if (count > 0 && from != at)
		{
			memmove(out->idx + at, out->idx + from, sizeof(int32_t) * (size_t) count);
			memmove(out->weight + at, out->weight + from, sizeof(float) * (size_t) count);
		}
		at += count;
		out->ptr[r + 1] = at;
	}
}
