/*
 * check_verify.c: the V2 signature check (api/verify.c) of whole bodies:
 * the spec's vectors, and bodies with numbers and booleans signed as
 * Huawei's Java sample signs them (json_canonical_form), accepted in
 * their own dialect only, and refused with a wrong signature.
 *
 * The "sample" signatures were computed with Python's hmac over the
 * payload column, written out by hand from the rules (spec/v2-basic.md
 * §2.2, kit-and-v1.md §1.5; numbers as Java 17's Double.toString prints
 * them):
 *	h = lambda k, m: hmac.new(k.encode(), m.encode(), sha256).hexdigest()
 *	basic = h(k, k + nonce + ts + h(k, payload)).upper()
 *	kit   = h(k, k + nonce + ts + payload).upper()
 * The test signs the payload column again with crypto/sign.c, so a typo
 * in the table cannot pass for a refusal.
 */
#include <string.h>

#include "api/verify.h"
#include "crypto/sign.h"
#include "unit.h"

#define K_TEST	"TestAccessKey-0123456789abcdef"
#define K_UUID	"9fa6c870-8bb0-4e9b-b71e-4c223300156f"
#define NONCE	"50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA"
#define TS	"1680508066618"

#define B_BODY	"{\"testFlag\":1,\"activity\":\"queryInstance\",\"zero\":-0," \
		"\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"trial\":true," \
		"\"amount\":12.50}"
#define K_BODY	"{\"instanceId\":\"huaiweitest123456\",\"price\":1e3,\"ratio\":1.50," \
		"\"list\":[{\"w\":2E-2,\"z\":-0}],\"neg\":-0,\"when\":1e7,\"flag\":1," \
		"\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}"

static const struct {
	const char		*name;
	enum verify_v2_kind	 kind;
	const char		*key;		/* the key mkpd checks with */
	const char		*sign_key;	/* the key the payload was signed with */
	const char		*body;
	const char		*payload;	/* what was signed */
	const char		*sig;
	bool			 accept;
} cases[] = {
	/* The spec's vectors (vectors.json), from the bodies as sent. */
	{ "vectors.json v2_basic_signature[0]", VERIFY_V2_BASIC, K_TEST, K_TEST,
	  "{\"activity\":\"newInstance\",\"businessId\":\"87b94795-0603-4e24-8ae5-69420d60e3c8\","
	  "\"orderId\":\"CS2211181819B4LVS\",\"orderLineId\":\"CS2211181819B4LVS-000001\","
	  "\"testFlag\":\"1\"}",
	  "{\"activity\":\"newInstance\",\"businessId\":\"87b94795-0603-4e24-8ae5-69420d60e3c8\","
	  "\"orderId\":\"CS2211181819B4LVS\",\"orderLineId\":\"CS2211181819B4LVS-000001\","
	  "\"testFlag\":\"1\"}",
	  "A64B1BFCE1A372DE15EF4377957528E7F7B0CE4944D4CAEA7B7363339DF27C82", true },
	{ "vectors.json v2_kit_x_sign[0] (doc body order)", VERIFY_V2_KIT, K_UUID, K_UUID,
	  "{\"instanceId\":\"huaiweitest123456\",\"orderId\":\"CS1906666666ABCDE\","
	  "\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"tenantCode\":\"huawei\","
	  "\"name\":\"huaiweitest\",\"domainName\":\"https://example.tenantaccount.com\","
	  "\"flag\":1,\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}",
	  "{\"domainName\":\"https://example.tenantaccount.com\",\"flag\":1,"
	  "\"instanceId\":\"huaiweitest123456\",\"name\":\"huaiweitest\","
	  "\"orderId\":\"CS1906666666ABCDE\",\"tenantCode\":\"huawei\","
	  "\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"testFlag\":0,"
	  "\"timeStamp\":\"20220413093539534\"}",
	  "1CA6CAB5DB456534784C465D04ADEAC7A6C8FA909BB934D6B105A4CE47CC5177", true },

	/* V2 basic: the sample's Map<String,String>. */
	{ "basic: numbers and booleans as strings (the sample)", VERIFY_V2_BASIC, K_TEST, K_TEST,
	  B_BODY,
	  "{\"activity\":\"queryInstance\",\"amount\":\"12.50\","
	  "\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"testFlag\":\"1\","
	  "\"trial\":\"true\",\"zero\":\"-0\"}",
	  "45E5984369C3AA60FB25B6792B5271F0BF569650DBC4BCB2D2005F47A8C176D2", true },
	{ "basic: the canonical form of the same body", VERIFY_V2_BASIC, K_TEST, K_TEST,
	  B_BODY,
	  "{\"activity\":\"queryInstance\",\"amount\":12.50,"
	  "\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"testFlag\":1,"
	  "\"trial\":true,\"zero\":-0}",
	  "A4748BB6937E5C98E7B7F5E088CCB35BBA2245BF450647E461B33F92703CEE0F", true },
	{ "basic: the Kit sample's doubles are not a basic form", VERIFY_V2_BASIC, K_TEST, K_TEST,
	  B_BODY,
	  "{\"activity\":\"queryInstance\",\"amount\":12.5,"
	  "\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"testFlag\":1,"
	  "\"trial\":true,\"zero\":0}",
	  "AAA75DFF42A4C4C73412A134A782EB85030CBC35F89E87AB80A79F49FA66DF50", false },
	{ "basic: the sample's form signed with another key", VERIFY_V2_BASIC, K_TEST, K_UUID,
	  B_BODY,
	  "{\"activity\":\"queryInstance\",\"amount\":\"12.50\","
	  "\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"testFlag\":\"1\","
	  "\"trial\":\"true\",\"zero\":\"-0\"}",
	  "1B0167DEC1C1770B99347ECF28F9FE8057BA1EEA95E56333637B90CE75CD2433", false },

	/* Kit V2: the sample's Map<String,Object>, numbers through Java. */
	{ "kit: numbers as Java writes doubles (the sample)", VERIFY_V2_KIT, K_UUID, K_UUID,
	  K_BODY,
	  "{\"flag\":1,\"instanceId\":\"huaiweitest123456\",\"list\":[{\"w\":0.02,\"z\":0}],"
	  "\"neg\":0,\"price\":1000.0,\"ratio\":1.5,\"testFlag\":0,"
	  "\"timeStamp\":\"20220413093539534\",\"when\":1.0E7}",
	  "7BD1EB5BE8F89CB2FCD9C70374D9F7D151AC6E3DC97058C2A2028214C776B261", true },
	{ "kit: the basic sample's strings are not a Kit form", VERIFY_V2_KIT, K_UUID, K_UUID,
	  K_BODY,
	  "{\"flag\":\"1\",\"instanceId\":\"huaiweitest123456\",\"list\":[{\"w\":2E-2,\"z\":-0}],"
	  "\"neg\":\"-0\",\"price\":\"1e3\",\"ratio\":\"1.50\",\"testFlag\":\"0\","
	  "\"timeStamp\":\"20220413093539534\",\"when\":\"1e7\"}",
	  "063960711AE7F57E8F467F110CD3932A9743BF486833A20D4A4B73F9720F1EEB", false },
	{ "kit: the sample's form signed with another key", VERIFY_V2_KIT, K_UUID, K_TEST,
	  K_BODY,
	  "{\"flag\":1,\"instanceId\":\"huaiweitest123456\",\"list\":[{\"w\":0.02,\"z\":0}],"
	  "\"neg\":0,\"price\":1000.0,\"ratio\":1.5,\"testFlag\":0,"
	  "\"timeStamp\":\"20220413093539534\",\"when\":1.0E7}",
	  "FFC2DAA2AD03F04F473586E80FDD093DFF4393C9D2FB588CF868AC0583B3C5C1", false },
};

static void
sign_kind(enum verify_v2_kind kind, const char *key, const char *payload,
    char out[SIGN_HEX_LEN + 1])
{
	if (kind == VERIFY_V2_KIT)
		sign_v2_kit(key, payload, strlen(payload), NONCE, TS, out);
	else
		sign_v2_basic(key, payload, strlen(payload), NONCE, TS, out);
}

START_TEST(test_verify)
{
	struct json	*tree = NULL;
	char		 again[SIGN_HEX_LEN + 1], bad[SIGN_HEX_LEN + 1], perr[128];
	bool		 ok;

	/* The table's signature is the one of its payload. */
	sign_kind(cases[_i].kind, cases[_i].sign_key, cases[_i].payload, again);
	ck_assert_msg(sign_hex_equal(again, cases[_i].sig), "%s: table", cases[_i].name);

	ok = verify_v2(cases[_i].kind, cases[_i].key, cases[_i].body, strlen(cases[_i].body),
	    32, NONCE, TS, cases[_i].sig, &tree, perr, sizeof(perr));
	ck_assert_msg(tree != NULL, "%s: %s", cases[_i].name, perr);
	ck_assert_msg(ok == cases[_i].accept, "%s: %s", cases[_i].name,
	    ok ? "accepted" : "refused");
	if (ok) {
		/* The same through verify_v2_tree (the previous key's path). */
		ck_assert(verify_v2_tree(cases[_i].kind, cases[_i].key, tree, cases[_i].body,
		    strlen(cases[_i].body), NONCE, TS, cases[_i].sig));
		/* One hex digit off: refused. */
		memcpy(bad, cases[_i].sig, sizeof(bad));
		bad[10] = bad[10] == '0' ? '1' : '0';
		ck_assert_msg(!verify_v2_tree(cases[_i].kind, cases[_i].key, tree,
		    cases[_i].body, strlen(cases[_i].body), NONCE, TS, bad),
		    "%s: a wrong signature accepted", cases[_i].name);
	}
	json_free(tree);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("verify", &tc);

	tcase_add_loop_test(tc, test_verify, 0, (int)NELEM(cases));
	return unit_run(s);
}
