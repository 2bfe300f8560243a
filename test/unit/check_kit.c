/*
 * check_kit.c: the V1 Kit authToken's signed string (kit_v1_payload) from
 * a received body, held against TV-6 and TV-7 of spec/kit-and-v1.md, and
 * the blank-skipping rule of Huawei's sample, and the lists (kit_list):
 * arrays, or strings holding JSON with bare keys (reading 7).
 */
#include <string.h>

#include "api/kit.h"
#include "api/verify.h"
#include "crypto/sign.h"
#include "unit.h"

#define K_UUID	"9fa6c870-8bb0-4e9b-b71e-4c223300156f"

static const struct {
	const char	*src;
	const char	*body;
	const char	*ts;
	const char	*token;
} cases[] = {
	{ "kit-and-v1 TV-6 (tenantSync, doc body order)",
	  "{\"instanceId\":\"huaiweitest123456\",\"orderId\":\"CS1906666666ABCDE\","
	  "\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"tenantCode\":\"huawei\","
	  "\"name\":\"huaiweitest\",\"domainName\":\"https://example.tenantaccount.com\","
	  "\"flag\":1,\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}",
	  "20220413093539534", "KwHUSZ7T5uQwwr4gxRl909YgQYU5VqOK1/QbxE0NDKc=" },
	{ "kit-and-v1 TV-7 (authSync, userList a string)",
	  "{\"instanceId\":\"huaiweitest123456\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\","
	  "\"appId\":\"KSIDJF1234456\",\"userList\":\"[{\\\"userName\\\":\\\"zhangsan01\\\","
	  "\\\"name\\\":\\\"\xe5\xbc\xa0\xe4\xb8\x89\\\",\\\"orgCode\\\":\\\"123456789\\\","
	  "\\\"role\\\":\\\"admin\\\",\\\"enable\\\":\\\"true\\\"}]\","
	  "\"currentSyncTime\":\"20220420114117642\",\"flag\":1,\"testFlag\":0,"
	  "\"timeStamp\":\"20220420114117642\",\"parentCode\":\"  \",\"extra\":null}",
	  "20220420114117642", "x589AruAmBKbMRgG8uCB08K4k9f/HH+X/vnKMGm8HsY=" },
};

START_TEST(test_vectors)
{
	struct json	*v;
	struct buf	 data = BUF_INIT;
	char		 err[128], out[SIGN_B64_LEN + 1];

	v = json_parse(cases[_i].body, strlen(cases[_i].body), 8, err, sizeof(err));
	ck_assert_msg(v != NULL, "%s", err);
	kit_v1_payload(v, true, &data);
	sign_v1_token(K_UUID, cases[_i].ts, data.data, data.len, out);
	ck_assert_msg(strcmp(out, cases[_i].token) == 0, "%s: %s -> %s", cases[_i].src,
	    buf_cstr(&data), out);
	json_free(v);
	buf_free(&data);
}
END_TEST

START_TEST(test_blanks)
{
	static const char body[] = "{\"b\":\"\",\"a\":\" \",\"c\":true,\"d\":[1,{\"x\":2}],"
	    "\"e\":null,\"f\":1.50}";
	struct json	*v;
	struct buf	 b = BUF_INIT;
	char		 err[128];

	v = json_parse(body, strlen(body), 8, err, sizeof(err));
	ck_assert(v != NULL);
	kit_v1_payload(v, true, &b);
	ck_assert_str_eq(buf_cstr(&b), "c=true&d=[1,{\"x\":2}]&f=1.50");
	buf_reset(&b);
	kit_v1_payload(v, false, &b);
	ck_assert_str_eq(buf_cstr(&b), "a= &b=&c=true&d=[1,{\"x\":2}]&f=1.50");
	json_free(v);
	buf_free(&b);
}
END_TEST

static const struct {
	const char	*member;	/* the member's JSON */
	size_t		 max;
	int		 n;		/* items, or -1: refused */
	const char	*err;		/* refused: the message */
} lists[] = {
	{ "[{\"userName\":\"a\"},{\"userName\":\"b\"}]", 5, 2, NULL },
	{ "\"[{\\\"userName\\\":\\\"a\\\"}]\"", 5, 1, NULL },
	{ "\"[{userName:\\\"a\\\", org_code :\\\"b:c\\\"}]\"", 5, 1, NULL },
	{ "\"[]\"", 5, 0, NULL },
	{ "null", 5, -1, "userList: missing" },
	{ "{\"a\":1}", 5, -1, "userList: must be a list" },
	{ "\"{a:1}\"", 5, -1, "userList: must be a list" },
	{ "\"[{a:1},]\"", 5, -1, NULL },
	{ "[1,2,3]", 2, -1, "userList: more than 2 items" },
	{ "42", 5, -1, "userList: must be a list" },
};

START_TEST(test_list)
{
	struct json		*member, *owned = NULL;
	const struct json	*list;
	char			 err[200] = "";

	member = json_parse(lists[_i].member, strlen(lists[_i].member), 8, err, sizeof(err));
	ck_assert_msg(member != NULL, "%s: %s", lists[_i].member, err);
	list = kit_list(member, "userList", lists[_i].max, &owned, err, sizeof(err));
	if (lists[_i].n >= 0) {
		ck_assert_msg(list != NULL, "%s: %s", lists[_i].member, err);
		ck_assert_int_eq(list->type, JSON_ARRAY);
		ck_assert_int_eq((int)list->u.arr.n, lists[_i].n);
	} else {
		ck_assert(list == NULL);
		if (lists[_i].err != NULL)
			ck_assert_str_eq(err, lists[_i].err);
		else
			ck_assert(strncmp(err, "userList: not a JSON list (", 27) == 0);
	}
	json_free(owned);
	json_free(member);
}
END_TEST

/* 2026-12-03T04:00:00Z: 12:00 in UTC+8, the stamps' zone. */
#define NOW_MS	1796270400000LL

static const struct {
	const char	*json;		/* the member as sent */
	const char	*want;		/* the stamp kept, or NULL: refused */
} stamps[] = {
	{ "\"20261203120000000\"", "20261203120000000" },
	{ "\"20261203120000\"", "20261203120000000" },		/* 14 digits, padded */
	{ "20240229235959999", "20240229235959999" },		/* a number; leap day */
	{ "\"20261204120100000\"", "20261204120100000" },	/* a day + the window ahead */
	{ "\"20261204120101000\"", NULL },			/* a second more */
	{ "\"99991399999999999\"", NULL },			/* month 13, hour 99 */
	{ "\"99991231235959999\"", NULL },			/* real, but years ahead */
	{ "\"00000000000000000\"", NULL },
	{ "\"20260230120000000\"", NULL },			/* 30 February */
	{ "\"20261203240000000\"", NULL },			/* hour 24 */
	{ "\"20261203126000000\"", NULL },			/* minute 60 */
	{ "\"20261203120060000\"", NULL },			/* second 60 */
	{ "\"2026120312000000\"", NULL },			/* 16 digits */
	{ "\"2026120312000000x\"", NULL },
	{ "\"-2026120312000000\"", NULL },
	{ "true", NULL },
};

START_TEST(test_stamp)
{
	struct json	*v;
	char		 err[64], out[18];
	const char	*why;

	v = json_parse(stamps[_i].json, strlen(stamps[_i].json), 8, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	why = kit_stamp(v, NOW_MS, 60, out);
	if (stamps[_i].want == NULL) {
		ck_assert_msg(why != NULL, "%s accepted", stamps[_i].json);
	} else {
		ck_assert_msg(why == NULL, "%s: %s", stamps[_i].json, why);
		ck_assert_str_eq(out, stamps[_i].want);
	}
	json_free(v);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("kit", &tc);

	tcase_add_loop_test(tc, test_vectors, 0, (int)NELEM(cases));
	tcase_add_test(tc, test_blanks);
	tcase_add_loop_test(tc, test_list, 0, (int)NELEM(lists));
	tcase_add_loop_test(tc, test_stamp, 0, (int)NELEM(stamps));
	return unit_run(s);
}
