/*
 * synth.c
 *		Synthetic ratings with a planted low-rank truth (recsys.synthetic_ratings) and
 *		the deterministic train/test split hash (recsys.fold).
 *
 * The generator plants, for a given seed:
 *	- a global mean mu = 3, user and item biases b ~ N(0, 0.25^2),
 *	- user and item factors x_u, y_i in R^rank with entries N(0, 0.6 / sqrt(rank)), so
 *	  that x_u . y_i has standard deviation 0.6 whatever the rank,
 *	- a popularity weight per item, (r + 10)^-1 for its popularity rank r = 1..n_items,
 *	  the ranks being a seeded permutation of the item ids.
 * Each user u gets floor(n_ratings / n_users) distinct items (the first
 * n_ratings mod n_users users one more) or, with user_activity = s > 0, a share of
 * n_ratings proportional to exp(s g_u), g_u ~ N(0, 1) (log-normal activity, capped
 * at n_items), drawn without replacement with probability
 * proportional to the item's weight: its popularity (explicit) or its popularity
 * times exp(3 (min(z_ui, 2) - 2)) with z_ui = (x_u . y_i + e_ui) / 0.6 (implicit).
 * Explicit rating: clip(mu + b_u + b_i + x_u . y_i, 1, 5) + e_ui; implicit value:
 * 1 + Geometric(mean exp(min(z_ui, 4))), or with count_exponent = a > 0 the
 * heavy-tailed ceil(exp(min(z_ui, 4)) U^(-1/a)), U uniform: a Pareto tail of
 * exponent a, as play counts have (capped at 10^7).  The popularity weight's
 * exponent is popularity_exponent (1 by default).  e_ui ~ N(0, noise^2) is a
 * function of the seed and the pair alone.  README (synthetic data) has the same model in prose.
 *
 * Everything is drawn from our own generators (xoshiro256** seeded per user and per
 * item, and a counter-based hash per pair), never random(), so the output depends on
 * the arguments only.  Rows are produced user by user (value-per-call), memory is
 * O(n_items * rank) whatever n_ratings is.
 *
 * This file does not own any evaluation metric (metrics.c) or training code.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "kernels.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "nodes/supportnodes.h"
#include "utils/builtins.h"

#include "model.h"
#include "vec.h"

/* the planted model; README and the file comment describe the same numbers */
#define SYNTH_MEAN			3.0		/* global mean of the explicit scale */
#define SYNTH_RATING_MIN	1.0		/* the planted score is clipped to [1, 5] */
#define SYNTH_RATING_MAX	5.0
#define SYNTH_BIAS_SD		0.25	/* user and item bias standard deviation */
#define SYNTH_DOT_SD		0.6		/* standard deviation of x_u . y_i */
#define SYNTH_MAX_ZIPF		4.0		/* largest popularity_exponent */
#define SYNTH_MAX_ACTIVITY	4.0		/* largest user_activity */
#define SYNTH_MIN_TAIL		0.5		/* smallest count_exponent (other than 0) */
#define SYNTH_MAX_TAIL		10.0
#define SYNTH_MAX_COUNT		1e7		/* heavy-tailed counts are capped here */
#define SYNTH_ZIPF_OFFSET	10.0
#define SYNTH_TILT_BETA		3.0		/* implicit: preference tilt */
#define SYNTH_TILT_CAP		2.0		/* exp(beta (min(z, cap) - cap)) */
#define SYNTH_COUNT_ZMAX	4.0		/* implicit: count mean exp(min(z, zmax)) */
#define SYNTH_MAX_RANK		1024
#define SYNTH_MAX_NOISE		1e6		/* beyond it the 1..5 scale is noise alone */
#define SYNTH_MAX_BYTES		((uint64) 1 << 30)	/* generator memory (54000 beyond) */

/* draws or items between interrupt checks in the per-user loops */
#define SYNTH_INTERRUPT_EVERY	65536

/* independent random streams, mixed into every seed */
#define STREAM_ITEM			0x6974656dULL	/* item bias and factors */
#define STREAM_USER			0x75736572ULL	/* user bias and factors */
#define STREAM_POPULARITY	0x706f7075ULL	/* permutation of popularity ranks */
#define STREAM_SAMPLE		0x73616d70ULL	/* which items a user gets */
#define STREAM_PAIR_NOISE	0x6e6f6973ULL	/* e_ui */
#define STREAM_PAIR_COUNT	0x636f756eULL	/* implicit count of a pair */
#define STREAM_FOLD			0x666f6c64ULL	/* recsys.fold */
#define STREAM_ACTIVITY		0x61637476ULL	/* a user's activity (user_activity) */

PG_FUNCTION_INFO_V1(synthetic_ratings);
PG_FUNCTION_INFO_V1(synthetic_ratings_support);
PG_FUNCTION_INFO_V1(recsys_fold);

/* xoshiro256** state */
typedef struct SynthRng
{
	uint64		s[4];
} SynthRng;

/*
 * Everything one call of synthetic_ratings keeps between rows: the item tables
 * (built once), the current user's planted vector, and the current user's rows.
 */
typedef struct SynthState
{
	/* arguments */
	int32		n_users;
	int32		n_items;
	int64		n_ratings;
	int32		rank;
	double		noise;
	uint64		seed;
	bool		implicit;
	double		popularity_exponent;
	double		user_activity;
	double		count_exponent;

	/* users: NULL unless user_activity > 0 */
	int32	   *user_need;		/* [n_users] rows of each user */

	/* items */
	float	   *item_factors;	/* [n_items * rank] */
	float	   *item_bias;		/* [n_items] */
	double	   *popularity;		/* [n_items] popularity weight, sums to 1 */
	double	   *alias_prob;		/* [n_items] Vose alias table over popularity */
	int32	   *alias_index;	/* [n_items] */
	uint32	   *taken;			/* [n_items] 1 + index of the last user who took it */
	double	   *exact_key;		/* [n_items] scratch for ExactRemainder, lazily */
	int32	   *exact_item;		/* [n_items] */

	/* the current user */
	int32		user;			/* index of the next user to generate */
	int32		users_with_rows;	/* users after these get no rows */
	float	   *user_factors;	/* [rank] */
	float		user_bias;
	int32	   *items;			/* [max per user] the user's items, sorted */
	float	   *values;			/* [max per user] their ratings or counts */
	int32		n_rows;			/* rows of the current user */
	int32		next_row;		/* next of them to return */
} SynthState;

/* splitmix64's finaliser: a bijective 64-bit mixer */
static inline uint64
Mix64(uint64 z)
{
	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A 64-bit hash of (seed, stream, a, b): the counter-based source of per-pair draws */
static inline uint64
PairHash(uint64 seed, uint64 stream, uint64 a, uint64 b)
{
	uint64		h = Mix64(seed ^ (stream * UINT64CONST(0x9e3779b97f4a7c15)));

	h = Mix64(h + a * UINT64CONST(0xd1b54a32d192ed03));
	return Mix64(h + b * UINT64CONST(0x8cb92ba72f3d8dd7));
}

/* Seeds a xoshiro256** generator for (seed, stream, index) */
static void
RngSeed(SynthRng *rng, uint64 seed, uint64 stream, uint64 index)
{
	uint64		x = PairHash(seed, stream, index, 0);

	/* splitmix64 sequence, which never yields the all-zero state */
	for (int k = 0; k < 4; k++)
	{
		x += UINT64CONST(0x9e3779b97f4a7c15);
		rng->s[k] = Mix64(x);
	}
}

/* Next 64 random bits (xoshiro256**) */
static inline uint64
RngNext(SynthRng *rng)
{
	uint64	   *s = rng->s;
	uint64		x = s[1] * 5;
	uint64		result = ((x << 7) | (x >> 57)) * 9;
	uint64		t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return result;
}

/* Uniform in (0, 1] from 53 random bits (never 0, so its logarithm is finite) */
static inline double
UnitOpen(uint64 bits)
{
	return ((double) (bits >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Standard normal from 64 random bits (Box-Muller on two 32-bit halves) */
static inline double
NormalFromBits(uint64 bits)
{
	double		u1 = ((double) (bits >> 32) + 1.0) * (1.0 / 4294967296.0);
	double		u2 = (double) (bits & 0xffffffff) * (1.0 / 4294967296.0);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Standard normal from a generator */
static inline double
RngNormal(SynthRng *rng)
{
	return NormalFromBits(RngNext(rng));
}

/* Uniform integer in [0, n) (multiply-shift; bias below 2^-32 for n < 2^31) */
static inline uint32
RngBelow(SynthRng *rng, uint32 n)
{
	return (uint32) (((RngNext(rng) >> 32) * (uint64) n) >> 32);
}

/*
 * Planted bias and factors of one user or item: bias ~ N(0, SYNTH_BIAS_SD^2), factor
 * entries ~ N(0, SYNTH_DOT_SD / sqrt(rank)), from the entity's own stream so that an
 * entity's truth does not depend on how many others there are.
 */
static void
PlantEntity(uint64 seed, uint64 stream, int32 index, int rank,
			float *bias, float *factors)
{
	SynthRng	rng;
	double		sd = sqrt(SYNTH_DOT_SD / sqrt((double) rank));

	RngSeed(&rng, seed, stream, (uint64) index);
	*bias = (float) (SYNTH_BIAS_SD * RngNormal(&rng));
	for (int k = 0; k < rank; k++)
		factors[k] = (float) (sd * RngNormal(&rng));
}

/* x . y over rank entries, one accumulator so the compiler can vectorise it */
static inline double
PlantedDot(const float *x, const float *y, int rank)
{
	float		acc = 0.0f;

	for (int k = 0; k < rank; k++)
		acc += x[k] * y[k];
	return acc;
}

/*
 * Builds the popularity weights (power law over a seeded permutation of the items)
 * and Vose's alias table for drawing an item by popularity in O(1).
 */
static void
BuildPopularity(SynthState *st)
{
	int32		n = st->n_items;
	int32	   *perm = palloc_extended(sizeof(int32) * n, MCXT_ALLOC_HUGE);
	int32	   *small = palloc_extended(sizeof(int32) * n, MCXT_ALLOC_HUGE);
	int32	   *large = palloc_extended(sizeof(int32) * n, MCXT_ALLOC_HUGE);
	double	   *scaled = st->alias_prob;
	SynthRng	rng;
	double		total = 0.0;
	int32		ns = 0,
				nl = 0;

	/* popularity rank r + 1 goes to item perm[r] (Fisher-Yates) */
	for (int32 i = 0; i < n; i++)
		perm[i] = i;
	RngSeed(&rng, st->seed, STREAM_POPULARITY, 0);
	for (int32 i = n - 1; i > 0; i--)
	{
		int32		j = (int32) RngBelow(&rng, (uint32) i + 1);
		int32		t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (int32 r = 0; r < n; r++)
	{
		double		w = pow(r + 1 + SYNTH_ZIPF_OFFSET, -st->popularity_exponent);

		st->popularity[perm[r]] = w;
		total += w;
	}
	for (int32 i = 0; i < n; i++)
		st->popularity[i] /= total;

	/* Vose: split the scaled weights into columns of height 1 */
	for (int32 i = 0; i < n; i++)
	{
		scaled[i] = st->popularity[i] * n;
		if (scaled[i] < 1.0)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0)
	{
		int32		s = small[--ns];
		int32		l = large[nl - 1];

		st->alias_index[s] = l;
		scaled[l] -= 1.0 - scaled[s];
		if (scaled[l] < 1.0)
		{
			nl--;
			small[ns++] = l;
		}
	}
	/* what is left is 1 up to rounding */
	while (nl > 0)
	{
		scaled[large[--nl]] = 1.0;
		st->alias_index[large[nl]] = large[nl];
	}
	while (ns > 0)
	{
		scaled[small[--ns]] = 1.0;
		st->alias_index[small[ns]] = small[ns];
	}
	pfree(perm);
	pfree(small);
	pfree(large);
}

/* An item drawn by popularity alone */
static inline int32
DrawByPopularity(SynthState *st, SynthRng *rng)
{
	double		u = (double) (RngNext(rng) >> 11) * (1.0 / 9007199254740992.0) * st->n_items;
	int32		i = (int32) u;

	if (i >= st->n_items)
		i = st->n_items - 1;
	return (u - i < st->alias_prob[i]) ? i : st->alias_index[i];
}

/* The noise e_ui ~ N(0, noise^2) of a pair, the same whichever way the pair is chosen */
static inline double
PairNoise(SynthState *st, int32 user, int32 item)
{
	if (st->noise == 0.0)
		return 0.0;
	return st->noise * NormalFromBits(PairHash(st->seed, STREAM_PAIR_NOISE,
											   (uint64) user, (uint64) item));
}

/* Implicit mode: the standardised noisy preference z_ui */
static inline double
Preference(SynthState *st, int32 user, int32 item)
{
	double		dot = PlantedDot(st->user_factors,
								 st->item_factors + (size_t) item * st->rank, st->rank);

	return (dot + PairNoise(st, user, item)) / SYNTH_DOT_SD;
}

/* Implicit mode: the tilt exp(beta (min(z, cap) - cap)) in (0, 1] on top of popularity */
static inline double
PreferenceTilt(double z)
{
	return exp(SYNTH_TILT_BETA * ((z < SYNTH_TILT_CAP ? z : SYNTH_TILT_CAP) - SYNTH_TILT_CAP));
}

/* A (key, item) pair of the exact sampler */
typedef struct KeyedItem
{
	double		key;
	int32		item;
} KeyedItem;

/* qsort comparator: smaller key first, then smaller item */
static int
CompareKeyedItem(const void *a, const void *b)
{
	const KeyedItem *x = a;
	const KeyedItem *y = b;

	if (x->key != y->key)
		return (x->key > y->key) - (x->key < y->key);
	return (x->item > y->item) - (x->item < y->item);
}

/*
 * Completes a user's items exactly when rejection sampling stalls (the user wants a
 * large share of the catalogue): every item not yet taken gets the key E / w with
 * E ~ Exp(1) and w its weight, and the smallest keys win (Efraimidis-Spirakis).  That
 * is the same distribution as continuing to draw without replacement.
 */
static int32
ExactRemainder(SynthState *st, SynthRng *rng, int32 have, int32 need)
{
	uint32		mark = (uint32) st->user + 1;
	KeyedItem  *keyed;
	int32		n = 0;

	keyed = palloc_extended(sizeof(KeyedItem) * st->n_items, MCXT_ALLOC_HUGE);
	for (int32 i = 0; i < st->n_items; i++)
	{
		double		w;

		if ((i & (SYNTH_INTERRUPT_EVERY - 1)) == 0)
			CHECK_FOR_INTERRUPTS();
		if (st->taken[i] == mark)
			continue;
		w = st->popularity[i];
		if (st->implicit)
			w *= PreferenceTilt(Preference(st, st->user, i));
		keyed[n].key = -log(UnitOpen(RngNext(rng))) / w;
		keyed[n].item = i;
		n++;
	}
	qsort(keyed, n, sizeof(KeyedItem), CompareKeyedItem);
	for (int32 j = 0; have < need && j < n; j++)
	{
		st->taken[keyed[j].item] = mark;
		st->items[have++] = keyed[j].item;
	}
	pfree(keyed);
	return have;
}

/*
 * Generates the rows of user st->user: plants the user, draws its distinct items
 * (alias draw by popularity, in implicit mode accepted with the preference tilt,
 * duplicates rejected), sorts them and computes each rating or count.
 */
static void
GenerateUser(SynthState *st)
{
	int32		u = st->user;
	uint32		mark = (uint32) u + 1;
	int32		need;
	int32		have = 0;
	int64		draws = 0;
	int64		budget;
	SynthRng	rng;

	if (st->user_need != NULL)
		need = st->user_need[u];
	else
	{
		need = (int32) (st->n_ratings / st->n_users);
		if (u < st->n_ratings % st->n_users)
			need++;
	}

	PlantEntity(st->seed, STREAM_USER, u, st->rank, &st->user_bias, st->user_factors);
	RngSeed(&rng, st->seed, STREAM_SAMPLE, (uint64) u);

	/* rejection sampling, until it stops paying off */
	budget = (st->implicit ? 32 : 8) * (int64) need + 256;
	while (have < need && draws < budget)
	{
		int32		i = DrawByPopularity(st, &rng);

		if ((++draws & (SYNTH_INTERRUPT_EVERY - 1)) == 0)
			CHECK_FOR_INTERRUPTS();
		if (st->taken[i] == mark)
			continue;
		if (st->implicit &&
			UnitOpen(RngNext(&rng)) > PreferenceTilt(Preference(st, u, i)))
			continue;
		st->taken[i] = mark;
		st->items[have++] = i;
	}
	if (have < need)
		have = ExactRemainder(st, &rng, have, need);
	Assert(have == need);

	qsort(st->items, have, sizeof(int32), RecCompareInt32);
	for (int32 j = 0; j < have; j++)
	{
		int32		i = st->items[j];

		if (st->implicit && st->count_exponent > 0.0)
		{
			/* Pareto tail scaled by the preference: ceil(m U^(-1/a)) */
			double		z = Preference(st, u, i);
			double		m = exp(z < SYNTH_COUNT_ZMAX ? z : SYNTH_COUNT_ZMAX);
			double		uni = UnitOpen(PairHash(st->seed, STREAM_PAIR_COUNT,
												(uint64) u, (uint64) i));
			double		count = ceil(m * pow(uni, -1.0 / st->count_exponent));

			st->values[j] = (float) Min(count, SYNTH_MAX_COUNT);
		}
		else if (st->implicit)
		{
			/* 1 + Geometric with mean m: P(k) = (1 - q) q^k, q = m / (1 + m) */
			double		z = Preference(st, u, i);
			double		m = exp(z < SYNTH_COUNT_ZMAX ? z : SYNTH_COUNT_ZMAX);
			double		q = m / (1.0 + m);
			double		uni = UnitOpen(PairHash(st->seed, STREAM_PAIR_COUNT,
												(uint64) u, (uint64) i));

			st->values[j] = (float) (1.0 + floor(log(uni) / log(q)));
		}
		else
		{
			double		score = SYNTH_MEAN + st->user_bias + st->item_bias[i] +
				PlantedDot(st->user_factors, st->item_factors + (size_t) i * st->rank,
						   st->rank);

			score = Min(Max(score, SYNTH_RATING_MIN), SYNTH_RATING_MAX);
			st->values[j] = (float) (score + PairNoise(st, u, i));
		}
	}
	st->n_rows = have;
	st->next_row = 0;
}

/*
 * Bytes the generator holds at its peak: per item the planted factors and bias,
 * the popularity and alias tables, the taken marks and the exact sampler's keys;
 * per user's row its item and value.
 */
static uint64
SynthStateBytes(int32 n_items, int64 n_ratings, int32 n_users, int32 rank,
				bool activity)
{
	uint64		per_item = sizeof(float) * (uint64) rank + sizeof(float) +
		2 * sizeof(double) + sizeof(int32) + sizeof(uint32) + sizeof(KeyedItem);
	uint64		max_per_user = (uint64) ((n_ratings + n_users - 1) / n_users);

	/* with varied activity a user may take the whole catalogue */
	if (activity)
		return (uint64) n_items * (per_item + sizeof(int32) + sizeof(float)) +
			(uint64) n_users * (sizeof(int32) + sizeof(double));
	return (uint64) n_items * per_item + max_per_user * (sizeof(int32) + sizeof(float));
}

/*
 * Rows per user with log-normal activity: shares exp(s g_u) of n_ratings, capped
 * at n_items (the scale found by bisection so that the capped shares sum to
 * n_ratings), rounded down, and the rows left over handed out one per user in
 * user order to users below the cap.  Returns the largest.
 */
static int32
PlanActivity(SynthState *st)
{
	int32		n = st->n_users;
	double	   *w = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE);
	double		lo = 0.0,
				hi,
				total = 0.0;
	int64		assigned = 0;
	int32		most = 0;

	for (int32 u = 0; u < n; u++)
	{
		w[u] = exp(st->user_activity *
				   NormalFromBits(PairHash(st->seed, STREAM_ACTIVITY, (uint64) u, 0)));
		total += w[u];
	}
	/* scale * w_u summed, capped at n_items: at hi every user is capped */
	hi = (double) st->n_ratings / total;
	for (int32 u = 0; u < n; u++)
		hi = Max(hi, (double) st->n_items / w[u]);
	for (int step = 0; step < 100; step++)
	{
		double		mid = 0.5 * (lo + hi);
		double		sum = 0.0;

		for (int32 u = 0; u < n; u++)
			sum += Min((double) st->n_items, floor(mid * w[u]));
		if (sum > (double) st->n_ratings)
			hi = mid;
		else
			lo = mid;
	}
	for (int32 u = 0; u < n; u++)
	{
		st->user_need[u] = (int32) Min((double) st->n_items, floor(lo * w[u]));
		assigned += st->user_need[u];
	}
	/* n_ratings <= n_users * n_items, so the leftover always finds room */
	while (assigned < st->n_ratings)
	{
		for (int32 u = 0; u < n && assigned < st->n_ratings; u++)
			if (st->user_need[u] < st->n_items)
			{
				st->user_need[u]++;
				assigned++;
			}
	}
	for (int32 u = 0; u < n; u++)
		most = Max(most, st->user_need[u]);
	pfree(w);
	return most;
}

/*
 * Checks the arguments of synthetic_ratings: 22023 naming the argument, 54000 if
 * the generator would need more than SYNTH_MAX_BYTES.  The work is then bounded
 * by n_ratings rows and users with no rows are never visited.
 */
static void
CheckSynthArguments(int32 n_users, int32 n_items, int64 n_ratings, int32 rank,
					double noise, double popularity_exponent, double user_activity,
					double count_exponent)
{
	uint64		bytes;

	if (n_users < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"n_users\" must be at least 1, got %d", n_users)));
	if (n_items < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"n_items\" must be at least 1, got %d", n_items)));
	if (n_ratings < 1 || n_ratings > (int64) n_users * n_items)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"n_ratings\" must be between 1 and n_users * n_items = "
						INT64_FORMAT ", got " INT64_FORMAT,
						(int64) n_users * n_items, n_ratings),
				 errdetail("Each user rates an item at most once.")));
	if (rank < 1 || rank > SYNTH_MAX_RANK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"rank\" must be between 1 and %d, got %d",
						SYNTH_MAX_RANK, rank)));
	/* written so that NaN fails too; a larger noise could overflow a rating */
	if (!(noise >= 0.0 && noise <= SYNTH_MAX_NOISE))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"noise\" must be between 0 and %g, got %g",
						SYNTH_MAX_NOISE, noise)));
	if (!(popularity_exponent >= 0.0 && popularity_exponent <= SYNTH_MAX_ZIPF))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"popularity_exponent\" must be between 0 and %g, got %g",
						SYNTH_MAX_ZIPF, popularity_exponent)));
	if (!(user_activity >= 0.0 && user_activity <= SYNTH_MAX_ACTIVITY))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"user_activity\" must be between 0 and %g, got %g",
						SYNTH_MAX_ACTIVITY, user_activity)));
	if (!(count_exponent == 0.0 ||
		  (count_exponent >= SYNTH_MIN_TAIL && count_exponent <= SYNTH_MAX_TAIL)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"count_exponent\" must be 0 or between %g and %g, got %g",
						SYNTH_MIN_TAIL, SYNTH_MAX_TAIL, count_exponent),
				 errdetail("0 draws geometric counts; a smaller exponent is a heavier tail.")));
	bytes = SynthStateBytes(n_items, n_ratings, n_users, rank, user_activity > 0.0);
	if (bytes > SYNTH_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("synthetic_ratings of %d items at rank %d would need %llu MB, more than the %llu MB it may use",
						n_items, rank, (unsigned long long) (bytes >> 20),
						(unsigned long long) (SYNTH_MAX_BYTES >> 20)),
				 errhint("Use fewer items or a lower rank.")));
}

/* Allocates the generator state and plants every item */
static SynthState *
InitSynthState(int32 n_users, int32 n_items, int64 n_ratings, int32 rank,
			   double noise, int64 seed, bool implicit, double popularity_exponent,
			   double user_activity, double count_exponent)
{
	SynthState *st = palloc0(sizeof(SynthState));
	int32		max_per_user = (int32) ((n_ratings + n_users - 1) / n_users);

	st->n_users = n_users;
	st->n_items = n_items;
	st->n_ratings = n_ratings;
	st->rank = rank;
	st->noise = noise;
	st->seed = (uint64) seed;
	st->implicit = implicit;
	st->popularity_exponent = popularity_exponent;
	st->user_activity = user_activity;
	st->count_exponent = count_exponent;
	/* with fewer ratings than users, only the first n_ratings users get one */
	st->users_with_rows = (int32) Min((int64) n_users, n_ratings);
	if (user_activity > 0.0)
	{
		st->user_need = palloc_extended(sizeof(int32) * n_users, MCXT_ALLOC_HUGE);
		max_per_user = Max(PlanActivity(st), 1);
		st->users_with_rows = n_users;
	}

	st->item_factors = palloc_extended(sizeof(float) * (size_t) n_items * rank,
									   MCXT_ALLOC_HUGE);
	st->item_bias = palloc_extended(sizeof(float) * n_items, MCXT_ALLOC_HUGE);
	st->popularity = palloc_extended(sizeof(double) * n_items, MCXT_ALLOC_HUGE);
	st->alias_prob = palloc_extended(sizeof(double) * n_items, MCXT_ALLOC_HUGE);
	st->alias_index = palloc_extended(sizeof(int32) * n_items, MCXT_ALLOC_HUGE);
	st->taken = palloc_extended(sizeof(uint32) * n_items, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	st->user_factors = palloc(sizeof(float) * rank);
	st->items = palloc_extended(sizeof(int32) * max_per_user, MCXT_ALLOC_HUGE);
	st->values = palloc_extended(sizeof(float) * max_per_user, MCXT_ALLOC_HUGE);

	for (int32 i = 0; i < n_items; i++)
	{
		PlantEntity(st->seed, STREAM_ITEM, i, rank, &st->item_bias[i],
					st->item_factors + (size_t) i * rank);
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	BuildPopularity(st);
	return st;
}

/*
 * recsys.synthetic_ratings(n_users, n_items, n_ratings, rank, noise, seed, implicit
 * [, popularity_exponent, user_activity, count_exponent]): rows (user_id, item_id,
 * rating) ordered by user then item, ids starting at 1.  The 0.1.0 signature (seven
 * arguments) gets the defaults 1, 0, 0 of the later three.
 */
Datum
synthetic_ratings(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	SynthState *st;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		TupleDesc	tupdesc;
		int32		n_users = PG_GETARG_INT32(0);
		int32		n_items = PG_GETARG_INT32(1);
		int64		n_ratings = PG_GETARG_INT64(2);
		int32		rank = PG_GETARG_INT32(3);
		double		noise = PG_GETARG_FLOAT8(4);
		int64		seed = PG_GETARG_INT64(5);
		bool		implicit = PG_GETARG_BOOL(6);
		double		popularity_exponent = PG_NARGS() > 7 ? PG_GETARG_FLOAT8(7) : 1.0;
		double		user_activity = PG_NARGS() > 8 ? PG_GETARG_FLOAT8(8) : 0.0;
		double		count_exponent = PG_NARGS() > 9 ? PG_GETARG_FLOAT8(9) : 0.0;

		CheckSynthArguments(n_users, n_items, n_ratings, rank, noise,
							popularity_exponent, user_activity, count_exponent);

		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("function returning record called in context that cannot accept type record")));
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		funcctx->user_fctx = InitSynthState(n_users, n_items, n_ratings, rank,
											noise, seed, implicit, popularity_exponent,
											user_activity, count_exponent);
		MemoryContextSwitchTo(oldcontext);
	}

	funcctx = SRF_PERCALL_SETUP();
	st = (SynthState *) funcctx->user_fctx;

	while (st->next_row >= st->n_rows && st->user < st->users_with_rows)
	{
		CHECK_FOR_INTERRUPTS();
		GenerateUser(st);
		st->user++;
	}
	if (st->next_row < st->n_rows)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		int32		j = st->next_row++;

		values[0] = Int64GetDatum((int64) st->user);	/* already advanced: 1-based */
		values[1] = Int64GetDatum((int64) st->items[j] + 1);
		values[2] = Float4GetDatum(st->values[j]);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
														  values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

/*
 * Planner support for synthetic_ratings: the row estimate is n_ratings when that
 * argument is a constant.
 */
Datum
synthetic_ratings_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestRows))
	{
		SupportRequestRows *req = (SupportRequestRows *) rawreq;

		if (req->node && IsA(req->node, FuncExpr))
		{
			List	   *args = ((FuncExpr *) req->node)->args;

			if (list_length(args) >= 3 && IsA(lthird(args), Const))
			{
				Const	   *c = (Const *) lthird(args);

				if (!c->constisnull && DatumGetInt64(c->constvalue) > 0)
				{
					req->rows = (double) DatumGetInt64(c->constvalue);
					PG_RETURN_POINTER(req);
				}
			}
		}
	}
	PG_RETURN_POINTER(NULL);
}

/*
 * recsys.fold(user_id, item_id, folds, seed): a fold number in [0, folds) from a
 * hash of the pair, uniform over pairs, so `fold(...) <> 0` selects a train set.
 */
Datum
recsys_fold(PG_FUNCTION_ARGS)
{
	int64		user_id = PG_GETARG_INT64(0);
	int64		item_id = PG_GETARG_INT64(1);
	int32		folds = PG_GETARG_INT32(2);
	int32		seed = PG_GETARG_INT32(3);
	uint64		h;

	if (folds < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"folds\" must be at least 1, got %d", folds)));
	h = PairHash((uint64) (int64) seed, STREAM_FOLD, (uint64) user_id, (uint64) item_id);
	PG_RETURN_INT32((int32) (((h >> 32) * (uint64) folds) >> 32));
}

/* the random projection and the noise of synthetic_item_features */
#define STREAM_PROJECTION	0x70726f6aULL
#define STREAM_FEAT_NOISE	0x666e6f69ULL

/* What synthetic_item_features keeps between rows */
typedef struct FeatureState
{
	int32		n_items;
	int32		dim;
	int32		rank;
	double		noise;
	uint64		seed;
	float	   *projection;		/* [rank * dim], N(0, 1) */
	float	   *factors;		/* [rank]: the current item's planted factors */
	int32		item;			/* next item index */
} FeatureState;

PG_FUNCTION_INFO_V1(synthetic_item_features);

/*
 * recsys.synthetic_item_features(n_items, dim, rank, noise, seed): per item id
 * 1..n_items a vec of dim features, the planted factors of synthetic_ratings
 * (same seed and rank) times a random rank x dim projection, scaled to unit
 * variance per feature, plus N(0, noise^2) per feature
 */
Datum
synthetic_item_features(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	FeatureState *st;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		TupleDesc	tupdesc;
		int32		n_items = PG_GETARG_INT32(0);
		int32		dim = PG_GETARG_INT32(1);
		int32		rank = PG_GETARG_INT32(2);
		double		noise = PG_GETARG_FLOAT8(3);

		if (n_items < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("n_items must be at least 1, got %d", n_items)));
		if (dim < 1 || dim > RECSYS_MAX_FACTORS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dim must be between 1 and %d, got %d", RECSYS_MAX_FACTORS, dim)));
		if (rank < 1 || rank > SYNTH_MAX_RANK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rank must be between 1 and %d, got %d", SYNTH_MAX_RANK, rank)));
		if (!(noise >= 0.0 && noise <= SYNTH_MAX_NOISE))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("noise must be between 0 and %g, got %g", SYNTH_MAX_NOISE, noise)));

		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("function returning record called in context that cannot accept type record")));
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		st = palloc0(sizeof(FeatureState));
		st->n_items = n_items;
		st->dim = dim;
		st->rank = rank;
		st->noise = noise;
		st->seed = (uint64) PG_GETARG_INT64(4);
		st->projection = palloc(sizeof(float) * rank * dim);
		st->factors = palloc(sizeof(float) * rank);
		for (int32 k = 0; k < rank; k++)
		{
			SynthRng	rng;

			RngSeed(&rng, st->seed, STREAM_PROJECTION, (uint64) k);
			for (int32 d = 0; d < dim; d++)
				st->projection[(size_t) k * dim + d] = (float) RngNormal(&rng);
		}
		funcctx->user_fctx = st;
		MemoryContextSwitchTo(oldcontext);
	}

	funcctx = SRF_PERCALL_SETUP();
	st = (FeatureState *) funcctx->user_fctx;
	if (st->item < st->n_items)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};
		int32		i = st->item++;
		Vec		   *v = InitVec(st->dim);
		float		bias;
		SynthRng	rng;

		/* each factor has variance SYNTH_DOT_SD / sqrt(rank): scale to unit */
		double		scale = 1.0 / sqrt(st->rank * (SYNTH_DOT_SD / sqrt((double) st->rank)));

		if ((i & 0xfff) == 0)
			CHECK_FOR_INTERRUPTS();
		PlantEntity(st->seed, STREAM_ITEM, i, st->rank, &bias, st->factors);
		RngSeed(&rng, st->seed, STREAM_FEAT_NOISE, (uint64) i);
		for (int32 d = 0; d < st->dim; d++)
		{
			double		s = 0.0;

			for (int32 k = 0; k < st->rank; k++)
				s += (double) st->factors[k] * st->projection[(size_t) k * st->dim + d];
			v->x[d] = (float) (s * scale + st->noise * RngNormal(&rng));
		}
		values[0] = Int64GetDatum((int64) i + 1);
		values[1] = PointerGetDatum(v);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
														  values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}
