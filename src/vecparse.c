/*
 * vecparse.c
 *		Readers for the external forms of recsys.vec: the text form and the
 *		binary send/recv form.
 *
 * This file only decides whether input is valid and where it is not; it never
 * raises errors or allocates.  vec.c turns a status into an ereport, and the
 * fuzz targets (test/fuzz/vec_*_fuzz.c) include this file directly, which is why
 * it must stay free of PostgreSQL headers.
 *
 * Text grammar (whitespace allowed around every token):
 *		vec    := '[' number ( ',' number )* ']'
 *		number := [+-]? ( digits [ '.' digits? ] | '.' digits ) ( [eE] [+-]? digits )?
 * NaN and Infinity are recognised only to report them as such.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vecparse.h"

/* ASCII whitespace, independent of the locale */
static inline bool
VecIsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* ASCII decimal digit */
static inline bool
VecIsDigit(char c)
{
	return c >= '0' && c <= '9';
}

/* Characters that end a token: what may legitimately follow a number */
static inline bool
VecIsDelimiter(char c)
{
	return c == '\0' || VecIsSpace(c) || c == ',' || c == '[' || c == ']';
}

/* Position of the first non-whitespace byte at or after pos */
static inline size_t
SkipSpace(const char *s, size_t pos)
{
	while (VecIsSpace(s[pos]))
		pos++;
	return pos;
}

/* Length of the offending text at pos: up to the next delimiter, at least 1 */
static size_t
OffendingLength(const char *s, size_t pos)
{
	size_t		n = 0;

	if (s[pos] == '\0')
		return 0;
	while (!VecIsDelimiter(s[pos + n]))
		n++;
	return n == 0 ? 1 : n;
}

/* Records a syntax error at pos and returns its status */
static VecParseStatus
SyntaxError(const char *s, size_t pos, const char *expected, int element,
			VecParseResult *res)
{
	res->status = VEC_PARSE_SYNTAX;
	res->pos = pos;
	res->len = OffendingLength(s, pos);
	res->expected = expected;
	res->element = element;
	return res->status;
}

/* Length of a decimal number starting at s (grammar above), 0 if there is none */
static size_t
ScanNumber(const char *s)
{
	size_t		i = 0;
	size_t		digits = 0;

	if (s[i] == '+' || s[i] == '-')
		i++;
	while (VecIsDigit(s[i]))
		i++, digits++;
	if (s[i] == '.')
	{
		i++;
		while (VecIsDigit(s[i]))
			i++, digits++;
	}
	if (digits == 0)
		return 0;
	if (s[i] == 'e' || s[i] == 'E')
	{
		size_t		j = i + 1;

		if (s[j] == '+' || s[j] == '-')
			j++;
		if (VecIsDigit(s[j]))
		{
			while (VecIsDigit(s[j]))
				j++;
			i = j;
		}
	}
	return i;
}

/* Case-insensitive match of an ASCII lower-case word at s */
static bool
MatchWord(const char *s, const char *word)
{
	for (; *word; s++, word++)
	{
		char		c = *s;

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != *word)
			return false;
	}
	return true;
}

/* Length of a NaN or Infinity spelling (as strtof accepts them) at s, else 0 */
static size_t
ScanNonFinite(const char *s)
{
	size_t		i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
	size_t		n = 0;

	if (MatchWord(s + i, "nan"))
		n = i + 3;
	else if (MatchWord(s + i, "infinity"))
		n = i + 8;
	else if (MatchWord(s + i, "inf"))
		n = i + 3;
	return (n > 0 && VecIsDelimiter(s[n])) ? n : 0;
}

/* Parses the text form; see vecparse.h */
VecParseStatus
VecParseText(const char *s, float *out, int cap, VecParseResult *res)
{
	size_t		pos;
	int			dim = 0;

	memset(res, 0, sizeof(*res));

	pos = SkipSpace(s, 0);
	if (s[pos] != '[')
		return SyntaxError(s, pos, "\"[\"", 0, res);
	pos = SkipSpace(s, pos + 1);

	if (s[pos] == ']')
	{
		pos = SkipSpace(s, pos + 1);
		if (s[pos] != '\0')
			return SyntaxError(s, pos, "end of input", 0, res);
		res->status = VEC_PARSE_EMPTY;
		return res->status;
	}

	for (;;)
	{
		size_t		len;
		char	   *end;
		float		val;

		if ((len = ScanNonFinite(s + pos)) > 0)
		{
			res->status = VEC_PARSE_NOT_FINITE;
			res->pos = pos;
			res->len = len;
			res->element = dim + 1;
			return res->status;
		}
		if ((len = ScanNumber(s + pos)) == 0)
			return SyntaxError(s, pos, "a number", dim + 1, res);

		/* strtof rounds correctly; it accepts everything ScanNumber does */
		errno = 0;
		val = strtof(s + pos, &end);
		if (end != s + pos + len)
			return SyntaxError(s, pos + len, "\",\" or \"]\"", dim + 1, res);
		if (errno == ERANGE && (val == 0.0f || isinf(val)))
		{
			/* overflow, or a non-zero number that underflows to zero */
			res->status = VEC_PARSE_OUT_OF_RANGE;
			res->pos = pos;
			res->len = len;
			res->element = dim + 1;
			return res->status;
		}
		if (dim < cap)
			out[dim] = val;
		dim++;

		pos = SkipSpace(s, pos + len);
		if (s[pos] == ',')
			pos = SkipSpace(s, pos + 1);
		else if (s[pos] == ']')
			break;
		else
			return SyntaxError(s, pos, "\",\" or \"]\"", dim, res);
	}

	pos = SkipSpace(s, pos + 1);
	if (s[pos] != '\0')
		return SyntaxError(s, pos, "end of input", dim, res);

	res->dim = dim;
	res->status = dim > cap ? VEC_PARSE_TOO_MANY : VEC_PARSE_OK;
	return res->status;
}

/* Big-endian 16- and 32-bit reads and a 32-bit write */
static inline uint16_t
ReadBE16(const unsigned char *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
ReadBE32(const unsigned char *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline void
WriteBE32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

/* Validates the binary header and length; see vecparse.h */
VecBinaryStatus
VecBinaryCheck(const unsigned char *buf, size_t len, int max_dim, int *dim)
{
	int			d;

	*dim = 0;
	if (len < 4)
		return VEC_BINARY_SHORT_HEADER;
	d = (int16_t) ReadBE16(buf);
	*dim = d;
	if (d < 1 || d > max_dim)
		return VEC_BINARY_BAD_DIM;
	if (ReadBE16(buf + 2) != 0)
		return VEC_BINARY_RESERVED;
	if (len < VEC_BINARY_SIZE(d))
		return VEC_BINARY_TRUNCATED;
	if (len > VEC_BINARY_SIZE(d))
		return VEC_BINARY_TRAILING;
	return VEC_BINARY_OK;
}

/* Decodes and checks the elements of a validated buffer */
VecBinaryStatus
VecBinaryValues(const unsigned char *buf, int dim, float *out, int *bad_element)
{
	*bad_element = 0;
	for (int i = 0; i < dim; i++)
	{
		uint32_t	bits = ReadBE32(buf + 4 + 4 * (size_t) i);
		float		v;

		memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v))
		{
			*bad_element = i + 1;
			return VEC_BINARY_NOT_FINITE;
		}
		out[i] = v;
	}
	return VEC_BINARY_OK;
}

/* Encodes a vector in the binary form that VecBinaryCheck accepts */
void
VecBinaryWrite(unsigned char *buf, const float *x, int dim)
{
	buf[0] = (unsigned char) ((uint16_t) dim >> 8);
	buf[1] = (unsigned char) dim;
	buf[2] = 0;
	buf[3] = 0;
	for (int i = 0; i < dim; i++)
	{
		uint32_t	bits;

		memcpy(&bits, &x[i], sizeof(bits));
		WriteBE32(buf + 4 + 4 * (size_t) i, bits);
	}
}
