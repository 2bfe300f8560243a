/*
 * rsa.h: the seller's RSA key pair for the Kit applicationSync clientSecret
 * (spec/kit-and-v1.md §1.6, reading 8 of spec/README.md): the marketplace
 * encrypts with the uploaded public key (RSA >= 3072 bits, OAEP) and sends
 * base64; the OAEP hashes are not documented, so three parameter sets are
 * tried in order: SHA-256/MGF1-SHA-1, SHA-1/MGF1-SHA-1, SHA-256/MGF1-SHA-256.
 */
#ifndef MKP_RSA_H
#define MKP_RSA_H

#include "common/buf.h"
#include "common/defs.h"

struct rsa_key;

enum rsa_oaep {
	RSA_OAEP_SHA256_MGF1_SHA1,
	RSA_OAEP_SHA1_MGF1_SHA1,
	RSA_OAEP_SHA256_MGF1_SHA256,
	RSA_OAEP_COUNT,
};

/*
 * Reads a PEM private key from path, which must be a regular file of mode
 * 0600 or stricter. NULL with err set on failure.
 */
struct rsa_key *rsa_key_load(const char *path, char *err, size_t errlen) MUSTCHECK;
void	 rsa_key_free(struct rsa_key *);

/*
 * Decrypts base64 ciphertext, trying the parameter sets in order; the
 * plaintext is appended to out (the caller wipes it). *used (may be NULL)
 * names the set that worked. False when none decrypts.
 */
bool	 rsa_oaep_decrypt_b64(const struct rsa_key *, const char *b64, struct buf *out) MUSTCHECK;
bool	 rsa_oaep_decrypt_b64_used(const struct rsa_key *, const char *b64,
	    struct buf *out, enum rsa_oaep *used) MUSTCHECK;

/*
 * Encrypts with the key's public half and one parameter set, appending
 * base64 to out: the marketplace's side, for tests and mkp-sim.
 */
bool	 rsa_oaep_encrypt_b64(const struct rsa_key *, enum rsa_oaep, const void *plain,
	    size_t len, struct buf *out) MUSTCHECK;

/*
 * Generates a key pair of bits (>= 3072): the private key PEM is written
 * to path (created with mode 0600, never overwritten), the public key PEM
 * (SubjectPublicKeyInfo) appended to pub.
 */
bool	 rsa_key_generate(const char *path, int bits, struct buf *pub, char *err,
	    size_t errlen) MUSTCHECK;

#endif
