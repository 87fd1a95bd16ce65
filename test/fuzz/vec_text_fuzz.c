/*
 * vec_text_fuzz.c
 *		libFuzzer target for the recsys.vec text parser (src/vecparse.c).
 *
 * Every input must be either rejected with a status and a position inside the
 * string, or accepted with 1..cap finite elements; an accepted vector printed
 * with %.9g must parse back to the same floats.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/vecparse.c"

#define FUZZ_CAP 16000

static float values[FUZZ_CAP];
static float again[FUZZ_CAP];

/* Prints x[0..dim-1] in the text form, malloc'd */
static char *
PrintVec(const float *x, int dim)
{
	char	   *buf = malloc((size_t) dim * 20 + 3);
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < dim; i++)
		p += sprintf(p, i ? ",%.9g" : "%.9g", (double) x[i]);
	*p++ = ']';
	*p = '\0';
	return buf;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);
	size_t		len;
	VecParseResult res;
	VecParseStatus status;
	/* vary the capacity so the TOO_MANY path is reached with small inputs */
	int			cap = (size > 0 && data[0] < 16) ? 1 + data[0] % 4 : FUZZ_CAP;

	memcpy(str, data, size);
	str[size] = '\0';
	len = strlen(str);

	status = VecParseText(str, values, cap, &res);
	if (status != res.status)
		abort();
	if (status == VEC_PARSE_OK)
	{
		char	   *printed;
		VecParseResult res2;

		if (res.dim < 1 || res.dim > cap)
			abort();
		for (int i = 0; i < res.dim; i++)
			if (!isfinite(values[i]))
				abort();
		printed = PrintVec(values, res.dim);
		if (VecParseText(printed, again, FUZZ_CAP, &res2) != VEC_PARSE_OK ||
			res2.dim != res.dim ||
			memcmp(values, again, sizeof(float) * res.dim) != 0)
			abort();
		free(printed);
	}
	else if (status == VEC_PARSE_TOO_MANY)
	{
		if (res.dim <= cap)
			abort();
	}
	else if (status != VEC_PARSE_EMPTY)
	{
		if (res.pos > len || res.pos + res.len > len)
			abort();
		if (status == VEC_PARSE_SYNTAX && res.expected == NULL)
			abort();
	}
	free(str);
	return 0;
}
