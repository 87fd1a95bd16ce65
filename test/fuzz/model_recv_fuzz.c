/*
 * model_recv_fuzz.c
 *		libFuzzer target for the binary form of recsys.model (model_recv).
 *
 * Every input must either be rejected with an error message or decode to a model
 * that passes validation and encodes back to exactly the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/modelio.c"

/* Touches every section the way a reader would, so ASan sees any overrun */
static void
ReadModel(const RecModelHeader *m)
{
	RecModelView v;
	volatile float sink = 0;

	RecModelGetView(m, &v);
	if (m->n_users > 0)
		sink += v.user_factors[(int64_t) m->n_users * m->factors - 1];
	if (m->n_items > 0)
	{
		sink += v.item_factors[(int64_t) m->n_items * m->factors - 1];
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
	if (total != size + RECSYS_MODEL_VARHDR)
		abort();
	m = aligned_alloc(8, RECSYS_ALIGN8(total));
	if (RecModelDecodeBody(data, size, m, &err) == RECSYS_MODEL_OK)
	{
		ReadModel(m);
		again = malloc(size);
		if (RecModelBinarySize(m) != size)
			abort();
		RecModelEncode(m, again);
		if (memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	else if (err.code != RECSYS_MODEL_EBINARY || strlen(err.msg) == 0)
		abort();
	free(m);
	return 0;
}
