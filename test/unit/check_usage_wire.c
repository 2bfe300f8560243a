/*
 * check_usage_wire.c: the usage push body and its signature against the
 * usage_body_signature vector of spec/vectors.json (spec/outbound.md §1.6),
 * and usage_value formatting.
 */
#include <check.h>
#include <string.h>

#include "common/buf.h"
#include "net/usage_wire.h"
#include "unit.h"

#define V_BODY "{\"usage_records\":[{\"begin_time\":\"20220809T080000Z\"," \
	"\"end_time\":\"20220809T090000Z\",\"instance_id\":\"7f141bf1-aec8-4859-8323-fb3a8ad50721\"," \
	"\"metering_sn\":\"a1b2c3d4-0001\",\"record_time\":\"20220809T091000Z\",\"usage_value\":\"99\"}]}"

START_TEST(test_vector)
{
	struct usage_wire_record r = {
		.instance_id = "7f141bf1-aec8-4859-8323-fb3a8ad50721",
		.begin_time = "20220809T080000Z", .end_time = "20220809T090000Z",
		.record_time = "20220809T091000Z", .metering_sn = "a1b2c3d4-0001",
	};
	struct buf	 b = BUF_INIT;
	char		 v[32], sig[SIGN_B64_LEN + 1];

	ck_assert(usage_wire_value("99.0000", v, sizeof(v)));
	r.usage_value = v;
	usage_wire_body(&r, 1, &b);
	ck_assert_str_eq(buf_cstr(&b), V_BODY);
	usage_wire_sign("test-isv-key", "1709690865879", "6c63c221-1f6b-4141-8ff4-22f5dfe82b65",
	    b.data, b.len, sig);
	ck_assert_str_eq(sig, "S9/njFhs6ZY2gTBES91Ex7hoIKwIZNzYf5/iFNnyFaA=");
	buf_free(&b);
}
END_TEST

START_TEST(test_package_and_many)
{
	struct usage_wire_record r[2] = {
		{ "i1", "pkg", "20260101T000000Z", "20260101T010000Z", "20260101T011000Z", "1.5",
		  "sn1" },
		{ "i2", "", "20260101T000000Z", "20260101T010000Z", "20260101T011000Z", "2", "sn2" },
	};
	struct buf	 b = BUF_INIT;

	usage_wire_body(r, 2, &b);
	ck_assert_str_eq(buf_cstr(&b), "{\"usage_records\":["
	    "{\"begin_time\":\"20260101T000000Z\",\"end_time\":\"20260101T010000Z\","
	    "\"instance_id\":\"i1\",\"metering_sn\":\"sn1\",\"record_time\":\"20260101T011000Z\","
	    "\"relate_pkg_instance\":\"pkg\",\"usage_value\":\"1.5\"},"
	    "{\"begin_time\":\"20260101T000000Z\",\"end_time\":\"20260101T010000Z\","
	    "\"instance_id\":\"i2\",\"metering_sn\":\"sn2\",\"record_time\":\"20260101T011000Z\","
	    "\"usage_value\":\"2\"}]}");
	buf_free(&b);
}
END_TEST

START_TEST(test_value)
{
	char	 v[8];

	ck_assert(usage_wire_value("12.5000", v, sizeof(v)));
	ck_assert_str_eq(v, "12.5");
	ck_assert(usage_wire_value("0.0001", v, sizeof(v)));
	ck_assert_str_eq(v, "0.0001");
	ck_assert(usage_wire_value("100", v, sizeof(v)));
	ck_assert_str_eq(v, "100");
	ck_assert(usage_wire_value("100.0000", v, sizeof(v)));
	ck_assert_str_eq(v, "100");
	ck_assert(!usage_wire_value("-1", v, sizeof(v)));
	ck_assert(!usage_wire_value("1.23456", v, sizeof(v)));
	ck_assert(!usage_wire_value("1e3", v, sizeof(v)));
	ck_assert(!usage_wire_value("", v, sizeof(v)));
	ck_assert(!usage_wire_value("12345678.5", v, sizeof(v)));
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("usage_wire", &tc);

	tcase_add_test(tc, test_vector);
	tcase_add_test(tc, test_package_and_many);
	tcase_add_test(tc, test_value);
	return unit_run(s);
}
