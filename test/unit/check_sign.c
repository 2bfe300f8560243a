/*
 * check_sign.c: every signature vector of spec/v2-basic.md §7.2,
 * spec/kit-and-v1.md §5 and spec/vectors.json, the compare functions and
 * base64.
 *
 * Each row names where its values come from; a vector printed in several
 * places is one row naming all of them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "crypto/random.h"
#include "crypto/sign.h"
#include "unit.h"

#define K_TEST	"TestAccessKey-0123456789abcdef"
#define K_UUID	"9fa6c870-8bb0-4e9b-b71e-4c223300156f"
#define K_EBF	"ebf72724-bacc-414b-a86b-fda5bcc8153c"

#define TS_V1	"1680508066618"
#define NONCE_V1 "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA"
#define BODY_NEW "{\"activity\":\"newInstance\",\"businessId\":\"87b94795-0603-4e24-8ae5-69420d60e3c8\",\"orderId\":\"CS2211181819B4LVS\",\"orderLineId\":\"CS2211181819B4LVS-000001\",\"testFlag\":\"1\"}"

/* --- V2 basic signature ------------------------------------------------ */

static const struct {
	const char	*src;
	const char	*key;
	const char	*payload;	/* the canonical payload that is signed */
	const char	*ts, *nonce;
	const char	*digest;	/* bodyDigest, NULL when not given */
	const char	*canonical;	/* canonicalRequest, NULL when not given */
	const char	*sig;		/* as printed (case varies) */
} basic_cases[] = {
	{ "v2-basic V-1; vectors.json v2_basic_signature[0]",
	  K_TEST, BODY_NEW, TS_V1, NONCE_V1,
	  "10a571044bbfa4da77841395fb33e79725d25a1264c6d52540e4f17f1cc3a30d",
	  K_TEST NONCE_V1 TS_V1 "10a571044bbfa4da77841395fb33e79725d25a1264c6d52540e4f17f1cc3a30d",
	  "A64B1BFCE1A372DE15EF4377957528E7F7B0CE4944D4CAEA7B7363339DF27C82" },
	{ "v2-basic V-1 second key; vectors.json v2_basic_signature[2]",
	  K_EBF, BODY_NEW, TS_V1, NONCE_V1, NULL, NULL,
	  "1C59E75FDFB42C7F27ADA6682A487F1FEB1421DA6670CC085E9917BBD155B5D5" },
	{ "kit-and-v1 TV-10; vectors.json v2_basic_signature[1]",
	  K_UUID, BODY_NEW, TS_V1, NONCE_V1,
	  "79e3ed48765bb7f168c6cb2816c347fdb17bc3c6d1fcaf7ae1a6430de1373906", NULL,
	  "b593b11fbd772d79bacc08510bf7710327c86a62902395a409e5fb6e9909ce1a" },
	{ "v2-basic V-2 (canonical payload); vectors.json v2_basic_signature[3] canonical_payload",
	  K_TEST,
	  "{\"activity\":\"queryInstance\",\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"testFlag\":\"1\"}",
	  "1680508237508",
	  "9FB42E04DF4594B1FAA50B304E647AD7154AB9B4F144A65F1168886540A8B24C",
	  "55cb320ea228d81a260014ed00cd1b8ab14ccf6914e83d2504bd497e433d659d", NULL,
	  "35270E7A5AB09D08C9674D7C3DAEA75853BB3E06C010B935C713F739DF3FF59C" },
};

START_TEST(test_v2_basic)
{
	const char	*src = basic_cases[_i].src, *key = basic_cases[_i].key;
	char		 out[SIGN_HEX_LEN + 1], digest[SIGN_HEX_LEN + 1];
	char		 again[SIGN_HEX_LEN + 1];
	size_t		 i;

	sign_v2_basic(key, basic_cases[_i].payload, strlen(basic_cases[_i].payload),
	    basic_cases[_i].nonce, basic_cases[_i].ts, out);
	ck_assert_msg(strlen(out) == SIGN_HEX_LEN, "%s", src);
	ck_assert_msg(strcasecmp(out, basic_cases[_i].sig) == 0,
	    "%s: got %s want %s", src, out, basic_cases[_i].sig);
	for (i = 0; i < SIGN_HEX_LEN; i++)
		ck_assert_msg(!(out[i] >= 'A' && out[i] <= 'F'), "%s: upper-case output", src);
	/* The received value arrives upper case: the compare must accept it. */
	ck_assert_msg(sign_hex_equal(out, basic_cases[_i].sig), "%s", src);

	/* The inner digest, and the outer HMAC as the kit rule over it. */
	sign_hmac_hex(key, strlen(key), basic_cases[_i].payload,
	    strlen(basic_cases[_i].payload), digest);
	if (basic_cases[_i].digest != NULL)
		ck_assert_msg(strcmp(digest, basic_cases[_i].digest) == 0,
		    "%s: digest %s", src, digest);
	sign_v2_kit(key, digest, strlen(digest), basic_cases[_i].nonce,
	    basic_cases[_i].ts, again);
	ck_assert_str_eq(again, out);

	/* The canonical request, where printed, signs to the same value. */
	if (basic_cases[_i].canonical != NULL) {
		struct buf	c = BUF_INIT;

		buf_printf(&c, "%s%s%s%s", key, basic_cases[_i].nonce,
		    basic_cases[_i].ts, digest);
		ck_assert_str_eq(buf_cstr(&c), basic_cases[_i].canonical);
		sign_hmac_hex(key, strlen(key), c.data, c.len, again);
		ck_assert_str_eq(again, out);
		buf_free(&c);
	}
}
END_TEST

/* --- V2 kit x-sign ------------------------------------------------------ */

static const struct {
	const char	*src;
	const char	*key, *payload, *ts, *nonce, *sig;
} kit_cases[] = {
	{ "v2-basic V-3", K_TEST, BODY_NEW, TS_V1, NONCE_V1,
	  "e180bf63a878ecf10003084dc955cbd6c837ddad50f56f3c9dcc90075d4204fc" },
	{ "kit-and-v1 TV-8; vectors.json v2_kit_x_sign[0] canonical_payload", K_UUID,
	  "{\"domainName\":\"https://example.tenantaccount.com\",\"flag\":1,\"instanceId\":\"huaiweitest123456\",\"name\":\"huaiweitest\",\"orderId\":\"CS1906666666ABCDE\",\"tenantCode\":\"huawei\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}",
	  TS_V1, NONCE_V1,
	  "1CA6CAB5DB456534784C465D04ADEAC7A6C8FA909BB934D6B105A4CE47CC5177" },
	{ "kit-and-v1 TV-9; vectors.json v2_kit_x_sign[1] canonical_payload", K_UUID,
	  "{\"appId\":\"KSIDJF1234456\",\"currentSyncTime\":\"20220420114117642\",\"flag\":1,\"instanceId\":\"huaiweitest123456\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"testFlag\":0,\"timeStamp\":\"20220420114117642\",\"userList\":[{\"userName\":\"zhangsan01\",\"name\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"orgCode\":\"123456789\",\"role\":\"admin\",\"enable\":\"true\"}]}",
	  TS_V1, NONCE_V1,
	  "3615906C2C87D87E7180C25412891C988B2FE80ACD526DED6BBA1DA86F7D8608" },
};

START_TEST(test_v2_kit)
{
	char	out[SIGN_HEX_LEN + 1];

	sign_v2_kit(kit_cases[_i].key, kit_cases[_i].payload,
	    strlen(kit_cases[_i].payload), kit_cases[_i].nonce, kit_cases[_i].ts, out);
	ck_assert_msg(strcasecmp(out, kit_cases[_i].sig) == 0,
	    "%s: got %s want %s", kit_cases[_i].src, out, kit_cases[_i].sig);
	ck_assert_msg(sign_hex_equal(out, kit_cases[_i].sig), "%s", kit_cases[_i].src);
}
END_TEST

/* --- V1 authToken (GET query and POST kit body) ------------------------ */

#define Q_NEW "activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1&timeStamp=20200727073711903"

static const struct {
	const char	*src;
	const char	*key, *ts;
	const char	*data;	/* the sorted k=v&k=v string, built by hand */
	const char	*token;
} token_cases[] = {
	{ "v2-basic V-5; vectors.json v1_auth_token[1]",
	  K_TEST, "20200727073711903", Q_NEW,
	  "81zyi00wop0iunlUYIxZJRdkQNWwVB7qwZvXGAGXwRo=" },
	{ "kit-and-v1 TV-4; vectors.json v1_auth_token[0]",
	  K_UUID, "20200727073711903", Q_NEW,
	  "vCU29mKBmOxkxdyR/QG2C47McNX91o8IQb6E+QFJAXQ=" },
	{ "kit-and-v1 TV-6; vectors.json v1_kit_auth_token[0]",
	  K_UUID, "20220413093539534",
	  "domainName=https://example.tenantaccount.com&flag=1&instanceId=huaiweitest123456&name=huaiweitest&orderId=CS1906666666ABCDE&tenantCode=huawei&tenantId=68cbc86abc2018ab880d92f36422fa0e&testFlag=0&timeStamp=20220413093539534",
	  "KwHUSZ7T5uQwwr4gxRl909YgQYU5VqOK1/QbxE0NDKc=" },
	{ "kit-and-v1 TV-7; vectors.json v1_kit_auth_token[1]",
	  K_UUID, "20220420114117642",
	  "appId=KSIDJF1234456&currentSyncTime=20220420114117642&flag=1&instanceId=huaiweitest123456&tenantId=68cbc86abc2018ab880d92f36422fa0e&testFlag=0&timeStamp=20220420114117642&userList=[{\"userName\":\"zhangsan01\",\"name\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"orgCode\":\"123456789\",\"role\":\"admin\",\"enable\":\"true\"}]",
	  "x589AruAmBKbMRgG8uCB08K4k9f/HH+X/vnKMGm8HsY=" },
};

START_TEST(test_v1_token)
{
	char	out[SIGN_B64_LEN + 1];

	sign_v1_token(token_cases[_i].key, token_cases[_i].ts, token_cases[_i].data,
	    strlen(token_cases[_i].data), out);
	ck_assert_msg(strcmp(out, token_cases[_i].token) == 0,
	    "%s: got %s want %s", token_cases[_i].src, out, token_cases[_i].token);
	ck_assert_msg(sign_b64_equal(out, token_cases[_i].token), "%s", token_cases[_i].src);
}
END_TEST

/* --- Body-Sign ----------------------------------------------------------- */

static const struct {
	const char	*src;
	const char	*key, *body, *header;
} body_cases[] = {
	{ "kit-and-v1 TV-5; vectors.json body_sign[0]", K_UUID,
	  "{\"resultCode\":\"000000\",\"resultMsg\":\"success.\"}",
	  "sign_type=\"HMAC-SHA256\", signature=\"TqHrax4nGMCqfFPsub8jnfn6V0MhK5bWa0lTIOZGsIQ=\"" },
	/* V-4 prints `signature= "..."` (doc spacing); the value is the same. */
	{ "v2-basic V-4; vectors.json body_sign[1]", K_TEST,
	  "{\"resultCode\":\"000000\",\"resultMsg\":\"success\",\"instanceId\":\"87b94795-0603-4e24-8ae5-69420d60e3c8\"}",
	  "sign_type=\"HMAC-SHA256\", signature=\"b0hm2ODxDxQfvXF+CBJA3O4gNs/TeF3LpHajEQxeGcQ=\"" },
};

START_TEST(test_body_sign)
{
	struct buf	out = BUF_INIT;

	buf_puts(&out, "Body-Sign: ");	/* must be appended, not overwritten */
	sign_body(body_cases[_i].key, body_cases[_i].body,
	    strlen(body_cases[_i].body), &out);
	ck_assert_msg(strcmp(buf_cstr(&out) + strlen("Body-Sign: "),
	    body_cases[_i].header) == 0, "%s: got %s", body_cases[_i].src, buf_cstr(&out));
	buf_free(&out);
}
END_TEST

/* --- plain HMAC base64 ---------------------------------------------------- */

static const struct {
	const char	*src;
	const char	*key, *data, *b64;
} b64_cases[] = {
	{ "kit-and-v1 TV-3", "abcde", "a=1&b=2",
	  "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=" },
	/* Also pure HMAC-base64: outbound.md §1.6 / vectors.json usage_body_signature[0]. */
	{ "vectors.json usage_body_signature[0]", "test-isv-key",
	  "ts=1709690865879&nonce=6c63c221-1f6b-4141-8ff4-22f5dfe82b65&body="
	  "{\"usage_records\":[{\"begin_time\":\"20220809T080000Z\",\"end_time\":\"20220809T090000Z\",\"instance_id\":\"7f141bf1-aec8-4859-8323-fb3a8ad50721\",\"metering_sn\":\"a1b2c3d4-0001\",\"record_time\":\"20220809T091000Z\",\"usage_value\":\"99\"}]}",
	  "S9/njFhs6ZY2gTBES91Ex7hoIKwIZNzYf5/iFNnyFaA=" },
	/* A key longer than the 64-byte HMAC block is hashed, not truncated. */
	/* = hex 60e43159...0ee37f54 */
	{ "RFC 4231 test case 6 (131-byte key)", NULL,
	  "Test Using Larger Than Block-Size Key - Hash Key First",
	  "YOQxWR7gtn8Niiaqy/W3f44LxiE3KMUUBUYEDw7jf1Q=" },
};

START_TEST(test_hmac_b64)
{
	unsigned char	bigkey[131];
	const void	*key = b64_cases[_i].key;
	size_t		 keylen;
	char		 out[SIGN_B64_LEN + 1];

	if (key == NULL) {
		memset(bigkey, 0xaa, sizeof(bigkey));
		key = bigkey;
		keylen = sizeof(bigkey);
	} else
		keylen = strlen(key);
	sign_hmac_b64(key, keylen, b64_cases[_i].data, strlen(b64_cases[_i].data), out);
	ck_assert_msg(strcmp(out, b64_cases[_i].b64) == 0, "%s: got %s",
	    b64_cases[_i].src, out);
	ck_assert_uint_eq(strlen(out), SIGN_B64_LEN);
}
END_TEST

/* --- kept key states ------------------------------------------------------ */

/*
 * A process keeps the absorbed state of the few keys it signs with
 * (sign.c). Every vector above, in one process, in turn and three times
 * over: more keys than are kept (so states are evicted and made again),
 * keys that are prefixes of each other, an empty key and one too long to
 * keep, each must sign exactly as a key absorbed afresh does.
 */
START_TEST(test_kept_keys)
{
	static const char *const keys[] = { K_TEST, K_EBF, K_UUID, "abcde", "abcd",
	    "abcdef", "test-isv-key", "a", "" };
	unsigned char	 bigkey[131];
	char		 out[SIGN_HEX_LEN + 1], b64[SIGN_B64_LEN + 1], fresh[SIGN_B64_LEN + 1];
	size_t		 round, i;

	memset(bigkey, 0xaa, sizeof(bigkey));
	for (round = 0; round < 3; round++) {
		for (i = 0; i < NELEM(basic_cases); i++) {
			sign_v2_basic(basic_cases[i].key, basic_cases[i].payload,
			    strlen(basic_cases[i].payload), basic_cases[i].nonce,
			    basic_cases[i].ts, out);
			ck_assert_msg(strcasecmp(out, basic_cases[i].sig) == 0,
			    "round %zu: %s: got %s", round, basic_cases[i].src, out);
		}
		for (i = 0; i < NELEM(keys); i++) {
			/* sign_v1_token absorbs key + timestamp afresh: the reference. */
			sign_hmac_b64(keys[i], strlen(keys[i]), BODY_NEW, strlen(BODY_NEW), b64);
			sign_v1_token("", keys[i], BODY_NEW, strlen(BODY_NEW), fresh);
			ck_assert_msg(strcmp(b64, fresh) == 0, "round %zu: key \"%s\": %s, "
			    "absorbed afresh %s", round, keys[i], b64, fresh);
		}
		for (i = 0; i < NELEM(b64_cases); i++) {
			const void *key = b64_cases[i].key != NULL ?
			    (const void *)b64_cases[i].key : (const void *)bigkey;
			size_t keylen = b64_cases[i].key != NULL ? strlen(key) : sizeof(bigkey);

			sign_hmac_b64(key, keylen, b64_cases[i].data, strlen(b64_cases[i].data),
			    b64);
			ck_assert_msg(strcmp(b64, b64_cases[i].b64) == 0, "round %zu: %s: got %s",
			    round, b64_cases[i].src, b64);
		}
	}
}
END_TEST

/* --- compares ------------------------------------------------------------- */

#define SIG_LO "a64b1bfce1a372de15ef4377957528e7f7b0ce4944d4caea7b7363339df27c82"

static const struct {
	const char	*received;
	bool		 eq;
} hex_cases[] = {
	{ SIG_LO, true },
	{ "A64B1BFCE1A372DE15EF4377957528E7F7B0CE4944D4CAEA7B7363339DF27C82", true },
	{ "A64b1BfCE1a372DE15ef4377957528E7F7B0CE4944D4CAEA7B7363339df27C82", true },
	{ "b64b1bfce1a372de15ef4377957528e7f7b0ce4944d4caea7b7363339df27c82", false },
	{ "a64b1bfce1a372de15ef4377957528e7f7b0ce4944d4caea7b7363339df27c83", false },
	{ "a64b1bfce1a372de15ef4377957528e7f7b0ce4944d4caea7b7363339df27c8", false },
	{ SIG_LO "2", false },
	{ SIG_LO "a64b", false },
	{ "", false },
	/* 'G' lower-cases to 'g', not to a hex digit: no false match. */
	{ "G64b1bfce1a372de15ef4377957528e7f7b0ce4944d4caea7b7363339df27c82", false },
	/* a trailing space in place of a digit */
	{ "a64b1bfce1a372de15ef4377957528e7f7b0ce4944d4caea7b7363339df27c8 ", false },
};

START_TEST(test_hex_equal)
{
	ck_assert_msg(sign_hex_equal(SIG_LO, hex_cases[_i].received) == hex_cases[_i].eq,
	    "case %d", _i);
}
END_TEST

/* Any single changed character, at any position, is refused. */
START_TEST(test_hex_equal_every_position)
{
	char	recv[SIGN_HEX_LEN + 1];
	size_t	i;

	for (i = 0; i < SIGN_HEX_LEN; i++) {
		memcpy(recv, SIG_LO, sizeof(recv));
		recv[i] = recv[i] == '0' ? '1' : '0';
		ck_assert_msg(!sign_hex_equal(SIG_LO, recv), "position %zu", i);
	}
}
END_TEST

static const struct {
	const char	*expected, *received;
	bool		 eq;
} b64eq_cases[] = {
	{ "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=",
	  "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=", true },
	/* base64 is case-sensitive */
	{ "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=",
	  "4SBEVD9VKZQGPRRR8TYJWERY0LZV7TETTNZFX3GB9OK=", false },
	{ "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=",
	  "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ol=", false },
	{ "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=",
	  "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok", false },
	{ "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=",
	  "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok==", false },
	{ "4sbEVd9vKZQGPRRr8TyjWery0lZV7tetTnzfX3Gb9Ok=", "", false },
	/* a URL form decoder turns '+' into ' ': that is a different token */
	{ "vCU29mKBmOxkxdyR/QG2C47McNX91o8IQb6E+QFJAXQ=",
	  "vCU29mKBmOxkxdyR/QG2C47McNX91o8IQb6E QFJAXQ=", false },
};

START_TEST(test_b64_equal)
{
	ck_assert_msg(sign_b64_equal(b64eq_cases[_i].expected, b64eq_cases[_i].received)
	    == b64eq_cases[_i].eq, "case %d", _i);
}
END_TEST

/* RFC 4648 §10, appended after what the buffer holds; and back. */
static const struct {
	const char	*in;
	const char	*out;
} b64enc_cases[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	{ "\xff\xfe\x00\x01", "//4AAQ==" },
};

START_TEST(test_b64_encode)
{
	const char	*in = b64enc_cases[_i].in;
	size_t		 n = _i == (int)NELEM(b64enc_cases) - 1 ? 4 : strlen(in);
	struct buf	 b = BUF_INIT, back = BUF_INIT;

	buf_puts(&b, "s1:");
	sign_b64_encode(in, n, &b);
	ck_assert_uint_eq(b.len, 3 + strlen(b64enc_cases[_i].out));
	ck_assert(strncmp(buf_cstr(&b), "s1:", 3) == 0);
	ck_assert_str_eq(buf_cstr(&b) + 3, b64enc_cases[_i].out);
	ck_assert(sign_b64_decode(buf_cstr(&b) + 3, &back));
	ck_assert_uint_eq(back.len, n);
	ck_assert(n == 0 || memcmp(back.data, in, n) == 0);
	buf_free(&b);
	buf_free(&back);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("sign", &tc);

	if (!crypto_init())
		return EXIT_FAILURE;
	tcase_add_loop_test(tc, test_v2_basic, 0, (int)NELEM(basic_cases));
	tcase_add_loop_test(tc, test_v2_kit, 0, (int)NELEM(kit_cases));
	tcase_add_loop_test(tc, test_v1_token, 0, (int)NELEM(token_cases));
	tcase_add_loop_test(tc, test_body_sign, 0, (int)NELEM(body_cases));
	tcase_add_loop_test(tc, test_hmac_b64, 0, (int)NELEM(b64_cases));
	tcase_add_loop_test(tc, test_hex_equal, 0, (int)NELEM(hex_cases));
	tcase_add_test(tc, test_kept_keys);
	tcase_add_test(tc, test_hex_equal_every_position);
	tcase_add_loop_test(tc, test_b64_equal, 0, (int)NELEM(b64eq_cases));
	tcase_add_loop_test(tc, test_b64_encode, 0, (int)NELEM(b64enc_cases));
	return unit_run(s);
}
