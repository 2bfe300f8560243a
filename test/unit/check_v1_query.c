/*
 * check_v1_query.c: the V1 query string and the canonical string its
 * authToken signs (spec/kit-and-v1.md §1.1): sorting by name, form
 * decoding ('+' a space, %XX a byte), authToken left out, empty values
 * kept; refusals of malformed queries; and TV-4 end to end, from the query
 * the marketplace sends to the authToken it carries.
 */
#include <check.h>
#include <string.h>

#include "api/v1_query.h"
#include "crypto/sign.h"
#include "unit.h"

#define K_UUID	"9fa6c870-8bb0-4e9b-b71e-4c223300156f"

static const struct {
	const char	*why;
	const char	*query;
	const char	*canonical;
} canon_cases[] = {
	{ "sorted by name", "p1=1&p3=3&p2=2&timeStamp=201706211855321",
	    "p1=1&p2=2&p3=3&timeStamp=201706211855321" },
	{ "authToken left out wherever it is",
	    "b=2&authToken=Eh%2F3Ud%2BR1j%3D&a=1", "a=1&b=2" },
	{ "percent-escapes decoded, not re-escaped",
	    "instanceId=a%2Cb%2Cc&x=%2B%2F%3D", "instanceId=a,b,c&x=+/=" },
	{ "raw '+' is a space", "name=a+b&z=%20", "name=a b&z= " },
	{ "empty values kept, a name alone is empty", "b=&a&c=3", "a=&b=&c=3" },
	{ "empty segments skipped", "&&a=1&&b=2&", "a=1&b=2" },
	{ "byte order: upper case first", "b=1&B=2&a=3&A=4", "A=4&B=2&a=3&b=1" },
	{ "'=' inside a value", "a=x=y", "a=x=y" },
	{ "UTF-8 decoded", "n=%E5%BC%A0%E4%B8%89", "n=\xe5\xbc\xa0\xe4\xb8\x89" },
	{ "only authToken", "authToken=x", "" },
	{ "nothing", "", "" },
};

START_TEST(test_canonical)
{
	struct v1_params ps;
	struct buf	 out = BUF_INIT;
	char		 err[128];

	ck_assert_msg(v1_params_parse(canon_cases[_i].query, &ps, err, sizeof(err)),
	    "%s: %s", canon_cases[_i].why, err);
	v1_canonical(&ps, &out);
	ck_assert_msg(strcmp(buf_cstr(&out), canon_cases[_i].canonical) == 0,
	    "%s: got \"%s\"", canon_cases[_i].why, buf_cstr(&out));
	v1_params_free(&ps);
	buf_free(&out);
}
END_TEST

static const struct {
	const char	*query;
	const char	*err;
} bad_cases[] = {
	{ "a=%2", "a: malformed percent-encoding" },
	{ "a=%zz", "a: malformed percent-encoding" },
	{ "a=x%00y", "a: malformed percent-encoding" },
	{ "%G1=1", "query: malformed percent-encoding in a name" },
	{ "=1", "query: a parameter without a name" },
	{ "a=1&b=2&a=3", "a: given more than once" },
	{ "a=1&a", "a: given more than once" },
};

START_TEST(test_bad)
{
	struct v1_params ps;
	char		 err[128] = "";

	ck_assert(!v1_params_parse(bad_cases[_i].query, &ps, err, sizeof(err)));
	ck_assert_str_eq(err, bad_cases[_i].err);
	ck_assert_uint_eq(ps.n, 0);
}
END_TEST

START_TEST(test_too_many)
{
	struct v1_params ps;
	struct buf	 q = BUF_INIT;
	char		 err[128];
	int		 i;

	for (i = 0; i < V1_PARAMS_MAX; i++)
		buf_printf(&q, "p%d=%d&", i, i);
	ck_assert(v1_params_parse(buf_cstr(&q), &ps, err, sizeof(err)));
	ck_assert_uint_eq(ps.n, V1_PARAMS_MAX);
	ck_assert_str_eq(v1_params_get(&ps, "p7"), "7");
	ck_assert_ptr_null(v1_params_get(&ps, "p"));
	v1_params_free(&ps);
	buf_puts(&q, "one=more");
	ck_assert(!v1_params_parse(buf_cstr(&q), &ps, err, sizeof(err)));
	ck_assert_str_eq(err, "query: too many parameters");
	buf_free(&q);
}
END_TEST

/* kit-and-v1.md TV-4 from the wire: the §4 sample request, values escaped. */
START_TEST(test_tv4_from_the_wire)
{
	static const char query[] =
	    "activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c"
	    "&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156"
	    "&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1"
	    "&timeStamp=20200727073711903"
	    "&authToken=vCU29mKBmOxkxdyR%2FQG2C47McNX91o8IQb6E%2BQFJAXQ%3D";
	struct v1_params ps;
	struct buf	 canon = BUF_INIT;
	char		 err[128], token[SIGN_B64_LEN + 1];

	ck_assert(v1_params_parse(query, &ps, err, sizeof(err)));
	v1_canonical(&ps, &canon);
	ck_assert_str_eq(buf_cstr(&canon),
	    "activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c"
	    "&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156"
	    "&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1"
	    "&timeStamp=20200727073711903");
	sign_v1_token(K_UUID, v1_params_get(&ps, "timeStamp"), canon.data, canon.len, token);
	ck_assert(sign_b64_equal(token, v1_params_get(&ps, "authToken")));
	v1_params_free(&ps);
	buf_free(&canon);
}
END_TEST

static const struct {
	const char	*in;
	bool		 ok;
	const char	*out;
} b64_cases[] = {
	/* kit-and-v1.md §4: the upgrade example's saasExtendParams. */
	{ "W3sibmFtZSI6ImlkTnVtIiwidmFsdWUiOiIzNTIyNTU1NTU1NTU2NTYifSx7Im5hbWUiOiJ1c2VyTmFtZSIs"
	  "InZhbHVlIjoiaHVhd2VpMTIzIn0seyJuYW1lIjoiY3VzdEVtYWlsIiwidmFsdWUiOiIxMjNAaHVhd2VpLmNv"
	  "bSJ9XQ==", true,
	  "[{\"name\":\"idNum\",\"value\":\"352255555555656\"},{\"name\":\"userName\","
	  "\"value\":\"huawei123\"},{\"name\":\"custEmail\",\"value\":\"123@huawei.com\"}]" },
	{ "YQ==", true, "a" },
	{ "Y Q=\r\n=", true, "a" },
	{ "", true, "" },
	{ "YQ", false, NULL },
	{ "Y!==", false, NULL },
	{ "YQ==YQ==", false, NULL },
};

START_TEST(test_b64_decode)
{
	struct buf	out = BUF_INIT;

	ck_assert_int_eq(sign_b64_decode(b64_cases[_i].in, &out), b64_cases[_i].ok);
	if (b64_cases[_i].ok)
		ck_assert_str_eq(buf_cstr(&out), b64_cases[_i].out);
	else
		ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("v1_query", &tc);

	tcase_add_loop_test(tc, test_canonical, 0, (int)NELEM(canon_cases));
	tcase_add_loop_test(tc, test_bad, 0, (int)NELEM(bad_cases));
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_tv4_from_the_wire);
	tcase_add_loop_test(tc, test_b64_decode, 0, (int)NELEM(b64_cases));
	return unit_run(s);
}
