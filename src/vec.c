/*
 * vec.c
 *		The recsys.vec type: text and binary I/O, typmod, casts to and from arrays,
 *		distance and element-wise operators, comparison and hashing support, and
 *		the sum/avg aggregates.
 *
 * This file adapts Datums to plain arrays: parsing lives in vecparse.c and the
 * arithmetic in kernels.c.  Every element of a stored vec is a finite float4;
 * each input path (text, binary, arrays, arithmetic) enforces that, so the rest
 * of the code never meets NaN or Infinity inside a vec.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

#include "kernels.h"
#include "vec.h"
#include "vecparse.h"

/* Longest piece of user input quoted back in an error message, in bytes */
#define VEC_ERROR_QUOTE_MAX 60

/* A zeroed vector of dim dimensions (dim already checked), palloc'd */
Vec *
InitVec(int dim)
{
	Vec		   *v = (Vec *) palloc0(VEC_SIZE(dim));

	SET_VARSIZE(v, VEC_SIZE(dim));
	v->dim = dim;
	return v;
}

/* Raises the error for a dimension count outside 1..VEC_MAX_DIM */
static void
CheckDim(int64 dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vec must have at least 1 dimension")));
	if (dim > VEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vec cannot have more than %d dimensions, got " INT64_FORMAT,
						VEC_MAX_DIM, dim)));
}

/* Raises the error for operands of different dimensions */
static void
ReportDifferentDims(int a, int b)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("different vector dimensions %d and %d", a, b)));
}

/* Binary operators need equal dimensions */
static inline void
CheckSameDims(const Vec *a, const Vec *b)
{
	if (unlikely(a->dim != b->dim))
		ReportDifferentDims(a->dim, b->dim);
}

/* A value stored as or cast to vec(typmod) must have exactly typmod dimensions */
static inline void
CheckTypmod(int dim, int32 typmod)
{
	if (typmod >= 0 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim),
				 errdetail("A value of type vec(%d) has exactly %d dimensions.",
						   typmod, typmod)));
}

/* A copy of len bytes of s, cut at a character boundary and marked when long */
static char *
QuoteInput(const char *s, size_t len)
{
	int			keep;

	if (len <= VEC_ERROR_QUOTE_MAX)
		return pnstrdup(s, len);
	keep = pg_mbcliplen(s, (int) len, VEC_ERROR_QUOTE_MAX);
	return psprintf("%s...", pnstrdup(s, keep));
}

/* Raises the error VecParseText reported for str */
static void
ReportParseError(const char *str, const VecParseResult *res)
{
	int			position = pg_mbstrlen_with_len(str, (int) res->pos) + 1;
	char	   *token = QuoteInput(str + res->pos, res->len);

	switch (res->status)
	{
		case VEC_PARSE_SYNTAX:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vec: \"%s\"",
							QuoteInput(str, strlen(str))),
					 res->len > 0 ?
					 errdetail("Expected %s at position %d, found \"%s\".",
							   res->expected, position, token) :
					 errdetail("Expected %s at position %d, found end of input.",
							   res->expected, position),
					 errhint("A vec is written like [1,2.5,-3e-2].")));
			break;
		case VEC_PARSE_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("vec must have at least 1 dimension")));
			break;
		case VEC_PARSE_NOT_FINITE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("vec elements must be finite, got \"%s\"", token),
					 errdetail("Element %d, at position %d.", res->element, position)));
			break;
		case VEC_PARSE_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type vec", token),
					 errdetail("Element %d, at position %d; vec elements are float4, "
							   "with magnitudes from about 1.4e-45 to 3.4e38, or zero.",
							   res->element, position)));
			break;
		case VEC_PARSE_TOO_MANY:
			CheckDim(res->dim);
			break;
		case VEC_PARSE_OK:
			break;
	}
	/* TOO_MANY with a capacity below VEC_MAX_DIM would be a caller bug */
	elog(ERROR, "unexpected vec parse status %d", (int) res->status);
}

/*
 * Text input: "[1,2.5,-3e-2]".  The buffer is sized by the input length (each
 * element takes at least two bytes with its comma), capped at VEC_MAX_DIM.
 */
PG_FUNCTION_INFO_V1(vec_in);
Datum
vec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	size_t		len = strlen(str);
	int			cap = (int) Min((size_t) VEC_MAX_DIM, len / 2 + 1);
	float	   *buf = (float *) palloc(sizeof(float) * cap);
	VecParseResult res;
	Vec		   *result;

	if (VecParseText(str, buf, cap, &res) != VEC_PARSE_OK)
		ReportParseError(str, &res);
	CheckTypmod(res.dim, typmod);

	result = InitVec(res.dim);
	memcpy(result->x, buf, sizeof(float) * res.dim);
	pfree(buf);
	PG_RETURN_VEC_P(result);
}

/* Text output: the shortest decimal form of each element that reads back exactly */
PG_FUNCTION_INFO_V1(vec_out);
Datum
vec_out(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	char	   *buf = palloc((size_t) v->dim * FLOAT_SHORTEST_DECIMAL_LEN + 2);
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < v->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(v->x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

/* vec(n): the modifier is the dimension count, 1..VEC_MAX_DIM */
PG_FUNCTION_INFO_V1(vec_typmod_in);
Datum
vec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *mods = PG_GETARG_ARRAYTYPE_P(0);
	int			n;
	int32	   *tl = ArrayGetIntegerTypmods(mods, &n);

	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("type vec takes one modifier, got %d", n),
				 errhint("Write vec(3) for vectors of 3 dimensions.")));
	if (tl[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vec must be at least 1, got %d", tl[0])));
	if (tl[0] > VEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vec cannot exceed %d, got %d",
						VEC_MAX_DIM, tl[0])));
	PG_RETURN_INT32(tl[0]);
}

/* Prints the modifier as "(n)" */
PG_FUNCTION_INFO_V1(vec_typmod_out);
Datum
vec_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	PG_RETURN_CSTRING(typmod >= 0 ? psprintf("(%d)", typmod) : pstrdup(""));
}

/* Raises the error for a rejected binary value of len bytes */
static void
ReportBinaryError(VecBinaryStatus status, size_t len, int dim, int bad_element)
{
	if (status == VEC_BINARY_NOT_FINITE)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vec elements must be finite, got NaN or Infinity"),
				 errdetail("Element %d of the binary value.", bad_element)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary data for type vec"),
			 status == VEC_BINARY_SHORT_HEADER ?
			 errdetail("The value has %zu bytes; its header alone takes 4.", len) :
			 status == VEC_BINARY_BAD_DIM ?
			 errdetail("The header gives %d dimensions; vec allows 1 to %d.",
					   dim, VEC_MAX_DIM) :
			 status == VEC_BINARY_RESERVED ?
			 errdetail("The reserved header field is not zero.") :
			 errdetail("The header gives %d dimensions, which take %zu bytes, but the value has %zu.",
					   dim, VEC_BINARY_SIZE(dim), len)));
}

/*
 * Binary input: int16 dim, int16 reserved (zero), dim float4, big-endian.  The
 * buffer must hold exactly that; a short or long one is rejected, not guessed at.
 */
PG_FUNCTION_INFO_V1(vec_recv);
Datum
vec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	const unsigned char *data = (const unsigned char *) buf->data + buf->cursor;
	size_t		len = (size_t) (buf->len - buf->cursor);
	VecBinaryStatus status;
	int			dim;
	int			bad_element;
	Vec		   *result;

	status = VecBinaryCheck(data, len, VEC_MAX_DIM, &dim);
	if (status != VEC_BINARY_OK)
		ReportBinaryError(status, len, dim, 0);
	CheckTypmod(dim, typmod);

	result = InitVec(dim);
	status = VecBinaryValues(data, dim, result->x, &bad_element);
	if (status != VEC_BINARY_OK)
		ReportBinaryError(status, len, dim, bad_element);
	buf->cursor = buf->len;
	PG_RETURN_VEC_P(result);
}

/* Binary output, the form vec_recv reads */
PG_FUNCTION_INFO_V1(vec_send);
Datum
vec_send(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	size_t		size = VEC_BINARY_SIZE(v->dim);
	bytea	   *result = (bytea *) palloc(VARHDRSZ + size);

	SET_VARSIZE(result, VARHDRSZ + size);
	VecBinaryWrite((unsigned char *) VARDATA(result), v->x, v->dim);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_BYTEA_P(result);
}

/* Length coercion to vec(n): the cast behind ::vec(3) and vec(3) columns */
PG_FUNCTION_INFO_V1(vec_coerce);
Datum
vec_coerce(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckTypmod(v->dim, typmod);
	PG_RETURN_VEC_P(v);
}

/* Narrows a finite float8 to float4 as float8 → real does, naming the element */
static float
Float8ToElement(double d, int element)
{
	float		f = (float) d;

	if ((isinf(f) && !isinf(d)) || (f == 0.0f && d != 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("array element %d (%g) is out of range for type vec", element, d),
				 errdetail("vec elements are float4, with magnitudes from about 1.4e-45 to 3.4e38, or zero.")));
	return f;
}

/*
 * Cast from real[], double precision[], numeric[] or integer[] (one C function
 * behind four SQL signatures): a one-dimensional array without NULLs.
 */
PG_FUNCTION_INFO_V1(array_to_vec);
Datum
array_to_vec(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Vec		   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("array must be one-dimensional to become a vec, got %d dimensions",
						ARR_NDIM(array))));
	CheckDim(ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array)));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	CheckTypmod(n, typmod);

	result = InitVec(n);
	for (int i = 0; i < n; i++)
	{
		float		f;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("vec elements cannot be null, array element %d is null", i + 1)));
		switch (elemtype)
		{
			case FLOAT4OID:
				f = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				if (!isfinite(DatumGetFloat8(elems[i])))
					f = (float) DatumGetFloat8(elems[i]);	/* rejected below */
				else
					f = Float8ToElement(DatumGetFloat8(elems[i]), i + 1);
				break;
			case INT4OID:
				f = (float) DatumGetInt32(elems[i]);
				break;
			case NUMERICOID:
				f = DatumGetFloat4(DirectFunctionCall1(numeric_float4, elems[i]));
				break;
			default:
				elog(ERROR, "cannot cast an array of type %s to vec",
					 format_type_be(elemtype));
				f = 0;			/* keep the compiler quiet */
		}
		if (!isfinite(f))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("vec elements must be finite, array element %d is %s",
							i + 1, isnan(f) ? "NaN" : "infinite")));
		result->x[i] = f;
	}
	PG_RETURN_VEC_P(result);
}

/* Cast to real[] */
PG_FUNCTION_INFO_V1(vec_to_float4_array);
Datum
vec_to_float4_array(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	Datum	   *d = (Datum *) palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(v->x[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, v->dim, FLOAT4OID, sizeof(float4),
										  true, TYPALIGN_INT));
}

/* Cast to double precision[] */
PG_FUNCTION_INFO_V1(vec_to_float8_array);
Datum
vec_to_float8_array(PG_FUNCTION_ARGS)
{
	Vec		   *v = PG_GETARG_VEC_P(0);
	Datum	   *d = (Datum *) palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float8GetDatum((double) v->x[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, v->dim, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Distances.  The kernels accumulate in float4 (fast, vectorised); a sum that
 * overflowed or fell out of the normal float4 range is recomputed in double, so
 * the float8 results are right for every pair of finite vectors.
 */

/* true if a float4 sum cannot be trusted: not finite, or below FLT_MIN */
static inline bool
NeedsDouble(float s)
{
	return !KernSumTrusted(s);
}

/*
 * Distance arguments are read in place, without a call, in the two forms a
 * stored vec has: a 4-byte header, and the 1-byte header rows use for vectors
 * of up to VEC_SHORT_MAX_DIM dimensions.  The floats after a 1-byte header sit
 * at an odd address; the kernels read them through KernUFloat, which allows
 * that.  (Detoasting would copy them into palloc'd memory: a palloc, a copy,
 * and wide loads right after narrower stores, which the CPU cannot forward.)
 * Compressed or out-of-line values are detoasted.
 */
#define VEC_SHORT_MAX_DIM \
	((int) ((VARATT_SHORT_MAX - VARHDRSZ_SHORT - (offsetof(Vec, x) - VARHDRSZ)) / sizeof(float)))

/* One distance argument: its elements, wherever they are, and its length */
typedef struct VecArg
{
	const KernUFloat *x;
	int			dim;
} VecArg;

/* Raises the error for a 1-byte-header vec whose size and dimension disagree */
static void
ReportBadShortVec(int dim, int size)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid vec value: %d dimensions in %d bytes", dim, size)));
}

/* Argument n of the calling function, read in place where it can be */
static inline __attribute__((always_inline)) VecArg
GetVecArg(FunctionCallInfo fcinfo, int n)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(n));
	VecArg		arg;

	if (likely(VARATT_IS_4B_U(p)))
	{
		const Vec  *v = (const Vec *) p;

		arg.x = v->x;
		arg.dim = v->dim;
	}
	else if (VARATT_IS_1B(p) && !VARATT_IS_1B_E(p))
	{
		const char *data = VARDATA_SHORT(p);
		int16		dim;

		memcpy(&dim, data + offsetof(Vec, dim) - VARHDRSZ, sizeof(dim));
		if (unlikely(dim < 1 || dim > VEC_SHORT_MAX_DIM ||
					 VARSIZE_SHORT(p) != VARHDRSZ_SHORT + VEC_SIZE(dim) - VARHDRSZ))
			ReportBadShortVec(dim, (int) VARSIZE_SHORT(p));
		arg.x = (const KernUFloat *) (data + offsetof(Vec, x) - VARHDRSZ);
		arg.dim = dim;
	}
	else
	{
		const Vec  *v = (const Vec *) pg_detoast_datum(p);

		arg.x = v->x;
		arg.dim = v->dim;
	}
	return arg;
}

/* Binary operators need equal dimensions */
static inline void
CheckSameArgDims(VecArg a, VecArg b)
{
	if (unlikely(a.dim != b.dim))
		ReportDifferentDims(a.dim, b.dim);
}

/* a·b */
static inline double
VecDot(const KernUFloat *a, const KernUFloat *b, int n)
{
	float		s = KernDot(a, b, n);
	double		d = 0.0;

	if (likely(!NeedsDouble(s)) || s == 0.0f)
		return s;
	for (int i = 0; i < n; i++)
		d += (double) a[i] * b[i];
	return d;
}

/* |a - b|² */
static inline double
VecL2Squared(const KernUFloat *a, const KernUFloat *b, int n)
{
	float		s = KernL2Squared(a, b, n);
	double		d = 0.0;

	if (likely(!NeedsDouble(s)))
		return s;
	for (int i = 0; i < n; i++)
	{
		double		diff = (double) a[i] - b[i];

		d += diff * diff;
	}
	return d;
}

/* |a|² */
static double
VecNormSquared(const Vec *a)
{
	float		s = KernNormSquared(a->x, a->dim);
	double		d = 0.0;

	if (!NeedsDouble(s))
		return s;
	for (int i = 0; i < a->dim; i++)
		d += (double) a->x[i] * a->x[i];
	return d;
}

/* a <-> b: Euclidean distance */
PG_FUNCTION_INFO_V1(vec_l2_distance);
Datum
vec_l2_distance(PG_FUNCTION_ARGS)
{
	VecArg		a = GetVecArg(fcinfo, 0);
	VecArg		b = GetVecArg(fcinfo, 1);

	CheckSameArgDims(a, b);
	PG_RETURN_FLOAT8(sqrt(VecL2Squared(a.x, b.x, a.dim)));
}

/* a <#> b: the negative inner product, so ascending order is best first */
PG_FUNCTION_INFO_V1(vec_negative_inner_product);
Datum
vec_negative_inner_product(PG_FUNCTION_ARGS)
{
	VecArg		a = GetVecArg(fcinfo, 0);
	VecArg		b = GetVecArg(fcinfo, 1);

	CheckSameArgDims(a, b);
	/* 0 - x rather than -x: a zero inner product prints as 0, not -0 */
	PG_RETURN_FLOAT8(0.0 - VecDot(a.x, b.x, a.dim));
}

/*
 * a <=> b: cosine distance, 1 - cosine similarity (NaN for a zero vector).
 * The kernel does the sums, the check for sums to redo in double and the
 * division in one call.
 */
PG_FUNCTION_INFO_V1(vec_cosine_distance);
Datum
vec_cosine_distance(PG_FUNCTION_ARGS)
{
	VecArg		a = GetVecArg(fcinfo, 0);
	VecArg		b = GetVecArg(fcinfo, 1);

	CheckSameArgDims(a, b);
	PG_RETURN_FLOAT8(1.0 - KernCosine(a.x, b.x, a.dim));
}

/* dot(a, b): inner product */
PG_FUNCTION_INFO_V1(vec_dot);
Datum
vec_dot(PG_FUNCTION_ARGS)
{
	VecArg		a = GetVecArg(fcinfo, 0);
	VecArg		b = GetVecArg(fcinfo, 1);

	CheckSameArgDims(a, b);
	PG_RETURN_FLOAT8(VecDot(a.x, b.x, a.dim));
}

/* cosine_similarity(a, b) */
PG_FUNCTION_INFO_V1(vec_cosine_similarity);
Datum
vec_cosine_similarity(PG_FUNCTION_ARGS)
{
	VecArg		a = GetVecArg(fcinfo, 0);
	VecArg		b = GetVecArg(fcinfo, 1);

	CheckSameArgDims(a, b);
	PG_RETURN_FLOAT8(KernCosine(a.x, b.x, a.dim));
}

/* norm(a): Euclidean length */
PG_FUNCTION_INFO_V1(vec_norm);
Datum
vec_norm(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);

	PG_RETURN_FLOAT8(sqrt(VecNormSquared(a)));
}

/* normalize(a): a scaled to length 1; the zero vector is returned unchanged */
PG_FUNCTION_INFO_V1(vec_normalize);
Datum
vec_normalize(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	double		norm = sqrt(VecNormSquared(a));
	Vec		   *result = InitVec(a->dim);

	for (int i = 0; i < a->dim; i++)
		result->x[i] = norm > 0.0 ? (float) (a->x[i] / norm) : a->x[i];
	PG_RETURN_VEC_P(result);
}

/* dims(a): the number of dimensions */
PG_FUNCTION_INFO_V1(vec_dims);
Datum
vec_dims(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);

	PG_RETURN_INT32(a->dim);
}

/*
 * subvec(a, start, count): elements start .. start+count-1 (1-based), clipped to
 * the vector like substring(); an empty result is an error.
 */
PG_FUNCTION_INFO_V1(vec_subvec);
Datum
vec_subvec(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int64		first;
	int64		end;
	Vec		   *result;

	if (count < 0)
		ereport(ERROR,
				(errcode(ERRCODE_SUBSTRING_ERROR),
				 errmsg("subvec count must not be negative, got %d", count)));
	first = Max((int64) start, 1);
	end = Min((int64) start + count, (int64) a->dim + 1);
	if (end <= first)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vec must have at least 1 dimension"),
				 errdetail("subvec(start => %d, count => %d) selects no element of a vec of %d dimensions.",
						   start, count, a->dim)));
	result = InitVec((int) (end - first));
	memcpy(result->x, a->x + (first - 1), sizeof(float) * result->dim);
	PG_RETURN_VEC_P(result);
}

/* Raises the float4 overflow error if any element of v is infinite */
static void
CheckFiniteResult(const Vec *v)
{
	for (int i = 0; i < v->dim; i++)
		if (isinf(v->x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow"),
					 errdetail("Element %d of the result is beyond the float4 range (about 3.4e38).",
							   i + 1)));
}

/* a + b, element-wise */
PG_FUNCTION_INFO_V1(vec_add);
Datum
vec_add(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	Vec		   *b = PG_GETARG_VEC_P(1);
	Vec		   *result;

	CheckSameDims(a, b);
	result = InitVec(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] + b->x[i];
	CheckFiniteResult(result);
	PG_RETURN_VEC_P(result);
}

/* a - b, element-wise */
PG_FUNCTION_INFO_V1(vec_sub);
Datum
vec_sub(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	Vec		   *b = PG_GETARG_VEC_P(1);
	Vec		   *result;

	CheckSameDims(a, b);
	result = InitVec(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] - b->x[i];
	CheckFiniteResult(result);
	PG_RETURN_VEC_P(result);
}

/* a * b, element-wise; like real * real, a non-zero product that rounds to zero is an error */
PG_FUNCTION_INFO_V1(vec_mul);
Datum
vec_mul(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	Vec		   *b = PG_GETARG_VEC_P(1);
	Vec		   *result;

	CheckSameDims(a, b);
	result = InitVec(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] * b->x[i];
	CheckFiniteResult(result);
	for (int i = 0; i < a->dim; i++)
		if (result->x[i] == 0.0f && a->x[i] != 0.0f && b->x[i] != 0.0f)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: underflow"),
					 errdetail("Element %d of the product is not zero but below the smallest float4 (about 1.4e-45).",
							   i + 1)));
	PG_RETURN_VEC_P(result);
}

/* a || b: concatenation */
PG_FUNCTION_INFO_V1(vec_concat);
Datum
vec_concat(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	Vec		   *b = PG_GETARG_VEC_P(1);
	Vec		   *result;

	CheckDim((int64) a->dim + b->dim);
	result = InitVec(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VEC_P(result);
}

/*
 * Total order for the btree opclass: element by element, then the shorter vector
 * first.  Elements are finite, so float comparison is a total order (-0 = 0).
 */
static int
VecCmp(const Vec *a, const Vec *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

/* btree support function 1 */
PG_FUNCTION_INFO_V1(vec_cmp);
Datum
vec_cmp(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	Vec		   *b = PG_GETARG_VEC_P(1);
	int			c = VecCmp(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(c);
}

/* Declares a comparison operator function from VecCmp */
#define VEC_CMP_FUNCTION(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Vec		   *a = PG_GETARG_VEC_P(0); \
	Vec		   *b = PG_GETARG_VEC_P(1); \
	int			c = VecCmp(a, b); \
\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	PG_RETURN_BOOL(c op 0); \
}

VEC_CMP_FUNCTION(vec_lt, <)
VEC_CMP_FUNCTION(vec_le, <=)
VEC_CMP_FUNCTION(vec_eq, ==)
VEC_CMP_FUNCTION(vec_ne, !=)
VEC_CMP_FUNCTION(vec_ge, >=)
VEC_CMP_FUNCTION(vec_gt, >)

/*
 * The bytes hashed for a: dim, reserved and the elements, with -0 turned into 0
 * so that values equal under = hash alike.  Copies only when a has a -0.
 */
static const unsigned char *
HashBytes(const Vec *a, int *len)
{
	const size_t offset = offsetof(Vec, dim);
	Vec		   *copy = NULL;

	*len = (int) (VEC_SIZE(a->dim) - offset);
	for (int i = 0; i < a->dim; i++)
	{
		if (a->x[i] == 0.0f && signbit(a->x[i]))
		{
			if (copy == NULL)
			{
				copy = (Vec *) palloc(VEC_SIZE(a->dim));
				memcpy(copy, a, VEC_SIZE(a->dim));
			}
			copy->x[i] = 0.0f;
		}
	}
	return (const unsigned char *) (copy ? copy : a) + offset;
}

/* hash opclass support function 1 */
PG_FUNCTION_INFO_V1(vec_hash);
Datum
vec_hash(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	int			len;
	const unsigned char *bytes = HashBytes(a, &len);

	return hash_any(bytes, len);
}

/* hash opclass support function 2 (seeded, 64 bits; seed 0 agrees with vec_hash) */
PG_FUNCTION_INFO_V1(vec_hash_extended);
Datum
vec_hash_extended(PG_FUNCTION_ARGS)
{
	Vec		   *a = PG_GETARG_VEC_P(0);
	uint64		seed = (uint64) PG_GETARG_INT64(1);
	int			len;
	const unsigned char *bytes = HashBytes(a, &len);

	return hash_any_extended(bytes, len, seed);
}

/*
 * sum(vec) and avg(vec).  The state is internal: the row count and float8 sums,
 * updated in place in the aggregate's memory context.  Serialization copies the
 * struct into a bytea for parallel workers.
 */
typedef struct VecAggState
{
	int64		count;			/* non-NULL rows accumulated */
	int32		dim;			/* dimensions of every accumulated vector */
	int32		unused;			/* padding, always zero */
	double		sum[FLEXIBLE_ARRAY_MEMBER]; /* element-wise sums */
} VecAggState;

#define VEC_AGG_STATE_SIZE(dim) (offsetof(VecAggState, sum) + sizeof(double) * (dim))

/* A zeroed state for dim dimensions in context cxt */
static VecAggState *
NewAggState(MemoryContext cxt, int dim)
{
	VecAggState *state = MemoryContextAllocZero(cxt, VEC_AGG_STATE_SIZE(dim));

	state->dim = dim;
	return state;
}

/* The aggregate memory context, or an error outside an aggregate */
static MemoryContext
AggContext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return cxt;
}

/* Transition: adds one vector (NULLs are skipped) */
PG_FUNCTION_INFO_V1(vec_accum);
Datum
vec_accum(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = AggContext(fcinfo, "vec_accum");
	VecAggState *state = PG_ARGISNULL(0) ? NULL : (VecAggState *) PG_GETARG_POINTER(0);
	Vec		   *v;

	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	v = PG_GETARG_VEC_P(1);
	if (state == NULL)
		state = NewAggState(cxt, v->dim);
	else if (state->dim != v->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", state->dim, v->dim)));
	for (int i = 0; i < v->dim; i++)
		state->sum[i] += v->x[i];
	state->count++;
	PG_RETURN_POINTER(state);
}

/* Combine: adds the second partial state into the first */
PG_FUNCTION_INFO_V1(vec_combine);
Datum
vec_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = AggContext(fcinfo, "vec_combine");
	VecAggState *s1 = PG_ARGISNULL(0) ? NULL : (VecAggState *) PG_GETARG_POINTER(0);
	VecAggState *s2 = PG_ARGISNULL(1) ? NULL : (VecAggState *) PG_GETARG_POINTER(1);

	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		/* the result must live in the aggregate context, s2 may not */
		s1 = NewAggState(cxt, s2->dim);
		memcpy(s1, s2, VEC_AGG_STATE_SIZE(s2->dim));
		PG_RETURN_POINTER(s1);
	}
	if (s1->dim != s2->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", s1->dim, s2->dim)));
	for (int i = 0; i < s1->dim; i++)
		s1->sum[i] += s2->sum[i];
	s1->count += s2->count;
	PG_RETURN_POINTER(s1);
}

/* Serialization for parallel aggregation: the state struct as a bytea */
PG_FUNCTION_INFO_V1(vec_agg_serialize);
Datum
vec_agg_serialize(PG_FUNCTION_ARGS)
{
	VecAggState *state = (VecAggState *) PG_GETARG_POINTER(0);
	size_t		size = VEC_AGG_STATE_SIZE(state->dim);
	bytea	   *result = (bytea *) palloc(VARHDRSZ + size);

	SET_VARSIZE(result, VARHDRSZ + size);
	memcpy(VARDATA(result), state, size);
	PG_RETURN_BYTEA_P(result);
}

/* Deserialization: checks the size against the dimension count it carries */
PG_FUNCTION_INFO_V1(vec_agg_deserialize);
Datum
vec_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	size_t		size = VARSIZE_ANY_EXHDR(data);
	VecAggState header;
	VecAggState *state;

	if (size < offsetof(VecAggState, sum))
		elog(ERROR, "invalid vec aggregate state of %zu bytes", size);
	memcpy(&header, VARDATA_ANY(data), offsetof(VecAggState, sum));
	if (header.dim < 1 || header.dim > VEC_MAX_DIM ||
		size != VEC_AGG_STATE_SIZE(header.dim))
		elog(ERROR, "invalid vec aggregate state of %zu bytes", size);
	state = (VecAggState *) palloc(size);
	memcpy(state, VARDATA_ANY(data), size);
	PG_RETURN_POINTER(state);
}

/* The state's sums divided by divisor, as a vec; an element beyond float4 is an error */
static Vec *
AggResult(const VecAggState *state, double divisor)
{
	Vec		   *result = InitVec(state->dim);

	for (int i = 0; i < state->dim; i++)
	{
		double		d = state->sum[i] / divisor;

		if (fabs(d) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("element %d of the result (%g) is out of range for type vec",
							i + 1, d)));
		result->x[i] = (float) d;
	}
	return result;
}

/* sum(vec) final function */
PG_FUNCTION_INFO_V1(vec_sum_final);
Datum
vec_sum_final(PG_FUNCTION_ARGS)
{
	VecAggState *state = (VecAggState *) PG_GETARG_POINTER(0);

	PG_RETURN_VEC_P(AggResult(state, 1.0));
}

/* avg(vec) final function */
PG_FUNCTION_INFO_V1(vec_avg_final);
Datum
vec_avg_final(PG_FUNCTION_ARGS)
{
	VecAggState *state = (VecAggState *) PG_GETARG_POINTER(0);

	PG_RETURN_VEC_P(AggResult(state, (double) state->count));
}
