/*
 * token_crypto.c — AES-256-GCM through OpenSSL's EVP interface.
 */
#include "token_crypto.h"
#include "common/alloc.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16

unsigned char *
token_encrypt(const unsigned char key[32], const char *plain, const char *context, size_t *len)
{
	size_t		plain_len = strlen(plain);
	unsigned char *out = xmalloc(1 + NONCE_LEN + plain_len + TAG_LEN);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			n,
				final_n;
	bool		ok;

	if (out == NULL || ctx == NULL)
	{
		free(out);
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	out[0] = VERSION;
	ok = RAND_bytes(out + 1, NONCE_LEN) == 1 &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
		EVP_EncryptInit_ex(ctx, NULL, NULL, key, out + 1) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *) context, (int) strlen(context)) == 1 &&
		EVP_EncryptUpdate(ctx, out + 1 + NONCE_LEN, &n, (const unsigned char *) plain, (int) plain_len) == 1 &&
		EVP_EncryptFinal_ex(ctx, out + 1 + NONCE_LEN + n, &final_n) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + 1 + NONCE_LEN + plain_len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
	{
		free(out);
		return NULL;
	}
	*len = 1 + NONCE_LEN + plain_len + TAG_LEN;
	return out;
}

char *
token_decrypt(const unsigned char key[32], const unsigned char *blob, size_t len, const char *context)
{
	size_t		cipher_len;
	char	   *plain;
	EVP_CIPHER_CTX *ctx;
	int			n,
				final_n;
	bool		ok;

	if (blob == NULL || len < 1 + NONCE_LEN + TAG_LEN || blob[0] != VERSION)
		return NULL;
	cipher_len = len - 1 - NONCE_LEN - TAG_LEN;
	plain = xmalloc(cipher_len + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
	{
		free(plain);
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, key, blob + 1) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *) context, (int) strlen(context)) == 1 &&
		EVP_DecryptUpdate(ctx, (unsigned char *) plain, &n, blob + 1 + NONCE_LEN, (int) cipher_len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *) (blob + len - TAG_LEN)) == 1 &&
		EVP_DecryptFinal_ex(ctx, (unsigned char *) plain + n, &final_n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
	{
		free(plain);
		return NULL;
	}
	plain[cipher_len] = '\0';
	return plain;
}
