/*
 * fieldcrypt.c: the marketplace's encrypted fields, bit-compatible with
 * Huawei's Java sample (KeyGenerator "AES" seeded by a SHA1PRNG
 * SecureRandom, "AES/CBC/PKCS5Padding", field = IV string + base64).
 *
 * The key is not the access key but the start of Java's SHA1PRNG stream
 * seeded with it; sha1prng_bytes() reproduces sun.security.provider.
 * SecureRandom exactly, including its signed-byte state update (an
 * unsigned 160-bit add gives different keys). OpenSSL EVP does SHA-1 and
 * AES-CBC; libsodium does base64 and wiping.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "common/log.h"
#include "crypto/fieldcrypt.h"
#include "crypto/random.h"
#include "crypto/sign.h"

#define FC_SHA1_LEN	20
#define FC_IV_LEN	16
#define FC_BLOCK	16
#define FC_KEY_MAX	32

static void
fc_sha1(const void *p, size_t len, uint8_t out[FC_SHA1_LEN])
{
	unsigned int	outlen = 0;

	if (EVP_Digest(p, len, out, &outlen, EVP_sha1(), NULL) != 1 ||
	    outlen != FC_SHA1_LEN) {
		/* Only a broken OpenSSL install gets here; no key is safe then. */
		log_error("fieldcrypt: OpenSSL SHA-1 failed");
		abort();
	}
}

/* A byte as Java sees it: signed, -128..127. */
static int
fc_jbyte(uint8_t b)
{
	return b < 128 ? (int)b : (int)b - 256;
}

/*
 * sun.security.provider.SecureRandom.updateState():
 *	v = state[i] + out[i] + last (Java bytes, signed); state[i] = (byte)v;
 *	last = v >> 8 (arithmetic); then state[0]++ if nothing changed.
 * v lies in [-257, 255]; adding 512 keeps it non-negative so both the low
 * byte and the arithmetic shift come out without implementation-defined C.
 */
static void
fc_update_state(uint8_t state[FC_SHA1_LEN], const uint8_t out[FC_SHA1_LEN])
{
	int	last = 1, v;
	bool	changed = false;
	size_t	i;

	for (i = 0; i < FC_SHA1_LEN; i++) {
		uint8_t t;

		v = fc_jbyte(state[i]) + fc_jbyte(out[i]) + last + 512;
		t = (uint8_t)(v & 0xFF);
		changed |= state[i] != t;
		state[i] = t;
		last = (v >> 8) - 2;
	}
	if (!changed)
		state[0]++;
}

void
sha1prng_bytes(const void *seed, size_t seedlen, uint8_t *out, size_t n)
{
	uint8_t	state[FC_SHA1_LEN], block[FC_SHA1_LEN];
	size_t	take;

	/* setSeed() before any output: state = SHA1(seed). */
	fc_sha1(seed, seedlen, state);
	while (n > 0) {
		fc_sha1(state, sizeof(state), block);
		fc_update_state(state, block);
		take = n < sizeof(block) ? n : sizeof(block);
		memcpy(out, block, take);
		out += take;
		n -= take;
	}
	sodium_memzero(state, sizeof(state));
	sodium_memzero(block, sizeof(block));
}

/* Key length and cipher for a type; NULL for an unknown type. */
static const EVP_CIPHER *
fc_cipher(enum encrypt_type type, size_t *keylen)
{
	switch (type) {
	case ENCRYPT_AES256_CBC:
		*keylen = 32;
		return EVP_aes_256_cbc();
	case ENCRYPT_AES128_CBC:
		*keylen = 16;
		return EVP_aes_128_cbc();
	}
	return NULL;
}

/* The sample's IV alphabet: [0-9A-Za-z], exactly FC_IV_LEN characters. */
static bool
fc_iv_ok(const char *iv, size_t len)
{
	size_t	i;

	if (len != FC_IV_LEN)
		return false;
	for (i = 0; i < len; i++) {
		char c = iv[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}

/*
 * One AES-CBC pass (enc 1 = encrypt, 0 = decrypt) with PKCS#7 padding.
 * out must hold inlen + FC_BLOCK bytes. False on any OpenSSL error, which
 * on decryption includes bad padding.
 */
static bool
fc_cbc(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *iv,
    int enc, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	EVP_CIPHER_CTX	*ctx;
	int		 n1 = 0, n2 = 0;
	bool		 ok = false;

	if (inlen > (size_t)INT_MAX - FC_BLOCK)	/* EVP counts in int */
		return false;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return false;
	if (EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, enc) == 1 &&
	    EVP_CipherUpdate(ctx, out, &n1, in, (int)inlen) == 1 &&
	    EVP_CipherFinal_ex(ctx, out + n1, &n2) == 1) {
		*outlen = (size_t)n1 + (size_t)n2;
		ok = true;
	}
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the key schedule */
	return ok;
}

bool
field_encrypt(const char *access_key, enum encrypt_type type, const char *iv,
    const char *plain, size_t len, struct buf *out)
{
	const EVP_CIPHER *cipher;
	uint8_t		 key[FC_KEY_MAX];
	char		 ivbuf[FC_IV_LEN + 1];
	uint8_t		*ct;
	size_t		 keylen = 0, ctlen = 0;
	bool		 ok;

	if ((cipher = fc_cipher(type, &keylen)) == NULL)
		return false;
	if (iv == NULL) {
		rand_iv(ivbuf);
		iv = ivbuf;
	} else if (!fc_iv_ok(iv, strnlen(iv, FC_IV_LEN + 1)))
		return false;
	if (len > (size_t)INT_MAX - FC_BLOCK)
		return false;

	sha1prng_bytes(access_key, strlen(access_key), key, keylen);
	ct = xmalloc(len + FC_BLOCK);
	ok = fc_cbc(cipher, key, (const uint8_t *)iv, 1,
	    (const uint8_t *)plain, len, ct, &ctlen);
	sodium_memzero(key, sizeof(key));
	if (!ok) {
		log_error("fieldcrypt: OpenSSL AES-CBC encryption failed");
		free(ct);
		return false;
	}

	buf_append(out, iv, FC_IV_LEN);
	sign_b64_encode(ct, ctlen, out);
	free(ct);
	return true;
}

bool
field_decrypt(const char *access_key, enum encrypt_type type,
    const char *field, struct buf *out)
{
	const EVP_CIPHER *cipher;
	uint8_t		 key[FC_KEY_MAX];
	uint8_t		*ct = NULL, *pt = NULL;
	const char	*b64;
	size_t		 keylen = 0, flen, b64len, ctmax, ctlen = 0, ptlen = 0;
	bool		 ok = false;

	if ((cipher = fc_cipher(type, &keylen)) == NULL)
		return false;
	flen = strlen(field);
	if (flen <= FC_IV_LEN || !fc_iv_ok(field, FC_IV_LEN))
		return false;
	b64 = field + FC_IV_LEN;
	b64len = flen - FC_IV_LEN;

	/*
	 * Strict standard base64 with '=' padding; CR/LF are skipped because
	 * older Java encoders (sun.misc.BASE64Encoder) wrap lines.
	 */
	ctmax = b64len / 4 * 3 + 3;
	ct = xmalloc(ctmax);
	if (sodium_base642bin(ct, ctmax, b64, b64len, "\r\n", &ctlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		goto done;
	if (ctlen == 0 || ctlen % FC_BLOCK != 0)
		goto done;

	sha1prng_bytes(access_key, strlen(access_key), key, keylen);
	pt = xmalloc(ctlen + FC_BLOCK);
	ok = fc_cbc(cipher, key, (const uint8_t *)field, 0, ct, ctlen, pt, &ptlen);
	sodium_memzero(key, sizeof(key));
	if (ok)
		buf_append(out, pt, ptlen);
	sodium_memzero(pt, ctlen + FC_BLOCK);
done:
	free(pt);
	free(ct);
	return ok;
}
