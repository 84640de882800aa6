/*
 * sync_webhook.h — deciding whether a request to /webhooks/ghl is GHL's, and
 * applying it.
 *
 * webhook_check() is the whole decision before the database, as a pure
 * function of the keys, the headers, the body and the clock, so that it can
 * be fuzzed.  It never fails open: a request that carries no signature we
 * can check is refused.
 */
#ifndef REFLEXO_SYNC_WEBHOOK_H
#define REFLEXO_SYNC_WEBHOOK_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct WebhookKeys
{
	EVP_PKEY   *ed25519;		/* x-ghl-signature */
	EVP_PKEY   *rsa;			/* x-wh-signature (legacy) */
	const char *secret;			/* x-webhook-secret, for workflow webhooks; empty: refused */
	int			max_age_seconds;	/* how far timestamp may be from now, either way */
} WebhookKeys;

typedef struct WebhookHeaders
{
	const char *ghl_signature;
	const char *wh_signature;
	const char *secret;
} WebhookHeaders;

typedef struct WebhookVerdict
{
	int			status;			/* 0: apply it; else the HTTP status to answer */
	const char *reason;			/* why not (static text) */
	const char *via;			/* ed25519, rsa or secret */
	json_t	   *body;			/* the parsed object when status is 0 */
} WebhookVerdict;

/*
 * GHL's published webhook keys, the defaults: RSA from GHL's
 * WebhookAuthentication.md (highlevel-api-docs), Ed25519 from
 * marketplace.gohighlevel.com/docs/webhook/WebhookIntegrationGuide.
 */
extern const char ghl_ed25519_public_key_pem[];
extern const char ghl_rsa_public_key_pem[];

extern void webhook_check(const WebhookKeys *keys, const WebhookHeaders *headers, const char *body, size_t len,
						  int64_t now_ms, WebhookVerdict *verdict);

#endif							/* REFLEXO_SYNC_WEBHOOK_H */
