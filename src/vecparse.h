/*
 * vecparse.h
 *		Plain-C readers for the recsys.vec external forms: the text form
 *		"[1,2.5,-3e-2]" and the binary send/recv form.
 *
 * No PostgreSQL headers: vec.c turns the statuses below into errors, and the
 * libFuzzer targets in test/fuzz include vecparse.c directly.
 */
#ifndef RECSYS_VECPARSE_H
#define RECSYS_VECPARSE_H

#include <stddef.h>
#include <stdint.h>

typedef enum VecParseStatus
{
	VEC_PARSE_OK = 0,
	VEC_PARSE_SYNTAX,			/* malformed text; expected says what belonged at pos */
	VEC_PARSE_EMPTY,			/* "[]": no elements */
	VEC_PARSE_NOT_FINITE,		/* NaN or Infinity element at pos */
	VEC_PARSE_OUT_OF_RANGE,		/* element overflows float4, or underflows to zero */
	VEC_PARSE_TOO_MANY			/* more elements than the caller's capacity */
} VecParseStatus;

typedef struct VecParseResult
{
	VecParseStatus status;
	int			dim;			/* elements read; on TOO_MANY all elements seen */
	int			element;		/* 1-based element number the error is about */
	size_t		pos;			/* 0-based byte offset of the problem */
	size_t		len;			/* bytes of offending text at pos (0: end of input) */
	const char *expected;		/* on SYNTAX: what was expected at pos */
} VecParseResult;

/*
 * Parses the NUL-terminated text form into out[0..cap-1].  Whitespace may surround
 * the brackets, the numbers and the commas.  Numbers are decimal with an optional
 * sign, fraction and exponent, converted with correct rounding to float4.
 */
extern VecParseStatus VecParseText(const char *str, float *out, int cap,
								   VecParseResult *res);

typedef enum VecBinaryStatus
{
	VEC_BINARY_OK = 0,
	VEC_BINARY_SHORT_HEADER,	/* fewer than 4 bytes: no room for the header */
	VEC_BINARY_BAD_DIM,			/* dimension count < 1 or > max_dim */
	VEC_BINARY_RESERVED,		/* the reserved field is not zero */
	VEC_BINARY_TRUNCATED,		/* fewer bytes than the header's dimension count needs */
	VEC_BINARY_TRAILING,		/* more bytes than the header's dimension count needs */
	VEC_BINARY_NOT_FINITE		/* a NaN or infinite element */
} VecBinaryStatus;

/* Bytes of the binary form of a vector of dim elements */
#define VEC_BINARY_SIZE(dim)	(4 + 4 * (size_t) (dim))

/*
 * Checks the header of the binary form (int16 dim, int16 reserved, then dim
 * float4, all big-endian) against the buffer length; sets *dim from the header.
 */
extern VecBinaryStatus VecBinaryCheck(const unsigned char *buf, size_t len,
									  int max_dim, int *dim);

/*
 * Decodes the dim elements after a checked header into out; on a non-finite
 * element sets *bad_element (1-based) and stops.
 */
extern VecBinaryStatus VecBinaryValues(const unsigned char *buf, int dim,
									   float *out, int *bad_element);

/* Writes the binary form of x[0..dim-1] into buf (VEC_BINARY_SIZE(dim) bytes) */
extern void VecBinaryWrite(unsigned char *buf, const float *x, int dim);

#endif							/* RECSYS_VECPARSE_H */
