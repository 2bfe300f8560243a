/*
 * check_apig.c: the APIG SDK-HMAC-SHA256 signer and verifier, against the
 * vectors of spec/outbound.md §2.9 (A, B and C published, D and E computed
 * by the spec's authors) and every apig_sdk_hmac_sha256 entry of
 * spec/vectors.json; the canonicalisation rules of §2.2 one by one; and
 * the verifier's refusals (§2.10) with the gateway error each one maps to.
 *
 * Each row names where its values come from; a vector printed in several
 * places is one row naming all of them.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "crypto/apig.h"
#include "crypto/sign.h"
#include "unit.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AK_A	"QTWAOYTTINDUT2QVKYUC"
#define SK_A	"MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
#define USAGE_BODY "{\"usage_records\":[{\"begin_time\":\"20220809T080000Z\",\"end_time\":\"20220809T090000Z\",\"instance_id\":\"7f141bf1-aec8-4859-8323-fb3a8ad50721\",\"metering_sn\":\"a1b2c3d4-0001\",\"record_time\":\"20220809T091000Z\",\"usage_value\":\"99\"}]}"

#define MAXH	8

static const struct {
	const char	*src;
	const char	*method, *path, *query;
	struct apig_header headers[MAXH];	/* ends at a NULL name */
	const char	*body;
	const char	*ak, *sk;
	const char	*canonical;	/* whole canonical request, NULL if not printed */
	const char	*canonical_sha;	/* NULL if not printed */
	const char	*signature;
	const char	*authorization;	/* NULL if not printed */
} vectors[] = {
	{ "outbound §2.9 A (official signing guide); vectors.json apig_sdk_hmac_sha256[0]",
	  "GET", "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
	  "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
	  { { "content-type", "application/json" },
	    { "host", "service.region.example.com" },
	    { "x-sdk-date", "20191115T033655Z" } },
	  "", AK_A, SK_A,
	  "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n"
	  "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n"
	  "content-type:application/json\nhost:service.region.example.com\n"
	  "x-sdk-date:20191115T033655Z\n\ncontent-type;host;x-sdk-date\n" EMPTY_SHA,
	  "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a",
	  "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe",
	  "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe" },
	/* Header names as the gem sends them: the signer lower-cases them. */
	{ "outbound §2.9 B (Ruby gem, marketplace host); vectors.json apig_sdk_hmac_sha256[1]",
	  "POST", "/api/mkp-openapi-public/global/v1/license/activate", "",
	  { { "x-stage", "RELEASE" },
	    { "X-Sdk-Date", "20240317T144237Z" },
	    { "Content-Type", "application/json" },
	    { "Host", "mkt.myhuaweicloud.com" } },
	  "", "test", "123",
	  "POST\n/api/mkp-openapi-public/global/v1/license/activate/\n\n"
	  "content-type:application/json\nhost:mkt.myhuaweicloud.com\n"
	  "x-sdk-date:20240317T144237Z\nx-stage:RELEASE\n\n"
	  "content-type;host;x-sdk-date;x-stage\n" EMPTY_SHA,
	  "9a33b07351104f6c775075faa7dc0db58ec18bc532feaa8fd0b8fcf7990b1a9e",
	  "77595ad624b6e4e49990b8c4e84bf1c287457fca61069c4e60b9b6765b52053d",
	  NULL },
	{ "outbound §2.9 C (huaweicloud-sdk-go-v3 signer_test); vectors.json apig_sdk_hmac_sha256[2]",
	  "GET", "/path", "limit=1",
	  { { "X-Sdk-Date", "20060102T150405Z" } },
	  "", "AccessKey", "SecretKey",
	  "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n" EMPTY_SHA,
	  NULL,
	  "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
	  "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624" },
	{ "outbound §2.9 D (usage push, self-computed) with the §1.6 body",
	  "POST", "/api/mkp-openapi-public/global/v1/isv/usage-data", "",
	  { { "content-type", "application/json" },
	    { "host", "mkt.myhuaweicloud.com" },
	    { "nonce", "6c63c221-1f6b-4141-8ff4-22f5dfe82b65" },
	    { "signature", "S9/njFhs6ZY2gTBES91Ex7hoIKwIZNzYf5/iFNnyFaA=" },
	    { "ts", "1709690865879" },
	    { "x-sdk-date", "20240306T020745Z" } },
	  USAGE_BODY, AK_A, SK_A, NULL,
	  "b78b981050ab116753a75418f0a93720ffad237c5a6253dac68fd3d333d624b3",
	  "449c2213654ec0c7ab379bf92bebc3575759b7f697953769fabae4d1d0992878",
	  NULL },
	{ "outbound §2.9 E (order query, self-computed)",
	  "GET", "/api/mkp-openapi-public/global/v1/order/query",
	  "orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000001",
	  { { "content-type", "application/json" },
	    { "host", "mkt.myhuaweicloud.com" },
	    { "x-sdk-date", "20241121T090846Z" } },
	  "", AK_A, SK_A, NULL,
	  "f09f23d0c427a9ef807495d3564e420f8b8fa65a42da38d717322ce29df91e46",
	  "e37fbe6603335fd67eeca9ab532dc1c364f45d577107a4c42890630354aeed06",
	  NULL },
};

static size_t
count_headers(const struct apig_header *h)
{
	size_t	n = 0;

	while (n < MAXH && h[n].name != NULL)
		n++;
	return n;
}

static void
vector_request(int i, struct apig_request *req, struct apig_header *hdrs, size_t *nh)
{
	*nh = count_headers(vectors[i].headers);
	memcpy(hdrs, vectors[i].headers, *nh * sizeof(*hdrs));
	memset(req, 0, sizeof(*req));
	req->method = vectors[i].method;
	req->path = vectors[i].path;
	req->query = vectors[i].query;
	req->headers = hdrs;
	req->nheaders = *nh;
	req->body = vectors[i].body;
	req->body_len = strlen(vectors[i].body);
}

static const char *
lookup_one(const char *ak, void *arg)
{
	const char *const *pair = arg;	/* { ak, sk } */

	return strcmp(ak, pair[0]) == 0 ? pair[1] : NULL;
}

START_TEST(test_vectors)
{
	const char		*src = vectors[_i].src;
	struct apig_header	 hdrs[MAXH + 1];
	struct apig_request	 req;
	struct buf		 canonical = BUF_INIT, auth = BUF_INIT, msg = BUF_INIT;
	char			 why[200], want[512], hash[65], ak[64];
	const char		*pair[2] = { vectors[_i].ak, vectors[_i].sk };
	size_t			 nh;
	int64_t			 now;

	vector_request(_i, &req, hdrs, &nh);
	ck_assert_msg(apig_canonical_request(&req, NULL, &canonical, why, sizeof(why)),
	    "%s: %s", src, why);
	if (vectors[_i].canonical != NULL)
		ck_assert_msg(strcmp(buf_cstr(&canonical), vectors[_i].canonical) == 0,
		    "%s: canonical request\n%s", src, buf_cstr(&canonical));
	if (vectors[_i].canonical_sha != NULL) {
		sign_sha256_hex(canonical.data, canonical.len, hash);
		ck_assert_msg(strcmp(hash, vectors[_i].canonical_sha) == 0,
		    "%s: canonical hash %s", src, hash);
	}

	ck_assert_msg(apig_sign(&req, vectors[_i].ak, vectors[_i].sk, &auth, why, sizeof(why)),
	    "%s: %s", src, why);
	if (vectors[_i].authorization != NULL)
		ck_assert_str_eq(buf_cstr(&auth), vectors[_i].authorization);
	snprintf(want, sizeof(want), "Signature=%s", vectors[_i].signature);
	ck_assert_msg(strstr(buf_cstr(&auth), want) != NULL, "%s: got %s", src, buf_cstr(&auth));
	ck_assert_msg(strncmp(buf_cstr(&auth), "SDK-HMAC-SHA256 Access=", 23) == 0, "%s", src);

	/* The verifier accepts what the signer made, at the signing time. */
	hdrs[nh].name = "Authorization";
	hdrs[nh].value = buf_cstr(&auth);
	req.nheaders = nh + 1;
	{
		const char *d = strstr(buf_cstr(&canonical), "x-sdk-date:") + 11;
		char date[APIG_DATE_LEN + 1];

		memcpy(date, d, APIG_DATE_LEN);
		date[APIG_DATE_LEN] = '\0';
		ck_assert(apig_parse_date(date, &now));
	}
	ck_assert_msg(apig_verify(&req, now, lookup_one, pair, ak, sizeof(ak), &msg) == APIG_OK,
	    "%s: %s", src, buf_cstr(&msg));
	ck_assert_str_eq(ak, vectors[_i].ak);

	buf_free(&canonical);
	buf_free(&auth);
	buf_free(&msg);
}
END_TEST

/* --- X-Sdk-Date ----------------------------------------------------------- */

static const struct {
	const char	*text;
	bool		 ok;
	int64_t		 ms;
} date_cases[] = {
	{ "20191115T033655Z", true, 1573789015000LL },
	{ "20060102T150405Z", true, 1136214245000LL },
	{ "19700101T000000Z", true, 0 },
	{ "20240229T235959Z", true, 1709251199000LL },
	{ "20230229T000000Z", false, 0 },	/* not a leap year */
	{ "20191115T033655", false, 0 },
	{ "20191115 033655Z", false, 0 },
	{ "20191115T033655z", false, 0 },
	{ "20191115T243655Z", false, 0 },
	{ "20191115T033655Z ", false, 0 },
	{ "2019-11-15T03:36:55Z", false, 0 },
	{ "", false, 0 },
};

START_TEST(test_date)
{
	char	out[APIG_DATE_LEN + 1];
	int64_t	ms = -1;

	ck_assert_msg(apig_parse_date(date_cases[_i].text, &ms) == date_cases[_i].ok,
	    "%s", date_cases[_i].text);
	if (!date_cases[_i].ok)
		return;
	ck_assert_int_eq(ms, date_cases[_i].ms);
	apig_format_date(ms + 999, out);	/* milliseconds are dropped */
	ck_assert_str_eq(out, date_cases[_i].text);
}
END_TEST

/* --- canonicalisation rules (§2.2) ---------------------------------------- */

static const struct {
	const char	*src;
	const char	*path, *query;
	bool		 ok;
	const char	*uri, *cquery;	/* the canonical URI and query lines */
} canon_cases[] = {
	{ "§2.2 empty path is /", "", "", true, "/", "" },
	{ "§2.2 NULL path and query", NULL, NULL, true, "/", "" },
	{ "§2.2 trailing / kept, not doubled", "/v1/x/", "", true, "/v1/x/", "" },
	{ "§2.2 segments re-encoded after decoding", "/a%20b/c d/%7e~", "", true,
	  "/a%20b/c%20d/~~/", "" },
	{ "Go signer: an encoded / is a separator once decoded", "/a%2Fb", "", true,
	  "/a/b/", "" },
	{ "§2.2 reserved bytes in a segment", "/x:y@z", "", true, "/x%3Ay%40z/", "" },
	{ "§2.2 UTF-8 bytes, upper-case hex", "/\xe4\xb8\x80", "", true, "/%E4%B8%80/", "" },
	{ "bad escape in the path", "/a%zz", "", false, NULL, NULL },
	{ "truncated escape in the path", "/a%4", "", false, NULL, NULL },
	{ "Go signer_test query: sorted keys, sorted repeated values, escapes",
	  "/", "test=%E4%B8%80%20(%26%3D%3F!%23%25.*)&multi=3&path=/tmp/123&limit=1"
	  "&multi=1&enable=true&multi=2", true, "/",
	  "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123"
	  "&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29" },
	{ "§2.2 a key without value is k=", "/", "b&a=1", true, "/", "a=1&b=" },
	{ "§2.2 k= and k are the same", "/", "k=&j", true, "/", "j=&k=" },
	{ "empty pieces are skipped", "/", "&a=1&&b=2&", true, "/", "a=1&b=2" },
	{ "only the first = splits", "/", "a=b=c", true, "/", "a=b%3Dc" },
	{ "+ is a literal + (RFC 3986), sent as %2B", "/", "q=a+b", true, "/", "q=a%2Bb" },
	{ "lower-case escapes become upper-case", "/", "q=%c3%a9", true, "/", "q=%C3%A9" },
	{ "byte order: upper case sorts before lower", "/", "b=1&B=2&a=3", true, "/",
	  "B=2&a=3&b=1" },
	{ "bad escape in the query", "/", "a=%g1", false, NULL, NULL },
	{ "truncated escape in the query", "/", "a=1%", false, NULL, NULL },
};

START_TEST(test_canon)
{
	struct apig_header	h[1] = { { "X-Sdk-Date", "20240101T000000Z" } };
	struct apig_request	req = { "get", canon_cases[_i].path, canon_cases[_i].query,
				    h, 1, NULL, 0 };
	struct buf		out = BUF_INIT, want = BUF_INIT;
	char			why[200];
	bool			ok;

	ok = apig_canonical_request(&req, NULL, &out, why, sizeof(why));
	ck_assert_msg(ok == canon_cases[_i].ok, "%s: %s", canon_cases[_i].src,
	    ok ? buf_cstr(&out) : why);
	if (ok) {
		buf_printf(&want, "GET\n%s\n%s\nx-sdk-date:20240101T000000Z\n\nx-sdk-date\n%s",
		    canon_cases[_i].uri, canon_cases[_i].cquery, EMPTY_SHA);
		ck_assert_msg(strcmp(buf_cstr(&out), buf_cstr(&want)) == 0, "%s: got\n%s",
		    canon_cases[_i].src, buf_cstr(&out));
	}
	buf_free(&out);
	buf_free(&want);
}
END_TEST

/* Header rules: trimming, case, the content-hash override, refusals. */
START_TEST(test_canon_headers)
{
	struct apig_header	h[] = {
		{ "X-Sdk-Date", " \t20240101T000000Z \r\n" },
		{ "HOST", "example.com:8443" },
		{ "X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD" },
	};
	struct apig_header	dup[] = {
		{ "x-sdk-date", "20240101T000000Z" },
		{ "X-SDK-DATE", "20240101T000000Z" },
	};
	struct apig_request	req = { "POST", "/p", "", h, 3, "body", 4 };
	struct buf		out = BUF_INIT, auth = BUF_INIT;
	char			why[200];

	ck_assert(apig_canonical_request(&req, NULL, &out, why, sizeof(why)));
	ck_assert_str_eq(buf_cstr(&out), "POST\n/p/\n\nhost:example.com:8443\n"
	    "x-sdk-content-sha256:UNSIGNED-PAYLOAD\nx-sdk-date:20240101T000000Z\n\n"
	    "host;x-sdk-content-sha256;x-sdk-date\nUNSIGNED-PAYLOAD");

	/* The verifier's list decides which headers count, whatever its case. */
	buf_reset(&out);
	ck_assert(apig_canonical_request(&req, "X-Sdk-Date", &out, why, sizeof(why)));
	ck_assert_str_eq(buf_cstr(&out), "POST\n/p/\n\nx-sdk-date:20240101T000000Z\n\n"
	    "x-sdk-date\nUNSIGNED-PAYLOAD");

	buf_reset(&out);
	ck_assert(!apig_canonical_request(&req, "host;x-stage", &out, why, sizeof(why)));
	ck_assert_str_eq(why, "signed header x-stage is missing");
	buf_reset(&out);
	ck_assert(!apig_canonical_request(&req, "host;HOST", &out, why, sizeof(why)));
	ck_assert_str_eq(why, "header host signed twice");
	buf_reset(&out);
	ck_assert(!apig_canonical_request(&req, "host;;x-sdk-date", &out, why, sizeof(why)));
	buf_reset(&out);
	ck_assert(!apig_canonical_request(&req, "", &out, why, sizeof(why)));

	/* The same header twice in the request cannot be signed. */
	req.headers = dup;
	req.nheaders = 2;
	ck_assert(!apig_sign(&req, "ak", "sk", &auth, why, sizeof(why)));
	/* Nor a request without X-Sdk-Date, or with a bad one. */
	req.headers = &h[1];
	req.nheaders = 1;
	ck_assert(!apig_sign(&req, "ak", "sk", &auth, why, sizeof(why)));
	ck_assert_str_eq(why, "exactly one X-Sdk-Date header is needed");
	dup[0].value = "2024-01-01";
	req.headers = dup;
	req.nheaders = 1;
	ck_assert(!apig_sign(&req, "ak", "sk", &auth, why, sizeof(why)));
	ck_assert_str_eq(why, "X-Sdk-Date is not yyyyMMddTHHmmssZ");
	ck_assert_uint_eq(auth.len, 0);
	buf_free(&out);
	buf_free(&auth);
}
END_TEST

/* --- verification refusals (§2.10) ----------------------------------------- */

/* Vector E, whose Authorization is known. */
#define E_SIG	"e37fbe6603335fd67eeca9ab532dc1c364f45d577107a4c42890630354aeed06"
#define E_AUTH	"SDK-HMAC-SHA256 Access=" AK_A ", SignedHeaders=content-type;host;x-sdk-date, Signature="
#define E_NOW	1732180126000LL		/* 20241121T090846Z */
#define MIN	60000LL

static const struct {
	const char	*src;
	const char	*auth;		/* NULL: leave Authorization out */
	const char	*path, *query;	/* NULL: vector E's */
	const char	*date;		/* X-Sdk-Date sent; NULL: vector E's */
	int64_t		 now_off;	/* the verifier's clock minus E's date */
	const char	*extra_name, *extra_value;	/* one more header */
	enum apig_verdict want;
	int		 status;
	const char	*code;
	const char	*msg_prefix;
} refusals[] = {
	{ "vector E as signed", E_AUTH E_SIG, NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_OK, 200, "", "" },
	{ "§2.5 tolerant: no blank after the commas",
	  "SDK-HMAC-SHA256 Access=" AK_A ",SignedHeaders=content-type;host;x-sdk-date,Signature=" E_SIG,
	  NULL, NULL, NULL, 0, NULL, NULL, APIG_OK, 200, "", "" },
	{ "parameters in another order, upper-case hex",
	  "SDK-HMAC-SHA256 Signature=E37FBE6603335FD67EECA9AB532DC1C364F45D577107A4C42890630354AEED06, "
	  "Access=" AK_A ", SignedHeaders=host;x-sdk-date;content-type",
	  NULL, NULL, NULL, 0, NULL, NULL, APIG_OK, 200, "", "" },
	{ "§2.6 exactly 15 minutes late is still accepted", E_AUTH E_SIG, NULL, NULL, NULL,
	  15 * MIN, NULL, NULL, APIG_OK, 200, "", "" },
	{ "§2.6 exactly 15 minutes early is still accepted", E_AUTH E_SIG, NULL, NULL, NULL,
	  -15 * MIN, NULL, NULL, APIG_OK, 200, "", "" },
	{ "an unsigned extra header does not matter", E_AUTH E_SIG, NULL, NULL, NULL, 0,
	  "X-Request-Id", "abc", APIG_OK, 200, "", "" },

	{ "no Authorization", NULL, NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_NO_AUTH, 401, "APIG.0301", "Incorrect IAM authentication information: Authorization not found" },
	{ "another scheme", "Basic dXNlcjpwYXNz", NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_NO_AUTH, 401, "APIG.0301", "Incorrect IAM authentication information: Authorization is not" },
	{ "algorithm without parameters", "SDK-HMAC-SHA256", NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_NO_AUTH, 401, "APIG.0301", "Incorrect IAM" },
	{ "Signature missing", "SDK-HMAC-SHA256 Access=" AK_A ", SignedHeaders=content-type;host;x-sdk-date",
	  NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_BAD_AUTH, 401, "APIG.0301", "Incorrect IAM authentication information: Authorization is malformed" },
	{ "Signature not 64 hex", E_AUTH "e37fbe66", NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_BAD_AUTH, 401, "APIG.0301", "Incorrect IAM" },
	{ "Access twice", E_AUTH E_SIG ", Access=x", NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_BAD_AUTH, 401, "APIG.0301", "Incorrect IAM" },
	{ "unknown parameter", E_AUTH E_SIG ", Region=cn", NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_BAD_AUTH, 401, "APIG.0301", "Incorrect IAM" },
	{ "§2.10 x-sdk-date must be signed",
	  "SDK-HMAC-SHA256 Access=" AK_A ", SignedHeaders=content-type;host, Signature=" E_SIG,
	  NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_BAD_DATE, 401, "APIG.0301", "Incorrect IAM authentication information: x-sdk-date" },
	{ "X-Sdk-Date malformed", E_AUTH E_SIG, NULL, NULL, "2024-11-21T09:08:46Z", 0, NULL, NULL,
	  APIG_BAD_DATE, 401, "APIG.0301", "Incorrect IAM authentication information: x-sdk-date is not" },
	{ "§2.6 more than 15 minutes late", E_AUTH E_SIG, NULL, NULL, NULL, 15 * MIN + 1000,
	  NULL, NULL, APIG_EXPIRED, 401, "APIG.0303", "Incorrect app authentication information: signature expired" },
	{ "§2.6 more than 15 minutes early", E_AUTH E_SIG, NULL, NULL, NULL, -15 * MIN - 1000,
	  NULL, NULL, APIG_EXPIRED, 401, "APIG.0303", "Incorrect app authentication information: signature expired" },
	{ "unknown access key",
	  "SDK-HMAC-SHA256 Access=NOSUCHKEY, SignedHeaders=content-type;host;x-sdk-date, Signature=" E_SIG,
	  NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_UNKNOWN_AK, 401, "APIG.0303", "Incorrect app authentication information: access key not found" },
	{ "one hex digit changed", E_AUTH "f37fbe6603335fd67eeca9ab532dc1c364f45d577107a4c42890630354aeed06",
	  NULL, NULL, NULL, 0, NULL, NULL, APIG_MISMATCH, 401, "APIG.0301",
	  "verify signature fail, canonicalRequest:GET|/api/mkp-openapi-public/global/v1/order/query/|"
	  "orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000001|content-type:application/json|"
	  "host:mkt.myhuaweicloud.com|x-sdk-date:20241121T090846Z||content-type;host;x-sdk-date|" EMPTY_SHA },
	{ "query changed after signing", E_AUTH E_SIG, NULL,
	  "orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000002", NULL, 0, NULL, NULL,
	  APIG_MISMATCH, 401, "APIG.0301", "verify signature fail, canonicalRequest:GET|" },
	{ "path changed after signing", E_AUTH E_SIG, "/api/mkp-openapi-public/global/v1/order/query2",
	  NULL, NULL, 0, NULL, NULL, APIG_MISMATCH, 401, "APIG.0301", "verify signature fail" },
	{ "date changed after signing (within the window)", E_AUTH E_SIG, NULL, NULL,
	  "20241121T090847Z", 0, NULL, NULL, APIG_MISMATCH, 401, "APIG.0301", "verify signature fail" },
	{ "a signed header missing from the request",
	  "SDK-HMAC-SHA256 Access=" AK_A ", SignedHeaders=content-type;host;x-sdk-date;x-stage, Signature=" E_SIG,
	  NULL, NULL, NULL, 0, NULL, NULL,
	  APIG_BAD_AUTH, 401, "APIG.0301", "Incorrect IAM authentication information: signed header x-stage is missing" },
	{ "a signed header sent twice", E_AUTH E_SIG, NULL, NULL, NULL, 0, "Host", "evil.example.com",
	  APIG_BAD_AUTH, 401, "APIG.0301", "Incorrect IAM authentication information: signed header host occurs" },
	{ "Authorization sent twice", E_AUTH E_SIG, NULL, NULL, NULL, 0, "authorization", E_AUTH E_SIG,
	  APIG_BAD_AUTH, 401, "APIG.0301", "Incorrect IAM" },
	{ "bad escape in the path", E_AUTH E_SIG, "/api/%zz", NULL, NULL, 0, NULL, NULL,
	  APIG_BAD_REQUEST, 400, "APIG.0201", "Bad request: bad %-escape in the path" },
};

START_TEST(test_refusals)
{
	const char		*src = refusals[_i].src;
	const char		*pair[2] = { AK_A, SK_A };
	struct apig_header	 h[6];
	struct apig_request	 req;
	struct buf		 msg = BUF_INIT, body = BUF_INIT;
	enum apig_verdict	 v;
	char			 ak[64];
	size_t			 n = 0;

	h[n++] = (struct apig_header){ "Content-Type", "application/json" };
	h[n++] = (struct apig_header){ "Host", "mkt.myhuaweicloud.com" };
	h[n++] = (struct apig_header){ "X-Sdk-Date",
	    refusals[_i].date != NULL ? refusals[_i].date : "20241121T090846Z" };
	if (refusals[_i].auth != NULL)
		h[n++] = (struct apig_header){ "Authorization", refusals[_i].auth };
	if (refusals[_i].extra_name != NULL)
		h[n++] = (struct apig_header){ refusals[_i].extra_name, refusals[_i].extra_value };
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = refusals[_i].path != NULL ? refusals[_i].path :
	    "/api/mkp-openapi-public/global/v1/order/query";
	req.query = refusals[_i].query != NULL ? refusals[_i].query :
	    "orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000001";
	req.headers = h;
	req.nheaders = n;

	v = apig_verify(&req, E_NOW + refusals[_i].now_off, lookup_one, pair, ak, sizeof(ak), &msg);
	ck_assert_msg(v == refusals[_i].want, "%s: verdict %s (%s)", src,
	    apig_verdict_name(v), buf_cstr(&msg));
	ck_assert_int_eq(apig_verdict_http_status(v), refusals[_i].status);
	ck_assert_str_eq(apig_verdict_code(v), refusals[_i].code);
	ck_assert_msg(strncmp(buf_cstr(&msg), refusals[_i].msg_prefix,
	    strlen(refusals[_i].msg_prefix)) == 0, "%s: message %s", src, buf_cstr(&msg));
	if (v == APIG_OK)
		ck_assert_uint_eq(msg.len, 0);
	else {
		/* The body the mock sends, in the gateway's shape. */
		apig_error_body(v, buf_cstr(&msg), "req-1", &body);
		ck_assert_msg(strstr(buf_cstr(&body), "\"error_code\":\"") != NULL &&
		    strstr(buf_cstr(&body), refusals[_i].code) != NULL &&
		    strstr(buf_cstr(&body), "\"request_id\":\"req-1\"}") != NULL,
		    "%s: %s", src, buf_cstr(&body));
	}
	buf_free(&msg);
	buf_free(&body);
}
END_TEST

/* A body changed after signing (vector D) and a wrong SK are mismatches. */
START_TEST(test_body_and_key)
{
	struct apig_header	 hdrs[MAXH + 1];
	struct apig_request	 req;
	struct buf		 auth = BUF_INIT, msg = BUF_INIT;
	const char		*right[2] = { AK_A, SK_A }, *wrong[2] = { AK_A, "not-the-sk" };
	char			 why[200];
	size_t			 nh;
	int64_t			 now;

	vector_request(3, &req, hdrs, &nh);
	ck_assert(apig_sign(&req, AK_A, SK_A, &auth, why, sizeof(why)));
	hdrs[nh].name = "Authorization";
	hdrs[nh].value = buf_cstr(&auth);
	req.nheaders = nh + 1;
	ck_assert(apig_parse_date("20240306T020745Z", &now));
	ck_assert_int_eq(apig_verify(&req, now, lookup_one, right, NULL, 0, &msg), APIG_OK);
	ck_assert_int_eq(apig_verify(&req, now, lookup_one, wrong, NULL, 0, &msg), APIG_MISMATCH);
	buf_reset(&msg);
	req.body = "{\"usage_records\":[]}";
	req.body_len = strlen(req.body);
	ck_assert_int_eq(apig_verify(&req, now, lookup_one, right, NULL, 0, &msg), APIG_MISMATCH);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&msg), "canonicalRequest:POST|"));
	buf_free(&auth);
	buf_free(&msg);
}
END_TEST

START_TEST(test_escape)
{
	struct buf	out = BUF_INIT;
	const char	in[] = "aZ09-_.~ /+%&=?\x01\xff";

	apig_escape(&out, in, sizeof(in) - 1);
	ck_assert_str_eq(buf_cstr(&out), "aZ09-_.~%20%2F%2B%25%26%3D%3F%01%FF");
	buf_free(&out);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("apig", &tc);

	tcase_add_loop_test(tc, test_vectors, 0, (int)NELEM(vectors));
	tcase_add_loop_test(tc, test_date, 0, (int)NELEM(date_cases));
	tcase_add_loop_test(tc, test_canon, 0, (int)NELEM(canon_cases));
	tcase_add_test(tc, test_canon_headers);
	tcase_add_loop_test(tc, test_refusals, 0, (int)NELEM(refusals));
	tcase_add_test(tc, test_body_and_key);
	tcase_add_test(tc, test_escape);
	return unit_run(s);
}
