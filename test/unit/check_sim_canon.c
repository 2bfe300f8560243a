/*
 * check_sim_canon.c: mkp-sim's own canonicaliser (src/cli/sim_canon.c)
 * held against the spec's vectors (spec/vectors.json: the canonical
 * payloads and the signatures over them), then against mkpd's
 * (json_canonical, verify_kit_v1) over generated bodies: the same
 * bodies accepted, the same bytes out.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/verify.h"
#include "cli/sim_canon.h"
#include "common/json.h"
#include "crypto/sign.h"
#include "unit.h"

#define K_TEST	"TestAccessKey-0123456789abcdef"
#define K_UUID	"9fa6c870-8bb0-4e9b-b71e-4c223300156f"
#define NONCE	"50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA"

#define BODY_NEW \
	"{\"activity\":\"newInstance\",\"businessId\":\"87b94795-0603-4e24-8ae5-69420d60e3c8\"," \
	"\"orderId\":\"CS2211181819B4LVS\",\"orderLineId\":\"CS2211181819B4LVS-000001\"," \
	"\"testFlag\":\"1\"}"
#define BODY_TENANT \
	"{\"instanceId\":\"huaiweitest123456\",\"orderId\":\"CS1906666666ABCDE\"," \
	"\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"tenantCode\":\"huawei\"," \
	"\"name\":\"huaiweitest\",\"domainName\":\"https://example.tenantaccount.com\"," \
	"\"flag\":1,\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}"

/* --- V2: vectors.json v2_basic_signature, v2_kit_x_sign ------------------ */

static const struct {
	const char	*src;
	bool		 kit;
	const char	*key;
	const char	*body;
	const char	*canonical;	/* NULL: the body is already canonical */
	const char	*ts;
	const char	*nonce;
	const char	*sig;
} v2_cases[] = {
	{ "v2_basic_signature[0]", false, K_TEST, BODY_NEW, NULL, "1680508066618", NONCE,
	  "A64B1BFCE1A372DE15EF4377957528E7F7B0CE4944D4CAEA7B7363339DF27C82" },
	{ "v2_basic_signature[1]", false, K_UUID, BODY_NEW, NULL, "1680508066618", NONCE,
	  "B593B11FBD772D79BACC08510BF7710327C86A62902395A409E5FB6E9909CE1A" },
	{ "v2_basic_signature[2]", false, "ebf72724-bacc-414b-a86b-fda5bcc8153c", BODY_NEW,
	  NULL, "1680508066618", NONCE,
	  "1C59E75FDFB42C7F27ADA6682A487F1FEB1421DA6670CC085E9917BBD155B5D5" },
	{ "v2_basic_signature[3]", false, K_TEST,
	  "{\"testFlag\":\"1\",\"activity\":\"queryInstance\","
	  "\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"extra\":null}",
	  "{\"activity\":\"queryInstance\",\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\","
	  "\"testFlag\":\"1\"}",
	  "1680508237508",
	  "9FB42E04DF4594B1FAA50B304E647AD7154AB9B4F144A65F1168886540A8B24C",
	  "35270E7A5AB09D08C9674D7C3DAEA75853BB3E06C010B935C713F739DF3FF59C" },
	{ "v2_kit_x_sign[0]", true, K_UUID, BODY_TENANT,
	  "{\"domainName\":\"https://example.tenantaccount.com\",\"flag\":1,"
	  "\"instanceId\":\"huaiweitest123456\",\"name\":\"huaiweitest\","
	  "\"orderId\":\"CS1906666666ABCDE\",\"tenantCode\":\"huawei\","
	  "\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"testFlag\":0,"
	  "\"timeStamp\":\"20220413093539534\"}",
	  "1680508066618", NONCE,
	  "1CA6CAB5DB456534784C465D04ADEAC7A6C8FA909BB934D6B105A4CE47CC5177" },
	{ "v2_kit_x_sign[1]", true, K_UUID,
	  "{\"instanceId\":\"huaiweitest123456\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\","
	  "\"appId\":\"KSIDJF1234456\",\"userList\":[{\"userName\":\"zhangsan01\","
	  "\"name\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"orgCode\":\"123456789\",\"role\":\"admin\","
	  "\"enable\":\"true\"}],\"currentSyncTime\":\"20220420114117642\",\"flag\":1,"
	  "\"testFlag\":0,\"timeStamp\":\"20220420114117642\"}",
	  "{\"appId\":\"KSIDJF1234456\",\"currentSyncTime\":\"20220420114117642\",\"flag\":1,"
	  "\"instanceId\":\"huaiweitest123456\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\","
	  "\"testFlag\":0,\"timeStamp\":\"20220420114117642\",\"userList\":[{\"userName\":"
	  "\"zhangsan01\",\"name\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"orgCode\":\"123456789\","
	  "\"role\":\"admin\",\"enable\":\"true\"}]}",
	  "1680508066618", NONCE,
	  "3615906C2C87D87E7180C25412891C988B2FE80ACD526DED6BBA1DA86F7D8608" },
};

START_TEST(test_v2_vectors)
{
	struct buf	 b = BUF_INIT;
	const char	*want = v2_cases[_i].canonical ? v2_cases[_i].canonical : v2_cases[_i].body;
	char		 sig[SIGN_HEX_LEN + 1];

	ck_assert(sim_canon_v2(v2_cases[_i].body, strlen(v2_cases[_i].body), &b));
	ck_assert_msg(strcmp(buf_cstr(&b), want) == 0, "%s: got %s", v2_cases[_i].src,
	    buf_cstr(&b));
	if (v2_cases[_i].kit)
		sign_v2_kit(v2_cases[_i].key, b.data, b.len, v2_cases[_i].nonce, v2_cases[_i].ts,
		    sig);
	else
		sign_v2_basic(v2_cases[_i].key, b.data, b.len, v2_cases[_i].nonce, v2_cases[_i].ts,
		    sig);
	ck_assert_msg(sign_hex_equal(sig, v2_cases[_i].sig), "%s: signature", v2_cases[_i].src);
	buf_free(&b);
}
END_TEST

/* --- Kit V1: vectors.json v1_kit_auth_token ------------------------------ */

static const struct {
	const char	*src;
	const char	*body;
	const char	*ts;
	const char	*token;
} v1_cases[] = {
	{ "v1_kit_auth_token[0]", BODY_TENANT, "20220413093539534",
	  "KwHUSZ7T5uQwwr4gxRl909YgQYU5VqOK1/QbxE0NDKc=" },
	/* The blank member and the null one are left out (Huawei's sample). */
	{ "v1_kit_auth_token[1], with a blank and a null member",
	  "{\"instanceId\":\"huaiweitest123456\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\","
	  "\"appId\":\"KSIDJF1234456\",\"userList\":\"[{\\\"userName\\\":\\\"zhangsan01\\\","
	  "\\\"name\\\":\\\"\xe5\xbc\xa0\xe4\xb8\x89\\\",\\\"orgCode\\\":\\\"123456789\\\","
	  "\\\"role\\\":\\\"admin\\\",\\\"enable\\\":\\\"true\\\"}]\","
	  "\"currentSyncTime\":\"20220420114117642\",\"flag\":1,\"testFlag\":0,"
	  "\"timeStamp\":\"20220420114117642\",\"parentCode\":\" \\t\",\"extra\":null}",
	  "20220420114117642", "x589AruAmBKbMRgG8uCB08K4k9f/HH+X/vnKMGm8HsY=" },
};

START_TEST(test_kit_v1_vectors)
{
	struct buf	 b = BUF_INIT;
	char		 tok[SIGN_B64_LEN + 1];

	ck_assert(sim_canon_kit_v1(v1_cases[_i].body, strlen(v1_cases[_i].body), &b));
	sign_v1_token(K_UUID, v1_cases[_i].ts, b.data, b.len, tok);
	ck_assert_msg(strcmp(tok, v1_cases[_i].token) == 0, "%s: %s signs to %s",
	    v1_cases[_i].src, buf_cstr(&b), tok);
	buf_free(&b);
}
END_TEST

START_TEST(test_kit_v1_form)
{
	static const char	 body[] = "{\"b\":\"x y\",\"a\":[1, {\"k\" : null}],"
	    "\"c\":\"\\u00e9\\n\",\"d\":true,\"e\":-1.50,\"f\":\"\",\"g\":null}";
	struct buf		 b = BUF_INIT;

	ck_assert(sim_canon_kit_v1(body, sizeof(body) - 1, &b));
	ck_assert_str_eq(buf_cstr(&b),
	    "a=[1,{\"k\":null}]&b=x y&c=\xc3\xa9\n&d=true&e=-1.50");
	buf_reset(&b);
	ck_assert(!sim_canon_kit_v1("[1]", 3, &b));
	ck_assert(!sim_canon_kit_v1("{\"a\":1,\"a\":2}", 13, &b));
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

/* --- differential: sim_canon against mkpd's own ------------------------- */

static uint64_t	rng_state;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: the same bodies at every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32) % n;
}

static void
gen_space(struct buf *b)
{
	static const char	 ws[] = " \t\n\r";

	while (rnd(4) == 0)
		buf_putc(b, ws[rnd(4)]);
}

static void
gen_string(struct buf *b, int keyish)
{
	static const char *const pieces[] = {
		"a", "b", "Z", "_", "0", " ", "/", "\\/", "\\\"", "\\\\", "\\n", "\\t", "\\b",
		"\\f", "\\r", "\\u001f", "\\u0001", "\\u00e9", "\\u00E9", "\xc3\xa9",
		"\xe5\xbc\xa0", "\xf0\x9f\x98\x80", "\\ud83d\\ude00", "\\u007f", "\x7f",
		"\\u2028", "~", "'", "&", "=",
	};
	int	n = keyish ? (int)rnd(5) : (int)rnd(8), i;

	buf_putc(b, '"');
	for (i = 0; i < n; i++)
		buf_puts(b, pieces[rnd(keyish ? 12 : NELEM(pieces))]);
	buf_putc(b, '"');
}

static void
gen_number(struct buf *b)
{
	int	i;

	if (rnd(4) == 0)
		buf_putc(b, '-');
	if (rnd(3) == 0)
		buf_putc(b, '0');
	else {
		buf_putc(b, (char)('1' + rnd(9)));
		for (i = (int)rnd(6); i > 0; i--)
			buf_putc(b, (char)('0' + rnd(10)));
	}
	if (rnd(3) == 0) {
		buf_putc(b, '.');
		for (i = 1 + (int)rnd(4); i > 0; i--)
			buf_putc(b, (char)('0' + rnd(10)));
	}
	if (rnd(4) == 0) {
		buf_putc(b, rnd(2) ? 'e' : 'E');
		if (rnd(2))
			buf_putc(b, rnd(2) ? '+' : '-');
		for (i = 1 + (int)rnd(3); i > 0; i--)
			buf_putc(b, (char)('0' + rnd(10)));
	}
}

static void	gen_value(struct buf *, int depth);

static void
gen_container(struct buf *b, int depth, bool obj)
{
	int	n = (int)rnd(depth == 0 ? 9 : 4), i;

	buf_putc(b, obj ? '{' : '[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, ',');
		gen_space(b);
		if (obj) {
			gen_string(b, 1);
			gen_space(b);
			buf_putc(b, ':');
			gen_space(b);
		}
		gen_value(b, depth + 1);
		gen_space(b);
	}
	buf_putc(b, obj ? '}' : ']');
}

static void
gen_value(struct buf *b, int depth)
{
	switch (rnd(depth > 4 ? 6 : 8)) {
	case 0: buf_puts(b, "null"); break;
	case 1: buf_puts(b, rnd(2) ? "true" : "false"); break;
	case 2: case 3: gen_number(b); break;
	case 4: case 5: gen_string(b, 0); break;
	case 6: gen_container(b, depth, false); break;
	default: gen_container(b, depth, true); break;
	}
}

/* One byte changed, dropped or added somewhere: mostly not JSON any more. */
static void
mutate(struct buf *b)
{
	static const char	 bytes[] = "{}[]\",:\\ 0-.eatnu\x80\xc3\xff";
	size_t			 at = b->len ? rnd((uint32_t)b->len) : 0;

	switch (rnd(3)) {
	case 0:
		if (b->len > 0)
			b->data[at] = bytes[rnd(sizeof(bytes) - 1)];
		break;
	case 1:
		if (b->len > 0) {
			memmove(b->data + at, b->data + at + 1, b->len - at - 1);
			b->len--;
			b->data[b->len] = '\0';
		}
		break;
	default:
		buf_putc(b, ' ');
		memmove(b->data + at + 1, b->data + at, b->len - at - 1);
		b->data[at] = bytes[rnd(sizeof(bytes) - 1)];
		break;
	}
}

#define ROUNDS	20000

START_TEST(test_differential)
{
	struct buf	 body = BUF_INIT, mine = BUF_INIT, theirs = BUF_INIT;
	struct json	*tree;
	char		 err[128], tok[SIGN_B64_LEN + 1];
	bool		 ok;
	int		 i, parsed = 0, objects = 0;

	rng_state = 0x9E3779B97F4A7C15ULL;
	for (i = 0; i < ROUNDS; i++) {
		buf_reset(&body);
		buf_reset(&mine);
		buf_reset(&theirs);
		gen_space(&body);
		if (rnd(10) == 0)
			gen_value(&body, 1);
		else
			gen_container(&body, 0, true);
		gen_space(&body);
		if (i % 4 == 3)
			mutate(&body);

		tree = json_parse(buf_cstr(&body), body.len, SIM_CANON_DEPTH, err, sizeof(err));
		ok = sim_canon_v2(buf_cstr(&body), body.len, &mine);
		ck_assert_msg(ok == (tree != NULL), "%s by mkpd (%s), %s by mkp-sim: %s",
		    tree ? "accepted" : "refused", tree ? "" : err, ok ? "accepted" : "refused",
		    buf_cstr(&body));
		if (tree == NULL)
			continue;
		parsed++;
		json_canonical(tree, &theirs);
		ck_assert_msg(mine.len == theirs.len && memcmp(mine.data, theirs.data,
		    mine.len) == 0, "body %s: mkp-sim %s, mkpd %s", buf_cstr(&body),
		    buf_cstr(&mine), buf_cstr(&theirs));

		/* The V1 Kit payload: mkpd's verifier takes mkp-sim's token. */
		buf_reset(&mine);
		ok = sim_canon_kit_v1(buf_cstr(&body), body.len, &mine);
		ck_assert(ok == (tree->type == JSON_OBJECT));
		if (ok) {
			objects++;
			sign_v1_token(K_UUID, "20220413093539534", buf_cstr(&mine), mine.len, tok);
			ck_assert_msg(verify_kit_v1(K_UUID, tree, "20220413093539534", tok),
			    "body %s: mkp-sim's V1 payload %s", buf_cstr(&body), buf_cstr(&mine));
		}
		json_free(tree);
	}
	/*
	 * Both sides of the comparison are exercised: the generator makes
	 * mostly valid bodies, mutation and duplicate keys invalid ones.
	 */
	ck_assert_int_gt(parsed, ROUNDS / 2);
	ck_assert_int_gt(objects, ROUNDS * 2 / 5);
	ck_assert_int_lt(parsed, ROUNDS * 7 / 8);
	buf_free(&body);
	buf_free(&mine);
	buf_free(&theirs);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("sim_canon", &tc);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_v2_vectors, 0, (int)NELEM(v2_cases));
	tcase_add_loop_test(tc, test_kit_v1_vectors, 0, (int)NELEM(v1_cases));
	tcase_add_test(tc, test_kit_v1_form);
	tcase_add_test(tc, test_differential);
	return unit_run(s);
}
