/*
 * check_redact.c: what the audit log keeps of a request body (api/redact.c).
 *
 * What is redacted is a promise to the buyer and the seller: no credential
 * and no contact data of the buyer reaches callback_log.body in clear.
 * The first table walks every dialect's members that carry one, as the
 * field tables and the spec name them (spec/v2-basic.md §3, §3.9;
 * spec/kit-and-v1.md §2, §3): V2 basic (a password, the full-body
 * variant's buyerInfo), V1 basic (mobilePhone and email as received, next
 * to their sealed copies, which stay), Kit V2 and V1 (clientSecret, a
 * user's email, also inside extension). Each row is a body and the exact
 * audit text; a row's secret values all contain "PLAIN", which must not
 * appear in the output. The second table holds every secret name (in any
 * case), the value types, and the near-misses that must stay readable
 * (skuCode is no "sk", emailSealed no "email"). The third cuts bodies at
 * a byte limit: on a character boundary, and never showing a secret.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "api/redact.h"
#include "common/buf.h"
#include "common/json.h"
#include "unit.h"

#define MAXD	16
#define BIG	65536

static struct json *
parse(const char *text)
{
	char		 err[128];
	struct json	*v = json_parse(text, strlen(text), MAXD, err, sizeof(err));

	ck_assert_msg(v != NULL, "refused %s: %s", text, err);
	return v;
}

static void
redact_text(const char *text, size_t max, struct buf *out)
{
	struct json	*v = parse(text);

	redact_json(v, out, max);
	json_free(v);
}

/* Every dialect's bodies, as the adapters hand them to redact_json. */
static const struct {
	const char	*what;
	const char	*body;
	const char	*audit;
} dialect_cases[] = {
	/* V2 basic: only ids are in the field table; anything else is kept but secrets. */
	{ "v2 newInstance with a stray password",
	  "{\"activity\":\"newInstance\",\"orderId\":\"CS1\",\"orderLineId\":\"CS1-000001\","
	  "\"businessId\":\"b-1\",\"testFlag\":\"1\",\"password\":\"PLAIN-hunter2\"}",
	  "{\"activity\":\"newInstance\",\"orderId\":\"CS1\",\"orderLineId\":\"CS1-000001\","
	  "\"businessId\":\"b-1\",\"testFlag\":\"1\",\"password\":\"***\"}" },
	{ "v2 newInstance, the full-body variant's buyerInfo (§3.9)",
	  "{\"activity\":\"newInstance\",\"buyerInfo\":{\"customerId\":\"c-1\","
	  "\"customerName\":\"ACME\",\"userId\":\"u-1\",\"userName\":\"buyer\","
	  "\"mobilePhone\":\"PLAIN-13800000000\",\"email\":\"PLAIN-b@example.com\"},"
	  "\"orderInfo\":[{\"orderId\":\"CS2\",\"orderAmount\":12.78,"
	  "\"productInfo\":[{\"skuCode\":\"sku-1\",\"linearValue\":20}]}]}",
	  "{\"activity\":\"newInstance\",\"buyerInfo\":{\"customerId\":\"c-1\","
	  "\"customerName\":\"ACME\",\"userId\":\"u-1\",\"userName\":\"buyer\","
	  "\"mobilePhone\":\"***\",\"email\":\"***\"},"
	  "\"orderInfo\":[{\"orderId\":\"CS2\",\"orderAmount\":12.78,"
	  "\"productInfo\":[{\"skuCode\":\"sku-1\",\"linearValue\":20}]}]}" },
	{ "v2 refreshLicenseCode: the licence code is no secret",
	  "{\"activity\":\"refreshLicenseCode\",\"license\":\"LIC-1\",\"scene\":\"RENEWAL\","
	  "\"orderId\":\"CS3\",\"orderLineId\":\"CS3-1\",\"expireTime\":\"20300101000000\"}",
	  "{\"activity\":\"refreshLicenseCode\",\"license\":\"LIC-1\",\"scene\":\"RENEWAL\","
	  "\"orderId\":\"CS3\",\"orderLineId\":\"CS3-1\",\"expireTime\":\"20300101000000\"}" },
	/*
	 * V1 basic: the query's parameters as strings (api/v1_basic.c
	 * params_tree): the contact fields as received (ciphertext) go, their
	 * sealed copies stay (unreadable without the master key).
	 */
	{ "v1 newInstance: mobilePhone and email, with their sealed copies",
	  "{\"activity\":\"newInstance\",\"orderId\":\"CS4\",\"productId\":\"p-1\","
	  "\"businessId\":\"b-4\",\"customerId\":\"c-4\",\"userName\":\"buyer\","
	  "\"mobilePhone\":\"PLAIN-cipher-phone\",\"mobilePhoneSealed\":\"s1:AAAA\","
	  "\"email\":\"PLAIN-cipher-mail\",\"emailSealed\":\"s1:BBBB\",\"testFlag\":\"1\","
	  "\"timeStamp\":\"20240101000000000\"}",
	  "{\"activity\":\"newInstance\",\"orderId\":\"CS4\",\"productId\":\"p-1\","
	  "\"businessId\":\"b-4\",\"customerId\":\"c-4\",\"userName\":\"buyer\","
	  "\"mobilePhone\":\"***\",\"mobilePhoneSealed\":\"s1:AAAA\","
	  "\"email\":\"***\",\"emailSealed\":\"s1:BBBB\",\"testFlag\":\"1\","
	  "\"timeStamp\":\"20240101000000000\"}" },
	{ "v1: an authToken that reaches the tree is masked too",
	  "{\"activity\":\"queryInstance\",\"instanceId\":\"i-1\","
	  "\"authToken\":\"PLAIN-Eh/3Ud+R=\"}",
	  "{\"activity\":\"queryInstance\",\"instanceId\":\"i-1\",\"authToken\":\"***\"}" },
	{ "v1 newInstance: saasExtendParams decoded, a password inside it",
	  "{\"activity\":\"newInstance\",\"saasExtendParams\":[{\"name\":\"region\","
	  "\"value\":\"cn\"},{\"name\":\"x\",\"password\":\"PLAIN-p\"}]}",
	  "{\"activity\":\"newInstance\",\"saasExtendParams\":[{\"name\":\"region\","
	  "\"value\":\"cn\"},{\"name\":\"x\",\"password\":\"***\"}]}" },
	/* Kit V2 and V1 share the member names. */
	{ "kit singleAppAuthSync: clientSecret (RSA ciphertext or plain debug value)",
	  "{\"tenantId\":\"t-1\",\"instanceId\":\"i-1\",\"appId\":\"a-1\","
	  "\"clientId\":\"client-1\",\"clientSecret\":\"PLAIN-b64==\",\"flag\":1,"
	  "\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}",
	  "{\"tenantId\":\"t-1\",\"instanceId\":\"i-1\",\"appId\":\"a-1\","
	  "\"clientId\":\"client-1\",\"clientSecret\":\"***\",\"flag\":1,"
	  "\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}" },
	{ "kit authSync: each user's email and mobile, also inside extension",
	  "{\"tenantId\":\"t-1\",\"appId\":\"a-1\",\"currentSyncTime\":\"20220413093539534\","
	  "\"userList\":[{\"userName\":\"u1\",\"name\":\"Wang\",\"role\":\"admin\","
	  "\"email\":\"PLAIN-u1@example.com\",\"mobile\":\"PLAIN-13900000000\",\"employeeCode\":\"E1\","
	  "\"extension\":{\"entryDate\":\"2020-01-01\",\"email\":\"PLAIN-u1@x\"}},"
	  "{\"userName\":\"u2\",\"email\":\"\",\"enable\":\"true\"}],"
	  "\"flag\":1,\"testFlag\":0}",
	  "{\"tenantId\":\"t-1\",\"appId\":\"a-1\",\"currentSyncTime\":\"20220413093539534\","
	  "\"userList\":[{\"userName\":\"u1\",\"name\":\"Wang\",\"role\":\"admin\","
	  "\"email\":\"***\",\"mobile\":\"***\",\"employeeCode\":\"E1\","
	  "\"extension\":{\"entryDate\":\"2020-01-01\",\"email\":\"***\"}},"
	  "{\"userName\":\"u2\",\"email\":\"***\",\"enable\":\"true\"}],"
	  "\"flag\":1,\"testFlag\":0}" },
	{ "kit tenantSync: nothing secret, nothing changed",
	  "{\"instanceId\":\"i-1\",\"orderId\":\"CS5\",\"tenantId\":\"t-1\","
	  "\"tenantCode\":\"huawei\",\"name\":\"ACME\",\"domainName\":\"https://x.example\","
	  "\"flag\":1,\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}",
	  "{\"instanceId\":\"i-1\",\"orderId\":\"CS5\",\"tenantId\":\"t-1\","
	  "\"tenantCode\":\"huawei\",\"name\":\"ACME\",\"domainName\":\"https://x.example\","
	  "\"flag\":1,\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}" },
	{ "kit allOrgSync: departments kept whole",
	  "{\"tenantId\":\"t-1\",\"orgList\":[{\"orgCode\":\"10000\",\"orgName\":\"\\u5f00\","
	  "\"parentCode\":\"\"}],\"flag\":1,\"testFlag\":0}",
	  "{\"tenantId\":\"t-1\",\"orgList\":[{\"orgCode\":\"10000\",\"orgName\":\"\xe5\xbc\x80\","
	  "\"parentCode\":\"\"}],\"flag\":1,\"testFlag\":0}" },
};

START_TEST(test_dialects)
{
	struct buf	out = BUF_INIT;

	redact_text(dialect_cases[_i].body, BIG, &out);
	ck_assert_msg(strcmp(buf_cstr(&out), dialect_cases[_i].audit) == 0,
	    "%s:\n got  %s\n want %s", dialect_cases[_i].what, buf_cstr(&out),
	    dialect_cases[_i].audit);
	ck_assert_msg(strstr(buf_cstr(&out), "PLAIN") == NULL, "%s: a secret is kept",
	    dialect_cases[_i].what);
	buf_free(&out);
}
END_TEST

/* One member each: its name, its value, and what the audit keeps of it. */
static const struct {
	const char	*member;
	const char	*kept;
} member_cases[] = {
	/* Credentials and contact data, in any case. */
	{ "\"password\":\"PLAIN\"", "\"password\":\"***\"" },
	{ "\"clientSecret\":\"PLAIN\"", "\"clientSecret\":\"***\"" },
	{ "\"client_secret\":\"PLAIN\"", "\"client_secret\":\"***\"" },
	{ "\"accessKey\":\"PLAIN\"", "\"accessKey\":\"***\"" },
	{ "\"secretKey\":\"PLAIN\"", "\"secretKey\":\"***\"" },
	{ "\"secret\":\"PLAIN\"", "\"secret\":\"***\"" },
	{ "\"token\":\"PLAIN\"", "\"token\":\"***\"" },
	{ "\"authToken\":\"PLAIN\"", "\"authToken\":\"***\"" },
	{ "\"mobilePhone\":\"PLAIN\"", "\"mobilePhone\":\"***\"" },
	/* A Kit user's phone number (authSync userList[].mobile). */
	{ "\"mobile\":\"PLAIN\"", "\"mobile\":\"***\"" },
	{ "\"Mobile\":\"PLAIN\"", "\"Mobile\":\"***\"" },
	{ "\"email\":\"PLAIN\"", "\"email\":\"***\"" },
	{ "\"sk\":\"PLAIN\"", "\"sk\":\"***\"" },
	{ "\"PASSWORD\":\"PLAIN\"", "\"PASSWORD\":\"***\"" },
	{ "\"ClientSecret\":\"PLAIN\"", "\"ClientSecret\":\"***\"" },
	{ "\"EMail\":\"PLAIN\"", "\"EMail\":\"***\"" },
	{ "\"SK\":\"PLAIN\"", "\"SK\":\"***\"" },
	/* Whatever the value's type: only null says nothing and stays. */
	{ "\"password\":12345", "\"password\":\"***\"" },
	{ "\"password\":true", "\"password\":\"***\"" },
	{ "\"password\":[\"PLAIN\",\"PLAIN\"]", "\"password\":\"***\"" },
	{ "\"clientSecret\":{\"v\":\"PLAIN\"}", "\"clientSecret\":\"***\"" },
	{ "\"email\":\"\"", "\"email\":\"***\"" },
	{ "\"email\":null", "\"email\":null" },
	/* Near-misses: names that only look like a secret's stay readable. */
	{ "\"skuCode\":\"sku-1\"", "\"skuCode\":\"sku-1\"" },
	{ "\"emailSealed\":\"s1:AA\"", "\"emailSealed\":\"s1:AA\"" },
	{ "\"mobilePhoneSealed\":\"s1:AA\"", "\"mobilePhoneSealed\":\"s1:AA\"" },
	{ "\"passwordHint\":\"hint\"", "\"passwordHint\":\"hint\"" },
	{ "\"clientId\":\"c-1\"", "\"clientId\":\"c-1\"" },
	{ "\"userName\":\"buyer\"", "\"userName\":\"buyer\"" },
	{ "\"tokens\":2", "\"tokens\":2" },
	/* A secret-looking value under a plain name is the seller's data. */
	{ "\"memo\":\"password=x\"", "\"memo\":\"password=x\"" },
};

START_TEST(test_members)
{
	struct buf	out = BUF_INIT;
	char		in[256], want[256];

	snprintf(in, sizeof(in), "{\"a\":1,%s,\"z\":[{%s}]}", member_cases[_i].member,
	    member_cases[_i].member);
	snprintf(want, sizeof(want), "{\"a\":1,%s,\"z\":[{%s}]}", member_cases[_i].kept,
	    member_cases[_i].kept);
	redact_text(in, BIG, &out);
	ck_assert_msg(strcmp(buf_cstr(&out), want) == 0, "%s:\n got  %s\n want %s",
	    member_cases[_i].member, buf_cstr(&out), want);
	buf_free(&out);
}
END_TEST

/* Cut at max bytes of output, then "...(cut)"; appended after what out held. */
static const struct {
	const char	*body;
	size_t		 max;
	const char	*audit;
} cut_cases[] = {
	{ "{\"a\":\"bcd\"}", 11, "{\"a\":\"bcd\"}" },
	{ "{\"a\":\"bcd\"}", 10, "{\"a\":\"bcd\"...(cut)" },
	{ "{\"a\":\"bcd\"}", 0, "...(cut)" },
	/* é is two bytes: never half of one. */
	{ "{\"a\":\"\xc3\xa9\xc3\xa9\"}", 8, "{\"a\":\"\xc3\xa9...(cut)" },
	{ "{\"a\":\"\xc3\xa9\xc3\xa9\"}", 9, "{\"a\":\"\xc3\xa9...(cut)" },
	{ "{\"a\":\"\xc3\xa9\xc3\xa9\"}", 10, "{\"a\":\"\xc3\xa9\xc3\xa9...(cut)" },
	/* 开 is three bytes. */
	{ "{\"a\":\"\xe5\xbc\x80\"}", 7, "{\"a\":\"...(cut)" },
	{ "{\"a\":\"\xe5\xbc\x80\"}", 8, "{\"a\":\"...(cut)" },
	/* The cut is taken of the redacted text: no secret shows through it. */
	{ "{\"password\":\"PLAIN-hunter2\",\"b\":1}", 15, "{\"password\":\"**...(cut)" },
	{ "{\"password\":\"PLAIN-hunter2\",\"b\":1}", 40, "{\"password\":\"***\",\"b\":1}" },
};

START_TEST(test_cut)
{
	struct buf	out = BUF_INIT;
	const char	*text;

	buf_puts(&out, "prefix:");
	redact_text(cut_cases[_i].body, cut_cases[_i].max, &out);
	text = buf_cstr(&out);
	ck_assert_msg(strncmp(text, "prefix:", 7) == 0, "case %d: what out held is gone", _i);
	ck_assert_msg(strcmp(text + 7, cut_cases[_i].audit) == 0, "case %d:\n got  %s\n want %s",
	    _i, text + 7, cut_cases[_i].audit);
	ck_assert_msg(strstr(text, "PLAIN") == NULL, "case %d: a secret is kept", _i);
	buf_free(&out);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("redact", &tc);

	tcase_add_loop_test(tc, test_dialects, 0, NELEM(dialect_cases));
	tcase_add_loop_test(tc, test_members, 0, NELEM(member_cases));
	tcase_add_loop_test(tc, test_cut, 0, NELEM(cut_cases));
	return unit_run(s);
}
