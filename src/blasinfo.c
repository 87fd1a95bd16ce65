/*
 * blasinfo.c
 *		Which OpenBLAS kernels this backend runs: recsys.blas_info() and the
 *		once-per-backend notice at the first training when OpenBLAS picked a kernel
 *		family older than the CPU supports.
 *
 * OpenBLAS (Debian builds it with DYNAMIC_ARCH) chooses its kernel family ("core")
 * when the library is loaded, from the CPU model it recognises or from the
 * OPENBLAS_CORETYPE environment variable.  On CPUs it does not recognise (common in
 * virtual machines that report a generic model) it falls back to its oldest x86-64
 * family, Prescott (SSE3), which runs the solvers several times slower than the
 * AVX2 or AVX-512 kernels the CPU could run.  A backend opens the library as it
 * loads recsys (pool.c), and another library in the process may have loaded it
 * first: what recsys does is report the core and say how to fix the server's
 * environment, which fixes it for every library in the server.
 */
#include "postgres.h"

#include <strings.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "blas.h"
#include "recsys.h"

/* Instruction-set tiers of OpenBLAS's x86-64 kernel families */
typedef enum BlasTier
{
	TIER_UNKNOWN = -1,
	TIER_SSE = 0,				/* Prescott, Core2, Nehalem, Opteron, Atom, ... */
	TIER_AVX = 1,				/* Sandybridge, Bulldozer, Piledriver, Steamroller */
	TIER_AVX2 = 2,				/* Haswell, Zen, Excavator */
	TIER_AVX512 = 3				/* SkylakeX, Cooperlake, SapphireRapids */
} BlasTier;

/* OpenBLAS core names by tier (compared without case) */
static const struct
{
	const char *name;
	BlasTier	tier;
}			blas_cores[] =
{
	{"prescott", TIER_SSE}, {"core2", TIER_SSE}, {"penryn", TIER_SSE},
	{"dunnington", TIER_SSE}, {"nehalem", TIER_SSE}, {"atom", TIER_SSE},
	{"opteron", TIER_SSE}, {"opteron_sse3", TIER_SSE}, {"barcelona", TIER_SSE},
	{"bobcat", TIER_SSE}, {"nano", TIER_SSE}, {"athlon", TIER_SSE},
	{"katmai", TIER_SSE}, {"coppermine", TIER_SSE}, {"northwood", TIER_SSE},
	{"banias", TIER_SSE},
	{"sandybridge", TIER_AVX}, {"bulldozer", TIER_AVX}, {"piledriver", TIER_AVX},
	{"steamroller", TIER_AVX},
	{"haswell", TIER_AVX2}, {"zen", TIER_AVX2}, {"excavator", TIER_AVX2},
	{"skylakex", TIER_AVX512}, {"cooperlake", TIER_AVX512},
	{"sapphirerapids", TIER_AVX512},
};

/* The tier of an OpenBLAS core name, TIER_UNKNOWN for names not in the table */
static BlasTier
CoreTier(const char *core)
{
	if (core == NULL)
		return TIER_UNKNOWN;
	for (int i = 0; i < lengthof(blas_cores); i++)
		if (strcasecmp(core, blas_cores[i].name) == 0)
			return blas_cores[i].tier;
	return TIER_UNKNOWN;
}

/* Whether the CPU (and the kernel, which must save the registers) has AVX2 + FMA */
static bool
CpuHasAvx2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

/* Whether the CPU has the AVX-512 subsets OpenBLAS's SkylakeX kernels use */
static bool
CpuHasAvx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	return CpuHasAvx2() &&
		__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
		__builtin_cpu_supports("avx512cd");
#else
	return false;
#endif
}

/*
 * The core type to set in OPENBLAS_CORETYPE for this CPU: the newest family
 * whose instructions the CPU has, or NULL when it has no AVX2 (nothing to gain)
 */
static const char *
SuggestedCore(void)
{
	if (CpuHasAvx512())
		return "SkylakeX";
	if (CpuHasAvx2())
		return "Haswell";
	return NULL;
}

/*
 * The suggested core when OpenBLAS runs a family of a lower tier than it, else
 * NULL (also for core names we do not know: no advice without evidence)
 */
static const char *
BetterCore(const char *core)
{
	const char *suggested = SuggestedCore();
	BlasTier	tier = CoreTier(core);

	if (suggested == NULL || tier == TIER_UNKNOWN)
		return NULL;
	return tier < CoreTier(suggested) ? suggested : NULL;
}

/* The file the OpenBLAS library was opened from, or "OpenBLAS" if unknown */
static const char *
BlasLibraryPath(void)
{
	const char *path = RecBlasLibraryPath();

	return path != NULL ? path : "OpenBLAS";
}

/*
 * Called at the start of each training: the first time in a backend that the
 * core OpenBLAS runs is below what the CPU supports, a NOTICE names the core,
 * the CPU's and the exact setting that fixes it.
 */
void
RecBlasCheckCore(void)
{
	static bool checked = false;
	const char *core;
	const char *better;
	const char *cluster;

	if (checked)
		return;
	RecBlasEnsure();
	checked = true;
	core = openblas_get_corename();
	better = BetterCore(core);
	if (better == NULL)
		return;

	/* Debian's clusters are named "15/main": their environment file is known */
	cluster = GetConfigOption("cluster_name", true, false);
	ereport(NOTICE,
			(errmsg("OpenBLAS runs its %s kernels, but this CPU supports %s",
					core, strcmp(better, "SkylakeX") == 0 ? "AVX-512" : "AVX2"),
			 errdetail("Training is several times slower on the older kernels."),
			 (cluster != NULL && strchr(cluster, '/') != NULL) ?
			 errhint("Add OPENBLAS_CORETYPE=%s to /etc/postgresql/%s/environment and restart the server; recsys.blas_info() shows the core in use.",
					 better, cluster) :
			 errhint("Set OPENBLAS_CORETYPE=%s in the server's environment (on Debian: /etc/postgresql/%s/<cluster>/environment) and restart the server; recsys.blas_info() shows the core in use.",
					 better, PG_MAJORVERSION)));
}

/*
 * recsys.blas_info(): the OpenBLAS library file, its core, its build
 * configuration, how many threads may call it at once, what the CPU supports and
 * the core recsys suggests for it (NULL when the one in use is as good).
 */
PG_FUNCTION_INFO_V1(blas_info);

Datum
blas_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false};
	const char *core;
	const char *config;
	const char *better;

	RecBlasEnsure();
	core = openblas_get_corename();
	config = openblas_get_config();
	better = BetterCore(core);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recsys.blas_info must be called in a context that accepts a record")));
	tupdesc = BlessTupleDesc(tupdesc);

	values[0] = CStringGetTextDatum(BlasLibraryPath());
	values[1] = CStringGetTextDatum(core ? core : "unknown");
	values[2] = CStringGetTextDatum(config ? config : "");
	values[3] = Int32GetDatum(RecBlasThreadLimit());
	values[4] = BoolGetDatum(CpuHasAvx2());
	values[5] = BoolGetDatum(CpuHasAvx512());
	if (better != NULL)
		values[6] = CStringGetTextDatum(better);
	else
		nulls[6] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
