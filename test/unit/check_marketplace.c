/*
 * check_marketplace.c: the open-API client (spec/outbound.md §2, §3).
 *
 * - the answer parser, table-driven over the spec's example answers and
 *   broken ones (not JSON, no orderInfo, wrong types, gateway errors), each
 *   with the status the caller must act on;
 * - the request builder against vector E of §2.9 (the order query signed
 *   at a known time), and a POST with a body and unsigned headers (the
 *   usage push's shape) as the gateway's verifier sees it;
 * - base-URL splitting for the Host header;
 * - the whole call over loopback: a forked one-shot server that checks
 *   the signature with apig_verify and answers the spec's sample, reached
 *   through the fallback URL after the primary refused the connection.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "crypto/apig.h"
#include "net/http.h"
#include "net/marketplace.h"
#include "unit.h"

#define AK_A	"QTWAOYTTINDUT2QVKYUC"
#define SK_A	"MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"

/* The spec's sample success (§3), with the abbreviated parts filled in. */
#define SAMPLE_OK "{\"resultCode\":\"MKT.0000\",\"resultMsg\":\"Success\",\"orderInfo\":{" \
	"\"orderId\":\"MOCKPERIODYEARNEW\",\"orderType\":\"NEW\",\"createTime\":\"20241121090846\"," \
	"\"orderLine\":[{\"orderLineId\":\"MOCKPERIODYEARNEW-000001\",\"chargingMode\":\"PERIOD\"," \
	"\"periodType\":\"year\",\"periodNumber\":1,\"expireTime\":\"20251121235959\"," \
	"\"productInfo\":[{\"productId\":\"OFFI000000000001\",\"skuCode\":\"0a4d1b2c-sku\"," \
	"\"linearValue\":50,\"productName\":\"Office \\u5957\\u4ef6\"}]," \
	"\"extendParams\":[{\"name\":\"emailDomainName\",\"value\":\"test.xxxx.com\"}]," \
	"\"currency\":\"100\",\"currencyAfterDiscount\":\"100\"}]," \
	"\"buyerInfo\":{\"mobilePhone\":\"13800000000\",\"email\":\"buyer@example.com\"," \
	"\"customerId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"customerName\":\"huawei\"," \
	"\"customerRealName\":\"Huawei\",\"customerType\":0,\"userId\":\"u-1\",\"userName\":\"zhangsan\"}," \
	"\"extendParams\":[]}}"

/* A minimal valid orderInfo, into which the cases below splice a line. */
#define OI(lines) "{\"resultCode\":\"MKT.0000\",\"resultMsg\":\"Success\",\"orderInfo\":" \
	"{\"orderId\":\"CS2207261447AUY4H\",\"orderType\":\"NEW\",\"createTime\":\"20220726144700\"," \
	"\"orderLine\":" lines "}}"
#define LINE1 "[{\"orderLineId\":\"CS2207261447AUY4H-000001\",\"chargingMode\":\"ON_DEMAND\"}]"

static const struct {
	const char	*src;
	long		 http;
	const char	*body;
	enum mkt_status	 want;
	const char	*code;		/* res.code */
	const char	*msg;		/* a substring of res.message, "" = any */
} answers[] = {
	{ "§3 sample success", 200, SAMPLE_OK, MKT_OK, "MKT.0000", "Success" },
	{ "minimal: mandatory fields only", 200, OI(LINE1), MKT_OK, "MKT.0000", "" },
	{ "unknown members are ignored", 200,
	  "{\"resultCode\":\"MKT.0000\",\"resultMsg\":\"ok\",\"extra\":{\"x\":[1]},\"orderInfo\":"
	  "{\"orderId\":\"A\",\"orderType\":\"NEW\",\"createTime\":\"20220726144700\",\"future\":true,"
	  "\"orderLine\":[{\"orderLineId\":\"A-1\",\"chargingMode\":\"ONE_TIME\",\"discount\":3}]}}",
	  MKT_OK, "MKT.0000", "" },
	{ "null optional members are absent", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"expireTime\":null,"
	  "\"periodNumber\":null,\"productInfo\":null,\"extendParams\":null}]"),
	  MKT_OK, "MKT.0000", "" },
	{ "numbers as strings are accepted", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"periodNumber\":\"12\","
	  "\"currency\":12.78,\"productInfo\":[{\"linearValue\":\"20\"}]}]"),
	  MKT_OK, "MKT.0000", "" },
	{ "an unknown orderType and chargingMode are kept as text", 200,
	  "{\"resultCode\":\"MKT.0000\",\"resultMsg\":\"\",\"orderInfo\":{\"orderId\":\"A\","
	  "\"orderType\":\"RESTORE\",\"createTime\":\"20220726144700\",\"orderLine\":"
	  "[{\"orderLineId\":\"A-1\",\"chargingMode\":\"SPOT\"}]}}", MKT_OK, "MKT.0000", "" },
	{ "§3 orderInfo is optional: MKT.0000 without it is no such order", 200,
	  "{\"resultCode\":\"MKT.0000\",\"resultMsg\":\"Success\"}", MKT_NOT_FOUND, "MKT.0000", "" },
	{ "orderInfo null", 200,
	  "{\"resultCode\":\"MKT.0000\",\"resultMsg\":\"Success\",\"orderInfo\":null}",
	  MKT_NOT_FOUND, "MKT.0000", "" },

	/* Business codes (§1.7 table, shared by the order query). */
	{ "MKT.0101 invalid parameter", 400,
	  "{\"resultCode\":\"MKT.0101\",\"resultMsg\":\"Invalid parameter\"}",
	  MKT_BUSINESS, "MKT.0101", "Invalid parameter" },
	{ "MKT.9001 arrives with HTTP 500 and is still a refusal", 500,
	  "{\"resultCode\":\"MKT.9001\",\"resultMsg\":\"Instance ID not found.\"}",
	  MKT_BUSINESS, "MKT.9001", "not found" },
	{ "MKT.0999 internal error: retry", 500,
	  "{\"resultCode\":\"MKT.0999\",\"resultMsg\":\"System internal error.\"}",
	  MKT_RETRYABLE, "MKT.0999", "internal" },
	{ "MKT.0250 frequency limit (HTTP 406): retry", 406,
	  "{\"resultCode\":\"MKT.0250\",\"resultMsg\":\"Access frequency overlimit\"}",
	  MKT_RETRYABLE, "MKT.0250", "" },
	{ "MKT.0154 illegal token: our credentials", 401,
	  "{\"resultCode\":\"MKT.0154\",\"resultMsg\":\"Illegal token\"}",
	  MKT_PERMANENT, "MKT.0154", "" },
	{ "the CBC. prefix of the older mirror", 500,
	  "{\"resultCode\":\"CBC.0999\",\"resultMsg\":\"System internal error.\"}",
	  MKT_RETRYABLE, "CBC.0999", "" },
	{ "CBC.0000 is success", 200,
	  "{\"resultCode\":\"CBC.0000\",\"resultMsg\":\"Success\"}", MKT_NOT_FOUND, "CBC.0000", "" },

	/* The gateway's errors (§4.4, §2.10 body shape). */
	{ "APIG.0301 signature refused", 401,
	  "{\"error_msg\":\"verify signature fail\",\"error_code\":\"APIG.0301\",\"request_id\":\"r\"}",
	  MKT_PERMANENT, "APIG.0301", "verify signature fail" },
	{ "APIG.0303 expired", 401,
	  "{\"error_msg\":\"signature expired\",\"error_code\":\"APIG.0303\",\"request_id\":\"r\"}",
	  MKT_PERMANENT, "APIG.0303", "expired" },
	{ "APIGW.0101 not found", 404,
	  "{\"error_msg\":\"The API does not exist\",\"error_code\":\"APIGW.0101\"}",
	  MKT_PERMANENT, "APIGW.0101", "" },
	{ "APIG.0308 throttled: retry", 429,
	  "{\"error_msg\":\"too many\",\"error_code\":\"APIG.0308\"}", MKT_RETRYABLE, "APIG.0308", "" },
	{ "APIGW.0201 backend timeout: retry", 504,
	  "{\"error_msg\":\"Backend timeout\",\"error_code\":\"APIGW.0201\"}",
	  MKT_RETRYABLE, "APIGW.0201", "" },

	/* Malformed answers. */
	{ "not JSON, HTTP 200", 200, "<html>proxy</html>", MKT_PERMANENT, "", "not a JSON object" },
	{ "not JSON, HTTP 502: retry", 502, "<html>Bad Gateway</html>", MKT_RETRYABLE, "",
	  "HTTP 502" },
	{ "empty body, HTTP 503: retry", 503, "", MKT_RETRYABLE, "", "" },
	{ "trailing garbage", 200, "{\"resultCode\":\"MKT.0000\"} x", MKT_PERMANENT, "", "" },
	{ "a JSON array", 200, "[]", MKT_PERMANENT, "", "not a JSON object" },
	{ "neither resultCode nor error_code", 200, "{\"result\":\"ok\"}", MKT_PERMANENT, "",
	  "neither resultCode nor error_code" },
	{ "resultCode not a string", 200, "{\"resultCode\":0}", MKT_PERMANENT, "",
	  "resultCode is not a string" },
	{ "orderInfo not an object", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":[]}", MKT_PERMANENT, "MKT.0000",
	  "bad answer: orderInfo is not an object" },
	{ "orderId missing", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderType\":\"NEW\","
	  "\"createTime\":\"20220726144700\",\"orderLine\":" LINE1 "}}", MKT_PERMANENT, "MKT.0000",
	  "bad answer: orderInfo.orderId is missing" },
	{ "orderId a number", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderId\":12,\"orderType\":\"NEW\","
	  "\"createTime\":\"20220726144700\",\"orderLine\":" LINE1 "}}", MKT_PERMANENT, "MKT.0000",
	  "orderInfo.orderId is not a string" },
	{ "orderId longer than 64", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderId\":"
	  "\"01234567890123456789012345678901234567890123456789012345678901234\",\"orderType\":\"NEW\","
	  "\"createTime\":\"20220726144700\",\"orderLine\":" LINE1 "}}", MKT_PERMANENT, "MKT.0000",
	  "orderInfo.orderId is longer than 64 bytes" },
	{ "createTime not yyyyMMddHHmmss", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderId\":\"A\",\"orderType\":\"NEW\","
	  "\"createTime\":\"2022-07-26 14:47:00\",\"orderLine\":" LINE1 "}}", MKT_PERMANENT,
	  "MKT.0000", "orderInfo.createTime is not a yyyyMMddHHmmss time" },
	{ "orderLine missing", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderId\":\"A\",\"orderType\":\"NEW\","
	  "\"createTime\":\"20220726144700\"}}", MKT_PERMANENT, "MKT.0000",
	  "orderInfo.orderLine is missing or empty" },
	{ "orderLine empty", 200, OI("[]"), MKT_PERMANENT, "MKT.0000",
	  "orderInfo.orderLine is missing or empty" },
	{ "orderLine an object", 200, OI("{}"), MKT_PERMANENT, "MKT.0000",
	  "orderInfo.orderLine is not an array" },
	{ "a line not an object", 200, OI("[\"L\"]"), MKT_PERMANENT, "MKT.0000",
	  "orderInfo.orderLine[0] is not an object" },
	{ "chargingMode missing", 200, OI("[{\"orderLineId\":\"L\"}]"), MKT_PERMANENT, "MKT.0000",
	  "orderInfo.orderLine[0].chargingMode is missing" },
	{ "periodNumber a boolean", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"periodNumber\":true}]"),
	  MKT_PERMANENT, "MKT.0000", "orderInfo.orderLine[0].periodNumber is not a non-negative integer" },
	{ "periodNumber negative", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"periodNumber\":-1}]"),
	  MKT_PERMANENT, "MKT.0000", "periodNumber" },
	{ "expireTime 31 February", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"expireTime\":\"20250231235959\"}]"),
	  MKT_PERMANENT, "MKT.0000", "orderInfo.orderLine[0].expireTime is not a yyyyMMddHHmmss time" },
	{ "productInfo an object", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"productInfo\":{}}]"),
	  MKT_PERMANENT, "MKT.0000", "orderInfo.orderLine[0].productInfo is not an array" },
	{ "linearValue not a number", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"productInfo\":[{\"linearValue\":\"ten\"}]}]"),
	  MKT_PERMANENT, "MKT.0000", "orderInfo.orderLine[0].productInfo[0].linearValue is not a non-negative decimal number" },
	{ "an extendParams entry without name", 200,
	  OI("[{\"orderLineId\":\"L\",\"chargingMode\":\"PERIOD\",\"extendParams\":[{\"value\":\"v\"}]}]"),
	  MKT_PERMANENT, "MKT.0000", "orderInfo.orderLine[0].extendParams[0].name is missing" },
	{ "buyerInfo a string", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderId\":\"A\",\"orderType\":\"NEW\","
	  "\"createTime\":\"20220726144700\",\"orderLine\":" LINE1 ",\"buyerInfo\":\"x\"}}",
	  MKT_PERMANENT, "MKT.0000", "orderInfo.buyerInfo is not an object" },
	{ "customerType a string of letters", 200,
	  "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderId\":\"A\",\"orderType\":\"NEW\","
	  "\"createTime\":\"20220726144700\",\"orderLine\":" LINE1 ",\"buyerInfo\":{\"customerType\":\"x\"}}}",
	  MKT_PERMANENT, "MKT.0000", "orderInfo.buyerInfo.customerType" },
	{ "duplicate key (json.c is strict)", 200,
	  "{\"resultCode\":\"MKT.0000\",\"resultCode\":\"MKT.0999\"}", MKT_PERMANENT, "", "" },
};

START_TEST(test_answers)
{
	struct order_info	info;
	struct mkt_result	res;
	enum mkt_status		st;
	const char		*body = answers[_i].body;

	order_info_init(&info);
	st = mkt_parse_order_answer(answers[_i].http, body, strlen(body), &info, &res);
	ck_assert_msg(st == answers[_i].want, "%s: %s (%s)", answers[_i].src,
	    mkt_status_name(st), res.message);
	ck_assert_int_eq(res.status, st);
	ck_assert_int_eq(res.http_status, answers[_i].http);
	ck_assert_msg(strcmp(res.code, answers[_i].code) == 0, "%s: code %s",
	    answers[_i].src, res.code);
	ck_assert_msg(strstr(res.message, answers[_i].msg) != NULL, "%s: message %s",
	    answers[_i].src, res.message);
	if (st == MKT_OK)
		ck_assert(info.nlines >= 1 && info.order_id != NULL);
	else
		ck_assert(info.order_id == NULL && info.nlines == 0 && info.lines == NULL);
	order_info_free(&info);
}
END_TEST

/* Every field of the sample lands where it belongs. */
START_TEST(test_sample_fields)
{
	struct order_info	info;
	struct mkt_result	res;
	const struct order_line	*l;
	int64_t			ms;

	order_info_init(&info);
	ck_assert_int_eq(mkt_parse_order_answer(200, SAMPLE_OK, strlen(SAMPLE_OK), &info, &res),
	    MKT_OK);
	ck_assert_str_eq(info.order_id, "MOCKPERIODYEARNEW");
	ck_assert_int_eq(info.order_type, ORDER_NEW);
	ck_assert_str_eq(info.order_type_text, "NEW");
	ck_assert_str_eq(info.create_time, "20241121090846");
	ck_assert(parse_mkp_time("20241121090846", &ms));
	ck_assert_int_eq(info.create_ms, ms);
	ck_assert_uint_eq(info.nparams, 0);
	ck_assert_uint_eq(info.nlines, 1);
	l = order_info_line(&info, "MOCKPERIODYEARNEW-000001");
	ck_assert_ptr_eq(l, &info.lines[0]);
	ck_assert_ptr_null(order_info_line(&info, "MOCKPERIODYEARNEW-000002"));
	ck_assert_int_eq(l->charging_mode, CHARGING_PERIOD);
	ck_assert_str_eq(l->period_type, "year");
	ck_assert_int_eq(l->period_number, 1);
	ck_assert_str_eq(l->expire_time, "20251121235959");
	ck_assert(parse_mkp_time("20251121235959", &ms));
	ck_assert_int_eq(l->expire_ms, ms);
	ck_assert_str_eq(l->currency, "100");
	ck_assert_str_eq(l->currency_after_discount, "100");
	ck_assert_uint_eq(l->nproducts, 1);
	ck_assert_str_eq(l->products[0].product_id, "OFFI000000000001");
	ck_assert_str_eq(l->products[0].sku_code, "0a4d1b2c-sku");
	ck_assert_str_eq(l->products[0].linear_value, "50");
	ck_assert_str_eq(l->products[0].product_name, "Office \xe5\xa5\x97\xe4\xbb\xb6");
	ck_assert_uint_eq(l->nparams, 1);
	ck_assert_str_eq(l->params[0].name, "emailDomainName");
	ck_assert_str_eq(l->params[0].value, "test.xxxx.com");
	ck_assert(info.buyer.present);
	ck_assert_str_eq(info.buyer.customer_id, "68cbc86abc2018ab880d92f36422fa0e");
	ck_assert_str_eq(info.buyer.customer_name, "huawei");
	ck_assert_str_eq(info.buyer.customer_real_name, "Huawei");
	ck_assert_int_eq(info.buyer.customer_type, 0);
	ck_assert_str_eq(info.buyer.user_id, "u-1");
	ck_assert_str_eq(info.buyer.user_name, "zhangsan");
	ck_assert_str_eq(info.buyer.mobile_phone, "13800000000");
	ck_assert_str_eq(info.buyer.email, "buyer@example.com");
	order_info_free(&info);
	ck_assert_ptr_null(info.order_id);
	order_info_free(&info);		/* freeing twice is harmless */

	/* Optional parts absent: NULL and -1. */
	ck_assert_int_eq(mkt_parse_order_answer(200, OI(LINE1), strlen(OI(LINE1)), &info, &res),
	    MKT_OK);
	ck_assert_int_eq(info.lines[0].charging_mode, CHARGING_ON_DEMAND);
	ck_assert_ptr_null(info.lines[0].expire_time);
	ck_assert_ptr_null(info.lines[0].period_type);
	ck_assert_int_eq(info.lines[0].period_number, -1);
	ck_assert_uint_eq(info.lines[0].nproducts, 0);
	ck_assert(!info.buyer.present);
	ck_assert_int_eq(info.buyer.customer_type, -1);
	order_info_free(&info);
}
END_TEST

/* Vector E of §2.9: the order query for MOCKPERIODYEARNEW at 20241121T090846Z. */
START_TEST(test_request_vector_e)
{
	struct mkt_client	c = { "https://mkt.myhuaweicloud.com/", "", AK_A, SK_A, "",
				    5000, 30000 };
	struct mkt_call		call;
	struct mkt_signed	s;
	struct buf		q = BUF_INIT;
	char			why[200];
	int64_t			now;

	ck_assert(apig_parse_date("20241121T090846Z", &now));
	ck_assert_msg(mkt_order_call("MOCKPERIODYEARNEW", "MOCKPERIODYEARNEW-000001", &q, &call,
	    why, sizeof(why)), "%s", why);
	ck_assert_msg(mkt_sign_call(&c, c.url, &call, now, &s, why, sizeof(why)), "%s", why);
	ck_assert_str_eq(s.req.url, "https://mkt.myhuaweicloud.com/api/mkp-openapi-public/global/"
	    "v1/order/query?orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000001");
	ck_assert_str_eq(s.req.method, "GET");
	ck_assert_uint_eq(s.req.nheaders, 4);
	ck_assert_str_eq(s.headers[0].value, "application/json");
	ck_assert_str_eq(s.headers[1].value, "mkt.myhuaweicloud.com");
	ck_assert_str_eq(s.headers[2].name, "X-Sdk-Date");
	ck_assert_str_eq(s.headers[2].value, "20241121T090846Z");
	ck_assert_str_eq(s.headers[3].value, "SDK-HMAC-SHA256 Access=" AK_A ", SignedHeaders="
	    "content-type;host;x-sdk-date, Signature="
	    "e37fbe6603335fd67eeca9ab532dc1c364f45d577107a4c42890630354aeed06");
	ck_assert_ptr_null(s.req.body);
	ck_assert_uint_eq(s.req.body_len, 0);
	ck_assert_int_eq(s.req.connect_timeout_ms, 5000);
	ck_assert_int_eq(s.req.timeout_ms, 30000);
	mkt_signed_free(&s);
	buf_free(&q);

	/* A whole-order query, ids escaped; a base with a port and a path prefix. */
	ck_assert(mkt_order_call("A B/&", NULL, &q, &call, why, sizeof(why)));
	ck_assert(mkt_sign_call(&c, "http://127.0.0.1:8081/mock", &call, now, &s, why,
	    sizeof(why)));
	ck_assert_str_eq(s.req.url, "http://127.0.0.1:8081/mock/api/mkp-openapi-public/global/"
	    "v1/order/query?orderId=A%20B%2F%26");
	ck_assert_str_eq(s.headers[1].value, "127.0.0.1:8081");
	mkt_signed_free(&s);
	ck_assert(!mkt_sign_call(&c, "ftp://x", &call, now, &s, why, sizeof(why)));
	buf_free(&q);

	ck_assert(!mkt_order_call("", NULL, &q, &call, why, sizeof(why)));
	ck_assert(!mkt_order_call(
	    "01234567890123456789012345678901234567890123456789012345678901234", NULL, &q,
	    &call, why, sizeof(why)));
	ck_assert(mkt_order_call("A", "", &q, &call, why, sizeof(why)));
	ck_assert_str_eq(call.query, "orderId=A");
	buf_free(&q);
}
END_TEST

static const char *
lookup_a(const char *ak, void *arg)
{
	return strcmp(ak, AK_A) == 0 ? SK_A : NULL;
}

/*
 * A POST with a body and headers the APIG signature does not cover (the
 * usage push's shape): the gateway's verifier accepts it, the body is
 * signed, and the extra headers follow Authorization unsigned.
 */
START_TEST(test_request_post)
{
	struct mkt_client	 c = { "http://127.0.0.1:8081/", "", AK_A, SK_A, "", 1000, 2000 };
	const struct http_header extra[] = { { "signature", "sig" }, { "X-Request-Id", "r-1" } };
	const char		*body = "{\"a\":1}";
	struct mkt_call		 call = { "POST", "/v1/x", NULL, body, 7, extra, 2 };
	struct mkt_signed	 s;
	struct apig_request	 ar;
	struct buf		 msg = BUF_INIT;
	char			 why[200], ak[64];
	int64_t			 now = now_ms();

	ck_assert_msg(mkt_sign_call(&c, c.url, &call, now, &s, why, sizeof(why)), "%s", why);
	ck_assert_str_eq(s.req.method, "POST");
	ck_assert_str_eq(s.req.url, "http://127.0.0.1:8081/v1/x");
	ck_assert_uint_eq(s.req.nheaders, 6);
	ck_assert_str_eq(s.headers[3].name, "Authorization");
	ck_assert_str_eq(s.headers[4].name, "signature");
	ck_assert_str_eq(s.headers[5].value, "r-1");
	ck_assert(strstr(s.headers[3].value, "SignedHeaders=content-type;host;x-sdk-date,") != NULL);
	ck_assert_ptr_eq(s.req.body, body);
	ck_assert_uint_eq(s.req.body_len, 7);

	/* What the gateway sees: the path, no query, the body. */
	memset(&ar, 0, sizeof(ar));
	ar.method = "POST";
	ar.path = "/v1/x";
	ar.headers = (const struct apig_header *)(const void *)s.headers;
	ar.nheaders = s.req.nheaders;
	ar.body = body;
	ar.body_len = 7;
	ck_assert_int_eq(apig_verify(&ar, now, lookup_a, NULL, ak, sizeof(ak), &msg), APIG_OK);
	ar.body = "{\"a\":2}";
	ck_assert_int_eq(apig_verify(&ar, now, lookup_a, NULL, ak, sizeof(ak), &msg), APIG_MISMATCH);
	mkt_signed_free(&s);
	buf_free(&msg);

	call.nextra = MKT_EXTRA_HEADERS + 1;
	ck_assert(!mkt_sign_call(&c, c.url, &call, now, &s, why, sizeof(why)));
}
END_TEST

static const struct {
	const char	*url;
	bool		 ok;
	const char	*scheme, *host, *path;
} url_cases[] = {
	{ "https://mkt.myhuaweicloud.com", true, "https", "mkt.myhuaweicloud.com", "" },
	{ "https://mkt.myhuaweicloud.com/", true, "https", "mkt.myhuaweicloud.com", "" },
	{ "https://mkt.myhuaweicloud.com:443/a/b/", true, "https", "mkt.myhuaweicloud.com", "/a/b" },
	{ "https://mkt.example.com:8443", true, "https", "mkt.example.com:8443", "" },
	{ "http://127.0.0.1:80", true, "http", "127.0.0.1", "" },
	{ "http://127.0.0.1:443", true, "http", "127.0.0.1:443", "" },
	{ "http://[::1]:8081/m", true, "http", "[::1]:8081", "/m" },
	{ "https://[::1]", true, "https", "[::1]", "" },
	{ "ftp://x", false, NULL, NULL, NULL },
	{ "https://", false, NULL, NULL, NULL },
	{ "https://:443", false, NULL, NULL, NULL },
	{ "https://h:0", false, NULL, NULL, NULL },
	{ "https://h:x", false, NULL, NULL, NULL },
	{ "https://h:", false, NULL, NULL, NULL },
	{ "https://[::1", false, NULL, NULL, NULL },
	{ "https://[::1]x", false, NULL, NULL, NULL },
	{ "https://h/?q", false, NULL, NULL, NULL },
	{ "https://u@h", false, NULL, NULL, NULL },
};

START_TEST(test_url)
{
	struct http_url	u;
	char		why[100];
	bool		ok;

	ok = http_url_parse(url_cases[_i].url, &u, why, sizeof(why));
	ck_assert_msg(ok == url_cases[_i].ok, "%s", url_cases[_i].url);
	if (!ok)
		return;
	ck_assert_str_eq(u.scheme, url_cases[_i].scheme);
	ck_assert_str_eq(u.host, url_cases[_i].host);
	ck_assert_str_eq(u.path, url_cases[_i].path);
}
END_TEST

/* --- over loopback ------------------------------------------------------------ */

/* A port nobody listens on: bound, never listened to, so connect is refused. */
static int
closed_port(int *fd)
{
	struct sockaddr_in	a;
	socklen_t		len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/*
 * The child: accepts one connection, reads the request head, verifies its
 * APIG signature as the gateway would, answers the sample (or the
 * gateway's error), exits 0 when the signature was good.
 */
static void
serve_once(int lfd, const char *answer)
{
	char		 req[8192], *p, *line, *save = NULL, *q;
	struct apig_header h[32];
	struct apig_request ar;
	struct buf	 out = BUF_INIT, msg = BUF_INIT;
	size_t		 n = 0, nh = 0;
	ssize_t		 r;
	int		 fd;
	enum apig_verdict v;

	alarm(10);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		_exit(2);
	while (n < sizeof(req) - 1 && (r = read(fd, req + n, sizeof(req) - 1 - n)) > 0) {
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	req[n] = '\0';
	memset(&ar, 0, sizeof(ar));
	line = strtok_r(req, "\r\n", &save);		/* GET /path?query HTTP/1.1 */
	if (line == NULL || (p = strchr(line, ' ')) == NULL)
		_exit(3);
	*p++ = '\0';
	ar.method = line;
	if ((q = strchr(p, ' ')) != NULL)
		*q = '\0';
	if ((q = strchr(p, '?')) != NULL) {
		*q++ = '\0';
		ar.query = q;
	}
	ar.path = p;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL && nh < NELEM(h)) {
		if ((p = strchr(line, ':')) == NULL)
			break;
		*p++ = '\0';
		h[nh].name = line;
		h[nh++].value = p;
	}
	ar.headers = h;
	ar.nheaders = nh;
	v = apig_verify(&ar, now_ms(), lookup_a, NULL, NULL, 0, &msg);
	if (v == APIG_OK)
		buf_printf(&out, "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(answer), answer);
	else {
		struct buf b = BUF_INIT;

		apig_error_body(v, buf_cstr(&msg), "req-1", &b);
		buf_printf(&out, "HTTP/1.1 %d Unauthorized\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    apig_verdict_http_status(v), b.len, buf_cstr(&b));
		buf_free(&b);
	}
	if (write(fd, out.data, out.len) != (ssize_t)out.len)
		_exit(4);
	close(fd);
	_exit(v == APIG_OK ? 0 : 5);
}

static pid_t
start_server(const char *answer, int *port)
{
	struct sockaddr_in	a;
	socklen_t		len = sizeof(a);
	pid_t			pid;
	int			lfd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		serve_once(lfd, answer);
	close(lfd);
	return pid;
}

static int
wait_server(pid_t pid)
{
	int	st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Primary refuses the connection; the fallback answers the sample, signed for itself. */
START_TEST(test_query_fallback)
{
	char			 primary[64], fallback[64];
	struct mkt_client	 c = { primary, fallback, AK_A, SK_A, "", 2000, 5000 };
	struct order_info	 info;
	struct mkt_result	 res;
	int			 cfd, port;
	pid_t			 pid;

	snprintf(primary, sizeof(primary), "http://127.0.0.1:%d", closed_port(&cfd));
	pid = start_server(SAMPLE_OK, &port);
	snprintf(fallback, sizeof(fallback), "http://127.0.0.1:%d/", port);
	ck_assert_int_eq(mkt_query_order(&c, "MOCKPERIODYEARNEW", "MOCKPERIODYEARNEW-000001",
	    &info, &res), MKT_OK);
	ck_assert(res.used_fallback);
	ck_assert_int_eq(res.http_status, 200);
	ck_assert_str_eq(info.lines[0].order_line_id, "MOCKPERIODYEARNEW-000001");
	order_info_free(&info);
	ck_assert_int_eq(wait_server(pid), 0);

	/* An answer about another order is not taken. */
	pid = start_server(SAMPLE_OK, &port);
	snprintf(primary, sizeof(primary), "http://127.0.0.1:%d", port);
	ck_assert_int_eq(mkt_query_order(&c, "MOCKONETIMENEW", NULL, &info, &res), MKT_PERMANENT);
	ck_assert(!res.used_fallback);
	ck_assert_ptr_null(info.order_id);
	ck_assert_int_eq(wait_server(pid), 0);

	/* A wrong SK: the server's gateway refuses, the client says permanent. */
	pid = start_server(SAMPLE_OK, &port);
	snprintf(primary, sizeof(primary), "http://127.0.0.1:%d", port);
	c.sk = "wrong";
	ck_assert_int_eq(mkt_query_order(&c, "MOCKPERIODYEARNEW", NULL, &info, &res), MKT_PERMANENT);
	ck_assert_str_eq(res.code, "APIG.0301");
	ck_assert_int_eq(res.http_status, 401);
	ck_assert_ptr_nonnull(strstr(res.message, "verify signature fail"));
	ck_assert_int_eq(wait_server(pid), 5);
	close(cfd);
	http_cleanup();
}
END_TEST

/* Nobody answers anywhere: retryable, with curl's reason. */
START_TEST(test_query_unreachable)
{
	char			 primary[64], fallback[64];
	struct mkt_client	 c = { primary, fallback, AK_A, SK_A, "", 1000, 2000 };
	struct order_info	 info;
	struct mkt_result	 res;
	int			 f1, f2;

	snprintf(primary, sizeof(primary), "http://127.0.0.1:%d", closed_port(&f1));
	snprintf(fallback, sizeof(fallback), "http://127.0.0.1:%d", closed_port(&f2));
	ck_assert_int_eq(mkt_query_order(&c, "MOCKONDEMAND", "MOCKONDEMAND-000001", &info, &res),
	    MKT_RETRYABLE);
	ck_assert(res.used_fallback);
	ck_assert_int_eq(res.http_status, 0);
	ck_assert_msg(strstr(res.message, fallback) != NULL, "%s", res.message);

	/* No credentials: nothing is sent. */
	c.ak = "";
	ck_assert_int_eq(mkt_query_order(&c, "MOCKONDEMAND", NULL, &info, &res), MKT_PERMANENT);
	ck_assert_str_eq(res.message, "no [marketplace] ak and sk configured");
	close(f1);
	close(f2);
	http_cleanup();
}
END_TEST

/* http_request itself: a body over the limit, and a connection refused. */
START_TEST(test_http_limits)
{
	char			 url[64];
	struct http_request	 req;
	struct http_response	 resp;
	int			 port, cfd;
	pid_t			 pid;

	http_response_init(&resp);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.connect_timeout_ms = 1000;
	req.timeout_ms = 3000;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", closed_port(&cfd));
	ck_assert(!http_request(&req, &resp));
	ck_assert_int_eq(resp.error, HTTP_ERR_CONNECT);
	ck_assert_int_eq(resp.status, 0);
	ck_assert(resp.error_text[0] != '\0');
	close(cfd);

	/* The unsigned request is refused by the server (401), body bounded at 16. */
	pid = start_server(SAMPLE_OK, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	req.max_body = 16;
	ck_assert(!http_request(&req, &resp));
	ck_assert_int_eq(resp.error, HTTP_ERR_TOO_LARGE);
	ck_assert_str_eq(resp.error_text, "response body larger than 16 bytes");
	ck_assert_int_eq(wait_server(pid), 5);

	/* The same within the limit: the answer, its status and Content-Type. */
	pid = start_server(SAMPLE_OK, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	req.max_body = 0;
	ck_assert(http_request(&req, &resp));
	ck_assert_int_eq(resp.status, 401);
	ck_assert_str_eq(resp.content_type, "application/json");
	ck_assert_ptr_nonnull(strstr(buf_cstr(&resp.body), "\"error_code\":\"APIG.0301\""));
	ck_assert_int_eq(wait_server(pid), 5);
	http_response_free(&resp);
	http_cleanup();
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("marketplace", &tc);

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_answers, 0, (int)NELEM(answers));
	tcase_add_test(tc, test_sample_fields);
	tcase_add_test(tc, test_request_vector_e);
	tcase_add_test(tc, test_request_post);
	tcase_add_loop_test(tc, test_url, 0, (int)NELEM(url_cases));
	tcase_add_test(tc, test_query_fallback);
	tcase_add_test(tc, test_query_unreachable);
	tcase_add_test(tc, test_http_limits);
	return unit_run(s);
}
