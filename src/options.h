/*
 * options.h
 *		Training options: the option specs of every algorithm (one array of keys,
 *		kinds, ranges and defaults per algorithm, defined in options.c), the options
 *		structs they fill, and the functions that parse an options object, write
 *		the effective options back as JSON, check the options text a model carries,
 *		and echo user input in error messages.
 *
 * Which spec array belongs to which algorithm is the algorithm table's business
 * (algorithms.h); what the values mean is the fit's.
 */
#ifndef RECSYS_OPTIONS_H
#define RECSYS_OPTIONS_H

#include "postgres.h"

#include "utils/jsonb.h"

/* most bytes of a user's value that an error message repeats */
#define RECSYS_ECHO_MAX		40

/*
 * s[len] as an error message may show it: unchanged if short, else cut on a
 * character boundary after RECSYS_ECHO_MAX bytes and marked with its length.
 */
extern char *RecEchoInput(const char *s, size_t len);

/* A JSON value (an option's) as a message shows it: cut like RecEchoInput */
extern char *RecJsonValueText(JsonbValue *v);

/* The kinds of value an option takes, and the C type of its field */
typedef enum RecOptionKind
{
	RECSYS_OPTION_INTEGER,		/* a JSON integer within [min, max]: int64 */
	RECSYS_OPTION_NUMBER,		/* a JSON number within [min, max]: double */
	RECSYS_OPTION_BOOLEAN,		/* true or false: bool */
	RECSYS_OPTION_CHOICE,		/* one of the strings choices[]: int64, its index */
	RECSYS_OPTION_INDEX			/* an object of build_index's options:
								 * RecIndexOptions; absent means no index */
} RecOptionKind;

/* One key an algorithm's options object accepts */
typedef struct RecOptionSpec
{
	const char *name;			/* the JSON key */
	RecOptionKind kind;
	double		min;			/* integer, number: the inclusive range */
	double		max;
	double		default_value;	/* when absent (boolean: 0 or 1; choice: index) */
	const char *const *choices; /* choice: the accepted strings, NULL-terminated */
	size_t		offset;			/* of its field in the algorithm's options struct */
} RecOptionSpec;

/*
 * The rows every algorithm accepts, last in its spec array (type: its options
 * struct), and the row that ends the array
 */
#define RECSYS_COMMON_OPTION_SPECS(type) RECSYS_COMMON_OPTION_SPECS_AT(type, common)
#define RECSYS_COMMON_OPTION_SPECS_AT(type, member) \
	{"seed", RECSYS_OPTION_INTEGER, 0, 9007199254740991.0, 42, NULL, \
	 offsetof(type, member.seed)}, \
	{"keep_interactions", RECSYS_OPTION_BOOLEAN, 0, 0, 1, NULL, \
	 offsetof(type, member.keep_interactions)}, \
	{"verbose", RECSYS_OPTION_BOOLEAN, 0, 0, 0, NULL, \
	 offsetof(type, member.verbose)}, \
	{NULL}

/* The fields of the common rows: the first member of every options struct */
typedef struct RecCommonOptions
{
	int64		seed;			/* of whatever the fit draws at random */
	bool		keep_interactions;	/* the model keeps the training interactions */
	bool		verbose;		/* a NOTICE per iteration */
} RecCommonOptions;

/*
 * The options of an approximate top-N index (recsys.build_index, or the
 * "index" option of train_als and train_ials).  0 in lists, probes or sample
 * means "the default for the model's size", which ann_sql.c's
 * AnnResolveOptions works out once the item count is known; probes 0 is
 * calibrated against the model's users to reach target_recall (0: not given,
 * the default RECSYS_INDEX_DEFAULT_TARGET).
 */
typedef struct RecIndexOptions
{
	bool		enabled;		/* training: the option was given */
	bool		vectors;		/* store_vectors */
	int64		lists;
	int64		probes;
	int64		iterations;
	int64		sample;
	int64		seed;
	double		target_recall;	/* in (0, 1]; 0 when not given */
} RecIndexOptions;

/* The limits of the index options that do not depend on the model */
#define RECSYS_INDEX_MAX_ITERATIONS	1000
#define RECSYS_INDEX_MAX_SEED		INT64CONST(2147483647)
#define RECSYS_INDEX_DEFAULT_TARGET	0.99

/* Defaults of every index option (none enabled) */
extern void RecIndexOptionsDefault(RecIndexOptions *o);

/*
 * Reads an object of index options (the top level of build_index's options,
 * or the value of the training option "index") into o, defaults for absent
 * keys, and checks what does not depend on the model: known keys, types,
 * ranges.  Returns NULL, or the message for the first thing refused with
 * *too_large set when it is "lists" above the format's limit (build_index
 * raises 54000 for that).  Never raises for a well-formed container.
 */
extern char *RecIndexOptionsRead(JsonbContainer *obj, const char *what,
								 RecIndexOptions *o, bool *too_large);

/* The "index" options of an options struct of algorithm, NULL if it has none */
extern const RecIndexOptions *RecOptionsIndex(int algorithm, const void *opts);

/* Largest options struct: the aggregate state holds one by value */
#define RECSYS_OPTIONS_MAX_BYTES	256

/* Holds any algorithm's options struct, suitably aligned */
typedef union RecOptionsBuffer
{
	char		bytes[RECSYS_OPTIONS_MAX_BYTES];
	int64		align_int;
	double		align_double;
} RecOptionsBuffer;

/* train_als: explicit ALS (AlsParams) */
typedef struct AlsOptions
{
	RecCommonOptions common;
	int64		factors;
	int64		iterations;
	double		regularization;
	bool		biases;
	RecIndexOptions index;		/* an index built after training */
} AlsOptions;

/* train_ials: implicit ALS (IalsParams) */
typedef struct IalsOptions
{
	RecCommonOptions common;
	int64		factors;
	int64		iterations;
	double		regularization;
	double		alpha;
	int64		confidence;		/* IALS_CONFIDENCE_* */
	double		epsilon;		/* log confidence: scale of the weights */
	double		confidence_scale;	/* divides alpha; 0: the data's mean f(w) */
	double		regularization_exponent;	/* nu of the row-scaled lambda */
	int64		cg_steps;		/* most CG steps per solve */
	double		cg_tolerance;	/* relative residual that ends a CG solve */
	int64		solver;			/* IALS_SOLVER_*: the index in the choices */
	RecIndexOptions index;		/* an index built after training (not hybrid's) */
} IalsOptions;

/* values of KnnOptions.kind and KnnOptions.similarity (indexes of the choices) */
#define KNN_KIND_ITEM				0
#define KNN_KIND_USER				1
#define KNN_SIMILARITY_COSINE		0
#define KNN_SIMILARITY_PEARSON		1
#define KNN_SIMILARITY_JACCARD		2
#define KNN_SIMILARITY_ASYMMETRIC	3

/* train_knn: its options struct (knn.c fits it) */
typedef struct KnnOptions
{
	RecCommonOptions common;
	int64		kind;			/* KNN_KIND_* */
	int64		similarity;		/* KNN_SIMILARITY_* */
	double		alpha;			/* asymmetric cosine's exponent */
	int64		neighbours;		/* top-k kept per item or user */
	double		shrinkage;		/* sim * n / (n + shrinkage) */
	int64		min_support;	/* co-occurrences needed */
	bool		normalize;		/* scale each row's neighbour weights */
} KnnOptions;

/* train_ease: its options struct (ease.c fits it) */
typedef struct EaseOptions
{
	RecCommonOptions common;
	double		regularization; /* lambda added to the Gram matrix's diagonal */
	int64		neighbours;		/* top-k weights kept per item, 0: all */
	int64		max_items;		/* keep the most popular items only, 0: all */
	int64		values;			/* REC_EASE_VALUES_*: how a value enters X */
} EaseOptions;

/* train_content: profiles of value-weighted item features, scored by cosine */
typedef struct ContentOptions
{
	RecCommonOptions common;
	bool		center;			/* weights are values minus the user's mean */
	/* text (tsvector) features only: TF-IDF */
	int64		min_df;			/* a term must be in at least this many items */
	double		max_df;			/* ... and in at most this share of them */
	int64		max_features;	/* keep the most frequent terms only, 0: all */
	bool		sublinear_tf;	/* tf weight 1 + ln(tf) instead of tf */
} ContentOptions;

/*
 * train_hybrid: the options of train_ials first (so the fit hands them to the
 * implicit solver as they are), then what the hybrid adds
 */
typedef struct HybridOptions
{
	IalsOptions ials;
	bool		explicit_feedback;	/* "explicit": ALS on ratings instead */
	double		feature_regularization; /* lambda of the ridge map */
	int64		cold_threshold; /* fewer interactions: blend with the map */
} HybridOptions;

/* The spec arrays (the algorithm table points at them), each ended by a NULL name */
extern const RecOptionSpec ContentOptionSpecs[];
extern const RecOptionSpec HybridOptionSpecs[];
extern const RecOptionSpec AlsOptionSpecs[];
extern const RecOptionSpec IalsOptionSpecs[];
extern const RecOptionSpec KnnOptionSpecs[];
extern const RecOptionSpec EaseOptionSpecs[];

/* Keys in a spec array */
extern int	RecOptionCount(const RecOptionSpec *specs);

/*
 * The algorithm (RECSYS_ALG_*) of recsys.train or a model and its training
 * aggregate must be in the algorithm table; these raise or return an error like
 * any other problem with the options.
 */

/* Fills opts (the algorithm's options struct) with the defaults of every key */
extern void RecDefaultOptions(int algorithm, void *opts);

/*
 * Validates the options argument of a training aggregate and fills opts
 * (defaults for absent keys); raises 22023 naming the first thing refused.
 */
extern void RecParseOptions(int algorithm, Jsonb *jb, void *opts);

/* The effective options as normalised JSON text: what a model records */
extern char *RecOptionsJson(int algorithm, const void *opts);

/* What a model's options say about fields its header also records */
typedef struct RecOptionFacts
{
	bool		has_factors;	/* "factors" is present */
	int			factors;
	bool		has_biases;		/* "biases" is present (explicit models) */
	bool		biases;
	bool		has_keep_interactions;	/* "keep_interactions" is present */
	bool		keep_interactions;
	bool		has_explicit;	/* "explicit" is present (hybrid models) */
	bool		explicit_feedback;
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
