/*
 * webhook_signature.h — GHL webhook signatures with OpenSSL.
 *
 * x-ghl-signature: Ed25519 over the raw body bytes, base64 (current).
 * x-wh-signature:  RSA PKCS#1 v1.5 with SHA-256 over the raw body, base64
 *                  (legacy).
 * The simulator signs with its own keys; the daemon verifies with keys from
 * its configuration.
 */
#ifndef REFLEXO_WEBHOOK_SIGNATURE_H
#define REFLEXO_WEBHOOK_SIGNATURE_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum SignatureKind
{
	SIGNATURE_ED25519,
	SIGNATURE_RSA_SHA256
} SignatureKind;

extern EVP_PKEY *key_generate(SignatureKind kind);
extern EVP_PKEY *key_from_pem(const char *pem, bool private_key);
extern EVP_PKEY *key_from_file(const char *path, bool private_key);
extern char *key_to_pem(EVP_PKEY *key, bool private_key);
extern bool key_is_kind(EVP_PKEY *key, SignatureKind kind);

/* Returns a malloc'd base64 signature, or NULL on failure. */
extern char *signature_sign(EVP_PKEY *key, SignatureKind kind, const unsigned char *data, size_t len);

/* True only for a well-formed signature by key over exactly these bytes. */
extern bool signature_verify(EVP_PKEY *key, SignatureKind kind, const unsigned char *data, size_t len,
							 const char *base64_signature);

/* Constant-time comparison of two secrets. */
extern bool secrets_equal(const char *a, const char *b);

/* Base64 without line breaks; the caller frees the result. */
extern char *base64_encode(const unsigned char *data, size_t len);
extern unsigned char *base64_decode(const char *text, size_t *len);

#endif							/* REFLEXO_WEBHOOK_SIGNATURE_H */
