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
 * The weight of each history item in a profile: its value (minus the mean of
 * the values when centred), divided by the largest such magnitude.  The profile
 * is normalised, so the common scale changes nothing but keeps every sum of
 * weights finite for values up to the float range; *scale is that divisor's
 * inverse (0 when every weight is 0).
 */
static double
ProfileMean(const RecHistory *hist, bool center, double *scale)
{
	double		mean = 0.0;
	double		largest = 0.0;

	if (center && hist->n > 0)
	{
		for (int64_t j = 0; j < hist->n; j++)
			mean += hist->values[j];
		mean /= (double) hist->n;
	}
	for (int64_t j = 0; j < hist->n; j++)
	{
		double		w = fabs(hist->values[j] - mean);

		largest = w > largest ? w : largest;
	}
	*scale = largest > 0.0 ? 1.0 / largest : 0.0;
	return mean;
}

/*
 * A profile shorter than this share of the summed lengths of its contributions
 * has cancelled to rounding error (centred weights over items with the same
 * terms): it is taken as zero, not as the direction of the residue
 */
#define PROFILE_CANCELLED	1e-9

/*
 * The unnormalised profile of hist into s->acc (weights scaled as
 * ProfileMean says), its terms listed in s->terms; returns how many terms, the
 * profile's norm in *norm (0 when it cancelled), the mean and scale of the
 * weights in *mean, *scale
 */
static int64_t
Profile(const RecModelView *v, const RecHistory *hist, bool center, RecTextScratch *s,
		double *norm, double *mean, double *scale)
{
	double		ss = 0.0;
	double		length = 0.0;
	int64_t		n = 0;

	*mean = ProfileMean(hist, center, scale);
	for (int64_t j = 0; j < hist->n; j++)
	{
		int32_t		i = hist->items[j];
		double		w = (hist->values[j] - *mean) * *scale;

		/* rows are unit vectors (or empty): w x_i is |w| long */
		if (v->feature_ptr[i + 1] > v->feature_ptr[i])
			length += fabs(w);

		for (int64_t e = v->feature_ptr[i]; e < v->feature_ptr[i + 1]; e++)
		{
			int32_t		t = v->feature_idx[e];
			uint64_t	bit = UINT64_C(1) << (t & 63);

			if (!(s->mark[t >> 6] & bit))
			{
				s->mark[t >> 6] |= bit;
				s->terms[n++] = t;
			}
			/* |w| <= 1 and weights <= 1: at most hist->n in magnitude */
			s->acc[t] += w * v->feature_values[e];
		}
	}
	for (int64_t k = 0; k < n; k++)
		ss += s->acc[s->terms[k]] * s->acc[s->terms[k]];
	*norm = sqrt(ss);
	if (*norm <= PROFILE_CANCELLED * length)
		*norm = 0.0;
	return n;
}

/* Zeroes the profile's terms again */
static void
ClearProfile(RecTextScratch *s, int64_t n)
{
	for (int64_t k = 0; k < n; k++)
	{
		int32_t		t = s->terms[k];

		s->acc[t] = 0.0;
		s->mark[t >> 6] = 0;
	}
}

bool
RecTextScore(const RecModelView *v, const RecHistory *hist, bool center, RecTextScratch *s,
			 float *scores, RecTouched *t)
{
	double		norm,
				mean,
				scale;
	int64_t		n = Profile(v, hist, center, s, &norm, &mean, &scale);

	if (norm > 0.0)
	{
		for (int64_t k = 0; k < n; k++)
		{
			int32_t		term = s->terms[k];

			/* divided in double: 1 / norm may be beyond the float range */
			float		p = (float) (s->acc[term] / norm);

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
	double		mean,
				scale,
				norm;
	int64_t		n = Profile(v, hist, center, s, &norm, &mean, &scale);

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
		terms[j] = norm > 0.0 ? (float) ((hist->values[j] - mean) * scale * dot / norm) : 0.0f;
	}
	ClearProfile(s, n);
}
