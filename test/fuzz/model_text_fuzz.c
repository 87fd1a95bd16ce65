/*
 * model_text_fuzz.c
 *		libFuzzer target for the text form of recsys.model (model_in).
 *
 * Every input must either be rejected with an error message or decode to a model
 * whose text form is the input without its surrounding whitespace (v2), or whose
 * v2 text form decodes to the same model (a v1 input, which is upgraded), and
 * that keeps the invariants the readers rely on (model_invariants.h).
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/modelio.c"
#include "model_invariants.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	const char *b64;
	size_t		b64len,
				binlen;
	uint8_t    *bin;
	RecModelHeader h;
	RecModelError err;
	uint64_t	total;
	int			version;

	memcpy(text, data, size);
	text[size] = '\0';
	memset(&err, 0, sizeof(err));
	if (RecModelTextPayload(text, size, &b64, &b64len, &version, &err) != RECSYS_MODEL_OK)
	{
		if (err.code != RECSYS_MODEL_ETEXT || strlen(err.msg) == 0)
			abort();
		free(text);
		return 0;
	}
	bin = malloc(RecBase64DecodedMaxLen(b64len) + 1);
	if (RecBase64Decode(b64, b64len, bin, &binlen, &err) != RECSYS_MODEL_OK)
	{
		if (err.code != RECSYS_MODEL_ETEXT || strlen(err.msg) == 0)
			abort();
	}
	else
	{
		/* base64 is canonical: encoding the bytes gives the same characters */
		char	   *again = malloc(RecBase64EncodedLen(binlen) + 1);

		RecBase64Encode(bin, binlen, again);
		if (RecBase64EncodedLen(binlen) != b64len || memcmp(again, b64, b64len) != 0)
			abort();
		free(again);

		if (RecModelCheckTextVersion(version, bin, binlen, &err) == RECSYS_MODEL_OK &&
			RecModelDecodeHeader(bin, binlen, &h, &total, &err) == RECSYS_MODEL_OK)
		{
			RecModelHeader *m = aligned_alloc(8, RECSYS_ALIGN8(total));

			if (RecModelDecodeBody(bin, binlen, m, &err) == RECSYS_MODEL_OK)
			{
				uint64_t	enclen = RecModelBinarySize(m);
				uint8_t    *enc = malloc(enclen);

				if (h.version != version)
					abort();
				CheckReaderInvariants(m);
				RecModelEncode(m, enc);
				if (h.version == RECSYS_MODEL_VERSION &&
					(enclen != binlen || memcmp(enc, bin, binlen) != 0))
					abort();
				free(enc);
			}
			free(m);
		}
		if (err.code != RECSYS_MODEL_OK && strlen(err.msg) == 0)
			abort();
	}
	free(bin);
	free(text);
	return 0;
}
