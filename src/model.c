/*
 * model.c
 *		The recsys.model type: input/output in text and binary form, the cheap check
 *		for stored values, allocation of new models, and the accessors
 *		(model_info, user/item factors and vectors) and the prediction formula.
 *
 * Format decisions and full validation live in modelio.c (plain C, fuzzed); this
 * file adapts them to Datums and error reports.  Values of format v1 (0.1.0) are
 * read as they are stored and written out as v2.  Training lives in ratings.c.
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
#include "content.h"
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

/* A string option of a model's options (already known to be JSON), or NULL */
static char *
OptionString(const char *options, const char *key)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(options)));
	JsonbValue	val;

	if (!JB_ROOT_IS_OBJECT(jb) ||
		getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &val) == NULL ||
		val.type != jbvString)
		return NULL;
	return pnstrdup(val.val.string.val, val.val.string.len);
}

/*
 * The options of a knn or EASE model: what the header also records must agree
 * (knn's "kind" with the neighbour sections).  Which keys and values these
 * algorithms accept is the option table's business once they train
 * (options.h); until then only the syntax (modelio.c) and "kind" are checked.
 */
static void
CheckNeighbourOptions(const RecModelHeader *h, const char *options, int sqlstate)
{
	char	   *kind = OptionString(options, "kind");
	bool		user = (h->flags & RECSYS_MODEL_USER_NEIGHBOURS) != 0;

	if (h->algorithm != RECSYS_ALG_KNN)
		return;
	if (kind != NULL && strcmp(kind, "item") != 0 && strcmp(kind, "user") != 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid recsys.model value: option \"kind\" must be \"item\" or \"user\", got \"%s\"",
						RecEchoInput(kind, strlen(kind)))));
	if ((kind != NULL && strcmp(kind, "user") == 0) != user)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid recsys.model value: option \"kind\" is \"%s\" but the model holds %s neighbours",
						kind ? kind : "item", user ? "user" : "item")));
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
	if (!RecModelAlgorithmHasFactors(h->algorithm))
	{
		CheckNeighbourOptions(h, v.options, sqlstate);
		return;
	}
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
	/* a hybrid model is served as explicit by its flag; "explicit" defaults to false */
	if (h->algorithm == RECSYS_ALG_HYBRID &&
		(facts.has_explicit && facts.explicit_feedback) != ((h->flags & RECSYS_MODEL_EXPLICIT) != 0))
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("invalid recsys.model value: option \"explicit\" is %s but the model is %s",
						facts.has_explicit && facts.explicit_feedback ? "true" : "false",
						(h->flags & RECSYS_MODEL_EXPLICIT) ? "explicit" : "implicit")));
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
/*
 * Text input: "recsys-model:v2:" + base64 of the binary form (or "recsys-model:v1:"
 * and a v1 value, as 0.1.0 wrote them), fully validated
 */
Datum
model_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	const char *b64;
	size_t		b64len;
	uint8	   *bin;
	size_t		binlen;
	int			version;
	RecModelError err;

	if (RecModelTextPayload(str, strlen(str), &b64, &b64len, &version, &err) != RECSYS_MODEL_OK ||
		RecBase64Decode(b64, b64len, (bin = palloc_extended(RecBase64DecodedMaxLen(b64len) + 1,
															 MCXT_ALLOC_HUGE)),
						&binlen, &err) != RECSYS_MODEL_OK ||
		RecModelCheckTextVersion(version, bin, binlen, &err) != RECSYS_MODEL_OK)
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

/* Raises data_corrupted with the message of a failed check */
static void
ReportCorrupted(const RecModelError *err)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupted recsys.model value: %s", err->msg)));
}

void
RecModelCheckStored(const RecModelHeader *h, Size varsize)
{
	RecModelError err;
	uint64		total;

	if (varsize < RECSYS_MODEL_V1_HEADER_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %zu bytes is shorter than its header",
						(size_t) varsize)));
	if (RecModelCheckFixedHeader(h, &err) != RECSYS_MODEL_OK)
		ReportCorrupted(&err);
	if (varsize < RecModelHeaderBytes(h))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %zu bytes is shorter than its header and directory",
						(size_t) varsize)));
	if (RecModelCheckDirectory(h, RecModelDirectory(h), &total, &err) != RECSYS_MODEL_OK)
		ReportCorrupted(&err);
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
	RecModelCheckStored((const RecModelHeader *) v, VARSIZE(v));
	return (const RecModelHeader *) v;
}

/*
 * The header and directory of a stored model from one slice (the directory is at
 * most a few hundred bytes), checked against the value's full size
 */
void
RecModelPeekDirectory(Datum d, RecModelHeader *out, RecModelSection *dir)
{
	Size		raw = toast_raw_datum_size(d);
	Size		want = Min(raw, (Size) RECSYS_MODEL_DIR_END(RECSYS_MODEL_MAX_SECTIONS));
	char		buf[RECSYS_MODEL_DIR_END(RECSYS_MODEL_MAX_SECTIONS)];
	struct varlena *slice;
	RecModelError err;
	uint64		total;

	if (raw < RECSYS_MODEL_V1_HEADER_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %zu bytes is shorter than its header",
						(size_t) raw)));
	slice = PG_DETOAST_DATUM_SLICE(d, 0, want - VARHDRSZ);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, slice, Min(VARSIZE_ANY(slice), want));
	if ((Pointer) slice != DatumGetPointer(d))
		pfree(slice);
	memcpy(out, buf, sizeof(RecModelHeader));
	if (RecModelCheckFixedHeader(out, &err) != RECSYS_MODEL_OK)
		ReportCorrupted(&err);
	if (raw < RecModelHeaderBytes(out))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %zu bytes is shorter than its header and directory",
						(size_t) raw)));
	if (RecModelCheckDirectory(out, (const RecModelSection *) (buf + RECSYS_MODEL_DIR_OFFSET),
							   &total, &err) != RECSYS_MODEL_OK)
		ReportCorrupted(&err);
	if (total != raw)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: %zu bytes, its header describes %llu",
						(size_t) raw, (unsigned long long) total)));
	if (dir != NULL && out->version != RECSYS_MODEL_VERSION_V1)
		memcpy(dir, buf + RECSYS_MODEL_DIR_OFFSET, sizeof(RecModelSection) * out->n_sections);
	if (out->version == RECSYS_MODEL_VERSION_V1)
		out->reserved = 0;		/* not part of a v1 header */
}

void
RecModelPeekHeader(Datum d, RecModelHeader *out)
{
	RecModelPeekDirectory(d, out, NULL);
}

uint64
RecModelShapeBytes(const RecModelShape *shape, size_t options_len)
{
	RecModelShape s = *shape;
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];
	uint64		total;

	s.options_len = Min((uint64) options_len + 1, RECSYS_MODEL_MAX_BYTES + 1);
	RecModelShapeLayout(&s, dir, &total);
	return total;
}


/*
 * The model of a shape, header, directory and options filled in; with
 * zero_factors false the two factor sections are left as allocated and
 * everything else is zeroed.
 */
static RecModelHeader *
CreateModel(const RecModelShape *shape_in, const char *options, bool zero_factors)
{
	RecModelShape shape = *shape_in;
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];
	size_t		olen = strlen(options);
	uint64		total;
	int			n;
	RecModelHeader *m;
	RecModelMutableView mv;

	shape.options_len = (uint64) olen + 1;
	n = RecModelShapeLayout(&shape, dir, &total);
	Assert(RecModelAlgorithmName(shape.algorithm) != NULL);
	Assert(RecModelAlgorithmHasFactors(shape.algorithm) ?
		   (shape.factors >= 1 && shape.factors <= RECSYS_MAX_FACTORS) : shape.factors == 0);
	Assert(shape.n_users >= 0 && shape.n_items >= 0 && shape.n_seen >= 0);
	if (total > RECSYS_MODEL_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s model of %d users and %d items would take more than the %llu bytes a value can hold",
						RecModelAlgorithmName(shape.algorithm), shape.n_users, shape.n_items,
						(unsigned long long) RECSYS_MODEL_MAX_BYTES),
				 RecModelAlgorithmHasFactors(shape.algorithm) ?
				 errhint("Use fewer factors, or \"keep_interactions\": false.") :
				 errhint("Keep fewer neighbours per row.")));
	if (zero_factors)
		m = palloc_extended(total, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	else
	{
		uint64		pos = 0;

		m = palloc_extended(total, MCXT_ALLOC_HUGE);
		RecAdviseHugePages(m, total);
		/* zero everything but the factor sections */
		for (int i = 0; i < n; i++)
			if (dir[i].tag == RECSYS_TAG_USER_FACTORS || dir[i].tag == RECSYS_TAG_ITEM_FACTORS)
			{
				memset((char *) m + pos, 0, dir[i].offset - pos);
				pos = dir[i].offset + dir[i].count * dir[i].elem_size;
			}
		memset((char *) m + pos, 0, total - pos);
	}
	SET_VARSIZE(m, total);
	RecModelInitHeader(m, &shape, dir, n);
	RecModelGetMutableView(m, &mv);
	memcpy(mv.options, options, olen + 1);
	return m;
}

RecModelHeader *
RecModelCreateShape(const RecModelShape *shape, const char *options)
{
	return CreateModel(shape, options, true);
}

/* The shape of a factor model */
static RecModelShape
FactorShape(int algorithm, uint32 flags, int factors, int32 n_users, int32 n_items,
			int64 n_seen)
{
	RecModelShape s = {0};

	s.algorithm = algorithm;
	s.flags = flags;
	s.factors = factors;
	s.n_users = n_users;
	s.n_items = n_items;
	s.n_seen = n_seen;
	return s;
}

uint64
RecModelShapeSize(int algorithm, uint32 flags, int factors, int32 n_users,
				  int32 n_items, int64 n_seen, size_t options_len)
{
	RecModelShape s = FactorShape(algorithm, flags, factors, n_users, n_items, n_seen);

	return RecModelShapeBytes(&s, options_len);
}


RecModelHeader *
RecModelCreateForFactors(int algorithm, uint32 flags, int factors, int32 n_users,
						 int32 n_items, int64 n_seen, const char *options)
{
	RecModelShape s = FactorShape(algorithm, flags, factors, n_users, n_items, n_seen);

	return CreateModel(&s, options, false);
}

void
RecModelRequireFactors(const RecModelHeader *h, const char *function)
{
	if (!RecModelAlgorithmHasFactors(h->algorithm))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s needs a model with factors, and %s models have none", function,
						RecModelAlgorithmName(h->algorithm)),
				 errhint("recommend_by_items serves a history of items with every model kind.")));
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
	RecModelSection dir[RECSYS_MODEL_MAX_SECTIONS];
	uint64		options_at;
	int64		n_neighbours = 0;
	bool		has_neighbours = false;
	int64		n_terms = -1;
	struct varlena *head;
	StringInfoData buf;
	char	   *options;
	char		num[32];

	RecModelPeekDirectory(d, &h, dir);
	if (h.version == RECSYS_MODEL_VERSION_V1)
		options_at = RECSYS_ALIGN8(RECSYS_MODEL_V1_HEADER_SIZE);
	else
	{
		/* the options are the first section of every v2 model */
		options_at = dir[0].offset;
		for (uint32 i = 0; i < h.n_sections; i++)
		{
			if (dir[i].tag == RECSYS_TAG_ITEM_NBR_IDX || dir[i].tag == RECSYS_TAG_USER_NBR_IDX)
				n_neighbours += (int64) dir[i].count;
			if (dir[i].tag == RECSYS_TAG_ITEM_NBR_PTR || dir[i].tag == RECSYS_TAG_USER_NBR_PTR)
				has_neighbours = true;
			if (dir[i].tag == RECSYS_TAG_IDF)
				n_terms = (int64) dir[i].count;
		}
	}
	head = PG_DETOAST_DATUM_SLICE(d, 0, options_at - VARHDRSZ + h.options_len);
	if (VARSIZE_ANY_EXHDR(head) < options_at - VARHDRSZ + h.options_len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted recsys.model value: options section truncated")));
	options = pnstrdup((const char *) head + options_at, h.options_len);

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"algorithm\": \"%s\", \"format_version\": %d, \"options\": ",
					 RecModelAlgorithmName(h.algorithm), (int) h.version);
	appendStringInfoString(&buf, options);
	if (h.algorithm == RECSYS_ALG_KNN)
	{
		char	   *similarity = OptionString(options, "similarity");

		appendStringInfo(&buf, ", \"kind\": \"%s\"",
						 (h.flags & RECSYS_MODEL_USER_NEIGHBOURS) ? "user" : "item");
		if (similarity != NULL)
			appendStringInfo(&buf, ", \"similarity\": \"%s\"", similarity);
	}
	if (has_neighbours)
		appendStringInfo(&buf, ", \"n_neighbours\": " INT64_FORMAT, n_neighbours);
	appendStringInfo(&buf, ", \"n_users\": %d, \"n_items\": %d, \"n_interactions\": " INT64_FORMAT,
					 h.n_users, h.n_items, h.n_interactions);
	if (h.algorithm == RECSYS_ALG_CONTENT)
		appendStringInfo(&buf, ", \"features_dimension\": %d", h.factors);
	if (n_terms >= 0)
		appendStringInfo(&buf, ", \"vocabulary_size\": " INT64_FORMAT, n_terms);
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
	appendStringInfo(&buf, ", \"has_interactions\": %s, \"has_seen_values\": %s",
					 (h.flags & RECSYS_MODEL_HAS_INTERACTIONS) ? "true" : "false",
					 (h.flags & RECSYS_MODEL_HAS_SEEN_VALUES) ? "true" : "false");
	/* the approximate top-N index (ann.h): its header words only */
	for (uint32 i = 0; h.version != RECSYS_MODEL_VERSION_V1 && i < h.n_sections; i++)
		if (dir[i].tag == RECSYS_TAG_ANN_INDEX)
		{
			struct varlena *w = PG_DETOAST_DATUM_SLICE(d, dir[i].offset - VARHDRSZ,
													   RECSYS_ANN_HEADER_WORDS * 4);
			int32		words[RECSYS_ANN_HEADER_WORDS];
			float		ms;

			if (VARSIZE_ANY_EXHDR(w) < sizeof(words))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("corrupted recsys.model value: ANN index truncated")));
			memcpy(words, VARDATA_ANY(w), sizeof(words));
			memcpy(&ms, &words[RECSYS_ANN_W_BUILD_MS], sizeof(ms));
			appendStringInfo(&buf, ", \"index\": {\"kind\": \"ivf\", \"lists\": %d, \"probes\": %d"
							 ", \"iterations\": %d, \"sample\": %d, \"seed\": %d, \"bytes\": " UINT64_FORMAT
							 ", \"build_seconds\": ",
							 words[RECSYS_ANN_W_LISTS], words[RECSYS_ANN_W_PROBES],
							 words[RECSYS_ANN_W_ITERATIONS], words[RECSYS_ANN_W_SAMPLE],
							 words[RECSYS_ANN_W_SEED], (uint64) dir[i].count * 4);
			double_to_shortest_decimal_buf(ms / 1000.0, num);
			appendStringInfoString(&buf, num);
			if (words[RECSYS_ANN_W_TARGET] != 0)
			{
				float		f;

				/* how the default probes were chosen (ann.h) */
				memcpy(&f, &words[RECSYS_ANN_W_TARGET], sizeof(f));
				appendStringInfoString(&buf, ", \"calibration\": {\"target_recall\": ");
				AppendFloat4(&buf, f);
				memcpy(&f, &words[RECSYS_ANN_W_RECALL], sizeof(f));
				appendStringInfoString(&buf, ", \"recall\": ");
				AppendFloat4(&buf, f);
				appendStringInfo(&buf, ", \"users\": %d, \"seconds\": ",
								 words[RECSYS_ANN_W_CALIB_USERS]);
				memcpy(&f, &words[RECSYS_ANN_W_CALIB_MS], sizeof(f));
				double_to_shortest_decimal_buf(f / 1000.0, num);
				appendStringInfo(&buf, "%s}", num);
			}
			appendStringInfoChar(&buf, '}');
		}
	appendStringInfoChar(&buf, '}');

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
		RecModelRequireFactors(scan->m, users ? "user_factors" : "item_factors");
		if (users)
			RecContentRejectUserFactors(scan->m, "user_factors");
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

	RecModelRequireFactors(m, users ? "user_vector" : "item_vector");
	if (users)
		RecContentRejectUserFactors(m, "user_vector");
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

	if (RecModelImplicit(m))
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
