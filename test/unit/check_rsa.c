/*
 * check_rsa.c: RSA-OAEP for the Kit clientSecret (reading 8): a round trip
 * for each parameter set with a key generated here (3072 bits, as the
 * marketplace demands), the order in which sets are tried, refusals of
 * wrong input, and the key file's mode check.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/rsa.h"
#include "unit.h"

static char		 dir[256], path[300];
static struct rsa_key	*key;

static void
setup(void)
{
	struct buf	pub = BUF_INIT;
	char		err[256];

	unit_tmpdir(dir, sizeof(dir), "check_rsa");
	snprintf(path, sizeof(path), "%s/kit.pem", dir);
	ck_assert_msg(rsa_key_generate(path, 3072, &pub, err, sizeof(err)), "%s", err);
	ck_assert(strstr(buf_cstr(&pub), "-----BEGIN PUBLIC KEY-----") != NULL);
	buf_free(&pub);
	key = rsa_key_load(path, err, sizeof(err));
	ck_assert_msg(key != NULL, "%s", err);
}

static void
teardown(void)
{
	rsa_key_free(key);
	key = NULL;
	unit_tmpdir_remove(dir);
}

START_TEST(test_round_trip)
{
	static const char	 secret[] = "client-secret-\xe4\xb8\xad-0123456789";
	struct buf		 ct = BUF_INIT, pt = BUF_INIT;
	enum rsa_oaep		 used = RSA_OAEP_COUNT;
	struct stat		 st;

	ck_assert(rsa_oaep_encrypt_b64(key, (enum rsa_oaep)_i, secret, strlen(secret), &ct));
	ck_assert(rsa_oaep_decrypt_b64_used(key, buf_cstr(&ct), &pt, &used));
	ck_assert_uint_eq(pt.len, strlen(secret));
	ck_assert(memcmp(pt.data, secret, pt.len) == 0);
	ck_assert_int_eq((int)used, _i);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq((int)(st.st_mode & 0777), 0600);
	buf_free(&ct);
	buf_free(&pt);
}
END_TEST

START_TEST(test_refusals)
{
	struct buf	 pt = BUF_INIT, pub = BUF_INIT;
	char		 err[256], small[320];

	ck_assert(!rsa_oaep_decrypt_b64(key, "", &pt));
	ck_assert(!rsa_oaep_decrypt_b64(key, "not base64!", &pt));
	ck_assert(!rsa_oaep_decrypt_b64(key, "aGVsbG8gd29ybGQ=", &pt));
	ck_assert(!rsa_oaep_decrypt_b64(NULL, "aGVsbG8gd29ybGQ=", &pt));
	ck_assert_uint_eq(pt.len, 0);
	/* Too short a key, and an existing file, are refused. */
	snprintf(small, sizeof(small), "%s/small.pem", dir);
	ck_assert(!rsa_key_generate(small, 2048, &pub, err, sizeof(err)));
	ck_assert(!rsa_key_generate(path, 3072, &pub, err, sizeof(err)));
	buf_free(&pub);
}
END_TEST

START_TEST(test_mode_checked)
{
	char	err[256];

	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert(rsa_key_load(path, err, sizeof(err)) == NULL);
	ck_assert(strstr(err, "chmod 600") != NULL);
	ck_assert(rsa_key_load("/nonexistent/kit.pem", err, sizeof(err)) == NULL);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("rsa", &tc);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_round_trip, 0, RSA_OAEP_COUNT);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_mode_checked);
	return unit_run(s);
}
