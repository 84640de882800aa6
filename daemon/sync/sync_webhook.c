/*
 * sync_webhook.c — see sync_webhook.h.  Order, as GHL's SDK checks but
 * without its fail-open branch:
 *
 *   x-ghl-signature present: Ed25519 over the raw body; no fallback
 *   else x-wh-signature present: RSA-SHA256 over the raw body
 *   else x-webhook-secret equal (in constant time) to GHL_WEBHOOK_SECRET
 *   else 401
 *
 * A signature whose value is "N/A" (seen from GHL) counts as absent.  Then
 * the body must be a JSON object, and its timestamp, if it has one, within
 * max_age_seconds of now (GHL retries for about an hour; replays of a
 * webhook without one are stopped by its webhookId and by last-writer-wins).
 */
#include "sync_webhook.h"

#include <string.h>

#include "common/iso_time.h"
#include "common/webhook_signature.h"

const char	ghl_ed25519_public_key_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=\n"
	"-----END PUBLIC KEY-----\n";

const char	ghl_rsa_public_key_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC\n"
	"Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6\n"
	"dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB\n"
	"csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv\n"
	"uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF\n"
	"3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU\n"
	"J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp\n"
	"IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN\n"
	"h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC\n"
	"HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ\n"
	"PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk\n"
	"T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==\n"
	"-----END PUBLIC KEY-----\n";

static bool
present(const char *signature)
{
	return signature && *signature && strcmp(signature, "N/A") != 0;
}

static void
refuse(WebhookVerdict *verdict, int status, const char *reason)
{
	verdict->status = status;
	verdict->reason = reason;
	json_decref(verdict->body);
	verdict->body = NULL;
}

void
webhook_check(const WebhookKeys *keys, const WebhookHeaders *headers, const char *body, size_t len, int64_t now_ms,
			  WebhookVerdict *verdict)
{
	const unsigned char *bytes = (const unsigned char *) body;
	json_t	   *timestamp;
	int64_t		sent_ms;

	memset(verdict, 0, sizeof(*verdict));
	if (present(headers->ghl_signature))
	{
		verdict->via = "ed25519";
		if (!keys->ed25519 || !signature_verify(keys->ed25519, SIGNATURE_ED25519, bytes, len, headers->ghl_signature))
			return refuse(verdict, 401, "the x-ghl-signature does not verify");
	}
	else if (present(headers->wh_signature))
	{
		verdict->via = "rsa";
		if (!keys->rsa || !signature_verify(keys->rsa, SIGNATURE_RSA_SHA256, bytes, len, headers->wh_signature))
			return refuse(verdict, 401, "the x-wh-signature does not verify");
	}
	else if (headers->secret && keys->secret && *keys->secret)
	{
		verdict->via = "secret";
		if (!secrets_equal(keys->secret, headers->secret))
			return refuse(verdict, 401, "the x-webhook-secret is wrong");
	}
	else
		return refuse(verdict, 401, "the webhook is not signed");

	verdict->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(verdict->body))
		return refuse(verdict, 400, "the body is not a JSON object");
	timestamp = json_object_get(verdict->body, "timestamp");
	if (timestamp)
	{
		if (!iso_time_parse(json_string_value(timestamp), &sent_ms, NULL))
			return refuse(verdict, 400, "timestamp is not an ISO 8601 time");
		if (sent_ms < now_ms - (int64_t) keys->max_age_seconds * 1000 ||
			sent_ms > now_ms + (int64_t) keys->max_age_seconds * 1000)
			return refuse(verdict, 401, "timestamp is outside the accepted window (a replay, or a clock far off)");
	}
}
