/*
 * api_auth.c — the bearer tokens api.login issues, verified in C before a
 * request reaches the database: HS256 only (the header must say so; "none"
 * and every other algorithm are refused), the signature compared in
 * constant time, one spelling per signature, an expiry in the future, an
 * access token (not a refresh token) of a staff or admin role.  The
 * database checks on every request that the token was not revoked since
 * (reflexo.api_pre_request).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "common/alloc.h"
#include "common/webhook_signature.h"

#define MAX_TOKEN 8192

/* base64url (RFC 7515, no padding) to bytes; NULL if it is not that. */
static unsigned char *
decode_base64url(const char *text, size_t len, size_t *out_len)
{
	char	   *standard;
	unsigned char *bytes;
	size_t		padded = (len + 3) / 4 * 4;

	if (len == 0 || len % 4 == 1)
		return NULL;
	standard = xmalloc(padded + 1);
	for (size_t i = 0; i < len; i++)
	{
		char		c = text[i];

		if (c == '+' || c == '/' || c == '=')
		{
			free(standard);
			return NULL;
		}
		standard[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	memset(standard + len, '=', padded - len);
	standard[padded] = '\0';
	bytes = base64_decode(standard, out_len);
	free(standard);
	return bytes;
}

/* The signature's one canonical spelling (no padding, unused bits zero). */
static bool
canonical_signature(const unsigned char mac[32], const char *text, size_t len)
{
	unsigned char encoded[48];
	int			n = EVP_EncodeBlock(encoded, mac, 32);

	while (n > 0 && encoded[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++)
		encoded[i] = encoded[i] == '+' ? '-' : encoded[i] == '/' ? '_' : encoded[i];
	return (size_t) n == len && memcmp(encoded, text, len) == 0;
}

static json_t *
decode_json_part(const char *text, size_t len)
{
	size_t		n;
	unsigned char *bytes = decode_base64url(text, len, &n);
	json_t	   *value = bytes ? json_loadb((const char *) bytes, n, JSON_REJECT_DUPLICATES, NULL) : NULL;

	free(bytes);
	if (value && !json_is_object(value))
	{
		json_decref(value);
		return NULL;
	}
	return value;
}

static bool
signed_with(const char *secret, const char *token, size_t signed_len, const char *signature, size_t signature_len)
{
	unsigned char mac[32];
	unsigned int mac_len = 0;
	size_t		given_len;
	unsigned char *given = decode_base64url(signature, signature_len, &given_len);
	bool		ok = given && given_len == sizeof(mac) &&
		HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) token, signed_len, mac, &mac_len) &&
		mac_len == sizeof(mac) && CRYPTO_memcmp(mac, given, sizeof(mac)) == 0 &&
		canonical_signature(mac, signature, signature_len);

	free(given);
	return ok;
}

bool
api_verify_token(const char *authorization, const char *secret, ApiRequest *request, const char **why)
{
	const char *token;
	const char *dot1,
			   *dot2;
	size_t		len;
	json_t	   *header = NULL,
			   *claims = NULL;
	const char *role;
	json_t	   *exp;
	bool		ok = false;

	*why = "Authentication credentials were not provided.";
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	*why = "Given token not valid for any token type";
	token = authorization + 7;
	while (*token == ' ')
		token++;
	len = strlen(token);
	if (len == 0 || len > MAX_TOKEN)
		return false;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token)) : NULL;
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL)
		return false;

	/* nothing of a token is read before its signature is known good */
	if (!signed_with(secret, token, (size_t) (dot2 - token), dot2 + 1, len - (size_t) (dot2 + 1 - token)))
		return false;
	header = decode_json_part(token, (size_t) (dot1 - token));
	claims = decode_json_part(dot1 + 1, (size_t) (dot2 - dot1 - 1));
	if (header == NULL || claims == NULL ||
		!json_is_string(json_object_get(header, "alg")) ||
		strcmp(json_string_value(json_object_get(header, "alg")), "HS256") != 0)
		goto done;

	*why = "Token is invalid or expired";
	exp = json_object_get(claims, "exp");
	role = json_string_value(json_object_get(claims, "role"));
	if (!json_is_number(exp) || json_number_value(exp) <= (double) time(NULL) ||
		!json_is_string(json_object_get(claims, "typ")) ||
		strcmp(json_string_value(json_object_get(claims, "typ")), "access") != 0 ||
		!json_is_string(json_object_get(claims, "sub")) || role == NULL)
		goto done;
	if (strcmp(role, "reflexo_staff") == 0)
		request->role = "reflexo_staff";
	else if (strcmp(role, "reflexo_admin") == 0)
		request->role = "reflexo_admin";
	else
		goto done;
	request->claims = api_keep(request, json_dumps(claims, JSON_COMPACT));
	request->subject = api_keep(request, xstrdup(json_string_value(json_object_get(claims, "sub"))));
	ok = request->claims != NULL;

done:
	json_decref(header);
	json_decref(claims);
	return ok;
}

static void
append_base64url(FILE *out, const unsigned char *data, size_t len)
{
	char	   *encoded = base64_encode(data, len);

	for (char *c = encoded; *c && *c != '='; c++)
		fputc(*c == '+' ? '-' : *c == '/' ? '_' : *c, out);
	free(encoded);
}

char *
api_sign_token(json_t *claims, const char *secret)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char	   *payload = json_dumps(claims, JSON_COMPACT);
	char	   *text = NULL;
	size_t		len = 0;
	FILE	   *out = open_memstream(&text, &len);
	unsigned char mac[32];
	unsigned int mac_len = 0;

	append_base64url(out, (const unsigned char *) header, strlen(header));
	fputc('.', out);
	append_base64url(out, (const unsigned char *) payload, strlen(payload));
	fflush(out);
	HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) text, len, mac, &mac_len);
	fputc('.', out);
	append_base64url(out, mac, sizeof(mac));
	fclose(out);
	free(payload);
	return text;
}
