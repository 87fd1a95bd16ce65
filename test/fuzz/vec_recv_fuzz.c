/*
 * vec_recv_fuzz.c
 *		libFuzzer target for the recsys.vec binary input checks (src/vecparse.c),
 *		the logic behind vec_recv.
 *
 * A buffer is accepted only if its size is exactly what its header claims and
 * every element is finite; an accepted buffer re-encodes to the same bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/vecparse.c"

#define FUZZ_MAX_DIM 16000

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			dim;
	int			bad;
	float	   *x;
	unsigned char *again;
	VecBinaryStatus status;

	status = VecBinaryCheck(data, size, FUZZ_MAX_DIM, &dim);
	if (status != VEC_BINARY_OK)
		return 0;
	if (dim < 1 || dim > FUZZ_MAX_DIM || size != VEC_BINARY_SIZE(dim))
		abort();

	/* exactly dim floats, so ASan catches any read or write past them */
	x = malloc(sizeof(float) * dim);
	status = VecBinaryValues(data, dim, x, &bad);
	if (status == VEC_BINARY_OK)
	{
		for (int i = 0; i < dim; i++)
			if (!isfinite(x[i]))
				abort();
		again = malloc(size);
		VecBinaryWrite(again, x, dim);
		if (memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	else if (status != VEC_BINARY_NOT_FINITE || bad < 1 || bad > dim)
		abort();
	free(x);
	return 0;
}
