/*
 * content.h
 *		What serving asks of content models (content.c): the profile of a
 *		visitor's history, each history item's share of a score, and the refusal
 *		of user factors.
 */
#ifndef RECSYS_CONTENT_H
#define RECSYS_CONTENT_H

#include "postgres.h"

#include "model.h"
#include "scoring.h"
#include "textscore.h"

/* Whether a content model's options ask for centred profiles ("center") */
extern bool RecContentCentred(const RecModelView *v);

/*
 * The unit profile x[factors] of a history (model item indexes and values) as
 * training computes a user's: the sum of value x unit item vector, centred on
 * the values' mean when the model was, normalised (zero if it sums to zero)
 */
extern void RecContentProfile(const RecModelView *v, const int32 *items,
							  const float *values, int64 n, float *x);

/*
 * terms[j]: history item j's share of the cosine between the history's profile
 * and item target (the terms add up to the score)
 */
extern void RecContentTerms(const RecModelView *v, const int32 *items,
							const float *values, int64 n, int32 target, float *terms);

/* Scratch for RecTextScore over a text content model (palloc'd, zero) */
extern void RecTextScratchAlloc(const RecModelView *v, RecTextScratch *s);

/*
 * A text content model's score row of a history into scores (the caller
 * zeroed it), the items written listed in t when not NULL
 */
extern void RecTextScoreHistory(const RecModelView *v, const RecHistory *hist, float *scores,
								RecTouched *t);

/* Each history item's share of a text content model's score for target */
extern void RecTextTermsHistory(const RecModelView *v, const RecHistory *hist, int32 target,
								float *terms);

/* Raises 0A000 when function (user_factors, user_vector) meets a content model */
extern void RecContentRejectUserFactors(const RecModelHeader *h, const char *function);

#endif							/* RECSYS_CONTENT_H */
