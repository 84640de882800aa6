/*
 * api_auth.c — the bearer tokens api.login issues, verified in C before a
 * request reaches the database: HS256 only (the header must say so; "none"
 * and every other algorithm are refused), the signature compared in
 * constant time, one spelling per signature, an expiry in the future, an
 * access token (not a refresh token) of a staff or admin role.  The
 * database checks on every request that the token was not revoked since
 * (reflexo.api_pre_request).
 *
 * Each thread remembers the last few tokens it verified (as PostgREST's
 * JWT cache does), so a client's next request skips the decoding and the
 * hash: a token is found only by an exact match of its whole text,
 * compared in constant time, under the same secret, and its expiry is
 * checked on every use.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>
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

/*
 * HMAC-SHA256 of data under secret.  The keyed context is made once and
 * copied for each use: the one-shot HMAC() looks the algorithm and the
 * digest up in OpenSSL's provider store (under its lock) on every call.
 */
static bool
hmac_sha256(const char *secret, const unsigned char *data, size_t len, unsigned char mac[32])
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static EVP_MAC_CTX *keyed;
	static char *keyed_secret;
	EVP_MAC_CTX *ctx = NULL;
	size_t		mac_len = 0;
	bool		ok;

	pthread_mutex_lock(&lock);
	if (keyed == NULL || strcmp(keyed_secret, secret) != 0)
	{
		EVP_MAC   *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		OSSL_PARAM	params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
		OSSL_PARAM_construct_end()};

		EVP_MAC_CTX_free(keyed);
		free(keyed_secret);
		keyed = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
		EVP_MAC_free(hmac);
		if (keyed && !EVP_MAC_init(keyed, (const unsigned char *) secret, strlen(secret), params))
		{
			EVP_MAC_CTX_free(keyed);
			keyed = NULL;
		}
		keyed_secret = keyed ? xstrdup(secret) : NULL;
	}
	if (keyed)
		ctx = EVP_MAC_CTX_dup(keyed);
	pthread_mutex_unlock(&lock);
	ok = ctx && EVP_MAC_update(ctx, data, len) && EVP_MAC_final(ctx, mac, &mac_len, 32) && mac_len == 32;
	EVP_MAC_CTX_free(ctx);
	return ok;
}

static bool
signed_with(const char *secret, const char *token, size_t signed_len, const char *signature, size_t signature_len)
{
	unsigned char mac[32];
	size_t		given_len;
	unsigned char *given = decode_base64url(signature, signature_len, &given_len);
	bool		ok = given && given_len == sizeof(mac) &&
		hmac_sha256(secret, (const unsigned char *) token, signed_len, mac) &&
		CRYPTO_memcmp(mac, given, sizeof(mac)) == 0 &&
		canonical_signature(mac, signature, signature_len);

	free(given);
	return ok;
}

#define VERIFIED_TOKENS 4
#define VERIFIED_TOKEN_MAX 1024

typedef struct VerifiedToken
{
	size_t		len;			/* 0: an empty slot */
	char		token[VERIFIED_TOKEN_MAX];
	char		secret[VERIFIED_TOKEN_MAX];
	const char *role;
	double		exp;
	char		subject[256];
	char		claims[VERIFIED_TOKEN_MAX];
} VerifiedToken;

static __thread VerifiedToken verified[VERIFIED_TOKENS];
static __thread unsigned verified_next;

static VerifiedToken *
verified_token(const char *token, size_t len, const char *secret)
{
	for (int i = 0; i < VERIFIED_TOKENS; i++)
	{
		VerifiedToken *v = &verified[i];

		if (v->len == len && CRYPTO_memcmp(v->token, token, len) == 0 && strcmp(v->secret, secret) == 0)
		{
			if (v->exp > (double) time(NULL))
				return v;
			v->len = 0;
		}
	}
	return NULL;
}

static void
remember_token(const char *token, size_t len, const char *secret, const ApiRequest *request, double exp)
{
	VerifiedToken *v = &verified[verified_next++ % VERIFIED_TOKENS];

	if (len >= VERIFIED_TOKEN_MAX || strlen(secret) >= VERIFIED_TOKEN_MAX ||
		strlen(request->subject) >= sizeof(v->subject) || strlen(request->claims) >= VERIFIED_TOKEN_MAX)
		return;
	memcpy(v->token, token, len);
	v->len = len;
	strcpy(v->secret, secret);
	v->role = request->role;
	v->exp = exp;
	strcpy(v->subject, request->subject);
	strcpy(v->claims, request->claims);
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
	VerifiedToken *known;
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

	if ((known = verified_token(token, len, secret)) != NULL)
	{
		request->role = known->role;
		request->claims = api_keep(request, xstrdup(known->claims));
		request->subject = api_keep(request, xstrdup(known->subject));
		return true;
	}

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
	if (ok)
		remember_token(token, len, secret, request, json_number_value(exp));

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

	append_base64url(out, (const unsigned char *) header, strlen(header));
	fputc('.', out);
	append_base64url(out, (const unsigned char *) payload, strlen(payload));
	fflush(out);
	if (!hmac_sha256(secret, (const unsigned char *) text, len, mac))
		memset(mac, 0, sizeof(mac));	/* a token no one accepts */
	fputc('.', out);
	append_base64url(out, mac, sizeof(mac));
	fclose(out);
	free(payload);
	return text;
}
