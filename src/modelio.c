/*
 * modelio.c
 *		The model format's rules, validation of recsys.model values and their
 *		portable binary and text forms.
 *
 * Everything that decides whether a sequence of bytes is a model lives here, in plain
 * C, so that the input functions in model.c stay thin and the fuzz targets can
 * exercise exactly the code the backend runs.  The algorithm table below says which
 * sections each kind of model holds; a v2 value's directory is checked against it
 * and against the header's counts before any section is read, and only then the
 * payload.  Each section is an array of fixed-width numbers that the binary form
 * stores big-endian; the gaps between sections are zero padding.  v1 values (0.1.0)
 * are read through the same checks, with their offsets derived from the counts, and
 * come out of decoding in the v2 layout.
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
	4, 4,						/* options_len, n_sections (v1: reserved) */
	8							/* reserved (v2 only) */
};

/* v1 has every field but the last */
#define HEADER_FIELDS_V1	(sizeof(HeaderFieldWidths) - 1)
#define BINARY_HEADER_BYTES_V1	(RECSYS_MODEL_V1_HEADER_SIZE - RECSYS_MODEL_VARHDR)
#define BINARY_HEADER_BYTES (sizeof(RecModelHeader) - RECSYS_MODEL_VARHDR)
#define DIRECTORY_ENTRY_BYTES sizeof(RecModelSection)

#define TAG_BIT(t)	((uint32_t) 1 << (t))

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


/* --- the algorithm table ------------------------------------------------- */

#define TAGS_IDS	(TAG_BIT(RECSYS_TAG_OPTIONS) | TAG_BIT(RECSYS_TAG_USER_IDS) | \
					 TAG_BIT(RECSYS_TAG_ITEM_IDS) | TAG_BIT(RECSYS_TAG_ITEM_COUNT))
#define TAGS_FACTORS	(TAG_BIT(RECSYS_TAG_USER_FACTORS) | TAG_BIT(RECSYS_TAG_ITEM_FACTORS))
#define TAGS_BIASES		(TAG_BIT(RECSYS_TAG_USER_BIAS) | TAG_BIT(RECSYS_TAG_ITEM_BIAS))
#define TAGS_SEEN		(TAG_BIT(RECSYS_TAG_SEEN_PTR) | TAG_BIT(RECSYS_TAG_SEEN_ITEMS))
#define TAGS_ITEM_NBR	(TAG_BIT(RECSYS_TAG_ITEM_NBR_PTR) | TAG_BIT(RECSYS_TAG_ITEM_NBR_IDX) | \
						 TAG_BIT(RECSYS_TAG_ITEM_NBR_WEIGHT))
#define TAGS_USER_NBR	(TAG_BIT(RECSYS_TAG_USER_NBR_PTR) | TAG_BIT(RECSYS_TAG_USER_NBR_IDX) | \
						 TAG_BIT(RECSYS_TAG_USER_NBR_WEIGHT))
#define TAGS_TEXT	(TAG_BIT(RECSYS_TAG_FEATURE_PTR) | TAG_BIT(RECSYS_TAG_FEATURE_IDX) | \
					 TAG_BIT(RECSYS_TAG_FEATURE_VALUES) | TAG_BIT(RECSYS_TAG_VOCABULARY) | \
					 TAG_BIT(RECSYS_TAG_IDF) | TAG_BIT(RECSYS_TAG_TERM_PTR) | \
					 TAG_BIT(RECSYS_TAG_TERM_ITEMS) | TAG_BIT(RECSYS_TAG_TERM_VALUES))

/*
 * One row per algorithm: the sections every model of it holds and the flags it
 * must and may have (each flag adds its sections, see ExpectedTags).  Adding an
 * algorithm's format is a row here.
 */
typedef struct AlgorithmFormat
{
	int			code;			/* RECSYS_ALG_* */
	const char *name;			/* SQL name: the training aggregate's suffix */
	bool		factors;		/* holds user and item factors (factors >= 1) */
	bool		zero_mean;		/* global_mean is 0 unless the model has biases */
	uint32_t	tags;			/* sections always present */
	uint32_t	required_flags;
	uint32_t	allowed_flags;
} AlgorithmFormat;

static const AlgorithmFormat AlgorithmFormats[] = {
	{RECSYS_ALG_ALS, "als", true, false, TAGS_IDS | TAGS_FACTORS,
		0, RECSYS_MODEL_HAS_BIASES | RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES |
		RECSYS_MODEL_HAS_ANN_INDEX},
	{RECSYS_ALG_IALS, "ials", true, true, TAGS_IDS | TAGS_FACTORS,
		0, RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES | RECSYS_MODEL_HAS_ANN_INDEX},
	/* item kNN by default; the user-neighbour flag swaps the neighbour sections */
	{RECSYS_ALG_KNN, "knn", false, true, TAGS_IDS | TAGS_ITEM_NBR,
		RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES,
		RECSYS_MODEL_HAS_BIASES | RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES |
		RECSYS_MODEL_USER_NEIGHBOURS},
	{RECSYS_ALG_EASE, "ease", false, true, TAGS_IDS | TAGS_ITEM_NBR,
		RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES,
		RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES},
	/* dense content: L2-normalised item features and user profiles as factors */
	{RECSYS_ALG_CONTENT, "content", true, true, TAGS_IDS | TAGS_FACTORS,
		0, RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES},
	/* hybrid: implicit (or, flagged, explicit) ALS factors, cold items mapped */
	{RECSYS_ALG_HYBRID, "hybrid", true, false, TAGS_IDS | TAGS_FACTORS,
		0, RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES | RECSYS_MODEL_EXPLICIT},
	/* text content: TF-IDF vectors; profiles come from the seen interactions */
	{RECSYS_ALG_TEXT, "content_text", false, true, TAGS_IDS | TAGS_TEXT,
		RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES,
		RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES},
};

/* Names of the section tags, by tag; reserved tags are named for the message */
static const char *const TagNames[RECSYS_TAG_LAST_RESERVED + 1] = {
	[RECSYS_TAG_OPTIONS] = "options",
	[RECSYS_TAG_USER_IDS] = "user ids",
	[RECSYS_TAG_ITEM_IDS] = "item ids",
	[RECSYS_TAG_USER_FACTORS] = "user factors",
	[RECSYS_TAG_ITEM_FACTORS] = "item factors",
	[RECSYS_TAG_USER_BIAS] = "user biases",
	[RECSYS_TAG_ITEM_BIAS] = "item biases",
	[RECSYS_TAG_ITEM_COUNT] = "item popularity",
	[RECSYS_TAG_SEEN_PTR] = "seen rows",
	[RECSYS_TAG_SEEN_ITEMS] = "seen items",
	[RECSYS_TAG_SEEN_VALUES] = "seen values",
	[RECSYS_TAG_ITEM_NBR_PTR] = "item-neighbour rows",
	[RECSYS_TAG_ITEM_NBR_IDX] = "item-neighbour indexes",
	[RECSYS_TAG_ITEM_NBR_WEIGHT] = "item-neighbour weights",
	[RECSYS_TAG_USER_NBR_PTR] = "user-neighbour rows",
	[RECSYS_TAG_USER_NBR_IDX] = "user-neighbour indexes",
	[RECSYS_TAG_USER_NBR_WEIGHT] = "user-neighbour weights",
	[RECSYS_TAG_FEATURES] = "feature matrix",
	[RECSYS_TAG_FEATURE_PTR] = "feature rows",
	[RECSYS_TAG_FEATURE_IDX] = "feature indexes",
	[RECSYS_TAG_FEATURE_VALUES] = "feature values",
	[RECSYS_TAG_VOCABULARY] = "vocabulary",
	[RECSYS_TAG_IDF] = "idf",
	[RECSYS_TAG_FEATURE_MAP] = "feature map",
	[RECSYS_TAG_ANN_INDEX] = "ANN index",
	[RECSYS_TAG_TERM_PTR] = "term rows",
	[RECSYS_TAG_TERM_ITEMS] = "term items",
	[RECSYS_TAG_TERM_VALUES] = "term values",
};

/* Bytes per element of each known tag (0: a reserved tag) */
static const uint8_t TagElemSize[RECSYS_TAG_LAST_KNOWN + 1] = {
	[RECSYS_TAG_OPTIONS] = 1,
	[RECSYS_TAG_USER_IDS] = 8,
	[RECSYS_TAG_ITEM_IDS] = 8,
	[RECSYS_TAG_USER_FACTORS] = 4,
	[RECSYS_TAG_ITEM_FACTORS] = 4,
	[RECSYS_TAG_USER_BIAS] = 4,
	[RECSYS_TAG_ITEM_BIAS] = 4,
	[RECSYS_TAG_ITEM_COUNT] = 4,
	[RECSYS_TAG_SEEN_PTR] = 8,
	[RECSYS_TAG_SEEN_ITEMS] = 4,
	[RECSYS_TAG_SEEN_VALUES] = 4,
	[RECSYS_TAG_ITEM_NBR_PTR] = 8,
	[RECSYS_TAG_ITEM_NBR_IDX] = 4,
	[RECSYS_TAG_ITEM_NBR_WEIGHT] = 4,
	[RECSYS_TAG_USER_NBR_PTR] = 8,
	[RECSYS_TAG_USER_NBR_IDX] = 4,
	[RECSYS_TAG_USER_NBR_WEIGHT] = 4,
	[RECSYS_TAG_FEATURE_PTR] = 8,
	[RECSYS_TAG_FEATURE_IDX] = 4,
	[RECSYS_TAG_FEATURE_VALUES] = 4,
	[RECSYS_TAG_VOCABULARY] = 1,
	[RECSYS_TAG_IDF] = 4,
	[RECSYS_TAG_TERM_PTR] = 8,
	[RECSYS_TAG_TERM_ITEMS] = 4,
	[RECSYS_TAG_ANN_INDEX] = 4,
	[RECSYS_TAG_TERM_VALUES] = 4,
};

/* The table row of an algorithm code, or NULL */
static const AlgorithmFormat *
FormatOf(int algorithm)
{
	for (size_t i = 0; i < sizeof(AlgorithmFormats) / sizeof(AlgorithmFormats[0]); i++)
		if (AlgorithmFormats[i].code == algorithm)
			return &AlgorithmFormats[i];
	return NULL;
}

const char *
RecModelAlgorithmName(int algorithm)
{
	const AlgorithmFormat *f = FormatOf(algorithm);

	return f ? f->name : NULL;
}

bool
RecModelImplicit(const RecModelHeader *h)
{
	return h->algorithm == RECSYS_ALG_IALS || h->algorithm == RECSYS_ALG_CONTENT ||
		(h->algorithm == RECSYS_ALG_HYBRID && !(h->flags & RECSYS_MODEL_EXPLICIT));
}

bool
RecModelAlgorithmHasFactors(int algorithm)
{
	const AlgorithmFormat *f = FormatOf(algorithm);

	return f != NULL && f->factors;
}

const char *
RecModelTagName(uint32_t tag)
{
	return tag <= RECSYS_TAG_LAST_RESERVED ? TagNames[tag] : NULL;
}

/* "a" or "an" before an algorithm's name */
static const char *
Article(const char *name)
{
	return strchr("aeiou", name[0]) ? "an" : "a";
}

/* The sections a flag adds to a model */
static uint32_t
FlagTags(uint32_t flags)
{
	uint32_t	tags = 0;

	if (flags & RECSYS_MODEL_HAS_BIASES)
		tags |= TAGS_BIASES;
	if (flags & RECSYS_MODEL_HAS_INTERACTIONS)
		tags |= TAGS_SEEN;
	if (flags & RECSYS_MODEL_HAS_SEEN_VALUES)
		tags |= TAG_BIT(RECSYS_TAG_SEEN_VALUES);
	if (flags & RECSYS_MODEL_HAS_ANN_INDEX)
		tags |= TAG_BIT(RECSYS_TAG_ANN_INDEX);
	return tags;
}

uint32_t
RecModelExpectedTags(int algorithm, uint32_t flags)
{
	const AlgorithmFormat *f = FormatOf(algorithm);
	uint32_t	tags;

	if (f == NULL)
		return 0;
	tags = f->tags | FlagTags(flags);
	if ((flags & RECSYS_MODEL_USER_NEIGHBOURS) && (f->tags & TAGS_ITEM_NBR))
		tags = (tags & ~TAGS_ITEM_NBR) | TAGS_USER_NBR;
	return tags;
}

/* Every tag a model of this algorithm may hold, whatever its flags */
static uint32_t
AllowedTags(const AlgorithmFormat *f)
{
	return RecModelExpectedTags(f->code, f->allowed_flags) |
		RecModelExpectedTags(f->code, f->allowed_flags & ~RECSYS_MODEL_USER_NEIGHBOURS);
}

/* Names of the flags, for messages */
static const char *
FlagName(uint32_t flag)
{
	switch (flag)
	{
		case RECSYS_MODEL_HAS_BIASES:
			return "biases";
		case RECSYS_MODEL_HAS_INTERACTIONS:
			return "interactions";
		case RECSYS_MODEL_HAS_SEEN_VALUES:
			return "seen values";
		case RECSYS_MODEL_USER_NEIGHBOURS:
			return "user neighbours";
		case RECSYS_MODEL_EXPLICIT:
			return "explicit";
		case RECSYS_MODEL_HAS_ANN_INDEX:
			return "ANN index";
	}
	return "unknown";
}

/*
 * Element count a section must have, from the shape's counts (the neighbour
 * index and weight sections: the shape's neighbour counts)
 */
static uint64_t
ShapeCount(const RecModelShape *s, uint32_t tag)
{
	uint64_t	nu = (uint64_t) s->n_users;
	uint64_t	ni = (uint64_t) s->n_items;
	uint64_t	k = (uint64_t) s->factors;

	switch (tag)
	{
		case RECSYS_TAG_OPTIONS:
			return s->options_len;
		case RECSYS_TAG_USER_IDS:
		case RECSYS_TAG_USER_BIAS:
			return nu;
		case RECSYS_TAG_ITEM_IDS:
		case RECSYS_TAG_ITEM_BIAS:
		case RECSYS_TAG_ITEM_COUNT:
			return ni;
		case RECSYS_TAG_USER_FACTORS:
			return nu * k;
		case RECSYS_TAG_ITEM_FACTORS:
			return ni * k;
		case RECSYS_TAG_SEEN_PTR:
		case RECSYS_TAG_USER_NBR_PTR:
			return nu + 1;
		case RECSYS_TAG_ITEM_NBR_PTR:
			return ni + 1;
		case RECSYS_TAG_SEEN_ITEMS:
		case RECSYS_TAG_SEEN_VALUES:
			return (uint64_t) s->n_seen;
		case RECSYS_TAG_ITEM_NBR_IDX:
		case RECSYS_TAG_ITEM_NBR_WEIGHT:
			return (uint64_t) s->n_item_neighbours;
		case RECSYS_TAG_USER_NBR_IDX:
		case RECSYS_TAG_USER_NBR_WEIGHT:
			return (uint64_t) s->n_user_neighbours;
		case RECSYS_TAG_FEATURE_PTR:
			return ni + 1;
		case RECSYS_TAG_FEATURE_IDX:
		case RECSYS_TAG_FEATURE_VALUES:
		case RECSYS_TAG_TERM_ITEMS:
		case RECSYS_TAG_TERM_VALUES:
			return (uint64_t) s->n_feature_entries;
		case RECSYS_TAG_VOCABULARY:
			return (uint64_t) s->vocabulary_bytes;
		case RECSYS_TAG_IDF:
			return (uint64_t) s->n_terms;
		case RECSYS_TAG_TERM_PTR:
			return (uint64_t) s->n_terms + 1;
		case RECSYS_TAG_ANN_INDEX:
			return (uint64_t) s->n_ann;
	}
	return 0;
}

int
RecModelShapeLayout(const RecModelShape *shape, RecModelSection *dir, uint64_t *total)
{
	uint32_t	tags = RecModelExpectedTags(shape->algorithm, shape->flags);
	int			n = 0;
	uint64_t	off;
	bool		too_big = false;

	for (uint32_t t = 1; t <= RECSYS_TAG_LAST_KNOWN; t++)
		if (tags & TAG_BIT(t))
			n++;
	off = RECSYS_ALIGN8(RECSYS_MODEL_DIR_END(n));
	n = 0;
	if (shape->n_users < 0 || shape->n_items < 0 || shape->factors < 0 ||
		shape->factors > RECSYS_MAX_FACTORS || shape->n_seen < 0 ||
		shape->n_item_neighbours < 0 || shape->n_user_neighbours < 0 ||
		shape->n_feature_entries < 0 || shape->n_terms < 0 || shape->vocabulary_bytes < 0 ||
		shape->n_ann < 0 || (uint64_t) shape->n_ann > RECSYS_MODEL_MAX_BYTES ||
		(uint64_t) shape->n_feature_entries > RECSYS_MODEL_MAX_BYTES ||
		(uint64_t) shape->n_terms > RECSYS_MODEL_MAX_BYTES ||
		(uint64_t) shape->vocabulary_bytes > RECSYS_MODEL_MAX_BYTES ||
		(uint64_t) shape->n_seen > RECSYS_MODEL_MAX_BYTES ||
		(uint64_t) shape->n_item_neighbours > RECSYS_MODEL_MAX_BYTES ||
		(uint64_t) shape->n_user_neighbours > RECSYS_MODEL_MAX_BYTES ||
		shape->options_len > RECSYS_MODEL_MAX_BYTES)
		too_big = true;
	for (uint32_t t = 1; t <= RECSYS_TAG_LAST_KNOWN; t++)
	{
		if (!(tags & TAG_BIT(t)))
			continue;
		dir[n].tag = t;
		dir[n].elem_size = TagElemSize[t];
		dir[n].count = too_big ? 0 : ShapeCount(shape, t);
		dir[n].offset = off;
		/* counts below 2^43 and offsets below 2^47: no overflow */
		off = RECSYS_ALIGN8(off + dir[n].count * dir[n].elem_size);
		if (off > RECSYS_MODEL_MAX_BYTES)
			too_big = true;
		n++;
	}
	*total = too_big ? UINT64_MAX : off;
	return n;
}

void
RecModelInitHeader(RecModelHeader *m, const RecModelShape *shape,
				   const RecModelSection *dir, int n_sections)
{
	m->magic = RECSYS_MODEL_MAGIC;
	m->version = RECSYS_MODEL_VERSION;
	m->algorithm = (uint16_t) shape->algorithm;
	m->flags = shape->flags;
	m->factors = shape->factors;
	m->n_users = shape->n_users;
	m->n_items = shape->n_items;
	m->n_seen = shape->n_seen;
	m->options_len = (uint32_t) shape->options_len;
	m->n_sections = (uint32_t) n_sections;
	m->reserved = 0;
	memcpy((char *) m + RECSYS_MODEL_DIR_OFFSET, dir, sizeof(RecModelSection) * n_sections);
}

/* The shape of a header whose directory (v2; NULL for v1) was checked */
static void
ShapeFrom(const RecModelHeader *h, const RecModelSection *dir, RecModelShape *shape)
{
	memset(shape, 0, sizeof(*shape));
	shape->algorithm = h->algorithm;
	shape->flags = h->flags;
	shape->factors = h->factors;
	shape->n_users = h->n_users;
	shape->n_items = h->n_items;
	shape->n_seen = h->n_seen;
	shape->options_len = h->options_len;
	if (dir == NULL)
		return;
	for (uint32_t i = 0; i < h->n_sections; i++)
	{
		if (dir[i].tag == RECSYS_TAG_ITEM_NBR_IDX)
			shape->n_item_neighbours = (int64_t) dir[i].count;
		if (dir[i].tag == RECSYS_TAG_USER_NBR_IDX)
			shape->n_user_neighbours = (int64_t) dir[i].count;
		if (dir[i].tag == RECSYS_TAG_FEATURE_IDX)
			shape->n_feature_entries = (int64_t) dir[i].count;
		if (dir[i].tag == RECSYS_TAG_VOCABULARY)
			shape->vocabulary_bytes = (int64_t) dir[i].count;
		if (dir[i].tag == RECSYS_TAG_IDF)
			shape->n_terms = (int64_t) dir[i].count;
		if (dir[i].tag == RECSYS_TAG_ANN_INDEX)
			shape->n_ann = (int64_t) dir[i].count;
	}
}

void
RecModelShapeOf(const RecModelHeader *h, RecModelShape *shape)
{
	ShapeFrom(h, h->version == RECSYS_MODEL_VERSION_V1 ? NULL : RecModelDirectory(h), shape);
}

/* --- checks -------------------------------------------------------------- */

int
RecModelCheckFixedHeader(const RecModelHeader *h, RecModelError *err)
{
	const AlgorithmFormat *f;
	bool		v1 = (h->version == RECSYS_MODEL_VERSION_V1);
	uint32_t	allowed;

	if (h->magic != RECSYS_MODEL_MAGIC)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "bad magic number 0x%08" PRIX32 ", expected 0x%08" PRIX32,
						 h->magic, (uint32_t) RECSYS_MODEL_MAGIC);
	if (h->version != RECSYS_MODEL_VERSION && !v1)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "unsupported model format version %u, this build reads versions 1 and %d",
						 (unsigned) h->version, RECSYS_MODEL_VERSION);
	f = FormatOf(h->algorithm);
	if (f == NULL || (v1 && !f->factors))
		return ModelFail(err, RECSYS_MODEL_EBINARY, "unknown algorithm code %u",
						 (unsigned) h->algorithm);
	allowed = v1 ? (RECSYS_MODEL_V1_FLAGS & f->allowed_flags) : f->allowed_flags;
	if (h->flags & ~(uint32_t) RECSYS_MODEL_KNOWN_FLAGS)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "unknown flags 0x%" PRIX32,
						 h->flags & ~(uint32_t) RECSYS_MODEL_KNOWN_FLAGS);
	if (RecModelImplicit(h) && (h->flags & RECSYS_MODEL_HAS_BIASES))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "an implicit model cannot have biases");
	for (uint32_t flag = 1; flag <= RECSYS_MODEL_KNOWN_FLAGS; flag <<= 1)
	{
		if ((h->flags & flag) && !(allowed & flag))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "%s %s model cannot have the %s flag%s", Article(f->name), f->name, FlagName(flag),
							 v1 ? " in format version 1" : "");
		if (!(h->flags & flag) && (f->required_flags & flag))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "%s %s model must have the %s flag", Article(f->name), f->name, FlagName(flag));
	}
	if ((h->flags & RECSYS_MODEL_HAS_SEEN_VALUES) && !(h->flags & RECSYS_MODEL_HAS_INTERACTIONS))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "a model with seen values must keep its interactions");
	if (v1)
	{
		/* n_sections was v1's reserved field */
		if (h->n_sections != 0)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "reserved field is %" PRIu32 ", must be 0", h->n_sections);
	}
	else
	{
		if (h->reserved != 0)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "reserved field is %" PRIu64 ", must be 0", h->reserved);
		if (h->n_sections < 1 || h->n_sections > RECSYS_MODEL_MAX_SECTIONS)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section count %" PRIu32 " out of range 1..%d",
							 h->n_sections, RECSYS_MODEL_MAX_SECTIONS);
	}
	if (f->factors && (h->factors < 1 || h->factors > RECSYS_MAX_FACTORS))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "factors must be between 1 and %d, got %" PRId32,
						 RECSYS_MAX_FACTORS, h->factors);
	if (!f->factors && h->factors != 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "%s %s model has no factors, got factors %" PRId32, Article(f->name), f->name, h->factors);
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
	if (RecModelImplicit(h) && h->global_mean != 0.0f)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "an implicit model has global_mean 0, got %g",
						 (double) h->global_mean);
	if (f->zero_mean && !(h->flags & RECSYS_MODEL_HAS_BIASES) && h->global_mean != 0.0f)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "%s %s model without biases has global_mean 0, got %g",
						 Article(f->name), f->name, (double) h->global_mean);
	if (h->rating_min > h->rating_max)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "rating_min %g is greater than rating_max %g",
						 (double) h->rating_min, (double) h->rating_max);
	if (!isfinite(h->train_seconds) || h->train_seconds < 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "train_seconds must be finite and not negative");
	err->code = RECSYS_MODEL_OK;
	err->msg[0] = '\0';
	return RECSYS_MODEL_OK;
}

uint64_t
RecModelHeaderBytes(const RecModelHeader *h)
{
	if (h->version == RECSYS_MODEL_VERSION_V1)
		return RECSYS_MODEL_V1_HEADER_SIZE;
	return RECSYS_MODEL_DIR_END(h->n_sections);
}

/* The name of a tag, or of what precedes the first section */
static const char *
PreviousName(int i, const RecModelSection *dir)
{
	return i == 0 ? "section directory" : TagNames[dir[i - 1].tag];
}

int
RecModelCheckDirectory(const RecModelHeader *h, const RecModelSection *dir,
					   uint64_t *total, RecModelError *err)
{
	const AlgorithmFormat *f = FormatOf(h->algorithm);
	RecModelShape shape;
	uint32_t	expected = RecModelExpectedTags(h->algorithm, h->flags);
	uint32_t	present = 0;
	uint64_t	pos;
	uint64_t	nbr_count[2] = {0, 0};	/* item, user neighbour entries */

	if (h->version == RECSYS_MODEL_VERSION_V1)
	{
		RecModelLayoutV1 l;

		/* counts are bounded now: n * k * 4 < 2^43, so the layout cannot overflow */
		RecModelComputeLayoutV1(h, &l);
		if (l.total > RECSYS_MODEL_MAX_BYTES)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "model of %" PRIu64 " bytes exceeds the maximum of %" PRIu64 " bytes",
							 l.total, RECSYS_MODEL_MAX_BYTES);
		*total = l.total;
		err->code = RECSYS_MODEL_OK;
		err->msg[0] = '\0';
		return RECSYS_MODEL_OK;
	}

	memset(&shape, 0, sizeof(shape));
	shape.factors = h->factors;
	shape.n_users = h->n_users;
	shape.n_items = h->n_items;
	shape.n_seen = h->n_seen;
	shape.options_len = h->options_len;
	pos = RECSYS_MODEL_DIR_END(h->n_sections);
	for (uint32_t i = 0; i < h->n_sections; i++)
	{
		const RecModelSection *s = &dir[i];
		const char *name;
		uint64_t	want;

		if (s->tag == 0 || s->tag > RECSYS_TAG_LAST_RESERVED)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "unknown section tag %" PRIu32 " in directory entry %" PRIu32,
							 s->tag, i);
		name = TagNames[s->tag];
		if (s->tag > RECSYS_TAG_LAST_KNOWN || TagElemSize[s->tag] == 0)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section tag %" PRIu32 " (%s) is reserved and not supported by this build",
							 s->tag, name);
		if (i > 0 && s->tag <= dir[i - 1].tag)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 s->tag == dir[i - 1].tag ? "duplicate section %s in the directory" :
							 "section %s out of order in the directory (tags must ascend)",
							 name);
		if (!(expected & TAG_BIT(s->tag)))
		{
			if (!(AllowedTags(f) & TAG_BIT(s->tag)))
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "section %s is not allowed in %s %s model", name,
								 Article(f->name), f->name);
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section %s is present but the header's flags do not declare it",
							 name);
		}
		present |= TAG_BIT(s->tag);
		if (s->elem_size != TagElemSize[s->tag])
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section %s has elements of %" PRIu32 " bytes, expected %d",
							 name, s->elem_size, (int) TagElemSize[s->tag]);

		/* neighbour entries: the index section sets the count its weights repeat */
		switch (s->tag)
		{
			case RECSYS_TAG_ITEM_NBR_IDX:
			case RECSYS_TAG_USER_NBR_IDX:
				if (s->count > RECSYS_MODEL_MAX_BYTES / 4)
					return ModelFail(err, RECSYS_MODEL_EBINARY,
									 "section %s has %" PRIu64 " elements, more than a model can hold",
									 name, s->count);
				nbr_count[s->tag == RECSYS_TAG_USER_NBR_IDX] = s->count;
				want = s->count;
				break;
			case RECSYS_TAG_ITEM_NBR_WEIGHT:
			case RECSYS_TAG_USER_NBR_WEIGHT:
				want = nbr_count[s->tag == RECSYS_TAG_USER_NBR_WEIGHT];
				break;
			case RECSYS_TAG_ANN_INDEX:
				/* its own header gives its size: checked with the payload */
				if (s->count > RECSYS_MODEL_MAX_BYTES / 4)
					return ModelFail(err, RECSYS_MODEL_EBINARY,
									 "section %s has %" PRIu64 " elements, more than a model can hold",
									 name, s->count);
				want = s->count;
				break;
			case RECSYS_TAG_FEATURE_IDX:
			case RECSYS_TAG_VOCABULARY:
			case RECSYS_TAG_IDF:
				/* text content: these set the counts the later sections repeat */
				if (s->count > (s->tag == RECSYS_TAG_VOCABULARY ? RECSYS_MODEL_MAX_BYTES :
								RECSYS_MODEL_MAX_BYTES / 4))
					return ModelFail(err, RECSYS_MODEL_EBINARY,
									 "section %s has %" PRIu64 " elements, more than a model can hold",
									 name, s->count);
				if (s->tag == RECSYS_TAG_FEATURE_IDX)
					shape.n_feature_entries = (int64_t) s->count;
				else if (s->tag == RECSYS_TAG_VOCABULARY)
					shape.vocabulary_bytes = (int64_t) s->count;
				else
					shape.n_terms = (int64_t) s->count;
				want = s->count;
				break;
			default:
				want = ShapeCount(&shape, s->tag);
				break;
		}
		if (s->count != want)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section %s has %" PRIu64 " elements, the header's counts give %" PRIu64,
							 name, s->count, want);

		/* where it starts: exactly at the first boundary after the previous one */
		if (s->offset % 8 != 0)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section %s at offset %" PRIu64 " is not 8-byte aligned",
							 name, s->offset);
		if (s->offset > RECSYS_MODEL_MAX_BYTES)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section %s at offset %" PRIu64 " is beyond the largest model size",
							 name, s->offset);
		if (s->offset < pos)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section %s at offset %" PRIu64 " overlaps the %s, which ends at %" PRIu64,
							 name, s->offset, PreviousName((int) i, dir), pos);
		if (s->offset != RECSYS_ALIGN8(pos))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "section %s at offset %" PRIu64 " leaves a gap after the %s, which ends at %" PRIu64,
							 name, s->offset, PreviousName((int) i, dir), pos);
		/* offset < 2^30 and count * elem_size < 2^46: no overflow */
		pos = s->offset + s->count * s->elem_size;
		if (pos > RECSYS_MODEL_MAX_BYTES)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "model of %" PRIu64 " bytes exceeds the maximum of %" PRIu64 " bytes",
							 RECSYS_ALIGN8(pos), RECSYS_MODEL_MAX_BYTES);
	}
	if (expected & ~present)
	{
		uint32_t	needed = RecModelExpectedTags(h->algorithm, f->required_flags |
												  (h->flags & RECSYS_MODEL_USER_NEIGHBOURS));
		uint32_t	t = 1;

		while (!((expected & ~present) & TAG_BIT(t)))
			t++;
		if (needed & TAG_BIT(t))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "missing section %s, which %s %s model requires", TagNames[t],
							 Article(f->name), f->name);
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "missing section %s, which the header's flags declare", TagNames[t]);
	}
	*total = RECSYS_ALIGN8(pos);
	if (*total > RECSYS_MODEL_MAX_BYTES)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "model of %" PRIu64 " bytes exceeds the maximum of %" PRIu64 " bytes",
						 *total, RECSYS_MODEL_MAX_BYTES);
	err->code = RECSYS_MODEL_OK;
	err->msg[0] = '\0';
	return RECSYS_MODEL_OK;
}

int
RecModelCheckHeader(const RecModelHeader *h, uint64_t *total, RecModelError *err)
{
	if (RecModelCheckFixedHeader(h, err) != RECSYS_MODEL_OK)
		return err->code;
	return RecModelCheckDirectory(h, RecModelDirectory(h), total, err);
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
 * read without surprises: a JSON object whose values are numbers, strings,
 * true, false, null or (one level deep: the "index" option) an object of such
 * values, in printable ASCII (valid in every server encoding) with no escape
 * sequences (so no \u0000 and nothing jsonb would refuse).  Which keys and
 * values are allowed is the training option parser's business (model.c).
 */
static int
CheckOptionsText(const char *s, size_t len, RecModelError *err)
{
	size_t		p = 0;
	const char *q;
	int			depth = 1;		/* objects open: the options, and a nested one */
	bool		closed = false;
	bool		bad = false;

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
	while (!closed && !bad)
	{
		/* "key" : value, then ',' or '}' (which may close the nested object too) */
		if (p >= len || s[p] != '"' || (q = memchr(s + p + 1, '"', len - p - 1)) == NULL)
			break;
		p = (size_t) (q - s) + 1;
		SKIP_SPACE();
		if (p >= len || s[p] != ':')
			break;
		p++;
		SKIP_SPACE();
		if (p < len && s[p] == '{' && depth == 1)
		{
			/* a nested object: its keys follow, unless it is empty */
			p++;
			depth = 2;
			SKIP_SPACE();
			if (!(p < len && s[p] == '}'))
				continue;
			depth = 1;			/* {}: its '}' ends the value */
		}
		else if (p < len && s[p] == '"')
		{
			if ((q = memchr(s + p + 1, '"', len - p - 1)) == NULL)
				break;
			p = (size_t) (q - s);
		}
		else if (len - p >= 4 && memcmp(s + p, "true", 4) == 0)
			p += 3;
		else if (len - p >= 5 && memcmp(s + p, "false", 5) == 0)
			p += 4;
		else if (len - p >= 4 && memcmp(s + p, "null", 4) == 0)
			p += 3;
		else if (ScanJsonNumber(s, len, &p))
			p--;
		else
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "options value at offset %zu is not a number of at most %d characters, a string, true, false, null or an object of those",
							 p, OPTIONS_MAX_NUMBER);
		/* p is on the value's last character (or the nested object's '}') */
		p++;
		for (;;)
		{
			SKIP_SPACE();
			if (p < len && s[p] == ',')
			{
				p++;
				SKIP_SPACE();
				break;
			}
			if (p < len && s[p] == '}')
			{
				p++;
				if (--depth == 0)
				{
					closed = true;
					break;
				}
				continue;
			}
			bad = true;
			break;
		}
	}
	SKIP_SPACE();
#undef SKIP_SPACE
	if (!closed || p != len)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "options are not a JSON object of scalars and objects of scalars (syntax error at offset %zu)", p);
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

/* Checks that every number of x[n] is finite; names the first offending position */
static int
CheckFinite(const float *x, uint64_t n, const char *what, RecModelError *err)
{
	for (uint64_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "%s %" PRIu64 " is not finite", what, i);
	return RECSYS_MODEL_OK;
}

/*
 * Checks a CSR over `rows` rows with entries in 0..cols-1: rows run from 0 to
 * n_entries without going back, every index is in range, never the row itself
 * when no_self (neighbour lists), strictly increasing within a row when sorted
 * (seen items); ids name rows in messages.
 */
static int
CheckRows(const int64_t *ptr, const int32_t *idx, int32_t rows, int32_t cols,
		  int64_t n_entries, bool no_self, bool sorted, const int64_t *ids,
		  const char *what, const char *row, RecModelError *err)
{
	if (ptr[0] != 0 || ptr[rows] != n_entries)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "%s rows must run from 0 to %" PRId64, what, n_entries);
	for (int32_t r = 0; r < rows; r++)
	{
		int64_t		begin = ptr[r],
					end = ptr[r + 1];

		if (end < begin || end > n_entries)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "%s row of %s %" PRId64 " out of order", what, row, ids[r]);
		for (int64_t j = begin; j < end; j++)
		{
			int32_t		c = idx[j];

			if (c < 0 || c >= cols)
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "%s index %" PRId32 " out of range 0..%" PRId32,
								 what, c, cols - 1);
			if (no_self && c == r)
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "%s row of %s %" PRId64 " lists itself", what, row, ids[r]);
			if (sorted && j > begin && c <= idx[j - 1])
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "%ss of %s %" PRId64 " not strictly increasing", what, row, ids[r]);
		}
	}
	return RECSYS_MODEL_OK;
}

/* how far a stored unit vector's squared norm may be from 1 (float rounding) */
#define UNIT_NORM_TOLERANCE 1e-3

/*
 * Checks that each of the rows x width matrix's rows is a unit vector or (when
 * zero_ok, an item without features or a profile of none) all zero; names the
 * first offending row by its id.  The numbers are known finite.
 */
static int
CheckUnitRows(const float *x, uint64_t rows, uint64_t width, const int64_t *ids,
			  const char *what, RecModelError *err)
{
	for (uint64_t r = 0; r < rows; r++)
	{
		double		ss = 0.0;

		for (uint64_t j = 0; j < width; j++)
			ss += (double) x[r * width + j] * x[r * width + j];
		if (ss != 0.0 && fabs(ss - 1.0) > UNIT_NORM_TOLERANCE)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "%s %" PRId64 " has squared norm %g, it must be a unit vector or zero",
							 what, ids[r], ss);
	}
	return RECSYS_MODEL_OK;
}

/*
 * Checks a text content model's sections: the vocabulary is n_terms distinct
 * non-empty NUL-terminated lexemes in ascending byte order, idf values finite
 * and positive, item rows a CSR over the terms with positive weights that make
 * a unit vector (or an empty row: an item without text), and the term rows
 * exactly its transpose.
 */
static int
CheckText(const RecModelHeader *h, const RecModelView *v, RecModelError *err)
{
	const char *p = v->vocabulary;
	const char *end = v->vocabulary + v->vocabulary_bytes;
	const char *prev = NULL;
	int64_t		terms = 0;

	if (v->n_terms > INT32_MAX)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "vocabulary of %" PRId64 " terms is too large",
						 v->n_terms);
	while (p < end)
	{
		const char *nul = memchr(p, '\0', (size_t) (end - p));

		if (nul == NULL)
			return ModelFail(err, RECSYS_MODEL_EBINARY, "vocabulary does not end in a NUL");
		if (nul == p)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "vocabulary term %" PRId64 " is empty", terms);
		if (prev != NULL && strcmp(prev, p) >= 0)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "vocabulary term %" PRId64 " is not after the one before", terms);
		prev = p;
		p = nul + 1;
		terms++;
	}
	if (terms != v->n_terms)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "vocabulary holds %" PRId64 " terms, idf has %" PRId64, terms, v->n_terms);
	for (int64_t t = 0; t < v->n_terms; t++)
		if (!(v->idf[t] > 0.0f && v->idf[t] <= 1e30f))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "idf of term %" PRId64 " must be positive and finite", t);
	if (CheckRows(v->feature_ptr, v->feature_idx, h->n_items, (int32_t) v->n_terms, v->n_feature,
				  false, true, v->item_ids, "feature", "item", err))
		return err->code;
	for (int64_t e = 0; e < v->n_feature; e++)
		if (!(v->feature_values[e] > 0.0f && v->feature_values[e] <= 1.0f))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "feature weight %" PRId64 " must be positive and at most 1", e);
	for (int32_t i = 0; i < h->n_items; i++)
	{
		int64_t		n = v->feature_ptr[i + 1] - v->feature_ptr[i];

		/* a row of its own width: unit, or empty */
		if (CheckUnitRows(v->feature_values + v->feature_ptr[i], n > 0 ? 1 : 0, (uint64_t) n,
						  v->item_ids + i, "the feature row of item", err))
			return err->code;
	}
	if (v->term_ptr[0] != 0 || v->term_ptr[v->n_terms] != v->n_feature)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "term rows must run from 0 to %" PRId64, v->n_feature);
	for (int64_t t = 0; t < v->n_terms; t++)
		if (v->term_ptr[t + 1] < v->term_ptr[t])
			return ModelFail(err, RECSYS_MODEL_EBINARY, "term row %" PRId64 " out of order", t);
	/* every item entry is in its term's row with the same weight, and no other is */
	for (int32_t i = 0; i < h->n_items; i++)
		for (int64_t e = v->feature_ptr[i]; e < v->feature_ptr[i + 1]; e++)
		{
			int32_t		t = v->feature_idx[e];
			int64_t		lo = v->term_ptr[t],
						hi = v->term_ptr[t + 1] - 1;
			bool		found = false;

			while (lo <= hi)
			{
				int64_t		mid = lo + (hi - lo) / 2;

				if (v->term_items[mid] < i)
					lo = mid + 1;
				else if (v->term_items[mid] > i)
					hi = mid - 1;
				else
				{
					found = v->term_values[mid] == v->feature_values[e];
					break;
				}
			}
			if (!found)
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "term rows are not the transpose of the feature rows at item %" PRId64,
								 v->item_ids[i]);
		}
	for (int64_t t = 0; t < v->n_terms; t++)
		for (int64_t e = v->term_ptr[t]; e < v->term_ptr[t + 1]; e++)
			if (v->term_items[e] < 0 || v->term_items[e] >= h->n_items ||
				(e > v->term_ptr[t] && v->term_items[e] <= v->term_items[e - 1]))
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "items of term row %" PRId64 " not strictly increasing in range", t);
	return RECSYS_MODEL_OK;
}

int
RecModelCheckAnn(const RecModelHeader *h, const int32_t *w, uint64_t count,
				 RecModelError *err)
{
	RecAnnIndex ix;
	RecModelView v;
	uint64_t	dim = (uint64_t) h->factors + ((h->flags & RECSYS_MODEL_HAS_BIASES) ? 1 : 0);
	float		ms;

	RecModelGetView(h, &v);

	/* the header words first: nothing else is read before they add up */
	if (count < RECSYS_ANN_HEADER_WORDS)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index of %" PRIu64 " words is shorter than its header", count);
	if ((uint32_t) w[RECSYS_ANN_W_MAGIC] != RECSYS_ANN_MAGIC)
		return ModelFail(err, RECSYS_MODEL_EBINARY, "ANN index has an unknown kind 0x%08" PRIX32,
						 (uint32_t) w[RECSYS_ANN_W_MAGIC]);
	if (w[RECSYS_ANN_W_VECTORS] != 0 && w[RECSYS_ANN_W_VECTORS] != 1)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index vectors word is %" PRId32 ", must be 0 or 1",
						 w[RECSYS_ANN_W_VECTORS]);
	for (int j = RECSYS_ANN_W_VECTORS + 1; j < RECSYS_ANN_HEADER_WORDS; j++)
		if (w[j] != 0)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "ANN index header word %d is %" PRId32 ", must be 0", j, w[j]);
	if (w[RECSYS_ANN_W_N_ITEMS] != h->n_items)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index covers %" PRId32 " items, the model has %" PRId32,
						 w[RECSYS_ANN_W_N_ITEMS], h->n_items);
	if ((uint64_t) (int64_t) w[RECSYS_ANN_W_DIM] != dim)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index has dimension %" PRId32 ", the model needs %" PRIu64,
						 w[RECSYS_ANN_W_DIM], dim);
	if (w[RECSYS_ANN_W_LISTS] < 1 || w[RECSYS_ANN_W_LISTS] > h->n_items ||
		w[RECSYS_ANN_W_LISTS] > RECSYS_ANN_MAX_LISTS)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index list count %" PRId32 " out of range 1..%d",
						 w[RECSYS_ANN_W_LISTS],
						 h->n_items < RECSYS_ANN_MAX_LISTS ? (int) h->n_items : RECSYS_ANN_MAX_LISTS);
	if (w[RECSYS_ANN_W_PROBES] < 1 || w[RECSYS_ANN_W_PROBES] > w[RECSYS_ANN_W_LISTS])
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index default probes %" PRId32 " out of range 1..%" PRId32,
						 w[RECSYS_ANN_W_PROBES], w[RECSYS_ANN_W_LISTS]);
	if (w[RECSYS_ANN_W_ITERATIONS] < 0 || w[RECSYS_ANN_W_SAMPLE] < 0 || w[RECSYS_ANN_W_SEED] < 0)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index build statistics must not be negative");
	if (count != RecAnnWords((uint64_t) w[RECSYS_ANN_W_LISTS], dim, (uint64_t) h->n_items,
							 w[RECSYS_ANN_W_VECTORS]))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index has %" PRIu64 " words, its header gives %" PRIu64, count,
						 RecAnnWords((uint64_t) w[RECSYS_ANN_W_LISTS], dim, (uint64_t) h->n_items,
									 w[RECSYS_ANN_W_VECTORS]));
	RecAnnView(w, &ix);
	memcpy(&ms, &w[RECSYS_ANN_W_BUILD_MS], sizeof(float));
	if (!(ix.max_norm >= 0.0f && ix.max_norm <= 2.0f * RECSYS_MODEL_MAX_BIAS) ||
		!(ms >= 0.0f && isfinite(ms)))
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index has a bad maximum norm or build time");
	/* centroids are means of item rows: within the same limits */
	for (uint64_t j = 0; j < (uint64_t) ix.lists * dim; j++)
		if (!(fabsf(ix.centroids[j]) <= RECSYS_MODEL_MAX_BIAS))
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "ANN index centroid value %" PRIu64 " is not finite or too large", j);
	/* lists partition 0 .. n_items - 1 */
	if (ix.list_ptr[0] != 0 || ix.list_ptr[ix.lists] != ix.n_items)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "ANN index lists must start at 0 and end at %" PRId32, ix.n_items);
	for (int32_t c = 0; c < ix.lists; c++)
	{
		if (ix.list_ptr[c + 1] < ix.list_ptr[c] || ix.list_ptr[c + 1] > ix.n_items)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "ANN index list %" PRId32 " has a bad extent", c);
		for (int32_t p = ix.list_ptr[c]; p < ix.list_ptr[c + 1]; p++)
		{
			int32_t		i = ix.items[p];

			/* ascending within a list and assigned to it: together a permutation */
			if (i < 0 || i >= ix.n_items || (p > ix.list_ptr[c] && i <= ix.items[p - 1]))
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "ANN index list %" PRId32 " has a bad or unsorted item at %" PRId32,
								 c, p);
			if (ix.assign[i] != c)
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "ANN index list %" PRId32 " holds item %" PRId32 " assigned to list %" PRId32,
								 c, i, ix.assign[i]);
			/* stored vectors are the item's own row, bit for bit */
			if (ix.vectors &&
				(memcmp(ix.vectors + (uint64_t) p * dim, v.item_factors + (uint64_t) i * h->factors,
						sizeof(float) * h->factors) != 0 ||
				 (v.item_bias && memcmp(ix.vectors + (uint64_t) p * dim + h->factors,
										v.item_bias + i, sizeof(float)) != 0)))
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "ANN index vector at %" PRId32 " differs from the factors of item %" PRId64,
								 p, v.item_ids[i]);
		}
	}
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
		CheckIdsSorted(v.item_ids, h->n_items, "item", err))
		return err->code;
	if (v.user_factors &&
		(CheckMagnitudes(v.user_factors, nu, k, v.user_ids, "a factor of user",
						 RECSYS_MODEL_MAX_FACTOR, err) ||
		 CheckMagnitudes(v.item_factors, ni, k, v.item_ids, "a factor of item",
						 RECSYS_MODEL_MAX_FACTOR, err)))
		return err->code;
	/* dense content: unit item features and profiles (zero: none) */
	if (h->algorithm == RECSYS_ALG_CONTENT &&
		(CheckUnitRows(v.user_factors, nu, k, v.user_ids, "the profile of user", err) ||
		 CheckUnitRows(v.item_factors, ni, k, v.item_ids, "the feature vector of item", err)))
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
	if (v.seen_ptr &&
		CheckRows(v.seen_ptr, v.seen_items, h->n_users, h->n_items, h->n_seen,
				  false, true, v.user_ids, "seen item", "user", err))
		return err->code;
	if (v.seen_values && CheckFinite(v.seen_values, (uint64_t) h->n_seen, "seen value", err))
		return err->code;
	if (v.item_nbr_ptr &&
		(CheckRows(v.item_nbr_ptr, v.item_nbr_idx, h->n_items, h->n_items, v.n_item_nbr,
				   true, false, v.item_ids, "item-neighbour", "item", err) ||
		 CheckFinite(v.item_nbr_weight, (uint64_t) v.n_item_nbr, "item-neighbour weight", err)))
		return err->code;
	if (v.user_nbr_ptr &&
		(CheckRows(v.user_nbr_ptr, v.user_nbr_idx, h->n_users, h->n_users, v.n_user_nbr,
				   true, false, v.user_ids, "user-neighbour", "user", err) ||
		 CheckFinite(v.user_nbr_weight, (uint64_t) v.n_user_nbr, "user-neighbour weight", err)))
		return err->code;
	if (v.feature_ptr && CheckText(h, &v, err))
		return err->code;
	if (v.ann && RecModelCheckAnn(h, v.ann, (uint64_t) v.n_ann, err))
		return err->code;
	err->code = RECSYS_MODEL_OK;
	err->msg[0] = '\0';
	return RECSYS_MODEL_OK;
}

/* --- binary form --------------------------------------------------------- */

/* Where a section of the view is in memory, by tag (NULL if absent) */
static const void *
ViewSection(const RecModelView *v, uint32_t tag)
{
	switch (tag)
	{
		case RECSYS_TAG_OPTIONS:
			return v->options;
		case RECSYS_TAG_USER_IDS:
			return v->user_ids;
		case RECSYS_TAG_ITEM_IDS:
			return v->item_ids;
		case RECSYS_TAG_USER_FACTORS:
			return v->user_factors;
		case RECSYS_TAG_ITEM_FACTORS:
			return v->item_factors;
		case RECSYS_TAG_USER_BIAS:
			return v->user_bias;
		case RECSYS_TAG_ITEM_BIAS:
			return v->item_bias;
		case RECSYS_TAG_ITEM_COUNT:
			return v->item_count;
		case RECSYS_TAG_SEEN_PTR:
			return v->seen_ptr;
		case RECSYS_TAG_SEEN_ITEMS:
			return v->seen_items;
		case RECSYS_TAG_SEEN_VALUES:
			return v->seen_values;
		case RECSYS_TAG_ITEM_NBR_PTR:
			return v->item_nbr_ptr;
		case RECSYS_TAG_ITEM_NBR_IDX:
			return v->item_nbr_idx;
		case RECSYS_TAG_ITEM_NBR_WEIGHT:
			return v->item_nbr_weight;
		case RECSYS_TAG_USER_NBR_PTR:
			return v->user_nbr_ptr;
		case RECSYS_TAG_USER_NBR_IDX:
			return v->user_nbr_idx;
		case RECSYS_TAG_USER_NBR_WEIGHT:
			return v->user_nbr_weight;
		case RECSYS_TAG_FEATURE_PTR:
			return v->feature_ptr;
		case RECSYS_TAG_FEATURE_IDX:
			return v->feature_idx;
		case RECSYS_TAG_FEATURE_VALUES:
			return v->feature_values;
		case RECSYS_TAG_VOCABULARY:
			return v->vocabulary;
		case RECSYS_TAG_IDF:
			return v->idf;
		case RECSYS_TAG_TERM_PTR:
			return v->term_ptr;
		case RECSYS_TAG_TERM_ITEMS:
			return v->term_items;
		case RECSYS_TAG_TERM_VALUES:
			return v->term_values;
		case RECSYS_TAG_ANN_INDEX:
			return v->ann;
	}
	return NULL;
}

/*
 * The v2 header and directory a valid native model (v1 or v2) is written with:
 * the canonical layout of its shape, which is a v2 value's own (the reader
 * accepts no other)
 */
static int
TargetLayout(const RecModelHeader *h, const RecModelSection *hdir, RecModelHeader *target,
			 RecModelSection *dir, uint64_t *total)
{
	RecModelShape shape;
	int			n;

	ShapeFrom(h, h->version == RECSYS_MODEL_VERSION_V1 ? NULL : hdir, &shape);
	n = RecModelShapeLayout(&shape, dir, total);
	memset(target, 0, sizeof(*target));
	memcpy(target, h, RECSYS_MODEL_V1_HEADER_SIZE);
	RecModelInitHeader(target, &shape, dir, 0);
	target->n_sections = (uint32_t) n;
	return n;
}

void
RecModelCopySections(const RecModelHeader *src, RecModelHeader *dst, uint32_t skip)
{
	RecModelView v;

	RecModelGetView(src, &v);
	for (uint32_t i = 0; i < dst->n_sections; i++)
	{
		const RecModelSection *s = &RecModelDirectory(dst)[i];
		const void *from = ViewSection(&v, s->tag);

		if (from != NULL && !(skip & TAG_BIT(s->tag)))
			memcpy((char *) dst + s->offset, from, s->count * s->elem_size);
	}
}

uint64_t
RecModelBinarySize(const RecModelHeader *h)
{
	RecModelHeader target;
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];
	uint64_t	total;

	TargetLayout(h, RecModelDirectory(h), &target, dir, &total);
	return total - RECSYS_MODEL_VARHDR;
}

/* Writes the fields of a native header (nfields of them) big-endian to out */
static void
EncodeHeaderFields(const RecModelHeader *h, size_t nfields, uint8_t *out)
{
	const uint8_t *base = (const uint8_t *) h;
	uint64_t	off = RECSYS_MODEL_VARHDR;

	for (size_t f = 0; f < nfields; f++)
	{
		PutBigEndian(out + off - RECSYS_MODEL_VARHDR, base + off, HeaderFieldWidths[f]);
		off += HeaderFieldWidths[f];
	}
}

void
RecModelEncode(const RecModelHeader *h, uint8_t *out)
{
	RecModelHeader target;
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];
	uint64_t	total;
	int			n = TargetLayout(h, RecModelDirectory(h), &target, dir, &total);
	RecModelView v;
	uint8_t    *o;

	RecModelGetView(h, &v);
	memset(out, 0, total - RECSYS_MODEL_VARHDR);
	EncodeHeaderFields(&target, sizeof(HeaderFieldWidths), out);
	o = out + BINARY_HEADER_BYTES;
	for (int i = 0; i < n; i++)
	{
		PutBigEndian(o, (const uint8_t *) &dir[i].tag, 4);
		PutBigEndian(o + 4, (const uint8_t *) &dir[i].elem_size, 4);
		PutBigEndian(o + 8, (const uint8_t *) &dir[i].count, 8);
		PutBigEndian(o + 16, (const uint8_t *) &dir[i].offset, 8);
		o += DIRECTORY_ENTRY_BYTES;
	}
	for (int i = 0; i < n; i++)
	{
		const uint8_t *src = ViewSection(&v, dir[i].tag);
		int			w = (int) dir[i].elem_size;

		o = out + dir[i].offset - RECSYS_MODEL_VARHDR;
		for (uint64_t e = 0; e < dir[i].count; e++, src += w, o += w)
			PutBigEndian(o, src, w);
	}
}

uint64_t
RecModelUpgradedSize(const RecModelHeader *v1)
{
	return RecModelBinarySize(v1) + RECSYS_MODEL_VARHDR;
}

void
RecModelUpgrade(const RecModelHeader *v1, RecModelHeader *dst)
{
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];
	uint64_t	total;
	int			n = TargetLayout(v1, NULL, dst, dir, &total);
	RecModelView v;

	RecModelGetView(v1, &v);
	memset((char *) dst + sizeof(RecModelHeader), 0, total - sizeof(RecModelHeader));
	memcpy((char *) dst + RECSYS_MODEL_DIR_OFFSET, dir, sizeof(RecModelSection) * n);
	for (int i = 0; i < n; i++)
		memcpy((char *) dst + dir[i].offset, ViewSection(&v, dir[i].tag),
			   dir[i].count * dir[i].elem_size);
}

/* Reads the header fields of the binary form (nfields of them) */
static void
DecodeHeaderFields(const uint8_t *buf, size_t nfields, RecModelHeader *h)
{
	uint8_t    *base = (uint8_t *) h;
	uint64_t	off = RECSYS_MODEL_VARHDR;

	memset(h, 0, sizeof(*h));
	for (size_t f = 0; f < nfields; f++)
	{
		GetBigEndian(base + off, buf + off - RECSYS_MODEL_VARHDR, HeaderFieldWidths[f]);
		off += HeaderFieldWidths[f];
	}
}

/*
 * Reads and checks the header and (v2) directory of buf[len]; *total is the
 * VARSIZE of the input's own layout (v1 or v2), dir gets the v2 directory.
 */
static int
DecodeLayout(const uint8_t *buf, size_t len, RecModelHeader *h, RecModelSection *dir,
			 uint64_t *total, RecModelError *err)
{
	if (len < BINARY_HEADER_BYTES_V1)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "model truncated: %zu bytes, the header alone needs %zu",
						 len, (size_t) BINARY_HEADER_BYTES_V1);
	DecodeHeaderFields(buf, HEADER_FIELDS_V1, h);
	if (h->version != RECSYS_MODEL_VERSION_V1)
	{
		if (len < BINARY_HEADER_BYTES)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "model truncated: %zu bytes, the header alone needs %zu",
							 len, (size_t) BINARY_HEADER_BYTES);
		DecodeHeaderFields(buf, sizeof(HeaderFieldWidths), h);
	}
	if (RecModelCheckFixedHeader(h, err) != RECSYS_MODEL_OK)
		return err->code;
	if (h->version != RECSYS_MODEL_VERSION_V1)
	{
		const uint8_t *p = buf + BINARY_HEADER_BYTES;

		if ((uint64_t) len < RecModelHeaderBytes(h) - RECSYS_MODEL_VARHDR)
			return ModelFail(err, RECSYS_MODEL_EBINARY,
							 "model truncated: %zu bytes, the header and its directory of %" PRIu32 " sections need %" PRIu64,
							 len, h->n_sections, RecModelHeaderBytes(h) - RECSYS_MODEL_VARHDR);
		for (uint32_t i = 0; i < h->n_sections; i++, p += DIRECTORY_ENTRY_BYTES)
		{
			GetBigEndian((uint8_t *) &dir[i].tag, p, 4);
			GetBigEndian((uint8_t *) &dir[i].elem_size, p + 4, 4);
			GetBigEndian((uint8_t *) &dir[i].count, p + 8, 8);
			GetBigEndian((uint8_t *) &dir[i].offset, p + 16, 8);
		}
	}
	if (RecModelCheckDirectory(h, dir, total, err) != RECSYS_MODEL_OK)
		return err->code;
	if ((uint64_t) len != *total - RECSYS_MODEL_VARHDR)
		return ModelFail(err, RECSYS_MODEL_EBINARY,
						 "model %s: %zu bytes, its header describes %" PRIu64,
						 (uint64_t) len < *total - RECSYS_MODEL_VARHDR ? "truncated" : "has trailing bytes",
						 len, *total - RECSYS_MODEL_VARHDR);
	return RECSYS_MODEL_OK;
}

int
RecModelDecodeHeader(const uint8_t *buf, size_t len, RecModelHeader *h,
					 uint64_t *total, RecModelError *err)
{
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];

	if (DecodeLayout(buf, len, h, dir, total, err) != RECSYS_MODEL_OK)
		return err->code;
	if (h->version == RECSYS_MODEL_VERSION_V1)
	{
		RecModelHeader target;
		RecModelSection tdir[RECSYS_MODEL_MAX_SECTIONS];

		/* a v1 header gives the shape; no section is read */
		TargetLayout(h, NULL, &target, tdir, total);
	}
	return RECSYS_MODEL_OK;
}

/* One section of an input: where its numbers are in the binary form (native numbering) */
typedef struct InputSection
{
	uint32_t	tag;
	uint64_t	offset;
	uint64_t	count;
	int			width;
} InputSection;

/* The sections of a v1 input with a checked header, in layout order */
static int
InputSectionsV1(const RecModelHeader *h, InputSection *s)
{
	RecModelLayoutV1 l;
	uint64_t	nu = (uint64_t) h->n_users;
	uint64_t	ni = (uint64_t) h->n_items;
	uint64_t	k = (uint64_t) h->factors;
	int			n = 0;

	RecModelComputeLayoutV1(h, &l);
	s[n++] = (InputSection) {RECSYS_TAG_OPTIONS, l.options, h->options_len, 1};
	s[n++] = (InputSection) {RECSYS_TAG_USER_IDS, l.user_ids, nu, 8};
	s[n++] = (InputSection) {RECSYS_TAG_ITEM_IDS, l.item_ids, ni, 8};
	s[n++] = (InputSection) {RECSYS_TAG_USER_FACTORS, l.user_factors, nu * k, 4};
	s[n++] = (InputSection) {RECSYS_TAG_ITEM_FACTORS, l.item_factors, ni * k, 4};
	if (l.user_bias)
	{
		s[n++] = (InputSection) {RECSYS_TAG_USER_BIAS, l.user_bias, nu, 4};
		s[n++] = (InputSection) {RECSYS_TAG_ITEM_BIAS, l.item_bias, ni, 4};
	}
	s[n++] = (InputSection) {RECSYS_TAG_ITEM_COUNT, l.item_count, ni, 4};
	if (l.seen_ptr)
	{
		s[n++] = (InputSection) {RECSYS_TAG_SEEN_PTR, l.seen_ptr, nu + 1, 8};
		s[n++] = (InputSection) {RECSYS_TAG_SEEN_ITEMS, l.seen_items, (uint64_t) h->n_seen, 4};
	}
	return n;
}

int
RecModelDecodeBody(const uint8_t *buf, size_t len, RecModelHeader *dst,
				   RecModelError *err)
{
	RecModelHeader h;
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];
	RecModelSection tdir[RECSYS_MODEL_MAX_SECTIONS];
	InputSection in[RECSYS_MODEL_MAX_SECTIONS];
	uint64_t	in_total,
				total;
	int			n,
				nin;
	uint8_t    *base = (uint8_t *) dst;
	uint64_t	pos;

	if (DecodeLayout(buf, len, &h, dir, &in_total, err) != RECSYS_MODEL_OK)
		return err->code;

	/* the v2 layout the value gets, and where each input section comes from */
	n = TargetLayout(&h, dir, dst, tdir, &total);
	memset(base + sizeof(RecModelHeader), 0, total - sizeof(RecModelHeader));
	memcpy(base + RECSYS_MODEL_DIR_OFFSET, tdir, sizeof(RecModelSection) * n);
	if (h.version == RECSYS_MODEL_VERSION_V1)
	{
		nin = InputSectionsV1(&h, in);
		pos = RECSYS_MODEL_V1_HEADER_SIZE;
	}
	else
	{
		nin = (int) h.n_sections;
		for (int i = 0; i < nin; i++)
			in[i] = (InputSection) {dir[i].tag, dir[i].offset, dir[i].count, (int) dir[i].elem_size};
		pos = RecModelHeaderBytes(&h);
	}

	/* sections, and the zero padding in front of each one and at the end */
	for (int i = 0; i <= nin; i++)
	{
		uint64_t	start = (i < nin) ? in[i].offset : in_total;
		uint8_t    *o;

		for (; pos < start; pos++)
			if (buf[pos - RECSYS_MODEL_VARHDR] != 0)
				return ModelFail(err, RECSYS_MODEL_EBINARY,
								 "non-zero padding byte at offset %" PRIu64,
								 pos - RECSYS_MODEL_VARHDR);
		if (i == nin)
			break;
		o = NULL;
		for (int t = 0; t < n; t++)
			if (tdir[t].tag == in[i].tag)
				o = base + tdir[t].offset;
		for (uint64_t e = 0; e < in[i].count; e++, pos += in[i].width, o += in[i].width)
			GetBigEndian(o, buf + pos - RECSYS_MODEL_VARHDR, in[i].width);
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
					int *version, RecModelError *err)
{
	size_t		plen = strlen(RECSYS_MODEL_TEXT_PREFIX);

	/* both prefixes have the same length */
	while (len > 0 && IsSpace(*text))
		text++, len--;
	while (len > 0 && IsSpace(text[len - 1]))
		len--;
	if (len >= plen && memcmp(text, RECSYS_MODEL_TEXT_PREFIX, plen) == 0)
		*version = RECSYS_MODEL_VERSION;
	else if (len >= plen && memcmp(text, RECSYS_MODEL_TEXT_PREFIX_V1, plen) == 0)
		*version = RECSYS_MODEL_VERSION_V1;
	else
		return ModelFail(err, RECSYS_MODEL_ETEXT,
						 "a model in text form starts with \"%s\" (or \"%s\" for a model of 0.1.0)",
						 RECSYS_MODEL_TEXT_PREFIX, RECSYS_MODEL_TEXT_PREFIX_V1);
	*b64 = text + plen;
	*b64len = len - plen;
	err->code = RECSYS_MODEL_OK;
	return RECSYS_MODEL_OK;
}

int
RecModelCheckTextVersion(int version, const uint8_t *bin, size_t len, RecModelError *err)
{
	/* the version is the big-endian 16 bits after the magic */
	if (len >= 6 && ((bin[4] << 8) | bin[5]) != version &&
		(((bin[4] << 8) | bin[5]) == RECSYS_MODEL_VERSION ||
		 ((bin[4] << 8) | bin[5]) == RECSYS_MODEL_VERSION_V1))
		return ModelFail(err, RECSYS_MODEL_ETEXT,
						 "the text prefix names format version %d but the value is of version %d",
						 version, (bin[4] << 8) | bin[5]);
	err->code = RECSYS_MODEL_OK;
	return RECSYS_MODEL_OK;
}
