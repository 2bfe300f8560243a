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
 * False for a bad type or iv; otherwise only for a plaintext of 2 GiB or
 * more or an OpenSSL failure (logged). out is untouched when false.
 */
bool	 field_encrypt(const char *access_key, enum encrypt_type, const char *iv,
	    const char *plain, size_t len, struct buf *out) MUSTCHECK;

/*
 * Decrypts a field; appends the plaintext to out. False, with out
 * untouched, on any malformation: fewer than 17 characters, an IV outside
 * [0-9A-Za-z], base64 that is not standard with '=' padding, a ciphertext
 * that is not whole AES blocks, bad PKCS#7 padding (which is also what a
 * wrong key or type usually gives). CR and LF inside the base64 part are
 * skipped, as line-wrapping Java encoders insert them.
 */
bool	 field_decrypt(const char *access_key, enum encrypt_type,
	    const char *field, struct buf *out) MUSTCHECK;

#endif
