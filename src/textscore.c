/*
 * textscore.c
 *		Scoring of text content models through their inverted index
 *		(textscore.h): the profile is accumulated over the terms the history's
 *		items hold, then each of its terms adds its weight times the item's to
 *		the items listed under it.
 */
#include <math.h>
#include <string.h>

#include "textscore.h"

/* Lists item i in t the first time it is written */
static inline void
Touch(RecTouched *t, int32_t i)
{
	uint64_t	bit = UINT64_C(1) << (i & 63);
	uint64_t	word = t->mark[i >> 6];

	t->items[t->n] = i;
	t->n += (word & bit) == 0;
	t->mark[i >> 6] = word | bit;
}

/*
 * The unnormalised profile of hist into s->acc, its terms listed in s->terms;
 * returns how many terms, and the profile's norm in *norm
 */
static int64_t
Profile(const RecModelView *v, const RecHistory *hist, bool center, RecTextScratch *s,
		double *norm)
{
	double		mean = 0.0;
	double		ss = 0.0;
	int64_t		n = 0;

	if (center && hist->n > 0)
	{
		for (int64_t j = 0; j < hist->n; j++)
			mean += hist->values[j];
		mean /= (double) hist->n;
	}
	for (int64_t j = 0; j < hist->n; j++)
	{
		int32_t		i = hist->items[j];
		float		w = (float) (hist->values[j] - mean);

		for (int64_t e = v->feature_ptr[i]; e < v->feature_ptr[i + 1]; e++)
		{
			int32_t		t = v->feature_idx[e];
			uint64_t	bit = UINT64_C(1) << (t & 63);

			if (!(s->mark[t >> 6] & bit))
			{
				s->mark[t >> 6] |= bit;
				s->terms[n++] = t;
			}
			s->acc[t] += w * v->feature_values[e];
		}
	}
	for (int64_t k = 0; k < n; k++)
		ss += (double) s->acc[s->terms[k]] * s->acc[s->terms[k]];
	*norm = sqrt(ss);
	return n;
}

/* Zeroes the profile's terms again */
static void
ClearProfile(RecTextScratch *s, int64_t n)
{
	for (int64_t k = 0; k < n; k++)
	{
		int32_t		t = s->terms[k];

		s->acc[t] = 0.0f;
		s->mark[t >> 6] = 0;
	}
}

bool
RecTextScore(const RecModelView *v, const RecHistory *hist, bool center, RecTextScratch *s,
			 float *scores, RecTouched *t)
{
	double		norm;
	int64_t		n = Profile(v, hist, center, s, &norm);

	if (norm > 0.0)
	{
		float		inv = (float) (1.0 / norm);

		for (int64_t k = 0; k < n; k++)
		{
			int32_t		term = s->terms[k];
			float		p = s->acc[term] * inv;

			if (p == 0.0f)
				continue;
			for (int64_t e = v->term_ptr[term]; e < v->term_ptr[term + 1]; e++)
			{
				scores[v->term_items[e]] += p * v->term_values[e];
				if (t)
					Touch(t, v->term_items[e]);
			}
		}
	}
	ClearProfile(s, n);
	return norm > 0.0;
}

void
RecTextSimilar(const RecModelView *v, int32_t self, float *scores, RecTouched *t)
{
	for (int64_t e = v->feature_ptr[self]; e < v->feature_ptr[self + 1]; e++)
	{
		int32_t		term = v->feature_idx[e];
		float		p = v->feature_values[e];

		for (int64_t q = v->term_ptr[term]; q < v->term_ptr[term + 1]; q++)
		{
			scores[v->term_items[q]] += p * v->term_values[q];
			Touch(t, v->term_items[q]);
		}
	}
}

void
RecTextTerms(const RecModelView *v, const RecHistory *hist, bool center, int32_t target,
			 RecTextScratch *s, float *terms)
{
	double		mean = 0.0;
	double		norm;
	int64_t		n = Profile(v, hist, center, s, &norm);

	if (center && hist->n > 0)
	{
		for (int64_t j = 0; j < hist->n; j++)
			mean += hist->values[j];
		mean /= (double) hist->n;
	}
	/* term j: (w_j x_j . x_target) / |profile|, x_target read from its row */
	for (int64_t j = 0; j < hist->n; j++)
	{
		int32_t		i = hist->items[j];
		int64_t		a = v->feature_ptr[i],
					b = v->feature_ptr[target];
		double		dot = 0.0;

		while (a < v->feature_ptr[i + 1] && b < v->feature_ptr[target + 1])
		{
			if (v->feature_idx[a] < v->feature_idx[b])
				a++;
			else if (v->feature_idx[a] > v->feature_idx[b])
				b++;
			else
				dot += (double) v->feature_values[a++] * v->feature_values[b++];
		}
		terms[j] = norm > 0.0 ? (float) ((hist->values[j] - mean) * dot / norm) : 0.0f;
	}
	ClearProfile(s, n);
}
