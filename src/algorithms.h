/*
 * algorithms.h
 *		The algorithm table: one row per algorithm recsys trains, saying what the
 *		training pipeline (train.c) and recsys.train need to know about it: its
 *		names, options, how duplicate rows merge, what values it refuses, the
 *		model it writes and the fit that writes it.
 *
 * Adding an algorithm is a row in algorithms.c plus its fit (a RecFitFunction)
 * and the plain-C solver it calls; train.c, options.c and registry.c only look
 * the row up.
 */
#ifndef RECSYS_ALGORITHMS_H
#define RECSYS_ALGORITHMS_H

#include "postgres.h"

#include "interactions.h"
#include "model.h"
#include "options.h"

/* What a fit gets: the interactions, the options and the run's resources */
typedef struct RecFitInput
{
	const struct RecAlgorithm *algorithm;	/* its own row */
	const RecInteractions *data;	/* CSR + CSC, sorted raw ids, value range */
	const void *options;		/* its options struct, defaults filled in */
	const char *options_json;	/* the same as JSON: the model records it */
	int			threads;		/* threads it may run (BLAS scratch reserved) */
	RecTrainMemory *memory;		/* reserve in it before allocating */
	MemoryContext model_context;	/* where the model must be allocated */
	const struct RecFeatureStore *features; /* item features (content, hybrid) */
} RecFitInput;

/* What a fit returns besides its status */
typedef struct RecFitOutput
{
	/*
	 * The model (allocated in model_context through the model API) with every
	 * section and the fit's own statistics (iterations, train_loss,
	 * global_mean) written; train.c fills in uuid, n_interactions, the value
	 * range, train_seconds and peak_bytes, then checks it.
	 */
	RecModelHeader *model;
	int64		scratch_bytes;	/* peak scratch its solver allocated outside memory */
} RecFitOutput;

/*
 * Fits a model: runs on the backend's thread (so it may palloc and ereport;
 * its solver's threads may not), checks for interrupts through its solver's
 * RecControl, and returns RECSYS_OK or the solver's status, which train.c
 * raises with RecRaiseSolverStatus.
 */
typedef int (*RecFitFunction) (const RecFitInput *in, RecFitOutput *out);

/*
 * Bytes of the model a fit would allocate for that input (nnz: interactions
 * before duplicates merge, an upper bound), for the memory check made before the
 * interactions are built.
 */
typedef uint64 (*RecModelBytesFunction) (const void *options, int32 n_users,
										 int32 n_items, int64 nnz,
										 size_t options_len);

/* Sections of a model (DESIGN §6; the v2 format gives each a tag) */
#define RECSYS_SECTION_USER_FACTORS		0x0001
#define RECSYS_SECTION_ITEM_FACTORS		0x0002
#define RECSYS_SECTION_BIASES			0x0004	/* user and item; when "biases" */
#define RECSYS_SECTION_POPULARITY		0x0008
#define RECSYS_SECTION_SEEN				0x0010	/* when "keep_interactions" */
#define RECSYS_SECTION_ITEM_NEIGHBOURS	0x0020
#define RECSYS_SECTION_USER_NEIGHBOURS	0x0040

/* How serving scores a model of an algorithm (scoring.c's scorer kinds) */
typedef enum RecScorerKind
{
	RECSYS_SCORER_FACTORS,		/* x_u . y_i (+ mu + b_u + b_i) */
	RECSYS_SCORER_ITEM_NEIGHBOURS,	/* sum over the user's items of value x weight */
	RECSYS_SCORER_USER_NEIGHBOURS	/* sum over the user's neighbours of sim x value */
} RecScorerKind;

/* One row of the table */
typedef struct RecAlgorithm
{
	const char *name;			/* recsys.train's name: the aggregate's suffix */
	int			code;			/* RECSYS_ALG_*: the model header's algorithm */
	const char *aggregate;		/* SQL name of its training aggregate */
	const char *summary;		/* recsys.train's hint: 'als' (explicit ratings) */
	const RecOptionSpec *options;	/* the keys its options object accepts,
									 * ended by a NULL name (options.c) */
	size_t		options_size;	/* sizeof its options struct (options.h) */
	bool		add_duplicates; /* duplicate (user, item) values add up, else
								 * the last one wins */
	const char *value_name;		/* what messages call a row's value */
	const char *negative_hint;	/* NULL: negative values are allowed; else they
								 * are refused (22000) with this hint */
	RecModelBytesFunction model_bytes;
	RecFitFunction fit;
	uint32		sections;		/* RECSYS_SECTION_* it may write */
	bool		features;		/* its aggregate takes item features */
	RecScorerKind scorer;

	/*
	 * true when a fit with these options reads only the column pointers of
	 * the by-item copy (RecRatings.item_ptr), so the build skips its entries;
	 * NULL: the fit reads it all
	 */
	bool		(*item_ptr_only) (const void *options);
} RecAlgorithm;

/* The fits of the factor models, which the hybrid fit runs first */
extern int	RecFitAls(const RecFitInput *in, RecFitOutput *out);
extern int	RecFitIals(const RecFitInput *in, RecFitOutput *out);

/* The fits of content.c, and of tfidf.c (train_content over tsvector) */
extern int	RecFitText(const RecFitInput *in, RecFitOutput *out);
extern int	RecFitContent(const RecFitInput *in, RecFitOutput *out);
extern int	RecFitHybrid(const RecFitInput *in, RecFitOutput *out);
extern uint64 RecContentModelBytes(const void *options, int32 n_users, int32 n_items,
								   int64 nnz, size_t options_len);
extern uint64 RecHybridModelBytes(const void *options, int32 n_users, int32 n_items,
								  int64 nnz, size_t options_len);

/* most rows the table may have */
#define RECSYS_MAX_ALGORITHMS	16

/* The table, in the order recsys.train's hint lists it */
extern const RecAlgorithm RecAlgorithms[];
extern const int RecAlgorithmCount;

/* The row of a recsys.train name ("als"), of a code, of an aggregate; NULL if none */
extern const RecAlgorithm *RecAlgorithmByName(const char *name);
extern const RecAlgorithm *RecAlgorithmByCode(int code);
extern const RecAlgorithm *RecAlgorithmByAggregate(const char *aggregate);

/* recsys.train's hint: "Use 'als' (explicit ratings) or 'ials' (implicit feedback)." */
extern char *RecAlgorithmHint(void);

#endif							/* RECSYS_ALGORITHMS_H */
