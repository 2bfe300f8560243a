/*
 * check_seal.c: master key files (creation, mode and format checks) and
 * the sealed-text round trip, including forged and malformed inputs.
 *
 * Key files live in a fresh mkdtemp(3) directory under $TMPDIR (or /tmp)
 * that every test removes again.
 */
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/buf.h"
#include "crypto/random.h"
#include "crypto/seal.h"
#include "unit.h"

#define HEX64	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char	tmpdir[512];
static char	keypath[600];

static void
setup(void)
{
	unit_tmpdir(tmpdir, sizeof(tmpdir), "check_seal");
	snprintf(keypath, sizeof(keypath), "%s/master.key", tmpdir);
}

static void
teardown(void)
{
	unit_tmpdir_remove(tmpdir);
}

/* Writes a key file with exactly these bytes and this mode. */
static void
write_key(const char *text, size_t len, mode_t mode)
{
	int	fd;

	(void)unlink(keypath);
	fd = open(keypath, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* --- key files ------------------------------------------------------------ */

static const struct {
	const char	*why;
	const char	*text;
	mode_t		 mode;
	bool		 ok;
	const char	*err;	/* substring expected in err when refused */
} keyfile_cases[] = {
	{ "hex", HEX64, 0600, true, NULL },
	{ "hex + newline", HEX64 "\n", 0600, true, NULL },
	{ "upper-case hex", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n",
	  0600, true, NULL },
	{ "read-only owner", HEX64 "\n", 0400, true, NULL },
	{ "mode 0644", HEX64 "\n", 0644, false, "mode 0644" },
	{ "mode 0640", HEX64 "\n", 0640, false, "mode 0640" },
	{ "mode 0604", HEX64 "\n", 0604, false, "mode 0604" },
	{ "mode 0610", HEX64 "\n", 0610, false, "mode 0610" },
	{ "bad hex", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	  0600, false, "hex" },
	{ "63 hex", "00010203040506070809a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	  0600, false, "64" },
	{ "65 hex", HEX64 "0", 0600, false, "64" },
	{ "two newlines", HEX64 "\n\n", 0600, false, "64" },
	{ "CRLF", HEX64 "\r\n", 0600, false, "64" },
	{ "leading space", " " HEX64, 0600, false, "64" },
	{ "empty", "", 0600, false, "64" },
	{ "128 hex", HEX64 HEX64, 0600, false, "64" },
};

START_TEST(test_key_file)
{
	struct seal_key	k;
	char		err[1024] = "";
	bool		ok;

	write_key(keyfile_cases[_i].text, strlen(keyfile_cases[_i].text),
	    keyfile_cases[_i].mode);
	memset(&k, 0x55, sizeof(k));
	ok = seal_key_load(keypath, &k, err, sizeof(err));
	ck_assert_msg(ok == keyfile_cases[_i].ok, "%s: %s", keyfile_cases[_i].why, err);
	if (ok) {
		unsigned char want[32];
		size_t i;

		for (i = 0; i < sizeof(want); i++)
			want[i] = (unsigned char)i;
		ck_assert(memcmp(k.k, want, sizeof(want)) == 0);
		seal_key_wipe(&k);
		ck_assert(sodium_is_zero(k.k, sizeof(k.k)));
	} else {
		ck_assert_msg(strstr(err, keypath) != NULL, "%s: err lacks path: %s",
		    keyfile_cases[_i].why, err);
		ck_assert_msg(strstr(err, keyfile_cases[_i].err) != NULL,
		    "%s: err lacks \"%s\": %s", keyfile_cases[_i].why,
		    keyfile_cases[_i].err, err);
	}
}
END_TEST

START_TEST(test_key_missing)
{
	struct seal_key	k;
	char		err[1024] = "";

	ck_assert(!seal_key_load(keypath, &k, err, sizeof(err)));
	ck_assert(strstr(err, keypath) != NULL);
	/* A NULL or empty err buffer is allowed. */
	ck_assert(!seal_key_load(keypath, &k, NULL, 0));
}
END_TEST

START_TEST(test_key_not_regular)
{
	struct seal_key	k;
	char		err[1024] = "";

	ck_assert_int_eq(chmod(tmpdir, 0700), 0);
	ck_assert(!seal_key_load(tmpdir, &k, err, sizeof(err)));
	ck_assert(strstr(err, tmpdir) != NULL);
}
END_TEST

START_TEST(test_key_create)
{
	struct seal_key	k1, k2;
	struct stat	st;
	char		err[1024] = "", text[80];
	ssize_t		n;
	size_t		i;
	int		fd;

	ck_assert_msg(seal_key_create(keypath, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	fd = open(keypath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, text, sizeof(text));
	close(fd);
	ck_assert_int_eq(n, 65);
	ck_assert_int_eq(text[64], '\n');
	for (i = 0; i < 64; i++)
		ck_assert(strchr("0123456789abcdef", text[i]) != NULL);

	ck_assert_msg(seal_key_load(keypath, &k1, err, sizeof(err)), "%s", err);
	ck_assert(!sodium_is_zero(k1.k, sizeof(k1.k)));

	/* Never overwrites: the existing key stays as it was. */
	ck_assert(!seal_key_create(keypath, err, sizeof(err)));
	ck_assert(strstr(err, keypath) != NULL);
	ck_assert(seal_key_load(keypath, &k2, err, sizeof(err)));
	ck_assert(memcmp(k1.k, k2.k, sizeof(k1.k)) == 0);
}
END_TEST

START_TEST(test_key_create_umask)
{
	struct stat	st;
	char		err[1024] = "";
	mode_t		old = umask(0);

	/* Even with an empty umask the file is private. */
	ck_assert_msg(seal_key_create(keypath, err, sizeof(err)), "%s", err);
	umask(old);
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

/* --- seal / unseal --------------------------------------------------------- */

static const struct {
	const char	*plain;
	size_t		 len;
} rt_cases[] = {
#define RT(s)	{ s, sizeof(s) - 1 }
	RT(""),
	RT("x"),
	RT("Huawei@12345"),
	RT("with\0nul\0bytes"),
	RT("\xe5\xbc\xa0\xe4\xb8\x89 client secret \xff\x80"),
	RT("a longer secret that spans several base64 quanta and blocks ..."),
#undef RT
};

static void
load_fixed_key(struct seal_key *k)
{
	char	err[1024] = "";

	write_key(HEX64 "\n", 65, 0600);
	ck_assert_msg(seal_key_load(keypath, k, err, sizeof(err)), "%s", err);
}

START_TEST(test_roundtrip)
{
	struct seal_key	k;
	struct buf	s1 = BUF_INIT, s2 = BUF_INIT, p = BUF_INIT;
	size_t		len = rt_cases[_i].len;

	load_fixed_key(&k);
	seal(&k, rt_cases[_i].plain, len, &s1);
	ck_assert(strncmp(buf_cstr(&s1), "s1:", 3) == 0);
	/* nonce 24 + MAC 16 + plaintext, base64 with padding */
	ck_assert_uint_eq(s1.len, 3 + 4 * ((24 + 16 + len + 2) / 3));
	ck_assert_uint_eq(strlen(buf_cstr(&s1)), s1.len);

	buf_puts(&p, "prefix:");	/* appended, not overwritten */
	ck_assert(unseal(&k, buf_cstr(&s1), &p));
	ck_assert_uint_eq(p.len, 7 + len);
	ck_assert(memcmp(p.data + 7, rt_cases[_i].plain, len) == 0);

	/* A fresh nonce each time: the same plaintext never seals the same. */
	seal(&k, rt_cases[_i].plain, len, &s2);
	ck_assert_str_ne(buf_cstr(&s1), buf_cstr(&s2));
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&p);
}
END_TEST

/* Flip one bit in the nonce, the MAC or the ciphertext, and re-encode. */
static const size_t flip_at[] = { 0, 23, 24, 39, 40, 45 };

START_TEST(test_tampered)
{
	struct seal_key	k;
	struct buf	s = BUF_INIT, p = BUF_INIT;
	unsigned char	box[128];
	char		b64[256];
	size_t		boxlen = 0;

	load_fixed_key(&k);
	seal(&k, "secret", 6, &s);
	ck_assert_int_eq(sodium_base642bin(box, sizeof(box), s.data + 3, s.len - 3,
	    NULL, &boxlen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	ck_assert_uint_eq(boxlen, 46);
	box[flip_at[_i]] ^= 0x01;
	memcpy(b64, "s1:", 3);
	sodium_bin2base64(b64 + 3, sizeof(b64) - 3, box, boxlen,
	    sodium_base64_VARIANT_ORIGINAL);
	ck_assert(!unseal(&k, b64, &p));
	ck_assert_uint_eq(p.len, 0);
	buf_free(&s);
	buf_free(&p);
}
END_TEST

START_TEST(test_wrong_key)
{
	struct seal_key	k, other;
	struct buf	s = BUF_INIT, p = BUF_INIT;

	load_fixed_key(&k);
	seal(&k, "secret", 6, &s);
	other = k;
	other.k[31] ^= 0x80;
	ck_assert(!unseal(&other, buf_cstr(&s), &p));
	ck_assert(unseal(&k, buf_cstr(&s), &p));
	ck_assert_str_eq(buf_cstr(&p), "secret");
	buf_free(&s);
	buf_free(&p);
}
END_TEST

/* Malformed sealed texts (the key never matters: they fail before it). */
static const char *const bad_sealed[] = {
	"",
	"s1:",
	"s1",
	"s2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"S1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"s1:AAAA",					/* shorter than nonce+MAC */
	"s1:!!!!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"s1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",	/* all zero: MAC fails */
	"s1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",	/* not a base64 length */
	"s1: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};

START_TEST(test_bad_sealed)
{
	struct seal_key	k;
	struct buf	p = BUF_INIT;

	load_fixed_key(&k);
	ck_assert_msg(!unseal(&k, bad_sealed[_i], &p), "case %d", _i);
	ck_assert_uint_eq(p.len, 0);
	buf_free(&p);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("seal", &tc);

	if (!crypto_init())
		return EXIT_FAILURE;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_key_file, 0, (int)NELEM(keyfile_cases));
	tcase_add_test(tc, test_key_missing);
	tcase_add_test(tc, test_key_not_regular);
	tcase_add_test(tc, test_key_create);
	tcase_add_test(tc, test_key_create_umask);
	tcase_add_loop_test(tc, test_roundtrip, 0, (int)NELEM(rt_cases));
	tcase_add_loop_test(tc, test_tampered, 0, (int)NELEM(flip_at));
	tcase_add_test(tc, test_wrong_key);
	tcase_add_loop_test(tc, test_bad_sealed, 0, (int)NELEM(bad_sealed));
	return unit_run(s);
}
