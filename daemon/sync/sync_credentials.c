/*
 * sync_credentials.c — see sync_credentials.h.  The associated data of each
 * sealed field names the location and the field, so a ciphertext moved to
 * another row or column does not open.
 */
#include "sync_credentials.h"
#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ghl_client.h"
#include "common/iso_time.h"
#include "token_crypto.h"

static char *
context_for(const char *ghl_id, const char *field)
{
	char	   *context;

	context = xasprintf("reflexo-token:%s:%s", ghl_id, field);
	return context;
}

/* bytea text input: \x followed by hex */
static char *
sealed_text(const unsigned char key[32], const char *plain, const char *ghl_id, const char *field)
{
	char	   *context = context_for(ghl_id, field);
	size_t		n;
	unsigned char *sealed = token_encrypt(key, plain, context, &n);
	char	   *out = NULL;

	free(context);
	if (sealed == NULL)
		return NULL;
	out = xmalloc(2 * n + 3);
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 + 2 * i, "%02x", sealed[i]);
	free(sealed);
	return out;
}

char *
credentials_decrypt(const unsigned char key[32], const char *stored, const char *ghl_id, const char *field)
{
	size_t		n;
	unsigned char *bytes = PQunescapeBytea((const unsigned char *) stored, &n);
	char	   *context = context_for(ghl_id, field);
	char	   *plain = bytes ? token_decrypt(key, bytes, n, context) : NULL;

	PQfreemem(bytes);
	free(context);
	return plain;
}

bool
credentials_save(Db *db, const unsigned char key[32], const char *ghl_id, const char *kind, const char *access,
				 const char *refresh, int64_t expires_at_ms, const char *scope, bool refreshed)
{
	char	   *access_hex = sealed_text(key, access, ghl_id, "access");
	char	   *refresh_hex = refresh ? sealed_text(key, refresh, ghl_id, "refresh") : NULL;
	char		expires[32];
	const char *params[7];
	bool		ok = false;

	snprintf(expires, sizeof(expires), "%lld", (long long) expires_at_ms);
	params[0] = ghl_id;
	params[1] = kind;
	params[2] = access_hex;
	params[3] = refresh_hex;
	params[4] = expires_at_ms ? expires : NULL;
	params[5] = scope;
	params[6] = refreshed ? "true" : "false";
	if (access_hex && (refresh == NULL || refresh_hex))
		ok = db_command(db, "SELECT reflexo.save_ghl_credentials($1, $2, $3::bytea, $4::bytea,"
						" to_timestamp($5::float8 / 1000), $6, $7::bool)", 7, params);
	free(access_hex);
	free(refresh_hex);
	return ok;
}

bool
oauth_grant_read(json_t *json, OAuthGrant *grant)
{
	json_int_t	ttl = json_integer_value(json_object_get(json, "expires_in"));

	memset(grant, 0, sizeof(*grant));
	grant->access = json_string_value(json_object_get(json, "access_token"));
	grant->refresh = json_string_value(json_object_get(json, "refresh_token"));
	grant->scope = json_string_value(json_object_get(json, "scope"));
	grant->location_id = json_string_value(json_object_get(json, "locationId"));
	grant->user_type = json_string_value(json_object_get(json, "userType"));
	grant->expires_in = ttl;
	grant->expires_at_ms = ttl > 0 ? now_ms() + (int64_t) ttl * 1000 : 0;
	return grant->access && *grant->access && grant->refresh && *grant->refresh;
}

bool
oauth_grant_save(Db *db, const unsigned char key[32], const char *ghl_id, const OAuthGrant *grant, bool refreshed)
{
	return credentials_save(db, key, ghl_id, "oauth", grant->access, grant->refresh, grant->expires_at_ms,
							grant->scope, refreshed);
}

char *
oauth_form(const Config *config, const char *grant_type, const char *value, const char *redirect_uri)
{
	char	   *id = url_escape(config->ghl_client_id);
	char	   *secret = url_escape(config->ghl_client_secret);
	char	   *escaped = url_escape(value);
	char	   *redirect = redirect_uri ? url_escape(redirect_uri) : NULL;
	char	   *body;

	body = xasprintf("client_id=%s&client_secret=%s&grant_type=%s&%s=%s&user_type=Location%s%s", id, secret,
				 grant_type, strcmp(grant_type, "refresh_token") == 0 ? "refresh_token" : "code", escaped,
				 redirect ? "&redirect_uri=" : "", redirect ? redirect : "");
	free(id);
	memset(secret, 0, strlen(secret));
	free(secret);
	memset(escaped, 0, strlen(escaped));
	free(escaped);
	free(redirect);
	return body;
}
