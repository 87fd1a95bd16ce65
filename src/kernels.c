/*
 * kernels.c
 *		Dense float kernels (dot products, distances, norms, axpy), the fused
 *		dot-and-select scan of single-user serving and the bounded top-N heap used
 *		by the vec type, the solvers and the serving code.
 *
 * Every kernel exists three times: with AVX-512 intrinsics, with AVX2 + FMA
 * intrinsics and in portable C.  A constructor picks one set for the CPU when
 * the library is loaded (function pointers), so one build is fast everywhere and
 * nobody needs -march=native.  The vector versions keep several independent
 * accumulators per sum (an FMA's latency is hidden behind the others) and end
 * with a shuffle tree, never with a run of dependent scalar adds; sums are
 * ordered differently from a scalar loop, so results agree with it within float
 * rounding, not bit for bit.
 *
 * Plain C: no PostgreSQL headers, no allocation, safe to call from any thread.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang_analyzer__)
#define KERN_X86 1
#include <immintrin.h>
#define KERN_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))
#define KERN_AVX2 __attribute__((target("avx2,fma")))
#endif

/* rows scored before their scores are checked against the heap at once */
#define SCAN_ROWS	64

/* One implementation of every kernel */
typedef struct KernImpl
{
	const char *name;
	float		(*dot) (const KernUFloat *a, const KernUFloat *b, int n);
	float		(*l2sq) (const KernUFloat *a, const KernUFloat *b, int n);
	float		(*norm2) (const KernUFloat *a, int n);
	void		(*dotnorms) (const KernUFloat *a, const KernUFloat *b, int n,
							 float *dot, float *na2, float *nb2);
	double		(*cosine) (const KernUFloat *a, const KernUFloat *b, int n);
	void		(*axpy) (int n, float alpha, const float *x, float *y);
	void		(*rowdots) (const float *Y, const int32_t *idx, int rows, int k,
							const float *x, float *out);
	void		(*blockmax) (const float *x, int blocks, float *out);
	uint64_t	(*blockabove) (const float *x, const float *bias, float base,
							   float floor);
	void		(*uniform) (uint64_t state, int n, double scale, float *out);
	bool		(*syrk) (const float *B, int k, int m, float *A, int lda, bool first);
	int			(*cholesky) (float *A, int n, int lda);
} KernImpl;

/*
 * Below SMALL_N elements every kernel sums in order, one element after the
 * other: a vector pass gains little there, and short vectors (the factors of
 * small models, small embeddings) round as a plain loop does, with a fused
 * multiply-add per element where the CPU has one (MADD below).
 */
#define SMALL_N		16

/* a·b summed in order */
#define DOT_SEQ(MADD, a, b, n) \
	do { \
		float		s_ = 0.0f; \
		for (int i_ = 0; i_ < (n); i_++) \
			s_ = MADD((a)[i_], (b)[i_], s_); \
		return s_; \
	} while (0)

/* |a - b|² summed in order */
#define L2_SEQ(MADD, a, b, n) \
	do { \
		float		s_ = 0.0f; \
		for (int i_ = 0; i_ < (n); i_++) \
		{ \
			float		d_ = (a)[i_] - (b)[i_]; \
			s_ = MADD(d_, d_, s_); \
		} \
		return s_; \
	} while (0)

/* a·b, |a|², |b|² summed in order */
#define DOTNORMS_SEQ(MADD, a, b, n, dot, na2, nb2) \
	do { \
		float		ab_ = 0.0f, aa_ = 0.0f, bb_ = 0.0f; \
		for (int i_ = 0; i_ < (n); i_++) \
		{ \
			ab_ = MADD((a)[i_], (b)[i_], ab_); \
			aa_ = MADD((a)[i_], (a)[i_], aa_); \
			bb_ = MADD((b)[i_], (b)[i_], bb_); \
		} \
		*(dot) = ab_; *(na2) = aa_; *(nb2) = bb_; \
		return; \
	} while (0)

/* x * y + z, rounded twice (portable C) or once (an FMA instruction) */
#define MADD_PLAIN(x, y, z)	((z) + (x) * (y))
#define MADD_FUSED(x, y, z)	__builtin_fmaf((x), (y), (z))

#define MADD MADD_PLAIN

/*
 * Cosine similarity from float sums.  A sum that overflowed or fell below the
 * normal float range (a zero vector among them) cannot be trusted: the three
 * sums are then redone in double (CosineExact), so every pair of finite
 * vectors gets a right answer.  Both paths round the final division alike.
 */

/* d / sqrt(x y) kept in [-1, 1] (rounding can push it a hair past) */
static inline double
CosineOfSums(double d, double x, double y)
{
	double		sim = d / sqrt(x * y);

	return sim > 1.0 ? 1.0 : (sim < -1.0 ? -1.0 : sim);
}

/* The cosine similarity with every sum in double; NaN for a zero vector */
__attribute__((noinline, cold))
static double
CosineExact(const KernUFloat *a, const KernUFloat *b, int n)
{
	double		d = 0.0,
				x = 0.0,
				y = 0.0;

	for (int i = 0; i < n; i++)
	{
		d += (double) a[i] * b[i];
		x += (double) a[i] * a[i];
		y += (double) b[i] * b[i];
	}
	if (x == 0.0 || y == 0.0)
		return NAN;
	return CosineOfSums(d, x, y);
}

/* The cosine similarity of a and b from their float sums ab, aa, bb */
static inline __attribute__((always_inline)) double
CosineFinish(float ab, float aa, float bb, const KernUFloat *a, const KernUFloat *b, int n)
{
	if (__builtin_expect(!KernSumTrusted(aa) || !KernSumTrusted(bb) ||
						 (!KernSumTrusted(ab) && ab != 0.0f), 0))
		return CosineExact(a, b, n);
	return CosineOfSums(ab, aa, bb);
}

/*
 * Portable C.  Eight partial sums, one per lane of a short vector, that the
 * compiler keeps in registers; they are combined pairwise at the end.
 */

/* Combines eight partial sums pairwise */
static inline float
Sum8(const float *s)
{
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* a·b in portable C */
static float
DotC(const KernUFloat *a, const KernUFloat *b, int n)
{
	float		s[8] = {0};
	int			i = 0;

	if (n < SMALL_N)
		DOT_SEQ(MADD, a, b, n);
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			s[j] += a[i + j] * b[i + j];
	for (; i < n; i++)
		s[i & 7] += a[i] * b[i];
	return Sum8(s);
}

/* |a - b|² in portable C */
static float
L2SquaredC(const KernUFloat *a, const KernUFloat *b, int n)
{
	float		s[8] = {0};
	int			i = 0;

	if (n < SMALL_N)
		L2_SEQ(MADD, a, b, n);
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
		{
			float		d = a[i + j] - b[i + j];

			s[j] += d * d;
		}
	for (; i < n; i++)
		s[i & 7] += (a[i] - b[i]) * (a[i] - b[i]);
	return Sum8(s);
}

/* |a|² in portable C */
static float
NormSquaredC(const KernUFloat *a, int n)
{
	return DotC(a, a, n);
}

/* a·b, |a|², |b|² in one pass, portable C */
static inline __attribute__((always_inline)) void
DotNormsC(const KernUFloat *a, const KernUFloat *b, int n, float *dot, float *na2, float *nb2)
{
	float		ab[8] = {0};
	float		aa[8] = {0};
	float		bb[8] = {0};
	int			i = 0;

	if (n < SMALL_N)
		DOTNORMS_SEQ(MADD, a, b, n, dot, na2, nb2);
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
		{
			ab[j] += a[i + j] * b[i + j];
			aa[j] += a[i + j] * a[i + j];
			bb[j] += b[i + j] * b[i + j];
		}
	for (; i < n; i++)
	{
		ab[i & 7] += a[i] * b[i];
		aa[i & 7] += a[i] * a[i];
		bb[i & 7] += b[i] * b[i];
	}
	*dot = Sum8(ab);
	*na2 = Sum8(aa);
	*nb2 = Sum8(bb);
}

/* Cosine similarity in portable C: one pass, then the shared finish */
static double
CosineC(const KernUFloat *a, const KernUFloat *b, int n)
{
	float		ab,
				aa,
				bb;

	DotNormsC(a, b, n, &ab, &aa, &bb);
	return CosineFinish(ab, aa, bb, a, b, n);
}

/* y += alpha * x in portable C */
static void
AxpyC(int n, float alpha, const float *x, float *y)
{
	for (int i = 0; i < n; i++)
		y[i] += alpha * x[i];
}

/*
 * out[r] = Y_row·x for the rows r of the row-major k-column matrix Y, or for the
 * rows idx[r] when idx is not NULL, portable C
 */
static void
RowDotsC(const float *Y, const int32_t *idx, int rows, int k, const float *x, float *out)
{
	for (int r = 0; r < rows; r++)
		out[r] = DotC(Y + (size_t) (idx ? idx[r] : r) * k, x, k);
}

/*
 * out[b] = the largest of x[b * KERN_BLOCK .. (b + 1) * KERN_BLOCK), or NaN if
 * the block holds a NaN, in portable C
 */
static void
BlockMaxC(const float *x, int blocks, float *out)
{
	for (int b = 0; b < blocks; b++)
	{
		float		m = -INFINITY;
		int			nan = 0;

		for (int j = 0; j < KERN_BLOCK; j++)
		{
			float		v = x[b * KERN_BLOCK + j];

			m = v > m ? v : m;
			nan |= v != v;
		}
		out[b] = nan ? NAN : m;
	}
}

/*
 * Bit j set when x[j] + (base + bias[j]) (bias NULL: x[j] + base) reaches
 * floor, for j < KERN_BLOCK, in portable C
 */
static uint64_t
BlockAboveC(const float *x, const float *bias, float base, float floor)
{
	uint64_t	bits = 0;

	for (int j = 0; j < KERN_BLOCK; j++)
	{
		float		s = bias ? x[j] + (base + bias[j]) : x[j] + base;

		bits |= (uint64_t) (s >= floor) << j;
	}
	return bits;
}

#ifdef KERN_X86

#undef MADD
#define MADD MADD_FUSED

/*
 * AVX-512.  Masked loads read the last partial vector without touching memory
 * past the end.
 */

/* The mask of the first m (< 16) lanes */
KERN_AVX512
static inline __mmask16
Tail16(int m)
{
	return (__mmask16) ((1u << m) - 1);
}

/* Sum of the 16 lanes of v by a shuffle tree */
KERN_AVX512
static inline float
HSum512(__m512 v)
{
	__m256		h = _mm256_add_ps(_mm512_castps512_ps256(v),
								  _mm512_extractf32x8_ps(v, 1));
	__m128		q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));

	q = _mm_add_ps(q, _mm_movehl_ps(q, q));
	q = _mm_add_ss(q, _mm_movehdup_ps(q));
	return _mm_cvtss_f32(q);
}

/* a·b with AVX-512 */
KERN_AVX512
static float
Dot512(const KernUFloat *a, const KernUFloat *b, int n)
{
	__m512		s0 = _mm512_setzero_ps(),
				s1 = _mm512_setzero_ps(),
				s2 = _mm512_setzero_ps(),
				s3 = _mm512_setzero_ps();
	int			i = 0;

	if (n < SMALL_N)
		DOT_SEQ(MADD, a, b, n);
	for (; i + 64 <= n; i += 64)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < n)
	{
		__mmask16	m = Tail16(n - i);

		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
							 _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return HSum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* |a - b|² with AVX-512 */
KERN_AVX512
static float
L2Squared512(const KernUFloat *a, const KernUFloat *b, int n)
{
	__m512		s0 = _mm512_setzero_ps(),
				s1 = _mm512_setzero_ps(),
				s2 = _mm512_setzero_ps(),
				s3 = _mm512_setzero_ps();
	__m512		d;
	int			i = 0;

	if (n < SMALL_N)
		L2_SEQ(MADD, a, b, n);
	for (; i + 64 <= n; i += 64)
	{
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		s1 = _mm512_fmadd_ps(d, d, s1);
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
		s2 = _mm512_fmadd_ps(d, d, s2);
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
		s3 = _mm512_fmadd_ps(d, d, s3);
	}
	for (; i + 16 <= n; i += 16)
	{
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	if (i < n)
	{
		__mmask16	m = Tail16(n - i);

		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_fmadd_ps(d, d, s1);
	}
	return HSum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* |a|² with AVX-512 */
KERN_AVX512
static float
NormSquared512(const KernUFloat *a, int n)
{
	return Dot512(a, a, n);
}

/* a·b, |a|², |b|² in one pass with AVX-512: two accumulators per sum */
KERN_AVX512
static inline __attribute__((always_inline)) void
DotNorms512(const KernUFloat *a, const KernUFloat *b, int n, float *dot, float *na2, float *nb2)
{
	__m512		ab0 = _mm512_setzero_ps(),
				ab1 = _mm512_setzero_ps(),
				aa0 = _mm512_setzero_ps(),
				aa1 = _mm512_setzero_ps(),
				bb0 = _mm512_setzero_ps(),
				bb1 = _mm512_setzero_ps();
	__m512		x,
				y;
	int			i = 0;

	if (n < SMALL_N)
		DOTNORMS_SEQ(MADD, a, b, n, dot, na2, nb2);
	for (; i + 32 <= n; i += 32)
	{
		x = _mm512_loadu_ps(a + i);
		y = _mm512_loadu_ps(b + i);
		ab0 = _mm512_fmadd_ps(x, y, ab0);
		aa0 = _mm512_fmadd_ps(x, x, aa0);
		bb0 = _mm512_fmadd_ps(y, y, bb0);
		x = _mm512_loadu_ps(a + i + 16);
		y = _mm512_loadu_ps(b + i + 16);
		ab1 = _mm512_fmadd_ps(x, y, ab1);
		aa1 = _mm512_fmadd_ps(x, x, aa1);
		bb1 = _mm512_fmadd_ps(y, y, bb1);
	}
	if (i < n)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xFFFF : Tail16(n - i);

		x = _mm512_maskz_loadu_ps(m, a + i);
		y = _mm512_maskz_loadu_ps(m, b + i);
		ab0 = _mm512_fmadd_ps(x, y, ab0);
		aa0 = _mm512_fmadd_ps(x, x, aa0);
		bb0 = _mm512_fmadd_ps(y, y, bb0);
		i += 16;
		if (i < n)
		{
			m = Tail16(n - i);
			x = _mm512_maskz_loadu_ps(m, a + i);
			y = _mm512_maskz_loadu_ps(m, b + i);
			ab1 = _mm512_fmadd_ps(x, y, ab1);
			aa1 = _mm512_fmadd_ps(x, x, aa1);
			bb1 = _mm512_fmadd_ps(y, y, bb1);
		}
	}
	*dot = HSum512(_mm512_add_ps(ab0, ab1));
	*na2 = HSum512(_mm512_add_ps(aa0, aa1));
	*nb2 = HSum512(_mm512_add_ps(bb0, bb1));
}

/* Cosine similarity with AVX-512: one pass, then the shared finish */
KERN_AVX512
static double
Cosine512(const KernUFloat *a, const KernUFloat *b, int n)
{
	float		ab,
				aa,
				bb;

	DotNorms512(a, b, n, &ab, &aa, &bb);
	return CosineFinish(ab, aa, bb, a, b, n);
}

/* y += alpha * x with AVX-512 */
KERN_AVX512
static void
Axpy512(int n, float alpha, const float *x, float *y)
{
	__m512		a = _mm512_set1_ps(alpha);
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, _mm512_fmadd_ps(a, _mm512_loadu_ps(x + i),
												_mm512_loadu_ps(y + i)));
	if (i < n)
	{
		__mmask16	m = Tail16(n - i);

		_mm512_mask_storeu_ps(y + i, m,
							  _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m, x + i),
											  _mm512_maskz_loadu_ps(m, y + i)));
	}
}

/*
 * The sums of four accumulators at once: lane i of the result is the sum of
 * the 16 lanes of s_i (a transposing shuffle tree, cheaper than four sums)
 */
KERN_AVX512
static inline __m128
HSum512x4(__m512 s0, __m512 s1, __m512 s2, __m512 s3)
{
	/* per 128-bit lane: [s0 s1 s0 s1] and [s2 s3 s2 s3] pair sums */
	__m512		t01 = _mm512_add_ps(_mm512_unpacklo_ps(s0, s1), _mm512_unpackhi_ps(s0, s1));
	__m512		t23 = _mm512_add_ps(_mm512_unpacklo_ps(s2, s3), _mm512_unpackhi_ps(s2, s3));
	/* per 128-bit lane: [s0 s1 s2 s3] */
	__m512		t = _mm512_add_ps(_mm512_shuffle_ps(t01, t23, 0x44),
								  _mm512_shuffle_ps(t01, t23, 0xEE));
	__m256		h = _mm256_add_ps(_mm512_castps512_ps256(t), _mm512_extractf32x8_ps(t, 1));

	return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/*
 * Row dot products for k <= 64 with NV = ceil(k / 16) vectors per row (a
 * constant in each caller, so the loop over vectors unrolls): four rows at a
 * time, so four independent FMA chains are in flight, x held in registers.
 * With idx the rows are Y's rows idx[0 .. rows), scattered.
 */
KERN_AVX512
static inline __attribute__((always_inline)) void
RowDots512Small(const float *Y, const int32_t *idx, int rows, int k, const float *x,
				float *out, const int NV)
{
	__m512		xv[4];
	int			tail = k - 16 * (NV - 1);	/* lanes of the last vector, 1 .. 16 */
	__mmask16	last = tail < 16 ? Tail16(tail) : (__mmask16) 0xFFFF;
	int			r = 0;

	for (int v = 0; v < NV; v++)
		xv[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : (__mmask16) 0xFFFF, x + 16 * v);
	for (; r + 4 <= rows; r += 4)
	{
		const float *y0 = Y + (size_t) (idx ? idx[r] : r) * k;
		const float *y1 = idx ? Y + (size_t) idx[r + 1] * k : y0 + k;
		const float *y2 = idx ? Y + (size_t) idx[r + 2] * k : y0 + 2 * k;
		const float *y3 = idx ? Y + (size_t) idx[r + 3] * k : y0 + 3 * k;
		__m512		s0 = _mm512_setzero_ps(),
					s1 = _mm512_setzero_ps(),
					s2 = _mm512_setzero_ps(),
					s3 = _mm512_setzero_ps();

		/*
		 * four blocks ahead: the hardware prefetcher alone leaves DRAM idle
		 * (scattered rows: the four rows four groups ahead, as far as they go)
		 */
		if (idx == NULL)
			for (int l = 0; l < NV * 4; l++)
				_mm_prefetch((const char *) (y0 + 16 * k) + 64 * l, _MM_HINT_T0);
		else
			for (int q = r + 16; q < r + 20 && q < rows; q++)
				for (int l = 0; l < NV; l++)
					_mm_prefetch((const char *) (Y + (size_t) idx[q] * k) + 64 * l, _MM_HINT_T0);
		for (int v = 0; v < NV; v++)
		{
			__mmask16	m = v == NV - 1 ? last : (__mmask16) 0xFFFF;

			s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, y0 + 16 * v), xv[v], s0);
			s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, y1 + 16 * v), xv[v], s1);
			s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, y2 + 16 * v), xv[v], s2);
			s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, y3 + 16 * v), xv[v], s3);
		}
		_mm_storeu_ps(out + r, HSum512x4(s0, s1, s2, s3));
	}
	for (; r < rows; r++)
	{
		const float *y0 = Y + (size_t) (idx ? idx[r] : r) * k;
		__m512		s0 = _mm512_setzero_ps();

		for (int v = 0; v < NV; v++)
			s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(v == NV - 1 ? last : (__mmask16) 0xFFFF,
													   y0 + 16 * v), xv[v], s0);
		out[r] = HSum512(s0);
	}
}

/* Row dot products with AVX-512 (rows idx[r] when idx is not NULL) */
KERN_AVX512
static void
RowDots512(const float *Y, const int32_t *idx, int rows, int k, const float *x, float *out)
{
	if (k < SMALL_N || k > 64)
		for (int r = 0; r < rows; r++)
			out[r] = Dot512(Y + (size_t) (idx ? idx[r] : r) * k, x, k);
	else if (idx == NULL)
	{
		if (k <= 16)
			RowDots512Small(Y, NULL, rows, k, x, out, 1);
		else if (k <= 32)
			RowDots512Small(Y, NULL, rows, k, x, out, 2);
		else if (k <= 48)
			RowDots512Small(Y, NULL, rows, k, x, out, 3);
		else
			RowDots512Small(Y, NULL, rows, k, x, out, 4);
	}
	else if (k <= 16)
		RowDots512Small(Y, idx, rows, k, x, out, 1);
	else if (k <= 32)
		RowDots512Small(Y, idx, rows, k, x, out, 2);
	else if (k <= 48)
		RowDots512Small(Y, idx, rows, k, x, out, 3);
	else
		RowDots512Small(Y, idx, rows, k, x, out, 4);
}

/* Block maxima with AVX-512 (NaN for a block holding a NaN) */
KERN_AVX512
static void
BlockMax512(const float *x, int blocks, float *out)
{
	for (int b = 0; b < blocks; b++)
	{
		const float *p = x + (size_t) b * KERN_BLOCK;
		__m512		v0 = _mm512_loadu_ps(p),
					v1 = _mm512_loadu_ps(p + 16),
					v2 = _mm512_loadu_ps(p + 32),
					v3 = _mm512_loadu_ps(p + 48);
		__mmask16	nan = _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q) |
			_mm512_cmp_ps_mask(v2, v3, _CMP_UNORD_Q);
		__m512		m = _mm512_max_ps(_mm512_max_ps(v0, v1), _mm512_max_ps(v2, v3));
		__m256		h = _mm256_max_ps(_mm512_castps512_ps256(m), _mm512_extractf32x8_ps(m, 1));
		__m128		q = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));

		q = _mm_max_ps(q, _mm_movehl_ps(q, q));
		q = _mm_max_ss(q, _mm_movehdup_ps(q));
		out[b] = nan ? NAN : _mm_cvtss_f32(q);
	}
}

/* BlockAboveC with AVX-512: the same two roundings, four compares */
KERN_AVX512
static uint64_t
BlockAbove512(const float *x, const float *bias, float base, float floor)
{
	__m512		b = _mm512_set1_ps(base);
	__m512		f = _mm512_set1_ps(floor);
	uint64_t	bits = 0;

	for (int v = 0; v < KERN_BLOCK / 16; v++)
	{
		__m512		off = bias ? _mm512_add_ps(b, _mm512_loadu_ps(bias + 16 * v)) : b;
		__m512		s = _mm512_add_ps(_mm512_loadu_ps(x + 16 * v), off);

		bits |= (uint64_t) _mm512_cmp_ps_mask(s, f, _CMP_GE_OQ) << (16 * v);
	}
	return bits;
}

/*
 * AVX2 + FMA.  The last partial vector is read with a masked load (lanes past n
 * are not touched).
 */

/*
 * Unaligned loads of 8 floats, full or masked: through void * since the
 * distance kernels' input may sit at any address (KernUFloat)
 */
#define LoadU256(p)			_mm256_loadu_ps((const float *) (const void *) (p))
#define MaskLoad256(p, m)	_mm256_maskload_ps((const float *) (const void *) (p), (m))

/* The lane mask of the first m (< 8) lanes */
KERN_AVX2
static inline __m256i
Tail8(int m)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Sum of the 8 lanes of v by a shuffle tree */
KERN_AVX2
static inline float
HSum256(__m256 v)
{
	__m128		q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	q = _mm_add_ps(q, _mm_movehl_ps(q, q));
	q = _mm_add_ss(q, _mm_movehdup_ps(q));
	return _mm_cvtss_f32(q);
}

/* a·b with AVX2 */
KERN_AVX2
static float
Dot256(const KernUFloat *a, const KernUFloat *b, int n)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps(),
				s2 = _mm256_setzero_ps(),
				s3 = _mm256_setzero_ps();
	int			i = 0;

	if (n < SMALL_N)
		DOT_SEQ(MADD, a, b, n);
	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(LoadU256(a + i), LoadU256(b + i), s0);
		s1 = _mm256_fmadd_ps(LoadU256(a + i + 8), LoadU256(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(LoadU256(a + i + 16), LoadU256(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(LoadU256(a + i + 24), LoadU256(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(LoadU256(a + i), LoadU256(b + i), s0);
	if (i < n)
	{
		__m256i		m = Tail8(n - i);

		s1 = _mm256_fmadd_ps(MaskLoad256(a + i, m), MaskLoad256(b + i, m), s1);
	}
	return HSum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* |a - b|² with AVX2 */
KERN_AVX2
static float
L2Squared256(const KernUFloat *a, const KernUFloat *b, int n)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps(),
				s2 = _mm256_setzero_ps(),
				s3 = _mm256_setzero_ps();
	__m256		d;
	int			i = 0;

	if (n < SMALL_N)
		L2_SEQ(MADD, a, b, n);
	for (; i + 32 <= n; i += 32)
	{
		d = _mm256_sub_ps(LoadU256(a + i), LoadU256(b + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
		d = _mm256_sub_ps(LoadU256(a + i + 8), LoadU256(b + i + 8));
		s1 = _mm256_fmadd_ps(d, d, s1);
		d = _mm256_sub_ps(LoadU256(a + i + 16), LoadU256(b + i + 16));
		s2 = _mm256_fmadd_ps(d, d, s2);
		d = _mm256_sub_ps(LoadU256(a + i + 24), LoadU256(b + i + 24));
		s3 = _mm256_fmadd_ps(d, d, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		d = _mm256_sub_ps(LoadU256(a + i), LoadU256(b + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	if (i < n)
	{
		__m256i		m = Tail8(n - i);

		d = _mm256_sub_ps(MaskLoad256(a + i, m), MaskLoad256(b + i, m));
		s1 = _mm256_fmadd_ps(d, d, s1);
	}
	return HSum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* |a|² with AVX2 */
KERN_AVX2
static float
NormSquared256(const KernUFloat *a, int n)
{
	return Dot256(a, a, n);
}

/* a·b, |a|², |b|² in one pass with AVX2: two accumulators per sum */
KERN_AVX2
static inline __attribute__((always_inline)) void
DotNorms256(const KernUFloat *a, const KernUFloat *b, int n, float *dot, float *na2, float *nb2)
{
	__m256		ab0 = _mm256_setzero_ps(),
				ab1 = _mm256_setzero_ps(),
				aa0 = _mm256_setzero_ps(),
				aa1 = _mm256_setzero_ps(),
				bb0 = _mm256_setzero_ps(),
				bb1 = _mm256_setzero_ps();
	__m256		x,
				y;
	int			i = 0;

	if (n < SMALL_N)
		DOTNORMS_SEQ(MADD, a, b, n, dot, na2, nb2);
	for (; i + 16 <= n; i += 16)
	{
		x = LoadU256(a + i);
		y = LoadU256(b + i);
		ab0 = _mm256_fmadd_ps(x, y, ab0);
		aa0 = _mm256_fmadd_ps(x, x, aa0);
		bb0 = _mm256_fmadd_ps(y, y, bb0);
		x = LoadU256(a + i + 8);
		y = LoadU256(b + i + 8);
		ab1 = _mm256_fmadd_ps(x, y, ab1);
		aa1 = _mm256_fmadd_ps(x, x, aa1);
		bb1 = _mm256_fmadd_ps(y, y, bb1);
	}
	for (; i < n; i += 8)
	{
		__m256i		m = Tail8(n - i < 8 ? n - i : 8);

		x = MaskLoad256(a + i, m);
		y = MaskLoad256(b + i, m);
		ab0 = _mm256_fmadd_ps(x, y, ab0);
		aa0 = _mm256_fmadd_ps(x, x, aa0);
		bb0 = _mm256_fmadd_ps(y, y, bb0);
	}
	*dot = HSum256(_mm256_add_ps(ab0, ab1));
	*na2 = HSum256(_mm256_add_ps(aa0, aa1));
	*nb2 = HSum256(_mm256_add_ps(bb0, bb1));
}

/* Cosine similarity with AVX2: one pass, then the shared finish */
KERN_AVX2
static double
Cosine256(const KernUFloat *a, const KernUFloat *b, int n)
{
	float		ab,
				aa,
				bb;

	DotNorms256(a, b, n, &ab, &aa, &bb);
	return CosineFinish(ab, aa, bb, a, b, n);
}

/* y += alpha * x with AVX2 */
KERN_AVX2
static void
Axpy256(int n, float alpha, const float *x, float *y)
{
	__m256		a = _mm256_set1_ps(alpha);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, LoadU256(x + i),
												LoadU256(y + i)));
	for (; i < n; i++)
		y[i] += alpha * x[i];
}

/* Row dot products with AVX2, four rows at a time (rows idx[r] when idx is not NULL) */
KERN_AVX2
static void
RowDots256(const float *Y, const int32_t *idx, int rows, int k, const float *x, float *out)
{
	int			r = 0;
	int			kv = k & ~7;

	if (k < SMALL_N)
	{
		for (; r < rows; r++)
			out[r] = Dot256(Y + (size_t) (idx ? idx[r] : r) * k, x, k);
		return;
	}

	for (; r + 4 <= rows; r += 4)
	{
		const float *y0 = Y + (size_t) (idx ? idx[r] : r) * k;
		const float *y1 = idx ? Y + (size_t) idx[r + 1] * k : y0 + k;
		const float *y2 = idx ? Y + (size_t) idx[r + 2] * k : y0 + 2 * k;
		const float *y3 = idx ? Y + (size_t) idx[r + 3] * k : y0 + 3 * k;
		__m256		s0 = _mm256_setzero_ps(),
					s1 = _mm256_setzero_ps(),
					s2 = _mm256_setzero_ps(),
					s3 = _mm256_setzero_ps();
		int			c = 0;

		/* four blocks ahead, as RowDots512Small does */
		if (idx == NULL)
			for (int l = 0; l < k / 4; l++)
				_mm_prefetch((const char *) (y0 + 16 * k) + 64 * l, _MM_HINT_T0);
		else
			for (int q = r + 16; q < r + 20 && q < rows; q++)
				for (int l = 0; l < k; l += 16)
					_mm_prefetch((const char *) (Y + (size_t) idx[q] * k + l), _MM_HINT_T0);

		for (; c < kv; c += 8)
		{
			__m256		xv = LoadU256(x + c);

			s0 = _mm256_fmadd_ps(LoadU256(y0 + c), xv, s0);
			s1 = _mm256_fmadd_ps(LoadU256(y1 + c), xv, s1);
			s2 = _mm256_fmadd_ps(LoadU256(y2 + c), xv, s2);
			s3 = _mm256_fmadd_ps(LoadU256(y3 + c), xv, s3);
		}
		if (c < k)
		{
			__m256i		m = Tail8(k - c);
			__m256		xv = MaskLoad256(x + c, m);

			s0 = _mm256_fmadd_ps(MaskLoad256(y0 + c, m), xv, s0);
			s1 = _mm256_fmadd_ps(MaskLoad256(y1 + c, m), xv, s1);
			s2 = _mm256_fmadd_ps(MaskLoad256(y2 + c, m), xv, s2);
			s3 = _mm256_fmadd_ps(MaskLoad256(y3 + c, m), xv, s3);
		}
		out[r] = HSum256(s0);
		out[r + 1] = HSum256(s1);
		out[r + 2] = HSum256(s2);
		out[r + 3] = HSum256(s3);
	}
	for (; r < rows; r++)
		out[r] = Dot256(Y + (size_t) (idx ? idx[r] : r) * k, x, k);
}

/* Block maxima with AVX2 (NaN for a block holding a NaN) */
KERN_AVX2
static void
BlockMax256(const float *x, int blocks, float *out)
{
	for (int b = 0; b < blocks; b++)
	{
		const float *p = x + (size_t) b * KERN_BLOCK;
		__m256		m = LoadU256(p);
		__m256		nan = _mm256_cmp_ps(m, m, _CMP_UNORD_Q);

		for (int j = 8; j < KERN_BLOCK; j += 8)
		{
			__m256		v = LoadU256(p + j);

			nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
			m = _mm256_max_ps(m, v);
		}
		__m128		q = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));

		q = _mm_max_ps(q, _mm_movehl_ps(q, q));
		q = _mm_max_ss(q, _mm_movehdup_ps(q));
		out[b] = _mm256_movemask_ps(nan) ? NAN : _mm_cvtss_f32(q);
	}
}

/* BlockAboveC with AVX2 */
KERN_AVX2
static uint64_t
BlockAbove256(const float *x, const float *bias, float base, float floor)
{
	__m256		b = _mm256_set1_ps(base);
	__m256		f = _mm256_set1_ps(floor);
	uint64_t	bits = 0;

	for (int v = 0; v < KERN_BLOCK / 8; v++)
	{
		__m256		off = bias ? _mm256_add_ps(b, LoadU256(bias + 8 * v)) : b;
		__m256		s = _mm256_add_ps(LoadU256(x + 8 * v), off);

		bits |= (uint64_t) _mm256_movemask_ps(_mm256_cmp_ps(s, f, _CMP_GE_OQ)) << (8 * v);
	}
	return bits;
}

#endif							/* KERN_X86 */

/* KernUniform in plain C (also the AVX2 set's: AVX2 has no 64-bit multiply) */
static void
UniformPortable(uint64_t state, int n, double scale, float *out)
{
	for (int j = 0; j < n; j++)
	{
		double		u = (double) (KernSplitMix64(&state) >> 40) * (1.0 / 16777216.0);

		out[j] = (float) ((u - 0.5) * scale);
	}
}

#ifdef KERN_X86
/*
 * KernUniform on eight generator states at once: state + (j + 1) * gamma for
 * eight j, mixed with 64-bit multiplies; a product, a difference and a product
 * in double as the plain loop computes them (no fused multiply-add), so the
 * values are the same bit for bit
 */
KERN_AVX512
static void
Uniform512(uint64_t state, int n, double scale, float *out)
{
	const uint64_t gamma = UINT64_C(0x9E3779B97F4A7C15);
	const __m512i m1 = _mm512_set1_epi64((long long) UINT64_C(0xBF58476D1CE4E5B9));
	const __m512i m2 = _mm512_set1_epi64((long long) UINT64_C(0x94D049BB133111EB));
	const __m512i step = _mm512_set1_epi64((long long) (gamma * 8));
	const __m512d inv = _mm512_set1_pd(1.0 / 16777216.0);
	const __m512d half = _mm512_set1_pd(0.5);
	const __m512d sc = _mm512_set1_pd(scale);
	__m512i		s = _mm512_add_epi64(_mm512_set1_epi64((long long) state),
									 _mm512_mullo_epi64(_mm512_setr_epi64(1, 2, 3, 4, 5, 6, 7, 8),
														_mm512_set1_epi64((long long) gamma)));
	int			j = 0;

	for (; j + 8 <= n; j += 8)
	{
		__m512i		z = s;
		__m512d		u;

		z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), m1);
		z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), m2);
		z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
		u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(z, 40)), inv);
		_mm256_storeu_ps(out + j, _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(u, half), sc)));
		s = _mm512_add_epi64(s, step);
	}
	UniformPortable(state + (uint64_t) j * gamma, n - j, scale, out + j);
}
#endif

/* No rank update of our own: the callers use BLAS's SSYRK */
static bool
SyrkNone(const float *B, int k, int m, float *A, int lda, bool first)
{
	return false;
}

/* No Cholesky factorisation of our own: the callers use LAPACK's SPOTRF */
static int
CholeskyNone(float *A, int n, int lda)
{
	return -1;
}

#ifdef KERN_X86
/*
 * One 16 x NC tile of A's lower part with AVX-512, rows R .. R + 15 (mask rm)
 * and columns C .. C + NC - 1: plus (or, subtract, minus) the products of the
 * columns p < terms of X (leading dimension ldx), X[R.., p] X[C + c, p], summed
 * in order with one FMA each, into accumulators held in registers while X's
 * columns stream past; zero: the tile starts from 0, else from A.  Only entries
 * on or below A's diagonal are stored.  NC and subtract are constants in each
 * caller (the loops unroll, the sign is chosen at compile time).
 */
KERN_AVX512
static inline __attribute__((always_inline)) void
Tile512(const float *X, size_t ldx, int terms, float *A, int lda, int R, int C, __mmask16 rm,
		bool zero, const bool subtract, const int NC)
{
	__m512		acc[16];

	/* unrolled at any optimisation level: the accumulators must be registers */
	_Pragma("GCC unroll 16")
	for (int c = 0; c < NC; c++)
		acc[c] = zero ? _mm512_setzero_ps() :
			_mm512_maskz_loadu_ps(rm, A + (size_t) (C + c) * lda + R);
	for (int p = 0; p < terms; p++)
	{
		const float *col = X + (size_t) p * ldx;
		__m512		y = _mm512_maskz_loadu_ps(rm, col + R);

		_Pragma("GCC unroll 16")
		for (int c = 0; c < NC; c++)
			acc[c] = subtract ? _mm512_fnmadd_ps(y, _mm512_set1_ps(col[C + c]), acc[c]) :
				_mm512_fmadd_ps(y, _mm512_set1_ps(col[C + c]), acc[c]);
	}
	_Pragma("GCC unroll 16")
	for (int c = 0; c < NC; c++)
	{
		/* rows R + i with R + i >= C + c */
		int			skip = C + c - R;
		__mmask16	keep = skip <= 0 ? rm : skip >= 16 ? 0 : (__mmask16) (rm & (0xFFFFu << skip));

		_mm512_mask_storeu_ps(A + (size_t) (C + c) * lda + R, keep, acc[c]);
	}
}

/*
 * A += B B^T (first: A = B B^T) for the k x m column-major B (leading dimension
 * k), on A's lower triangle (column-major, leading dimension lda), as tiles of
 * 16 rows by 8 columns whose accumulators stay in registers while B streams
 * past (Tile512): SSYRK's product without its packing of B, its per-call
 * set-up and its locks, which cost more than the product itself on a row of 150
 * ratings and 64 factors (22 against 38 ns per column of B, measured).  Nothing
 * above the diagonal, or past k's rows or columns, is written.
 */
KERN_AVX512
static bool
Syrk512(const float *B, int k, int m, float *A, int lda, bool first)
{
	for (int r0 = 0; r0 < k; r0 += 16)
	{
		__mmask16	rm = k - r0 >= 16 ? (__mmask16) 0xFFFF : Tail16(k - r0);

		for (int c0 = 0; c0 < k && c0 < r0 + 16; c0 += 8)
		{
			/* a last block narrower than 8 columns (k not a multiple of 8): one at a time */
			if (k - c0 >= 8)
				Tile512(B, (size_t) k, m, A, lda, r0, c0, rm, first, false, 8);
			else
				for (int c = c0; c < k; c++)
					Tile512(B, (size_t) k, m, A, lda, r0, c, rm, first, false, 1);
		}
	}
	return true;
}

/*
 * Columns J .. n - 1 of a blocked Cholesky factorisation, the last panel (no
 * rows below it), already updated by the columns before J: factored column by
 * column.  The kernels' return convention (0, or j + 1 for pivot j).  Inlined
 * into each kernel, compiled for its instruction set: as a call from the AVX-512
 * kernel into code built for the baseline, the explicit sweep took 1.50 instead
 * of 1.14 s.
 */
static inline __attribute__((always_inline)) int
CholeskyLastPanel(float *A, int n, int lda, int J)
{
	for (int j = J; j < n; j++)
	{
		float	   *cj = A + (size_t) j * lda;
		float		piv = cj[j];
		float		inv;

		if (!(piv > 0.0f))
			return j + 1;
		piv = sqrtf(piv);
		cj[j] = piv;
		inv = 1.0f / piv;
		for (int i = j + 1; i < n; i++)
			cj[i] *= inv;
		for (int c = j + 1; c < n; c++)
		{
			float	   *cc = A + (size_t) c * lda;

			for (int i = c; i < n; i++)
				cc[i] -= cj[c] * cj[i];
		}
	}
	return 0;
}

/*
 * A = L L^T in place on A's lower triangle (column-major, leading dimension
 * lda; the upper part is neither read nor written), as SPOTRF("L") does: 0, or
 * j + 1 when the j-th pivot is not positive (or NaN), the factorisation stopped
 * there.  Blocked left-looking, panels of 16 columns: each panel is first
 * updated by all the columns before it with register tiles (Tile512,
 * subtracting), then its 16 x 16 diagonal block is factored in sixteen
 * registers (a column each, the pivots' multiples broadcast from their lanes),
 * and the rows below it solved against that block sixteen rows at a time, again
 * in registers.  A last panel narrower than 16 columns is factored column by
 * column.  For the 65 x 65 systems of ALS with 64 factors: about 2.0 against 5.0
 * us per factorisation (SPOTRF's recursion calls SGEMM, STRSM and SSYRK on
 * blocks too small for them).
 */
KERN_AVX512
static int
Cholesky512(float *A, int n, int lda)
{
	for (int J = 0; J < n; J += 16)
	{
		int			w = n - J < 16 ? n - J : 16;
		__m512		d[16];

		for (int R = J; R < n && J > 0; R += 16)
		{
			__mmask16	rm = n - R >= 16 ? (__mmask16) 0xFFFF : Tail16(n - R);

			if (w == 16)
				Tile512(A, (size_t) lda, J, A, lda, R, J, rm, false, true, 16);
			else
				for (int c = 0; c < w; c++)
					Tile512(A, (size_t) lda, J, A, lda, R, J + c, rm, false, true, 1);
		}

		/* the last panel, narrower than 16 columns: no rows below it */
		if (w < 16)
			return CholeskyLastPanel(A, n, lda, J);

		/*
		 * the diagonal block, column c in d[c] (lanes: rows J .. J + 15).  Lanes
		 * above a column's diagonal carry garbage that flows only into other
		 * such lanes, and is not stored.
		 */
		_Pragma("GCC unroll 16")
		for (int c = 0; c < 16; c++)
			d[c] = _mm512_loadu_ps(A + (size_t) (J + c) * lda + J);
		_Pragma("GCC unroll 16")
		for (int j = 0; j < 16; j++)
		{
			float		piv = _mm512_cvtss_f32(_mm512_permutexvar_ps(_mm512_set1_epi32(j), d[j]));
			float		root;

			if (!(piv > 0.0f))
				return J + j + 1;
			root = sqrtf(piv);
			d[j] = _mm512_mask_mov_ps(_mm512_mul_ps(d[j], _mm512_set1_ps(1.0f / root)),
									  (__mmask16) (1u << j), _mm512_set1_ps(root));
			_Pragma("GCC unroll 16")
			for (int c = j + 1; c < 16; c++)
				d[c] = _mm512_fnmadd_ps(d[j], _mm512_permutexvar_ps(_mm512_set1_epi32(c), d[j]),
										d[c]);
		}
		_Pragma("GCC unroll 16")
		for (int c = 0; c < 16; c++)
			_mm512_mask_storeu_ps(A + (size_t) (J + c) * lda + J, (__mmask16) (0xFFFFu << c), d[c]);

		/* the rows below: X L11^T = A21, sixteen rows at a time */
		for (int R = J + 16; R < n; R += 16)
		{
			__mmask16	rm = n - R >= 16 ? (__mmask16) 0xFFFF : Tail16(n - R);
			__m512		x[16];

			_Pragma("GCC unroll 16")
			for (int c = 0; c < 16; c++)
				x[c] = _mm512_maskz_loadu_ps(rm, A + (size_t) (J + c) * lda + R);
			_Pragma("GCC unroll 16")
			for (int c = 0; c < 16; c++)
			{
				_Pragma("GCC unroll 16")
				for (int p = 0; p < c; p++)
					x[c] = _mm512_fnmadd_ps(x[p], _mm512_set1_ps(A[(size_t) (J + p) * lda + J + c]),
											x[c]);
				x[c] = _mm512_mul_ps(x[c], _mm512_set1_ps(1.0f / A[(size_t) (J + c) * lda + J + c]));
			}
			_Pragma("GCC unroll 16")
			for (int c = 0; c < 16; c++)
				_mm512_mask_storeu_ps(A + (size_t) (J + c) * lda + R, rm, x[c]);
		}
	}
	return 0;
}

/* The rows of 8 lanes from lane `from` on, within mask rm (none when from >= 8) */
KERN_AVX2
static inline __m256i
LanesFrom256(__m256i rm, int from)
{
	return from <= 0 ? rm : _mm256_andnot_si256(Tail8(from), rm);
}

/* Tile512 with AVX2: 8 rows R .. R + 7 (lane mask rm), columns C .. C + NC - 1 */
KERN_AVX2
static inline __attribute__((always_inline)) void
Tile256(const float *X, size_t ldx, int terms, float *A, int lda, int R, int C, __m256i rm,
		bool zero, const bool subtract, const int NC)
{
	__m256		acc[8];

	_Pragma("GCC unroll 8")
	for (int c = 0; c < NC; c++)
		acc[c] = zero ? _mm256_setzero_ps() : _mm256_maskload_ps(A + (size_t) (C + c) * lda + R, rm);
	for (int p = 0; p < terms; p++)
	{
		const float *col = X + (size_t) p * ldx;
		__m256		y = _mm256_maskload_ps(col + R, rm);

		_Pragma("GCC unroll 8")
		for (int c = 0; c < NC; c++)
			acc[c] = subtract ? _mm256_fnmadd_ps(y, _mm256_broadcast_ss(col + C + c), acc[c]) :
				_mm256_fmadd_ps(y, _mm256_broadcast_ss(col + C + c), acc[c]);
	}
	_Pragma("GCC unroll 8")
	for (int c = 0; c < NC; c++)
		_mm256_maskstore_ps(A + (size_t) (C + c) * lda + R, LanesFrom256(rm, C + c - R), acc[c]);
}

/*
 * Syrk512 with AVX2: tiles of 8 rows by 8 columns (42 against OpenBLAS Haswell
 * SSYRK's 50 ns per gathered row at k = 64)
 */
KERN_AVX2
static bool
Syrk256(const float *B, int k, int m, float *A, int lda, bool first)
{
	for (int r0 = 0; r0 < k; r0 += 8)
	{
		__m256i		rm = Tail8(k - r0);

		for (int c0 = 0; c0 < k && c0 < r0 + 8; c0 += 8)
		{
			if (k - c0 >= 8)
				Tile256(B, (size_t) k, m, A, lda, r0, c0, rm, first, false, 8);
			else
				for (int c = c0; c < k; c++)
					Tile256(B, (size_t) k, m, A, lda, r0, c, rm, first, false, 1);
		}
	}
	return true;
}

/*
 * Cholesky512 with AVX2: panels of 8 columns, the diagonal block in eight
 * registers (lanes broadcast with a permute), the rows below solved eight at a
 * time in registers; a last panel narrower than 8 columns column by column
 */
KERN_AVX2
static int
Cholesky256(float *A, int n, int lda)
{
	const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);

	for (int J = 0; J < n; J += 8)
	{
		int			w = n - J < 8 ? n - J : 8;
		__m256		d[8];

		for (int R = J; R < n && J > 0; R += 8)
		{
			__m256i		rm = Tail8(n - R);

			if (w == 8)
				Tile256(A, (size_t) lda, J, A, lda, R, J, rm, false, true, 8);
			else
				for (int c = 0; c < w; c++)
					Tile256(A, (size_t) lda, J, A, lda, R, J + c, rm, false, true, 1);
		}

		if (w < 8)
			return CholeskyLastPanel(A, n, lda, J);

		_Pragma("GCC unroll 8")
		for (int c = 0; c < 8; c++)
			d[c] = _mm256_loadu_ps(A + (size_t) (J + c) * lda + J);
		_Pragma("GCC unroll 8")
		for (int j = 0; j < 8; j++)
		{
			float		piv = _mm256_cvtss_f32(_mm256_permutevar8x32_ps(d[j], _mm256_set1_epi32(j)));
			float		root;

			if (!(piv > 0.0f))
				return J + j + 1;
			root = sqrtf(piv);
			d[j] = _mm256_blendv_ps(_mm256_mul_ps(d[j], _mm256_set1_ps(1.0f / root)),
									_mm256_set1_ps(root),
									_mm256_castsi256_ps(_mm256_cmpeq_epi32(lanes, _mm256_set1_epi32(j))));
			_Pragma("GCC unroll 8")
			for (int c = j + 1; c < 8; c++)
				d[c] = _mm256_fnmadd_ps(d[j], _mm256_permutevar8x32_ps(d[j], _mm256_set1_epi32(c)),
										d[c]);
		}
		_Pragma("GCC unroll 8")
		for (int c = 0; c < 8; c++)
			_mm256_maskstore_ps(A + (size_t) (J + c) * lda + J,
								LanesFrom256(_mm256_set1_epi32(-1), c), d[c]);

		for (int R = J + 8; R < n; R += 8)
		{
			__m256i		rm = Tail8(n - R);
			__m256		x[8];

			_Pragma("GCC unroll 8")
			for (int c = 0; c < 8; c++)
				x[c] = _mm256_maskload_ps(A + (size_t) (J + c) * lda + R, rm);
			_Pragma("GCC unroll 8")
			for (int c = 0; c < 8; c++)
			{
				_Pragma("GCC unroll 8")
				for (int p = 0; p < c; p++)
					x[c] = _mm256_fnmadd_ps(x[p], _mm256_set1_ps(A[(size_t) (J + p) * lda + J + c]),
											x[c]);
				x[c] = _mm256_mul_ps(x[c], _mm256_set1_ps(1.0f / A[(size_t) (J + c) * lda + J + c]));
			}
			_Pragma("GCC unroll 8")
			for (int c = 0; c < 8; c++)
				_mm256_maskstore_ps(A + (size_t) (J + c) * lda + R, rm, x[c]);
		}
	}
	return 0;
}
#endif

static const KernImpl kern_portable = {
	"portable", DotC, L2SquaredC, NormSquaredC, DotNormsC, CosineC, AxpyC, RowDotsC, BlockMaxC,
	BlockAboveC, UniformPortable, SyrkNone, CholeskyNone
};

#ifdef KERN_X86
static const KernImpl kern_avx2 = {
	"avx2", Dot256, L2Squared256, NormSquared256, DotNorms256, Cosine256, Axpy256, RowDots256,
	BlockMax256, BlockAbove256, UniformPortable, Syrk256, Cholesky256
};
static const KernImpl kern_avx512 = {
	"avx512", Dot512, L2Squared512, NormSquared512, DotNorms512, Cosine512, Axpy512, RowDots512,
	BlockMax512, BlockAbove512, Uniform512, Syrk512, Cholesky512
};
#endif

/* The kernels in use; the portable ones until KernInit has run */
static const KernImpl *kern = &kern_portable;

/*
 * Makes the named kernel set ("avx512", "avx2" or "portable") the one in use,
 * if this CPU has what it needs; false (nothing changed) otherwise.  Called at
 * load time, and by tests and benchmarks to reach every set; not while other
 * threads may be running kernels.
 */
bool
KernSelect(const char *name)
{
#ifdef KERN_X86
	bool		avx2,
				avx512;

	__builtin_cpu_init();
	avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
		__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
		__builtin_cpu_supports("avx512bw");
	if (strcmp(name, "avx512") == 0 && avx512)
		kern = &kern_avx512;
	else if (strcmp(name, "avx2") == 0 && avx2)
		kern = &kern_avx2;
	else if (strcmp(name, "portable") == 0)
		kern = &kern_portable;
	else
		return false;
	return true;
#else
	if (strcmp(name, "portable") != 0)
		return false;
	kern = &kern_portable;
	return true;
#endif
}

/*
 * Picks the best kernels for this CPU when the library is loaded (before any
 * thread exists).  RECSYS_KERNELS=portable|avx2 in the environment narrows the
 * choice, for benchmarks of the other paths.
 */
__attribute__((constructor))
static void
KernInit(void)
{
	const char *want = getenv("RECSYS_KERNELS");

	if (want != NULL && KernSelect(want))
		return;
	if (!KernSelect("avx512") && !KernSelect("avx2"))
		KernSelect("portable");
}

void
KernUniform(uint64_t state, int n, double scale, float *out)
{
	kern->uniform(state, n, scale, out);
}

/* The name of the kernel set in use: "avx512", "avx2" or "portable" */
const char *
KernName(void)
{
	return kern->name;
}

/* Inner product of a and b */
float
KernDot(const KernUFloat *a, const KernUFloat *b, int n)
{
	return kern->dot(a, b, n);
}

/* Squared Euclidean distance between a and b */
float
KernL2Squared(const KernUFloat *a, const KernUFloat *b, int n)
{
	return kern->l2sq(a, b, n);
}

/* Squared Euclidean norm of a */
float
KernNormSquared(const KernUFloat *a, int n)
{
	return kern->norm2(a, n);
}

/* a·b, |a|² and |b|² in one pass over both vectors (cosine distance) */
void
KernDotNorms(const KernUFloat *a, const KernUFloat *b, int n,
			 float *dot, float *na2, float *nb2)
{
	kern->dotnorms(a, b, n, dot, na2, nb2);
}

/*
 * Cosine similarity of a and b in [-1, 1], NaN when either is a zero vector:
 * the three sums in one pass and the division in the same call
 */
double
KernCosine(const KernUFloat *a, const KernUFloat *b, int n)
{
	return kern->cosine(a, b, n);
}

/* y += alpha * x */
void
KernAxpy(int n, float alpha, const float *x, float *y)
{
	kern->axpy(n, alpha, x, y);
}

/* out[r] = Y_r·x for the rows x k row-major matrix Y */
void
KernRowDots(const float *Y, int rows, int k, const float *x, float *out)
{
	kern->rowdots(Y, NULL, rows, k, x, out);
}

/*
 * out[j] = Y_idx[j]·x for j < n, the rows of the row-major k-column matrix Y that
 * idx names, summed as KernRowDots sums a row at the same position
 */
void
KernGatherDots(const float *Y, const int32_t *idx, int n, int k, const float *x, float *out)
{
	kern->rowdots(Y, idx, n, k, x, out);
}

/*
 * A += B B^T (first: A = B B^T) on the lower triangle of A (column-major,
 * leading dimension lda) for the k x m column-major B, where the kernel set has
 * a rank update of its own (AVX-512); false, nothing done, where it has not
 */
bool
KernSyrkLower(const float *B, int k, int m, float *A, int lda, bool first)
{
	return kern->syrk(B, k, m, A, lda, first);
}

/*
 * The Cholesky factor of A in place (lower triangle), as SPOTRF("L"): 0, j + 1
 * when pivot j is not positive, or -1 (nothing done) where the kernel set has
 * no factorisation of its own
 */
int
KernCholeskyLower(float *A, int n, int lda)
{
	return kern->cholesky(A, n, lda);
}

/* out[b] = max of x[b * KERN_BLOCK .. (b + 1) * KERN_BLOCK), NaN if one is NaN */
void
KernBlockMax(const float *x, int blocks, float *out)
{
	kern->blockmax(x, blocks, out);
}

/*
 * Bit j (j < KERN_BLOCK) set when x[j] + (base + bias[j]) reaches floor (bias
 * NULL: x[j] + base), rounded as those two float adds are in C
 */
uint64_t
KernBlockAbove(const float *x, const float *bias, float base, float floor)
{
	return kern->blockabove(x, bias, base, floor);
}

/*
 * Adds (base + bias[j]) to s[0 .. n) in place (bias may be NULL: base alone),
 * and tells whether all of them are finite and whether any reaches floor.  A
 * plain loop the compiler vectorises.
 */
static inline void
ScanScores(float *restrict s, const float *restrict bias, float base, int n,
		   float floor, bool *finite, bool *reaches)
{
	int			bad = 0;
	int			any = 0;

	if (bias)
		for (int j = 0; j < n; j++)
			s[j] = s[j] + (base + bias[j]);
	else
		for (int j = 0; j < n; j++)
			s[j] = s[j] + base;
	for (int j = 0; j < n; j++)
	{
		/* NaN and infinities give NaN here, which is not equal to zero */
		bad |= !(s[j] - s[j] == 0.0f);
		any |= s[j] >= floor;
	}
	*finite = bad == 0;
	*reaches = any != 0;
}

/*
 * The fused scan of single-user serving: scores row i of the row-major n x k
 * matrix Y as s_i = Y_i·x + (base + bias[i]) (bias may be NULL) and offers
 * (s_i, i) to h, SCAN_ROWS rows at a time through a small buffer, so no score
 * array is written and a block below the heap's floor costs one vector pass.
 * skip(arg, i), if given, is asked only about a row that would enter the heap.
 * Returns false if some score was not finite (the heap is then meaningless).
 */
bool
KernDotTopN(TopNHeap *h, const float *Y, int32_t n, int k, const float *x,
			const float *bias, float base, KernSkipFn skip, const void *arg)
{
	float		s[SCAN_ROWS];
	bool		all_finite = true;

	for (int32_t r0 = 0; r0 < n; r0 += SCAN_ROWS)
	{
		int			m = n - r0 < SCAN_ROWS ? n - r0 : SCAN_ROWS;
		float		floor = h->size < h->cap || h->cap <= 0 ? -INFINITY : h->score[0];
		bool		finite,
					reaches;

		kern->rowdots(Y + (size_t) r0 * k, NULL, m, k, x, s);
		ScanScores(s, bias ? bias + r0 : NULL, base, m, floor, &finite, &reaches);
		all_finite &= finite;
		if (!reaches || h->cap <= 0)
			continue;
		for (int j = 0; j < m; j++)
		{
			int32_t		i = r0 + j;

			if (!(s[j] >= floor) || !TopNWouldEnter(h, s[j], i))
				continue;
			if (skip && skip(arg, i))
				continue;
			TopNPush(h, s[j], i);
			floor = h->size < h->cap ? -INFINITY : h->score[0];
		}
	}
	return all_finite;
}

/*
 * Top-N heap.  The kept entries form a binary min-heap ordered by "worse": the
 * root is the entry that leaves first.  An entry is worse than another when its
 * score is lower, or the scores are equal and its id is larger.
 */

/* true if entry i of h is worse than entry j */
static inline bool
TopNWorse(const TopNHeap *h, int i, int j)
{
	if (h->score[i] != h->score[j])
		return h->score[i] < h->score[j];
	return h->id[i] > h->id[j];
}

/* Swaps entries i and j of h */
static inline void
TopNSwap(TopNHeap *h, int i, int j)
{
	float		s = h->score[i];
	int64_t		id = h->id[i];

	h->score[i] = h->score[j];
	h->id[i] = h->id[j];
	h->score[j] = s;
	h->id[j] = id;
}

/* Restores the heap order below entry i, considering the first size entries */
static void
TopNSiftDown(TopNHeap *h, int i, int size)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			worst = i;

		if (l < size && TopNWorse(h, l, worst))
			worst = l;
		if (r < size && TopNWorse(h, r, worst))
			worst = r;
		if (worst == i)
			return;
		TopNSwap(h, i, worst);
		i = worst;
	}
}

/* Prepares an empty heap keeping at most cap entries in the caller's buffers */
void
TopNInit(TopNHeap *h, int cap, float *score_buf, int64_t *id_buf)
{
	h->cap = cap < 0 ? 0 : cap;
	h->size = 0;
	h->score = score_buf;
	h->id = id_buf;
}

/*
 * Offers (score, id) to the heap; it is kept if it is among the best cap seen so
 * far.  NaN scores are never kept, so they cannot break the ordering.
 */
void
TopNPush(TopNHeap *h, float score, int64_t id)
{
	if (isnan(score) || h->cap <= 0)
		return;

	if (h->size < h->cap)
	{
		int			i = h->size++;

		h->score[i] = score;
		h->id[i] = id;
		/* sift up while the parent is better than the new entry */
		while (i > 0)
		{
			int			parent = (i - 1) / 2;

			if (!TopNWorse(h, i, parent))
				break;
			TopNSwap(h, i, parent);
			i = parent;
		}
		return;
	}

	if (!TopNWouldEnter(h, score, id))
		return;
	h->score[0] = score;
	h->id[0] = id;
	TopNSiftDown(h, 0, h->size);
}

/*
 * Sorts the kept entries best first (score descending, id ascending) by heap
 * sort: the worst entry is moved to the end, repeatedly.  Afterwards the buffers
 * are a sorted array, not a heap: push nothing more.  Returns the entry count.
 */
int
TopNSortDesc(TopNHeap *h)
{
	for (int end = h->size - 1; end > 0; end--)
	{
		TopNSwap(h, 0, end);
		TopNSiftDown(h, 0, end);
	}
	return h->size;
}

/* qsort/bsearch comparator for int64_t arrays */
int
RecCompareInt64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* qsort/bsearch comparator for int32_t arrays */
int
RecCompareInt32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}
