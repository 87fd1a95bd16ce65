/*
 * model.c
 *		The recsys.model type: input/output in text and binary form, the cheap check
 *		for stored values, allocation of new models, and the accessors
 *		(model_info, user/item factors and vectors) and the prediction formula.
 *
 * Format decisions and full validation live in modelio.c (plain C, fuzzed); this
 * file adapts them to Datums and error reports.  Training lives in ratings.c.
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "common/shortest_dec.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "kernels.h"
#include "model.h"
#include "modelio.h"
#include "modeltype.h"
#include "options.h"
#include "solver.h"
#include "vec.h"

/* Raises a decoding error with the SQLSTATE of the input path */
static void
ReportDecodeError(const RecModelError *err, int sqlstate)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid recsys.model value: %s", err->msg)));
}

/*
 * Checks the options of a decoded model (modelio.c has checked their syntax) as
 * training checks its options argument, and that the keys the header duplicates
 * agree with it: what serving reads from the options (regularization, alpha) is
 * then always usable, and model_info always shows valid JSON.
 */
static void
CheckModelOptions(const RecModelHeader *h, int sqlstate)
{
	RecModelView v;
	RecOptionFacts facts;
	char	   *message;

	RecModelGetView(h, &v);
	if (!RecCheckModelOptions(v.options, h->algorithm, &facts, &message))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid recsys.model value: %s", message)));
	if (facts.has_factors && facts.factors != h->factors)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid recsys.model value: option \"factors\" is %d but the model has %d factors",
						facts.factors, h->factors)));
	if (facts.has_biases &&
		facts.biases != ((h->flags & RECSYS_MODEL_HAS_BIASES) != 0))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid recsys.model value: option \"biases\" is %s but the model %s biases",
						facts.biases ? "true" : "false",
						facts.biases ? "has no" : "has")));
	if (facts.has_keep_interactions &&
		facts.keep_interactions != ((h->flags & RECSYS_MODEL_HAS_INTERACTIONS) != 0))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid recsys.model value: option \"keep_interactions\" is %s but the model %s its interactions",
						facts.keep_interactions ? "true" : "false",
						facts.keep_interactions ? "does not keep" : "keeps")));
}

/* Decodes and validates a binary form; errors carry the given SQLSTATE */
static RecModelHeader *
DecodeModel(const uint8 *buf, size_t len, int sqlstate)
{
	RecModelHeader h;
	RecModelHeader *m;
	RecModelError err;
	uint64		total;

	if (RecModelDecodeHeader(buf, len, &h, &total, &err) != RECSYS_MODEL_OK)
		ReportDecodeError(&err, sqlstate);
	m = palloc_extended(total, MCXT_ALLOC_HUGE);
	if (RecModelDecodeBody(buf, len, m, &err) != RECSYS_MODEL_OK)
		ReportDecodeError(&err, sqlstate);
	SET_VARSIZE(m, total);
	CheckModelOptions(m, sqlstate);
	return m;
}

PG_FUNCTION_INFO_V1(model_in);
/* Text input: "recsys-model:v1:" + base64 of the binary form, fully validated */
Datum
model_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	const char *b64;
	size_t		b64len;
	uint8	   *bin;
	size_t		binlen;
	RecModelError err;

	if (RecModelTextPayload(str, strlen(str), &b64, &b64len, &err) != RECSYS_MODEL_OK ||
		RecBase64Decode(b64, b64len, (bin = palloc_extended(RecBase64DecodedMaxLen(b64len) + 1,
															 MCXT_ALLOC_HUGE)),
						&binlen, &err) != RECSYS_MODEL_OK)
		ReportDecodeError(&err, ERRCODE_INVALID_TEXT_REPRESENTATION);
	PG_RETURN_POINTER(DecodeModel(bin, binlen, ERRCODE_INVALID_TEXT_REPRESENTATION));
}

PG_FUNCTION_INFO_V1(model_out);
/* Text output; a model too large for a text value must travel in binary */
Datum
model_out(PG_FUNCTION_ARGS)
{
	const RecModelHeader *m = PG_GETARG_RECMODEL(0);
	uint64		binlen = RecModelBinarySize(m);
	size_t		plen = strlen(RECSYS_MODEL_TEXT_PREFIX);
	uint64		textlen = plen + RecBase64EncodedLen(binlen);
	uint8	   *bin;
	char	   *out;

	if (textlen >= MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("recsys.model of %llu bytes is too large for its text form",
						(unsigned long long) VARSIZE(m)),
				 errdetail("The text form would take %llu bytes; the limit is %zu.",
						   (unsigned long long) textlen, (size_t) MaxAllocSize - 1),
				 errhint("Use binary COPY, or a custom-format pg_dump of the table.")));
	bin = palloc_extended(binlen, MCXT_ALLOC_HUGE);
	RecModelEncode(m, bin);
	out = palloc(textlen + 1);
	memcpy(out, RECSYS_MODEL_TEXT_PREFIX, plen);
	RecBase64Encode(bin, binlen, out + plen);
	out[textlen] = '\0';
	pfree(bin);
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(model_recv);
/* Binary input: the portable big-endian form, fully validated */
Datum
model_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	RecModelHeader *m;

	m = DecodeModel((const uint8 *) buf->data + buf->cursor,
					(size_t) (buf->len - buf->cursor),
					ERRCODE_INVALID_BINARY_REPRESENTATION);
	buf->cursor = buf->len;
	PG_RETURN_POINTER(m);
}

PG_FUNCTION_INFO_V1(model_send);
/* Binary output: the portable big-endian form */
Datum
model_send(PG_FUNCTION_ARGS)
{
	const RecModelHeader *m = PG_GETARG_RECMODEL(0);
	uint64		binlen = RecModelBinarySize(m);
	bytea	   *result = palloc_extended(VARHDRSZ + binlen, MCXT_ALLOC_HUGE);

	RecModelEncode(m, (uint8 *) VARDATA(result));
	SET_VARSIZE(result, VARHDRSZ + binlen);
	PG_RETURN_BYTEA_P(result);
}

/* Raises data_corrupted for a stored model whose header does not hold */
static void
CheckStoredHeader(const RecModelHeader *h, Size varsize)
{
	RecModelError err;
	uint64		total;

	if (varsize < sizeof(RecModelHeader))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %zu bytes is shorter than its header",
						(size_t) varsize)));
	if (RecModelCheckHeader(h, &total, &err) != RECSYS_MODEL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %s", err.msg)));
	if (total != varsize)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %zu bytes, its header describes %llu",
						(size_t) varsize, (unsigned long long) total)));
}

const RecModelHeader *
RecModelFromDatum(Datum d)
{
	struct varlena *v = PG_DETOAST_DATUM(d);

	/* detoasted values are 4-byte-header and double-aligned (ALIGNMENT double) */
	CheckStoredHeader((const RecModelHeader *) v, VARSIZE(v));
	return (const RecModelHeader *) v;
}

void
RecModelPeekHeader(Datum d, RecModelHeader *out)
{
	Size		raw = toast_raw_datum_size(d);
	struct varlena *slice;

	if (raw < sizeof(RecModelHeader))
		CheckStoredHeader(out, raw);
	slice = PG_DETOAST_DATUM_SLICE(d, 0, sizeof(RecModelHeader) - VARHDRSZ);
	memcpy(out, slice, sizeof(RecModelHeader));
	CheckStoredHeader(out, raw);
	if ((Pointer) slice != DatumGetPointer(d))
		pfree(slice);
}

uint64
RecModelShapeSize(int algorithm, uint32 flags, int factors, int32 n_users,
				  int32 n_items, int64 n_seen, size_t options_len)
{
	RecModelHeader h;
	RecModelLayout l;

	memset(&h, 0, sizeof(h));
	h.algorithm = algorithm;
	h.flags = flags;
	h.factors = factors;
	h.n_users = n_users;
	h.n_items = n_items;
	h.n_seen = n_seen;
	h.options_len = (uint32) Min(options_len + 1, (size_t) RECSYS_MODEL_MAX_BYTES);
	RecModelComputeLayout(&h, &l);
	return l.total;
}

/*
 * The model of a shape, header and options filled in; with zero_factors false the
 * two factor sections are left as allocated and everything else is zeroed.
 */
static RecModelHeader *
CreateModel(int algorithm, uint32 flags, int factors, int32 n_users, int32 n_items,
			int64 n_seen, const char *options, bool zero_factors)
{
	size_t		olen = strlen(options);
	uint64		total = RecModelShapeSize(algorithm, flags, factors, n_users, n_items,
										  n_seen, olen);
	RecModelHeader *m;

	Assert(factors >= 1 && factors <= RECSYS_MAX_FACTORS);
	Assert(n_users >= 0 && n_items >= 0 && n_seen >= 0);
	if (total > RECSYS_MODEL_MAX_BYTES || n_seen > (int64) (RECSYS_MODEL_MAX_BYTES / 4))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model of %d users, %d items and %d factors would take %llu bytes, more than the %llu a value can hold",
						n_users, n_items, factors, (unsigned long long) total,
						(unsigned long long) RECSYS_MODEL_MAX_BYTES),
				 errhint("Use fewer factors, or \"keep_interactions\": false.")));
	if (zero_factors)
		m = palloc_extended(total, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	else
	{
		RecModelLayout l;
		uint64		user_end,
					item_end;

		m = palloc_extended(total, MCXT_ALLOC_HUGE);
		RecAdviseHugePages(m, total);
		/* the header is all the layout needs */
		memset(m, 0, sizeof(RecModelHeader));
		m->flags = flags;
		m->factors = factors;
		m->n_users = n_users;
		m->n_items = n_items;
		m->n_seen = n_seen;
		m->options_len = (uint32) (olen + 1);
		RecModelComputeLayout(m, &l);
		user_end = l.user_factors + (uint64) n_users * factors * sizeof(float);
		item_end = l.item_factors + (uint64) n_items * factors * sizeof(float);
		Assert(l.total == total);
		memset(m, 0, l.user_factors);
		memset((char *) m + user_end, 0, l.item_factors - user_end);
		memset((char *) m + item_end, 0, total - item_end);
	}
	SET_VARSIZE(m, total);
	m->magic = RECSYS_MODEL_MAGIC;
	m->version = RECSYS_MODEL_VERSION;
	m->algorithm = algorithm;
	m->flags = flags;
	m->factors = factors;
	m->n_users = n_users;
	m->n_items = n_items;
	m->n_seen = n_seen;
	m->options_len = (uint32) (olen + 1);
	memcpy((char *) m + RECSYS_ALIGN8(sizeof(RecModelHeader)), options, olen + 1);
	return m;
}

RecModelHeader *
RecModelCreate(int algorithm, uint32 flags, int factors, int32 n_users,
			   int32 n_items, int64 n_seen, const char *options)
{
	return CreateModel(algorithm, flags, factors, n_users, n_items, n_seen, options, true);
}

RecModelHeader *
RecModelCreateForFactors(int algorithm, uint32 flags, int factors, int32 n_users,
						 int32 n_items, int64 n_seen, const char *options)
{
	return CreateModel(algorithm, flags, factors, n_users, n_items, n_seen, options, false);
}

/* Appends a float4 to buf in its shortest exact decimal form */
static void
AppendFloat4(StringInfo buf, float f)
{
	char		tmp[32];

	float_to_shortest_decimal_buf(f, tmp);
	appendStringInfoString(buf, tmp);
}

PG_FUNCTION_INFO_V1(model_info);
/*
 * What a model holds, as jsonb.  Reads only the header and the options (slices of
 * a stored value), so it stays cheap for large models.
 */
Datum
model_info(PG_FUNCTION_ARGS)
{
	Datum		d = PG_GETARG_DATUM(0);
	RecModelHeader h;
	struct varlena *head;
	StringInfoData buf;
	const char *options;
	char		num[32];

	RecModelPeekHeader(d, &h);
	head = PG_DETOAST_DATUM_SLICE(d, 0, sizeof(RecModelHeader) - VARHDRSZ + h.options_len);
	if (VARSIZE_ANY_EXHDR(head) < sizeof(RecModelHeader) - VARHDRSZ + h.options_len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: options section truncated")));
	options = (const char *) head + RECSYS_ALIGN8(sizeof(RecModelHeader));

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"algorithm\": \"%s\", \"options\": ",
					 h.algorithm == RECSYS_ALG_ALS ? "als" : "ials");
	appendBinaryStringInfo(&buf, options, strnlen(options, h.options_len));
	appendStringInfo(&buf, ", \"n_users\": %d, \"n_items\": %d, \"n_interactions\": " INT64_FORMAT,
					 h.n_users, h.n_items, h.n_interactions);
	appendStringInfo(&buf, ", \"factors\": %d, \"iterations\": %d, \"train_loss\": ",
					 h.factors, h.iterations);
	AppendFloat4(&buf, h.train_loss);
	double_to_shortest_decimal_buf(h.train_seconds, num);
	appendStringInfo(&buf, ", \"train_seconds\": %s, \"peak_bytes\": " INT64_FORMAT
					 ", \"bytes\": %zu, \"uuid\": \"", num, h.peak_bytes,
					 (size_t) toast_raw_datum_size(d));
	for (int i = 0; i < 16; i++)
	{
		appendStringInfo(&buf, "%02x", h.uuid[i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			appendStringInfoChar(&buf, '-');
	}
	appendStringInfoString(&buf, "\", \"global_mean\": ");
	AppendFloat4(&buf, h.global_mean);
	appendStringInfoString(&buf, ", \"rating_min\": ");
	AppendFloat4(&buf, h.rating_min);
	appendStringInfoString(&buf, ", \"rating_max\": ");
	AppendFloat4(&buf, h.rating_max);
	appendStringInfo(&buf, ", \"has_interactions\": %s}",
					 (h.flags & RECSYS_MODEL_HAS_INTERACTIONS) ? "true" : "false");

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* Per-call state of user_factors / item_factors */
typedef struct FactorScan
{
	const RecModelHeader *m;
	const int64 *ids;
	const float *factors;
	const float *bias;			/* NULL without biases */
	int32		n;
} FactorScan;

/* Shared body of user_factors and item_factors: one row per id, in id order */
static Datum
FactorRows(FunctionCallInfo fcinfo, bool users)
{
	FuncCallContext *funcctx;
	FactorScan *scan;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		TupleDesc	tupdesc;
		RecModelView v;

		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		scan = palloc(sizeof(FactorScan));
		scan->m = PG_GETARG_RECMODEL(0);
		RecModelGetView(scan->m, &v);
		scan->ids = users ? v.user_ids : v.item_ids;
		scan->factors = users ? v.user_factors : v.item_factors;
		scan->bias = users ? v.user_bias : v.item_bias;
		scan->n = users ? scan->m->n_users : scan->m->n_items;
		funcctx->user_fctx = scan;
		MemoryContextSwitchTo(oldcontext);
	}
	funcctx = SRF_PERCALL_SETUP();
	scan = funcctx->user_fctx;
	if (funcctx->call_cntr < (uint64) scan->n)
	{
		int64		r = (int64) funcctx->call_cntr;
		int			k = scan->m->factors;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		Vec		   *vec = InitVec(k);

		memcpy(vec->x, scan->factors + r * k, sizeof(float) * k);
		values[0] = Int64GetDatum(scan->ids[r]);
		if (scan->bias)
			values[1] = Float4GetDatum(scan->bias[r]);
		else
			nulls[1] = true;
		values[2] = PointerGetDatum(vec);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

PG_FUNCTION_INFO_V1(user_factors);
/* TABLE(id, bias, factors): every user of the model */
Datum
user_factors(PG_FUNCTION_ARGS)
{
	return FactorRows(fcinfo, true);
}

PG_FUNCTION_INFO_V1(item_factors);
/* TABLE(id, bias, factors): every item of the model */
Datum
item_factors(PG_FUNCTION_ARGS)
{
	return FactorRows(fcinfo, false);
}

/* The factor row of id as a vec, or NULL if the model does not know id */
static Datum
FactorVector(FunctionCallInfo fcinfo, bool users)
{
	const RecModelHeader *m = PG_GETARG_RECMODEL(0);
	int64		id = PG_GETARG_INT64(1);
	RecModelView v;
	int32		r;
	Vec		   *vec;

	RecModelGetView(m, &v);
	r = users ? RecFindId(v.user_ids, m->n_users, id) : RecFindId(v.item_ids, m->n_items, id);
	if (r < 0)
		PG_RETURN_NULL();
	vec = InitVec(m->factors);
	memcpy(vec->x, (users ? v.user_factors : v.item_factors) + (int64) r * m->factors,
		   sizeof(float) * m->factors);
	PG_RETURN_VEC_P(vec);
}

PG_FUNCTION_INFO_V1(user_vector);
/* The factors of one user, NULL if unknown */
Datum
user_vector(PG_FUNCTION_ARGS)
{
	return FactorVector(fcinfo, true);
}

PG_FUNCTION_INFO_V1(item_vector);
/* The factors of one item, NULL if unknown */
Datum
item_vector(PG_FUNCTION_ARGS)
{
	return FactorVector(fcinfo, false);
}

/*
 * Predicted value of user index u and item index i (-1 = unknown).  Explicit:
 * mu + b_u + b_i + x_u . y_i clipped to the training range, with the terms of an
 * unknown user or item left out.  Implicit: x_u . y_i, 0 when either is unknown.
 */
float
RecModelPredict(const RecModelView *v, int32 u, int32 i)
{
	const RecModelHeader *m = v->h;
	int			k = m->factors;
	float		p;

	if (m->algorithm == RECSYS_ALG_IALS)
	{
		if (u < 0 || i < 0)
			return 0.0f;
		return KernDot(v->user_factors + (int64) u * k, v->item_factors + (int64) i * k, k);
	}

	p = m->global_mean;
	if (u >= 0 && v->user_bias)
		p += v->user_bias[u];
	if (i >= 0 && v->item_bias)
		p += v->item_bias[i];
	if (u >= 0 && i >= 0)
		p += KernDot(v->user_factors + (int64) u * k, v->item_factors + (int64) i * k, k);
	p = Max(p, m->rating_min);
	p = Min(p, m->rating_max);
	return p;
}
