/*
 * model_invariants.h
 *		What serving assumes of an accepted recsys.model, checked independently of
 *		the validator (src/modelio.c), for the model fuzz targets; abort() on the
 *		first broken assumption.  Included once, after the sources under test.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/textscore.c"

/* how far from 1 a stored unit vector's squared norm may be, and a cosine */
#define UNIT_SLACK 1e-2

/* Zeroes the scores and marks of the touched items again (as serving does) */
static void
ClearTouched(RecTouched *t, float *scores)
{
	for (int64_t j = 0; j < t->n; j++)
	{
		scores[t->items[j]] = 0;
		t->mark[t->items[j] >> 6] = 0;
	}
	t->n = 0;
}

/* True when the k numbers at x are all zero or make a unit vector */
static bool
UnitOrZero(const float *x, int64_t k)
{
	double		s = 0;

	for (int64_t j = 0; j < k; j++)
		s += (double) x[j] * x[j];
	return s == 0 || fabs(s - 1) <= UNIT_SLACK;
}

/*
 * A text content model as serving reads it: item rows and postings inside their
 * sections and naming existing terms and items, and every score the text scorer
 * gives (each user's profile against the catalogue, centred or not, each item's
 * similar items, each history item's share of a score) a finite cosine.
 */
static void
CheckTextInvariants(const RecModelHeader *m, const RecModelView *v)
{
	RecTextScratch s;
	RecTouched	t;
	float	   *scores = calloc(m->n_items, sizeof(float));
	float	   *terms = calloc(m->n_seen + 1, sizeof(float));

	if (v->n_terms < 1 || v->n_terms > INT32_MAX || v->term_ptr == NULL || v->idf == NULL)
		abort();
	for (int32_t i = 0; i < m->n_items; i++)
	{
		if (v->feature_ptr[i] < 0 || v->feature_ptr[i + 1] < v->feature_ptr[i] ||
			v->feature_ptr[i + 1] > v->n_feature ||
			!UnitOrZero(v->feature_values + v->feature_ptr[i],
						v->feature_ptr[i + 1] - v->feature_ptr[i]))
			abort();
		for (int64_t e = v->feature_ptr[i]; e < v->feature_ptr[i + 1]; e++)
			if (v->feature_idx[e] < 0 || v->feature_idx[e] >= v->n_terms ||
				!(v->feature_values[e] > 0 && v->feature_values[e] <= 1))
				abort();
	}
	for (int64_t term = 0; term < v->n_terms; term++)
	{
		if (v->term_ptr[term] < 0 || v->term_ptr[term + 1] < v->term_ptr[term] ||
			v->term_ptr[term + 1] > v->n_feature || !(v->idf[term] > 0 && isfinite(v->idf[term])))
			abort();
		for (int64_t e = v->term_ptr[term]; e < v->term_ptr[term + 1]; e++)
			if (v->term_items[e] < 0 || v->term_items[e] >= m->n_items ||
				!isfinite(v->term_values[e]))
				abort();
	}

	s.acc = calloc(v->n_terms, sizeof(double));
	s.mark = calloc((v->n_terms + 63) / 64 + 1, sizeof(uint64_t));
	s.terms = malloc(sizeof(int32_t) * v->n_terms);
	t.mark = calloc((m->n_items + 63) / 64 + 1, sizeof(uint64_t));
	t.items = malloc(sizeof(int32_t) * m->n_items);
	t.n = 0;
	for (int32_t u = 0; u < m->n_users; u++)
		for (int center = 0; center < 2; center++)
		{
			RecHistory	hist = {v->seen_items + v->seen_ptr[u], v->seen_values + v->seen_ptr[u],
			v->seen_ptr[u + 1] - v->seen_ptr[u]};
			double		sum = 0;

			RecTextScore(v, &hist, center, &s, scores, &t);
			for (int32_t i = 0; i < m->n_items; i++)
				if (!isfinite(scores[i]) || fabsf(scores[i]) > 1 + UNIT_SLACK)
					abort();
			/* the shares of one scored item add up to its score */
			if (t.n > 0)
			{
				int32_t		target = t.items[0];

				RecTextTerms(v, &hist, center, target, &s, terms);
				for (int64_t j = 0; j < hist.n; j++)
				{
					if (!isfinite(terms[j]))
						abort();
					sum += terms[j];
				}
				if (fabs(sum - scores[target]) > UNIT_SLACK)
					abort();
			}
			ClearTouched(&t, scores);
			for (int64_t term = 0; term < v->n_terms; term++)
				if (s.acc[term] != 0 || s.mark[term >> 6] != 0)
					abort();
		}
	for (int32_t i = 0; i < m->n_items; i++)
	{
		RecTextSimilar(v, i, scores, &t);
		for (int32_t j = 0; j < m->n_items; j++)
			if (!isfinite(scores[j]) || fabsf(scores[j]) > 1 + UNIT_SLACK)
				abort();
		ClearTouched(&t, scores);
	}
	free(s.acc);
	free(s.mark);
	free(s.terms);
	free(t.mark);
	free(t.items);
	free(scores);
	free(terms);
}

/*
 * What serving assumes of an accepted model, checked independently of the
 * validator: at least one user and one item, an implicit model's mean is 0,
 * options are printable ASCII without escapes, and every score, cosine and
 * prediction serving can compute is a finite float (for a text content model
 * computed by the text scorer itself).
 */
static void
CheckReaderInvariants(const RecModelHeader *m)
{
	RecModelView v;
	int			k = m->factors;
	double		max_user = 0,
				max_item = 0,
				max_bias = 0;

	RecModelGetView(m, &v);
	if (m->n_users < 1 || m->n_items < 1)
		abort();
	if ((m->algorithm == RECSYS_ALG_IALS || m->algorithm == RECSYS_ALG_CONTENT ||
		 m->algorithm == RECSYS_ALG_TEXT ||
		 (m->algorithm == RECSYS_ALG_HYBRID && !(m->flags & RECSYS_MODEL_EXPLICIT))) &&
		m->global_mean != 0.0f)
		abort();
	/* only a hybrid model is flagged explicit, and none of these has biases */
	if ((m->flags & RECSYS_MODEL_EXPLICIT) && m->algorithm != RECSYS_ALG_HYBRID)
		abort();
	if (m->algorithm >= RECSYS_ALG_CONTENT && v.user_bias != NULL)
		abort();
	/* text sections exactly in text content models, and then the seen history */
	if ((v.feature_ptr != NULL) != (m->algorithm == RECSYS_ALG_TEXT) ||
		(v.feature_ptr != NULL && (v.seen_ptr == NULL || v.seen_values == NULL)))
		abort();
	if (v.feature_ptr)
		CheckTextInvariants(m, &v);
	/* an accepted index: its lists partition the items, its vectors are their rows */
	if (v.ann)
	{
		RecAnnIndex ix;
		char	   *seen = calloc((size_t) m->n_items, 1);

		RecAnnView(v.ann, &ix);
		/* a calibration has a target in (0, 1], a recall in [0, 1], 1 .. n_users users */
		if (v.ann[RECSYS_ANN_W_TARGET] != 0)
		{
			float		t,
						r;

			memcpy(&t, &v.ann[RECSYS_ANN_W_TARGET], sizeof(float));
			memcpy(&r, &v.ann[RECSYS_ANN_W_RECALL], sizeof(float));
			if (!(t > 0.0f && t <= 1.0f) || !(r >= 0.0f && r <= 1.0f) ||
				v.ann[RECSYS_ANN_W_CALIB_USERS] < 1 ||
				v.ann[RECSYS_ANN_W_CALIB_USERS] > m->n_users)
				abort();
		}
		else if (v.ann[RECSYS_ANN_W_RECALL] != 0 || v.ann[RECSYS_ANN_W_CALIB_USERS] != 0 ||
				 v.ann[RECSYS_ANN_W_CALIB_MS] != 0)
			abort();
		if (seen == NULL || ix.lists < 1 || ix.list_ptr[0] != 0 ||
			ix.list_ptr[ix.lists] != m->n_items || v.item_factors == NULL)
			abort();
		for (int32_t p = 0; p < m->n_items; p++)
		{
			int32_t		i = ix.items[p];

			if (i < 0 || i >= m->n_items || seen[i]++)
				abort();
			if (ix.vectors && memcmp(ix.vectors + (int64_t) p * ix.dim,
									 v.item_factors + (int64_t) i * k, sizeof(float) * k) != 0)
				abort();
		}
		free(seen);
	}
	/* dense content: unit item features and profiles, or none */
	if (m->algorithm == RECSYS_ALG_CONTENT)
	{
		for (int64_t u = 0; u < m->n_users; u++)
			if (!UnitOrZero(v.user_factors + u * k, k))
				abort();
		for (int64_t i = 0; i < m->n_items; i++)
			if (!UnitOrZero(v.item_factors + i * k, k))
				abort();
	}
	for (uint32_t i = 0; i + 1 < m->options_len; i++)
		if ((unsigned char) v.options[i] > 0x7E || v.options[i] == '\\' ||
			((unsigned char) v.options[i] < 0x20 && strchr(" \t\n\r", v.options[i]) == NULL))
			abort();
	if ((v.user_factors != NULL) != RecModelAlgorithmHasFactors(m->algorithm) ||
		(v.item_factors != NULL) != (v.user_factors != NULL))
		abort();
	/* neighbour rows stay inside their sections and name other rows */
	if (v.item_nbr_ptr)
		for (int32_t r = 0; r < m->n_items; r++)
			for (int64_t j = v.item_nbr_ptr[r]; j < v.item_nbr_ptr[r + 1]; j++)
				if (j < 0 || j >= v.n_item_nbr || v.item_nbr_idx[j] < 0 ||
					v.item_nbr_idx[j] >= m->n_items || v.item_nbr_idx[j] == r ||
					!isfinite(v.item_nbr_weight[j]))
					abort();
	if (v.user_nbr_ptr)
		for (int32_t r = 0; r < m->n_users; r++)
			for (int64_t j = v.user_nbr_ptr[r]; j < v.user_nbr_ptr[r + 1]; j++)
				if (j < 0 || j >= v.n_user_nbr || v.user_nbr_idx[j] < 0 ||
					v.user_nbr_idx[j] >= m->n_users || v.user_nbr_idx[j] == r ||
					!isfinite(v.user_nbr_weight[j]))
					abort();
	if (v.user_factors == NULL)
		return;
	/* largest squared row norms, in double so this check cannot overflow */
	for (int64_t u = 0; u < m->n_users; u++)
	{
		double		s = 0;

		for (int j = 0; j < k; j++)
			s += (double) v.user_factors[u * k + j] * v.user_factors[u * k + j];
		max_user = s > max_user ? s : max_user;
		if (v.user_bias)
			max_bias = fabs(v.user_bias[u]) > max_bias ? fabs(v.user_bias[u]) : max_bias;
	}
	for (int64_t i = 0; i < m->n_items; i++)
	{
		double		s = 0;

		for (int j = 0; j < k; j++)
			s += (double) v.item_factors[i * k + j] * v.item_factors[i * k + j];
		max_item = s > max_item ? s : max_item;
		if (v.item_bias)
			max_bias = fabs(v.item_bias[i]) > max_bias ? fabs(v.item_bias[i]) : max_bias;
	}
	/* |x.y| <= |x| |y| bounds every partial sum of a dot product */
	if (!(max_user <= FLT_MAX / 16 && max_item <= FLT_MAX / 16 &&
		  sqrt(max_user * max_item) + fabs(m->global_mean) + 2 * max_bias <= FLT_MAX / 2))
		abort();
}

