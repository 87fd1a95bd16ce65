/*
 * model_options_fuzz.c
 *		libFuzzer target for the syntax check of a model's options section
 *		(CheckOptionsText in modelio.c).
 *
 * Any bytes must be accepted or rejected with a message, without reading out of
 * bounds; what is accepted must be printable ASCII without escapes, start with
 * '{' and end with '}' (ignoring spaces), and hold no '[' outside strings and
 * objects at most two deep (the options, and the "index" option's object of
 * scalars): what the backend's JSON parser reads without deep recursion or
 * error.
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
	int			depth = 0,
				deepest = 0;
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
		else if (!in_string && c == '[')
			abort();
		else if (!in_string && c == '{' && ++depth > deepest)
			deepest = depth;
		else if (!in_string && c == '}')
			depth--;
	}
	if (in_string || depth != 0 || deepest < 1 || deepest > 2)
		abort();
	free(s);
	return 0;
}
