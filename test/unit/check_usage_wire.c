/*
 * check_usage_wire.c: the usage push body and its signature against the
 * usage_body_signature vector of spec/vectors.json (spec/outbound.md §1.6),
 * the push as a signed marketplace call, and what an answer to a push means.
 */
#include <check.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
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

	ck_assert(fmt_decimal("99.0000", v, sizeof(v)));
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

/* The push as a marketplace call: the vector's body signature in its headers. */
START_TEST(test_prepare)
{
	struct usage_wire_call	 p;
	struct mkt_client	 c = { "https://mkt.example.com", "", "AK", "SK", "", 1000, 2000 };
	struct mkt_signed	 s;
	char			 why[200];

	usage_wire_prepare("test-isv-key", 1709690865879, "6c63c221-1f6b-4141-8ff4-22f5dfe82b65",
	    "r-1", V_BODY, strlen(V_BODY), &p);
	ck_assert_str_eq(p.call.method, "POST");
	ck_assert_str_eq(p.call.path, USAGE_PUSH_PATH);
	ck_assert_ptr_eq(p.call.body, V_BODY);
	ck_assert_uint_eq(p.call.body_len, strlen(V_BODY));
	ck_assert_uint_eq(p.call.nextra, 4);
	ck_assert_str_eq(p.call.extra[0].name, "signature");
	ck_assert_str_eq(p.call.extra[0].value, "S9/njFhs6ZY2gTBES91Ex7hoIKwIZNzYf5/iFNnyFaA=");
	ck_assert_str_eq(p.call.extra[1].name, "ts");
	ck_assert_str_eq(p.call.extra[1].value, "1709690865879");
	ck_assert_str_eq(p.call.extra[2].value, "6c63c221-1f6b-4141-8ff4-22f5dfe82b65");
	ck_assert_str_eq(p.call.extra[3].name, "X-Request-Id");
	ck_assert_str_eq(p.call.extra[3].value, "r-1");

	/* Signed for the wire: the body and the body signature ride along. */
	ck_assert_msg(mkt_sign_call(&c, c.url, &p.call, 1709690865879, &s, why, sizeof(why)),
	    "%s", why);
	ck_assert_str_eq(s.req.url, "https://mkt.example.com" USAGE_PUSH_PATH);
	ck_assert_uint_eq(s.req.nheaders, 8);
	ck_assert_str_eq(s.headers[4].value, p.sig);
	ck_assert_str_eq((const char *)s.req.body, V_BODY);
	mkt_signed_free(&s);
}
END_TEST

/* Answers to a push (spec/outbound.md §1.4) and their verdicts. */
static const struct {
	long			 status;
	const char		*body;
	enum usage_verdict	 want;
	const char		*code;
	const char		*msg;
} answers[] = {
	{ 200, "{\"error_code\":\"MKT.0000\",\"error_msg\":\"success\"}", UV_DELIVERED,
	  "MKT.0000", "success" },
	{ 201, "{\"error_code\":\"MKT.0000\"}", UV_FAILED, "MKT.0000", "HTTP 201" },
	{ 200, "{\"error_code\":\"MKT.0999\",\"error_msg\":\"busy\"}", UV_RETRY, "MKT.0999",
	  "busy" },
	{ 503, "Service Unavailable", UV_RETRY, "", "" },
	{ 429, "{\"error_code\":\"APIGW.0308\"}", UV_RETRY, "APIGW.0308", "" },
	{ 400, "{\"error_code\":\"MKT.0101\",\"error_msg\":\"bad value\"}", UV_FAILED,
	  "MKT.0101", "bad value" },
	/* No error_code: nothing was said about the batch; sent again. */
	{ 403, "", UV_RETRY, "", "HTTP 403 answer without error_code" },
	{ 200, "{\"error_code\":1,\"error_msg\":null}", UV_RETRY, "",
	  "HTTP 200 answer without error_code" },
	{ 200, "[\"MKT.0000\"]", UV_RETRY, "", "HTTP 200 answer without error_code" },
	{ 200, "<html>proxy</html>", UV_RETRY, "", "HTTP 200 answer without error_code" },
};

START_TEST(test_answer)
{
	char	 code[33], msg[64];

	ck_assert_int_eq(usage_wire_answer(answers[_i].status, answers[_i].body,
	    strlen(answers[_i].body), code, sizeof(code), msg, sizeof(msg)), answers[_i].want);
	ck_assert_str_eq(code, answers[_i].code);
	ck_assert_str_eq(msg, answers[_i].msg);
}
END_TEST

START_TEST(test_answer_cut)
{
	static const char body[] = "{\"error_code\":\"MKT.0101\",\"error_msg\":\"0123456789\"}";
	char	 code[5], msg[4];

	ck_assert_int_eq(usage_wire_answer(400, body, strlen(body), code, sizeof(code), msg,
	    sizeof(msg)), UV_FAILED);
	ck_assert_str_eq(code, "MKT.");
	ck_assert_str_eq(msg, "012");
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("usage_wire", &tc);

	tcase_add_test(tc, test_vector);
	tcase_add_test(tc, test_prepare);
	tcase_add_test(tc, test_package_and_many);
	tcase_add_loop_test(tc, test_answer, 0, (int)NELEM(answers));
	tcase_add_test(tc, test_answer_cut);
	return unit_run(s);
}
