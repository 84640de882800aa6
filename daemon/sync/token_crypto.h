/*
 * token_crypto.h — GHL tokens encrypted at rest with AES-256-GCM.
 *
 * Stored form: version byte (1) | 12-byte random nonce | ciphertext |
 * 16-byte tag.  The associated data names the location and the field, so a
 * ciphertext copied to another row or column does not decrypt.
 */
#ifndef REFLEXO_TOKEN_CRYPTO_H
#define REFLEXO_TOKEN_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/* Returns malloc'd bytes (length in *len), or NULL on failure. */
extern unsigned char *token_encrypt(const unsigned char key[32], const char *plain, const char *context,
									size_t *len);

/* Returns a malloc'd NUL-terminated token, or NULL if it does not authenticate. */
extern char *token_decrypt(const unsigned char key[32], const unsigned char *blob, size_t len,
						   const char *context);

#endif							/* REFLEXO_TOKEN_CRYPTO_H */
