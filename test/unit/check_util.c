/*
 * check_util.c: integer parsing, marketplace time formats and usage values.
 */
#include <check.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "unit.h"

static const struct {
	const char	*in;
	int64_t		 min, max;
	bool		 ok;
	int64_t		 want;
} i64_cases[] = {
	{ "0", 0, 10, true, 0 },
	{ "10", 0, 10, true, 10 },
	{ "11", 0, 10, false, 0 },
	{ "-1", 0, 10, false, 0 },
	{ "-5", -10, 10, true, -5 },
	{ "", 0, 10, false, 0 },
	{ " 1", 0, 10, false, 0 },
	{ "1 ", 0, 10, false, 0 },
	{ "+1", 0, 10, false, 0 },
	{ "9223372036854775807", 0, INT64_MAX, true, INT64_MAX },
	{ "9223372036854775808", 0, INT64_MAX, false, 0 },
	{ "-9223372036854775808", INT64_MIN, 0, true, INT64_MIN },
	{ "12a", 0, 100, false, 0 },
};

START_TEST(test_parse_i64)
{
	int64_t	v = -42;
	bool	ok = parse_i64(i64_cases[_i].in, i64_cases[_i].min, i64_cases[_i].max, &v);

	ck_assert_msg(ok == i64_cases[_i].ok, "case %d (%s)", _i, i64_cases[_i].in);
	if (ok)
		ck_assert_int_eq(v, i64_cases[_i].want);
}
END_TEST

static const struct {
	const char	*in;
	bool		 ok;
	int64_t		 want;
} time_cases[] = {
	{ "19700101000000", true, 0 },
	{ "20221124023618256", true, 1669257378256 },
	{ "20221124023618", true, 1669257378000 },
	{ "20240229120000", true, 1709208000000 },
	{ "20230229120000", false, 0 },
	{ "20221324023618", false, 0 },
	{ "2022112402361", false, 0 },
	{ "202211240236180", false, 0 },
	{ "2022112402361x", false, 0 },
	{ "20221124246018", false, 0 },
};

START_TEST(test_parse_mkp_time)
{
	int64_t	ms = -1;
	bool	ok = parse_mkp_time(time_cases[_i].in, &ms);

	ck_assert_msg(ok == time_cases[_i].ok, "case %s", time_cases[_i].in);
	if (ok) {
		char	back[18];

		ck_assert_int_eq(ms, time_cases[_i].want);
		fmt_mkp_time(ms, back);
		ck_assert(strncmp(back, time_cases[_i].in, strlen(time_cases[_i].in)) == 0);
	}
}
END_TEST

static const struct {
	const char	*in;
	bool		 ok;
	int64_t		 want;
} rfc3339_cases[] = {
	{ "2026-01-01T00:00:00Z", true, 1767225600000 },
	{ "2026-01-01t00:00:00z", true, 1767225600000 },
	{ "2026-01-01 00:00:00Z", true, 1767225600000 },
	{ "2026-01-01T08:00:00+08:00", true, 1767225600000 },
	{ "2025-12-31T19:30:00-04:30", true, 1767225600000 },
	{ "2026-01-01T00:00:00.25Z", true, 1767225600250 },
	{ "2026-01-01T00:00:00.123456Z", true, 1767225600123 },
	{ "2024-02-29T00:00:00Z", true, 1709164800000 },
	{ "2026-02-29T00:00:00Z", false, 0 },
	{ "2026-01-01T00:00:00", false, 0 },
	{ "2026-01-01T00:00:00.Z", false, 0 },
	{ "2026-01-01T24:00:00Z", false, 0 },
	{ "2026-01-01T00:00:00+0800", false, 0 },
	{ "2026-01-01", false, 0 },
	{ "20260101T000000Z", false, 0 },
	{ "2026-01-01T00:00:00Zjunk", false, 0 },
};

START_TEST(test_parse_rfc3339)
{
	int64_t	ms = -1;
	bool	ok = parse_rfc3339(rfc3339_cases[_i].in, &ms);

	ck_assert_msg(ok == rfc3339_cases[_i].ok, "case %s", rfc3339_cases[_i].in);
	if (ok)
		ck_assert_int_eq(ms, rfc3339_cases[_i].want);
}
END_TEST

/* A numeric(20,4)'s text and the usage value it is sent as (outbound.md §1.5). */
static const struct {
	const char	*in;
	size_t		 outlen;
	const char	*want;		/* NULL: refused */
} decimal_cases[] = {
	{ "12.5000", 8, "12.5" },
	{ "0.0001", 8, "0.0001" },
	{ "100", 8, "100" },
	{ "100.0000", 8, "100" },
	{ "99.0000", 8, "99" },
	{ "0.0000", 8, "0" },
	{ "1.", 8, "1" },
	{ "1234567", 8, "1234567" },
	{ "12345678", 8, NULL },		/* the NUL does not fit */
	{ "12345678.5", 8, NULL },
	{ "-1", 8, NULL },
	{ "+1", 8, NULL },
	{ "1.23456", 8, NULL },
	{ ".5", 8, NULL },
	{ "1.2.3", 8, NULL },
	{ "1e3", 8, NULL },
	{ " 1", 8, NULL },
	{ "", 8, NULL },
};

START_TEST(test_fmt_decimal)
{
	char	out[8];
	bool	ok;

	ok = fmt_decimal(decimal_cases[_i].in, out, decimal_cases[_i].outlen);
	ck_assert_msg(ok == (decimal_cases[_i].want != NULL), "case %s", decimal_cases[_i].in);
	if (ok)
		ck_assert_str_eq(out, decimal_cases[_i].want);
}
END_TEST

START_TEST(test_hex)
{
	char	out[9];

	hex_encode("\x01\xab\xff\x10", 4, out, false);
	ck_assert_str_eq(out, "01abff10");
	hex_encode("\x01\xab\xff\x10", 4, out, true);
	ck_assert_str_eq(out, "01ABFF10");
}
END_TEST

START_TEST(test_hex_digit)
{
	const char	*digits = "0123456789abcdef";
	int		 c;

	for (c = -1; c < 256; c++) {
		const char *at = c > 0 ? strchr(digits, tolower(c)) : NULL;

		ck_assert_int_eq(hex_digit(c), at != NULL ? (int)(at - digits) : -1);
	}
	ck_assert_int_eq(hex_digit((char)0xC1), -1);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("util", &tc);

	tcase_add_loop_test(tc, test_parse_i64, 0, (int)(sizeof(i64_cases) / sizeof(i64_cases[0])));
	tcase_add_loop_test(tc, test_parse_mkp_time, 0, (int)(sizeof(time_cases) / sizeof(time_cases[0])));
	tcase_add_loop_test(tc, test_parse_rfc3339, 0,
	    (int)(sizeof(rfc3339_cases) / sizeof(rfc3339_cases[0])));
	tcase_add_loop_test(tc, test_fmt_decimal, 0,
	    (int)(sizeof(decimal_cases) / sizeof(decimal_cases[0])));
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_hex_digit);
	return unit_run(s);
}
