/*
 * sign.c: every HMAC-SHA256 signature the marketplace uses (V2 basic
 * request signature, Kit x-sign, V1 authToken, Body-Sign) and the
 * constant-time comparisons that check received ones.
 *
 * libsodium's HMAC-SHA256 is fed with the key bytes through _init, which
 * takes keys of any length (longer than a block are hashed first, as RFC
 * 2104 and Java's Mac do), so no key is ever truncated. Concatenated
 * messages such as "key + nonce + timestamp + digest" are fed to _update
 * piece by piece instead of being copied into one buffer.
 */
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "crypto/sign.h"

#define SIGN_MAC_LEN	crypto_auth_hmacsha256_BYTES
#define SIGN_KEYS	4	/* keys whose absorbed state is kept */
#define SIGN_KEY_MAX	128	/* longer keys are absorbed at each use */

/*
 * The HMAC state right after _init depends on the key alone (its inner
 * and outer pads, two SHA-256 blocks). A process signs with a handful of
 * fixed keys (the interface keys, the usage token, an AK/SK), so each is
 * absorbed once and the state copied at every use: that saves a third of
 * the instructions of a signature, and about a seventh of a worker's per
 * call (doc/performance.md). The keys themselves stay in memory for the
 * life of the process anyway (the configuration holds them).
 */
static struct sign_key {
	bool				used;
	size_t				len;
	unsigned char			key[SIGN_KEY_MAX];
	crypto_auth_hmacsha256_state	st;
} sign_keys[SIGN_KEYS];
static unsigned	sign_keys_next;

static void
sign_mac_init(crypto_auth_hmacsha256_state *st, const void *key, size_t keylen)
{
	/* _init cannot fail for SHA-256; the return value is always 0. */
	(void)crypto_auth_hmacsha256_init(st, key, keylen);
}

/* As sign_mac_init, for a key that is used again and again. */
static void
sign_mac_init_kept(crypto_auth_hmacsha256_state *st, const void *key, size_t keylen)
{
	struct sign_key	*k;
	int		 i;

	if (keylen > SIGN_KEY_MAX) {
		sign_mac_init(st, key, keylen);
		return;
	}
	for (i = 0; i < SIGN_KEYS; i++) {
		k = &sign_keys[i];
		if (k->used && k->len == keylen &&
		    (keylen == 0 || sodium_memcmp(k->key, key, keylen) == 0)) {
			*st = k->st;
			return;
		}
	}
	sign_mac_init(st, key, keylen);
	k = &sign_keys[sign_keys_next++ % SIGN_KEYS];
	k->used = true;
	k->len = keylen;
	if (keylen > 0)
		memcpy(k->key, key, keylen);
	k->st = *st;
}

static void
sign_mac_update(crypto_auth_hmacsha256_state *st, const void *p, size_t len)
{
	(void)crypto_auth_hmacsha256_update(st, p, len);
}

static void
sign_mac_final(crypto_auth_hmacsha256_state *st, unsigned char mac[SIGN_MAC_LEN])
{
	(void)crypto_auth_hmacsha256_final(st, mac);
	sodium_memzero(st, sizeof(*st));
}

static void
sign_mac(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char mac[SIGN_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	sign_mac_init_kept(&st, key, keylen);
	sign_mac_update(&st, data, len);
	sign_mac_final(&st, mac);
}

/* hex(HMAC(key, key + nonce + timestamp + payload)): shared by basic and kit. */
static void
sign_canonical(const char *key, const void *payload, size_t len,
    const char *nonce, const char *timestamp, char out[SIGN_HEX_LEN + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char	mac[SIGN_MAC_LEN];
	size_t		keylen = strlen(key);

	sign_mac_init_kept(&st, key, keylen);
	sign_mac_update(&st, key, keylen);
	sign_mac_update(&st, nonce, strlen(nonce));
	sign_mac_update(&st, timestamp, strlen(timestamp));
	sign_mac_update(&st, payload, len);
	sign_mac_final(&st, mac);
	hex_encode(mac, sizeof(mac), out, false);
}

void
sign_hmac_hex(const void *key, size_t keylen, const void *data, size_t len,
    char out[SIGN_HEX_LEN + 1])
{
	unsigned char	mac[SIGN_MAC_LEN];

	sign_mac(key, keylen, data, len, mac);
	hex_encode(mac, sizeof(mac), out, false);
}

void
sign_v2_basic(const char *key, const void *payload, size_t len,
    const char *nonce, const char *timestamp, char out[SIGN_HEX_LEN + 1])
{
	char	digest[SIGN_HEX_LEN + 1];

	sign_hmac_hex(key, strlen(key), payload, len, digest);
	sign_canonical(key, digest, SIGN_HEX_LEN, nonce, timestamp, out);
}

void
sign_v2_kit(const char *key, const void *payload, size_t len,
    const char *nonce, const char *timestamp, char out[SIGN_HEX_LEN + 1])
{
	sign_canonical(key, payload, len, nonce, timestamp, out);
}

/*
 * Copies n bytes of s into out, turning A-Z into a-z without a branch on
 * the contents, so the time taken does not depend on which bytes are
 * letters.
 */
static void
sign_lower_copy(unsigned char *out, const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		unsigned upper = (c - 'A') < 26u;	/* 0 or 1, no jump */

		out[i] = (unsigned char)(c | (upper << 5));
	}
}

bool
sign_hex_equal(const char *expected, const char *received)
{
	unsigned char	a[SIGN_HEX_LEN], b[SIGN_HEX_LEN];
	bool		eq;

	/* Lengths are public (always 64 when genuine); contents are not. */
	if (strnlen(expected, SIGN_HEX_LEN + 1) != SIGN_HEX_LEN ||
	    strnlen(received, SIGN_HEX_LEN + 1) != SIGN_HEX_LEN)
		return false;
	sign_lower_copy(a, expected, SIGN_HEX_LEN);
	sign_lower_copy(b, received, SIGN_HEX_LEN);
	eq = sodium_memcmp(a, b, SIGN_HEX_LEN) == 0;
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	return eq;
}

void
sign_sha256_hex(const void *data, size_t len, char out[SIGN_HEX_LEN + 1])
{
	unsigned char	h[crypto_hash_sha256_BYTES];

	(void)crypto_hash_sha256(h, data, len);
	hex_encode(h, sizeof(h), out, false);
}

void
sign_hmac_b64(const void *key, size_t keylen, const void *data, size_t len,
    char out[SIGN_B64_LEN + 1])
{
	unsigned char	mac[SIGN_MAC_LEN];

	sign_mac(key, keylen, data, len, mac);
	sodium_bin2base64(out, SIGN_B64_LEN + 1, mac, sizeof(mac),
	    sodium_base64_VARIANT_ORIGINAL);
}

void
sign_body(const char *key, const void *body, size_t len, struct buf *out)
{
	char	b64[SIGN_B64_LEN + 1];

	sign_hmac_b64(key, strlen(key), body, len, b64);
	buf_printf(out, "sign_type=\"HMAC-SHA256\", signature=\"%s\"", b64);
}

void
sign_v1_token(const char *key, const char *timestamp, const void *data,
    size_t len, char out[SIGN_B64_LEN + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char	mac[SIGN_MAC_LEN];
	struct buf	k = BUF_INIT;

	/*
	 * The HMAC key is the concatenation, so it must exist as one string.
	 * Sized up front: a growing realloc would leave copies of the key in
	 * freed memory that the wipe below cannot reach.
	 */
	buf_reserve(&k, strlen(key) + strlen(timestamp));
	buf_puts(&k, key);
	buf_puts(&k, timestamp);
	/* A new key at every call: absorbed, never kept (sign_mac_init_kept). */
	sign_mac_init(&st, k.data, k.len);
	sign_mac_update(&st, data, len);
	sign_mac_final(&st, mac);
	sodium_bin2base64(out, SIGN_B64_LEN + 1, mac, sizeof(mac),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(k.data, k.cap);
	buf_free(&k);
}

bool
sign_b64_equal(const char *expected, const char *received)
{
	size_t	n = strlen(expected);

	/* Only the length, which is public, decides an early exit. */
	if (strnlen(received, n + 1) != n)
		return false;
	return sodium_memcmp(expected, received, n) == 0;
}

void
sign_b64_encode(const void *p, size_t n, struct buf *out)
{
	size_t	b64len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);

	buf_reserve(out, b64len);
	sodium_bin2base64(out->data + out->len, b64len, p, n, sodium_base64_VARIANT_ORIGINAL);
	out->len += b64len - 1;		/* b64len counts the NUL */
}

bool
sign_b64_decode(const char *b64, struct buf *out)
{
	size_t		 len = strlen(b64), max = len / 4 * 3 + 3, got = 0;
	const char	*end = NULL;

	buf_reserve(out, max + 1);
	if (sodium_base642bin((unsigned char *)out->data + out->len, max, b64, len,
	    " \r\n", &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + len)
		return false;
	out->len += got;
	out->data[out->len] = '\0';
	return true;
}
