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
#include "model_invariants.h"

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
	if (v.feature_ptr)
	{
		if (v.n_feature > 0)
			sink += v.feature_values[v.n_feature - 1] + (float) v.term_items[v.n_feature - 1];
		sink += v.idf[v.n_terms - 1] + (float) v.term_ptr[v.n_terms] +
			(float) v.feature_ptr[m->n_items] + (float) v.vocabulary[v.vocabulary_bytes - 1];
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
