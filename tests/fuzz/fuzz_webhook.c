/*
 * libFuzzer target for reflexo-sync's webhook check (sync_webhook.c): the
 * headers and raw body of POST /webhooks/ghl, against real keys.  The input
 * is split on the first three newlines into x-ghl-signature, x-wh-signature,
 * x-webhook-secret ("-" for absent) and the body.  A body the fuzzer signs
 * is out of reach, so every input must be refused or, if the secret
 * matches, parsed; none may crash, leak or be accepted unsigned.
 */
#include <stdlib.h>
#include <string.h>

#include "sync/sync_webhook.h"
#include "common/webhook_signature.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static WebhookKeys keys;

static const char *
field(char **cursor)
{
	char	   *start = *cursor;
	char	   *nl = strchr(start, '\n');

	if (nl == NULL)
	{
		*cursor = start + strlen(start);
		return NULL;
	}
	*nl = '\0';
	*cursor = nl + 1;
	return strcmp(start, "-") == 0 ? NULL : start;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	char	   *cursor = text;
	WebhookHeaders headers;
	WebhookVerdict verdict;

	if (keys.ed25519 == NULL)
	{
		keys.ed25519 = key_from_pem(ghl_ed25519_public_key_pem, false);
		keys.rsa = key_from_pem(ghl_rsa_public_key_pem, false);
		keys.secret = "fuzz-secret";
		keys.max_age_seconds = 7200;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	headers.ghl_signature = field(&cursor);
	headers.wh_signature = field(&cursor);
	headers.secret = field(&cursor);
	webhook_check(&keys, &headers, cursor, strlen(cursor), 1784000000000LL, &verdict);
	if (verdict.status == 0 && (verdict.via == NULL || strcmp(verdict.via, "secret") != 0))
		abort();				/* accepted without the secret: a forged signature verified */
	json_decref(verdict.body);
	free(text);
	return 0;
}
