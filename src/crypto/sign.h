/*
 * sign.h: the marketplace's HMAC-SHA256 signature flavours.
 *
 * All keys are the UTF-8 bytes of the configured key strings. Hex output is
 * lower case. Comparisons of received signatures are constant-time.
 */
#ifndef MKP_SIGN_H
#define MKP_SIGN_H

#include "common/buf.h"
#include "common/defs.h"

#define SIGN_HEX_LEN	64	/* hex of a SHA-256 MAC, without NUL */
#define SIGN_B64_LEN	44	/* base64 of a SHA-256 MAC, without NUL */

/*
 * V2 basic request signature (spec/v2-basic.md §2.2):
 *	digest = hex(HMAC(key, payload))
 *	out    = hex(HMAC(key, key + nonce + timestamp + digest))
 */
void	 sign_v2_basic(const char *key, const void *payload, size_t len,
	    const char *nonce, const char *timestamp, char out[SIGN_HEX_LEN + 1]);

/* Kit V2 x-sign (§2.3): hex(HMAC(key, key + nonce + timestamp + payload)). */
void	 sign_v2_kit(const char *key, const void *payload, size_t len,
	    const char *nonce, const char *timestamp, char out[SIGN_HEX_LEN + 1]);

/*
 * True when received (any case) equals expected (lower-case hex of
 * SIGN_HEX_LEN chars). Constant-time in the contents; a wrong length is
 * false at once.
 */
bool	 sign_hex_equal(const char *expected, const char *received);

/* Lower-case hex(HMAC-SHA256(key, data)) with a key of arbitrary bytes. */
void	 sign_hmac_hex(const void *key, size_t keylen, const void *data,
	    size_t len, char out[SIGN_HEX_LEN + 1]);

/* Lower-case hex(SHA-256(data)): the APIG payload and canonical-request hashes. */
void	 sign_sha256_hex(const void *data, size_t len, char out[SIGN_HEX_LEN + 1]);

/* base64(HMAC-SHA256(key, data)) with a key of arbitrary bytes. */
void	 sign_hmac_b64(const void *key, size_t keylen, const void *data,
	    size_t len, char out[SIGN_B64_LEN + 1]);

/*
 * The Body-Sign header value over the exact body bytes:
 *	sign_type="HMAC-SHA256", signature="<base64>"
 * Appended to out.
 */
void	 sign_body(const char *key, const void *body, size_t len, struct buf *out);

/*
 * V1 authToken (spec/kit-and-v1.md): base64(HMAC(key + timestamp, data)),
 * where data is the sorted, decoded "k1=v1&k2=v2" string.
 */
void	 sign_v1_token(const char *key, const char *timestamp, const void *data,
	    size_t len, char out[SIGN_B64_LEN + 1]);

/* True when the two base64 strings are equal; constant-time in contents. */
bool	 sign_b64_equal(const char *expected, const char *received);

/* Appends the standard base64 ('=' padding) of the n bytes at p to out. */
void	 sign_b64_encode(const void *p, size_t n, struct buf *out);

/*
 * Decodes standard base64 ('=' padding; CR, LF and spaces skipped) and
 * appends the bytes to out. False, out untouched, when it is not base64.
 * (V1 saasExtendParams.)
 */
bool	 sign_b64_decode(const char *b64, struct buf *out) MUSTCHECK;

#endif
