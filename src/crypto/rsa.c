/*
 * rsa.c: RSA-OAEP for the Kit clientSecret, with OpenSSL's EVP interface
 * (the only RSA use in mkpd). The key file is checked like the master key
 * (regular file, no group/other access) on the open descriptor, then read
 * as PEM. The secret never leaves this file except into the caller's
 * buffer; nothing here logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "crypto/rsa.h"
#include "crypto/sign.h"

struct rsa_key {
	EVP_PKEY	*pkey;
};

static const EVP_MD *
oaep_md(enum rsa_oaep p)
{
	return p == RSA_OAEP_SHA1_MGF1_SHA1 ? EVP_sha1() : EVP_sha256();
}

static const EVP_MD *
oaep_mgf1(enum rsa_oaep p)
{
	return p == RSA_OAEP_SHA256_MGF1_SHA256 ? EVP_sha256() : EVP_sha1();
}

struct rsa_key *
rsa_key_load(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	struct rsa_key	*k = NULL;
	EVP_PKEY	*pkey = NULL;
	FILE		*fp;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		(void)close(fd);
		return NULL;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "%s: mode %04o grants group/other access; chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
		(void)close(fd);
		return NULL;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		(void)close(fd);
		return NULL;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	(void)fclose(fp);
	if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "%s: not a PEM RSA private key", path);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	return k;
}

void
rsa_key_free(struct rsa_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* Sets the OAEP parameters on an initialised context. */
static bool
oaep_params(EVP_PKEY_CTX *ctx, enum rsa_oaep p)
{
	return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, oaep_md(p)) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, oaep_mgf1(p)) > 0;
}

static bool
decrypt_one(EVP_PKEY *pkey, enum rsa_oaep p, const unsigned char *in, size_t inlen,
    struct buf *out)
{
	EVP_PKEY_CTX	*ctx;
	unsigned char	*plain;
	size_t		 len = 0;
	bool		 ok = false;

	if ((ctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL)
		return false;
	if (EVP_PKEY_decrypt_init(ctx) <= 0 || !oaep_params(ctx, p) ||
	    EVP_PKEY_decrypt(ctx, NULL, &len, in, inlen) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return false;
	}
	plain = xmalloc(len + 1);
	if (EVP_PKEY_decrypt(ctx, plain, &len, in, inlen) > 0) {
		buf_append(out, plain, len);
		ok = true;
	}
	sodium_memzero(plain, len + 1);
	free(plain);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

bool
rsa_oaep_decrypt_b64_used(const struct rsa_key *k, const char *b64, struct buf *out,
    enum rsa_oaep *used)
{
	struct buf	 bin = BUF_INIT;
	bool		 ok = false;
	int		 p;

	if (k == NULL || b64[0] == '\0' || !sign_b64_decode(b64, &bin)) {
		buf_free(&bin);
		return false;
	}
	for (p = 0; p < RSA_OAEP_COUNT && !ok; p++)
		if (decrypt_one(k->pkey, (enum rsa_oaep)p, (const unsigned char *)bin.data,
		    bin.len, out)) {
			ok = true;
			if (used != NULL)
				*used = (enum rsa_oaep)p;
		}
	buf_free(&bin);
	return ok;
}

bool
rsa_oaep_decrypt_b64(const struct rsa_key *k, const char *b64, struct buf *out)
{
	return rsa_oaep_decrypt_b64_used(k, b64, out, NULL);
}

bool
rsa_oaep_encrypt_b64(const struct rsa_key *k, enum rsa_oaep p, const void *plain,
    size_t len, struct buf *out)
{
	EVP_PKEY_CTX	*ctx;
	unsigned char	*enc = NULL;
	size_t		 elen = 0;
	bool		 ok = false;

	if ((ctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL)
		return false;
	if (EVP_PKEY_encrypt_init(ctx) <= 0 || !oaep_params(ctx, p) ||
	    EVP_PKEY_encrypt(ctx, NULL, &elen, plain, len) <= 0)
		goto done;
	enc = xmalloc(elen);
	if (EVP_PKEY_encrypt(ctx, enc, &elen, plain, len) <= 0)
		goto done;
	sign_b64_encode(enc, elen, out);
	ok = true;
done:
	free(enc);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

bool
rsa_key_generate(const char *path, int bits, struct buf *pub, char *err, size_t errlen)
{
	EVP_PKEY	*pkey = NULL;
	BIO		*mem = NULL;
	FILE		*fp = NULL;
	char		*data;
	long		 n;
	int		 fd;
	bool		 ok = false;

	if (bits < 3072) {
		snprintf(err, errlen, "RSA keys must have at least 3072 bits");
		return false;
	}
	if ((pkey = EVP_RSA_gen((unsigned)bits)) == NULL) {
		snprintf(err, errlen, "cannot generate an RSA key");
		return false;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		goto done;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		(void)close(fd);
		goto done;
	}
	if (PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(fp) != 0) {
		fp = NULL;
		snprintf(err, errlen, "%s: cannot write the key", path);
		(void)unlink(path);
		goto done;
	}
	fp = NULL;
	if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(mem, pkey) != 1) {
		snprintf(err, errlen, "cannot write the public key");
		goto done;
	}
	n = BIO_get_mem_data(mem, &data);
	buf_append(pub, data, (size_t)n);
	ok = true;
done:
	if (fp != NULL)
		(void)fclose(fp);
	BIO_free(mem);
	EVP_PKEY_free(pkey);
	return ok;
}
