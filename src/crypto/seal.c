/*
 * seal.c: secrets at rest. Values mkpd must keep but never show (client
 * secrets, app passwords, decrypted phone numbers) are stored as
 * "s1:" + base64(nonce || MAC || ciphertext) from libsodium's secretbox
 * (XSalsa20-Poly1305) under a master key read from a file.
 *
 * The key file is checked on the open descriptor (fstat after open, so a
 * swapped file cannot slip between check and read) and refused when any
 * group or other permission bit is set, like ssh does for private keys.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/seal.h"
#include "crypto/sign.h"

#define SEAL_PREFIX	"s1:"
#define SEAL_PREFIX_LEN	(sizeof(SEAL_PREFIX) - 1)
#define SEAL_KEY_HEX	(2 * sizeof(((struct seal_key *)0)->k))
#define SEAL_OVERHEAD	(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

_Static_assert(sizeof(((struct seal_key *)0)->k) == crypto_secretbox_KEYBYTES,
    "struct seal_key must hold a secretbox key");

static void
seal_err(char *err, size_t errlen, const char *fmt, ...) PRINTFLIKE(3, 4);

static void
seal_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Reads at most n bytes; returns the count, or -1 with errno set. */
static ssize_t
seal_read_all(int fd, char *p, size_t n)
{
	size_t	got = 0;
	ssize_t	r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

bool
seal_key_load(const char *path, struct seal_key *key, char *err, size_t errlen)
{
	/* Room for 64 hex, a newline, and one more byte to notice excess. */
	char		text[SEAL_KEY_HEX + 2];
	struct stat	st;
	size_t		binlen = 0;
	const char	*end = NULL;
	ssize_t		n;
	int		fd;
	bool		ok = false;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		seal_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) == -1) {
		seal_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		seal_err(err, errlen, "%s: not a regular file", path);
		goto done;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		seal_err(err, errlen,
		    "%s: mode %04o grants group/other access; chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	if ((n = seal_read_all(fd, text, sizeof(text))) < 0) {
		seal_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto done;
	}
	if (n > 0 && text[n - 1] == '\n')
		n--;			/* one optional newline */
	if ((size_t)n != SEAL_KEY_HEX) {
		seal_err(err, errlen,
		    "%s: must hold exactly %zu hex characters and an optional newline",
		    path, (size_t)SEAL_KEY_HEX);
		goto done;
	}
	if (sodium_hex2bin(key->k, sizeof(key->k), text, SEAL_KEY_HEX, NULL,
	    &binlen, &end) != 0 || binlen != sizeof(key->k) ||
	    end != text + SEAL_KEY_HEX) {
		seal_key_wipe(key);
		seal_err(err, errlen, "%s: not a hex key", path);
		goto done;
	}
	ok = true;
done:
	sodium_memzero(text, sizeof(text));
	(void)close(fd);
	return ok;
}

bool
seal_key_create(const char *path, char *err, size_t errlen)
{
	unsigned char	k[crypto_secretbox_KEYBYTES];
	char		text[SEAL_KEY_HEX + 2];
	int		fd;
	bool		ok = false;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		seal_err(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		return false;
	}
	crypto_secretbox_keygen(k);
	sodium_bin2hex(text, SEAL_KEY_HEX + 1, k, sizeof(k));
	text[SEAL_KEY_HEX] = '\n';
	/* A short write to a regular file only happens when it is full. */
	if (write(fd, text, SEAL_KEY_HEX + 1) != (ssize_t)(SEAL_KEY_HEX + 1))
		seal_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
	else if (fsync(fd) == -1)
		seal_err(err, errlen, "%s: cannot sync: %s", path, strerror(errno));
	else
		ok = true;
	sodium_memzero(k, sizeof(k));
	sodium_memzero(text, sizeof(text));
	if (close(fd) == -1 && ok) {
		seal_err(err, errlen, "%s: cannot close: %s", path, strerror(errno));
		ok = false;
	}
	if (!ok)
		(void)unlink(path);	/* we created it; leave no half key */
	return ok;
}

void
seal_key_wipe(struct seal_key *key)
{
	sodium_memzero(key->k, sizeof(key->k));
}

void
seal(const struct seal_key *key, const void *plain, size_t len, struct buf *out)
{
	unsigned char	*box;
	size_t		 boxlen;

	if (len > SIZE_MAX / 2 - SEAL_OVERHEAD)
		abort();	/* cannot be allocated anyway (OOM policy) */
	boxlen = SEAL_OVERHEAD + len;
	box = xmalloc(boxlen);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	(void)crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain,
	    len, box, key->k);

	buf_puts(out, SEAL_PREFIX);
	sign_b64_encode(box, boxlen, out);
	free(box);
}

bool
unseal(const struct seal_key *key, const char *sealed, struct buf *out)
{
	unsigned char	*box, *plain;
	const char	*b64;
	size_t		 b64len, boxmax, boxlen = 0, plainlen;
	bool		 ok = false;

	if (strncmp(sealed, SEAL_PREFIX, SEAL_PREFIX_LEN) != 0)
		return false;
	b64 = sealed + SEAL_PREFIX_LEN;
	b64len = strlen(b64);
	boxmax = b64len / 4 * 3 + 3;
	box = xmalloc(boxmax);
	if (sodium_base642bin(box, boxmax, b64, b64len, NULL, &boxlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || boxlen < SEAL_OVERHEAD) {
		free(box);
		return false;
	}
	plainlen = boxlen - SEAL_OVERHEAD;
	plain = xmalloc(plainlen);
	if (crypto_secretbox_open_easy(plain, box + crypto_secretbox_NONCEBYTES,
	    boxlen - crypto_secretbox_NONCEBYTES, box, key->k) == 0) {
		buf_append(out, plain, plainlen);
		ok = true;
	}
	sodium_memzero(plain, plainlen);
	free(plain);
	free(box);
	return ok;
}

void
wipe_str(char *s)
{
	if (s != NULL)
		sodium_memzero(s, strlen(s));
}

void
wipe_buf(struct buf *b)
{
	if (b->data != NULL)
		sodium_memzero(b->data, b->len);
	b->len = 0;
}

static struct seal_key	 master;
static bool		 master_set;

void
seal_master_set(const struct seal_key *k)
{
	master = *k;
	master_set = true;
}

const struct seal_key *
seal_master(void)
{
	return master_set ? &master : NULL;
}
