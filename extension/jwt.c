/*
 * jwt.c — HS256 JSON Web Tokens signed with the secret in reflexo.jwt_keys,
 * the one PostgREST and reflexo-api verify them with.
 *
 *   reflexo.jwt_sign(claims jsonb) → text
 *   reflexo.jwt_verify(token text) → jsonb   the claims, or NULL unless the
 *                                            token is well formed, HS256 and
 *                                            signed with our secret
 *
 * Expiry and the meaning of claims are the caller's (SQL) business.  The
 * secret never leaves C: no SQL function returns it.  It lives in a table
 * only its owner can read (not in a setting: ALTER DATABASE ... SET is
 * readable by every role in pg_db_role_setting), and EXECUTE on these two
 * functions is granted to no one: only the extension's SECURITY DEFINER
 * functions (api.login, api.refresh) call them, as the owner.
 */
#include "reflexo.h"

#include "catalog/namespace.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "saved_plan.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

PG_FUNCTION_INFO_V1(reflexo_jwt_sign);
PG_FUNCTION_INFO_V1(reflexo_jwt_verify);

#define JWT_MIN_SECRET 32		/* PostgREST refuses shorter secrets */
#define JWT_MAX_TOKEN 8192
#define JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* The secret from reflexo.jwt_keys, in the caller's memory; wipe it after use. */
static char *
secret_or_error(void)
{
	static SavedPlan plan;
	MemoryContext caller = CurrentMemoryContext;
	char	   *secret = NULL;

	if (!OidIsValid(get_relname_relid("jwt_keys", get_namespace_oid("reflexo", false))))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("reflexo.jwt_keys does not exist"),
				 errdetail("The reflexo library is newer than the extension installed in this database."),
				 errhint("As a superuser: ALTER EXTENSION reflexo UPDATE.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_plan(saved_plan(&plan, "SELECT secret FROM reflexo.jwt_keys", 0, NULL),
						 NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading reflexo.jwt_keys failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			secret = MemoryContextStrdup(caller, TextDatumGetCString(value));
	}
	SPI_finish();
	if (secret == NULL || strlen(secret) < JWT_MIN_SECRET)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the JWT secret is not set"),
				 errdetail("Signing and checking tokens needs a secret of at least %d characters, "
						   "the same one reflexo-api and PostgREST are configured with.", JWT_MIN_SECRET),
				 errhint("As a superuser: SELECT reflexo.set_jwt_secret('...') "
						 "(e.g. the output of openssl rand -base64 48).")));
	return secret;
}

/* base64url without padding (RFC 7515), appended to buf */
static void
append_base64url(StringInfo buf, const void *data, int len)
{
	int			size = pg_b64_enc_len(len) + 1;
	char	   *encoded = palloc(size);
	int			n = pg_b64_encode(data, len, encoded, size);

	if (n < 0)
		elog(ERROR, "base64 encoding failed");
	for (int i = 0; i < n && encoded[i] != '='; i++)
		appendStringInfoChar(buf, encoded[i] == '+' ? '-' : encoded[i] == '/' ? '_' : encoded[i]);
	pfree(encoded);
}

/* decodes base64url (no padding); NULL if it is not */
static char *
decode_base64url(const char *text, int len, int *out_len)
{
	StringInfoData padded;
	char	   *decoded;

	if (len % 4 == 1)
		return NULL;
	initStringInfo(&padded);
	for (int i = 0; i < len; i++)
	{
		char		c = text[i];

		if (c == '+' || c == '/' || c == '=')
			return NULL;
		appendStringInfoChar(&padded, c == '-' ? '+' : c == '_' ? '/' : c);
	}
	while (padded.len % 4 != 0)
		appendStringInfoChar(&padded, '=');
	decoded = palloc(pg_b64_dec_len(padded.len) + 1);
	*out_len = pg_b64_decode(padded.data, padded.len, (void *) decoded, pg_b64_dec_len(padded.len));
	if (*out_len < 0)
		return NULL;
	decoded[*out_len] = '\0';
	return decoded;
}

static void
hmac_sha256(char *secret, const char *data, int len, unsigned char *mac)
{
	unsigned int mac_len = 0;
	bool		ok = HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) data,
						  (size_t) len, mac, &mac_len) != NULL && mac_len == 32;

	explicit_bzero(secret, strlen(secret));
	pfree(secret);
	if (!ok)
		elog(ERROR, "HMAC-SHA256 failed");
}

Datum
reflexo_jwt_sign(PG_FUNCTION_ARGS)
{
	Jsonb	   *claims = PG_GETARG_JSONB_P(0);
	char	   *payload;
	StringInfoData token;
	unsigned char mac[32];

	if (!JB_ROOT_IS_OBJECT(claims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("JWT claims must be a JSON object")));
	payload = JsonbToCString(NULL, &claims->root, VARSIZE(claims));
	initStringInfo(&token);
	append_base64url(&token, JWT_HEADER, strlen(JWT_HEADER));
	appendStringInfoChar(&token, '.');
	append_base64url(&token, payload, strlen(payload));
	hmac_sha256(secret_or_error(), token.data, token.len, mac);
	appendStringInfoChar(&token, '.');
	append_base64url(&token, mac, sizeof(mac));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(token.data, token.len));
}

/*
 * A JSON object from text, or NULL.  Only text under a valid signature gets
 * here, so invalid JSON means our own signer is broken: an error is right.
 */
static Jsonb *
json_object_or_null(const char *text)
{
	Jsonb	   *value = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));

	return JB_ROOT_IS_OBJECT(value) ? value : NULL;
}

Datum
reflexo_jwt_verify(PG_FUNCTION_ARGS)
{
	text	   *token_text = PG_GETARG_TEXT_PP(0);
	const char *token = VARDATA_ANY(token_text);
	int			len = VARSIZE_ANY_EXHDR(token_text);
	const char *dot1,
			   *dot2;
	char	   *signature,
			   *header_text,
			   *payload_text;
	int			signature_len,
				header_len,
				payload_len;
	unsigned char mac[32];
	Jsonb	   *header,
			   *claims;
	JsonbValue *alg;
	StringInfoData canonical;

	if (len > JWT_MAX_TOKEN || memchr(token, '\0', len) != NULL)
		PG_RETURN_NULL();
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (dot1 + 1 - token)) : NULL;
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (dot2 + 1 - token)) != NULL)
		PG_RETURN_NULL();

	/* the signature first: nothing of an unsigned token is even parsed */
	signature = decode_base64url(dot2 + 1, len - (dot2 + 1 - token), &signature_len);
	if (signature == NULL || signature_len != sizeof(mac))
		PG_RETURN_NULL();
	hmac_sha256(secret_or_error(), token, dot2 - token, mac);
	if (CRYPTO_memcmp(mac, signature, sizeof(mac)) != 0)
		PG_RETURN_NULL();
	/* one encoding per signature: the unused low bits of the last character must be zero */
	initStringInfo(&canonical);
	append_base64url(&canonical, mac, sizeof(mac));
	if ((size_t) canonical.len != (size_t) (len - (dot2 + 1 - token)) ||
		memcmp(canonical.data, dot2 + 1, canonical.len) != 0)
		PG_RETURN_NULL();

	header_text = decode_base64url(token, dot1 - token, &header_len);
	payload_text = decode_base64url(dot1 + 1, dot2 - (dot1 + 1), &payload_len);
	if (header_text == NULL || payload_text == NULL ||
		strlen(header_text) != (size_t) header_len || strlen(payload_text) != (size_t) payload_len)
		PG_RETURN_NULL();
	header = json_object_or_null(header_text);
	claims = json_object_or_null(payload_text);
	if (header == NULL || claims == NULL)
		PG_RETURN_NULL();
	alg = getKeyJsonValueFromContainer(&header->root, "alg", 3, NULL);
	if (alg == NULL || alg->type != jbvString || alg->val.string.len != 5 ||
		memcmp(alg->val.string.val, "HS256", 5) != 0)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(claims);
}
