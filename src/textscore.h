/*
 * textscore.h
 *		Scores of text content models (TF-IDF): a history's profile is the
 *		value-weighted sum of its items' unit vectors, normalised, and an item's
 *		score is its cosine with the profile, read through the inverted index so
 *		that only items sharing a term with the profile are touched.
 *
 * Plain C over a model view (no PostgreSQL headers), like scoring.h.
 */
#ifndef RECSYS_TEXTSCORE_H
#define RECSYS_TEXTSCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "scoring.h"

/*
 * Scratch of one scorer: acc holds n_terms floats and mark (n_terms + 63) / 64
 * words, both zero on entry and left zero; terms holds n_terms entries
 */
typedef struct RecTextScratch
{
	float	   *acc;
	uint64_t   *mark;
	int32_t    *terms;
} RecTextScratch;

/*
 * scores[i] += cosine(profile of hist, item i) for every item sharing a term
 * with the profile, listed in t when t is not NULL; center: weights are values
 * minus their mean.  Returns false when the profile is zero (nothing scored).
 */
extern bool RecTextScore(const RecModelView *v, const RecHistory *hist, bool center,
						 RecTextScratch *s, float *scores, RecTouched *t);

/*
 * scores[j] = x_self . x_j for every item j sharing a term with item self
 * (listed in t), the cosine of two unit TF-IDF vectors
 */
extern void RecTextSimilar(const RecModelView *v, int32_t self, float *scores, RecTouched *t);

/*
 * terms[j]: history item j's share of the score of item target (the shares add
 * up to the cosine RecTextScore gives); s as for RecTextScore
 */
extern void RecTextTerms(const RecModelView *v, const RecHistory *hist, bool center,
						 int32_t target, RecTextScratch *s, float *terms);

#endif							/* RECSYS_TEXTSCORE_H */
