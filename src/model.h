/*
 * model.h
 *		On-disk layout of recsys.model and the inline accessors every reader uses.
 *
 * A model is one varlena: a fixed header followed by sections, each starting on an
 * 8-byte boundary, in this order (sections absent by flag take no space):
 *
 *	options			char[options_len]			training options as JSON text, NUL-terminated
 *	user_ids		int64[n_users]				sorted ascending, unique
 *	item_ids		int64[n_items]				sorted ascending, unique
 *	user_factors	float4[n_users * factors]	row-major, row u is user_ids[u]
 *	item_factors	float4[n_items * factors]	row-major, row i is item_ids[i]
 *	user_bias		float4[n_users]				if RECSYS_MODEL_HAS_BIASES
 *	item_bias		float4[n_items]				if RECSYS_MODEL_HAS_BIASES
 *	item_count		int32[n_items]				training interactions per item (popularity)
 *	seen_ptr		int64[n_users + 1]			if RECSYS_MODEL_HAS_INTERACTIONS: CSR row starts
 *	seen_items		int32[n_seen]				if RECSYS_MODEL_HAS_INTERACTIONS: item indexes,
 *												sorted within each user
 *
 * In memory (and on disk) the numbers are in native byte order; the binary send/recv
 * form is the same layout without the varlena header, every field big-endian.
 *
 * Offsets are derived from the counts, never stored: a reader checks magic, version
 * and that VARSIZE equals RecModelSize(header) before touching the payload.  Plain C
 * (no PostgreSQL headers) so fuzz targets and tests can use it outside the backend.
 */
#ifndef RECSYS_MODEL_H
#define RECSYS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define RECSYS_MODEL_MAGIC		0x4D535352u	/* "RSSM" read as little-endian */
#define RECSYS_MODEL_VERSION	1
#define RECSYS_MODEL_TEXT_PREFIX "recsys-model:v1:"

/* algorithm codes; the SQL name is the training aggregate's suffix */
#define RECSYS_ALG_ALS		1		/* explicit ratings, train_als */
#define RECSYS_ALG_IALS		2		/* implicit feedback, train_ials */

/* flags */
#define RECSYS_MODEL_HAS_BIASES			0x0001
#define RECSYS_MODEL_HAS_INTERACTIONS	0x0002
#define RECSYS_MODEL_KNOWN_FLAGS		0x0003

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
	uint16_t	version;		/* RECSYS_MODEL_VERSION */
	uint16_t	algorithm;		/* RECSYS_ALG_* */
	uint32_t	flags;			/* RECSYS_MODEL_* flags */
	int32_t		factors;		/* k, 1..RECSYS_MAX_FACTORS */
	int32_t		n_users;		/* rows of user_ids / user_factors, at least 1 */
	int32_t		n_items;		/* rows of item_ids / item_factors, at least 1 */
	int32_t		iterations;		/* sweeps actually run */
	int64_t		n_interactions; /* distinct (user,item) pairs trained on */
	int64_t		n_seen;			/* entries in seen_items (0 without interactions) */
	uint8_t		uuid[16];		/* random per trained value: the cache key */
	float		global_mean;	/* mu (explicit), exactly 0 for implicit */
	float		rating_min;		/* smallest training value (predict clips to it) */
	float		rating_max;		/* largest training value */
	float		train_loss;		/* objective after the last sweep */
	double		train_seconds;	/* wall time of the solver */
	int64_t		peak_bytes;		/* peak memory of training */
	uint32_t	options_len;	/* bytes of the options section, NUL included */
	uint32_t	reserved;		/* always zero */
} RecModelHeader;

#define RECSYS_ALIGN8(x)	(((uint64_t) (x) + 7) & ~(uint64_t) 7)

/* Offsets of every section, derived from the header's counts */
typedef struct RecModelLayout
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
} RecModelLayout;

/*
 * Computes the section offsets.  Counts must already be known non-negative and
 * within limits (RecModelCheckHeader); with those limits nothing here overflows.
 */
static inline void
RecModelComputeLayout(const RecModelHeader *h, RecModelLayout *l)
{
	uint64_t	off = RECSYS_ALIGN8(sizeof(RecModelHeader));
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

/* Typed views of the sections of a detoasted model (NULL where absent) */
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
} RecModelView;

static inline void
RecModelGetView(const RecModelHeader *h, RecModelView *v)
{
	RecModelLayout l;
	const char *base = (const char *) h;

	RecModelComputeLayout(h, &l);
	v->h = h;
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
