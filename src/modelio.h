/*
 * modelio.h
 *		The model format's rules (which algorithm holds which sections), full
 *		validation, and the portable binary and text forms of recsys.model.
 *
 * Plain C (no PostgreSQL headers) so the fuzz targets can include modelio.c.  The
 * binary form is the model.h layout without the 4-byte varlena header, every field
 * big-endian (floats as their IEEE-754 bit pattern), padding bytes zero.  The text
 * form is RECSYS_MODEL_TEXT_PREFIX followed by the base64 of the binary form.
 * Writers write format v2 only; readers also take v1 (0.1.0), which decoding
 * turns into the v2 layout and encoding writes as v2.
 */
#ifndef RECSYS_MODELIO_H
#define RECSYS_MODELIO_H

#include <stdbool.h>
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

/* --- the algorithm table: what each model kind holds ------------------------ */

/* SQL name of an algorithm code ("als", "ials", "knn", "ease"), NULL if unknown */
extern const char *RecModelAlgorithmName(int algorithm);

/*
 * True for a factor model scored by x_u . y_i alone, with no mean, biases or
 * clipping: implicit ALS, dense content, implicit hybrid
 */
extern bool RecModelImplicit(const RecModelHeader *h);

/* True for algorithms whose models hold user and item factors */
extern bool RecModelAlgorithmHasFactors(int algorithm);

/* Name of a section tag as messages show it ("item ids"), NULL if unknown */
extern const char *RecModelTagName(uint32_t tag);

/*
 * The tags (bit 1 << tag) a model of this algorithm and flags holds: the
 * algorithm's required sections plus those its flags declare.
 */
extern uint32_t RecModelExpectedTags(int algorithm, uint32_t flags);

/*
 * The canonical v2 directory of a shape (ascending tags, each section on the
 * first 8-byte boundary after the previous one): fills dir (at most
 * RECSYS_MODEL_MAX_SECTIONS entries), returns the entry count and sets *total to
 * the VARSIZE, or to UINT64_MAX when a count is negative or the value could not
 * fit RECSYS_MODEL_MAX_BYTES.
 */
extern int	RecModelShapeLayout(const RecModelShape *shape, RecModelSection *dir,
								uint64_t *total);

/*
 * Writes the v2 header fields a shape determines (magic, version, algorithm,
 * flags, counts, options_len, n_sections, reserved 0) and its directory to m,
 * which has room for the whole layout; statistics and sections are left as
 * they are.
 */
extern void RecModelInitHeader(RecModelHeader *m, const RecModelShape *shape,
							   const RecModelSection *dir, int n_sections);

/* The shape of a model with a checked header and directory (v1 or v2) */
extern void RecModelShapeOf(const RecModelHeader *h, RecModelShape *shape);

/* --- checks -------------------------------------------------------------- */

/*
 * Checks of the fixed header alone: magic, version, algorithm, flags against
 * the algorithm, reserved fields, factors, at least one user and one item,
 * counts bounded so no layout arithmetic can overflow, finite statistics, a
 * mean within RECSYS_MODEL_MAX_BIAS (0 for implicit models and EASE), the
 * directory size.
 */
extern int	RecModelCheckFixedHeader(const RecModelHeader *h, RecModelError *err);

/*
 * Bytes a reader must have in memory to check the layout of a model whose fixed
 * header passed: the v1 header, or the v2 header and its directory.
 */
extern uint64_t RecModelHeaderBytes(const RecModelHeader *h);

/*
 * The layout of a model whose fixed header passed, before any section is read.
 * v1: the counts give the size.  v2: every directory entry (dir, n_sections of
 * them) is a known tag the algorithm and flags call for, in ascending order,
 * with the element size and count the header's counts give, aligned, exactly
 * after the previous section (no overlap, no gap), within the maximum size; and
 * every section the model needs is present.  On success *total is the VARSIZE.
 */
extern int	RecModelCheckDirectory(const RecModelHeader *h, const RecModelSection *dir,
								   uint64_t *total, RecModelError *err);

/*
 * Both checks, for a model in memory of at least RecModelHeaderBytes(h) bytes
 * (the directory follows the header).  On success *total is the VARSIZE.
 */
extern int	RecModelCheckHeader(const RecModelHeader *h, uint64_t *total,
								RecModelError *err);

/*
 * Full validation of a native model whose header passed RecModelCheckHeader and
 * whose memory holds the whole layout: the options' syntax (a flat JSON object in
 * printable ASCII without escapes; which keys and values are allowed is checked by
 * the backend, options.h), sorted ids, factors and biases within the model.h
 * limits, item counts adding up to the interaction count, the CSR of seen items
 * and finite seen values, the neighbour CSRs (rows monotone, indexes in range and
 * never the row itself, finite weights).
 */
extern int	RecModelCheckPayload(const RecModelHeader *h, RecModelError *err);

/*
 * Checks an ann_index section of count words of a model whose other sections
 * passed: its header against the model's shape, the size it gives, finite
 * centroids, lists that partition the items (RecAnnIndex in model.h).
 */
extern int	RecModelCheckAnn(const RecModelHeader *h, const int32_t *words, uint64_t count,
							 RecModelError *err);

/*
 * Copies every section of dst's directory that src (a valid model, v1 or v2)
 * also holds, but the tags in the skip mask (bit 1 << tag), from src to dst:
 * how a model gains or replaces a section of a new shape.
 */
extern void RecModelCopySections(const RecModelHeader *src, RecModelHeader *dst,
								 uint32_t skip);

/* --- binary form --------------------------------------------------------- */

/* Bytes of the (v2) binary form of a valid native model, v1 or v2 */
extern uint64_t RecModelBinarySize(const RecModelHeader *h);

/*
 * Writes the v2 binary form of a valid native model (a v1 value comes out
 * converted) to out[RecModelBinarySize(h)]
 */
extern void RecModelEncode(const RecModelHeader *h, uint8_t *out);

/*
 * VARSIZE of the v2 native form of a valid v1 native model, and the conversion
 * into dst (that many bytes; the varlena length word is left to the caller)
 */
extern uint64_t RecModelUpgradedSize(const RecModelHeader *v1);
extern void RecModelUpgrade(const RecModelHeader *v1, RecModelHeader *dst);

/*
 * First step of decoding: reads and checks the header (and directory) of
 * buf[len] into *h and checks len against the layout; *total is the VARSIZE of
 * the v2 native model the caller must allocate (for a v1 input, of its
 * conversion).
 */
extern int	RecModelDecodeHeader(const uint8_t *buf, size_t len,
								 RecModelHeader *h, uint64_t *total,
								 RecModelError *err);

/*
 * Second step: fills dst (total bytes, as from RecModelDecodeHeader; the varlena
 * length word is left to the caller) from buf[len] as a v2 native model and
 * validates the whole value.
 */
extern int	RecModelDecodeBody(const uint8_t *buf, size_t len, RecModelHeader *dst,
							   RecModelError *err);

/* --- text form ----------------------------------------------------------- */

/* base64 (RFC 4648 alphabet, padded, no line breaks) */
extern size_t RecBase64EncodedLen(size_t n);
extern void RecBase64Encode(const uint8_t *src, size_t n, char *dst);
extern size_t RecBase64DecodedMaxLen(size_t n);
extern int	RecBase64Decode(const char *src, size_t n, uint8_t *dst, size_t *outlen,
							RecModelError *err);

/*
 * Splits the text form: skips surrounding whitespace, checks the prefix (v2, or
 * v1 for values written by 0.1.0) and returns the base64 part as
 * [*b64, *b64 + *b64len) and the prefix's format version in *version.
 */
extern int	RecModelTextPayload(const char *text, size_t len, const char **b64,
								size_t *b64len, int *version, RecModelError *err);

/*
 * Checks that the decoded bytes of a text form are of the format version its
 * prefix names (a v1 prefix on a v2 value or the reverse is refused).
 */
extern int	RecModelCheckTextVersion(int version, const uint8_t *bin, size_t len,
									 RecModelError *err);

#endif							/* RECSYS_MODELIO_H */
