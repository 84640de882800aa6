/*
 * libFuzzer target for what reflexo-sync reads from GHL's answers: the
 * rate-limit and Retry-After header values, and the JSON body's error
 * message.  The first line is a header value, the second a Retry-After,
 * the first byte after them picks the status class, the rest is the body.
 */
#include <stdlib.h>
#include <string.h>

#include "sync/ghl_client.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {0, 200, 400, 401, 404, 422, 429, 500, 503};
	char	   *text = malloc(size + 1);
	char	   *header,
			   *retry_after,
			   *rest,
			   *nl;
	long		count;
	GhlResponse response = {.rate_remaining = -1};

	memcpy(text, data, size);
	text[size] = '\0';
	header = text;
	nl = strchr(header, '\n');
	retry_after = nl ? (*nl = '\0', nl + 1) : header + strlen(header);
	nl = strchr(retry_after, '\n');
	rest = nl ? (*nl = '\0', nl + 1) : retry_after + strlen(retry_after);

	if (ghl_parse_count(header, &count) && count < 0)
		abort();
	(void) ghl_parse_retry_after(retry_after, 1784000000);

	if (*rest)
	{
		response.status = statuses[(unsigned char) *rest % (sizeof(statuses) / sizeof(*statuses))];
		rest++;
	}
	response.body = rest;
	response.body_len = strlen(rest);
	response.json = json_loadb(rest, response.body_len, 0, NULL);
	free(ghl_error_message(&response));
	json_decref(response.json);
	free(text);
	return 0;
}
