/*
 * model.h
 *		On-disk layout of recsys.model (format v2, and the v1 layout of 0.1.0 that
 *		every reader still accepts) and the inline accessors every reader uses.
 *
 * Format v2 (DESIGN §6) is one varlena: the fixed header below, then a section
 * directory of n_sections entries (RecModelSection: tag, element size, element
 * count, offset), then the sections, each starting on an 8-byte boundary.  The
 * directory lists its sections in ascending tag order and each section starts at
 * the first 8-byte boundary after the previous one (the first after the
 * directory), so a shape has exactly one layout; the gaps are zero.  Which tags
 * a model holds follows from its algorithm and flags (RecModelExpectedTags), and
 * each section's element count from the header's counts:
 *
 *	options			char[options_len]			training options as JSON text, NUL-terminated
 *	user_ids		int64[n_users]				sorted ascending, unique
 *	item_ids		int64[n_items]				sorted ascending, unique
 *	user_factors	float4[n_users * factors]	factor models: row-major, row u is user_ids[u]
 *	item_factors	float4[n_items * factors]	factor models: row-major, row i is item_ids[i]
 *	user_bias		float4[n_users]				if RECSYS_MODEL_HAS_BIASES
 *	item_bias		float4[n_items]				if RECSYS_MODEL_HAS_BIASES
 *	item_count		int32[n_items]				training interactions per item (popularity)
 *	seen_ptr		int64[n_users + 1]			if RECSYS_MODEL_HAS_INTERACTIONS: CSR row starts
 *	seen_items		int32[n_seen]				if RECSYS_MODEL_HAS_INTERACTIONS: item indexes,
 *												sorted within each user
 *	seen_values		float4[n_seen]				if RECSYS_MODEL_HAS_SEEN_VALUES: the values
 *	item_nbr_ptr	int64[n_items + 1]			item-neighbour CSR (item kNN, EASE)
 *	item_nbr_idx	int32[m]					neighbour item indexes, never the row itself
 *	item_nbr_weight	float4[m]					their weights
 *	user_nbr_ptr, user_nbr_idx, user_nbr_weight	the same over users (user kNN)
 *	ann_index		int32[m]					if RECSYS_MODEL_HAS_ANN_INDEX: the approximate
 *												top-N index (RecAnnIndex below; ann.h)
 *	feature_ptr		int64[n_items + 1]			text content: CSR of the items' unit
 *	feature_idx		int32[e]					TF-IDF vectors (term indexes ascending
 *	feature_values	float4[e]					within an item) and their weights
 *	vocabulary		char[b]						the n_terms lexemes, NUL-terminated, ascending
 *	idf				float4[n_terms]				smoothed inverse document frequencies
 *	term_ptr, term_items, term_values			the same entries by term (inverted index)
 *
 * Version 1 (0.1.0) has the same fixed header up to options_len, with n_sections
 * always 0 (it was the reserved field), no directory and no reserved tail: its
 * sections are the first ten above, in that order, at offsets derived from the
 * counts (RecModelLayoutV1).  RecModelGetView reads both into one view.
 *
 * In memory (and on disk) the numbers are in native byte order; the binary send/recv
 * form is the same layout without the varlena header, every field big-endian
 * (offsets in the directory count from the start of the varlena, as in memory).
 * A reader checks the header and the whole directory against the value's size
 * (modelio.h) before touching a section.  Plain C (no PostgreSQL headers) so fuzz
 * targets and tests can use it outside the backend.
 */
#ifndef RECSYS_MODEL_H
#define RECSYS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECSYS_MODEL_MAGIC		0x4D535352u	/* "RSSM" read as little-endian */
#define RECSYS_MODEL_VERSION	2	/* what writers write */
#define RECSYS_MODEL_VERSION_V1 1	/* 0.1.0, still read */
#define RECSYS_MODEL_TEXT_PREFIX "recsys-model:v2:"
#define RECSYS_MODEL_TEXT_PREFIX_V1 "recsys-model:v1:"

/* algorithm codes; the SQL name is the training aggregate's suffix */
#define RECSYS_ALG_ALS		1		/* explicit ratings, train_als */
#define RECSYS_ALG_IALS		2		/* implicit feedback, train_ials */
#define RECSYS_ALG_KNN		3		/* item or user neighbours, train_knn */
#define RECSYS_ALG_EASE		4		/* item-item weights, train_ease */
#define RECSYS_ALG_CONTENT	5		/* item feature vectors, train_content */
#define RECSYS_ALG_HYBRID	6		/* factors + features, train_hybrid */
#define RECSYS_ALG_TEXT		7		/* TF-IDF item vectors, train_content over text */
#define RECSYS_ALG_MAX		7

/* flags: which optional sections a model holds */
#define RECSYS_MODEL_HAS_BIASES			0x0001	/* user_bias, item_bias */
#define RECSYS_MODEL_HAS_INTERACTIONS	0x0002	/* seen_ptr, seen_items */
#define RECSYS_MODEL_HAS_SEEN_VALUES	0x0004	/* seen_values (needs interactions) */
#define RECSYS_MODEL_USER_NEIGHBOURS	0x0008	/* kNN over users: user_nbr_* instead
												 * of item_nbr_* */
#define RECSYS_MODEL_EXPLICIT			0x0010	/* hybrid: explicit ALS factors
												 * (adds no section) */
#define RECSYS_MODEL_HAS_ANN_INDEX		0x0020	/* ann_index (factor models) */
#define RECSYS_MODEL_KNOWN_FLAGS		0x003F
#define RECSYS_MODEL_V1_FLAGS			0x0003

/* section tags (directory order is ascending tag) */
#define RECSYS_TAG_OPTIONS			1
#define RECSYS_TAG_USER_IDS			2
#define RECSYS_TAG_ITEM_IDS			3
#define RECSYS_TAG_USER_FACTORS		4
#define RECSYS_TAG_ITEM_FACTORS		5
#define RECSYS_TAG_USER_BIAS		6
#define RECSYS_TAG_ITEM_BIAS		7
#define RECSYS_TAG_ITEM_COUNT		8
#define RECSYS_TAG_SEEN_PTR			9
#define RECSYS_TAG_SEEN_ITEMS		10
#define RECSYS_TAG_SEEN_VALUES		11
#define RECSYS_TAG_ITEM_NBR_PTR		12
#define RECSYS_TAG_ITEM_NBR_IDX		13
#define RECSYS_TAG_ITEM_NBR_WEIGHT	14
#define RECSYS_TAG_USER_NBR_PTR		15
#define RECSYS_TAG_USER_NBR_IDX		16
#define RECSYS_TAG_USER_NBR_WEIGHT	17
/* reserved: rejected until implemented (dense content keeps its unit vectors as factors) */
#define RECSYS_TAG_FEATURES			18	/* dense item feature matrix */
/* text content (TF-IDF): the items' sparse unit vectors, vocabulary, idf, inverted index */
#define RECSYS_TAG_FEATURE_PTR		19	/* int64[n_items + 1]: CSR by item */
#define RECSYS_TAG_FEATURE_IDX		20	/* int32[n_entries]: term indexes, ascending per item */
#define RECSYS_TAG_FEATURE_VALUES	21	/* float4[n_entries]: tf-idf weights */
#define RECSYS_TAG_VOCABULARY		22	/* char[bytes]: n_terms NUL-terminated lexemes, ascending */
#define RECSYS_TAG_IDF				23	/* float4[n_terms] */
/* reserved */
#define RECSYS_TAG_FEATURE_MAP		24	/* hybrid: features -> factors */
#define RECSYS_TAG_ANN_INDEX		25	/* approximate nearest-neighbour index */
/* text content: the inverted index, the same entries by term */
#define RECSYS_TAG_TERM_PTR			26	/* int64[n_terms + 1] */
#define RECSYS_TAG_TERM_ITEMS		27	/* int32[n_entries]: item indexes, ascending per term */
#define RECSYS_TAG_TERM_VALUES		28	/* float4[n_entries] */
#define RECSYS_TAG_LAST_KNOWN		28
#define RECSYS_TAG_LAST_RESERVED	28

/* most entries a directory may have: one per known tag */
#define RECSYS_MODEL_MAX_SECTIONS	RECSYS_TAG_LAST_KNOWN

/*
 * The ann_index section: RECSYS_ANN_HEADER_WORDS words of header, then
 *	centroids	float4[lists * dim]		mean of [y_i, b_i] over each list's items
 *	list_ptr	int32[lists + 1]		list c is items[list_ptr[c] .. list_ptr[c+1])
 *	items		int32[n_items]			item indexes grouped by list, ascending within one
 *	assign		int32[n_items]			the list of each item
 *	vectors		float4[n_items * dim]	if stored: [y_i, b_i] of items[p] at row p, so
 *										a probe reads each list contiguously
 * dim is factors, plus one when the model has biases (the bias column).  Since
 * every item's assign entry names the list it appears in and lists ascend, the
 * items form a permutation: a reader checks that without extra memory.
 */
#define RECSYS_ANN_MAGIC			0x31465649u	/* "IVF1" */
#define RECSYS_ANN_HEADER_WORDS		16
#define RECSYS_ANN_MAX_LISTS		65536
/* header word positions */
#define RECSYS_ANN_W_MAGIC			0
#define RECSYS_ANN_W_LISTS			1
#define RECSYS_ANN_W_DIM			2
#define RECSYS_ANN_W_PROBES			3	/* default probes per call */
#define RECSYS_ANN_W_N_ITEMS		4
#define RECSYS_ANN_W_ITERATIONS		5	/* k-means iterations run */
#define RECSYS_ANN_W_SAMPLE			6	/* k-means training sample */
#define RECSYS_ANN_W_SEED			7
#define RECSYS_ANN_W_MAX_NORM		8	/* float4: largest |[y_i, b_i]| */
#define RECSYS_ANN_W_BUILD_MS		9	/* float4: build time in milliseconds */
#define RECSYS_ANN_W_VECTORS		10	/* 1: the vectors are stored, 0: not */
/* words 11 .. 15 are zero */

/* Words of an ann_index section with this many lists over this shape */
static inline uint64_t
RecAnnWords(uint64_t lists, uint64_t dim, uint64_t n_items, bool vectors)
{
	return RECSYS_ANN_HEADER_WORDS + lists * dim + lists + 1 + 2 * n_items +
		(vectors ? n_items * dim : 0);
}

/* Typed view of a checked ann_index section */
typedef struct RecAnnIndex
{
	int32_t		lists;
	int32_t		dim;
	int32_t		probes;
	int32_t		n_items;
	float		max_norm;
	const float *centroids;
	const int32_t *list_ptr;
	const int32_t *items;
	const int32_t *assign;
	const float *vectors;		/* NULL when not stored */
	const float *radius;		/* [lists] derived, not stored (cache.c): the
								 * largest |a_i - mean| of each list; NULL
								 * ranks lists by mean score alone */
} RecAnnIndex;

/* Fills the view of a checked ann_index section */
static inline void
RecAnnView(const int32_t *words, RecAnnIndex *ix)
{
	union
	{
		int32_t		i;
		float		f;
	}			u;

	ix->lists = words[RECSYS_ANN_W_LISTS];
	ix->dim = words[RECSYS_ANN_W_DIM];
	ix->probes = words[RECSYS_ANN_W_PROBES];
	ix->n_items = words[RECSYS_ANN_W_N_ITEMS];
	u.i = words[RECSYS_ANN_W_MAX_NORM];
	ix->max_norm = u.f;
	ix->centroids = (const float *) (words + RECSYS_ANN_HEADER_WORDS);
	ix->list_ptr = words + RECSYS_ANN_HEADER_WORDS + (int64_t) ix->lists * ix->dim;
	ix->items = ix->list_ptr + ix->lists + 1;
	ix->assign = ix->items + ix->n_items;
	ix->vectors = words[RECSYS_ANN_W_VECTORS] ? (const float *) (ix->assign + ix->n_items) : NULL;
	ix->radius = NULL;
}

#define RECSYS_MAX_FACTORS	1024

/*
 * Largest magnitude of a factor, and of a bias or the global mean.  With at most
 * RECSYS_MAX_FACTORS factors a dot product (or squared norm) of two rows stays
 * below 1.03e37, and mu + b_u + b_i + x.y below 4.1e37: every score, prediction
 * and cosine that serving computes from a valid model is a finite float4 (at most
 * 3.4e38), whatever the order of summation.  Input and training both enforce it.
 */
#define RECSYS_MODEL_MAX_FACTOR	1e17f
#define RECSYS_MODEL_MAX_BIAS	1e37f

typedef struct RecModelHeader
{
	int32_t		vl_len_;		/* varlena header (do not touch directly) */
	uint32_t	magic;			/* RECSYS_MODEL_MAGIC */
	uint16_t	version;		/* RECSYS_MODEL_VERSION (or _V1 for 0.1.0 values) */
	uint16_t	algorithm;		/* RECSYS_ALG_* */
	uint32_t	flags;			/* RECSYS_MODEL_* flags */
	int32_t		factors;		/* k, 1..RECSYS_MAX_FACTORS; 0 without factors */
	int32_t		n_users;		/* rows of user_ids, at least 1 */
	int32_t		n_items;		/* rows of item_ids, at least 1 */
	int32_t		iterations;		/* sweeps actually run */
	int64_t		n_interactions; /* distinct (user,item) pairs trained on */
	int64_t		n_seen;			/* entries in seen_items (0 without interactions) */
	uint8_t		uuid[16];		/* random per trained value (shown, not a cache key) */
	float		global_mean;	/* mu (explicit), exactly 0 for implicit */
	float		rating_min;		/* smallest training value (predict clips to it) */
	float		rating_max;		/* largest training value */
	float		train_loss;		/* objective after the last sweep */
	double		train_seconds;	/* wall time of the solver */
	int64_t		peak_bytes;		/* peak memory of training */
	uint32_t	options_len;	/* bytes of the options section, NUL included */
	uint32_t	n_sections;		/* entries of the directory; v1: reserved, 0 */
	/* --- v1 ends here (RECSYS_MODEL_V1_HEADER_SIZE bytes) --- */
	uint64_t	reserved;		/* always zero */
} RecModelHeader;

/* bytes of the v1 header, which the v2 header extends */
#define RECSYS_MODEL_V1_HEADER_SIZE		offsetof(RecModelHeader, reserved)

/* One entry of the section directory */
typedef struct RecModelSection
{
	uint32_t	tag;			/* RECSYS_TAG_* */
	uint32_t	elem_size;		/* bytes per element: 1, 4 or 8 */
	uint64_t	count;			/* elements */
	uint64_t	offset;			/* from the start of the varlena, 8-aligned */
} RecModelSection;

#define RECSYS_ALIGN8(x)	(((uint64_t) (x) + 7) & ~(uint64_t) 7)

/* where a v2 directory starts, and the first byte after it */
#define RECSYS_MODEL_DIR_OFFSET		sizeof(RecModelHeader)
#define RECSYS_MODEL_DIR_END(n)		(sizeof(RecModelHeader) + (uint64_t) (n) * sizeof(RecModelSection))

/* The directory of a v2 model (valid only after the header and size checks) */
static inline const RecModelSection *
RecModelDirectory(const RecModelHeader *h)
{
	return (const RecModelSection *) ((const char *) h + RECSYS_MODEL_DIR_OFFSET);
}

/*
 * The shape of a model: what a writer decides before allocating it.  Every
 * section's presence and size follow from it (RecModelExpectedTags, the counts).
 */
typedef struct RecModelShape
{
	int			algorithm;		/* RECSYS_ALG_* */
	uint32_t	flags;			/* RECSYS_MODEL_* flags */
	int			factors;		/* 0 for an algorithm without factors */
	int32_t		n_users;
	int32_t		n_items;
	int64_t		n_seen;			/* seen entries, 0 without interactions */
	int64_t		n_item_neighbours;	/* entries of the item-neighbour CSR */
	int64_t		n_user_neighbours;	/* entries of the user-neighbour CSR */
	int64_t		n_feature_entries;	/* text content: entries of the item CSR */
	int64_t		n_terms;		/* text content: vocabulary size */
	int64_t		vocabulary_bytes;	/* text content: bytes of the lexemes */
	int64_t		n_ann;			/* words of the ann_index section (with the flag) */
	uint64_t	options_len;	/* bytes of the options, NUL included */
} RecModelShape;

/*
 * Offsets of the v1 sections (0.1.0), derived from the header's counts.  Counts
 * must already be known non-negative and within limits (RecModelCheckHeader);
 * with those limits nothing here overflows.
 */
typedef struct RecModelLayoutV1
{
	uint64_t	options;
	uint64_t	user_ids;
	uint64_t	item_ids;
	uint64_t	user_factors;
	uint64_t	item_factors;
	uint64_t	user_bias;		/* 0 if absent */
	uint64_t	item_bias;		/* 0 if absent */
	uint64_t	item_count;
	uint64_t	seen_ptr;		/* 0 if absent */
	uint64_t	seen_items;		/* 0 if absent */
	uint64_t	total;			/* VARSIZE of the whole value */
} RecModelLayoutV1;

static inline void
RecModelComputeLayoutV1(const RecModelHeader *h, RecModelLayoutV1 *l)
{
	uint64_t	off = RECSYS_ALIGN8(RECSYS_MODEL_V1_HEADER_SIZE);
	uint64_t	nu = (uint64_t) h->n_users;
	uint64_t	ni = (uint64_t) h->n_items;
	uint64_t	k = (uint64_t) h->factors;

	l->options = off;
	off = RECSYS_ALIGN8(off + h->options_len);
	l->user_ids = off;
	off = RECSYS_ALIGN8(off + nu * 8);
	l->item_ids = off;
	off = RECSYS_ALIGN8(off + ni * 8);
	l->user_factors = off;
	off = RECSYS_ALIGN8(off + nu * k * 4);
	l->item_factors = off;
	off = RECSYS_ALIGN8(off + ni * k * 4);
	l->user_bias = l->item_bias = 0;
	if (h->flags & RECSYS_MODEL_HAS_BIASES)
	{
		l->user_bias = off;
		off = RECSYS_ALIGN8(off + nu * 4);
		l->item_bias = off;
		off = RECSYS_ALIGN8(off + ni * 4);
	}
	l->item_count = off;
	off = RECSYS_ALIGN8(off + ni * 4);
	l->seen_ptr = l->seen_items = 0;
	if (h->flags & RECSYS_MODEL_HAS_INTERACTIONS)
	{
		l->seen_ptr = off;
		off = RECSYS_ALIGN8(off + (nu + 1) * 8);
		l->seen_items = off;
		off = RECSYS_ALIGN8(off + (uint64_t) h->n_seen * 4);
	}
	l->total = off;
}

/*
 * Typed views of the sections of a detoasted model whose header and directory
 * were checked (NULL where absent; the factor pointers are NULL for a model
 * without factors).  The same for a v1 and a v2 value.
 */
typedef struct RecModelView
{
	const RecModelHeader *h;
	const char *options;
	const int64_t *user_ids;
	const int64_t *item_ids;
	const float *user_factors;
	const float *item_factors;
	const float *user_bias;
	const float *item_bias;
	const int32_t *item_count;
	const int64_t *seen_ptr;
	const int32_t *seen_items;
	const float *seen_values;
	const int64_t *item_nbr_ptr;	/* [n_items + 1] */
	const int32_t *item_nbr_idx;	/* [n_item_nbr] */
	const float *item_nbr_weight;	/* [n_item_nbr] */
	int64_t		n_item_nbr;		/* entries of the item-neighbour CSR, 0 if absent */
	const int64_t *user_nbr_ptr;	/* [n_users + 1] */
	const int32_t *user_nbr_idx;	/* [n_user_nbr] */
	const float *user_nbr_weight;	/* [n_user_nbr] */
	int64_t		n_user_nbr;		/* entries of the user-neighbour CSR, 0 if absent */
	const int64_t *feature_ptr;	/* text content: [n_items + 1] */
	const int32_t *feature_idx;	/* [n_feature] */
	const float *feature_values;	/* [n_feature] */
	int64_t		n_feature;		/* entries of the item CSR, 0 if absent */
	const char *vocabulary;		/* [vocabulary_bytes] */
	int64_t		vocabulary_bytes;
	const float *idf;			/* [n_terms] */
	int64_t		n_terms;		/* vocabulary size, 0 if absent */
	const int64_t *term_ptr;	/* [n_terms + 1] */
	const int32_t *term_items;	/* [n_feature] */
	const float *term_values;	/* [n_feature] */
	const int32_t *ann;			/* the ann_index section, NULL if absent */
	int64_t		n_ann;			/* its words */
} RecModelView;

/* The same pointers, writable: how a writer fills a model it has just created */
typedef struct RecModelMutableView
{
	RecModelHeader *h;
	char	   *options;
	int64_t    *user_ids;
	int64_t    *item_ids;
	float	   *user_factors;
	float	   *item_factors;
	float	   *user_bias;
	float	   *item_bias;
	int32_t    *item_count;
	int64_t    *seen_ptr;
	int32_t    *seen_items;
	float	   *seen_values;
	int64_t    *item_nbr_ptr;
	int32_t    *item_nbr_idx;
	float	   *item_nbr_weight;
	int64_t		n_item_nbr;
	int64_t    *user_nbr_ptr;
	int32_t    *user_nbr_idx;
	float	   *user_nbr_weight;
	int64_t		n_user_nbr;
	int64_t    *feature_ptr;
	int32_t    *feature_idx;
	float	   *feature_values;
	char	   *vocabulary;
	float	   *idf;
	int64_t    *term_ptr;
	int32_t    *term_items;
	float	   *term_values;
	int32_t    *ann;
	int64_t		n_ann;
} RecModelMutableView;

/* Points the view at one section of a v2 model */
static inline void
RecModelViewSection(RecModelView *v, const RecModelSection *s)
{
	const char *p = (const char *) v->h + s->offset;

	switch (s->tag)
	{
		case RECSYS_TAG_OPTIONS:
			v->options = p;
			break;
		case RECSYS_TAG_USER_IDS:
			v->user_ids = (const int64_t *) p;
			break;
		case RECSYS_TAG_ITEM_IDS:
			v->item_ids = (const int64_t *) p;
			break;
		case RECSYS_TAG_USER_FACTORS:
			v->user_factors = (const float *) p;
			break;
		case RECSYS_TAG_ITEM_FACTORS:
			v->item_factors = (const float *) p;
			break;
		case RECSYS_TAG_USER_BIAS:
			v->user_bias = (const float *) p;
			break;
		case RECSYS_TAG_ITEM_BIAS:
			v->item_bias = (const float *) p;
			break;
		case RECSYS_TAG_ITEM_COUNT:
			v->item_count = (const int32_t *) p;
			break;
		case RECSYS_TAG_SEEN_PTR:
			v->seen_ptr = (const int64_t *) p;
			break;
		case RECSYS_TAG_SEEN_ITEMS:
			v->seen_items = (const int32_t *) p;
			break;
		case RECSYS_TAG_SEEN_VALUES:
			v->seen_values = (const float *) p;
			break;
		case RECSYS_TAG_ITEM_NBR_PTR:
			v->item_nbr_ptr = (const int64_t *) p;
			break;
		case RECSYS_TAG_ITEM_NBR_IDX:
			v->item_nbr_idx = (const int32_t *) p;
			v->n_item_nbr = (int64_t) s->count;
			break;
		case RECSYS_TAG_ITEM_NBR_WEIGHT:
			v->item_nbr_weight = (const float *) p;
			break;
		case RECSYS_TAG_USER_NBR_PTR:
			v->user_nbr_ptr = (const int64_t *) p;
			break;
		case RECSYS_TAG_USER_NBR_IDX:
			v->user_nbr_idx = (const int32_t *) p;
			v->n_user_nbr = (int64_t) s->count;
			break;
		case RECSYS_TAG_USER_NBR_WEIGHT:
			v->user_nbr_weight = (const float *) p;
			break;
		case RECSYS_TAG_FEATURE_PTR:
			v->feature_ptr = (const int64_t *) p;
			break;
		case RECSYS_TAG_FEATURE_IDX:
			v->feature_idx = (const int32_t *) p;
			v->n_feature = (int64_t) s->count;
			break;
		case RECSYS_TAG_FEATURE_VALUES:
			v->feature_values = (const float *) p;
			break;
		case RECSYS_TAG_VOCABULARY:
			v->vocabulary = p;
			v->vocabulary_bytes = (int64_t) s->count;
			break;
		case RECSYS_TAG_IDF:
			v->idf = (const float *) p;
			v->n_terms = (int64_t) s->count;
			break;
		case RECSYS_TAG_TERM_PTR:
			v->term_ptr = (const int64_t *) p;
			break;
		case RECSYS_TAG_TERM_ITEMS:
			v->term_items = (const int32_t *) p;
			break;
		case RECSYS_TAG_ANN_INDEX:
			v->ann = (const int32_t *) p;
			v->n_ann = (int64_t) s->count;
			break;
		case RECSYS_TAG_TERM_VALUES:
			v->term_values = (const float *) p;
			break;
	}
}

/*
 * Fills the view of a model whose header and directory were checked
 * (RecModelCheckHeader on this memory): from the directory for v2, from the
 * counts for v1.
 */
static inline void
RecModelGetView(const RecModelHeader *h, RecModelView *v)
{
	const char *base = (const char *) h;

	*v = (RecModelView) {0};
	v->h = h;
	if (h->version == RECSYS_MODEL_VERSION_V1)
	{
		RecModelLayoutV1 l;

		RecModelComputeLayoutV1(h, &l);
		v->options = base + l.options;
		v->user_ids = (const int64_t *) (base + l.user_ids);
		v->item_ids = (const int64_t *) (base + l.item_ids);
		v->user_factors = (const float *) (base + l.user_factors);
		v->item_factors = (const float *) (base + l.item_factors);
		v->user_bias = l.user_bias ? (const float *) (base + l.user_bias) : NULL;
		v->item_bias = l.item_bias ? (const float *) (base + l.item_bias) : NULL;
		v->item_count = (const int32_t *) (base + l.item_count);
		v->seen_ptr = l.seen_ptr ? (const int64_t *) (base + l.seen_ptr) : NULL;
		v->seen_items = l.seen_items ? (const int32_t *) (base + l.seen_items) : NULL;
		return;
	}
	for (uint32_t i = 0; i < h->n_sections; i++)
		RecModelViewSection(v, &RecModelDirectory(h)[i]);
}

/* The writable view of a model being filled (see RecModelGetView) */
static inline void
RecModelGetMutableView(RecModelHeader *h, RecModelMutableView *mv)
{
	RecModelView v;

	RecModelGetView(h, &v);
	mv->h = h;
	mv->options = (char *) v.options;
	mv->user_ids = (int64_t *) v.user_ids;
	mv->item_ids = (int64_t *) v.item_ids;
	mv->user_factors = (float *) v.user_factors;
	mv->item_factors = (float *) v.item_factors;
	mv->user_bias = (float *) v.user_bias;
	mv->item_bias = (float *) v.item_bias;
	mv->item_count = (int32_t *) v.item_count;
	mv->seen_ptr = (int64_t *) v.seen_ptr;
	mv->seen_items = (int32_t *) v.seen_items;
	mv->seen_values = (float *) v.seen_values;
	mv->item_nbr_ptr = (int64_t *) v.item_nbr_ptr;
	mv->item_nbr_idx = (int32_t *) v.item_nbr_idx;
	mv->item_nbr_weight = (float *) v.item_nbr_weight;
	mv->n_item_nbr = v.n_item_nbr;
	mv->user_nbr_ptr = (int64_t *) v.user_nbr_ptr;
	mv->user_nbr_idx = (int32_t *) v.user_nbr_idx;
	mv->user_nbr_weight = (float *) v.user_nbr_weight;
	mv->n_user_nbr = v.n_user_nbr;
	mv->feature_ptr = (int64_t *) v.feature_ptr;
	mv->feature_idx = (int32_t *) v.feature_idx;
	mv->feature_values = (float *) v.feature_values;
	mv->vocabulary = (char *) v.vocabulary;
	mv->idf = (float *) v.idf;
	mv->term_ptr = (int64_t *) v.term_ptr;
	mv->term_items = (int32_t *) v.term_items;
	mv->term_values = (float *) v.term_values;
	mv->ann = (int32_t *) v.ann;
	mv->n_ann = v.n_ann;
}

/*
 * Offsets of the sections a factor model's writer fills (0 where absent), from
 * the view: kept for training, which fills a model by offsets.
 */
typedef struct RecModelLayout
{
	uint64_t	options;
	uint64_t	user_ids;
	uint64_t	item_ids;
	uint64_t	user_factors;
	uint64_t	item_factors;
	uint64_t	user_bias;
	uint64_t	item_bias;
	uint64_t	item_count;
	uint64_t	seen_ptr;
	uint64_t	seen_items;
	uint64_t	seen_values;
	uint64_t	total;			/* VARSIZE of the whole value */
} RecModelLayout;

/* Offsets of a model with a checked header and directory (see RecModelLayout) */
static inline void
RecModelComputeLayout(const RecModelHeader *h, RecModelLayout *l)
{
	RecModelView v;
	const char *base = (const char *) h;

#define RECSYS_OFFSET_OF(p)	((p) ? (uint64_t) ((const char *) (p) - base) : 0)
	RecModelGetView(h, &v);
	l->options = RECSYS_OFFSET_OF(v.options);
	l->user_ids = RECSYS_OFFSET_OF(v.user_ids);
	l->item_ids = RECSYS_OFFSET_OF(v.item_ids);
	l->user_factors = RECSYS_OFFSET_OF(v.user_factors);
	l->item_factors = RECSYS_OFFSET_OF(v.item_factors);
	l->user_bias = RECSYS_OFFSET_OF(v.user_bias);
	l->item_bias = RECSYS_OFFSET_OF(v.item_bias);
	l->item_count = RECSYS_OFFSET_OF(v.item_count);
	l->seen_ptr = RECSYS_OFFSET_OF(v.seen_ptr);
	l->seen_items = RECSYS_OFFSET_OF(v.seen_items);
	l->seen_values = RECSYS_OFFSET_OF(v.seen_values);
#undef RECSYS_OFFSET_OF
	if (h->version == RECSYS_MODEL_VERSION_V1)
	{
		RecModelLayoutV1 l1;

		RecModelComputeLayoutV1(h, &l1);
		l->total = l1.total;
	}
	else
	{
		const RecModelSection *last = &RecModelDirectory(h)[h->n_sections - 1];

		l->total = RECSYS_ALIGN8(last->offset + last->count * last->elem_size);
	}
}

/* Index of id in a sorted id array, or -1 */
static inline int32_t
RecFindId(const int64_t *ids, int32_t n, int64_t id)
{
	int32_t		lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (ids[mid] < id)
			lo = mid + 1;
		else if (ids[mid] > id)
			hi = mid - 1;
		else
			return mid;
	}
	return -1;
}

#endif							/* RECSYS_MODEL_H */
