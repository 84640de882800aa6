/*
 * password.c — password hashes for reflexo.users: PBKDF2-HMAC-SHA256 through
 * OpenSSL, stored in Django's format
 *
 *     pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte key>
 *
 * so the users of the Django service this replaces can be imported with
 * their hashes as they are.
 *
 *   reflexo.password_hash(password text, iterations int) → text
 *   reflexo.password_verify(password text, hash text) → boolean
 *
 * Verification compares in constant time, and a malformed hash is simply
 * not a match.
 */
#include "reflexo.h"

#include "common/base64.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

PG_FUNCTION_INFO_V1(reflexo_password_hash);
PG_FUNCTION_INFO_V1(reflexo_password_verify);

#define KEY_BYTES 32
#define SALT_CHARS 22
#define MIN_ITERATIONS 1000
#define MAX_ITERATIONS 10000000
#define MAX_PASSWORD 1024		/* longer is a denial of service, not a password */

static void
derive(const char *password, int password_len, const char *salt, int salt_len, int iterations,
	   unsigned char *key)
{
	if (PKCS5_PBKDF2_HMAC(password, password_len, (const unsigned char *) salt, salt_len, iterations,
						  EVP_sha256(), KEY_BYTES, key) != 1)
		elog(ERROR, "PBKDF2 failed");
}

static void
check_password_length(int len)
{
	if (len == 0 || len > MAX_PASSWORD)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a password must have 1 to %d bytes", MAX_PASSWORD)));
}

Datum
reflexo_password_hash(PG_FUNCTION_ARGS)
{
	text	   *password = PG_GETARG_TEXT_PP(0);
	int			iterations = PG_GETARG_INT32(1);
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char random[SALT_CHARS];
	char		salt[SALT_CHARS + 1];
	unsigned char key[KEY_BYTES];
	char		encoded[64];
	int			n;

	check_password_length(VARSIZE_ANY_EXHDR(password));
	if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("PBKDF2 iterations must be between %d and %d", MIN_ITERATIONS, MAX_ITERATIONS)));
	if (!pg_strong_random(random, sizeof(random)))
		elog(ERROR, "no strong random numbers for a salt");
	for (int i = 0; i < SALT_CHARS; i++)
		salt[i] = alphabet[random[i] % (sizeof(alphabet) - 1)];
	salt[SALT_CHARS] = '\0';
	derive(VARDATA_ANY(password), VARSIZE_ANY_EXHDR(password), salt, SALT_CHARS, iterations, key);
	n = pg_b64_encode((void *) key, KEY_BYTES, encoded, sizeof(encoded) - 1);
	if (n < 0)
		elog(ERROR, "base64 encoding failed");
	encoded[n] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("pbkdf2_sha256$%d$%s$%s", iterations, salt, encoded)));
}

Datum
reflexo_password_verify(PG_FUNCTION_ARGS)
{
	text	   *password = PG_GETARG_TEXT_PP(0);
	char	   *hash = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *fields[4];
	char	   *cursor = hash;
	char	   *end;
	long		iterations;
	char		stored[64];
	unsigned char key[KEY_BYTES];
	int			n;

	if (VARSIZE_ANY_EXHDR(password) == 0 || VARSIZE_ANY_EXHDR(password) > MAX_PASSWORD)
		PG_RETURN_BOOL(false);
	for (int i = 0; i < 4; i++)
	{
		fields[i] = strsep(&cursor, "$");
		if (fields[i] == NULL)
			PG_RETURN_BOOL(false);
	}
	if (cursor != NULL || strcmp(fields[0], "pbkdf2_sha256") != 0 || fields[2][0] == '\0')
		PG_RETURN_BOOL(false);
	iterations = strtol(fields[1], &end, 10);
	if (*end != '\0' || iterations < 1 || iterations > MAX_ITERATIONS)
		PG_RETURN_BOOL(false);
	if (strlen(fields[3]) > sizeof(stored) ||
		(n = pg_b64_decode(fields[3], strlen(fields[3]), stored, sizeof(stored))) != KEY_BYTES)
		PG_RETURN_BOOL(false);
	derive(VARDATA_ANY(password), VARSIZE_ANY_EXHDR(password), fields[2], strlen(fields[2]), (int) iterations, key);
	PG_RETURN_BOOL(CRYPTO_memcmp(key, stored, KEY_BYTES) == 0);
}
