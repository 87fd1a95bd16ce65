/*
 * model_recv_fuzz.c
 *		libFuzzer target for the binary form of recsys.model (model_recv).
 *
 * Every input must either be rejected with an error message or decode to a model
 * that passes validation, keeps the invariants the readers rely on
 * (CheckReaderInvariants) and encodes back to exactly the same bytes (a v2 input)
 * or to a v2 form that decodes to the same model (a v1 input, which is upgraded).
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/modelio.c"

/*
 * What serving assumes of an accepted model, checked independently of the
 * validator: at least one user and one item, an implicit model's mean is 0,
 * options are printable ASCII without escapes, and every score, cosine and
 * prediction serving can compute is a finite float.
 */
static void
CheckReaderInvariants(const RecModelHeader *m)
{
	RecModelView v;
	int			k = m->factors;
	double		max_user = 0,
				max_item = 0,
				max_bias = 0;

	RecModelGetView(m, &v);
	if (m->n_users < 1 || m->n_items < 1)
		abort();
	if (m->algorithm == RECSYS_ALG_IALS && m->global_mean != 0.0f)
		abort();
	for (uint32_t i = 0; i + 1 < m->options_len; i++)
		if ((unsigned char) v.options[i] > 0x7E || v.options[i] == '\\' ||
			((unsigned char) v.options[i] < 0x20 && strchr(" \t\n\r", v.options[i]) == NULL))
			abort();
	if ((v.user_factors != NULL) != RecModelAlgorithmHasFactors(m->algorithm) ||
		(v.item_factors != NULL) != (v.user_factors != NULL))
		abort();
	/* neighbour rows stay inside their sections and name other rows */
	if (v.item_nbr_ptr)
		for (int32_t r = 0; r < m->n_items; r++)
			for (int64_t j = v.item_nbr_ptr[r]; j < v.item_nbr_ptr[r + 1]; j++)
				if (j < 0 || j >= v.n_item_nbr || v.item_nbr_idx[j] < 0 ||
					v.item_nbr_idx[j] >= m->n_items || v.item_nbr_idx[j] == r ||
					!isfinite(v.item_nbr_weight[j]))
					abort();
	if (v.user_nbr_ptr)
		for (int32_t r = 0; r < m->n_users; r++)
			for (int64_t j = v.user_nbr_ptr[r]; j < v.user_nbr_ptr[r + 1]; j++)
				if (j < 0 || j >= v.n_user_nbr || v.user_nbr_idx[j] < 0 ||
					v.user_nbr_idx[j] >= m->n_users || v.user_nbr_idx[j] == r ||
					!isfinite(v.user_nbr_weight[j]))
					abort();
	/* an accepted index: its lists partition the items, its vectors are their rows */
	if (v.ann)
	{
		RecAnnIndex ix;
		char	   *seen = calloc((size_t) m->n_items, 1);

		RecAnnView(v.ann, &ix);
		if (seen == NULL || ix.lists < 1 || ix.list_ptr[0] != 0 ||
			ix.list_ptr[ix.lists] != m->n_items || v.item_factors == NULL)
			abort();
		for (int32_t p = 0; p < m->n_items; p++)
		{
			int32_t		i = ix.items[p];

			if (i < 0 || i >= m->n_items || seen[i]++)
				abort();
			if (ix.vectors && memcmp(ix.vectors + (int64_t) p * ix.dim,
									 v.item_factors + (int64_t) i * k, sizeof(float) * k) != 0)
				abort();
		}
		free(seen);
	}
	if (v.user_factors == NULL)
		return;
	/* largest squared row norms, in double so this check cannot overflow */
	for (int64_t u = 0; u < m->n_users; u++)
	{
		double		s = 0;

		for (int j = 0; j < k; j++)
			s += (double) v.user_factors[u * k + j] * v.user_factors[u * k + j];
		max_user = s > max_user ? s : max_user;
		if (v.user_bias)
			max_bias = fabs(v.user_bias[u]) > max_bias ? fabs(v.user_bias[u]) : max_bias;
	}
	for (int64_t i = 0; i < m->n_items; i++)
	{
		double		s = 0;

		for (int j = 0; j < k; j++)
			s += (double) v.item_factors[i * k + j] * v.item_factors[i * k + j];
		max_item = s > max_item ? s : max_item;
		if (v.item_bias)
			max_bias = fabs(v.item_bias[i]) > max_bias ? fabs(v.item_bias[i]) : max_bias;
	}
	/* |x.y| <= |x| |y| bounds every partial sum of a dot product */
	if (!(max_user <= FLT_MAX / 16 && max_item <= FLT_MAX / 16 &&
		  sqrt(max_user * max_item) + fabs(m->global_mean) + 2 * max_bias <= FLT_MAX / 2))
		abort();
}

/* Touches every section the way a reader would, so ASan sees any overrun */
static void
ReadModel(const RecModelHeader *m)
{
	RecModelView v;
	volatile float sink = 0;

	RecModelGetView(m, &v);
	if (m->version != RECSYS_MODEL_VERSION)
		abort();
	if (v.user_factors)
		sink += v.user_factors[(int64_t) m->n_users * m->factors - 1];
	if (v.item_factors)
		sink += v.item_factors[(int64_t) m->n_items * m->factors - 1];
	if (v.seen_values && m->n_seen > 0)
		sink += v.seen_values[m->n_seen - 1];
	if (v.item_nbr_weight && v.n_item_nbr > 0)
		sink += v.item_nbr_weight[v.n_item_nbr - 1] + (float) v.item_nbr_idx[v.n_item_nbr - 1];
	if (v.user_nbr_weight && v.n_user_nbr > 0)
		sink += v.user_nbr_weight[v.n_user_nbr - 1] + (float) v.user_nbr_idx[v.n_user_nbr - 1];
	if (m->n_items > 0)
	{
		sink += (float) v.item_count[m->n_items - 1];
		(void) RecFindId(v.item_ids, m->n_items, v.item_ids[m->n_items / 2]);
	}
	if (v.seen_ptr && m->n_users > 0)
		sink += (float) v.seen_items[v.seen_ptr[m->n_users] - 1 < 0 ? 0 : v.seen_ptr[m->n_users] - 1];
	(void) sink;
	(void) strlen(v.options);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RecModelHeader h;
	RecModelError err;
	uint64_t	total;
	RecModelHeader *m;
	uint8_t    *again;

	memset(&err, 0, sizeof(err));
	if (RecModelDecodeHeader(data, size, &h, &total, &err) != RECSYS_MODEL_OK)
	{
		if (err.code != RECSYS_MODEL_EBINARY || strlen(err.msg) == 0)
			abort();
		return 0;
	}
	if (h.version == RECSYS_MODEL_VERSION && total != size + RECSYS_MODEL_VARHDR)
		abort();
	m = aligned_alloc(8, RECSYS_ALIGN8(total));
	if (RecModelDecodeBody(data, size, m, &err) == RECSYS_MODEL_OK)
	{
		uint64_t	binlen = RecModelBinarySize(m);

		ReadModel(m);
		CheckReaderInvariants(m);
		if (binlen != total - RECSYS_MODEL_VARHDR)
			abort();
		again = malloc(binlen);
		RecModelEncode(m, again);
		if (h.version == RECSYS_MODEL_VERSION)
		{
			if (binlen != size || memcmp(again, data, size) != 0)
				abort();
		}
		else
		{
			/* a v1 input comes out as v2: decoding that gives the same model */
			RecModelHeader *m2 = aligned_alloc(8, RECSYS_ALIGN8(total));

			if (RecModelDecodeBody(again, binlen, m2, &err) != RECSYS_MODEL_OK ||
				memcmp((char *) m2 + RECSYS_MODEL_VARHDR, (char *) m + RECSYS_MODEL_VARHDR,
					   total - RECSYS_MODEL_VARHDR) != 0)
				abort();
			free(m2);
		}
		free(again);
	}
	else if (err.code != RECSYS_MODEL_EBINARY || strlen(err.msg) == 0)
		abort();
	free(m);
	return 0;
}
