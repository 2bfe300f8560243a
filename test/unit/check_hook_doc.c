/*
 * check_hook_doc.c: the document a provisioning hook reads, and the
 * appInfo answers it may give.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "jobs/hook_doc.h"
#include "unit.h"

START_TEST(test_doc_debug_instance)
{
	struct buf		 b = BUF_INIT;
	struct hook_instance	 in = {
		.instance_id = "i-1", .order_id = "CS1", .order_line_id = "CS1-1",
		.state = "provisioning", .is_test = true, .expire_ms = -1,
	};

	hook_doc_build(&b, "create", &in, NULL, NULL);
	ck_assert_str_eq(buf_cstr(&b),
	    "{\"event\":\"create\",\"instance\":{\"instanceId\":\"i-1\",\"orderId\":\"CS1\","
	    "\"orderLineId\":\"CS1-1\",\"state\":\"provisioning\",\"isTest\":true},"
	    "\"order\":null,\"buyer\":null}");
	buf_free(&b);
}
END_TEST

static const char order_answer[] =
    "{\"resultCode\":\"MKT.0000\",\"resultMsg\":\"success\",\"orderInfo\":{"
    "\"orderId\":\"CS1906666666ABCDE\",\"orderType\":\"NEW\",\"createTime\":\"20221118101010\","
    "\"buyerInfo\":{\"customerId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"userName\":\"buyer\"},"
    "\"orderLine\":[{\"orderLineId\":\"CS1906666666ABCDE-000001\",\"chargingMode\":\"PERIOD\","
    "\"expireTime\":\"20231118101010\",\"periodType\":\"year\",\"periodNumber\":1,"
    "\"productInfo\":[{\"productId\":\"OFFI1\",\"skuCode\":\"sku-1\",\"linearValue\":10,"
    "\"productName\":\"SaaS\"}]}]}}";

START_TEST(test_doc_with_order)
{
	struct order_info	 o;
	struct mkt_result	 res;
	struct buf		 b = BUF_INIT;
	struct hook_instance	 in = {
		.instance_id = "i-2", .order_id = "CS1906666666ABCDE",
		.order_line_id = "CS1906666666ABCDE-000001", .state = "provisioning",
		.product_id = "OFFI1", .sku_code = "sku-1", .charging_mode = "PERIOD",
		.expire_ms = 1700302210000,
	};
	struct json		*v;
	const struct json	*order, *line, *product;
	char			 err[128];

	order_info_init(&o);
	ck_assert_int_eq(mkt_parse_order_answer(200, order_answer, strlen(order_answer), &o,
	    &res), MKT_OK);
	hook_doc_build(&b, "create", &in, &o, NULL);
	v = json_parse(b.data, b.len, 16, err, sizeof(err));
	ck_assert_msg(v != NULL, "%s: %s", err, buf_cstr(&b));
	ck_assert_str_eq(json_get_str(json_get(v, "instance"), "expireTime"),
	    "2023-11-18T10:10:10.000Z");
	order = json_get(v, "order");
	ck_assert_str_eq(json_get_str(order, "orderType"), "NEW");
	line = json_get(order, "orderLine")->u.arr.items[0];
	ck_assert_str_eq(json_get_str(line, "periodType"), "year");
	ck_assert_str_eq(json_get(line, "periodNumber")->u.num, "1");
	product = json_get(line, "products")->u.arr.items[0];
	ck_assert_str_eq(json_get_str(product, "skuCode"), "sku-1");
	ck_assert_str_eq(json_get_str(product, "linearValue"), "10");
	ck_assert_str_eq(json_get_str(json_get(v, "buyer"), "userName"), "buyer");
	json_free(v);
	buf_free(&b);
	order_info_free(&o);
}
END_TEST

static const struct {
	const char	*answer;
	bool		 ok;
	const char	*why;	/* a part of the reason */
} app_cases[] = {
	{ "{\"frontEndUrl\":\"https://a\",\"adminUrl\":\"https://a/admin\",\"userName\":\"u\","
	  "\"password\":\"p\",\"memo\":\"m\",\"extra\":1}\n", true, "" },
	{ "{\"frontEndUrl\":\"https://a\"}", true, "" },
	{ "{\"adminUrl\":\"https://a/admin\"}", false, "frontEndUrl: missing" },
	{ "{\"frontEndUrl\":7}", false, "frontEndUrl: must be a string" },
	{ "not json", false, "not JSON" },
	{ "", false, "not JSON" },
	{ "[\"https://a\"]", false, "not a JSON object" },
};

START_TEST(test_app_info)
{
	struct app_info	a;
	char		err[256] = "";
	bool		ok = app_info_parse(app_cases[_i].answer, strlen(app_cases[_i].answer),
			    &a, err, sizeof(err));

	ck_assert_msg(ok == app_cases[_i].ok, "case %d: %s", _i, err);
	if (ok) {
		ck_assert_str_eq(a.front_end_url, "https://a");
		app_info_free(&a);
	} else {
		ck_assert_msg(strstr(err, app_cases[_i].why) != NULL, "case %d: %s", _i, err);
	}
}
END_TEST

START_TEST(test_app_info_too_long)
{
	struct app_info	a;
	char		err[256], answer[1200];

	snprintf(answer, sizeof(answer), "{\"frontEndUrl\":\"https://a\",\"password\":\"%0130d\"}", 0);
	ck_assert(!app_info_parse(answer, strlen(answer), &a, err, sizeof(err)));
	ck_assert_msg(strstr(err, "password: longer than 128") != NULL, "%s", err);
}
END_TEST

START_TEST(test_doc_change)
{
	struct buf		 b = BUF_INIT;
	struct hook_instance	 in = {
		.instance_id = "i-3", .order_id = "CS1", .order_line_id = "CS1-1",
		.state = "active", .expire_ms = -1,
	};
	struct hook_change	 ch = { .scene = "RENEWAL", .order_id = "CS2",
				    .order_line_id = "CS2-1" };

	hook_doc_build(&b, "renew", &in, NULL, &ch);
	ck_assert_str_eq(buf_cstr(&b),
	    "{\"event\":\"renew\",\"instance\":{\"instanceId\":\"i-3\",\"orderId\":\"CS1\","
	    "\"orderLineId\":\"CS1-1\",\"state\":\"active\",\"isTest\":false},"
	    "\"change\":{\"scene\":\"RENEWAL\",\"orderId\":\"CS2\",\"orderLineId\":\"CS2-1\"},"
	    "\"order\":null,\"buyer\":null}");
	buf_free(&b);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("hook_doc", &tc);

	tcase_add_test(tc, test_doc_debug_instance);
	tcase_add_test(tc, test_doc_with_order);
	tcase_add_test(tc, test_doc_change);
	tcase_add_loop_test(tc, test_app_info, 0, (int)(sizeof(app_cases) / sizeof(app_cases[0])));
	tcase_add_test(tc, test_app_info_too_long);
	return unit_run(s);
}
