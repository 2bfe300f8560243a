/*
 * check_random.c: shapes of random ids, IVs and passwords (the values
 * themselves cannot be checked, only their alphabet, length and classes).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"
#include "unit.h"

START_TEST(test_crypto_init_again)
{
	ck_assert(crypto_init());	/* main already called it: harmless */
}
END_TEST

static const size_t hex_lens[] = { 0, 1, 16, 31, 32, 33, 100 };

START_TEST(test_rand_hex)
{
	char	out[2 * 100 + 2];
	size_t	n = hex_lens[_i], i;

	memset(out, 'Z', sizeof(out));
	rand_hex(out, n);
	ck_assert_uint_eq(strlen(out), 2 * n);
	for (i = 0; i < 2 * n; i++)
		ck_assert(strchr("0123456789abcdef", out[i]) != NULL);
	ck_assert_int_eq(out[2 * n + 1], 'Z');	/* nothing written past the NUL */
}
END_TEST

START_TEST(test_rand_iv)
{
	char	a[17], b[17];
	int	round, i;

	for (round = 0; round < 100; round++) {
		rand_iv(a);
		ck_assert_uint_eq(strlen(a), 16);
		for (i = 0; i < 16; i++)
			ck_assert(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz", a[i]) != NULL);
	}
	rand_iv(b);
	ck_assert_str_ne(a, b);		/* 62^16 values: a clash means no RNG */
}
END_TEST

static const struct {
	size_t	outsz, len;
} pw_cases[] = {
	{ 13, 12 },
	{ 17, 16 },
	{ 64, 32 },
	{ 129, 128 },
};

START_TEST(test_rand_password)
{
	char	out[256];
	size_t	len = pw_cases[_i].len, i;
	int	round;

	for (round = 0; round < 200; round++) {
		bool up = false, low = false, dig = false, sp = false;

		memset(out, 'Z', sizeof(out));
		rand_password(out, pw_cases[_i].outsz, len);
		ck_assert_uint_eq(strlen(out), len);
		for (i = 0; i < len; i++) {
			char c = out[i];

			if (c >= 'A' && c <= 'Z')
				up = true;
			else if (c >= 'a' && c <= 'z')
				low = true;
			else if (c >= '0' && c <= '9')
				dig = true;
			else {
				ck_assert_msg(strchr("@#%+=_-", c) != NULL, "char %c", c);
				sp = true;
			}
		}
		ck_assert(up && low && dig && sp);
	}
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("random", &tc);

	if (!crypto_init())
		return EXIT_FAILURE;
	tcase_add_test(tc, test_crypto_init_again);
	tcase_add_loop_test(tc, test_rand_hex, 0, (int)NELEM(hex_lens));
	tcase_add_test(tc, test_rand_iv);
	tcase_add_loop_test(tc, test_rand_password, 0, (int)NELEM(pw_cases));
	return unit_run(s);
}
