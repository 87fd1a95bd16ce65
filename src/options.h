/*
 * options.h
 *		The training options as other parts see them: checking the options text a
 *		model carries, and echoing user input in error messages.
 *
 * Defined in ratings.c, next to the option table the training aggregates use
 * (DESIGN §2 moves both to options.c), so a model's options are held to exactly
 * the rules training applies.
 */
#ifndef RECSYS_OPTIONS_H
#define RECSYS_OPTIONS_H

#include "postgres.h"

/* most bytes of a user's value that an error message repeats */
#define RECSYS_ECHO_MAX		40

/*
 * s[len] as an error message may show it: unchanged if short, else cut on a
 * character boundary after RECSYS_ECHO_MAX bytes and marked with its length.
 */
extern char *RecEchoInput(const char *s, size_t len);

/* What a model's options say about fields its header also records */
typedef struct RecOptionFacts
{
	bool		has_factors;	/* "factors" is present */
	int			factors;
	bool		has_biases;		/* "biases" is present (explicit models) */
	bool		biases;
	bool		has_keep_interactions;	/* "keep_interactions" is present */
	bool		keep_interactions;
} RecOptionFacts;

/*
 * Checks the options text of a model of the given algorithm (RECSYS_ALG_*) as
 * the training aggregate checks its options argument: a JSON object of known
 * keys with values of the right type and range (absent keys allowed).  json
 * must already have passed modelio.c's lexical check, so parsing it cannot
 * raise.  Returns false with *message set instead of raising.
 */
extern bool RecCheckModelOptions(const char *json, int algorithm,
								 RecOptionFacts *facts, char **message);

#endif							/* RECSYS_OPTIONS_H */
