/*
 * check_usage.c: the form checks of usage events (domain/usage.c) and the
 * dashboard address of usageInfo, table-driven.
 */
#include <check.h>
#include <string.h>

#include "common/buf.h"
#include "domain/usage.h"
#include "unit.h"

static const struct {
	const char	*value;
	const char	*why;		/* NULL: accepted */
} values[] = {
	{ "0", NULL },
	{ "12.5", NULL },
	{ "0.0001", NULL },
	{ "1234567890123456.1234", NULL },
	{ "", "value missing" },
	{ "-1", "value is negative" },
	{ "1.23456", "value has more than 4 decimals" },
	{ "12345678901234567", "value is too large" },
	{ "1e3", "value is not a decimal number" },
	{ "1.", "value is not a decimal number" },
	{ ".5", "value is not a decimal number" },
	{ " 1", "value is not a decimal number" },
	{ "0x10", "value is not a decimal number" },
};

START_TEST(test_value)
{
	const char	*why = usage_check_value(values[_i].value);

	if (values[_i].why == NULL)
		ck_assert_msg(why == NULL, "'%s': %s", values[_i].value, why);
	else
		ck_assert_msg(why != NULL && strcmp(why, values[_i].why) == 0, "'%s': %s",
		    values[_i].value, why != NULL ? why : "(accepted)");
}
END_TEST

#define BAD_TIME "time is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)"

static const struct {
	const char	*time;
	const char	*why;
} times[] = {
	{ "2026-11-24T01:02:03Z", NULL },
	{ "2026-11-24T01:02:03.250Z", NULL },
	{ "2024-02-29T23:59:59Z", NULL },
	{ "", "time missing" },
	{ "2026-02-29T00:00:00Z", BAD_TIME },		/* not a leap year */
	{ "2026-04-31T00:00:00Z", BAD_TIME },
	{ "2026-11-24T01:02:03+08:00", BAD_TIME },	/* UTC only */
	{ "2026-11-24 01:02:03Z", BAD_TIME },
	{ "2026-11-24T24:00:00Z", BAD_TIME },
	{ "2026-11-24T01:02:03.Z", BAD_TIME },
	{ "1969-12-31T23:59:59Z", BAD_TIME },
};

START_TEST(test_time)
{
	const char	*why = usage_check_time(times[_i].time);

	if (times[_i].why == NULL)
		ck_assert_msg(why == NULL, "'%s': %s", times[_i].time, why);
	else
		ck_assert_msg(why != NULL && strcmp(why, times[_i].why) == 0, "'%s': %s",
		    times[_i].time, why != NULL ? why : "(accepted)");
}
END_TEST

static const struct {
	const char	*tmpl, *id;
	const char	*want;		/* NULL: no dashboardUrl */
} dashboards[] = {
	{ "https://d.example.com/u/{instanceId}", "i-1", "https://d.example.com/u/i-1" },
	{ "https://d.example.com/?a={instanceId}&b={instanceId}", "x y/z",
	  "https://d.example.com/?a=x%20y%2Fz&b=x%20y%2Fz" },
	{ "https://d.example.com/all", "i-1", "https://d.example.com/all" },
	{ "https://d.example.com/{instanceid}", "i-1", "https://d.example.com/{instanceid}" },
	{ "", "i-1", NULL },
};

START_TEST(test_dashboard)
{
	struct buf	 b = BUF_INIT;
	bool		 ok;

	buf_puts(&b, "<");
	ok = usage_dashboard_url(dashboards[_i].tmpl, dashboards[_i].id, &b);
	if (dashboards[_i].want == NULL) {
		ck_assert(!ok);
		ck_assert_str_eq(buf_cstr(&b), "<");
	} else {
		ck_assert(ok);
		ck_assert_str_eq(buf_cstr(&b) + 1, dashboards[_i].want);
	}
	buf_free(&b);
}
END_TEST

/* usageInfo.dashboardUrl holds at most 512 characters: a longer one is left out. */
START_TEST(test_dashboard_too_long)
{
	struct buf	 b = BUF_INIT;
	char		 tmpl[600];

	memset(tmpl, 'a', 500);
	strcpy(tmpl + 500, "{instanceId}");
	ck_assert(usage_dashboard_url(tmpl, "123456789012", &b));
	ck_assert_uint_eq(b.len, 512);
	buf_reset(&b);
	ck_assert(!usage_dashboard_url(tmpl, "1234567890123", &b));
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("usage", &tc);

	tcase_add_loop_test(tc, test_value, 0, sizeof(values) / sizeof(values[0]));
	tcase_add_loop_test(tc, test_time, 0, sizeof(times) / sizeof(times[0]));
	tcase_add_loop_test(tc, test_dashboard, 0, sizeof(dashboards) / sizeof(dashboards[0]));
	tcase_add_test(tc, test_dashboard_too_long);
	return unit_run(s);
}
