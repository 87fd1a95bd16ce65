/*
 * solver.h
 *		The contract between the SQL-facing training code (train.c, interactions.c,
 *		algorithms.c) and the numeric solvers (als.c, ials.c) and their thread pool
 *		(pool.c).
 *
 * Plain C: no PostgreSQL headers, no Datums, no elog.  The solvers take the
 * interactions as CSR (by user) and CSC (by item) over dense indexes, write factors
 * into arrays the caller allocated, and report failure as a status code that the
 * caller raises on the main thread.
 */
#ifndef RECSYS_SOLVER_H
#define RECSYS_SOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

/* status codes */
#define RECSYS_OK			0
#define RECSYS_INTERRUPTED	1	/* the interrupt callback asked to stop */
#define RECSYS_ENOMEM		2	/* scratch allocation failed */
#define RECSYS_ENOTPD		3	/* a normal-equation matrix was not positive definite */
#define RECSYS_ETHREAD		4	/* a thread could not be started */
#define RECSYS_EINVAL		5	/* arguments out of range */
#define RECSYS_STUCK		6	/* workers did not stop after an interrupt: they
								 * are parked and the process must exit */

/* the most threads a pool runs (recsys.threads is clamped lower still) */
#define RECSYS_MAX_THREADS	256

/*
 * Deduplicated interactions over dense indexes, in both orientations.
 * Row u of the CSR lists the items of user u (sorted), with their values;
 * column i of the CSC lists the users of item i (sorted), with the same values.
 */
typedef struct RecRatings
{
	int32_t		n_users;
	int32_t		n_items;
	int64_t		nnz;
	const int64_t *user_ptr;	/* [n_users + 1] */
	const int32_t *user_items;	/* [nnz] */
	const float *user_values;	/* [nnz] */
	const int64_t *item_ptr;	/* [n_items + 1] */
	const int32_t *item_users;	/* [nnz] */
	const float *item_values;	/* [nnz] */
} RecRatings;

/*
 * Callbacks run on the calling (main) thread only.  interrupted() is polled while
 * worker threads run (at least every 50 ms) and between sweeps; when it returns
 * true the solver stops its threads and returns RECSYS_INTERRUPTED.  progress() is
 * called after every sweep (for verbose NOTICEs).  Either may be NULL.
 */
typedef struct RecControl
{
	bool		(*interrupted) (void *arg);
	void		(*progress) (void *arg, int iteration, double loss, double seconds);
	void	   *arg;
} RecControl;

/*
 * Runs fn(ctx, thread, begin, end) over [0, n) in chunks of at most `chunk` items on
 * `nthreads` threads (work is handed out dynamically, so results must not depend on
 * which thread ran a chunk; fewer threads run it if some cannot be started).  The
 * calling thread only waits and polls ctl->interrupted.  Worker threads block all
 * signals.  Returns RECSYS_OK, the first non-zero status a chunk returned,
 * RECSYS_INTERRUPTED, or RECSYS_STUCK if workers did not stop within seconds of an
 * interrupt (then the caller must end the process: they are parked, not gone).
 * Threads that call BLAS need RecBlasReserve(nthreads) first (blas.h).
 */
typedef int (*RecChunkFn) (void *ctx, int thread, int64_t begin, int64_t end);

extern int	RecParallelFor(int nthreads, int64_t n, int64_t chunk,
						   RecChunkFn fn, void *ctx, const RecControl *ctl);

/*
 * RecParallelFor that also calls idle(idle_arg) on the calling thread while the
 * workers run, between its interrupt polls, for work of the caller's own that
 * overlaps theirs (it may use the PostgreSQL API: it runs on the backend's
 * thread, but must not raise errors).  idle returns true while it has more, and
 * is then called again at once instead of after a wait.  Never called when the
 * range runs on the calling thread alone.
 */
extern int	RecParallelForIdle(int nthreads, int64_t n, int64_t chunk,
							   RecChunkFn fn, void *ctx, const RecControl *ctl,
							   bool (*idle) (void *idle_arg), void *idle_arg);

/* Explicit ALS: r ~ mu + b_u + b_i + x_u . y_i, weighted-lambda regularisation */
typedef struct AlsParams
{
	int			factors;		/* k */
	int			iterations;		/* sweeps (0: return the initial factors) */
	float		regularization; /* lambda, scaled by each row's count */
	bool		biases;			/* learn b_u, b_i (else they stay 0) */
	uint64_t	seed;			/* initial factors */
	int			threads;
} AlsParams;

/*
 * Implicit ALS (Hu, Koren, Volinsky): preference p = [w > 0], confidence c = 1 + d(w)
 * with d = alpha |w| (linear) or alpha log(1 + |w| / epsilon) (log), and row r's
 * regularisation lambda_r = regularization * (n_other + sum_(j in r) d_j)^exponent,
 * n_other the rows of the other side (exponent 0: lambda itself, as in 0.1.0).
 */
#define IALS_SOLVER_CG			0
#define IALS_SOLVER_CHOLESKY	1

#define IALS_CONFIDENCE_LINEAR	0
#define IALS_CONFIDENCE_LOG		1

typedef struct IalsParams
{
	int			factors;
	int			iterations;
	float		regularization; /* lambda, scaled by the row's weight^exponent */
	float		alpha;
	int			cg_steps;		/* most CG steps per solve (warm-started) */
	int			solver;			/* IALS_SOLVER_* */
	uint64_t	seed;
	int			threads;
	int			confidence;		/* IALS_CONFIDENCE_* (0: linear) */
	float		epsilon;		/* log confidence's scale of w, > 0 when used */
	float		reg_exponent;	/* nu in [0, 1]; 0: lambda not scaled */
	float		cg_tolerance;	/* stop CG at |r| <= tol |b|; 0: always cg_steps */
} IalsParams;

/* c - 1 for a weight w: the one formula training and fold-in share */
static inline float
IalsConfidenceExcess(int confidence, float alpha, float epsilon, float w)
{
	float		a = w < 0.0f ? -w : w;

	if (confidence == IALS_CONFIDENCE_LOG)
		return alpha * (float) log1p((double) a / (double) epsilon);
	return alpha * a;
}

/*
 * The alpha training and fold-in use: alpha / scale, both as the model's options
 * record them (float4), computed in double then rounded, the same on both sides
 * (a scale of 0, which no trained model records, leaves alpha as it is; a
 * quotient beyond float4 is its largest value, whose confidences overflow and are
 * refused where they are computed)
 */
static inline float
IalsEffectiveAlpha(double alpha, double scale)
{
	double		q;

	if (!((float) scale > 0.0f))
		return (float) alpha;
	q = (double) (float) alpha / (double) (float) scale;
	return q < 3.4e38 ? (float) q : 3.4e38f;
}

/* lambda_r of a row with confidence excess sum_d over n_other rows of the other side */
static inline float
IalsRowLambda(float lambda, float exponent, double n_other, double sum_d)
{
	if (exponent == 0.0f)
		return lambda;
	return (float) ((double) lambda * pow(n_other + sum_d, (double) exponent));
}

/*
 * Output arrays, allocated by the caller: user_factors[n_users * k],
 * item_factors[n_items * k], user_bias[n_users], item_bias[n_items] (biases may be
 * NULL for implicit).  On return *loss holds the objective after the last sweep and
 * *iterations_done the sweeps completed.  global_mean is in/out for ALS: the
 * solver computes the mean of the values.
 */
typedef struct RecFactors
{
	float	   *user_factors;
	float	   *item_factors;
	float	   *user_bias;
	float	   *item_bias;
	float		global_mean;
	double		loss;
	int			iterations_done;
	int64_t		scratch_bytes;	/* peak scratch the solver allocated itself */
	double		cg_residual;	/* iALS CG: largest |r| / |b| of the last sweep */
	int64_t		cg_unconverged; /* iALS CG: rows of the last sweep stopped by
								 * cg_steps above cg_tolerance */
} RecFactors;

/*
 * With p->iterations 0, AlsTrain reads r's item_ptr but not item_users or
 * item_values (which may then be NULL): the loss of the initial factors sums
 * the residuals over the user rows.
 */
extern int	AlsTrain(const RecRatings *r, const AlsParams *p, RecFactors *out,
					 const RecControl *ctl);
extern int	IalsTrain(const RecRatings *r, const IalsParams *p, RecFactors *out,
					  const RecControl *ctl);

/*
 * One row of an explicit ALS half-sweep (a user against the item factors, or an
 * item against the user factors), for solving rows one at a time where the
 * rows live on other servers (distributed training).  other_index lists the
 * row's ratings as sorted, unique indexes into other; residuals adds the
 * squared errors to the loss, as AlsTrain's item half does.
 */
typedef struct AlsRowInput
{
	int			factors;		/* k */
	float		regularization; /* lambda, scaled by the row's count */
	float		global_mean;	/* mu */
	bool		residuals;		/* add the squared residuals to the loss */
	int64_t		n;				/* ratings of the row */
	const int32_t *other_index; /* [n] */
	const float *values;		/* [n] */
	const float *other;			/* the other side's factors, [* k] */
	const float *other_bias;	/* the other side's biases; NULL: no biases */
} AlsRowInput;

extern int	AlsSolveOneRow(const AlsRowInput *in, float *x, float *bias, double *loss);

/*
 * One row of an implicit ALS half-sweep solved on its own (distributed
 * training): the row's observed pairs as sorted indexes into other, the Gram
 * matrix of the whole other side (IalsGram) and its row count; observed adds the
 * observed-pair terms to the loss, as IalsTrain's item half does.
 */
typedef struct IalsRowInput
{
	const IalsParams *params;	/* factors, regularization, alpha, ... (not
								 * iterations, seed, threads) */
	bool		observed;
	double		n_other;		/* rows of the other side */
	int64_t		n;
	const int32_t *other_index; /* [n] */
	const float *values;		/* [n] */
	const float *other;			/* [* k] */
	const float *gram;			/* [k * k], both triangles */
} IalsRowInput;

extern int	IalsSolveOneRow(const IalsRowInput *in, float *x, double *loss, float *residual);

/* G = F^T F of a rows x k factor matrix, both triangles (ials.c) */
extern void IalsGram(const float *f, int64_t rows, int k, float *gram);

/* Advises transparent huge pages for a large array before it is first written */
extern void RecAdviseHugePages(void *p, size_t bytes);

/*
 * Gives the whole pages of the n shared memory ranges [p[i], p[i] + bytes[i])
 * back to the system now (MADV_REMOVE), on nthreads threads; the ranges read as
 * zeros afterwards.  Returns a status code (RecParallelFor's).
 */
extern int	RecDiscardShared(void *const *p, const size_t *bytes, int n, int nthreads,
							 const RecControl *ctl);

/* Deterministic initial factors: small values from seed, row by row */
extern void RecInitFactors(float *f, int64_t rows, int k, uint64_t seed, uint64_t stream);
/* the same on nthreads threads; returns a status code (RecParallelFor's) */
extern int	RecInitFactorsParallel(float *f, int64_t rows, int k, uint64_t seed,
								   uint64_t stream, int nthreads, const RecControl *ctl);

#endif							/* RECSYS_SOLVER_H */
