/*
 * sync_credentials.h — a location's GHL tokens in reflexo.ghl_tokens,
 * sealed with token_crypto before they leave the process, and GHL's OAuth
 * token grants (POST /oauth/token), shared by the refresh and by the
 * install callback.
 */
#ifndef REFLEXO_SYNC_CREDENTIALS_H
#define REFLEXO_SYNC_CREDENTIALS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sync_config.h"
#include "common/db.h"

/* Stores the tokens (encrypted) for the location, replacing what is there; false if the database refused. */
extern bool credentials_save(Db *db, const unsigned char key[32], const char *ghl_id, const char *kind,
							 const char *access, const char *refresh, int64_t expires_at_ms, const char *scope,
							 bool refreshed);

/* A stored field (bytea in text form) back in clear, or NULL if it does not authenticate. */
extern char *credentials_decrypt(const unsigned char key[32], const char *stored, const char *ghl_id,
								 const char *field);

/* What GHL's token endpoint granted (pointers into the JSON). */
typedef struct OAuthGrant
{
	const char *access;
	const char *refresh;
	const char *scope;
	const char *location_id;	/* for a location-level grant */
	const char *user_type;		/* Location or Company */
	int64_t		expires_in;		/* seconds */
	int64_t		expires_at_ms;
} OAuthGrant;

extern bool oauth_grant_read(json_t *json, OAuthGrant *grant);
extern bool oauth_grant_save(Db *db, const unsigned char key[32], const char *ghl_id, const OAuthGrant *grant,
							 bool refreshed);

/* The form body of POST /oauth/token for a grant type and its value (code or refresh token). */
extern char *oauth_form(const Config *config, const char *grant_type, const char *value, const char *redirect_uri);

#endif							/* REFLEXO_SYNC_CREDENTIALS_H */
