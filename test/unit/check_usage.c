/*
 * check_usage.c: the form checks of usage events (domain/usage.c) and the
 * dashboard address of usageInfo, table-driven.
 */
#include <check.h>
#include <stdbool.h>
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
	{ "99999999.9999", NULL },		/* the marketplace's Double(12,4) */
	{ "00000000.5", NULL },
	{ "", "value missing" },
	{ "-1", "value is negative" },
	{ "1.23456", "value has more than 4 decimals" },
	{ "100000000", "value is larger than 99999999.9999" },
	{ "9999999999999999.9999", "value is larger than 99999999.9999" },
	{ "12345678901234567", "value is larger than 99999999.9999" },
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
	{ "2026-11-24T01:02:03.123456Z", NULL },	/* microseconds: what PostgreSQL keeps */
	{ "2026-11-24T01:02:03.1234567Z", "time has more than 6 fraction digits (microseconds)" },
	{ "2026-11-24T01:02:03.00000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "00000000000000000000000000000000000000000000000000000001Z",
	  "time has more than 6 fraction digits (microseconds)" },
	{ "2026-13-24T01:02:03Z", BAD_TIME },
	{ "2026-11-24T01:60:03Z", BAD_TIME },
};

/* count copies of the UTF-8 character c (1 to 4 bytes). */
static char *
repeat(const char *c, size_t count)
{
	static char	 out[4 * 130 + 1];
	size_t		 n = strlen(c), i;

	for (i = 0; i < count; i++)
		memcpy(out + i * n, c, n);
	out[count * n] = '\0';
	return out;
}

static const char *const chars[] = { "a", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80" };

/* The id holds 128 characters of any width, not 128 bytes; 129 are too many. */
START_TEST(test_event_id_chars)
{
	struct usage_event	 ev = { .instance_id = "i-1", .value = "1",
				    .time = "2026-11-24T01:02:03Z" };
	char			 id[4 * 130 + 1];
	const char		*why;

	strcpy(id, repeat(chars[_i], 128));
	ev.id = id;
	why = usage_check_event(&ev);
	ck_assert_msg(why == NULL, "128 x %zu-byte: %s", strlen(chars[_i]), why);
	strcpy(id, repeat(chars[_i], 129));
	why = usage_check_event(&ev);
	ck_assert_msg(why != NULL && strcmp(why, "id longer than 128 characters") == 0,
	    "129 x %zu-byte: %s", strlen(chars[_i]), why != NULL ? why : "(accepted)");
	/* instanceId: 64 characters. */
	ev.id = "e-1";
	strcpy(id, repeat(chars[_i], 64));
	ev.instance_id = id;
	ck_assert_ptr_null(usage_check_event(&ev));
	strcpy(id, repeat(chars[_i], 65));
	ck_assert_ptr_nonnull(usage_check_event(&ev));
}
END_TEST

static const struct {
	const char	*id, *instance, *pkg;
	bool		 ok;
} events[] = {
	{ "e-1", "i-1", NULL, true },
	{ "e\x01", "i-1", NULL, false },		/* control characters */
	{ "e-1", "i\x7f", NULL, false },
	{ "e-1", "i-1", "p\n", false },
	{ "", "i-1", NULL, false },
	{ "e-1", "", NULL, false },
};

START_TEST(test_event)
{
	struct usage_event	 ev = { .id = events[_i].id, .instance_id = events[_i].instance,
				    .pkg_instance_id = events[_i].pkg, .value = "1.5",
				    .time = "2026-11-24T01:02:03Z" };
	const char		*why = usage_check_event(&ev);

	ck_assert_msg((why == NULL) == events[_i].ok, "event %d: %s", _i,
	    why != NULL ? why : "(accepted)");
}
END_TEST

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
	tcase_add_loop_test(tc, test_event_id_chars, 0, sizeof(chars) / sizeof(chars[0]));
	tcase_add_loop_test(tc, test_event, 0, sizeof(events) / sizeof(events[0]));
	tcase_add_loop_test(tc, test_dashboard, 0, sizeof(dashboards) / sizeof(dashboards[0]));
	tcase_add_test(tc, test_dashboard_too_long);
	return unit_run(s);
}
