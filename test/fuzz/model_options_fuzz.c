/*
 * model_options_fuzz.c
 *		libFuzzer target for the syntax check of a model's options section
 *		(CheckOptionsText in modelio.c).
 *
 * Any bytes must be accepted or rejected with a message, without reading out of
 * bounds; what is accepted must be printable ASCII without escapes, start with
 * '{' and end with '}' (ignoring spaces), and hold no '[' or '{' outside strings
 * after the first: a flat object the backend's JSON parser reads without
 * recursion or error.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/modelio.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	RecModelError err;
	bool		in_string = false;
	int			opens = 0;
	size_t		first = 0,
				last = size;

	memcpy(s, data, size);
	s[size] = '\0';
	memset(&err, 0, sizeof(err));
	if (CheckOptionsText(s, size, &err) != RECSYS_MODEL_OK)
	{
		if (err.code != RECSYS_MODEL_EBINARY || strlen(err.msg) == 0)
			abort();
		free(s);
		return 0;
	}
	while (first < size && IsJsonSpace(s[first]))
		first++;
	while (last > first && IsJsonSpace(s[last - 1]))
		last--;
	if (last - first < 2 || s[first] != '{' || s[last - 1] != '}')
		abort();
	for (size_t i = 0; i < size; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c > 0x7E || c == '\\' || (c < 0x20 && !IsJsonSpace((char) c)))
			abort();
		if (c == '"')
			in_string = !in_string;
		else if (!in_string && (c == '{' || c == '['))
			opens++;
	}
	if (in_string || opens != 1)
		abort();
	free(s);
	return 0;
}
