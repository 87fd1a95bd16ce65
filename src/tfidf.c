/*
 * tfidf.c
 *		The fit of train_content over tsvector features: a vocabulary of the
 *		items' lexemes (filtered by min_df, max_df, max_features), TF-IDF weights
 *		with smoothed idf, one L2-normalised sparse vector per item, and the same
 *		entries by term (the inverted index serving reads), written as a text
 *		content model.
 *
 * Weights: tf is the lexeme's number of positions in the item's tsvector (1 for
 * a stripped tsvector), or 1 + ln(tf) with sublinear_tf; idf = ln((1 + n) /
 * (1 + df)) + 1 with n the items that have text and df those that contain the
 * term.  A user's profile is not stored: serving sums it from the kept
 * interactions (textscore.c).
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "tsearch/ts_type.h"

#include "algorithms.h"
#include "interactions.h"
#include "itemfeatures.h"
#include "model.h"
#include "modeltype.h"
#include "options.h"
#include "recsys.h"

/* entries between interrupt checks */
#define TFIDF_BATCH		65536

/* One (lexeme, item) occurrence */
typedef struct TextEntry
{
	const char *lexeme;
	int32		len;
	int32		item;
	float		tf;
	int32		term;			/* its vocabulary index, -1 if filtered out */
} TextEntry;

/* A distinct lexeme: its first entry, document frequency, total tf */
typedef struct TextTerm
{
	int64		first;
	int64		df;
	double		total;
} TextTerm;

/* Byte order of lexemes, a prefix first (the order tsvector keeps them in) */
static int
CompareLexemes(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/* qsort order of entries: lexeme, then item */
static int
CompareEntries(const void *pa, const void *pb)
{
	const TextEntry *a = (const TextEntry *) pa;
	const TextEntry *b = (const TextEntry *) pb;
	int			c = CompareLexemes(a->lexeme, a->len, b->lexeme, b->len);

	if (c != 0)
		return c;
	return (a->item > b->item) - (a->item < b->item);
}

/* qsort order of terms for max_features: total tf descending, then lexeme order */
static int
CompareByFrequency(const void *pa, const void *pb)
{
	const TextTerm *a = (const TextTerm *) pa;
	const TextTerm *b = (const TextTerm *) pb;

	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return (a->first > b->first) - (a->first < b->first);
}

/* qsort order of terms by their first entry (lexeme order) */
static int
CompareByFirst(const void *pa, const void *pb)
{
	const TextTerm *a = (const TextTerm *) pa;
	const TextTerm *b = (const TextTerm *) pb;

	return (a->first > b->first) - (a->first < b->first);
}

/* The fit of train_content over tsvector features (see the file comment) */
int
RecFitText(const RecFitInput *in, RecFitOutput *out)
{
	const ContentOptions *o = (const ContentOptions *) in->options;
	const RecInteractions *d = in->data;
	const RecRatings *r = &d->ratings;
	int32		ni = r->n_items;
	const void **texts;
	int64		n_docs;
	int64		n_entries = 0;
	int64		n_groups = 0;
	int64		n_terms = 0;
	int64		n_kept = 0;
	int64		vocab_bytes = 0;
	TextEntry  *entries;
	TextTerm   *groups;
	RecModelShape shape;
	RecModelHeader *m;
	RecModelMutableView v;
	MemoryContext old;
	int64	   *fill;
	char	   *vp;
	double		max_docs;

	if (!o->common.keep_interactions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s over text needs \"keep_interactions\": profiles are summed from them when serving",
						in->algorithm->aggregate)));

	/* every (lexeme, item) of the items' tsvectors */
	texts = RecTrainAlloc(in->memory, ni, sizeof(void *), "item texts");
	n_docs = RecFeatureStoreTexts(in->features, d->item_ids, ni, texts);
	for (int32 i = 0; i < ni; i++)
		if (texts[i] != NULL)
			n_entries += ((const TSVectorData *) texts[i])->size;
	entries = RecTrainAlloc(in->memory, n_entries, sizeof(TextEntry), "lexemes");
	n_entries = 0;
	for (int32 i = 0; i < ni; i++)
	{
		TSVector	tsv = (TSVector) texts[i];
		WordEntry  *we;
		char	   *str;

		if (tsv == NULL)
			continue;
		we = ARRPTR(tsv);
		str = STRPTR(tsv);
		for (int32 k = 0; k < tsv->size; k++)
		{
			TextEntry  *e = &entries[n_entries++];

			e->lexeme = str + we[k].pos;
			e->len = we[k].len;
			e->item = i;
			e->tf = we[k].haspos ? (float) POSDATALEN(tsv, &we[k]) : 1.0f;
			e->term = -1;
		}
	}
	CHECK_FOR_INTERRUPTS();
	qsort(entries, n_entries, sizeof(TextEntry), CompareEntries);
	CHECK_FOR_INTERRUPTS();

	/* distinct lexemes with their df, those min_df and max_df keep */
	groups = RecTrainAlloc(in->memory, Max(n_entries, 1), sizeof(TextTerm), "terms");
	max_docs = o->max_df * (double) n_docs;
	for (int64 a = 0, b; a < n_entries; a = b)
	{
		double		total = 0.0;

		for (b = a; b < n_entries &&
			 CompareLexemes(entries[a].lexeme, entries[a].len, entries[b].lexeme,
							entries[b].len) == 0; b++)
			total += entries[b].tf;
		n_groups++;
		if (b - a < o->min_df || (double) (b - a) > max_docs)
			continue;
		groups[n_kept].first = a;
		groups[n_kept].df = b - a;
		groups[n_kept].total = total;
		n_kept++;
	}
	if (o->max_features > 0 && n_kept > o->max_features)
	{
		qsort(groups, n_kept, sizeof(TextTerm), CompareByFrequency);
		n_kept = o->max_features;
		qsort(groups, n_kept, sizeof(TextTerm), CompareByFirst);
	}
	n_terms = n_kept;
	if (n_terms == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s kept no term of the %lld distinct lexemes in %lld items",
						in->algorithm->aggregate, (long long) n_groups, (long long) n_docs),
				 errhint("Lower \"min_df\" or raise \"max_df\".")));
	if (n_terms > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s vocabulary of %lld terms is too large",
						in->algorithm->aggregate, (long long) n_terms),
				 errhint("Set \"max_features\".")));

	/* the kept entries: term index and weight tf x idf */
	n_kept = 0;
	for (int64 t = 0; t < n_terms; t++)
	{
		TextTerm   *g = &groups[t];
		float		idf = (float) (log((1.0 + (double) n_docs) / (1.0 + (double) g->df)) + 1.0);

		vocab_bytes += entries[g->first].len + 1;
		for (int64 e = g->first; e < g->first + g->df; e++)
		{
			float		tf = entries[e].tf;

			entries[e].term = (int32) t;
			entries[e].tf = (o->sublinear_tf ? 1.0f + logf(tf) : tf) * idf;
		}
		n_kept += g->df;
		g->total = idf;			/* kept for the idf section */
	}

	/* the model */
	memset(&shape, 0, sizeof(shape));
	shape.algorithm = RECSYS_ALG_TEXT;
	shape.flags = RECSYS_MODEL_HAS_INTERACTIONS | RECSYS_MODEL_HAS_SEEN_VALUES;
	shape.n_users = r->n_users;
	shape.n_items = ni;
	shape.n_seen = r->nnz;
	shape.n_feature_entries = n_kept;
	shape.n_terms = n_terms;
	shape.vocabulary_bytes = vocab_bytes;
	shape.options_len = strlen(in->options_json) + 1;
	RecTrainReserve(in->memory, (int64) RecModelShapeBytes(&shape, shape.options_len),
					"the model");
	old = MemoryContextSwitchTo(in->model_context);
	m = RecModelCreateShape(&shape, in->options_json);
	MemoryContextSwitchTo(old);
	RecModelGetMutableView(m, &v);
	memcpy(v.user_ids, d->user_ids, sizeof(int64) * r->n_users);
	memcpy(v.item_ids, d->item_ids, sizeof(int64) * ni);
	RecItemCounts(r, v.item_count);
	memcpy(v.seen_ptr, r->user_ptr, sizeof(int64) * ((int64) r->n_users + 1));
	memcpy(v.seen_items, r->user_items, sizeof(int32) * r->nnz);
	memcpy(v.seen_values, r->user_values, sizeof(float) * r->nnz);

	/* vocabulary, idf, and the entries by term (items ascend within a term) */
	vp = v.vocabulary;
	v.term_ptr[0] = 0;
	for (int64 t = 0; t < n_terms; t++)
	{
		TextTerm   *g = &groups[t];

		memcpy(vp, entries[g->first].lexeme, entries[g->first].len);
		vp += entries[g->first].len;
		*vp++ = '\0';
		v.idf[t] = (float) g->total;
		v.term_ptr[t + 1] = v.term_ptr[t] + g->df;
	}

	/* the item rows: counted, then filled in term order so terms ascend */
	memset(v.feature_ptr, 0, sizeof(int64) * ((int64) ni + 1));
	for (int64 e = 0; e < n_entries; e++)
		if (entries[e].term >= 0)
			v.feature_ptr[entries[e].item + 1]++;
	for (int32 i = 0; i < ni; i++)
		v.feature_ptr[i + 1] += v.feature_ptr[i];
	fill = RecTrainAlloc(in->memory, ni, sizeof(int64), "item rows");
	memcpy(fill, v.feature_ptr, sizeof(int64) * ni);
	for (int64 e = 0; e < n_entries; e++)
	{
		if (entries[e].term < 0)
			continue;
		v.feature_idx[fill[entries[e].item]] = entries[e].term;
		v.feature_values[fill[entries[e].item]++] = entries[e].tf;
		if (e % TFIDF_BATCH == 0)
			CHECK_FOR_INTERRUPTS();
	}

	/* unit rows */
	for (int32 i = 0; i < ni; i++)
	{
		double		ss = 0.0;

		for (int64 e = v.feature_ptr[i]; e < v.feature_ptr[i + 1]; e++)
			ss += (double) v.feature_values[e] * v.feature_values[e];
		if (ss > 0.0)
		{
			float		inv = (float) (1.0 / sqrt(ss));

			for (int64 e = v.feature_ptr[i]; e < v.feature_ptr[i + 1]; e++)
				v.feature_values[e] *= inv;
		}
	}

	/* the inverted index: the same weights, by term */
	for (int64 t = 0, q = 0; t < n_terms; t++)
		for (int64 e = groups[t].first; e < groups[t].first + groups[t].df; e++)
		{
			int32		i = entries[e].item;

			/* find the weight in the item's row (terms ascend there) */
			int64		lo = v.feature_ptr[i],
						hi = v.feature_ptr[i + 1] - 1;

			while (lo < hi)
			{
				int64		mid = lo + (hi - lo) / 2;

				if (v.feature_idx[mid] < t)
					lo = mid + 1;
				else
					hi = mid;
			}
			v.term_items[q] = i;
			v.term_values[q++] = v.feature_values[lo];
		}

	m->iterations = 1;
	m->global_mean = 0.0f;
	m->train_loss = 0.0f;
	out->model = m;
	out->scratch_bytes = 0;
	return RECSYS_OK;
}
