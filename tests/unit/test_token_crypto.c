/* Unit tests of token encryption at rest (daemon/token_crypto.c). */
#include <stdlib.h>

#include "tap.h"
#include "sync/token_crypto.h"

int
main(void)
{
	unsigned char key[32] = "0123456789abcdef0123456789abcdef";
	unsigned char other[32] = "fedcba9876543210fedcba9876543210";
	const char *token = "eyJhbGciOiJIUzI1NiJ9.secret-access-token";
	size_t		len = 0,
				len2 = 0;
	unsigned char *blob = token_encrypt(key, token, "loc-1:access", &len);
	unsigned char *blob2 = token_encrypt(key, token, "loc-1:access", &len2);
	char	   *plain;

	tap_ok(blob != NULL && len == 1 + 12 + strlen(token) + 16, "a token encrypts to version, nonce, text and tag");
	tap_ok(memmem(blob, len, "secret", 6) == NULL, "the token is not visible in the stored bytes");
	tap_ok(len == len2 && memcmp(blob, blob2, len) != 0, "a fresh nonce every time: equal tokens look different");

	plain = token_decrypt(key, blob, len, "loc-1:access");
	tap_ok(plain && strcmp(plain, token) == 0, "it decrypts with the same key and context");
	free(plain);

	plain = token_decrypt(key, blob, len, "loc-2:access");
	tap_ok(plain == NULL, "not when copied to another location");
	free(plain);
	plain = token_decrypt(key, blob, len, "loc-1:refresh");
	tap_ok(plain == NULL, "nor to another column");
	free(plain);
	plain = token_decrypt(other, blob, len, "loc-1:access");
	tap_ok(plain == NULL, "nor with another key");
	free(plain);

	for (size_t i = 0; i < len; i++)
	{
		blob[i] ^= 0x01;
		plain = token_decrypt(key, blob, len, "loc-1:access");
		blob[i] ^= 0x01;
		if (plain != NULL)
		{
			tap_ok(false, "flipping byte %zu is detected", i);
			free(plain);
			break;
		}
	}
	tap_ok(true, "flipping any single bit of the stored bytes is detected");
	for (size_t cut = 0; cut < len; cut++)
		if ((plain = token_decrypt(key, blob, cut, "loc-1:access")) != NULL)
		{
			tap_ok(false, "a blob cut to %zu bytes is refused", cut);
			free(plain);
			break;
		}
	tap_ok(true, "a truncated blob is refused");

	free(blob);
	free(blob2);
	return tap_done();
}
