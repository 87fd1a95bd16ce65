/*
 * modelio.h
 *		Portable binary and text forms of recsys.model, and full validation.
 *
 * Plain C (no PostgreSQL headers) so the fuzz targets can include modelio.c.  The
 * binary form is the model.h layout without the 4-byte varlena header, every field
 * big-endian (floats as their IEEE-754 bit pattern), padding bytes zero.  The text
 * form is RECSYS_MODEL_TEXT_PREFIX followed by the base64 of the binary form.
 */
#ifndef RECSYS_MODELIO_H
#define RECSYS_MODELIO_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* largest VARSIZE a model may have (a varlena holds at most 1 GB - 1) */
#define RECSYS_MODEL_MAX_BYTES	((uint64_t) 0x3FFFFFFF)

/* bytes of the varlena header the binary form leaves out */
#define RECSYS_MODEL_VARHDR		4

/* result codes */
#define RECSYS_MODEL_OK			0
#define RECSYS_MODEL_EBINARY	1	/* malformed binary form or payload */
#define RECSYS_MODEL_ETEXT		2	/* malformed text form (prefix or base64) */

typedef struct RecModelError
{
	int			code;			/* RECSYS_MODEL_* */
	char		msg[200];		/* lower case, no period */
} RecModelError;

/*
 * Header checks that need no payload: magic, version, algorithm, flags, reserved,
 * factors, at least one user and one item, counts bounded so RecModelComputeLayout
 * cannot overflow and the total fits in a varlena, finite statistics, a mean within
 * RECSYS_MODEL_MAX_BIAS (0 for implicit models).  On success *total is the value's
 * VARSIZE.
 */
extern int	RecModelCheckHeader(const RecModelHeader *h, uint64_t *total,
								RecModelError *err);

/*
 * Full validation of a native model whose header passed RecModelCheckHeader and
 * whose memory holds the whole layout: the options' syntax (a flat JSON object in
 * printable ASCII without escapes; which keys and values are allowed is checked by
 * the backend, options.h), sorted ids, factors and biases within the model.h
 * limits, item counts adding up to the interaction count, the CSR of seen items.
 */
extern int	RecModelCheckPayload(const RecModelHeader *h, RecModelError *err);

/* Bytes of the binary form of a valid native model */
extern uint64_t RecModelBinarySize(const RecModelHeader *h);

/* Writes the binary form of a valid native model to out[RecModelBinarySize(h)] */
extern void RecModelEncode(const RecModelHeader *h, uint8_t *out);

/*
 * First step of decoding: reads and checks the header of buf[len] into *h and
 * checks len against the layout; *total is the VARSIZE the caller must allocate.
 */
extern int	RecModelDecodeHeader(const uint8_t *buf, size_t len,
								 RecModelHeader *h, uint64_t *total,
								 RecModelError *err);

/*
 * Second step: fills dst (total bytes, as from RecModelDecodeHeader; the varlena
 * length word is left to the caller) from buf[len] and validates the whole value.
 */
extern int	RecModelDecodeBody(const uint8_t *buf, size_t len, RecModelHeader *dst,
							   RecModelError *err);

/* base64 (RFC 4648 alphabet, padded, no line breaks) */
extern size_t RecBase64EncodedLen(size_t n);
extern void RecBase64Encode(const uint8_t *src, size_t n, char *dst);
extern size_t RecBase64DecodedMaxLen(size_t n);
extern int	RecBase64Decode(const char *src, size_t n, uint8_t *dst, size_t *outlen,
							RecModelError *err);

/*
 * Splits the text form: skips surrounding whitespace, checks the prefix and returns
 * the base64 part as [*b64, *b64 + *b64len).
 */
extern int	RecModelTextPayload(const char *text, size_t len, const char **b64,
								size_t *b64len, RecModelError *err);

#endif							/* RECSYS_MODELIO_H */
