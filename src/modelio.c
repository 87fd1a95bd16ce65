/*
 * modelio.c
 *		Validation of recsys.model values and their portable binary and text forms.
 *
 * Everything that decides whether a sequence of bytes is a model lives here, in plain
 * C, so that the input functions in model.c stay thin and the fuzz targets can
 * exercise exactly the code the backend runs.  A model is walked as a list of
 * sections (model.h); each section is an array of fixed-width numbers that the binary
 * form stores big-endian, and the gaps between sections are zero padding.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "modelio.h"

/* header fields after the varlena word, in struct order, by width in bytes */
static const uint8_t HeaderFieldWidths[] = {
	4,							/* magic */
	2, 2,						/* version, algorithm */
	4, 4, 4, 4, 4,				/* flags, factors, n_users, n_items, iterations */
	8, 8,						/* n_interactions, n_seen */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* uuid */
	4, 4, 4, 4,					/* global_mean, rating_min, rating_max, train_loss */
	8, 8,						/* train_seconds, peak_bytes */
	4, 4						/* options_len, reserved */
};

#define BINARY_HEADER_BYTES (sizeof(RecModelHeader) - RECSYS_MODEL_VARHDR)

/* One array section of the layout: where it starts, how many numbers of what width */
typedef struct ModelSection
{
	uint64_t	offset;			/* in the native layout (varlena header included) */
	uint64_t	count;
	int			width;			/* 1, 4 or 8 bytes */
} ModelSection;

#define MAX_SECTIONS 10

static int	ModelFail(RecModelError *err, int code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Formats an error into err and returns its code */
static int
ModelFail(RecModelError *err, int code, const char *fmt,...)
{
	va_list		ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* Lists the sections present in a model with a checked header, in layout order */
static int
ModelSections(const RecModelHeader *h, ModelSection *s)
{
	RecModelLayout l;
	uint64_t	nu = (uint64_t) h->n_users;
	uint64_t	ni = (uint64_t) h->n_items;
	uint64_t	k = (uint64_t) h->factors;
	int			n = 0;

	RecModelComputeLayout(h, &l);
	s[n++] = (ModelSection) {l.options, h->options_len, 1};
	s[n++] = (ModelSection) {l.user_ids, nu, 8};
	s[n++] = (ModelSection) {l.item_ids, ni, 8};
	s[n++] = (ModelSection) {l.user_factors, nu * k, 4};
	s[n++] = (ModelSection) {l.item_factors, ni * k, 4};
	if (l.user_bias)
	{
		s[n++] = (ModelSection) {l.user_bias, nu, 4};
		s[n++] = (ModelSection) {l.item_bias, ni, 4};
	}
	s[n++] = (ModelSection) {l.item_count, ni, 4};
	if (l.seen_ptr)
	{
		s[n++] = (ModelSection) {l.seen_ptr, nu + 1, 8};
		s[n++] = (ModelSection) {l.seen_items, (uint64_t) h->n_seen, 4};
	}
	return n;
}

/* Writes the native number at src (width bytes) to dst big-endian */
static inline void
PutBigEndian(uint8_t *dst, const uint8_t *src, int width)
{
	uint64_t	v;

	switch (width)
	{
		case 1:
			dst[0] = src[0];
			return;
		case 2:
			{
				uint16_t	x;

				memcpy(&x, src, 2);
				v = x;
				break;
			}
		case 4:
			{
				uint32_t	x;

				memcpy(&x, src, 4);
				v = x;
				break;
			}
		default:
			memcpy(&v, src, 8);
			break;
	}
	for (int b = width - 1; b >= 0; b--)
	{
		dst[b] = (uint8_t) (v & 0xFF);
		v >>= 8;
	}
}

/* Reads a big-endian number of width bytes at src into native order at dst */
static inline void
GetBigEndian(uint8_t *dst, const uint8_t *src, int width)
{
	uint64_t	v = 0;

	for (int b = 0; b < width; b++)
		v = (v << 8) | src[b];
	switch (width)
	{
		case 1:
			dst[0] = (uint8_t) v;
			break;
		case 2:
			{
				uint16_t	x = (uint16_t) v;

				memcpy(dst, &x, 2);
				break;
			}
		case 4:
			{
				uint32_t	x = (uint32_t) v;

				memcpy(dst, &x, 4);
				break;
			}
		default:
			memcpy(dst, &v, 8);
			break;
	}
}

int
RecModelCheckHeader(const RecModelHeader *h, uint64_t *total, RecModelError *err)
{
	RecModelLayout l;

	if (h->magic != RECSYS_MODEL_MAGIC)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "bad magic number 0x%08" PRIX32 ", expected 0x%08" PRIX32,
						 h->magic, (uint32_t) RECSYS_MODEL_MAGIC);
	if (h->version != RECSYS_MODEL_VERSION)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "unsupported model format version %u, this build reads version %d",
						 (unsigned) h->version, RECSYS_MODEL_VERSION);
	if (h->algorithm != RECSYS_ALG_ALS && h->algorithm != RECSYS_ALG_IALS)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "unknown algorithm code %u",
						 (unsigned) h->algorithm);
	if (h->flags & ~(uint32_t) RECSYS_MODEL_KNOWN_FLAGS)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "unknown flags 0x%" PRIX32,
						 h->flags & ~(uint32_t) RECSYS_MODEL_KNOWN_FLAGS);
	if (h->algorithm == RECSYS_ALG_IALS && (h->flags & RECSYS_MODEL_HAS_BIASES))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "an implicit model cannot have biases");
	if (h->reserved != 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "reserved field is %" PRIu32 ", must be 0",
						 h->reserved);
	if (h->factors < 1 || h->factors > RECSYS_MAX_FACTORS)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "factors must be between 1 and %d, got %" PRId32,
						 RECSYS_MAX_FACTORS, h->factors);
	/* training never makes an empty model, and evaluate divides by n_items */
	if (h->n_users < 1 || h->n_items < 1)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "a model has at least one user and one item, got %" PRId32
						 " users and %" PRId32 " items",
						 h->n_users, h->n_items);
	if (h->iterations < 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "negative iteration count %" PRId32,
						 h->iterations);
	if (h->n_interactions < 0 ||
		h->n_interactions > (int64_t) h->n_users * h->n_items)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "interaction count %" PRId64 " out of range 0..%" PRId64,
						 h->n_interactions, (int64_t) h->n_users * h->n_items);
	if (h->n_seen < 0 || (uint64_t) h->n_seen > RECSYS_MODEL_MAX_BYTES / 4)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "seen-item count %" PRId64 " out of range", h->n_seen);
	if (!(h->flags & RECSYS_MODEL_HAS_INTERACTIONS) && h->n_seen != 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "seen-item count is %" PRId64 " but the model keeps no interactions",
						 h->n_seen);
	if ((h->flags & RECSYS_MODEL_HAS_INTERACTIONS) && h->n_seen != h->n_interactions)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "seen-item count %" PRId64 " differs from interaction count %" PRId64,
						 h->n_seen, h->n_interactions);
	if (h->options_len < 1 || h->options_len > RECSYS_MODEL_MAX_BYTES)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "options length %" PRIu32 " out of range",
						 h->options_len);
	if (h->peak_bytes < 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "negative peak_bytes %" PRId64,
						 h->peak_bytes);
	if (!isfinite(h->global_mean) || !isfinite(h->rating_min) ||
		!isfinite(h->rating_max) || !isfinite(h->train_loss))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "global_mean, rating_min, rating_max and train_loss must be finite");
	if (!(fabsf(h->global_mean) <= RECSYS_MODEL_MAX_BIAS))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "global_mean %g is beyond the limit %g",
						 (double) h->global_mean, (double) RECSYS_MODEL_MAX_BIAS);
	/* implicit scores are x.y alone: predict ignores mu, recommend would add it */
	if (h->algorithm == RECSYS_ALG_IALS && h->global_mean != 0.0f)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "an implicit model has global_mean 0, got %g",
						 (double) h->global_mean);
	if (h->rating_min > h->rating_max)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "rating_min %g is greater than rating_max %g",
						 (double) h->rating_min, (double) h->rating_max);
	if (!isfinite(h->train_seconds) || h->train_seconds < 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "train_seconds must be finite and not negative");

	/* counts are bounded now: n * k * 4 < 2^43, so the layout cannot overflow */
	RecModelComputeLayout(h, &l);
	if (l.total > RECSYS_MODEL_MAX_BYTES)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "model of %" PRIu64 " bytes exceeds the maximum of %" PRIu64 " bytes",
						 l.total, RECSYS_MODEL_MAX_BYTES);
	*total = l.total;
	err->code = RECSYS_MODEL_OK;
	err->msg[0] = '\0';
	return RECSYS_MODEL_OK;
}

/*
 * Checks that every number of a rows x width matrix is finite and at most
 * limit in magnitude; names the first offending row by its id.
 */
static int
CheckMagnitudes(const float *x, uint64_t rows, uint64_t width, const int64_t *ids,
				const char *what, float limit, RecModelError *err)
{
	for (uint64_t r = 0; r < rows; r++)
		for (uint64_t j = 0; j < width; j++)
		{
			float		f = x[r * width + j];

			/* written so that NaN fails too */
			if (!(fabsf(f) <= limit))
			{
				char		num[32];

				if (isnan(f))
					strcpy(num, "NaN");
				else if (isinf(f))
					strcpy(num, f > 0 ? "Infinity" : "-Infinity");
				else
					snprintf(num, sizeof(num), "%g", (double) f);
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "%s %" PRId64 " is %s, it must be finite and at most %g in magnitude",
								 what, ids[r], num, (double) limit);
			}
		}
	return RECSYS_MODEL_OK;
}

/* True for the ASCII whitespace JSON allows between tokens */
static inline bool
IsJsonSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* longest JSON number in options, and largest exponent (numeric_in takes 1000) */
#define OPTIONS_MAX_NUMBER	64
#define OPTIONS_MAX_EXPONENT 999

/*
 * Scans a JSON number at s[*pos] (grammar of RFC 8259) of at most
 * OPTIONS_MAX_NUMBER characters and exponent at most OPTIONS_MAX_EXPONENT.
 */
static bool
ScanJsonNumber(const char *s, size_t len, size_t *pos)
{
	size_t		p = *pos;
	size_t		start = p;
	int			exponent = 0;

	if (p < len && s[p] == '-')
		p++;
	if (p < len && s[p] == '0')
		p++;
	else if (p < len && s[p] >= '1' && s[p] <= '9')
		while (p < len && s[p] >= '0' && s[p] <= '9')
			p++;
	else
		return false;
	if (p < len && s[p] == '.')
	{
		p++;
		if (!(p < len && s[p] >= '0' && s[p] <= '9'))
			return false;
		while (p < len && s[p] >= '0' && s[p] <= '9')
			p++;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E'))
	{
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (!(p < len && s[p] >= '0' && s[p] <= '9'))
			return false;
		while (p < len && s[p] >= '0' && s[p] <= '9')
		{
			exponent = exponent * 10 + (s[p] - '0');
			if (exponent > OPTIONS_MAX_EXPONENT)
				return false;
			p++;
		}
	}
	if (p - start > OPTIONS_MAX_NUMBER)
		return false;
	*pos = p;
	return true;
}

/*
 * The options section must be what training writes, in the form the backend can
 * read without surprises: a flat JSON object whose values are numbers, strings,
 * true, false or null, in printable ASCII (valid in every server encoding) with
 * no escape sequences (so no \u0000 and nothing jsonb would refuse).  Which keys
 * and values are allowed is the training option parser's business (model.c).
 */
static int
CheckOptionsText(const char *s, size_t len, RecModelError *err)
{
	size_t		p = 0;
	const char *q;
	bool		closed = false;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!(c >= 0x20 && c <= 0x7E) && !IsJsonSpace((char) c))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "options hold byte 0x%02X at offset %zu, only printable ASCII is allowed",
							 (unsigned) c, i);
		if (c == '\\')
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "options hold an escape sequence at offset %zu", i);
	}

#define SKIP_SPACE() while (p < len && IsJsonSpace(s[p])) p++
	SKIP_SPACE();
	if (p >= len || s[p] != '{')
		return ModelFail(err, RECSYS_MODEL_EBINARY, "options are not a JSON object");
	p++;
	SKIP_SPACE();
	if (p < len && s[p] == '}')
	{
		p++;
		closed = true;
	}
	while (!closed)
	{
		/* "key" : value, then ',' or '}' */
		if (p >= len || s[p] != '"' || (q = memchr(s + p + 1, '"', len - p - 1)) == NULL)
			break;
		p = (size_t) (q - s) + 1;
		SKIP_SPACE();
		if (p >= len || s[p] != ':')
			break;
		p++;
		SKIP_SPACE();
		if (p < len && s[p] == '"')
		{
			if ((q = memchr(s + p + 1, '"', len - p - 1)) == NULL)
				break;
			p = (size_t) (q - s) + 1;
		}
		else if (len - p >= 4 && memcmp(s + p, "true", 4) == 0)
			p += 4;
		else if (len - p >= 5 && memcmp(s + p, "false", 5) == 0)
			p += 5;
		else if (len - p >= 4 && memcmp(s + p, "null", 4) == 0)
			p += 4;
		else if (!ScanJsonNumber(s, len, &p))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "options value at offset %zu is not a number of at most %d characters, a string, true, false or null",
							 p, OPTIONS_MAX_NUMBER);
		SKIP_SPACE();
		if (p < len && s[p] == ',')
		{
			p++;
			SKIP_SPACE();
		}
		else if (p < len && s[p] == '}')
		{
			p++;
			closed = true;
		}
		else
			break;
	}
	SKIP_SPACE();
#undef SKIP_SPACE
	if (!closed || p != len)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "options are not a flat JSON object (syntax error at offset %zu)", p);
	return RECSYS_MODEL_OK;
}

/* Checks that ids[n] is strictly increasing; names the first offending position */
static int
CheckIdsSorted(const int64_t *ids, int32_t n, const char *what, RecModelError *err)
{
	for (int32_t i = 1; i < n; i++)
		if (ids[i] <= ids[i - 1])
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "%s ids not strictly increasing at position %" PRId32
							 " (%" PRId64 " after %" PRId64 ")",
							 what, i, ids[i], ids[i - 1]);
	return RECSYS_MODEL_OK;
}

int
RecModelCheckPayload(const RecModelHeader *h, RecModelError *err)
{
	RecModelView v;
	uint64_t	nu = (uint64_t) h->n_users;
	uint64_t	ni = (uint64_t) h->n_items;
	uint64_t	k = (uint64_t) h->factors;
	int64_t		count_sum = 0;

	RecModelGetView(h, &v);

	if (v.options[h->options_len - 1] != '\0' ||
		memchr(v.options, '\0', h->options_len - 1) != NULL)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "options must be a string of %" PRIu32 " bytes ending in its only NUL",
						 h->options_len);
	if (CheckOptionsText(v.options, h->options_len - 1, err) ||
		CheckIdsSorted(v.user_ids, h->n_users, "user", err) ||
		CheckIdsSorted(v.item_ids, h->n_items, "item", err) ||
		CheckMagnitudes(v.user_factors, nu, k, v.user_ids, "a factor of user",
						RECSYS_MODEL_MAX_FACTOR, err) ||
		CheckMagnitudes(v.item_factors, ni, k, v.item_ids, "a factor of item",
						RECSYS_MODEL_MAX_FACTOR, err))
		return err->code;
	if (v.user_bias &&
		(CheckMagnitudes(v.user_bias, nu, 1, v.user_ids, "the bias of user",
						 RECSYS_MODEL_MAX_BIAS, err) ||
		 CheckMagnitudes(v.item_bias, ni, 1, v.item_ids, "the bias of item",
						 RECSYS_MODEL_MAX_BIAS, err)))
		return err->code;
	for (uint64_t i = 0; i < ni; i++)
	{
		if (v.item_count[i] < 0)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "negative interaction count for item %" PRId64,
							 v.item_ids[i]);
		count_sum += v.item_count[i];
	}
	if (count_sum != h->n_interactions)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "item interaction counts add up to %" PRId64 ", the header says %" PRId64,
						 count_sum, h->n_interactions);
	if (v.seen_ptr)
	{
		if (v.seen_ptr[0] != 0 || v.seen_ptr[nu] != h->n_seen)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "seen-item rows must run from 0 to %" PRId64, h->n_seen);
		for (uint64_t u = 0; u < nu; u++)
		{
			int64_t		begin = v.seen_ptr[u],
						end = v.seen_ptr[u + 1];

			if (end < begin || end > h->n_seen)
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "seen-item row of user %" PRId64 " out of order",
								 v.user_ids[u]);
			for (int64_t j = begin; j < end; j++)
			{
				int32_t		it = v.seen_items[j];

				if (it < 0 || it >= h->n_items)
					return ModelFail(err, RECSYS_MODEL_EBINARY,
									 "seen item index %" PRId32 " out of range 0..%" PRId32,
									 it, h->n_items - 1);
				if (j > begin && it <= v.seen_items[j - 1])
					return ModelFail(err, RECSYS_MODEL_EBINARY,
									 "seen items of user %" PRId64 " not strictly increasing",
									 v.user_ids[u]);
			}
		}
	}
	err->code = RECSYS_MODEL_OK;
	err->msg[0] = '\0';
	return RECSYS_MODEL_OK;
}

uint64_t
RecModelBinarySize(const RecModelHeader *h)
{
	RecModelLayout l;

	RecModelComputeLayout(h, &l);
	return l.total - RECSYS_MODEL_VARHDR;
}

void
RecModelEncode(const RecModelHeader *h, uint8_t *out)
{
	const uint8_t *base = (const uint8_t *) h;
	ModelSection s[MAX_SECTIONS];
	int			ns = ModelSections(h, s);
	uint64_t	off = RECSYS_MODEL_VARHDR;

	memset(out, 0, RecModelBinarySize(h));
	for (size_t f = 0; f < sizeof(HeaderFieldWidths); f++)
	{
		PutBigEndian(out + off - RECSYS_MODEL_VARHDR, base + off, HeaderFieldWidths[f]);
		off += HeaderFieldWidths[f];
	}
	for (int i = 0; i < ns; i++)
	{
		uint64_t	o = s[i].offset;

		for (uint64_t e = 0; e < s[i].count; e++, o += s[i].width)
			PutBigEndian(out + o - RECSYS_MODEL_VARHDR, base + o, s[i].width);
	}
}

/* Reads the header fields of the binary form (at least BINARY_HEADER_BYTES) */
static void
DecodeHeaderFields(const uint8_t *buf, RecModelHeader *h)
{
	uint8_t    *base = (uint8_t *) h;
	uint64_t	off = RECSYS_MODEL_VARHDR;

	memset(h, 0, sizeof(*h));
	for (size_t f = 0; f < sizeof(HeaderFieldWidths); f++)
	{
		GetBigEndian(base + off, buf + off - RECSYS_MODEL_VARHDR, HeaderFieldWidths[f]);
		off += HeaderFieldWidths[f];
	}
}

int
RecModelDecodeHeader(const uint8_t *buf, size_t len, RecModelHeader *h,
					 uint64_t *total, RecModelError *err)
{
	if (len < BINARY_HEADER_BYTES)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "model truncated: %zu bytes, the header alone needs %zu",
						 len, (size_t) BINARY_HEADER_BYTES);
	DecodeHeaderFields(buf, h);
	if (RecModelCheckHeader(h, total, err) != RECSYS_MODEL_OK)
		return err->code;
	if ((uint64_t) len != *total - RECSYS_MODEL_VARHDR)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "model %s: %zu bytes, its header describes %" PRIu64,
						 (uint64_t) len < *total - RECSYS_MODEL_VARHDR ? "truncated" : "has trailing bytes",
						 len, *total - RECSYS_MODEL_VARHDR);
	return RECSYS_MODEL_OK;
}

int
RecModelDecodeBody(const uint8_t *buf, size_t len, RecModelHeader *dst,
				   RecModelError *err)
{
	RecModelHeader h;
	uint64_t	total;
	ModelSection s[MAX_SECTIONS];
	int			ns;
	uint8_t    *base = (uint8_t *) dst;
	uint64_t	pos;

	if (RecModelDecodeHeader(buf, len, &h, &total, err) != RECSYS_MODEL_OK)
		return err->code;
	memset(dst, 0, total);
	memcpy(dst, &h, sizeof(h));

	/* sections, and the zero padding in front of each one and at the end */
	ns = ModelSections(&h, s);
	pos = sizeof(RecModelHeader);
	for (int i = 0; i <= ns; i++)
	{
		uint64_t	start = (i < ns) ? s[i].offset : total;

		for (; pos < start; pos++)
			if (buf[pos - RECSYS_MODEL_VARHDR] != 0)
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "non-zero padding byte at offset %" PRIu64,
								 pos - RECSYS_MODEL_VARHDR);
		if (i == ns)
			break;
		for (uint64_t e = 0; e < s[i].count; e++, pos += s[i].width)
			GetBigEndian(base + pos, buf + pos - RECSYS_MODEL_VARHDR, s[i].width);
	}
	return RecModelCheckPayload(dst, err);
}

/* base64 ----------------------------------------------------------------- */

static const char Base64Alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
RecBase64EncodedLen(size_t n)
{
	return (n + 2) / 3 * 4;
}

void
RecBase64Encode(const uint8_t *src, size_t n, char *dst)
{
	size_t		i = 0;

	for (; i + 3 <= n; i += 3)
	{
		uint32_t	w = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8) | src[i + 2];

		*dst++ = Base64Alphabet[(w >> 18) & 63];
		*dst++ = Base64Alphabet[(w >> 12) & 63];
		*dst++ = Base64Alphabet[(w >> 6) & 63];
		*dst++ = Base64Alphabet[w & 63];
	}
	if (n - i == 1)
	{
		uint32_t	w = (uint32_t) src[i] << 16;

		*dst++ = Base64Alphabet[(w >> 18) & 63];
		*dst++ = Base64Alphabet[(w >> 12) & 63];
		*dst++ = '=';
		*dst++ = '=';
	}
	else if (n - i == 2)
	{
		uint32_t	w = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8);

		*dst++ = Base64Alphabet[(w >> 18) & 63];
		*dst++ = Base64Alphabet[(w >> 12) & 63];
		*dst++ = Base64Alphabet[(w >> 6) & 63];
		*dst++ = '=';
	}
}

size_t
RecBase64DecodedMaxLen(size_t n)
{
	return n / 4 * 3;
}

/* Value of one base64 character, or -1 */
static inline int
Base64Value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict decoding: length a multiple of 4, '=' only as one or two final pad
 * characters, and unused bits of the last group zero, so every byte string has
 * exactly one accepted spelling.
 */
int
RecBase64Decode(const char *src, size_t n, uint8_t *dst, size_t *outlen,
				RecModelError *err)
{
	size_t		o = 0;

	if (n % 4 != 0)
		return ModelFail(err, RECSYS_MODEL_ETEXT,
						 "base64 length %zu is not a multiple of 4", n);
	for (size_t i = 0; i < n; i += 4)
	{
		int			v[4];
		int			pad = 0;
		uint32_t	w;

		for (int j = 0; j < 4; j++)
		{
			char		c = src[i + j];

			if (c == '=' && i + 4 == n && j >= 2)
			{
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = Base64Value(c);
			if (v[j] < 0 || pad > 0)
				return ModelFail(err, RECSYS_MODEL_ETEXT,
								 "invalid base64 character at position %zu", i + j + 1);
		}
		w = ((uint32_t) v[0] << 18) | ((uint32_t) v[1] << 12) | ((uint32_t) v[2] << 6) | v[3];
		if ((pad == 1 && (w & 0xFF) != 0) || (pad == 2 && (w & 0xFFFF) != 0))
			return ModelFail(err, RECSYS_MODEL_ETEXT,
							 "non-canonical base64 padding at position %zu", i + 1);
		dst[o++] = (uint8_t) (w >> 16);
		if (pad < 2)
			dst[o++] = (uint8_t) (w >> 8);
		if (pad < 1)
			dst[o++] = (uint8_t) w;
	}
	*outlen = o;
	return RECSYS_MODEL_OK;
}

/* True for the ASCII whitespace the text form may be surrounded by */
static inline bool
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int
RecModelTextPayload(const char *text, size_t len, const char **b64, size_t *b64len,
					RecModelError *err)
{
	size_t		plen = strlen(RECSYS_MODEL_TEXT_PREFIX);

	while (len > 0 && IsSpace(*text))
		text++, len--;
	while (len > 0 && IsSpace(text[len - 1]))
		len--;
	if (len < plen || memcmp(text, RECSYS_MODEL_TEXT_PREFIX, plen) != 0)
		return ModelFail(err, RECSYS_MODEL_ETEXT,
						 "a model in text form starts with \"%s\"", RECSYS_MODEL_TEXT_PREFIX);
	*b64 = text + plen;
	*b64len = len - plen;
	err->code = RECSYS_MODEL_OK;
	return RECSYS_MODEL_OK;
}
