/*
 * fieldcrypt.h: the marketplace's encrypted fields (userName/password in
 * answers, mobilePhone/email in V1 requests).
 *
 * Key = the first 16 or 32 bytes of Java's SHA1PRNG seeded with the access
 * key (signed-byte state update, spec/v2-basic.md §4); AES-CBC with PKCS#7
 * padding; field = 16-char IV string + base64(ciphertext). OpenSSL's EVP is
 * used for SHA-1 and AES-CBC (libsodium has neither); nothing else here
 * touches OpenSSL.
 */
#ifndef MKP_FIELDCRYPT_H
#define MKP_FIELDCRYPT_H

#include <stdint.h>
#include "common/buf.h"
#include "common/defs.h"

enum encrypt_type {
	ENCRYPT_AES256_CBC = 1,	/* default */
	ENCRYPT_AES128_CBC = 2,
};

/* The first n bytes of SHA1PRNG's output for this seed. */
void	 sha1prng_bytes(const void *seed, size_t seedlen, uint8_t *out, size_t n);

/*
 * Encrypts plain with the key derived from access_key. iv is 16 characters
 * from [0-9A-Za-z], or NULL to draw a random one. Appends the field to out.
 * False only for a bad type or iv.
 */
bool	 field_encrypt(const char *access_key, enum encrypt_type, const char *iv,
	    const char *plain, size_t len, struct buf *out) MUSTCHECK;

/* Decrypts a field; appends the plaintext to out. False on any malformation. */
bool	 field_decrypt(const char *access_key, enum encrypt_type,
	    const char *field, struct buf *out) MUSTCHECK;

#endif
